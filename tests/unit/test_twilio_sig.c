/* test_twilio_sig.c: X-Twilio-Signature (twilio_sig.h), against Twilio's
 * documented example, fixed vectors (also checked with `openssl dgst -sha1
 * -hmac`), and the Python fake in tests/fakes/twilio_fake.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../adapters/twilio/twilio_sig.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* https://www.twilio.com/docs/usage/webhooks/webhooks-security: the worked
 * example, its params given here out of order. */
static const char doc_url[] = "https://mycompany.com/myapp.php?foo=1&bar=2";
static const struct twilio_param doc_params[] = {
	{"To", "+18005551212"},
	{"Digits", "1234"},
	{"CallSid", "CA1234567890ABCDE"},
	{"From", "+12349013030"},
	{"Caller", "+12349013030"},
};
static const char doc_sig[] = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

static void twilio_signature_matches_the_documented_example(void **state)
{
	char out[TWILIO_SIG_MAX];

	(void)state;
	assert_int_equal(twilio_signature("12345", doc_url, doc_params, N(doc_params), out), 0);
	assert_string_equal(out, doc_sig);
	assert_true(twilio_signature_valid("12345", doc_url, doc_params, N(doc_params), doc_sig));
	/* The caller's array is left as it was. */
	assert_string_equal(doc_params[0].name, "To");
}

static void twilio_signature_without_params_signs_the_url_alone(void **state)
{
	char out[TWILIO_SIG_MAX];

	(void)state;
	assert_int_equal(twilio_signature("12345", doc_url, NULL, 0, out), 0);
	assert_string_equal(out, "zYQTYrRWXE7LtzbG4PfP7/bkkGo=");
	assert_true(twilio_signature_valid("12345", doc_url, NULL, 0, "zYQTYrRWXE7LtzbG4PfP7/bkkGo="));
	assert_false(twilio_signature_valid("12345", doc_url, NULL, 0, doc_sig));
}

static void twilio_signature_sorts_names_by_byte_so_upper_case_comes_first(void **state)
{
	const struct twilio_param p[] = {
		{"To", "+1"}, {"body", "lower"}, {"From", "+2"}, {"Body", "upper"},
	};
	char out[TWILIO_SIG_MAX];

	(void)state;
	/* "https://example.org/hook" Body upper From +2 To +1 body lower */
	assert_int_equal(twilio_signature("12345", "https://example.org/hook", p, N(p), out), 0);
	assert_string_equal(out, "eEaz3APKrSTDEEkrkc/19qF7jYM=");
}

static void twilio_signature_orders_a_repeated_name_by_value_and_counts_a_duplicate_once(void **state)
{
	const struct twilio_param given[] = {{"MediaUrl", "b"}, {"MediaUrl", "a"}, {"Body", "x"}};
	const struct twilio_param other[] = {{"Body", "x"}, {"MediaUrl", "a"}, {"MediaUrl", "b"}};
	const struct twilio_param dup[] = {
		{"MediaUrl", "a"}, {"Body", "x"}, {"MediaUrl", "b"}, {"MediaUrl", "a"},
	};
	const char *url = "https://example.org/hook";
	char a[TWILIO_SIG_MAX], b[TWILIO_SIG_MAX], c[TWILIO_SIG_MAX];

	(void)state;
	assert_int_equal(twilio_signature("12345", url, given, N(given), a), 0);
	assert_int_equal(twilio_signature("12345", url, other, N(other), b), 0);
	assert_int_equal(twilio_signature("12345", url, dup, N(dup), c), 0);
	assert_string_equal(a, "Cx09W5VqDLjlH6Z027uDbWzYyOc=");
	assert_string_equal(b, a);
	assert_string_equal(c, a);
}

