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

#include "adapter.h"
#include "mqtt_url.h"
#include "tz.h"

#define S(sec, key, field, d) CONFIG_STR(struct config, sec, key, field, d)
#define P(sec, key, field, d) CONFIG_PATH(struct config, sec, key, field, d)
#define U(sec, key, field, d) CONFIG_URL(struct config, sec, key, field, d)
#define K(sec, key, field, d) CONFIG_SECRET(struct config, sec, key, field, d)
#define I(sec, key, field, d, lo, hi) CONFIG_INT(struct config, sec, key, field, d, lo, hi)
#define D(sec, key, field, d, lo, hi) CONFIG_DURATION(struct config, sec, key, field, d, lo, hi)
#define B(sec, key, field, d) CONFIG_BOOL(struct config, sec, key, field, d)
#define N64(sec, key, field, d, lo, hi) CONFIG_INT64(struct config, sec, key, field, d, lo, hi)

/* The core's keys. A provider's are in its folder (adapters/), the keys
 * every channel has below (channel_keys). */
static const struct config_key config_keys[] = {
	U("redis", "url", redis_url, "redis://127.0.0.1:6379/0"),
	S("redis", "prefix", redis_prefix, "pregon:"),
	S("redis", "consumer", redis_consumer, ""),
	S("redis", "username", redis_username, ""),
	K("redis", "password_file", redis_password_file, ""),
	D("redis", "connect_timeout", redis_connect_timeout_ms, "2s", 100, 60000),
	D("redis", "command_timeout", redis_command_timeout_ms, "5s", 100, 300000),

	S("log", "level", log_level, "info"),
	P("log", "file", log_file, ""),

	S("http", "listen", http_listen, "127.0.0.1:8080"),
	K("http", "tokens_file", http_tokens_file, ""),
	S("http", "public_url", http_public_url, "http://127.0.0.1:8080"),
	D("http", "request_timeout", http_request_timeout_ms, "10s", 100, 600000),
	/* The name request_timeout had before issue 12, when it timed the
	 * headers alone: kept so that older configs still load. */
	D("http", "header_timeout", http_request_timeout_ms, "10s", 100, 600000),
	I("http", "max_connections", http_max_connections, "1024", 1, 100000),
	I("http", "max_per_peer", http_max_per_peer, "256", 1, 100000),
	N64("http", "max_body", http_max_body, "1048576", 1024, 67108864),

	S("mqtt", "url", mqtt_url, ""),
	S("mqtt", "client_id", mqtt_client_id, ""),
	S("mqtt", "intake_topic", mqtt_intake_topic, ""),
	S("mqtt", "events_topic_prefix", mqtt_events_topic_prefix, "pregon/events"),
	S("mqtt", "username", mqtt_username, ""),
	K("mqtt", "password_file", mqtt_password_file, ""),
	P("mqtt", "cafile", mqtt_cafile, ""),
	P("mqtt", "capath", mqtt_capath, ""),
	P("mqtt", "certfile", mqtt_certfile, ""),
	P("mqtt", "keyfile", mqtt_keyfile, ""),
	B("mqtt", "tls_insecure", mqtt_tls_insecure, "no"),
	/* libmosquitto takes whole seconds, at least 5 (lib/connect.c). */
	D("mqtt", "keepalive", mqtt_keepalive_ms, "30s", 5000, 65535000),

	S("schedule", "quiet_hours", schedule_quiet_hours, "21:00-08:00"),
	S("schedule", "default_tz", schedule_default_tz, "America/Los_Angeles"),
	D("schedule", "tick", schedule_tick_ms, "100ms", 10, 60000),
	B("schedule", "test_clock", schedule_test_clock, "no"),

	S("court_reminder", "offsets", court_reminder_offsets, "P7D,P3D,P1D,PT3H"),
	B("court_reminder", "confirm_on_enrol", court_reminder_confirm_on_enrol, "yes"),

	/* The sender of every email: the core's, not the provider's, since
	 * the invitation's ORGANIZER and its UID's domain are made from it. */
	S("email", "from", email_from, ""),

	S("townhall", "reminders", townhall_reminders, "P1D,PT1H"),
	B("townhall", "track_join", townhall_track_join, "yes"),

	I("retry", "max_attempts", retry_max_attempts, "5", 1, 100),
	D("retry", "base_delay", retry_base_delay_ms, "2s", 1, 86400000),
	D("retry", "max_delay", retry_max_delay_ms, "10m", 1, 7 * 86400000.0),

	/* "": found at start, config_default_templates_dir (config.h). */
	P("templates", "dir", templates_dir, ""),
	S("templates", "default_lang", templates_default_lang, "en"),
	/* Checked by templates_load (one line, at most TEMPLATES_SENDER_MAX). */
	S("templates", "sender", templates_sender, ""),

	D("alerts", "reply_window", alerts_reply_window_ms, "24h", 1000, 30 * 86400000.0),
	I("alerts", "expand_batch", alerts_expand_batch, "500", 10, 10000),
	D("alerts", "urgent_scan", alerts_urgent_scan_ms, "20ms", 5, 10000),

	I("jobs", "dedupe_days", jobs_dedupe_days, "30", 1, 3650),
	N64("jobs", "max_bytes", jobs_max_bytes, "65536", 256, 16777216),
	D("jobs", "reclaim_after", jobs_reclaim_after_ms, "60", 100, 86400000),
	I("jobs", "batch", jobs_batch, "64", 1, 1000),

	N64("events", "max_len", events_max_len, "1000000", 1000, 1e10),
	I("events", "retention_days", events_retention_days, "30", 1, 3650),

	D("shutdown", "grace", shutdown_grace_ms, "10s", 0, 600000),

	/* Relative: from the working directory (the unit's StateDirectory). */
	P("inbound", "spool", inbound_spool, "var/spool/inbound.spool"),
	N64("inbound", "spool_max", inbound_spool_max, "67108864", 65536, 1073741824),
};

