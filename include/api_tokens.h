/* api_tokens.h: who may use the JSON API and the dashboard.
 *
 * [http] tokens_file holds one bearer token a line, optionally followed by
 * a role (CONTRACT.md section 4, 1.1):
 *
 *   # comments and blank lines are skipped
 *   3f9c...e1            a token without a role: the API (send jobs, read)
 *   77ab...02 admin      also addresses (?reveal=1) and free-text replies
 *   c0de...99 read       reading only: the dashboard's token
 *
 * A token is 16 to 256 printable ASCII characters without spaces. Only a
 * SHA-256 of each is kept in memory, and a presented token is compared
 * with every one of them in constant time (CRYPTO_memcmp, no early exit),
 * so neither the answer's timing nor a core dump gives a token away. */
#ifndef PREGON_API_TOKENS_H
#define PREGON_API_TOKENS_H

#include <stddef.h>

#include "err.h"

#define API_TOKEN_MIN 16
#define API_TOKEN_MAX 256
#define API_TOKENS_MAX 4096		/* lines of the file that are tokens */
#define API_TOKENS_FILE_MAX (1 << 20)	/* bytes read of the file */

enum api_role {
	API_ROLE_NONE = 0,	/* not a token of ours */
	API_ROLE_READ,		/* GET only */
	API_ROLE_STANDARD,	/* GET and POST /v1/jobs */
	API_ROLE_ADMIN,		/* and addresses, free-text replies */
};

struct api_tokens;

/* Parses the text of a tokens file. Returns 0 with *out (free with
 * api_tokens_free; an empty set when the file has no token), or -1 with
 * err naming the line ("line 3: unknown role \"writer\" (admin or read)"),
 * never quoting a token. */
int api_tokens_parse(const char *text, size_t len, struct api_tokens **out, struct err *err);

/* Reads and parses the file at path (blocking: at start, or in the
 * thread pool). */
int api_tokens_load(const char *path, struct api_tokens **out, struct err *err);

/* The role of a presented token (len bytes), API_ROLE_NONE if none. */
enum api_role api_tokens_check(const struct api_tokens *t, const char *token, size_t len);

size_t api_tokens_count(const struct api_tokens *t);
void api_tokens_free(struct api_tokens *t);

const char *api_role_name(enum api_role r);

#endif
