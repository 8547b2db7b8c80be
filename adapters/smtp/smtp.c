/* smtp.c: email through an SMTP relay ([email] provider = smtp).
 *
 * libcurl's SMTP: each message is one transfer, MAIL FROM, RCPT TO, DATA
 * and the message smtp_mime.c built, streamed from one buffer by
 * CURLOPT_READFUNCTION (libcurl does the dot-stuffing).
 *
 * Not on the daemon's curl multi, though: libcurl waits for the answer to
 * the end of the message (the 250 after the final ".") in a blocking loop,
 * whatever interface drives it (smtp_done() runs smtp_block_statemach(),
 * curl-7_88_1 lib/smtp.c, and still does in curl 8). On the loop thread a
 * relay that takes its time there (a content filter, a stall) would stop
 * the whole daemon for up to [email] timeout. So each slot below is a
 * thread of its own running curl_easy_perform() on its own easy handle:
 * the blocking stays there, and the loop only hands over a message and
 * hears the end (uv_async_t).
 *
 * Connections: [email] connections slots, so at most that many messages
 * on the wire and that many connections. A slot's easy handle keeps its
 * connection for the next message (no new EHLO, TLS or AUTH); more sends
 * wait here, in order, for a free slot.
 *
 * TLS: smtps:// is TLS from the first byte; smtp:// with [email] starttls
 * = required (CURLUSESSL_ALL: no STARTTLS, no mail), opportunistic
 * (CURLUSESSL_TRY: TLS when offered, else the clear) or off. Certificates
 * are always verified, against [email] ca_file or the system's.
 *
 * Outcomes (smtp_reply.h has the table): 4xx and broken connections are
 * temporary and retried by the engine with backoff; 5xx is permanent with
 * the code and the server's words minus addresses; a 550-class answer at
 * RCPT also says bounced. Failures that are about the server or our setup
 * count against a circuit breaker (breaker.h), as for Twilio. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "adapter.h"
#include "breaker.h"
#include "clock.h"
#include "compose.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "validate.h"

#include "smtp_mime.h"
#include "smtp_reply.h"

/* A message built is at most this big (jobs are far smaller: [jobs]
 * max_bytes). */
#define SMTP_MESSAGE_MAX (8 * 1024 * 1024)

/* Its keys, in [email]; the others of [email] (provider, rate, burst,
 * concurrency) are the channel's (channel.h). */
struct smtp_config {
	char url[CONFIG_STR_MAX];		/* smtp://host:port or smtps:// */
	char username[256];			/* AUTH; "" = none */
	char password_file[CONFIG_STR_MAX];	/* else $PREGON_SMTP_PASSWORD */
	char starttls[16];			/* required, opportunistic, off */
	int connections;			/* transfers (connections) at once */
	int64_t timeout_ms;			/* one message, connect to final 250 */
	char ca_file[CONFIG_STR_MAX];		/* PEM CAs; "" = the system's */
	char unsubscribe_mailto[256];		/* List-Unsubscribe mailto; "" = from */
	int breaker_failures;
	int64_t breaker_cooldown_ms;
};

struct smtp;
struct smtp_send;

/* One transfer's room: a thread, its easy handle (kept across messages,
 * and with it the connection) and the message being sent. The loop
 * writes the message and the options, then sets `work`; the thread
 * performs, then sets `finished`; each touches the rest only while the
 * other waits. */
struct smtp_slot {
	struct smtp *s;
	CURL *easy;
	struct smtp_send *send;		/* on the wire, or NULL: free */
	uv_thread_t thread;
	bool started;			/* the thread runs */
	uv_mutex_t mu;
	uv_cond_t cv;
	bool work, quit;		/* loop -> thread, under mu */
	bool finished, exited;		/* thread -> loop, under mu */
	CURLcode rc;			/* the transfer's, with finished */
	atomic_int cancel;		/* stop the transfer (closing) */
	curl_socket_t sock;		/* the connection's socket, or -1; under mu */
	struct buf msg;
	size_t off;			/* bytes of msg handed to libcurl */
	struct curl_slist *rcpt;
	enum smtp_phase phase;		/* of the last command sent */
	bool said_quit;			/* QUIT sent: the rest is not the message's */
	char reply[SMTP_REPLY_MAX + 1];	/* the last reply line */
	char unique[24];		/* this message's random token */
	bool failed;			/* the last transfer did not end well */
};

