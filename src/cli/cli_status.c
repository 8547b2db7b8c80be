/* cli_status.c: `pregon status JOB_ID [--json]`: the job hash
 * <prefix>job:<id> (keys.h) as counts per status and per channel. */
#include "cli.h"
#include "eta.h"

#include <limits.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "channel.h"

#define WATCH_INTERVAL_MS 2000

/* Contract section 3's statuses, in the order a message moves through them. */
static const char *const status_order[] = {
	"accepted", "rejected", "duplicate", "scheduled", "sending", "sent",
	"delivered", "read", "failed", "undelivered", "suppressed", "expired",
	"cancelled", "replied",
};

#define N_STATUS (sizeof(status_order) / sizeof(status_order[0]))

static int rank(const char *name, const char *const *order, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, order[i]) == 0)
			return (int)i;
	return (int)n;	/* unknown names last, alphabetically */
}

struct count {
	char channel[32];	/* "" for the per-status totals */
	char status[32];
	long long n;
};

static int count_cmp(const void *pa, const void *pb)
{
	const struct count *x = pa, *y = pb;
	/* Channels in the table's order (channel.h), unknown names last. */
	int cx = channel_from_name(x->channel), cy = channel_from_name(y->channel);
	int d = (cx < 0 ? CHANNEL_COUNT : cx) - (cy < 0 ? CHANNEL_COUNT : cy);

	if (d == 0)
		d = strcmp(x->channel, y->channel);
	if (d == 0)
		d = rank(x->status, status_order, N_STATUS) - rank(y->status, status_order, N_STATUS);
	if (d == 0)
		d = strcmp(x->status, y->status);
	return d;
}

/* What an action alert adds: replies counted per meaning (each person's
 * latest answer; <p>job: r:<meaning>), free-text replies (rtext), and
 * how far its audience was expanded (x, xn, xdup). */
struct alert_info {
	struct reply_count {
		char meaning[192];	/* cleaned for printing */
		long long n;
	} *replies;
	size_t n_replies;
	long long free_text;
	const char *expansion;	/* "run", "done", or NULL: not an alert */
	const char *keywords;	/* the job's replies (JSON), for meanings not yet answered */
	long long expanded, skipped;
	const char *list;
	const char *problem;	/* xwhy: why the audience gave no message */
};

static void alert_field(struct alert_info *ai, const char *name, const char *value, size_t len)
{
	long long num = 0;
	bool is_num = cli_parse_ll(value, LLONG_MIN, LLONG_MAX, &num) == 0;

	if (strncmp(name, "r:", 2) == 0 && is_num) {
		struct reply_count *rc = &ai->replies[ai->n_replies++];

		cli_clean_line(name + 2, strlen(name + 2), rc->meaning, sizeof(rc->meaning));
		rc->n = num;
	} else if (strcmp(name, "rtext") == 0 && is_num)
		ai->free_text = num;
	else if (strcmp(name, "x") == 0)
		ai->expansion = value;
	else if (strcmp(name, "xn") == 0 && is_num)
		ai->expanded = num;
	else if (strcmp(name, "xdup") == 0 && is_num)
		ai->skipped = num;
	else if (strcmp(name, "xwhy") == 0 && len > 0)
		ai->problem = value;
	else if (strcmp(name, "list") == 0 && len > 0)
		ai->list = value;
	else if (strcmp(name, "replies") == 0 && len > 0)
		ai->keywords = value;
}

/* Every meaning the alert asked for is listed, 0 when nobody gave it
 * yet: an organizer reads "cannot 0" differently from a missing line. */
static int add_unanswered(struct alert_info *ai)
{
	json_t *kw = ai->keywords ? json_loads(ai->keywords, 0, NULL) : NULL, *v;
	const char *key;
	struct reply_count *grown;

	json_object_foreach(kw, key, v) {
		char meaning[192];
		size_t i;

		if (!json_is_string(v))
			continue;
		cli_clean_line(json_string_value(v), strlen(json_string_value(v)), meaning,
			       sizeof(meaning));
		for (i = 0; i < ai->n_replies; i++)
			if (strcmp(ai->replies[i].meaning, meaning) == 0)
				break;
		if (i < ai->n_replies)
			continue;
		grown = realloc(ai->replies, (ai->n_replies + 1) * sizeof(*grown));
		if (grown == NULL) {
			json_decref(kw);
			return -1;
		}
		ai->replies = grown;
		snprintf(ai->replies[ai->n_replies].meaning, sizeof(grown->meaning), "%s", meaning);
		ai->replies[ai->n_replies++].n = 0;
	}
	json_decref(kw);
	return 0;
}

