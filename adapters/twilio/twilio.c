/* twilio.c: SMS through Twilio's Programmable Messaging API, or any
 * provider that speaks it.
 *
 * One POST per message to {base_url}/2010-04-01/Accounts/{sid}/Messages.json
 * with HTTP basic auth and a form body (To, Body, From or
 * MessagingServiceSid, StatusCallback, ValidityPeriod when the message
 * expires); https://www.twilio.com/docs/messaging/api/message-resource.
 * The answer decides the outcome:
 *
 *   2xx                       sent, provider id = the Message sid
 *   429                       temporary, after Retry-After if given
 *   5xx, timeout, no answer   temporary; counts against the breaker
 *   401, 403, 404             temporary (credentials or account SID are
 *                             wrong: every message would fail alike);
 *                             counts against the breaker
 *   other 4xx                 permanent, with Twilio's error code; 21610
 *                             (the recipient replied STOP to the carrier)
 *                             opts the address out too
 *
 * Error texts carry the code and pregon's own words, never Twilio's
 * message, which may quote the phone number. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "adapter.h"
#include "breaker.h"
#include "clock.h"
#include "http_client.h"
#include "log.h"
#include "provider_sends.h"
#include "util.h"
#include "validate.h"

#include "twilio.h"
#include "twilio_url.h"

/* Twilio's own limits: 1600 characters of Body, ValidityPeriod 1..36000 s. */
#define TWILIO_MAX_BODY_CHARS 1600
#define TWILIO_MAX_VALIDITY_S 36000

struct twilio {
	struct adapter *a;
	const struct twilio_config *conf;
	struct twilio_webhooks webhooks;	/* mounted when there is a listener */
	bool webhooks_mounted;
	char url[CONFIG_STR_MAX + 128];
	char callback_url[CONFIG_STR_MAX + 32];
	char token[256];
	struct breaker breaker;
	struct provider_sends sends;	/* requests out and deferrals queued */
	adapter_closed_cb closed;
	bool closing;
	bool auth_warned;
};

struct twilio_send {
	struct provider_send base;	/* first: the books keep it */
	struct twilio *t;
};

/* ---- setup ---- */

static int check_sid(const char *sid, const char *prefix)
{
	if (strlen(sid) != 34 || strncmp(sid, prefix, 2) != 0)
		return -1;
	for (int i = 2; i < 34; i++)
		if (!isxdigit((unsigned char)sid[i]))
			return -1;
	return 0;
}

static void after_send(void *owner);

/* [http] public_url is where Twilio posts status callbacks and inbound
 * messages and what their signatures are checked against: without a
 * usable one every webhook would get 403 (a STOP never recorded) and
 * Twilio would be handed a callback it cannot call. So it must be an
 * absolute http(s) URL, or pregond does not start. Plain http beyond this
 * machine sends numbers and texts in the clear (and Twilio asks for
 * https), and a loopback URL while the API is elsewhere cannot be reached
 * by the provider: both are warned about, not refused (a proxy on the
 * same host, a test against a local fake). */
static int check_public_url(const struct config *cfg, const struct twilio_config *tc,
			    struct err *err)
{
	struct twilio_url_info pub, api;
	struct err ignored;

	if (twilio_url_check(cfg->http_public_url, &pub, err) != 0) {
		err_wrap(err, "[http] public_url: ");
		return -1;
	}
	if (!pub.https && !pub.loopback)
		log_warn("[http] public_url is http:// to another host: Twilio's webhooks (numbers, "
			 "texts) would travel unencrypted; use https://");
	if (pub.loopback && twilio_url_check(tc->base_url, &api, &ignored) == 0 && !api.loopback)
		log_warn("[http] public_url is a loopback address: the provider at [sms] base_url "
			 "cannot call it back (status callbacks and inbound messages are lost)");
	return 0;
}

