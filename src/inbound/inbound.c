/* inbound.c: what people and providers send back (see inbound.h). */
#include "inbound.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consent.h"
#include "log.h"
#include "metrics.h"
#include "templates.h"
#include "util.h"

/* The spool keeps the item as the provider gave it, not the Lua call made
 * of it: a record is replayed by whichever build runs then, with its own
 * argument positions (lua_lib.h) and its own config (help_text).
 *
 *     version (1) | kind | channel | 5 x (u32 LE length, bytes):
 *     provider_id, from, text, status, error */
#define RECORD_VERSION 1
#define RECORD_STRINGS 5

/* Backoff of the replay after Redis answered it an error (OOM under
 * noeviction, a replica that is read-only, ...). */
#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 30000

/* An item decoded from a record, its strings NUL-terminated in buf. */
struct decoded {
	struct inbound_item item;
	char buf[];
};

/* One item on its way to Redis: what the provider waits for (done; NULL
 * for a replay from the spool), and its record for the spool. */
struct inbound_write {
	struct inbound_write *next;	/* in->behind */
	struct inbound *in;
	enum channel channel;
	bool receipt;
	inbound_done_cb done;
	void *data;
	uint32_t rec_len;
	unsigned char rec[];
};

static void replay(struct inbound *in);

/* ---- records ---- */

static void put_str(unsigned char **p, const char *s, size_t n)
{
	(*p)[0] = (unsigned char)n;
	(*p)[1] = (unsigned char)(n >> 8);
	(*p)[2] = (unsigned char)(n >> 16);
	(*p)[3] = (unsigned char)(n >> 24);
	memcpy(*p + 4, s, n);
	*p += 4 + n;
}

/* A write holding item's record, or NULL (out of memory, or longer than a
 * record may be: the adapters bound every field far below that). */
static struct inbound_write *write_new(struct inbound *in, const struct inbound_item *item)
{
	const char *s[RECORD_STRINGS] = { item->provider_id, item->from, item->text, item->status,
					   item->error };
	size_t len[RECORD_STRINGS], total = 3;
	struct inbound_write *w;
	unsigned char *p;

	for (int i = 0; i < RECORD_STRINGS; i++) {
		if (s[i] == NULL)
			s[i] = "";
		len[i] = strlen(s[i]);
		total += 4 + len[i];
	}
	if (total > SPOOL_RECORD_MAX)
		return NULL;
	w = calloc(1, sizeof(*w) + total);
	if (w == NULL)
		return NULL;
	w->in = in;
	w->channel = item->channel;
	w->receipt = item->kind == INBOUND_RECEIPT;
	w->rec_len = (uint32_t)total;
	p = w->rec;
	*p++ = RECORD_VERSION;
	*p++ = (unsigned char)item->kind;
	*p++ = (unsigned char)item->channel;
	for (int i = 0; i < RECORD_STRINGS; i++)
		put_str(&p, s[i], len[i]);
	return w;
}

/* The item of a spool record, malloc'd; NULL when it is not one this
 * build can read (logged by the caller). */
static struct decoded *record_decode(const unsigned char *p, uint32_t len)
{
	const char **field[RECORD_STRINGS];
	struct decoded *d;
	size_t off = 3, at = 0;

	if (len < 3 || p[0] != RECORD_VERSION || p[1] > INBOUND_RECEIPT || p[2] >= CHANNEL_COUNT)
		return NULL;
	d = calloc(1, sizeof(*d) + len);	/* the strings and their NULs fit */
	if (d == NULL)
		return NULL;
	d->item.kind = (enum inbound_kind)p[1];
	d->item.channel = (enum channel)p[2];
	field[0] = &d->item.provider_id;
	field[1] = &d->item.from;
	field[2] = &d->item.text;
	field[3] = &d->item.status;
	field[4] = &d->item.error;
	for (int i = 0; i < RECORD_STRINGS; i++) {
		uint32_t n;

		if (len - off < 4)
			goto bad;
		n = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
		    (uint32_t)p[off + 3] << 24;
		off += 4;
		if (n > len - off || memchr(p + off, '\0', n) != NULL)
			goto bad;
		memcpy(d->buf + at, p + off, n);
		d->buf[at + n] = '\0';
		*field[i] = d->buf + at;
		at += n + 1;
		off += n;
	}
	if (off != len)
		goto bad;
	return d;
bad:
	free(d);
	return NULL;
}

