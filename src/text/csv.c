/* csv.c: the streaming RFC 4180 reader and the field writer (csv.h says
 * what is accepted and how errors resynchronise).
 *
 * The reader keeps a window of input: in file mode a buffer refilled by
 * fread, compacted so that the bytes of the record being read stay in it
 * (a bad record that spanned lines is re-read from its second line);
 * in buffer mode the caller's bytes. Positions are absolute offsets into
 * the input, so compaction only moves `base`. Both buffers start small and
 * grow (to the limits at most) only when a record needs it. */
#include "csv.h"
#include "utf8.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CSV_CHUNK 65536
#define CSV_RECORD_LIMIT (64u << 20)	/* the largest max_record accepted */

const struct csv_limits csv_limits_default = {
	.max_field = CSV_FIELD_MAX,
	.max_record = CSV_RECORD_MAX,
	.max_fields = CSV_FIELDS_MAX,
	.chunk = CSV_CHUNK,
};

struct csv_reader {
	FILE *fp;		/* NULL in buffer mode */
	const char *data;	/* the bytes from offset base to end */
	char *buf;		/* file mode: the window (data == buf), cap bytes */
	size_t cap, cap_max;
	size_t chunk;		/* file mode: the most read at a time */
	uint64_t base;		/* offset of data[0] */
	uint64_t end;		/* offset after the last byte in data */
	uint64_t pos;		/* offset of the next byte to read */
	uint64_t keep;		/* with retain: the oldest byte to keep */
	bool retain;		/* inside a record: keep its bytes for a re-read */
	bool eof;
	int io_errno;		/* a read error, reported once input is used up */
	bool started;		/* the BOM check is done */
	long line;		/* physical line of pos, from 1 */
	struct csv_limits lim;
	bool header;		/* the first good record fixes expect */
	size_t expect;		/* fields per record; 0: not known yet */
	char *rec;		/* decoded fields, each NUL-terminated */
	size_t rec_cap, rec_max;
};

#define CSV_START 1024		/* first size of the record buffer */

/* Checks limits and allocates what both modes share. */
static struct csv_reader *reader_new(const struct csv_limits *limits, bool header)
{
	const struct csv_limits *lim = limits != NULL ? limits : &csv_limits_default;
	struct csv_reader *r;

