/* test_signal_crypto.c: the OpenSSL 3 crypto provider for
 * libsignal-protocol-c against published vectors (HMAC-SHA256 of RFC 4231,
 * SHA-512 of FIPS 180-2's examples, AES-CBC and AES-CTR of NIST SP
 * 800-38A), then a whole session through the library on two in-memory
 * stores: a pre-key message, ratchet messages both ways, a replay refused,
 * and a changed identity key refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <session_builder.h>
#include <session_cipher.h>
#include <protocol.h>

#include "../../adapters/signal_native/signal_crypto.h"
#include "../../adapters/signal_native/signal_mem.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;

		if (hex[0] == ' ') {
			hex--;
			continue;
		}
		sscanf(hex, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void assert_buffer_hex(signal_buffer *b, const char *hex)
{
	uint8_t want[256];
	size_t n = unhex(hex, want);

	assert_non_null(b);
	assert_int_equal(signal_buffer_len(b), n);
	assert_memory_equal(signal_buffer_data(b), want, n);
}

/* RFC 4231 section 4: test cases 1, 2, 4 and 6 (a key longer than the
 * block). */
static void hmac_sha256_matches_rfc4231(void **state)
{
	const signal_crypto_provider *p = signal_crypto_provider_get();
	static const struct {
		const char *key_hex, *data, *data_hex, *mac;
	} cases[] = {
		{ "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", NULL,
		  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
		{ "4a656665", "what do ya want for nothing?", NULL,
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
		{ "0102030405060708090a0b0c0d0e0f10111213141516171819", NULL,
		  "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
		  "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
		  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaa", "Test Using Larger Than Block-Size Key - Hash Key First", NULL,
		  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		uint8_t key[256], data[256];
		size_t klen = unhex(cases[i].key_hex, key), dlen;
		void *ctx = NULL;
		signal_buffer *out = NULL;

		if (cases[i].data) {
			dlen = strlen(cases[i].data);
			memcpy(data, cases[i].data, dlen);
		} else {
			dlen = unhex(cases[i].data_hex, data);
		}
		assert_int_equal(p->hmac_sha256_init_func(&ctx, key, klen, NULL), 0);
		/* In two pieces, as the library feeds it. */
		assert_int_equal(p->hmac_sha256_update_func(ctx, data, dlen / 2, NULL), 0);
		assert_int_equal(p->hmac_sha256_update_func(ctx, data + dlen / 2, dlen - dlen / 2, NULL), 0);
		assert_int_equal(p->hmac_sha256_final_func(ctx, &out, NULL), 0);
		assert_buffer_hex(out, cases[i].mac);
		signal_buffer_free(out);
		p->hmac_sha256_cleanup_func(ctx, NULL);
	}
}

/* FIPS 180-2 appendix C.1 ("abc") and the empty string; the context is
 * used again after final, as the library does. */
static void sha512_matches_fips180_and_restarts_after_final(void **state)
{
	const signal_crypto_provider *p = signal_crypto_provider_get();
	static const char abc[] =
		"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
		"2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
	static const char empty[] =
		"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
		"47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
	void *ctx = NULL;
	signal_buffer *out = NULL;

	(void)state;
	assert_int_equal(p->sha512_digest_init_func(&ctx, NULL), 0);
	assert_int_equal(p->sha512_digest_update_func(ctx, (const uint8_t *)"ab", 2, NULL), 0);
	assert_int_equal(p->sha512_digest_update_func(ctx, (const uint8_t *)"c", 1, NULL), 0);
	assert_int_equal(p->sha512_digest_final_func(ctx, &out, NULL), 0);
	assert_buffer_hex(out, abc);
	signal_buffer_free(out);
	assert_int_equal(p->sha512_digest_final_func(ctx, &out, NULL), 0);
	assert_buffer_hex(out, empty);
	signal_buffer_free(out);
	assert_int_equal(p->sha512_digest_update_func(ctx, (const uint8_t *)"abc", 3, NULL), 0);
	assert_int_equal(p->sha512_digest_final_func(ctx, &out, NULL), 0);
	assert_buffer_hex(out, abc);
	signal_buffer_free(out);
	p->sha512_digest_cleanup_func(ctx, NULL);
}

/* NIST SP 800-38A appendix F: F.2.1/F.2.3/F.2.5 (CBC) and F.5.1/F.5.3/
 * F.5.5 (CTR), all four blocks. The library's CBC pads (PKCS#5): the
 * vectors' ciphertext is the first 64 bytes, then one block of padding. */
static const char sp800_plain[] =
	"6bc1bee22e409f96e93d7e117393172a" "ae2d8a571e03ac9c9eb76fac45af8e51"
	"30c81c46a35ce411e5fbc1191a0a52ef" "f69f2445df4f9b17ad2b417be66c3710";
static const struct {
	int cipher;
	const char *key, *iv, *cipher_hex;
} sp800[] = {
	{ SG_CIPHER_AES_CBC_PKCS5, "2b7e151628aed2a6abf7158809cf4f3c", "000102030405060708090a0b0c0d0e0f",
	  "7649abac8119b246cee98e9b12e9197d" "5086cb9b507219ee95db113a917678b2"
	  "73bed6b8e3c1743b7116e69e22229516" "3ff1caa1681fac09120eca307586e1a7" },
	{ SG_CIPHER_AES_CBC_PKCS5, "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
	  "000102030405060708090a0b0c0d0e0f",
	  "4f021db243bc633d7178183a9fa071e8" "b4d9ada9ad7dedf4e5e738763f69145a"
	  "571b242012fb7ae07fa9baac3df102e0" "08b0e27988598881d920a9e64f5615cd" },
	{ SG_CIPHER_AES_CBC_PKCS5, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
	  "000102030405060708090a0b0c0d0e0f",
	  "f58c4c04d6e5f1ba779eabfb5f7bfbd6" "9cfc4e967edb808d679f777bc6702c7d"
	  "39f23369a9d9bacfa530e26304231461" "b2eb05e2c39be9fcda6c19078c6a9d1b" },
	{ SG_CIPHER_AES_CTR_NOPADDING, "2b7e151628aed2a6abf7158809cf4f3c",
	  "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
	  "874d6191b620e3261bef6864990db6ce" "9806f66b7970fdff8617187bb9fffdff"
	  "5ae4df3edbd5d35e5b4f09020db03eab" "1e031dda2fbe03d1792170a0f3009cee" },
	{ SG_CIPHER_AES_CTR_NOPADDING, "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
	  "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
	  "1abc932417521ca24f2b0459fe7e6e0b" "090339ec0aa6faefd5ccc2c6f4ce8e94"
	  "1e36b26bd1ebc670d1bd1d665620abf7" "4f78a7f6d29809585a97daec58c6b050" },
	{ SG_CIPHER_AES_CTR_NOPADDING, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
	  "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
	  "601ec313775789a5b7a7f504bbf3d228" "f443e3ca4d62b59aca84e990cacaf5c5"
	  "2b0930daa23de94ce87017ba2d84988d" "dfc9c58db67aada613c2dd08457941a6" },
};

static void aes_cbc_and_ctr_match_sp800_38a(void **state)
{
	const signal_crypto_provider *p = signal_crypto_provider_get();
	uint8_t plain[64];

	(void)state;
	assert_int_equal(unhex(sp800_plain, plain), 64);
	for (size_t i = 0; i < N(sp800); i++) {
		uint8_t key[32], iv[16], want[64];
		size_t klen = unhex(sp800[i].key, key);
		signal_buffer *enc = NULL, *dec = NULL;
		bool cbc = sp800[i].cipher == SG_CIPHER_AES_CBC_PKCS5;

		assert_int_equal(unhex(sp800[i].iv, iv), 16);
		assert_int_equal(unhex(sp800[i].cipher_hex, want), 64);
		assert_int_equal(p->encrypt_func(&enc, sp800[i].cipher, key, klen, iv, 16, plain, 64,
						 NULL), 0);
		assert_int_equal(signal_buffer_len(enc), cbc ? 80 : 64);
		assert_memory_equal(signal_buffer_data(enc), want, 64);
		assert_int_equal(p->decrypt_func(&dec, sp800[i].cipher, key, klen, iv, 16,
						 signal_buffer_data(enc), signal_buffer_len(enc), NULL), 0);
		assert_int_equal(signal_buffer_len(dec), 64);
		assert_memory_equal(signal_buffer_data(dec), plain, 64);
		signal_buffer_free(enc);
		signal_buffer_free(dec);
	}
}

/* What the library must be told is an error: a key or IV of the wrong
 * size, an unknown cipher, a CBC text cut short or with a bad padding. */
static void aes_refuses_bad_sizes_and_bad_padding(void **state)
{
	const signal_crypto_provider *p = signal_crypto_provider_get();
	uint8_t key[32] = { 1 }, iv[16] = { 2 }, data[33] = { 3 };
	signal_buffer *out = NULL;

	(void)state;
	assert_true(p->encrypt_func(&out, SG_CIPHER_AES_CBC_PKCS5, key, 20, iv, 16, data, 16, NULL) < 0);
	assert_true(p->encrypt_func(&out, SG_CIPHER_AES_CBC_PKCS5, key, 32, iv, 12, data, 16, NULL) < 0);
	assert_true(p->encrypt_func(&out, 7, key, 32, iv, 16, data, 16, NULL) < 0);
	assert_true(p->decrypt_func(&out, SG_CIPHER_AES_CBC_PKCS5, key, 32, iv, 16, data, 33, NULL) < 0);
	/* Zeros decrypt to a random-looking last block: its padding fails
	 * (a 1-in-256 chance of a valid 0x01 is excluded by the fixed key). */
	assert_true(p->decrypt_func(&out, SG_CIPHER_AES_CBC_PKCS5, key, 32, iv, 16, data, 32, NULL) < 0);
	assert_null(out);
	/* CTR takes any length, and the empty text. */
	assert_int_equal(p->encrypt_func(&out, SG_CIPHER_AES_CTR_NOPADDING, key, 16, iv, 16, data, 0,
					 NULL), 0);
	assert_int_equal(signal_buffer_len(out), 0);
	signal_buffer_free(out);
}

static void base64_round_trips_padded_or_not(void **state)
{
	uint8_t in[40], out[40];
	char enc[64];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 5);
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t len = signal_b64_encode(in, n, enc);

		assert_int_equal(len, (n + 2) / 3 * 4);
		assert_int_equal(signal_b64_decode(enc, out, sizeof(out)), (long)n);
		assert_memory_equal(in, out, n);
		while (len > 0 && enc[len - 1] == '=')
			enc[--len] = '\0';
		assert_int_equal(signal_b64_decode(enc, out, sizeof(out)), (long)n);
		assert_memory_equal(in, out, n);
	}
	assert_int_equal(signal_b64_decode("QUJD", out, 2), -1);	/* no room */
	assert_int_equal(signal_b64_decode("Q", out, sizeof(out)), -1);
	assert_int_equal(signal_b64_decode("QU!D", out, sizeof(out)), -1);
}

/* ---- a session through the library ---- */

struct party {
	signal_context *ctx;
	signal_protocol_store_context *store;
	struct signal_mem mem;
};

static void party_open(struct party *p)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(signal_crypto_context(&p->ctx), 0);
	assert_int_equal(signal_protocol_store_context_create(&p->store, p->ctx), 0);
	assert_int_equal(signal_mem_attach(&p->mem, p->store), 0);
	assert_int_equal(signal_mem_generate_identity(&p->mem, p->ctx), 0);
}

