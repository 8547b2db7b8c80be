/* test_townhall.c: town halls (townhall.h): the plan (the notice now,
 * reminders before the start out of quiet hours, past ones, merged ones,
 * expiry), the record's values and change signature, the shipped texts in
 * English and Spanish on every channel (each SMS within 2 segments with
 * long sample values), and the calendar invitation read back line by line
 * and through libical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libical/ical.h>

#include "datefmt.h"
#include "sms_segments.h"
#include "townhall.h"
#include "tz.h"
#include "utf8.h"

#define LA "America/Los_Angeles"

/* The contract's example, with a name and Spanish. */
static const char contract_job[] =
	"{\"id\":\"reg-9931\",\"kind\":\"townhall_confirmation\","
	"\"event\":{\"ref\":\"townhall-2026-12-05\",\"title\":\"Re-Imagine LA Town Hall\","
	"\"starts_at\":\"2026-12-05T18:00:00\",\"ends_at\":\"2026-12-05T19:30:00\","
	"\"tz\":\"America/Los_Angeles\",\"location\":\"Online\","
	"\"join_url\":\"https://example.org/join/abc\"},"
	"\"recipient\":{\"id\":\"member-3\",\"name\":\"Ana\",\"email\":\"m3@example.org\","
	"\"phone\":\"+12135550111\",\"lang\":\"es\"},"
	"\"reminders\":[\"P1D\",\"PT1H\"]}";

static int64_t at(const char *iso)
{
	int64_t ms;
	struct err err;

	assert_int_equal(time_parse_iso8601(iso, NULL, &ms, &err), 0);
	return ms;
}

static struct job th_job(const char *starts_local, const char *ends_local, const char *rcp_tz)
{
	struct job job;
	struct err err;

	memset(&job, 0, sizeof(job));
	job.kind = JOB_TOWNHALL_CONFIRMATION;
	job.id = "reg-1";
	job.event_ref = "townhall-1";
	job.title = "Town Hall";
	job.event_tz = LA;
	job.recipient.id = "member-3";
	job.recipient.tz = rcp_tz;
	assert_int_equal(time_parse_iso8601(starts_local, LA, &job.starts_ms, &err), 0);
	if (ends_local != NULL)
		assert_int_equal(time_parse_iso8601(ends_local, LA, &job.ends_ms, &err), 0);
	return job;
}

static void reminders(struct job *job, const char *const *iso, int n)
{
	struct err err;

	for (int i = 0; i < n; i++)
		assert_int_equal(duration_parse_iso8601(iso[i], &job->offsets[i], &err), 0);
	job->n_offsets = n;
}

static struct townhall_plan plan_of(const struct config *cfg, const struct job *job, int64_t now)
{
	struct townhall_plan plan;
	struct err err;

	assert_int_equal(townhall_plan_make(cfg, job, now, &plan, &err), 0);
	return plan;
}

/* The plan of job with reminders r (n of them; 0: the config's) under the
 * default config, at now. */
static struct townhall_plan plan_with(struct job *job, const char *const *r, int n,
				      const char *now)
{
	struct config cfg;

	config_defaults(&cfg);
	reminders(job, r, n);
	return plan_of(&cfg, job, at(now));
}

/* ---- the plan ---- */

static void the_notice_goes_now_and_reminders_a_day_and_an_hour_before(void **state)
{
	struct job job = th_job("2026-12-05T18:00:00", NULL, NULL);	/* 02:00Z on the 6th */
	/* [townhall] reminders = P1D,PT1H; now 12:00 PST */
	struct townhall_plan p = plan_with(&job, NULL, 0, "2026-11-20T20:00:00Z");

	(void)state;
	assert_int_equal(p.n, 3);
	assert_string_equal(p.quiet_tz, LA);
	assert_int_equal(p.msgs[0].kind, TOWNHALL_MSG_NOTICE);
	assert_int_equal(p.msgs[0].due_ms, at("2026-11-20T20:00:00Z"));
	/* No ends_at: the notice is worth sending until an hour after the start. */
	assert_int_equal(p.msgs[0].expires_ms, at("2026-12-06T03:00:00Z"));
	assert_false(p.msgs[0].past);
	assert_int_equal(p.msgs[1].kind, TOWNHALL_MSG_REMINDER);
	assert_int_equal(p.msgs[1].at_ms, at("2026-12-05T02:00:00Z"));
	assert_int_equal(p.msgs[1].due_ms, at("2026-12-05T02:00:00Z"));
	assert_int_equal(p.msgs[2].due_ms, at("2026-12-06T01:00:00Z"));
	for (int i = 1; i < 3; i++) {
		assert_int_equal(p.msgs[i].expires_ms, job.starts_ms);
		assert_false(p.msgs[i].past);
	}
}

static void the_jobs_reminders_replace_the_defaults_as_calendar_days(void **state)
{
	static const char *const r[] = { "P7D", "P1D", "PT24H", "PT30M" };
	/* 18:00 PDT on the Sunday clocks go forward: a calendar day before is
	 * 18:00 PST, 24 hours before is 17:00 PST. */
	struct job job = th_job("2027-03-14T18:00:00", "2027-03-14T19:00:00", NULL);
	struct townhall_plan p = plan_with(&job, r, 4, "2027-03-01T20:00:00Z");

	(void)state;
	assert_int_equal(p.n, 5);
	assert_int_equal(p.msgs[1].due_ms, at("2027-03-08T02:00:00Z"));	/* 03-07 18:00 PST */
	assert_int_equal(p.msgs[2].due_ms, at("2027-03-14T02:00:00Z"));	/* 03-13 18:00 PST */
	assert_int_equal(p.msgs[3].due_ms, at("2027-03-14T01:00:00Z"));	/* 03-13 17:00 PST */
	assert_int_equal(p.msgs[4].due_ms, at("2027-03-15T00:30:00Z"));	/* 17:30 PDT */
	assert_int_equal(p.msgs[0].expires_ms, job.ends_ms);
}

