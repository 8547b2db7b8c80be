/* test_datefmt.c: dates and times in the recipient's language, CLDR's
 * patterns for each (src/datefmt.c), out-of-range fields and short
 * buffers. Every expected string is written out in full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "datefmt.h"
#include "sms_segments.h"

/* Formats y-m-d in lang and compares; then checks that exactly
 * strlen(want) + 1 bytes are needed: one byte less fails with "". */
static void date_is(const char *lang, int y, int m, int d, const char *want)
{
	struct tz_wall w = { y, m, d, 0, 0, 0, 0, 0 };
	char got[128];
	size_t need = strlen(want) + 1;

	if (datefmt_date(lang, &w, got, sizeof(got)) != 0)
		fail_msg("%s %04d-%02d-%02d: failed", lang, y, m, d);
	assert_string_equal(got, want);
	assert_int_equal(datefmt_date(lang, &w, got, need), 0);
	assert_string_equal(got, want);
	assert_int_equal(datefmt_date(lang, &w, got, need - 1), -1);
	assert_string_equal(got, "");
}

/* As date_is, for the time h:mi. */
static void time_is(const char *lang, int h, int mi, const char *want)
{
	struct tz_wall w = { 2026, 12, 1, h, mi, 0, 0, 0 };
	char got[64];
	size_t need = strlen(want) + 1;

	if (datefmt_time(lang, &w, got, sizeof(got)) != 0)
		fail_msg("%s %02d:%02d: failed", lang, h, mi);
	assert_string_equal(got, want);
	assert_int_equal(datefmt_time(lang, &w, got, need), 0);
	assert_string_equal(got, want);
	assert_int_equal(datefmt_time(lang, &w, got, need - 1), -1);
	assert_string_equal(got, "");
}

/* ---- tests ------------------------------------------------------------ */

static void lang_primary_subtag_decides(void **state)
{
	(void)state;
	assert_string_equal(datefmt_lang("en"), "en");
	assert_string_equal(datefmt_lang("en-US"), "en");
	assert_string_equal(datefmt_lang("es"), "es");
	assert_string_equal(datefmt_lang("es-MX"), "es");
	assert_string_equal(datefmt_lang("es-419"), "es");
	assert_string_equal(datefmt_lang("ES"), "es");
	assert_string_equal(datefmt_lang("ko"), "ko");
	assert_string_equal(datefmt_lang("ko-KR"), "ko");
	assert_string_equal(datefmt_lang("vi"), "vi");
	assert_string_equal(datefmt_lang("tl"), "tl");
	assert_string_equal(datefmt_lang("fil"), "tl");
	assert_string_equal(datefmt_lang("fil-PH"), "tl");
	assert_string_equal(datefmt_lang("hy"), "hy");
	assert_string_equal(datefmt_lang("hy-AM"), "hy");
}

static void lang_unknown_empty_or_null_is_english(void **state)
{
	(void)state;
	assert_string_equal(datefmt_lang("fr"), "en");
	assert_string_equal(datefmt_lang("ru-RU"), "en");
	assert_string_equal(datefmt_lang("esx"), "en");
	assert_string_equal(datefmt_lang("e"), "en");
	assert_string_equal(datefmt_lang(""), "en");
	assert_string_equal(datefmt_lang(NULL), "en");
}

