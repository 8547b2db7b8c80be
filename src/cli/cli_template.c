/* cli_template.c: `pregon template render NAME LANG CHANNEL VARS.json`, for
 * people writing templates: renders one file with the values given, prints
 * the text, and says on stderr how many SMS segments it takes.
 *
 * VARS.json is an object of the template's variables (strings; true/false
 * for the yes/no ones). Instead of "date" and "time" it may give
 * "appearance" (ISO-8601, local to "tz"): both are then formatted in LANG
 * as a reminder would be. Nothing here talks to Redis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "datefmt.h"
#include "sms_segments.h"
#include "templates.h"
#include "tz.h"
#include "validate.h"

#define VARS_MAX_BYTES (64 * 1024)

struct render_vars {
	json_t *obj;
	char date[128];
	char time[48];
	const char *sender;	/* [templates] sender, as pregond gives every template */
};

static const char *vars_lookup(void *data, const char *name)
{
	struct render_vars *v = data;
	json_t *j = json_object_get(v->obj, name);

	if (strcmp(name, "date") == 0 && j == NULL && v->date[0])
		return v->date;
	if (strcmp(name, "time") == 0 && j == NULL && v->time[0])
		return v->time;
	if (strcmp(name, "sender") == 0 && j == NULL)
		return v->sender != NULL && v->sender[0] ? v->sender : NULL;
	if (json_is_true(j))
		return "yes";
	if (json_is_false(j))
		return "";
	/* As the daemon renders (court.c): "" is no value. */
	return (json_string_value(j) && json_string_value(j)[0]) ? json_string_value(j) : NULL;
}

static int read_vars(struct cli *c, const char *path, json_t **out)
{
	json_error_t jerr;
	char *buf;
	size_t n;

	if (cli_read_input(c, path, VARS_MAX_BYTES, "VARS.json is larger than allowed", &buf, &n) != 0)
		return -1;
	*out = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (*out == NULL)
		return cli_fail(c, 1, "%s: not valid JSON: %s at line %d", path, jerr.text, jerr.line);
	if (!json_is_object(*out)) {
		json_decref(*out);
		return cli_fail(c, 1, "%s: must be a JSON object of variables", path);
	}
	return 0;
}

/* Every key is a variable of the template (or appearance/tz), and every
 * value a string or true/false. */
static int check_vars(struct cli *c, const char *name, const char *path, json_t *obj)
{
	const char *const *known = templates_vars_of(name);
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		bool ok = strcmp(key, "appearance") == 0 || strcmp(key, "tz") == 0;

		for (size_t i = 0; !ok && known[i] != NULL; i++)
			ok = strcmp(key, known[i]) == 0;
		if (!ok) {
			char list[512] = "";

			for (size_t i = 0; known[i] != NULL; i++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 i ? ", " : "", known[i]);
			return cli_fail(c, 1, "%s: \"%.64s\": not a variable of %s (%s)", path, key,
					name, list);
		}
		if (!json_is_string(v) && !json_is_boolean(v))
			return cli_fail(c, 1, "%s: %s: must be a string or true/false", path, key);
	}
	return 0;
}

/* "appearance" + "tz" -> date and time in lang. */
static int format_appearance(struct cli *c, const char *path, const char *lang,
			     struct render_vars *v)
{
	const char *at = json_string_value(json_object_get(v->obj, "appearance"));
	const char *tz = json_string_value(json_object_get(v->obj, "tz"));
	struct tz_wall w;
	struct err err;
	int64_t ms;

	if (at == NULL)
		return 0;
	if (tz == NULL)
		return cli_fail(c, 1, "%s: appearance needs \"tz\" (an IANA zone)", path);
	if (time_parse_iso8601(at, tz, &ms, &err) != 0)
		return cli_fail(c, 1, "%s: appearance: %s", path, err.msg);
	if (tz_utc_to_local(tz, ms, &w, &err) != 0)
		return cli_fail(c, 1, "%s: tz: %s", path, err.msg);
	datefmt_date(lang, &w, v->date, sizeof(v->date));
	datefmt_time(lang, &w, v->time, sizeof(v->time));
	return 0;
}

static int report_segments(const char *text, const char *ext)
{
	struct sms_segments seg;

	fflush(stdout);	/* the text first, then what it costs */
	if (sms_segments_count(text, strlen(text), &seg) != 0) {
		fprintf(stderr, "%s: not valid UTF-8 text\n", ext);
		return -1;
	}
	fprintf(stderr, "%s: %d SMS segment%s (%s, %d units)\n", ext, seg.segments,
		seg.segments == 1 ? "" : "s", sms_encoding_name(seg.encoding), seg.units);
	if (seg.segments > TEMPLATES_SMS_SEGMENTS_WARN)
		fprintf(stderr, "warning: more than %d SMS segments: each costs a message; "
			"shorten the text%s\n", TEMPLATES_SMS_SEGMENTS_WARN,
			seg.encoding == SMS_UCS2 ? " (one character outside GSM-7 makes it all UCS-2, "
						   "70 characters a segment)" : "");
	return 0;
}

int cli_template(struct cli *c, const struct cli_args *a)
{
	const char *name, *lang, *ext, *path;
	struct template *subject = NULL, *body = NULL;
	struct render_vars v = { .sender = c->cfg.templates_sender };
	struct err err;
	char *text = NULL, *subj = NULL;
	int rc = -1, e;

	if (a->npos != 5 || strcmp(a->pos[0], "render") != 0)
		return cli_fail(c, CLI_EXIT_USAGE,
				"template: usage: template render NAME LANG CHANNEL VARS.json");
	name = a->pos[1];
	lang = a->pos[2];
	ext = a->pos[3];
	path = a->pos[4];
	if (templates_compile_file(c->cfg.templates_dir, name, lang, ext, &subject, &body, &err) != 0) {
		/* Signal without a .signal file sends the .sms text. */
		if (strcmp(ext, "signal") != 0 || strstr(err.msg, ": not found") == NULL)
			return cli_fail(c, 1, "%s", err.msg);
		if (templates_compile_file(c->cfg.templates_dir, name, lang, "sms", &subject, &body,
					   &err) != 0)
			return cli_fail(c, 1, "%s", err.msg);
		fprintf(stderr, "note: no %s.signal: Signal sends %s.sms, rendered here\n", lang, lang);
	}
	if (read_vars(c, path, &v.obj) != 0)
		goto done;
	if (check_vars(c, name, path, v.obj) != 0 || format_appearance(c, path, lang, &v) != 0)
		goto done;
	e = template_ext_from_name(ext);
	if ((subject != NULL &&
	     template_render(subject, vars_lookup, &v, TEMPLATE_PLAIN, &subj, NULL, &err) != 0) ||
	    template_render(body, vars_lookup, &v,
			    e == TEMPLATE_EXT_EMAIL_HTML ? TEMPLATE_HTML : TEMPLATE_PLAIN, &text, NULL,
			    &err) != 0) {
		cli_fail(c, 1, "%s/%s/%s.%s: %s%s", c->cfg.templates_dir, name, lang, ext,
			 subj == NULL && subject != NULL ? "subject: " : "", err.msg);
		goto done;
	}
	if (subj != NULL)
		printf("Subject: %s\n\n", subj);
	fputs(text, stdout);
	if (text[0] != '\0' && text[strlen(text) - 1] != '\n')
		putchar('\n');
	if (e == TEMPLATE_EXT_SMS || e == TEMPLATE_EXT_SIGNAL)
		report_segments(text, ext);
	rc = 0;
done:
	free(text);
	free(subj);
	json_decref(v.obj);
	template_free(subject);
	template_free(body);
	return rc;
}
