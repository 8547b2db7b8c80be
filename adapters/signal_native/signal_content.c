/* signal_content.c: the Content protobuf of a text message, by hand
 * (signal_content.h): two nested length-delimited fields and a varint are
 * all a text needs, which does not justify a protobuf library. */
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

/* The length-delimited field `field` of msg[0..len) (the first one). */
static int find_field(const uint8_t *msg, size_t len, unsigned field, const uint8_t **val,
		      size_t *val_len, uint64_t *varint_out)
{
	size_t i = 0;

	while (i < len) {
		uint64_t key, v;

		if (read_varint(msg, len, &i, &key) != 0)
			return -1;
		switch (key & 7) {
		case 0:
			if (read_varint(msg, len, &i, &v) != 0)
				return -1;
			if ((key >> 3) == field && varint_out) {
				*varint_out = v;
				return 0;
			}
			break;
		case 2:
			if (read_varint(msg, len, &i, &v) != 0 || v > len - i)
				return -1;
			if ((key >> 3) == field && val) {
				*val = msg + i;
				*val_len = (size_t)v;
				return 0;
			}
			i += (size_t)v;
			break;
		case 1:
			if (len - i < 8)
				return -1;
			i += 8;
			break;
		case 5:
			if (len - i < 4)
				return -1;
			i += 4;
			break;
		default:
			return -1;
		}
	}
	return -1;
}

int signal_content_decode(const uint8_t *in, size_t len, const char **body, size_t *body_len,
			  uint64_t *timestamp_ms)
{
	const uint8_t *dm, *b;
	size_t dm_len, end = len;

	while (end > 0 && in[end - 1] == 0)
		end--;
	if (end == 0 || in[end - 1] != 0x80)
		return -1;
	end--;
	if (find_field(in, end, 1, &dm, &dm_len, NULL) != 0 ||
	    find_field(dm, dm_len, 1, &b, body_len, NULL) != 0)
		return -1;
	*body = (const char *)b;
	*timestamp_ms = 0;
	find_field(dm, dm_len, 7, NULL, NULL, timestamp_ms);
	return 0;
}
