/* test_dead_index.c: the names a dead letter is indexed by, so that
 * contact_delete can erase it (issue 12, finding 4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dead_index.h"

/* The names of raw, joined with spaces, in the order found. */
static char *names_of(const char *raw)
{
	static char out[4096];
	int too_many;
	json_t *arr = dead_index_names(raw, strlen(raw), &too_many);
	json_t *v;
	size_t i;

	assert_non_null(arr);
	assert_int_equal(too_many, 0);
	out[0] = '\0';
	json_array_foreach(arr, i, v) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, json_string_value(v));
	}
	json_decref(arr);
	return out;
}

static void a_parsed_job_is_indexed_by_its_peoples_ids_and_every_address_in_it(void **state)
{
	(void)state;
	assert_string_equal(
		names_of("{\"id\":\"job-1\",\"kind\":\"message\",\"recipient\":{\"id\":\"client-7\","
			 "\"phone\":\"+13235550100\",\"email\":\"Ana@Example.org\"},"
			 "\"body\":\"or call +1 (213) 555-0111.\"}"),
		"c:client-7 a:+13235550100 a:ana@example.org a:+12135550111");
	assert_string_equal(
		names_of("{\"id\":\"a\",\"kind\":\"action_alert\",\"audience\":{\"recipients\":["
			 "{\"id\":\"r1\",\"phone\":\"+13235550100\"},{\"id\":\"r2\",\"signal\":\"+13235550100\"}]}}"),
		"c:r1 c:r2 a:+13235550100");
	assert_string_equal(names_of("{\"id\":\"d\",\"kind\":\"contact_delete\",\"contact_id\":\"p9\"}"),
			    "c:p9");
	assert_string_equal(names_of("{\"id\":\"u\",\"kind\":\"contact_upsert\",\"contact\":"
				     "{\"id\":\"p3\",\"email\":\"bo@example.org\"}}"),
			    "c:p3 a:bo@example.org");
}

/* Not JSON (a cut job, a typo): every "id" member counts, and addresses
 * are found by their shape wherever they are. */
static void text_that_is_not_json_is_scanned_for_ids_and_addresses(void **state)
{
	(void)state;
	assert_string_equal(names_of("{\"id\": \"job-2\", \"recipient\": {\"id\" : \"client-8\", "
				     "\"phone\": \"+13235550100\", \"email\": \"x@y.org\""),
			    "c:job-2 c:client-8 a:+13235550100 a:x@y.org");
	assert_string_equal(names_of("{\"contact_id\":\"p4\",,}"), "c:p4");
	/* Bytes no contact id or address has (found by fuzz_dead_index: one
	 * that is not UTF-8 made the whole index fail, and the job with it). */
	assert_string_equal(names_of("{\"id\": \"al\331\316\316\322\", \"contact_id\": \"p 5\", "
				     "\"id\": \"ok-1\""), "c:ok-1");
	/* Too few or too many digits, an '@' without a domain: not addresses. */
	assert_string_equal(names_of("+1234567 +1234567890123456 me@home"), "");
}

static void a_job_naming_more_than_the_index_takes_gives_no_names(void **state)
{
	size_t n = (DEAD_INDEX_MAX + 1) * 16;
	char *raw = malloc(n + 1);
	int too_many;
	size_t len = 0;

	(void)state;
	assert_non_null(raw);
	for (int i = 0; i <= DEAD_INDEX_MAX; i++)
		len += (size_t)snprintf(raw + len, n + 1 - len, "+1323%07d ", i);
	assert_null(dead_index_names(raw, len, &too_many));
	assert_int_equal(too_many, 1);
	free(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_parsed_job_is_indexed_by_its_peoples_ids_and_every_address_in_it),
		cmocka_unit_test(text_that_is_not_json_is_scanned_for_ids_and_addresses),
		cmocka_unit_test(a_job_naming_more_than_the_index_takes_gives_no_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
