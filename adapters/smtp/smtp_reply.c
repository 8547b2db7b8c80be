/* smtp_reply.c: an SMTP transfer's end as a send_result (smtp_reply.h
 * has the table). Reply codes are RFC 5321 4.2 and 4.3.2; enhanced
 * status codes RFC 3463 (class.subject.detail; subject 1 is addressing). */
#include "smtp_reply.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "redact.h"

static const struct {
	const char *verb;
	enum smtp_phase phase;
} verbs[] = {
	{ "EHLO", SMTP_PHASE_EHLO },	 { "HELO", SMTP_PHASE_EHLO },
	{ "STARTTLS", SMTP_PHASE_STARTTLS }, { "AUTH", SMTP_PHASE_AUTH },
	{ "MAIL", SMTP_PHASE_MAIL },	 { "RCPT", SMTP_PHASE_RCPT },
	{ "DATA", SMTP_PHASE_DATA },	 { "QUIT", SMTP_PHASE_QUIT },
	{ "RSET", SMTP_PHASE_MAIL },
};

const char *smtp_phase_name(enum smtp_phase p)
{
	static const char *const names[] = {
		[SMTP_PHASE_CONNECT] = "connect", [SMTP_PHASE_EHLO] = "EHLO",
		[SMTP_PHASE_STARTTLS] = "STARTTLS", [SMTP_PHASE_AUTH] = "AUTH",
		[SMTP_PHASE_MAIL] = "MAIL", [SMTP_PHASE_RCPT] = "RCPT",
		[SMTP_PHASE_DATA] = "DATA", [SMTP_PHASE_BODY] = "end of data",
		[SMTP_PHASE_QUIT] = "QUIT",
	};

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

int smtp_reply_phase_of(const char *line, size_t len)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		size_t n = strlen(verbs[i].verb);

		if (len >= n && strncasecmp(line, verbs[i].verb, n) == 0 &&
		    (len == n || line[n] == ' ' || line[n] == '\r' || line[n] == '\n'))
			return (int)verbs[i].phase;
	}
	return -1;
}

/* The reply's three-digit code, or 0. */
static int reply_code(const char *r)
{
	if (r[0] < '2' || r[0] > '5' || r[1] < '0' || r[1] > '9' || r[2] < '0' || r[2] > '9' ||
	    (r[3] != ' ' && r[3] != '-' && r[3] != '\0'))
		return 0;
	return (r[0] - '0') * 100 + (r[1] - '0') * 10 + (r[2] - '0');
}

/* Whether the text after the code starts with enhanced code prefix
 * ("5.1."). */
static bool enhanced_is(const char *r, const char *prefix)
{
	return strlen(r) > 4 && strncmp(r + 4, prefix, strlen(prefix)) == 0;
}

/* RFC 3463 3.2: 5.1.x says the recipient's address is bad (no such
 * mailbox, no such domain, moved), but 5.1.7 and 5.1.8 are about the
 * sender's. Without an enhanced code, 550, 551 and 553 say the same. */
static bool is_bounce(int code, const char *r)
{
	if (enhanced_is(r, "5.")) {
		if (!enhanced_is(r, "5.1."))
			return false;
		return !enhanced_is(r, "5.1.7") && !enhanced_is(r, "5.1.8");
	}
	return code == 550 || code == 551 || code == 553;
}

void smtp_reply_words(const char *reply, char *out, size_t out_len)
{
	char tmp[SMTP_REPLY_MAX + 1];
	size_t n = 0;
	const char *p = reply;

	if (out_len == 0)
		return;
	if (reply_code(p) != 0)
		p += p[3] ? 4 : 3;
	while (*p && n < sizeof(tmp) - 1) {
		size_t w;

		if (*p == '<') {	/* <addr>, whatever is in it */
			const char *end = strchr(p, '>');

			p = end ? end + 1 : p + strlen(p);
			if (*p == ':')	/* "<a@b>: unknown" */
				p++;
			continue;
		}
		w = strcspn(p, " <");
		if (w > 0 && memchr(p, '@', w) == NULL) {
			for (size_t i = 0; i < w && n < sizeof(tmp) - 1; i++)
				tmp[n++] = p[i] >= 32 && p[i] <= 126 ? p[i] : '?';
		}
		p += w;
		if (*p == ' ') {
			if (n > 0 && tmp[n - 1] != ' ')
				tmp[n++] = ' ';
			p++;
		}
	}
	while (n > 0 && (tmp[n - 1] == ' ' || tmp[n - 1] == ':'))
		n--;
	redact_copy(out, out_len, tmp, n);
}

