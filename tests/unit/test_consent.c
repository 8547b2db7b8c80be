/* Unit tests for consent.c: which inbound texts opt out, in, or ask for help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consent.h"

static enum consent_intent classify(const char *s)
{
	return consent_classify(s, strlen(s), NULL);
}

static void contract_stop_words_opt_out_in_any_case(void **state)
{
	static const char *const words[] = { "STOP", "stop", " Stop. ", "STOPALL", "UNSUBSCRIBE",
					     "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "ALTO",
					     "PARAR", "BASTA", "¡Basta!", "opt-out" };

	(void)state;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		assert_int_equal(classify(words[i]), CONSENT_STOP);
}

static void start_words_opt_back_in(void **state)
{
	(void)state;
	assert_int_equal(classify("START"), CONSENT_START);
	assert_int_equal(classify("unstop"), CONSENT_START);
	assert_int_equal(classify("Yes"), CONSENT_START);
}

static void help_words_ask_for_help(void **state)
{
	(void)state;
	assert_int_equal(classify("HELP"), CONSENT_HELP);
	assert_int_equal(classify("ayuda"), CONSENT_HELP);
}

static void free_text_opt_outs_count_as_stop(void **state)
{
	const char *m;

	(void)state;
	assert_int_equal(classify("Please remove me"), CONSENT_STOP);
	assert_int_equal(classify("stop texting me!!"), CONSENT_STOP);
	assert_int_equal(classify("No more texts please"), CONSENT_STOP);
	assert_int_equal(classify("wrong number"), CONSENT_STOP);
	assert_int_equal(classify("Don’t text me"), CONSENT_STOP);
	assert_int_equal(classify("Número equivocado"), CONSENT_STOP);
	assert_int_equal(classify("Ya no quiero mensajes, gracias"), CONSENT_STOP);
	assert_int_equal(classify("quítenme de la lista"), CONSENT_STOP);
	assert_int_equal(consent_classify("No me envíen más", strlen("No me envíen más"), &m), CONSENT_STOP);
	assert_string_equal(m, "no me envien mas");
}

static void ordinary_replies_are_not_consent(void **state)
{
	(void)state;
	assert_int_equal(classify("1"), CONSENT_NONE);
	assert_int_equal(classify("can I bring my daughter?"), CONSENT_NONE);
	assert_int_equal(classify("stop by the office tomorrow to talk about my case please ok"), CONSENT_NONE);
	assert_int_equal(classify("Please don't stop texting me, these reminders help me a lot with court"),
			 CONSENT_NONE);
	assert_int_equal(classify("remove media"), CONSENT_NONE);
	assert_int_equal(classify("the end of the hearing"), CONSENT_NONE);
	assert_int_equal(classify(""), CONSENT_NONE);
	assert_int_equal(classify("yes I will be there"), CONSENT_NONE);
}

static void keyword_reported_for_the_ledger(void **state)
{
	const char *m = NULL;

	(void)state;
	assert_int_equal(consent_classify("ALTO", 4, &m), CONSENT_STOP);
	assert_string_equal(m, "alto");
	assert_string_equal(consent_intent_name(CONSENT_START), "start");
}

static void language_of_the_keyword(void **state)
{
	const char *m = NULL;

	(void)state;
	assert_int_equal(consent_classify("ALTO", 4, &m), CONSENT_STOP);
	assert_true(consent_spanish(m));
	assert_int_equal(consent_classify("Número equivocado", strlen("Número equivocado"), &m),
			 CONSENT_STOP);
	assert_true(consent_spanish(m));
	assert_int_equal(consent_classify("stop", 4, &m), CONSENT_STOP);
	assert_false(consent_spanish(m));
	assert_int_equal(consent_classify("leave me alone", 14, &m), CONSENT_STOP);
	assert_false(consent_spanish(m));
	assert_false(consent_spanish(NULL));
}

/* Reply keywords ("1" = responding) match what people type around them. */
static void reply_fold_trims_and_folds_ascii(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "1", "1" },
		{ " 1. ", "1" },
		{ "Si!", "si" },
		{ "\tYES?!\r\n", "yes" },
		{ "S\xc3\x8d", "s\xc3\x8d" },	/* non-ASCII letters kept as typed */
		{ "", "" },
		{ " ... ", "" },
		{ "I can bring water", "i can bring water" },
	};
	char out[24];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(consent_reply_fold(cases[i].in, strlen(cases[i].in), out,
						       sizeof(out)), cases[i].out);
	/* Longer than the buffer after trimming: cannot be a keyword. */
	assert_string_equal(consent_reply_fold("a reply far too long to be any keyword", 38, out,
					       sizeof(out)), "");
}

/* One confirmation per change, in the keyword's language; none for HELP. */
static void confirmation_is_in_the_language_of_the_keyword(void **state)
{
	const char *m;

	(void)state;
	assert_int_equal(consent_classify("STOP", 4, &m), CONSENT_STOP);
	assert_non_null(strstr(consent_confirmation(CONSENT_STOP, m), "no more messages"));
	assert_int_equal(consent_classify("alto", 4, &m), CONSENT_STOP);
	/* usted, as the templates address the client (issue 13) */
	assert_string_equal(consent_confirmation(CONSENT_STOP, m),
			    "Ya no le enviaremos mensajes. Responda START para volver a recibirlos.");
	assert_int_equal(consent_classify("parar", 5, &m), CONSENT_STOP);
	assert_null(strstr(consent_confirmation(CONSENT_START, m), "Responde "));
	assert_int_equal(consent_classify("start", 5, &m), CONSENT_START);
	assert_non_null(strstr(consent_confirmation(CONSENT_START, m), "subscribed again"));
	assert_null(consent_confirmation(CONSENT_HELP, "help"));
	assert_null(consent_confirmation(CONSENT_NONE, NULL));
}