/* An alert's progress: messages final out of all, and when the last
 * will leave (eta.h: per channel, at the rate measured so far held to
 * the channel's shared rate), as the API's GET /v1/jobs/{id} says. */
struct progress {
	long long final, total;
	double percent;
	long long eta_ms;	/* -1: unknown (no rate yet) or done */
};

static struct progress alert_progress(const struct config *cfg, const struct count *cs, size_t n,
				      long long messages, long long created, long long now_ms)
{
	struct progress p = { .eta_ms = -1, .total = messages };
	struct eta_channel ch[CHANNEL_COUNT];
	struct eta e;

	memset(ch, 0, sizeof(ch));
	for (int c = 0; c < CHANNEL_COUNT; c++)
		ch[c].rate_cfg = cfg->channel[c].rate;
	for (size_t i = 0; i < n; i++) {
		int c = cs[i].channel[0] ? channel_from_name(cs[i].channel) : -1;

		if (cs[i].channel[0] == '\0' && eta_status_final(cs[i].status))
			p.final += cs[i].n;
		if (c < 0)
			continue;
		if (eta_status_final(cs[i].status))
			ch[c].done += cs[i].n;
		else
			ch[c].remaining += cs[i].n;
	}
	p.percent = p.total > 0 ? 100.0 * (double)p.final / (double)p.total : 0.0;
	if (p.final < p.total && created >= 0 && now_ms > created) {
		eta_estimate(ch, now_ms - created, &e);
		if (e.ms > 0)
			p.eta_ms = now_ms + e.ms;
	}
	return p;
}

/* jansson helpers: remember any allocation failure instead of checking
 * each call (json_object_set_new with a NULL value returns -1). */
static void jset(json_t *obj, const char *key, json_t *val, bool *oom)
{
	if (obj == NULL || json_object_set_new(obj, key, val) != 0)
		*oom = true;
}

static int print_status_json(struct cli *c, const char *id, const char *kind,
			     long long created, long long messages,
			     const struct count *cs, size_t n, const struct alert_info *ai,
			     long long now_ms, const struct status_reasons *sr, long long finished)
{
	json_t *root = json_object(), *st = json_object(), *ch = json_object();
	bool oom = root == NULL || st == NULL || ch == NULL;
	char at[40];
	char *text;

	cli_format_ms(created, at, sizeof(at));
	jset(root, "job", json_string(id), &oom);
	jset(root, "kind", kind ? json_string(kind) : json_null(), &oom);
	jset(root, "created", created >= 0 ? json_string(at) : json_null(), &oom);
	if (finished >= 0) {
		char fin[40];

		cli_format_ms(finished, fin, sizeof(fin));
		jset(root, "finished", json_string(fin), &oom);
	}
	jset(root, "messages", json_integer(messages), &oom);
	for (size_t i = 0; i < n && !oom; i++) {
		if (cs[i].channel[0] == '\0') {
			jset(st, cs[i].status, json_integer(cs[i].n), &oom);
		} else {
			json_t *one = json_object_get(ch, cs[i].channel);

			if (one == NULL) {
				one = json_object();
				jset(ch, cs[i].channel, one, &oom);
			}
			jset(one, cs[i].status, json_integer(cs[i].n), &oom);
		}
	}
	jset(root, "statuses", json_incref(st), &oom);
	jset(root, "channels", json_incref(ch), &oom);
	if (sr->n > 0 || sr->other > 0) {
		json_t *rs = json_array();

		for (size_t i = 0; rs != NULL && i < sr->n; i++)
			json_array_append_new(rs, json_pack("{s:s, s:s, s:I}", "status",
							    sr->group[i].status, "reason",
							    sr->group[i].reason, "count",
							    (json_int_t)sr->group[i].n));
		jset(root, "reasons", rs, &oom);
		jset(root, "retrying", json_integer(sr->retrying), &oom);
	}
	if (ai->expansion != NULL && !oom) {
		json_t *rp = json_object();

		jset(root, "replies", rp, &oom);
		for (size_t i = 0; i < ai->n_replies && !oom; i++)
			jset(rp, ai->replies[i].meaning, json_integer(ai->replies[i].n), &oom);
		jset(root, "free_text_replies", json_integer(ai->free_text), &oom);
		struct progress p = alert_progress(&c->cfg, cs, n, messages, created, now_ms);
		char eta[40];

		cli_format_ms(p.eta_ms, eta, sizeof(eta));
		jset(root, "audience", json_pack("{s:s, s:s?, s:I, s:I, s:I, s:s?}", "expansion",
						 strcmp(ai->expansion, "done") == 0 ? "done" : "running",
						 "list", ai->list, "messages", (json_int_t)ai->expanded,
						 "people", (json_int_t)ai->expanded,
						 "skipped_same_person", (json_int_t)ai->skipped,
						 "problem", ai->problem), &oom);
		jset(root, "progress", json_pack("{s:I, s:I, s:f, s:s?}", "final", (json_int_t)p.final,
						 "messages", (json_int_t)p.total, "percent",
						 p.percent, "eta", p.eta_ms >= 0 ? eta : NULL), &oom);
	}
	text = oom ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(st);
	json_decref(ch);
	json_decref(root);
	if (text == NULL)
		return cli_fail(c, 1, "out of memory");
	printf("%s\n", text);
	free(text);
	return 0;
}

