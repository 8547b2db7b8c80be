/* Unit tests for config.c: defaults, durations, bounds and error lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char path[64];

static const char *write_conf(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/pregon-test-conf-%ld.conf", (long)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void defaults_work_on_a_laptop(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_string_equal(c.redis_url, "redis://127.0.0.1:6379/0");
	assert_string_equal(c.redis_prefix, "pregon:");
	assert_string_equal(c.channel[CHANNEL_SMS].provider, "outbox");
	assert_string_equal(config_str(&c, "outbox", "dir"), "var/outbox");
	assert_int_equal(c.retry_max_attempts, 5);
	assert_int_equal(c.jobs_dedupe_days, 30);
	assert_int_equal(c.jobs_reclaim_after_ms, 60000);
	assert_int_equal(c.schedule_tick_ms, 100);
	assert_true(c.court_reminder_confirm_on_enrol);
	assert_true(strlen(c.redis_consumer) > 0);
}

static void durations_take_units_and_bare_seconds(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(config_parse_duration_ms("250ms", &ms, NULL), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(config_parse_duration_ms("2s", &ms, NULL), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(config_parse_duration_ms("5m", &ms, NULL), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(config_parse_duration_ms("1h", &ms, NULL), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(config_parse_duration_ms("7d", &ms, NULL), 0);
	assert_int_equal(ms, 7 * 86400000LL);
	assert_int_equal(config_parse_duration_ms("1.5", &ms, NULL), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(config_parse_duration_ms("", &ms, NULL), -1);
	assert_int_equal(config_parse_duration_ms("5 weeks", &ms, NULL), -1);
	assert_int_equal(config_parse_duration_ms("-1s", &ms, NULL), -1);
}

static void file_overrides_defaults(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[redis]\nprefix = x:\n[retry]\nmax_attempts = 7\n"
						    "base_delay = 250ms\n[court_reminder]\nconfirm_on_enrol = no\n"
						    "[sms]\nrate = 2.5\n"), &err), 0);
	assert_string_equal(c.redis_prefix, "x:");
	assert_int_equal(c.retry_max_attempts, 7);
	assert_int_equal(c.retry_base_delay_ms, 250);
	assert_false(c.court_reminder_confirm_on_enrol);
	assert_true(c.channel[CHANNEL_SMS].rate > 2.4 && c.channel[CHANNEL_SMS].rate < 2.6);
	unlink(path);
}

static void out_of_range_value_names_file_line_key_and_range(void **state)
{
	struct config c;
	struct err err;
	char want[160];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("# comment\n[retry]\n\nmax_attempts = 0\n"), &err), -1);
	snprintf(want, sizeof(want), "%s:4: [retry] max_attempts: must be 1..100, got 0", path);
	assert_string_equal(err.msg, want);
	unlink(path);
}

static void unknown_key_is_an_error(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[jobs]\nmax_byte = 10\n"), &err), -1);
	assert_non_null(strstr(err.msg, ":2: [jobs] max_byte: unknown key"));
	unlink(path);
}

static void bad_duration_and_bool_are_explained(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[jobs]\nreclaim_after = soon\n"), &err), -1);
	assert_non_null(strstr(err.msg, "[jobs] reclaim_after: not a duration"));
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[court_reminder]\nconfirm_on_enrol = maybe\n"), &err), -1);
	assert_non_null(strstr(err.msg, "must be yes or no"));
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[log]\nlevel = loud\n"), &err), -1);
	assert_non_null(strstr(err.msg, "[log] level"));
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[retry]\nbase_delay = 20m\nmax_delay = 1m\n"), &err), -1);
	assert_non_null(strstr(err.msg, "base_delay must not exceed max_delay"));
	unlink(path);
}

static void schedule_and_reminder_values_are_parsed_at_load(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_defaults(&c);
	assert_false(c.quiet.off);
	assert_int_equal(c.quiet.start_min, 21 * 60);
	assert_int_equal(c.quiet.end_min, 8 * 60);
	assert_int_equal(c.n_court_offsets, 4);
	assert_int_equal(c.court_offsets[3].hours, 3);
	assert_false(c.schedule_test_clock);
	assert_int_equal(config_load(&c, write_conf("[schedule]\nquiet_hours = none\n"
						    "[court_reminder]\noffsets = P2D, PT90M\n"), &err), 0);
	assert_true(c.quiet.off);
	assert_int_equal(c.n_court_offsets, 2);
	assert_int_equal(c.court_offsets[1].minutes, 90);
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[schedule]\nquiet_hours = 9pm-8am\n"), &err), -1);
	assert_non_null(strstr(err.msg, "[schedule] quiet_hours: expected HH:MM-HH:MM or none"));
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[schedule]\ndefault_tz = Pacific/Atlantis\n"), &err), -1);
	assert_non_null(strstr(err.msg, "[schedule] default_tz: unknown time zone \"Pacific/Atlantis\""));
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[court_reminder]\noffsets = P7D,7 days\n"), &err), -1);
	assert_non_null(strstr(err.msg, "[court_reminder] offsets: \"7 days\": not an ISO-8601 duration"));
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[court_reminder]\noffsets = ,\n"), &err), -1);
	assert_non_null(strstr(err.msg, "[court_reminder] offsets: give at least one duration"));
	unlink(path);
}

static void townhall_reminders_and_track_join_are_read(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.n_townhall_offsets, 2);	/* P1D,PT1H */
	assert_int_equal(c.townhall_offsets[0].days, 1);
	assert_int_equal(c.townhall_offsets[1].hours, 1);
	assert_true(c.townhall_track_join);
	assert_int_equal(config_load(&c, write_conf("[townhall]\nreminders = P2D, PT30M, PT5M\n"
						    "track_join = no\n"), &err), 0);
	assert_int_equal(c.n_townhall_offsets, 3);
	assert_int_equal(c.townhall_offsets[1].minutes, 30);
	assert_false(c.townhall_track_join);
	assert_int_equal(c.n_court_offsets, 4);	/* the court's are their own */
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[townhall]\nreminders = 1 day\n"), &err), -1);
	assert_non_null(strstr(err.msg, "[townhall] reminders: \"1 day\": not an ISO-8601 duration"));
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[townhall]\nreminders =\n"), &err), -1);
	assert_non_null(strstr(err.msg, "[townhall] reminders: give at least one duration"));
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[townhall]\ntrack_join = maybe\n"), &err), -1);
	assert_non_null(strstr(err.msg, "[townhall] track_join: must be yes or no"));
	unlink(path);
}