struct smtp_send {
	struct smtp *s;
	struct send_req *req;
	adapter_done_cb done;
	struct send_result res;		/* an answer given on the next loop turn */
	struct smtp_send *next;		/* waiting queue, or answers list */
};

struct smtp {
	struct adapter *a;
	const struct smtp_config *conf;
	char url[CONFIG_STR_MAX + 300];	/* with /<EHLO name> */
	char from[256];			/* [email] from's address (the core's key:
					 * the invitations' ORGANIZER too) */
	char mail_from[300];		/* <from> */
	char from_name[64];		/* [templates] sender */
	char password[256];
	long use_ssl;			/* CURLOPT_USE_SSL */
	const char *mailto;		/* List-Unsubscribe mailto address */
	struct breaker breaker;
	struct smtp_slot *slots;
	int n_slots;
	struct smtp_send *wait_head, *wait_tail;	/* for a free slot */
	struct smtp_send *answers;	/* done on the next loop turn */
	uv_timer_t answer_timer;
	uv_async_t async;		/* a slot finished or exited */
	int handles;			/* uv handles not yet closed */
	bool finalizing;		/* closing them */
	int busy;			/* slots with a transfer on the wire */
	int waiting;			/* sends in the waiting queue */
	uint64_t connects, bounces;	/* for /metrics */
	int pending;			/* sends whose done has not run */
	bool closing;
	bool setup_warned;		/* a setup failure was logged */
	adapter_closed_cb closed;
};

static const struct config_module smtp_config;
static void on_async(uv_async_t *h);

/* ---- setup ---- */

/* url is smtp:// or smtps://, a host, maybe a port, nothing else: no
 * user or password in it (they would be logged with it), no path (the
 * adapter adds the EHLO name there). Returns its length without a
 * trailing '/'. */
static int check_url(const char *url, bool *tls, struct err *err)
{
	size_t n = strlen(url), skip;

	if (strncmp(url, "smtp://", 7) == 0)
		*tls = false, skip = 7;
	else if (strncmp(url, "smtps://", 8) == 0)
		*tls = true, skip = 8;
	else
		return err_set(err, "[email] url: must be smtp://host[:port] or smtps://host[:port]");
	while (n > skip && url[n - 1] == '/')
		n--;
	if (n == skip || strcspn(url + skip, "@/?# \t") < n - skip)
		return err_set(err, "[email] url: a host and port only (no user, password or path): "
			       "username and password_file hold the credentials");
	return (int)n;
}

/* The EHLO name (RFC 5321 4.1.1.1: the client's fully qualified name):
 * this host's name when it has a dot, else the From domain. */
static void ehlo_name(char *out, size_t out_len, const char *from)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) == 0 && strchr(host, '.') != NULL &&
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
	    strlen(host))
		snprintf(out, out_len, "%s", host);
	else
		snprintf(out, out_len, "%s", strchr(from, '@') + 1);
}

static int open_tls(struct smtp *s, const struct smtp_config *c, bool smtps, struct err *err)
{
	if (strcmp(c->starttls, "required") == 0)
		s->use_ssl = CURLUSESSL_ALL;
	else if (strcmp(c->starttls, "opportunistic") == 0)
		s->use_ssl = CURLUSESSL_TRY;
	else if (strcmp(c->starttls, "off") == 0)
		s->use_ssl = CURLUSESSL_NONE;
	else
		return err_set(err, "[email] starttls: must be required, opportunistic or off, got %s",
			       c->starttls);
	if (smtps)
		s->use_ssl = CURLUSESSL_ALL;
	else if (s->use_ssl != CURLUSESSL_ALL && c->username[0] != '\0')
		log_warn("[email] starttls is %s: the SMTP password may cross the network in the "
			 "clear; use required or smtps://", c->starttls);
	if (c->ca_file[0] != '\0' && access(c->ca_file, R_OK) != 0)
		return err_set(err, "[email] ca_file: cannot read %s: %s", c->ca_file,
			       strerror(errno));
	return 0;
}

