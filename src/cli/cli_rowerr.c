/* cli_rowerr.c: bad rows grouped by reason (cli_rowerr.h). */
#include "cli_rowerr.h"

#include <string.h>

/* The value as one line of at most ROWERR_VALUE_MAX bytes: control bytes
 * become '?', and a cut never splits a UTF-8 sequence. */
static void keep_value(char *out, const char *v, size_t len)
{
	bool cut = len > ROWERR_VALUE_MAX;
	size_t n = 0;

	if (cut) {
		len = ROWERR_VALUE_MAX;
		while (len > 0 && ((unsigned char)v[len] & 0xC0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)v[i];

		out[n++] = (ch < 0x20 || ch == 0x7f || ch == '"') ? '?' : (char)ch;
	}
	if (cut) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

void rowerrs_add(struct rowerrs *re, const char *reason, long line, const char *value,
		 size_t value_len)
{
	struct rowerr_group *g = NULL;

	for (size_t i = 0; i < re->n; i++)
		if (strcmp(re->group[i].reason, reason) == 0) {
			g = &re->group[i];
			break;
		}
	if (g == NULL && re->n < ROWERR_GROUPS) {
		g = &re->group[re->n++];
		snprintf(g->reason, sizeof(g->reason), "%s", reason);
	}
	if (g == NULL)
		g = &re->group[ROWERR_GROUPS];
	if (g->n < ROWERR_EXAMPLES) {
		g->line[g->n] = line;
		g->value[g->n][0] = '\0';
		if (value != NULL)
			keep_value(g->value[g->n], value, value_len);
	}
	g->n++;
	re->total++;
}

static void print_group(const struct rowerr_group *g, FILE *out, bool show_values)
{
	long long shown = g->n < ROWERR_EXAMPLES ? g->n : ROWERR_EXAMPLES;

	if (g->n == 1 && g->reason[0] != '\0') {
		fprintf(out, "line %ld: %s", g->line[0], g->reason);
		if (show_values && g->value[0][0] != '\0')
			fprintf(out, " (got \"%s\")", g->value[0]);
		fputc('\n', out);
		return;
	}
	fprintf(out, "%s: %lld row%s, line%s ", g->reason[0] ? g->reason : "other reasons", g->n,
		g->n == 1 ? "" : "s", shown == 1 ? "" : "s");
	for (long long i = 0; i < shown; i++) {
		fprintf(out, "%s%ld", i == 0 ? "" : ", ", g->line[i]);
		if (show_values && g->value[i][0] != '\0')
			fprintf(out, " \"%s\"", g->value[i]);
	}
	if (g->n > shown)
		fprintf(out, " and %lld more", g->n - shown);
	fputc('\n', out);
}

void rowerrs_print(const struct rowerrs *re, FILE *out, bool show_values)
{
	for (size_t i = 0; i < re->n; i++)
		print_group(&re->group[i], out, show_values);
	if (re->group[ROWERR_GROUPS].n > 0)
		print_group(&re->group[ROWERR_GROUPS], out, show_values);
}
