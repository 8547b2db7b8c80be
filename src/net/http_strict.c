/* http_strict.c: RFC 9112 framing rules on the raw bytes (see
 * http_strict.h). One state machine, a byte at a time, so that where the
 * reads split a request never changes the outcome. */
#include "http_strict.h"
#include "util.h"

#include <stdbool.h>

enum {
	S_START,	/* before the request line: only CRLFs (RFC 9112 2.2) */
	S_REQ,		/* in the request line, not after a space */
	S_REQ_SP,	/* just after one of its spaces */
	S_CR,		/* a CR: only LF may follow, then after_cr */
	S_LINE,		/* start of a header (or trailer) line, or the end */
	S_NAME,		/* in a field name */
	S_VALUE,	/* in a field value */
	S_END,		/* after_cr only: the empty line that ends a section */
	S_SIZE,		/* chunk size */
	S_SIZE_WS,	/* whitespace after it: only ';' may follow (7.1.1 BWS) */
	S_EXT,		/* chunk extension, up to CRLF (its content is ignored) */
	S_DATA,		/* chunk data: left bytes */
	S_DATA_END,	/* the CR that must follow chunk data */
};

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return true;
	default:
		return false;
	}
}

/* A field value's octets: HTAB, SP, VCHAR, obs-text (RFC 9110 5.5). */
static bool is_field_octet(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

void http_strict_init(struct http_strict *s)
{
	*s = (struct http_strict){ .part = HTTP_STRICT_HEAD, .state = S_START };
}

void http_strict_body(struct http_strict *s, int chunked)
{
	s->part = chunked ? HTTP_STRICT_CHUNKED : HTTP_STRICT_DONE;
	s->state = S_SIZE;
	s->digits = 0;
	s->left = 0;
}

static long broken(struct http_strict *s, const char *why)
{
	s->why = why;
	return -1;
}

/* A CR was seen: an LF must follow, then state next. */
static void expect_lf(struct http_strict *s, int next)
{
	s->state = S_CR;
	s->after_cr = next;
}

/* One byte of a header or trailer line (states S_LINE, S_NAME, S_VALUE).
 * Returns 0 or -1. */
static int field_byte(struct http_strict *s, unsigned char c)
{
	switch (s->state) {
	case S_LINE:
		if (c == '\r')
			expect_lf(s, S_END);
		else if (c == ' ' || c == '\t')
			return (int)broken(s, "folded or indented header line");
		else if (c == ':')
			return (int)broken(s, "empty header name");
		else if (c == '\n')
			return (int)broken(s, "bare LF");
		else if (is_tchar(c))
			s->state = S_NAME;
		else
			return (int)broken(s, "header name is not a token");
		return 0;
	case S_NAME:
		if (c == ':')
			s->state = S_VALUE;
		else if (c == ' ' || c == '\t')
			return (int)broken(s, "whitespace before the colon");
		else if (c == '\r' || c == '\n')
			return (int)broken(s, "header line without a colon");
		else if (!is_tchar(c))
			return (int)broken(s, "header name is not a token");
		return 0;
	default:	/* S_VALUE */
		if (c == '\r')
			expect_lf(s, S_LINE);
		else if (c == '\n')
			return (int)broken(s, "bare LF");
		else if (!is_field_octet(c))
			return (int)broken(s, "control character in a header value");
		return 0;
	}
}

/* One byte of the request line (S_START, S_REQ, S_REQ_SP). */
static int request_line_byte(struct http_strict *s, unsigned char c)
{
	if (s->state == S_START) {
		if (c == '\r') {
			expect_lf(s, S_START);
			return 0;
		}
		if (c == '\n')
			return (int)broken(s, "bare LF");
		if (c == ' ' || c == '\t')
			return (int)broken(s, "whitespace before the request line");
		s->state = S_REQ;
	}
	if (c == '\r') {
		if (s->state == S_REQ_SP || s->spaces != 2)
			return (int)broken(s, "request line is not method SP target SP version");
		expect_lf(s, S_LINE);
	} else if (c == ' ') {
		if (s->state == S_REQ_SP || ++s->spaces > 2)
			return (int)broken(s, "request line is not method SP target SP version");
		s->state = S_REQ_SP;
	} else if (c == '\n') {
		return (int)broken(s, "bare LF");
	} else if (c < 0x21 || c >= 0x7f) {
		/* The method is a token, the target and version are ASCII
		 * (RFC 9112 3, RFC 3986 2): HTAB, controls and octets over
		 * 0x7e have no place in it. */
		return (int)broken(s, "control or non-ASCII octet in the request line");
	} else {
		s->state = S_REQ;
	}
	return 0;
}

/* One byte of a chunk-size line (S_SIZE, S_SIZE_WS, S_EXT). */
static int chunk_line_byte(struct http_strict *s, unsigned char c)
{
	int v = hex_digit(c);

	if (s->state == S_SIZE && v >= 0) {
		/* 15 hex digits are 60 bits: no overflow, and far beyond any
		 * body limit (which http_parse.c enforces on the data). */
		if (++s->digits > 15)
			return (int)broken(s, "chunk size too long");
		s->left = s->left * 16 + (uint64_t)v;
		return 0;
	}
	if (s->state != S_EXT && s->digits == 0)
		return (int)broken(s, "chunk size is not hex digits");
	if (c == '\r') {
		if (s->state == S_SIZE_WS)
			return (int)broken(s, "whitespace after a chunk size");
		expect_lf(s, s->left > 0 ? S_DATA : S_LINE);
	} else if (c == '\n') {
		return (int)broken(s, "bare LF");
	} else if (s->state == S_EXT) {
		if (!is_field_octet(c))
			return (int)broken(s, "control character in a chunk extension");
	} else if (c == ';') {
		s->state = S_EXT;
	} else if (c == ' ' || c == '\t') {
		s->state = S_SIZE_WS;
	} else {
		return (int)broken(s, "chunk size is not hex digits");
	}
	return 0;
}

long http_strict_scan(struct http_strict *s, const char *buf, size_t len)
{
	size_t i = 0;

	if (s->why != NULL)
		return -1;
	while (i < len && s->part != HTTP_STRICT_DONE) {
		unsigned char c = (unsigned char)buf[i];
		int rc = 0;

		switch (s->state) {
		case S_START:
		case S_REQ:
		case S_REQ_SP:
			rc = request_line_byte(s, c);
			break;
		case S_CR:
			if (c != '\n')
				return broken(s, "CR not followed by LF");
			s->state = s->after_cr;
			if (s->state == S_END)
				s->part = HTTP_STRICT_DONE;
			else if (s->state == S_SIZE) {
				s->digits = 0;
				s->left = 0;
			}
			break;
		case S_LINE:
		case S_NAME:
		case S_VALUE:
			rc = field_byte(s, c);
			break;
		case S_SIZE:
		case S_SIZE_WS:
		case S_EXT:
			rc = chunk_line_byte(s, c);
			break;
		case S_DATA: {
			size_t n = len - i;

			if (n > s->left)
				n = (size_t)s->left;
			s->left -= n;
			i += n;
			if (s->left == 0)
				s->state = S_DATA_END;
			continue;
		}
		case S_DATA_END:
			if (c != '\r')
				return broken(s, "chunk data not followed by CRLF");
			expect_lf(s, S_SIZE);
			break;
		default:
			return broken(s, "scanner state");
		}
		if (rc < 0)
			return -1;
		i++;
	}
	return (long)i;
}
