/* provider_sends.c: the books of an HTTP provider's sends (see
 * provider_sends.h). */
#include "provider_sends.h"

#include <stdlib.h>

#include "http_client.h"
#include "log.h"

static void on_later(uv_timer_t *h)
{
	struct provider_sends *ps = h->data;

	while (ps->later) {
		struct provider_send *s = ps->later;
		struct send_result res = s->res;

		ps->later = s->next_later;
		provider_sends_finish(ps, s, &res);
	}
}

void provider_sends_init(struct provider_sends *ps, uv_loop_t *loop, void (*after)(void *owner),
			 void *owner)
{
	ps->head = ps->later = NULL;
	ps->inflight = 0;
	ps->after = after;
	ps->owner = owner;
	ps->closed = NULL;
	uv_timer_init(loop, &ps->timer);
	ps->timer.data = ps;
}

void *provider_sends_new(struct provider_sends *ps, size_t size, struct send_req *req,
			 adapter_done_cb done)
{
	struct provider_send *s = calloc(1, size);

	if (s == NULL)
		return NULL;
	s->req = req;
	s->done = done;
	s->next = ps->head;
	if (ps->head)
		ps->head->prev = s;
	ps->head = s;
	ps->inflight++;
	return s;
}

void provider_sends_forget(struct provider_sends *ps, struct provider_send *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		ps->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
	ps->inflight--;
}

void provider_sends_finish(struct provider_sends *ps, struct provider_send *s,
			   const struct send_result *res)
{
	struct send_req *req = s->req;
	adapter_done_cb done = s->done;

	provider_sends_forget(ps, s);
	done(req, res);
	ps->after(ps->owner);
}

int provider_sends_request(struct provider_sends *ps, struct provider_send *s,
			   struct http_client *c, const struct http_request *hr,
			   void (*cb)(void *data, const struct http_response *res), const char *who)
{
	struct err err;

	if (http_client_request(c, hr, cb, s, &s->call, &err) == 0)
		return 0;
	log_error("%s: %s", who, err.msg);
	provider_sends_forget(ps, s);
	return -1;
}

void provider_sends_later(struct provider_sends *ps, struct provider_send *s)
{
	s->next_later = ps->later;
	ps->later = s;
	uv_timer_start(&ps->timer, on_later, 0, 0);
}

void provider_sends_cancel(struct provider_sends *ps)
{
	/* Requests still out are cancelled: their messages stay claimed in
	 * Redis and are reclaimed (the shutdown grace is over). */
	for (struct provider_send *s = ps->head; s; s = s->next)
		if (s->call)
			http_call_cancel(s->call);
	if (ps->later)
		uv_timer_start(&ps->timer, on_later, 0, 0);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct provider_sends *ps = h->data;

	ps->closed(ps->owner);
}

void provider_sends_close(struct provider_sends *ps, void (*closed)(void *owner))
{
	ps->closed = closed;
	uv_close((uv_handle_t *)&ps->timer, on_timer_closed);
}