static int twilio_open(struct adapter *a, const struct adapter_env *env, struct err *err)
{
	const struct config *cfg = env->cfg;
	const struct twilio_config *tc = config_module_get(cfg, &twilio_config);
	struct twilio *t;
	int base_len = config_url_base_len(tc->base_url);
	char from[PHONE_E164_MAX + 1];
	struct err e;

	if (env->http == NULL)
		return err_set(err, "[sms] provider twilio: no HTTP client");
	if (http_url_check_transport(tc->base_url, &e) != 0)
		return err_set(err, "[sms] base_url: %s", e.msg);
	if (check_sid(tc->account_sid, "AC") != 0)
		return err_set(err, "[sms] account_sid: must be AC and 32 hex digits");
	if (tc->messaging_service_sid[0] != '\0') {
		if (check_sid(tc->messaging_service_sid, "MG") != 0)
			return err_set(err, "[sms] messaging_service_sid: must be MG and 32 hex digits");
	} else if (tc->from[0] == '\0') {
		return err_set(err, "[sms] from: set it (or messaging_service_sid) for provider twilio");
	} else if (phone_check_e164(tc->from, from, err) != 0) {
		err_prefix(err, "[sms] from");
		return -1;
	}
	if (check_public_url(cfg, tc, err) != 0)
		return -1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return err_set(err, "[sms] twilio: out of memory");
	e.msg[0] = '\0';
	if (config_read_secret(tc->auth_token_file, "PREGON_SMS_AUTH_TOKEN", t->token,
			       sizeof(t->token), &e) != 0 || t->token[0] == '\0') {
		free(t);
		return err_set(err, "[sms] auth_token_file: %s", e.msg[0] ? e.msg : "empty");
	}
	snprintf(t->url, sizeof(t->url), "%.*s/2010-04-01/Accounts/%s/Messages.json",
		 base_len, tc->base_url, tc->account_sid);
	snprintf(t->callback_url, sizeof(t->callback_url), "%.*s/webhooks/sms/status",
		 config_url_base_len(cfg->http_public_url), cfg->http_public_url);
	breaker_init(&t->breaker, tc->breaker_failures, tc->breaker_cooldown_ms);
	if (env->routes != NULL) {
		if (twilio_webhooks_mount(&t->webhooks, env, a->channel, t->token, err) != 0) {
			free(t);
			return -1;
		}
		t->webhooks_mounted = true;
	}
	provider_sends_init(&t->sends, env->loop, after_send, t);
	t->a = a;
	t->conf = tc;
	a->state = t;
	log_info("sms: twilio at %.*s, account %.6s..., status callbacks to %s", base_len,
		 tc->base_url, tc->account_sid,
		 t->callback_url);
	return 0;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static int twilio_prepare(struct adapter *a, const struct send_req *req, struct err *err)
{
	(void)a;
	if (phone_text_check(req->to, req->body, err) != 0)
		return -1;
	if (utf8_chars(req->body) > TWILIO_MAX_BODY_CHARS)
		return err_public(err, "body: over Twilio's %d characters", TWILIO_MAX_BODY_CHARS);
	return 0;
}

/* ---- the request ---- */

/* application/x-www-form-urlencoded: every byte but the unreserved ones
 * escaped, which every decoder reads the same way. */
static void form_field(struct buf *b, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";

	if (b->len > 0)
		buf_add(b, "&", 1);
	buf_adds(b, name);
	buf_add(b, "=", 1);
	for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
		if (isalnum(*v) || *v == '-' || *v == '.' || *v == '_' || *v == '~') {
			buf_add(b, (const char *)v, 1);
		} else {
			char esc[3] = { '%', hex[*v >> 4], hex[*v & 15] };

			buf_add(b, esc, 3);
		}
	}
}

static void on_sends_closed(void *owner)
{
	struct twilio *t = owner;
	struct adapter *a = t->a;
	adapter_closed_cb closed = t->closed;

	a->state = NULL;
	free(t);
	closed(a);
}

static void shut(struct twilio *t)
{
	t->closing = false;
	provider_sends_close(&t->sends, on_sends_closed);
}

/* After each send is answered: a closing adapter shuts with its last. */
static void after_send(void *owner)
{
	struct twilio *t = owner;

	if (t->closing && t->sends.inflight == 0)
		shut(t);
}

/* What pregon says about a Twilio error code (never Twilio's own message:
 * it may quote the number). */
static const char *code_words(long code)
{
	switch (code) {
	case 21211: return "invalid To number";
	case 21408: return "sending to this region is not enabled";
	case 21602: return "message body required";
	case 21603: return "From or MessagingServiceSid required";
	case 21604: return "To required";
	case 21606: return "From is not a number of this account";
	case 21610: return "recipient unsubscribed (replied STOP to the carrier)";
	case 21612: return "cannot route to this number";
	case 21614: return "To is not a mobile number";
	case 21617: return "body too long";
	case 21624: return "invalid ValidityPeriod";
	case 20003: return "authentication failed: check [sms] account_sid and auth_token_file";
	case 20404: return "not found: check [sms] account_sid and base_url";
	case 20429: return "too many requests";
	case 30007: return "filtered by the carrier";
	}
	return "error";
}