static int print_status_text(const struct cli *c, const char *id, const char *kind,
			     long long created, long long messages, const struct count *cs,
			     size_t n, const struct alert_info *ai, const char *note,
			     long long now_ms, long long finished)
{
	char at[128];
	bool any = false;

	/* The operator's wall clock ([schedule] default_tz), with its zone. */
	cli_format_local(created, c->cfg.schedule_default_tz, at, sizeof(at));
	printf("job       %s\n", id);
	printf("kind      %s\n", kind ? kind : "-");
	printf("created   %s\n", at);
	if (finished >= 0) {
		cli_format_local(finished, c->cfg.schedule_default_tz, at, sizeof(at));
		printf("finished  %s\n", at);
	}
	if (note[0])
		printf("note      %s\n", note);
	printf("messages  %lld\n", messages);
	printf("by status:\n");
	for (size_t i = 0; i < n; i++)
		if (cs[i].channel[0] == '\0') {
			printf("  %-12s %lld\n", cs[i].status, cs[i].n);
			any = true;
		}
	if (!any)
		printf("  (none)\n");
	any = false;
	printf("by channel:\n");
	for (size_t i = 0; i < n; i++)
		if (cs[i].channel[0] != '\0') {
			printf("  %-7s %-12s %lld\n", cs[i].channel, cs[i].status, cs[i].n);
			any = true;
		}
	if (!any)
		printf("  (none)\n");
	if (ai->expansion == NULL)
		return 0;
	if (ai->list != NULL) {
		char list[192];

		cli_clean_line(ai->list, strlen(ai->list), list, sizeof(list));
		printf("audience  list \"%s\": %lld messages, %lld skipped as the same person (%s)\n",
		       list, ai->expanded, ai->skipped,
		       strcmp(ai->expansion, "done") == 0 ? "expanded" : "expanding");
	} else
		printf("audience  %lld messages, %lld skipped as the same person (%s)\n", ai->expanded,
		       ai->skipped, strcmp(ai->expansion, "done") == 0 ? "expanded" : "expanding");
	if (ai->problem != NULL) {
		char why[192];

		cli_clean_line(ai->problem, strlen(ai->problem), why, sizeof(why));
		printf("problem   %s: nothing was sent\n", why);
	}
	{
		/* One message per person at expansion; each fallback to another
		 * channel is a second message for the same person. */
		struct progress p = alert_progress(&c->cfg, cs, n, messages, created, now_ms);
		char eta[128];

		printf("people    %lld people, %lld messages (%lld fallbacks)\n", ai->expanded,
		       messages, messages > ai->expanded ? messages - ai->expanded : 0);
		printf("progress  %lld of %lld messages done (%.1f%%)", p.final, p.total, p.percent);
		if (p.eta_ms >= 0) {
			cli_format_local(p.eta_ms, c->cfg.schedule_default_tz, eta, sizeof(eta));
			printf(", all done about %s", eta);
		}
		putchar('\n');
	}
	printf("replies (each person's latest answer):\n");
	for (size_t i = 0; i < ai->n_replies; i++)
		printf("  %-20s %lld\n", ai->replies[i].meaning, ai->replies[i].n);
	printf("  %-20s %lld\n", "(free text)", ai->free_text);
	return 0;
}

