/* cli_contacts.c: `pregon contacts import FILE.csv [--list NAME]` and
 * `pregon contacts export [--list NAME]` (CONTRACT.md sections 2 and 5):
 * the CRM's contacts in and out as CSV (RFC 4180, src/csv.c).
 *
 * Import reads the file as a stream and checks every row the way a job's
 * recipient is checked (recipient_parse); good rows are written through
 * the script's `contacts` op in batches, each contact whole, so an import
 * stopped at any point leaves complete contacts only and running it again
 * is safe. Bad rows are reported with their line and skipped; the row's
 * phone or email never appears in the report.
 *
 * Export walks the contact set with SSCAN and prints every contact,
 * addresses included: the operator asks for them (cli.h, output rule). */
#include "cli.h"
#include "utf8.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "cli_phone.h"
#include "cli_rowerr.h"
#include "csv.h"
#include "keys.h"
#include "util.h"

#define BATCH_CONTACTS 500		/* contacts per script call */
#define BATCH_BYTES (1u << 20)		/* and at most this much payload */
#define PIPELINE_DEPTH 4		/* batches sent before the first reply is read */
/* FCALL's head, then the op's head (the source). */
#define FIXED_ARGS (REDIS_LIB_HEAD + LUA_CONTACTS_NHEAD)
#define LIST_NAME_MAX 128		/* as job_parse.c's REF_MAX */
#define EXPORT_PAGE 500			/* SSCAN COUNT, and HGETALLs per pipeline */


/* The columns, in export order; "lists" is pregon's own (round trip). */
enum col { COL_ID, COL_NAME, COL_PHONE, COL_EMAIL, COL_SIGNAL, COL_LANG, COL_TZ,
	   COL_CHANNELS, COL_LISTS, COL_COUNT };

static const char *const col_names[COL_COUNT] = {
	"id", "name", "phone", "email", "signal", "lang", "tz", "channels", "lists",
};

/* ---- ids seen: duplicate rows in one file, and SSCAN's repeats ---- */

/* An open-addressing set of ids with the line each was last seen on. Ids
 * live in an arena of chunks, so memory is the ids plus 16 bytes a slot:
 * O(contacts), a few MB for 100,000 (see the README). */
struct idslot {
	const char *id;
	long line;
};

struct idchunk {
	struct idchunk *next;
	size_t used, cap;
	char data[];
};

struct idset {
	struct idslot *slots;
	size_t cap, n;
	struct idchunk *chunks;
};

/* FNV-1a: ids are short ASCII, nothing adversarial needs a keyed hash
 * here (a crafted file only slows its own import). */
static uint64_t id_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Frees the table and every arena chunk. */
static void idset_free(struct idset *set)
{
	struct idchunk *ch = set->chunks, *next;

	for (; ch != NULL; ch = next) {
		next = ch->next;
		free(ch);
	}
	free(set->slots);
	memset(set, 0, sizeof(*set));
}

/* A copy of s in the arena, or NULL when out of memory. */
static const char *idset_copy(struct idset *set, const char *s)
{
	size_t len = strlen(s) + 1;
	struct idchunk *ch = set->chunks;
	char *p;

	if (ch == NULL || ch->cap - ch->used < len) {
		size_t cap = len > 65536 ? len : 65536;

		ch = malloc(sizeof(*ch) + cap);
		if (ch == NULL)
			return NULL;
		ch->cap = cap;
		ch->used = 0;
		ch->next = set->chunks;
		set->chunks = ch;
	}
	p = ch->data + ch->used;
	memcpy(p, s, len);
	ch->used += len;
	return p;
}

/* Doubles the table (load stays under 1/2). */
static int idset_grow(struct idset *set)
{
	size_t cap = set->cap ? set->cap * 2 : 1024, i;
	struct idslot *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -1;
	for (i = 0; i < set->cap; i++) {
		size_t k;

		if (set->slots[i].id == NULL)
			continue;
		k = id_hash(set->slots[i].id) & (cap - 1);
		while (slots[k].id != NULL)
			k = (k + 1) & (cap - 1);
		slots[k] = set->slots[i];
	}
	free(set->slots);
	set->slots = slots;
	set->cap = cap;
	return 0;
}

/* Records id as seen on line. Returns 0 when new, 1 when seen before
 * (*prev: that line; the entry now holds line), -1 when out of memory. */
static int idset_put(struct idset *set, const char *id, long line, long *prev)
{
	size_t k;

	if ((set->n + 1) * 2 > set->cap && idset_grow(set) != 0)
		return -1;
	k = id_hash(id) & (set->cap - 1);
	for (; set->slots[k].id != NULL; k = (k + 1) & (set->cap - 1)) {
		if (strcmp(set->slots[k].id, id) == 0) {
			*prev = set->slots[k].line;
			set->slots[k].line = line;
			return 1;
		}
	}
	set->slots[k].id = idset_copy(set, id);
	if (set->slots[k].id == NULL)
		return -1;
	set->slots[k].line = line;
	set->n++;
	return 0;
}

/* ---- small checks ---- */

/* A list name as job_parse.c checks `lists[]` and `audience.list`: 1 to
 * 128 bytes of UTF-8 without control characters (C0, DEL, C1). */
static const char *list_name_problem(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return "must not be empty";
	if (len > LIST_NAME_MAX)
		return "longer than 128 bytes";
	if (!utf8_valid(s, len))
		return "not valid UTF-8";
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f || (ch == 0xc2 && i + 1 < len &&
						 (unsigned char)s[i + 1] >= 0x80 &&
						 (unsigned char)s[i + 1] <= 0x9f))
			return "must not contain control characters";
	}
	return NULL;
}