#define N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* The keys of every channel, in each channel's section, stored in its
 * struct channel_config; a NULL default comes from the channel's row in
 * channel.c. help_text and help_interval exist where the row gives
 * help_text a default. */
static const struct config_key channel_keys[] = {
	CONFIG_STR(struct channel_config, NULL, "provider", provider, NULL),
	CONFIG_RATE(struct channel_config, NULL, "rate", rate, "0"),
	CONFIG_INT(struct channel_config, NULL, "burst", burst, "0", 0, 100000),
	CONFIG_INT(struct channel_config, NULL, "concurrency", concurrency, NULL, 1, 4096),
	CONFIG_STR(struct channel_config, NULL, "help_text", help_text, NULL),
	/* 1 s .. 30 days */
	CONFIG_DURATION(struct channel_config, NULL, "help_interval", help_interval_ms, NULL, 1000,
			2592000000.0),
};

#define N_CHANNEL_KEYS (sizeof(channel_keys) / sizeof(channel_keys[0]))

/* One key of one table, and where its value lives. */
struct key_ref {
	const char *section;
	const struct config_key *k;
	void *base;		/* the struct the key's offset is in */
	const char *def;
};

/* The default of channel key k, or NULL when the channel has no such key. */
static const char *channel_default(enum channel c, const struct config_key *k)
{
	const struct channel_info *info = channel_info(c);

	if (k->def != NULL)
		return k->def;
	if (strcmp(k->name, "provider") == 0)
		return info->provider;
	if (strcmp(k->name, "concurrency") == 0)
		return info->concurrency;
	/* A channel that answers HELP limits how often (inbound.h). */
	if (strcmp(k->name, "help_interval") == 0)
		return info->help_text != NULL ? "24h" : NULL;
	return info->help_text;
}

/* Where each provider's settings start in cfg->modules: one after the
 * other in the order of adapter_config_at, each aligned. Returns the
 * offset of mod, or the bytes all of them take when mod is NULL; -1 when
 * mod is not one of them. */
