/* test_http_client.c: http_client.h (and curl_loop.h under it) against a
 * loopback HTTP/1.1 server that this file runs on the same uv loop.
 *
 * The server answers by path: /ok, /retry-secs, /retry-date,
 * /retry-garbage, /retry-past, /retry-rfc850, /retry-huge, /error, /slow (answers after 2 s), /hold
 * (after 50 ms), /drop (closes after reading the request), /big?n=N and
 * /echo (method, body and chosen headers back). It counts accepted and
 * simultaneously open connections, so reuse and caps are observed from
 * the far side of the socket, not from libcurl's own counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <uv.h>

#include "curl_loop.h"
#include "http_client.h"

#define REQ_BUF		16384
#define SLOW_MS		2000
#define HOLD_MS		50
#define GUARD_MS	5000

/* ---- the loopback server ---- */

struct srv;

struct conn {
	struct srv *srv;
	uv_tcp_t tcp;
	uv_timer_t delay;
	int closes;		/* handles still to close */
	int closing;
	char *pending;		/* response held back by /slow, /hold */
	size_t pending_len;
	char buf[REQ_BUF];
	size_t len;
	struct conn *prev, *next;
};

struct srv {
	uv_loop_t *loop;
	uv_tcp_t listener;
	int port;
	int accepts;
	int open, max_open;
	int requests;
	struct conn *conns;
};

static void on_conn_closed(uv_handle_t *h)
{
	struct conn *k = h->data;

	if (--k->closes > 0)
		return;
	free(k->pending);
	free(k);
}

static void conn_close(struct conn *k)
{
	if (k->closing)
		return;
	k->closing = 1;
	k->srv->open--;
	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		k->srv->conns = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	k->closes = 2;
	uv_close((uv_handle_t *)&k->tcp, on_conn_closed);
	uv_close((uv_handle_t *)&k->delay, on_conn_closed);
}

static void on_written(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

static void conn_write(struct conn *k, char *text, size_t len)
{
	uv_write_t *w = malloc(sizeof(*w));
	uv_buf_t b = uv_buf_init(text, (unsigned)len);

	w->data = text;
	if (uv_write(w, (uv_stream_t *)&k->tcp, &b, 1, on_written) != 0) {
		free(text);
		free(w);
		conn_close(k);
	}
}

static void on_delay(uv_timer_t *t)
{
	struct conn *k = t->data;
	char *text = k->pending;

	k->pending = NULL;
	conn_write(k, text, k->pending_len);
}

/* Copies header name's value out of the request head, or "" when absent. */
static void header_value(const char *head, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);
	const char *p = head;

	out[0] = '\0';
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *end = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(out, size, "%.*s", (int)(end - v), v);
			return;
		}
	}
}

static char *response(size_t *len, int status, const char *extra, const char *body, size_t body_len)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status, body_len, extra);
	char *text = malloc((size_t)n + body_len);

	memcpy(text, head, (size_t)n);
	memcpy(text + n, body, body_len);
	*len = (size_t)n + body_len;
	return text;
}

