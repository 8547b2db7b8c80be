/* metrics.c: the registry behind GET /metrics (see metrics.h). */
#include "metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "util.h"

enum sample_kind { S_NONE, S_COUNTER, S_GAUGE, S_HISTOGRAM };

/* One registered sample (or a family announced without one: S_NONE). */
struct sample {
	const struct metric_family *f;
	enum sample_kind kind;
	char *labels;			/* "" for none */
	const uint64_t *counter;
	metric_read_cb read;
	const void *data;
	const struct histogram *h;
};

struct metrics {
	struct sample *s;
	size_t n, cap;
};

int64_t metrics_read_int(const void *p)
{
	return *(const int *)p;
}

int64_t metrics_read_i64(const void *p)
{
	return *(const int64_t *)p;
}

int64_t metrics_read_u64(const void *p)
{
	return (int64_t)*(const uint64_t *)p;
}

int64_t metrics_read_bool(const void *p)
{
	return *(const bool *)p ? 1 : 0;
}

int metrics_new(struct metrics **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -1;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->s[i].labels);
	free(m->s);
	free(m);
}

/* Appends a sample that takes labels (malloc'd; freed on failure);
 * NULL when out of memory. */
static struct sample *add(struct metrics *m, const struct metric_family *f,
			  enum sample_kind kind, char *labels)
{
	struct sample *x;

	if (labels == NULL)
		return NULL;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct sample *s = realloc(m->s, cap * sizeof(*s));

		if (s == NULL) {
			free(labels);
			return NULL;
		}
		m->s = s;
		m->cap = cap;
	}
	x = &m->s[m->n++];
	memset(x, 0, sizeof(*x));
	x->f = f;
	x->kind = kind;
	x->labels = labels;
	return x;
}

/* The labels' text ("" for fmt NULL), malloc'd, or NULL when out of
 * memory. */
static char *labels_of(const char *fmt, va_list ap)
{
	struct buf b = { 0 };

	if (fmt == NULL)
		return strdup("");
	if (buf_vaddf(&b, fmt, ap) != 0)
		return NULL;
	return buf_take(&b);
}

int metrics_family(struct metrics *m, const struct metric_family *f)
{
	if (m == NULL)
		return 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->s[i].f == f)
			return 0;
	return add(m, f, S_NONE, strdup("")) ? 0 : -1;
}

int metrics_counter(struct metrics *m, const struct metric_family *f, const uint64_t *value,
		    const char *labels, ...)
{
	struct sample *x;
	va_list ap;

	if (m == NULL)
		return 0;
	va_start(ap, labels);
	x = add(m, f, S_COUNTER, labels_of(labels, ap));
	va_end(ap);
	if (x == NULL)
		return -1;
	x->counter = value;
	return 0;
}

int metrics_gauge(struct metrics *m, const struct metric_family *f, metric_read_cb read,
		  const void *data, const char *labels, ...)
{
	struct sample *x;
	va_list ap;

	if (m == NULL)
		return 0;
	va_start(ap, labels);
	x = add(m, f, S_GAUGE, labels_of(labels, ap));
	va_end(ap);
	if (x == NULL)
		return -1;
	x->read = read;
	x->data = data;
	return 0;
}

int metrics_histogram(struct metrics *m, const struct metric_family *f,
		      const struct histogram *h, const char *labels, ...)
{
	struct sample *x;
	va_list ap;

	if (m == NULL)
		return 0;
	va_start(ap, labels);
	x = add(m, f, S_HISTOGRAM, labels_of(labels, ap));
	va_end(ap);
	if (x == NULL)
		return -1;
	x->h = h;
	return 0;
}

/* name{labels} or name alone; extra is a further label ("le=...") or "". */
static void put_name(struct buf *t, const char *name, const char *suffix, const char *labels,
		     const char *extra)
{
	bool any = labels[0] != '\0' || extra[0] != '\0';

	buf_addf(t, "%s%s%s%s%s%s%s", name, suffix, any ? "{" : "", labels,
		 labels[0] != '\0' && extra[0] != '\0' ? "," : "", extra, any ? "}" : "");
}

static void put_histogram(struct buf *t, const struct sample *x)
{
	const char *name = x->f->name;
	const struct histogram *h = x->h;
	uint64_t cum = 0;
	char le[40];

	for (int b = 0; b < HISTOGRAM_BUCKETS - 1; b++) {
		cum += h->counts[b];
		snprintf(le, sizeof(le), "le=\"%g\"", histogram_bounds[b]);
		put_name(t, name, "_bucket", x->labels, le);
		buf_addf(t, " %llu\n", (unsigned long long)cum);
	}
	put_name(t, name, "_bucket", x->labels, "le=\"+Inf\"");
	buf_addf(t, " %llu\n", (unsigned long long)h->count);
	put_name(t, name, "_sum", x->labels, "");
	buf_addf(t, " %.6f\n", h->sum);
	put_name(t, name, "_count", x->labels, "");
	buf_addf(t, " %llu\n", (unsigned long long)h->count);
}

static void put_sample(struct buf *t, const struct sample *x)
{
	switch (x->kind) {
	case S_NONE:
		return;
	case S_COUNTER:
		put_name(t, x->f->name, "", x->labels, "");
		buf_addf(t, " %llu\n", (unsigned long long)*x->counter);
		return;
	case S_GAUGE:
		put_name(t, x->f->name, "", x->labels, "");
		buf_addf(t, " %lld\n", (long long)x->read(x->data));
		return;
	case S_HISTOGRAM:
		put_histogram(t, x);
		return;
	}
}

static const char *type_name(enum metric_type type)
{
	switch (type) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_HISTOGRAM:
		return "histogram";
	default:
		return "gauge";
	}
}

char *metrics_render(const struct metrics *m)
{
	struct buf t = { 0 };

	if (buf_add(&t, "", 0) != 0)
		return NULL;
	for (size_t i = 0; m != NULL && i < m->n; i++) {
		const struct metric_family *f = m->s[i].f;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = m->s[j].f == f;
		if (seen)
			continue;	/* written with its first sample */
		buf_addf(&t, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
			 type_name(f->type));
		for (size_t j = i; j < m->n; j++)
			if (m->s[j].f == f)
				put_sample(&t, &m->s[j]);
	}
	if (t.err != 0) {
		buf_free(&t);
		return NULL;
	}
	return buf_take(&t);
}
