/* config.c: the config table, its defaults and the INI loader (inih).
 *
 * One row per key, as in redis's config.c: a bad value is reported with the
 * file, line, section and key, and the allowed range. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mosquitto.h>

#include "mqtt_url.h"
#include "tz.h"

/* CT_PATH is a CT_STR that names a file or folder: a relative value read
 * from a config file is taken from that file's folder (config_load). */
enum config_type { CT_STR, CT_PATH, CT_INT, CT_DURATION, CT_RATE, CT_BOOL, CT_DAYS };

struct config_key {
	const char *section;
	const char *name;
	enum config_type type;
	size_t offset;
	size_t size;		/* CT_STR: buffer size */
	const char *def;	/* default, as it would be written in the file */
	double min, max;	/* bounds for numbers and durations (ms) */
};

#define S(sec, key, field, d) \
	{ sec, key, CT_STR, offsetof(struct config, field), sizeof(((struct config *)0)->field), d, 0, 0 }
#define P(sec, key, field, d) \
	{ sec, key, CT_PATH, offsetof(struct config, field), sizeof(((struct config *)0)->field), d, 0, 0 }
#define I(sec, key, field, d, lo, hi) \
	{ sec, key, CT_INT, offsetof(struct config, field), 0, d, lo, hi }
#define D(sec, key, field, d, lo, hi) \
	{ sec, key, CT_DURATION, offsetof(struct config, field), 0, d, lo, hi }
#define R(sec, key, field, d) \
	{ sec, key, CT_RATE, offsetof(struct config, field), 0, d, 0, 1e6 }
#define B(sec, key, field, d) \
	{ sec, key, CT_BOOL, offsetof(struct config, field), 0, d, 0, 0 }
#define N64(sec, key, field, d, lo, hi) \
	{ sec, key, CT_DAYS, offsetof(struct config, field), 0, d, lo, hi }

