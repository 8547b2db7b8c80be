/* form.c: application/x-www-form-urlencoded decoding (see form.h). */
#include "form.h"
#include "utf8.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void form_limits_default(struct form_limits *lim)
{
	lim->max_input = FORM_DEFAULT_MAX_INPUT;
	lim->max_pairs = FORM_DEFAULT_MAX_PAIRS;
	lim->max_name = FORM_DEFAULT_MAX_NAME;
	lim->max_value = FORM_DEFAULT_MAX_VALUE;
}

long form_unescape(char *out, const char *in, size_t len, int plus_is_space)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return -1;
			hi = hex_digit((unsigned char)in[i + 1]);
			lo = hex_digit((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			out[o++] = ' ';
		} else {
			out[o++] = (char)c;
		}
	}
	return (long)o;
}


/* " (Name)" when the decoded name is short plain ASCII, so that an error
 * can say which field was wrong without echoing anything a client could
 * use to smuggle text into the logs. */
static void describe_name(char *out, size_t size, const char *name, size_t len)
{
	size_t i;

	out[0] = '\0';
	if (len == 0 || len > 40 || size < len + 4)
		return;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return;
	}
	out[0] = ' ';
	out[1] = '(';
	memcpy(out + 2, name, len);
	out[len + 2] = ')';
	out[len + 3] = '\0';
}

/* Decodes one name or value into *dst, checks it and NUL-terminates it.
 * what is "name" or "value"; index counts pairs from 1 for the message. */
static int decode_part(char **dst, const char *in, size_t len, size_t max,
		       const char *what, size_t index, const char *name,
		       size_t name_len, size_t offset, size_t *out_len, struct err *err)
{
	char label[48];
	long n;

	describe_name(label, sizeof(label), name, name_len);
	n = form_unescape(*dst, in, len, 1);
	if (n < 0)
		return err_set(err, "form: pair %zu%s: invalid percent escape in the %s "
			       "(near byte %zu; '%%' must be followed by two hex digits)",
			       index, label, what, offset);
	if ((size_t)n > max)
		return err_set(err, "form: pair %zu%s: %s longer than %zu bytes",
			       index, label, what, max);
	if (memchr(*dst, '\0', (size_t)n) != NULL)
		return err_set(err, "form: pair %zu%s: %s contains a NUL byte",
			       index, label, what);
	if (!utf8_valid(*dst, (size_t)n))
		return err_set(err, "form: pair %zu%s: %s is not valid UTF-8",
			       index, label, what);
	(*dst)[n] = '\0';
	*out_len = (size_t)n;
	*dst += n + 1;
	return 0;
}

static int pair_cmp(const void *a, const void *b)
{
	const struct form_pair *x = *(const struct form_pair *const *)a;
	const struct form_pair *y = *(const struct form_pair *const *)b;
	size_t n;
	int c;

	n = x->name_len < y->name_len ? x->name_len : y->name_len;
	c = memcmp(x->name, y->name, n);
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

static int build_sorted(struct form *f)
{
	size_t i, k;

	if (f->n == 0)
		return 0;
	f->sorted = malloc(f->n * sizeof(*f->sorted));
	if (f->sorted == NULL)
		return -1;
	for (i = 0; i < f->n; i++)
		f->sorted[i] = &f->pairs[i];
	qsort(f->sorted, f->n, sizeof(*f->sorted), pair_cmp);
	for (i = 1, k = 1; i < f->n; i++)
		if (pair_cmp(&f->sorted[i], &f->sorted[k - 1]) != 0)
			f->sorted[k++] = f->sorted[i];
	f->n_sorted = k;
	return 0;
}

int form_parse(struct form *f, const char *in, size_t len,
	       const struct form_limits *lim, struct err *err)
{
	struct form_limits def;
	size_t i, count = 0, start;
	char *out;

	memset(f, 0, sizeof(*f));
	if (lim == NULL) {
		form_limits_default(&def);
		lim = &def;
	}
	if (len > lim->max_input)
		return err_set(err, "form: longer than %zu bytes", lim->max_input);
	for (i = 0; i < len; i = start + 1) {
		const char *amp = memchr(in + i, '&', len - i);

		start = amp != NULL ? (size_t)(amp - in) : len;
		if (start > i)
			count++;
	}
	if (count > lim->max_pairs)
		return err_set(err, "form: more than %zu pairs", lim->max_pairs);
	if (count == 0)
		return 0;

	f->pairs = calloc(count, sizeof(*f->pairs));
	/* Decoding never grows, and each pair needs two NULs. */
	f->buf = malloc(len + 2 * count + 1);
	if (f->pairs == NULL || f->buf == NULL) {
		form_free(f);
		return err_set(err, "form: out of memory");
	}
	out = f->buf;
	for (i = 0; i < len; i = start + 1) {
		const char *amp = memchr(in + i, '&', len - i), *eq;
		struct form_pair *p;
		size_t name_end, value_start;
		char *name_at;

		start = amp != NULL ? (size_t)(amp - in) : len;
		if (start == i)
			continue;	/* "a=1&&b=2": empty segments are skipped */
		p = &f->pairs[f->n];
		eq = memchr(in + i, '=', start - i);
		name_end = eq != NULL ? (size_t)(eq - in) : start;
		value_start = eq != NULL ? name_end + 1 : start;

		name_at = out;
		if (decode_part(&out, in + i, name_end - i, lim->max_name, "name",
				f->n + 1, NULL, 0, i, &p->name_len, err) < 0)
			goto fail;
		p->name = name_at;
		p->value = out;
		if (decode_part(&out, in + value_start, start - value_start, lim->max_value,
				"value", f->n + 1, p->name, p->name_len, value_start,
				&p->value_len, err) < 0)
			goto fail;
		f->n++;
	}
	if (build_sorted(f) < 0) {
		err_set(err, "form: out of memory");
		goto fail;
	}
	return 0;
fail:
	form_free(f);
	return -1;
}

const char *form_get(const struct form *f, const char *name)
{
	return form_get_nth(f, name, 0);
}

size_t form_count(const struct form *f, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->pairs[i].name, name) == 0)
			n++;
	return n;
}

const char *form_get_nth(const struct form *f, const char *name, size_t idx)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->pairs[i].name, name) == 0 && idx-- == 0)
			return f->pairs[i].value;
	return NULL;
}

const struct form_pair *const *form_sorted(const struct form *f, size_t *n)
{
	*n = f->n_sorted;
	return f->sorted;
}

void form_free(struct form *f)
{
	free(f->pairs);
	free(f->sorted);
	free(f->buf);
	memset(f, 0, sizeof(*f));
}