static int open_slots(struct smtp *s, struct err *err)
{
	s->n_slots = s->conf->connections;
	s->slots = calloc((size_t)s->n_slots, sizeof(*s->slots));
	if (s->slots == NULL)
		return err_set(err, "[email] smtp: out of memory");
	for (int i = 0; i < s->n_slots; i++) {
		s->slots[i].s = s;
		s->slots[i].msg.max = SMTP_MESSAGE_MAX;
		s->slots[i].sock = -1;
		if (uv_mutex_init(&s->slots[i].mu) != 0 || uv_cond_init(&s->slots[i].cv) != 0)
			return err_set(err, "[email] smtp: cannot make a mutex");
	}
	return 0;
}

/* "La Defensa" of [email] from = La Defensa <a@b>, else [templates]
 * sender, else none. */
static void from_name(const struct config *cfg, char *out, size_t out_len)
{
	const char *f = cfg->email_from, *lt = strrchr(f, '<');
	size_t n;

	if (lt == NULL) {
		snprintf(out, out_len, "%s", cfg->templates_sender);
		return;
	}
	while (*f == ' ' || *f == '"')
		f++;
	n = (size_t)(lt - f);
	while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == '"'))
		n--;
	snprintf(out, out_len, "%.*s", (int)n, f);
	if (out[0] == '\0')
		snprintf(out, out_len, "%s", cfg->templates_sender);
}

static int smtp_open(struct adapter *a, const struct adapter_env *env, struct err *err)
{
	const struct smtp_config *c = config_module_get(env->cfg, &smtp_config);
	struct smtp *s;
	char ehlo[256];
	bool smtps = false;
	int url_len;
	struct err e = { 0 };
	char from[256];

	/* The curl loop's creation ran curl_global_init(), before any of the
	 * slots' threads can start. */
	if (env->curl == NULL)
		return err_set(err, "[email] provider smtp: no curl loop");
	if ((url_len = check_url(c->url, &smtps, err)) < 0)
		return -1;
	if (compose_from_address(env->cfg->email_from, from, sizeof(from)) == NULL ||
	    email_check(from, &e) != 0)
		return err_set(err, "[email] from: not an email address (\"a@b\" or \"Name <a@b>\")");
	if (c->unsubscribe_mailto[0] != '\0' && email_check(c->unsubscribe_mailto, &e) != 0)
		return err_set(err, "[email] unsubscribe_mailto: not an email address");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return err_set(err, "[email] smtp: out of memory");
	s->a = a;
	s->conf = c;
	if (open_tls(s, c, smtps, err) != 0)
		goto fail;
	if (c->username[0] != '\0' &&
	    (config_read_secret(c->password_file, "PREGON_SMTP_PASSWORD", s->password,
				sizeof(s->password), &e) != 0 || s->password[0] == '\0')) {
		err_set(err, "[email] password_file: %s", e.msg[0] ? e.msg :
			"empty (set it, or $PREGON_SMTP_PASSWORD, for username)");
		goto fail;
	}
	if (open_slots(s, err) != 0)
		goto fail;
	snprintf(s->from, sizeof(s->from), "%s", from);
	ehlo_name(ehlo, sizeof(ehlo), s->from);
	snprintf(s->url, sizeof(s->url), "%.*s/%s", url_len, c->url, ehlo);
	snprintf(s->mail_from, sizeof(s->mail_from), "<%s>", s->from);
	/* The display name: the one [email] from gives, else the sender's. */
	from_name(env->cfg, s->from_name, sizeof(s->from_name));
	s->mailto = c->unsubscribe_mailto[0] ? c->unsubscribe_mailto : s->from;
	breaker_init(&s->breaker, c->breaker_failures, c->breaker_cooldown_ms);
	uv_timer_init(env->loop, &s->answer_timer);
	s->answer_timer.data = s;
	uv_async_init(env->loop, &s->async, on_async);
	s->async.data = s;
	s->handles = 2;
	a->state = s;
	log_info("email: smtp at %.*s, starttls %s, %d connections, auth %s", url_len, c->url,
		 smtps ? "n/a (smtps)" : c->starttls, c->connections,
		 c->username[0] ? "on" : "off");
	return 0;
fail:
	free(s->slots);
	free(s);
	return -1;
}