static const struct config_key config_keys[] = {
	S("redis", "url", redis_url, "redis://127.0.0.1:6379/0"),
	S("redis", "prefix", redis_prefix, "pregon:"),
	S("redis", "consumer", redis_consumer, ""),
	D("redis", "connect_timeout", redis_connect_timeout_ms, "2s", 100, 60000),
	D("redis", "command_timeout", redis_command_timeout_ms, "5s", 100, 300000),

	S("log", "level", log_level, "info"),
	P("log", "file", log_file, ""),

	S("http", "listen", http_listen, "127.0.0.1:8080"),
	P("http", "tokens_file", http_tokens_file, ""),
	S("http", "public_url", http_public_url, "http://127.0.0.1:8080"),
	D("http", "header_timeout", http_header_timeout_ms, "10s", 100, 600000),
	I("http", "max_connections", http_max_connections, "1024", 1, 100000),
	N64("http", "max_body", http_max_body, "1048576", 1024, 67108864),

	S("mqtt", "url", mqtt_url, ""),
	S("mqtt", "client_id", mqtt_client_id, ""),
	S("mqtt", "intake_topic", mqtt_intake_topic, ""),
	S("mqtt", "events_topic_prefix", mqtt_events_topic_prefix, "pregon/events"),
	S("mqtt", "username", mqtt_username, ""),
	P("mqtt", "password_file", mqtt_password_file, ""),
	P("mqtt", "cafile", mqtt_cafile, ""),
	P("mqtt", "capath", mqtt_capath, ""),
	P("mqtt", "certfile", mqtt_certfile, ""),
	P("mqtt", "keyfile", mqtt_keyfile, ""),
	B("mqtt", "tls_insecure", mqtt_tls_insecure, "no"),
	/* libmosquitto takes whole seconds, at least 5 (lib/connect.c). */
	D("mqtt", "keepalive", mqtt_keepalive_ms, "30s", 5000, 65535000),

	S("sms", "provider", sms_provider, "outbox"),
	S("sms", "base_url", sms_base_url, "https://api.twilio.com"),
	S("sms", "account_sid", sms_account_sid, ""),
	P("sms", "auth_token_file", sms_auth_token_file, ""),
	S("sms", "from", sms_from, ""),
	S("sms", "messaging_service_sid", sms_messaging_service_sid, ""),
	R("sms", "rate", sms_rate, "0"),
	I("sms", "burst", sms_burst, "0", 0, 100000),
	D("sms", "timeout", sms_timeout_ms, "15s", 100, 300000),
	I("sms", "breaker_failures", sms_breaker_failures, "10", 1, 100000),
	D("sms", "breaker_cooldown", sms_breaker_cooldown_ms, "30s", 100, 3600000),
	S("sms", "help_text", sms_help_text,
	  "Reminders from your legal team. Reply STOP to stop, START to resume."),
	I("sms", "concurrency", sms_concurrency, "64", 1, 4096),

	S("email", "provider", email_provider, "outbox"),
	S("email", "url", email_url, ""),
	S("email", "from", email_from, ""),
	S("email", "username", email_username, ""),
	P("email", "password_file", email_password_file, ""),
	R("email", "rate", email_rate, "0"),
	I("email", "burst", email_burst, "0", 0, 100000),
	I("email", "concurrency", email_concurrency, "16", 1, 4096),

	S("signal", "provider", signal_provider, "outbox"),
	S("signal", "url", signal_url, ""),
	S("signal", "account", signal_account, ""),
	R("signal", "rate", signal_rate, "0"),
	I("signal", "burst", signal_burst, "0", 0, 100000),
	I("signal", "concurrency", signal_concurrency, "16", 1, 4096),

	S("schedule", "quiet_hours", schedule_quiet_hours, "21:00-08:00"),
	S("schedule", "default_tz", schedule_default_tz, "America/Los_Angeles"),
	D("schedule", "tick", schedule_tick_ms, "100ms", 10, 60000),
	B("schedule", "test_clock", schedule_test_clock, "no"),

	S("court_reminder", "offsets", court_reminder_offsets, "P7D,P3D,P1D,PT3H"),
	B("court_reminder", "confirm_on_enrol", court_reminder_confirm_on_enrol, "yes"),

	I("retry", "max_attempts", retry_max_attempts, "5", 1, 100),
	D("retry", "base_delay", retry_base_delay_ms, "2s", 1, 86400000),
	D("retry", "max_delay", retry_max_delay_ms, "10m", 1, 7 * 86400000.0),

	/* "": found at start, config_default_templates_dir (config.h). */
	P("templates", "dir", templates_dir, ""),
	S("templates", "default_lang", templates_default_lang, "en"),

	D("alerts", "reply_window", alerts_reply_window_ms, "24h", 1000, 30 * 86400000.0),
	I("alerts", "expand_batch", alerts_expand_batch, "500", 10, 10000),
	D("alerts", "urgent_scan", alerts_urgent_scan_ms, "20ms", 5, 10000),

	P("outbox", "dir", outbox_dir, "var/outbox"),

	I("jobs", "dedupe_days", jobs_dedupe_days, "30", 1, 3650),
	N64("jobs", "max_bytes", jobs_max_bytes, "65536", 256, 16777216),
	D("jobs", "reclaim_after", jobs_reclaim_after_ms, "60", 100, 86400000),
	I("jobs", "batch", jobs_batch, "64", 1, 1000),

	N64("events", "max_len", events_max_len, "1000000", 1000, 1e10),
	I("events", "retention_days", events_retention_days, "30", 1, 3650),

	D("shutdown", "grace", shutdown_grace_ms, "10s", 0, 600000),
};

#define N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

