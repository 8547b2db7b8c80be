/* validate.h: checks for addresses, zones and times from outside
 * (durations: duration.h, included here for the callers of both).
 *
 * Each returns 0 on success or -1 with err->msg describing the problem
 * WITHOUT a field name (the caller prefixes it), e.g.
 * `not an E.164 number: "323-555"`. */
#ifndef PREGON_VALIDATE_H
#define PREGON_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "duration.h"
#include "err.h"

#define PHONE_E164_MAX 16	/* '+' and 15 digits */

/* E.164: '+', 8 to 15 digits, first digit 1-9, an assigned ITU country
 * code, and the North American Numbering Plan rules for +1 (NPA and NXX
 * start 2-9, are not N11, NPA's second digit is not 9). Copies the number
 * into out (PHONE_E164_MAX + 1 bytes). Producers send E.164; the one rewrite
 * is Mexico's abolished mobile prefix: +52 1 + 10 digits becomes +52 + 10 digits. */
int phone_check_e164(const char *in, char out[PHONE_E164_MAX + 1], struct err *err);

/* What every text provider addressed by phone number checks first (an
 * adapter's prepare): `to` is E.164 and `body` not empty. The error names
 * the field ("to.not an E.164 number", err_prefix's form; "body: empty"). */
int phone_text_check(const char *to, const char *body, struct err *err);

/* A Signal address, in the three forms signal-cli sends to: an E.164
 * number (checked as above), a Signal username ("name.01": a nickname of
 * 3..32 of a-z, 0-9, _ not starting with a digit, '.', 2..9 digits) or an
 * ACI UUID. Usernames and UUIDs are copied in lower case into out
 * (SIGNAL_ADDRESS_MAX + 1 bytes). The error says which forms were
 * expected. */
#define SIGNAL_ADDRESS_MAX 42	/* 32 + '.' + 9 */
#define SIGNAL_ADDRESS_EXPECTED \
	"expected an E.164 number (+ and country code), a Signal username (name.01) or an ACI UUID"
int signal_address_check(const char *in, char out[SIGNAL_ADDRESS_MAX + 1], struct err *err);

/* The provider id of a Signal message sent at `timestamp` (its id on the
 * service) to the account `who` (its ACI or number, as the provider that
 * receives the receipts names the sender): "<timestamp>-<24 hex>", the hex
 * a SHA-256 of who, so that receipts (which name the sender and the
 * timestamps) map back, two recipients' messages of one millisecond stay
 * apart, and no address is written in events. Both Signal providers. */
void signal_provider_id(int64_t timestamp, const char *who, char out[64]);

/* A sane address: one '@', local part 1..64 printable ASCII without spaces
 * or specials that need quoting, a domain of dot-separated LDH labels with at
 * least one dot, total at most 254 bytes. */
int email_check(const char *in, struct err *err);

/* An IANA zone name known to the system's tzdata (via libical). */
int tz_check(const char *name, struct err *err);

/* ISO-8601 date-time "YYYY-MM-DDTHH:MM[:SS[.fff]]" with "Z" or "+HH:MM"
 * (absolute), or without an offset, then local to zone `tz` (which must be
 * non-NULL for such a time: "time has no offset and no time zone").
 * Result in Unix milliseconds. */
int time_parse_iso8601(const char *s, const char *tz, int64_t *ms, struct err *err);

/* A BCP 47 language tag of the shapes templates are kept in: language (2-3
 * letters), optional script (4 letters, "zh-Hant"), optional region (2
 * letters or 3 digits: "es-MX", "es-419"). Writes the canonical case
 * (RFC 5646 2.1.1: "es-MX", "zh-Hant-TW") into out; -1 for anything else. */
#define LANG_TAG_MAX 16
int lang_tag_normalise(const char *s, char out[LANG_TAG_MAX]);

/* Formats Unix ms as "2026-11-22T19:03:11.250Z" (25 bytes with NUL). */
void time_format_utc(int64_t ms, char out[32]);

#endif
