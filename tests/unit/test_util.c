/* test_util.c: the growable buffer and container_of. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void buffer_grows_and_stays_nul_terminated(void **state)
{
	struct buf b = { 0 };
	char big[5000];

	(void)state;
	assert_null(b.p);
	assert_int_equal(buf_add(&b, "abc", 3), 0);
	assert_string_equal(b.p, "abc");
	assert_int_equal(b.len, 3);
	memset(big, 'x', sizeof(big));
	assert_int_equal(buf_add(&b, big, sizeof(big)), 0);
	assert_int_equal(b.len, 3 + sizeof(big));
	assert_int_equal(b.p[b.len], '\0');
	assert_true(b.cap > b.len);
	assert_int_equal(b.err, 0);
	buf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
}

static void empty_append_still_gives_a_string(void **state)
{
	struct buf b = { 0 };

	(void)state;
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	buf_free(&b);
}

static void formatted_text_is_appended_whole_however_long(void **state)
{
	struct buf b = { 0 };
	char long_arg[1000];

	(void)state;
	memset(long_arg, 'y', sizeof(long_arg) - 1);
	long_arg[sizeof(long_arg) - 1] = '\0';
	assert_int_equal(buf_addf(&b, "n=%d;", 42), 0);
	assert_int_equal(buf_addf(&b, "[%s]", long_arg), 0);
	assert_int_equal(b.len, 5 + 2 + 999);
	assert_int_equal(strncmp(b.p, "n=42;[yyy", 9), 0);
	assert_int_equal(b.p[b.len - 1], ']');
	buf_free(&b);
}

static void maximum_refuses_the_append_that_would_pass_it(void **state)
{
	struct buf b = { .max = 10 };

	(void)state;
	assert_int_equal(buf_add(&b, "0123456789", 10), 0);	/* exactly max */
	assert_true(b.cap <= 11);
	assert_int_equal(buf_add(&b, "x", 1), -E2BIG);
	assert_int_equal(b.len, 10);				/* unchanged */
	assert_string_equal(b.p, "0123456789");
	assert_int_equal(b.err, -E2BIG);
	assert_int_equal(buf_addf(&b, "%d", 1), -E2BIG);
	assert_int_equal(buf_reserve(&b, 0), 0);
	buf_free(&b);
	assert_int_equal(b.max, 10);				/* kept */
	assert_int_equal(b.err, 0);
	assert_int_equal(buf_addf(&b, "%s", "0123456789A"), -E2BIG);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void reserve_then_extend_writes_in_place(void **state)
{
	struct buf b = { 0 };

	(void)state;
	assert_int_equal(buf_add(&b, "ab", 2), 0);
	assert_int_equal(buf_reserve(&b, 3), 0);
	memcpy(b.p + b.len, "cde", 3);
	buf_extend(&b, 3);
	assert_string_equal(b.p, "abcde");
	/* Bytes may be NULs of their own (separators). */
	assert_int_equal(buf_add(&b, "", 1), 0);
	assert_int_equal(b.len, 6);
	assert_int_equal(b.p[5], '\0');
	buf_free(&b);
}

static void take_hands_over_the_bytes(void **state)
{
	struct buf b = { .max = 100 };
	char *p;

	(void)state;
	assert_null(buf_take(&b));
	assert_int_equal(buf_adds(&b, "line\n"), 0);
	p = buf_take(&b);
	assert_string_equal(p, "line\n");
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 100);
	free(p);
	assert_int_equal(buf_adds(&b, "again"), 0);
	assert_string_equal(b.p, "again");
	buf_free(&b);
}

struct holder {
	int before;
	double member;
	char after;
};

static void container_of_finds_the_holder(void **state)
{
	struct holder h;
	double *m = &h.member;

	(void)state;
	assert_ptr_equal(container_of(m, struct holder, member), &h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buffer_grows_and_stays_nul_terminated),
		cmocka_unit_test(empty_append_still_gives_a_string),
		cmocka_unit_test(formatted_text_is_appended_whole_however_long),
		cmocka_unit_test(maximum_refuses_the_append_that_would_pass_it),
		cmocka_unit_test(reserve_then_extend_writes_in_place),
		cmocka_unit_test(take_hands_over_the_bytes),
		cmocka_unit_test(container_of_finds_the_holder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
