/* test_quiet_hours.c: parsing `[schedule] quiet_hours`, and which instants
 * are quiet, when a held message may go, and where a court reminder moves
 * to, in three zones and across both DST nights (src/quiet_hours.c).
 *
 * Offsets used in the comments: Los Angeles PST -08:00 / PDT -07:00
 * (2026: PDT from 03-08 02:00 PST to 11-01 02:00 PDT), New York EST -05:00,
 * Kolkata IST +05:30 all year. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "quiet_hours.h"
#include "tz.h"
#include "validate.h"

#define LA "America/Los_Angeles"
#define NY "America/New_York"
#define KOL "Asia/Kolkata"

#define MIN_MS (60 * 1000LL)

/* Unix ms of an absolute ISO time, through the parser tested elsewhere. */
static int64_t at(const char *iso)
{
	struct err err = { { 0 } };
	int64_t ms = 0;

	if (time_parse_iso8601(iso, NULL, &ms, &err) != 0)
		fail_msg("%s: %s", iso, err.msg);
	return ms;
}

/* A window that must parse. */
static struct quiet_hours window(const char *s)
{
	struct quiet_hours q = { 0 };
	struct err err = { { 0 } };

	if (quiet_hours_parse(s, &q, &err) != 0)
		fail_msg("%s: %s", s, err.msg);
	return q;
}

static void inside_is(const char *zone, const char *win, const char *utc, bool want)
{
	struct quiet_hours q = window(win);
	struct err err = { { 0 } };
	bool inside = !want;

	if (quiet_hours_contains(&q, zone, at(utc), &inside, &err) != 0)
		fail_msg("%s %s %s: %s", zone, win, utc, err.msg);
	if (inside != want)
		fail_msg("%s %s %s: inside is %d, want %d", zone, win, utc, inside, want);
}

static void next_is(const char *zone, const char *win, const char *utc,
		    const char *want_utc)
{
	struct quiet_hours q = window(win);
	struct err err = { { 0 } };
	int64_t out = 0;
	char got[32];

	if (quiet_hours_next_allowed(&q, zone, at(utc), &out, &err) != 0)
		fail_msg("%s %s %s: %s", zone, win, utc, err.msg);
	time_format_utc(out, got);
	assert_string_equal(got, want_utc);
}

static void last_is(const char *zone, const char *win, const char *utc,
		    const char *want_utc)
{
	struct quiet_hours q = window(win);
	struct err err = { { 0 } };
	int64_t out = 0;
	char got[32];

	if (quiet_hours_last_allowed_before(&q, zone, at(utc), &out, &err) != 0)
		fail_msg("%s %s %s: %s", zone, win, utc, err.msg);
	time_format_utc(out, got);
	assert_string_equal(got, want_utc);
}

/* The message is the operator's only clue, so each one is checked whole,
 * and a refused value must not half-fill the struct. */
static void parse_fails(const char *s, const char *want_msg)
{
	struct quiet_hours q = { false, 1, 2 };
	struct err err = { { 0 } };

	assert_int_equal(quiet_hours_parse(s, &q, &err), -1);
	assert_string_equal(err.msg, want_msg);
	assert_false(q.off);
	assert_int_equal(q.start_min, 1);
	assert_int_equal(q.end_min, 2);
}

/* ---- tests ------------------------------------------------------------ */

static void quiet_hours_parses_windows_and_none(void **state)
{
	struct quiet_hours q;

	(void)state;
	q = window("21:00-08:00");
	assert_false(q.off);
	assert_int_equal(q.start_min, 21 * 60);
	assert_int_equal(q.end_min, 8 * 60);
	q = window("13:00-14:00");
	assert_int_equal(q.start_min, 13 * 60);
	assert_int_equal(q.end_min, 14 * 60);
	q = window("00:00-23:59");
	assert_int_equal(q.start_min, 0);
	assert_int_equal(q.end_min, 23 * 60 + 59);
	q = window("23:59-00:00");
	assert_int_equal(q.start_min, 23 * 60 + 59);
	assert_int_equal(q.end_min, 0);
	q = window("none");
	assert_true(q.off);
}

