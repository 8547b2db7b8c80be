/* http_metrics.c: GET /metrics and GET /healthz (see http_metrics.h). */
#include "http_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void on_metrics(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct http_metrics *hm = data;
	char *body = metrics_render(hm->m);

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
	struct http_metrics *hm = data;
	const struct http_metrics_health *h = &hm->health;
	struct buf body = { 0 };
	bool up = h->up(h->data);

	(void)req;
	buf_addf(&body,
		 "{\"status\":\"%s\",\"redis\":\"%s\",\"version\":\"%s\",\"instance\":\"%s\","
		 "\"uptime_s\":%llu,\"in_flight\":%d",
		 up ? "ok" : "unavailable", up ? "up" : "down", h->version, h->instance,
		 (unsigned long long)((uv_now(hm->loop) - hm->started_ms) / 1000),
		 h->in_flight(h->data));
	if (h->more != NULL)
		h->more(h->data, &body);
	buf_adds(&body, "}");
	if (body.err != 0)
		http_reply_json(x, 503, "{\"error\":\"out of memory\"}");
	else
		http_reply_json(x, up ? 200 : 503, body.p);
	buf_free(&body);
}

int http_metrics_mount(struct http_metrics *hm, struct http_server *s, uv_loop_t *loop,
		       const struct metrics *m, const struct http_metrics_health *health,
		       struct err *err)
{
	hm->loop = loop;
	hm->m = m;
	hm->health = *health;
	hm->started_ms = uv_now(loop);
	if (http_server_route(s, "GET", "/healthz", on_healthz, hm) != 0 ||
	    http_server_route(s, "GET", "/metrics", on_metrics, hm) != 0)
		return err_set(err, "metrics: cannot add routes");
	return 0;
}
