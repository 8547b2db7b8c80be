/* mqtt_events.c: the event publisher (see mqtt_events.h). */
#include "mqtt_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "metrics.h"

/* The lease lasts MQTT_LEASE_MS and is renewed every MQTT_RENEW_MS: a
 * renewal can be missed three times before another instance may take
 * over. The leader stops publishing MQTT_LEASE_MARGIN_MS before its lease
 * can have expired in Redis (counted from when the renewal was sent, which
 * is before Redis started the lease's clock). */
#define MQTT_LEASE_MS 10000
#define MQTT_RENEW_MS 2000
#define MQTT_LEASE_MARGIN_MS 1000
/* How often an idle leader looks for new events (one XRANGE through the
 * script): the latency an event may wait before it is published. */
#define MQTT_POLL_MS 100
/* After a failed read (Redis away), before the next. */
#define MQTT_READ_RETRY_MS 500
/* At stop, how long the PUBACKs in flight are waited for: those that do
 * not come are published again by the next leader. */
#define MQTT_DRAIN_MS 2000

static void kick(struct mqtt_events *ev);
static void stop_step(struct mqtt_events *ev);

/* An event's place in the stream's history for logs, "#1_234" ("#?" when
 * unknown). Entry ids are not logged: the log redactor takes their long
 * digit runs for phone numbers. */
static const char *ord_str(int64_t n, char buf[40])
{
	char count[32];

	if (n < 0)
		return "#?";
	snprintf(buf, 40, "#%s", log_count((uint64_t)n, count));
	return buf;
}

/* ---- replies ---- */

static bool reply_i64(const redisReply *r, int64_t *out)
{
	char buf[32];
	char *end;

	if (r == NULL)
		return false;
	if (r->type == REDIS_REPLY_INTEGER) {
		*out = r->integer;
		return true;
	}
	if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= sizeof(buf))
		return false;
	memcpy(buf, r->str, r->len);
	buf[r->len] = '\0';
	*out = strtoll(buf, &end, 10);
	return *end == '\0';
}

/* Copies a stream id reply ("1700000000000-0") into out. */
static bool reply_id(const redisReply *r, char *out, size_t out_len)
{
	if (r == NULL || r->type != REDIS_REPLY_STRING || r->len >= out_len)
		return false;
	memcpy(out, r->str, r->len);
	out[r->len] = '\0';
	return true;
}

/* ---- the window ---- */

static struct mqtt_event_slot *slot_at(struct mqtt_events *ev, int i)
{
	return &ev->window[(ev->head + i) % (MQTT_EVENTS_WINDOW + 1)];
}

static void window_push(struct mqtt_events *ev, const char *id, int64_t n, int mid, bool acked)
{
	struct mqtt_event_slot *s = slot_at(ev, ev->count);

	snprintf(s->id, sizeof(s->id), "%s", id);
	s->n = n;
	s->mid = mid;
	s->acked = acked;
	ev->count++;
}

/* Moves the cursor over the acknowledged head of the window. */
static void advance(struct mqtt_events *ev)
{
	while (ev->count > 0 && ev->window[ev->head].acked) {
		struct mqtt_event_slot *s = &ev->window[ev->head];

		memcpy(ev->cursor, s->id, sizeof(ev->cursor));
		ev->cursor_n = s->n;
		ev->head = (ev->head + 1) % (MQTT_EVENTS_WINDOW + 1);
		ev->count--;
	}
}

/* Forgets what is in flight and goes back to the cursor: those events are
 * published again (by this instance or the next leader). */
static void drop_window(struct mqtt_events *ev)
{
	ev->epoch++;
	ev->head = ev->count = 0;
	memcpy(ev->read_pos, ev->cursor, sizeof(ev->read_pos));
	ev->read_n = ev->cursor_n;
	uv_timer_stop(&ev->read_timer);
}

/* ---- publishing ---- */

/* A topic level from an event field: absent, null or unfit values (empty,
 * too long, with '/', '+' or '#') become fallback. */
static const char *topic_level(json_t *v, const char *fallback)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	if (s == NULL || s[0] == '\0' || strlen(s) > 64 || strpbrk(s, "/+#") != NULL)
		return fallback;
	return s;
}

