/* spool.c: an append-only file of records, on disk before they count (see
 * spool.h). */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "log.h"

#define SPOOL_MAGIC "PGS1"
#define SPOOL_HEAD 12		/* magic, length, checksum */
/* A file larger than this is not read back at start (it cannot be one this
 * code wrote with a sane [inbound] spool_max): a person moves it aside. */
#define SPOOL_FILE_MAX ((uint64_t)1 << 30)

uint32_t spool_crc32(uint32_t crc, const void *p, size_t n)
{
	static uint32_t table[256];
	static bool made;
	const unsigned char *b = p;

	if (!made) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		made = true;
	}
	crc = ~crc;
	for (size_t i = 0; i < n; i++)
		crc = table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The checksum covers the length too, so a damaged length is caught. */
static uint32_t record_crc(const unsigned char *len_le, const void *payload, uint32_t len)
{
	return spool_crc32(spool_crc32(0, len_le, 4), payload, len);
}

static struct spool_rec *rec_new(const void *payload, uint32_t len)
{
	struct spool_rec *r = malloc(sizeof(*r) + len);

	if (r == NULL)
		return NULL;
	r->next = NULL;
	r->done = NULL;
	r->data = NULL;
	r->len = len;
	memcpy(r->payload, payload, len);
	return r;
}

static void list_push(struct spool_rec **head, struct spool_rec **tail, struct spool_rec *r)
{
	r->next = NULL;
	if (*tail)
		(*tail)->next = r;
	else
		*head = r;
	*tail = r;
}

/* ---- opening, before the loop runs ---- */

/* Makes the folders above path (mkdir -p of its dirname). */
static int make_parents(uv_loop_t *loop, const char *path, struct err *err)
{
	char dir[CONFIG_STR_MAX];
	uv_fs_t req;

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = uv_fs_mkdir(loop, &req, dir, 0750, NULL);

		uv_fs_req_cleanup(&req);
		*p = '/';
		if (rc != 0 && rc != UV_EEXIST)
			return err_set(err, "cannot make the folder of %s: %s", path, uv_strerror(rc));
	}
	return 0;
}

/* fsyncs the folder that holds path: a file just created is durable only
 * once its name is (fsync(2): "also ... an fsync() on a file descriptor
 * for the directory is also needed"), else a power loss could take the
 * whole spool with it. */
static int sync_parent(uv_loop_t *loop, const char *path, struct err *err)
{
	char dir[CONFIG_STR_MAX];
	char *slash;
	uv_fs_t req;
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = uv_fs_open(loop, &req, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, NULL);
	uv_fs_req_cleanup(&req);
	if (fd < 0)
		return err_set(err, "cannot open the folder of %s: %s", path, uv_strerror(fd));
	rc = uv_fs_fsync(loop, &req, fd, NULL);
	uv_fs_req_cleanup(&req);
	uv_fs_close(loop, &req, fd, NULL);
	uv_fs_req_cleanup(&req);
	if (rc != 0)
		return err_set(err, "cannot fsync the folder of %s: %s", path, uv_strerror(rc));
	return 0;
}

/* Reads the whole file into a buffer the caller frees. */
static int read_all(struct spool *s, unsigned char **out, size_t *out_len, struct err *err)
{
	uv_fs_t req;
	uint64_t size;
	unsigned char *buf;
	size_t got = 0;
	int rc = uv_fs_fstat(s->loop, &req, s->fd, NULL);

	size = req.statbuf.st_size;
	uv_fs_req_cleanup(&req);
	if (rc != 0)
		return err_set(err, "cannot stat %s: %s", s->path, uv_strerror(rc));
	if (size > SPOOL_FILE_MAX)
		return err_set(err, "%s: %llu bytes, too big to replay: move it aside and replay it "
			       "by hand", s->path, (unsigned long long)size);
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		return err_set(err, "%s: out of memory reading it", s->path);
	while (got < size) {
		uv_buf_t iov = uv_buf_init((char *)buf + got, (unsigned int)(size - got));

		rc = uv_fs_read(s->loop, &req, s->fd, &iov, 1, (int64_t)got, NULL);
		uv_fs_req_cleanup(&req);
		if (rc <= 0) {
			free(buf);
			return err_set(err, "cannot read %s: %s", s->path,
				       rc == 0 ? "shorter than it said" : uv_strerror(rc));
		}
		got += (size_t)rc;
	}
	*out = buf;
	*out_len = size;
	return 0;
}

