/* api.c: the JSON API's routes, tokens and answers (api.h). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "clock.h"
#include "eta.h"
#include "form.h"
#include "job.h"
#include "log.h"
#include "lua_lib.h"
#include "metrics.h"
#include "seal.h"
#include "validate.h"
#include "web.h"

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

/* An alert's ETA (eta.h) from its counts per channel. */
static json_t *eta_json(const struct config *cfg, json_t *channels, const char *created,
			int64_t now_ms)
{
	struct eta_channel ch[CHANNEL_COUNT];
	struct eta e;
	long long made = 0, remaining = 0;
	json_t *o, *per;
	char at[32];

	memset(ch, 0, sizeof(ch));
	for (int c = 0; c < CHANNEL_COUNT; c++) {
		json_t *counts = json_object_get(channels, channel_name((enum channel)c));
		const char *st;
		json_t *n;

		ch[c].rate_cfg = cfg->channel[c].rate;
		json_object_foreach(counts, st, n) {
			if (eta_status_final(st))
				ch[c].done += json_integer_value(n);
			else
				ch[c].remaining += json_integer_value(n);
		}
		remaining += ch[c].remaining;
	}
	if (created != NULL)
		sscanf(created, "%lld", &made);
	eta_estimate(ch, made > 0 ? now_ms - made : 0, &e);
	o = json_pack("{s:I}", "remaining", (json_int_t)remaining);
	per = json_object();
	if (o == NULL || per == NULL) {
		json_decref(o);
		json_decref(per);
		return NULL;
	}
	for (int c = 0; c < CHANNEL_COUNT; c++)
		if (ch[c].remaining > 0)
			json_object_set_new(per, channel_name((enum channel)c),
					    json_pack("{s:I, s:f}", "remaining", (json_int_t)ch[c].remaining,
						      "rate_per_s", e.rate[c]));
	json_object_set_new(o, "channels", per);
	/* seconds: 0 once nothing remains; null while no rate is known. */
	if (remaining > 0 && e.ms >= 0) {
		time_format_utc(now_ms + e.ms, at);
		json_object_set_new(o, "last_message_at", json_string(at));
		json_object_set_new(o, "seconds", json_integer((e.ms + 999) / 1000));
	} else {
		json_object_set_new(o, "last_message_at", json_null());
		json_object_set_new(o, "seconds", remaining > 0 ? json_null() : json_integer(0));
	}
	return o;
}

/* The JSON of a job_state reply. */
static json_t *state_json(const struct api *api, const char *id, const redisReply *r)
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
	/* An alert's: when its last message will leave (issue 16). */
	if (kind != NULL && strcmp(kind, "action_alert") == 0) {
		json_t *eta = eta_json(api->cfg, channels, created, clock_now_ms());

		if (eta != NULL)
			json_object_set_new(o, "eta", eta);
	}
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
		json_t *o = state_json(call->api, call->id, r);

		if (o != NULL && call->resubmitted)
			json_object_set_new(o, "duplicate", json_true());
		reply_json(call->x, 200, o, NULL);
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

/* ---- lists: jobs, a job's messages, a case ---- */

/* A list answer made in Redis: {"<name>": <json>, "next": cursor|null}. */
struct list_call {
	struct api *api;
	struct http_exchange *x;
	const char *name;	/* "jobs", "messages", "recipients" */
	char id[JOB_ID_MAX + 1];
};

/* Cursors are opaque to clients: base64url of the op's own next value. */
static json_t *cursor_json(const char *next)
{
	char out[256];

	if (next == NULL || next[0] == '\0' || strlen(next) > 180)
		return json_null();
	seal_b64url_encode((const unsigned char *)next, strlen(next), out);
	return json_string(out);
}

