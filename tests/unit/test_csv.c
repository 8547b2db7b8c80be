/* test_csv.c: the streaming CSV reader and writer (include/csv.h).
 *
 * Most cases go through expect_csv(), which reads the input from a buffer
 * and from a FILE (fmemopen) with read sizes of 1, 2, 3, 7 bytes and the
 * default, and checks that every way gives the same transcript: one line
 * per record, "LINE:field|field" for a record and "LINE!reason" for a bad
 * one, with CR and LF inside fields shown as \r and \n. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "utf8.h"

/* A growing string for transcripts. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Reads everything from r into a transcript (caller frees). */
static char *transcript(struct csv_reader *r)
{
	struct sbuf b = { 0 };
	struct csv_record rec;
	struct err err;
	enum csv_result res;
	char num[32];

	sb_str(&b, "");
	while ((res = csv_next(r, &rec, &err)) != CSV_END) {
		assert_int_not_equal(res, CSV_IO_ERROR);
		snprintf(num, sizeof(num), "%ld", rec.line);
		sb_str(&b, num);
		if (res == CSV_BAD) {
			sb_str(&b, "!");
			sb_str(&b, err.msg);
			sb_str(&b, "\n");
			continue;
		}
		sb_str(&b, ":");
		for (size_t i = 0; i < rec.n; i++) {
			if (i > 0)
				sb_str(&b, "|");
			assert_int_equal(strlen(rec.field[i]), rec.len[i]);
			for (size_t k = 0; k < rec.len[i]; k++) {
				if (rec.field[i][k] == '\r')
					sb_str(&b, "\\r");
				else if (rec.field[i][k] == '\n')
					sb_str(&b, "\\n");
				else
					sb_add(&b, &rec.field[i][k], 1);
			}
		}
		sb_str(&b, "\n");
	}
	return b.s;
}

/* Checks that in (len bytes) reads as want in every mode. */
static void expect_csv_lim(const char *in, size_t len, const struct csv_limits *lim_in,
			   bool header, const char *want)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 7 };
	struct csv_limits lim = lim_in ? *lim_in : csv_limits_default;
	struct csv_reader *r;
	char *got;

	r = csv_open_buf(in, len, &lim, header);
	assert_non_null(r);
	got = transcript(r);
	csv_close(r);
	if (strcmp(got, want) != 0)
		print_error("buffer mode:\n%s\nwanted:\n%s\n", got, want);
	assert_string_equal(got, want);
	free(got);

	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		/* fmemopen cannot open 0 bytes: a 1-byte buffer read 0 bytes into it. */
		char one[1];
		FILE *fp = fmemopen(len ? (void *)in : one, len ? len : 1, "r");

		assert_non_null(fp);
		if (len == 0)
			fgetc(fp);
		lim.chunk = chunks[k];
		r = csv_open_file(fp, &lim, header);
		assert_non_null(r);
		got = transcript(r);
		csv_close(r);
		fclose(fp);
		if (strcmp(got, want) != 0)
			print_error("file mode, chunk %zu:\n%s\nwanted:\n%s\n", chunks[k], got, want);
		assert_string_equal(got, want);
		free(got);
	}
}

#define expect_csv(in, header, want) expect_csv_lim(in, sizeof(in) - 1, NULL, header, want)

/* ---- well-formed input ---- */

static void csv_reads_lf_and_crlf_records(void **state)
{
	(void)state;
	expect_csv("a,b,c\n1,2,3\n", false, "1:a|b|c\n2:1|2|3\n");
	expect_csv("a,b,c\r\n1,2,3\r\n", false, "1:a|b|c\n2:1|2|3\n");
	expect_csv("a,b\r\n1,2\n3,4\r\n", false, "1:a|b\n2:1|2\n3:3|4\n");
}

static void csv_reads_a_last_record_without_line_end(void **state)
{
	(void)state;
	expect_csv("a,b\n1,2", false, "1:a|b\n2:1|2\n");
	expect_csv("x", false, "1:x\n");
}

