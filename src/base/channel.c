/* channel.c: the table of channels (see channel.h). */
#include "channel.h"

#include <stddef.h>
#include <string.h>

static const struct channel_info channels[CHANNEL_COUNT] = {
	[CHANNEL_SMS] = {
		.name = "sms", .field = "phone", .address = ADDRESS_PHONE,
		.provider = "outbox", .concurrency = "64",
		.help_text = "Reminders from your legal team. Reply STOP to stop, START to resume.",
	},
	[CHANNEL_EMAIL] = {
		.name = "email", .field = "email", .address = ADDRESS_EMAIL, .subject = true,
		.provider = "outbox", .concurrency = "16",
	},
	[CHANNEL_SIGNAL] = {
		.name = "signal", .field = "signal", .address = ADDRESS_PHONE,
		.provider = "outbox", .concurrency = "16",
		.help_text = "Messages from your legal team. Reply STOP to stop Signal messages, "
			     "START to resume.",
	},
};

const struct channel_info *channel_info(enum channel ch)
{
	return &channels[ch];
}

const char *channel_name(enum channel ch)
{
	if ((int)ch < 0 || ch >= CHANNEL_COUNT)
		return "unknown";
	return channels[ch].name;
}

int channel_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < CHANNEL_COUNT; i++)
		if (strcmp(name, channels[i].name) == 0)
			return i;
	return -1;
}
