/* log.c: leveled, redacted, one-line logging. */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum log_level log_min = LOG_INFO;
static FILE *log_fp;		/* NULL: stderr */
static char log_path[512];

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int log_init(const char *level, const char *file)
{
	for (int i = 0; i <= LOG_ERROR; i++)
		if (level != NULL && strcmp(level, level_names[i]) == 0)
			log_min = (enum log_level)i;
	if (file != NULL && file[0] != '\0') {
		snprintf(log_path, sizeof(log_path), "%s", file);
		log_fp = fopen(log_path, "a");
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
	fp = fopen(log_path, "a");
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

static int is_phone_sep(char c)
{
	return c == '+' || c == '-' || c == '.' || c == ' ' || c == '(' || c == ')';
}

static int is_email_char(unsigned char c)
{
	return isalnum(c) || c == '.' || c == '_' || c == '-' || c == '+' || c == '%';
}

static void replace_span(char *s, size_t size, size_t start, size_t end)
{
	static const char mark[] = "[redacted]";
	size_t len = strlen(s), mlen = sizeof(mark) - 1;

	if (len - (end - start) + mlen + 1 > size)	/* no room: blank it out */
		memset(s + start, '*', end - start);
	else {
		memmove(s + start + mlen, s + end, len - end + 1);
		memcpy(s + start, mark, mlen);
	}
}

void log_redact(char *s, size_t size)
{
	size_t i = 0;

	while (s[i] != '\0') {
		unsigned char c = (unsigned char)s[i];

		if (c == '@' && i > 0 && is_email_char((unsigned char)s[i - 1]) &&
		    isalnum((unsigned char)s[i + 1])) {
			size_t a = i, b = i + 1;

			while (a > 0 && is_email_char((unsigned char)s[a - 1]))
				a--;
			while (s[b] != '\0' && is_email_char((unsigned char)s[b]))
				b++;
			replace_span(s, size, a, b);
			i = a + 1;
			continue;
		}
		if (isdigit(c) || ((c == '+' || c == '(') && isdigit((unsigned char)s[i + 1]))) {
			size_t b = i, digits = 0;

			/* A run of digits with up to two separators between groups:
			 * "+1 (323) 555-0100", "323.555.0100". */
			while (s[b] != '\0') {
				if (isdigit((unsigned char)s[b])) {
					digits++;
					b++;
					continue;
				}
				size_t k = b;
				while (k - b < 2 && s[k] != '\0' && is_phone_sep(s[k]))
					k++;
				if (k == b || !isdigit((unsigned char)s[k]))
					break;
				b = k;
			}
			/* Word-adjacent digit runs (ids like "m1234567") are not phone
			 * numbers. Counters are logged with '_' groups (1_234_567). */
			int in_word = i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_');
			/* An ISO date (2026-11-23) is not a phone number either. */
			int is_date = b - i == 10 && s[i + 4] == '-' && s[i + 7] == '-';
			if (digits >= 7 && !is_date && (!in_word || s[i] == '+')) {
				replace_span(s, size, i, b);
				i++;
				continue;
			}
			i = b > i ? b : i + 1;
			continue;
		}
		i++;
	}
}

void log_write(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	char ts[40];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	if (level < log_min)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	log_redact(line, sizeof(line));
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
