/* eta.h: when an alert's last message will leave (issue 16).
 *
 * Per channel: what remains to send (messages not yet final) at the
 * channel's rate, which is the rate measured so far (messages finished
 * since the job was created) held to [<channel>] rate, the rate every
 * instance shares, when one is set; a channel with nothing finished yet
 * goes at its configured rate, or is unknown without one. The alert is
 * done when its slowest channel is. `pregon status` and the API's
 * GET /v1/jobs/{id} both use this, so they say the same. */
#ifndef PREGON_ETA_H
#define PREGON_ETA_H

#include "channel.h"

struct eta_channel {
	long long remaining;	/* not yet final: accepted, scheduled, sending */
	long long done;		/* final: sent, delivered, failed ... */
	double rate_cfg;	/* [<channel>] rate, messages per second; 0 = none */
};

struct eta {
	long long ms;			/* from now until the last one leaves; -1 unknown */
	double rate[CHANNEL_COUNT];	/* the rate used per channel (0: none left) */
};

/* elapsed_ms: since the job was created (its measured rates' base). */
void eta_estimate(const struct eta_channel ch[CHANNEL_COUNT], long long elapsed_ms,
		  struct eta *out);

/* True for the statuses a message does not leave (contract section 3;
 * delivered and read may still follow sent, but the send is done). */
int eta_status_final(const char *status);

#endif
