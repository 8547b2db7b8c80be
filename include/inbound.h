/* inbound.h: the one way in for what people and providers send back.
 *
 * A provider's adapter turns its own format (Twilio's webhooks today;
 * email bounces and replies, Signal messages and receipts later) into
 * items and feeds them here, so that what they mean is decided in one
 * place for every channel:
 *
 * - a message a person sent: consent words (STOP, START and their Spanish
 *   and free-text forms; consent.h) change the opt-out set and the ledger
 *   and get a confirmation (at most one per address and channel a day);
 *   HELP gets the channel's [<channel>] help_text whatever the consent
 *   state (at most once per [<channel>] help_interval); anything else is
 *   a reply (to the latest
 *   alert with reply keywords sent to that address, else pregon:inbound);
 * - a receipt about a message pregon sent (sent, delivered, undelivered,
 *   failed, read): it moves the message on, never back.
 *
 * Each item is one call of the Lua library (ops inbound and feedback),
 * which are idempotent (an inbound message once per provider id, a receipt
 * never moves a message back). Answers (HELP, consent confirmations) are
 * limited per address ([<channel>] help_interval; one confirmation a day)
 * and go on the channel's answer lane.
 *
 * Providers such as Twilio do not retry a webhook that was answered, and a
 * STOP must not be lost: an item Redis cannot take (away, or answering an
 * error such as OOM) goes to the spool ([inbound] spool, spool.h), on disk
 * (fsync'd) before the provider is told it arrived, and is written to
 * Redis from there, in order, once Redis takes it, also after a restart.
 * While the spool holds items, new ones join it behind them, so items are
 * applied in the order they came. The provider hears 503 only when the
 * spool cannot take an item either. Nothing here logs an address or a
 * text. */
#ifndef PREGON_INBOUND_H
#define PREGON_INBOUND_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "channel.h"
#include "config.h"
#include "inbound_item.h"
#include "spool.h"
#include "store.h"

struct templates;

/* What inbound messages said, per channel (for the channel's metrics),
 * and the answers made (queued to be sent) or withheld by the limits. */
struct inbound_counts {
	uint64_t stops, starts, helps, replies;
	uint64_t answers, answers_limited;
};

struct inbound_write;

struct inbound {
	uv_loop_t *loop;
	const struct config *cfg;
	struct store *store;
	struct inbound_counts counts[CHANNEL_COUNT];
	struct spool spool;		/* see above; open once a provider asks */
	bool spool_open;
	size_t n_writing;		/* items sent to Redis directly, not yet answered */
	/* Items for the spool that wait for those answers first, in order. */
	struct inbound_write *behind, *behind_tail;
	bool replaying;			/* the spool's first record is out to Redis */
	uv_timer_t retry_timer;		/* the next replay after Redis answered an error */
	bool retry_pending;
	int64_t retry_ms;		/* its backoff */
	uint64_t spooled, replayed;	/* items put in the spool, and written from it */
	int64_t spool_depth;		/* for the gauge: items in the spool */
	void (*drained)(struct inbound *in);	/* inbound_stop's, once */
	void (*closed)(struct inbound *in);	/* inbound_close's */
	/* pregond's template set (swapped on SIGHUP; NULL until set): the
	 * answers to STOP, START and HELP in the sender's language. */
	struct templates *const *templates;
};

/* The item's outcome: 0 when it is stored, in Redis or in the spool (the
 * provider can be told it arrived); -1 when it is neither (the provider
 * should try again: 503). */
typedef void (*inbound_done_cb)(void *data, int status);

void inbound_init(struct inbound *in, uv_loop_t *loop, const struct config *cfg,
		  struct store *store);

/* Answers STOP, START and HELP from the templates consent_stop,
 * consent_start and consent_help in the language of the word the person
 * wrote (consent_lang), with [templates] sender; without one of them
 * (templates from before them, or none loaded), consent.c's English and
 * Spanish texts and [<channel>] help_text. *templates is read at each
 * answer, so a reload applies at once. */
void inbound_set_templates(struct inbound *in, struct templates *const *templates);

/* Opens the spool ([inbound] spool) and takes what it holds, to be written
 * first: called by a provider that feeds items, when it opens (before the
 * loop runs; spool.h says why). Once; later calls return 0. Returns 0, or
 * -1 with err ("[inbound] spool: ..."): pregond must not start then. */
int inbound_open_spool(struct inbound *in, struct err *err);

/* Takes an item. Returns 0 and calls done exactly once, later or, when
 * it is refused at once, before returning; or -1 (out of memory) and
 * never calls done. */
int inbound_feed(struct inbound *in, const struct inbound_item *item, inbound_done_cb done,
		 void *data);

/* What the channel's inbound messages said so far. */
const struct inbound_counts *inbound_counts(const struct inbound *in, enum channel ch);

/* For a shutdown, once no provider can feed more (the HTTP server is
 * closed): calls drained when every item taken is written to Redis or on
 * disk in the spool (whatever Redis cannot take now stays there for the
 * next start). */
void inbound_stop(struct inbound *in, void (*drained)(struct inbound *in));

/* Closes the spool and the timer; closed is called from the loop. */
void inbound_close(struct inbound *in, void (*closed)(struct inbound *in));

struct metrics;
/* Registers pregon_inbound_answers_total and the spool's families. */
int inbound_metrics(struct inbound *in, struct metrics *m);

#endif
