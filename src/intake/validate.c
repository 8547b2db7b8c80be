/* validate.c: addresses, zones and times from outside.
 *
 * Every function here judges one value and says what is wrong with it
 * without naming the field; job_parse.c and the config code add the field.
 * All parsing is by hand, byte by byte: no sscanf/strtol locale or
 * whitespace leniency ("+1 213" must not pass as a number). */
#include "validate.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "tz.h"
#include "quote.h"

/* "what value", the value quoted in msg only (pub is "what" without its colon): `not an E.164 number: "323-555"`. */
static int fail_quoted(struct err *err, const char *what, const char *value)
{
	char q[QUOTE_MAX];

	quote_value(q, sizeof(q), value);
	err_detail(err, what, "%s %s", what, q);
	if (err != NULL && strlen(err->pub) > 0 && err->pub[strlen(err->pub) - 1] == ':')
		err->pub[strlen(err->pub) - 1] = '\0';	/* no value follows in pub */
	return -1;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ---- E.164 ------------------------------------------------------------ */

/* ITU-T E.164 assigned country codes (the "List of ITU-T Recommendation
 * E.164 assigned country codes" annexed to the ITU Operational Bulletin),
 * geographic ones and the networks where a person holds a number
 * (Inmarsat 870, satellite 881, international networks 882/883). Left out:
 * spare codes, codes for services rather than subscribers (800 freephone,
 * 808 shared cost, 878 UPT, 888 OCHA, 979 premium rate), 388 (ETNS,
 * withdrawn) and 997 (reserved for Kazakhstan, never brought into use:
 * Kazakhstan kept +7). The set is prefix-free, so with a first digit of 1-9
 * the value of the leading 1, 2 or 3 digits tells the length. Sorted. */
static const short e164_country_codes[] = {
	1, 7,						/* NANP; Russia, Kazakhstan */
	20, 27,						/* zone 2 */
	30, 31, 32, 33, 34, 36, 39,			/* zone 3 */
	40, 41, 43, 44, 45, 46, 47, 48, 49,		/* zone 4 */
	51, 52, 53, 54, 55, 56, 57, 58,			/* zone 5 */
	60, 61, 62, 63, 64, 65, 66,			/* zone 6 */
	81, 82, 84, 86,					/* zone 8 */
	90, 91, 92, 93, 94, 95, 98,			/* zone 9 */
	211, 212, 213, 216, 218,			/* South Sudan .. Libya */
	220, 221, 222, 223, 224, 225, 226, 227, 228, 229,
	230, 231, 232, 233, 234, 235, 236, 237, 238, 239,
	240, 241, 242, 243, 244, 245, 246, 247, 248, 249,
	250, 251, 252, 253, 254, 255, 256, 257, 258,	/* 259 spare */
	260, 261, 262, 263, 264, 265, 266, 267, 268, 269,
	290, 291, 297, 298, 299,			/* St Helena .. Greenland */
	350, 351, 352, 353, 354, 355, 356, 357, 358, 359,
	370, 371, 372, 373, 374, 375, 376, 377, 378, 379, /* 379 Vatican */
	380, 381, 382, 383, 385, 386, 387, 389,		/* 383 Kosovo */
	420, 421, 423,					/* CZ, SK, LI */
	500, 501, 502, 503, 504, 505, 506, 507, 508, 509,
	590, 591, 592, 593, 594, 595, 596, 597, 598, 599,
	670, 672, 673, 674, 675, 676, 677, 678, 679,	/* 671 spare (Guam is +1) */
	680, 681, 682, 683, 685, 686, 687, 688, 689,	/* 684 spare (+1 684) */
	690, 691, 692,					/* Tokelau, FSM, Marshall Is. */
	850, 852, 853, 855, 856,			/* KP, HK, MO, KH, LA */
	870,						/* Inmarsat */
	880, 881, 882, 883, 886,			/* BD, GMSS, networks, TW */
	960, 961, 962, 963, 964, 965, 966, 967, 968,
	970, 971, 972, 973, 974, 975, 976, 977,
	992, 993, 994, 995, 996, 998,
};

static int country_code_len(const char *digits)
{
	size_t n = sizeof(e164_country_codes) / sizeof(e164_country_codes[0]);
	int value = 0, len;

	for (len = 1; len <= 3; len++) {
		size_t i;

		value = value * 10 + (digits[len - 1] - '0');
		for (i = 0; i < n; i++)
			if (e164_country_codes[i] == value)
				return len;
	}
	return 0;
}

/* NANP numbering rules (ATIS-0300076 / NANPA): NPA-NXX-XXXX; NPA first digit
 * 2-9, not N11 (service codes), second digit not 9 (reserved for
 * expansion); NXX first digit 2-9, not N11. 555-01XX is the fictional
 * range and valid here on purpose. d points at the 10 digits after "1". */
static int nanp_ok(const char *d)
{
	if (d[0] < '2' || (d[1] == '1' && d[2] == '1') || d[1] == '9')
		return 0;
	if (d[3] < '2' || (d[4] == '1' && d[5] == '1'))
		return 0;
	return 1;
}

int phone_text_check(const char *to, const char *body, struct err *err)
{
	char e164[PHONE_E164_MAX + 1];

	if (phone_check_e164(to, e164, err) != 0) {
		err_prefix(err, "to");
		return -1;
	}
	if (body[0] == '\0')
		return err_public(err, "body: empty");
	return 0;
}

int phone_check_e164(const char *in, char out[PHONE_E164_MAX + 1], struct err *err)
{
	char num[PHONE_E164_MAX + 1];
	size_t n, i;

	if (in == NULL || in[0] != '+')
		return fail_quoted(err, "not an E.164 number:", in);
	n = strlen(in + 1);
	if (n < 8 || n > 15 || in[1] == '0')
		return fail_quoted(err, "not an E.164 number:", in);
	for (i = 1; i <= n; i++)
		if (!is_digit(in[i]))
			return fail_quoted(err, "not an E.164 number:", in);
	memcpy(num, in, n + 2);

	/* Mexico dropped the mobile "1" after +52 in 2019 (IFT numbering plan);
	 * +52 1 + 10 digits still arrives from old address books and is the
	 * same phone as +52 + 10 digits. Mexican national numbers never start
	 * with 1, so the rewrite cannot merge two different numbers. */
	if (n == 13 && memcmp(num + 1, "521", 3) == 0) {
		memmove(num + 3, num + 4, n - 2);
		n--;
	}

	if (country_code_len(num + 1) == 0)
		return fail_quoted(err, "unknown country code:", in);
	if (num[1] == '1' && (n != 11 || !nanp_ok(num + 2)))
		return fail_quoted(err, "not a valid North American number:", in);
	memcpy(out, num, n + 2);
	return 0;
}

/* ---- Signal ----------------------------------------------------------- */

/* An ACI: a UUID, 8-4-4-4-12 hex digits (RFC 9562 4), kept in lower case
 * as signal-cli writes them. */
static int signal_uuid(const char *in, char *out)
{
	static const int dash[] = { 8, 13, 18, 23 };
	size_t d = 0;

	if (strlen(in) != 36)
		return -1;
	for (size_t i = 0; i < 36; i++) {
		char c = in[i];

		if (d < 4 && (int)i == dash[d]) {
			if (c != '-')
				return -1;
			d++;
		} else if (is_digit(c) || (c >= 'a' && c <= 'f')) {
		} else if (c >= 'A' && c <= 'F') {
			c = (char)(c - 'A' + 'a');
		} else {
			return -1;
		}
		out[i] = c;
	}
	out[36] = '\0';
	return 0;
}

/* A username as Signal's apps and libsignal (usernames crate) accept it:
 * a nickname of 3..32 of [a-z0-9_] not starting with a digit, '.', and a
 * discriminator of 2..9 digits that is not zero and has no leading zero
 * beyond two digits ("01" yes, "001" and "00" no). Usernames are case
 * insensitive: kept in lower case. */
static int signal_username(const char *in, char *out)
{
	const char *dot = strrchr(in, '.');
	size_t nick, disc;

	if (dot == NULL)
		return -1;
	nick = (size_t)(dot - in);
	disc = strlen(dot + 1);
	if (nick < 3 || nick > 32 || is_digit(in[0]) || disc < 2 || disc > 9)
		return -1;
	for (size_t i = 0; i < nick; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '_'))
			return -1;
		out[i] = c;
	}
	for (size_t i = 0; i < disc; i++)
		if (!is_digit(dot[1 + i]))
			return -1;
	if (strspn(dot + 1, "0") == disc || (disc > 2 && dot[1] == '0'))
		return -1;
	memcpy(out + nick, dot, disc + 2);
	return 0;
}

