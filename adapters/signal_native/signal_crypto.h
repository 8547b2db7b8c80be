/* signal_crypto.h: libsignal-protocol-c's crypto provider on OpenSSL 3, and
 * the base64 of the Signal service's JSON.
 *
 * The library does no cryptography of its own beyond Curve25519: random
 * bytes, HMAC-SHA256, SHA-512 and AES (CBC with PKCS#5 padding, CTR) come
 * from a signal_crypto_provider the application fills in
 * (signal/signal_protocol.h). This one uses OpenSSL's EVP and EVP_MAC
 * interfaces only, none of the calls OpenSSL 3 deprecated (HMAC_CTX_*,
 * which the library's own test provider uses), and returns what the library
 * expects: 0 on success, a negative SG_ERR_* on failure
 * (../shared/notes/deps.md section 4 lists the traps of the known
 * providers). */
#ifndef PREGON_SIGNAL_CRYPTO_H
#define PREGON_SIGNAL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <signal_protocol.h>

/* The provider (a static table; user_data NULL). */
const signal_crypto_provider *signal_crypto_provider_get(void);

/* A signal_context with this provider set, or -1. The caller destroys it
 * (signal_context_destroy). */
int signal_crypto_context(signal_context **out);

/* Standard base64 with padding of n bytes into out (needs 4 * ((n + 2) / 3)
 * + 1 bytes). Returns the length written. */
size_t signal_b64_encode(const uint8_t *in, size_t n, char *out);

/* Decodes standard base64, padded or not (Signal-Server writes keys and
 * signatures without padding: ByteArrayAdapter), into out of out_max
 * bytes. Returns the length, or -1 on a bad or too long input. */
long signal_b64_decode(const char *in, uint8_t *out, size_t out_max);

#endif
