/* datefmt.c: dates and times in the recipient's language (see datefmt.h).
 *
 * Each language is one row: names and two patterns in CLDR's own syntax
 * (UTS #35 part 4, "Date Format Patterns"), copied from CLDR's
 * ca-gregorian data for the locale named in the row, so a row can be
 * checked against CLDR (or ICU) by eye. Only the fields these patterns
 * use are implemented: EEEE (weekday, wide), MMMM (month, format wide),
 * M (month number), d, h, H, HH, mm, a, B, and quoted literals. */
#include "datefmt.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct datefmt_lang {
	const char *tag;		/* what datefmt_lang() returns */
	const char *date;		/* CLDR pattern, full date without year */
	const char *time;		/* CLDR pattern, hour and minute */
	const char *am, *pm;		/* dayPeriods format abbreviated (ko: wide) */
	const char *weekdays[7];	/* days format wide, Sunday first */
	const char *months[12];		/* months format wide (MMMM); NULL when
					 * the date pattern has a numeric M */
	const char *const *periods;	/* B, the flexible day period of each
					 * hour 0..23; NULL when unused */
};

/* vi: CLDR's dayPeriodRules for vi (morning1 04:00-12:00, afternoon1
 * 12:00-18:00, evening1 18:00-21:00, night1 21:00-04:00) with the
 * dayPeriods format names "sáng", "chiều", "tối", "đêm". The am/pm
 * markers "SA"/"CH" are abbreviations a reader has to decode; the period
 * words are what a Vietnamese speaker says ("8:30 sáng"), and what the
 * reviewers of issue 13 asked for. */
static const char *const vi_periods[24] = {
	"đêm", "đêm", "đêm", "đêm",
	"sáng", "sáng", "sáng", "sáng", "sáng", "sáng", "sáng", "sáng",
	"chiều", "chiều", "chiều", "chiều", "chiều", "chiều",
	"tối", "tối", "tối",
	"đêm", "đêm", "đêm",
};

/* Sources, all CLDR ca-gregorian (main/<locale>: dateFormats, timeFormats,
 * availableFormats, days, months, dayPeriods), as generated into
 * telerik/kendo-intl locale-tests/locales/<locale>/calendar.js and, for
 * es-US, ak-coram/cl-chronogram chronogram-dist/es_US.lisp:
 * date = dateFormats/full with the year field and its literal removed;
 * time = the "hm" availableFormat (12-hour), except hy (timeFormats/short).
 * Exact output for Tuesday 2026-12-01 08:30 is in each row's comment. */
enum { L_EN, L_ES, L_KO, L_ZH, L_ZH_HANT, L_VI, L_TL, L_HY, L_COUNT };

