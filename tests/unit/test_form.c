/* test_form.c: application/x-www-form-urlencoded decoding (form.h), as
 * Twilio posts it to the SMS webhooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

static int parse(struct form *f, const char *in, const struct form_limits *lim, struct err *err)
{
	return form_parse(f, in, strlen(in), lim, err);
}

/* in must fail with an error containing each of the needles, and never
 * quote secret (a value). */
static void expect_reject(const char *in, const struct form_limits *lim, const char *needle1,
			  const char *needle2, const char *secret)
{
	struct form f;
	struct err err = { "" };

	if (parse(&f, in, lim, &err) != -1)
		fail_msg("accepted \"%s\"", in);
	if (strncmp(err.msg, "form: ", 6) != 0)
		fail_msg("\"%s\": error \"%s\" does not start with \"form: \"", in, err.msg);
	if (needle1 != NULL && strstr(err.msg, needle1) == NULL)
		fail_msg("\"%s\": error \"%s\" lacks \"%s\"", in, err.msg, needle1);
	if (needle2 != NULL && strstr(err.msg, needle2) == NULL)
		fail_msg("\"%s\": error \"%s\" lacks \"%s\"", in, err.msg, needle2);
	if (secret != NULL && strstr(err.msg, secret) != NULL)
		fail_msg("\"%s\": error \"%s\" quotes the value", in, err.msg);
	/* left empty and safe to free */
	assert_int_equal(f.n, 0);
	assert_null(f.pairs);
	form_free(&f);
}

static void form_decodes_plus_and_percent_escapes(void **state)
{
	struct form f;
	struct err err = { "" };

	(void)state;
	assert_int_equal(parse(&f, "Body=Hola+mundo%21&From=%2B13235550100&To=%2b1%2F2&Es=ma%C3%B1ana",
			       NULL, &err), 0);
	assert_int_equal(f.n, 4);
	assert_string_equal(form_get(&f, "Body"), "Hola mundo!");
	assert_string_equal(form_get(&f, "From"), "+13235550100");
	assert_string_equal(form_get(&f, "To"), "+1/2");
	assert_string_equal(form_get(&f, "Es"), "ma\xc3\xb1" "ana");
	assert_int_equal(f.pairs[0].value_len, 11);
	assert_int_equal(f.pairs[0].name_len, 4);
	/* names are decoded too */
	form_free(&f);
	assert_int_equal(parse(&f, "a+b%3D=c%3Dd", NULL, &err), 0);
	assert_string_equal(form_get(&f, "a b="), "c=d");
	form_free(&f);
}

static void form_skips_empty_segments_and_reads_pairs_without_equals(void **state)
{
	struct form f;
	struct err err = { "" };

	(void)state;
	assert_int_equal(parse(&f, "&&a=1&&flag&b=&=v&", NULL, &err), 0);
	assert_int_equal(f.n, 4);
	assert_string_equal(f.pairs[0].name, "a");
	assert_string_equal(form_get(&f, "flag"), "");
	assert_int_equal(f.pairs[1].value_len, 0);
	assert_string_equal(form_get(&f, "b"), "");
	assert_string_equal(form_get(&f, ""), "v");
	assert_string_equal(form_get(&f, "a"), "1");
	assert_null(form_get(&f, "c"));
	/* the first '=' splits; later ones are in the value */
	form_free(&f);
	assert_int_equal(parse(&f, "k=a=b", NULL, &err), 0);
	assert_string_equal(form_get(&f, "k"), "a=b");
	form_free(&f);
	/* nothing at all */
	assert_int_equal(form_parse(&f, NULL, 0, NULL, &err), 0);
	assert_int_equal(f.n, 0);
	assert_null(form_get(&f, "a"));
	form_free(&f);
	assert_int_equal(parse(&f, "&&&", NULL, &err), 0);
	assert_int_equal(f.n, 0);
	form_free(&f);
}

static void form_rejects_malformed_escapes_naming_the_pair(void **state)
{
	(void)state;
	expect_reject("a=1&Body=50%+off", NULL, "pair 2 (Body)", "percent escape", "off");
	expect_reject("a=1&b=2&Body=%4", NULL, "pair 3 (Body)", "value", NULL);
	expect_reject("Body=%zz", NULL, "pair 1 (Body)", "percent escape", NULL);
	expect_reject("x=1&na%g1me=v", NULL, "pair 2", "name", NULL);
	expect_reject("%", NULL, "pair 1", "name", NULL);
	/* names that are not plain ASCII are not echoed */
	expect_reject("x%0A%1B=%", NULL, "pair 1:", "value", "\x1b");
}

