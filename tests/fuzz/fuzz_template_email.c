/* fuzz_template_email.c: libFuzzer target for the email template file
 * format (src/templates.c: a "Subject:" line, an empty line, the body),
 * which splits the file before src/template.c compiles each part.
 *
 * Beyond "no crash, no leak, no UB" it checks:
 * - an error is one line of printable text, and its line number (when it
 *   has one) is within the file, or the line after its end for what is
 *   missing ("line 2: an empty line must follow the subject"): the body's
 *   lines are counted from the file's start;
 * - success gives both a subject and a body, and both render with every
 *   variable given, the subject to one line when the file's first line has
 *   no line break inside a value (values here have none). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "templates.h"

static const char *lookup(void *data, const char *name)
{
	(void)data;
	(void)name;
	return "v";
}

static size_t lines_in(const uint8_t *d, size_t n)
{
	size_t lines = 1;

	for (size_t i = 0; i < n; i++)
		lines += d[i] == '\n';
	return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct template *subject = NULL, *body = NULL;
	struct err err;
	char *out = NULL;
	int line = 0, col = 0;

	if (size > TEMPLATE_MAX_TEXT)
		return 0;
	memset(&err, 0, sizeof(err));
	if (templates_compile_text("court_reminder", "email", (const char *)data, size, &subject,
				   &body, &err) != 0) {
		if (subject != NULL || body != NULL || err.msg[0] == '\0')
			abort();
		for (const char *p = err.msg; *p; p++)
			if ((unsigned char)*p < 0x20)
				abort();
		if (strncmp(err.msg, "subject: ", 9) != 0 &&
		    sscanf(err.msg, "line %d, column %d", &line, &col) >= 1 &&
		    (line < 1 || (size_t)line > lines_in(data, size) + 1))
			abort();
		return 0;
	}
	if (subject == NULL || body == NULL)
		abort();
	if (template_render(subject, lookup, NULL, TEMPLATE_PLAIN, &out, NULL, &err) == 0) {
		if (strchr(out, '\n') != NULL)
			abort();	/* the subject is the first line only */
		free(out);
	}
	if (template_render(body, lookup, NULL, TEMPLATE_HTML, &out, NULL, &err) == 0)
		free(out);
	template_free(subject);
	template_free(body);
	return 0;
}
