/* intake.c: the job queue's consumer. */
#include "intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "court.h"
#include "dead_index.h"
#include "expander.h"
#include "job.h"
#include "quiet_hours.h"
#include "quote.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "seal.h"
#include "sms_segments.h"
#include "townhall.h"

/* One batch handed to the accept script; freed when its reply arrives. */
struct intake_batch {
	struct intake *in;
	int n;
	struct intake_record *recs;
	int room[CHANNEL_COUNT];	/* reserved for messages claimed at once */
	bool urgent_only;		/* taken early by the urgent scan */
};

static bool held_has(const struct intake *in, const char *entry)
{
	for (size_t i = 0; i < in->n_held; i++)
		if (strcmp(in->held[i], entry) == 0)
			return true;
	return false;
}

static int held_add(struct intake *in, const char *entry)
{
	if (in->n_held == in->cap_held) {
		size_t cap = in->cap_held ? in->cap_held * 2 : 64;
		char (*h)[48] = realloc(in->held, cap * sizeof(*h));

		if (h == NULL)
			return -1;
		in->held = h;
		in->cap_held = cap;
	}
	snprintf(in->held[in->n_held++], sizeof(in->held[0]), "%s", entry);
	return 0;
}

/* The engine finished with a message claimed at intake. */
static void on_entry_released(void *data, const char *entry)
{
	struct intake *in = data;

	for (size_t i = 0; i < in->n_held; i++)
		if (strcmp(in->held[i], entry) == 0) {
			in->held[i][0] = '\0';
			memcpy(in->held[i], in->held[--in->n_held], sizeof(in->held[0]));
			return;
		}
}

/* A refused job: the reason (dead letter: may quote the job) and the
 * public reason (the `rejected` event, MQTT, the log: CONTRACT.md section
 * 3, never a value of the job). The public one is err->pub, which the
 * parsers build without the job's values (err.h), or, where a path left
 * none, the generic text: never anything cut out of the reason. */
static void refuse(struct intake_record *rec, const struct err *err, const char *generic)
{
	snprintf(rec->reason, sizeof(rec->reason), "%s", err->msg);
	snprintf(rec->public_reason, sizeof(rec->public_reason), "%s",
		 err->pub[0] != '\0' ? err->pub : generic);
}

/* The channel chain and addresses of a recipient, as the scripts take them. */
static json_t *recipient_chain(const struct recipient *r)
{
	json_t *chain = json_array();

	for (int i = 0; chain != NULL && i < r->n_channels; i++)
		json_array_append_new(chain, json_string(channel_name(r->channels[i])));
	return chain;
}

static json_t *recipient_addr(const struct recipient *r)
{
	json_t *addr = json_object();

	if (addr == NULL)
		return NULL;
	for (int c = 0; c < CHANNEL_COUNT; c++) {
		const char *a = recipient_address(r, (enum channel)c);

		if (a != NULL)
			json_object_set_new(addr, channel_name((enum channel)c), json_string(a));
	}
	return addr;
}

/* A message that waits out quiet hours: it is due when they end (and the
 * engine checks again when it reads it, "qz" in its record). */
static json_t *message_record(const struct config *cfg, const struct job *job, int64_t now_ms)
{
	const struct recipient *r = &job->recipient;
	json_t *chain = recipient_chain(r), *addr = recipient_addr(r), *m, *payload;
	/* A message job names no zone of its own (contract section 2: the
	 * recipient's, else the job's, else [schedule] default_tz). */
	const char *zone = r->tz ? r->tz : cfg->schedule_default_tz;
	int64_t due = job->send_at_ms, open;
	const char *why = due > now_ms ? "send_at" : "";
	struct err err;
	char *d;

	if (!cfg->quiet.off &&
	    quiet_hours_next_allowed(&cfg->quiet, zone, due > now_ms ? due : now_ms, &open, &err) == 0 &&
	    open > now_ms && open != due) {
		due = open;
		why = "quiet";
	}
	/* The payload is stored as one JSON field of the message record; the
	 * script reads chain and addr from the record itself to pick the
	 * channel. */
	payload = json_pack("{s:s, s:s, s:O, s:O}", "body", job->body,
			    "subject", job->subject ? job->subject : "", "chain", chain, "addr", addr);
	/* A message job has no job hash: the names of its unknown fields
	 * are kept in its message's payload. */
	if (payload != NULL && job->n_unknown > 0) {
		char unknown[JOB_UNKNOWN_MAX * JOB_UNKNOWN_LEN + 32];

		job_unknown_text(job, unknown, sizeof(unknown));
		json_object_set_new(payload, "unknown", json_string(unknown));
	}
	d = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	json_decref(payload);
	if (d == NULL) {
		json_decref(chain);
		json_decref(addr);
		return NULL;
	}
	/* lang: for the answer to an English STOP; why: for `pregon status`
	 * (src/lua/common.lua create_message). */
	m = json_pack("{s:s, s:o, s:o, s:s, s:i, s:I, s:I, s:s, s:s}", "contact", r->id, "chain",
		      chain, "addr", addr, "d", d, "urgent", 0, "expires", (json_int_t)0,
		      "due", (json_int_t)due, "lang", r->lang ? r->lang : "", "why", why);
	free(d);
	/* The engine holds it again if it is read inside quiet hours. */
	if (m != NULL && !cfg->quiet.off)
		json_object_set_new(m, "qz", json_string(zone));
	return m;
}

/* The accept record of a message job in the flat form src/lua/jobs.lua
 * reads without cjson (decoding the JSON record was a sixth of the Redis
 * work of such a job): "M", then entry, job id, contact, channels (comma-
 * separated), the sms, email and signal addresses, urgent, expires, due,
 * the quiet-hours zone, the recipient's language, why it waits and, last,
 * the payload, separated by tabs. Ids, addresses, zones and language tags
 * hold no tab (job_parse.c, validate.c) and compact
 * JSON escapes any inside the payload; a field with one all the same
 * (which validation should never let through) keeps the JSON form.
 * Returns NULL when meta is not a record of one message in this form. */
static bool has_tab(const char *s)
{
	return s != NULL && strchr(s, '\t') != NULL;
}

static char *flat_message(json_t *meta)
{
	json_t *m = json_array_get(json_object_get(meta, "msgs"), 0);
	json_t *chain = json_object_get(m, "chain"), *addr = json_object_get(m, "addr"), *ch;
	const char *e = json_string_value(json_object_get(meta, "e"));
	const char *id = json_string_value(json_object_get(meta, "id"));
	const char *contact = json_string_value(json_object_get(m, "contact"));
	const char *d = json_string_value(json_object_get(m, "d"));
	const char *qz = json_string_value(json_object_get(m, "qz"));
	const char *lang = json_string_value(json_object_get(m, "lang"));
	const char *why = json_string_value(json_object_get(m, "why"));
	struct buf b = { 0 };
	size_t i;

	if (e == NULL || id == NULL || contact == NULL || d == NULL || !json_is_array(chain) ||
	    !json_is_object(addr) || has_tab(id) || has_tab(contact) || has_tab(qz) ||
	    has_tab(lang) || has_tab(why) || has_tab(d))
		return NULL;
	for (int c = 0; c < CHANNEL_COUNT; c++)
		if (has_tab(json_string_value(json_object_get(addr, channel_name((enum channel)c)))))
			return NULL;
	buf_addf(&b, "M\t%s\t%s\t%s\t", e, id, contact);
	json_array_foreach(chain, i, ch)
		buf_addf(&b, "%s%s", i ? "," : "", json_string_value(ch) ? json_string_value(ch) : "");
	/* One address field per channel, in the channel table's order (the
	 * Lua reads sms, email, signal: src/lua/jobs.lua flat_message). */
	for (int c = 0; c < CHANNEL_COUNT; c++) {
		const char *a = json_string_value(json_object_get(addr, channel_name((enum channel)c)));

		buf_addf(&b, "\t%s", a ? a : "");
	}
	buf_addf(&b, "\t%lld\t%lld\t%lld\t%s\t%s\t%s\t%s",
		 (long long)json_integer_value(json_object_get(m, "urgent")),
		 (long long)json_integer_value(json_object_get(m, "expires")),
		 (long long)json_integer_value(json_object_get(m, "due")), qz ? qz : "",
		 lang ? lang : "", why ? why : "", d);
	if (b.err != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b);
}

