/* redis_conn.h: one hiredis 0.14 async connection on the libuv loop, with
 * what 0.14 lacks: a libuv adapter that reports poll errors, a connect and
 * per-command watchdog, reconnection with backoff and jitter, and host
 * names resolved off the loop (uv_getaddrinfo, on every attempt), each
 * resolved address (IPv6 and IPv4, in getaddrinfo's order) tried in turn
 * before an attempt counts as failed.
 *
 * Commands issued while the connection is down fail at once (the callback
 * gets NULL, as hiredis does for commands lost in a disconnect): callers
 * treat a NULL reply as "outcome unknown" and rely on Redis state (pending
 * lists, idempotent scripts) to carry on after the reconnect. */
#ifndef PREGON_REDIS_CONN_H
#define PREGON_REDIS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include <hiredis/async.h>
#include <uv.h>

#include "redis_url.h"

struct rconn;

/* Called when the connection becomes ready (after AUTH/SELECT) or is lost. */
typedef void (*rconn_state_cb)(struct rconn *c, bool up, void *data);
/* A reply callback: reply is NULL on disconnect, timeout or close. The reply
 * is valid only during the call. */
typedef void (*rconn_reply_cb)(struct rconn *c, redisReply *reply, void *privdata);

struct rconn_cmd;

/* Addresses of a host name tried per attempt; more are ignored. */
#define RCONN_MAX_ADDRS 16

struct rconn {
	uv_loop_t *loop;
	char name[32];			/* "reader", "writer": for logs */
	struct redis_url url;
	redisAsyncContext *ac;
	bool up;			/* connected and set up */
	bool closing;
	int64_t connect_timeout_ms;
	int64_t command_timeout_ms;
	int64_t connect_started;	/* loop ms, while connecting */
	int64_t backoff_ms;
	uint64_t reconnects;		/* successful connects after the first */
	uint64_t connects;
	uint64_t failures;		/* connect attempts failed in a row */
	uv_getaddrinfo_t resolve;	/* while resolving is true */
	bool resolving;
	char addrs[RCONN_MAX_ADDRS][INET6_ADDRSTRLEN];	/* this attempt's, numeric */
	int n_addrs;			/* in addrs */
	int next_addr;			/* the next to try; n_addrs: attempt over */
	char attempt_why[128];		/* why the previous address failed */
	char refused[512];		/* why setup (AUTH, SELECT, PING) was refused */
	struct rconn_cmd *head, *tail;	/* outstanding commands, in order */
	size_t outstanding;
	uv_timer_t watchdog;
	uv_timer_t retry;
	rconn_state_cb on_state;
	void *data;
	void (*on_closed)(struct rconn *c);
	int open_handles;
};

int rconn_init(struct rconn *c, uv_loop_t *loop, const char *name,
	       const struct redis_url *url, int64_t connect_timeout_ms,
	       int64_t command_timeout_ms, rconn_state_cb on_state, void *data);

/* Starts connecting. Returns 0; failures show up through on_state. An
 * attempt fails (logged, counted, backoff) only once every address of the
 * host has failed to connect or timed out ([redis] connect_timeout each). */
void rconn_start(struct rconn *c);

/* Sends a command. extra_timeout_ms extends the deadline (for BLOCK reads).
 * Returns 0, or -1 if the connection is down (cb is then NOT called). */
int rconn_command(struct rconn *c, rconn_reply_cb cb, void *privdata,
		  int64_t extra_timeout_ms, int argc, const char **argv,
		  const size_t *argvlen);

/* Drops the connection now and reconnects after backoff (e.g. on NOSCRIPT). */
void rconn_reset(struct rconn *c, const char *why);

/* Closes for good; pending callbacks get NULL; on_closed once all handles
 * are closed. */
void rconn_close(struct rconn *c, void (*on_closed)(struct rconn *c));

struct metrics;
/* Registers this connection's pregon_redis_reconnects_total (metrics.h). */
int rconn_metrics(struct rconn *c, struct metrics *m);

#endif
