/* cli_status.c: `pregon status JOB_ID [--json]`: the job hash
 * <prefix>job:<id> (keys.h) as counts per status and per channel. */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Contract section 3's statuses, in the order a message moves through them. */
static const char *const status_order[] = {
	"accepted", "rejected", "duplicate", "scheduled", "sending", "sent",
	"delivered", "read", "failed", "undelivered", "suppressed", "expired",
	"cancelled", "replied",
};
static const char *const channel_order[] = { "sms", "email", "signal" };

#define N_STATUS (sizeof(status_order) / sizeof(status_order[0]))
#define N_CHANNEL (sizeof(channel_order) / sizeof(channel_order[0]))

static int rank(const char *name, const char *const *order, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, order[i]) == 0)
			return (int)i;
	return (int)n;	/* unknown names last, alphabetically */
}

struct count {
	char channel[32];	/* "" for the per-status totals */
	char status[32];
	long long n;
};

static int count_cmp(const void *pa, const void *pb)
{
	const struct count *x = pa, *y = pb;
	int d = rank(x->channel, channel_order, N_CHANNEL) -
		rank(y->channel, channel_order, N_CHANNEL);

	if (d == 0)
		d = strcmp(x->channel, y->channel);
	if (d == 0)
		d = rank(x->status, status_order, N_STATUS) - rank(y->status, status_order, N_STATUS);
	if (d == 0)
		d = strcmp(x->status, y->status);
	return d;
}

/* jansson helpers: remember any allocation failure instead of checking
 * each call (json_object_set_new with a NULL value returns -1). */
static void jset(json_t *obj, const char *key, json_t *val, bool *oom)
{
	if (obj == NULL || json_object_set_new(obj, key, val) != 0)
		*oom = true;
}

static int print_status_json(struct cli *c, const char *id, const char *kind,
			     long long created, long long messages,
			     const struct count *cs, size_t n)
{
	json_t *root = json_object(), *st = json_object(), *ch = json_object();
	bool oom = root == NULL || st == NULL || ch == NULL;
	char at[40];
	char *text;

	cli_format_ms(created, at, sizeof(at));
	jset(root, "job", json_string(id), &oom);
	jset(root, "kind", kind ? json_string(kind) : json_null(), &oom);
	jset(root, "created", created >= 0 ? json_string(at) : json_null(), &oom);
	jset(root, "messages", json_integer(messages), &oom);
	for (size_t i = 0; i < n && !oom; i++) {
		if (cs[i].channel[0] == '\0') {
			jset(st, cs[i].status, json_integer(cs[i].n), &oom);
		} else {
			json_t *one = json_object_get(ch, cs[i].channel);

			if (one == NULL) {
				one = json_object();
				jset(ch, cs[i].channel, one, &oom);
			}
			jset(one, cs[i].status, json_integer(cs[i].n), &oom);
		}
	}
	jset(root, "statuses", json_incref(st), &oom);
	jset(root, "channels", json_incref(ch), &oom);
	text = oom ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(st);
	json_decref(ch);
	json_decref(root);
	if (text == NULL)
		return cli_fail(c, 1, "out of memory");
	printf("%s\n", text);
	free(text);
	return 0;
}

static int print_status_text(const char *id, const char *kind, long long created,
			     long long messages, const struct count *cs, size_t n)
{
	char at[40];
	bool any = false;

	cli_format_ms(created, at, sizeof(at));
	printf("job       %s\n", id);
	printf("kind      %s\n", kind ? kind : "-");
	printf("created   %s\n", at);
	printf("messages  %lld\n", messages);
	printf("by status:\n");
	for (size_t i = 0; i < n; i++)
		if (cs[i].channel[0] == '\0') {
			printf("  %-12s %lld\n", cs[i].status, cs[i].n);
			any = true;
		}
	if (!any)
		printf("  (none)\n");
	any = false;
	printf("by channel:\n");
	for (size_t i = 0; i < n; i++)
		if (cs[i].channel[0] != '\0') {
			printf("  %-7s %-12s %lld\n", cs[i].channel, cs[i].status, cs[i].n);
			any = true;
		}
	if (!any)
		printf("  (none)\n");
	return 0;
}

int cli_status(struct cli *c, const struct cli_args *a)
{
	char key[CLI_KEY_MAX], suffix[8 + JOB_ID_MAX];
	redisReply *r = NULL;
	struct count *cs = NULL;
	size_t n = 0;
	const char *kind = NULL, *id;
	long long created = -1, messages = 0;
	int result = -1;

	if (a->npos != 1)
		return cli_fail(c, CLI_EXIT_USAGE, "status: needs one JOB_ID");
	id = a->pos[0];
	if (strlen(id) == 0 || strlen(id) > JOB_ID_MAX)
		return cli_fail(c, CLI_EXIT_USAGE, "status: a job id has 1 to %d characters", JOB_ID_MAX);
	snprintf(suffix, sizeof(suffix), "job:%s", id);
	if (cli_connect(c, 0) != 0 || cli_key(c, key, suffix) != 0)
		return -1;
	r = cli_cmd(c, "HGETALL %s", key);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
		cli_fail(c, 1, "no such job");
		goto out;
	}
	/* One row per channel and status, plus one total per status. */
	cs = calloc(r->elements + 1, sizeof(*cs));
	if (cs == NULL) {
		cli_fail(c, 1, "out of memory");
		goto out;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];
		long long num;

		if (!cli_reply_is_str(f) || !cli_reply_is_str(v))
			continue;
		if (strcmp(f->str, "kind") == 0) {
			kind = v->str;
			continue;
		}
		if (cli_parse_ll(v->str, LLONG_MIN, LLONG_MAX, &num) != 0)
			continue;
		if (strcmp(f->str, "created") == 0) {
			created = num;
		} else if (strcmp(f->str, "messages") == 0) {
			messages = num;
		} else if (strncmp(f->str, "c:", 2) == 0 && num != 0) {
			/* c:<channel>:<status>; the totals per status are their sums. */
			const char *colon = strchr(f->str + 2, ':');
			size_t t;

			if (colon == NULL)
				continue;
			snprintf(cs[n].channel, sizeof(cs[n].channel), "%.*s",
				 (int)(colon - (f->str + 2)), f->str + 2);
			snprintf(cs[n].status, sizeof(cs[n].status), "%s", colon + 1);
			cs[n++].n = num;
			for (t = 0; t < n; t++)
				if (cs[t].channel[0] == '\0' && strcmp(cs[t].status, colon + 1) == 0)
					break;
			if (t == n) {
				snprintf(cs[n].status, sizeof(cs[n].status), "%s", colon + 1);
				n++;
			}
			cs[t].n += num;
		}
	}
	qsort(cs, n, sizeof(*cs), count_cmp);

	if (a->json)
		result = print_status_json(c, id, kind, created, messages, cs, n);
	else
		result = print_status_text(id, kind, created, messages, cs, n);
out:
	free(cs);
	freeReplyObject(r);
	return result;
}