static void a_reminder_in_quiet_hours_moves_to_the_minute_before_them(void **state)
{
	static const char *const r[] = { "P1D", "PT3H", "PT2H" };
	struct job job = th_job("2026-12-05T09:00:00", NULL, NULL);
	struct townhall_plan p = plan_with(&job, r, 3, "2026-11-20T20:00:00Z");

	(void)state;
	/* 06:00 and 07:00 PST are quiet: both move to 20:59 the evening
	 * before, and are one reminder. */
	assert_int_equal(p.n, 3);
	assert_int_equal(p.msgs[1].due_ms, at("2026-12-04T17:00:00Z"));
	assert_int_equal(p.msgs[2].at_ms, at("2026-12-05T14:00:00Z"));
	assert_int_equal(p.msgs[2].due_ms, at("2026-12-05T04:59:00Z"));
	assert_true(p.msgs[2].due_ms < p.msgs[2].at_ms);
}

static void quiet_hours_are_the_recipients_then_the_events(void **state)
{
	static const char *const r[] = { "PT3H" };
	struct config cfg;
	struct job ny = th_job("2026-12-05T09:00:00", NULL, "America/New_York");
	struct townhall_plan p;
	struct err err;

	(void)state;
	config_defaults(&cfg);
	reminders(&ny, r, 1);
	/* 06:00 PST is 09:00 EST: allowed in New York. */
	p = plan_of(&cfg, &ny, at("2026-11-20T20:00:00Z"));
	assert_string_equal(p.quiet_tz, "America/New_York");
	assert_int_equal(p.msgs[1].due_ms, at("2026-12-05T14:00:00Z"));
	assert_int_equal(quiet_hours_parse("none", &cfg.quiet, &err), 0);
	ny.recipient.tz = NULL;
	p = plan_of(&cfg, &ny, at("2026-11-20T20:00:00Z"));
	assert_string_equal(p.quiet_tz, LA);
	assert_int_equal(p.msgs[1].due_ms, at("2026-12-05T14:00:00Z"));
}

static void the_notice_waits_for_morning_but_never_past_the_start(void **state)
{
	struct config cfg;
	struct job later = th_job("2026-12-05T18:00:00", NULL, NULL);
	struct job early = th_job("2026-12-05T07:30:00", NULL, NULL);

	(void)state;
	config_defaults(&cfg);
	/* 23:00 PST: held to 08:00 the next morning. */
	assert_int_equal(plan_of(&cfg, &later, at("2026-11-21T07:00:00Z")).msgs[0].due_ms,
			 at("2026-11-21T16:00:00Z"));
	/* 05:00 PST on the day of a 07:30 event: 08:00 would be too late. */
	assert_int_equal(plan_of(&cfg, &early, at("2026-12-05T13:00:00Z")).msgs[0].due_ms,
			 at("2026-12-05T13:00:00Z"));
}

static void past_reminders_are_marked_and_the_notice_lasts_until_the_end(void **state)
{
	struct job job = th_job("2026-12-05T18:00:00", "2026-12-05T19:30:00", NULL);
	/* 17:30: half an hour before */
	struct townhall_plan p = plan_with(&job, NULL, 0, "2026-12-06T01:30:00Z");

	(void)state;
	assert_int_equal(p.n, 3);
	assert_false(p.msgs[0].past);
	assert_true(p.msgs[1].past);
	assert_true(p.msgs[2].past);
	/* Registered during the meeting: the notice (with its link) still goes. */
	p = plan_with(&job, NULL, 0, "2026-12-06T02:30:00Z");
	assert_false(p.msgs[0].past);
	assert_int_equal(p.msgs[0].due_ms, at("2026-12-06T02:30:00Z"));
	/* After the end: nothing. */
	p = plan_with(&job, NULL, 0, "2026-12-06T03:30:00Z");
	for (int i = 0; i < p.n; i++)
		assert_true(p.msgs[i].past);
}

/* ---- the record ---- */

static void vars_and_sig_keep_what_the_texts_and_a_change_need(void **state)
{
	struct job job, moved, renamed;
	struct err err;
	char *v, *s1, *s2, *s3;
	char other[sizeof(contract_job)];

	(void)state;
	assert_int_equal(job_parse(contract_job, sizeof(contract_job) - 1, NULL, &job, &err), 0);
	assert_string_equal(job.event_ref, "townhall-2026-12-05");
	assert_int_equal(job.n_offsets, 2);
	v = townhall_vars_json(&job);
	assert_non_null(v);
	assert_string_equal(v, "{\"lang\":\"es\",\"name\":\"Ana\",\"title\":\"Re-Imagine LA Town Hall\","
			    "\"starts\":1796522400000,\"ends\":1796527800000,"
			    "\"tz\":\"America/Los_Angeles\",\"location\":\"Online\","
			    "\"join_url\":\"https://example.org/join/abc\",\"ref\":\"townhall-2026-12-05\","
			    "\"rid\":\"member-3\"}");
	/* No address of the recipient in the record's values. */
	assert_null(strstr(v, "example.org\",\"ref"));
	assert_null(strstr(v, "m3@"));
	assert_null(strstr(v, "+1213"));
	/* The same event at another place, and the same with another name. */
	memcpy(other, contract_job, sizeof(other));
	memcpy(strstr(other, "\"Online\""), "\"Zoom!!\"", 8);
	assert_int_equal(job_parse(other, sizeof(other) - 1, NULL, &moved, &err), 0);
	memcpy(other, contract_job, sizeof(other));
	memcpy(strstr(other, "\"Ana\""), "\"Bea\"", 5);
	assert_int_equal(job_parse(other, sizeof(other) - 1, NULL, &renamed, &err), 0);
	s1 = townhall_sig(&job);
	s2 = townhall_sig(&moved);
	s3 = townhall_sig(&renamed);
	assert_non_null(s1);
	assert_string_not_equal(s1, s2);
	assert_string_equal(s1, s3);
	free(v);
	free(s1);
	free(s2);
	free(s3);
	job_free(&job);
	job_free(&moved);
	job_free(&renamed);
}