/* Warns when an SMS rendered with a job's own values needs more than
 * TEMPLATES_SMS_SEGMENTS_WARN segments. */
static void warn_segments(const struct job *job, const char *name, enum channel ch,
			  const struct templates_text *t)
{
	struct sms_segments seg;

	if (ch == CHANNEL_SMS && sms_segments_count(t->body, strlen(t->body), &seg) == 0 &&
	    seg.segments > TEMPLATES_SMS_SEGMENTS_WARN)
		log_warn("job %s: %s/%s.sms renders to %d SMS segments (%s)", job->id, name, t->lang,
			 seg.segments, sms_encoding_name(seg.encoding));
}

/* Renders every text a court_reminder job will send, on every channel the
 * recipient has, so that a job whose text cannot be made is refused now
 * (with the template's own error) rather than failing weeks later. Warns
 * when an SMS needs more than TEMPLATES_SMS_SEGMENTS_WARN segments with the
 * job's values. */
static int court_check(const struct config *cfg, const struct templates *set,
		       const struct job *job, const char *vars, int64_t now_ms, struct err *err)
{
	static const char *const names[] = { COURT_TEMPLATE_REMINDER, COURT_TEMPLATE_ENROLMENT };

	if (set == NULL)
		return err_public(err, "kind: court_reminder needs the templates, which are not loaded");
	for (int i = 0; i < job->recipient.n_channels; i++) {
		enum channel ch = job->recipient.channels[i];

		for (size_t k = 0; k < 2; k++) {
			struct templates_text t;

			if (k == 1 && !cfg->court_reminder_confirm_on_enrol)
				continue;
			if (court_render(set, names[k], vars, ch, now_ms, false, &t, err) != 0)
				return -1;
			warn_segments(job, names[k], ch, &t);
			templates_text_free(&t);
		}
	}
	return 0;
}

/* The accept script's "court" record of a court_reminder (src/lua/schedule.lua's
 * court_accept): the planned messages, and what replacement compares. */
static json_t *court_record(const struct config *cfg, const struct job *job, const char *vars,
			    const struct court_plan *plan)
{
	const struct recipient *r = &job->recipient;
	char sig[2048];
	json_t *c, *msgs = json_array(), *chain = recipient_chain(r), *addr = recipient_addr(r);

	/* Same date, time and place: a replacement job needs no new notice. */
	snprintf(sig, sizeof(sig), "%lld|%s|%s|%s", (long long)job->appearance_ms, job->court,
		 job->address ? job->address : "", job->department ? job->department : "");
	/* (The plan has an enrolment message only with confirm_on_enrol.) */
	c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "ref", job->case_ref, "rid", r->id,
		      "vars", vars, "sig", sig, "at", (json_int_t)job->appearance_ms, "msgs", msgs);
	if (c == NULL || chain == NULL || addr == NULL) {
		json_decref(c);
		json_decref(chain);
		json_decref(addr);
		return NULL;
	}
	for (int i = 0; i < plan->n; i++) {
		const struct court_msg *pm = &plan->msgs[i];
		bool enrol = pm->kind == COURT_MSG_ENROLMENT;
		json_t *payload = json_pack("{s:O, s:O, s:s}", "chain", chain, "addr", addr, "tpl",
					    enrol ? COURT_TEMPLATE_ENROLMENT : COURT_TEMPLATE_REMINDER);
		char *d;
		json_t *m;

		d = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
		json_decref(payload);
		/* why: a reminder waits for its offset (moved earlier out of
		 * quiet hours, still its offset); a notice or catch-up due
		 * later than planned waits out quiet hours. */
		const char *why = pm->kind == COURT_MSG_REMINDER ? "offset" :
				  pm->due_ms > pm->at_ms ? "quiet" : "";

		m = d ? json_pack("{s:s, s:O, s:O, s:s, s:i, s:I, s:I, s:b, s:b, s:s, s:s}",
				  "contact", r->id, "chain", chain, "addr", addr, "d", d,
				  "urgent", 0, "expires", (json_int_t)job->appearance_ms,
				  "due", (json_int_t)pm->due_ms, "past", pm->past, "enrol", enrol,
				  "lang", r->lang ? r->lang : "", "why", why)
		      : NULL;
		free(d);
		/* Reminders were moved earlier and the notice later, but a retry
		 * or a late read can still fall inside quiet hours: the engine
		 * holds them then, never past the appearance (Lua op hold). */
		if (m != NULL && !cfg->quiet.off)
			json_object_set_new(m, "qz", json_string(plan->quiet_tz));
		if (m == NULL || json_array_append_new(msgs, m) != 0) {
			json_decref(c);
			json_decref(chain);
			json_decref(addr);
			return NULL;
		}
	}
	json_decref(chain);
	json_decref(addr);
	return c;
}

/* Renders every text a town-hall registration may send (its notice, a
 * change notice, reminders and a cancellation) on each of the recipient's
 * channels, so that a job whose text cannot be made is refused now, as
 * court_check does. */
static int townhall_check(const struct templates *set, const struct job *job, const char *vars,
			  int64_t now_ms, struct err *err)
{
	static const char *const names[] = { TOWNHALL_TEMPLATE_CONFIRMATION,
		TOWNHALL_TEMPLATE_CHANGE, TOWNHALL_TEMPLATE_REMINDER, TOWNHALL_TEMPLATE_CANCEL };

	if (set == NULL)
		return err_public(err, "kind: townhall_confirmation needs the templates, which are "
				  "not loaded");
	for (int i = 0; i < job->recipient.n_channels; i++) {
		enum channel ch = job->recipient.channels[i];

		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			struct templates_text t;

			if (townhall_render(set, names[k], vars, ch, now_ms, job->join_url, &t, err) != 0)
				return -1;
			warn_segments(job, names[k], ch, &t);
			templates_text_free(&t);
		}
	}
	return 0;
}