static long module_offset(const struct config_module *mod)
{
	const struct config_module *m;
	size_t off = 0;

	for (size_t i = 0; (m = adapter_config_at(i)) != NULL; i++) {
		if (m == mod)
			return (long)off;
		off += (m->size + 15) / 16 * 16;
	}
	return mod == NULL ? (long)off : -1;
}

const void *config_module_get(const struct config *cfg, const struct config_module *mod)
{
	long off = module_offset(mod);

	return mod == NULL || off < 0 ? NULL : cfg->modules + off;
}

/* Calls fn for every key of every table (config.c's own, each channel's,
 * each provider's) until it returns nonzero, which is returned. */
static int each_key(struct config *cfg, int (*fn)(const struct key_ref *ref, void *arg), void *arg)
{
	const struct config_module *m;
	int rc;

	for (size_t i = 0; i < N_KEYS; i++) {
		struct key_ref ref = { config_keys[i].section, &config_keys[i], cfg,
				       config_keys[i].def };

		if ((rc = fn(&ref, arg)) != 0)
			return rc;
	}
	for (int c = 0; c < CHANNEL_COUNT; c++)
		for (size_t i = 0; i < N_CHANNEL_KEYS; i++) {
			struct key_ref ref = { channel_name((enum channel)c), &channel_keys[i],
					       &cfg->channel[c],
					       channel_default((enum channel)c, &channel_keys[i]) };

			if (ref.def == NULL)
				continue;	/* not a key of this channel */
			if ((rc = fn(&ref, arg)) != 0)
				return rc;
		}
	for (size_t i = 0; (m = adapter_config_at(i)) != NULL; i++) {
		unsigned char *base = cfg->modules + module_offset(m);

		for (size_t j = 0; j < m->n_keys; j++) {
			struct key_ref ref = { m->keys[j].section, &m->keys[j], base, m->keys[j].def };

			if ((rc = fn(&ref, arg)) != 0)
				return rc;
		}
	}
	return 0;
}

struct str_lookup {
	const char *section, *name;
	const char *value;
};

static int find_str(const struct key_ref *ref, void *arg)
{
	struct str_lookup *l = arg;

	if ((ref->k->type != CONFIG_T_STR && ref->k->type != CONFIG_T_PATH &&
	     ref->k->type != CONFIG_T_URL && ref->k->type != CONFIG_T_SECRET) ||
	    strcmp(ref->section, l->section) != 0 ||
	    strcmp(ref->k->name, l->name) != 0)
		return 0;
	l->value = (const char *)ref->base + ref->k->offset;
	return 1;
}

