/* test_sms_segments.c: SMS segment counting (sms_segments.h): which
 * encoding a text goes in and how many messages the carrier bills. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sms_segments.h"

#define EURO "\xe2\x82\xac"	/* U+20AC, GSM-7 escape + 0x65 */
#define EMOJI "\xf0\x9f\x98\x80"	/* U+1F600, a surrogate pair in UTF-16 */
#define ZHE "\xd0\xb6"		/* U+0436 Cyrillic zhe, UCS-2 only */

/* A run of n copies of s (n 0 means once, so that single strings stay
 * short to write). */
struct piece {
	const char *s;
	int n;
};

/* One text, built from up to four pieces so that long texts stay
 * readable, and what it must count as. */
struct seg_case {
	const char *why;	/* where the expectation comes from */
	struct piece text[4];
	enum sms_encoding encoding;
	int units;
	int segments;
	int per_segment;
};

#define GSM SMS_GSM7
#define UCS SMS_UCS2

/* Writes the case's text into buf, NUL-terminated for the messages, and
 * returns its length. */
static size_t build(char *buf, size_t size, const struct seg_case *c)
{
	size_t len = 0, p;

	for (p = 0; p < 4 && c->text[p].s != NULL; p++) {
		size_t k = strlen(c->text[p].s);
		int i, n = c->text[p].n > 0 ? c->text[p].n : 1;

		for (i = 0; i < n; i++) {
			assert_true(len + k < size);
			memcpy(buf + len, c->text[p].s, k);
			len += k;
		}
	}
	buf[len] = '\0';
	return len;
}

/* Counts each case and fails naming the first that differs, with both
 * results, so a table row is easy to find. */
static void run_cases(const struct seg_case *cases, size_t n)
{
	char buf[4096];
	size_t i;

	for (i = 0; i < n; i++) {
		const struct seg_case *c = &cases[i];
		struct sms_segments out;
		size_t len = build(buf, sizeof(buf), c);

		memset(&out, 0x5a, sizeof(out));
		if (sms_segments_count(buf, len, &out) != 0)
			fail_msg("case %zu (%s): rejected", i, c->why);
		if (out.encoding != c->encoding || out.units != c->units ||
		    out.segments != c->segments || out.per_segment != c->per_segment)
			fail_msg("case %zu (%s): got %s units=%d segments=%d per_segment=%d, "
				 "want %s units=%d segments=%d per_segment=%d", i, c->why,
				 sms_encoding_name(out.encoding), out.units, out.segments,
				 out.per_segment, sms_encoding_name(c->encoding), c->units,
				 c->segments, c->per_segment);
	}
}