/* ---- the message ---- */

static void mail_of(const struct smtp *s, const struct send_req *req, const char *unique,
		    struct smtp_mail *m)
{
	*m = (struct smtp_mail){
		.from = s->from,
		.from_name = s->from_name,
		.to = req->to,
		.subject = req->subject ? req->subject : "",
		.text = req->body ? req->body : "",
		.html = req->html,
		.calendar = req->calendar,
		.calendar_method = req->calendar_method ? req->calendar_method : "REQUEST",
		.unsubscribe_url = req->unsubscribe_url,
		.unsubscribe_mailto = s->mailto,
		.message_id = req->message_id,
		.unique = unique,
		.date_s = clock_now_ms() / 1000,
	};
}

static int smtp_prepare(struct adapter *a, const struct send_req *req, struct err *err)
{
	struct smtp_mail m;
	struct err e;

	if (email_check(req->to, &e) != 0)
		return err_public(err, "to: not an email address");
	if ((req->body == NULL || req->body[0] == '\0') && req->html == NULL)
		return err_public(err, "body: empty");
	mail_of(a->state, req, "prepare0", &m);
	return smtp_mime_check(&m, err);
}

/* A random token for the Message-ID and the MIME boundaries. */
static void make_unique(char *out, size_t out_len)
{
	static uint64_t counter;
	uint64_t r[2] = { 0 };

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		r[0] = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
		r[1] = ++counter * 0x9E3779B97F4A7C15ull ^ (uint64_t)rand();
	}
	snprintf(out, out_len, "%016llx%04llx", (unsigned long long)r[0],
		 (unsigned long long)(r[1] & 0xffff));
}

/* ---- the slot's thread ---- */

static size_t on_read(char *out, size_t size, size_t n, void *data)
{
	struct smtp_slot *sl = data;
	size_t left = sl->msg.len - sl->off, k = size * n;

	if (k > left)
		k = left;
	memcpy(out, sl->msg.p + sl->off, k);
	sl->off += k;
	return k;
}

/* Follows the dialogue: the phase of each command sent, the last reply
 * line read before QUIT. Never keeps a command's arguments (AUTH carries the
 * password) nor the message. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
	struct smtp_slot *sl = userp;
	int phase;

	(void)h;
	/* libcurl says QUIT when it gives up a connection (after a refusal,
	 * too): what failed was before it. */
	if (sl->said_quit)
		return 0;
	if (type == CURLINFO_HEADER_OUT) {
		phase = smtp_reply_phase_of(data, size);
		if (phase == SMTP_PHASE_QUIT)
			sl->said_quit = true;
		else if (phase >= 0)
			sl->phase = (enum smtp_phase)phase;
	} else if (type == CURLINFO_DATA_OUT) {
		sl->phase = SMTP_PHASE_BODY;
	} else if (type == CURLINFO_HEADER_IN) {
		const char *nl;

		while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r'))
			size--;
		/* The last line of a multi-line reply says it all. */
		while ((nl = memchr(data, '\n', size)) != NULL) {
			size -= (size_t)(nl + 1 - data);
			data = (char *)nl + 1;
		}
		if (size > SMTP_REPLY_MAX)
			size = SMTP_REPLY_MAX;
		memcpy(sl->reply, data, size);
		sl->reply[size] = '\0';
	}
	return 0;
}

/* libcurl calls it at least once a second, also while it waits for the
 * final answer: a closing daemon stops the transfer within that. */