/* One planned message of a registration as the accept script takes it. */
static json_t *townhall_msg_record(const struct config *cfg, const struct job *job,
				   const struct townhall_plan *plan, const struct townhall_msg *pm,
				   json_t *chain, json_t *addr)
{
	bool notice = pm->kind == TOWNHALL_MSG_NOTICE;
	char token[SEAL_RANDOM_LEN + 1] = "";
	json_t *payload, *m;
	char *d;

	/* Each message's own join link: a click is recorded on the message
	 * that carried it (the scripts index <p>jt:<token>). */
	if (cfg->townhall_track_join && job->join_url != NULL && seal_random(token, sizeof(token)) != 0)
		return NULL;
	payload = json_pack("{s:O, s:O, s:s}", "chain", chain, "addr", addr, "tpl",
			    notice ? TOWNHALL_TEMPLATE_CONFIRMATION : TOWNHALL_TEMPLATE_REMINDER);
	if (payload != NULL && token[0] != '\0')
		json_object_set_new(payload, "jt", json_string(token));
	d = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	json_decref(payload);
	/* why (status): a reminder waits for its offset; a notice due later
	 * than now waits out quiet hours. */
	m = d ? json_pack("{s:s, s:O, s:O, s:s, s:I, s:I, s:b, s:b, s:s, s:s}", "contact",
			  job->recipient.id, "chain", chain, "addr", addr, "d", d, "expires",
			  (json_int_t)pm->expires_ms, "due", (json_int_t)pm->due_ms, "past", pm->past,
			  "notice", notice, "lang", job->recipient.lang ? job->recipient.lang : "",
			  "why", !notice ? "offset" : pm->due_ms > pm->at_ms ? "quiet" : "")
	      : NULL;
	free(d);
	if (m != NULL && token[0] != '\0')
		json_object_set_new(m, "jt", json_string(token));
	/* Held by quiet hours when a retry or a late read falls inside them
	 * (the hold op never holds one past its expiry). */
	if (m != NULL && !cfg->quiet.off)
		json_object_set_new(m, "qz", json_string(plan->quiet_tz));
	return m;
}

/* The accept script's "townhall" record (src/lua/townhall.lua's
 * townhall_accept). The notice goes by email (with the invitation) and,
 * when the recipient has a phone channel too, on the first of those (the
 * text they can answer 1 or 2 to): two messages. A reminder goes on the
 * recipient's chain, like any message. nt keeps where notices go, for a
 * cancellation notice made when the event is cancelled. */
static json_t *townhall_record(const struct config *cfg, const struct job *job, const char *vars,
			       const char *sig, const struct townhall_plan *plan, int64_t now_ms)
{
	const struct recipient *r = &job->recipient;
	json_t *t = NULL, *msgs = json_array(), *nt = json_array();
	json_t *chain = recipient_chain(r), *addr = recipient_addr(r);
	json_t *targets[2] = { NULL, NULL };
	int n_targets = 0;
	int64_t end = job->ends_ms ? job->ends_ms : job->starts_ms + TOWNHALL_DEFAULT_LENGTH_MS;
	int64_t window_s = (end - now_ms) / 1000;
	char *nt_json = NULL, rp[24];

	if (msgs == NULL || nt == NULL || chain == NULL || addr == NULL)
		goto fail;
	if (r->email != NULL)
		targets[n_targets++] = json_pack("[s]", "email");
	{
		json_t *phones = json_array();

		for (int i = 0; phones != NULL && i < r->n_channels; i++)
			if (r->channels[i] != CHANNEL_EMAIL)
				json_array_append_new(phones, json_string(channel_name(r->channels[i])));
		if (phones != NULL && json_array_size(phones) > 0)
			targets[n_targets++] = phones;
		else
			json_decref(phones);
	}
	for (int i = 0; i < plan->n; i++) {
		const struct townhall_msg *pm = &plan->msgs[i];

		if (pm->kind == TOWNHALL_MSG_NOTICE) {
			for (int k = 0; k < n_targets; k++) {
				json_t *m = townhall_msg_record(cfg, job, plan, pm, targets[k], addr);

				if (m == NULL || json_array_append_new(msgs, m) != 0)
					goto fail;
			}
		} else {
			json_t *m = townhall_msg_record(cfg, job, plan, pm, chain, addr);

			if (m == NULL || json_array_append_new(msgs, m) != 0)
				goto fail;
		}
	}
	for (int k = 0; k < n_targets; k++)
		json_array_append_new(nt, json_pack("{s:O, s:O}", "chain", targets[k], "addr", addr));
	nt_json = json_dumps(nt, JSON_COMPACT);
	/* Replies (1, 2) are matched until the event is over. */
	snprintf(rp, sizeof(rp), "%lld", (long long)(window_s > 60 ? window_s : 60));
	t = nt_json ? json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:O}", "ref", job->event_ref,
				"rid", r->id, "vars", vars, "sig", sig, "at", (json_int_t)job->starts_ms,
				"keep", (json_int_t)end, "rp", rp, "nt", nt_json, "msgs", msgs)
		    : NULL;
	if (t != NULL && !cfg->quiet.off)
		json_object_set_new(t, "qz", json_string(plan->quiet_tz));
fail:
	free(nt_json);
	for (int k = 0; k < n_targets; k++)
		json_decref(targets[k]);
	json_decref(msgs);
	json_decref(nt);
	json_decref(chain);
	json_decref(addr);
	return t;
}

/* texts: a string or {lang: text} (normalised by job_parse). Sets *tx to
 * the texts as JSON {lang: text} ("*" for a text without a language) and
 * *first to the first language given, for recipients whose language and
 * the default are both missing. */
static int alert_texts(json_t *v, char **tx, const char **first)
{
	json_t *obj;

	*tx = NULL;
	*first = "*";
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v))
		obj = json_pack("{s:O}", "*", v);
	else {
		obj = json_incref(v);
		*first = json_object_iter_key(json_object_iter(v));
	}
	if (obj == NULL)
		return -1;
	*tx = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return *tx ? 0 : -1;
}

/* The SMS segments of each text, logged with the job and kept in its
 * record ({"en": {"segments": 2, "encoding": "GSM-7"}}): what an alert
 * costs is decided by them. */
static json_t *alert_segments(const char *job_id, json_t *message)
{
	json_t *out = json_object(), *text;
	const char *lang;

	if (out == NULL)
		return NULL;
	if (json_is_string(message)) {
		json_t *one = json_object();

		json_object_set(one, "*", message);
		message = one;
	} else
		json_incref(message);
	json_object_foreach(message, lang, text) {
		struct sms_segments seg;
		const char *t = json_string_value(text);

		if (t == NULL || sms_segments_count(t, strlen(t), &seg) != 0)
			continue;
		json_object_set_new(out, lang, json_pack("{s:i, s:s}", "segments", seg.segments,
							  "encoding", sms_encoding_name(seg.encoding)));
		log_info("job %s: text %s: %d SMS segment%s (%s, %d units)", job_id,
			 strcmp(lang, "*") == 0 ? "(one for all)" : lang, seg.segments,
			 seg.segments == 1 ? "" : "s", sms_encoding_name(seg.encoding), seg.units);
	}
	json_decref(message);
	return out;
}

