/* test_court.c: court_plan_make (court.h): offsets as calendar arithmetic in
 * the court's zone, quiet hours in the recipient's zone (moved earlier,
 * never later), past offsets, the catch-up reminder, the enrolment notice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "court.h"
#include "tz.h"

#define LA "America/Los_Angeles"

/* "2026-12-01T16:30:00Z" -> Unix ms, through validate.c. */
static int64_t at(const char *iso)
{
	int64_t ms;
	struct err err;

	assert_int_equal(time_parse_iso8601(iso, NULL, &ms, &err), 0);
	return ms;
}

static struct job court_job(const char *appearance_local, const char *rcp_tz)
{
	struct job job;
	struct err err;

	memset(&job, 0, sizeof(job));
	job.kind = JOB_COURT_REMINDER;
	job.id = "evt-1";
	job.case_ref = "LA-1";
	job.court = "Foltz";
	job.case_tz = LA;
	job.recipient.id = "client-7";
	job.recipient.tz = rcp_tz;
	assert_int_equal(time_parse_iso8601(appearance_local, LA, &job.appearance_ms, &err), 0);
	return job;
}

static void offsets(struct job *job, const char *const *iso, int n)
{
	struct err err;

	for (int i = 0; i < n; i++)
		assert_int_equal(duration_parse_iso8601(iso[i], &job->offsets[i], &err), 0);
	job->n_offsets = n;
}

static struct court_plan plan_of(const struct config *cfg, const struct job *job, int64_t now)
{
	struct court_plan plan;
	struct err err;

	assert_int_equal(court_plan_make(cfg, job, now, &plan, &err), 0);
	return plan;
}

static void default_offsets_with_the_morning_reminder_moved_before_quiet_hours(void **state)
{
	struct config cfg;
	struct job job = court_job("2026-12-01T08:30:00", NULL);
	struct court_plan p;

	(void)state;
	config_defaults(&cfg);	/* P7D,P3D,P1D,PT3H; 21:00-08:00; enrolment on */
	p = plan_of(&cfg, &job, at("2026-11-20T00:00:00Z"));
	assert_int_equal(p.n, 5);
	assert_int_equal(p.msgs[0].due_ms, at("2026-11-24T16:30:00Z"));
	assert_int_equal(p.msgs[1].due_ms, at("2026-11-28T16:30:00Z"));
	assert_int_equal(p.msgs[2].due_ms, at("2026-11-30T16:30:00Z"));
	/* 05:30 PST is quiet: the last allowed minute before, 20:59 the evening before. */
	assert_int_equal(p.msgs[3].at_ms, at("2026-12-01T13:30:00Z"));
	assert_int_equal(p.msgs[3].due_ms, at("2026-12-01T04:59:00Z"));
	for (int i = 0; i < 4; i++) {
		assert_int_equal(p.msgs[i].kind, COURT_MSG_REMINDER);
		assert_false(p.msgs[i].past);
	}
	/* 16:00 PST the day before: the notice goes now. */
	assert_int_equal(p.msgs[4].kind, COURT_MSG_ENROLMENT);
	assert_int_equal(p.msgs[4].due_ms, at("2026-11-20T00:00:00Z"));
	assert_string_equal(p.quiet_tz, LA);
}

static void offsets_are_calendar_days_across_dst(void **state)
{
	static const char *const o[] = { "P7D", "P1D", "PT24H", "PT3H" };
	struct config cfg;
	struct job job = court_job("2027-03-14T13:30:00", NULL);	/* PDT, the day of the change */
	struct court_plan p;

	(void)state;
	config_defaults(&cfg);
	cfg.court_reminder_confirm_on_enrol = false;
	offsets(&job, o, 4);
	p = plan_of(&cfg, &job, at("2027-03-01T00:00:00Z"));
	assert_int_equal(p.n, 4);
	assert_int_equal(p.msgs[0].due_ms, at("2027-03-07T21:30:00Z"));	/* 13:30 PST */
	assert_int_equal(p.msgs[1].due_ms, at("2027-03-13T21:30:00Z"));	/* 13:30 PST the day before */
	assert_int_equal(p.msgs[2].due_ms, at("2027-03-13T20:30:00Z"));	/* 24 h: 12:30 PST */
	assert_int_equal(p.msgs[3].due_ms, at("2027-03-14T17:30:00Z"));	/* 10:30 PDT */
}

static void two_offsets_on_one_instant_are_one_reminder(void **state)
{
	static const char *const o[] = { "P1D", "PT24H", "P1D" };
	struct config cfg;
	struct job job = court_job("2026-12-01T13:30:00", NULL);

	(void)state;
	config_defaults(&cfg);
	cfg.court_reminder_confirm_on_enrol = false;
	offsets(&job, o, 3);
	assert_int_equal(plan_of(&cfg, &job, at("2026-11-20T00:00:00Z")).n, 1);
}

