/* review.c: the review sheet of the shipped texts (see review.h). */
#include "review.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datefmt.h"
#include "sms_segments.h"
#include "templates.h"
#include "validate.h"

#define MAX_LANGS 64

/* One line of REVIEW.status. */
struct lang_state {
	char tag[LANG_TAG_MAX];
	char name[64];
	char state[256];
};

/* A case of a template's flags, as the sheet names it. */
struct variant {
	const char *label;	/* "" for a template without flags */
	const char *flag;	/* the variable set to "yes", or NULL */
};

static const struct variant reminder_cases[] = {
	{ "On another day", NULL }, { "The day before", "tomorrow" }, { "The same day", "today" },
};
static const struct variant enrolment_cases[] = {
	{ "First notice", NULL }, { "Date changed", "changed" },
};
static const struct variant single_case[] = { { "", NULL } };
static const struct variant townhall_cases[] = {
	{ "Another day", NULL }, { "The day before", "tomorrow" }, { "The same day", "today" },
};

/* What each template is, for a reader who has not seen pregon; ext is
 * "sms" (also Signal's text) or "email" (its .email.html says the same
 * with markup, and is not repeated). */
static const struct {
	const char *name, *ext, *what;
	const struct variant *cases;
	size_t n_cases;
} sections[] = {
	{ "court_reminder", "sms", "A reminder of a court date, sent before it (a week, three "
	  "days, the day before and the morning of).", reminder_cases, 3 },
	{ "court_enrolment", "sms", "The notice sent when a client is signed up for reminders, or "
	  "when the court date changed.", enrolment_cases, 2 },
	{ "consent_stop", "sms", "The answer to STOP (or a stop word in the client's language).",
	  single_case, 1 },
	{ "consent_start", "sms", "The answer to START.", single_case, 1 },
	{ "consent_help", "sms", "The answer to HELP.", single_case, 1 },
	{ "townhall_confirmation", "sms", "The confirmation of a town hall registration, "
	  "asking for 1 (coming) or 2 (cannot come).", single_case, 1 },
	{ "townhall_reminder", "sms", "A reminder of a town hall, sent before it (by default the "
	  "day before and an hour before), with the link to join.", townhall_cases, 3 },
	{ "townhall_change", "sms", "The notice sent when a town hall's time, place or link "
	  "changed.", single_case, 1 },
	{ "townhall_cancel", "sms", "The notice that a town hall is cancelled.", single_case, 1 },
	{ "court_reminder", "email", "The reminder by email (its HTML part says the same).",
	  reminder_cases, 3 },
	{ "court_enrolment", "email", "The enrolment or change notice by email (its HTML part "
	  "says the same).", enrolment_cases, 2 },
	{ "townhall_confirmation", "email", "The confirmation by email, with the calendar "
	  "invitation (its HTML part says the same).", single_case, 1 },
	{ "townhall_reminder", "email", "The reminder by email.", townhall_cases, 3 },
	{ "townhall_change", "email", "The change notice by email, with the updated invitation.",
	  single_case, 1 },
	{ "townhall_cancel", "email", "The cancellation by email, with the invitation's "
	  "cancellation.", single_case, 1 },
};

/* The values one rendering sees: the loader's long samples. */
struct values {
	char date[96];
	char time[32];
	char end_time[32];
	const char *flag;
};

static const char *values_lookup(void *data, const char *name)
{
	const struct values *v = data;

	if (strcmp(name, "date") == 0)
		return v->date;
	if (strcmp(name, "time") == 0)
		return v->time;
	if (strcmp(name, "end_time") == 0)
		return v->end_time;
	if (v->flag != NULL && strcmp(name, v->flag) == 0)
		return "yes";
	/* NULL for today, tomorrow, changed: not this case */
	return templates_sample_value(name);
}

/* Wednesday, September 30, 10:30: the loader's sample day, the longest
 * date of most languages. */
static const struct tz_wall sample_day = { .year = 2026, .month = 9, .day = 30, .hour = 10,
					   .minute = 30 };
/* A town hall's end, as long a time as the start's. */
static const struct tz_wall sample_end = { .year = 2026, .month = 9, .day = 30, .hour = 11,
					   .minute = 45 };

