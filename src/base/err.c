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

int err_wrap(struct err *err, const char *fmt, ...)
{
	char tmp[ERR_MSG_MAX];
	va_list ap;
	int n;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(tmp))
		snprintf(tmp + n, sizeof(tmp) - (size_t)n, "%s", err->msg);
	memcpy(err->msg, tmp, sizeof(tmp));
	return -1;
}
