/* inbound.c: what people and providers send back (see inbound.h). */
#include "inbound.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consent.h"
#include "log.h"

/* One write for Redis: an op of the Lua library with its arguments, while
 * the adapter waits for the answer (done set), or held for Redis (done
 * NULL: the adapter was told it arrived). */
struct inbound_held {
	struct inbound_held *next;
	struct inbound *in;
	const char *op;			/* "inbound" or "feedback" */
	enum channel channel;
	inbound_done_cb done;
	void *data;
	int nargs;
	char *args[LUA_INBOUND_NHEAD];	/* the most of either op */
};


static void held_free(struct inbound_held *h)
{
	for (int i = 0; i < h->nargs; i++)
		free(h->args[i]);
	free(h);
}

static struct inbound_held *held_new(struct inbound *in, const char *op, enum channel ch,
				     int nargs, const char **args)
{
	struct inbound_held *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->in = in;
	h->op = op;
	h->channel = ch;
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
static bool hold(struct inbound_held *h)
{
	struct inbound *in = h->in;

	if (in->n_held >= INBOUND_HELD_MAX)
		return false;
	h->done = NULL;
	h->next = NULL;
	if (in->held_tail)
		in->held_tail->next = h;
	else
		in->held_head = h;
	in->held_tail = h;
	in->n_held++;
	return true;
}

/* A stopping inbound is drained when nothing is out to Redis, and nothing
 * is held or Redis is away (what is held then cannot be written). */
static void maybe_drained(struct inbound *in)
{
	void (*drained)(struct inbound *) = in->drained;

	if (drained == NULL || in->n_writing > 0 || (in->n_held > 0 && in->store->ready))
		return;
	in->drained = NULL;
	drained(in);
}

static void on_stored(struct rconn *c, redisReply *r, void *data)
{
	struct inbound_held *h = data;
	struct inbound *in = h->in;
	inbound_done_cb done = h->done;
	void *done_data = h->data;

	(void)c;
	in->n_writing--;
	if (r == NULL) {
		/* Redis went away before answering: keep it for the next time. */
		if (hold(h)) {
			if (done)
				done(done_data, 0);
			maybe_drained(in);
			return;
		}
		if (done)
			done(done_data, -1);
	} else if (store_reply_error(h->in->store, r, h->op)) {
		if (done)
			done(done_data, -1);
	} else if (done) {
		if (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING)
			log_info("%s %s: %s", channel_name(h->channel), h->op, r->str);
		done(done_data, 0);
	}
	held_free(h);
	maybe_drained(in);
}

static int call(struct inbound_held *h)
{
	const char *fn = strcmp(h->op, "inbound") == 0 ? LUA_FN_INBOUND : LUA_FN_FEEDBACK;

	if (store_call(h->in->store, fn, h->nargs, (const char **)h->args, NULL, on_stored, h) != 0)
		return -1;
	h->in->n_writing++;
	return 0;
}

static void replay(struct inbound *in)
{
	size_t n = 0;

	while (in->held_head != NULL && in->store->ready) {
		struct inbound_held *h = in->held_head;

		if (call(h) != 0)
			break;
		in->held_head = h->next;
		if (in->held_head == NULL)
			in->held_tail = NULL;
		in->n_held--;
		n++;
	}
	if (n > 0)
		log_info("inbound: %zu held while Redis was away, now written", n);
}

static void on_store_ready(struct store *st, bool ready, void *data)
{
	(void)st;
	if (ready)
		replay(data);
}

void inbound_init(struct inbound *in, const struct config *cfg, struct store *store)
{
	memset(in, 0, sizeof(*in));
	in->cfg = cfg;
	in->store = store;
	store_add_ready_cb(store, on_store_ready, in);
}

/* Writes the op now, or holds it for Redis. */
static int store_or_hold(struct inbound *in, const char *op, enum channel ch, int nargs,
			 const char **args, inbound_done_cb done, void *data)
{
	struct inbound_held *h = held_new(in, op, ch, nargs, args);

	if (h == NULL)
		return -1;
	h->done = done;
	h->data = data;
	if (call(h) == 0)
		return 0;
	if (hold(h)) {
		done(data, 0);
		return 0;
	}
	held_free(h);
	done(data, -1);
	return 0;
}

/* A message a person sent: what it says about consent is decided here,
 * for every channel, and the answer chosen; the Lua op records it. */
static int feed_message(struct inbound *in, const struct inbound_item *item, inbound_done_cb done,
			void *data)
{
	struct inbound_counts *n = &in->counts[item->channel];
	const char *text = item->text ? item->text : "", *matched = NULL, *answer = "";
	const char *kind = "consent";
	enum consent_intent intent = consent_classify(text, strlen(text), &matched);
	char folded[160];

	switch (intent) {
	case CONSENT_STOP:
	case CONSENT_START:
		answer = consent_confirmation(intent, matched);
		intent == CONSENT_STOP ? n->stops++ : n->starts++;
		break;
	case CONSENT_HELP:
		answer = in->cfg->channel[item->channel].help_text;
		kind = "help";
		n->helps++;
		break;
	default:
		n->replies++;
		break;
	}
	const char *args[LUA_INBOUND_NHEAD];

	args[LUA_INBOUND_HEAD_CHANNEL] = channel_name(item->channel);
	args[LUA_INBOUND_HEAD_FROM] = item->from;
	args[LUA_INBOUND_HEAD_TEXT] = text;
	args[LUA_INBOUND_HEAD_PROVIDER_ID] = item->provider_id;
	args[LUA_INBOUND_HEAD_INTENT] = consent_intent_name(intent);
	args[LUA_INBOUND_HEAD_KEYWORD] = matched ? matched : "";
	args[LUA_INBOUND_HEAD_ANSWER] = answer;
	args[LUA_INBOUND_HEAD_ANSWER_KIND] = kind;
	args[LUA_INBOUND_HEAD_NORM] = consent_reply_fold(text, strlen(text), folded, sizeof(folded));
	return store_or_hold(in, "inbound", item->channel, LUA_INBOUND_NHEAD, args, done, data);
}

int inbound_feed(struct inbound *in, const struct inbound_item *item, inbound_done_cb done,
		 void *data)
{
	if (item->kind == INBOUND_MESSAGE)
		return feed_message(in, item, done, data);
	const char *args[LUA_FEEDBACK_NHEAD];

	args[LUA_FEEDBACK_HEAD_PROVIDER_ID] = item->provider_id;
	args[LUA_FEEDBACK_HEAD_STATUS] = item->status;
	args[LUA_FEEDBACK_HEAD_ERROR] = item->error ? item->error : "";
	return store_or_hold(in, "feedback", item->channel, LUA_FEEDBACK_NHEAD, args, done, data);
}

void inbound_stop(struct inbound *in, void (*drained)(struct inbound *in))
{
	in->drained = drained;
	if (in->n_held > 0 && in->store->ready)
		replay(in);
	maybe_drained(in);
}

const struct inbound_counts *inbound_counts(const struct inbound *in, enum channel ch)
{
	return &in->counts[ch];
}

void inbound_close(struct inbound *in)
{
	while (in->held_head) {
		struct inbound_held *h = in->held_head;

		in->held_head = h->next;
		held_free(h);
	}
	if (in->n_held > 0)
		log_warn("inbound: %zu callbacks and replies held for Redis are lost at exit",
			 in->n_held);
	in->held_tail = NULL;
	in->n_held = 0;
}
