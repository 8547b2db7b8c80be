/* channel.h: the channels, and what varies by channel, in one table.
 *
 * A channel is a way to reach a person (sms, email, signal); a provider
 * (adapters/) is what carries it. Everything that differs from one channel
 * to the next is a field of its row in channel.c: its name (the config
 * section, the name in jobs, events, Redis keys and metric labels), the
 * recipient field that holds its address and how such an address is
 * checked, and the defaults of its [<channel>] keys. The order of the rows
 * is the default order of preference (CONTRACT.md section 2: sms, email,
 * signal). Adding a channel is a value of enum channel and a row; the Lua
 * library names channels too (src/lua/pregon.lua, default_chain and the
 * contact fields it forgets on contact_delete). */
#ifndef PREGON_CHANNEL_H
#define PREGON_CHANNEL_H

#include <stdbool.h>

enum channel {
	CHANNEL_SMS,
	CHANNEL_EMAIL,
	CHANNEL_SIGNAL,
	CHANNEL_COUNT
};

/* How an address on the channel is written (and checked, normalised). */
enum channel_address {
	ADDRESS_PHONE,		/* E.164 (validate.h phone_check_e164) */
	ADDRESS_EMAIL,		/* validate.h email_check, compared in lower case */
};

struct channel_info {
	const char *name;		/* "sms" */
	const char *field;		/* the recipient's field with its address: "phone" */
	enum channel_address address;
	bool subject;			/* its messages have a subject line (email) */
	/* Defaults of its [<name>] keys (config.c). */
	const char *provider;		/* provider */
	const char *concurrency;	/* concurrency */
	const char *help_text;		/* help_text, the answer to HELP; NULL: no such key */
};

/* The channel's row; ch must be a channel. */
const struct channel_info *channel_info(enum channel ch);

/* Its name, or "unknown" for a value that is not a channel. */
const char *channel_name(enum channel ch);

/* The channel called name, or -1. */
int channel_from_name(const char *name);

#endif