/* Publishes one event. Returns the mid; 0 when libmosquitto refused the
 * message itself (logged; publishing it again would not help); -1 when
 * the connection is not up (its down callback resets the window). */
static int publish_event(struct mqtt_events *ev, int64_t n, const char *payload, size_t len)
{
	char topic[512], nb[40];
	json_t *doc = json_loadb(payload, len, 0, NULL);
	int mid = -1, rc;

	snprintf(topic, sizeof(topic), "%s/%s/%s", ev->prefix,
		 topic_level(json_object_get(doc, "kind"), "none"),
		 topic_level(json_object_get(doc, "status"), "unknown"));
	json_decref(doc);
	rc = mqtt_conn_publish(&ev->conn, topic, payload, (int)len, &mid);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		log_error("mqtt events: cannot publish event %s (%zu bytes): %s; skipped",
			  ord_str(n, nb), len, mosquitto_strerror(rc));
		return 0;
	}
	return mid;
}

/* ---- reading the stream ---- */

static void try_read(struct mqtt_events *ev);

static void on_read_timer(uv_timer_t *t)
{
	try_read(t->data);
}

/* Reply to mqtt_read: {skipped, n0, resume id, id1, event1, id2, event2, ...}. */
static void on_read(struct rconn *rc, redisReply *r, void *data)
{
	struct mqtt_events *ev = data;
	int64_t skipped = 0, n0 = -1;
	char resume[48], nb[40];
	size_t pairs, published = 0;

	(void)rc;
	ev->read_out = false;
	if (ev->stopping)
		return;		/* nothing new is published during a stop */
	if (ev->read_epoch != ev->epoch) {
		kick(ev);	/* a read for a dropped window: start over */
		return;
	}
	if (r == NULL || store_reply_error(ev->store, r, "mqtt read") ||
	    r->type != REDIS_REPLY_ARRAY || r->elements < LUA_MQTT_READ_NREPLY ||
	    !reply_i64(r->element[LUA_MQTT_READ_REPLY_SKIPPED], &skipped) ||
	    !reply_i64(r->element[LUA_MQTT_READ_REPLY_N], &n0) ||
	    !reply_id(r->element[LUA_MQTT_READ_REPLY_RESUME], resume, sizeof(resume)) ||
	    (r->elements - LUA_MQTT_READ_NREPLY) % 2 != 0) {
		if (r != NULL && r->type != REDIS_REPLY_ERROR)
			log_warn("mqtt events: unexpected reply to the read script");
		uv_timer_start(&ev->read_timer, on_read_timer, MQTT_READ_RETRY_MS, 0);
		return;
	}
	if (resume[0] != '\0') {
		/* Entries after our position were trimmed (MAXLEN) before we
		 * published them: say how many, once, and go on after them. */
		ev->skipped += (uint64_t)(skipped > 0 ? skipped : 0);
		log_warn("mqtt events: %lld events were trimmed from the events stream "
			 "([events] max_len) before they could be published; skipped "
			 "(after event %s)", (long long)skipped, ord_str(ev->read_n, nb));
		window_push(ev, resume, n0, -1, true);
		memcpy(ev->read_pos, resume, sizeof(ev->read_pos));
		ev->read_n = n0;
	}
	/* The entries follow the reply's fields, an id and an event each. */
	pairs = (r->elements - LUA_MQTT_READ_NREPLY) / 2;
	for (size_t i = 0; i < pairs; i++) {
		const redisReply *id = r->element[LUA_MQTT_READ_NREPLY + 2 * i];
		const redisReply *e = r->element[LUA_MQTT_READ_NREPLY + 2 * i + 1];
		char idbuf[48];
		int64_t n = ev->read_n >= 0 ? ev->read_n + 1 : -1;
		int mid;

		if (!reply_id(id, idbuf, sizeof(idbuf)) || e->type != REDIS_REPLY_STRING)
			break;
		if (ev->count >= MQTT_EVENTS_WINDOW)
			break;	/* cannot happen: the read asked for the room left */
		if (e->len == 0) {
			/* An entry without an event field: nothing to publish. */
			window_push(ev, idbuf, n, -1, true);
		} else {
			mid = publish_event(ev, n, e->str, e->len);
			if (mid < 0)
				break;	/* connection gone: down resets to the cursor */
			window_push(ev, idbuf, n, mid > 0 ? mid : -1, mid == 0);
			published++;
		}
		memcpy(ev->read_pos, idbuf, sizeof(ev->read_pos));
		ev->read_n = n;
	}
	advance(ev);
	if (pairs == 0)
		uv_timer_start(&ev->read_timer, on_read_timer, MQTT_POLL_MS, 0);
	else
		try_read(ev);
}

