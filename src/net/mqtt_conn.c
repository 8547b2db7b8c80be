/* mqtt_conn.c: libmosquitto 2.0.11 on the libuv loop (see mqtt_conn.h).
 *
 * Source references are to eclipse/mosquitto v2.0.11 as Debian 12 ships it
 * (2.0.11-1.2+deb12u2). */
#include "mqtt_conn.h"
#include "backoff.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"

/* The connect step (DNS, TCP, TLS handshake) must finish within this,
 * and the CONNACK within as long again. */
#define MQTT_CONNECT_TIMEOUT_MS 10000
/* Addresses of a host name tried per attempt; more are ignored. */
#define MQTT_MAX_ADDRS 16
/* How long a DISCONNECT may take to leave before the socket is dropped. */
#define MQTT_CLOSE_TIMEOUT_MS 2000
/* Reconnect backoff: doubles from the first to the last, plus up to 25%
 * jitter so that instances do not reconnect in lockstep after a broker
 * restart. */
/* Debian's CA directory (hashed), used for mqtts:// without cafile/capath. */
#define MQTT_SYSTEM_CAPATH "/etc/ssl/certs"

void mqtt_default_client_id(const struct config *cfg, char *out, size_t out_len)
{
	char host[64] = "localhost";

	if (cfg->mqtt_client_id[0]) {
		snprintf(out, out_len, "%s", cfg->mqtt_client_id);
		return;
	}
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(out, out_len, "pregon-%s", host);
}

/* ---- logging ---- */

static const char *state_name(enum mqtt_conn_state s)
{
	switch (s) {
	case MQTT_IDLE: return "idle";
	case MQTT_BACKOFF: return "backoff";
	case MQTT_RESOLVING: return "connecting";
	case MQTT_CONNECTING: return "awaiting CONNACK";
	case MQTT_UP: return "up";
	case MQTT_CLOSING: return "closing";
	}
	return "?";
}

/* A failed attempt is logged the first time, when its reason changes, and
 * every 20th time; the rest at debug level, so that a broker that stays
 * away (or a wrong password) does not flood the log. */
static void log_failure(struct mqtt_conn *c)
{
	bool changed = strcmp(c->why, c->last_logged) != 0;

	if (changed || c->failures % 20 == 1) {
		log_warn("mqtt %s: cannot connect to %s:%d: %s (attempt %llu; retrying with backoff)",
			 c->role, c->url.host, c->url.port, c->why,
			 (unsigned long long)c->failures);
		snprintf(c->last_logged, sizeof(c->last_logged), "%s", c->why);
	} else {
		log_debug("mqtt %s: attempt %llu failed: %s", c->role,
			  (unsigned long long)c->failures, c->why);
	}
}

/* ---- the poll handle ---- */

struct mqtt_poll {
	uv_poll_t handle;
	struct mqtt_conn *c;
};

