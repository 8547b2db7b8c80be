/* test_signal_native.c: the native Signal provider's pure parts: the
 * Content a Signal client reads, the service's JSON (a PreKeyResponse
 * checked field by field, the IncomingMessageList built), and the
 * in-memory stores the library runs against (what is marked changed is
 * what is written back to Redis). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <protocol.h>
#include <session_builder.h>

#include "../../adapters/signal_native/signal_content.h"
#include "../../adapters/signal_native/signal_crypto.h"
#include "../../adapters/signal_native/signal_mem.h"
#include "../../adapters/signal_native/signal_service.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void content_round_trips_and_is_padded_to_160_byte_classes(void **state)
{
	static const char *const bodies[] = { "", "hi", "Court moved to Dept 12, 8:30. ¿Preguntas?" };
	uint8_t *p;
	size_t len, body_len;
	const char *body;
	uint64_t ts;

	(void)state;
	for (size_t i = 0; i < N(bodies); i++) {
		assert_int_equal(signal_content_encode(bodies[i], strlen(bodies[i]), 1733600000123ULL,
						       &p, &len), 0);
		assert_int_equal((len + 1) % 160, 0);
		assert_int_equal(signal_content_decode(p, len, &body, &body_len, &ts), 0);
		assert_int_equal(body_len, strlen(bodies[i]));
		assert_memory_equal(body, bodies[i], body_len);
		assert_int_equal(ts, 1733600000123ULL);
		free(p);
	}
	/* A body near the limit fills more blocks; over it is refused. */
	char big[SIGNAL_BODY_MAX + 1];

	memset(big, 'x', sizeof(big));
	assert_int_equal(signal_content_encode(big, SIGNAL_BODY_MAX, 1, &p, &len), 0);
	assert_int_equal((len + 1) % 160, 0);
	assert_true(len > SIGNAL_BODY_MAX);
	free(p);
	assert_int_equal(signal_content_encode(big, SIGNAL_BODY_MAX + 1, 1, &p, &len), -1);
}

static void content_decode_refuses_what_is_not_a_padded_content(void **state)
{
	static const uint8_t no_pad[] = { 0x0a, 0x04, 0x0a, 0x02, 'h', 'i' };
	static const uint8_t cut[] = { 0x0a, 0x09, 0x0a, 0x02, 'h', 'i', 0x80 };
	static const uint8_t zeros[] = { 0, 0, 0 };
	const char *body;
	size_t len;
	uint64_t ts;

	(void)state;
	assert_int_equal(signal_content_decode(no_pad, sizeof(no_pad), &body, &len, &ts), -1);
	assert_int_equal(signal_content_decode(cut, sizeof(cut), &body, &len, &ts), -1);
	assert_int_equal(signal_content_decode(zeros, sizeof(zeros), &body, &len, &ts), -1);
}

static void received_contents_are_read_as_texts_receipts_or_neither(void **state)
{
	static const uint64_t ts[] = { 1733600000123ULL, 1733600000999ULL, 1 };
	/* Content{receiptMessage{type READ, timestamp packed [5, 300]}}, unpadded */
	static const uint8_t packed[] = { 0x2a, 0x07, 0x08, 0x01, 0x12, 0x03, 0x05, 0xac, 0x02 };
	/* Content{dataMessage{body "hi", groupV2{}}} */
	static const uint8_t group[] = { 0x0a, 0x06, 0x0a, 0x02, 'h', 'i', 0x7a, 0x00, 0x80 };
	/* Content{typingMessage{}} */
	static const uint8_t typing[] = { 0x32, 0x00, 0x80, 0x00 };
	static const uint8_t cut[] = { 0x2a, 0x09, 0x08, 0x01 };
	struct signal_content c;
	uint8_t *p;
	size_t len;

	(void)state;
	assert_int_equal(signal_content_encode_receipt(SIGNAL_RECEIPT_DELIVERY, ts, 3, &p, &len), 0);
	assert_int_equal(len % 160, 159);
	assert_int_equal(signal_content_parse(p, len, &c), 0);
	assert_int_equal(c.kind, SIGNAL_CONTENT_RECEIPT);
	assert_int_equal(c.receipt_type, SIGNAL_RECEIPT_DELIVERY);
	assert_int_equal(c.n_timestamps, 3);
	assert_memory_equal(c.timestamps, ts, sizeof(ts));
	free(p);

	assert_int_equal(signal_content_parse(packed, sizeof(packed), &c), 0);
	assert_int_equal(c.kind, SIGNAL_CONTENT_RECEIPT);
	assert_int_equal(c.receipt_type, SIGNAL_RECEIPT_READ);
	assert_int_equal(c.n_timestamps, 2);
	assert_true(c.timestamps[0] == 5 && c.timestamps[1] == 300);

	assert_int_equal(signal_content_encode("¿Sí?", strlen("¿Sí?"), 7, &p, &len), 0);
	assert_int_equal(signal_content_parse(p, len, &c), 0);
	assert_int_equal(c.kind, SIGNAL_CONTENT_TEXT);
	assert_int_equal(c.body_len, strlen("¿Sí?"));
	assert_memory_equal(c.body, "¿Sí?", c.body_len);
	free(p);

	assert_int_equal(signal_content_parse(group, sizeof(group), &c), 0);
	assert_int_equal(c.kind, SIGNAL_CONTENT_GROUP);
	assert_int_equal(signal_content_parse(typing, sizeof(typing), &c), 0);
	assert_int_equal(c.kind, SIGNAL_CONTENT_OTHER);
	assert_int_equal(signal_content_parse(cut, sizeof(cut), &c), -1);
}

