/* mqtt_intake.c: MQTT jobs onto <p>jobs (see mqtt_intake.h for when the
 * PUBACK leaves and what that guarantees). Logs carry message ids and
 * sizes, never a payload: jobs hold phone numbers. */
#include "mqtt_intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"

/* One XADD in flight; replies of an older connection (epoch) are stale:
 * that connection was dropped without its PUBACKs, so the broker sends
 * those messages again. */
struct xadd_req {
	struct mqtt_intake *in;
	uint64_t epoch;
	int mid;
	size_t len;
};

static void on_xadd(struct rconn *rc, redisReply *r, void *data)
{
	struct xadd_req *x = data;
	struct mqtt_intake *in = x->in;

	(void)rc;
	if (x->epoch != in->epoch) {
		free(x);
		return;
	}
	if (r == NULL || r->type != REDIS_REPLY_STRING) {
		in->failed++;
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			log_warn("mqtt intake: XADD of message mid=%d (%zu bytes) failed: %.120s; "
				 "dropping the broker connection without its PUBACK, so that the "
				 "broker delivers it again", x->mid, x->len, r->str);
		else
			log_warn("mqtt intake: XADD of message mid=%d (%zu bytes) got no answer "
				 "(Redis connection lost); dropping the broker connection without its "
				 "PUBACK, so that the broker delivers it again", x->mid, x->len);
		free(x);
		in->epoch++;
		in->unconfirmed = 0;
		mqtt_conn_abort(&in->conn, "a job could not be stored in Redis");
		return;
	}
	in->added++;
	log_debug("mqtt intake: message mid=%d (%zu bytes) added to the job stream", x->mid,
		  x->len);
	free(x);
	/* Every message read so far is in Redis: the PUBACKs may go (and
	 * reading resumes). */
	if (--in->unconfirmed == 0)
		mqtt_conn_pause(&in->conn, false);
}

/* Inside libmosquitto's read: the PUBACK for this message is queued, not
 * sent (threaded mode), and stays so while we are paused. */
static void on_message(struct mqtt_conn *c, const struct mosquitto_message *msg, void *data)
{
	struct mqtt_intake *in = data;
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	size_t max = (size_t)in->cfg->jobs_max_bytes;
	const char *payload = msg->payload != NULL ? msg->payload : "";
	struct xadd_req *x;
	const char *argv[5] = { "XADD", in->stream, "*", "job", payload };
	size_t lens[5];

	in->received++;
	if (len > max) {
		/* Intake rejects anything over max_bytes with "job: larger
		 * than N bytes" and keeps max_bytes of it in the dead-letter
		 * stream; max_bytes + 1 bytes say that as well as the whole. */
		in->oversized++;
		log_warn("mqtt intake: message mid=%d is %zu bytes, over [jobs] max_bytes (%zu): "
			 "queued cut to %zu bytes, to be dead-lettered", msg->mid, len, max, max + 1);
		len = max + 1;
	}
	x = malloc(sizeof(*x));
	if (x == NULL) {
		in->failed++;
		mqtt_conn_abort(c, "out of memory");
		return;
	}
	*x = (struct xadd_req){ in, in->epoch, msg->mid, len };
	lens[0] = 4;
	lens[1] = strlen(in->stream);
	lens[2] = 1;
	lens[3] = 3;
	lens[4] = len;
	/* MAXLEN is not applied: jobs are never trimmed unread. */
	if (!in->store_ready ||
	    rconn_command(in->store->writer, on_xadd, x, 0, 5, argv, lens) != 0) {
		free(x);
		in->failed++;
		log_warn("mqtt intake: Redis is not reachable; message mid=%d left with the broker",
			 msg->mid);
		mqtt_conn_abort(c, "Redis is not reachable");
		return;
	}
	in->unconfirmed++;
	mqtt_conn_pause(c, true);
}

static void on_up(struct mqtt_conn *c, bool session_present, void *data)
{
	struct mqtt_intake *in = data;
	int mid;

	in->epoch++;
	in->unconfirmed = 0;
	/* Subscribed every time, also when the session kept the
	 * subscription: a changed intake_topic takes effect, and the broker
	 * treats a repeated SUBSCRIBE as a replacement that keeps what is
	 * queued (MQTT 3.1.1 3.8.4; a retained job is sent again, and is a
	 * duplicate by id). */
	if (mqtt_conn_subscribe(c, in->cfg->mqtt_intake_topic, &mid) != 0)
		mqtt_conn_abort(c, "cannot subscribe");
	else
		log_info("mqtt intake: subscribing to %s, QoS 1 (session %s)",
			 in->cfg->mqtt_intake_topic, session_present ? "kept by the broker" : "new");
}

