/* http_server.c: pregond's HTTP listener on libuv (see http_server.h).
 *
 * One struct conn per TCP connection, owning its read buffer, its parser
 * (http_parse.c) and one timer whose meaning follows the connection's
 * state (request, idle, write or linger timeout). A connection is
 * in one of these states:
 *
 *   READING   parsing a request; request/idle timer
 *   HANDLING  a handler holds the exchange; bytes that arrive are kept,
 *             not parsed (pipelining), up to the read buffer, and EOF
 *             means the client is gone
 *   FLUSHING  the answer is queued; once written, the next request is
 *             parsed from the kept bytes, or the connection closes
 *   LINGER    after a closing answer: write side shut down, reads thrown
 *             away until EOF or a short timer, so that a client still
 *             sending gets the answer rather than a reset (RFC 9112 9.6)
 *   CLOSING   uv_close called; freed in the close callback
 *
 * An exchange is a copy of the request (one allocation) plus the
 * answering state; it points at its connection until the connection closes,
 * and is then "orphaned": answering it only frees it. Exchanges are never
 * freed by the server, only by http_reply()/http_stream_end().
 *
 * Hostile clients (issue 12: no stranger may starve the webhooks, which
 * Twilio never retries). A request has one deadline for its headers and
 * body together, set when it begins and never moved by the bytes that
 * trickle in. The read buffer is allocated only while it holds bytes, and
 * the body grows with what arrives (http_parse.c), so an idle or slow
 * connection costs a struct and a small parser. Connections are counted
 * per peer (http_peers.c) and capped; when the server is full, a new
 * connection takes the place of the one that has gone longest without
 * starting or finishing a request (the conns list is kept in that order),
 * among those not in a handler or an answer: an attacker's idle and
 * trickling sockets age, Twilio's requests finish in milliseconds, so a
 * flood of sockets costs the attacker its oldest ones rather than costing
 * Twilio its next connection; and when a flood leaves only connections
 * accepted in this very turn, a heavier peer's make room for a lighter
 * peer's newcomer (evict_heavier).
 *
 * Expect: 100-continue is answered with "100 Continue" when the headers
 * pass the limits (a 413 is sent instead otherwise), so curl and other
 * clients do not wait a second before sending a body. HEAD is served only
 * when a route names it (the answer then has no body); otherwise it gets
 * 405 like any other unrouted method. */
#include "http_server.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_parse.h"
#include "http_peers.h"
#include "log.h"
#include "metrics.h"
#include "util.h"


/* Twice the default header allowance: a webhook's head and body in one
 * read, without 64 KiB per idle stranger. */
#define READ_BUF_SIZE (16 * 1024)
/* A stream whose reader falls this far behind is dropped (dashboard SSE). */
#define STREAM_MAX_QUEUED (1024 * 1024)
#define STREAM_SNDBUF (64 * 1024)	/* a stream's socket send buffer */
#define LINGER_MS 1000
/* No connection is closed to make room before it has had one turn of the
 * loop to be read (uv_now is the loop's time, in ms): libuv accepts a
 * backlog in one go, and a provider's request, sent with its connection,
 * is read on the next turn. Longer spares more, and under a flood of new
 * sockets leaves nothing to close (100 ms refused 17,355 in the soak, one
 * of them the Twilio fake's). */
#define EVICT_MIN_AGE_MS 1
#define ALLOW_MAX 256

enum conn_state { C_READING, C_HANDLING, C_FLUSHING, C_LINGER, C_CLOSING };
enum timer_kind { T_NONE, T_REQUEST, T_IDLE, T_WRITE, T_LINGER };

struct route {
	char *method;
	char *pattern;		/* copy, segments split in place */
	char **segs;		/* literal segment, or NULL for "{name}" */
	size_t n_segs;
	size_t max_body;	/* the route's body limit */
	http_handler_fn fn;
	void *data;
};

struct conn {
	uv_tcp_t tcp;			/* first: handle->data is not needed */
	uv_timer_t timer;
	uv_shutdown_t shutdown;
	struct http_server *s;
	struct conn *prev, *next;	/* s->conns */
	enum conn_state state;
	enum timer_kind tkind;
	struct http_parse *parse;
	char *rbuf;			/* bytes read, not parsed yet; NULL when none */
	size_t rlen;
	uint64_t mark;			/* opened, or began or finished a request */
	uint64_t deadline;		/* of the request under way (loop time) */
	struct http_peer_key peer_key;
	bool peer_counted;		/* counted in s->peers */
	bool reading;			/* uv_read_start active */
	bool eof;			/* the client's side is closed */
	bool close_after;		/* close once the answer is written */
	bool fresh;			/* nothing received since the last answer */
	unsigned long served;		/* answers sent */
	unsigned writes_pending;
	unsigned handles_open;		/* tcp, timer */
	struct http_exchange *x;	/* while HANDLING (or streaming) */
	char peer[64];
};

struct http_exchange {
	struct conn *c;			/* NULL once orphaned (the server may be gone) */
	struct http_req req;
	bool head, keep_alive, streaming, chunked;
	int minor;
	char *body;			/* owned; NULL when the request had none */
	void (*on_gone)(void *data);
	void *gone_data;
	/* the request's strings follow */
};

