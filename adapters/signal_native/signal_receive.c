/* signal_receive.c: what the Signal-protocol server queued for our
 * account, one envelope at a time (signal_receive.h has the REST shapes).
 *
 * The loop never waits: the queue is polled through env->http on a
 * timer, [signal] poll_interval after an empty answer, doubling up to
 * [signal] poll_max while it stays empty or the server does not answer
 * (a message resets it; a full page, "more", polls again at once).
 *
 * One envelope:
 *
 *   1. signal_begin (src/lua/signal.lua) for the sender's address and
 *      device: its lock (the same one a send takes: one ratchet, one
 *      writer), our identity, the session and the trusted key. A lock
 *      held elsewhere is tried again 50-150 ms later, for at most
 *      [signal] timeout (then the page ends, to be polled again).
 *   2. The library decrypts against the in-memory store (signal_mem.h):
 *      a PREKEY_BUNDLE (3) or CIPHERTEXT (1) envelope. Nothing is
 *      written yet.
 *   3. The Content goes to inbound_feed(): a DataMessage as an
 *      INBOUND_MESSAGE (provider id "sig-<guid>": a redelivery is applied
 *      once), a ReceiptMessage as one INBOUND_RECEIPT per timestamp
 *      (provider id signal_provider_id(timestamp, sender), as the send
 *      recorded it). The plaintext is stored (Redis or the spool) before
 *      4, so a crash between them only decrypts it again.
 *   4. signal_commit writes the advanced session and releases the lock.
 *   5. DELETE /v1/messages/uuid/{guid}. A crash before it: the server
 *      gives the envelope again, the library answers
 *      SG_ERR_DUPLICATE_MESSAGE, and it is acknowledged and dropped.
 *
 * An envelope that cannot be decrypted (no session, a changed identity,
 * a pre-key message to pre-keys we never published) or read (a field
 * missing, an unknown type) is acknowledged, counted and logged by guid:
 * it would fail the same way forever. A failure of our own (Redis down,
 * the spool full) leaves it on the server and backs off. Logs carry
 * guids and codes, never an address or a text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/rand.h>

#include <protocol.h>
#include <session_cipher.h>

#include "http_client.h"
#include "inbound.h"
#include "log.h"
#include "metrics.h"
#include "utf8.h"
#include "validate.h"

#include "signal_content.h"
#include "signal_crypto.h"
#include "signal_receive.h"
#include "signal_service.h"

/* A locked sender: its envelope is tried again after 50-150 ms, for at
 * most [signal] timeout; then the page ends and is polled again later. */
#define LOCK_RETRY_MS 50
/* One page of GET /v1/messages: Signal-Server sends at most 100
 * envelopes of at most 256 KiB of content each; texts are far smaller. */
#define PAGE_MAX_BYTES (8 * 1024 * 1024)
#define CONTENT_MAX_BYTES (256 * 1024)
/* An inbound text, as the SMS webhooks bound it: room for any real one. */
#define TEXT_MAX_BYTES (1600 * 4)
#define GUID_MAX 63

enum outcome { RCV_MESSAGE, RCV_RECEIPT, RCV_DUPLICATE, RCV_UNDECRYPTABLE, RCV_INVALID,
	       RCV_IGNORED, RCV_COUNT };

/* What follows a commit (signal_commit): the acknowledgement, or the end
 * of the page (the envelope stays on the server). */
enum then { THEN_ACK, THEN_ABORT };

struct signal_receive {
	struct signal_receive_env e;
	uv_timer_t timer;
	struct http_call *call;		/* the one request out, or NULL */
	bool redis_out;			/* a Redis call out */
	bool feed_out;			/* an inbound item out */
	bool closing, shut;
	void (*closed)(void *data);
	void *closed_data;
	int64_t delay_ms;		/* the current backoff; 0 after a message */
	json_t *page;			/* GET /v1/messages's "messages" */
	size_t next;			/* its next envelope */
	bool more;
	uint64_t token_seq;
	/* The envelope being handled. */
	char guid[GUID_MAX + 1];
	char from[PHONE_E164_MAX + 1];
	uint32_t device;
	int type;
	int64_t timestamp;		/* the envelope's (the sender's message id) */
	bool locked;			/* we hold the sender's lock */
	bool lock_wait;			/* the timer tries for the lock again */
	uint64_t lock_wait_until;	/* loop ms: stop trying */
	struct signal_blob ct;
	char token[64];
	char msg[GUID_MAX + 8];		/* signal_begin's message key: "in:<guid>" */
	struct signal_mem mem;
	signal_buffer *plain;
	struct signal_content content;
	size_t fed;			/* items of content fed so far */
	enum then then;
	/* /metrics */
	uint64_t received[RCV_COUNT];
	uint64_t polls_ok, polls_failed;
};