static void missing_file_is_an_error(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, "/nonexistent/pregon.conf", &err), -1);
	assert_non_null(strstr(err.msg, "cannot open"));
}

static void shipped_config_file_loads(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, "config/pregon.conf", &err), 0);
}

static void relative_paths_are_taken_from_the_config_files_folder(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_defaults(&c);
	/* write_conf's file is /tmp/pregon-test-conf-PID.conf. */
	assert_int_equal(config_load(&c, write_conf("[templates]\ndir = tpl\n[outbox]\ndir = ./out\n"
						    "[log]\nfile = /var/log/p.log\n"
						    "[http]\ntokens_file = ../etc/tokens\n"
						    "[mqtt]\nurl = mqtts://127.0.0.1\ncafile = ca.pem\n"
						    "certfile = c.pem\nkeyfile = k.pem\ncapath = cas\n"
						    "username = u\npassword_file = mqtt.pw\n"
						    "[sms]\nauth_token_file = secret/twilio\n"
						    "[email]\npassword_file = smtp.pw\n"), &err), 0);
	assert_string_equal(c.templates_dir, "/tmp/tpl");
	assert_string_equal(config_str(&c, "outbox", "dir"), "/tmp/./out");
	assert_string_equal(c.log_file, "/var/log/p.log");
	assert_string_equal(c.http_tokens_file, "/tmp/../etc/tokens");
	assert_string_equal(c.mqtt_cafile, "/tmp/ca.pem");
	assert_string_equal(c.mqtt_capath, "/tmp/cas");
	assert_string_equal(c.mqtt_certfile, "/tmp/c.pem");
	assert_string_equal(c.mqtt_keyfile, "/tmp/k.pem");
	assert_string_equal(c.mqtt_password_file, "/tmp/mqtt.pw");
	assert_string_equal(config_str(&c, "sms", "auth_token_file"), "/tmp/secret/twilio");
	assert_string_equal(config_str(&c, "email", "password_file"), "/tmp/smtp.pw");
	unlink(path);
}