int signal_address_check(const char *in, char out[SIGNAL_ADDRESS_MAX + 1], struct err *err)
{
	char e164[PHONE_E164_MAX + 1];

	if (in == NULL)
		return fail_quoted(err, SIGNAL_ADDRESS_EXPECTED ":", in);
	if (in[0] == '+') {
		if (phone_check_e164(in, e164, err) != 0)
			return -1;
		memcpy(out, e164, strlen(e164) + 1);
		return 0;
	}
	if (strlen(in) <= SIGNAL_ADDRESS_MAX &&
	    (signal_uuid(in, out) == 0 || signal_username(in, out) == 0))
		return 0;
	return fail_quoted(err, SIGNAL_ADDRESS_EXPECTED ":", in);
}

/* ---- email ------------------------------------------------------------ */

/* atext of RFC 5322 3.2.3: what a dot-atom local part may hold unquoted. */
static int is_atext(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
	       c == '-';
}

/* RFC 5321 4.5.3.1 limits (local part 64, address 254 on the wire) and
 * RFC 1035 labels. Quoted local parts, IP literals and non-ASCII addresses
 * are refused: no provider pregon targets handles them reliably. */
int email_check(const char *in, struct err *err)
{
	const char *at, *p, *label;
	size_t len, local_len;
	int labels = 0, tld_all_digits = 1;

	if (in == NULL)
		return fail_quoted(err, "not an email address:", in);
	len = strlen(in);
	at = strchr(in, '@');
	if (len > 254 || at == NULL || strchr(at + 1, '@') != NULL)
		return fail_quoted(err, "not an email address:", in);
	local_len = (size_t)(at - in);
	if (local_len < 1 || local_len > 64 || in[0] == '.' || at[-1] == '.')
		return fail_quoted(err, "not an email address:", in);
	for (p = in; p < at; p++)
		if (!(is_atext(*p) || (*p == '.' && p[1] != '.')))
			return fail_quoted(err, "not an email address:", in);

	label = at + 1;
	for (p = label;; p++) {
		if (*p == '.' || *p == '\0') {
			size_t ll = (size_t)(p - label);

			if (ll < 1 || ll > 63 || label[0] == '-' || p[-1] == '-')
				return fail_quoted(err, "not an email address:", in);
			labels++;
			if (*p == '\0')
				break;
			label = p + 1;
			tld_all_digits = 1;
			continue;
		}
		if (!is_ldh(*p))
			return fail_quoted(err, "not an email address:", in);
		if (!is_digit(*p))
			tld_all_digits = 0;
	}
	/* One dot at least (no bare "localhost"), and an all-digit last label
	 * means a dotted IP address, not a domain. */
	if (labels < 2 || tld_all_digits)
		return fail_quoted(err, "not an email address:", in);
	return 0;
}

