/* api.c: the JSON API's routes, tokens and answers (api.h). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "job.h"
#include "log.h"
#include "lua_lib.h"
#include "metrics.h"
#include "validate.h"

/* ---- answers ---- */

static void reply_json(struct http_exchange *x, int status, json_t *body,
		       const char *const *extra)
{
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (s == NULL) {
		http_reply(x, 503, "application/json", NULL, "{\"error\":\"out of memory\"}", 25);
		return;
	}
	http_reply(x, status, "application/json", extra, s, strlen(s));
	free(s);
}

static void reply_error(struct http_exchange *x, int status, const char *msg,
			const char *const *extra)
{
	reply_json(x, status, json_pack("{s:s}", "error", msg), extra);
}

/* ---- who is asking ---- */

/* The address of "127.0.0.1:53422" or "[::1]:53422". */
static void peer_addr(const char *peer, char *out, size_t out_len)
{
	const char *colon = strrchr(peer, ':');
	size_t n = colon ? (size_t)(colon - peer) : strlen(peer);

	snprintf(out, out_len, "%.*s", (int)n, peer);
}

static struct api_peer *peer_find(struct api *api, const char *addr, int64_t now, bool add)
{
	struct api_peer *oldest = &api->peers[0];

	for (int i = 0; i < API_PEERS; i++) {
		struct api_peer *p = &api->peers[i];

		if (p->addr[0] != '\0' && strcmp(p->addr, addr) == 0) {
			if (now - p->window_ms >= 60000) {
				p->window_ms = now;
				p->failures = 0;
			}
			return p;
		}
		if (p->window_ms < oldest->window_ms)
			oldest = p;
	}
	if (!add)
		return NULL;
	/* A full table forgets the peer whose minute began longest ago. */
	snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
	oldest->window_ms = now;
	oldest->failures = 0;
	return oldest;
}

/* Answers and returns false unless the request carries a token of role
 * need or above. */
static bool authorize(struct api *api, struct http_exchange *x, const struct http_req *req,
		      enum api_role need, enum api_role *role)
{
	static const char *const challenge[] = { "WWW-Authenticate: Bearer realm=\"pregon\"", NULL };
	const char *h = http_req_header(req, "Authorization");
	int64_t now = (int64_t)uv_now(api->loop);
	char addr[64], retry[48];
	struct api_peer *p;

	*role = API_ROLE_NONE;
	if (api->tokens == NULL) {
		char msg[400];

		snprintf(msg, sizeof(msg), "the API is off: %s", api->tokens_problem);
		reply_error(x, 503, msg, NULL);
		return false;
	}
	peer_addr(req->peer, addr, sizeof(addr));
	p = peer_find(api, addr, now, false);
	if (p != NULL && p->failures >= API_AUTH_FAILURES) {
		const char *extra[] = { retry, NULL };

		snprintf(retry, sizeof(retry), "Retry-After: %lld",
			 (long long)((p->window_ms + 60000 - now + 999) / 1000));
		api->limited++;
		reply_error(x, 429, "too many failed attempts from this address: try again later",
			    extra);
		return false;
	}
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
		const char *t = h + 7;

		while (*t == ' ')
			t++;
		*role = api_tokens_check(api->tokens, t, strlen(t));
	}
	if (*role == API_ROLE_NONE) {
		p = peer_find(api, addr, now, true);
		p->failures++;
		api->unauthorized++;
		reply_error(x, 401, h == NULL ? "a bearer token is needed (Authorization: Bearer ...)"
					      : "the token is not valid", challenge);
		return false;
	}
	if (*role < need) {
		char msg[128];

		api->unauthorized++;
		snprintf(msg, sizeof(msg), "a %s token may not do this", api_role_name(*role));
		reply_error(x, 403, msg, NULL);
		return false;
	}
	return true;
}

/* ---- a job's state ---- */

struct api_call {
	struct api *api;
	struct http_exchange *x;
	char id[JOB_ID_MAX + 1];
	int status;		/* to answer with the state: 200 */
	bool resubmitted;	/* POST of an id already accepted */
};

static void count_into(json_t *obj, const char *key, long long n)
{
	json_t *cur = json_object_get(obj, key);

	json_object_set_new(obj, key, json_integer((cur ? json_integer_value(cur) : 0) + n));
}

static const char *reply_str(const redisReply *r)
{
	return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str : NULL;
}