static void form_enforces_limits(void **state)
{
	struct form_limits lim;
	struct form f;
	struct err err = { "" };
	char big[64];

	(void)state;
	form_limits_default(&lim);
	assert_int_equal(lim.max_input, FORM_DEFAULT_MAX_INPUT);
	assert_int_equal(lim.max_pairs, 256);
	assert_int_equal(lim.max_name, 256);
	assert_int_equal(lim.max_value, 64 * 1024);

	lim.max_input = 10;
	assert_int_equal(parse(&f, "abcde=1234", &lim, &err), 0);	/* exactly 10 */
	form_free(&f);
	expect_reject("abcde=12345", &lim, "longer than 10 bytes", NULL, "12345");

	form_limits_default(&lim);
	lim.max_pairs = 3;
	assert_int_equal(parse(&f, "a=1&&b=2&c=3&", &lim, &err), 0);	/* empties do not count */
	form_free(&f);
	expect_reject("a=1&b=2&c=3&d=4", &lim, "more than 3 pairs", NULL, NULL);

	form_limits_default(&lim);
	lim.max_name = 4;
	assert_int_equal(parse(&f, "ab%41B=1", &lim, &err), 0);	/* 4 decoded bytes */
	form_free(&f);
	expect_reject("x=1&abcde=1", &lim, "pair 2", "name longer than 4", NULL);

	form_limits_default(&lim);
	lim.max_value = 5;
	assert_int_equal(parse(&f, "To=%2B1234", &lim, &err), 0);	/* decoded: 5 bytes */
	assert_string_equal(form_get(&f, "To"), "+1234");
	form_free(&f);
	snprintf(big, sizeof(big), "To=%s", "+13235550100");
	expect_reject(big, &lim, "pair 1 (To)", "value longer than 5", "3235550100");
}

static void form_rejects_invalid_utf8_and_nul(void **state)
{
	(void)state;
	expect_reject("Body=%00", NULL, "pair 1 (Body)", "NUL", NULL);
	expect_reject("a%00b=1", NULL, "pair 1", "NUL", NULL);
	expect_reject("Body=%C3", NULL, "pair 1 (Body)", "UTF-8", NULL);	/* truncated */
	expect_reject("Body=%C0%AF", NULL, "UTF-8", NULL, NULL);	/* overlong '/' */
	expect_reject("Body=%E0%80%AF", NULL, "UTF-8", NULL, NULL);	/* overlong, 3 bytes */
	expect_reject("Body=%ED%A0%80", NULL, "UTF-8", NULL, NULL);	/* surrogate */
	expect_reject("Body=%F4%90%80%80", NULL, "UTF-8", NULL, NULL);	/* over U+10FFFF */
	expect_reject("Body=%FF", NULL, "UTF-8", NULL, NULL);
	expect_reject("Body=\x80", NULL, "UTF-8", NULL, NULL);	/* raw, not escaped */
	expect_reject("%FF=1", NULL, "pair 1", "name is not valid UTF-8", NULL);
}

static void form_accepts_valid_utf8_edges(void **state)
{
	struct form f;
	struct err err = { "" };

	(void)state;
	/* U+07FF, U+FFFD, U+1F600, U+10FFFF */
	assert_int_equal(parse(&f, "a=%DF%BF&b=%EF%BF%BD&c=%F0%9F%98%80&d=%F4%8F%BF%BF",
			       NULL, &err), 0);
	assert_int_equal(f.n, 4);
	assert_int_equal(f.pairs[2].value_len, 4);
	form_free(&f);
}

static void form_keeps_repeated_names_apart(void **state)
{
	struct form f;
	struct err err = { "" };

	(void)state;
	assert_int_equal(parse(&f, "MediaUrl=u1&NumMedia=2&MediaUrl=u2&MediaUrl=u1", NULL, &err), 0);
	assert_int_equal(form_count(&f, "MediaUrl"), 3);
	assert_int_equal(form_count(&f, "NumMedia"), 1);
	assert_int_equal(form_count(&f, "Nope"), 0);
	assert_string_equal(form_get(&f, "MediaUrl"), "u1");
	assert_string_equal(form_get_nth(&f, "MediaUrl", 0), "u1");
	assert_string_equal(form_get_nth(&f, "MediaUrl", 1), "u2");
	assert_string_equal(form_get_nth(&f, "MediaUrl", 2), "u1");
	assert_null(form_get_nth(&f, "MediaUrl", 3));
	assert_null(form_get_nth(&f, "Nope", 0));
	/* case-sensitive, as Twilio's fields are */
	assert_null(form_get(&f, "mediaurl"));
	form_free(&f);
}