/* A temporary failure in pregon's words. */
static void temp(struct send_result *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void temp(struct send_result *out, const char *fmt, ...)
{
	va_list ap;

	out->status = SEND_TEMP_FAIL;
	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
}

/* A failure that came with a reply code from the server. */
static enum smtp_health coded(const struct smtp_transfer_end *e, int code,
			      struct send_result *out)
{
	char words[SMTP_REPLY_MAX];
	bool setup = e->phase <= SMTP_PHASE_AUTH;

	smtp_reply_words(e->reply, words, sizeof(words));
	out->status = code >= 500 && !setup ? SEND_PERM_FAIL : SEND_TEMP_FAIL;
	snprintf(out->error, sizeof(out->error), "smtp %d at %s%s%s", code,
		 smtp_phase_name(e->phase), words[0] ? ": " : "", words);
	if (out->status == SEND_PERM_FAIL) {
		out->bounced = e->phase == SMTP_PHASE_RCPT && is_bounce(code, e->reply);
		return SMTP_HEALTH_NEUTRAL;
	}
	/* 421: the service is closing the channel (RFC 5321 3.8); a refusal
	 * while setting up holds for every message. */
	return code == 421 || setup ? SMTP_HEALTH_FAILURE : SMTP_HEALTH_NEUTRAL;
}

enum smtp_health smtp_reply_classify(const struct smtp_transfer_end *e,
				     struct send_result *out)
{
	int code = reply_code(e->reply);

	memset(out, 0, sizeof(*out));
	if (e->rc == CURLE_OK) {
		out->status = SEND_SENT;
		return SMTP_HEALTH_OK;
	}
	switch (e->rc) {
	case CURLE_ABORTED_BY_CALLBACK:
		temp(out, "smtp: cancelled (shutting down)");
		return SMTP_HEALTH_NONE;
	case CURLE_OPERATION_TIMEDOUT:
		temp(out, "smtp: timed out at %s", smtp_phase_name(e->phase));
		return SMTP_HEALTH_FAILURE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		temp(out, "smtp: cannot connect (%s)", curl_easy_strerror(e->rc));
		return SMTP_HEALTH_FAILURE;
	case CURLE_USE_SSL_FAILED:
		temp(out, "smtp: the server offers no STARTTLS%s",
		     e->tls_wanted ? " and [email] starttls is required" : "");
		return SMTP_HEALTH_FAILURE;
	case CURLE_LOGIN_DENIED:
		if (code == 0)	/* no reply to quote: no mechanism in common, say */
			temp(out, "smtp: authentication refused (check [email] username and "
			     "password_file)");
		else
			temp(out, "smtp %d at AUTH: authentication refused (check [email] username "
			     "and password_file)", code);
		return SMTP_HEALTH_FAILURE;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		temp(out, "smtp: TLS failed (%s)", curl_easy_strerror(e->rc));
		return SMTP_HEALTH_FAILURE;
	default:
		break;
	}
	/* A reply that ends the dialogue badly: 4xx or 5xx (a 2xx or 3xx
	 * last seen means the connection broke after it). */
	if (code >= 400)
		return coded(e, code, out);
	temp(out, "smtp: connection failed at %s (%s)", smtp_phase_name(e->phase),
	     curl_easy_strerror(e->rc));
	return SMTP_HEALTH_FAILURE;
}