static void iso_field(json_t *o, const char *key, const char *ms)
{
	char out[32];
	long long v;

	if (ms == NULL || sscanf(ms, "%lld", &v) != 1 || v <= 0)
		return;
	time_format_utc((int64_t)v, out);
	json_object_set_new(o, key, json_string(out));
}

/* The JSON of a job_state reply. */
static json_t *state_json(const char *id, const redisReply *r)
{
	const redisReply *job = r->element[LUA_JOB_STATE_REPLY_JOB];
	const redisReply *msg = r->element[LUA_JOB_STATE_REPLY_MSG];
	json_t *o = json_pack("{s:s}", "id", id), *statuses = json_object(), *channels = json_object();
	json_t *replies = json_object(), *audience = NULL;
	const char *kind = NULL, *created = NULL, *updated = NULL;

	if (o == NULL || statuses == NULL || channels == NULL || replies == NULL)
		goto oom;
	for (size_t i = 0; job->type == REDIS_REPLY_ARRAY && i + 1 < job->elements; i += 2) {
		const char *k = reply_str(job->element[i]), *v = reply_str(job->element[i + 1]);
		long long n = 0;

		if (k == NULL || v == NULL)
			continue;
		sscanf(v, "%lld", &n);
		if (strncmp(k, "c:", 2) == 0) {
			const char *colon = strchr(k + 2, ':');
			char ch[16];
			json_t *per;

			if (colon == NULL || n == 0 || (size_t)(colon - (k + 2)) >= sizeof(ch))
				continue;
			snprintf(ch, sizeof(ch), "%.*s", (int)(colon - (k + 2)), k + 2);
			per = json_object_get(channels, ch);
			if (per == NULL) {
				per = json_object();
				json_object_set_new(channels, ch, per);
			}
			count_into(per, colon + 1, n);
			count_into(statuses, colon + 1, n);
		} else if (strncmp(k, "r:", 2) == 0) {
			if (n > 0)
				json_object_set_new(replies, k + 2, json_integer(n));
		} else if (strcmp(k, "kind") == 0) {
			kind = v;
		} else if (strcmp(k, "created") == 0) {
			created = v;
		} else if (strcmp(k, "messages") == 0) {
			json_object_set_new(o, "messages", json_integer(n));
		} else if (strcmp(k, "rtext") == 0) {
			json_object_set_new(o, "free_text_replies", json_integer(n));
		} else if (strcmp(k, "x") == 0 || strcmp(k, "xn") == 0 || strcmp(k, "xdup") == 0) {
			if (audience == NULL)
				audience = json_object();
			if (strcmp(k, "x") == 0)
				json_object_set_new(audience, "state",
						    json_string(strcmp(v, "run") == 0 ? "expanding" : v));
			else
				json_object_set_new(audience, strcmp(k, "xn") == 0 ? "expanded" :
							      "duplicates_skipped", json_integer(n));
		} else if (strcmp(k, "event") == 0 || strcmp(k, "case") == 0) {
			json_object_set_new(o, k, json_string(v));
		}
	}
	/* A job of one message: its record says all. */
	for (size_t i = 0; msg->type == REDIS_REPLY_ARRAY && i + 1 < msg->elements; i += 2) {
		const char *k = reply_str(msg->element[i]), *v = reply_str(msg->element[i + 1]);

		if (k == NULL || v == NULL)
			continue;
		if (strcmp(k, "kind") == 0)
			kind = v;
		else if (strcmp(k, "created") == 0)
			created = v;
		else if (strcmp(k, "updated") == 0)
			updated = v;
	}
	if (msg->type == REDIS_REPLY_ARRAY && msg->elements > 0) {
		const char *st = NULL, *ch = NULL;

		for (size_t i = 0; i + 1 < msg->elements; i += 2) {
			const char *k = reply_str(msg->element[i]);

			if (k && strcmp(k, "status") == 0)
				st = reply_str(msg->element[i + 1]);
			if (k && strcmp(k, "channel") == 0)
				ch = reply_str(msg->element[i + 1]);
		}
		if (st != NULL && ch != NULL && json_object_size(statuses) == 0) {
			json_t *per = json_object();

			count_into(per, st, 1);
			json_object_set_new(channels, ch, per);
			count_into(statuses, st, 1);
			json_object_set_new(o, "messages", json_integer(1));
		}
	}
	json_object_set_new(o, "kind", kind ? json_string(kind) : json_null());
	iso_field(o, "created", created);
	iso_field(o, "updated", updated);
	json_object_set_new(o, "statuses", statuses);
	json_object_set_new(o, "channels", channels);
	json_object_set_new(o, "replies", replies);
	if (audience != NULL)
		json_object_set_new(o, "audience", audience);
	return o;
oom:
	json_decref(o);
	json_decref(statuses);
	json_decref(channels);
	json_decref(replies);
	return NULL;
}

