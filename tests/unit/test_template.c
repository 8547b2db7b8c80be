/* test_template.c: message templates (template.h): every compile error
 * with its exact message, conditionals, escaping and the limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

/* What a court reminder supplies. */
static const char *const known[] = {
	"name", "court", "address", "department", "date", "time", "note", NULL,
};

struct var {
	const char *name;
	const char *value;
};

/* department has no value, address is empty. */
static const struct var reminder[] = {
	{ "name", "Ana" },
	{ "court", "Corte Superior de Los \xc3\x81ngeles" },
	{ "address", "" },
	{ "date", "2026-03-09" },
	{ "time", "08:30" },
	{ "note", "<b>\"Tom\" & 'Jerry'</b>" },
	{ NULL, NULL },
};

static const char *lookup(void *data, const char *name)
{
	const struct var *v;

	for (v = data; v->name != NULL; v++)
		if (strcmp(v->name, name) == 0)
			return v->value;
	return NULL;
}

/* Compiles text (must succeed) and renders it with vars. */
static char *render(const char *text, const struct var *vars, enum template_escape escape)
{
	struct template *t = NULL;
	struct err err = { "" };
	char *out = NULL;
	size_t len = 0;

	if (template_compile(text, strlen(text), known, &t, &err) != 0)
		fail_msg("\"%s\": %s", text, err.msg);
	if (template_render(t, lookup, (void *)vars, escape, &out, &len, &err) != 0)
		fail_msg("\"%s\": %s", text, err.msg);
	assert_int_equal(len, strlen(out));
	template_free(t);
	return out;
}

static char *repeat(const char *s, size_t times, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail), i;
	char *p = malloc(n * times + m + 1);

	assert_non_null(p);
	for (i = 0; i < times; i++)
		memcpy(p + i * n, s, n);
	memcpy(p + n * times, tail, m + 1);
	return p;
}

struct compile_case {
	const char *text;
	size_t len;		/* 0: strlen(text) */
	const char *msg;
};

#define EXPECTED " (expected {{name}}, {{#if name}}, {{else}} or {{/if}})"

