/* store.h: pregon's Redis state behind the functions of src/lua/.
 *
 * Owns the command ("writer") connection's setup: loading the library and
 * creating the consumer groups each time the connection comes up, since a
 * restarted Redis may have lost both. */
#ifndef PREGON_STORE_H
#define PREGON_STORE_H

#include <stdbool.h>

#include "config.h"
#include "redis_conn.h"
#include "redis_lib.h"
#include "seal.h"

struct store;
typedef void (*store_ready_cb)(struct store *s, bool ready, void *data);

struct store {
	struct rconn *writer;
	const struct config *cfg;
	struct redis_lib lib;	/* the common arguments of every call */
	bool ready;		/* library loaded, groups exist */
	int setup_pending;	/* replies still awaited during setup */
	bool setup_failed;
	store_ready_cb on_ready[8];
	void *on_ready_data[8];
	int n_on_ready;
	uint64_t script_errors;
	/* The key of the tokens in links (seal.h), shared by every instance
	 * through <p>secret:links: the first to start makes it (SET NX), the
	 * others read it, on every (re)connect. */
	unsigned char link_key[SEAL_KEY_LEN];
	unsigned char link_key_offered[SEAL_KEY_LEN];	/* ours, if none is there */
	bool link_key_ok;
};

void store_init(struct store *s, struct rconn *writer, const struct config *cfg);
void store_add_ready_cb(struct store *s, store_ready_cb cb, void *data);
/* Called by the owner from the writer's state callback. */
void store_writer_state(struct store *s, bool up);

/* The link key, or NULL before the store first came up. */
const unsigned char *store_link_key(const struct store *s);

/* Builds "<prefix><name>" into out. */
void store_key(const struct store *s, char *out, size_t out_len, const char *name);

/* FCALL fn (LUA_FN_..., lua_lib.h) with args (lens may be NULL for C
 * strings). Returns 0, or -1 when Redis is not ready (cb not called). */
int store_call(struct store *s, const char *fn, int nargs, const char **args,
	       const size_t *lens, rconn_reply_cb cb, void *privdata);

struct metrics;
/* Registers pregon_redis_up (metrics.h). */
int store_metrics(struct store *s, struct metrics *m);

/* True when r is an error reply; logs it, and resets the connection when
 * the library is missing (flushed) so that setup runs again. */
bool store_reply_error(struct store *s, const redisReply *r, const char *what);

#endif
