/* cli_status_why.c: what `pregon status` says beyond counts (issue 13,
 * item 12): where a job is that has no record yet (still queued, or
 * rejected into the dead letters), whether anyone reads the queue, and
 * why each waiting message waits (quiet hours, send_at, a retry after an
 * error, a reminder's offset), with times in the recipient's zone.
 *
 * Everything here is read-only and bounded: the queue and the dead
 * letters are scanned from their ends for at most STATUS_SCAN_MAX
 * entries each, so a status never walks a million-entry stream. */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "keys.h"
#include "quiet_hours.h"
#include "tz.h"
#include "validate.h"

#define STATUS_SCAN_MAX 100000	/* entries of jobs or dead read at most */
#define STATUS_PAGE 500

/* "2026-12-08 08:00:00 UTC-08:00 America/Los_Angeles": the time an
 * operator reads on their wall clock, with the zone it is in. */
void cli_format_local(long long ms, const char *zone, char *out, size_t out_len)
{
	struct tz_wall w;
	struct err err;
	int64_t as_utc;
	long long off_min;

	if (ms < 0 || zone == NULL || zone[0] == '\0' ||
	    tz_utc_to_local(zone, ms, &w, &err) != 0) {
		cli_format_ms(ms, out, out_len);
		return;
	}
	as_utc = tz_days_from_civil(w.year, w.month, w.day) * 86400000LL +
		 ((w.hour * 60LL + w.minute) * 60 + w.second) * 1000 + w.msec;
	off_min = (as_utc - ms) / 60000;
	snprintf(out, out_len, "%04d-%02d-%02d %02d:%02d:%02d UTC%c%02lld:%02lld %s", w.year,
		 w.month, w.day, w.hour, w.minute, w.second, off_min < 0 ? '-' : '+',
		 llabs(off_min) / 60, llabs(off_min) % 60, zone);
}

/* The job document's "id", when text is a JSON object that has one. A
 * cheap search for the id first: nearly every entry is another job. */
static bool job_text_has_id(const char *text, size_t len, const char *id)
{
	json_t *doc, *v;
	bool match;

	if (memmem(text, len, id, strlen(id)) == NULL)
		return false;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	v = json_object_get(doc, "id");
	match = json_is_string(v) && strcmp(json_string_value(v), id) == 0;
	json_decref(doc);
	return match;
}

/* Whether the failure just recorded is Redis saying the stream or its
 * group does not exist (XINFO's "ERR no such key", "NOGROUP ..."). */
static bool stream_absent(const struct cli *c)
{
	return strstr(c->err.msg, "NOGROUP") != NULL || strstr(c->err.msg, "no such key") != NULL;
}

/* The consumer of <prefix>jobs that read last, as ms since it did, or
 * -1 when no consumer ever did (or the group is missing). XINFO CONSUMERS:
 * "idle" is the time since the consumer's last attempt to read, which a
 * running pregond renews with every blocking read. */
static int readers_idle(struct cli *c, const char *jobs, long long *idle_ms)
{
	redisReply *r = cli_cmd(c, "XINFO CONSUMERS %s %s", jobs, PREGON_GROUP);

	*idle_ms = -1;
	if (r == NULL) {
		/* No stream or no group: no pregond ever started on this prefix.
		 * Anything else (a refused command, a lost connection) is said. */
		if (!stream_absent(c))
			return -1;
		c->err.msg[0] = '\0';
		return 0;
	}
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *m = r->element[i];

		for (size_t k = 0; m->type == REDIS_REPLY_ARRAY && k + 1 < m->elements; k += 2)
			if (cli_reply_is_str(m->element[k]) && strcmp(m->element[k]->str, "idle") == 0 &&
			    m->element[k + 1]->type == REDIS_REPLY_INTEGER &&
			    (*idle_ms < 0 || m->element[k + 1]->integer < *idle_ms))
				*idle_ms = m->element[k + 1]->integer;
	}
	freeReplyObject(r);
	return 0;
}

/* One line about the readers of the queue when none has read for longer
 * than [jobs] reclaim_after (at least a minute): "nothing happens" is
 * then the answer, not the job. */
int cli_status_readers_note(struct cli *c, char *out, size_t out_len)
{
	char jobs[CLI_KEY_MAX];
	long long idle, limit = c->cfg.jobs_reclaim_after_ms;

	out[0] = '\0';
	if (limit < 60000)
		limit = 60000;
	if (cli_key(c, jobs, "jobs") != 0 || readers_idle(c, jobs, &idle) != 0)
		return -1;
	if (idle < 0)
		snprintf(out, out_len, "no pregond has ever read %s: is pregond running on this "
			 "Redis and prefix?", jobs);
	else if (idle > limit)
		snprintf(out, out_len, "no pregond has read %s for %llds: is pregond running?", jobs,
			 idle / 1000);
	return 0;
}

