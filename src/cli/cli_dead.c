/* cli_dead.c: `pregon dead list|show|replay|delete`: the dead-letter stream
 * <prefix>dead (fields job, reason, at; contract section 1). */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define DEAD_PAGE 100		/* entries per XRANGE page and per MULTI batch */
#define REPLAY_RETRIES 200	/* WATCH conflicts tolerated in a row */

/* The "id" of a stored job, when it parses as JSON and has one. */
static void dead_job_id(const redisReply *doc, char *out, size_t out_len)
{
	json_t *root = doc ? json_loadb(doc->str, doc->len, 0, NULL) : NULL;
	json_t *id = root ? json_object_get(root, "id") : NULL;

	if (json_is_string(id) && json_string_length(id) > 0) {
		const char *s = json_string_value(id);
		size_t len = json_string_length(id);

		/* Ids are at most 128 characters; a rejected one may be longer. */
		cli_clean_line(s, len > JOB_ID_MAX ? JOB_ID_MAX : len, out, out_len);
	} else {
		snprintf(out, out_len, "-");
	}
	json_decref(root);
}

/* True for the characters of an ISO-8601 time ("2026-11-22T19:03:11.250Z"),
 * printed as they are: log_redact() would take the date for a phone number. */
static bool is_iso_time(const char *s)
{
	return s[0] != '\0' && strspn(s, "0123456789-:.TZ+") == strlen(s);
}

/* One line: entry id, time, job id, reason; never the job's body. */
static int dead_print_entry(const redisReply *e, bool json)
{
	const redisReply *at = cli_entry_field(e->element[1], "at");
	const redisReply *reason = cli_entry_field(e->element[1], "reason");
	char when[CLI_STREAM_ID_MAX], job[JOB_ID_MAX + 64], why[ERR_MSG_MAX + 64];
	long long ms;

	if (at != NULL && cli_parse_ll(at->str, 0, LLONG_MAX, &ms) == 0)	/* Unix ms */
		cli_format_ms(ms, when, sizeof(when));
	else if (at != NULL && at->len < sizeof(when) && is_iso_time(at->str))
		memcpy(when, at->str, at->len + 1);
	else
		snprintf(when, sizeof(when), "-");
	dead_job_id(cli_entry_field(e->element[1], "job"), job, sizeof(job));
	if (reason != NULL)
		cli_clean_line(reason->str, reason->len, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "-");
	if (json) {
		/* --json: the same four, one object a line (issue 13, item 18). */
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "entry", e->element[0]->str, "at", when,
				      "job", job, "reason", why);
		char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		int rc = text != NULL && printf("%s\n", text) >= 0 ? 0 : -1;

		json_decref(o);
		free(text);
		return rc;
	}
	return printf("%s %s %s %s\n", e->element[0]->str, when, job, why) < 0 ? -1 : 0;
}

static int dead_list(struct cli *c, const struct cli_args *a, const char *key)
{
	char cursor[CLI_STREAM_ID_MAX] = "-";

	if (a->count > 0) {
		/* The newest N, printed oldest first like the full list. */
		redisReply *r = cli_cmd(c, "XREVRANGE %s + - COUNT %lld", key, a->count);

		if (r == NULL)
			return -1;
		for (size_t i = r->type == REDIS_REPLY_ARRAY ? r->elements : 0; i > 0; i--)
			if (cli_entry_ok(r->element[i - 1]))
				dead_print_entry(r->element[i - 1], a->json);
		freeReplyObject(r);
		return 0;
	}
	/* Page through: one XRANGE of a large stream would build the whole
	 * reply in Redis's memory and ours at once. */
	for (;;) {
		redisReply *r = cli_cmd(c, "XRANGE %s %s + COUNT %d", key, cursor, DEAD_PAGE);
		size_t n;

		if (r == NULL)
			return -1;
		n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
		for (size_t i = 0; i < n; i++)
			if (cli_entry_ok(r->element[i]))
				dead_print_entry(r->element[i], a->json);
		if (n > 0 && cli_entry_ok(r->element[n - 1]))
			cli_stream_id_next(r->element[n - 1]->element[0]->str, cursor, sizeof(cursor));
		freeReplyObject(r);
		if (n < DEAD_PAGE)
			return 0;
	}
}

