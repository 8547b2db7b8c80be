/* signal_native.c: [signal] provider native: end-to-end encrypted Signal
 * messages made here with libsignal-protocol-c and handed to a
 * Signal-protocol server (a self-hosted, pre-PQXDH one: README.md says
 * why not Signal's own service).
 *
 * One send:
 *
 *   1. signal_begin (src/lua/signal.lua): the message's envelope if it
 *      was already encrypted (a retry: go to 4), else the recipient's
 *      lock (SET NX PX with our token), our identity, the recipient's
 *      session and trusted identity key. A lock held by another instance
 *      is tried again on a timer, never waited for on the loop.
 *   2. No session: GET {url}/v2/keys/{number}/1, the pre-key bundle,
 *      and the library builds a session from it. A recipient identity key
 *      other than the trusted one stops here: `failed`, "identity
 *      changed", the key kept for `pregon signal trust`.
 *   3. The library encrypts (an in-memory store filled from 1:
 *      signal_mem.h), and signal_commit writes the new session record and
 *      the envelope and releases the lock, in one call, before anything
 *      is sent: the ratchet state is durable before the ciphertext
 *      leaves (deps.md section 4).
 *   4. PUT {url}/v1/messages/{number} with the envelope. 200 is sent; a
 *      retry after a failure sends the same stored envelope, so no ratchet
 *      step is used twice and no skipped one is left behind (the
 *      recipient drops a duplicate, SG_ERR_DUPLICATE_MESSAGE).
 *
 * Answers (Signal-Server's MessageController): 200 sent; 404 not
 * registered, permanent; 409 (devices missing or extra) and 410 (stale
 * devices: the recipient reinstalled) drop the envelope and start again
 * once, under the lock, from a fresh bundle whose session replaces the
 * stored one; 413, 429 and 5xx temporary,
 * after Retry-After; 401 and 403 temporary (our credentials: every message
 * would fail alike). Logs and errors carry message ids and codes only. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include <session_builder.h>
#include <session_cipher.h>
#include <protocol.h>

#include "adapter.h"
#include "clock.h"
#include "http_client.h"
#include "log.h"
#include "metrics.h"
#include "redis_conn.h"
#include "redis_lib.h"
#include "redis_url.h"
#include "inbound.h"
#include "validate.h"

#include "util.h"

#include "signal_content.h"
#include "signal_crypto.h"
#include "signal_mem.h"
#include "signal_native.h"
#include "signal_receive.h"
#include "signal_service.h"

/* The device messages go to: the recipient's primary. Linked devices
 * are not addressed (README.md, "Signal, native"). */
#define DEVICE 1
#define DEVICE_S "1"
/* Waiting for another instance's lock on a recipient: tries 5-15 ms
 * apart, for at most [signal] timeout. */
#define LOCK_RETRY_MS 5
#define TEXT SIGNAL_NATIVE_TEXT

struct sn_send;

struct sn {
	struct adapter *a;
	const struct signal_native_config *conf;
	signal_context *ctx;
	struct signal_mem self;		/* our identity as generated at open */
	char regid[16];
	struct rconn redis;
	struct redis_lib lib;
	bool redis_closed;
	char password[256];
	char base[CONFIG_STR_MAX];
	int base_len;
	uint64_t token_seq;
	char token_base[33];		/* random per instance */
	struct sn_send *sends;
	int inflight;
	struct signal_receive *recv;	/* the queue's poller (signal_receive.h) */
	bool closing;
	adapter_closed_cb closed;
	/* /metrics */
	uint64_t sent, prekey_sent, identity_refused, rate_limited, lock_waits,
		 stale_devices;
};

struct sn_send {
	struct sn *n;
	struct send_req *req;
	adapter_done_cb done;
	struct http_call *call;
	uv_timer_t timer;		/* lock retries; done out of send() */
	char to[PHONE_E164_MAX + 1];
	char token[64];
	uint64_t wait_until;		/* loop ms: stop waiting for the lock */
	int restarts;			/* after 409/410 */
	bool fresh;			/* restarted: a new bundle, not the stored session */
	bool locked;			/* we hold the recipient's lock */
	bool lock_wait;			/* the timer will try for the lock again */
	struct signal_mem mem;
	char *envelope;
	struct send_result res;		/* the outcome, once decided */
	struct sn_send *prev, *next;
};

static void start(struct sn_send *s);

/* ---- ending a send ---- */

static void maybe_shut(struct sn *n)
{
	struct adapter *a = n->a;
	adapter_closed_cb closed = n->closed;

	if (!n->closing || n->inflight > 0 || !n->redis_closed || n->recv != NULL)
		return;
	signal_mem_free(&n->self);
	signal_context_destroy(n->ctx);
	a->state = NULL;
	free(n);
	closed(a);
}

static void on_send_closed(uv_handle_t *h)
{
	struct sn_send *s = h->data;
	struct sn *n = s->n;

	signal_mem_free(&s->mem);
	free(s->envelope);
	free(s);
	n->inflight--;
	maybe_shut(n);
}

