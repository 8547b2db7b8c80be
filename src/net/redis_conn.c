/* redis_conn.c: hiredis 0.14 async on libuv, with watchdog and reconnect.
 *
 * Why our own adapter: Debian's hiredis/adapters/libuv.h (0.14.1) returns
 * early when the poll status is non-zero, and libuv stops a poll handle on
 * POLLERR, so a refused connect or a reset connection never calls back
 * (../shared/notes/deps.md section 1; fixed upstream in hiredis 1.0). Ours
 * hands errors to hiredis as read/write events so it finds the error itself.
 *
 * Why host names are resolved here: redisAsyncConnect calls getaddrinfo()
 * itself, on the loop (hiredis 0.14 net.c _redisContextConnectTcp), and a
 * slow DNS server would stop everything. So a name goes to uv_getaddrinfo
 * (libuv's thread pool) and hiredis only ever gets numeric addresses, which
 * glibc's getaddrinfo parses without a lookup. hiredis takes the first
 * address of its own lookup, so ours are tried one by one: on a stock
 * Debian 12, "localhost" is ::1 first, and a Redis bound to 127.0.0.1 only
 * refuses it. */
#include "redis_conn.h"
#include "backoff.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "metrics.h"

/* ---- the libuv adapter: six hooks, as in hiredis/adapters/libuv.h ---- */

struct rconn_poll {
	redisAsyncContext *ac;
	uv_poll_t handle;
	int events;
};

static void on_poll(uv_poll_t *handle, int status, int events)
{
	struct rconn_poll *p = handle->data;
	/* On error libuv has stopped the handle: let hiredis discover the
	 * error through the events it was waiting for (hiredis 1.x does this). */
	int ev = status < 0 ? p->events : events;

	if (p->ac == NULL)
		return;
	if (ev & UV_READABLE)
		redisAsyncHandleRead(p->ac);
	/* The read may have freed the context (cleanup sets p->ac = NULL). */
	if (p->ac != NULL && (ev & UV_WRITABLE))
		redisAsyncHandleWrite(p->ac);
}

static void poll_update(struct rconn_poll *p, int events)
{
	p->events = events;
	if (events)
		uv_poll_start(&p->handle, events, on_poll);
	else
		uv_poll_stop(&p->handle);
}

static void add_read(void *d) { struct rconn_poll *p = d; poll_update(p, p->events | UV_READABLE); }
static void del_read(void *d) { struct rconn_poll *p = d; poll_update(p, p->events & ~UV_READABLE); }
static void add_write(void *d) { struct rconn_poll *p = d; poll_update(p, p->events | UV_WRITABLE); }
static void del_write(void *d) { struct rconn_poll *p = d; poll_update(p, p->events & ~UV_WRITABLE); }

static void on_poll_closed(uv_handle_t *h)
{
	free(h->data);
}

static void cleanup(void *d)
{
	struct rconn_poll *p = d;

	/* Called before hiredis closes the fd: close the handle first (rule 0.2). */
	p->ac = NULL;
	uv_close((uv_handle_t *)&p->handle, on_poll_closed);
}

static int attach(redisAsyncContext *ac, uv_loop_t *loop)
{
	struct rconn_poll *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -1;
	if (uv_poll_init_socket(loop, &p->handle, ac->c.fd) != 0) {
		free(p);
		return -1;
	}
	p->ac = ac;
	p->handle.data = p;
	ac->ev.addRead = add_read;
	ac->ev.delRead = del_read;
	ac->ev.addWrite = add_write;
	ac->ev.delWrite = del_write;
	ac->ev.cleanup = cleanup;
	ac->ev.data = p;
	return 0;
}

/* ---- outstanding commands, for the watchdog ---- */

struct rconn_cmd {
	struct rconn *c;
	rconn_reply_cb cb;
	void *privdata;
	uint64_t deadline;		/* loop ms */
	struct rconn_cmd *next;
};

static void schedule_reconnect(struct rconn *c);

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rconn_cmd *cmd = privdata;
	struct rconn *c = cmd->c;

	(void)ac;
	/* Replies arrive in order, so this is the head. */
	if (c->head == cmd) {
		c->head = cmd->next;
		if (c->head == NULL)
			c->tail = NULL;
	}
	c->outstanding--;
	cmd->cb(c, reply, cmd->privdata);
	free(cmd);
}