static int dead_show(struct cli *c, const struct cli_args *a, const char *key)
{
	redisReply *r;
	const redisReply *doc;
	int result = -1;

	if (a->npos != 2)
		return cli_fail(c, CLI_EXIT_USAGE, "dead show: needs one entry ID (from pregon dead list)");
	if (!cli_stream_id_valid(a->pos[1]))
		return cli_fail(c, CLI_EXIT_USAGE, "dead show: not a stream id: \"%.40s\"", a->pos[1]);
	r = cli_cmd(c, "XRANGE %s %s %s", key, a->pos[1], a->pos[1]);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || !cli_entry_ok(r->element[0])) {
		cli_fail(c, 1, "no such dead-letter entry: %s", a->pos[1]);
		goto out;
	}
	doc = cli_entry_field(r->element[0]->element[1], "job");
	if (doc == NULL) {
		cli_fail(c, 1, "dead-letter entry %s has no job field", a->pos[1]);
		goto out;
	}
	fwrite(doc->str, 1, doc->len, stdout);
	if (doc->len == 0 || doc->str[doc->len - 1] != '\n')
		putchar('\n');
	result = 0;
out:
	freeReplyObject(r);
	return result;
}

/* Sends one command inside MULTI and checks Redis queued it. */
static int multi_queue(struct cli *c, const char *what, redisReply *r)
{
	int ok;

	if (r == NULL)
		return cli_redis_fail(c, what);
	ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "QUEUED") == 0;
	if (!ok)
		cli_fail(c, 1, "redis: %s: %s", what, r->type == REDIS_REPLY_ERROR ? r->str : "not queued");
	freeReplyObject(r);
	return ok ? 0 : -1;
}

/* One replay round: WATCH dead, read up to DEAD_PAGE entries from
 * first..last, then MULTI, XADD each job to jobs, XDEL it from dead, EXEC.
 * WATCH makes the read part of the transaction: if anyone touches dead in
 * between (a second operator replaying the same entry, the daemon adding
 * one), EXEC returns nil and nothing happened, so a job is never queued
 * twice. Returns the number of entries read (0: none left in the range)
 * with *cursor set after the last one, -2 when EXEC was aborted (retry),
 * -1 on error. Entries without a job field stay and count in *skipped. */
static long dead_replay_round(struct cli *c, const char *dead, const char *jobs,
			      const char *first, const char *last,
			      char *cursor, size_t cursor_len, int *skipped)
{
	redisReply *r = NULL, *w;
	long result = -1;
	size_t n, queued = 0;
	int skip = 0;
	bool exec_err = false;

	w = cli_cmd(c, "WATCH %s", dead);
	if (w == NULL)
		return -1;
	freeReplyObject(w);
	r = cli_cmd(c, "XRANGE %s %s %s COUNT %d", dead, first, last, DEAD_PAGE);
	if (r == NULL)
		return -1;
	n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
	if (n == 0 || !cli_entry_ok(r->element[n - 1])) {
		w = cli_cmd(c, "UNWATCH");
		if (w != NULL) {
			freeReplyObject(w);
			result = 0;
		}
		goto out;
	}
	cli_stream_id_next(r->element[n - 1]->element[0]->str, cursor, cursor_len);
	w = cli_cmd(c, "MULTI");
	if (w == NULL)
		goto out;
	freeReplyObject(w);
	for (size_t i = 0; i < n; i++) {
		const redisReply *e = r->element[i], *doc;

		if (!cli_entry_ok(e))
			continue;
		doc = cli_entry_field(e->element[1], "job");
		if (doc == NULL) {
			skip++;
			continue;
		}
		if (multi_queue(c, "XADD", redisCommand(c->rc, "XADD %s * job %b", jobs,
							 doc->str, doc->len)) != 0 ||
		    multi_queue(c, "XDEL", redisCommand(c->rc, "XDEL %s %s", dead,
							 e->element[0]->str)) != 0)
			goto discard;
		queued++;
	}
	w = cli_cmd(c, "EXEC");
	if (w == NULL)
		goto out;
	if (w->type == REDIS_REPLY_NIL) {	/* WATCH fired: nothing was done */
		freeReplyObject(w);
		result = -2;
		goto out;
	}
	if (w->type != REDIS_REPLY_ARRAY || w->elements != 2 * queued) {
		cli_fail(c, 1, "redis: EXEC: unexpected reply");
		freeReplyObject(w);
		goto out;
	}
	/* Replies alternate: XADD's new id, XDEL's count. Redis does not roll
	 * back a transaction whose command failed at run time (e.g. OOM), so
	 * print what did move and report the first failure. */
	for (size_t i = 0; i < queued; i++) {
		const redisReply *id = w->element[2 * i];

		if (id->type == REDIS_REPLY_ERROR) {
			if (!exec_err)
				cli_fail(c, 1, "redis: XADD in EXEC: %s", id->str);
			exec_err = true;
		} else if (cli_reply_is_str(id)) {
			printf("%s\n", id->str);
		}
	}
	freeReplyObject(w);
	*skipped += skip;
	result = exec_err ? -1 : (long)n;
	goto out;
discard:
	w = redisCommand(c->rc, "DISCARD");
	if (w != NULL)
		freeReplyObject(w);
out:
	freeReplyObject(r);
	return result;
}

