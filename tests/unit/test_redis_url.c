/* test_redis_url.c: [redis] url parsing, for pregond and pregon alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "redis_url.h"

/* Parses a url that must fail, checks err mentions `needle`, and that the
 * secret (if any) does not leak into the message. */
static void expect_reject(const char *url, const char *needle, const char *secret)
{
	struct redis_url u;
	struct err err = { "" };

	assert_int_equal(redis_url_parse(url, &u, &err), -1);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("url %s: error \"%s\" does not mention \"%s\"", url, err.msg, needle);
	if (secret != NULL && strstr(err.msg, secret) != NULL)
		fail_msg("url %s: error \"%s\" leaks the password", url, err.msg);
}

static void url_defaults_port_and_db(void **state)
{
	struct redis_url u;
	struct err err;

	(void)state;
	assert_int_equal(redis_url_parse("redis://127.0.0.1", &u, &err), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 6379);
	assert_int_equal(u.db, 0);
	assert_string_equal(u.password, "");
	assert_string_equal(u.unix_path, "");
}

static void url_reads_host_port_and_db(void **state)
{
	struct redis_url u;
	struct err err;

	(void)state;
	assert_int_equal(redis_url_parse("redis://10.1.2.3:6390/7", &u, &err), 0);
	assert_string_equal(u.host, "10.1.2.3");
	assert_int_equal(u.port, 6390);
	assert_int_equal(u.db, 7);
}

static void url_accepts_trailing_slash_as_db_zero(void **state)
{
	struct redis_url u;
	struct err err;

	(void)state;
	assert_int_equal(redis_url_parse("redis://127.0.0.1:6379/", &u, &err), 0);
	assert_int_equal(u.db, 0);
}

static void url_keeps_host_names_for_the_connection_to_resolve(void **state)
{
	struct redis_url u;
	struct err err;

	(void)state;
	assert_int_equal(redis_url_parse("redis://localhost:6380/1", &u, &err), 0);
	assert_string_equal(u.host, "localhost");
	assert_int_equal(u.port, 6380);
	assert_int_equal(redis_url_parse("redis://:pw@redis-1.db.example.org/2", &u, &err), 0);
	assert_string_equal(u.host, "redis-1.db.example.org");
	assert_int_equal(u.port, 6379);
	assert_int_equal(u.db, 2);
	assert_int_equal(redis_url_parse("redis://3com.example", &u, &err), 0);
	assert_string_equal(u.host, "3com.example");
}

static void url_reads_bracketed_ipv6(void **state)
{
	struct redis_url u;
	struct err err;

	(void)state;
	assert_int_equal(redis_url_parse("redis://[::1]:6390/2", &u, &err), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 6390);
	assert_int_equal(u.db, 2);
	expect_reject("redis://[::1", "']'", NULL);
	expect_reject("redis://[127.0.0.1]", "not an IPv6 address", NULL);
}

static void url_reads_password(void **state)
{
	struct redis_url u;
	struct err err;

	(void)state;
	assert_int_equal(redis_url_parse("redis://:s3cret@127.0.0.1:6379/3", &u, &err), 0);
	assert_string_equal(u.password, "s3cret");
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.db, 3);
}

static void url_decodes_percent_escapes_in_password(void **state)
{
	struct redis_url u;
	struct err err;

	(void)state;
	assert_int_equal(redis_url_parse("redis://:a%40b%3Ac%2Fd@127.0.0.1", &u, &err), 0);
	assert_string_equal(u.password, "a@b:c/d");
}

static void url_takes_last_at_so_raw_at_in_password_works(void **state)
{
	struct redis_url u;
	struct err err;

	(void)state;
	assert_int_equal(redis_url_parse("redis://:p@ss/w@127.0.0.1:6390/1", &u, &err), 0);
	assert_string_equal(u.password, "p@ss/w");
	assert_int_equal(u.port, 6390);
	assert_int_equal(u.db, 1);
}

static void url_accepts_default_user(void **state)
{
	struct redis_url u;
	struct err err;

	(void)state;
	assert_int_equal(redis_url_parse("redis://default:pw@127.0.0.1", &u, &err), 0);
	assert_string_equal(u.password, "pw");
}

static void url_rejects_acl_user_without_leaking_password(void **state)
{
	(void)state;
	expect_reject("redis://alice:topsecret@127.0.0.1", "user names", "topsecret");
	expect_reject("redis://topsecret@127.0.0.1", "redis://:PASSWORD@HOST", "topsecret");
}