static void sms_segments_packs_gsm7_septets_without_splitting_escapes(void **state)
{
	static const struct seg_case cases[] = {
		/* TS 23.040: 140 octets hold 160 septets */
		{ "160 ASCII fit one message", { { "a", 160 } }, GSM, 160, 1, 160 },
		/* Twilio's and Braze's docs: "a 161 character message will be
		 * sent as two messages, one with 153 characters and the second
		 * with 8" */
		{ "161 ASCII: 153 + 8", { { "a", 161 } }, GSM, 161, 2, 153 },
		{ "306 ASCII: exactly 2 x 153", { { "a", 306 } }, GSM, 306, 2, 153 },
		{ "307 ASCII: 153 + 153 + 1", { { "a", 307 } }, GSM, 307, 3, 153 },
		/* TS 23.038 6.2.1.1: the euro is escape 0x1B then 0x65 */
		{ "euro alone is 2 septets", { { EURO } }, GSM, 2, 1, 160 },
		{ "80 '{' fill 160 septets", { { "{", 80 } }, GSM, 160, 1, 160 },
		{ "158 + euro = 160: still one", { { "a", 158 }, { EURO } }, GSM, 160, 1, 160 },
		/* 160 characters ending in an extension char are 161 septets */
		{ "159 + euro = 161: two", { { "a", 159 }, { EURO } }, GSM, 161, 2, 153 },
		{ "151 + euro ends segment 1 at exactly 153",
		  { { "a", 151 }, { EURO }, { "a", 153 } }, GSM, 306, 2, 153 },
		/* the escape pair would take septets 153 and 154: it moves whole
		 * to segment 2 and segment 1 holds 152 */
		{ "152 + euro + 151: 152 + 153",
		  { { "a", 152 }, { EURO }, { "a", 151 } }, GSM, 305, 2, 153 },
		{ "152 + euro + 152 = 306 septets but 3 segments, not 306 / 153",
		  { { "a", 152 }, { EURO }, { "a", 152 } }, GSM, 306, 3, 153 },
		{ "81 '{': 76 pairs (152) + 5 pairs", { { "{", 81 } }, GSM, 162, 2, 153 },
		{ "153 '{' = 306 septets: 76 + 76 + 1 pairs", { { "{", 153 } }, GSM, 306, 3, 153 },
		{ "'a' + 152 '{': 153 + 152", { { "a" }, { "{", 152 } }, GSM, 305, 2, 153 },
		/* pregon's Spanish action alert, all in the default alphabet */
		{ "Spanish alert without accents",
		  { { "Actividad de ICE en 5th y Main. Por favor vayan ahora." } }, GSM, 54, 1, 160 },
		/* ¿ 0x60, é 0x05 and ñ 0x7D are in the default alphabet */
		{ "Spanish with the accents GSM-7 has",
		  { { "\xc2\xbfQu\xc3\xa9 pasa? Ma\xc3\xb1" "ana a las 5." } }, GSM, 26, 1, 160 },
		/* 0x09 is the capital C with cedilla */
		{ "capital C cedilla is GSM-7", { { "\xc3\x87" "a va" } }, GSM, 5, 1, 160 },
		{ "each extension char counts 2", { { "[1] {2} ~3~ |4| \\5 ^6 " EURO "7" } },
		  GSM, 35, 1, 160 },
		/* LF 0x0A and CR 0x0D are basic; form feed is escape + 0x0A */
		{ "CR and LF 1 each, form feed 2", { { "a\r\nb\f" } }, GSM, 6, 1, 160 },
		{ "Greek capitals of the default alphabet",
		  { { "\xce\x94\xce\xa6\xce\x93\xce\x9b\xce\xa9\xce\xa0\xce\xa8\xce\xa3\xce\x98\xce\x9e" } },
		  GSM, 10, 1, 160 },
		{ "@ $ _ are 1 septet each (0x00, 0x02, 0x11)", { { "@$_" } }, GSM, 3, 1, 160 },
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void sms_segments_packs_ucs2_code_units_without_splitting_surrogates(void **state)
{
	static const struct seg_case cases[] = {
		/* ç is not in GSM 03.38 (0x09 is the capital Ç) */
		{ "small c cedilla forces UCS-2", { { "Fa\xc3\xa7" "ade" } }, UCS, 6, 1, 70 },
		/* á, í and ó are not in the default alphabet (no shift tables);
		 * ¿ and é are, but one character outside decides */
		{ "Spanish with accents GSM-7 lacks",
		  { { "\xc2\xbf" "D\xc3\xb3nde est\xc3\xa1 la corte? Vayan ah\xc3\xad: "
		      "la audiencia es el mi\xc3\xa9rcoles." } }, UCS, 62, 1, 70 },
		{ "one non-GSM char turns 159 septets into 3 UCS-2 segments",
		  { { "a", 159 }, { "\xc3\xa7" } }, UCS, 160, 3, 67 },
		/* TS 23.040: 140 octets hold 70 UCS-2 characters, 67 with the
		 * concatenation header */
		{ "70 Cyrillic fit one message", { { ZHE, 70 } }, UCS, 70, 1, 70 },
		{ "71 Cyrillic: 67 + 4", { { ZHE, 71 } }, UCS, 71, 2, 67 },
		{ "134: exactly 2 x 67", { { ZHE, 134 } }, UCS, 134, 2, 67 },
		{ "135: 67 + 67 + 1", { { ZHE, 135 } }, UCS, 135, 3, 67 },
		{ "69 ASCII + a-acute = 70", { { "a", 69 }, { "\xc3\xa1" } }, UCS, 70, 1, 70 },
		{ "70 ASCII + a-acute = 71", { { "a", 70 }, { "\xc3\xa1" } }, UCS, 71, 2, 67 },
		/* U+1F600 is a surrogate pair: 2 code units */
		{ "one emoji is 2 units", { { EMOJI } }, UCS, 2, 1, 70 },
		{ "35 emoji fill 70 units", { { EMOJI, 35 } }, UCS, 70, 1, 70 },
		{ "36 emoji: 33 (66 units) + 3", { { EMOJI, 36 } }, UCS, 72, 2, 67 },
		{ "67 emoji = 134 units but 3 segments (33 + 33 + 1)", { { EMOJI, 67 } },
		  UCS, 134, 3, 67 },
		{ "65 + emoji ends segment 1 at exactly 67",
		  { { "a", 65 }, { EMOJI }, { "a", 67 } }, UCS, 134, 2, 67 },
		/* the pair would take units 67 and 68: it moves whole */
		{ "66 + emoji + 66 = 134 units but 3 segments",
		  { { "a", 66 }, { EMOJI }, { "a", 66 } }, UCS, 134, 3, 67 },
		{ "66 + emoji + 65: 66 + 67", { { "a", 66 }, { EMOJI }, { "a", 65 } }, UCS, 133, 2, 67 },
		/* in UCS-2 the euro and '{' are plain code units */
		{ "euro and '{' count 1 unit in UCS-2", { { ZHE EURO "{" } }, UCS, 3, 1, 70 },
		{ "backtick is not GSM-7", { { "a`b" } }, UCS, 3, 1, 70 },
		{ "tab is not GSM-7", { { "a\tb" } }, UCS, 3, 1, 70 },
		/* no Smart Encoding: the curly apostrophe stays */
		{ "right single quote is not GSM-7", { { "don\xe2\x80\x99t" } }, UCS, 5, 1, 70 },
		/* U+2126 OHM SIGN and U+0391 GREEK CAPITAL ALPHA look like GSM
		 * characters but are not the code points it maps */
		{ "ohm sign is not Omega", { { "\xe2\x84\xa6" } }, UCS, 1, 1, 70 },
		{ "Greek capital Alpha is not A", { { "\xce\x91" } }, UCS, 1, 1, 70 },
		{ "no-break space is not GSM-7", { { "a\xc2\xa0" "b" } }, UCS, 3, 1, 70 },
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void sms_segments_agrees_with_published_calculator_examples(void **state)
{
	static const struct seg_case cases[] = {
		/* github.com/TwilioDevEd/message-segment-calculator,
		 * tests/index.test.js: "{" + 158 digits is 1120 bits (160
		 * septets), one more digit makes 2 segments; an emoji + 68
		 * digits is 70 UCS-2 units (1120 bits), one more makes 2 */
		{ "Twilio: GSM-7 with escape characters in one segment",
		  { { "{23456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
		      "123456789012345678901234567890123456789012345678901234567890123456789" } },
		  GSM, 160, 1, 160 },
		{ "Twilio: GSM-7 with escape characters in two segments",
		  { { "{23456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
		      "1234567890123456789012345678901234567890123456789012345678901234567890" } },
		  GSM, 161, 2, 153 },
		{ "Twilio: UCS-2 message in one segment",
		  { { "\xf0\x9f\x98\x9c" "23456789012345678901234567890123456789012345678901234567890123456789" } },
		  UCS, 70, 1, 70 },
		{ "Twilio: UCS-2 message in two segments",
		  { { "\xf0\x9f\x98\x9c" "234567890123456789012345678901234567890123456789012345678901234567890" } },
		  UCS, 71, 2, 67 },
		/* Bandwidth's FAQ (github.com/Bandwidth/faq, messaging/longSMS.md):
		 * 83 characters are 1 segment; with a unicorn emoji, 2 */
		{ "Bandwidth: standard message",
		  { { "What is cooler than a unicorn that can shoot lasers? This test message, thats what!" } },
		  GSM, 83, 1, 160 },
		{ "Bandwidth: message with an emoji",
		  { { "What is cooler than a unicorn \xf0\x9f\xa6\x84 that can shoot lasers? "
		      "This test message, thats what!" } }, UCS, 86, 2, 67 },
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* The default alphabet transcribed from the 3GPP TS 23.038 6.2.1 table,
 * indexed by GSM code; NULL at 0x1B, the escape to the extension table. */
static const char *const gsm7_default[128] = {
	"@", "\xc2\xa3", "$", "\xc2\xa5", "\xc3\xa8", "\xc3\xa9", "\xc3\xb9", "\xc3\xac",
	"\xc3\xb2", "\xc3\x87", "\n", "\xc3\x98", "\xc3\xb8", "\r", "\xc3\x85", "\xc3\xa5",
	"\xce\x94", "_", "\xce\xa6", "\xce\x93", "\xce\x9b", "\xce\xa9", "\xce\xa0", "\xce\xa8",
	"\xce\xa3", "\xce\x98", "\xce\x9e", NULL, "\xc3\x86", "\xc3\xa6", "\xc3\x9f", "\xc3\x89",
	" ", "!", "\"", "#", "\xc2\xa4", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/",
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?",
	"\xc2\xa1", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",
	"P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z",
	"\xc3\x84", "\xc3\x96", "\xc3\x91", "\xc3\x9c", "\xc2\xa7",
	"\xc2\xbf", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
	"p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
	"\xc3\xa4", "\xc3\xb6", "\xc3\xb1", "\xc3\xbc", "\xc3\xa0",
};

/* TS 23.038 6.2.1.1: the extension table's characters, after 0x1B at
 * 0x0A (form feed), 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65. */
static const char *const gsm7_extension[] = {
	"\f", "^", "{", "}", "\\", "[", "~", "]", "|", "\xe2\x82\xac",
};

/* RFC 3629 encoding of one scalar value, to walk all of Unicode. */
static size_t utf8_encode(uint32_t cp, char *buf)
{
	if (cp < 0x80) {
		buf[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		buf[0] = (char)(0xc0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		buf[0] = (char)(0xe0 | (cp >> 12));
		buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	buf[0] = (char)(0xf0 | (cp >> 18));
	buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	buf[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Septets the transcribed tables give the character buf[0..len), 0 if
 * neither has it. */
static int table_septets(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < 128; i++)
		if (gsm7_default[i] != NULL && strlen(gsm7_default[i]) == len &&
		    memcmp(gsm7_default[i], buf, len) == 0)
			return 1;
	for (i = 0; i < sizeof(gsm7_extension) / sizeof(gsm7_extension[0]); i++)
		if (strlen(gsm7_extension[i]) == len && memcmp(gsm7_extension[i], buf, len) == 0)
			return 2;
	return 0;
}

static void sms_segments_takes_exactly_the_gsm7_tables_of_ts_23_038(void **state)
{
	char buf[4];
	uint32_t cp;
	int gsm = 0;

	(void)state;
	/* every Unicode scalar value but NUL, alone: the tables' 127 + 10
	 * characters are GSM-7 with their width, everything else UCS-2 */
	for (cp = 1; cp <= 0x10ffff; cp++) {
		struct sms_segments out;
		size_t len;
		int want;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		len = utf8_encode(cp, buf);
		/* the tables hold nothing else above U+03FF (a shortcut:
		 * comparing every code point with them all takes seconds) */
		want = (cp < 0x400 || cp == 0x20ac) ? table_septets(buf, len) : 0;
		if (sms_segments_count(buf, len, &out) != 0)
			fail_msg("U+%04X rejected", (unsigned)cp);
		if (want != 0) {
			gsm++;
			if (out.encoding != SMS_GSM7 || out.units != want)
				fail_msg("U+%04X: got %s %d, want GSM-7 %d", (unsigned)cp,
					 sms_encoding_name(out.encoding), out.units, want);
		} else if (out.encoding != SMS_UCS2 || out.units != (cp > 0xffff ? 2 : 1)) {
			fail_msg("U+%04X: got %s %d, want UCS-2", (unsigned)cp,
				 sms_encoding_name(out.encoding), out.units);
		}
		assert_int_equal(out.segments, 1);
	}
	assert_int_equal(gsm, 127 + 10);
	/* and the table is the one the standard draws, in order */
	assert_string_equal(gsm7_default[0x09], "\xc3\x87");	/* Ç, not ç */
	assert_string_equal(gsm7_default[0x24], "\xc2\xa4");	/* ¤, not $ */
	assert_string_equal(gsm7_default[0x60], "\xc2\xbf");	/* ¿, not ` */
	assert_string_equal(gsm7_default[0x7f], "\xc3\xa0");	/* à */
}

static void sms_segments_counts_the_empty_text_as_one_message(void **state)
{
	struct sms_segments out;

	(void)state;
	/* a carrier still sends, and bills, one message */
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(sms_segments_count("", 0, &out), 0);
	assert_int_equal(out.encoding, SMS_GSM7);
	assert_int_equal(out.units, 0);
	assert_int_equal(out.segments, 1);
	assert_int_equal(out.per_segment, 160);
	/* NULL is allowed when len is 0 */
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(sms_segments_count(NULL, 0, &out), 0);
	assert_int_equal(out.units, 0);
	assert_int_equal(out.segments, 1);
	/* len bounds the text, not a NUL */
	assert_int_equal(sms_segments_count("abc", 0, &out), 0);
	assert_int_equal(out.units, 0);
	assert_int_equal(sms_segments_count("\xe2\x82\xac", 3, &out), 0);
	assert_int_equal(out.units, 2);
}

static void sms_segments_rejects_invalid_utf8(void **state)
{
	static const struct {
		const char *why;
		const char *text;
		size_t len;
	} cases[] = {
		/* RFC 3629 section 3 and 4, and Markus Kuhn's UTF-8 stress test */
		{ "lone continuation byte", "\x80", 1 },
		{ "continuation after ASCII", "ab\xbf", 3 },
		{ "overlong '/' in 2 bytes", "\xc0\xaf", 2 },
		{ "overlong in 2 bytes (0xc1)", "\xc1\xbf", 2 },
		{ "overlong '/' in 3 bytes", "\xe0\x80\xaf", 3 },
		{ "overlong U+07FF in 3 bytes", "\xe0\x9f\xbf", 3 },
		{ "overlong '/' in 4 bytes", "\xf0\x80\x80\xaf", 4 },
		{ "overlong U+FFFF in 4 bytes", "\xf0\x8f\xbf\xbf", 4 },
		{ "high surrogate U+D800", "\xed\xa0\x80", 3 },
		{ "low surrogate U+DFFF", "\xed\xbf\xbf", 3 },
		{ "surrogate pair in CESU-8", "\xed\xa0\xbd\xed\xb8\x80", 6 },
		{ "U+110000", "\xf4\x90\x80\x80", 4 },
		{ "0xf5 lead byte", "\xf5\x80\x80\x80", 4 },
		{ "0xfe", "\xfe", 1 },
		{ "0xff", "a\xff", 2 },
		{ "truncated 2-byte", "\xc3", 1 },
		{ "truncated euro", "\xe2\x82", 2 },
		{ "truncated emoji", "\xf0\x9f\x98", 3 },
		{ "truncated at the end of a long text", "aaaaaaaaaa\xc3", 11 },
		{ "truncated by len, not by the string", "\xe2\x82\xac", 2 },
		{ "lead byte followed by ASCII", "\xc3" "a", 2 },
		{ "3-byte lead with one bad continuation", "\xe2\x82" "a", 3 },
		/* NUL is not text: rejected, not counted as '@' (GSM 0x00) */
		{ "NUL alone", "\0", 1 },
		{ "NUL inside len", "a\0b", 3 },
		{ "NUL after a euro", "\xe2\x82\xac\0", 4 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sms_segments out, before;

		memset(&out, 0x5a, sizeof(out));
		before = out;
		if (sms_segments_count(cases[i].text, cases[i].len, &out) != -1)
			fail_msg("case %zu (%s): accepted", i, cases[i].why);
		/* *out is left alone on error */
		if (memcmp(&out, &before, sizeof(out)) != 0)
			fail_msg("case %zu (%s): wrote *out", i, cases[i].why);
	}
}

static void sms_segments_accepts_utf8_edges(void **state)
{
	static const struct seg_case cases[] = {
		/* Markus Kuhn's UTF-8 stress test, 2.1 to 2.3 */
		{ "U+0080, first 2-byte", { { "\xc2\x80" } }, UCS, 1, 1, 70 },
		{ "U+07FF, last 2-byte", { { "\xdf\xbf" } }, UCS, 1, 1, 70 },
		{ "U+0800, first 3-byte", { { "\xe0\xa0\x80" } }, UCS, 1, 1, 70 },
		{ "U+D7FF, before the surrogates", { { "\xed\x9f\xbf" } }, UCS, 1, 1, 70 },
		{ "U+E000, after the surrogates", { { "\xee\x80\x80" } }, UCS, 1, 1, 70 },
		{ "U+FFFF, last in the BMP", { { "\xef\xbf\xbf" } }, UCS, 1, 1, 70 },
		{ "U+10000, first 4-byte: a pair", { { "\xf0\x90\x80\x80" } }, UCS, 2, 1, 70 },
		{ "U+10FFFF, the last: a pair", { { "\xf4\x8f\xbf\xbf" } }, UCS, 2, 1, 70 },
		{ "U+007F DEL is not GSM-7", { { "\x7f" } }, UCS, 1, 1, 70 },
		{ "U+001B ESC is not a character of the text", { { "\x1b" } }, UCS, 1, 1, 70 },
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void sms_segments_rejects_texts_beyond_max_len(void **state)
{
	struct sms_segments out;

	(void)state;
	/* the length is checked before a byte is read, so the NULL text is
	 * never touched (without the check this test crashes) */
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(sms_segments_count(NULL, SMS_SEGMENTS_MAX_LEN + 1, &out), -1);
	assert_int_equal(sms_segments_count(NULL, (size_t)-1, &out), -1);
	/* 2 septets per byte at most ('{' is 1 byte), so units fit an int */
	assert_true(SMS_SEGMENTS_MAX_LEN * 2 <= (size_t)INT_MAX);
}

static void sms_encoding_name_uses_twilios_names(void **state)
{
	(void)state;
	assert_string_equal(sms_encoding_name(SMS_GSM7), "GSM-7");
	assert_string_equal(sms_encoding_name(SMS_UCS2), "UCS-2");
	assert_string_equal(sms_encoding_name((enum sms_encoding)7), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sms_segments_packs_gsm7_septets_without_splitting_escapes),
		cmocka_unit_test(sms_segments_packs_ucs2_code_units_without_splitting_surrogates),
		cmocka_unit_test(sms_segments_agrees_with_published_calculator_examples),
		cmocka_unit_test(sms_segments_takes_exactly_the_gsm7_tables_of_ts_23_038),
		cmocka_unit_test(sms_segments_counts_the_empty_text_as_one_message),
		cmocka_unit_test(sms_segments_rejects_invalid_utf8),
		cmocka_unit_test(sms_segments_accepts_utf8_edges),
		cmocka_unit_test(sms_segments_rejects_texts_beyond_max_len),
		cmocka_unit_test(sms_encoding_name_uses_twilios_names),
	};

	return cmocka_run_group_tests_name("sms_segments", tests, NULL, NULL);
}
