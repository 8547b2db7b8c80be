/* mqtt_intake.h: jobs published on [mqtt] intake_topic go onto <p>jobs.
 *
 * A persistent session (clean session off, the stable client id [mqtt]
 * client_id, MQTT 3.1.1 so that the session does not end with the
 * connection) subscribed QoS 1: the broker keeps the jobs published while
 * pregond is away. Each message becomes `XADD <p>jobs * job <payload>` at
 * once (a payload over [jobs] max_bytes is cut to max_bytes + 1 bytes, so
 * that intake dead-letters it with its usual reason and the stream stays
 * bounded).
 *
 * When the PUBACK leaves. libmosquitto 2.0.11 sends a QoS 1 PUBACK before
 * it calls on_message (lib/handle_publish.c: send__puback, then the
 * callback), and outside a callback packet__queue writes it to the socket
 * at once (lib/packet_mosq.c): by default the broker has forgotten the
 * message before the application has seen it. In threaded mode (see
 * mqtt_conn.h) the PUBACK only joins libmosquitto's queue; this module
 * then pauses the connection (no reads, no writes) from the first message
 * until Redis has answered every XADD, and only then lets the queue, with
 * the PUBACKs, be written. A failed or lost XADD drops the connection
 * without writing the queue: the broker still holds those messages and
 * sends them again. So a job is acknowledged to the broker only after
 * Redis has acknowledged the XADD; a crash of pregond at any instant loses
 * nothing (a redelivered job may be added twice; jobs are idempotent by
 * id). */
#ifndef PREGON_MQTT_INTAKE_H
#define PREGON_MQTT_INTAKE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "err.h"
#include "mqtt_conn.h"
#include "store.h"

struct mqtt_intake {
	uv_loop_t *loop;
	const struct config *cfg;
	struct store *store;
	struct mqtt_conn conn;
	char stream[160];		/* <p>jobs */
	uint64_t epoch;			/* bumped per connection: older replies are stale */
	int unconfirmed;		/* XADDs awaiting Redis: their PUBACKs are held */
	bool store_ready;
	bool stopping, stop_conn_asked, stopped;
	void (*on_stopped)(struct mqtt_intake *in);
	void (*on_closed)(struct mqtt_intake *in);

	uint64_t received;		/* PUBLISHes read */
	uint64_t added;			/* XADDs Redis confirmed */
	uint64_t oversized;		/* of which cut to max_bytes + 1 */
	uint64_t failed;		/* XADDs that failed (redelivered by the broker) */
};

/* Sets up; connects whenever Redis is ready (never while it is not, so
 * that nothing is taken from the broker that cannot be stored). */
int mqtt_intake_init(struct mqtt_intake *in, uv_loop_t *loop, const struct config *cfg,
		     struct store *store, struct err *err);
/* SIGTERM: stops reading, waits for the XADDs in flight, sends their
 * PUBACKs and a DISCONNECT; then on_stopped. */
void mqtt_intake_stop(struct mqtt_intake *in, void (*on_stopped)(struct mqtt_intake *in));
void mqtt_intake_close(struct mqtt_intake *in, void (*on_closed)(struct mqtt_intake *in));

struct metrics;
/* Registers the intake's pregon_mqtt_* samples (metrics.h). */
int mqtt_intake_metrics(struct mqtt_intake *in, struct metrics *m);

#endif
