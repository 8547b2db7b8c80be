/* tz.c: wall clock <-> UTC in IANA zones through libical (see tz.h for the
 * policy on DST gaps and overlaps, and deps.md section 7 for why libical). */
#include "tz.h"

#include <string.h>
#include <time.h>

#include <libical/ical.h>

#include "quote.h"

/* Times up to 9999-12-31 need a 64-bit time_t (Debian 12 amd64 has one;
 * its 32-bit ports do not). Refuse to build rather than wrap in 2038. */
_Static_assert(sizeof(time_t) >= 8, "pregon needs a 64-bit time_t");

#define SECS_PER_DAY 86400
#define TZ_NAME_MAX 64	/* the longest IANA name today is 32 bytes */

/* Civil date -> days since 1970-01-01 (proleptic Gregorian). From Howard
 * Hinnant, "chrono-Compatible Low-Level Date Algorithms", days_from_civil. */
int64_t tz_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse, civil_from_days from the same paper. */
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int tz_days_in_month(int64_t y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (m < 1 || m > 12)
		return 0;
	return m == 2 ? 28 + leap : dim[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* A zone name a producer may use. libical turns an unknown name into a path
 * under /usr/share/zoneinfo and opens it, so nothing that could climb out of
 * that directory ("..", a leading '/') or name a device may reach it. */
static int tz_name_ok(const char *name)
{
	static const char *const refused[] = { "localtime", "posixrules", "Factory" };
	size_t len, i;
	int at_start = 1;

	if (name == NULL)
		return 0;
	len = strlen(name);
	if (len == 0 || len > TZ_NAME_MAX)
		return 0;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strcmp(name, refused[i]) == 0)
			return 0;
	/* right/ zones count leap seconds, which libical does not; posix/ are
	 * duplicates of the plain names, which are the ones to use. */
	if (strncmp(name, "right/", 6) == 0 || strncmp(name, "posix/", 6) == 0)
		return 0;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (c == '/') {
			if (at_start)
				return 0;	/* leading '/' or "//" */
			at_start = 1;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+'))
			return 0;
		if (at_start && (c == '-' || c == '+'))
			return 0;
		at_start = 0;
	}
	return !at_start;	/* no trailing '/' */
}

static int tz_unknown(struct err *err, const char *name)
{
	char q[QUOTE_MAX];

	quote_value(q, sizeof(q), name);
	return err_detail(err, "unknown time zone", "unknown time zone %s", q);
}

/* libical finds a zone by comparing the name with each of its ~600 zones
 * (icaltimezone_get_builtin_timezone), which a profile of the intake of
 * court reminders showed as a third of pregond's CPU: a job names the same
 * zone several times. The zones most recently asked for are kept here;
 * libical keeps the zones themselves until tz_shutdown(). */
#define TZ_CACHE 16
static struct {
	char name[TZ_NAME_MAX + 1];
	icaltimezone *zone;
} tz_cache[TZ_CACHE];
static unsigned tz_cache_next;

static icaltimezone *tz_zone(const char *name)
{
	icaltimezone *z;

	if (name == NULL)
		return NULL;
	for (unsigned i = 0; i < TZ_CACHE; i++)
		if (tz_cache[i].zone != NULL && strcmp(tz_cache[i].name, name) == 0)
			return tz_cache[i].zone;
	if (!tz_name_ok(name) || (z = icaltimezone_get_builtin_timezone(name)) == NULL)
		return NULL;
	/* tz_name_ok: at most TZ_NAME_MAX bytes. */
	unsigned i = tz_cache_next++ % TZ_CACHE;

	memcpy(tz_cache[i].name, name, strlen(name) + 1);
	tz_cache[i].zone = z;
	return z;
}

int tz_exists(const char *name)
{
	return tz_zone(name) != NULL;
}

static int64_t wall_seconds(const struct icaltimetype *tt)
{
	return tz_days_from_civil(tt->year, tt->month, tt->day) * SECS_PER_DAY +
	       tt->hour * 3600 + tt->minute * 60 + tt->second;
}

/* UTC offset in seconds in force at instant t (seconds). */
static int64_t zone_offset_at(icaltimezone *z, int64_t t)
{
	struct icaltimetype tt = icaltime_from_timet_with_zone((time_t)t, 0, z);

	return wall_seconds(&tt) - t;
}

static int zone_wall_is(icaltimezone *z, int64_t t, int64_t wall)
{
	struct icaltimetype tt = icaltime_from_timet_with_zone((time_t)t, 0, z);

	return wall_seconds(&tt) == wall;
}

static int wall_in_range(const struct tz_wall *w)
{
	return w->year >= 1 && w->year <= 9999 && w->month >= 1 && w->month <= 12 &&
	       w->day >= 1 && w->day <= tz_days_in_month(w->year, w->month) &&
	       w->hour >= 0 && w->hour <= 23 && w->minute >= 0 && w->minute <= 59 &&
	       w->second >= 0 && w->second <= 59 && w->msec >= 0 && w->msec <= 999;
}

/* libical maps a gap time an hour early and an ambiguous one to the later
 * instant (deps.md 7.1, verified). Rather than patch its answer, take the
 * offsets in force a day before, at, and a day after its answer: every
 * reading of the wall time is "wall - one of those offsets". The readings
 * that convert back to the same wall clock are the real instants; take the
 * earliest (overlap policy). If none does, the time is in a gap: read it
 * with the offset from before the change, the smaller one, which moves it
 * forward by the length of the gap (03:30 PDT for 02:30 on 2026-03-08 LA).
 * This also covers half-hour changes (Australia/Lord_Howe). */
int tz_local_to_utc(const char *zone, const struct tz_wall *w, int64_t *ms,
		    struct err *err)
{
	icaltimezone *z = tz_zone(zone);
	struct icaltimetype tt = icaltime_null_time();
	int64_t wall, u0, offs[3], best = 0, min_off;
	int found = 0, i;

	if (z == NULL)
		return tz_unknown(err, zone);
	if (!wall_in_range(w))
		return err_public(err, "time out of range");
	wall = tz_days_from_civil(w->year, w->month, w->day) * SECS_PER_DAY +
	       w->hour * 3600 + w->minute * 60 + w->second;
	tt.year = w->year;
	tt.month = w->month;
	tt.day = w->day;
	tt.hour = w->hour;
	tt.minute = w->minute;
	tt.second = w->second;
	tt.is_date = 0;
	u0 = (int64_t)icaltime_as_timet_with_zone(tt, z);

	offs[0] = zone_offset_at(z, u0 - SECS_PER_DAY);
	offs[1] = zone_offset_at(z, u0);
	offs[2] = zone_offset_at(z, u0 + SECS_PER_DAY);
	min_off = offs[0];
	for (i = 0; i < 3; i++) {
		int64_t cand = wall - offs[i];

		if (offs[i] < min_off)
			min_off = offs[i];
		if (zone_wall_is(z, cand, wall) && (!found || cand < best)) {
			best = cand;
			found = 1;
		}
	}
	if (!found)
		best = wall - min_off;	/* in a gap: forward by its length */
	*ms = best * 1000 + w->msec;
	return 0;
}

/* Unix seconds of 0001-01-02 and 9999-12-31: beyond them a wall time in any
 * zone (offsets are under a day) could leave the years 1..9999. */
#define TZ_SECS_MIN (-62135510400LL)
#define TZ_SECS_MAX (253402214400LL)

int tz_utc_to_local(const char *zone, int64_t ms, struct tz_wall *w,
		    struct err *err)
{
	icaltimezone *z = tz_zone(zone);
	struct icaltimetype tt;
	int64_t secs, days;

	if (z == NULL)
		return tz_unknown(err, zone);
	secs = floor_div(ms, 1000);
	if (secs < TZ_SECS_MIN || secs > TZ_SECS_MAX)
		return err_public(err, "time out of range");
	tt = icaltime_from_timet_with_zone((time_t)secs, 0, z);
	w->year = tt.year;
	w->month = tt.month;
	w->day = tt.day;
	w->hour = tt.hour;
	w->minute = tt.minute;
	w->second = tt.second;
	w->msec = (int)(ms - secs * 1000);
	days = tz_days_from_civil(tt.year, tt.month, tt.day);
	/* 1970-01-01 was a Thursday (4). */
	w->weekday = (int)(((days % 7) + 7 + 4) % 7);
	return 0;
}

/* 9999-12-31T23:59:59.999Z */
#define TZ_MS_MAX 253402300799999LL

int tz_add_duration(const char *zone, int64_t ms, const struct duration *d,
		    int sign, int64_t *out, struct err *err)
{
	struct tz_wall w;
	int64_t months, ym, y, days, r, secs;
	int m, day;

	if (sign != 1 && sign != -1)
		return err_public(err, "duration sign must be +1 or -1");
	if (d->years < 0 || d->months < 0 || d->weeks < 0 || d->days < 0 ||
	    d->hours < 0 || d->minutes < 0 || d->seconds < 0)
		return err_public(err, "duration parts must not be negative");
	if (tz_utc_to_local(zone, ms, &w, err) < 0)
		return -1;

	/* Calendar part on the wall clock: months first, clamping the day to
	 * the target month, then days (the order java.time and RFC 5545 use). */
	months = (int64_t)d->years * 12 + d->months;
	if (months > 12 * 10000)
		return err_public(err, "time out of range (years 1970..9999)");
	ym = (int64_t)w.year * 12 + (w.month - 1) + sign * months;
	y = floor_div(ym, 12);
	m = (int)(ym - y * 12) + 1;
	if (y < 1970 || y > 9999)
		return err_public(err, "time out of range (years 1970..9999)");
	day = w.day;
	if (day > tz_days_in_month(y, m))
		day = tz_days_in_month(y, m);
	days = tz_days_from_civil(y, m, day) +
	       sign * ((int64_t)d->weeks * 7 + d->days);
	if (days < tz_days_from_civil(1970, 1, 1) || days > tz_days_from_civil(9999, 12, 31))
		return err_public(err, "time out of range (years 1970..9999)");
	tz_civil_from_days(days, &y, &w.month, &w.day);
	w.year = (int)y;
	if (tz_local_to_utc(zone, &w, &r, err) < 0)
		return -1;

	/* Clock part: elapsed time. */
	secs = (int64_t)d->hours * 3600 + (int64_t)d->minutes * 60 + d->seconds;
	r += sign * secs * 1000;
	if (r < 0 || r > TZ_MS_MAX)
		return err_public(err, "time out of range (years 1970..9999)");
	*out = r;
	return 0;
}

void tz_shutdown(void)
{
	memset(tz_cache, 0, sizeof(tz_cache));
	icaltimezone_free_builtin_timezones();
}