/* Takes the records of buf into s; returns the end of the last good one. */
static int parse(struct spool *s, const unsigned char *buf, size_t size, size_t *good_end,
		 struct err *err)
{
	size_t off = 0, kept = 0;

	*good_end = 0;
	while (off + SPOOL_HEAD <= size) {
		uint32_t len = get_le32(buf + off + 4);

		if (memcmp(buf + off, SPOOL_MAGIC, 4) != 0 || len > SPOOL_RECORD_MAX ||
		    len > size - off - SPOOL_HEAD ||
		    record_crc(buf + off + 4, buf + off + SPOOL_HEAD, len) != get_le32(buf + off + 8)) {
			off++;		/* damaged: look for the next record */
			continue;
		}
		struct spool_rec *r = rec_new(buf + off + SPOOL_HEAD, len);

		if (r == NULL)
			return err_set(err, "%s: out of memory reading it", s->path);
		list_push(&s->head, &s->tail, r);
		s->n++;
		s->bytes += len;
		off += SPOOL_HEAD + len;
		kept += SPOOL_HEAD + len;
		*good_end = off;
	}
	s->loaded = s->n;
	s->skipped_bytes = size - kept;
	return 0;
}

int spool_open(struct spool *s, uv_loop_t *loop, const char *path, uint64_t max_bytes,
	       struct err *err)
{
	uv_fs_t req;
	unsigned char *buf = NULL;
	size_t size = 0, good_end = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->fd = -1;
	s->max_bytes = max_bytes;
	if (snprintf(s->path, sizeof(s->path), "%s", path) >= (int)sizeof(s->path) || path[0] == '\0')
		return err_set(err, "empty or too long");
	if (make_parents(loop, path, err) != 0)
		return -1;
	rc = uv_fs_open(loop, &req, path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600, NULL);
	uv_fs_req_cleanup(&req);
	if (rc < 0)
		return err_set(err, "cannot open %s: %s", path, uv_strerror(rc));
	s->fd = rc;
	/* LOCK_NB: never waits. Two instances appending to and truncating
	 * one file would lose each other's records. */
	if (flock(s->fd, LOCK_EX | LOCK_NB) != 0) {
		err_set(err, "%s is in use by another process (each pregond needs a spool of its own)",
			path);
		goto fail;
	}
	if (read_all(s, &buf, &size, err) != 0 || parse(s, buf, size, &good_end, err) != 0)
		goto fail;
	if (size == 0 && sync_parent(loop, path, err) != 0)
		goto fail;
	free(buf);
	buf = NULL;
	if (good_end < size) {
		/* Damaged bytes at the end (a write torn by a crash): cut them
		 * off, so that new records do not follow them. */
		rc = uv_fs_ftruncate(loop, &req, s->fd, (int64_t)good_end, NULL);
		uv_fs_req_cleanup(&req);
		if (rc == 0) {
			rc = uv_fs_fsync(loop, &req, s->fd, NULL);
			uv_fs_req_cleanup(&req);
		}
		if (rc != 0) {
			err_set(err, "cannot truncate %s: %s", path, uv_strerror(rc));
			goto fail;
		}
	}
	if (s->skipped_bytes > 0)
		log_warn("inbound spool %s: %llu damaged bytes skipped (a torn or corrupt record)",
			 path, (unsigned long long)s->skipped_bytes);
	s->size = good_end;
	return 0;
fail:
	free(buf);
	while (s->head) {
		struct spool_rec *r = s->head;

		s->head = r->next;
		free(r);
	}
	s->tail = NULL;
	s->n = 0;
	rc = uv_fs_close(loop, &req, s->fd, NULL);
	uv_fs_req_cleanup(&req);
	s->fd = -1;
	return -1;
}

/* ---- at run time, in the thread pool ---- */

static void pump(struct spool *s);

