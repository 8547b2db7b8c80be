/* fuzz_redact.c: libFuzzer target for the log redactor (src/base/redact.c).
 *
 * The input drives a generator: phone numbers (7 to 15 digits, in ASCII,
 * full-width, Arabic-Indic, Persian, Devanagari, Bengali, Thai, Myanmar
 * or mathematical digits, or a mix; grouped by spaces, no-break spaces,
 * dashes, dots, slashes, parentheses, full-width punctuation or %20/%2D;
 * after +, %2B, \u002b, full-width plus, '(', "tel:+" or "00") and email
 * addresses (atext, non-ASCII and IDN local parts and domains; at signs
 * '@', full-width, small, %40, \u0040) embedded in text made of words,
 * punctuation and non-ASCII letters, and never digits or at signs. Every
 * number and address must be redacted, so the check is simple and does
 * not use the redactor's own tables: the output holds no decimal digit of
 * any script the generator writes and no at sign in any form.
 *
 * Generated numbers avoid the shapes redact.h leaves alone on purpose (a
 * date's 4-2-2 groups, a dotted IPv4 address, a unit or ':' right after
 * the number, one lowercase letter glued before it: pregon's ids).
 *
 * It also checks that a cut output is a prefix of the uncut one, within
 * its size, on a character boundary; and, with the first byte odd, feeds
 * the raw input to the redactor for crashes and undefined behaviour. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

#define TEXT_MAX 8192

struct gen {
	const uint8_t *d;
	size_t n, i;
	char text[TEXT_MAX + 64];
	size_t len;
};

static unsigned pick(struct gen *g, unsigned k)
{
	if (g->i >= g->n)
		return 0;
	return g->d[g->i++] % k;
}

static void put(struct gen *g, const char *s)
{
	size_t n = strlen(s);

	if (g->len + n < TEXT_MAX) {
		memcpy(g->text + g->len, s, n);
		g->len += n;
	}
}

static void put_cp(struct gen *g, uint32_t cp)
{
	char b[5] = { 0 };

	if (cp < 0x80)
		b[0] = (char)cp;
	else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
	}
	put(g, b);
}

/* The zero of each digit script written; the check looks for all. */
static const uint32_t zeros[] = {
	0x30, 0xff10, 0x0660, 0x06f0, 0x0966, 0x09e6, 0x0e50, 0x1040, 0x1d7ce, 0x1d7ec,
};
#define N_ZEROS (sizeof(zeros) / sizeof(zeros[0]))

static const char *const fillers[] = {
	" ", "  ", "hola ", "Court ", "Ana L\xc3\xb3pez ", "to=", "from:", "msg=", "tel:",
	"mailto:", "<", ">", "(", ")", ", ", ". ", "; ", "\"", "'", "=", "&", "?", "/",
	"-", " - ", ":", "\xc3\xa9", "\xc3\xb1", "\xe4\xb8\xad\xe6\x96\x87",
	"\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7", "\xc2\xa0", "\t", "_", "#", "[", "]",
	"{", "}", "%", "\\", "\\u", "+", "\xef\xbc\x8b", "\xef\xbc\x8e", "\xef\xbc\x88",
	"call", "Ana", "Tel", "job=alert-", "status ", "\xe2\x80\x8f", "%%", "%B",
};
/* After a number or an address: never ':' (a time) nor a unit. */
static const char *const ends[] = {
	" ", ", ", ".", "; ", "\"", ")", "&", "\n", "<", " hola", "'", "]", "}",
};
static const char *const prefixes[] = {
	"", "", "", "+", "%2B", "%2b", "\\u002b", "\\u002B", "\xef\xbc\x8b", "(", "tel:+", "00",
};
static const char *const seps[] = {
	" ", "-", ".", "/", " - ", ") ", " (", "\xc2\xa0", "\xe2\x80\x93", "\xef\xbc\x8d",
	"%20", "%2D", "\xe3\x80\x80", "\xe2\x80\xaf", "\xe2\x80\x94 ",
};
static const char *const glue[] = { "", "", "", " ", "call", "Ana", "Tel", "x-" };

static void gen_number(struct gen *g)
{
	unsigned total = 7 + pick(g, 9), groups[16], ng = 0, left = total;
	unsigned script = pick(g, N_ZEROS + 1);	/* N_ZEROS: a mix */
	int only_dots = 1;

	while (left > 0 && ng < 16) {
		unsigned k = 1 + pick(g, 5);

		if (k > left)
			k = left;
		groups[ng++] = k;
		left -= k;
	}
	if (left > 0)
		groups[ng - 1] += left;
	/* a date's shape: one group instead */
	if (ng == 3 && ((groups[0] == 4 && groups[1] <= 2 && groups[2] <= 2) ||
			(groups[0] <= 2 && groups[1] <= 2 && groups[2] == 4))) {
		groups[0] = total;
		ng = 1;
	}
	put(g, glue[pick(g, sizeof(glue) / sizeof(glue[0]))]);
	put(g, prefixes[pick(g, sizeof(prefixes) / sizeof(prefixes[0]))]);
	for (unsigned k = 0; k < ng; k++) {
		if (k > 0) {
			const char *s = seps[pick(g, sizeof(seps) / sizeof(seps[0]))];

			if (strcmp(s, ".") != 0)
				only_dots = 0;
			if (ng == 4 && k == 3 && only_dots)
				s = "-";	/* not a dotted IPv4 address */
			put(g, s);
		}
		for (unsigned j = 0; j < groups[k]; j++) {
			unsigned z = script < N_ZEROS ? script : pick(g, N_ZEROS);

			put_cp(g, zeros[z] + pick(g, 10));
		}
	}
	put(g, ends[pick(g, sizeof(ends) / sizeof(ends[0]))]);
}

