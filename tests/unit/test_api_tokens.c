/* test_api_tokens.c: the API's tokens file (api_tokens.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "api_tokens.h"

#define T1 "3f9c0a1b2c3d4e5f60718293a4b5c6d7"
#define T2 "77ab0000111122223333444455556666"
#define T3 "c0de9999888877776666555544443333"

static void tokens_have_their_roles_and_others_none(void **state)
{
	const char *text = "# pregon API tokens\n\n" T1 "\n  " T2 " admin  \n" T3 "\tread\r\n";
	struct api_tokens *t;
	struct err err = { "" };

	(void)state;
	assert_int_equal(api_tokens_parse(text, strlen(text), &t, &err), 0);
	assert_int_equal(api_tokens_count(t), 3);
	assert_int_equal(api_tokens_check(t, T1, strlen(T1)), API_ROLE_STANDARD);
	assert_int_equal(api_tokens_check(t, T2, strlen(T2)), API_ROLE_ADMIN);
	assert_int_equal(api_tokens_check(t, T3, strlen(T3)), API_ROLE_READ);
	/* A prefix, a longer one, another, nothing. */
	assert_int_equal(api_tokens_check(t, T1, strlen(T1) - 1), API_ROLE_NONE);
	assert_int_equal(api_tokens_check(t, T1 "x", strlen(T1) + 1), API_ROLE_NONE);
	assert_int_equal(api_tokens_check(t, "0000000000000000", 16), API_ROLE_NONE);
	assert_int_equal(api_tokens_check(t, "", 0), API_ROLE_NONE);
	assert_int_equal(api_tokens_check(NULL, T1, strlen(T1)), API_ROLE_NONE);
	api_tokens_free(t);
}

static void bad_lines_name_the_line_and_never_the_token(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ T1 " writer\n", "line 1: unknown role \"writer\"" },
		{ "\n" T1 " admin extra\n", "line 2: a token and at most one role" },
		{ "short\n", "line 1: a token has 16 to 256 characters" },
		{ "3f9c0a1b2c3d4e5f\x01" "0718293a4b5c6d7\n", "line 1: a token is printable ASCII" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_tokens *t = NULL;
		struct err err = { "" };

		assert_int_equal(api_tokens_parse(cases[i].text, strlen(cases[i].text), &t, &err), -1);
		assert_null(t);
		if (strstr(err.msg, cases[i].want) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err.msg, cases[i].want);
		assert_null(strstr(err.msg, "3f9c"));
	}
}

static void an_empty_file_is_an_empty_set(void **state)
{
	struct api_tokens *t;
	struct err err = { "" };

	(void)state;
	assert_int_equal(api_tokens_parse("# none yet\n", 11, &t, &err), 0);
	assert_int_equal(api_tokens_count(t), 0);
	assert_int_equal(api_tokens_check(t, T1, strlen(T1)), API_ROLE_NONE);
	api_tokens_free(t);
}

static void a_missing_file_is_named(void **state)
{
	struct api_tokens *t;
	struct err err = { "" };

	(void)state;
	assert_int_equal(api_tokens_load("/nonexistent/pregon-tokens", &t, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/pregon-tokens: No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tokens_have_their_roles_and_others_none),
		cmocka_unit_test(bad_lines_name_the_line_and_never_the_token),
		cmocka_unit_test(an_empty_file_is_an_empty_set),
		cmocka_unit_test(a_missing_file_is_named),
	};

	return cmocka_run_group_tests_name("api_tokens", tests, NULL, NULL);
}
