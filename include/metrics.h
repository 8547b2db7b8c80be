/* metrics.h: what GET /metrics shows, registered by the modules that count.
 *
 * As in Prometheus' client libraries, each module registers its own
 * counters and gauges once, at start, and the registry reads them when
 * /metrics is scraped: a counter by a pointer to the module's uint64_t, a
 * gauge by a read callback, a histogram by a pointer to its struct
 * histogram. The registry includes no module's header; modules include
 * this one (engine_metrics, intake_metrics, ...; pregond.c calls them).
 *
 * Output: Prometheus' text format 0.0.4. A family (one name, its HELP and
 * TYPE lines) is written where it was first registered, with all its
 * samples, in the order they were registered. Every function accepts a
 * NULL registry and then does nothing: a daemon without a listener counts
 * all the same and shows nothing.
 *
 * Lifetime: what a sample points to must outlive the registry's use
 * (metrics_render); pregond's modules live as long as the process. */
#ifndef PREGON_METRICS_H
#define PREGON_METRICS_H

#include <stdint.h>

struct histogram;
struct metrics;

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/* A family, usually a static const in the module that owns it. */
struct metric_family {
	const char *name;	/* "pregon_jobs_total" */
	enum metric_type type;
	const char *help;	/* one line */
};

/* Reads a gauge's value at scrape time. */
typedef int64_t (*metric_read_cb)(const void *data);

/* Ready-made readers for a gauge that is a field: an int, an int64_t, a
 * bool. */
int64_t metrics_read_int(const void *p);
int64_t metrics_read_i64(const void *p);
int64_t metrics_read_bool(const void *p);
int64_t metrics_read_u64(const void *p);

/* Returns 0 or -1 (out of memory). */
int metrics_new(struct metrics **out);
void metrics_free(struct metrics *m);

/* Labels are printf-formatted (`outcome="accepted"`, `channel="%s"`), or
 * NULL for none; the text is copied. Each returns 0 or -1 (out of memory). */

/* A family with no sample yet: its HELP and TYPE lines are written here
 * even if no sample follows (a gauge that only some configurations have). */
int metrics_family(struct metrics *m, const struct metric_family *f);

int metrics_counter(struct metrics *m, const struct metric_family *f, const uint64_t *value,
		    const char *labels, ...) __attribute__((format(printf, 4, 5)));

int metrics_gauge(struct metrics *m, const struct metric_family *f, metric_read_cb read,
		  const void *data, const char *labels, ...) __attribute__((format(printf, 5, 6)));

/* A histogram's _bucket lines (cumulative, with le), _sum and _count. */
int metrics_histogram(struct metrics *m, const struct metric_family *f,
		      const struct histogram *h, const char *labels, ...)
	__attribute__((format(printf, 4, 5)));

/* The text of /metrics, malloc'd; NULL when out of memory. */
char *metrics_render(const struct metrics *m);

#endif
