/* test_tz.c: wall clock <-> UTC through libical, the DST gap and overlap
 * policy, and calendar arithmetic with durations (src/tz.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tz.h"
#include "validate.h"

#define LA "America/Los_Angeles"
#define NY "America/New_York"
#define ADL "Australia/Adelaide"
#define KOL "Asia/Kolkata"

/* Unix ms of an absolute ISO time, through the parser tested elsewhere. */
static int64_t at(const char *iso)
{
	struct err err = { { 0 } };
	int64_t ms = 0;

	if (time_parse_iso8601(iso, NULL, &ms, &err) != 0)
		fail_msg("%s: %s", iso, err.msg);
	return ms;
}

static void local_is(const char *zone, int y, int mo, int d, int h, int mi,
		     int s, const char *want_utc)
{
	struct tz_wall w = { y, mo, d, h, mi, s, 0, 0 };
	struct err err = { { 0 } };
	int64_t ms = 0;
	char got[32];

	if (tz_local_to_utc(zone, &w, &ms, &err) != 0)
		fail_msg("%s: %s", zone, err.msg);
	time_format_utc(ms, got);
	assert_string_equal(got, want_utc);
}

static void wall_is(const char *zone, const char *utc, int y, int mo, int d,
		    int h, int mi, int s, int weekday)
{
	struct tz_wall w;
	struct err err = { { 0 } };

	if (tz_utc_to_local(zone, at(utc), &w, &err) != 0)
		fail_msg("%s: %s", zone, err.msg);
	assert_int_equal(w.year, y);
	assert_int_equal(w.month, mo);
	assert_int_equal(w.day, d);
	assert_int_equal(w.hour, h);
	assert_int_equal(w.minute, mi);
	assert_int_equal(w.second, s);
	assert_int_equal(w.weekday, weekday);
}

static void shifted_is(const char *zone, const char *from_utc, const char *dur,
		       int sign, const char *want_utc)
{
	struct duration d;
	struct err err = { { 0 } };
	int64_t out = 0;
	char got[32];

	if (duration_parse_iso8601(dur, &d, &err) != 0)
		fail_msg("%s: %s", dur, err.msg);
	if (tz_add_duration(zone, at(from_utc), &d, sign, &out, &err) != 0)
		fail_msg("%s %s: %s", from_utc, dur, err.msg);
	time_format_utc(out, got);
	assert_string_equal(got, want_utc);
}

/* ---- tests ------------------------------------------------------------ */

static void tz_exists_knows_iana_zones_only(void **state)
{
	(void)state;
	assert_true(tz_exists(LA));
	assert_true(tz_exists(KOL));
	assert_true(tz_exists("UTC"));
	assert_false(tz_exists("Mars/Base"));
	assert_false(tz_exists(NULL));
	assert_false(tz_exists(""));
	assert_false(tz_exists("../zoneinfo/UTC"));
	assert_false(tz_exists("/usr/share/zoneinfo/UTC"));
	assert_false(tz_exists("right/UTC"));
	assert_false(tz_exists("localtime"));
	assert_false(tz_exists("America/Los_Angeles_Plus_A_Very_Long_Suffix_That_Is_Over_64_Bytes"));
}

static void tz_local_to_utc_plain_times(void **state)
{
	(void)state;
	local_is(LA, 2026, 12, 1, 8, 30, 0, "2026-12-01T16:30:00.000Z");
	local_is(LA, 2026, 7, 1, 12, 0, 0, "2026-07-01T19:00:00.000Z");
	local_is(NY, 2026, 12, 1, 8, 30, 0, "2026-12-01T13:30:00.000Z");
	local_is(KOL, 2026, 12, 1, 8, 30, 0, "2026-12-01T03:00:00.000Z");
	local_is(ADL, 2026, 12, 1, 8, 30, 0, "2026-11-30T22:00:00.000Z");
	local_is("UTC", 2026, 12, 1, 8, 30, 0, "2026-12-01T08:30:00.000Z");
	/* Beyond 2038 (libical expands rules up to 2582). */
	local_is(LA, 2100, 7, 1, 12, 0, 0, "2100-07-01T19:00:00.000Z");
}

static void tz_spring_gap_moves_forward_by_the_gap(void **state)
{
	(void)state;
	/* 02:30 does not exist on 2026-03-08 in LA: it is 03:30 PDT. */
	local_is(LA, 2026, 3, 8, 2, 30, 0, "2026-03-08T10:30:00.000Z");
	local_is(NY, 2026, 3, 8, 2, 30, 0, "2026-03-08T07:30:00.000Z");
	local_is(ADL, 2026, 10, 4, 2, 30, 0, "2026-10-03T17:00:00.000Z");
	/* Lord Howe moves by half an hour: 02:15 -> 02:45 (+11). */
	local_is("Australia/Lord_Howe", 2026, 10, 4, 2, 15, 0, "2026-10-03T15:45:00.000Z");
}

