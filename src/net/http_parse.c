/* http_parse.c: HTTP/1.x request parsing without sockets, on http-parser
 * 2.9.4 (see http_server.h and http_parse.h).
 *
 * http-parser hands out fragments (a header name may arrive as "X-Sig" then
 * "nature"), so each request is assembled into one buffer of NUL-terminated
 * strings, recorded by offset while it grows and turned into pointers when
 * the request is complete. http-parser enforces none of pregon's limits
 * (its only cap, 80 KiB of headers, is process-global), so they are here:
 * header bytes are bounded by never feeding it more than the remaining
 * allowance while the headers are under way, the header count and body size
 * in the callbacks. Its leniencies (bare LF, obs-fold, "Name : value",
 * chunk data without its CRLF) are caught before it sees the bytes, by
 * http_strict.c; the transfer codings and Host, in on_headers_complete.
 *
 * The body limit is the route's (http_parse_set_body_limit), asked once
 * the method and path are known and before a byte of the body is held: a
 * Content-Length over it is refused at once (413), a chunked body is cut
 * off when it passes it. The body buffer grows with the bytes that arrive,
 * never with what Content-Length promises, so a stranger who announces
 * 1 MiB and sends ten bytes costs ten bytes. */
#include "http_parse.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "form.h"
#include "http_strict.h"
#include "util.h"

struct hdr_off {
	size_t name, value;	/* offsets into buf */
};

struct http_parse {
	http_parser parser;
	struct http_server_limits lim;
	enum http_parse_phase phase;
	int error;			/* status once failed, else 0 */
	bool closed;			/* a request without keep-alive was last */
	const char *error_name;
	struct http_strict strict;	/* RFC 9112 framing of this request */
	http_body_limit_fn body_limit;	/* the route's body limit, or NULL */
	void *body_limit_data;

	/* The request being assembled. */
	struct buf buf;			/* url, then names and values, NUL-separated */
	size_t url_len;			/* the url is at offset 0 */
	struct hdr_off *hoff;
	size_t n_headers, hoff_cap;
	bool in_value;			/* last callback was on_header_value */
	size_t head_bytes;		/* bytes fed since the request began */
	size_t trailer_bytes;
	struct buf body;		/* what arrived of the body */
	size_t body_max;		/* the route's limit for this request */
	bool keep_alive, want_continue;
	int minor;

	/* The complete request (phase DONE). */
	struct http_header_field *fields;
	struct http_req req;
};

static int fail(struct http_parse *p, int status, const char *name)
{
	if (p->error == 0) {
		p->error = status;
		p->error_name = name;
	}
	return -1;
}

/* Appends to buf, which holds at most the header allowance plus a few NULs
 * and the decoded path and query (each no longer than the url). */
static int req_add(struct http_parse *p, const char *s, size_t n)
{
	if (buf_add(&p->buf, s, n) != 0)
		return fail(p, 500, "out of memory");
	return 0;
}

/* Appends buf[off..off+n), which req_add() cannot do: it may move buf. */
static int req_add_self(struct http_parse *p, size_t off, size_t n)
{
	if (buf_reserve(&p->buf, n) != 0)
		return fail(p, 500, "out of memory");
	memcpy(p->buf.p + p->buf.len, p->buf.p + off, n);
	buf_extend(&p->buf, n);
	return 0;
}

