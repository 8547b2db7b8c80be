/* events.c: GET /v1/events, the event stream as server-sent events
 * (api.h, CONTRACT.md section 4).
 *
 * Each client has its own cursor in <p>events, the stream's entry id of
 * the last event it was sent: every API_EVENTS_POLL_MS while any client is
 * connected, one XRANGE (cursor + COUNT API_EVENTS_PAGE per client, on
 * the command connection (non-blocking: no connection of its own, no
 * BLOCK), and the events that pass its filters (?job=, ?kind=) are written
 * with `id:` set to the entry id. So a client that reconnects with
 * Last-Event-ID gets exactly what came after it, none missed, none twice;
 * a client without one starts at the end of the stream (Last-Event-ID: 0
 * replays what the stream still holds). Comments every
 * API_EVENTS_HEARTBEAT_MS keep proxies from closing an idle stream. A
 * reader that falls a MiB behind is dropped by the listener
 * (http_stream_write), not buffered without bound; at most
 * API_EVENTS_CLIENTS streams at once (503 beyond). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "form.h"
#include "job.h"
#include "log.h"

struct sse_client {
	struct api *api;
	struct http_exchange *x;
	char job[JOB_ID_MAX + 1];	/* filter, or "" */
	char kind[32];			/* filter, or "" */
	char last[48];			/* cursor: entry id, or "" until the tail is known */
	bool busy;			/* an XRANGE is out */
	int64_t stalled_ms;		/* since when its writes have not drained, or 0 */
	bool gone;			/* the client left; freed when not busy */
	struct sse_client *next;
};

static void events_stop_timer_if_idle(struct api *api)
{
	if (api->sse == NULL && api->sse_timer_on) {
		uv_timer_stop(&api->sse_timer);
		api->sse_timer_on = false;
	}
}

static void client_unlink(struct sse_client *cl)
{
	struct api *api = cl->api;

	for (struct sse_client **p = (struct sse_client **)&api->sse; *p; p = &(*p)->next)
		if (*p == cl) {
			*p = cl->next;
			break;
		}
	api->sse_count--;
	events_stop_timer_if_idle(api);
}

static void client_free(struct sse_client *cl)
{
	client_unlink(cl);
	if (cl->x != NULL)
		http_stream_end(cl->x);
	free(cl);
}

static void on_client_gone(void *data)
{
	struct sse_client *cl = data;

	cl->gone = true;
	if (!cl->busy)
		client_free(cl);
}

/* Writes what passes the client's filters; false when the client went. */
static bool deliver(struct sse_client *cl, const char *id, const char *event)
{
	json_t *e = json_loads(event, 0, NULL);
	const char *job = json_string_value(json_object_get(e, "job"));
	const char *kind = json_string_value(json_object_get(e, "kind"));
	bool pass = e != NULL && (cl->job[0] == '\0' || (job && strcmp(job, cl->job) == 0)) &&
		    (cl->kind[0] == '\0' || (kind && strcmp(kind, cl->kind) == 0));
	char *frame;
	int n;

	json_decref(e);
	if (!pass)
		return true;
	n = asprintf(&frame, "id: %s\ndata: %s\n\n", id, event);
	if (n < 0)
		return true;
	n = http_stream_write(cl->x, frame, (size_t)n);
	free(frame);
	return n == 0;
}

static void on_range(struct rconn *c, redisReply *r, void *data)
{
	struct sse_client *cl = data;

	(void)c;
	cl->busy = false;
	if (cl->gone) {
		client_free(cl);
		return;
	}
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return;	/* tried again on the next tick */
	if (cl->last[0] == '\0') {
		/* XREVRANGE + - COUNT 1: the tail, where a new client starts. */
		const redisReply *e = r->elements ? r->element[0] : NULL;

		snprintf(cl->last, sizeof(cl->last), "%s",
			 e && e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
			 e->element[0]->type == REDIS_REPLY_STRING ? e->element[0]->str : "0-0");
		return;
	}
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i], *f;
		const char *event = NULL;

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		f = e->element[1];
		for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
			if (f->element[k]->type == REDIS_REPLY_STRING &&
			    strcmp(f->element[k]->str, "event") == 0 &&
			    f->element[k + 1]->type == REDIS_REPLY_STRING)
				event = f->element[k + 1]->str;
		snprintf(cl->last, sizeof(cl->last), "%s", e->element[0]->str);
		if (event != NULL && !deliver(cl, cl->last, event))
			return;	/* dropped: on_client_gone follows */
	}
}

/* Fetches the client's next page, once what was written to it has
 * drained: each stream holds at most about a page in pregond, however
 * slow its reader. One that takes nothing for API_EVENTS_STALL_MS is
 * dropped (its stream ended: the listener's write timeout closes it if
 * even that is not taken). */
