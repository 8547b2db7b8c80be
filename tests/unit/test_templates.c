/* test_templates.c: the template set (templates.h) and the shipped texts
 * in config/templates: every name x language x channel rendered with
 * flags on and off and values present, empty or missing; SMS length with
 * the loader's long sample values; language fallback; every loader error
 * with its exact message, on small sets written under /tmp.
 *
 * The shipped set is config/templates relative to the working directory
 * (tests/run.sh runs from the repository root, as test_config.c expects);
 * PREGON_TEMPLATES_DIR overrides it, and when neither exists it is looked
 * for two directories above the test binary (build/tests/..). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datefmt.h"
#include "log.h"
#include "sms_segments.h"
#include "templates.h"

static const char *const langs[] = { "en", "es", "ko", "zh", "zh-Hant", "vi", "tl", "hy" };
#define N_LANGS (sizeof(langs) / sizeof(langs[0]))
static const char *const names[] = { "court_reminder", "court_enrolment" };
#define N_NAMES (sizeof(names) / sizeof(names[0]))
/* The answers to STOP, START and HELP: .sms only, in every language. */
static const char *const consent_names[] = { "consent_stop", "consent_start", "consent_help" };
#define N_CONSENT (sizeof(consent_names) / sizeof(consent_names[0]))
/* The shipped set is loaded with this [templates] sender. */
#define SENDER TEMPLATES_SENDER_SAMPLE

/* Whether lang's SMS are GSM-7 (2 segments of 153) rather than UCS-2
 * (3 segments of 67 allowed: issue 13). */
static bool gsm_lang(const char *lang)
{
	return strcmp(lang, "en") == 0 || strcmp(lang, "es") == 0 || strcmp(lang, "tl") == 0;
}

/* The loader's long sample values (sample_lookup in src/templates.c). */
#define LONG_NAME "Maria Guadalupe Hernandez"
#define LONG_COURT "Clara Shortridge Foltz Criminal Justice Center"
#define LONG_ADDRESS "210 W Temple St, Los Angeles, CA 90012"
#define LONG_DEPT "Dept. 130"
static const struct tz_wall sample_day = { .year = 2026, .month = 9, .day = 30,
					   .hour = 10, .minute = 30 };

static char shipped_dir[PATH_MAX];

/* ---- helpers ---------------------------------------------------------- */

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void find_shipped_dir(void)
{
	const char *env = getenv("PREGON_TEMPLATES_DIR");
	char exe[PATH_MAX];
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		snprintf(shipped_dir, sizeof(shipped_dir), "%s", env);
		return;
	}
	snprintf(shipped_dir, sizeof(shipped_dir), "config/templates");
	if (is_dir(shipped_dir))
		return;
	/* <root>/<build>/tests/test_templates */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int up = 0; up < 3; up++) {
			char *slash = strrchr(exe, '/');

			if (slash != NULL)
				*slash = '\0';
		}
		snprintf(shipped_dir, sizeof(shipped_dir), "%s/config/templates", exe);
	}
}

/* Values one rendering is given; NULL: no value (as src/court.c does for
 * an empty field). */
struct vals {
	const char *name, *court, *address, *department;
	const char *today, *tomorrow, *changed;
	char date[96];
	char time[32];
};

static const char *vals_lookup(void *data, const char *name)
{
	const struct vals *v = data;

	if (strcmp(name, "name") == 0)
		return v->name;
	if (strcmp(name, "court") == 0)
		return v->court;
	if (strcmp(name, "address") == 0)
		return v->address;
	if (strcmp(name, "department") == 0)
		return v->department;
	if (strcmp(name, "date") == 0)
		return v->date;
	if (strcmp(name, "time") == 0)
		return v->time;
	if (strcmp(name, "today") == 0)
		return v->today;
	if (strcmp(name, "tomorrow") == 0)
		return v->tomorrow;
	if (strcmp(name, "changed") == 0)
		return v->changed;
	if (strcmp(name, "help_text") == 0)	/* the shipped [sms] help_text */
		return "Reminders from your legal team. Reply STOP to stop, START to resume.";
	return NULL;
}

static void vals_when(struct vals *v, const char *lang, const struct tz_wall *w)
{
	assert_int_equal(datefmt_date(lang, w, v->date, sizeof(v->date)), 0);
	assert_int_equal(datefmt_time(lang, w, v->time, sizeof(v->time)), 0);
}

/* Every value at its longest, on the loader's sample day. */
static struct vals long_vals(const char *lang)
{
	struct vals v = { LONG_NAME, LONG_COURT, LONG_ADDRESS, LONG_DEPT, "", "", "", "", "" };

	vals_when(&v, lang, &sample_day);
	return v;
}

static void render_ok(const struct templates *set, const char *name, const char *lang,
		      enum channel ch, struct vals *v, struct templates_text *out)
{
	struct err err = { "" };

	if (templates_render(set, name, lang, ch, vals_lookup, v, out, &err) != 0)
		fail_msg("%s %s %s: %s", name, lang ? lang : "(null)", channel_name(ch), err.msg);
}

static struct sms_segments count(const char *text)
{
	struct sms_segments s;

	assert_int_equal(sms_segments_count(text, strlen(text), &s), 0);
	return s;
}

static bool has(const char *hay, const char *needle)
{
	return hay != NULL && strstr(hay, needle) != NULL;
}

/* Whole text of a small file; "" when it cannot be read. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 65536);
	size_t n = 0;

	assert_non_null(buf);
	if (f != NULL) {
		n = fread(buf, 1, 65535, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* A temporary template directory with files written into it. */
struct tmpset {
	char dir[64];
	char log[96];
};

