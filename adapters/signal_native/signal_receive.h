/* signal_receive.h: the receiving side of the native Signal provider:
 * what the Signal-protocol server queued for our account (replies,
 * STOPs, delivery and read receipts), decrypted with the same
 * Redis-backed store the sending side uses and fed to inbound_feed().
 *
 * Signal-Server's REST shapes (signalapp/Signal-Server,
 * service/src/main/java/org/whispersystems/textsecuregcm/:
 * controllers/MessageController getPendingMessages and
 * removePendingMessage, entities/OutgoingMessageEntity[List]), as they
 * were while envelopes still named the sender's number (before commit
 * 3d2f7e731, "Remove `Envelope.source`", 2022-07-29; Signal-Server has
 * since removed REST retrieval altogether, d69027ce5):
 *
 *   GET /v1/messages   -> { "messages": [ { "guid", "type", "timestamp",
 *       "source" (E.164), "sourceUuid", "sourceDevice", "destinationUuid",
 *       "content" (b64), "serverTimestamp" } ], "more": bool }
 *   DELETE /v1/messages/uuid/{guid}   the acknowledgement (204): gone for
 *       good; the server then sends the sender a SERVER_DELIVERY_RECEIPT
 *       (type 5, no content, the message's timestamp), which this side
 *       takes as `delivered` too.
 *
 * A sender named by ACI only (no "source") cannot be mapped to the
 * number pregon sent to: such an envelope is acknowledged and counted
 * invalid.
 *
 * signal_receive.c says what happens to each envelope and in which
 * order. One receiver per provider instance; it owns a timer and at most
 * one request, one Redis call and one inbound item at a time. */
#ifndef PREGON_SIGNAL_RECEIVE_H
#define PREGON_SIGNAL_RECEIVE_H

#include <stdint.h>

#include <uv.h>

#include "adapter.h"
#include "signal_native.h"

struct metrics;
struct signal_receive;

/* What the receiver borrows from the provider; all of it outlives the
 * receiver (the provider closes the receiver first). */
struct signal_receive_env {
	const struct adapter_env *env;	/* loop, http, inbound */
	enum channel channel;
	const struct signal_native_config *conf;
	struct rconn *redis;
	struct redis_lib *lib;
	signal_context *ctx;
	const struct signal_mem *self;	/* our identity as generated at open */
	const char *regid;
	const char *base;		/* the server's base URL, base_len bytes */
	int base_len;
	const char *password;
	const char *token_base;		/* the instance's lock token prefix */
};

/* Starts polling (the first poll at once). 0, or -1 (out of memory). */
int signal_receive_open(struct signal_receive **out, const struct signal_receive_env *env);

/* Stops: the request out is cancelled, the envelope being handled is
 * left unacknowledged (the server gives it again). closed runs once
 * nothing is in flight; r is then freed. */
void signal_receive_close(struct signal_receive *r, void (*closed)(void *data), void *data);

/* pregon_signal_native_received_total and _polls_total. */
int signal_receive_metrics(struct signal_receive *r, struct metrics *m);

#endif
