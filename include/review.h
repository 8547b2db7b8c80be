/* review.h: the review sheet of the shipped texts (config/templates/REVIEW.md).
 *
 * An organization's bilingual staff check what clients will read; most of
 * them read the texts, not the template syntax. The sheet shows every SMS
 * text (also Signal's) and email of every template name and language as
 * it renders with long sample values, each case of its flags (another
 * day, the day before, the same day; a first notice, a changed date), with
 * its SMS segment count and an English back-translation, and each
 * language's review state. It is generated, never written by hand, so that it cannot
 * drift from the templates: `make review` writes it, and test_review.c
 * fails while the file in the repository differs from what the templates
 * make.
 *
 * Inputs, beside the templates (all skipped by templates_load):
 *   <dir>/REVIEW.status        one line per language: tag, TAB, the
 *                              language's name, TAB, its review state
 *                              ('#' lines are comments)
 *   <dir>/<name>/<lang>.sms.back, <lang>.email.back  the back-translation,
 *                              an English template with the name's
 *                              variables (the email's with its subject
 *                              line), for every language but English */
#ifndef PREGON_REVIEW_H
#define PREGON_REVIEW_H

#include "err.h"
#include "util.h"

/* Appends the sheet for the templates under dir to out (Markdown, UTF-8).
 * Returns 0, or -1 with err naming the file and the problem
 * (`court_reminder/ko.sms.back: not found`, `REVIEW.status: no line for
 * "ko"`). Blocking file I/O: for a tool and tests, not the loop. */
int review_sheet(const char *dir, struct buf *out, struct err *err);

/* 0 when dir/REVIEW.md is what review_sheet makes now; -1 with err
 * otherwise: `REVIEW.md: out of date from line 42 (...): run make review`,
 * or review_sheet's error. */
int review_check(const char *dir, struct err *err);

#endif