/* The accept script's "alert" record of an action_alert (see src/lua/alerts.lua). */
static json_t *alert_record(const struct config *cfg, const struct job *job)
{
	json_t *doc = job->doc, *aud = json_object_get(doc, "audience");
	json_t *a, *replies = json_object_get(doc, "replies"), *rcps, *r;
	const char *tf, *sf;
	char *tx = NULL, *sj = NULL, *rj = NULL, *segj = NULL;
	json_t *seg = NULL;
	size_t i;

	if (alert_texts(json_object_get(doc, "message"), &tx, &tf) != 0 ||
	    alert_texts(json_object_get(doc, "subject"), &sj, &sf) != 0)
		goto oom;
	if (json_is_object(replies) && (rj = json_dumps(replies, JSON_COMPACT)) == NULL)
		goto oom;
	seg = alert_segments(job->id, json_object_get(doc, "message"));
	if (seg == NULL || (segj = json_dumps(seg, JSON_COMPACT)) == NULL)
		goto oom;
	a = json_pack("{s:b, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}",
		      "urgent", job->urgent, "expires", (json_int_t)job->expires_ms,
		      "tx", tx, "tf", tf, "sj", sj ? sj : "", "sf", sf,
		      "dl", cfg->templates_default_lang, "replies", rj ? rj : "",
		      "rw", (json_int_t)(cfg->alerts_reply_window_ms / 1000), "segments", segj);
	if (a == NULL)
		goto oom;
	/* The zone of recipients without one, for quiet hours ("" when off). */
	json_object_set_new(a, "qz", json_string(cfg->quiet.off ? "" : cfg->schedule_default_tz));
	if (json_is_string(json_object_get(aud, "list")))
		json_object_set(a, "list", json_object_get(aud, "list"));
	rcps = json_object_get(aud, "recipients");
	if (json_is_array(rcps)) {
		json_t *rc = json_array();

		json_object_set_new(a, "rc", rc);
		json_array_foreach(rcps, i, r) {
			struct recipient rec;
			struct err err;
			json_t *one;
			char *txt;

			/* Normalised by job_parse already; this fills the chain. */
			if (recipient_parse(r, "", &rec, &err) != 0)
				continue;
			one = json_pack("{s:s, s:o, s:o, s:s, s:s}", "c", rec.id, "chain",
					recipient_chain(&rec), "addr", recipient_addr(&rec),
					"lang", rec.lang ? rec.lang : "", "tz", rec.tz ? rec.tz : "");
			txt = one ? json_dumps(one, JSON_COMPACT) : NULL;
			json_decref(one);
			if (txt == NULL || json_array_append_new(rc, json_string(txt)) != 0) {
				free(txt);
				json_decref(a);
				goto oom;
			}
			free(txt);
		}
	}
	free(tx);
	free(sj);
	free(rj);
	free(segj);
	json_decref(seg);
	return a;
oom:
	free(tx);
	free(sj);
	free(rj);
	free(segj);
	json_decref(seg);
	return NULL;
}

/* A contact_upsert's contact as stored: the known fields only, channels
 * only when the producer gave an order (else the default order applies
 * when an alert reaches the contact). */
static json_t *contact_record(const struct job *job)
{
	const struct recipient *r = &job->recipient;
	json_t *c = json_pack("{s:s}", "id", r->id);
	json_t *given = json_object_get(json_object_get(job->doc, "contact"), "channels");

	if (c == NULL)
		return NULL;
	if (r->name)
		json_object_set_new(c, "name", json_string(r->name));
	if (r->phone)
		json_object_set_new(c, "phone", json_string(r->phone));
	if (r->email)
		json_object_set_new(c, "email", json_string(r->email));
	if (r->signal)
		json_object_set_new(c, "signal", json_string(r->signal));
	if (r->lang)
		json_object_set_new(c, "lang", json_string(r->lang));
	if (r->tz)
		json_object_set_new(c, "tz", json_string(r->tz));
	if (json_is_array(given))
		json_object_set_new(c, "channels", recipient_chain(r));
	return c;
}

/* What the accept script needs of a valid job, added to meta. Returns 0,
 * -1 when out of memory, or 1 when the job is refused (reason in err). */
static int add_job_record(const struct config *cfg, const struct templates *set, int64_t now_ms,
			  const struct job *job, json_t *meta, struct err *err)
{
	json_t *v;

	switch (job->kind) {
	case JOB_COURT_REMINDER: {
		struct court_plan plan;
		char *vars = court_vars_json(job);

		if (vars == NULL)
			return -1;
		if (court_check(cfg, set, job, vars, now_ms, err) != 0 ||
		    court_plan_make(cfg, job, now_ms, &plan, err) != 0) {
			free(vars);
			return 1;
		}
		v = court_record(cfg, job, vars, &plan);
		free(vars);
		return v ? json_object_set_new(meta, "court", v) : -1;
	}
	case JOB_TOWNHALL_CONFIRMATION: {
		struct townhall_plan plan;
		char *vars = townhall_vars_json(job), *sig = townhall_sig(job);

		if (vars == NULL || sig == NULL) {
			free(vars);
			free(sig);
			return -1;
		}
		if (townhall_check(set, job, vars, now_ms, err) != 0 ||
		    townhall_plan_make(cfg, job, now_ms, &plan, err) != 0) {
			free(vars);
			free(sig);
			return 1;
		}
		v = townhall_record(cfg, job, vars, sig, &plan, now_ms);
		free(vars);
		free(sig);
		return v ? json_object_set_new(meta, "townhall", v) : -1;
	}
	case JOB_CANCEL:
		if (job->stop_job != NULL)
			return json_object_set_new(meta, "stop", json_string(job->stop_job));
		if (job->event_ref != NULL)
			return json_object_set_new(meta, "evcancel", json_string(job->event_ref));
		return json_object_set_new(meta, "cancel", json_string(job->case_ref));
	case JOB_MESSAGE:
		v = json_array();
		if (v == NULL || json_array_append_new(v, message_record(cfg, job, now_ms)) != 0) {
			json_decref(v);
			return -1;
		}
		return json_object_set_new(meta, "msgs", v);
	case JOB_ACTION_ALERT:
		v = alert_record(cfg, job);
		return v ? json_object_set_new(meta, "alert", v) : -1;
	case JOB_CONTACT_UPSERT:
		v = contact_record(job);
		if (v == NULL || json_object_set_new(meta, "contact", v) != 0)
			return -1;
		if (json_is_array(json_object_get(job->doc, "lists")))
			return json_object_set(meta, "lists", json_object_get(job->doc, "lists"));
		return 0;
	case JOB_CONTACT_DELETE:
		return json_object_set(meta, "contact_id", json_object_get(job->doc, "contact_id"));
	default:
		return -1;
	}
}

/* A rejected job's dead letter is indexed by whom it names (dead_index.h),
 * so that contact_delete finds and erases it. One that names more than the
 * index takes is kept without its text: a dead letter that could not be
 * erased with the person must not keep the person. */
static int index_dead_letter(json_t *meta, struct intake_record *rec)
{
	int too_many;
	json_t *names = dead_index_names(rec->raw, rec->raw_len, &too_many);
	size_t n;

	if (too_many) {
		n = strlen(rec->reason);
		snprintf(rec->reason + n, sizeof(rec->reason) - n, " (job text not kept: it names "
			 "more than %d people or addresses)", DEAD_INDEX_MAX);
		rec->raw = "";
		rec->raw_len = 0;
		return 0;
	}
	return names == NULL ? -1 : json_object_set_new(meta, "dx", names);
}

