/* job_parse.c: a job document from outside, checked once at intake.
 *
 * CONTRACT.md section 2 is the authority on fields. Every rejection names
 * the field by its path and says what is wrong (`recipient.phone: not an
 * E.164 number: "323-555"`, `audience.recipients[3].email: ...`), because
 * that text is all a producer sees in the dead-letter stream. Beside it,
 * every rejection fills err->pub (err.h), the text a `rejected` event, MQTT
 * and the log carry: the same path and problem without the value
 * (`recipient.phone: not an E.164 number`). CONTRACT.md section 3 forbids
 * a value from the job in an event, so pub is built from this file's
 * constant problems, limits and paths only, never from msg; a path segment
 * that would be a key of the document (a language, a reply keyword) is its
 * position instead (`replies[3]`), and msg alone adds the key. Conventions:
 * - null for an optional field means absent; for a required one, missing;
 * - unknown fields are accepted, never used (so "charge" in a court case
 *   never matters), and named in job->unknown with the known field they
 *   look like ("sendAt (did you mean send_at?)"): a producer's typo must
 *   not make a job do something else without anyone hearing of it;
 * - a wrong type is rejected, never coerced ("5" is not 5, 1 is not true);
 * - normalised values (phone numbers, trimmed email, canonical case of a
 *   language tag) are written back into the document, so job->doc and the
 *   typed fields agree and later readers of doc see the normal form.
 *
 * Identifier rule (job id, recipient/contact id, contact_id): 1 to 128
 * bytes of printable ASCII without spaces (0x21..0x7e). Ids end up in Redis
 * key names, URLs (/v1/jobs/{id}), log lines and events; ASCII without
 * spaces is unambiguous in all of them, and producers' ids are ASCII
 * (UUIDs, CRM row ids). References and names chosen by people (case.ref,
 * event.ref, audience.list, lists[]) may hold spaces and any UTF-8 except
 * control characters, 1 to 128 bytes.
 *
 * Limits beyond CONTRACT.md, each so that one producer's mistake cannot
 * turn into a flood or an unreadable SMS: names, court, address,
 * department, title and location at most 512 bytes; offsets and reminders
 * at most 32 entries (each is a message); replies at most 32 keywords of
 * 1..32 characters, meanings at most 128 bytes, no keyword that is a
 * consent word (STOP, HELP...) or differs from another only in case;
 * inline audience ids unique; join_url an http(s) URL. */
#include "job.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "validate.h"
#include "quote.h"

const struct job_limits job_limits_default = {
	.max_bytes = 65536,
	.max_depth = 16,
	.max_text = 8192,
	.max_recipients = 1000,
};

#define REF_MAX 128		/* case.ref, event.ref, list names */
#define SHORT_TEXT_MAX 512	/* names, court, address, title: go into SMS */
#define KEYWORD_MAX 32		/* reply keyword, in characters */
#define REPLIES_MAX 32
#define MEANING_MAX 128
#define PATH_LEN 192

static const char *const kind_names[JOB_KIND_COUNT] = {
	[JOB_MESSAGE] = "message",
	[JOB_COURT_REMINDER] = "court_reminder",
	[JOB_ACTION_ALERT] = "action_alert",
	[JOB_TOWNHALL_CONFIRMATION] = "townhall_confirmation",
	[JOB_CANCEL] = "cancel",
	[JOB_CONTACT_UPSERT] = "contact_upsert",
	[JOB_CONTACT_DELETE] = "contact_delete",
};

const char *job_kind_name(enum job_kind kind)
{
	if ((int)kind < 0 || kind >= JOB_KIND_COUNT)
		return "unknown";
	return kind_names[kind];
}

int job_kind_from_name(const char *name)
{
	int i;

	if (name == NULL)
		return -1;
	for (i = 0; i < JOB_KIND_COUNT; i++)
		if (strcmp(name, kind_names[i]) == 0)
			return i;
	return -1;
}

/* ---- errors and paths ------------------------------------------------- */

struct parse {
	const struct job_limits *lim;
	struct err *err;
};

static int fail(struct err *err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "path: problem", public as it is: path is a schema path (keys of the
 * document never appear in it, see path_key) and every caller's format
 * and arguments are constant text and limits, never a value of the job. */
static int fail(struct err *err, const char *path, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_public(err, "%s: %s", path, msg);
}

/* A validator from validate.c left "problem" in err (msg with the value,
 * pub without); make both "path: problem". A validator that wrote no
 * public text (err_set) gets a generic one: nothing of msg is copied. */
static int fail_field(struct err *err, const char *path)
{
	char msg[ERR_MSG_MAX], pub[ERR_PUB_MAX];

	if (err == NULL)
		return -1;
	memcpy(msg, err->msg, sizeof(msg));
	msg[sizeof(msg) - 1] = '\0';
	snprintf(pub, sizeof(pub), "%s: %s", path, err->pub[0] ? err->pub : "invalid value");
	err_detail(err, pub, "%s: %s", path, msg);
	return -1;
}

/* Appends " (key "…")" to msg only: the document key a positional path
 * (`replies[3]`) stands for, for the dead letter's reader. */
static int note_key(struct err *err, const char *key)
{
	char q[QUOTE_MAX];
	size_t used;

	if (err == NULL)
		return -1;
	quote_value(q, sizeof(q), key);
	used = strlen(err->msg);
	snprintf(err->msg + used, sizeof(err->msg) - used, " (key %s)", q);
	return -1;
}

static int fail_oom(struct err *err)
{
	return err_public(err, "job: out of memory");
}

/* Appends src to out (PATH_LEN bytes), cutting what does not fit: a path
 * only names a field in a message, so a shortened one is still useful. */
static void path_append(char out[PATH_LEN], const char *src)
{
	size_t used = strlen(out), n = strlen(src);

	if (n > PATH_LEN - 1 - used)
		n = PATH_LEN - 1 - used;
	memcpy(out + used, src, n);
	out[used + n] = '\0';
}

/* "base.key", or "key" at the top level. key is always one of the
 * schema's names: a key that comes from the document (a language, a reply
 * keyword) is named by its position (path_index) instead. */
static const char *path_key(char out[PATH_LEN], const char *base, const char *key)
{
	char k[64];

	quote_escape(k, sizeof(k), key);
	out[0] = '\0';
	if (base != NULL && base[0] != '\0') {
		path_append(out, base);
		path_append(out, ".");
	}
	path_append(out, k);
	return out;
}

static const char *path_index(char out[PATH_LEN], const char *base, size_t i)
{
	char idx[32];

	snprintf(idx, sizeof(idx), "[%zu]", i);
	out[0] = '\0';
	path_append(out, base);
	path_append(out, idx);
	return out;
}

/* ---- generic field access --------------------------------------------- */

/* The member, or NULL when absent or null (null means absent). */
static json_t *member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

static int get_string(struct parse *ps, json_t *obj, const char *base,
		      const char *key, int required, const char **out)
{
	char path[PATH_LEN];
	json_t *v = member(obj, key);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return fail(ps->err, path_key(path, base, key), "missing");
		return 0;
	}
	if (!json_is_string(v))
		return fail(ps->err, path_key(path, base, key), "must be a string");
	*out = json_string_value(v);
	return 0;
}

