/* signal_cli_events.c: signal-cli's event stream, receipts and messages
 * people send (see signal_cli.h).
 *
 * GET {url}/api/v1/events answers text/event-stream and never ends by
 * itself: one `receive` event per envelope, `event:receive` then
 * `data:<JSON>` and a blank line, and a `:` comment every 15 s as a
 * keep-alive (http/ServerSentEventSender.java, HttpServerHandler.java;
 * the format is WHATWG HTML "Server-sent events").
 *
 * What an envelope means is signal_cli_envelope.c's. The stream is one
 * libcurl transfer on the shared multi (curl_loop.h) with a write
 * callback that cuts lines and events, each bounded; a
 * transfer that ends for any reason is started again after a backoff
 * with jitter. A stream silent for 45 s (three keep-alives missed) is
 * taken as dead (libcurl's low-speed limit). What it finds goes to
 * inbound.h one item at a time; while too many are still on their way to
 * Redis the transfer is paused (the socket is not read), so a flood waits
 * in the kernel and in signal-cli instead of in pregond's memory.
 *
 * Redelivery is harmless: a message is handled once per provider id (the
 * sender and its timestamp), and a receipt never moves a message back or
 * twice to the same status (delivery.lua feedback). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "curl_loop.h"
#include "inbound.h"
#include "log.h"

#include "signal_cli.h"

/* A line of the stream, and an event's data: a dataMessage of Signal's
 * longest inline text (2,000 characters, longer ones are attachments)
 * with its attachments' metadata is well under 64 KiB. */
#define SSE_LINE_MAX (64 * 1024)
#define SSE_DATA_MAX (256 * 1024)

/* Items out to inbound.h at once before the stream is paused, and when
 * it is let go again. */
#define FEEDS_PAUSE 256
#define FEEDS_RESUME 64

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define STEADY_MS 30000			/* a stream up this long resets the backoff */
#define SILENCE_S 45L			/* 3 keep-alives */

struct signal_cli_stream {
	const struct adapter_env *env;
	enum channel channel;
	char url[CONFIG_STR_MAX + 64];
	char unix_socket[CONFIG_STR_MAX];
	CURL *easy;			/* the transfer, while one is out */
	struct curl_slist *headers;
	uv_timer_t reconnect;
	int64_t backoff_ms;
	uint64_t up_since;		/* uv_now when it answered 200, or 0 */
	bool up;
	bool paused;
	bool closing;
	bool logged_down;		/* the current outage is logged */
	char errbuf[CURL_ERROR_SIZE];
	/* The event being read. */
	struct buf line;
	struct buf data;
	bool event_receive;		/* "event:receive" (or none) */
	bool skip;			/* over the bounds: to the next blank line */
	bool after_cr;			/* the last byte ended a line with \r */
	size_t feeds;			/* items out to inbound.h */
	struct signal_cli_stream_counts n;
	void (*closed)(void *data);
	void *closed_data;
};

/* ---- items to inbound.h ---- */

static void maybe_closed(struct signal_cli_stream *s);

static void on_fed(void *data, int status)
{
	struct signal_cli_stream *s = data;

	s->feeds--;
	if (status != 0) {
		s->n.lost++;
		log_error("signal: an item from the event stream could be stored neither in Redis "
			  "nor in the spool: lost");
	}
	if (s->paused && s->feeds <= FEEDS_RESUME && s->easy != NULL) {
		s->paused = false;
		curl_easy_pause(s->easy, CURLPAUSE_CONT);
	}
	maybe_closed(s);
}

static int feed_one(void *data, const struct inbound_item *item)
{
	struct signal_cli_stream *s = data;

	if (inbound_feed(s->env->inbound, item, on_fed, s) != 0) {
		s->n.lost++;
		log_error("signal: out of memory: an item from the event stream is lost");
		return 0;
	}
	s->feeds++;
	return 0;
}

/* ---- the SSE format ---- */

static void dispatch(struct signal_cli_stream *s)
{
	if (s->data.len > 0 && s->event_receive &&
	    signal_cli_event_items(s->data.p, s->data.len, s->channel, feed_one, s, &s->n) != 0)
		s->n.bad++;
	buf_reset(&s->data);
	s->event_receive = true;
}