static void poll_queue(struct signal_receive *r);
static void next_envelope(struct signal_receive *r);
static void begin(struct signal_receive *r);

/* ---- the timer, backoff and closing ---- */

static void on_timer(uv_timer_t *h)
{
	struct signal_receive *r = h->data;

	if (r->lock_wait) {
		r->lock_wait = false;
		begin(r);
		return;
	}
	poll_queue(r);
}

static void poll_in(struct signal_receive *r, uint64_t ms)
{
	if (!r->closing)
		uv_timer_start(&r->timer, on_timer, ms, 0);
}

/* After an empty queue or a failure: poll_interval, doubling to poll_max,
 * with up to 25% jitter so that instances spread out. */
static void back_off(struct signal_receive *r)
{
	const struct signal_native_config *c = r->e.conf;
	uint32_t jitter = 0;

	r->delay_ms = r->delay_ms == 0 ? c->poll_interval_ms : r->delay_ms * 2;
	if (r->delay_ms > c->poll_max_ms)
		r->delay_ms = c->poll_max_ms;
	RAND_bytes((unsigned char *)&jitter, sizeof(jitter));
	poll_in(r, (uint64_t)r->delay_ms + jitter % (uint64_t)(r->delay_ms / 4 + 1));
}

static void envelope_clear(struct signal_receive *r)
{
	signal_mem_free(&r->mem);
	signal_buffer_free(r->plain);
	r->plain = NULL;
	free(r->ct.p);
	r->ct.p = NULL;
	r->ct.len = 0;
	r->fed = 0;
	r->guid[0] = '\0';
	r->locked = false;
	r->lock_wait_until = 0;
}

static void page_drop(struct signal_receive *r)
{
	json_decref(r->page);
	r->page = NULL;
	r->next = 0;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct signal_receive *r = h->data;

	r->closed(r->closed_data);
	free(r);
}

/* True (and r may be gone) when r is closing: every callback asks first. */
static bool closing(struct signal_receive *r)
{
	if (!r->closing)
		return false;
	if (r->call == NULL && !r->redis_out && !r->feed_out && !r->shut) {
		r->shut = true;
		envelope_clear(r);
		page_drop(r);
		uv_close((uv_handle_t *)&r->timer, on_timer_closed);
	}
	return true;
}

/* Ends the page early: the rest stays on the server for the next poll,
 * after the backoff. */
static void page_abort(struct signal_receive *r)
{
	envelope_clear(r);
	page_drop(r);
	back_off(r);
}

/* The sender is locked (a send, or another instance on the same
 * envelope): the same envelope again shortly, until [signal] timeout. */
static void lock_retry(struct signal_receive *r)
{
	uint64_t now = uv_now(r->e.env->loop);
	uint32_t jitter = 0;

	if (r->lock_wait_until == 0)
		r->lock_wait_until = now + (uint64_t)r->e.conf->timeout_ms;
	if (r->closing || now >= r->lock_wait_until) {
		log_warn("signal: receive: guid=%s the sender stays locked; trying later", r->guid);
		page_abort(r);
		return;
	}
	RAND_bytes((unsigned char *)&jitter, sizeof(jitter));
	r->lock_wait = true;
	uv_timer_start(&r->timer, on_timer, LOCK_RETRY_MS + jitter % (2 * LOCK_RETRY_MS), 0);
}

/* ---- requests ---- */

static int request(struct signal_receive *r, const char *method, const char *path,
		   size_t max_bytes, http_done_cb done)
{
	const struct signal_receive_env *e = &r->e;
	char url[CONFIG_STR_MAX + 128];
	struct err err;
	static const char *const headers[] = { "Accept: application/json", NULL };

	snprintf(url, sizeof(url), "%.*s%s", e->base_len, e->base, path);
	struct http_request hr = {
		.method = method,
		.url = url,
		.headers = headers,
		.username = e->conf->account,
		.password = e->password,
		.timeout_ms = e->conf->timeout_ms,
		.max_response_bytes = max_bytes,
	};
	if (http_client_request(e->env->http, &hr, done, r, &r->call, &err) != 0) {
		log_error("signal: receive: %s", err.msg);
		return -1;
	}
	return 0;
}

