/* engine.h: the delivery engine.
 *
 * Reads ready messages (urgent lane first, then the answers to inbound
 * texts, then normal work) from <p>ready:<channel>:<lane> on
 * its own blocking connection, claims them with one script call per batch
 * (status -> sending, checks consent and expiry), hands them to the
 * channel's adapter, and writes results back in batches (sent, retry with
 * backoff via the schedule, or failed with fallback to the next channel).
 * At most [<channel>] concurrency messages per channel are with its adapter
 * at once, and at most 4 x [jobs] batch more are held, claimed, waiting
 * for a send to finish, whatever the backlog in Redis. */
#ifndef PREGON_ENGINE_H
#define PREGON_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "adapter.h"
#include "config.h"
#include "histogram.h"
#include "job.h"
#include "rate.h"
#include "redis_conn.h"
#include "store.h"

struct templates;

/* The ready lanes, in the order they are read: urgent alerts; the answers
 * to inbound texts (HELP, consent confirmations: a person waits for them,
 * but they must not delay an alert); everything else. LANE_JOB: a message
 * claimed at intake, held by its job's stream entry. The expander uses
 * LANE_URGENT and LANE_NORMAL only. */
enum lane { LANE_URGENT, LANE_ANSWER, LANE_NORMAL, LANE_COUNT, LANE_JOB = LANE_COUNT };

struct engine_inflight;

struct engine_channel {
	struct adapter adapter;
	bool open;
	int cap;		/* [<channel>] concurrency */
	int held;		/* read and not yet finished */
	int sending;		/* with the adapter now: at most cap */
	/* Claimed (at intake, or read ahead from the ready streams) while
	 * the adapter had cap sends out: they wait here, in order, for a send
	 * to finish (at most 4 x [jobs] batch more than cap are ever held,
	 * engine_reserve, read_max). */
	struct engine_inflight *wait_head, *wait_tail;
	struct engine_inflight *wait_urgent;	/* the last urgent one waiting (they go first) */
	struct engine_inflight *wait_answer;	/* the last answer waiting (they go next) */
	char stream[LANE_COUNT][128];
	char claim_cursor[LANE_COUNT][48];
	uint64_t sent, temp_failed, perm_failed, deferred;
	struct histogram latency;	/* adapter send to outcome */
	struct rate_budget rate;	/* [<channel>] rate, shared through Redis */
	bool more;		/* its queues may hold work (read full, or woke a block) */
	int asked, got;		/* this read round's COUNT and entries */
	bool urgent_more;	/* its urgent lane may hold work: normal waits */
	bool answer_more;	/* its answer lane may hold work: normal waits */
};

/* Whether a zone is in quiet hours now, kept for a second (engine.c). */
#define ENGINE_QUIET_CACHE 16
#define ENGINE_RECENT_STOPS 8
struct engine_quiet {
	char zone[64];
	int64_t at_ms;		/* when it was asked; 0: empty */
	int64_t until_ms;	/* the end of the quiet window, or <= at_ms: none */
};

struct engine {
	uv_loop_t *loop;
	const struct config *cfg;
	struct templates *const *templates;	/* the daemon's current set (SIGHUP swaps it) */
	struct store *store;
	struct rconn *reader;
	struct engine_channel ch[CHANNEL_COUNT];
	int reads_out;		/* XREADGROUPs outstanding on the reader */
	enum { READ_URGENT, READ_ANSWER, READ_NORMAL, READ_BLOCK } read_phase;
	bool read_got;		/* this phase's reads returned entries */
	bool read_failed;
	bool stopping;
	/* engine_close() was called: its handles are closing, and what the
	 * adapters, the writer and the reader still answer is dropped (a
	 * closing libuv handle started again is counted active for good, and
	 * uv_run never returns). */
	bool closed;
	bool urgent_hold;	/* an urgent audience is being expanded here */
	int claims;		/* claim scripts outstanding */
	int results_out;	/* result scripts outstanding */
	bool ticking;
	bool tick_again;	/* stops to check: tick again when this one is back */
	char stops_since[24];	/* the tick's stops_since: its last reply's at */
	uint64_t stop_dropped;	/* messages of stopped jobs dropped before an adapter */
	/* The last stops seen: the tick names a stop again when it came in
	 * the same millisecond as the previous tick's answer. */
	char recent_stops[ENGINE_RECENT_STOPS][JOB_ID_MAX + 1];
	unsigned recent_stop_next;
	bool autoclaiming;
	int autoclaim_index;	/* channel * LANE_COUNT + lane being reclaimed */
	struct engine_inflight *done_head, *done_tail;	/* results to write */
	int done_count;
	uv_idle_t flush_idle;
	uv_timer_t tick_timer;
	uv_timer_t claim_timer;
	uv_timer_t trim_timer;
	uv_timer_t retry_timer;
	uv_timer_t grace_timer;
	uv_timer_t read_retry_timer;
	int adapters_open;
	int rate_timers;	/* channels whose rate timer needs closing */
	void (*on_drained)(struct engine *e);
	void (*on_closed)(struct engine *e);
	int closing_handles;
	uint64_t claim_calls, claim_items, result_calls, result_items, fast_claims;
	uint64_t quiet_held;	/* ready entries held for quiet hours, not claimed */
	/* Entries waiting per ready stream and in the jobs stream, and
	 * scheduled messages, read from Redis every few seconds once
	 * engine_metrics ran (so that a scrape never waits); -1 until read. */
	int64_t depth[CHANNEL_COUNT][LANE_COUNT];
	int64_t jobs_depth, scheduled;
	bool depth_out;
	uv_timer_t depth_timer;
	struct engine_quiet quiet[ENGINE_QUIET_CACHE];
	unsigned quiet_next;
};

