/* townhall.c: town halls planned and rendered, and their calendar
 * invitations (see townhall.h). */
#include "townhall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libical/ical.h>
#include <openssl/evp.h>

#include "datefmt.h"
#include "quiet_hours.h"
#include "tz.h"
#include "utf8.h"
#include "util.h"
#include "version.h"

/* ---- planning ---- */

static bool same_due(const struct townhall_plan *plan, int64_t due)
{
	for (int i = 0; i < plan->n; i++)
		if (plan->msgs[i].kind == TOWNHALL_MSG_REMINDER && plan->msgs[i].due_ms == due)
			return true;
	return false;
}

static int64_t event_end(int64_t starts_ms, int64_t ends_ms)
{
	return ends_ms > 0 ? ends_ms : starts_ms + TOWNHALL_DEFAULT_LENGTH_MS;
}

int townhall_plan_make(const struct config *cfg, const struct job *job, int64_t now_ms,
		       struct townhall_plan *plan, struct err *err)
{
	const struct duration *offsets = job->n_offsets ? job->offsets : cfg->townhall_offsets;
	int n_offsets = job->n_offsets ? job->n_offsets : cfg->n_townhall_offsets;
	const char *zone = job->recipient.tz ? job->recipient.tz : job->event_tz;
	struct townhall_msg notice = { .kind = TOWNHALL_MSG_NOTICE, .at_ms = now_ms,
				       .due_ms = now_ms };
	int64_t open;

	memset(plan, 0, sizeof(*plan));
	if (zone == NULL)
		zone = cfg->schedule_default_tz;
	plan->quiet_tz = zone;
	/* The notice: held by quiet hours while that still lands before the
	 * start, as court_enrolment; a link to a meeting still on is worth
	 * sending, so it expires at the end. */
	if (quiet_hours_next_allowed(&cfg->quiet, zone, now_ms, &open, err) != 0)
		return -1;
	if (open < job->starts_ms)
		notice.due_ms = open;
	notice.expires_ms = event_end(job->starts_ms, job->ends_ms);
	notice.past = notice.expires_ms <= now_ms;
	plan->msgs[plan->n++] = notice;
	for (int i = 0; i < n_offsets && plan->n < TOWNHALL_MSGS_MAX; i++) {
		struct townhall_msg m = { .kind = TOWNHALL_MSG_REMINDER, .expires_ms = job->starts_ms };

		if (quiet_hours_reminder(&cfg->quiet, job->event_tz ? job->event_tz : zone, zone,
					 job->starts_ms, &offsets[i], &m.at_ms, &m.due_ms, err) != 0)
			return -1;
		if (same_due(plan, m.due_ms))
			continue;
		m.past = m.due_ms <= now_ms;
		plan->msgs[plan->n++] = m;
	}
	return 0;
}

/* ---- the record ---- */

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* v as compact JSON, malloc'd; v released. NULL when out of memory. */
static char *dump_compact(json_t *v)
{
	char *out = v ? json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	return out;
}

char *townhall_vars_json(const struct job *job)
{
	json_t *v = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s}",
			      "lang", or_empty(job->recipient.lang),
			      "name", or_empty(job->recipient.name),
			      "title", or_empty(job->title),
			      "starts", (json_int_t)job->starts_ms, "ends", (json_int_t)job->ends_ms,
			      "tz", or_empty(job->event_tz),
			      "location", or_empty(job->location),
			      "join_url", or_empty(job->join_url),
			      "ref", or_empty(job->event_ref), "rid", or_empty(job->recipient.id));

	return dump_compact(v);
}

char *townhall_sig(const struct job *job)
{
	json_t *v = json_pack("[I, I, s, s, s, s]", (json_int_t)job->starts_ms,
			      (json_int_t)job->ends_ms, or_empty(job->event_tz),
			      or_empty(job->location), or_empty(job->join_url), or_empty(job->title));

	return dump_compact(v);
}

/* ---- rendering ---- */

/* The event's time as the texts write it, in the template's language. */
struct townhall_when {
	char date[128];		/* of the start, in the event's zone */
	char time[48];
	char end_time[48];	/* "" without an end */
	const char *today;	/* "yes" or "", the start's day against the send time's */
	const char *tomorrow;
};

/* The values one rendering sees. */
struct townhall_values {
	json_t *vars;		/* the record (townhall_vars_json) */
	const char *join_link;	/* NULL: none */
	struct townhall_when when;
};

