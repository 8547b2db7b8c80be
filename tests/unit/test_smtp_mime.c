/* test_smtp_mime.c: the email the SMTP provider writes (smtp_mime.h):
 * RFC 2047 encoded-words, quoted-printable, base64, the headers, the MIME
 * tree with an invitation and List-Unsubscribe, checked line by line here
 * and parsed back by Python's email package (Debian's /usr/bin/python3),
 * which is what mail clients' parsers are measured against. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../adapters/smtp/smtp_mime.h"

#define ICS "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//pregon//EN\r\nMETHOD:REQUEST\r\n" \
	"BEGIN:VEVENT\r\nUID:th-1-c1@defensa.example.org\r\nSEQUENCE:0\r\n" \
	"DTSTAMP:20261207T160000Z\r\nDTSTART:20261210T020000Z\r\nDTEND:20261210T030000Z\r\n" \
	"SUMMARY:Asamblea vecinal: \xc2\xbfqu\xc3\xa9 hacer si llega ICE?\r\n" \
	"END:VEVENT\r\nEND:VCALENDAR\r\n"

static struct smtp_mail sample(void)
{
	return (struct smtp_mail){
		.from = "alerts@defensa.example.org",
		.from_name = "La Defensa",
		.to = "ana@example.org",
		.subject = "Your hearing",
		.text = "Hello.\n",
		.message_id = "m17.1",
		.unique = "0123456789abcdef",
		.date_s = 1796659200,	/* 2026-12-07 16:00:00 UTC */
	};
}

static char *build(const struct smtp_mail *m)
{
	struct buf b = { 0 };
	struct err err;

	assert_int_equal(smtp_mime_build(&b, m, &err), 0);
	return buf_take(&b);
}

/* CRLF only, no line over max. */
static void assert_lines_within(const char *s, size_t max)
{
	size_t col = 0;

	for (const char *p = s; *p; p++) {
		if (*p == '\r') {
			assert_true(p[1] == '\n');
			p++;
			col = 0;
			continue;
		}
		assert_true(*p != '\n');
		col++;
		assert_true(col <= max);
	}
	assert_int_equal(col, 0);	/* ends with CRLF */
}

/* 998 is the hard limit (RFC 5322 2.1.1); 78 the SHOULD, which this
 * builder keeps everywhere but in a long List-Unsubscribe link, which is
 * never folded (readers of one-click links do not unfold inside <>). */
static void assert_lines_ok(const char *s)
{
	assert_lines_within(s, SMTP_MIME_LINE_MAX);
}

/* Runs /usr/bin/python3 on the message with a script that prints what it
 * found; returns its output (static). */