/* Hands the outcome in s->res to the engine; s goes once its timer closed. */
static void finish(struct sn_send *s)
{
	struct sn *n = s->n;

	if (s->prev)
		s->prev->next = s->next;
	else
		n->sends = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->done(s->req, &s->res);
	uv_close((uv_handle_t *)&s->timer, on_send_closed);
}

static void set_result(struct sn_send *s, enum send_status st, int64_t retry_after_ms,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_result(struct sn_send *s, enum send_status st, int64_t retry_after_ms,
		       const char *fmt, ...)
{
	va_list ap;

	s->res.status = st;
	s->res.retry_after_ms = retry_after_ms;
	va_start(ap, fmt);
	vsnprintf(s->res.error, sizeof(s->res.error), fmt, ap);
	va_end(ap);
}

static void on_finish_timer(uv_timer_t *h)
{
	finish(h->data);
}

/* Finishes from the loop, not from inside the current call (send()). */
static void finish_later(struct sn_send *s)
{
	uv_timer_start(&s->timer, on_finish_timer, 0, 0);
}

/* ---- Redis ---- */

int signal_native_call(struct rconn *c, struct redis_lib *lib, const char *fn, int nargs,
		       const char **args, const size_t *lens, rconn_reply_cb cb, void *data)
{
	const char *argv[REDIS_LIB_HEAD + 16];
	size_t argvlen[REDIS_LIB_HEAD + 16];
	int head = redis_lib_head(lib, fn, argv);

	if (nargs > 16)
		return -1;
	for (int i = 0; i < head; i++)
		argvlen[i] = strlen(argv[i]);
	for (int i = 0; i < nargs; i++) {
		argv[head + i] = args[i];
		argvlen[head + i] = lens && lens[i] != SIGNAL_NATIVE_TEXT ? lens[i] : strlen(args[i]);
	}
	return rconn_command(c, cb, data, 0, head + nargs, argv, argvlen);
}

static int lib_call(struct sn_send *s, const char *fn, int nargs, const char **args,
		    const size_t *lens, rconn_reply_cb cb)
{
	return signal_native_call(&s->n->redis, &s->n->lib, fn, nargs, args, lens, cb, s);
}

/* A reply that is an error or missing: the outcome is a temporary failure. */
static bool redis_failed(struct sn_send *s, redisReply *r, const char *what)
{
	if (r != NULL && r->type != REDIS_REPLY_ERROR)
		return false;
	if (r != NULL) {
		log_error("signal: msg=%s %s failed: %.*s", s->req->message_id, what,
			  (int)(r->len > 200 ? 200 : r->len), r->str);
		if (redis_lib_missing(r->str, r->len))
			rconn_reset(&s->n->redis, "library missing: reloading");
	}
	set_result(s, SEND_TEMP_FAIL, 0, "signal: redis %s", r ? "error" : "unavailable");
	return true;
}

static void on_released(struct rconn *c, redisReply *r, void *data)
{
	struct sn_send *s = data;

	(void)c;
	(void)r;	/* the outcome is decided; an unreleased lock expires */
	finish(s);
}

/* Releases the recipient's lock (a commit that writes only what the
 * failed step learnt: a refused key), then finishes with s->res. */
static void release_and_finish(struct sn_send *s)
{
	const char *args[LUA_SIGNAL_COMMIT_NHEAD];
	size_t lens[LUA_SIGNAL_COMMIT_NHEAD];

	if (!s->locked || s->n->closing) {
		finish_later(s);
		return;
	}
	s->locked = false;
	for (int i = 0; i < LUA_SIGNAL_COMMIT_NHEAD; i++)
		args[i] = "";
	args[LUA_SIGNAL_COMMIT_HEAD_ADDRESS] = s->to;
	args[LUA_SIGNAL_COMMIT_HEAD_DEVICE] = DEVICE_S;
	args[LUA_SIGNAL_COMMIT_HEAD_TOKEN] = s->token;
	args[LUA_SIGNAL_COMMIT_HEAD_MSG] = s->req->message_id;
	args[LUA_SIGNAL_COMMIT_HEAD_TTL_S] = "1";
	if (s->mem.refused.len > 0) {
		args[LUA_SIGNAL_COMMIT_HEAD_REFUSED] = (const char *)s->mem.refused.p;
	}
	for (int i = 0; i < LUA_SIGNAL_COMMIT_NHEAD; i++)
		lens[i] = TEXT;
	lens[LUA_SIGNAL_COMMIT_HEAD_REFUSED] = s->mem.refused.len;
	if (lib_call(s, LUA_FN_SIGNAL_COMMIT, LUA_SIGNAL_COMMIT_NHEAD, args, lens, on_released) != 0)
		finish_later(s);
}

/* ---- the server ---- */

/* Why no answer came, in pregon's words. */
static const char *no_answer(const struct http_response *res)
{
	switch (res->error) {
	case HTTP_ERR_TIMEOUT: return "timed out";
	case HTTP_ERR_CONNECT: return "cannot connect";
	case HTTP_ERR_CANCELLED: return "cancelled (shutting down)";
	default: return "connection failed";
	}
}

/* One request to the server with our credentials: path after the base
 * URL, body (JSON) or NULL. When it cannot start, s ends (holding the
 * lock: released first) with a temporary failure. */
static void request(struct sn_send *s, const char *method, const char *path, const char *body,
		    http_done_cb done)
{
	struct sn *n = s->n;
	char url[CONFIG_STR_MAX + 64];
	struct err err;
	static const char *const json_headers[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		NULL,
	};

	snprintf(url, sizeof(url), "%.*s%s", n->base_len, n->base, path);
	struct http_request hr = {
		.method = method,
		.url = url,
		.headers = body ? json_headers : json_headers + 1,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.username = n->conf->account,
		.password = n->password,
		.timeout_ms = n->conf->timeout_ms,
		.max_response_bytes = 64 * 1024,
	};
	if (http_client_request(n->a->env->http, &hr, done, s, &s->call, &err) != 0) {
		log_error("signal: msg=%s %s", s->req->message_id, err.msg);
		set_result(s, SEND_TEMP_FAIL, 0, "signal: request not started");
		release_and_finish(s);
	}
}

/* ---- step 4: the envelope to the server ---- */

static void on_forgotten(struct rconn *c, redisReply *r, void *data)
{
	struct sn_send *s = data;

	(void)c;
	if (s->restarts > 0 && s->res.status == SEND_TEMP_FAIL && r != NULL &&
	    r->type == REDIS_REPLY_INTEGER && !s->n->closing) {
		start(s);	/* a fresh bundle (409/410) */
		return;
	}
	finish(s);
}

/* Drops the envelope of s, then finishes, or starts again (from a fresh
 * bundle) when s->restarts was just raised. */
static void forget(struct sn_send *s)
{
	const char *args[LUA_SIGNAL_FORGET_NHEAD];

	args[LUA_SIGNAL_FORGET_HEAD_MSG] = s->req->message_id;
	if (s->n->closing ||
	    lib_call(s, LUA_FN_SIGNAL_FORGET, LUA_SIGNAL_FORGET_NHEAD, args, NULL, on_forgotten) != 0)
		finish_later(s);
}

static void on_put(void *data, const struct http_response *res)
{
	struct sn_send *s = data;
	struct sn *n = s->n;
	int64_t after = res->retry_after_ms > 0 ? res->retry_after_ms : 0;

	s->call = NULL;
	if (res->error != HTTP_OK) {
		set_result(s, SEND_TEMP_FAIL, 0, "signal: %s", no_answer(res));
		finish(s);	/* the envelope stays: a retry sends it again */
		return;
	}
	if (res->status >= 200 && res->status < 300) {
		uint64_t ts = signal_envelope_timestamp(s->envelope);

		char pid[64];

		/* Receipts name the sender (s->to) and this timestamp
		 * (signal_receive.c maps them back the same way). */
		signal_provider_id((int64_t)ts, s->to, pid);
		s->res.status = SEND_SENT;
		snprintf(s->res.provider_id, sizeof(s->res.provider_id), "%s", pid);
		n->sent++;
		if (strstr(s->envelope, "\"type\":3") != NULL)
			n->prekey_sent++;
		forget(s);
		return;
	}
	switch (res->status) {
	case 404:
		set_result(s, SEND_PERM_FAIL, 0, "signal: not registered (HTTP 404)");
		forget(s);
		return;
	case 409:
	case 410:
		n->stale_devices++;
		/* The session (and the envelope made with it) is for devices
		 * that are gone: the next try, under the lock, builds a new one
		 * from a fresh bundle, which replaces it. Once per send. */
		s->fresh = true;
		if (s->restarts++ == 0) {
			set_result(s, SEND_TEMP_FAIL, 0, "signal: HTTP %ld devices changed", res->status);
			forget(s);
			return;
		}
		set_result(s, SEND_TEMP_FAIL, 0, "signal: HTTP %ld devices changed again; "
			   "linked devices are not supported", res->status);
		s->restarts = 0;	/* finish, do not start again */
		forget(s);
		return;
	case 413:
	case 429:
		n->rate_limited++;
		set_result(s, SEND_TEMP_FAIL, after, "signal: HTTP %ld rate limited", res->status);
		break;
	case 401:
	case 403:
		set_result(s, SEND_TEMP_FAIL, after, "signal: HTTP %ld: check [signal] account and "
			   "password_file", res->status);
		break;
	default:
		if (res->status < 500) {
			/* Never to be sent: its envelope goes too. */
			set_result(s, SEND_PERM_FAIL, 0, "signal: HTTP %ld", res->status);
			forget(s);
			return;
		}
		set_result(s, SEND_TEMP_FAIL, after, "signal: HTTP %ld", res->status);
	}
	finish(s);
}

static void put_envelope(struct sn_send *s)
{
	char path[64];

	snprintf(path, sizeof(path), "/v1/messages/%s", s->to);
	request(s, "PUT", path, s->envelope, on_put);
}

/* ---- step 3: encrypt, write back, then send ---- */

static void on_committed(struct rconn *c, redisReply *r, void *data)
{
	struct sn_send *s = data;

	(void)c;
	s->locked = false;
	if (redis_failed(s, r, "signal_commit")) {
		finish(s);
		return;
	}
	if (r->type != REDIS_REPLY_INTEGER || r->integer != 1) {
		/* The lock expired and another instance may have used the
		 * session: what was encrypted is not sent. */
		set_result(s, SEND_TEMP_FAIL, 0, "signal: lost the recipient's lock; not sent");
		finish(s);
		return;
	}
	put_envelope(s);
}

/* The changed record (name = the recipient) of t, or NULL. */
static struct signal_blob *changed(struct signal_mem_table *t, const char *to, uint32_t id)
{
	struct signal_mem_rec *r = signal_mem_find(t, to, strlen(to), id);

	return r && r->changed ? &r->data : NULL;
}

static void encrypt_and_commit(struct sn_send *s, signal_protocol_store_context *store,
			       const signal_protocol_address *addr)
{
	struct sn *n = s->n;
	session_cipher *cipher = NULL;
	ciphertext_message *msg = NULL;
	uint8_t *plain = NULL;
	size_t plain_len;
	uint32_t remote_reg = 0;
	uint64_t ts = (uint64_t)clock_now_ms();
	signal_buffer *ct;
	int rc;

	if (signal_content_encode(s->req->body, strlen(s->req->body), ts, &plain, &plain_len) != 0 ||
	    session_cipher_create(&cipher, store, addr, n->ctx) != 0) {
		set_result(s, SEND_TEMP_FAIL, 0, "signal: out of memory");
		goto fail;
	}
	rc = session_cipher_encrypt(cipher, plain, plain_len, &msg);
	if (rc == SG_ERR_UNTRUSTED_IDENTITY) {
		n->identity_refused++;
		set_result(s, SEND_PERM_FAIL, 0, "signal: identity changed; pregon signal trust "
			   "ADDRESS accepts the new key");
		goto fail;
	}
	if (rc != 0 || session_cipher_get_remote_registration_id(cipher, &remote_reg) != 0) {
		set_result(s, SEND_TEMP_FAIL, 0, "signal: encryption failed (%d)", rc);
		goto fail;
	}
	ct = ciphertext_message_get_serialized(msg);
	s->envelope = signal_envelope_json(ciphertext_message_get_type(msg), DEVICE, remote_reg,
					   signal_buffer_data(ct), signal_buffer_len(ct), ts,
					   s->req->urgent);
	if (s->envelope == NULL) {
		set_result(s, SEND_TEMP_FAIL, 0, "signal: out of memory");
		goto fail;
	}
	{
		struct signal_blob *sess = changed(&s->mem.sessions, s->to, DEVICE);
		struct signal_blob *id = changed(&s->mem.identities, s->to, 0);
		const char *args[LUA_SIGNAL_COMMIT_NHEAD];
		size_t lens[LUA_SIGNAL_COMMIT_NHEAD];
		char ttl[24];

		snprintf(ttl, sizeof(ttl), "%lld", (long long)(n->conf->envelope_ttl_ms / 1000));
		args[LUA_SIGNAL_COMMIT_HEAD_ADDRESS] = s->to;
		args[LUA_SIGNAL_COMMIT_HEAD_DEVICE] = DEVICE_S;
		args[LUA_SIGNAL_COMMIT_HEAD_TOKEN] = s->token;
		args[LUA_SIGNAL_COMMIT_HEAD_MSG] = s->req->message_id;
		args[LUA_SIGNAL_COMMIT_HEAD_SESSION] = sess ? (const char *)sess->p : "";
		args[LUA_SIGNAL_COMMIT_HEAD_IDENTITY] = id ? (const char *)id->p : "";
		args[LUA_SIGNAL_COMMIT_HEAD_REFUSED] = "";
		args[LUA_SIGNAL_COMMIT_HEAD_ENVELOPE] = s->envelope;
		args[LUA_SIGNAL_COMMIT_HEAD_TTL_S] = ttl;
		for (int i = 0; i < LUA_SIGNAL_COMMIT_NHEAD; i++)
			lens[i] = TEXT;
		lens[LUA_SIGNAL_COMMIT_HEAD_SESSION] = sess ? sess->len : 0;
		lens[LUA_SIGNAL_COMMIT_HEAD_IDENTITY] = id ? id->len : 0;
		if (lib_call(s, LUA_FN_SIGNAL_COMMIT, LUA_SIGNAL_COMMIT_NHEAD, args, lens,
			     on_committed) != 0) {
			set_result(s, SEND_TEMP_FAIL, 0, "signal: redis unavailable");
			s->locked = false;	/* it expires */
			finish_later(s);
		}
	}
	goto out;
fail:
	release_and_finish(s);
out:
	SIGNAL_UNREF(msg);
	session_cipher_free(cipher);
	free(plain);
}

/* Runs the library against s->mem: a session from bundle when there is
 * one, then the encryption. */
static void run_library(struct sn_send *s, session_pre_key_bundle *bundle)
{
	struct sn *n = s->n;
	signal_protocol_store_context *store = NULL;
	signal_protocol_address addr = { s->to, strlen(s->to), DEVICE };
	session_builder *b = NULL;
	int rc;

	if (signal_protocol_store_context_create(&store, n->ctx) != 0 ||
	    signal_mem_attach(&s->mem, store) != 0) {
		set_result(s, SEND_TEMP_FAIL, 0, "signal: out of memory");
		release_and_finish(s);
		goto out;
	}
	if (bundle != NULL) {
		if (session_builder_create(&b, store, &addr, n->ctx) != 0) {
			set_result(s, SEND_TEMP_FAIL, 0, "signal: out of memory");
			release_and_finish(s);
			goto out;
		}
		rc = session_builder_process_pre_key_bundle(b, bundle);
		if (rc == SG_ERR_UNTRUSTED_IDENTITY) {
			n->identity_refused++;
			log_warn("signal: msg=%s the recipient's identity key changed: refused until "
				 "`pregon signal trust`", s->req->message_id);
			set_result(s, SEND_PERM_FAIL, 0, "signal: identity changed; pregon signal "
				   "trust ADDRESS accepts the new key");
			release_and_finish(s);
			goto out;
		}
		if (rc != 0) {
			set_result(s, SEND_PERM_FAIL, 0, "signal: the recipient's pre-key bundle is "
				   "invalid (%d)", rc);
			release_and_finish(s);
			goto out;
		}
	}
	encrypt_and_commit(s, store, &addr);
out:
	session_builder_free(b);
	signal_protocol_store_context_destroy(store);
}

/* ---- step 2: the pre-key bundle ---- */

static void on_bundle(void *data, const struct http_response *res)
{
	struct sn_send *s = data;
	session_pre_key_bundle *bundle = NULL;
	struct err err;
	int64_t after = res->retry_after_ms > 0 ? res->retry_after_ms : 0;

	s->call = NULL;
	if (res->error != HTTP_OK) {
		set_result(s, SEND_TEMP_FAIL, 0, "signal: keys: %s", no_answer(res));
	} else if (res->status == 200) {
		if (signal_bundle_parse(res->body, res->body_len, DEVICE, s->n->ctx, &bundle,
					&err) == 0) {
			run_library(s, bundle);
			SIGNAL_UNREF(bundle);
			return;
		}
		set_result(s, SEND_PERM_FAIL, 0, "signal: keys: %s", err.pub);
	} else if (res->status == 404) {
		set_result(s, SEND_PERM_FAIL, 0, "signal: not registered or no keys (HTTP 404)");
	} else if (res->status == 429 || res->status == 413) {
		s->n->rate_limited++;
		set_result(s, SEND_TEMP_FAIL, after, "signal: keys: HTTP %ld rate limited",
			   res->status);
	} else {
		set_result(s, SEND_TEMP_FAIL, after, "signal: keys: HTTP %ld", res->status);
	}
	release_and_finish(s);
}

static void fetch_bundle(struct sn_send *s)
{
	char path[64];

	snprintf(path, sizeof(path), "/v2/keys/%s/%d", s->to, DEVICE);
	request(s, "GET", path, NULL, on_bundle);
}

/* ---- step 1: what Redis holds ---- */

static void on_lock_timer(uv_timer_t *h)
{
	struct sn_send *s = h->data;

	s->lock_wait = false;
	start(s);
}

static bool reply_str(redisReply *r, int i, const char **p, size_t *len)
{
	if (r->type != REDIS_REPLY_ARRAY || (size_t)i >= r->elements ||
	    r->element[i]->type != REDIS_REPLY_STRING)
		return false;
	*p = r->element[i]->str;
	*len = r->element[i]->len;
	return true;
}

int signal_native_load(struct signal_mem *m, redisReply *r, const char *addr, uint32_t device,
		       bool with_session)
{
	const char *pub, *priv, *regid, *sess, *id;
	size_t pub_len, priv_len, regid_len, sess_len, id_len;
	char *end;

	if (!reply_str(r, LUA_SIGNAL_BEGIN_REPLY_PUB, &pub, &pub_len) ||
	    !reply_str(r, LUA_SIGNAL_BEGIN_REPLY_PRIV, &priv, &priv_len) ||
	    !reply_str(r, LUA_SIGNAL_BEGIN_REPLY_REGID, &regid, &regid_len) ||
	    !reply_str(r, LUA_SIGNAL_BEGIN_REPLY_SESSION, &sess, &sess_len) ||
	    !reply_str(r, LUA_SIGNAL_BEGIN_REPLY_IDENTITY, &id, &id_len) || regid_len == 0)
		return -1;
	m->reg_id = (uint32_t)strtoul(regid, &end, 10);
	if (signal_blob_set(&m->pub, (const uint8_t *)pub, pub_len) != 0 ||
	    signal_blob_set(&m->priv, (const uint8_t *)priv, priv_len) != 0)
		return -1;
	if (sess_len > 0 && with_session && signal_mem_put(&m->sessions, addr, strlen(addr), device,
					   (const uint8_t *)sess, sess_len) != 0)
		return -1;
	if (id_len > 0 && signal_mem_put(&m->identities, addr, strlen(addr), 0,
					 (const uint8_t *)id, id_len) != 0)
		return -1;
	return 0;
}

static void on_begin(struct rconn *c, redisReply *r, void *data)
{
	struct sn_send *s = data;
	struct sn *n = s->n;
	const char *state, *env;
	size_t state_len, env_len;

	(void)c;
	if (redis_failed(s, r, "signal_begin")) {
		finish(s);
		return;
	}
	if (!reply_str(r, LUA_SIGNAL_BEGIN_REPLY_STATE, &state, &state_len) ||
	    !reply_str(r, LUA_SIGNAL_BEGIN_REPLY_ENVELOPE, &env, &env_len)) {
		set_result(s, SEND_TEMP_FAIL, 0, "signal: redis: unexpected reply");
		finish(s);
		return;
	}
	if (strcmp(state, "envelope") == 0) {
		s->envelope = strndup(env, env_len);
		if (s->envelope == NULL) {
			set_result(s, SEND_TEMP_FAIL, 0, "signal: out of memory");
			finish(s);
			return;
		}
		put_envelope(s);
		return;
	}
	if (strcmp(state, "locked") == 0) {
		n->lock_waits++;
		if (n->closing || uv_now(n->a->env->loop) >= s->wait_until) {
			set_result(s, SEND_TEMP_FAIL, 1000, "signal: the recipient is locked by "
				   "another instance");
			finish(s);
			return;
		}
		uint32_t jitter = 0;

		RAND_bytes((unsigned char *)&jitter, sizeof(jitter));
		s->lock_wait = true;
		uv_timer_start(&s->timer, on_lock_timer, LOCK_RETRY_MS + jitter % (2 * LOCK_RETRY_MS), 0);
		return;
	}
	s->locked = true;
	signal_mem_free(&s->mem);
	if (signal_native_load(&s->mem, r, s->to, DEVICE, !s->fresh) != 0) {
		set_result(s, SEND_TEMP_FAIL, 0, "signal: redis: unexpected reply");
		release_and_finish(s);
		return;
	}
	if (signal_mem_find(&s->mem.sessions, s->to, strlen(s->to), DEVICE) != NULL)
		run_library(s, NULL);
	else
		fetch_bundle(s);
}

/* (Re)starts s at step 1. */
static void start(struct sn_send *s)
{
	struct sn *n = s->n;
	const char *args[LUA_SIGNAL_BEGIN_NHEAD];
	size_t lens[LUA_SIGNAL_BEGIN_NHEAD];
	char lock_ms[24];

	free(s->envelope);
	s->envelope = NULL;
	snprintf(lock_ms, sizeof(lock_ms), "%lld", (long long)n->conf->lock_time_ms);
	args[LUA_SIGNAL_BEGIN_HEAD_ADDRESS] = s->to;
	args[LUA_SIGNAL_BEGIN_HEAD_DEVICE] = DEVICE_S;
	args[LUA_SIGNAL_BEGIN_HEAD_TOKEN] = s->token;
	args[LUA_SIGNAL_BEGIN_HEAD_LOCK_MS] = lock_ms;
	args[LUA_SIGNAL_BEGIN_HEAD_MSG] = s->req->message_id;
	args[LUA_SIGNAL_BEGIN_HEAD_PUB] = (const char *)n->self.pub.p;
	args[LUA_SIGNAL_BEGIN_HEAD_PRIV] = (const char *)n->self.priv.p;
	args[LUA_SIGNAL_BEGIN_HEAD_REGID] = n->regid;
	for (int i = 0; i < LUA_SIGNAL_BEGIN_NHEAD; i++)
		lens[i] = TEXT;
	lens[LUA_SIGNAL_BEGIN_HEAD_PUB] = n->self.pub.len;
	lens[LUA_SIGNAL_BEGIN_HEAD_PRIV] = n->self.priv.len;
	if (lib_call(s, LUA_FN_SIGNAL_BEGIN, LUA_SIGNAL_BEGIN_NHEAD, args, lens, on_begin) != 0) {
		set_result(s, SEND_TEMP_FAIL, 0, "signal: redis unavailable");
		finish_later(s);
	}
}

static int sn_send(struct adapter *a, struct send_req *req, adapter_done_cb done)
{
	struct sn *n = a->state;
	struct sn_send *s = calloc(1, sizeof(*s));
	struct err err;

	if (s == NULL)
		return -1;
	if (phone_check_e164(req->to, s->to, &err) != 0) {
		free(s);
		return -1;
	}
	s->n = n;
	s->req = req;
	s->done = done;
	snprintf(s->token, sizeof(s->token), "%s.%llu", n->token_base,
		 (unsigned long long)++n->token_seq);
	s->wait_until = uv_now(a->env->loop) + (uint64_t)n->conf->timeout_ms;
	uv_timer_init(a->env->loop, &s->timer);
	s->timer.data = s;
	s->next = n->sends;
	if (n->sends)
		n->sends->prev = s;
	n->sends = s;
	n->inflight++;
	start(s);
	return 0;
}

static int sn_prepare(struct adapter *a, const struct send_req *req, struct err *err)
{
	char addr[SIGNAL_ADDRESS_MAX + 1];
	struct err e;

	(void)a;
	/* A username or an ACI is a Signal address, but not one this
	 * transport can send to: the server's key and message routes are
	 * addressed by number here. */
	if (req->to[0] != '+' && signal_address_check(req->to, addr, &e) == 0)
		return err_public(err, "to: the native Signal provider sends to E.164 numbers only "
				  "(a username or ACI needs provider signal-cli)");
	if (phone_text_check(req->to, req->body, err) != 0)
		return -1;
	if (strlen(req->body) > SIGNAL_BODY_MAX)
		return err_public(err, "body: over %d bytes (native Signal sends no long-text "
				  "attachments)", SIGNAL_BODY_MAX);
	return 0;
}

/* ---- setup and teardown ---- */

static void on_library_loaded(struct rconn *c, redisReply *r, void *data)
{
	(void)c;
	(void)data;
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		log_error("signal: redis: FUNCTION LOAD failed: %.*s", (int)(r->len > 200 ? 200 : r->len),
			  r->str);
}

/* The library may not be loaded yet when this connection is first up
 * (the writer loads it too): loading the same text again is harmless. */
static void on_redis_state(struct rconn *c, bool up, void *data)
{
	const char *argv[4];

	(void)data;
	if (!up)
		return;
	redis_lib_load_argv(argv);
	rconn_command(c, on_library_loaded, NULL, 0, 4, argv, NULL);
}

/* The receiving side: what the spool kept from before is written first
 * (inbound.h), then the poller starts. */
static int start_receiving(struct sn *n, struct err *err)
{
	const struct adapter_env *env = n->a->env;
	struct signal_receive_env re = {
		.env = env, .channel = n->a->channel, .conf = n->conf, .redis = &n->redis,
		.lib = &n->lib, .ctx = n->ctx, .self = &n->self, .regid = n->regid,
		.base = n->base, .base_len = n->base_len, .password = n->password,
		.token_base = n->token_base,
	};

	if (env->inbound == NULL)
		return err_set(err, "[signal] provider native: no inbound path");
	if (inbound_open_spool(env->inbound, err) != 0)
		return -1;
	if (signal_receive_open(&n->recv, &re) != 0)
		return err_set(err, "[signal] native: out of memory");
	return 0;
}

static int sn_open(struct adapter *a, const struct adapter_env *env, struct err *err)
{
	const struct signal_native_config *sc = config_module_get(env->cfg, &signal_native_config);
	struct redis_url url;
	struct sn *n;
	uint8_t rnd[16];
	struct err e;

	if (env->http == NULL)
		return err_set(err, "[signal] provider native: no HTTP client");
	if (sc->url[0] == '\0')
		return err_set(err, "[signal] url: set it to the Signal-protocol server for provider native");
	if (http_url_check_transport(sc->url, &e) != 0)
		return err_set(err, "[signal] url: %s", e.msg);
	if (sc->account[0] == '\0')
		return err_set(err, "[signal] account: set it (our number, the basic-auth user)");
	if (sc->lock_time_ms <= sc->timeout_ms)
		return err_set(err, "[signal] lock_time: must be longer than [signal] timeout");
	if (sc->poll_max_ms < sc->poll_interval_ms)
		return err_set(err, "[signal] poll_max: must be at least [signal] poll_interval");
	if (redis_url_from_config(env->cfg, &url, err) != 0)
		return -1;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return err_set(err, "[signal] native: out of memory");
	e.msg[0] = '\0';
	if (config_read_secret(sc->password_file, "PREGON_SIGNAL_PASSWORD", n->password,
			       sizeof(n->password), &e) != 0 || n->password[0] == '\0') {
		free(n);
		return err_set(err, "[signal] password_file: %s", e.msg[0] ? e.msg : "empty");
	}
	if (signal_crypto_context(&n->ctx) != 0 || signal_mem_generate_identity(&n->self, n->ctx) != 0 ||
	    RAND_bytes(rnd, sizeof(rnd)) != 1) {
		if (n->ctx)
			signal_context_destroy(n->ctx);
		signal_mem_free(&n->self);
		free(n);
		return err_set(err, "[signal] native: cannot set up the Signal library");
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(n->token_base + 2 * i, 3, "%02x", rnd[i]);
	snprintf(n->regid, sizeof(n->regid), "%u", n->self.reg_id);
	snprintf(n->base, sizeof(n->base), "%s", sc->url);
	n->base_len = config_url_base_len(n->base);
	n->conf = sc;
	n->a = a;
	/* Its first poll runs on the loop, after the connection below. */
	if (start_receiving(n, err) != 0) {
		signal_mem_free(&n->self);
		signal_context_destroy(n->ctx);
		free(n);
		return -1;
	}
	redis_lib_init(&n->lib, env->cfg);
	rconn_init(&n->redis, env->loop, "signal", &url, env->cfg->redis_connect_timeout_ms,
		   env->cfg->redis_command_timeout_ms, on_redis_state, n);
	rconn_start(&n->redis);
	a->state = n;
	log_info("signal: native at %.*s, account %.4s...", n->base_len, n->base, sc->account);
	return 0;
}

static void on_redis_closed(struct rconn *c)
{
	struct sn *n = container_of(c, struct sn, redis);

	n->redis_closed = true;
	maybe_shut(n);
}

static void on_recv_closed(void *data)
{
	struct sn *n = data;

	n->recv = NULL;
	maybe_shut(n);
}

static void sn_close(struct adapter *a, adapter_closed_cb closed)
{
	struct sn *n = a->state;

	n->closed = closed;
	n->closing = true;
	/* Requests out are cancelled (a PUT's envelope stays in Redis: the
	 * message's retry sends it); sends waiting for a lock end now;
	 * Redis calls out get NULL when the connection closes. */
	for (struct sn_send *s = n->sends; s; s = s->next) {
		if (s->call)
			http_call_cancel(s->call);
		if (s->lock_wait) {
			s->lock_wait = false;
			set_result(s, SEND_TEMP_FAIL, 0, "signal: shutting down");
			uv_timer_start(&s->timer, on_finish_timer, 0, 0);
		}
	}
	signal_receive_close(n->recv, on_recv_closed, n);
	rconn_close(&n->redis, on_redis_closed);
}

static int sn_metrics(struct adapter *a, struct metrics *m)
{
	static const struct metric_family sent = {
		"pregon_signal_native_sent_total", METRIC_COUNTER,
		"Messages the Signal-protocol server took (type: prekey or all)" };
	static const struct metric_family refused = {
		"pregon_signal_native_identity_refused_total", METRIC_COUNTER,
		"Sends refused because the recipient's identity key changed" };
	static const struct metric_family limited = {
		"pregon_signal_native_rate_limited_total", METRIC_COUNTER,
		"Answers 413 or 429 (Signal's rate limits) from the server" };
	static const struct metric_family waits = {
		"pregon_signal_native_lock_waits_total", METRIC_COUNTER,
		"Times a send found its recipient locked by another send" };
	static const struct metric_family stale = {
		"pregon_signal_native_stale_devices_total", METRIC_COUNTER,
		"Answers 409 or 410 (the recipient's devices changed)" };
	struct sn *n = a->state;

	return metrics_counter(m, &sent, &n->sent, "type=\"all\"") ||
	       metrics_counter(m, &sent, &n->prekey_sent, "type=\"prekey\"") ||
	       metrics_counter(m, &refused, &n->identity_refused, NULL) ||
	       metrics_counter(m, &limited, &n->rate_limited, NULL) ||
	       metrics_counter(m, &waits, &n->lock_waits, NULL) ||
	       metrics_counter(m, &stale, &n->stale_devices, NULL) ||
	       signal_receive_metrics(n->recv, m) ? -1 : 0;
}

/* Its keys, in [signal]; the others of [signal] (provider, rate, burst,
 * concurrency, help_text) are the channel's (channel.h). */
static const struct config_key signal_native_keys[] = {
	CONFIG_STR(struct signal_native_config, "signal", "url", url, ""),
	CONFIG_STR(struct signal_native_config, "signal", "account", account, ""),
	CONFIG_SECRET(struct signal_native_config, "signal", "password_file", password_file, ""),
	/* The same key and default as the signal-cli provider's. */
	CONFIG_DURATION(struct signal_native_config, "signal", "timeout", timeout_ms, "30s", 100,
			300000),
	CONFIG_DURATION(struct signal_native_config, "signal", "lock_time", lock_time_ms, "60s",
			1000, 600000),
	CONFIG_DURATION(struct signal_native_config, "signal", "envelope_ttl", envelope_ttl_ms,
			"7d", 60000, 90LL * 86400000),
	CONFIG_DURATION(struct signal_native_config, "signal", "poll_interval", poll_interval_ms,
			"1s", 100, 600000),
	CONFIG_DURATION(struct signal_native_config, "signal", "poll_max", poll_max_ms, "30s", 100,
			3600000),
};

const struct config_module signal_native_config = {
	"native", signal_native_keys, CONFIG_KEYS(signal_native_keys),
	sizeof(struct signal_native_config),
};

const struct adapter_ops signal_native_adapter_ops = {
	.name = "native",
	.config = &signal_native_config,
	.open = sn_open,
	.prepare = sn_prepare,
	.send = sn_send,
	.reopen = NULL,
	.close = sn_close,
	.metrics = sn_metrics,
};
