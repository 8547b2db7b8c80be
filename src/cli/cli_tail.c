/* cli_tail.c: `pregon tail`: follow <prefix>events with XREAD BLOCK,
 * printing each event's JSON on its own line. -n N prints the last N
 * events (of --job's job) first; --no-follow exits at the stream's end
 * instead of waiting, so scripts can read history. */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#define TAIL_BLOCK_MS 1000

static volatile sig_atomic_t tail_stop;
static volatile sig_atomic_t tail_fd = -1;

/* hiredis 0.14 retries a read() interrupted by a signal (redisBufferRead
 * treats EINTR as "try again"), so a blocked XREAD would only notice the
 * flag after BLOCK expires. shutdown() is async-signal-safe (signal-safety(7))
 * and makes that read return at once. */
static void on_tail_signal(int sig)
{
	(void)sig;
	tail_stop = 1;
	if (tail_fd >= 0)
		shutdown(tail_fd, SHUT_RDWR);
}

/* True when the event's "job" equals job (events are JSON objects). */
static bool event_is_for_job(const char *text, size_t len, const char *job)
{
	json_t *doc = json_loadb(text, len, 0, NULL);
	json_t *j = doc ? json_object_get(doc, "job") : NULL;
	bool match = json_is_string(j) && strcmp(json_string_value(j), job) == 0;

	json_decref(doc);
	return match;
}

/* Prints one line and flushes (tail is read live through pipes). Returns
 * 1 when the reader went away (EPIPE: `pregon tail | head`), -1 on other
 * errors. */
static int emit_line(struct cli *c, const char *s, size_t len)
{
	if (fwrite(s, 1, len, stdout) != len || putchar('\n') == EOF || fflush(stdout) != 0) {
		if (errno == EPIPE)
			return 1;
		return cli_fail(c, 1, "stdout: %s", strerror(errno));
	}
	return 0;
}

/* The most entries -n scans backwards when --job filters them: events of
 * one job may be sparse in a stream of a million, and a history that
 * needs more than this is better read with --all. */
#define TAIL_SCAN_MAX 1000000
#define TAIL_PAGE 1000

/* Prints the last a->last events (of a->job's job, within TAIL_SCAN_MAX
 * entries) up to and including entry `upto`, oldest first: XREVRANGE
 * pages, kept in order in memory (at most CLI_TAIL_LAST_MAX lines). */
static int tail_history(struct cli *c, const struct cli_args *a, const char *key,
			const char *upto)
{
	redisReply **pages = NULL;
	size_t npages = 0, scanned = 0;
	long long found = 0;
	char end[CLI_STREAM_ID_MAX];
	int rc = 0;

	snprintf(end, sizeof(end), "%s", upto);
	while (found < a->last && scanned < TAIL_SCAN_MAX && strcmp(end, "0-0") != 0) {
		redisReply *r = cli_cmd(c, "XREVRANGE %s %s - COUNT %d", key, end, TAIL_PAGE), **grown;

		if (r == NULL) {
			rc = -1;
			break;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
			freeReplyObject(r);
			break;
		}
		grown = realloc(pages, (npages + 1) * sizeof(*pages));
		if (grown == NULL) {
			freeReplyObject(r);
			rc = cli_fail(c, 1, "out of memory");
			break;
		}
		pages = grown;
		pages[npages++] = r;
		scanned += r->elements;
		for (size_t i = 0; i < r->elements && found < a->last; i++) {
			const redisReply *e = r->element[i], *ev;

			if (!cli_entry_ok(e) || (ev = cli_entry_field(e->element[1], "event")) == NULL)
				continue;
			if (a->job == NULL || event_is_for_job(ev->str, ev->len, a->job))
				found++;
		}
		/* The next page ends just before this page's oldest entry. */
		if (!cli_entry_ok(r->element[r->elements - 1]))
			break;
		snprintf(end, sizeof(end), "(%s", r->element[r->elements - 1]->element[0]->str);
		if (r->elements < TAIL_PAGE)
			break;
	}
	/* Oldest first: pages from the last fetched, entries from the end,
	 * skipping what lies beyond the `found` newest matches. */
	long long skip = 0, matched = 0;

	for (size_t p = 0; p < npages && rc == 0; p++)
		for (size_t i = 0; i < pages[p]->elements; i++) {
			const redisReply *e = pages[p]->element[i], *ev;

			if (cli_entry_ok(e) && (ev = cli_entry_field(e->element[1], "event")) != NULL &&
			    (a->job == NULL || event_is_for_job(ev->str, ev->len, a->job)))
				matched++;
		}
	skip = matched - found;
	for (size_t p = npages; p-- > 0 && rc == 0;)
		for (size_t i = pages[p]->elements; i-- > 0 && rc == 0;) {
			const redisReply *e = pages[p]->element[i], *ev;

			if (!cli_entry_ok(e) || (ev = cli_entry_field(e->element[1], "event")) == NULL ||
			    (a->job != NULL && !event_is_for_job(ev->str, ev->len, a->job)))
				continue;
			if (skip > 0) {
				skip--;
				continue;
			}
			rc = emit_line(c, ev->str, ev->len);
		}
	for (size_t p = 0; p < npages; p++)
		freeReplyObject(pages[p]);
	free(pages);
	return rc;
}

