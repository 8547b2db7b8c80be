/* metrics.h: GET /healthz and GET /metrics.
 *
 * /metrics is Prometheus' text format (version 0.0.4): this instance's
 * counters (jobs, messages by channel and outcome, retries, send latency,
 * Redis reconnects, webhooks) and the shared queue depths, which a timer
 * reads from Redis every few seconds so that a scrape never waits on it.
 * /healthz answers 200 when Redis is reachable and set up, 503 otherwise. */
#ifndef PREGON_METRICS_H
#define PREGON_METRICS_H

#include <stdint.h>

#include <uv.h>

#include "engine.h"
#include "err.h"
#include "expander.h"
#include "http_server.h"
#include "intake.h"
#include "redis_conn.h"
#include "mqtt_events.h"
#include "mqtt_intake.h"
#include "sms_webhooks.h"
#include "store.h"

struct metrics {
	const char *version;
	const char *instance;		/* the consumer name */
	struct engine *engine;
	struct intake *intake;
	struct expander *expander;	/* may be NULL */
	struct store *store;
	struct rconn *conns[4];
	struct http_server *http;
	struct sms_webhooks *sms;	/* may be NULL */
	struct mqtt_events *mqtt_events;	/* NULL without [mqtt] url */
	struct mqtt_intake *mqtt_intake;	/* NULL without [mqtt] intake_topic */
	uv_timer_t depth_timer;
	bool depth_out;
	/* Entries waiting per ready stream ([channel][lane]) and in the jobs
	 * stream, and scheduled messages; -1 until first read. */
	int64_t depth[CHANNEL_COUNT][LANE_COUNT];
	int64_t jobs_depth, scheduled;
	uint64_t started_ms;
};

/* Adds the two routes and starts the depth timer. The fields before
 * depth_timer are filled by the caller first. */
int metrics_init(struct metrics *m, uv_loop_t *loop, struct err *err);

/* Renders /metrics into a malloc'd string (NULL when out of memory). */
char *metrics_render(const struct metrics *m);

void metrics_close(struct metrics *m, uv_close_cb closed);

#endif
