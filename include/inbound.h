/* inbound.h: the one way in for what people and providers send back.
 *
 * A provider's adapter turns its own format (Twilio's webhooks today;
 * email bounces and replies, Signal messages and receipts later) into
 * items and feeds them here, so that what they mean is decided in one
 * place for every channel:
 *
 * - a message a person sent: consent words (STOP, START and their Spanish
 *   and free-text forms; consent.h) change the opt-out set and the ledger
 *   and get one confirmation; HELP gets the channel's [<channel>] help_text
 *   whatever the consent state; anything else is a reply (to the latest
 *   alert with reply keywords sent to that address, else pregon:inbound);
 * - a receipt about a message pregon sent (sent, delivered, undelivered,
 *   failed, read): it moves the message on, never back.
 *
 * Each item is one call of the Lua library (ops inbound and feedback),
 * which are idempotent (an inbound message once per provider id, a receipt
 * never moves a message back). While Redis cannot take one, items are held
 * in memory (at most INBOUND_HELD_MAX) and written when it is back:
 * providers do not retry, and a STOP must not be lost. Nothing here logs
 * an address or a text. */
#ifndef PREGON_INBOUND_H
#define PREGON_INBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "config.h"
#include "store.h"

#define INBOUND_HELD_MAX 10000

enum inbound_kind {
	INBOUND_MESSAGE,	/* a person wrote to us */
	INBOUND_RECEIPT,	/* the provider tells us about a message we sent */
};

/* An item; its strings are copied (they need live only during the call). */
struct inbound_item {
	enum inbound_kind kind;
	enum channel channel;
	/* The provider's id: of the message received (INBOUND_MESSAGE: each
	 * one is handled once), or of the message we sent (INBOUND_RECEIPT). */
	const char *provider_id;
	/* INBOUND_MESSAGE: the sender, normalised as the channel writes
	 * addresses (channel.h), and the text ("" for none: a picture). */
	const char *from;
	const char *text;
	/* INBOUND_RECEIPT: "sent", "delivered", "undelivered", "failed" or
	 * "read", and the provider's error code ("twilio 30007") or "". */
	const char *status;
	const char *error;
};

/* What inbound messages said, per channel (for the channel's metrics). */
struct inbound_counts {
	uint64_t stops, starts, helps, replies;
};

struct inbound_held;

struct inbound {
	const struct config *cfg;
	struct store *store;
	struct inbound_counts counts[CHANNEL_COUNT];
	/* Held while Redis is away, oldest first. */
	struct inbound_held *held_head, *held_tail;
	size_t n_held;
	size_t n_writing;		/* sent to Redis, not yet answered */
	void (*drained)(struct inbound *in);	/* inbound_stop's, once */
};

/* The item's outcome: 0 when it is stored, or held for Redis (the
 * provider can be told it arrived); -1 when it is neither (the provider
 * should try again: 503). */
typedef void (*inbound_done_cb)(void *data, int status);

void inbound_init(struct inbound *in, const struct config *cfg, struct store *store);

/* Takes an item. Returns 0 and calls done exactly once, later or, when
 * the item is held for Redis, before returning; or -1 (out of memory) and
 * never calls done. */
int inbound_feed(struct inbound *in, const struct inbound_item *item, inbound_done_cb done,
		 void *data);

/* What the channel's inbound messages said so far. */
const struct inbound_counts *inbound_counts(const struct inbound *in, enum channel ch);

/* For a shutdown, once no provider can feed more (the HTTP server is
 * closed): calls drained when every item taken is written, or when what is
 * left is held while Redis is away (inbound_close then logs it lost). */
void inbound_stop(struct inbound *in, void (*drained)(struct inbound *in));

/* Frees what is still held for Redis (logged: it is lost). */
void inbound_close(struct inbound *in);

#endif