static long error_code(const struct http_response *res)
{
	json_error_t jerr;
	json_t *doc, *code;
	long out = 0;

	if (res->body_len == 0)
		return 0;
	doc = json_loadb(res->body, res->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return 0;
	code = json_object_get(doc, "code");
	if (code == NULL)
		code = json_object_get(doc, "error_code");
	if (json_is_integer(code) && json_integer_value(code) > 0 &&
	    json_integer_value(code) < 1000000)
		out = (long)json_integer_value(code);
	json_decref(doc);
	return out;
}

static void sent_sid(const struct http_response *res, struct send_result *out)
{
	json_error_t jerr;
	json_t *doc = json_loadb(res->body, res->body_len, JSON_REJECT_DUPLICATES, &jerr);
	const char *sid = json_string_value(json_object_get(doc, "sid"));

	/* A sid is letters and digits ("SM" + 32 hex); anything else is not
	 * kept, so a strange answer cannot put odd bytes in events. */
	if (sid != NULL && strlen(sid) >= 2 && strlen(sid) < sizeof(out->provider_id)) {
		bool ok = true;

		for (const char *p = sid; *p; p++)
			if (!isalnum((unsigned char)*p))
				ok = false;
		if (ok)
			snprintf(out->provider_id, sizeof(out->provider_id), "%s", sid);
	}
	if (out->provider_id[0] == '\0')
		log_warn("sms: twilio took a message (HTTP %ld) but gave no usable sid: "
			 "its status callbacks cannot be matched", res->status);
	json_decref(doc);
}

static void on_response(void *data, const struct http_response *res)
{
	struct twilio_send *s = data;
	struct twilio *t = s->t;
	struct send_result out = { 0 };
	uint64_t now = uv_now(t->a->env->loop);
	long code;

	s->base.call = NULL;
	if (res->error != HTTP_OK) {
		out.status = SEND_TEMP_FAIL;
		snprintf(out.error, sizeof(out.error), "twilio: %s", http_error_words(res->error));
		if (res->error != HTTP_ERR_CANCELLED)
			breaker_failure(&t->breaker, now);
	} else if (res->status >= 200 && res->status < 300) {
		out.status = SEND_SENT;
		sent_sid(res, &out);
		breaker_success(&t->breaker);
	} else if (res->status == 429) {
		out.status = SEND_TEMP_FAIL;
		out.retry_after_ms = res->retry_after_ms > 0 ? res->retry_after_ms : 0;
		snprintf(out.error, sizeof(out.error), "twilio: HTTP 429 too many requests");
		breaker_neutral(&t->breaker);
	} else if (res->status >= 500 || res->status == 401 || res->status == 403 ||
		   res->status == 404) {
		code = error_code(res);
		out.status = SEND_TEMP_FAIL;
		out.retry_after_ms = res->retry_after_ms > 0 ? res->retry_after_ms : 0;
		snprintf(out.error, sizeof(out.error), "twilio: HTTP %ld%s%.0ld%s%s", res->status,
			 code ? " code " : "", code, code ? ": " : "", code ? code_words(code) : "");
		if (res->status < 500 && !t->auth_warned) {
			log_error("sms: twilio answers HTTP %ld (%s): messages wait until this is fixed",
				  res->status, code_words(code));
			t->auth_warned = true;
		}
		breaker_failure(&t->breaker, now);
	} else {
		code = error_code(res);
		out.status = SEND_PERM_FAIL;
		out.opted_out = code == 21610;
		if (code)
			snprintf(out.error, sizeof(out.error), "twilio %ld: %s", code, code_words(code));
		else
			snprintf(out.error, sizeof(out.error), "twilio: HTTP %ld", res->status);
		breaker_neutral(&t->breaker);
	}
	if (out.status == SEND_SENT || out.status == SEND_PERM_FAIL)
		t->auth_warned = false;
	provider_sends_finish(&t->sends, &s->base, &out);
}

static int twilio_send(struct adapter *a, struct send_req *req, adapter_done_cb done)
{
	struct twilio *t = a->state;
	struct twilio_send *s;
	struct buf form = { 0 };
	int64_t retry_in = 0;
	const struct twilio_config *tc = t->conf;
	int rc;

	s = provider_sends_new(&t->sends, sizeof(*s), req, done);
	if (s == NULL)
		return -1;
	s->t = t;
	if (!breaker_allow(&t->breaker, uv_now(a->env->loop), &retry_in)) {
		/* done must not run inside send(): answer from the loop. */
		s->base.res.status = SEND_DEFERRED;
		s->base.res.retry_after_ms = retry_in;
		snprintf(s->base.res.error, sizeof(s->base.res.error),
			 "twilio: circuit %s after %d failures in a row; not attempted",
			 breaker_state_name(t->breaker.state), t->breaker.failures);
		provider_sends_later(&t->sends, &s->base);
		return 0;
	}
	form_field(&form, "To", req->to);
	form_field(&form, "Body", req->body);
	if (tc->messaging_service_sid[0])
		form_field(&form, "MessagingServiceSid", tc->messaging_service_sid);
	else
		form_field(&form, "From", tc->from);
	if (t->callback_url[0])
		form_field(&form, "StatusCallback", t->callback_url);
	if (req->expires_ms > 0) {
		/* The carrier drops it too once it is stale (an alert about a
		 * place and time that has passed). */
		int64_t left = req->expires_ms - clock_now_ms();

		if (left < 1000)
			left = 1000;
		if (left / 1000 <= TWILIO_MAX_VALIDITY_S) {
			char v[24];

			snprintf(v, sizeof(v), "%lld", (long long)(left / 1000));
			form_field(&form, "ValidityPeriod", v);
		}
	}
	if (form.err != 0) {
		buf_free(&form);
		provider_sends_forget(&t->sends, &s->base);
		return -1;
	}
	static const char *const headers[] = {
		"Content-Type: application/x-www-form-urlencoded",
		"Accept: application/json",
		NULL,
	};
	struct http_request hr = {
		.method = "POST",
		.url = t->url,
		.headers = headers,
		.body = form.p,
		.body_len = form.len,
		.username = tc->account_sid,
		.password = t->token,
		.timeout_ms = tc->timeout_ms,
		.max_response_bytes = 64 * 1024,
	};
	rc = provider_sends_request(&t->sends, &s->base, a->env->http, &hr, on_response, "sms");
	buf_free(&form);
	return rc;
}

static void twilio_close(struct adapter *a, adapter_closed_cb closed)
{
	struct twilio *t = a->state;

	t->closed = closed;
	if (t->sends.inflight == 0) {
		shut(t);
		return;
	}
	t->closing = true;
	provider_sends_cancel(&t->sends);
}

static int twilio_metrics(struct adapter *a, struct metrics *m)
{
	struct twilio *t = a->state;

	return t->webhooks_mounted ? twilio_webhooks_metrics(&t->webhooks, m) : 0;
}

/* Its keys, in [sms]; the others of [sms] (provider, rate, burst,
 * concurrency, help_text) are the channel's (channel.h). */
static const struct config_key twilio_keys[] = {
	CONFIG_STR(struct twilio_config, "sms", "base_url", base_url, "https://api.twilio.com"),
	CONFIG_STR(struct twilio_config, "sms", "account_sid", account_sid, ""),
	CONFIG_SECRET(struct twilio_config, "sms", "auth_token_file", auth_token_file, ""),
	CONFIG_STR(struct twilio_config, "sms", "from", from, ""),
	CONFIG_STR(struct twilio_config, "sms", "messaging_service_sid", messaging_service_sid, ""),
	CONFIG_DURATION(struct twilio_config, "sms", "timeout", timeout_ms, "15s", 100, 300000),
	CONFIG_INT(struct twilio_config, "sms", "breaker_failures", breaker_failures, "10", 1,
		   100000),
	CONFIG_DURATION(struct twilio_config, "sms", "breaker_cooldown", breaker_cooldown_ms, "30s",
			100, 3600000),
};

const struct config_module twilio_config = {
	"twilio", twilio_keys, CONFIG_KEYS(twilio_keys), sizeof(struct twilio_config),
};

const struct adapter_ops twilio_adapter_ops = {
	.name = "twilio",
	.config = &twilio_config,
	.open = twilio_open,
	.prepare = twilio_prepare,
	.send = twilio_send,
	.reopen = NULL,
	.close = twilio_close,
	.metrics = twilio_metrics,
};
