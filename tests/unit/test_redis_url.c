/* test_redis_url.c: [redis] url parsing, for pregond and pregon alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

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
