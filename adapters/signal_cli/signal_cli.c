/* signal_cli.c: Signal through signal-cli's HTTP daemon
 * (`[signal] provider = signal-cli`; see signal_cli.h).
 *
 * One JSON-RPC `send` per message (signal_cli_rpc.c says what its answer
 * means), and the event stream for receipts and replies
 * (signal_cli_events.c). The outcome per recipient:
 *
 *   SUCCESS                 sent; provider id = the timestamp and a hash
 *                           of the recipient (receipts name both)
 *   UNREGISTERED_FAILURE    permanent: the next channel
 *   NETWORK_FAILURE, -3     temporary; counts against the breaker
 *   RATE_LIMIT_FAILURE      Signal throttles the account: temporary after
 *                           retryAfterSeconds, but an urgent message goes
 *                           to its next channel at once (permanent here)
 *   proof required          permanent, and the account is throttled: the
 *                           operator solves a captcha (README, "Signal")
 *   IDENTITY_FAILURE        permanent: a safety number changed
 *   INVALID_PRE_KEY_FAILURE permanent: the recipient's keys are stale
 *   HTTP or JSON-RPC errors temporary; count against the breaker
 *
 * While Signal throttles the account (after a rate limit or a captcha, until
 * its retryAfterSeconds) nothing is attempted: an urgent message goes to
 * its next channel at once, any other waits (deferred, the attempt not
 * counted) for the throttle to end. /healthz and /metrics say since when.
 * Errors carry codes and pregon's words, never signal-cli's message, which
 * may quote the number. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "clock.h"
#include "http_client.h"
#include "inbound.h"
#include "log.h"
#include "metrics.h"
#include "provider_sends.h"
#include "util.h"
#include "validate.h"

#include "signal_cli.h"

/* A text's bytes: Signal sends up to 2,000 characters inline and longer
 * ones as an attachment signal-cli makes; this only bounds memory. */
#define SIGNAL_MAX_BODY_BYTES (64 * 1024)
/* Throttles without a retryAfterSeconds: Signal's rate limits last
 * minutes; a captcha is asked for until it is solved. */
#define THROTTLE_DEFAULT_MS (60 * 1000)
#define PROOF_DEFAULT_MS (15 * 60 * 1000)

enum throttle_reason { THROTTLE_NONE, THROTTLE_RATE_LIMIT, THROTTLE_CAPTCHA };

struct signal_cli {
	struct adapter *a;
	const struct signal_cli_config *conf;
	struct signal_cli_where where;
	char rpc_url[CONFIG_STR_MAX + 32];
	struct signal_cli_stream *stream;
	struct breaker breaker;
	uint64_t next_id;		/* JSON-RPC request ids */
	struct provider_sends sends;	/* requests out and answers queued */
	/* Signal's throttle of the account. */
	uint64_t throttled_until;	/* uv_now ms; the throttle is on before it */
	int64_t throttled_since;	/* Unix ms of the first answer, or 0 */
	enum throttle_reason reason;
	int64_t last_retry_after_s;	/* Signal's latest hint */
	uint64_t throttles;		/* times it began */
	uint64_t outcomes[SCO_COUNT];
	uint64_t http_errors;
	bool rpc_warned;
	adapter_closed_cb closed;
	bool closing, stream_open;
};

struct signal_cli_send {
	struct provider_send base;	/* first: the books keep it */
	struct signal_cli *sc;
	uint64_t id;			/* the JSON-RPC request's */
};

/* ---- setup ---- */

int signal_cli_where_parse(const char *url, struct signal_cli_where *w, struct err *err)
{
	struct err e;
	size_t n = strlen(url);

	memset(w, 0, sizeof(*w));
	if (n == 0)
		return err_set(err, "[signal] url: set it for provider signal-cli "
			       "(http://127.0.0.1:8080, where signal-cli daemon --http listens)");
	if (strncmp(url, "unix:", 5) == 0) {
		if (url[5] != '/' || n - 5 >= sizeof(w->unix_socket))
			return err_set(err, "[signal] url: unix: must be followed by an absolute path");
		snprintf(w->unix_socket, sizeof(w->unix_socket), "%s", url + 5);
		snprintf(w->base, sizeof(w->base), "http://localhost");
		return 0;
	}
	if (http_url_check_transport(url, &e) != 0)
		return err_set(err, "[signal] url: %s (signal-cli's daemon has no authentication: "
			       "bind it to 127.0.0.1 or put it behind a TLS proxy)", e.msg);
	while (n > 0 && url[n - 1] == '/')
		n--;
	snprintf(w->base, sizeof(w->base), "%.*s", (int)n, url);
	return 0;
}