/* The messages m<seq>.1 .. m<seq>.n one by one, each with why it waits
 * and when it goes (cli_status_why): an advocate checking a client's
 * reminders wants the times and reasons, not counts. Jobs of at most a
 * few dozen messages only (a court reminder's offsets and notice, one
 * message and its fallbacks). */
static int print_messages(struct cli *c, const char *kind, const char *seq, long long n)
{
	char suffix[8 + JOB_ID_MAX], sched[CLI_KEY_MAX];

	if (cli_key(c, sched, "scheduled") != 0)
		return -1;
	printf("messages one by one:\n");
	for (long long k = 1; k <= n; k++) {
		char mid[96], mkey[CLI_KEY_MAX], label[32], why[ERR_MSG_MAX + 256];
		redisReply *m, *z;
		long long due = -1, attempt = 0, updated = -1, expires = -1;

		snprintf(mid, sizeof(mid), "m%s.%lld", seq, k);
		snprintf(suffix, sizeof(suffix), "msg:%s", mid);
		if (cli_key(c, mkey, suffix) != 0 ||
		    (m = cli_cmd(c, "HMGET %s status channel attempt error qz updated expires why",
				 mkey)) == NULL)
			return -1;
		if ((z = cli_cmd(c, "ZSCORE %s %s", sched, mid)) == NULL) {
			freeReplyObject(m);
			return -1;
		}
		if (cli_reply_is_str(z) && cli_parse_ll(z->str, 0, LLONG_MAX, &due) != 0)
			due = -1;
		if (m->type == REDIS_REPLY_ARRAY && m->elements == 8 && cli_reply_is_str(m->element[0])) {
			const redisReply *const *f = (const redisReply *const *)m->element;

			if (cli_reply_is_str(f[2]) && cli_parse_ll(f[2]->str, 0, 1000, &attempt) != 0)
				attempt = 0;
			/* updated: Unix ms of the last change (common.lua set_status). */
			if (!cli_reply_is_str(f[5]) ||
			    cli_parse_ll(f[5]->str, 0, LLONG_MAX, &updated) != 0)
				updated = -1;
			if (!cli_reply_is_str(f[6]) ||
			    cli_parse_ll(f[6]->str, 0, LLONG_MAX, &expires) != 0)
				expires = -1;
			cli_status_why(c, kind, f[0]->str, attempt,
				       cli_reply_is_str(f[3]) ? f[3]->str : NULL,
				       cli_reply_is_str(f[7]) ? f[7]->str : NULL,
				       cli_reply_is_str(f[4]) ? f[4]->str : NULL, due, updated, expires,
				       label, sizeof(label), why, sizeof(why));
			printf("  %-22s %-7s %-10s %s\n", mid, cli_reply_is_str(f[1]) ? f[1]->str : "-",
			       label, why);
		}
		freeReplyObject(m);
		freeReplyObject(z);
	}
	return 0;
}

/* A court reminder's case and messages (its job hash names them). */
static int print_schedule(struct cli *c, const char *id)
{
	char key[CLI_KEY_MAX], suffix[8 + JOB_ID_MAX];
	redisReply *j;
	char seq[64];
	long long n;

	snprintf(suffix, sizeof(suffix), "job:%s", id);
	if (cli_key(c, key, suffix) != 0)
		return -1;
	if ((j = cli_cmd(c, "HMGET %s seq messages case", key)) == NULL)
		return -1;
	/* seq: the entry that carried the job (its messages are m<seq>.<k>). */
	if (j->type != REDIS_REPLY_ARRAY || j->elements != 3 || !cli_reply_is_str(j->element[0]) ||
	    !cli_reply_is_str(j->element[1]) || j->element[0]->len >= sizeof(seq) ||
	    cli_parse_ll(j->element[1]->str, 0, 64, &n) != 0) {
		freeReplyObject(j);
		return 0;
	}
	if (cli_reply_is_str(j->element[2])) {
		char ref[192];

		cli_clean_line(j->element[2]->str, j->element[2]->len, ref, sizeof(ref));
		printf("case      %s\n", ref);
	}
	snprintf(seq, sizeof(seq), "%s", j->element[0]->str);
	freeReplyObject(j);
	return print_messages(c, "court_reminder", seq, n);
}

