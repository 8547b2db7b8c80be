/* breaker.c: a circuit breaker per provider (see breaker.h). */
#include "breaker.h"

void breaker_init(struct breaker *b, int threshold, int64_t cooldown_ms)
{
	*b = (struct breaker){ .threshold = threshold > 0 ? threshold : 1,
			       .cooldown_ms = cooldown_ms > 0 ? cooldown_ms : 1 };
}

bool breaker_allow(struct breaker *b, uint64_t now, int64_t *retry_in_ms)
{
	switch (b->state) {
	case BREAKER_CLOSED:
		return true;
	case BREAKER_OPEN:
		if (now < b->open_until) {
			*retry_in_ms = (int64_t)(b->open_until - now);
			return false;
		}
		b->state = BREAKER_HALF_OPEN;
		b->probe_out = true;
		return true;
	case BREAKER_HALF_OPEN:
		if (!b->probe_out) {
			b->probe_out = true;
			return true;
		}
		/* Wait for the probe; it answers within a request timeout. */
		*retry_in_ms = b->cooldown_ms < 1000 ? b->cooldown_ms : 1000;
		return false;
	}
	return true;
}

void breaker_success(struct breaker *b)
{
	b->failures = 0;
	b->state = BREAKER_CLOSED;
	b->probe_out = false;
}

void breaker_failure(struct breaker *b, uint64_t now)
{
	b->failures++;
	if (b->state == BREAKER_HALF_OPEN || b->failures >= b->threshold) {
		if (b->state != BREAKER_OPEN)
			b->opened++;
		b->state = BREAKER_OPEN;
		b->open_until = now + (uint64_t)b->cooldown_ms;
		b->probe_out = false;
	}
}

void breaker_neutral(struct breaker *b)
{
	if (b->state == BREAKER_HALF_OPEN)
		b->probe_out = false;
}

const char *breaker_state_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED:
		return "closed";
	case BREAKER_OPEN:
		return "open";
	case BREAKER_HALF_OPEN:
		return "half-open";
	}
	return "?";
}
