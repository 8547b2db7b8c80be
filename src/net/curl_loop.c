/* curl_loop.c: libcurl multi-socket on libuv.
 *
 * Modelled on curl/curl: docs/examples/multi-uv.c with the fixes listed in
 * ../shared/notes/deps.md section 2: poll errors are passed to libcurl,
 * completions are drained after every curl_multi_socket_action(), no
 * curl_multi_* call is made from libcurl's callbacks, and uv_poll_init's
 * result is checked. Completions are queued and handed out after libcurl
 * returns, so user code never runs inside libcurl and never inside the call
 * that started, cancelled or closed something.
 *
 * One uv_poll_t per socket, for the socket's whole life: libcurl says
 * CURL_POLL_REMOVE when a request on a kept-alive connection ends and
 * CURL_POLL_IN again when the next one starts on it, and libuv 1.44 turns
 * every uv_poll_init, uv_poll_start and uv_poll_stop into epoll_ctl calls
 * (uv_poll_start removes the fd and adds it back even for the same
 * events; src/unix/poll.c). Closing the watcher on REMOVE cost five
 * epoll_ctl calls per request. A connection socket (opened through
 * on_curl_opensocket, so its close comes through on_curl_closesocket) is
 * parked instead: its watcher stays armed, and is only told about a
 * change of events. */
#include "curl_loop.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/* Bounds on the caps: well above any provider's budget, low enough that a
 * typo in a config cannot ask libcurl for a million sockets. */
#define CAP_MAX 100000L

enum xfer_state {
	XFER_RUNNING,		/* in the multi handle */
	XFER_FINISHED,		/* removed, waiting in the done queue */
};

/* One added easy handle. */
struct xfer {
	struct curl_loop *cl;
	CURL *easy;
	curl_loop_done_cb done;
	void *data;
	enum xfer_state state;
	int cancel;		/* asked to stop; removed on the next idle turn */
	CURLcode rc;		/* valid once FINISHED */
	struct xfer *prev, *next;	/* running list, or done queue (next only) */
};

/* One socket libcurl asked us to watch. */
struct sock {
	struct curl_loop *cl;
	curl_socket_t fd;
	uv_poll_t poll;
	int events;		/* UV_READABLE|UV_WRITABLE the watcher has now; 0: stopped */
	bool ours;		/* opened by on_curl_opensocket: its close is announced */
	bool parked;		/* libcurl said REMOVE; the watcher stays for the next request */
	int closing;		/* uv_close() called */
	int closed;		/* its close callback ran */
	int forgotten;		/* libcurl no longer holds it as socketp */
	struct sock *prev, *next;
};

/* What is known of a fd number: the watcher on it, and whether libcurl
 * opened it through on_curl_opensocket. Indexed by fd. */
struct fd_slot {
	struct sock *s;
	bool ours;
};

struct curl_loop {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;	/* libcurl's single timeout */
	uv_idle_t idle;		/* deferred cancels and completions */
	struct xfer *running;	/* doubly linked */
	struct xfer *done_head, *done_tail;
	struct sock *socks;	/* every sock not yet freed */
	struct fd_slot *fds;	/* by fd number, nfds of them */
	size_t nfds;
	uint64_t watch_changes;	/* uv_poll_init/start/stop calls: epoll_ctl round trips */
	size_t active;		/* added, done not yet run */
	size_t cancels;		/* running xfers with cancel set */
	int closing;		/* curl_loop_close() called */
	int finalizing;		/* tearing down libcurl and the uv handles */
	int open_handles;	/* uv handles whose close callback has not run */
	curl_loop_closed_cb closed;
	void *closed_data;
};

static void process(struct curl_loop *cl);

/* ---- sockets ---- */

/* The slot of fd, grown to hold it when grow is set; NULL when fd is out
 * of the table (or, growing, out of memory). */
