/* test_validate.c: phone numbers, email addresses, zones, times, durations
 * and the quoting of bad values in messages (src/validate.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tz.h"
#include "validate.h"
#include "quote.h"

/* ---- helpers ---------------------------------------------------------- */

static void phone_ok(const char *in, const char *want)
{
	char out[PHONE_E164_MAX + 1];
	struct err err = { { 0 } };

	if (phone_check_e164(in, out, &err) != 0)
		fail_msg("%s rejected: %s", in, err.msg);
	assert_string_equal(out, want);
}

static void phone_bad(const char *in, const char *want)
{
	char out[PHONE_E164_MAX + 1];
	struct err err = { { 0 } };

	if (phone_check_e164(in, out, &err) == 0)
		fail_msg("%s accepted", in);
	assert_string_equal(err.msg, want);
}

static void email_ok(const char *in)
{
	struct err err = { { 0 } };

	if (email_check(in, &err) != 0)
		fail_msg("%s rejected: %s", in, err.msg);
}

static void email_bad(const char *in)
{
	struct err err = { { 0 } };
	char want[QUOTE_MAX + 32], q[QUOTE_MAX];

	if (email_check(in, &err) == 0)
		fail_msg("%s accepted", in);
	quote_value(q, sizeof(q), in);
	snprintf(want, sizeof(want), "not an email address: %s", q);
	assert_string_equal(err.msg, want);
}

/* Parses s (in zone tz) and compares the instant, printed, with want. */
static void time_is(const char *s, const char *tz, const char *want)
{
	struct err err = { { 0 } };
	int64_t ms = -1;
	char got[32];

	if (time_parse_iso8601(s, tz, &ms, &err) != 0)
		fail_msg("%s (%s) rejected: %s", s, tz ? tz : "no zone", err.msg);
	time_format_utc(ms, got);
	assert_string_equal(got, want);
}

static void time_bad(const char *s, const char *tz, const char *want)
{
	struct err err = { { 0 } };
	int64_t ms = 0;

	if (time_parse_iso8601(s, tz, &ms, &err) == 0)
		fail_msg("%s accepted", s);
	assert_string_equal(err.msg, want);
}

/* The plain syntax error, with the input quoted. */
static void time_malformed(const char *s)
{
	char want[QUOTE_MAX + 32], q[QUOTE_MAX];

	quote_value(q, sizeof(q), s);
	snprintf(want, sizeof(want), "not an ISO-8601 time: %s", q);
	time_bad(s, "UTC", want);
}

static void duration_is(const char *s, int y, int mo, int w, int d, int h,
			int mi, int sec)
{
	struct duration dur;
	struct err err = { { 0 } };

	if (duration_parse_iso8601(s, &dur, &err) != 0)
		fail_msg("%s rejected: %s", s, err.msg);
	assert_int_equal(dur.years, y);
	assert_int_equal(dur.months, mo);
	assert_int_equal(dur.weeks, w);
	assert_int_equal(dur.days, d);
	assert_int_equal(dur.hours, h);
	assert_int_equal(dur.minutes, mi);
	assert_int_equal(dur.seconds, sec);
}

static void duration_bad(const char *s)
{
	struct duration dur;
	struct err err = { { 0 } };
	char want[QUOTE_MAX + 32], q[QUOTE_MAX];

	if (duration_parse_iso8601(s, &dur, &err) == 0)
		fail_msg("%s accepted", s);
	quote_value(q, sizeof(q), s);
	snprintf(want, sizeof(want), "not an ISO-8601 duration: %s", q);
	assert_string_equal(err.msg, want);
}

/* ---- phone numbers ---------------------------------------------------- */

static void phone_accepts_fictional_us_number(void **state)
{
	(void)state;
	phone_ok("+13235550100", "+13235550100");
	phone_ok("+12135550111", "+12135550111");
	phone_ok("+13235550199", "+13235550199");
}

static void phone_accepts_numbers_of_other_countries(void **state)
{
	(void)state;
	phone_ok("+442079460958", "+442079460958");	/* UK */
	phone_ok("+525512345678", "+525512345678");	/* Mexico */
	phone_ok("+5511987654321", "+5511987654321");	/* Brazil */
	phone_ok("+919876543210", "+919876543210");	/* India */
	phone_ok("+2348031234567", "+2348031234567");	/* Nigeria */
	phone_ok("+50370001234", "+50370001234");	/* El Salvador */
	phone_ok("+50241234567", "+50241234567");	/* Guatemala */
	phone_ok("+79161234567", "+79161234567");	/* Russia */
	phone_ok("+18765550100", "+18765550100");	/* Jamaica, in NANP */
	phone_ok("+38344123456", "+38344123456");	/* Kosovo */
	phone_ok("+8821612345678", "+8821612345678");	/* Thuraya, 882 */
	phone_ok("+29012345", "+29012345");		/* St Helena: 8 digits */
	phone_ok("+491511234567890", "+491511234567890");	/* 15 digits */
}

