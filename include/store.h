/* store.h: pregon's Redis state behind src/lua/pregon.lua.
 *
 * Owns the command ("writer") connection's setup: loading the script and
 * creating the consumer groups each time the connection comes up, since a
 * restarted Redis has forgotten scripts and may have lost groups. */
#ifndef PREGON_STORE_H
#define PREGON_STORE_H

#include <stdbool.h>

#include "config.h"
#include "redis_conn.h"

struct store;
typedef void (*store_ready_cb)(struct store *s, bool ready, void *data);

struct store {
	struct rconn *writer;
	const struct config *cfg;
	char sha[48];
	bool ready;		/* script loaded, groups exist */
	int setup_pending;	/* replies still awaited during setup */
	bool setup_failed;
	char max_len[24], retention_s[24], dedupe_s[24];
	store_ready_cb on_ready[8];
	void *on_ready_data[8];
	int n_on_ready;
	uint64_t script_errors;
};

void store_init(struct store *s, struct rconn *writer, const struct config *cfg);
void store_add_ready_cb(struct store *s, store_ready_cb cb, void *data);
/* Called by the owner from the writer's state callback. */
void store_writer_state(struct store *s, bool up);

/* Builds "<prefix><name>" into out. */
void store_key(const struct store *s, char *out, size_t out_len, const char *name);

/* EVALSHA pregon.lua with op and args (lens may be NULL for C strings).
 * Returns 0, or -1 when Redis is not ready (cb not called). */
int store_eval(struct store *s, const char *op, int nargs, const char **args,
	       const size_t *lens, rconn_reply_cb cb, void *privdata);

struct metrics;
/* Registers pregon_redis_up (metrics.h). */
int store_metrics(struct store *s, struct metrics *m);

/* True when r is an error reply; logs it, and resets the connection on
 * NOSCRIPT (scripts flushed) so that setup runs again. */
bool store_reply_error(struct store *s, const redisReply *r, const char *what);

#endif
