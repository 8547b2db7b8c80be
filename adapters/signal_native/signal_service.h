/* signal_service.h: the Signal service's REST shapes for the pre-PQXDH
 * protocol, as Signal-Server defines them (signalapp/Signal-Server:
 * service/src/main/java/org/whispersystems/textsecuregcm/):
 *
 *   GET /v2/keys/{number}/{device}  -> PreKeyResponse
 *       { "identityKey": b64, "devices": [ { "deviceId", "registrationId",
 *         "signedPreKey": { "keyId", "publicKey": b64, "signature": b64 },
 *         "preKey": { "keyId", "publicKey": b64 } (absent when used up) } ] }
 *   PUT /v1/messages/{number}        <- IncomingMessageList
 *       { "messages": [ { "type", "destinationDeviceId",
 *         "destinationRegistrationId", "content": b64 } ],
 *         "online": false, "urgent": bool, "timestamp": ms }
 *
 * Envelope types are the service's (MessageProtos.Envelope.Type), not the
 * library's: CIPHERTEXT 1 for a ratchet message (the library's
 * CIPHERTEXT_SIGNAL_TYPE, 2), PREKEY_BUNDLE 3 for a pre-key message.
 * Keys and signatures come base64 without padding (ByteArrayAdapter);
 * both forms are read. A PQXDH server adds "pqPreKey", ignored here: the
 * library cannot use it (README.md, "Signal, native"). */
#ifndef PREGON_SIGNAL_SERVICE_H
#define PREGON_SIGNAL_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <signal_protocol.h>

#include "err.h"

#define SIGNAL_ENVELOPE_CIPHERTEXT 1
#define SIGNAL_ENVELOPE_PREKEY_BUNDLE 3
#define SIGNAL_ENVELOPE_SERVER_RECEIPT 5	/* SERVER_DELIVERY_RECEIPT: no content */

/* Reads the entry of device `device` of a PreKeyResponse into a bundle
 * the library can build a session from (the caller SIGNAL_UNREFs it).
 * Every field is checked: err names the first one that is missing or out
 * of range ("devices[0].signedPreKey.signature: not base64"). */
int signal_bundle_parse(const char *json, size_t len, int device, signal_context *ctx,
			session_pre_key_bundle **out, struct err *err);

/* Builds the IncomingMessageList of one message (malloc'd, NUL-ended). */
char *signal_envelope_json(int library_type, int device, uint32_t registration_id,
			   const uint8_t *content, size_t content_len, uint64_t timestamp_ms,
			   bool urgent);

/* The timestamp of an envelope built above, or 0: it is the message's id
 * on the service (receipts name it), kept as the provider id. */
uint64_t signal_envelope_timestamp(const char *json);

#endif