static struct fd_slot *fd_slot(struct curl_loop *cl, curl_socket_t fd, bool grow)
{
	size_t n;
	struct fd_slot *t;

	if (fd < 0)
		return NULL;
	if ((size_t)fd < cl->nfds)
		return &cl->fds[fd];
	if (!grow)
		return NULL;
	n = cl->nfds ? cl->nfds : 64;
	while (n <= (size_t)fd)
		n *= 2;
	t = realloc(cl->fds, n * sizeof(*t));
	if (t == NULL)
		return NULL;
	memset(t + cl->nfds, 0, (n - cl->nfds) * sizeof(*t));
	cl->fds = t;
	cl->nfds = n;
	return &cl->fds[fd];
}

static void sock_free_if_done(struct sock *s)
{
	struct curl_loop *cl = s->cl;

	if (!s->closed || !s->forgotten)
		return;
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		cl->socks = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s);
}

static void finish_if_closed(struct curl_loop *cl);

static void on_sock_closed(uv_handle_t *h)
{
	struct sock *s = h->data;
	struct curl_loop *cl = s->cl;

	s->closed = 1;
	cl->open_handles--;
	sock_free_if_done(s);
	finish_if_closed(cl);
}

/* Closing the watcher before libcurl closes the fd matters twice over:
 * libuv aborts when epoll_ctl fails on a closed fd, and a watcher left on
 * a fd number makes uv_poll_init fail with UV_EEXIST when the number comes
 * back (deps.md rule 0.1). uv_close stops the watcher at once. */