static void party_close(struct party *p)
{
	signal_protocol_store_context_destroy(p->store);
	signal_context_destroy(p->ctx);
	signal_mem_free(&p->mem);
}

static const signal_protocol_address alice_addr = { "+15550000001", 12, 1 };
static const signal_protocol_address bob_addr = { "+15550000002", 12, 1 };

/* from encrypts text for `to`; returns the serialized message and its type. */
static signal_buffer *seal(struct party *from, const signal_protocol_address *to,
			   const char *text, int *type)
{
	session_cipher *c = NULL;
	ciphertext_message *msg = NULL;
	signal_buffer *out;

	assert_int_equal(session_cipher_create(&c, from->store, to, from->ctx), 0);
	assert_int_equal(session_cipher_encrypt(c, (const uint8_t *)text, strlen(text), &msg), 0);
	*type = ciphertext_message_get_type(msg);
	out = signal_buffer_copy(ciphertext_message_get_serialized(msg));
	SIGNAL_UNREF(msg);
	session_cipher_free(c);
	return out;
}

/* to decrypts what came from `from`; returns the library's code. */
static int open_msg(struct party *to, const signal_protocol_address *from, signal_buffer *b,
		    int type, const char *want)
{
	session_cipher *c = NULL;
	signal_buffer *plain = NULL;
	int rc;

	assert_int_equal(session_cipher_create(&c, to->store, from, to->ctx), 0);
	if (type == CIPHERTEXT_PREKEY_TYPE) {
		pre_key_signal_message *m = NULL;

		assert_int_equal(pre_key_signal_message_deserialize(&m, signal_buffer_data(b),
								    signal_buffer_len(b), to->ctx), 0);
		rc = session_cipher_decrypt_pre_key_signal_message(c, m, NULL, &plain);
		SIGNAL_UNREF(m);
	} else {
		signal_message *m = NULL;

		assert_int_equal(signal_message_deserialize(&m, signal_buffer_data(b),
							    signal_buffer_len(b), to->ctx), 0);
		rc = session_cipher_decrypt_signal_message(c, m, NULL, &plain);
		SIGNAL_UNREF(m);
	}
	if (rc == 0) {
		assert_int_equal(signal_buffer_len(plain), strlen(want));
		assert_memory_equal(signal_buffer_data(plain), want, strlen(want));
	}
	signal_buffer_free(plain);
	session_cipher_free(c);
	return rc;
}

