/* signal_recipient.c: a Signal recipient for the native transport's tests,
 * decrypting with libsignal-protocol-c, the same library the sender uses
 * but a state of its own (a JSON file), so that what pregond sends is
 * shown to decrypt to the exact text.
 *
 *   signal_recipient init STATE [PRE_KEYS]
 *       a new identity, PRE_KEYS one-time pre-keys (default 20) and a
 *       signed pre-key; writes STATE and prints the keys to upload:
 *       {"identityKey", "registrationId", "signedPreKey": {"keyId",
 *       "publicKey", "signature"}, "preKeys": [{"keyId", "publicKey"}]}
 *       (base64), which the test server (tests/fakes/signal_server.py)
 *       hands out as Signal-Server's PreKeyResponse.
 *   signal_recipient decrypt STATE
 *       reads envelopes, one JSON object a line on stdin ({"source",
 *       "type": 1 or 3, "content": b64}: the server's record of a PUT),
 *       and prints one JSON line each: {"type", "body", "timestamp",
 *       "counter" (the ratchet message's number in its chain)}, or
 *       {"error": code} (SG_ERR_*, e.g. -1001 for a duplicate). STATE is
 *       saved after each.
 *   signal_recipient encrypt STATE TO
 *       the other way, to pregond's account TO (device 1), with the
 *       session the decrypted messages built: reads one JSON object a
 *       line ({"text": "..."}, or {"receipt": "delivery" or "read",
 *       "timestamps": [ms...]}) and prints {"type" (the service's: 1
 *       ciphertext, 3 pre-key bundle), "content": b64, "timestamp"}, an
 *       IncomingMessageList entry for PUT /v1/messages/TO, or {"error":
 *       code}. STATE is saved after each.
 *
 * Exit 0, or 1 with a line on stderr. A test tool: it trusts its input
 * files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <curve.h>
#include <protocol.h>
#include <session_cipher.h>
#include <session_pre_key.h>

#include "../../adapters/signal_native/signal_content.h"
#include "../../adapters/signal_native/signal_crypto.h"
#include "../../adapters/signal_native/signal_mem.h"
#include "../../adapters/signal_native/signal_service.h"

#define SPK_ID 1

static int fail(const char *what)
{
	fprintf(stderr, "signal_recipient: %s\n", what);
	return 1;
}

static json_t *b64(const uint8_t *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);
	json_t *j;

	signal_b64_encode(p, n, s);
	j = json_string(s);
	free(s);
	return j;
}

static int unb64(json_t *j, struct signal_blob *out)
{
	const char *s = json_string_value(j);
	size_t max = s ? strlen(s) : 0;
	uint8_t *tmp = malloc(max + 1);
	long n = s ? signal_b64_decode(s, tmp, max + 1) : -1;
	int rc = n < 0 ? -1 : signal_blob_set(out, tmp, (size_t)n);

	free(tmp);
	return rc;
}

/* ---- the state file ---- */

static json_t *table_json(const struct signal_mem_table *t)
{
	json_t *a = json_array();

	for (size_t i = 0; i < t->n; i++)
		json_array_append_new(a, json_pack("{s:s,s:I,s:o}", "name", t->v[i].name, "id",
						   (json_int_t)t->v[i].id, "data",
						   b64(t->v[i].data.p, t->v[i].data.len)));
	return a;
}

static int table_load(json_t *a, struct signal_mem_table *t)
{
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e) {
		struct signal_blob b = { 0 };
		const char *name = json_string_value(json_object_get(e, "name"));
		int rc;

		if (name == NULL || unb64(json_object_get(e, "data"), &b) != 0)
			return -1;
		rc = signal_mem_put(t, name, strlen(name),
				    (uint32_t)json_integer_value(json_object_get(e, "id")), b.p, b.len);
		free(b.p);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int save(const char *path, struct signal_mem *m)
{
	json_t *doc = json_pack("{s:o,s:o,s:I,s:o,s:o,s:o,s:o}",
				"pub", b64(m->pub.p, m->pub.len), "priv", b64(m->priv.p, m->priv.len),
				"regid", (json_int_t)m->reg_id,
				"sessions", table_json(&m->sessions),
				"identities", table_json(&m->identities),
				"pre_keys", table_json(&m->pre_keys),
				"signed_pre_keys", table_json(&m->signed_pre_keys));
	int rc = json_dump_file(doc, path, JSON_COMPACT);

	json_decref(doc);
	return rc;
}

static int load(const char *path, struct signal_mem *m)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr);
	int rc = -1;

	if (doc == NULL)
		return -1;
	if (unb64(json_object_get(doc, "pub"), &m->pub) == 0 &&
	    unb64(json_object_get(doc, "priv"), &m->priv) == 0 &&
	    table_load(json_object_get(doc, "sessions"), &m->sessions) == 0 &&
	    table_load(json_object_get(doc, "identities"), &m->identities) == 0 &&
	    table_load(json_object_get(doc, "pre_keys"), &m->pre_keys) == 0 &&
	    table_load(json_object_get(doc, "signed_pre_keys"), &m->signed_pre_keys) == 0) {
		m->reg_id = (uint32_t)json_integer_value(json_object_get(doc, "regid"));
		rc = 0;
	}
	json_decref(doc);
	return rc;
}

