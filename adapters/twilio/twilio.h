/* twilio.h: what the files of the Twilio provider share (adapters/twilio/):
 * its [sms] keys, read by the adapter (twilio.c) and its webhooks. */
#ifndef PREGON_ADAPTERS_TWILIO_H
#define PREGON_ADAPTERS_TWILIO_H

#include <stdint.h>

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

#endif