struct http_server {
	uv_loop_t *loop;
	struct http_server_limits lim;
	uv_tcp_t listener;
	uv_timer_t close_timer;		/* bounds http_server_close */
	bool listening, closing, finishing;
	unsigned handles_open;
	struct conn *conns, *conns_tail;	/* by mark, oldest first */
	size_t n_conns;			/* every conn not freed yet */
	size_t n_live;			/* of them, not CLOSING: what the caps count */
	struct http_peers *peers;
	struct route *routes;
	size_t n_routes;
	struct http_server_stats stats;
	void (*closed)(void *data);
	void *closed_data;
};

struct wbuf {
	uv_write_t req;
	struct conn *c;
	size_t len;
	char data[];
};

static void conn_process(struct conn *c);
static void conn_abort(struct conn *c);
static void conn_arm(struct conn *c, bool restart);
static void conn_update_reading(struct conn *c);
static void conn_trim(struct conn *c);
static bool evict_heavier(struct http_server *s, const struct conn *newcomer);
static void server_maybe_finish(struct http_server *s);

/* ---- responses ---- */

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)req;	/* the linger timer or EOF ends the connection */
	(void)status;
}

/* ---- the conns list, oldest mark first ---- */

static void conns_unlink(struct http_server *s, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		s->conns_tail = c->prev;
	c->prev = c->next = NULL;
}

static void conns_append(struct http_server *s, struct conn *c)
{
	c->prev = s->conns_tail;
	c->next = NULL;
	if (s->conns_tail != NULL)
		s->conns_tail->next = c;
	else
		s->conns = c;
	s->conns_tail = c;
}

/* c opened, began a request or finished one: it goes to the young end. */
static void conn_mark(struct conn *c)
{
	c->mark = uv_now(c->s->loop);
	conns_unlink(c->s, c);
	conns_append(c->s, c);
}

/* A request begins: its one deadline for headers and body is set here. */
static void conn_request_begins(struct conn *c)
{
	conn_mark(c);
	c->deadline = c->mark + (uint64_t)c->s->lim.request_timeout_ms;
}

/* The answer is written: next request, or a graceful close. */
static void conn_flushed(struct conn *c)
{
	if (c->close_after || c->eof || c->s->closing) {
		c->state = C_LINGER;
		if (c->eof || uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
			conn_abort(c);
			return;
		}
		c->rlen = 0;
		conn_trim(c);
		conn_update_reading(c);
		conn_arm(c, false);
		return;
	}
	c->state = C_READING;
	c->fresh = c->rlen == 0;
	if (c->fresh)
		conn_mark(c);	/* idle from now */
	else
		conn_request_begins(c);	/* pipelined: kept by us, not slow */
	conn_process(c);
}

static void on_write(uv_write_t *req, int status)
{
	struct wbuf *w = container_of(req, struct wbuf, req);
	struct conn *c = w->c;

	free(w);
	c->writes_pending--;
	if (c->state == C_CLOSING)
		return;
	if (status < 0) {
		log_debug("http: peer=%s write failed: %s", c->peer, uv_strerror(status));
		conn_abort(c);
		return;
	}
	if (c->writes_pending > 0) {
		conn_arm(c, true);	/* progress: the write timeout starts again */
		return;
	}
	if (c->state == C_FLUSHING) {
		conn_flushed(c);
		return;
	}
	conn_arm(c, false);
}

/* Queues the n pieces (copied into one buffer, one uv_write) on c.
 * Returns 0 or -1 (c then aborted). */
static int conn_writev(struct conn *c, const uv_buf_t *parts, size_t n)
{
	struct wbuf *w;
	uv_buf_t b;
	size_t len = 0, i;

	if (c->state == C_CLOSING)
		return -1;
	for (i = 0; i < n; i++)
		len += parts[i].len;
	w = malloc(sizeof(*w) + len);
	if (w == NULL) {
		conn_abort(c);
		return -1;
	}
	w->c = c;
	w->len = 0;
	for (i = 0; i < n; i++) {
		if (parts[i].len > 0)
			memcpy(w->data + w->len, parts[i].base, parts[i].len);
		w->len += parts[i].len;
	}
	b = uv_buf_init(w->data, (unsigned)w->len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
		free(w);
		conn_abort(c);
		return -1;
	}
	c->writes_pending++;
	conn_arm(c, false);
	return 0;
}

/* Queues head + body (copied) on c. */
static int conn_write(struct conn *c, const char *head, size_t hlen, const char *body,
		      size_t blen)
{
	uv_buf_t parts[2] = { uv_buf_init((char *)head, (unsigned)hlen),
			      uv_buf_init((char *)body, (unsigned)blen) };

	return conn_writev(c, parts, 2);
}

static bool header_ok(const char *h)
{
	return strchr(h, ':') != NULL && strpbrk(h, "\r\n") == NULL && h[0] != ':';
}

/* Writes a complete answer and moves c to FLUSHING. minor and head are the
 * request's (HTTP/1.0 keep-alive needs saying so; HEAD has no body). */