static void template_compile_rejects_with_line_and_column(void **state)
{
	static const struct compile_case cases[] = {
		{ "Hola {{nombre}}", 0, "line 1, column 6: unknown variable \"nombre\"" },
		{ "Dear {{name}},\nYour hearing is at\n{{court}}, {{cort}}.", 0,
		  "line 3, column 12: unknown variable \"cort\"" },
		{ "{{#if dept}}x{{/if}}", 0, "line 1, column 1: unknown variable \"dept\"" },
		{ "Hi {{name", 0, "line 1, column 4: unterminated tag (no \"}}\" on its line)" },
		{ "Hi {{name\n}}", 0, "line 1, column 4: unterminated tag (no \"}}\" on its line)" },
		{ "a\nHi {{name}", 0, "line 2, column 4: unterminated tag (no \"}}\" on its line)" },
		{ "x {{else}}", 0, "line 1, column 3: {{else}} without {{#if}}" },
		{ "x\r\n{{/if}}", 0, "line 2, column 1: {{/if}} without {{#if}}" },
		{ "{{#if date}}a{{/if}}{{/if}}", 0, "line 1, column 21: {{/if}} without {{#if}}" },
		{ "{{#if date}}a{{else}}b{{else}}c{{/if}}", 0,
		  "line 1, column 23: second {{else}} in one {{#if}}" },
		{ "{{#if date}}a", 0, "line 1, column 1: {{#if date}} without {{/if}}" },
		{ "x\n {{#if date}}{{#if time}}y{{/if}}", 0,
		  "line 2, column 2: {{#if date}} without {{/if}}" },
		{ "{{Name}}", 0, "line 1, column 1: invalid tag \"{{Name}}\"" EXPECTED },
		{ "{{}}", 0, "line 1, column 1: invalid tag \"{{}}\"" EXPECTED },
		{ "{{ 1st }}", 0, "line 1, column 1: invalid tag \"{{ 1st }}\"" EXPECTED },
		{ "{{#each name}}", 0, "line 1, column 1: invalid tag \"{{#each name}}\"" EXPECTED },
		{ "{{#ifname}}", 0, "line 1, column 1: invalid tag \"{{#ifname}}\"" EXPECTED },
		{ "{{#if name x}}", 0, "line 1, column 1: invalid tag \"{{#if name x}}\"" EXPECTED },
		{ "{{name date}}", 0, "line 1, column 1: invalid tag \"{{name date}}\"" EXPECTED },
		{ "{{{name}}}", 0, "line 1, column 1: invalid tag \"{{{name}}\"" EXPECTED },
		{ "{{ /if x }}", 0, "line 1, column 1: invalid tag \"{{ /if x }}\"" EXPECTED },
		/* control characters are never quoted */
		{ "ab {{\x1b[2J}}", 0, "line 1, column 4: invalid tag" EXPECTED },
		{ "{{#if}}", 0, "line 1, column 1: {{#if}} without a variable name" },
		{ "{{ #if  }}", 0, "line 1, column 1: {{#if}} without a variable name" },
		{ "{{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}", 0,
		  "line 1, column 1: variable name longer than 64 bytes" },
		/* columns count code points, not bytes */
		{ "Se\xc3\xb1or {{nmae}}", 0, "line 1, column 7: unknown variable \"nmae\"" },
		{ "\xec\x95\x88\xeb\x85\x95\xed\x95\x98\xec\x84\xb8\xec\x9a\x94 {{nmae}}", 0,
		  "line 1, column 7: unknown variable \"nmae\"" },
		{ "\xd4\xb2\xd5\xa1\xd6\x80\xd5\xa5\xd6\x82 \xd5\x81\xd5\xa5\xd5\xa6 {{nmae}}", 0,
		  "line 1, column 11: unknown variable \"nmae\"" },
		/* invalid UTF-8 and NUL, at the offending byte */
		{ "Se\xc3or {{name}}", 0, "line 1, column 3: invalid UTF-8" },
		{ "\xc0\xaf", 0, "line 1, column 1: invalid UTF-8" },
		{ "\xec\x95\x88\xeb\x85\x95\xed\xa0\x80", 0, "line 1, column 3: invalid UTF-8" },
		{ "\n\n  \xff", 0, "line 3, column 3: invalid UTF-8" },
		{ "ab\xe4\xb8", 0, "line 1, column 3: invalid UTF-8" },
		{ "\xf4\x90\x80\x80", 0, "line 1, column 1: invalid UTF-8" },
		{ "ab\0cd", 5, "line 1, column 3: NUL byte" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct compile_case *c = &cases[i];
		struct template *t = (struct template *)&i;
		struct err err = { "" };
		size_t len = c->len ? c->len : strlen(c->text);

		if (template_compile(c->text, len, known, &t, &err) != -1)
			fail_msg("case %zu: accepted \"%s\"", i, c->text);
		assert_null(t);
		if (strcmp(err.msg, c->msg) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err.msg, c->msg);
	}
}

/* Eight {{#if}}: seven on name, the innermost on inner, each with an else. */
static char *nest8(const char *inner)
{
	char *open7 = repeat("{{#if name}}", 7, "");
	char *close8 = repeat("{{else}}y{{/if}}", 8, "");
	size_t n = strlen(open7) + strlen(inner) + 20 + strlen(close8) + 1;
	char *text = malloc(n);

	assert_non_null(text);
	snprintf(text, n, "%s{{#if %s}}x%s", open7, inner, close8);
	free(open7);
	free(close8);
	return text;
}

static void template_compile_limits_nesting_to_eight(void **state)
{
	struct template *t = NULL;
	struct err err = { "" };
	char *text, *out;

	(void)state;
	text = nest8("date");
	out = render(text, reminder, TEMPLATE_PLAIN);
	assert_string_equal(out, "x");
	free(out);
	free(text);
	text = nest8("department");
	out = render(text, reminder, TEMPLATE_PLAIN);
	assert_string_equal(out, "y");
	free(out);
	free(text);
	/* nine is one too many, reported at the ninth */
	text = repeat("{{#if date}}", 9, "x");
	assert_int_equal(template_compile(text, strlen(text), known, &t, &err), -1);
	assert_string_equal(err.msg, "line 1, column 97: {{#if}} nested deeper than 8");
	assert_null(t);
	free(text);
}

struct render_case {
	const char *text;
	enum template_escape escape;
	const char *want;
};

static void template_renders_variables_conditionals_and_escapes(void **state)
{
	static const struct render_case cases[] = {
		{ "", TEMPLATE_PLAIN, "" },
		{ "no tags at all { } }} \\ \\{", TEMPLATE_PLAIN, "no tags at all { } }} \\ \\{" },
		{ "Hola {{name}}, su audiencia es el {{date}} a las {{ time }}.", TEMPLATE_PLAIN,
		  "Hola Ana, su audiencia es el 2026-03-09 a las 08:30." },
		{ "{{name}}{{name}}{{\tname\t}}", TEMPLATE_PLAIN, "AnaAnaAna" },
		/* a NULL value is false, and a {{name}} not reached is not an error */
		{ "{{#if department}}Dept. {{department}}{{else}}no dept{{/if}}.", TEMPLATE_PLAIN,
		  "no dept." },
		{ "{{#if department}}x{{/if}}y", TEMPLATE_PLAIN, "y" },
		/* "" is false */
		{ "{{#if address}}at {{address}}{{else}}address pending{{/if}}", TEMPLATE_PLAIN,
		  "address pending" },
		{ "{{#if court}}{{court}}{{/if}}", TEMPLATE_PLAIN,
		  "Corte Superior de Los \xc3\x81ngeles" },
		{ "{{#if court}}yes{{else}}no{{/if}}", TEMPLATE_PLAIN, "yes" },
		{ "{{ #if  name }}y{{ else }}n{{ /if }}", TEMPLATE_PLAIN, "y" },
		{ "{{#if name}}A{{#if address}}B{{else}}C{{#if date}}D{{else}}E{{/if}}{{/if}}F"
		  "{{else}}G{{/if}}H", TEMPLATE_PLAIN, "ACDFH" },
		{ "{{#if department}}A{{#if name}}B{{else}}C{{/if}}D{{else}}E{{#if address}}F"
		  "{{else}}G{{/if}}{{/if}}", TEMPLATE_PLAIN, "EG" },
		{ "{{#if name}}{{/if}}{{#if name}}{{else}}{{/if}}", TEMPLATE_PLAIN, "" },
		/* HTML escaping applies to values only, and only for HTML */
		{ "<p>{{note}}</p>", TEMPLATE_HTML,
		  "<p>&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;</p>" },
		{ "<p>{{note}}</p>", TEMPLATE_PLAIN, "<p><b>\"Tom\" & 'Jerry'</b></p>" },
		{ "<a href=\"x?a=1&b=2\">{{name}} & 'co'</a>", TEMPLATE_HTML,
		  "<a href=\"x?a=1&b=2\">Ana & 'co'</a>" },
		{ "{{court}}", TEMPLATE_HTML, "Corte Superior de Los \xc3\x81ngeles" },
		/* \{{ is a literal {{ */
		{ "Write \\{{name}} to get {{name}}", TEMPLATE_PLAIN, "Write {{name}} to get Ana" },
		{ "\\\\{{name}}", TEMPLATE_PLAIN, "\\{{name}}" },
		{ "\\{{{{name}}", TEMPLATE_PLAIN, "{{Ana" },
		/* CRLF and bare CR are text */
		{ "Hola {{name}},\r\n\r\nSu cita:\r\n{{date}}\r\n\r", TEMPLATE_PLAIN,
		  "Hola Ana,\r\n\r\nSu cita:\r\n2026-03-09\r\n\r" },
		/* UTF-8 around tags */
		{ "Se\xc3\xb1ora {{name}}: ma\xc3\xb1\x61na en {{court}}.", TEMPLATE_PLAIN,
		  "Se\xc3\xb1ora Ana: ma\xc3\xb1\x61na en Corte Superior de Los \xc3\x81ngeles." },
		{ "{{name}}\xeb\x8b\x98, {{date}} {{time}}\xec\x97\x90 \xeb\xb2\x95\xec\x9b\x90",
		  TEMPLATE_PLAIN,
		  "Ana\xeb\x8b\x98, 2026-03-09 08:30\xec\x97\x90 \xeb\xb2\x95\xec\x9b\x90" },
		{ "\xd5\x80\xd5\xa1\xd6\x80\xd5\xa3\xd5\xa5\xd5\xac\xd5\xab {{name}}, {{date}}-\xd5\xab\xd5\xb6\xd6\x89",
		  TEMPLATE_HTML,
		  "\xd5\x80\xd5\xa1\xd6\x80\xd5\xa3\xd5\xa5\xd5\xac\xd5\xab Ana, 2026-03-09-\xd5\xab\xd5\xb6\xd6\x89" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = render(cases[i].text, reminder, cases[i].escape);

		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: \"%s\" rendered \"%s\", want \"%s\"", i,
				 cases[i].text, out, cases[i].want);
		free(out);
	}
}

/* Renders text and expects msg. */
static void expect_render_error(const char *text, const struct var *vars,
				enum template_escape escape, const char *msg)
{
	struct template *t = NULL;
	struct err err = { "" };
	char *out = (char *)text;
	size_t len = 1;

	if (template_compile(text, strlen(text), known, &t, &err) != 0)
		fail_msg("\"%s\": %s", text, err.msg);
	assert_int_equal(template_render(t, lookup, (void *)vars, escape, &out, &len, &err), -1);
	assert_null(out);
	assert_int_equal(len, 0);
	assert_string_equal(err.msg, msg);
	template_free(t);
}

static void template_render_fails_on_a_variable_without_value(void **state)
{
	(void)state;
	expect_render_error("Dept: {{department}}", reminder, TEMPLATE_PLAIN,
			    "line 1, column 7: variable \"department\" has no value");
	expect_render_error("Hola {{name}},\r\n  {{#if name}}{{ department }}{{/if}}", reminder,
			    TEMPLATE_HTML, "line 2, column 15: variable \"department\" has no value");
	/* in the else branch of a false {{#if}} */
	expect_render_error("{{#if address}}x{{else}}{{department}}{{/if}}", reminder,
			    TEMPLATE_PLAIN, "line 1, column 25: variable \"department\" has no value");
	/* "" is a value: {{address}} renders as "" but is not an error */
	{
		char *out = render("[{{address}}]", reminder, TEMPLATE_PLAIN);

		assert_string_equal(out, "[]");
		free(out);
	}
}

static void template_render_with_no_lookup_has_no_values(void **state)
{
	struct template *t = NULL;
	struct err err = { "" };
	char *out = NULL;

	(void)state;
	assert_int_equal(template_compile("{{#if name}}x{{else}}y{{/if}}", 29, known, &t, &err), 0);
	assert_int_equal(template_render(t, NULL, NULL, TEMPLATE_PLAIN, &out, NULL, &err), 0);
	assert_string_equal(out, "y");
	free(out);
	template_free(t);
	assert_int_equal(template_compile("a{{name}}", 9, known, &t, &err), 0);
	assert_int_equal(template_render(t, NULL, NULL, TEMPLATE_PLAIN, &out, NULL, &err), -1);
	assert_string_equal(err.msg, "line 1, column 2: variable \"name\" has no value");
	template_free(t);
}

static void template_enforces_text_and_output_limits(void **state)
{
	struct var vars[] = { { "note", NULL }, { NULL, NULL } };
	struct template *t = NULL;
	struct err err = { "" };
	char *big, *out;
	size_t len;

	(void)state;
	big = repeat("x", TEMPLATE_MAX_TEXT + 1, "");
	assert_int_equal(template_compile(big, TEMPLATE_MAX_TEXT + 1, known, &t, &err), -1);
	assert_string_equal(err.msg, "template longer than 65536 bytes");
	assert_null(t);
	/* exactly the limit, in and out */
	assert_int_equal(template_compile(big, TEMPLATE_MAX_TEXT, known, &t, &err), 0);
	assert_int_equal(template_render(t, lookup, vars, TEMPLATE_PLAIN, &out, &len, &err), 0);
	assert_int_equal(len, TEMPLATE_MAX_TEXT);
	assert_int_equal(out[len], '\0');
	free(out);
	template_free(t);

	/* a value that fills the output exactly, then one byte more */
	big[TEMPLATE_MAX_OUTPUT] = '\0';
	vars[0].value = big;
	out = render("{{note}}", vars, TEMPLATE_PLAIN);
	assert_int_equal(strlen(out), TEMPLATE_MAX_OUTPUT);
	free(out);
	expect_render_error("{{note}}.", vars, TEMPLATE_PLAIN, "output longer than 65536 bytes");
	big[TEMPLATE_MAX_OUTPUT] = 'x';
	expect_render_error("{{note}}", vars, TEMPLATE_PLAIN, "output longer than 65536 bytes");

	/* escaping grows the output: 13108 '&' fit as text, not as &amp; */
	memset(big, '&', 13108);
	big[13108] = '\0';
	out = render("{{note}}", vars, TEMPLATE_PLAIN);
	assert_int_equal(strlen(out), 13108);
	free(out);
	expect_render_error("{{note}}", vars, TEMPLATE_HTML, "output longer than 65536 bytes");
	big[13107] = '\0';
	out = render("{{note}}", vars, TEMPLATE_HTML);
	assert_int_equal(strlen(out), 13107 * 5);
	free(out);
	free(big);
}

static void template_vars_lists_distinct_names_in_order(void **state)
{
	const char *text = "{{#if date}}{{name}}{{date}}{{/if}}{{name}}{{ time }}{{#if name}}{{/if}}";
	const char *names[4] = { NULL, NULL, NULL, NULL };
	struct template *t = NULL;
	struct err err = { "" };

	(void)state;
	assert_int_equal(template_compile(text, strlen(text), known, &t, &err), 0);
	assert_int_equal(template_vars(t, names, 4), 3);
	assert_string_equal(names[0], "date");
	assert_string_equal(names[1], "name");
	assert_string_equal(names[2], "time");
	assert_null(names[3]);
	names[0] = names[1] = NULL;
	assert_int_equal(template_vars(t, names, 1), 3);
	assert_string_equal(names[0], "date");
	assert_null(names[1]);
	assert_int_equal(template_vars(t, NULL, 0), 3);
	template_free(t);
	/* no tags, no names; known may be NULL then */
	assert_int_equal(template_compile("plain", 5, NULL, &t, &err), 0);
	assert_int_equal(template_vars(t, names, 4), 0);
	template_free(t);
	assert_int_equal(template_compile(NULL, 0, NULL, &t, &err), 0);
	template_free(t);
	assert_int_equal(template_compile("{{name}}", 8, NULL, &t, &err), -1);
	assert_string_equal(err.msg, "line 1, column 1: unknown variable \"name\"");
	template_free(NULL);
}

static void template_renders_the_same_twice(void **state)
{
	const char *text = "{{#if name}}<{{note}}>{{/if}}\r\n{{court}}";
	struct template *t = NULL;
	struct err err = { "" };
	char *a = NULL, *b = NULL;
	size_t la, lb;

	(void)state;
	assert_int_equal(template_compile(text, strlen(text), known, &t, &err), 0);
	assert_int_equal(template_render(t, lookup, (void *)reminder, TEMPLATE_HTML, &a, &la, &err), 0);
	assert_int_equal(template_render(t, lookup, (void *)reminder, TEMPLATE_HTML, &b, &lb, &err), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	template_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(template_compile_rejects_with_line_and_column),
		cmocka_unit_test(template_compile_limits_nesting_to_eight),
		cmocka_unit_test(template_renders_variables_conditionals_and_escapes),
		cmocka_unit_test(template_render_fails_on_a_variable_without_value),
		cmocka_unit_test(template_render_with_no_lookup_has_no_values),
		cmocka_unit_test(template_enforces_text_and_output_limits),
		cmocka_unit_test(template_vars_lists_distinct_names_in_order),
		cmocka_unit_test(template_renders_the_same_twice),
	};

	return cmocka_run_group_tests_name("template", tests, NULL, NULL);
}
