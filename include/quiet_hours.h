/* quiet_hours.h: the recipient's quiet window (`[schedule] quiet_hours`).
 *
 * CONTRACT.md section 2: quiet hours (default 21:00-08:00, in the
 * recipient's zone; `none` turns them off) hold non-urgent messages until
 * the window opens, and a court reminder that would fall in them "moves to
 * the last allowed minute before it, never after". This module only answers
 * questions about instants; it holds no state and sends nothing.
 *
 * What the window is:
 * - Each local day D has one window: from `start` on D to `end` on D (when
 *   start < end, "13:00-14:00") or on D + 1 (when start > end, the window
 *   wraps midnight, "21:00-08:00"). The window is half-open, [start, end):
 *   20:59:59.999 and 08:00:00.000 are outside, 21:00:00.000 is inside.
 * - Each edge is turned into an instant with tz_local_to_utc, so on DST
 *   days an edge follows tz.h's policy: an edge in a spring-forward gap
 *   moves forward by the gap (start 02:30 on 2026-03-08 in Los Angeles
 *   opens the window at 03:30 PDT, so 03:00-03:29 PDT is not quiet that
 *   night; end 02:30 keeps it closed until 03:30 PDT); an edge in an
 *   autumn overlap takes the first (daylight) instant.
 * - The window is then the span of instants between its two edges, not a
 *   test of the wall clock: once quiet hours start they last until the end
 *   instant, so with 01:30-03:00 on 2026-11-01 in Los Angeles the repeated
 *   01:00-01:29 PST is quiet too (it is inside 01:30 PDT .. 03:00 PST).
 *   An edge that converts to an instant at or after the other (02:30-03:00
 *   on a spring-forward night) gives an empty window that night.
 * - A window whose start equals its end is refused by the parser (empty
 *   or all day? use `none` to turn quiet hours off).
 * - `off` (from "none") contains nothing; the functions below then return
 *   ms unchanged and do not look at the zone.
 *
 * Uses tz.h, so the same threading rule applies: call from one thread. */
#ifndef PREGON_QUIET_HOURS_H
#define PREGON_QUIET_HOURS_H

#include <stdbool.h>
#include <stdint.h>

#include "duration.h"
#include "err.h"

struct quiet_hours {
	bool off;	/* "none": no quiet hours */
	int start_min;	/* window opens, minutes after local midnight, 0..1439 */
	int end_min;	/* window closes (first allowed minute), 0..1439, != start_min */
};

/* "21:00-08:00" (HH:MM-HH:MM: two digits each, 24-hour, 00:00..23:59, may
 * wrap midnight or not, "13:00-14:00"), or exactly "none". On error q is
 * left untouched and err names the problem, e.g.
 * `quiet_hours: expected HH:MM-HH:MM or none, got "9pm-8am"`. */
int quiet_hours_parse(const char *s, struct quiet_hours *q, struct err *err);

/* Whether instant ms (Unix ms) is inside a window in zone (see above).
 * Fails only for an unknown zone or an instant out of tz.h's range. */
int quiet_hours_contains(const struct quiet_hours *q, const char *zone,
			 int64_t ms, bool *inside, struct err *err);

/* For non-urgent messages: the earliest instant >= ms outside every window;
 * ms itself when it is outside. Inside, that is the end edge of its window
 * (08:00 local the next morning for 23:00, the same morning for 02:00),
 * converted with tz_local_to_utc, so DST nights are right. */
int quiet_hours_next_allowed(const struct quiet_hours *q, const char *zone,
			     int64_t ms, int64_t *out, struct err *err);

/* For court reminders: ms itself when it is outside; inside, the latest
 * whole-minute instant before the window opened, "the last allowed minute
 * before it": the start edge minus one minute (20:59 for 21:00-08:00), on
 * the day the window opened (a 06:00 reminder moves to 20:59 the evening
 * before, a 22:00 one to 20:59 the same evening). The minute is taken on
 * the instant line, so it is never after ms, on DST nights too: when the
 * start edge is 03:00 on a spring-forward night (right after the gap) it
 * is 01:59 standard time, not 02:59 (which does not exist). */
int quiet_hours_last_allowed_before(const struct quiet_hours *q,
				    const char *zone, int64_t ms, int64_t *out,
				    struct err *err);

/* A reminder `d` before the instant ms (a court appearance, a town hall's
 * start): *at is ms minus d as calendar arithmetic in event_zone
 * (tz_add_duration), *due that instant moved out of quiet hours in
 * quiet_zone by quiet_hours_last_allowed_before. */
int quiet_hours_reminder(const struct quiet_hours *q, const char *event_zone,
			 const char *quiet_zone, int64_t ms, const struct duration *d,
			 int64_t *at, int64_t *due, struct err *err);

#endif