static void quiet_hours_parse_errors_name_the_problem(void **state)
{
	(void)state;
	parse_fails("9pm-8am", "quiet_hours: expected HH:MM-HH:MM or none, got \"9pm-8am\"");
	parse_fails("", "quiet_hours: expected HH:MM-HH:MM or none, got \"\"");
	parse_fails(NULL, "quiet_hours: expected HH:MM-HH:MM or none, got (null)");
	parse_fails("9:00-08:00", "quiet_hours: expected HH:MM-HH:MM or none, got \"9:00-08:00\"");
	parse_fails("21:00-08:00 ", "quiet_hours: expected HH:MM-HH:MM or none, got \"21:00-08:00 \"");
	parse_fails("21:00 08:00", "quiet_hours: expected HH:MM-HH:MM or none, got \"21:00 08:00\"");
	parse_fails("21.00-08.00", "quiet_hours: expected HH:MM-HH:MM or none, got \"21.00-08.00\"");
	parse_fails("+1:00-08:00", "quiet_hours: expected HH:MM-HH:MM or none, got \"+1:00-08:00\"");
	parse_fails("21:00-08:00:00", "quiet_hours: expected HH:MM-HH:MM or none, got \"21:00-08:00:00\"");
	parse_fails("NONE", "quiet_hours: expected HH:MM-HH:MM or none, got \"NONE\"");
	parse_fails("off", "quiet_hours: expected HH:MM-HH:MM or none, got \"off\"");
	parse_fails("25:00-08:00",
		    "quiet_hours: start 25:00 is not a time of day (00:00..23:59) in \"25:00-08:00\"");
	parse_fails("21:60-08:00",
		    "quiet_hours: start 21:60 is not a time of day (00:00..23:59) in \"21:60-08:00\"");
	parse_fails("21:00-24:00",
		    "quiet_hours: end 24:00 is not a time of day (00:00..23:59) in \"21:00-24:00\"");
	parse_fails("08:00-08:00",
		    "quiet_hours: start and end are the same in \"08:00-08:00\" "
		    "(use none to turn quiet hours off)");
}

/* The default window, 2026-01-15 evening to 01-16 morning (no DST). */
static void quiet_hours_edges_are_half_open_in_three_zones(void **state)
{
	static const char *const w = "21:00-08:00";

	(void)state;
	/* LA: 20:59:59 PST = 04:59:59Z, 21:00 = 05:00Z, 07:59 = 15:59Z, 08:00 = 16:00Z */
	inside_is(LA, w, "2026-01-16T04:59:59.999Z", false);
	inside_is(LA, w, "2026-01-16T04:59:59Z", false);
	inside_is(LA, w, "2026-01-16T05:00:00Z", true);
	inside_is(LA, w, "2026-01-16T15:59:00Z", true);
	inside_is(LA, w, "2026-01-16T15:59:59.999Z", true);
	inside_is(LA, w, "2026-01-16T16:00:00Z", false);
	/* NY: 20:59:59 EST = 01:59:59Z, 21:00 = 02:00Z, 07:59 = 12:59Z, 08:00 = 13:00Z */
	inside_is(NY, w, "2026-01-16T01:59:59Z", false);
	inside_is(NY, w, "2026-01-16T02:00:00Z", true);
	inside_is(NY, w, "2026-01-16T12:59:00Z", true);
	inside_is(NY, w, "2026-01-16T13:00:00Z", false);
	/* Kolkata: 20:59:59 IST = 15:29:59Z, 21:00 = 15:30Z, 07:59 = 02:29Z, 08:00 = 02:30Z */
	inside_is(KOL, w, "2026-01-15T15:29:59Z", false);
	inside_is(KOL, w, "2026-01-15T15:30:00Z", true);
	inside_is(KOL, w, "2026-01-16T02:29:00Z", true);
	inside_is(KOL, w, "2026-01-16T02:30:00Z", false);
	/* LA midday is outside (12:00 PST = 20:00Z). */
	inside_is(LA, w, "2026-01-16T20:00:00Z", false);
}