static void csv_reads_a_lone_cr_as_a_line_end(void **state)
{
	(void)state;
	expect_csv("a,b\r1,2\r3,4", false, "1:a|b\n2:1|2\n3:3|4\n");
}

static void csv_reads_empty_input_as_no_records(void **state)
{
	(void)state;
	expect_csv("", false, "");
	expect_csv("\n\r\n\r", false, "");
	expect_csv("\xef\xbb\xbf", false, "");
}

static void csv_keeps_empty_fields(void **state)
{
	(void)state;
	expect_csv(",\n", false, "1:|\n");
	expect_csv("a,,c,\n", false, "1:a||c|\n");
	expect_csv("\"\",\"\"\n", false, "1:|\n");
}

static void csv_skips_empty_lines_and_counts_them(void **state)
{
	(void)state;
	expect_csv("a,b\n\n1,2\r\n\r\n\r\n3,4\n\n", false, "1:a|b\n3:1|2\n6:3|4\n");
}

static void csv_skips_a_bom_at_the_start_only(void **state)
{
	(void)state;
	expect_csv("\xef\xbb\xbfid,name\r\n1,Ana\r\n", false, "1:id|name\n2:1|Ana\n");
	/* Elsewhere it is data (valid UTF-8: U+FEFF). */
	expect_csv("id\n\xef\xbb\xbfx\n", false, "1:id\n2:\xef\xbb\xbfx\n");
	/* A partial BOM is data too, and here not valid UTF-8. */
	expect_csv("\xef\xbbx\n", false, "1!field 1: not valid UTF-8\n");
}

static void csv_unquotes_fields_with_doubled_quotes(void **state)
{
	(void)state;
	expect_csv("\"a\",\"b \"\"c\"\" d\",\"\"\"\"\n", false, "1:a|b \"c\" d|\"\n");
}

static void csv_keeps_commas_inside_quotes(void **state)
{
	(void)state;
	expect_csv("\"Garcia, Ana\",\"a,b,c\"\n", false, "1:Garcia, Ana|a,b,c\n");
}

static void csv_keeps_line_breaks_inside_quotes_as_written(void **state)
{
	(void)state;
	expect_csv("id,note\n1,\"two\nlines\"\n2,\"crlf\r\nkept\"\n3,\"cr\ronly\"\n4,x\n", false,
		   "1:id|note\n2:1|two\\nlines\n4:2|crlf\\r\\nkept\n6:3|cr\\ronly\n8:4|x\n");
}

static void csv_counts_lines_from_where_a_record_starts(void **state)
{
	(void)state;
	expect_csv("\"a\n\nb\n\",x\r\ny,z\n", false, "1:a\\n\\nb\\n|x\n5:y|z\n");
}

static void csv_keeps_spaces_around_fields(void **state)
{
	(void)state;
	expect_csv(" a , b \n", false, "1: a | b \n");
}

static void csv_reads_utf8_names(void **state)
{
	(void)state;
	expect_csv("Mar\xc3\xad" "a,\xe5\xbc\xa0\xe4\xbc\x9f,\xf0\x9f\x98\x80\n", false,
		   "1:Mar\xc3\xad" "a|\xe5\xbc\xa0\xe4\xbc\x9f|\xf0\x9f\x98\x80\n");
}

/* ---- malformed records ---- */

static void csv_rejects_a_quote_inside_an_unquoted_field(void **state)
{
	(void)state;
	expect_csv("a,b\"c,d\nok,1\n", false,
		   "1!field 2: quote inside an unquoted field\n2:ok|1\n");
	expect_csv("a, \"b\"\nok\n", false, "1!field 2: quote inside an unquoted field\n2:ok\n");
}