static void maybe_closed(struct mqtt_conn *c)
{
	if (c->closing && c->open_handles == 0 && c->attempt == NULL && c->on_closed) {
		void (*cb)(struct mqtt_conn *) = c->on_closed;

		c->on_closed = NULL;
		cb(c);
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	struct mqtt_conn *c = h->data;

	c->open_handles--;
	maybe_closed(c);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct mqtt_poll *p = h->data;
	struct mqtt_conn *c = p->c;

	free(p);
	c->open_handles--;
	maybe_closed(c);
}

/* Stops watching before libmosquitto closes (or after it closed) the fd:
 * uv_poll_stop removes it from epoll at once (deps.md 0.1 and 0.2). */
static void poll_close(struct mqtt_conn *c)
{
	struct mqtt_poll *p = c->poll;

	if (p == NULL)
		return;
	uv_poll_stop(&p->handle);
	uv_close((uv_handle_t *)&p->handle, on_poll_closed);
	c->poll = NULL;
	c->poll_fd = -1;
	c->poll_events = 0;
}

static void schedule_retry(struct mqtt_conn *c);
static void conn_sync(struct mqtt_conn *c, int rc);

/* Tells the owner that a stop it asked for is complete. */
static void maybe_stopped(struct mqtt_conn *c)
{
	if (!c->stop_pending || c->wanted || c->state != MQTT_IDLE)
		return;
	c->stop_pending = false;
	if (c->ops->stopped && !c->closing)
		c->ops->stopped(c, c->data);
}

/* Ends the connection, if any: the poll handle first, then the struct
 * mosquitto (which closes the socket without writing what is queued).
 * Never called from inside a libmosquitto callback. */
static void conn_drop(struct mqtt_conn *c, const char *why)
{
	bool was_up = c->state == MQTT_UP || c->state == MQTT_CLOSING;
	bool clean = c->state == MQTT_CLOSING;

	if (why != NULL && why != c->why)
		snprintf(c->why, sizeof(c->why), "%s", why);
	poll_close(c);
	if (c->m != NULL) {
		mosquitto_destroy(c->m);
		c->m = NULL;
	}
	c->paused = false;
	c->abort_requested = false;
	c->deferred_rc = 0;
	c->state = MQTT_IDLE;
	c->state_since = uv_now(c->loop);
	if (was_up) {
		if (clean || c->closing)
			log_info("mqtt %s: disconnected from %s:%d", c->role, c->url.host, c->url.port);
		else
			log_warn("mqtt %s: connection to %s:%d lost (%s); reconnecting", c->role,
				 c->url.host, c->url.port, c->why);
		c->last_logged[0] = '\0';
		if (c->ops->down)
			c->ops->down(c, c->data);
	} else if (!c->closing && c->wanted) {
		c->failures++;
		log_failure(c);
	}
	if (c->wanted && !c->closing)
		schedule_retry(c);
	else
		maybe_stopped(c);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct mqtt_poll *p = h->data;
	struct mqtt_conn *c = p->c;
	int rc = MOSQ_ERR_SUCCESS;

	if (c->poll != p || c->m == NULL)
		return;
	if (status < 0) {
		/* POLLERR: libuv has stopped the handle (deps.md 0.3). Let
		 * libmosquitto read, so that it finds and names the error
		 * itself (EOF, reset); the connection is dropped either way. */
		rc = mosquitto_loop_read(c->m, 1);
		if (rc == MOSQ_ERR_SUCCESS) {
			if (c->why[0] == '\0')
				snprintf(c->why, sizeof(c->why), "socket error: %s",
					 uv_strerror(status));
			rc = MOSQ_ERR_CONN_LOST;
		}
		conn_sync(c, rc);
		return;
	}
	/* Write first: what is queued now may go (we are not paused, or
	 * the handle would not watch), while a read may pause us again (the
	 * intake holding the PUBACK of what it reads until Redis has the
	 * job). Reading first would starve those PUBACKs while messages keep
	 * coming. */
	if ((events & UV_WRITABLE) && !c->paused) {
		errno = 0;
		rc = mosquitto_loop_write(c->m, 1);
		if (rc == MOSQ_ERR_ERRNO && errno != 0 && c->why[0] == '\0')
			snprintf(c->why, sizeof(c->why), "%s", strerror(errno));
	}
	if (rc == MOSQ_ERR_SUCCESS && (events & UV_READABLE) && !c->paused &&
	    !c->abort_requested && mosquitto_socket(c->m) >= 0) {
		errno = 0;
		rc = mosquitto_loop_read(c->m, 1);
		if (rc == MOSQ_ERR_ERRNO && errno != 0 && c->why[0] == '\0')
			snprintf(c->why, sizeof(c->why), "%s", strerror(errno));
	}
	conn_sync(c, rc);
}

/* The one function run after every libmosquitto call: drops the connection
 * on an error or a closed socket, else makes the poll handle watch the
 * current fd for reading, and for writing iff libmosquitto has something
 * to write. */
static void conn_sync(struct mqtt_conn *c, int rc)
{
	int fd, events, r;

	if (c->in_cb) {
		/* Inside a callback: the outer call's sync does the work. */
		if (rc != MOSQ_ERR_SUCCESS && c->deferred_rc == 0)
			c->deferred_rc = rc;
		return;
	}
	if (c->m == NULL)
		return;
	if (rc == MOSQ_ERR_SUCCESS)
		rc = c->deferred_rc;
	c->deferred_rc = 0;
	if (c->abort_requested) {
		conn_drop(c, NULL);
		return;
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		if (c->why[0] == '\0')
			snprintf(c->why, sizeof(c->why), "%s", mosquitto_strerror(rc));
		conn_drop(c, NULL);
		return;
	}
	fd = mosquitto_socket(c->m);
	if (fd < 0) {
		/* Closed by libmosquitto: after our DISCONNECT was written
		 * (do_client_disconnect), or on a keepalive timeout. */
		if (c->why[0] == '\0')
			snprintf(c->why, sizeof(c->why), "%s",
				 c->state == MQTT_CLOSING ? "closed" : "socket closed");
		conn_drop(c, NULL);
		return;
	}
	if (c->poll != NULL && c->poll_fd != fd)
		poll_close(c);
	if (c->poll == NULL) {
		struct mqtt_poll *p = calloc(1, sizeof(*p));

		if (p == NULL) {
			conn_drop(c, "out of memory");
			return;
		}
		/* UV_EEXIST here would mean a stale handle still watches this
		 * fd number (deps.md 0.1): drop rather than watch nothing. */
		r = uv_poll_init(c->loop, &p->handle, fd);
		if (r != 0) {
			char why[128];

			free(p);
			snprintf(why, sizeof(why), "cannot watch socket %d: %s", fd, uv_strerror(r));
			conn_drop(c, why);
			return;
		}
		p->c = c;
		p->handle.data = p;
		c->poll = p;
		c->poll_fd = fd;
		c->poll_events = 0;
		c->open_handles++;
	}
	events = 0;
	if (!c->paused) {
		/* Closing, nothing more is read: a PUBLISH arriving after our
		 * DISCONNECT would only fail the read (the session is no
		 * longer active) and drop what is still queued. */
		if (c->state != MQTT_CLOSING)
			events = UV_READABLE;
		if (mosquitto_want_write(c->m))
			events |= UV_WRITABLE;
	}
	if (events == c->poll_events)
		return;
	if (events == 0) {
		uv_poll_stop(&c->poll->handle);
	} else {
		r = uv_poll_start(&c->poll->handle, events, on_poll);
		if (r != 0) {
			char why[128];

			snprintf(why, sizeof(why), "cannot watch socket: %s", uv_strerror(r));
			conn_drop(c, why);
			return;
		}
	}
	c->poll_events = events;
}

/* ---- libmosquitto's callbacks (loop thread, inside loop_read/write/misc) ---- */

static void cb_connect(struct mosquitto *m, void *ud, int rc, int flags)
{
	struct mqtt_conn *c = ud;

	(void)m;
	if (rc != 0) {
		/* The read that delivered this CONNACK returns an error next
		 * (lib/handle_connack.c), and sync drops the connection. */
		snprintf(c->why, sizeof(c->why), "broker refused the connection: %s",
			 c->protocol == MQTT_PROTOCOL_V5 ? mosquitto_reason_string(rc)
							 : mosquitto_connack_string(rc));
		return;
	}
	c->state = MQTT_UP;
	c->state_since = uv_now(c->loop);
	c->backoff_ms = 0;
	c->failures = 0;
	c->why[0] = '\0';
	c->connects++;
	log_info("mqtt %s: up (%s:%d%s, client id %s%s)", c->role, c->url.host, c->url.port,
		 c->url.tls ? ", TLS" : "", c->client_id,
		 (flags & 1) ? ", session present" : "");
	c->in_cb = true;
	if (c->ops->up)
		c->ops->up(c, (flags & 1) != 0, c->data);
	c->in_cb = false;
}

/* Called after libmosquitto closed the socket (or after our DISCONNECT
 * left): nothing here touches the socket or the poll handle (pitfall 1,
 * eclipse-mosquitto/mosquitto#1644). sync, after the call that got here
 * returns, sees the closed socket and drops the connection. */
static void cb_disconnect(struct mosquitto *m, void *ud, int rc)
{
	struct mqtt_conn *c = ud;

	(void)m;
	if (rc != 0 && c->why[0] == '\0')
		snprintf(c->why, sizeof(c->why), "%s", mosquitto_strerror(rc));
}

static void cb_publish(struct mosquitto *m, void *ud, int mid, int reason,
		       const mosquitto_property *props)
{
	struct mqtt_conn *c = ud;

	(void)m;
	(void)props;
	c->in_cb = true;
	if (c->ops->published)
		c->ops->published(c, mid, reason, c->data);
	c->in_cb = false;
}

static void cb_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	struct mqtt_conn *c = ud;

	(void)m;
	c->in_cb = true;
	if (c->ops->message)
		c->ops->message(c, msg, c->data);
	c->in_cb = false;
}