/* Issue 13, item 9: a Chinese, Korean or Vietnamese client who writes
 * stop in their language means it, typed with the spaces, punctuation
 * and case phones add; the ledger gets the canonical word and the answer
 * goes in the word's language. */
static void stop_words_in_the_clients_languages_opt_out(void **state)
{
	static const struct {
		const char *text, *word, *lang;
	} cases[] = {
		{ "停止", "停止", "zh" },
		{ " 停止。", "停止", "zh" },
		{ "停止！", "停止", "zh" },
		{ "\xe3\x80\x80退订\xe3\x80\x80", "退订", "zh" },	/* ideographic spaces */
		{ "退訂", "退訂", "zh-Hant" },
		{ "그만", "그만", "ko" },
		{ "그만.", "그만", "ko" },
		{ "중지", "중지", "ko" },
		{ "수신거부", "수신거부", "ko" },
		{ "수신 거부", "수신 거부", "ko" },
		{ "dừng", "dừng", "vi" },
		{ "Dừng", "dừng", "vi" },
		{ "DỪNG!", "dừng", "vi" },		/* U+1EEA folded to U+1EEB */
		{ "Dừng lại", "dừng lại", "vi" },
		{ "ngừng", "ngừng", "vi" },
		{ "NGỪNG", "ngừng", "vi" },
		{ "d\xc6\xb0\xcc\x80ng", "d\xc6\xb0\xcc\x80ng", "vi" },	/* NFD */
		{ "ngu\xcc\x9b\xcc\x80ng", "ngu\xcc\x9b\xcc\x80ng", "vi" },
	};
	const char *m = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (consent_classify(cases[i].text, strlen(cases[i].text), &m) != CONSENT_STOP)
			fail_msg("\"%s\" is not a STOP", cases[i].text);
		assert_string_equal(m, cases[i].word);
		assert_string_equal(consent_lang(m), cases[i].lang);
	}
	/* English and Spanish words keep their languages. */
	assert_int_equal(consent_classify("STOP", 4, &m), CONSENT_STOP);
	assert_null(consent_lang(m));
	assert_int_equal(consent_classify("Alto", 4, &m), CONSENT_STOP);
	assert_string_equal(consent_lang(m), "es");
	assert_int_equal(consent_classify("ayuda", 5, &m), CONSENT_HELP);
	assert_string_equal(consent_lang(m), "es");
	assert_null(consent_lang(NULL));
}

/* Only the whole message: a sentence that contains the word is a reply
 * for a person to read ("I can't stop by court today" is not an opt-out,
 * nor is its Korean or Vietnamese counterpart). */
static void native_stop_words_inside_a_sentence_are_replies(void **state)
{
	static const char *const texts[] = {
		"我不想停止提醒",		/* "I don't want the reminders to stop" */
		"停止停止",
		"그만 보내도 되나요?",		/* "may I stop sending?" */
		"dừng xe ở đâu?",		/* "where do I park?" */
		"đừng",				/* "don't", not "dừng" */
		"dung",				/* no diacritics: too many other words */
		"退",
	};
	const char *m = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (consent_classify(texts[i], strlen(texts[i]), &m) != CONSENT_NONE)
			fail_msg("\"%s\" taken as consent (%s)", texts[i], m ? m : "");
}

/* Outside input: any bytes, any length, cut anywhere in a UTF-8
 * sequence, must classify without reading past the text (ASan) and never
 * take a NUL for a blank. */
static void any_bytes_classify_within_bounds(void **state)
{
	static const char *const pieces[] = { "停止", "dừng", "DỪNG", "그만", "\xe1\xbb", "\xe3\x80",
					      "\xc6", "\xcc\x80", " ", ".", "!", "\xef\xbc\x81", "a", "" };
	uint32_t seed = 13;
	const char *m;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		char buf[64];
		size_t len = 0, want;
		char *copy;

		seed = seed * 1103515245u + 12345u;
		want = (seed >> 16) % sizeof(buf);
		while (len < want) {
			const char *p;
			size_t n;

			seed = seed * 1103515245u + 12345u;
			p = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
			n = p[0] ? strlen(p) : 1;	/* "" stands for a NUL byte */
			if (len + n > want)
				n = want - len;
			memcpy(buf + len, p, n);
			len += n;
		}
		/* An exact-size copy: a read past len is a heap overflow. */
		copy = malloc(len ? len : 1);
		assert_non_null(copy);
		memcpy(copy, buf, len);
		(void)consent_classify(copy, len, &m);
		free(copy);
	}
	assert_int_equal(consent_classify("\xe5\x81\x9c\xe6\xad\xa2\0", 7, &m), CONSENT_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(contract_stop_words_opt_out_in_any_case),
		cmocka_unit_test(start_words_opt_back_in),
		cmocka_unit_test(help_words_ask_for_help),
		cmocka_unit_test(free_text_opt_outs_count_as_stop),
		cmocka_unit_test(ordinary_replies_are_not_consent),
		cmocka_unit_test(keyword_reported_for_the_ledger),
		cmocka_unit_test(language_of_the_keyword),
		cmocka_unit_test(reply_fold_trims_and_folds_ascii),
		cmocka_unit_test(confirmation_is_in_the_language_of_the_keyword),
		cmocka_unit_test(stop_words_in_the_clients_languages_opt_out),
		cmocka_unit_test(native_stop_words_inside_a_sentence_are_replies),
		cmocka_unit_test(any_bytes_classify_within_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
