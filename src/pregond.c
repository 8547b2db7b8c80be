/* pregond: the daemon. One libuv loop; four Redis connections (a blocking
 * reader for jobs, one for ready messages, one for commands, one for the
 * expander's long steps); the intake and the delivery engine on top. See
 * docs/design.md for the data flow. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include <curl/curl.h>
#include <mosquitto.h>

#include "clock.h"
#include "config.h"
#include "config_find.h"
#include "engine.h"
#include "expander.h"
#include "http_client.h"
#include "http_metrics.h"
#include "http_server.h"
#include "nofile.h"
#include "inbound.h"
#include "intake.h"
#include "api.h"
#include "links.h"
#include "log.h"
#include "metrics.h"
#include "mqtt_events.h"
#include "mqtt_intake.h"
#include "redis_conn.h"
#include "redis_url.h"
#include "store.h"
#include "templates.h"
#include "tz.h"
#include "util.h"

#include "version.h"

struct pregond {
	uv_loop_t *loop;
	struct config cfg;
	struct redis_url url;
	struct rconn jobs_reader, ready_reader, writer;
	struct store store;
	/* The expander's own: an alert's expand steps (10-20 ms of Redis each)
	 * queue here, not in front of the claims and results on the writer. */
	struct rconn expander_conn;
	struct store expander_store;
	struct intake intake;
	struct engine engine;
	struct expander expander;
	struct mqtt_events mqtt_events;		/* when [mqtt] url is set */
	struct mqtt_intake mqtt_intake;		/* and [mqtt] intake_topic */
	int mqtt_running;			/* of those, not yet stopped */
	struct http_client *http_client;	/* the adapters' */
	struct http_server *http_server;	/* webhooks, API, metrics */
	long nofile;				/* the open-file limit, raised at start */
	struct inbound inbound;			/* what providers and people send back */
	struct links links;			/* join and unsubscribe links (links.h) */
	struct api api;				/* the JSON API (api.h) */
	struct adapter_env env;			/* what the adapters get */
	struct metrics *metrics;		/* what /metrics shows, with a listener */
	struct http_metrics http_metrics;	/* /metrics and /healthz */
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t stats_timer;
	struct templates *templates;		/* [templates] dir, swapped on SIGHUP */
	uv_work_t templates_work;		/* a reload in the thread pool */
	bool templates_loading;
	bool log_reopen_pending;		/* a SIGHUP came during a load */
	struct templates *templates_new;	/* the reload's result, or NULL */
	struct err templates_err;
	uv_timer_t test_clock_timer;		/* [schedule] test_clock */
	/* Started by the first SIGTERM/SIGINT: what is still open when it
	 * fires is logged and pregond exits anyway. Unreferenced, and closed
	 * only after uv_run has returned, so it also covers a hang in the
	 * close sequence itself (issue 13: a send cancelled after the grace
	 * restarted a closing handle, and uv_run never returned). */
	uv_timer_t deadline_timer;
	bool stopping;
	bool finishing;		/* maybe_finish has begun closing */
	bool intake_drained, engine_drained;
	int exit_code;
};

static struct pregond daemon_state;

static void on_writer_state(struct rconn *c, bool up, void *data)
{
	struct pregond *d = data;

	(void)c;
	store_writer_state(&d->store, up);
}

static void on_store_ready(struct store *s, bool ready, void *data)
{
	struct pregond *d = data;

	(void)s;
	engine_store_state(&d->engine, ready);
	if (ready)
		intake_kick(&d->intake);
}

static void on_expander_conn_state(struct rconn *c, bool up, void *data)
{
	struct pregond *d = data;

	(void)c;
	store_writer_state(&d->expander_store, up);
}

static void on_expander_store_ready(struct store *s, bool ready, void *data)
{
	struct pregond *d = data;

	(void)s;
	if (ready)
		expander_kick(&d->expander);
}

static void on_jobs_reader_state(struct rconn *c, bool up, void *data)
{
	struct pregond *d = data;

	(void)c;
	intake_reader_state(&d->intake, up);
}

static void on_ready_reader_state(struct rconn *c, bool up, void *data)
{
	struct pregond *d = data;

	(void)c;
	engine_reader_state(&d->engine, up);
}

