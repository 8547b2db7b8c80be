/* dead_index.c: the names a dead letter is indexed by (dead_index.h). */
#include "dead_index.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "validate.h"

/* The longest name kept: a contact id is 1..128 printable bytes
 * (job_parse.c), an email at most 254. Longer ones cannot be a contact's. */
#define NAME_MAX_BYTES 300

struct names {
	json_t *arr;
	json_t *seen;		/* name -> true, to keep each once */
	int too_many;
};

static void add_name(struct names *n, const char *prefix, const char *s, size_t len)
{
	char name[NAME_MAX_BYTES + 3];

	if (n->arr == NULL || len == 0 || len > NAME_MAX_BYTES)
		return;
	/* Contact ids are printable ASCII (job_parse.c check_id), addresses
	 * too (validate.c): a name with any other byte names nobody pregon
	 * keeps, and JSON would refuse one that is not UTF-8. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return;
	snprintf(name, sizeof(name), "%s%.*s", prefix, (int)len, s);
	if (json_object_get(n->seen, name) != NULL)
		return;
	if (json_array_size(n->arr) >= DEAD_INDEX_MAX) {
		n->too_many = 1;
		json_decref(n->arr);
		n->arr = NULL;
		return;
	}
	if (json_object_set_new(n->seen, name, json_true()) != 0 ||
	    json_array_append_new(n->arr, json_string(name)) != 0) {
		json_decref(n->arr);
		n->arr = NULL;
	}
}

/* '+' then 8..15 digits, with the separators people write between them.
 * Returns how far it read (0: not a number). */
static size_t scan_phone(struct names *n, const char *s, size_t len)
{
	char digits[PHONE_E164_MAX + 2] = "+", e164[PHONE_E164_MAX + 1];
	size_t i = 1, nd = 0;
	struct err err;

	while (i < len && (isdigit((unsigned char)s[i]) || strchr(" .-()", s[i]) != NULL)) {
		if (isdigit((unsigned char)s[i])) {
			if (nd == 15)
				return 0;	/* too long for E.164: not a phone number */
			digits[1 + nd++] = s[i];
		}
		i++;
	}
	if (nd < 8)
		return 0;
	digits[1 + nd] = '\0';
	/* As intake keeps a valid one (Mexico's old mobile prefix dropped). */
	if (phone_check_e164(digits, e164, &err) == 0)
		add_name(n, "a:", e164, strlen(e164));
	else
		add_name(n, "a:", digits, nd + 1);
	return i;
}

static bool email_local_char(char c)
{
	return isalnum((unsigned char)c) || strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

static bool email_domain_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-';
}

/* An email address around the '@' at s[at], folded to lower case as
 * consent and contact_delete compare them. Returns the end of the domain. */
static size_t scan_email(struct names *n, const char *s, size_t len, size_t at)
{
	char addr[NAME_MAX_BYTES + 1];
	size_t b = at, e = at + 1;
	bool dot = false;

	while (b > 0 && email_local_char(s[b - 1]))
		b--;
	for (; e < len && email_domain_char(s[e]); e++)
		if (s[e] == '.')
			dot = true;
	while (e > at + 1 && (s[e - 1] == '.' || s[e - 1] == '-'))
		e--;	/* the end of a sentence, not of the domain */
	if (b == at || e == at + 1 || !dot || e - b > NAME_MAX_BYTES)
		return at + 1;
	for (size_t i = b; i < e; i++)
		addr[i - b] = (char)tolower((unsigned char)s[i]);
	add_name(n, "a:", addr, e - b);
	return e;
}

/* "key": "value" members of text that is not JSON, for ids. */
static void scan_ids(struct names *n, const char *s, size_t len, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i + klen < len; i++) {
		size_t j, v;

		if (memcmp(s + i, key, klen) != 0)
			continue;
		j = i + klen;
		while (j < len && isspace((unsigned char)s[j]))
			j++;
		if (j >= len || s[j] != ':')
			continue;
		j++;
		while (j < len && isspace((unsigned char)s[j]))
			j++;
		if (j >= len || s[j] != '"')
			continue;
		v = ++j;
		while (j < len && s[j] != '"' && s[j] != '\\')
			j++;
		if (j < len && s[j] == '"')
			add_name(n, "c:", s + v, j - v);
	}
}

static void add_id(struct names *n, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		add_name(n, "c:", json_string_value(v), json_string_length(v));
}

/* The ids a parsed job gives its people (CONTRACT.md section 2). */
static void parsed_ids(struct names *n, json_t *doc)
{
	json_t *rcps = json_object_get(json_object_get(doc, "audience"), "recipients");
	json_t *r;
	size_t i;

	add_id(n, json_object_get(doc, "recipient"), "id");
	add_id(n, json_object_get(doc, "contact"), "id");
	add_id(n, doc, "contact_id");
	json_array_foreach(rcps, i, r)
		add_id(n, r, "id");
}

json_t *dead_index_names(const char *raw, size_t len, int *too_many)
{
	struct names n = { json_array(), json_object(), 0 };
	json_t *doc;

	*too_many = 0;
	if (n.arr == NULL || n.seen == NULL)
		goto out;
	doc = json_loadb(raw, len, 0, NULL);
	if (json_is_object(doc)) {
		parsed_ids(&n, doc);
	} else {
		scan_ids(&n, raw, len, "\"contact_id\"");
		scan_ids(&n, raw, len, "\"id\"");
	}
	json_decref(doc);
	for (size_t i = 0; i < len && n.arr != NULL;) {
		if (raw[i] == '+') {
			size_t used = scan_phone(&n, raw + i, len - i);

			i += used > 0 ? used : 1;
		} else if (raw[i] == '@')
			i = scan_email(&n, raw, len, i);
		else
			i++;
	}
out:
	json_decref(n.seen);
	*too_many = n.too_many;
	return n.arr;
}
