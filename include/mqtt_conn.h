/* mqtt_conn.h: one MQTT connection (libmosquitto 2.0.11) on the libuv loop.
 *
 * What libmosquitto leaves to an external loop, and how this module does it
 * (../shared/notes/deps.md section 3):
 *
 * - The socket is watched by one uv_poll_t; a 1 s timer runs
 *   mosquitto_loop_misc (keepalive, PINGREQ). No thread of libmosquitto's.
 * - After every libmosquitto call made from the loop, one function (sync)
 *   looks at the result and the socket: an error or a closed socket drops
 *   the connection; otherwise the poll handle is re-armed, UV_WRITABLE iff
 *   mosquitto_want_write(). Calls made inside libmosquitto's callbacks only
 *   queue packets (lib/packet_mosq.c packet__queue), so sync runs after the
 *   outer call returns.
 * - The connect step runs in libuv's thread pool (uv_queue_work):
 *   mosquitto_connect_async calls getaddrinfo synchronously
 *   (lib/net_mosq.c net__try_connect_tcp), and the TLS handshake is best
 *   finished before the loop takes over (eclipse-mosquitto/mosquitto#1507).
 *   The loop does not touch the struct mosquitto while the work runs.
 * - A fresh struct mosquitto per attempt, destroyed outside any of its
 *   callbacks: nothing queued in libmosquitto's memory (unacknowledged
 *   publishes, held acknowledgements) survives a disconnect. Callers keep
 *   their durable queue elsewhere (Redis).
 * - Reconnection with exponential backoff and jitter; on_disconnect does
 *   nothing with the socket (libmosquitto has closed it already,
 *   lib/loop.c mosquitto__loop_rc_handle).
 *
 * - Every struct mosquitto is put in "threaded" mode
 *   (mosquitto_threaded_set), although no other thread ever touches it: in
 *   2.0.11 its one effect is that packet__queue no longer writes at once
 *   (lib/packet_mosq.c; lib/thread_mosq.c), so every byte leaves through
 *   mosquitto_loop_write when sync has armed UV_WRITABLE. Nothing is then
 *   written by the thread pool before the TCP connect is confirmed, and a
 *   connection can hold back all it would write (pause): the MQTT intake
 *   uses this so that a PUBACK leaves only after the job is in Redis
 *   (see mqtt_intake.h). */
#ifndef PREGON_MQTT_CONN_H
#define PREGON_MQTT_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <mosquitto.h>
#include <uv.h>

#include "config.h"
#include "err.h"
#include "metrics.h"
#include "mqtt_url.h"

/* The client id [mqtt] client_id stands for: itself, or "pregon-" and the
 * host name when empty. */
void mqtt_default_client_id(const struct config *cfg, char *out, size_t out_len);

struct mqtt_conn;

/* What the owner is told. All but down run inside a libmosquitto callback:
 * they may publish, subscribe, pause or abort (which only queue or mark),
 * never destroy the connection. */
struct mqtt_conn_ops {
	/* CONNACK accepted; session_present is the CONNACK flag. */
	void (*up)(struct mqtt_conn *c, bool session_present, void *data);
	/* The connection that was up is gone and its struct mosquitto
	 * destroyed (outside any libmosquitto callback). */
	void (*down)(struct mqtt_conn *c, void *data);
	/* A PUBLISH arrived; msg is valid during the call. */
	void (*message)(struct mqtt_conn *c, const struct mosquitto_message *msg, void *data);
	/* A publish of ours is acknowledged (QoS 1: PUBACK); reason is the
	 * MQTT 5 reason code (0 for 3.1.1), >= 0x80 a refusal. */
	void (*published)(struct mqtt_conn *c, int mid, int reason, void *data);
	/* SUBACK; granted is the QoS granted or 0x80 (refused). */
	void (*subscribed)(struct mqtt_conn *c, int mid, int granted, void *data);
	/* What mqtt_conn_stop asked for is done: nothing is open or
	 * connecting (after down, if it was up). Not in a callback. */
	void (*stopped)(struct mqtt_conn *c, void *data);
};

enum mqtt_conn_state {
	MQTT_IDLE,		/* not wanted, nothing open */
	MQTT_BACKOFF,		/* waiting before the next attempt */
	MQTT_RESOLVING,		/* the connect step runs in the thread pool */
	MQTT_CONNECTING,	/* CONNECT sent or queued, awaiting CONNACK */
	MQTT_UP,
	MQTT_CLOSING,		/* DISCONNECT queued, waiting for it to leave */
};