/* A PreKeyResponse for a generated recipient, as Signal-Server writes it
 * (base64 without padding), for the tests to spoil one field at a time. */
static json_t *response_for(struct signal_mem *m, signal_context *ctx)
{
	session_pre_key_bundle *b = NULL;
	signal_buffer *ik = NULL, *spk = NULL, *pk = NULL;
	char e1[128], e2[128], e3[128], e4[128];
	json_t *doc;

	assert_int_equal(signal_mem_generate_identity(m, ctx), 0);
	assert_int_equal(signal_mem_generate_keys(m, ctx, 5, 1, 9), 0);
	assert_int_equal(signal_mem_bundle(m, ctx, 1, 5, 9, &b), 0);
	ec_public_key_serialize(&ik, session_pre_key_bundle_get_identity_key(b));
	ec_public_key_serialize(&spk, session_pre_key_bundle_get_signed_pre_key(b));
	ec_public_key_serialize(&pk, session_pre_key_bundle_get_pre_key(b));
	signal_b64_encode(signal_buffer_data(ik), signal_buffer_len(ik), e1);
	signal_b64_encode(signal_buffer_data(spk), signal_buffer_len(spk), e2);
	signal_b64_encode(signal_buffer_data(pk), signal_buffer_len(pk), e3);
	signal_b64_encode(signal_buffer_data(session_pre_key_bundle_get_signed_pre_key_signature(b)),
			  signal_buffer_len(session_pre_key_bundle_get_signed_pre_key_signature(b)), e4);
	*strchr(e4, '=') = '\0';	/* unpadded, as ByteArrayAdapter writes it */
	doc = json_pack("{s:s,s:[{s:i,s:i,s:{s:i,s:s,s:s},s:{s:i,s:s}}]}", "identityKey", e1,
			"devices", "deviceId", 1, "registrationId", (int)m->reg_id,
			"signedPreKey", "keyId", 9, "publicKey", e2, "signature", e4,
			"preKey", "keyId", 5, "publicKey", e3);
	signal_buffer_free(ik);
	signal_buffer_free(spk);
	signal_buffer_free(pk);
	SIGNAL_UNREF(b);
	return doc;
}

static int parse(json_t *doc, signal_context *ctx, struct err *err)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	session_pre_key_bundle *b = NULL;
	int rc = signal_bundle_parse(text, strlen(text), 1, ctx, &b, err);

	SIGNAL_UNREF(b);
	free(text);
	return rc;
}

