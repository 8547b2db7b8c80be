/* sms_segments.h: how many SMS segments (the messages a carrier bills) a
 * text becomes, and in which encoding.
 *
 * The encoding is chosen as a provider does when nothing else is asked
 * for: GSM-7 when every character is in the GSM 7-bit default alphabet or
 * its extension table (3GPP TS 23.038 section 6.2.1 and 6.2.1.1), UCS-2
 * otherwise. No national language shift table is used (TS 23.038 6.2.1.2:
 * the Spanish one would make á GSM-7; US carriers and Twilio do not use
 * them), and nothing is substituted: Twilio's "Smart Encoding" option
 * (https://www.twilio.com/docs/messaging/services#smart-encoding) would
 * turn ’ into ' and so may bill fewer segments than counted here.
 *
 * Sizes: one message carries 140 octets, that is 160 septets or 70 UTF-16
 * code units. A longer text is concatenated and each segment gives 6
 * octets to the user data header (TS 23.040 9.2.3.24.1), leaving 153
 * septets or 67 code units. Characters are packed whole, as Twilio's
 * segment calculator does (github.com/TwilioDevEd/message-segment-
 * calculator, src/libs/Segment.ts): an extension character (escape plus
 * character, 2 septets) or a character outside the BMP (a surrogate pair,
 * 2 units) never straddles two segments, so a segment may hold 152 or 66.
 * Only surrogate pairs are kept together, not grapheme clusters: a flag or
 * a ZWJ emoji sequence may be split between its code points, where
 * Twilio's calculator (which keeps graphemes whole) can count one more. */
#ifndef PREGON_SMS_SEGMENTS_H
#define PREGON_SMS_SEGMENTS_H

#include <limits.h>
#include <stddef.h>

enum sms_encoding { SMS_GSM7, SMS_UCS2 };

#define SMS_GSM7_SINGLE 160	/* septets in a message on its own */
#define SMS_GSM7_CONCAT 153	/* septets in each segment of a longer one */
#define SMS_UCS2_SINGLE 70	/* UTF-16 code units, likewise */
#define SMS_UCS2_CONCAT 67

/* Longest text counted, in bytes: a 1-byte character can count 2 septets,
 * so every count fits an int. Far beyond what any provider accepts
 * (Twilio: 1600 characters). */
#define SMS_SEGMENTS_MAX_LEN ((size_t)INT_MAX / 2)

struct sms_segments {
	enum sms_encoding encoding;
	int units;		/* septets (GSM-7, an extension char counts 2) or
				 * UTF-16 code units (UCS-2, a non-BMP char counts 2) */
	int segments;		/* messages the carrier bills, >= 1 */
	int per_segment;	/* 160/153 (GSM-7) or 70/67 (UCS-2) as applied:
				 * the single size when segments is 1 */
};

/* Counts text[0..len), UTF-8, not NUL-terminated (may be NULL when len
 * is 0). Returns 0 and fills *out, or -1 and leaves *out untouched when
 * the text is not valid UTF-8 (RFC 3629: overlong forms, surrogates,
 * anything above U+10FFFF and truncated sequences are rejected), contains
 * a NUL byte (NUL is not text, and GSM-7 has no NUL: its 0x00 is '@',
 * which a UTF-8 text spells U+0040), or is longer than
 * SMS_SEGMENTS_MAX_LEN bytes.
 *
 * The empty text is 1 segment of 0 units in GSM-7 (per_segment 160): a
 * carrier still sends, and bills, one message. */
int sms_segments_count(const char *text, size_t len, struct sms_segments *out);

/* "GSM-7" or "UCS-2", as Twilio names them; "unknown" for any other
 * value. A static string, for logs. */
const char *sms_encoding_name(enum sms_encoding e);

#endif