static void cb_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
	struct mqtt_conn *c = ud;

	(void)m;
	c->in_cb = true;
	if (c->ops->subscribed)
		c->ops->subscribed(c, mid, n > 0 ? granted[0] : 0x80, c->data);
	c->in_cb = false;
}

/* libmosquitto's own errors and warnings (OpenSSL errors, for one). Its
 * debug lines name topics and sizes only, but are not needed. */
static void cb_log(struct mosquitto *m, void *ud, int level, const char *line)
{
	struct mqtt_conn *c = ud;

	(void)m;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		log_warn("mqtt %s: libmosquitto: %.200s", c->role, line);
}

/* ---- the connect step, in the thread pool ---- */

/* Everything the worker thread writes lives here; it reads the connection's
 * settings (never changed after init) and nothing else of the loop's. */
struct mqtt_attempt {
	uv_work_t req;
	struct mqtt_conn *c;
	struct mosquitto *m;	/* on success, connected (TCP and TLS) with CONNECT queued */
	char why[256];		/* on failure */
};

/* Monotonic ms; uv_hrtime needs no loop, so the pool thread may call it. */
static uint64_t mono_ms(void)
{
	return uv_hrtime() / 1000000;
}

/* Collects libmosquitto's errors during the attempt (the OpenSSL reason
 * for a failed handshake, a CA file that does not load). */
static void attempt_log(struct mosquitto *m, void *ud, int level, const char *line)
{
	struct mqtt_attempt *a = ud;
	size_t n = strlen(a->why);

	(void)m;
	if (!(level & MOSQ_LOG_ERR) || n >= sizeof(a->why) - 4)
		return;
	snprintf(a->why + n, sizeof(a->why) - n, "%s%s", n ? "; " : "", line);
}

