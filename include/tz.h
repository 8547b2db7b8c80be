/* tz.h: wall clock times in IANA zones, without setenv("TZ").
 *
 * glibc has no per-call zone (no localtime_rz/mktime_z), and setenv("TZ")
 * races with getaddrinfo in libuv's and curl's threads (deps.md 0.6, 7), so
 * pregon does its zone math through libical's icaltimezone, which reads the
 * system tzdata. The only process-global state is libical's zone cache:
 * call these from one thread (the loop thread) and tz_shutdown() at exit.
 *
 * Policy for local times that do not exist or exist twice (deps.md 7.1):
 * - A time in a spring-forward gap is moved forward by the length of the gap:
 *   02:30 on 2026-03-08 in America/Los_Angeles is 03:30 PDT (10:30Z). This is
 *   the reading of the wall time with the offset in force before the change,
 *   what a person whose clock has not been changed yet means.
 * - A time in an autumn overlap takes the FIRST (earlier, daylight) instant:
 *   01:30 on 2026-11-01 in America/Los_Angeles is 01:30 PDT (08:30Z). A
 *   reminder that goes out an hour early is better than one an hour late.
 *
 * Limit: libical expands zone rules up to the year 2582; local times after
 * that use the last offset it computed (standard time, for zones with DST). */
#ifndef PREGON_TZ_H
#define PREGON_TZ_H

#include <stdint.h>

#include "duration.h"
#include "err.h"

/* A civil (wall clock) time. */
struct tz_wall {
	int year;	/* 1..9999 for the functions below */
	int month;	/* 1..12 */
	int day;	/* 1..31 */
	int hour;	/* 0..23 */
	int minute;	/* 0..59 */
	int second;	/* 0..59 */
	int msec;	/* 0..999 */
	int weekday;	/* 0 = Sunday .. 6 = Saturday; filled on output only */
};

/* 1 when `name` looks like an IANA zone name (letters, digits, '_', '-',
 * '+', components separated by single '/') AND libical finds it in the
 * system tzdata; 0 otherwise. Names that are files in /usr/share/zoneinfo
 * but not zones a producer should name ("localtime", "posixrules",
 * "Factory", "right/..." with leap seconds, "posix/...") are refused, and
 * no path can escape the zoneinfo directory. Case-sensitive, like tzdata. */
int tz_exists(const char *name);

/* Wall time in `zone` -> Unix ms, with the gap/overlap policy above.
 * Fails (err: `unknown time zone "X"`) for an unknown zone; the fields of
 * `w` must be in range (callers validate them; out-of-range fails too). */
int tz_local_to_utc(const char *zone, const struct tz_wall *w, int64_t *ms,
		    struct err *err);

/* Unix ms -> wall time in `zone`, weekday included. */
int tz_utc_to_local(const char *zone, int64_t ms, struct tz_wall *w,
		    struct err *err);

/* The instant `ms` moved by `sign` (+1 or -1) times duration `d`, in `zone`.
 * Years, months, weeks and days are calendar units on the wall clock: P7D
 * before 08:30 local is 08:30 local seven days earlier, across a DST change
 * too; a day that does not exist in the target month is clamped to its last
 * day (P1M before 03-31 is 02-28 or 02-29). Hours, minutes and seconds are
 * then elapsed time (PT3H is exactly 3 h before), as in RFC 5545 3.3.6.
 * Fails if the result leaves the years 1970..9999. */
int tz_add_duration(const char *zone, int64_t ms, const struct duration *d,
		    int sign, int64_t *out, struct err *err);

/* Frees libical's zone cache (for leak checkers); safe to call twice. The
 * functions above still work after it (they reload what they need). */
void tz_shutdown(void);

/* Proleptic Gregorian calendar helpers (H. Hinnant's algorithms), shared
 * with validate.c. Days are counted from 1970-01-01. */
int64_t tz_days_from_civil(int64_t y, int m, int d);
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int tz_days_in_month(int64_t y, int m);

#endif