static int read_status(const char *dir, struct lang_state *st, size_t *n, struct err *err)
{
	char path[4096], line[512];
	FILE *f;
	int lineno = 0, rc = 0;

	*n = 0;
	snprintf(path, sizeof(path), "%s/REVIEW.status", dir);
	if ((f = fopen(path, "r")) == NULL)
		return err_set(err, "REVIEW.status: %s", strerror(errno));
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *tab1, *tab2, *nl;

		lineno++;
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		tab1 = strchr(line, '\t');
		tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
		if (tab2 == NULL || *n == MAX_LANGS) {
			rc = err_set(err, "REVIEW.status: line %d: expected tag TAB name TAB state",
				     lineno);
			break;
		}
		*tab1 = *tab2 = '\0';
		if (lang_tag_normalise(line, st[*n].tag) != 0) {
			rc = err_set(err, "REVIEW.status: line %d: not a language tag", lineno);
			break;
		}
		snprintf(st[*n].name, sizeof(st[*n].name), "%s", tab1 + 1);
		snprintf(st[*n].state, sizeof(st[*n].state), "%s", tab2 + 1);
		(*n)++;
	}
	fclose(f);
	return rc;
}

/* English first (the source), then by tag. */
static int lang_cmp(const void *a, const void *b)
{
	const char *x = a, *y = b;

	if (strcmp(x, "en") == 0 || strcmp(y, "en") == 0)
		return strcmp(x, "en") == 0 ? (strcmp(y, "en") == 0 ? 0 : -1) : 1;
	return strcmp(x, y);
}

/* The languages of name's .sms files, sorted; *n 0 when it has no folder. */
static int list_langs(const char *dir, const char *name, const char *ext,
		      char langs[][LANG_TAG_MAX], size_t *n, struct err *err)
{
	size_t elen = strlen(ext) + 1;	/* ".sms", ".email" */

	char path[4096];
	struct dirent *de;
	DIR *d;

	*n = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : err_set(err, "%s: %s", name, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len <= elen || len - elen >= LANG_TAG_MAX || de->d_name[0] == '.' ||
		    de->d_name[len - elen] != '.' || strcmp(de->d_name + len - elen + 1, ext) != 0)
			continue;
		if (*n == MAX_LANGS) {
			closedir(d);
			return err_set(err, "%s: more than %d languages", name, MAX_LANGS);
		}
		memcpy(langs[*n], de->d_name, len - elen);
		langs[*n][len - elen] = '\0';
		(*n)++;
	}
	closedir(d);
	qsort(langs, *n, LANG_TAG_MAX, lang_cmp);
	return 0;
}

/* The back-translation of name/lang.sms, compiled; -1 with err when it is
 * missing or wrong. */
static int load_back(const char *dir, const char *name, const char *lang, const char *ext,
		     struct template **subject, struct template **back, struct err *err)
{
	char path[4096], *text = NULL;
	long size;
	FILE *f;
	int rc;