/* [redis] username and password_file (or $PREGON_REDIS_PASSWORD): an ACL
 * user without the secret in the config; AUTH user password. */
static void acl_user_and_password_come_from_the_config_keys(void **state)
{
	char file[64];
	struct config c;
	struct redis_url u;
	struct err err = { "" };
	const char *argv[3];
	FILE *f;

	(void)state;
	snprintf(file, sizeof(file), "/tmp/pregon-test-redis-pw-%ld", (long)getpid());
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("s3cret-pw\n", f);
	fclose(f);
	unsetenv("PREGON_REDIS_PASSWORD");
	config_defaults(&c);
	snprintf(c.redis_username, sizeof(c.redis_username), "pregon");
	snprintf(c.redis_password_file, sizeof(c.redis_password_file), "%s", file);
	assert_int_equal(redis_url_from_config(&c, &u, &err), 0);
	assert_int_equal(redis_url_auth_argv(&u, argv), 3);
	assert_string_equal(argv[0], "AUTH");
	assert_string_equal(argv[1], "pregon");
	assert_string_equal(argv[2], "s3cret-pw");

	/* The environment when no file is named. */
	c.redis_password_file[0] = '\0';
	setenv("PREGON_REDIS_PASSWORD", "from-env", 1);
	assert_int_equal(redis_url_from_config(&c, &u, &err), 0);
	assert_string_equal(u.password, "from-env");
	unsetenv("PREGON_REDIS_PASSWORD");

	/* A user needs a password; a password in two places is refused. */
	assert_int_equal(redis_url_from_config(&c, &u, &err), -1);
	assert_non_null(strstr(err.msg, "[redis] username: needs a password"));
	snprintf(c.redis_password_file, sizeof(c.redis_password_file), "%s", file);
	snprintf(c.redis_url, sizeof(c.redis_url), "redis://:other@127.0.0.1");
	assert_int_equal(redis_url_from_config(&c, &u, &err), -1);
	assert_non_null(strstr(err.msg, "[redis] password_file: the url carries a password too"));
	assert_null(strstr(err.msg, "other"));
	snprintf(c.redis_url, sizeof(c.redis_url), "redis://127.0.0.1");
	snprintf(c.redis_username, sizeof(c.redis_username), "bad name");
	assert_int_equal(redis_url_from_config(&c, &u, &err), -1);
	assert_non_null(strstr(err.msg, "[redis] username"));

	/* No user, no password: no AUTH. */
	config_defaults(&c);
	assert_int_equal(redis_url_from_config(&c, &u, &err), 0);
	assert_int_equal(redis_url_auth_argv(&u, argv), 0);
	unlink(file);
}

static void a_refused_auth_names_the_user_and_the_keys_never_the_password(void **state)
{
	struct redis_url u = { .username = "pregon", .password = "s3cret-pw" };
	static const char wrongpass[] = "WRONGPASS invalid username-password pair or user is disabled.";
	char out[512];

	(void)state;
	redis_url_auth_error(&u, wrongpass, sizeof(wrongpass) - 1, out, sizeof(out));
	assert_non_null(strstr(out, "authentication refused for user \"pregon\": WRONGPASS"));
	assert_non_null(strstr(out, "[redis] username and password_file"));
	assert_null(strstr(out, "s3cret"));
}

static void url_rejects_bad_percent_escape(void **state)
{
	(void)state;
	expect_reject("redis://:ab%zzcd@127.0.0.1", "password", "ab%zzcd");
	expect_reject("redis://:ab%4@127.0.0.1", "password", NULL);
	expect_reject("redis://:ab%00cd@127.0.0.1", "NUL", NULL);
}

static void url_reads_unix_socket(void **state)
{
	struct redis_url u;
	struct err err;

	(void)state;
	assert_int_equal(redis_url_parse("unix:/run/redis/redis.sock", &u, &err), 0);
	assert_string_equal(u.unix_path, "/run/redis/redis.sock");
	assert_string_equal(u.host, "");
	assert_int_equal(u.db, 0);
	assert_int_equal(redis_url_parse("unix:///tmp/r.sock", &u, &err), 0);
	assert_string_equal(u.unix_path, "/tmp/r.sock");
}

static void url_rejects_unix_path_too_long_for_sun_path(void **state)
{
	char url[200] = "unix:/";

	(void)state;
	memset(url + 6, 'a', 120);
	url[126] = '\0';
	expect_reject(url, "longer than 107", NULL);
	expect_reject("unix:", "socket path", NULL);
}