int config_parse_duration_ms(const char *s, int64_t *ms, struct err *err)
{
	char *end;
	double v, mult = 1000.0;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || !isfinite(v) || v < 0)
		return err_set(err, "not a duration: \"%.40s\"", s);
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		mult = 1000.0;
	else if (strcmp(end, "ms") == 0)
		mult = 1.0;
	else if (strcmp(end, "m") == 0)
		mult = 60e3;
	else if (strcmp(end, "h") == 0)
		mult = 3600e3;
	else if (strcmp(end, "d") == 0)
		mult = 86400e3;
	else
		return err_set(err, "not a duration (units: ms, s, m, h, d): \"%.40s\"", s);
	if (v * mult > 9e15)
		return err_set(err, "duration too large: \"%.40s\"", s);
	*ms = (int64_t)llround(v * mult);
	return 0;
}

static int parse_number(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return (end == s || *end != '\0' || errno != 0 || !isfinite(*out)) ? -1 : 0;
}

/* Sets one key from its text. Returns 0 or -1 with err "[sec] key: problem". */
static int config_set(struct config *cfg, const struct config_key *k,
		      const char *value, struct err *err)
{
	char *base = (char *)cfg + k->offset;
	double num;
	int64_t ms;

	switch (k->type) {
	case CT_STR:
	case CT_PATH:
		if (strlen(value) >= k->size)
			return err_set(err, "[%s] %s: longer than %zu bytes", k->section,
				       k->name, k->size - 1);
		memcpy(base, value, strlen(value) + 1);
		return 0;
	case CT_INT:
		if (parse_number(value, &num) != 0 || num != (double)(long long)num)
			return err_set(err, "[%s] %s: not an integer: \"%.40s\"", k->section,
				       k->name, value);
		if (num < k->min || num > k->max)
			return err_set(err, "[%s] %s: must be %.0f..%.0f, got %.0f", k->section,
				       k->name, k->min, k->max, num);
		*(int *)base = (int)num;
		return 0;
	case CT_DAYS:
		if (parse_number(value, &num) != 0 || num != (double)(long long)num)
			return err_set(err, "[%s] %s: not an integer: \"%.40s\"", k->section,
				       k->name, value);
		if (num < k->min || num > k->max)
			return err_set(err, "[%s] %s: must be %.0f..%.0f, got %.0f", k->section,
				       k->name, k->min, k->max, num);
		*(int64_t *)base = (int64_t)num;
		return 0;
	case CT_RATE:
		if (parse_number(value, &num) != 0 || num < 0 || num > k->max)
			return err_set(err, "[%s] %s: must be a rate 0..%.0f per second (0 = unlimited), got \"%.40s\"",
				       k->section, k->name, k->max, value);
		*(double *)base = num;
		return 0;
	case CT_DURATION:
		if (config_parse_duration_ms(value, &ms, NULL) != 0) {
			return err_set(err, "[%s] %s: not a duration (e.g. 250ms, 2s, 5m, 1h, 7d): \"%.40s\"",
				       k->section, k->name, value);
		}
		if ((double)ms < k->min || (double)ms > k->max)
			return err_set(err, "[%s] %s: must be between %.0fms and %.0fms, got %s",
				       k->section, k->name, k->min, k->max, value);
		*(int64_t *)base = ms;
		return 0;
	case CT_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
		    strcmp(value, "on") == 0 || strcmp(value, "1") == 0)
			*(bool *)base = true;
		else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 ||
			 strcmp(value, "off") == 0 || strcmp(value, "0") == 0)
			*(bool *)base = false;
		else
			return err_set(err, "[%s] %s: must be yes or no, got \"%.40s\"", k->section,
				       k->name, value);
		return 0;
	}
	return err_set(err, "[%s] %s: unknown type", k->section, k->name);
}

/* "P7D,P3D,P1D,PT3H": one to CONFIG_OFFSETS_MAX ISO-8601 durations (empty
 * items are skipped; P0D, a reminder at the appearance itself, is allowed). */
