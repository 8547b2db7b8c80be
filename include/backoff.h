/* backoff.h: the reconnect delay of pregond's connections (Redis, MQTT).
 *
 * 100 ms doubling to 5 s, with up to 25% jitter so that several instances
 * do not reconnect in lockstep after a server restart. *backoff_ms is the
 * connection's state: 0 after a success. */
#ifndef PREGON_BACKOFF_H
#define PREGON_BACKOFF_H

#include <stdint.h>
#include <stdlib.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

/* Advances *backoff_ms and returns the delay before the next attempt. */
static inline uint64_t backoff_next(int64_t *backoff_ms)
{
	*backoff_ms = *backoff_ms == 0 ? BACKOFF_FIRST_MS : *backoff_ms * 2;
	if (*backoff_ms > BACKOFF_MAX_MS)
		*backoff_ms = BACKOFF_MAX_MS;
	return (uint64_t)*backoff_ms + (uint64_t)(rand() % (*backoff_ms / 4 + 1));
}

#endif