/* Only spaces and tabs: a line break in a quoted cell is content. */
static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Trims spaces and tabs around s[0..*len): spreadsheets pad cells. */
static const char *trim(const char *s, size_t *len)
{
	while (*len > 0 && is_blank(*s)) {
		s++;
		(*len)--;
	}
	while (*len > 0 && is_blank(s[*len - 1]))
		(*len)--;
	return s;
}

/* ---- import ---- */

struct import {
	struct cli *c;
	const char *path;		/* as given, for messages */
	int col[COL_COUNT];		/* field index of each column, -1: absent */
	const char *colname[CSV_FIELDS_MAX];	/* column of each field, for messages */
	size_t ncols;
	const char *list;		/* --list NAME or NULL */
	char source[300];
	struct idset ids;

	/* the batch being built: argv for redisAppendCommandArgv */
	const char **argv;
	size_t *argvlen;
	char **owned;			/* strings argv points to that we free */
	size_t argc, nowned, batch_n, batch_bytes;
	size_t in_flight;		/* batches sent, replies not read */
	bool redis_failed;		/* no more replies can be read */

	long long written, created, updated, bad, dups;

	/* issue 13: spreadsheets as organizers keep them */
	const struct cli_phone_country *country;	/* --default-country, or NULL */
	bool dry_run;			/* check every row, write nothing */
	bool tty;			/* stderr is the operator's terminal */
	long long rows;			/* data rows read, for the progress line */
	struct rowerrs errs;		/* bad rows by reason, printed at the end */
};

#define DUP_WARNINGS 5		/* repeated ids warned one by one, then counted */
#define PROGRESS_EVERY 1000	/* rows between two progress lines on a TTY */

/* What the right form looks like, for the fields an organizer most often
 * gets wrong in a spreadsheet (issue 13, item 16). */
static const char *field_hint(const struct import *im, const char *field, const char *reason)
{
	if (field == NULL)
		return NULL;
	if ((strcmp(field, "phone") == 0 || strcmp(field, "signal") == 0) &&
	    (strstr(reason, "E.164") != NULL || strstr(reason, "phone number") != NULL))
		return im->country != NULL ?
			"expected a national number, or +<country code><number>, e.g. +13235550100" :
			"expected +<country code><number>, e.g. +13235550100 (or import with "
			"--default-country US)";
	if (strcmp(field, "email") == 0)
		return "expected name@domain, e.g. ana@example.org";
	if (strcmp(field, "tz") == 0)
		return "expected an IANA zone, e.g. America/Los_Angeles";
	if (strcmp(field, "lang") == 0)
		return "expected a language tag, e.g. es or zh-Hant";
	return NULL;
}

/* Counts one bad row under "field: reason" (grouped, printed at the end:
 * rowerrs_print). Reasons for address fields lose the quoted value
 * validate.c puts at their end, and every reason goes through
 * cli_clean_line, so the grouped reason holds no phone or email; the
 * cell itself (value) is shown only on the operator's terminal. */
static void report_bad(struct import *im, long line, const char *field, const char *reason,
		       const char *value, size_t value_len)
{
	char buf[ERR_MSG_MAX], clean[ERR_MSG_MAX + 64], text[ROWERR_REASON_MAX];
	const char *hint = field_hint(im, field, reason);
	size_t len;

	snprintf(buf, sizeof(buf), "%s", reason);
	if (field != NULL && (strcmp(field, "phone") == 0 || strcmp(field, "email") == 0 ||
			      strcmp(field, "signal") == 0)) {
		char *q = strstr(buf, " \"");

		if (q != NULL)
			*q = '\0';
		len = strlen(buf);
		while (len > 0 && buf[len - 1] == ':')
			buf[--len] = '\0';
		if (len > 3 && strcmp(buf + len - 3, " in") == 0)
			buf[len - 3] = '\0';
	}
	cli_clean_line(buf, strlen(buf), clean, sizeof(clean));
	snprintf(text, sizeof(text), "%s%s%s%s%s", field ? field : "", field ? ": " : "", clean,
		 hint ? "; " : "", hint ? hint : "");
	rowerrs_add(&im->errs, text, line, value, value_len);
	im->bad++;
}

/* The cell of the column a reason names ("phone", "channels[0]": the
 * channels cell), for the operator's terminal; NULL for no column. */
static const char *field_cell(const struct import *im, const struct csv_record *rec,
			      const char *field, size_t *len)
{
	for (int k = 0; field != NULL && k < COL_COUNT; k++) {
		size_t n = strlen(col_names[k]);

		if (strncmp(field, col_names[k], n) == 0 && (field[n] == '\0' || field[n] == '[') &&
		    im->col[k] >= 0 && (size_t)im->col[k] < rec->n) {
			*len = rec->len[im->col[k]];
			return rec->field[im->col[k]];
		}
	}
	return NULL;
}

/* recipient_parse's "phone: not an E.164 number: ..." split into field
 * and reason (a reason without a field, ": needs at least one address",
 * keeps no field). */
static void report_recipient_error(struct import *im, const struct csv_record *rec,
				   const char *msg)
{
	char field[32];
	const char *sep = strstr(msg, ": "), *value;
	size_t n = sep ? (size_t)(sep - msg) : 0, vlen = 0;

	if (sep == NULL || n >= sizeof(field)) {
		report_bad(im, rec->line, NULL, msg, NULL, 0);
		return;
	}
	if (n == 0) {
		report_bad(im, rec->line, NULL, sep + 2, NULL, 0);
		return;
	}
	memcpy(field, msg, n);
	field[n] = '\0';
	value = field_cell(im, rec, field, &vlen);
	report_bad(im, rec->line, field, sep + 2, value, vlen);
}

