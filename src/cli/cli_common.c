/* cli_common.c: what the pregon commands share: errors, the Redis
 * connection, stream ids, and the text helpers that keep addresses out of
 * the output (see cli.h). */
#include "cli.h"
#include "config_find.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "redis_url.h"
#include "util.h"

int cli_fail(struct cli *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err.msg, sizeof(c->err.msg), fmt, ap);
	va_end(ap);
	c->exit_code = code;
	return -1;
}

/* Copies text that came from a producer (a reason, a job id) into out as
 * one printable line, with phone numbers and emails redacted. */
void cli_clean_line(const char *s, size_t len, char *out, size_t out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < out_len; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	out[o] = '\0';
	log_redact(out, out_len);
}

/* Formats Unix ms as ISO-8601 UTC with milliseconds, the contract's form
 * for every time ("2026-11-22T19:03:11.250Z"). */
void cli_format_ms(long long ms, char *out, size_t out_len)
{
	time_t sec;
	struct tm tm;
	char date[32];

	if (ms < 0) {
		snprintf(out, out_len, "-");
		return;
	}
	sec = (time_t)(ms / 1000);
	if (gmtime_r(&sec, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, out_len, "-");
		return;
	}
	snprintf(out, out_len, "%s.%03dZ", date, (int)(ms % 1000));
}

/* Parses a whole decimal string within lo..hi (strtoll alone accepts
 * leading spaces, signs and trailing junk). */
int cli_parse_ll(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* A Redis stream id as XRANGE/XREAD take it: "MS" or "MS-SEQ", both
 * unsigned 64-bit (redis t_stream.c streamParseID). */
bool cli_stream_id_valid(const char *s)
{
	const char *p = s;

	for (int part = 0; part < 2; part++) {
		const char *start = p;
		char *end;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == start || p - start > 20)
			return false;
		errno = 0;
		(void)strtoull(start, &end, 10);
		if (errno != 0)
			return false;
		if (*p == '\0')
			return true;
		if (*p != '-' || part == 1)
			return false;
		p++;
	}
	return false;
}

/* The id right after `id`, for paging with XRANGE without Redis 6.2's
 * exclusive "(" ranges. */
void cli_stream_id_next(const char *id, char *out, size_t out_len)
{
	unsigned long long ms, seq = 0;
	char *end;

	ms = strtoull(id, &end, 10);
	if (*end == '-')
		seq = strtoull(end + 1, NULL, 10);
	if (seq == ULLONG_MAX) {
		ms++;
		seq = 0;
	} else {
		seq++;
	}
	snprintf(out, out_len, "%llu-%llu", ms, seq);
}

bool cli_reply_is_str(const redisReply *r)
{
	return r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* The value of `name` in a stream entry's [field, value, ...] array. */
const redisReply *cli_entry_field(const redisReply *fields, const char *name)
{
	if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < fields->elements; i += 2) {
		const redisReply *f = fields->element[i];

		if (cli_reply_is_str(f) && strcmp(f->str, name) == 0 &&
		    cli_reply_is_str(fields->element[i + 1]))
			return fields->element[i + 1];
	}
	return NULL;
}

/* An XRANGE/XREAD entry is [id, [field, value, ...]]. */
bool cli_entry_ok(const redisReply *e)
{
	return e != NULL && e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
	       cli_reply_is_str(e->element[0]);
}

/* ---- Redis ---- */

static struct timeval ms_to_tv(int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

	return tv;
}

/* Builds "<prefix><suffix>" into out (CLI_KEY_MAX bytes). */
int cli_key(struct cli *c, char *out, const char *suffix)
{
	int n = snprintf(out, CLI_KEY_MAX, "%s%s", c->cfg.redis_prefix, suffix);

	if (n < 0 || n >= CLI_KEY_MAX)
		return cli_fail(c, 1, "key too long: %.40s...", out);
	return 0;
}

/* Describes the last hiredis error of the context. */
int cli_redis_fail(struct cli *c, const char *what)
{
	/* A read past SO_RCVTIMEO fails with EAGAIN, which hiredis reports as
	 * its strerror text (errno itself may have changed since). */
	if (c->rc->err == REDIS_ERR_IO && strcmp(c->rc->errstr, strerror(EAGAIN)) == 0)
		return cli_fail(c, 1, "redis: %s: timed out after %lldms", what,
			    (long long)c->cfg.redis_command_timeout_ms);
	return cli_fail(c, 1, "redis: %s: %s", what, c->rc->errstr);
}