static void csv_rejects_text_after_a_closing_quote(void **state)
{
	(void)state;
	expect_csv("\"a\"b,c\n1,2\n", false, "1!field 1: text after the closing quote\n2:1|2\n");
	expect_csv("x,\"a\" \r\n1,2\r\n", false,
		   "1!field 2: text after the closing quote\n2:1|2\n");
}

static void csv_rejects_an_unterminated_quote_at_the_end(void **state)
{
	(void)state;
	expect_csv("a,b\n1,\"open", false,
		   "1:a|b\n2!field 2: quote not closed at the end of the file\n");
}

static void csv_rereads_the_rows_an_unterminated_quote_swallowed(void **state)
{
	(void)state;
	/* Row 2's quote is never closed: everything below would be one field.
	 * The error names line 2 and rows 3 and 4 are still read. */
	expect_csv("id,name\n1,\"Ana\n2,Bob\n3,Cy\n", true,
		   "1:id|name\n2!field 2: quote not closed at the end of the file\n3:2|Bob\n4:3|Cy\n");
	/* The quote closes at a later row's quote: text follows it. */
	expect_csv("id,name\n1,\"Ana\n2,\"Bob\"\n3,Cy\n", true,
		   "1:id|name\n2!field 2: text after the closing quote\n3:2|Bob\n4:3|Cy\n");
}

static void csv_reports_lines_inside_a_bad_multiline_record_too(void **state)
{
	(void)state;
	/* A well-quoted two-line field followed by junk: the record is bad,
	 * and its second line is read again on its own (and is bad too). */
	expect_csv("a,\"x\ny\"z\n1,2\n", false,
		   "1!field 2: text after the closing quote\n"
		   "2!field 1: quote inside an unquoted field\n3:1|2\n");
}

static void csv_checks_field_count_against_the_header(void **state)
{
	(void)state;
	expect_csv("id,name,phone\n1,Ana\n2,Bob,+1,x\n3,Cy,+1\n", true,
		   "1:id|name|phone\n2!2 fields, the header has 3\n3!4 fields, the header has 3\n"
		   "4:3|Cy|+1\n");
	/* Without header mode, any count goes. */
	expect_csv("id,name,phone\n1,Ana\n", false, "1:id|name|phone\n2:1|Ana\n");
}

static void csv_takes_the_header_from_the_first_good_record(void **state)
{
	(void)state;
	expect_csv("a\"b\nid,name\n1,x\n2\n", true,
		   "1!field 1: quote inside an unquoted field\n2:id|name\n3:1|x\n4!1 fields, the header has 2\n");
}

static void csv_rejects_invalid_utf8_per_record(void **state)
{
	(void)state;
	expect_csv("id,name\n1,\xff\n2,Ana\n", true,
		   "1:id|name\n2!field 2: not valid UTF-8\n3:2|Ana\n");
	/* overlong "/", a surrogate, beyond U+10FFFF, truncated sequence */
	expect_csv("\xc0\xaf\n\xed\xa0\x80\n\xf4\x90\x80\x80\nx\xe2\x82\n", false,
		   "1!field 1: not valid UTF-8\n2!field 1: not valid UTF-8\n"
		   "3!field 1: not valid UTF-8\n4!field 1: not valid UTF-8\n");
}

static void csv_rejects_a_nul_byte(void **state)
{
	static const char in[] = "a,b\x00" "c\nd,e\n";

	(void)state;
	expect_csv_lim(in, sizeof(in) - 1, NULL, false,
		       "1!field 2: contains a NUL byte\n2:d|e\n");
}

static void csv_rejects_a_field_over_the_limit(void **state)
{
	struct csv_limits lim = csv_limits_default;
	static const char in[] = "abcd,abcde\n\"abcde\",1\n\"ab\"\"cd\",2\nok,3\n";

	(void)state;
	lim.max_field = 4;
	expect_csv_lim(in, sizeof(in) - 1, &lim, false,
		       "1!field 2: longer than 4 bytes\n2!field 1: longer than 4 bytes\n"
		       "3!field 1: longer than 4 bytes\n4:ok|3\n");
}