static void quiet_hours_wrap_around_midnight(void **state)
{
	static const char *const w = "21:00-08:00";

	(void)state;
	/* LA 23:59 PST 01-15 = 07:59Z 01-16; 00:00 PST 01-16 = 08:00Z; 02:00 = 10:00Z */
	inside_is(LA, w, "2026-01-16T07:59:00Z", true);
	inside_is(LA, w, "2026-01-16T08:00:00Z", true);
	inside_is(LA, w, "2026-01-16T10:00:00Z", true);
	/* Kolkata 00:00 IST 01-16 = 18:30Z 01-15 */
	inside_is(KOL, w, "2026-01-15T18:30:00Z", true);
	/* 23:59-00:00 is one minute: LA 23:59 PST = 07:59Z, 00:00 = 08:00Z */
	inside_is(LA, "23:59-00:00", "2026-01-16T07:58:59Z", false);
	inside_is(LA, "23:59-00:00", "2026-01-16T07:59:30Z", true);
	inside_is(LA, "23:59-00:00", "2026-01-16T08:00:00Z", false);
}

/* A daytime window does not wrap: night is allowed. */
static void quiet_hours_window_that_does_not_wrap(void **state)
{
	static const char *const w = "13:00-14:00";

	(void)state;
	/* LA 2026-07-01 PDT: 12:59:59 = 19:59:59Z, 13:00 = 20:00Z, 14:00 = 21:00Z */
	inside_is(LA, w, "2026-07-01T19:59:59Z", false);
	inside_is(LA, w, "2026-07-01T20:00:00Z", true);
	inside_is(LA, w, "2026-07-01T20:59:59Z", true);
	inside_is(LA, w, "2026-07-01T21:00:00Z", false);
	inside_is(LA, w, "2026-07-01T09:00:00Z", false);	/* 02:00 PDT */
	/* 13:30 PDT = 20:30Z: next at 14:00 (21:00Z), last at 12:59 (19:59Z) */
	next_is(LA, w, "2026-07-01T20:30:00Z", "2026-07-01T21:00:00.000Z");
	last_is(LA, w, "2026-07-01T20:30:00Z", "2026-07-01T19:59:00.000Z");
	/* Kolkata 13:30 IST = 08:00Z: next 14:00 IST = 08:30Z, last 12:59 = 07:29Z */
	next_is(KOL, w, "2026-07-01T08:00:00Z", "2026-07-01T08:30:00.000Z");
	last_is(KOL, w, "2026-07-01T08:00:00Z", "2026-07-01T07:29:00.000Z");
}

static void quiet_hours_next_allowed_is_the_morning_after(void **state)
{
	static const char *const w = "21:00-08:00";

	(void)state;
	/* LA from 23:00 PST 01-15 (07:00Z 01-16) and 02:00 PST 01-16 (10:00Z):
	 * 08:00 PST 01-16 = 16:00Z */
	next_is(LA, w, "2026-01-16T07:00:00Z", "2026-01-16T16:00:00.000Z");
	next_is(LA, w, "2026-01-16T10:00:00Z", "2026-01-16T16:00:00.000Z");
	next_is(LA, w, "2026-01-16T05:00:00Z", "2026-01-16T16:00:00.000Z");	/* 21:00 */
	/* NY from 23:00 EST (04:00Z 01-16) and 02:00 EST (07:00Z): 08:00 = 13:00Z */
	next_is(NY, w, "2026-01-16T04:00:00Z", "2026-01-16T13:00:00.000Z");
	next_is(NY, w, "2026-01-16T07:00:00Z", "2026-01-16T13:00:00.000Z");
	/* Kolkata from 23:00 IST 01-15 (17:30Z 01-15) and 02:00 IST 01-16
	 * (20:30Z 01-15): 08:00 IST 01-16 = 02:30Z */
	next_is(KOL, w, "2026-01-15T17:30:00Z", "2026-01-16T02:30:00.000Z");
	next_is(KOL, w, "2026-01-15T20:30:00Z", "2026-01-16T02:30:00.000Z");
	/* Outside: unchanged, milliseconds and all (12:00 PST, 20:59:59.5 PST). */
	next_is(LA, w, "2026-01-16T20:00:00.250Z", "2026-01-16T20:00:00.250Z");
	next_is(LA, w, "2026-01-16T04:59:59.500Z", "2026-01-16T04:59:59.500Z");
}