static int on_progress(void *data, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct smtp_slot *sl = data;

	(void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(&sl->cancel) ? 1 : 0;
}

/* The connection's socket is known to the slot, so that a closing
 * daemon can shut it down from the loop thread (shutdown(2), not close:
 * the fd stays libcurl's) and no wait of libcurl's on a silent server
 * outlasts the shutdown grace: a QUIT's, say, which libcurl sends when it
 * gives a connection up and waits for without calling on_progress. */
static curl_socket_t on_open_socket(void *data, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct smtp_slot *sl = data;
	curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

	if (fd != CURL_SOCKET_BAD && purpose == CURLSOCKTYPE_IPCXN) {
		uv_mutex_lock(&sl->mu);
		sl->sock = fd;
		uv_mutex_unlock(&sl->mu);
	}
	return fd;
}

static int on_close_socket(void *data, curl_socket_t fd)
{
	struct smtp_slot *sl = data;

	uv_mutex_lock(&sl->mu);
	if (sl->sock == fd)
		sl->sock = -1;
	uv_mutex_unlock(&sl->mu);
	return close(fd);
}

/* Cuts the slot's connection, whatever libcurl is waiting for on it. */
static void slot_cut(struct smtp_slot *sl)
{
	uv_mutex_lock(&sl->mu);
	if (sl->sock >= 0)
		shutdown(sl->sock, SHUT_RDWR);
	uv_mutex_unlock(&sl->mu);
}

/* The slot's thread: one transfer at a time, for the life of the
 * adapter; at the end it closes its connection (QUIT, which may wait on
 * the server: here, not on the loop). */
static void slot_main(void *arg)
{
	struct smtp_slot *sl = arg;

	uv_mutex_lock(&sl->mu);
	for (;;) {
		CURLcode rc;

		while (!sl->work && !sl->quit)
			uv_cond_wait(&sl->cv, &sl->mu);
		if (sl->quit)
			break;
		uv_mutex_unlock(&sl->mu);
		rc = curl_easy_perform(sl->easy);
		uv_mutex_lock(&sl->mu);
		sl->rc = rc;
		sl->work = false;
		sl->finished = true;
		uv_async_send(&sl->s->async);
	}
	uv_mutex_unlock(&sl->mu);
	curl_easy_cleanup(sl->easy);
	uv_mutex_lock(&sl->mu);
	sl->easy = NULL;
	sl->exited = true;
	uv_async_send(&sl->s->async);
	uv_mutex_unlock(&sl->mu);
}

/* The easy handle, its options for the life of the slot, and the
 * thread. */
static int slot_start(struct smtp_slot *sl)
{
	const struct smtp *s = sl->s;
	CURL *e;

	if (sl->started)
		return 0;
	e = curl_easy_init();
	if (e == NULL)
		return -1;
	curl_easy_setopt(e, CURLOPT_URL, s->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USE_SSL, s->use_ssl);
	if (s->conf->ca_file[0] != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, s->conf->ca_file);
	if (s->conf->username[0] != '\0') {
		curl_easy_setopt(e, CURLOPT_USERNAME, s->conf->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, s->password);
	}
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, s->mail_from);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, sl);
	curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(e, CURLOPT_DEBUGDATA, sl);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, sl);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, sl);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, sl);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->conf->timeout_ms);
	/* Also what a QUIT may wait when libcurl gives a connection up
	 * (libcurl's own default is 120 s). */
	curl_easy_setopt(e, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)(s->conf->timeout_ms / 1000));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(s->conf->timeout_ms < 10000 ? s->conf->timeout_ms : 10000));
	/* One connection per slot: a broken one is replaced, not added to. */
	curl_easy_setopt(e, CURLOPT_MAXCONNECTS, 1L);
	sl->easy = e;
	if (uv_thread_create(&sl->thread, slot_main, sl) != 0) {
		curl_easy_cleanup(e);
		sl->easy = NULL;
		return -1;
	}
	sl->started = true;
	return 0;
}

/* ---- sends ---- */

static void on_answer_timer(uv_timer_t *h);

/* done runs on the next loop turn, never inside send(). */
static void answer_later(struct smtp_send *sd, enum send_status st, const char *error)
{
	struct smtp *s = sd->s;

	sd->res.status = st;
	snprintf(sd->res.error, sizeof(sd->res.error), "%s", error);
	sd->next = s->answers;
	s->answers = sd;
	uv_timer_start(&s->answer_timer, on_answer_timer, 0, 0);
}

