/* http_client.h: HTTP requests on the libuv loop, through libcurl's
 * multi-socket interface.
 *
 * One client per loop, shared by every adapter that speaks HTTP (Twilio,
 * signal-cli) and, through curl_loop.h underneath, by SMTP. libcurl keeps
 * connections alive and reuses them; the client caps connections per host
 * and in total, and gives every request a total timeout. Nothing here
 * blocks: name resolution runs on libcurl's threaded resolver, sockets are
 * watched with one uv_poll_t each, and libcurl's timer is a uv_timer_t.
 *
 * The done callback runs exactly once per started request, always from the
 * loop and never from inside http_client_request().
 *
 * libcurl's global init: http_client_new() (through curl_loop_new()) calls
 * curl_global_init() once per process, the first time; main() need not.
 * That is safe because pregond is one thread. Nothing calls
 * curl_global_cleanup(); the process exit releases it.
 *
 * timeout_ms counts from http_client_request(), so time spent waiting for
 * a free connection under max_host_connections counts too (libcurl's
 * CURLOPT_TIMEOUT_MS): callers keep their own queue and never start more
 * requests per provider than its connection budget. */
#ifndef PREGON_HTTP_CLIENT_H
#define PREGON_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "err.h"

struct http_client;
struct http_call;

struct http_client_opts {
	long max_host_connections;	/* per host:port (default 32) */
	long max_total_connections;	/* default 256 */
	int64_t connect_timeout_ms;	/* default 5000 */
};

struct http_request {
	const char *method;		/* "GET", "POST", ... */
	const char *url;
	const char *const *headers;	/* "Name: value" strings, NULL-terminated; may be NULL */
	const char *body;		/* may be NULL when body_len is 0 */
	size_t body_len;
	const char *username;		/* HTTP basic auth when not NULL */
	const char *password;
	int64_t timeout_ms;		/* whole request; 0 = 30000 */
	size_t max_response_bytes;	/* body kept; 0 = 1 MiB; more is HTTP_ERR_TOO_BIG */
	/* Connect to this Unix socket instead of the URL's host (libcurl's
	 * CURLOPT_UNIX_SOCKET_PATH; the URL still names the Host header and
	 * path), or NULL. */
	const char *unix_socket;
};

enum http_error {
	HTTP_OK = 0,			/* an answer came, whatever its status */
	HTTP_ERR_TIMEOUT,		/* connect or total timeout */
	HTTP_ERR_CONNECT,		/* refused, unreachable, DNS failed */
	HTTP_ERR_TRANSFER,		/* connection dropped, bad answer, TLS */
	HTTP_ERR_TOO_BIG,		/* answer over max_response_bytes */
	HTTP_ERR_CANCELLED,		/* http_call_cancel() or client closing */
};

struct http_response {
	enum http_error error;
	char error_text[256];		/* libcurl's words when error != HTTP_OK */
	long status;			/* HTTP status, 0 when error != HTTP_OK */
	const char *body;		/* NUL-terminated; valid during the callback */
	size_t body_len;
	const char *content_type;	/* or NULL */
	int64_t retry_after_ms;		/* Retry-After (seconds or HTTP-date), -1 absent */
	double elapsed_ms;		/* from start to done */
};

typedef void (*http_done_cb)(void *data, const struct http_response *res);

/* A few words for an error, for a message's `error`: "timed out",
 * "cannot connect", "answer too big", "cancelled (shutting down)",
 * "connection failed". */
const char *http_error_words(enum http_error e);

/* opts may be NULL (all defaults); a 0 field means its default. Fails with
 * err on a negative or absurd value. */
int http_client_new(struct http_client **out, uv_loop_t *loop,
		    const struct http_client_opts *opts, struct err *err);

/* Starts req (every string is copied). Returns 0 and, if call_out is not
 * NULL, a handle valid until done runs; -1 with err when it could not
 * start (done is then never called). */
int http_client_request(struct http_client *c, const struct http_request *req,
			http_done_cb done, void *data, struct http_call **call_out,
			struct err *err);

/* Stops a request: done is called with HTTP_ERR_CANCELLED, later on the loop. */
void http_call_cancel(struct http_call *call);

struct curl_loop;
/* The curl multi underneath, for transfers of other protocols (SMTP) that
 * share its connections budget and the loop (curl_loop.h). */
struct curl_loop *http_client_curl_loop(struct http_client *c);

/* Requests in flight. */
size_t http_client_active(const struct http_client *c);

/* Cancels what is in flight (each done runs with HTTP_ERR_CANCELLED), closes
 * every handle, then calls closed(data) from the loop and frees c. */
void http_client_close(struct http_client *c, void (*closed)(void *data), void *data);

/* Checks a provider's base URL before any credential is sent to it:
 * https://, or http:// only to this machine (a host of 127.0.0.0/8,
 * [::1], localhost, or a name whose every address is one of these: tests'
 * fakes, a local TLS-terminating proxy), since over plain HTTP to any
 * other host the basic auth and every message cross the network readable.
 * An http:// host name is looked up (blocking getaddrinfo): call it at
 * start, before the loop runs. Returns 0, or -1 with err naming the
 * problem (the caller prefixes its key). */
int http_url_check_transport(const char *url, struct err *err);

#endif