/* templates: the daemon's current set, read at each send (SIGHUP swaps
 * it). env: what the adapters get (adapter.h); opened here, one per
 * channel, as [<channel>] provider says. */
int engine_init(struct engine *e, uv_loop_t *loop, const struct config *cfg,
		struct store *store, struct rconn *reader, struct templates *const *templates,
		const struct adapter_env *env, struct err *err);
void engine_kick(struct engine *e);
void engine_reader_state(struct engine *e, bool up);
void engine_store_state(struct engine *e, bool ready);
void engine_reopen(struct engine *e);
/* A cancel job stopped a job (intake): ticks now, and the tick's answer
 * names the jobs stopped since the last one; their messages still waiting
 * here for an adapter are dropped and written back as cancelled. (Every
 * instance learns the same from its next tick.) */
void engine_check_stops(struct engine *e);
/* Stops reading; finishes in-flight sends and writes their results (at most
 * [shutdown] grace), then on_drained. */
void engine_stop(struct engine *e, void (*on_drained)(struct engine *e));
/* Closes adapters and timers; on_closed when all is released. */
void engine_close(struct engine *e, void (*on_closed)(struct engine *e));

struct metrics;
/* Registers the engine's families (messages, retries, latency, queue
 * depths, rate tokens; metrics.h), then each open adapter's, and starts
 * reading the queue depths. */
int engine_metrics(struct engine *e, struct metrics *m);

/* Messages held by this instance, all channels. */
int engine_in_flight(const struct engine *e);

struct buf;
/* Appends what the open adapters say for GET /healthz (adapter.h health). */
void engine_health(struct engine *e, struct buf *out);

/* While hold is set (an urgent alert's audience is being expanded), only
 * urgent lanes are read and nothing is claimed at intake, so the whole
 * audience is served before normal work resumes. */
void engine_set_urgent_hold(struct engine *e, bool hold);

/* Room for messages claimed at intake: reserves up to `max` per channel
 * (counted as held, so the ready readers leave it alone) into room[]. */
void engine_reserve(struct engine *e, int max, int room[CHANNEL_COUNT]);
void engine_unreserve(struct engine *e, const int room[CHANNEL_COUNT]);
/* A message to send: what a claim's send record says (LUA_SEND_...), or
 * what the intake knows of a message the accept claimed at once. The
 * strings are borrowed for the call. */
struct engine_send {
	const char *mid, *to, *payload, *vars, *job, *contact, *qz;
	const char *entry;	/* the stream entry that holds it */
	enum channel channel;
	int attempt;
	bool urgent;
	int64_t expires_ms;	/* 0 = never */
};

/* The fast path: sends now a message the accept claimed in reserved room.
 * on_release(data, entry) is called once the message is finished with (its
 * result written, or given up to be reclaimed), so the caller stops holding
 * the job entry; it may run before this returns. Returns the channel, or
 * -1 for a bad send (on_release is then not called). */
typedef void (*engine_release_cb)(void *data, const char *entry);
int engine_send_now(struct engine *e, const struct engine_send *send,
		    engine_release_cb on_release, void *data);

/* Retry delay for a temporary failure: base * 2^(attempt-1), capped at
 * max, with +-20% jitter, and never below the provider's retry_after. */
int64_t engine_backoff_ms(const struct config *cfg, int attempt, int64_t retry_after_ms,
			  unsigned int rand_value);

#endif