/* Puts sd on the wire in the free slot sl. */
static void start(struct smtp_slot *sl, struct smtp_send *sd)
{
	struct smtp *s = sl->s;
	char to[300];
	struct smtp_mail m;
	struct err err;

	buf_reset(&sl->msg);
	sl->off = 0;
	sl->phase = SMTP_PHASE_CONNECT;
	sl->said_quit = false;
	sl->reply[0] = '\0';
	make_unique(sl->unique, sizeof(sl->unique));
	mail_of(s, sd->req, sl->unique, &m);
	if (smtp_mime_build(&sl->msg, &m, &err) != 0) {
		answer_later(sd, SEND_PERM_FAIL, err.pub[0] ? err.pub : "smtp: cannot build the message");
		return;
	}
	snprintf(to, sizeof(to), "<%s>", sd->req->to);
	if (slot_start(sl) != 0 || (sl->rcpt = curl_slist_append(NULL, to)) == NULL) {
		answer_later(sd, SEND_TEMP_FAIL, "smtp: out of memory or threads");
		return;
	}
	curl_easy_setopt(sl->easy, CURLOPT_MAIL_RCPT, sl->rcpt);
	/* After a failure the connection may be in any state: libcurl keeps
	 * it when the wait for the final answer timed out (smtp_done() marks
	 * it for closing only for an error before that), and the next MAIL
	 * would read the late answer to the last message. */
	curl_easy_setopt(sl->easy, CURLOPT_FRESH_CONNECT, sl->failed ? 1L : 0L);
	sl->send = sd;
	s->busy++;
	uv_mutex_lock(&sl->mu);
	sl->work = true;
	uv_cond_signal(&sl->cv);
	uv_mutex_unlock(&sl->mu);
}

static struct smtp_slot *free_slot(struct smtp *s)
{
	for (int i = 0; i < s->n_slots; i++)
		if (s->slots[i].send == NULL)
			return &s->slots[i];
	return NULL;
}

/* Starts waiting sends while slots are free. */
static void pump(struct smtp *s)
{
	struct smtp_slot *sl;

	while (s->wait_head != NULL && !s->closing && (sl = free_slot(s)) != NULL) {
		struct smtp_send *sd = s->wait_head;

		s->wait_head = sd->next;
		if (s->wait_head == NULL)
			s->wait_tail = NULL;
		sd->next = NULL;
		s->waiting--;
		start(sl, sd);
	}
}

static void shut(struct smtp *s);

static void finish(struct smtp_send *sd, const struct send_result *res)
{
	struct smtp *s = sd->s;
	struct send_req *req = sd->req;
	adapter_done_cb done = sd->done;

	free(sd);
	s->pending--;
	done(req, res);
	if (s->closing && s->pending == 0)
		shut(s);
}

static void on_answer_timer(uv_timer_t *h)
{
	struct smtp *s = h->data;

	while (s->answers != NULL) {
		struct smtp_send *sd = s->answers;
		struct send_result res = sd->res;

		s->answers = sd->next;
		finish(sd, &res);
	}
}

/* The breaker, and one log line when the server or our setup fails
 * (not one per message). */
static void health(struct smtp *s, enum smtp_health h, const struct send_result *res)
{
	uint64_t now = uv_now(s->a->env->loop);

	switch (h) {
	case SMTP_HEALTH_OK:
		breaker_success(&s->breaker);
		s->setup_warned = false;
		break;
	case SMTP_HEALTH_NEUTRAL:
		breaker_neutral(&s->breaker);
		break;
	case SMTP_HEALTH_FAILURE:
		breaker_failure(&s->breaker, now);
		if (!s->setup_warned)
			log_error("email: %s; messages are retried until this is fixed", res->error);
		s->setup_warned = true;
		break;
	case SMTP_HEALTH_NONE:
		break;
	}
}