static void on_check(void *data, const struct http_response *res)
{
	(void)data;
	if (res->error == HTTP_OK && res->status == 200)
		log_info("signal: signal-cli answers /api/v1/check");
	else if (res->error != HTTP_ERR_CANCELLED)
		log_warn("signal: signal-cli does not answer /api/v1/check (%s %ld): messages wait "
			 "until it does", res->error == HTTP_OK ? "HTTP" : "error",
			 res->error == HTTP_OK ? res->status : (long)res->error);
}

static void after_send(void *owner);

static int signal_cli_open(struct adapter *a, const struct adapter_env *env, struct err *err)
{
	const struct signal_cli_config *conf = config_module_get(env->cfg, &signal_cli_config);
	struct signal_cli *sc;
	char e164[PHONE_E164_MAX + 1];

	if (env->http == NULL || env->curl == NULL)
		return err_set(err, "[signal] provider signal-cli: no HTTP client");
	if (conf->account[0] != '\0' && phone_check_e164(conf->account, e164, err) != 0) {
		err_prefix(err, "[signal] account");
		return -1;
	}
	sc = calloc(1, sizeof(*sc));
	if (sc == NULL)
		return err_set(err, "[signal] signal-cli: out of memory");
	if (signal_cli_where_parse(conf->url, &sc->where, err) != 0) {
		free(sc);
		return -1;
	}
	if (strncmp(conf->url, "https://", 8) == 0)
		log_warn("[signal] url is https://: make sure what answers there lets only pregond "
			 "in (signal-cli itself has no authentication)");
	snprintf(sc->rpc_url, sizeof(sc->rpc_url), "%s/api/v1/rpc", sc->where.base);
	breaker_init(&sc->breaker, conf->breaker_failures, conf->breaker_cooldown_ms);
	sc->a = a;
	sc->conf = conf;
	sc->next_id = 1;
	if (signal_cli_stream_start(&sc->stream, env, a->channel, &sc->where, conf->account,
				    err) != 0) {
		free(sc);
		return -1;
	}
	sc->stream_open = true;
	provider_sends_init(&sc->sends, env->loop, after_send, sc);
	a->state = sc;

	char check_url[CONFIG_STR_MAX + 32];
	struct err e;

	snprintf(check_url, sizeof(check_url), "%s/api/v1/check", sc->where.base);
	struct http_request hr = { .method = "GET", .url = check_url, .timeout_ms = 5000,
				   .max_response_bytes = 4096,
				   .unix_socket = sc->where.unix_socket[0] ? sc->where.unix_socket : NULL };
	if (http_client_request(env->http, &hr, on_check, NULL, NULL, &e) != 0)
		log_warn("signal: %s", e.msg);
	log_info("signal: signal-cli at %s, account %s", conf->url,
		 conf->account[0] ? "set" : "the daemon's own");
	return 0;
}

static int signal_cli_prepare(struct adapter *a, const struct send_req *req, struct err *err)
{
	char to[SIGNAL_ADDRESS_MAX + 1];

	(void)a;
	if (signal_address_check(req->to, to, err) != 0) {
		err_prefix(err, "to");
		return -1;
	}
	if (req->body[0] == '\0')
		return err_public(err, "body: empty");
	if (strlen(req->body) > SIGNAL_MAX_BODY_BYTES)
		return err_public(err, "body: over %d bytes", SIGNAL_MAX_BODY_BYTES);
	return 0;
}

/* ---- the throttle ---- */

static bool throttled(const struct signal_cli *sc, uint64_t now)
{
	return sc->throttled_until > now;
}

static const char *reason_name(enum throttle_reason r)
{
	return r == THROTTLE_CAPTCHA ? "captcha" : r == THROTTLE_RATE_LIMIT ? "rate_limit" : "none";
}