static void form_sorted_orders_by_name_then_value_and_drops_exact_duplicates(void **state)
{
	struct form f;
	struct err err = { "" };
	const struct form_pair *const *s;
	size_t n;
	static const char *const want[][2] = {
		{ "A", "" }, { "A", "x" }, { "Ab", "" }, { "B", "1" }, { "B", "10" }, { "B", "2" },
		{ "a", "z" }, { "\xc3\xa9", "1" },
	};
	size_t i;

	(void)state;
	assert_int_equal(parse(&f, "B=2&a=z&B=10&%C3%A9=1&A=x&Ab&B=1&A&B=2&A=x", NULL, &err), 0);
	assert_int_equal(f.n, 10);
	s = form_sorted(&f, &n);
	assert_int_equal(n, 8);
	for (i = 0; i < n; i++) {
		if (strcmp(s[i]->name, want[i][0]) != 0 || strcmp(s[i]->value, want[i][1]) != 0)
			fail_msg("sorted[%zu] = %s=%s, want %s=%s", i, s[i]->name, s[i]->value,
				 want[i][0], want[i][1]);
	}
	/* the pairs themselves keep their order and their duplicates */
	assert_string_equal(f.pairs[0].name, "B");
	assert_string_equal(f.pairs[9].value, "x");
	form_free(&f);

	/* a name that is a prefix sorts first; values compare as bytes */
	assert_int_equal(parse(&f, "To=b&T=a&To=B", NULL, &err), 0);
	s = form_sorted(&f, &n);
	assert_int_equal(n, 3);
	assert_string_equal(s[0]->name, "T");
	assert_string_equal(s[1]->value, "B");
	assert_string_equal(s[2]->value, "b");
	form_free(&f);

	assert_int_equal(parse(&f, "", NULL, &err), 0);
	s = form_sorted(&f, &n);
	assert_int_equal(n, 0);
	(void)s;
	form_free(&f);
}

static void form_parses_a_twilio_status_callback(void **state)
{
	static const char body[] =
		"SmsSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&SmsStatus=delivered"
		"&MessageStatus=delivered&To=%2B13235550100&MessageSid=SM1f0e8ae6ade43cb3c0ce4525424e404f"
		"&AccountSid=AC7e48d4a5ae96a49fd2ab6fd4b7a49ed0&From=%2B13235550199&ApiVersion=2010-04-01";
	struct form f;
	struct err err = { "" };

	(void)state;
	assert_int_equal(parse(&f, body, NULL, &err), 0);
	assert_int_equal(f.n, 8);
	assert_string_equal(form_get(&f, "MessageStatus"), "delivered");
	assert_string_equal(form_get(&f, "To"), "+13235550100");
	assert_string_equal(form_get(&f, "MessageSid"), "SM1f0e8ae6ade43cb3c0ce4525424e404f");
	assert_null(form_get(&f, "ErrorCode"));
	form_free(&f);
}

static void form_unescape_works_in_place(void **state)
{
	char buf[64];

	(void)state;
	strcpy(buf, "a%20b+c%2Bd");
	assert_int_equal(form_unescape(buf, buf, strlen(buf), 1), 7);
	assert_memory_equal(buf, "a b c+d", 7);
	strcpy(buf, "a%20b+c");
	assert_int_equal(form_unescape(buf, buf, strlen(buf), 0), 5);
	assert_memory_equal(buf, "a b+c", 5);	/* paths keep '+' */
	strcpy(buf, "%41%4a%4A");
	assert_int_equal(form_unescape(buf, buf, strlen(buf), 1), 3);
	assert_memory_equal(buf, "AJJ", 3);
	assert_int_equal(form_unescape(buf, "", 0, 1), 0);
	assert_int_equal(form_unescape(buf, "ab%", 3, 1), -1);
	assert_int_equal(form_unescape(buf, "ab%4", 3 + 1, 1), -1);
	assert_int_equal(form_unescape(buf, "%g0", 3, 1), -1);
	assert_int_equal(form_unescape(buf, "%0g", 3, 1), -1);
	/* the length bounds the input: a '%' at the end of it is short */
	assert_int_equal(form_unescape(buf, "%41", 2, 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(form_decodes_plus_and_percent_escapes),
		cmocka_unit_test(form_skips_empty_segments_and_reads_pairs_without_equals),
		cmocka_unit_test(form_rejects_malformed_escapes_naming_the_pair),
		cmocka_unit_test(form_enforces_limits),
		cmocka_unit_test(form_rejects_invalid_utf8_and_nul),
		cmocka_unit_test(form_accepts_valid_utf8_edges),
		cmocka_unit_test(form_keeps_repeated_names_apart),
		cmocka_unit_test(form_sorted_orders_by_name_then_value_and_drops_exact_duplicates),
		cmocka_unit_test(form_parses_a_twilio_status_callback),
		cmocka_unit_test(form_unescape_works_in_place),
	};

	return cmocka_run_group_tests_name("form", tests, NULL, NULL);
}
