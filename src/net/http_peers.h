/* http_peers.h: how many connections each peer address holds, for the
 * listener's per-peer cap (http_server.c, its one user).
 *
 * A peer is an IPv4 address, or an IPv6 /64: one IPv6 host is usually
 * given a whole /64, so counting single IPv6 addresses would give one
 * attacker 2^64 caps. An IPv4-mapped IPv6 address counts as its IPv4
 * address. The table is a hash with chaining whose seed is random per
 * table, so no one can choose addresses that all land in one bucket; an
 * entry lives while its count is above zero, so the table never holds
 * more entries than there are connections. */
#ifndef PREGON_HTTP_PEERS_H
#define PREGON_HTTP_PEERS_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

struct http_peer_key {
	uint8_t b[16];		/* v4: 4 bytes then zeros; v6: the /64 */
	uint8_t family;		/* 4 or 6; 0: unknown (not counted) */
};

struct http_peers;

struct http_peers *http_peers_new(void);
void http_peers_free(struct http_peers *t);

/* The key of an address from getpeername(). */
void http_peer_key_of(const struct sockaddr *sa, struct http_peer_key *k);

/* Counts one more connection of k if it holds fewer than max; returns 0,
 * or -1 when k already holds max (or out of memory: refused as well). An
 * unknown family is never refused nor counted. */
int http_peers_take(struct http_peers *t, const struct http_peer_key *k, size_t max);

/* How many connections k holds. */
size_t http_peers_count(struct http_peers *t, const struct http_peer_key *k);

/* One connection of k is gone. */
void http_peers_give(struct http_peers *t, const struct http_peer_key *k);

#endif