static void conn_respond(struct conn *c, int status, const char *ctype,
			 const char *const *extra, const char *body, size_t len,
			 bool keep_alive, int minor, bool head)
{
	struct http_server *s = c->s;
	struct buf b = { 0 };	/* the answer's head; a failure is kept in b.err */
	bool no_body = status < 200 || status == 204 || status == 304;
	size_t i;

	if (!keep_alive || s->closing)
		c->close_after = true;
	if (status >= 500)
		s->stats.responses_5xx++;
	else if (status >= 400)
		s->stats.responses_4xx++;
	buf_addf(&b, "HTTP/1.1 %d %s\r\n", status, reason(status));
	if (!no_body) {
		buf_addf(&b, "Content-Type: %s\r\n",
			ctype != NULL ? ctype : "text/plain; charset=utf-8");
		buf_addf(&b, "Content-Length: %zu\r\n", len);
	}
	for (i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (!header_ok(extra[i])) {
			log_warn("http: status=%d dropped an extra header that is not "
				 "\"Name: value\" on one line", status);
			continue;
		}
		buf_addf(&b, "%s\r\n", extra[i]);
	}
	if (c->close_after)
		buf_addf(&b, "Connection: close\r\n");
	else if (minor == 0)
		buf_addf(&b, "Connection: keep-alive\r\n");
	buf_addf(&b, "\r\n");
	c->state = C_FLUSHING;
	c->served++;
	if (b.err != 0) {
		buf_free(&b);
		conn_abort(c);
		return;
	}
	conn_write(c, b.p, b.len, body, (no_body || head) ? 0 : len);
	buf_free(&b);
}

static void conn_error(struct conn *c, int status, const char *error, const char *const *extra,
		       bool keep_alive)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", error);

	conn_respond(c, status, "application/json", extra, body, (size_t)n, keep_alive, 1, false);
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct http_server *s = c->s;
	struct http_exchange *x = c->x;

	if (--c->handles_open > 0)
		return;
	conns_unlink(s, c);
	s->n_conns--;
	s->stats.connections_open--;
	http_parse_free(c->parse);
	free(c->rbuf);
	free(c);
	if (x != NULL) {
		/* The client went away before the answer: the handler still
		 * holds x and answers it later, which then only frees it. */
		x->c = NULL;
		if (x->streaming && x->on_gone != NULL)
			x->on_gone(x->gone_data);	/* may free x */
	}
	server_maybe_finish(s);
}

/* Closes at once: no more answers on c. */
static void conn_abort(struct conn *c)
{
	if (c->state == C_CLOSING)
		return;
	c->state = C_CLOSING;
	/* The descriptor closes now (uv_close), so the caps count c no more. */
	c->s->n_live--;
	if (c->peer_counted)
		http_peers_give(c->s->peers, &c->peer_key);
	c->peer_counted = false;
	free(c->rbuf);
	c->rbuf = NULL;
	c->rlen = 0;
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
	uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static int64_t timeout_of(const struct conn *c, enum timer_kind k)
{
	const struct http_server_limits *l = &c->s->lim;

	switch (k) {
	case T_REQUEST: {
		/* What is left of the request's one deadline. */
		uint64_t now = uv_now(c->s->loop);

		return c->deadline > now ? (int64_t)(c->deadline - now) : 0;
	}
	case T_IDLE: return l->idle_timeout_ms;
	case T_WRITE: return l->write_timeout_ms;
	case T_LINGER: return l->request_timeout_ms < LINGER_MS ? l->request_timeout_ms : LINGER_MS;
	default: return 0;
	}
}

static void on_conn_timer(uv_timer_t *t)
{
	struct conn *c = container_of(t, struct conn, timer);
	enum timer_kind k = c->tkind;

	c->tkind = T_NONE;
	switch (k) {
	case T_REQUEST:
		/* Slowloris: answered, then closed (RFC 9110 15.5.9). */
		c->s->stats.timeouts++;
		c->s->stats.timeouts_request++;
		log_debug("http: peer=%s request timeout (%s)", c->peer,
			  http_parse__phase(c->parse) == HTTP_PARSE_BODY ? "body" : "headers");
		c->rlen = 0;
		conn_error(c, 408, "request timeout", NULL, false);
		break;
	case T_WRITE:
		c->s->stats.timeouts++;
		c->s->stats.timeouts_write++;
		log_debug("http: peer=%s write timeout", c->peer);
		conn_abort(c);
		break;
	case T_IDLE:
	case T_LINGER:
		conn_abort(c);
		break;
	default:
		break;
	}
}

/* Starts, restarts or stops c's one timer for its current state. */
static void conn_arm(struct conn *c, bool restart)
{
	enum timer_kind k = T_NONE;

	if (c->state == C_CLOSING)
		return;
	if (c->writes_pending > 0)
		k = T_WRITE;
	else if (c->state == C_LINGER)
		k = T_LINGER;
	else if (c->state == C_READING)
		k = c->fresh && c->served > 0 ? T_IDLE : T_REQUEST;
	if (k == T_NONE) {
		uv_timer_stop(&c->timer);
	} else if (k != c->tkind || restart || k == T_REQUEST) {
		/* T_REQUEST counts down to a fixed deadline: starting it
		 * again only recomputes what is left. */
		uv_timer_start(&c->timer, on_conn_timer, (uint64_t)timeout_of(c, k), 0);
	}
	c->tkind = k;
}

/* What a lingering connection sends is thrown away: one buffer serves
 * them all (reads are synchronous, on the loop thread). */
static char drain_buf[READ_BUF_SIZE];

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)suggested;
	if (c->state == C_LINGER) {
		*buf = uv_buf_init(drain_buf, sizeof(drain_buf));
		return;
	}
	if (c->rbuf == NULL)
		c->rbuf = malloc(READ_BUF_SIZE);	/* freed once it is empty */
	if (c->rbuf == NULL) {
		*buf = uv_buf_init(NULL, 0);	/* on_read gets UV_ENOBUFS */
		return;
	}
	*buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(READ_BUF_SIZE - c->rlen));
}

