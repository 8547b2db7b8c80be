/* templates.h: the message templates under [templates] dir, loaded and
 * checked as a set.
 *
 * Layout: <dir>/<name>/<lang>.<ext>, one template (template.h) per file:
 *   <lang>.sms         the SMS text (also Signal's, when there is no .signal)
 *   <lang>.signal      the Signal text (optional)
 *   <lang>.email       a "Subject: ..." line, an empty line, the text/plain body
 *   <lang>.email.html  the text/html body (optional; values HTML-escaped)
 * <name> is a template pregon uses (TEMPLATE_NAMES below, each with the
 * variables it is given); <lang> is a BCP 47 tag as recipients carry them
 * ("es", "zh-Hant"), in canonical case.
 *
 * Everything that can be wrong with a template is found by templates_load,
 * at start and on SIGHUP, never by a send: an unknown variable, a syntax
 * error, an email without its subject line, a default language without an
 * .sms or .email file. Each SMS/Signal text is rendered with long sample
 * values (a long court name and address, the longest date of the language)
 * and a warning is logged when it needs more than TEMPLATES_SMS_SEGMENTS_WARN
 * SMS segments.
 *
 * Every template is given `sender` ([templates] sender, the organization's
 * name, "" when not set): a text that says who sends it is the first thing
 * a wary client looks for, and what a court-impersonation scam lacks.
 *
 * Language fallback for a recipient's lang: the tag itself ("es-MX"), the
 * tag its readers read (templates_lang_alias: "zh-TW", "zh-HK", "yue" ->
 * "zh-Hant", "fil" -> "tl"), its primary subtag ("es"), the default
 * language. Per channel: signal tries .signal then .sms at each step; an
 * email's .email.html is taken from the same language as its .email. */
#ifndef PREGON_TEMPLATES_H
#define PREGON_TEMPLATES_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "job.h"
#include "template.h"
#include "validate.h"

#define TEMPLATES_MAX_FILES 1024
/* More SMS segments than this is warned about at load. 3, not 2: a
 * reminder in Korean, Chinese, Vietnamese or Armenian is UCS-2 (67
 * characters a segment) and must still carry the date, time, court,
 * department and street address that an English one carries (issue 13). */
#define TEMPLATES_SMS_SEGMENTS_WARN 3
/* Bytes of [templates] sender: it heads every SMS, whose room is counted
 * with a sender of TEMPLATES_SENDER_SAMPLE's length. */
#define TEMPLATES_SENDER_MAX 40
#define TEMPLATES_SENDER_SAMPLE "Public Defenders"	/* 16 characters */

/* The sample value of a variable that is the same in every case the
 * loader's checks and the review sheet render (sender, help_text, name,
 * court, address, department, title, location, join_url), or NULL. */
const char *templates_sample_value(const char *name);

/* A template name pregon renders, and the variables it supplies (any other
 * name in the file is an error at load). */
struct template_name {
	const char *name;
	const char *const *vars;
	bool required;	/* the default language must have .sms and .email */
};

/* court_reminder: a reminder of a court date; court_enrolment: the notice
 * sent when a client is enrolled for reminders (or the date changed);
 * consent_stop, consent_start, consent_help: the answers to STOP, START and
 * HELP in the sender's language (SMS and Signal only; optional, so that a
 * template folder from before them still loads: consent.c's English and
 * Spanish texts and [<channel>] help_text answer where a language has none);
 * townhall_confirmation, townhall_reminder, townhall_change,
 * townhall_cancel: a town hall's notices (townhall.h; optional, for the
 * same reason: templates_has says whether a set can send them). */
extern const struct template_name template_names[];
extern const size_t template_names_count;

enum template_ext {
	TEMPLATE_EXT_SMS,
	TEMPLATE_EXT_SIGNAL,
	TEMPLATE_EXT_EMAIL,
	TEMPLATE_EXT_EMAIL_HTML,
	TEMPLATE_EXT_COUNT
};

struct templates;

/* Loads every file under dir (blocking I/O: call before the loop runs or
 * from the thread pool). Returns 0 and *out, or -1 with err naming the file
 * and the problem: `court_reminder/es.sms: line 2, column 9: unknown
 * variable "cort"`. Warnings (segments, unused directories) go to the log. */
int templates_load(const char *dir, const char *default_lang, const char *sender,
		   struct templates **out, struct err *err);
void templates_free(struct templates *set);
/* How many files the set holds. */
size_t templates_count(const struct templates *set);
/* [templates] sender as the set was loaded with it ("" when not set). */
const char *templates_sender(const struct templates *set);
/* Whether the set has template `name` in the default language. */
bool templates_has(const struct templates *set, const char *name);

/* A rendered message, malloc'd; subject and html are NULL unless the
 * channel is email (html also when that language has no .email.html). */
struct templates_text {
	char lang[LANG_TAG_MAX];	/* the language actually used */
	char *subject;
	char *body;
	char *html;
};

/* Renders `name` for a recipient whose language is lang (NULL: default)
 * on channel ch. Fails with err (`court_reminder/es.sms: line 1, column
 * 30: variable "court" has no value`), or when no language has the file. */
int templates_render(const struct templates *set, const char *name, const char *lang,
		     enum channel ch, template_lookup lookup, void *data,
		     struct templates_text *out, struct err *err);
void templates_text_free(struct templates_text *t);
/* The answer to an inbound STOP, START or HELP (name consent_stop,
 * consent_start or consent_help) for a reader of lang on channel ch, its
 * help_text variable from [<channel>] help_text: the body malloc'd, or
 * NULL with err (as templates_render; "no template" when no language has
 * it). */
char *templates_render_answer(const struct templates *set, const char *name, const char *lang,
			      enum channel ch, const char *help_text, struct err *err);
/* The tag whose templates a reader of lang reads, or NULL when lang is
 * its own: Chinese in traditional characters for Taiwan, Hong Kong and
 * Macau and for Cantonese ("zh-TW", "zh-HK", "zh-MO", "yue", "yue-HK" ->
 * "zh-Hant"; a script subtag decides first: "zh-Hans-HK" -> "zh"),
 * Filipino as Tagalog ("fil" -> "tl", as datefmt.c does). lang is
 * normalised (lang_tag_normalise). */
const char *templates_lang_alias(const char *lang);

/* The language templates_render would use (so that values such as a date
 * can be formatted in it first). -1 when no file fits. */
int templates_lang(const struct templates *set, const char *name, const char *lang,
		   enum channel ch, char out[LANG_TAG_MAX]);

/* For `pregon template render`: compiles the one file <dir>/<name>/<lang>.<ext>
 * (ext "sms", "signal", "email" or "email.html") with name's variables.
 * For an email, *subject is its subject line and *body the rest; otherwise
 * *subject is NULL. -1 with err when the name, the file or its text is
 * wrong; errno-style "no such file" is reported as `<path>: not found`. */
int templates_compile_file(const char *dir, const char *name, const char *lang,
			   const char *ext, struct template **subject,
			   struct template **body, struct err *err);
/* Compiles text[0..len) as file extension ext ("sms", "email"...) of
 * template `name`, the way templates_load does each file (the email's
 * subject line included). Exposed for the fuzzer. */
int templates_compile_text(const char *name, const char *ext, const char *text, size_t len,
			   struct template **subject, struct template **body, struct err *err);
/* The known variables of a name, or NULL. */
const char *const *templates_vars_of(const char *name);
/* "sms", "signal", "email", "email.html" -> enum; -1 if none. */
int template_ext_from_name(const char *ext);

#endif
