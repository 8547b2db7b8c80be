/* log.h: one line per event on stderr (or [log] file), with a level.
 *
 * Every line passes through log_redact(): anything shaped like a phone
 * number or an email address is replaced by "[redacted]" before it is
 * written, as a second line of defence: callers log ids, never addresses. */
#ifndef PREGON_LOG_H
#define PREGON_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

int log_init(const char *level, const char *file);
/* SIGHUP: reopen [log] file (after rotation). No-op for stderr. */
void log_reopen(void);
void log_close(void);
int log_enabled(enum log_level level);
void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Rewrites s in place: digit runs of 7 or more (with + - . space ( ) between
 * them) and tokens with an '@' between word characters become "[redacted]". */
void log_redact(char *s, size_t size);

/* n with '_' between groups of three ("1_234_567"), for counts in log
 * lines: log_redact() takes long plain digit runs for phone numbers.
 * Returns buf. */
const char *log_count(uint64_t n, char buf[32]);

#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
