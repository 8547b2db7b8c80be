/* cli_phone.h: phone numbers as organizers type them in spreadsheets,
 * turned into E.164 for `pregon contacts import --default-country CC`
 * (issue 13, item 17).
 *
 * Only the import uses it: jobs from a CRM must carry E.164 already
 * (CONTRACT.md section 2), and guessing a country there would send a
 * court date to a stranger abroad. The operator names the country for a
 * whole file, and every result is checked again by phone_check_e164(). */
#ifndef PREGON_CLI_PHONE_H
#define PREGON_CLI_PHONE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* The table's entry for an ISO 3166-1 alpha-2 code (case-insensitive), or
 * NULL. Codes known: cli_phone_countries(). */
struct cli_phone_country;
const struct cli_phone_country *cli_phone_country(const char *code);

/* "US, CA, MX, ..." for the error that names what is known. */
const char *cli_phone_countries(void);

/* Rewrites in (len bytes) into out (at least 17 bytes): a number that
 * starts with '+' loses its separators (spaces, dots, dashes, brackets);
 * a national one, in country's format (its trunk prefix, e.g. the 0 of
 * a Mexican or Korean number, or the 1 before a NANP area code, dropped),
 * gets country's calling code. Returns 0, or -1 with err naming the
 * problem ("not a phone number in US national format: 7 digits, expected
 * 10"); err->pub holds no digits of the number. */
int cli_phone_normalize(const char *in, size_t len, const struct cli_phone_country *country,
			char *out, size_t out_len, struct err *err);

#endif
