/* cli_rowerr.h: the bad rows of a file import, grouped by reason (issue
 * 13, item 17): a spreadsheet with one wrong column gives one line with a
 * count and a few example lines, not 50,000 lines.
 *
 * Memory is bounded whatever the file: at most ROWERR_GROUPS reasons
 * (later ones are counted together), ROWERR_EXAMPLES examples each. */
#ifndef PREGON_CLI_ROWERR_H
#define PREGON_CLI_ROWERR_H

#include <stdbool.h>
#include <stdio.h>

#define ROWERR_GROUPS 32
#define ROWERR_EXAMPLES 5
#define ROWERR_REASON_MAX 384
#define ROWERR_VALUE_MAX 48	/* bytes of an example's value shown */

struct rowerr_group {
	char reason[ROWERR_REASON_MAX];	/* "" for the group of other reasons */
	long long n;
	long line[ROWERR_EXAMPLES];
	char value[ROWERR_EXAMPLES][ROWERR_VALUE_MAX + 8];	/* "" when none */
};

struct rowerrs {
	struct rowerr_group group[ROWERR_GROUPS + 1];	/* the last: other reasons */
	size_t n;		/* groups in use, not counting the last */
	long long total;
};

/* Counts one bad row under reason (one line of text). value, when not
 * NULL, is the operator's own cell, kept (cut and with control bytes
 * replaced) to be shown only where rowerrs_print is told to. */
void rowerrs_add(struct rowerrs *re, const char *reason, long line, const char *value,
		 size_t value_len);

/* Prints the groups in the order they were first seen: a reason met once
 * as "line N: reason", else "reason: N rows, lines A, B, ... and M more".
 * show_values: the examples' cells in quotes after their lines (for the
 * operator's terminal only: piped output may end up in a shared log). */
void rowerrs_print(const struct rowerrs *re, FILE *out, bool show_values);

#endif
