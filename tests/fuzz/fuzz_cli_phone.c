/* fuzz_cli_phone.c: libFuzzer target for the national phone formats of
 * `pregon contacts import --default-country` (src/cli/cli_phone.c), which
 * read organizers' spreadsheet cells.
 *
 * Input: the first byte picks the country, the rest is the cell. Beyond
 * "no crash, no leak, no UB" it checks:
 * - a success is '+' and 8 to 15 digits, NUL-terminated within the buffer;
 * - a national success starts with the country's calling code;
 * - a failure's public reason holds no run of three digits but "E.164"
 *   (counts and limits only, never a piece of the number: it may reach a
 *   shared log). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli_phone.h"

static const char *const codes[] = { "US", "CA", "MX", "GT", "SV", "HN", "NI", "PH", "KR", "VN",
				     "CN", "AM" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cli_phone_country *country;
	char out[24];
	struct err err;
	size_t digits = 0, run = 0;

	if (size < 1)
		return 0;
	country = cli_phone_country(codes[data[0] % (sizeof(codes) / sizeof(codes[0]))]);
	if (country == NULL)
		abort();
	memset(out, 'x', sizeof(out));
	if (cli_phone_normalize((const char *)data + 1, size - 1, country, out, 17, &err) == 0) {
		if (memchr(out, '\0', 17) == NULL || out[0] != '+')
			abort();
		for (const char *p = out + 1; *p; p++, digits++)
			if (*p < '0' || *p > '9')
				abort();
		if (digits < 8 || digits > 15)
			abort();
		return 0;
	}
	/* "E.164", the standard's name, is the one run allowed. */
	for (const char *p = err.pub; *p; p++) {
		if (strncmp(p, "E.164", 5) == 0) {
			p += 4;
			run = 0;
			continue;
		}
		run = (*p >= '0' && *p <= '9') ? run + 1 : 0;
		if (run >= 3)
			abort();
	}
	return 0;
}