/* An empty read buffer is given back: idle connections hold none. */
static void conn_trim(struct conn *c)
{
	if (c->rlen == 0 && c->rbuf != NULL) {
		free(c->rbuf);
		c->rbuf = NULL;
	}
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = st->data;

	(void)buf;
	if (c->state == C_CLOSING)
		return;
	if (nread == UV_ENOBUFS) {
		if (c->rbuf == NULL) {
			conn_abort(c);	/* out of memory */
			return;
		}
		conn_update_reading(c);
		return;
	}
	if (nread < 0) {
		c->eof = true;
		conn_update_reading(c);
		switch (c->state) {
		case C_FLUSHING:
			break;	/* the answer is written, then the connection closes */
		default:
			/* READING: nothing to answer. HANDLING: the client is
			 * gone; the exchange is orphaned. LINGER: done. */
			conn_abort(c);
			break;
		}
		return;
	}
	if (nread == 0 || c->state == C_LINGER) {
		conn_trim(c);
		return;
	}
	c->rlen += (size_t)nread;
	if (c->fresh && c->state == C_READING)
		conn_request_begins(c);	/* the first byte after idling */
	c->fresh = false;
	if (c->state == C_READING)
		conn_process(c);
	else
		conn_update_reading(c);
	if (c->state != C_CLOSING)
		conn_trim(c);
}

static void conn_update_reading(struct conn *c)
{
	bool want = c->state != C_CLOSING && !c->eof && c->rlen < READ_BUF_SIZE;

	if (want && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
			c->reading = true;
	} else if (!want && c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
}

/* ---- routing and exchanges ---- */

/* Matches path against r; params get (offset, length) into path. */
static bool route_match(const struct route *r, const char *path, size_t off[], size_t len[],
			size_t *n_params)
{
	const char *p = path;
	size_t i, np = 0;

	if (*p != '/')
		return false;
	if (r->n_segs == 0 && strcmp(path, "/") == 0) {	/* "/" has no segment */
		*n_params = 0;
		return true;
	}
	for (i = 0; i < r->n_segs; i++) {
		const char *seg, *end;
		size_t n;

		if (*p != '/')
			return false;
		seg = p + 1;
		end = strchr(seg, '/');
		if (end == NULL)
			end = seg + strlen(seg);
		n = (size_t)(end - seg);
		if (r->segs[i] == NULL) {
			if (n == 0)
				return false;
			off[np] = (size_t)(seg - path);
			len[np++] = n;
		} else if (strlen(r->segs[i]) != n || memcmp(r->segs[i], seg, n) != 0) {
			return false;
		}
		p = end;
	}
	if (*p != '\0')
		return false;
	*n_params = np;
	return true;
}

static size_t str_size(const char *s)
{
	return strlen(s) + 1;
}

static char *put(char **at, const char *s, size_t n)
{
	char *r = *at;

	memcpy(r, s, n);
	r[n] = '\0';
	*at += n + 1;
	return r;
}

/* Copies req (and the route's params) into a new exchange. */
static struct http_exchange *exchange_new(struct conn *c, const struct http_req *req,
					  const size_t off[], const size_t len[], size_t np)
{
	struct http_exchange *x;
	struct http_header_field *fields;
	size_t size = sizeof(*x), i;
	char *at;

	size += req->n_headers * sizeof(*fields);
	size += str_size(req->target) + str_size(req->path) + str_size(req->query);
	for (i = 0; i < req->n_headers; i++)
		size += str_size(req->headers[i].name) + str_size(req->headers[i].value);
	for (i = 0; i < np; i++)
		size += len[i] + 1;
	x = calloc(1, size);
	if (x == NULL)
		return NULL;
	fields = (struct http_header_field *)(x + 1);
	at = (char *)(fields + req->n_headers);
	x->c = c;
	x->req.method = req->method;	/* http-parser's static names */
	x->req.target = put(&at, req->target, strlen(req->target));
	x->req.path = put(&at, req->path, strlen(req->path));
	x->req.query = put(&at, req->query, strlen(req->query));
	for (i = 0; i < req->n_headers; i++) {
		fields[i].name = put(&at, req->headers[i].name, strlen(req->headers[i].name));
		fields[i].value = put(&at, req->headers[i].value, strlen(req->headers[i].value));
	}
	x->req.headers = fields;
	x->req.n_headers = req->n_headers;
	for (i = 0; i < np; i++)
		x->req.params[i] = put(&at, req->path + off[i], len[i]);
	x->req.n_params = np;
	/* The body is handed over, not copied: it was the one large
	 * allocation of the request, and two copies would double it. */
	x->body = http_parse__take_body(c->parse, &x->req.body_len);
	x->req.body = x->body != NULL ? x->body : "";
	snprintf(x->req.peer, sizeof(x->req.peer), "%s", c->peer);
	x->head = strcmp(req->method, "HEAD") == 0;
	x->keep_alive = http_parse__keep_alive(c->parse);
	x->minor = http_parse__minor(c->parse);
	return x;
}

/* Whether list ("GET, POST") holds method. */
static bool allow_has(const char *list, const char *method)
{
	size_t n = strlen(method);

	while (*list != '\0') {
		const char *end = strchr(list, ',');
		size_t len = end != NULL ? (size_t)(end - list) : strlen(list);

		if (len == n && memcmp(list, method, n) == 0)
			return true;
		if (end == NULL)
			break;
		list = end + 2;
	}
	return false;
}

/* The body limit of a request, asked by the parser once the method and
 * path are known (http_parse_set_body_limit): its route's, or for a
 * request no route serves (404, 405) a small allowance, so that a short
 * body still gets its 404 while a large one is refused unread. */
static size_t route_body_limit(void *data, const char *method, const char *path)
{
	struct http_server *s = data;
	size_t off[HTTP_MAX_PARAMS], len[HTTP_MAX_PARAMS], np, i;

	for (i = 0; i < s->n_routes; i++)
		if (strcmp(s->routes[i].method, method) == 0 &&
		    route_match(&s->routes[i], path, off, len, &np))
			return s->routes[i].max_body;
	return HTTP_UNROUTED_MAX_BODY;
}

/* Finds the route for the complete request and hands it over, or answers
 * 404/405 itself. */
static void conn_dispatch(struct conn *c)
{
	struct http_server *s = c->s;
	const struct http_req *req = http_parse__req(c->parse);
	size_t off[HTTP_MAX_PARAMS], len[HTTP_MAX_PARAMS], np = 0, i;
	bool keep_alive = http_parse__keep_alive(c->parse);
	char allow[ALLOW_MAX] = "Allow: ";
	const char *extra[2] = { allow, NULL };
	bool path_found = false;
	struct http_exchange *x;

	s->stats.requests++;
	for (i = 0; i < s->n_routes; i++) {
		struct route *r = &s->routes[i];

		if (!route_match(r, req->path, off, len, &np))
			continue;
		if (strcmp(r->method, req->method) == 0)
			break;
		/* Same path, another method: for the Allow header, once each. */
		if (!allow_has(allow + 7, r->method)) {
			size_t used = strlen(allow);

			snprintf(allow + used, sizeof(allow) - used, "%s%s",
				 path_found ? ", " : "", r->method);
		}
		path_found = true;
	}
	if (i == s->n_routes) {
		if (path_found)
			conn_error(c, 405, "method not allowed", extra, keep_alive);
		else
			conn_error(c, 404, "not found", NULL, keep_alive);
		http_parse__next(c->parse);
		return;
	}
	x = exchange_new(c, req, off, len, np);
	http_parse__next(c->parse);
	if (x == NULL) {
		conn_error(c, 500, "out of memory", NULL, false);
		return;
	}
	c->x = x;
	c->state = C_HANDLING;
	conn_arm(c, false);
	conn_update_reading(c);
	s->routes[i].fn(x, &x->req, s->routes[i].data);
}

/* Parses what has been read, one request at a time. */
static void conn_process(struct conn *c)
{
	while (c->state == C_READING && c->rlen > 0) {
		size_t used = 0;
		int st = http_parse__run(c->parse, c->rbuf, c->rlen, &used);

		memmove(c->rbuf, c->rbuf + used, c->rlen - used);
		c->rlen -= used;
		if (st != 0) {
			log_debug("http: peer=%s %d (%s)", c->peer, st,
				  http_parse__error(c->parse));
			c->rlen = 0;
			conn_error(c, st, st == 413 ? "request body too large" :
				   st == 431 ? "request headers too large" :
				   st == 400 ? "bad request" :
				   st == 501 ? "transfer coding not implemented" :
				   "internal error", NULL, false);
			return;
		}
		if (http_parse__take_continue(c->parse)) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

			if (conn_write(c, cont, sizeof(cont) - 1, NULL, 0) < 0)
				return;
		}
		if (http_parse__phase(c->parse) == HTTP_PARSE_DONE)
			conn_dispatch(c);
	}
	if (c->state == C_READING)
		conn_arm(c, false);	/* never moves the request's deadline */
	if (c->state != C_CLOSING) {
		conn_trim(c);
		conn_update_reading(c);
	}
}

