/* rate.h: a send rate shared by every pregond on the same Redis.
 *
 * [<channel>] rate messages per second, enforced with GCRA (the generic
 * cell rate algorithm) in the library's rate op (src/lua/infra.lua): one key per channel holds
 * the theoretical arrival time, so instances need no coordination beyond
 * Redis. Each instance asks for tokens in batches (as many as it has room
 * to send), spends one per message it reads from a ready queue, and gives
 * back what it did not use when its queue runs dry.
 *
 * Tolerance: over any window of W seconds at most rate*W + burst messages
 * leave, plus one per instance and lane each time a queue that was empty
 * gets work (a blocked read takes that message before its token: it is
 * paid for from the next grant). A sender short of tokens waits for the
 * time the script says the next token is due: it neither spins nor drops. */
#ifndef PREGON_RATE_H
#define PREGON_RATE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "job.h"
#include "store.h"

struct rate_budget {
	double rate;		/* per second; 0 = unlimited */
	int burst;
	int tokens;		/* granted, not yet spent; below 0: owed */
	bool pending;		/* a request is out (its reply always comes,
				 * NULL if Redis went away) */
	int asked;		/* tokens the request out asked for; 0: a refund */
	bool waiting;		/* timer runs until the next token is due */
	uint64_t wait_until_ms;	/* uv_now() when waiting ends */
	enum channel channel;
	struct store *store;
	uv_timer_t timer;
	void (*on_tokens)(void *data);	/* tokens came, or the wait ended */
	void *data;
	void (*on_closed)(struct rate_budget *b);
	uint64_t requests, granted, waits;
};

/* The burst used when none is configured: a tenth of a second's worth. */
int rate_default_burst(double rate);

void rate_init(struct rate_budget *b, uv_loop_t *loop, struct store *store,
	       enum channel channel, double rate, int burst,
	       void (*on_tokens)(void *data), void *data);

static inline bool rate_limited(const struct rate_budget *b)
{
	return b->rate > 0;
}

/* Tokens that may be spent now (0 when owing). */
int rate_available(const struct rate_budget *b);

/* Spends n tokens (may go below 0: see the tolerance above). */
void rate_spend(struct rate_budget *b, int n);

/* Asks Redis for tokens so that want more can be spent (owed ones are
 * asked for on top), unless a request is out or a wait runs. */
void rate_request(struct rate_budget *b, int want);

/* Gives unspent tokens back to the shared budget. */
void rate_refund(struct rate_budget *b);

/* ms until this budget can change by itself (a request out or a wait),
 * or -1 when it will not. */
int64_t rate_wait_hint(const struct rate_budget *b);

/* Stops the timer; closed(b) once it is closed (b may be freed then). */
void rate_close(struct rate_budget *b, void (*closed)(struct rate_budget *b));

#endif
