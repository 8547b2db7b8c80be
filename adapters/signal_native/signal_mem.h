/* signal_mem.h: libsignal-protocol-c's stores held in memory, for one send.
 *
 * The library's store callbacks are synchronous and pregond's loop must
 * never wait on Redis, so a send first loads what it needs from Redis
 * (signal_native.c: our identity, the recipient's session and trusted
 * identity key), fills one of these, runs the library against it, and
 * writes back what changed (the `changed` flags) in one Redis call before
 * the ciphertext leaves. The test recipient (tests/tools/) keeps its whole
 * state in one too, pre-keys included.
 *
 * Identity trust is trust on first use: a recipient's first key is
 * trusted and saved; a key different from the saved one is refused
 * (is_trusted_identity answers 0, the library fails with
 * SG_ERR_UNTRUSTED_IDENTITY) and kept in `refused` for the operator's
 * `pregon signal trust`. */
#ifndef PREGON_SIGNAL_MEM_H
#define PREGON_SIGNAL_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <signal_protocol.h>

struct signal_blob {
	uint8_t *p;		/* malloc'd, or NULL */
	size_t len;
};

/* A record keyed by a name (an address) and a number (a device, or a
 * key id for pre-keys, whose name is ""). */
struct signal_mem_rec {
	char *name;
	uint32_t id;
	struct signal_blob data;
	bool changed;		/* written by the library since it was set */
};

struct signal_mem_table {
	struct signal_mem_rec *v;
	size_t n, cap;
};

struct signal_mem {
	struct signal_blob pub, priv;	/* our identity key pair, serialized */
	uint32_t reg_id;		/* our registration id */
	struct signal_mem_table sessions;	/* name, device */
	struct signal_mem_table identities;	/* name, 0: the trusted key */
	struct signal_mem_table pre_keys;	/* "", key id */
	struct signal_mem_table signed_pre_keys;	/* "", key id */
	struct signal_blob refused;	/* the last key refused as changed */
	char refused_name[128];		/* whose */
};

/* Sets the library's four stores (session, pre-key, signed pre-key,
 * identity) on store to m, which must outlive store. */
int signal_mem_attach(struct signal_mem *m, signal_protocol_store_context *store);

/* Frees everything m holds (m itself is the caller's). */
void signal_mem_free(struct signal_mem *m);

/* Copies data in as the record (name, id) of t, not marked changed.
 * Returns 0 or -1 (out of memory). */
int signal_mem_put(struct signal_mem_table *t, const char *name, size_t name_len, uint32_t id,
		   const uint8_t *data, size_t len);

/* The record (name, id) of t, or NULL. */
struct signal_mem_rec *signal_mem_find(struct signal_mem_table *t, const char *name,
				       size_t name_len, uint32_t id);

/* Sets a blob to a copy of data; 0 or -1. */
int signal_blob_set(struct signal_blob *b, const uint8_t *data, size_t len);

/* Fills m's identity with a fresh key pair and registration id. */
int signal_mem_generate_identity(struct signal_mem *m, signal_context *ctx);

/* The recipient's side (the test recipient, the unit tests): count
 * one-time pre-keys from first_id and one signed pre-key spk_id into m's
 * stores (m's identity must be set). */
int signal_mem_generate_keys(struct signal_mem *m, signal_context *ctx, uint32_t first_id,
			     unsigned count, uint32_t spk_id);

/* The bundle a server would hand out for m as device `device`, with the
 * one-time pre-key pre_key_id (0: none) and the signed pre-key spk_id,
 * from m's own stores. The caller SIGNAL_UNREFs it. */
int signal_mem_bundle(struct signal_mem *m, signal_context *ctx, int device,
		      uint32_t pre_key_id, uint32_t spk_id, session_pre_key_bundle **out);

#endif
