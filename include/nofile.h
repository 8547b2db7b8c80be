/* nofile.h: the open-file limit, and whether the HTTP listener's
 * connections fit under it.
 *
 * Every client socket is a descriptor. Under a flood of connections, a
 * listener allowed as many sockets as the process may open takes the
 * descriptors Redis, MQTT, the outbox, the log, the templates and the
 * providers need: SIGHUP then cannot reopen the log (seen in issue 12 with
 * nofile=1024). So pregond raises its soft limit to the hard one at start
 * and refuses a config whose connection cap, plus what is kept for the
 * rest, does not fit. */
#ifndef PREGON_NOFILE_H
#define PREGON_NOFILE_H

#include "err.h"

/* Descriptors kept for everything but the listener's connections and
 * the providers' sockets: stdio, the log, the loop's own (epoll, signal
 * pipe, async), the listener, four Redis and two MQTT connections, one
 * outbox file per channel, the templates read on SIGHUP, the thread
 * pool's files and resolver, with room to spare. */
#define NOFILE_RESERVE_BASE 64

/* Raises the soft RLIMIT_NOFILE to the hard limit (if that fails, leaves
 * it). Returns the soft limit then in force, or -1 if it cannot be read;
 * an unlimited one is returned as LONG_MAX. */
long nofile_raise(void);

/* Whether max_connections client sockets (plus one: a newcomer is
 * accepted before it is refused) and reserve other descriptors fit in
 * limit. Returns 0, or -1 with err naming [http] max_connections. */
int nofile_check(long max_connections, long reserve, long limit, struct err *err);

#endif