/* ---- what a Lua call says ---- */

/* Counts the answer the op made or withheld (its reply: "help", "stop",
 * "start" answered; "...-limited" withheld; see op inbound). */
static void count_outcome(struct inbound *in, enum channel ch, const redisReply *r)
{
	struct inbound_counts *n = &in->counts[ch];
	size_t len;

	if (r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_STRING)
		return;
	len = r->len;
	if (len > 8 && strcmp(r->str + len - 8, "-limited") == 0)
		n->answers_limited++;
	else if (strcmp(r->str, "help") == 0 || strcmp(r->str, "stop") == 0 ||
		 strcmp(r->str, "start") == 0)
		n->answers++;
}

/* The templates of the answers to STOP, START and HELP. */
static const char *const answer_names[] = {
	[CONSENT_STOP] = "consent_stop", [CONSENT_START] = "consent_start",
	[CONSENT_HELP] = "consent_help",
};

/* The answer to a STOP, START or HELP in the language of the word that
 * said it (consent_lang; the default language for English), malloc'd into
 * *out; NULL (and *out NULL) when no template fits, so the caller answers
 * with consent.c's text or help_text. (An English word is answered in
 * the address's language when pregon knows it: the engine renders the
 * answer again then, see op inbound's answer_tpl.) */
static const char *answer_text(const struct inbound *in, const struct channel_config *cc,
			       enum channel ch, enum consent_intent intent, const char *matched,
			       char **out)
{
	const struct templates *set = in->templates ? *in->templates : NULL;
	struct err err;

	*out = NULL;
	if (set == NULL || intent == CONSENT_NONE || ch == CHANNEL_EMAIL)
		return NULL;
	*out = templates_render_answer(set, answer_names[intent], consent_lang(matched), ch,
				       cc->help_text, &err);
	/* No such template in any language: the built-in text. Any other
	 * failure is a template to fix: said once per answer. */
	if (*out == NULL && strstr(err.msg, "no template") == NULL)
		log_warn("inbound: %s answer: %s", answer_names[intent], err.msg);
	return *out;
}

void inbound_set_templates(struct inbound *in, struct templates *const *templates)
{
	in->templates = templates;
}

/* Calls the op for item; cb gets data. Returns 0, or -1 when it cannot be
 * sent (Redis away). */
static int call_op(struct inbound *in, const struct inbound_item *item, rconn_reply_cb cb,
		   void *data)
{
	const struct channel_config *cc = &in->cfg->channel[item->channel];

	if (item->kind == INBOUND_RECEIPT) {
		const char *args[LUA_FEEDBACK_NHEAD];

		args[LUA_FEEDBACK_HEAD_PROVIDER_ID] = item->provider_id;
		args[LUA_FEEDBACK_HEAD_STATUS] = item->status;
		args[LUA_FEEDBACK_HEAD_ERROR] = item->error ? item->error : "";
		return store_call(in->store, LUA_FN_FEEDBACK, LUA_FEEDBACK_NHEAD, args, NULL, cb,
				  data);
	}
	/* A message a person sent: what it says about consent is decided
	 * here, for every channel, and the answer chosen; the Lua op
	 * records it and decides whether the answer goes (the limits). */
	const char *text = item->text ? item->text : "", *matched = NULL, *answer = "";
	const char *kind = "consent", *tpl = "";
	enum consent_intent intent = consent_classify(text, strlen(text), &matched);
	char folded[160], help_every[24], *rendered = NULL;
	const char *args[LUA_INBOUND_NHEAD];
	int rc;

	if (intent == CONSENT_STOP || intent == CONSENT_START) {
		answer = answer_text(in, cc, item->channel, intent, matched, &rendered);
		if (answer == NULL)
			answer = consent_confirmation(intent, matched);
	} else if (intent == CONSENT_HELP) {
		/* A channel without help_text (or with it set empty) does not
		 * answer HELP: the templates translate it, they do not add it. */
		if (cc->help_text[0] != '\0')
			answer = answer_text(in, cc, item->channel, intent, matched, &rendered);
		if (answer == NULL)
			answer = cc->help_text;
		kind = "help";
	}
	/* An English word (carriers teach STOP) is answered in the language
	 * pregon knows for the address, when templates are loaded. */
	if (intent != CONSENT_NONE && answer[0] != '\0' && consent_lang(matched) == NULL &&
	    item->channel != CHANNEL_EMAIL && in->templates != NULL && *in->templates != NULL)
		tpl = answer_names[intent];
	snprintf(help_every, sizeof(help_every), "%lld",
		 (long long)((cc->help_interval_ms + 999) / 1000));
	args[LUA_INBOUND_HEAD_CHANNEL] = channel_name(item->channel);
	args[LUA_INBOUND_HEAD_FROM] = item->from;
	args[LUA_INBOUND_HEAD_TEXT] = text;
	args[LUA_INBOUND_HEAD_PROVIDER_ID] = item->provider_id;
	args[LUA_INBOUND_HEAD_INTENT] = consent_intent_name(intent);
	args[LUA_INBOUND_HEAD_KEYWORD] = matched ? matched : "";
	args[LUA_INBOUND_HEAD_ANSWER] = answer;
	args[LUA_INBOUND_HEAD_ANSWER_KIND] = kind;
	args[LUA_INBOUND_HEAD_NORM] = consent_reply_fold(text, strlen(text), folded, sizeof(folded));
	args[LUA_INBOUND_HEAD_HELP_INTERVAL] = help_every;
	args[LUA_INBOUND_HEAD_ANSWER_TPL] = tpl;
	/* hiredis copies the arguments into its output buffer. */
	rc = store_call(in->store, LUA_FN_INBOUND, LUA_INBOUND_NHEAD, args, NULL, cb, data);
	free(rendered);
	return rc;
}

