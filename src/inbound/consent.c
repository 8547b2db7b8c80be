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

/* Stop words in the clients' other languages (issue 13). Carriers act only
 * on the English and Spanish ones, but a client who writes one of these
 * means it. Compared whole, after trim_native; each row names the template
 * language its confirmation is written in. Vietnamese also in its
 * decomposed forms (NFD: u + U+031B + U+0300, or U+01B0 + U+0300), which
 * some keyboards send; upper case is folded by fold_vietnamese. */
static const struct {
	const char *word;
	const char *lang;
} native_stops[] = {
	{ "停止", "zh" },		/* "stop", the same in both scripts */
	{ "退订", "zh" },		/* "unsubscribe", simplified */
	{ "退訂", "zh-Hant" },		/* the same, traditional */
	{ "그만", "ko" },		/* "enough, stop" */
	{ "중지", "ko" },		/* "halt" */
	{ "수신거부", "ko" },		/* "refuse receiving", the opt-out word of Korean spam law */
	{ "수신 거부", "ko" },
	{ "dừng", "vi" },		/* "stop" */
	{ "dừng lại", "vi" },
	{ "ngừng", "vi" },		/* "cease" */
	{ "d\xc6\xb0\xcc\x80ng", "vi" },
	{ "du\xcc\x9b\xcc\x80ng", "vi" },
	{ "ng\xc6\xb0\xcc\x80ng", "vi" },
	{ "ngu\xcc\x9b\xcc\x80ng", "vi" },
};

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

/* The bytes of one of these at s[0..n), or 0: the spaces and final
 * punctuation a native keyword may come with (ideographic space and full
 * stop, fullwidth ! and ?). */
static size_t native_blank(const char *s, size_t n)
{
	static const char *const blanks[] = { "\xe3\x80\x80", "\xe3\x80\x82", "\xef\xbc\x81",
					       "\xef\xbc\x9f" };

	if (n >= 1 && strchr(" \t\r\n.!?", s[0]) != NULL && s[0] != '\0')
		return 1;
	for (size_t i = 0; i < sizeof(blanks) / sizeof(blanks[0]); i++)
		if (n >= 3 && memcmp(s, blanks[i], 3) == 0)
			return 3;
	return 0;
}

/* Copies text without surrounding blanks into out, ASCII and Vietnamese
 * letters in lower case (Latin Extended Additional U+1EA0..U+1EF9 pairs
 * upper/lower as even/odd, "Ừ" U+1EEA -> "ừ" U+1EEB). Returns the length,
 * or 0 when it does not fit. */
static size_t trim_native(const char *text, size_t len, char *out, size_t out_len)
{
	size_t start = 0, end = len, k, o = 0;

	while (start < end && (k = native_blank(text + start, end - start)) > 0)
		start += k;
	while (end > start) {
		if (text[end - 1] != '\0' && strchr(" \t\r\n.!?", text[end - 1]) != NULL)
			end--;
		else if (end - start >= 3 && native_blank(text + end - 3, 3) == 3)
			end -= 3;
		else
			break;
	}
	if (end - start >= out_len)
		return 0;
	for (size_t i = start; i < end; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		/* U+1EA0..U+1EF9 is E1 BA A0..E1 BB B9; an even code point is
		 * the capital, one more its small letter. */
		if (c == 0xe1 && i + 2 < end) {
			unsigned cp = 0x1000u | (((unsigned char)text[i + 1] & 0x3fu) << 6) |
				      ((unsigned char)text[i + 2] & 0x3fu);

			if (cp >= 0x1ea0 && cp <= 0x1ef9 && cp % 2 == 0)
				cp++;
			out[o++] = (char)0xe1;
			out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
			i += 2;
			continue;
		}
		/* "Ư" U+01AF -> "ư" U+01B0 (C6 AF -> C6 B0). */
		if (c == 0xc6 && i + 1 < end && (unsigned char)text[i + 1] == 0xaf) {
			out[o++] = (char)0xc6;
			out[o++] = (char)0xb0;
			i++;
			continue;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o;
}

/* A stop word of native_stops, or NULL. */
static const char *native_stop(const char *text, size_t len)
{
	char t[64];
	size_t n = trim_native(text, len, t, sizeof(t));

	/* By length: a NUL inside the text is not its end. */
	for (size_t i = 0; n > 0 && i < sizeof(native_stops) / sizeof(native_stops[0]); i++)
		if (strlen(native_stops[i].word) == n && memcmp(t, native_stops[i].word, n) == 0)
			return native_stops[i].word;
	return NULL;
}

enum consent_intent consent_classify(const char *text, size_t len, const char **matched)
{
	const char *native;
	char norm[512];
	int words;

	if (matched)
		*matched = NULL;
	if (len > 400)
		return CONSENT_NONE;	/* a long message is a conversation, not a keyword */
	if ((native = native_stop(text, len)) != NULL) {
		if (matched)
			*matched = native;
		return CONSENT_STOP;
	}
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

const char *consent_lang(const char *matched)
{
	if (matched == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(native_stops) / sizeof(native_stops[0]); i++)
		if (matched == native_stops[i].word || strcmp(matched, native_stops[i].word) == 0)
			return native_stops[i].lang;
	return consent_spanish(matched) ? "es" : NULL;
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

	/* The words of the templates consent_stop and consent_start in en
	 * and es, for when the templates have none (a template folder from
	 * before them). Spanish in usted, as every template addresses the
	 * client. */
	if (intent == CONSENT_STOP)
		return es ? "Ya no le enviaremos mensajes. Responda START para volver a recibirlos."
			  : "You are unsubscribed and will get no more messages. "
			    "Reply START to subscribe again.";
	if (intent == CONSENT_START)
		return es ? "Le volveremos a enviar mensajes. Responda STOP para dejar de recibirlos."
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
