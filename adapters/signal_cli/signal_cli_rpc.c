/* signal_cli_rpc.c: the JSON-RPC `send` and what signal-cli's answer to it
 * means (see signal_cli.h).
 *
 * The shapes are signal-cli's own (AsamK/signal-cli, 2026-07):
 *
 *   request  {"jsonrpc":"2.0","method":"send","id":N,
 *             "params":{"recipient":["+1..."],"message":"...","account"?}}
 *            (man/signal-cli-jsonrpc.5.adoc "Commands": params are the CLI
 *            flags in camelCase; a list for a flag with several values)
 *   result   {"timestamp":<ms>,"results":[{"recipientAddress":{"uuid",
 *             "number","username"},"type":T,"token"?,"retryAfterSeconds"?}]}
 *            (util/SendMessageResultUtils.java, json/JsonSendMessageResult.java)
 *
 * T is SUCCESS, NETWORK_FAILURE, UNREGISTERED_FAILURE, IDENTITY_FAILURE,
 * RATE_LIMIT_FAILURE or INVALID_PRE_KEY_FAILURE. A proof-required failure
 * (Signal wants a captcha) is a RATE_LIMIT_FAILURE carrying the challenge
 * `token` (SendMessageResult.isRateLimitFailure is true for both); older
 * signal-cli versions reported it as NETWORK_FAILURE with a token (issue
 * AsamK/signal-cli#923), so a token decides, whatever the type.
 *
 * When no recipient succeeded signal-cli answers a JSON-RPC error instead,
 * its data.response holding the same result
 * (jsonrpc/SignalJsonRpcCommandHandler.java): code -4 when every failure
 * is an untrusted identity, -5 when every one is a rate limit, else -1.
 * Without data: -1 a user error (the recipient is not registered, a bad
 * number), -3 an IO error, -6 a captcha rejected, -32603 an internal error
 * (a failed connection to Signal), -326xx and -32700 protocol errors.
 * Error messages may quote the recipient: they are never copied. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "signal_cli.h"

int signal_cli_send_body(struct buf *out, uint64_t id, const char *to, const char *account,
			 const char *text)
{
	char rcpt[SIGNAL_CLI_RCPT_MAX];
	json_t *doc, *params;
	char *s;
	int rc = -1;

	/* A username goes as "u:name.01" (RecipientIdentifier.Single.fromString):
	 * numbers start with '+', UUIDs have dashes at fixed places. */
	if (to[0] != '+' && strchr(to, '.') != NULL)
		snprintf(rcpt, sizeof(rcpt), "u:%s", to);
	else
		snprintf(rcpt, sizeof(rcpt), "%s", to);
	params = json_pack("{s[s]ss}", "recipient", rcpt, "message", text);
	if (params != NULL && account[0] != '\0' &&
	    json_object_set_new(params, "account", json_string(account)) != 0) {
		json_decref(params);
		return -1;
	}
	doc = params ? json_pack("{sssssIso}", "jsonrpc", "2.0", "method", "send", "id",
				 (json_int_t)id, "params", params) : NULL;
	s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (s != NULL && buf_adds(out, s) == 0)
		rc = 0;
	free(s);
	json_decref(doc);
	return rc;
}

static const struct {
	const char *type;
	enum signal_cli_outcome outcome;
} result_types[] = {
	{ "SUCCESS", SCO_SUCCESS },
	{ "NETWORK_FAILURE", SCO_NETWORK },
	{ "UNREGISTERED_FAILURE", SCO_UNREGISTERED },
	{ "IDENTITY_FAILURE", SCO_IDENTITY },
	{ "RATE_LIMIT_FAILURE", SCO_RATE_LIMIT },
	{ "INVALID_PRE_KEY_FAILURE", SCO_INVALID_PRE_KEY },
};

/* A token or an id of signal-cli's: letters, digits, '-', '_', ':', '.'
 * only, so that nothing odd reaches a log or an error. */
static void copy_plain(char *out, size_t n, const char *s)
{
	size_t i = 0;

	out[0] = '\0';
	if (s == NULL || strlen(s) >= n)
		return;
	for (; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("-_:.+", s[i]) == NULL)
			return;
	memcpy(out, s, i + 1);
}

