/* fuzz_template.c: libFuzzer target for message templates (src/template.c),
 * which organisers write and which are sent to thousands of people.
 *
 * Input: the template text; the known names are "a" and "b", and at render
 * time a is "<x>" and b has no value.
 * Beyond "no crash, no leak, no UB" it checks what callers rely on:
 * - a compile error is one line of printable text starting "line " (or the
 *   size error);
 * - a compiled template references only a and b;
 * - rendering fails only by naming b (or, for HTML, where "<x>" grows to
 *   "&lt;x&gt;", by the output limit); plain output is never longer than the
 *   template;
 * - rendering twice gives the same bytes, NUL-terminated at the length;
 * - HTML output never contains the raw value "<x>" where plain has it
 *   escaped away: it holds no '<' that plain output lacks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

static const char *lookup(void *data, const char *name)
{
	(void)data;
	if (strcmp(name, "a") == 0)
		return "<x>";
	if (strcmp(name, "b") != 0)
		abort();	/* asked for a name it was never given */
	return NULL;
}

static size_t count_lt(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += s[i] == '<';
	return c;
}

/* Renders t twice; returns 0 with *out, or -1 after checking the error. */
static int render_twice(const struct template *t, enum template_escape escape,
			char **out, size_t *out_len)
{
	struct err err;
	char *again = NULL;
	size_t again_len = 0;
	int r;

	memset(&err, 0, sizeof(err));
	r = template_render(t, lookup, NULL, escape, out, out_len, &err);
	if (r != 0) {
		if (*out != NULL || *out_len != 0)
			abort();
		if (strstr(err.msg, "variable \"b\" has no value") == NULL &&
		    !(escape == TEMPLATE_HTML &&
		      strcmp(err.msg, "output longer than 65536 bytes") == 0))
			abort();
		return -1;
	}
	if (*out_len > TEMPLATE_MAX_OUTPUT || (*out)[*out_len] != '\0' ||
	    strlen(*out) != *out_len)
		abort();
	if (template_render(t, lookup, NULL, escape, &again, &again_len, &err) != 0)
		abort();
	if (again_len != *out_len || memcmp(again, *out, again_len) != 0)
		abort();
	free(again);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const known[] = { "a", "b", NULL };
	const char *names[3] = { NULL, NULL, NULL };
	struct template *t = NULL;
	struct err err;
	char *plain = NULL, *html = NULL;
	size_t plain_len = 0, html_len = 0, n, i;
	int rp, rh;

	memset(&err, 0, sizeof(err));
	if (template_compile((const char *)data, size, known, &t, &err) != 0) {
		if (t != NULL)
			abort();
		if (strncmp(err.msg, "line ", 5) != 0 &&
		    strcmp(err.msg, "template longer than 65536 bytes") != 0)
			abort();
		for (i = 0; err.msg[i] != '\0'; i++)
			if ((unsigned char)err.msg[i] < 0x20 || err.msg[i] == 0x7f)
				abort();
		return 0;
	}
	n = template_vars(t, names, 3);
	if (n > 2)
		abort();
	for (i = 0; i < n; i++)
		if (strcmp(names[i], "a") != 0 && strcmp(names[i], "b") != 0)
			abort();

	rp = render_twice(t, TEMPLATE_PLAIN, &plain, &plain_len);
	rh = render_twice(t, TEMPLATE_HTML, &html, &html_len);
	/* "<x>" (3 bytes) replaces a tag of at least 5 and "\{{" shrinks */
	if (rp == 0 && plain_len > size)
		abort();
	/* the same branches are taken whatever the escaping */
	if (rh == 0 && rp != 0)
		abort();
	/* escaping only removes '<': what HTML output has, the template had */
	if (rh == 0 && count_lt(html, html_len) > count_lt(plain, plain_len))
		abort();
	free(plain);
	free(html);
	template_free(t);
	return 0;
}
