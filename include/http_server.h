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
 * (431 when over), the number of headers (431), the body (413, by the
 * route's limit, before a byte of it is held), and time: a request whose
 * headers and body have not all arrived within request_timeout of its
 * start is answered 408 and closed, however steadily its bytes trickle in
 * (slowloris); an idle keep-alive connection is closed after idle_timeout.
 * Connections are capped per peer address (max_per_peer) and in all
 * (max_connections): when either is full, the connection that has gone
 * longest without starting or finishing a request (idle, or slow) is
 * closed to make room (the same peer's, for max_per_peer), and a new one
 * is refused only when every candidate is busy in a handler or an answer. Malformed requests get 400 (501 for a
 * transfer coding other than chunked) and the connection is closed; the
 * framing is held to RFC 9112 (http_strict.h).
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
	size_t max_body_bytes;		/* a route's default and ceiling, 1 MiB */
	size_t max_connections;		/* default 1024 */
	size_t max_per_peer;		/* per address (IPv6: per /64), default 256 */
	int64_t request_timeout_ms;	/* headers and body, default 10000 */
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
 * HTTP_MAX_PARAMS "{...}" segments). Routes are tried in the order added.
 * Its body limit is the server's max_body_bytes, or 0 (a body is 413) for
 * GET and HEAD. */
int http_server_route(struct http_server *s, const char *method, const char *pattern,
		      http_handler_fn fn, void *data);

/* The same with the route's own body limit (at most max_body_bytes; 0: no
 * body): a webhook takes a few KiB, the job API [jobs] max_bytes. A
 * request to a path no route serves may carry HTTP_UNROUTED_MAX_BODY. */
int http_server_route_max_body(struct http_server *s, const char *method,
			       const char *pattern, size_t max_body, http_handler_fn fn,
			       void *data);
#define HTTP_UNROUTED_MAX_BODY 1024

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
/* (On -1, on_gone is never called: the caller ends the exchange with
 * http_stream_end.) */
int http_stream_write(struct http_exchange *x, const char *buf, size_t len);
/* Bytes written to a stream that the peer has not taken yet (its socket
 * send buffer is kept small: 64 KiB), so a writer can pace itself. */
size_t http_stream_queued(const struct http_exchange *x);
void http_stream_end(struct http_exchange *x);

struct http_server_stats {
	uint64_t connections_accepted, connections_refused, connections_open;
	uint64_t requests, responses_4xx, responses_5xx, timeouts;
	/* connections_refused and timeouts, by cause */
	uint64_t refused_peer;		/* at max_per_peer, all of its busy */
	uint64_t refused_full;		/* full, and nobody to make room */
	uint64_t evicted;		/* closed to make room when full */
	uint64_t evicted_peer;		/* closed for the same peer's newcomer */
	uint64_t timeouts_request;	/* 408: request_timeout */
	uint64_t timeouts_write;	/* a reader that does not read */
};
void http_server_stats(const struct http_server *s, struct http_server_stats *out);

struct metrics;
/* Registers pregon_http_requests_total, pregon_http_connections_open,
 * pregon_http_connections_refused_total{reason}, pregon_http_connections_
 * evicted_total{reason} and pregon_http_timeouts_total{phase} (metrics.h). */
int http_server_metrics(struct http_server *s, struct metrics *m);

/* Stops listening, closes idle connections, lets exchanges in progress
 * answer (bounded by write_timeout), then calls closed(data) and frees s. */
void http_server_close(struct http_server *s, void (*closed)(void *data), void *data);

/* The request parsing underneath, without sockets (for the fuzzer and the
 * unit tests): feeds bytes, calls on_request for each complete request.
 * Returns the HTTP status to answer an error with (400, 413, 431, 501), or 0. */
struct http_parse;
struct http_parse *http_parse_new(const struct http_server_limits *lim);

/* Asked once a request's method and path are known, before its body:
 * the most bytes of body it may carry (capped by max_body_bytes). */
typedef size_t (*http_body_limit_fn)(void *data, const char *method, const char *path);
void http_parse_set_body_limit(struct http_parse *p, http_body_limit_fn fn, void *data);
int http_parse_feed(struct http_parse *p, const char *buf, size_t len,
		    void (*on_request)(void *data, const struct http_req *req), void *data);
void http_parse_free(struct http_parse *p);

#endif
