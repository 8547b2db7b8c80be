/* intake.h: reads jobs from <p>jobs, validates them and records them.
 *
 * One batch at a time: XREADGROUP (blocking, on its own connection), parse
 * and validate each entry once, then one accept script call that writes
 * the messages, dead letters, events and acknowledgements together. An
 * entry is acknowledged only inside that script, so a crash at any instant
 * leaves it pending for this or another instance. */
#ifndef PREGON_INTAKE_H
#define PREGON_INTAKE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "engine.h"
#include "job.h"
#include "redis_conn.h"
#include "store.h"

struct expander;
struct templates;

struct intake {
	uv_loop_t *loop;
	const struct config *cfg;
	struct store *store;
	struct rconn *reader;
	char stream[128];
	bool reading;		/* XREADGROUP outstanding */
	bool claiming;		/* XAUTOCLAIM outstanding */
	int processing;		/* accept scripts outstanding */
	bool from_pending;	/* next read re-reads our own pending entries */
	bool stopping;
	char claim_cursor[48];
	char pending_cursor[48];	/* where the re-read of our pending list is */
	struct engine *engine;		/* for messages claimed at intake */
	/* Job entries that hold a message this instance is sending: skipped
	 * when our pending list is re-read, or they would be queued twice. */
	char (*held)[48];
	size_t n_held, cap_held;
	uv_timer_t claim_timer;
	uv_timer_t retry_timer;
	/* The urgent scan (intake.c): while reads come back full. */
	bool backlog;
	bool scanning;
	char scan_last[50];	/* "(<id>": scan only what is newer */
	uv_timer_t scan_timer;
	struct expander *expander;	/* told when an alert is accepted */
	struct templates *const *templates;	/* the daemon's current set (SIGHUP swaps it) */
	void (*on_drained)(struct intake *in);

	uint64_t accepted, rejected, duplicates, reclaimed;
	uint64_t urgent_early;		/* urgent alerts taken ahead of a backlog */
};

/* engine: where messages claimed at intake are sent (engine_send_now);
 * expander: told when an alert is accepted (may be NULL); templates: the
 * daemon's current set, to check court reminders' texts (may be NULL). */
void intake_init(struct intake *in, uv_loop_t *loop, const struct config *cfg,
		 struct store *store, struct rconn *reader, struct engine *engine,
		 struct expander *expander, struct templates *const *templates);
struct metrics;
/* Registers pregon_jobs_total and pregon_urgent_ahead_total (metrics.h). */
int intake_metrics(struct intake *in, struct metrics *m);

/* Reads when both the reader and the store are ready. */
void intake_kick(struct intake *in);
void intake_reader_state(struct intake *in, bool up);
/* Stops reading; on_drained once no batch is being processed. */
void intake_stop(struct intake *in, void (*on_drained)(struct intake *in));
void intake_close(struct intake *in);

/* Builds the accept-script arguments for one entry (exposed for tests):
 * record JSON, raw text, reason, public reason. Returns 0 or -1 (OOM). */
struct intake_record {
	char *meta;
	const char *raw;
	size_t raw_len;
	char *raw_owned;	/* raw when built here (intake_build_bad_entry), freed with meta */
	char reason[ERR_MSG_MAX];
	char public_reason[ERR_MSG_MAX];
	int kind;		/* job kind or -1 */
	bool urgent;		/* a valid urgent action_alert */
	char id[JOB_ID_MAX + 1];	/* the job's id when it has a valid one, else "": the log */
};
int intake_build_record(const struct config *cfg, const struct templates *set, int64_t now_ms,
			const char *entry_id, const char *raw, size_t raw_len,
			struct intake_record *rec);

/* The record of a stream entry whose fields are not exactly one "job"
 * (CONTRACT.md section 1): n_job "job" fields and n_other others. It is
 * dead-lettered whole: the dead letter's job is fields_json, the entry's
 * fields as a JSON array [name, value, ...], which rec takes (freed with
 * rec->meta by the batch). Returns 0 or -1 (OOM; fields_json freed). */
int intake_build_bad_entry(const struct config *cfg, const char *entry_id, char *fields_json,
			   int n_job, int n_other, struct intake_record *rec);

#endif
