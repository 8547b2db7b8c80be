/* err.c: "field: problem" error messages, with and without the value. */
#include "err.h"

#include <stdio.h>
#include <string.h>

int err_set(struct err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->pub[0] = '\0';
	return -1;
}

int err_public(struct err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	snprintf(err->pub, sizeof(err->pub), "%s", err->msg);
	return -1;
}

int err_detail(struct err *err, const char *pub, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	snprintf(err->pub, sizeof(err->pub), "%s", pub);
	return -1;
}

void err_prefix(struct err *err, const char *prefix)
{
	char tmp[ERR_MSG_MAX];

	if (err == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.%s", prefix, err->msg);
	memcpy(err->msg, tmp, sizeof(tmp));
	if (err->pub[0] != '\0') {
		snprintf(tmp, sizeof(err->pub), "%s.%s", prefix, err->pub);
		memcpy(err->pub, tmp, sizeof(err->pub));
	}
}

static int wrap(struct err *err, int public, const char *fmt, va_list ap)
{
	char pre[ERR_MSG_MAX], tmp[ERR_MSG_MAX];

	if (err == NULL)
		return -1;
	vsnprintf(pre, sizeof(pre), fmt, ap);
	snprintf(tmp, sizeof(tmp), "%s%s", pre, err->msg);
	memcpy(err->msg, tmp, sizeof(tmp));
	if (public && err->pub[0] != '\0') {
		snprintf(tmp, sizeof(err->pub), "%s%s", pre, err->pub);
		memcpy(err->pub, tmp, sizeof(err->pub));
	}
	return -1;
}

int err_wrap(struct err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wrap(err, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int err_wrap_public(struct err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wrap(err, 1, fmt, ap);
	va_end(ap);
	return -1;
}