/* Runs one command. Returns the reply (caller frees), or NULL with the
 * failure recorded: an I/O error, or an error reply from Redis. */
redisReply *cli_cmd(struct cli *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;
	char what[32];

	va_start(ap, fmt);
	r = redisvCommand(c->rc, fmt, ap);
	va_end(ap);
	/* Name the command, not its arguments (they may hold a job). */
	snprintf(what, sizeof(what), "%s", fmt);
	what[strcspn(what, " ")] = '\0';
	if (r == NULL) {
		cli_redis_fail(c, what);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		cli_fail(c, 1, "redis: %s: %s", what, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* Connects to each address of u.host in turn until one answers. pregon
 * may resolve synchronously (it has no loop to keep going), but hiredis
 * takes only the first address of its own lookup (0.14 net.c), so a
 * Redis on 127.0.0.1 would be missed where "localhost" is ::1 first (a
 * stock Debian 12 /etc/hosts). */
static int connect_each_address(struct cli *c, const struct redis_url *u, const char *where)
{
	struct addrinfo hints, *res = NULL;
	char why[160] = "no address";
	int rc, tried = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(u->host, NULL, &hints, &res);
	if (rc != 0)
		return cli_fail(c, 1, "redis: cannot resolve %s: %s", where,
				rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		char addr[INET6_ADDRSTRLEN];
		const void *sa = ai->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    inet_ntop(ai->ai_family, sa, addr, sizeof(addr)) == NULL)
			continue;
		tried++;
		c->rc = redisConnectWithTimeout(addr, u->port,
						ms_to_tv(c->cfg.redis_connect_timeout_ms));
		if (c->rc == NULL) {
			freeaddrinfo(res);
			return cli_fail(c, 1, "redis: out of memory");
		}
		if (c->rc->err == 0)
			break;
		snprintf(why, sizeof(why), "%s", c->rc->errstr);
		redisFree(c->rc);
		c->rc = NULL;
	}
	freeaddrinfo(res);
	if (c->rc == NULL)
		return cli_fail(c, 1, "redis: cannot connect to %s: %s%s", where, why,
				tried > 1 ? " (each of its addresses tried)" : "");
	return 0;
}

/* AUTH as [redis] url, username and password_file ask (none when no
 * password is given). A refusal names the user and the keys to check. */
static int cli_auth(struct cli *c, const struct redis_url *u, const char *where)
{
	const char *argv[3];
	int argc = redis_url_auth_argv(u, argv);
	char why[512];
	redisReply *r;

	if (argc == 0)
		return 0;
	r = redisCommandArgv(c->rc, argc, argv, NULL);
	if (r == NULL)
		return cli_redis_fail(c, "AUTH");
	if (r->type == REDIS_REPLY_ERROR) {
		redis_url_auth_error(u, r->str, r->len, why, sizeof(why));
		freeReplyObject(r);
		return cli_fail(c, 1, "redis: %s: %s", where, why);
	}
	freeReplyObject(r);
	return 0;
}

/* Connects per [redis] url, with AUTH and SELECT as the url asks. The
 * command timeout is extended by extra_ms for blocking reads (tail). */
int cli_connect(struct cli *c, int64_t extra_ms)
{
	struct redis_url u;
	char where[600];
	redisReply *r;

	if (redis_url_from_config(&c->cfg, &u, &c->err) != 0) {
		c->exit_code = 1;
		return -1;
	}
	redis_url_describe(&u, where, sizeof(where));
	if (u.unix_path[0] != '\0') {
		c->rc = redisConnectUnixWithTimeout(u.unix_path,
						    ms_to_tv(c->cfg.redis_connect_timeout_ms));
		if (c->rc == NULL)
			return cli_fail(c, 1, "redis: out of memory");
		if (c->rc->err != 0)
			return cli_fail(c, 1, "redis: cannot connect to %s: %s", where,
					c->rc->errstr);
	} else if (connect_each_address(c, &u, where) != 0) {
		return -1;
	}
	if (redisSetTimeout(c->rc, ms_to_tv(c->cfg.redis_command_timeout_ms + extra_ms)) !=
	    REDIS_OK)
		return cli_fail(c, 1, "redis: cannot set timeout: %s", c->rc->errstr);
	if (cli_auth(c, &u, where) != 0)
		return -1;
	if (u.db != 0) {
		r = cli_cmd(c, "SELECT %d", u.db);
		if (r == NULL)
			return -1;
		freeReplyObject(r);
	}
	return 0;
}

/* FUNCTION LOAD REPLACE of the library, as pregond loads it (store.c):
 * the same text under the same name, so loading it again is harmless. */
int cli_lib_load(struct cli *c)
{
	const char *argv[4];
	redisReply *r;

	redis_lib_load_argv(argv);
	r = redisCommandArgv(c->rc, 4, argv, NULL);
	if (r == NULL)
		return cli_redis_fail(c, "FUNCTION LOAD");
	if (r->type != REDIS_REPLY_STRING) {
		cli_fail(c, 1, "redis: FUNCTION LOAD: %s",
			 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

/* Fills argv[0 .. REDIS_LIB_HEAD - 1] for a call of fn and returns how
 * many that is; the op's own arguments follow. */
int cli_lib_head(struct cli *c, const char *fn, const char **argv)
{
	if (!c->lib_ready) {
		redis_lib_init(&c->lib, &c->cfg);
		c->lib_ready = true;
	}
	return redis_lib_head(&c->lib, fn, argv);
}

redisReply *cli_lib_call(struct cli *c, const char *fn, int nargs, const char **args)
{
	const char *argv[REDIS_LIB_HEAD + 16];
	int head = cli_lib_head(c, fn, argv);
	redisReply *r;

	if (nargs > 16) {
		cli_fail(c, 1, "internal: too many arguments for %s", fn);
		return NULL;
	}
	for (int i = 0; i < nargs; i++)
		argv[head + i] = args[i];
	for (int attempt = 0; attempt < 2; attempt++) {
		r = redisCommandArgv(c->rc, head + nargs, argv, NULL);
		if (r == NULL) {
			cli_redis_fail(c, "FCALL");
			return NULL;
		}
		if (r->type != REDIS_REPLY_ERROR)
			return r;
		/* Not loaded yet on this server (or flushed): load, once. */
		if (attempt == 0 && redis_lib_missing(r->str, r->len)) {
			freeReplyObject(r);
			if (cli_lib_load(c) != 0)
				return NULL;
			continue;
		}
		cli_fail(c, 1, "redis: %s: %s", fn, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return NULL;
}

/* The id of the newest entry of a stream, or "0-0" when it is empty or
 * missing: a fixed starting point, so nothing added between two reads is
 * lost (re-sending XREAD with "$" would skip those). */
int cli_stream_last_id(struct cli *c, const char *key, char *out, size_t out_len)
{
	redisReply *r = cli_cmd(c, "XREVRANGE %s + - COUNT 1", key);

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && cli_entry_ok(r->element[0]))
		snprintf(out, out_len, "%s", r->element[0]->element[0]->str);
	else
		snprintf(out, out_len, "0-0");
	freeReplyObject(r);
	return 0;
}

/* Loads -c FILE, else $PREGON_CONF, else the installed config
 * (config_find.h); none is an error. verbose says which on stderr. */
int cli_load_config(struct cli *c, const char *path, bool verbose)
{
	struct config_found found;

	config_defaults(&c->cfg);
	if (config_find(path, &found, &c->err) != 0 ||
	    config_load(&c->cfg, found.path, &c->err) != 0) {
		c->exit_code = 1;
		return -1;
	}
	if (verbose)
		fprintf(stderr, "pregon: config %s (from %s)\n", found.path,
			config_source_name(found.source));
	return 0;
}

int cli_read_input(struct cli *c, const char *path, size_t max, const char *too_big,
		   char **out, size_t *out_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	/* max + 1 bytes at most: one more than allowed says "too big". */
	struct buf b = { .max = max + 1 };
	int result = -1;

	if (f == NULL)
		return cli_fail(c, 1, "%s: %s", path, strerror(errno));
	for (;;) {
		size_t want = b.max - b.len, n;

		if (want == 0)
			break;
		if (want > 65536)
			want = 65536;
		if (buf_reserve(&b, want) != 0) {
			cli_fail(c, 1, "out of memory");
			goto out;
		}
		n = fread(b.p + b.len, 1, want, f);
		buf_extend(&b, n);
		if (n == 0) {
			if (ferror(f)) {
				cli_fail(c, 1, "%s: %s", path, strerror(errno));
				goto out;
			}
			break;
		}
	}
	if (b.len > max) {
		cli_fail(c, 1, "%s (%zu bytes)", too_big, max);
		goto out;
	}
	*out_len = b.len;
	*out = buf_take(&b);
	result = 0;
out:
	buf_free(&b);
	if (f != stdin)
		fclose(f);
	return result;
}