int intake_build_record(const struct config *cfg, const struct templates *set, int64_t now_ms,
			const char *entry_id, const char *raw, size_t raw_len,
			struct intake_record *rec)
{
	struct job_limits limits = job_limits_default;
	struct job job;
	struct err err = { "" };
	json_t *meta;
	int rc;

	memset(rec, 0, sizeof(*rec));
	rec->kind = -1;
	rec->raw = raw;
	rec->raw_len = raw_len;
	limits.max_bytes = (size_t)cfg->jobs_max_bytes;
	if (raw == NULL) {
		err_public(&err, "job: entry has no \"job\" field");
		refuse(rec, &err, "");
		rec->raw = "";
		memset(&job, 0, sizeof(job));
		rc = -1;
	} else {
		rc = job_parse(raw, raw_len, &limits, &job, &err);
		if (rc != 0)
			refuse(rec, &err, "job: not valid");
	}
	if (raw_len > (size_t)cfg->jobs_max_bytes)
		rec->raw_len = (size_t)cfg->jobs_max_bytes;	/* keep the dead stream bounded */
	meta = json_pack("{s:s}", "e", entry_id);
	if (meta == NULL) {
		job_free(&job);
		return -1;
	}
	if (job.id != NULL) {
		json_object_set_new(meta, "id", json_string(job.id));
		snprintf(rec->id, sizeof(rec->id), "%s", job.id);
	}
	if (job.doc != NULL) {
		json_t *k = json_object_get(job.doc, "kind");

		if (json_is_string(k) && job_kind_from_name(json_string_value(k)) >= 0) {
			json_object_set_new(meta, "kind", json_copy(k));
			rec->kind = job_kind_from_name(json_string_value(k));
		}
	}
	if (rc == 0) {
		int added;

		rec->urgent = job.kind == JOB_ACTION_ALERT && job.urgent;
		added = add_job_record(cfg, set, now_ms, &job, meta, &err);
		if (added < 0) {
			json_decref(meta);
			job_free(&job);
			return -1;
		}
		if (added > 0) {
			/* Refused after all (a template cannot be rendered for it):
			 * dead-lettered with the reason, like a parse error. */
			refuse(rec, &err, "job: its texts cannot be made (the reason is in the dead letter)");
			json_object_del(meta, "court");
			json_object_del(meta, "townhall");
		} else if (job.n_unknown > 0) {
			char unknown[JOB_UNKNOWN_MAX * JOB_UNKNOWN_LEN + 32];

			/* Accepted (a later version may know them), but said:
			 * "sendAt" ignored is a message sent now, not later. */
			job_unknown_text(&job, unknown, sizeof(unknown));
			log_warn("job %s (%s): fields this version does not know, accepted and not "
				 "used: %s", job.id, job_kind_name(job.kind), unknown);
			if (job.kind != JOB_MESSAGE)
				json_object_set_new(meta, "unknown", json_string(unknown));
		}
	}
	if (rec->reason[0] != '\0' && index_dead_letter(meta, rec) != 0) {
		json_decref(meta);
		job_free(&job);
		return -1;
	}
	rec->meta = rc == 0 && rec->reason[0] == '\0' && job.kind == JOB_MESSAGE ?
			    flat_message(meta) : NULL;
	if (rec->meta == NULL)
		rec->meta = json_dumps(meta, JSON_COMPACT);
	json_decref(meta);
	job_free(&job);
	return rec->meta ? 0 : -1;
}

int intake_build_bad_entry(const struct config *cfg, const char *entry_id, char *fields_json,
			   int n_job, int n_other, struct intake_record *rec)
{
	struct err err;
	json_t *meta;

	memset(rec, 0, sizeof(*rec));
	rec->kind = -1;
	/* Counts only: the field names are the producer's and stay in the
	 * dead letter with their values. */
	err_public(&err, "job: the entry must hold exactly one field, \"job\"; it has %d \"job\" "
		   "field%s and %d other%s (the dead letter's job holds them all as a JSON array)",
		   n_job, n_job == 1 ? "" : "s", n_other, n_other == 1 ? "" : "s");
	refuse(rec, &err, "");
	rec->raw_owned = fields_json;
	rec->raw = fields_json;
	rec->raw_len = strlen(fields_json);
	if (rec->raw_len > (size_t)cfg->jobs_max_bytes)
		rec->raw_len = (size_t)cfg->jobs_max_bytes;	/* keep the dead stream bounded */
	meta = json_pack("{s:s}", "e", entry_id);
	rec->meta = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
	json_decref(meta);
	if (rec->meta == NULL) {
		free(fields_json);
		memset(rec, 0, sizeof(*rec));
		return -1;
	}
	return 0;
}

/* An entry's fields as a JSON array of strings [name, value, ...]. A
 * value that is not UTF-8 (XADD takes any bytes) is kept escaped
 * (quote.h), since JSON strings cannot hold it. NULL when out of memory. */
static char *entry_fields_json(const redisReply *fields)
{
	json_t *arr = json_array();
	char *out = NULL;

	if (arr == NULL)
		return NULL;
	for (size_t f = 0; f < fields->elements; f++) {
		const redisReply *v = fields->element[f];
		json_t *s = v->type == REDIS_REPLY_STRING ? json_stringn(v->str, v->len) : json_string("");

		if (s == NULL && v->type == REDIS_REPLY_STRING) {
			size_t cap = v->len * 4 + 1;
			char *esc = malloc(cap);

			if (esc != NULL) {
				quote_escape(esc, cap, v->str);
				s = json_string(esc);
				free(esc);
			}
		}
		if (s == NULL || json_array_append_new(arr, s) != 0)
			goto out;
	}
	out = json_dumps(arr, JSON_COMPACT);
out:
	json_decref(arr);
	return out;
}

static void on_retry_timer(uv_timer_t *t);

/* Our own pending list is read again from its start, a batch at a time:
 * after a failed script call, a reconnect, or at start. */
static void pending_restart(struct intake *in)
{
	in->from_pending = true;
	snprintf(in->pending_cursor, sizeof(in->pending_cursor), "0");
}

static void batch_free(struct intake_batch *b)
{
	for (int i = 0; i < b->n; i++) {
		free(b->recs[i].meta);
		free(b->recs[i].raw_owned);
	}
	free(b->recs);
	free(b);
}

/* The send of a message the accept claimed at once, from what the batch's
 * record of its job says (strings borrowed for the call). */
static int send_now(struct intake *in, const char *mid, int ch, const char *entry,
		    const char *job, const char *contact, const char *to, const char *payload,
		    const char *qz, bool urgent, int64_t expires_ms)
{
	struct engine_send m = {
		.mid = mid, .to = to ? to : "", .payload = payload, .vars = "", .job = job,
		.contact = contact, .qz = qz ? qz : "", .entry = entry,
		.channel = (enum channel)ch, .attempt = 1, .urgent = urgent,
		.expires_ms = expires_ms,
	};

	if (payload == NULL || job == NULL || contact == NULL)
		return -1;
	return engine_send_now(in->engine, &m, on_entry_released, in);
}

/* send_claimed() for a message job whose record kept the JSON form
 * (flat_message refused it): -1 unless meta is the record of entry. */