/* a <= b for stream ids "MS-SEQ" (both valid: cli_stream_id_valid). */
static bool stream_id_le(const char *a, const char *b)
{
	unsigned long long ams, aseq = 0, bms, bseq = 0;
	char *end;

	ams = strtoull(a, &end, 10);
	if (*end == '-')
		aseq = strtoull(end + 1, NULL, 10);
	bms = strtoull(b, &end, 10);
	if (*end == '-')
		bseq = strtoull(end + 1, NULL, 10);
	return ams < bms || (ams == bms && aseq <= bseq);
}

/* Whether the group holds entry unacknowledged: 1, 0, or -1 on error. */
static int entry_pending(struct cli *c, const char *jobs, const char *entry)
{
	redisReply *p = cli_cmd(c, "XPENDING %s %s %s %s 1", jobs, PREGON_GROUP, entry, entry);
	int held;

	if (p == NULL)
		return -1;
	held = p->type == REDIS_REPLY_ARRAY && p->elements > 0;
	freeReplyObject(p);
	return held;
}

/* Finds the job in <prefix>jobs from the oldest entry a pregond holds
 * unacknowledged (XPENDING), or else after the group's last-delivered id.
 * *ahead: unread entries before it. Returns 1 found and not yet read, 2
 * found and read (a pregond is recording it: a moment later it has its
 * record), 0 not found, -1 on error. */
static int find_queued(struct cli *c, const char *id, char *entry, size_t entry_len,
		       long long *ahead)
{
	char jobs[CLI_KEY_MAX], start[CLI_STREAM_ID_MAX + 2] = "-", last_read[CLI_STREAM_ID_MAX] = "";
	redisReply *g;
	long long seen = 0, unread = 0;	/* entries scanned; unread ones before the job */

	if (cli_key(c, jobs, "jobs") != 0)
		return -1;
	g = cli_cmd(c, "XINFO GROUPS %s", jobs);
	if (g == NULL) {
		if (!stream_absent(c))
			return -1;
		c->err.msg[0] = '\0';	/* no stream yet: nothing queued */
		return 0;
	}
	for (size_t i = 0; g->type == REDIS_REPLY_ARRAY && i < g->elements; i++) {
		const redisReply *m = g->element[i];
		const redisReply *name = NULL, *last = NULL;

		for (size_t k = 0; m->type == REDIS_REPLY_ARRAY && k + 1 < m->elements; k += 2) {
			if (!cli_reply_is_str(m->element[k]))
				continue;
			if (strcmp(m->element[k]->str, "name") == 0)
				name = m->element[k + 1];
			else if (strcmp(m->element[k]->str, "last-delivered-id") == 0)
				last = m->element[k + 1];
		}
		if (name && last && cli_reply_is_str(name) && cli_reply_is_str(last) &&
		    strcmp(name->str, PREGON_GROUP) == 0 && cli_stream_id_valid(last->str)) {
			snprintf(start, sizeof(start), "(%s", last->str);
			snprintf(last_read, sizeof(last_read), "%s", last->str);
		}
	}
	freeReplyObject(g);
	if (last_read[0] != '\0') {
		/* [count, min, max, consumers]: start at the oldest held. */
		g = cli_cmd(c, "XPENDING %s %s", jobs, PREGON_GROUP);
		if (g == NULL)
			return -1;
		if (g->type == REDIS_REPLY_ARRAY && g->elements == 4 &&
		    g->element[0]->type == REDIS_REPLY_INTEGER && g->element[0]->integer > 0 &&
		    cli_reply_is_str(g->element[1]) && cli_stream_id_valid(g->element[1]->str))
			snprintf(start, sizeof(start), "%s", g->element[1]->str);
		freeReplyObject(g);
	}
	while (seen < STATUS_SCAN_MAX) {
		redisReply *r = cli_cmd(c, "XRANGE %s %s + COUNT %d", jobs, start, STATUS_PAGE);
		size_t n;

		if (r == NULL)
			return -1;
		n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
		for (size_t i = 0; i < n; i++, seen++) {
			const redisReply *e = r->element[i], *job;

			if (!cli_entry_ok(e))
				continue;
			job = cli_entry_field(e->element[1], "job");
			if (last_read[0] != '\0' && stream_id_le(e->element[0]->str, last_read)) {
				/* Read already: still held (pending) means a pregond is
				 * recording it; acknowledged means it was dealt with
				 * (a rejection: the dead letters say). */
				if (job != NULL && job_text_has_id(job->str, job->len, id)) {
					int held = entry_pending(c, jobs, e->element[0]->str);

					snprintf(entry, entry_len, "%s", e->element[0]->str);
					freeReplyObject(r);
					return held < 0 ? -1 : held ? 2 : 0;
				}
				continue;
			}
			if (job != NULL && job_text_has_id(job->str, job->len, id)) {
				snprintf(entry, entry_len, "%s", e->element[0]->str);
				*ahead = unread;
				freeReplyObject(r);
				return 1;
			}
			unread++;
		}
		if (n < STATUS_PAGE || !cli_entry_ok(r->element[n - 1])) {
			freeReplyObject(r);
			return 0;
		}
		snprintf(start, sizeof(start), "(%s", r->element[n - 1]->element[0]->str);
		freeReplyObject(r);
	}
	return 0;
}

