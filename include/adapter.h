/* adapter.h: the one interface every provider implements.
 *
 * A provider is a folder under adapters/ whose adapter_ops (one static
 * instance, like an nginx module's) names everything about it: its config
 * keys, open, send, close and its metrics. The core knows providers only
 * through the table in adapters/registry.c and never includes a provider's
 * header: a new provider is its folder, one row there and its tests
 * (README.md, "Adding a provider").
 *
 * The engine hands an adapter one message at a time (send_req) and gets the
 * outcome back through the done callback, exactly once, never from inside
 * send() itself. What a provider sends back (status callbacks, inbound
 * messages, bounces, receipts) comes in through routes it mounts on the
 * HTTP listener (or its own connection) and goes to the core through one
 * call, inbound_feed() (inbound.h), so consent words, HELP, replies and
 * tracking are decided in one place for every channel. */
#ifndef PREGON_ADAPTER_H
#define PREGON_ADAPTER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "channel.h"
#include "err.h"

struct buf;
struct config;
struct config_module;
struct curl_loop;
struct http_client;
struct http_server;
struct inbound;
struct metrics;

/* What the daemon gives every adapter (pregond.c fills it once; it
 * outlives the adapters). Routes mounted on `routes` and metrics
 * registered are used until the daemon closes the listener, which it does
 * before it closes the adapters: their state may be freed at close. */
struct adapter_env {
	uv_loop_t *loop;
	const struct config *cfg;
	struct http_client *http;	/* HTTP requests on the loop (http_client.h) */
	struct curl_loop *curl;		/* the same curl multi, for other protocols
					 * (SMTP: curl_loop.h) */
	struct http_server *routes;	/* the listener, for http_server_route();
					 * NULL without [http] listen */
	struct inbound *inbound;	/* inbound_feed(): messages, receipts */
};

struct send_req {
	const char *message_id;
	const char *job_id;
	const char *contact_id;
	enum channel channel;
	const char *to;		/* address on this channel */
	const char *subject;	/* email; may be empty */
	const char *body;
	const char *html;	/* email: a text/html alternative, or NULL */
	/* email: an iCalendar object (RFC 5545, CRLF lines) sent as a
	 * text/calendar alternative with method calendar_method ("REQUEST" or
	 * "CANCEL", RFC 5546) and as an .ics attachment; or NULL. */
	const char *calendar;
	const char *calendar_method;
	/* email: the one-click unsubscribe link for List-Unsubscribe (RFC
	 * 8058), https, or NULL for mail that offers none. */
	const char *unsubscribe_url;
	int attempt;		/* 1 for the first try */
	bool urgent;
	int64_t expires_ms;	/* 0 = never */
	void *owner;		/* the engine's */
};

enum send_status {
	SEND_SENT,		/* the provider took it */
	SEND_TEMP_FAIL,		/* try again later (timeout, 429, 5xx) */
	SEND_PERM_FAIL,		/* will never work on this channel */
	SEND_DEFERRED,		/* not attempted (the provider's circuit is open):
				 * again after retry_after_ms, the attempt not counted */
};

struct send_result {
	enum send_status status;
	char provider_id[128];
	char error[256];	/* ids and codes only: never the address or text */
	int64_t retry_after_ms;	/* provider's hint for SEND_TEMP_FAIL, or 0 */
	bool opted_out;		/* SEND_PERM_FAIL: the recipient opted out at the
				 * carrier; the address is opted out here too */
	bool bounced;		/* SEND_PERM_FAIL: the address does not exist (an
				 * SMTP 550-class answer at RCPT): it is marked
				 * bounced, further email to it is suppressed, and
				 * the consent ledger says source "bounce" */
};

struct adapter;
typedef void (*adapter_done_cb)(struct send_req *req, const struct send_result *res);
typedef void (*adapter_closed_cb)(struct adapter *a);

struct adapter_ops {
	const char *name;
	/* Its own config keys (config.h), or NULL. */
	const struct config_module *config;
	/* Sets up the adapter for a->channel (a->env is env): reads its
	 * settings (config_module_get), mounts its routes. May block (it runs
	 * before the loop starts). */
	int (*open)(struct adapter *a, const struct adapter_env *env, struct err *err);
	/* Checks that req can go out here at all (address shape, size). A
	 * problem is permanent: -1 with err. */
	int (*prepare)(struct adapter *a, const struct send_req *req, struct err *err);
	/* Starts sending. 0: done will be called later; -1: not started. */
	int (*send)(struct adapter *a, struct send_req *req, adapter_done_cb done);
	/* SIGHUP: reopen files. May be NULL. */
	void (*reopen)(struct adapter *a);
	/* Finishes what is in flight (done is still called), then closed. */
	void (*close)(struct adapter *a, adapter_closed_cb closed);
	/* Registers its metrics (metrics.h) after the engine's. May be NULL. */
	int (*metrics)(struct adapter *a, struct metrics *m);
	/* What GET /healthz says of it: appends JSON members, each with a
	 * leading ',' (`,"signal":{"throttled":true,...}`). May be NULL. */
	void (*health)(struct adapter *a, struct buf *out);
};

struct adapter {
	const struct adapter_ops *ops;
	enum channel channel;
	const struct adapter_env *env;
	void *state;		/* the adapter's own */
};

/* The adapter named `name` ("outbox", "faulty", ...), or NULL. */
const struct adapter_ops *adapter_find(const char *name);

/* The providers' key tables (each one's .config): the i-th, or NULL past
 * the last. config.c reads them, so no provider's key is spelt out
 * there. */
const struct config_module *adapter_config_at(size_t i);

#endif