static void a_job_without_reminders_leaves_them_to_the_config(void **state)
{
	static const char doc[] =
		"{\"id\":\"reg-2\",\"kind\":\"townhall_confirmation\","
		"\"event\":{\"ref\":\"th-2\",\"title\":\"T\",\"starts_at\":\"2026-12-05T18:00:00Z\","
		"\"tz\":\"UTC\",\"location\":\"\"},"
		"\"recipient\":{\"id\":\"m\",\"email\":\"m@example.org\"}}";
	struct job job;
	struct err err;
	char *v;

	(void)state;
	assert_int_equal(job_parse(doc, sizeof(doc) - 1, NULL, &job, &err), 0);
	assert_int_equal(job.n_offsets, 0);
	assert_null(job.location);
	assert_null(job.join_url);
	assert_int_equal(job.ends_ms, 0);
	v = townhall_vars_json(&job);
	assert_non_null(strstr(v, "\"ends\":0,\"tz\":\"UTC\",\"location\":\"\",\"join_url\":\"\""));
	free(v);
	job_free(&job);
}

/* ---- the texts ---- */

/* The shipped set: run from the checkout's root (as test_review.c), or
 * PREGON_TEMPLATES_DIR. */
static const char *shipped_dir(void)
{
	const char *env = getenv("PREGON_TEMPLATES_DIR");

	return env != NULL && env[0] != '\0' ? env : "config/templates";
}

static struct templates *shipped(const char *sender)
{
	struct templates *set;
	struct err err;

	if (templates_load(shipped_dir(), "en", sender, &set, &err) != 0)
		fail_msg("%s: %s (run from the checkout's root)", shipped_dir(), err.msg);
	return set;
}

static char *vars_of(const char *lang)
{
	struct job job;
	struct err err;
	char *v;

	assert_int_equal(job_parse(contract_job, sizeof(contract_job) - 1, NULL, &job, &err), 0);
	job.recipient.lang = lang;
	v = townhall_vars_json(&job);
	job_free(&job);
	assert_non_null(v);
	return v;
}

static void render_ok(const struct templates *set, const char *name, const char *vars,
		      enum channel ch, int64_t now, const char *link, struct templates_text *t)
{
	struct err err;

	if (townhall_render(set, name, vars, ch, now, link, t, &err) != 0)
		fail_msg("%s: %s", name, err.msg);
}

static void contains(const char *text, const char *want)
{
	if (text == NULL || strstr(text, want) == NULL)
		fail_msg("\"%s\" not in \"%s\"", want, text ? text : "(null)");
}

static const char *const names[] = { TOWNHALL_TEMPLATE_CONFIRMATION, TOWNHALL_TEMPLATE_REMINDER,
				     TOWNHALL_TEMPLATE_CHANGE, TOWNHALL_TEMPLATE_CANCEL };

static void every_text_renders_in_english_and_spanish_on_every_channel(void **state)
{
	static const enum channel chans[] = { CHANNEL_SMS, CHANNEL_SIGNAL, CHANNEL_EMAIL };
	static const char *const langs[] = { "en", "es" };
	struct templates *set = shipped("Town Hall Team");
	int64_t now = at("2026-11-20T20:00:00Z");

	(void)state;
	for (size_t l = 0; l < 2; l++) {
		char *vars = vars_of(langs[l]);

		for (size_t n = 0; n < 4; n++)
			for (size_t c = 0; c < 3; c++) {
				struct templates_text t;

				render_ok(set, names[n], vars, chans[c], now,
					  "https://pregon.example.org/j/tok", &t);
				assert_string_equal(t.lang, langs[l]);
				contains(t.body, "Town Hall Team");	/* who sends it */
				contains(t.body, "Re-Imagine LA Town Hall");
				contains(t.body, l == 0 ? "December 5" : "5 de diciembre");
				contains(t.body, l == 0 ? "6:00 PM" : "6:00 p. m.");
				/* Never the recipient's address, nor the real link
				 * when a tracked one is given. */
				assert_null(strstr(t.body, "m3@example.org"));
				assert_null(strstr(t.body, "2135550111"));
				assert_null(strstr(t.body, "example.org/join/abc"));
				if (chans[c] == CHANNEL_EMAIL) {
					assert_non_null(t.subject);
					assert_non_null(t.html);
					contains(t.subject, "Re-Imagine LA Town Hall");
				} else {
					assert_null(t.subject);
				}
				templates_text_free(&t);
			}
		free(vars);
	}
	templates_free(set);
}

#define LINK "https://pregon.example.org/j/Zq3xT7bK9mWv2LpR8nYc4d"

