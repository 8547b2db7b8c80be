/* redis_url.h: the [redis] url setting, parsed once for pregond and pregon.
 *
 * Accepted forms:
 *   redis://HOST[:PORT][/DB]             PORT defaults to 6379, DB to 0
 *   redis://:PASSWORD@HOST[:PORT][/DB]   password may be %-encoded (RFC 3986 2.1)
 *   unix:/path/to/redis.sock             also unix:///path; db 0, no password
 *
 * HOST must be an IPv4 literal, a bracketed IPv6 literal ([::1]) or
 * "localhost" (mapped to 127.0.0.1): hiredis 0.14's connect calls
 * getaddrinfo() synchronously, and the daemon must never block its loop on
 * DNS (shared/notes/deps.md section 0.5). rediss:// is refused: Debian's
 * hiredis 0.14 has no TLS. */
#ifndef PREGON_REDIS_URL_H
#define PREGON_REDIS_URL_H

#include <stddef.h>

#include "err.h"

struct redis_url {
	char host[256];		/* numeric address, "" for a unix socket */
	int port;		/* 1..65535; 0 for a unix socket */
	int db;			/* SELECT index, 0 = none needed */
	char password[256];	/* "" = no AUTH; decoded, never logged */
	char unix_path[512];	/* non-empty: connect to this socket instead */
};

/* Parses url into *out (cleared first). Returns 0, or -1 with err like
 * "redis url: host must be an IP address or localhost (no DNS): \"db.local\"".
 * The message never contains the password. */
int redis_url_parse(const char *url, struct redis_url *out, struct err *err);

/* Writes a loggable form of u ("127.0.0.1:6379/0", "unix:/run/redis.sock")
 * without the password into out. */
void redis_url_describe(const struct redis_url *u, char *out, size_t out_len);

#endif
