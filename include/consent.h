/* consent.h: what an inbound message says about consent.
 *
 * CONTRACT.md section 2: a message whose whole text is a stop word opts the
 * sender out (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT;
 * ALTO, PARAR, BASTA in Spanish); START, UNSTOP, YES opt back in; HELP gets
 * the help text. Organizers also see people write "remove me" or "wrong
 * number" (field-research.md section 5): short messages made of such a
 * phrase count as STOP too, in English and Spanish. And a client who
 * writes stop in their own language means it, though carriers act on
 * English and Spanish only (issue 13): 停止, 退订 and 退訂 (Chinese),
 * 그만, 중지 and 수신거부 (Korean), dừng and ngừng (Vietnamese), as the
 * whole message, are STOP too. */
#ifndef PREGON_CONSENT_H
#define PREGON_CONSENT_H

#include <stdbool.h>
#include <stddef.h>

enum consent_intent {
	CONSENT_NONE,		/* a reply like any other */
	CONSENT_STOP,
	CONSENT_START,
	CONSENT_HELP,
};

/* Classifies an inbound text (UTF-8). Case, accents, punctuation and
 * surrounding space do not matter. *matched (may be NULL) is set to the
 * canonical keyword or phrase that decided, for the consent ledger. */
enum consent_intent consent_classify(const char *text, size_t len, const char **matched);

const char *consent_intent_name(enum consent_intent intent);

/* Whether the keyword or phrase consent_classify matched is Spanish, so
 * that the confirmation goes out in the sender's language. */
bool consent_spanish(const char *matched);

/* The template language of the keyword or phrase consent_classify matched
 * ("es", "zh", "zh-Hant", "ko", "vi"), or NULL for an English one (and
 * NULL): the language the answer is written in (templates consent_stop,
 * consent_start, consent_help). */
const char *consent_lang(const char *matched);

/* The confirmation sent back for a STOP or START (CTIA's messaging
 * principles: say that no more messages will come, and how to come back),
 * in the language of the keyword or phrase matched (Spanish for ALTO,
 * PARAR, BASTA and the Spanish phrases); NULL for other intents. */
const char *consent_confirmation(enum consent_intent intent, const char *matched);

/* The text as reply keywords ("1" = responding) are matched: surrounding
 * space and trailing punctuation (. ! ? , ;) dropped, ASCII letters in
 * lower case (" Si! " -> "si", "1." -> "1"); other bytes kept as they are.
 * A text longer than out_len - 1 after trimming cannot be a keyword and
 * gives "". Returns out. */
char *consent_reply_fold(const char *text, size_t len, char *out, size_t out_len);

#endif