static void log_stats(struct pregond *d)
{
	struct engine *e = &d->engine;
	char b[4][32], channels[128 * CHANNEL_COUNT];
	size_t n = 0;

	for (int c = 0; c < CHANNEL_COUNT && n < sizeof(channels); c++) {
		const struct engine_channel *ch = &e->ch[c];
		char s[3][32];

		n += (size_t)snprintf(channels + n, sizeof(channels) - n,
				      " %s sent=%s temp=%s perm=%s held=%d",
				      channel_name((enum channel)c), log_count(ch->sent, s[0]),
				      log_count(ch->temp_failed, s[1]), log_count(ch->perm_failed, s[2]),
				      ch->held);
	}
	log_info("stats: redis=%s jobs accepted=%s rejected=%s duplicate=%s reclaimed=%s%s "
		 "reconnects=%llu",
		 d->store.ready ? "up" : "down",
		 log_count(d->intake.accepted, b[0]), log_count(d->intake.rejected, b[1]),
		 log_count(d->intake.duplicates, b[2]), log_count(d->intake.reclaimed, b[3]),
		 channels,
		 (unsigned long long)(d->writer.reconnects + d->jobs_reader.reconnects +
				      d->ready_reader.reconnects + d->expander_conn.reconnects));
	log_debug("batches: claim %llu calls %llu items, result %llu calls %llu items",
		  (unsigned long long)e->claim_calls, (unsigned long long)e->claim_items,
		  (unsigned long long)e->result_calls, (unsigned long long)e->result_items);
}

static void on_stats_timer(uv_timer_t *t)
{
	log_stats(t->data);
}

static void on_closed_handle(uv_handle_t *h)
{
	(void)h;
}

static void on_writer_closed(struct rconn *c)
{
	(void)c;
}

static void on_http_client_closed(void *data)
{
	(void)data;
}

static void on_engine_closed(struct engine *e);

static void on_inbound_closed(struct inbound *in)
{
	(void)in;
}

/* Every item a provider gave is written (to Redis, or to the spool):
 * the engine, then the writer, may close. */
static void on_inbound_drained(struct inbound *in)
{
	struct pregond *d = container_of(in, struct pregond, inbound);

	engine_close(&d->engine, on_engine_closed);
}

/* No webhook can arrive any more, and every one taken was answered: what
 * they fed the inbound path is written before the writer closes. */
static void on_http_server_closed(void *data)
{
	struct pregond *d = data;

	inbound_stop(&d->inbound, on_inbound_drained);
}

static void on_mqtt_events_closed(struct mqtt_events *ev)
{
	(void)ev;
}

static void on_mqtt_intake_closed(struct mqtt_intake *in)
{
	(void)in;
}

static void on_engine_closed(struct engine *e)
{
	struct pregond *d = container_of(e, struct pregond, engine);

	/* The adapters are closed: no request of theirs is out any more. */
	http_client_close(d->http_client, on_http_client_closed, NULL);
	inbound_close(&d->inbound, on_inbound_closed);
	intake_close(&d->intake);
	expander_close(&d->expander);
	if (d->cfg.mqtt_url[0] != '\0') {
		mqtt_events_close(&d->mqtt_events, on_mqtt_events_closed);
		if (d->cfg.mqtt_intake_topic[0] != '\0')
			mqtt_intake_close(&d->mqtt_intake, on_mqtt_intake_closed);
	}
	rconn_close(&d->writer, on_writer_closed);
	rconn_close(&d->expander_conn, on_writer_closed);
	/* The signal handlers stay (a second signal still exits at once) but
	 * no longer keep the loop running; main closes them after uv_run. */
	uv_unref((uv_handle_t *)&d->sig_term);
	uv_unref((uv_handle_t *)&d->sig_int);
	uv_unref((uv_handle_t *)&d->sig_hup);
	uv_close((uv_handle_t *)&d->stats_timer, on_closed_handle);
	uv_close((uv_handle_t *)&d->test_clock_timer, on_closed_handle);
}

static void maybe_finish(struct pregond *d)
{
	if (!d->intake_drained || !d->engine_drained || d->mqtt_running > 0 || d->finishing)
		return;
	d->finishing = true;
	log_stats(d);
	/* The listener first: the adapters' routes and metrics may use their
	 * state, which closing them frees (adapter.h); and what its webhooks
	 * fed the inbound path is written before the engine and the writer
	 * close. */
	if (d->http_server != NULL)
		http_server_close(d->http_server, on_http_server_closed, d);
	else
		inbound_stop(&d->inbound, on_inbound_drained);
}