static void imf_date(time_t t, char *out, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Answers one whole request; returns 0 when the connection was dropped. */
static int conn_answer(struct conn *k, const char *head, const char *body, size_t body_len)
{
	char method[16], path[256], extra[256], echo[2048];
	char auth[128], ctype[128], expect[64], xtest[64];
	size_t len;
	char *text;

	if (sscanf(head, "%15s %255s", method, path) != 2)
		return conn_close(k), 0;
	k->srv->requests++;
	if (strcmp(path, "/ok") == 0) {
		text = response(&len, 200, "Content-Type: application/json\r\n", "{\"ok\":true}", 11);
	} else if (strcmp(path, "/retry-secs") == 0) {
		text = response(&len, 429, "Retry-After: 2\r\n", "", 0);
	} else if (strcmp(path, "/retry-date") == 0) {
		char date[64];

		imf_date(time(NULL) + 3, date, sizeof(date));
		snprintf(extra, sizeof(extra), "Retry-After: %s\r\n", date);
		text = response(&len, 429, extra, "", 0);
	} else if (strcmp(path, "/retry-garbage") == 0) {
		text = response(&len, 429, "Retry-After: soon\r\n", "", 0);
	} else if (strcmp(path, "/retry-past") == 0) {
		text = response(&len, 503, "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n", "", 0);
	} else if (strcmp(path, "/retry-rfc850") == 0) {
		text = response(&len, 503, "Retry-After: Sunday, 06-Nov-94 08:49:37 GMT\r\n", "", 0);
	} else if (strcmp(path, "/retry-huge") == 0) {
		text = response(&len, 429, "Retry-After: 99999999999999999999999\r\n", "", 0);
	} else if (strcmp(path, "/error") == 0) {
		text = response(&len, 500, "", "boom", 4);
	} else if (strcmp(path, "/drop") == 0) {
		conn_close(k);
		return 0;
	} else if (strncmp(path, "/big?n=", 7) == 0) {
		size_t n = strtoul(path + 7, NULL, 10);
		char *big = malloc(n);

		memset(big, 'x', n);
		text = response(&len, 200, "", big, n);
		free(big);
	} else if (strcmp(path, "/echo") == 0) {
		header_value(head, "Authorization", auth, sizeof(auth));
		header_value(head, "Content-Type", ctype, sizeof(ctype));
		header_value(head, "Expect", expect, sizeof(expect));
		header_value(head, "X-Test", xtest, sizeof(xtest));
		snprintf(echo, sizeof(echo), "method=%s\nauth=%s\nctype=%s\nexpect=%s\nx-test=%s\nbody=%.*s",
			 method, auth, ctype, expect, xtest, (int)body_len, body);
		text = response(&len, 200, "Content-Type: text/plain\r\n", echo, strlen(echo));
	} else if (strcmp(path, "/slow") == 0 || strcmp(path, "/hold") == 0) {
		free(k->pending);
		k->pending = response(&k->pending_len, 200, "", "late", 4);
		uv_timer_start(&k->delay, on_delay, path[1] == 's' ? SLOW_MS : HOLD_MS, 0);
		return 1;
	} else {
		text = response(&len, 404, "", "", 0);
	}
	conn_write(k, text, len);
	return 1;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct conn *k = h->data;

	(void)suggested;
	*b = uv_buf_init(k->buf + k->len, (unsigned)(sizeof(k->buf) - k->len - 1));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *k = s->data;
	char *end;

	(void)b;
	if (n < 0 || k->len + (size_t)n >= sizeof(k->buf) - 1) {
		conn_close(k);
		return;
	}
	k->len += (size_t)n;
	k->buf[k->len] = '\0';
	/* Whole requests only; keep-alive means more may follow. */
	while ((end = strstr(k->buf, "\r\n\r\n")) != NULL) {
		char clen[32];
		size_t head_len = (size_t)(end - k->buf) + 4, body_len, total;

		end[2] = '\0';
		header_value(k->buf, "Content-Length", clen, sizeof(clen));
		end[2] = '\r';
		body_len = strtoul(clen, NULL, 10);
		total = head_len + body_len;
		if (k->len < total)
			return;
		end[2] = '\0';
		if (!conn_answer(k, k->buf, k->buf + head_len, body_len))
			return;
		memmove(k->buf, k->buf + total, k->len - total + 1);
		k->len -= total;
	}
}

static void on_accept(uv_stream_t *l, int status)
{
	struct srv *srv = l->data;
	struct conn *k;

	if (status < 0)
		return;
	k = calloc(1, sizeof(*k));
	k->srv = srv;
	uv_tcp_init(srv->loop, &k->tcp);
	uv_timer_init(srv->loop, &k->delay);
	k->tcp.data = k->delay.data = k;
	if (uv_accept(l, (uv_stream_t *)&k->tcp) != 0) {
		k->closing = 1;
		k->closes = 2;
		uv_close((uv_handle_t *)&k->tcp, on_conn_closed);
		uv_close((uv_handle_t *)&k->delay, on_conn_closed);
		return;
	}
	srv->accepts++;
	if (++srv->open > srv->max_open)
		srv->max_open = srv->open;
	k->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = k;
	srv->conns = k;
	uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
}

static int bound_port(uv_tcp_t *t)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	uv_tcp_getsockname(t, (struct sockaddr *)&ss, &len);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void srv_start(struct srv *srv, uv_loop_t *loop)
{
	struct sockaddr_in a;

	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	uv_ip4_addr("127.0.0.1", 0, &a);
	assert_int_equal(uv_tcp_init(loop, &srv->listener), 0);
	srv->listener.data = srv;
	assert_int_equal(uv_tcp_bind(&srv->listener, (struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&srv->listener, 64, on_accept), 0);
	srv->port = bound_port(&srv->listener);
}

static void srv_stop(struct srv *srv)
{
	while (srv->conns != NULL)
		conn_close(srv->conns);
	uv_close((uv_handle_t *)&srv->listener, NULL);
}

/* ---- fixture: a loop, the server, a client ---- */

struct fx {
	uv_loop_t loop;
	struct srv srv;
	struct http_client *c;
	int closed;
	int timed_out;
};

struct result {
	int calls;
	int sync;		/* done ran inside http_client_request() */
	struct http_response res;	/* body and content_type pointers cleared */
	char body[2048];
	char ctype[128];
	int *total;		/* optional: counts dones across results */
};

static int in_request;

static void on_done(void *data, const struct http_response *res)
{
	struct result *r = data;

	r->calls++;
	if (r->total != NULL)
		(*r->total)++;
	r->sync |= in_request;
	r->res = *res;
	r->res.body = NULL;
	r->res.content_type = NULL;
	snprintf(r->body, sizeof(r->body), "%.*s", (int)res->body_len, res->body);
	snprintf(r->ctype, sizeof(r->ctype), "%s", res->content_type ? res->content_type : "");
}

static void on_closed(void *data)
{
	(*(int *)data)++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(uv_loop_init(&f->loop), 0);
	srv_start(&f->srv, &f->loop);
	*state = f;
	return 0;
}

static void client(struct fx *f, const struct http_client_opts *opts)
{
	struct err err = {{0}};

	assert_int_equal(http_client_new(&f->c, &f->loop, opts, &err), 0);
}

/* Every test ends here: the client closes (closed runs once, from the
 * loop), and the loop closes with nothing left open, which is also where
 * a leaked handle would show. */
static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->c != NULL && f->closed == 0) {
		http_client_close(f->c, on_closed, &f->closed);
		assert_int_equal(f->closed, 0);
	}
	srv_stop(&f->srv);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	if (f->c != NULL)
		assert_int_equal(f->closed, 1);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static void on_guard(uv_timer_t *t)
{
	struct fx *f = t->data;

	f->timed_out = 1;
}

/* Turns the loop until *counter reaches want (the server keeps the loop
 * alive, so UV_RUN_DEFAULT would never return). */
static void run_until(struct fx *f, const int *counter, int want)
{
	uv_timer_t guard;

	uv_timer_init(&f->loop, &guard);
	guard.data = f;
	f->timed_out = 0;
	uv_timer_start(&guard, on_guard, GUARD_MS, 0);
	while (*counter < want && !f->timed_out)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_false(f->timed_out);
}

static void start(struct fx *f, const char *path, const struct http_request *tmpl,
		  struct result *r, struct http_call **call)
{
	struct http_request req = {0};
	struct err err = {{0}};
	char url[128];

	if (tmpl != NULL)
		req = *tmpl;
	if (req.method == NULL)
		req.method = "GET";
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->srv.port, path);
	req.url = url;		/* on the stack: the client must have copied it */
	in_request = 1;
	assert_int_equal(http_client_request(f->c, &req, on_done, r, call, &err), 0);
	in_request = 0;
	memset(url, 0, sizeof(url));
	assert_int_equal(r->calls, 0);
}