static int parse_offsets(struct config *cfg, struct err *err)
{
	char buf[sizeof(cfg->court_reminder_offsets)], *save = NULL, *tok;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", cfg->court_reminder_offsets);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		struct err e;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		for (size_t len = strlen(tok); len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t');)
			tok[--len] = '\0';
		if (n == CONFIG_OFFSETS_MAX)
			return err_set(err, "[court_reminder] offsets: more than %d", CONFIG_OFFSETS_MAX);
		if (duration_parse_iso8601(tok, &cfg->court_offsets[n], &e) != 0)
			return err_set(err, "[court_reminder] offsets: \"%.40s\": %s", tok, e.msg);
		n++;
	}
	if (n == 0)
		return err_set(err, "[court_reminder] offsets: give at least one duration, e.g. P1D");
	cfg->n_court_offsets = n;
	return 0;
}

/* Values that are parsed once, after the file (or the defaults). */
static int config_derive(struct config *cfg, struct err *err)
{
	struct err e;

	if (quiet_hours_parse(cfg->schedule_quiet_hours, &cfg->quiet, &e) != 0)
		return err_set(err, "[schedule] %s", e.msg);
	if (!tz_exists(cfg->schedule_default_tz))
		return err_set(err, "[schedule] default_tz: unknown time zone \"%.64s\"",
			       cfg->schedule_default_tz);
	return parse_offsets(cfg, err);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Where the templates are when [templates] dir is not set, tried in order:
 *
 * 1. <the executable's folder>/../share/pregon/templates: an installed
 *    pregond (PREFIX/bin/pregond, PREFIX/share/pregon/templates). Found
 *    from the executable rather than compiled in, so that a tree installed
 *    with DESTDIR, or moved whole, still finds its own templates.
 * 2. <the executable's folder>/../config/templates: a build run from the
 *    checkout (build/pregond, build-asan/pregond), whatever the working
 *    directory.
 * 3. PREGON_DATADIR/templates, compiled in from the Makefile's PREFIX:
 *    a binary copied away from its tree. Also the answer when none exists,
 *    so that the error names the folder an install would have made.
 *
 * The executable is /proc/self/exe (proc(5)), which names the real file
 * whatever argv[0] or the PATH said. */
void config_default_templates_dir(char *out, size_t out_len)
{
	static const char *const below[] = { "share/pregon/templates", "config/templates" };
	char exe[4096], cand[4096 + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';		/* the executable's folder */
			slash = strrchr(exe, '/');
			if (slash != NULL)
				*slash = '\0';	/* and its parent */
			for (size_t i = 0; i < sizeof(below) / sizeof(below[0]); i++) {
				int len = snprintf(cand, sizeof(cand), "%s/%s", exe, below[i]);

				if (len > 0 && (size_t)len < out_len && is_dir(cand)) {
					memcpy(out, cand, (size_t)len + 1);
					return;
				}
			}
		}
	}
	snprintf(out, out_len, "%s/templates", PREGON_DATADIR);
}

void config_defaults(struct config *cfg)
{
	struct err err;
	char host[64] = "pregond";

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_KEYS; i++) {
		if (config_set(cfg, &config_keys[i], config_keys[i].def, &err) != 0) {
			/* A bad default is a programming error caught by the unit tests. */
			fprintf(stderr, "config default: %s\n", err.msg);
			abort();
		}
	}
	if (config_derive(cfg, &err) != 0) {
		fprintf(stderr, "config default: %s\n", err.msg);
		abort();
	}
	config_default_templates_dir(cfg->templates_dir, sizeof(cfg->templates_dir));
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(cfg->redis_consumer, sizeof(cfg->redis_consumer), "%s-%ld", host,
		 (long)getpid());
}

struct load_ctx {
	struct config *cfg;
	const char *path;
	struct err *err;
	int failed;
	FILE *fp;
	int lineno;
	char dir[CONFIG_STR_MAX];	/* the file's folder, absolute */
};

/* The folder of the config file at path, made absolute with the working
 * directory of the moment (pregond never changes it, but the folder is
 * printed in errors and must mean the same to the operator). */