static void sock_close(struct sock *s)
{
	struct fd_slot *slot = fd_slot(s->cl, s->fd, false);

	if (s->closing)
		return;
	s->closing = 1;
	s->parked = false;
	if (slot != NULL && slot->s == s)
		slot->s = NULL;
	s->cl->watch_changes++;
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* Asks libuv for events (0: none), only when they change. */
static void sock_watch(struct sock *s, int events, uv_poll_cb cb)
{
	if (s->events == events)
		return;
	s->events = events;
	s->cl->watch_changes++;
	if (events == 0)
		uv_poll_stop(&s->poll);
	else
		uv_poll_start(&s->poll, events, cb);
}

static void on_poll(uv_poll_t *handle, int status, int events)
{
	struct sock *s = handle->data;
	struct curl_loop *cl = s->cl;
	int flags = 0;
	int running;

	if (cl->finalizing)
		return;
	if (status < 0)
		s->events = 0;	/* libuv has stopped the watcher */
	if (s->parked) {
		/* Between requests: the peer closed the kept-alive connection
		 * (or sent something unasked). libcurl does not watch it and
		 * would not listen; it finds the connection dead when it next
		 * looks. Stop, or a level-triggered EOF spins the loop. */
		sock_watch(s, 0, on_poll);
		return;
	}
	/* On error libuv has already stopped the handle; libcurl must learn
	 * of it or the transfer waits for its timeout (deps.md fix 1). */
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	curl_multi_socket_action(cl->multi, s->fd, flags, &running);
	process(cl);
}

static struct sock *sock_open(struct curl_loop *cl, curl_socket_t fd)
{
	struct sock *s = calloc(1, sizeof(*s));
	struct fd_slot *slot = fd_slot(cl, fd, true);
	int rc;

	if (s == NULL || slot == NULL) {
		free(s);
		log_error("curl_loop: out of memory watching socket %d", (int)fd);
		return NULL;
	}
	if (slot->s != NULL) {
		/* libcurl closed the fd without telling us (a socket it did
		 * not open through on_curl_opensocket) and got the number
		 * back: the old watcher is ours and dead. */
		sock_close(slot->s);
	}
	cl->watch_changes++;
	rc = uv_poll_init_socket(cl->loop, &s->poll, fd);
	if (rc != 0) {
		log_error("curl_loop: cannot watch socket %d: %s", (int)fd, uv_strerror(rc));
		free(s);
		return NULL;
	}
	s->cl = cl;
	s->fd = fd;
	s->ours = slot->ours;
	s->poll.data = s;
	s->next = cl->socks;
	if (cl->socks != NULL)
		cl->socks->prev = s;
	cl->socks = s;
	slot->s = s;
	cl->open_handles++;
	return s;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct curl_loop *cl = userp;
	struct sock *s = socketp;
	struct fd_slot *slot;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s == NULL)
			return 0;
		s->forgotten = 1;
		if (s->ours && !s->closing && !cl->finalizing) {
			/* A request on a kept-alive connection ended: the
			 * next one says CURL_POLL_IN on this fd again. */
			s->parked = true;
			return 0;
		}
		sock_close(s);
		/* Already closed through on_curl_closesocket. */
		sock_free_if_done(s);
		return 0;
	}
	/* Cleanup may still announce sockets; they are about to go. */
	if (cl->finalizing)
		return 0;
	if (s != NULL && s->closing) {
		/* A watcher closed by on_curl_closesocket, while libcurl kept
		 * its entry: the fd number now belongs to a new socket. */
		s->forgotten = 1;
		sock_free_if_done(s);
		s = NULL;
	}
	if (s == NULL) {
		/* Parked since the connection's last request; any other
		 * watcher on the number is stale, and sock_open ends it. */
		slot = fd_slot(cl, fd, false);
		s = slot != NULL && slot->s != NULL && slot->s->parked ? slot->s : NULL;
		if (s == NULL && (s = sock_open(cl, fd)) == NULL)
			return -1;
		s->parked = false;
		s->forgotten = 0;
		curl_multi_assign(cl->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	sock_watch(s, events, on_poll);
	return 0;
}

/* Connection sockets are opened here so that their fd numbers are known
 * to close through on_curl_closesocket: only those are parked between
 * requests. (The threaded resolver's socketpair, say, is closed by
 * libcurl itself after a REMOVE.) Close-on-exec, unlike libcurl's own. */
static curl_socket_t on_curl_opensocket(void *clientp, curlsocktype purpose,
					struct curl_sockaddr *addr)
{
	struct curl_loop *cl = clientp;
	curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	struct fd_slot *slot;

	if (fd == CURL_SOCKET_BAD || purpose != CURLSOCKTYPE_IPCXN)
		return fd;
	slot = fd_slot(cl, fd, true);
	if (slot != NULL) {
		if (slot->s != NULL)	/* a dead watcher on a reused number */
			sock_close(slot->s);
		slot->ours = true;
	}
	return fd;
}

/* libcurl normally announces CURL_POLL_REMOVE before closing a socket;
 * curl/curl#3597 and #14976 are paths where it did not. Closing the
 * watcher here, just before the fd goes, covers them, and ends a parked
 * watcher. */
static int on_curl_closesocket(void *clientp, curl_socket_t fd)
{
	struct curl_loop *cl = clientp;
	struct fd_slot *slot = fd_slot(cl, fd, false);

	if (slot != NULL) {
		if (slot->s != NULL)
			sock_close(slot->s);
		slot->ours = false;
	}
	return close(fd);
}

/* ---- timer ---- */

static void on_timer(uv_timer_t *t)
{
	struct curl_loop *cl = t->data;
	int running;

	curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	process(cl);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_loop *cl = userp;

	(void)multi;
	if (cl->finalizing || timeout_ms < 0) {
		uv_timer_stop(&cl->timer);
		return 0;
	}
	/* A 0 ms uv timer fires on the next loop turn, never from here. */
	uv_timer_start(&cl->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

/* ---- transfers ---- */

static void running_unlink(struct curl_loop *cl, struct xfer *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		cl->running = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
}

/* Takes x out of libcurl and queues its done. */
static void xfer_finish(struct curl_loop *cl, struct xfer *x, CURLcode rc)
{
	curl_multi_remove_handle(cl->multi, x->easy);
	running_unlink(cl, x);
	if (x->cancel) {
		cl->cancels--;
		rc = CURL_LOOP_CANCELLED;
	}
	x->state = XFER_FINISHED;
	x->rc = rc;
	if (cl->done_tail != NULL)
		cl->done_tail->next = x;
	else
		cl->done_head = x;
	cl->done_tail = x;
}

static void drain(struct curl_loop *cl)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(cl->multi, &left)) != NULL) {
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		struct xfer *x = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg dies with the removal inside xfer_finish. */
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		if (x != NULL && x->easy == easy && x->state == XFER_RUNNING)
			xfer_finish(cl, x, rc);
	}
}