	*back = NULL;
	*subject = NULL;
	snprintf(path, sizeof(path), "%s/%s/%s.%s.back", dir, name, lang, ext);
	if ((f = fopen(path, "rb")) == NULL)
		return err_set(err, "%s/%s.%s.back: %s (every language but English has a "
			       "back-translation)", name, lang, ext,
			       errno == ENOENT ? "not found" : strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (text = malloc((size_t)size + 1)) == NULL ||
	    fread(text, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		free(text);
		return err_set(err, "%s/%s.%s.back: cannot read", name, lang, ext);
	}
	fclose(f);
	rc = templates_compile_text(name, ext, text, (size_t)size, subject, back, err);
	free(text);
	if (rc != 0)
		return err_wrap(err, "%s/%s.%s.back: ", name, lang, ext);
	return 0;
}

/* Renders t with the values for lang (dates in lang) and the case's flag. */
static int render(const struct template *t, const char *lang, const char *flag, char **out,
		  size_t *len, struct err *err)
{
	struct values v = { .flag = flag };

	if (datefmt_date(lang, &sample_day, v.date, sizeof(v.date)) != 0 ||
	    datefmt_time(lang, &sample_day, v.time, sizeof(v.time)) != 0 ||
	    datefmt_time(lang, &sample_end, v.end_time, sizeof(v.end_time)) != 0)
		return err_set(err, "cannot format the sample date in %s", lang);
	return template_render(t, values_lookup, &v, TEMPLATE_PLAIN, out, len, err);
}

/* Appends text as a Markdown quote, line by line. */
static int add_quote(struct buf *out, const char *text)
{
	int rc = 0;

	for (const char *p = text; rc == 0 && *p != '\0';) {
		size_t n = strcspn(p, "\n");

		rc = buf_addf(out, ">%s%.*s\n", n ? " " : "", (int)n, p);
		p += n + (p[n] == '\n');
	}
	return rc == 0 ? buf_adds(out, "\n") : rc;
}

/* Renders subject (NULL for an SMS) and body as the sheet shows them:
 * "Subject: ...", an empty line, the body; malloc'd into *out. */
static int render_text(const struct template *subject, const struct template *body,
		       const char *lang, const char *flag, char **out, struct err *err)
{
	char *s = NULL, *b = NULL;
	size_t len;
	int rc = -1;

	*out = NULL;
	if ((subject != NULL && render(subject, lang, flag, &s, &len, err) != 0) ||
	    render(body, lang, flag, &b, &len, err) != 0)
		goto done;
	if (s == NULL) {
		*out = b;
		b = NULL;
	} else {
		size_t n = strlen(s) + strlen(b) + 16;

		if ((*out = malloc(n)) == NULL) {
			err_set(err, "out of memory");
			goto done;
		}
		snprintf(*out, n, "Subject: %s\n\n%s", s, b);
	}
	rc = 0;
done:
	free(s);
	free(b);
	return rc;
}

/* One case of one text: its rendering, what it costs (SMS), its
 * back-translation. */
static int add_case(struct buf *out, const char *name, const char *lang, const char *ext,
		    const struct variant *c, const struct template *const text[2],
		    const struct template *const back[2], struct err *err)
{
	bool sms = strcmp(ext, "sms") == 0;
	struct sms_segments seg;
	char *s = NULL, *b = NULL;
	int rc = -1;

	if (render_text(text[0], text[1], lang, c->flag, &s, err) != 0) {
		err_wrap(err, "%s/%s.%s: ", name, lang, ext);
		goto out;
	}
	if (back[1] != NULL && render_text(back[0], back[1], "en", c->flag, &b, err) != 0) {
		err_wrap(err, "%s/%s.%s.back: ", name, lang, ext);
		goto out;
	}
	if (sms && sms_segments_count(s, strlen(s), &seg) != 0) {
		err_set(err, "%s/%s.sms: not UTF-8", name, lang);
		goto out;
	}
	if ((sms ? buf_addf(out, "%s%s%d SMS segment%s (%s, %d %s)\n\n", c->label,
			    c->label[0] ? ": " : "", seg.segments, seg.segments == 1 ? "" : "s",
			    sms_encoding_name(seg.encoding), seg.units,
			    seg.encoding == SMS_GSM7 ? "characters" : "UTF-16 units")
		 : buf_addf(out, "%s:\n\n", c->label)) != 0 ||
	    add_quote(out, s) != 0 ||
	    (b != NULL && (buf_adds(out, "Back-translation:\n\n") != 0 || add_quote(out, b) != 0))) {
		err_set(err, "out of memory");
		goto out;
	}
	rc = 0;
out:
	free(s);
	free(b);
	return rc;
}

static const struct lang_state *state_of(const struct lang_state *st, size_t n,
					 const char *lang)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(st[i].tag, lang) == 0)
			return &st[i];
	return NULL;
}

static int add_language(struct buf *out, const char *dir, size_t sec, const char *lang,
			const struct lang_state *ls, struct err *err)
{
	const char *name = sections[sec].name, *ext = sections[sec].ext;
	struct template *text[2] = { NULL, NULL }, *back[2] = { NULL, NULL };
	int rc = -1;

	if (buf_addf(out, "### %s, %s: %s\n\n", ls->tag, ls->name, ls->state) != 0) {
		err_set(err, "out of memory");
		goto out;
	}
	if (templates_compile_file(dir, name, lang, ext, &text[0], &text[1], err) != 0)
		goto out;
	if (strcmp(lang, "en") != 0 && load_back(dir, name, lang, ext, &back[0], &back[1], err) != 0)
		goto out;
	for (size_t c = 0; c < sections[sec].n_cases; c++)
		if (add_case(out, name, lang, ext, &sections[sec].cases[c],
			     (const struct template *const *)text,
			     (const struct template *const *)back, err) != 0)
			goto out;
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		template_free(text[i]);
		template_free(back[i]);
	}
	return rc;
}