static const struct datefmt_lang langs[L_COUNT] = {
	/* en (en-US): full "EEEE, MMMM d, y", short time "h:mm a" (with
	 * U+202F before "a" since CLDR 42; a plain space here, see .h).
	 * "Tuesday, December 1" / "8:30 AM" */
	[L_EN] = { "en", "EEEE, MMMM d", "h:mm a", "AM", "PM",
	  { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	    "Saturday" },
	  { "January", "February", "March", "April", "May", "June", "July",
	    "August", "September", "October", "November", "December" } },
	/* es-US (Spanish in the US): full "EEEE, d 'de' MMMM 'de' y", short
	 * time "h:mm a", am/pm "a. m."/"p. m." (U+00A0 inside in CLDR; a
	 * plain space here, see .h). Names lowercase, as CLDR and the RAE
	 * write them. "martes, 1 de diciembre" / "8:30 a. m." */
	[L_ES] = { "es", "EEEE, d 'de' MMMM", "h:mm a", "a. m.", "p. m.",
	  { "domingo", "lunes", "martes", "miércoles", "jueves", "viernes",
	    "sábado" },
	  { "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio",
	    "agosto", "septiembre", "octubre", "noviembre", "diciembre" } },
	/* ko: full "y년 M월 d일 EEEE", short time "a h:mm". am/pm are the
	 * wide names 오전/오후, which ICU prints; some CLDR versions list
	 * "AM"/"PM" as the abbreviated ones, foreign to a Korean reader.
	 * "12월 1일 화요일" / "오전 8:30" */
	[L_KO] = { "ko", "M월 d일 EEEE", "a h:mm", "오전", "오후",
	  { "일요일", "월요일", "화요일", "수요일", "목요일", "금요일",
	    "토요일" },
	  { NULL } },
	/* zh (zh-Hans): full "y年M月d日EEEE" (numeric month: "M", not the
	 * "十二月" of MMMM), hm "ah:mm". "12月1日星期二" / "上午8:30" */
	[L_ZH] = { "zh", "M月d日EEEE", "ah:mm", "上午", "下午",
	  { "星期日", "星期一", "星期二", "星期三", "星期四", "星期五",
	    "星期六" },
	  { NULL } },
	/* zh-Hant: full "y年M月d日 EEEE" (a space before the weekday), short
	 * time "ah:mm". The characters used happen to be the same in both
	 * scripts. "12月1日 星期二" / "上午8:30" */
	[L_ZH_HANT] = { "zh-Hant", "M月d日 EEEE", "ah:mm", "上午", "下午",
	  { "星期日", "星期一", "星期二", "星期三", "星期四", "星期五",
	    "星期六" },
	  { NULL } },
	/* vi: full "EEEE, d MMMM, y", the "Bhm" availableFormat "h:mm B"
	 * (12-hour with the day period word, vi_periods above; CLDR's short
	 * time is the 24-hour "HH:mm", see .h).
	 * "Thứ Ba, 1 tháng 12" / "8:30 sáng" */
	[L_VI] = { "vi", "EEEE, d MMMM", "h:mm B", "SA", "CH",
	  { "Chủ Nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu",
	    "Thứ Bảy" },
	  { "tháng 1", "tháng 2", "tháng 3", "tháng 4", "tháng 5", "tháng 6",
	    "tháng 7", "tháng 8", "tháng 9", "tháng 10", "tháng 11",
	    "tháng 12" }, vi_periods },
	/* tl, as CLDR's fil (Filipino; CLDR has no tl data): full
	 * "EEEE, MMMM d, y", short time "h:mm a".
	 * "Martes, Disyembre 1" / "8:30 AM" */
	[L_TL] = { "tl", "EEEE, MMMM d", "h:mm a", "AM", "PM",
	  { "Linggo", "Lunes", "Martes", "Miyerkules", "Huwebes", "Biyernes",
	    "Sabado" },
	  { "Enero", "Pebrero", "Marso", "Abril", "Mayo", "Hunyo", "Hulyo",
	    "Agosto", "Setyembre", "Oktubre", "Nobyembre", "Disyembre" } },
	/* hy: full "y թ. MMMM d, EEEE" (months in the genitive, the format
	 * form), short time "HH:mm". "դեկտեմբերի 1, երեքշաբթի" / "08:30" */
	[L_HY] = { "hy", "MMMM d, EEEE", "HH:mm", NULL, NULL,
	  { "կիրակի", "երկուշաբթի", "երեքշաբթի", "չորեքշաբթի", "հինգշաբթի",
	    "ուրբաթ", "շաբաթ" },
	  { "հունվարի", "փետրվարի", "մարտի", "ապրիլի", "մայիսի", "հունիսի",
	    "հուլիսի", "օգոստոսի", "սեպտեմբերի", "հոկտեմբերի", "նոյեմբերի",
	    "դեկտեմբերի" } },
};

/* ASCII case-insensitive equality of s[0..n) and the NUL-terminated t:
 * tags arrive normalised, but a tag typed into a CSV may not be. */
static int subtag_is(const char *s, size_t n, const char *t)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (t[i] == '\0' || c != t[i])
			return 0;
	}
	return t[n] == '\0';
}

/* The row for a tag: primary subtag first, then, for Chinese only, the
 * script (which wins: "zh-Hans-HK" is simplified) or else the region. */
static const struct datefmt_lang *lang_find(const char *tag)
{
	const char *p, *sub;
	size_t n, i;
	int hant = 0, script = 0;

	if (tag == NULL)
		return &langs[L_EN];
	n = strcspn(tag, "-_");
	if (subtag_is(tag, n, "fil"))
		return &langs[L_TL];
	if (!subtag_is(tag, n, "zh")) {
		for (i = 0; i < L_COUNT; i++)
			if (subtag_is(tag, n, langs[i].tag))
				return &langs[i];
		return &langs[L_EN];
	}
	for (p = tag + n; *p != '\0'; p = sub + n) {
		sub = p + 1;
		n = strcspn(sub, "-_");
		if (n == 4 && !script) {
			script = 1;
			hant = subtag_is(sub, n, "hant");
		} else if (n == 2 && !script) {
			hant = subtag_is(sub, n, "tw") || subtag_is(sub, n, "hk") ||
			       subtag_is(sub, n, "mo");
		}
	}
	return hant ? &langs[L_ZH_HANT] : &langs[L_ZH];
}

/* Exposed so a caller can log, or pick a template by, the language that
 * was really used. */
const char *datefmt_lang(const char *lang)
{
	return lang_find(lang)->tag;
}

/* Output being built, in a scratch buffer: out is written only once the
 * whole text is known to fit, so a failed call leaves no cut text (half a
 * UTF-8 character, "12:00 P") anywhere in it. A failed append marks the
 * buffer full and writes no more; the caller checks once at the end. */