/* One rendering and a text it must hold. */
struct says {
	const char *name, *lang;
	enum channel ch;
	const char *now;	/* ISO-8601, or NULL: the epoch (another day) */
	const char *link;
	char part;		/* 'b'ody, 's'ubject, 'h'tml */
	const char *want;
};

static const struct says says[] = {
	{ TOWNHALL_TEMPLATE_CONFIRMATION, "en", CHANNEL_SMS, NULL, LINK, 'b',
	  "Hi Ana, you are registered for Re-Imagine LA Town Hall, Saturday, December 5 at "
	  "6:00 PM, Online. Reply 1 if you are coming, 2 if you cannot. Reply STOP to stop "
	  "these texts." },
	{ TOWNHALL_TEMPLATE_CONFIRMATION, "es", CHANNEL_SMS, NULL, LINK, 'b',
	  "Responda 1 si viene, 2 si no puede" },
	{ TOWNHALL_TEMPLATE_CONFIRMATION, "en", CHANNEL_EMAIL, NULL, LINK, 'b',
	  "Time: 6:00 PM to 7:30 PM" },
	{ TOWNHALL_TEMPLATE_CONFIRMATION, "en", CHANNEL_EMAIL, NULL, LINK, 'b', "Join: " LINK },
	{ TOWNHALL_TEMPLATE_CONFIRMATION, "en", CHANNEL_EMAIL, NULL, LINK, 'h',
	  "<a href=\"" LINK "\">" },
	/* Reminders carry the link; the day before and the same day say so. */
	{ TOWNHALL_TEMPLATE_REMINDER, "en", CHANNEL_SMS, "2026-12-04T20:00:00Z", LINK, 'b',
	  "is tomorrow, Saturday, December 5, at 6:00 PM" },
	{ TOWNHALL_TEMPLATE_REMINDER, "en", CHANNEL_SMS, NULL, LINK, 'b', "Join: " LINK },
	{ TOWNHALL_TEMPLATE_REMINDER, "es", CHANNEL_SMS, "2026-12-05T20:00:00Z", LINK, 'b',
	  "es hoy, s\u00e1bado, 5 de diciembre" },
	{ TOWNHALL_TEMPLATE_REMINDER, "es", CHANNEL_SMS, NULL, LINK, 'b', "Para entrar: " LINK },
	{ TOWNHALL_TEMPLATE_REMINDER, "en", CHANNEL_EMAIL, "2026-12-04T20:00:00Z", LINK, 's',
	  "Reminder: Re-Imagine LA Town Hall, tomorrow at 6:00 PM" },
	{ TOWNHALL_TEMPLATE_CHANGE, "en", CHANNEL_SMS, NULL, LINK, 'b',
	  "CHANGED: Re-Imagine LA Town Hall is now Saturday, December 5 at 6:00 PM" },
	{ TOWNHALL_TEMPLATE_CHANGE, "es", CHANNEL_EMAIL, NULL, LINK, 'b', "HA CAMBIADO" },
	{ TOWNHALL_TEMPLATE_CANCEL, "en", CHANNEL_SMS, NULL, LINK, 'b', "is CANCELLED" },
	{ TOWNHALL_TEMPLATE_CANCEL, "es", CHANNEL_EMAIL, NULL, LINK, 's',
	  "Cancelado: Re-Imagine LA Town Hall" },
	{ TOWNHALL_TEMPLATE_CANCEL, "es", CHANNEL_EMAIL, NULL, LINK, 'b', "fue CANCELADO" },
};

static void each_text_says_what_it_is_for(void **state)
{
	struct templates *set = shipped("");

	(void)state;
	for (size_t i = 0; i < sizeof(says) / sizeof(says[0]); i++) {
		const struct says *c = &says[i];
		char *vars = vars_of(c->lang);
		struct templates_text t;

		render_ok(set, c->name, vars, c->ch, c->now ? at(c->now) : 0, c->link, &t);
		contains(c->part == 'b' ? t.body : c->part == 's' ? t.subject : t.html, c->want);
		templates_text_free(&t);
		free(vars);
	}
	templates_free(set);
}

static void without_a_link_nothing_is_said_about_joining(void **state)
{
	struct templates *set = shipped("");
	char *vars = vars_of("en");

	(void)state;
	for (size_t n = 0; n < 4; n++) {
		struct templates_text t;

		render_ok(set, names[n], vars, CHANNEL_EMAIL, 0, NULL, &t);
		assert_null(strstr(t.body, "Join"));
		assert_null(strstr(t.html, "href"));
		templates_text_free(&t);
	}
	free(vars);
	templates_free(set);
}

static void a_record_that_is_not_one_is_refused(void **state)
{
	struct templates *set = shipped("");
	struct templates_text t;
	struct err err;

	(void)state;
	assert_int_equal(townhall_render(set, TOWNHALL_TEMPLATE_REMINDER, "{\"tz\":\"UTC\"}",
					 CHANNEL_SMS, 0, NULL, &t, &err), -1);
	assert_string_equal(err.pub, "town hall: the job's record has no readable values");
	assert_int_equal(townhall_render(set, TOWNHALL_TEMPLATE_REMINDER, "not json", CHANNEL_SMS, 0,
					 NULL, &t, &err), -1);
	templates_free(set);
}

/* The loader's long samples (templates.h), the longest date of the
 * language, and every case of today/tomorrow. */
struct sample {
	char date[96];
	char time[32];
	const char *today, *tomorrow;
};

static const char *sample_lookup(void *data, const char *name)
{
	struct sample *s = data;

	if (strcmp(name, "date") == 0)
		return s->date;
	if (strcmp(name, "time") == 0 || strcmp(name, "end_time") == 0)
		return s->time;
	if (strcmp(name, "today") == 0)
		return s->today;
	if (strcmp(name, "tomorrow") == 0)
		return s->tomorrow;
	return templates_sample_value(name);
}