static void get(struct fx *f, const char *path, const struct http_request *tmpl, struct result *r)
{
	start(f, path, tmpl, r, NULL);
	run_until(f, &r->calls, 1);
	assert_int_equal(r->calls, 1);
	assert_false(r->sync);
}

/* ---- tests ---- */

static void get_returns_status_body_and_content_type(void **state)
{
	struct fx *f = *state;
	struct result r = {0};

	client(f, NULL);
	get(f, "/ok", NULL, &r);
	assert_int_equal(r.res.error, HTTP_OK);
	assert_int_equal(r.res.status, 200);
	assert_string_equal(r.body, "{\"ok\":true}");
	assert_int_equal(r.res.body_len, 11);
	assert_string_equal(r.ctype, "application/json");
	assert_int_equal(r.res.retry_after_ms, -1);
	assert_true(r.res.elapsed_ms > 0.0);
	assert_int_equal(http_client_active(f->c), 0);
}

static void server_error_status_is_an_answer_not_an_error(void **state)
{
	struct fx *f = *state;
	struct result r = {0};

	client(f, NULL);
	get(f, "/error", NULL, &r);
	assert_int_equal(r.res.error, HTTP_OK);
	assert_int_equal(r.res.status, 500);
	assert_string_equal(r.body, "boom");
}

