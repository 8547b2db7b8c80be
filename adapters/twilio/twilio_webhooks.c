/* twilio_webhooks.c: Twilio's status callbacks and inbound messages (see
 * twilio.h). Only what is Twilio's is here: the form, the signature, the
 * field names and statuses, the answers it expects (TwiML, 204); what a
 * message or a receipt means is decided by inbound.c. */
#include "twilio.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "form.h"
#include "http_server.h"
#include "inbound.h"
#include "log.h"
#include "metrics.h"
#include "validate.h"

#include "twilio_sig.h"

/* Twilio's longest message is 1600 characters, up to 4 bytes each. */
#define INBOUND_MAX_BODY_BYTES (1600 * 4)

static const char empty_twiml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

static void reply_error(struct http_exchange *x, int status, const char *msg)
{
	json_t *o = json_pack("{ss}", "error", msg);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	http_reply_json(x, status, s ? s : "{\"error\":\"out of memory\"}");
	free(s);
	json_decref(o);
}

/* Provider ids are letters and digits (Twilio: "SM" + 32 hex). */
static bool plain_id(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n]; n++)
		if (!isalnum((unsigned char)s[n]) || n >= 64)
			return false;
	return n >= 2;
}

/* Decodes the form and checks the signature. Returns 0, or answers the
 * exchange and returns -1. */
static int signed_form(struct twilio_webhooks *w, struct http_exchange *x,
		       const struct http_req *req, struct form *f)
{
	const char *ct = http_req_header(req, "Content-Type");
	struct twilio_param *params;
	struct err err;
	char url[CONFIG_STR_MAX + 2048];
	bool ok;

	if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
		w->bad_request++;
		reply_error(x, 415, "Content-Type: must be application/x-www-form-urlencoded");
		return -1;
	}
	if (form_parse(f, req->body, req->body_len, NULL, &err) != 0) {
		w->bad_request++;
		reply_error(x, 400, err.msg);
		return -1;
	}
	if (snprintf(url, sizeof(url), "%s%s", w->public_url, req->target) >= (int)sizeof(url)) {
		w->bad_request++;
		reply_error(x, 414, "request target too long");
		return -1;
	}
	params = calloc(f->n ? f->n : 1, sizeof(*params));
	if (params == NULL) {
		reply_error(x, 503, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < f->n; i++) {
		params[i].name = f->pairs[i].name;
		params[i].value = f->pairs[i].value;
	}
	ok = w->token != NULL && w->token[0] != '\0' &&
	     twilio_signature_valid_any_port(w->token, url, params, f->n,
					     http_req_header(req, "X-Twilio-Signature"));
	free(params);
	if (!ok) {
		w->bad_signature++;
		log_warn("webhook %s from %s: bad or missing X-Twilio-Signature (403)", req->path,
			 req->peer);
		reply_error(x, 403, "X-Twilio-Signature: not valid for this request");
		return -1;
	}
	return 0;
}

/* ---- answers, once inbound.c has the item ---- */

static void answer_receipt(void *data, int status)
{
	struct http_exchange *x = data;

	if (status == 0)
		http_reply(x, 204, NULL, NULL, "", 0);
	else
		reply_error(x, 503, "storage unavailable, try again");
}

static void answer_inbound(void *data, int status)
{
	struct http_exchange *x = data;

	if (status == 0)
		http_reply(x, 200, "text/xml", NULL, empty_twiml, sizeof(empty_twiml) - 1);
	else
		reply_error(x, 503, "storage unavailable, try again");
}

static void feed(struct twilio_webhooks *w, struct http_exchange *x,
		 const struct inbound_item *item, inbound_done_cb answer)
{
	if (inbound_feed(w->env->inbound, item, answer, x) != 0)
		reply_error(x, 503, "out of memory");
}

/* ---- status callbacks ---- */

/* Twilio's MessageStatus -> pregon's status, or NULL for the ones that say
 * nothing new (queued, accepted, sending, scheduled: before "sent"). */
static const char *status_of(const char *s, bool *known)
{
	static const char *const moves[] = { "sent", "delivered", "undelivered", "failed", "read" };
	static const char *const quiet[] = { "queued", "accepted", "sending", "scheduled",
					     "canceled", "receiving", "received", "partially_delivered" };

	*known = true;
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		if (strcmp(s, moves[i]) == 0)
			return moves[i];
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
		if (strcmp(s, quiet[i]) == 0)
			return NULL;
	*known = false;
	return NULL;
}

static void on_status(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct twilio_webhooks *w = data;
	struct form f = { 0 };
	const char *sid, *mstatus, *code, *status;
	char error[64] = "";
	bool known;

	if (signed_form(w, x, req, &f) != 0)
		goto out;
	sid = form_get(&f, "MessageSid");
	if (sid == NULL)
		sid = form_get(&f, "SmsSid");
	mstatus = form_get(&f, "MessageStatus");
	if (mstatus == NULL)
		mstatus = form_get(&f, "SmsStatus");
	code = form_get(&f, "ErrorCode");
	if (!plain_id(sid)) {
		w->bad_request++;
		reply_error(x, 400, "MessageSid: missing or not a message sid");
		goto out;
	}
	if (mstatus == NULL || strlen(mstatus) > 32) {
		w->bad_request++;
		reply_error(x, 400, "MessageStatus: missing");
		goto out;
	}
	if (code != NULL && code[0] != '\0') {
		size_t n = strspn(code, "0123456789");

		if (n == 0 || n > 9 || code[n] != '\0') {
			w->bad_request++;
			reply_error(x, 400, "ErrorCode: not a number");
			goto out;
		}
	}
	status = status_of(mstatus, &known);
	if (!known) {
		w->bad_request++;
		reply_error(x, 400, "MessageStatus: unknown status");
		goto out;
	}
	w->status_ok++;
	if (status == NULL) {
		http_reply(x, 204, NULL, NULL, "", 0);
		goto out;
	}
	if (code != NULL && code[0] != '\0' && strcmp(code, "0") != 0)
		snprintf(error, sizeof(error), "twilio %s", code);
	struct inbound_item item = { .kind = INBOUND_RECEIPT, .channel = w->channel,
				     .provider_id = sid, .status = status, .error = error };
	feed(w, x, &item, answer_receipt);
out:
	form_free(&f);
}

