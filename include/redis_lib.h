/* redis_lib.h: how pregond and pregon load and call the Redis Functions
 * library built from src/lua/ (build/gen/lua_lib.h names its functions
 * and the positions of their arguments and replies).
 *
 * The library is named for a hash of its text (pregon_<h>) and so are its
 * functions: an instance calls only the library it was built with, also
 * while another version runs beside it during a rolling upgrade. Loading
 * is FUNCTION LOAD REPLACE of the same text, which any instance may repeat;
 * Redis keeps functions in its RDB and AOF. */
#ifndef PREGON_REDIS_LIB_H
#define PREGON_REDIS_LIB_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "lua_lib.h"

/* FCALL, the function, numkeys 0, then the common arguments. */
#define REDIS_LIB_HEAD (3 + LUA_COMMON_ARGS)

/* The common arguments of every call, formatted once from the config. */
struct redis_lib {
	const char *prefix;
	char max_len[24], retention_s[24], dedupe_s[24];
	char now[24];		/* the test clock's time, or "" */
};

void redis_lib_init(struct redis_lib *l, const struct config *cfg);

/* Fills argv[0 .. REDIS_LIB_HEAD - 1] for a call of fn (LUA_FN_...) and
 * returns REDIS_LIB_HEAD; the op's own arguments follow from there. The
 * strings point into l and stay valid until its next call. */
int redis_lib_head(struct redis_lib *l, const char *fn, const char **argv);

/* The command that loads the library: argv of 4. */
void redis_lib_load_argv(const char **argv);

/* True when err (an error reply's text) says the library is not loaded
 * (FUNCTION FLUSH, or a Redis that lost its data): load it again. */
bool redis_lib_missing(const char *err, size_t len);

#endif
