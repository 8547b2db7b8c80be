/* fuzz_job_parse.c: libFuzzer target for job_parse and the validators it
 * uses (src/job_parse.c, src/validate.c, src/tz.c). Job documents come
 * from anyone who can reach the queue, the HTTP API or MQTT.
 *
 * Beyond "no crash, no leak, no undefined behaviour" it checks what the
 * rest of pregon relies on:
 * - an accepted job has an id, a known kind and, for kinds with a
 *   recipient, at least one channel, each with an address;
 * - a rejection reason is non-empty, has the "field: problem" shape and no
 *   control characters (it is written to logs and dead letters verbatim);
 * - its public reason has the same shape and quotes nothing of the job
 *   (check_public);
 * - a parsed absolute time prints and parses back to the same instant;
 * - a quoted value never has control characters and fits its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "tz.h"
#include "validate.h"
#include "quote.h"

static void check_clean(const char *s, size_t max)
{
	size_t i, n = strlen(s);

	if (n >= max)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

static void check_job(const struct job *job)
{
	const struct recipient *r = &job->recipient;
	int i;

	if (job->id == NULL || strlen(job->id) == 0 || strlen(job->id) > JOB_ID_MAX)
		abort();
	if ((int)job->kind < 0 || job->kind >= JOB_KIND_COUNT)
		abort();
	if (job->kind == JOB_MESSAGE && (job->body == NULL || job->body[0] == '\0'))
		abort();
	if (job->kind == JOB_MESSAGE || job->kind == JOB_COURT_REMINDER ||
	    job->kind == JOB_TOWNHALL_CONFIRMATION || job->kind == JOB_CONTACT_UPSERT) {
		if (r->id == NULL || r->n_channels < 1 || r->n_channels > CHANNEL_COUNT)
			abort();
		for (i = 0; i < r->n_channels; i++) {
			const char *addr = r->channels[i] == CHANNEL_SMS ? r->phone :
					   r->channels[i] == CHANNEL_EMAIL ? r->email : r->signal;

			if (addr == NULL)
				abort();
		}
		if (r->phone != NULL && (r->phone[0] != '+' || strlen(r->phone) > PHONE_E164_MAX))
			abort();
	}
}

static void fuzz_validators(const char *s)
{
	char phone[PHONE_E164_MAX + 1], q[QUOTE_MAX], printed[32];
	struct duration d;
	struct err err;
	int64_t ms, back;

	if (phone_check_e164(s, phone, &err) == 0 && (phone[0] != '+' || strlen(phone) > 16))
		abort();
	email_check(s, &err);
	quote_value(q, sizeof(q), s);
	check_clean(q, sizeof(q));
	quote_escape(q, sizeof(q), s);
	check_clean(q, sizeof(q));

	if (time_parse_iso8601(s, NULL, &ms, &err) == 0) {
		time_format_utc(ms, printed);
		if (time_parse_iso8601(printed, NULL, &back, &err) != 0 || back != ms)
			abort();
	}
	if (time_parse_iso8601(s, "America/Los_Angeles", &ms, &err) == 0 &&
	    duration_parse_iso8601("P7D", &d, &err) == 0)
		tz_add_duration("America/Los_Angeles", ms, &d, -1, &back, &err);
	if (duration_parse_iso8601(s, &d, &err) == 0) {
		tz_add_duration("Australia/Adelaide", 1796142600000LL, &d, -1, &back, &err);
		tz_add_duration("UTC", 1796142600000LL, &d, 1, &back, &err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The public reason (events, MQTT, logs: CONTRACT.md section 3) is
 * there, has the "field: problem" shape and quotes nothing: no '"', no
 * at sign, no run of 7 digits. (That it holds no string of the job is
 * checked against the fixtures in test_job_parse.c: a fuzzed document
 * may hold the very words of a problem.) */
static void check_public(const char *pub)
{
	int run = 0;

	check_clean(pub, ERR_PUB_MAX);
	if (pub[0] == '\0' || strstr(pub, ": ") == NULL || strchr(pub, '"') != NULL ||
	    strchr(pub, '@') != NULL)
		abort();
	for (const char *p = pub; *p != '\0'; p++) {
		run = (*p >= '0' && *p <= '9') ? run + 1 : 0;
		if (run >= 7)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job job;
	struct err err;

	memset(&err, 0, sizeof(err));
	if (job_parse((const char *)data, size, NULL, &job, &err) == 0) {
		check_job(&job);
	} else {
		if (err.msg[0] == '\0' || strstr(err.msg, ": ") == NULL)
			abort();
		check_clean(err.msg, sizeof(err.msg));
		check_public(err.pub);
	}
	job_free(&job);

	/* The same bytes as one string for the validators (up to a NUL). */
	if (size < 1024) {
		char *s = malloc(size + 1);

		if (s == NULL)
			return 0;
		memcpy(s, data, size);
		s[size] = '\0';
		fuzz_validators(s);
		free(s);
	}
	return 0;
}