static int cursor_decode(const char *in, char *out, size_t out_len)
{
	long n = in ? seal_b64url_decode(in, strlen(in), (unsigned char *)out, out_len - 1) : -1;

	if (n <= 0)
		return -1;
	out[n] = '\0';
	for (long i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			return -1;
	return 0;
}

/* The reply's JSON text (made by cjson, ids and counts only) wrapped. */
static void reply_list(struct http_exchange *x, const char *name, const redisReply *json,
		       const char *next, const char *id)
{
	char *body;
	json_t *cur = cursor_json(next);
	char *cs = json_dumps(cur, JSON_ENCODE_ANY);
	int n;

	json_decref(cur);
	if (cs == NULL) {
		reply_error(x, 503, "out of memory", NULL);
		return;
	}
	if (id != NULL) {
		json_t *j = json_string(id);
		char *ids = json_dumps(j, JSON_ENCODE_ANY);

		json_decref(j);
		n = ids ? asprintf(&body, "{\"id\":%s,\"%s\":%.*s,\"next\":%s}", ids, name,
				   (int)json->len, json->str, cs) : -1;
		free(ids);
	} else {
		n = asprintf(&body, "{\"%s\":%.*s,\"next\":%s}", name, (int)json->len, json->str, cs);
	}
	free(cs);
	if (n < 0) {
		reply_error(x, 503, "out of memory", NULL);
		return;
	}
	http_reply(x, 200, "application/json", NULL, body, (size_t)n);
	free(body);
}

static bool list_reply_ok(struct list_call *lc, const redisReply *r, size_t want, const char *op)
{
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == want &&
	    r->element[0]->type == REDIS_REPLY_STRING)
		return true;
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		store_reply_error(lc->api->store, r, op);
	reply_error(lc->x, 503, "Redis did not answer; try again", NULL);
	return false;
}

static void on_jobs(struct rconn *c, redisReply *r, void *data)
{
	struct list_call *lc = data;

	(void)c;
	if (list_reply_ok(lc, r, LUA_API_JOBS_NREPLY, "api_jobs"))
		reply_list(lc->x, "jobs", r->element[LUA_API_JOBS_REPLY_JSON],
			   reply_str(r->element[LUA_API_JOBS_REPLY_NEXT]), NULL);
	free(lc);
}

static void on_messages(struct rconn *c, redisReply *r, void *data)
{
	struct list_call *lc = data;

	(void)c;
	if (list_reply_ok(lc, r, LUA_API_MESSAGES_NREPLY, "api_messages")) {
		if (r->element[LUA_API_MESSAGES_REPLY_FOUND]->integer == 0)
			reply_error(lc->x, 404, "no such job", NULL);
		else
			reply_list(lc->x, "messages", r->element[LUA_API_MESSAGES_REPLY_JSON],
				   reply_str(r->element[LUA_API_MESSAGES_REPLY_NEXT]), lc->id);
	}
	free(lc);
}

static void on_case(struct rconn *c, redisReply *r, void *data)
{
	struct list_call *lc = data;

	(void)c;
	if (list_reply_ok(lc, r, LUA_API_CASE_NREPLY, "api_case")) {
		if (r->element[LUA_API_CASE_REPLY_JSON]->len == 0)
			reply_error(lc->x, 404, "no such case (none of its reminders is pending)", NULL);
		else
			reply_list(lc->x, "recipients", r->element[LUA_API_CASE_REPLY_JSON], NULL,
				   lc->id);
	}
	free(lc);
}

/* Calls op fn for request x (id: the job, case or event it names, or
 * NULL); cb answers. Answers 503 itself when Redis cannot be asked. */
static void list_ask(struct api *api, struct http_exchange *x, const char *id, const char *fn,
		     int nargs, const char **args, rconn_reply_cb cb)
{
	struct list_call *lc = calloc(1, sizeof(*lc));

	if (lc != NULL) {
		lc->api = api;
		lc->x = x;
		snprintf(lc->id, sizeof(lc->id), "%s", id ? id : "");
	}
	if (lc == NULL || store_call(api->store, fn, nargs, args, NULL, cb, lc) != 0) {
		free(lc);
		reply_error(x, 503, "Redis is not reachable; try again", NULL);
	}
}

/* The query's pairs; 400 answered on a bad one. */
static bool query_parse(struct http_exchange *x, const struct http_req *req, struct form *q)
{
	struct form_limits lim;
	struct err err = { "" };

	form_limits_default(&lim);
	lim.max_input = 2048;
	lim.max_pairs = 16;
	lim.max_value = 256;
	if (form_parse(q, req->query, strlen(req->query), &lim, &err) != 0) {
		reply_error(x, 400, "query: not a valid query string", NULL);
		return false;
	}
	return true;
}

