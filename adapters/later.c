/* later.c: keys of providers this version does not have (see below). */
#include "config.h"

/* Keys that config/pregon.conf (and CONTRACT.md section 6) already name
 * for providers this version does not have: signal-cli or native Signal
 * for [signal]. They are accepted and not used. The
 * provider that reads them takes them into its own table and off this
 * one. */
struct later_config {
	char signal_url[CONFIG_STR_MAX];
	char signal_account[64];
};

static const struct config_key later_keys[] = {
	CONFIG_STR(struct later_config, "signal", "url", signal_url, ""),
	CONFIG_STR(struct later_config, "signal", "account", signal_account, ""),
};

const struct config_module later_config = {
	"later", later_keys, CONFIG_KEYS(later_keys), sizeof(struct later_config),
};
