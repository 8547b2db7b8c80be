/* fuzz_smtp_mime.c: libFuzzer target for the email builder
 * (adapters/smtp/smtp_mime.c): RFC 2047 header text, quoted-printable,
 * base64 and the whole message.
 *
 * The input is cut at NUL bytes into a subject, a text, an HTML part, an
 * iCalendar object, a display name and an unsubscribe link (missing
 * pieces are NULL or empty). Whatever they hold, the output must be CRLF
 * lines only (no bare CR or LF: a header injection or a broken message
 * otherwise), every header line and body line within 78 characters (the
 * List-Unsubscribe line, never folded, within 998), every encoded-word
 * within 75, and quoted-printable decoded back must give the text with
 * its line ends made CRLF. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../adapters/smtp/smtp_mime.h"

#define FIELDS 6

static void check_lines(const char *s, size_t n)
{
	size_t col = 0;
	int long_ok = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				abort();
			i++;
			col = 0;
			long_ok = i + 17 < n && memcmp(s + i + 1, "List-Unsubscribe:", 17) == 0;
			continue;
		}
		if (s[i] == '\n' || s[i] == '\0')
			abort();
		if (++col > (long_ok ? 998u : (size_t)SMTP_MIME_LINE_MAX))
			abort();
	}
	if (n > 0 && col != 0)
		abort();
}

static void check_words(const char *s)
{
	for (const char *p = s; (p = strstr(p, "=?UTF-8?B?")) != NULL;) {
		const char *q = strstr(p + 10, "?=");

		if (q == NULL || q + 2 - p > SMTP_MIME_WORD_MAX)
			abort();
		p = q + 2;
	}
}

/* Decodes quoted-printable and compares with text, its line ends CRLF. */
static void check_qp(const char *text, size_t len)
{
	struct buf qp = { 0 }, want = { 0 }, got = { 0 };

	if (smtp_mime_qp(&qp, text, len) != 0)
		goto out;
	check_lines(qp.p, qp.len);
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\r' || text[i] == '\n') {
			buf_add(&want, "\r\n", 2);
			if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
				i++;
		} else {
			buf_add(&want, text + i, 1);
		}
	}
	if (len == 0 || (text[len - 1] != '\n' && text[len - 1] != '\r'))
		buf_add(&want, "\r\n", 2);
	for (size_t i = 0; i < qp.len; i++) {
		if (qp.p[i] != '=') {
			buf_add(&got, qp.p + i, 1);
		} else if (qp.p[i + 1] == '\r') {
			i += 2;	/* soft break */
		} else {
			char c = (char)(hex_digit((unsigned char)qp.p[i + 1]) * 16 +
					hex_digit((unsigned char)qp.p[i + 2]));

			buf_add(&got, &c, 1);
			i += 2;
		}
	}
	if (want.err == 0 && got.err == 0 &&
	    (want.len != got.len || memcmp(want.p ? want.p : "", got.p ? got.p : "", got.len) != 0))
		abort();
out:
	buf_free(&qp);
	buf_free(&want);
	buf_free(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *f[FIELDS] = { 0 };
	struct buf out = { 0 };
	struct err err;
	size_t at = 0;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (int i = 0; i < FIELDS; i++)
		f[i] = copy + size;	/* "" */
	for (int i = 0; i < FIELDS && at <= size; i++) {
		f[i] = copy + at;
		at += strlen(copy + at) + 1;
	}
	check_qp(f[1], strlen(f[1]));
	buf_adds(&out, "Subject: ");
	smtp_mime_header_text(&out, f[0], 9);
	buf_adds(&out, "\r\n");
	if (out.err == 0) {
		check_lines(out.p, out.len);
		check_words(out.p);
	}
	buf_reset(&out);
	smtp_mime_base64(&out, data, size);
	if (out.p != NULL)
		check_lines(out.p, out.len);
	buf_reset(&out);
	{
		struct smtp_mail m = {
			.from = "alerts@defensa.example.org",
			.from_name = f[4],
			.to = "ana@example.org",
			.subject = f[0],
			.text = f[1],
			.html = f[2] && f[2][0] ? f[2] : NULL,
			.calendar = f[3] && f[3][0] ? f[3] : NULL,
			.calendar_method = "REQUEST",
			.unsubscribe_url = f[5] && f[5][0] ? f[5] : NULL,
			.unsubscribe_mailto = "alerts@defensa.example.org",
			.message_id = "m1.1",
			.unique = "0123456789abcdef0123",
			.date_s = (int64_t)size * 86400 * 37,
		};

		if (smtp_mime_build(&out, &m, &err) == 0) {
			check_lines(out.p, out.len);
			check_words(out.p);
		}
	}
	buf_free(&out);
	free(copy);
	return 0;
}
