/* metrics.c: GET /healthz and GET /metrics (see metrics.h). */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "log.h"
#include "util.h"

static const char *const lane_label[LANE_COUNT] = { "urgent", "normal" };

/* Every line of /metrics goes through here: a failed append is kept in
 * t->err and the whole answer dropped at the end. */
static void put(struct buf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(t, fmt, ap);
	va_end(ap);
}

static void head(struct buf *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *metrics_render(const struct metrics *m)
{
	struct buf t = { 0 };
	const struct engine *e = m->engine;
	struct http_server_stats hs = { 0 };

	head(&t, "pregon_info", "gauge", "Version and instance of this pregond.");
	put(&t, "pregon_info{version=\"%s\",instance=\"%s\"} 1\n", m->version, m->instance);
	head(&t, "pregon_redis_up", "gauge", "1 when Redis is reachable and set up.");
	put(&t, "pregon_redis_up %d\n", m->store->ready ? 1 : 0);
	head(&t, "pregon_redis_reconnects_total", "counter", "Reconnections to Redis.");
	for (size_t i = 0; i < sizeof(m->conns) / sizeof(m->conns[0]); i++)
		if (m->conns[i])
			put(&t, "pregon_redis_reconnects_total{connection=\"%s\"} %llu\n",
			    m->conns[i]->name, (unsigned long long)m->conns[i]->reconnects);
	head(&t, "pregon_jobs_total", "counter", "Jobs taken from the stream, by outcome.");
	put(&t, "pregon_jobs_total{outcome=\"accepted\"} %llu\n",
	    (unsigned long long)m->intake->accepted);
	put(&t, "pregon_jobs_total{outcome=\"rejected\"} %llu\n",
	    (unsigned long long)m->intake->rejected);
	put(&t, "pregon_jobs_total{outcome=\"duplicate\"} %llu\n",
	    (unsigned long long)m->intake->duplicates);
	put(&t, "pregon_jobs_total{outcome=\"reclaimed\"} %llu\n",
	    (unsigned long long)m->intake->reclaimed);
	head(&t, "pregon_urgent_ahead_total", "counter",
	     "Urgent alerts taken ahead of a job backlog by the urgent scan.");
	put(&t, "pregon_urgent_ahead_total %llu\n", (unsigned long long)m->intake->urgent_early);
	if (m->expander != NULL) {
		const struct expander *x = m->expander;

		head(&t, "pregon_alert_expansions_total", "counter",
		     "Alert audiences this instance finished expanding.");
		put(&t, "pregon_alert_expansions_total %llu\n", (unsigned long long)x->jobs_done);
		head(&t, "pregon_alert_recipients_total", "counter",
		     "Alert recipients expanded here, by outcome (a message, or skipped as the "
		     "same person as another recipient).");
		put(&t, "pregon_alert_recipients_total{outcome=\"message\"} %llu\n",
		    (unsigned long long)x->created);
		put(&t, "pregon_alert_recipients_total{outcome=\"same_person\"} %llu\n",
		    (unsigned long long)x->skipped);
		head(&t, "pregon_alert_expanding", "gauge",
		     "Alert audiences being expanded here now, by lane.");
		put(&t, "pregon_alert_expanding{lane=\"urgent\"} %d\n",
		    x->slot[LANE_URGENT].active ? 1 : 0);
		put(&t, "pregon_alert_expanding{lane=\"normal\"} %d\n",
		    x->slot[LANE_NORMAL].active ? 1 : 0);
	}

	head(&t, "pregon_messages_total", "counter",
	     "Send attempts finished by this instance, by channel and outcome.");
	for (int c = 0; c < CHANNEL_COUNT; c++) {
		const struct engine_channel *ch = &e->ch[c];
		const char *name = channel_name((enum channel)c);

		put(&t, "pregon_messages_total{channel=\"%s\",outcome=\"sent\"} %llu\n", name,
		    (unsigned long long)ch->sent);
		put(&t, "pregon_messages_total{channel=\"%s\",outcome=\"temporary_failure\"} %llu\n",
		    name, (unsigned long long)ch->temp_failed);
		put(&t, "pregon_messages_total{channel=\"%s\",outcome=\"failed\"} %llu\n", name,
		    (unsigned long long)ch->perm_failed);
		put(&t, "pregon_messages_total{channel=\"%s\",outcome=\"deferred\"} %llu\n", name,
		    (unsigned long long)ch->deferred);
	}
	head(&t, "pregon_retries_total", "counter",
	     "Sends that failed for now and were scheduled again.");
	for (int c = 0; c < CHANNEL_COUNT; c++)
		put(&t, "pregon_retries_total{channel=\"%s\"} %llu\n", channel_name((enum channel)c),
		    (unsigned long long)e->ch[c].temp_failed);
	head(&t, "pregon_quiet_hours_held_total", "counter",
	     "Messages read inside their recipient's quiet hours and scheduled for the window's end.");
	put(&t, "pregon_quiet_hours_held_total %llu\n", (unsigned long long)e->quiet_held);
	head(&t, "pregon_messages_in_flight", "gauge", "Messages held by this instance.");
	for (int c = 0; c < CHANNEL_COUNT; c++)
		put(&t, "pregon_messages_in_flight{channel=\"%s\"} %d\n",
		    channel_name((enum channel)c), e->ch[c].held);

	head(&t, "pregon_send_duration_seconds", "histogram",
	     "From handing a message to the provider to its answer.");
	for (int c = 0; c < CHANNEL_COUNT; c++) {
		const struct histogram *h = &e->ch[c].latency;
		const char *name = channel_name((enum channel)c);
		uint64_t cum = 0;

		for (int b = 0; b < HISTOGRAM_BUCKETS - 1; b++) {
			cum += h->counts[b];
			put(&t, "pregon_send_duration_seconds_bucket{channel=\"%s\",le=\"%g\"} %llu\n",
			    name, histogram_bounds[b], (unsigned long long)cum);
		}
		put(&t, "pregon_send_duration_seconds_bucket{channel=\"%s\",le=\"+Inf\"} %llu\n",
		    name, (unsigned long long)h->count);
		put(&t, "pregon_send_duration_seconds_sum{channel=\"%s\"} %.6f\n", name, h->sum);
		put(&t, "pregon_send_duration_seconds_count{channel=\"%s\"} %llu\n", name,
		    (unsigned long long)h->count);
	}

	head(&t, "pregon_queue_depth", "gauge",
	     "Entries waiting or claimed and unfinished, shared by all instances (-1: not read yet).");
	put(&t, "pregon_queue_depth{queue=\"jobs\"} %lld\n", (long long)m->jobs_depth);
	for (int c = 0; c < CHANNEL_COUNT; c++)
		for (int l = 0; l < LANE_COUNT; l++)
			put(&t, "pregon_queue_depth{queue=\"ready\",channel=\"%s\",lane=\"%s\"} %lld\n",
			    channel_name((enum channel)c), lane_label[l], (long long)m->depth[c][l]);
	put(&t, "pregon_queue_depth{queue=\"scheduled\"} %lld\n", (long long)m->scheduled);

	head(&t, "pregon_rate_tokens", "gauge",
	     "Send tokens this instance holds from the shared rate budget (below 0: owed).");
	for (int c = 0; c < CHANNEL_COUNT; c++)
		if (rate_limited(&e->ch[c].rate))
			put(&t, "pregon_rate_tokens{channel=\"%s\"} %d\n",
			    channel_name((enum channel)c), e->ch[c].rate.tokens);

	if (m->sms) {
		const struct sms_webhooks *w = m->sms;

		head(&t, "pregon_sms_webhooks_total", "counter", "SMS webhooks, by kind and outcome.");
		put(&t, "pregon_sms_webhooks_total{kind=\"status\",outcome=\"ok\"} %llu\n",
		    (unsigned long long)w->status_ok);
		put(&t, "pregon_sms_webhooks_total{kind=\"inbound\",outcome=\"ok\"} %llu\n",
		    (unsigned long long)w->inbound_ok);
		put(&t, "pregon_sms_webhooks_total{kind=\"any\",outcome=\"bad_signature\"} %llu\n",
		    (unsigned long long)w->bad_signature);
		put(&t, "pregon_sms_webhooks_total{kind=\"any\",outcome=\"bad_request\"} %llu\n",
		    (unsigned long long)w->bad_request);
		head(&t, "pregon_sms_inbound_total", "counter", "Inbound SMS by what they said.");
		put(&t, "pregon_sms_inbound_total{intent=\"stop\"} %llu\n",
		    (unsigned long long)w->stops);
		put(&t, "pregon_sms_inbound_total{intent=\"start\"} %llu\n",
		    (unsigned long long)w->starts);
		put(&t, "pregon_sms_inbound_total{intent=\"help\"} %llu\n",
		    (unsigned long long)w->helps);
		put(&t, "pregon_sms_inbound_total{intent=\"reply\"} %llu\n",
		    (unsigned long long)w->replies);
	}
	if (m->mqtt_events) {
		const struct mqtt_events *ev = m->mqtt_events;

		head(&t, "pregon_mqtt_connected", "gauge", "1 when the MQTT connection is up, by role.");
		put(&t, "pregon_mqtt_connected{role=\"events\"} %d\n", mqtt_conn_is_up(&ev->conn));
		if (m->mqtt_intake)
			put(&t, "pregon_mqtt_connected{role=\"intake\"} %d\n",
			    mqtt_conn_is_up(&m->mqtt_intake->conn));
		head(&t, "pregon_mqtt_events_leader", "gauge",
		     "1 when this instance holds the lease and publishes the events.");
		put(&t, "pregon_mqtt_events_leader %d\n", ev->leader ? 1 : 0);
		head(&t, "pregon_mqtt_published_total", "counter",
		     "Events published by this instance whose PUBACK arrived.");
		put(&t, "pregon_mqtt_published_total %llu\n", (unsigned long long)ev->published);
		head(&t, "pregon_mqtt_events_skipped_total", "counter",
		     "Events trimmed from the stream ([events] max_len) before they were published.");
		put(&t, "pregon_mqtt_events_skipped_total %llu\n", (unsigned long long)ev->skipped);
		head(&t, "pregon_mqtt_connects_total", "counter",
		     "MQTT connections established (CONNACK accepted), by role.");
		put(&t, "pregon_mqtt_connects_total{role=\"events\"} %llu\n",
		    (unsigned long long)ev->conn.connects);
		if (m->mqtt_intake) {
			const struct mqtt_intake *in = m->mqtt_intake;

			put(&t, "pregon_mqtt_connects_total{role=\"intake\"} %llu\n",
			    (unsigned long long)in->conn.connects);
			head(&t, "pregon_mqtt_intake_total", "counter",
			     "MQTT messages added to the job stream.");
			put(&t, "pregon_mqtt_intake_total %llu\n", (unsigned long long)in->added);
			head(&t, "pregon_mqtt_intake_received_total", "counter",
			     "MQTT messages received on the intake topic.");
			put(&t, "pregon_mqtt_intake_received_total %llu\n",
			    (unsigned long long)in->received);
			head(&t, "pregon_mqtt_intake_oversized_total", "counter",
			     "Intake messages over [jobs] max_bytes (cut, then dead-lettered by the intake).");
			put(&t, "pregon_mqtt_intake_oversized_total %llu\n",
			    (unsigned long long)in->oversized);
			head(&t, "pregon_mqtt_intake_failed_total", "counter",
			     "Intake messages whose XADD failed (the broker delivers them again).");
			put(&t, "pregon_mqtt_intake_failed_total %llu\n", (unsigned long long)in->failed);
		}
	}
	if (m->http) {
		http_server_stats(m->http, &hs);
		head(&t, "pregon_http_requests_total", "counter", "HTTP requests served.");
		put(&t, "pregon_http_requests_total %llu\n", (unsigned long long)hs.requests);
		head(&t, "pregon_http_connections_open", "gauge", "Open HTTP connections.");
		put(&t, "pregon_http_connections_open %llu\n",
		    (unsigned long long)hs.connections_open);
	}
	if (t.err != 0) {
		buf_free(&t);
		return NULL;
	}
	return buf_take(&t);
}

static void on_metrics(struct http_exchange *x, const struct http_req *req, void *data)
{
	char *body = metrics_render(data);

	(void)req;
	if (body == NULL) {
		http_reply_json(x, 503, "{\"error\":\"out of memory\"}");
		return;
	}
	http_reply(x, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, body, strlen(body));
	free(body);
}

static void on_healthz(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct metrics *m = data;
	char body[512];
	bool up = m->store->ready;
	uint64_t now = uv_now(m->engine->loop);

	(void)req;
	snprintf(body, sizeof(body),
		 "{\"status\":\"%s\",\"redis\":\"%s\",\"version\":\"%s\",\"instance\":\"%s\","
		 "\"uptime_s\":%llu,\"in_flight\":%d}",
		 up ? "ok" : "unavailable", up ? "up" : "down", m->version, m->instance,
		 (unsigned long long)((now - m->started_ms) / 1000),
		 m->engine->ch[0].held + m->engine->ch[1].held + m->engine->ch[2].held);
	http_reply_json(x, up ? 200 : 503, body);
}

static void on_depth(struct rconn *c, redisReply *r, void *data)
{
	struct metrics *m = data;
	size_t n = 1 + CHANNEL_COUNT * LANE_COUNT;

	(void)c;
	m->depth_out = false;
	if (r == NULL || store_reply_error(m->store, r, "depth") || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != n + 1)
		return;
	for (size_t i = 0; i <= n; i++)
		if (r->element[i]->type != REDIS_REPLY_INTEGER)
			return;
	m->jobs_depth = r->element[0]->integer;
	for (int ch = 0; ch < CHANNEL_COUNT; ch++)
		for (int l = 0; l < LANE_COUNT; l++)
			m->depth[ch][l] = r->element[1 + ch * LANE_COUNT + l]->integer;
	m->scheduled = r->element[n]->integer;
}

static void on_depth_timer(uv_timer_t *h)
{
	struct metrics *m = h->data;
	const char *args[1 + CHANNEL_COUNT * LANE_COUNT];
	char jobs[128];
	int n = 0;

	if (m->depth_out || !m->store->ready)
		return;
	store_key(m->store, jobs, sizeof(jobs), "jobs");
	args[n++] = jobs;
	for (int c = 0; c < CHANNEL_COUNT; c++)
		for (int l = 0; l < LANE_COUNT; l++)
			args[n++] = m->engine->ch[c].stream[l];
	if (store_call(m->store, LUA_FN_DEPTH, n, args, NULL, on_depth, m) == 0)
		m->depth_out = true;
}

int metrics_init(struct metrics *m, uv_loop_t *loop, struct err *err)
{
	m->jobs_depth = m->scheduled = -1;
	for (int c = 0; c < CHANNEL_COUNT; c++)
		for (int l = 0; l < LANE_COUNT; l++)
			m->depth[c][l] = -1;
	m->started_ms = uv_now(loop);
	if (http_server_route(m->http, "GET", "/healthz", on_healthz, m) != 0 ||
	    http_server_route(m->http, "GET", "/metrics", on_metrics, m) != 0)
		return err_set(err, "metrics: cannot add routes");
	uv_timer_init(loop, &m->depth_timer);
	m->depth_timer.data = m;
	uv_timer_start(&m->depth_timer, on_depth_timer, 200, 5000);
	return 0;
}

void metrics_close(struct metrics *m, uv_close_cb closed)
{
	uv_close((uv_handle_t *)&m->depth_timer, closed);
}