static const char *townhall_lookup(void *data, const char *name)
{
	struct townhall_values *tv = data;
	const struct townhall_when *w = &tv->when;
	const struct { const char *name, *value; } own[] = {
		{ "date", w->date }, { "time", w->time },
		{ "end_time", w->end_time[0] ? w->end_time : NULL },
		{ "join_url", tv->join_link }, { "today", w->today }, { "tomorrow", w->tomorrow },
	};
	const char *s;

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strcmp(name, own[i].name) == 0)
			return own[i].value;
	if (strcmp(name, "name") != 0 && strcmp(name, "title") != 0 &&
	    strcmp(name, "location") != 0)
		return NULL;
	/* "" is no value: {{#if}} false, and a template that prints it
	 * unconditionally fails to render (court.c does the same). */
	s = json_string_value(json_object_get(tv->vars, name));
	return (s != NULL && s[0] != '\0') ? s : NULL;
}

/* The record's start, end (0: none) and zone; -1 when it is not one. */
static int read_when(json_t *vars, int64_t *starts, int64_t *ends, const char **tz)
{
	json_t *s = json_object_get(vars, "starts"), *e = json_object_get(vars, "ends");

	*tz = json_string_value(json_object_get(vars, "tz"));
	if (!json_is_object(vars) || *tz == NULL || !json_is_integer(s) ||
	    (e != NULL && !json_is_integer(e)))
		return -1;
	*starts = json_integer_value(s);
	*ends = e ? json_integer_value(e) : 0;
	return 0;
}

/* Date, times, today/tomorrow in the event's zone, in language lang. */
static int format_when(struct townhall_when *w, const char *lang, const char *tz,
		       int64_t starts, int64_t ends, int64_t now_ms, struct err *err)
{
	struct tz_wall at, end, today;
	int64_t days_ahead;

	if (tz_utc_to_local(tz, starts, &at, err) != 0 ||
	    tz_utc_to_local(tz, now_ms, &today, err) != 0 ||
	    (ends > 0 && tz_utc_to_local(tz, ends, &end, err) != 0))
		return -1;
	if (datefmt_date(lang, &at, w->date, sizeof(w->date)) != 0 ||
	    datefmt_time(lang, &at, w->time, sizeof(w->time)) != 0 ||
	    (ends > 0 && datefmt_time(lang, &end, w->end_time, sizeof(w->end_time)) != 0))
		return err_detail(err, "town hall: cannot format the date in the recipient's language",
				  "town hall: cannot format the date in %s", lang);
	days_ahead = tz_days_from_civil(at.year, at.month, at.day) -
		     tz_days_from_civil(today.year, today.month, today.day);
	w->today = days_ahead == 0 ? "yes" : "";
	w->tomorrow = days_ahead == 1 ? "yes" : "";
	return 0;
}

int townhall_render(const struct templates *set, const char *name, const char *vars_json,
		    enum channel ch, int64_t now_ms, const char *join_link,
		    struct templates_text *out, struct err *err)
{
	struct townhall_values tv = { .when = { .today = "", .tomorrow = "" } };
	char lang[LANG_TAG_MAX];
	const char *tz, *want_lang;
	int64_t starts, ends;
	json_error_t jerr;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	tv.join_link = (join_link != NULL && join_link[0] != '\0') ? join_link : NULL;
	tv.vars = json_loads(vars_json ? vars_json : "", 0, &jerr);
	if (read_when(tv.vars, &starts, &ends, &tz) != 0) {
		err_public(err, "town hall: the job's record has no readable values");
		goto done;
	}
	want_lang = json_string_value(json_object_get(tv.vars, "lang"));
	if (templates_lang(set, name, want_lang, ch, lang) != 0) {
		err_public(err, "%s: no template for %s", name, channel_name(ch));	/* names of ours */
		goto done;
	}
	if (format_when(&tv.when, lang, tz, starts, ends, now_ms, err) != 0)
		goto done;
	rc = templates_render(set, name, want_lang, ch, townhall_lookup, &tv, out, err);
done:
	json_decref(tv.vars);
	return rc;
}

/* ---- the calendar UID ---- */