/* Reads the header: columns by name (case-insensitive, surrounding spaces
 * ignored). An unknown or repeated column, or no id column, stops the
 * import before anything is written: a misspelt column would otherwise
 * drop that field from every contact it replaces. */
static int import_header(struct import *im, const struct csv_record *rec)
{
	size_t i;
	int k;

	for (k = 0; k < COL_COUNT; k++)
		im->col[k] = -1;
	im->ncols = rec->n;
	for (i = 0; i < rec->n; i++) {
		size_t len = rec->len[i];
		const char *name = trim(rec->field[i], &len);
		char clean[96];

		for (k = 0; k < COL_COUNT; k++)
			if (strlen(col_names[k]) == len && strncasecmp(name, col_names[k], len) == 0)
				break;
		cli_clean_line(name, len > 64 ? 64 : len, clean, sizeof(clean));
		if (k == COL_COUNT)
			return cli_fail(im->c, 1,
					"%s line %ld: unknown column \"%s\" (the columns are id, name, phone, "
					"email, signal, lang, tz, channels, lists)", im->path, rec->line, clean);
		if (im->col[k] >= 0)
			return cli_fail(im->c, 1, "%s line %ld: column \"%s\" appears twice", im->path,
					rec->line, col_names[k]);
		im->col[k] = (int)i;
		im->colname[i] = col_names[k];
	}
	if (im->col[COL_ID] < 0)
		return cli_fail(im->c, 1, "%s line %ld: no \"id\" column in the header", im->path,
				rec->line);
	return 0;
}

/* The cell of column k, trimmed; NULL when the column is absent or the
 * cell is empty. */
static const char *cell(const struct import *im, const struct csv_record *rec, enum col k,
			size_t *len)
{
	const char *s;

	if (im->col[k] < 0)
		return NULL;
	*len = rec->len[im->col[k]];
	s = trim(rec->field[im->col[k]], len);
	/* "'=..." as our export (or a careful spreadsheet user) wrote it. */
	s = csv_formula_unguard(s, len);
	return *len > 0 ? s : NULL;
}

/* Sets key to the cell's text (the cell is valid UTF-8: csv.c checked). */
static int set_cell(json_t *obj, const char *key, const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);

	if (v == NULL || json_object_set_new(obj, key, v) != 0)
		return -1;
	return 0;
}

/* channels: names separated by ';', ',', '|' or blanks, any case. */
static json_t *parse_channels(const char *s, size_t len)
{
	json_t *arr = json_array();
	size_t i = 0;

	if (arr == NULL)
		return NULL;
	while (i < len) {
		size_t start, n, k;
		char name[32];

		while (i < len && strchr(";,| \t\r\n", s[i]) != NULL)
			i++;
		start = i;
		while (i < len && strchr(";,| \t\r\n", s[i]) == NULL)
			i++;
		if (i == start)
			break;
		n = i - start;
		/* Longer than any channel: kept as is, recipient_parse names it. */
		if (n >= sizeof(name)) {
			if (json_array_append_new(arr, json_stringn(s + start, n)) != 0)
				goto oom;
			continue;
		}
		for (k = 0; k < n; k++) {
			char ch = s[start + k];

			name[k] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
		}
		name[n] = '\0';
		if (json_array_append_new(arr, json_stringn(name, n)) != 0)
			goto oom;
	}
	return arr;
oom:
	json_decref(arr);
	return NULL;
}

/* Adds a list name to arr unless present. */
static int add_list(json_t *arr, const char *s, size_t len)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		if (json_string_length(v) == len && memcmp(json_string_value(v), s, len) == 0)
			return 0;
	}
	return json_array_append_new(arr, json_stringn(s, len));
}

/* lists: names separated by ';', each trimmed; empty names skipped.
 * Returns 0, -1 with *problem set for a bad name, -2 when out of memory. */
static int parse_lists(const char *s, size_t len, json_t *arr, const char **problem)
{
	size_t i = 0;

	while (i <= len && s != NULL) {
		const char *end = memchr(s + i, ';', len - i);
		size_t n = end ? (size_t)(end - (s + i)) : len - i;
		const char *name = trim(s + i, &n);

		if (n > 0) {
			*problem = list_name_problem(name, n);
			if (*problem != NULL)
				return -1;
			if (add_list(arr, name, n) != 0)
				return -2;
		}
		if (end == NULL)
			break;
		i = (size_t)(end - s) + 1;
	}
	return 0;
}

/* Frees the strings the sent batch owned and starts the next one after
 * the fixed arguments. */
static void batch_reset(struct import *im)
{
	size_t i;

	for (i = 0; i < im->nowned; i++)
		free(im->owned[i]);
	im->nowned = 0;
	im->argc = FIXED_ARGS;
	im->batch_n = 0;
	im->batch_bytes = 0;
}

/* Reads the reply of the oldest batch in flight and counts its outcomes. */
static int batch_collect(struct import *im)
{
	struct cli *c = im->c;
	redisReply *r = NULL;
	size_t i;

	if (redisGetReply(c->rc, (void **)&r) != REDIS_OK || r == NULL) {
		im->redis_failed = true;
		return cli_redis_fail(c, "FCALL contacts");
	}
	im->in_flight--;
	if (r->type == REDIS_REPLY_ERROR) {
		if (redis_lib_missing(r->str, r->len))
			cli_fail(c, 1, "redis: the functions were flushed during the import");
		else
			cli_fail(c, 1, "redis: FCALL contacts: %s", r->str);
		freeReplyObject(r);
		return -1;
	}
	if (r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		im->redis_failed = true;
		return cli_fail(c, 1, "redis: FCALL contacts: unexpected reply");
	}
	for (i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];

		if (!cli_reply_is_str(e))
			continue;
		if (strcmp(e->str, "created") == 0)
			im->created++;
		else if (strcmp(e->str, "updated") == 0)
			im->updated++;
	}
	im->written += (long long)r->elements;
	freeReplyObject(r);
	return 0;
}