static void on_state(struct rconn *c, redisReply *r, void *data)
{
	struct api_call *call = data;

	(void)c;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != LUA_JOB_STATE_NREPLY) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			store_reply_error(call->api->store, r, "job_state");
		reply_error(call->x, 503, "Redis did not answer; try again", NULL);
	} else if (!call->resubmitted && reply_str(r->element[LUA_JOB_STATE_REPLY_SEEN])[0] == '\0' &&
		   r->element[LUA_JOB_STATE_REPLY_JOB]->elements == 0) {
		reply_error(call->x, 404, "no such job (not accepted: it may still be queued, or was "
			    "rejected: pregon status names the reason)", NULL);
	} else {
		json_t *o = state_json(call->id, r);

		if (o != NULL && call->resubmitted)
			json_object_set_new(o, "duplicate", json_true());
		reply_json(call->x, call->status, o, NULL);
	}
	free(call);
}

static int ask_state(struct api_call *call)
{
	const char *args[LUA_JOB_STATE_NHEAD];

	args[LUA_JOB_STATE_HEAD_ID] = call->id;
	return store_call(call->api->store, LUA_FN_JOB_STATE, LUA_JOB_STATE_NHEAD, args, NULL,
			  on_state, call);
}

static struct api_call *call_new(struct api *api, struct http_exchange *x, const char *id)
{
	struct api_call *call = calloc(1, sizeof(*call));

	if (call == NULL)
		return NULL;
	call->api = api;
	call->x = x;
	call->status = 200;
	snprintf(call->id, sizeof(call->id), "%s", id);
	return call;
}

static bool id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > JOB_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
			return false;
	return true;
}

static void on_job_get(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct api *api = data;
	struct api_call *call;
	enum api_role role;

	if (!authorize(api, x, req, API_ROLE_READ, &role))
		return;
	if (req->n_params != 1 || !id_ok(req->params[0])) {
		reply_error(x, 400, "id: a job id has 1 to 128 printable characters", NULL);
		return;
	}
	call = call_new(api, x, req->params[0]);
	if (call == NULL || ask_state(call) != 0) {
		free(call);
		reply_error(x, 503, "Redis is not reachable; try again", NULL);
	}
}

/* ---- POST /v1/jobs ---- */

static void on_submitted(struct rconn *c, redisReply *r, void *data)
{
	struct api_call *call = data;
	const char *outcome;

	(void)c;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != LUA_API_SUBMIT_NREPLY ||
	    (outcome = reply_str(r->element[LUA_API_SUBMIT_REPLY_OUTCOME])) == NULL) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			store_reply_error(call->api->store, r, "api_submit");
		/* Not known to be queued: the producer may send it again (the
		 * id keeps it from running twice). */
		reply_error(call->x, 503, "Redis did not take the job; send it again", NULL);
		free(call);
		return;
	}
	if (strcmp(outcome, "queued") == 0) {
		reply_json(call->x, 202, json_pack("{s:s}", "id", call->id), NULL);
		free(call);
		return;
	}
	/* Accepted before: the same answer as GET, 200. */
	call->resubmitted = true;
	if (ask_state(call) != 0) {
		reply_error(call->x, 503, "Redis is not reachable; try again", NULL);
		free(call);
	}
}

