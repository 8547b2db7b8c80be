/* faulty.c: a test adapter that fails on purpose, then writes to the outbox.
 *
 * For tests of retries, fallback and slow providers without a network
 * (`provider = faulty` in a channel's section). Markers in the message
 * body choose the behaviour:
 *   [temp-fail:N]      temporary failure on attempts 1..N, then success
 *   [perm-fail]        permanent failure on every attempt
 *   [retry-after:MS]   with temp-fail: the provider's Retry-After hint
 *   [slow:MS]          answer after MS milliseconds
 * Anything else behaves like the outbox adapter. Never configure it in
 * production: it exists so the engine's failure paths are tested for real. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "util.h"

extern const struct adapter_ops outbox_adapter_ops;

struct faulty {
	struct adapter outbox;		/* successes go here */
	int timers;			/* delayed answers not yet delivered */
	adapter_closed_cb closed;
	struct adapter *a;
};

struct faulty_delay {
	uv_timer_t timer;
	struct faulty *f;
	struct send_req *req;
	adapter_done_cb done;
	struct send_result res;
	bool to_outbox;
};

static long marker_value(const char *body, const char *marker, long dflt)
{
	const char *p = strstr(body, marker);

	if (p == NULL)
		return -1;
	p += strlen(marker);
	if (*p == ':')
		return strtol(p + 1, NULL, 10);
	return dflt;
}

static int faulty_open(struct adapter *a, const struct adapter_env *env, struct err *err)
{
	struct faulty *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return err_set(err, "faulty: out of memory");
	f->a = a;
	f->outbox = *a;
	f->outbox.ops = &outbox_adapter_ops;
	if (outbox_adapter_ops.open(&f->outbox, env, err) != 0) {
		free(f);
		return -1;
	}
	a->state = f;
	return 0;
}

static int faulty_prepare(struct adapter *a, const struct send_req *req, struct err *err)
{
	struct faulty *f = a->state;

	return outbox_adapter_ops.prepare(&f->outbox, req, err);
}

static void finish_close(struct faulty *f);

static void on_delay_closed(uv_handle_t *h)
{
	struct faulty_delay *d = h->data;
	struct faulty *f = d->f;

	free(d);
	if (--f->timers == 0 && f->closed)
		finish_close(f);
}

static void on_delay(uv_timer_t *t)
{
	struct faulty_delay *d = t->data;

	if (d->to_outbox) {
		if (outbox_adapter_ops.send(&d->f->outbox, d->req, d->done) != 0) {
			struct send_result res = { .status = SEND_TEMP_FAIL };

			snprintf(res.error, sizeof(res.error), "faulty: outbox refused");
			d->done(d->req, &res);
		}
	} else {
		d->done(d->req, &d->res);
	}
	uv_close((uv_handle_t *)&d->timer, on_delay_closed);
}

static int faulty_send(struct adapter *a, struct send_req *req, adapter_done_cb done)
{
	struct faulty *f = a->state;
	long temp = marker_value(req->body, "[temp-fail", 1);
	long slow = marker_value(req->body, "[slow", 100);
	long retry_after = marker_value(req->body, "[retry-after", 0);
	struct faulty_delay *d;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -1;
	d->f = f;
	d->req = req;
	d->done = done;
	if (strstr(req->body, "[perm-fail]") != NULL) {
		d->res.status = SEND_PERM_FAIL;
		snprintf(d->res.error, sizeof(d->res.error), "faulty: permanent failure (test)");
	} else if (temp >= 0 && req->attempt <= temp) {
		d->res.status = SEND_TEMP_FAIL;
		d->res.retry_after_ms = retry_after > 0 ? retry_after : 0;
		snprintf(d->res.error, sizeof(d->res.error), "faulty: temporary failure %d/%ld (test)",
			 req->attempt, temp);
	} else {
		d->to_outbox = true;
	}
	uv_timer_init(a->env->loop, &d->timer);
	d->timer.data = d;
	f->timers++;
	uv_timer_start(&d->timer, on_delay, slow > 0 ? (uint64_t)slow : 0, 0);
	return 0;
}

static void faulty_reopen(struct adapter *a)
{
	struct faulty *f = a->state;

	outbox_adapter_ops.reopen(&f->outbox);
}

static void on_outbox_closed(struct adapter *oa)
{
	struct faulty *f = container_of(oa, struct faulty, outbox);
	adapter_closed_cb closed = f->closed;
	struct adapter *a = f->a;

	a->state = NULL;
	free(f);
	closed(a);
}

static void finish_close(struct faulty *f)
{
	outbox_adapter_ops.close(&f->outbox, on_outbox_closed);
}

static void faulty_close(struct adapter *a, adapter_closed_cb closed)
{
	struct faulty *f = a->state;

	f->closed = closed;
	if (f->timers == 0)
		finish_close(f);
}

const struct adapter_ops faulty_adapter_ops = {
	.name = "faulty",
	.config = NULL,		/* the outbox's [outbox] dir is where it writes */
	.open = faulty_open,
	.prepare = faulty_prepare,
	.send = faulty_send,
	.reopen = faulty_reopen,
	.close = faulty_close,
};
