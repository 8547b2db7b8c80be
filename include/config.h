/* config.h: pregond's settings, from an INI file (inih) over built-in defaults.
 *
 * Every key is one row in the table in config.c (section, name, type,
 * default, bounds); config/pregon.conf documents each with a comment. */
#ifndef PREGON_CONFIG_H
#define PREGON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duration.h"
#include "err.h"
#include "quiet_hours.h"

#define CONFIG_STR_MAX 512
#define CONFIG_OFFSETS_MAX 32	/* as many as a job may give (job_parse.c) */

struct config {
	/* [redis] */
	char redis_url[CONFIG_STR_MAX];		/* redis://host:port/db or unix:/path */
	char redis_prefix[64];			/* "pregon:" */
	char redis_consumer[128];		/* default: host name and pid */
	int64_t redis_connect_timeout_ms;
	int64_t redis_command_timeout_ms;

	/* [log] */
	char log_level[16];			/* debug, info, warn, error */
	char log_file[CONFIG_STR_MAX];		/* empty: stderr */

	/* [http] */
	char http_listen[128];
	char http_tokens_file[CONFIG_STR_MAX];
	char http_public_url[CONFIG_STR_MAX];
	int64_t http_header_timeout_ms;		/* and between body reads */
	int http_max_connections;
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

	/* [sms] */
	char sms_provider[32];
	char sms_base_url[CONFIG_STR_MAX];
	char sms_account_sid[128];
	char sms_auth_token_file[CONFIG_STR_MAX];
	char sms_from[64];
	char sms_messaging_service_sid[128];
	double sms_rate;
	int sms_burst;				/* 0: a tenth of a second's worth */
	int64_t sms_timeout_ms;			/* one provider request, in total */
	int sms_breaker_failures;		/* failures in a row that open the breaker */
	int64_t sms_breaker_cooldown_ms;	/* before a probe is let through */
	char sms_help_text[CONFIG_STR_MAX];
	int sms_concurrency;

	/* [email] */
	char email_provider[32];
	char email_url[CONFIG_STR_MAX];
	char email_from[256];
	char email_username[256];
	char email_password_file[CONFIG_STR_MAX];
	double email_rate;
	int email_burst;
	int email_concurrency;

	/* [signal] */
	char signal_provider[32];
	char signal_url[CONFIG_STR_MAX];
	char signal_account[64];
	double signal_rate;
	int signal_burst;
	int signal_concurrency;

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

	/* [retry] */
	int retry_max_attempts;
	int64_t retry_base_delay_ms;
	int64_t retry_max_delay_ms;

	/* [templates] */
	char templates_dir[CONFIG_STR_MAX];	/* default: config_default_templates_dir() */
	char templates_default_lang[16];

	/* [alerts] */
	int64_t alerts_reply_window_ms;		/* a reply answers the latest alert within it */
	int alerts_expand_batch;		/* recipients per expansion step */
	int64_t alerts_urgent_scan_ms;		/* how often a jobs backlog is scanned for urgent alerts */

	/* [outbox] */
	char outbox_dir[CONFIG_STR_MAX];

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
};

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

/* Reads a secret from a *_file key's file (first line, trimmed), else from
 * the environment variable env_name. Returns 0 or -1; out is NUL-terminated. */
int config_read_secret(const char *file, const char *env_name, char *out,
		       size_t out_len, struct err *err);

#endif
