/* test_cli_rowerr.c: bad import rows grouped by reason (cli_rowerr.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_rowerr.h"

/* What rowerrs_print writes, as a malloc'ed string. */
static char *printed(const struct rowerrs *re, bool show_values)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	rowerrs_print(re, f, show_values);
	fclose(f);
	return text;
}

static void one_row_keeps_the_line_form_and_many_rows_are_counted(void **state)
{
	static struct rowerrs re;
	char *text;

	(void)state;
	memset(&re, 0, sizeof(re));
	for (long line = 2; line < 50002; line++)
		rowerrs_add(&re, "phone: not an E.164 number", line, "323 555", 7);
	rowerrs_add(&re, "id: missing", 50002, NULL, 0);
	text = printed(&re, false);
	assert_string_equal(text, "phone: not an E.164 number: 50000 rows, lines 2, 3, 4, 5, 6 "
			    "and 49995 more\nline 50002: id: missing\n");
	free(text);
	text = printed(&re, true);
	assert_non_null(strstr(text, "lines 2 \"323 555\", 3 \"323 555\""));
	free(text);
	assert_int_equal(re.total, 50001);
}

static void reasons_past_the_bound_are_counted_together(void **state)
{
	static struct rowerrs re;
	char reason[32], *text;

	(void)state;
	memset(&re, 0, sizeof(re));
	for (int i = 0; i < ROWERR_GROUPS + 10; i++) {
		snprintf(reason, sizeof(reason), "lang: reason %d", i);
		rowerrs_add(&re, reason, i + 2, NULL, 0);
	}
	text = printed(&re, false);
	assert_non_null(strstr(text, "line 2: lang: reason 0\n"));
	assert_null(strstr(text, "reason 32"));
	assert_non_null(strstr(text, "other reasons: 10 rows, lines 34, 35, 36, 37, 38 and 5 more\n"));
	free(text);
}

static void values_are_cut_and_kept_on_one_line(void **state)
{
	static struct rowerrs re;
	char long_value[200], *text;

	(void)state;
	memset(&re, 0, sizeof(re));
	memset(long_value, 'x', sizeof(long_value));
	memcpy(long_value + ROWERR_VALUE_MAX - 1, "\xc3\xa9", 2);	/* é across the cut */
	rowerrs_add(&re, "name: r", 2, long_value, sizeof(long_value));
	rowerrs_add(&re, "tz: r", 3, "a\nb\"c", 5);
	text = printed(&re, true);
	assert_non_null(strstr(text, "line 3: tz: r (got \"a?b?c\")\n"));
	/* ROWERR_VALUE_MAX - 1 x's, the é dropped whole, then "..." */
	assert_non_null(strstr(text, "xxx...\")\n"));
	assert_null(strstr(text, "\xc3"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_row_keeps_the_line_form_and_many_rows_are_counted),
		cmocka_unit_test(reasons_past_the_bound_are_counted_together),
		cmocka_unit_test(values_are_cut_and_kept_on_one_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
