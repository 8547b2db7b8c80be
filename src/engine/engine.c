/* engine.c: ready streams -> claim -> adapter -> result, in batches. */
#include "engine.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "compose.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "quiet_hours.h"
#include "util.h"

static const char *const lane_names[LANE_COUNT + 1] = {
	[LANE_URGENT] = "urgent", [LANE_ANSWER] = "answer", [LANE_NORMAL] = "normal",
	[LANE_JOB] = "job",
};

/* One message held by this instance, from read to result. */
struct engine_inflight {
	struct engine *e;
	enum channel ch;
	enum lane lane;
	char entry[48];
	struct send_req req;
	struct send_result res;
	uint64_t started_ns;	/* when the adapter got it; 0 if it never did */
	bool at_adapter;	/* counted in its channel's sending */
	bool stopped;		/* its job was stopped before an adapter had it */
	engine_release_cb release;	/* a message sent at once: told when done */
	void *release_data;
	struct engine_inflight *next;
	char strings[];		/* mid, to, body, subject, job, contact, html, calendar,
				 * its method, unsubscribe link */
};

/* A claim script call: which entry each answer belongs to. */
struct claim_batch {
	struct engine *e;
	int n;
	struct claim_item {
		enum channel ch;
		enum lane lane;
		char entry[48];
	} items[];
};

struct result_batch {
	struct engine *e;
	struct engine_inflight *head;
	int n;
};

static void engine_read(struct engine *e);
static void maybe_drained(struct engine *e);
static void on_retry_timer(uv_timer_t *t);
static void on_tick_timer(uv_timer_t *t);
static void on_read_retry(uv_timer_t *t);

int64_t engine_backoff_ms(const struct config *cfg, int attempt, int64_t retry_after_ms,
			  unsigned int rand_value)
{
	double d = (double)cfg->retry_base_delay_ms;

	for (int i = 1; i < attempt && d < (double)cfg->retry_max_delay_ms; i++)
		d *= 2;
	if (d > (double)cfg->retry_max_delay_ms)
		d = (double)cfg->retry_max_delay_ms;
	/* +-20% jitter: retries of a burst that failed together spread out. */
	d *= 0.8 + 0.4 * (double)(rand_value % 10001) / 10000.0;
	if ((double)retry_after_ms > d)
		d = (double)retry_after_ms;
	return (int64_t)d;
}

/* ---- results ---- */

static void release(struct engine *e, enum channel ch, int n)
{
	e->ch[ch].held -= n;
	if (e->ch[ch].held < 0)
		e->ch[ch].held = 0;
}

/* Frees a list of held messages whose results will not be written. */
static void drop_results(struct engine_inflight *f)
{
	while (f != NULL) {
		struct engine_inflight *next = f->next;

		free(f);
		f = next;
	}
}

/* Puts a batch's results back at the front of the queue to write, and frees
 * the batch. */
static void requeue_results(struct engine *e, struct result_batch *b)
{
	struct engine_inflight *last = b->head;

	while (last->next)
		last = last->next;
	last->next = e->done_head;
	e->done_head = b->head;
	if (e->done_tail == NULL)
		e->done_tail = last;
	e->done_count += b->n;
	free(b);
}

static void on_result(struct rconn *c, redisReply *r, void *data)
{
	struct result_batch *b = data;
	struct engine *e = b->e;
	struct engine_inflight *f = b->head, *next;

	(void)c;
	e->results_out--;
	if (e->closed) {
		/* The writer closed under it: unwritten, these stay pending and
		 * are reclaimed (the shutdown grace is over). */
		drop_results(b->head);
		free(b);
		return;
	}
	if (r == NULL || store_reply_error(e->store, r, "result")) {
		/* Outcome unknown; the script ignores a result it has applied
		 * already, so write these again once Redis is back. */
		requeue_results(e, b);
		uv_timer_start(&e->retry_timer, on_retry_timer, 500, 0);
		return;
	}
	for (size_t i = 0; f != NULL; f = next, i++) {
		const char *verdict = (r->type == REDIS_REPLY_ARRAY && i < r->elements &&
				       r->element[i]->type == REDIS_REPLY_STRING) ?
					      r->element[i]->str : "?";

		next = f->next;
		if (strcmp(verdict, "stale") == 0)
			log_warn("msg=%s %s attempt=%d result stale (reclaimed elsewhere)",
				 f->req.message_id, channel_name(f->ch), f->req.attempt);
		else
			log_debug("msg=%s %s attempt=%d %s", f->req.message_id, channel_name(f->ch),
				  f->req.attempt, verdict);
		if (f->release != NULL)
			f->release(f->release_data, f->entry);
		release(e, f->ch, 1);
		free(f);
	}
	free(b);
	engine_read(e);
	maybe_drained(e);
}

static void flush_results(struct engine *e)
{
	/* 128 results are ~4 ms of Redis. One call for a whole turn's (up to
	 * 512, 15 ms) held every read and claim of the engine behind it, and
	 * the slots it freed came back all at once: sends went in waves. */
	enum { MAX_BATCH = 128, PER = LUA_RESULT_NEACH, HEAD = LUA_RESULT_NHEAD };
	const char **args;
	struct result_batch *b;
	char (*nums)[3][24];
	int n = 0;

	if (e->done_head == NULL || !e->store->ready)
		return;
	b = calloc(1, sizeof(*b));
	args = calloc(HEAD + MAX_BATCH * PER, sizeof(*args));
	nums = calloc(MAX_BATCH, sizeof(*nums));
	if (b == NULL || args == NULL || nums == NULL)
		goto out;
	b->e = e;
	char max_attempts[16];
	snprintf(max_attempts, sizeof(max_attempts), "%d", e->cfg->retry_max_attempts);
	args[LUA_RESULT_HEAD_MAX_ATTEMPTS] = max_attempts;
	struct engine_inflight **tail = &b->head;
	while (e->done_head != NULL && n < MAX_BATCH) {
		struct engine_inflight *f = e->done_head;
		const char **a = &args[HEAD + n * PER];

		e->done_head = f->next;
		f->next = NULL;
		*tail = f;
		tail = &f->next;
		a[LUA_RESULT_EACH_CHANNEL] = channel_name(f->ch);
		a[LUA_RESULT_EACH_LANE] = lane_names[f->lane];
		a[LUA_RESULT_EACH_ENTRY] = f->entry;
		a[LUA_RESULT_EACH_MID] = f->req.message_id;
		snprintf(nums[n][0], 24, "%d", f->req.attempt);
		a[LUA_RESULT_EACH_ATTEMPT] = nums[n][0];
		if (f->stopped) {
			/* Never handed over: the result op names the cancel job. */
			a[LUA_RESULT_EACH_OUTCOME] = "cancel";
			a[LUA_RESULT_EACH_DETAIL] = "a cancel job";
			a[LUA_RESULT_EACH_DELAY] = "0";
			n++;
			continue;
		}
		switch (f->res.status) {
		case SEND_SENT:
			a[LUA_RESULT_EACH_OUTCOME] = "sent";
			a[LUA_RESULT_EACH_DETAIL] = f->res.provider_id[0] ? f->res.provider_id :
									     f->req.message_id;
			a[LUA_RESULT_EACH_DELAY] = "0";
			break;
		case SEND_TEMP_FAIL:
			a[LUA_RESULT_EACH_OUTCOME] = "temp";
			a[LUA_RESULT_EACH_DETAIL] = f->res.error[0] ? f->res.error : "temporary failure";
			snprintf(nums[n][1], 24, "%lld",
				 (long long)engine_backoff_ms(e->cfg, f->req.attempt,
							      f->res.retry_after_ms, (unsigned)rand()));
			a[LUA_RESULT_EACH_DELAY] = nums[n][1];
			break;
		case SEND_DEFERRED:
			a[LUA_RESULT_EACH_OUTCOME] = "defer";
			a[LUA_RESULT_EACH_DETAIL] = f->res.error[0] ? f->res.error : "deferred";
			snprintf(nums[n][1], 24, "%lld", (long long)(f->res.retry_after_ms > 0 ?
								     f->res.retry_after_ms : 1000));
			a[LUA_RESULT_EACH_DELAY] = nums[n][1];
			break;
		default:
			/* bounce: the address does not exist (an SMTP 550 at
			 * RCPT); optout: the carrier says the person opted out. */
			a[LUA_RESULT_EACH_OUTCOME] = f->res.bounced ? "bounce" :
						     f->res.opted_out ? "optout" : "perm";
			a[LUA_RESULT_EACH_DETAIL] = f->res.error[0] ? f->res.error : "permanent failure";
			a[LUA_RESULT_EACH_DELAY] = "0";
			break;
		}
		n++;
	}
	if (e->done_head == NULL)
		e->done_tail = NULL;
	e->done_count -= n;
	b->n = n;
	if (store_call(e->store, LUA_FN_RESULT, HEAD + n * PER, args, NULL, on_result, b) != 0) {
		/* Not connected: put them back; the store-ready callback flushes. */
		requeue_results(e, b);
		b = NULL;
	} else {
		e->results_out++;
		e->result_calls++;
		e->result_items += (uint64_t)n;
		b = NULL;
	}
out:
	free(b);
	free(args);
	free(nums);
}

