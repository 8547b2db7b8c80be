/* redis_url.h: the [redis] url setting, parsed once for pregond and pregon.
 *
 * Accepted forms:
 *   redis://HOST[:PORT][/DB]             PORT defaults to 6379, DB to 0
 *   redis://:PASSWORD@HOST[:PORT][/DB]   password may be %-encoded (RFC 3986 2.1)
 *   unix:/path/to/redis.sock             also unix:///path; db 0, no password
 *
 * HOST is an IPv4 address, a bracketed IPv6 address ([::1]) or a host
 * name, kept as written. A name is resolved by the connection, not here:
 * pregond with uv_getaddrinfo in the thread pool (hiredis 0.14's connect
 * would call getaddrinfo() on the loop, shared/notes/deps.md section 0.5),
 * then each address in turn (redis_conn.c); pregon synchronously, also
 * each address in turn (cli_common.c). rediss:// is refused: Debian's
 * hiredis 0.14 has no TLS. */
#ifndef PREGON_REDIS_URL_H
#define PREGON_REDIS_URL_H

#include <stddef.h>

#include "err.h"

struct redis_url {
	char host[256];		/* address or host name, "" for a unix socket */
	int port;		/* 1..65535; 0 for a unix socket */
	int db;			/* SELECT index, 0 = none needed */
	char password[256];	/* "" = no AUTH; decoded, never logged */
	char unix_path[512];	/* non-empty: connect to this socket instead */
};

/* Parses url into *out (cleared first). Returns 0, or -1 with err like
 * "redis url: not a host name or IP address: \"db_1\"".
 * The message never contains the password. */
int redis_url_parse(const char *url, struct redis_url *out, struct err *err);

/* Writes a loggable form of u ("127.0.0.1:6379/0", "unix:/run/redis.sock")
 * without the password into out. */
void redis_url_describe(const struct redis_url *u, char *out, size_t out_len);

#endif
