/* twilio_sig.c: X-Twilio-Signature (see twilio_sig.h for the algorithm). */
#include "twilio_sig.h"
#include "twilio_url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* base64 of a 20-byte SHA-1 digest: 4 * ceil(20 / 3). */
#define SIG_LEN 28

/* Name first, then value: Twilio's validators sort a repeated name's values. */
static int param_cmp(const void *a, const void *b)
{
	const struct twilio_param *pa = *(const struct twilio_param *const *)a;
	const struct twilio_param *pb = *(const struct twilio_param *const *)b;
	int c = strcmp(pa->name, pb->name);	/* compares as unsigned char: byte order */

	return c != 0 ? c : strcmp(pa->value, pb->value);
}

static int mac_update(EVP_MAC_CTX *ctx, const char *s)
{
	return EVP_MAC_update(ctx, (const unsigned char *)s, strlen(s)) == 1 ? 0 : -1;
}

int twilio_signature(const char *auth_token, const char *url,
		     const struct twilio_param *params, size_t n, char out[TWILIO_SIG_MAX])
{
	const struct twilio_param **sorted = NULL;
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t mdlen = 0;
	char digest_name[] = "SHA1";
	OSSL_PARAM mac_params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
		OSSL_PARAM_construct_end(),
	};
	int result = -1;

	if (out != NULL)
		out[0] = '\0';
	if (auth_token == NULL || auth_token[0] == '\0' || url == NULL || out == NULL ||
	    (params == NULL && n > 0))
		return -1;
	if (n > 0) {
		if (n > SIZE_MAX / sizeof(*sorted))
			return -1;
		sorted = malloc(n * sizeof(*sorted));
		if (sorted == NULL)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (params[i].name == NULL || params[i].value == NULL)
				goto out;
			sorted[i] = &params[i];
		}
		qsort(sorted, n, sizeof(*sorted), param_cmp);
	}

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	if (ctx == NULL ||
	    EVP_MAC_init(ctx, (const unsigned char *)auth_token, strlen(auth_token), mac_params) != 1 ||
	    mac_update(ctx, url) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && param_cmp(&sorted[i - 1], &sorted[i]) == 0)
			continue;	/* an exact duplicate counts once */
		if (mac_update(ctx, sorted[i]->name) < 0 || mac_update(ctx, sorted[i]->value) < 0)
			goto out;
	}
	if (EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) != 1 || mdlen != 20)
		goto out;
	/* EVP_EncodeBlock writes 28 characters and a NUL for 20 bytes. */
	if (EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen) != SIG_LEN)
		goto out;
	result = 0;
out:
	if (result != 0)
		out[0] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	free(sorted);
	return result;
}

bool twilio_signature_valid(const char *auth_token, const char *url,
			    const struct twilio_param *params, size_t n, const char *header)
{
	char expected[TWILIO_SIG_MAX];
	bool ok;

	if (header == NULL || strnlen(header, SIG_LEN + 1) != SIG_LEN)
		return false;	/* the length of a signature is no secret */
	if (twilio_signature(auth_token, url, params, n, expected) != 0)
		return false;
	ok = CRYPTO_memcmp(expected, header, SIG_LEN) == 0;
	OPENSSL_cleanse(expected, sizeof(expected));
	return ok;
}

bool twilio_signature_valid_any_port(const char *auth_token, const char *url,
				     const struct twilio_param *params, size_t n,
				     const char *header)
{
	char other[4096];

	if (twilio_signature_valid(auth_token, url, params, n, header))
		return true;
	return twilio_url_other_form(url, other, sizeof(other)) == 0 &&
	       twilio_signature_valid(auth_token, other, params, n, header);
}