/* Finds the newest dead letter of the job (the reason names the field
 * and the problem, and may quote the value: it is cleaned before it is
 * printed). Returns 1 found, 0 not, -1 on error. */
static int find_dead(struct cli *c, const char *id, char *entry, size_t entry_len,
		     char *reason, size_t reason_len, long long *at_ms)
{
	char dead[CLI_KEY_MAX], end[CLI_STREAM_ID_MAX + 2] = "+";
	long long seen = 0;

	if (cli_key(c, dead, "dead") != 0)
		return -1;
	while (seen < STATUS_SCAN_MAX) {
		redisReply *r = cli_cmd(c, "XREVRANGE %s %s - COUNT %d", dead, end, STATUS_PAGE);
		size_t n;

		if (r == NULL)
			return -1;
		n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
		for (size_t i = 0; i < n; i++, seen++) {
			const redisReply *e = r->element[i], *job, *why, *at;

			if (!cli_entry_ok(e))
				continue;
			job = cli_entry_field(e->element[1], "job");
			if (job == NULL || !job_text_has_id(job->str, job->len, id))
				continue;
			why = cli_entry_field(e->element[1], "reason");
			at = cli_entry_field(e->element[1], "at");
			snprintf(entry, entry_len, "%s", e->element[0]->str);
			if (why != NULL)
				cli_clean_line(why->str, why->len, reason, reason_len);
			else
				snprintf(reason, reason_len, "(no reason kept)");
			/* at: ISO-8601 UTC as the accept op writes it (jobs.lua). */
			*at_ms = -1;
			if (at != NULL && at->len < 64) {
				int64_t ms;
				struct err err;

				if (time_parse_iso8601(at->str, "UTC", &ms, &err) == 0)
					*at_ms = ms;
				else if (cli_parse_ll(at->str, 0, LLONG_MAX, at_ms) != 0)
					*at_ms = -1;
			}
			freeReplyObject(r);
			return 1;
		}
		if (n < STATUS_PAGE || !cli_entry_ok(r->element[n - 1])) {
			freeReplyObject(r);
			return 0;
		}
		snprintf(end, sizeof(end), "(%s", r->element[n - 1]->element[0]->str);
		freeReplyObject(r);
	}
	return 0;
}

static int print_json(struct cli *c, json_t *root)
{
	char *text = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(root);
	if (text == NULL)
		return cli_fail(c, 1, "out of memory");
	printf("%s\n", text);
	free(text);
	return 0;
}

int cli_status_absent(struct cli *c, const char *id, bool json, bool *queued)
{
	char entry[CLI_STREAM_ID_MAX], reason[ERR_MSG_MAX + 64], note[256], at[96];
	long long ahead = 0, at_ms = -1;
	int found;

	if (cli_status_readers_note(c, note, sizeof(note)) != 0)
		return -1;
	found = find_queued(c, id, entry, sizeof(entry), &ahead);
	if (found < 0)
		return -1;
	*queued = found > 0;
	if (found == 2) {
		if (json)
			return print_json(c, json_pack("{s:s, s:s, s:s, s:i, s:{}, s:{}}", "job", id,
						       "state", "reading", "entry", entry, "messages", 0,
						       "statuses", "channels"));
		printf("job       %s\n", id);
		printf("state     read by pregond (entry %s); its messages are being recorded\n",
		       entry);
		return 0;
	}
	if (found > 0) {
		if (json)
			return print_json(c, json_pack("{s:s, s:s, s:s, s:I, s:s?, s:i, s:{}, s:{}}",
						       "job", id, "state", "queued", "entry", entry,
						       "ahead", (json_int_t)ahead,
						       "note", note[0] ? note : NULL, "messages", 0,
						       "statuses", "channels"));
		printf("job       %s\n", id);
		printf("state     queued; not yet read (entry %s, %lld jobs ahead of it)\n", entry,
		       ahead);
		if (note[0])
			printf("note      %s\n", note);
		return 0;
	}
	found = find_dead(c, id, entry, sizeof(entry), reason, sizeof(reason), &at_ms);
	if (found < 0)
		return -1;
	if (found > 0) {
		cli_format_local(at_ms, c->cfg.schedule_default_tz, at, sizeof(at));
		if (json)
			return print_json(c, json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:{}, s:{}}",
						       "job", id, "state", "rejected", "reason", reason,
						       "at", at, "dead_entry", entry, "messages", 0,
						       "statuses", "channels"));
		printf("job       %s\n", id);
		printf("state     rejected: %s\n", reason);
		printf("at        %s\n", at);
		printf("dead      %s (pregon dead show %s; fix it and send it again)\n", entry, entry);
		return 0;
	}
	if (note[0])
		return cli_fail(c, 1, "no such job (%s)", note);
	return cli_fail(c, 1, "no such job");
}

