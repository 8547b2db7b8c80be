/* twilio_sig.h: X-Twilio-Signature, computed and checked.
 *
 * Twilio signs every webhook (status callbacks, inbound messages) with
 * HMAC-SHA1 keyed with the account's auth token over the full URL it called
 * (scheme, host, port if any, path and query, exactly as configured) followed
 * by the POST parameters sorted by name (byte order, case-sensitive), each
 * name then value with no separators; the header carries the base64 digest.
 * https://www.twilio.com/docs/usage/webhooks/webhooks-security
 *
 * A name that repeats contributes its distinct values in sorted order: that
 * is what Twilio's own validators compute (twilio-python RequestValidator,
 * twilio-node getExpectedTwilioSignature), so an exact duplicate pair counts
 * once. The documentation is silent on repeated names.
 *
 * The caller decodes the form body (application/x-www-form-urlencoded:
 * '+' is a space, %XX a byte) before passing names and values. */
#ifndef PREGON_TWILIO_SIG_H
#define PREGON_TWILIO_SIG_H

#include <stdbool.h>
#include <stddef.h>

/* Size of the out buffer; a signature is 28 characters and a NUL. */
#define TWILIO_SIG_MAX 64

/* One decoded form field. Both strings are NUL-terminated; an empty field
 * has value "". */
struct twilio_param {
	const char *name;
	const char *value;
};

/* Writes the base64 signature of a form post of params[0..n) to url into
 * out. The params are not reordered (a sorted copy of pointers is made).
 * Returns 0, or -1 when an argument is NULL, the auth token is empty (an
 * empty key would let anyone sign), memory runs out, or OpenSSL fails. */
int twilio_signature(const char *auth_token, const char *url,
		     const struct twilio_param *params, size_t n, char out[TWILIO_SIG_MAX]);

/* true when header (the X-Twilio-Signature value, NULL if absent) is the
 * signature of this request. Compared in constant time (CRYPTO_memcmp);
 * false on any error, an absent header, or one of the wrong length. */
bool twilio_signature_valid(const char *auth_token, const char *url,
			    const struct twilio_param *params, size_t n, const char *header);

/* twilio_signature_valid() over url, else over url with its default port
 * added or removed (twilio_url.h): Twilio may sign either form, and its
 * own validators accept both. */
bool twilio_signature_valid_any_port(const char *auth_token, const char *url,
				     const struct twilio_param *params, size_t n,
				     const char *header);

#endif