static void set_down(struct rconn *c, const char *why)
{
	bool was_up = c->up;

	if (c->refused[0] != '\0')
		why = c->refused;	/* setup_refused's reason, not "closed" */
	c->up = false;
	c->ac = NULL;
	c->connect_started = 0;
	c->n_addrs = c->next_addr = 0;	/* the next attempt resolves again */
	if (c->closing)
		log_debug("redis %s: closed", c->name);
	else if (was_up || c->failures++ % 50 == 0)
		log_warn("redis %s: down (%s)", c->name, why);
	c->refused[0] = '\0';
	if (was_up && c->on_state)
		c->on_state(c, false, c->data);
	if (!c->closing)
		schedule_reconnect(c);
}

static void on_retry_timer(uv_timer_t *t);

/* One address could not be connected to (refused, unreachable, timed out,
 * no socket): the next one on the next loop turn (this may run inside a
 * hiredis callback, whose context is freed after it returns), or, when
 * none is left, the attempt has failed: logged, counted, backoff. */
static void address_failed(struct rconn *c, const char *why)
{
	char all[192];

	c->ac = NULL;
	c->connect_started = 0;
	if (!c->closing && c->next_addr < c->n_addrs) {
		log_debug("redis %s: address %d of %d: %s; trying the next", c->name,
			  c->next_addr, c->n_addrs, why);
		uv_timer_start(&c->retry, on_retry_timer, 0, 0);
		return;
	}
	if (c->n_addrs > 1) {
		snprintf(all, sizeof(all), "%s; each of the host's %d addresses tried", why,
			 c->n_addrs);
		why = all;
	}
	set_down(c, why);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rconn *c = ac->data;

	set_down(c, status == REDIS_OK ? "closed" : (ac->errstr[0] ? ac->errstr : "error"));
}

/* A refused AUTH or SELECT, or a refused PING (NOAUTH: Redis wants a
 * password we were not given; NOPERM: the ACL user may not PING): the
 * connection is dropped and tried again with backoff, since an operator
 * may fix the ACL while pregond waits. The reason is what set_down logs,
 * the first time and every 50th like a failed connect, so that a wrong
 * password neither goes unexplained nor fills the log. */
static void setup_refused(struct rconn *c, const char *what, const redisReply *r)
{
	if (c->closing || c->ac == NULL || c->refused[0] != '\0')
		return;
	if (strcmp(what, "AUTH") == 0)
		redis_url_auth_error(&c->url, r->str, r->len, c->refused, sizeof(c->refused));
	else if (r->len >= 6 && strncmp(r->str, "NOAUTH", 6) == 0)
		snprintf(c->refused, sizeof(c->refused), "Redis asks for a password (%.*s): set "
			 "[redis] password_file (and username for an ACL user)",
			 (int)(r->len > 100 ? 100 : r->len), r->str);
	else
		snprintf(c->refused, sizeof(c->refused), "%s refused: %.*s", what,
			 (int)(r->len > 200 ? 200 : r->len), r->str);
	/* Inside a reply callback: hiredis frees after it returns, then
	 * on_disconnect runs set_down. */
	redisAsyncFree(c->ac);
}

static char what_auth[] = "AUTH", what_select[] = "SELECT";

static void on_auth_reply(struct rconn *c, redisReply *r, void *privdata)
{
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		setup_refused(c, privdata, r);
}

static void on_ready_ping(struct rconn *c, redisReply *r, void *privdata)
{
	(void)privdata;
	if (r == NULL || c->ac == NULL)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		setup_refused(c, "PING", r);
		return;
	}
	c->up = true;
	c->backoff_ms = 0;
	c->failures = 0;
	if (c->connects++ > 0)
		c->reconnects++;
	log_info("redis %s: up", c->name);
	if (c->on_state)
		c->on_state(c, true, c->data);
}

