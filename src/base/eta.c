/* eta.c: an alert's estimated finish (eta.h). */
#include "eta.h"

#include <string.h>

int eta_status_final(const char *s)
{
	static const char *const final[] = { "sent", "delivered", "read", "failed", "undelivered",
					     "suppressed", "expired", "cancelled", "replied",
					     "clicked" };

	for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
		if (strcmp(s, final[i]) == 0)
			return 1;
	return 0;
}

void eta_estimate(const struct eta_channel ch[CHANNEL_COUNT], long long elapsed_ms,
		  struct eta *out)
{
	memset(out, 0, sizeof(*out));
	for (int c = 0; c < CHANNEL_COUNT; c++) {
		double measured = 0, rate;

		long long ms;

		if (ch[c].remaining <= 0)
			continue;
		if (ch[c].done > 0 && elapsed_ms > 0)
			measured = (double)ch[c].done * 1000.0 / (double)elapsed_ms;
		rate = measured;
		if (ch[c].rate_cfg > 0 && (rate <= 0 || rate > ch[c].rate_cfg))
			rate = ch[c].rate_cfg;
		out->rate[c] = rate;
		ms = rate > 0 ? (long long)((double)ch[c].remaining * 1000.0 / rate) : -1;
		if (ms < 0)
			out->ms = -1;
		else if (out->ms >= 0 && ms > out->ms)
			out->ms = ms;
	}
}
