/* test_spool.c: the inbound spool (spool.h): records on disk before they
 * count, read back in order at the next open, a torn or damaged record
 * skipped without hiding the ones after it, the file truncated once every
 * record is released, and one process per file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spool.h"

struct fixture {
	uv_loop_t loop;
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	uv_loop_init(&f->loop);
	snprintf(f->dir, sizeof(f->dir), "/tmp/pregon-spool-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	/* A folder that does not exist yet: spool_open makes it. */
	snprintf(f->path, sizeof(f->path), "%s/a/b/inbound.spool", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	assert_int_equal(uv_loop_close(&f->loop), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int dones[16], n_dones;

static void on_done(void *data, int status)
{
	dones[n_dones++] = (int)(intptr_t)data * (status == 0 ? 1 : -1);
}

static void on_closed(struct spool *s)
{
	(void)s;
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void close_spool(struct fixture *f, struct spool *s)
{
	spool_close(s, on_closed);
	uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void append3(struct fixture *f, struct spool *s)
{
	n_dones = 0;
	assert_int_equal(spool_append(s, "one", 3, on_done, (void *)1), 0);
	assert_int_equal(spool_append(s, "two", 3, on_done, (void *)2), 0);
	assert_int_equal(spool_append(s, "three", 5, on_done, (void *)3), 0);
	/* Not on disk yet: no answer before the fsync. */
	assert_int_equal(n_dones, 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(n_dones, 3);
	assert_int_equal(dones[0], 1);
	assert_int_equal(dones[1], 2);
	assert_int_equal(dones[2], 3);
}

static void expect(const struct spool *s, const char *const *want, size_t n)
{
	const struct spool_rec *r = spool_first(s);

	for (size_t i = 0; i < n; i++, r = r->next) {
		assert_non_null(r);
		assert_int_equal(r->len, strlen(want[i]));
		assert_memory_equal(r->payload, want[i], r->len);
	}
	assert_null(r);
}

static void spool_records_come_back_in_order_after_a_reopen(void **state)
{
	struct fixture *f = *state;
	struct spool s;
	struct err err = { "" };
	static const char *const all[] = { "one", "two", "three" };

	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 20, &err), 0);
	assert_null(spool_first(&s));
	append3(f, &s);
	expect(&s, all, 3);
	assert_int_equal(file_size(f->path), 3 * 12 + 11);
	close_spool(f, &s);
	/* A crash here: the next start finds all three, in order. */
	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 20, &err), 0);
	assert_int_equal(s.loaded, 3);
	assert_int_equal(s.skipped_bytes, 0);
	expect(&s, all, 3);
	close_spool(f, &s);
}

static void spool_skips_a_torn_last_record_and_cuts_it_off(void **state)
{
	struct fixture *f = *state;
	struct spool s;
	struct err err = { "" };
	static const char *const all[] = { "one", "two", "three", "four" };
	int fd;

	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 20, &err), 0);
	append3(f, &s);
	close_spool(f, &s);
	/* A write torn by a crash: a header and half a payload. */
	fd = open(f->path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "PGS1\x10\x00\x00\x00\x01\x02\x03\x04half", 16), 16);
	close(fd);
	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 20, &err), 0);
	assert_int_equal(s.loaded, 3);
	assert_int_equal(s.skipped_bytes, 16);
	assert_int_equal(file_size(f->path), 3 * 12 + 11);	/* cut off */
	/* What comes next is readable after the three. */
	n_dones = 0;
	assert_int_equal(spool_append(&s, "four", 4, on_done, (void *)4), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(dones[0], 4);
	close_spool(f, &s);
	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 20, &err), 0);
	expect(&s, all, 4);
	close_spool(f, &s);
}

static void spool_skips_a_damaged_record_without_losing_the_next(void **state)
{
	struct fixture *f = *state;
	struct spool s;
	struct err err = { "" };
	static const char *const kept[] = { "one", "three" };
	int fd;

	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 20, &err), 0);
	append3(f, &s);
	close_spool(f, &s);
	/* One byte of "two"'s payload flipped: its checksum fails. */
	fd = open(f->path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 12 + 3 + 12), 1);
	close(fd);
	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 20, &err), 0);
	assert_int_equal(s.loaded, 2);
	assert_int_equal(s.skipped_bytes, 15);
	expect(&s, kept, 2);
	close_spool(f, &s);
}

static void spool_is_truncated_once_every_record_is_released(void **state)
{
	struct fixture *f = *state;
	struct spool s;
	struct err err = { "" };

	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 20, &err), 0);
	append3(f, &s);
	spool_release_first(&s);
	spool_release_first(&s);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(file_size(f->path), 3 * 12 + 11);	/* one left: kept whole */
	assert_int_equal(spool_count(&s), 1);
	spool_release_first(&s);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(file_size(f->path), 0);
	assert_int_equal(spool_count(&s), 0);
	assert_true(spool_idle(&s));
	close_spool(f, &s);
	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 20, &err), 0);
	assert_null(spool_first(&s));
	close_spool(f, &s);
}

