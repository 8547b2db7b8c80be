/* sms_segments.c: SMS segment counting (see sms_segments.h). */
#include "sms_segments.h"
#include "utf8.h"

#include <stdint.h>
#include <string.h>

/* The characters of the GSM 7-bit default alphabet outside printable
 * ASCII, as Unicode (3GPP TS 23.038 6.2.1; the mapping is unicode.org's
 * ETSI/GSM0338.TXT, except that 0x09 is the capital Ç as the standard
 * draws it: the small ç is not in GSM-7). LF and CR are handled with
 * ASCII. Sorted, for the binary search. */
static const uint16_t gsm7_basic_non_ascii[] = {
	0x00a1,	/* ¡ 0x40 */
	0x00a3,	/* £ 0x01 */
	0x00a4,	/* ¤ 0x24 */
	0x00a5,	/* ¥ 0x03 */
	0x00a7,	/* § 0x5f */
	0x00bf,	/* ¿ 0x60 */
	0x00c4,	/* Ä 0x5b */
	0x00c5,	/* Å 0x0e */
	0x00c6,	/* Æ 0x1c */
	0x00c7,	/* Ç 0x09 */
	0x00c9,	/* É 0x1f */
	0x00d1,	/* Ñ 0x5d */
	0x00d6,	/* Ö 0x5c */
	0x00d8,	/* Ø 0x0b */
	0x00dc,	/* Ü 0x5e */
	0x00df,	/* ß 0x1e */
	0x00e0,	/* à 0x7f */
	0x00e4,	/* ä 0x7b */
	0x00e5,	/* å 0x0f */
	0x00e6,	/* æ 0x1d */
	0x00e8,	/* è 0x04 */
	0x00e9,	/* é 0x05 */
	0x00ec,	/* ì 0x07 */
	0x00f1,	/* ñ 0x7d */
	0x00f2,	/* ò 0x08 */
	0x00f6,	/* ö 0x7c */
	0x00f8,	/* ø 0x0c */
	0x00f9,	/* ù 0x06 */
	0x00fc,	/* ü 0x7e */
	0x0393,	/* Γ 0x13 */
	0x0394,	/* Δ 0x10 */
	0x0398,	/* Θ 0x19 */
	0x039b,	/* Λ 0x14 */
	0x039e,	/* Ξ 0x1a */
	0x03a0,	/* Π 0x16 */
	0x03a3,	/* Σ 0x18 */
	0x03a6,	/* Φ 0x12 */
	0x03a8,	/* Ψ 0x17 */
	0x03a9,	/* Ω 0x15 */
};

/* Septets that code point cp takes in GSM-7: 1 in the default alphabet,
 * 2 in the extension table (escape 0x1B, then the character: TS 23.038
 * 6.2.1.1), 0 when GSM-7 cannot carry it and the text must go as UCS-2.
 * ASCII maps onto itself except for '@' (0x00), '$' (0x02) and '_'
 * (0x11), which are still 1 septet, the backtick, which GSM-7 lacks, and
 * the controls other than LF and CR. */
static int gsm7_septets(uint32_t cp)
{
	size_t lo, hi;

	if (cp >= 0x20 && cp < 0x7f) {
		if (cp == '`')
			return 0;
		if (strchr("^{}\\[~]|", (int)cp) != NULL)
			return 2;
		return 1;
	}
	if (cp == '\n' || cp == '\r')
		return 1;
	if (cp == '\f' || cp == 0x20ac)	/* form feed 0x1B0A, € 0x1B65 */
		return 2;
	if (cp < 0xa1 || cp > 0x3a9)
		return 0;
	lo = 0;
	hi = sizeof(gsm7_basic_non_ascii) / sizeof(gsm7_basic_non_ascii[0]);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (gsm7_basic_non_ascii[mid] == cp)
			return 1;
		if (gsm7_basic_non_ascii[mid] < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Segments of one encoding while the text is read: the units of the whole
 * text, and how many concatenated segments of cap units hold it. */
struct packing {
	int units;
	int segments;	/* started so far, 0 before the first character */
	int used;	/* units in the last one */
};

/* Adds a character of w units. It goes whole into the last segment or
 * starts the next one: the two septets of an extension character and the
 * two halves of a surrogate pair are never split, so a segment may end a
 * unit short. */
static void pack(struct packing *p, int w, int cap)
{
	p->units += w;
	if (p->segments == 0 || p->used + w > cap) {
		p->segments++;
		p->used = 0;
	}
	p->used += w;
}

/* Both encodings are packed as the text is read, since which one applies
 * is only known at its end; the text is read once. */
int sms_segments_count(const char *text, size_t len, struct sms_segments *out)
{
	const unsigned char *s = (const unsigned char *)text;
	struct packing gsm = { 0, 0, 0 }, ucs = { 0, 0, 0 };
	int is_gsm = 1;
	size_t i = 0;

	if (len > SMS_SEGMENTS_MAX_LEN)
		return -1;
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode((const char *)s + i, len - i, &cp);
		int w;

		if (n == 0 || cp == 0)
			return -1;
		i += n;
		if (is_gsm) {
			w = gsm7_septets(cp);
			if (w == 0)
				is_gsm = 0;
			else
				pack(&gsm, w, SMS_GSM7_CONCAT);
		}
		pack(&ucs, cp > 0xffff ? 2 : 1, SMS_UCS2_CONCAT);
	}

	if (is_gsm) {
		out->encoding = SMS_GSM7;
		out->units = gsm.units;
		if (gsm.units <= SMS_GSM7_SINGLE) {
			out->segments = 1;
			out->per_segment = SMS_GSM7_SINGLE;
		} else {
			out->segments = gsm.segments;
			out->per_segment = SMS_GSM7_CONCAT;
		}
	} else {
		out->encoding = SMS_UCS2;
		out->units = ucs.units;
		if (ucs.units <= SMS_UCS2_SINGLE) {
			out->segments = 1;
			out->per_segment = SMS_UCS2_SINGLE;
		} else {
			out->segments = ucs.segments;
			out->per_segment = SMS_UCS2_CONCAT;
		}
	}
	return 0;
}

/* The names Twilio's calculator and console use, so logs read the same. */
const char *sms_encoding_name(enum sms_encoding e)
{
	switch (e) {
	case SMS_GSM7:
		return "GSM-7";
	case SMS_UCS2:
		return "UCS-2";
	}
	return "unknown";
}