static int get_object(struct parse *ps, json_t *obj, const char *base,
		      const char *key, int required, json_t **out)
{
	char path[PATH_LEN];
	json_t *v = member(obj, key);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return fail(ps->err, path_key(path, base, key), "missing");
		return 0;
	}
	if (!json_is_object(v))
		return fail(ps->err, path_key(path, base, key), "must be an object");
	*out = v;
	return 0;
}

/* Stores a normalised string back under key and returns the stored copy. */
static const char *set_string(struct parse *ps, json_t *obj, const char *key,
			      const char *value)
{
	json_t *s = json_string(value);

	if (s == NULL || json_object_set_new(obj, key, s) < 0) {
		fail_oom(ps->err);
		return NULL;
	}
	return json_string_value(json_object_get(obj, key));
}

/* ---- value rules ------------------------------------------------------ */

static int check_id(struct parse *ps, const char *path, const char *s)
{
	size_t len = strlen(s), i;

	if (len == 0)
		return fail(ps->err, path, "must not be empty");
	if (len > JOB_ID_MAX)
		return fail(ps->err, path, "longer than %d characters", JOB_ID_MAX);
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return fail(ps->err, path, "must be printable ASCII without spaces");
	return 0;
}

/* C0 controls, DEL, and C1 controls (U+0080..U+009F, UTF-8 C2 80..C2 9F):
 * jansson guarantees valid UTF-8, so only these need looking for. */
static int has_control(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 1;
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 1;
	}
	return 0;
}

/* The code point of an invisible formatting character at p, or 0.
 * Unicode UAX #9 2.1-2.6: the explicit embeddings and overrides U+202A..
 * U+202E and the isolates U+2066..U+2069 reorder the text after them (an
 * outbox SMS read "Court \u202eX" backwards), the marks U+200E/U+200F/
 * U+061C shift neutral characters; and the zero-width characters U+200B..
 * U+200D, U+2060 (word joiner), U+2061..U+2064 (invisible operators),
 * U+206A..U+206F (deprecated format controls) and U+FEFF (BOM, zero-width
 * no-break space) hide inside a name or a reference so that two values
 * that look the same differ. With body set, only the embeddings and
 * overrides count (check_text explains why). jansson guarantees valid
 * UTF-8, so a lead byte is followed by its continuation bytes. */
static unsigned invisible_at(const unsigned char *p, int body)
{
	unsigned cp;

	if (p[0] == 0xd8 && p[1] == 0x9c)
		cp = 0x061c;
	else if (p[0] == 0xe2 && (p[1] == 0x80 || p[1] == 0x81))
		cp = 0x2000 | ((unsigned)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
	else if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		cp = 0xfeff;
	else
		return 0;
	if (cp >= 0x202a && cp <= 0x202e)
		return cp;
	if (body)
		return 0;
	if (cp == 0x061c || cp == 0xfeff || (cp >= 0x200b && cp <= 0x200f) ||
	    (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x206f))
		return cp;
	return 0;
}

static int check_invisible(struct parse *ps, const char *path, const char *s, int body)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		unsigned cp = invisible_at(p, body);

		/* The code point names a class of character, not a value. */
		if (cp != 0)
			return fail(ps->err, path,
				    "must not contain invisible formatting characters (U+%04X)", cp);
	}
	return 0;
}

static int check_ref(struct parse *ps, const char *path, const char *s)
{
	size_t len = strlen(s);

	if (len == 0)
		return fail(ps->err, path, "must not be empty");
	if (len > REF_MAX)
		return fail(ps->err, path, "longer than %d bytes", REF_MAX);
	if (has_control(s))
		return fail(ps->err, path, "must not contain control characters");
	return check_invisible(ps, path, s, 0);
}

/* Text a person reads: non-empty (unless allowed), at most max bytes.
 * A body may hold the marks and zero-width characters that one-line
 * fields refuse: Arabic, Persian and Hebrew texts need U+200E/U+200F/
 * U+061C around numbers and Latin words, Persian and Indic scripts write
 * with U+200C, and emoji sequences join with U+200D. Only the embeddings
 * and overrides U+202A..U+202E are refused: UAX #9 (since Unicode 6.3)
 * tells writers to use the isolates instead, an override's only effect in
 * a message is to show characters in an order they were not sent in, and
 * an unclosed one reverses what a template puts after the body. */
static int check_text(struct parse *ps, const char *path, const char *s,
		      size_t max, int allow_empty)
{
	size_t len = strlen(s);

	if (len == 0 && !allow_empty)
		return fail(ps->err, path, "must not be empty");
	if (len > max)
		return fail(ps->err, path, "longer than %zu bytes", max);
	return check_invisible(ps, path, s, 1);
}

