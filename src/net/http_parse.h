/* http_parse.h: what http_server.c needs of http_parse.c beyond the public
 * http_parse_* of http_server.h. Private to src/ (not in include/): the
 * server parses one request at a time, pausing after each, while the public
 * http_parse_feed() loops over the same function for the fuzzer and tests. */
#ifndef PREGON_HTTP_PARSE_H
#define PREGON_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "http_server.h"

enum http_parse_phase {
	HTTP_PARSE_IDLE,	/* between requests: no byte of the next one yet */
	HTTP_PARSE_HEADERS,	/* request line and headers under way */
	HTTP_PARSE_BODY,	/* headers complete, body under way */
	HTTP_PARSE_DONE,	/* one request complete: see http_parse__req() */
};

/* Parses buf[0..len) until one request is complete (phase DONE), the bytes
 * run out, or an error. *used gets the bytes consumed; the rest belongs to
 * the next request. Returns 0, or the status to answer the error with
 * (400, 413, 431, 501); after an error every call returns the same status. */
int http_parse__run(struct http_parse *p, const char *buf, size_t len, size_t *used);

enum http_parse_phase http_parse__phase(const struct http_parse *p);

/* The complete request (phase DONE), valid until http_parse__next(). */
const struct http_req *http_parse__req(const struct http_parse *p);

/* Of the complete request: may the connection stay open after the answer
 * (HTTP/1.1 without "Connection: close", HTTP/1.0 with keep-alive, and no
 * Upgrade), and its minor version (HTTP/1.x). */
bool http_parse__keep_alive(const struct http_parse *p);
int http_parse__minor(const struct http_parse *p);

/* True once per request whose headers carried "Expect: 100-continue", a
 * body is coming and the limits allow it: the server then sends
 * "100 Continue" (RFC 9110 10.1.1). */
bool http_parse__take_continue(struct http_parse *p);

/* A short name for the last error (http-parser's errno name or pregon's
 * limit), for logs: it never quotes the input. */
const char *http_parse__error(const struct http_parse *p);

/* lim with every zero (or negative) field replaced by its default, so
 * callers can set only the limits they care about; lim NULL: defaults. */
void http_parse__limits(struct http_server_limits *out, const struct http_server_limits *lim);

/* Hands the complete request's body over (free() it; NULL when it has
 * none, *len then 0), so that the exchange need not copy it. */
char *http_parse__take_body(struct http_parse *p, size_t *len);

/* Forgets the complete request and readies the parser for the next one. */
void http_parse__next(struct http_parse *p);

#endif
