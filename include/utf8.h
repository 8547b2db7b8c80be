/* utf8.h: well-formed UTF-8 (RFC 3629 section 4: no overlong forms, no
 * surrogates, nothing above U+10FFFF). Outside input (form fields, CSV
 * cells, templates) goes into JSON, Redis and SMS: a bad byte is found
 * where it enters, and said so with its place. */
#ifndef PREGON_UTF8_H
#define PREGON_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the character at s[0..len) (len >= 1) into *cp and returns its
 * length in bytes, or 0 if it does not start a well-formed sequence
 * (a truncated one included). */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* The offset of the first byte that does not start a well-formed
 * sequence, or len when all of s is well formed. NUL is well formed here
 * (callers that refuse it check it themselves). */
size_t utf8_valid_prefix(const char *s, size_t len);

static inline bool utf8_valid(const char *s, size_t len)
{
	return utf8_valid_prefix(s, len) == len;
}

#endif