static void a_relative_unix_socket_is_taken_from_the_config_files_folder(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[redis]\nurl = unix:run/redis.sock\n"), &err), 0);
	assert_string_equal(c.redis_url, "unix:/tmp/run/redis.sock");
	assert_string_equal(config_str(&c, "redis", "url"), "unix:/tmp/run/redis.sock");
	unlink(path);
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[redis]\nurl = unix:/run/r.sock\n"), &err), 0);
	assert_string_equal(c.redis_url, "unix:/run/r.sock");
	unlink(path);
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[redis]\nurl = unix:///run/r.sock\n"), &err), 0);
	assert_string_equal(c.redis_url, "unix:///run/r.sock");
	unlink(path);
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[redis]\nurl = redis://db.example:6380/2\n"), &err), 0);
	assert_string_equal(c.redis_url, "redis://db.example:6380/2");
	unlink(path);
}

static void a_config_named_relatively_is_taken_from_the_working_directory(void **state)
{
	struct config c;
	struct err err;
	char cwd[512], want[600];
	FILE *f;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(mkdir("pregon-test-confdir", 0700) == 0 || errno == EEXIST, 1);
	f = fopen("pregon-test-confdir/p.conf", "w");
	assert_non_null(f);
	fputs("[outbox]\ndir = out\n[log]\nfile =\n", f);
	fclose(f);
	config_defaults(&c);
	assert_int_equal(config_load(&c, "pregon-test-confdir/p.conf", &err), 0);
	snprintf(want, sizeof(want), "%s/pregon-test-confdir/out", cwd);
	assert_string_equal(config_str(&c, "outbox", "dir"), want);
	assert_string_equal(c.log_file, "");	/* empty stays empty: stderr */
	unlink("pregon-test-confdir/p.conf");
	rmdir("pregon-test-confdir");
}

static void defaults_of_paths_are_not_moved_by_a_config_file(void **state)
{
	struct config c;
	struct err err;
	char def[512];

	(void)state;
	config_default_templates_dir(def, sizeof(def));
	assert_true(def[0] == '/');
	config_defaults(&c);
	assert_string_equal(c.templates_dir, def);
	assert_int_equal(config_load(&c, write_conf("[templates]\ndir =\n"), &err), 0);
	assert_string_equal(c.templates_dir, def);	/* empty: the default */
	assert_string_equal(config_str(&c, "outbox", "dir"), "var/outbox");	/* the working directory's */
	unlink(path);
}

static void a_path_too_long_once_resolved_names_its_key(void **state)
{
	struct config c;
	struct err err;
	char dir[600], file[700], name[201];
	FILE *f;

	(void)state;
	/* inih reads lines of at most 200 bytes: the length comes from the
	 * config file's folder, 400 bytes deep. */
	memset(name, 'd', 200);
	name[200] = '\0';
	snprintf(dir, sizeof(dir), "/tmp/%s", name);
	assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(dir, sizeof(dir), "/tmp/%s/%s", name, name);
	assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(file, sizeof(file), "%s/p.conf", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f, "[sms]\nauth_token_file = %0120d\n", 7);
	fclose(f);
	config_defaults(&c);
	assert_int_equal(config_load(&c, file, &err), -1);
	assert_non_null(strstr(err.msg, ":2: [sms] auth_token_file: longer than 511 bytes"));
	unlink(file);
	rmdir(dir);
	snprintf(dir, sizeof(dir), "/tmp/%s", name);
	rmdir(dir);
}

static void secret_comes_from_file_or_environment(void **state)
{
	char out[64];
	struct err err;

	(void)state;
	assert_int_equal(config_read_secret(write_conf("s3cret\n"), NULL, out, sizeof(out), &err), 0);
	assert_string_equal(out, "s3cret");
	unlink(path);
	setenv("PREGON_TEST_SECRET", "envval", 1);
	assert_int_equal(config_read_secret("", "PREGON_TEST_SECRET", out, sizeof(out), &err), 0);
	assert_string_equal(out, "envval");
	unsetenv("PREGON_TEST_SECRET");
	assert_int_equal(config_read_secret("", "PREGON_TEST_SECRET", out, sizeof(out), &err), -1);
}

