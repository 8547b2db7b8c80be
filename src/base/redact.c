/* redact.c: phone numbers and email addresses out of log lines (redact.h
 * says what counts as one and what is left alone). One pass from left to
 * right; at each position an email is tried first (at the start of a
 * word), then a number, else the character is copied. */
#include "redact.h"

#include <stdint.h>
#include <string.h>

#define MARK "[redacted]"
#define SEP_MAX 3		/* separator characters between two digit groups */
#define SEP_MAX_MARKS 2		/* of which not spaces: " - ", ") ", ". " */

struct text {
	const unsigned char *s;
	size_t n;
};

/* The code point at i and its length in bytes (1..4); an invalid or
 * truncated sequence reads as one byte, code point 0xfffd. */
static size_t utf8_at(const struct text *t, size_t i, uint32_t *cp)
{
	const unsigned char *s = t->s + i;
	size_t left = t->n - i, len, k;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		*cp = 0xfffd;
		return 1;
	}
	if (len > left) {
		*cp = 0xfffd;
		return 1;
	}
	for (k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return 1;
		}
		c = (c << 6) | (s[k] & 0x3f);
	}
	*cp = c;
	return len;
}

/* The zero of each run of ten decimal digits (Unicode general category
 * Nd) in the scripts a phone number may be written in: Arabic-Indic,
 * Extended Arabic-Indic (Persian, Urdu), NKo, the Indic scripts, Thai,
 * Lao, Tibetan, Myanmar, Khmer, Mongolian, Balinese ... and full-width. */
static const uint32_t digit_zeros[] = {
	0x0660, 0x06f0, 0x07c0, 0x0966, 0x09e6, 0x0a66, 0x0ae6, 0x0b66, 0x0be6,
	0x0c66, 0x0ce6, 0x0d66, 0x0de6, 0x0e50, 0x0ed0, 0x0f20, 0x1040, 0x1090,
	0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40,
	0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
	0x104a0, 0x11066, 0x16a60, 0x1e950,
};

/* Length of the decimal digit at i, or 0. */
static size_t digit_at(const struct text *t, size_t i)
{
	uint32_t cp;
	size_t len;

	if (i >= t->n)
		return 0;
	if (t->s[i] >= '0' && t->s[i] <= '9')
		return 1;
	if (t->s[i] < 0x80)
		return 0;
	len = utf8_at(t, i, &cp);
	if (cp >= 0x1d7ce && cp <= 0x1d7ff)	/* mathematical bold, double-struck ... digits */
		return len;
	for (size_t k = 0; k < sizeof(digit_zeros) / sizeof(digit_zeros[0]); k++)
		if (cp >= digit_zeros[k] && cp <= digit_zeros[k] + 9)
			return len;
	return 0;
}

static int starts(const struct text *t, size_t i, const char *lit)
{
	size_t len = strlen(lit);

	return len <= t->n - i && memcmp(t->s + i, lit, len) == 0;
}

