/* form.h: application/x-www-form-urlencoded decoding.
 *
 * What Twilio posts to the SMS webhooks (status callbacks and inbound
 * messages) and what query strings carry (`GET /v1/events?job=...`).
 * Parsing follows the WHATWG URL standard, section 5.1
 * ("application/x-www-form-urlencoded parsing"): pairs split on '&', empty
 * segments skipped, name and value split on the first '=', a pair without
 * '=' has the empty value, '+' is a space, %XX is a byte. Unlike the
 * standard, which keeps a malformed escape as it is, pregon rejects it:
 * these bytes come from outside and feed a signature check, so anything
 * ambiguous is an error. Decoded names and values must be valid UTF-8
 * without NUL bytes (they become JSON strings, Redis fields and C strings).
 *
 * Every size is bounded (struct form_limits). One parse makes two
 * allocations (the pairs and one buffer for every decoded string); the
 * strings stay valid until form_free(). */
#ifndef PREGON_FORM_H
#define PREGON_FORM_H

#include <stddef.h>

#include "err.h"

struct form_pair {
	const char *name;	/* decoded, NUL-terminated */
	const char *value;	/* decoded, NUL-terminated; "" for "name" or "name=" */
	size_t name_len;
	size_t value_len;
};

struct form_limits {
	size_t max_input;	/* encoded bytes (default 256 KiB) */
	size_t max_pairs;	/* non-empty '&' segments (default 256) */
	size_t max_name;	/* decoded bytes of one name (default 256) */
	size_t max_value;	/* decoded bytes of one value (default 64 KiB) */
};

#define FORM_DEFAULT_MAX_INPUT (256u * 1024u)
#define FORM_DEFAULT_MAX_PAIRS 256u
#define FORM_DEFAULT_MAX_NAME 256u
#define FORM_DEFAULT_MAX_VALUE (64u * 1024u)

struct form {
	struct form_pair *pairs;	/* in the order they appeared */
	size_t n;
	/* private */
	const struct form_pair **sorted;	/* see form_sorted() */
	size_t n_sorted;
	char *buf;			/* every decoded string */
};

void form_limits_default(struct form_limits *lim);

/* Decodes in[0..len) (not NUL-terminated; may be NULL when len is 0) into f.
 * lim NULL means the defaults. Returns 0, or -1 with err set to
 * "form: problem" naming the pair by position (and by name when the name is
 * plain ASCII), never quoting a value: values are message texts and phone
 * numbers. f is always left safe to form_free() (empty on error). */
int form_parse(struct form *f, const char *in, size_t len,
	       const struct form_limits *lim, struct err *err);

/* The value of the first pair named name (case-sensitive, as Twilio's
 * fields are), or NULL. */
const char *form_get(const struct form *f, const char *name);

/* How many pairs are named name, and the value of the idx-th (from 0) of
 * them or NULL: repeated names (MediaUrl lists, checkboxes) stay apart. */
size_t form_count(const struct form *f, const char *name);
const char *form_get_nth(const struct form *f, const char *name, size_t idx);

/* The pairs sorted by name, then by value, comparing bytes (UTF-8 byte
 * order is code point order, which is how Twilio's reference validators
 * sort), with exact duplicates (same name and same value) kept once:
 * twilio-python's RequestValidator.compute_signature appends, for each
 * distinct name in sorted order, name+value for each value in
 * sorted(set(values)). The signature is then URL + the concatenation of
 * name and value of each entry, without separators
 * (https://www.twilio.com/docs/usage/security#validating-requests).
 * *n gets the number of entries; the array lives until form_free(). */
const struct form_pair *const *form_sorted(const struct form *f, size_t *n);

void form_free(struct form *f);

/* Percent-decodes in[0..len) into out, which has room for len bytes and may
 * be in itself (decoding never grows). '+' becomes a space when
 * plus_is_space (form bodies and query strings; not paths). Writes no NUL.
 * Returns the decoded length, or -1 if a '%' is not followed by two hex
 * digits. */
long form_unescape(char *out, const char *in, size_t len, int plus_is_space);

#endif
