/* twilio_url.h: the public URL Twilio calls back ([http] public_url).
 *
 * Twilio signs the URL exactly as it called it, and whether that carries
 * the scheme's default port depends on how the URL was written where
 * Twilio took it (the console, a Messaging Service, our StatusCallback):
 * Twilio's own validators therefore accept a signature over either form
 * (twilio-python RequestValidator.validate: add_port / remove_port;
 * twilio-node validateRequest likewise). twilio_url_other_form() gives
 * the other form so that both can be checked; only the default port
 * (:443 for https, :80 for http) is added or removed, never another. */
#ifndef PREGON_TWILIO_URL_H
#define PREGON_TWILIO_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* What twilio_url_check found. */
struct twilio_url_info {
	bool https;		/* else http */
	bool loopback;		/* localhost, 127.0.0.0/8 or [::1] */
};

/* Checks that url is an absolute http(s) URL with a host and nothing
 * Twilio could not call back or that would break the paths appended to it
 * (no user info, query or fragment, no spaces or control characters, a
 * port of 1..65535 if any). Returns 0 and fills info, or -1 with err
 * ("must be ..."; the caller names the key). */
int twilio_url_check(const char *url, struct twilio_url_info *info, struct err *err);

/* Writes url with its default port added when it has none, or removed
 * when it has the default one ("https://h/x" <-> "https://h:443/x").
 * Returns 0, or -1 when there is no other form (another port, not an
 * http(s) URL, out too small). */
int twilio_url_other_form(const char *url, char *out, size_t out_len);

#endif
