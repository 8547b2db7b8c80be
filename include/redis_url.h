/* redis_url.h: the [redis] url setting, parsed once for pregond and pregon.
 *
 * Accepted forms:
 *   redis://HOST[:PORT][/DB]             PORT defaults to 6379, DB to 0
 *   redis://:PASSWORD@HOST[:PORT][/DB]   password may be %-encoded (RFC 3986 2.1)
 *   unix:/path/to/redis.sock             also unix:///path; db 0, no password
 *
 * A Redis ACL user (Redis 6 and later) and its password are not given in
 * the url but in [redis] username and password_file (or
 * $PREGON_REDIS_PASSWORD): redis_url_from_config adds them, so that no
 * secret has to be written in the config file.
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
	char username[256];	/* ACL user for AUTH; "" = the default user */
	char password[256];	/* "" = no AUTH; decoded, never logged */
	char unix_path[512];	/* non-empty: connect to this socket instead */
};

/* Parses url into *out (cleared first). Returns 0, or -1 with err like
 * "redis url: not a host name or IP address: \"db_1\"".
 * The message never contains the password. */
int redis_url_parse(const char *url, struct redis_url *out, struct err *err);

struct config;

/* The connection pregond and pregon make: [redis] url parsed, then
 * [redis] username and the password from [redis] password_file (or
 * $PREGON_REDIS_PASSWORD when that key is not set). A user and a password
 * given both in the url and in these keys is an error (which one would
 * count?), as is a user without a password. Returns 0, or -1 with err
 * naming the key ("[redis] password_file: ..."), never the secret. */
int redis_url_from_config(const struct config *cfg, struct redis_url *out, struct err *err);

/* The AUTH command for u into argv (AUTH [user] password): returns its
 * argc, 0 when u needs no AUTH. */
int redis_url_auth_argv(const struct redis_url *u, const char *argv[3]);

/* Explains a refused AUTH (the server's error reply, e.g. "WRONGPASS
 * invalid username-password pair or user is disabled.") in one line that
 * names the user and the keys to check, never the password. */
void redis_url_auth_error(const struct redis_url *u, const char *reply, size_t reply_len,
			  char *out, size_t out_len);

/* Writes a loggable form of u ("127.0.0.1:6379/0", "unix:/run/redis.sock")
 * without the password into out. */
void redis_url_describe(const struct redis_url *u, char *out, size_t out_len);

#endif