static void poll_client(struct sse_client *cl)
{
	char key[256], from[64], count[16];
	const char *rev[] = { "XREVRANGE", key, "+", "-", "COUNT", "1" };
	const char *fwd[] = { "XRANGE", key, from, "+", "COUNT", count };
	int64_t now = (int64_t)uv_now(cl->api->loop);
	int rc;

	if (cl->busy || cl->gone)
		return;
	if (http_stream_queued(cl->x) >= API_EVENTS_PACE_BYTES) {
		if (cl->stalled_ms == 0)
			cl->stalled_ms = now;
		else if (now - cl->stalled_ms >= API_EVENTS_STALL_MS) {
			log_info("api: an event stream reader took nothing for %d s: dropped",
				 API_EVENTS_STALL_MS / 1000);
			cl->api->sse_dropped++;
			on_client_gone(cl);
		}
		return;
	}
	cl->stalled_ms = 0;
	store_key(cl->api->store, key, sizeof(key), "events");
	if (cl->last[0] == '\0') {
		rc = rconn_command(cl->api->store->writer, on_range, cl, 0, 6, rev, NULL);
	} else {
		snprintf(from, sizeof(from), "(%s", cl->last);
		snprintf(count, sizeof(count), "%d", API_EVENTS_PAGE);
		rc = rconn_command(cl->api->store->writer, on_range, cl, 0, 6, fwd, NULL);
	}
	if (rc == 0)
		cl->busy = true;
}

static void on_tick(uv_timer_t *t)
{
	struct api *api = t->data;
	int64_t now = (int64_t)uv_now(api->loop);
	bool beat = now - api->sse_beat_ms >= API_EVENTS_HEARTBEAT_MS;
	struct sse_client *next;

	if (beat)
		api->sse_beat_ms = now;
	for (struct sse_client *cl = api->sse; cl != NULL; cl = next) {
		next = cl->next;
		if (beat && !cl->gone && http_stream_write(cl->x, ": heartbeat\n\n", 13) != 0)
			continue;	/* gone: on_client_gone frees it */
		poll_client(cl);
	}
}

void api_events_get(struct http_exchange *x, const struct http_req *req, struct api *api)
{
	struct form q = { 0 };
	struct form_limits lim;
	struct err err = { "" };
	struct sse_client *cl;
	const char *job, *kind, *last = http_req_header(req, "Last-Event-ID");

	form_limits_default(&lim);
	lim.max_input = 1024;
	lim.max_pairs = 8;
	lim.max_value = 256;
	if (form_parse(&q, req->query, strlen(req->query), &lim, &err) != 0) {
		http_reply_json(x, 400, "{\"error\":\"query: not a valid query string\"}");
		return;
	}
	job = form_get(&q, "job");
	kind = form_get(&q, "kind");
	if ((job && strlen(job) > JOB_ID_MAX) || (kind && strlen(kind) >= 32)) {
		form_free(&q);
		http_reply_json(x, 400, "{\"error\":\"job, kind: too long\"}");
		return;
	}
	/* An entry id is <ms>-<seq>; "0" replays what the stream holds. */
	if (last != NULL && (strlen(last) > 40 || strspn(last, "0123456789-") != strlen(last) ||
			     last[0] == '\0')) {
		form_free(&q);
		http_reply_json(x, 400, "{\"error\":\"Last-Event-ID: not an event id of this stream\"}");
		return;
	}
	if (api->sse_count >= API_EVENTS_CLIENTS) {
		form_free(&q);
		http_reply_json(x, 503, "{\"error\":\"too many event streams open; try again later\"}");
		return;
	}
	cl = calloc(1, sizeof(*cl));
	if (cl == NULL) {
		form_free(&q);
		http_reply_json(x, 503, "{\"error\":\"out of memory\"}");
		return;
	}
	cl->api = api;
	cl->x = x;
	snprintf(cl->job, sizeof(cl->job), "%s", job ? job : "");
	snprintf(cl->kind, sizeof(cl->kind), "%s", kind ? kind : "");
	snprintf(cl->last, sizeof(cl->last), "%s", last ? (strcmp(last, "0") == 0 ? "0-0" : last) : "");
	form_free(&q);
	if (http_stream_start(x, 200, "text/event-stream", on_client_gone, cl) != 0) {
		http_stream_end(x);
		free(cl);
		return;
	}
	cl->next = api->sse;
	api->sse = cl;
	api->sse_count++;
	/* The browser's EventSource waits this long before reconnecting. */
	if (http_stream_write(x, "retry: 2000\n\n", 13) != 0)
		return;
	if (!api->sse_timer_on) {
		api->sse_timer_on = true;
		uv_timer_start(&api->sse_timer, on_tick, 0, API_EVENTS_POLL_MS);
	}
	poll_client(cl);
}

void api_events_init(struct api *api)
{
	uv_timer_init(api->loop, &api->sse_timer);
	api->sse_timer.data = api;
	api->sse_timer_ready = true;
}

void api_events_close(struct api *api)
{
	if (api->sse_timer_ready) {
		uv_timer_stop(&api->sse_timer);
		uv_close((uv_handle_t *)&api->sse_timer, NULL);
		api->sse_timer_ready = false;
	}
}
