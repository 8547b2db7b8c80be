/* sms_webhooks.h: what Twilio (or a provider speaking its API) posts back.
 *
 * POST /webhooks/sms/status   status callbacks: MessageSid, MessageStatus,
 *                             ErrorCode move the message on (never back)
 * POST /webhooks/sms/inbound  messages people send: consent words (STOP,
 *                             START, HELP and their Spanish and free-text
 *                             forms) and replies
 *
 * Both check X-Twilio-Signature against [http] public_url + the request
 * target and the auth token, in constant time, before anything else: 403
 * otherwise, and nothing changes. A request with a missing or malformed
 * field gets 400 naming the field. While Redis is unreachable, callbacks
 * and inbound messages are held in memory (bounded) and written when it is
 * back: Twilio does not retry them. */
#ifndef PREGON_SMS_WEBHOOKS_H
#define PREGON_SMS_WEBHOOKS_H

#include <stdint.h>

#include "config.h"
#include "err.h"
#include "http_server.h"
#include "store.h"

struct sms_webhooks {
	const struct config *cfg;
	struct store *store;
	char token[256];
	char public_url[CONFIG_STR_MAX];	/* without a trailing '/' */
	uint64_t status_ok, inbound_ok, bad_signature, bad_request;
	uint64_t stops, starts, helps, replies;
	/* Held while Redis is away (see sms_webhooks.c). */
	struct held_call *held_head, *held_tail;
	size_t n_held;
};

/* Reads the auth token ([sms] auth_token_file or $PREGON_SMS_AUTH_TOKEN)
 * and adds the two routes. Without a token the routes still exist and
 * answer 403: an unsigned webhook is never trusted. */
int sms_webhooks_init(struct sms_webhooks *w, const struct config *cfg, struct store *store,
		      struct http_server *srv, struct err *err);

struct metrics;
/* Registers pregon_sms_webhooks_total and pregon_sms_inbound_total. */
int sms_webhooks_metrics(struct sms_webhooks *w, struct metrics *m);

/* Frees what is still held for Redis (logged: it is lost). */
void sms_webhooks_close(struct sms_webhooks *w);

/* The text sent back for a consent keyword: the STOP and START
 * confirmations in the keyword's language (Spanish for ALTO, PARAR,
 * BASTA and the Spanish phrases), or NULL. */
const char *sms_consent_answer(int intent, const char *keyword);

#endif