static int send_raw(struct rconn *c, rconn_reply_cb cb, void *privdata,
		    int64_t extra_timeout_ms, int argc, const char **argv,
		    const size_t *argvlen)
{
	struct rconn_cmd *cmd;

	if (c->ac == NULL)
		return -1;
	cmd = calloc(1, sizeof(*cmd));
	if (cmd == NULL)
		return -1;
	cmd->c = c;
	cmd->cb = cb;
	cmd->privdata = privdata;
	cmd->deadline = uv_now(c->loop) + (uint64_t)(c->command_timeout_ms + extra_timeout_ms);
	if (redisAsyncCommandArgv(c->ac, on_reply, cmd, argc, argv, argvlen) != REDIS_OK) {
		free(cmd);
		return -1;
	}
	if (c->tail)
		c->tail->next = cmd;
	else
		c->head = cmd;
	c->tail = cmd;
	c->outstanding++;
	return 0;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct rconn *c = ac->data;
	char db[16];

	if (status != REDIS_OK) {
		/* hiredis frees the context after this returns; onDisconnect is
		 * not called for a connect that never completed. */
		address_failed(c, ac->c.errstr[0] ? ac->c.errstr : "connect failed");
		return;
	}
	c->connect_started = 0;
	{
		const char *argv[3];
		int argc = redis_url_auth_argv(&c->url, argv);

		if (argc > 0)
			send_raw(c, on_auth_reply, what_auth, 0, argc, argv, NULL);
	}
	if (c->url.db != 0) {
		const char *argv[] = { "SELECT", db };
		snprintf(db, sizeof(db), "%d", c->url.db);
		send_raw(c, on_auth_reply, what_select, 0, 2, argv, NULL);
	}
	{
		const char *argv[] = { "PING" };
		send_raw(c, on_ready_ping, NULL, 0, 1, argv, NULL);
	}
}

/* Connects to the attempt's next address (numeric, or the unix socket). */
static void connect_next(struct rconn *c)
{
	const char *host = c->addrs[c->next_addr++];
	redisAsyncContext *ac;

	c->connect_started = (int64_t)uv_now(c->loop);
	if (c->url.unix_path[0])
		ac = redisAsyncConnectUnix(c->url.unix_path);
	else
		ac = redisAsyncConnect(host, c->url.port);
	if (ac == NULL) {
		address_failed(c, "out of memory");
		return;
	}
	if (ac->err) {
		char why[128];

		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		address_failed(c, why);
		return;
	}
	if (attach(ac, c->loop) != 0) {
		redisAsyncFree(ac);
		address_failed(c, "cannot watch socket");
		return;
	}
	ac->data = c;
	c->ac = ac;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (!c->url.unix_path[0])
		redisEnableKeepAlive(&ac->c);
}