static void deliver(struct curl_loop *cl)
{
	struct xfer *x;

	while ((x = cl->done_head) != NULL) {
		cl->done_head = x->next;
		if (cl->done_head == NULL)
			cl->done_tail = NULL;
		curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
		cl->active--;
		/* done may add, cancel or close: the lists are consistent. */
		x->done(x->data, x->easy, x->rc);
		free(x);
	}
}

static void finalize(struct curl_loop *cl);

/* Everything after libcurl has spoken: cancels, completions, teardown. */
static void process(struct curl_loop *cl)
{
	if (cl->finalizing)
		return;
	if (cl->cancels > 0) {
		struct xfer *x = cl->running, *next;

		for (; x != NULL; x = next) {
			next = x->next;
			if (x->cancel)
				xfer_finish(cl, x, CURL_LOOP_CANCELLED);
		}
	}
	drain(cl);
	deliver(cl);
	if (cl->closing && cl->active == 0)
		finalize(cl);
}

static void on_idle(uv_idle_t *idle)
{
	struct curl_loop *cl = idle->data;

	uv_idle_stop(idle);
	process(cl);
}

static void defer(struct curl_loop *cl)
{
	if (!cl->finalizing)
		uv_idle_start(&cl->idle, on_idle);
}

/* ---- teardown ---- */

static void finish_if_closed(struct curl_loop *cl)
{
	if (!cl->finalizing || cl->open_handles > 0)
		return;
	while (cl->socks != NULL) {	/* all closed and forgotten by now */
		struct sock *s = cl->socks;

		cl->socks = s->next;
		free(s);
	}
	free(cl->fds);
	if (cl->closed != NULL)
		cl->closed(cl->closed_data);
	free(cl);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct curl_loop *cl = h->data;

	cl->open_handles--;
	finish_if_closed(cl);
}

/* Every transfer is out of the multi: libcurl may now close its cached
 * connections (announcing their sockets), then the uv handles go. */
static void finalize(struct curl_loop *cl)
{
	cl->finalizing = 1;
	uv_timer_stop(&cl->timer);
	uv_idle_stop(&cl->idle);
	curl_multi_cleanup(cl->multi);
	cl->multi = NULL;
	for (struct sock *s = cl->socks, *next; s != NULL; s = next) {
		next = s->next;
		s->forgotten = 1;
		sock_close(s);
		sock_free_if_done(s);
	}
	uv_close((uv_handle_t *)&cl->timer, on_handle_closed);
	uv_close((uv_handle_t *)&cl->idle, on_handle_closed);
}

/* ---- the interface ---- */

static int cap_check(long v, const char *name, struct err *err)
{
	if (v < 0 || v > CAP_MAX)
		return err_set(err, "%s: must be 0..%ld, got %ld", name, CAP_MAX, v);
	return 0;
}

