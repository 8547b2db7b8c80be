/* fuzz_sms_segments.c: libFuzzer target for SMS segment counting
 * (src/sms_segments.c), which every message text and template output goes
 * through before it is billed.
 *
 * Each input is counted twice:
 * - as it is, raw bytes (mostly invalid UTF-8 or UCS-2);
 * - mapped to text, each byte picking one character: bytes below 0xf0 a
 *   character of the GSM-7 tables, the others one outside them (ç, a
 *   Cyrillic letter, an emoji, a curly quote). Random bytes are rarely
 *   160 valid GSM-7 characters; this reaches the packing edges at once.
 *
 * Beyond "no crash, no UB" it checks:
 * - on success: segments >= 1, units >= 0, per_segment is 160/153 for
 *   GSM-7 and 70/67 for UCS-2, the single size exactly when one segment
 *   holds the text; a multi-segment text does not fit one message, fits
 *   its segments (segments * per_segment >= units), and needs them all
 *   (each full segment loses at most one unit to packing);
 * - on failure: *out untouched;
 * - the result, and whether the text is accepted at all, equals a slow
 *   reference written here from the standards in another way: UTF-8
 *   checked by re-encoding each code point, the GSM-7 tables as UTF-8
 *   strings in TS 23.038 order, and segments counted by padding: a
 *   2-unit character that would start on a segment's last unit is pushed
 *   to the next one, and the padded length is divided up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sms_segments.h"

/* 3GPP TS 23.038 6.2.1, in code order 0x00..0x7f without 0x1B (the
 * escape), and 6.2.1.1, the extension table. */
static const char ref_default[] =
	"@\xc2\xa3$\xc2\xa5\xc3\xa8\xc3\xa9\xc3\xb9\xc3\xac\xc3\xb2\xc3\x87\n\xc3\x98\xc3\xb8\r\xc3\x85\xc3\xa5"
	"\xce\x94_\xce\xa6\xce\x93\xce\x9b\xce\xa9\xce\xa0\xce\xa8\xce\xa3\xce\x98\xce\x9e"
	"\xc3\x86\xc3\xa6\xc3\x9f\xc3\x89"
	" !\"#\xc2\xa4%&'()*+,-./0123456789:;<=>?"
	"\xc2\xa1" "ABCDEFGHIJKLMNOPQRSTUVWXYZ\xc3\x84\xc3\x96\xc3\x91\xc3\x9c\xc2\xa7"
	"\xc2\xbf" "abcdefghijklmnopqrstuvwxyz\xc3\xa4\xc3\xb6\xc3\xb1\xc3\xbc\xc3\xa0";
static const char ref_extension[] = "\f^{}\\[~]|\xe2\x82\xac";

/* Characters outside GSM-7 for the mapped text. */
static const char *const ref_other[] = {
	"\xc3\xa7", "\xd0\xb6", "\xf0\x9f\x98\x80", "\xe2\x80\x99",
};

static uint32_t gsm_cp[160];
static size_t n_default, n_gsm;

/* RFC 3629 encoding of one scalar value: the canonical form ref_decode
 * compares with, and the mapped text's characters. */
static size_t ref_encode(uint32_t cp, unsigned char *b)
{
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (unsigned char)(0xf0 | (cp >> 18));
	b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	b[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes loosely by the lead byte's bit pattern, then accepts only if
 * the code point is a scalar value other than NUL whose canonical
 * encoding is exactly these bytes (which rules out overlong forms). */
static size_t ref_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char b[4];
	size_t n, k;
	uint32_t v;

	if ((s[0] & 0x80) == 0x00) {
		n = 1;
		v = s[0];
	} else if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		v = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		v = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		v = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[k] & 0x3f);
	}
	if (v == 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	if (ref_encode(v, b) != n || memcmp(b, s, n) != 0)
		return 0;
	*cp = v;
	return n;
}

/* Decodes the tables once, and checks they hold the 127 + 10 characters
 * the standard lists, so that a typo in them cannot pass unnoticed. */
static void ref_init(void)
{
	const unsigned char *s;
	size_t i, n;

	if (n_gsm != 0)
		return;
	s = (const unsigned char *)ref_default;
	for (i = 0; i < sizeof(ref_default) - 1; i += n) {
		n = ref_decode(s + i, sizeof(ref_default) - 1 - i, &gsm_cp[n_gsm]);
		if (n == 0)
			abort();
		n_gsm++;
	}
	n_default = n_gsm;
	s = (const unsigned char *)ref_extension;
	for (i = 0; i < sizeof(ref_extension) - 1; i += n) {
		n = ref_decode(s + i, sizeof(ref_extension) - 1 - i, &gsm_cp[n_gsm]);
		if (n == 0)
			abort();
		n_gsm++;
	}
	if (n_default != 127 || n_gsm != 137)
		abort();
}