static void on_flush_idle(uv_idle_t *h)
{
	struct engine *e = h->data;

	uv_idle_stop(h);
	while (e->done_head != NULL && e->store->ready) {
		int before = e->done_count;

		flush_results(e);
		if (e->done_count == before)
			break;
	}
}

static void adapter_send(struct engine *e, struct engine_inflight *f);

/* Queues f's result; results of one loop turn go to Redis in one script
 * call. */
static void done_add(struct engine *e, struct engine_inflight *f)
{
	f->next = NULL;
	if (e->done_tail)
		e->done_tail->next = f;
	else
		e->done_head = f;
	e->done_tail = f;
	e->done_count++;
	uv_idle_start(&e->flush_idle, on_flush_idle);
}

static void on_send_done(struct send_req *req, const struct send_result *res)
{
	struct engine_inflight *f = req->owner;
	struct engine *e = f->e;
	struct engine_channel *ch = &e->ch[f->ch];

	f->res = *res;
	if (f->started_ns != 0)
		histogram_observe(&ch->latency, (double)(uv_hrtime() - f->started_ns) / 1e9);
	if (f->at_adapter) {
		f->at_adapter = false;
		ch->sending--;
		/* A send finished: the next one waiting gets its place. */
		while (ch->wait_head != NULL && ch->sending < ch->cap) {
			struct engine_inflight *w = ch->wait_head;

			ch->wait_head = w->next;
			if (ch->wait_head == NULL)
				ch->wait_tail = NULL;
			if (ch->wait_urgent == w)
				ch->wait_urgent = NULL;
			if (ch->wait_answer == w)
				ch->wait_answer = NULL;
			w->next = NULL;
			adapter_send(e, w);
		}
	}
	switch (res->status) {
	case SEND_SENT:
		ch->sent++;
		break;
	case SEND_TEMP_FAIL:
		ch->temp_failed++;
		break;
	case SEND_DEFERRED:
		ch->deferred++;
		break;
	default:
		ch->perm_failed++;
		break;
	}
	if (res->status != SEND_SENT)
		log_info("msg=%s job=%s %s attempt=%d %s: %s", req->message_id, req->job_id,
			 channel_name(f->ch), req->attempt,
			 res->status == SEND_TEMP_FAIL ? "temp_fail" :
			 res->status == SEND_DEFERRED ? "deferred" : "perm_fail", res->error);
	if (e->closed) {
		/* A send cancelled by the adapter's close, after the grace: its
		 * message stays claimed in Redis and is reclaimed. */
		free(f);
		return;
	}
	done_add(e, f);
}

/* ---- claiming and sending ---- */

void engine_reserve(struct engine *e, int max, int room[CHANNEL_COUNT])
{
	for (int c = 0; c < CHANNEL_COUNT; c++) {
		struct engine_channel *ch = &e->ch[c];
		/* Jobs claimed at intake are normal work: none while urgent
		 * work is being expanded. They may be held up to a batch
		 * beyond the adapter's concurrency (they wait in order in
		 * wait_head): claimed at once, a message skips the ready
		 * stream, its read and its claim call, a third of the Redis
		 * work of a queued one; its sending event comes a batch's
		 * sends early. */
		int n = ch->open && !e->stopping && !e->urgent_hold && !ch->urgent_more &&
				!ch->answer_more ?
				ch->cap + 4 * e->cfg->jobs_batch - ch->held : 0;

		if (rate_limited(&ch->rate) && n > rate_available(&ch->rate))
			n = rate_available(&ch->rate);
		room[c] = n < 0 ? 0 : n > max ? max : n;
		ch->held += room[c];
		if (rate_limited(&ch->rate))
			rate_spend(&ch->rate, room[c]);
	}
}

void engine_unreserve(struct engine *e, const int room[CHANNEL_COUNT])
{
	for (int c = 0; c < CHANNEL_COUNT; c++)
		if (room[c] > 0) {
			release(e, (enum channel)c, room[c]);
			if (rate_limited(&e->ch[c].rate))
				rate_spend(&e->ch[c].rate, -room[c]);
		}
	engine_read(e);
	maybe_drained(e);
}

static void start_send(struct engine *e, const struct claim_item *it,
		       const struct engine_send *m, engine_release_cb on_release, void *release_data);

static const char *reply_str(const redisReply *r, size_t i)
{
	if (i >= r->elements)
		return "";
	if (r->element[i]->type == REDIS_REPLY_STRING)
		return r->element[i]->str;
	return "";
}

static long long reply_int(const redisReply *r, size_t i)
{
	if (i >= r->elements)
		return 0;
	if (r->element[i]->type == REDIS_REPLY_INTEGER)
		return r->element[i]->integer;
	if (r->element[i]->type == REDIS_REPLY_STRING)
		return strtoll(r->element[i]->str, NULL, 10);
	return 0;
}

/* What a `failed` event may say of an error: its public text (err.h), never
 * its detail, which may quote the address or the text (CONTRACT.md section
 * 3); the log line beside it has the detail, redacted. */
static const char *public_error(const struct err *err)
{
	return err->pub[0] != '\0' ? err->pub : "refused before sending (the log has why)";
}

/* A message that waits out quiet hours (zone: its recipient's, or "" for
 * one that does not wait), read or claimed inside them: the instant they
 * end, else 0. Asked for each message read, so the answer per zone is kept
 * for a second (an edge is then seen at most a second late). */
static int64_t quiet_until(struct engine *e, const char *zone, bool urgent)
{
	int64_t now, open;
	struct err err;
	unsigned i;

	if (zone == NULL || zone[0] == '\0' || urgent || e->cfg->quiet.off)
		return 0;
	now = clock_now_ms();
	for (i = 0; i < ENGINE_QUIET_CACHE; i++) {
		struct engine_quiet *q = &e->quiet[i];

		if (q->at_ms != 0 && now >= q->at_ms && now - q->at_ms < 1000 &&
		    strcmp(q->zone, zone) == 0)
			return q->until_ms > now ? q->until_ms : 0;
	}
	if (quiet_hours_next_allowed(&e->cfg->quiet, zone, now, &open, &err) != 0)
		return 0;
	if (strlen(zone) < sizeof(e->quiet[0].zone)) {
		struct engine_quiet *q = &e->quiet[e->quiet_next++ % ENGINE_QUIET_CACHE];

		snprintf(q->zone, sizeof(q->zone), "%s", zone);
		q->at_ms = now;
		q->until_ms = open;
	}
	return open > now ? open : 0;
}