static void csv_counts_a_record_as_written_against_the_limit(void **state)
{
	struct csv_limits lim = csv_limits_default;
	static const char in[] = "1234567890\r\n12345678901\r\n\"\"\"\"\"\"\"\"\"\"\"\"\r\nok\r\n";

	(void)state;
	lim.max_record = 10;
	expect_csv_lim(in, sizeof(in) - 1, &lim, false,
		       "1:1234567890\n2!record longer than 10 bytes\n3!record longer than 10 bytes\n"
		       "4:ok\n");
}

static void csv_rejects_too_many_fields(void **state)
{
	struct csv_limits lim = csv_limits_default;
	static const char in[] = "a,b,c\na,b,c,d\nx\n";

	(void)state;
	lim.max_fields = 3;
	expect_csv_lim(in, sizeof(in) - 1, &lim, false,
		       "1:a|b|c\n2!more than 3 fields\n3:x\n");
}

static void csv_reads_64_fields_by_default(void **state)
{
	struct sbuf in = { 0 }, want = { 0 };
	char *line;

	(void)state;
	sb_str(&want, "1:");
	for (int i = 0; i < 64; i++) {
		sb_str(&in, i ? ",f" : "f");
		sb_str(&want, i ? "|f" : "f");
	}
	sb_str(&in, "\n");
	line = strdup(in.s);
	assert_non_null(line);
	line[strlen(line) - 1] = ',';
	sb_str(&in, line);
	sb_str(&in, "g\n");
	free(line);
	sb_str(&want, "\n2!more than 64 fields\n");
	expect_csv_lim(in.s, in.len, NULL, false, want.s);
	free(in.s);
	free(want.s);
}

static void csv_opens_only_with_sane_limits(void **state)
{
	struct csv_limits lim = csv_limits_default;

	(void)state;
	lim.max_fields = CSV_FIELDS_MAX + 1;
	assert_null(csv_open_buf("", 0, &lim, false));
	lim = csv_limits_default;
	lim.max_field = 0;
	assert_null(csv_open_buf("", 0, &lim, false));
	lim = csv_limits_default;
	lim.max_record = 0;
	assert_null(csv_open_buf("", 0, &lim, false));
	csv_close(NULL);
}

/* A file far bigger than one read, with records across every boundary:
 * all of it is read, with the right line numbers, in bounded memory. */
static void csv_streams_a_big_file_across_reads(void **state)
{
	FILE *fp = tmpfile();
	struct csv_reader *r;
	struct csv_record rec;
	struct err err;
	long n = 0;
	enum csv_result res;

	(void)state;
	assert_non_null(fp);
	fputs("\xef\xbb\xbfid,name,note\r\n", fp);
	for (int i = 0; i < 20000; i++)
		fprintf(fp, "%d,\"Name, %d\",\"multi\r\nline \"\"%d\"\"\"\r\n", i, i, i);
	rewind(fp);
	r = csv_open_file(fp, NULL, true);
	assert_non_null(r);
	assert_int_equal(csv_next(r, &rec, &err), CSV_RECORD);
	assert_string_equal(rec.field[0], "id");
	while ((res = csv_next(r, &rec, &err)) == CSV_RECORD) {
		char want[64];

		assert_int_equal(rec.line, 2 + 2 * n);
		snprintf(want, sizeof(want), "%ld", n);
		assert_string_equal(rec.field[0], want);
		snprintf(want, sizeof(want), "Name, %ld", n);
		assert_string_equal(rec.field[1], want);
		snprintf(want, sizeof(want), "multi\r\nline \"%ld\"", n);
		assert_string_equal(rec.field[2], want);
		n++;
	}
	assert_int_equal(res, CSV_END);
	assert_int_equal(n, 20000);
	csv_close(r);
	fclose(fp);
}

