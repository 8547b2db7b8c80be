/* store.c: library loading, consumer groups, and calls into src/lua/. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "job.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"

/* The ready lanes (engine.h enum lane), in order. */
static const char *const lanes[] = { "urgent", "answer", "normal" };

void store_init(struct store *s, struct rconn *writer, const struct config *cfg)
{
	memset(s, 0, sizeof(*s));
	s->writer = writer;
	s->cfg = cfg;
	redis_lib_init(&s->lib, cfg);
}

void store_add_ready_cb(struct store *s, store_ready_cb cb, void *data)
{
	if (s->n_on_ready < (int)(sizeof(s->on_ready) / sizeof(s->on_ready[0]))) {
		s->on_ready[s->n_on_ready] = cb;
		s->on_ready_data[s->n_on_ready++] = data;
	}
}

void store_key(const struct store *s, char *out, size_t out_len, const char *name)
{
	snprintf(out, out_len, "%s%s", s->cfg->redis_prefix, name);
}

static void notify(struct store *s, bool ready)
{
	s->ready = ready;
	for (int i = 0; i < s->n_on_ready; i++)
		s->on_ready[i](s, ready, s->on_ready_data[i]);
}

bool store_reply_error(struct store *s, const redisReply *r, const char *what)
{
	if (r == NULL || r->type != REDIS_REPLY_ERROR)
		return false;
	s->script_errors++;
	log_error("redis: %s failed: %.*s", what, (int)(r->len > 200 ? 200 : r->len), r->str);
	if (redis_lib_missing(r->str, r->len))
		rconn_reset(s->writer, "library missing: reloading");
	return true;
}

static void setup_step_done(struct store *s)
{
	if (--s->setup_pending > 0)
		return;
	if (s->setup_failed) {
		rconn_reset(s->writer, "setup failed");
		return;
	}
	/* "redis: store ready" is the writer's, the line operators and tests
	 * wait for; the expander's connection has a store of its own. */
	if (strcmp(s->writer->name, "writer") == 0)
		log_info("redis: store ready (library %s, groups ok)", LUA_LIB_NAME);
	else
		log_info("redis %s: set up (library %s, groups ok)", s->writer->name, LUA_LIB_NAME);
	notify(s, true);
}

static void on_library_load(struct rconn *c, redisReply *r, void *data)
{
	struct store *s = data;

	(void)c;
	if (r == NULL)
		return;
	if (r->type != REDIS_REPLY_STRING) {
		store_reply_error(s, r, "FUNCTION LOAD");
		s->setup_failed = true;
	}
	setup_step_done(s);
}

static void on_group_create(struct rconn *c, redisReply *r, void *data)
{
	struct store *s = data;

	(void)c;
	if (r == NULL)
		return;
	/* BUSYGROUP: the group exists already, which is the normal case. */
	if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0) {
		store_reply_error(s, r, "XGROUP CREATE");
		s->setup_failed = true;
	}
	setup_step_done(s);
}

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void on_link_key(struct rconn *c, redisReply *r, void *data)
{
	struct store *s = data;

	(void)c;
	if (r == NULL)
		return;
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL) {
		/* NIL: ours was set; a string: the one there, which every
		 * instance must use. */
		if (r->type == REDIS_REPLY_NIL)
			memcpy(s->link_key, s->link_key_offered, SEAL_KEY_LEN);
		else {
			bool ok = r->len == 2 * SEAL_KEY_LEN;

			for (size_t i = 0; ok && i < SEAL_KEY_LEN; i++) {
				int hi = hex_value(r->str[2 * i]), lo = hex_value(r->str[2 * i + 1]);

				ok = hi >= 0 && lo >= 0;
				if (ok)
					s->link_key[i] = (unsigned char)(hi << 4 | lo);
			}
			if (!ok) {
				log_error("redis: %ssecret:links is not %d hex digits: delete it to make a "
					  "new one (links sent with the old key stop working)",
					  s->cfg->redis_prefix, 2 * SEAL_KEY_LEN);
				s->setup_failed = true;
			}
		}
		s->link_key_ok = !s->setup_failed;
	} else {
		store_reply_error(s, r, "SET secret:links");
		s->setup_failed = true;
	}
	setup_step_done(s);
}