static void lang_chinese_script_then_region_picks_traditional(void **state)
{
	(void)state;
	assert_string_equal(datefmt_lang("zh"), "zh");
	assert_string_equal(datefmt_lang("zh-Hans"), "zh");
	assert_string_equal(datefmt_lang("zh-CN"), "zh");
	assert_string_equal(datefmt_lang("zh-Hans-CN"), "zh");
	assert_string_equal(datefmt_lang("zh-Hant"), "zh-Hant");
	assert_string_equal(datefmt_lang("zh-TW"), "zh-Hant");
	assert_string_equal(datefmt_lang("zh-HK"), "zh-Hant");
	assert_string_equal(datefmt_lang("zh-MO"), "zh-Hant");
	assert_string_equal(datefmt_lang("zh-Hant-TW"), "zh-Hant");
	assert_string_equal(datefmt_lang("zh_tw"), "zh-Hant");
	/* The script wins over the region. */
	assert_string_equal(datefmt_lang("zh-Hant-CN"), "zh-Hant");
	assert_string_equal(datefmt_lang("zh-Hans-HK"), "zh");
	assert_string_equal(datefmt_lang("zh-Hans-TW"), "zh");
}

static void date_tuesday_1_december_2026_in_every_language(void **state)
{
	(void)state;
	date_is("en", 2026, 12, 1, "Tuesday, December 1");
	date_is("es", 2026, 12, 1, "martes, 1 de diciembre");
	date_is("es-MX", 2026, 12, 1, "martes, 1 de diciembre");
	date_is("ko", 2026, 12, 1, "12월 1일 화요일");
	date_is("zh-Hans", 2026, 12, 1, "12月1日星期二");
	date_is("zh-Hant", 2026, 12, 1, "12月1日 星期二");
	date_is("zh-TW", 2026, 12, 1, "12月1日 星期二");
	date_is("vi", 2026, 12, 1, "Thứ Ba, 1 tháng 12");
	date_is("tl", 2026, 12, 1, "Martes, Disyembre 1");
	date_is("hy", 2026, 12, 1, "դեկտեմբերի 1, երեքշաբթի");
}

static void date_sunday_in_every_language(void **state)
{
	(void)state;
	date_is("en", 2026, 12, 6, "Sunday, December 6");
	date_is("es", 2026, 12, 6, "domingo, 6 de diciembre");
	date_is("ko", 2026, 12, 6, "12월 6일 일요일");
	date_is("zh", 2026, 12, 6, "12月6日星期日");
	date_is("zh-HK", 2026, 12, 6, "12月6日 星期日");
	date_is("vi", 2026, 12, 6, "Chủ Nhật, 6 tháng 12");
	date_is("tl", 2026, 12, 6, "Linggo, Disyembre 6");
	date_is("hy", 2026, 12, 6, "դեկտեմբերի 6, կիրակի");
}

static void date_single_digit_day_and_month_in_every_language(void **state)
{
	(void)state;
	date_is("en", 2026, 3, 5, "Thursday, March 5");
	date_is("es", 2026, 3, 5, "jueves, 5 de marzo");
	date_is("ko", 2026, 3, 5, "3월 5일 목요일");
	date_is("zh", 2026, 3, 5, "3月5日星期四");
	date_is("zh-Hant", 2026, 3, 5, "3月5日 星期四");
	date_is("vi", 2026, 3, 5, "Thứ Năm, 5 tháng 3");
	date_is("tl", 2026, 3, 5, "Huwebes, Marso 5");
	date_is("hy", 2026, 3, 5, "մարտի 5, հինգշաբթի");
}

static void date_other_weekdays_months_and_leap_day(void **state)
{
	(void)state;
	date_is("es", 2026, 12, 2, "miércoles, 2 de diciembre");
	date_is("es", 2026, 12, 5, "sábado, 5 de diciembre");
	date_is("es", 2026, 9, 14, "lunes, 14 de septiembre");
	date_is("en", 2028, 2, 29, "Tuesday, February 29");
	date_is("vi", 2027, 1, 1, "Thứ Sáu, 1 tháng 1");
	date_is("tl", 2026, 7, 4, "Sabado, Hulyo 4");
	date_is("hy", 2026, 7, 4, "հուլիսի 4, շաբաթ");
	date_is("ko", 2026, 10, 31, "10월 31일 토요일");
	date_is("zh", 2026, 11, 11, "11月11日星期三");
}

