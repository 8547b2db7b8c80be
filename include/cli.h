/* cli.h: the operator tool `pregon` (CONTRACT.md section 5), shared by
 * src/pregon.c (arguments, help, dispatch) and src/cli_*.c (one file per
 * command, cli_common.c for what they share).
 *
 * The CLI talks to Redis with hiredis's synchronous API: a CLI may block,
 * and every connect and command has a deadline ([redis] connect_timeout
 * and command_timeout) so a wedged server cannot hang a script forever.
 *
 * Output rule: nothing printed may contain a phone number or an email
 * address, except `pregon dead show` (the operator asks for the stored job
 * on purpose) and `pregon contacts export` (the CSV is the contacts, for
 * the CRM round trip). `contacts import` reports bad rows without the
 * cell's value for phone, email and signal, except to the operator's own
 * terminal (stderr a TTY: their own file, on their own screen; issue 13,
 * item 16), and `optout add|remove` errors quote the address the operator
 * typed. Events carry contact ids
 * only (contract section 3); reasons and ids that come from producers'
 * jobs go through cli_clean_line().
 *
 * Exit status: 0 success, 1 failure, 2 usage error or not implemented. */
#ifndef PREGON_CLI_H
#define PREGON_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "err.h"
#include "job.h"
#include "redis_lib.h"

#define CLI_EXIT_USAGE 2
#define CLI_KEY_MAX (64 + 16 + JOB_ID_MAX)	/* prefix + "job:" + id */
#define CLI_STREAM_ID_MAX 48			/* "18446744073709551615-18446744073709551615" */

/* One invocation's state. */
struct cli {
	struct config cfg;
	redisContext *rc;	/* NULL until cli_connect() */
	struct err err;		/* the one-line reason when a step fails */
	int exit_code;		/* set with err: 1 failure, 2 usage */
	struct redis_lib lib;	/* the common arguments of library calls */
	bool lib_ready;		/* lib filled from cfg */
};

/* Options after the command name; each command accepts a subset. */
enum cli_opt {
	CLI_OPT_JSON = 1 << 0,
	CLI_OPT_JOB = 1 << 1,
	CLI_OPT_FROM = 1 << 2,
	CLI_OPT_ALL = 1 << 3,
	CLI_OPT_COUNT = 1 << 4,
	CLI_OPT_LIST = 1 << 5,
	CLI_OPT_LAST = 1 << 6,		/* tail -n N */
	CLI_OPT_NO_FOLLOW = 1 << 7,	/* tail --no-follow */
	CLI_OPT_DRY_RUN = 1 << 8,	/* contacts import --dry-run */
	CLI_OPT_COUNTRY = 1 << 9,	/* contacts import --default-country CC */
	CLI_OPT_WATCH = 1 << 10,	/* status --watch */
	CLI_OPT_STRICT = 1 << 11,	/* send --strict */
	CLI_OPT_EVENT = 1 << 12,	/* status --event REF */
};

#define CLI_MAX_POS 5
/* tail -n: history is gathered in memory before it is printed (oldest
 * first), so it is bounded. */
#define CLI_TAIL_LAST_MAX 100000

struct cli_args {
	const char *config;	/* -c FILE */
	bool json;		/* --json */
	bool all;		/* --all */
	bool strict;		/* --strict: send refuses unknown fields */
	const char *job;	/* --job ID */
	const char *from;	/* --from ID */
	long long count;	/* --count N, 0 = not given */
	const char *list;	/* --list NAME */
	long long last;		/* -n N: history first, 0 = not given */
	bool no_follow;		/* --no-follow */
	bool dry_run;		/* --dry-run */
	const char *country;	/* --default-country CC */
	bool watch;		/* --watch */
	const char *event;	/* status --event REF */
	const char *pos[CLI_MAX_POS];	/* positionals, subcommand first */
	int npos;
};

/* The commands. Each returns 0, or -1 with c->err and c->exit_code set. */
int cli_send(struct cli *c, const struct cli_args *a);
int cli_status(struct cli *c, const struct cli_args *a);
int cli_tail(struct cli *c, const struct cli_args *a);
int cli_dead(struct cli *c, const struct cli_args *a);
int cli_optout(struct cli *c, const struct cli_args *a);
int cli_contacts(struct cli *c, const struct cli_args *a);
int cli_template(struct cli *c, const struct cli_args *a);
int cli_lists(struct cli *c, const struct cli_args *a);
/* cli_signal.c: `signal trust ADDRESS` (the native Signal transport). */
int cli_signal(struct cli *c, const struct cli_args *a);
/* cli_event.c: `status --event REF`, a town hall's figures. */
int cli_status_event(struct cli *c, const struct cli_args *a, const char *ref);
/* The same for any caller (status of a registration shows its event's). */
int cli_event_show(struct cli *c, const char *ref, bool json);

