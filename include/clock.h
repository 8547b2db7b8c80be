/* clock.h: the wall clock pregond schedules by, and the test clock.
 *
 * Every decision that compares a time from outside (a court date, a send_at,
 * quiet hours, an expiry) with "now" asks clock_now_ms(). In production it
 * is CLOCK_REALTIME and the Redis scripts use Redis' own TIME, the one clock
 * all instances share. With `[schedule] test_clock = yes` (tests only) the
 * clock is CLOCK_REALTIME plus an offset that pregond reads from the Redis
 * key <prefix>test:clock (milliseconds, polled), and every script call is
 * given clock_now_ms() instead of TIME: a test moves days ahead in a second,
 * and two instances on one Redis move together. Loop thread only. */
#ifndef PREGON_CLOCK_H
#define PREGON_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Unix milliseconds: the real time plus the test offset (0 in production). */
int64_t clock_now_ms(void);

/* Turns the test clock on (the scripts are then handed clock_now_ms()). */
void clock_test_enable(void);
bool clock_test_enabled(void);
void clock_test_set_offset(int64_t ms);

#endif