/* ---- zones ------------------------------------------------------------ */

int tz_check(const char *name, struct err *err)
{
	if (!tz_exists(name))
		return fail_quoted(err, "unknown time zone", name);
	return 0;
}

/* ---- times ------------------------------------------------------------ */

/* n digits at *p into *v; advances *p. */
static int take_digits(const char **p, int n, int *v)
{
	int i, x = 0;

	for (i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return -1;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return 0;
}

static int take_char(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

static int time_range_fail(struct err *err, const char *s, const char *what)
{
	char q[QUOTE_MAX];

	quote_value(q, sizeof(q), s);
	err_detail(err, "not an ISO-8601 time", "not an ISO-8601 time: %s (%s)", q, what);
	/* what is one of this file's constant texts. */
	snprintf(err->pub, sizeof(err->pub), "not an ISO-8601 time (%s)", what);
	return -1;
}

/* RFC 3339 section 5.6 profile of ISO 8601, strictly: "T" and "Z" upper
 * case, seconds optional (producers write 08:30), no leap second (60), an
 * offset of +HH:MM or -HH:MM up to 18:00 (-00:00 is read as UTC). */
int time_parse_iso8601(const char *s, const char *tz, int64_t *ms, struct err *err)
{
	const char *p = s;
	struct tz_wall w;
	int frac_ms = 0, off_sign = 0, off_h = 0, off_m = 0, have_offset = 0;

	if (s == NULL)
		return fail_quoted(err, "not an ISO-8601 time:", s);
	memset(&w, 0, sizeof(w));
	if (take_digits(&p, 4, &w.year) < 0 || take_char(&p, '-') < 0 ||
	    take_digits(&p, 2, &w.month) < 0 || take_char(&p, '-') < 0 ||
	    take_digits(&p, 2, &w.day) < 0 || take_char(&p, 'T') < 0 ||
	    take_digits(&p, 2, &w.hour) < 0 || take_char(&p, ':') < 0 ||
	    take_digits(&p, 2, &w.minute) < 0)
		return fail_quoted(err, "not an ISO-8601 time:", s);
	if (*p == ':') {
		p++;
		if (take_digits(&p, 2, &w.second) < 0)
			return fail_quoted(err, "not an ISO-8601 time:", s);
		if (*p == '.') {
			int nd = 0, scale = 100;

			p++;
			while (is_digit(*p)) {
				if (++nd > 9)
					return fail_quoted(err, "not an ISO-8601 time:", s);
				/* Milliseconds kept; finer digits truncated. */
				if (scale > 0) {
					frac_ms += (*p - '0') * scale;
					scale /= 10;
				}
				p++;
			}
			if (nd == 0)
				return fail_quoted(err, "not an ISO-8601 time:", s);
		}
	}
	if (*p == 'Z') {
		p++;
		have_offset = 1;
	} else if (*p == '+' || *p == '-') {
		off_sign = *p == '+' ? 1 : -1;
		p++;
		if (take_digits(&p, 2, &off_h) < 0 || take_char(&p, ':') < 0 ||
		    take_digits(&p, 2, &off_m) < 0)
			return fail_quoted(err, "not an ISO-8601 time:", s);
		have_offset = 1;
	}
	if (*p != '\0')
		return fail_quoted(err, "not an ISO-8601 time:", s);

	if (w.year < 1970 || w.year > 9999)
		return time_range_fail(err, s, "year must be 1970..9999");
	if (w.month < 1 || w.month > 12)
		return time_range_fail(err, s, "month out of range");
	if (w.day < 1 || w.day > tz_days_in_month(w.year, w.month))
		return time_range_fail(err, s, "no such day");
	if (w.hour > 23)
		return time_range_fail(err, s, "hour out of range");
	if (w.minute > 59)
		return time_range_fail(err, s, "minute out of range");
	if (w.second > 59)
		return time_range_fail(err, s, "second out of range");
	if (off_m > 59 || off_h * 60 + off_m > 18 * 60)
		return time_range_fail(err, s, "offset out of range");
	w.msec = frac_ms;

	if (!have_offset) {
		if (tz == NULL)
			return err_public(err, "time has no offset and no time zone");
		if (!tz_exists(tz))
			return fail_quoted(err, "unknown time zone", tz);
		return tz_local_to_utc(tz, &w, ms, err);
	}
	*ms = ((tz_days_from_civil(w.year, w.month, w.day) * 86400 +
		w.hour * 3600 + w.minute * 60 + w.second) -
	       (int64_t)off_sign * (off_h * 3600 + off_m * 60)) * 1000 + w.msec;
	return 0;
}

/* ---- formatting ------------------------------------------------------- */

void time_format_utc(int64_t ms, char out[32])
{
	int64_t secs = ms / 1000, days, rem, y;
	int msec = (int)(ms % 1000), m, d;

	if (msec < 0) {
		msec += 1000;
		secs--;
	}
	days = secs / 86400;
	rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	tz_civil_from_days(days, &y, &m, &d);
	snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
		 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), msec);
}