/* Queues f for a free adapter slot, in order, except that an urgent message
 * goes after the urgent ones waiting and before every other one, and an
 * answer to an inbound text after the urgent ones and the answers waiting
 * and before every normal one: the normal messages read ahead or claimed
 * at intake must not hold an alert or an answer back (up to 4 x [jobs]
 * batch of them wait here). */
static void wait_add(struct engine_channel *ch, struct engine_inflight *f)
{
	struct engine_inflight **at;

	if (!f->req.urgent && f->lane == LANE_ANSWER) {
		at = ch->wait_answer ? &ch->wait_answer->next :
		     ch->wait_urgent ? &ch->wait_urgent->next : &ch->wait_head;
		f->next = *at;
		*at = f;
		if (f->next == NULL)
			ch->wait_tail = f;
		ch->wait_answer = f;
		return;
	}
	if (!f->req.urgent) {
		f->next = NULL;
		if (ch->wait_tail)
			ch->wait_tail->next = f;
		else
			ch->wait_head = f;
		ch->wait_tail = f;
		return;
	}
	at = ch->wait_urgent ? &ch->wait_urgent->next : &ch->wait_head;
	f->next = *at;
	*at = f;
	if (f->next == NULL)
		ch->wait_tail = f;
	ch->wait_urgent = f;
}

static void start_send(struct engine *e, const struct claim_item *it,
		       const struct engine_send *m, engine_release_cb on_release, void *release_data)
{
	struct composed c;
	const char *s[10] = { m->mid, m->to, "", "", m->job, m->contact, "", "", "", "" };
	size_t len[10], total = 0;
	struct compose_env env = {
		.cfg = e->cfg, .set = e->templates ? *e->templates : NULL,
		.link_key = store_link_key(e->store), .now_ms = clock_now_ms(),
	};
	struct engine_inflight *f;
	struct engine_channel *ch = &e->ch[it->ch];
	struct err err = { "" }, compose_err = { "" };
	int64_t hold_ms;
	int composed_ok;
	char *p;

	composed_ok = compose(&env, it->ch, m->to, m->payload, m->vars, &c, &compose_err);
	if (composed_ok != 0)
		log_error("msg=%s: %s", s[0], compose_err.msg);
	s[2] = c.body;
	s[3] = c.subject;
	s[6] = c.html ? c.html : "";
	s[7] = c.calendar ? c.calendar : "";
	s[8] = c.calendar_method ? c.calendar_method : "";
	s[9] = c.unsubscribe_url ? c.unsubscribe_url : "";
	for (int i = 0; i < 10; i++)
		total += (len[i] = strlen(s[i])) + 1;
	f = calloc(1, sizeof(*f) + total);
	if (f == NULL) {
		/* Leave it pending: it is reclaimed after [jobs] reclaim_after. */
		log_error("engine: out of memory holding a message");
		composed_free(&c);
		if (on_release != NULL)
			on_release(release_data, it->entry);
		release(e, it->ch, 1);
		return;
	}
	f->e = e;
	f->ch = it->ch;
	f->lane = it->lane;
	f->release = on_release;
	f->release_data = release_data;
	memcpy(f->entry, it->entry, sizeof(f->entry));
	p = f->strings;
	const char *copies[10];
	for (int i = 0; i < 10; i++) {
		memcpy(p, s[i], len[i] + 1);
		copies[i] = p;
		p += len[i] + 1;
	}
	f->req.message_id = copies[0];
	f->req.to = copies[1];
	f->req.body = copies[2];
	f->req.subject = copies[3];
	f->req.job_id = copies[4];
	f->req.contact_id = copies[5];
	f->req.html = c.html ? copies[6] : NULL;
	f->req.calendar = c.calendar ? copies[7] : NULL;
	f->req.calendar_method = c.calendar ? copies[8] : NULL;
	f->req.unsubscribe_url = c.unsubscribe_url ? copies[9] : NULL;
	f->req.channel = it->ch;
	f->req.attempt = m->attempt;
	f->req.urgent = m->urgent;
	f->req.expires_ms = m->expires_ms;
	f->req.owner = f;
	/* Held already when read inside quiet hours (hold_entries); this is
	 * for the one claimed as they began. */
	hold_ms = composed_ok == 0 ? quiet_until(e, m->qz, f->req.urgent) : 0;
	/* Claimed as the window began: it goes now rather than expire held. */
	if (hold_ms > 0 && f->req.expires_ms > 0 && hold_ms >= f->req.expires_ms)
		hold_ms = 0;
	if (hold_ms > 0)
		hold_ms -= clock_now_ms();
	composed_free(&c);
	if (composed_ok != 0 || f->req.body[0] == '\0') {
		struct send_result res = { .status = SEND_PERM_FAIL };

		snprintf(res.error, sizeof(res.error), "%s",
			 composed_ok != 0 ? public_error(&compose_err) : "message record has no body");
		on_send_done(&f->req, &res);
		return;
	}
	if (hold_ms > 0) {
		struct send_result res = { .status = SEND_DEFERRED, .retry_after_ms = hold_ms };

		snprintf(res.error, sizeof(res.error), "held by quiet hours");
		on_send_done(&f->req, &res);
		return;
	}
	if (ch->adapter.ops->prepare(&ch->adapter, &f->req, &err) != 0) {
		struct send_result res = { .status = SEND_PERM_FAIL };

		log_error("msg=%s: %s: %s", f->req.message_id, channel_name(it->ch), err.msg);
		snprintf(res.error, sizeof(res.error), "%s", public_error(&err));
		on_send_done(&f->req, &res);
		return;
	}
	if (ch->sending >= ch->cap) {
		/* Claimed beyond what the adapter may have out: it waits its
		 * turn ([<channel>] concurrency holds). */
		wait_add(ch, f);
		return;
	}
	adapter_send(e, f);
}

/* Hands f to its channel's adapter, which has room for it. */
static void adapter_send(struct engine *e, struct engine_inflight *f)
{
	struct engine_channel *ch = &e->ch[f->ch];

	f->started_ns = uv_hrtime();
	f->at_adapter = true;
	ch->sending++;
	if (ch->adapter.ops->send(&ch->adapter, &f->req, on_send_done) != 0) {
		struct send_result res = { .status = SEND_TEMP_FAIL };

		snprintf(res.error, sizeof(res.error), "%s: could not start the send",
			 ch->adapter.ops->name);
		on_send_done(&f->req, &res);
	}
}

int engine_send_now(struct engine *e, const struct engine_send *send,
		    engine_release_cb on_release, void *data)
{
	struct claim_item it;

	if ((int)send->channel < 0 || send->channel >= CHANNEL_COUNT || send->mid == NULL ||
	    send->entry == NULL || strlen(send->entry) >= sizeof(it.entry))
		return -1;
	it.ch = send->channel;
	it.lane = LANE_JOB;
	snprintf(it.entry, sizeof(it.entry), "%s", send->entry);
	e->fast_claims++;
	start_send(e, &it, send, on_release, data);
	return (int)send->channel;
}

/* A claim's send record (LUA_SEND_..., lua_lib.h) as an engine_send. */
static void send_from_record(const redisReply *r, const struct claim_item *it,
			     struct engine_send *m)
{
	m->mid = reply_str(r, LUA_SEND_MID);
	m->to = reply_str(r, LUA_SEND_TO);
	m->payload = reply_str(r, LUA_SEND_PAYLOAD);
	m->vars = reply_str(r, LUA_SEND_VARS);
	m->job = reply_str(r, LUA_SEND_JOB);
	m->contact = reply_str(r, LUA_SEND_CONTACT);
	m->qz = reply_str(r, LUA_SEND_QZ);
	m->entry = it->entry;
	m->channel = it->ch;
	m->attempt = (int)reply_int(r, LUA_SEND_ATTEMPT);
	m->urgent = strcmp(reply_str(r, LUA_SEND_URGENT), "1") == 0;
	m->expires_ms = reply_int(r, LUA_SEND_EXPIRES);
}