/* ---- init: the keys to upload ---- */

static json_t *public_of(const struct signal_mem_rec *r, signal_context *ctx, bool is_signed)
{
	signal_buffer *pub = NULL;
	json_t *j = NULL;

	if (is_signed) {
		session_signed_pre_key *k = NULL;

		if (session_signed_pre_key_deserialize(&k, r->data.p, r->data.len, ctx) != 0)
			return NULL;
		ec_public_key_serialize(&pub, ec_key_pair_get_public(session_signed_pre_key_get_key_pair(k)));
		j = json_pack("{s:I,s:o,s:o}", "keyId", (json_int_t)r->id,
			      "publicKey", b64(signal_buffer_data(pub), signal_buffer_len(pub)),
			      "signature", b64(session_signed_pre_key_get_signature(k),
					       session_signed_pre_key_get_signature_len(k)));
		SIGNAL_UNREF(k);
	} else {
		session_pre_key *k = NULL;

		if (session_pre_key_deserialize(&k, r->data.p, r->data.len, ctx) != 0)
			return NULL;
		ec_public_key_serialize(&pub, ec_key_pair_get_public(session_pre_key_get_key_pair(k)));
		j = json_pack("{s:I,s:o}", "keyId", (json_int_t)r->id,
			      "publicKey", b64(signal_buffer_data(pub), signal_buffer_len(pub)));
		SIGNAL_UNREF(k);
	}
	signal_buffer_free(pub);
	return j;
}

