/* config_find.h: which config file pregond and pregon read (issue 13).
 *
 * One way for both: the -c FILE given, else $PREGON_CONF, else the
 * installed SYSCONFDIR/pregon/pregon.conf (`make install` writes it; the
 * Makefile compiles SYSCONFDIR in). Nothing found is an error that names
 * all three: neither program runs on built-in defaults without saying so,
 * since a daemon on defaults talks to another Redis than the operator
 * meant and queues jobs nobody reads. */
#ifndef PREGON_CONFIG_FIND_H
#define PREGON_CONFIG_FIND_H

#include <limits.h>

#include "err.h"

enum config_source {
	CONFIG_FROM_OPTION,	/* -c FILE */
	CONFIG_FROM_ENV,	/* $PREGON_CONF */
	CONFIG_FROM_INSTALLED,	/* SYSCONFDIR/pregon/pregon.conf */
};

struct config_found {
	char path[PATH_MAX];
	enum config_source source;
};

/* The installed config's path ("/etc/pregon/pregon.conf"). */
const char *config_installed_path(void);

/* Finds the file to read: option (-c, or NULL), then $PREGON_CONF (unset
 * or empty: not given), then the installed path when it exists. A file
 * named by -c or PREGON_CONF is taken as given (config_load says when it
 * cannot be read). Returns 0 with out filled, or -1 with err. */
int config_find(const char *option, struct config_found *out, struct err *err);

/* "-c", "PREGON_CONF" or "the installed default", for "config: PATH (from ...)". */
const char *config_source_name(enum config_source source);

#endif