void townhall_uid(const char *ref, const char *rid, const char *domain, char *out,
		  size_t out_len)
{
	static const char tag[] = "pregon townhall uid";	/* NUL included: a separator */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char hex[33];
	EVP_MD_CTX *ctx;

	if (out_len == 0)
		return;
	ref = or_empty(ref);
	rid = or_empty(rid);
	/* ref and rid hold no NUL (job_parse): their NULs separate them, so
	 * ("a", "bc") and ("ab", "c") differ. */
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, tag, sizeof(tag)) != 1 ||
	    EVP_DigestUpdate(ctx, ref, strlen(ref) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, rid, strlen(rid) + 1) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len < 16) {
		EVP_MD_CTX_free(ctx);
		out[0] = '\0';	/* out of memory: townhall_ical refuses an empty UID */
		return;
	}
	EVP_MD_CTX_free(ctx);
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(out, out_len, "%s@%s", hex, (domain && domain[0]) ? domain : "pregon.invalid");
}

/* ---- iCalendar text (RFC 5545 3.1, 3.3.11) ---- */

/* RFC 5545 3.1: lines of at most 75 octets, excluding the CRLF; a longer
 * one goes on in lines that begin with a space. A UTF-8 sequence is never
 * split (3.1: "multi-octet characters" SHOULD NOT be split), so a chunk
 * ends before the byte that would start past the limit. */
static int add_folded(struct buf *out, const char *line, size_t len)
{
	size_t room = 75;
	int rc = 0;

	while (rc == 0 && len > room) {
		size_t cut = room;

		while (cut > 0 && ((unsigned char)line[cut] & 0xc0) == 0x80)
			cut--;
		if (cut == 0)	/* not UTF-8 (callers check): cut anywhere, but go on */
			cut = room;
		rc = buf_add(out, line, cut) | buf_adds(out, "\r\n ");
		line += cut;
		len -= cut;
		room = 74;	/* the space counts */
	}
	return rc | buf_add(out, line, len) | buf_adds(out, "\r\n");
}

/* A TEXT value (RFC 5545 3.3.11): backslash, semicolon and comma escaped,
 * a line break (CRLF, CR or LF) as \n, other control characters (which
 * TEXT may not hold) as a space. */
static int add_text(struct buf *b, const char *s)
{
	int rc = 0;

	for (; rc == 0 && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\' || c == ';' || c == ',')
			rc = buf_add(b, "\\", 1) | buf_add(b, s, 1);
		else if (c == '\r' || c == '\n') {
			rc = buf_adds(b, "\\n");
			if (c == '\r' && s[1] == '\n')
				s++;
		} else if (c < 0x20 || c == 0x7f)
			rc = buf_adds(b, " ");
		else
			rc = buf_add(b, s, 1);
	}
	return rc;
}

/* A parameter value in quotes (RFC 5545 3.2), with RFC 6868's escapes for
 * what a quoted value cannot hold: ^ as ^^, a double quote as ^', a line
 * break as ^n; other control characters as a space. */
static int add_param(struct buf *b, const char *s)
{
	int rc = buf_adds(b, "\"");

	for (; rc == 0 && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '^')
			rc = buf_adds(b, "^^");
		else if (c == '"')
			rc = buf_adds(b, "^'");
		else if (c == '\n')
			rc = buf_adds(b, "^n");
		else if (c < 0x20 || c == 0x7f)
			rc = buf_adds(b, " ");
		else
			rc = buf_add(b, s, 1);
	}
	return rc | buf_adds(b, "\"");
}

/* The line in line (a scratch buffer) folded into out; line emptied. */
static int flush_line(struct buf *out, struct buf *line)
{
	int rc = add_folded(out, line->p ? line->p : "", line->len);

	buf_reset(line);
	return rc;
}

/* NAME:escaped-text */
static int text_prop(struct buf *out, struct buf *line, const char *name, const char *value)
{
	if (buf_addf(line, "%s:", name) != 0 || add_text(line, value) != 0)
		return -1;
	return flush_line(out, line);
}

/* ORGANIZER or ATTENDEE: [;CN="..."]<params>:mailto:<address> */
static int cal_address(struct buf *out, struct buf *line, const char *prop, const char *name,
		       const char *params, const char *address)
{
	if (buf_adds(line, prop) != 0)
		return -1;
	if (name != NULL && name[0] != '\0' && (buf_adds(line, ";CN=") != 0 || add_param(line, name) != 0))
		return -1;
	if (buf_addf(line, "%s:mailto:%s", params, address) != 0)
		return -1;
	return flush_line(out, line);
}

