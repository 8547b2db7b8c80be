/* fuzz_http_parse.c: libFuzzer target for the request parsing underneath
 * the HTTP listener (src/http_parse.c on http-parser, src/form.c for the
 * path's percent-decoding): the same http_parse__run the server uses,
 * through http_parse_feed. Requests come from anyone who reaches the port.
 *
 * Input: the byte stream itself (so the seeds in tests/fixtures/http/ are
 * plain raw requests); a hash of it picks the limits (defaults, or for a
 * quarter of the inputs tiny ones so that every limit is reached) and
 * seeds the split points. It is parsed twice, in one piece and in random-sized pieces, and
 * both must see the same requests (compared by a hash of every field) and
 * both fail or neither: fragments (a header name in two reads) must not
 * change the result. Beyond "no crash, no leak, no UB" each request
 * must respect the limits, have its body NUL-terminated, a path without
 * NUL that starts with '/' or is empty, and the status is 0, 400, 413,
 * 431 or 501.
 *
 * Issue 12: routes have their own body limits (a path starting "/small"
 * takes at most 16 bytes, as a webhook takes a few KiB; others the
 * server's), which every request must respect; and what the strict rules
 * (http_strict.c, RFC 9112) let through must hold to them: header names
 * are tokens, values hold no CR, LF or other control but HTAB, at most
 * one Host (and one for HTTP/1.1), and no Transfer-Encoding but chunked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_server.h"

#define SMALL_ROUTE_MAX 16

struct run {
	const struct http_server_limits *lim;
	uint64_t hash;
	size_t n;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL;	/* separator */
}

static uint64_t mix_str(uint64_t h, const char *s)
{
	return mix(h, s, strlen(s));
}

static size_t route_limit(void *data, const char *method, const char *path)
{
	(void)data;
	(void)method;
	return strncmp(path, "/small", 6) == 0 ? SMALL_ROUTE_MAX : (size_t)-1;
}

static int is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Every element of a Transfer-Encoding list is chunked (or empty). */
static void check_chunked_only(const char *v)
{
	while (*v != '\0') {
		size_t n = strcspn(v, ","), b = 0, e = n;

		while (b < e && (v[b] == ' ' || v[b] == '\t'))
			b++;
		while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > b && !(e - b == 7 && strncasecmp(v + b, "chunked", 7) == 0))
			abort();
		v += n;
		if (*v == ',')
			v++;
	}
}

/* What the strict rules promise of every request they let through. */
static void check_strict(const struct http_req *req)
{
	size_t i, hosts = 0;
	const char *s;

	for (i = 0; i < req->n_headers; i++) {
		const char *name = req->headers[i].name;

		for (s = name; *s != '\0'; s++)
			if (!is_tchar((unsigned char)*s))
				abort();
		for (s = req->headers[i].value; *s != '\0'; s++)
			if ((unsigned char)*s < 0x20 && *s != '\t')
				abort();
			else if (*s == 0x7f)
				abort();
		if (strcasecmp(name, "Host") == 0)
			hosts++;
		if (strcasecmp(name, "Transfer-Encoding") == 0)
			check_chunked_only(req->headers[i].value);
	}
	if (hosts > 1)
		abort();
	for (s = req->target; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

static void on_request(void *data, const struct http_req *req)
{
	struct run *r = data;
	size_t i;

	if (req->method == NULL || req->target == NULL || req->path == NULL ||
	    req->query == NULL || req->body == NULL)
		abort();
	if (req->n_headers > r->lim->max_headers || req->body_len > r->lim->max_body_bytes)
		abort();
	if (req->body[req->body_len] != '\0')
		abort();
	if (strncmp(req->path, "/small", 6) == 0 && req->body_len > SMALL_ROUTE_MAX)
		abort();
	check_strict(req);
	if (req->path[0] != '\0' && req->path[0] != '/')
		abort();
	if (strlen(req->target) > r->lim->max_header_bytes)
		abort();
	r->hash = mix_str(r->hash, req->method);
	r->hash = mix_str(r->hash, req->target);
	r->hash = mix_str(r->hash, req->path);
	r->hash = mix_str(r->hash, req->query);
	for (i = 0; i < req->n_headers; i++) {
		const char *v = req->headers[i].value;
		size_t n = strlen(v);

		if (req->headers[i].name[0] == '\0')
			abort();
		if (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			abort();	/* trimmed */
		if (http_req_header(req, req->headers[i].name) == NULL)
			abort();
		r->hash = mix_str(r->hash, req->headers[i].name);
		r->hash = mix_str(r->hash, v);
	}
	r->hash = mix(r->hash, req->body, req->body_len);
	r->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_server_limits lim;
	struct run one = { &lim, 1469598103934665603ULL, 0 };
	struct run pieces = { &lim, 1469598103934665603ULL, 0 };
	struct http_parse *p;
	uint32_t seed;
	const char *in;
	size_t len, off;
	int st1, st2 = 0;

	seed = (uint32_t)mix(1469598103934665603ULL, data, size);
	in = (const char *)data;
	len = size;
	http_server_limits_default(&lim);
	if (seed % 4 == 0) {
		lim.max_header_bytes = 32 + (seed >> 8) % 200;
		lim.max_headers = 1 + (seed >> 16) % 4;
		lim.max_body_bytes = 1 + (seed >> 20) % 64;	/* 0 would mean the default */
	}

	p = http_parse_new(&lim);
	if (p == NULL)
		abort();
	http_parse_set_body_limit(p, route_limit, NULL);
	st1 = http_parse_feed(p, in, len, on_request, &one);
	http_parse_free(p);

	p = http_parse_new(&lim);
	if (p == NULL)
		abort();
	http_parse_set_body_limit(p, route_limit, NULL);
	for (off = 0; off < len && st2 == 0;) {
		size_t n;

		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 16) % 17;
		if ((seed & 0x7) == 0)
			n += (seed >> 8) % 700;
		if (n > len - off)
			n = len - off;
		st2 = http_parse_feed(p, in + off, n, on_request, &pieces);
		off += n;
	}
	http_parse_free(p);

	if (st1 != 0 && st1 != 400 && st1 != 413 && st1 != 431 && st1 != 501)
		abort();
	/* A request with two faults (too many headers, and a bad one) may
	 * be refused for either, depending on where the reads split it:
	 * http-parser reports a fragment when a read ends, so a limit can be
	 * seen before the syntax error that one read would hit first. */
	if ((st1 == 0) != (st2 == 0) || one.n != pieces.n || one.hash != pieces.hash)
		abort();
	return 0;
}
