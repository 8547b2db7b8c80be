/* smtp_mime.c: an email as bytes (smtp_mime.h says what it writes).
 *
 * Built by hand into one buffer rather than with curl_mime: the folding,
 * the encodings and the CRLF are then ours to check line by line (the
 * unit tests and the fuzzer do), and the adapter streams the buffer
 * through CURLOPT_READFUNCTION. */
#include "smtp_mime.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- encodings ---- */

int smtp_mime_base64(struct buf *out, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t col = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = b64[v >> 18 & 63];
		q[1] = b64[v >> 12 & 63];
		q[2] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		buf_add(out, q, 4);
		col += 4;
		if (col == SMTP_MIME_BODY_LINE_MAX) {
			buf_add(out, "\r\n", 2);
			col = 0;
		}
	}
	if (col > 0)
		buf_add(out, "\r\n", 2);
	return out->err;
}

/* Appends one quoted-printable line (no line end inside), with soft
 * breaks so that no line passes SMTP_MIME_BODY_LINE_MAX, then CRLF. */
static void qp_line(struct buf *out, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		bool last = i + 1 == n;
		char tok[3];
		size_t len = 1;

		tok[0] = (char)c;
		if (c == '=' || c > 126 || (c < 32 && c != '\t') ||
		    (last && (c == ' ' || c == '\t'))) {
			tok[0] = '=';
			tok[1] = hex[c >> 4];
			tok[2] = hex[c & 15];
			len = 3;
		}
		/* Room for the token and, unless it ends the line, a soft
		 * break's '=' after it. */
		if (col + len + (last ? 0 : 1) > SMTP_MIME_BODY_LINE_MAX) {
			buf_add(out, "=\r\n", 3);
			col = 0;
		}
		buf_add(out, tok, len);
		col += len;
	}
	buf_add(out, "\r\n", 2);
}

int smtp_mime_qp(struct buf *out, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '\n' && s[i] != '\r')
			continue;
		if (i == len && start == len && len > 0)
			break;	/* the text ended with its line end */
		qp_line(out, s + start, i - start);
		if (i < len && s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	return out->err;
}

/* ---- header values ---- */

static bool printable_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 32 || (unsigned char)*s > 126)
			return false;
	return true;
}

/* The bytes of one encoded-word's text: at most max, ending on a UTF-8
 * character boundary (at least one byte). */
static size_t word_bytes(const unsigned char *s, size_t n, size_t max)
{
	size_t k = n < max ? n : max;

	if (k == n)
		return k;
	while (k > 0 && (s[k] & 0xC0) == 0x80)
		k--;
	return k > 0 ? k : (n < max ? n : max);
}

/* Appends text as B encoded-words, one per folded line; *col is the
 * column the first starts at, and is left where the last ends. */
static void words_b(struct buf *out, const unsigned char *s, size_t n, size_t *col)
{
	size_t i = 0;

	while (i < n) {
		size_t room = SMTP_MIME_LINE_MAX - *col, k;
		char enc[SMTP_MIME_WORD_MAX + 1];
		size_t e = 0;

		if (room > SMTP_MIME_WORD_MAX)
			room = SMTP_MIME_WORD_MAX;
		if (room < 16 || i > 0) {
			if (i > 0 || *col > 1) {
				buf_add(out, "\r\n ", 3);
				*col = 1;
			}
			room = SMTP_MIME_WORD_MAX;
		}
		/* "=?UTF-8?B?" + 4 per 3 bytes + "?=" */
		k = word_bytes(s + i, n - i, (room - 12) / 4 * 3);
		for (size_t j = 0; j < k; j++) {
			unsigned char c = s[i + j];

			/* A control character would be a header line break
			 * once decoded by a careless reader. */
			if (c < 32 || c == 127)
				c = ' ';
			enc[e++] = (char)c;
		}
		buf_adds(out, "=?UTF-8?B?");
		{
			struct buf w = { 0 };

			smtp_mime_base64(&w, enc, e);
			if (w.err == 0)
				buf_add(out, w.p, w.len - 2);	/* without its CRLF */
			else
				out->err = w.err;
			buf_free(&w);
		}
		buf_adds(out, "?=");
		*col += 12 + (e + 2) / 3 * 4;
		i += k;
	}
}

/* Plain words folded at spaces will do: printable ASCII, nothing that
 * reads as an encoded-word, and every word short enough for a folded
 * line of its own. */