/* Sends the batch (pipelined) and reads replies down to the depth. */
static int batch_send(struct import *im)
{
	struct cli *c = im->c;

	if (im->batch_n == 0)
		return 0;
	if (redisAppendCommandArgv(c->rc, (int)im->argc, im->argv, im->argvlen) != REDIS_OK) {
		im->redis_failed = true;
		return cli_redis_fail(c, "FCALL contacts");
	}
	im->in_flight++;
	batch_reset(im);
	while (im->in_flight >= PIPELINE_DEPTH)
		if (batch_collect(im) != 0)
			return -1;
	return 0;
}

/* Sends what is left and reads every reply: the end of the file. */
static int batch_drain(struct import *im)
{
	if (batch_send(im) != 0)
		return -1;
	while (im->in_flight > 0)
		if (batch_collect(im) != 0)
			return -1;
	return 0;
}

/* Appends one contact (upsert, payload, mode, lists) to the batch; takes
 * payload and lists (malloc'd). */
static int batch_add(struct import *im, char *payload, const char *mode, char *lists)
{
	size_t a = im->argc;

	im->owned[im->nowned++] = payload;
	im->owned[im->nowned++] = lists;
	im->argv[a + LUA_CONTACTS_EACH_ACTION] = "upsert";
	im->argvlen[a + LUA_CONTACTS_EACH_ACTION] = 6;
	im->argv[a + LUA_CONTACTS_EACH_PAYLOAD] = payload;
	im->argvlen[a + LUA_CONTACTS_EACH_PAYLOAD] = strlen(payload);
	im->argv[a + LUA_CONTACTS_EACH_LIST_MODE] = mode;
	im->argvlen[a + LUA_CONTACTS_EACH_LIST_MODE] = strlen(mode);
	im->argv[a + LUA_CONTACTS_EACH_LISTS] = lists;
	im->argvlen[a + LUA_CONTACTS_EACH_LISTS] = strlen(lists);
	im->argc += LUA_CONTACTS_NEACH;
	im->batch_n++;
	im->batch_bytes += im->argvlen[a + LUA_CONTACTS_EACH_PAYLOAD] +
			   im->argvlen[a + LUA_CONTACTS_EACH_LISTS];
	if (im->batch_n >= BATCH_CONTACTS || im->batch_bytes >= BATCH_BYTES)
		return batch_send(im);
	return 0;
}

/* One data row: builds the recipient object from its non-empty cells,
 * checks it with recipient_parse, and queues it. Returns 0 (also for a
 * bad row, which is reported) or -1 on a fatal error. */
static int import_row(struct import *im, const struct csv_record *rec)
{
	static const enum col simple[] = { COL_ID, COL_NAME, COL_PHONE, COL_EMAIL, COL_SIGNAL,
					   COL_LANG, COL_TZ };
	json_t *obj = NULL, *lists = NULL;
	struct recipient r;
	struct err err;
	const char *s, *mode, *problem = NULL;
	char *payload = NULL, *lists_json = NULL;
	size_t len, i;
	bool empty = true;
	long prev;
	int rc = -1;

	for (i = 0; i < rec->n; i++) {
		len = rec->len[i];
		trim(rec->field[i], &len);
		if (len > 0)
			empty = false;
	}
	if (empty)	/* ",,,,": spreadsheets leave such rows; no data, no error */
		return 0;

	obj = json_object();
	lists = json_array();
	if (obj == NULL || lists == NULL)
		goto oom;
	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		char e164[24];

		if ((s = cell(im, rec, simple[i], &len)) == NULL)
			continue;
		/* --default-country: "(323) 555-0000" as the file has it. */
		if (im->country != NULL && (simple[i] == COL_PHONE || simple[i] == COL_SIGNAL)) {
			if (cli_phone_normalize(s, len, im->country, e164, sizeof(e164), &err) != 0) {
				report_bad(im, rec->line, col_names[simple[i]], err.pub, s, len);
				rc = 0;
				goto out;
			}
			s = e164;
			len = strlen(e164);
		}
		if (set_cell(obj, col_names[simple[i]], s, len) != 0)
			goto oom;
	}
	if ((s = cell(im, rec, COL_CHANNELS, &len)) != NULL) {
		json_t *ch = parse_channels(s, len);

		if (ch == NULL)
			goto oom;
		if (json_array_size(ch) == 0)
			json_decref(ch);
		else if (json_object_set_new(obj, "channels", ch) != 0)
			goto oom;
	}
	if (recipient_parse(obj, "", &r, &err) != 0) {
		report_recipient_error(im, rec, err.msg);
		rc = 0;
		goto out;
	}
	if (im->col[COL_LISTS] >= 0) {
		s = cell(im, rec, COL_LISTS, &len);
		switch (parse_lists(s, s ? len : 0, lists, &problem)) {
		case -1:
			report_bad(im, rec->line, "lists", problem, NULL, 0);
			rc = 0;
			goto out;
		case -2:
			goto oom;
		}
	}
	if (im->list != NULL && add_list(lists, im->list, strlen(im->list)) != 0)
		goto oom;
	/* Lists: a lists column sets them exactly (with --list added);
	 * without one, --list adds its list and otherwise they stay. */
	if (im->col[COL_LISTS] >= 0)
		mode = "set";
	else
		mode = im->list != NULL ? "add" : "keep";

	switch (idset_put(&im->ids, r.id, rec->line, &prev)) {
	case -1:
		goto oom;
	case 1: {
		char id[JOB_ID_MAX + 8];

		cli_clean_line(r.id, strlen(r.id), id, sizeof(id));
		if (im->dups < DUP_WARNINGS)
			fprintf(stderr, "line %ld: warning: id %s is also on line %ld; the later row "
				"wins\n", rec->line, id, prev);
		im->dups++;
		break;
	}
	}
	payload = json_dumps(obj, JSON_COMPACT);
	lists_json = json_dumps(lists, JSON_COMPACT);
	if (payload == NULL || lists_json == NULL)
		goto oom;
	if (im->dry_run) {	/* checked as for real; counted, not written */
		im->written++;
		rc = 0;
		goto out;
	}
	rc = batch_add(im, payload, mode, lists_json);
	payload = lists_json = NULL;	/* the batch owns them */
	goto out;