static const char *python(const char *msg, const char *script)
{
	static char out[4096];
	char path[] = "/tmp/test_smtp_mime.XXXXXX", cmd[8192];
	FILE *f, *p;
	int fd = mkstemp(path);
	size_t n;

	assert_true(fd >= 0);
	f = fdopen(fd, "wb");
	fputs(msg, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -c 'import email, email.policy, sys\n"
		 "m = email.message_from_binary_file(open(sys.argv[1], \"rb\"), policy=email.policy.default)\n"
		 "%s' %s", script, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	unlink(path);
	return out;
}

static void qp_escapes_soft_breaks_and_trailing_space(void **state)
{
	struct buf b = { 0 };
	char line[300];

	(void)state;
	memset(line, 'a', 200);
	line[200] = '\0';
	assert_int_equal(smtp_mime_qp(&b, "a=b \xc3\xa9\ttab\t\n", 12), 0);
	assert_string_equal(b.p, "a=3Db =C3=A9\ttab=09\r\n");
	buf_reset(&b);
	smtp_mime_qp(&b, line, 200);
	assert_lines_ok(b.p);
	assert_non_null(strstr(b.p, "=\r\n"));
	/* Every byte back: the soft breaks removed, nothing else. */
	{
		char joined[300];
		size_t n = 0;

		for (const char *p = b.p; *p; p++) {
			if (p[0] == '=' && p[1] == '\r')
				p += 2;
			else if (*p != '\r' && *p != '\n')
				joined[n++] = *p;
		}
		joined[n] = '\0';
		assert_string_equal(joined, line);
	}
	buf_reset(&b);
	smtp_mime_qp(&b, "one\r\ntwo\rthree\n\n.dot\n", 21);
	assert_string_equal(b.p, "one\r\ntwo\r\nthree\r\n\r\n.dot\r\n");
	buf_free(&b);
}

static void base64_lines_are_76_and_padded(void **state)
{
	struct buf b = { 0 };
	char in[100];

	(void)state;
	smtp_mime_base64(&b, "pregon", 6);
	assert_string_equal(b.p, "cHJlZ29u\r\n");
	buf_reset(&b);
	smtp_mime_base64(&b, "ab", 2);
	assert_string_equal(b.p, "YWI=\r\n");
	buf_reset(&b);
	memset(in, 'z', sizeof(in));
	smtp_mime_base64(&b, in, sizeof(in));
	assert_int_equal(strcspn(b.p, "\r"), 76);
	assert_lines_ok(b.p);
	buf_free(&b);
}

static void ascii_subject_is_folded_at_spaces(void **state)
{
	struct buf b = { 0 };
	const char *s = "Reminder: your hearing at the Superior Court of California, County of "
			"Los Angeles, Department 12, is tomorrow";

	(void)state;
	buf_adds(&b, "Subject: ");
	smtp_mime_header_text(&b, s, 9);
	buf_adds(&b, "\r\n");
	assert_lines_ok(b.p);
	assert_null(strstr(b.p, "=?"));
	assert_non_null(strstr(b.p, "\r\n "));	/* folded */
	assert_string_equal(python(b.p, "print(m[\"Subject\"], end=\"\")"), s);
	buf_free(&b);
}

static void non_ascii_subject_becomes_encoded_words_within_75(void **state)
{
	struct buf b = { 0 };
	/* 90 two-byte letters: several words, none splitting a letter. */
	char s[200] = "";
	const char *p, *q;

	(void)state;
	for (int i = 0; i < 90; i++)
		strcat(s, "\xc3\xb1");
	buf_adds(&b, "Subject: ");
	smtp_mime_header_text(&b, s, 9);
	buf_adds(&b, "\r\n");
	assert_lines_ok(b.p);
	for (p = b.p; (p = strstr(p, "=?UTF-8?B?")) != NULL; p = q) {
		q = strstr(p, "?=");
		assert_non_null(q);
		q += 2;
		assert_true(q - p <= SMTP_MIME_WORD_MAX);
	}
	assert_string_equal(python(b.p, "print(m[\"Subject\"] == \"\\u00f1\" * 90, end=\"\")"), "True");
	buf_free(&b);
}

static void control_characters_cannot_add_a_header(void **state)
{
	struct smtp_mail m = sample();
	char *msg;

	(void)state;
	m.subject = "Hi\r\nBcc: evil@example.net";
	msg = build(&m);
	assert_null(strstr(msg, "\r\nBcc:"));
	assert_string_equal(python(msg, "print(m[\"Bcc\"], end=\"\")"), "None");
	free(msg);
}

static void plain_message_has_the_headers_mail_clients_want(void **state)
{
	struct smtp_mail m = sample();
	char *msg;

	(void)state;
	m.text = ".starts with a dot\nline two\n";
	msg = build(&m);
	assert_lines_ok(msg);
	assert_non_null(strstr(msg, "Date: Mon, 07 Dec 2026 16:00:00 +0000\r\n"));
	assert_non_null(strstr(msg, "From: \"La Defensa\" <alerts@defensa.example.org>\r\n"));
	assert_non_null(strstr(msg, "To: ana@example.org\r\n"));
	assert_non_null(strstr(msg, "Message-ID: <m17.1.0123456789abcdef@defensa.example.org>\r\n"));
	assert_non_null(strstr(msg, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\n"));
	assert_null(strstr(msg, "List-Unsubscribe"));
	assert_string_equal(python(msg, "print(m.get_content_type(), repr(m.get_content()), end=\"\")"),
			    "text/plain '.starts with a dot\\nline two\\n'");
	free(msg);
}

static void non_ascii_sender_is_an_encoded_display_name(void **state)
{
	struct smtp_mail m = sample();
	char *msg;

	(void)state;
	m.from_name = "Defensor\xc3\xad" "a P\xc3\xba" "blica";
	msg = build(&m);
	assert_lines_ok(msg);
	assert_string_equal(python(msg, "a = m[\"From\"].addresses[0]\n"
				   "print(a.display_name, a.addr_spec, end=\"\")"),
			    "Defensor\xc3\xad" "a P\xc3\xba" "blica alerts@defensa.example.org");
	free(msg);
}

static void html_makes_an_alternative_of_two_parts(void **state)
{
	struct smtp_mail m = sample();
	char *msg;

	(void)state;
	m.html = "<p>Hola, se\xc3\xb1ora</p>\n";
	msg = build(&m);
	assert_lines_ok(msg);
	assert_string_equal(python(msg, "print([p.get_content_type() + \"/\" + p.get_content_charset() "
				   "for p in m.iter_parts()], m.get_content_type(), "
				   "repr(m.get_body((\"html\",)).get_content()), "
				   "end=\"\")"),
			    "['text/plain/utf-8', 'text/html/utf-8'] multipart/alternative "
			    "'<p>Hola, se\xc3\xb1ora</p>\\n'");
	free(msg);
}

static void calendar_makes_mixed_with_alternative_and_invite_ics(void **state)
{
	struct smtp_mail m = sample();
	char *msg;

	(void)state;
	m.html = "<p>Asamblea</p>";
	m.calendar = ICS;
	m.calendar_method = "REQUEST";
	msg = build(&m);
	assert_lines_ok(msg);
	assert_non_null(strstr(msg, "Content-Type: text/calendar; method=REQUEST; charset=UTF-8\r\n"));
	assert_string_equal(
		python(msg,
		       "alt, att = m.iter_parts()\n"
		       "cal = [p for p in alt.iter_parts()][2]\n"
		       "ics = att.get_content()\n"
		       "print(m.get_content_type(), [p.get_content_type() for p in alt.iter_parts()],\n"
		       "  cal.get_param(\"method\"), att.get_content_type(), att.get_filename(),\n"
		       "  att[\"Content-Transfer-Encoding\"], ics.replace(b\"\\r\", b\"\") == cal.get_content().encode() and\n"
		       "  b\"\\xc2\\xbfqu\\xc3\\xa9\" in ics, end=\"\")"),
		"multipart/mixed ['text/plain', 'text/html', 'text/calendar'] REQUEST "
		"application/ics invite.ics base64 True");
	free(msg);
}

static void unsubscribe_url_adds_list_unsubscribe_and_one_click(void **state)
{
	struct smtp_mail m = sample();
	char *msg;

	(void)state;
	m.unsubscribe_url = "https://pregon.example.org/u/AbCdEf0123456789_-AbCdEf0123456789_-"
			    "AbCdEf0123456789";
	m.unsubscribe_mailto = "unsubscribe@defensa.example.org";
	msg = build(&m);
	assert_lines_within(msg, 998);
	assert_string_equal(
		python(msg, "print(str(m[\"List-Unsubscribe\"]).replace(\" \", \"\"), "
			    "m[\"List-Unsubscribe-Post\"], end=\"\")"),
		"<https://pregon.example.org/u/AbCdEf0123456789_-AbCdEf0123456789_-AbCdEf0123456789>,"
		"<mailto:unsubscribe@defensa.example.org?subject=unsubscribe> "
		"List-Unsubscribe=One-Click");
	free(msg);
}

static void unsafe_inputs_are_refused_naming_the_field(void **state)
{
	struct smtp_mail m = sample();
	struct buf b = { 0 };
	struct err err;

	(void)state;
	m.unsubscribe_url = "https://x.example/u/a>b";
	assert_int_equal(smtp_mime_build(&b, &m, &err), -1);
	assert_non_null(strstr(err.pub, "unsubscribe_url"));
	m = sample();
	m.unsubscribe_url = "javascript:alert(1)";
	assert_int_equal(smtp_mime_check(&m, &err), -1);
	m = sample();
	m.to = "a@b.org\r\nBcc: c@d.org";
	assert_int_equal(smtp_mime_check(&m, &err), -1);
	assert_non_null(strstr(err.pub, "to:"));
	m = sample();
	m.calendar = ICS;
	m.calendar_method = "REQUEST\r\nX: y";
	assert_int_equal(smtp_mime_check(&m, &err), -1);
	assert_non_null(strstr(err.pub, "calendar_method"));
	m = sample();
	m.message_id = "m1<2>";
	assert_int_equal(smtp_mime_check(&m, &err), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(qp_escapes_soft_breaks_and_trailing_space),
		cmocka_unit_test(base64_lines_are_76_and_padded),
		cmocka_unit_test(ascii_subject_is_folded_at_spaces),
		cmocka_unit_test(non_ascii_subject_becomes_encoded_words_within_75),
		cmocka_unit_test(control_characters_cannot_add_a_header),
		cmocka_unit_test(plain_message_has_the_headers_mail_clients_want),
		cmocka_unit_test(non_ascii_sender_is_an_encoded_display_name),
		cmocka_unit_test(html_makes_an_alternative_of_two_parts),
		cmocka_unit_test(calendar_makes_mixed_with_alternative_and_invite_ics),
		cmocka_unit_test(unsubscribe_url_adds_list_unsubscribe_and_one_click),
		cmocka_unit_test(unsafe_inputs_are_refused_naming_the_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
