/* tokens.c: the API's bearer tokens (api_tokens.h). */
#include "api_tokens.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

struct api_token {
	unsigned char hash[32];
	enum api_role role;
};

struct api_tokens {
	size_t n;
	struct api_token v[];
};

const char *api_role_name(enum api_role r)
{
	switch (r) {
	case API_ROLE_READ: return "read";
	case API_ROLE_STANDARD: return "standard";
	case API_ROLE_ADMIN: return "admin";
	default: return "none";
	}
}

static int sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int api_tokens_parse(const char *text, size_t len, struct api_tokens **out, struct err *err)
{
	struct api_tokens *t;
	size_t cap = 0, line_no = 0;
	const char *p = text, *end = text + len;

	*out = NULL;
	for (const char *q = text; q < end; q++)
		cap += *q == '\n';
	cap++;
	if (cap > API_TOKENS_MAX)
		cap = API_TOKENS_MAX;
	t = calloc(1, sizeof(*t) + cap * sizeof(t->v[0]));
	if (t == NULL)
		return err_set(err, "out of memory");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
		const char *tok, *tok_end, *role, *role_end;
		enum api_role r = API_ROLE_STANDARD;

		line_no++;
		while (p < eol && is_space(*p))
			p++;
		if (p == eol || *p == '#') {
			p = nl ? nl + 1 : end;
			continue;
		}
		tok = p;
		while (p < eol && !is_space(*p))
			p++;
		tok_end = p;
		while (p < eol && is_space(*p))
			p++;
		role = p;
		while (p < eol && !is_space(*p))
			p++;
		role_end = p;
		while (p < eol && is_space(*p))
			p++;
		if (p != eol) {
			free(t);
			return err_set(err, "line %zu: a token and at most one role", line_no);
		}
		if ((size_t)(tok_end - tok) < API_TOKEN_MIN || (size_t)(tok_end - tok) > API_TOKEN_MAX) {
			free(t);
			return err_set(err, "line %zu: a token has %d to %d characters", line_no,
				       API_TOKEN_MIN, API_TOKEN_MAX);
		}
		for (const char *c = tok; c < tok_end; c++)
			if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e) {
				free(t);
				return err_set(err, "line %zu: a token is printable ASCII", line_no);
			}
		if (role_end - role == 5 && memcmp(role, "admin", 5) == 0)
			r = API_ROLE_ADMIN;
		else if (role_end - role == 4 && memcmp(role, "read", 4) == 0)
			r = API_ROLE_READ;
		else if (role_end != role) {
			free(t);
			return err_set(err, "line %zu: unknown role \"%.*s\" (admin or read, or none)",
				       line_no, (int)(role_end - role > 16 ? 16 : role_end - role), role);
		}
		if (t->n == cap) {
			free(t);
			return err_set(err, "more than %d tokens", API_TOKENS_MAX);
		}
		if (sha256(tok, (size_t)(tok_end - tok), t->v[t->n].hash) != 0) {
			free(t);
			return err_set(err, "SHA-256 unavailable");
		}
		t->v[t->n++].role = r;
		p = nl ? nl + 1 : end;
	}
	*out = t;
	return 0;
}

int api_tokens_load(const char *path, struct api_tokens **out, struct err *err)
{
	char *buf = malloc(API_TOKENS_FILE_MAX + 1);
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	*out = NULL;
	if (buf == NULL)
		return err_set(err, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return err_set(err, "%s: %s", path, strerror(errno));
	}
	while (len <= API_TOKENS_FILE_MAX &&
	       (n = read(fd, buf + len, API_TOKENS_FILE_MAX + 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (len > API_TOKENS_FILE_MAX) {
		free(buf);
		return err_set(err, "%s: larger than %d bytes", path, API_TOKENS_FILE_MAX);
	}
	rc = api_tokens_parse(buf, len, out, err);
	OPENSSL_cleanse(buf, len);	/* the tokens themselves are not kept */
	free(buf);
	if (rc != 0) {
		char msg[ERR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		err_set(err, "%s: %s", path, msg);
	}
	return rc;
}

enum api_role api_tokens_check(const struct api_tokens *t, const char *token, size_t len)
{
	unsigned char h[32];
	enum api_role found = API_ROLE_NONE;

	if (t == NULL || len < API_TOKEN_MIN || len > API_TOKEN_MAX || sha256(token, len, h) != 0)
		return API_ROLE_NONE;
	/* Every entry is compared, whatever matched. */
	for (size_t i = 0; i < t->n; i++) {
		int same = CRYPTO_memcmp(h, t->v[i].hash, sizeof(h)) == 0;

		found = same && found == API_ROLE_NONE ? t->v[i].role : found;
	}
	return found;
}

size_t api_tokens_count(const struct api_tokens *t)
{
	return t ? t->n : 0;
}

void api_tokens_free(struct api_tokens *t)
{
	free(t);
}