static void quiet_hours_last_allowed_before_is_20_59_that_evening(void **state)
{
	static const char *const w = "21:00-08:00";

	(void)state;
	/* LA 06:00 PST 01-16 (14:00Z) and 22:00 PST 01-15 (06:00Z 01-16) both
	 * move to 20:59 PST 01-15 = 04:59Z 01-16; so does 21:00 itself. */
	last_is(LA, w, "2026-01-16T14:00:00Z", "2026-01-16T04:59:00.000Z");
	last_is(LA, w, "2026-01-16T06:00:00Z", "2026-01-16T04:59:00.000Z");
	last_is(LA, w, "2026-01-16T05:00:00Z", "2026-01-16T04:59:00.000Z");
	last_is(LA, w, "2026-01-16T15:59:59.999Z", "2026-01-16T04:59:00.000Z");
	/* NY 06:00 EST 01-16 (11:00Z), 22:00 EST 01-15 (03:00Z 01-16):
	 * 20:59 EST 01-15 = 01:59Z 01-16 */
	last_is(NY, w, "2026-01-16T11:00:00Z", "2026-01-16T01:59:00.000Z");
	last_is(NY, w, "2026-01-16T03:00:00Z", "2026-01-16T01:59:00.000Z");
	/* Kolkata 06:00 IST 01-16 (00:30Z 01-16), 22:00 IST 01-15 (16:30Z):
	 * 20:59 IST 01-15 = 15:29Z */
	last_is(KOL, w, "2026-01-16T00:30:00Z", "2026-01-15T15:29:00.000Z");
	last_is(KOL, w, "2026-01-15T16:30:00Z", "2026-01-15T15:29:00.000Z");
	/* Outside: unchanged (20:59:30 PST, 08:00 PST). */
	last_is(LA, w, "2026-01-16T04:59:30Z", "2026-01-16T04:59:30.000Z");
	last_is(LA, w, "2026-01-16T16:00:00Z", "2026-01-16T16:00:00.000Z");
}

/* 2026-03-08 in LA: 02:00 PST jumps to 03:00 PDT (10:00Z). */
static void quiet_hours_spring_forward_night(void **state)
{
	static const char *const w = "01:30-03:00";

	(void)state;
	/* 01:30 PST = 09:30Z .. 03:00 PDT = 10:00Z: half an hour of quiet. */
	inside_is(LA, w, "2026-03-08T09:29:59Z", false);
	inside_is(LA, w, "2026-03-08T09:30:00Z", true);
	inside_is(LA, w, "2026-03-08T09:59:59Z", true);
	inside_is(LA, w, "2026-03-08T10:00:00Z", false);
	next_is(LA, w, "2026-03-08T09:45:00Z", "2026-03-08T10:00:00.000Z");
	last_is(LA, w, "2026-03-08T09:45:00Z", "2026-03-08T09:29:00.000Z");	/* 01:29 PST */

	/* Start in the gap: 02:30 opens at 03:30 PDT (10:30Z, tz.h policy),
	 * so 03:15 PDT is not quiet; end 07:00 PDT = 14:00Z. */
	inside_is(LA, "02:30-07:00", "2026-03-08T10:15:00Z", false);
	inside_is(LA, "02:30-07:00", "2026-03-08T10:30:00Z", true);
	last_is(LA, "02:30-07:00", "2026-03-08T12:00:00Z", "2026-03-08T10:29:00.000Z");
	next_is(LA, "02:30-07:00", "2026-03-08T12:00:00Z", "2026-03-08T14:00:00.000Z");

	/* End in the gap: 23:00 PST 03-07 (07:00Z 03-08) .. 02:30, which is
	 * 03:30 PDT (10:30Z): quiet until then. */
	inside_is(LA, "23:00-02:30", "2026-03-08T10:15:00Z", true);
	next_is(LA, "23:00-02:30", "2026-03-08T09:00:00Z", "2026-03-08T10:30:00.000Z");

	/* Start right after the gap: 03:00 PDT = 10:00Z; the minute before is
	 * 01:59 PST (09:59Z), not 02:59 (which does not exist). */
	last_is(LA, "03:00-08:00", "2026-03-08T11:00:00Z", "2026-03-08T09:59:00.000Z");

	/* The default window is 10 hours that night: 21:00 PST 03-07 (05:00Z
	 * 03-08) .. 08:00 PDT (15:00Z). From 01:00 PST (09:00Z): */
	next_is(LA, "21:00-08:00", "2026-03-08T09:00:00Z", "2026-03-08T15:00:00.000Z");
	last_is(LA, "21:00-08:00", "2026-03-08T09:00:00Z", "2026-03-08T04:59:00.000Z");
}

