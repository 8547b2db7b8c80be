/* templates.c: the template files as a set (see templates.h). */
#include "templates.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datefmt.h"
#include "log.h"
#include "sms_segments.h"
#include "utf8.h"

/* "sender" first in every list: templates_render supplies it. */
static const char *const court_vars[] = {
	"sender", "name", "court", "address", "department", "date", "time", "today", "tomorrow",
	NULL
};
static const char *const enrol_vars[] = {
	"sender", "name", "court", "address", "department", "date", "time", "changed", NULL
};
/* A town hall's notices (townhall.h): join_url is the link to open, a
 * tracked pregon link or the event's own; end_time is empty without ends_at. */
static const char *const townhall_vars[] = {
	"sender", "name", "title", "date", "time", "end_time", "location", "join_url", "today",
	"tomorrow", NULL
};
static const char *const consent_vars[] = { "sender", NULL };
/* help_text: [<channel>] help_text, so that a language's answer can quote
 * what the operator wrote there (a phone number, office hours). */
static const char *const help_vars[] = { "sender", "help_text", NULL };

const struct template_name template_names[] = {
	{ "court_reminder", court_vars, true },
	{ "court_enrolment", enrol_vars, true },
	{ "consent_stop", consent_vars, false },
	{ "consent_start", consent_vars, false },
	{ "consent_help", help_vars, false },
	/* Optional, so that a template folder from before issue 14 still
	 * loads; a town hall job is refused at intake where they are missing
	 * (templates_has). */
	{ "townhall_confirmation", townhall_vars, false },
	{ "townhall_reminder", townhall_vars, false },
	{ "townhall_change", townhall_vars, false },
	{ "townhall_cancel", townhall_vars, false },
};
const size_t template_names_count = sizeof(template_names) / sizeof(template_names[0]);

static const char *const ext_names[TEMPLATE_EXT_COUNT] = {
	[TEMPLATE_EXT_SMS] = "sms",
	[TEMPLATE_EXT_SIGNAL] = "signal",
	[TEMPLATE_EXT_EMAIL] = "email",
	[TEMPLATE_EXT_EMAIL_HTML] = "email.html",
};

struct tfile {
	const struct template_name *name;
	char lang[LANG_TAG_MAX];
	enum template_ext ext;
	struct template *subject;	/* .email only */
	struct template *body;
};

struct templates {
	char default_lang[LANG_TAG_MAX];
	char sender[TEMPLATES_SENDER_MAX + 1];	/* [templates] sender, "" when not set */
	struct tfile *files;
	size_t n;
};

int template_ext_from_name(const char *ext)
{
	for (int i = 0; i < TEMPLATE_EXT_COUNT; i++)
		if (strcmp(ext, ext_names[i]) == 0)
			return i;
	return -1;
}

static const struct template_name *name_lookup(const char *name)
{
	for (size_t i = 0; i < template_names_count; i++)
		if (strcmp(template_names[i].name, name) == 0)
			return &template_names[i];
	return NULL;
}

const char *const *templates_vars_of(const char *name)
{
	const struct template_name *n = name_lookup(name);

	return n ? n->vars : NULL;
}