static void on_claim(struct rconn *c, redisReply *r, void *data)
{
	struct claim_batch *b = data;
	struct engine *e = b->e;

	(void)c;
	e->claims--;
	/* After the close, the adapters are gone: what this claimed stays
	 * pending (status sending) and is reclaimed. */
	if (e->closed || r == NULL || store_reply_error(e->store, r, "claim") ||
	    r->type != REDIS_REPLY_ARRAY) {
		/* Outcome unknown: the entries stay pending for this consumer and
		 * are reclaimed after [jobs] reclaim_after. */
		for (int i = 0; i < b->n; i++)
			release(e, b->items[i].ch, 1);
		free(b);
		maybe_drained(e);
		return;
	}
	for (int i = 0; i < b->n; i++) {
		const redisReply *x = (size_t)i < r->elements ? r->element[i] : NULL;

		/* Claimed messages are sent even while stopping: they are in
		 * status sending now, and finishing them is part of the drain. */
		if (x != NULL && x->type == REDIS_REPLY_ARRAY && x->elements == LUA_SEND_NFIELDS &&
		    strcmp(reply_str(x, LUA_SEND_VERDICT), "send") == 0) {
			struct engine_send m;

			send_from_record(x, &b->items[i], &m);
			start_send(e, &b->items[i], &m, NULL, NULL);
		}
		else
			release(e, b->items[i].ch, 1);
	}
	free(b);
	engine_read(e);
	maybe_drained(e);
}

/* Collects entries of one stream reply ([stream, [[id, [f, v]], ...]]) into
 * the claim arguments. */
static int find_stream(struct engine *e, const char *name, enum channel *ch, enum lane *lane)
{
	for (int c = 0; c < CHANNEL_COUNT; c++)
		for (int l = 0; l < LANE_COUNT; l++)
			if (strcmp(e->ch[c].stream[l], name) == 0) {
				*ch = (enum channel)c;
				*lane = (enum lane)l;
				return 0;
			}
	return -1;
}

static void on_hold(struct rconn *c, redisReply *r, void *data)
{
	struct engine *e = data;

	(void)c;
	/* On failure the entries stay pending and are reclaimed later. */
	if (r != NULL && !store_reply_error(e->store, r, "hold") && r->type == REDIS_REPLY_INTEGER)
		e->quiet_held += (uint64_t)r->integer;
}

/* The zone of a ready entry that waits out quiet hours ("q"), or NULL. */
static const char *entry_zone(const redisReply *fields)
{
	if (fields->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t f = 0; f + 1 < fields->elements; f += 2)
		if (fields->element[f]->type == REDIS_REPLY_STRING &&
		    strcmp(fields->element[f]->str, "q") == 0 &&
		    fields->element[f + 1]->type == REDIS_REPLY_STRING)
			return fields->element[f + 1]->str;
	return NULL;
}

static void claim_entries(struct engine *e, const redisReply *streams[], int nstreams)
{
	struct claim_batch *b;
	const char **args, **hold;
	char (*due)[24];
	int total = 0, n = 0, nh = 0;

	for (int s = 0; s < nstreams; s++)
		total += (int)streams[s]->element[1]->elements;
	if (total == 0)
		return;
	b = calloc(1, sizeof(*b) + (size_t)total * sizeof(b->items[0]));
	args = calloc((size_t)total * LUA_CLAIM_NEACH, sizeof(*args));
	hold = calloc((size_t)total * 5, sizeof(*hold));
	due = calloc((size_t)total, sizeof(*due));
	if (b == NULL || args == NULL || hold == NULL || due == NULL) {
		free(b);
		free(args);
		free(hold);
		free(due);
		log_error("engine: out of memory claiming");
		return;
	}
	b->e = e;
	for (int s = 0; s < nstreams; s++) {
		enum channel ch;
		enum lane lane;
		const redisReply *entries = streams[s]->element[1];

		if (find_stream(e, streams[s]->element[0]->str, &ch, &lane) != 0)
			continue;
		for (size_t i = 0; i < entries->elements; i++) {
			const redisReply *en = entries->element[i];
			const char *mid = NULL;

			if (en->type != REDIS_REPLY_ARRAY || en->elements != 2 ||
			    en->element[0]->type != REDIS_REPLY_STRING)
				continue;
			if (en->element[1]->type == REDIS_REPLY_ARRAY && en->element[1]->elements >= 2 &&
			    en->element[1]->element[1]->type == REDIS_REPLY_STRING)
				mid = en->element[1]->element[1]->str;
			/* Read inside its recipient's quiet hours: back to the
			 * schedule, never claimed (no `sending` for a held message). */
			int64_t until = mid ? quiet_until(e, entry_zone(en->element[1]),
							  lane == LANE_URGENT) : 0;
			if (until > 0) {
				snprintf(due[nh], sizeof(due[nh]), "%lld", (long long)until);
				const char **h = &hold[LUA_HOLD_NEACH * nh];

				h[LUA_HOLD_EACH_CHANNEL] = channel_name(ch);
				h[LUA_HOLD_EACH_LANE] = lane_names[lane];
				h[LUA_HOLD_EACH_ENTRY] = en->element[0]->str;
				h[LUA_HOLD_EACH_MID] = mid;
				h[LUA_HOLD_EACH_DUE] = due[nh];
				nh++;
				continue;
			}
			struct claim_item *it = &b->items[n];
			it->ch = ch;
			it->lane = lane;
			snprintf(it->entry, sizeof(it->entry), "%s", en->element[0]->str);
			const char **a = &args[LUA_CLAIM_NEACH * n];

			a[LUA_CLAIM_EACH_CHANNEL] = channel_name(ch);
			a[LUA_CLAIM_EACH_LANE] = lane_names[lane];
			a[LUA_CLAIM_EACH_ENTRY] = it->entry;
			/* A deleted entry has no fields: the script acknowledges it. */
			a[LUA_CLAIM_EACH_MID] = mid ? mid : "-";
			e->ch[ch].held++;
			if (rate_limited(&e->ch[ch].rate))
				rate_spend(&e->ch[ch].rate, 1);
			n++;
		}
	}
	/* The strings of hold[] live in the reply until store_call copied them. */
	if (nh > 0)
		store_call(e->store, LUA_FN_HOLD, LUA_HOLD_NEACH * nh, hold, NULL, on_hold, e);
	free(hold);
	free(due);
	b->n = n;
	if (n == 0 ||
	    store_call(e->store, LUA_FN_CLAIM, LUA_CLAIM_NEACH * n, args, NULL, on_claim, b) != 0) {
		for (int i = 0; i < n; i++)
			release(e, b->items[i].ch, 1);
		free(b);
	} else {
		e->claims++;
		e->claim_calls++;
		e->claim_items += (uint64_t)n;
	}
	free(args);
}

/* How many messages a channel may hold from its ready streams: beyond
 * [<channel>] concurrency, as many as engine_reserve lets the intake claim.
 * Those beyond wait in order (wait_head) and go the moment a send
 * finishes, not after a result, a read and a claim, three round trips to
 * a Redis that runs them behind everyone's scripts: with a cap of exactly
 * concurrency, the adapter sat idle most of the time. Not for a channel
 * with a [<channel>] rate, whose tokens would be spent ahead of its sends. */
static int read_max(const struct engine *e, const struct engine_channel *ch)
{
	return rate_limited(&ch->rate) ? ch->cap : ch->cap + 4 * e->cfg->jobs_batch;
}

/* ---- reading ----
 *
 * Each channel gets exactly as many entries as it has room for: one
 * non-blocking XREADGROUP per channel with COUNT = room (COUNT applies per
 * stream, so one read over every stream could overshoot a channel's cap).
 * Phases: URGENT drains the urgent lanes first; ANSWER reads the answers
 * to inbound texts once nothing urgent is left; NORMAL reads the normal
 * lanes once neither is; when all come back empty, BLOCK waits
 * on every lane at once with COUNT 1, which wakes us within milliseconds of
 * new work without holding more than one entry per stream. */

