/* config_find.c: -c, then $PREGON_CONF, then the installed config
 * (config_find.h). */
#include "config_find.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PREGON_SYSCONFDIR
#define PREGON_SYSCONFDIR "/etc"
#endif

const char *config_installed_path(void)
{
	return PREGON_SYSCONFDIR "/pregon/pregon.conf";
}

static int take(struct config_found *out, const char *path, enum config_source source,
		const char *what, struct err *err)
{
	if (strlen(path) >= sizeof(out->path))
		return err_set(err, "%s: path longer than %zu bytes", what, sizeof(out->path) - 1);
	snprintf(out->path, sizeof(out->path), "%s", path);
	out->source = source;
	return 0;
}

int config_find(const char *option, struct config_found *out, struct err *err)
{
	const char *env = getenv("PREGON_CONF");

	if (option != NULL)
		return take(out, option, CONFIG_FROM_OPTION, "-c", err);
	if (env != NULL && env[0] != '\0')
		return take(out, env, CONFIG_FROM_ENV, "PREGON_CONF", err);
	if (access(config_installed_path(), F_OK) == 0)
		return take(out, config_installed_path(), CONFIG_FROM_INSTALLED, "config", err);
	return err_set(err, "no config file: give -c FILE, set PREGON_CONF, or install %s "
		       "(make install; config/pregon.conf is the example)", config_installed_path());
}

const char *config_source_name(enum config_source source)
{
	switch (source) {
	case CONFIG_FROM_OPTION: return "-c";
	case CONFIG_FROM_ENV: return "PREGON_CONF";
	default: return "the installed default";
	}
}