/* limit=N within 1..max, default def; 400 answered when bad. */
static bool query_limit(struct http_exchange *x, const struct form *q, int def, int max, char *out)
{
	const char *v = form_get(q, "limit");
	char *end;
	long n = def;

	if (v != NULL) {
		n = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 1 || n > max) {
			char msg[64];

			snprintf(msg, sizeof(msg), "limit: a number from 1 to %d", max);
			reply_error(x, 400, msg, NULL);
			return false;
		}
	}
	snprintf(out, 16, "%ld", n);
	return true;
}

static void on_jobs_list(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct api *api = data;
	struct form q = { 0 };
	const char *args[LUA_API_JOBS_NHEAD], *kind, *since, *cursor;
	char limit[16], since_ms[24] = "", before[200] = "";
	enum api_role role;

	if (!authorize(api, x, req, API_ROLE_READ, &role) || !query_parse(x, req, &q))
		goto out;
	if (!query_limit(x, &q, 50, 200, limit))
		goto out;
	kind = form_get(&q, "kind");
	if (kind != NULL && kind[0] != '\0' && job_kind_from_name(kind) < 0) {
		reply_error(x, 400, "kind: not a job kind", NULL);
		goto out;
	}
	since = form_get(&q, "since");
	if (since != NULL) {
		int64_t ms;
		struct err err;

		if (time_parse_iso8601(since, NULL, &ms, &err) != 0) {
			reply_error(x, 400, "since: an ISO-8601 time with an offset or Z", NULL);
			goto out;
		}
		snprintf(since_ms, sizeof(since_ms), "%lld", (long long)ms);
	}
	cursor = form_get(&q, "cursor");
	if (cursor != NULL && (cursor_decode(cursor, before, sizeof(before)) != 0 ||
			       strspn(before, "0123456789") == 0 ||
			       before[strspn(before, "0123456789")] != ':' ||
			       before[strspn(before, "0123456789") + 1] == '\0')) {
		reply_error(x, 400, "cursor: not one this API gave", NULL);
		goto out;
	}
	args[LUA_API_JOBS_HEAD_BEFORE] = before;
	args[LUA_API_JOBS_HEAD_SINCE] = since_ms;
	args[LUA_API_JOBS_HEAD_LIMIT] = limit;
	args[LUA_API_JOBS_HEAD_KIND] = kind ? kind : "";
	list_ask(api, x, NULL, LUA_FN_API_JOBS, LUA_API_JOBS_NHEAD, args, on_jobs);
out:
	form_free(&q);
}

static void on_job_messages(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct api *api = data;
	struct form q = { 0 };
	const char *args[LUA_API_MESSAGES_NHEAD], *cursor, *reveal;
	char limit[16], from[48] = "1";
	enum api_role role;

	if (!authorize(api, x, req, API_ROLE_READ, &role) || !query_parse(x, req, &q))
		goto out;
	if (req->n_params != 1 || !id_ok(req->params[0])) {
		reply_error(x, 400, "id: a job id has 1 to 128 printable characters", NULL);
		goto out;
	}
	if (!query_limit(x, &q, 100, 1000, limit))
		goto out;
	cursor = form_get(&q, "cursor");
	if (cursor != NULL && (cursor_decode(cursor, from, sizeof(from)) != 0 ||
			       from[strspn(from, "0123456789")] != '\0')) {
		reply_error(x, 400, "cursor: not one this API gave", NULL);
		goto out;
	}
	reveal = form_get(&q, "reveal");
	if (reveal != NULL && strcmp(reveal, "1") == 0 && role != API_ROLE_ADMIN) {
		reply_error(x, 403, "reveal: addresses are shown to admin tokens only", NULL);
		goto out;
	}
	args[LUA_API_MESSAGES_HEAD_ID] = req->params[0];
	args[LUA_API_MESSAGES_HEAD_FROM] = from;
	args[LUA_API_MESSAGES_HEAD_LIMIT] = limit;
	args[LUA_API_MESSAGES_HEAD_REVEAL] = reveal != NULL && strcmp(reveal, "1") == 0 ? "1" : "0";
	list_ask(api, x, req->params[0], LUA_FN_API_MESSAGES, LUA_API_MESSAGES_NHEAD, args, on_messages);
out:
	form_free(&q);
}

