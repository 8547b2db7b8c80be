/* signal_crypto.c: libsignal-protocol-c's crypto callbacks on OpenSSL 3
 * (signal_crypto.h says why they exist). Each returns 0 or a negative
 * SG_ERR_*, as signal/signal_protocol.h documents: the library's own test
 * provider returns 1 from encrypt and decrypt, which the library happens
 * to accept but its documentation does not promise. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "signal_crypto.h"

#define AES_BLOCK 16

static int random_bytes(uint8_t *data, size_t len, void *ud)
{
	(void)ud;
	if (len > INT32_MAX)
		return SG_ERR_INVAL;
	return RAND_bytes(data, (int)len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

/* HMAC through EVP_MAC (HMAC_CTX_* is deprecated in OpenSSL 3). */
static int hmac_init(void **ctx, const uint8_t *key, size_t key_len, void *ud)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c;

	(void)ud;
	if (mac == NULL)
		return SG_ERR_UNKNOWN;
	c = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);	/* the context holds its own reference */
	if (c == NULL)
		return SG_ERR_NOMEM;
	if (EVP_MAC_init(c, key, key_len, params) != 1) {
		EVP_MAC_CTX_free(c);
		return SG_ERR_UNKNOWN;
	}
	*ctx = c;
	return 0;
}