/* What cli_status() gathers from a job's fields. */
struct status_acc {
	struct count *cs;	/* one row per channel and status, one total per status */
	size_t n;
	struct alert_info ai;
	char kind[64];		/* "" when not known */
	long long created, messages;
	char seq[64];		/* a job of one message: what names its messages */
	char job_seq[64];	/* a job with a record: its "seq" */
};

/* Takes one field of a job hash (or one made up from its message records). */
static void status_field(struct status_acc *st, const char *f, const char *v, size_t vlen)
{
	struct count *cs = st->cs;
	long long num;

	if (strcmp(f, "kind") == 0) {
		snprintf(st->kind, sizeof(st->kind), "%s", v);
		return;
	}
	if (strcmp(f, "seq") == 0 && vlen < sizeof(st->job_seq)) {
		snprintf(st->job_seq, sizeof(st->job_seq), "%s", v);
		return;
	}
	alert_field(&st->ai, f, v, vlen);
	if (cli_parse_ll(v, LLONG_MIN, LLONG_MAX, &num) != 0)
		return;
	if (strcmp(f, "created") == 0) {
		st->created = num;
	} else if (strcmp(f, "messages") == 0) {
		st->messages = num;
	} else if (strncmp(f, "c:", 2) == 0 && num != 0) {
		/* c:<channel>:<status>; the totals per status are their sums. */
		const char *colon = strchr(f + 2, ':');
		size_t t, n = st->n;

		if (colon == NULL)
			return;
		snprintf(cs[n].channel, sizeof(cs[n].channel), "%.*s", (int)(colon - (f + 2)), f + 2);
		snprintf(cs[n].status, sizeof(cs[n].status), "%s", colon + 1);
		cs[n++].n = num;
		for (t = 0; t < n; t++)
			if (cs[t].channel[0] == '\0' && strcmp(cs[t].status, colon + 1) == 0)
				break;
		if (t == n) {
			snprintf(cs[n].status, sizeof(cs[n].status), "%s", colon + 1);
			n++;
		}
		cs[t].n += num;
		st->n = n;
	}
}

/* The most messages a job of one message has with its fallbacks (one per
 * channel, CHANNEL_COUNT; more in a record means a damaged one). */
#define SINGLE_MAX 64

/* A job of one message (kind message, answers to inbound texts) keeps no
 * counters (src/lua/common.lua, single): its seen key holds the seq that
 * names its messages, m<seq>.1 .. (a fallback gives the job hash a
 * count), which are counted from their records. At most a few. */
static int count_single(struct cli *c, const char *id, long long messages,
			struct status_acc *st)
{
	char key[CLI_KEY_MAX], suffix[8 + JOB_ID_MAX];
	redisReply *seen;
	char seq[64];

	snprintf(suffix, sizeof(suffix), "seen:%s", id);
	if (cli_key(c, key, suffix) != 0 || (seen = cli_cmd(c, "GET %s", key)) == NULL)
		return -1;
	if (!cli_reply_is_str(seen) || seen->len == 0 || seen->len >= sizeof(seq)) {
		freeReplyObject(seen);
		return 1;	/* no such job */
	}
	snprintf(seq, sizeof(seq), "%s", seen->str);
	snprintf(st->seq, sizeof(st->seq), "%s", seq);
	freeReplyObject(seen);
	if (messages < 1 || messages > SINGLE_MAX)
		messages = 1;
	st->messages = messages;
	for (long long k = 1; k <= messages; k++) {
		char mkey[CLI_KEY_MAX], field[96];
		redisReply *m;

		snprintf(suffix, sizeof(suffix), "msg:m%s.%lld", seq, k);
		if (cli_key(c, mkey, suffix) != 0 ||
		    (m = cli_cmd(c, "HMGET %s kind channel status created", mkey)) == NULL)
			return -1;
		if (m->type == REDIS_REPLY_ARRAY && m->elements == 4 && cli_reply_is_str(m->element[0]) &&
		    cli_reply_is_str(m->element[1]) && cli_reply_is_str(m->element[2])) {
			if (k == 1) {
				status_field(st, "kind", m->element[0]->str, m->element[0]->len);
				if (cli_reply_is_str(m->element[3]))
					status_field(st, "created", m->element[3]->str,
						     m->element[3]->len);
			}
			snprintf(field, sizeof(field), "c:%s:%s", m->element[1]->str, m->element[2]->str);
			status_field(st, field, "1", 1);
		}
		freeReplyObject(m);
	}
	return 0;
}