static void csv_reports_a_read_error(void **state)
{
	FILE *fp = fopen("/", "r");	/* a directory: fread fails with EISDIR */
	struct csv_reader *r;
	struct csv_record rec;
	struct err err;

	(void)state;
	if (fp == NULL)
		skip();
	r = csv_open_file(fp, NULL, false);
	assert_non_null(r);
	assert_int_equal(csv_next(r, &rec, &err), CSV_IO_ERROR);
	assert_non_null(strstr(err.msg, "read error"));
	csv_close(r);
	fclose(fp);
}

/* ---- utf-8 ---- */

static void csv_utf8_valid_follows_rfc3629(void **state)
{
	(void)state;
	assert_true(utf8_valid("", 0));
	assert_true(utf8_valid("abc", 3));
	assert_true(utf8_valid("\xc2\x80", 2));
	assert_true(utf8_valid("\xdf\xbf", 2));
	assert_true(utf8_valid("\xe0\xa0\x80", 3));
	assert_true(utf8_valid("\xed\x9f\xbf", 3));	/* U+D7FF */
	assert_true(utf8_valid("\xee\x80\x80", 3));	/* U+E000 */
	assert_true(utf8_valid("\xf0\x90\x80\x80", 4));
	assert_true(utf8_valid("\xf4\x8f\xbf\xbf", 4));	/* U+10FFFF */
	assert_false(utf8_valid("\x80", 1));
	assert_false(utf8_valid("\xc1\xbf", 2));		/* overlong */
	assert_false(utf8_valid("\xe0\x9f\xbf", 3));	/* overlong */
	assert_false(utf8_valid("\xed\xa0\x80", 3));	/* surrogate */
	assert_false(utf8_valid("\xf0\x8f\xbf\xbf", 4));	/* overlong */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	assert_false(utf8_valid("\xf5\x80\x80\x80", 4));
	assert_false(utf8_valid("\xe2\x82", 2));		/* truncated */
	assert_false(utf8_valid("\xe2\x28\xa1", 3));	/* bad continuation */
}

/* ---- writer ---- */

/* What csv_write_record writes for fields (caller frees). */
static char *written(const char *const *fields, size_t n)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	assert_non_null(fp);
	assert_int_equal(csv_write_record(fp, fields, NULL, n), 0);
	fclose(fp);
	return out;
}

static void csv_writer_quotes_only_what_needs_it(void **state)
{
	static const char *const plain[] = { "id", "Ana", "+13235550100", "", "es-MX" };
	static const char *const special[] = { "a,b", "say \"hi\"", "two\nlines", "cr\r",
					       " lead", "trail\t", "\xef\xbb\xbfx" };
	char *s;

	(void)state;
	s = written(plain, 5);
	assert_string_equal(s, "id,Ana,+13235550100,,es-MX\r\n");
	free(s);
	s = written(special, 7);
	assert_string_equal(s, "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",\" lead\","
			       "\"trail\t\",\"\xef\xbb\xbfx\"\r\n");
	free(s);
	assert_false(csv_needs_quotes("", 0));
	assert_false(csv_needs_quotes("a b", 3));
	assert_true(csv_needs_quotes(" ", 1));
}

static void csv_formula_guard_marks_and_unmarks_risky_cells(void **state)
{
	static const char *const risky[] = { "=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx" };
	static const char *const safe[] = { "", "a=b", "'x", "1+1", " =x" };
	const char *s;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(risky) / sizeof(risky[0]); i++)
		assert_true(csv_formula_risk(risky[i], strlen(risky[i])));
	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		assert_false(csv_formula_risk(safe[i], strlen(safe[i])));
	/* A NUL first byte is not in the set (memchr, not strchr). */
	assert_false(csv_formula_risk("\0=", 2));
	len = 5;
	s = csv_formula_unguard("'=1+1", &len);
	assert_int_equal(len, 4);
	assert_memory_equal(s, "=1+1", 4);
	/* Only a quote before a risky start is a guard. */
	len = 3;
	s = csv_formula_unguard("'ab", &len);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "'ab", 3);
	len = 1;
	s = csv_formula_unguard("'", &len);
	assert_int_equal(len, 1);
}

