/* config.h: pregond's settings, from an INI file (inih) over built-in defaults.
 *
 * Every key is one row of a table (section, name, type, default, bounds),
 * as in redis's config.c: the core's rows are in config.c, the keys every
 * channel has are made from the channel table (channel.h), and each
 * provider has a table of its own in its folder (adapters/<provider>/),
 * named by its adapter_ops and stored in a struct of its own inside struct
 * config (config_module_get). config/pregon.conf documents every key with
 * a comment. */
#ifndef PREGON_CONFIG_H
#define PREGON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "duration.h"
#include "err.h"
#include "quiet_hours.h"

#define CONFIG_STR_MAX 512
#define CONFIG_OFFSETS_MAX 32	/* as many as a job may give (job_parse.c) */
/* Room for the providers' own settings (config_module); more is a
 * programming error that config_defaults reports (the unit tests run it). */
#define CONFIG_MODULES_BYTES 8192

enum config_type {
	CONFIG_T_STR,		/* a char[size] */
	CONFIG_T_PATH,		/* a char[size] naming a file or folder: a relative
				 * value read from a config file is taken from that
				 * file's folder (config_load) */
	CONFIG_T_URL,		/* a char[size] holding a URL: a relative
				 * unix:path read from a config file is taken
				 * from that file's folder, as CONFIG_T_PATH */
	CONFIG_T_SECRET,	/* a CONFIG_T_PATH naming a file that holds a
				 * secret, or "credential:NAME", a systemd
				 * credential (config_read_secret); warned about
				 * when others can read it (config_check_secret_modes) */
	CONFIG_T_INT,		/* an int */
	CONFIG_T_INT64,		/* an int64_t */
	CONFIG_T_DURATION,	/* an int64_t of ms, written "250ms", "2s", "5m", ... */
	CONFIG_T_RATE,		/* a double, per second, 0 = unlimited */
	CONFIG_T_BOOL,		/* a bool, written yes/no */
};

/* One key: a row of a table. offset is in the struct the table fills. A
 * bad value is reported as "[section] name: problem" with the bounds. */
struct config_key {
	const char *section;
	const char *name;
	enum config_type type;
	size_t offset;
	size_t size;		/* CONFIG_T_STR: the buffer's size */
	const char *def;	/* default, as it would be written in the file */
	double min, max;	/* bounds of numbers and durations (ms) */
};

/* Rows for a table that fills a struct of type T. */
#define CONFIG_STR(T, sec, key, field, d) \
	{ sec, key, CONFIG_T_STR, offsetof(T, field), sizeof(((T *)0)->field), d, 0, 0 }
#define CONFIG_PATH(T, sec, key, field, d) \
	{ sec, key, CONFIG_T_PATH, offsetof(T, field), sizeof(((T *)0)->field), d, 0, 0 }
#define CONFIG_URL(T, sec, key, field, d) \
	{ sec, key, CONFIG_T_URL, offsetof(T, field), sizeof(((T *)0)->field), d, 0, 0 }
#define CONFIG_SECRET(T, sec, key, field, d) \
	{ sec, key, CONFIG_T_SECRET, offsetof(T, field), sizeof(((T *)0)->field), d, 0, 0 }
#define CONFIG_INT(T, sec, key, field, d, lo, hi) \
	{ sec, key, CONFIG_T_INT, offsetof(T, field), 0, d, lo, hi }
#define CONFIG_INT64(T, sec, key, field, d, lo, hi) \
	{ sec, key, CONFIG_T_INT64, offsetof(T, field), 0, d, lo, hi }
#define CONFIG_DURATION(T, sec, key, field, d, lo, hi) \
	{ sec, key, CONFIG_T_DURATION, offsetof(T, field), 0, d, lo, hi }
#define CONFIG_RATE(T, sec, key, field, d) \
	{ sec, key, CONFIG_T_RATE, offsetof(T, field), 0, d, 0, 1e6 }
#define CONFIG_BOOL(T, sec, key, field, d) \
	{ sec, key, CONFIG_T_BOOL, offsetof(T, field), 0, d, 0, 0 }

/* A module's own keys (a provider's: adapter_ops.config), filling a struct
 * of the module's own of `size` bytes. Two modules may name the same key
 * (two providers of one channel): a value then goes to both. */
struct config_module {
	const char *name;		/* "twilio" */
	const struct config_key *keys;
	size_t n_keys;
	size_t size;
};