static int config_folder(const char *path, char *out, size_t out_len, struct err *err)
{
	const char *slash = strrchr(path, '/');
	char cwd[CONFIG_STR_MAX];
	int n;

	if (slash == path)
		n = snprintf(out, out_len, "/");
	else if (path[0] == '/')
		n = snprintf(out, out_len, "%.*s", (int)(slash - path), path);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		return err_set(err, "%s: cannot find the working directory: %s", path,
			       strerror(errno));
	else if (slash == NULL)
		n = snprintf(out, out_len, "%s", cwd);
	else
		n = snprintf(out, out_len, "%s/%.*s", strcmp(cwd, "/") ? cwd : "",
			     (int)(slash - path), path);
	if (n < 0 || (size_t)n >= out_len)
		return err_set(err, "%s: the config file's folder is longer than %zu bytes", path,
			       out_len - 1);
	return 0;
}

/* A relative path-valued key (CT_PATH) is taken from the config file's
 * folder, so that a config names its neighbours (templates/, tokens) the
 * same wherever pregond is started from. */
static int resolve_path(const struct load_ctx *ctx, const struct config_key *k, struct err *err)
{
	char *base = (char *)ctx->cfg + k->offset;
	char joined[2 * CONFIG_STR_MAX];
	int n;

	if (base[0] == '\0' || base[0] == '/')
		return 0;
	n = snprintf(joined, sizeof(joined), "%s/%s", ctx->dir, base);
	if (n < 0 || (size_t)n >= k->size)
		return err_set(err, "[%s] %s: longer than %zu bytes once taken from the config "
			       "file's folder %s", k->section, k->name, k->size - 1, ctx->dir);
	memcpy(base, joined, (size_t)n + 1);
	return 0;
}

/* Debian's inih is built without INI_HANDLER_LINENO, so the reader below
 * counts lines itself: the handler runs right after its line was read. */
static char *read_line(char *str, int num, void *stream)
{
	struct load_ctx *ctx = stream;
	char *line = fgets(str, num, ctx->fp);

	if (line != NULL)
		ctx->lineno++;
	return line;
}

static int on_ini_value(void *user, const char *section, const char *name,
			const char *value)
{
	struct load_ctx *ctx = user;
	int lineno = ctx->lineno;
	struct err e;

	if (ctx->failed)
		return 0;
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct config_key *k = &config_keys[i];

		if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
			continue;
		if (config_set(ctx->cfg, k, value, &e) != 0 ||
		    (k->type == CT_PATH && resolve_path(ctx, k, &e) != 0)) {
			err_set(ctx->err, "%s:%d: %s", ctx->path, lineno, e.msg);
			ctx->failed = 1;
			return 0;
		}
		return 1;
	}
	err_set(ctx->err, "%s:%d: [%s] %s: unknown key", ctx->path, lineno, section, name);
	ctx->failed = 1;
	return 0;
}

int config_load(struct config *cfg, const char *path, struct err *err)
{
	struct load_ctx ctx = { cfg, path, err, 0, NULL, 0, "" };
	int rc;

	if (config_folder(path, ctx.dir, sizeof(ctx.dir), err) != 0)
		return -1;
	ctx.fp = fopen(path, "r");
	if (ctx.fp == NULL)
		return err_set(err, "%s: cannot open: %s", path, strerror(errno));
	rc = ini_parse_stream(read_line, &ctx, on_ini_value, &ctx);
	fclose(ctx.fp);
	if (rc == -2)
		return err_set(err, "%s: out of memory", path);
	if (ctx.failed)
		return -1;
	if (rc > 0)
		return err_set(err, "%s:%d: not an INI line (expected key = value or [section])",
			       path, rc);
	if (cfg->templates_dir[0] == '\0')	/* "dir =": the default */
		config_default_templates_dir(cfg->templates_dir, sizeof(cfg->templates_dir));
	if (cfg->retry_base_delay_ms > cfg->retry_max_delay_ms)
		return err_set(err, "%s: [retry] base_delay must not exceed max_delay", path);
	if (config_check_mqtt(cfg, path, err) != 0)
		return -1;
	{
		struct err e;

		if (config_derive(cfg, &e) != 0)
			return err_set(err, "%s: %s", path, e.msg);
	}
	if (strcmp(cfg->log_level, "debug") && strcmp(cfg->log_level, "info") &&
	    strcmp(cfg->log_level, "warn") && strcmp(cfg->log_level, "error"))
		return err_set(err, "%s: [log] level: must be debug, info, warn or error, got \"%.20s\"",
			       path, cfg->log_level);
	return 0;
}

