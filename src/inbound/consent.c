/* consent.c: stop, start and help words, and free-text opt-outs. */
#include "consent.h"

#include <string.h>

/* Whole-message keywords (after normalisation: lower case, no accents, no
 * punctuation, single spaces). Carriers act on the same English words. */
static const struct {
	const char *word;
	enum consent_intent intent;
} keywords[] = {
	{ "stop", CONSENT_STOP }, { "stopall", CONSENT_STOP }, { "stop all", CONSENT_STOP },
	{ "unsubscribe", CONSENT_STOP }, { "cancel", CONSENT_STOP }, { "end", CONSENT_STOP },
	{ "quit", CONSENT_STOP }, { "revoke", CONSENT_STOP }, { "optout", CONSENT_STOP },
	{ "opt out", CONSENT_STOP }, { "alto", CONSENT_STOP }, { "parar", CONSENT_STOP },
	{ "basta", CONSENT_STOP },
	{ "start", CONSENT_START }, { "unstop", CONSENT_START }, { "yes", CONSENT_START },
	{ "help", CONSENT_HELP }, { "info", CONSENT_HELP }, { "ayuda", CONSENT_HELP },
};

/* Phrases that mean "stop" inside a short message. Only short messages
 * count: "please don't stop texting me about court" must not opt out. */
static const char *const stop_phrases[] = {
	"remove me", "take me off", "stop texting me", "stop texting", "stop messaging me",
	"stop sending", "no more texts", "no more messages", "wrong number", "unsubscribe me",
	"do not text me", "dont text me", "leave me alone",
	/* Spanish: from here on (see first_spanish_phrase) */
	"no me envien mas", "no me manden mas", "dejen de enviarme", "dejen de mandarme",
	"dejen de escribirme", "no mas mensajes", "no mas textos", "numero equivocado",
	"quitenme de la lista", "quitenme", "borrenme", "eliminenme", "ya no quiero mensajes",
	"ya no me escriban",
};

static const size_t first_spanish_phrase = 13;
static const char *const spanish_words[] = { "alto", "parar", "basta", "ayuda" };

/* Words a phrase may be wrapped in without changing its meaning. */
#define SHORT_MESSAGE_WORDS 8

/* Maps a UTF-8 Latin letter with an accent (2-byte sequences C3 xx) to its
 * base letter; 0 if it is not one we know. */
static char unaccent(unsigned char b2)
{
	static const char map[64] =
		/* C3 80..BF: ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞß àáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ */
		"aaaaaaaceeeeiiiidnooooo0ouuuuyts" "aaaaaaaceeeeiiiidnooooo0ouuuuyty";

	if (b2 < 0x80 || b2 > 0xbf)
		return 0;
	char c = map[b2 - 0x80];
	return c == '0' ? 0 : c;
}

/* Normalises text into out: lower-case ASCII letters and digits, accents
 * folded, everything else a single space, trimmed. Returns the word count. */
static int normalise(const char *text, size_t len, char *out, size_t out_len)
{
	size_t o = 0;
	int words = 0, in_word = 0;

	for (size_t i = 0; i < len && o + 2 < out_len; i++) {
		unsigned char c = (unsigned char)text[i];
		char n = 0;

		if (c >= 'A' && c <= 'Z')
			n = (char)(c - 'A' + 'a');
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			n = (char)c;
		else if (c == 0xc3 && i + 1 < len)
			n = unaccent((unsigned char)text[++i]);
		else if (c == '\'' || (c == 0xe2 && i + 2 < len && (unsigned char)text[i + 1] == 0x80 &&
				      (unsigned char)text[i + 2] == 0x99)) {
			/* An apostrophe joins: "don't" -> "dont". */
			if (c == 0xe2)
				i += 2;
			continue;
		}
		if (n != 0) {
			if (!in_word) {
				if (o > 0)
					out[o++] = ' ';
				words++;
				in_word = 1;
			}
			out[o++] = n;
		} else {
			in_word = 0;
		}
	}
	out[o] = '\0';
	return words;
}

static int contains_phrase(const char *hay, const char *phrase)
{
	size_t n = strlen(phrase);

	for (const char *p = strstr(hay, phrase); p != NULL; p = strstr(p + 1, phrase)) {
		/* Whole words only: "remove media" is not "remove me". */
		if ((p == hay || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return 1;
	}
	return 0;
}

enum consent_intent consent_classify(const char *text, size_t len, const char **matched)
{
	char norm[512];
	int words;

	if (matched)
		*matched = NULL;
	if (len > 400)
		return CONSENT_NONE;	/* a long message is a conversation, not a keyword */
	words = normalise(text, len, norm, sizeof(norm));
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(norm, keywords[i].word) == 0) {
			if (matched)
				*matched = keywords[i].word;
			return keywords[i].intent;
		}
	if (words == 0 || words > SHORT_MESSAGE_WORDS)
		return CONSENT_NONE;
	for (size_t i = 0; i < sizeof(stop_phrases) / sizeof(stop_phrases[0]); i++)
		if (contains_phrase(norm, stop_phrases[i])) {
			if (matched)
				*matched = stop_phrases[i];
			return CONSENT_STOP;
		}
	return CONSENT_NONE;
}

const char *consent_intent_name(enum consent_intent intent)
{
	switch (intent) {
	case CONSENT_STOP:
		return "stop";
	case CONSENT_START:
		return "start";
	case CONSENT_HELP:
		return "help";
	default:
		return "none";
	}
}

bool consent_spanish(const char *matched)
{
	if (matched == NULL)
		return false;
	for (size_t i = 0; i < sizeof(spanish_words) / sizeof(spanish_words[0]); i++)
		if (strcmp(matched, spanish_words[i]) == 0)
			return true;
	for (size_t i = first_spanish_phrase; i < sizeof(stop_phrases) / sizeof(stop_phrases[0]); i++)
		if (strcmp(matched, stop_phrases[i]) == 0)
			return true;
	return false;
}

const char *consent_confirmation(enum consent_intent intent, const char *matched)
{
	bool es = consent_spanish(matched);

	if (intent == CONSENT_STOP)
		return es ? "Has cancelado tu suscripción y no recibirás más mensajes. "
			    "Responde START para volver a suscribirte."
			  : "You are unsubscribed and will get no more messages. "
			    "Reply START to subscribe again.";
	if (intent == CONSENT_START)
		return es ? "Te has vuelto a suscribir. Responde STOP para cancelar."
			  : "You are subscribed again. Reply STOP to stop.";
	return NULL;
}

char *consent_reply_fold(const char *text, size_t len, char *out, size_t out_len)
{
	size_t start = 0, end = len;

	while (start < end && (text[start] == ' ' || (text[start] >= '\t' && text[start] <= '\r')))
		start++;
	while (end > start && strchr(" \t\n\v\f\r.!?,;", text[end - 1]) != NULL)
		end--;
	if (out_len == 0)
		return out;
	if (end - start > out_len - 1) {
		out[0] = '\0';
		return out;
	}
	for (size_t i = start; i < end; i++) {
		char c = text[i];

		out[i - start] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	out[end - start] = '\0';
	return out;
}
