/* signal_cli.h: what the files of the signal-cli provider share
 * (adapters/signal_cli/): its [signal] keys, the JSON-RPC `send` and what
 * its answer means (signal_cli_rpc.c), the event stream of receipts and
 * messages (signal_cli_events.c) and what its envelopes mean
 * (signal_cli_envelope.c). signal_cli.c is the adapter.
 *
 * signal-cli's HTTP daemon (`signal-cli daemon --http`, man page
 * signal-cli-jsonrpc(5)) serves POST /api/v1/rpc (JSON-RPC 2.0), GET
 * /api/v1/events (server-sent events) and GET /api/v1/check. It has no
 * authentication: pregon talks to it on this machine only. */
#ifndef PREGON_ADAPTERS_SIGNAL_CLI_H
#define PREGON_ADAPTERS_SIGNAL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "config.h"
#include "inbound_item.h"
#include "util.h"

/* Its keys, all in [signal] (config/pregon.conf explains each). */
struct signal_cli_config {
	char url[CONFIG_STR_MAX];	/* http://127.0.0.1:8080 or unix:/path */
	char account[64];		/* E.164; "" for a single-account daemon */
	int64_t timeout_ms;		/* one send, in total */
	int breaker_failures;		/* failures in a row that open the breaker */
	int64_t breaker_cooldown_ms;	/* before a probe is let through */
};

extern const struct config_module signal_cli_config;

/* Where signal-cli is: the base URL for requests (no trailing '/') and,
 * for url = unix:/path, the socket (then base is http://localhost). */
struct signal_cli_where {
	char base[CONFIG_STR_MAX];
	char unix_socket[CONFIG_STR_MAX];	/* "" for TCP */
};

/* Checks [signal] url: http:// only to this machine (127.0.0.0/8, [::1],
 * localhost: the daemon has no authentication and the texts would cross
 * the network in the clear), https:// (a TLS proxy in front), or unix:
 * and an absolute path. May look a host name up (blocking): call at
 * start. Returns 0, or -1 with err ("[signal] url: ..."). */
int signal_cli_where_parse(const char *url, struct signal_cli_where *w, struct err *err);

/* ---- signal_cli_rpc.c ---- */

#define SIGNAL_CLI_RCPT_MAX 64	/* "u:" + a username, a UUID or a number */

/* The request body of a `send` of text to one recipient (an E.164
 * number, an ACI UUID, or a username sent as "u:name.01", as signal-cli's
 * RecipientIdentifier reads them), with params.account when account is
 * not "". Returns 0, or -1 (out of memory). */
int signal_cli_send_body(struct buf *out, uint64_t id, const char *to, const char *account,
			 const char *text);

/* How signal-cli answered a send, decided from the JSON-RPC response. */
enum signal_cli_outcome {
	SCO_SUCCESS,		/* results[].type SUCCESS */
	SCO_UNREGISTERED,	/* UNREGISTERED_FAILURE, or "not registered" (-1, no results) */
	SCO_NETWORK,		/* NETWORK_FAILURE, or an IO error (-3) */
	SCO_RATE_LIMIT,		/* RATE_LIMIT_FAILURE without a challenge, or -5 */
	SCO_PROOF_REQUIRED,	/* a result with a challenge token (captcha) */
	SCO_IDENTITY,		/* IDENTITY_FAILURE, or -4 (untrusted key) */
	SCO_INVALID_PRE_KEY,	/* INVALID_PRE_KEY_FAILURE */
	SCO_USER_ERROR,		/* -1 without a result: signal-cli refused the request */
	SCO_RPC_ERROR,		/* a JSON-RPC protocol error (-32xxx) or -6 */
	SCO_BAD_ANSWER,		/* not a JSON-RPC answer to this request */
	SCO_COUNT
};

struct signal_cli_answer {
	enum signal_cli_outcome outcome;
	int64_t timestamp;		/* result.timestamp, or 0 */
	int64_t retry_after_s;		/* retryAfterSeconds, or -1 */
	long rpc_code;			/* error.code, or 0 */
	char token[80];			/* the challenge token (proof required), or "" */
	char uuid[40];			/* results[].recipientAddress.uuid, or "" */
	char number[20];		/* results[].recipientAddress.number, or "" */
};

/* Reads the body of an HTTP 200 answer to request id. Fills *a (never
 * fails: what is not understood is SCO_BAD_ANSWER). */
void signal_cli_answer_parse(const char *body, size_t len, uint64_t id,
			     struct signal_cli_answer *a);

/* The outcome's name for logs and metric labels ("unregistered", ...). */
const char *signal_cli_outcome_name(enum signal_cli_outcome o);


/* ---- signal_cli_envelope.c, signal_cli_events.c ---- */

/* What the event stream found, for the provider's metrics. */
struct signal_cli_stream_counts {
	uint64_t connects, drops;	/* streams opened (HTTP 200), and ended */
	uint64_t receipts, messages;	/* fed to inbound.h */
	uint64_t ignored;		/* envelopes of no concern (typing, sync, groups) */
	uint64_t bad;			/* events over the bounds or not JSON */
	uint64_t lost;			/* items neither Redis nor the spool could take */
};

/* Turns one event's data (the JSON of a `receive` event) into inbound
 * items and calls feed for each (at most one message, or one receipt per
 * timestamp). Returns 0, or -1 when the data is not an envelope. */
typedef int (*signal_cli_feed_cb)(void *data, const struct inbound_item *item);
int signal_cli_event_items(const char *json, size_t len, enum channel ch,
			   signal_cli_feed_cb feed, void *data,
			   struct signal_cli_stream_counts *n);

/* The stream: GET {base}/api/v1/events[?account=], consumed as long as
 * the adapter is open, reconnected with backoff and jitter. */
struct signal_cli_stream;

int signal_cli_stream_start(struct signal_cli_stream **out, const struct adapter_env *env,
			    enum channel ch, const struct signal_cli_where *w,
			    const char *account, struct err *err);

bool signal_cli_stream_up(const struct signal_cli_stream *s);
const struct signal_cli_stream_counts *signal_cli_stream_counts(const struct signal_cli_stream *s);

/* Stops it; closed(data) runs from the loop once nothing of it is left
 * (no transfer, no timer, no item still out to inbound.h). */
void signal_cli_stream_close(struct signal_cli_stream *s, void (*closed)(void *data), void *data);

#endif