/* What the provider's message said, counted when the item is taken (a
 * replay from the spool is not counted again). */
static void count_intent(struct inbound *in, const struct inbound_item *item)
{
	struct inbound_counts *n = &in->counts[item->channel];
	const char *matched = NULL;
	const char *text = item->text ? item->text : "";

	switch (consent_classify(text, strlen(text), &matched)) {
	case CONSENT_STOP: n->stops++; break;
	case CONSENT_START: n->starts++; break;
	case CONSENT_HELP: n->helps++; break;
	default: n->replies++; break;
	}
}

/* ---- the spool ---- */

static void update_depth(struct inbound *in)
{
	in->spool_depth = in->spool_open ? (int64_t)spool_count(&in->spool) : 0;
}

/* A stopping inbound is drained when nothing is out to Redis or to the
 * disk, and the spool is empty or cannot be written to Redis now (it
 * stays on disk for the next start). */
static void maybe_drained(struct inbound *in)
{
	void (*drained)(struct inbound *) = in->drained;

	if (drained == NULL || in->n_writing > 0 || in->replaying)
		return;
	if (in->spool_open) {
		if (!spool_idle(&in->spool))
			return;
		if (spool_first(&in->spool) != NULL && in->store->ready && !in->retry_pending)
			return;
	}
	in->drained = NULL;
	if (in->spool_open && spool_first(&in->spool) != NULL)
		log_warn("inbound: %zu webhooks stay in the spool %s, written at the next start",
			 spool_count(&in->spool), in->spool.path);
	drained(in);
}

static void on_spooled(void *data, int status)
{
	struct inbound_write *w = data;
	struct inbound *in = w->in;

	if (status == 0)
		in->spooled++;
	if (w->done)
		w->done(w->data, status == 0 ? 0 : -1);
	free(w);
	update_depth(in);
	/* Redis may have come back while the write was on its way to disk. */
	replay(in);
	maybe_drained(in);
}

/* Puts w in the spool; the provider is answered once it is on disk.
 * Without a spool, or when it cannot take w, the provider hears 503 now. */
static void spool_or_refuse(struct inbound_write *w)
{
	struct inbound *in = w->in;

	if (in->spool_open && spool_append(&in->spool, w->rec, w->rec_len, on_spooled, w) == 0) {
		update_depth(in);
		return;
	}
	log_error("inbound: %s %s could not be written to Redis nor to the spool (503)",
		  channel_name(w->channel), w->receipt ? "receipt" : "message");
	if (w->done)
		w->done(w->data, -1);
	free(w);
}