/* ---- inbound messages ---- */

static void on_inbound(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct twilio_webhooks *w = data;
	struct form f = { 0 };
	struct err err;
	const char *sid, *from, *body;
	char e164[PHONE_E164_MAX + 1];

	if (signed_form(w, x, req, &f) != 0)
		goto out;
	sid = form_get(&f, "MessageSid");
	if (sid == NULL)
		sid = form_get(&f, "SmsSid");
	from = form_get(&f, "From");
	body = form_get(&f, "Body");
	if (!plain_id(sid)) {
		w->bad_request++;
		reply_error(x, 400, "MessageSid: missing or not a message sid");
		goto out;
	}
	if (from == NULL || phone_check_e164(from, e164, &err) != 0) {
		w->bad_request++;
		reply_error(x, 400, "From: missing or not an E.164 number");
		goto out;
	}
	if (body == NULL)
		body = "";		/* a picture without text */
	if (strlen(body) > INBOUND_MAX_BODY_BYTES) {
		w->bad_request++;
		reply_error(x, 413, "Body: over 1600 characters");
		goto out;
	}
	w->inbound_ok++;
	struct inbound_item item = { .kind = INBOUND_MESSAGE, .channel = w->channel,
				     .provider_id = sid, .from = e164, .text = body };
	feed(w, x, &item, answer_inbound);
out:
	form_free(&f);
}

/* Body limits, checked before the signature (issue 12: a stranger's
 * unsigned 1 MiB bodies cost memory before the 403). A status callback is
 * about 20 short fields, well under 1 KiB. An inbound message is bounded
 * by its Body of at most 1,600 characters (Twilio, "Messages resource"):
 * at most 4,800 UTF-8 bytes, 14,400 once percent-encoded, plus about 20
 * fields and up to 10 MediaUrl and MediaContentType pairs: 32 KiB holds
 * the largest with room to spare, so no STOP is ever refused for size. */
#define TWILIO_STATUS_MAX_BODY (8 * 1024)
#define TWILIO_INBOUND_MAX_BODY (32 * 1024)

int twilio_webhooks_mount(struct twilio_webhooks *w, const struct adapter_env *env,
			  enum channel ch, const char *token, struct err *err)
{
	const struct config *cfg = env->cfg;

	memset(w, 0, sizeof(*w));
	/* Before any webhook: what the spool kept from before is written
	 * first, in order. */
	if (inbound_open_spool(env->inbound, err) != 0)
		return -1;
	w->env = env;
	w->channel = ch;
	w->token = token;
	snprintf(w->public_url, sizeof(w->public_url), "%.*s",
		 config_url_base_len(cfg->http_public_url), cfg->http_public_url);
	if (http_server_route_max_body(env->routes, "POST", "/webhooks/sms/status",
				       TWILIO_STATUS_MAX_BODY, on_status, w) != 0 ||
	    http_server_route_max_body(env->routes, "POST", "/webhooks/sms/inbound",
				       TWILIO_INBOUND_MAX_BODY, on_inbound, w) != 0)
		return err_set(err, "sms webhooks: cannot add routes");
	return 0;
}

static const struct metric_family webhooks_total = {
	"pregon_sms_webhooks_total", METRIC_COUNTER, "SMS webhooks, by kind and outcome.",
};
static const struct metric_family inbound_total = {
	"pregon_sms_inbound_total", METRIC_COUNTER, "Inbound SMS by what they said.",
};

int twilio_webhooks_metrics(struct twilio_webhooks *w, struct metrics *m)
{
	/* What people wrote is counted where it is decided (inbound.c). */
	const struct inbound_counts *n = inbound_counts(w->env->inbound, w->channel);

	return metrics_counter(m, &webhooks_total, &w->status_ok,
			       "kind=\"status\",outcome=\"ok\"") ||
	       metrics_counter(m, &webhooks_total, &w->inbound_ok,
			       "kind=\"inbound\",outcome=\"ok\"") ||
	       metrics_counter(m, &webhooks_total, &w->bad_signature,
			       "kind=\"any\",outcome=\"bad_signature\"") ||
	       metrics_counter(m, &webhooks_total, &w->bad_request,
			       "kind=\"any\",outcome=\"bad_request\"") ||
	       metrics_counter(m, &inbound_total, &n->stops, "intent=\"stop\"") ||
	       metrics_counter(m, &inbound_total, &n->starts, "intent=\"start\"") ||
	       metrics_counter(m, &inbound_total, &n->helps, "intent=\"help\"") ||
	       metrics_counter(m, &inbound_total, &n->replies, "intent=\"reply\"") ? -1 : 0;
}