static bool is_numeric_host(const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* A timer closed or the lookup's callback ran: the last one, after
 * rconn_close, tells the owner. */
static void handle_done(struct rconn *c)
{
	if (--c->open_handles == 0 && c->closing && c->on_closed)
		c->on_closed(c);
}

/* The host name's addresses, in getaddrinfo's order (RFC 6724, as
 * /etc/gai.conf may change it), made numeric and without repeats. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct rconn *c = req->data;
	char why[128];
	int n = 0;

	c->resolving = false;
	if (c->closing) {
		uv_freeaddrinfo(res);
		handle_done(c);
		return;
	}
	handle_done(c);
	if (status < 0) {
		snprintf(why, sizeof(why), "cannot resolve the host: %s", uv_strerror(status));
		set_down(c, why);
		return;
	}
	for (struct addrinfo *ai = res; ai != NULL && n < RCONN_MAX_ADDRS; ai = ai->ai_next) {
		char *out = c->addrs[n];
		bool dup = false;

		if (ai->ai_family == AF_INET)
			uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, out, INET6_ADDRSTRLEN);
		else if (ai->ai_family == AF_INET6)
			uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, out, INET6_ADDRSTRLEN);
		else
			continue;
		for (int i = 0; i < n; i++)
			dup = dup || strcmp(c->addrs[i], out) == 0;
		if (!dup)
			n++;
	}
	uv_freeaddrinfo(res);
	if (n == 0) {
		set_down(c, "the host has no IPv4 or IPv6 address");
		return;
	}
	c->n_addrs = n;
	c->next_addr = 0;
	connect_next(c);
}

/* One attempt: a unix socket or a numeric host is its one address; a host
 * name is resolved first, in the thread pool. */
static void start_attempt(struct rconn *c)
{
	struct addrinfo hints;
	int r;

	c->n_addrs = c->next_addr = 0;
	if (c->url.unix_path[0] || is_numeric_host(c->url.host)) {
		snprintf(c->addrs[0], sizeof(c->addrs[0]), "%s", c->url.host);
		c->n_addrs = 1;
		connect_next(c);
		return;
	}
	/* No AI_ADDRCONFIG: glibc would drop ::1 on a host without a global
	 * IPv6 address; an address that cannot work costs a quick failure
	 * before the next. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	c->resolve.data = c;
	r = uv_getaddrinfo(c->loop, &c->resolve, on_resolved, c->url.host, NULL, &hints);
	if (r != 0) {
		char why[128];

		snprintf(why, sizeof(why), "cannot resolve the host: %s", uv_strerror(r));
		set_down(c, why);
		return;
	}
	c->resolving = true;
	c->open_handles++;	/* rconn_close waits for the lookup's callback */
}

static void on_retry_timer(uv_timer_t *t)
{
	struct rconn *c = t->data;

	if (c->closing || c->ac != NULL || c->resolving)
		return;
	if (c->next_addr < c->n_addrs)
		connect_next(c);
	else
		start_attempt(c);
}

static void schedule_reconnect(struct rconn *c)
{
	uv_timer_start(&c->retry, on_retry_timer, backoff_next(&c->backoff_ms), 0);
}

static void on_watchdog(uv_timer_t *t)
{
	struct rconn *c = t->data;
	uint64_t now = uv_now(c->loop);

	if (c->ac == NULL)
		return;
	if (c->connect_started && now - (uint64_t)c->connect_started >
	    (uint64_t)c->connect_timeout_ms) {
		rconn_reset(c, "connect timeout");
		return;
	}
	if (c->head != NULL && now > c->head->deadline)
		rconn_reset(c, "command timeout");
}

int rconn_init(struct rconn *c, uv_loop_t *loop, const char *name,
	       const struct redis_url *url, int64_t connect_timeout_ms,
	       int64_t command_timeout_ms, rconn_state_cb on_state, void *data)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->url = *url;
	c->connect_timeout_ms = connect_timeout_ms;
	c->command_timeout_ms = command_timeout_ms;
	c->on_state = on_state;
	c->data = data;
	uv_timer_init(loop, &c->watchdog);
	uv_timer_init(loop, &c->retry);
	c->watchdog.data = c;
	c->retry.data = c;
	c->open_handles = 2;
	return 0;
}

void rconn_start(struct rconn *c)
{
	uv_timer_start(&c->watchdog, on_watchdog, 100, 100);
	start_attempt(c);
}

int rconn_command(struct rconn *c, rconn_reply_cb cb, void *privdata,
		  int64_t extra_timeout_ms, int argc, const char **argv,
		  const size_t *argvlen)
{
	if (!c->up)
		return -1;
	return send_raw(c, cb, privdata, extra_timeout_ms, argc, argv, argvlen);
}

void rconn_reset(struct rconn *c, const char *why)
{
	redisAsyncContext *ac = c->ac;

	if (ac == NULL)
		return;
	log_warn("redis %s: resetting connection: %s", c->name, why);
	/* Pending callbacks get NULL, then on_disconnect (if it had connected)
	 * runs set_down, now or, inside a hiredis callback, when it returns.
	 * A context that never connected gets no callback: do it here. */
	int flags = ac->c.flags;
	redisAsyncFree(ac);
	if (!(flags & REDIS_CONNECTED))
		address_failed(c, why);	/* the connect watchdog: the next address */
}

static void on_handle_closed(uv_handle_t *h)
{
	handle_done(h->data);
}

void rconn_close(struct rconn *c, void (*on_closed)(struct rconn *c))
{
	c->closing = true;
	c->on_closed = on_closed;
	if (c->ac != NULL) {
		redisAsyncContext *ac = c->ac;

		redisAsyncFree(ac);
		c->ac = NULL;
		c->up = false;
	}
	if (c->resolving)	/* on_resolved still runs, with UV_EAI_CANCELED */
		uv_cancel((uv_req_t *)&c->resolve);
	uv_close((uv_handle_t *)&c->watchdog, on_handle_closed);
	uv_close((uv_handle_t *)&c->retry, on_handle_closed);
}

static const struct metric_family reconnects = {
	"pregon_redis_reconnects_total", METRIC_COUNTER, "Reconnections to Redis.",
};

int rconn_metrics(struct rconn *c, struct metrics *m)
{
	return metrics_counter(m, &reconnects, &c->reconnects, "connection=\"%s\"", c->name);
}
