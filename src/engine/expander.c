/* expander.c: an alert's audience, a batch at a time (expander.h).
 *
 * One command at a time (x->busy): a read of an expand stream, a reclaim,
 * or one step of the script. The order of work, each time a reply comes:
 * the urgent job in hand; else a new urgent job; else a step of the normal
 * job in hand (so an urgent job arriving meanwhile waits one step at
 * most); else a new normal job; else idle until kicked or polled.
 *
 * A step holds Redis, which runs one script at a time, for 10-20 ms; the
 * engine's claims and results wait behind it whatever connection they
 * come on. Run back to back, the steps of a 100,000-person alert took
 * 90% of Redis for 4 s, while its first 20,000 messages left at 4,000/s
 * and the rest at 10,000/s. So after each step of a normal job the
 * expander rests half as long as the step took (x->resting): steps hold
 * Redis two thirds of the time at most, and the audience is still
 * expanded ahead of the sends. Urgent jobs do not rest (the engine holds
 * normal work back for them meanwhile); an announced job (a kick) ends a
 * rest. */
#include "expander.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "metrics.h"

/* Alerts are urgent or normal: the answer lane is the engine's alone. */
static const char *const lane_name[LANE_COUNT] = {
	[LANE_URGENT] = "urgent", [LANE_ANSWER] = NULL, [LANE_NORMAL] = "normal",
};

static void expander_next(struct expander *x);
static void read_lane(struct expander *x, enum lane lane, bool pending);

static void set_hold(struct expander *x)
{
	engine_set_urgent_hold(x->engine, x->slot[LANE_URGENT].active);
}

static void on_retry_timer(uv_timer_t *t)
{
	expander_next(t->data);
}

static void on_rest_timer(uv_timer_t *t)
{
	struct expander *x = t->data;

	x->resting = false;
	expander_next(x);
}

/* After a step of a normal job that took step_ms: see the top. */
static bool rest(struct expander *x, uint64_t step_ms)
{
	uint64_t ms = step_ms / 2;

	if (ms == 0 || x->stopping)
		return false;
	x->resting = true;
	uv_timer_start(&x->rest_timer, on_rest_timer, ms, 0);
	return true;
}

static void retry_later(struct expander *x)
{
	if (!x->stopping)
		uv_timer_start(&x->retry_timer, on_retry_timer, 1000, 0);
}

static void slot_take(struct expander *x, enum lane lane, const char *entry, const char *job)
{
	struct expand_slot *s = &x->slot[lane];

	memset(s, 0, sizeof(*s));
	s->active = true;
	snprintf(s->entry, sizeof(s->entry), "%s", entry);
	snprintf(s->job, sizeof(s->job), "%s", job);
	s->started_ns = uv_hrtime();
	set_hold(x);
}

/* ---- one step ---- */

static void on_step(struct rconn *c, redisReply *r, void *data)
{
	struct expander *x = data;
	enum lane lane = x->step_lane;
	struct expand_slot *s = &x->slot[lane];
	const char *state;
	uint64_t created, skipped, step_ms;

	(void)c;
	x->busy = false;
	step_ms = (uv_hrtime() - x->step_sent_ns) / 1000000;
	if (r == NULL)
		return;		/* Redis went away: the store's ready callback kicks */
	if (store_reply_error(x->store, r, "expand") || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != LUA_EXPAND_NREPLY ||
	    r->element[LUA_EXPAND_REPLY_STATE]->type != REDIS_REPLY_STRING ||
	    r->element[LUA_EXPAND_REPLY_CREATED]->type != REDIS_REPLY_INTEGER ||
	    r->element[LUA_EXPAND_REPLY_SKIPPED]->type != REDIS_REPLY_INTEGER ||
	    r->element[LUA_EXPAND_REPLY_TOTAL]->type != REDIS_REPLY_INTEGER) {
		retry_later(x);
		return;
	}
	state = r->element[LUA_EXPAND_REPLY_STATE]->str;
	created = (uint64_t)r->element[LUA_EXPAND_REPLY_CREATED]->integer;
	skipped = (uint64_t)r->element[LUA_EXPAND_REPLY_SKIPPED]->integer;
	x->steps++;
	s->steps++;
	s->created += created;
	s->skipped += skipped;
	x->created += created;
	x->skipped += skipped;
	if (strcmp(state, "more") != 0) {
		if (strcmp(state, "done") == 0 && r->element[LUA_EXPAND_REPLY_TOTAL]->integer == 0) {
			/* A list name with a typo must not look like a success. */
			x->jobs_done++;
			log_warn("job %s: its audience is empty (no such list, or no member with an "
				 "address): nothing to send", s->job);
		} else if (strcmp(state, "done") == 0) {
			char b[2][32];

			x->jobs_done++;
			/* log_count: a plain 7-digit count would be redacted as a phone. */
			log_info("job %s: %s audience expanded (here: %s messages, %s skipped "
				 "as the same person, %.1f ms)", s->job, lane_name[lane],
				 log_count(s->created, b[0]), log_count(s->skipped, b[1]),
				 (double)(uv_hrtime() - s->started_ns) / 1e6);
		} else if (strcmp(state, "stopped") == 0)
			log_info("job %s: expansion stopped by a cancel job", s->job);
		else
			log_warn("job %s: its record is gone (expired?): expansion dropped", s->job);
		s->active = false;
		set_hold(x);
	}
	if (lane == LANE_NORMAL && s->active && rest(x, step_ms))
		return;
	expander_next(x);
}