static void transfer_done(struct smtp_slot *sl, CURLcode rc)
{
	struct smtp *s = sl->s;
	struct smtp_send *sd = sl->send;
	struct send_result res;
	struct smtp_transfer_end end = {
		.rc = rc, .phase = sl->phase, .reply = sl->reply,
		.tls_wanted = s->use_ssl == CURLUSESSL_ALL,
	};

	/* A transfer cut at shutdown ends as a broken connection. */
	if (atomic_load(&sl->cancel))
		end.rc = CURLE_ABORTED_BY_CALLBACK;
	health(s, smtp_reply_classify(&end, &res), &res);
	sl->failed = res.status != SEND_SENT;
	/* (The engine logs each outcome with the message id.) */
	if (res.status == SEND_SENT)
		snprintf(res.provider_id, sizeof(res.provider_id), "%s.%s", sd->req->message_id,
			 sl->unique);
	if (res.bounced)
		s->bounces++;
	{
		long made = 0;

		if (curl_easy_getinfo(sl->easy, CURLINFO_NUM_CONNECTS, &made) == CURLE_OK && made > 0)
			s->connects += (uint64_t)made;
	}
	curl_slist_free_all(sl->rcpt);
	sl->rcpt = NULL;
	sl->send = NULL;
	s->busy--;
	pump(s);
	finish(sd, &res);
}

static void all_exited(struct smtp *s);

/* A slot finished a transfer or its thread exited. */
static void on_async(uv_async_t *h)
{
	struct smtp *s = h->data;
	int exited = 0;

	for (int i = 0; i < s->n_slots; i++) {
		struct smtp_slot *sl = &s->slots[i];
		bool finished;
		CURLcode rc;

		uv_mutex_lock(&sl->mu);
		finished = sl->finished;
		sl->finished = false;
		rc = sl->rc;
		exited += !sl->started || sl->exited;
		uv_mutex_unlock(&sl->mu);
		if (finished && sl->send != NULL)
			transfer_done(sl, rc);
	}
	if (s->closing && s->pending == 0 && exited == s->n_slots)
		all_exited(s);
}

static int smtp_send(struct adapter *a, struct send_req *req, adapter_done_cb done)
{
	struct smtp *s = a->state;
	struct smtp_send *sd;
	struct smtp_slot *sl;
	int64_t retry_in = 0;

	if (s->closing || (sd = calloc(1, sizeof(*sd))) == NULL)
		return -1;
	sd->s = s;
	sd->req = req;
	sd->done = done;
	s->pending++;
	if (!breaker_allow(&s->breaker, uv_now(a->env->loop), &retry_in)) {
		char why[128];

		snprintf(why, sizeof(why), "smtp: circuit %s after %d failures in a row; not attempted",
			 breaker_state_name(s->breaker.state), s->breaker.failures);
		sd->res.retry_after_ms = retry_in;
		answer_later(sd, SEND_DEFERRED, why);
		return 0;
	}
	/* In order: a free slot goes to the longest waiting. */
	if (s->wait_head == NULL && (sl = free_slot(s)) != NULL) {
		start(sl, sd);
		return 0;
	}
	if (s->wait_tail != NULL)
		s->wait_tail->next = sd;
	else
		s->wait_head = sd;
	s->wait_tail = sd;
	s->waiting++;
	return 0;
}

/* ---- closing ---- */

static void on_handle_closed(uv_handle_t *h)
{
	struct smtp *s = h->data;
	struct adapter *a = s->a;
	adapter_closed_cb closed = s->closed;

	if (--s->handles > 0)
		return;
	for (int i = 0; i < s->n_slots; i++) {
		buf_free(&s->slots[i].msg);
		uv_mutex_destroy(&s->slots[i].mu);
		uv_cond_destroy(&s->slots[i].cv);
	}
	free(s->slots);
	explicit_bzero(s->password, sizeof(s->password));
	free(s);
	a->state = NULL;
	closed(a);
}

/* Every thread has closed its connection and ended: joining is at once. */
static void all_exited(struct smtp *s)
{
	if (s->finalizing)
		return;
	s->finalizing = true;
	for (int i = 0; i < s->n_slots; i++)
		if (s->slots[i].started)
			uv_thread_join(&s->slots[i].thread);
	uv_close((uv_handle_t *)&s->answer_timer, on_handle_closed);
	uv_close((uv_handle_t *)&s->async, on_handle_closed);
}

/* Nothing is pending: each thread is told to end; the last one out
 * (on_async) closes the rest. */
static void shut(struct smtp *s)
{
	for (int i = 0; i < s->n_slots; i++) {
		struct smtp_slot *sl = &s->slots[i];

		/* A connection in good order gets its QUIT; one whose last
		 * message failed may not answer it. */
		if (sl->failed)
			slot_cut(sl);
		uv_mutex_lock(&sl->mu);
		sl->quit = true;
		uv_cond_signal(&sl->cv);
		uv_mutex_unlock(&sl->mu);
	}
	uv_async_send(&s->async);
}