/* Reads the next batch if this instance leads, is connected and has room
 * in its window (one slot kept for a trimmed-entries marker). */
static void try_read(struct mqtt_events *ev)
{
	char n[24], count[16];
	int room = MQTT_EVENTS_WINDOW - ev->count - 1;
	const char *args[LUA_MQTT_READ_NHEAD];

	if (!ev->leader || ev->stopping || !ev->store_ready || ev->read_out || room < 1 ||
	    !mqtt_conn_is_up(&ev->conn))
		return;
	uv_timer_stop(&ev->read_timer);
	snprintf(n, sizeof(n), "%lld", (long long)ev->read_n);
	snprintf(count, sizeof(count), "%d", room);
	args[LUA_MQTT_READ_HEAD_ID] = ev->read_pos;
	args[LUA_MQTT_READ_HEAD_N] = n;
	args[LUA_MQTT_READ_HEAD_COUNT] = count;
	if (store_call(ev->store, LUA_FN_MQTT_READ, LUA_MQTT_READ_NHEAD, args, NULL, on_read,
		       ev) == 0) {
		ev->read_out = true;
		ev->read_epoch = ev->epoch;
	} else {
		uv_timer_start(&ev->read_timer, on_read_timer, MQTT_READ_RETRY_MS, 0);
	}
}

/* ---- the lease ---- */

static void step_down(struct mqtt_events *ev, const char *why)
{
	char nb[40];

	if (!ev->leader)
		return;
	ev->leader = false;
	log_info("mqtt events: no longer publishing (%s); cursor at event %s", why,
		 ord_str(ev->cursor_n, nb));
	drop_window(ev);
}

static void on_release(struct rconn *rc, redisReply *r, void *data)
{
	struct mqtt_events *ev = data;

	(void)rc;
	ev->release_out = false;
	if (r != NULL && !store_reply_error(ev->store, r, "mqtt release"))
		log_debug("mqtt events: lease released, cursor saved");
	stop_step(ev);
}

/* Gives the lease up, saving the cursor, so that another instance can
 * take over at once. */
static void release_lease(struct mqtt_events *ev)
{
	char n[24];
	const char *args[LUA_MQTT_RELEASE_NHEAD];

	snprintf(n, sizeof(n), "%lld", (long long)ev->cursor_n);
	if (ev->release_out || !ev->store_ready)
		return;
	args[LUA_MQTT_RELEASE_HEAD_CONSUMER] = ev->consumer;
	args[LUA_MQTT_RELEASE_HEAD_ID] = ev->cursor;
	args[LUA_MQTT_RELEASE_HEAD_N] = n;
	if (store_call(ev->store, LUA_FN_MQTT_RELEASE, LUA_MQTT_RELEASE_NHEAD, args, NULL,
		       on_release, ev) == 0)
		ev->release_out = true;
}