static void on_job_post(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct api *api = data;
	struct job_limits limits = job_limits_default;
	struct api_call *call;
	struct job job;
	struct err err = { "" };
	const char *args[LUA_API_SUBMIT_NHEAD];
	size_t lens[LUA_API_SUBMIT_NHEAD];
	enum api_role role;

	if (!authorize(api, x, req, API_ROLE_STANDARD, &role))
		return;
	limits.max_bytes = (size_t)api->cfg->jobs_max_bytes;
	if (job_parse(req->body, req->body_len, &limits, &job, &err) != 0) {
		/* The public reason: field and problem, never a value (issue 7). */
		reply_error(x, 400, err.pub[0] ? err.pub : "job: not valid", NULL);
		job_free(&job);
		return;
	}
	call = call_new(api, x, job.id);
	job_free(&job);
	if (call == NULL) {
		reply_error(x, 503, "out of memory", NULL);
		return;
	}
	args[LUA_API_SUBMIT_HEAD_ID] = call->id;
	lens[LUA_API_SUBMIT_HEAD_ID] = strlen(call->id);
	args[LUA_API_SUBMIT_HEAD_JOB] = req->body;
	lens[LUA_API_SUBMIT_HEAD_JOB] = req->body_len;
	if (store_call(api->store, LUA_FN_API_SUBMIT, LUA_API_SUBMIT_NHEAD, args, lens,
		       on_submitted, call) != 0) {
		free(call);
		reply_error(x, 503, "Redis is not reachable; send it again", NULL);
	}
}

/* ---- tokens ---- */

static void tokens_take(struct api *api, struct api_tokens *t, const struct err *err)
{
	if (t != NULL) {
		api_tokens_free(api->tokens);
		api->tokens = t;
		api->tokens_problem[0] = '\0';
		if (api_tokens_count(t) == 0) {
			api_tokens_free(t);
			api->tokens = NULL;
			snprintf(api->tokens_problem, sizeof(api->tokens_problem),
				 "[http] tokens_file has no token");
		}
		log_info("api: %zu token%s from [http] tokens_file", api_tokens_count(api->tokens),
			 api_tokens_count(api->tokens) == 1 ? "" : "s");
		return;
	}
	/* A file that no longer parses leaves the tokens in force. */
	log_error("api: [http] tokens_file: %s%s", err->msg,
		  api->tokens ? " (the tokens read before stay in force)" : "");
	if (api->tokens == NULL)
		snprintf(api->tokens_problem, sizeof(api->tokens_problem),
			 "[http] tokens_file cannot be read (the log says why)");
}

static void reload_work(uv_work_t *w)
{
	struct api *api = w->data;

	memset(&api->load_err, 0, sizeof(api->load_err));
	if (api_tokens_load(api->cfg->http_tokens_file, &api->loaded, &api->load_err) != 0)
		api->loaded = NULL;
}

static void reload_done(uv_work_t *w, int status)
{
	struct api *api = w->data;

	api->reloading = false;
	if (status == 0)
		tokens_take(api, api->loaded, &api->load_err);
	else
		api_tokens_free(api->loaded);
	api->loaded = NULL;
}

void api_reload(struct api *api)
{
	if (api->cfg->http_tokens_file[0] == '\0' || api->reloading)
		return;
	api->reloading = true;
	api->reload.data = api;
	if (uv_queue_work(api->loop, &api->reload, reload_work, reload_done) != 0)
		api->reloading = false;
}

int api_init(struct api *api, uv_loop_t *loop, struct http_server *s, struct store *store,
	     const struct config *cfg, struct err *err)
{
	memset(api, 0, sizeof(*api));
	api->loop = loop;
	api->store = store;
	api->cfg = cfg;
	if (cfg->http_tokens_file[0] == '\0') {
		snprintf(api->tokens_problem, sizeof(api->tokens_problem),
			 "no [http] tokens_file is set");
		log_warn("api: no [http] tokens_file: the /v1 routes answer 503 (never open)");
	} else {
		struct api_tokens *t = NULL;
		struct err e = { "" };

		if (api_tokens_load(cfg->http_tokens_file, &t, &e) != 0)
			return err_set(err, "[http] tokens_file: %s", e.msg);
		tokens_take(api, t, &e);
	}
	if (http_server_route_max_body(s, "POST", "/v1/jobs", (size_t)cfg->jobs_max_bytes,
				       on_job_post, api) != 0 ||
	    http_server_route(s, "GET", "/v1/jobs/{id}", on_job_get, api) != 0)
		return err_set(err, "api: cannot add routes");
	return 0;
}

static const struct metric_family api_refused = {
	"pregon_api_refused_total", METRIC_COUNTER,
	"API requests refused: unauthorized (401, 403) or limited (429, too many failures).",
};

int api_metrics(struct api *api, struct metrics *m)
{
	return metrics_counter(m, &api_refused, &api->unauthorized, "why=\"unauthorized\"") |
	       metrics_counter(m, &api_refused, &api->limited, "why=\"limited\"");
}

void api_free(struct api *api)
{
	api_tokens_free(api->tokens);
	api->tokens = NULL;
}