/* One line without its end (WHATWG "Interpreting an event stream"). */
static void on_line(struct signal_cli_stream *s, const char *l, size_t len)
{
	const char *colon = memchr(l, ':', len);
	size_t name = colon ? (size_t)(colon - l) : len;
	const char *v = colon ? colon + 1 : l + len;
	size_t vlen = len - (size_t)(v - l);

	if (len == 0) {
		if (!s->skip)
			dispatch(s);
		s->skip = false;
		buf_reset(&s->data);
		s->event_receive = true;
		return;
	}
	if (s->skip || name == 0)
		return;		/* a comment: the keep-alive */
	if (vlen > 0 && v[0] == ' ') {
		v++;
		vlen--;
	}
	if (name == 5 && memcmp(l, "event", 5) == 0) {
		s->event_receive = vlen == 7 && memcmp(v, "receive", 7) == 0;
	} else if (name == 4 && memcmp(l, "data", 4) == 0) {
		if ((s->data.len > 0 && buf_add(&s->data, "\n", 1) != 0) ||
		    buf_add(&s->data, v, vlen) != 0) {
			s->n.bad++;
			s->skip = true;
			buf_reset(&s->data);
		}
	}
}

static void stream_up(struct signal_cli_stream *s)
{
	s->up = true;
	s->up_since = uv_now(s->env->loop);
	s->n.connects++;
	log_info("signal: event stream connected");
	s->logged_down = false;
}

/* The end of the headers: signal-cli flushes them at once, so a 200 here
 * is the stream open, before its first event or keep-alive (15 s). */
static size_t on_header(char *p, size_t size, size_t nmemb, void *data)
{
	struct signal_cli_stream *s = data;
	size_t len = size * nmemb;
	long code = 0;

	if (!s->up && (len == 2 || len == 1) && (p[0] == '\r' || p[0] == '\n')) {
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200)
			stream_up(s);
	}
	return len;
}

/* Cuts what arrived into lines (\n, \r\n or \r), each at most SSE_LINE_MAX. */
static size_t on_bytes(char *p, size_t size, size_t nmemb, void *data)
{
	struct signal_cli_stream *s = data;
	size_t len = size * nmemb;
	long code = 0;

	if (!s->up) {
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code != 200)
			return 0;	/* not the stream: ends the transfer */
		stream_up(s);
	}
	for (size_t i = 0; i < len;) {
		size_t run = 0;

		if (p[i] == '\n' && s->after_cr) {	/* the \n of \r\n ends nothing more */
			s->after_cr = false;
			i++;
			continue;
		}
		while (i + run < len && p[i + run] != '\n' && p[i + run] != '\r')
			run++;
		if (run > 0 && buf_add(&s->line, p + i, run) != 0) {
			buf_reset(&s->line);	/* over SSE_LINE_MAX: the event is dropped */
			if (!s->skip)
				s->n.bad++;
			s->skip = true;
		}
		i += run;
		s->after_cr = false;
		if (i < len) {
			s->after_cr = p[i] == '\r';
			on_line(s, s->line.p ? s->line.p : "", s->line.len);
			buf_reset(&s->line);
			i++;
		}
	}
	if (s->feeds >= FEEDS_PAUSE && !s->paused) {
		/* Allowed from the write callback (curl_easy_pause(3)). */
		s->paused = true;
		curl_easy_pause(s->easy, CURLPAUSE_RECV);
	}
	return len;
}

/* ---- the transfer ---- */

static void on_reconnect(uv_timer_t *t);

static int connect_stream(struct signal_cli_stream *s, struct err *err);

static void schedule_reconnect(struct signal_cli_stream *s, const char *why)
{
	int64_t d = s->backoff_ms;

	/* +-20% jitter: instances that lost the same daemon spread out. */
	d = (int64_t)((double)d * (0.8 + 0.4 * (double)(rand() % 10001) / 10000.0));
	if (!s->logged_down)
		log_warn("signal: event stream %s; reconnecting (receipts and messages wait in "
			 "signal-cli only if it runs with --receive-mode=on-connection)", why);
	else
		log_info("signal: event stream %s; again in %lld ms", why, (long long)d);
	s->logged_down = true;
	s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
	uv_timer_start(&s->reconnect, on_reconnect, (uint64_t)d, 0);
}

