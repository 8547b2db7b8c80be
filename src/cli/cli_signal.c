/* cli_signal.c: `pregon signal trust ADDRESS`, the operator's answer to
 * "identity changed" from the native Signal transport
 * (adapters/signal_native/): a recipient's new identity key, refused and
 * kept beside the trusted one when it was first seen, becomes the trusted
 * key, and the session with the old key is dropped, so the next message
 * starts a new session from a fresh pre-key bundle. Check the new key
 * with the person first (a safety number in their Signal app): a changed
 * key is also what an impostor's key looks like. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "validate.h"

static int signal_trust(struct cli *c, const char *address)
{
	char phone[PHONE_E164_MAX + 1];
	const char *args[LUA_SIGNAL_TRUST_NHEAD];
	struct err err;
	redisReply *r;
	int rc = 0;

	/* The operator's own input, on their own terminal (cli.h). */
	if (phone_check_e164(address, phone, &err) != 0)
		return cli_fail(c, 1, "address: %s; expected +<country code><number>, e.g. "
				"+13235550100", err.msg);
	if (cli_connect(c, 0) != 0)
		return -1;
	args[LUA_SIGNAL_TRUST_HEAD_ADDRESS] = phone;
	r = cli_lib_call(c, LUA_FN_SIGNAL_TRUST, LUA_SIGNAL_TRUST_NHEAD, args);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == LUA_SIGNAL_TRUST_NREPLY &&
	    r->element[LUA_SIGNAL_TRUST_REPLY_RESULT]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[LUA_SIGNAL_TRUST_REPLY_RESULT]->str, "trusted") == 0)
		printf("signal %s: the new identity key is trusted; the next message starts a new "
		       "session\n", phone);
	else
		rc = cli_fail(c, 1, "signal %s: no changed identity key is waiting", phone);
	freeReplyObject(r);
	return rc;
}

int cli_signal(struct cli *c, const struct cli_args *a)
{
	if (a->npos == 2 && strcmp(a->pos[0], "trust") == 0)
		return signal_trust(c, a->pos[1]);
	return cli_fail(c, CLI_EXIT_USAGE, "signal: usage: signal trust ADDRESS");
}