static void date_unknown_language_is_english(void **state)
{
	(void)state;
	date_is("fr", 2026, 12, 1, "Tuesday, December 1");
	date_is(NULL, 2026, 12, 1, "Tuesday, December 1");
}

/* The weekday is computed from the date: tz_wall.weekday is filled only by
 * tz_utc_to_local, and a wrong one must not reach a court reminder. */
static void date_ignores_weekday_field(void **state)
{
	struct tz_wall w = { 2026, 12, 1, 8, 30, 0, 0, 5 };
	char got[64];

	(void)state;
	assert_int_equal(datefmt_date("en", &w, got, sizeof(got)), 0);
	assert_string_equal(got, "Tuesday, December 1");
}

static void time_morning_0830_in_every_language(void **state)
{
	(void)state;
	time_is("en", 8, 30, "8:30 AM");
	time_is("es", 8, 30, "8:30 a. m.");
	time_is("ko", 8, 30, "오전 8:30");
	time_is("zh", 8, 30, "上午8:30");
	time_is("zh-Hant", 8, 30, "上午8:30");
	time_is("vi", 8, 30, "8:30 sáng");
	time_is("tl", 8, 30, "8:30 AM");
	time_is("hy", 8, 30, "08:30");
}

static void time_noon_is_12_pm_in_every_language(void **state)
{
	(void)state;
	time_is("en", 12, 0, "12:00 PM");
	time_is("es", 12, 0, "12:00 p. m.");
	time_is("ko", 12, 0, "오후 12:00");
	time_is("zh", 12, 0, "下午12:00");
	time_is("zh-Hant", 12, 0, "下午12:00");
	time_is("vi", 12, 0, "12:00 chiều");
	time_is("tl", 12, 0, "12:00 PM");
	time_is("hy", 12, 0, "12:00");
}

static void time_midnight_is_12_am_in_every_language(void **state)
{
	(void)state;
	time_is("en", 0, 0, "12:00 AM");
	time_is("es", 0, 0, "12:00 a. m.");
	time_is("ko", 0, 0, "오전 12:00");
	time_is("zh", 0, 0, "上午12:00");
	time_is("zh-Hant", 0, 0, "上午12:00");
	time_is("vi", 0, 0, "12:00 đêm");
	time_is("tl", 0, 0, "12:00 AM");
	time_is("hy", 0, 0, "00:00");
}

static void time_2359_in_every_language(void **state)
{
	(void)state;
	time_is("en", 23, 59, "11:59 PM");
	time_is("es", 23, 59, "11:59 p. m.");
	time_is("ko", 23, 59, "오후 11:59");
	time_is("zh", 23, 59, "下午11:59");
	time_is("zh-Hant", 23, 59, "下午11:59");
	time_is("vi", 23, 59, "11:59 đêm");
	time_is("tl", 23, 59, "11:59 PM");
	time_is("hy", 23, 59, "23:59");
}

static void time_minutes_padded_hours_not(void **state)
{
	(void)state;
	time_is("en", 9, 5, "9:05 AM");
	time_is("en", 0, 1, "12:01 AM");
	time_is("en", 12, 59, "12:59 PM");
	time_is("en", 13, 7, "1:07 PM");
	time_is("es", 13, 7, "1:07 p. m.");
	time_is("ko", 13, 7, "오후 1:07");
	time_is("zh", 11, 59, "上午11:59");
	time_is("vi", 13, 7, "1:07 chiều");
	time_is("hy", 9, 5, "09:05");
	time_is("fr", 9, 5, "9:05 AM");
}

/* Plain spaces, not CLDR's U+00A0/U+202F: an English or Spanish reminder
 * stays GSM-7 (160 characters a segment, not 70). */
/* Issue 13: "SA"/"CH" are abbreviations a reader must decode; Vietnamese
 * says the period of the day (CLDR dayPeriodRules for vi). */
