/* cli_event.c: `pregon status --event REF [--json]`: a town hall's
 * attendance figures (contract 1.1; issue 14), from the scripts'
 * event_figures op, so that the CLI and the API count alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "lua_lib.h"
#include "validate.h"

static long long field(const redisReply *r, int i)
{
	const redisReply *e = r->element[i];

	return e->type == REDIS_REPLY_INTEGER ? e->integer : 0;
}

int cli_status_event(struct cli *c, const struct cli_args *a, const char *ref)
{
	return cli_event_show(c, ref, a->json);
}

int cli_event_show(struct cli *c, const char *ref, bool json)
{
	const char *args[LUA_EVENT_FIGURES_NHEAD];
	const redisReply *cancelled;
	redisReply *r;
	long long registered, sent, delivered, attending, cancel, joined, pending;

	if (ref[0] == '\0' || strlen(ref) > JOB_ID_MAX)
		return cli_fail(c, CLI_EXIT_USAGE, "status --event: an event ref has 1 to %d characters",
				JOB_ID_MAX);
	if (cli_connect(c, 0) != 0)
		return -1;
	args[LUA_EVENT_FIGURES_HEAD_REF] = ref;
	r = cli_lib_call(c, LUA_FN_EVENT_FIGURES, LUA_EVENT_FIGURES_NHEAD, args);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != LUA_EVENT_FIGURES_NREPLY) {
		freeReplyObject(r);
		return cli_fail(c, 1, "status --event: unexpected reply from Redis");
	}
	registered = field(r, LUA_EVENT_FIGURES_REPLY_REGISTERED);
	sent = field(r, LUA_EVENT_FIGURES_REPLY_SENT);
	delivered = field(r, LUA_EVENT_FIGURES_REPLY_DELIVERED);
	attending = field(r, LUA_EVENT_FIGURES_REPLY_ATTENDING);
	cancel = field(r, LUA_EVENT_FIGURES_REPLY_CANCEL);
	joined = field(r, LUA_EVENT_FIGURES_REPLY_JOINED);
	pending = field(r, LUA_EVENT_FIGURES_REPLY_PENDING);
	cancelled = r->element[LUA_EVENT_FIGURES_REPLY_CANCELLED];
	if (registered == 0 && (cancelled->type != REDIS_REPLY_STRING || cancelled->len == 0)) {
		freeReplyObject(r);
		return cli_fail(c, 1, "no such event: %s (no registration for it is kept)", ref);
	}
	if (json) {
		json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s*}", "event", ref,
				      "registered", registered, "confirmations_sent", sent,
				      "confirmations_delivered", delivered, "attending", attending,
				      "cancel", cancel, "joined", joined, "reminders_pending", pending,
				      "cancelled_by", cancelled->len ? cancelled->str : NULL);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

		json_decref(o);
		if (s == NULL) {
			freeReplyObject(r);
			return cli_fail(c, 1, "out of memory");
		}
		puts(s);
		free(s);
	} else {
		printf("event     %s%s%.*s\n", ref, cancelled->len ? "  CANCELLED by job " : "",
		       (int)cancelled->len, cancelled->len ? cancelled->str : "");
		printf("registered           %lld\n", registered);
		printf("confirmations sent   %lld (delivered %lld)\n", sent, delivered);
		printf("answered 1 attending %lld\n", attending);
		printf("answered 2 cancel    %lld\n", cancel);
		printf("joined by the link   %lld\n", joined);
		printf("reminders pending    %lld\n", pending);
	}
	freeReplyObject(r);
	return 0;
}