/* Reads a whole small file; *len excludes the NUL added. */
static int read_file(const char *path, char **out, size_t *len, struct err *err)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	*out = NULL;
	if (f == NULL)
		return err_set(err, "%s", errno == ENOENT ? "not found" : strerror(errno));
	buf = malloc(TEMPLATE_MAX_TEXT + 2);
	if (buf == NULL) {
		fclose(f);
		return err_set(err, "out of memory");
	}
	n = fread(buf, 1, TEMPLATE_MAX_TEXT + 1, f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return err_set(err, "cannot read: %s", strerror(errno));
	}
	fclose(f);
	if (n > TEMPLATE_MAX_TEXT) {
		free(buf);
		return err_set(err, "longer than %u bytes", TEMPLATE_MAX_TEXT);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* template_compile's "line L, column C: ..." for a body that starts on
 * line `first` of its file. */
static void shift_lines(struct err *err, int first)
{
	int line, col, used = 0;
	char rest[ERR_MSG_MAX];

	if (first <= 1 || sscanf(err->msg, "line %d, column %d: %n", &line, &col, &used) != 2 ||
	    used == 0)
		return;
	snprintf(rest, sizeof(rest), "%s", err->msg + used);
	err_set(err, "line %d, column %d: %s", line + first - 1, col, rest);
}

/* An email file: "Subject: <template>" on line 1, an empty line, then the
 * body. Compiles both parts. */
static int compile_email(const char *text, size_t len, const char *const *vars,
			 struct template **subject, struct template **body, struct err *err)
{
	static const char hdr[] = "Subject:";
	const char *eol = memchr(text, '\n', len), *s, *b;
	size_t slen, skip;

	if (len < sizeof(hdr) - 1 || strncasecmp(text, hdr, sizeof(hdr) - 1) != 0)
		return err_set(err, "line 1: an email template starts with \"Subject: ...\"");
	if (eol == NULL)
		return err_set(err, "line 2: an empty line must follow the subject");
	s = text + sizeof(hdr) - 1;
	while (s < eol && (*s == ' ' || *s == '\t'))
		s++;
	slen = (size_t)(eol - s);
	if (slen > 0 && s[slen - 1] == '\r')
		slen--;
	if (slen == 0)
		return err_set(err, "line 1: the subject is empty");
	b = eol + 1;
	skip = (b < text + len && *b == '\r') ? 1 : 0;
	if (b + skip >= text + len || b[skip] != '\n')
		return err_set(err, "line 2: an empty line must follow the subject");
	b += skip + 1;
	if (template_compile(s, slen, vars, subject, err) != 0) {
		/* Columns in the subject count from its own start; say so. */
		return err_wrap(err, "subject: ");
	}
	if (template_compile(b, (size_t)(text + len - b), vars, body, err) != 0) {
		shift_lines(err, 3);
		template_free(*subject);
		*subject = NULL;
		return -1;
	}
	return 0;
}

static int compile_text(const struct template_name *name, enum template_ext ext,
			const char *text, size_t len, struct template **subject,
			struct template **body, struct err *err)
{
	*subject = NULL;
	*body = NULL;
	if (ext == TEMPLATE_EXT_EMAIL)
		return compile_email(text, len, name->vars, subject, body, err);
	return template_compile(text, len, name->vars, body, err);
}

int templates_compile_text(const char *name, const char *ext, const char *text, size_t len,
			   struct template **subject, struct template **body, struct err *err)
{
	const struct template_name *tn = name_lookup(name);
	int e = template_ext_from_name(ext);

	*subject = NULL;
	*body = NULL;
	if (tn == NULL || e < 0)
		return err_set(err, "unknown template \"%s\" or channel \"%s\"", name, ext);
	return compile_text(tn, (enum template_ext)e, text, len, subject, body, err);
}

int templates_compile_file(const char *dir, const char *name, const char *lang,
			   const char *ext, struct template **subject,
			   struct template **body, struct err *err)
{
	const struct template_name *tn = name_lookup(name);
	int e = template_ext_from_name(ext);
	char path[4096], canon[LANG_TAG_MAX], *text;
	size_t len;
	int rc;

	*subject = NULL;
	*body = NULL;
	if (tn == NULL)
		return err_set(err, "NAME: unknown template \"%s\" (court_reminder, court_enrolment, "
			       "consent_stop, consent_start, consent_help, townhall_confirmation, "
			       "townhall_reminder, townhall_change, townhall_cancel)", name);
	if (lang_tag_normalise(lang, canon) != 0)
		return err_set(err, "LANG: not a language tag: \"%s\"", lang);
	if (e < 0)
		return err_set(err, "CHANNEL: expected sms, signal, email or email.html, got \"%s\"",
			       ext);
	snprintf(path, sizeof(path), "%s/%s/%s.%s", dir, name, canon, ext);
	if (read_file(path, &text, &len, err) != 0)
		return err_wrap(err, "%s: ", path);
	rc = compile_text(tn, (enum template_ext)e, text, len, subject, body, err);
	free(text);
	if (rc != 0)
		return err_wrap(err, "%s: ", path);
	return 0;
}

static void free_file(struct tfile *f)
{
	template_free(f->subject);
	template_free(f->body);
}

void templates_free(struct templates *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		free_file(&set->files[i]);
	free(set->files);
	free(set);
}

size_t templates_count(const struct templates *set)
{
	return set ? set->n : 0;
}

static const struct tfile *find(const struct templates *set, const struct template_name *name,
				const char *lang, enum template_ext ext)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct tfile *f = &set->files[i];

		if (f->name == name && f->ext == ext && strcmp(f->lang, lang) == 0)
			return f;
	}
	return NULL;
}

