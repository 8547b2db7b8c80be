/* Unit tests for log.c and its redactor (redact.c): no phone number or
 * email in a log line, ids, times and ports left as they are, the line cut
 * only after redaction, the file created 0640. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "redact.h"

static void check(const char *in, const char *want)
{
	char buf[256];

	strncpy(buf, in, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	log_redact(buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void phone_numbers_are_redacted(void **state)
{
	(void)state;
	check("to=+13235550100 ok", "to=[redacted] ok");
	check("call (323) 555-0100 now", "call [redacted] now");
	check("+1 (323) 555-0100", "[redacted]");
	check("number 323-555-0100", "number [redacted]");
	check("x+13235550100", "x[redacted]");
}

/* Issue 12, finding 6: shapes the first redactor let through. */
static void numbers_in_other_shapes_are_redacted(void **state)
{
	(void)state;
	check("to=%2B13235550100", "to=[redacted]");
	check("to=%2b1%20323%20555%200100&x=1", "to=[redacted]&x=1");
	check("\"to\":\"\\u002b13235550100\"", "\"to\":\"[redacted]\"");
	check("call3235550100 now", "call[redacted] now");
	check("Ana3235550100", "Ana[redacted]");
	check("x3235550100 \\u3235550100", "x[redacted] \\u[redacted]");
	check("323 - 555 - 0100", "[redacted]");
	check("323 \xe2\x80\x93 555 \xe2\x80\x93 0100", "[redacted]");	/* en dashes */
	check("323.555.0100", "[redacted]");
	check("(323)555-0100", "[redacted]");
	check("+1.323.555.0100", "[redacted]");
	check("tel:+1-323-555-0100;ext=2", "tel:[redacted];ext=2");
	check("tel:3235550100", "tel:[redacted]");
	check("+52 1 55 1234 5678", "[redacted]");
	check("06 12 34 56 78", "[redacted]");
	check("323\xc2\xa0" "555\xc2\xa0" "0100", "[redacted]");	/* no-break spaces */
	/* full-width, Arabic-Indic, Extended Arabic-Indic, Devanagari */
	check("\xef\xbc\x8b\xef\xbc\x91\xef\xbc\x93\xef\xbc\x92\xef\xbc\x93\xef\xbc\x95\xef\xbc\x95"
	      "\xef\xbc\x95\xef\xbc\x90\xef\xbc\x91\xef\xbc\x90\xef\xbc\x90", "[redacted]");
	check("x \xd9\xa3\xd9\xa2\xd9\xa3\xd9\xa5\xd9\xa5\xd9\xa5\xd9\xa0\xd9\xa1\xd9\xa0\xd9\xa0 y",
	      "x [redacted] y");
	check("\xdb\xb3\xdb\xb2\xdb\xb3-\xdb\xb5\xdb\xb5\xdb\xb5-\xdb\xb0\xdb\xb1\xdb\xb0\xdb\xb0",
	      "[redacted]");
	check("\xe0\xa5\xa9\xe0\xa5\xa8\xe0\xa5\xa9\xe0\xa5\xab\xe0\xa5\xab\xe0\xa5\xab\xe0\xa5\xa6",
	      "[redacted]");
	check("3235550100.", "[redacted].");
	check("a 1:3235550100 b", "a 1:[redacted] b");	/* no port has 10 digits */
}

static void emails_are_redacted(void **state)
{
	(void)state;
	check("to ana.b+x@example.org, ok", "to [redacted], ok");
	check("a@b", "[redacted]");
	check("to jos\xc3\xa9.n\xc3\xba\xc3\xb1\x65z@correo.espa\xc3\xb1\x61 ok", "to [redacted] ok");
	check("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8", "[redacted]");
	check("ana@xn--espaa-rta.es.", "[redacted].");
	check("ana+court-7@example.org", "[redacted]");
	check("to=ana%40example.org&", "[redacted]&");	/* '=' is atext */
	check("to ana!x#y@example.org", "to [redacted]");
	check("ana\xef\xbc\xa0" "example.org", "[redacted]");	/* full-width at */
	check("\"ana\\u0040example.org\"", "\"[redacted]\"");
	check("mailto:ana@example.org", "mailto:[redacted]");
	/* found by fuzz_redact: an address right after a redacted one */
	check("a@e3&aa@ee ", "[redacted][redacted] ");
	check("a@ee.\xf0\x9d\x9f\x8e \xf0\x9d\x9f\x8e\xf0\x9d\x9f\x8e\xf0\x9d\x9f\x8e "
	      "\xf0\x9d\x9f\x8e\xf0\x9d\x9f\x8e \xf0\x9d\x9f\x8e ", "[redacted].[redacted] ");
	check("3235550100ana@example.org", "[redacted]");
	check("call(\xd9\xa3{a-a@ee.org", "call([redacted]");
	check("ana@x.org@ee.org ok", "[redacted] ok");
	check("ana@ex.Ana3235 5550 100 ok", "[redacted] ok");
	check("x@xn--99Q.3235550100Q.xn--9e ok", "[redacted] ok");
	check("a@b.c3)0@ee ok", "[redacted][redacted] ok");
	check("a@b.call0099999\xe2\x80\x94 99.) ok", "[redacted].) ok");
	check("@ee.org ok", "@ee.org ok");	/* a handle, not an address */
	check("a@e.Tel\xe0\xa7\xa8.\xe0\xa7\xa8.\xe0\xa7\xa7 \xe0\xa7\xa6 \xe0\xa7\xa6/\xe0\xa7\xad \xe0\xa7\xa6 ok",
	      "[redacted] ok");	/* Bengali digits after an address */
}