/* ---- 5: the acknowledgement ---- */

static void on_ack(void *data, const struct http_response *res)
{
	struct signal_receive *r = data;

	r->call = NULL;
	if (closing(r))
		return;
	/* 404: already gone (another instance acknowledged it). */
	if (res->error != HTTP_OK || ((res->status < 200 || res->status >= 300) &&
				      res->status != 404)) {
		log_warn("signal: receive: guid=%s acknowledgement failed: %s http=%ld", r->guid,
			 res->error != HTTP_OK ? http_error_words(res->error) : "answer",
			 res->status);
		page_abort(r);
		return;
	}
	envelope_clear(r);
	next_envelope(r);
}

static void ack(struct signal_receive *r)
{
	char path[GUID_MAX + 32];

	snprintf(path, sizeof(path), "/v1/messages/uuid/%s", r->guid);
	if (request(r, "DELETE", path, 16 * 1024, on_ack) != 0)
		page_abort(r);
}

/* ---- 4: the session written back, the lock released ---- */

static void on_committed(struct rconn *c, redisReply *rep, void *data)
{
	struct signal_receive *r = data;

	(void)c;
	r->redis_out = false;
	r->locked = false;
	if (closing(r))
		return;
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
		page_abort(r);		/* the lock expires */
		return;
	}
	if (rep->integer != 1) {
		/* The lock expired and another instance may have used the
		 * session: this envelope is handled again from the start. */
		log_warn("signal: receive: guid=%s lost the sender's lock", r->guid);
		page_abort(r);
		return;
	}
	if (r->then == THEN_ACK)
		ack(r);
	else
		page_abort(r);
}

static struct signal_blob *changed(struct signal_mem_table *t, const char *name, uint32_t id)
{
	struct signal_mem_rec *rec = signal_mem_find(t, name, strlen(name), id);

	return rec && rec->changed ? &rec->data : NULL;
}

/* Writes back the session and identity the library changed (with_state),
 * a refused key in any case, and releases the lock; then `then`. Without
 * the lock (a server receipt needs none), `then` at once. */
static void commit(struct signal_receive *r, bool with_state, enum then then)
{
	struct signal_blob *sess = with_state ? changed(&r->mem.sessions, r->from, r->device) : NULL;
	struct signal_blob *id = with_state ? changed(&r->mem.identities, r->from, 0) : NULL;
	const char *args[LUA_SIGNAL_COMMIT_NHEAD];
	size_t lens[LUA_SIGNAL_COMMIT_NHEAD];
	char device[16];

	if (!r->locked) {
		if (then == THEN_ACK)
			ack(r);
		else
			page_abort(r);
		return;
	}
	snprintf(device, sizeof(device), "%u", r->device);
	for (int i = 0; i < LUA_SIGNAL_COMMIT_NHEAD; i++) {
		args[i] = "";
		lens[i] = SIGNAL_NATIVE_TEXT;
	}
	args[LUA_SIGNAL_COMMIT_HEAD_ADDRESS] = r->from;
	args[LUA_SIGNAL_COMMIT_HEAD_DEVICE] = device;
	args[LUA_SIGNAL_COMMIT_HEAD_TOKEN] = r->token;
	args[LUA_SIGNAL_COMMIT_HEAD_MSG] = r->msg;
	args[LUA_SIGNAL_COMMIT_HEAD_TTL_S] = "1";
	if (sess) {
		args[LUA_SIGNAL_COMMIT_HEAD_SESSION] = (const char *)sess->p;
		lens[LUA_SIGNAL_COMMIT_HEAD_SESSION] = sess->len;
	}
	if (id) {
		args[LUA_SIGNAL_COMMIT_HEAD_IDENTITY] = (const char *)id->p;
		lens[LUA_SIGNAL_COMMIT_HEAD_IDENTITY] = id->len;
	}
	if (r->mem.refused.len > 0) {
		args[LUA_SIGNAL_COMMIT_HEAD_REFUSED] = (const char *)r->mem.refused.p;
		lens[LUA_SIGNAL_COMMIT_HEAD_REFUSED] = r->mem.refused.len;
	}
	r->then = then;
	if (signal_native_call(r->e.redis, r->e.lib, LUA_FN_SIGNAL_COMMIT, LUA_SIGNAL_COMMIT_NHEAD,
			       args, lens, on_committed, r) != 0) {
		page_abort(r);
		return;
	}
	r->redis_out = true;
}

