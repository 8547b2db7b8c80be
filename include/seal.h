/* seal.h: the tokens in the links pregon puts in messages.
 *
 * Two kinds (issue 14):
 * - a sealed token carries a short text (the address a one-click
 *   unsubscribe link opts out) encrypted and authenticated with a key only
 *   pregon holds (AES-256-GCM; the purpose is the associated data, so a
 *   token made for one use is refused by another). A link in an email may
 *   be followed years later, after every record of the message expired,
 *   so the token holds what the endpoint needs; and encrypted, because the
 *   URL passes through proxies' and mail scanners' logs, which must not
 *   learn the address.
 * - a random token (16 bytes from the OS's generator) names a record kept
 *   in Redis (a tracked join link: the message it was sent in), which the
 *   endpoint looks up; unguessable, and revoked by deleting the record.
 * Both are base64url without padding, so they sit in a path segment as
 * they are. */
#ifndef PREGON_SEAL_H
#define PREGON_SEAL_H

#include <stddef.h>

#define SEAL_KEY_LEN 32
#define SEAL_RANDOM_LEN 22	/* 16 bytes in base64url */
#define SEAL_PLAIN_MAX 320	/* longest text sealed (an address: 254) */
#define SEAL_TOKEN_MAX 512	/* longest token made or opened */

/* Seals plain (at most SEAL_PLAIN_MAX bytes) for purpose ("unsubscribe")
 * into out. Returns 0, or -1 (too long, out too small, no randomness). */
int seal_make(const unsigned char key[SEAL_KEY_LEN], const char *purpose, const char *plain,
	      char *out, size_t out_len);

/* Opens a token made by seal_make with the same key and purpose. Returns
 * 0 with the text in plain (NUL-terminated), or -1 for anything else: a
 * malformed, truncated, altered or foreign token, another purpose. */
int seal_open(const unsigned char key[SEAL_KEY_LEN], const char *purpose, const char *token,
	      char *plain, size_t plain_len);

/* A random token of SEAL_RANDOM_LEN characters into out (at least
 * SEAL_RANDOM_LEN + 1 bytes). Returns 0, or -1 without randomness. */
int seal_random(char *out, size_t out_len);

/* True when s has the shape of a random token (so that a lookup is made
 * only for one that could exist). */
int seal_random_shaped(const char *s);

/* base64url without padding: encodes n bytes into out (needs 4n/3 + 2
 * bytes); returns the length. Decodes into out (at most out_len bytes);
 * returns the length, or -1 for a character outside the alphabet, a
 * length no encoding has, or too little room. */
size_t seal_b64url_encode(const unsigned char *in, size_t n, char *out);
long seal_b64url_decode(const char *in, size_t n, unsigned char *out, size_t out_len);

#endif
