/* fuzz_csv.c: libFuzzer target for the streaming CSV reader and writer
 * (src/csv.c), which read operators' and CRMs' files for
 * `pregon contacts import`.
 *
 * Input: the CSV bytes; a hash of them picks the limits (defaults, or for
 * a quarter of the inputs tiny ones), header mode, and the read size of
 * the FILE pass. Beyond "no crash, no leak, no UB" it checks:
 * - reading from a buffer and from a FILE (fmemopen, reads of 1 to 16
 *   bytes or the default) gives the same records, errors and lines:
 *   the window and the re-read after a bad multi-line record do not
 *   depend on where reads end;
 * - a record has 1..max_fields fields, each within max_field bytes,
 *   NUL-terminated at its length, without NUL inside, valid UTF-8;
 * - line numbers strictly increase, records and errors alike;
 * - an error has no control characters (it is printed as one line);
 * - write(record) reads back as exactly that record and nothing else. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "utf8.h"

/* Writes one record's fields and checks it reads back the same. */
static void check_round_trip(const struct csv_record *rec, const struct csv_limits *lim)
{
	struct csv_limits big = *lim;
	struct csv_reader *r;
	struct csv_record back;
	struct err err;
	char *out = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&out, &len);

	if (fp == NULL)
		return;
	if (csv_write_record(fp, rec->field, rec->len, rec->n) != 0)
		abort();
	fclose(fp);
	/* Quoting adds 2 bytes a field and doubles quotes. */
	big.max_record = 2 * lim->max_record + 2 * lim->max_fields + 2;
	r = csv_open_buf(out, len, &big, false);
	if (r == NULL)
		abort();
	if (csv_next(r, &back, &err) != CSV_RECORD || back.n != rec->n || back.line != 1)
		abort();
	for (i = 0; i < rec->n; i++)
		if (back.len[i] != rec->len[i] || memcmp(back.field[i], rec->field[i], rec->len[i]) != 0)
			abort();
	if (csv_next(r, &back, &err) != CSV_END)
		abort();
	csv_close(r);
	free(out);
}

/* Reads everything from r, checks each result, and returns a transcript
 * (caller frees) to compare between modes. */
static char *read_all(struct csv_reader *r, const struct csv_limits *lim, int round_trip,
		      size_t *tlen)
{
	struct csv_record rec;
	struct err err;
	enum csv_result res;
	char *t = NULL;
	long last = 0;
	FILE *fp = open_memstream(&t, tlen);

	if (fp == NULL)
		abort();
	while ((res = csv_next(r, &rec, &err)) != CSV_END) {
		size_t i;

		if (res == CSV_IO_ERROR)
			abort();
		if (rec.line <= last)
			abort();
		last = rec.line;
		if (res == CSV_BAD) {
			for (i = 0; err.msg[i] != '\0'; i++)
				if ((unsigned char)err.msg[i] < 0x20 || err.msg[i] == 0x7f)
					abort();
			fprintf(fp, "%ld!%s\n", rec.line, err.msg);
			continue;
		}
		if (rec.n == 0 || rec.n > lim->max_fields)
			abort();
		fprintf(fp, "%ld:%zu", rec.line, rec.n);
		for (i = 0; i < rec.n; i++) {
			if (rec.len[i] > lim->max_field || rec.field[i][rec.len[i]] != '\0' ||
			    memchr(rec.field[i], '\0', rec.len[i]) != NULL ||
			    !utf8_valid(rec.field[i], rec.len[i]))
				abort();
			fprintf(fp, " %zu:", rec.len[i]);
			fwrite(rec.field[i], 1, rec.len[i], fp);
		}
		fputc('\n', fp);
		if (round_trip)
			check_round_trip(&rec, lim);
	}
	fclose(fp);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_limits lim = csv_limits_default;
	struct csv_reader *r;
	char *a, *b;
	size_t alen, blen, i;
	uint32_t h;
	bool header;
	FILE *fp;

	for (i = 0, h = 2166136261u; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	if (h % 4 == 0) {
		lim.max_field = 1 + (h >> 4) % 16;
		lim.max_record = 1 + (h >> 8) % 64;
		lim.max_fields = 1 + (h >> 14) % 8;
	}
	header = (h >> 20) & 1;

	r = csv_open_buf((const char *)data, size, &lim, header);
	if (r == NULL)
		abort();
	a = read_all(r, &lim, 1, &alen);
	csv_close(r);

	if (size > 0) {
		fp = fmemopen((void *)data, size, "r");
		if (fp == NULL)
			abort();
		lim.chunk = (h >> 24) % 17;	/* 0: the default */
		r = csv_open_file(fp, &lim, header);
		if (r == NULL)
			abort();
		b = read_all(r, &lim, 0, &blen);
		csv_close(r);
		fclose(fp);
		if (alen != blen || memcmp(a, b, alen) != 0)
			abort();
		free(b);
	}
	free(a);
	return 0;
}