static int on_message_begin(http_parser *hp)
{
	struct http_parse *p = hp->data;

	p->phase = HTTP_PARSE_HEADERS;
	return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
	struct http_parse *p = hp->data;

	p->url_len += n;
	return req_add(p, at, n);
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
	struct http_parse *p = hp->data;

	if (p->phase != HTTP_PARSE_HEADERS) {
		/* A trailer after a chunked body: counted, not kept. Only
		 * the bytes count, not the calls: fragments must not matter. */
		p->trailer_bytes += n;
		if (p->trailer_bytes > p->lim.max_header_bytes)
			return fail(p, 431, "trailers too large");
		return 0;
	}
	if (p->n_headers == 0 || p->in_value) {
		if (p->n_headers == p->lim.max_headers)
			return fail(p, 431, "too many headers");
		if (p->n_headers == p->hoff_cap) {
			size_t cap = p->hoff_cap ? p->hoff_cap * 2 : 16;
			struct hdr_off *nh = realloc(p->hoff, cap * sizeof(*nh));

			if (nh == NULL)
				return fail(p, 500, "out of memory");
			p->hoff = nh;
			p->hoff_cap = cap;
		}
		if (req_add(p, "", 1) < 0)	/* ends the url or the last value */
			return -1;
		p->hoff[p->n_headers].name = p->buf.len;
		p->hoff[p->n_headers].value = p->buf.len;
		p->n_headers++;
		p->in_value = false;
	}
	return req_add(p, at, n);
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
	struct http_parse *p = hp->data;

	if (p->phase != HTTP_PARSE_HEADERS) {
		p->trailer_bytes += n;
		if (p->trailer_bytes > p->lim.max_header_bytes)
			return fail(p, 431, "trailers too large");
		return 0;
	}
	if (!p->in_value) {
		if (req_add(p, "", 1) < 0)	/* ends the name */
			return -1;
		p->hoff[p->n_headers - 1].value = p->buf.len;
		p->in_value = true;
	}
	return req_add(p, at, n);
}

static bool ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* Splits the url into path and query, percent-decodes the path (RFC 3986
 * 2.1; '+' stays '+' in a path) and appends both to buf. Offsets out. */
static int split_target(struct http_parse *p, size_t *path_at, size_t *query_at)
{
	struct http_parser_url u;
	const char *url = p->buf.p;
	long n;

	if (memchr(url, '\0', p->url_len) != NULL)
		return fail(p, 400, "NUL in target");
	http_parser_url_init(&u);
	if (http_parser_parse_url(url, p->url_len, p->parser.method == HTTP_CONNECT, &u) != 0)
		return fail(p, 400, "invalid target");
	if (req_add(p, "", 1) < 0)
		return -1;
	*path_at = p->buf.len;
	if (u.field_set & (1 << UF_PATH)) {
		size_t off = u.field_data[UF_PATH].off, len = u.field_data[UF_PATH].len;

		/* origin-form or absolute-form; "*" and the like are not
		 * paths pregon serves (RFC 9112 3.2). */
		if (len == 0 || p->buf.p[off] != '/')
			return fail(p, 400, "target is not a path");

		/* Decoded in place in a copy at the end: the target stays. */
		if (req_add_self(p, off, len) < 0)
			return -1;
		n = form_unescape(p->buf.p + *path_at, p->buf.p + *path_at, len, 0);
		if (n < 0)
			return fail(p, 400, "bad percent escape in path");
		if (memchr(p->buf.p + *path_at, '\0', (size_t)n) != NULL)
			return fail(p, 400, "%00 in path");
		p->buf.len = *path_at + (size_t)n;	/* the NUL follows */
	}
	if (req_add(p, "", 1) < 0)
		return -1;
	*query_at = p->buf.len;
	if (u.field_set & (1 << UF_QUERY)) {
		if (req_add_self(p, u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len) < 0)
			return -1;
	}
	return req_add(p, "", 1);
}

/* Trailing spaces and tabs of a value (http-parser drops the leading ones). */
static void trim_value(char *v)
{
	size_t n = strlen(v);

	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[--n] = '\0';
}

/* RFC 9112 3.2: an HTTP/1.1 request has exactly one Host; an HTTP/1.0
 * one at most. Two Hosts are how a request names one site to a proxy and
 * another to us. */
static int check_host(struct http_parse *p)
{
	size_t i, n = 0;

	for (i = 0; i < p->req.n_headers; i++)
		if (ieq(p->req.headers[i].name, "Host"))
			n++;
	if (n > 1)
		return fail(p, 400, "more than one Host");
	if (n == 0 && p->parser.http_minor >= 1)
		return fail(p, 400, "HTTP/1.1 without Host");
	return 0;
}