static void every_sms_fits_in_two_segments_with_long_values(void **state)
{
	static const struct tz_wall long_day = { .year = 2026, .month = 9, .day = 30, .hour = 10,
						 .minute = 30 };
	static const char *const langs[] = { "en", "es" };
	static const char *const flags[][2] = { { "", "" }, { "yes", "" }, { "", "yes" } };
	struct templates *set = shipped(TEMPLATES_SENDER_SAMPLE);

	(void)state;
	assert_int_equal(strlen(templates_sample_value("title")), 60);
	assert_int_equal(strlen(templates_sample_value("join_url")),
			 strlen("https://pregon.example.org/j/") + 22);
	for (size_t l = 0; l < 2; l++)
		for (size_t n = 0; n < 4; n++)
			for (size_t f = 0; f < 3; f++) {
				struct sample s = { .today = flags[f][0], .tomorrow = flags[f][1] };
				struct sms_segments seg;
				struct templates_text t;
				struct err err;

				assert_int_equal(datefmt_date(langs[l], &long_day, s.date, sizeof(s.date)), 0);
				assert_int_equal(datefmt_time(langs[l], &long_day, s.time, sizeof(s.time)), 0);
				if (templates_render(set, names[n], langs[l], CHANNEL_SMS, sample_lookup, &s,
						     &t, &err) != 0)
					fail_msg("%s/%s: %s", names[n], langs[l], err.msg);
				assert_string_equal(t.lang, langs[l]);
				assert_int_equal(sms_segments_count(t.body, strlen(t.body), &seg), 0);
				if (seg.segments > 2)
					fail_msg("%s/%s.sms: %d segments: %s", names[n], langs[l],
						 seg.segments, t.body);
				templates_text_free(&t);
			}
	templates_free(set);
}

/* ---- the calendar UID ---- */

static void the_uid_is_stable_opaque_and_per_registration(void **state)
{
	char a[TOWNHALL_UID_MAX], b[TOWNHALL_UID_MAX], c[TOWNHALL_UID_MAX], d[TOWNHALL_UID_MAX];
	char e[TOWNHALL_UID_MAX];

	(void)state;
	townhall_uid("townhall-2026-12-05", "member-3", "example.org", a, sizeof(a));
	townhall_uid("townhall-2026-12-05", "member-3", "example.org", b, sizeof(b));
	townhall_uid("townhall-2026-12-05", "member-4", "example.org", c, sizeof(c));
	townhall_uid("townhall-2026-12-06", "member-3", "example.org", d, sizeof(d));
	/* The separator matters: ("ab", "c") is not ("a", "bc"). */
	townhall_uid("townhall-2026-12-05m", "ember-3", "example.org", e, sizeof(e));
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d);
	assert_string_not_equal(a, e);
	assert_int_equal(strlen(a), 32 + strlen("@example.org"));
	assert_string_equal(a + 32, "@example.org");
	assert_null(strstr(a, "member"));
	assert_null(strstr(a, "townhall"));
	townhall_uid("r", "m", NULL, a, sizeof(a));
	assert_string_equal(a + 32, "@pregon.invalid");
}

/* ---- the invitation ---- */

/* The VCALENDAR, checked line by line as a strict reader would: CRLF only,
 * at most 75 octets a line, folds on UTF-8 character boundaries; returns
 * the unfolded lines, joined by '\n' (malloc'd). */
static char *unfold_checked(const char *ics)
{
	size_t len = strlen(ics);
	char *out = malloc(len + 1), *o = out;

	assert_non_null(out);
	for (const char *p = ics; *p != '\0';) {
		const char *eol = strstr(p, "\r\n");
		size_t n;

		assert_non_null(eol);	/* every line ends with CRLF */
		n = (size_t)(eol - p);
		assert_true(n <= 75);
		assert_null(memchr(p, '\n', n));	/* no bare LF */
		assert_null(memchr(p, '\r', n));	/* no bare CR */
		assert_true(utf8_valid(p, n));	/* no character split by a fold */
		if (*p == ' ') {	/* a continuation */
			assert_true(o > out);
			o--;	/* the '\n' of the line it continues */
			memcpy(o, p + 1, n - 1);
			o += n - 1;
		} else {
			assert_true(n > 0);
			memcpy(o, p, n);
			o += n;
		}
		*o++ = '\n';
		p = eol + 2;
	}
	*o = '\0';
	return out;
}

/* Whether line (a whole unfolded line) is in lines. */
static bool has_line(const char *lines, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = lines; *p != '\0';) {
		const char *eol = strchr(p, '\n');

		if ((size_t)(eol - p) == n && memcmp(p, line, n) == 0)
			return true;
		p = eol + 1;
	}
	return false;
}

static void assert_line(const char *lines, const char *line)
{
	if (!has_line(lines, line))
		fail_msg("no line \"%s\" in:\n%s", line, lines);
}

static int count_of(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
		n++;
	return n;
}

static struct townhall_ical_args args_for(const char *vars)
{
	struct townhall_ical_args a = {
		.vars_json = vars, .uid = "0123456789abcdef0123456789abcdef@example.org",
		.sequence = 0, .method = "REQUEST", .organizer = "townhalls@example.org",
		.organizer_name = "Re-Imagine LA", .attendee = "m3@example.org",
		.attendee_name = "Ana", .url = "https://pregon.example.org/j/tok",
		.description = "See you there.", .dtstamp_ms = 1795000000000LL,
	};