const char *config_str(const struct config *cfg, const char *section, const char *name)
{
	struct str_lookup l = { section, name, NULL };

	/* each_key only reads through cfg here. */
	each_key((struct config *)cfg, find_str, &l);
	return l.value;
}

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
static int config_set(const struct key_ref *ref, const char *value, struct err *err)
{
	const struct config_key *k = ref->k;
	const char *section = ref->section;
	char *base = (char *)ref->base + k->offset;
	double num;
	int64_t ms;

	switch (k->type) {
	case CONFIG_T_STR:
	case CONFIG_T_PATH:
	case CONFIG_T_URL:
	case CONFIG_T_SECRET:
		if (strlen(value) >= k->size)
			return err_set(err, "[%s] %s: longer than %zu bytes", section,
				       k->name, k->size - 1);
		memcpy(base, value, strlen(value) + 1);
		return 0;
	case CONFIG_T_INT:
	case CONFIG_T_INT64:
		if (parse_number(value, &num) != 0 || num != (double)(long long)num)
			return err_set(err, "[%s] %s: not an integer: \"%.40s\"", section,
				       k->name, value);
		if (num < k->min || num > k->max)
			return err_set(err, "[%s] %s: must be %.0f..%.0f, got %.0f", section,
				       k->name, k->min, k->max, num);
		if (k->type == CONFIG_T_INT)
			*(int *)base = (int)num;
		else
			*(int64_t *)base = (int64_t)num;
		return 0;
	case CONFIG_T_RATE:
		if (parse_number(value, &num) != 0 || num < 0 || num > k->max)
			return err_set(err, "[%s] %s: must be a rate 0..%.0f per second (0 = unlimited), got \"%.40s\"",
				       section, k->name, k->max, value);
		*(double *)base = num;
		return 0;
	case CONFIG_T_DURATION:
		if (config_parse_duration_ms(value, &ms, NULL) != 0) {
			return err_set(err, "[%s] %s: not a duration (e.g. 250ms, 2s, 5m, 1h, 7d): \"%.40s\"",
				       section, k->name, value);
		}
		if ((double)ms < k->min || (double)ms > k->max)
			return err_set(err, "[%s] %s: must be between %.0fms and %.0fms, got %s",
				       section, k->name, k->min, k->max, value);
		*(int64_t *)base = ms;
		return 0;
	case CONFIG_T_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
		    strcmp(value, "on") == 0 || strcmp(value, "1") == 0)
			*(bool *)base = true;
		else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 ||
			 strcmp(value, "off") == 0 || strcmp(value, "0") == 0)
			*(bool *)base = false;
		else
			return err_set(err, "[%s] %s: must be yes or no, got \"%.40s\"", section,
				       k->name, value);
		return 0;
	}
	return err_set(err, "[%s] %s: unknown type", section, k->name);
}

/* "P7D,P3D,P1D,PT3H": one to CONFIG_OFFSETS_MAX ISO-8601 durations (empty
 * items are skipped; P0D, a reminder at the appearance itself, is allowed).
 * key is "[court_reminder] offsets" or "[townhall] reminders", for errors. */