/* c's peer, for logs ("127.0.0.1:53422") and for the per-peer cap. */
static void conn_peer(struct conn *c)
{
	struct sockaddr_storage ss;
	int n = sizeof(ss);
	char ip[48], *out = c->peer;
	size_t size = sizeof(c->peer);

	snprintf(out, size, "?");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &n) != 0)
		return;
	http_peer_key_of((const struct sockaddr *)&ss, &c->peer_key);
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		uv_ip4_name(a, ip, sizeof(ip));
		snprintf(out, size, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		uv_ip6_name(a, ip, sizeof(ip));
		snprintf(out, size, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
	}
}

static void on_refused_closed(uv_handle_t *h)
{
	free(h);
}

static void refuse(struct http_server *s)
{
	uv_tcp_t *t = malloc(sizeof(*t));

	/* libuv stops watching the listener until the connection is taken,
	 * so it is accepted and closed. */
	s->stats.connections_refused++;
	if (t == NULL || uv_tcp_init(s->loop, t) != 0) {
		free(t);
		return;
	}
	uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, on_refused_closed);
}

/* The server (or one peer's share) is full: the connection that has gone
 * longest without starting or finishing a request, among those that hold
 * no exchange (reading, idle or lingering), makes room; of peer's
 * connections only, when peer is not NULL. One younger than
 * EVICT_MIN_AGE_MS is spared unless it is lingering (answered, closing):
 * its request may be in the socket still unread. Returns false when there
 * is no candidate (every connection busy in a handler or an answer, or
 * just accepted). */
static bool evict_oldest(struct http_server *s, const struct conn *newcomer,
			 const struct http_peer_key *peer)
{
	uint64_t now = uv_now(s->loop);
	struct conn *c;

	for (c = s->conns; c != NULL; c = c->next) {
		if (c == newcomer || (c->state != C_LINGER &&
				      (c->state != C_READING || now - c->mark < EVICT_MIN_AGE_MS)))
			continue;
		if (peer != NULL && !(c->peer_counted && c->peer_key.family == peer->family &&
				      memcmp(c->peer_key.b, peer->b, sizeof(peer->b)) == 0))
			continue;
		log_debug("http: peer=%s closed to make room (%s, %llu ms since its last "
			  "request)", c->peer, peer != NULL ? "max_per_peer" : "max_connections",
			  (unsigned long long)(now - c->mark));
		if (peer != NULL)
			s->stats.evicted_peer++;
		else
			s->stats.evicted++;
		conn_abort(c);
		return true;
	}
	return peer == NULL && evict_heavier(s, newcomer);
}