	return a;
}

static char *ics_of(const struct townhall_ical_args *a)
{
	struct err err;
	char *ics = townhall_ical(a, &err);

	if (ics == NULL)
		fail_msg("%s", err.msg);
	return ics;
}

static void the_invitation_has_every_field_in_the_events_zone(void **state)
{
	char *vars = vars_of("en");
	struct townhall_ical_args a = args_for(vars);
	char *ics = ics_of(&a), *lines = unfold_checked(ics);

	(void)state;
	assert_int_equal(strncmp(ics, "BEGIN:VCALENDAR\r\n", 17), 0);
	assert_line(lines, "METHOD:REQUEST");
	assert_line(lines, "VERSION:2.0");
	assert_non_null(strstr(lines, "\nPRODID:-//pregon//"));
	assert_line(lines, "UID:0123456789abcdef0123456789abcdef@example.org");
	assert_line(lines, "SEQUENCE:0");
	assert_line(lines, "DTSTAMP:20261118T110640Z");
	assert_line(lines, "DTSTART;TZID=America/Los_Angeles:20261205T180000");
	assert_line(lines, "DTEND;TZID=America/Los_Angeles:20261205T193000");
	assert_line(lines, "SUMMARY:Re-Imagine LA Town Hall");
	assert_line(lines, "LOCATION:Online");
	assert_line(lines, "URL:https://pregon.example.org/j/tok");
	assert_line(lines, "DESCRIPTION:See you there.");
	assert_line(lines, "ORGANIZER;CN=\"Re-Imagine LA\":mailto:townhalls@example.org");
	assert_line(lines, "ATTENDEE;CN=\"Ana\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE:"
		    "mailto:m3@example.org");
	assert_line(lines, "STATUS:CONFIRMED");
	assert_line(lines, "TZID:America/Los_Angeles");
	assert_null(strstr(lines, "freeassociation"));
	assert_null(strstr(lines, "X-LIC"));
	assert_int_equal(count_of(lines, "BEGIN:VEVENT\n"), 1);
	assert_int_equal(count_of(lines, "BEGIN:VTIMEZONE\n"), 1);
	assert_true(strstr(lines, "END:VTIMEZONE") < strstr(lines, "BEGIN:VEVENT"));
	assert_int_equal(strcmp(ics + strlen(ics) - 15, "END:VCALENDAR\r\n"), 0);
	free(ics);
	free(lines);
	free(vars);
}

/* The sub-component of the VTIMEZONE (kind "STANDARD" or "DAYLIGHT")
 * whose RRULE holds rule, as its unfolded text up to its END; NULL if none. */
static char *sub_with_rule(const char *lines, const char *kind, const char *rule)
{
	char begin[32], end[32];

	snprintf(begin, sizeof(begin), "BEGIN:%s\n", kind);
	snprintf(end, sizeof(end), "END:%s\n", kind);
	for (const char *p = lines; (p = strstr(p, begin)) != NULL; p += strlen(begin)) {
		const char *e = strstr(p, end);
		char *sub = strndup(p, (size_t)(e - p));

		if (strstr(sub, rule) != NULL)
			return sub;
		free(sub);
	}
	return NULL;
}

static void the_zone_carries_los_angeles_dst_rules(void **state)
{
	char *vars = vars_of("en");
	struct townhall_ical_args a = args_for(vars);
	char *ics = ics_of(&a), *lines = unfold_checked(ics), *dst, *std;
	const char *first_std, *first_dst;

	(void)state;
	/* Since 2007: DST from the second Sunday of March at 02:00 (PST -0800
	 * to PDT -0700), back on the first Sunday of November. */
	dst = sub_with_rule(lines, "DAYLIGHT", "BYDAY=2SU;BYMONTH=3");
	std = sub_with_rule(lines, "STANDARD", "BYDAY=1SU;BYMONTH=11");
	assert_non_null(dst);
	assert_non_null(std);
	assert_non_null(strstr(dst, "\nTZOFFSETFROM:-0800\n"));
	assert_non_null(strstr(dst, "\nTZOFFSETTO:-0700\n"));
	assert_non_null(strstr(dst, "\nTZNAME:PDT\n"));
	assert_non_null(strstr(dst, "\nRRULE:FREQ=YEARLY;"));
	assert_non_null(strstr(std, "\nTZOFFSETFROM:-0700\n"));
	assert_non_null(strstr(std, "\nTZOFFSETTO:-0800\n"));
	assert_non_null(strstr(std, "\nTZNAME:PST\n"));
	/* Only rules in force: the first STANDARD and DAYLIGHT (all some
	 * clients read) are the current ones, not those of 1883 or 1918. */
	first_std = strstr(lines, "BEGIN:STANDARD\n");
	first_dst = strstr(lines, "BEGIN:DAYLIGHT\n");
	assert_non_null(strstr(first_std, "BYDAY=1SU;BYMONTH=11"));
	assert_non_null(strstr(first_dst, "BYDAY=2SU;BYMONTH=3"));
	assert_null(strstr(lines, "TZOFFSETFROM:-075258"));
	assert_null(strstr(lines, "DTSTART:1918"));
	free(dst);
	free(std);
	free(ics);
	free(lines);
	free(vars);
}

/* The offset (seconds east of UTC) that the invitation's own VTIMEZONE
 * gives at the UTC instant y-m-d h:00, read back with libical's parser. */