static void on_read(struct rconn *c, redisReply *r, void *data)
{
	struct engine *e = data;
	const redisReply *streams[CHANNEL_COUNT * LANE_COUNT];
	int nstreams = 0;

	(void)c;
	e->reads_out--;
	if (r == NULL) {
		e->reads_out = 0;
		return;		/* reader down: engine_reader_state kicks */
	}
	if (r->type == REDIS_REPLY_ERROR) {
		log_error("engine: XREADGROUP: %.*s", (int)r->len, r->str);
		if (strncmp(r->str, "NOGROUP", 7) == 0)
			rconn_reset(e->store->writer, "group missing: recreating");
		e->read_failed = true;
	} else if (r->type == REDIS_REPLY_ARRAY) {
		/* Urgent streams first, so their messages are claimed and sent first. */
		for (int pass = 0; pass < LANE_COUNT; pass++)
			for (size_t i = 0; i < r->elements; i++) {
				const redisReply *s = r->element[i];
				enum channel ch;
				enum lane lane;

				if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
				    s->element[0]->type != REDIS_REPLY_STRING ||
				    s->element[1]->type != REDIS_REPLY_ARRAY)
					continue;
				if (find_stream(e, s->element[0]->str, &ch, &lane) != 0 ||
				    (int)lane != pass)
					continue;
				if (s->element[1]->elements > 0) {
					e->read_got = true;
					if (lane == LANE_URGENT)
						e->ch[ch].urgent_more = true;
					if (lane == LANE_ANSWER)
						e->ch[ch].answer_more = true;
					e->ch[ch].got += (int)s->element[1]->elements;
					e->ch[ch].more = true;
				}
				streams[nstreams++] = s;
			}
		claim_entries(e, streams, nstreams);
	}
	if (e->reads_out > 0)
		return;
	if (e->read_failed) {
		e->read_failed = false;
		uv_timer_start(&e->read_retry_timer, on_read_retry, 1000, 0);
		return;
	}
	if (e->read_phase == READ_NORMAL)
		for (int i = 0; i < CHANNEL_COUNT; i++)
			if (e->ch[i].asked > 0 && e->ch[i].got < e->ch[i].asked)
				e->ch[i].more = false;
	if (e->read_phase == READ_URGENT)
		for (int i = 0; i < CHANNEL_COUNT; i++)
			if (e->ch[i].asked > 0)
				e->ch[i].urgent_more = e->ch[i].got >= e->ch[i].asked;
	if (e->read_phase == READ_ANSWER)
		for (int i = 0; i < CHANNEL_COUNT; i++)
			if (e->ch[i].asked > 0)
				e->ch[i].answer_more = e->ch[i].got >= e->ch[i].asked;
	switch (e->read_phase) {
	case READ_URGENT:
		/* While an urgent audience is being expanded, its lane may be
		 * empty for a moment: wait on it rather than take other work. */
		e->read_phase = e->read_got ? READ_URGENT : e->urgent_hold ? READ_BLOCK : READ_ANSWER;
		break;
	case READ_ANSWER:
		/* Answers read: look at the urgent lanes again before more. */
		e->read_phase = e->read_got ? READ_URGENT : READ_NORMAL;
		break;
	case READ_NORMAL:
		e->read_phase = e->read_got ? READ_URGENT : READ_BLOCK;
		break;
	case READ_BLOCK:
		e->read_phase = READ_URGENT;
		break;
	}
	engine_read(e);
}

static int send_read(struct engine *e, const char *count, int64_t block_ms, int nkeys,
		     const char *const *keys)
{
	char block[24];

	const char *argv[16 + CHANNEL_COUNT * LANE_COUNT * 2];
	int argc = 0;

	argv[argc++] = "XREADGROUP";
	argv[argc++] = "GROUP";
	argv[argc++] = PREGON_GROUP;
	argv[argc++] = e->cfg->redis_consumer;
	argv[argc++] = "COUNT";
	argv[argc++] = count;
	if (block_ms > 0) {
		snprintf(block, sizeof(block), "%lld", (long long)block_ms);
		argv[argc++] = "BLOCK";
		argv[argc++] = block;
	}
	argv[argc++] = "STREAMS";
	for (int i = 0; i < nkeys; i++)
		argv[argc++] = keys[i];
	for (int i = 0; i < nkeys; i++)
		argv[argc++] = ">";
	if (rconn_command(e->reader, on_read, e, block_ms > 0 ? block_ms : 0, argc, argv,
			  NULL) != 0)
		return -1;
	e->reads_out++;
	return 0;
}

/* A rate-limited channel with work but no tokens sits out the blocked
 * read (its work is there; it lacks only tokens), which then ends when its
 * next token is due. An idle one takes part: what wakes it is paid for
 * from its next grant (rate.h). */
static bool rate_starved(const struct engine_channel *ch)
{
	return rate_limited(&ch->rate) && ch->more && rate_available(&ch->rate) == 0;
}

static void engine_read_block(struct engine *e)
{
	const char *keys[CHANNEL_COUNT * LANE_COUNT];
	int64_t block_ms = 1000;
	int nkeys = 0;

	for (int c = 0; c < CHANNEL_COUNT; c++) {
		struct engine_channel *ch = &e->ch[c];

		if (!ch->open)
			continue;
		/* A blocked read cannot be cut short when a full channel frees
		 * room, so block only when every channel could take more; else
		 * the next finished send (or this timer, for the other channels)
		 * starts the next round. Likewise for a channel that got tokens
		 * but has not looked at its queues since, and for one whose
		 * urgent lane may hold work: a blocked read takes an entry of
		 * every lane, normal ones too, and the urgent lane must be read
		 * out first (urgent_more). */
		if (read_max(e, ch) <= ch->held || ch->urgent_more || ch->answer_more ||
		    (rate_limited(&ch->rate) && ch->more && rate_available(&ch->rate) > 0)) {
			e->read_phase = READ_URGENT;
			uv_timer_start(&e->read_retry_timer, on_read_retry,
				       read_max(e, ch) <= ch->held ? 100 : 0, 0);
			return;
		}
		if (rate_starved(ch)) {
			int64_t hint = rate_wait_hint(&ch->rate);

			if (hint < 0)
				rate_request(&ch->rate, ch->cap - ch->held);
			hint = hint < 5 ? 5 : hint;
			if (hint < block_ms)
				block_ms = hint;
		}
	}
	for (int l = 0; l < (e->urgent_hold ? 1 : LANE_COUNT); l++)
		for (int c = 0; c < CHANNEL_COUNT; c++) {
			struct engine_channel *ch = &e->ch[c];

			if (!ch->open || rate_starved(ch))
				continue;
			if (l == 0 && rate_limited(&ch->rate))
				rate_refund(&ch->rate);	/* idle: let others use them */
			keys[nkeys++] = ch->stream[l];
		}
	for (int c = 0; c < CHANNEL_COUNT; c++)
		e->ch[c].asked = e->ch[c].got = 0;
	if (nkeys > 0)
		send_read(e, "1", block_ms, nkeys, keys);
	else
		uv_timer_start(&e->read_retry_timer, on_read_retry, (uint64_t)block_ms, 0);
}