/* Backs off a little after a WATCH conflict, more each time in a row. */
static void replay_backoff(int attempt)
{
	struct timespec ts = { 0, (long)(attempt < 50 ? attempt : 50) * 1000000L };

	nanosleep(&ts, NULL);
}

static int dead_replay(struct cli *c, const struct cli_args *a, const char *dead)
{
	char jobs[CLI_KEY_MAX], first[CLI_STREAM_ID_MAX], last[CLI_STREAM_ID_MAX];
	char cursor[CLI_STREAM_ID_MAX];
	int skipped = 0, conflicts = 0;

	if (a->all == (a->npos == 2))
		return cli_fail(c, CLI_EXIT_USAGE, "dead replay: give one entry ID or --all");
	if (cli_key(c, jobs, "jobs") != 0)
		return -1;
	if (!a->all) {
		if (!cli_stream_id_valid(a->pos[1]))
			return cli_fail(c, CLI_EXIT_USAGE, "dead replay: not a stream id: \"%.40s\"",
				    a->pos[1]);
		snprintf(first, sizeof(first), "%s", a->pos[1]);
		snprintf(last, sizeof(last), "%s", a->pos[1]);
	} else {
		/* Stop at the newest entry present now: a replayed job that is
		 * rejected again comes back with a new id and must not loop. */
		snprintf(first, sizeof(first), "-");
		if (cli_stream_last_id(c, dead, last, sizeof(last)) != 0)
			return -1;
		if (strcmp(last, "0-0") == 0)
			return 0;
	}
	for (;;) {
		long n = dead_replay_round(c, dead, jobs, first, last, cursor, sizeof(cursor),
					   &skipped);

		if (n == -1)
			return -1;
		if (n == -2) {
			if (++conflicts > REPLAY_RETRIES)
				return cli_fail(c, 1, "dead replay: %s keeps changing; try again", dead);
			replay_backoff(conflicts);
			continue;
		}
		conflicts = 0;
		if (!a->all && n == 0)
			return cli_fail(c, 1, "no such dead-letter entry: %s", a->pos[1]);
		if (!a->all || n < DEAD_PAGE)
			break;
		snprintf(first, sizeof(first), "%s", cursor);
	}
	if (skipped > 0)
		return cli_fail(c, 1, "%d dead-letter entr%s without a job field left in %s", skipped,
			    skipped == 1 ? "y" : "ies", dead);
	return 0;
}

/* `dead delete ID` (contract 1.1): drops one dead letter, which may hold a
 * person's addresses and texts, before its retention ends. Its names in
 * <prefix>dx:<name> (dead_index.h) are left to expire: an index entry
 * whose dead letter is gone erases nothing. */
static int dead_delete(struct cli *c, const struct cli_args *a, const char *key)
{
	redisReply *r;
	long long n;

	if (a->npos != 2)
		return cli_fail(c, CLI_EXIT_USAGE, "dead delete: needs one entry ID (from pregon dead list)");
	if (!cli_stream_id_valid(a->pos[1]))
		return cli_fail(c, CLI_EXIT_USAGE, "dead delete: not a stream id: \"%.40s\"", a->pos[1]);
	r = cli_cmd(c, "XDEL %s %s", key, a->pos[1]);
	if (r == NULL)
		return -1;
	n = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	freeReplyObject(r);
	if (n != 1)
		return cli_fail(c, 1, "no such dead-letter entry: %s", a->pos[1]);
	printf("deleted %s\n", a->pos[1]);
	return 0;
}

int cli_dead(struct cli *c, const struct cli_args *a)
{
	char key[CLI_KEY_MAX];
	const char *sub = a->pos[0];
	bool list = strcmp(sub, "list") == 0, show = strcmp(sub, "show") == 0;
	bool del = strcmp(sub, "delete") == 0;

	if (a->json && !list)
		return cli_fail(c, CLI_EXIT_USAGE, "dead: --json is for list");
	if (list && a->npos != 1)
		return cli_fail(c, CLI_EXIT_USAGE, "dead list: takes no arguments");
	if (a->all && (list || show || del))
		return cli_fail(c, CLI_EXIT_USAGE, "dead %s: --all is for dead replay", sub);
	if (a->count != 0 && !list)
		return cli_fail(c, CLI_EXIT_USAGE, "dead %s: --count is for dead list", sub);
	if (cli_connect(c, 0) != 0 || cli_key(c, key, "dead") != 0)
		return -1;
	if (list)
		return dead_list(c, a, key);
	if (show)
		return dead_show(c, a, key);
	if (del)
		return dead_delete(c, a, key);
	return dead_replay(c, a, key);
}