/* Transfer-Encoding, every line of it (RFC 9112 6.1, 6.3): pregon
 * implements chunked alone, so any other coding is 501 (http-parser would
 * read "gzip, chunked" as chunked, and a proxy might not); chunked twice
 * is 400, and so is any Transfer-Encoding in HTTP/1.0, which has none
 * (6.1: faulty framing). Empty list elements are skipped (RFC 9110 5.6.1),
 * though http-parser refuses a Transfer-Encoding that starts with one. */
static int check_transfer_coding(struct http_parse *p)
{
	size_t i, chunked = 0;
	bool seen = false;

	for (i = 0; i < p->req.n_headers; i++) {
		const char *v = p->req.headers[i].value;

		if (!ieq(p->req.headers[i].name, "Transfer-Encoding"))
			continue;
		seen = true;
		while (*v != '\0') {
			size_t n = strcspn(v, ","), end = n;

			while (n > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				n--;
				end--;
			}
			while (end > 0 && (v[end - 1] == ' ' || v[end - 1] == '\t'))
				end--;
			if (end == 7 && strncasecmp(v, "chunked", 7) == 0)
				chunked++;
			else if (end > 0)
				return fail(p, 501, "transfer coding not implemented");
			v += n;
			if (*v == ',')
				v++;
		}
	}
	if (!seen)
		return 0;
	if (p->parser.http_minor == 0)
		return fail(p, 400, "transfer-encoding in HTTP/1.0");
	if (chunked != 1)
		return fail(p, 400, "chunked applied other than once");
	return 0;
}

/* The body limit of this request: the route's, at most the server's. */
static size_t body_limit_of(struct http_parse *p)
{
	size_t max = p->lim.max_body_bytes;

	if (p->body_limit != NULL) {
		size_t r = p->body_limit(p->body_limit_data, p->req.method, p->req.path);

		if (r < max)
			max = r;
	}
	return max;
}

