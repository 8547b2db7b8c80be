/* smtp_reply.h: what an SMTP transfer's end means for the message.
 *
 * libcurl 7.88 ends a failed SMTP transfer with one CURLcode for many
 * causes: a refused RCPT, MAIL or DATA is CURLE_SEND_ERROR, a bad greeting
 * or final answer CURLE_WEIRD_SERVER_REPLY, whatever the reply code
 * (curl-7_88_1 lib/smtp.c, smtp_state_*_resp). So the adapter watches the
 * dialogue itself (CURLOPT_DEBUGFUNCTION: the commands it sends, the
 * replies it reads) and keeps the phase of the last command and the last
 * reply line; this module turns them and the CURLcode into a send_result:
 *
 *   sent                      CURLE_OK
 *   4xx                       temporary (a 421 counts against the breaker)
 *   5xx to MAIL, RCPT, DATA   permanent, "smtp 550 at RCPT: <the server's
 *   or the message's end      words without addresses>"; at RCPT 550, 551,
 *                             553 or an enhanced 5.1.x (but 5.1.7/5.1.8,
 *                             the sender's) also mark the address bounced
 *   5xx at the greeting,      temporary and against the breaker: the server
 *   EHLO, STARTTLS or AUTH    refuses us, not the message; every message
 *                             would fail alike until the setup is fixed
 *   no STARTTLS offered       temporary, against the breaker (starttls =
 *   (starttls = required)     required never sends in the clear)
 *   timeout, refused, reset,  temporary, against the breaker
 *   TLS failure
 *   cancelled                 temporary (shutting down), breaker untouched */
#ifndef PREGON_ADAPTERS_SMTP_REPLY_H
#define PREGON_ADAPTERS_SMTP_REPLY_H

#include <stddef.h>

#include <curl/curl.h>

#include "adapter.h"

/* Where in the dialogue the transfer was: the last command sent. */
enum smtp_phase {
	SMTP_PHASE_CONNECT,	/* connecting, TLS, or waiting for the greeting */
	SMTP_PHASE_EHLO,
	SMTP_PHASE_STARTTLS,
	SMTP_PHASE_AUTH,
	SMTP_PHASE_MAIL,
	SMTP_PHASE_RCPT,
	SMTP_PHASE_DATA,	/* DATA sent, waiting for 354 */
	SMTP_PHASE_BODY,	/* the message sent, waiting for its 250 */
	SMTP_PHASE_QUIT,
};

/* What the breaker should make of the outcome. */
enum smtp_health {
	SMTP_HEALTH_OK,		/* breaker_success */
	SMTP_HEALTH_NEUTRAL,	/* about this message only: breaker_neutral */
	SMTP_HEALTH_FAILURE,	/* about the server or our setup: breaker_failure */
	SMTP_HEALTH_NONE,	/* not attempted to the end (cancelled) */
};

/* The reply line length kept (the server's words are cut there). */
#define SMTP_REPLY_MAX 200

struct smtp_transfer_end {
	CURLcode rc;
	enum smtp_phase phase;
	const char *reply;	/* the last reply line, without CRLF, or "" */
	int tls_wanted;		/* starttls = required (for the words only) */
};

/* The phase a command line the client sends puts the dialogue in, or -1
 * for a line that is not a command (an AUTH continuation). */
int smtp_reply_phase_of(const char *line, size_t len);

/* Fills out (zeroed first) from e; returns what the breaker should do. */
enum smtp_health smtp_reply_classify(const struct smtp_transfer_end *e,
				     struct send_result *out);

/* Writes the server's words of a reply line ("550 5.1.1 <a@b>: unknown")
 * into out without the code, without anything in <...> or holding an '@',
 * and without anything shaped like a phone number (redact.h); printable
 * ASCII only, cut to out_len - 1. */
void smtp_reply_words(const char *reply, char *out, size_t out_len);

const char *smtp_phase_name(enum smtp_phase p);

#endif
