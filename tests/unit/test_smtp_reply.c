/* test_smtp_reply.c: what an SMTP transfer's end means (smtp_reply.h):
 * 4xx temporary, 5xx permanent, the bounce rule at RCPT, refusals while
 * setting up held against the server, and the server's words kept
 * without addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../adapters/smtp/smtp_reply.h"

static enum smtp_health classify(CURLcode rc, enum smtp_phase phase, const char *reply,
				 struct send_result *out)
{
	struct smtp_transfer_end e = { .rc = rc, .phase = phase, .reply = reply, .tls_wanted = 1 };

	return smtp_reply_classify(&e, out);
}

static void sent_is_sent_and_good_for_the_breaker(void **state)
{
	struct send_result r;

	(void)state;
	assert_int_equal(classify(CURLE_OK, SMTP_PHASE_BODY, "250 2.0.0 queued", &r), SMTP_HEALTH_OK);
	assert_int_equal(r.status, SEND_SENT);
	assert_false(r.bounced);
}

static void rcpt_550_is_permanent_and_a_bounce_without_the_address(void **state)
{
	struct send_result r;

	(void)state;
	assert_int_equal(classify(CURLE_SEND_ERROR, SMTP_PHASE_RCPT,
				  "550 5.1.1 <ana@example.org>: Recipient address rejected: User unknown",
				  &r), SMTP_HEALTH_NEUTRAL);
	assert_int_equal(r.status, SEND_PERM_FAIL);
	assert_true(r.bounced);
	assert_string_equal(r.error, "smtp 550 at RCPT: 5.1.1 Recipient address rejected: User unknown");
	classify(CURLE_SEND_ERROR, SMTP_PHASE_RCPT, "551 User not local; please try <x@y.org>", &r);
	assert_true(r.bounced);
	assert_null(strchr(r.error, '@'));
	classify(CURLE_SEND_ERROR, SMTP_PHASE_RCPT, "553 mailbox name not allowed", &r);
	assert_true(r.bounced);
	classify(CURLE_SEND_ERROR, SMTP_PHASE_RCPT, "554 5.1.2 bad destination system", &r);
	assert_true(r.bounced);
}

static void policy_refusals_and_sender_problems_are_not_bounces(void **state)
{
	struct send_result r;

	(void)state;
	classify(CURLE_SEND_ERROR, SMTP_PHASE_RCPT, "550 5.7.1 Relaying denied", &r);
	assert_int_equal(r.status, SEND_PERM_FAIL);
	assert_false(r.bounced);
	classify(CURLE_SEND_ERROR, SMTP_PHASE_RCPT, "550 5.1.7 bad sender mailbox syntax", &r);
	assert_false(r.bounced);
	classify(CURLE_SEND_ERROR, SMTP_PHASE_MAIL, "550 5.1.1 sender unknown", &r);
	assert_int_equal(r.status, SEND_PERM_FAIL);
	assert_false(r.bounced);
	classify(CURLE_WEIRD_SERVER_REPLY, SMTP_PHASE_BODY, "554 5.6.0 message refused", &r);
	assert_int_equal(r.status, SEND_PERM_FAIL);
	assert_false(r.bounced);
	assert_string_equal(r.error, "smtp 554 at end of data: 5.6.0 message refused");
}

static void four_hundreds_are_temporary_and_421_counts_against_the_server(void **state)
{
	struct send_result r;

	(void)state;
	assert_int_equal(classify(CURLE_SEND_ERROR, SMTP_PHASE_RCPT, "451 4.3.0 try later", &r),
			 SMTP_HEALTH_NEUTRAL);
	assert_int_equal(r.status, SEND_TEMP_FAIL);
	assert_int_equal(classify(CURLE_SEND_ERROR, SMTP_PHASE_MAIL, "421 4.3.2 shutting down", &r),
			 SMTP_HEALTH_FAILURE);
	assert_int_equal(r.status, SEND_TEMP_FAIL);
	assert_int_equal(classify(CURLE_WEIRD_SERVER_REPLY, SMTP_PHASE_CONNECT, "421 busy", &r),
			 SMTP_HEALTH_FAILURE);
	assert_string_equal(r.error, "smtp 421 at connect: busy");
}

static void refusals_while_setting_up_are_temporary(void **state)
{
	struct send_result r;

	(void)state;
	assert_int_equal(classify(CURLE_WEIRD_SERVER_REPLY, SMTP_PHASE_CONNECT, "554 no service", &r),
			 SMTP_HEALTH_FAILURE);
	assert_int_equal(r.status, SEND_TEMP_FAIL);
	assert_int_equal(classify(CURLE_LOGIN_DENIED, SMTP_PHASE_AUTH,
				  "535 5.7.8 Authentication credentials invalid", &r), SMTP_HEALTH_FAILURE);
	assert_int_equal(r.status, SEND_TEMP_FAIL);
	assert_non_null(strstr(r.error, "535 at AUTH: authentication refused"));
	assert_int_equal(classify(CURLE_USE_SSL_FAILED, SMTP_PHASE_EHLO, "250 HELP", &r),
			 SMTP_HEALTH_FAILURE);
	assert_string_equal(r.error, "smtp: the server offers no STARTTLS and [email] starttls is required");
}

static void network_failures_are_temporary(void **state)
{
	struct send_result r;

	(void)state;
	assert_int_equal(classify(CURLE_OPERATION_TIMEDOUT, SMTP_PHASE_BODY, "354 go ahead", &r),
			 SMTP_HEALTH_FAILURE);
	assert_string_equal(r.error, "smtp: timed out at end of data");
	classify(CURLE_COULDNT_CONNECT, SMTP_PHASE_CONNECT, "", &r);
	assert_int_equal(r.status, SEND_TEMP_FAIL);
	assert_non_null(strstr(r.error, "cannot connect"));
	classify(CURLE_RECV_ERROR, SMTP_PHASE_RCPT, "250 OK", &r);
	assert_int_equal(r.status, SEND_TEMP_FAIL);
	assert_int_equal(classify(CURLE_ABORTED_BY_CALLBACK, SMTP_PHASE_RCPT, "", &r),
			 SMTP_HEALTH_NONE);
	assert_int_equal(r.status, SEND_TEMP_FAIL);
}

static void the_phase_follows_the_commands(void **state)
{
	(void)state;
	assert_int_equal(smtp_reply_phase_of("RCPT TO:<a@b.org>\r\n", 19), SMTP_PHASE_RCPT);
	assert_int_equal(smtp_reply_phase_of("MAIL FROM:<a@b.org>", 19), SMTP_PHASE_MAIL);
	assert_int_equal(smtp_reply_phase_of("DATA", 4), SMTP_PHASE_DATA);
	assert_int_equal(smtp_reply_phase_of("STARTTLS", 8), SMTP_PHASE_STARTTLS);
	assert_int_equal(smtp_reply_phase_of("AUTH PLAIN AHByZWdvbg==", 23), SMTP_PHASE_AUTH);
	assert_int_equal(smtp_reply_phase_of("AHByZWdvbgB3cm9uZw==", 20), -1);
	assert_int_equal(smtp_reply_phase_of("DATAX", 5), -1);
}

static void the_servers_words_lose_addresses_and_numbers(void **state)
{
	char w[SMTP_REPLY_MAX];

	(void)state;
	smtp_reply_words("550-5.1.1 The email account that you tried to reach does not exist: bo@x.org",
			 w, sizeof(w));
	assert_string_equal(w, "5.1.1 The email account that you tried to reach does not exist");
	smtp_reply_words("550 call +1 323 555 0100 about <x@y", w, sizeof(w));
	assert_null(strstr(w, "555"));
	smtp_reply_words("", w, sizeof(w));
	assert_string_equal(w, "");
	smtp_reply_words("5", w, 1);
	assert_string_equal(w, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sent_is_sent_and_good_for_the_breaker),
		cmocka_unit_test(rcpt_550_is_permanent_and_a_bounce_without_the_address),
		cmocka_unit_test(policy_refusals_and_sender_problems_are_not_bounces),
		cmocka_unit_test(four_hundreds_are_temporary_and_421_counts_against_the_server),
		cmocka_unit_test(refusals_while_setting_up_are_temporary),
		cmocka_unit_test(network_failures_are_temporary),
		cmocka_unit_test(the_phase_follows_the_commands),
		cmocka_unit_test(the_servers_words_lose_addresses_and_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