/* Whether any message failed, was not sent or waits for a retry: only
 * then are the messages read for their reasons. */
static bool wants_reasons(const struct status_acc *st)
{
	static const char *const which[] = { "failed", "undelivered", "suppressed", "expired",
					     "scheduled" };

	for (size_t i = 0; i < st->n; i++)
		for (size_t k = 0; k < sizeof(which) / sizeof(which[0]); k++)
			if (st->cs[i].channel[0] == '\0' && st->cs[i].n > 0 &&
			    strcmp(st->cs[i].status, which[k]) == 0)
				return true;
	return false;
}

static void print_reasons_text(const struct status_reasons *sr)
{
	if (sr->n == 0 && sr->other == 0)
		return;
	printf("why not sent, by reason:\n");
	for (size_t i = 0; i < sr->n; i++)
		printf("  %8lld  %-11s %s\n", sr->group[i].n, sr->group[i].status, sr->group[i].reason);
	if (sr->other > 0)
		printf("  %8lld  (other reasons)\n", sr->other);
}

/* Redis's clock (the one the records are written by), as Unix ms. */
static long long redis_now_ms(struct cli *c)
{
	redisReply *t = cli_cmd(c, "TIME");
	long long sec = -1, usec = 0;

	if (t != NULL && t->type == REDIS_REPLY_ARRAY && t->elements == 2 &&
	    cli_reply_is_str(t->element[0]) && cli_reply_is_str(t->element[1]) &&
	    cli_parse_ll(t->element[0]->str, 0, LLONG_MAX / 1000 - 1, &sec) == 0 &&
	    cli_parse_ll(t->element[1]->str, 0, 999999, &usec) == 0) {
		freeReplyObject(t);
		return sec * 1000 + usec / 1000;
	}
	freeReplyObject(t);
	return -1;
}

/* A town-hall registration: its event's figures after its own messages
 * (issue 14: "pregon status <job>" shows them too). */
static int print_event(struct cli *c, const char *id)
{
	char key[CLI_KEY_MAX], suffix[8 + JOB_ID_MAX];
	redisReply *r;
	int rc = 0;

	snprintf(suffix, sizeof(suffix), "job:%s", id);
	if (cli_key(c, key, suffix) != 0)
		return -1;
	r = cli_cmd(c, "HGET %s event", key);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING) {
		putchar('\n');
		rc = cli_event_show(c, r->str, false);
	}
	freeReplyObject(r);
	return rc;
}

/* One status of the job; *settled: nothing about it will change any more
 * (every message final and the audience expanded, or no record at all),
 * which ends --watch. */
