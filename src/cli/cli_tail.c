/* cli_tail.c: `pregon tail`: follow <prefix>events with XREAD BLOCK,
 * printing each event's JSON on its own line. */
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

	while (!tail_stop && (a->count == 0 || printed < a->count)) {
		redisReply *r = redisCommand(c->rc, "XREAD COUNT 100 BLOCK %d STREAMS %s %s",
					     TAIL_BLOCK_MS, key, last);
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