static int parse_offsets(const char *text, const char *key, struct duration *out, int *n_out,
			 struct err *err)
{
	char buf[256], *save = NULL, *tok;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		struct err e;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		for (size_t len = strlen(tok); len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t');)
			tok[--len] = '\0';
		if (n == CONFIG_OFFSETS_MAX)
			return err_set(err, "%s: more than %d", key, CONFIG_OFFSETS_MAX);
		if (duration_parse_iso8601(tok, &out[n], &e) != 0)
			return err_set(err, "%s: \"%.40s\": %s", key, tok, e.msg);
		n++;
	}
	if (n == 0)
		return err_set(err, "%s: give at least one duration, e.g. P1D", key);
	*n_out = n;
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
	if (parse_offsets(cfg->court_reminder_offsets, "[court_reminder] offsets",
			  cfg->court_offsets, &cfg->n_court_offsets, err) != 0)
		return -1;
	return parse_offsets(cfg->townhall_reminders, "[townhall] reminders", cfg->townhall_offsets,
			     &cfg->n_townhall_offsets, err);
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

static int set_default(const struct key_ref *ref, void *err)
{
	return config_set(ref, ref->def, err) != 0;
}

void config_defaults(struct config *cfg)
{
	struct err err;
	char host[64] = "pregond";

	memset(cfg, 0, sizeof(*cfg));
	if (module_offset(NULL) > (long)sizeof(cfg->modules)) {
		fprintf(stderr, "config default: the providers' settings take %ld bytes, "
			"over CONFIG_MODULES_BYTES\n", module_offset(NULL));
		abort();
	}
	if (each_key(cfg, set_default, &err) != 0) {
		/* A bad default is a programming error caught by the unit tests. */
		fprintf(stderr, "config default: %s\n", err.msg);
		abort();
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

/* A relative path-valued key (CONFIG_T_PATH) is taken from the config file's
 * folder, so that a config names its neighbours (templates/, tokens) the
 * same wherever pregond is started from. */
static int resolve_path(const struct load_ctx *ctx, const struct key_ref *ref, struct err *err)
{
	const struct config_key *k = ref->k;
	char *base = (char *)ref->base + k->offset;
	char *path = base;
	char joined[2 * CONFIG_STR_MAX];
	int n;

	/* A URL's only path is a unix socket's (unix:run/redis.sock); the
	 * scheme stays in front of the joined path. */
	if (k->type == CONFIG_T_URL) {
		if (strncmp(base, "unix:", 5) != 0)
			return 0;
		path = base + 5;
	}
	/* A systemd credential is found at run time (config_secret_path). */
	if (k->type == CONFIG_T_SECRET &&
	    strncmp(base, CONFIG_CREDENTIAL_PREFIX, strlen(CONFIG_CREDENTIAL_PREFIX)) == 0)
		return 0;
	if (path[0] == '\0' || path[0] == '/')
		return 0;
	n = snprintf(joined, sizeof(joined), "%.*s%s/%s", (int)(path - base), base, ctx->dir,
		     path);
	if (n < 0 || (size_t)n >= k->size)
		return err_set(err, "[%s] %s: longer than %zu bytes once taken from the config "
			       "file's folder %s", ref->section, k->name, k->size - 1, ctx->dir);
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

/* One line of the file: its value goes to every key of that name (two
 * providers may read the same key). */
struct ini_value {
	const char *section, *name, *value;
	int found;
	struct err e;
	const struct load_ctx *ctx;	/* for the file's folder (resolve_path) */
};

static int set_value(const struct key_ref *ref, void *arg)
{
	struct ini_value *v = arg;

	if (strcmp(ref->section, v->section) != 0 || strcmp(ref->k->name, v->name) != 0)
		return 0;
	v->found = 1;
	if (config_set(ref, v->value, &v->e) != 0)
		return 1;
	return (ref->k->type == CONFIG_T_PATH || ref->k->type == CONFIG_T_URL ||
		ref->k->type == CONFIG_T_SECRET) &&
	       resolve_path(v->ctx, ref, &v->e) != 0;
}

static int on_ini_value(void *user, const char *section, const char *name,
			const char *value)
{
	struct load_ctx *ctx = user;
	struct ini_value v = { section, name, value, 0, { "" }, ctx };

	if (ctx->failed)
		return 0;
	if (each_key(ctx->cfg, set_value, &v) != 0) {
		err_set(ctx->err, "%s:%d: %s", ctx->path, ctx->lineno, v.e.msg);
		ctx->failed = 1;
		return 0;
	}
	if (v.found)
		return 1;
	err_set(ctx->err, "%s:%d: [%s] %s: unknown key", ctx->path, ctx->lineno, section, name);
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

int config_secret_path(const char *value, char *out, size_t out_len, struct err *err)
{
	size_t plen = strlen(CONFIG_CREDENTIAL_PREFIX);
	const char *name, *dir;
	int n;

	if (strncmp(value, CONFIG_CREDENTIAL_PREFIX, plen) != 0) {
		n = snprintf(out, out_len, "%s", value);
		return n < 0 || (size_t)n >= out_len ? err_set(err, "path longer than %zu bytes",
							       out_len - 1) : 0;
	}
	name = value + plen;
	/* systemd names a credential like a file in one folder: no '/'
	 * (systemd.exec(5), LoadCredential=ID:PATH). */
	if (name[0] == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return err_set(err, "%s%.64s: a credential is a plain name (LoadCredential=NAME:PATH)",
			       CONFIG_CREDENTIAL_PREFIX, name);
	dir = getenv("CREDENTIALS_DIRECTORY");
	if (dir == NULL || dir[0] == '\0') {
		/* Not under systemd (pregon run by an operator): where systemd
		 * itself looks for LoadCredential=NAME, in its order
		 * (systemd.exec(5)); readable by root only, as it should be. */
		static const char *const credstore[] = {
			"/etc/credstore", "/run/credstore", "/usr/lib/credstore",
		};

		for (size_t i = 0; i < sizeof(credstore) / sizeof(credstore[0]); i++) {
			n = snprintf(out, out_len, "%s/%s", credstore[i], name);
			if (n > 0 && (size_t)n < out_len && access(out, F_OK) == 0)
				return 0;
		}
		return err_set(err, "%s%.64s: $CREDENTIALS_DIRECTORY is not set (pregond runs "
			       "under systemd with LoadCredential=%.64s) and no /etc/credstore, "
			       "/run/credstore or /usr/lib/credstore holds it",
			       CONFIG_CREDENTIAL_PREFIX, name, name);
	}
	n = snprintf(out, out_len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= out_len)
		return err_set(err, "%s%.64s: path longer than %zu bytes", CONFIG_CREDENTIAL_PREFIX,
			       name, out_len - 1);
	return 0;
}

/* Reads the first line of file into out. The rest of a line that does not
 * fit must be blanks, else the secret is too long: fgets alone would cut
 * it silently, and a cut token fails far from its cause (a 401 from the
 * provider) or, worse, a cut password still matches a shorter one. */
static int read_secret_file(const char *value, char *out, size_t out_len, struct err *err)
{
	char path[CONFIG_STR_MAX + 256];
	FILE *f;
	int c;

	if (config_secret_path(value, path, sizeof(path), err) != 0)
		return -1;
	f = fopen(path, "r");
	if (f == NULL)
		return err_set(err, "%s: cannot open: %s", path, strerror(errno));
	if (fgets(out, (int)out_len, f) == NULL) {
		fclose(f);
		return err_set(err, "%s: empty", path);
	}
	if (strchr(out, '\n') == NULL) {
		while ((c = fgetc(f)) != EOF && c != '\n') {
			if (c != ' ' && c != '\t' && c != '\r') {
				fclose(f);
				out[0] = '\0';
				return err_set(err, "%s: the secret is longer than %zu bytes", path,
					       out_len - 1);
			}
		}
	}
	fclose(f);
	return 0;
}

int config_read_secret(const char *file, const char *env_name, char *out,
		       size_t out_len, struct err *err)
{
	size_t n;

	if (file != NULL && file[0] != '\0') {
		if (read_secret_file(file, out, out_len, err) != 0)
			return -1;
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
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' ||
			 out[n - 1] == '\t'))
		out[--n] = '\0';
	if (n == 0)
		return err_set(err, "secret is empty");
	return 0;
}

struct mode_check {
	config_warn_cb warn;
	void *arg;
	int warned;
};

/* One secret key: a file its group or others may read is warned about.
 * The owner's own reading is what the key is for; the group is warned
 * about too, since a shared group (adm, a deploy group) reaches further
 * than the one service, and systemd's LoadCredential= gives pregond a
 * private copy instead (README, "Installing"). */
static int check_secret_mode(const struct key_ref *ref, void *arg)
{
	struct mode_check *mc = arg;
	const char *value = (const char *)ref->base + ref->k->offset;
	char path[CONFIG_STR_MAX + 256], msg[ERR_MSG_MAX];
	struct stat st;
	struct err e;

	if (ref->k->type != CONFIG_T_SECRET || value[0] == '\0')
		return 0;
	if (config_secret_path(value, path, sizeof(path), &e) != 0 || stat(path, &st) != 0)
		return 0;	/* the key's reader reports it */
	if ((st.st_mode & (S_IRGRP | S_IROTH)) == 0)
		return 0;
	snprintf(msg, sizeof(msg), "[%s] %s: the file is readable by %s (mode %04o): chmod 600 "
		 "it, owned by the user pregond runs as, or pass it as a systemd credential "
		 "(credential:NAME)", ref->section, ref->k->name,
		 (st.st_mode & S_IROTH) ? "everyone" : "its group", (unsigned)(st.st_mode & 07777));
	mc->warn(msg, mc->arg);
	mc->warned++;
	return 0;
}

int config_check_secret_modes(const struct config *cfg, config_warn_cb warn, void *arg)
{
	struct mode_check mc = { warn, arg, 0 };

	/* each_key only reads through cfg here. */
	each_key((struct config *)cfg, check_secret_mode, &mc);
	return mc.warned;
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