/* Line breaks and tabs in a one-line value (a name or an address from a
 * CRM's multi-line field) become single spaces, written back into the
 * document: "210 W Temple St\r\nLos Angeles" reads "210 W Temple St Los
 * Angeles" in a reminder. *s is updated. */
static int fold_line(struct parse *ps, json_t *obj, const char *key, const char **s)
{
	size_t len = strlen(*s), o = 0;
	char *buf;

	if (strpbrk(*s, "\r\n\t") == NULL)
		return 0;
	buf = malloc(len + 1);
	if (buf == NULL)
		return fail_oom(ps->err);
	for (const char *p = *s; *p; p++) {
		if (*p == '\r' || *p == '\n' || *p == '\t' || *p == ' ') {
			if (o > 0 && buf[o - 1] != ' ')
				buf[o++] = ' ';
			continue;
		}
		buf[o++] = *p;
	}
	while (o > 0 && buf[o - 1] == ' ')
		o--;
	buf[o] = '\0';
	*s = set_string(ps, obj, key, buf);
	free(buf);
	return *s ? 0 : -1;
}

/* A text that lands in one line of a message or in an email header (a
 * name, a court, a subject): no control characters, so a value can never
 * start a new header or break a template's layout. */
static int check_line(struct parse *ps, const char *path, const char *s,
		      size_t max, int allow_empty)
{
	if (check_text(ps, path, s, max, allow_empty) < 0)
		return -1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return fail(ps->err, path, "must be one line (control character 0x%02x)", *p);
	if (has_control(s))	/* the C1 controls, U+0085 (next line) among them */
		return fail(ps->err, path, "must be one line (control character U+0080..U+009F)");
	return check_invisible(ps, path, s, 0);
}

/* msg `path: what "value"`, pub `path: what` (without what's colon). */
static int fail_quoted(struct parse *ps, const char *path, const char *what,
		       const char *value)
{
	char q[QUOTE_MAX], pub[ERR_PUB_MAX];
	size_t n = strlen(what);

	if (n > 0 && what[n - 1] == ':')
		n--;
	quote_value(q, sizeof(q), value);
	snprintf(pub, sizeof(pub), "%s: %.*s", path, (int)n, what);
	return err_detail(ps->err, pub, "%s: %s %s", path, what, q);
}

/* ---- times and durations ---------------------------------------------- */

/* A time field. tz: the zone for a time without offset (NULL: none);
 * need_offset: the time must be absolute whatever tz says. */
static int get_time(struct parse *ps, json_t *obj, const char *base,
		    const char *key, int required, const char *tz,
		    int need_offset, int64_t *ms, int *present)
{
	char path[PATH_LEN];
	const char *s;

	*present = 0;
	if (get_string(ps, obj, base, key, required, &s) < 0)
		return -1;
	if (s == NULL)
		return 0;
	path_key(path, base, key);
	if (time_parse_iso8601(s, need_offset ? NULL : tz, ms, ps->err) < 0) {
		if (need_offset && ps->err != NULL &&
		    strcmp(ps->err->msg, "time has no offset and no time zone") == 0)
			return fail(ps->err, path, "must have an offset or Z");
		return fail_field(ps->err, path);
	}
	*present = 1;
	return 0;
}

static int get_durations(struct parse *ps, json_t *obj, const char *key,
			 struct duration *out, int *n_out)
{
	json_t *arr = member(obj, key), *v;
	char path[PATH_LEN];
	size_t i;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return fail(ps->err, key, "must be an array");
	if (json_array_size(arr) == 0)
		return fail(ps->err, key, "must not be empty");
	if (json_array_size(arr) > JOB_DURATIONS_MAX)
		return fail(ps->err, key, "more than %d entries", JOB_DURATIONS_MAX);
	json_array_foreach(arr, i, v) {
		struct duration d;

		path_index(path, key, i);
		if (!json_is_string(v))
			return fail(ps->err, path, "must be a string");
		if (duration_parse_iso8601(json_string_value(v), &d, ps->err) < 0)
			return fail_field(ps->err, path);
		if (out != NULL)
			out[i] = d;
	}
	if (n_out != NULL)
		*n_out = (int)json_array_size(arr);
	return 0;
}

/* ---- recipients ------------------------------------------------------- */

/* An address checked (and normalised) by check: phone_check_e164 for
 * phone, signal_address_check for signal (norm holds either's form). */
