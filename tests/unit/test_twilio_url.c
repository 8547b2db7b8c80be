/* test_twilio_url.c: [http] public_url checked for the Twilio provider, and
 * the other form of a URL (default port added or removed) under which
 * twilio_signature_valid_any_port also accepts a signature (issue 12). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../adapters/twilio/twilio_sig.h"
#include "../../adapters/twilio/twilio_url.h"

static void other_form(const char *url, const char *want)
{
	char out[256];

	if (want == NULL) {
		assert_int_equal(twilio_url_other_form(url, out, sizeof(out)), -1);
		return;
	}
	assert_int_equal(twilio_url_other_form(url, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void url_other_form_adds_or_removes_only_the_default_port(void **state)
{
	(void)state;
	other_form("https://gw.example.org/webhooks/sms/inbound",
		   "https://gw.example.org:443/webhooks/sms/inbound");
	other_form("https://gw.example.org:443/webhooks/sms/inbound",
		   "https://gw.example.org/webhooks/sms/inbound");
	other_form("http://gw.example.org/a?b=1", "http://gw.example.org:80/a?b=1");
	other_form("http://gw.example.org:80", "http://gw.example.org");
	other_form("https://gw.example.org", "https://gw.example.org:443");
	other_form("https://[2001:db8::1]/x", "https://[2001:db8::1]:443/x");
	other_form("https://[2001:db8::1]:443/x", "https://[2001:db8::1]/x");
	/* Another port, the other scheme's default, or no http(s): none. */
	other_form("https://gw.example.org:8443/x", NULL);
	other_form("https://gw.example.org:80/x", NULL);
	other_form("http://gw.example.org:443/x", NULL);
	other_form("ftp://gw.example.org/x", NULL);
	other_form("gw.example.org/x", NULL);
	/* A malformed authority has none (found by fuzz_twilio_url). */
	other_form("https://gw.example.ttp://x", NULL);
	other_form("https://gw.example.org:443*43/w", NULL);
}

static void url_other_form_refuses_a_buffer_too_small(void **state)
{
	char out[20];

	(void)state;
	assert_int_equal(twilio_url_other_form("https://gw.example.org/x", out, sizeof(out)), -1);
}

static void check_ok(const char *url, bool https, bool loopback)
{
	struct twilio_url_info info;
	struct err err = { "" };

	assert_int_equal(twilio_url_check(url, &info, &err), 0);
	assert_int_equal(info.https, https);
	assert_int_equal(info.loopback, loopback);
}

static void check_bad(const char *url, const char *why)
{
	struct twilio_url_info info;
	struct err err = { "" };

	assert_int_equal(twilio_url_check(url, &info, &err), -1);
	if (strstr(err.msg, why) == NULL)
		fail_msg("%s: got \"%s\", want \"%s\"", url, err.msg, why);
}

static void url_check_takes_absolute_http_urls_and_tells_loopback(void **state)
{
	(void)state;
	check_ok("https://gw.example.org", true, false);
	check_ok("HTTPS://gw.example.org:8443/pregon/", true, false);
	check_ok("http://gw.example.org", false, false);
	check_ok("http://127.0.0.1:8080", false, true);
	check_ok("http://127.10.0.3", false, true);
	check_ok("http://localhost:9000", false, true);
	check_ok("http://[::1]:8080", false, true);
	check_ok("https://[2001:db8::1]/x", true, false);
	check_ok("http://127.example.org", false, false);
}

static void url_check_refuses_what_twilio_could_not_call(void **state)
{
	(void)state;
	check_bad("", "empty");
	check_bad(NULL, "empty");
	check_bad("gw.example.org", "absolute http:// or https://");
	check_bad("ftp://gw.example.org", "absolute http:// or https://");
	check_bad("https://", "must name a host");
	check_bad("https:///path", "must name a host");
	check_bad("https://user:pw@gw.example.org", "user name");
	check_bad("https://gw.example.org:0", "port");
	check_bad("https://gw.example.org:70000", "port");
	check_bad("https://gw.example.org:", "port");
	check_bad("https://gw.example.org:x", "nothing else after the host");
	check_bad("https://gw.example.org/a b", "spaces");
	check_bad("https://gw.example.org/x?y=1", "query");
	check_bad("https://gw.example.org/x#y", "query or fragment");
	check_bad("https://[::1", "nothing else after the host");
	check_bad("https://gw.example.org:443x/a", "nothing else after the host");
}

static const struct twilio_param params[] = {
	{"MessageSid", "SM0123456789abcdef0123456789abcdef"},
	{"From", "+13235550100"},
	{"Body", "STOP"},
};

static void signature_with_or_without_the_default_port_both_verify(void **state)
{
	char with[TWILIO_SIG_MAX], without[TWILIO_SIG_MAX], other[TWILIO_SIG_MAX];
	const char *url = "https://gw.example.org/webhooks/sms/inbound";

	(void)state;
	assert_int_equal(twilio_signature("tok", "https://gw.example.org:443/webhooks/sms/inbound",
					  params, 3, with), 0);
	assert_int_equal(twilio_signature("tok", url, params, 3, without), 0);
	assert_int_equal(twilio_signature("tok", "https://gw.example.org:8443/webhooks/sms/inbound",
					  params, 3, other), 0);
	assert_string_not_equal(with, without);
	assert_true(twilio_signature_valid_any_port("tok", url, params, 3, with));
	assert_true(twilio_signature_valid_any_port("tok", url, params, 3, without));
	assert_false(twilio_signature_valid_any_port("tok", url, params, 3, other));
	/* Configured with :443, a signature without it verifies too. */
	assert_true(twilio_signature_valid_any_port(
		"tok", "https://gw.example.org:443/webhooks/sms/inbound", params, 3, without));
	/* The exact form alone still refuses the other one. */
	assert_false(twilio_signature_valid("tok", url, params, 3, with));
	assert_false(twilio_signature_valid_any_port("other", url, params, 3, with));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(url_other_form_adds_or_removes_only_the_default_port),
		cmocka_unit_test(url_other_form_refuses_a_buffer_too_small),
		cmocka_unit_test(url_check_takes_absolute_http_urls_and_tells_loopback),
		cmocka_unit_test(url_check_refuses_what_twilio_could_not_call),
		cmocka_unit_test(signature_with_or_without_the_default_port_both_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