/* A value put in the text as it is (an address, a URI): it must hold no
 * control character and no space, which would end or break the line. */
static int check_raw(const char *field, const char *s, bool required, struct err *err)
{
	if (s == NULL || s[0] == '\0')
		return required ? err_public(err, "invitation: %s: missing", field) : 0;
	if (strlen(s) > 2048)
		return err_public(err, "invitation: %s: longer than 2048 bytes", field);
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '"')
			return err_public(err, "invitation: %s: a space, quote or control character",
					  field);
	if (!utf8_valid(s, strlen(s)))
		return err_public(err, "invitation: %s: not UTF-8", field);
	return 0;
}

static int check_text(const char *field, const char *s, struct err *err)
{
	if (s != NULL && !utf8_valid(s, strlen(s)))
		return err_public(err, "invitation: %s: not UTF-8", field);
	return 0;
}

/* Zones that are UTC itself: their times are written with Z and need no
 * VTIMEZONE (RFC 5545 3.3.5, form 2). */
static bool zone_is_utc(const char *tz)
{
	static const char *const utc[] = { "UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal",
					   "Universal", "Etc/Zulu", "Zulu", "GMT", "Etc/GMT",
					   "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "GMT0", "GMT+0",
					   "GMT-0", "Etc/Greenwich", "Greenwich" };

	for (size_t i = 0; i < sizeof(utc) / sizeof(utc[0]); i++)
		if (strcmp(tz, utc[i]) == 0)
			return true;
	return false;
}

/* NAME;TZID=zone:YYYYMMDDTHHMMSS (local), or NAME:...Z for UTC. */
static int time_prop(struct buf *out, struct buf *line, const char *name, const char *tz,
		     int64_t ms, struct err *err)
{
	bool utc = tz == NULL || zone_is_utc(tz);
	struct tz_wall w;

	if (tz_utc_to_local(utc ? "UTC" : tz, ms, &w, err) != 0)
		return -1;
	if (buf_addf(line, "%s%s%s:%04d%02d%02dT%02d%02d%02d%s", name, utc ? "" : ";TZID=",
		     utc ? "" : tz, w.year, w.month, w.day, w.hour, w.minute, w.second,
		     utc ? "Z" : "") != 0)
		return err_set(err, "out of memory");
	return flush_line(out, line);
}

/* ---- the VTIMEZONE ---- */

#define VTZ_SUBS_MAX 256

/* A wall time as seconds, read as UTC (a year's precision is all that is
 * asked of it). Not icaltime_as_timet: it answers -1 before 1902, which
 * would sort the zone's 1854 rule after its 1945 one. */