/* SET <p>secret:links <new key> NX GET: ours if none was there, else the
 * one there (Redis 7). */
static void fetch_link_key(struct store *s)
{
	unsigned char *k = s->link_key_offered;
	char key[256], hex[2 * SEAL_KEY_LEN + 1];
	const char *argv[] = { "SET", key, hex, "NX", "GET" };

	if (RAND_bytes(k, SEAL_KEY_LEN) != 1) {
		log_error("redis: no randomness for the link key");
		s->setup_failed = true;
		return;
	}
	for (size_t i = 0; i < SEAL_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", k[i]);
	store_key(s, key, sizeof(key), "secret:links");
	if (rconn_command(s->writer, on_link_key, s, 0, 5, argv, NULL) == 0)
		s->setup_pending++;
}

const unsigned char *store_link_key(const struct store *s)
{
	return s->link_key_ok ? s->link_key : NULL;
}

static int create_group(struct store *s, const char *name)
{
	char key[256];
	/* "0": a group created after jobs were queued still sees them. */
	const char *argv[] = { "XGROUP", "CREATE", key, PREGON_GROUP, "0", "MKSTREAM" };

	store_key(s, key, sizeof(key), name);
	if (rconn_command(s->writer, on_group_create, s, 0, 6, argv, NULL) != 0)
		return -1;
	s->setup_pending++;
	return 0;
}

void store_writer_state(struct store *s, bool up)
{
	if (!up) {
		if (s->ready)
			notify(s, false);
		s->setup_pending = 0;
		return;
	}
	s->setup_failed = false;
	s->setup_pending = 1;	/* held until every command is queued */
	{
		const char *argv[4];

		redis_lib_load_argv(argv);
		if (rconn_command(s->writer, on_library_load, s, 0, 4, argv, NULL) == 0)
			s->setup_pending++;
	}
	fetch_link_key(s);
	create_group(s, "jobs");
	create_group(s, "expand:urgent");
	create_group(s, "expand:normal");
	for (int ch = 0; ch < CHANNEL_COUNT; ch++)
		for (int l = 0; l < (int)(sizeof(lanes) / sizeof(lanes[0])); l++) {
			char name[64];

			snprintf(name, sizeof(name), "ready:%s:%s", channel_name((enum channel)ch),
				 lanes[l]);
			create_group(s, name);
		}
	setup_step_done(s);
}

int store_call(struct store *s, const char *fn, int nargs, const char **args,
	       const size_t *lens, rconn_reply_cb cb, void *privdata)
{
	int head, argc, rc;
	const char **argv;
	size_t *argvlen;

	if (!s->ready)
		return -1;
	argc = REDIS_LIB_HEAD + nargs;
	argv = malloc(sizeof(*argv) * (size_t)argc);
	argvlen = malloc(sizeof(*argvlen) * (size_t)argc);
	if (argv == NULL || argvlen == NULL) {
		free(argv);
		free(argvlen);
		return -1;
	}
	head = redis_lib_head(&s->lib, fn, argv);
	for (int i = 0; i < head; i++)
		argvlen[i] = strlen(argv[i]);
	for (int i = 0; i < nargs; i++) {
		argv[head + i] = args[i];
		argvlen[head + i] = lens ? lens[i] : strlen(args[i]);
	}
	/* hiredis copies the arguments into its output buffer. */
	rc = rconn_command(s->writer, cb, privdata, 0, argc, argv, argvlen);
	free(argv);
	free(argvlen);
	return rc;
}

static const struct metric_family redis_up = {
	"pregon_redis_up", METRIC_GAUGE, "1 when Redis is reachable and set up.",
};

int store_metrics(struct store *s, struct metrics *m)
{
	return metrics_gauge(m, &redis_up, metrics_read_bool, &s->ready, NULL);
}
