/* api.h: the JSON API on the listener (CONTRACT.md section 4; issue 16).
 *
 * Every answer is JSON, errors too ({"error": "..."}), never an empty body
 * or an HTML page. Routes under /v1 need a bearer token of [http]
 * tokens_file (api_tokens.h): 401 without a valid one (and it changes
 * nothing), 403 for a role that may not; with no tokens file they answer
 * 503 with the reason, never open. Failed attempts are limited per peer
 * address: after API_AUTH_FAILURES within a minute, 429 with Retry-After
 * until the minute is over.
 *
 * Built so far:
 * - POST /v1/jobs: the body is parsed by the queue's own parser
 *   (job_parse): 400 with the field-level public reason, 413 over [jobs]
 *   max_bytes before a byte is read (the route's limit), 202 {"id": ...}
 *   once it is on <p>jobs; a job already accepted: 200 with its state.
 * - GET /v1/jobs/{id}: its state: kind, created, message count, counts
 *   per status and per channel, replies per meaning, free-text count,
 *   how far an alert's audience was expanded.
 * The token file is re-read on SIGHUP (in the thread pool: the loop never
 * reads a file); a file that no longer parses keeps the tokens in force
 * and logs why. */
#ifndef PREGON_API_H
#define PREGON_API_H

#include <stdint.h>

#include <uv.h>

#include "api_tokens.h"
#include "config.h"
#include "err.h"
#include "http_server.h"
#include "store.h"

#define API_AUTH_FAILURES 10		/* per peer per minute, then 429 */
#define API_PEERS 256			/* peers whose failures are counted */

struct api_peer {
	char addr[64];			/* without the port */
	int64_t window_ms;		/* start of its minute */
	int failures;
};

struct api {
	uv_loop_t *loop;
	struct store *store;
	const struct config *cfg;
	struct api_tokens *tokens;	/* NULL: no usable tokens file */
	char tokens_problem[256];	/* why there are none (503's reason) */
	bool reloading;
	uv_work_t reload;
	struct api_tokens *loaded;	/* the pool's result */
	struct err load_err;
	struct api_peer peers[API_PEERS];
	uint64_t unauthorized, limited;	/* 401/403 answered; 429 answered */
};

/* Loads the tokens (blocking: before the loop runs) and adds the routes. */
int api_init(struct api *api, uv_loop_t *loop, struct http_server *s, struct store *store,
	     const struct config *cfg, struct err *err);

/* SIGHUP: re-reads the tokens file in the thread pool. */
void api_reload(struct api *api);

struct metrics;
int api_metrics(struct api *api, struct metrics *m);

void api_free(struct api *api);

#endif