/* Finding 10: fgets cut a token over 255 bytes silently; it is now an
 * error, whatever the buffer, and a line that only trails blanks is not. */
static void a_secret_longer_than_its_buffer_is_an_error_never_cut(void **state)
{
	char out[256], longer[300];
	struct err err = { "" };
	FILE *f;

	(void)state;
	memset(longer, 'k', 256);
	longer[256] = '\0';
	f = fopen(write_conf(""), "w");
	assert_non_null(f);
	fprintf(f, "%s\n", longer);
	fclose(f);
	assert_int_equal(config_read_secret(path, NULL, out, sizeof(out), &err), -1);
	assert_non_null(strstr(err.msg, "longer than 255 bytes"));
	assert_null(strstr(err.msg, "kkkk"));
	/* 255 bytes and the line end fit exactly; trailing blanks are not the secret. */
	longer[255] = '\0';
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s  \r\nsecond line\n", longer);
	fclose(f);
	assert_int_equal(config_read_secret(path, NULL, out, sizeof(out), &err), 0);
	assert_int_equal(strlen(out), 255);
	unlink(path);
}

/* credential:NAME is $CREDENTIALS_DIRECTORY/NAME (systemd LoadCredential=),
 * left as written by config_load, refused without the variable. */
static void a_credential_name_is_read_from_the_credentials_directory(void **state)
{
	char dir[64], file[128], out[64];
	struct config c;
	struct err err = { "" };
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pregon-test-cred-%ld", (long)getpid());
	assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(file, sizeof(file), "%s/sms_token", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("t0ken\n", f);
	fclose(f);
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[sms]\nauth_token_file = credential:sms_token\n"
						    "[redis]\npassword_file = credential:redis\n"), &err), 0);
	assert_string_equal(config_str(&c, "sms", "auth_token_file"), "credential:sms_token");
	assert_string_equal(c.redis_password_file, "credential:redis");
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(config_read_secret("credential:pregon-test-no-such-credential", NULL, out,
					    sizeof(out), &err), -1);
	assert_non_null(strstr(err.msg, "CREDENTIALS_DIRECTORY is not set"));
	assert_non_null(strstr(err.msg, "/etc/credstore"));
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	assert_int_equal(config_read_secret("credential:sms_token", NULL, out, sizeof(out), &err), 0);
	assert_string_equal(out, "t0ken");
	assert_int_equal(config_read_secret("credential:../sms_token", NULL, out, sizeof(out), &err), -1);
	assert_non_null(strstr(err.msg, "plain name"));
	unsetenv("CREDENTIALS_DIRECTORY");
	unlink(file);
	rmdir(dir);
	unlink(path);
}

struct warnings {
	int n;
	char text[8][512];
};

static void collect_warning(const char *msg, void *arg)
{
	struct warnings *w = arg;

	if (w->n < 8)
		snprintf(w->text[w->n++], sizeof(w->text[0]), "%s", msg);
}

/* Finding 10: a secret file its group or others can read is warned
 * about at start, naming the key and never the content. */