static void step(struct expander *x, enum lane lane)
{
	struct expand_slot *s = &x->slot[lane];
	char batch[16];
	int n = x->cfg->alerts_expand_batch;
	const char *args[LUA_EXPAND_NHEAD];

	/* A small first step: the first messages leave while the rest of
	 * the audience is still being expanded. */
	if (s->steps == 0) {
		n /= 10;
		if (n < 10)
			n = 10;
	}
	snprintf(batch, sizeof(batch), "%d", n);
	args[LUA_EXPAND_HEAD_JOB] = s->job;
	args[LUA_EXPAND_HEAD_BATCH] = batch;
	args[LUA_EXPAND_HEAD_LANE] = lane_name[lane];
	args[LUA_EXPAND_HEAD_ENTRY] = s->entry;
	x->step_lane = lane;
	x->step_sent_ns = uv_hrtime();
	if (store_call(x->store, LUA_FN_EXPAND, LUA_EXPAND_NHEAD, args, NULL, on_step, x) == 0)
		x->busy = true;
}

/* ---- reading the expand streams ---- */

/* The first entry of an XREADGROUP/XAUTOCLAIM entry list, if any. A
 * deleted entry has no fields: its job is "-", which the script finds
 * gone and acknowledges. */
static bool first_entry(const redisReply *entries, const char **entry, const char **job)
{
	const redisReply *e, *f;

	if (entries == NULL || entries->type != REDIS_REPLY_ARRAY || entries->elements == 0)
		return false;
	e = entries->element[0];
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
		return false;
	*entry = e->element[0]->str;
	*job = "-";
	f = e->element[1];
	if (f->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i + 1 < f->elements; i += 2)
			if (f->element[i]->type == REDIS_REPLY_STRING &&
			    f->element[i + 1]->type == REDIS_REPLY_STRING &&
			    strcmp(f->element[i]->str, "job") == 0)
				*job = f->element[i + 1]->str;
	return true;
}

static void on_read(struct rconn *c, redisReply *r, void *data)
{
	struct expander *x = data;
	enum lane lane = x->read_lane;
	bool pending = x->read_pending;
	const char *entry, *job;

	(void)c;
	x->busy = false;
	if (r == NULL)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		store_reply_error(x->store, r, "XREADGROUP expand");
		if (strncmp(r->str, "NOGROUP", 7) == 0)
			rconn_reset(x->store->writer, "group missing: recreating");
		retry_later(x);
		return;
	}
	if (x->stopping)
		return;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
	    first_entry(r->element[0]->element[1], &entry, &job)) {
		if (pending)
			log_info("job %s: resuming the expansion this consumer left", job);
		/* The normal lane's pending list is read last: done with them
		 * (reading it again would find this same entry, for ever). */
		if (pending && lane == LANE_NORMAL)
			x->from_pending = false;
		slot_take(x, lane, entry, job);
		expander_next(x);
	} else if (pending) {
		x->kicked = true;	/* new work may have come meanwhile */
		/* Our own pending entries (a restart under the same consumer
		 * name) come first; then new work. */
		if (lane == LANE_URGENT)
			read_lane(x, LANE_NORMAL, true);
		else {
			x->from_pending = false;
			expander_next(x);
		}
	} else if (lane == LANE_URGENT) {
		/* Nothing urgent waits: on with normal work. */
		if (x->slot[LANE_NORMAL].active)
			step(x, LANE_NORMAL);
		else
			read_lane(x, LANE_NORMAL, false);
	} else if (x->kicked)
		expander_next(x);	/* work announced while this read was out */
	/* else: idle until kicked or polled */
}

static void read_lane(struct expander *x, enum lane lane, bool pending)
{
	/* A read of the urgent lane from here on sees whatever was announced. */
	if (lane == LANE_URGENT)
		x->kicked = false;
	const char *argv[] = { "XREADGROUP", "GROUP", PREGON_GROUP, x->cfg->redis_consumer,
			       "COUNT", "1", "STREAMS", x->stream[lane], pending ? "0" : ">" };

	x->read_lane = lane;
	x->read_pending = pending;
	if (rconn_command(x->store->writer, on_read, x, 0, 9, argv, NULL) == 0)
		x->busy = true;
}

static void expander_next(struct expander *x)
{
	if (x->busy || x->resting || x->stopping || !x->store->ready)
		return;
	if (x->slot[LANE_URGENT].active)
		step(x, LANE_URGENT);
	else if (x->from_pending)
		read_lane(x, LANE_URGENT, true);
	else
		read_lane(x, LANE_URGENT, false);
}