static void retry_after_seconds_become_milliseconds(void **state)
{
	struct fx *f = *state;
	struct result r = {0};

	client(f, NULL);
	get(f, "/retry-secs", NULL, &r);
	assert_int_equal(r.res.status, 429);
	assert_int_equal(r.res.retry_after_ms, 2000);
}

static void retry_after_http_date_counts_from_now(void **state)
{
	struct fx *f = *state;
	struct result r = {0};

	client(f, NULL);
	get(f, "/retry-date", NULL, &r);
	assert_int_equal(r.res.status, 429);
	/* now + 3 s, sent with one-second resolution. */
	assert_in_range(r.res.retry_after_ms, 1000, 4000);
}

static void retry_after_garbage_is_ignored_and_huge_is_capped(void **state)
{
	struct fx *f = *state;
	struct result garbage = {0}, obsolete = {0}, past = {0}, huge = {0};

	client(f, NULL);
	get(f, "/retry-garbage", NULL, &garbage);
	assert_int_equal(garbage.res.status, 429);
	assert_int_equal(garbage.res.retry_after_ms, -1);
	/* Only IMF-fixdate is read; the obsolete forms count as absent. */
	get(f, "/retry-rfc850", NULL, &obsolete);
	assert_int_equal(obsolete.res.status, 503);
	assert_int_equal(obsolete.res.retry_after_ms, -1);
	get(f, "/retry-past", NULL, &past);
	assert_int_equal(past.res.retry_after_ms, 0);
	get(f, "/retry-huge", NULL, &huge);
	assert_int_equal(huge.res.status, 429);
	assert_int_equal(huge.res.retry_after_ms, (int64_t)24 * 3600 * 1000);
}

static void slow_answer_times_out(void **state)
{
	struct fx *f = *state;
	struct http_request req = { .timeout_ms = 300 };
	struct result r = {0};

	client(f, NULL);
	get(f, "/slow", &req, &r);
	assert_int_equal(r.res.error, HTTP_ERR_TIMEOUT);
	assert_int_equal(r.res.status, 0);
	assert_true(r.res.elapsed_ms >= 250 && r.res.elapsed_ms < SLOW_MS);
	assert_true(strlen(r.res.error_text) > 0);
}

static void dropped_connection_is_a_transfer_error(void **state)
{
	struct fx *f = *state;
	struct result r = {0};

	client(f, NULL);
	get(f, "/drop", NULL, &r);
	assert_int_equal(r.res.error, HTTP_ERR_TRANSFER);
	assert_int_equal(r.res.status, 0);
	assert_true(strlen(r.res.error_text) > 0);
}

static void body_over_the_cap_is_too_big_and_at_the_cap_is_fine(void **state)
{
	struct fx *f = *state;
	struct http_request req = { .max_response_bytes = 1000 };
	struct result over = {0}, at = {0};

	client(f, NULL);
	get(f, "/big?n=100000", &req, &over);
	assert_int_equal(over.res.error, HTTP_ERR_TOO_BIG);
	assert_int_equal(over.res.body_len, 0);
	get(f, "/big?n=1000", &req, &at);
	assert_int_equal(at.res.error, HTTP_OK);
	assert_int_equal(at.res.body_len, 1000);
}

static void post_sends_form_body_headers_and_basic_auth(void **state)
{
	struct fx *f = *state;
	char body[] = "To=%2B15555550100&Body=hi";
	char user[] = "user", pass[] = "pass";
	const char *headers[] = {
		"Content-Type: application/x-www-form-urlencoded", "X-Test: 1", NULL,
	};
	struct http_request req = {
		.method = "POST", .headers = headers, .body = body, .body_len = strlen(body),
		.username = user, .password = pass,
	};
	struct result r = {0};

	client(f, NULL);
	start(f, "/echo", &req, &r, NULL);
	/* Copied at the call: what the caller does with its buffers after
	 * that must not reach the wire. */
	memset(body, '#', strlen(body));
	memset(user, '#', strlen(user));
	memset(pass, '#', strlen(pass));
	run_until(f, &r.calls, 1);
	assert_int_equal(r.res.error, HTTP_OK);
	assert_string_equal(r.body,
			    "method=POST\n"
			    "auth=Basic dXNlcjpwYXNz\n"		/* base64("user:pass") */
			    "ctype=application/x-www-form-urlencoded\n"
			    "expect=\n"
			    "x-test=1\n"
			    "body=To=%2B15555550100&Body=hi");
	assert_string_equal(r.ctype, "text/plain");
}