/* The server is full and every connection that could make room was
 * accepted in this same turn of the loop (a flood of new sockets): the
 * oldest of them whose peer holds more connections than the newcomer's
 * makes room, so that a provider, with a few connections, still gets in
 * among a botnet's hundreds; between peers of equal weight, the newcomer
 * is refused. */
static bool evict_heavier(struct http_server *s, const struct conn *newcomer)
{
	size_t mine = http_peers_count(s->peers, &newcomer->peer_key);
	struct conn *c;

	for (c = s->conns; c != NULL; c = c->next) {
		if (c == newcomer || c->state != C_READING || !c->peer_counted ||
		    http_peers_count(s->peers, &c->peer_key) <= mine)
			continue;
		log_debug("http: peer=%s closed to make room (max_connections, a heavier "
			  "peer's newest)", c->peer);
		s->stats.evicted++;
		conn_abort(c);
		return true;
	}
	return false;
}

/* A new connection, accepted: NULL when out of memory (then refused). */
static struct conn *conn_new(struct http_server *s)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->parse = http_parse_new(&s->lim);
	if (c->parse == NULL) {
		free(c);
		return NULL;
	}
	http_parse_set_body_limit(c->parse, route_body_limit, s);
	c->s = s;
	uv_tcp_init(s->loop, &c->tcp);
	uv_timer_init(s->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->handles_open = 2;
	conns_append(s, c);
	s->n_conns++;
	s->n_live++;
	s->stats.connections_open++;
	c->state = C_READING;
	return c;
}

static void on_connection(uv_stream_t *ls, int status)
{
	struct http_server *s = ls->data;
	struct conn *c;

	if (status < 0) {
		log_warn("http: accept failed: %s", uv_strerror(status));
		return;
	}
	if (s->closing)
		return;
	/* Accepted before the caps are applied: the peer's address is known
	 * only then, and libuv stops watching the listener until the
	 * connection is taken. */
	c = conn_new(s);
	if (c == NULL) {
		refuse(s);
		return;
	}
	if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
		conn_abort(c);
		return;
	}
	conn_peer(c);
	/* A peer at its share makes room from its own connections: a
	 * stranger's sockets then only displace each other, and a provider's
	 * burst (whose earlier connections are closing or idle) goes on. */
	if (http_peers_take(s->peers, &c->peer_key, s->lim.max_per_peer) != 0 &&
	    (!evict_oldest(s, c, &c->peer_key) ||
	     http_peers_take(s->peers, &c->peer_key, s->lim.max_per_peer) != 0)) {
		s->stats.connections_refused++;
		s->stats.refused_peer++;
		log_debug("http: peer=%s refused: max_per_peer, all of its connections busy",
			  c->peer);
		conn_abort(c);
		return;
	}
	c->peer_counted = true;
	if (s->n_live > s->lim.max_connections && !evict_oldest(s, c, NULL)) {
		s->stats.connections_refused++;
		s->stats.refused_full++;
		log_debug("http: peer=%s refused: every connection is busy", c->peer);
		conn_abort(c);
		return;
	}
	s->stats.connections_accepted++;
	uv_tcp_nodelay(&c->tcp, 1);
	conn_request_begins(c);
	conn_arm(c, false);
	conn_update_reading(c);
}

/* ---- answers ---- */

const struct http_req *http_exchange_req(const struct http_exchange *x)
{
	return &x->req;
}

/* Detaches x from its connection (which goes on with the next request or
 * closes) and frees it. */
static void exchange_free(struct http_exchange *x)
{
	if (x->c != NULL && x->c->x == x)
		x->c->x = NULL;
	free(x->body);
	free(x);
}

void http_reply(struct http_exchange *x, int status, const char *content_type,
		const char *const *extra_headers, const char *body, size_t len)
{
	struct conn *c = x->c;

	if (x->streaming) {
		log_error("http: http_reply on a stream; ending the stream instead");
		http_stream_end(x);
		return;
	}
	if (c != NULL && c->state == C_HANDLING)
		conn_respond(c, status, content_type, extra_headers, body, len,
			     x->keep_alive, x->minor, x->head);
	exchange_free(x);
}

void http_reply_json(struct http_exchange *x, int status, const char *json)
{
	http_reply(x, status, "application/json", NULL, json, strlen(json));
}