/* Why a scheduled message written before records kept why waits,
 * inferred from the rest of it: its error, its kind, and whether it is
 * due when quiet hours end in its zone (intake.c message_record moved it
 * there; the window as this config has it). */
static const char *inferred_why(const struct cli *c, const char *kind, long long attempt,
				const char *err, const char *zone, long long due_ms)
{
	int64_t open = 0;
	struct err e;

	if (strcmp(err, "held by quiet hours") == 0)
		return "quiet";
	if (err[0] && attempt > 0)
		return "retry";
	if (strcmp(kind, "court_reminder") == 0)
		return "offset";
	if (zone != NULL && zone[0] && due_ms > 0 && !c->cfg.quiet.off &&
	    quiet_hours_next_allowed(&c->cfg.quiet, zone, due_ms - 1, &open, &e) == 0 &&
	    open == due_ms)
		return "quiet";
	return "send_at";
}

/* What a reminder of a job of kind is before: a court reminder's record
 * and a town hall's both expire at the start (the appearance, the event). */
static const char *reminded_of(const char *kind)
{
	return kind != NULL && strcmp(kind, "townhall_confirmation") == 0 ? "town hall" : "hearing";
}

/* Why a message waits, and when it goes: text for one line. due_ms is
 * its score in <prefix>scheduled (-1 when absent); why is the reason its
 * record keeps (quiet, send_at, retry, offset: where the wait was
 * decided, src/lua/common.lua create_message) or NULL for a record
 * written before it kept one, whose reason is inferred. */
void cli_status_why(const struct cli *c, const char *kind, const char *status,
		    long long attempt, const char *error, const char *why, const char *zone,
		    long long due_ms, long long updated_ms, long long expires_ms, char *label,
		    size_t label_len, char *out, size_t out_len)
{
	const char *z = zone && zone[0] ? zone : c->cfg.schedule_default_tz;
	char when[96], err[ERR_MSG_MAX];

	snprintf(label, label_len, "%s", status);
	out[0] = '\0';
	err[0] = '\0';
	if (error != NULL)
		cli_clean_line(error, strlen(error), err, sizeof(err));
	if (strcmp(status, "scheduled") != 0) {
		if (updated_ms >= 0) {
			cli_format_local(updated_ms, z, when, sizeof(when));
			snprintf(out, out_len, "at %s%s%s", when, err[0] ? ": " : "", err);
		} else if (err[0])
			snprintf(out, out_len, "%s", err);
		return;
	}
	if (why == NULL || why[0] == '\0')
		why = inferred_why(c, kind, attempt, err, zone, due_ms);
	cli_format_local(due_ms, z, when, sizeof(when));
	if (strcmp(why, "quiet") == 0) {
		/* The window as this config has it, in the recipient's zone. */
		snprintf(out, out_len, "until %s: quiet hours (%s in %s)", when,
			 c->cfg.schedule_quiet_hours, z);
	} else if (strcmp(why, "retry") == 0) {
		/* A temporary failure: the attempt failed, the next is due
		 * (attempt 0: the provider's circuit was open, none made). */
		snprintf(label, label_len, "retrying");
		if (attempt > 0)
			snprintf(out, out_len, "at %s: attempt %lld failed: %s", when, attempt,
				 err[0] ? err : "(no error recorded)");
		else
			snprintf(out, out_len, "at %s: not attempted: %s", when,
				 err[0] ? err : "(no error recorded)");
	} else if (strcmp(why, "offset") == 0 && expires_ms > due_ms && due_ms > 0) {
		/* A reminder's record expires at the appearance (planning,
		 * src/intake/court.c): the lead is the offset, or more where
		 * quiet hours moved the reminder earlier. */
		long long lead = (expires_ms - due_ms) / 60000;

		snprintf(out, out_len, "at %s: a reminder %lldd %02lldh%02lldm before the %s",
			 when, lead / 1440, lead / 60 % 24, lead % 60, reminded_of(kind));
	} else if (strcmp(why, "offset") == 0) {
		snprintf(out, out_len, "at %s: a reminder before the %s", when, reminded_of(kind));
	} else {
		snprintf(out, out_len, "at %s: send_at", when);
	}
}