oom:
	cli_fail(im->c, 1, "out of memory");
out:
	free(payload);
	free(lists_json);
	json_decref(obj);
	json_decref(lists);
	return rc;
}

/* Loads the script and fills the arguments every batch starts with. */
static int import_prepare(struct import *im)
{
	struct cli *c = im->c;
	const char *base = strrchr(im->path, '/');

	if (cli_connect(c, 0) != 0 || cli_lib_load(c) != 0)
		return -1;
	snprintf(im->source, sizeof(im->source), "import %s",
		 strcmp(im->path, "-") == 0 ? "stdin" : base ? base + 1 : im->path);
	im->argv = calloc(FIXED_ARGS + LUA_CONTACTS_NEACH * BATCH_CONTACTS, sizeof(*im->argv));
	im->argvlen = calloc(FIXED_ARGS + LUA_CONTACTS_NEACH * BATCH_CONTACTS, sizeof(*im->argvlen));
	im->owned = calloc(2 * BATCH_CONTACTS, sizeof(*im->owned));
	if (im->argv == NULL || im->argvlen == NULL || im->owned == NULL)
		return cli_fail(c, 1, "out of memory");
	cli_lib_head(c, LUA_FN_CONTACTS, im->argv);
	im->argv[REDIS_LIB_HEAD + LUA_CONTACTS_HEAD_SOURCE] = im->source;
	for (size_t i = 0; i < FIXED_ARGS; i++)
		im->argvlen[i] = strlen(im->argv[i]);
	batch_reset(im);
	return 0;
}

/* Frees what import_header() and import_prepare() allocated. */
static void import_free(struct import *im)
{
	if (im->owned != NULL)
		batch_reset(im);
	free(im->argv);
	free(im->argvlen);
	free(im->owned);
	idset_free(&im->ids);
}

/* The reader's reason for a malformed row, with the column it is about
 * named ("line 7: name: quote inside an unquoted field"). */
static void report_csv_error(struct import *im, const struct csv_record *rec, const char *msg)
{
	const char *colon = strstr(msg, ": ");

	if (rec->bad_field > 0 && (size_t)rec->bad_field <= im->ncols && colon != NULL &&
	    strncmp(msg, "field ", 6) == 0)
		report_bad(im, rec->line, im->colname[rec->bad_field - 1], colon + 2, NULL, 0);
	else
		report_bad(im, rec->line, NULL, msg, NULL, 0);
}

/* The progress line on the operator's terminal ("read 12000 rows"), kept
 * on one line with \r and cleared before anything else is printed; never
 * in a pipe or a log (issue 13, item 18). */
static void show_progress(struct import *im)
{
	if (im->tty && ++im->rows % PROGRESS_EVERY == 0)
		fprintf(stderr, "\rread %lld rows, %lld bad", im->rows, im->bad);
}

static void end_progress(struct import *im)
{
	if (im->tty && im->rows >= PROGRESS_EVERY)
		fputs("\r\033[K", stderr);
}

/* After a fatal error: collects what batches already sent can still
 * confirm, then says how many contacts are in, so the operator knows
 * where the import stopped (each contact is whole either way). */
static void import_fatal(struct import *im)
{
	char msg[ERR_MSG_MAX];
	bool redis_ok = im->c->rc != NULL && im->c->rc->err == 0 && !im->redis_failed;

	snprintf(msg, sizeof(msg), "%s", im->c->err.msg);
	end_progress(im);
	rowerrs_print(&im->errs, stderr, im->tty);
	while (redis_ok && im->in_flight > 0)
		if (batch_collect(im) != 0)
			break;
	if (im->written > 0 || im->in_flight > 0)
		cli_fail(im->c, 1, "%s (%lld contacts confirmed written before it; importing the "
			 "file again is safe)", msg, im->written);
	else
		cli_fail(im->c, 1, "%s", msg);
}