static void build_session(struct party *from, struct party *to, uint32_t pre_key_id)
{
	session_pre_key_bundle *bundle = NULL;
	session_builder *b = NULL;

	assert_int_equal(signal_mem_bundle(&to->mem, to->ctx, 1, pre_key_id, 7, &bundle), 0);
	assert_int_equal(session_builder_create(&b, from->store, &bob_addr, from->ctx), 0);
	assert_int_equal(session_builder_process_pre_key_bundle(b, bundle), 0);
	session_builder_free(b);
	SIGNAL_UNREF(bundle);
}

static void a_session_carries_pre_key_then_ratchet_messages(void **state)
{
	struct party alice, bob;
	signal_buffer *m1, *m2, *r1, *m3;
	int t1, t2, tr, t3;

	(void)state;
	party_open(&alice);
	party_open(&bob);
	assert_int_equal(signal_mem_generate_keys(&bob.mem, bob.ctx, 1, 5, 7), 0);
	assert_int_equal(bob.mem.pre_keys.n, 5);
	build_session(&alice, &bob, 3);

	m1 = seal(&alice, &bob_addr, "first alert", &t1);
	m2 = seal(&alice, &bob_addr, "second alert", &t2);
	assert_int_equal(t1, CIPHERTEXT_PREKEY_TYPE);
	assert_int_equal(t2, CIPHERTEXT_PREKEY_TYPE);	/* no reply yet */
	assert_int_equal(open_msg(&bob, &alice_addr, m1, t1, "first alert"), 0);
	assert_int_equal(bob.mem.pre_keys.n, 4);	/* the one-time key is used up */
	assert_int_equal(open_msg(&bob, &alice_addr, m2, t2, "second alert"), 0);
	/* A replay is refused, as the recipient's app would. */
	assert_int_equal(open_msg(&bob, &alice_addr, m1, t1, "first alert"), SG_ERR_DUPLICATE_MESSAGE);

	r1 = seal(&bob, &alice_addr, "ok", &tr);
	assert_int_equal(tr, CIPHERTEXT_SIGNAL_TYPE);
	assert_int_equal(open_msg(&alice, &bob_addr, r1, tr, "ok"), 0);
	m3 = seal(&alice, &bob_addr, "third alert", &t3);
	assert_int_equal(t3, CIPHERTEXT_SIGNAL_TYPE);
	assert_int_equal(open_msg(&bob, &alice_addr, m3, t3, "third alert"), 0);

	/* Alice's store saved Bob's identity on first use and the session. */
	assert_non_null(signal_mem_find(&alice.mem.identities, "+15550000002", 12, 0));
	assert_non_null(signal_mem_find(&alice.mem.sessions, "+15550000002", 12, 1));
	signal_buffer_free(m1);
	signal_buffer_free(m2);
	signal_buffer_free(r1);
	signal_buffer_free(m3);
	party_close(&alice);
	party_close(&bob);
}

