/* err.c: "field: problem" error messages. */
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
	return -1;
}

void err_prefix(struct err *err, const char *prefix)
{
	char tmp[ERR_MSG_MAX];

	if (err == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.%s", prefix, err->msg);
	memcpy(err->msg, tmp, sizeof(tmp));
}
