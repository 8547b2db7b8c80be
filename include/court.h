/* court.h: what a court_reminder job schedules, and what its templates are
 * given when a reminder goes out.
 *
 * CONTRACT.md section 2. One reminder at the appearance minus each offset
 * (the job's, else [court_reminder] offsets), each offset taken as calendar
 * arithmetic in the court's zone (tz.h). A reminder that falls in the
 * recipient's quiet hours moves to the last allowed minute before them
 * (quiet_hours.h), never after. The recipient's zone is recipient.tz, else
 * the case's zone, else [schedule] default_tz.
 * - A reminder whose (moved) time is not after now is skipped: `expired`.
 * - If every reminder is skipped and the appearance is still ahead, one
 *   reminder goes out now ("now" moved to the end of quiet hours when that
 *   is still before the appearance; otherwise now: a late text beats none).
 * - An enrolment notice goes out now, held by quiet hours the same way
 *   (the script sends it only for the first job of a case and recipient,
 *   as a change notice when a job replaces one whose date or place was
 *   different and still ahead, and again for the next hearing after a past
 *   one; [court_reminder] confirm_on_enrol = no turns it off).
 * - Two reminders at the same instant are one.
 * Every message expires at the appearance: nothing is sent after it.
 *
 * The texts are rendered when a message is sent, not when the job comes
 * in: a template fixed with SIGHUP applies to reminders already scheduled,
 * and "today"/"tomorrow" are true on the day the text leaves. The job's
 * values (court_vars_json) are kept in its record; the intake renders
 * every channel once to refuse a job whose text cannot be made. */
#ifndef PREGON_COURT_H
#define PREGON_COURT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "job.h"
#include "templates.h"

#define COURT_MSGS_MAX (JOB_DURATIONS_MAX + 2)
#define COURT_TEMPLATE_REMINDER "court_reminder"
#define COURT_TEMPLATE_ENROLMENT "court_enrolment"

enum court_msg_kind {
	COURT_MSG_REMINDER,	/* at an offset */
	COURT_MSG_CATCH_UP,	/* every offset past: one now */
	COURT_MSG_ENROLMENT,	/* the notice */
};

struct court_msg {
	enum court_msg_kind kind;
	int64_t due_ms;		/* when it goes out */
	int64_t at_ms;		/* appearance minus the offset, before any move */
	bool past;		/* skipped: due_ms is not after now */
};

struct court_plan {
	const char *quiet_tz;	/* the recipient's zone (borrowed) */
	int n;
	struct court_msg msgs[COURT_MSGS_MAX];
};

/* Plans job (a parsed court_reminder) at now_ms. Fails only when a time
 * leaves the calendar (an offset of 9000 years) or a zone is unknown. */
int court_plan_make(const struct config *cfg, const struct job *job, int64_t now_ms,
		    struct court_plan *plan, struct err *err);

/* The job's template values as kept in its record:
 * {"lang","name","court","address","department","at" (Unix ms),"tz"}.
 * malloc'd JSON, or NULL when out of memory. */
char *court_vars_json(const struct job *job);

/* Renders template `name` (COURT_TEMPLATE_*) for the values vars_json on
 * channel ch, at now_ms: date and time of the appearance in the court's
 * zone, in the language of the template file chosen; today/tomorrow from
 * now_ms in the court's zone; changed as given. */
int court_render(const struct templates *set, const char *name, const char *vars_json,
		 enum channel ch, int64_t now_ms, bool changed, struct templates_text *out,
		 struct err *err);

#endif
