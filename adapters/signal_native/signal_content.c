/* signal_content.c: the Content protobuf of a text message and of a
 * receipt, by hand (signal_content.h): two nested length-delimited fields
 * and a few varints are all they need, which does not justify a protobuf
 * library. Reading skips every field it does not know, as protobuf
 * readers do. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "signal_content.h"

#define TAG_LEN(field) ((uint8_t)((field) << 3 | 2))	/* wire type 2 */
#define TAG_VARINT(field) ((uint8_t)((field) << 3 | 0))
#define PAD_BLOCK 160

static size_t varint(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	do {
		out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

static int read_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && *i < len; shift += 7) {
		uint8_t b = p[(*i)++];

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

int signal_content_encode(const char *body, size_t len, uint64_t timestamp_ms, uint8_t **out,
			  size_t *out_len)
{
	uint8_t dm_head[16], content_head[16], ts[16];
	size_t n_body_len, n_ts, dm_len, n_dm_len, plain, padded;
	uint8_t *p;

	if (len > SIGNAL_BODY_MAX)
		return -1;
	/* DataMessage: 0x0a <len> body, 0x38 <timestamp> */
	dm_head[0] = TAG_LEN(1);
	n_body_len = 1 + varint(dm_head + 1, len);
	ts[0] = TAG_VARINT(7);
	n_ts = 1 + varint(ts + 1, timestamp_ms);
	dm_len = n_body_len + len + n_ts;
	/* Content: 0x0a <len> DataMessage */
	content_head[0] = TAG_LEN(1);
	n_dm_len = 1 + varint(content_head + 1, dm_len);
	plain = n_dm_len + dm_len;
	padded = (plain + 2 + PAD_BLOCK - 1) / PAD_BLOCK * PAD_BLOCK - 1;
	p = calloc(1, padded);
	if (p == NULL)
		return -1;
	memcpy(p, content_head, n_dm_len);
	memcpy(p + n_dm_len, dm_head, n_body_len);
	memcpy(p + n_dm_len + n_body_len, body, len);
	memcpy(p + n_dm_len + n_body_len + len, ts, n_ts);
	p[plain] = 0x80;
	*out = p;
	*out_len = padded;
	return 0;
}

/* A walk over the fields of one protobuf message. */
struct pb {
	const uint8_t *m;
	size_t len, i;
	uint64_t key;		/* the field's number << 3 | wire type */
	uint64_t v;		/* a varint's value, or a length */
	const uint8_t *p;	/* a length-delimited field's bytes, v of them */
	int rc;			/* 0 while fields come; 1 at the end; -1 malformed */
};

static void pb_start(struct pb *f, const uint8_t *m, size_t len)
{
	memset(f, 0, sizeof(*f));
	f->m = m;
	f->len = len;
}

/* Steps to the next field; false at the end or on a malformed one
 * (f->rc says which). */
static bool pb_next(struct pb *f)
{
	size_t skip = 0;

	f->rc = -1;
	if (f->i >= f->len) {
		f->rc = 1;
		return false;
	}
	if (read_varint(f->m, f->len, &f->i, &f->key) != 0)
		return false;
	switch (f->key & 7) {
	case 0:
		if (read_varint(f->m, f->len, &f->i, &f->v) != 0)
			return false;
		break;
	case 2:
		if (read_varint(f->m, f->len, &f->i, &f->v) != 0 || f->v > f->len - f->i)
			return false;
		f->p = f->m + f->i;
		skip = (size_t)f->v;
		break;
	case 1:
		skip = 8;
		break;
	case 5:
		skip = 4;
		break;
	default:
		return false;
	}
	if (f->len - f->i < skip)
		return false;
	f->i += skip;
	f->rc = 0;
	return true;
}

/* The first field `field` of msg[0..len): a length-delimited one into
 * *val (when val), or a varint into *varint_out (when not). */
static int find_field(const uint8_t *msg, size_t len, unsigned field, const uint8_t **val,
		      size_t *val_len, uint64_t *varint_out)
{
	struct pb f;

	pb_start(&f, msg, len);
	while (pb_next(&f)) {
		if ((f.key >> 3) != field)
			continue;
		if ((f.key & 7) == 2 && val) {
			*val = f.p;
			*val_len = (size_t)f.v;
			return 0;
		}
		if ((f.key & 7) == 0 && !val && varint_out) {
			*varint_out = f.v;
			return 0;
		}
	}
	return -1;
}

/* The length of a Content without its padding (none is allowed too). */
static size_t unpadded(const uint8_t *in, size_t len)
{
	size_t end = len;

	while (end > 0 && in[end - 1] == 0)
		end--;
	if (end > 0 && in[end - 1] == 0x80)
		return end - 1;
	return len;
}

int signal_content_decode(const uint8_t *in, size_t len, const char **body, size_t *body_len,
			  uint64_t *timestamp_ms)
{
	const uint8_t *dm, *b;
	size_t dm_len, end = unpadded(in, len);

	if (end == len || find_field(in, end, 1, &dm, &dm_len, NULL) != 0 ||
	    find_field(dm, dm_len, 1, &b, body_len, NULL) != 0)
		return -1;
	*body = (const char *)b;
	*timestamp_ms = 0;
	find_field(dm, dm_len, 7, NULL, NULL, timestamp_ms);
	return 0;
}

/* ReceiptMessage: the type, the timestamps (repeated uint64, each a
 * varint field or all in one packed field). */
static int parse_receipt(const uint8_t *m, size_t len, struct signal_content *out)
{
	struct pb f;

	out->kind = SIGNAL_CONTENT_RECEIPT;
	pb_start(&f, m, len);
	while (pb_next(&f)) {
		if (f.key == TAG_VARINT(1)) {
			out->receipt_type = f.v;
		} else if (f.key == TAG_VARINT(2)) {
			if (out->n_timestamps < SIGNAL_RECEIPT_TIMESTAMPS_MAX)
				out->timestamps[out->n_timestamps++] = f.v;
		} else if (f.key == TAG_LEN(2)) {
			size_t j = 0;
			uint64_t v;

			while (j < f.v && out->n_timestamps < SIGNAL_RECEIPT_TIMESTAMPS_MAX) {
				if (read_varint(f.p, (size_t)f.v, &j, &v) != 0)
					return -1;
				out->timestamps[out->n_timestamps++] = v;
			}
		}
	}
	return f.rc == 1 ? 0 : -1;
}

/* DataMessage: the body, and whether it went to a group. */
static int parse_data(const uint8_t *m, size_t len, struct signal_content *out)
{
	struct pb f;

	out->kind = SIGNAL_CONTENT_TEXT;
	pb_start(&f, m, len);
	while (pb_next(&f)) {
		if (f.key == TAG_LEN(1)) {
			out->body = (const char *)f.p;
			out->body_len = (size_t)f.v;
		} else if (f.key == TAG_LEN(3) || f.key == TAG_LEN(15)) {
			out->kind = SIGNAL_CONTENT_GROUP;
		}
	}
	return f.rc == 1 ? 0 : -1;
}

int signal_content_parse(const uint8_t *in, size_t len, struct signal_content *out)
{
	struct pb f;

	memset(out, 0, sizeof(*out));
	pb_start(&f, in, unpadded(in, len));
	while (pb_next(&f)) {
		if (f.key == TAG_LEN(1))
			return parse_data(f.p, (size_t)f.v, out);
		if (f.key == TAG_LEN(5))
			return parse_receipt(f.p, (size_t)f.v, out);
	}
	return f.rc == 1 ? 0 : -1;	/* OTHER */
}

int signal_content_encode_receipt(enum signal_receipt_type type, const uint64_t *ts, size_t n,
				  uint8_t **out, size_t *out_len)
{
	uint8_t rm[3 + SIGNAL_RECEIPT_TIMESTAMPS_MAX * 11];
	size_t rm_len = 0, plain, padded;
	uint8_t *p;

	if (n > SIGNAL_RECEIPT_TIMESTAMPS_MAX)
		return -1;
	rm[rm_len++] = TAG_VARINT(1);
	rm_len += varint(rm + rm_len, (uint64_t)type);
	for (size_t i = 0; i < n; i++) {
		rm[rm_len++] = TAG_VARINT(2);
		rm_len += varint(rm + rm_len, ts[i]);
	}
	plain = 1 + 2 + rm_len;		/* 0x2a, a 2-byte length at most */
	padded = (plain + 2 + PAD_BLOCK - 1) / PAD_BLOCK * PAD_BLOCK - 1;
	p = calloc(1, padded);
	if (p == NULL)
		return -1;
	p[0] = TAG_LEN(5);
	plain = 1 + varint(p + 1, rm_len);
	memcpy(p + plain, rm, rm_len);
	plain += rm_len;
	p[plain] = 0x80;
	*out = p;
	*out_len = padded;
	return 0;
}