static int add_intro(struct buf *out, const struct lang_state *st, size_t n)
{
	int rc = buf_adds(out,
		 "# The texts clients read, for review\n"
		 "\n"
		 "Generated by `make review` from the templates in this folder and the\n"
		 "back-translations beside them (`<name>/<lang>.sms.back` and\n"
		 "`<lang>.email.back`, English templates\n"
		 "with the same variables); do not edit it by hand: change a template or its\n"
		 "back-translation, then run `make review` (`tests/unit/test_review.c` fails\n"
		 "while this file is out of date). Each language's review state is in\n"
		 "`REVIEW.status`.\n"
		 "\n"
		 "Every SMS text (Signal sends the same) is shown as it renders with long\n"
		 "sample values: sender \"" TEMPLATES_SENDER_SAMPLE "\" (`[templates] sender`),\n"
		 "name \"Maria Guadalupe Hernandez\", court \"Clara Shortridge Foltz Criminal\n"
		 "Justice Center\", \"Dept. 130\", \"210 W Temple St, Los Angeles, CA 90012\",\n"
		 "on Wednesday, September 30 at 10:30 (a town hall ends at 11:45), title\n"
		 "\"Re-Imagine LA Town Hall on Housing, Tenants and Rent Control\", location\n"
		 "\"Online, or South LA Community Center, 1234 W 54th St\", join link\n"
		 "\"https://pregon.example.org/j/Zq3xT7bK9mWv2LpR8nYc4d\". The segment count is\n"
		 "what a carrier bills: GSM-7 texts (English,\n"
		 "Spanish, Tagalog) take 153 characters a segment, UCS-2 texts (Korean,\n"
		 "Chinese, Vietnamese, Armenian, or Spanish with \"sábado\" or an accented\n"
		 "name) 67. The emails follow the SMS texts.\n"
		 "\n"
		 "A reviewer checks that each text says what its back-translation says, and\n"
		 "that nothing in it can be read as cancelling or waiving the hearing.\n"
		 "\n"
		 "| language | review |\n"
		 "| --- | --- |\n");
	for (size_t i = 0; i < n; i++)
		rc |= buf_addf(out, "| %s, %s | %s |\n", st[i].tag, st[i].name, st[i].state);
	return rc | buf_adds(out, "\n");
}

int review_sheet(const char *dir, struct buf *out, struct err *err)
{
	struct lang_state st[MAX_LANGS];
	char langs[MAX_LANGS][LANG_TAG_MAX];
	size_t n_st, n_langs;

	if (read_status(dir, st, &n_st, err) != 0)
		return -1;
	if (add_intro(out, st, n_st) != 0)
		return err_set(err, "out of memory");
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		if (list_langs(dir, sections[s].name, sections[s].ext, langs, &n_langs, err) != 0)
			return -1;
		if (n_langs == 0)
			continue;
		if (buf_addf(out, "## %s, %s\n\n%s\n\n", sections[s].name,
			     strcmp(sections[s].ext, "sms") == 0 ? "SMS and Signal" : "email",
			     sections[s].what) != 0)
			return err_set(err, "out of memory");
		for (size_t l = 0; l < n_langs; l++) {
			const struct lang_state *ls = state_of(st, n_st, langs[l]);

			if (ls == NULL)
				return err_set(err, "REVIEW.status: no line for \"%s\" (%s/%s.%s)",
					       langs[l], sections[s].name, langs[l], sections[s].ext);
			if (add_language(out, dir, s, langs[l], ls, err) != 0)
				return -1;
		}
	}
	return 0;
}

int review_check(const char *dir, struct err *err)
{
	struct buf want = { 0 };
	char path[4096], *have = NULL;
	size_t have_len = 0, i, line = 1;
	FILE *f;
	int rc = -1;

	if (review_sheet(dir, &want, err) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/REVIEW.md", dir);
	if ((f = fopen(path, "rb")) == NULL) {
		err_set(err, "REVIEW.md: %s: run make review", strerror(errno));
		goto out;
	}
	have = malloc(want.len + 2);
	if (have != NULL)
		have_len = fread(have, 1, want.len + 1, f);
	fclose(f);
	if (have == NULL) {
		err_set(err, "out of memory");
		goto out;
	}
	for (i = 0; i < have_len && i < want.len && have[i] == want.p[i]; i++)
		line += have[i] == '\n';
	if (i == want.len && have_len == want.len)
		rc = 0;
	else
		err_set(err, "REVIEW.md: out of date from line %zu (a template, a back-translation or "
			"REVIEW.status changed): run make review", line);
out:
	free(have);
	buf_free(&want);
	return rc;
}