static void on_intake_drained(struct intake *in)
{
	(void)in;
	daemon_state.intake_drained = true;
	maybe_finish(&daemon_state);
}

static void on_engine_drained(struct engine *e)
{
	(void)e;
	daemon_state.engine_drained = true;
	maybe_finish(&daemon_state);
}

static void on_reader_closed(struct rconn *c)
{
	(void)c;
}

/* MQTT stops before the writer closes: the event publisher saves its
 * cursor and releases its lease through it. */
static void on_mqtt_events_stopped(struct mqtt_events *ev)
{
	(void)ev;
	daemon_state.mqtt_running--;
	maybe_finish(&daemon_state);
}

static void on_mqtt_intake_stopped(struct mqtt_intake *in)
{
	(void)in;
	daemon_state.mqtt_running--;
	maybe_finish(&daemon_state);
}

/* Counts the handles still open by type, but those meant to outlive the
 * close sequence (unreferenced: the signals after the engine closed, the
 * deadline), for the deadline's log line. */
static void count_open_handle(uv_handle_t *h, void *arg)
{
	int *n = arg;

	if (!uv_is_closing(h) && uv_has_ref(h) && uv_handle_get_type(h) < UV_HANDLE_TYPE_MAX)
		n[uv_handle_get_type(h)]++;
}

/* "timer x13, poll x2, idle" */
static void name_open_handles(uv_loop_t *loop, struct buf *b)
{
	int n[UV_HANDLE_TYPE_MAX] = { 0 };

	uv_walk(loop, count_open_handle, n);
	for (int t = 0; t < UV_HANDLE_TYPE_MAX; t++)
		if (n[t] > 0) {
			buf_addf(b, "%s%s", b->len ? ", " : "", uv_handle_type_name((uv_handle_type)t));
			if (n[t] > 1)
				buf_addf(b, " x%d", n[t]);
		}
}

/* Leaves at once, without closing anything: the messages this instance
 * holds stay pending in Redis (claimed, or their job entry unacknowledged)
 * and are reclaimed after [jobs] reclaim_after by whichever instance runs;
 * no webhook was answered before it was in Redis or the spool. _exit, not
 * exit: nothing is freed (an ASan build would report every live allocation
 * as a leak) and no atexit handler runs on a half-closed daemon. */
static void exit_now(struct pregond *d, const char *why)
{
	log_warn("%s: exiting now with %d messages held; they stay pending and are reclaimed",
		 why, engine_in_flight(&d->engine));
	log_close();
	_exit(1);
}

static void on_deadline(uv_timer_t *t)
{
	struct pregond *d = t->data;
	struct buf open = { 0 };
	char why[320];

	name_open_handles(d->loop, &open);
	snprintf(why, sizeof(why), "shutdown: not closed %.1f s after the signal (open: %s)",
		 (double)(d->cfg.shutdown_grace_ms + d->cfg.redis_command_timeout_ms + 1000) / 1000,
		 open.len ? open.p : "no handle; a request or a closing handle");
	buf_free(&open);
	exit_now(d, why);
}

static void shutdown_start(struct pregond *d, int signum)
{
	const char *why = signum == SIGTERM ? "SIGTERM" : "SIGINT";

	if (d->stopping) {
		char what[64];

		snprintf(what, sizeof(what), "second signal (%s)", why);
		exit_now(d, what);
	}
	d->stopping = true;
	log_info("shutting down (%s): no new jobs; finishing messages in flight "
		 "(a second signal exits at once)", why);
	/* The grace for the sends, then the Redis command timeout for a
	 * webhook's last write (or its spooling), and a second to close. */
	uv_timer_start(&d->deadline_timer, on_deadline,
		       (uint64_t)(d->cfg.shutdown_grace_ms + d->cfg.redis_command_timeout_ms + 1000),
		       0);
	/* Closing the readers abandons their blocking reads; whatever Redis
	 * delivered to them stays pending and is reclaimed. */
	rconn_close(&d->jobs_reader, on_reader_closed);
	rconn_close(&d->ready_reader, on_reader_closed);
	expander_stop(&d->expander);
	intake_stop(&d->intake, on_intake_drained);
	engine_stop(&d->engine, on_engine_drained);
	if (d->cfg.mqtt_url[0] != '\0') {
		mqtt_events_stop(&d->mqtt_events, on_mqtt_events_stopped);
		if (d->cfg.mqtt_intake_topic[0] != '\0')
			mqtt_intake_stop(&d->mqtt_intake, on_mqtt_intake_stopped);
	}
}