static int get_address(struct parse *ps, json_t *obj, const char *base, const char *key,
		       int (*check)(const char *in, char *out, struct err *err),
		       const char **out)
{
	char path[PATH_LEN], norm[SIGNAL_ADDRESS_MAX + PHONE_E164_MAX + 1];
	const char *s;

	if (get_string(ps, obj, base, key, 0, &s) < 0)
		return -1;
	*out = NULL;
	if (s == NULL)
		return 0;
	if (check(s, norm, ps->err) < 0)
		return fail_field(ps->err, path_key(path, base, key));
	if (strcmp(norm, s) == 0) {
		*out = s;
		return 0;
	}
	*out = set_string(ps, obj, key, norm);
	return *out == NULL ? -1 : 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Email addresses arrive from web forms and spreadsheets with stray spaces
 * around them; those are trimmed (job.h: "email trimmed"), nothing else. */
static int get_email(struct parse *ps, json_t *obj, const char *base,
		     const char **out)
{
	char path[PATH_LEN], buf[300];
	const char *s, *start;
	size_t len;

	if (get_string(ps, obj, base, "email", 0, &s) < 0)
		return -1;
	*out = NULL;
	if (s == NULL)
		return 0;
	path_key(path, base, "email");
	start = s;
	len = strlen(s);
	while (len > 0 && is_space(*start)) {
		start++;
		len--;
	}
	while (len > 0 && is_space(start[len - 1]))
		len--;
	if (len >= sizeof(buf))	/* far over the 254 bytes email_check allows */
		return fail_quoted(ps, path, "not an email address:", s);
	memcpy(buf, start, len);
	buf[len] = '\0';
	if (email_check(buf, ps->err) < 0)
		return fail_field(ps->err, path);
	if (strcmp(buf, s) == 0) {
		*out = s;
		return 0;
	}
	*out = set_string(ps, obj, "email", buf);
	return *out == NULL ? -1 : 0;
}

const char *recipient_address(const struct recipient *r, enum channel ch)
{
	const char *field = channel_info(ch)->field;

	/* The recipient's address fields are the contract's (section 2);
	 * which one a channel uses is its row in channel.c. */
	if (strcmp(field, "phone") == 0)
		return r->phone;
	if (strcmp(field, "email") == 0)
		return r->email;
	if (strcmp(field, "signal") == 0)
		return r->signal;
	return NULL;
}

static int has_address(const struct recipient *r, int ch)
{
	return recipient_address(r, (enum channel)ch) != NULL;
}

static int get_channels(struct parse *ps, json_t *obj, const char *base,
			struct recipient *r)
{
	char path[PATH_LEN], ipath[PATH_LEN];
	json_t *arr = member(obj, "channels"), *v;
	int seen[CHANNEL_COUNT] = { 0 };
	size_t i;

	r->n_channels = 0;
	if (arr == NULL) {
		/* Default preference: SMS reaches every phone, then email,
		 * then Signal (CONTRACT.md section 2, job.h). */
		for (i = 0; i < CHANNEL_COUNT; i++)
			if (has_address(r, (int)i))
				r->channels[r->n_channels++] = (enum channel)i;
		return 0;
	}
	path_key(path, base, "channels");
	if (!json_is_array(arr))
		return fail(ps->err, path, "must be an array");
	if (json_array_size(arr) == 0)
		return fail(ps->err, path, "must not be empty");
	json_array_foreach(arr, i, v) {
		int ch;

		path_index(ipath, path, i);
		if (!json_is_string(v))
			return fail(ps->err, ipath, "must be a string");
		ch = channel_from_name(json_string_value(v));
		if (ch < 0)
			return fail_quoted(ps, ipath, "unknown channel", json_string_value(v));
		if (seen[ch])
			return fail_quoted(ps, ipath, "duplicate channel", json_string_value(v));
		seen[ch] = 1;
		/* A listed channel without an address is a preference for
		 * a channel this contact may get later: kept out, not fatal. */
		if (has_address(r, ch))
			r->channels[r->n_channels++] = (enum channel)ch;
	}
	if (r->n_channels == 0)
		return fail(ps->err, path, "no listed channel has an address");
	return 0;
}

static int parse_recipient(struct parse *ps, json_t *obj, const char *path,
			   struct recipient *r)
{
	char fpath[PATH_LEN], lang[16];

	memset(r, 0, sizeof(*r));
	if (!json_is_object(obj))
		return fail(ps->err, path, "must be an object");
	if (get_string(ps, obj, path, "id", 1, &r->id) < 0 ||
	    check_id(ps, path_key(fpath, path, "id"), r->id) < 0)
		return -1;
	if (get_string(ps, obj, path, "name", 0, &r->name) < 0)
		return -1;
	if (r->name != NULL && (fold_line(ps, obj, "name", &r->name) < 0 ||
	    check_line(ps, path_key(fpath, path, "name"), r->name, SHORT_TEXT_MAX, 1) < 0))
		return -1;
	if (get_string(ps, obj, path, "lang", 0, &r->lang) < 0)
		return -1;
	if (r->lang != NULL) {
		if (lang_tag_normalise(r->lang, lang) < 0)
			return fail_quoted(ps, path_key(fpath, path, "lang"),
					   "not a language tag:", r->lang);
		if (strcmp(lang, r->lang) != 0 &&
		    (r->lang = set_string(ps, obj, "lang", lang)) == NULL)
			return -1;
	}
	if (get_string(ps, obj, path, "tz", 0, &r->tz) < 0)
		return -1;
	if (r->tz != NULL && tz_check(r->tz, ps->err) < 0)
		return fail_field(ps->err, path_key(fpath, path, "tz"));
	if (get_address(ps, obj, path, "phone", phone_check_e164, &r->phone) < 0 ||
	    get_email(ps, obj, path, &r->email) < 0 ||
	    get_address(ps, obj, path, "signal", signal_address_check, &r->signal) < 0)
		return -1;
	if (r->phone == NULL && r->email == NULL && r->signal == NULL)
		return fail(ps->err, path, "needs at least one address (phone, email or signal)");
	return get_channels(ps, obj, path, r);
}

int recipient_parse(json_t *obj, const char *path, struct recipient *r, struct err *err)
{
	struct parse ps = { &job_limits_default, err };

	return parse_recipient(&ps, obj, path != NULL ? path : "", r);
}

static int get_recipient(struct parse *ps, json_t *doc, const char *key,
			 struct recipient *r)
{
	json_t *v = member(doc, key);

	if (v == NULL)
		return fail(ps->err, key, "missing");
	return parse_recipient(ps, v, key, r);
}

/* ---- kinds ------------------------------------------------------------ */

static int parse_message(struct parse *ps, struct job *job)
{
	json_t *doc = job->doc;
	int present;

	if (get_recipient(ps, doc, "recipient", &job->recipient) < 0)
		return -1;
	if (get_string(ps, doc, NULL, "body", 1, &job->body) < 0 ||
	    check_text(ps, "body", job->body, ps->lim->max_text, 0) < 0)
		return -1;
	if (get_string(ps, doc, NULL, "subject", 0, &job->subject) < 0)
		return -1;
	if (job->subject != NULL &&
	    check_line(ps, "subject", job->subject, ps->lim->max_text, 0) < 0)
		return -1;
	return get_time(ps, doc, NULL, "send_at", 0, job->recipient.tz, 0,
			&job->send_at_ms, &present);
}

static int parse_court_reminder(struct parse *ps, struct job *job)
{
	/* The court is required: a reminder must say where to go. */
	static const char *const places[] = { "court", "address", "department" };
	const char **fields[] = { &job->court, &job->address, &job->department };
	json_t *doc = job->doc, *c;
	char path[PATH_LEN];
	size_t i;
	int present;

	if (get_object(ps, doc, NULL, "case", 1, &c) < 0)
		return -1;
	if (get_string(ps, c, "case", "ref", 1, &job->case_ref) < 0 ||
	    check_ref(ps, "case.ref", job->case_ref) < 0)
		return -1;
	for (i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		const char *s;

		if (get_string(ps, c, "case", places[i], i == 0, &s) < 0)
			return -1;
		if (s != NULL && (fold_line(ps, c, places[i], &s) < 0 ||
				  check_line(ps, path_key(path, "case", places[i]), s,
					     SHORT_TEXT_MAX, i != 0) < 0))
			return -1;
		*fields[i] = (s != NULL && s[0] != '\0') ? s : NULL;
	}
	if (get_string(ps, c, "case", "tz", 1, &job->case_tz) < 0)
		return -1;
	if (tz_check(job->case_tz, ps->err) < 0)
		return fail_field(ps->err, "case.tz");
	if (get_time(ps, doc, NULL, "appearance", 1, job->case_tz, 0, &job->appearance_ms,
		     &present) < 0)
		return -1;
	if (get_recipient(ps, doc, "recipient", &job->recipient) < 0)
		return -1;
	return get_durations(ps, doc, "offsets", job->offsets, &job->n_offsets);
}

/* "message" and "subject" of an alert: a text, or texts by language. The
 * language keys are rewritten in canonical case ("ES" -> "es") so they
 * match recipient.lang, which is normalised the same way. */
static int get_texts(struct parse *ps, json_t *doc, const char *key, int required)
{
	json_t *v = member(doc, key), *norm, *text;
	const char *lang;
	char path[PATH_LEN], canon[16];
	size_t i = 0;

	if (v == NULL)
		return required ? fail(ps->err, key, "missing") : 0;
	/* A subject becomes an email header: one line. */
	int (*check)(struct parse *, const char *, const char *, size_t, int) =
		strcmp(key, "subject") == 0 ? check_line : check_text;

	if (json_is_string(v))
		return check(ps, key, json_string_value(v), ps->lim->max_text, 0);
	if (!json_is_object(v))
		return fail(ps->err, key, "must be a text or an object of texts by language");
	if (json_object_size(v) == 0)
		return fail(ps->err, key, "must not be empty");
	norm = json_object();
	if (norm == NULL)
		return fail_oom(ps->err);
	/* The language is named by its position: jansson keeps keys in
	 * document order, so message[1] is the second one the producer wrote. */
	json_object_foreach(v, lang, text) {
		path_index(path, key, i++);
		if (lang_tag_normalise(lang, canon) < 0) {
			json_decref(norm);
			return fail_quoted(ps, path, "not a language tag:", lang);
		}
		if (json_object_get(norm, canon) != NULL) {
			json_decref(norm);
			fail(ps->err, path, "language given twice");
			return note_key(ps->err, lang);
		}
		if (!json_is_string(text)) {
			json_decref(norm);
			fail(ps->err, path, "must be a string");
			return note_key(ps->err, lang);
		}
		if (check(ps, path, json_string_value(text), ps->lim->max_text, 0) < 0) {
			json_decref(norm);
			return note_key(ps->err, lang);
		}
		if (json_object_set(norm, canon, text) < 0) {
			json_decref(norm);
			return fail_oom(ps->err);
		}
	}
	if (json_object_set_new(doc, key, norm) < 0)
		return fail_oom(ps->err);
	return 0;
}

/* Inbound consent words (CONTRACT.md section 2) win over reply keywords;
 * a keyword equal to one could never be answered and would opt people out. */
static int is_consent_word(const char *s)
{
	static const char *const words[] = {
		"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",
		"REVOKE", "OPTOUT", "ALTO", "PARAR", "BASTA", "START",
		"UNSTOP", "YES", "HELP",
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return 1;
	return 0;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int get_replies(struct parse *ps, json_t *doc)
{
	json_t *obj, *meaning;
	const char *kw, *other;
	char path[PATH_LEN];
	size_t n, i = 0, j;

	if (get_object(ps, doc, NULL, "replies", 0, &obj) < 0)
		return -1;
	if (obj == NULL)
		return 0;
	if (json_object_size(obj) > REPLIES_MAX)
		return fail(ps->err, "replies", "more than %d keywords", REPLIES_MAX);
	/* A keyword is named by its position (replies[3]): a producer may
	 * write anything as a key, a name or a number among them. */
	json_object_foreach(obj, kw, meaning) {
		path_index(path, "replies", i++);
		n = utf8_chars(kw);
		if (n < 1 || n > KEYWORD_MAX)
			return fail_quoted(ps, path, "keyword must be 1 to 32 characters:", kw);
		/* Inbound text is matched as a whole word: a keyword with
		 * spaces at its ends or control characters would never match. */
		if (has_control(kw) || is_space(kw[0]) || is_space(kw[strlen(kw) - 1]))
			return fail_quoted(ps, path, "keyword has spaces or control characters:", kw);
		if (check_invisible(ps, path, kw, 0) < 0)
			return note_key(ps->err, kw);
		if (is_consent_word(kw))
			return fail_quoted(ps, path, "keyword is reserved for opt-out and help:", kw);
		if (!json_is_string(meaning)) {
			fail(ps->err, path, "must be a string");
			return note_key(ps->err, kw);
		}
		if (check_line(ps, path, json_string_value(meaning), MEANING_MAX, 0) < 0)
			return note_key(ps->err, kw);
	}
	/* Replies are matched without regard to case ("Si" and "si" are the
	 * same answer), so two keywords may not differ only in case. */
	i = 0;
	json_object_foreach(obj, kw, meaning) {
		void *it = json_object_iter_next(obj, json_object_key_to_iter(kw));

		for (j = i + 1; it != NULL; it = json_object_iter_next(obj, it), j++) {
			other = json_object_iter_key(it);
			if (strcasecmp(kw, other) == 0) {
				path_index(path, "replies", j);
				return fail_quoted(ps, path, "keyword given twice (case does not count):",
						   other);
			}
		}
		i++;
	}
	return 0;
}

static int get_audience(struct parse *ps, json_t *doc)
{
	json_t *aud, *list, *rcps, *r, *ids;
	char path[PATH_LEN], ipath[PATH_LEN];
	struct recipient tmp;
	size_t i;

	if (get_object(ps, doc, NULL, "audience", 1, &aud) < 0)
		return -1;
	list = member(aud, "list");
	rcps = member(aud, "recipients");
	if (list != NULL && rcps != NULL)
		return fail(ps->err, "audience", "give either list or recipients, not both");
	if (list == NULL && rcps == NULL)
		return fail(ps->err, "audience", "needs list or recipients");
	if (list != NULL) {
		if (!json_is_string(list))
			return fail(ps->err, "audience.list", "must be a string");
		return check_ref(ps, "audience.list", json_string_value(list));
	}
	if (!json_is_array(rcps))
		return fail(ps->err, "audience.recipients", "must be an array");
	if (json_array_size(rcps) == 0)
		return fail(ps->err, "audience.recipients", "must not be empty");
	if (json_array_size(rcps) > ps->lim->max_recipients)
		return fail(ps->err, "audience.recipients", "more than %zu recipients",
			    ps->lim->max_recipients);
	/* One message per person: the same contact twice in one alert is a
	 * producer's mistake that would text someone twice. */
	ids = json_object();
	if (ids == NULL)
		return fail_oom(ps->err);
	json_array_foreach(rcps, i, r) {
		path_index(path, "audience.recipients", i);
		if (parse_recipient(ps, r, path, &tmp) < 0)
			goto out;
		if (json_object_get(ids, tmp.id) != NULL) {
			fail_quoted(ps, path_key(ipath, path, "id"), "duplicate id", tmp.id);
			goto out;
		}
		if (json_object_set_new(ids, tmp.id, json_true()) < 0) {
			fail_oom(ps->err);
			goto out;
		}
	}
	json_decref(ids);
	return 0;
out:
	json_decref(ids);
	return -1;
}

static int parse_action_alert(struct parse *ps, struct job *job)
{
	json_t *doc = job->doc, *urgent = member(doc, "urgent");
	int64_t expires;
	int present;

	if (urgent != NULL && !json_is_boolean(urgent))
		return fail(ps->err, "urgent", "must be true or false");
	if (get_audience(ps, doc) < 0 ||
	    get_texts(ps, doc, "message", 1) < 0 ||
	    get_texts(ps, doc, "subject", 0) < 0)
		return -1;
	if (get_time(ps, doc, NULL, "expires_at", 0, NULL, 1, &expires, &present) < 0)
		return -1;
	job->urgent = json_is_true(urgent);
	/* 0 means "never expires" in every record downstream, and the epoch
	 * itself (1970-01-01T00:00:00Z) parses to 0: any valid expires_at,
	 * however old, must mean expired, so the epoch is kept as 1 ms after
	 * it, just as far in the past. */
	job->expires_ms = present ? (expires > 0 ? expires : 1) : 0;
	return get_replies(ps, doc);
}

static int parse_townhall(struct parse *ps, struct job *job)
{
	json_t *doc = job->doc, *ev;
	const char *s, *tz;
	int64_t starts, ends;
	int present;

	if (get_object(ps, doc, NULL, "event", 1, &ev) < 0)
		return -1;
	if (get_string(ps, ev, "event", "ref", 1, &job->event_ref) < 0 ||
	    check_ref(ps, "event.ref", job->event_ref) < 0)
		return -1;
	if (get_string(ps, ev, "event", "title", 1, &s) < 0 || fold_line(ps, ev, "title", &s) < 0 ||
	    check_line(ps, "event.title", s, SHORT_TEXT_MAX, 0) < 0)
		return -1;
	job->title = s;
	/* The zone first: starts_at and ends_at are read in it. */
	if (get_string(ps, ev, "event", "tz", 1, &tz) < 0)
		return -1;
	if (tz_check(tz, ps->err) < 0)
		return fail_field(ps->err, "event.tz");
	job->event_tz = tz;
	if (get_time(ps, ev, "event", "starts_at", 1, tz, 0, &starts, &present) < 0 ||
	    get_time(ps, ev, "event", "ends_at", 0, tz, 0, &ends, &present) < 0)
		return -1;
	if (present && ends <= starts)
		return fail(ps->err, "event.ends_at", "must be after event.starts_at");
	job->starts_ms = starts;
	job->ends_ms = present ? ends : 0;
	if (get_string(ps, ev, "event", "location", 0, &s) < 0)
		return -1;
	if (s != NULL && (fold_line(ps, ev, "location", &s) < 0 ||
			  check_line(ps, "event.location", s, SHORT_TEXT_MAX, 1) < 0))
		return -1;
	job->location = (s != NULL && s[0] != '\0') ? s : NULL;
	if (get_string(ps, ev, "event", "join_url", 0, &s) < 0)
		return -1;
	/* It goes into emails and calendar invitations as a link. */
	if (s != NULL && ((strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) ||
			  strlen(s) > 2048 || has_control(s) || strchr(s, ' ') != NULL))
		return fail(ps->err, "event.join_url", "must be an http or https URL");
	if (s != NULL && check_invisible(ps, "event.join_url", s, 0) < 0)
		return -1;	/* a link that reads other than it goes */
	job->join_url = s;
	if (get_recipient(ps, doc, "recipient", &job->recipient) < 0)
		return -1;
	return get_durations(ps, doc, "reminders", job->offsets, &job->n_offsets);
}

/* Contract 1.1: exactly one of case_ref (a court case's reminders),
 * event_ref (a town hall) or job_id (a job running or waiting). Two would
 * leave the producer guessing which one was cancelled. */
static int parse_cancel(struct parse *ps, struct job *job)
{
	json_t *doc = job->doc;
	int given = (member(doc, "case_ref") != NULL) + (member(doc, "event_ref") != NULL) +
		    (member(doc, "job_id") != NULL);

	if (given == 0)
		return fail(ps->err, "case_ref", "missing (a cancel names case_ref, event_ref or job_id)");
	if (given > 1)
		return fail(ps->err, member(doc, "job_id") != NULL ? "job_id" : "event_ref",
			    "give only one of case_ref, event_ref and job_id");
	if (get_string(ps, doc, NULL, "case_ref", 0, &job->case_ref) < 0 ||
	    get_string(ps, doc, NULL, "event_ref", 0, &job->event_ref) < 0 ||
	    get_string(ps, doc, NULL, "job_id", 0, &job->stop_job) < 0)
		return -1;
	if (job->case_ref != NULL)
		return check_ref(ps, "case_ref", job->case_ref);
	if (job->event_ref != NULL)
		return check_ref(ps, "event_ref", job->event_ref);
	if (check_id(ps, "job_id", job->stop_job) < 0)
		return -1;
	if (strcmp(job->stop_job, job->id) == 0)
		return fail(ps->err, "job_id", "names this cancel job itself");
	return 0;
}

static int parse_contact_upsert(struct parse *ps, struct job *job)
{
	json_t *lists, *v;
	char path[PATH_LEN];
	size_t i;

	if (get_recipient(ps, job->doc, "contact", &job->recipient) < 0)
		return -1;
	lists = member(job->doc, "lists");
	if (lists == NULL)
		return 0;
	if (!json_is_array(lists))
		return fail(ps->err, "lists", "must be an array");
	json_array_foreach(lists, i, v) {
		path_index(path, "lists", i);
		if (!json_is_string(v))
			return fail(ps->err, path, "must be a string");
		if (check_ref(ps, path, json_string_value(v)) < 0)
			return -1;
	}
	return 0;
}

static int parse_contact_delete(struct parse *ps, struct job *job)
{
	const char *s;

	if (get_string(ps, job->doc, NULL, "contact_id", 1, &s) < 0)
		return -1;
	return check_id(ps, "contact_id", s);
}

/* ---- unknown fields ---------------------------------------------------- */

/* The fields each object of a job may have (CONTRACT.md section 2, 1.1). */
static const char *const known_recipient[] = { "id", "name", "phone", "email", "signal", "lang",
					       "tz", "channels", NULL };
static const char *const known_case[] = { "ref", "court", "address", "department", "tz", NULL };
static const char *const known_event[] = { "ref", "title", "starts_at", "ends_at", "tz",
					   "location", "join_url", NULL };
static const char *const known_audience[] = { "list", "recipients", NULL };
static const char *const *const known_top[JOB_KIND_COUNT] = {
	[JOB_MESSAGE] = (const char *const[]){ "id", "kind", "recipient", "body", "subject",
					       "send_at", NULL },
	[JOB_COURT_REMINDER] = (const char *const[]){ "id", "kind", "case", "appearance",
						      "recipient", "offsets", NULL },
	[JOB_ACTION_ALERT] = (const char *const[]){ "id", "kind", "urgent", "audience", "message",
						    "subject", "expires_at", "replies", NULL },
	[JOB_TOWNHALL_CONFIRMATION] = (const char *const[]){ "id", "kind", "event", "recipient",
							     "reminders", NULL },
	[JOB_CANCEL] = (const char *const[]){ "id", "kind", "case_ref", "event_ref", "job_id", NULL },
	[JOB_CONTACT_UPSERT] = (const char *const[]){ "id", "kind", "contact", "lists", NULL },
	[JOB_CONTACT_DELETE] = (const char *const[]){ "id", "kind", "contact_id", NULL },
};

/* a and b alike: the same letters but for case and '_' or '-' ("sendAt",
 * "send-at" for "send_at"), or at most two edits apart (Levenshtein:
 * "urgnet" for "urgent" is two substitutions). Names here are short:
 * both are cut at 32 characters. */
static bool looks_like(const char *a, const char *b)
{
	char x[33], y[33];
	size_t n = 0, m = 0;
	int d[33][33];

	for (; *a && n < 32; a++)
		if (*a != '_' && *a != '-')
			x[n++] = (char)tolower((unsigned char)*a);
	for (; *b && m < 32; b++)
		if (*b != '_' && *b != '-')
			y[m++] = (char)tolower((unsigned char)*b);
	x[n] = y[m] = '\0';
	if (strcmp(x, y) == 0)
		return true;
	if (n < 3 || m < 3)
		return false;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			int best = d[i - 1][j - 1] + (x[i - 1] != y[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			d[i][j] = best;
		}
	return d[n][m] <= 2;
}

/* Names one unknown field of obj (at path base): printable ASCII, as
 * much of it as fits, and the known field it looks like. */
static void note_unknown(struct job *job, const char *base, const char *key,
			 const char *const *known)
{
	char name[JOB_UNKNOWN_LEN / 2];
	size_t n = 0;
	const char *like = NULL;

	if (job->n_unknown >= JOB_UNKNOWN_MAX) {
		job->n_unknown_more++;
		return;
	}
	for (const char *p = key; *p && n + 1 < sizeof(name); p++)
		name[n++] = (*p >= 0x21 && *p <= 0x7e) ? *p : '?';
	name[n] = '\0';
	for (size_t i = 0; known[i] != NULL && like == NULL; i++)
		if (looks_like(key, known[i]))
			like = known[i];
	snprintf(job->unknown[job->n_unknown++], JOB_UNKNOWN_LEN, "%s%s%s%s%s%s",
		 base, base[0] ? "." : "", name, like ? " (did you mean " : "", like ? like : "",
		 like ? "?)" : "");
}

static void find_unknown(struct job *job, json_t *obj, const char *base, const char *const *known)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return;
	json_object_foreach(obj, key, v) {
		size_t i = 0;

		while (known[i] != NULL && strcmp(known[i], key) != 0)
			i++;
		if (known[i] == NULL)
			note_unknown(job, base, key, known);
	}
}

/* Every object of a valid job whose fields the contract names: the top,
 * its recipient, case or event, its audience and the audience's people. */
static void collect_unknown(struct job *job)
{
	json_t *doc = job->doc, *rcps = json_object_get(json_object_get(doc, "audience"),
						       "recipients"), *r;
	char path[PATH_LEN];
	size_t i;

	find_unknown(job, doc, "", known_top[job->kind]);
	find_unknown(job, json_object_get(doc, "recipient"), "recipient", known_recipient);
	find_unknown(job, json_object_get(doc, "contact"), "contact", known_recipient);
	find_unknown(job, json_object_get(doc, "case"), "case", known_case);
	find_unknown(job, json_object_get(doc, "event"), "event", known_event);
	find_unknown(job, json_object_get(doc, "audience"), "audience", known_audience);
	json_array_foreach(rcps, i, r) {
		path_index(path, "audience.recipients", i);
		find_unknown(job, r, path, known_recipient);
	}
}

void job_unknown_text(const struct job *job, char *out, size_t out_len)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < job->n_unknown && n < out_len; i++)
		n += (size_t)snprintf(out + n, out_len - n, "%s%s", i ? ", " : "", job->unknown[i]);
	if (job->n_unknown_more > 0 && n < out_len)
		snprintf(out + n, out_len - n, " and %d more", job->n_unknown_more);
}

/* ---- the document ----------------------------------------------------- */

/* jansson 2.14's error codes (jansson.h enum json_error_code), in words
 * of our own: its err.text quotes the input. */
static const char *json_problem(enum json_error_code code)
{
	switch (code) {
	case json_error_out_of_memory: return "out of memory";
	case json_error_stack_overflow: return "nested too deep";
	case json_error_cannot_open_file: return "cannot be read";
	case json_error_invalid_argument: return "invalid argument";
	case json_error_invalid_utf8: return "invalid UTF-8";
	case json_error_premature_end_of_input: return "ends too early";
	case json_error_end_of_input_expected: return "text after the end of the document";
	case json_error_invalid_syntax: return "invalid syntax";
	case json_error_invalid_format: return "invalid format";
	case json_error_wrong_type: return "wrong type";
	case json_error_null_character: return "\\u0000 in a string";
	case json_error_null_value: return "null value";
	case json_error_null_byte_in_key: return "\\u0000 in a key";
	case json_error_duplicate_key: return "duplicate key";
	case json_error_numeric_overflow: return "number too large";
	case json_error_item_not_found: return "item not found";
	case json_error_index_out_of_range: return "index out of range";
	default: return "invalid";
	}
}

/* Containers only count: {"a":{"b":1}} is 2 deep. jansson already stops at
 * 2048, which bounds this recursion. */
static int depth_ok(json_t *v, int depth, int max)
{
	const char *key;
	json_t *child;
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return 1;
	if (depth > max)
		return 0;
	if (json_is_object(v)) {
		json_object_foreach(v, key, child)
			if (!depth_ok(child, depth + 1, max))
				return 0;
	} else {
		json_array_foreach(v, i, child)
			if (!depth_ok(child, depth + 1, max))
				return 0;
	}
	return 1;
}

int job_parse(const char *buf, size_t len, const struct job_limits *limits,
	      struct job *job, struct err *err)
{
	struct parse ps = { limits != NULL ? limits : &job_limits_default, err };
	json_error_t jerr;
	const char *id, *kind;
	char text[QUOTE_MAX];
	int k, rc;

	memset(job, 0, sizeof(*job));
	if (len > ps.lim->max_bytes)
		return err_public(err, "job: larger than %zu bytes", ps.lim->max_bytes);
	if (buf == NULL)
		return err_public(err, "job: not valid JSON: no input");
	job->doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (job->doc == NULL) {
		char pub[ERR_PUB_MAX];

		/* jansson echoes up to 20 bytes of the input near the error
		 * (a phone number, an email): escaped, it stays in the dead
		 * letter; the public text names the problem by jansson's code
		 * and the place by line, column and byte. */
		snprintf(pub, sizeof(pub), "job: not valid JSON: %s at line %d column %d (byte %d)",
			 json_problem(json_error_code(&jerr)), jerr.line, jerr.column, jerr.position);
		quote_escape(text, sizeof(text), jerr.text);
		return err_detail(err, pub, "job: not valid JSON: %s at line %d column %d",
				  text, jerr.line, jerr.column);
	}
	if (!json_is_object(job->doc))
		return err_public(err, "job: must be a JSON object");
	if (!depth_ok(job->doc, 1, ps.lim->max_depth))
		return err_public(err, "job: nested deeper than %d levels", ps.lim->max_depth);

	if (get_string(&ps, job->doc, NULL, "id", 1, &id) < 0 ||
	    check_id(&ps, "id", id) < 0)
		return -1;
	job->id = id;
	if (get_string(&ps, job->doc, NULL, "kind", 1, &kind) < 0)
		return -1;
	k = job_kind_from_name(kind);
	if (k < 0)
		return fail_quoted(&ps, "kind", "unknown kind", kind);
	job->kind = (enum job_kind)k;

	switch (job->kind) {
	case JOB_MESSAGE: rc = parse_message(&ps, job); break;
	case JOB_COURT_REMINDER: rc = parse_court_reminder(&ps, job); break;
	case JOB_ACTION_ALERT: rc = parse_action_alert(&ps, job); break;
	case JOB_TOWNHALL_CONFIRMATION: rc = parse_townhall(&ps, job); break;
	case JOB_CANCEL: rc = parse_cancel(&ps, job); break;
	case JOB_CONTACT_UPSERT: rc = parse_contact_upsert(&ps, job); break;
	case JOB_CONTACT_DELETE: rc = parse_contact_delete(&ps, job); break;
	default: return err_public(err, "kind: unknown kind");
	}
	if (rc == 0)
		collect_unknown(job);
	return rc;
}

void job_free(struct job *job)
{
	if (job == NULL)
		return;
	json_decref(job->doc);
	memset(job, 0, sizeof(*job));
}
