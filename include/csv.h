/* csv.h: a streaming RFC 4180 reader and a field writer, for
 * `pregon contacts import|export` (CONTRACT.md section 5).
 *
 * Reader: reads a FILE* in chunks, or a buffer, one record at a time;
 * memory is bounded by the limits (a window of max_record + 64 KiB of
 * input and the decoded record), never by the file.
 *
 * - Fields are separated by ',' and records end with CRLF, LF or a lone CR
 *   (RFC 4180 2.1 says CRLF; LF-only and old Mac files are common, and
 *   Python's csv module reads them too). The last record may lack an end.
 * - A field that starts with '"' is quoted: '""' inside is one '"', and
 *   ',', CR and LF are data, kept exactly as written (RFC 4180 2.6, 2.7).
 * - A UTF-8 byte order mark at the very start is skipped (spreadsheets
 *   write one). Empty lines are skipped (they are not records).
 * - Each record reports the physical line it starts on: line breaks inside
 *   quoted fields advance the count, so the number is the editor's line.
 * - Limits (struct csv_limits): field <= 4096 bytes decoded, record <= 64
 *   KiB as written (its end excluded), <= 64 fields.
 * - A malformed record is reported as CSV_BAD with its line and a reason
 *   (err: "field 3: quote in unquoted field"), and reading goes on with the
 *   next record. Where it goes on: after the end of the physical line where
 *   the error was seen; but when the bad record had spanned several lines
 *   (a quoted field ran over a line end) reading resumes on the line after
 *   the one it started on, because the usual cause is a missing closing
 *   quote that swallowed the rows below it. The lines it covered may then
 *   be reported too, each on its own.
 * - The malformations: '"' inside an unquoted field; text after a closing
 *   quote; a quote not closed at the end of the input; a field, a record or
 *   a field count over the limits; a field count different from the header
 *   (when opened with header = true: the first good record sets the count);
 *   bytes that are not valid UTF-8 (RFC 3629: no overlongs, surrogates or
 *   code points above U+10FFFF), or a NUL byte, in a field.
 *
 * Writer: csv_write_record() writes fields quoted only where needed and a
 * CRLF end (RFC 4180 2.1, 2.6), so what csv_next() reads back is the same
 * fields. */
#ifndef PREGON_CSV_H
#define PREGON_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"

#define CSV_FIELD_MAX 4096
#define CSV_RECORD_MAX 65536
#define CSV_FIELDS_MAX 64

struct csv_limits {
	size_t max_field;	/* decoded bytes of one field */
	size_t max_record;	/* bytes of one record as written, its end excluded */
	size_t max_fields;	/* fields in one record, at most CSV_FIELDS_MAX */
	size_t chunk;		/* bytes read from a FILE at a time; 0: 64 KiB (tests
				 * use tiny ones to put records across reads) */
};

/* The defaults above; a caller passes NULL limits for them. */
extern const struct csv_limits csv_limits_default;

enum csv_result {
	CSV_IO_ERROR = -1,	/* read error (err: the system's reason) */
	CSV_RECORD = 0,		/* a record is in *rec */
	CSV_BAD = 1,		/* a malformed record: rec->line and err say which and why */
	CSV_END = 2,		/* no more input */
};

/* One record. The strings are NUL-terminated (fields hold no NUL) and
 * belong to the reader: valid until the next csv_next() or csv_close(). */
struct csv_record {
	long line;		/* physical line the record starts on, from 1 */
	size_t n;		/* number of fields */
	const char *field[CSV_FIELDS_MAX];
	size_t len[CSV_FIELDS_MAX];
	int bad_field;		/* CSV_BAD: the field at fault, from 1; 0: the record */
};

struct csv_reader;

/* Opens a reader on fp (not closed by csv_close) or on len bytes of buf
 * (which must outlive the reader). header: the first good record fixes
 * the number of fields of every later one. Returns NULL when out of
 * memory or when limits are out of range. */
struct csv_reader *csv_open_file(FILE *fp, const struct csv_limits *limits, bool header);
struct csv_reader *csv_open_buf(const char *buf, size_t len, const struct csv_limits *limits,
				bool header);
void csv_close(struct csv_reader *r);

/* Reads the next record. err (may be NULL) gets the reason for CSV_BAD and
 * CSV_IO_ERROR, without the line number ("field 2: text after closing
 * quote"); rec->line has it. */
enum csv_result csv_next(struct csv_reader *r, struct csv_record *rec, struct err *err);

/* Whether a field must be quoted when written: it holds ',', '"', CR or
 * LF, starts or ends with a space or tab (readers that trim would change
 * it), or starts with a UTF-8 byte order mark (which a reader skips at
 * the start of a file). */
bool csv_needs_quotes(const char *s, size_t len);

/* Spreadsheets run a cell that starts with '=', '+', '-', '@', TAB or CR
 * as a formula (CSV injection: "=HYPERLINK(...)" in a name field). Writers
 * that guard such a cell prefix it with a single quote, which spreadsheets
 * show as text ("'=1+1"); csv_formula_unguard() takes the quote off when
 * reading it back, so a guarded export imports as it was. */
bool csv_formula_risk(const char *s, size_t len);

/* s without the guard quote if it is "'" and then a risky start; else s.
 * *len is updated. */
const char *csv_formula_unguard(const char *s, size_t *len);

/* Writes one field, quoted when needed. Returns 0 or -1 (ferror). */
int csv_write_field(FILE *fp, const char *s, size_t len);

/* Writes n fields separated by ',' and ended by CRLF. A record of one
 * empty field is written as "" so that it is not read as an empty line.
 * lens may be NULL (then strlen). Returns 0 or -1 (ferror). */
int csv_write_record(FILE *fp, const char *const *fields, const size_t *lens, size_t n);

#endif