/* Bob reinstalls (a new identity key): Alice's store refuses the new
 * bundle and keeps the refused key; once it is trusted the session builds. */
static void a_changed_identity_is_refused_and_kept(void **state)
{
	struct party alice, bob, bob2;
	session_pre_key_bundle *bundle = NULL;
	session_builder *b = NULL;
	struct signal_mem_rec *trusted;

	(void)state;
	party_open(&alice);
	party_open(&bob);
	party_open(&bob2);
	assert_int_equal(signal_mem_generate_keys(&bob.mem, bob.ctx, 1, 2, 7), 0);
	assert_int_equal(signal_mem_generate_keys(&bob2.mem, bob2.ctx, 1, 2, 7), 0);
	build_session(&alice, &bob, 1);

	assert_int_equal(signal_mem_bundle(&bob2.mem, bob2.ctx, 1, 2, 7, &bundle), 0);
	assert_int_equal(session_builder_create(&b, alice.store, &bob_addr, alice.ctx), 0);
	assert_int_equal(session_builder_process_pre_key_bundle(b, bundle), SG_ERR_UNTRUSTED_IDENTITY);
	assert_int_equal(alice.mem.refused.len, bob2.mem.pub.len);
	assert_memory_equal(alice.mem.refused.p, bob2.mem.pub.p, bob2.mem.pub.len);
	assert_string_equal(alice.mem.refused_name, "+15550000002");

	/* The operator trusts it (pregon signal trust): the saved key is replaced. */
	trusted = signal_mem_find(&alice.mem.identities, "+15550000002", 12, 0);
	assert_non_null(trusted);
	assert_int_equal(signal_blob_set(&trusted->data, alice.mem.refused.p, alice.mem.refused.len), 0);
	assert_int_equal(session_builder_process_pre_key_bundle(b, bundle), 0);
	session_builder_free(b);
	SIGNAL_UNREF(bundle);
	party_close(&alice);
	party_close(&bob);
	party_close(&bob2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hmac_sha256_matches_rfc4231),
		cmocka_unit_test(sha512_matches_fips180_and_restarts_after_final),
		cmocka_unit_test(aes_cbc_and_ctr_match_sp800_38a),
		cmocka_unit_test(aes_refuses_bad_sizes_and_bad_padding),
		cmocka_unit_test(base64_round_trips_padded_or_not),
		cmocka_unit_test(a_session_carries_pre_key_then_ratchet_messages),
		cmocka_unit_test(a_changed_identity_is_refused_and_kept),
	};

	return cmocka_run_group_tests_name("signal_crypto", tests, NULL, NULL);
}
