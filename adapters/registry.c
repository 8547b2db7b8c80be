/* registry.c: the table of providers.
 *
 * One row per provider: its adapter_ops, defined in its folder, names
 * everything about it (its config keys, open, send, close, metrics).
 * [<channel>] provider picks one by name. Nothing here includes config.h:
 * config.c reads the providers' keys through adapter_config_at. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "adapter.h"

extern const struct adapter_ops outbox_adapter_ops;
extern const struct adapter_ops faulty_adapter_ops;
extern const struct adapter_ops twilio_adapter_ops;
extern const struct adapter_ops signal_cli_adapter_ops;
extern const struct adapter_ops signal_native_adapter_ops;
extern const struct adapter_ops smtp_adapter_ops;

static const struct adapter_ops *const adapters[] = {
	&outbox_adapter_ops,
	&faulty_adapter_ops,
	&twilio_adapter_ops,
	&signal_cli_adapter_ops,
	&signal_native_adapter_ops,
	&smtp_adapter_ops,
};

#define N_ADAPTERS (sizeof(adapters) / sizeof(adapters[0]))

const struct adapter_ops *adapter_find(const char *name)
{
	for (size_t i = 0; i < N_ADAPTERS; i++)
		if (strcmp(adapters[i]->name, name) == 0)
			return adapters[i];
	return NULL;
}

const struct config_module *adapter_config_at(size_t i)
{
	for (size_t a = 0; a < N_ADAPTERS; a++) {
		if (adapters[a]->config == NULL)
			continue;
		if (i-- == 0)
			return adapters[a]->config;
	}
	return NULL;
}