static void on_subscribed(struct mqtt_conn *c, int mid, int granted, void *data)
{
	struct mqtt_intake *in = data;

	(void)mid;
	if (granted == 0x80) {
		log_error("mqtt intake: the broker refused the subscription to %s (check its ACL); "
			  "retrying", in->cfg->mqtt_intake_topic);
		mqtt_conn_abort(c, "subscription refused");
	} else if (granted == 0) {
		log_warn("mqtt intake: the broker granted only QoS 0 on %s: jobs published while "
			 "pregond is away or busy can be lost", in->cfg->mqtt_intake_topic);
	}
}

static void on_down(struct mqtt_conn *c, void *data)
{
	struct mqtt_intake *in = data;

	(void)c;
	/* XADDs still in flight belonged to this connection: their PUBACKs
	 * died with it, and the broker sends those messages again. */
	in->epoch++;
	in->unconfirmed = 0;
}

static void on_conn_stopped(struct mqtt_conn *c, void *data)
{
	struct mqtt_intake *in = data;

	(void)c;
	if (!in->stopping) {
		/* Stopped because Redis went away: back when it is ready. */
		if (in->store_ready)
			mqtt_conn_start(&in->conn);
		return;
	}
	if (in->stopped)
		return;
	in->stopped = true;
	log_info("mqtt intake: stopped (%llu jobs added)", (unsigned long long)in->added);
	if (in->on_stopped)
		in->on_stopped(in);
}

static const struct mqtt_conn_ops intake_ops = {
	.up = on_up,
	.down = on_down,
	.message = on_message,
	.subscribed = on_subscribed,
	.stopped = on_conn_stopped,
};

/* Connected only while Redis is ready: a message taken from the broker
 * must be stored at once. */
static void on_store_ready(struct store *s, bool ready, void *data)
{
	struct mqtt_intake *in = data;

	(void)s;
	in->store_ready = ready;
	if (in->stopping)
		return;
	if (ready)
		mqtt_conn_start(&in->conn);
	else
		mqtt_conn_stop(&in->conn);
}

int mqtt_intake_init(struct mqtt_intake *in, uv_loop_t *loop, const struct config *cfg,
		     struct store *store, struct err *err)
{
	char id[256];

	memset(in, 0, sizeof(*in));
	in->loop = loop;
	in->cfg = cfg;
	in->store = store;
	store_key(store, in->stream, sizeof(in->stream), "jobs");
	mqtt_default_client_id(cfg, id, sizeof(id));
	/* MQTT 3.1.1 with clean session off: the session outlives the
	 * connection. (MQTT 5 would need a Session Expiry Interval in the
	 * CONNECT properties, which libmosquitto 2.0.11 only sends with its
	 * blocking connect.) */
	if (mqtt_conn_init(&in->conn, loop, cfg, "intake", id, false, MQTT_PROTOCOL_V311,
			   &intake_ops, in, err) != 0)
		return -1;
	store_add_ready_cb(store, on_store_ready, in);
	return 0;
}

void mqtt_intake_stop(struct mqtt_intake *in, void (*on_stopped)(struct mqtt_intake *in))
{
	if (in->stopping)
		return;
	in->stopping = true;
	in->on_stopped = on_stopped;
	/* Up: DISCONNECT queued behind the PUBACKs, which leave when the
	 * XADDs in flight are answered (or die with the connection). */
	mqtt_conn_stop(&in->conn);
}

static void on_conn_closed(struct mqtt_conn *c)
{
	struct mqtt_intake *in = c->data;

	if (in->on_closed)
		in->on_closed(in);
}

void mqtt_intake_close(struct mqtt_intake *in, void (*on_closed)(struct mqtt_intake *in))
{
	in->on_closed = on_closed;
	in->stopping = in->stopped = true;
	mqtt_conn_close(&in->conn, on_conn_closed);
}

static const struct metric_family intake_total = {
	"pregon_mqtt_intake_total", METRIC_COUNTER, "MQTT messages added to the job stream.",
};
static const struct metric_family received_total = {
	"pregon_mqtt_intake_received_total", METRIC_COUNTER,
	"MQTT messages received on the intake topic.",
};
static const struct metric_family oversized_total = {
	"pregon_mqtt_intake_oversized_total", METRIC_COUNTER,
	"Intake messages over [jobs] max_bytes (cut, then dead-lettered by the intake).",
};
static const struct metric_family failed_total = {
	"pregon_mqtt_intake_failed_total", METRIC_COUNTER,
	"Intake messages whose XADD failed (the broker delivers them again).",
};

int mqtt_intake_metrics(struct mqtt_intake *in, struct metrics *m)
{
	if (metrics_gauge(m, &mqtt_conn_up_family, mqtt_conn_read_up, &in->conn,
			  "role=\"intake\"") != 0 ||
	    metrics_counter(m, &mqtt_conn_connects_family, &in->conn.connects,
			    "role=\"intake\"") != 0 ||
	    metrics_counter(m, &intake_total, &in->added, NULL) != 0 ||
	    metrics_counter(m, &received_total, &in->received, NULL) != 0 ||
	    metrics_counter(m, &oversized_total, &in->oversized, NULL) != 0)
		return -1;
	return metrics_counter(m, &failed_total, &in->failed, NULL);
}