static void smtp_close(struct adapter *a, adapter_closed_cb closed)
{
	struct smtp *s = a->state;

	s->closed = closed;
	s->closing = true;
	if (s->pending == 0) {
		shut(s);
		return;
	}
	/* What waits for a slot is answered temporary (the message stays
	 * claimed in Redis and is reclaimed); what is on the wire is
	 * stopped and answered when its thread returns. */
	while (s->wait_head != NULL) {
		struct smtp_send *sd = s->wait_head;

		s->wait_head = sd->next;
		answer_later(sd, SEND_TEMP_FAIL, "smtp: cancelled (shutting down)");
	}
	s->wait_tail = NULL;
	s->waiting = 0;
	for (int i = 0; i < s->n_slots; i++) {
		atomic_store(&s->slots[i].cancel, 1);
		if (s->slots[i].send != NULL)
			slot_cut(&s->slots[i]);
	}
}

/* ---- metrics ---- */

static int64_t read_breaker_open(const void *p)
{
	return ((const struct breaker *)p)->state != BREAKER_CLOSED;
}

static int smtp_metrics(struct adapter *a, struct metrics *m)
{
	static const struct metric_family connects = { "pregon_smtp_connects_total", METRIC_COUNTER,
		"Connections opened to the SMTP relay (each is kept for the next message)." };
	static const struct metric_family bounces = { "pregon_smtp_bounces_total", METRIC_COUNTER,
		"Addresses the relay refused at RCPT as not existing (opted out of email)." };
	static const struct metric_family busy = { "pregon_smtp_busy", METRIC_GAUGE,
		"Messages on the wire, at most [email] connections." };
	static const struct metric_family waiting = { "pregon_smtp_waiting", METRIC_GAUGE,
		"Messages waiting for a free connection." };
	static const struct metric_family open = { "pregon_smtp_breaker_open", METRIC_GAUGE,
		"Whether the circuit breaker keeps messages from the relay now (1) or not (0)." };
	struct smtp *s = a->state;

	return metrics_counter(m, &connects, &s->connects, NULL) ||
	       metrics_counter(m, &bounces, &s->bounces, NULL) ||
	       metrics_gauge(m, &busy, metrics_read_int, &s->busy, NULL) ||
	       metrics_gauge(m, &waiting, metrics_read_int, &s->waiting, NULL) ||
	       metrics_gauge(m, &open, read_breaker_open, &s->breaker, NULL) ? -1 : 0;
}

static const struct config_key smtp_keys[] = {
	CONFIG_STR(struct smtp_config, "email", "url", url, ""),
	CONFIG_STR(struct smtp_config, "email", "username", username, ""),
	CONFIG_SECRET(struct smtp_config, "email", "password_file", password_file, ""),
	CONFIG_STR(struct smtp_config, "email", "starttls", starttls, "required"),
	CONFIG_INT(struct smtp_config, "email", "connections", connections, "4", 1, 100),
	CONFIG_DURATION(struct smtp_config, "email", "timeout", timeout_ms, "60s", 1000, 600000),
	CONFIG_PATH(struct smtp_config, "email", "ca_file", ca_file, ""),
	CONFIG_STR(struct smtp_config, "email", "unsubscribe_mailto", unsubscribe_mailto, ""),
	CONFIG_INT(struct smtp_config, "email", "breaker_failures", breaker_failures, "10", 1,
		   100000),
	CONFIG_DURATION(struct smtp_config, "email", "breaker_cooldown", breaker_cooldown_ms, "30s",
			100, 3600000),
};

static const struct config_module smtp_config = {
	"smtp", smtp_keys, CONFIG_KEYS(smtp_keys), sizeof(struct smtp_config),
};

const struct adapter_ops smtp_adapter_ops = {
	.name = "smtp",
	.config = &smtp_config,
	.open = smtp_open,
	.prepare = smtp_prepare,
	.send = smtp_send,
	.reopen = NULL,
	.close = smtp_close,
	.metrics = smtp_metrics,
};
