/* rate.c: the local side of the shared GCRA budget (see rate.h). */
#include "rate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int rate_default_burst(double rate)
{
	double b = ceil(rate / 10.0);

	return b < 1 ? 1 : b > 10000 ? 10000 : (int)b;
}

void rate_init(struct rate_budget *b, uv_loop_t *loop, struct store *store,
	       enum channel channel, double rate, int burst,
	       void (*on_tokens)(void *data), void *data)
{
	memset(b, 0, sizeof(*b));
	b->rate = rate;
	b->burst = burst > 0 ? burst : rate_default_burst(rate);
	b->channel = channel;
	b->store = store;
	b->on_tokens = on_tokens;
	b->data = data;
	uv_timer_init(loop, &b->timer);
	b->timer.data = b;
}

int rate_available(const struct rate_budget *b)
{
	return b->tokens > 0 ? b->tokens : 0;
}

void rate_spend(struct rate_budget *b, int n)
{
	b->tokens -= n;
}

static void on_wait_over(uv_timer_t *t)
{
	struct rate_budget *b = t->data;

	b->waiting = false;
	b->on_tokens(b->data);
}

static void start_wait(struct rate_budget *b, long long ms)
{
	if (ms < 1)
		ms = 1;
	if (ms > 60000)
		ms = 60000;
	b->waiting = true;
	b->waits++;
	b->wait_until_ms = uv_now(b->timer.loop) + (uint64_t)ms;
	uv_timer_start(&b->timer, on_wait_over, (uint64_t)ms, 0);
}

static void on_rate(struct rconn *c, redisReply *r, void *data)
{
	struct rate_budget *b = data;
	long long granted;

	(void)c;
	b->pending = false;
	if (r == NULL)
		return;
	if (store_reply_error(b->store, r, "rate") || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != LUA_RATE_NREPLY ||
	    r->element[LUA_RATE_REPLY_GRANTED]->type != REDIS_REPLY_INTEGER ||
	    r->element[LUA_RATE_REPLY_WAIT]->type != REDIS_REPLY_INTEGER) {
		/* Without an answer nothing may be sent: try again shortly. */
		if (b->asked > 0)
			start_wait(b, 1000);
		return;
	}
	if (b->asked == 0)
		return;		/* a refund */
	granted = r->element[LUA_RATE_REPLY_GRANTED]->integer;
	b->granted += (uint64_t)granted;
	b->tokens += (int)granted;
	if (granted == 0 || b->tokens <= 0)
		start_wait(b, r->element[LUA_RATE_REPLY_WAIT]->integer);
	b->on_tokens(b->data);
}

static void send_request(struct rate_budget *b, int want, int refund)
{
	char rate[32], burst[16], want_s[16], refund_s[16];
	const char *args[LUA_RATE_NHEAD];

	snprintf(rate, sizeof(rate), "%.6g", b->rate);
	snprintf(burst, sizeof(burst), "%d", b->burst);
	snprintf(want_s, sizeof(want_s), "%d", want);
	snprintf(refund_s, sizeof(refund_s), "%d", refund);
	args[LUA_RATE_HEAD_CHANNEL] = channel_name(b->channel);
	args[LUA_RATE_HEAD_RATE] = rate;
	args[LUA_RATE_HEAD_BURST] = burst;
	args[LUA_RATE_HEAD_WANT] = want_s;
	args[LUA_RATE_HEAD_REFUND] = refund_s;
	if (store_call(b->store, LUA_FN_RATE, LUA_RATE_NHEAD, args, NULL, on_rate, b) == 0) {
		b->pending = true;
		b->asked = want;
		b->requests++;
	}
}

void rate_request(struct rate_budget *b, int want)
{
	if (b->pending || b->waiting || want <= 0)
		return;
	if (b->tokens < 0)
		want -= b->tokens;
	send_request(b, want, 0);
}

void rate_refund(struct rate_budget *b)
{
	if (b->pending || b->tokens <= 0)
		return;
	send_request(b, 0, b->tokens);
	b->tokens = 0;
}

int64_t rate_wait_hint(const struct rate_budget *b)
{
	uint64_t now;

	if (b->pending)
		return 5;
	if (!b->waiting)
		return -1;
	now = uv_now(b->timer.loop);
	return b->wait_until_ms > now ? (int64_t)(b->wait_until_ms - now) : 0;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct rate_budget *b = h->data;

	b->on_closed(b);
}

void rate_close(struct rate_budget *b, void (*closed)(struct rate_budget *b))
{
	b->on_closed = closed;
	uv_close((uv_handle_t *)&b->timer, on_timer_closed);
}
