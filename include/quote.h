/* quote.h: quoting outside text inside error messages.
 *
 * A rejection reason repeats the offending value (`not an E.164 number:
 * "323-555"`) and travels into the dead-letter stream, events (JSON) and log
 * lines. The value came from outside, so it is shortened, and anything that
 * would break a log line or a JSON string (control characters, invalid
 * UTF-8, quotes) is escaped. Used by every parser of outside input
 * (validate.c, job_parse.c, tz.c, quiet_hours.c, duration.c). */
#ifndef PREGON_QUOTE_H
#define PREGON_QUOTE_H

#include <stddef.h>

#define QUOTE_CHARS 40		/* characters kept from the value */
#define QUOTE_MAX 256		/* buffer that always suffices */

/* Writes `"value"` into out: at most QUOTE_CHARS characters (UTF-8
 * sequences count as one), followed by `...` after the closing quote when
 * shortened. `"` and `\` become \" and \\, \n \r \t stay readable as such,
 * other control bytes, C1 controls and bytes that are not valid UTF-8
 * become \xNN. NULL prints as (null). Always NUL-terminates. */
void quote_value(char *out, size_t out_size, const char *in);

/* The same escaping of control characters and invalid UTF-8, without the
 * quotes (so `"` and `\` are left as they are) or the character limit
 * (only out_size bounds it), for library messages that echo input, such as
 * jansson's "invalid token near '...'". */
void quote_escape(char *out, size_t out_size, const char *in);

#endif
