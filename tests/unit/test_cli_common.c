/* test_cli_common.c: the pure helpers of the pregon CLI (cli.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "cli.h"

static void cli_formats_ms_as_iso_utc_with_millis(void **state)
{
	char out[40];

	(void)state;
	cli_format_ms(0, out, sizeof(out));
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
	cli_format_ms(1795893791250LL, out, sizeof(out));
	assert_string_equal(out, "2026-11-28T19:23:11.250Z");
	cli_format_ms(-1, out, sizeof(out));
	assert_string_equal(out, "-");
}

static void cli_parse_ll_takes_only_whole_decimals_in_range(void **state)
{
	long long v = 0;

	(void)state;
	assert_int_equal(cli_parse_ll("42", 1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(cli_parse_ll("0", 1, 100, &v), -1);
	assert_int_equal(cli_parse_ll("101", 1, 100, &v), -1);
	assert_int_equal(cli_parse_ll(" 5", 1, 100, &v), -1);
	assert_int_equal(cli_parse_ll("+5", 1, 100, &v), -1);
	assert_int_equal(cli_parse_ll("-5", -10, 100, &v), -1);	/* no signs at all */
	assert_int_equal(cli_parse_ll("5x", 1, 100, &v), -1);
	assert_int_equal(cli_parse_ll("", 1, 100, &v), -1);
	assert_int_equal(cli_parse_ll("99999999999999999999", 0, LLONG_MAX, &v), -1);
}

static void cli_stream_id_valid_accepts_what_redis_parses(void **state)
{
	(void)state;
	assert_true(cli_stream_id_valid("0"));
	assert_true(cli_stream_id_valid("0-0"));
	assert_true(cli_stream_id_valid("1700000000000-12"));
	assert_true(cli_stream_id_valid("18446744073709551615-18446744073709551615"));
	assert_false(cli_stream_id_valid("18446744073709551616-0"));
	assert_false(cli_stream_id_valid(""));
	assert_false(cli_stream_id_valid("-"));
	assert_false(cli_stream_id_valid("1-"));
	assert_false(cli_stream_id_valid("-1"));
	assert_false(cli_stream_id_valid("1-2-3"));
	assert_false(cli_stream_id_valid("1-x"));
	assert_false(cli_stream_id_valid("$"));
	assert_false(cli_stream_id_valid("1 2"));
}

static void cli_stream_id_next_is_the_smallest_later_id(void **state)
{
	char out[CLI_STREAM_ID_MAX];

	(void)state;
	cli_stream_id_next("5-3", out, sizeof(out));
	assert_string_equal(out, "5-4");
	cli_stream_id_next("5", out, sizeof(out));
	assert_string_equal(out, "5-1");
	cli_stream_id_next("5-18446744073709551615", out, sizeof(out));
	assert_string_equal(out, "6-0");
}

static void cli_clean_line_redacts_addresses_and_control_characters(void **state)
{
	char out[256];
	const char *in = "recipient.phone: not an E.164 number: \"3235550100\"\nnext";

	(void)state;
	cli_clean_line(in, strlen(in), out, sizeof(out));
	assert_null(strstr(out, "3235550100"));
	assert_null(strchr(out, '\n'));
	assert_non_null(strstr(out, "recipient.phone: not an E.164 number"));
	in = "bad \"ana@example.org\"";
	cli_clean_line(in, strlen(in), out, sizeof(out));
	assert_null(strstr(out, "ana@example.org"));
	/* Short digit runs are not phone numbers: the reason stays useful. */
	in = "recipient.phone: not an E.164 number: \"323-555\"";
	cli_clean_line(in, strlen(in), out, sizeof(out));
	assert_string_equal(out, in);
}

static void cli_clean_line_truncates_to_the_buffer(void **state)
{
	char out[8];

	(void)state;
	cli_clean_line("abcdefghijkl", 12, out, sizeof(out));
	assert_string_equal(out, "abcdefg");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cli_formats_ms_as_iso_utc_with_millis),
		cmocka_unit_test(cli_parse_ll_takes_only_whole_decimals_in_range),
		cmocka_unit_test(cli_stream_id_valid_accepts_what_redis_parses),
		cmocka_unit_test(cli_stream_id_next_is_the_smallest_later_id),
		cmocka_unit_test(cli_clean_line_redacts_addresses_and_control_characters),
		cmocka_unit_test(cli_clean_line_truncates_to_the_buffer),
	};

	return cmocka_run_group_tests_name("cli_common", tests, NULL, NULL);
}