void expander_kick(struct expander *x)
{
	/* While a command is out, remember the kick: a read already sent may
	 * have missed the new entry, and idling then would leave an urgent
	 * alert to the poll timer. */
	x->kicked = true;
	if (x->resting) {
		uv_timer_stop(&x->rest_timer);
		x->resting = false;
	}
	expander_next(x);
}

/* ---- reclaiming what a dead instance left half-expanded ---- */

static void on_autoclaim(struct rconn *c, redisReply *r, void *data)
{
	struct expander *x = data;
	enum lane lane = x->read_lane;
	const char *entry, *job;

	(void)c;
	x->busy = false;
	if (r == NULL || store_reply_error(x->store, r, "XAUTOCLAIM expand") || x->stopping)
		return;
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
	    first_entry(r->element[1], &entry, &job) && !x->slot[lane].active) {
		x->reclaimed++;
		log_warn("job %s: taking over its expansion from a silent instance", job);
		slot_take(x, lane, entry, job);
	}
	expander_next(x);
}

static void on_poll_timer(uv_timer_t *t)
{
	struct expander *x = t->data;
	char idle[24];
	const char *argv[] = { "XAUTOCLAIM", NULL, PREGON_GROUP, x->cfg->redis_consumer,
			       idle, "0-0", "COUNT", "1" };

	if (x->busy || x->resting || x->stopping || !x->store->ready)
		return;
	/* Alternate the lanes; only into an empty slot. */
	x->claim_lane = x->claim_lane == LANE_URGENT ? LANE_NORMAL : LANE_URGENT;
	if (x->slot[x->claim_lane].active) {
		expander_next(x);
		return;
	}
	argv[1] = x->stream[x->claim_lane];
	snprintf(idle, sizeof(idle), "%lld", (long long)x->cfg->jobs_reclaim_after_ms);
	x->read_lane = (enum lane)x->claim_lane;
	if (rconn_command(x->store->writer, on_autoclaim, x, 0, 8, argv, NULL) == 0)
		x->busy = true;
}

void expander_init(struct expander *x, uv_loop_t *loop, const struct config *cfg,
		   struct store *store, struct engine *engine)
{
	uint64_t every;

	memset(x, 0, sizeof(*x));
	x->loop = loop;
	x->cfg = cfg;
	x->store = store;
	x->engine = engine;
	x->from_pending = true;
	for (int l = 0; l < LANE_COUNT; l++) {
		char name[32];

		if (lane_name[l] == NULL)
			continue;
		snprintf(name, sizeof(name), "expand:%s", lane_name[l]);
		store_key(store, x->stream[l], sizeof(x->stream[l]), name);
	}
	uv_timer_init(loop, &x->poll_timer);
	uv_timer_init(loop, &x->retry_timer);
	uv_timer_init(loop, &x->rest_timer);
	x->poll_timer.data = x;
	x->retry_timer.data = x;
	x->rest_timer.data = x;
	/* Often enough that a job nobody announced (its instance died after
	 * accepting it) waits little; reclaims after [jobs] reclaim_after. */
	every = config_reclaim_poll_ms(cfg, 1000);
	uv_timer_start(&x->poll_timer, on_poll_timer, every, every);
}

void expander_stop(struct expander *x)
{
	x->stopping = true;
	uv_timer_stop(&x->poll_timer);
	uv_timer_stop(&x->retry_timer);
	uv_timer_stop(&x->rest_timer);
	x->resting = false;
	x->slot[LANE_URGENT].active = false;
	set_hold(x);
}

void expander_close(struct expander *x)
{
	uv_close((uv_handle_t *)&x->poll_timer, NULL);
	uv_close((uv_handle_t *)&x->retry_timer, NULL);
	uv_close((uv_handle_t *)&x->rest_timer, NULL);
}

static const struct metric_family expansions = {
	"pregon_alert_expansions_total", METRIC_COUNTER,
	"Alert audiences this instance finished expanding.",
};
static const struct metric_family recipients = {
	"pregon_alert_recipients_total", METRIC_COUNTER,
	"Alert recipients expanded here, by outcome (a message, or skipped as the "
	"same person as another recipient).",
};
static const struct metric_family expanding = {
	"pregon_alert_expanding", METRIC_GAUGE, "Alert audiences being expanded here now, by lane.",
};

int expander_metrics(struct expander *x, struct metrics *m)
{
	if (metrics_counter(m, &expansions, &x->jobs_done, NULL) != 0 ||
	    metrics_counter(m, &recipients, &x->created, "outcome=\"message\"") != 0 ||
	    metrics_counter(m, &recipients, &x->skipped, "outcome=\"same_person\"") != 0)
		return -1;
	return metrics_gauge(m, &expanding, metrics_read_bool, &x->slot[LANE_URGENT].active,
			     "lane=\"urgent\"") ||
	       metrics_gauge(m, &expanding, metrics_read_bool, &x->slot[LANE_NORMAL].active,
			     "lane=\"normal\"") ? -1 : 0;
}
