/* signal_service.c: the service's JSON (signal_service.h), parsed and
 * built with jansson; every number range-checked against what the library
 * and the service allow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <curve.h>
#include <protocol.h>
#include <session_pre_key.h>

#include "signal_crypto.h"
#include "signal_service.h"

/* Signal's key ids are 24-bit (Medium.MAX_VALUE), registration ids 14-bit. */
#define KEY_ID_MAX 0xFFFFFF
#define REG_ID_MAX 0x3FFF
#define KEY_MAX 64		/* a serialized Curve25519 key is 33 bytes */
#define SIG_MAX 128		/* an XEdDSA signature is 64 */

static int get_int(json_t *o, const char *name, long long lo, long long hi, const char *path,
		   long long *out, struct err *err)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_integer(v))
		return err_public(err, "%s%s: missing or not an integer", path, name);
	*out = json_integer_value(v);
	if (*out < lo || *out > hi)
		return err_public(err, "%s%s: must be %lld..%lld", path, name, lo, hi);
	return 0;
}

static int get_b64(json_t *o, const char *name, uint8_t *out, size_t max, const char *path,
		   size_t *len, struct err *err)
{
	const char *s = json_string_value(json_object_get(o, name));
	long n;

	if (s == NULL)
		return err_public(err, "%s%s: missing or not a string", path, name);
	n = signal_b64_decode(s, out, max);
	if (n <= 0)
		return err_public(err, "%s%s: not base64 of 1..%zu bytes", path, name, max);
	*len = (size_t)n;
	return 0;
}

static int get_key(json_t *o, const char *name, signal_context *ctx, const char *path,
		   ec_public_key **out, struct err *err)
{
	uint8_t raw[KEY_MAX];
	size_t n;

	if (get_b64(o, name, raw, sizeof(raw), path, &n, err) != 0)
		return -1;
	if (curve_decode_point(out, raw, n, ctx) != 0)
		return err_public(err, "%s%s: not a Curve25519 public key", path, name);
	return 0;
}

/* The entry of device, or NULL. */
static json_t *device_entry(json_t *devices, int device, size_t *index)
{
	size_t i;
	json_t *d;

	json_array_foreach(devices, i, d) {
		if (json_integer_value(json_object_get(d, "deviceId")) == device) {
			*index = i;
			return d;
		}
	}
	return NULL;
}

int signal_bundle_parse(const char *json, size_t len, int device, signal_context *ctx,
			session_pre_key_bundle **out, struct err *err)
{
	json_error_t jerr;
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *d, *spk, *pk;
	ec_public_key *identity = NULL, *spk_pub = NULL, *pk_pub = NULL;
	uint8_t sig[SIG_MAX];
	size_t sig_len, index = 0;
	long long reg, spk_id, pk_id = 0;
	char path[64], sub[96];
	int rc = -1;

	if (doc == NULL || !json_is_object(doc)) {
		err_public(err, "pre-key response: not a JSON object");
		goto out;
	}
	if (get_key(doc, "identityKey", ctx, "", &identity, err) != 0)
		goto out;
	d = device_entry(json_object_get(doc, "devices"), device, &index);
	if (d == NULL) {
		err_public(err, "devices: no entry for device %d", device);
		goto out;
	}
	snprintf(path, sizeof(path), "devices[%zu].", index);
	if (get_int(d, "registrationId", 1, REG_ID_MAX, path, &reg, err) != 0)
		goto out;
	spk = json_object_get(d, "signedPreKey");
	snprintf(sub, sizeof(sub), "%ssignedPreKey.", path);
	if (!json_is_object(spk)) {
		err_public(err, "%ssignedPreKey: missing or not an object", path);
		goto out;
	}
	if (get_int(spk, "keyId", 0, KEY_ID_MAX, sub, &spk_id, err) != 0 ||
	    get_key(spk, "publicKey", ctx, sub, &spk_pub, err) != 0 ||
	    get_b64(spk, "signature", sig, sizeof(sig), sub, &sig_len, err) != 0)
		goto out;
	pk = json_object_get(d, "preKey");
	if (pk != NULL && !json_is_null(pk)) {
		snprintf(sub, sizeof(sub), "%spreKey.", path);
		if (!json_is_object(pk)) {
			err_public(err, "%spreKey: not an object", path);
			goto out;
		}
		if (get_int(pk, "keyId", 1, KEY_ID_MAX, sub, &pk_id, err) != 0 ||
		    get_key(pk, "publicKey", ctx, sub, &pk_pub, err) != 0)
			goto out;
	}
	if (session_pre_key_bundle_create(out, (uint32_t)reg, device, (uint32_t)pk_id, pk_pub,
					  (uint32_t)spk_id, spk_pub, sig, sig_len, identity) != 0) {
		err_public(err, "pre-key response: the library refused the bundle");
		goto out;
	}
	rc = 0;
out:
	SIGNAL_UNREF(identity);
	SIGNAL_UNREF(spk_pub);
	SIGNAL_UNREF(pk_pub);
	json_decref(doc);
	return rc;
}

char *signal_envelope_json(int library_type, int device, uint32_t registration_id,
			   const uint8_t *content, size_t content_len, uint64_t timestamp_ms,
			   bool urgent)
{
	char *b64 = malloc(4 * ((content_len + 2) / 3) + 1);
	json_t *doc;
	char *out;

	if (b64 == NULL)
		return NULL;
	signal_b64_encode(content, content_len, b64);
	doc = json_pack("{s:[{s:i,s:i,s:I,s:s}],s:b,s:b,s:I}", "messages",
			"type", library_type == CIPHERTEXT_PREKEY_TYPE ? SIGNAL_ENVELOPE_PREKEY_BUNDLE
								       : SIGNAL_ENVELOPE_CIPHERTEXT,
			"destinationDeviceId", device,
			"destinationRegistrationId", (json_int_t)registration_id,
			"content", b64,
			"online", 0, "urgent", urgent ? 1 : 0,
			"timestamp", (json_int_t)timestamp_ms);
	free(b64);
	if (doc == NULL)
		return NULL;
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return out;
}

uint64_t signal_envelope_timestamp(const char *json)
{
	json_error_t jerr;
	json_t *doc = json_loads(json, 0, &jerr);
	json_int_t ts = json_integer_value(json_object_get(doc, "timestamp"));

	json_decref(doc);
	return ts > 0 ? (uint64_t)ts : 0;
}