static void on_replies(struct rconn *c, redisReply *r, void *data)
{
	struct list_call *lc = data;

	(void)c;
	if (list_reply_ok(lc, r, LUA_API_REPLIES_NREPLY, "api_replies"))
		reply_list(lc->x, "replies", r->element[LUA_API_REPLIES_REPLY_JSON],
			   reply_str(r->element[LUA_API_REPLIES_REPLY_NEXT]), lc->id);
	free(lc);
}

/* GET /v1/jobs/{id}/replies: what people wrote back (admin tokens only). */
static void on_job_replies(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct api *api = data;
	struct form q = { 0 };
	const char *args[LUA_API_REPLIES_NHEAD], *cursor;
	char limit[16], after[64] = "";
	enum api_role role;

	if (!authorize(api, x, req, API_ROLE_ADMIN, &role) || !query_parse(x, req, &q))
		goto out;
	if (req->n_params != 1 || !id_ok(req->params[0])) {
		reply_error(x, 400, "id: a job id has 1 to 128 printable characters", NULL);
		goto out;
	}
	if (!query_limit(x, &q, 100, 1000, limit))
		goto out;
	cursor = form_get(&q, "cursor");
	if (cursor != NULL && (cursor_decode(cursor, after, sizeof(after)) != 0 ||
			       after[strspn(after, "0123456789-")] != '\0')) {
		reply_error(x, 400, "cursor: not one this API gave", NULL);
		goto out;
	}
	args[LUA_API_REPLIES_HEAD_ID] = req->params[0];
	args[LUA_API_REPLIES_HEAD_AFTER] = after;
	args[LUA_API_REPLIES_HEAD_LIMIT] = limit;
	list_ask(api, x, req->params[0], LUA_FN_API_REPLIES, LUA_API_REPLIES_NHEAD, args, on_replies);
out:
	form_free(&q);
}

static void on_case_get(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct api *api = data;
	const char *args[LUA_API_CASE_NHEAD];
	enum api_role role;

	if (!authorize(api, x, req, API_ROLE_READ, &role))
		return;
	if (req->n_params != 1 || !id_ok(req->params[0])) {
		reply_error(x, 400, "ref: a case ref has 1 to 128 printable characters", NULL);
		return;
	}
	args[LUA_API_CASE_HEAD_REF] = req->params[0];
	list_ask(api, x, req->params[0], LUA_FN_API_CASE, LUA_API_CASE_NHEAD, args, on_case);
}

/* GET /v1/townhalls/{ref}: the figures of `pregon status --event`. */
static void on_townhall(struct rconn *c, redisReply *r, void *data)
{
	struct list_call *lc = data;
	static const char *const names[LUA_EVENT_FIGURES_NREPLY] = {
		[LUA_EVENT_FIGURES_REPLY_REGISTERED] = "registered",
		[LUA_EVENT_FIGURES_REPLY_SENT] = "confirmations_sent",
		[LUA_EVENT_FIGURES_REPLY_DELIVERED] = "confirmations_delivered",
		[LUA_EVENT_FIGURES_REPLY_ATTENDING] = "attending",
		[LUA_EVENT_FIGURES_REPLY_CANCEL] = "cancel",
		[LUA_EVENT_FIGURES_REPLY_JOINED] = "joined",
		[LUA_EVENT_FIGURES_REPLY_PENDING] = "reminders_pending",
		[LUA_EVENT_FIGURES_REPLY_CANCELLED] = "cancelled_by",
	};

	(void)c;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != LUA_EVENT_FIGURES_NREPLY) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			store_reply_error(lc->api->store, r, "event_figures");
		reply_error(lc->x, 503, "Redis did not answer; try again", NULL);
	} else if (r->element[LUA_EVENT_FIGURES_REPLY_REGISTERED]->integer == 0 &&
		   r->element[LUA_EVENT_FIGURES_REPLY_CANCELLED]->len == 0) {
		reply_error(lc->x, 404, "no such town hall (no registration for it is kept)", NULL);
	} else {
		json_t *o = json_pack("{s:s}", "event", lc->id);

		for (size_t i = 0; o != NULL && i < LUA_EVENT_FIGURES_NREPLY; i++) {
			const redisReply *e = r->element[i];

			if (e->type == REDIS_REPLY_INTEGER)
				json_object_set_new(o, names[i], json_integer(e->integer));
			else
				json_object_set_new(o, names[i], e->len ? json_string(e->str) : json_null());
		}
		reply_json(lc->x, 200, o, NULL);
	}
	free(lc);
}

