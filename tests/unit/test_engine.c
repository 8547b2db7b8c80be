/* Unit tests for the engine's retry backoff and intake's records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "engine.h"
#include "intake.h"

static void backoff_doubles_within_jitter_and_caps(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	c.retry_base_delay_ms = 1000;
	c.retry_max_delay_ms = 10000;
	/* rand_value 5000 of 10000: no jitter. */
	assert_int_equal(engine_backoff_ms(&c, 1, 0, 5000), 1000);
	assert_int_equal(engine_backoff_ms(&c, 2, 0, 5000), 2000);
	assert_int_equal(engine_backoff_ms(&c, 3, 0, 5000), 4000);
	assert_int_equal(engine_backoff_ms(&c, 5, 0, 5000), 10000);
	assert_int_equal(engine_backoff_ms(&c, 60, 0, 5000), 10000);
	assert_int_equal(engine_backoff_ms(&c, 1, 0, 0), 800);
	assert_int_equal(engine_backoff_ms(&c, 1, 0, 10000), 1200);
}

static void backoff_honours_retry_after(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	c.retry_base_delay_ms = 1000;
	assert_int_equal(engine_backoff_ms(&c, 1, 30000, 5000), 30000);
	assert_int_equal(engine_backoff_ms(&c, 1, 10, 5000), 1000);
}

static void valid_message_job_becomes_one_message_record(void **state)
{
	struct config c;
	struct intake_record rec;
	const char *raw = "{\"id\":\"j1\",\"kind\":\"message\",\"body\":\"hi\",\"subject\":\"s\","
			  "\"recipient\":{\"id\":\"c1\",\"phone\":\"+13235550100\",\"email\":\"a@example.org\","
			  "\"channels\":[\"email\",\"sms\"]}}";

	(void)state;
	config_defaults(&c);
	assert_int_equal(intake_build_record(&c, NULL, 0, "1-0", raw, strlen(raw), &rec), 0);
	assert_string_equal(rec.reason, "");
	/* The flat record (intake.c flat_message): tab-separated, payload last. */
	char *f[15], *copy = strdup(rec.meta), *p = copy;
	int n = 0;

	assert_non_null(copy);
	for (char *t; n < 15 && (t = strsep(&p, "\t")) != NULL;)
		f[n++] = t;
	assert_int_equal(n, 15);
	assert_null(p);	/* nothing after the payload */
	assert_string_equal(f[0], "M");
	assert_string_equal(f[1], "1-0");
	assert_string_equal(f[2], "j1");
	assert_string_equal(f[3], "c1");
	assert_string_equal(f[4], "email,sms");
	assert_string_equal(f[5], "+13235550100");
	assert_string_equal(f[6], "a@example.org");
	assert_string_equal(f[7], "");
	assert_string_equal(f[8], "0");
	assert_string_equal(f[9], "0");
	assert_string_equal(f[12], "");	/* no lang */
	assert_string_equal(f[13], "");	/* due now: no reason to wait */
	json_t *d = json_loads(f[14], 0, NULL);
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "subject")), "s");
	assert_string_equal(json_string_value(json_object_get(d, "body")), "hi");
	assert_string_equal(json_string_value(json_array_get(json_object_get(d, "chain"), 0)), "email");
	json_decref(d);
	free(copy);
	free(rec.meta);
}

static void invalid_job_keeps_reason_and_hides_value_from_events(void **state)
{
	struct config c;
	struct intake_record rec;
	const char *raw = "{\"id\":\"j2\",\"kind\":\"message\",\"body\":\"hi\","
			  "\"recipient\":{\"id\":\"c1\",\"phone\":\"323-555\"}}";

	(void)state;
	config_defaults(&c);
	assert_int_equal(intake_build_record(&c, NULL, 0, "2-0", raw, strlen(raw), &rec), 0);
	assert_string_equal(rec.reason, "recipient.phone: not an E.164 number: \"323-555\"");
	assert_string_equal(rec.public_reason, "recipient.phone: not an E.164 number");
	assert_null(strstr(rec.meta, "msgs"));
	assert_non_null(strstr(rec.meta, "\"id\":\"j2\""));
	free(rec.meta);
}

static void townhall_without_templates_is_refused_with_the_reason(void **state)
{
	struct config c;
	struct intake_record rec;
	const char *raw = "{\"id\":\"j3\",\"kind\":\"townhall_confirmation\",\"event\":{\"ref\":\"th-1\","
			  "\"title\":\"Town Hall\",\"starts_at\":\"2026-12-05T18:00:00\","
			  "\"tz\":\"America/Los_Angeles\"},\"recipient\":{\"id\":\"m3\","
			  "\"email\":\"m3@example.org\"}}";

	(void)state;
	config_defaults(&c);
	assert_int_equal(intake_build_record(&c, NULL, 0, "3-0", raw, strlen(raw), &rec), 0);
	assert_string_equal(rec.reason, "kind: townhall_confirmation needs the templates, which are "
			    "not loaded");
	assert_int_equal(rec.kind, JOB_TOWNHALL_CONFIRMATION);
	assert_null(strstr(rec.meta, "townhall\":"));
	free(rec.meta);
}

