/* smtp_sink.c: an SMTP server that takes every message and keeps none,
 * as fast as one thread and epoll go, for bench/bench_smtp.py.
 *
 *   cc -O2 -o build/smtp_sink bench/smtp_sink.c
 *   build/smtp_sink PORT        (127.0.0.1; SIGTERM ends it)
 *
 * It answers at once: 220 on connect, EHLO with PIPELINING and 8BITMIME,
 * 250 to MAIL, RCPT, RSET, NOOP, 354 to DATA and 250 at the final ".",
 * 221 to QUIT. Commands that arrive together (pipelined) are answered
 * together, and every read is acknowledged at once (TCP_QUICKACK). No
 * TLS, no AUTH: the bench measures the client, not crypto.
 * "XSTATS" answers "250 <messages> <connections>", for the bench to know
 * when everything arrived without a second channel. Not a real server:
 * line lengths and the command order are not checked. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_MAX 65536

struct conn {
	int fd;
	int in_data;		/* reading the message, until CRLF.CRLF */
	int eob;		/* bytes of "\r\n.\r\n" matched so far */
	size_t len;		/* of the command line being read */
	char line[1024];
	char out[4096];
	size_t out_len;
};

static volatile sig_atomic_t stop;
static unsigned long messages, connections;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void reply(struct conn *c, const char *s)
{
	size_t n = strlen(s);

	if (c->out_len + n <= sizeof(c->out)) {
		memcpy(c->out + c->out_len, s, n);
		c->out_len += n;
	}
}

static void command(struct conn *c)
{
	char buf[64];

	if (strncasecmp(c->line, "EHLO", 4) == 0)
		reply(c, "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n");
	else if (strncasecmp(c->line, "DATA", 4) == 0) {
		reply(c, "354 go ahead\r\n");
		c->in_data = 1;
		c->eob = 2;	/* the DATA line's CRLF counts as the first */
	} else if (strncasecmp(c->line, "QUIT", 4) == 0)
		reply(c, "221 bye\r\n");
	else if (strncasecmp(c->line, "XSTATS", 6) == 0) {
		snprintf(buf, sizeof(buf), "250 %lu %lu\r\n", messages, connections);
		reply(c, buf);
	} else
		reply(c, "250 ok\r\n");
}

/* Feeds bytes; returns -1 when the connection should close. */
static int feed(struct conn *c, const char *p, size_t n)
{
	static const char eob[] = "\r\n.\r\n";

	for (size_t i = 0; i < n; i++) {
		if (c->in_data) {
			if (p[i] == eob[c->eob])
				c->eob++;
			else
				c->eob = p[i] == '\r' ? 1 : 0;
			if (c->eob == 5) {
				c->in_data = 0;
				messages++;
				reply(c, "250 2.0.0 taken\r\n");
			}
			continue;
		}
		if (p[i] == '\n') {
			c->line[c->len] = '\0';
			command(c);
			if (strncasecmp(c->line, "QUIT", 4) == 0)
				return -1;
			c->len = 0;
		} else if (c->len < sizeof(c->line) - 1) {
			c->line[c->len++] = p[i];
		}
	}
	return 0;
}

static void flush_out(struct conn *c)
{
	size_t off = 0;

	while (off < c->out_len) {
		ssize_t w = write(c->fd, c->out + off, c->out_len - off);

		if (w <= 0)
			break;	/* a bench client reads its answers: never full */
		off += (size_t)w;
	}
	c->out_len = 0;
}

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 512) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void accept_all(int ep, int lfd)
{
	for (;;) {
		int one = 1, fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		struct conn *c;
		struct epoll_event ev = { .events = EPOLLIN };

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		connections++;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		reply(c, "220 sink ESMTP\r\n");
		flush_out(c);
	}
}

int main(int argc, char **argv)
{
	struct epoll_event evs[64], lev = { .events = EPOLLIN };
	static char in[IN_MAX];
	int ep, lfd, one = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: smtp_sink PORT\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(atoi(argv[1]));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || ep < 0) {
		perror("smtp_sink");
		return 1;
	}
	lev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
	while (!stop) {
		int n = epoll_wait(ep, evs, 64, 200);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			ssize_t r;

			if (c == NULL) {
				accept_all(ep, lfd);
				continue;
			}
			r = read(c->fd, in, sizeof(in));
			/* ACK at once: a client with Nagle on (Node's default)
			 * holds the end of its message until the last segment
			 * is acknowledged, and a delayed ACK is 40 ms (tcp(7)). */
			setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
			if (r <= 0 || feed(c, in, (size_t)r) != 0) {
				flush_out(c);
				close(c->fd);	/* also leaves the epoll set */
				free(c);
				continue;
			}
			flush_out(c);
		}
	}
	printf("messages %lu connections %lu\n", messages, connections);
	return 0;
}