int http_stream_start(struct http_exchange *x, int status, const char *content_type,
		      void (*on_gone)(void *data), void *data)
{
	struct conn *c = x->c;
	struct buf b = { 0 };	/* the answer's head; a failure is kept in b.err */
	int rc;

	if (c == NULL || c->state != C_HANDLING || x->streaming)
		return -1;
	x->streaming = true;
	x->on_gone = on_gone;
	x->gone_data = data;
	/* HTTP/1.0 has no chunked coding: the end is the close. */
	x->chunked = x->minor >= 1;
	if (!x->chunked || !x->keep_alive || c->s->closing)
		c->close_after = true;
	if (status >= 500)
		c->s->stats.responses_5xx++;
	else if (status >= 400)
		c->s->stats.responses_4xx++;
	buf_addf(&b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nCache-Control: no-cache\r\n",
		status, reason(status),
		content_type != NULL ? content_type : "text/plain; charset=utf-8");
	if (x->chunked)
		buf_addf(&b, "Transfer-Encoding: chunked\r\n");
	if (c->close_after)
		buf_addf(&b, "Connection: close\r\n");
	buf_addf(&b, "\r\n");
	if (b.err != 0) {
		buf_free(&b);
		x->on_gone = NULL;	/* -1: the caller ends it; no callback */
		conn_abort(c);
		return -1;
	}
	rc = conn_write(c, b.p, b.len, NULL, 0);
	buf_free(&b);
	if (rc != 0) {
		x->on_gone = NULL;
		return -1;
	}
	c->served++;
	/* A stream needs no large kernel buffer, and a reader that stops
	 * reading must show in the write queue (http_stream_queued), not
	 * disappear into megabytes of socket buffer. */
	{
		uv_os_fd_t fd;
		int sndbuf = STREAM_SNDBUF;

		if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	return rc;
}

size_t http_stream_queued(const struct http_exchange *x)
{
	const struct conn *c = x->c;

	if (c == NULL || c->state != C_HANDLING || !x->streaming)
		return 0;
	return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

int http_stream_write(struct http_exchange *x, const char *buf, size_t len)
{
	struct conn *c = x->c;
	uv_buf_t parts[3];
	char head[24];
	int n;

	if (c == NULL || c->state != C_HANDLING || !x->streaming)
		return -1;
	if (len == 0)
		return 0;	/* a zero-length chunk would end the answer */
	if (x->head)
		return 0;
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + len > STREAM_MAX_QUEUED) {
		/* A reader this far behind is dropped rather than buffered
		 * without bound; on_gone runs from the close callback. */
		log_info("http: peer=%s stream reader too slow, dropped", c->peer);
		conn_abort(c);
		return -1;
	}
	if (!x->chunked)
		return conn_write(c, NULL, 0, buf, len);
	n = snprintf(head, sizeof(head), "%zx\r\n", len);
	parts[0] = uv_buf_init(head, (unsigned)n);
	parts[1] = uv_buf_init((char *)buf, (unsigned)len);
	parts[2] = uv_buf_init((char *)"\r\n", 2);
	return conn_writev(c, parts, 3);	/* size line, data, CRLF */
}

void http_stream_end(struct http_exchange *x)
{
	struct conn *c = x->c;
	bool last_chunk;

	if (!x->streaming) {
		/* Never started: an answer is still owed. */
		if (c != NULL && c->state == C_HANDLING)
			conn_error(c, 500, "stream not started", NULL, false);
		exchange_free(x);
		return;
	}
	last_chunk = x->chunked && !x->head;
	exchange_free(x);
	if (c == NULL || c->state != C_HANDLING)
		return;
	c->state = C_FLUSHING;
	if (last_chunk)
		conn_write(c, "0\r\n\r\n", 5, NULL, 0);
	else if (c->writes_pending == 0)
		conn_flushed(c);
}

/* ---- server ---- */

struct http_server *http_server_new(uv_loop_t *loop, const struct http_server_limits *lim)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->peers = http_peers_new();
	if (s->peers == NULL) {
		free(s);
		return NULL;
	}
	s->loop = loop;
	http_parse__limits(&s->lim, lim);
	uv_tcp_init(loop, &s->listener);
	uv_timer_init(loop, &s->close_timer);
	s->listener.data = s;
	s->close_timer.data = s;
	s->handles_open = 2;
	return s;
}

int http_server_route(struct http_server *s, const char *method, const char *pattern,
		      http_handler_fn fn, void *data)
{
	/* GET and HEAD carry no body worth reading (RFC 9110 9.3.1): none is
	 * taken, or a stranger could park 1 MiB per socket on /healthz. */
	bool bodiless = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	return http_server_route_max_body(s, method, pattern,
					  bodiless ? 0 : s->lim.max_body_bytes, fn, data);
}

int http_server_route_max_body(struct http_server *s, const char *method,
			       const char *pattern, size_t max_body, http_handler_fn fn,
			       void *data)
{
	struct route r = { 0 }, *nr;
	size_t n_params = 0;
	char *p;

	if (method == NULL || method[0] == '\0' || pattern == NULL || pattern[0] != '/' ||
	    fn == NULL)
		return -1;
	r.method = strdup(method);
	r.pattern = strdup(pattern);
	r.segs = calloc(strlen(pattern) + 1, sizeof(*r.segs));
	if (r.method == NULL || r.pattern == NULL || r.segs == NULL)
		goto fail;
	/* "/" has no segment; "/a/{id}" has "a" and a parameter. */
	p = r.pattern + 1;
	if (*p != '\0' || strcmp(pattern, "/") != 0) {
		for (;;) {
			char *end = strchr(p, '/');
			size_t n;

			if (end != NULL)
				*end = '\0';
			n = strlen(p);
			if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
				if (++n_params > HTTP_MAX_PARAMS)
					goto fail;
				r.segs[r.n_segs++] = NULL;
			} else {
				if (strpbrk(p, "{}") != NULL)
					goto fail;
				r.segs[r.n_segs++] = p;
			}
			if (end == NULL)
				break;
			p = end + 1;
		}
	}
	r.fn = fn;
	r.data = data;
	r.max_body = max_body < s->lim.max_body_bytes ? max_body : s->lim.max_body_bytes;
	nr = realloc(s->routes, (s->n_routes + 1) * sizeof(*nr));
	if (nr == NULL)
		goto fail;
	s->routes = nr;
	s->routes[s->n_routes++] = r;
	return 0;