int curl_loop_new(struct curl_loop **out, uv_loop_t *loop,
		  const struct curl_loop_opts *opts, struct err *err)
{
	static int global_done;
	const struct curl_loop_opts none = {0};
	struct curl_loop *cl;
	long idle_max;

	*out = NULL;
	if (opts == NULL)
		opts = &none;
	if (cap_check(opts->max_host_connections, "max_host_connections", err) != 0 ||
	    cap_check(opts->max_total_connections, "max_total_connections", err) != 0 ||
	    cap_check(opts->max_idle_connections, "max_idle_connections", err) != 0)
		return -1;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return err_set(err, "curl: global init failed");
		global_done = 1;
	}
	/* A synchronous resolver would block the whole daemon in getaddrinfo
	 * (deps.md rule 0.5); Debian's libcurl4 has the threaded one. */
	if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS))
		return err_set(err, "curl: libcurl lacks an asynchronous resolver");

	cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return err_set(err, "curl: out of memory");
	cl->multi = curl_multi_init();
	if (cl->multi == NULL) {
		free(cl);
		return err_set(err, "curl: curl_multi_init failed");
	}
	cl->loop = loop;
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
	curl_multi_setopt(cl->multi, CURLMOPT_MAX_HOST_CONNECTIONS, opts->max_host_connections);
	curl_multi_setopt(cl->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, opts->max_total_connections);
	/* The default cache grows to 4 x the handles ever added, leaving a
	 * burst's sockets open (CURLMOPT_MAXCONNECTS(3)). */
	idle_max = opts->max_idle_connections ? opts->max_idle_connections
					      : opts->max_total_connections;
	if (idle_max > 0)
		curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS, idle_max);

	uv_timer_init(loop, &cl->timer);
	cl->timer.data = cl;
	uv_idle_init(loop, &cl->idle);
	cl->idle.data = cl;
	cl->open_handles = 2;
	*out = cl;
	return 0;
}

int curl_loop_add(struct curl_loop *cl, CURL *easy, curl_loop_done_cb done,
		  void *data, struct err *err)
{
	struct xfer *x;
	CURLMcode mrc;

	if (cl->closing)
		return err_set(err, "curl: closing");
	if (easy == NULL || done == NULL)
		return err_set(err, "curl: no easy handle or callback");
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return err_set(err, "curl: out of memory");
	x->cl = cl;
	x->easy = easy;
	x->done = done;
	x->data = data;
	x->state = XFER_RUNNING;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, on_curl_opensocket);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, cl);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_curl_closesocket);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, cl);
	/* Only arms libcurl's timer (0 ms): nothing runs, nothing completes,
	 * until the loop turns. */
	mrc = curl_multi_add_handle(cl->multi, easy);
	if (mrc != CURLM_OK) {
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(x);
		return err_set(err, "curl: %s", curl_multi_strerror(mrc));
	}
	x->next = cl->running;
	if (cl->running != NULL)
		cl->running->prev = x;
	cl->running = x;
	cl->active++;
	return 0;
}

void curl_loop_cancel(struct curl_loop *cl, CURL *easy)
{
	struct xfer *x = NULL;

	if (easy == NULL)
		return;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
	if (x == NULL || x->cl != cl || x->easy != easy ||
	    x->state != XFER_RUNNING || x->cancel)
		return;
	/* Removal waits for the idle turn: we may be inside a libcurl
	 * callback, where curl_multi_remove_handle() is refused. */
	x->cancel = 1;
	cl->cancels++;
	defer(cl);
}

size_t curl_loop_active(const struct curl_loop *cl)
{
	return cl->active;
}

uint64_t curl_loop_watch_changes(const struct curl_loop *cl)
{
	return cl->watch_changes;
}

void curl_loop_close(struct curl_loop *cl, curl_loop_closed_cb closed, void *data)
{
	if (cl->closing)
		return;
	cl->closing = 1;
	cl->closed = closed;
	cl->closed_data = data;
	for (struct xfer *x = cl->running; x != NULL; x = x->next)
		if (!x->cancel) {
			x->cancel = 1;
			cl->cancels++;
		}
	/* Even with nothing running, teardown happens on the loop so that
	 * closed never runs inside this call. */
	defer(cl);
}