static void on_hold(struct rconn *rc, redisReply *r, void *data)
{
	struct mqtt_events *ev = data;
	int64_t held = 0, n = -1;
	char id[48], holder[128], nb[40];

	(void)rc;
	ev->lease_out = false;
	if (r == NULL || store_reply_error(ev->store, r, "mqtt lease"))
		return;	/* the deadline decides */
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    !reply_i64(r->element[LUA_MQTT_HOLD_REPLY_HELD], &held)) {
		log_warn("mqtt events: unexpected reply to the lease script");
		return;
	}
	if (held == 0) {
		/* Held by another: a notheld record. */
		if (r->elements != LUA_NOTHELD_NFIELDS ||
		    !reply_id(r->element[LUA_NOTHELD_HOLDER], holder, sizeof(holder)))
			snprintf(holder, sizeof(holder), "?");
		if (ev->leader)
			step_down(ev, "the lease is held by another instance");
		if (strcmp(holder, ev->holder) != 0) {
			log_info("mqtt events: instance %s publishes the events; this one stands by",
				 holder);
			snprintf(ev->holder, sizeof(ev->holder), "%s", holder);
		}
		return;
	}
	ev->lease_valid_until = ev->lease_sent_at + MQTT_LEASE_MS - MQTT_LEASE_MARGIN_MS;
	ev->holder[0] = '\0';
	if (ev->leader)
		return;
	if (ev->stopping || !mqtt_conn_is_up(&ev->conn)) {
		/* Taken while the connection went away: give it back. */
		release_lease(ev);
		return;
	}
	if (r->elements != LUA_MQTT_HOLD_NREPLY ||
	    !reply_id(r->element[LUA_MQTT_HOLD_REPLY_ID], id, sizeof(id)) ||
	    !reply_i64(r->element[LUA_MQTT_HOLD_REPLY_N], &n)) {
		log_warn("mqtt events: unexpected cursor in the lease reply");
		return;
	}
	ev->leader = true;
	snprintf(ev->cursor, sizeof(ev->cursor), "%s", id);
	ev->cursor_n = n;
	drop_window(ev);
	log_info("mqtt events: publishing events after event %s (this instance holds the lease)",
		 ord_str(n, nb));
	try_read(ev);
}

/* Takes or renews the lease; the leader saves its cursor with it. */
static void hold_lease(struct mqtt_events *ev)
{
	char ttl[16], n[24];
	const char *args[LUA_MQTT_HOLD_NHEAD];

	if (ev->lease_out || !ev->store_ready || !ev->cursor_ready || ev->stopping ||
	    !mqtt_conn_is_up(&ev->conn))
		return;
	snprintf(ttl, sizeof(ttl), "%d", MQTT_LEASE_MS);
	snprintf(n, sizeof(n), "%lld", (long long)ev->cursor_n);
	args[LUA_MQTT_HOLD_HEAD_CONSUMER] = ev->consumer;
	args[LUA_MQTT_HOLD_HEAD_MS] = ttl;
	args[LUA_MQTT_HOLD_HEAD_ID] = ev->leader ? ev->cursor : "";
	args[LUA_MQTT_HOLD_HEAD_N] = n;
	if (store_call(ev->store, LUA_FN_MQTT_HOLD, LUA_MQTT_HOLD_NHEAD, args, NULL, on_hold,
		       ev) == 0) {
		ev->lease_out = true;
		ev->lease_sent_at = uv_now(ev->loop);
	}
}

static void on_lease_timer(uv_timer_t *t)
{
	struct mqtt_events *ev = t->data;

	if (ev->stopping) {
		stop_step(ev);	/* the drain deadline */
		return;
	}
	if (ev->leader && uv_now(ev->loop) >= ev->lease_valid_until)
		step_down(ev, "the lease was not renewed in time");
	/* Renews (and saves the cursor) or tries to take the lease. */
	hold_lease(ev);
	kick(ev);
}

static void on_init(struct rconn *rc, redisReply *r, void *data)
{
	struct mqtt_events *ev = data;

	(void)rc;
	ev->init_out = false;
	if (r == NULL || store_reply_error(ev->store, r, "mqtt init"))
		return;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == LUA_MQTT_INIT_NREPLY &&
	    r->element[LUA_MQTT_INIT_REPLY_ID]->type == REDIS_REPLY_STRING) {
		ev->cursor_ready = true;
		kick(ev);
	}
}

/* Does what the state calls for: create the cursor (once per Redis
 * connection, so that events from now on are published even if the
 * broker is not reachable yet), take the lease, read. */
static void kick(struct mqtt_events *ev)
{
	if (ev->stopping || !ev->store_ready)
		return;
	if (!ev->cursor_ready) {
		if (!ev->init_out &&
		    store_call(ev->store, LUA_FN_MQTT_INIT, 0, NULL, NULL, on_init, ev) == 0)
			ev->init_out = true;
		return;
	}
	if (!ev->leader)
		hold_lease(ev);
	else
		try_read(ev);
}