static void engine_read(struct engine *e)
{
	if (e->reads_out > 0 || e->stopping || !e->reader->up || !e->store->ready)
		return;
	e->read_got = false;
	if (e->read_phase == READ_BLOCK) {
		engine_read_block(e);
		return;
	}
	for (int c = 0; c < CHANNEL_COUNT; c++) {
		struct engine_channel *ch = &e->ch[c];
		int room = read_max(e, ch) - ch->held;
		char count[16];
		const char *key = ch->stream[e->read_phase == READ_URGENT ? LANE_URGENT :
					     e->read_phase == READ_ANSWER ? LANE_ANSWER : LANE_NORMAL];

		ch->asked = ch->got = 0;
		if (!ch->open || room <= 0)
			continue;
		/* A channel reads its answer lane only once its urgent lane came
		 * back short, and its normal lane only once its answer lane did
		 * too (each channel has its own room and tokens, so the phase
		 * alone does not say that). */
		if (e->read_phase != READ_URGENT && (ch->urgent_more || e->urgent_hold))
			continue;
		if (e->read_phase == READ_NORMAL && ch->answer_more)
			continue;
		if (rate_limited(&ch->rate)) {
			if (ch->more && rate_available(&ch->rate) < room)
				rate_request(&ch->rate, room - rate_available(&ch->rate));
			if (rate_available(&ch->rate) < room)
				room = rate_available(&ch->rate);
			if (room <= 0)
				continue;
		}
		snprintf(count, sizeof(count), "%d", room);
		if (send_read(e, count, 0, 1, &key) == 0)
			ch->asked = room;
	}
	/* No channel could read in this phase (no room, no tokens, or only
	 * normal lanes held back behind urgent work): the blocked phase
	 * decides what to wait for, so that the loop never just stops. */
	if (e->reads_out == 0 && e->reader->up) {
		e->read_phase = READ_BLOCK;
		engine_read_block(e);
	}
}

static void on_read_retry(uv_timer_t *t)
{
	engine_read(t->data);
}

void engine_set_urgent_hold(struct engine *e, bool hold)
{
	if (e->urgent_hold == hold)
		return;
	e->urgent_hold = hold;
	/* The audience just expanded is on the urgent lanes, unread: keep
	 * normal work (and the fast path at intake) back until an urgent
	 * read comes back short. */
	if (!hold)
		for (int c = 0; c < CHANNEL_COUNT; c++)
			e->ch[c].urgent_more = true;
	if (!hold && e->reads_out == 0)
		engine_read(e);
}

void engine_kick(struct engine *e)
{
	engine_read(e);
}

/* ---- the schedule, reclaiming and trimming ---- */

/* Due messages moved to their ready streams per call of the tick. */
enum { TICK_BATCH = 500 };

/* A cancel job stopped job: its messages this instance claimed and still
 * holds for an adapter slot are not handed over; their results say
 * cancelled. Those at the adapter are the provider's already (contract
 * 1.1: not recalled). */
static void drop_stopped(struct engine *e, const char *job)
{
	int dropped = 0;

	for (unsigned i = 0; i < ENGINE_RECENT_STOPS; i++)
		if (strcmp(e->recent_stops[i], job) == 0)
			return;		/* seen in the previous tick */
	snprintf(e->recent_stops[e->recent_stop_next++ % ENGINE_RECENT_STOPS], JOB_ID_MAX + 1,
		 "%s", job);

	for (int c = 0; c < CHANNEL_COUNT; c++) {
		struct engine_channel *ch = &e->ch[c];
		struct engine_inflight *f = ch->wait_head, *next;

		/* Taken apart and put together again in the same order:
		 * wait_add keeps urgent, answer, then normal. */
		ch->wait_head = ch->wait_tail = ch->wait_urgent = ch->wait_answer = NULL;
		for (; f != NULL; f = next) {
			next = f->next;
			f->next = NULL;
			if (strcmp(f->req.job_id, job) != 0) {
				wait_add(ch, f);
				continue;
			}
			f->stopped = true;
			done_add(e, f);
			dropped++;
		}
	}
	e->stop_dropped += (uint64_t)dropped;
	/* From this line on, nothing of the job goes to an adapter here. */
	log_info("job %s stopped by a cancel job: %d of its messages waiting here dropped "
		 "before sending", job, dropped);
}

static void on_tick(struct rconn *c, redisReply *r, void *data)
{
	struct engine *e = data;
	const redisReply *stops;
	long long moved;

	(void)c;
	e->ticking = false;
	if (r == NULL || store_reply_error(e->store, r, "tick") || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != LUA_TICK_NREPLY ||
	    r->element[LUA_TICK_REPLY_MOVED]->type != REDIS_REPLY_INTEGER)
		return;
	moved = r->element[LUA_TICK_REPLY_MOVED]->integer;
	if (moved > 0)
		log_debug("schedule: %lld messages due", moved);
	if (r->element[LUA_TICK_REPLY_AT]->type == REDIS_REPLY_INTEGER)
		snprintf(e->stops_since, sizeof(e->stops_since), "%lld",
			 r->element[LUA_TICK_REPLY_AT]->integer);
	stops = r->element[LUA_TICK_REPLY_STOPS];
	if (stops->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i < stops->elements; i++)
			if (stops->element[i]->type == REDIS_REPLY_STRING)
				drop_stopped(e, stops->element[i]->str);
	if (moved >= TICK_BATCH || e->tick_again) {
		e->tick_again = false;
		on_tick_timer(&e->tick_timer);	/* more are due: go on at once */
	}
}

void engine_check_stops(struct engine *e)
{
	if (e->ticking)
		e->tick_again = true;
	else
		on_tick_timer(&e->tick_timer);
}

static void on_tick_timer(uv_timer_t *t)
{
	struct engine *e = t->data;
	const char *args[LUA_TICK_NHEAD];
	char batch[16];

	if (e->ticking || !e->store->ready || e->stopping)
		return;
	snprintf(batch, sizeof(batch), "%d", TICK_BATCH);
	args[LUA_TICK_HEAD_BATCH] = batch;
	args[LUA_TICK_HEAD_STOPS_SINCE] = e->stops_since;
	if (store_call(e->store, LUA_FN_TICK, LUA_TICK_NHEAD, args, NULL, on_tick, e) == 0)
		e->ticking = true;
}

static void on_autoclaim(struct rconn *c, redisReply *r, void *data);

static int autoclaim_next(struct engine *e, int from)
{
	for (int i = from; i < CHANNEL_COUNT * LANE_COUNT; i++) {
		struct engine_channel *ch = &e->ch[i / LANE_COUNT];
		int lane = i % LANE_COUNT, room = ch->cap - ch->held;
		char idle[24], count[16];

		if (!ch->open || room <= 0)
			continue;
		snprintf(idle, sizeof(idle), "%lld", (long long)e->cfg->jobs_reclaim_after_ms);
		snprintf(count, sizeof(count), "%d", room);
		const char *argv[] = { "XAUTOCLAIM", ch->stream[lane], PREGON_GROUP,
				       e->cfg->redis_consumer, idle, ch->claim_cursor[lane],
				       "COUNT", count };
		if (rconn_command(e->store->writer, on_autoclaim, e, 0, 8, argv, NULL) == 0) {
			e->autoclaiming = true;
			e->autoclaim_index = i;
			return i;
		}
		return -1;
	}
	return -1;
}

static void on_autoclaim(struct rconn *c, redisReply *r, void *data)
{
	struct engine *e = data;
	int i = e->autoclaim_index;
	struct engine_channel *ch = &e->ch[i / LANE_COUNT];
	int lane = i % LANE_COUNT;

	(void)c;
	e->autoclaiming = false;
	if (r == NULL || store_reply_error(e->store, r, "XAUTOCLAIM"))
		return;
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING) {
		snprintf(ch->claim_cursor[lane], sizeof(ch->claim_cursor[lane]), "%s",
			 r->element[0]->str);
		if (r->element[1]->type == REDIS_REPLY_ARRAY && r->element[1]->elements > 0 &&
		    !e->stopping) {
			/* Shape it like an XREADGROUP stream reply. */
			redisReply name = { .type = REDIS_REPLY_STRING, .str = ch->stream[lane],
					    .len = strlen(ch->stream[lane]) };
			redisReply *pair[2] = { &name, r->element[1] };
			redisReply stream = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = pair };
			const redisReply *streams[1] = { &stream };

			log_warn("engine: reclaimed %zu %s messages from a silent consumer",
				 r->element[1]->elements, ch->stream[lane]);
			claim_entries(e, streams, 1);
		}
	}
	if (!e->stopping)
		autoclaim_next(e, i + 1);
}

