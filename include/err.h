/* err.h: a validation or setup error that names the field and the problem.
 *
 * Validators fill one with "field: problem" (e.g. `recipient.phone: not an
 * E.164 number: "323-555"`); the text ends up verbatim in the dead-letter
 * reason, the CLI's one-line error, or the config error.
 *
 * Beside it, pub is the same error without any value from outside: the
 * field's path and the problem only (`recipient.phone: not an E.164
 * number`). It is what a `rejected` event, MQTT and the log carry
 * (CONTRACT.md section 3: the event's error never quotes a value from the
 * job). It is never derived from msg: only err_public() and err_detail()
 * write it, from a format the caller builds from constant text, limits and
 * paths of the schema; err_set() empties it, since its arguments may be
 * anything. An empty pub means "no public text": the reader supplies a
 * generic one. */
#ifndef PREGON_ERR_H
#define PREGON_ERR_H

#include <stdarg.h>

#define ERR_MSG_MAX 512
#define ERR_PUB_MAX 256

struct err {
	char msg[ERR_MSG_MAX];	/* may quote the offending value */
	char pub[ERR_PUB_MAX];	/* path and problem only, or "" */
};

/* Formats into err->msg (truncating), empties err->pub, and returns -1, so
 * callers can write `return err_set(err, "%s: must be a string", field);`.
 * err may be NULL. */
int err_set(struct err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Like err_set, and the same text into err->pub: for a text that holds no
 * value from outside (a schema path, a limit, a constant problem). */
int err_public(struct err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* pub is the constant problem ("not an E.164 number"), msg the formatted
 * text with the value (`not an E.164 number: "323-555"`). Returns -1. */
int err_detail(struct err *err, const char *pub, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes err->msg and a non-empty err->pub with "prefix." (for nested
 * fields: "recipient" + "phone"). The prefix must be a schema path. */
void err_prefix(struct err *err, const char *prefix);

/* Puts the formatted text in front of err->msg ("court_reminder/es.sms: "
 * + "line 2, column 9: ..."); returns -1 like err_set. pub is left as it
 * is: the wrapped context may hold anything. */
int err_wrap(struct err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* err_wrap for a context that holds no value from outside (a template's
 * own file name): put in front of a non-empty pub as well. */
int err_wrap_public(struct err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