static void closed_port_is_a_connect_error(void **state)
{
	struct fx *f = *state;
	struct http_request req = {0};
	struct result r = {0};
	struct sockaddr_in a;
	struct err err = {{0}};
	uv_tcp_t holder;
	char url[64];

	/* Bound, never listening: the port stays ours and refuses. */
	uv_ip4_addr("127.0.0.1", 0, &a);
	uv_tcp_init(&f->loop, &holder);
	assert_int_equal(uv_tcp_bind(&holder, (struct sockaddr *)&a, 0), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", bound_port(&holder));
	req.method = "GET";
	req.url = url;
	client(f, NULL);
	in_request = 1;
	assert_int_equal(http_client_request(f->c, &req, on_done, &r, NULL, &err), 0);
	in_request = 0;
	assert_int_equal(r.calls, 0);
	run_until(f, &r.calls, 1);
	assert_false(r.sync);
	assert_int_equal(r.res.error, HTTP_ERR_CONNECT);
	uv_close((uv_handle_t *)&holder, NULL);
}

struct chain {
	struct fx *f;
	struct result first, second;
};

static void on_first_done(void *data, const struct http_response *res)
{
	struct chain *ch = data;
	struct http_request req = {0};
	char url[128];

	on_done(&ch->first, res);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", ch->f->srv.port);
	req.method = "GET";
	req.url = url;
	in_request = 1;
	http_client_request(ch->f->c, &req, on_done, &ch->second, NULL, NULL);
	in_request = 0;
}

static void sequential_requests_reuse_one_connection(void **state)
{
	struct fx *f = *state;
	struct chain ch = { .f = f };
	struct http_request req = { .method = "GET" };
	char url[128];

	client(f, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", f->srv.port);
	req.url = url;
	/* The second starts from the first's done callback. */
	assert_int_equal(http_client_request(f->c, &req, on_first_done, &ch, NULL, NULL), 0);
	run_until(f, &ch.second.calls, 1);
	assert_int_equal(ch.first.res.error, HTTP_OK);
	assert_int_equal(ch.second.res.error, HTTP_OK);
	assert_false(ch.second.sync);
	assert_int_equal(f->srv.requests, 2);
	assert_int_equal(f->srv.accepts, 1);
}

static void kept_alive_requests_rearm_no_socket_watcher(void **state)
{
	struct fx *f = *state;
	struct result first = {0};
	uint64_t after_first;

	client(f, NULL);
	get(f, "/ok", NULL, &first);
	assert_int_equal(first.res.error, HTTP_OK);
	after_first = curl_loop_watch_changes(http_client_curl_loop(f->c));
	assert_true(after_first > 0);
	/* libcurl says REMOVE at the end of each and IN at the start of the
	 * next: the watcher stays as it is, no epoll_ctl per request. */
	for (int i = 0; i < 10; i++) {
		struct result r = {0};

		get(f, "/ok", NULL, &r);
		assert_int_equal(r.res.error, HTTP_OK);
	}
	assert_int_equal(curl_loop_watch_changes(http_client_curl_loop(f->c)), after_first);
	assert_int_equal(f->srv.accepts, 1);
	assert_int_equal(f->srv.requests, 11);
}

static void on_turn(uv_check_t *c)
{
	(*(int *)c->data)++;
}

static void on_quiet_over(uv_timer_t *t)
{
	(*(int *)t->data)++;
}

static void idle_connection_closed_by_the_server_neither_spins_nor_fails_the_next(void **state)
{
	struct fx *f = *state;
	struct result r1 = {0}, r2 = {0};
	uv_check_t turns;
	uv_timer_t quiet;
	int nturns = 0, over = 0;

	client(f, NULL);
	get(f, "/ok", NULL, &r1);
	assert_int_equal(r1.res.error, HTTP_OK);
	/* The connection waits in libcurl's cache, its watcher armed: the
	 * server's FIN makes it readable for as long as nobody reads. */
	while (f->srv.conns != NULL)
		conn_close(f->srv.conns);
	uv_check_init(&f->loop, &turns);
	uv_timer_init(&f->loop, &quiet);
	turns.data = &nturns;
	quiet.data = &over;
	uv_check_start(&turns, on_turn);
	uv_timer_start(&quiet, on_quiet_over, 200, 0);
	run_until(f, &over, 1);
	uv_close((uv_handle_t *)&turns, NULL);
	uv_close((uv_handle_t *)&quiet, NULL);
	/* A spinning loop turns thousands of times in 200 ms. */
	assert_true(nturns < 20);
	get(f, "/ok", NULL, &r2);
	assert_int_equal(r2.res.error, HTTP_OK);
	assert_int_equal(f->srv.accepts, 2);
}

static void host_cap_limits_simultaneous_connections(void **state)
{
	struct fx *f = *state;
	struct http_client_opts opts = { .max_host_connections = 2 };
	struct result r[10] = {{0}};
	int total = 0;

	client(f, &opts);
	for (int i = 0; i < 10; i++) {
		r[i].total = &total;
		start(f, "/hold", NULL, &r[i], NULL);
	}
	assert_int_equal(http_client_active(f->c), 10);
	run_until(f, &total, 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_false(r[i].sync);
		assert_int_equal(r[i].res.error, HTTP_OK);
		assert_string_equal(r[i].body, "late");
	}
	assert_int_equal(f->srv.requests, 10);
	/* 10 answers held 50 ms each over at most 2 connections. */
	assert_int_equal(f->srv.max_open, 2);
	assert_int_equal(f->srv.accepts, 2);
	assert_int_equal(http_client_active(f->c), 0);
}

static void cancel_stops_an_inflight_call_later_on_the_loop(void **state)
{
	struct fx *f = *state;
	struct result r = {0};
	struct http_call *call = NULL;

	client(f, NULL);
	start(f, "/slow", NULL, &r, &call);
	assert_non_null(call);
	run_until(f, &f->srv.requests, 1);	/* in flight: the server has it */
	http_call_cancel(call);
	assert_int_equal(r.calls, 0);
	run_until(f, &r.calls, 1);
	assert_int_equal(r.res.error, HTTP_ERR_CANCELLED);
	assert_int_equal(r.res.status, 0);
	assert_true(r.res.elapsed_ms < SLOW_MS);
	assert_int_equal(http_client_active(f->c), 0);
}

static void close_with_requests_in_flight_cancels_each_once(void **state)
{
	struct fx *f = *state;
	struct result r[4] = {{0}};

	client(f, NULL);
	for (int i = 0; i < 3; i++)
		start(f, "/slow", NULL, &r[i], NULL);
	run_until(f, &f->srv.requests, 3);
	/* One more that has not even connected yet. */
	start(f, "/slow", NULL, &r[3], NULL);
	http_client_close(f->c, on_closed, &f->closed);
	for (int i = 0; i < 4; i++)
		assert_int_equal(r[i].calls, 0);
	assert_int_equal(f->closed, 0);
	run_until(f, &f->closed, 1);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].res.error, HTTP_ERR_CANCELLED);
	}
	assert_int_equal(f->closed, 1);
}

