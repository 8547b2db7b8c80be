/* cli_phone.c: national phone formats into E.164 for the contacts import
 * (cli_phone.h). A table, not libphonenumber: that is C++ with 2022
 * metadata in Debian 12 (README, "Dependencies"); the import only has to
 * place a number in the country the operator names, and the number's
 * length there is all it checks. The provider remains the final judge. */
#include "cli_phone.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* National significant numbers (ITU-T E.164 national numbering plans) of
 * the countries LA's legal-aid and rapid-response clients come from most
 * often; an operator with another country's file writes +<code>. */
struct cli_phone_country {
	const char *iso;	/* ISO 3166-1 alpha-2 */
	const char *cc;		/* calling code */
	const char *trunk;	/* national prefix dropped before the number, or "" */
	int min, max;		/* digits of the national significant number */
	bool nanp;		/* area code and exchange start with 2-9 */
};

static const struct cli_phone_country countries[] = {
	{ "US", "1", "1", 10, 10, true },
	{ "CA", "1", "1", 10, 10, true },
	{ "MX", "52", "", 10, 10, false },	/* since 2019 no 01/044 prefixes */
	{ "GT", "502", "", 8, 8, false },
	{ "SV", "503", "", 8, 8, false },
	{ "HN", "504", "", 8, 8, false },
	{ "NI", "505", "", 8, 8, false },
	{ "PH", "63", "0", 9, 10, false },
	{ "KR", "82", "0", 8, 10, false },
	{ "VN", "84", "0", 9, 10, false },
	{ "CN", "86", "0", 10, 11, false },
	{ "AM", "374", "0", 8, 8, false },
};

const struct cli_phone_country *cli_phone_country(const char *code)
{
	for (size_t i = 0; i < sizeof(countries) / sizeof(countries[0]); i++)
		if (code != NULL && strcasecmp(code, countries[i].iso) == 0)
			return &countries[i];
	return NULL;
}

const char *cli_phone_countries(void)
{
	return "US, CA, MX, GT, SV, HN, NI, PH, KR, VN, CN, AM";
}

static bool is_separator(char ch)
{
	return ch == ' ' || ch == '.' || ch == '-' || ch == '(' || ch == ')' || ch == '/' ||
	       ch == '\t';
}

/* The digits of in, separators dropped; -1 on any other character (a
 * letter, an extension "x12", a second '+'), or more than cap digits. */
static int digits_of(const char *in, size_t len, bool *plus, char *out, size_t cap)
{
	size_t n = 0;

	*plus = false;
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];

		if (ch == '+' && n == 0 && !*plus)
			*plus = true;
		else if (ch >= '0' && ch <= '9') {
			if (n + 1 >= cap)
				return -1;
			out[n++] = ch;
		} else if (!is_separator(ch))
			return -1;
	}
	out[n] = '\0';
	return (int)n;
}

int cli_phone_normalize(const char *in, size_t len, const struct cli_phone_country *country,
			char *out, size_t out_len, struct err *err)
{
	char d[32];
	const char *nsn;
	bool plus;
	int n = digits_of(in, len, &plus, d, sizeof(d));
	size_t tl = strlen(country->trunk), nl;

	if (n < 0)
		return err_public(err, "not a phone number: only digits, spaces, dots, dashes and "
				  "brackets may stand in it");
	if (plus) {
		if (n < 8 || n > 15 || (size_t)n + 2 > out_len)
			return err_public(err, "not an E.164 number: +%d digits, expected 8 to 15", n);
		snprintf(out, out_len, "+%s", d);
		return 0;
	}
	nsn = d;
	nl = (size_t)n;
	/* The national prefix: NANP's 1 comes only before a whole 10-digit
	 * number ("1 323 555 0100"); elsewhere the 0 opens every national
	 * number (a Korean 010-..., a Mexican number has none). */
	if (country->nanp) {
		if (nl == 11 && d[0] == '1') {
			nsn++;
			nl--;
		}
	} else if (tl > 0 && strncmp(d, country->trunk, tl) == 0) {
		nsn += tl;
		nl -= tl;
	}
	if (nl < (size_t)country->min || nl > (size_t)country->max) {
		if (country->min == country->max)
			return err_public(err, "not a phone number in %s national format: %d digits, "
					  "expected %d", country->iso, n, country->min);
		return err_public(err, "not a phone number in %s national format: %d digits, "
				  "expected %d to %d", country->iso, n, country->min, country->max);
	}
	/* NANP: NXX-NXX-XXXX, N = 2-9 (area codes and exchanges never start
	 * with 0 or 1), so "(123) 555-0100" is a typo, not a number. */
	if (country->nanp && (nsn[0] < '2' || nsn[3] < '2'))
		return err_public(err, "not a phone number in %s national format: area code and "
				  "exchange start with 2 to 9", country->iso);
	if (strlen(country->cc) + nl + 2 > out_len)
		return err_public(err, "not a phone number: too long");
	snprintf(out, out_len, "+%s%.*s", country->cc, (int)nl, nsn);
	return 0;
}