static void phone_rejects_number_without_plus(void **state)
{
	(void)state;
	phone_bad("13235550100", "not an E.164 number: \"13235550100\"");
	phone_bad("323-555", "not an E.164 number: \"323-555\"");
	phone_bad("", "not an E.164 number: \"\"");
	phone_bad(NULL, "not an E.164 number: (null)");
}

static void phone_rejects_formatting_characters(void **state)
{
	(void)state;
	phone_bad("+1 323 555 0100", "not an E.164 number: \"+1 323 555 0100\"");
	phone_bad("+1(323)5550100", "not an E.164 number: \"+1(323)5550100\"");
	phone_bad("+1-323-555-0100", "not an E.164 number: \"+1-323-555-0100\"");
	phone_bad("+13235550100 ", "not an E.164 number: \"+13235550100 \"");
	phone_bad("++13235550100", "not an E.164 number: \"++13235550100\"");
}

static void phone_rejects_wrong_length_and_leading_zero(void **state)
{
	(void)state;
	phone_bad("+4420794", "not an E.164 number: \"+4420794\"");	/* 7 digits */
	phone_bad("+4420794609581234", "not an E.164 number: \"+4420794609581234\""); /* 16 */
	phone_bad("+04420794609", "not an E.164 number: \"+04420794609\"");
}

static void phone_rejects_unknown_country_code(void **state)
{
	(void)state;
	phone_bad("+99912345678", "unknown country code: \"+99912345678\"");
	phone_bad("+25912345678", "unknown country code: \"+25912345678\"");
	phone_bad("+2101234567", "unknown country code: \"+2101234567\"");
	/* Freephone and premium rate: assigned to services, not people. */
	phone_bad("+80012345678", "unknown country code: \"+80012345678\"");
	phone_bad("+97912345678", "unknown country code: \"+97912345678\"");
	/* Reserved for Kazakhstan, never used. */
	phone_bad("+9971234567890", "unknown country code: \"+9971234567890\"");
}

static void phone_applies_north_american_rules(void **state)
{
	(void)state;
	/* NPA first digit 0 or 1 */
	phone_bad("+10235550100", "not a valid North American number: \"+10235550100\"");
	phone_bad("+11235550100", "not a valid North American number: \"+11235550100\"");
	/* NPA N11 and NPA with 9 in the middle */
	phone_bad("+14115550100", "not a valid North American number: \"+14115550100\"");
	phone_bad("+19115550100", "not a valid North American number: \"+19115550100\"");
	phone_bad("+13935550100", "not a valid North American number: \"+13935550100\"");
	/* NXX first digit 0 or 1, NXX N11 */
	phone_bad("+13230550100", "not a valid North American number: \"+13230550100\"");
	phone_bad("+13231550100", "not a valid North American number: \"+13231550100\"");
	phone_bad("+13234110100", "not a valid North American number: \"+13234110100\"");
	/* ten digits after the 1, no more, no less */
	phone_bad("+1323555010", "not a valid North American number: \"+1323555010\"");
	phone_bad("+132355501001", "not a valid North American number: \"+132355501001\"");
	/* N1X with X != 1 is a valid NPA and NXX. */
	phone_ok("+12125550100", "+12125550100");
	phone_ok("+13232120100", "+13232120100");
}

static void phone_normalises_old_mexican_mobile_prefix(void **state)
{
	(void)state;
	phone_ok("+5215512345678", "+525512345678");
}

static void phone_error_quotes_control_characters_and_truncates(void **state)
{
	(void)state;
	phone_bad("+1\n323", "not an E.164 number: \"+1\\n323\"");
	phone_bad("+1\"3\\", "not an E.164 number: \"+1\\\"3\\\\\"");
	phone_bad("+12345678901234567890123456789012345678901234567890",
		  "not an E.164 number: \"+123456789012345678901234567890123456789\"...");
}

/* ---- email ------------------------------------------------------------ */

static void email_accepts_ordinary_addresses(void **state)
{
	(void)state;
	email_ok("ana@example.org");
	email_ok("m3@example.org");
	email_ok("first.last+tag@sub.example.co.uk");
	email_ok("o'brien@example.ie");
	email_ok("x@xn--bcher-kva.example");
	email_ok("a_b-c=d@ex-ample.org");
}