int config_check_mqtt(const struct config *cfg, const char *path, struct err *err)
{
	struct mqtt_url u;
	struct err e;

	if (cfg->mqtt_url[0] == '\0')
		return 0;
	if (mqtt_url_parse(cfg->mqtt_url, &u, &e) != 0)
		return err_set(err, "%s: [mqtt] url: %s", path, e.msg);
	if (!u.tls && (cfg->mqtt_cafile[0] || cfg->mqtt_capath[0] || cfg->mqtt_certfile[0] ||
		       cfg->mqtt_keyfile[0] || cfg->mqtt_tls_insecure))
		return err_set(err, "%s: [mqtt] cafile, capath, certfile, keyfile, tls_insecure: "
			       "TLS settings need an mqtts:// url (the connection would not be "
			       "encrypted)", path);
	if ((cfg->mqtt_certfile[0] != '\0') != (cfg->mqtt_keyfile[0] != '\0'))
		return err_set(err, "%s: [mqtt] certfile and keyfile: give both or neither", path);
	if (cfg->mqtt_password_file[0] && !cfg->mqtt_username[0])
		return err_set(err, "%s: [mqtt] password_file: needs [mqtt] username", path);
	if (cfg->mqtt_intake_topic[0] &&
	    mosquitto_sub_topic_check(cfg->mqtt_intake_topic) != MOSQ_ERR_SUCCESS)
		return err_set(err, "%s: [mqtt] intake_topic: not a valid MQTT topic filter: \"%.60s\"",
			       path, cfg->mqtt_intake_topic);
	if (cfg->mqtt_events_topic_prefix[0] == '\0' ||
	    mosquitto_pub_topic_check(cfg->mqtt_events_topic_prefix) != MOSQ_ERR_SUCCESS)
		return err_set(err, "%s: [mqtt] events_topic_prefix: must be a topic without "
			       "wildcards, got \"%.60s\"", path, cfg->mqtt_events_topic_prefix);
	return 0;
}

int config_read_secret(const char *file, const char *env_name, char *out,
		       size_t out_len, struct err *err)
{
	size_t n;

	if (file != NULL && file[0] != '\0') {
		FILE *f = fopen(file, "r");

		if (f == NULL)
			return err_set(err, "%s: cannot open: %s", file, strerror(errno));
		if (fgets(out, (int)out_len, f) == NULL) {
			fclose(f);
			return err_set(err, "%s: empty", file);
		}
		fclose(f);
	} else {
		const char *v = env_name ? getenv(env_name) : NULL;

		if (v == NULL || v[0] == '\0')
			return err_set(err, "secret not set: give a file or set %s",
				       env_name ? env_name : "(no variable)");
		if (strlen(v) >= out_len)
			return err_set(err, "%s: longer than %zu bytes", env_name, out_len - 1);
		memcpy(out, v, strlen(v) + 1);
	}
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		out[--n] = '\0';
	if (n == 0)
		return err_set(err, "secret is empty");
	return 0;
}

int config_url_base_len(const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	return (int)n;
}

uint64_t config_reclaim_poll_ms(const struct config *cfg, uint64_t max_ms)
{
	uint64_t every = (uint64_t)cfg->jobs_reclaim_after_ms / 4;

	if (every < 250)
		every = 250;
	return every > max_ms ? max_ms : every;
}
