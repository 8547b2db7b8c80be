/* compose.h: what a message says, made from its record when it is sent.
 *
 * A message record's payload (keys.h, msg: d) holds either its text (body,
 * subject: a message job, an alert's text for this recipient, an answer)
 * or a template and the job's values ("tpl": court reminders, town halls),
 * rendered now, so that a template fixed with SIGHUP applies to what is
 * already scheduled and "today"/"tomorrow" are true on the day it leaves.
 * For email it also makes:
 * - the calendar invitation of a town-hall notice (townhall.h): REQUEST
 *   with the registration's SEQUENCE ("sq"), CANCEL for a cancellation;
 * - the one-click unsubscribe link (RFC 8058) of list-like mail (alerts,
 *   reminders, town halls: a templated payload or "ls"), a sealed token
 *   (seal.h) of the address under [http] public_url, so the link still
 *   works after every record of the message expired;
 * - a town hall's tracked join link ([townhall] track_join), the token
 *   the payload carries ("jt") under public_url/j/. */
#ifndef PREGON_COMPOSE_H
#define PREGON_COMPOSE_H

#include <stdint.h>

#include <jansson.h>

#include "channel.h"
#include "config.h"
#include "err.h"
#include "templates.h"

struct compose_env {
	const struct config *cfg;
	const struct templates *set;	/* NULL when none are loaded */
	const unsigned char *link_key;	/* store_link_key(), or NULL */
	int64_t now_ms;
};

struct composed {
	json_t *doc;			/* the payload */
	struct templates_text t;	/* when rendered */
	const char *body, *subject, *html;	/* never NULL but html */
	char *calendar;			/* email invitation, or NULL */
	const char *calendar_method;	/* "REQUEST" or "CANCEL" with it */
	char *unsubscribe_url;		/* or NULL */
};

/* Composes the message whose payload is d (JSON) and job values vars ("" or
 * the job's vars) for address `to` on channel ch. Returns 0, or -1 with err
 * (a record that cannot be read, a template that cannot be rendered);
 * composed_free(c) is safe either way. */
int compose(const struct compose_env *env, enum channel ch, const char *to, const char *d,
	    const char *vars, struct composed *c, struct err *err);
void composed_free(struct composed *c);

/* The address inside [email] from ("Name <a@b>" or "a@b") into out, and a
 * pointer to its domain in out (NULL when it has none). */
const char *compose_from_address(const char *from, char *out, size_t out_len);

#endif
