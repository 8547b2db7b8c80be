/* mqtt_events.h: every event of <p>events published on MQTT, QoS 1, on
 * <[mqtt] events_topic_prefix>/<job kind>/<status> ("none" for a missing
 * kind), payload the event's JSON as stored.
 *
 * The Redis stream is the queue, not libmosquitto's memory:
 *
 * - One instance publishes at a time (several share one Redis): it holds a
 *   lease, <p>mqtt:leader (SET PX with its consumer name, 10 s, renewed
 *   every 2 s, released on a clean stop or when its broker connection is
 *   lost). It stops publishing on its own when a renewal has not been
 *   answered in time, before the lease can have passed to another.
 * - The leader reads the stream after the cursor <p>mqtt:cursor (the last
 *   entry whose PUBACK arrived, with every entry before it) in batches,
 *   publishes in stream order with at most MQTT_EVENTS_WINDOW publishes
 *   unacknowledged, advances the cursor as PUBACKs arrive, and saves it
 *   with every renewal and at stop; only the lease holder may save it.
 * - On a disconnect the window is dropped with the connection, and
 *   publishing resumes from the cursor: at least once, in stream order; a
 *   subscriber may see an event again after a broker restart or a crash,
 *   never miss one (unless the stream's MAXLEN trimmed it first: that is
 *   logged with the count).
 *
 * Lease, cursor and reads are the mqtt_* functions of src/lua/infra.lua. */
#ifndef PREGON_MQTT_EVENTS_H
#define PREGON_MQTT_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "err.h"
#include "mqtt_conn.h"
#include "store.h"

/* Publishes awaiting their PUBACK, at most. */
#define MQTT_EVENTS_WINDOW 100

struct mqtt_event_slot {
	char id[48];		/* stream entry id */
	int64_t n;		/* its ordinal in the stream's history, -1 unknown */
	int mid;		/* MQTT message id; -1 for a marker (trimmed entries) */
	bool acked;
};

struct mqtt_events {
	uv_loop_t *loop;
	const struct config *cfg;
	struct store *store;
	struct mqtt_conn conn;
	char consumer[128];		/* [redis] consumer: the lease's value */
	char prefix[256];		/* topic prefix without a trailing '/' */
	bool store_ready;
	bool cursor_ready;		/* the cursor exists ("init" answered) */
	bool leader;
	bool stopping, stop_conn_asked, stopped;
	bool init_out, lease_out, read_out, release_out;
	uint64_t epoch;			/* bumped when the window is dropped */
	uint64_t read_epoch;		/* epoch of the read outstanding */
	char cursor[48];		/* last id acknowledged, with all before it */
	int64_t cursor_n;
	char read_pos[48];		/* last id read (published or skipped) */
	int64_t read_n;
	struct mqtt_event_slot window[MQTT_EVENTS_WINDOW + 1];
	int head, count;
	uint64_t lease_sent_at;		/* loop ms of the renewal outstanding */
	uint64_t lease_valid_until;	/* loop ms until which the lease is surely ours */
	uint64_t drain_until;		/* stop: wait for PUBACKs until then */
	char holder[128];		/* the other instance holding the lease */
	uv_timer_t lease_timer;
	uv_timer_t read_timer;		/* poll when the stream had nothing new */
	int open_handles;
	void (*on_stopped)(struct mqtt_events *ev);
	void (*on_closed)(struct mqtt_events *ev);

	uint64_t published;		/* PUBACKs received */
	uint64_t refused;		/* PUBACKs with a failure reason (MQTT 5) */
	uint64_t skipped;		/* entries trimmed before they were published */
};

/* Sets up and starts connecting to the broker; publishing starts once
 * Redis is ready and the lease is held. */
int mqtt_events_init(struct mqtt_events *ev, uv_loop_t *loop, const struct config *cfg,
		     struct store *store, struct err *err);
/* SIGTERM: waits a little for the PUBACKs in flight, saves the cursor,
 * releases the lease, disconnects; then on_stopped. */
void mqtt_events_stop(struct mqtt_events *ev, void (*on_stopped)(struct mqtt_events *ev));
struct metrics;
/* Registers the publisher's pregon_mqtt_* samples (metrics.h). */
int mqtt_events_metrics(struct mqtt_events *ev, struct metrics *m);

/* Closes the handles; on_closed when all are closed. */
void mqtt_events_close(struct mqtt_events *ev, void (*on_closed)(struct mqtt_events *ev));

#endif