static void court_reminder_without_templates_is_refused_with_the_reason(void **state)
{
	struct config c;
	struct intake_record rec;
	const char *raw = "{\"id\":\"j5\",\"kind\":\"court_reminder\",\"case\":{\"ref\":\"LA-1\","
			  "\"court\":\"Foltz\",\"tz\":\"America/Los_Angeles\"},"
			  "\"appearance\":\"2026-12-01T08:30:00\","
			  "\"recipient\":{\"id\":\"c1\",\"phone\":\"+13235550100\"}}";

	(void)state;
	config_defaults(&c);
	assert_int_equal(intake_build_record(&c, NULL, 0, "5-0", raw, strlen(raw), &rec), 0);
	assert_string_equal(rec.reason, "kind: court_reminder needs the templates, which are not loaded");
	assert_null(strstr(rec.meta, "\"court\""));
	free(rec.meta);
}

static void cancel_job_carries_its_case_ref(void **state)
{
	struct config c;
	struct intake_record rec;
	const char *raw = "{\"id\":\"j6\",\"kind\":\"cancel\",\"case_ref\":\"LA-1\"}";

	(void)state;
	config_defaults(&c);
	assert_int_equal(intake_build_record(&c, NULL, 0, "6-0", raw, strlen(raw), &rec), 0);
	assert_string_equal(rec.reason, "");
	assert_non_null(strstr(rec.meta, "\"cancel\":\"LA-1\""));
	free(rec.meta);
}

static void entry_without_job_field_is_rejected(void **state)
{
	struct config c;
	struct intake_record rec;

	(void)state;
	config_defaults(&c);
	assert_int_equal(intake_build_record(&c, NULL, 0, "4-0", NULL, 0, &rec), 0);
	assert_string_equal(rec.reason, "job: entry has no \"job\" field");
	free(rec.meta);
}

/* XADD ... job A job B: the second was read, the first dropped unseen
 * (issue 12). The entry is dead-lettered whole, and the public reason
 * holds counts, never a field. */
static void entry_with_two_job_fields_is_dead_lettered_whole(void **state)
{
	struct config c;
	struct intake_record rec;
	char *all = strdup("[\"job\",\"{}\",\"job\",\"{\\\"id\\\":\\\"+13235550100\\\"}\"]");

	(void)state;
	config_defaults(&c);
	assert_non_null(all);
	assert_int_equal(intake_build_bad_entry(&c, "7-0", all, 2, 0, &rec), 0);
	assert_string_equal(rec.reason, "job: the entry must hold exactly one field, \"job\"; it has 2 "
			    "\"job\" fields and 0 others (the dead letter's job holds them all as a JSON array)");
	assert_string_equal(rec.public_reason, rec.reason);
	assert_ptr_equal(rec.raw, all);
	assert_int_equal(rec.raw_len, strlen(all));
	assert_string_equal(rec.meta, "{\"e\":\"7-0\"}");
	free(rec.meta);
	free(rec.raw_owned);

	/* bounded like any dead letter */
	c.jobs_max_bytes = 4;
	all = strdup("[\"job\",\"x\",\"other\",\"y\"]");
	assert_int_equal(intake_build_bad_entry(&c, "8-0", all, 1, 1, &rec), 0);
	assert_int_equal(rec.raw_len, 4);
	assert_non_null(strstr(rec.reason, "it has 1 \"job\" field and 1 other "));
	free(rec.meta);
	free(rec.raw_owned);
}

/* A rejection's public reason is err.pub (err.h), never the reason cut
 * short at `: "`: issue 12 saw `unknown country code in "+999..."`, a
 * reply keyword in the path and jansson's near text get through that. */
static void public_reason_is_built_without_the_job(void **state)
{
	static const char *const cases[][3] = {
		{ "{\"id\":\"j9\",\"kind\":\"message\",\"body\":\"x\","
		  "\"recipient\":{\"id\":\"c\",\"phone\":\"+99912345678\"}}",
		  "recipient.phone: unknown country code: \"+99912345678\"",
		  "recipient.phone: unknown country code" },
		{ "{\"id\":\"j9\",\"kind\":\"action_alert\",\"message\":\"Go\","
		  "\"audience\":{\"list\":\"a\"},\"replies\":{\"my name is Ana Lopez\":3}}",
		  "replies[0]: must be a string (key \"my name is Ana Lopez\")",
		  "replies[0]: must be a string" },
		{ "{\"id\":\"j9\",\"recipient\":{\"email\":ana@example.org}}",
		  "job: not valid JSON: invalid token near 'ana' at line 1 column 35",
		  "job: not valid JSON: invalid syntax at line 1 column 35 (byte 35)" },
	};
	struct config c;
	struct intake_record rec;

	(void)state;
	config_defaults(&c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(intake_build_record(&c, NULL, 0, "9-0", cases[i][0],
						     strlen(cases[i][0]), &rec), 0);
		assert_string_equal(rec.reason, cases[i][1]);
		assert_string_equal(rec.public_reason, cases[i][2]);
		free(rec.meta);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backoff_doubles_within_jitter_and_caps),
		cmocka_unit_test(entry_with_two_job_fields_is_dead_lettered_whole),
		cmocka_unit_test(public_reason_is_built_without_the_job),
		cmocka_unit_test(backoff_honours_retry_after),
		cmocka_unit_test(valid_message_job_becomes_one_message_record),
		cmocka_unit_test(invalid_job_keeps_reason_and_hides_value_from_events),
		cmocka_unit_test(townhall_without_templates_is_refused_with_the_reason),
		cmocka_unit_test(court_reminder_without_templates_is_refused_with_the_reason),
		cmocka_unit_test(cancel_job_carries_its_case_ref),
		cmocka_unit_test(entry_without_job_field_is_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
