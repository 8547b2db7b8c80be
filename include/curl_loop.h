/* curl_loop.h: libcurl's multi-socket interface driven by the libuv loop.
 *
 * The protocol-neutral layer under http_client.c and, later, the SMTP
 * adapter: callers configure an easy handle (URL, protocols, timeouts,
 * callbacks), hand it over with curl_loop_add(), and get it back, once,
 * in their done callback. Sockets are watched with one uv_poll_t each and
 * libcurl's timer is a uv_timer_t (../shared/notes/deps.md section 2).
 *
 * Contract, libuv style: curl_loop_add() either fails and never calls
 * back, or succeeds and calls done exactly once, from the loop, never from
 * inside curl_loop_add(), curl_loop_cancel() or curl_loop_close().
 *
 * curl_loop_new() calls curl_global_init() the first time it runs. That
 * call is not thread-safe on every libcurl build; pregond is one thread and
 * creates its curl_loops from it. Nothing calls curl_global_cleanup(): the
 * process exit releases libcurl's globals. */
#ifndef PREGON_CURL_LOOP_H
#define PREGON_CURL_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

#include "err.h"

struct curl_loop;

struct curl_loop_opts {
	long max_host_connections;	/* CURLMOPT_MAX_HOST_CONNECTIONS; 0 = no cap */
	long max_total_connections;	/* CURLMOPT_MAX_TOTAL_CONNECTIONS; 0 = no cap */
	long max_idle_connections;	/* CURLMOPT_MAXCONNECTS; 0 = max_total, or libcurl's default */
};

/* The rc a cancelled transfer is completed with. A caller that installs its
 * own progress or write callback returning an abort can tell the two apart
 * by its own state. */
#define CURL_LOOP_CANCELLED CURLE_ABORTED_BY_CALLBACK

/* easy is removed from the loop when this runs: the callee owns it again
 * and may clean it up, reuse it or add it back. */
typedef void (*curl_loop_done_cb)(void *data, CURL *easy, CURLcode rc);
typedef void (*curl_loop_closed_cb)(void *data);

int curl_loop_new(struct curl_loop **out, uv_loop_t *loop,
		  const struct curl_loop_opts *opts, struct err *err);

/* Starts the transfer configured on easy. Until done runs, the loop owns
 * easy's CURLOPT_PRIVATE, CURLOPT_OPENSOCKETFUNCTION/DATA and
 * CURLOPT_CLOSESOCKETFUNCTION/DATA, and sets CURLOPT_NOSIGNAL (signals are
 * the loop's); everything else is the caller's. Fails (-1, err) when closing or when libcurl refuses. */
int curl_loop_add(struct curl_loop *cl, CURL *easy, curl_loop_done_cb done,
		  void *data, struct err *err);

/* Stops the transfer: done runs later on the loop with CURL_LOOP_CANCELLED.
 * Safe from any callback, including libcurl's. A no-op for an easy that is
 * not in the loop or already cancelled; easy must not have been freed. */
void curl_loop_cancel(struct curl_loop *cl, CURL *easy);

/* Transfers added whose done has not run yet. */
size_t curl_loop_active(const struct curl_loop *cl);

/* How many times a socket's watcher was created, changed, stopped or
 * closed: each is an epoll_ctl round trip or two. A request on a
 * kept-alive connection makes none. */
uint64_t curl_loop_watch_changes(const struct curl_loop *cl);

/* Cancels every transfer (each done runs with CURL_LOOP_CANCELLED), closes
 * libcurl's cached connections and every uv handle, then calls
 * closed(data) (may be NULL) from the loop and frees cl. Once called,
 * curl_loop_add() fails. */
void curl_loop_close(struct curl_loop *cl, curl_loop_closed_cb closed, void *data);

#endif