/* n_keys of a static table. */
#define CONFIG_KEYS(table) (sizeof(table) / sizeof((table)[0]))

/* The keys every channel has: [sms], [email], [signal] (channel.h names
 * the channels and gives their defaults). */
struct channel_config {
	char provider[32];		/* the adapter (adapters/registry.c) */
	double rate;			/* per second, shared by all instances; 0: none */
	int burst;			/* 0: a tenth of a second's worth */
	int concurrency;		/* messages held in flight by this instance */
	char help_text[CONFIG_STR_MAX];	/* the answer to HELP ("" where no key) */
	int64_t help_interval_ms;	/* HELP answered at most once per address in it */
};

struct config {
	/* [redis] */
	char redis_url[CONFIG_STR_MAX];		/* redis://host:port/db or unix:/path */
	char redis_prefix[64];			/* "pregon:" */
	char redis_consumer[128];		/* default: host name and pid */
	char redis_username[256];		/* Redis 6+ ACL user; "" = none (default) */
	char redis_password_file[CONFIG_STR_MAX];	/* else $PREGON_REDIS_PASSWORD */
	int64_t redis_connect_timeout_ms;
	int64_t redis_command_timeout_ms;

	/* [log] */
	char log_level[16];			/* debug, info, warn, error */
	char log_file[CONFIG_STR_MAX];		/* empty: stderr */

	/* [http] */
	char http_listen[128];
	char http_tokens_file[CONFIG_STR_MAX];
	char http_public_url[CONFIG_STR_MAX];
	int64_t http_request_timeout_ms;	/* headers and body together */
	int http_max_connections;
	int http_max_per_peer;			/* connections per address (IPv6 /64) */
	int64_t http_max_body;

	/* [mqtt] */
	char mqtt_url[CONFIG_STR_MAX];
	char mqtt_client_id[128];
	char mqtt_intake_topic[256];
	char mqtt_events_topic_prefix[256];
	char mqtt_username[256];
	char mqtt_password_file[CONFIG_STR_MAX];	/* else $PREGON_MQTT_PASSWORD */
	char mqtt_cafile[CONFIG_STR_MAX];	/* mqtts: CA to verify the broker */
	char mqtt_capath[CONFIG_STR_MAX];
	char mqtt_certfile[CONFIG_STR_MAX];	/* client certificate, with keyfile */
	char mqtt_keyfile[CONFIG_STR_MAX];
	bool mqtt_tls_insecure;			/* skip the host name check (tests only) */
	int64_t mqtt_keepalive_ms;

	/* [sms], [email], [signal]: provider, rate, burst, concurrency, help_text */
	struct channel_config channel[CHANNEL_COUNT];

	/* [schedule] */
	char schedule_quiet_hours[32];
	char schedule_default_tz[64];
	int64_t schedule_tick_ms;
	bool schedule_test_clock;		/* tests only: include/clock.h */
	struct quiet_hours quiet;		/* quiet_hours, parsed */

	/* [court_reminder] */
	char court_reminder_offsets[256];
	bool court_reminder_confirm_on_enrol;
	struct duration court_offsets[CONFIG_OFFSETS_MAX];	/* offsets, parsed */
	int n_court_offsets;

	/* [email] (the provider's own keys are in its table) */
	char email_from[256];			/* "Name <a@b>" or "a@b" */

	/* [townhall] */
	char townhall_reminders[256];
	bool townhall_track_join;		/* join links through public_url/j/<token> */
	struct duration townhall_offsets[CONFIG_OFFSETS_MAX];	/* reminders, parsed */
	int n_townhall_offsets;

	/* [retry] */
	int retry_max_attempts;
	int64_t retry_base_delay_ms;
	int64_t retry_max_delay_ms;

	/* [templates] */
	char templates_dir[CONFIG_STR_MAX];	/* default: config_default_templates_dir() */
	char templates_default_lang[16];
	char templates_sender[64];	/* the organization's name, a variable of every template */

	/* [alerts] */
	int64_t alerts_reply_window_ms;		/* a reply answers the latest alert within it */
	int alerts_expand_batch;		/* recipients per expansion step */
	int64_t alerts_urgent_scan_ms;		/* how often a jobs backlog is scanned for urgent alerts */

	/* [jobs] */
	int jobs_dedupe_days;
	int64_t jobs_max_bytes;
	int64_t jobs_reclaim_after_ms;
	int jobs_batch;

	/* [events] */
	int64_t events_max_len;
	int events_retention_days;

	/* [shutdown] */
	int64_t shutdown_grace_ms;