bool templates_has(const struct templates *set, const char *name)
{
	const struct template_name *tn = name_lookup(name);

	return set && tn && find(set, tn, set->default_lang, TEMPLATE_EXT_SMS) &&
	       find(set, tn, set->default_lang, TEMPLATE_EXT_EMAIL);
}

/* ---- loading ---- */

/* Long sample values: a text that fits with these fits with real ones. */
struct sample {
	const char *lang;
	char date[96];
	char time[32];
	const char *const *vars;	/* the template name's variables */
	unsigned flags;		/* bit i: vars[i], an {{#if}} variable, is "yes" */
	bool bare;		/* the values a job may leave out have none */
};

/* What a job may leave out (a recipient without a name, a case without an
 * address or department), or the config (no [templates] sender). */
static bool optional_value(const char *name)
{
	return strcmp(name, "name") == 0 || strcmp(name, "address") == 0 ||
	       strcmp(name, "department") == 0 || strcmp(name, "sender") == 0 ||
	       strcmp(name, "location") == 0 || strcmp(name, "join_url") == 0 ||
	       strcmp(name, "end_time") == 0;
}


const char *templates_sample_value(const char *name)
{
	static const struct { const char *name, *value; } samples[] = {
		{ "sender", TEMPLATES_SENDER_SAMPLE },
		/* the shipped [sms] help_text */
		{ "help_text", "Reminders from your legal team. Reply STOP to stop, START to resume." },
		{ "name", "Maria Guadalupe Hernandez" },
		{ "court", "Clara Shortridge Foltz Criminal Justice Center" },
		{ "address", "210 W Temple St, Los Angeles, CA 90012" },
		{ "department", "Dept. 130" },
		/* A town hall's: a long title (60 characters), a place, and a
		 * tracked join link (public_url/j/ and a 22-character token). */
		{ "title", "Re-Imagine LA Town Hall on Housing, Tenants and Rent Control" },
		{ "location", "Online, or South LA Community Center, 1234 W 54th St" },
		{ "join_url", "https://pregon.example.org/j/Zq3xT7bK9mWv2LpR8nYc4d" },
	};

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		if (strcmp(name, samples[i].name) == 0)
			return samples[i].value;
	return NULL;
}

static const char *sample_lookup(void *data, const char *name)
{
	struct sample *s = data;

	if (s->bare && optional_value(name))
		return NULL;
	const char *fixed = templates_sample_value(name);

	if (fixed != NULL)
		return fixed;
	if (strcmp(name, "date") == 0)
		return s->date;
	if (strcmp(name, "time") == 0 || strcmp(name, "end_time") == 0)
		return s->time;
	for (unsigned i = 0; s->vars[i] != NULL && i < 16; i++)
		if (strcmp(s->vars[i], name) == 0)
			return (s->flags >> i) & 1u ? "yes" : "";
	return "";
}

/* Renders an SMS or Signal text with the sample values (every combination
 * of the flags, as "tomorrow" alone may take a branch that neither all
 * flags off nor all on reaches) and warns when it needs more than
 * TEMPLATES_SMS_SEGMENTS_WARN segments: each segment is paid for, and
 * Spanish accents outside GSM-7 halve the room (templates.h). Other render errors
 * cannot happen with every value given; they are reported all the same. */