/* The import: header, then row by row into batches; the summary. */
static int contacts_import(struct cli *c, const char *path, const struct cli_args *a)
{
	struct import im;
	struct csv_reader *rd = NULL;
	struct csv_record rec;
	struct err err;
	FILE *fp;
	enum csv_result res;
	int rc = -1;

	memset(&im, 0, sizeof(im));
	im.c = c;
	im.path = path;
	im.list = a->list;
	im.dry_run = a->dry_run;
	im.country = a->country ? cli_phone_country(a->country) : NULL;
	im.tty = isatty(STDERR_FILENO) == 1;
	if (strcmp(path, "-") == 0) {
		fp = stdin;
	} else if ((fp = fopen(path, "rb")) == NULL) {
		return cli_fail(c, 1, "cannot open %s: %s", path, strerror(errno));
	}
	rd = csv_open_file(fp, NULL, true);
	if (rd == NULL) {
		cli_fail(c, 1, "out of memory");
		goto out;
	}
	res = csv_next(rd, &rec, &err);
	if (res == CSV_END) {
		cli_fail(c, 1, "%s: empty file: no header row", path);
		goto out;
	}
	if (res == CSV_IO_ERROR) {
		cli_fail(c, 1, "%s: %s", path, err.msg);
		goto out;
	}
	if (res == CSV_BAD) {
		char clean[ERR_MSG_MAX];

		cli_clean_line(err.msg, strlen(err.msg), clean, sizeof(clean));
		cli_fail(c, 1, "%s line %ld: header: %s", path, rec.line, clean);
		goto out;
	}
	if (import_header(&im, &rec) != 0 || (!im.dry_run && import_prepare(&im) != 0))
		goto out;
	while ((res = csv_next(rd, &rec, &err)) != CSV_END) {
		if (res == CSV_IO_ERROR) {
			cli_fail(c, 1, "%s line %ld: %s", path, rec.line, err.msg);
			goto out;
		}
		show_progress(&im);
		if (res == CSV_BAD) {
			report_csv_error(&im, &rec, err.msg);
			continue;
		}
		if (import_row(&im, &rec) != 0)
			goto out;
	}
	if (!im.dry_run && batch_drain(&im) != 0)
		goto out;
	end_progress(&im);
	rowerrs_print(&im.errs, stderr, im.tty);
	if (im.dups > DUP_WARNINGS)
		fprintf(stderr, "warning: %lld more ids repeated in the file (the later row wins)\n",
			im.dups - DUP_WARNINGS);
	/* Contacts, not rows: a row that repeats an id (warned above) wrote
	 * the same contact again, and the script said "updated" for it. */
	long long contacts = im.written - im.dups;
	long long created = im.created < contacts ? im.created : contacts;

	if (im.dry_run)
		printf("dry run: %lld contacts would be imported, %lld bad rows; nothing written\n",
		       contacts, im.bad);
	else
		printf("imported %lld contacts (%lld created, %lld updated), %lld bad rows\n",
		       contacts, created, contacts - created, im.bad);
	rc = 0;
	if (im.bad > 0)
		rc = cli_fail(c, 1, "%lld bad rows not imported (see above)", im.bad);
	goto done;
out:
	import_fatal(&im);
done:
	csv_close(rd);
	if (fp != NULL && fp != stdin)
		fclose(fp);
	import_free(&im);
	return rc;
}

/* ---- export ---- */

struct export {
	struct cli *c;
	struct idset seen;	/* ids written: SSCAN may repeat one */
	struct buf channels, lists;	/* the cells, rewritten */
	struct buf guarded[COL_COUNT];	/* cells written as "'=..." */
	long long count;
	int listing;		/* 0: export CSV; LIST_TEXT, LIST_JSON: contacts list */
};

enum { LIST_TEXT = 1, LIST_JSON = 2 };

/* Warns about a cell that the import would not take back whole. */
static void export_warn(const char *id, size_t id_len, const char *what)
{
	char cid[JOB_ID_MAX + 8];

	cli_clean_line(id, id_len, cid, sizeof(cid));
	fprintf(stderr, "pregon: warning: contact %s: %s\n", cid, what);
}

/* One contact's row from its HGETALL reply. Returns 1 when written, 0
 * when the contact is gone (deleted between SSCAN and HGETALL), -1 out of
 * memory, -2 on a write error. */
static int export_row(struct export *ex, const char *id, size_t id_len, const redisReply *h)
{
	const char *row[COL_COUNT];
	size_t len[COL_COUNT], i;
	int k;

	if (h->type != REDIS_REPLY_ARRAY || h->elements == 0)
		return 0;
	for (k = 0; k < COL_COUNT; k++) {
		row[k] = "";
		len[k] = 0;
	}
	row[COL_ID] = id;
	len[COL_ID] = id_len;
	for (i = 0; i + 1 < h->elements; i += 2) {
		const redisReply *f = h->element[i], *v = h->element[i + 1];

		if (!cli_reply_is_str(f) || !cli_reply_is_str(v))
			continue;
		for (k = COL_NAME; k < COL_COUNT; k++)
			if (strcmp(f->str, col_names[k]) == 0) {
				row[k] = v->str;
				len[k] = v->len;
			}
	}
	/* channels: stored comma-separated, written ';'-separated. */
	buf_reset(&ex->channels);
	if (buf_add(&ex->channels, row[COL_CHANNELS], len[COL_CHANNELS]) != 0)
		return -1;
	for (i = 0; i < ex->channels.len; i++)
		if (ex->channels.p[i] == ',')
			ex->channels.p[i] = ';';
	row[COL_CHANNELS] = ex->channels.p;

	/* lists: stored as a JSON array, written ';'-separated. */
	buf_reset(&ex->lists);
	if (buf_add(&ex->lists, "", 0) != 0)
		return -1;
	if (len[COL_LISTS] > 0) {
		json_t *arr = json_loadb(row[COL_LISTS], len[COL_LISTS], 0, NULL), *v;
		size_t j;

		if (!json_is_array(arr))
			export_warn(id, id_len, "its lists are not a JSON array; left out");
		json_array_foreach(arr, j, v) {
			const char *name = json_string_value(v);
			size_t n = json_string_length(v);

			if (name == NULL)
				continue;
			if (memchr(name, ';', n) != NULL)
				export_warn(id, id_len, "a list name holds ';' and will not import "
					    "back as one name");
			if ((ex->lists.len > 0 && buf_add(&ex->lists, ";", 1) != 0) ||
			    buf_add(&ex->lists, name, n) != 0) {
				json_decref(arr);
				return -1;
			}
		}
		json_decref(arr);
	}
	row[COL_LISTS] = ex->lists.p;
	len[COL_LISTS] = ex->lists.len;
	/* A cell a spreadsheet would run as a formula is written as text
	 * ("'=..."; the import takes the quote off). Phone numbers are E.164,
	 * digits after the '+': at worst a number, and a CRM reading the file
	 * must get them as they are. */
	for (k = 0; k < COL_COUNT; k++) {
		struct buf *g = &ex->guarded[k];

		if (k == COL_PHONE || k == COL_SIGNAL || !csv_formula_risk(row[k], len[k]))
			continue;
		buf_reset(g);
		if (buf_add(g, "'", 1) != 0 || buf_add(g, row[k], len[k]) != 0)
			return -1;
		row[k] = g->p;
		len[k] = g->len;
	}
	for (k = 0; k < COL_COUNT; k++)
		if (len[k] > CSV_FIELD_MAX) {
			char what[96];

			snprintf(what, sizeof(what), "its %s cell is over %d bytes; the import will "
				 "reject the row", col_names[k], CSV_FIELD_MAX);
			export_warn(id, id_len, what);
		}
	if (csv_write_record(stdout, row, len, COL_COUNT) != 0)
		return -2;
	ex->count++;
	return 1;
}

