/* datefmt.h: a date and a time as a reminder SMS writes them, in the
 * recipient's language ("martes, 1 de diciembre", "8:30 a. m.").
 *
 * The patterns are CLDR's (Unicode LDML, part 4 "Dates"; the data as
 * published in CLDR's ca-gregorian JSON), chosen for people in Los Angeles:
 * - date: the language's dateFormats/full with the year dropped, as court
 *   reminders are sent weeks ahead ("Tuesday, December 1");
 * - time: a 12-hour clock, the US convention (CLDR supplemental timeData:
 *   US prefers "h"), in the language's own "hm" pattern, except Armenian,
 *   whose CLDR AM/PM markers are the Latin "AM"/"PM": it keeps its short
 *   time, the 24-hour "HH:mm", which needs no marker to be read right.
 * Every space is U+0020, where CLDR has U+00A0 (es "a. m.") or U+202F (en
 * "8:30 AM"): neither is in GSM-7, and one of them would make a Spanish or
 * English reminder UCS-2, at 70 characters a segment instead of 160.
 * The exact output of each language is listed in src/datefmt.c.
 *
 * The weekday is computed from year, month and day; w->weekday is not
 * read, so a struct tz_wall filled by hand (weekday 0) cannot put the
 * wrong day of the week in front of a court date. Pure functions, no
 * state: safe from any thread. */
#ifndef PREGON_DATEFMT_H
#define PREGON_DATEFMT_H

#include <stddef.h>

#include "tz.h"

/* Languages with their own tables; others fall back to English. lang is a
 * BCP 47 tag as pregon normalises it ("es", "es-MX", "zh-Hans", "ko"); the
 * primary subtag decides (case-insensitive; "fil" is taken as "tl"),
 * except Chinese, where a script subtag Hant, or without a script a region
 * TW, HK or MO, picks traditional characters. NULL or "" is English.
 * Returns the language actually used, a static string: "en", "es", "ko",
 * "zh", "zh-Hant", "vi", "tl" or "hy". */
const char *datefmt_lang(const char *lang);

/* The date of w (year 1..9999, month 1..12, day valid in that month) with
 * its weekday: "Tuesday, December 1" / "martes, 1 de diciembre" /
 * "12월 1일 화요일" / "12月1日星期二" / "Thứ Ba, 1 tháng 12" /
 * "Martes, Disyembre 1" / "դեկտեմբերի 1, երեքշաբթի". UTF-8, NUL-terminated.
 * Returns 0, or -1 when a field is out of range or the text and its NUL do
 * not fit in out_len bytes; then out is "" (unless out_len is 0). */
int datefmt_date(const char *lang, const struct tz_wall *w, char *out,
		 size_t out_len);

/* The time of w (hour 0..23, minute 0..59; seconds are not shown); in
 * Vietnamese with the day period word (sáng, chiều, tối, đêm), not the
 * abbreviations SA/CH:
 * "8:30 AM" / "8:30 a. m." / "오전 8:30" / "上午8:30" / "8:30 sáng" /
 * "8:30 AM" (tl) / "08:30" (hy). Midnight is 12:00 AM, noon 12:00 PM.
 * Returns 0 or -1 as datefmt_date. */
int datefmt_time(const char *lang, const struct tz_wall *w, char *out,
		 size_t out_len);

#endif
