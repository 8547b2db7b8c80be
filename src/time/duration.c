/* duration.c: ISO-8601 durations (see duration.h). */
#include "duration.h"

#include <string.h>

#include "quote.h"

/* "what value", the value quoted in msg only (pub is "what" without its colon): `not an ISO-8601 duration: "7 days"`. */
static int fail_quoted(struct err *err, const char *what, const char *value)
{
	char q[QUOTE_MAX];

	quote_value(q, sizeof(q), value);
	err_detail(err, what, "%s %s", what, q);
	if (err != NULL && strlen(err->pub) > 0 && err->pub[strlen(err->pub) - 1] == ':')
		err->pub[strlen(err->pub) - 1] = '\0';	/* no value follows in pub */
	return -1;
}

#define DURATION_DIGITS_MAX 6	/* 999999 of any unit: more is a mistake */

/* ISO 8601-1 4.4.3.2 format with designators, integers only: P1W2D,
 * PT3H, P1DT12H. Each designator at most once and in order; "P", "PT"
 * and "P1DT" are refused; no sign, no fractions. */
int duration_parse_iso8601(const char *s, struct duration *d, struct err *err)
{
	static const char date_units[] = "YMWD";
	static const char time_units[] = "HMS";
	const char *p;
	int last = -1, parts = 0, time_parts = 0, in_time = 0;

	memset(d, 0, sizeof(*d));
	if (s == NULL || s[0] != 'P')
		return fail_quoted(err, "not an ISO-8601 duration:", s);
	for (p = s + 1; *p != '\0';) {
		const char *unit;
		int value = 0, nd = 0, slot;

		if (*p == 'T') {
			if (in_time)
				return fail_quoted(err, "not an ISO-8601 duration:", s);
			in_time = 1;
			p++;
			continue;
		}
		while ((*p >= '0' && *p <= '9')) {
			if (++nd > DURATION_DIGITS_MAX) {
				char q[QUOTE_MAX];

				quote_value(q, sizeof(q), s);
				return err_detail(err, "not an ISO-8601 duration (number too large)",
						  "not an ISO-8601 duration: %s (number too large)", q);
			}
			value = value * 10 + (*p - '0');
			p++;
		}
		if (nd == 0 || *p == '\0')
			return fail_quoted(err, "not an ISO-8601 duration:", s);
		unit = strchr(in_time ? time_units : date_units, *p);
		if (unit == NULL)
			return fail_quoted(err, "not an ISO-8601 duration:", s);
		slot = (int)(unit - (in_time ? time_units : date_units)) + (in_time ? 4 : 0);
		if (slot <= last)
			return fail_quoted(err, "not an ISO-8601 duration:", s);
		last = slot;
		switch (slot) {
		case 0: d->years = value; break;
		case 1: d->months = value; break;
		case 2: d->weeks = value; break;
		case 3: d->days = value; break;
		case 4: d->hours = value; break;
		case 5: d->minutes = value; break;
		default: d->seconds = value; break;
		}
		parts++;
		if (in_time)
			time_parts++;
		p++;
	}
	if (parts == 0 || (in_time && time_parts == 0))
		return fail_quoted(err, "not an ISO-8601 duration:", s);
	return 0;
}