/* ---- 3: the plaintext to inbound ---- */

static void feed_next(struct signal_receive *r);

static void on_fed(void *data, int status)
{
	struct signal_receive *r = data;

	r->feed_out = false;
	if (closing(r))
		return;
	if (status != 0) {
		/* Neither Redis nor the spool took it: the session is not
		 * advanced, the envelope stays on the server. */
		log_warn("signal: receive: guid=%s inbound not stored; trying later", r->guid);
		commit(r, false, THEN_ABORT);
		return;
	}
	r->fed++;
	feed_next(r);
}

static void feed(struct signal_receive *r, const struct inbound_item *item)
{
	r->feed_out = true;
	if (inbound_feed(r->e.env->inbound, item, on_fed, r) != 0) {
		r->feed_out = false;
		commit(r, false, THEN_ABORT);
	}
}

/* Feeds the content's next item, or commits once all are in. */
static void feed_next(struct signal_receive *r)
{
	const struct signal_content *sc = &r->content;
	char pid[80];

	if (sc->kind == SIGNAL_CONTENT_TEXT && r->fed == 0) {
		char *text = strndup(sc->body ? sc->body : "", sc->body_len);

		if (text == NULL) {
			commit(r, false, THEN_ABORT);
			return;
		}
		snprintf(pid, sizeof(pid), "sig-%s", r->guid);
		struct inbound_item item = { .kind = INBOUND_MESSAGE, .channel = r->e.channel,
					     .provider_id = pid, .from = r->from, .text = text };
		r->received[RCV_MESSAGE]++;
		feed(r, &item);
		free(text);
		return;
	}
	if (sc->kind == SIGNAL_CONTENT_RECEIPT && r->fed < sc->n_timestamps) {
		signal_provider_id((int64_t)sc->timestamps[r->fed], r->from, pid);
		struct inbound_item item = {
			.kind = INBOUND_RECEIPT, .channel = r->e.channel, .provider_id = pid,
			.status = sc->receipt_type == SIGNAL_RECEIPT_READ ? "read" : "delivered",
			.error = "" };
		r->received[RCV_RECEIPT]++;
		feed(r, &item);
		return;
	}
	commit(r, true, THEN_ACK);
}

/* What the plaintext says pregon takes, or counts it as ignored or
 * invalid (its session is still written back: it decrypted). */
static void handle_plaintext(struct signal_receive *r)
{
	struct signal_content *sc = &r->content;

	if (signal_content_parse(signal_buffer_data(r->plain), signal_buffer_len(r->plain),
				 sc) != 0) {
		r->received[RCV_INVALID]++;
		log_warn("signal: receive: guid=%s content: not a Content protobuf", r->guid);
		sc->kind = SIGNAL_CONTENT_OTHER;
	} else if (sc->kind == SIGNAL_CONTENT_TEXT &&
		   (sc->body_len > TEXT_MAX_BYTES || !utf8_valid(sc->body ? sc->body : "",
								 sc->body_len) ||
		    memchr(sc->body ? sc->body : "", '\0', sc->body_len) != NULL)) {
		r->received[RCV_INVALID]++;
		log_warn("signal: receive: guid=%s dataMessage.body: over %d bytes or not UTF-8",
			 r->guid, TEXT_MAX_BYTES);
		sc->kind = SIGNAL_CONTENT_OTHER;
	} else if (sc->kind == SIGNAL_CONTENT_GROUP || sc->kind == SIGNAL_CONTENT_OTHER ||
		   (sc->kind == SIGNAL_CONTENT_RECEIPT &&
		    sc->receipt_type != SIGNAL_RECEIPT_DELIVERY &&
		    sc->receipt_type != SIGNAL_RECEIPT_READ)) {
		r->received[RCV_IGNORED]++;	/* groups, typing, viewed... */
		sc->kind = SIGNAL_CONTENT_OTHER;
	}
	feed_next(r);
}

/* ---- 2: decryption ---- */

