/* twilio.h: what the files of the Twilio provider share (adapters/twilio/):
 * its [sms] keys, and the webhooks the adapter (twilio.c) mounts
 * (twilio_webhooks.c), which check X-Twilio-Signature (twilio_sig.h). */
#ifndef PREGON_ADAPTERS_TWILIO_H
#define PREGON_ADAPTERS_TWILIO_H

#include <stdint.h>

#include "adapter.h"
#include "config.h"

/* Its keys, all in [sms] (config/pregon.conf explains each). */
struct twilio_config {
	char base_url[CONFIG_STR_MAX];		/* the Messages API's host */
	char account_sid[128];			/* AC...: basic-auth user, API path */
	char auth_token_file[CONFIG_STR_MAX];	/* else $PREGON_SMS_AUTH_TOKEN */
	char from[64];				/* E.164, or messaging_service_sid */
	char messaging_service_sid[128];
	int64_t timeout_ms;			/* one provider request, in total */
	int breaker_failures;			/* failures in a row that open the breaker */
	int64_t breaker_cooldown_ms;		/* before a probe is let through */
};

extern const struct config_module twilio_config;

/* What Twilio (or a provider speaking its API) posts back:
 *
 * POST /webhooks/sms/status   status callbacks: MessageSid, MessageStatus,
 *                             ErrorCode move the message on (never back)
 * POST /webhooks/sms/inbound  messages people send: consent words, HELP,
 *                             replies (decided by inbound.h)
 *
 * Both check X-Twilio-Signature against [http] public_url + the request
 * target and the auth token, in constant time, before anything else: 403
 * otherwise, and nothing changes. A request with a missing or malformed
 * field gets 400 naming the field. What is valid goes to inbound_feed(),
 * which writes it to Redis or, when Redis cannot take it, to the spool on
 * disk before Twilio is answered (Twilio does not retry). The signature
 * is accepted over the URL with or without its default port (twilio_url.h),
 * as Twilio's own validators do. */
struct twilio_webhooks {
	const struct adapter_env *env;
	enum channel channel;
	const char *token;			/* the adapter's auth token */
	char public_url[CONFIG_STR_MAX];	/* without a trailing '/' */
	uint64_t status_ok, inbound_ok, bad_signature, bad_request;
};

/* Mounts the two routes on env->routes (which must not be NULL). */
int twilio_webhooks_mount(struct twilio_webhooks *w, const struct adapter_env *env,
			  enum channel ch, const char *token, struct err *err);

/* Registers pregon_sms_webhooks_total and pregon_sms_inbound_total. */
int twilio_webhooks_metrics(struct twilio_webhooks *w, struct metrics *m);

#endif