static int64_t wall_seconds(struct icaltimetype t)
{
	return tz_days_from_civil(t.year, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 +
	       t.second;
}

/* The last instant a STANDARD/DAYLIGHT sub-component starts an offset
 * (wall_seconds): INT64_MAX for an RRULE without UNTIL. */
static int64_t last_onset(icalcomponent *sub)
{
	icalproperty *p = icalcomponent_get_first_property(sub, ICAL_RRULE_PROPERTY);
	int64_t last = wall_seconds(icalcomponent_get_dtstart(sub));

	if (p != NULL) {
		struct icalrecurrencetype r = icalproperty_get_rrule(p);

		return icaltime_is_null_time(r.until) ? INT64_MAX : wall_seconds(r.until);
	}
	for (p = icalcomponent_get_first_property(sub, ICAL_RDATE_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(sub, ICAL_RDATE_PROPERTY)) {
		struct icaldatetimeperiodtype d = icalproperty_get_rdate(p);
		struct icaltimetype t = icaltime_is_null_time(d.time) ? d.period.start : d.time;
		int64_t s = wall_seconds(t);

		if (s > last)
			last = s;
	}
	return last;
}

/* Keeps the sub-components in force from `from` (seconds) on: those with
 * an onset at or after it, and, when none of those began before it, the
 * latest one before it (the offset in force at `from`: a zone without DST,
 * or one that gave it up). libical's zone from tzdata carries every rule
 * since 1883; a mail client needs only the current ones, and some read
 * only the first STANDARD and DAYLIGHT they find. */
static int trim_vtimezone(icalcomponent *vtz, int64_t from)
{
	icalcomponent *subs[VTZ_SUBS_MAX], *latest = NULL;
	bool kept_before = false, keep[VTZ_SUBS_MAX];
	int64_t latest_onset = INT64_MIN;
	int n = 0;

	for (icalcomponent *c = icalcomponent_get_first_component(vtz, ICAL_ANY_COMPONENT);
	     c != NULL; c = icalcomponent_get_next_component(vtz, ICAL_ANY_COMPONENT)) {
		int64_t last = last_onset(c);

		if (n == VTZ_SUBS_MAX)
			return -1;
		subs[n] = c;
		keep[n] = last >= from;
		if (keep[n] && wall_seconds(icalcomponent_get_dtstart(c)) <= from)
			kept_before = true;
		if (!keep[n] && last > latest_onset) {
			latest_onset = last;
			latest = c;
		}
		n++;
	}
	for (int i = 0; i < n; i++) {
		if (keep[i] || (!kept_before && subs[i] == latest))
			continue;
		icalcomponent_remove_component(vtz, subs[i]);
		icalcomponent_free(subs[i]);
	}
	return 0;
}

/* Drops X-LIC-LOCATION and the like, and names the zone by its IANA name
 * (libical's builtin zones carry "/freeassociation.sourceforge.net/"
 * before it), so that TZID matches DTSTART's. */
static void rename_vtimezone(icalcomponent *vtz, const char *tz)
{
	icalproperty *p, *next;

	for (p = icalcomponent_get_first_property(vtz, ICAL_X_PROPERTY); p != NULL; p = next) {
		next = icalcomponent_get_next_property(vtz, ICAL_X_PROPERTY);
		icalcomponent_remove_property(vtz, p);
		icalproperty_free(p);
	}
	p = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
	if (p != NULL)
		icalproperty_set_tzid(p, tz);
}

/* libical's text of the component, unfolded and folded again by
 * add_folded, line by line, into out. */
static int add_component_text(struct buf *out, icalcomponent *c)
{
	char *s = icalcomponent_as_ical_string_r(c);
	struct buf line = { 0 };
	int rc = 0;

	if (s == NULL)
		return -1;
	for (const char *p = s; rc == 0 && *p != '\0';) {
		size_t n = strcspn(p, "\r\n");

		rc = buf_add(&line, p, n);
		p += n;
		if (*p == '\r')
			p++;
		if (*p == '\n')
			p++;
		if (*p == ' ' || *p == '\t') {	/* a continuation */
			p++;
			continue;
		}
		if (rc == 0 && line.len > 0)
			rc = flush_line(out, &line);
	}
	buf_free(&line);
	free(s);
	return rc;
}

static int add_vtimezone(struct buf *out, const char *tz, int64_t starts_ms, struct err *err)
{
	icaltimezone *z = icaltimezone_get_builtin_timezone(tz);
	icalcomponent *vtz;
	int rc;

	if (z == NULL || icaltimezone_get_component(z) == NULL)
		return err_detail(err, "invitation: unknown time zone", "invitation: unknown time zone "
				  "\"%.64s\"", tz);
	vtz = icalcomponent_new_clone(icaltimezone_get_component(z));
	if (vtz == NULL)
		return err_set(err, "out of memory");
	rename_vtimezone(vtz, tz);
	rc = trim_vtimezone(vtz, starts_ms / 1000 - 366 * 86400);
	if (rc == 0)
		rc = add_component_text(out, vtz);
	icalcomponent_free(vtz);
	if (rc != 0)
		return err_public(err, "invitation: cannot write the zone's rules");
	return 0;
}

/* ---- the VCALENDAR ---- */

struct ical_event {
	const char *title, *tz, *location;
	int64_t starts, ends;
};

static int read_event(const char *vars_json, json_t **vars, struct ical_event *ev,
		      struct err *err)
{
	json_error_t jerr;
	const char *loc;

	*vars = json_loads(vars_json ? vars_json : "", 0, &jerr);
	if (read_when(*vars, &ev->starts, &ev->ends, &ev->tz) != 0)
		return err_public(err, "invitation: the job's record has no readable values");
	ev->title = json_string_value(json_object_get(*vars, "title"));
	loc = json_string_value(json_object_get(*vars, "location"));
	ev->location = (loc != NULL && loc[0] != '\0') ? loc : NULL;
	if (ev->title == NULL || ev->title[0] == '\0')
		return err_public(err, "invitation: the event has no title");
	if (ev->ends > 0 && ev->ends <= ev->starts)
		return err_public(err, "invitation: the event ends before it starts");
	if (!zone_is_utc(ev->tz) && !tz_exists(ev->tz))
		return err_public(err, "invitation: unknown time zone");
	return check_text("title", ev->title, err) | check_text("location", ev->location, err);
}

static int check_args(const struct townhall_ical_args *a, bool *cancel, struct err *err)
{
	if (a->method == NULL || (strcmp(a->method, "REQUEST") != 0 &&
				  strcmp(a->method, "CANCEL") != 0))
		return err_public(err, "invitation: method: REQUEST or CANCEL");
	*cancel = strcmp(a->method, "CANCEL") == 0;
	if (a->sequence < 0)
		return err_public(err, "invitation: sequence: must be 0 or more");
	if (check_raw("uid", a->uid, true, err) != 0 ||
	    check_raw("organizer", a->organizer, true, err) != 0 ||
	    check_raw("attendee", a->attendee, true, err) != 0 ||
	    check_raw("url", a->url, false, err) != 0 ||
	    check_text("organizer_name", a->organizer_name, err) != 0 ||
	    check_text("attendee_name", a->attendee_name, err) != 0 ||
	    check_text("description", a->description, err) != 0)
		return -1;
	return 0;
}

static int add_vevent(struct buf *out, struct buf *line, const struct townhall_ical_args *a,
		      const struct ical_event *ev, bool cancel, struct err *err)
{
	int rc;

	if (buf_adds(out, "BEGIN:VEVENT\r\n") != 0 || text_prop(out, line, "UID", a->uid) != 0 ||
	    buf_addf(out, "SEQUENCE:%d\r\n", a->sequence) != 0)
		return err_set(err, "out of memory");
	if (time_prop(out, line, "DTSTAMP", "UTC", a->dtstamp_ms, err) != 0 ||
	    time_prop(out, line, "DTSTART", ev->tz, ev->starts, err) != 0 ||
	    time_prop(out, line, "DTEND", ev->tz, event_end(ev->starts, ev->ends), err) != 0)
		return -1;
	rc = text_prop(out, line, "SUMMARY", ev->title);
	if (rc == 0 && ev->location != NULL)
		rc = text_prop(out, line, "LOCATION", ev->location);
	if (rc == 0 && a->url != NULL && a->url[0] != '\0')
		rc = buf_addf(line, "URL:%s", a->url) | flush_line(out, line);
	if (rc == 0 && a->description != NULL && a->description[0] != '\0')
		rc = text_prop(out, line, "DESCRIPTION", a->description);
	if (rc == 0)
		rc = cal_address(out, line, "ORGANIZER", a->organizer_name, "", a->organizer);
	if (rc == 0)
		rc = cal_address(out, line, "ATTENDEE", a->attendee_name,
				 ";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE", a->attendee);
	if (rc == 0)
		rc = buf_addf(out, "STATUS:%s\r\nEND:VEVENT\r\n", cancel ? "CANCELLED" : "CONFIRMED");
	return rc == 0 ? 0 : err_set(err, "out of memory");
}

char *townhall_ical(const struct townhall_ical_args *a, struct err *err)
{
	struct buf out = { 0 }, line = { 0 };
	struct ical_event ev;
	json_t *vars = NULL;
	bool cancel = false;
	char *res = NULL;

	if (check_args(a, &cancel, err) != 0 || read_event(a->vars_json, &vars, &ev, err) != 0)
		goto done;
	/* RFC 5546 3.2.2 (REQUEST), 3.2.5 (CANCEL). */
	if (buf_addf(&out, "BEGIN:VCALENDAR\r\nMETHOD:%s\r\nPRODID:-//pregon//pregon %s//EN\r\n"
		     "VERSION:2.0\r\nCALSCALE:GREGORIAN\r\n", a->method, PREGON_VERSION) != 0) {
		err_set(err, "out of memory");
		goto done;
	}
	if (!zone_is_utc(ev.tz) && add_vtimezone(&out, ev.tz, ev.starts, err) != 0)
		goto done;
	if (add_vevent(&out, &line, a, &ev, cancel, err) != 0)
		goto done;
	if (buf_adds(&out, "END:VCALENDAR\r\n") != 0) {
		err_set(err, "out of memory");
		goto done;
	}
	res = buf_take(&out);
	if (res == NULL)
		err_set(err, "out of memory");
done:
	json_decref(vars);
	buf_free(&out);
	buf_free(&line);
	return res;
}