static int decrypt(struct signal_receive *r)
{
	signal_protocol_store_context *store = NULL;
	signal_protocol_address addr = { r->from, strlen(r->from), (int32_t)r->device };
	session_cipher *cipher = NULL;
	int rc = SG_ERR_NOMEM;

	if (signal_protocol_store_context_create(&store, r->e.ctx) != 0 ||
	    signal_mem_attach(&r->mem, store) != 0 ||
	    session_cipher_create(&cipher, store, &addr, r->e.ctx) != 0)
		goto out;
	if (r->type == SIGNAL_ENVELOPE_PREKEY_BUNDLE) {
		pre_key_signal_message *pm = NULL;

		rc = pre_key_signal_message_deserialize(&pm, r->ct.p, r->ct.len, r->e.ctx);
		if (rc == 0)
			rc = session_cipher_decrypt_pre_key_signal_message(cipher, pm, NULL, &r->plain);
		SIGNAL_UNREF(pm);
	} else {
		signal_message *sm = NULL;

		rc = signal_message_deserialize(&sm, r->ct.p, r->ct.len, r->e.ctx);
		if (rc == 0)
			rc = session_cipher_decrypt_signal_message(cipher, sm, NULL, &r->plain);
		SIGNAL_UNREF(sm);
	}
out:
	session_cipher_free(cipher);
	signal_protocol_store_context_destroy(store);
	return rc;
}

/* ---- 1: the sender's lock and state ---- */

static bool state_is(redisReply *rep, const char *want)
{
	redisReply *e;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements <= LUA_SIGNAL_BEGIN_REPLY_STATE)
		return false;
	e = rep->element[LUA_SIGNAL_BEGIN_REPLY_STATE];
	return e->type == REDIS_REPLY_STRING && strcmp(e->str, want) == 0;
}

static void on_begin(struct rconn *c, redisReply *rep, void *data)
{
	struct signal_receive *r = data;
	int rc;

	(void)c;
	r->redis_out = false;
	if (closing(r))
		return;
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		if (rep != NULL)
			log_error("signal: receive: signal_begin failed: %.*s",
				  (int)(rep->len > 200 ? 200 : rep->len), rep->str);
		page_abort(r);
		return;
	}
	if (state_is(rep, "locked")) {
		lock_retry(r);
		return;
	}
	r->locked = state_is(rep, "ok");
	if (!r->locked || signal_native_load(&r->mem, rep, r->from, r->device, true) != 0) {
		log_error("signal: receive: signal_begin: unexpected reply");
		commit(r, false, THEN_ABORT);
		return;
	}
	rc = decrypt(r);
	if (rc == 0) {
		handle_plaintext(r);
		return;
	}
	if (rc == SG_ERR_DUPLICATE_MESSAGE) {
		r->received[RCV_DUPLICATE]++;	/* handled before: its ack was lost */
	} else {
		r->received[RCV_UNDECRYPTABLE]++;
		log_warn("signal: receive: guid=%s type=%d cannot be decrypted (%d%s); dropped",
			 r->guid, r->type, rc, rc == SG_ERR_UNTRUSTED_IDENTITY ?
			 ": identity changed, see `pregon signal trust`" : "");
	}
	commit(r, false, THEN_ACK);
}

static void begin(struct signal_receive *r)
{
	const struct signal_receive_env *e = &r->e;
	const char *args[LUA_SIGNAL_BEGIN_NHEAD];
	size_t lens[LUA_SIGNAL_BEGIN_NHEAD];
	char lock_ms[24], device[16];

	snprintf(lock_ms, sizeof(lock_ms), "%lld", (long long)e->conf->lock_time_ms);
	snprintf(device, sizeof(device), "%u", r->device);
	snprintf(r->token, sizeof(r->token), "%s.r%llu", e->token_base,
		 (unsigned long long)++r->token_seq);
	snprintf(r->msg, sizeof(r->msg), "in:%s", r->guid);
	for (int i = 0; i < LUA_SIGNAL_BEGIN_NHEAD; i++)
		lens[i] = SIGNAL_NATIVE_TEXT;
	args[LUA_SIGNAL_BEGIN_HEAD_ADDRESS] = r->from;
	args[LUA_SIGNAL_BEGIN_HEAD_DEVICE] = device;
	args[LUA_SIGNAL_BEGIN_HEAD_TOKEN] = r->token;
	args[LUA_SIGNAL_BEGIN_HEAD_LOCK_MS] = lock_ms;
	args[LUA_SIGNAL_BEGIN_HEAD_MSG] = r->msg;
	args[LUA_SIGNAL_BEGIN_HEAD_PUB] = (const char *)e->self->pub.p;
	args[LUA_SIGNAL_BEGIN_HEAD_PRIV] = (const char *)e->self->priv.p;
	args[LUA_SIGNAL_BEGIN_HEAD_REGID] = e->regid;
	lens[LUA_SIGNAL_BEGIN_HEAD_PUB] = e->self->pub.len;
	lens[LUA_SIGNAL_BEGIN_HEAD_PRIV] = e->self->priv.len;
	if (signal_native_call(e->redis, e->lib, LUA_FN_SIGNAL_BEGIN, LUA_SIGNAL_BEGIN_NHEAD, args,
			       lens, on_begin, r) != 0) {
		page_abort(r);
		return;
	}
	r->redis_out = true;
}

