/* provider_sends.h: the sends an HTTP provider has out, and the answers it
 * gives from the loop.
 *
 * Every adapter that sends over HTTP keeps the same books: each send in
 * progress on a list (so close can cancel its request), a count of them
 * (so close knows when it is done), and a queue of sends it answers
 * without a request (the breaker is open, the provider throttles), which
 * must be answered from the loop, never inside send() (adapter.h). This
 * is that, once: Twilio's and signal-cli's adapters use it.
 *
 * A provider's own send struct starts with a struct provider_send (or
 * holds one and finds itself with container_of). Ownership: a send is
 * allocated by provider_sends_new and freed by provider_sends_finish (or
 * provider_sends_forget, when it never started); done runs exactly once,
 * from finish. */
#ifndef PREGON_PROVIDER_SENDS_H
#define PREGON_PROVIDER_SENDS_H

#include <stddef.h>

#include <uv.h>

#include "adapter.h"

struct http_call;
struct http_response;

struct provider_send {
	struct send_req *req;
	adapter_done_cb done;
	struct http_call *call;		/* the request while it is out, or NULL */
	struct send_result res;		/* the answer, for provider_sends_later */
	struct provider_send *prev, *next;	/* every send in progress */
	struct provider_send *next_later;	/* answered from the loop */
};

struct provider_sends {
	struct provider_send *head;
	struct provider_send *later;	/* to answer from the loop */
	uv_timer_t timer;
	int inflight;			/* sends not yet finished */
	/* Called after each finish (the provider shuts down once its last
	 * send is done), with owner. */
	void (*after)(void *owner);
	void *owner;
	void (*closed)(void *owner);
};

void provider_sends_init(struct provider_sends *ps, uv_loop_t *loop, void (*after)(void *owner),
			 void *owner);

/* A zeroed send of `size` bytes (at least sizeof(struct provider_send)),
 * on the list; NULL when out of memory. */
void *provider_sends_new(struct provider_sends *ps, size_t size, struct send_req *req,
			 adapter_done_cb done);

/* Takes s off the list and frees it, without calling done (it never
 * started: send() returns -1). */
void provider_sends_forget(struct provider_sends *ps, struct provider_send *s);

/* Frees s, then calls its done with res and ps->after. */
void provider_sends_finish(struct provider_sends *ps, struct provider_send *s,
			   const struct send_result *res);

struct http_client;
struct http_request;
/* Starts s's request (s->call kept for provider_sends_cancel); cb gets s.
 * On failure logs "<who>: <why>", forgets s and returns -1. */
int provider_sends_request(struct provider_sends *ps, struct provider_send *s,
			   struct http_client *c, const struct http_request *hr,
			   void (*cb)(void *data, const struct http_response *res), const char *who);

/* Answers s with s->res from the loop. */
void provider_sends_later(struct provider_sends *ps, struct provider_send *s);

/* Cancels every request out (each is finished by its own callback with
 * HTTP_ERR_CANCELLED) and answers the queued ones now. */
void provider_sends_cancel(struct provider_sends *ps);

/* Closes the timer; closed(owner) runs from the loop. Only once nothing is
 * in flight. */
void provider_sends_close(struct provider_sends *ps, void (*closed)(void *owner));

#endif
