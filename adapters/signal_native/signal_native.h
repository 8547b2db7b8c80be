/* signal_native.h: what the files of the native Signal provider share
 * (adapters/signal_native/): its [signal] keys, and the two steps of the
 * Redis-backed store that sending and receiving both take
 * (signal_native.c, signal_receive.c). */
#ifndef PREGON_ADAPTERS_SIGNAL_NATIVE_H
#define PREGON_ADAPTERS_SIGNAL_NATIVE_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "redis_conn.h"
#include "redis_lib.h"

#include "signal_mem.h"

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
	int64_t poll_interval_ms;		/* receiving: after an empty queue */
	int64_t poll_max_ms;			/* receiving: the longest backoff */
};

extern const struct config_module signal_native_config;

/* A length in signal_native_call's lens that says "a C string" (binary
 * arguments have theirs). */
#define SIGNAL_NATIVE_TEXT SIZE_MAX

/* Calls the library's function fn (redis_lib.h) with nargs arguments
 * (lens NULL: all C strings); 0, or -1 when Redis is down (cb not called). */
int signal_native_call(struct rconn *c, struct redis_lib *lib, const char *fn, int nargs,
		       const char **args, const size_t *lens, rconn_reply_cb cb, void *data);

/* Fills m from signal_begin's 'ok' reply: our identity, and the session
 * of (addr, device) (unless !with_session: a fresh start) and addr's
 * trusted identity key. -1 on a malformed reply or out of memory. */
int signal_native_load(struct signal_mem *m, redisReply *r, const char *addr, uint32_t device,
		       bool with_session);

#endif
