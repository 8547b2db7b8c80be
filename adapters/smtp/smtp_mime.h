/* smtp_mime.h: the email the SMTP provider sends, as bytes.
 *
 * Pure functions, no I/O: the adapter (smtp.c) hands in what a send_req
 * holds plus the sender, the time and a random token, and gets one
 * RFC 5322 message back, headers and body, CRLF only, every line within
 * 78 characters where RFC 5322 2.1.1 asks for it (998 at most anywhere).
 * Dot-stuffing is left to libcurl (lib/smtp.c does it on upload).
 *
 * What it writes:
 *   Date (RFC 5322 3.3, +0000), Message-ID on the From address's domain,
 *   From with the organization's name as display name, To, Subject, both
 *   RFC 2047 encoded-words (UTF-8, B) when not plain ASCII;
 *   MIME-Version; List-Unsubscribe with the https link and a mailto, and
 *   List-Unsubscribe-Post (RFC 8058) when an unsubscribe link is given;
 *   a text/plain part, or multipart/alternative with text/plain and
 *   text/html, both UTF-8 and quoted-printable (RFC 2045 6.7);
 *   with an iCalendar object: a text/calendar; method=... alternative and
 *   the whole inside multipart/mixed with an invite.ics attachment
 *   (application/ics, base64), the shape Gmail, Outlook and Apple Mail
 *   read as an invitation.
 *
 * Boundaries start with "=_", which quoted-printable and base64 output
 * never contain (RFC 2045 6.7 note), so no part can end another early. */
#ifndef PREGON_ADAPTERS_SMTP_MIME_H
#define PREGON_ADAPTERS_SMTP_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

/* The longest encoded-word (RFC 2047 2) and header line (RFC 5322 2.1.1)
 * written. */
#define SMTP_MIME_WORD_MAX 75
#define SMTP_MIME_LINE_MAX 78
/* A quoted-printable or base64 line, without its CRLF (RFC 2045 6.7, 6.8). */
#define SMTP_MIME_BODY_LINE_MAX 76

struct smtp_mail {
	const char *from;		/* addr-spec, ASCII (email_check) */
	const char *from_name;		/* display name, UTF-8, or NULL / "" */
	const char *to;			/* addr-spec, ASCII */
	const char *subject;		/* UTF-8, may be empty */
	const char *text;		/* UTF-8, LF or CRLF lines */
	const char *html;		/* text/html alternative, or NULL */
	const char *calendar;		/* iCalendar object, or NULL */
	const char *calendar_method;	/* "REQUEST", "CANCEL": one token */
	const char *unsubscribe_url;	/* http(s) link, or NULL */
	const char *unsubscribe_mailto;	/* addr-spec for the mailto:, or NULL */
	const char *message_id;		/* pregon's id (m123.1) */
	const char *unique;		/* random, [A-Za-z0-9], 8..64 chars */
	int64_t date_s;			/* the Date, in Unix seconds */
};

/* Checks what smtp_mime_build would refuse, without building: 0, or -1
 * with err (public: it names the field, never a value). */
int smtp_mime_check(const struct smtp_mail *m, struct err *err);

/* Appends m as a whole message to out. Returns 0, or -1 with err naming
 * the field ("unsubscribe_url: ...") when an input cannot be written
 * safely, or "out of memory" / "too big" when out could not grow. */
int smtp_mime_build(struct buf *out, const struct smtp_mail *m, struct err *err);

/* Appends the value of a header whose name (with its ": ") takes
 * `used` characters of the first line: text as it is when it is printable
 * ASCII words folded within SMTP_MIME_LINE_MAX, else RFC 2047 B encoded-
 * words of UTF-8, each within SMTP_MIME_WORD_MAX, split on character
 * boundaries, one per folded line. Control characters become spaces. */
int smtp_mime_header_text(struct buf *out, const char *text, size_t used);

/* Appends text as quoted-printable: lines (LF, CRLF or CR) become CRLF,
 * lines over SMTP_MIME_BODY_LINE_MAX get soft breaks ("=" CRLF), '=' and
 * bytes outside printable ASCII are =XX, and a space or tab at the end of
 * a line is encoded. Ends with CRLF. */
int smtp_mime_qp(struct buf *out, const char *text, size_t len);

/* Appends p[0..n) as base64 in lines of SMTP_MIME_BODY_LINE_MAX, CRLF. */
int smtp_mime_base64(struct buf *out, const void *p, size_t n);

/* Writes the RFC 5322 date of t (UTC, "+0000") into out (at least 32
 * bytes). */
void smtp_mime_date(char *out, size_t out_len, int64_t t);

#endif