/* ---- the connection's callbacks ---- */

static void on_up(struct mqtt_conn *c, bool session_present, void *data)
{
	(void)c;
	(void)session_present;
	kick(data);
}

static void on_down(struct mqtt_conn *c, void *data)
{
	struct mqtt_events *ev = data;

	(void)c;
	if (ev->leader) {
		/* Hand over at once, cursor saved: an instance that still
		 * reaches the broker may publish meanwhile. */
		step_down(ev, "broker connection lost");
		release_lease(ev);
	}
	drop_window(ev);
}

static void on_published(struct mqtt_conn *c, int mid, int reason, void *data)
{
	struct mqtt_events *ev = data;

	(void)c;
	for (int i = 0; i < ev->count; i++) {
		struct mqtt_event_slot *s = slot_at(ev, i);
		char nb[40];

		if (s->mid != mid || s->acked)
			continue;
		s->acked = true;
		if (reason >= 0x80) {
			/* The broker answered, so publishing it again would get
			 * the same answer (an ACL denies the topic, say). */
			if (ev->refused++ % 100 == 0)
				log_error("mqtt events: the broker refused event %s: %s (%llu so far)",
					  ord_str(s->n, nb), mosquitto_reason_string(reason),
					  (unsigned long long)ev->refused);
		} else {
			ev->published++;
		}
		break;
	}
	advance(ev);
	if (ev->stopping && ev->count == 0)
		stop_step(ev);
	else
		try_read(ev);
}

static void on_conn_stopped(struct mqtt_conn *c, void *data)
{
	(void)c;
	stop_step(data);
}

static const struct mqtt_conn_ops events_ops = {
	.up = on_up,
	.down = on_down,
	.published = on_published,
	.stopped = on_conn_stopped,
};

static void on_store_ready(struct store *s, bool ready, void *data)
{
	struct mqtt_events *ev = data;

	(void)s;
	ev->store_ready = ready;
	if (!ready) {
		ev->cursor_ready = false;	/* a restarted Redis may have lost it */
		return;
	}
	kick(ev);
}

/* ---- life cycle ---- */

int mqtt_events_init(struct mqtt_events *ev, uv_loop_t *loop, const struct config *cfg,
		     struct store *store, struct err *err)
{
	char base[200], id[256];
	size_t plen;
	int r;

	memset(ev, 0, sizeof(*ev));
	ev->loop = loop;
	ev->cfg = cfg;
	ev->store = store;
	snprintf(ev->consumer, sizeof(ev->consumer), "%s", cfg->redis_consumer);
	snprintf(ev->prefix, sizeof(ev->prefix), "%s", cfg->mqtt_events_topic_prefix);
	plen = strlen(ev->prefix);
	while (plen > 1 && ev->prefix[plen - 1] == '/')
		ev->prefix[--plen] = '\0';
	snprintf(ev->cursor, sizeof(ev->cursor), "0-0");
	ev->cursor_n = -1;
	memcpy(ev->read_pos, ev->cursor, sizeof(ev->read_pos));
	ev->read_n = ev->cursor_n;
	/* A clean session with an id of its own per instance: the broker
	 * keeps nothing for the publisher, which restarts from the cursor.
	 * MQTT 5, so that a refused publish gets its reason in the PUBACK
	 * (3.1.1 brokers acknowledge what an ACL drops). */
	mqtt_default_client_id(cfg, base, sizeof(base));
	snprintf(id, sizeof(id), "%s-events-%ld", base, (long)getpid());
	if (mqtt_conn_init(&ev->conn, loop, cfg, "events", id, true, MQTT_PROTOCOL_V5,
			   &events_ops, ev, err) != 0)
		return -1;
	r = uv_timer_init(loop, &ev->lease_timer);
	if (r == 0) {
		ev->open_handles++;
		r = uv_timer_init(loop, &ev->read_timer);
		if (r == 0)
			ev->open_handles++;
	}
	if (r != 0)
		return err_set(err, "mqtt events: timer: %s", uv_strerror(r));
	ev->lease_timer.data = ev->read_timer.data = ev;
	uv_timer_start(&ev->lease_timer, on_lease_timer, MQTT_RENEW_MS, MQTT_RENEW_MS);
	store_add_ready_cb(store, on_store_ready, ev);
	mqtt_conn_start(&ev->conn);
	return 0;
}

