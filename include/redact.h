/* redact.h: the log's second line of defence against addresses.
 *
 * Callers log ids, states and codes, never an address or a text (README
 * "Logs"); this catches what slips through anyway: anything shaped like a
 * phone number or an email address becomes "[redacted]". It is a
 * recogniser of shapes, not a validator, and errs towards redacting.
 *
 * Phone numbers: at least 7 decimal digits (ASCII, full-width, Arabic-
 * Indic and the other Unicode Nd digits), in groups joined by up to three
 * separators (spaces, no-break and thin spaces, - . / ( ), dashes,
 * full-width punctuation, %20 %2D %28 %29 %2E %2F), after an optional plus
 * ('+', full-width, %2B, \u002b) or '('; glued to a word or not
 * ("call3235550100"), in a tel: URI or not. Emails: a run of local-part
 * characters (RFC 5322 atext, the dot, and any non-ASCII byte)
 * before an at sign ('@', full-width or small at, %40, \u0040) and a
 * domain after it (IDNs in UTF-8 or xn--).
 *
 * Left alone: clock times and ports (a ':' is never a separator: a group
 * of up to 5 digits after "<digit>:" is minutes or a port, a last group
 * of 1 or 2 before ":<digit>" an hour: 127.0.0.1:6379, 12:30,
 * 2026-12-07 13:05:00, 2026-12-07T13:05:00Z); ISO and
 * other dates (three groups of 4, 1-2, 1-2 digits or 1-2, 1-2, 4);
 * dotted IPv4 addresses; one group of digits with a unit after it
 * (3600000ms, 1048576 bytes); counts grouped with '_' (log_count); pregon's
 * own sequence ids at the start of a word (m1234567.1, i1234567): the
 * price is that "m3235550100" passes too, and no other letter does. */
#ifndef PREGON_REDACT_H
#define PREGON_REDACT_H

#include <stddef.h>

/* Writes in[0..in_len) into out with every address replaced, cut to
 * out_size - 1 bytes on a UTF-8 character boundary, NUL-terminated. The
 * whole input is read before anything is cut, so a number that straddles
 * the cut is still recognised. Returns the bytes written (without the
 * NUL). in may hold any bytes; out_size 0 writes nothing. */
size_t redact_copy(char *out, size_t out_size, const char *in, size_t in_len);

#endif