static void gen_email(struct gen *g)
{
	static const char *const local[] = {
		"a", "n", "Z", "0", "7", ".", "_", "+", "-", "'", "!", "#", "$", "%", "&", "*",
		"/", "=", "?", "^", "`", "{", "|", "}", "~", "\xc3\xa9", "\xc3\xb1",
		"\xe4\xb8\xad", "\xd0\xb4", "\xd9\xa3", "\xef\xbc\x91",
	};
	static const char *const ats[] = {
		"@", "@", "@", "\xef\xbc\xa0", "\xef\xb9\xab", "%40", "\\u0040",
	};
	static const char *const label_start[] = {
		"e", "x", "Q", "3", "\xc3\xb1", "\xe4\xbe\x8b", "xn--", "\xd9\xa5",
	};
	static const char *const label[] = { "a", "m", "9", "-", "\xc3\xa9", "\xe5\xad\x90" };
	unsigned n = 1 + pick(g, 20), labels = 1 + pick(g, 3);

	put(g, glue[pick(g, sizeof(glue) / sizeof(glue[0]))]);
	for (unsigned k = 0; k < n; k++)
		put(g, local[pick(g, sizeof(local) / sizeof(local[0]))]);
	put(g, ats[pick(g, sizeof(ats) / sizeof(ats[0]))]);
	for (unsigned k = 0; k < labels; k++) {
		if (k > 0)
			put(g, ".");
		put(g, label_start[pick(g, sizeof(label_start) / sizeof(label_start[0]))]);
		for (unsigned j = pick(g, 8); j > 0; j--)
			put(g, label[pick(g, sizeof(label) / sizeof(label[0]))]);
		put(g, label_start[pick(g, 4)]);	/* a label ends in a letter or digit */
	}
	put(g, ends[pick(g, sizeof(ends) / sizeof(ends[0]))]);
}

/* The first digit of a generated script or at sign in s[0..n), or NULL. */
static const char *leak(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)s + i;
		uint32_t cp = p[0];
		size_t len = 1;

		if (p[0] == '@' || (i + 3 <= n && memcmp(p, "%40", 3) == 0) ||
		    (i + 6 <= n && (memcmp(p, "\\u0040", 6) == 0)))
			return (const char *)p;
		/* "%2D", "\u002b": the digits of an escape are not a number's */
		if (p[0] == '%' && i + 3 <= n) {
			i += 2;
			continue;
		}
		if (p[0] == '\\' && i + 6 <= n && p[1] == 'u') {
			i += 5;
			continue;
		}
		if (p[0] >= 0xc0) {
			len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
			if (i + len > n)
				break;
			cp = p[0] & (0x3f >> (len - 1));
			for (size_t k = 1; k < len; k++) {
				if ((p[k] & 0xc0) != 0x80) {
					len = 1;	/* a stray lead byte */
					cp = 0xfffd;
					break;
				}
				cp = (cp << 6) | (p[k] & 0x3f);
			}
		}
		if (cp == 0xff20 || cp == 0xfe6b)
			return (const char *)p;
		for (size_t z = 0; z < N_ZEROS; z++)
			if (cp >= zeros[z] && cp <= zeros[z] + 9)
				return (const char *)p;
		i += len - 1;
	}
	return NULL;
}

static char big[TEXT_MAX * 4 + 64], small[TEXT_MAX * 4 + 64];

static void check_cut(const char *in, size_t len, size_t big_len, size_t size, int utf8)
{
	size_t n = redact_copy(small, size, in, len);

	if (size == 0)
		return;
	if (n > size - 1 || small[n] != '\0' || n > big_len || memcmp(small, big, n) != 0)
		abort();
	/* on a character boundary (of valid UTF-8 input) */
	if (utf8 && n < big_len && ((unsigned char)big[n] & 0xc0) == 0x80)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gen g;
	const char *bad;
	size_t n;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		/* raw bytes: no crash, output within bounds, prefix on a cut */
		n = redact_copy(big, sizeof(big), (const char *)data + 1, size - 1);
		if (n >= sizeof(big) || big[n] != '\0')
			abort();
		check_cut((const char *)data + 1, size - 1, n, size > 2 ? data[1] % (size - 1) : 0, 0);
		return 0;
	}
	memset(&g, 0, sizeof(g));
	g.d = data + 1;
	g.n = size - 1;
	while (g.i < g.n && g.len < TEXT_MAX - 256) {
		switch (pick(&g, 4)) {
		case 0: gen_number(&g); break;
		case 1: gen_email(&g); break;
		default:
			put(&g, fillers[pick(&g, sizeof(fillers) / sizeof(fillers[0]))]);
		}
	}
	n = redact_copy(big, sizeof(big), g.text, g.len);
	if ((bad = leak(big, n)) != NULL) {
		fprintf(stderr, "leak at \"%.40s\"\n  in: %.*s\n out: %s\n", bad, (int)g.len, g.text,
			big);
		abort();
	}
	check_cut(g.text, g.len, n, 1 + (size_t)data[0] * 7 % (n + 2), 1);
	return 0;
}