static void on_retry_timer(uv_timer_t *t)
{
	struct inbound *in = t->data;

	in->retry_pending = false;
	replay(in);
	maybe_drained(in);
}

static void on_replayed(struct rconn *c, redisReply *r, void *data)
{
	struct inbound *in = data;
	const struct spool_rec *rec = spool_first(&in->spool);
	enum channel ch = rec != NULL && rec->len >= 3 && rec->payload[2] < CHANNEL_COUNT ?
				  (enum channel)rec->payload[2] : CHANNEL_SMS;

	(void)c;
	in->replaying = false;
	if (r == NULL || store_reply_error(in->store, r, "inbound replay")) {
		/* Redis away (the store's ready callback resumes) or answering
		 * an error: the record stays first, tried again later. */
		if (r != NULL) {
			in->retry_pending = true;
			uv_timer_start(&in->retry_timer, on_retry_timer, (uint64_t)in->retry_ms, 0);
			in->retry_ms = in->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : in->retry_ms * 2;
		}
		maybe_drained(in);
		return;
	}
	in->retry_ms = RETRY_MIN_MS;
	count_outcome(in, ch, r);
	spool_release_first(&in->spool);
	in->replayed++;
	update_depth(in);
	if (spool_first(&in->spool) == NULL)
		log_info("inbound: the spool is written to Redis (%llu webhooks so far)",
			 (unsigned long long)in->replayed);
	replay(in);
	maybe_drained(in);
}

/* Writes the spool's records to Redis, one at a time and in order: the
 * next only once the one before is answered, so that a record Redis
 * refuses is never overtaken by a later one (a START by the STOP before
 * it). */
static void replay(struct inbound *in)
{
	const struct spool_rec *rec;

	while (in->spool_open && !in->replaying && !in->retry_pending && in->store->ready &&
	       (rec = spool_first(&in->spool)) != NULL) {
		struct decoded *d = record_decode(rec->payload, rec->len);

		if (d == NULL) {
			/* Its checksum held, so it was written so: by a build
			 * that wrote another version. Dropped, with a trace. */
			log_error("inbound spool %s: a record of %u bytes this version cannot read "
				  "is dropped", in->spool.path, rec->len);
			spool_release_first(&in->spool);
			update_depth(in);
			continue;
		}
		if (call_op(in, &d->item, on_replayed, in) == 0)
			in->replaying = true;
		free(d);
		if (!in->replaying)
			break;
	}
}

static void on_store_ready(struct store *st, bool ready, void *data)
{
	(void)st;
	if (ready)
		replay(data);
}

/* ---- the way in ---- */

/* Items for the spool that came while direct writes were out: they go
 * in once those are answered, so that a direct write Redis fails (spooled
 * then) stays ahead of them. */
static void flush_behind(struct inbound *in)
{
	while (in->n_writing == 0 && in->behind != NULL) {
		struct inbound_write *w = in->behind;

		in->behind = w->next;
		if (in->behind == NULL)
			in->behind_tail = NULL;
		w->next = NULL;
		spool_or_refuse(w);
	}
}

static void on_stored(struct rconn *c, redisReply *r, void *data)
{
	struct inbound_write *w = data;
	struct inbound *in = w->in;

	(void)c;
	in->n_writing--;
	if (r == NULL || store_reply_error(in->store, r, w->receipt ? "feedback" : "inbound")) {
		/* Not written (or not known to be: the ops are idempotent, so
		 * a replay of one that was is harmless): to the spool. */
		spool_or_refuse(w);
		flush_behind(in);
		maybe_drained(in);
		return;
	}
	if (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING)
		log_info("%s %s: %s", channel_name(w->channel), w->receipt ? "feedback" : "inbound",
			 r->str);
	count_outcome(in, w->channel, r);
	w->done(w->data, 0);
	free(w);
	flush_behind(in);
	maybe_drained(in);
}