	/* [inbound] */
	char inbound_spool[CONFIG_STR_MAX];	/* webhooks Redis could not take (spool.h) */
	int64_t inbound_spool_max;		/* bytes of them held at once */

	/* The providers' settings, one struct per config_module (see
	 * config_module_get). */
	_Alignas(16) unsigned char modules[CONFIG_MODULES_BYTES];
};

/* A module's settings in cfg (a struct of mod->size bytes), or NULL when
 * mod is not one of the providers' (adapter_config_at). */
const void *config_module_get(const struct config *cfg, const struct config_module *mod);

/* The value of string key [section] name, wherever its table keeps it, or
 * NULL when there is no such string key (for tests and tools). */
const char *config_str(const struct config *cfg, const char *section, const char *name);

/* Fills cfg with the defaults. */
void config_defaults(struct config *cfg);

/* Writes the folder of templates used when [templates] dir is not set (or
 * is empty): the installed PREFIX/share/pregon/templates or, for a build
 * run from the checkout, its config/templates (the order is explained in
 * config.c). */
void config_default_templates_dir(char *out, size_t out_len);

/* Loads path over the defaults. Returns 0, or -1 with err like
 * "pregon.conf:41: [retry] max_attempts: must be 1..100, got 0".
 * A relative value of a path-valued key (log file, tokens, secrets, TLS
 * files, templates and outbox dirs) is taken from the folder of path and
 * stored absolute; defaults not set in the file stay as they are. */
int config_load(struct config *cfg, const char *path, struct err *err);

/* Checks the [mqtt] section as a whole (url, TLS files given together,
 * topics well formed). Called by config_load; err reads
 * "PATH: [mqtt] KEY: problem". */
int config_check_mqtt(const struct config *cfg, const char *path, struct err *err);

/* Parses "250ms", "2s", "5m", "1h", "7d", or a bare number of seconds
 * (fraction allowed) into milliseconds. */
int config_parse_duration_ms(const char *s, int64_t *ms, struct err *err);

/* The length of url without its trailing '/'s, so that a path can be
 * appended ("https://api.twilio.com/" + "/2010-04-01/..."). Webhook
 * signatures depend on the URL being built the same way everywhere. */
int config_url_base_len(const char *url);

/* How often a consumer looks for entries a silent instance left pending:
 * a quarter of [jobs] reclaim_after, between 250 ms and max_ms. */
uint64_t config_reclaim_poll_ms(const struct config *cfg, uint64_t max_ms);

/* The prefix of a secret key's value that names a systemd credential:
 * "credential:twilio" is $CREDENTIALS_DIRECTORY/twilio (systemd.exec(5),
 * LoadCredential=; ops/pregond.service). */
#define CONFIG_CREDENTIAL_PREFIX "credential:"

/* Writes the file a secret key's value names into out: the value itself,
 * or for "credential:NAME" the credential's file, $CREDENTIALS_DIRECTORY/NAME
 * or, when that is not set (the pregon CLI run by hand), the first of
 * /etc/credstore, /run/credstore, /usr/lib/credstore that holds NAME, as
 * systemd searches them. Returns 0, or -1 with err ("credential:NAME:
 * ...") when the name is not a plain file name or is found nowhere. */
int config_secret_path(const char *value, char *out, size_t out_len, struct err *err);

/* Reads a secret from a *_file key's file (its first line, trailing blanks
 * and line end removed; "credential:NAME" as config_secret_path), else
 * from the environment variable env_name. A secret that does not fit in
 * out_len - 1 bytes is an error, never cut. Returns 0 or -1 with err (the
 * caller prefixes the key); out is NUL-terminated. The error never quotes
 * the secret. */
int config_read_secret(const char *file, const char *env_name, char *out,
		       size_t out_len, struct err *err);

/* Called with each warning of config_check_secret_modes. */
typedef void (*config_warn_cb)(const char *msg, void *arg);

/* Checks every secret key that names a file (CONFIG_T_SECRET: [redis]
 * password_file, [http] tokens_file, [mqtt] password_file, [sms]
 * auth_token_file, [email] password_file): one warning per file its group
 * or others may read ("[sms] auth_token_file: readable by group or others
 * (mode 0644): ..."), naming the key, never the content. Returns how
 * many warnings were given. A file that cannot be found is left to the
 * key's reader, which reports it. */
int config_check_secret_modes(const struct config *cfg, config_warn_cb warn, void *arg);

#endif