static bool words_fit(const char *s)
{
	size_t w = 0;

	if (strstr(s, "=?") != NULL || !printable_ascii(s))
		return false;
	for (; *s; s++) {
		w = *s == ' ' ? 0 : w + 1;
		if (w > SMTP_MIME_LINE_MAX - 1)
			return false;
	}
	return true;
}

static void words_plain(struct buf *out, const char *s, size_t *col)
{
	while (*s) {
		size_t sp = 0, w;

		while (s[sp] == ' ')
			sp++;
		w = strcspn(s + sp, " ");
		if (w == 0)
			break;	/* trailing spaces */
		if (*col + sp + w > SMTP_MIME_LINE_MAX && *col > 1) {
			buf_add(out, "\r\n ", 3);
			*col = 1;
		} else {
			buf_add(out, s, sp);
			*col += sp;
		}
		buf_add(out, s + sp, w);
		*col += w;
		s += sp + w;
	}
}

static void header_text(struct buf *out, const char *text, size_t *col)
{
	if (words_fit(text))
		words_plain(out, text, col);
	else
		words_b(out, (const unsigned char *)text, strlen(text), col);
}

int smtp_mime_header_text(struct buf *out, const char *text, size_t used)
{
	size_t col = used;

	header_text(out, text, &col);
	return out->err;
}

/* ---- checks of what goes into headers ---- */

static int check_addr(const char *a, const char *field, struct err *err)
{
	size_t n = a ? strlen(a) : 0;

	if (n == 0 || n > 254 || !printable_ascii(a) || strcspn(a, " <>\",;:\\()[]") != n ||
	    strchr(a, '@') == NULL)
		return err_public(err, "%s: not an address that can go in a header", field);
	return 0;
}

static int check_token(const char *s, const char *extra, size_t lo, size_t hi,
		       const char *field, struct err *err)
{
	size_t n = s ? strlen(s) : 0;

	if (n < lo || n > hi)
		return err_public(err, "%s: must be %zu..%zu characters", field, lo, hi);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c) != NULL))
			return err_public(err, "%s: character 0x%02x not allowed", field, c);
	}
	return 0;
}

/* A link for List-Unsubscribe: http(s), printable ASCII without the
 * characters that end or split the header's <...> list (RFC 2369 2). */
static int check_url(const char *u, struct err *err)
{
	size_t n = strlen(u);

	if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
		return err_public(err, "unsubscribe_url: must be an http(s) URL");
	if (n > 900 || !printable_ascii(u) || strcspn(u, " <>,\"") != n || strstr(u, "=?") != NULL)
		return err_public(err, "unsubscribe_url: over 900 bytes, or a space, <, >, \", comma "
				  "or =?");
	return 0;
}

int smtp_mime_check(const struct smtp_mail *m, struct err *err)
{
	if (check_addr(m->from, "from", err) != 0 || check_addr(m->to, "to", err) != 0 ||
	    check_token(m->message_id, "._-", 1, 128, "message_id", err) != 0 ||
	    check_token(m->unique, "", 8, 64, "unique", err) != 0)
		return -1;
	if (m->text == NULL || m->subject == NULL)
		return err_public(err, "text: missing");
	if (m->calendar != NULL &&
	    check_token(m->calendar_method, "-", 1, 32, "calendar_method", err) != 0)
		return -1;
	if (m->unsubscribe_url != NULL) {
		if (check_url(m->unsubscribe_url, err) != 0)
			return -1;
		if (m->unsubscribe_mailto != NULL &&
		    check_addr(m->unsubscribe_mailto, "unsubscribe_mailto", err) != 0)
			return -1;
	}
	return 0;
}

/* ---- the message ---- */