int inbound_feed(struct inbound *in, const struct inbound_item *item, inbound_done_cb done,
		 void *data)
{
	struct inbound_write *w = write_new(in, item);

	if (w == NULL)
		return -1;
	w->done = done;
	w->data = data;
	if (item->kind == INBOUND_MESSAGE)
		count_intent(in, item);
	/* Behind what the spool holds, in order; straight to Redis when it
	 * holds nothing. */
	if ((in->spool_open && spool_count(&in->spool) > 0) || !in->store->ready ||
	    in->behind != NULL || call_op(in, item, on_stored, w) != 0) {
		if (in->n_writing == 0) {
			spool_or_refuse(w);
		} else {
			/* Behind the direct writes still out (see flush_behind). */
			if (in->behind_tail)
				in->behind_tail->next = w;
			else
				in->behind = w;
			in->behind_tail = w;
		}
		return 0;
	}
	in->n_writing++;
	return 0;
}

/* ---- life cycle ---- */

void inbound_init(struct inbound *in, uv_loop_t *loop, const struct config *cfg,
		  struct store *store)
{
	memset(in, 0, sizeof(*in));
	in->loop = loop;
	in->cfg = cfg;
	in->store = store;
	in->retry_ms = RETRY_MIN_MS;
	uv_timer_init(loop, &in->retry_timer);
	in->retry_timer.data = in;
	store_add_ready_cb(store, on_store_ready, in);
}

int inbound_open_spool(struct inbound *in, struct err *err)
{
	if (in->spool_open)
		return 0;
	if (spool_open(&in->spool, in->loop, in->cfg->inbound_spool,
		       (uint64_t)in->cfg->inbound_spool_max, err) != 0) {
		err_wrap(err, "[inbound] spool: ");
		return -1;
	}
	in->spool_open = true;
	update_depth(in);
	if (in->spool.loaded > 0)
		log_warn("inbound: %llu webhooks in the spool %s from before, written to Redis first",
			 (unsigned long long)in->spool.loaded, in->spool.path);
	return 0;
}

void inbound_stop(struct inbound *in, void (*drained)(struct inbound *in))
{
	in->drained = drained;
	replay(in);
	maybe_drained(in);
}

const struct inbound_counts *inbound_counts(const struct inbound *in, enum channel ch)
{
	return &in->counts[ch];
}

static void on_timer_closed(uv_handle_t *h)
{
	struct inbound *in = h->data;
	void (*closed)(struct inbound *) = in->closed;

	in->closed = NULL;
	if (closed)
		closed(in);
}

static void on_spool_closed(struct spool *s)
{
	struct inbound *in = container_of(s, struct inbound, spool);

	uv_close((uv_handle_t *)&in->retry_timer, on_timer_closed);
}

void inbound_close(struct inbound *in, void (*closed)(struct inbound *in))
{
	in->closed = closed;
	uv_timer_stop(&in->retry_timer);
	if (in->spool_open) {
		in->spool_open = false;
		spool_close(&in->spool, on_spool_closed);
	} else {
		uv_close((uv_handle_t *)&in->retry_timer, on_timer_closed);
	}
}

static const struct metric_family answers_total = {
	"pregon_inbound_answers_total", METRIC_COUNTER,
	"Answers to inbound messages (HELP, consent confirmations): queued to be sent, or "
	"withheld by the limits per address.",
};
static const struct metric_family spooled_total = {
	"pregon_inbound_spooled_total", METRIC_COUNTER,
	"Webhooks Redis could not take, kept in the spool on disk.",
};
static const struct metric_family replayed_total = {
	"pregon_inbound_replayed_total", METRIC_COUNTER,
	"Webhooks written to Redis from the spool.",
};
static const struct metric_family spool_depth = {
	"pregon_inbound_spool_items", METRIC_GAUGE,
	"Webhooks in the spool now, waiting for Redis.",
};

int inbound_metrics(struct inbound *in, struct metrics *m)
{
	int rc = 0;

	for (int c = 0; c < CHANNEL_COUNT; c++) {
		const char *name = channel_name((enum channel)c);

		rc |= metrics_counter(m, &answers_total, &in->counts[c].answers,
				      "channel=\"%s\",outcome=\"sent\"", name);
		rc |= metrics_counter(m, &answers_total, &in->counts[c].answers_limited,
				      "channel=\"%s\",outcome=\"limited\"", name);
	}
	rc |= metrics_counter(m, &spooled_total, &in->spooled, NULL);
	rc |= metrics_counter(m, &replayed_total, &in->replayed, NULL);
	rc |= metrics_gauge(m, &spool_depth, metrics_read_i64, &in->spool_depth, NULL);
	return rc ? -1 : 0;
}