static void a_pre_key_response_is_read_and_every_bad_field_named(void **state)
{
	signal_context *ctx = NULL;
	struct signal_mem m = { 0 };
	struct err err;
	json_t *doc, *dev;
	static const struct {
		const char *where, *field;
		json_t *(*value)(void);
		const char *problem;
	} spoil[] = {
		{ NULL, "identityKey", NULL, "identityKey: missing or not a string" },
		{ "", "registrationId", NULL, "devices[0].registrationId: missing or not an integer" },
		{ "signedPreKey", "signature", NULL,
		  "devices[0].signedPreKey.signature: missing or not a string" },
		{ "signedPreKey", "keyId", NULL, "devices[0].signedPreKey.keyId: missing or not an integer" },
		{ "preKey", "publicKey", NULL, "devices[0].preKey.publicKey: missing or not a string" },
	};

	(void)state;
	assert_int_equal(signal_crypto_context(&ctx), 0);
	doc = response_for(&m, ctx);
	assert_int_equal(parse(doc, ctx, &err), 0);
	for (size_t i = 0; i < N(spoil); i++) {
		json_t *copy = json_deep_copy(doc), *o = copy;

		if (spoil[i].where) {
			o = json_array_get(json_object_get(copy, "devices"), 0);
			if (spoil[i].where[0])
				o = json_object_get(o, spoil[i].where);
		}
		json_object_del(o, spoil[i].field);
		assert_int_equal(parse(copy, ctx, &err), -1);
		assert_string_equal(err.pub, spoil[i].problem);
		json_decref(copy);
	}
	/* Values out of range or not keys. */
	dev = json_array_get(json_object_get(doc, "devices"), 0);
	json_object_set_new(dev, "registrationId", json_integer(0x4000));
	assert_int_equal(parse(doc, ctx, &err), -1);
	assert_string_equal(err.pub, "devices[0].registrationId: must be 1..16383");
	json_object_set_new(dev, "registrationId", json_integer(7));
	json_t *ik = json_incref(json_object_get(doc, "identityKey"));

	json_object_set_new(doc, "identityKey", json_string("AAAA"));
	assert_int_equal(parse(doc, ctx, &err), -1);
	assert_string_equal(err.pub, "identityKey: not a Curve25519 public key");
	json_object_set_new(doc, "identityKey", json_string("not base64!"));
	assert_int_equal(parse(doc, ctx, &err), -1);
	assert_string_equal(err.pub, "identityKey: not base64 of 1..64 bytes");
	json_object_set_new(doc, "identityKey", ik);
	assert_int_equal(parse(doc, ctx, &err), 0);
	json_object_set_new(dev, "deviceId", json_integer(2));
	assert_int_equal(parse(doc, ctx, &err), -1);
	assert_string_equal(err.pub, "devices: no entry for device 1");
	assert_int_equal(signal_bundle_parse("[1]", 3, 1, ctx, NULL, &err), -1);
	assert_string_equal(err.pub, "pre-key response: not a JSON object");
	json_decref(doc);
	signal_mem_free(&m);
	signal_context_destroy(ctx);
}

/* No one-time pre-key left: "preKey" absent is still a bundle. */
static void a_response_without_a_one_time_pre_key_is_a_bundle(void **state)
{
	signal_context *ctx = NULL;
	struct signal_mem m = { 0 };
	struct err err;
	json_t *doc;

	(void)state;
	assert_int_equal(signal_crypto_context(&ctx), 0);
	doc = response_for(&m, ctx);
	json_object_del(json_array_get(json_object_get(doc, "devices"), 0), "preKey");
	assert_int_equal(parse(doc, ctx, &err), 0);
	json_decref(doc);
	signal_mem_free(&m);
	signal_context_destroy(ctx);
}

static void the_envelope_has_the_service_types_and_fields(void **state)
{
	static const uint8_t content[] = { 1, 2, 3, 250 };
	json_error_t jerr;
	char *s;
	json_t *doc, *msg;

	(void)state;
	s = signal_envelope_json(CIPHERTEXT_PREKEY_TYPE, 1, 4321, content, sizeof(content),
				 1733600000123ULL, true);
	doc = json_loads(s, 0, &jerr);
	msg = json_array_get(json_object_get(doc, "messages"), 0);
	assert_int_equal(json_integer_value(json_object_get(msg, "type")), 3);
	assert_int_equal(json_integer_value(json_object_get(msg, "destinationDeviceId")), 1);
	assert_int_equal(json_integer_value(json_object_get(msg, "destinationRegistrationId")), 4321);
	assert_string_equal(json_string_value(json_object_get(msg, "content")), "AQID+g==");
	assert_true(json_is_true(json_object_get(doc, "urgent")));
	assert_true(json_is_false(json_object_get(doc, "online")));
	assert_int_equal(signal_envelope_timestamp(s), 1733600000123ULL);
	json_decref(doc);
	free(s);
	/* A ratchet message is the service's CIPHERTEXT (1), not the library's 2. */
	s = signal_envelope_json(CIPHERTEXT_SIGNAL_TYPE, 1, 1, content, 1, 5, false);
	doc = json_loads(s, 0, &jerr);
	msg = json_array_get(json_object_get(doc, "messages"), 0);
	assert_int_equal(json_integer_value(json_object_get(msg, "type")), 1);
	json_decref(doc);
	free(s);
}