/* Signal said to slow down: nothing is attempted until `ms` from now. */
static void throttle(struct signal_cli *sc, enum throttle_reason why, int64_t ms,
		     const char *token)
{
	uint64_t now = uv_now(sc->a->env->loop);
	bool began = !throttled(sc, now);
	/* A captcha is told about whenever it is new, also in a rate limit. */
	bool told = began || (why == THROTTLE_CAPTCHA && sc->reason != THROTTLE_CAPTCHA);

	if (now + (uint64_t)ms > sc->throttled_until)
		sc->throttled_until = now + (uint64_t)ms;
	if (began || why == THROTTLE_CAPTCHA)
		sc->reason = why;
	if (began) {
		sc->throttles++;
		sc->throttled_since = clock_now_ms();
	}
	if (!told)
		return;
	if (why == THROTTLE_CAPTCHA)
		log_error("signal: Signal asks for a captcha (challenge %s): urgent messages go to "
			  "their next channel, others wait %lld s; solve it at "
			  "https://signalcaptchas.org/challenge/generate.html and send signal-cli "
			  "submitRateLimitChallenge (README: Signal through signal-cli)", token,
			  (long long)(ms / 1000));
	else
		log_warn("signal: Signal rate-limits the account for %lld s: urgent messages go to "
			 "their next channel, others wait", (long long)(ms / 1000));
}

/* A send went through: the throttle, if its time is over, is too. */
static void unthrottle(struct signal_cli *sc, uint64_t now)
{
	if (sc->throttled_since != 0 && !throttled(sc, now)) {
		log_info("signal: Signal takes messages again");
		sc->throttled_since = 0;
		sc->reason = THROTTLE_NONE;
	}
}

/* ---- sending ---- */

static void on_sends_closed(void *owner)
{
	struct signal_cli *sc = owner;
	struct adapter *a = sc->a;
	adapter_closed_cb closed = sc->closed;

	a->state = NULL;
	free(sc);
	closed(a);
}

/* Closed once no send is out and the stream is gone. */
static void maybe_shut(struct signal_cli *sc)
{
	if (!sc->closing || sc->sends.inflight > 0 || sc->stream_open)
		return;
	sc->closing = false;
	provider_sends_close(&sc->sends, on_sends_closed);
}

static void after_send(void *owner)
{
	maybe_shut(owner);
}

static void on_stream_closed(void *data)
{
	struct signal_cli *sc = data;

	sc->stream_open = false;
	maybe_shut(sc);
}

static void sent(struct signal_cli *sc, const struct send_req *req,
		 const struct signal_cli_answer *an, struct send_result *out)
{
	const char *who = an->uuid[0] ? an->uuid : an->number[0] ? an->number : req->to;

	out->status = SEND_SENT;
	if (an->timestamp > 0)
		signal_provider_id(an->timestamp, who, out->provider_id);
	else
		log_warn("signal: signal-cli took a message but gave no timestamp: its receipts "
			 "cannot be matched");
	breaker_success(&sc->breaker);
	unthrottle(sc, uv_now(sc->a->env->loop));
}

/* What a rate limit means for this message: an urgent one goes to its
 * next channel now, another waits Signal's retryAfterSeconds. */
static void rate_limited(struct signal_cli *sc, const struct send_req *req,
			 const struct signal_cli_answer *an, struct send_result *out)
{
	int64_t ms = an->retry_after_s >= 0 ? an->retry_after_s * 1000 : THROTTLE_DEFAULT_MS;

	if (ms < 1000)
		ms = 1000;
	throttle(sc, THROTTLE_RATE_LIMIT, ms, "");
	if (req->urgent) {
		out->status = SEND_PERM_FAIL;
		snprintf(out->error, sizeof(out->error),
			 "signal-cli: RATE_LIMIT_FAILURE (retry after %lld s): urgent, so the next "
			 "channel now", (long long)(ms / 1000));
	} else {
		out->status = SEND_TEMP_FAIL;
		out->retry_after_ms = ms;
		snprintf(out->error, sizeof(out->error),
			 "signal-cli: RATE_LIMIT_FAILURE: retry after %lld s", (long long)(ms / 1000));
	}
	breaker_neutral(&sc->breaker);
}