static int offset_at(icaltimezone *zone, int y, int m, int d, int h)
{
	struct icaltimetype t = icaltime_null_time();
	int is_daylight = 0;

	t.year = y;
	t.month = m;
	t.day = d;
	t.hour = h;
	t.zone = icaltimezone_get_utc_timezone();
	return icaltimezone_get_utc_offset_of_utc_time(zone, &t, &is_daylight);
}

static void the_zone_read_back_gives_the_right_offsets(void **state)
{
	char *vars = vars_of("en");
	struct townhall_ical_args a = args_for(vars);
	char *ics = ics_of(&a);
	icalcomponent *cal = icalparser_parse_string(ics), *vtz, *ev;
	icaltimezone *zone;

	(void)state;
	assert_non_null(cal);
	vtz = icalcomponent_get_first_component(cal, ICAL_VTIMEZONE_COMPONENT);
	assert_non_null(vtz);
	zone = icaltimezone_new();
	assert_int_equal(icaltimezone_set_component(zone, icalcomponent_new_clone(vtz)), 1);
	assert_string_equal(icaltimezone_get_tzid(zone), LA);
	assert_int_equal(offset_at(zone, 2026, 12, 6, 2), -8 * 3600);	/* the event: PST */
	assert_int_equal(offset_at(zone, 2027, 7, 1, 12), -7 * 3600);	/* summer: PDT */
	/* 2027-03-14 02:00 PST is 10:00Z; 2027-11-07 02:00 PDT is 09:00Z. */
	assert_int_equal(offset_at(zone, 2027, 3, 14, 9), -8 * 3600);
	assert_int_equal(offset_at(zone, 2027, 3, 14, 11), -7 * 3600);
	assert_int_equal(offset_at(zone, 2027, 11, 7, 8), -7 * 3600);
	assert_int_equal(offset_at(zone, 2027, 11, 7, 10), -8 * 3600);
	/* libical reads the event's start back as 18:00 in that zone. */
	ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	assert_non_null(ev);
	assert_int_equal(icalcomponent_get_dtstart(ev).hour, 18);
	assert_string_equal(icalcomponent_get_summary(ev), "Re-Imagine LA Town Hall");
	icaltimezone_free(zone, 1);
	icalcomponent_free(cal);
	free(ics);
	free(vars);
}

static void a_zone_without_dst_keeps_its_offset_and_utc_needs_no_zone(void **state)
{
	static const char kolkata[] = "{\"title\":\"T\",\"starts\":1796522400000,\"ends\":0,"
				      "\"tz\":\"Asia/Kolkata\",\"location\":\"\"}";
	static const char utc[] = "{\"title\":\"T\",\"starts\":1796522400000,\"ends\":0,"
				  "\"tz\":\"UTC\",\"location\":\"\"}";
	struct townhall_ical_args a = args_for(kolkata);
	char *ics = ics_of(&a), *lines = unfold_checked(ics);

	(void)state;
	/* India has kept +0530 since 1945: that one observance stays. */
	assert_line(lines, "TZID:Asia/Kolkata");
	assert_line(lines, "TZOFFSETTO:+0530");
	assert_int_equal(count_of(lines, "BEGIN:STANDARD\n") + count_of(lines, "BEGIN:DAYLIGHT\n"), 1);
	assert_line(lines, "DTSTART;TZID=Asia/Kolkata:20261206T073000");
	/* No end: an hour long. */
	assert_line(lines, "DTEND;TZID=Asia/Kolkata:20261206T083000");
	assert_false(has_line(lines, "LOCATION:"));
	free(ics);
	free(lines);
	a.vars_json = utc;
	ics = ics_of(&a);
	lines = unfold_checked(ics);
	assert_line(lines, "DTSTART:20261206T020000Z");
	assert_line(lines, "DTEND:20261206T030000Z");
	assert_null(strstr(lines, "VTIMEZONE"));
	assert_null(strstr(lines, "TZID"));
	free(ics);
	free(lines);
}

static void a_cancel_has_method_cancel_the_same_uid_and_a_higher_sequence(void **state)
{
	char *vars = vars_of("en");
	struct townhall_ical_args a = args_for(vars);
	char *ics, *lines;
	struct err err;

	(void)state;
	a.method = "CANCEL";
	a.sequence = 3;
	ics = ics_of(&a);
	lines = unfold_checked(ics);
	assert_line(lines, "METHOD:CANCEL");
	assert_line(lines, "STATUS:CANCELLED");
	assert_line(lines, "SEQUENCE:3");
	assert_line(lines, "UID:0123456789abcdef0123456789abcdef@example.org");
	assert_false(has_line(lines, "STATUS:CONFIRMED"));
	free(ics);
	free(lines);
	a.method = "PUBLISH";
	assert_null(townhall_ical(&a, &err));
	assert_string_equal(err.pub, "invitation: method: REQUEST or CANCEL");
	a.method = "REQUEST";
	a.organizer = NULL;
	assert_null(townhall_ical(&a, &err));
	assert_string_equal(err.pub, "invitation: organizer: missing");
	a.organizer = "a@example.org\r\nX-EVIL:1";	/* a line of its own */
	assert_null(townhall_ical(&a, &err));
	assert_string_equal(err.pub, "invitation: organizer: a space, quote or control character");
	a.organizer = "a@example.org";
	a.vars_json = "{\"title\":\"T\",\"starts\":1,\"tz\":\"Mars/Olympus\"}";
	assert_null(townhall_ical(&a, &err));
	assert_string_equal(err.pub, "invitation: unknown time zone");
	a.vars_json = "{\"title\":\"\",\"starts\":1,\"tz\":\"UTC\"}";
	assert_null(townhall_ical(&a, &err));
	assert_string_equal(err.pub, "invitation: the event has no title");
	free(vars);
}

