/* http_strict.h: the framing rules of RFC 9112 that http-parser 2.9.4 lets
 * through, checked on the raw bytes before http-parser sees them.
 *
 * Private to src/net/ (http_parse.c is its one user). Behind a proxy that
 * parses differently, each leniency is a way to smuggle a second request
 * past the proxy (RFC 9112 11.2), so each is answered 400:
 *
 *   - a line that ends in a bare LF or a CR not followed by LF (2.2);
 *   - a request line with other than single spaces between its three
 *     parts (3), or a control character in it;
 *   - whitespace between a header name and its colon (5.1), an empty
 *     name, a name that is not a token (RFC 9110 5.1);
 *   - a folded header line, obs-fold (5.2), and whitespace before the
 *     first header;
 *   - a control character (but HTAB) in a header value (RFC 9110 5.5);
 *   - in a chunked body: a chunk size that is not hex digits (or too
 *     long to be a size), data not followed by CRLF, and trailers held to
 *     the header rules (7.1).
 *
 * The scanner is fed the same bytes as http-parser, in any pieces: each
 * call stops right after the end of the head (the empty line), so that
 * the caller can let http-parser reach on_headers_complete and say whether
 * a chunked body follows, and right after the end of a chunked body. */
#ifndef PREGON_HTTP_STRICT_H
#define PREGON_HTTP_STRICT_H

#include <stddef.h>
#include <stdint.h>

enum http_strict_part {
	HTTP_STRICT_HEAD,	/* request line and headers */
	HTTP_STRICT_CHUNKED,	/* a chunked body and its trailers */
	HTTP_STRICT_DONE,	/* the head (or chunked body) has ended */
};

struct http_strict {
	enum http_strict_part part;
	int state;		/* within the part (http_strict.c) */
	int after_cr;		/* the state to go to after the LF of a CRLF */
	unsigned spaces;	/* request line: spaces seen */
	unsigned digits;	/* chunk size: hex digits seen */
	uint64_t left;		/* chunk data bytes still to come */
	const char *why;	/* the rule broken, for logs: never the input */
};

/* Ready for a request's head. */
void http_strict_init(struct http_strict *s);

/* After the head: a chunked body follows (the framing rules go on) or
 * not (nothing more to check until the next request). */
void http_strict_body(struct http_strict *s, int chunked);

/* Checks buf[0..len). Returns the bytes that passed, which stop right
 * after the head's empty line or the chunked body's end (the rest is for
 * after http_strict_body() or the next request), or -1 when a rule is
 * broken (s->why says which). In part DONE it returns 0. */
long http_strict_scan(struct http_strict *s, const char *buf, size_t len);

#endif
