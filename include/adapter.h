/* adapter.h: the one interface every channel adapter implements.
 *
 * The engine hands an adapter one message at a time (send_req) and gets the
 * outcome back through the done callback, exactly once, never from inside
 * send() itself. The core knows adapters only through the table in
 * adapters/registry.c: a new provider is one file and one row. */
#ifndef PREGON_ADAPTER_H
#define PREGON_ADAPTER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "channel.h"
#include "err.h"

struct config;
struct config_module;

struct send_req {
	const char *message_id;
	const char *job_id;
	const char *contact_id;
	enum channel channel;
	const char *to;		/* address on this channel */
	const char *subject;	/* email; may be empty */
	const char *body;
	const char *html;	/* email: a text/html alternative, or NULL */
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
};

struct adapter;
typedef void (*adapter_done_cb)(struct send_req *req, const struct send_result *res);
typedef void (*adapter_closed_cb)(struct adapter *a);

struct adapter_ops {
	const char *name;
	/* Its own config keys (config.h), or NULL. */
	const struct config_module *config;
	/* Sets up the adapter for a->channel; may block (it runs before the
	 * loop starts). */
	int (*open)(struct adapter *a, struct err *err);
	/* Checks that req can go out here at all (address shape, size). A
	 * problem is permanent: -1 with err. */
	int (*prepare)(struct adapter *a, const struct send_req *req, struct err *err);
	/* Starts sending. 0: done will be called later; -1: not started. */
	int (*send)(struct adapter *a, struct send_req *req, adapter_done_cb done);
	/* SIGHUP: reopen files. May be NULL. */
	void (*reopen)(struct adapter *a);
	/* Finishes what is in flight (done is still called), then closed. */
	void (*close)(struct adapter *a, adapter_closed_cb closed);
};

struct http_client;

struct adapter {
	const struct adapter_ops *ops;
	enum channel channel;
	uv_loop_t *loop;
	const struct config *cfg;
	struct http_client *http;	/* shared by the adapters that speak HTTP */
	void *state;		/* the adapter's own */
};

/* The adapter named `name` ("outbox", "faulty", ...), or NULL. */
const struct adapter_ops *adapter_find(const char *name);

/* The providers' key tables (each one's .config), then the keys the
 * shipped config names for providers of later versions: the i-th, or NULL
 * past the last. config.c reads them, so no provider's key is spelt out
 * there. */
const struct config_module *adapter_config_at(size_t i);

#endif