/* Writes the rows of ids[from..to): one HGETALL per id, pipelined.
 * Returns 0, 1 when stdout's reader went away, -1 on error. */
/* One contact of `pregon contacts list`: what an organizer checks (name,
 * language, zone, which channels have an address, lists), never the
 * addresses themselves (cli.h, output rule: export is for those).
 * Returns 0, -1 out of memory, -2 stdout failed. */
static int list_row(struct export *ex, const char *id, size_t id_len, const redisReply *h)
{
	static const char *const addr_channel[] = { "sms", "email", "signal" };
	const char *v[COL_COUNT] = { 0 };
	json_t *obj, *has, *lists;
	char clean[COL_COUNT][256];
	int rc = 0;

	if (h->type != REDIS_REPLY_ARRAY || h->elements == 0)
		return 0;	/* deleted since the scan */
	for (size_t i = 0; i + 1 < h->elements; i += 2)
		for (int k = COL_NAME; k < COL_COUNT; k++)
			if (cli_reply_is_str(h->element[i]) && cli_reply_is_str(h->element[i + 1]) &&
			    strcmp(h->element[i]->str, col_names[k]) == 0)
				v[k] = h->element[i + 1]->str;
	cli_clean_line(id, id_len, clean[COL_ID], sizeof(clean[COL_ID]));
	for (int k = COL_NAME; k < COL_COUNT; k++)
		cli_clean_line(v[k] ? v[k] : "", v[k] ? strlen(v[k]) : 0, clean[k], sizeof(clean[k]));
	has = json_array();
	for (int k = 0; k < 3; k++)
		if (v[COL_PHONE + k] != NULL && v[COL_PHONE + k][0] != '\0')
			json_array_append_new(has, json_string(addr_channel[k]));
	lists = v[COL_LISTS] ? json_loads(v[COL_LISTS], 0, NULL) : NULL;
	if (!json_is_array(lists)) {
		json_decref(lists);
		lists = json_array();
	}
	ex->count++;
	if (ex->listing == LIST_JSON) {
		char *text;

		obj = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O}", "id", clean[COL_ID], "name",
				clean[COL_NAME], "lang", clean[COL_LANG], "tz", clean[COL_TZ],
				"addresses", has, "lists", lists);
		text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(obj);
		if (text == NULL)
			rc = -1;
		else if (printf("%s\n", text) < 0)
			rc = -2;
		free(text);
	} else {
		char *h_text = json_dumps(has, JSON_COMPACT), *l_text = json_dumps(lists, JSON_COMPACT);

		/* Tab-separated: id, name, lang, tz, the channels with an
		 * address, the lists (JSON arrays: names may hold spaces). */
		if (h_text == NULL || l_text == NULL)
			rc = -1;
		else if (printf("%s\t%s\t%s\t%s\t%s\t%s\n", clean[COL_ID], clean[COL_NAME],
				clean[COL_LANG], clean[COL_TZ], h_text, l_text) < 0)
			rc = -2;
		free(h_text);
		free(l_text);
	}
	json_decref(has);
	json_decref(lists);
	return rc;
}

static int export_chunk(struct export *ex, const redisReply *ids, size_t from, size_t to)
{
	struct cli *c = ex->c;
	const redisReply *todo[EXPORT_PAGE];
	size_t n = 0, i;
	long prev;
	int rc = 0;

	for (i = from; i < to; i++) {
		const redisReply *id = ids->element[i];
		char key[CLI_KEY_MAX], suffix[JOB_ID_MAX + 16];

		if (!cli_reply_is_str(id) || id->len > JOB_ID_MAX || strlen(id->str) != id->len)
			continue;
		/* SSCAN may return an element more than once (SCAN's guarantees). */
		switch (idset_put(&ex->seen, id->str, 0, &prev)) {
		case -1:
			return cli_fail(c, 1, "out of memory");
		case 1:
			continue;
		}
		snprintf(suffix, sizeof(suffix), "contact:%s", id->str);
		if (cli_key(c, key, suffix) != 0)
			return -1;
		if (redisAppendCommand(c->rc, "HGETALL %s", key) != REDIS_OK)
			return cli_redis_fail(c, "HGETALL");
		todo[n++] = id;
	}
	for (i = 0; i < n; i++) {
		redisReply *h = NULL;

		if (redisGetReply(c->rc, (void **)&h) != REDIS_OK || h == NULL)
			return cli_redis_fail(c, "HGETALL");
		if (rc != 0) {	/* read the rest of the pipeline, write nothing */
			freeReplyObject(h);
			continue;
		}
		if (h->type == REDIS_REPLY_ERROR) {
			rc = cli_fail(c, 1, "redis: HGETALL: %s", h->str);
			freeReplyObject(h);
			continue;
		}
		switch (ex->listing ? list_row(ex, todo[i]->str, todo[i]->len, h) :
			export_row(ex, todo[i]->str, todo[i]->len, h)) {
		case -1:
			rc = cli_fail(c, 1, "out of memory");
			break;
		case -2:
			rc = errno == EPIPE ? 1 : cli_fail(c, 1, "stdout: %s", strerror(errno));
			break;
		}
		freeReplyObject(h);
	}
	return rc;
}