/* ---- the page ---- */

static bool guid_ok(const char *g)
{
	size_t n = g ? strlen(g) : 0;

	if (n == 0 || n > GUID_MAX)
		return false;
	return strspn(g, "0123456789abcdefABCDEF-") == n;
}

/* Reads one OutgoingMessageEntity into r. Returns 0 (to decrypt), 2 (a
 * SERVER_DELIVERY_RECEIPT: nothing to decrypt), 1 (to acknowledge and
 * drop: counted, logged) or -1 (no guid: cannot even be acknowledged;
 * skipped). */
static int envelope_read(struct signal_receive *r, json_t *m)
{
	const char *guid = json_string_value(json_object_get(m, "guid"));
	const char *src = json_string_value(json_object_get(m, "source"));
	const char *content = json_string_value(json_object_get(m, "content"));
	json_t *type = json_object_get(m, "type"), *dev = json_object_get(m, "sourceDevice");
	json_t *ts = json_object_get(m, "timestamp");
	const char *bad = NULL;
	struct err err;
	long n;

	if (!guid_ok(guid)) {
		r->received[RCV_INVALID]++;
		log_warn("signal: receive: messages[%zu].guid: missing or not a UUID; skipped",
			 r->next - 1);
		return -1;
	}
	snprintf(r->guid, sizeof(r->guid), "%s", guid);
	r->type = json_is_integer(type) ? (int)json_integer_value(type) : -1;
	r->device = json_is_integer(dev) ? (uint32_t)json_integer_value(dev) : 1;
	r->timestamp = json_is_integer(ts) ? json_integer_value(ts) : 0;
	if (r->type != SIGNAL_ENVELOPE_CIPHERTEXT && r->type != SIGNAL_ENVELOPE_PREKEY_BUNDLE &&
	    r->type != SIGNAL_ENVELOPE_SERVER_RECEIPT)
		bad = "type: not 1 (ciphertext), 3 (pre-key bundle) or 5 (server delivery "
		      "receipt); sealed sender is not supported";
	else if (src == NULL || phone_check_e164(src, r->from, &err) != 0)
		bad = "source: missing or not an E.164 number";
	else if (dev != NULL && (!json_is_integer(dev) || json_integer_value(dev) < 1 ||
				 json_integer_value(dev) > INT32_MAX))
		bad = "sourceDevice: not a device id";
	else if (r->type == SIGNAL_ENVELOPE_SERVER_RECEIPT && r->timestamp <= 0)
		bad = "timestamp: missing or not positive";
	else if (r->type == SIGNAL_ENVELOPE_SERVER_RECEIPT)
		return 2;
	else if (content == NULL || strlen(content) > CONTENT_MAX_BYTES / 3 * 4 + 4)
		bad = "content: missing or too long";
	if (bad == NULL) {
		r->ct.p = malloc(strlen(content) + 1);
		n = r->ct.p ? signal_b64_decode(content, r->ct.p, strlen(content) + 1) : -1;
		if (n <= 0)
			bad = "content: not base64";
		else
			r->ct.len = (size_t)n;
	}
	if (bad == NULL)
		return 0;
	r->received[RCV_INVALID]++;
	log_warn("signal: receive: guid=%s %s; dropped", r->guid, bad);
	return 1;
}

