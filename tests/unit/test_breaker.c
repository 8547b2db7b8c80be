/* test_breaker.c: the circuit breaker's states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "breaker.h"

static void test_opens_after_threshold_failures_in_a_row(void **state)
{
	struct breaker b;
	int64_t wait = 0;

	(void)state;
	breaker_init(&b, 3, 1000);
	breaker_failure(&b, 0);
	breaker_failure(&b, 0);
	breaker_success(&b);		/* the run is broken */
	breaker_failure(&b, 10);
	breaker_failure(&b, 10);
	assert_true(breaker_allow(&b, 10, &wait));
	breaker_failure(&b, 10);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_false(breaker_allow(&b, 500, &wait));
	assert_int_equal(wait, 510);
	assert_int_equal(b.opened, 1);
}

static void test_one_probe_after_cooldown_then_closes_on_success(void **state)
{
	struct breaker b;
	int64_t wait = 0;

	(void)state;
	breaker_init(&b, 1, 100);
	breaker_failure(&b, 0);
	assert_false(breaker_allow(&b, 99, &wait));
	assert_true(breaker_allow(&b, 100, &wait));	/* the probe */
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_false(breaker_allow(&b, 101, &wait));	/* only one */
	assert_true(wait > 0);
	breaker_success(&b);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_true(breaker_allow(&b, 102, &wait));
	assert_true(breaker_allow(&b, 102, &wait));
}

static void test_failed_probe_opens_again(void **state)
{
	struct breaker b;
	int64_t wait = 0;

	(void)state;
	breaker_init(&b, 5, 100);
	for (int i = 0; i < 5; i++)
		breaker_failure(&b, 0);
	assert_true(breaker_allow(&b, 150, &wait));
	breaker_failure(&b, 150);			/* one failure is enough now */
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_false(breaker_allow(&b, 200, &wait));
	assert_int_equal(wait, 50);
	assert_int_equal(b.opened, 2);
}

static void test_neutral_answer_passes_the_probe_on(void **state)
{
	struct breaker b;
	int64_t wait = 0;

	(void)state;
	breaker_init(&b, 1, 10);
	breaker_failure(&b, 0);
	assert_true(breaker_allow(&b, 10, &wait));
	breaker_neutral(&b);				/* a 400 for one number */
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_true(breaker_allow(&b, 11, &wait));	/* the next one probes */
	assert_string_equal(breaker_state_name(b.state), "half-open");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opens_after_threshold_failures_in_a_row),
		cmocka_unit_test(test_one_probe_after_cooldown_then_closes_on_success),
		cmocka_unit_test(test_failed_probe_opens_again),
		cmocka_unit_test(test_neutral_answer_passes_the_probe_on),
	};

	return cmocka_run_group_tests_name("breaker", tests, NULL, NULL);
}
