/* duration.h: ISO-8601 durations (job offsets, [court_reminder] offsets).
 *
 * Parsed from outside text like the values of validate.h; kept apart from
 * it because zone arithmetic (tz.h) takes a duration while validate.c
 * checks zones through tz.h. */
#ifndef PREGON_DURATION_H
#define PREGON_DURATION_H

#include "err.h"

/* P[nY][nM][nW][nD][T[nH][nM][nS]], at least one part. */
struct duration {
	int years, months, weeks, days;
	int hours, minutes, seconds;
};

/* Returns 0, or -1 with err `not an ISO-8601 duration: "7 days"`. */
int duration_parse_iso8601(const char *s, struct duration *d, struct err *err);

#endif