static int send_claimed_json(struct intake *in, const char *meta, const char *mid, int ch,
			     const char *entry)
{
	json_t *doc = json_loads(meta, 0, NULL);
	json_t *msg = json_array_get(json_object_get(doc, "msgs"), 0);
	const char *e = json_string_value(json_object_get(doc, "e"));
	int rc = -1;

	if (e != NULL && strcmp(e, entry) == 0 && json_is_object(msg))
		rc = send_now(in, mid, ch, entry, json_string_value(json_object_get(doc, "id")),
			      json_string_value(json_object_get(msg, "contact")),
			      json_string_value(json_object_get(json_object_get(msg, "addr"),
								channel_name((enum channel)ch))),
			      json_string_value(json_object_get(msg, "d")),
			      json_string_value(json_object_get(msg, "qz")),
			      json_integer_value(json_object_get(msg, "urgent")) == 1,
			      json_integer_value(json_object_get(msg, "expires")));
	json_decref(doc);
	return rc;
}

/* Sends a message the accept claimed at once (a message job's, due now)
 * from the batch's own flat record of its job (flat_message): the reply
 * names only the message, its channel and the entry. Returns the channel,
 * or -1 when the batch has no such record. */
static int send_claimed(struct intake *in, struct intake_batch *b, const char *mid,
			const char *channel, const char *entry)
{
	/* The flat record's fields; the addresses are CHANNEL_COUNT from SMS on. */
	enum { E, ID, CONTACT, CHAIN, SMS, URGENT = SMS + CHANNEL_COUNT, EXPIRES, DUE, QZ, LANG, WHY,
	       PAYLOAD, N };
	char *f[N], *copy = NULL, *p;
	int ch = channel_from_name(channel), rc = -1, n = 0;
	size_t el = strlen(entry);

	if (ch < 0)
		return -1;
	for (int i = 0; i < b->n && copy == NULL; i++) {
		const char *meta = b->recs[i].meta;

		if (meta != NULL && strncmp(meta, "M\t", 2) == 0 && strncmp(meta + 2, entry, el) == 0 &&
		    meta[2 + el] == '\t')
			copy = strdup(meta + 2);
		else if (meta != NULL && meta[0] == '{' &&
			 (rc = send_claimed_json(in, meta, mid, ch, entry)) >= 0)
			return rc;
	}
	if (copy == NULL)
		return -1;
	for (p = copy; n < PAYLOAD && p != NULL; n++)
		f[n] = strsep(&p, "\t");
	if (n == PAYLOAD && p != NULL)
		rc = send_now(in, mid, ch, entry, f[ID], f[CONTACT], f[SMS + ch], p, f[QZ],
			      strcmp(f[URGENT], "1") == 0, strtoll(f[EXPIRES], NULL, 10));
	free(copy);
	return rc;
}

static void on_accept(struct rconn *c, redisReply *r, void *data)
{
	struct intake_batch *b = data;
	struct intake *in = b->in;

	(void)c;
	in->processing--;
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == LUA_ACCEPT_NREPLY &&
	    r->element[LUA_ACCEPT_REPLY_SENDS]->type == REDIS_REPLY_ARRAY) {
		/* Messages claimed at once: send them in the room reserved. */
		const redisReply *sends = r->element[LUA_ACCEPT_REPLY_SENDS];

		for (size_t i = 0; i < sends->elements; i++) {
			const redisReply *x = sends->element[i];
			int ch;

			if (x->type != REDIS_REPLY_ARRAY || x->elements != LUA_CLAIMED_NFIELDS ||
			    x->element[LUA_CLAIMED_ENTRY]->type != REDIS_REPLY_STRING ||
			    x->element[LUA_CLAIMED_MID]->type != REDIS_REPLY_STRING ||
			    x->element[LUA_CLAIMED_CHANNEL]->type != REDIS_REPLY_STRING)
				continue;
			/* Held before the send starts: done may come back at once. */
			if (held_add(in, x->element[LUA_CLAIMED_ENTRY]->str) != 0)
				log_error("intake: out of memory tracking a held entry");
			ch = send_claimed(in, b, x->element[LUA_CLAIMED_MID]->str,
					  x->element[LUA_CLAIMED_CHANNEL]->str,
					  x->element[LUA_CLAIMED_ENTRY]->str);
			if (ch >= 0 && b->room[ch] > 0)
				b->room[ch]--;
			else if (ch < 0) {
				/* Not ours to send after all: it stays pending and
				 * is reclaimed and queued after reclaim_after. */
				log_error("intake: entry %s: claimed message %s has no record here",
					  x->element[LUA_CLAIMED_ENTRY]->str,
					  x->element[LUA_CLAIMED_MID]->str);
				on_entry_released(in, x->element[LUA_CLAIMED_ENTRY]->str);
			}
		}
		r = r->element[LUA_ACCEPT_REPLY_STATUSES];
	}
	engine_unreserve(in->engine, b->room);
	if (r == NULL || store_reply_error(in->store, r, "accept")) {
		/* Outcome unknown: the entries are still pending for us; read
		 * them again (the script is idempotent per entry). */
		pending_restart(in);
		if (r != NULL && !in->stopping)
			uv_timer_start(&in->retry_timer, on_retry_timer, 1000, 0);
	} else if (r->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < r->elements && i < (size_t)b->n; i++) {
			const char *v = r->element[i]->str;

			if (v == NULL)
				continue;
			if (strcmp(v, "accepted") == 0)
				in->accepted++;
			else if (strcmp(v, "stopped") == 0) {
				/* A cancel stopped a job: this instance drops what it
				 * holds of it before it goes to an adapter (the tick
				 * tells the others). */
				in->accepted++;
				engine_check_stops(in->engine);
			}
			else if (strcmp(v, "expand") == 0) {
				in->accepted++;
				if (b->urgent_only)
					in->urgent_early++;
				if (in->expander != NULL)
					expander_kick(in->expander);
			}
			else if (strcmp(v, "rejected") == 0) {
				in->rejected++;
				/* The job id, so the operator can find it (pregon
				 * status ID, pregon dead list); the public reason whole,
				 * never the dead letter's (it may quote names and texts
				 * of the job: docs/design.md, invariant 3). */
				log_info("job %s rejected (kind %s): %s",
					 b->recs[i].id[0] ? b->recs[i].id : "(no id)",
					 b->recs[i].kind >= 0 ? job_kind_name((enum job_kind)b->recs[i].kind) : "-",
					 b->recs[i].public_reason);
			} else if (strcmp(v, "duplicate") == 0)
				in->duplicates++;
		}
	}
	batch_free(b);
	if (in->stopping && in->processing == 0 && in->on_drained)
		in->on_drained(in);
	else
		intake_kick(in);
}

/* The room reserved per channel, as the accept script reads it:
 * "sms=2,email=0,signal=0". */
static void room_text(const int room[CHANNEL_COUNT], char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (int c = 0; c < CHANNEL_COUNT && n < len; c++)
		n += (size_t)snprintf(out + n, len - n, "%s%s=%d", c ? "," : "",
				      channel_name((enum channel)c), room[c]);
}

/* A cheap look before parsing: could this job be an urgent alert? */
static bool maybe_urgent(const char *raw, size_t len)
{
	return memmem(raw, len, "\"urgent\"", 8) != NULL &&
	       memmem(raw, len, "action_alert", 12) != NULL;
}

/* Entries: an array of [id, [field, value, ...] or nil]. With urgent_only
 * (the urgent scan), only valid urgent alerts are taken; the rest is left
 * for the reads in order. */