static void ids_counts_times_and_ports_survive(void **state)
{
	(void)state;
	check("msg=m1234567.1 job=alert-2026 attempt=3", "msg=m1234567.1 job=alert-2026 attempt=3");
	check("inbound i12345678 ok", "inbound i12345678 ok");
	check("msg=m88 http=429 code=21610", "msg=m88 http=429 code=21610");
	check("stats: sent=1_234_567 held=64", "stats: sent=1_234_567 held=64");
	check("2026-11-23T09:34:34.149Z", "2026-11-23T09:34:34.149Z");
	check("at 2026-12-07T13:05:00Z", "at 2026-12-07T13:05:00Z");
	check("due 2026-12-07 13:05:30 PST", "due 2026-12-07 13:05:30 PST");
	check("on 12/07/2026 at 12:30", "on 12/07/2026 at 12:30");
	check("redis 127.0.0.1:6379 up", "redis 127.0.0.1:6379 up");
	check("listening on 127.0.0.1:46379 1200 ms", "listening on 127.0.0.1:46379 1200 ms");
	check("broker 192.168.100.200:8883", "broker 192.168.100.200:8883");
	check("[::1]:6379 up", "[::1]:6379 up");
	check("at 12:30 then 13:05:30", "at 12:30 then 13:05:30");
	check("offsets P7D,P3D,PT3H P1Y2M3W4DT5H6M7S", "offsets P7D,P3D,PT3H P1Y2M3W4DT5H6M7S");
	check("retry in 3600000ms", "retry in 3600000ms");
	check("message of 1048576 bytes", "message of 1048576 bytes");
	check("pregon 1.2.3", "pregon 1.2.3");
}

static void short_buffer_is_cut_not_overflowed(void **state)
{
	char buf[14] = "+13235550100";
	char out[8];

	(void)state;
	log_redact(buf, sizeof(buf));
	assert_null(strstr(buf, "3235550100"));
	/* The output is cut after redaction, so the cut holds no digit. */
	assert_int_equal(redact_copy(out, sizeof(out), "a 3235550100", 12), 7);
	assert_string_equal(out, "a [reda");
	assert_int_equal(redact_copy(out, 0, "a", 1), 0);
}

/* The cut falls on a character boundary: no half UTF-8 sequence. */
static void cut_keeps_whole_characters(void **state)
{
	char out[4];

	(void)state;
	assert_int_equal(redact_copy(out, sizeof(out), "a\xc3\xb1\xc3\xb1", 5), 3);
	assert_string_equal(out, "a\xc3\xb1");
	assert_int_equal(redact_copy(out, sizeof(out), "ab\xc3\xb1", 4), 2);
	assert_string_equal(out, "ab");
}

/* Counts in log lines must not look like phone numbers to the redactor. */
static void counts_are_grouped_by_three(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(log_count(0, buf), "0");
	assert_string_equal(log_count(999, buf), "999");
	assert_string_equal(log_count(1000, buf), "1_000");
	assert_string_equal(log_count(13235550100ULL, buf), "13_235_550_100");
	assert_string_equal(log_count(UINT64_MAX, buf), "18_446_744_073_709_551_615");
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, (1 << 16) - 1, f) > 0);
	fclose(f);
	return buf;
}

/* A number that straddles byte 2,048 of a line: cut first, its first
 * half went out as it was (issue 12). The line is also written to a file
 * created 0640. */
static void long_line_is_redacted_before_it_is_cut(void **state)
{
	char path[] = "/tmp/pregon-test-log-XXXXXX";
	char pad[2048 + 1];
	struct stat st;
	char *text;
	int fd;
	mode_t old;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	old = umask(022);
	assert_int_equal(log_init("info", path), 0);
	umask(old);
	for (size_t cut = 2040; cut <= 2048; cut++) {
		memset(pad, 'x', cut);
		pad[cut] = '\0';
		log_info("%s+13235550100 and ana.lopez@example.org", pad);
	}
	log_info("short +1 323 555 0100");
	/* SIGHUP after rotation: the new file is 0640 too. */
	{
		char rotated[sizeof(path) + 4];

		snprintf(rotated, sizeof(rotated), "%s.1", path);
		assert_int_equal(rename(path, rotated), 0);
		old = umask(022);
		log_reopen();
		umask(old);
		log_info("after rotation");
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0640);
		unlink(path);
		assert_int_equal(rename(rotated, path), 0);
	}
	log_close();
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	text = slurp(path);
	assert_null(strstr(text, "1323"));
	assert_null(strstr(text, "+1"));
	assert_null(strstr(text, "5550100"));
	assert_null(strstr(text, "3235"));
	assert_null(strstr(text, "@"));
	assert_non_null(strstr(text, "short [redacted]\n"));
	free(text);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(phone_numbers_are_redacted),
		cmocka_unit_test(numbers_in_other_shapes_are_redacted),
		cmocka_unit_test(emails_are_redacted),
		cmocka_unit_test(ids_counts_times_and_ports_survive),
		cmocka_unit_test(short_buffer_is_cut_not_overflowed),
		cmocka_unit_test(cut_keeps_whole_characters),
		cmocka_unit_test(counts_are_grouped_by_three),
		cmocka_unit_test(long_line_is_redacted_before_it_is_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