/* Waits for events on fd until deadline. Returns the revents, 0 on
 * timeout, -1 on error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = mono_ms();
		struct pollfd p = { fd, events, 0 };
		int n;

		if (now >= deadline)
			return 0;
		n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return p.revents;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static void attempt_fail(struct mqtt_attempt *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void attempt_fail(struct mqtt_attempt *a, const char *fmt, ...)
{
	char head[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	if (a->why[0]) {
		char tail[256];

		snprintf(tail, sizeof(tail), "%s", a->why);
		snprintf(a->why, sizeof(a->why), "%s (%s)", head, tail);
	} else {
		snprintf(a->why, sizeof(a->why), "%s", head);
	}
	if (a->m != NULL) {
		mosquitto_destroy(a->m);
		a->m = NULL;
	}
}

static bool is_numeric_host(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* SNI for a host name connected by address: mosquitto set the address
 * (lib/net_mosq.c net__socket_connect_step3). OpenSSL calls this at
 * SSL_CB_HANDSHAKE_START, before it writes the ClientHello, on the SSL
 * mosquitto made from our context. */
static void tls_info(const SSL *ssl, int where, int ret)
{
	const char *host = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	(void)ret;
	if ((where & SSL_CB_HANDSHAKE_START) && host != NULL)
		SSL_set_tlsext_host_name((SSL *)ssl, host);
}

/* The OpenSSL reason of the last failure, for attempt_fail. */
static const char *tls_error(void)
{
	unsigned long e = ERR_peek_last_error();

	ERR_clear_error();
	return e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown" : "unknown";
}

/* The TLS context of one struct mosquitto, made here rather than by
 * libmosquitto, because the connection goes to an address while the
 * certificate must name the host of the url: libmosquitto checks the name
 * against the host it is given to connect to (lib/tls_mosq.c
 * mosquitto__server_certificate_verify). OpenSSL checks chain and name
 * instead (SSL_VERIFY_PEER, X509_VERIFY_PARAM_set1_host or _ip_asc), and a
 * mismatch fails the handshake before any MQTT byte (the password) leaves.
 * MOSQ_OPT_SSL_CTX_WITH_DEFAULTS stays off: with it, 2.0.11 would install
 * its verify callback without ever registering the ex_data index that
 * callback needs (net__init_tls runs only for contexts of its own), and
 * every handshake would fail. Settings as libmosquitto's defaults: TLS 1.2
 * or later, no compression. Returns 0 or -1 (attempt_fail). */
