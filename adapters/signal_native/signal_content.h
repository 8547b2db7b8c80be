/* signal_content.h: the plaintext a Signal client expects inside a 1:1
 * message: a Content protobuf holding a DataMessage with the text and its
 * timestamp (SignalService.proto: Content.dataMessage = 1,
 * DataMessage.body = 1, DataMessage.timestamp = 7), padded as Signal's
 * PushTransportDetails pads it (a 0x80 byte, then zeros up to a multiple
 * of 160 bytes less one), so that the length shows only the size class.
 * The receiving side (signal_receive.c) reads texts and receipts back. */
#ifndef PREGON_SIGNAL_CONTENT_H
#define PREGON_SIGNAL_CONTENT_H

#include <stddef.h>
#include <stdint.h>

/* The largest body sent: Signal clients send longer texts as an
 * attachment, which this transport does not. */
#define SIGNAL_BODY_MAX 2000

/* Encodes body (len bytes, at most SIGNAL_BODY_MAX) and timestamp_ms into
 * a malloc'd padded Content; *out_len its length. Returns 0 or -1. */
int signal_content_encode(const char *body, size_t len, uint64_t timestamp_ms, uint8_t **out,
			  size_t *out_len);

/* Finds the body and timestamp in a padded Content (the test recipient's
 * side): *body points into in. Returns 0, or -1 when in is not a padded
 * Content with a DataMessage body. */
int signal_content_decode(const uint8_t *in, size_t len, const char **body, size_t *body_len,
			  uint64_t *timestamp_ms);

/* What a received Content holds, for the receiving side
 * (signal_receive.c). SignalService.proto: Content.dataMessage = 1,
 * Content.receiptMessage = 5; DataMessage.body = 1, .group = 3 (v1),
 * .groupV2 = 15; ReceiptMessage.type = 1 (DELIVERY 0, READ 1, VIEWED 2),
 * .timestamp = 2 (repeated uint64, packed or not). */
#define SIGNAL_RECEIPT_TIMESTAMPS_MAX 100

enum signal_content_kind {
	SIGNAL_CONTENT_OTHER,		/* typing, sync, calls...: nothing pregon uses */
	SIGNAL_CONTENT_TEXT,		/* a 1:1 DataMessage (body may be empty) */
	SIGNAL_CONTENT_GROUP,		/* a DataMessage to a group: not addressed to us */
	SIGNAL_CONTENT_RECEIPT,		/* a ReceiptMessage */
};

enum signal_receipt_type { SIGNAL_RECEIPT_DELIVERY = 0, SIGNAL_RECEIPT_READ = 1,
			   SIGNAL_RECEIPT_VIEWED = 2 };

struct signal_content {
	enum signal_content_kind kind;
	const char *body;		/* TEXT: points into the input; NULL for none */
	size_t body_len;
	uint64_t receipt_type;		/* RECEIPT */
	uint64_t timestamps[SIGNAL_RECEIPT_TIMESTAMPS_MAX];
	size_t n_timestamps;		/* RECEIPT: the first ..._MAX */
};

/* Reads a padded (or unpadded) Content; -1 when it is not a protobuf. */
int signal_content_parse(const uint8_t *in, size_t len, struct signal_content *out);

/* Encodes a padded Content holding a ReceiptMessage of type with n
 * timestamps (the test recipient's side); 0 or -1. */
int signal_content_encode_receipt(enum signal_receipt_type type, const uint64_t *ts, size_t n,
				  uint8_t **out, size_t *out_len);

#endif
