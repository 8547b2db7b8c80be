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

/* The next field of msg[*i..len): its number, wire type, and its value
 * (varint in *v; length-delimited in *val, *val_len). 0; 1 at the end;
 * -1 on a malformed field. */
static int next_field(const uint8_t *msg, size_t len, size_t *i, uint64_t *field, uint64_t *v,
		      const uint8_t **val, size_t *val_len)
{
	uint64_t key;

	if (*i >= len)
		return 1;
	if (read_varint(msg, len, i, &key) != 0)
		return -1;
	*field = key;
	switch (key & 7) {
	case 0:
		return read_varint(msg, len, i, v);
	case 2:
		if (read_varint(msg, len, i, v) != 0 || *v > len - *i)
			return -1;
		*val = msg + *i;
		*val_len = (size_t)*v;
		*i += (size_t)*v;
		return 0;
	case 1:
		if (len - *i < 8)
			return -1;
		*i += 8;
		return 0;
	case 5:
		if (len - *i < 4)
			return -1;
		*i += 4;
		return 0;
	default:
		return -1;
	}
}

/* The first field `field` of msg[0..len): a length-delimited one into
 * *val (when val), or a varint into *varint_out (when not). */
static int find_field(const uint8_t *msg, size_t len, unsigned field, const uint8_t **val,
		      size_t *val_len, uint64_t *varint_out)
{
	size_t i = 0;
	uint64_t key, v;
	const uint8_t *p;
	size_t n;

	while (next_field(msg, len, &i, &key, &v, &p, &n) == 0) {
		if ((key >> 3) != field)
			continue;
		if ((key & 7) == 2 && val) {
			*val = p;
			*val_len = n;
			return 0;
		}
		if ((key & 7) == 0 && !val && varint_out) {
			*varint_out = v;
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
	size_t i = 0;
	uint64_t key, v;
	const uint8_t *p;
	size_t n;
	int rc;

	out->kind = SIGNAL_CONTENT_RECEIPT;
	while ((rc = next_field(m, len, &i, &key, &v, &p, &n)) == 0) {
		if (key == TAG_VARINT(1)) {
			out->receipt_type = v;
		} else if (key == TAG_VARINT(2)) {
			if (out->n_timestamps < SIGNAL_RECEIPT_TIMESTAMPS_MAX)
				out->timestamps[out->n_timestamps++] = v;
		} else if (key == TAG_LEN(2)) {
			size_t j = 0;

			while (j < n && out->n_timestamps < SIGNAL_RECEIPT_TIMESTAMPS_MAX) {
				if (read_varint(p, n, &j, &v) != 0)
					return -1;
				out->timestamps[out->n_timestamps++] = v;
			}
		}
	}
	return rc == 1 ? 0 : -1;
}

static int parse_data(const uint8_t *m, size_t len, struct signal_content *out)
{
	size_t i = 0;
	uint64_t key, v;
	const uint8_t *p;
	size_t n;
	int rc;

	out->kind = SIGNAL_CONTENT_TEXT;
	while ((rc = next_field(m, len, &i, &key, &v, &p, &n)) == 0) {
		if (key == TAG_LEN(1)) {
			out->body = (const char *)p;
			out->body_len = n;
		} else if (key == TAG_LEN(3) || key == TAG_LEN(15)) {
			out->kind = SIGNAL_CONTENT_GROUP;
		}
	}
	return rc == 1 ? 0 : -1;
}

int signal_content_parse(const uint8_t *in, size_t len, struct signal_content *out)
{
	size_t end = unpadded(in, len), i = 0;
	uint64_t key, v;
	const uint8_t *p;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	while ((rc = next_field(in, end, &i, &key, &v, &p, &n)) == 0) {
		if (key == TAG_LEN(1))
			return parse_data(p, n, out);
		if (key == TAG_LEN(5))
			return parse_receipt(p, n, out);
	}
	return rc == 1 ? 0 : -1;	/* OTHER */
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
