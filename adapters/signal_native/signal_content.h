/* signal_content.h: the plaintext a Signal client expects inside a 1:1
 * message: a Content protobuf holding a DataMessage with the text and its
 * timestamp (SignalService.proto: Content.dataMessage = 1,
 * DataMessage.body = 1, DataMessage.timestamp = 7), padded as Signal's
 * PushTransportDetails pads it (a 0x80 byte, then zeros up to a multiple
 * of 160 bytes less one), so that the length shows only the size class. */
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

#endif
