/* test_metrics.c: the registry behind /metrics renders Prometheus' text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "metrics.h"

static const struct metric_family jobs = { "t_jobs_total", METRIC_COUNTER, "Jobs." };
static const struct metric_family up = { "t_up", METRIC_GAUGE, "Up." };
static const struct metric_family empty = { "t_empty", METRIC_GAUGE, "Nothing yet." };
static const struct metric_family latency = { "t_seconds", METRIC_HISTOGRAM, "Latency." };

static int64_t seven(const void *data)
{
	(void)data;
	return 7;
}

static void samples_are_grouped_under_their_family_in_registration_order(void **state)
{
	struct metrics *m;
	uint64_t a = 1, b = 2;
	bool on = true;
	char *text;

	(void)state;
	assert_int_equal(metrics_new(&m), 0);
	assert_int_equal(metrics_counter(m, &jobs, &a, "outcome=\"%s\"", "accepted"), 0);
	assert_int_equal(metrics_gauge(m, &up, metrics_read_bool, &on, NULL), 0);
	assert_int_equal(metrics_counter(m, &jobs, &b, "outcome=\"rejected\""), 0);
	assert_int_equal(metrics_family(m, &empty), 0);
	assert_int_equal(metrics_gauge(m, &up, seven, NULL, "role=\"x\""), 0);
	a = 5;		/* read at render time */
	text = metrics_render(m);
	assert_non_null(text);
	assert_string_equal(text,
			    "# HELP t_jobs_total Jobs.\n# TYPE t_jobs_total counter\n"
			    "t_jobs_total{outcome=\"accepted\"} 5\n"
			    "t_jobs_total{outcome=\"rejected\"} 2\n"
			    "# HELP t_up Up.\n# TYPE t_up gauge\n"
			    "t_up 1\n"
			    "t_up{role=\"x\"} 7\n"
			    "# HELP t_empty Nothing yet.\n# TYPE t_empty gauge\n");
	free(text);
	metrics_free(m);
}

static void histogram_has_cumulative_buckets_sum_and_count(void **state)
{
	struct metrics *m;
	struct histogram h = { 0 };
	char *text;

	(void)state;
	histogram_observe(&h, 0.001);
	histogram_observe(&h, 0.2);
	histogram_observe(&h, 99);
	assert_int_equal(metrics_new(&m), 0);
	assert_int_equal(metrics_histogram(m, &latency, &h, "channel=\"sms\""), 0);
	text = metrics_render(m);
	assert_non_null(text);
	assert_non_null(strstr(text, "# TYPE t_seconds histogram\n"));
	assert_non_null(strstr(text, "t_seconds_bucket{channel=\"sms\",le=\"0.005\"} 1\n"));
	assert_non_null(strstr(text, "t_seconds_bucket{channel=\"sms\",le=\"0.25\"} 2\n"));
	assert_non_null(strstr(text, "t_seconds_bucket{channel=\"sms\",le=\"10\"} 2\n"));
	assert_non_null(strstr(text, "t_seconds_bucket{channel=\"sms\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(text, "t_seconds_sum{channel=\"sms\"} 99.201000\n"));
	assert_non_null(strstr(text, "t_seconds_count{channel=\"sms\"} 3\n"));
	free(text);
	metrics_free(m);
}

static void a_missing_registry_counts_nothing_and_fails_nothing(void **state)
{
	uint64_t a = 0;
	char *text;

	(void)state;
	assert_int_equal(metrics_counter(NULL, &jobs, &a, NULL), 0);
	assert_int_equal(metrics_family(NULL, &empty), 0);
	text = metrics_render(NULL);
	assert_string_equal(text, "");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(samples_are_grouped_under_their_family_in_registration_order),
		cmocka_unit_test(histogram_has_cumulative_buckets_sum_and_count),
		cmocka_unit_test(a_missing_registry_counts_nothing_and_fails_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