int cli_tail(struct cli *c, const struct cli_args *a)
{
	struct sigaction sa;
	char key[CLI_KEY_MAX], last[CLI_STREAM_ID_MAX];
	long long printed = 0;

	if (a->npos != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "tail: takes no arguments (see pregon tail --help)");
	if (a->from != NULL && a->all)
		return cli_fail(c, CLI_EXIT_USAGE, "tail: give --from or --all, not both");
	if (a->from != NULL && !cli_stream_id_valid(a->from))
		return cli_fail(c, CLI_EXIT_USAGE, "tail: --from: not a stream id: \"%.40s\"", a->from);
	if (a->last != 0 && (a->from != NULL || a->all))
		return cli_fail(c, CLI_EXIT_USAGE, "tail: -n starts from history: not with --from or --all");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tail_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (cli_connect(c, TAIL_BLOCK_MS) != 0 || cli_key(c, key, "events") != 0)
		return tail_stop ? 0 : -1;
	tail_fd = c->rc->fd;
	if (a->all)
		snprintf(last, sizeof(last), "0-0");
	else if (a->from != NULL)
		snprintf(last, sizeof(last), "%s", a->from);
	else if (cli_stream_last_id(c, key, last, sizeof(last)) != 0)
		return tail_stop ? 0 : -1;
	if (a->last != 0) {
		int rc = tail_history(c, a, key, last);

		if (rc != 0)
			return rc > 0 || tail_stop ? 0 : -1;
	}

	while (!tail_stop && (a->count == 0 || printed < a->count)) {
		/* --no-follow: no BLOCK, so the end of the stream is a NIL. */
		redisReply *r = a->no_follow ?
			redisCommand(c->rc, "XREAD COUNT 100 STREAMS %s %s", key, last) :
			redisCommand(c->rc, "XREAD COUNT 100 BLOCK %d STREAMS %s %s", TAIL_BLOCK_MS,
				     key, last);
		const redisReply *entries;

		if (r == NULL) {
			if (tail_stop)
				return 0;
			return cli_redis_fail(c, "XREAD");
		}
		if (r->type == REDIS_REPLY_ERROR) {
			cli_fail(c, 1, "redis: XREAD: %s", r->str);
			freeReplyObject(r);
			return -1;
		}
		/* Reply: NIL on timeout, else [[stream, [[id, [f, v, ...]], ...]]]. */
		if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
		    r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2) {
			freeReplyObject(r);
			if (a->no_follow)
				break;
			continue;
		}
		entries = r->element[0]->element[1];
		for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++) {
			const redisReply *e = entries->element[i], *ev;
			int rc;

			if (!cli_entry_ok(e))
				continue;
			snprintf(last, sizeof(last), "%s", e->element[0]->str);
			ev = cli_entry_field(e->element[1], "event");
			if (ev == NULL)
				continue;
			if (a->job != NULL && !event_is_for_job(ev->str, ev->len, a->job))
				continue;
			rc = emit_line(c, ev->str, ev->len);
			if (rc != 0) {
				freeReplyObject(r);
				return rc > 0 ? 0 : -1;
			}
			if (a->count != 0 && ++printed >= a->count)
				break;
		}
		freeReplyObject(r);
	}
	return 0;
}

