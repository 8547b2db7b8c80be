/* sms_webhooks.c: Twilio's status callbacks and inbound messages (see
 * sms_webhooks.h). */
#include "sms_webhooks.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "consent.h"
#include "form.h"
#include "log.h"
#include "metrics.h"
#include "twilio_sig.h"
#include "validate.h"

#include "twilio.h"

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
static int signed_form(struct sms_webhooks *w, struct http_exchange *x, const struct http_req *req,
		       struct form *f)
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
	ok = w->token[0] != '\0' &&
	     twilio_signature_valid(w->token, url, params, f->n,
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

/* ---- held while Redis is away ----
 *
 * Twilio does not retry status callbacks, and an inbound STOP must not be
 * lost either: when Redis cannot take one now, it is kept in memory (a
 * bounded number) and written when Redis is back, and the provider is told
 * it arrived. Both ops are idempotent (callbacks never move a message back;
 * inbound is once per message sid), so writing one twice is harmless. */

#define HELD_MAX 10000

/* One write for Redis: a feedback or inbound op with its arguments, while
 * its exchange waits for the answer (x), or held for Redis (x NULL). */
struct held_call {
	struct held_call *next;
	struct sms_webhooks *w;
	struct http_exchange *x;
	bool inbound;
	int nargs;
	char *args[9];
};

static void held_free(struct held_call *h)
{
	for (int i = 0; i < h->nargs; i++)
		free(h->args[i]);
	free(h);
}

static struct held_call *held_new(struct sms_webhooks *w, bool inbound, int nargs,
				  const char **args)
{
	struct held_call *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->w = w;
	h->inbound = inbound;
	for (int i = 0; i < nargs; i++) {
		h->args[i] = strdup(args[i]);
		h->nargs = i + 1;
		if (h->args[i] == NULL) {
			held_free(h);
			return NULL;
		}
	}
	return h;
}

/* Queues h for Redis; false (h untouched) when the queue is full. */
static bool hold(struct held_call *h)
{
	struct sms_webhooks *w = h->w;

	if (w->n_held >= HELD_MAX)
		return false;
	h->x = NULL;
	h->next = NULL;
	if (w->held_tail)
		w->held_tail->next = h;
	else
		w->held_head = h;
	w->held_tail = h;
	w->n_held++;
	return true;
}

static void answer_ok(struct http_exchange *x, bool inbound)
{
	if (inbound)
		http_reply(x, 200, "text/xml", NULL, empty_twiml, sizeof(empty_twiml) - 1);
	else
		http_reply(x, 204, NULL, NULL, "", 0);
}

static void on_stored(struct rconn *c, redisReply *r, void *data)
{
	struct held_call *h = data;
	struct http_exchange *x = h->x;
	const char *what = h->inbound ? "inbound" : "feedback";

	(void)c;
	h->x = NULL;
	if (r == NULL) {
		/* Redis went away before answering: keep it for the next time. */
		if (hold(h)) {
			if (x)
				answer_ok(x, h->inbound);
			return;
		}
		if (x)
			reply_error(x, 503, "storage unavailable, try again");
	} else if (store_reply_error(h->w->store, r, what)) {
		if (x)
			reply_error(x, 503, "storage unavailable, try again");
	} else if (x) {
		if (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING)
			log_info("sms %s: %s", what, r->str);
		answer_ok(x, h->inbound);
	}
	held_free(h);
}

static int call(struct held_call *h)
{
	return store_eval(h->w->store, h->inbound ? "inbound" : "feedback", h->nargs,
			  (const char **)h->args, NULL, on_stored, h);
}

static void replay(struct sms_webhooks *w)
{
	size_t n = 0;

	while (w->held_head != NULL && w->store->ready) {
		struct held_call *h = w->held_head;

		if (call(h) != 0)
			break;
		w->held_head = h->next;
		if (w->held_head == NULL)
			w->held_tail = NULL;
		w->n_held--;
		n++;
	}
	if (n > 0)
		log_info("sms webhooks: %zu held while Redis was away, now written", n);
}

static void on_store_ready(struct store *st, bool ready, void *data)
{
	(void)st;
	if (ready)
		replay(data);
}

static void store_call(struct sms_webhooks *w, struct http_exchange *x, bool inbound,
		       int nargs, const char **args)
{
	struct held_call *h = held_new(w, inbound, nargs, args);

	if (h == NULL) {
		reply_error(x, 503, "out of memory");
		return;
	}
	h->x = x;
	if (call(h) == 0)
		return;
	if (hold(h)) {
		answer_ok(x, inbound);
		return;
	}
	held_free(h);
	reply_error(x, 503, "storage unavailable, try again");
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
	struct sms_webhooks *w = data;
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
	const char *args[3] = { sid, status, error };
	store_call(w, x, false, 3, args);
out:
	form_free(&f);
}

/* ---- inbound messages ---- */

const char *sms_consent_answer(int intent, const char *keyword)
{
	bool es = consent_spanish(keyword);

	/* Short, with the way back in: CTIA's messaging principles ask that a
	 * STOP confirmation say the person will get no more messages. */
	if (intent == CONSENT_STOP)
		return es ? "Has cancelado tu suscripción y no recibirás más mensajes. "
			    "Responde START para volver a suscribirte."
			  : "You are unsubscribed and will get no more messages. "
			    "Reply START to subscribe again.";
	if (intent == CONSENT_START)
		return es ? "Te has vuelto a suscribir. Responde STOP para cancelar."
			  : "You are subscribed again. Reply STOP to stop.";
	return NULL;
}

static void on_inbound(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct sms_webhooks *w = data;
	struct form f = { 0 };
	struct err err;
	const char *sid, *from, *body, *matched = NULL, *answer = "", *kind = "consent";
	char e164[PHONE_E164_MAX + 1];
	enum consent_intent intent;

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
	intent = consent_classify(body, strlen(body), &matched);
	switch (intent) {
	case CONSENT_STOP:
	case CONSENT_START:
		answer = sms_consent_answer(intent, matched);
		intent == CONSENT_STOP ? w->stops++ : w->starts++;
		break;
	case CONSENT_HELP:
		answer = w->cfg->channel[CHANNEL_SMS].help_text;
		kind = "help";
		w->helps++;
		break;
	default:
		w->replies++;
		break;
	}
	w->inbound_ok++;
	char folded[160];
	const char *args[9] = { "sms", e164, body, sid, consent_intent_name(intent),
				matched ? matched : "", answer, kind,
				consent_reply_fold(body, strlen(body), folded, sizeof(folded)) };
	store_call(w, x, true, 9, args);
out:
	form_free(&f);
}

int sms_webhooks_init(struct sms_webhooks *w, const struct config *cfg, struct store *store,
		      struct http_server *srv, struct err *err)
{
	const struct twilio_config *tc = config_module_get(cfg, &twilio_config);

	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->store = store;
	snprintf(w->public_url, sizeof(w->public_url), "%.*s",
		 config_url_base_len(cfg->http_public_url), cfg->http_public_url);
	if (tc->auth_token_file[0] != '\0' || getenv("PREGON_SMS_AUTH_TOKEN") != NULL) {
		if (config_read_secret(tc->auth_token_file, "PREGON_SMS_AUTH_TOKEN", w->token,
				       sizeof(w->token), err) != 0) {
			err_prefix(err, "[sms] auth_token_file");
			return -1;
		}
	} else {
		log_info("sms webhooks: no auth token configured; every webhook is refused (403)");
	}
	store_add_ready_cb(store, on_store_ready, w);
	if (http_server_route(srv, "POST", "/webhooks/sms/status", on_status, w) != 0 ||
	    http_server_route(srv, "POST", "/webhooks/sms/inbound", on_inbound, w) != 0)
		return err_set(err, "sms webhooks: cannot add routes");
	return 0;
}

void sms_webhooks_close(struct sms_webhooks *w)
{
	while (w->held_head) {
		struct held_call *h = w->held_head;

		w->held_head = h->next;
		held_free(h);
	}
	if (w->n_held > 0)
		log_warn("sms webhooks: %zu callbacks and replies held for Redis are lost at exit",
			 w->n_held);
	w->held_tail = NULL;
	w->n_held = 0;
}

static const struct metric_family webhooks_total = {
	"pregon_sms_webhooks_total", METRIC_COUNTER, "SMS webhooks, by kind and outcome.",
};
static const struct metric_family inbound_total = {
	"pregon_sms_inbound_total", METRIC_COUNTER, "Inbound SMS by what they said.",
};

int sms_webhooks_metrics(struct sms_webhooks *w, struct metrics *m)
{
	return metrics_counter(m, &webhooks_total, &w->status_ok,
			       "kind=\"status\",outcome=\"ok\"") ||
	       metrics_counter(m, &webhooks_total, &w->inbound_ok,
			       "kind=\"inbound\",outcome=\"ok\"") ||
	       metrics_counter(m, &webhooks_total, &w->bad_signature,
			       "kind=\"any\",outcome=\"bad_signature\"") ||
	       metrics_counter(m, &webhooks_total, &w->bad_request,
			       "kind=\"any\",outcome=\"bad_request\"") ||
	       metrics_counter(m, &inbound_total, &w->stops, "intent=\"stop\"") ||
	       metrics_counter(m, &inbound_total, &w->starts, "intent=\"start\"") ||
	       metrics_counter(m, &inbound_total, &w->helps, "intent=\"help\"") ||
	       metrics_counter(m, &inbound_total, &w->replies, "intent=\"reply\"") ? -1 : 0;
}
