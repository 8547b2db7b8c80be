/* nofile.c: the open-file limit (see nofile.h). */
#include "nofile.h"

#include <limits.h>
#include <sys/resource.h>

long nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = { rl.rlim_max, rl.rlim_max };

		/* An unlimited hard limit may still be refused above
		 * fs.nr_open: then 1 Mi, Linux's default nr_open. */
		if (setrlimit(RLIMIT_NOFILE, &want) != 0 && rl.rlim_max == RLIM_INFINITY) {
			want.rlim_cur = 1048576;
			(void)setrlimit(RLIMIT_NOFILE, &want);
		}
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return -1;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)LONG_MAX)
		return LONG_MAX;
	return (long)rl.rlim_cur;
}

int nofile_check(long max_connections, long reserve, long limit, struct err *err)
{
	long need = max_connections + 1 + reserve;

	if (limit < 0 || need <= limit)
		return 0;
	return err_set(err, "[http] max_connections: %ld connections and %ld descriptors kept "
		       "for Redis, MQTT, the outbox, the log, templates and provider sockets "
		       "need %ld, over the open-file limit of %ld (raise LimitNOFILE, or "
		       "lower [http] max_connections to %ld or less)",
		       max_connections, reserve, need, limit,
		       limit - 1 - reserve > 0 ? limit - 1 - reserve : 0);
}
