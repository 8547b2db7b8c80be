/* quote.c: outside text made safe to repeat in a message (see quote.h). */
#include "quote.h"

#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there
 * are not one (RFC 3629 section 4: no overlongs, no surrogates, <= U+10FFFF). */
static int utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
		unsigned char hi = c == 0xed ? 0x9f : 0xbf;

		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
		unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;

		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

/* Escaped form of the character at s into rep (up to 7 bytes + NUL);
 * returns how many input bytes it covers. Quotes and backslashes only need
 * escaping inside quotes. */
static size_t escape_one(const unsigned char *s, char rep[8], int quoted)
{
	int n = utf8_seq_len(s);

	if (n == 0) {
		snprintf(rep, 8, "\\x%02x", s[0]);
		return 1;
	}
	if (n == 1) {
		switch (quoted ? s[0] : 0) {
		case '"': memcpy(rep, "\\\"", 3); return 1;
		case '\\': memcpy(rep, "\\\\", 3); return 1;
		default: break;
		}
		switch (s[0]) {
		case '\n': memcpy(rep, "\\n", 3); break;
		case '\r': memcpy(rep, "\\r", 3); break;
		case '\t': memcpy(rep, "\\t", 3); break;
		default:
			if (s[0] < 0x20 || s[0] == 0x7f)
				snprintf(rep, 8, "\\x%02x", s[0]);
			else {
				rep[0] = (char)s[0];
				rep[1] = '\0';
			}
		}
		return 1;
	}
	if (n == 2 && s[0] == 0xc2 && s[1] <= 0x9f) {
		/* C1 control (U+0080..U+009F): invisible and terminal-hostile. */
		snprintf(rep, 8, "\\u%04x", (unsigned)s[1]);
		return 2;
	}
	memcpy(rep, s, (size_t)n);
	rep[n] = '\0';
	return (size_t)n;
}

static void quote_core(char *out, size_t out_size, const char *in, int quoted,
		       size_t max_chars)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t used = 0, chars = 0;
	/* Room kept back for the closing quote, "..." and the NUL. */
	size_t tail = quoted ? 5 : 1;
	int cut = 0;

	if (out_size == 0)
		return;
	if (in == NULL) {
		snprintf(out, out_size, "(null)");
		return;
	}
	if (out_size < tail + 1) {
		out[0] = '\0';
		return;
	}
	if (quoted)
		out[used++] = '"';
	while (*s != '\0') {
		char rep[8];
		size_t step, len;

		if (chars == max_chars) {
			cut = 1;
			break;
		}
		step = escape_one(s, rep, quoted);
		len = strlen(rep);
		if (used + len + tail > out_size) {
			cut = 1;
			break;
		}
		memcpy(out + used, rep, len);
		used += len;
		s += step;
		chars++;
	}
	if (quoted) {
		out[used++] = '"';
		if (cut) {
			memcpy(out + used, "...", 3);
			used += 3;
		}
	}
	out[used] = '\0';
}

void quote_value(char *out, size_t out_size, const char *in)
{
	quote_core(out, out_size, in, 1, QUOTE_CHARS);
}

void quote_escape(char *out, size_t out_size, const char *in)
{
	quote_core(out, out_size, in, 0, (size_t)-1);
}
