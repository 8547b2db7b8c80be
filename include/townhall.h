/* townhall.h: what a townhall_confirmation job plans, how its texts are
 * rendered, and the calendar invitation its emails carry.
 *
 * CONTRACT.md section 2 ("kind townhall_confirmation"), issue 14. Pure
 * functions over a parsed job (job.h) and the job's record: the Redis side
 * (registration, SEQUENCE, replies, cancel by event_ref, join-link tokens)
 * is the intake's and the scripts'.
 * - The notice (a confirmation, or a change notice when a later job for
 *   the same event ref and recipient changed townhall_sig) goes out now,
 *   held by the recipient's quiet hours as court_enrolment is, never past
 *   the start (a late text beats none). It expires at the end of the event
 *   (ends_at, else an hour after the start): a link to a meeting that is
 *   still on is worth sending.
 * - One reminder at starts_at minus each of the job's `reminders` (else
 *   [townhall] reminders, default P1D,PT1H), as calendar arithmetic in the
 *   event's zone (tz_add_duration), moved to the last allowed minute before
 *   quiet hours (quiet_hours_last_allowed_before), never after. Reminders
 *   expire at the start; two at one instant are one; one not after now is
 *   planned but marked past (no catch-up: the confirmation just said when).
 * - Quiet hours are in recipient.tz, else the event's zone, else
 *   [schedule] default_tz.
 *
 * The texts are rendered when a message goes out, from the values kept in
 * the job's record (townhall_vars_json), as court reminders are.
 *
 * The invitation (townhall_ical) is RFC 5545 text with the iTIP method of
 * RFC 5546 (REQUEST, or CANCEL with STATUS:CANCELLED): written here line by
 * line (escaping, folding at 75 octets on UTF-8 character boundaries, CRLF),
 * with the VTIMEZONE of the event's zone taken from libical's builtin zone,
 * which Debian's libical builds from the system tzdata: its sub-components
 * (with their RRULEs) that are in force from a year before the event on,
 * TZID renamed to the IANA name. libical keeps a process-global zone cache:
 * call townhall_ical (and everything here, which uses tz.h) from the loop
 * thread only. */
#ifndef PREGON_TOWNHALL_H
#define PREGON_TOWNHALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "job.h"
#include "templates.h"

#define TOWNHALL_TEMPLATE_CONFIRMATION "townhall_confirmation"
#define TOWNHALL_TEMPLATE_REMINDER     "townhall_reminder"
#define TOWNHALL_TEMPLATE_CHANGE       "townhall_change"
#define TOWNHALL_TEMPLATE_CANCEL       "townhall_cancel"
#define TOWNHALL_MSGS_MAX (JOB_DURATIONS_MAX + 2)
/* An event without ends_at lasts this long in the invitation (DTEND). */
#define TOWNHALL_DEFAULT_LENGTH_MS (60 * 60 * 1000LL)
/* townhall_uid's output: 32 hex digits, "@", the domain (cut to fit). */
#define TOWNHALL_UID_MAX 128

enum townhall_msg_kind {
	TOWNHALL_MSG_NOTICE,	/* confirmation, or change notice: decided later */
	TOWNHALL_MSG_REMINDER,
};

struct townhall_msg {
	enum townhall_msg_kind kind;
	int64_t due_ms;		/* when it goes out (quiet hours applied) */
	int64_t at_ms;		/* starts_at minus the offset, before any move (reminders); now (notice) */
	int64_t expires_ms;	/* nothing is sent after it */
	bool past;		/* skipped: due_ms is not after now (notice: the event is over) */
};

struct townhall_plan {
	const char *quiet_tz;	/* the zone of quiet hours (borrowed) */
	int n;
	struct townhall_msg msgs[TOWNHALL_MSGS_MAX];	/* the notice first, then the reminders */
};

/* Plans a parsed townhall_confirmation job at now_ms: the notice now (held
 * by quiet hours like court_enrolment, never past the start), one reminder
 * at starts_at minus each of the job's `reminders` (else [townhall]
 * reminders, default P1D,PT1H), calendar arithmetic in the event's zone,
 * moved to the last allowed minute before quiet hours (recipient tz, else
 * event tz, else [schedule] default_tz), same-instant reminders merged,
 * past ones marked past. Fails only when a time leaves the calendar or a
 * zone is unknown. */
int townhall_plan_make(const struct config *cfg, const struct job *job, int64_t now_ms,
		       struct townhall_plan *plan, struct err *err);

/* The job's values as kept in its record, malloc'd compact JSON:
 * {"lang","name","title","starts" (Unix ms),"ends" (ms, 0 when none),"tz",
 * "location","join_url","ref","rid"}; "" for absent strings. NULL when out
 * of memory. */
char *townhall_vars_json(const struct job *job);

/* What changing the registration compares: time, end, place, link, title:
 * the same sig means nothing to tell. malloc'd (NULL: out of memory). */
char *townhall_sig(const struct job *job);

/* Renders template `name` (TOWNHALL_TEMPLATE_*) for vars_json on channel
 * ch at now_ms, with join_link as the {{join_url}} variable (the tracked
 * pregon link, or the real URL; NULL or "" = none). Variables: sender (the
 * templates' own), name, title, date, time, end_time (the end's time, none
 * without ends_at), location, join_url, today, tomorrow (as court_render:
 * the start's day against now_ms's, in the event's zone). */
int townhall_render(const struct templates *set, const char *name, const char *vars_json,
		    enum channel ch, int64_t now_ms, const char *join_link,
		    struct templates_text *out, struct err *err);

/* The calendar UID of a registration: stable per event ref and recipient
 * id, opaque (a SHA-256 of both: no id readable in it), "@" domain
 * ("pregon.invalid" when NULL or ""). out_len TOWNHALL_UID_MAX is enough. */
void townhall_uid(const char *ref, const char *rid, const char *domain, char *out,
		  size_t out_len);

struct townhall_ical_args {
	const char *vars_json;		/* townhall_vars_json's */
	const char *uid;
	int sequence;			/* 0 first, raised by every change */
	const char *method;		/* "REQUEST" or "CANCEL" */
	const char *organizer;		/* address, from [email] from */
	const char *organizer_name;	/* [templates] sender, or NULL */
	const char *attendee;		/* the recipient's email */
	const char *attendee_name;	/* or NULL */
	const char *url;		/* the join link to show (tracked or real), or NULL */
	const char *description;	/* plain text, or NULL */
	int64_t dtstamp_ms;
};

/* A whole VCALENDAR (RFC 5545, iTIP RFC 5546): METHOD, PRODID, VERSION; a
 * VTIMEZONE for the event's zone ("UTC": DTSTART/DTEND in UTC with Z and
 * no VTIMEZONE); one VEVENT with UID, SEQUENCE, DTSTAMP (UTC),
 * DTSTART/DTEND;TZID= (DTEND = start + 1 h without an end), SUMMARY,
 * LOCATION, URL, DESCRIPTION, ORGANIZER;CN=...:mailto:,
 * ATTENDEE;CN=...;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE:mailto:,
 * STATUS (CONFIRMED, or CANCELLED with METHOD:CANCEL). TEXT values escaped
 * (\\ ; , newline), parameter values in quotes with RFC 6868's ^ escapes,
 * lines folded at 75 octets without splitting a UTF-8 sequence, CRLF line
 * ends. malloc'd, or NULL with err (a missing field, an unknown zone, a
 * value that is not UTF-8). Loop thread only (libical's zone cache). */
char *townhall_ical(const struct townhall_ical_args *a, struct err *err);

#endif