struct outbuf {
	char buf[128];	/* the longest row output is under 64 bytes */
	size_t len;
	int overflow;
};

/* Appends n bytes of s, or marks overflow when they don't fit. */
static void put(struct outbuf *o, const char *s, size_t n)
{
	if (o->overflow || n > sizeof(o->buf) - o->len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* Appends a number, zero-padded to width digits. */
static void put_num(struct outbuf *o, int v, int width)
{
	char tmp[16];
	int n = snprintf(tmp, sizeof(tmp), "%0*d", width, v);

	put(o, tmp, (size_t)n);
}

/* Expands a CLDR pattern (UTS #35 part 4 section 8): a run of one ASCII
 * letter is a field, text in '' is literal ('' is an apostrophe), other
 * bytes (punctuation, the UTF-8 of 년 or 月) are literal. Fails on a field
 * this file has no data for, which would be a bug in a row above. */
static int expand(const struct datefmt_lang *l, const char *pat,
		  const struct tz_wall *w, int weekday, struct outbuf *o)
{
	const char *p = pat;

	while (*p != '\0') {
		char c = *p;
		size_t n = 1;

		if (c == '\'') {
			if (p[1] == '\'') {
				put(o, "'", 1);
				p += 2;
				continue;
			}
			n = strcspn(p + 1, "'");
			put(o, p + 1, n);
			p += 1 + n + (p[1 + n] == '\'');
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
			put(o, p, 1);
			p++;
			continue;
		}
		while (p[n] == c)
			n++;
		if (c == 'E' && n == 4)
			put(o, l->weekdays[weekday], strlen(l->weekdays[weekday]));
		else if (c == 'M' && n == 4 && l->months[0] != NULL)
			put(o, l->months[w->month - 1],
			    strlen(l->months[w->month - 1]));
		else if (c == 'M' && n == 1)
			put_num(o, w->month, 1);
		else if (c == 'd' && n == 1)
			put_num(o, w->day, 1);
		else if (c == 'h' && n == 1)
			put_num(o, w->hour % 12 == 0 ? 12 : w->hour % 12, 1);
		else if (c == 'H' && n <= 2)
			put_num(o, w->hour, (int)n);
		else if (c == 'm' && n == 2)
			put_num(o, w->minute, 2);
		else if (c == 'B' && n == 1 && l->periods != NULL)
			put(o, l->periods[w->hour], strlen(l->periods[w->hour]));
		else if (c == 'a' && n == 1 && l->am != NULL)
			put(o, w->hour < 12 ? l->am : l->pm,
			    strlen(w->hour < 12 ? l->am : l->pm));
		else
			return -1;
		p += n;
	}
	return 0;
}

/* Shared ending of both formatters: copies the text and its NUL to out
 * when they fit in out_len; else out is "" (when it has a byte) and -1. */
static int finish(int rc, const struct outbuf *o, char *out, size_t out_len)
{
	if (rc != 0 || o->overflow || o->len >= out_len) {
		if (out_len > 0)
			out[0] = '\0';
		return -1;
	}
	memcpy(out, o->buf, o->len);
	out[o->len] = '\0';
	return 0;
}

/* The date line of a reminder; the weekday is derived, never trusted. */
int datefmt_date(const char *lang, const struct tz_wall *w, char *out,
		 size_t out_len)
{
	struct outbuf o = { { 0 }, 0, 0 };
	const struct datefmt_lang *l = lang_find(lang);
	int64_t days;
	int weekday;

	if (out == NULL)
		return -1;
	if (w == NULL || w->year < 1 || w->year > 9999 || w->month < 1 ||
	    w->month > 12 || w->day < 1 ||
	    w->day > tz_days_in_month(w->year, w->month))
		return finish(-1, &o, out, out_len);
	/* 1970-01-01 was a Thursday (4). */
	days = tz_days_from_civil(w->year, w->month, w->day);
	weekday = (int)(((days % 7) + 7 + 4) % 7);
	return finish(expand(l, l->date, w, weekday, &o), &o, out, out_len);
}

/* The time line of a reminder; only hour and minute are read. */
int datefmt_time(const char *lang, const struct tz_wall *w, char *out,
		 size_t out_len)
{
	struct outbuf o = { { 0 }, 0, 0 };
	const struct datefmt_lang *l = lang_find(lang);

	if (out == NULL)
		return -1;
	if (w == NULL || w->hour < 0 || w->hour > 23 || w->minute < 0 ||
	    w->minute > 59)
		return finish(-1, &o, out, out_len);
	return finish(expand(l, l->time, w, 0, &o), &o, out, out_len);
}
