/* redis_lib.c: loading and calling the Redis Functions library (see
 * redis_lib.h). */
#include "redis_lib.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

void redis_lib_init(struct redis_lib *l, const struct config *cfg)
{
	memset(l, 0, sizeof(*l));
	l->prefix = cfg->redis_prefix;
	snprintf(l->max_len, sizeof(l->max_len), "%lld", (long long)cfg->events_max_len);
	snprintf(l->retention_s, sizeof(l->retention_s), "%lld",
		 (long long)cfg->events_retention_days * 86400);
	snprintf(l->dedupe_s, sizeof(l->dedupe_s), "%lld", (long long)cfg->jobs_dedupe_days * 86400);
}

int redis_lib_head(struct redis_lib *l, const char *fn, const char **argv)
{
	/* Only the test clock passes a time: otherwise every instance decides
	 * by Redis' TIME, the one clock they share. */
	l->now[0] = '\0';
	if (clock_test_enabled())
		snprintf(l->now, sizeof(l->now), "%lld", (long long)clock_now_ms());
	argv[0] = "FCALL";
	argv[1] = fn;
	argv[2] = "0";
	argv[3] = l->prefix;
	argv[4] = l->max_len;
	argv[5] = l->retention_s;
	argv[6] = l->dedupe_s;
	argv[7] = l->now;
	return REDIS_LIB_HEAD;
}

void redis_lib_load_argv(const char **argv)
{
	argv[0] = "FUNCTION";
	argv[1] = "LOAD";
	argv[2] = "REPLACE";
	argv[3] = lua_lib;
}

bool redis_lib_missing(const char *err, size_t len)
{
	static const char what[] = "Function not found";

	return memmem(err, len, what, sizeof(what) - 1) != NULL;
}
