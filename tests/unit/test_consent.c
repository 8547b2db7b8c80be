/* Unit tests for consent.c: which inbound texts opt out, in, or ask for help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
	assert_non_null(strstr(consent_confirmation(CONSENT_STOP, m), "no recibirás más"));
	assert_int_equal(consent_classify("start", 5, &m), CONSENT_START);
	assert_non_null(strstr(consent_confirmation(CONSENT_START, m), "subscribed again"));
	assert_null(consent_confirmation(CONSENT_HELP, "help"));
	assert_null(consent_confirmation(CONSENT_NONE, NULL));
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
