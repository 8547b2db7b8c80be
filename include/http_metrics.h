/* http_metrics.h: GET /metrics and GET /healthz on the HTTP listener.
 *
 * /metrics renders the registry (metrics.h) in Prometheus' text format.
 * /healthz answers 200 with {"status":"ok",...} while Redis is reachable
 * and set up, 503 otherwise (CONTRACT.md section 4); the daemon says which
 * through the health callbacks, so this module knows no other. */
#ifndef PREGON_HTTP_METRICS_H
#define PREGON_HTTP_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "err.h"
#include "http_server.h"
#include "metrics.h"

struct buf;

struct http_metrics_health {
	const char *version;
	const char *instance;		/* the consumer name */
	bool (*up)(void *data);		/* Redis reachable and set up */
	int (*in_flight)(void *data);	/* messages held by this instance */
	/* More members for /healthz, each with a leading ',' (the providers':
	 * adapter.h health), or NULL. */
	void (*more)(void *data, struct buf *out);
	void *data;
};

struct http_metrics {
	uv_loop_t *loop;
	const struct metrics *m;
	struct http_metrics_health health;
	uint64_t started_ms;	/* for uptime_s */
};

/* Adds the two routes, which use hm until the server is closed; health is
 * copied, its strings must live as long. */
int http_metrics_mount(struct http_metrics *hm, struct http_server *s, uv_loop_t *loop,
		       const struct metrics *m, const struct http_metrics_health *health,
		       struct err *err);

#endif