/* The stop, one step at a time: PUBACKs in flight (a while), the cursor
 * saved and the lease released, the DISCONNECT, then on_stopped. */
static void stop_step(struct mqtt_events *ev)
{
	char nb[40];

	if (!ev->stopping || ev->stopped)
		return;
	if (ev->leader && ev->count > 0 && mqtt_conn_is_up(&ev->conn) &&
	    uv_now(ev->loop) < ev->drain_until)
		return;
	if (ev->leader) {
		ev->leader = false;
		advance(ev);
		release_lease(ev);
	}
	if (ev->release_out || ev->lease_out || ev->read_out)
		return;
	if (!ev->stop_conn_asked) {
		ev->stop_conn_asked = true;
		mqtt_conn_stop(&ev->conn);	/* ops->stopped calls back here */
		return;
	}
	if (ev->conn.state != MQTT_IDLE)
		return;
	ev->stopped = true;
	log_info("mqtt events: stopped (%llu published, cursor at event %s)",
		 (unsigned long long)ev->published, ord_str(ev->cursor_n, nb));
	if (ev->on_stopped)
		ev->on_stopped(ev);
}

void mqtt_events_stop(struct mqtt_events *ev, void (*on_stopped)(struct mqtt_events *ev))
{
	if (ev->stopping)
		return;
	ev->stopping = true;
	ev->on_stopped = on_stopped;
	ev->drain_until = uv_now(ev->loop) + MQTT_DRAIN_MS;
	uv_timer_stop(&ev->read_timer);
	/* The lease timer now checks the drain deadline. */
	uv_timer_start(&ev->lease_timer, on_lease_timer, 200, 200);
	stop_step(ev);
}

static void maybe_closed(struct mqtt_events *ev)
{
	if (ev->open_handles == 0 && ev->on_closed) {
		void (*cb)(struct mqtt_events *) = ev->on_closed;

		ev->on_closed = NULL;
		cb(ev);
	}
}

static void on_timer_closed(uv_handle_t *h)
{
	struct mqtt_events *ev = h->data;

	ev->open_handles--;
	maybe_closed(ev);
}

static void on_conn_closed(struct mqtt_conn *c)
{
	struct mqtt_events *ev = c->data;

	ev->open_handles--;
	maybe_closed(ev);
}

void mqtt_events_close(struct mqtt_events *ev, void (*on_closed)(struct mqtt_events *ev))
{
	ev->on_closed = on_closed;
	ev->stopping = ev->stopped = true;
	ev->open_handles++;	/* the connection */
	mqtt_conn_close(&ev->conn, on_conn_closed);
	uv_close((uv_handle_t *)&ev->lease_timer, on_timer_closed);
	uv_close((uv_handle_t *)&ev->read_timer, on_timer_closed);
}

static const struct metric_family leader = {
	"pregon_mqtt_events_leader", METRIC_GAUGE,
	"1 when this instance holds the lease and publishes the events.",
};
static const struct metric_family published = {
	"pregon_mqtt_published_total", METRIC_COUNTER,
	"Events published by this instance whose PUBACK arrived.",
};
static const struct metric_family skipped = {
	"pregon_mqtt_events_skipped_total", METRIC_COUNTER,
	"Events trimmed from the stream ([events] max_len) before they were published.",
};

int mqtt_events_metrics(struct mqtt_events *ev, struct metrics *m)
{
	if (metrics_gauge(m, &mqtt_conn_up_family, mqtt_conn_read_up, &ev->conn, "role=\"events\"") != 0 ||
	    metrics_gauge(m, &leader, metrics_read_bool, &ev->leader, NULL) != 0 ||
	    metrics_counter(m, &published, &ev->published, NULL) != 0 ||
	    metrics_counter(m, &skipped, &ev->skipped, NULL) != 0)
		return -1;
	return metrics_counter(m, &mqtt_conn_connects_family, &ev->conn.connects, "role=\"events\"");
}
