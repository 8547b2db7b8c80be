/* log.c: leveled, redacted, one-line logging. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "redact.h"

static enum log_level log_min = LOG_INFO;
static FILE *log_fp;		/* NULL: stderr */
static char log_path[512];

#define LOG_LINE_MAX 2048	/* bytes of a line after its timestamp and level */

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* Appends to path, creating it 0640 (owner writes, the admin group
 * reads, nobody else: ids and states only, but still an account of who
 * was reached and when). fopen's "a" would create it 0666 less the umask,
 * 0644 under the usual 022. An existing file keeps its mode. */
static FILE *log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	FILE *fp;

	if (fd < 0)
		return NULL;
	fp = fdopen(fd, "a");
	if (fp == NULL)
		close(fd);
	return fp;
}

int log_init(const char *level, const char *file)
{
	for (int i = 0; i <= LOG_ERROR; i++)
		if (level != NULL && strcmp(level, level_names[i]) == 0)
			log_min = (enum log_level)i;
	if (file != NULL && file[0] != '\0') {
		snprintf(log_path, sizeof(log_path), "%s", file);
		log_fp = log_open(log_path);
		if (log_fp == NULL) {
			fprintf(stderr, "pregond: cannot open log file %s: %s\n", file,
				strerror(errno));
			return -1;
		}
		setvbuf(log_fp, NULL, _IOLBF, 0);
	}
	return 0;
}

void log_reopen(void)
{
	FILE *fp;

	if (log_fp == NULL)
		return;
	fp = log_open(log_path);
	if (fp == NULL) {
		log_error("log reopen failed: %s", strerror(errno));
		return;
	}
	setvbuf(fp, NULL, _IOLBF, 0);
	fclose(log_fp);
	log_fp = fp;
}

void log_close(void)
{
	if (log_fp != NULL)
		fclose(log_fp);
	log_fp = NULL;
}

int log_enabled(enum log_level level)
{
	return level >= log_min;
}

void log_redact(char *s, size_t size)
{
	size_t len = strlen(s);
	char *copy = malloc(len + 1);

	if (copy == NULL) {
		/* No memory to redact with: blank every digit and at sign. */
		for (char *p = s; *p; p++)
			if ((*p >= '0' && *p <= '9') || *p == '@')
				*p = '*';
		return;
	}
	memcpy(copy, s, len + 1);
	redact_copy(s, size, copy, len);
	free(copy);
}

/* The line is formatted whole, redacted whole, and only then cut to
 * LOG_LINE_MAX bytes: a number that straddles the cut is still seen as
 * one (issue 12: a cut before redaction let half a number through). */
void log_write(enum log_level level, const char *fmt, ...)
{
	char small[LOG_LINE_MAX], line[LOG_LINE_MAX], ts[40];
	char *full = small;
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;

	if (level < log_min)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(small)) {
		full = malloc((size_t)n + 1);
		if (full == NULL) {
			/* Too long for the stack and no memory: say so, and
			 * write nothing of it (its end would go unredacted). */
			fprintf(log_fp ? log_fp : stderr, "%s.%03dZ %s log line of %d bytes dropped "
				"(out of memory)\n", ts, (int)(tv.tv_usec / 1000), level_names[level], n);
			return;
		}
		va_start(ap, fmt);
		vsnprintf(full, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	for (char *p = full; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	redact_copy(line, sizeof(line), full, (size_t)n);
	if (full != small)
		free(full);
	fprintf(log_fp ? log_fp : stderr, "%s.%03dZ %s %s\n", ts, (int)(tv.tv_usec / 1000),
		level_names[level], line);
}

const char *log_count(uint64_t n, char buf[32])
{
	char tmp[32];
	int len = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n), o = 0;

	for (int i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = '_';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}