	if (lim->max_field == 0 || lim->max_record == 0 || lim->max_record > CSV_RECORD_LIMIT ||
	    lim->max_fields == 0 || lim->max_fields > CSV_FIELDS_MAX || lim->chunk > CSV_RECORD_LIMIT)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->lim = *lim;
	r->header = header;
	r->line = 1;
	/* Decoded bytes never exceed the bytes written, plus one NUL per field. */
	r->rec_max = lim->max_record + lim->max_fields + 1;
	r->rec_cap = r->rec_max < CSV_START ? r->rec_max : CSV_START;
	r->rec = malloc(r->rec_cap);
	if (r->rec == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

/* File mode: a window that starts small and grows to what a record needs. */
struct csv_reader *csv_open_file(FILE *fp, const struct csv_limits *limits, bool header)
{
	struct csv_reader *r = reader_new(limits, header);

	if (r == NULL)
		return NULL;
	r->fp = fp;
	r->chunk = r->lim.chunk != 0 ? r->lim.chunk : CSV_CHUNK;
	/* A record being read is at most max_record + 1 bytes when a read is
	 * needed (the length is checked byte by byte), so a chunk always fits
	 * after it; 16 more for the terminator and the BOM check. */
	r->cap_max = r->lim.max_record + 16 + r->chunk;
	r->cap = r->chunk + 16 + (r->lim.max_record < CSV_START ? r->lim.max_record : CSV_START);
	r->buf = malloc(r->cap);
	if (r->buf == NULL) {
		csv_close(r);
		return NULL;
	}
	r->data = r->buf;
	return r;
}

/* Buffer mode: the caller's bytes are the whole input (tests, fuzzing). */
struct csv_reader *csv_open_buf(const char *buf, size_t len, const struct csv_limits *limits,
				bool header)
{
	struct csv_reader *r = reader_new(limits, header);

	if (r == NULL)
		return NULL;
	r->data = buf;
	r->end = len;
	r->eof = true;
	return r;
}

/* Frees the reader, not the FILE (the caller opened it). */
void csv_close(struct csv_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r->rec);
	free(r);
}

/* Makes sure pos < end when input is left: reads the next chunk behind
 * the bytes that must be kept. Returns false at the end of input (or on a
 * read error, which is kept in io_errno). */
static bool fill(struct csv_reader *r)
{
	uint64_t from;
	size_t used, room, n;

	if (r->pos < r->end)
		return true;
	if (r->fp == NULL || r->eof)
		return false;
	from = r->retain && r->keep < r->pos ? r->keep : r->pos;
	used = (size_t)(r->end - from);
	if (from > r->base) {
		memmove(r->buf, r->buf + (from - r->base), used);
		r->base = from;
	}
	room = r->cap - used;
	if (room < r->chunk && r->cap < r->cap_max) {
		size_t cap = r->cap * 2 > used + r->chunk ? r->cap * 2 : used + r->chunk;
		char *p;

		if (cap > r->cap_max)
			cap = r->cap_max;
		p = realloc(r->buf, cap);
		if (p == NULL) {
			r->io_errno = ENOMEM;
			r->eof = true;
			return false;
		}
		r->buf = p;
		r->data = p;
		r->cap = cap;
		room = cap - used;
	}
	if (room == 0) {	/* cannot happen with the limits checked above */
		r->io_errno = ENOBUFS;
		r->eof = true;
		return false;
	}
	if (room > r->chunk)
		room = r->chunk;
	errno = 0;
	n = fread(r->buf + used, 1, room, r->fp);
	if (n == 0) {
		if (ferror(r->fp))
			r->io_errno = errno != 0 ? errno : EIO;
		r->eof = true;
		return false;
	}
	r->end += n;
	return true;
}

/* The next byte, or -1 at the end of input. */
static int peek(struct csv_reader *r)
{
	if (r->pos == r->end && !fill(r))
		return -1;
	return (unsigned char)r->data[r->pos - r->base];
}

/* Consumes one line end (LF, CRLF or a lone CR) at pos. */
static void end_line(struct csv_reader *r)
{
	int c = peek(r);

	if (c == '\r') {
		r->pos++;
		if (peek(r) == '\n')
			r->pos++;
	} else if (c == '\n') {
		r->pos++;
	} else {
		return;
	}
	r->line++;
}

/* Skips EF BB BF at the very start of the input (the BOM spreadsheets put
 * before UTF-8 CSV); anything else is left to be read. */
static void skip_bom(struct csv_reader *r)
{
	static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };
	uint64_t start = r->pos;
	int i;

	r->started = true;
	r->keep = start;
	r->retain = true;
	for (i = 0; i < 3; i++) {
		if (peek(r) != bom[i]) {
			r->pos = start;
			break;
		}
		r->pos++;
	}
	r->retain = false;
}


/* Where the record being read started, for errors and the re-read. */
struct rec_state {
	uint64_t start;		/* offset of its first byte */
	uint64_t second;	/* offset of its second physical line; 0: none yet */
	long line;
};

/* Reports a malformed record and moves to where reading goes on (csv.h):
 * the record's second line if it spanned lines, else past the end of the
 * physical line the error was seen on. */
