/* expander.h: turns an action alert's audience into messages.
 *
 * On a Redis connection of its own (pregond.c): its steps never sit in
 * front of the engine's claims and results on the writer, and a normal
 * job's steps leave Redis time between them (expander.c).
 *
 * The accept script records an alert and queues one entry for it on
 * <p>expand:urgent or <p>expand:normal (consumer group "pregon"). An
 * instance reads the entry (it stays pending, owned by that instance) and
 * runs the expand script step by step: each step turns the next batch of
 * the audience into messages on the ready streams and moves the job's
 * cursor in the same atomic call, so a crash resumes at the last step
 * written (the entry is reclaimed by XAUTOCLAIM after [jobs]
 * reclaim_after). The last step acknowledges the entry.
 *
 * Urgent first: before every step of a normal expansion the urgent stream
 * is read, and an urgent job preempts it; while an urgent expansion runs,
 * the engine holds back normal work (engine_set_urgent_hold). Memory: one
 * job per lane at a time, whatever the audience's size. */
#ifndef PREGON_EXPANDER_H
#define PREGON_EXPANDER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "engine.h"
#include "job.h"
#include "store.h"

struct expand_slot {
	bool active;
	char job[JOB_ID_MAX + 1];
	char entry[48];		/* its entry on the lane's expand stream */
	int steps;
	uint64_t created, skipped;	/* by this instance */
	uint64_t started_ns;
};

struct expander {
	uv_loop_t *loop;
	const struct config *cfg;
	struct store *store;
	struct engine *engine;
	char stream[LANE_COUNT][128];
	struct expand_slot slot[LANE_COUNT];
	bool busy;		/* a command is outstanding: */
	enum lane step_lane;	/* the job being stepped, */
	enum lane read_lane;	/* or the lane being read or reclaimed */
	bool read_pending;	/* (our own pending entries) */
	bool kicked;		/* work announced since the last urgent read */
	bool resting;		/* between two steps of a normal job (rest_timer) */
	uint64_t step_sent_ns;	/* when the step out was sent */
	bool stopping;
	bool from_pending;	/* read our own pending entries first (restart) */
	int claim_lane;
	uv_timer_t poll_timer;	/* looks for work nobody announced; reclaims */
	uv_timer_t retry_timer;
	uv_timer_t rest_timer;
	uint64_t steps, created, skipped, jobs_done, reclaimed;
};

void expander_init(struct expander *x, uv_loop_t *loop, const struct config *cfg,
		   struct store *store, struct engine *engine);
struct metrics;
/* Registers the pregon_alert_* families (metrics.h). */
int expander_metrics(struct expander *x, struct metrics *m);
/* New work may be waiting (an alert was accepted, the store came up). */
void expander_kick(struct expander *x);
void expander_stop(struct expander *x);
void expander_close(struct expander *x);

#endif