static int process_entries(struct intake *in, const redisReply *entries, bool urgent_only)
{
	struct intake_batch *b;
	const char **args;
	size_t *lens;
	int n = (int)entries->elements, skipped = 0;
	size_t k;
	char room[32 * CHANNEL_COUNT];

	if (n == 0)
		return 0;
	b = calloc(1, sizeof(*b));
	args = calloc((size_t)n * LUA_ACCEPT_NEACH + LUA_ACCEPT_NHEAD, sizeof(*args));
	lens = calloc((size_t)n * LUA_ACCEPT_NEACH + LUA_ACCEPT_NHEAD, sizeof(*lens));
	if (b != NULL)
		b->recs = calloc((size_t)n, sizeof(*b->recs));
	if (b == NULL || b->recs == NULL || args == NULL || lens == NULL)
		goto oom;
	b->in = in;
	b->urgent_only = urgent_only;
	for (int i = 0; i < n; i++) {
		const redisReply *e = entries->element[i];
		const redisReply *fields;
		const char *raw = NULL;
		size_t raw_len = 0;
		struct intake_record *rec;

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING)
			goto oom;
		if (held_has(in, e->element[0]->str)) {
			skipped++;
			continue;	/* its message is being sent by us right now */
		}
		rec = &b->recs[b->n];
		fields = e->element[1];
		if (urgent_only && fields->type != REDIS_REPLY_ARRAY)
			continue;
		if (fields->type == REDIS_REPLY_NIL) {
			/* Deleted or trimmed since delivery: acknowledge only. */
			json_t *meta = json_pack("{s:s, s:b}", "e", e->element[0]->str, "gone", 1);

			rec->meta = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
			json_decref(meta);
			rec->raw = "";
		} else {
			int n_job = 0, n_other = 0;

			for (size_t f = 0; f + 1 < fields->elements; f += 2)
				if (fields->element[f]->type == REDIS_REPLY_STRING &&
				    strcmp(fields->element[f]->str, "job") == 0) {
					raw = fields->element[f + 1]->str;
					raw_len = fields->element[f + 1]->len;
					n_job++;
				} else
					n_other++;
			/* Exactly one field, "job" (CONTRACT.md section 1).
			 * XADD ... job A job B keeps both; reading only the
			 * last dropped the first unseen. The urgent scan
			 * leaves such entries to the reads in order. */
			if (n_job != 1 || n_other != 0) {
				char *all;

				if (urgent_only)
					continue;
				all = entry_fields_json(fields);
				if (all == NULL ||
				    intake_build_bad_entry(in->cfg, e->element[0]->str, all, n_job,
							   n_other, rec) != 0)
					goto oom;
				goto add;
			}
			if (urgent_only && (raw == NULL || !maybe_urgent(raw, raw_len)))
				continue;
			if (intake_build_record(in->cfg, in->templates ? *in->templates : NULL,
						clock_now_ms(), e->element[0]->str, raw, raw_len,
						rec) != 0)
				rec->meta = NULL;
			else if (urgent_only && !rec->urgent) {
				free(rec->meta);
				memset(rec, 0, sizeof(*rec));
				continue;
			}
		}
		if (rec->meta == NULL)
			goto oom;
add:
		k = LUA_ACCEPT_NHEAD + LUA_ACCEPT_NEACH * b->n++;
		args[k + LUA_ACCEPT_EACH_RECORD] = rec->meta;
		lens[k + LUA_ACCEPT_EACH_RECORD] = strlen(rec->meta);
		/* The job's own text is kept only in a dead letter. */
		args[k + LUA_ACCEPT_EACH_RAW] = rec->reason[0] ? rec->raw : "";
		lens[k + LUA_ACCEPT_EACH_RAW] = rec->reason[0] ? rec->raw_len : 0;
		args[k + LUA_ACCEPT_EACH_REASON] = rec->reason;
		lens[k + LUA_ACCEPT_EACH_REASON] = strlen(rec->reason);
		args[k + LUA_ACCEPT_EACH_PUBLIC_REASON] = rec->public_reason;
		lens[k + LUA_ACCEPT_EACH_PUBLIC_REASON] = strlen(rec->public_reason);
	}
	if (b->n == 0) {
		batch_free(b);
		free(args);
		free(lens);
		return 0;
	}
	/* A scan batch holds urgent alerts only, which are never claimed at
	 * once: no room to reserve (b->room stays zero). */
	if (!urgent_only)
		engine_reserve(in->engine, b->n, b->room);
	room_text(b->room, room, sizeof(room));
	args[LUA_ACCEPT_HEAD_ROOM] = room;
	lens[LUA_ACCEPT_HEAD_ROOM] = strlen(room);
	if (store_call(in->store, LUA_FN_ACCEPT, LUA_ACCEPT_NHEAD + LUA_ACCEPT_NEACH * b->n, args,
		       lens, on_accept, b) != 0) {
		engine_unreserve(in->engine, b->room);
		batch_free(b);
		free(args);
		free(lens);
		pending_restart(in);
		return -1;
	}
	in->processing++;
	free(args);
	free(lens);
	return b->n + skipped;
oom:
	log_error("intake: cannot build batch (out of memory or malformed reply)");
	if (b != NULL) {
		if (b->recs != NULL)
			batch_free(b);
		else
			free(b);
	}
	free(args);
	free(lens);
	pending_restart(in);
	return -1;
}

/* ---- the urgent scan ----
 *
 * The stream is read in order, so an urgent alert behind a backlog of
 * 200,000 jobs would wait for all of them. While reads come back full
 * (a backlog), the newest entries are looked at every [alerts]
 * urgent_scan, and urgent alerts among them are accepted at once, out of
 * order. When the in-order read reaches such an entry, the accept script
 * finds it recorded by this very entry and only acknowledges it. Each
 * scan reads up to SCAN_COUNT entries newer than the last one scanned: an
 * inflow faster than that per interval is left to the in-order read. */

#define SCAN_COUNT "500"

static void on_scan(struct rconn *c, redisReply *r, void *data)
{
	struct intake *in = data;

	(void)c;
	in->scanning = false;
	if (r == NULL || in->stopping || store_reply_error(in->store, r, "XREVRANGE jobs") ||
	    r->type != REDIS_REPLY_ARRAY || r->elements == 0)
		return;
	if (r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
	    r->element[0]->element[0]->type == REDIS_REPLY_STRING)
		snprintf(in->scan_last, sizeof(in->scan_last), "(%s", r->element[0]->element[0]->str);
	process_entries(in, r, true);
}

static void on_scan_timer(uv_timer_t *t)
{
	struct intake *in = t->data;
	const char *argv[] = { "XREVRANGE", in->stream, "+", in->scan_last[0] ? in->scan_last : "-",
			       "COUNT", SCAN_COUNT };

	if (in->scanning || in->stopping || !in->store->ready)
		return;
	if (rconn_command(in->store->writer, on_scan, in, 0, 6, argv, NULL) == 0)
		in->scanning = true;
}