static int check_segments(const char *path, const struct tfile *f, struct err *err)
{
	static const struct tz_wall long_day = { .year = 2026, .month = 9, .day = 30,
						 .hour = 10, .minute = 30 };
	struct sample s = { .lang = f->lang, .vars = f->name->vars };
	unsigned flag_bits = 0, set = 0;
	int worst = 0;
	const char *enc = "";

	datefmt_date(f->lang, &long_day, s.date, sizeof(s.date));
	datefmt_time(f->lang, &long_day, s.time, sizeof(s.time));
	/* The flags are the variables without a fixed sample value. */
	s.flags = ~0u;
	for (unsigned i = 0; s.vars[i] != NULL && i < 16; i++)
		if (strcmp(sample_lookup(&s, s.vars[i]), "yes") == 0)
			flag_bits |= 1u << i;
	do {	/* every subset of flag_bits, 0 first */
		struct sms_segments seg;
		char *out;
		size_t len;

		s.flags = set;
		set = (set - flag_bits) & flag_bits;
		if (template_render(f->body, sample_lookup, &s, TEMPLATE_PLAIN, &out, &len, err) != 0)
			return err_wrap(err, "%s: ", path);
		if (sms_segments_count(out, len, &seg) == 0 && seg.segments > worst) {
			worst = seg.segments;
			enc = sms_encoding_name(seg.encoding);
		}
		free(out);
	} while (set != 0);
	if (worst > TEMPLATES_SMS_SEGMENTS_WARN)
		log_warn("templates: %s renders to %d SMS segments (%s) with long sample values; "
			 "keep it within %d", path, worst, enc, TEMPLATES_SMS_SEGMENTS_WARN);
	return 0;
}

/* A template that prints a value a job may leave out, outside an {{#if}}
 * on it, makes such jobs fail to render: they are refused at intake. That
 * is safe (never a blank in a sent message) but rarely meant: say so. */
static void check_optional(const char *path, const struct tfile *f)
{
	struct sample s = { .lang = f->lang, .vars = f->name->vars, .bare = true };
	const struct template *parts[2] = { f->subject, f->body };
	struct err err;

	for (int i = 0; i < 2; i++) {
		char *out = NULL;

		if (parts[i] == NULL)
			continue;
		if (template_render(parts[i], sample_lookup, &s, TEMPLATE_PLAIN, &out, NULL, &err) != 0)
			log_warn("templates: %s: %s%s: jobs without that value will be refused; "
				 "print it inside {{#if}}", path, i == 0 ? "subject: " : "", err.msg);
		free(out);
	}
}

static int add_file(struct templates *set, const char *dir, const struct template_name *tn,
		    const char *file, struct err *err)
{
	char path[4096], rel[512], lang[LANG_TAG_MAX], canon[LANG_TAG_MAX];
	const char *dot = strchr(file, '.');
	struct tfile f = { .name = tn };
	size_t llen, len;
	char *text;
	int ext, rc;

	snprintf(rel, sizeof(rel), "%s/%s", tn->name, file);
	if (dot == NULL || (llen = (size_t)(dot - file)) == 0 || llen >= sizeof(lang))
		return err_set(err, "%s: expected <lang>.<channel>, e.g. es.sms", rel);
	memcpy(lang, file, llen);
	lang[llen] = '\0';
	if (lang_tag_normalise(lang, canon) != 0)
		return err_set(err, "%s: \"%s\" is not a language tag", rel, lang);
	if (strcmp(lang, canon) != 0)
		return err_set(err, "%s: write the language tag as \"%s\"", rel, canon);
	if ((ext = template_ext_from_name(dot + 1)) < 0)
		return err_set(err, "%s: unknown channel \"%s\" (sms, signal, email, email.html)",
			       rel, dot + 1);
	if (set->n == TEMPLATES_MAX_FILES)
		return err_set(err, "more than %d template files", TEMPLATES_MAX_FILES);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (read_file(path, &text, &len, err) != 0)
		return err_wrap(err, "%s: ", rel);
	memcpy(f.lang, canon, sizeof(f.lang));
	f.ext = (enum template_ext)ext;
	rc = compile_text(tn, f.ext, text, len, &f.subject, &f.body, err);
	free(text);
	if (rc != 0)
		return err_wrap(err, "%s: ", rel);
	check_optional(rel, &f);
	if ((f.ext == TEMPLATE_EXT_SMS || f.ext == TEMPLATE_EXT_SIGNAL) &&
	    check_segments(rel, &f, err) != 0) {
		free_file(&f);
		return -1;
	}
	set->files[set->n++] = f;
	return 0;
}