static int cmd_init(const char *path, unsigned count, signal_context *ctx)
{
	struct signal_mem m = { 0 };
	json_t *pre = json_array(), *doc;
	int rc = 1;

	if (signal_mem_generate_identity(&m, ctx) != 0 ||
	    signal_mem_generate_keys(&m, ctx, 1, count, SPK_ID) != 0)
		goto out;
	for (size_t i = 0; i < m.pre_keys.n; i++)
		json_array_append_new(pre, public_of(&m.pre_keys.v[i], ctx, false));
	doc = json_pack("{s:o,s:I,s:o,s:O}", "identityKey", b64(m.pub.p, m.pub.len),
			"registrationId", (json_int_t)m.reg_id,
			"signedPreKey", public_of(&m.signed_pre_keys.v[0], ctx, true),
			"preKeys", pre);
	if (doc == NULL || save(path, &m) != 0)
		goto out;
	json_dumpf(doc, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(doc);
	rc = 0;
out:
	json_decref(pre);
	signal_mem_free(&m);
	return rc ? fail("init failed") : 0;
}

/* ---- decrypt ---- */

static int decrypt_one(json_t *env, signal_protocol_store_context *store,
		       signal_context *ctx, json_t **out)
{
	const char *src = json_string_value(json_object_get(env, "source"));
	int type = (int)json_integer_value(json_object_get(env, "type"));
	struct signal_blob ct = { 0 };
	signal_protocol_address addr = { src, src ? strlen(src) : 0, 1 };
	session_cipher *c = NULL;
	signal_buffer *plain = NULL;
	uint32_t counter = 0;
	int rc;

	if (src == NULL || unb64(json_object_get(env, "content"), &ct) != 0)
		return -1;
	if (session_cipher_create(&c, store, &addr, ctx) != 0) {
		free(ct.p);
		return -1;
	}
	if (type == 3) {
		pre_key_signal_message *pm = NULL;

		rc = pre_key_signal_message_deserialize(&pm, ct.p, ct.len, ctx);
		if (rc == 0) {
			counter = signal_message_get_counter(
				pre_key_signal_message_get_signal_message(pm));
			rc = session_cipher_decrypt_pre_key_signal_message(c, pm, NULL, &plain);
		}
		SIGNAL_UNREF(pm);
	} else {
		signal_message *sm = NULL;

		rc = signal_message_deserialize(&sm, ct.p, ct.len, ctx);
		if (rc == 0) {
			counter = signal_message_get_counter(sm);
			rc = session_cipher_decrypt_signal_message(c, sm, NULL, &plain);
		}
		SIGNAL_UNREF(sm);
	}
	if (rc == 0) {
		const char *body;
		size_t body_len;
		uint64_t ts;

		if (signal_content_decode(signal_buffer_data(plain), signal_buffer_len(plain), &body,
					  &body_len, &ts) != 0)
			*out = json_pack("{s:s}", "error", "not a Content");
		else
			*out = json_pack("{s:i,s:s%,s:I,s:I}", "type", type, "body", body, body_len,
					 "timestamp", (json_int_t)ts, "counter", (json_int_t)counter);
	} else {
		*out = json_pack("{s:i}", "error", rc);
	}
	signal_buffer_free(plain);
	session_cipher_free(c);
	free(ct.p);
	return 0;
}

/* ---- encrypt: replies and receipts to pregond ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The padded Content a line asks for; 0 or -1. */
static int content_of(json_t *line, uint64_t ts, uint8_t **out, size_t *out_len)
{
	const char *text = json_string_value(json_object_get(line, "text"));
	const char *receipt = json_string_value(json_object_get(line, "receipt"));
	json_t *stamps = json_object_get(line, "timestamps"), *t;
	uint64_t v[SIGNAL_RECEIPT_TIMESTAMPS_MAX];
	size_t i, n = 0;

	if (text != NULL)
		return signal_content_encode(text, strlen(text), ts, out, out_len);
	if (receipt == NULL || !json_is_array(stamps))
		return -1;
	json_array_foreach(stamps, i, t) {
		if (n == SIGNAL_RECEIPT_TIMESTAMPS_MAX)
			return -1;
		v[n++] = (uint64_t)json_integer_value(t);
	}
	return signal_content_encode_receipt(strcmp(receipt, "read") == 0 ? SIGNAL_RECEIPT_READ :
					     SIGNAL_RECEIPT_DELIVERY, v, n, out, out_len);
}

static json_t *encrypt_one(json_t *line, const char *to, signal_protocol_store_context *store,
			   signal_context *ctx)
{
	signal_protocol_address addr = { to, strlen(to), 1 };
	session_cipher *c = NULL;
	ciphertext_message *msg = NULL;
	uint8_t *plain = NULL;
	size_t plain_len;
	uint64_t ts = now_ms();
	json_t *res;
	int rc = -1;

	if (content_of(line, ts, &plain, &plain_len) != 0)
		return json_pack("{s:s}", "error", "bad line");
	if (session_cipher_create(&c, store, &addr, ctx) == 0)
		rc = session_cipher_encrypt(c, plain, plain_len, &msg);
	if (rc == 0) {
		signal_buffer *ct = ciphertext_message_get_serialized(msg);
		int type = ciphertext_message_get_type(msg) == CIPHERTEXT_PREKEY_TYPE ?
			   SIGNAL_ENVELOPE_PREKEY_BUNDLE : SIGNAL_ENVELOPE_CIPHERTEXT;

		res = json_pack("{s:i,s:o,s:I}", "type", type, "content",
				b64(signal_buffer_data(ct), signal_buffer_len(ct)),
				"timestamp", (json_int_t)ts);
	} else {
		res = json_pack("{s:i}", "error", rc);
	}
	SIGNAL_UNREF(msg);
	session_cipher_free(c);
	free(plain);
	return res;
}

/* The decrypt and encrypt commands: STATE loaded, one JSON line in, one
 * out (from `one`, NULL: a line it cannot take, the end), STATE saved
 * after each. */
typedef json_t *(*line_cb)(json_t *in, signal_protocol_store_context *store, signal_context *ctx,
			   const char *arg);

static int each_line(const char *path, signal_context *ctx, line_cb one, const char *arg)
{
	struct signal_mem m = { 0 };
	signal_protocol_store_context *store = NULL;
	char line[65536];
	int rc = 1;

	if (load(path, &m) != 0)
		return fail("cannot read the state");
	if (signal_protocol_store_context_create(&store, ctx) != 0 || signal_mem_attach(&m, store) != 0)
		goto out;
	while (fgets(line, sizeof(line), stdin)) {
		json_error_t jerr;
		json_t *in = json_loads(line, 0, &jerr), *res = in ? one(in, store, ctx, arg) : NULL;

		json_decref(in);
		if (res == NULL) {
			fail("bad line");
			goto out;
		}
		json_dumpf(res, stdout, JSON_COMPACT);
		putchar('\n');
		fflush(stdout);
		json_decref(res);
		if (save(path, &m) != 0)
			goto out;
	}
	rc = 0;
out:
	signal_protocol_store_context_destroy(store);
	signal_mem_free(&m);
	return rc;
}

static json_t *decrypt_line(json_t *in, signal_protocol_store_context *store, signal_context *ctx,
			    const char *arg)
{
	json_t *res = NULL;

	(void)arg;
	return decrypt_one(in, store, ctx, &res) == 0 ? res : NULL;
}

static json_t *encrypt_line(json_t *in, signal_protocol_store_context *store, signal_context *ctx,
			    const char *to)
{
	return encrypt_one(in, to, store, ctx);
}

int main(int argc, char **argv)
{
	signal_context *ctx = NULL;
	int rc;

	if (argc < 3)
		return fail("usage: signal_recipient init STATE [PRE_KEYS] | decrypt STATE | "
			    "encrypt STATE TO");
	if (signal_crypto_context(&ctx) != 0)
		return fail("no signal context");
	if (strcmp(argv[1], "init") == 0)
		rc = cmd_init(argv[2], argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 20, ctx);
	else if (strcmp(argv[1], "decrypt") == 0)
		rc = each_line(argv[2], ctx, decrypt_line, NULL);
	else if (strcmp(argv[1], "encrypt") == 0 && argc > 3)
		rc = each_line(argv[2], ctx, encrypt_line, argv[3]);
	else
		rc = fail("unknown command");
	signal_context_destroy(ctx);
	return rc;
}