static enum csv_result bad(struct csv_reader *r, const struct rec_state *st,
			   struct csv_record *rec, struct err *err, size_t field,
			   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static enum csv_result bad(struct csv_reader *r, const struct rec_state *st,
			   struct csv_record *rec, struct err *err, size_t field,
			   const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	int c;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (field > 0)
		err_set(err, "field %zu: %s", field, msg);
	else
		err_set(err, "%s", msg);
	rec->line = st->line;
	rec->n = 0;
	rec->bad_field = (int)field;
	if (st->second != 0) {
		r->pos = st->second;
		r->line = st->line + 1;
		r->retain = false;
		return CSV_BAD;
	}
	r->retain = false;
	while ((c = peek(r)) >= 0 && c != '\r' && c != '\n')
		r->pos++;
	end_line(r);
	return CSV_BAD;
}

/* Consumes one byte of the record; false once the record is over its
 * limit (the caller reports it). */
static bool take(struct csv_reader *r, const struct rec_state *st)
{
	r->pos++;
	return r->pos - st->start <= r->lim.max_record;
}

/* Appends one decoded byte, growing the buffer up to its most. */
static bool put(struct csv_reader *r, size_t *out, char ch)
{
	if (*out == r->rec_cap) {
		size_t cap = r->rec_cap * 2 < r->rec_max ? r->rec_cap * 2 : r->rec_max;
		char *p;

		if (cap <= r->rec_cap)	/* cannot happen: decoded <= written */
			return false;
		p = realloc(r->rec, cap);
		if (p == NULL)
			return false;
		r->rec = p;
		r->rec_cap = cap;
	}
	r->rec[(*out)++] = ch;
	return true;
}

/* Reads one record starting at pos (not at a line end or the input's end). */
static enum csv_result read_record(struct csv_reader *r, struct csv_record *rec, struct err *err)
{
	struct rec_state st = { r->pos, 0, r->line };
	size_t out = 0, nf = 0, i, off[CSV_FIELDS_MAX];
	int c;

	r->keep = st.start;
	r->retain = true;
	for (;;) {
		size_t fstart = out;

		if (nf == r->lim.max_fields)
			return bad(r, &st, rec, err, 0, "more than %zu fields", r->lim.max_fields);
		c = peek(r);
		if (c == '"') {
			if (!take(r, &st))
				goto too_long;
			for (;;) {
				c = peek(r);
				if (c < 0) {
					if (r->io_errno != 0)
						goto io_error;
					return bad(r, &st, rec, err, nf + 1,
						   "quote not closed at the end of the file");
				}
				if (!take(r, &st))
					goto too_long;
				if (c == '"') {
					if (peek(r) != '"')
						break;
					if (!take(r, &st))
						goto too_long;
				} else if (c == '\r' || c == '\n') {
					/* Kept as written; CRLF counts as one line. */
					if (c == '\r' && peek(r) == '\n') {
						if (out - fstart >= r->lim.max_field)
							goto field_too_long;
						if (!put(r, &out, '\r'))
							goto no_memory;
						if (!take(r, &st))
							goto too_long;
						c = '\n';
					}
					r->line++;
					if (st.second == 0)
						st.second = r->pos;
				}
				if (out - fstart >= r->lim.max_field)
					goto field_too_long;
				if (!put(r, &out, (char)c))
					goto no_memory;
			}
			c = peek(r);
			if (c < 0 && r->io_errno != 0)
				goto io_error;
			if (c >= 0 && c != ',' && c != '\r' && c != '\n')
				return bad(r, &st, rec, err, nf + 1, "text after the closing quote");
		} else {
			for (;;) {
				c = peek(r);
				if (c < 0 || c == ',' || c == '\r' || c == '\n')
					break;
				if (c == '"')
					return bad(r, &st, rec, err, nf + 1,
						   "quote inside an unquoted field");
				if (!take(r, &st))
					goto too_long;
				if (out - fstart >= r->lim.max_field)
					goto field_too_long;
				if (!put(r, &out, (char)c))
					goto no_memory;
			}
			if (c < 0 && r->io_errno != 0)
				goto io_error;
		}
		if (!put(r, &out, '\0'))
			goto no_memory;
		off[nf] = fstart;
		rec->len[nf] = out - fstart - 1;
		nf++;
		if (c != ',')
			break;
		if (!take(r, &st))
			goto too_long;
	}
	if (r->header && r->expect != 0 && nf != r->expect)
		return bad(r, &st, rec, err, 0, "%zu fields, the header has %zu", nf, r->expect);
	r->retain = false;
	end_line(r);
	rec->line = st.line;
	rec->n = nf;
	rec->bad_field = 0;
	for (i = 0; i < nf; i++)	/* now that rec no longer moves */
		rec->field[i] = r->rec + off[i];
	for (i = 0; i < nf; i++) {
		if (memchr(rec->field[i], '\0', rec->len[i]) != NULL) {
			rec->n = 0;
			rec->bad_field = (int)(i + 1);
			err_set(err, "field %zu: contains a NUL byte", i + 1);
			return CSV_BAD;
		}
		/* Cells go into JSON (jansson refuses invalid UTF-8) and into
		 * Redis for SMS and email texts: a bad byte is found here. */
		if (!utf8_valid(rec->field[i], rec->len[i])) {
			rec->n = 0;
			rec->bad_field = (int)(i + 1);
			err_set(err, "field %zu: not valid UTF-8", i + 1);
			return CSV_BAD;
		}
	}
	if (r->header && r->expect == 0)
		r->expect = nf;
	return CSV_RECORD;

too_long:
	return bad(r, &st, rec, err, 0, "record longer than %zu bytes", r->lim.max_record);
field_too_long:
	return bad(r, &st, rec, err, nf + 1, "longer than %zu bytes", r->lim.max_field);
no_memory:
	r->io_errno = ENOMEM;
io_error:
	r->retain = false;
	rec->line = st.line;
	rec->n = 0;
	rec->bad_field = 0;
	err_set(err, "read error: %s", strerror(r->io_errno));
	return CSV_IO_ERROR;
}

/* Skips empty lines (a spreadsheet's trailing ones are no records), then
 * reads one record. */
enum csv_result csv_next(struct csv_reader *r, struct csv_record *rec, struct err *err)
{
	int c;

	if (!r->started)
		skip_bom(r);
	for (;;) {
		r->retain = false;
		c = peek(r);
		if (c < 0)
			break;
		if (c != '\r' && c != '\n')
			return read_record(r, rec, err);
		end_line(r);	/* an empty line is no record */
	}
	rec->line = r->line;
	rec->n = 0;
	rec->bad_field = 0;
	if (r->io_errno != 0) {
		err_set(err, "read error: %s", strerror(r->io_errno));
		return CSV_IO_ERROR;
	}
	return CSV_END;
}

/* ---- writer ---- */

bool csv_formula_risk(const char *s, size_t len)
{
	static const char starts[] = "=+-@\t\r";

	return len > 0 && memchr(starts, s[0], sizeof(starts) - 1) != NULL;
}

const char *csv_formula_unguard(const char *s, size_t *len)
{
	if (*len >= 2 && s[0] == '\'' && csv_formula_risk(s + 1, *len - 1)) {
		(*len)--;
		return s + 1;
	}
	return s;
}

/* Quoting only where needed keeps the file readable and diffable. */
bool csv_needs_quotes(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t')
		return true;
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		return true;
	for (i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return true;
	return false;
}

/* One field, written in at most three pieces between quotes. */
int csv_write_field(FILE *fp, const char *s, size_t len)
{
	const char *p = s, *e = s + len, *q;

	if (!csv_needs_quotes(s, len)) {
		if (len > 0)
			fwrite(s, 1, len, fp);
		return ferror(fp) ? -1 : 0;
	}
	putc('"', fp);
	/* RFC 4180 2.7: a quote inside is doubled. */
	while ((q = memchr(p, '"', (size_t)(e - p))) != NULL) {
		fwrite(p, 1, (size_t)(q - p) + 1, fp);
		putc('"', fp);
		p = q + 1;
	}
	if (p < e)
		fwrite(p, 1, (size_t)(e - p), fp);
	putc('"', fp);
	return ferror(fp) ? -1 : 0;
}

/* A whole record with its CRLF (RFC 4180 2.1). */
int csv_write_record(FILE *fp, const char *const *fields, const size_t *lens, size_t n)
{
	size_t i;

	if (n == 1 && (lens != NULL ? lens[0] : strlen(fields[0])) == 0) {
		fputs("\"\"\r\n", fp);
		return ferror(fp) ? -1 : 0;
	}
	for (i = 0; i < n; i++) {
		if (i > 0)
			putc(',', fp);
		if (csv_write_field(fp, fields[i], lens != NULL ? lens[i] : strlen(fields[i])) != 0)
			return -1;
	}
	fputs("\r\n", fp);
	return ferror(fp) ? -1 : 0;
}