static int attempt_tls(struct mqtt_attempt *a, const char *connect_host)
{
	const struct mqtt_conn *c = a->c;
	const struct config *cfg = c->cfg;
	bool by_address = strcmp(connect_host, c->url.host) != 0;
	X509_VERIFY_PARAM *param;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int rc;

	if (ctx == NULL) {
		attempt_fail(a, "TLS: cannot make a context: %s", tls_error());
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cfg->mqtt_cafile[0] && SSL_CTX_load_verify_file(ctx, cfg->mqtt_cafile) != 1) {
		attempt_fail(a, "[mqtt] cafile: cannot be loaded: %s", tls_error());
		goto fail;
	}
	if (cfg->mqtt_capath[0] && SSL_CTX_load_verify_dir(ctx, cfg->mqtt_capath) != 1) {
		attempt_fail(a, "[mqtt] capath: cannot be loaded: %s", tls_error());
		goto fail;
	}
	if (!cfg->mqtt_cafile[0] && !cfg->mqtt_capath[0] &&
	    SSL_CTX_load_verify_dir(ctx, MQTT_SYSTEM_CAPATH) != 1) {
		attempt_fail(a, "%s: cannot be loaded: %s", MQTT_SYSTEM_CAPATH, tls_error());
		goto fail;
	}
	if (cfg->mqtt_certfile[0] &&
	    SSL_CTX_use_certificate_chain_file(ctx, cfg->mqtt_certfile) != 1) {
		attempt_fail(a, "[mqtt] certfile: cannot be loaded: %s", tls_error());
		goto fail;
	}
	if (cfg->mqtt_keyfile[0] &&
	    (SSL_CTX_use_PrivateKey_file(ctx, cfg->mqtt_keyfile, SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(ctx) != 1)) {
		attempt_fail(a, "[mqtt] keyfile: cannot be loaded or does not match certfile: %s",
			     tls_error());
		goto fail;
	}
	param = SSL_CTX_get0_param(ctx);
	if (!cfg->mqtt_tls_insecure &&
	    (is_numeric_host(c->url.host) ? X509_VERIFY_PARAM_set1_ip_asc(param, c->url.host)
	     : X509_VERIFY_PARAM_set1_host(param, c->url.host, 0)) != 1) {
		attempt_fail(a, "TLS: cannot check the host name: %s", tls_error());
		goto fail;
	}
	if (by_address) {
		SSL_CTX_set_app_data(ctx, (void *)c->url.host);
		SSL_CTX_set_info_callback(ctx, tls_info);
	}
	rc = mosquitto_int_option(a->m, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
	if (rc == MOSQ_ERR_SUCCESS)	/* mosquitto takes a reference (lib/options.c) */
		rc = mosquitto_void_option(a->m, MOSQ_OPT_SSL_CTX, ctx);
	if (rc != MOSQ_ERR_SUCCESS) {
		attempt_fail(a, "TLS context: %s", mosquitto_strerror(rc));
		goto fail;
	}
	SSL_CTX_free(ctx);
	return 0;
fail:
	SSL_CTX_free(ctx);
	return -1;
}

/* Connects to host (the url's, or one address of it) and, for mqtts,
 * completes the TLS handshake, with the connection's own (blocking) waits
 * until deadline. Returns 0 with a->m connected and CONNECT queued, or
 * -1 with a->m NULL and a->why set; *reached_tcp tells whether the TCP
 * connect succeeded (a reason past it says more than a refusal). */
static int attempt_one(struct mqtt_attempt *a, const char *host, uint64_t deadline,
		       bool *reached_tcp)
{
	const struct mqtt_conn *c = a->c;
	const struct config *cfg = c->cfg;
	int rc, fd, ev, soerr = 0;
	socklen_t slen = sizeof(soerr);

	*reached_tcp = false;
	a->why[0] = '\0';
	/* This pool thread's OpenSSL error queue may hold what an earlier
	 * attempt left (a refused address); SSL_get_error reads its oldest
	 * entry, and a stale system error would make libmosquitto take a
	 * failed handshake for one still in progress. */
	ERR_clear_error();
	a->m = mosquitto_new(c->client_id, c->clean_session, a);
	if (a->m == NULL) {
		attempt_fail(a, "out of memory");
		return -1;
	}
	mosquitto_log_callback_set(a->m, attempt_log);
	rc = mosquitto_int_option(a->m, MOSQ_OPT_PROTOCOL_VERSION, c->protocol);
	/* Packets leave only through loop_write (mqtt_conn.h). */
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_threaded_set(a->m, true);
	if (rc != MOSQ_ERR_SUCCESS) {
		attempt_fail(a, "libmosquitto setup: %s", mosquitto_strerror(rc));
		return -1;
	}
	if (cfg->mqtt_username[0] &&
	    mosquitto_username_pw_set(a->m, cfg->mqtt_username,
				      c->have_password ? c->password : NULL) != MOSQ_ERR_SUCCESS) {
		attempt_fail(a, "[mqtt] username: not accepted by libmosquitto");
		return -1;
	}
	if (c->url.tls && attempt_tls(a, host) != 0)
		return -1;
	errno = 0;
	rc = mosquitto_connect_bind_async(a->m, host, c->url.port,
					  (int)(cfg->mqtt_keepalive_ms / 1000), NULL);
	if (rc == MOSQ_ERR_EAI) {
		/* lib/net_mosq.c stores getaddrinfo's code in errno. */
		attempt_fail(a, "cannot resolve %s: %s", c->url.host, gai_strerror(errno));
		return -1;
	}
	if (rc == MOSQ_ERR_ERRNO) {
		attempt_fail(a, "%s", strerror(errno));
		return -1;
	}
	if (rc == MOSQ_ERR_TLS) {
		/* The handshake can fail inside connect_async already. */
		*reached_tcp = true;
		attempt_fail(a, "TLS handshake failed: %s", mosquitto_strerror(rc));
		return -1;
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		attempt_fail(a, "%s", mosquitto_strerror(rc));
		return -1;
	}
	fd = mosquitto_socket(a->m);
	if (fd < 0) {
		attempt_fail(a, "no socket after connect");
		return -1;
	}
	ev = wait_fd(fd, POLLOUT, deadline);
	if (ev == 0) {
		attempt_fail(a, "TCP connect timed out");
		return -1;
	}
	if (ev < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0) {
		attempt_fail(a, "%s", strerror(errno));
		return -1;
	}
	if (soerr != 0) {
		attempt_fail(a, "%s", strerror(soerr));
		return -1;
	}
	/* With mqtts, connect_async already tried the handshake's first
	 * write, and a refused connect reported ECONNREFUSED to that write,
	 * which clears the socket's error: SO_ERROR is then 0. Only a peer
	 * address says the connect succeeded. */
	{
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);

		if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0) {
			attempt_fail(a, "TCP connect failed (refused or unreachable)");
			return -1;
		}
	}
	*reached_tcp = true;
	if (c->url.tls) {
		SSL *ssl = mosquitto_ssl_get(a->m);

		while (ssl != NULL && !SSL_is_init_finished(ssl)) {
			/* With a handshake pending, loop_read only drives
			 * SSL_connect (lib/loop.c): no MQTT packet is read here. */
			rc = mosquitto_loop_read(a->m, 1);
			if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(a->m) < 0) {
				/* The certificate's problem, if that was it
				 * (OpenSSL's own reason only says "verify
				 * failed"). */
				long v = SSL_get_verify_result(ssl);

				attempt_fail(a, "TLS handshake failed: %s%s%s",
					     rc ? mosquitto_strerror(rc) : "connection closed",
					     v != X509_V_OK ? ": " : "",
					     v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
				return -1;
			}
			if (SSL_is_init_finished(ssl))
				break;
			/* The TCP connect is done, so the handshake's writes
			 * do not block: only the server's answer is awaited. */
			ev = wait_fd(fd, POLLIN, deadline);
			if (ev == 0) {
				attempt_fail(a, "TLS handshake timed out");
				return -1;
			}
			if (ev < 0 || ((ev & (POLLERR | POLLHUP)) && !(ev & POLLIN))) {
				attempt_fail(a, "TLS handshake failed: connection closed");
				return -1;
			}
		}
	}
	a->why[0] = '\0';	/* warnings of a successful attempt are not a reason */
	return 0;
}