/* The one recipient's result of {timestamp, results}; false if there is none. */
static bool read_result(json_t *res, struct signal_cli_answer *a)
{
	json_t *ts = json_object_get(res, "timestamp");
	json_t *r = json_array_get(json_object_get(res, "results"), 0);
	json_t *addr, *retry;
	const char *type;

	if (json_is_integer(ts) && json_integer_value(ts) > 0)
		a->timestamp = json_integer_value(ts);
	if (!json_is_object(r))
		return false;
	type = json_string_value(json_object_get(r, "type"));
	if (type == NULL)
		return false;
	a->outcome = SCO_BAD_ANSWER;
	for (size_t i = 0; i < sizeof(result_types) / sizeof(result_types[0]); i++)
		if (strcmp(type, result_types[i].type) == 0)
			a->outcome = result_types[i].outcome;
	addr = json_object_get(r, "recipientAddress");
	copy_plain(a->uuid, sizeof(a->uuid), json_string_value(json_object_get(addr, "uuid")));
	copy_plain(a->number, sizeof(a->number), json_string_value(json_object_get(addr, "number")));
	copy_plain(a->token, sizeof(a->token), json_string_value(json_object_get(r, "token")));
	retry = json_object_get(r, "retryAfterSeconds");
	if (json_is_integer(retry) && json_integer_value(retry) >= 0)
		a->retry_after_s = json_integer_value(retry);
	if (a->token[0] != '\0' && a->outcome != SCO_SUCCESS)
		a->outcome = SCO_PROOF_REQUIRED;
	return true;
}

/* An error without a usable result: what its code says. */
static enum signal_cli_outcome error_outcome(long code)
{
	switch (code) {
	case -1: return SCO_USER_ERROR;
	case -3: return SCO_NETWORK;
	case -4: return SCO_IDENTITY;
	case -5: return SCO_RATE_LIMIT;
	case -32603: return SCO_NETWORK;	/* "Failed to send message: ... (IOException)" */
	}
	return SCO_RPC_ERROR;
}

void signal_cli_answer_parse(const char *body, size_t len, uint64_t id,
			     struct signal_cli_answer *a)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *jid = json_object_get(doc, "id");
	json_t *res = json_object_get(doc, "result");
	json_t *error = json_object_get(doc, "error");

	memset(a, 0, sizeof(*a));
	a->outcome = SCO_BAD_ANSWER;
	a->retry_after_s = -1;
	if (!json_is_object(doc) || !json_is_integer(jid) ||
	    (uint64_t)json_integer_value(jid) != id)
		goto out;
	if (json_is_object(res)) {
		if (!read_result(res, a))
			a->outcome = a->timestamp > 0 ? SCO_SUCCESS : SCO_BAD_ANSWER;
	} else if (json_is_object(error) && json_is_integer(json_object_get(error, "code"))) {
		json_int_t code = json_integer_value(json_object_get(error, "code"));

		a->rpc_code = code >= -99999 && code <= 99999 ? (long)code : 0;
		res = json_object_get(json_object_get(error, "data"), "response");
		if (!json_is_object(res) || !read_result(res, a))
			a->outcome = error_outcome(a->rpc_code);
		if (a->outcome == SCO_SUCCESS)		/* an error cannot be a success */
			a->outcome = SCO_BAD_ANSWER;
	}
out:
	json_decref(doc);
}

const char *signal_cli_outcome_name(enum signal_cli_outcome o)
{
	static const char *const names[SCO_COUNT] = {
		[SCO_SUCCESS] = "success", [SCO_UNREGISTERED] = "unregistered",
		[SCO_NETWORK] = "network", [SCO_RATE_LIMIT] = "rate_limit",
		[SCO_PROOF_REQUIRED] = "proof_required", [SCO_IDENTITY] = "identity",
		[SCO_INVALID_PRE_KEY] = "invalid_pre_key", [SCO_USER_ERROR] = "user_error",
		[SCO_RPC_ERROR] = "rpc_error", [SCO_BAD_ANSWER] = "bad_answer",
	};
	return (unsigned)o < SCO_COUNT ? names[o] : "unknown";
}