static void twilio_signature_takes_utf8_and_empty_values_as_they_are(void **state)
{
	const struct twilio_param p[] = {{"Empty", ""}, {"Body", "\xc2\xa1Hola! ALTO \xf0\x9f\x98\x80 & = +"}};
	char out[TWILIO_SIG_MAX];

	(void)state;
	assert_int_equal(twilio_signature("tok", "https://example.org/h?q=a%20b", p, N(p), out), 0);
	assert_string_equal(out, "wng+YsbfaL0VwhJAwwmh5ZI0fSQ=");
}

static void twilio_signature_valid_rejects_a_wrong_signature(void **state)
{
	struct twilio_param p[N(doc_params)];
	char bad[] = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

	(void)state;
	bad[5] = 'X';
	assert_false(twilio_signature_valid("12345", doc_url, doc_params, N(doc_params), bad));
	/* Another token, another URL, a changed or a missing param. */
	assert_false(twilio_signature_valid("12346", doc_url, doc_params, N(doc_params), doc_sig));
	assert_false(twilio_signature_valid("12345", "https://mycompany.com/myapp.php?foo=1&bar=3",
					    doc_params, N(doc_params), doc_sig));
	assert_false(twilio_signature_valid("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2",
					    doc_params, N(doc_params), doc_sig));
	memcpy(p, doc_params, sizeof(p));
	p[1].value = "1235";
	assert_false(twilio_signature_valid("12345", doc_url, p, N(p), doc_sig));
	assert_false(twilio_signature_valid("12345", doc_url, doc_params, N(doc_params) - 1, doc_sig));
}

static void twilio_signature_valid_rejects_truncated_padded_empty_and_absent_headers(void **state)
{
	char buf[64];

	(void)state;
	snprintf(buf, sizeof(buf), "%.27s", doc_sig);
	assert_false(twilio_signature_valid("12345", doc_url, doc_params, N(doc_params), buf));
	snprintf(buf, sizeof(buf), "%.26s", doc_sig);	/* without the padding '=' */
	assert_false(twilio_signature_valid("12345", doc_url, doc_params, N(doc_params), buf));
	snprintf(buf, sizeof(buf), "%s ", doc_sig);
	assert_false(twilio_signature_valid("12345", doc_url, doc_params, N(doc_params), buf));
	snprintf(buf, sizeof(buf), "%s%s", doc_sig, doc_sig);
	assert_false(twilio_signature_valid("12345", doc_url, doc_params, N(doc_params), buf));
	assert_false(twilio_signature_valid("12345", doc_url, doc_params, N(doc_params), ""));
	assert_false(twilio_signature_valid("12345", doc_url, doc_params, N(doc_params), NULL));
}

static void twilio_signature_refuses_an_empty_token_and_null_arguments(void **state)
{
	const struct twilio_param null_value[] = {{"Body", NULL}};
	char out[TWILIO_SIG_MAX];

	(void)state;
	/* With an empty key anyone could sign: never valid. */
	assert_int_equal(twilio_signature("", doc_url, doc_params, N(doc_params), out), -1);
	assert_string_equal(out, "");
	assert_false(twilio_signature_valid("", doc_url, NULL, 0, "zYQTYrRWXE7LtzbG4PfP7/bkkGo="));
	assert_int_equal(twilio_signature(NULL, doc_url, NULL, 0, out), -1);
	assert_int_equal(twilio_signature("12345", NULL, NULL, 0, out), -1);
	assert_int_equal(twilio_signature("12345", doc_url, NULL, 1, out), -1);
	assert_int_equal(twilio_signature("12345", doc_url, null_value, 1, out), -1);
	assert_int_equal(twilio_signature("12345", doc_url, NULL, 0, NULL), -1);
}

/* Runs `python3 tests/fakes/twilio_fake.py --sign --auth-token TOKEN URL
 * NAME=VALUE...` (no shell: argv as given) and reads its one line. Returns
 * 0, or -1 when the fake or python3 cannot be run. */
