/* clock.c: see clock.h. */
#include "clock.h"

#include <time.h>

static bool test_enabled;
static int64_t test_offset_ms;

int64_t clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + test_offset_ms;
}

void clock_test_enable(void)
{
	test_enabled = true;
}

bool clock_test_enabled(void)
{
	return test_enabled;
}

void clock_test_set_offset(int64_t ms)
{
	test_offset_ms = ms;
}