/* cli_status_why.c: what `status` says beyond counts. cli_status_absent
 * answers for a job with no record (queued, rejected, or "no such job":
 * 0 when it printed, -1 with the failure; *queued when it waits); cli_status_readers_note fills
 * out with a line when no pregond has read the queue for a while (else
 * ""); cli_status_why says why a message waits and when it goes. */
int cli_status_absent(struct cli *c, const char *id, bool json, bool *queued);
int cli_status_readers_note(struct cli *c, char *out, size_t out_len);
void cli_status_why(const struct cli *c, const char *kind, const char *status,
		    long long attempt, const char *error, const char *why, const char *zone,
		    long long due_ms, long long updated_ms, long long expires_ms, char *label,
		    size_t label_len, char *out, size_t out_len);

/* Messages that failed or wait for a retry, grouped by status and reason
 * with counts (cli_status_reasons: the messages of one job, at most
 * 100,000 read). */
#define STATUS_REASONS 16
#define STATUS_REASON_MAX 256
struct status_reasons {
	struct status_reason {
		char status[16];	/* failed, undelivered, suppressed, expired, retrying */
		char reason[STATUS_REASON_MAX];	/* the message's error, cleaned */
		long long n;
	} group[STATUS_REASONS];
	size_t n;
	long long other;	/* in groups past STATUS_REASONS */
	long long retrying;	/* scheduled after a failed attempt */
	long long last_update;	/* Unix ms of the latest change of any, 0: none */
};
int cli_status_reasons(struct cli *c, const char *seq, long long n, struct status_reasons *out);

/* Unix ms as wall time in zone: "2026-12-08 08:00:00 UTC-08:00
 * America/Los_Angeles" (ISO UTC when the zone is unknown). */
void cli_format_local(long long ms, const char *zone, char *out, size_t out_len);
int cli_cancel(struct cli *c, const struct cli_args *a);

/* Records a failure with its exit code; returns -1 for `return cli_fail(...)`. */
int cli_fail(struct cli *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reads all of path ("-": stdin) into a malloc'ed buffer, refusing more
 * than max bytes with "<too_big> (<max> bytes)". */
int cli_read_input(struct cli *c, const char *path, size_t max, const char *too_big,
		   char **out, size_t *out_len);

/* Loads path (-c), else $PREGON_CONF, else the installed config
 * (config_find.h); none found is a failure. verbose: says which file on
 * stderr. */
int cli_load_config(struct cli *c, const char *path, bool verbose);

/* Connects per [redis] url (AUTH and SELECT as it asks), with the command
 * timeout extended by extra_ms for blocking reads. */
int cli_connect(struct cli *c, int64_t extra_ms);

/* Runs one command (hiredis format). Returns the reply, which the caller
 * frees, or NULL with the failure recorded: I/O error, timeout, or an
 * error reply. */
redisReply *cli_cmd(struct cli *c, const char *fmt, ...);

/* Loads the Redis Functions library (redis_lib.h), as pregond does. */
int cli_lib_load(struct cli *c);

/* Fills the head of an FCALL of fn (argv needs REDIS_LIB_HEAD) and
 * returns its length: for commands that pipeline their calls. */
int cli_lib_head(struct cli *c, const char *fn, const char **argv);

/* FCALL fn (LUA_FN_...) with up to 16 C-string arguments; loads the
 * library first when the server does not have it. Returns the reply
 * (caller frees) or NULL with the failure recorded. */
redisReply *cli_lib_call(struct cli *c, const char *fn, int nargs, const char **args);

/* Records the context's last hiredis error as the failure. */
int cli_redis_fail(struct cli *c, const char *what);

/* Builds "<prefix><suffix>" into out (CLI_KEY_MAX bytes). */
int cli_key(struct cli *c, char *out, const char *suffix);

/* The id of the newest entry of a stream, or "0-0" when it is empty. */
int cli_stream_last_id(struct cli *c, const char *key, char *out, size_t out_len);

/* ---- pure helpers (unit-tested in tests/unit/test_cli_common.c) ---- */

/* Copies producer text as one printable line, addresses redacted. */
void cli_clean_line(const char *s, size_t len, char *out, size_t out_len);

/* Unix ms as "2026-11-22T19:03:11.250Z"; "-" when negative. */
void cli_format_ms(long long ms, char *out, size_t out_len);

/* A whole decimal string within lo..hi. Returns 0 or -1. */
int cli_parse_ll(const char *s, long long lo, long long hi, long long *out);

/* "MS" or "MS-SEQ", both unsigned 64-bit, as Redis parses stream ids. */
bool cli_stream_id_valid(const char *s);

/* The smallest id after id ("5-3" -> "5-4"), for exclusive paging. */
void cli_stream_id_next(const char *id, char *out, size_t out_len);

/* Reply helpers: a string or status reply; a stream entry [id, fields];
 * the value of one field in a [field, value, ...] array (NULL if absent). */
bool cli_reply_is_str(const redisReply *r);
bool cli_entry_ok(const redisReply *e);
const redisReply *cli_entry_field(const redisReply *fields, const char *name);

#endif
