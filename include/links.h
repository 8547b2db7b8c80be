/* links.h: the links pregon puts in messages, answered on the listener.
 *
 * - GET /j/<token>: a town hall's tracked join link ([townhall]
 *   track_join). Records `clicked` on the message that carried it (the
 *   scripts' click op: the first opening only) and redirects (302) to the
 *   event's join_url; an unknown or expired token gets a plain 404 page.
 * - GET and POST /unsubscribe/<token>: email's one-click unsubscribe
 *   (RFC 8058; List-Unsubscribe made by compose.h). The token is the
 *   address sealed with the link key (seal.h). POST (what a mail client's
 *   "Unsubscribe" button sends, "List-Unsubscribe=One-Click") opts the
 *   address out of email, with source "email one-click" in its consent
 *   ledger, and answers a page that says so. GET answers a page with a
 *   button that POSTs: mail scanners and link previews open every link in
 *   a message, and must not unsubscribe anyone (RFC 8058 section 3.2).
 * Pages are plain HTML in English and Spanish, with no script and nothing
 * fetched from elsewhere, and never show the whole address. Nothing here
 * logs a token or an address. */
#ifndef PREGON_LINKS_H
#define PREGON_LINKS_H

#include <stdint.h>

#include "err.h"
#include "http_server.h"
#include "store.h"

struct links {
	struct store *store;
	uint64_t clicks, unsubscribes, refused;	/* answered 302 / opted out / 404 */
};

/* Adds the routes. Returns 0, or -1 with err. */
int links_mount(struct links *l, struct http_server *s, struct store *store, struct err *err);

struct metrics;
/* pregon_link_requests_total{outcome}. */
int links_metrics(struct links *l, struct metrics *m);

#endif