static bool skipped_name(const char *n)
{
	size_t len = strlen(n);

	/* Hidden files, editor backups and notes are not templates, nor
	 * the review sheet, its state file and the back-translations it
	 * is made from (review.h). */
	return n[0] == '.' || (len > 0 && n[len - 1] == '~') || strncmp(n, "README", 6) == 0 ||
	       strncmp(n, "REVIEW", 6) == 0 || (len > 5 && strcmp(n + len - 5, ".back") == 0);
}

static int load_name(struct templates *set, const char *dir, const struct template_name *tn,
		     struct err *err)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, tn->name);
	if ((d = opendir(path)) == NULL) {
		/* A folder of templates written before the consent answers
		 * existed still loads (templates.h). */
		if (errno == ENOENT && !tn->required)
			return 0;
		return err_set(err, "%s: %s", path, strerror(errno));
	}
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (!skipped_name(de->d_name))
			rc = add_file(set, dir, tn, de->d_name, err);
	closedir(d);
	return rc;
}

/* [templates] sender goes into every text: one line, printable, short
 * enough to leave the texts their room (TEMPLATES_SENDER_MAX). */
static int check_sender(const char *sender, struct err *err)
{
	size_t len = strlen(sender);

	if (len > TEMPLATES_SENDER_MAX)
		return err_set(err, "[templates] sender: at most %d bytes, got %zu (every SMS starts "
			       "with it)", TEMPLATES_SENDER_MAX, len);
	if (!utf8_valid(sender, len))
		return err_set(err, "[templates] sender: not UTF-8");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)sender[i] < 0x20 || sender[i] == 0x7f)
			return err_set(err, "[templates] sender: a control character at byte %zu",
				       i + 1);
	return 0;
}

int templates_load(const char *dir, const char *default_lang, const char *sender,
		   struct templates **out, struct err *err)
{
	struct templates *set = calloc(1, sizeof(*set));
	struct dirent *de;
	DIR *d;
	int rc = 0;

	*out = NULL;
	if (set == NULL)
		return err_set(err, "out of memory");
	if (sender == NULL)
		sender = "";
	if (check_sender(sender, err) != 0) {
		free(set);
		return -1;
	}
	memcpy(set->sender, sender, strlen(sender) + 1);
	if (lang_tag_normalise(default_lang, set->default_lang) != 0) {
		free(set);
		return err_set(err, "[templates] default_lang: not a language tag: \"%s\"",
			       default_lang);
	}
	set->files = calloc(TEMPLATES_MAX_FILES, sizeof(*set->files));
	if (set->files == NULL) {
		free(set);
		return err_set(err, "out of memory");
	}
	if ((d = opendir(dir)) == NULL) {
		templates_free(set);
		return err_set(err, "[templates] dir %s: %s", dir, strerror(errno));
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (skipped_name(de->d_name))
			continue;
		if (name_lookup(de->d_name) == NULL)
			log_warn("templates: %s/%s: no message uses this name; ignored", dir,
				 de->d_name);
	}
	closedir(d);
	for (size_t i = 0; rc == 0 && i < template_names_count; i++) {
		const struct template_name *tn = &template_names[i];

		rc = load_name(set, dir, tn, err);
		if (!tn->required)
			continue;
		if (rc == 0 && find(set, tn, set->default_lang, TEMPLATE_EXT_SMS) == NULL)
			rc = err_set(err, "%s/%s.sms: missing (the default language must have every "
				     "template)", tn->name, set->default_lang);
		if (rc == 0 && find(set, tn, set->default_lang, TEMPLATE_EXT_EMAIL) == NULL)
			rc = err_set(err, "%s/%s.email: missing (the default language must have every "
				     "template)", tn->name, set->default_lang);
	}
	if (rc != 0) {
		templates_free(set);
		return -1;
	}
	*out = set;
	return 0;
}