static int on_headers_complete(http_parser *hp)
{
	struct http_parse *p = hp->data;
	size_t i, path_at, query_at;
	bool has_body;

	/* http-parser is fed no further than the end of the head the framing
	 * rules found: if it sees an end before that, the two disagree on
	 * where the head ends, which is what smuggling feeds on. */
	if (p->strict.part != HTTP_STRICT_DONE)
		return fail(p, 400, "head ends where the framing rules see none");
	/* HTTP/0.9 ("GET /path" alone) and anything but 1.x: refused. */
	if (hp->http_major != 1)
		return fail(p, 400, "not HTTP/1.x");
	if (p->n_headers == 0 && req_add(p, "", 1) < 0)	/* ends the url */
		return -1;
	if (p->n_headers > 0 && req_add(p, "", 1) < 0)	/* ends the last value */
		return -1;
	if (split_target(p, &path_at, &query_at) < 0)
		return -1;
	p->fields = calloc(p->n_headers ? p->n_headers : 1, sizeof(*p->fields));
	if (p->fields == NULL)
		return fail(p, 500, "out of memory");
	/* buf no longer grows: pointers are stable from here. */
	for (i = 0; i < p->n_headers; i++) {
		p->fields[i].name = p->buf.p + p->hoff[i].name;
		p->fields[i].value = p->buf.p + p->hoff[i].value;
		trim_value(p->buf.p + p->hoff[i].value);
	}
	p->req.method = http_method_str((enum http_method)hp->method);
	p->req.target = p->buf.p;
	p->req.path = p->buf.p + path_at;
	p->req.query = p->buf.p + query_at;
	p->req.headers = p->fields;
	p->req.n_headers = p->n_headers;
	p->minor = hp->http_minor;

	if (check_host(p) < 0 || check_transfer_coding(p) < 0)
		return -1;
	http_strict_body(&p->strict, (hp->flags & F_CHUNKED) != 0);

	has_body = (hp->flags & F_CHUNKED) ||
		   ((hp->flags & F_CONTENTLENGTH) && hp->content_length > 0);
	p->body_max = body_limit_of(p);
	if ((hp->flags & F_CONTENTLENGTH) && !(hp->flags & F_CHUNKED)) {
		/* Refused before a byte of it is read (RFC 9110 15.5.14).
		 * Nothing is reserved for it: the buffer grows as bytes come. */
		if (hp->content_length > p->body_max)
			return fail(p, 413, "content-length over the limit");
	}
	if (has_body && hp->http_major == 1 && hp->http_minor >= 1) {
		const char *e = http_req_header(&p->req, "Expect");

		p->want_continue = e != NULL && ieq(e, "100-continue");
	}
	p->phase = HTTP_PARSE_BODY;
	return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
	struct http_parse *p = hp->data;

	/* A chunked body is cut off here, at the limit (a Content-Length
	 * one never gets this far). */
	if (n > p->body_max - p->body.len)
		return fail(p, 413, "body over the limit");
	if (buf_add(&p->body, at, n) != 0)
		return fail(p, 500, "out of memory");
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	struct http_parse *p = hp->data;

	if (p->strict.part != HTTP_STRICT_DONE)
		return fail(p, 400, "chunked body ends where the framing rules see none");
	p->req.body = p->body.p != NULL ? p->body.p : "";
	p->req.body_len = p->body.len;
	p->keep_alive = http_should_keep_alive(hp) && !hp->upgrade &&
			!(hp->flags & F_UPGRADE);
	p->phase = HTTP_PARSE_DONE;
	/* One request at a time: execute() returns here, the rest waits. */
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

struct http_parse *http_parse_new(const struct http_server_limits *lim)
{
	struct http_parse *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	http_parse__limits(&p->lim, lim);
	p->body_max = p->lim.max_body_bytes;
	http_strict_init(&p->strict);
	http_parser_init(&p->parser, HTTP_REQUEST);
	p->parser.data = p;
	return p;
}

static void clear_request(struct http_parse *p)
{
	free(p->fields);
	buf_free(&p->body);
	p->fields = NULL;
	buf_reset(&p->buf);
	p->url_len = 0;
	p->n_headers = 0;
	p->in_value = false;
	p->head_bytes = 0;
	p->trailer_bytes = 0;
	p->keep_alive = false;
	p->want_continue = false;
	p->body_max = p->lim.max_body_bytes;
	http_strict_init(&p->strict);
	memset(&p->req, 0, sizeof(p->req));
}

void http_parse_set_body_limit(struct http_parse *p, http_body_limit_fn fn, void *data)
{
	p->body_limit = fn;
	p->body_limit_data = data;
}

char *http_parse__take_body(struct http_parse *p, size_t *len)
{
	if (p->phase != HTTP_PARSE_DONE || p->body.p == NULL) {
		*len = 0;
		return NULL;
	}
	*len = p->body.len;
	p->req.body = "";
	p->req.body_len = 0;
	return buf_take(&p->body);
}

void http_parse__next(struct http_parse *p)
{
	if (p->error != 0)
		return;
	if (p->phase == HTTP_PARSE_DONE && !p->keep_alive)
		p->closed = true;
	clear_request(p);
	p->phase = HTTP_PARSE_IDLE;
	http_parser_pause(&p->parser, 0);
}

int http_parse__run(struct http_parse *p, const char *buf, size_t len, size_t *used)
{
	*used = 0;
	if (p->closed && len > 0)
		fail(p, 400, "data after a closing request");
	if (p->error != 0)
		return p->error;
	while (*used < len && p->phase != HTTP_PARSE_DONE) {
		size_t chunk = len - *used, n;
		bool in_head = p->phase == HTTP_PARSE_IDLE || p->phase == HTTP_PARSE_HEADERS;
		enum http_errno e;

		if (in_head) {
			size_t allow = p->lim.max_header_bytes - p->head_bytes;

			if (allow == 0) {
				fail(p, 431, "headers too large");
				break;
			}
			if (chunk > allow)
				chunk = allow;
		}
		if (p->strict.part != HTTP_STRICT_DONE) {
			/* The framing rules first; http-parser gets what passed,
			 * up to the end of the head or of a chunked body, so
			 * that on_headers_complete can say what comes next. */
			long ok = http_strict_scan(&p->strict, buf + *used, chunk);

			if (ok < 0) {
				fail(p, 400, p->strict.why);
				break;
			}
			if (ok > 0)
				chunk = (size_t)ok;
		}
		n = http_parser_execute(&p->parser, &settings, buf + *used, chunk);
		if (in_head)
			p->head_bytes += n;
		*used += n;
		if (p->error != 0)
			break;
		e = HTTP_PARSER_ERRNO(&p->parser);
		if (e == HPE_PAUSED)
			break;		/* on_message_complete */
		if (e == HPE_OK && n == chunk && p->strict.part == HTTP_STRICT_DONE &&
		    (p->phase == HTTP_PARSE_IDLE || p->phase == HTTP_PARSE_HEADERS ||
		     (p->phase == HTTP_PARSE_BODY && (p->parser.flags & F_CHUNKED)))) {
			/* Fed up to where the framing rules end the head (or the
			 * chunked body), http-parser did not end it there: it
			 * reads these bytes otherwise ("POST / H" then CRLF
			 * CRLF went on as a head), and would go on unchecked. */
			fail(p, 400, "http-parser and the framing rules disagree");
			break;
		}
		if (e != HPE_OK) {
			fail(p, e == HPE_HEADER_OVERFLOW ? 431 : 400, http_errno_name(e));
			break;
		}
		if (n < chunk) {
			/* An upgrade (or CONNECT) stops the parser without a
			 * pause: what follows is not HTTP, and pregon speaks no
			 * other protocol. */
			if (p->phase != HTTP_PARSE_DONE)
				fail(p, 400, "parser stopped");
			break;
		}
	}
	return p->error;
}

enum http_parse_phase http_parse__phase(const struct http_parse *p)
{
	return p->phase;
}

const struct http_req *http_parse__req(const struct http_parse *p)
{
	return p->phase == HTTP_PARSE_DONE ? &p->req : NULL;
}

bool http_parse__keep_alive(const struct http_parse *p)
{
	return p->keep_alive;
}

int http_parse__minor(const struct http_parse *p)
{
	return p->minor;
}

bool http_parse__take_continue(struct http_parse *p)
{
	bool w = p->want_continue && p->error == 0;

	p->want_continue = false;
	return w;
}

const char *http_parse__error(const struct http_parse *p)
{
	return p->error_name != NULL ? p->error_name : "none";
}

int http_parse_feed(struct http_parse *p, const char *buf, size_t len,
		    void (*on_request)(void *data, const struct http_req *req), void *data)
{
	size_t off = 0;

	while (off < len || p->phase == HTTP_PARSE_DONE) {
		size_t used;
		int st = http_parse__run(p, buf + off, len - off, &used);

		off += used;
		if (st != 0)
			return st;
		if (p->phase != HTTP_PARSE_DONE)
			break;
		on_request(data, &p->req);
		/* After a request without keep-alive, anything more is an
		 * error (the server closes instead of reading it). */
		http_parse__next(p);
	}
	return 0;
}

void http_parse_free(struct http_parse *p)
{
	if (p == NULL)
		return;
	clear_request(p);
	buf_free(&p->buf);
	free(p->hoff);
	free(p);
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->n_headers; i++)
		if (ieq(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}

void http_parse__limits(struct http_server_limits *out, const struct http_server_limits *lim)
{
	struct http_server_limits def;

	http_server_limits_default(&def);
	if (lim == NULL) {
		*out = def;
		return;
	}
	*out = *lim;
#define FILL(f) do { if (out->f <= 0) out->f = def.f; } while (0)
	FILL(max_header_bytes);
	FILL(max_headers);
	FILL(max_body_bytes);
	FILL(max_connections);
	FILL(max_per_peer);
	FILL(request_timeout_ms);
	FILL(idle_timeout_ms);
	FILL(write_timeout_ms);
#undef FILL
}

void http_server_limits_default(struct http_server_limits *lim)
{
	lim->max_header_bytes = 8 * 1024;
	lim->max_headers = 64;
	lim->max_body_bytes = 1024 * 1024;
	lim->max_connections = 1024;
	lim->max_per_peer = 256;
	lim->request_timeout_ms = 10000;
	lim->idle_timeout_ms = 60000;
	lim->write_timeout_ms = 30000;
}
