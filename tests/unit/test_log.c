/* Unit tests for log.c's redactor: no phone number or email in a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

static void check(const char *in, const char *want)
{
	char buf[256];

	strncpy(buf, in, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	log_redact(buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void phone_numbers_are_redacted(void **state)
{
	(void)state;
	check("to=+13235550100 ok", "to=[redacted] ok");
	check("call (323) 555-0100 now", "call [redacted] now");
	check("+1 (323) 555-0100", "[redacted]");
	check("number 323-555-0100", "number [redacted]");
	check("x+13235550100", "x[redacted]");
}

static void emails_are_redacted(void **state)
{
	(void)state;
	check("to ana.b+x@example.org, ok", "to [redacted], ok");
	check("a@b", "[redacted]");
}

static void ids_counts_and_times_survive(void **state)
{
	(void)state;
	check("msg=m1234567 job=alert-2026 attempt=3", "msg=m1234567 job=alert-2026 attempt=3");
	check("msg=m88 http=429 code=21610", "msg=m88 http=429 code=21610");
	check("stats: sent=1_234_567 held=64", "stats: sent=1_234_567 held=64");
	check("2026-11-23T09:34:34.149Z", "2026-11-23T09:34:34.149Z");
}

static void short_buffer_is_blanked_not_overflowed(void **state)
{
	char buf[14] = "+13235550100";

	(void)state;
	log_redact(buf, sizeof(buf));
	assert_null(strstr(buf, "3235550100"));
}

/* Counts in log lines must not look like phone numbers to the redactor. */
static void counts_are_grouped_by_three(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(log_count(0, buf), "0");
	assert_string_equal(log_count(999, buf), "999");
	assert_string_equal(log_count(1000, buf), "1_000");
	assert_string_equal(log_count(13235550100ULL, buf), "13_235_550_100");
	assert_string_equal(log_count(UINT64_MAX, buf), "18_446_744_073_709_551_615");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(phone_numbers_are_redacted),
		cmocka_unit_test(emails_are_redacted),
		cmocka_unit_test(ids_counts_and_times_survive),
		cmocka_unit_test(short_buffer_is_blanked_not_overflowed),
		cmocka_unit_test(counts_are_grouped_by_three),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
