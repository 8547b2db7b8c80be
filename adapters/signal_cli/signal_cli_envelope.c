/* signal_cli_envelope.c: what an envelope on signal-cli's event stream
 * means to pregon (see signal_cli.h, signal_cli_event_items).
 *
 * The event's data is {"account", "envelope": {source, sourceNumber,
 * sourceUuid, sourceDevice, timestamp, receiptMessage? | dataMessage? |
 * syncMessage? | typingMessage? ...}} (json/JsonMessageEnvelope.java),
 * where receiptMessage = {when, isDelivery, isRead, isViewed, timestamps[]}
 * (json/JsonReceiptMessage.java: the timestamps are those `send` returned)
 * and dataMessage = {timestamp, message, groupInfo?, reaction?, ...}
 * (json/JsonDataMessage.java). Pure: no I/O, so the fuzzer runs it. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "validate.h"

#include "signal_cli.h"

/* A message's text kept (Signal sends 2,000 characters inline, longer
 * ones as an attachment), and receipts taken from one envelope. */
#define SSE_TEXT_MAX (16 * 1024)
#define SSE_TIMESTAMPS_MAX 100

/* The sender as a provider id names it: its ACI, else its number. */
static const char *sender_key(json_t *env)
{
	const char *uuid = json_string_value(json_object_get(env, "sourceUuid"));
	const char *num = json_string_value(json_object_get(env, "sourceNumber"));

	if (uuid != NULL && uuid[0] != '\0')
		return uuid;
	return num != NULL && num[0] != '\0' ? num : NULL;
}

static int receipt_items(json_t *env, json_t *rm, enum channel ch, signal_cli_feed_cb feed,
			 void *data, struct signal_cli_stream_counts *n)
{
	const char *who = sender_key(env);
	json_t *ts = json_object_get(rm, "timestamps");
	const char *status;
	size_t i;
	json_t *t;

	if (json_is_true(json_object_get(rm, "isRead")))
		status = "read";
	else if (json_is_true(json_object_get(rm, "isDelivery")))
		status = "delivered";
	else
		status = NULL;	/* viewed (media opened): nothing pregon tracks */
	if (status == NULL || who == NULL || !json_is_array(ts)) {
		n->ignored++;
		return 0;
	}
	json_array_foreach(ts, i, t) {
		char pid[64];

		if (i >= SSE_TIMESTAMPS_MAX || !json_is_integer(t) || json_integer_value(t) <= 0)
			break;
		signal_provider_id(json_integer_value(t), who, pid);
		struct inbound_item item = { .kind = INBOUND_RECEIPT, .channel = ch,
					     .provider_id = pid, .status = status, .error = "" };
		if (feed(data, &item) != 0)
			return -1;
		n->receipts++;
	}
	return 0;
}

/* A message a person wrote to the account: not in a group (a STOP there is
 * not addressed to us), not a reaction or a deletion, with text or an
 * attachment. The sender is its number when signal-cli knows it (contacts
 * are written E.164), else its ACI. */
static int message_item(json_t *env, json_t *dm, enum channel ch, signal_cli_feed_cb feed,
			void *data, struct signal_cli_stream_counts *n)
{
	const char *num = json_string_value(json_object_get(env, "sourceNumber"));
	const char *uuid = json_string_value(json_object_get(env, "sourceUuid"));
	const char *text = json_string_value(json_object_get(dm, "message"));
	json_t *ts = json_object_get(env, "timestamp");
	char from[SIGNAL_ADDRESS_MAX + 1], pid[64], id[72];
	struct err err;

	if (json_object_get(dm, "groupInfo") != NULL || json_object_get(dm, "reaction") != NULL ||
	    json_object_get(dm, "remoteDelete") != NULL ||
	    (text == NULL && json_array_size(json_object_get(dm, "attachments")) == 0) ||
	    !json_is_integer(ts) || json_integer_value(ts) <= 0) {
		n->ignored++;
		return 0;
	}
	if (!((num != NULL && num[0] == '+' && signal_address_check(num, from, &err) == 0) ||
	      (uuid != NULL && uuid[0] != '+' && strchr(uuid, '.') == NULL &&
	       signal_address_check(uuid, from, &err) == 0))) {
		n->bad++;
		return 0;
	}
	if (text == NULL)
		text = "";		/* a picture without text */
	if (strlen(text) > SSE_TEXT_MAX) {
		n->bad++;
		return 0;
	}
	signal_provider_id(json_integer_value(ts), sender_key(env), pid);
	snprintf(id, sizeof(id), "in-%s", pid);
	struct inbound_item item = { .kind = INBOUND_MESSAGE, .channel = ch, .provider_id = id,
				     .from = from, .text = text };
	if (feed(data, &item) != 0)
		return -1;
	n->messages++;
	return 0;
}

int signal_cli_event_items(const char *json, size_t len, enum channel ch,
			   signal_cli_feed_cb feed, void *data,
			   struct signal_cli_stream_counts *n)
{
	json_error_t jerr;
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *env = json_object_get(doc, "envelope");
	json_t *rm = json_object_get(env, "receiptMessage");
	json_t *dm = json_object_get(env, "dataMessage");
	int rc = 0;

	if (!json_is_object(env)) {
		n->bad++;
		rc = json_is_object(doc) ? 0 : -1;
	} else if (json_is_object(rm)) {
		rc = receipt_items(env, rm, ch, feed, data, n);
	} else if (json_is_object(dm)) {
		rc = message_item(env, dm, ch, feed, data, n);
	} else {
		n->ignored++;	/* typing, sync, call, story, an undecryptable one */
	}
	json_decref(doc);
	return rc;
}