static void decide(struct signal_cli *sc, const struct send_req *req,
		   const struct signal_cli_answer *an, struct send_result *out)
{
	uint64_t now = uv_now(sc->a->env->loop);
	int64_t ms;

	sc->outcomes[an->outcome]++;
	if (an->retry_after_s >= 0)
		sc->last_retry_after_s = an->retry_after_s;
	out->status = SEND_PERM_FAIL;
	switch (an->outcome) {
	case SCO_SUCCESS:
		sent(sc, req, an, out);
		return;
	case SCO_RATE_LIMIT:
		rate_limited(sc, req, an, out);
		return;
	case SCO_PROOF_REQUIRED:
		ms = an->retry_after_s > 0 ? an->retry_after_s * 1000 : PROOF_DEFAULT_MS;
		throttle(sc, THROTTLE_CAPTCHA, ms, an->token);
		snprintf(out->error, sizeof(out->error),
			 "signal-cli: proof required (captcha, challenge %s): solve it and send "
			 "signal-cli submitRateLimitChallenge (README: Signal)", an->token);
		breaker_neutral(&sc->breaker);
		return;
	case SCO_UNREGISTERED:
		snprintf(out->error, sizeof(out->error),
			 "signal-cli: UNREGISTERED_FAILURE: not a Signal user");
		break;
	case SCO_USER_ERROR:
		snprintf(out->error, sizeof(out->error),
			 "signal-cli: error -1: the recipient is not registered or not valid");
		break;
	case SCO_IDENTITY:
		snprintf(out->error, sizeof(out->error),
			 "signal-cli: IDENTITY_FAILURE: the recipient's safety number changed; "
			 "verify it, then send signal-cli trust (README: Signal)");
		break;
	case SCO_INVALID_PRE_KEY:
		snprintf(out->error, sizeof(out->error),
			 "signal-cli: INVALID_PRE_KEY_FAILURE: the recipient's devices offer no "
			 "valid keys (they must open Signal)");
		break;
	case SCO_NETWORK:
		out->status = SEND_TEMP_FAIL;
		/* A result says NETWORK_FAILURE; an error without one, -3 or -32603. */
		snprintf(out->error, sizeof(out->error), "signal-cli: %s: Signal not reachable",
			 an->timestamp > 0 ? "NETWORK_FAILURE" : "IO error");
		breaker_failure(&sc->breaker, now);
		return;
	default:
		out->status = SEND_TEMP_FAIL;
		if (an->outcome == SCO_RPC_ERROR)
			snprintf(out->error, sizeof(out->error), "signal-cli: JSON-RPC error %ld",
				 an->rpc_code);
		else
			snprintf(out->error, sizeof(out->error),
				 "signal-cli: an answer pregon cannot read");
		if (!sc->rpc_warned)
			log_error("signal: %s: every message waits until this is fixed (is [signal] "
				  "url signal-cli daemon --http, and [signal] account one of its "
				  "accounts?)", out->error);
		sc->rpc_warned = true;
		breaker_failure(&sc->breaker, now);
		return;
	}
	breaker_neutral(&sc->breaker);	/* permanent for this recipient only */
}

static void on_response(void *data, const struct http_response *res)
{
	struct signal_cli_send *s = data;
	struct signal_cli *sc = s->sc;
	struct send_result out = { 0 };
	struct signal_cli_answer an;

	s->base.call = NULL;
	if (res->error != HTTP_OK || res->status != 200) {
		out.status = SEND_TEMP_FAIL;
		sc->http_errors++;
		if (res->error == HTTP_OK)
			snprintf(out.error, sizeof(out.error), "signal-cli: HTTP %ld%s", res->status,
				 res->status == 421 ? " (Host not allowed: [signal] url must name "
				 "the address signal-cli listens on)" : "");
		else
			snprintf(out.error, sizeof(out.error), "signal-cli: %s",
				 http_error_words(res->error));
		if (res->error != HTTP_ERR_CANCELLED)
			breaker_failure(&sc->breaker, uv_now(sc->a->env->loop));
		provider_sends_finish(&sc->sends, &s->base, &out);
		return;
	}
	signal_cli_answer_parse(res->body, res->body_len, s->id, &an);
	decide(sc, s->base.req, &an, &out);
	if (out.status == SEND_SENT || out.status == SEND_PERM_FAIL)
		sc->rpc_warned = false;
	provider_sends_finish(&sc->sends, &s->base, &out);
}

/* Turned away without an attempt: the breaker is open, or Signal
 * throttles the account. Returns true when s is answered so. */
static bool turned_away(struct signal_cli *sc, struct provider_send *s)
{
	uint64_t now = uv_now(sc->a->env->loop);
	int64_t retry_in = 0;
	char since[32];

	if (throttled(sc, now)) {
		time_format_utc(sc->throttled_since, since);
		if (s->req->urgent) {
			s->res.status = SEND_PERM_FAIL;
			snprintf(s->res.error, sizeof(s->res.error),
				 "signal-cli: throttled by Signal (%s) since %s: urgent, so the next "
				 "channel now", reason_name(sc->reason), since);
		} else {
			s->res.status = SEND_DEFERRED;
			s->res.retry_after_ms = (int64_t)(sc->throttled_until - now);
			snprintf(s->res.error, sizeof(s->res.error),
				 "signal-cli: throttled by Signal (%s) since %s; not attempted",
				 reason_name(sc->reason), since);
		}
		return true;
	}
	if (!breaker_allow(&sc->breaker, now, &retry_in)) {
		s->res.status = SEND_DEFERRED;
		s->res.retry_after_ms = retry_in;
		snprintf(s->res.error, sizeof(s->res.error),
			 "signal-cli: circuit %s after %d failures in a row; not attempted",
			 breaker_state_name(sc->breaker.state), sc->breaker.failures);
		return true;
	}
	return false;
}

