/* breaker.h: a circuit breaker per provider.
 *
 * After `threshold` failures in a row (timeouts, refused connections,
 * 5xx, bad credentials) the provider is left alone for `cooldown`: sends
 * are deferred without an attempt instead of piling onto a provider that
 * fails everything. When the cooldown ends, one send goes through as a
 * probe; its success closes the circuit, its failure opens it again. Answers
 * that say nothing about the provider's health (a 400 for one bad number, a
 * 429) are neither. */
#ifndef PREGON_BREAKER_H
#define PREGON_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

struct breaker {
	int threshold;
	int64_t cooldown_ms;
	int failures;		/* in a row */
	enum breaker_state state;
	uint64_t open_until;	/* ms, same clock as the caller's now */
	bool probe_out;
	uint64_t opened;	/* times it opened */
};

void breaker_init(struct breaker *b, int threshold, int64_t cooldown_ms);

/* May a send go now? If not, *retry_in_ms says when to try again. A
 * half-open circuit lets exactly one probe through. */
bool breaker_allow(struct breaker *b, uint64_t now, int64_t *retry_in_ms);

/* The outcome of a send breaker_allow let through. */
void breaker_success(struct breaker *b);
void breaker_failure(struct breaker *b, uint64_t now);

/* Neither: the answer says nothing about the provider's health; a probe's
 * turn passes to the next send. */
void breaker_neutral(struct breaker *b);

const char *breaker_state_name(enum breaker_state s);

#endif