/* Calls done(-1) for every record of list and frees them. */
static void fail_list(struct spool *s, struct spool_rec *r)
{
	while (r) {
		struct spool_rec *next = r->next;

		s->bytes -= r->len;
		if (r->done)
			r->done(r->data, -1);
		free(r);
		r = next;
	}
}

static void on_repaired(uv_fs_t *req)
{
	struct spool *s = req->data;

	if (req->result < 0) {
		/* The file may now hold a partial record in the middle: the
		 * reader would skip it, but appending after bytes we cannot
		 * account for is no longer safe. */
		log_error("inbound spool %s: cannot undo a failed write (%s): it takes no more records",
			  s->path, uv_strerror((int)req->result));
		s->failed = true;
	}
	uv_fs_req_cleanup(req);
	s->busy = false;
	pump(s);
}

/* A write or its fsync failed: its records are not kept (their senders
 * are told, so the provider hears 503 and retries), and the file is cut
 * back to where it was. */
static void write_failed(struct spool *s, const char *what, int rc)
{
	struct spool_rec *w = s->writing;

	log_error("inbound spool %s: %s failed: %s; %zu webhooks refused (503)", s->path, what,
		  uv_strerror(rc), s->n_queued);
	s->writing = NULL;
	s->n_queued = 0;
	free(s->wbuf);
	s->wbuf = NULL;
	fail_list(s, w);
	s->req.data = s;
	if (uv_fs_ftruncate(s->loop, &s->req, s->fd, (int64_t)s->size, on_repaired) != 0) {
		s->failed = true;
		s->busy = false;
		pump(s);	/* fails what is queued: their senders hear 503 */
	}
}

static void on_fsync(uv_fs_t *req)
{
	struct spool *s = req->data;
	int rc = (int)req->result;
	struct spool_rec *r = s->writing;

	uv_fs_req_cleanup(req);
	if (rc < 0) {
		write_failed(s, "fsync", rc);
		return;
	}
	s->size += s->wlen;
	free(s->wbuf);
	s->wbuf = NULL;
	s->writing = NULL;
	s->written += s->n_queued;
	s->n_queued = 0;
	s->busy = false;
	/* On disk: they join the records to replay, in order, and their
	 * senders may answer now. */
	while (r) {
		struct spool_rec *next = r->next;
		spool_done_cb done = r->done;

		r->done = NULL;
		list_push(&s->head, &s->tail, r);
		s->n++;
		if (done)
			done(r->data, 0);
		r = next;
	}
	pump(s);
}

static void on_write(uv_fs_t *req)
{
	struct spool *s = req->data;
	int rc = (int)req->result;

	uv_fs_req_cleanup(req);
	if (rc < 0 || (size_t)rc != s->wlen) {
		write_failed(s, rc < 0 ? "write" : "write (short: a full disk?)",
			     rc < 0 ? rc : UV_ENOSPC);
		return;
	}
	s->req.data = s;
	if (uv_fs_fsync(s->loop, &s->req, s->fd, on_fsync) != 0)
		write_failed(s, "fsync", UV_EIO);
}

/* Writes every queued record in one write, then fsyncs. */
static void start_write(struct spool *s)
{
	size_t len = 0, n = 0;
	char *p;

	for (struct spool_rec *r = s->queued_head; r; r = r->next)
		len += SPOOL_HEAD + r->len;
	p = malloc(len);
	if (p == NULL) {
		struct spool_rec *q = s->queued_head;

		log_error("inbound spool %s: out of memory writing", s->path);
		s->queued_head = s->queued_tail = NULL;
		fail_list(s, q);
		return;
	}
	for (struct spool_rec *r = s->queued_head; r; r = r->next) {
		unsigned char *h = (unsigned char *)p + n;

		memcpy(h, SPOOL_MAGIC, 4);
		put_le32(h + 4, r->len);
		put_le32(h + 8, record_crc(h + 4, r->payload, r->len));
		memcpy(h + SPOOL_HEAD, r->payload, r->len);
		n += SPOOL_HEAD + r->len;
	}
	s->writing = s->queued_head;
	s->queued_head = s->queued_tail = NULL;
	s->n_queued = 0;
	for (struct spool_rec *r = s->writing; r; r = r->next)
		s->n_queued++;
	s->wbuf = p;
	s->wlen = len;
	s->wiov = uv_buf_init(p, (unsigned int)len);
	s->busy = true;
	s->req.data = s;
	/* offset -1: at the end (the file is O_APPEND). */
	if (uv_fs_write(s->loop, &s->req, s->fd, &s->wiov, 1, -1, on_write) != 0)
		write_failed(s, "write", UV_EIO);
}