static int python_signature(const char *token, const char *url,
			    const struct twilio_param *p, size_t n, char *out, size_t size)
{
	const char *fake = "tests/fakes/twilio_fake.py";
	char **argv = NULL, **pairs = NULL;
	int fds[2] = {-1, -1}, status = 0, result = -1;
	size_t len = 0;
	ssize_t got;
	pid_t pid;

	if (access(fake, R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0)
		return -1;
	argv = calloc(n + 7, sizeof(*argv));
	pairs = calloc(n + 1, sizeof(*pairs));
	if (argv == NULL || pairs == NULL || pipe(fds) != 0)
		goto out;
	argv[0] = (char *)"python3";
	argv[1] = (char *)fake;
	argv[2] = (char *)"--sign";
	argv[3] = (char *)"--auth-token";
	argv[4] = (char *)token;
	argv[5] = (char *)url;
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&pairs[i], "%s=%s", p[i].name, p[i].value) < 0)
			goto out;
		argv[6 + i] = pairs[i];
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv("/usr/bin/python3", argv);
		_exit(127);
	}
	close(fds[1]);
	fds[1] = -1;
	while (len + 1 < size && (got = read(fds[0], out + len, size - 1 - len)) > 0)
		len += (size_t)got;
	out[len] = '\0';
	out[strcspn(out, "\n")] = '\0';
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		result = 0;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	for (size_t i = 0; pairs != NULL && i < n; i++)
		free(pairs[i]);
	free(pairs);
	free(argv);
	return result;
}

static void twilio_signature_agrees_with_the_python_fake(void **state)
{
	static const char *const names[] = {
		"MessageSid", "MessageStatus", "ErrorCode", "Body", "MediaUrl0", "From", "To",
		"body", "OptOutType", "NumMedia",
	};
	static const char *const values[] = {
		"SM0123456789abcdef0123456789abcdef", "delivered", "30007", "STOP",
		"", " leading space", "a&b=c+d%20e", "ni\xc3\xb1o m\xc3\xa1s \xe2\x82\xac",
		"+13235550100", "multi\nline",
	};
	struct twilio_param p[40];
	char c_sig[TWILIO_SIG_MAX], py_sig[128];
	unsigned seed = 7;

	(void)state;
	if (python_signature("t", "http://127.0.0.1:1/", NULL, 0, py_sig, sizeof(py_sig)) != 0)
		skip();	/* no python3 or not run from the repository root */
	for (int round = 0; round < 12; round++) {
		size_t n = (size_t)round * 3;	/* 0 .. 33 params, names repeating */
		const char *url = round % 2 ? "https://pregon.example.org/webhooks/sms/status?x=1&y=%2F"
					    : "http://127.0.0.1:8080/webhooks/sms/inbound";

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			p[i].name = names[(seed >> 16) % N(names)];
			seed = seed * 1103515245u + 12345u;
			p[i].value = values[(seed >> 16) % N(values)];
		}
		assert_int_equal(twilio_signature("f4k3-t0ken", url, p, n, c_sig), 0);
		assert_int_equal(python_signature("f4k3-t0ken", url, p, n, py_sig, sizeof(py_sig)), 0);
		assert_string_equal(c_sig, py_sig);
		assert_true(twilio_signature_valid("f4k3-t0ken", url, p, n, py_sig));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(twilio_signature_matches_the_documented_example),
		cmocka_unit_test(twilio_signature_without_params_signs_the_url_alone),
		cmocka_unit_test(twilio_signature_sorts_names_by_byte_so_upper_case_comes_first),
		cmocka_unit_test(twilio_signature_orders_a_repeated_name_by_value_and_counts_a_duplicate_once),
		cmocka_unit_test(twilio_signature_takes_utf8_and_empty_values_as_they_are),
		cmocka_unit_test(twilio_signature_valid_rejects_a_wrong_signature),
		cmocka_unit_test(twilio_signature_valid_rejects_truncated_padded_empty_and_absent_headers),
		cmocka_unit_test(twilio_signature_refuses_an_empty_token_and_null_arguments),
		cmocka_unit_test(twilio_signature_agrees_with_the_python_fake),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