static void on_claim_timer(uv_timer_t *t)
{
	struct engine *e = t->data;

	if (!e->autoclaiming && e->store->ready && !e->stopping)
		autoclaim_next(e, 0);
}

static void on_trim(struct rconn *c, redisReply *r, void *data)
{
	struct engine *e = data;

	(void)c;
	if (r != NULL && !store_reply_error(e->store, r, "trim") && r->type == REDIS_REPLY_INTEGER &&
	    r->integer > 0)
		log_debug("trimmed %lld acknowledged stream entries", r->integer);
}

static void on_trim_timer(uv_timer_t *t)
{
	struct engine *e = t->data;
	const char *args[1 + CHANNEL_COUNT * LANE_COUNT];
	char jobs[128];
	int n = 0;

	if (!e->store->ready)
		return;
	store_key(e->store, jobs, sizeof(jobs), "jobs");
	args[n++] = jobs;
	for (int c = 0; c < CHANNEL_COUNT; c++)
		for (int l = 0; l < LANE_COUNT; l++)
			args[n++] = e->ch[c].stream[l];
	store_call(e->store, LUA_FN_TRIM, n, args, NULL, on_trim, e);
}

static void on_retry_timer(uv_timer_t *t)
{
	struct engine *e = t->data;

	uv_idle_start(&e->flush_idle, on_flush_idle);
}

/* ---- queue depths, for /metrics ---- */

static void on_depth(struct rconn *c, redisReply *r, void *data)
{
	struct engine *e = data;
	size_t n = 1 + CHANNEL_COUNT * LANE_COUNT;

	(void)c;
	e->depth_out = false;
	if (r == NULL || store_reply_error(e->store, r, "depth") || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != n + 1)
		return;
	for (size_t i = 0; i <= n; i++)
		if (r->element[i]->type != REDIS_REPLY_INTEGER)
			return;
	e->jobs_depth = r->element[0]->integer;
	for (int ch = 0; ch < CHANNEL_COUNT; ch++)
		for (int l = 0; l < LANE_COUNT; l++)
			e->depth[ch][l] = r->element[1 + ch * LANE_COUNT + l]->integer;
	e->scheduled = r->element[n]->integer;
}

static void on_depth_timer(uv_timer_t *h)
{
	struct engine *e = h->data;
	const char *args[1 + CHANNEL_COUNT * LANE_COUNT];
	char jobs[128];
	int n = 0;

	if (e->depth_out || !e->store->ready)
		return;
	store_key(e->store, jobs, sizeof(jobs), "jobs");
	args[n++] = jobs;
	for (int c = 0; c < CHANNEL_COUNT; c++)
		for (int l = 0; l < LANE_COUNT; l++)
			args[n++] = e->ch[c].stream[l];
	if (store_call(e->store, LUA_FN_DEPTH, n, args, NULL, on_depth, e) == 0)
		e->depth_out = true;
}

static const struct metric_family messages_total = {
	"pregon_messages_total", METRIC_COUNTER,
	"Send attempts finished by this instance, by channel and outcome.",
};
static const struct metric_family retries_total = {
	"pregon_retries_total", METRIC_COUNTER,
	"Sends that failed for now and were scheduled again.",
};
static const struct metric_family quiet_held_total = {
	"pregon_quiet_hours_held_total", METRIC_COUNTER,
	"Messages read inside their recipient's quiet hours and scheduled for the window's end.",
};
static const struct metric_family in_flight = {
	"pregon_messages_in_flight", METRIC_GAUGE, "Messages held by this instance.",
};
static const struct metric_family send_duration = {
	"pregon_send_duration_seconds", METRIC_HISTOGRAM,
	"From handing a message to the provider to its answer.",
};
static const struct metric_family queue_depth = {
	"pregon_queue_depth", METRIC_GAUGE,
	"Entries waiting or claimed and unfinished, shared by all instances (-1: not read yet).",
};
static const struct metric_family rate_tokens = {
	"pregon_rate_tokens", METRIC_GAUGE,
	"Send tokens this instance holds from the shared rate budget (below 0: owed).",
};

static int channel_metrics(struct engine *e, struct metrics *m, enum channel c)
{
	struct engine_channel *ch = &e->ch[c];
	const char *name = channel_name(c);

	return metrics_counter(m, &messages_total, &ch->sent,
			       "channel=\"%s\",outcome=\"sent\"", name) ||
	       metrics_counter(m, &messages_total, &ch->temp_failed,
			       "channel=\"%s\",outcome=\"temporary_failure\"", name) ||
	       metrics_counter(m, &messages_total, &ch->perm_failed,
			       "channel=\"%s\",outcome=\"failed\"", name) ||
	       metrics_counter(m, &messages_total, &ch->deferred,
			       "channel=\"%s\",outcome=\"deferred\"", name) ? -1 : 0;
}

int engine_metrics(struct engine *e, struct metrics *m)
{
	int rc = 0;

	for (int c = 0; c < CHANNEL_COUNT; c++)
		rc |= channel_metrics(e, m, (enum channel)c);
	for (int c = 0; c < CHANNEL_COUNT; c++)
		rc |= metrics_counter(m, &retries_total, &e->ch[c].temp_failed, "channel=\"%s\"",
				      channel_name((enum channel)c));
	rc |= metrics_counter(m, &quiet_held_total, &e->quiet_held, NULL);
	for (int c = 0; c < CHANNEL_COUNT; c++)
		rc |= metrics_gauge(m, &in_flight, metrics_read_int, &e->ch[c].held,
				    "channel=\"%s\"", channel_name((enum channel)c));
	for (int c = 0; c < CHANNEL_COUNT; c++)
		rc |= metrics_histogram(m, &send_duration, &e->ch[c].latency, "channel=\"%s\"",
					channel_name((enum channel)c));
	rc |= metrics_gauge(m, &queue_depth, metrics_read_i64, &e->jobs_depth, "queue=\"jobs\"");
	for (int c = 0; c < CHANNEL_COUNT; c++)
		for (int l = 0; l < LANE_COUNT; l++)
			rc |= metrics_gauge(m, &queue_depth, metrics_read_i64, &e->depth[c][l],
					    "queue=\"ready\",channel=\"%s\",lane=\"%s\"",
					    channel_name((enum channel)c), lane_names[l]);
	rc |= metrics_gauge(m, &queue_depth, metrics_read_i64, &e->scheduled,
			    "queue=\"scheduled\"");
	/* The family is shown even when no channel has a rate. */
	rc |= metrics_family(m, &rate_tokens);
	for (int c = 0; c < CHANNEL_COUNT; c++)
		if (rate_limited(&e->ch[c].rate))
			rc |= metrics_gauge(m, &rate_tokens, metrics_read_int, &e->ch[c].rate.tokens,
					    "channel=\"%s\"", channel_name((enum channel)c));
	for (int c = 0; c < CHANNEL_COUNT; c++) {
		struct adapter *a = &e->ch[c].adapter;

		if (e->ch[c].open && a->ops->metrics != NULL)
			rc |= a->ops->metrics(a, m);
	}
	if (m != NULL && !e->stopping)
		uv_timer_start(&e->depth_timer, on_depth_timer, 200, 5000);
	return rc ? -1 : 0;
}

void engine_health(struct engine *e, struct buf *out)
{
	for (int c = 0; c < CHANNEL_COUNT; c++) {
		struct adapter *a = &e->ch[c].adapter;

		if (e->ch[c].open && a->ops->health != NULL)
			a->ops->health(a, out);
	}
}

/* ---- life cycle ---- */

static void on_rate_tokens(void *data)
{
	engine_read(data);
}