static int starts_nocase(const struct text *t, size_t i, const char *lit)
{
	size_t len = strlen(lit);

	if (len > t->n - i)
		return 0;
	for (size_t k = 0; k < len; k++) {
		unsigned char a = t->s[i + k], b = (unsigned char)lit[k];

		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return 1;
}

/* A plus sign as logs meet it: plain, full-width, URL- or JSON-escaped. */
static size_t plus_at(const struct text *t, size_t i)
{
	if (i >= t->n)
		return 0;
	if (t->s[i] == '+')
		return 1;
	if (starts(t, i, "\xef\xbc\x8b"))	/* U+FF0B */
		return 3;
	if (starts_nocase(t, i, "%2b"))
		return 3;
	if (starts_nocase(t, i, "\\u002b"))
		return 6;
	return 0;
}

/* Length of a separator inside a number at i, or 0; *space tells whether
 * it is a space of some kind. */
static size_t sep_at(const struct text *t, size_t i, int *space)
{
	static const char *const spaces[] = {
		" ", "\t", "\xc2\xa0", "\xe2\x80\x87", "\xe2\x80\x89", "\xe2\x80\xaf", "\xe3\x80\x80",
	};
	static const char *const marks[] = {
		"-", ".", "/", "(", ")",
		"\xe2\x80\x90", "\xe2\x80\x91", "\xe2\x80\x92", "\xe2\x80\x93", "\xe2\x80\x94",
		"\xe2\x80\x95", "\xe2\x88\x92",					/* dashes, minus */
		"\xef\xbc\x88", "\xef\xbc\x89", "\xef\xbc\x8d", "\xef\xbc\x8e", "\xef\xbc\x8f", /* full-width */
	};
	static const char *const escaped[] = { "%2d", "%28", "%29", "%2e", "%2f" };

	if (i >= t->n)
		return 0;
	*space = 1;
	for (size_t k = 0; k < sizeof(spaces) / sizeof(spaces[0]); k++)
		if (starts(t, i, spaces[k]))
			return strlen(spaces[k]);
	if (starts(t, i, "%20"))
		return 3;
	*space = 0;
	for (size_t k = 0; k < sizeof(marks) / sizeof(marks[0]); k++)
		if (starts(t, i, marks[k]))
			return strlen(marks[k]);
	for (size_t k = 0; k < sizeof(escaped) / sizeof(escaped[0]); k++)
		if (starts_nocase(t, i, escaped[k]))
			return 3;
	return 0;
}

/* An at sign: plain, full-width (U+FF20), small (U+FE6B), escaped. */
static size_t at_sign_at(const struct text *t, size_t i)
{
	if (i >= t->n)
		return 0;
	if (t->s[i] == '@')
		return 1;
	if (starts(t, i, "\xef\xbc\xa0") || starts(t, i, "\xef\xb9\xab"))
		return 3;
	if (starts(t, i, "%40"))
		return 3;
	if (starts_nocase(t, i, "\\u0040"))
		return 6;
	return 0;
}

static int is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Local-part characters: RFC 5322 3.2.3 atext and the dot, and any
 * non-ASCII byte (internationalised addresses, RFC 6531). "to=ana@x" is
 * redacted whole: '=' is atext, and leaving a part of a local part out
 * would leave that part in the line. */
static int is_local(unsigned char c)
{
	return is_alnum(c) || c >= 0x80 || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

static int is_domain(unsigned char c)
{
	return is_alnum(c) || c >= 0x80 || c == '-' || c == '.';
}

struct run {
	size_t end;		/* after the last digit group kept */
	int digits;		/* digits in the kept groups */
	int groups;
	size_t last_start;	/* the last group kept */
	size_t prev_end;	/* the end of the group before it */
	int sizes[3];		/* digits of the first three groups */
	int only_dots;		/* every separator is '.' */
	int ascii_first;	/* the first group is ASCII digits */
};

/* Digit groups from p (a digit): how far they go and what they look like. */
static void run_scan(const struct text *t, size_t p, struct run *r)
{
	memset(r, 0, sizeof(*r));
	r->only_dots = 1;
	r->ascii_first = 1;
	for (;;) {
		size_t gs = p, d, q, len;
		int nd = 0, count = 0, marks = 0, dots = 1, space;

		while ((d = digit_at(t, p)) > 0) {
			if (r->groups == 0 && d > 1)
				r->ascii_first = 0;
			p += d;
			nd++;
		}
		if (r->groups < 3)
			r->sizes[r->groups] = nd;
		r->groups++;
		r->digits += nd;
		r->prev_end = r->end;
		r->last_start = gs;
		r->end = p;
		q = p;
		while (count < SEP_MAX && (len = sep_at(t, q, &space)) > 0) {
			if (!space)
				marks++;
			if (len != 1 || t->s[q] != '.')
				dots = 0;
			q += len;
			count++;
		}
		if (count == 0 || marks > SEP_MAX_MARKS || digit_at(t, q) == 0)
			return;
		r->only_dots &= dots;	/* separators inside the number only */
		p = q;
	}
}

static size_t number_at(const struct text *t, size_t i, size_t *skip);

struct span {
	size_t start, end;	/* start == t->n: no more addresses */
};

/* A domain character at k: ASCII letters, digits, '-' and '.', and
 * non-ASCII text but not the spaces and dashes that separate digits
 * ("ana@x.org—323 555 0100"). */
static int domain_at(const struct text *t, size_t k)
{
	int space;

	if (t->s[k] < 0x80)
		return is_domain(t->s[k]);
	return sep_at(t, k, &space) == 0 && at_sign_at(t, k) == 0;
}

/* Where the domain that starts at d ends. */
static size_t domain_end(const struct text *t, size_t d)
{
	size_t k = d, skip;

	while (k < t->n && at_sign_at(t, k) == 0 && domain_at(t, k)) {
		if (k > d && t->s[k - 1] == '.') {
			size_t lim;

			/* A label that starts a phone number ends the domain:
			 * "ana@x.org.+1 323 555 0100" must not lose its first
			 * digits to the address and leave the rest below 7. */
			size_t end = number_at(t, k, &skip);

			/* ... unless the label goes on after it ("٥999999Q"). */
			if (end > 0 && (end == t->n || !domain_at(t, end) || t->s[end] == '.'))
				return k - 1;
			if (end > 0)
				skip = end - k;
			/* Not a number: its digits need no second look
			 * (which would make "a@1.1.1.1..." quadratic). */
			for (lim = k + skip; k + 1 < lim && domain_at(t, k + 1) &&
					     at_sign_at(t, k + 1) == 0; k++)
				;
		}
		k++;
	}
	return k;
}

/* k is the end of a domain. When it ends in a digit and a number goes on
 * past it ("ana@x.org3235 550 100", "ana@x.org.1 323 555 0100"), the
 * end of that number: it all goes, or the rest would be too short to be
 * seen as one. Else k. */
static size_t domain_number_end(const struct text *t, size_t d, size_t k)
{
	size_t b = k - 1, q = k, len;
	int count = 0, space;
	struct run r;

	while (b > d && (t->s[b] & 0xc0) == 0x80)
		b--;
	if (digit_at(t, b) != k - b)
		return k;
	while (count < SEP_MAX && (len = sep_at(t, q, &space)) > 0) {
		q += len;
		count++;
	}
	if (digit_at(t, q) == 0)
		return k;
	run_scan(t, q, &r);
	return r.end;
}

/* The first email address whose at sign is at or after from: its local
 * part reaches back over local-part characters, but not before floor
 * (the end of the last redaction, or 0); its domain runs forward. An at
 * sign right at a redaction's end (floor > 0) needs no local part: what
 * was redacted just before it held it. */
static struct span email_next(const struct text *t, size_t from, size_t floor)
{
	struct span e = { t->n, t->n };

	for (size_t a = from; a < t->n; a++) {
		size_t at = at_sign_at(t, a), st = a, k, d;

		if (at == 0)
			continue;
		while (st > floor && is_local(t->s[st - 1]) && at_sign_at(t, st - 1) == 0)
			st--;
		d = a + at;
		for (;;) {
			k = domain_end(t, d);
			/* "a@b.org@c.org": which part is whose is anyone's
			 * guess; the whole run is one redaction. */
			if (k > d && k < t->n && at_sign_at(t, k) > 0) {
				d = k + at_sign_at(t, k);
				continue;
			}
			break;
		}
		while (k > d && (t->s[k - 1] == '.' || t->s[k - 1] == '-'))
			k--;	/* the end of a sentence, not of the domain */
		if ((st < a || (floor > 0 && a == floor)) && k > d) {
			e.start = st;
			k = domain_number_end(t, d, k);
			e.end = k;
			return e;
		}
		a += at - 1;
	}
	return e;
}

static int is_digit_byte(const struct text *t, size_t i)
{
	return i < t->n && t->s[i] >= '0' && t->s[i] <= '9';
}

/* A date: 2026-12-07, 07/12/2026, 2026.12.07. */
static int run_is_date(const struct run *r)
{
	const int *g = r->sizes;

	if (r->groups != 3)
		return 0;
	return (g[0] == 4 && g[1] <= 2 && g[2] <= 2) || (g[0] <= 2 && g[1] <= 2 && g[2] == 4);
}

/* A dotted IPv4 address: four groups of at most three digits, each <= 255. */
static int run_is_ipv4(const struct text *t, size_t start, const struct run *r)
{
	unsigned v = 0;
	int n = 0;

	if (r->groups != 4 || !r->only_dots)
		return 0;
	for (size_t i = start; i <= r->end; i++) {
		if (i < r->end && t->s[i] != '.') {
			if (t->s[i] < '0' || t->s[i] > '9' || ++n > 3)
				return 0;
			v = v * 10 + (unsigned)(t->s[i] - '0');
			continue;
		}
		if (v > 255)
			return 0;
		v = 0;
		n = 0;
	}
	return 1;
}

static int last_group_digits(const struct text *t, const struct run *r)
{
	int nd = 0;

	for (size_t k = r->last_start; k < r->end; k += digit_at(t, k))
		nd++;
	return nd;
}

/* A unit right after a number ("3600000ms", "1048576 bytes"): a
 * duration or a size, not a phone number. One space may come between. */
static int unit_at(const struct text *t, size_t i)
{
	static const char *const units[] = {
		"ms", "us", "ns", "\xc2\xb5s", "s", "sec", "min", "h", "bytes", "B",
	};

	if (i < t->n && t->s[i] == ' ')
		i++;
	for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
		size_t len = strlen(units[k]);

		if (starts(t, i, units[k]) &&
		    (i + len == t->n || !(is_alnum(t->s[i + len]) || t->s[i + len] >= 0x80)))
			return 1;
	}
	return 0;
}

/* 'm' or 'i' at the start of a word, then ASCII digits, and for 'm' one
 * ".<digits>": one of pregon's sequence ids (m<seq>.<n> for messages,
 * i<seq> for inbound, src/lua/), which pass a million after a million
 * jobs and must stay readable in the log. */
static int is_pregon_id(const struct text *t, size_t i, size_t p, const struct run *r)
{
	unsigned char letter = i >= 1 ? t->s[i - 1] : 0;

	if (p != i || !r->ascii_first || (letter != 'm' && letter != 'i'))
		return 0;
	if (i >= 2 && (is_alnum(t->s[i - 2]) || t->s[i - 2] == '_' || t->s[i - 2] >= 0x80))
		return 0;
	if (letter == 'i')
		return r->groups == 1;
	return r->groups == 1 || (r->groups == 2 && r->only_dots);
}

/* At i: the end of a number to redact, or 0 with *skip the bytes to copy
 * as they are (the digits that were looked at and are not a number). */
static size_t number_at(const struct text *t, size_t i, size_t *skip)
{
	size_t p = i, pre = plus_at(t, i);
	struct run r;

	*skip = 0;
	if (pre > 0 && digit_at(t, i + pre) > 0)
		p = i + pre;
	else if (t->s[i] == '(' && digit_at(t, i + 1) > 0)
		p = i + 1;
	else if (digit_at(t, i) == 0)
		return 0;
	run_scan(t, p, &r);
	/* "12:30", "127.0.0.1:6379": a group of up to 5 digits right after
	 * "<digit>:" is minutes, seconds or a port. It is copied alone; what
	 * follows is looked at afresh. A longer group is no port. */
	if (p == i && i >= 2 && t->s[i - 1] == ':' && is_digit_byte(t, i - 2)) {
		size_t e = i;
		int nd = 0;

		while (digit_at(t, e) > 0) {
			e += digit_at(t, e);
			nd++;
		}
		if (nd <= 5) {
			*skip = e - i;
			return 0;
		}
	}
	if (run_is_ipv4(t, p, &r)) {
		*skip = r.end - i;
		return 0;
	}
	/* A last group of one or two digits followed by ":<digit>" is an
	 * hour: "2026-12-07 13:05". */
	if (r.groups > 1 && r.end + 1 < t->n && t->s[r.end] == ':' && is_digit_byte(t, r.end + 1) &&
	    last_group_digits(t, &r) <= 2) {
		size_t e = r.last_start;

		r.digits -= last_group_digits(t, &r);
		r.groups--;
		r.end = r.prev_end;
		*skip = e - i;	/* the last group is looked at again, alone */
	}
	if (r.digits >= 7 && !run_is_date(&r) && !(r.groups == 1 && unit_at(t, r.end)) &&
	    !is_pregon_id(t, i, p, &r)) {
		*skip = 0;
		return r.end;
	}
	if (*skip == 0)
		*skip = r.end - i;
	return 0;
}

struct out {
	char *buf;
	size_t size, len;
	int full;
};

/* Appends s[0..len), cut on a character boundary when it does not fit. */
static void out_put(struct out *o, const unsigned char *s, size_t len, int text)
{
	size_t room = o->size - 1 - o->len;

	if (o->full)
		return;
	if (len > room) {
		len = room;
		/* Not in the middle of a UTF-8 sequence of copied text (a cut
		 * "[redacted]" is harmless). */
		while (text && len > 0 && (s[len] & 0xc0) == 0x80)
			len--;
		o->full = 1;
	}
	memcpy(o->buf + o->len, s, len);
	o->len += len;
}

size_t redact_copy(char *out, size_t out_size, const char *in, size_t in_len)
{
	struct text t = { (const unsigned char *)in, in_len };
	struct out o = { out, out_size, 0, 0 };
	size_t i = 0, end, skip;
	struct span e;

	if (out_size == 0)
		return 0;
	/* The next address is found from its at sign, before anything in
	 * front of it is copied: copying never passes e.start. */
	e = email_next(&t, 0, 0);
	while (i < t.n && !o.full) {
		if (i == e.start) {
			out_put(&o, (const unsigned char *)MARK, sizeof(MARK) - 1, 0);
			i = e.end;
			e = email_next(&t, i, i);
			continue;
		}
		if ((end = number_at(&t, i, &skip)) > 0) {
			/* A number that runs into an address takes it along
			 * ("3235550100ana@x.org"). */
			if (end > e.start)
				end = e.end > end ? e.end : end;
			out_put(&o, (const unsigned char *)MARK, sizeof(MARK) - 1, 0);
			i = end;
			if (e.start < i)
				e = email_next(&t, i, i);
			continue;
		}
		if (skip == 0) {
			uint32_t cp;

			skip = utf8_at(&t, i, &cp);
		}
		if (skip > e.start - i)
			skip = e.start - i;
		out_put(&o, t.s + i, skip, 1);
		i += skip;
	}
	out[o.len] = '\0';
	return o.len;
}