/* ---- rendering ---- */

/* Whether the n-byte subtag s is t (tags are normalised: exact case). */
static bool subtag_is(const char *s, size_t n, const char *t)
{
	return strlen(t) == n && memcmp(s, t, n) == 0;
}

const char *templates_lang_alias(const char *lang)
{
	size_t n = strcspn(lang, "-");
	bool yue = subtag_is(lang, n, "yue");

	if (subtag_is(lang, n, "fil"))
		return "tl";
	if (!yue && !subtag_is(lang, n, "zh"))
		return NULL;
	/* The script decides when given ("zh-Hans-HK" is simplified), else
	 * the region (a tag is language[-Script][-Region]: validate.h). */
	for (const char *p = lang + n; *p == '-'; p += 1 + n) {
		const char *sub = p + 1;

		n = strcspn(sub, "-");
		if (n == 4)
			return subtag_is(sub, n, "Hant") ? "zh-Hant" :
			       subtag_is(sub, n, "Hans") ? "zh" : NULL;
		if (n == 2 || n == 3) {
			if (subtag_is(sub, n, "TW") || subtag_is(sub, n, "HK") ||
			    subtag_is(sub, n, "MO"))
				return "zh-Hant";
			/* Cantonese of Guangdong is written in simplified characters. */
			if (yue && (subtag_is(sub, n, "CN") || subtag_is(sub, n, "SG")))
				return "zh";
			break;
		}
	}
	/* Cantonese is written in traditional characters (Hong Kong, and
	 * most of the Cantonese-speaking clients in Los Angeles). */
	return yue ? "zh-Hant" : NULL;
}

/* Adds tag to tries unless it is there already. */
static void try_add(char tries[][LANG_TAG_MAX], int *n, const char *tag, size_t len)
{
	if (len == 0 || len >= LANG_TAG_MAX)
		return;
	for (int i = 0; i < *n; i++)
		if (strlen(tries[i]) == len && memcmp(tries[i], tag, len) == 0)
			return;
	memcpy(tries[*n], tag, len);
	tries[*n][len] = '\0';
	(*n)++;
}

/* The file for lang on channel ext, with the fallbacks of templates.h:
 * the tag, its alias, the primary subtag of each, the default. */
static const struct tfile *pick(const struct templates *set, const struct template_name *tn,
				const char *lang, enum channel ch)
{
	char tries[5][LANG_TAG_MAX], canon[LANG_TAG_MAX];
	int n = 0;

	if (lang != NULL && lang_tag_normalise(lang, canon) == 0) {
		const char *alias = templates_lang_alias(canon);

		try_add(tries, &n, canon, strlen(canon));
		if (alias != NULL)
			try_add(tries, &n, alias, strlen(alias));
		try_add(tries, &n, canon, strcspn(canon, "-"));
		if (alias != NULL)
			try_add(tries, &n, alias, strcspn(alias, "-"));
	}
	try_add(tries, &n, set->default_lang, strlen(set->default_lang));
	for (int i = 0; i < n; i++) {
		const struct tfile *f;

		if (ch == CHANNEL_EMAIL) {
			if ((f = find(set, tn, tries[i], TEMPLATE_EXT_EMAIL)) != NULL)
				return f;
			continue;
		}
		if (ch == CHANNEL_SIGNAL && (f = find(set, tn, tries[i], TEMPLATE_EXT_SIGNAL)) != NULL)
			return f;
		if ((f = find(set, tn, tries[i], TEMPLATE_EXT_SMS)) != NULL)
			return f;
	}
	return NULL;
}