int engine_init(struct engine *e, uv_loop_t *loop, const struct config *cfg,
		struct store *store, struct rconn *reader, struct templates *const *templates,
		const struct adapter_env *env, struct err *err)
{
	uint64_t every;

	memset(e, 0, sizeof(*e));
	e->loop = loop;
	e->cfg = cfg;
	e->store = store;
	e->reader = reader;
	e->templates = templates;
	e->read_phase = READ_URGENT;
	for (int c = 0; c < CHANNEL_COUNT; c++) {
		struct engine_channel *ch = &e->ch[c];
		const struct channel_config *cc = &cfg->channel[c];
		const struct adapter_ops *ops = adapter_find(cc->provider);

		for (int l = 0; l < LANE_COUNT; l++) {
			char name[64];

			snprintf(name, sizeof(name), "ready:%s:%s", channel_name((enum channel)c),
				 lane_names[l]);
			store_key(store, ch->stream[l], sizeof(ch->stream[l]), name);
			snprintf(ch->claim_cursor[l], sizeof(ch->claim_cursor[l]), "0-0");
		}
		if (ops == NULL)
			return err_set(err, "[%s] provider: unknown or not available in this version: \"%s\"",
				       channel_name((enum channel)c), cc->provider);
		ch->cap = cc->concurrency;
		ch->more = true;
		rate_init(&ch->rate, loop, store, (enum channel)c, cc->rate, cc->burst,
			  on_rate_tokens, e);
		e->rate_timers++;
		ch->adapter.ops = ops;
		ch->adapter.channel = (enum channel)c;
		ch->adapter.env = env;
		if (ops->open(&ch->adapter, env, err) != 0)
			return -1;
		ch->open = true;
		e->adapters_open++;
	}
	uv_idle_init(loop, &e->flush_idle);
	uv_timer_init(loop, &e->tick_timer);
	uv_timer_init(loop, &e->claim_timer);
	uv_timer_init(loop, &e->trim_timer);
	uv_timer_init(loop, &e->retry_timer);
	uv_timer_init(loop, &e->grace_timer);
	uv_timer_init(loop, &e->read_retry_timer);
	uv_timer_init(loop, &e->depth_timer);
	e->read_retry_timer.data = e->depth_timer.data = e;
	e->jobs_depth = e->scheduled = -1;
	for (int c = 0; c < CHANNEL_COUNT; c++)
		for (int l = 0; l < LANE_COUNT; l++)
			e->depth[c][l] = -1;
	e->flush_idle.data = e->tick_timer.data = e->claim_timer.data = e;
	e->trim_timer.data = e->retry_timer.data = e->grace_timer.data = e;
	uv_timer_start(&e->tick_timer, on_tick_timer, (uint64_t)cfg->schedule_tick_ms,
		       (uint64_t)cfg->schedule_tick_ms);
	every = (uint64_t)cfg->jobs_reclaim_after_ms / 4;
	every = every < 250 ? 250 : every > 15000 ? 15000 : every;
	uv_timer_start(&e->claim_timer, on_claim_timer, every, every);
	uv_timer_start(&e->trim_timer, on_trim_timer, 10000, 10000);
	return 0;
}

void engine_reader_state(struct engine *e, bool up)
{
	if (!up) {
		e->reads_out = 0;
		return;
	}
	e->read_phase = READ_URGENT;
	engine_read(e);
}

void engine_store_state(struct engine *e, bool ready)
{
	if (e->closed)
		return;
	if (!ready) {
		e->ticking = false;
		e->autoclaiming = false;
		return;
	}
	if (e->done_head != NULL)
		uv_idle_start(&e->flush_idle, on_flush_idle);
	engine_read(e);
}

void engine_reopen(struct engine *e)
{
	for (int c = 0; c < CHANNEL_COUNT; c++)
		if (e->ch[c].open && e->ch[c].adapter.ops->reopen)
			e->ch[c].adapter.ops->reopen(&e->ch[c].adapter);
}

static int held_total(const struct engine *e)
{
	int n = 0;

	for (int c = 0; c < CHANNEL_COUNT; c++)
		n += e->ch[c].held;
	return n;
}

int engine_in_flight(const struct engine *e)
{
	return held_total(e);
}

static void maybe_drained(struct engine *e)
{
	void (*cb)(struct engine *);

	if (!e->stopping || e->on_drained == NULL)
		return;
	if (held_total(e) > 0 || e->claims > 0 || e->results_out > 0 || e->done_head != NULL)
		return;
	cb = e->on_drained;
	e->on_drained = NULL;
	uv_timer_stop(&e->grace_timer);
	cb(e);
}

static void on_grace(uv_timer_t *t)
{
	struct engine *e = t->data;
	void (*cb)(struct engine *) = e->on_drained;

	log_warn("engine: shutdown grace over with %d messages held; they stay pending and "
		 "are reclaimed by another instance", held_total(e));
	e->on_drained = NULL;
	if (cb)
		cb(e);
}

void engine_stop(struct engine *e, void (*on_drained)(struct engine *e))
{
	e->stopping = true;
	e->on_drained = on_drained;
	uv_timer_stop(&e->tick_timer);
	uv_timer_stop(&e->claim_timer);
	uv_timer_stop(&e->trim_timer);
	uv_timer_stop(&e->read_retry_timer);
	uv_timer_start(&e->grace_timer, on_grace, (uint64_t)e->cfg->shutdown_grace_ms, 0);
	maybe_drained(e);
}

/* One more of the engine's handles, adapters and rate timers is closed. */
static void closed_one(struct engine *e)
{
	if (--e->closing_handles == 0 && e->on_closed)
		e->on_closed(e);
}

static void on_handle_closed(uv_handle_t *h)
{
	closed_one(h->data);
}

static void on_adapter_closed(struct adapter *a)
{
	struct engine_channel *ch = container_of(a, struct engine_channel, adapter);

	closed_one(container_of(ch - a->channel, struct engine, ch));
}

static void on_rate_closed(struct rate_budget *b)
{
	struct engine_channel *ch = container_of(b, struct engine_channel, rate);

	closed_one(container_of(ch - b->channel, struct engine, ch));
}

void engine_close(struct engine *e, void (*on_closed)(struct engine *e))
{
	uv_handle_t *handles[] = { (uv_handle_t *)&e->flush_idle, (uv_handle_t *)&e->tick_timer,
				   (uv_handle_t *)&e->claim_timer, (uv_handle_t *)&e->trim_timer,
				   (uv_handle_t *)&e->retry_timer, (uv_handle_t *)&e->grace_timer,
				   (uv_handle_t *)&e->read_retry_timer, (uv_handle_t *)&e->depth_timer };

	e->closed = true;
	e->on_closed = on_closed;
	e->closing_handles = (int)(sizeof(handles) / sizeof(handles[0])) + e->adapters_open +
			     e->rate_timers;
	/* Results that could not be written (Redis gone) are dropped here:
	 * their entries stay pending and are reclaimed and sent again. */
	drop_results(e->done_head);
	e->done_head = e->done_tail = NULL;
	e->done_count = 0;
	/* So are sends still waiting for an adapter slot (the grace ran
	 * out): never handed over, they are reclaimed and sent elsewhere. */
	for (int c = 0; c < CHANNEL_COUNT; c++) {
		struct engine_channel *ch = &e->ch[c];

		while (ch->wait_head) {
			struct engine_inflight *f = ch->wait_head;

			ch->wait_head = f->next;
			free(f);
		}
		ch->wait_tail = ch->wait_urgent = ch->wait_answer = NULL;
	}
	for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++)
		uv_close(handles[i], on_handle_closed);
	for (int c = 0; c < e->rate_timers; c++)
		rate_close(&e->ch[c].rate, on_rate_closed);
	for (int c = 0; c < CHANNEL_COUNT; c++)
		if (e->ch[c].open) {
			e->ch[c].open = false;
			e->ch[c].adapter.ops->close(&e->ch[c].adapter, on_adapter_closed);
		}
}
