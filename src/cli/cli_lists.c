/* cli_lists.c: `pregon lists [--json]` (contract 1.1, section 5): every
 * contact list with its member count, and how many contacts there are,
 * so an organizer sees "rapid-responders-south-la 412" before sending an
 * alert to it (a misspelt list name is an alert to nobody). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define LISTS_PAGE 500		/* SSCAN COUNT, and SCARDs per pipeline */
#define LISTS_MAX 100000	/* names held in memory at most */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of <prefix>lists, sorted, each once (SSCAN may repeat one). */
static int list_names(struct cli *c, char ***out, size_t *n_out)
{
	char key[CLI_KEY_MAX], cursor[32] = "0";
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (cli_key(c, key, "lists") != 0)
		return -1;
	do {
		redisReply *r = cli_cmd(c, "SSCAN %s %s COUNT %d", key, cursor, LISTS_PAGE);

		if (r == NULL)
			goto fail;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !cli_reply_is_str(r->element[0]) ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			cli_fail(c, 1, "redis: SSCAN: unexpected reply");
			goto fail;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			const redisReply *e = r->element[1]->element[i];

			if (!cli_reply_is_str(e) || strlen(e->str) != e->len)
				continue;
			if (n == LISTS_MAX) {
				freeReplyObject(r);
				cli_fail(c, 1, "more than %d lists", LISTS_MAX);
				goto fail;
			}
			if (n == cap) {
				char **grown = realloc(names, (cap ? cap * 2 : 64) * sizeof(*names));

				if (grown == NULL) {
					freeReplyObject(r);
					cli_fail(c, 1, "out of memory");
					goto fail;
				}
				names = grown;
				cap = cap ? cap * 2 : 64;
			}
			if ((names[n] = strdup(e->str)) == NULL) {
				freeReplyObject(r);
				cli_fail(c, 1, "out of memory");
				goto fail;
			}
			n++;
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	if (n > 1) {	/* drop repeats */
		size_t w = 1;

		for (size_t i = 1; i < n; i++) {
			if (strcmp(names[i], names[w - 1]) == 0)
				free(names[i]);
			else
				names[w++] = names[i];
		}
		n = w;
	}
	*out = names;
	*n_out = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return -1;
}

/* SCARD of each list, pipelined a page at a time. */
static int list_counts(struct cli *c, char **names, size_t n, long long *counts)
{
	for (size_t from = 0; from < n; from += LISTS_PAGE) {
		size_t to = from + LISTS_PAGE < n ? from + LISTS_PAGE : n;
		int rc = 0;

		for (size_t i = from; i < to; i++) {
			char key[CLI_KEY_MAX], suffix[CLI_KEY_MAX];

			snprintf(suffix, sizeof(suffix), "list:%s", names[i]);
			if (cli_key(c, key, suffix) != 0)
				return -1;
			if (redisAppendCommand(c->rc, "SCARD %s", key) != REDIS_OK)
				return cli_redis_fail(c, "SCARD");
		}
		for (size_t i = from; i < to; i++) {
			redisReply *r = NULL;

			if (redisGetReply(c->rc, (void **)&r) != REDIS_OK || r == NULL)
				return cli_redis_fail(c, "SCARD");
			counts[i] = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
			if (r->type == REDIS_REPLY_ERROR)
				rc = cli_fail(c, 1, "redis: SCARD: %s", r->str);
			freeReplyObject(r);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

int cli_lists(struct cli *c, const struct cli_args *a)
{
	char key[CLI_KEY_MAX], **names = NULL;
	long long *counts = NULL, contacts = 0;
	size_t n = 0;
	redisReply *r;
	int rc = -1;

	if (a->npos != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "lists: takes no arguments (see pregon lists --help)");
	if (cli_connect(c, 0) != 0 || cli_key(c, key, "contacts") != 0)
		return -1;
	if ((r = cli_cmd(c, "SCARD %s", key)) == NULL)
		return -1;
	contacts = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	freeReplyObject(r);
	if (list_names(c, &names, &n) != 0)
		return -1;
	counts = calloc(n ? n : 1, sizeof(*counts));
	if (counts == NULL) {
		cli_fail(c, 1, "out of memory");
		goto out;
	}
	if (list_counts(c, names, n, counts) != 0)
		goto out;
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		char clean[256];

		cli_clean_line(names[i], strlen(names[i]), clean, sizeof(clean));
		if (a->json) {
			json_t *o = json_pack("{s:s, s:I}", "list", clean, "members", (json_int_t)counts[i]);
			char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

			json_decref(o);
			if (text == NULL) {
				rc = cli_fail(c, 1, "out of memory");
				break;
			}
			printf("%s\n", text);
			free(text);
		} else {
			printf("%-40s %lld\n", clean, counts[i]);
		}
	}
	if (rc == 0 && !a->json)
		printf("%lld list%s, %lld contact%s in all\n", (long long)n, n == 1 ? "" : "s",
		       contacts, contacts == 1 ? "" : "s");
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(counts);
	return rc;
}
