/* job.h: a job from the queue, parsed and validated once at intake.
 *
 * job_parse() checks every kind in CONTRACT.md section 2, including those
 * whose sending lands in later issues, and fills the typed fields the core
 * uses. String fields borrow from `doc` (the jansson tree) and live until
 * job_free(). Unknown fields are accepted (a later version may know them)
 * and named in job->unknown; wrong types are rejected. */
#ifndef PREGON_JOB_H
#define PREGON_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "channel.h"
#include "err.h"
#include "validate.h"

#define JOB_ID_MAX 128
#define JOB_DURATIONS_MAX 32	/* offsets/reminders: each one is a message */
#define JOB_UNKNOWN_MAX 8	/* unknown fields named; the rest are counted */
#define JOB_UNKNOWN_LEN 112	/* "audience.recipients[999].x (did you mean y?)" */

enum job_kind {
	JOB_MESSAGE,
	JOB_COURT_REMINDER,
	JOB_ACTION_ALERT,
	JOB_TOWNHALL_CONFIRMATION,
	JOB_CANCEL,
	JOB_CONTACT_UPSERT,
	JOB_CONTACT_DELETE,
	JOB_KIND_COUNT
};

/* A recipient (contract section 2). Addresses are normalised: phone in E.164,
 * signal as validate.h signal_address_check keeps it (E.164, a username or
 * an ACI UUID, in lower case), email trimmed. NULL when absent. */
struct recipient {
	const char *id;
	const char *name;
	const char *phone;
	const char *email;
	const char *signal;
	const char *lang;
	const char *tz;
	/* Order of preference. When the job gives none: sms, email, signal,
	 * restricted to the channels that have an address. */
	enum channel channels[CHANNEL_COUNT];
	int n_channels;
};

struct job_limits {
	size_t max_bytes;	/* [jobs] max_bytes */
	int max_depth;		/* nesting depth of the document */
	size_t max_text;	/* longest body/subject/message text, in bytes */
	size_t max_recipients;	/* inline audience size */
};

/* Defaults used when a caller passes NULL limits. */
extern const struct job_limits job_limits_default;

struct job {
	json_t *doc;		/* owned; strings below borrow from it */
	const char *id;
	enum job_kind kind;

	/* kind "message" */
	struct recipient recipient;
	const char *body;
	const char *subject;	/* NULL when absent */
	int64_t send_at_ms;	/* 0 = now; else Unix ms */

	/* kind "action_alert" (texts, replies and audience stay in doc,
	 * normalised) */
	bool urgent;
	int64_t expires_ms;	/* 0 = never */

	/* kind "court_reminder" (recipient above); "cancel" sets exactly one
	 * of case_ref, event_ref and stop_job (contract 1.1) */
	const char *case_ref;
	const char *event_ref;	/* cancel: the town hall; townhall_confirmation: event.ref */
	const char *stop_job;	/* cancel by job_id: the job to stop */
	const char *court;	/* NULL when absent, as address and department */
	const char *address;
	const char *department;
	const char *case_tz;
	int64_t appearance_ms;
	struct duration offsets[JOB_DURATIONS_MAX];
	int n_offsets;		/* 0: the job gave none ([court_reminder] offsets,
				 * or a town hall's [townhall] reminders) */

	/* kind "townhall_confirmation" (recipient above; event.ref is
	 * event_ref, reminders are offsets/n_offsets) */
	const char *title;
	const char *location;	/* NULL when absent or "", as join_url */
	const char *join_url;
	const char *event_tz;
	int64_t starts_ms;
	int64_t ends_ms;	/* 0: no ends_at */

	/* Fields this version does not know ("sendAt", "recipient.phon"),
	 * accepted for forward compatibility and named so that a typo does
	 * not go unnoticed: each is "name" or "name (did you mean known?)",
	 * printable ASCII (other bytes as '?'), at most JOB_UNKNOWN_MAX of
	 * them and n_unknown_more beyond. */
	char unknown[JOB_UNKNOWN_MAX][JOB_UNKNOWN_LEN];
	int n_unknown, n_unknown_more;
};

/* Parses and validates `len` bytes. Returns 0 and fills *job, or -1 with
 * err naming the field ("recipient.phone: not an E.164 number: \"323-555\"").
 * On error job->id may still be set (when the id itself was valid) so the
 * caller can name the job in the dead-letter entry; job_free() is always
 * safe after job_parse(), whatever it returned. */
int job_parse(const char *buf, size_t len, const struct job_limits *limits,
	      struct job *job, struct err *err);
void job_free(struct job *job);

/* Checks one recipient object the way a job's recipient is checked (a
 * contact from a CSV row, a contact_upsert). path prefixes field names in
 * the error ("" for none: "phone: not an E.164 number: ..."). Normalised
 * values (E.164, trimmed email, canonical language tag) are written back
 * into obj; r's strings borrow from obj. Returns 0 or -1 with err set. */
int recipient_parse(json_t *obj, const char *path, struct recipient *r, struct err *err);

/* r's address on channel ch (the field channel.h names), or NULL. */
const char *recipient_address(const struct recipient *r, enum channel ch);

/* job->unknown joined with ", " into out (at most out_len bytes): "sendAt
 * (did you mean send_at?), urgnet (did you mean urgent?) and 2 more". */
void job_unknown_text(const struct job *job, char *out, size_t out_len);

const char *job_kind_name(enum job_kind kind);
int job_kind_from_name(const char *name);	/* -1 if unknown */

#endif
