/* seal.c: sealed and random tokens for links (see seal.h). */
#include "seal.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define NONCE_LEN 12
#define TAG_LEN 16
/* The first byte of a sealed token's bytes: a later format is another. */
#define SEAL_VERSION 1

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t seal_b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)in[i] << 16;

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long seal_b64url_decode(const char *in, size_t n, unsigned char *out, size_t out_len)
{
	size_t o = 0;
	unsigned v = 0;
	int bits = 0;

	if (n % 4 == 1)
		return -1;	/* no byte count encodes to this */
	for (size_t i = 0; i < n; i++) {
		int d = b64url_value(in[i]);

		if (d < 0)
			return -1;
		v = v << 6 | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= out_len)
				return -1;
			out[o++] = (unsigned char)(v >> bits & 0xff);
		}
	}
	/* The bits left over must be zero: one token, one spelling. */
	if (bits > 0 && (v & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

int seal_make(const unsigned char key[SEAL_KEY_LEN], const char *purpose, const char *plain,
	      char *out, size_t out_len)
{
	unsigned char buf[1 + NONCE_LEN + SEAL_PLAIN_MAX + TAG_LEN];
	size_t plen = strlen(plain), total = 1 + NONCE_LEN + plen + TAG_LEN;
	EVP_CIPHER_CTX *ctx;
	int len, ok = 0;

	if (plen > SEAL_PLAIN_MAX || out_len < (total * 4 + 2) / 3 + 2)
		return -1;
	buf[0] = SEAL_VERSION;
	if (RAND_bytes(buf + 1, NONCE_LEN) != 1)
		return -1;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -1;
	/* The version byte and the purpose are authenticated, not secret. */
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf + 1) == 1 &&
	    EVP_EncryptUpdate(ctx, NULL, &len, buf, 1) == 1 &&
	    EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)purpose,
			      (int)strlen(purpose)) == 1 &&
	    EVP_EncryptUpdate(ctx, buf + 1 + NONCE_LEN, &len, (const unsigned char *)plain,
			      (int)plen) == 1 &&
	    EVP_EncryptFinal_ex(ctx, buf + 1 + NONCE_LEN + len, &len) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, buf + 1 + NONCE_LEN + plen) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		return -1;
	seal_b64url_encode(buf, total, out);
	return 0;
}

int seal_open(const unsigned char key[SEAL_KEY_LEN], const char *purpose, const char *token,
	      char *plain, size_t plain_len)
{
	unsigned char buf[1 + NONCE_LEN + SEAL_PLAIN_MAX + TAG_LEN];
	size_t tlen = strnlen(token, SEAL_TOKEN_MAX + 1);
	long n;
	size_t clen;
	EVP_CIPHER_CTX *ctx;
	int len, ok = 0;

	if (tlen > SEAL_TOKEN_MAX)
		return -1;
	n = seal_b64url_decode(token, tlen, buf, sizeof(buf));
	if (n < 1 + NONCE_LEN + TAG_LEN || buf[0] != SEAL_VERSION)
		return -1;
	clen = (size_t)n - 1 - NONCE_LEN - TAG_LEN;
	if (clen + 1 > plain_len)
		return -1;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -1;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf + 1) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &len, buf, 1) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)purpose,
			      (int)strlen(purpose)) == 1 &&
	    EVP_DecryptUpdate(ctx, (unsigned char *)plain, &len, buf + 1 + NONCE_LEN,
			      (int)clen) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
				buf + 1 + NONCE_LEN + clen) == 1 &&
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + len, &len) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		memset(plain, 0, plain_len);	/* nothing unauthenticated leaks out */
		return -1;
	}
	plain[clen] = '\0';
	/* A sealed text is ours, but a NUL inside would cut it short. */
	return memchr(plain, '\0', clen) == NULL ? 0 : -1;
}

int seal_random(char *out, size_t out_len)
{
	unsigned char b[16];

	if (out_len < SEAL_RANDOM_LEN + 1 || RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	seal_b64url_encode(b, sizeof(b), out);
	return 0;
}

int seal_random_shaped(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i <= SEAL_RANDOM_LEN; i++)
		if (b64url_value(s[i]) < 0)
			return 0;
	return i == SEAL_RANDOM_LEN;
}