/* Reads the messages m<seq>.1 .. m<seq>.n (pipelined, a page at a time),
 * keeps the latest change (the finish time once all are final) and groups
 * those that failed or wait for a retry by status and error, counted: 412 messages failing on one provider error is one line. At
 * most STATUS_SCAN_MAX messages are read, STATUS_REASONS groups kept
 * (the rest counted as "other"). */
int cli_status_reasons(struct cli *c, const char *seq, long long n, struct status_reasons *out)
{
	memset(out, 0, sizeof(*out));
	if (n > STATUS_SCAN_MAX)
		n = STATUS_SCAN_MAX;
	for (long long from = 1; from <= n; from += STATUS_PAGE) {
		long long to = from + STATUS_PAGE - 1 < n ? from + STATUS_PAGE - 1 : n;
		int rc = 0;

		for (long long k = from; k <= to; k++) {
			char key[CLI_KEY_MAX], suffix[128];

			snprintf(suffix, sizeof(suffix), "msg:m%s.%lld", seq, k);
			if (cli_key(c, key, suffix) != 0)
				return -1;
			if (redisAppendCommand(c->rc, "HMGET %s status attempt error updated why", key) !=
			    REDIS_OK)
				return cli_redis_fail(c, "HMGET");
		}
		for (long long k = from; k <= to; k++) {
			redisReply *m = NULL;
			const char *status, *error;
			long long attempt = 0;
			struct status_reason *g = NULL;
			char label[16], clean[STATUS_REASON_MAX];

			if (redisGetReply(c->rc, (void **)&m) != REDIS_OK || m == NULL)
				return cli_redis_fail(c, "HMGET");
			if (m->type != REDIS_REPLY_ARRAY || m->elements != 5 ||
			    !cli_reply_is_str(m->element[0])) {
				if (m->type == REDIS_REPLY_ERROR)
					rc = cli_fail(c, 1, "redis: HMGET: %s", m->str);
				freeReplyObject(m);
				continue;
			}
			status = m->element[0]->str;
			error = cli_reply_is_str(m->element[2]) ? m->element[2]->str : "";
			if (cli_reply_is_str(m->element[1]) &&
			    cli_parse_ll(m->element[1]->str, 0, 1000, &attempt) != 0)
				attempt = 0;
			{
				/* The job finished when its last message did. */
				long long upd;

				if (cli_reply_is_str(m->element[3]) &&
				    cli_parse_ll(m->element[3]->str, 0, LLONG_MAX, &upd) == 0 &&
				    upd > out->last_update)
					out->last_update = upd;
			}
			/* why: the record's reason (retry); before records kept
			 * one, an error but quiet hours' after an attempt. */
			if (strcmp(status, "scheduled") == 0 &&
			    (cli_reply_is_str(m->element[4]) ?
				     strcmp(m->element[4]->str, "retry") == 0 :
				     error[0] && strcmp(error, "held by quiet hours") != 0 &&
					     attempt > 0)) {
				snprintf(label, sizeof(label), "retrying");
				out->retrying++;
			} else if (strcmp(status, "failed") == 0 || strcmp(status, "undelivered") == 0 ||
				   strcmp(status, "suppressed") == 0 || strcmp(status, "expired") == 0) {
				snprintf(label, sizeof(label), "%s", status);
			} else {
				freeReplyObject(m);
				continue;
			}
			cli_clean_line(error[0] ? error : "(no reason recorded)",
				       strlen(error[0] ? error : "(no reason recorded)"), clean, sizeof(clean));
			for (size_t i = 0; i < out->n; i++)
				if (strcmp(out->group[i].status, label) == 0 &&
				    strcmp(out->group[i].reason, clean) == 0)
					g = &out->group[i];
			if (g == NULL && out->n < STATUS_REASONS) {
				g = &out->group[out->n++];
				snprintf(g->status, sizeof(g->status), "%s", label);
				snprintf(g->reason, sizeof(g->reason), "%s", clean);
			}
			if (g != NULL)
				g->n++;
			else
				out->other++;
			freeReplyObject(m);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}
