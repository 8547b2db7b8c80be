/* util.c: the growable byte buffer (see util.h). */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation; each one after doubles, up to max + 1. */
#define BUF_FIRST_CAP 64

static int fail(struct buf *b, int code)
{
	if (b->err == 0)
		b->err = code;
	return code;
}

int buf_reserve(struct buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (b->max != 0 && (b->len > b->max || n > b->max - b->len))
		return fail(b, -E2BIG);
	if (n > (size_t)-1 / 2 - b->len)
		return fail(b, -ENOMEM);
	need = b->len + n + 1;
	if (b->p != NULL && need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : BUF_FIRST_CAP;
	while (cap < need)
		cap *= 2;
	if (b->max != 0 && cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->p, cap);
	if (p == NULL)
		return fail(b, -ENOMEM);
	if (b->p == NULL)
		p[0] = '\0';
	b->p = p;
	b->cap = cap;
	return 0;
}

void buf_extend(struct buf *b, size_t n)
{
	b->len += n;
	b->p[b->len] = '\0';
}

int buf_add(struct buf *b, const void *s, size_t n)
{
	int rc = buf_reserve(b, n);

	if (rc != 0)
		return rc;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	buf_extend(b, n);
	return 0;
}

int buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	char probe[256];
	int n, rc;

	/* Measure first (into a small buffer, often enough), then format
	 * once more into room that is sure to hold it. */
	va_copy(again, ap);
	n = vsnprintf(probe, sizeof(probe), fmt, ap);
	if (n < 0) {
		va_end(again);
		return fail(b, -ENOMEM);
	}
	rc = buf_reserve(b, (size_t)n);
	if (rc == 0) {
		if ((size_t)n < sizeof(probe))
			memcpy(b->p + b->len, probe, (size_t)n);
		else
			vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
		buf_extend(b, (size_t)n);
	}
	va_end(again);
	return rc;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *buf_take(struct buf *b)
{
	char *p = b->p;

	b->p = NULL;
	b->len = b->cap = 0;
	b->err = 0;
	return p;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->err = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void buf_free(struct buf *b)
{
	free(buf_take(b));
}