static void on_townhall_get(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct api *api = data;
	const char *args[LUA_EVENT_FIGURES_NHEAD];
	enum api_role role;

	if (!authorize(api, x, req, API_ROLE_READ, &role))
		return;
	if (req->n_params != 1 || !id_ok(req->params[0])) {
		reply_error(x, 400, "ref: an event ref has 1 to 128 printable characters", NULL);
		return;
	}
	args[LUA_EVENT_FIGURES_HEAD_REF] = req->params[0];
	list_ask(api, x, req->params[0], LUA_FN_EVENT_FIGURES, LUA_EVENT_FIGURES_NHEAD, args, on_townhall);
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

/* GET /v1/openapi.json: docs/openapi.yaml as JSON, made at build time
 * (tools/openapi_embed.py). Open, as the contract allows: the document
 * names routes, not data. */
extern const char openapi_json[];
extern const size_t openapi_json_len;

static void on_openapi(struct http_exchange *x, const struct http_req *req, void *data)
{
	(void)req;
	(void)data;
	http_reply(x, 200, "application/json", NULL, openapi_json, openapi_json_len);
}

static void on_events(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct api *api = data;
	enum api_role role;

	if (authorize(api, x, req, API_ROLE_READ, &role))
		api_events_get(x, req, api);
}

void api_close(struct api *api)
{
	api_events_close(api);
}

int api_init(struct api *api, uv_loop_t *loop, struct http_server *s, struct store *store,
	     const struct config *cfg, struct err *err)
{
	memset(api, 0, sizeof(*api));
	api->loop = loop;
	api->store = store;
	api->cfg = cfg;
	api_events_init(api);
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
	    http_server_route(s, "GET", "/v1/jobs", on_jobs_list, api) != 0 ||
	    http_server_route(s, "GET", "/v1/jobs/{id}", on_job_get, api) != 0 ||
	    http_server_route(s, "GET", "/v1/jobs/{id}/messages", on_job_messages, api) != 0 ||
	    http_server_route(s, "GET", "/v1/jobs/{id}/replies", on_job_replies, api) != 0 ||
	    http_server_route(s, "GET", "/v1/townhalls/{ref}", on_townhall_get, api) != 0 ||
	    http_server_route(s, "GET", "/v1/cases/{ref}", on_case_get, api) != 0 ||
	    http_server_route(s, "GET", "/v1/events", on_events, api) != 0 ||
	    http_server_route(s, "GET", "/v1/openapi.json", on_openapi, api) != 0 ||
	    web_mount(api, s) != 0)
		return err_set(err, "api: cannot add routes");
	return 0;
}

static const struct metric_family api_refused = {
	"pregon_api_refused_total", METRIC_COUNTER,
	"API requests refused: unauthorized (401, 403) or limited (429, too many failures).",
};

static const struct metric_family api_streams = {
	"pregon_api_event_streams", METRIC_GAUGE, "GET /v1/events streams open.",
};
static const struct metric_family api_streams_dropped = {
	"pregon_api_event_streams_dropped_total", METRIC_COUNTER,
	"Event streams dropped because their reader took nothing for 10 s.",
};

int api_metrics(struct api *api, struct metrics *m)
{
	return metrics_counter(m, &api_refused, &api->unauthorized, "why=\"unauthorized\"") |
	       metrics_counter(m, &api_refused, &api->limited, "why=\"limited\"") |
	       metrics_gauge(m, &api_streams, metrics_read_int, &api->sse_count, NULL) |
	       metrics_counter(m, &api_streams_dropped, &api->sse_dropped, NULL);
}

void api_free(struct api *api)
{
	api_tokens_free(api->tokens);
	api->tokens = NULL;
}