/* 03:00-02:30 leaves only 02:30-02:59 allowed, which 2026-03-08 skips in
 * LA: the windows of 03-07 (to 02:30 -> 03:30 PDT, 10:30Z) and 03-08 (from
 * 03:00 PDT, 10:00Z) overlap, and the answers step over both. */
static void quiet_hours_night_with_no_allowed_minute(void **state)
{
	static const char *const w = "03:00-02:30";

	(void)state;
	inside_is(LA, w, "2026-03-08T10:15:00Z", true);
	/* From 01:00 PST (09:00Z): next is 02:30 PDT 03-09 = 09:30Z. */
	next_is(LA, w, "2026-03-08T09:00:00Z", "2026-03-09T09:30:00.000Z");
	/* From 05:00 PDT (12:00Z): back to 02:59 PST 03-07 = 10:59Z 03-07. */
	last_is(LA, w, "2026-03-08T12:00:00Z", "2026-03-07T10:59:00.000Z");
}

/* 2026-11-01 in LA: 02:00 PDT falls back to 01:00 PST (09:00Z), so
 * 01:00-01:59 happens twice. */
static void quiet_hours_fall_back_night(void **state)
{
	static const char *const w = "01:30-03:00";

	(void)state;
	/* Opens at the first 01:30 (PDT, 08:30Z), closes at 03:00 PST (11:00Z):
	 * the repeated 01:00-01:29 PST (09:00Z-09:29Z) stays quiet. */
	inside_is(LA, w, "2026-11-01T08:29:59Z", false);
	inside_is(LA, w, "2026-11-01T08:30:00Z", true);
	inside_is(LA, w, "2026-11-01T09:15:00Z", true);
	inside_is(LA, w, "2026-11-01T10:59:59Z", true);
	inside_is(LA, w, "2026-11-01T11:00:00Z", false);
	next_is(LA, w, "2026-11-01T09:15:00Z", "2026-11-01T11:00:00.000Z");
	/* 02:00 PST (10:00Z) moves to the first 01:29 (PDT, 08:29Z). */
	last_is(LA, w, "2026-11-01T10:00:00Z", "2026-11-01T08:29:00.000Z");

	/* End in the overlap: 23:00 PDT 10-31 (06:00Z 11-01) .. the first
	 * 01:30 (PDT, 08:30Z); the repeated 01:15 PST (09:15Z) is allowed. */
	inside_is(LA, "23:00-01:30", "2026-11-01T08:15:00Z", true);
	inside_is(LA, "23:00-01:30", "2026-11-01T09:15:00Z", false);
	next_is(LA, "23:00-01:30", "2026-11-01T07:00:00Z", "2026-11-01T08:30:00.000Z");

	/* The default window is 12 hours that night: 21:00 PDT 10-31 (04:00Z
	 * 11-01) .. 08:00 PST (16:00Z). From 02:00 PST (10:00Z): */
	next_is(LA, "21:00-08:00", "2026-11-01T10:00:00Z", "2026-11-01T16:00:00.000Z");
	last_is(LA, "21:00-08:00", "2026-11-01T10:00:00Z", "2026-11-01T03:59:00.000Z");
}

/* Minute by minute across both DST nights and a plain one, for windows
 * with edges on, in and around the change: a run of quiet minutes must
 * all be sent to the first allowed minute after the run and moved back to
 * the last allowed minute before it, and allowed minutes stay put. */