static int status_once(struct cli *c, const struct cli_args *a, const char *id, bool *settled)
{
	char key[CLI_KEY_MAX], suffix[8 + JOB_ID_MAX];
	redisReply *r = NULL;
	struct status_acc st = { .created = -1 };
	long long now_ms = -1;
	int result = -1;
	bool queued = false;
	static struct status_reasons sr;	/* 4 KB; one status at a time */
	long long finished = -1;

	memset(&sr, 0, sizeof(sr));

	*settled = true;
	snprintf(suffix, sizeof(suffix), "job:%s", id);
	if (cli_key(c, key, suffix) != 0)
		return -1;
	r = cli_cmd(c, "HGETALL %s", key);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY) {
		result = cli_status_absent(c, id, a->json, &queued);
		*settled = !queued;
		goto out;
	}
	/* Rows: one per channel and status, one total per status; a job of
	 * one message makes up to two per message (count_single). */
	st.cs = calloc(r->elements + 2 * SINGLE_MAX + 2, sizeof(*st.cs));
	st.ai.replies = calloc(r->elements / 2 + 1, sizeof(*st.ai.replies));
	if (st.cs == NULL || st.ai.replies == NULL) {
		cli_fail(c, 1, "out of memory");
		goto out;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];

		if (cli_reply_is_str(f) && cli_reply_is_str(v))
			status_field(&st, f->str, v->str, v->len);
	}
	if (st.kind[0] == '\0') {
		int rc = count_single(c, id, st.messages, &st);

		if (rc < 0)
			goto out;
		if (rc > 0 || st.kind[0] == '\0') {
			result = cli_status_absent(c, id, a->json, &queued);
		*settled = !queued;
			goto out;
		}
	}
	qsort(st.cs, st.n, sizeof(*st.cs), count_cmp);
	if (add_unanswered(&st.ai) != 0) {
		cli_fail(c, 1, "out of memory");
		goto out;
	}
	if (st.ai.expansion != NULL && (now_ms = redis_now_ms(c)) < 0)
		goto out;
	{
		struct progress p = alert_progress(&c->cfg, st.cs, st.n, st.messages, st.created, now_ms);

		*settled = p.final >= p.total &&
			   (st.ai.expansion == NULL || strcmp(st.ai.expansion, "done") == 0);
	}

	/* The messages are read for the reasons, or, once every one is final,
	 * for the job's finish time (the last of their changes). */
	if ((wants_reasons(&st) || *settled) && (st.seq[0] || st.job_seq[0]) &&
	    cli_status_reasons(c, st.seq[0] ? st.seq : st.job_seq, st.messages, &sr) != 0)
		goto out;
	if (*settled && sr.last_update > 0)
		finished = sr.last_update;
	if (a->json) {
		result = print_status_json(c, id, st.kind, st.created, st.messages, st.cs, st.n, &st.ai,
					   now_ms, &sr, finished);
	} else {
		char note[256];

		if (cli_status_readers_note(c, note, sizeof(note)) != 0)
			goto out;
		result = print_status_text(c, id, st.kind, st.created, st.messages, st.cs, st.n, &st.ai,
					   note, now_ms, finished);
		if (result == 0 && strcmp(st.kind, "court_reminder") == 0)
			result = print_schedule(c, id);
		else if (result == 0 && st.seq[0] != '\0')
			result = print_messages(c, st.kind, st.seq, st.messages);
		else if (result == 0)
			print_reasons_text(&sr);	/* listed one by one above otherwise */
		if (result == 0 && strcmp(st.kind, "townhall_confirmation") == 0)
			result = print_event(c, id);
	}
out:
	free(st.ai.replies);
	free(st.cs);
	freeReplyObject(r);
	return result;
}

static volatile sig_atomic_t watch_stop;

static void on_watch_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

int cli_status(struct cli *c, const struct cli_args *a)
{
	const char *id;
	bool settled = true, tty = isatty(STDOUT_FILENO) == 1;
	struct sigaction sa;
	int rc;

	if (a->event != NULL) {
		if (a->npos != 0 || a->watch)
			return cli_fail(c, CLI_EXIT_USAGE, "status --event REF takes no JOB_ID and no --watch");
		return cli_status_event(c, a, a->event);
	}
	if (a->npos != 1)
		return cli_fail(c, CLI_EXIT_USAGE, "status: needs one JOB_ID");
	id = a->pos[0];
	if (strlen(id) == 0 || strlen(id) > JOB_ID_MAX)
		return cli_fail(c, CLI_EXIT_USAGE, "status: a job id has 1 to %d characters", JOB_ID_MAX);
	if (cli_connect(c, 0) != 0)
		return -1;
	if (!a->watch)
		return status_once(c, a, id, &settled);
	/* --watch: the status again every WATCH_INTERVAL_MS until nothing can
	 * change or SIGINT/SIGTERM (exit 0). On a terminal each one replaces
	 * the last; in a pipe they follow each other (a blank line between,
	 * one JSON object a line with --json). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_watch_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (bool first = true; !watch_stop; first = false) {
		struct timespec ts = { WATCH_INTERVAL_MS / 1000, (WATCH_INTERVAL_MS % 1000) * 1000000L };

		if (tty && !a->json)
			fputs("\033[H\033[2J", stdout);
		else if (!first && !a->json)
			putchar('\n');
		rc = status_once(c, a, id, &settled);
		if (rc != 0)
			return rc;
		if (fflush(stdout) != 0)
			return 0;	/* the reader went away */
		if (settled)
			break;
		nanosleep(&ts, NULL);	/* a signal ends it early: the loop then stops */
	}
	return 0;
}
