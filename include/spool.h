/* spool.h: an append-only file of records that are on disk before they
 * count: where the inbound path (inbound.h) keeps the webhooks Redis could
 * not take, so that a provider that does not retry (Twilio) can be told
 * 200 and a restart in between loses nothing.
 *
 * The file is a sequence of records, each
 *
 *     magic "PGS1" | length (u32 LE) | CRC-32 of length and payload (u32 LE) | payload
 *
 * A record whose length runs past the end of the file or whose checksum
 * does not match (a write torn by a crash or a full disk) is skipped: the
 * reader looks for the next magic whose record checks out, so one damaged
 * record never hides the ones after it. A torn last record is cut off the
 * file before anything is appended after it.
 *
 * Opening (spool_open) runs before the event loop does, with the same
 * uv_fs_* calls made synchronously: a spool that cannot be opened, locked
 * or read must stop pregond from starting (webhooks could not be kept),
 * and its records must be known before the first webhook is taken, so
 * that they are replayed first and in order. From then on every file
 * operation runs in libuv's thread pool: appends are written and fsync'd
 * in batches (what arrives during a write goes in the next one), and the
 * file is truncated once every record has been released. The file is
 * locked (flock, LOCK_NB) so two pregond never share one. */
#ifndef PREGON_SPOOL_H
#define PREGON_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "err.h"

/* The largest payload of a record. */
#define SPOOL_RECORD_MAX (64 * 1024)

/* status 0: the record is on disk (fsync'd); -1: it is not (and not in
 * the spool). */
typedef void (*spool_done_cb)(void *data, int status);

/* A record, in memory from its append (or the open) to its release. */
struct spool_rec {
	struct spool_rec *next;
	spool_done_cb done;		/* NULL once called (or for a loaded one) */
	void *data;
	uint32_t len;
	unsigned char payload[];
};

struct spool {
	uv_loop_t *loop;
	char path[CONFIG_STR_MAX];
	uint64_t max_bytes;		/* records held at once, in payload bytes */
	uv_file fd;			/* -1: not open */
	uv_fs_t req;			/* the one file operation in progress */
	bool busy;			/* req is in use */
	bool failed;			/* a write could not be undone: no more appends */
	uint64_t size;			/* the file's length, as far as we wrote it */
	/* On disk and not yet released, oldest first. */
	struct spool_rec *head, *tail;
	size_t n;
	/* Appended, waiting for the next write; and in the write now. */
	struct spool_rec *queued_head, *queued_tail, *writing;
	size_t n_queued;
	uint64_t bytes;			/* payload bytes of all three lists */
	char *wbuf;			/* the bytes of the write in progress */
	size_t wlen;
	uv_buf_t wiov;
	bool truncate_wanted;		/* every record released: cut the file to 0 */
	void (*closed)(struct spool *s);
	uint64_t loaded, skipped_bytes;	/* at open: records found, bytes skipped */
	uint64_t written;		/* records appended since open */
};

/* Opens (creating it and its folders) and locks the spool at path, and
 * reads the records it holds into the list spool_first() walks. Runs
 * before the loop does (see above). Returns 0, or -1 with err naming the
 * problem ("cannot open ...: Permission denied", "... is locked by another
 * process"). */
int spool_open(struct spool *s, uv_loop_t *loop, const char *path, uint64_t max_bytes,
	       struct err *err);

/* Appends a copy of payload[0..len). Returns 0 and calls done exactly once
 * (from the loop, never before returning) when the record is on disk or
 * failed to get there; -1 and never calls done when the spool cannot take
 * it (over max_bytes, too long, a failed spool, out of memory). */
int spool_append(struct spool *s, const void *payload, uint32_t len, spool_done_cb done,
		 void *data);

/* The oldest record on disk not released yet, or NULL. */
const struct spool_rec *spool_first(const struct spool *s);

/* Drops the oldest record (it is written where it belongs); once none is
 * left, the file is truncated. */
void spool_release_first(struct spool *s);

/* Records on disk not released, and appends not yet on disk. */
size_t spool_count(const struct spool *s);

/* True when no file operation is in progress or waiting. */
bool spool_idle(const struct spool *s);

/* Once idle, closes the file (its records stay in it for the next start)
 * and frees what is in memory; closed is called from the loop. An unopened
 * spool calls closed too. */
void spool_close(struct spool *s, void (*closed)(struct spool *s));

/* CRC-32 (IEEE 802.3, as zlib's crc32) of p[0..n), continuing from crc
 * (0 to start). */
uint32_t spool_crc32(uint32_t crc, const void *p, size_t n);

#endif
