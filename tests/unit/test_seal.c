/* test_seal.c: the tokens of unsubscribe and join links (seal.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "seal.h"

static const unsigned char key[SEAL_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const unsigned char other_key[SEAL_KEY_LEN] = "fedcba9876543210fedcba9876543210";

static void a_sealed_address_opens_with_the_same_key_and_purpose(void **state)
{
	char tok[SEAL_TOKEN_MAX + 1], plain[SEAL_PLAIN_MAX + 1];

	(void)state;
	assert_int_equal(seal_make(key, "unsubscribe", "ana@example.org", tok, sizeof(tok)), 0);
	/* Encrypted: the address cannot be read out of the link. */
	assert_null(strstr(tok, "example"));
	for (const char *p = tok; *p; p++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
	assert_int_equal(seal_open(key, "unsubscribe", tok, plain, sizeof(plain)), 0);
	assert_string_equal(plain, "ana@example.org");
}

static void two_seals_of_one_address_differ(void **state)
{
	char a[SEAL_TOKEN_MAX + 1], b[SEAL_TOKEN_MAX + 1];

	(void)state;
	assert_int_equal(seal_make(key, "unsubscribe", "ana@example.org", a, sizeof(a)), 0);
	assert_int_equal(seal_make(key, "unsubscribe", "ana@example.org", b, sizeof(b)), 0);
	assert_string_not_equal(a, b);	/* a fresh nonce each time */
}

static void another_key_purpose_or_a_changed_byte_is_refused(void **state)
{
	char tok[SEAL_TOKEN_MAX + 1], plain[SEAL_PLAIN_MAX + 1];
	size_t n;

	(void)state;
	assert_int_equal(seal_make(key, "unsubscribe", "ana@example.org", tok, sizeof(tok)), 0);
	assert_int_equal(seal_open(other_key, "unsubscribe", tok, plain, sizeof(plain)), -1);
	assert_int_equal(seal_open(key, "join", tok, plain, sizeof(plain)), -1);
	n = strlen(tok);
	for (size_t i = 0; i < n; i++) {
		char t[SEAL_TOKEN_MAX + 1];

		memcpy(t, tok, n + 1);
		t[i] = t[i] == 'A' ? 'B' : 'A';
		assert_int_equal(seal_open(key, "unsubscribe", t, plain, sizeof(plain)), -1);
	}
	tok[n - 3] = '\0';	/* truncated */
	assert_int_equal(seal_open(key, "unsubscribe", tok, plain, sizeof(plain)), -1);
	assert_int_equal(seal_open(key, "unsubscribe", "", plain, sizeof(plain)), -1);
	assert_int_equal(seal_open(key, "unsubscribe", "not a token!", plain, sizeof(plain)), -1);
}

static void long_inputs_are_bounded(void **state)
{
	char big[SEAL_PLAIN_MAX + 2], tok[SEAL_TOKEN_MAX + 1], plain[8];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(seal_make(key, "u", big, tok, sizeof(tok)), -1);
	big[SEAL_PLAIN_MAX] = '\0';
	assert_int_equal(seal_make(key, "u", big, tok, sizeof(tok)), 0);
	/* Opens only into room enough for it. */
	assert_int_equal(seal_open(key, "u", tok, plain, sizeof(plain)), -1);
	assert_int_equal(seal_make(key, "u", "x", tok, 10), -1);
}

static void random_tokens_have_their_shape_and_differ(void **state)
{
	char a[SEAL_RANDOM_LEN + 1], b[SEAL_RANDOM_LEN + 1];

	(void)state;
	assert_int_equal(seal_random(a, sizeof(a)), 0);
	assert_int_equal(seal_random(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), SEAL_RANDOM_LEN);
	assert_string_not_equal(a, b);
	assert_true(seal_random_shaped(a));
	assert_false(seal_random_shaped("short"));
	assert_false(seal_random_shaped("AAAAAAAAAAAAAAAAAAAAA/"));
	assert_false(seal_random_shaped("AAAAAAAAAAAAAAAAAAAAAAA"));
	assert_int_equal(seal_random(a, SEAL_RANDOM_LEN), -1);
}

static void base64url_round_trips_and_refuses_bad_text(void **state)
{
	unsigned char in[5] = { 0xfb, 0xff, 0x00, 0x10, 0x7f }, out[8];
	char enc[16];

	(void)state;
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t len = seal_b64url_encode(in, n, enc);

		assert_int_equal(seal_b64url_decode(enc, len, out, sizeof(out)), (long)n);
		assert_memory_equal(in, out, n);
	}
	assert_int_equal(seal_b64url_decode("A", 1, out, sizeof(out)), -1);
	assert_int_equal(seal_b64url_decode("AB+/", 4, out, sizeof(out)), -1);
	assert_int_equal(seal_b64url_decode("AQ", 2, out, sizeof(out)), 1);
	assert_int_equal(out[0], 1);
	assert_int_equal(seal_b64url_decode("AB", 2, out, sizeof(out)), -1);	/* stray bits */
	assert_int_equal(seal_b64url_decode("AAAAAAAA", 8, out, 5), -1);	/* no room */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_sealed_address_opens_with_the_same_key_and_purpose),
		cmocka_unit_test(two_seals_of_one_address_differ),
		cmocka_unit_test(another_key_purpose_or_a_changed_byte_is_refused),
		cmocka_unit_test(long_inputs_are_bounded),
		cmocka_unit_test(random_tokens_have_their_shape_and_differ),
		cmocka_unit_test(base64url_round_trips_and_refuses_bad_text),
	};

	return cmocka_run_group_tests_name("seal", tests, NULL, NULL);
}