/* The export: header, then SSCAN page by page, in SSCAN's order (no
 * sort: that would need every id in memory at once; sort the file). */
static int contacts_export(struct cli *c, const char *list, int listing)
{
	static char outbuf[1 << 16];
	char key[CLI_KEY_MAX], suffix[LIST_NAME_MAX + 16], cursor[32] = "0";
	struct export ex;
	int rc = 0;

	memset(&ex, 0, sizeof(ex));
	ex.c = c;
	ex.listing = listing;
	if (list != NULL)
		snprintf(suffix, sizeof(suffix), "list:%s", list);
	else
		snprintf(suffix, sizeof(suffix), "contacts");
	if (cli_key(c, key, suffix) != 0 || cli_connect(c, 0) != 0)
		return -1;
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (!listing && csv_write_record(stdout, col_names, NULL, COL_COUNT) != 0)
		return errno == EPIPE ? 0 : cli_fail(c, 1, "stdout: %s", strerror(errno));
	do {
		redisReply *r = cli_cmd(c, "SSCAN %s %s COUNT %d", key, cursor, EXPORT_PAGE);
		size_t i;

		if (r == NULL) {
			rc = -1;
			break;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    !cli_reply_is_str(r->element[0]) || r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			rc = cli_fail(c, 1, "redis: SSCAN: unexpected reply");
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		/* COUNT is a hint: a small set comes whole in one reply. */
		for (i = 0; rc == 0 && i < r->element[1]->elements; i += EXPORT_PAGE) {
			size_t to = i + EXPORT_PAGE;

			if (to > r->element[1]->elements)
				to = r->element[1]->elements;
			rc = export_chunk(&ex, r->element[1], i, to);
		}
		freeReplyObject(r);
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	if (rc == 0 && ex.count == 0 && list != NULL) {
		char clean[LIST_NAME_MAX + 8];

		cli_clean_line(list, strlen(list), clean, sizeof(clean));
		fprintf(stderr, "pregon: warning: list \"%s\" has no members\n", clean);
	}
	/* The count on stderr: stdout stays one contact a line for scripts. */
	if (rc == 0 && listing == LIST_TEXT)
		fprintf(stderr, "%lld contacts\n", ex.count);
	idset_free(&ex.seen);
	buf_free(&ex.channels);
	buf_free(&ex.lists);
	for (int k = 0; k < COL_COUNT; k++)
		buf_free(&ex.guarded[k]);
	if (rc == 1)	/* `pregon contacts export | head`: not an error */
		return 0;
	return rc;
}

/* `pregon contacts import|export`: arguments, then the subcommand. */
int cli_contacts(struct cli *c, const struct cli_args *a)
{
	const char *sub = a->npos > 0 ? a->pos[0] : NULL;

	if (sub == NULL)
		return cli_fail(c, CLI_EXIT_USAGE, "contacts: needs import, export or list");
	if (a->list != NULL) {
		const char *problem = list_name_problem(a->list, strlen(a->list));

		if (problem != NULL)
			return cli_fail(c, CLI_EXIT_USAGE, "--list: %s", problem);
	}
	if (a->json && strcmp(sub, "list") != 0)
		return cli_fail(c, CLI_EXIT_USAGE, "contacts: --json is for list");
	if (strcmp(sub, "import") == 0) {
		if (a->npos != 2)
			return cli_fail(c, CLI_EXIT_USAGE, "contacts import FILE.csv [--list NAME] "
					"[--default-country CC] [--dry-run]");
		if (a->country != NULL && cli_phone_country(a->country) == NULL)
			return cli_fail(c, CLI_EXIT_USAGE, "--default-country: unknown country \"%.16s\"; "
					"expected one of %s, e.g. US", a->country, cli_phone_countries());
		return contacts_import(c, a->pos[1], a);
	}
	if (strcmp(sub, "export") == 0) {
		if (a->npos != 1)
			return cli_fail(c, CLI_EXIT_USAGE, "contacts export [--list NAME]");
		if (a->dry_run || a->country != NULL)
			return cli_fail(c, CLI_EXIT_USAGE, "contacts export: --dry-run and "
					"--default-country are for import");
		return contacts_export(c, a->list, 0);
	}
	if (strcmp(sub, "list") == 0) {
		if (a->npos != 1 || a->dry_run || a->country != NULL)
			return cli_fail(c, CLI_EXIT_USAGE, "contacts list [--list NAME] [--json]");
		return contacts_export(c, a->list, a->json ? LIST_JSON : LIST_TEXT);
	}
	return cli_fail(c, CLI_EXIT_USAGE, "contacts: unknown subcommand (import, export, list)");
}