void smtp_mime_date(char *out, size_t out_len, int64_t t)
{
	static const char days[][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1900) {
		tt = 0;
		gmtime_r(&tt, &tm);
	}
	snprintf(out, out_len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

/* Whether name can be a quoted-string (RFC 5322 3.2.4) of at most room
 * characters with its quotes and escapes: printable ASCII, nothing that
 * reads as an encoded-word. */
static bool quoted_fits(const char *name, size_t room)
{
	size_t n = 2;

	if (!printable_ascii(name) || strstr(name, "=?") != NULL)
		return false;
	for (const char *p = name; *p; p++)
		n += *p == '"' || *p == '\\' ? 2 : 1;
	return n <= room;
}

/* From: "Name" <addr>, an encoded name when it is not printable ASCII
 * or too long for a quoted one on the line. */
static void from_header(struct buf *out, const struct smtp_mail *m)
{
	size_t col = 6;

	buf_adds(out, "From: ");
	if (m->from_name == NULL || m->from_name[0] == '\0') {
		buf_adds(out, m->from);
		buf_add(out, "\r\n", 2);
		return;
	}
	if (quoted_fits(m->from_name, SMTP_MIME_LINE_MAX - col)) {
		buf_add(out, "\"", 1);
		for (const char *p = m->from_name; *p; p++) {
			if (*p == '"' || *p == '\\') {
				buf_add(out, "\\", 1);
				col++;
			}
			buf_add(out, p, 1);
			col++;
		}
		buf_add(out, "\"", 1);
		col += 2;
	} else {
		words_b(out, (const unsigned char *)m->from_name, strlen(m->from_name), &col);
	}
	if (col + 3 + strlen(m->from) > SMTP_MIME_LINE_MAX)
		buf_adds(out, "\r\n");
	buf_addf(out, " <%s>\r\n", m->from);
}

static void headers(struct buf *out, const struct smtp_mail *m)
{
	char date[40];
	const char *domain = strrchr(m->from, '@') + 1;

	smtp_mime_date(date, sizeof(date), m->date_s);
	buf_addf(out, "Date: %s\r\n", date);
	from_header(out, m);
	buf_addf(out, "To: %s\r\n", m->to);
	buf_adds(out, "Subject: ");
	smtp_mime_header_text(out, m->subject, 9);
	buf_add(out, "\r\n", 2);
	buf_addf(out, "Message-ID: <%s.%s@%s>\r\n", m->message_id, m->unique, domain);
	buf_adds(out, "MIME-Version: 1.0\r\n");
	if (m->unsubscribe_url != NULL) {
		/* RFC 8058 3.1: the https link gets the one-click POST; the
		 * mailto is for clients that only know RFC 2369. */
		buf_addf(out, "List-Unsubscribe: <%s>", m->unsubscribe_url);
		if (m->unsubscribe_mailto != NULL)
			buf_addf(out, ",\r\n <mailto:%s?subject=unsubscribe>", m->unsubscribe_mailto);
		buf_adds(out, "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
	}
}

static void qp_part(struct buf *out, const char *type, const char *text)
{
	buf_addf(out, "Content-Type: %s; charset=UTF-8\r\n"
		 "Content-Transfer-Encoding: quoted-printable\r\n\r\n", type);
	smtp_mime_qp(out, text, strlen(text));
}

/* A boundary delimiter line (RFC 2046 5.1.1). The CRLF in front of it is
 * part of it, so the line end that closes the part before stays that
 * part's. */
static void delimiter(struct buf *out, char tag, const char *unique, bool last)
{
	buf_addf(out, "\r\n--=_%c%s%s\r\n", tag, unique, last ? "--" : "");
}

/* The text, the HTML and the invitation as alternatives of each other. */
static void alternative(struct buf *out, const struct smtp_mail *m)
{
	buf_addf(out, "Content-Type: multipart/alternative;\r\n boundary=\"=_a%s\"\r\n", m->unique);
	delimiter(out, 'a', m->unique, false);
	qp_part(out, "text/plain", m->text);
	if (m->html != NULL) {
		delimiter(out, 'a', m->unique, false);
		qp_part(out, "text/html", m->html);
	}
	if (m->calendar != NULL) {
		char type[64];

		snprintf(type, sizeof(type), "text/calendar; method=%s", m->calendar_method);
		delimiter(out, 'a', m->unique, false);
		qp_part(out, type, m->calendar);
	}
	delimiter(out, 'a', m->unique, true);
}

int smtp_mime_build(struct buf *out, const struct smtp_mail *m, struct err *err)
{
	if (smtp_mime_check(m, err) != 0)
		return -1;
	headers(out, m);
	if (m->calendar != NULL) {
		buf_addf(out, "Content-Type: multipart/mixed;\r\n boundary=\"=_m%s\"\r\n", m->unique);
		delimiter(out, 'm', m->unique, false);
		alternative(out, m);
		delimiter(out, 'm', m->unique, false);
		buf_adds(out, "Content-Type: application/ics; name=\"invite.ics\"\r\n"
			 "Content-Disposition: attachment; filename=\"invite.ics\"\r\n"
			 "Content-Transfer-Encoding: base64\r\n\r\n");
		smtp_mime_base64(out, m->calendar, strlen(m->calendar));
		delimiter(out, 'm', m->unique, true);
	} else if (m->html != NULL) {
		alternative(out, m);
	} else {
		qp_part(out, "text/plain", m->text);
	}
	if (out->err != 0)
		return err_public(err, out->err == -ENOMEM ? "out of memory" : "message too big");
	return 0;
}
