/* test_cli_phone.c: national formats into E.164 for contacts import
 * --default-country (cli_phone.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cli_phone.h"

static int norm(const char *cc, const char *in, char *out, struct err *err)
{
	return cli_phone_normalize(in, strlen(in), cli_phone_country(cc), out, 17, err);
}

static void us_national_formats_become_e164(void **state)
{
	static const char *const forms[] = {
		"(323) 555-0000", "323-555-0000", "323.555.0000", "3235550000", "1 323 555 0000",
		"1-323-555-0000", "+1 (323) 555-0000", " 323 555 0000 ",
	};
	char out[17];
	struct err err;

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		assert_int_equal(norm("US", forms[i], out, &err), 0);
		assert_string_equal(out, "+13235550000");
	}
	assert_int_equal(norm("us", "(213) 555-0111", out, &err), 0);
	assert_string_equal(out, "+12135550111");
}

static void us_wrong_lengths_and_typos_are_refused_without_digits(void **state)
{
	char out[17];
	struct err err;

	(void)state;
	assert_int_equal(norm("US", "555-0000", out, &err), -1);
	assert_string_equal(err.pub, "not a phone number in US national format: 7 digits, expected 10");
	assert_int_equal(norm("US", "(123) 555-0000", out, &err), -1);
	assert_non_null(strstr(err.pub, "area code and exchange start with 2 to 9"));
	assert_int_equal(norm("US", "323 555 0000 x12", out, &err), -1);
	assert_int_equal(norm("US", "2 323 555 0000", out, &err), -1);	/* 11 digits, no 1 */
	assert_null(strpbrk(err.pub, "3"));	/* nothing of the number itself */
	assert_int_equal(norm("US", "+1 323", out, &err), -1);
	assert_int_equal(norm("US", "", out, &err), -1);
}

static void other_countries_drop_their_trunk_prefix(void **state)
{
	char out[17];
	struct err err;

	(void)state;
	assert_int_equal(norm("MX", "55 1234 5678", out, &err), 0);
	assert_string_equal(out, "+525512345678");
	assert_int_equal(norm("KR", "010-1234-5678", out, &err), 0);
	assert_string_equal(out, "+821012345678");
	assert_int_equal(norm("PH", "0917 123 4567", out, &err), 0);
	assert_string_equal(out, "+639171234567");
	assert_int_equal(norm("GT", "5123 4567", out, &err), 0);
	assert_string_equal(out, "+50251234567");
	assert_int_equal(norm("VN", "091 234 5678", out, &err), 0);
	assert_string_equal(out, "+84912345678");
	assert_int_equal(norm("AM", "(010) 12 34 56", out, &err), 0);
	assert_string_equal(out, "+37410123456");
}

static void unknown_countries_are_not_guessed(void **state)
{
	(void)state;
	assert_null(cli_phone_country("XX"));
	assert_null(cli_phone_country("USA"));
	assert_null(cli_phone_country(NULL));
	assert_non_null(strstr(cli_phone_countries(), "US"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(us_national_formats_become_e164),
		cmocka_unit_test(us_wrong_lengths_and_typos_are_refused_without_digits),
		cmocka_unit_test(other_countries_drop_their_trunk_prefix),
		cmocka_unit_test(unknown_countries_are_not_guessed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
