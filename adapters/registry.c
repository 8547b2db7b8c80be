/* registry.c: the table of channel adapters. */
#include <string.h>

#include "adapter.h"

extern const struct adapter_ops outbox_adapter_ops;
extern const struct adapter_ops faulty_adapter_ops;
extern const struct adapter_ops twilio_adapter_ops;

static const struct adapter_ops *const adapters[] = {
	&outbox_adapter_ops,
	&faulty_adapter_ops,
	&twilio_adapter_ops,
};

const struct adapter_ops *adapter_find(const char *name)
{
	for (size_t i = 0; i < sizeof(adapters) / sizeof(adapters[0]); i++)
		if (strcmp(adapters[i]->name, name) == 0)
			return adapters[i];
	return NULL;
}