/* Resolves the url's host, then connects to each of its addresses in turn
 * (attempt_one) until one connects, all bounded by
 * MQTT_CONNECT_TIMEOUT_MS (DNS by the resolver's own timeouts), each
 * address getting an equal share of what is left.
 *
 * Why here and not on the loop: getaddrinfo blocks. Why each address
 * ourselves: connect_async takes the first address whose connect()
 * starts (lib/net_mosq.c net__try_connect_tcp), so a refused ::1 would
 * end the attempt where "localhost" is ::1 first (a stock Debian 12) and
 * the broker listens on 127.0.0.1 only.
 * Why the handshake too: connect_async starts SSL_connect before the TCP
 * connect has completed, and in 2.0.11 only loop_read drives a pending
 * handshake while want_write can stay set, so an external loop can stall
 * or spin (eclipse-mosquitto/mosquitto#1507). Finished here, the loop gets
 * an established TLS session and only MQTT to do. */
static void attempt_work(uv_work_t *req)
{
	struct mqtt_attempt *a = req->data;
	const struct mqtt_conn *c = a->c;
	uint64_t deadline = mono_ms() + MQTT_CONNECT_TIMEOUT_MS;
	char addrs[MQTT_MAX_ADDRS][INET6_ADDRSTRLEN], deep[256] = "", shallow[256] = "";
	struct addrinfo hints, *res = NULL;
	bool reached_tcp;
	int n = 0, rc;

	if (is_numeric_host(c->url.host)) {
		attempt_one(a, c->url.host, deadline, &reached_tcp);
		return;
	}
	/* No AI_ADDRCONFIG: glibc would drop ::1 on a host without a global
	 * IPv6 address. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(c->url.host, NULL, &hints, &res);
	if (rc != 0) {
		attempt_fail(a, "cannot resolve %s: %s", c->url.host,
			     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return;
	}
	for (struct addrinfo *ai = res; ai != NULL && n < MQTT_MAX_ADDRS; ai = ai->ai_next) {
		const void *sa = ai->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		bool dup = false;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    inet_ntop(ai->ai_family, sa, addrs[n], sizeof(addrs[n])) == NULL)
			continue;
		for (int i = 0; i < n; i++)
			dup = dup || strcmp(addrs[i], addrs[n]) == 0;
		if (!dup)
			n++;
	}
	freeaddrinfo(res);
	if (n == 0) {
		attempt_fail(a, "%s has no IPv4 or IPv6 address", c->url.host);
		return;
	}
	for (int i = 0; i < n; i++) {
		uint64_t now = mono_ms();
		uint64_t share = deadline > now ? (deadline - now) / (uint64_t)(n - i) : 0;

		if (attempt_one(a, addrs[i], now + share, &reached_tcp) == 0)
			return;
		/* The reason to give: the first from past a TCP connect (a
		 * TLS or certificate problem), else the last refusal. */
		if (reached_tcp && deep[0] == '\0')
			snprintf(deep, sizeof(deep), "%s", a->why);
		else if (!reached_tcp)
			snprintf(shallow, sizeof(shallow), "%s", a->why);
	}
	if (n > 1)
		snprintf(a->why, sizeof(a->why), "%.180s (each of its %d addresses tried)",
			 deep[0] ? deep : shallow, n);
	else
		snprintf(a->why, sizeof(a->why), "%s", deep[0] ? deep : shallow);
}

