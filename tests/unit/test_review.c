/* test_review.c: the review sheet (review.h). config/templates/REVIEW.md
 * must be what the shipped templates and back-translations make (issue
 * 13: a template changed without regenerating it fails here), and the
 * generator refuses a language without a back-translation or a review
 * state. Runs from the repository root, as tests/run.sh does;
 * PREGON_TEMPLATES_DIR overrides the folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "review.h"

static const char *shipped(void)
{
	const char *env = getenv("PREGON_TEMPLATES_DIR");

	return env != NULL && env[0] != '\0' ? env : "config/templates";
}

/* A small template folder under /tmp: English and Spanish reminders. */
struct tmpset {
	char dir[64];
};

static void put(const struct tmpset *t, const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	f = fopen(path, "wb");
	if (f == NULL)
		fail_msg("cannot write %s", path);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
}

static void tmpset_make(struct tmpset *t)
{
	char sub[128];

	snprintf(t->dir, sizeof(t->dir), "/tmp/pregon-test-review.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		fail_msg("mkdtemp failed");
	snprintf(sub, sizeof(sub), "%s/court_reminder", t->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	put(t, "REVIEW.status", "# tag, name, state\nen\tEnglish\tthe source text\n"
				"es\tSpanish\tawaiting a native speaker's review\n");
	put(t, "court_reminder/en.sms", "{{sender}}: court {{#if tomorrow}}tomorrow, {{/if}}"
					"{{date}} at {{time}}. Reply STOP to stop.");
	put(t, "court_reminder/es.sms", "Corte {{#if tomorrow}}mañana, {{/if}}{{date}}, "
					"{{time}}. STOP");
	put(t, "court_reminder/es.sms.back", "Court {{#if tomorrow}}tomorrow, {{/if}}{{date}}, "
					     "{{time}}. STOP");
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
}

/* Writes the sheet of t into t/REVIEW.md, as make review does. */
static void write_sheet(const struct tmpset *t)
{
	struct buf out = { 0 };
	struct err err = { "" };
	char *text;

	if (review_sheet(t->dir, &out, &err) != 0)
		fail_msg("%s", err.msg);
	text = buf_take(&out);
	assert_non_null(text);
	put(t, "REVIEW.md", text);
	free(text);
}

static void shipped_review_sheet_is_up_to_date(void **state)
{
	struct err err = { "" };

	(void)state;
	if (review_check(shipped(), &err) != 0)
		fail_msg("%s/%s", shipped(), err.msg);
}

/* Issue 13: ko, vi and hy await a native speaker, and the sheet says so
 * above each of their texts; every language of every text has its
 * back-translation and segment count. */
static void shipped_sheet_marks_ko_vi_hy_awaiting_review(void **state)
{
	static const char *const heads[] = {
		"### ko, Korean: awaiting a native speaker's review\n",
		"### vi, Vietnamese: awaiting a native speaker's review\n",
		"### hy, Armenian (Eastern): awaiting a native speaker's review",
	};
	static const char *const names[] = { "court_reminder", "court_enrolment", "consent_stop",
					     "consent_start", "consent_help" };
	struct buf out = { 0 };
	struct err err = { "" };
	size_t backs = 0, segs = 0;

	(void)state;
	if (review_sheet(shipped(), &out, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(buf_add(&out, "", 1), 0);	/* a C string */
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		size_t n = 0;

		for (const char *p = strstr(out.p, heads[i]); p; p = strstr(p + 1, heads[i]))
			n++;
		/* each SMS text, and the two emails */
		if (n != sizeof(names) / sizeof(names[0]) + 2)
			fail_msg("\"%s\" %zu times", heads[i], n);
	}
	for (const char *p = strstr(out.p, "Back-translation:"); p;
	     p = strstr(p + 1, "Back-translation:"))
		backs++;
	for (const char *p = strstr(out.p, " SMS segment"); p; p = strstr(p + 1, " SMS segment"))
		segs++;
	/* 8 languages; SMS 3 + 2 + 1 + 1 + 1 cases each, email 3 + 2; all
	 * but English back-translated. The town halls' in English and
	 * Spanish: SMS and email 1 + 3 + 1 + 1 cases each. */
	assert_int_equal(segs, 8 * 8 + 2 * 6);
	assert_int_equal(backs, 7 * 8 + 7 * 5 + 2 * 6);
	assert_non_null(strstr(out.p, "## court_reminder, email\n"));
	assert_non_null(strstr(out.p, "> Subject: [Public Defenders] Court appearance notice: "
				      "Wednesday, September 30\n"));
	buf_free(&out);
}

static void a_template_changed_without_regenerating_fails_the_check(void **state)
{
	struct tmpset t;
	struct err err = { "" };

	(void)state;
	tmpset_make(&t);
	assert_int_equal(review_check(t.dir, &err), -1);
	assert_string_equal(err.msg, "REVIEW.md: No such file or directory: run make review");
	write_sheet(&t);
	assert_int_equal(review_check(t.dir, &err), 0);
	/* The text changes: the sheet is stale. */
	put(&t, "court_reminder/es.sms", "Corte {{#if tomorrow}}mañana, {{/if}}{{date}} a las "
					 "{{time}}. STOP");
	assert_int_equal(review_check(t.dir, &err), -1);
	assert_non_null(strstr(err.msg, "REVIEW.md: out of date from line "));
	assert_non_null(strstr(err.msg, "run make review"));
	write_sheet(&t);
	assert_int_equal(review_check(t.dir, &err), 0);
	/* So does its back-translation, and a review state. */
	put(&t, "court_reminder/es.sms.back", "Court {{date}}, {{time}}. STOP");
	assert_int_equal(review_check(t.dir, &err), -1);
	write_sheet(&t);
	put(&t, "REVIEW.status", "en\tEnglish\tthe source text\nes\tSpanish\treviewed\n");
	assert_int_equal(review_check(t.dir, &err), -1);
	write_sheet(&t);
	assert_int_equal(review_check(t.dir, &err), 0);
	tmpset_free(&t);
}

static void every_language_needs_a_back_translation_and_a_state(void **state)
{
	struct tmpset t;
	struct buf out = { 0 };
	struct err err = { "" };
	char path[128];

	(void)state;
	tmpset_make(&t);
	snprintf(path, sizeof(path), "%s/court_reminder/es.sms.back", t.dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(review_sheet(t.dir, &out, &err), -1);
	assert_string_equal(err.msg, "court_reminder/es.sms.back: not found (every language but "
				     "English has a back-translation)");
	put(&t, "court_reminder/es.sms.back", "Court {{cort}}");
	buf_reset(&out);
	assert_int_equal(review_sheet(t.dir, &out, &err), -1);
	assert_string_equal(err.msg, "court_reminder/es.sms.back: line 1, column 7: unknown "
				     "variable \"cort\"");
	put(&t, "court_reminder/es.sms.back", "Court {{date}}");
	put(&t, "REVIEW.status", "en\tEnglish\tthe source text\n");
	buf_reset(&out);
	assert_int_equal(review_sheet(t.dir, &out, &err), -1);
	assert_string_equal(err.msg, "REVIEW.status: no line for \"es\" (court_reminder/es.sms)");
	put(&t, "REVIEW.status", "en English\n");
	buf_reset(&out);
	assert_int_equal(review_sheet(t.dir, &out, &err), -1);
	assert_string_equal(err.msg, "REVIEW.status: line 1: expected tag TAB name TAB state");
	buf_free(&out);
	tmpset_free(&t);
}

/* What the sheet shows of one text: the rendering, its segments, the
 * back-translation in English dates. */
static void sheet_shows_rendering_segments_and_back_translation(void **state)
{
	struct tmpset t;
	struct buf out = { 0 };
	struct err err = { "" };

	(void)state;
	tmpset_make(&t);
	assert_int_equal(review_sheet(t.dir, &out, &err), 0);
	assert_int_equal(buf_add(&out, "", 1), 0);
	if (strstr(out.p, "### es, Spanish: awaiting a native speaker's review\n\n"
			  "On another day: 1 SMS segment (GSM-7, 52 characters)\n\n"
			  "> Corte miércoles, 30 de septiembre, 10:30 a. m.. STOP\n\n"
			  "Back-translation:\n\n"
			  "> Court Wednesday, September 30, 10:30 AM. STOP\n\n"
			  "The day before: 1 SMS segment (GSM-7, 60 characters)\n\n"
			  "> Corte mañana, miércoles, 30 de septiembre, 10:30 a. m.. STOP\n\n") == NULL)
		fail_msg("%s", out.p);
	buf_free(&out);
	tmpset_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shipped_review_sheet_is_up_to_date),
		cmocka_unit_test(shipped_sheet_marks_ko_vi_hy_awaiting_review),
		cmocka_unit_test(a_template_changed_without_regenerating_fails_the_check),
		cmocka_unit_test(every_language_needs_a_back_translation_and_a_state),
		cmocka_unit_test(sheet_shows_rendering_segments_and_back_translation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