static void on_truncated(uv_fs_t *req)
{
	struct spool *s = req->data;

	if (req->result < 0)
		log_warn("inbound spool %s: cannot truncate (%s): its records will be replayed again "
			 "(harmless: each is applied once)", s->path, uv_strerror((int)req->result));
	else
		s->size = 0;
	uv_fs_req_cleanup(req);
	s->busy = false;
	pump(s);
}

static void on_file_closed(uv_fs_t *req)
{
	struct spool *s = req->data;
	void (*closed)(struct spool *) = s->closed;

	uv_fs_req_cleanup(req);
	s->busy = false;
	s->fd = -1;
	s->closed = NULL;
	fail_list(s, s->queued_head);
	s->queued_head = s->queued_tail = NULL;
	while (s->head) {
		struct spool_rec *r = s->head;

		s->head = r->next;
		free(r);
	}
	s->tail = NULL;
	s->n = 0;
	closed(s);
}

/* Starts the next file operation, if any: writes first, then a truncate
 * that was asked for, then the close. */
static void pump(struct spool *s)
{
	if (s->busy || s->fd < 0)
		return;
	if (s->queued_head != NULL && s->failed) {
		struct spool_rec *q = s->queued_head;

		s->queued_head = s->queued_tail = NULL;
		fail_list(s, q);
	}
	if (s->queued_head != NULL) {
		start_write(s);
		return;
	}
	if (s->truncate_wanted) {
		s->truncate_wanted = false;
		/* Records written since it was asked for must stay. */
		if (s->head == NULL && s->size > 0 && !s->failed) {
			s->busy = true;
			s->req.data = s;
			if (uv_fs_ftruncate(s->loop, &s->req, s->fd, 0, on_truncated) != 0)
				s->busy = false;
			else
				return;
		}
	}
	if (s->closed != NULL) {
		s->busy = true;
		s->req.data = s;
		if (uv_fs_close(s->loop, &s->req, s->fd, on_file_closed) != 0) {
			/* Not even queued: finish as if closed. */
			s->req.result = 0;
			on_file_closed(&s->req);
		}
	}
}

int spool_append(struct spool *s, const void *payload, uint32_t len, spool_done_cb done,
		 void *data)
{
	struct spool_rec *r;

	if (s->fd < 0 || s->failed || s->closed != NULL || len > SPOOL_RECORD_MAX ||
	    s->bytes + len > s->max_bytes)
		return -1;
	r = rec_new(payload, len);
	if (r == NULL)
		return -1;
	r->done = done;
	r->data = data;
	list_push(&s->queued_head, &s->queued_tail, r);
	s->bytes += len;
	pump(s);
	return 0;
}

const struct spool_rec *spool_first(const struct spool *s)
{
	return s->head;
}

void spool_release_first(struct spool *s)
{
	struct spool_rec *r = s->head;

	if (r == NULL)
		return;
	s->head = r->next;
	if (s->head == NULL)
		s->tail = NULL;
	s->n--;
	s->bytes -= r->len;
	free(r);
	if (s->head == NULL && s->queued_head == NULL && s->writing == NULL) {
		s->truncate_wanted = true;
		pump(s);
	}
}

size_t spool_count(const struct spool *s)
{
	size_t n = s->n;

	for (const struct spool_rec *r = s->queued_head; r; r = r->next)
		n++;
	for (const struct spool_rec *r = s->writing; r; r = r->next)
		n++;
	return n;
}

bool spool_idle(const struct spool *s)
{
	return !s->busy && s->queued_head == NULL;
}

void spool_close(struct spool *s, void (*closed)(struct spool *s))
{
	if (s->fd < 0) {
		closed(s);
		return;
	}
	s->closed = closed;
	pump(s);
}