static void backlog_state(struct intake *in, bool backlog)
{
	if (backlog == in->backlog || in->stopping)
		return;
	in->backlog = backlog;
	if (backlog) {
		log_debug("intake: backlog: scanning for urgent alerts");
		uv_timer_start(&in->scan_timer, on_scan_timer, 0, (uint64_t)in->cfg->alerts_urgent_scan_ms);
	} else
		uv_timer_stop(&in->scan_timer);
}

static void on_read(struct rconn *c, redisReply *r, void *data)
{
	struct intake *in = data;
	bool was_pending = in->from_pending;
	int n = 0;

	(void)c;
	in->reading = false;
	if (r == NULL) {
		pending_restart(in);
		return;		/* reader down; intake_reader_state kicks */
	}
	if (r->type == REDIS_REPLY_ERROR) {
		log_error("intake: XREADGROUP: %.*s", (int)r->len, r->str);
		if (strncmp(r->str, "NOGROUP", 7) == 0)
			rconn_reset(in->store->writer, "group missing: recreating");
		uv_timer_start(&in->retry_timer, on_retry_timer, 1000, 0);
		return;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
		const redisReply *entries = r->element[0]->element[1];

		n = (int)entries->elements;
		if (was_pending && n > 0 && entries->element[n - 1]->type == REDIS_REPLY_ARRAY &&
		    entries->element[n - 1]->elements > 0 &&
		    entries->element[n - 1]->element[0]->type == REDIS_REPLY_STRING)
			snprintf(in->pending_cursor, sizeof(in->pending_cursor), "%s",
				 entries->element[n - 1]->element[0]->str);
		if (process_entries(in, entries, false) < 0) {
			uv_timer_start(&in->retry_timer, on_retry_timer, 1000, 0);
			return;
		}
	}
	if (was_pending && n == 0)
		in->from_pending = false;	/* own pending list read to its end */
	if (!was_pending)
		backlog_state(in, n >= in->cfg->jobs_batch);
	intake_kick(in);
}

void intake_kick(struct intake *in)
{
	char count[16];
	const char *argv[] = { "XREADGROUP", "GROUP", PREGON_GROUP, in->cfg->redis_consumer,
			       "COUNT", count, "BLOCK", "1000", "STREAMS", in->stream,
			       in->from_pending ? "0" : ">" };
	int argc = 11;

	/* Two batches in flight keep Redis busy while the next one is parsed;
	 * re-reading our own pending list waits until none is in flight, or it
	 * would return entries a script is still working on. */
	if (in->stopping || in->reading || in->processing >= 2 ||
	    (in->from_pending && in->processing > 0) || !in->reader->up || !in->store->ready)
		return;
	snprintf(count, sizeof(count), "%d", in->cfg->jobs_batch);
	if (in->from_pending) {
		/* BLOCK is ignored for the pending history; drop it. */
		argv[6] = "STREAMS";
		argv[7] = in->stream;
		argv[8] = in->pending_cursor;
		argc = 9;
	}
	if (rconn_command(in->reader, on_read, in, 1000, argc, argv, NULL) == 0)
		in->reading = true;
}

static void on_retry_timer(uv_timer_t *t)
{
	intake_kick(t->data);
}

static void on_autoclaim(struct rconn *c, redisReply *r, void *data)
{
	struct intake *in = data;

	(void)c;
	in->claiming = false;
	if (r == NULL || store_reply_error(in->store, r, "XAUTOCLAIM jobs"))
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return;
	snprintf(in->claim_cursor, sizeof(in->claim_cursor), "%s", r->element[0]->str);
	if (r->element[1]->type == REDIS_REPLY_ARRAY && r->element[1]->elements > 0) {
		int n = process_entries(in, r->element[1], false);

		if (n > 0) {
			in->reclaimed += (uint64_t)n;
			log_warn("intake: reclaimed %d job entries from a silent consumer", n);
		}
	}
}

static void on_claim_timer(uv_timer_t *t)
{
	struct intake *in = t->data;
	char idle[24], count[16];
	const char *argv[] = { "XAUTOCLAIM", in->stream, PREGON_GROUP, in->cfg->redis_consumer,
			       idle, in->claim_cursor, "COUNT", count };

	if (in->stopping || in->claiming || !in->store->ready)
		return;
	snprintf(idle, sizeof(idle), "%lld", (long long)in->cfg->jobs_reclaim_after_ms);
	snprintf(count, sizeof(count), "%d", in->cfg->jobs_batch);
	if (rconn_command(in->store->writer, on_autoclaim, in, 0, 8, argv, NULL) == 0)
		in->claiming = true;
}

void intake_init(struct intake *in, uv_loop_t *loop, const struct config *cfg,
		 struct store *store, struct rconn *reader, struct engine *engine,
		 struct expander *expander, struct templates *const *templates)
{
	uint64_t every;

	memset(in, 0, sizeof(*in));
	in->loop = loop;
	in->cfg = cfg;
	in->store = store;
	in->reader = reader;
	in->engine = engine;
	in->expander = expander;
	in->templates = templates;
	pending_restart(in);
	snprintf(in->claim_cursor, sizeof(in->claim_cursor), "0-0");
	store_key(store, in->stream, sizeof(in->stream), "jobs");
	uv_timer_init(loop, &in->claim_timer);
	uv_timer_init(loop, &in->retry_timer);
	uv_timer_init(loop, &in->scan_timer);
	in->claim_timer.data = in;
	in->retry_timer.data = in;
	in->scan_timer.data = in;
	every = config_reclaim_poll_ms(cfg, 15000);
	uv_timer_start(&in->claim_timer, on_claim_timer, every, every);
}

void intake_reader_state(struct intake *in, bool up)
{
	if (!up) {
		in->reading = false;
		pending_restart(in);
		return;
	}
	intake_kick(in);
}

void intake_stop(struct intake *in, void (*on_drained)(struct intake *in))
{
	in->stopping = true;
	in->on_drained = on_drained;
	uv_timer_stop(&in->claim_timer);
	uv_timer_stop(&in->retry_timer);
	uv_timer_stop(&in->scan_timer);
	if (in->processing == 0 && on_drained)
		on_drained(in);
}

void intake_close(struct intake *in)
{
	free(in->held);
	in->held = NULL;
	in->n_held = in->cap_held = 0;
	uv_close((uv_handle_t *)&in->claim_timer, NULL);
	uv_close((uv_handle_t *)&in->retry_timer, NULL);
	uv_close((uv_handle_t *)&in->scan_timer, NULL);
}

static const struct metric_family jobs_total = {
	"pregon_jobs_total", METRIC_COUNTER, "Jobs taken from the stream, by outcome.",
};
static const struct metric_family urgent_ahead = {
	"pregon_urgent_ahead_total", METRIC_COUNTER,
	"Urgent alerts taken ahead of a job backlog by the urgent scan.",
};

int intake_metrics(struct intake *in, struct metrics *m)
{
	if (metrics_counter(m, &jobs_total, &in->accepted, "outcome=\"accepted\"") != 0 ||
	    metrics_counter(m, &jobs_total, &in->rejected, "outcome=\"rejected\"") != 0 ||
	    metrics_counter(m, &jobs_total, &in->duplicates, "outcome=\"duplicate\"") != 0 ||
	    metrics_counter(m, &jobs_total, &in->reclaimed, "outcome=\"reclaimed\"") != 0)
		return -1;
	return metrics_counter(m, &urgent_ahead, &in->urgent_early, NULL);
}
