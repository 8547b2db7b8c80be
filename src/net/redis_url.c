/* redis_url.c: parses [redis] url (see redis_url.h for the accepted forms).
 *
 * Errors never quote the whole url: it may carry the password. */
#include "redis_url.h"
#include "config.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

/* Parses a run of 1..maxdigits ASCII digits (no sign, no spaces: strtoll
 * would accept both) within lo..hi. */
static int parse_uint(const char *s, size_t len, size_t maxdigits, long long lo,
		      long long hi, long long *out)
{
	char buf[24];
	char *end;
	long long v;

	if (len == 0 || len > maxdigits || len >= sizeof(buf))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Decodes RFC 3986 percent-encoding (section 2.1) so that a password may
 * hold '@', ':' or '/'. A decoded NUL is refused: AUTH would see a shorter
 * password than the operator wrote. */
static int percent_decode(const char *s, size_t len, char *out, size_t out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return -1;
			hi = hex_digit((unsigned char)s[i + 1]);
			lo = hex_digit((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			if (c == 0)
				return -1;
			i += 2;
		}
		if (o + 1 >= out_len)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static int parse_unix(const char *path, struct redis_url *out, struct err *err)
{
	struct sockaddr_un sa;
	size_t len;

	/* unix:///path (the form redis-py and others write) is unix:/path. */
	if (strncmp(path, "//", 2) == 0)
		path += 2;
	len = strlen(path);
	if (len == 0)
		return err_set(err, "redis url: unix: needs a socket path (unix:/run/redis/redis.sock)");
	for (size_t i = 0; i < len; i++)
		if (iscntrl((unsigned char)path[i]))
			return err_set(err, "redis url: control character in the socket path");
	/* connect() takes the path in sockaddr_un.sun_path (108 bytes on
	 * Linux, unix(7)); hiredis would truncate a longer one silently. */
	if (len >= sizeof(sa.sun_path) || len >= sizeof(out->unix_path))
		return err_set(err, "redis url: socket path longer than %zu bytes",
			       sizeof(sa.sun_path) - 1);
	memcpy(out->unix_path, path, len + 1);
	return 0;
}

/* userinfo is what stands before the last '@': ":password", or
 * "default:password" (Redis 6 ACL's default user, which plain AUTH
 * password also authenticates). */
static int parse_userinfo(const char *s, size_t len, struct redis_url *out,
			  struct err *err)
{
	const char *colon = memchr(s, ':', len);

	if (colon == NULL)
		return err_set(err, "redis url: give the password as redis://:PASSWORD@HOST");
	if (colon != s && !((size_t)(colon - s) == 7 && strncmp(s, "default", 7) == 0))
		return err_set(err, "redis url: user names (Redis ACL) go in [redis] username, "
			       "their password in [redis] password_file, not in the url");
	if (percent_decode(colon + 1, len - (size_t)(colon - s) - 1, out->password,
			   sizeof(out->password)) != 0)
		return err_set(err, "redis url: password: bad %%-escape, NUL, or longer than %zu bytes",
			       sizeof(out->password) - 1);
	return 0;
}

/* A host outside brackets is an IPv4 address or a host name (RFC 1123
 * 2.1: letters, digits and hyphens in dot-separated labels of 1..63, a
 * label neither starting nor ending with a hyphen). One made only of
 * digits and dots must be a whole dotted quad: getaddrinfo would read
 * "127.1" as 127.0.0.1, and "10.0.0.256" as a name to look up. */
static int host_check(const char *host, struct err *err)
{
	struct in_addr a4;
	size_t label = 0;
	bool numeric = true;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return 0;
	if (strlen(host) > 253)
		return err_set(err, "redis url: host name longer than 253 bytes");
	for (const char *p = host;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return err_set(err, "redis url: not a host name or IP address: \"%.64s\"",
					       host);
			if (*p == '\0')
				break;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && !(*p == '-' && label > 0))
			return err_set(err, "redis url: not a host name or IP address: \"%.64s\"", host);
		if (!isdigit((unsigned char)*p))
			numeric = false;
		label++;
	}
	if (numeric)
		return err_set(err, "redis url: not an IPv4 address: \"%.64s\"", host);
	return 0;
}

int redis_url_parse(const char *url, struct redis_url *out, struct err *err)
{
	const char *rest, *at, *p, *host_start, *host_end;
	size_t host_len;
	long long v;
	char host[256];

	memset(out, 0, sizeof(*out));
	if (url == NULL || url[0] == '\0')
		return err_set(err, "redis url: empty");
	if (strncmp(url, "unix:", 5) == 0)
		return parse_unix(url + 5, out, err);
	if (strncasecmp(url, "rediss://", 9) == 0)
		return err_set(err, "redis url: rediss:// (TLS) is not supported by hiredis 0.14; "
			       "use a unix socket or a loopback tunnel");
	if (strncasecmp(url, "redis://", 8) != 0)
		return err_set(err, "redis url: must start with redis:// or unix:");
	rest = url + 8;

	/* The last '@' ends the userinfo, so that an unencoded '/' or '@' in a
	 * password still works; nothing after the host may contain one. */
	at = strrchr(rest, '@');
	if (at != NULL) {
		if (parse_userinfo(rest, (size_t)(at - rest), out, err) != 0)
			return -1;
		rest = at + 1;
	}

	if (strpbrk(rest, "?#") != NULL)
		return err_set(err, "redis url: query parameters are not supported");

	p = rest;
	if (*p == '[') {
		host_start = p + 1;
		host_end = strchr(host_start, ']');
		if (host_end == NULL)
			return err_set(err, "redis url: missing ']' after the IPv6 address");
		p = host_end + 1;
	} else {
		host_start = p;
		while (*p != '\0' && *p != ':' && *p != '/')
			p++;
		host_end = p;
	}
	host_len = (size_t)(host_end - host_start);
	if (host_len == 0)
		return err_set(err, "redis url: missing host (redis://127.0.0.1:6379/0)");
	if (host_len >= sizeof(host))
		return err_set(err, "redis url: host longer than %zu bytes", sizeof(host) - 1);
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';

	if (host_start != rest) {	/* bracketed: IPv6 only */
		struct in6_addr a6;

		if (inet_pton(AF_INET6, host, &a6) != 1)
			return err_set(err, "redis url: not an IPv6 address: \"%.64s\"", host);
	} else if (host_check(host, err) != 0) {
		return -1;
	}
	memcpy(out->host, host, strlen(host) + 1);

	out->port = 6379;
	if (*p == ':') {
		const char *q = ++p;

		while (*p != '\0' && *p != '/')
			p++;
		if (parse_uint(q, (size_t)(p - q), 5, 1, 65535, &v) != 0)
			return err_set(err, "redis url: port must be 1..65535, got \"%.*s\"",
				       (int)((p - q) > 16 ? 16 : (p - q)), q);
		out->port = (int)v;
	}
	if (*p == '/') {
		p++;
		if (*p != '\0') {
			size_t n = strlen(p);

			if (parse_uint(p, n, 10, 0, INT_MAX, &v) != 0)
				return err_set(err, "redis url: database must be a number 0..%d, got \"%.16s\"",
					       INT_MAX, p);
			out->db = (int)v;
		}
	} else if (*p != '\0') {
		return err_set(err, "redis url: unexpected \"%.16s\" after the host", p);
	}
	return 0;
}

void redis_url_describe(const struct redis_url *u, char *out, size_t out_len)
{
	if (out_len == 0)
		return;
	if (u->unix_path[0] != '\0')
		snprintf(out, out_len, "unix:%s", u->unix_path);
	else if (strchr(u->host, ':') != NULL)
		snprintf(out, out_len, "[%s]:%d/%d", u->host, u->port, u->db);
	else
		snprintf(out, out_len, "%s:%d/%d", u->host, u->port, u->db);
}

/* An ACL user name as AUTH takes it: printable, no blanks (ACL SETUSER
 * refuses spaces in names; a control character would only hide in logs). */
static int username_check(const char *name, struct err *err)
{
	for (const char *p = name; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return err_set(err, "[redis] username: blank or control character in the name");
	return 0;
}

int redis_url_from_config(const struct config *cfg, struct redis_url *out, struct err *err)
{
	const char *env = getenv("PREGON_REDIS_PASSWORD");
	struct err e;

	if (redis_url_parse(cfg->redis_url, out, err) != 0)
		return -1;
	if (cfg->redis_username[0] != '\0') {
		if (username_check(cfg->redis_username, err) != 0)
			return -1;
		snprintf(out->username, sizeof(out->username), "%s", cfg->redis_username);
	}
	if (cfg->redis_password_file[0] != '\0' || (env != NULL && env[0] != '\0')) {
		if (out->password[0] != '\0')
			return err_set(err, "[redis] password_file: the url carries a password too; "
				       "give it in one place (the file)");
		if (config_read_secret(cfg->redis_password_file, "PREGON_REDIS_PASSWORD",
				       out->password, sizeof(out->password), &e) != 0)
			return err_set(err, "[redis] password_file: %s", e.msg);
	}
	if (out->username[0] != '\0' && out->password[0] == '\0')
		return err_set(err, "[redis] username: needs a password ([redis] password_file or "
			       "$PREGON_REDIS_PASSWORD)");
	return 0;
}

int redis_url_auth_argv(const struct redis_url *u, const char *argv[3])
{
	int n = 0;

	if (u->password[0] == '\0')
		return 0;
	argv[n++] = "AUTH";
	if (u->username[0] != '\0')
		argv[n++] = u->username;
	argv[n++] = u->password;
	return n;
}

void redis_url_auth_error(const struct redis_url *u, const char *reply, size_t reply_len,
			  char *out, size_t out_len)
{
	if (reply_len > 200)
		reply_len = 200;
	snprintf(out, out_len, "authentication refused for %s%s%s: %.*s; check [redis] "
		 "username and password_file (or $PREGON_REDIS_PASSWORD)",
		 u->username[0] ? "user \"" : "the default user", u->username,
		 u->username[0] ? "\"" : "", (int)reply_len, reply);
}
