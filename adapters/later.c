/* later.c: keys of providers this version does not have (see below). */
#include "config.h"

/* Keys that config/pregon.conf (and CONTRACT.md section 6) already name
 * for providers this version does not have: SMTP for [email]. They are
 * accepted and not used. The provider that reads them takes them into its
 * own table and off this one (the native Signal provider took [signal]
 * url and account). */
struct later_config {
	char email_url[CONFIG_STR_MAX];
	char email_username[256];
	char email_password_file[CONFIG_STR_MAX];
};

static const struct config_key later_keys[] = {
	CONFIG_STR(struct later_config, "email", "url", email_url, ""),
	CONFIG_STR(struct later_config, "email", "username", email_username, ""),
	CONFIG_SECRET(struct later_config, "email", "password_file", email_password_file, ""),
};

const struct config_module later_config = {
	"later", later_keys, CONFIG_KEYS(later_keys), sizeof(struct later_config),
};