static int signal_cli_send(struct adapter *a, struct send_req *req, adapter_done_cb done)
{
	struct signal_cli *sc = a->state;
	struct signal_cli_send *s = provider_sends_new(&sc->sends, sizeof(*s), req, done);
	struct buf body = { 0 };
	int rc;

	if (s == NULL)
		return -1;
	s->sc = sc;
	if (turned_away(sc, &s->base)) {
		provider_sends_later(&sc->sends, &s->base);
		return 0;
	}
	s->id = sc->next_id++;
	if (signal_cli_send_body(&body, s->id, req->to, sc->conf->account, req->body) != 0) {
		buf_free(&body);
		provider_sends_forget(&sc->sends, &s->base);
		return -1;
	}
	static const char *const headers[] = {
		"Content-Type: application/json",	/* else 415 (HttpServerHandler) */
		"Accept: application/json",
		NULL,
	};
	struct http_request hr = {
		.method = "POST",
		.url = sc->rpc_url,
		.headers = headers,
		.body = body.p,
		.body_len = body.len,
		.timeout_ms = sc->conf->timeout_ms,
		.max_response_bytes = 64 * 1024,
		.unix_socket = sc->where.unix_socket[0] ? sc->where.unix_socket : NULL,
	};
	rc = provider_sends_request(&sc->sends, &s->base, a->env->http, &hr, on_response,
				    "signal");
	buf_free(&body);
	return rc;
}

static void signal_cli_close(struct adapter *a, adapter_closed_cb closed)
{
	struct signal_cli *sc = a->state;

	sc->closed = closed;
	sc->closing = true;
	provider_sends_cancel(&sc->sends);
	signal_cli_stream_close(sc->stream, on_stream_closed, sc);
}

/* ---- what it shows ---- */

static int64_t read_throttled(const void *p)
{
	const struct signal_cli *sc = p;

	return throttled(sc, uv_now(sc->a->env->loop)) ? 1 : 0;
}

static int64_t read_throttled_since(const void *p)
{
	const struct signal_cli *sc = p;

	return read_throttled(p) ? sc->throttled_since / 1000 : 0;
}

static int64_t read_stream_up(const void *p)
{
	const struct signal_cli *sc = p;

	return signal_cli_stream_up(sc->stream) ? 1 : 0;
}

static const struct metric_family results_total = {
	"pregon_signal_results_total", METRIC_COUNTER,
	"signal-cli's answers to sends, by result type.",
};
static const struct metric_family http_errors_total = {
	"pregon_signal_http_errors_total", METRIC_COUNTER,
	"Sends signal-cli did not answer with HTTP 200 (connection, timeout, status).",
};
static const struct metric_family throttled_family = {
	"pregon_signal_throttled", METRIC_GAUGE,
	"1 while Signal throttles the account (rate limit or captcha): urgent messages fall back.",
};
static const struct metric_family throttled_since_family = {
	"pregon_signal_throttled_since_seconds", METRIC_GAUGE,
	"Unix time the current throttle began, 0 when none.",
};
static const struct metric_family throttles_total = {
	"pregon_signal_throttles_total", METRIC_COUNTER, "Times Signal began throttling the account.",
};
static const struct metric_family retry_after_family = {
	"pregon_signal_retry_after_seconds", METRIC_GAUGE,
	"Signal's latest retryAfterSeconds (rate limit or captcha).",
};
static const struct metric_family stream_up_family = {
	"pregon_signal_stream_up", METRIC_GAUGE, "1 while the event stream from signal-cli is open.",
};
static const struct metric_family stream_total = {
	"pregon_signal_stream_total", METRIC_COUNTER,
	"The event stream: connects, drops, and the events it carried by kind.",
};
static const struct metric_family inbound_total = {
	"pregon_signal_inbound_total", METRIC_COUNTER, "Inbound Signal messages by what they said.",
};