static void email_rejects_malformed_addresses(void **state)
{
	char longlocal[80], longtotal[300], longlabel[100];

	(void)state;
	{
		struct err err = { { 0 } };

		assert_int_equal(email_check("x@", &err), -1);
		assert_string_equal(err.msg, "not an email address: \"x@\"");
	}
	email_bad("@example.org");
	email_bad("ana");
	email_bad("");
	email_bad("ana@@example.org");
	email_bad("a@b@example.org");
	email_bad("ana@example");		/* no dot in the domain */
	email_bad("ana @example.org");
	email_bad(" ana@example.org");
	email_bad(".ana@example.org");
	email_bad("ana.@example.org");
	email_bad("an..a@example.org");
	email_bad("ana@-example.org");
	email_bad("ana@example-.org");
	email_bad("ana@exa_mple.org");
	email_bad("ana@example..org");
	email_bad("ana@.example.org");
	email_bad("ana@example.org.");
	email_bad("ana@192.168.0.1");
	email_bad("\"ana\"@example.org");
	email_bad("ana(x)@example.org");
	email_bad("an\xc3\xa1@example.org");	/* non-ASCII */

	memset(longlocal, 'a', 65);
	memcpy(longlocal + 65, "@example.org", 13);
	email_bad(longlocal);
	memcpy(longlocal + 64, "@example.org", 13);
	email_ok(longlocal);

	memset(longlabel, 'b', 64);
	memcpy(longlabel, "a@", 2);
	memcpy(longlabel + 64, ".org", 5);	/* a label of 62 'b': fine */
	email_ok(longlabel);
	memset(longlabel, 'b', 68);
	memcpy(longlabel, "a@", 2);
	memcpy(longlabel + 68, ".org", 5);	/* 66 bytes: too long */
	email_bad(longlabel);

	/* 255 bytes in all: labels of 50 */
	memcpy(longtotal, "a@", 2);
	memset(longtotal + 2, 'c', 253);
	for (int i = 2 + 50; i < 255; i += 51)
		longtotal[i] = '.';
	longtotal[254] = 'g';
	longtotal[255] = '\0';
	email_bad(longtotal);
	longtotal[254] = '\0';		/* 254 bytes */
	longtotal[253] = 'g';
	email_ok(longtotal);
}

static void signal_ok(const char *in, const char *want)
{
	char out[SIGNAL_ADDRESS_MAX + 1];
	struct err err = { { 0 } };

	if (signal_address_check(in, out, &err) != 0)
		fail_msg("%s rejected: %s", in, err.msg);
	assert_string_equal(out, want);
}

static void signal_bad(const char *in)
{
	char out[SIGNAL_ADDRESS_MAX + 1];
	struct err err = { { 0 } };

	if (signal_address_check(in, out, &err) == 0)
		fail_msg("%s accepted as %s", in, out);
	if (in[0] != '+')
		assert_string_equal(err.pub, "expected an E.164 number (+ and country code), a Signal "
				    "username (name.01) or an ACI UUID");
}

/* libsignal's usernames rules: nickname 3..32 of [a-z0-9_], not starting
 * with a digit; discriminator 2..9 digits, not zero, no leading zero past
 * two digits. */
