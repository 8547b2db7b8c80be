/* fuzz_signal_cli.c: libFuzzer target for what pregon reads from
 * signal-cli (adapters/signal_cli/): an event's data on the stream
 * (signal_cli_event_items) and the answer to a `send`
 * (signal_cli_answer_parse). Both come from a local daemon that relays
 * what strangers send to the account.
 *
 * Input: the bytes, read both ways. Beyond "no crash, no leak, no UB" it
 * checks what the rest of pregon relies on:
 * - an item's provider id is printable ASCII without spaces, a receipt's
 *   status is delivered or read, a message's sender is an address
 *   signal_address_check accepts as it is, and its text is at most 16 KiB;
 * - an answer's outcome is a known one, and its token, uuid and number
 *   hold no control characters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"
#include "../../adapters/signal_cli/signal_cli.h"

static void plain(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

static int check_item(void *data, const struct inbound_item *item)
{
	char addr[SIGNAL_ADDRESS_MAX + 1];
	struct err err;

	(void)data;
	if (item->provider_id == NULL || item->provider_id[0] == '\0')
		abort();
	plain(item->provider_id);
	if (item->kind == INBOUND_RECEIPT) {
		if (strcmp(item->status, "delivered") != 0 && strcmp(item->status, "read") != 0)
			abort();
	} else {
		if (signal_address_check(item->from, addr, &err) != 0 || strcmp(addr, item->from) != 0)
			abort();
		if (strlen(item->text) > 16 * 1024)
			abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signal_cli_stream_counts n = { 0 };
	struct signal_cli_answer a;

	signal_cli_event_items((const char *)data, size, CHANNEL_SIGNAL, check_item, NULL, &n);
	signal_cli_answer_parse((const char *)data, size, 3, &a);
	if ((unsigned)a.outcome >= SCO_COUNT)
		abort();
	plain(a.token);
	plain(a.uuid);
	plain(a.number);
	return 0;
}