struct mqtt_attempt;
struct mqtt_poll;

struct mqtt_conn {
	uv_loop_t *loop;
	const struct config *cfg;	/* read by the thread pool too: never changed after load */
	char role[16];			/* "events", "intake": for logs and metrics */
	struct mqtt_url url;
	char client_id[256];
	bool clean_session;
	int protocol;			/* MQTT_PROTOCOL_V311 or MQTT_PROTOCOL_V5 */
	char password[256];
	bool have_password;
	const struct mqtt_conn_ops *ops;
	void *data;

	enum mqtt_conn_state state;
	bool wanted;			/* start()ed and not stop()ped */
	bool stop_pending;		/* stopped() is owed */
	bool closing;			/* close() called: no more attempts */
	bool paused;			/* neither read nor write (owner waits on Redis) */
	bool in_cb;			/* inside a libmosquitto callback: sync is deferred */
	bool abort_requested;		/* drop at the next sync, without DISCONNECT */
	int deferred_rc;		/* an error met inside a callback */
	struct mosquitto *m;		/* the loop's, while CONNECTING/UP/CLOSING */
	struct mqtt_attempt *attempt;	/* the thread pool's, while RESOLVING */
	struct mqtt_poll *poll;
	int poll_fd;
	int poll_events;
	uint64_t state_since;		/* loop ms */
	int64_t backoff_ms;
	uint64_t failures;		/* attempts failed in a row */
	char why[256];			/* why the last attempt or connection ended */
	char last_logged[256];
	uv_timer_t misc;		/* 1 s: loop_misc, connect and close deadlines */
	uv_timer_t retry;
	int open_handles;
	void (*on_closed)(struct mqtt_conn *c);

	uint64_t connects;		/* CONNACKs accepted */
};

/* Sets up (timers, the password from [mqtt] password_file or
 * $PREGON_MQTT_PASSWORD). Returns 0 or -1 with err. Nothing connects yet. */
int mqtt_conn_init(struct mqtt_conn *c, uv_loop_t *loop, const struct config *cfg,
		   const char *role, const char *client_id, bool clean_session, int protocol,
		   const struct mqtt_conn_ops *ops, void *data, struct err *err);

/* Wants the connection: connects now, then keeps reconnecting. */
void mqtt_conn_start(struct mqtt_conn *c);
/* No longer wants it: a connection that is up gets a DISCONNECT (after
 * what is queued, unless paused), then down; anything else stops. Then
 * ops->stopped. */
void mqtt_conn_stop(struct mqtt_conn *c);
/* Drops the connection without DISCONNECT and without writing what is
 * queued (held PUBACKs are never sent), then reconnects after backoff if
 * still wanted. From inside a callback it happens when the callback's
 * caller returns. */
void mqtt_conn_abort(struct mqtt_conn *c, const char *why);
/* Holds back reads and writes (true) or resumes them (false). */
void mqtt_conn_pause(struct mqtt_conn *c, bool paused);

/* QoS 1 publish. Returns 0 with *mid set, -1 when not up (or the
 * connection failed), or a MOSQ_ERR_* (> 0) when libmosquitto refuses
 * this message (e.g. larger than the broker accepts). */
int mqtt_conn_publish(struct mqtt_conn *c, const char *topic, const void *payload,
		      int len, int *mid);
/* QoS 1 subscription. Returns 0 or -1. */
int mqtt_conn_subscribe(struct mqtt_conn *c, const char *filter, int *mid);

bool mqtt_conn_is_up(const struct mqtt_conn *c);

/* The families every connection's owner registers its connection in, by
 * role (pregon_mqtt_connected, pregon_mqtt_connects_total), and the reader
 * of the first (metrics.h): one name for the publisher and the intake. */
extern const struct metric_family mqtt_conn_up_family, mqtt_conn_connects_family;
int64_t mqtt_conn_read_up(const void *conn);

/* Closes for good: drops any connection, waits for a connect step still
 * in the thread pool, closes the handles; on_closed once all is closed. */
void mqtt_conn_close(struct mqtt_conn *c, void (*on_closed)(struct mqtt_conn *c));

#endif