static void signal_accepts_numbers_usernames_and_acis(void **state)
{
	(void)state;
	signal_ok("+13235550100", "+13235550100");
	signal_ok("+5215512345678", "+525512345678");
	signal_ok("ana.01", "ana.01");
	signal_ok("_Ana_Org.123456789", "_ana_org.123456789");
	signal_ok("abcdefghijklmnopqrstuvwxyz_01234.99", "abcdefghijklmnopqrstuvwxyz_01234.99");
	signal_ok("3F2504E0-4F89-41D3-9A0C-0305E82C3301", "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
}

static void signal_rejects_other_shapes_naming_the_forms(void **state)
{
	(void)state;
	signal_bad("ana");			/* no discriminator */
	signal_bad("an.01");			/* nickname too short */
	signal_bad("abcdefghijklmnopqrstuvwxyz_012345.01");	/* 33 */
	signal_bad("1ana.01");			/* starts with a digit */
	signal_bad("an-a.01");
	signal_bad("ana.1");			/* one digit */
	signal_bad("ana.00");
	signal_bad("ana.001");			/* leading zero past two digits */
	signal_bad("ana.1234567890");		/* ten digits */
	signal_bad("ana.0x");
	signal_bad("3f2504e0-4f89-41d3-9a0c-0305e82c330");
	signal_bad("3f2504e0x4f89-41d3-9a0c-0305e82c3301");
	signal_bad("3235550100");
	signal_bad("+1323");
	signal_bad("");
}

static void email_rejects_null(void **state)
{
	struct err err = { { 0 } };

	(void)state;
	assert_int_equal(email_check(NULL, &err), -1);
	assert_string_equal(err.msg, "not an email address: (null)");
}

/* ---- zones ------------------------------------------------------------ */

static void tz_check_accepts_iana_zones(void **state)
{
	static const char *const zones[] = {
		"America/Los_Angeles", "America/New_York", "Asia/Kolkata",
		"Australia/Adelaide", "UTC", "Etc/UTC", "Etc/GMT+5",
		"America/Argentina/Buenos_Aires", "America/Mexico_City",
		"America/Ciudad_Juarez", "Europe/London",
	};
	struct err err = { { 0 } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (tz_check(zones[i], &err) != 0)
			fail_msg("%s rejected: %s", zones[i], err.msg);
}

static void tz_check_rejects_unknown_zone(void **state)
{
	struct err err = { { 0 } };

	(void)state;
	assert_int_equal(tz_check("Mars/Base", &err), -1);
	assert_string_equal(err.msg, "unknown time zone \"Mars/Base\"");
	assert_int_equal(tz_check("america/los_angeles", &err), -1);
	assert_string_equal(err.msg, "unknown time zone \"america/los_angeles\"");
	assert_int_equal(tz_check(NULL, &err), -1);
	assert_string_equal(err.msg, "unknown time zone (null)");
}

static void tz_check_refuses_paths_and_non_zone_files(void **state)
{
	static const char *const names[] = {
		"", "/etc/localtime", "../../../etc/passwd", "America/../UTC",
		"America//Los_Angeles", "America/Los_Angeles/", "localtime",
		"posixrules", "Factory", "right/America/New_York",
		"posix/America/New_York", "America/Los Angeles", "Etc/-5",
		"zone.tab", "America",
	};
	struct err err = { { 0 } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (tz_check(names[i], &err) == 0)
			fail_msg("\"%s\" accepted", names[i]);
}

/* ---- times ------------------------------------------------------------ */

static void time_parses_utc_with_z(void **state)
{
	struct err err = { { 0 } };
	int64_t ms = 0;

	(void)state;
	assert_int_equal(time_parse_iso8601("2026-11-22T19:03:11.250Z", NULL, &ms, &err), 0);
	assert_int_equal(ms, 1795374191250LL);
	time_is("1970-01-01T00:00:00Z", NULL, "1970-01-01T00:00:00.000Z");
	time_is("9999-12-31T23:59:59.999Z", NULL, "9999-12-31T23:59:59.999Z");
}

static void time_parses_offsets(void **state)
{
	(void)state;
	time_is("2026-11-22T11:03:11-08:00", NULL, "2026-11-22T19:03:11.000Z");
	time_is("2026-11-23T00:33:11+05:30", NULL, "2026-11-22T19:03:11.000Z");
	time_is("2026-11-22T19:03:11+00:00", NULL, "2026-11-22T19:03:11.000Z");
	time_is("2026-11-22T19:03:11-00:00", NULL, "2026-11-22T19:03:11.000Z");
	time_is("2026-11-23T09:48:11+14:45", NULL, "2026-11-22T19:03:11.000Z");
	/* An offset wins over a zone given beside it. */
	time_is("2026-11-22T19:03:11Z", "America/Los_Angeles", "2026-11-22T19:03:11.000Z");
}

static void time_accepts_minutes_without_seconds(void **state)
{
	(void)state;
	time_is("2026-12-01T08:30Z", NULL, "2026-12-01T08:30:00.000Z");
	time_is("2026-12-01T08:30", "America/Los_Angeles", "2026-12-01T16:30:00.000Z");
}

static void time_keeps_milliseconds_and_truncates_finer_digits(void **state)
{
	(void)state;
	time_is("2026-03-08T02:30:00.5Z", NULL, "2026-03-08T02:30:00.500Z");
	time_is("2026-03-08T02:30:00.05Z", NULL, "2026-03-08T02:30:00.050Z");
	time_is("2026-03-08T02:30:00.123456789Z", NULL, "2026-03-08T02:30:00.123Z");
	time_is("2026-03-08T02:30:00.999999999Z", NULL, "2026-03-08T02:30:00.999Z");
	time_is("2026-12-01T08:30:00.250", "America/Los_Angeles", "2026-12-01T16:30:00.250Z");
}

static void time_rejects_words(void **state)
{
	(void)state;
	time_bad("tomorrow", NULL, "not an ISO-8601 time: \"tomorrow\"");
	time_bad("", NULL, "not an ISO-8601 time: \"\"");
	time_bad(NULL, NULL, "not an ISO-8601 time: (null)");
}

static void time_rejects_other_shapes(void **state)
{
	static const char *const bad[] = {
		"2026-11-22", "2026-11-22 19:03:11Z", "2026-11-22t19:03:11Z",
		"2026-11-22T19:03:11z", "2026-11-22T19:03:11+0100",
		"2026-11-22T19:03:11+01", "2026-11-22T19Z", "26-11-22T19:03Z",
		"2026-11-22T19:03:11.Z", "2026-11-22T19:03:11.1234567890Z",
		"2026-11-22T19:03:11Z ", " 2026-11-22T19:03:11Z",
		"+2026-11-22T19:03:11Z", "2026-1-22T19:03:11Z",
		"2026-11-22T19:03:1Z", "2026-11-22T19:03:11,5Z",
		"20261122T190311Z", "2026-11-22T19:03:11Z+01:00",
		"2026-11-22T19:03:11+01:00:00", "2026-11-22T19:3Z",
		"2026-W47-1T19:03Z",
		"2026-11-22T19:03:11\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		time_malformed(bad[i]);
}

static void time_rejects_out_of_range_fields_with_the_reason(void **state)
{
	(void)state;
	time_bad("2026-13-01T00:00Z", NULL,
		 "not an ISO-8601 time: \"2026-13-01T00:00Z\" (month out of range)");
	time_bad("2026-00-01T00:00Z", NULL,
		 "not an ISO-8601 time: \"2026-00-01T00:00Z\" (month out of range)");
	time_bad("2026-02-29T00:00Z", NULL,
		 "not an ISO-8601 time: \"2026-02-29T00:00Z\" (no such day)");
	time_bad("2100-02-29T00:00Z", NULL,
		 "not an ISO-8601 time: \"2100-02-29T00:00Z\" (no such day)");
	time_bad("2026-04-31T00:00Z", NULL,
		 "not an ISO-8601 time: \"2026-04-31T00:00Z\" (no such day)");
	time_bad("2026-04-00T00:00Z", NULL,
		 "not an ISO-8601 time: \"2026-04-00T00:00Z\" (no such day)");
	time_bad("2026-04-01T24:00Z", NULL,
		 "not an ISO-8601 time: \"2026-04-01T24:00Z\" (hour out of range)");
	time_bad("2026-04-01T23:60Z", NULL,
		 "not an ISO-8601 time: \"2026-04-01T23:60Z\" (minute out of range)");
	time_bad("2016-12-31T23:59:60Z", NULL,
		 "not an ISO-8601 time: \"2016-12-31T23:59:60Z\" (second out of range)");
	time_bad("1969-12-31T23:59Z", NULL,
		 "not an ISO-8601 time: \"1969-12-31T23:59Z\" (year must be 1970..9999)");
	time_bad("2026-04-01T10:00+19:00", NULL,
		 "not an ISO-8601 time: \"2026-04-01T10:00+19:00\" (offset out of range)");
	time_bad("2026-04-01T10:00+05:60", NULL,
		 "not an ISO-8601 time: \"2026-04-01T10:00+05:60\" (offset out of range)");
	/* Leap years: 2028 and 2000 have a 29 February. */
	time_is("2028-02-29T00:00Z", NULL, "2028-02-29T00:00:00.000Z");
	time_is("2000-02-29T00:00Z", NULL, "2000-02-29T00:00:00.000Z");
}

static void time_without_offset_needs_a_zone(void **state)
{
	(void)state;
	time_bad("2026-12-01T08:30:00", NULL, "time has no offset and no time zone");
	time_bad("2026-12-01T08:30:00", "Mars/Base", "unknown time zone \"Mars/Base\"");
}

static void time_local_follows_standard_and_daylight_time(void **state)
{
	(void)state;
	time_is("2026-12-01T08:30:00", "America/Los_Angeles", "2026-12-01T16:30:00.000Z");
	time_is("2026-07-01T12:00:00", "America/Los_Angeles", "2026-07-01T19:00:00.000Z");
	time_is("2026-12-01T08:30:00", "America/New_York", "2026-12-01T13:30:00.000Z");
	time_is("2026-07-01T12:00:00", "America/New_York", "2026-07-01T16:00:00.000Z");
	/* Mexico has had no DST since 2022 (stale ICU data still says UTC-5). */
	time_is("2026-07-01T12:00:00", "America/Mexico_City", "2026-07-01T18:00:00.000Z");
}

static void time_local_in_spring_gap_moves_forward_by_the_gap(void **state)
{
	(void)state;
	time_is("2026-03-08T02:30:00", "America/Los_Angeles", "2026-03-08T10:30:00.000Z");
	time_is("2026-03-08T02:00:00", "America/Los_Angeles", "2026-03-08T10:00:00.000Z");
	time_is("2026-03-08T02:59:59", "America/Los_Angeles", "2026-03-08T10:59:59.000Z");
	time_is("2026-03-08T02:30:00", "America/New_York", "2026-03-08T07:30:00.000Z");
	/* Adelaide (UTC+9:30, daylight +10:30) springs forward at 02:00. */
	time_is("2026-10-04T02:30:00", "Australia/Adelaide", "2026-10-03T17:00:00.000Z");
}

static void time_local_in_autumn_overlap_takes_the_first_instant(void **state)
{
	(void)state;
	time_is("2026-11-01T01:30:00", "America/Los_Angeles", "2026-11-01T08:30:00.000Z");
	time_is("2026-11-01T01:00:00", "America/Los_Angeles", "2026-11-01T08:00:00.000Z");
	time_is("2026-11-01T01:59:59", "America/Los_Angeles", "2026-11-01T08:59:59.000Z");
	time_is("2026-11-01T01:30:00", "America/New_York", "2026-11-01T05:30:00.000Z");
	/* Adelaide falls back at 03:00 ACDT to 02:00 ACST. */
	time_is("2026-04-05T02:30:00", "Australia/Adelaide", "2026-04-04T16:00:00.000Z");
}

static void time_local_just_around_the_changes(void **state)
{
	(void)state;
	time_is("2026-03-08T01:59:59.999", "America/Los_Angeles", "2026-03-08T09:59:59.999Z");
	time_is("2026-03-08T03:00:00", "America/Los_Angeles", "2026-03-08T10:00:00.000Z");
	time_is("2026-11-01T00:59:59", "America/Los_Angeles", "2026-11-01T07:59:59.000Z");
	time_is("2026-11-01T02:00:00", "America/Los_Angeles", "2026-11-01T10:00:00.000Z");
	time_is("2026-04-05T01:59:59", "Australia/Adelaide", "2026-04-04T15:29:59.000Z");
	time_is("2026-04-05T03:00:00", "Australia/Adelaide", "2026-04-04T17:30:00.000Z");
}

static void time_local_in_half_hour_zone_without_dst(void **state)
{
	(void)state;
	time_is("2026-03-08T02:30:00", "Asia/Kolkata", "2026-03-07T21:00:00.000Z");
	time_is("2026-11-01T01:30:00", "Asia/Kolkata", "2026-10-31T20:00:00.000Z");
	time_is("2026-03-08T02:30:00+05:30", NULL, "2026-03-07T21:00:00.000Z");
}

/* ---- durations -------------------------------------------------------- */

static void duration_parses_every_part(void **state)
{
	(void)state;
	duration_is("P1Y2M3W4DT5H6M7S", 1, 2, 3, 4, 5, 6, 7);
	duration_is("P1Y", 1, 0, 0, 0, 0, 0, 0);
	duration_is("P2M", 0, 2, 0, 0, 0, 0, 0);
	duration_is("PT2M", 0, 0, 0, 0, 0, 2, 0);
	duration_is("PT45S", 0, 0, 0, 0, 0, 0, 45);
	duration_is("P1DT12H", 0, 0, 0, 1, 12, 0, 0);
	duration_is("P999999D", 0, 0, 0, 999999, 0, 0, 0);
}

static void duration_parses_the_default_offsets(void **state)
{
	(void)state;
	duration_is("P7D", 0, 0, 0, 7, 0, 0, 0);
	duration_is("P3D", 0, 0, 0, 3, 0, 0, 0);
	duration_is("P1D", 0, 0, 0, 1, 0, 0, 0);
	duration_is("PT3H", 0, 0, 0, 0, 3, 0, 0);
	duration_is("PT90M", 0, 0, 0, 0, 0, 90, 0);
	duration_is("P1W", 0, 0, 1, 0, 0, 0, 0);
	duration_is("P0D", 0, 0, 0, 0, 0, 0, 0);
}

static void duration_rejects_words(void **state)
{
	struct duration d;
	struct err err = { { 0 } };

	(void)state;
	assert_int_equal(duration_parse_iso8601("7 days", &d, &err), -1);
	assert_string_equal(err.msg, "not an ISO-8601 duration: \"7 days\"");
	assert_int_equal(duration_parse_iso8601(NULL, &d, &err), -1);
	assert_string_equal(err.msg, "not an ISO-8601 duration: (null)");
}

static void duration_rejects_other_shapes(void **state)
{
	static const char *const bad[] = {
		"", "P", "PT", "P1DT", "1D", "p1d", "P1d", "-P1D", "P-1D",
		"P1.5D", "PT1.5H", "P1,5D", "P1H", "PT1D", "PT1W", "P1D1D",
		"P1M1Y", "P1D2W", "PT1S2M", "P1DT2H3H", "PT1HT2M", "P 1D",
		"P1D ", "PD", "PTH", "P1DTT1H", "P+1D", "PT3H\n", "P1Y2",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		duration_bad(bad[i]);
}

static void duration_rejects_huge_numbers(void **state)
{
	struct duration d;
	struct err err = { { 0 } };

	(void)state;
	assert_int_equal(duration_parse_iso8601("P1234567D", &d, &err), -1);
	assert_string_equal(err.msg, "not an ISO-8601 duration: \"P1234567D\" (number too large)");
	assert_int_equal(duration_parse_iso8601("PT99999999999999999999H", &d, &err), -1);
}

/* ---- formatting ------------------------------------------------------- */

static void time_format_utc_prints_milliseconds_and_z(void **state)
{
	char out[32];

	(void)state;
	time_format_utc(1795374191250LL, out);
	assert_string_equal(out, "2026-11-22T19:03:11.250Z");
	assert_int_equal(strlen(out), 24);
	time_format_utc(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
	time_format_utc(1835395200000LL, out);
	assert_string_equal(out, "2028-02-29T00:00:00.000Z");
	time_format_utc(253402300799999LL, out);
	assert_string_equal(out, "9999-12-31T23:59:59.999Z");
	time_format_utc(-1, out);
	assert_string_equal(out, "1969-12-31T23:59:59.999Z");
	time_format_utc(INT64_MAX, out);	/* must not overflow the buffer */
	time_format_utc(INT64_MIN, out);
}

static void time_format_and_parse_round_trip(void **state)
{
	int64_t ms;

	(void)state;
	/* A walk through 1970..9999 in uneven steps (about 73 days each). */
	for (ms = 0; ms < 253402300799999LL; ms += 6311347200777LL / 1000) {
		char s[32];
		int64_t back = -1;
		struct err err = { { 0 } };

		time_format_utc(ms, s);
		if (time_parse_iso8601(s, NULL, &back, &err) != 0)
			fail_msg("%s rejected: %s", s, err.msg);
		assert_int_equal(back, ms);
	}
}

/* ---- quoting ---------------------------------------------------------- */

static void quote_keeps_short_values_and_escapes_specials(void **state)
{
	char out[QUOTE_MAX];

	(void)state;
	quote_value(out, sizeof(out), "323-555");
	assert_string_equal(out, "\"323-555\"");
	quote_value(out, sizeof(out), "a\"b\\c\td\re\nf\x01g\x7fh");
	assert_string_equal(out, "\"a\\\"b\\\\c\\td\\re\\nf\\x01g\\x7fh\"");
	quote_value(out, sizeof(out), NULL);
	assert_string_equal(out, "(null)");
}

static void quote_truncates_to_40_characters_counting_utf8_as_one(void **state)
{
	char out[QUOTE_MAX], in[200];
	size_t i;

	(void)state;
	memset(in, 'x', 41);
	in[41] = '\0';
	quote_value(out, sizeof(out), in);
	assert_int_equal(strlen(out), 40 + 2 + 3);
	assert_string_equal(out + 41, "\"...");
	in[40] = '\0';
	quote_value(out, sizeof(out), in);
	assert_int_equal(strlen(out), 42);

	/* 41 times "ñ" (2 bytes): 40 kept whole. */
	for (i = 0; i < 41; i++)
		memcpy(in + 2 * i, "\xc3\xb1", 2);
	in[82] = '\0';
	quote_value(out, sizeof(out), in);
	assert_int_equal(strlen(out), 80 + 2 + 3);
	assert_memory_equal(out + 1, in, 80);
}

static void quote_escapes_invalid_utf8_and_c1_controls(void **state)
{
	char out[QUOTE_MAX];

	(void)state;
	quote_value(out, sizeof(out), "a\xff" "b\xc3(\xc2\x85" "c\xed\xa0\x80");
	assert_string_equal(out, "\"a\\xffb\\xc3(\\u0085c\\xed\\xa0\\x80\"");
	quote_value(out, sizeof(out), "\xe2\x82\xac \xf0\x9f\x98\x80");
	assert_string_equal(out, "\"\xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void quote_never_overflows_a_small_buffer(void **state)
{
	char out[8];

	(void)state;
	quote_value(out, sizeof(out), "\x01\x02\x03\x04");
	assert_true(strlen(out) < sizeof(out));
	assert_string_equal(out, "\"\"...");
	quote_escape(out, sizeof(out), "abcdefghij");
	assert_string_equal(out, "abcdefg");
	quote_escape(out, sizeof(out), "'\"x\"'");
	assert_string_equal(out, "'\"x\"'");
}

static int teardown_all(void **state)
{
	(void)state;
	tz_shutdown();
	return 0;
}

/* An adapter's first check: the field named, no value in the public text. */
static void phone_text_check_names_to_or_body(void **state)
{
	struct err err;

	(void)state;
	assert_int_equal(phone_text_check("+13235550100", "hi", &err), 0);
	assert_int_equal(phone_text_check("323-555", "hi", &err), -1);
	assert_true(strncmp(err.msg, "to.not an E.164 number", 22) == 0);
	assert_null(strstr(err.pub, "323"));
	assert_int_equal(phone_text_check("+13235550100", "", &err), -1);
	assert_string_equal(err.pub, "body: empty");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(phone_accepts_fictional_us_number),
		cmocka_unit_test(phone_text_check_names_to_or_body),
		cmocka_unit_test(phone_accepts_numbers_of_other_countries),
		cmocka_unit_test(phone_rejects_number_without_plus),
		cmocka_unit_test(phone_rejects_formatting_characters),
		cmocka_unit_test(phone_rejects_wrong_length_and_leading_zero),
		cmocka_unit_test(phone_rejects_unknown_country_code),
		cmocka_unit_test(phone_applies_north_american_rules),
		cmocka_unit_test(phone_normalises_old_mexican_mobile_prefix),
		cmocka_unit_test(phone_error_quotes_control_characters_and_truncates),
		cmocka_unit_test(signal_accepts_numbers_usernames_and_acis),
		cmocka_unit_test(signal_rejects_other_shapes_naming_the_forms),
		cmocka_unit_test(email_accepts_ordinary_addresses),
		cmocka_unit_test(email_rejects_malformed_addresses),
		cmocka_unit_test(email_rejects_null),
		cmocka_unit_test(tz_check_accepts_iana_zones),
		cmocka_unit_test(tz_check_rejects_unknown_zone),
		cmocka_unit_test(tz_check_refuses_paths_and_non_zone_files),
		cmocka_unit_test(time_parses_utc_with_z),
		cmocka_unit_test(time_parses_offsets),
		cmocka_unit_test(time_accepts_minutes_without_seconds),
		cmocka_unit_test(time_keeps_milliseconds_and_truncates_finer_digits),
		cmocka_unit_test(time_rejects_words),
		cmocka_unit_test(time_rejects_other_shapes),
		cmocka_unit_test(time_rejects_out_of_range_fields_with_the_reason),
		cmocka_unit_test(time_without_offset_needs_a_zone),
		cmocka_unit_test(time_local_follows_standard_and_daylight_time),
		cmocka_unit_test(time_local_in_spring_gap_moves_forward_by_the_gap),
		cmocka_unit_test(time_local_in_autumn_overlap_takes_the_first_instant),
		cmocka_unit_test(time_local_just_around_the_changes),
		cmocka_unit_test(time_local_in_half_hour_zone_without_dst),
		cmocka_unit_test(duration_parses_every_part),
		cmocka_unit_test(duration_parses_the_default_offsets),
		cmocka_unit_test(duration_rejects_words),
		cmocka_unit_test(duration_rejects_other_shapes),
		cmocka_unit_test(duration_rejects_huge_numbers),
		cmocka_unit_test(time_format_utc_prints_milliseconds_and_z),
		cmocka_unit_test(time_format_and_parse_round_trip),
		cmocka_unit_test(quote_keeps_short_values_and_escapes_specials),
		cmocka_unit_test(quote_truncates_to_40_characters_counting_utf8_as_one),
		cmocka_unit_test(quote_escapes_invalid_utf8_and_c1_controls),
		cmocka_unit_test(quote_never_overflows_a_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