static void request_rejects_bad_input_without_calling_done(void **state)
{
	struct fx *f = *state;
	const char *crlf[] = { "X-Evil: a\r\nX-Injected: b", NULL };
	const char *noname[] = { ": value", NULL };
	struct {
		struct http_request req;
		const char *why;
	} bad[] = {
		{ { .method = "GET", .url = "ftp://127.0.0.1/" }, "url: must be http:// or https://" },
		{ { .method = "GET", .url = NULL }, "url: missing" },
		{ { .method = "GE T", .url = "http://127.0.0.1/" }, "method: must be" },
		{ { .method = "GET", .url = "http://127.0.0.1/", .headers = crlf }, "headers[0]: contains CR or LF" },
		{ { .method = "GET", .url = "http://127.0.0.1/", .headers = noname }, "headers[0]: must be" },
		{ { .method = "POST", .url = "http://127.0.0.1/", .body_len = 5 }, "body: NULL" },
		{ { .method = "GET", .url = "http://127.0.0.1/", .timeout_ms = -1 }, "timeout_ms: must be" },
		{ { .method = "GET", .url = "http://127.0.0.1/", .username = "a\nb" }, "username: contains" },
	};
	struct result r = {0};
	struct http_call *call = (struct http_call *)&r;

	client(f, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct err err = {{0}};

		assert_int_equal(http_client_request(f->c, &bad[i].req, on_done, &r, &call, &err), -1);
		assert_null(call);
		assert_non_null(strstr(err.msg, bad[i].why));
	}
	assert_int_equal(http_client_active(f->c), 0);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(r.calls, 0);
}

