/* fuzz_twilio_url.c: libFuzzer target for adapters/twilio/twilio_url.c:
 * the other form of a webhook's URL ([http] public_url + the request
 * target, which comes from the network) under which its signature is also
 * checked, and the check of [http] public_url.
 *
 * Input: the URL. Beyond "no crash, no leak, no UB" it checks what the
 * signature check relies on:
 * - the other form differs from the URL only by the default port of its
 *   scheme after the host (":443" for https, ":80" for http), and the
 *   other form of the other form is the URL again;
 * - a URL twilio_url_check accepts is not changed by it, and an error
 *   names a problem without control characters (it is logged). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../adapters/twilio/twilio_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1);
	char other[4096], back[4096];
	struct twilio_url_info info;
	struct err err = { "" };

	if (url == NULL)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	if (twilio_url_other_form(url, other, sizeof(other)) == 0) {
		size_t a = strlen(url), b = strlen(other);
		size_t d = a > b ? a - b : b - a;

		if (d != 3 && d != 4)
			abort();
		if (twilio_url_other_form(other, back, sizeof(back)) != 0 || strcmp(back, url) != 0)
			abort();
	}
	if (twilio_url_check(url, &info, &err) != 0) {
		if (err.msg[0] == '\0')
			abort();
		for (const char *p = err.msg; *p; p++)
			if ((unsigned char)*p < 0x20)
				abort();
	}
	free(url);
	return 0;
}