static void text_values_are_escaped_and_names_quoted(void **state)
{
	static const char vars[] = "{\"title\":\"Rent, repairs; and \\\\ more\","
				   "\"starts\":1796522400000,\"ends\":0,\"tz\":\"America/Los_Angeles\","
				   "\"location\":\"Hall A; 2nd floor, room 3\"}";
	struct townhall_ical_args a = args_for(vars);
	char *ics, *lines;

	(void)state;
	a.description = "Line one\nLine two\r\nLine three, done;";
	a.organizer_name = "Ana \"La Voz\" ^ Co";
	ics = ics_of(&a);
	lines = unfold_checked(ics);
	assert_line(lines, "SUMMARY:Rent\\, repairs\\; and \\\\ more");
	assert_line(lines, "LOCATION:Hall A\\; 2nd floor\\, room 3");
	assert_line(lines, "DESCRIPTION:Line one\\nLine two\\nLine three\\, done\\;");
	assert_line(lines, "ORGANIZER;CN=\"Ana ^'La Voz^' ^^ Co\":mailto:townhalls@example.org");
	free(ics);
	free(lines);
}

static void long_utf8_lines_fold_between_characters(void **state)
{
	char title[400], vars[600], want[420];
	struct townhall_ical_args a;
	char *ics, *lines;

	(void)state;
	/* 2-byte, 3-byte and 4-byte characters at every offset of the fold. */
	snprintf(title, sizeof(title), "x");
	for (int i = 0; i < 20; i++)
		strcat(title, "ñ€😀");
	snprintf(vars, sizeof(vars), "{\"title\":\"%s\",\"starts\":1796522400000,\"ends\":0,"
		 "\"tz\":\"America/Los_Angeles\",\"location\":\"\"}", title);
	a = args_for(vars);
	ics = ics_of(&a);
	lines = unfold_checked(ics);	/* checks each physical line is whole UTF-8 */
	snprintf(want, sizeof(want), "SUMMARY:%s", title);
	assert_line(lines, want);
	assert_true(count_of(ics, "\r\n ") >= 2);	/* it was folded */
	free(ics);
	free(lines);
	/* Not UTF-8: refused, not folded into garbage. */
	a.description = "\xff\xfe";
	assert_null(townhall_ical(&a, &(struct err){ { 0 }, { 0 } }));
}

static void the_invitation_from_a_parsed_job_round_trips(void **state)
{
	struct job job;
	struct err err;
	char uid[TOWNHALL_UID_MAX], *vars, *ics;
	icalcomponent *cal, *ev;

	(void)state;
	assert_int_equal(job_parse(contract_job, sizeof(contract_job) - 1, NULL, &job, &err), 0);
	vars = townhall_vars_json(&job);
	townhall_uid(job.event_ref, job.recipient.id, "example.org", uid, sizeof(uid));
	{
		struct townhall_ical_args a = args_for(vars);

		a.uid = uid;
		a.sequence = 2;
		a.url = job.join_url;
		ics = ics_of(&a);
	}
	cal = icalparser_parse_string(ics);
	assert_non_null(cal);
	assert_int_equal(icalcomponent_get_method(cal), ICAL_METHOD_REQUEST);
	ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	assert_string_equal(icalcomponent_get_uid(ev), uid);
	assert_int_equal(icalcomponent_get_sequence(ev), 2);
	assert_string_equal(icalcomponent_get_location(ev), "Online");
	assert_int_equal(icalcomponent_get_status(ev), ICAL_STATUS_CONFIRMED);
	icalcomponent_free(cal);
	free(ics);
	free(vars);
	job_free(&job);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_notice_goes_now_and_reminders_a_day_and_an_hour_before),
		cmocka_unit_test(the_jobs_reminders_replace_the_defaults_as_calendar_days),
		cmocka_unit_test(a_reminder_in_quiet_hours_moves_to_the_minute_before_them),
		cmocka_unit_test(quiet_hours_are_the_recipients_then_the_events),
		cmocka_unit_test(the_notice_waits_for_morning_but_never_past_the_start),
		cmocka_unit_test(past_reminders_are_marked_and_the_notice_lasts_until_the_end),
		cmocka_unit_test(vars_and_sig_keep_what_the_texts_and_a_change_need),
		cmocka_unit_test(a_job_without_reminders_leaves_them_to_the_config),
		cmocka_unit_test(every_text_renders_in_english_and_spanish_on_every_channel),
		cmocka_unit_test(each_text_says_what_it_is_for),
		cmocka_unit_test(without_a_link_nothing_is_said_about_joining),
		cmocka_unit_test(a_record_that_is_not_one_is_refused),
		cmocka_unit_test(every_sms_fits_in_two_segments_with_long_values),
		cmocka_unit_test(the_uid_is_stable_opaque_and_per_registration),
		cmocka_unit_test(the_invitation_has_every_field_in_the_events_zone),
		cmocka_unit_test(the_zone_carries_los_angeles_dst_rules),
		cmocka_unit_test(the_zone_read_back_gives_the_right_offsets),
		cmocka_unit_test(a_zone_without_dst_keeps_its_offset_and_utc_needs_no_zone),
		cmocka_unit_test(a_cancel_has_method_cancel_the_same_uid_and_a_higher_sequence),
		cmocka_unit_test(text_values_are_escaped_and_names_quoted),
		cmocka_unit_test(long_utf8_lines_fold_between_characters),
		cmocka_unit_test(the_invitation_from_a_parsed_job_round_trips),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	tz_shutdown();
	return rc;
}
