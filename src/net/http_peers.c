/* http_peers.c: connections per peer address (see http_peers.h). */
#include "http_peers.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>

#define N_BUCKETS 1024	/* a power of two; chains stay short up to ~4k peers */

struct peer {
	struct http_peer_key k;
	size_t count;
	struct peer *next;
};

struct http_peers {
	uint64_t seed;
	struct peer *bucket[N_BUCKETS];
};

struct http_peers *http_peers_new(void)
{
	struct http_peers *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	/* Unguessable, so that a stranger cannot pick addresses that share
	 * a bucket; a weak seed only costs speed, never correctness. */
	if (uv_random(NULL, NULL, &t->seed, sizeof(t->seed), 0, NULL) != 0)
		t->seed = uv_hrtime();
	return t;
}

void http_peers_free(struct http_peers *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < N_BUCKETS; i++) {
		struct peer *p = t->bucket[i], *next;

		for (; p != NULL; p = next) {
			next = p->next;
			free(p);
		}
	}
	free(t);
}

void http_peer_key_of(const struct sockaddr *sa, struct http_peer_key *k)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		memcpy(k->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		k->family = 4;
	} else if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memcpy(k->b, a + 12, 4);
			k->family = 4;
		} else {
			memcpy(k->b, a, 8);	/* the /64 */
			k->family = 6;
		}
	}
}

/* FNV-1a over the key, started from the table's seed. */
static size_t bucket_of(const struct http_peers *t, const struct http_peer_key *k)
{
	uint64_t h = 1469598103934665603ULL ^ t->seed;
	size_t i;

	for (i = 0; i < sizeof(k->b); i++)
		h = (h ^ k->b[i]) * 1099511628211ULL;
	h = (h ^ k->family) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32)) & (N_BUCKETS - 1);
}

static struct peer **find(struct http_peers *t, const struct http_peer_key *k)
{
	struct peer **pp = &t->bucket[bucket_of(t, k)];

	while (*pp != NULL && !((*pp)->k.family == k->family &&
				memcmp((*pp)->k.b, k->b, sizeof(k->b)) == 0))
		pp = &(*pp)->next;
	return pp;
}

int http_peers_take(struct http_peers *t, const struct http_peer_key *k, size_t max)
{
	struct peer **pp, *p;

	if (k->family == 0)
		return 0;
	pp = find(t, k);
	if (*pp != NULL) {
		if ((*pp)->count >= max)
			return -1;
		(*pp)->count++;
		return 0;
	}
	if (max == 0)
		return -1;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -1;
	p->k = *k;
	p->count = 1;
	*pp = p;
	return 0;
}

size_t http_peers_count(struct http_peers *t, const struct http_peer_key *k)
{
	struct peer **pp;

	if (k->family == 0)
		return 0;
	pp = find(t, k);
	return *pp != NULL ? (*pp)->count : 0;
}

void http_peers_give(struct http_peers *t, const struct http_peer_key *k)
{
	struct peer **pp, *p;

	if (k->family == 0)
		return;
	pp = find(t, k);
	p = *pp;
	if (p == NULL)
		return;
	if (--p->count == 0) {
		*pp = p->next;
		free(p);
	}
}
