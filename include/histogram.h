/* histogram.h: a latency histogram with Prometheus' default-like buckets. */
#ifndef PREGON_HISTOGRAM_H
#define PREGON_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_BUCKETS 12

/* Upper bounds in seconds; the last bucket is +Inf. */
static const double histogram_bounds[HISTOGRAM_BUCKETS - 1] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

struct histogram {
	uint64_t counts[HISTOGRAM_BUCKETS];	/* per bucket, not cumulative */
	double sum;				/* seconds */
	uint64_t count;
};

static inline void histogram_observe(struct histogram *h, double seconds)
{
	int i = 0;

	while (i < HISTOGRAM_BUCKETS - 1 && seconds > histogram_bounds[i])
		i++;
	h->counts[i]++;
	h->sum += seconds;
	h->count++;
}

#endif
