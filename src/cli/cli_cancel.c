/* cli_cancel.c: `pregon cancel JOB_ID`: stop a job that is running or
 * waiting (contract 1.1). It queues {"kind": "cancel", "job_id": ...} on
 * <prefix>jobs like any producer's job, so the cancel takes the one way in
 * and is recorded, evented and deduplicated as every job is; then it waits
 * a little for pregond to have applied it and says what happened. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* How long the command waits for a pregond to take the cancel: an
 * organizer stopping a wrong alert wants to hear that it stopped. */
#define CANCEL_WAIT_MS 10000
#define CANCEL_POLL_MS 50

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The job's record as the stop left it: "result" is the count cancelled
 * ("unknown job" when pregond found nothing to stop). 1 when it is there
 * (copied into out), 0 not yet, -1 on a Redis failure. */
static int cancel_result(struct cli *c, const char *cancel_id, char *out, size_t out_len)
{
	char key[CLI_KEY_MAX];
	redisReply *r;
	int found = 0;

	if (snprintf(key, sizeof(key), "%sjob:%s", c->cfg.redis_prefix, cancel_id) >=
	    (int)sizeof(key))
		return cli_fail(c, 1, "cancel: key too long");
	r = cli_cmd(c, "HGET %s result", key);
	if (r == NULL)
		return -1;
	if (cli_reply_is_str(r)) {
		snprintf(out, out_len, "%s", r->str);
		found = 1;
	}
	freeReplyObject(r);
	return found;
}

int cli_cancel(struct cli *c, const struct cli_args *a)
{
	struct job job;
	struct err perr = { "" };
	char key[CLI_KEY_MAX], id[JOB_ID_MAX + 1], result[64], clean[JOB_ID_MAX * 4 + 8];
	char *text = NULL;
	json_t *doc = NULL;
	redisReply *r = NULL;
	long long deadline;
	int rc = -1, got = 0;

	memset(&job, 0, sizeof(job));
	if (a->npos != 1)
		return cli_fail(c, CLI_EXIT_USAGE, "cancel: needs one JOB_ID");
	/* The cancel's own id names its target when that fits in an id. */
	if (strlen(a->pos[0]) <= JOB_ID_MAX - 24)
		snprintf(id, sizeof(id), "cancel-%s-%lld", a->pos[0], now_ms());
	else
		snprintf(id, sizeof(id), "cancel-%lld-%d", now_ms(), (int)getpid());
	doc = json_pack("{s:s, s:s, s:s}", "id", id, "kind", "cancel", "job_id", a->pos[0]);
	text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (text == NULL) {
		cli_fail(c, 1, "cancel: out of memory");
		goto out;
	}
	/* The daemon's own checks (job_id: an id of 1 to 128 printable
	 * characters): a bad id is refused here, not dead-lettered. */
	if (job_parse(text, strlen(text), NULL, &job, &perr) != 0) {
		cli_clean_line(perr.msg, strlen(perr.msg), clean, sizeof(clean));
		cli_fail(c, 1, "%s", clean);
		goto out;
	}
	if (cli_connect(c, 0) != 0)
		goto out;
	/* A job pregond never accepted (a typo, or still in the queue) has
	 * nothing to stop: say so instead of queueing a cancel that finds
	 * nothing. seen:<id> is kept [jobs] dedupe_days, and longer for a
	 * send_at further ahead. */
	if (snprintf(key, sizeof(key), "%sseen:%s", c->cfg.redis_prefix, a->pos[0]) >=
	    (int)sizeof(key)) {
		cli_fail(c, 1, "cancel: key too long");
		goto out;
	}
	r = cli_cmd(c, "EXISTS %s", key);
	if (r == NULL)
		goto out;
	cli_clean_line(a->pos[0], strlen(a->pos[0]), clean, sizeof(clean));
	if (r->type != REDIS_REPLY_INTEGER || r->integer != 1) {
		cli_fail(c, 1, "cancel: no such job: %s (not accepted yet, or older than "
			 "[jobs] dedupe_days)", clean);
		goto out;
	}
	freeReplyObject(r);
	if (cli_key(c, key, "jobs") != 0)
		goto out;
	r = cli_cmd(c, "XADD %s * job %s", key, text);
	if (r == NULL)
		goto out;
	deadline = now_ms() + CANCEL_WAIT_MS;
	while ((got = cancel_result(c, id, result, sizeof(result))) == 0 && now_ms() < deadline)
		usleep(CANCEL_POLL_MS * 1000);
	if (got < 0)
		goto out;
	if (got == 0)
		printf("%s: queued; no pregond took it within %d s (it stops %s when one does)\n",
		       id, CANCEL_WAIT_MS / 1000, clean);
	else if (strcmp(result, "unknown job") == 0)
		printf("%s: pregond found no job %s to stop\n", id, clean);
	else
		printf("%s: stopped %s: %s waiting messages cancelled; those pregond has claimed "
		       "are cancelled before a provider gets them\n", id, clean, result);
	rc = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	job_free(&job);
	free(text);
	json_decref(doc);
	return rc;
}