static void attempt_done(uv_work_t *req, int status)
{
	struct mqtt_attempt *a = req->data;
	struct mqtt_conn *c = a->c;
	struct mosquitto *m = a->m;

	c->attempt = NULL;
	if (status != 0 && m == NULL && a->why[0] == '\0')
		snprintf(a->why, sizeof(a->why), "connect step: %s", uv_strerror(status));
	if (c->closing || !c->wanted) {
		if (m != NULL)
			mosquitto_destroy(m);
		free(a);
		c->state = MQTT_IDLE;
		maybe_stopped(c);
		maybe_closed(c);
		return;
	}
	if (m == NULL) {
		snprintf(c->why, sizeof(c->why), "%s", a->why[0] ? a->why : "connect failed");
		free(a);
		c->state = MQTT_IDLE;
		conn_drop(c, NULL);
		return;
	}
	free(a);
	/* From here on the loop owns m: callbacks run on the loop thread. */
	c->m = m;
	mosquitto_user_data_set(m, c);
	mosquitto_log_callback_set(m, cb_log);
	mosquitto_connect_with_flags_callback_set(m, cb_connect);
	mosquitto_disconnect_callback_set(m, cb_disconnect);
	mosquitto_publish_v5_callback_set(m, cb_publish);
	mosquitto_message_callback_set(m, cb_message);
	mosquitto_subscribe_callback_set(m, cb_subscribe);
	c->state = MQTT_CONNECTING;
	c->state_since = uv_now(c->loop);
	c->why[0] = '\0';
	conn_sync(c, MOSQ_ERR_SUCCESS);
}

static void attempt_start(struct mqtt_conn *c)
{
	struct mqtt_attempt *a = calloc(1, sizeof(*a));
	int r;

	if (a == NULL) {
		snprintf(c->why, sizeof(c->why), "out of memory");
		conn_drop(c, NULL);
		return;
	}
	a->c = c;
	a->req.data = a;
	c->attempt = a;
	c->state = MQTT_RESOLVING;
	c->state_since = uv_now(c->loop);
	c->why[0] = '\0';
	r = uv_queue_work(c->loop, &a->req, attempt_work, attempt_done);
	if (r != 0) {
		c->attempt = NULL;
		free(a);
		snprintf(c->why, sizeof(c->why), "cannot queue the connect step: %s", uv_strerror(r));
		conn_drop(c, NULL);
	}
}

/* ---- timers ---- */

static void on_retry(uv_timer_t *t)
{
	struct mqtt_conn *c = t->data;

	if (c->state == MQTT_BACKOFF && c->wanted && !c->closing)
		attempt_start(c);
}

static void schedule_retry(struct mqtt_conn *c)
{
	c->state = MQTT_BACKOFF;
	uv_timer_start(&c->retry, on_retry, backoff_next(&c->backoff_ms), 0);
}

static void on_misc(uv_timer_t *t)
{
	struct mqtt_conn *c = t->data;
	uint64_t age = uv_now(c->loop) - c->state_since;

	if (c->m == NULL)
		return;
	if (c->state == MQTT_CONNECTING && age > MQTT_CONNECT_TIMEOUT_MS) {
		conn_drop(c, "no CONNACK in time");
		return;
	}
	if (c->state == MQTT_CLOSING && age > MQTT_CLOSE_TIMEOUT_MS) {
		conn_drop(c, "closed (DISCONNECT not sent in time)");
		return;
	}
	/* Keepalive: PINGREQ when idle, and a disconnect when the broker
	 * stays silent (lib/util_mosq.c mosquitto__check_keepalive). */
	conn_sync(c, mosquitto_loop_misc(c->m));
}

/* ---- the owner's calls ---- */

int mqtt_conn_init(struct mqtt_conn *c, uv_loop_t *loop, const struct config *cfg,
		   const char *role, const char *client_id, bool clean_session, int protocol,
		   const struct mqtt_conn_ops *ops, void *data, struct err *err)
{
	struct err e;
	int r;

	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->cfg = cfg;
	snprintf(c->role, sizeof(c->role), "%s", role);
	snprintf(c->client_id, sizeof(c->client_id), "%s", client_id);
	c->clean_session = clean_session;
	c->protocol = protocol;
	c->ops = ops;
	c->data = data;
	c->poll_fd = -1;
	if (mqtt_url_parse(cfg->mqtt_url, &c->url, &e) != 0)
		return err_set(err, "[mqtt] url: %s", e.msg);
	if (cfg->mqtt_password_file[0] || getenv("PREGON_MQTT_PASSWORD") != NULL) {
		if (config_read_secret(cfg->mqtt_password_file, "PREGON_MQTT_PASSWORD", c->password,
				       sizeof(c->password), &e) != 0)
			return err_set(err, "[mqtt] password_file: %s", e.msg);
		c->have_password = true;
	}
	r = uv_timer_init(loop, &c->misc);
	if (r != 0)
		return err_set(err, "mqtt %s: timer: %s", role, uv_strerror(r));
	c->misc.data = c;
	c->open_handles++;
	r = uv_timer_init(loop, &c->retry);
	if (r != 0) {
		uv_close((uv_handle_t *)&c->misc, NULL);
		return err_set(err, "mqtt %s: timer: %s", role, uv_strerror(r));
	}
	c->retry.data = c;
	c->open_handles++;
	uv_timer_start(&c->misc, on_misc, 1000, 1000);
	return 0;
}

void mqtt_conn_start(struct mqtt_conn *c)
{
	if (c->closing)
		return;
	c->wanted = true;
	c->stop_pending = false;
	if (c->state == MQTT_IDLE) {
		c->backoff_ms = 0;
		attempt_start(c);
	}
}

