/* fuzz_form.c: libFuzzer target for application/x-www-form-urlencoded
 * decoding (src/form.c): Twilio's webhook bodies and query strings, which
 * come from the network and feed a signature check.
 *
 * Input: the body itself (the seeds in tests/fixtures/form/ are plain
 * bodies); a hash of it picks the limits (defaults, or for a quarter of
 * the inputs tiny ones).
 * Beyond "no crash, no leak, no UB" it checks what callers rely on:
 * - an accepted form has at most max_pairs pairs, each within its limits,
 *   NUL-terminated at its length, without NUL inside, and form_get /
 *   form_count / form_get_nth agree with the pairs;
 * - form_sorted is strictly increasing (name, then value, as bytes): sorted
 *   and exact duplicates gone, and holds every distinct pair;
 * - an error starts with "form: ", names a pair or a limit, and has no
 *   control characters (it is logged);
 * - form_unescape never grows its input and works in place. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

static int cmp(const struct form_pair *x, const struct form_pair *y)
{
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	if (c != 0)
		return c;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	n = x->value_len < y->value_len ? x->value_len : y->value_len;
	c = memcmp(x->value, y->value, n);
	if (c != 0)
		return c;
	if (x->value_len != y->value_len)
		return x->value_len < y->value_len ? -1 : 1;
	return 0;
}

static void check_form(const struct form *f, const struct form_limits *lim)
{
	const struct form_pair *const *s;
	size_t n, i, j;

	if (f->n > lim->max_pairs)
		abort();
	for (i = 0; i < f->n; i++) {
		const struct form_pair *p = &f->pairs[i];
		size_t first = i, nth = 0;

		if (p->name_len > lim->max_name || p->value_len > lim->max_value)
			abort();
		if (strlen(p->name) != p->name_len || strlen(p->value) != p->value_len)
			abort();
		for (j = 0; j < i; j++) {
			if (strcmp(f->pairs[j].name, p->name) == 0) {
				if (first == i)
					first = j;
				nth++;
			}
		}
		if (form_get(f, p->name) != f->pairs[first].value)
			abort();
		if (form_get_nth(f, p->name, nth) != p->value)
			abort();
		if (form_count(f, p->name) <= nth)
			abort();
	}
	s = form_sorted(f, &n);
	if (n > f->n || (f->n > 0 && n == 0))
		abort();
	for (i = 1; i < n; i++)
		if (cmp(s[i - 1], s[i]) >= 0)
			abort();
	/* every pair is in the sorted view */
	for (i = 0; i < f->n; i++) {
		size_t lo = 0, hi = n;
		int found = 0;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = cmp(s[mid], &f->pairs[i]);

			if (c == 0) {
				found = 1;
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (!found)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form_limits lim;
	struct form f;
	struct err err;
	const char *in;
	char *copy;
	size_t len, i;
	uint32_t h;
	long n;

	for (i = 0, h = 2166136261u; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	form_limits_default(&lim);
	if (h % 4 == 0) {
		lim.max_input = 16 + (h >> 8) % 300;
		lim.max_pairs = 1 + (h >> 12) % 8;
		lim.max_name = (h >> 16) % 16;
		lim.max_value = (h >> 20) % 64;
	}
	in = (const char *)data;
	len = size;

	memset(&err, 0, sizeof(err));
	if (form_parse(&f, len ? in : NULL, len, &lim, &err) == 0) {
		check_form(&f, &lim);
	} else {
		if (strncmp(err.msg, "form: ", 6) != 0)
			abort();
		for (i = 0; err.msg[i] != '\0'; i++)
			if ((unsigned char)err.msg[i] < 0x20 || err.msg[i] == 0x7f)
				abort();
		if (f.n != 0 || f.pairs != NULL)
			abort();
	}
	form_free(&f);

	copy = malloc(len + 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, in, len);
	n = form_unescape(copy, copy, len, (int)(h & 2));
	if (n > (long)len)
		abort();
	free(copy);
	return 0;
}
