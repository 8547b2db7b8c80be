/* cli_optout.c: `pregon optout list|add|remove|history` (contract sections
 * 2 and 5): the per-channel opt-out sets and the consent ledger, changed
 * through the same script pregond uses, so every change is in the ledger
 * with its source ("operator") and time. This command prints addresses:
 * that is what the operator asked for. */
#include "cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "channel.h"
#include "validate.h"


/* Checks and normalises an address for channel into out. */
static int optout_address(struct cli *c, const char *channel, const char *in, char *out,
			  size_t out_len)
{
	struct err err;
	int ch = channel_from_name(channel);

	if (ch >= 0 && channel_info((enum channel)ch)->address == ADDRESS_EMAIL) {
		if (email_check(in, &err) != 0)
			return cli_fail(c, 1, "address: %s; expected name@domain, e.g. ana@example.org",
					err.msg);
		snprintf(out, out_len, "%s", in);
		for (char *p = out; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		return 0;
	}
	char phone[PHONE_E164_MAX + 1];
	/* The operator's own input is in err.msg, on their own terminal,
	 * beside the form that works (issue 13, item 16). */
	if (phone_check_e164(in, phone, &err) != 0)
		return cli_fail(c, 1, "address: %s; expected +<country code><number>, e.g. "
				"+13235550100", err.msg);
	snprintf(out, out_len, "%s", phone);
	return 0;
}

static int optout_change(struct cli *c, const char *action, const char *channel,
			 const char *address, const char *note)
{
	char addr[320];
	const char *args[LUA_CONSENT_NHEAD];
	redisReply *r;

	if (optout_address(c, channel, address, addr, sizeof(addr)) != 0)
		return -1;
	if (cli_connect(c, 0) != 0)
		return -1;
	args[LUA_CONSENT_HEAD_CHANNEL] = channel;
	args[LUA_CONSENT_HEAD_ADDRESS] = addr;
	args[LUA_CONSENT_HEAD_ACTION] = action;
	args[LUA_CONSENT_HEAD_SOURCE] = "operator";
	args[LUA_CONSENT_HEAD_DETAIL] = note ? note : "";
	r = cli_lib_call(c, LUA_FN_CONSENT, LUA_CONSENT_NHEAD, args);
	if (r == NULL)
		return -1;
	printf("%s %s %s%s\n", channel, addr,
	       strcmp(action, "out") == 0 ? "opted out" : "opted in",
	       r->type == REDIS_REPLY_INTEGER && r->integer == 0 ? " (no change)" : "");
	freeReplyObject(r);
	return 0;
}

static int optout_list(struct cli *c, const char *channel, bool json)
{
	if (cli_connect(c, 0) != 0)
		return -1;
	for (int i = 0; i < CHANNEL_COUNT; i++) {
		const char *name = channel_name((enum channel)i);
		char key[CLI_KEY_MAX], suffix[32], cursor[32] = "0";

		if (channel && strcmp(channel, name) != 0)
			continue;
		snprintf(suffix, sizeof(suffix), "optout:%s", name);
		cli_key(c, key, suffix);
		/* SSCAN, not SMEMBERS: the set can be large. */
		do {
			redisReply *r = cli_cmd(c, "SSCAN %s %s COUNT 1000", key, cursor);

			if (r == NULL)
				return -1;
			if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
				freeReplyObject(r);
				return cli_fail(c, 1, "unexpected SSCAN reply");
			}
			snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
			for (size_t k = 0; k < r->element[1]->elements; k++) {
				const char *addr = r->element[1]->element[k]->str;

				if (!json) {
					printf("%s %s\n", name, addr);
					continue;
				}
				json_t *o = json_pack("{s:s, s:s}", "channel", name, "address", addr);
				char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

				json_decref(o);
				if (text == NULL) {
					freeReplyObject(r);
					return cli_fail(c, 1, "out of memory");
				}
				printf("%s\n", text);
				free(text);
			}
			freeReplyObject(r);
		} while (strcmp(cursor, "0") != 0);
	}
	return 0;
}

static const char *first_channel(enum channel_address kind)
{
	for (int i = 0; i < CHANNEL_COUNT; i++)
		if (channel_info((enum channel)i)->address == kind)
			return channel_name((enum channel)i);
	return channel_name(CHANNEL_SMS);
}

static int optout_history(struct cli *c, const char *address)
{
	char key[CLI_KEY_MAX + 320], suffix[340], addr[320];
	/* The ledger is per address: the first channel whose addresses are
	 * written like this one says how to normalise it. */
	const char *channel = first_channel(strchr(address, '@') ? ADDRESS_EMAIL : ADDRESS_PHONE);
	redisReply *r;

	if (optout_address(c, channel, address, addr, sizeof(addr)) != 0)
		return -1;
	snprintf(suffix, sizeof(suffix), "consent:%s", addr);
	snprintf(key, sizeof(key), "%s%s", c->cfg.redis_prefix, suffix);
	if (cli_connect(c, 0) != 0)
		return -1;
	r = cli_cmd(c, "LRANGE %s 0 -1", key);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 0)
		printf("no consent changes recorded for %s\n", addr);
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		printf("%s\n", r->element[i]->str);
	freeReplyObject(r);
	return 0;
}

static bool channel_ok(const char *s)
{
	return channel_from_name(s) >= 0;
}

int cli_optout(struct cli *c, const struct cli_args *a)
{
	const char *sub = a->npos > 0 ? a->pos[0] : NULL;
	char names[16 * CHANNEL_COUNT];	/* "sms|email|signal" */

	if (a->json && (sub == NULL || strcmp(sub, "list") != 0))
		return cli_fail(c, CLI_EXIT_USAGE, "optout: --json is for list (history prints JSON)");
	for (int i = 0, n = 0; i < CHANNEL_COUNT && n < (int)sizeof(names); i++)
		n += snprintf(names + n, sizeof(names) - (size_t)n, "%s%s", i ? "|" : "",
			      channel_name((enum channel)i));

	if (sub == NULL)
		return cli_fail(c, CLI_EXIT_USAGE, "optout: needs list, add, remove or history");
	if (strcmp(sub, "list") == 0) {
		if (a->npos > 2 || (a->npos == 2 && !channel_ok(a->pos[1])))
			return cli_fail(c, CLI_EXIT_USAGE, "optout list [%s]", names);
		return optout_list(c, a->npos == 2 ? a->pos[1] : NULL, a->json);
	}
	if (strcmp(sub, "add") == 0 || strcmp(sub, "remove") == 0) {
		if (a->npos < 3 || !channel_ok(a->pos[1]))
			return cli_fail(c, CLI_EXIT_USAGE, "optout %s %s ADDRESS [NOTE]", sub, names);
		return optout_change(c, strcmp(sub, "add") == 0 ? "out" : "in", a->pos[1], a->pos[2],
				     a->npos > 3 ? a->pos[3] : NULL);
	}
	if (strcmp(sub, "history") == 0) {
		if (a->npos != 2)
			return cli_fail(c, CLI_EXIT_USAGE, "optout history ADDRESS");
		return optout_history(c, a->pos[1]);
	}
	return cli_fail(c, CLI_EXIT_USAGE, "optout: unknown subcommand \"%.20s\"", sub);
}
