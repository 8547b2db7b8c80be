/* quiet_hours.c: the quiet window in the recipient's zone (see
 * quiet_hours.h for what the window is on DST nights, and CONTRACT.md
 * section 2 for what holds and what moves). */
#include "quiet_hours.h"

#include <string.h>

#include "tz.h"
#include "quote.h"

#define MS_PER_MIN 60000LL

/* A window's two edges can each shift by a DST change, so on a strange
 * night the end of one window may fall inside the next (start 03:00, end
 * 02:30, on a spring-forward night). Each step looks up the window holding
 * t and jumps past it; an ordinary night takes two look-ups (jump, then
 * find t outside), that strange one three. The bound only guards the loop. */
#define QUIET_HOURS_MAX_STEPS 8

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Two ASCII digits at s, as a number; -1 if either is not a digit (so
 * "+9" or " 9", which strtol would take, are refused). */
static int two_digits(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* The shape is checked before the ranges so that "9pm-8am" gets the
 * message that shows the expected form, and "25:00-08:00" the one that
 * says which time is wrong. */
int quiet_hours_parse(const char *s, struct quiet_hours *q, struct err *err)
{
	char quoted[QUOTE_MAX];
	int sh = 0, sm = 0, eh = 0, em = 0;

	quote_value(quoted, sizeof(quoted), s);
	if (s != NULL && strcmp(s, "none") == 0) {
		q->off = true;
		q->start_min = 0;
		q->end_min = 0;
		return 0;
	}
	if (s == NULL || strlen(s) != 11 || s[2] != ':' || s[5] != '-' || s[8] != ':' ||
	    (sh = two_digits(s)) < 0 || (sm = two_digits(s + 3)) < 0 ||
	    (eh = two_digits(s + 6)) < 0 || (em = two_digits(s + 9)) < 0)
		return err_set(err, "quiet_hours: expected HH:MM-HH:MM or none, got %s", quoted);
	if (sh > 23 || sm > 59)
		return err_set(err, "quiet_hours: start %.5s is not a time of day (00:00..23:59) in %s",
			       s, quoted);
	if (eh > 23 || em > 59)
		return err_set(err, "quiet_hours: end %.5s is not a time of day (00:00..23:59) in %s",
			       s + 6, quoted);
	if (sh == eh && sm == em)
		return err_set(err, "quiet_hours: start and end are the same in %s "
			       "(use none to turn quiet hours off)", quoted);
	q->off = false;
	q->start_min = sh * 60 + sm;
	q->end_min = eh * 60 + em;
	return 0;
}

/* Local midnight-relative minutes on local day `days` (since 1970-01-01)
 * -> instant, with tz.h's gap and overlap policy. */
static int edge_instant(const char *zone, int64_t days, int min, int64_t *ms,
			struct err *err)
{
	struct tz_wall w = { 0 };
	int64_t y;

	tz_civil_from_days(days, &y, &w.month, &w.day);
	if (y < 1 || y > 9999)
		return err_set(err, "time out of range");
	w.year = (int)y;
	w.hour = min / 60;
	w.minute = min % 60;
	return tz_local_to_utc(zone, &w, ms, err);
}

/* Whether t is inside the window that opens on local day t's date - 1, the
 * date itself or the date + 1 (the last only matters in zones that fall
 * back across midnight, where the next day's first hour comes before the
 * repeat of this day's last). When windows overlap (only on DST nights),
 * *open is the earliest start and *close the latest end among those that
 * contain t. */
static int window_at(const struct quiet_hours *q, const char *zone, int64_t t,
		     bool *inside, int64_t *open, int64_t *close, struct err *err)
{
	struct tz_wall w;
	int64_t today;
	int wraps = q->start_min > q->end_min;
	int d;

	*inside = false;
	if (tz_utc_to_local(zone, t, &w, err) < 0)
		return -1;
	today = tz_days_from_civil(w.year, w.month, w.day);
	for (d = -1; d <= 1; d++) {
		int64_t s, e;

		if (edge_instant(zone, today + d, q->start_min, &s, err) < 0 ||
		    edge_instant(zone, today + d + wraps, q->end_min, &e, err) < 0)
			return -1;
		if (s <= t && t < e) {
			if (!*inside || s < *open)
				*open = s;
			if (!*inside || e > *close)
				*close = e;
			*inside = true;
		}
	}
	return 0;
}

int quiet_hours_contains(const struct quiet_hours *q, const char *zone,
			 int64_t ms, bool *inside, struct err *err)
{
	int64_t open = 0, close = 0;

	if (q->off) {
		*inside = false;
		return 0;
	}
	return window_at(q, zone, ms, inside, &open, &close, err);
}

/* From ms, while inside a window: forward to its end, or back to the whole
 * minute before it opened. The minute is on the instant line (not the wall
 * clock), so the answer is before the window opened even when its start
 * moved in a spring-forward gap. */
static int walk_out(const struct quiet_hours *q, const char *zone, int64_t ms, bool forward,
		    int64_t *out, struct err *err)
{
	int64_t t = ms, open = 0, close = 0;
	bool inside;

	if (q->off) {
		*out = ms;
		return 0;
	}
	for (int i = 0; i < QUIET_HOURS_MAX_STEPS; i++) {
		if (window_at(q, zone, t, &inside, &open, &close, err) < 0)
			return -1;
		if (!inside) {
			*out = t;
			return 0;
		}
		t = forward ? close : floor_div(open - 1, MS_PER_MIN) * MS_PER_MIN;
	}
	return err_set(err, "quiet_hours: no allowed time %s the window in %s",
		       forward ? "after" : "before", zone);
}

int quiet_hours_next_allowed(const struct quiet_hours *q, const char *zone,
			     int64_t ms, int64_t *out, struct err *err)
{
	return walk_out(q, zone, ms, true, out, err);
}

int quiet_hours_last_allowed_before(const struct quiet_hours *q,
				    const char *zone, int64_t ms, int64_t *out,
				    struct err *err)
{
	return walk_out(q, zone, ms, false, out, err);
}

int quiet_hours_reminder(const struct quiet_hours *q, const char *event_zone,
			 const char *quiet_zone, int64_t ms, const struct duration *d,
			 int64_t *at, int64_t *due, struct err *err)
{
	if (tz_add_duration(event_zone, ms, d, -1, at, err) != 0)
		return -1;
	return quiet_hours_last_allowed_before(q, quiet_zone, *at, due, err);
}