static void vi_times_say_the_day_period_word_not_sa_ch(void **state)
{
	char out[64];
	struct tz_wall w = { .year = 2026, .month = 12, .day = 1 };

	(void)state;
	time_is("vi", 3, 59, "3:59 đêm");
	time_is("vi", 4, 0, "4:00 sáng");
	time_is("vi", 11, 59, "11:59 sáng");
	time_is("vi", 17, 59, "5:59 chiều");
	time_is("vi", 18, 0, "6:00 tối");
	time_is("vi", 20, 59, "8:59 tối");
	time_is("vi", 21, 0, "9:00 đêm");
	for (w.hour = 0; w.hour < 24; w.hour++) {
		assert_int_equal(datefmt_time("vi", &w, out, sizeof(out)), 0);
		if (strstr(out, "SA") != NULL || strstr(out, "CH") != NULL)
			fail_msg("%d:00 is \"%s\"", w.hour, out);
	}
}

static void english_and_spanish_stay_gsm7(void **state)
{
	struct tz_wall w = { 2026, 12, 1, 8, 30, 0, 0, 0 };
	struct sms_segments seg;
	char got[64];

	(void)state;
	assert_int_equal(datefmt_time("es", &w, got, sizeof(got)), 0);
	assert_int_equal(sms_segments_count(got, strlen(got), &seg), 0);
	assert_int_equal(seg.encoding, SMS_GSM7);
	assert_int_equal(datefmt_date("es", &w, got, sizeof(got)), 0);
	assert_int_equal(sms_segments_count(got, strlen(got), &seg), 0);
	assert_int_equal(seg.encoding, SMS_GSM7);
	assert_int_equal(datefmt_time("en", &w, got, sizeof(got)), 0);
	assert_int_equal(sms_segments_count(got, strlen(got), &seg), 0);
	assert_int_equal(seg.encoding, SMS_GSM7);
}