static void csv_writer_quotes_a_lone_empty_field(void **state)
{
	static const char *const one[] = { "" };
	char *s;

	(void)state;
	s = written(one, 1);
	assert_string_equal(s, "\"\"\r\n");
	free(s);
}

static void csv_writer_output_reads_back_the_same(void **state)
{
	static const char *const f[] = { "\xef\xbb\xbf", "a,\"b\"", "\r\n\r", " ", "",
					 "Mar\xc3\xad" "a", "x" };
	struct csv_reader *r;
	struct csv_record rec;
	struct err err;
	char *s;

	(void)state;
	s = written(f, 7);
	r = csv_open_buf(s, strlen(s), NULL, false);
	assert_non_null(r);
	assert_int_equal(csv_next(r, &rec, &err), CSV_RECORD);
	assert_int_equal(rec.n, 7);
	assert_int_equal(rec.line, 1);
	for (size_t i = 0; i < 7; i++)
		assert_string_equal(rec.field[i], f[i]);
	assert_int_equal(csv_next(r, &rec, &err), CSV_END);
	csv_close(r);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(csv_reads_lf_and_crlf_records),
		cmocka_unit_test(csv_reads_a_last_record_without_line_end),
		cmocka_unit_test(csv_reads_a_lone_cr_as_a_line_end),
		cmocka_unit_test(csv_reads_empty_input_as_no_records),
		cmocka_unit_test(csv_keeps_empty_fields),
		cmocka_unit_test(csv_skips_empty_lines_and_counts_them),
		cmocka_unit_test(csv_skips_a_bom_at_the_start_only),
		cmocka_unit_test(csv_unquotes_fields_with_doubled_quotes),
		cmocka_unit_test(csv_keeps_commas_inside_quotes),
		cmocka_unit_test(csv_keeps_line_breaks_inside_quotes_as_written),
		cmocka_unit_test(csv_counts_lines_from_where_a_record_starts),
		cmocka_unit_test(csv_keeps_spaces_around_fields),
		cmocka_unit_test(csv_reads_utf8_names),
		cmocka_unit_test(csv_rejects_a_quote_inside_an_unquoted_field),
		cmocka_unit_test(csv_rejects_text_after_a_closing_quote),
		cmocka_unit_test(csv_rejects_an_unterminated_quote_at_the_end),
		cmocka_unit_test(csv_rereads_the_rows_an_unterminated_quote_swallowed),
		cmocka_unit_test(csv_reports_lines_inside_a_bad_multiline_record_too),
		cmocka_unit_test(csv_checks_field_count_against_the_header),
		cmocka_unit_test(csv_takes_the_header_from_the_first_good_record),
		cmocka_unit_test(csv_rejects_invalid_utf8_per_record),
		cmocka_unit_test(csv_rejects_a_nul_byte),
		cmocka_unit_test(csv_rejects_a_field_over_the_limit),
		cmocka_unit_test(csv_counts_a_record_as_written_against_the_limit),
		cmocka_unit_test(csv_rejects_too_many_fields),
		cmocka_unit_test(csv_reads_64_fields_by_default),
		cmocka_unit_test(csv_opens_only_with_sane_limits),
		cmocka_unit_test(csv_streams_a_big_file_across_reads),
		cmocka_unit_test(csv_reports_a_read_error),
		cmocka_unit_test(csv_utf8_valid_follows_rfc3629),
		cmocka_unit_test(csv_writer_quotes_only_what_needs_it),
		cmocka_unit_test(csv_writer_quotes_a_lone_empty_field),
		cmocka_unit_test(csv_formula_guard_marks_and_unmarks_risky_cells),
		cmocka_unit_test(csv_writer_output_reads_back_the_same),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