static void tz_autumn_overlap_takes_the_earlier_daylight_instant(void **state)
{
	(void)state;
	/* 01:30 happens twice on 2026-11-01 in LA: PDT (08:30Z) then PST. */
	local_is(LA, 2026, 11, 1, 1, 30, 0, "2026-11-01T08:30:00.000Z");
	local_is(NY, 2026, 11, 1, 1, 30, 0, "2026-11-01T05:30:00.000Z");
	local_is(ADL, 2026, 4, 5, 2, 30, 0, "2026-04-04T16:00:00.000Z");
	local_is("Australia/Lord_Howe", 2026, 4, 5, 1, 45, 0, "2026-04-04T14:45:00.000Z");
}

/* Every quarter hour across both change days: UTC -> wall -> UTC gives the
 * same instant, except for the second pass through an overlap, which maps
 * to the first (an hour earlier). */
static void tz_round_trip_across_change_days(void **state)
{
	static const struct {
		const char *zone, *from, *to;
	} days[] = {
		{ LA, "2026-03-08T00:00Z", "2026-03-09T12:00Z" },
		{ LA, "2026-11-01T00:00Z", "2026-11-02T12:00Z" },
		{ NY, "2026-03-08T00:00Z", "2026-03-09T00:00Z" },
		{ NY, "2026-11-01T00:00Z", "2026-11-02T00:00Z" },
		{ ADL, "2026-04-04T00:00Z", "2026-04-05T12:00Z" },
		{ ADL, "2026-10-03T00:00Z", "2026-10-04T12:00Z" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		int64_t t, end = at(days[i].to), overlap_seen = 0;

		for (t = at(days[i].from); t <= end; t += 15 * 60 * 1000) {
			struct tz_wall w;
			struct err err = { { 0 } };
			int64_t back = 0;

			assert_int_equal(tz_utc_to_local(days[i].zone, t, &w, &err), 0);
			assert_int_equal(tz_local_to_utc(days[i].zone, &w, &back, &err), 0);
			if (back != t) {
				/* the second occurrence of an overlap wall time */
				assert_int_equal(back, t - 3600 * 1000);
				overlap_seen++;
			}
		}
		/* autumn days have 4 quarter hours seen twice, spring none */
		assert_true(overlap_seen == 0 || overlap_seen == 4);
	}
}

static void tz_utc_to_local_gives_wall_time_and_weekday(void **state)
{
	(void)state;
	wall_is(LA, "2026-12-01T16:30:00Z", 2026, 12, 1, 8, 30, 0, 2);	/* Tuesday */
	wall_is(LA, "2026-03-08T10:30:00Z", 2026, 3, 8, 3, 30, 0, 0);	/* Sunday */
	wall_is(LA, "2026-11-01T08:30:00Z", 2026, 11, 1, 1, 30, 0, 0);
	wall_is(LA, "2026-11-01T09:30:00Z", 2026, 11, 1, 1, 30, 0, 0);
	wall_is(LA, "2026-11-22T05:00:00Z", 2026, 11, 21, 21, 0, 0, 6);	/* Saturday */
	wall_is(KOL, "2026-03-07T21:00:00Z", 2026, 3, 8, 2, 30, 0, 0);
	wall_is(ADL, "2026-04-04T16:00:00Z", 2026, 4, 5, 2, 30, 0, 0);
	wall_is("UTC", "1970-01-01T00:00:00Z", 1970, 1, 1, 0, 0, 0, 4);	/* Thursday */
}

static void tz_utc_to_local_keeps_milliseconds(void **state)
{
	struct tz_wall w;
	struct err err = { { 0 } };
	int64_t back = 0;

	(void)state;
	assert_int_equal(tz_utc_to_local(LA, at("2026-12-01T16:30:00.250Z"), &w, &err), 0);
	assert_int_equal(w.msec, 250);
	assert_int_equal(tz_local_to_utc(LA, &w, &back, &err), 0);
	assert_int_equal(back, at("2026-12-01T16:30:00.250Z"));
}

static void tz_add_duration_keeps_the_wall_clock_across_dst(void **state)
{
	(void)state;
	/* Appearance 2026-11-05 08:30 PST; a week before is 08:30 PDT. */
	shifted_is(LA, "2026-11-05T16:30:00Z", "P7D", -1, "2026-10-29T15:30:00.000Z");
	shifted_is(LA, "2026-11-05T16:30:00Z", "P1W", -1, "2026-10-29T15:30:00.000Z");
	/* And in spring: 08:30 PDT, a week before is 08:30 PST. */
	shifted_is(LA, "2026-03-12T15:30:00Z", "P7D", -1, "2026-03-05T16:30:00.000Z");
	shifted_is(NY, "2026-03-12T12:30:00Z", "P7D", -1, "2026-03-05T13:30:00.000Z");
	/* Adelaide: 2026-10-08 09:00 ACDT -> 2026-10-01 09:00 ACST. */
	shifted_is(ADL, "2026-10-07T22:30:00Z", "P7D", -1, "2026-09-30T23:30:00.000Z");
	/* Forward works the same. */
	shifted_is(LA, "2026-10-29T15:30:00Z", "P7D", 1, "2026-11-05T16:30:00.000Z");
}

static void tz_add_duration_counts_hours_as_elapsed_time(void **state)
{
	(void)state;
	/* 03:00 PST on the change day minus 3 h is 01:00 PDT, not 00:00. */
	shifted_is(LA, "2026-11-01T11:00:00Z", "PT3H", -1, "2026-11-01T08:00:00.000Z");
	shifted_is(LA, "2026-12-01T16:30:00Z", "PT3H", -1, "2026-12-01T13:30:00.000Z");
	shifted_is(LA, "2026-12-01T16:30:00Z", "P1DT3H", -1, "2026-11-30T13:30:00.000Z");
	shifted_is(KOL, "2026-12-01T03:00:00Z", "PT90M", -1, "2026-12-01T01:30:00.000Z");
	shifted_is(LA, "2026-12-01T16:30:00Z", "PT45S", 1, "2026-12-01T16:30:45.000Z");
}

static void tz_add_duration_clamps_the_day_of_month(void **state)
{
	(void)state;
	/* 2026-03-31 09:00 PDT minus a month: 2026-02-28 09:00 PST. */
	shifted_is(LA, "2026-03-31T16:00:00Z", "P1M", -1, "2026-02-28T17:00:00.000Z");
	/* Leap year: 2028-03-31 -> 2028-02-29. */
	shifted_is("UTC", "2028-03-31T09:00:00Z", "P1M", -1, "2028-02-29T09:00:00.000Z");
	shifted_is("UTC", "2028-02-29T09:00:00Z", "P1Y", 1, "2029-02-28T09:00:00.000Z");
	shifted_is("UTC", "2026-01-31T09:00:00Z", "P1M1D", 1, "2026-03-01T09:00:00.000Z");
	shifted_is("UTC", "2026-12-15T09:00:00Z", "P1Y1M", 1, "2028-01-15T09:00:00.000Z");
	shifted_is("UTC", "2026-01-15T09:00:00Z", "P13M", -1, "2024-12-15T09:00:00.000Z");
}

static void tz_add_duration_into_a_gap_moves_forward(void **state)
{
	(void)state;
	/* 2026-03-09 02:30 PDT minus a day is 02:30 on the gap day: 03:30 PDT. */
	shifted_is(LA, "2026-03-09T09:30:00Z", "P1D", -1, "2026-03-08T10:30:00.000Z");
	/* Into an overlap: the first 01:30 (PDT). */
	shifted_is(LA, "2026-11-02T09:30:00Z", "P1D", -1, "2026-11-01T08:30:00.000Z");
}

static void tz_add_duration_refuses_to_leave_1970_to_9999(void **state)
{
	struct duration d = { 0 };
	struct err err = { { 0 } };
	int64_t out;

	(void)state;
	d.months = 1;
	assert_int_equal(tz_add_duration("UTC", at("1970-01-05T00:00:00Z"), &d, -1, &out, &err), -1);
	assert_string_equal(err.msg, "time out of range (years 1970..9999)");
	d.months = 0;
	d.years = 999999;
	assert_int_equal(tz_add_duration(LA, at("2026-01-05T00:00:00Z"), &d, 1, &out, &err), -1);
	d.years = 0;
	d.hours = 10;
	assert_int_equal(tz_add_duration("UTC", at("1970-01-01T05:00:00Z"), &d, -1, &out, &err), -1);
	d.hours = 0;
	assert_int_equal(tz_add_duration("UTC", 0, &d, 2, &out, &err), -1);
	d.days = -1;
	assert_int_equal(tz_add_duration("UTC", 0, &d, 1, &out, &err), -1);
}

static void tz_unknown_zone_is_an_error(void **state)
{
	struct tz_wall w = { 2026, 12, 1, 8, 30, 0, 0, 0 };
	struct duration d = { 0 };
	struct err err = { { 0 } };
	int64_t ms;

	(void)state;
	assert_int_equal(tz_local_to_utc("Mars/Base", &w, &ms, &err), -1);
	assert_string_equal(err.msg, "unknown time zone \"Mars/Base\"");
	assert_int_equal(tz_utc_to_local("Mars/Base", 0, &w, &err), -1);
	assert_string_equal(err.msg, "unknown time zone \"Mars/Base\"");
	assert_int_equal(tz_add_duration("Mars/Base", 0, &d, 1, &ms, &err), -1);
	assert_string_equal(err.msg, "unknown time zone \"Mars/Base\"");
}

static void tz_local_to_utc_rejects_fields_out_of_range(void **state)
{
	static const struct tz_wall bad[] = {
		{ 2026, 2, 29, 8, 0, 0, 0, 0 }, { 2026, 13, 1, 8, 0, 0, 0, 0 },
		{ 2026, 4, 31, 8, 0, 0, 0, 0 }, { 2026, 4, 1, 24, 0, 0, 0, 0 },
		{ 2026, 4, 1, 8, 60, 0, 0, 0 }, { 2026, 4, 1, 8, 0, 60, 0, 0 },
		{ 2026, 4, 1, 8, 0, 0, 1000, 0 }, { 0, 4, 1, 8, 0, 0, 0, 0 },
		{ 10000, 4, 1, 8, 0, 0, 0, 0 }, { 2026, 4, 1, -1, 0, 0, 0, 0 },
	};
	struct err err = { { 0 } };
	int64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tz_local_to_utc(LA, &bad[i], &ms, &err), -1);
		assert_string_equal(err.msg, "time out of range");
	}
	assert_int_equal(tz_utc_to_local(LA, INT64_MAX, (struct tz_wall[1]){ { 0 } }, &err), -1);
	assert_int_equal(tz_utc_to_local(LA, INT64_MIN, (struct tz_wall[1]){ { 0 } }, &err), -1);
}