/* What the library writes is marked changed (and written back); what was
 * loaded is not; a refused key is kept with its owner. */
static void the_memory_store_marks_what_the_library_changed(void **state)
{
	struct signal_mem m = { 0 };
	struct signal_mem_rec *r;

	(void)state;
	assert_int_equal(signal_mem_put(&m.sessions, "+13235550100", 12, 1, (const uint8_t *)"a\0b", 3), 0);
	r = signal_mem_find(&m.sessions, "+13235550100", 12, 1);
	assert_non_null(r);
	assert_false(r->changed);
	assert_int_equal(r->data.len, 3);
	assert_memory_equal(r->data.p, "a\0b", 3);
	assert_null(signal_mem_find(&m.sessions, "+13235550100", 12, 2));
	assert_null(signal_mem_find(&m.sessions, "+1323555010", 11, 1));
	for (uint32_t id = 1; id <= 40; id++)
		assert_int_equal(signal_mem_put(&m.pre_keys, "", 0, id, (const uint8_t *)&id,
						sizeof(id)), 0);
	assert_int_equal(m.pre_keys.n, 40);
	r = signal_mem_find(&m.pre_keys, "", 0, 33);
	assert_non_null(r);
	assert_int_equal(*(uint32_t *)r->data.p, 33);
	signal_mem_free(&m);
	assert_int_equal(m.pre_keys.n, 0);

	/* The library builds a session: the session and the first identity
	 * key are marked changed, the loaded one stays unchanged. */
	signal_context *ctx = NULL;
	signal_protocol_store_context *store = NULL;
	struct signal_mem bob = { 0 };
	session_pre_key_bundle *b = NULL;
	session_builder *builder = NULL;
	signal_protocol_address addr = { "+13235550101", 12, 1 };

	assert_int_equal(signal_crypto_context(&ctx), 0);
	assert_int_equal(signal_mem_generate_identity(&m, ctx), 0);
	assert_int_equal(signal_mem_generate_identity(&bob, ctx), 0);
	assert_int_equal(signal_mem_generate_keys(&bob, ctx, 1, 1, 1), 0);
	assert_int_equal(signal_mem_bundle(&bob, ctx, 1, 1, 1, &b), 0);
	assert_int_equal(signal_mem_put(&m.sessions, "+13235550100", 12, 1, (const uint8_t *)"x", 1), 0);
	assert_int_equal(signal_protocol_store_context_create(&store, ctx), 0);
	assert_int_equal(signal_mem_attach(&m, store), 0);
	assert_int_equal(session_builder_create(&builder, store, &addr, ctx), 0);
	assert_int_equal(session_builder_process_pre_key_bundle(builder, b), 0);
	assert_true(signal_mem_find(&m.sessions, "+13235550101", 12, 1)->changed);
	r = signal_mem_find(&m.identities, "+13235550101", 12, 0);
	assert_true(r->changed);
	assert_int_equal(r->data.len, bob.pub.len);
	assert_memory_equal(r->data.p, bob.pub.p, bob.pub.len);
	assert_false(signal_mem_find(&m.sessions, "+13235550100", 12, 1)->changed);
	session_builder_free(builder);
	SIGNAL_UNREF(b);
	signal_protocol_store_context_destroy(store);
	signal_context_destroy(ctx);
	signal_mem_free(&m);
	signal_mem_free(&bob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(content_round_trips_and_is_padded_to_160_byte_classes),
		cmocka_unit_test(content_decode_refuses_what_is_not_a_padded_content),
		cmocka_unit_test(received_contents_are_read_as_texts_receipts_or_neither),
		cmocka_unit_test(a_pre_key_response_is_read_and_every_bad_field_named),
		cmocka_unit_test(a_response_without_a_one_time_pre_key_is_a_bundle),
		cmocka_unit_test(the_envelope_has_the_service_types_and_fields),
		cmocka_unit_test(the_memory_store_marks_what_the_library_changed),
	};

	return cmocka_run_group_tests_name("signal_native", tests, NULL, NULL);
}