static void quiet_hours_answers_agree_with_contains_minute_by_minute(void **state)
{
	static const char *const wins[] = {
		"21:00-08:00", "01:30-03:00", "02:30-07:00", "23:00-02:30",
		"03:00-02:30", "01:00-02:00", "13:00-14:00",
	};
	static const struct {
		const char *zone, *from, *to;
	} nights[] = {
		/* 10:00 local the day before to 23:00 local on the change day */
		{ LA, "2026-03-07T18:00Z", "2026-03-09T06:00Z" },
		{ LA, "2026-10-31T17:00Z", "2026-11-02T07:00Z" },
		{ KOL, "2026-01-15T04:30Z", "2026-01-16T17:30Z" },
	};
	size_t i, n;

	(void)state;
	for (n = 0; n < sizeof(nights) / sizeof(nights[0]); n++) {
		for (i = 0; i < sizeof(wins) / sizeof(wins[0]); i++) {
			struct quiet_hours q = window(wins[i]);
			struct err err = { { 0 } };
			int64_t t, from = at(nights[n].from), end = at(nights[n].to);
			int64_t last_out = -1, run_next = -1;
			bool in_run = false;

			for (t = from; t <= end; t += MIN_MS) {
				int64_t next = 0, last = 0;
				bool inside = false;

				assert_int_equal(quiet_hours_contains(&q, nights[n].zone, t, &inside, &err), 0);
				if (!inside) {
					/* (that outside instants stay put is tested above) */
					if (in_run)
						assert_int_equal(run_next, t);
					in_run = false;
					last_out = t;
					continue;
				}
				assert_int_equal(quiet_hours_next_allowed(&q, nights[n].zone, t, &next, &err), 0);
				assert_int_equal(quiet_hours_last_allowed_before(&q, nights[n].zone, t, &last, &err), 0);
				assert_true(next > t);
				assert_true(last < t);
				if (in_run)
					assert_int_equal(next, run_next);
				run_next = next;
				in_run = true;
				if (last_out >= 0)
					assert_int_equal(last, last_out);
			}
		}
	}
}

static void quiet_hours_none_changes_nothing(void **state)
{
	struct quiet_hours q = window("none");
	struct err err = { { 0 } };
	int64_t t = at("2026-01-16T07:00:00.123Z"), out = 0;
	bool inside = true;

	(void)state;
	assert_int_equal(quiet_hours_contains(&q, LA, t, &inside, &err), 0);
	assert_false(inside);
	assert_int_equal(quiet_hours_next_allowed(&q, LA, t, &out, &err), 0);
	assert_int_equal(out, t);
	assert_int_equal(quiet_hours_last_allowed_before(&q, LA, t, &out, &err), 0);
	assert_int_equal(out, t);
	/* No zone lookup when off: even an unknown zone is fine. */
	assert_int_equal(quiet_hours_next_allowed(&q, "Mars/Base", t, &out, &err), 0);
	assert_int_equal(out, t);
}

static void quiet_hours_unknown_zone_is_an_error(void **state)
{
	struct quiet_hours q = window("21:00-08:00");
	struct err err = { { 0 } };
	int64_t out;
	bool inside;

	(void)state;
	assert_int_equal(quiet_hours_contains(&q, "Mars/Base", 0, &inside, &err), -1);
	assert_string_equal(err.msg, "unknown time zone \"Mars/Base\"");
	assert_int_equal(quiet_hours_next_allowed(&q, "Mars/Base", 0, &out, &err), -1);
	assert_string_equal(err.msg, "unknown time zone \"Mars/Base\"");
	assert_int_equal(quiet_hours_last_allowed_before(&q, "Mars/Base", 0, &out, &err), -1);
	assert_string_equal(err.msg, "unknown time zone \"Mars/Base\"");
}

static int teardown_all(void **state)
{
	(void)state;
	tz_shutdown();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quiet_hours_parses_windows_and_none),
		cmocka_unit_test(quiet_hours_parse_errors_name_the_problem),
		cmocka_unit_test(quiet_hours_edges_are_half_open_in_three_zones),
		cmocka_unit_test(quiet_hours_wrap_around_midnight),
		cmocka_unit_test(quiet_hours_window_that_does_not_wrap),
		cmocka_unit_test(quiet_hours_next_allowed_is_the_morning_after),
		cmocka_unit_test(quiet_hours_last_allowed_before_is_20_59_that_evening),
		cmocka_unit_test(quiet_hours_spring_forward_night),
		cmocka_unit_test(quiet_hours_night_with_no_allowed_minute),
		cmocka_unit_test(quiet_hours_fall_back_night),
		cmocka_unit_test(quiet_hours_answers_agree_with_contains_minute_by_minute),
		cmocka_unit_test(quiet_hours_none_changes_nothing),
		cmocka_unit_test(quiet_hours_unknown_zone_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
