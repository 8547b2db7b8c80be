/* http_server.h: pregond's HTTP listener, on libuv with http-parser.
 *
 * Serves provider webhooks, the JSON API, /healthz, /metrics and the
 * dashboard from one listener. Handlers are found in a route table
 * (method + path pattern, "{name}" matching one path segment); a path that
 * matches no pattern gets 404, one that matches with another method 405
 * with an Allow header. Each connection is keep-alive and handles one
 * request at a time (pipelined requests wait their turn).
 *
 * Every input is bounded: the request line and headers together
 * (431 when over), the number of headers (431), the body (413), and time: a
 * client that takes longer than header_timeout to send its headers, or
 * body_timeout between body bytes, is answered 408 and closed (slowloris);
 * an idle keep-alive connection is closed after idle_timeout. Beyond
 * max_connections, new connections are closed at once. Malformed requests
 * get 400 and the connection is closed.
 *
 * A handler may answer at once or later (after a Redis call): the exchange
 * stays valid until http_reply() (or http_stream_end()) is called, even if
 * the client has gone away meanwhile (the answer is then dropped), and even
 * after http_server_close() has called closed (answering then only frees
 * it). Every handler must eventually answer exactly once. */
#ifndef PREGON_HTTP_SERVER_H
#define PREGON_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "err.h"

struct http_server;
struct http_exchange;

/* A field left 0 takes its default. */
struct http_server_limits {
	size_t max_header_bytes;	/* request line + headers, default 8 KiB */
	size_t max_headers;		/* default 64 */
	size_t max_body_bytes;		/* default 1 MiB */
	size_t max_connections;		/* default 1024 */
	int64_t header_timeout_ms;	/* default 10000 */
	int64_t body_timeout_ms;	/* between body reads, default 10000 */
	int64_t idle_timeout_ms;	/* keep-alive, default 60000 */
	int64_t write_timeout_ms;	/* a reader that does not read, default 30000 */
};

#define HTTP_MAX_PARAMS 4

struct http_header_field {
	const char *name;		/* as sent; compare case-insensitively */
	const char *value;		/* surrounding whitespace trimmed */
};

struct http_req {
	const char *method;		/* "GET", "POST", ... */
	const char *target;		/* request target as sent: path and query */
	const char *path;		/* percent-decoded path, no query */
	const char *query;		/* raw query string without '?', or "" */
	const struct http_header_field *headers;
	size_t n_headers;
	const char *body;		/* NUL-terminated (the NUL is not counted) */
	size_t body_len;
	const char *params[HTTP_MAX_PARAMS];	/* "{name}" segments, in order */
	size_t n_params;
	char peer[64];			/* "127.0.0.1:53422" */
};

/* The value of the first header called name (case-insensitive), or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);

typedef void (*http_handler_fn)(struct http_exchange *x, const struct http_req *req,
				void *data);

struct http_server *http_server_new(uv_loop_t *loop, const struct http_server_limits *lim);
void http_server_limits_default(struct http_server_limits *lim);

/* Adds a route. pattern: "/healthz", "/v1/jobs/{id}/messages" (at most
 * HTTP_MAX_PARAMS "{...}" segments). Routes are tried in the order added. */
int http_server_route(struct http_server *s, const char *method, const char *pattern,
		      http_handler_fn fn, void *data);

/* Listens on "host:port" ("127.0.0.1:8080", "[::1]:8080", port 0 picks
 * one). Returns 0 or -1 with err. */
int http_server_listen(struct http_server *s, const char *listen, struct err *err);

/* The port listened on (useful with port 0), or -1. */
int http_server_port(const struct http_server *s);

/* The request of an exchange, valid until the answer. */
const struct http_req *http_exchange_req(const struct http_exchange *x);

/* Answers with status and body (copied). content_type NULL means
 * "text/plain; charset=utf-8". extra_headers: "Name: value" strings,
 * NULL-terminated, or NULL. Frees the exchange. */
void http_reply(struct http_exchange *x, int status, const char *content_type,
		const char *const *extra_headers, const char *body, size_t len);

/* Shorthand: a JSON body. */
void http_reply_json(struct http_exchange *x, int status, const char *json);

/* Streaming answers (Server-Sent Events for the dashboard): starts a
 * chunked answer, writes pieces, ends it. on_gone(data) runs once if the
 * client goes away first; the exchange then stays valid until
 * http_stream_end(). http_stream_write returns -1 once the client is gone. */
int http_stream_start(struct http_exchange *x, int status, const char *content_type,
		      void (*on_gone)(void *data), void *data);
int http_stream_write(struct http_exchange *x, const char *buf, size_t len);
void http_stream_end(struct http_exchange *x);

struct http_server_stats {
	uint64_t connections_accepted, connections_refused, connections_open;
	uint64_t requests, responses_4xx, responses_5xx, timeouts;
};
void http_server_stats(const struct http_server *s, struct http_server_stats *out);

struct metrics;
/* Registers pregon_http_requests_total and pregon_http_connections_open
 * (metrics.h). */
int http_server_metrics(struct http_server *s, struct metrics *m);

/* Stops listening, closes idle connections, lets exchanges in progress
 * answer (bounded by write_timeout), then calls closed(data) and frees s. */
void http_server_close(struct http_server *s, void (*closed)(void *data), void *data);

/* The request parsing underneath, without sockets (for the fuzzer and the
 * unit tests): feeds bytes, calls on_request for each complete request.
 * Returns the HTTP status to answer an error with (400, 413, 431), or 0. */
struct http_parse;
struct http_parse *http_parse_new(const struct http_server_limits *lim);
int http_parse_feed(struct http_parse *p, const char *buf, size_t len,
		    void (*on_request)(void *data, const struct http_req *req), void *data);
void http_parse_free(struct http_parse *p);

#endif