/* 1 or 2 septets, 0 when not GSM-7. */
static int ref_septets(uint32_t cp)
{
	size_t i;

	for (i = 0; i < n_gsm; i++)
		if (gsm_cp[i] == cp)
			return i < n_default ? 1 : 2;
	return 0;
}

/* Segments of cap units for characters of widths w[0..n): a 2-unit
 * character that would begin on the last unit of a segment leaves it
 * empty (padding) and begins the next one. */
static int ref_pack(const unsigned char *w, size_t n, int cap)
{
	long pos = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (w[i] == 2 && pos % cap == cap - 1)
			pos++;
		pos += w[i];
	}
	return (int)((pos + cap - 1) / cap);
}

/* The reference count; -1 where sms_segments_count must fail. */
static int ref_count(const unsigned char *s, size_t len, struct sms_segments *out)
{
	unsigned char *gw, *uw;
	size_t i = 0, n = 0;
	int gsm = 1, gunits = 0, uunits = 0, rc = -1;

	gw = malloc(len + 1);
	uw = malloc(len + 1);
	if (gw == NULL || uw == NULL)
		abort();
	while (i < len) {
		uint32_t cp;
		size_t k = ref_decode(s + i, len - i, &cp);

		if (k == 0)
			goto out;
		i += k;
		gw[n] = (unsigned char)ref_septets(cp);
		if (gw[n] == 0)
			gsm = 0;
		uw[n] = cp >= 0x10000 ? 2 : 1;
		gunits += gw[n];
		uunits += uw[n];
		n++;
	}
	if (gsm) {
		out->encoding = SMS_GSM7;
		out->units = gunits;
		out->per_segment = gunits <= 160 ? 160 : 153;
		out->segments = gunits <= 160 ? 1 : ref_pack(gw, n, 153);
	} else {
		out->encoding = SMS_UCS2;
		out->units = uunits;
		out->per_segment = uunits <= 70 ? 70 : 67;
		out->segments = uunits <= 70 ? 1 : ref_pack(uw, n, 67);
	}
	rc = 0;
out:
	free(gw);
	free(uw);
	return rc;
}

/* Counts s[0..len) and aborts on any broken invariant or disagreement
 * with the reference. */
static void check(const unsigned char *s, size_t len)
{
	struct sms_segments out, before, want;
	int rc, wrc, single, concat;

	memset(&out, 0xa5, sizeof(out));
	before = out;
	rc = sms_segments_count((const char *)s, len, &out);
	wrc = ref_count(s, len, &want);
	if (rc != wrc)
		abort();
	if (rc != 0) {
		if (rc != -1 || memcmp(&out, &before, sizeof(out)) != 0)
			abort();
		return;
	}
	if (out.encoding == SMS_GSM7) {
		single = 160;
		concat = 153;
	} else if (out.encoding == SMS_UCS2) {
		single = 70;
		concat = 67;
	} else {
		abort();
	}
	if (out.segments < 1 || out.units < 0 || (size_t)out.units > 2 * len)
		abort();
	if (out.segments == 1) {
		if (out.per_segment != single || out.units > single)
			abort();
	} else {
		if (out.per_segment != concat || out.units <= single)
			abort();
		if ((long)out.segments * out.per_segment < out.units)
			abort();
		if ((long)(out.segments - 1) * (out.per_segment - 1) >= out.units)
			abort();
	}
	if (out.encoding != want.encoding || out.units != want.units ||
	    out.segments != want.segments || out.per_segment != want.per_segment)
		abort();
	if (strcmp(sms_encoding_name(out.encoding), out.encoding == SMS_GSM7 ? "GSM-7" : "UCS-2") != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *text;
	size_t i, len = 0;

	ref_init();
	check(data, size);

	text = malloc(4 * size + 1);
	if (text == NULL)
		return 0;
	for (i = 0; i < size; i++) {
		if (data[i] < 0xf0) {
			len += ref_encode(gsm_cp[data[i] % n_gsm], text + len);
		} else {
			const char *o = ref_other[data[i] % 4];

			memcpy(text + len, o, strlen(o));
			len += strlen(o);
		}
	}
	check(text, len);
	free(text);
	return 0;
}
