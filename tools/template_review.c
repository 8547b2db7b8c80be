/* template_review: prints the review sheet of a template folder (review.h)
 * on stdout. `make review` writes config/templates/REVIEW.md with it. */
#include <stdio.h>

#include "review.h"

int main(int argc, char **argv)
{
	struct buf out = { 0 };
	struct err err = { "" };
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: template-review TEMPLATES_DIR > REVIEW.md\n");
		return 2;
	}
	if (review_sheet(argv[1], &out, &err) != 0) {
		fprintf(stderr, "template-review: %s: %s\n", argv[1], err.msg);
		rc = 1;
	} else if (fwrite(out.p, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
		perror("template-review: stdout");
		rc = 1;
	}
	buf_free(&out);
	return rc;
}