static void url_rejects_malformed_host_names(void **state)
{
	(void)state;
	expect_reject("redis://127.1", "not an IPv4 address", NULL);
	expect_reject("redis://10.0.0.256", "not an IPv4 address", NULL);
	expect_reject("redis://db_1:6379", "not a host name or IP address: \"db_1\"", NULL);
	expect_reject("redis://-db", "not a host name", NULL);
	expect_reject("redis://db-.local", "not a host name", NULL);
	expect_reject("redis://db..local", "not a host name", NULL);
	expect_reject("redis://db.local.", "not a host name", NULL);
	expect_reject("redis://fe80::1", "port must be", NULL);	/* IPv6 goes in brackets */
}

static void url_rejects_bad_port(void **state)
{
	(void)state;
	expect_reject("redis://127.0.0.1:0", "port", NULL);
	expect_reject("redis://127.0.0.1:65536", "port", NULL);
	expect_reject("redis://127.0.0.1:-1", "port", NULL);
	expect_reject("redis://127.0.0.1:+80", "port", NULL);
	expect_reject("redis://127.0.0.1:", "port", NULL);
	expect_reject("redis://127.0.0.1:63 79", "port", NULL);
}

static void url_rejects_bad_db(void **state)
{
	(void)state;
	expect_reject("redis://127.0.0.1:6379/x", "database", NULL);
	expect_reject("redis://127.0.0.1:6379/-1", "database", NULL);
	expect_reject("redis://127.0.0.1:6379/99999999999", "database", NULL);
	expect_reject("redis://127.0.0.1:6379/0/1", "database", NULL);
}

static void url_rejects_other_schemes_and_queries(void **state)
{
	(void)state;
	expect_reject("", "empty", NULL);
	expect_reject("rediss://127.0.0.1", "TLS", NULL);
	expect_reject("http://127.0.0.1", "redis:// or unix:", NULL);
	expect_reject("127.0.0.1:6379", "redis:// or unix:", NULL);
	expect_reject("redis://127.0.0.1/0?timeout=1", "query", NULL);
	expect_reject("redis://", "missing host", NULL);
	expect_reject("redis://:pw@:6379", "missing host", "pw@");
}

static void url_describe_hides_password(void **state)
{
	struct redis_url u;
	struct err err;
	char buf[600];

	(void)state;
	assert_int_equal(redis_url_parse("redis://:hunter2@localhost:6390/4", &u, &err), 0);
	redis_url_describe(&u, buf, sizeof(buf));
	assert_string_equal(buf, "localhost:6390/4");
	assert_int_equal(redis_url_parse("redis://[::1]", &u, &err), 0);
	redis_url_describe(&u, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:6379/0");
	assert_int_equal(redis_url_parse("unix:/tmp/r.sock", &u, &err), 0);
	redis_url_describe(&u, buf, sizeof(buf));
	assert_string_equal(buf, "unix:/tmp/r.sock");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(url_defaults_port_and_db),
		cmocka_unit_test(url_reads_host_port_and_db),
		cmocka_unit_test(url_accepts_trailing_slash_as_db_zero),
		cmocka_unit_test(url_keeps_host_names_for_the_connection_to_resolve),
		cmocka_unit_test(url_reads_bracketed_ipv6),
		cmocka_unit_test(url_reads_password),
		cmocka_unit_test(url_decodes_percent_escapes_in_password),
		cmocka_unit_test(url_takes_last_at_so_raw_at_in_password_works),
		cmocka_unit_test(url_accepts_default_user),
		cmocka_unit_test(url_rejects_acl_user_without_leaking_password),
		cmocka_unit_test(acl_user_and_password_come_from_the_config_keys),
		cmocka_unit_test(a_refused_auth_names_the_user_and_the_keys_never_the_password),
		cmocka_unit_test(url_rejects_bad_percent_escape),
		cmocka_unit_test(url_reads_unix_socket),
		cmocka_unit_test(url_rejects_unix_path_too_long_for_sun_path),
		cmocka_unit_test(url_rejects_malformed_host_names),
		cmocka_unit_test(url_rejects_bad_port),
		cmocka_unit_test(url_rejects_bad_db),
		cmocka_unit_test(url_rejects_other_schemes_and_queries),
		cmocka_unit_test(url_describe_hides_password),
	};

	return cmocka_run_group_tests_name("redis_url", tests, NULL, NULL);
}