static void spool_refuses_what_is_over_its_bound_and_never_calls_back(void **state)
{
	struct fixture *f = *state;
	struct spool s;
	struct err err = { "" };
	static char big[SPOOL_RECORD_MAX + 1];

	assert_int_equal(spool_open(&s, &f->loop, f->path, 8, &err), 0);
	n_dones = 0;
	assert_int_equal(spool_append(&s, "12345", 5, on_done, (void *)1), 0);
	assert_int_equal(spool_append(&s, "6789", 4, on_done, (void *)2), -1);
	close_spool(f, &s);
	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 30, &err), 0);
	assert_int_equal(spool_append(&s, big, sizeof(big), on_done, (void *)3), -1);
	close_spool(f, &s);
	assert_int_equal(n_dones, 1);
	assert_int_equal(dones[0], 1);
}

/* A full disk, played by RLIMIT_FSIZE (EFBIG, or a short write at the
 * limit): the records of the failed write are refused (their senders hear
 * 503), the file is cut back to what it held, and the next write works. */
static void spool_refuses_a_write_the_disk_cannot_take_and_stays_whole(void **state)
{
	struct fixture *f = *state;
	struct spool s;
	struct err err = { "" };
	struct rlimit old, low;
	static const char *const kept[] = { "one", "two", "three", "four" };
	char big[200];

	memset(big, 'x', sizeof(big));
	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 20, &err), 0);
	append3(f, &s);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	low = old;
	low.rlim_cur = 3 * 12 + 11 + 100;	/* room for part of the next write */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
	n_dones = 0;
	assert_int_equal(spool_append(&s, big, sizeof(big), on_done, (void *)5), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(n_dones, 1);
	assert_int_equal(dones[0], -5);
	assert_int_equal(file_size(f->path), 3 * 12 + 11);	/* the torn part cut off */
	assert_false(s.failed);
	n_dones = 0;
	assert_int_equal(spool_append(&s, "four", 4, on_done, (void *)4), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(dones[0], 4);
	close_spool(f, &s);
	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 20, &err), 0);
	assert_int_equal(s.skipped_bytes, 0);
	expect(&s, kept, 4);
	close_spool(f, &s);
}

static void spool_is_locked_against_a_second_process(void **state)
{
	struct fixture *f = *state;
	struct spool s;
	struct err err = { "" };
	pid_t pid;
	int status;

	assert_int_equal(spool_open(&s, &f->loop, f->path, 1 << 20, &err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uv_loop_t loop;
		struct spool other;
		struct err e2 = { "" };

		uv_loop_init(&loop);
		_exit(spool_open(&other, &loop, f->path, 1 << 20, &e2) == -1 &&
		      strstr(e2.msg, "in use by another process") != NULL ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close_spool(f, &s);
}

static void spool_open_names_what_went_wrong(void **state)
{
	struct fixture *f = *state;
	struct spool s;
	struct err err = { "" };

	assert_int_equal(spool_open(&s, &f->loop, "/proc/pregon-no/inbound.spool", 1 << 20, &err),
			 -1);
	assert_non_null(strstr(err.msg, "/proc/pregon-no"));
	assert_int_equal(spool_open(&s, &f->loop, "", 1 << 20, &err), -1);
}

static void spool_crc32_is_zlibs(void **state)
{
	(void)state;
	/* zlib's crc32("123456789") check value (IEEE 802.3). */
	assert_int_equal(spool_crc32(0, "123456789", 9), 0xCBF43926u);
	assert_int_equal(spool_crc32(spool_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(spool_records_come_back_in_order_after_a_reopen,
						setup, teardown),
		cmocka_unit_test_setup_teardown(spool_skips_a_torn_last_record_and_cuts_it_off,
						setup, teardown),
		cmocka_unit_test_setup_teardown(spool_skips_a_damaged_record_without_losing_the_next,
						setup, teardown),
		cmocka_unit_test_setup_teardown(spool_is_truncated_once_every_record_is_released,
						setup, teardown),
		cmocka_unit_test_setup_teardown(spool_refuses_what_is_over_its_bound_and_never_calls_back,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			spool_refuses_a_write_the_disk_cannot_take_and_stays_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(spool_is_locked_against_a_second_process, setup,
						teardown),
		cmocka_unit_test_setup_teardown(spool_open_names_what_went_wrong, setup, teardown),
		cmocka_unit_test(spool_crc32_is_zlibs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
