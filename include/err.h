/* err.h: a validation or setup error that names the field and the problem.
 *
 * Validators fill one with "field: problem" (e.g. `recipient.phone: not an
 * E.164 number: "323-555"`); the text ends up verbatim in the dead-letter
 * reason, the CLI's one-line error, or the config error. */
#ifndef PREGON_ERR_H
#define PREGON_ERR_H

#include <stdarg.h>

#define ERR_MSG_MAX 512

struct err {
	char msg[ERR_MSG_MAX];
};

/* Formats into err->msg (truncating) and returns -1, so callers can write
 * `return err_set(err, "%s: must be a string", field);`. err may be NULL. */
int err_set(struct err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefixes err->msg with "prefix." (for nested fields: "recipient" + "phone"). */
void err_prefix(struct err *err, const char *prefix);

/* Puts the formatted text in front of err->msg ("court_reminder/es.sms: "
 * + "line 2, column 9: ..."); returns -1 like err_set. */
int err_wrap(struct err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