static void quiet_hours_are_the_recipients_and_none_turns_them_off(void **state)
{
	static const char *const o[] = { "PT3H" };
	struct config cfg;
	struct job ny = court_job("2026-12-01T08:30:00", "America/New_York");
	struct job la = court_job("2026-12-01T08:30:00", NULL);
	struct err err;

	(void)state;
	config_defaults(&cfg);
	cfg.court_reminder_confirm_on_enrol = false;
	offsets(&ny, o, 1);
	offsets(&la, o, 1);
	/* 05:30 PST is 08:30 EST: allowed in New York. */
	assert_int_equal(plan_of(&cfg, &ny, 0).msgs[0].due_ms, at("2026-12-01T13:30:00Z"));
	assert_int_equal(quiet_hours_parse("none", &cfg.quiet, &err), 0);
	assert_int_equal(plan_of(&cfg, &la, 0).msgs[0].due_ms, at("2026-12-01T13:30:00Z"));
}

static void past_offsets_are_skipped_and_one_goes_out_after_quiet_hours(void **state)
{
	struct config cfg;
	struct job job = court_job("2026-12-01T08:30:00", NULL);
	struct court_plan p;

	(void)state;
	config_defaults(&cfg);
	/* 06:00 PST on the day: every reminder is past (the morning one moved
	 * to 20:59 the evening before). */
	p = plan_of(&cfg, &job, at("2026-12-01T14:00:00Z"));
	assert_int_equal(p.n, 6);
	for (int i = 0; i < 4; i++)
		assert_true(p.msgs[i].past);
	/* One now, held to 08:00 (before 08:30): quiet hours still count. */
	assert_int_equal(p.msgs[4].kind, COURT_MSG_CATCH_UP);
	assert_false(p.msgs[4].past);
	assert_int_equal(p.msgs[4].due_ms, at("2026-12-01T16:00:00Z"));
	assert_int_equal(p.msgs[5].kind, COURT_MSG_ENROLMENT);
	assert_int_equal(p.msgs[5].due_ms, at("2026-12-01T16:00:00Z"));
}

static void a_late_text_beats_none_when_quiet_hours_end_after_the_appearance(void **state)
{
	struct config cfg;
	struct job job = court_job("2026-12-01T07:30:00", NULL);
	struct court_plan p;

	(void)state;
	config_defaults(&cfg);
	cfg.court_reminder_confirm_on_enrol = false;
	p = plan_of(&cfg, &job, at("2026-12-01T13:00:00Z"));	/* 05:00 PST */
	assert_int_equal(p.n, 5);	/* four past reminders and the catch-up */
	for (int i = 0; i < 4; i++)
		assert_true(p.msgs[i].past);
	assert_int_equal(p.msgs[p.n - 1].kind, COURT_MSG_CATCH_UP);
	assert_int_equal(p.msgs[p.n - 1].due_ms, at("2026-12-01T13:00:00Z"));
}

static void after_the_appearance_nothing_is_planned_to_go(void **state)
{
	struct config cfg;
	struct job job = court_job("2026-12-01T08:30:00", NULL);
	struct court_plan p;

	(void)state;
	config_defaults(&cfg);
	p = plan_of(&cfg, &job, at("2026-12-02T00:00:00Z"));
	assert_int_equal(p.n, 5);	/* four reminders and the notice, all past */
	for (int i = 0; i < p.n; i++) {
		assert_true(p.msgs[i].past);
		assert_int_not_equal(p.msgs[i].kind, COURT_MSG_CATCH_UP);
	}
}

static void vars_keep_the_values_and_never_a_charge(void **state)
{
	/* A producer's job with a charge in the case and at the top. */
	static const char doc[] =
		"{\"id\":\"evt-1\",\"kind\":\"court_reminder\",\"charge\":\"PC 459\","
		"\"case\":{\"ref\":\"LA-1\",\"court\":\"Foltz\",\"department\":\"Dept. 30\","
		"\"tz\":\"America/Los_Angeles\",\"charge\":\"PC 459 burglary\"},"
		"\"appearance\":\"2026-12-01T08:30:00\","
		"\"recipient\":{\"id\":\"client-7\",\"name\":\"Ana\",\"phone\":\"+13235550100\","
		"\"lang\":\"es\"}}";
	struct job job;
	struct err err;
	char *v;

	(void)state;
	assert_int_equal(job_parse(doc, sizeof(doc) - 1, NULL, &job, &err), 0);
	v = court_vars_json(&job);
	assert_non_null(v);
	assert_string_equal(v, "{\"lang\":\"es\",\"name\":\"Ana\",\"court\":\"Foltz\",\"address\":\"\","
			    "\"department\":\"Dept. 30\",\"at\":1796142600000,\"tz\":\"America/Los_Angeles\"}");
	assert_null(strstr(v, "459"));
	free(v);
	job_free(&job);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(default_offsets_with_the_morning_reminder_moved_before_quiet_hours),
		cmocka_unit_test(offsets_are_calendar_days_across_dst),
		cmocka_unit_test(two_offsets_on_one_instant_are_one_reminder),
		cmocka_unit_test(quiet_hours_are_the_recipients_and_none_turns_them_off),
		cmocka_unit_test(past_offsets_are_skipped_and_one_goes_out_after_quiet_hours),
		cmocka_unit_test(a_late_text_beats_none_when_quiet_hours_end_after_the_appearance),
		cmocka_unit_test(after_the_appearance_nothing_is_planned_to_go),
		cmocka_unit_test(vars_keep_the_values_and_never_a_charge),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	tz_shutdown();
	return rc;
}