static void next_envelope(struct signal_receive *r)
{
	while (r->page != NULL && r->next < json_array_size(r->page)) {
		int rc = envelope_read(r, json_array_get(r->page, r->next++));

		if (rc == 0) {
			begin(r);
			return;
		}
		if (rc == 1) {
			ack(r);
			return;
		}
		if (rc == 2) {
			/* The server's own word that the sender's device took
			 * our message `timestamp` (it sends one when the
			 * device acknowledges): delivered. */
			memset(&r->content, 0, sizeof(r->content));
			r->content.kind = SIGNAL_CONTENT_RECEIPT;
			r->content.receipt_type = SIGNAL_RECEIPT_DELIVERY;
			r->content.timestamps[0] = (uint64_t)r->timestamp;
			r->content.n_timestamps = 1;
			feed_next(r);
			return;
		}
	}
	/* The page is done: the next one at once if the server said there
	 * is more, else after poll_interval. */
	page_drop(r);
	r->delay_ms = 0;
	if (r->more)
		poll_in(r, 0);
	else
		back_off(r);
}

static void on_page(void *data, const struct http_response *res)
{
	struct signal_receive *r = data;
	json_error_t jerr;
	json_t *doc, *msgs;

	r->call = NULL;
	if (closing(r))
		return;
	if (res->error != HTTP_OK || res->status != 200) {
		r->polls_failed++;
		if (r->polls_failed == 1 || r->delay_ms < r->e.conf->poll_max_ms)
			log_warn("signal: receive: GET /v1/messages: %s http=%ld; backing off",
				 res->error != HTTP_OK ? http_error_words(res->error) : "answer",
				 res->status);
		back_off(r);
		return;
	}
	doc = json_loadb(res->body, res->body_len, 0, &jerr);
	msgs = json_object_get(doc, "messages");
	if (!json_is_array(msgs)) {
		r->polls_failed++;
		log_warn("signal: receive: GET /v1/messages: messages: missing or not a list");
		json_decref(doc);
		back_off(r);
		return;
	}
	r->polls_ok++;
	r->more = json_is_true(json_object_get(doc, "more"));
	if (json_array_size(msgs) == 0) {
		json_decref(doc);
		back_off(r);		/* empty: wait longer each time, to poll_max */
		return;
	}
	r->page = json_incref(msgs);
	r->next = 0;
	json_decref(doc);
	next_envelope(r);
}

static void poll_queue(struct signal_receive *r)
{
	if (r->closing)
		return;
	if (request(r, "GET", "/v1/messages", PAGE_MAX_BYTES, on_page) != 0)
		back_off(r);
}

/* ---- setup, teardown, metrics ---- */

int signal_receive_open(struct signal_receive **out, const struct signal_receive_env *env)
{
	struct signal_receive *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -1;
	r->e = *env;
	uv_timer_init(env->env->loop, &r->timer);
	r->timer.data = r;
	poll_in(r, 0);
	*out = r;
	return 0;
}

void signal_receive_close(struct signal_receive *r, void (*closed)(void *data), void *data)
{
	r->closed = closed;
	r->closed_data = data;
	r->closing = true;
	r->lock_wait = false;
	uv_timer_stop(&r->timer);
	if (r->call)
		http_call_cancel(r->call);
	closing(r);
}

int signal_receive_metrics(struct signal_receive *r, struct metrics *m)
{
	static const struct metric_family received = {
		"pregon_signal_native_received_total", METRIC_COUNTER,
		"Envelopes from the server's queue, by outcome (message, receipt: each "
		"timestamp; duplicate, undecryptable, invalid: acknowledged and dropped; "
		"ignored: groups, typing, viewed)" };
	static const struct metric_family polls = {
		"pregon_signal_native_polls_total", METRIC_COUNTER,
		"Polls of GET /v1/messages, by outcome" };
	static const char *const labels[RCV_COUNT] = {
		[RCV_MESSAGE] = "outcome=\"message\"", [RCV_RECEIPT] = "outcome=\"receipt\"",
		[RCV_DUPLICATE] = "outcome=\"duplicate\"",
		[RCV_UNDECRYPTABLE] = "outcome=\"undecryptable\"",
		[RCV_INVALID] = "outcome=\"invalid\"", [RCV_IGNORED] = "outcome=\"ignored\"",
	};

	for (int i = 0; i < RCV_COUNT; i++)
		if (metrics_counter(m, &received, &r->received[i], labels[i]) != 0)
			return -1;
	return metrics_counter(m, &polls, &r->polls_ok, "outcome=\"ok\"") ||
	       metrics_counter(m, &polls, &r->polls_failed, "outcome=\"failed\"") ? -1 : 0;
}