static void secret_files_readable_by_others_are_warned_about(void **state)
{
	char dir[64], f600[128], f640[128], f644[128];
	struct warnings w = { 0 };
	struct config c;
	struct err err = { "" };
	char conf[1024];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pregon-test-modes-%ld", (long)getpid());
	assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(f600, sizeof(f600), "%s/a", dir);
	snprintf(f640, sizeof(f640), "%s/b", dir);
	snprintf(f644, sizeof(f644), "%s/c", dir);
	const char *files[] = { f600, f640, f644 };
	const mode_t modes[] = { 0600, 0640, 0644 };
	for (int i = 0; i < 3; i++) {
		f = fopen(files[i], "w");
		assert_non_null(f);
		fputs("hunter2-secret\n", f);
		fclose(f);
		assert_int_equal(chmod(files[i], modes[i]), 0);
	}
	snprintf(conf, sizeof(conf), "[redis]\npassword_file = %s\n[mqtt]\nusername = u\n"
		 "password_file = %s\n[sms]\nauth_token_file = %s\n[http]\ntokens_file = %s\n"
		 "[email]\npassword_file = %s/missing\n", f600, f640, f644, f644, dir);
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf(conf), &err), 0);
	assert_int_equal(config_check_secret_modes(&c, collect_warning, &w), 3);
	assert_int_equal(w.n, 3);
	for (int i = 0; i < w.n; i++)
		assert_null(strstr(w.text[i], "hunter2"));
	assert_non_null(strstr(w.text[0], "[http] tokens_file: the file is readable by everyone (mode 0644)"));
	assert_non_null(strstr(w.text[1], "[mqtt] password_file: the file is readable by its group (mode 0640)"));
	assert_non_null(strstr(w.text[2], "[sms] auth_token_file: the file is readable by everyone"));
	for (int i = 0; i < 3; i++)
		unlink(files[i]);
	rmdir(dir);
	unlink(path);
}

/* Every channel has its keys, with the defaults of its row in channel.c;
 * a provider's keys are its own table's and report errors the same way. */
static void channel_and_provider_keys_load_like_the_core_keys(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.channel[CHANNEL_SMS].concurrency, 64);
	assert_int_equal(c.channel[CHANNEL_EMAIL].concurrency, 16);
	assert_string_equal(c.channel[CHANNEL_SIGNAL].provider, "outbox");
	assert_non_null(strstr(c.channel[CHANNEL_SMS].help_text, "Reply STOP to stop"));
	assert_string_equal(config_str(&c, "sms", "base_url"), "https://api.twilio.com");
	assert_null(config_str(&c, "sms", "no_such_key"));
	assert_int_equal(config_load(&c, write_conf("[email]\nurl = smtp://127.0.0.1:2525\n"
						    "concurrency = 3\n[signal]\naccount = +13235550100\n"),
				     &err), 0);
	assert_int_equal(c.channel[CHANNEL_EMAIL].concurrency, 3);
	assert_string_equal(config_str(&c, "email", "url"), "smtp://127.0.0.1:2525");
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[sms]\nbreaker_failures = 0\n"), &err), -1);
	assert_non_null(strstr(err.msg, ":2: [sms] breaker_failures: must be 1..100000, got 0"));
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[signal]\nconcurrency = 0\n"), &err), -1);
	assert_non_null(strstr(err.msg, ":2: [signal] concurrency: must be 1..4096, got 0"));
	config_defaults(&c);
	assert_int_equal(config_load(&c, write_conf("[email]\nhelp_text = hi\n"), &err), -1);
	assert_non_null(strstr(err.msg, ":2: [email] help_text: unknown key"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_work_on_a_laptop),
		cmocka_unit_test(durations_take_units_and_bare_seconds),
		cmocka_unit_test(file_overrides_defaults),
		cmocka_unit_test(out_of_range_value_names_file_line_key_and_range),
		cmocka_unit_test(unknown_key_is_an_error),
		cmocka_unit_test(bad_duration_and_bool_are_explained),
		cmocka_unit_test(schedule_and_reminder_values_are_parsed_at_load),
		cmocka_unit_test(townhall_reminders_and_track_join_are_read),
		cmocka_unit_test(missing_file_is_an_error),
		cmocka_unit_test(shipped_config_file_loads),
		cmocka_unit_test(secret_comes_from_file_or_environment),
		cmocka_unit_test(a_secret_longer_than_its_buffer_is_an_error_never_cut),
		cmocka_unit_test(a_credential_name_is_read_from_the_credentials_directory),
		cmocka_unit_test(secret_files_readable_by_others_are_warned_about),
		cmocka_unit_test(relative_paths_are_taken_from_the_config_files_folder),
		cmocka_unit_test(a_relative_unix_socket_is_taken_from_the_config_files_folder),
		cmocka_unit_test(a_config_named_relatively_is_taken_from_the_working_directory),
		cmocka_unit_test(defaults_of_paths_are_not_moved_by_a_config_file),
		cmocka_unit_test(a_path_too_long_once_resolved_names_its_key),
		cmocka_unit_test(channel_and_provider_keys_load_like_the_core_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
