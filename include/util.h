/* util.h: small things many modules need.
 *
 * container_of: the struct that holds a member, from a pointer to the
 * member (libuv hands callbacks the handle; the handle lives inside the
 * struct that owns it).
 *
 * struct buf: a growable byte buffer, the one every module appends to
 * (an HTTP answer, a form body, a rendered template, /metrics). It may have
 * a maximum size: an append that would go over it fails and changes
 * nothing, so a caller can tell "too big" (-E2BIG) from "out of memory"
 * (-ENOMEM) and answer each in its own words. Every failure is also kept
 * in b->err, for callers that append many pieces and look once at the end.
 *
 * A zeroed struct buf is empty and ready (no maximum); set max before the
 * first append to have one. After any append that succeeded, p is not NULL
 * and p[len] is a NUL that is not counted in len, so the bytes can be used
 * as a C string when they hold no NUL of their own. */
#ifndef PREGON_UTIL_H
#define PREGON_UTIL_H

#include <stdarg.h>
#include <stddef.h>

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* The value of a hex digit (percent-encoding, chunk sizes), or -1. */
static inline int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

struct buf {
	char *p;	/* the bytes, malloc'd; NULL until the first append */
	size_t len;	/* bytes held, without the NUL after them */
	size_t cap;	/* bytes allocated */
	size_t max;	/* len never goes over it; 0: no maximum */
	int err;	/* the first failure: 0, -ENOMEM or -E2BIG */
};

/* Makes room for n more bytes (and the NUL), so that writing into
 * p + len and then buf_extend(b, n) cannot fail. Returns 0, -E2BIG (len + n
 * would pass max) or -ENOMEM; on failure b is unchanged but for err. */
int buf_reserve(struct buf *b, size_t n);

/* Counts n bytes written at p + len (into room from buf_reserve) and puts
 * the NUL after them. */
void buf_extend(struct buf *b, size_t n);

/* Appends s[0..n). Returns 0, -E2BIG or -ENOMEM (b then unchanged). */
int buf_add(struct buf *b, const void *s, size_t n);

/* Appends the string s. */
int buf_adds(struct buf *b, const char *s);

/* Appends printf-formatted text; all of it or, on failure, nothing. */
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);

/* Hands the bytes to the caller (free() them; NULL when nothing was ever
 * appended) and leaves b empty, with its max kept and err cleared. */
char *buf_take(struct buf *b);

/* Empties b for reuse, keeping its memory (and max); clears err. */
void buf_reset(struct buf *b);

/* Frees the bytes and leaves b empty, with its max kept and err cleared. */
void buf_free(struct buf *b);

#endif