static void tz_calendar_helpers_agree_with_each_other(void **state)
{
	int64_t days;

	(void)state;
	assert_int_equal(tz_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(tz_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(tz_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(tz_days_in_month(2026, 2), 28);
	assert_int_equal(tz_days_in_month(2028, 2), 29);
	assert_int_equal(tz_days_in_month(2100, 2), 28);
	assert_int_equal(tz_days_in_month(2000, 2), 29);
	assert_int_equal(tz_days_in_month(2026, 4), 30);
	assert_int_equal(tz_days_in_month(2026, 13), 0);
	for (days = -800000; days < 3000000; days += 997) {
		int64_t y;
		int m, d;

		tz_civil_from_days(days, &y, &m, &d);
		assert_true(m >= 1 && m <= 12 && d >= 1 && d <= tz_days_in_month(y, m));
		assert_int_equal(tz_days_from_civil(y, m, d), days);
	}
}

static void tz_works_again_after_shutdown(void **state)
{
	(void)state;
	local_is(LA, 2026, 3, 8, 2, 30, 0, "2026-03-08T10:30:00.000Z");
	tz_shutdown();
	tz_shutdown();
	local_is(LA, 2026, 3, 8, 2, 30, 0, "2026-03-08T10:30:00.000Z");
	assert_true(tz_exists(KOL));
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
		cmocka_unit_test(tz_exists_knows_iana_zones_only),
		cmocka_unit_test(tz_local_to_utc_plain_times),
		cmocka_unit_test(tz_spring_gap_moves_forward_by_the_gap),
		cmocka_unit_test(tz_autumn_overlap_takes_the_earlier_daylight_instant),
		cmocka_unit_test(tz_round_trip_across_change_days),
		cmocka_unit_test(tz_utc_to_local_gives_wall_time_and_weekday),
		cmocka_unit_test(tz_utc_to_local_keeps_milliseconds),
		cmocka_unit_test(tz_add_duration_keeps_the_wall_clock_across_dst),
		cmocka_unit_test(tz_add_duration_counts_hours_as_elapsed_time),
		cmocka_unit_test(tz_add_duration_clamps_the_day_of_month),
		cmocka_unit_test(tz_add_duration_into_a_gap_moves_forward),
		cmocka_unit_test(tz_add_duration_refuses_to_leave_1970_to_9999),
		cmocka_unit_test(tz_unknown_zone_is_an_error),
		cmocka_unit_test(tz_local_to_utc_rejects_fields_out_of_range),
		cmocka_unit_test(tz_calendar_helpers_agree_with_each_other),
		cmocka_unit_test(tz_works_again_after_shutdown),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
