/* inbound_item.h: one thing a person or a provider sent back, as a
 * provider hands it to inbound_feed() (inbound.h). Apart from inbound.h so
 * that what turns a provider's format into items (and its fuzzer) needs
 * nothing of Redis or the loop. */
#ifndef PREGON_INBOUND_ITEM_H
#define PREGON_INBOUND_ITEM_H

#include "channel.h"

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

#endif
