/* court.c: court reminders planned and rendered (see court.h). */
#include "court.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "datefmt.h"
#include "quiet_hours.h"
#include "tz.h"

/* "Now" for a message that should go out at once but not in quiet hours:
 * the end of quiet hours if that is still before the appearance. */
static int now_or_after_quiet(const struct config *cfg, const char *zone, int64_t now_ms,
			      int64_t appearance_ms, int64_t *due, struct err *err)
{
	int64_t open;

	*due = now_ms;
	if (quiet_hours_next_allowed(&cfg->quiet, zone, now_ms, &open, err) != 0)
		return -1;
	if (open < appearance_ms)
		*due = open;
	return 0;
}

static bool same_due(const struct court_plan *plan, int64_t due)
{
	for (int i = 0; i < plan->n; i++)
		if (plan->msgs[i].kind == COURT_MSG_REMINDER && plan->msgs[i].due_ms == due)
			return true;
	return false;
}

int court_plan_make(const struct config *cfg, const struct job *job, int64_t now_ms,
		    struct court_plan *plan, struct err *err)
{
	const struct duration *offsets = job->n_offsets ? job->offsets : cfg->court_offsets;
	int n_offsets = job->n_offsets ? job->n_offsets : cfg->n_court_offsets;
	const char *zone = job->recipient.tz ? job->recipient.tz : job->case_tz;
	bool any_ahead = false;

	memset(plan, 0, sizeof(*plan));
	if (zone == NULL)
		zone = cfg->schedule_default_tz;
	plan->quiet_tz = zone;
	for (int i = 0; i < n_offsets; i++) {
		struct court_msg m = { .kind = COURT_MSG_REMINDER };

		if (quiet_hours_reminder(&cfg->quiet, job->case_tz, zone, job->appearance_ms,
					 &offsets[i], &m.at_ms, &m.due_ms, err) != 0)
			return -1;
		if (same_due(plan, m.due_ms))
			continue;
		m.past = m.due_ms <= now_ms;
		any_ahead |= !m.past;
		plan->msgs[plan->n++] = m;
	}
	if (!any_ahead && job->appearance_ms > now_ms) {
		struct court_msg m = { .kind = COURT_MSG_CATCH_UP, .at_ms = now_ms };

		if (now_or_after_quiet(cfg, zone, now_ms, job->appearance_ms, &m.due_ms, err) != 0)
			return -1;
		plan->msgs[plan->n++] = m;
	}
	if (cfg->court_reminder_confirm_on_enrol) {
		struct court_msg m = { .kind = COURT_MSG_ENROLMENT, .at_ms = now_ms };

		if (now_or_after_quiet(cfg, zone, now_ms, job->appearance_ms, &m.due_ms, err) != 0)
			return -1;
		m.past = job->appearance_ms <= now_ms;
		plan->msgs[plan->n++] = m;
	}
	return 0;
}

char *court_vars_json(const struct job *job)
{
	json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}",
			      "lang", job->recipient.lang ? job->recipient.lang : "",
			      "name", job->recipient.name ? job->recipient.name : "",
			      "court", job->court ? job->court : "",
			      "address", job->address ? job->address : "",
			      "department", job->department ? job->department : "",
			      "at", (json_int_t)job->appearance_ms, "tz", job->case_tz);
	char *out = v ? json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	return out;
}

/* The values one rendering sees. */
struct court_values {
	json_t *vars;
	char date[128];
	char time[48];
	const char *today;
	const char *tomorrow;
	const char *changed;
};

static const char *court_lookup(void *data, const char *name)
{
	struct court_values *cv = data;
	const char *s;

	if (strcmp(name, "date") == 0)
		return cv->date;
	if (strcmp(name, "time") == 0)
		return cv->time;
	if (strcmp(name, "today") == 0)
		return cv->today;
	if (strcmp(name, "tomorrow") == 0)
		return cv->tomorrow;
	if (strcmp(name, "changed") == 0)
		return cv->changed;
	/* name, court, address, department: "" is no value ({{#if}} false,
	 * and a template that prints it unconditionally fails to render). */
	s = json_string_value(json_object_get(cv->vars, name));
	return (s != NULL && s[0] != '\0') ? s : NULL;
}

int court_render(const struct templates *set, const char *name, const char *vars_json,
		 enum channel ch, int64_t now_ms, bool changed, struct templates_text *out,
		 struct err *err)
{
	struct court_values cv = { .today = "", .tomorrow = "", .changed = changed ? "yes" : "" };
	char lang[LANG_TAG_MAX];
	struct tz_wall at, today;
	const char *tz;
	json_error_t jerr;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	cv.vars = json_loads(vars_json ? vars_json : "", 0, &jerr);
	tz = json_string_value(json_object_get(cv.vars, "tz"));
	if (!json_is_object(cv.vars) || tz == NULL ||
	    !json_is_integer(json_object_get(cv.vars, "at"))) {
		err_public(err, "court reminder: the job's record has no readable values");
		goto done;
	}
	if (templates_lang(set, name, json_string_value(json_object_get(cv.vars, "lang")), ch,
			   lang) != 0) {
		err_public(err, "%s: no template for %s", name, channel_name(ch));	/* names of ours */
		goto done;
	}
	if (tz_utc_to_local(tz, json_integer_value(json_object_get(cv.vars, "at")), &at, err) != 0 ||
	    tz_utc_to_local(tz, now_ms, &today, err) != 0)
		goto done;
	if (datefmt_date(lang, &at, cv.date, sizeof(cv.date)) != 0 ||
	    datefmt_time(lang, &at, cv.time, sizeof(cv.time)) != 0) {
		err_detail(err, "court reminder: cannot format the date in the recipient's language",
			   "court reminder: cannot format the date in %s", lang);
		goto done;
	}
	{
		int64_t d_at = tz_days_from_civil(at.year, at.month, at.day);
		int64_t d_now = tz_days_from_civil(today.year, today.month, today.day);

		cv.today = d_at == d_now ? "yes" : "";
		cv.tomorrow = d_at == d_now + 1 ? "yes" : "";
	}
	rc = templates_render(set, name, json_string_value(json_object_get(cv.vars, "lang")), ch,
			      court_lookup, &cv, out, err);
done:
	json_decref(cv.vars);
	return rc;
}