static int hmac_update(void *ctx, const uint8_t *data, size_t len, void *ud)
{
	(void)ud;
	return EVP_MAC_update(ctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int hmac_final(void *ctx, signal_buffer **out, void *ud)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	size_t n = 0;

	(void)ud;
	if (EVP_MAC_final(ctx, md, &n, sizeof(md)) != 1)
		return SG_ERR_UNKNOWN;
	*out = signal_buffer_create(md, n);
	return *out ? 0 : SG_ERR_NOMEM;
}

static void hmac_cleanup(void *ctx, void *ud)
{
	(void)ud;
	EVP_MAC_CTX_free(ctx);
}

static int sha512_init(void **ctx, void *ud)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	(void)ud;
	if (c == NULL)
		return SG_ERR_NOMEM;
	if (EVP_DigestInit_ex(c, EVP_sha512(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return SG_ERR_UNKNOWN;
	}
	*ctx = c;
	return 0;
}

static int sha512_update(void *ctx, const uint8_t *data, size_t len, void *ud)
{
	(void)ud;
	return EVP_DigestUpdate(ctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

/* The library calls final and then update again on the same context (the
 * signature code hashes twice with one), so it is made ready here. */
static int sha512_final(void *ctx, signal_buffer **out, void *ud)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	(void)ud;
	if (EVP_DigestFinal_ex(ctx, md, &n) != 1 ||
	    EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) != 1)
		return SG_ERR_UNKNOWN;
	*out = signal_buffer_create(md, n);
	return *out ? 0 : SG_ERR_NOMEM;
}

static void sha512_cleanup(void *ctx, void *ud)
{
	(void)ud;
	EVP_MD_CTX_free(ctx);
}

/* The cipher for the library's variant and the key length, or NULL. */
static const EVP_CIPHER *aes_cipher(int cipher, size_t key_len)
{
	bool cbc = cipher == SG_CIPHER_AES_CBC_PKCS5;

	if (!cbc && cipher != SG_CIPHER_AES_CTR_NOPADDING)
		return NULL;
	switch (key_len) {
	case 16: return cbc ? EVP_aes_128_cbc() : EVP_aes_128_ctr();
	case 24: return cbc ? EVP_aes_192_cbc() : EVP_aes_192_ctr();
	case 32: return cbc ? EVP_aes_256_cbc() : EVP_aes_256_ctr();
	}
	return NULL;
}

/* One pass of AES: enc 1 encrypts, 0 decrypts. CBC pads and checks the
 * padding (EVP's default); CTR has none. A bad padding or a ciphertext not
 * a whole number of blocks fails with SG_ERR_UNKNOWN, which the library
 * turns into an invalid message. */
static int aes(signal_buffer **out, int cipher, const uint8_t *key, size_t key_len,
	       const uint8_t *iv, size_t iv_len, const uint8_t *in, size_t in_len, int enc)
{
	const EVP_CIPHER *c = aes_cipher(cipher, key_len);
	EVP_CIPHER_CTX *ctx;
	uint8_t *buf;
	int n1 = 0, n2 = 0, rc = SG_ERR_UNKNOWN;

	if (c == NULL || iv_len != AES_BLOCK)
		return SG_ERR_INVAL;
	if (in_len > INT32_MAX - 2 * AES_BLOCK)
		return SG_ERR_INVAL;
	buf = malloc(in_len + AES_BLOCK);
	ctx = EVP_CIPHER_CTX_new();
	if (buf == NULL || ctx == NULL) {
		rc = SG_ERR_NOMEM;
		goto out;
	}
	if (EVP_CipherInit_ex(ctx, c, NULL, key, iv, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, cipher == SG_CIPHER_AES_CBC_PKCS5) != 1 ||
	    EVP_CipherUpdate(ctx, buf, &n1, in, (int)in_len) != 1 ||
	    EVP_CipherFinal_ex(ctx, buf + n1, &n2) != 1)
		goto out;
	*out = signal_buffer_create(buf, (size_t)n1 + (size_t)n2);
	rc = *out ? 0 : SG_ERR_NOMEM;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (buf)
		OPENSSL_cleanse(buf, in_len + AES_BLOCK);
	free(buf);
	return rc;
}

static int encrypt(signal_buffer **out, int cipher, const uint8_t *key, size_t key_len,
		   const uint8_t *iv, size_t iv_len, const uint8_t *in, size_t in_len, void *ud)
{
	(void)ud;
	return aes(out, cipher, key, key_len, iv, iv_len, in, in_len, 1);
}

static int decrypt(signal_buffer **out, int cipher, const uint8_t *key, size_t key_len,
		   const uint8_t *iv, size_t iv_len, const uint8_t *in, size_t in_len, void *ud)
{
	(void)ud;
	return aes(out, cipher, key, key_len, iv, iv_len, in, in_len, 0);
}

static const signal_crypto_provider provider = {
	.random_func = random_bytes,
	.hmac_sha256_init_func = hmac_init,
	.hmac_sha256_update_func = hmac_update,
	.hmac_sha256_final_func = hmac_final,
	.hmac_sha256_cleanup_func = hmac_cleanup,
	.sha512_digest_init_func = sha512_init,
	.sha512_digest_update_func = sha512_update,
	.sha512_digest_final_func = sha512_final,
	.sha512_digest_cleanup_func = sha512_cleanup,
	.encrypt_func = encrypt,
	.decrypt_func = decrypt,
	.user_data = NULL,
};

const signal_crypto_provider *signal_crypto_provider_get(void)
{
	return &provider;
}

int signal_crypto_context(signal_context **out)
{
	if (signal_context_create(out, NULL) != 0)
		return -1;
	if (signal_context_set_crypto_provider(*out, &provider) != 0) {
		signal_context_destroy(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

size_t signal_b64_encode(const uint8_t *in, size_t n, char *out)
{
	return n == 0 ? (out[0] = '\0', 0) : (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

long signal_b64_decode(const char *in, uint8_t *out, size_t out_max)
{
	size_t len = strlen(in), pad = 0;
	char *padded;
	uint8_t *tmp;
	int n;

	while (len > 0 && in[len - 1] == '=') {
		len--;
		pad++;
	}
	if (pad > 2 || len % 4 == 1 || len > 4 * out_max / 3 + 4)
		return -1;
	pad = (4 - len % 4) % 4;
	padded = malloc(len + pad + 1);
	tmp = malloc((len + pad) / 4 * 3 + 1);
	if (padded == NULL || tmp == NULL) {
		free(padded);
		free(tmp);
		return -1;
	}
	memcpy(padded, in, len);
	memset(padded + len, '=', pad);
	padded[len + pad] = '\0';
	/* EVP_DecodeBlock counts the padding's zero bytes: take them off. */
	n = EVP_DecodeBlock(tmp, (const unsigned char *)padded, (int)(len + pad));
	if (n >= 0)
		n -= (int)pad;
	if (n < 0 || (size_t)n > out_max) {
		n = -1;
	} else {
		memcpy(out, tmp, (size_t)n);
	}
	free(padded);
	free(tmp);
	return n;
}