void mqtt_conn_stop(struct mqtt_conn *c)
{
	int rc;

	c->wanted = false;
	c->stop_pending = true;
	switch (c->state) {
	case MQTT_BACKOFF:
		uv_timer_stop(&c->retry);
		c->state = MQTT_IDLE;
		maybe_stopped(c);
		break;
	case MQTT_IDLE:
		maybe_stopped(c);
		break;
	case MQTT_RESOLVING:	/* attempt_done sees !wanted */
	case MQTT_CLOSING:
		break;
	case MQTT_CONNECTING:
		if (c->in_cb)
			c->abort_requested = true;
		else
			conn_drop(c, "stopped");
		break;
	case MQTT_UP:
		/* DISCONNECT is queued after what is queued (PUBACKs), and
		 * libmosquitto closes the socket once it has left
		 * (lib/packet_mosq.c packet__write, do_client_disconnect). */
		c->state = MQTT_CLOSING;
		c->state_since = uv_now(c->loop);
		rc = mosquitto_disconnect(c->m);
		conn_sync(c, rc == MOSQ_ERR_NO_CONN ? MOSQ_ERR_SUCCESS : rc);
		break;
	}
}

void mqtt_conn_abort(struct mqtt_conn *c, const char *why)
{
	if (c->m == NULL)
		return;
	snprintf(c->why, sizeof(c->why), "%s", why);
	c->abort_requested = true;
	conn_sync(c, MOSQ_ERR_SUCCESS);
}

void mqtt_conn_pause(struct mqtt_conn *c, bool paused)
{
	int rc = MOSQ_ERR_SUCCESS;

	if (c->paused == paused)
		return;
	c->paused = paused;
	/* Resumed: write what was held (the intake's PUBACKs) now rather
	 * than a loop iteration later; the socket is non-blocking and a
	 * partial write leaves the rest for UV_WRITABLE. */
	if (!paused && !c->in_cb && c->m != NULL && !c->abort_requested &&
	    mosquitto_socket(c->m) >= 0 && mosquitto_want_write(c->m)) {
		errno = 0;
		rc = mosquitto_loop_write(c->m, 1);
		if (rc == MOSQ_ERR_ERRNO && errno != 0 && c->why[0] == '\0')
			snprintf(c->why, sizeof(c->why), "%s", strerror(errno));
	}
	conn_sync(c, rc);
}

int mqtt_conn_publish(struct mqtt_conn *c, const char *topic, const void *payload,
		      int len, int *mid)
{
	int rc;

	if (c->state != MQTT_UP || c->m == NULL || c->abort_requested)
		return -1;
	rc = mosquitto_publish_v5(c->m, mid, topic, len, payload, 1, false, NULL);
	if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO ||
	    rc == MOSQ_ERR_NOMEM) {
		conn_sync(c, rc);
		return -1;
	}
	/* Anything else refuses this message only (too large for the
	 * broker's maximum packet size, say): the connection stays. */
	conn_sync(c, MOSQ_ERR_SUCCESS);
	return rc;
}

int mqtt_conn_subscribe(struct mqtt_conn *c, const char *filter, int *mid)
{
	int rc;

	if (c->state != MQTT_UP || c->m == NULL || c->abort_requested)
		return -1;
	rc = mosquitto_subscribe(c->m, mid, filter, 1);
	conn_sync(c, rc);
	return rc == MOSQ_ERR_SUCCESS ? 0 : -1;
}

bool mqtt_conn_is_up(const struct mqtt_conn *c)
{
	return c->state == MQTT_UP && !c->abort_requested;
}

void mqtt_conn_close(struct mqtt_conn *c, void (*on_closed)(struct mqtt_conn *c))
{
	if (c->closing)
		return;
	c->closing = true;
	c->wanted = false;
	c->on_closed = on_closed;
	log_debug("mqtt %s: closing (%s)", c->role, state_name(c->state));
	if (c->m != NULL)
		conn_drop(c, "closed");
	/* A connect step still queued is cancelled; one already running
	 * finishes and attempt_done destroys what it made. */
	if (c->attempt != NULL)
		uv_cancel((uv_req_t *)&c->attempt->req);
	uv_close((uv_handle_t *)&c->misc, on_handle_closed);
	uv_close((uv_handle_t *)&c->retry, on_handle_closed);
	c->state = MQTT_IDLE;
	maybe_closed(c);
}

const struct metric_family mqtt_conn_up_family = {
	"pregon_mqtt_connected", METRIC_GAUGE, "1 when the MQTT connection is up, by role.",
};
const struct metric_family mqtt_conn_connects_family = {
	"pregon_mqtt_connects_total", METRIC_COUNTER,
	"MQTT connections established (CONNACK accepted), by role.",
};

int64_t mqtt_conn_read_up(const void *conn)
{
	return mqtt_conn_is_up(conn) ? 1 : 0;
}