static void on_done(void *data, CURL *easy, CURLcode rc)
{
	struct signal_cli_stream *s = data;
	long code = 0;
	char why[CURL_ERROR_SIZE + 64];

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(easy);
	s->easy = NULL;
	s->paused = false;
	if (s->up) {
		s->n.drops++;
		if (uv_now(s->env->loop) - s->up_since >= STEADY_MS)
			s->backoff_ms = BACKOFF_MIN_MS;
	}
	s->up = false;
	buf_reset(&s->line);
	buf_reset(&s->data);
	s->skip = false;
	s->after_cr = false;
	s->event_receive = true;
	if (s->closing) {
		maybe_closed(s);
		return;
	}
	if (code != 0 && code != 200)
		snprintf(why, sizeof(why), "answered HTTP %ld", code);
	else if (rc == CURLE_OK)
		snprintf(why, sizeof(why), "ended");
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(why, sizeof(why), "silent for %ld s", SILENCE_S);
	else
		snprintf(why, sizeof(why), "failed: %s",
			 s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
	schedule_reconnect(s, why);
}

static int connect_stream(struct signal_cli_stream *s, struct err *err)
{
	CURL *e = curl_easy_init();
	bool ok = e != NULL;

	if (!ok)
		return err_set(err, "signal: curl_easy_init failed");
	s->errbuf[0] = '\0';
	ok &= curl_easy_setopt(e, CURLOPT_URL, s->url) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, "pregon") == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, SILENCE_S) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_bytes) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, s) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HEADERDATA, s) == CURLE_OK;
	if (s->unix_socket[0] != '\0')
		ok &= curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, s->unix_socket) == CURLE_OK;
	if (!ok) {
		curl_easy_cleanup(e);
		return err_set(err, "signal: setting up the event stream failed (out of memory?)");
	}
	s->easy = e;
	if (curl_loop_add(s->env->curl, e, on_done, s, err) != 0) {
		curl_easy_cleanup(e);
		s->easy = NULL;
		return -1;
	}
	return 0;
}

static void on_reconnect(uv_timer_t *t)
{
	struct signal_cli_stream *s = t->data;
	struct err err;

	if (s->closing)
		return;
	if (connect_stream(s, &err) != 0)
		schedule_reconnect(s, err.msg);
}

int signal_cli_stream_start(struct signal_cli_stream **out, const struct adapter_env *env,
			    enum channel ch, const struct signal_cli_where *w,
			    const char *account, struct err *err)
{
	struct signal_cli_stream *s = calloc(1, sizeof(*s));
	char *q = NULL;

	if (s == NULL)
		return err_set(err, "signal: out of memory");
	s->env = env;
	s->channel = ch;
	s->backoff_ms = BACKOFF_MIN_MS;
	s->event_receive = true;
	s->line.max = SSE_LINE_MAX;
	s->data.max = SSE_DATA_MAX;
	if (account[0] != '\0')
		q = curl_easy_escape(NULL, account, 0);
	snprintf(s->url, sizeof(s->url), "%s/api/v1/events%s%s", w->base, q ? "?account=" : "",
		 q ? q : "");
	curl_free(q);
	snprintf(s->unix_socket, sizeof(s->unix_socket), "%s", w->unix_socket);
	s->headers = curl_slist_append(NULL, "Accept: text/event-stream");
	if (s->headers == NULL) {
		free(s);
		return err_set(err, "signal: out of memory");
	}
	uv_timer_init(env->loop, &s->reconnect);
	s->reconnect.data = s;
	/* Every reply and receipt comes through here: before the first, what
	 * the spool kept from before is written, in order. */
	if (inbound_open_spool(env->inbound, err) != 0 || connect_stream(s, err) != 0) {
		/* The timer is not started; closing it frees s. */
		s->closing = true;
		signal_cli_stream_close(s, NULL, NULL);
		return -1;
	}
	*out = s;
	return 0;
}

bool signal_cli_stream_up(const struct signal_cli_stream *s)
{
	return s->up;
}

const struct signal_cli_stream_counts *signal_cli_stream_counts(const struct signal_cli_stream *s)
{
	return &s->n;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct signal_cli_stream *s = h->data;
	void (*closed)(void *) = s->closed;
	void *data = s->closed_data;

	curl_slist_free_all(s->headers);
	buf_free(&s->line);
	buf_free(&s->data);
	free(s);
	if (closed)
		closed(data);
}

static void maybe_closed(struct signal_cli_stream *s)
{
	if (!s->closing || s->easy != NULL || s->feeds > 0 || uv_is_closing((uv_handle_t *)&s->reconnect))
		return;
	uv_close((uv_handle_t *)&s->reconnect, on_timer_closed);
}

void signal_cli_stream_close(struct signal_cli_stream *s, void (*closed)(void *data), void *data)
{
	s->closing = true;
	s->closed = closed;
	s->closed_data = data;
	uv_timer_stop(&s->reconnect);
	if (s->easy != NULL)
		curl_loop_cancel(s->env->curl, s->easy);
	maybe_closed(s);
}
