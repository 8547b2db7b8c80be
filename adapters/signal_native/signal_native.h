/* signal_native.h: what the files of the native Signal provider share
 * (adapters/signal_native/): its [signal] keys. */
#ifndef PREGON_ADAPTERS_SIGNAL_NATIVE_H
#define PREGON_ADAPTERS_SIGNAL_NATIVE_H

#include <stdint.h>

#include "config.h"

/* Its keys, all in [signal] (config/pregon.conf explains each). [signal]
 * url and account are also the signal-cli provider's: a value goes to
 * both tables (config.h, struct config_module). */
struct signal_native_config {
	char url[CONFIG_STR_MAX];		/* the Signal-protocol server */
	char account[64];			/* basic-auth user: our number */
	char password_file[CONFIG_STR_MAX];	/* else $PREGON_SIGNAL_PASSWORD */
	int64_t timeout_ms;			/* one request, in total */
	int64_t lock_time_ms;			/* a recipient's lock, at most */
	int64_t envelope_ttl_ms;		/* an encrypted message kept for retries */
};

extern const struct config_module signal_native_config;

#endif
