/* fuzz_signal_service.c: libFuzzer target for what the native Signal
 * provider reads from outside: a Signal-protocol server's PreKeyResponse
 * (adapters/signal_native/signal_service.c), and a decrypted Content
 * (signal_content.c: the test recipient's decode, and the receiving
 * side's parse of what a sender wrote), and the base64 of both.
 *
 * Input: any bytes, taken as the JSON, as the Content and as base64.
 * Beyond "no crash, no leak, no UB": a refused response names a field
 * (err.pub not empty, no control characters: it becomes a message's
 * error), a Content body found lies inside the input, and a receipt
 * holds at most SIGNAL_RECEIPT_TIMESTAMPS_MAX timestamps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../adapters/signal_native/signal_content.h"
#include "../../adapters/signal_native/signal_crypto.h"
#include "../../adapters/signal_native/signal_service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static signal_context *ctx;
	session_pre_key_bundle *b = NULL;
	struct err err = { "", "" };
	const char *body;
	size_t body_len;
	uint64_t ts;
	char *text;
	uint8_t out[256];

	if (ctx == NULL && signal_crypto_context(&ctx) != 0)
		abort();
	if (signal_bundle_parse((const char *)data, size, 1, ctx, &b, &err) == 0) {
		SIGNAL_UNREF(b);
	} else {
		if (err.pub[0] == '\0')
			abort();
		for (const char *p = err.pub; *p; p++)
			if ((unsigned char)*p < 0x20)
				abort();
	}
	if (signal_content_decode(data, size, &body, &body_len, &ts) == 0 &&
	    (body < (const char *)data || body + body_len > (const char *)data + size))
		abort();
	{
		struct signal_content c;

		if (signal_content_parse(data, size, &c) == 0 &&
		    ((c.body && (c.body < (const char *)data ||
				 c.body + c.body_len > (const char *)data + size)) ||
		     c.n_timestamps > SIGNAL_RECEIPT_TIMESTAMPS_MAX))
			abort();
	}
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)signal_b64_decode(text, out, sizeof(out));
	free(text);
	return 0;
}