int templates_lang(const struct templates *set, const char *name, const char *lang,
		   enum channel ch, char out[LANG_TAG_MAX])
{
	const struct template_name *tn = name_lookup(name);
	const struct tfile *f = (set && tn) ? pick(set, tn, lang, ch) : NULL;

	if (f == NULL)
		return -1;
	memcpy(out, f->lang, LANG_TAG_MAX);
	return 0;
}

/* The value of help_text in an answer (templates_render_answer). */
static const char *answer_lookup(void *data, const char *name)
{
	const char *help_text = data;

	return strcmp(name, "help_text") == 0 && help_text != NULL && help_text[0] != '\0' ?
		       help_text : NULL;
}

char *templates_render_answer(const struct templates *set, const char *name, const char *lang,
			      enum channel ch, const char *help_text, struct err *err)
{
	struct templates_text t;
	char *body;

	if (templates_render(set, name, lang, ch, answer_lookup, (void *)help_text, &t, err) != 0)
		return NULL;
	body = t.body;
	t.body = NULL;
	templates_text_free(&t);
	return body;
}

void templates_text_free(struct templates_text *t)
{
	free(t->subject);
	free(t->body);
	free(t->html);
	t->subject = t->body = t->html = NULL;
}

static int render_part(const struct tfile *f, const struct template *t, template_lookup lookup,
		       void *data, enum template_escape esc, char **out, struct err *err)
{
	if (template_render(t, lookup, data, esc, out, NULL, err) != 0)
		return err_wrap_public(err, "%s/%s.%s: %s", f->name->name, f->lang,
				       ext_names[f->ext], t == f->subject ? "subject: " : "");	/* our files */
	return 0;
}

/* The caller's values and the set's own (sender). */
struct set_values {
	const struct templates *set;
	template_lookup lookup;
	void *data;
};

static const char *set_lookup(void *data, const char *name)
{
	const struct set_values *v = data;

	if (strcmp(name, "sender") == 0)
		return v->set->sender[0] != '\0' ? v->set->sender : NULL;
	return v->lookup != NULL ? v->lookup(v->data, name) : NULL;
}

const char *templates_sender(const struct templates *set)
{
	return set != NULL ? set->sender : "";
}

int templates_render(const struct templates *set, const char *name, const char *lang,
		     enum channel ch, template_lookup caller_lookup, void *caller_data,
		     struct templates_text *out, struct err *err)
{
	const struct template_name *tn = name_lookup(name);
	struct set_values values = { set, caller_lookup, caller_data };
	template_lookup lookup = set_lookup;
	void *data = &values;
	const struct tfile *f, *html;

	memset(out, 0, sizeof(*out));
	if (set == NULL || tn == NULL)
		return err_set(err, "no template \"%s\"", name);
	if ((f = pick(set, tn, lang, ch)) == NULL)
		return err_set(err, "%s: no template for %s in %s or the default language", name,
			       channel_name(ch), lang ? lang : "(none)");
	memcpy(out->lang, f->lang, sizeof(out->lang));
	if (render_part(f, f->body, lookup, data, TEMPLATE_PLAIN, &out->body, err) != 0)
		return -1;
	if (f->ext != TEMPLATE_EXT_EMAIL)
		return 0;
	if (render_part(f, f->subject, lookup, data, TEMPLATE_PLAIN, &out->subject, err) != 0)
		goto fail;
	html = find(set, tn, f->lang, TEMPLATE_EXT_EMAIL_HTML);
	if (html != NULL &&
	    render_part(html, html->body, lookup, data, TEMPLATE_HTML, &out->html, err) != 0)
		goto fail;
	return 0;
fail:
	templates_text_free(out);
	return -1;
}