static void put_file(const struct tmpset *t, const char *rel, const char *text, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	f = fopen(path, "wb");
	if (f == NULL)
		fail_msg("cannot write %s", path);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void put(const struct tmpset *t, const char *rel, const char *text)
{
	put_file(t, rel, text, strlen(text));
}

static void del(const struct tmpset *t, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	assert_int_equal(unlink(path), 0);
}

/* A minimal valid set: en.sms and en.email for both names (4 files). */
static void tmpset_make(struct tmpset *t)
{
	char sub[128];

	snprintf(t->dir, sizeof(t->dir), "/tmp/pregon-test-templates.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		fail_msg("mkdtemp failed");
	snprintf(t->log, sizeof(t->log), "%s.log", t->dir);
	for (size_t i = 0; i < N_NAMES; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", t->dir, names[i]);
		assert_int_equal(mkdir(sub, 0700), 0);
	}
	put(t, "court_reminder/en.sms", "Court {{date}} at {{time}}. Reply STOP to stop.");
	put(t, "court_reminder/en.email", "Subject: Court {{date}}\n\nCourt at {{time}}.\n");
	put(t, "court_enrolment/en.sms", "Court {{date}} at {{time}}. Reply STOP to stop.");
	put(t, "court_enrolment/en.email", "Subject: Court {{date}}\n\nCourt at {{time}}.\n");
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void tmpset_free(struct tmpset *t)
{
	nftw(t->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	unlink(t->log);
}

/* Loads t's directory with the log going to t->log; returns the rc, with
 * the error in *err and the set freed. */
static int tmpset_load(const struct tmpset *t, struct err *err, size_t *n_files)
{
	struct templates *set = NULL;
	int rc;

	unlink(t->log);
	assert_int_equal(log_init("warn", t->log), 0);
	rc = templates_load(t->dir, "en", NULL, &set, err);
	log_close();
	if (rc == 0) {
		assert_non_null(set);
		if (n_files != NULL)
			*n_files = templates_count(set);
	} else {
		assert_null(set);
	}
	templates_free(set);
	return rc;
}

static void load_fails_with(const struct tmpset *t, const char *want)
{
	struct err err = { "" };

	if (tmpset_load(t, &err, NULL) == 0)
		fail_msg("loaded; expected \"%s\"", want);
	assert_string_equal(err.msg, want);
}

static void load_ok(const struct tmpset *t, size_t want_files)
{
	struct err err = { "" };
	size_t n = 0;

	if (tmpset_load(t, &err, &n) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(n, want_files);
}

/* ---- the shipped set -------------------------------------------------- */

static int setup_shipped(void **state)
{
	struct templates *set = NULL;
	struct err err = { "" };

	find_shipped_dir();
	if (templates_load(shipped_dir, "en", SENDER, &set, &err) != 0) {
		fprintf(stderr, "# %s: %s\n", shipped_dir, err.msg);
		return -1;
	}
	*state = set;
	return 0;
}

static int teardown_shipped(void **state)
{
	templates_free(*state);
	return 0;
}

static void shipped_set_loads_96_files_without_warnings(void **state)
{
	struct tmpset t;
	struct templates *set = NULL;
	struct err err = { "" };
	char *log;

	(void)state;
	snprintf(t.log, sizeof(t.log), "/tmp/pregon-test-templates-%ld.log", (long)getpid());
	unlink(t.log);
	assert_int_equal(log_init("warn", t.log), 0);
	if (templates_load(shipped_dir, "en", SENDER, &set, &err) != 0) {
		log_close();
		fail_msg("%s: %s", shipped_dir, err.msg);
	}
	log_close();
	/* 2 court texts x 8 languages x (sms, email, email.html), the
	 * 3 consent answers x 8 languages (sms), and the 4 town-hall texts x
	 * 2 languages x (sms, email, email.html). */
	assert_int_equal(templates_count(set), 2 * 8 * 3 + 3 * 8 + 4 * 2 * 3);
	for (size_t i = 0; i < N_NAMES; i++)
		assert_true(templates_has(set, names[i]));
	templates_free(set);
	/* No "renders to N SMS segments", no stray directory. */
	log = slurp(t.log);
	if (log[0] != '\0')
		fail_msg("warnings at load:\n%s", log);
	free(log);
	unlink(t.log);
}

/* The checks every rendering of the shipped set passes. */
static void check_rendering(const char *name, const char *lang, enum channel ch,
			    const struct vals *v, const struct templates_text *out)
{
	const char *what = channel_name(ch);
	bool sms = ch != CHANNEL_EMAIL;

	assert_string_equal(out->lang, lang);
	assert_non_null(out->body);
	if (out->body[0] == '\0')
		fail_msg("%s/%s %s: empty", name, lang, what);
	if (has(out->body, "{{") || has(out->body, "}}"))
		fail_msg("%s/%s %s: a tag in \"%s\"", name, lang, what, out->body);
	if (!has(out->body, v->time))
		fail_msg("%s/%s %s: no time \"%s\" in \"%s\"", name, lang, what, v->time, out->body);
	/* Every text, in every language, carries date, time, court,
	 * department and address (issue 13: "today" alone, read late, is
	 * another day), and says who sends it. */
	if (!has(out->body, v->date))
		fail_msg("%s/%s %s: no date \"%s\" in \"%s\"", name, lang, what, v->date, out->body);
	if (!has(out->body, v->court))
		fail_msg("%s/%s %s: no court in \"%s\"", name, lang, what, out->body);
	if (v->department && v->department[0] && !has(out->body, v->department))
		fail_msg("%s/%s %s: no department in \"%s\"", name, lang, what, out->body);
	if (v->address && v->address[0] && !has(out->body, v->address))
		fail_msg("%s/%s %s: no address in \"%s\"", name, lang, what, out->body);
	if (!has(out->body, SENDER) || (!sms && !has(out->subject, SENDER)))
		fail_msg("%s/%s %s: no sender in \"%s\"", name, lang, what, out->body);
	if (sms) {
		struct sms_segments seg = count(out->body);

		assert_null(out->subject);
		assert_null(out->html);
		if (!has(out->body, "STOP"))
			fail_msg("%s/%s %s: no STOP in \"%s\"", name, lang, what, out->body);
		if (has(out->body, "\n"))
			fail_msg("%s/%s %s: a line break in \"%s\"", name, lang, what, out->body);
		if (seg.segments > (gsm_lang(lang) ? 2 : 3))
			fail_msg("%s/%s %s: %d segments (%s, %d units): \"%s\"", name, lang, what,
				 seg.segments, sms_encoding_name(seg.encoding), seg.units, out->body);
		/* English and Tagalog are plain ASCII; Spanish avoids á í ó ú. */
		if (gsm_lang(lang) && seg.encoding != SMS_GSM7)
			fail_msg("%s/%s %s: not GSM-7: \"%s\"", name, lang, what, out->body);
	} else {
		assert_non_null(out->subject);
		assert_non_null(out->html);
		if (out->subject[0] == '\0' || out->html[0] == '\0')
			fail_msg("%s/%s email: empty subject or html", name, lang);
		if (has(out->subject, "\n"))
			fail_msg("%s/%s email: a line break in the subject", name, lang);
		if (!has(out->subject, v->date))
			fail_msg("%s/%s email: no date in subject \"%s\"", name, lang, out->subject);
		if (has(out->html, "{{") || has(out->html, "}}") || has(out->subject, "{{"))
			fail_msg("%s/%s email: a tag left", name, lang);
		if (!has(out->html, v->date) || !has(out->html, v->time) ||
		    !has(out->html, v->court))
			fail_msg("%s/%s email: date, time or court missing in html:\n%s", name, lang,
				 out->html);
		if (has(out->html, "<html") || has(out->html, "<head") || has(out->html, "http"))
			fail_msg("%s/%s email: html is not a plain fragment", name, lang);
		if (!has(out->html, "<strong>"))
			fail_msg("%s/%s email: no <strong> in the html", name, lang);
		if (v->name && v->name[0] && (!has(out->body, v->name) || !has(out->html, v->name)))
			fail_msg("%s/%s email: no name in \"%s\"", name, lang, out->body);
		if (v->address && v->address[0] && !has(out->html, v->address))
			fail_msg("%s/%s email: no address in html", name, lang);
		if (!has(out->html, SENDER))
			fail_msg("%s/%s email: no sender in html", name, lang);
	}
}

/* The same rendering with the value "" and with no value at all. */
static void same_as_without(const struct templates *set, const char *name, const char *lang,
			    enum channel ch, const struct vals *v, const struct templates_text *got)
{
	struct vals w = *v;
	struct templates_text other;

	if (w.name && w.name[0] == '\0')
		w.name = NULL;
	if (w.address && w.address[0] == '\0')
		w.address = NULL;
	if (w.department && w.department[0] == '\0')
		w.department = NULL;
	render_ok(set, name, lang, ch, &w, &other);
	assert_string_equal(got->body, other.body);
	templates_text_free(&other);
}

static void every_name_language_and_channel_renders(void **state)
{
	const struct templates *set = *state;
	static const char *const name_vals[] = { LONG_NAME, NULL, "", "Ana" };
	static const char *const courts[] = { LONG_COURT, "Airport Courthouse" };
	static const struct { const char *address, *department; } places[] = {
		{ LONG_ADDRESS, LONG_DEPT }, { NULL, NULL }, { "", LONG_DEPT },
		{ LONG_ADDRESS, NULL }, { NULL, "Dept. 30" },
	};
	static const struct tz_wall days[] = {
		{ .year = 2026, .month = 9, .day = 30, .hour = 10, .minute = 30 },	/* the loader's */
		{ .year = 2026, .month = 12, .day = 1, .hour = 8, .minute = 30 },
		{ .year = 2027, .month = 3, .day = 4, .hour = 13, .minute = 5 },
	};
	static const enum channel chans[] = { CHANNEL_SMS, CHANNEL_SIGNAL, CHANNEL_EMAIL };
	int renders = 0;

	for (size_t n = 0; n < N_NAMES; n++)
	for (size_t l = 0; l < N_LANGS; l++)
	for (int flags = 0; flags < 3; flags++)
	for (size_t nv = 0; nv < sizeof(name_vals) / sizeof(name_vals[0]); nv++)
	for (size_t c = 0; c < sizeof(courts) / sizeof(courts[0]); c++)
	for (size_t p = 0; p < sizeof(places) / sizeof(places[0]); p++)
	for (size_t d = 0; d < sizeof(days) / sizeof(days[0]); d++) {
		bool reminder = n == 0;
		struct vals v = { name_vals[nv], courts[c], places[p].address,
				  places[p].department, NULL, NULL, NULL, "", "" };
		struct templates_text sms_text;

		if (!reminder && flags == 2)
			continue;
		if (reminder) {
			v.today = flags == 1 ? "yes" : "";
			v.tomorrow = flags == 2 ? "yes" : "";
		} else {
			v.changed = flags == 1 ? "yes" : "";
		}
		vals_when(&v, langs[l], &days[d]);
		memset(&sms_text, 0, sizeof(sms_text));
		for (size_t ch = 0; ch < sizeof(chans) / sizeof(chans[0]); ch++) {
			struct templates_text out;

			render_ok(set, names[n], langs[l], chans[ch], &v, &out);
			check_rendering(names[n], langs[l], chans[ch], &v, &out);
			same_as_without(set, names[n], langs[l], chans[ch], &v, &out);
			if (chans[ch] == CHANNEL_SMS)
				sms_text = out;
			else if (chans[ch] == CHANNEL_SIGNAL) {
				/* No .signal files: Signal sends the .sms text. */
				assert_string_equal(out.body, sms_text.body);
				templates_text_free(&out);
			} else {
				templates_text_free(&out);
			}
			renders++;
		}
		templates_text_free(&sms_text);
	}
	/* 2 names x 8 languages x 3 channels x every value combination. */
	assert_int_equal(renders, 14400);
}

/* The flag changes the text: "changed" says so, today/tomorrow differ. */
static void flags_change_the_text(void **state)
{
	const struct templates *set = *state;

	for (size_t l = 0; l < N_LANGS; l++) {
		struct vals v = long_vals(langs[l]);
		struct templates_text a, b, c;

		render_ok(set, "court_enrolment", langs[l], CHANNEL_SMS, &v, &a);
		v.changed = "yes";
		render_ok(set, "court_enrolment", langs[l], CHANNEL_SMS, &v, &b);
		assert_string_not_equal(a.body, b.body);
		templates_text_free(&a);
		templates_text_free(&b);
		render_ok(set, "court_enrolment", langs[l], CHANNEL_EMAIL, &v, &a);
		v.changed = "";
		render_ok(set, "court_enrolment", langs[l], CHANNEL_EMAIL, &v, &b);
		assert_string_not_equal(a.subject, b.subject);
		assert_string_not_equal(a.body, b.body);
		assert_string_not_equal(a.html, b.html);
		templates_text_free(&a);
		templates_text_free(&b);

		render_ok(set, "court_reminder", langs[l], CHANNEL_SMS, &v, &a);
		v.today = "yes";
		render_ok(set, "court_reminder", langs[l], CHANNEL_SMS, &v, &b);
		v.today = "";
		v.tomorrow = "yes";
		render_ok(set, "court_reminder", langs[l], CHANNEL_SMS, &v, &c);
		assert_string_not_equal(a.body, b.body);
		assert_string_not_equal(a.body, c.body);
		assert_string_not_equal(b.body, c.body);
		templates_text_free(&a);
		templates_text_free(&b);
		templates_text_free(&c);
	}
	{
		struct vals v = long_vals("en");
		struct templates_text t;

		v.changed = "yes";
		render_ok(set, "court_enrolment", "en", CHANNEL_SMS, &v, &t);
		assert_true(has(t.body, "CHANGED"));
		templates_text_free(&t);
		v.changed = "";
		v.tomorrow = "yes";
		render_ok(set, "court_reminder", "en", CHANNEL_SMS, &v, &t);
		assert_true(has(t.body, "tomorrow"));
		templates_text_free(&t);
	}
}

/* Every weekday of a year, at the longest values: no SMS goes past 2
 * segments in GSM-7 or 3 in UCS-2 however long the date's words are (the
 * loader only tries one date), and English, Spanish and Tagalog stay
 * GSM-7. */
static void sms_fit_their_segments_on_every_weekday(void **state)
{
	const struct templates *set = *state;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	for (size_t l = 0; l < N_LANGS; l++)
	for (size_t n = 0; n < N_NAMES; n++) {
		int worst = 0, worst_units = 0, weekday = 4;	/* 2026-01-01: Thursday */

		for (int m = 1; m <= 12; m++)
		for (int d = 1; d <= mdays[m - 1]; d++, weekday = (weekday + 1) % 7) {
			struct tz_wall w = { .year = 2026, .month = m, .day = d, .hour = 12,
					     .minute = 30 };

			if (weekday == 0 || weekday == 6)
				continue;
			for (int flags = 0; flags < 3; flags++) {
				struct vals v = long_vals(langs[l]);
				struct templates_text t;
				struct sms_segments s;

				vals_when(&v, langs[l], &w);
				if (n == 0) {
					v.today = flags == 1 ? "yes" : "";
					v.tomorrow = flags == 2 ? "yes" : "";
				} else {
					v.changed = flags == 1 ? "yes" : "";
				}
				render_ok(set, names[n], langs[l], CHANNEL_SMS, &v, &t);
				s = count(t.body);
				if (s.segments > (gsm_lang(langs[l]) ? 2 : 3))
					fail_msg("%s/%s on 2026-%02d-%02d: %d segments: \"%s\"",
						 names[n], langs[l], m, d, s.segments, t.body);
				if (gsm_lang(langs[l]) && s.encoding != SMS_GSM7)
					fail_msg("%s/%s on 2026-%02d-%02d: not GSM-7: \"%s\"",
						 names[n], langs[l], m, d, t.body);
				if (s.segments > worst ||
				    (s.segments == worst && s.units > worst_units)) {
					worst = s.segments;
					worst_units = s.units;
				}
				templates_text_free(&t);
			}
		}
		print_message("# %-16s %s: worst %d segments, %d units\n", names[n], langs[l],
			      worst, worst_units);
	}
}

static void english_sms_is_plain_ascii_text(void **state)
{
	const struct templates *set = *state;

	for (size_t n = 0; n < N_NAMES; n++) {
		struct vals v = long_vals("en");
		struct templates_text t;

		render_ok(set, names[n], "en", CHANNEL_SMS, &v, &t);
		for (const unsigned char *p = (const unsigned char *)t.body; *p; p++)
			if (*p >= 0x80 || *p < 0x20)
				fail_msg("%s/en.sms: byte 0x%02x in \"%s\"", names[n], *p, t.body);
		templates_text_free(&t);
	}
}

static void language_falls_back_to_primary_subtag_then_default(void **state)
{
	const struct templates *set = *state;
	struct templates_text want, got;
	struct vals es = long_vals("es"), en = long_vals("en");
	char lang[LANG_TAG_MAX];

	/* es-MX: the es file. */
	render_ok(set, "court_reminder", "es", CHANNEL_SMS, &es, &want);
	render_ok(set, "court_reminder", "es-MX", CHANNEL_SMS, &es, &got);
	assert_string_equal(got.lang, "es");
	assert_string_equal(got.body, want.body);
	templates_text_free(&got);
	render_ok(set, "court_reminder", "es-MX", CHANNEL_EMAIL, &es, &got);
	assert_string_equal(got.lang, "es");
	assert_true(has(got.html, "audiencia"));
	templates_text_free(&got);
	templates_text_free(&want);

	/* fr and NULL: English. */
	render_ok(set, "court_enrolment", "en", CHANNEL_SMS, &en, &want);
	render_ok(set, "court_enrolment", "fr", CHANNEL_SMS, &en, &got);
	assert_string_equal(got.lang, "en");
	assert_string_equal(got.body, want.body);
	templates_text_free(&got);
	render_ok(set, "court_enrolment", NULL, CHANNEL_SMS, &en, &got);
	assert_string_equal(got.lang, "en");
	assert_string_equal(got.body, want.body);
	templates_text_free(&got);
	render_ok(set, "court_enrolment", "fr-CA", CHANNEL_EMAIL, &en, &got);
	assert_string_equal(got.lang, "en");
	templates_text_free(&got);
	templates_text_free(&want);

	/* Signal: the .sms text, in every language. */
	for (size_t l = 0; l < N_LANGS; l++) {
		struct vals v = long_vals(langs[l]);

		render_ok(set, "court_reminder", langs[l], CHANNEL_SMS, &v, &want);
		render_ok(set, "court_reminder", langs[l], CHANNEL_SIGNAL, &v, &got);
		assert_string_equal(got.lang, langs[l]);
		assert_string_equal(got.body, want.body);
		assert_null(got.subject);
		templates_text_free(&got);
		templates_text_free(&want);
	}

	assert_int_equal(templates_lang(set, "court_reminder", "zh-Hans", CHANNEL_SMS, lang), 0);
	assert_string_equal(lang, "zh");
	assert_int_equal(templates_lang(set, "court_reminder", "hy-AM", CHANNEL_EMAIL, lang), 0);
	assert_string_equal(lang, "hy");
}

static void unknown_template_name_is_an_error(void **state)
{
	const struct templates *set = *state;
	struct templates_text t;
	struct vals v = long_vals("en");
	struct err err = { "" };

	assert_int_equal(templates_render(set, "court", "en", CHANNEL_SMS, vals_lookup, &v, &t,
					  &err), -1);
	assert_string_equal(err.msg, "no template \"court\"");
	assert_null(t.body);
}

static void html_values_are_escaped_and_plain_ones_not(void **state)
{
	const struct templates *set = *state;

	for (size_t l = 0; l < N_LANGS; l++) {
		struct vals v = long_vals(langs[l]);
		struct templates_text t;

		v.name = "<b>&";
		render_ok(set, "court_reminder", langs[l], CHANNEL_EMAIL, &v, &t);
		if (!has(t.html, "&lt;b&gt;&amp;") || has(t.html, "<b>"))
			fail_msg("%s: html not escaped:\n%s", langs[l], t.html);
		assert_true(has(t.body, "<b>&"));
		templates_text_free(&t);
	}
}

/* The shipped files themselves: SMS without a final newline, emails with
 * a subject. */
static void shipped_files_compile_one_by_one(void **state)
{
	static const char *const exts[] = { "sms", "email", "email.html" };

	(void)state;
	for (size_t n = 0; n < N_NAMES; n++)
	for (size_t l = 0; l < N_LANGS; l++)
	for (size_t e = 0; e < 3; e++) {
		struct template *subject = NULL, *body = NULL;
		struct err err = { "" };
		char path[PATH_MAX];
		char *text;
		size_t len;

		if (templates_compile_file(shipped_dir, names[n], langs[l], exts[e], &subject,
					   &body, &err) != 0)
			fail_msg("%s", err.msg);
		assert_non_null(body);
		if (e == 1)
			assert_non_null(subject);
		else
			assert_null(subject);
		template_free(subject);
		template_free(body);
		snprintf(path, sizeof(path), "%s/%s/%s.%s", shipped_dir, names[n], langs[l],
			 exts[e]);
		text = slurp(path);
		len = strlen(text);
		assert_true(len > 0);
		if (e == 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
			fail_msg("%s: ends with a newline or a space", path);
		if (e != 0 && text[len - 1] != '\n')
			fail_msg("%s: no final newline", path);
		free(text);
	}
}

/* Issue 13, items 1, 2, 5 and 6: the words reviewers found misleading are
 * gone, and the ones they asked for are there. */
static void opt_out_lines_say_stop_the_texts_not_the_hearing(void **state)
{
	const struct templates *set = *state;
	static const struct {
		const char *name, *lang, *want, *not;
	} cases[] = {
		/* "waiver: STOP" read as waiving the hearing or the lawyer */
		{ "court_reminder", "hy", "SMS-ից հրաժարում՝ STOP", "։ Հրաժարում՝" },
		{ "court_enrolment", "hy", "SMS-ից հրաժարում՝ STOP", "։ Հրաժարում՝" },
		/* "text STOP to cancel" read as cancelling the hearing */
		{ "court_enrolment", "vi", "Nhắn STOP để thôi nhận.", "để hủy" },
		{ "court_enrolment", "vi", "Lịch ra tòa của Quý vị:", "Số này nhắc lịch ra tòa" },
		/* a bare noun under a "[법원 ...]" header, as scams end */
		{ "court_reminder", "ko", "수신을 원치 않으시면 STOP이라고 답장해 주세요", "STOP 회신" },
		{ "court_enrolment", "ko", "수신을 원치 않으시면 STOP이라고 답장해 주세요", "STOP 회신" },
		{ "court_reminder", "ko", "일찍 도착해 주세요", "늦지 않게" },
		{ "court_reminder", "ko", "] 법원 출석 안내:", "[법원" },
		/* "po", as everywhere else in Tagalog */
		{ "court_reminder", "tl", "I-reply po ang STOP", "I-reply ang STOP" },
		{ "court_enrolment", "tl", "I-reply po ang STOP", "I-reply ang STOP" },
		/* the English letters, not a Chinese word for stop */
		{ "court_reminder", "zh", "回复英文STOP", "回复STOP" },
		{ "court_enrolment", "zh", "回复英文STOP", "回复STOP" },
		{ "court_reminder", "zh-Hant", "回覆英文STOP", "回复" },
		{ "court_enrolment", "zh-Hant", "回覆英文STOP", "回复" },
		/* usted, as the templates address the client */
		{ "consent_stop", "es", "Responda START", "Responde" },
		{ "consent_start", "es", "Responda STOP", "Responde" },
		/* the time's day period in words */
		{ "court_reminder", "vi", "10:30 sáng", " SA" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vals v = long_vals(cases[i].lang);
		struct templates_text t;

		render_ok(set, cases[i].name, cases[i].lang, CHANNEL_SMS, &v, &t);
		if (!has(t.body, cases[i].want) || has(t.body, cases[i].not))
			fail_msg("%s/%s: want \"%s\", not \"%s\": \"%s\"", cases[i].name,
				 cases[i].lang, cases[i].want, cases[i].not, t.body);
		templates_text_free(&t);
	}
}

/* Issue 13, item 3: "tomorrow" or "today" and the date, in every
 * language: a reminder read a day late must not point at the wrong day. */
static void today_and_tomorrow_keep_the_date_in_every_language(void **state)
{
	const struct templates *set = *state;

	for (size_t l = 0; l < N_LANGS; l++)
	for (int flag = 0; flag < 2; flag++) {
		struct vals v = long_vals(langs[l]);
		struct templates_text t;

		v.today = flag == 0 ? "yes" : "";
		v.tomorrow = flag == 1 ? "yes" : "";
		render_ok(set, "court_reminder", langs[l], CHANNEL_SMS, &v, &t);
		if (!has(t.body, v.date) || !has(t.body, v.time) || !has(t.body, LONG_ADDRESS) ||
		    !has(t.body, LONG_DEPT) || !has(t.body, LONG_COURT))
			fail_msg("court_reminder/%s %s: \"%s\"", langs[l],
				 flag ? "tomorrow" : "today", t.body);
		templates_text_free(&t);
	}
}

/* Issue 13, item 4: readers of traditional characters get them, and
 * Filipino is Tagalog. */
static void zh_tw_zh_hk_and_yue_choose_traditional_and_fil_tagalog(void **state)
{
	const struct templates *set = *state;
	static const struct {
		const char *tag, *want;
	} cases[] = {
		{ "zh-TW", "zh-Hant" }, { "zh-HK", "zh-Hant" }, { "zh-MO", "zh-Hant" },
		{ "zh-Hant", "zh-Hant" }, { "zh-Hant-US", "zh-Hant" }, { "zh-hant", "zh-Hant" },
		{ "yue", "zh-Hant" }, { "yue-HK", "zh-Hant" }, { "yue-US", "zh-Hant" },
		{ "yue-Hant", "zh-Hant" },
		{ "zh", "zh" }, { "zh-CN", "zh" }, { "zh-Hans", "zh" }, { "zh-Hans-HK", "zh" },
		{ "zh-US", "zh" }, { "yue-CN", "zh" }, { "yue-Hans", "zh" },
		{ "fil", "tl" }, { "fil-PH", "tl" }, { "tl", "tl" }, { "tl-PH", "tl" },
		{ "ko-KR", "ko" }, { "fr", "en" },
	};
	struct templates_text t;
	struct vals v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	for (size_t n = 0; n < N_NAMES + N_CONSENT; n++) {
		const char *name = n < N_NAMES ? names[n] : consent_names[n - N_NAMES];
		char lang[LANG_TAG_MAX];

		for (int ch = 0; ch < 2; ch++) {
			enum channel c = ch == 0 ? CHANNEL_SMS : CHANNEL_EMAIL;

			if (n >= N_NAMES && c == CHANNEL_EMAIL)
				continue;	/* the answers are .sms only */
			assert_int_equal(templates_lang(set, name, cases[i].tag, c, lang), 0);
			if (strcmp(lang, cases[i].want) != 0)
				fail_msg("%s %s %s: %s, want %s", name, cases[i].tag, channel_name(c),
					 lang, cases[i].want);
		}
	}
	/* The text itself is in traditional characters. */
	v = long_vals("zh-Hant");
	render_ok(set, "court_reminder", "zh-TW", CHANNEL_SMS, &v, &t);
	assert_string_equal(t.lang, "zh-Hant");
	assert_true(has(t.body, "請您於"));
	assert_false(has(t.body, "请"));
	templates_text_free(&t);
	render_ok(set, "court_enrolment", "yue", CHANNEL_EMAIL, &v, &t);
	assert_true(has(t.body, "時間"));
	assert_false(has(t.body, "时间"));
	templates_text_free(&t);
	assert_string_equal(templates_lang_alias("zh-TW"), "zh-Hant");
	assert_null(templates_lang_alias("zh"));
	assert_null(templates_lang_alias("es-MX"));
}

/* Issue 13, item 7: every shipped text names its sender when one is set,
 * and reads well without one. */
static void every_text_names_its_sender_and_reads_well_without(void **state)
{
	const struct templates *with = *state;
	struct templates *without = NULL;
	struct err err = { "" };

	if (templates_load(shipped_dir, "en", "", &without, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(templates_sender(with), SENDER);
	assert_string_equal(templates_sender(without), "");
	for (size_t l = 0; l < N_LANGS; l++)
	for (size_t n = 0; n < N_NAMES + N_CONSENT; n++) {
		const char *name = n < N_NAMES ? names[n] : consent_names[n - N_NAMES];

		for (int ch = 0; ch < 2; ch++) {
			enum channel c = ch == 0 ? CHANNEL_SMS : CHANNEL_EMAIL;
			struct vals v = long_vals(langs[l]);
			struct templates_text a, b;

			if (n >= N_NAMES && c == CHANNEL_EMAIL)
				continue;
			render_ok(with, name, langs[l], c, &v, &a);
			render_ok(without, name, langs[l], c, &v, &b);
			assert_string_equal(a.lang, langs[l]);
			if (!has(a.body, SENDER) || (a.subject && !has(a.subject, SENDER)) ||
			    (a.html && !has(a.html, SENDER)))
				fail_msg("%s/%s %s: no sender: \"%s\"", name, langs[l],
					 channel_name(c), a.body);
			/* Without: no empty "[] ", "【】" or ": " where it was. */
			if (b.body[0] == ' ' || b.body[0] == ':' || has(b.body, "[]") ||
			    has(b.body, "【】") || (b.subject && b.subject[0] == ':'))
				fail_msg("%s/%s %s without a sender: \"%s\"", name, langs[l],
					 channel_name(c), b.body);
			templates_text_free(&a);
			templates_text_free(&b);
		}
	}
	templates_free(without);
}

/* Issue 13, item 9: the answers to STOP, START and HELP exist in every
 * template language, say how to come back or leave, and fit. */
static void consent_answers_exist_in_every_language_and_fit(void **state)
{
	const struct templates *set = *state;

	for (size_t l = 0; l < N_LANGS; l++)
	for (size_t n = 0; n < N_CONSENT; n++) {
		static const char *const word[] = { "START", "STOP", "STOP" };
		struct vals v = long_vals(langs[l]);
		struct templates_text t;
		struct sms_segments seg;

		render_ok(set, consent_names[n], langs[l], CHANNEL_SMS, &v, &t);
		assert_string_equal(t.lang, langs[l]);
		seg = count(t.body);
		if (!has(t.body, word[n]) || seg.segments > 2 || has(t.body, "\n"))
			fail_msg("%s/%s: %d segments: \"%s\"", consent_names[n], langs[l],
				 seg.segments, t.body);
		if (gsm_lang(langs[l]) && seg.encoding != SMS_GSM7)
			fail_msg("%s/%s: not GSM-7: \"%s\"", consent_names[n], langs[l], t.body);
		templates_text_free(&t);
	}
}

/* The answer to an English STOP for a client whose language pregon knows
 * (the engine renders it at send): the templates' own fallback, help_text
 * as the channel has it, and "no template" for a name that is none. */
static void answers_render_for_the_readers_language(void **state)
{
	const struct templates *set = *state;
	struct err err = { "" };
	char *body;

	body = templates_render_answer(set, "consent_stop", "zh-TW", CHANNEL_SMS, NULL, &err);
	assert_non_null(body);
	assert_true(has(body, "您已退訂"));
	free(body);
	body = templates_render_answer(set, "consent_stop", "fil", CHANNEL_SMS, "", &err);
	assert_non_null(body);
	assert_true(has(body, "Hindi na po kayo"));
	free(body);
	body = templates_render_answer(set, "consent_help", "en-US", CHANNEL_SMS, "Call 555-0100.",
				       &err);
	assert_non_null(body);
	assert_true(has(body, "Call 555-0100."));
	free(body);
	body = templates_render_answer(set, "consent_help", "de", CHANNEL_SMS, NULL, &err);
	assert_non_null(body);
	assert_true(has(body, "Reminders from your legal team."));
	free(body);
	assert_null(templates_render_answer(set, "consent_nope", "es", CHANNEL_SMS, NULL, &err));
	assert_true(has(err.msg, "no template"));
}

/* [templates] sender heads every SMS: one short line, checked at load. */
static void sender_is_checked_at_load(void **state)
{
	struct templates *set = NULL;
	struct err err = { "" };
	char long_sender[TEMPLATES_SENDER_MAX + 2];

	(void)state;
	memset(long_sender, 'a', sizeof(long_sender) - 1);
	long_sender[sizeof(long_sender) - 1] = '\0';
	assert_int_equal(templates_load(shipped_dir, "en", long_sender, &set, &err), -1);
	assert_null(set);
	assert_string_equal(err.msg, "[templates] sender: at most 40 bytes, got 41 (every SMS "
				     "starts with it)");
	assert_int_equal(templates_load(shipped_dir, "en", "La Defensa\nSTOP", &set, &err), -1);
	assert_string_equal(err.msg, "[templates] sender: a control character at byte 11");
	assert_int_equal(templates_load(shipped_dir, "en", "La Defensa \xff", &set, &err), -1);
	assert_string_equal(err.msg, "[templates] sender: not UTF-8");
	long_sender[TEMPLATES_SENDER_MAX] = '\0';
	assert_int_equal(templates_load(shipped_dir, "en", long_sender, &set, &err), 0);
	templates_free(set);
}

/* ---- loader errors ---------------------------------------------------- */

static void minimal_set_loads(void **state)
{
	struct tmpset t;

	(void)state;
	tmpset_make(&t);
	load_ok(&t, 4);
	tmpset_free(&t);
}

static void unknown_variable_names_file_line_and_column(void **state)
{
	struct tmpset t;

	(void)state;
	tmpset_make(&t);
	put(&t, "court_reminder/es.sms", "Hola {{cort}}");
	load_fails_with(&t, "court_reminder/es.sms: line 1, column 6: unknown variable \"cort\"");
	/* Columns count code points: "Año " is 4. */
	put(&t, "court_reminder/es.sms", "A\xc3\xb1o {{cort}}");
	load_fails_with(&t, "court_reminder/es.sms: line 1, column 5: unknown variable \"cort\"");
	/* "changed" belongs to court_enrolment only. */
	put(&t, "court_reminder/es.sms", "{{#if changed}}x{{/if}}");
	load_fails_with(&t, "court_reminder/es.sms: line 1, column 1: unknown variable \"changed\"");
	tmpset_free(&t);
}

static void email_needs_subject_line_then_empty_line(void **state)
{
	struct tmpset t;

	(void)state;
	tmpset_make(&t);
	put(&t, "court_reminder/es.email", "Hola\n\nCorte {{date}}\n");
	load_fails_with(&t, "court_reminder/es.email: line 1: an email template starts with "
			    "\"Subject: ...\"");
	put(&t, "court_reminder/es.email", "Subject: Corte\nHola\n");
	load_fails_with(&t, "court_reminder/es.email: line 2: an empty line must follow the "
			    "subject");
	put(&t, "court_reminder/es.email", "Subject: Corte");
	load_fails_with(&t, "court_reminder/es.email: line 2: an empty line must follow the "
			    "subject");
	put(&t, "court_reminder/es.email", "Subject:  \n\nHola\n");
	load_fails_with(&t, "court_reminder/es.email: line 1: the subject is empty");
	put(&t, "court_reminder/es.email", "Subject: {{dat}}\n\nHola\n");
	load_fails_with(&t, "court_reminder/es.email: subject: line 1, column 1: unknown "
			    "variable \"dat\"");
	/* CRLF is fine. */
	put(&t, "court_reminder/es.email", "Subject: Corte {{date}}\r\n\r\nHola\r\n");
	load_ok(&t, 5);
	tmpset_free(&t);
}

static void email_body_errors_give_the_line_in_the_file(void **state)
{
	struct tmpset t;

	(void)state;
	tmpset_make(&t);
	put(&t, "court_reminder/es.email", "Subject: Corte\n\n{{nope}}\n");
	load_fails_with(&t, "court_reminder/es.email: line 3, column 1: unknown variable \"nope\"");
	put(&t, "court_reminder/es.email", "Subject: Corte\n\nHola,\n\nla corte: {{cort}}\n");
	load_fails_with(&t, "court_reminder/es.email: line 5, column 11: unknown variable "
			    "\"cort\"");
	put(&t, "court_reminder/es.email.html", "<p>\n{{#if name}}x\n</p>\n");
	load_fails_with(&t, "court_reminder/es.email.html: line 2, column 1: {{#if name}} "
			    "without {{/if}}");
	tmpset_free(&t);
}

static void default_language_must_have_sms_and_email(void **state)
{
	struct tmpset t;

	(void)state;
	tmpset_make(&t);
	del(&t, "court_enrolment/en.sms");
	put(&t, "court_enrolment/es.sms", "Corte {{date}} {{time}}. STOP");
	load_fails_with(&t, "court_enrolment/en.sms: missing (the default language must have "
			    "every template)");
	put(&t, "court_enrolment/en.sms", "Court {{date}}. STOP");
	del(&t, "court_reminder/en.email");
	load_fails_with(&t, "court_reminder/en.email: missing (the default language must have "
			    "every template)");
	tmpset_free(&t);
}

static void file_names_are_checked(void **state)
{
	struct tmpset t;

	(void)state;
	tmpset_make(&t);
	put(&t, "court_reminder/EN.sms", "Court {{date}}");
	load_fails_with(&t, "court_reminder/EN.sms: write the language tag as \"en\"");
	del(&t, "court_reminder/EN.sms");
	put(&t, "court_reminder/es-mx.sms", "Corte {{date}}");
	load_fails_with(&t, "court_reminder/es-mx.sms: write the language tag as \"es-MX\"");
	del(&t, "court_reminder/es-mx.sms");
	put(&t, "court_reminder/en.txt", "Court {{date}}");
	load_fails_with(&t, "court_reminder/en.txt: unknown channel \"txt\" (sms, signal, email, "
			    "email.html)");
	del(&t, "court_reminder/en.txt");
	put(&t, "court_reminder/english.sms", "Court {{date}}");
	load_fails_with(&t, "court_reminder/english.sms: \"english\" is not a language tag");
	del(&t, "court_reminder/english.sms");
	put(&t, "court_reminder/sms", "Court {{date}}");
	load_fails_with(&t, "court_reminder/sms: expected <lang>.<channel>, e.g. es.sms");
	del(&t, "court_reminder/sms");
	load_ok(&t, 4);
	tmpset_free(&t);
}

static void hidden_files_readme_and_backups_are_ignored(void **state)
{
	struct tmpset t;
	char *log;

	(void)state;
	tmpset_make(&t);
	put(&t, "court_reminder/.en.sms.swp", "{{broken");
	put(&t, "court_reminder/en.sms~", "{{broken");
	put(&t, "court_reminder/README", "{{broken");
	put(&t, "court_reminder/README.md", "{{broken");
	put(&t, ".hidden", "x");
	put(&t, "README.txt", "x");
	load_ok(&t, 4);
	log = slurp(t.log);
	assert_string_equal(log, "");
	free(log);
	/* A directory no message uses is a warning, not an error. */
	{
		char sub[128];

		snprintf(sub, sizeof(sub), "%s/court_reminders", t.dir);
		assert_int_equal(mkdir(sub, 0700), 0);
	}
	load_ok(&t, 4);
	log = slurp(t.log);
	if (!has(log, "court_reminders: no message uses this name; ignored"))
		fail_msg("log: %s", log);
	free(log);
	tmpset_free(&t);
}

static void file_longer_than_max_text_is_refused(void **state)
{
	struct tmpset t;
	char *big = malloc(TEMPLATE_MAX_TEXT + 1);
	char want[128];

	(void)state;
	assert_non_null(big);
	memset(big, 'a', TEMPLATE_MAX_TEXT + 1);
	tmpset_make(&t);
	put_file(&t, "court_reminder/es.email.html", big, TEMPLATE_MAX_TEXT + 1);
	snprintf(want, sizeof(want), "court_reminder/es.email.html: longer than %u bytes",
		 TEMPLATE_MAX_TEXT);
	load_fails_with(&t, want);
	/* Exactly the limit is accepted. */
	put_file(&t, "court_reminder/es.email.html", big, TEMPLATE_MAX_TEXT);
	put(&t, "court_reminder/es.email", "Subject: x\n\ny\n");
	load_ok(&t, 6);
	tmpset_free(&t);
	free(big);
}

/* The loader renders each SMS with every combination of the flags: a text
 * too long only when "tomorrow" alone is set is warned about too. */
static void segment_warning_covers_every_flag_combination(void **state)
{
	struct tmpset t;
	char text[1024], *log;

	(void)state;
	tmpset_make(&t);
	snprintf(text, sizeof(text),
		 "{{#if today}}Hoy.{{else}}{{#if tomorrow}}%0470d{{else}}El {{date}}."
		 "{{/if}}{{/if}} STOP", 0);
	put(&t, "court_reminder/es.sms", text);
	load_ok(&t, 5);
	log = slurp(t.log);
	if (!has(log, "templates: court_reminder/es.sms renders to 4 SMS segments (GSM-7) with "
		      "long sample values; keep it within 3"))
		fail_msg("log: \"%s\"", log);
	free(log);
	/* 3 segments is what a UCS-2 reminder may take (issue 13): no
	 * warning. */
	snprintf(text, sizeof(text),
		 "{{#if today}}Hoy.{{else}}{{#if tomorrow}}%0400d{{else}}El {{date}}."
		 "{{/if}}{{/if}} STOP", 0);
	put(&t, "court_reminder/es.sms", text);
	load_ok(&t, 5);
	log = slurp(t.log);
	assert_string_equal(log, "");
	free(log);
	/* Short in every branch: nothing logged. */
	put(&t, "court_reminder/es.sms", "{{#if today}}Hoy{{else}}{{#if tomorrow}}Mañana"
					 "{{else}}El {{date}}{{/if}}{{/if}}. STOP");
	load_ok(&t, 5);
	log = slurp(t.log);
	assert_string_equal(log, "");
	free(log);
	/* One á makes it UCS-2: 4 segments of 67. */
	snprintf(text, sizeof(text), "{{#if changed}}%0200d{{/if}} \xc3\xa1 {{date}}", 0);
	put(&t, "court_enrolment/es.sms", text);
	load_ok(&t, 6);
	log = slurp(t.log);
	if (!has(log, "templates: court_enrolment/es.sms renders to 4 SMS segments (UCS-2)"))
		fail_msg("log: \"%s\"", log);
	free(log);
	tmpset_free(&t);
}

static void compile_file_checks_name_channel_and_file(void **state)
{
	struct template *subject = (void *)1, *body = (void *)1;
	struct err err = { "" };
	char want[PATH_MAX + 64];

	(void)state;
	assert_int_equal(templates_compile_file(shipped_dir, "court", "en", "sms", &subject, &body,
						&err), -1);
	assert_string_equal(err.msg, "NAME: unknown template \"court\" (court_reminder, "
				     "court_enrolment, consent_stop, consent_start, consent_help, "
				     "townhall_confirmation, townhall_reminder, townhall_change, "
				     "townhall_cancel)");
	assert_null(subject);
	assert_null(body);
	assert_int_equal(templates_compile_file(shipped_dir, "court_reminder", "en", "txt",
						&subject, &body, &err), -1);
	assert_string_equal(err.msg, "CHANNEL: expected sms, signal, email or email.html, got "
				     "\"txt\"");
	assert_int_equal(templates_compile_file(shipped_dir, "court_reminder", "english", "sms",
						&subject, &body, &err), -1);
	assert_string_equal(err.msg, "LANG: not a language tag: \"english\"");
	assert_int_equal(templates_compile_file(shipped_dir, "court_reminder", "fr", "sms",
						&subject, &body, &err), -1);
	snprintf(want, sizeof(want), "%s/court_reminder/fr.sms: not found", shipped_dir);
	assert_string_equal(err.msg, want);
	/* No .signal file is shipped. */
	assert_int_equal(templates_compile_file(shipped_dir, "court_reminder", "en", "signal",
						&subject, &body, &err), -1);
	snprintf(want, sizeof(want), "%s/court_reminder/en.signal: not found", shipped_dir);
	assert_string_equal(err.msg, want);
	assert_null(subject);
	assert_null(body);

	/* A compile error names the path. */
	{
		struct tmpset t;

		tmpset_make(&t);
		put(&t, "court_reminder/es.email", "Subject: x\n\n{{cort}}\n");
		assert_int_equal(templates_compile_file(t.dir, "court_reminder", "es", "email",
							&subject, &body, &err), -1);
		snprintf(want, sizeof(want), "%s/court_reminder/es.email: line 3, column 1: "
			 "unknown variable \"cort\"", t.dir);
		assert_string_equal(err.msg, want);
		assert_null(subject);
		assert_null(body);
		tmpset_free(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shipped_set_loads_96_files_without_warnings),
		cmocka_unit_test(every_name_language_and_channel_renders),
		cmocka_unit_test(flags_change_the_text),
		cmocka_unit_test(sms_fit_their_segments_on_every_weekday),
		cmocka_unit_test(english_sms_is_plain_ascii_text),
		cmocka_unit_test(language_falls_back_to_primary_subtag_then_default),
		cmocka_unit_test(unknown_template_name_is_an_error),
		cmocka_unit_test(html_values_are_escaped_and_plain_ones_not),
		cmocka_unit_test(shipped_files_compile_one_by_one),
		cmocka_unit_test(minimal_set_loads),
		cmocka_unit_test(unknown_variable_names_file_line_and_column),
		cmocka_unit_test(email_needs_subject_line_then_empty_line),
		cmocka_unit_test(email_body_errors_give_the_line_in_the_file),
		cmocka_unit_test(default_language_must_have_sms_and_email),
		cmocka_unit_test(file_names_are_checked),
		cmocka_unit_test(hidden_files_readme_and_backups_are_ignored),
		cmocka_unit_test(file_longer_than_max_text_is_refused),
		cmocka_unit_test(segment_warning_covers_every_flag_combination),
		cmocka_unit_test(compile_file_checks_name_channel_and_file),
		cmocka_unit_test(opt_out_lines_say_stop_the_texts_not_the_hearing),
		cmocka_unit_test(today_and_tomorrow_keep_the_date_in_every_language),
		cmocka_unit_test(zh_tw_zh_hk_and_yue_choose_traditional_and_fil_tagalog),
		cmocka_unit_test(every_text_names_its_sender_and_reads_well_without),
		cmocka_unit_test(consent_answers_exist_in_every_language_and_fit),
		cmocka_unit_test(answers_render_for_the_readers_language),
		cmocka_unit_test(sender_is_checked_at_load),
	};
	return cmocka_run_group_tests(tests, setup_shipped, teardown_shipped);
}