static int is_alpha_ascii(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower_ascii(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static char upper_ascii(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

int lang_tag_normalise(const char *s, char out[LANG_TAG_MAX])
{
	size_t n = 0, i, len = strlen(s);
	const char *p = s;

	for (i = 0; i < 3 && is_alpha_ascii(p[i]); i++)
		;
	if (i < 2 || len > 15)
		return -1;
	for (; n < i; n++)
		out[n] = lower_ascii(p[n]);
	p += i;
	if (*p == '-' && is_alpha_ascii(p[1]) && is_alpha_ascii(p[2]) && is_alpha_ascii(p[3]) &&
	    is_alpha_ascii(p[4]) && (p[5] == '-' || p[5] == '\0')) {
		out[n++] = '-';
		out[n++] = upper_ascii(p[1]);
		out[n++] = lower_ascii(p[2]);
		out[n++] = lower_ascii(p[3]);
		out[n++] = lower_ascii(p[4]);
		p += 5;
	}
	if (*p == '-') {
		if (is_alpha_ascii(p[1]) && is_alpha_ascii(p[2]) && p[3] == '\0') {
			out[n++] = '-';
			out[n++] = upper_ascii(p[1]);
			out[n++] = upper_ascii(p[2]);
			p += 3;
		} else if (p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
			   p[3] >= '0' && p[3] <= '9' && p[4] == '\0') {
			memcpy(out + n, p, 4);
			n += 4;
			p += 4;
		} else {
			return -1;
		}
	}
	if (*p != '\0')
		return -1;
	out[n] = '\0';
	return 0;
}

void signal_provider_id(int64_t timestamp, const char *who, char out[64])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char h[25];

	if (EVP_Digest(who, strlen(who), md, &n, EVP_sha256(), NULL) != 1 || n < 12)
		memset(md, 0, 12);
	for (int i = 0; i < 12; i++) {
		h[2 * i] = hex[md[i] >> 4];
		h[2 * i + 1] = hex[md[i] & 15];
	}
	h[24] = '\0';
	snprintf(out, 64, "%lld-%s", (long long)timestamp, h);
}