static void date_rejects_out_of_range_fields_with_empty_out(void **state)
{
	static const int bad[][3] = {
		{ 0, 1, 1 }, { 10000, 1, 1 }, { -1, 1, 1 },
		{ 2026, 0, 1 }, { 2026, 13, 1 },
		{ 2026, 1, 0 }, { 2026, 1, 32 }, { 2026, 4, 31 },
		{ 2026, 2, 29 }, { 2100, 2, 29 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tz_wall w = { bad[i][0], bad[i][1], bad[i][2], 8, 30,
				     0, 0, 0 };
		char got[64] = "junk";

		if (datefmt_date("en", &w, got, sizeof(got)) != -1)
			fail_msg("%d-%d-%d accepted", bad[i][0], bad[i][1],
				 bad[i][2]);
		assert_string_equal(got, "");
	}
	/* The edges themselves are fine. */
	date_is("en", 1, 1, 1, "Monday, January 1");
	date_is("en", 9999, 12, 31, "Friday, December 31");
	date_is("en", 2000, 2, 29, "Tuesday, February 29");
}

static void time_rejects_out_of_range_fields_with_empty_out(void **state)
{
	static const int bad[][2] = {
		{ -1, 0 }, { 24, 0 }, { 0, -1 }, { 0, 60 }, { 25, 99 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tz_wall w = { 2026, 12, 1, bad[i][0], bad[i][1], 0, 0,
				     0 };
		char got[64] = "junk";

		if (datefmt_time("es", &w, got, sizeof(got)) != -1)
			fail_msg("%d:%d accepted", bad[i][0], bad[i][1]);
		assert_string_equal(got, "");
	}
}

/* The date fields are not read by datefmt_time, nor the time fields by
 * datefmt_date: a caller may fill only what it formats. */
static void each_function_checks_only_its_own_fields(void **state)
{
	struct tz_wall t = { 0, 0, 0, 8, 30, 0, 0, 0 };
	struct tz_wall d = { 2026, 12, 1, 99, 99, 0, 0, 0 };
	char got[64];

	(void)state;
	assert_int_equal(datefmt_time("en", &t, got, sizeof(got)), 0);
	assert_string_equal(got, "8:30 AM");
	assert_int_equal(datefmt_date("en", &d, got, sizeof(got)), 0);
	assert_string_equal(got, "Tuesday, December 1");
}

/* A too-small buffer never holds a cut text (half a UTF-8 character, or
 * "12:00 P"): it is "" at every length short of the whole. */
static void short_buffer_gives_empty_at_every_length(void **state)
{
	static const char *const langs[] = { "en", "es", "ko", "zh",
					     "zh-Hant", "vi", "tl", "hy" };
	struct tz_wall w = { 2026, 12, 1, 12, 0, 0, 0, 0 };
	char full[128], got[128];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(langs) / sizeof(langs[0]); i++) {
		assert_int_equal(datefmt_date(langs[i], &w, full, sizeof(full)), 0);
		for (n = 1; n <= strlen(full); n++) {
			memset(got, 'x', sizeof(got));
			assert_int_equal(datefmt_date(langs[i], &w, got, n), -1);
			assert_string_equal(got, "");
			assert_int_equal(got[1], 'x');	/* nothing beyond out[0] */
		}
		assert_int_equal(datefmt_time(langs[i], &w, full, sizeof(full)), 0);
		for (n = 1; n <= strlen(full); n++) {
			memset(got, 'x', sizeof(got));
			assert_int_equal(datefmt_time(langs[i], &w, got, n), -1);
			assert_string_equal(got, "");
		}
	}
}

static void zero_length_or_null_out_fails_untouched(void **state)
{
	struct tz_wall w = { 2026, 12, 1, 8, 30, 0, 0, 0 };
	char got[8] = "junk";

	(void)state;
	assert_int_equal(datefmt_date("en", &w, got, 0), -1);
	assert_string_equal(got, "junk");
	assert_int_equal(datefmt_time("en", &w, got, 0), -1);
	assert_string_equal(got, "junk");
	assert_int_equal(datefmt_date("en", &w, NULL, 64), -1);
	assert_int_equal(datefmt_time("en", &w, NULL, 64), -1);
	assert_int_equal(datefmt_date("en", NULL, got, sizeof(got)), -1);
	assert_string_equal(got, "");
	assert_int_equal(datefmt_time("en", NULL, got, sizeof(got)), -1);
	assert_string_equal(got, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lang_primary_subtag_decides),
		cmocka_unit_test(lang_unknown_empty_or_null_is_english),
		cmocka_unit_test(lang_chinese_script_then_region_picks_traditional),
		cmocka_unit_test(date_tuesday_1_december_2026_in_every_language),
		cmocka_unit_test(date_sunday_in_every_language),
		cmocka_unit_test(date_single_digit_day_and_month_in_every_language),
		cmocka_unit_test(date_other_weekdays_months_and_leap_day),
		cmocka_unit_test(date_unknown_language_is_english),
		cmocka_unit_test(date_ignores_weekday_field),
		cmocka_unit_test(time_morning_0830_in_every_language),
		cmocka_unit_test(time_noon_is_12_pm_in_every_language),
		cmocka_unit_test(time_midnight_is_12_am_in_every_language),
		cmocka_unit_test(time_2359_in_every_language),
		cmocka_unit_test(time_minutes_padded_hours_not),
		cmocka_unit_test(vi_times_say_the_day_period_word_not_sa_ch),
		cmocka_unit_test(english_and_spanish_stay_gsm7),
		cmocka_unit_test(date_rejects_out_of_range_fields_with_empty_out),
		cmocka_unit_test(time_rejects_out_of_range_fields_with_empty_out),
		cmocka_unit_test(each_function_checks_only_its_own_fields),
		cmocka_unit_test(short_buffer_gives_empty_at_every_length),
		cmocka_unit_test(zero_length_or_null_out_fails_untouched),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