/* Templates are read in the thread pool (file I/O stays off the loop) and
 * swapped in on the loop; a set that fails to load leaves the old one. */
static void templates_load_work(uv_work_t *w)
{
	struct pregond *d = w->data;

	if (templates_load(d->cfg.templates_dir, d->cfg.templates_default_lang,
			   d->cfg.templates_sender, &d->templates_new,
			   &d->templates_err) != 0)
		d->templates_new = NULL;
}

static void templates_load_done(uv_work_t *w, int status)
{
	struct pregond *d = w->data;

	d->templates_loading = false;
	if (d->log_reopen_pending) {
		d->log_reopen_pending = false;
		log_reopen();
	}
	if (status != 0 || d->templates_new == NULL) {
		log_error("templates: reload failed, keeping the ones loaded before: %s",
			  status != 0 ? "cancelled" : d->templates_err.msg);
		return;
	}
	templates_free(d->templates);
	d->templates = d->templates_new;
	d->templates_new = NULL;
	log_info("templates: reloaded %zu files from %s", templates_count(d->templates),
		 d->cfg.templates_dir);
}

static void templates_reload(struct pregond *d)
{
	if (d->templates_loading || d->stopping)
		return;
	d->templates_loading = true;
	d->templates_work.data = d;
	if (uv_queue_work(d->loop, &d->templates_work, templates_load_work, templates_load_done) != 0)
		d->templates_loading = false;
}

/* [schedule] test_clock: the offset tests write to <prefix>test:clock. */
static void on_test_clock(struct rconn *c, redisReply *r, void *data)
{
	(void)c;
	(void)data;
	static int64_t logged = -1;
	int64_t offset;

	if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		return;
	offset = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
	clock_test_set_offset(offset);
	if (offset != logged) {
		/* Tests wait for this line before they count on the time. */
		char b[32];

		log_info("test clock: offset %s%s ms", offset < 0 ? "-" : "",
			 log_count((uint64_t)(offset < 0 ? -offset : offset), b));
		logged = offset;
	}
}