fail:
	free(r.method);
	free(r.pattern);
	free(r.segs);
	return -1;
}

int http_server_listen(struct http_server *s, const char *listen, struct err *err)
{
	char host[64];
	const char *colon, *h = listen;
	size_t hlen;
	char *end;
	long port;
	struct sockaddr_storage ss;
	int rc;

	if (s->listening || s->closing)
		return err_set(err, "listen: already listening");
	if (listen[0] == '[') {
		const char *rb = strchr(listen, ']');

		if (rb == NULL || rb[1] != ':')
			return err_set(err, "listen: expected \"[address]:port\", got \"%s\"", listen);
		h = listen + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL)
			return err_set(err, "listen: expected \"host:port\", got \"%s\"", listen);
		hlen = (size_t)(colon - listen);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return err_set(err, "listen: bad address in \"%s\"", listen);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
		return err_set(err, "listen: port must be 0..65535, got \"%s\"", colon + 1);
	if (listen[0] == '[')
		rc = uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&ss);
	else
		rc = uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&ss);
	if (rc != 0)
		return err_set(err, "listen: \"%s\" is not an IP address (IPv6 goes in [])", host);
	rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
	if (rc != 0)
		return err_set(err, "listen: %s: %s", listen, uv_strerror(rc));
	s->listening = true;
	return 0;
}

int http_server_port(const struct http_server *s)
{
	struct sockaddr_storage ss;
	int n = sizeof(ss);

	if (!s->listening ||
	    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &n) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

void http_server_stats(const struct http_server *s, struct http_server_stats *out)
{
	*out = s->stats;
}

static void on_server_handle_closed(uv_handle_t *h)
{
	struct http_server *s = h->data;
	size_t i;

	if (--s->handles_open > 0)
		return;
	for (i = 0; i < s->n_routes; i++) {
		free(s->routes[i].method);
		free(s->routes[i].pattern);
		free(s->routes[i].segs);
	}
	free(s->routes);
	http_peers_free(s->peers);
	if (s->closed != NULL)
		s->closed(s->closed_data);
	free(s);
}

static void server_maybe_finish(struct http_server *s)
{
	if (!s->closing || s->finishing || s->conns != NULL)
		return;
	s->finishing = true;
	uv_close((uv_handle_t *)&s->close_timer, on_server_handle_closed);
}

/* write_timeout after http_server_close: whoever is left is cut off. */
static void on_close_timer(uv_timer_t *t)
{
	struct http_server *s = t->data;
	struct conn *c, *next;

	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		conn_abort(c);
	}
}

void http_server_close(struct http_server *s, void (*closed)(void *data), void *data)
{
	struct conn *c, *next;

	if (s->closing)
		return;
	s->closing = true;
	s->closed = closed;
	s->closed_data = data;
	uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		switch (c->state) {
		case C_HANDLING:
			/* A stream never ends by itself: it ends now. Other
			 * handlers answer, with "Connection: close". */
			if (c->x != NULL && c->x->streaming)
				conn_abort(c);
			else
				c->close_after = true;
			break;
		case C_FLUSHING:
			c->close_after = true;
			break;
		case C_READING:
		case C_LINGER:
			conn_abort(c);
			break;
		case C_CLOSING:
			break;
		}
	}
	uv_timer_start(&s->close_timer, on_close_timer, (uint64_t)s->lim.write_timeout_ms, 0);
	server_maybe_finish(s);
}

static const struct metric_family requests_total = {
	"pregon_http_requests_total", METRIC_COUNTER, "HTTP requests served.",
};
static const struct metric_family connections_open = {
	"pregon_http_connections_open", METRIC_GAUGE, "Open HTTP connections.",
};

static const struct metric_family refused_total = {
	"pregon_http_connections_refused_total", METRIC_COUNTER,
	"HTTP connections closed on arrival: peer_limit (max_per_peer), full (every "
	"connection busy).",
};
static const struct metric_family evicted_total = {
	"pregon_http_connections_evicted_total", METRIC_COUNTER,
	"HTTP connections closed to make room for a new one (idle or slow longest): "
	"full (max_connections), peer_limit (the same peer's, max_per_peer).",
};
static const struct metric_family timeouts_total = {
	"pregon_http_timeouts_total", METRIC_COUNTER,
	"HTTP connections timed out: request (408, request_timeout), write (not reading).",
};

int http_server_metrics(struct http_server *s, struct metrics *m)
{
	struct http_server_stats *st = &s->stats;

	if (metrics_counter(m, &requests_total, &st->requests, NULL) != 0 ||
	    metrics_gauge(m, &connections_open, metrics_read_u64, &st->connections_open,
			  NULL) != 0 ||
	    metrics_counter(m, &refused_total, &st->refused_peer, "reason=\"peer_limit\"") != 0 ||
	    metrics_counter(m, &refused_total, &st->refused_full, "reason=\"full\"") != 0 ||
	    metrics_counter(m, &evicted_total, &st->evicted, "reason=\"full\"") != 0 ||
	    metrics_counter(m, &evicted_total, &st->evicted_peer, "reason=\"peer_limit\"") != 0 ||
	    metrics_counter(m, &timeouts_total, &st->timeouts_request, "phase=\"request\"") != 0)
		return -1;
	return metrics_counter(m, &timeouts_total, &st->timeouts_write, "phase=\"write\"");
}
