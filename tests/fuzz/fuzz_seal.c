/* fuzz_seal.c: libFuzzer target for the tokens of links (src/links/seal.c),
 * which arrive from anyone on GET /unsubscribe/<token> and GET /j/<token>.
 *
 * The input is opened as a token (it must be refused, never crash or read
 * out of bounds: only seal_make's tokens open), checked for the shape of a
 * random token, and decoded as base64url. Then, as a round trip, the
 * input (cut to SEAL_PLAIN_MAX, NUL-free) is sealed and must open to
 * itself, and a token with any one byte changed must not open. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"

static const unsigned char key[SEAL_KEY_LEN] = "fuzz-key-fuzz-key-fuzz-key-fuzz";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[SEAL_TOKEN_MAX + 2], plain[SEAL_PLAIN_MAX + 1], tok[SEAL_TOKEN_MAX + 1];
	unsigned char raw[SEAL_TOKEN_MAX];
	size_t n = size < SEAL_TOKEN_MAX + 1 ? size : SEAL_TOKEN_MAX + 1;

	memcpy(text, data, n);
	text[n] = '\0';
	if (seal_open(key, "unsubscribe", text, plain, sizeof(plain)) == 0)
		abort();	/* a token nobody made opened */
	(void)seal_random_shaped(text);
	(void)seal_b64url_decode(text, strlen(text), raw, sizeof(raw));

	n = strnlen(text, SEAL_PLAIN_MAX);
	text[n] = '\0';
	if (seal_make(key, "unsubscribe", text, tok, sizeof(tok)) != 0)
		abort();
	if (seal_open(key, "unsubscribe", tok, plain, sizeof(plain)) != 0 ||
	    strcmp(plain, text) != 0)
		abort();
	if (size > 0) {
		size_t at = data[0] % strlen(tok);

		tok[at] = tok[at] == 'A' ? 'B' : 'A';
		if (seal_open(key, "unsubscribe", tok, plain, sizeof(plain)) == 0)
			abort();
	}
	return 0;
}