static int signal_cli_metrics(struct adapter *a, struct metrics *m)
{
	struct signal_cli *sc = a->state;
	const struct signal_cli_stream_counts *n = signal_cli_stream_counts(sc->stream);
	const struct inbound_counts *in = inbound_counts(a->env->inbound, a->channel);

	for (int o = 0; o < SCO_COUNT; o++)
		if (metrics_counter(m, &results_total, &sc->outcomes[o], "type=\"%s\"",
				    signal_cli_outcome_name((enum signal_cli_outcome)o)) != 0)
			return -1;
	return metrics_counter(m, &http_errors_total, &sc->http_errors, NULL) ||
	       metrics_gauge(m, &throttled_family, read_throttled, sc, NULL) ||
	       metrics_gauge(m, &throttled_since_family, read_throttled_since, sc, NULL) ||
	       metrics_counter(m, &throttles_total, &sc->throttles, NULL) ||
	       metrics_gauge(m, &retry_after_family, metrics_read_i64, &sc->last_retry_after_s,
			     NULL) ||
	       metrics_gauge(m, &stream_up_family, read_stream_up, sc, NULL) ||
	       metrics_counter(m, &stream_total, &n->connects, "kind=\"connect\"") ||
	       metrics_counter(m, &stream_total, &n->drops, "kind=\"drop\"") ||
	       metrics_counter(m, &stream_total, &n->receipts, "kind=\"receipt\"") ||
	       metrics_counter(m, &stream_total, &n->messages, "kind=\"message\"") ||
	       metrics_counter(m, &stream_total, &n->ignored, "kind=\"ignored\"") ||
	       metrics_counter(m, &stream_total, &n->bad, "kind=\"bad\"") ||
	       metrics_counter(m, &stream_total, &n->lost, "kind=\"lost\"") ||
	       metrics_counter(m, &inbound_total, &in->stops, "intent=\"stop\"") ||
	       metrics_counter(m, &inbound_total, &in->starts, "intent=\"start\"") ||
	       metrics_counter(m, &inbound_total, &in->helps, "intent=\"help\"") ||
	       metrics_counter(m, &inbound_total, &in->replies, "intent=\"reply\"") ? -1 : 0;
}

/* ,"signal":{"provider":"signal-cli","stream":"up","throttled":false} and,
 * while throttled, "reason" and "throttled_since"/"throttled_until". */
static void signal_cli_health(struct adapter *a, struct buf *out)
{
	struct signal_cli *sc = a->state;
	uint64_t now = uv_now(a->env->loop);
	char since[32], until[32];

	buf_addf(out, ",\"%s\":{\"provider\":\"signal-cli\",\"stream\":\"%s\",\"throttled\":%s",
		 channel_name(a->channel), signal_cli_stream_up(sc->stream) ? "up" : "down",
		 throttled(sc, now) ? "true" : "false");
	if (throttled(sc, now)) {
		time_format_utc(sc->throttled_since, since);
		time_format_utc(clock_now_ms() + (int64_t)(sc->throttled_until - now), until);
		buf_addf(out, ",\"reason\":\"%s\",\"throttled_since\":\"%s\","
			 "\"throttled_until\":\"%s\"", reason_name(sc->reason), since, until);
	}
	buf_adds(out, "}");
}

/* Its keys, in [signal]; the others of [signal] (provider, rate, burst,
 * concurrency, help_text) are the channel's (channel.h). */
static const struct config_key signal_cli_keys[] = {
	CONFIG_STR(struct signal_cli_config, "signal", "url", url, ""),
	CONFIG_STR(struct signal_cli_config, "signal", "account", account, ""),
	CONFIG_DURATION(struct signal_cli_config, "signal", "timeout", timeout_ms, "30s", 100,
			300000),
	CONFIG_INT(struct signal_cli_config, "signal", "breaker_failures", breaker_failures, "10", 1,
		   100000),
	CONFIG_DURATION(struct signal_cli_config, "signal", "breaker_cooldown", breaker_cooldown_ms,
			"30s", 100, 3600000),
};

const struct config_module signal_cli_config = {
	"signal-cli", signal_cli_keys, CONFIG_KEYS(signal_cli_keys),
	sizeof(struct signal_cli_config),
};

const struct adapter_ops signal_cli_adapter_ops = {
	.name = "signal-cli",
	.config = &signal_cli_config,
	.open = signal_cli_open,
	.prepare = signal_cli_prepare,
	.send = signal_cli_send,
	.reopen = NULL,
	.close = signal_cli_close,
	.metrics = signal_cli_metrics,
	.health = signal_cli_health,
};