static void on_test_clock_timer(uv_timer_t *t)
{
	struct pregond *d = t->data;
	char key[128];
	const char *argv[] = { "GET", key };

	snprintf(key, sizeof(key), "%stest:clock", d->cfg.redis_prefix);
	rconn_command(&d->writer, on_test_clock, d, 0, 2, argv, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct pregond *d = h->data;

	if (signum == SIGHUP) {
		log_info("SIGHUP: reopening log and outbox files, reloading templates and API tokens");
		/* A template load in the thread pool may be writing to the log:
		 * the log is reopened when it is done. */
		if (d->templates_loading)
			d->log_reopen_pending = true;
		else
			log_reopen();
		engine_reopen(&d->engine);
		templates_reload(d);
		if (d->http_server != NULL)
			api_reload(&d->api);
		return;
	}
	shutdown_start(d, signum);
}

static bool health_up(void *data)
{
	struct pregond *d = data;

	return d->store.ready;
}

static int health_in_flight(void *data)
{
	struct pregond *d = data;

	return engine_in_flight(&d->engine);
}

static void health_more(void *data, struct buf *out)
{
	struct pregond *d = data;

	engine_health(&d->engine, out);
}

static int64_t info_one(const void *data)
{
	(void)data;
	return 1;
}

static const struct metric_family info_family = {
	"pregon_info", METRIC_GAUGE, "Version and instance of this pregond.",
};

/* Every module registers what it counts, in the order /metrics shows it. */
static int register_metrics(struct pregond *d, struct metrics *m)
{
	if (metrics_gauge(m, &info_family, info_one, NULL, "version=\"%s\",instance=\"%s\"",
			  PREGON_VERSION, d->cfg.redis_consumer) != 0 ||
	    store_metrics(&d->store, m) != 0 || rconn_metrics(&d->writer, m) != 0 ||
	    rconn_metrics(&d->jobs_reader, m) != 0 || rconn_metrics(&d->ready_reader, m) != 0 ||
	    rconn_metrics(&d->expander_conn, m) != 0 ||
	    intake_metrics(&d->intake, m) != 0 || expander_metrics(&d->expander, m) != 0 ||
	    engine_metrics(&d->engine, m) != 0 || inbound_metrics(&d->inbound, m) != 0)
		return -1;
	if (d->cfg.mqtt_url[0] != '\0') {
		if (mqtt_events_metrics(&d->mqtt_events, m) != 0)
			return -1;
		if (d->cfg.mqtt_intake_topic[0] != '\0' &&
		    mqtt_intake_metrics(&d->mqtt_intake, m) != 0)
			return -1;
	}
	return http_server_metrics(d->http_server, m);
}

/* The listener is made before the adapters open (they mount their routes
 * on it) and listens once everything is set up. */
static int new_http(struct pregond *d, long provider_conns, struct err *err)
{
	struct http_server_limits lim;

	/* Each provider connection may hold a second descriptor while
	 * curl's threaded resolver runs (a socket pair). */
	if (nofile_check(d->cfg.http_max_connections,
			 NOFILE_RESERVE_BASE + 2 * provider_conns, d->nofile, err) != 0)
		return -1;
	http_server_limits_default(&lim);
	lim.request_timeout_ms = d->cfg.http_request_timeout_ms;
	lim.max_connections = (size_t)d->cfg.http_max_connections;
	lim.max_per_peer = (size_t)d->cfg.http_max_per_peer;
	lim.max_body_bytes = (size_t)d->cfg.http_max_body;
	d->http_server = http_server_new(d->loop, &lim);
	if (d->http_server == NULL)
		return err_set(err, "http: out of memory");
	return 0;
}

static int start_http(struct pregond *d, struct err *err)
{
	struct http_metrics_health health = { .version = PREGON_VERSION,
					      .instance = d->cfg.redis_consumer,
					      .up = health_up, .in_flight = health_in_flight,
					      .more = health_more,
					      .data = d };

	if (metrics_new(&d->metrics) != 0)
		return err_set(err, "http: out of memory");
	if (http_metrics_mount(&d->http_metrics, d->http_server, d->loop, d->metrics, &health,
			       err) != 0 ||
	    links_mount(&d->links, d->http_server, &d->store, err) != 0 ||
	    api_init(&d->api, d->loop, d->http_server, &d->store, &d->cfg, err) != 0)
		return -1;
	if (links_metrics(&d->links, d->metrics) != 0 || api_metrics(&d->api, d->metrics) != 0)
		return err_set(err, "metrics: out of memory");
	if (register_metrics(d, d->metrics) != 0)
		return err_set(err, "metrics: out of memory");
	if (http_server_listen(d->http_server, d->cfg.http_listen, err) != 0) {
		err_prefix(err, "[http] listen");
		return -1;
	}
	log_info("http: listening on %s (port %d)", d->cfg.http_listen,
		 http_server_port(d->http_server));
	return 0;
}

/* The event publisher, and the intake when a topic is set, each on a
 * connection of its own (mqtt_events.h, mqtt_intake.h). */
static int start_mqtt(struct pregond *d, struct err *err)
{
	if (mqtt_events_init(&d->mqtt_events, d->loop, &d->cfg, &d->store, err) != 0)
		return -1;
	d->mqtt_running++;
	if (d->cfg.mqtt_intake_topic[0] != '\0') {
		if (mqtt_intake_init(&d->mqtt_intake, d->loop, &d->cfg, &d->store, err) != 0)
			return -1;
		d->mqtt_running++;
	}
	return 0;
}

static void usage(FILE *f, const char *config_path)
{
	struct config_found found;
	struct err err;

	fprintf(f, "usage: pregond [-c FILE] [--verbose]\n"
		   "  -c FILE     config file; without it $PREGON_CONF, else %s\n"
		   "              (config/pregon.conf is the example; nothing found is an error)\n"
		   "  --verbose   say on stderr which config file is read\n"
		   "  --version   print the version\n"
		   "  --help      this text\n", config_installed_path());
	if (config_find(config_path, &found, &err) == 0)
		fprintf(f, "config: %s (from %s)\n", found.path, config_source_name(found.source));
	else
		fprintf(f, "config: %s\n", err.msg);
	fprintf(f,
		   "Signals: SIGTERM/SIGINT stop taking jobs, finish what is in flight for up to\n"
		   "[shutdown] grace, hand back the rest (pending, reclaimed) and exit 0; a second\n"
		   "SIGTERM/SIGINT exits at once (status 1), leaving what is held pending.\n"
		   "SIGHUP reopens the log and outbox files and reloads the templates.\n");
}

/* config_check_secret_modes's warnings go to the log. */
static void warn_secret_mode(const char *msg, void *arg)
{
	(void)arg;
	log_warn("%s", msg);
}

int main(int argc, char **argv)
{
	struct pregond *d = &daemon_state;
	const char *config_path = NULL;
	struct config_found found;
	struct err err;
	char where[600], providers[48 * CHANNEL_COUNT];
	bool verbose = false, help = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			config_path = argv[++i];
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			help = true;
		else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
			verbose = true;
		else if (strcmp(argv[i], "--version") == 0) {
			printf("pregond %s\n", PREGON_VERSION);
			return 0;
		} else {
			fprintf(stderr, "pregond: unknown argument \"%s\"\n", argv[i]);
			usage(stderr, config_path);
			return 2;
		}
	}
	if (help) {
		usage(stdout, config_path);
		return 0;
	}
	config_defaults(&d->cfg);
	if (config_find(config_path, &found, &err) != 0 ||
	    config_load(&d->cfg, found.path, &err) != 0) {
		fprintf(stderr, "pregond: %s\n", err.msg);
		return 1;
	}
	if (verbose)
		fprintf(stderr, "pregond: config %s (from %s)\n", found.path,
			config_source_name(found.source));
	if (log_init(d->cfg.log_level, d->cfg.log_file) != 0)
		return 1;
	config_check_secret_modes(&d->cfg, warn_secret_mode, NULL);
	if (redis_url_from_config(&d->cfg, &d->url, &err) != 0) {
		log_error("%s", err.msg);
		return 1;
	}
	/* Before the loop: a template that cannot be loaded stops the start. */
	if (templates_load(d->cfg.templates_dir, d->cfg.templates_default_lang,
			   d->cfg.templates_sender, &d->templates, &err) != 0) {
		log_error("templates: %s", err.msg);
		return 1;
	}
	if (d->cfg.templates_sender[0] == '\0')
		log_warn("templates: [templates] sender is not set: texts will not say who sends "
			 "them, the first thing a client wary of scams looks for");
	if (d->cfg.schedule_test_clock) {
		clock_test_enable();
		log_warn("[schedule] test_clock is on: the time is moved by %stest:clock "
			 "(for tests only)", d->cfg.redis_prefix);
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	signal(SIGPIPE, SIG_IGN);
	d->nofile = nofile_raise();
	d->loop = uv_default_loop();

	rconn_init(&d->writer, d->loop, "writer", &d->url, d->cfg.redis_connect_timeout_ms,
		   d->cfg.redis_command_timeout_ms, on_writer_state, d);
	rconn_init(&d->jobs_reader, d->loop, "jobs-reader", &d->url, d->cfg.redis_connect_timeout_ms,
		   d->cfg.redis_command_timeout_ms, on_jobs_reader_state, d);
	rconn_init(&d->ready_reader, d->loop, "ready-reader", &d->url,
		   d->cfg.redis_connect_timeout_ms, d->cfg.redis_command_timeout_ms,
		   on_ready_reader_state, d);
	rconn_init(&d->expander_conn, d->loop, "expander", &d->url, d->cfg.redis_connect_timeout_ms,
		   d->cfg.redis_command_timeout_ms, on_expander_conn_state, d);
	store_init(&d->store, &d->writer, &d->cfg);
	store_add_ready_cb(&d->store, on_store_ready, d);
	/* Its own setup too (library, groups): either connection may be the
	 * first up after Redis lost its data. */
	store_init(&d->expander_store, &d->expander_conn, &d->cfg);
	store_add_ready_cb(&d->expander_store, on_expander_store_ready, d);
	/* One connection per message in flight: a provider on HTTP/1.1 takes
	 * one request per connection, so a smaller cap than [<channel>]
	 * concurrency would only queue sends inside libcurl. */
	struct http_client_opts http_opts = { 0 };

	for (int c = 0; c < CHANNEL_COUNT; c++) {
		long cap = d->cfg.channel[c].concurrency;

		if (cap > http_opts.max_host_connections)
			http_opts.max_host_connections = cap;
		http_opts.max_total_connections += cap;
	}
	inbound_init(&d->inbound, d->loop, &d->cfg, &d->store);
	inbound_set_templates(&d->inbound, &d->templates);
	if (http_client_new(&d->http_client, d->loop, &http_opts, &err) != 0 ||
	    (d->cfg.http_listen[0] != '\0' &&
	     new_http(d, http_opts.max_total_connections, &err) != 0)) {
		log_error("%s", err.msg);
		return 1;
	}
	d->env = (struct adapter_env){ .loop = d->loop, .cfg = &d->cfg, .http = d->http_client,
				       .curl = http_client_curl_loop(d->http_client),
				       .routes = d->http_server, .inbound = &d->inbound };
	if (engine_init(&d->engine, d->loop, &d->cfg, &d->store, &d->ready_reader, &d->templates,
			&d->env, &err) != 0) {
		log_error("%s", err.msg);
		return 1;
	}
	expander_init(&d->expander, d->loop, &d->cfg, &d->expander_store, &d->engine);
	intake_init(&d->intake, d->loop, &d->cfg, &d->store, &d->jobs_reader, &d->engine,
		    &d->expander, &d->templates);
	/* Once, before any thread: the MQTT connect step runs in the pool. */
	mosquitto_lib_init();
	if (d->cfg.mqtt_url[0] != '\0' && start_mqtt(d, &err) != 0) {
		log_error("%s", err.msg);
		return 1;
	}
	if (d->http_server != NULL && start_http(d, &err) != 0) {
		log_error("%s", err.msg);
		return 1;
	}

	uv_signal_init(d->loop, &d->sig_term);
	uv_signal_init(d->loop, &d->sig_int);
	uv_signal_init(d->loop, &d->sig_hup);
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
	uv_signal_start(&d->sig_term, on_signal, SIGTERM);
	uv_signal_start(&d->sig_int, on_signal, SIGINT);
	uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
	uv_timer_init(d->loop, &d->stats_timer);
	d->stats_timer.data = d;
	uv_timer_start(&d->stats_timer, on_stats_timer, 60000, 60000);
	uv_timer_init(d->loop, &d->test_clock_timer);
	d->test_clock_timer.data = d;
	uv_timer_init(d->loop, &d->deadline_timer);
	d->deadline_timer.data = d;
	uv_unref((uv_handle_t *)&d->deadline_timer);
	if (d->cfg.schedule_test_clock)
		uv_timer_start(&d->test_clock_timer, on_test_clock_timer, 0, 20);

	redis_url_describe(&d->url, where, sizeof(where));
	for (int c = 0, n = 0; c < CHANNEL_COUNT && n < (int)sizeof(providers); c++)
		n += snprintf(providers + n, sizeof(providers) - (size_t)n, "%s%s=%s", c ? " " : "",
			      channel_name((enum channel)c), d->cfg.channel[c].provider);
	log_info("pregond %s starting: config %s (from %s); redis %s prefix %s consumer %s; %s",
		 PREGON_VERSION, found.path, config_source_name(found.source), where,
		 d->cfg.redis_prefix, d->cfg.redis_consumer, providers);
	rconn_start(&d->writer);
	rconn_start(&d->jobs_reader);
	rconn_start(&d->ready_reader);
	rconn_start(&d->expander_conn);

	uv_run(d->loop, UV_RUN_DEFAULT);
	/* Everything else is closed: the handles that outlive the close
	 * sequence go now, and one more run calls their close callbacks. */
	if (d->http_server != NULL)
		api_close(&d->api);
	uv_close((uv_handle_t *)&d->deadline_timer, on_closed_handle);
	uv_close((uv_handle_t *)&d->sig_term, on_closed_handle);
	uv_close((uv_handle_t *)&d->sig_int, on_closed_handle);
	uv_close((uv_handle_t *)&d->sig_hup, on_closed_handle);
	uv_run(d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(d->loop) != 0)
		log_warn("loop closed with handles still open");
	templates_free(d->templates);
	templates_free(d->templates_new);
	api_free(&d->api);
	metrics_free(d->metrics);
	tz_shutdown();
	curl_global_cleanup();
	mosquitto_lib_cleanup();
	log_info("pregond stopped");
	log_close();
	return d->exit_code;
}
