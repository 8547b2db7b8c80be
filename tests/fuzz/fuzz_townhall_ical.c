/* fuzz_townhall_ical.c: libFuzzer target for townhall_ical (townhall.h),
 * fed arbitrary records and strings: the vars JSON a record holds (a
 * record is ours, but a bug upstream or an edited Redis key could make it
 * anything) and every string argument, titles and descriptions of any
 * bytes included.
 *
 * The input is split at NUL bytes into: vars JSON, uid, method selector,
 * organizer, organizer_name, attendee, attendee_name, url, description.
 * Missing parts are NULL. Beyond "no crash, no leak, no UB" it checks
 * that a success is a whole iCalendar text a strict reader takes:
 * - it starts with BEGIN:VCALENDAR and ends with END:VCALENDAR and CRLF;
 * - every line ends with CRLF, holds no other CR or LF, is at most 75
 *   octets and is valid UTF-8 on its own (no character split by a fold);
 * - exactly one VEVENT, and METHOD is the one asked for;
 * and that a failure says why, in one line of printable text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "townhall.h"
#include "tz.h"
#include "utf8.h"

#define PARTS 9

static void check_ics(const char *ics, const char *method)
{
	size_t len = strlen(ics);
	char want[32];
	int events = 0;

	if (strncmp(ics, "BEGIN:VCALENDAR\r\n", 17) != 0 || len < 15 ||
	    strcmp(ics + len - 15, "END:VCALENDAR\r\n") != 0)
		abort();
	snprintf(want, sizeof(want), "\r\nMETHOD:%s\r\n", method);
	if (strstr(ics, want) == NULL)
		abort();
	for (const char *p = ics; *p != '\0';) {
		const char *eol = strstr(p, "\r\n");
		size_t n;

		if (eol == NULL)
			abort();
		n = (size_t)(eol - p);
		if (n > 75 || memchr(p, '\n', n) != NULL || memchr(p, '\r', n) != NULL ||
		    !utf8_valid(p, n))
			abort();
		if (n == 12 && memcmp(p, "BEGIN:VEVENT", 12) == 0)
			events++;
		p = eol + 2;
	}
	if (events != 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *part[PARTS] = { NULL };
	struct townhall_ical_args a;
	struct err err;
	char *ics;
	size_t at = 0;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (int i = 0; i < PARTS && at <= size; i++) {
		part[i] = copy + at;
		at += strlen(copy + at) + 1;
	}
	memset(&a, 0, sizeof(a));
	a.vars_json = part[0];
	a.uid = part[1];
	/* The method is a choice of ours, never outside text: one bit of it. */
	a.method = (part[2] != NULL && part[2][0] != '\0' && (part[2][0] & 1)) ? "CANCEL" : "REQUEST";
	a.organizer = part[3];
	a.organizer_name = part[4];
	a.attendee = part[5];
	a.attendee_name = part[6];
	a.url = part[7];
	a.description = part[8];
	a.sequence = (int)(size % 7);
	a.dtstamp_ms = 1795000000000LL;
	memset(&err, 0, sizeof(err));
	ics = townhall_ical(&a, &err);
	if (ics != NULL) {
		check_ics(ics, a.method);
	} else {
		if (err.msg[0] == '\0')
			abort();
		for (const char *p = err.msg; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20)
				abort();
	}
	free(ics);
	free(copy);
	return 0;
}
