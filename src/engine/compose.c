/* compose.c: a message's text, invitation and links at send time
 * (compose.h). */
#include "compose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "court.h"
#include "log.h"
#include "seal.h"
#include "townhall.h"

const char *compose_from_address(const char *from, char *out, size_t out_len)
{
	const char *lt = strrchr(from, '<'), *gt, *at;
	size_t n;

	if (lt != NULL && (gt = strchr(lt, '>')) != NULL) {
		from = lt + 1;
		n = (size_t)(gt - from);
	} else {
		while (*from == ' ')
			from++;
		n = strcspn(from, " ");
	}
	snprintf(out, out_len, "%.*s", (int)n, from);
	at = strrchr(out, '@');
	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

/* "<public_url><path><token>", public_url without its trailing '/'. */
static char *link_under(const struct config *cfg, const char *path, const char *token)
{
	size_t n = strlen(cfg->http_public_url);
	char *out;

	while (n > 0 && cfg->http_public_url[n - 1] == '/')
		n--;
	if (n == 0)
		return NULL;
	if (asprintf(&out, "%.*s%s%s", (int)n, cfg->http_public_url, path, token) < 0)
		return NULL;
	return out;
}

static int unsubscribe_link(const struct compose_env *env, const char *to, struct composed *c)
{
	char token[SEAL_TOKEN_MAX + 1];

	if (env->link_key == NULL || env->cfg->http_public_url[0] == '\0')
		return 0;	/* no public_url: no link to offer */
	if (seal_make(env->link_key, "unsubscribe", to, token, sizeof(token)) != 0)
		return 0;	/* an address too long to seal gets no header */
	c->unsubscribe_url = link_under(env->cfg, "/unsubscribe/", token);
	return 0;
}

/* The invitation of a town-hall notice sent by email. */
static int townhall_invitation(const struct compose_env *env, const char *tpl, const char *vars,
			       const char *to, const char *link, struct composed *c,
			       struct err *err)
{
	const struct config *cfg = env->cfg;
	json_t *v = json_loads(vars, 0, NULL);
	char from[256], uid[TOWNHALL_UID_MAX];
	const char *domain = compose_from_address(cfg->email_from, from, sizeof(from));
	bool cancel = strcmp(tpl, TOWNHALL_TEMPLATE_CANCEL) == 0;
	struct townhall_ical_args a = {
		.vars_json = vars,
		.uid = uid,
		.sequence = (int)json_integer_value(json_object_get(c->doc, "sq")),
		.method = cancel ? "CANCEL" : "REQUEST",
		.organizer = from,
		.organizer_name = cfg->templates_sender[0] ? cfg->templates_sender : NULL,
		.attendee = to,
		.url = link,
		.description = c->body,
		.dtstamp_ms = env->now_ms,
	};
	const char *name = json_string_value(json_object_get(v, "name"));

	if (!json_is_object(v)) {
		json_decref(v);
		return err_set(err, "town hall: the job's record has no readable values");
	}
	a.attendee_name = name != NULL && name[0] != '\0' ? name : NULL;
	townhall_uid(json_string_value(json_object_get(v, "ref")),
		     json_string_value(json_object_get(v, "rid")), domain, uid, sizeof(uid));
	/* (SMTP refuses to start without [email] from; the outbox may.) */
	if (from[0] == '\0')
		snprintf(from, sizeof(from), "pregon@pregon.invalid");
	c->calendar = townhall_ical(&a, err);
	c->calendar_method = a.method;
	json_decref(v);
	return c->calendar != NULL ? 0 : -1;
}

/* A town hall's message: its template (a notice that follows a change is
 * the change notice), the join link, and by email the invitation. A
 * cancellation carries its registration's values ("v"): it belongs to
 * the cancel job, whose record has none. */
static int compose_townhall(const struct compose_env *env, enum channel ch, const char *to,
			    const char *tpl, const char *vars, struct composed *c, struct err *err)
{
	const char *v = json_string_value(json_object_get(c->doc, "v"));
	const char *jt = json_string_value(json_object_get(c->doc, "jt"));
	char *tracked = NULL;
	const char *link = NULL;
	json_t *jv;
	int rc = -1;

	if (v != NULL)
		vars = v;
	if (strcmp(tpl, TOWNHALL_TEMPLATE_CONFIRMATION) == 0 &&
	    json_is_true(json_object_get(c->doc, "changed")))
		tpl = TOWNHALL_TEMPLATE_CHANGE;
	jv = json_loads(vars, 0, NULL);
	link = json_string_value(json_object_get(jv, "join_url"));
	if (link != NULL && link[0] != '\0' && jt != NULL && env->cfg->townhall_track_join &&
	    seal_random_shaped(jt)) {
		tracked = link_under(env->cfg, "/j/", jt);
		if (tracked != NULL)
			link = tracked;
	}
	if (townhall_render(env->set, tpl, vars, ch, env->now_ms, link, &c->t, err) != 0)
		goto done;
	c->body = c->t.body;
	c->subject = c->t.subject ? c->t.subject : "";
	c->html = c->t.html;
	rc = 0;
	if (ch == CHANNEL_EMAIL && strcmp(tpl, TOWNHALL_TEMPLATE_REMINDER) != 0)
		rc = townhall_invitation(env, tpl, vars, to, link, c, err);
done:
	free(tracked);
	json_decref(jv);
	return rc;
}

/* The answer to an English STOP, START or HELP (op inbound) names its
 * template ("ans") and the language pregon knows for the address
 * ("lang"): rendered in it here, with the templates as they are now; the
 * body (the default language's answer) goes when that fails. */
static void compose_answer(const struct compose_env *env, enum channel ch, struct composed *c)
{
	const char *ans = json_string_value(json_object_get(c->doc, "ans"));
	const char *lang = json_string_value(json_object_get(c->doc, "lang"));
	struct err err;

	if (ans == NULL || lang == NULL || env->set == NULL || strncmp(ans, "consent_", 8) != 0)
		return;
	c->t.body = templates_render_answer(env->set, ans, lang, ch,
					   env->cfg->channel[ch].help_text, &err);
	if (c->t.body != NULL)
		c->body = c->t.body;
	else
		log_warn("engine: %s answer in the recipient's language: %s", ans, err.msg);
}

int compose(const struct compose_env *env, enum channel ch, const char *to, const char *d,
	    const char *vars, struct composed *c, struct err *err)
{
	const char *tpl;

	memset(c, 0, sizeof(*c));
	c->body = c->subject = "";
	c->doc = json_loads(d, 0, NULL);
	if (!json_is_object(c->doc))
		return err_set(err, "record has no readable payload");
	tpl = json_string_value(json_object_get(c->doc, "tpl"));
	if (tpl != NULL && strncmp(tpl, "townhall_", 9) == 0) {
		if (compose_townhall(env, ch, to, tpl, vars, c, err) != 0)
			return -1;
	} else if (tpl != NULL) {
		bool changed = json_is_true(json_object_get(c->doc, "changed"));

		if (court_render(env->set, tpl, vars, ch, env->now_ms, changed, &c->t, err) != 0)
			return -1;
		c->body = c->t.body;
		c->subject = c->t.subject ? c->t.subject : "";
		c->html = c->t.html;
	} else {
		if (!json_is_string(json_object_get(c->doc, "body")))
			return err_set(err, "record has no readable payload");
		c->body = json_string_value(json_object_get(c->doc, "body"));
		if (json_is_string(json_object_get(c->doc, "subject")))
			c->subject = json_string_value(json_object_get(c->doc, "subject"));
		compose_answer(env, ch, c);
	}
	if (ch == CHANNEL_EMAIL && (tpl != NULL || json_object_get(c->doc, "ls") != NULL))
		return unsubscribe_link(env, to, c);
	return 0;
}

void composed_free(struct composed *c)
{
	templates_text_free(&c->t);
	json_decref(c->doc);
	free(c->calendar);
	free(c->unsubscribe_url);
	c->doc = NULL;
	c->calendar = c->unsubscribe_url = NULL;
}