static void bad_client_options_are_refused(void **state)
{
	struct fx *f = *state;
	struct http_client_opts opts = { .max_host_connections = -1 };
	struct http_client *c = NULL;
	struct err err = {{0}};

	assert_int_equal(http_client_new(&c, &f->loop, &opts, &err), -1);
	assert_null(c);
	assert_non_null(strstr(err.msg, "max_host_connections"));
	opts = (struct http_client_opts){ .connect_timeout_ms = -5 };
	assert_int_equal(http_client_new(&c, &f->loop, &opts, &err), -1);
	assert_non_null(strstr(err.msg, "connect_timeout_ms"));
}

/* Finding 10: a provider's base URL over plain HTTP to another host would
 * send the basic auth and every message across the network readable. */
static void base_url_over_http_is_refused_unless_it_stays_on_this_machine(void **state)
{
	static const char *const ok[] = {
		"https://api.twilio.com", "https://api.twilio.com/", "HTTPS://example.org:8443/x",
		"http://127.0.0.1:8089", "http://127.0.0.1", "http://127.1.2.3/x", "http://[::1]:80/",
		"http://localhost:9000", "http://LOCALHOST/", "http://u:p@127.0.0.1:1/",
	};
	static const char *const refused[] = {
		"http://api.twilio.com", "http://10.0.0.5:8080", "http://example.org/",
		"http://[::2]:80", "http://127.0.0.1.evil.example/", "http://localhost.evil.example",
		"http://127.0.0.1@evil.example/", "http://", "ftp://127.0.0.1", "https://",
		"http://[::1", "http://128.0.0.1",
	};
	struct err err;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (http_url_check_transport(ok[i], &err) != 0)
			fail_msg("%s refused: %s", ok[i], err.msg);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (http_url_check_transport(refused[i], &err) == 0)
			fail_msg("%s allowed", refused[i]);
	assert_int_equal(http_url_check_transport("http://api.twilio.com/", &err), -1);
	assert_non_null(strstr(err.msg, "http:// is allowed only to this machine"));
}

int main(void)
{
	static const char *const proxies[] = {
		"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(get_returns_status_body_and_content_type, setup, teardown),
		cmocka_unit_test_setup_teardown(server_error_status_is_an_answer_not_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(retry_after_seconds_become_milliseconds, setup, teardown),
		cmocka_unit_test_setup_teardown(retry_after_http_date_counts_from_now, setup, teardown),
		cmocka_unit_test_setup_teardown(retry_after_garbage_is_ignored_and_huge_is_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(slow_answer_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(dropped_connection_is_a_transfer_error, setup, teardown),
		cmocka_unit_test_setup_teardown(body_over_the_cap_is_too_big_and_at_the_cap_is_fine, setup, teardown),
		cmocka_unit_test_setup_teardown(post_sends_form_body_headers_and_basic_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(closed_port_is_a_connect_error, setup, teardown),
		cmocka_unit_test_setup_teardown(sequential_requests_reuse_one_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(kept_alive_requests_rearm_no_socket_watcher, setup, teardown),
		cmocka_unit_test_setup_teardown(idle_connection_closed_by_the_server_neither_spins_nor_fails_the_next,
						setup, teardown),
		cmocka_unit_test_setup_teardown(host_cap_limits_simultaneous_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(cancel_stops_an_inflight_call_later_on_the_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(close_with_requests_in_flight_cancels_each_once, setup, teardown),
		cmocka_unit_test_setup_teardown(request_rejects_bad_input_without_calling_done, setup, teardown),
		cmocka_unit_test(base_url_over_http_is_refused_unless_it_stays_on_this_machine),
		cmocka_unit_test_setup_teardown(bad_client_options_are_refused, setup, teardown),
	};

	/* The requests go to 127.0.0.1 directly, whatever the environment. */
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
