/* http_client.c: HTTP requests on curl_loop.
 *
 * Everything protocol-specific lives here: request validation and copying,
 * headers and basic auth, the bounded response buffer, Retry-After, and
 * the mapping of libcurl's codes to enum http_error. */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "curl_loop.h"
#include "util.h"

#define DEFAULT_HOST_CONNS	32
#define DEFAULT_TOTAL_CONNS	256
#define DEFAULT_CONNECT_MS	5000
#define DEFAULT_TIMEOUT_MS	30000
#define DEFAULT_MAX_RESPONSE	(1024 * 1024)

/* Input bounds. Provider URLs and headers are short; these stop a broken
 * caller from handing libcurl megabytes of header or a month-long wait. */
#define CONNS_MAX		10000L
#define TIMEOUT_MAX_MS		(10 * 60 * 1000)
#define URL_MAX			8192
#define HEADER_MAX		8192
#define HEADERS_MAX		64
#define METHOD_MAX		16
#define CRED_MAX		1024
#define BODY_MAX		((size_t)16 * 1024 * 1024)
#define RESPONSE_MAX		((size_t)64 * 1024 * 1024)
/* A provider asking for more than a day is broken or hostile; callers
 * still get a usable (long) wait instead of a year. */
#define RETRY_AFTER_MAX_MS	((int64_t)24 * 3600 * 1000)

struct http_client {
	struct curl_loop *cl;
	long max_host_connections;
	long max_total_connections;
	int64_t connect_timeout_ms;
	size_t active;
	int closing;
	void (*closed)(void *data);
	void *closed_data;
};

struct http_call {
	struct http_client *c;
	CURL *easy;
	struct curl_slist *headers;
	http_done_cb done;
	void *data;
	uint64_t start_ns;
	int cancelled;			/* http_call_cancel() was called */
	struct buf body;		/* the response, up to max_response_bytes */
	int too_big;
	int64_t retry_after_ms;
	char errbuf[CURL_ERROR_SIZE];
};

/* ---- Retry-After (RFC 9110 10.2.3) ---- */

static int64_t clamp_ms(int64_t ms)
{
	if (ms < 0)
		return 0;
	return ms > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : ms;
}

static int parse_2digits(const char *p)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 5.6.7): the
 * form every current server sends. Returns -1 when v is anything else. */
static int64_t parse_imf_fixdate(const char *v, size_t n)
{
	static const char days[] = "MonTueWedThuFriSatSun";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm = {0};
	const char *m;
	int year_hi, year_lo;
	time_t t;

	if (n != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' ||
	    v[16] != ' ' || v[19] != ':' || v[22] != ':' || memcmp(v + 25, " GMT", 4) != 0)
		return -1;
	m = days;
	while (*m != '\0' && memcmp(m, v, 3) != 0)
		m += 3;
	if (*m == '\0')
		return -1;
	m = months;
	while (*m != '\0' && memcmp(m, v + 8, 3) != 0)
		m += 3;
	if (*m == '\0')
		return -1;
	tm.tm_mon = (int)(m - months) / 3;
	tm.tm_mday = parse_2digits(v + 5);
	year_hi = parse_2digits(v + 12);
	year_lo = parse_2digits(v + 14);
	tm.tm_hour = parse_2digits(v + 17);
	tm.tm_min = parse_2digits(v + 20);
	tm.tm_sec = parse_2digits(v + 23);
	if (tm.tm_mday < 1 || tm.tm_mday > 31 || year_hi < 0 || year_lo < 0 ||
	    tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 ||
	    tm.tm_sec < 0 || tm.tm_sec > 60)
		return -1;
	tm.tm_year = year_hi * 100 + year_lo - 1900;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return (int64_t)t;
}

/* Milliseconds from now_ms, clamped to 0..RETRY_AFTER_MAX_MS, or -1 for a
 * value that is neither delta-seconds nor an IMF-fixdate. */
static int64_t retry_after_parse(const char *v, size_t n, int64_t now_ms)
{
	int64_t secs = 0, t;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
		/* Saturate: 20 digits of seconds is as "too long" as 6. */
		if (secs <= RETRY_AFTER_MAX_MS / 1000)
			secs = secs * 10 + (v[i] - '0');
	if (i == n)
		return clamp_ms(secs * 1000);
	t = parse_imf_fixdate(v, n);
	if (t < 0)
		return -1;
	return clamp_ms(t * 1000 - now_ms);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- libcurl callbacks ---- */

static size_t on_header(char *line, size_t size, size_t nitems, void *userp)
{
	static const char name[] = "retry-after:";
	struct http_call *call = userp;
	size_t n = size * nitems, len = n;
	const char *v;

	/* A new status line starts a new response (1xx, proxy CONNECT):
	 * only the final response's headers count. */
	if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		call->retry_after_ms = -1;
		return n;
	}
	if (n < sizeof(name) - 1 || strncasecmp(line, name, sizeof(name) - 1) != 0)
		return n;
	v = line + sizeof(name) - 1;
	len -= sizeof(name) - 1;
	while (len > 0 && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' ||
			   v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	call->retry_after_ms = retry_after_parse(v, len, wall_ms());
	return n;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct http_call *call = userp;
	size_t n = size * nmemb;
	int rc = buf_add(&call->body, ptr, n);

	/* Returning short makes libcurl stop with CURLE_WRITE_ERROR. */
	if (rc == -E2BIG)
		call->too_big = 1;
	return rc == 0 ? n : 0;
}

/* ---- calls ---- */

static void call_free(struct http_call *call)
{
	if (call->easy != NULL)
		curl_easy_cleanup(call->easy);
	curl_slist_free_all(call->headers);
	buf_free(&call->body);
	free(call);
}

static enum http_error map_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return HTTP_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_ERR_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return HTTP_ERR_CONNECT;
	default:
		return HTTP_ERR_TRANSFER;
	}
}

static void on_call_done(void *data, CURL *easy, CURLcode rc)
{
	struct http_call *call = data;
	struct http_client *c = call->c;
	struct http_response res = {0};

	/* cancelled also covers a call cancelled from another done callback
	 * after libcurl had finished it but before its own done ran. */
	res.error = call->cancelled || rc == CURL_LOOP_CANCELLED ? HTTP_ERR_CANCELLED
		  : call->too_big ? HTTP_ERR_TOO_BIG : map_error(rc);
	res.body = "";
	res.retry_after_ms = -1;
	res.elapsed_ms = (double)(uv_hrtime() - call->start_ns) / 1e6;
	if (res.error == HTTP_OK) {
		char *ct = NULL;

		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res.status);
		curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
		res.content_type = ct;
		if (call->body.p != NULL)
			res.body = call->body.p;
		res.body_len = call->body.len;
		res.retry_after_ms = call->retry_after_ms;
	} else if (res.error == HTTP_ERR_CANCELLED) {
		snprintf(res.error_text, sizeof(res.error_text), "cancelled");
	} else if (res.error == HTTP_ERR_TOO_BIG) {
		snprintf(res.error_text, sizeof(res.error_text),
			 "response body over %zu bytes", call->body.max);
	} else {
		snprintf(res.error_text, sizeof(res.error_text), "%s",
			 call->errbuf[0] != '\0' ? call->errbuf : curl_easy_strerror(rc));
	}

	c->active--;
	call->done(call->data, &res);
	call_free(call);
}

/* RFC 9110 5.6.2 token characters: what a method may be made of. */
static bool is_token(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (n >= max || s[n] <= ' ' || s[n] >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", s[n]))
			return false;
	return n > 0;
}

/* NULL when fine, else what is wrong. CR or LF inside a header or
 * credential would let a caller's data split the request. */
static const char *bounded_line(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return "too long";
	if (strpbrk(s, "\r\n") != NULL)
		return "contains CR or LF";
	return NULL;
}

static int request_check(const struct http_request *req, struct err *err)
{
	const char *why;
	size_t i;

	if (req->method == NULL || !is_token(req->method, METHOD_MAX))
		return err_set(err, "method: must be an HTTP token of 1..%d characters", METHOD_MAX);
	if (req->url == NULL)
		return err_set(err, "url: missing");
	if ((why = bounded_line(req->url, URL_MAX)) != NULL)
		return err_set(err, "url: %s", why);
	if (strncasecmp(req->url, "http://", 7) != 0 && strncasecmp(req->url, "https://", 8) != 0)
		return err_set(err, "url: must be http:// or https://");
	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		if (i >= HEADERS_MAX)
			return err_set(err, "headers: more than %d", HEADERS_MAX);
		if ((why = bounded_line(req->headers[i], HEADER_MAX)) != NULL)
			return err_set(err, "headers[%zu]: %s", i, why);
		if (strchr(req->headers[i], ':') == NULL || req->headers[i][0] == ':')
			return err_set(err, "headers[%zu]: must be \"Name: value\"", i);
	}
	if (req->body == NULL && req->body_len > 0)
		return err_set(err, "body: NULL with body_len %zu", req->body_len);
	if (req->body_len > BODY_MAX)
		return err_set(err, "body: over %zu bytes", BODY_MAX);
	if (req->username != NULL && (why = bounded_line(req->username, CRED_MAX)) != NULL)
		return err_set(err, "username: %s", why);
	if (req->password != NULL && (why = bounded_line(req->password, CRED_MAX)) != NULL)
		return err_set(err, "password: %s", why);
	if (req->timeout_ms < 0 || req->timeout_ms > TIMEOUT_MAX_MS)
		return err_set(err, "timeout_ms: must be 0..%d, got %lld", TIMEOUT_MAX_MS,
			       (long long)req->timeout_ms);
	if (req->max_response_bytes > RESPONSE_MAX)
		return err_set(err, "max_response_bytes: must be 0..%zu, got %zu",
			       RESPONSE_MAX, req->max_response_bytes);
	return 0;
}

static bool has_header(const struct http_request *req, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++)
		if (strncasecmp(req->headers[i], name, n) == 0 && req->headers[i][n] == ':')
			return true;
	return false;
}

/* libcurl copies every string option set here (CURLOPT_URL and friends
 * since 7.17, CURLOPT_COPYPOSTFIELDS by name); the header list is ours. */
static int call_setup(struct http_call *call, const struct http_request *req, struct err *err)
{
	struct http_client *c = call->c;
	CURL *e = call->easy;
	int ok = 1;

	for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		struct curl_slist *l = curl_slist_append(call->headers, req->headers[i]);

		if (l == NULL)
			return err_set(err, "headers: out of memory");
		call->headers = l;
	}
	/* libcurl sends "Expect: 100-continue" for larger bodies and waits up
	 * to a second for a 100 that many API servers never send. */
	if (req->body_len > 0 && !has_header(req, "Expect")) {
		struct curl_slist *l = curl_slist_append(call->headers, "Expect:");

		if (l == NULL)
			return err_set(err, "headers: out of memory");
		call->headers = l;
	}

	ok &= curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, "pregon") == CURLE_OK;
	/* Host names need nothing of ours: Debian's libcurl 7.88.1 resolves in
	 * its own threads (AsynchDNS) and tries every address, IPv6 and IPv4
	 * raced ("happy eyeballs", CURLOPT_HAPPY_EYEBALLS_TIMEOUT_MS, 200 ms)
	 * and the next of a family when one fails, all within this timeout; it
	 * answers "localhost" itself with the loopback addresses (RFC 6761).
	 * tests/integration/test_localhost.py checks a provider on 127.0.0.1
	 * named by a host whose first address, ::1, refuses. */
	ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
			       (long)(req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS)) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, call) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HEADERDATA, call) == CURLE_OK;
	if (req->unix_socket != NULL)
		ok &= curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket) == CURLE_OK;
	if (req->username != NULL) {
		ok &= curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) == CURLE_OK;
		ok &= curl_easy_setopt(e, CURLOPT_USERNAME, req->username) == CURLE_OK;
		ok &= curl_easy_setopt(e, CURLOPT_PASSWORD,
				       req->password ? req->password : "") == CURLE_OK;
	}
	if (strcmp(req->method, "GET") == 0 && req->body_len == 0) {
		ok &= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	} else if (strcmp(req->method, "HEAD") == 0 && req->body_len == 0) {
		ok &= curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK;
	} else {
		if (req->body_len > 0 || strcmp(req->method, "POST") == 0) {
			/* Size first: COPYPOSTFIELDS copies that many bytes,
			 * so a body may hold NULs. */
			ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
					       (curl_off_t)req->body_len) == CURLE_OK;
			ok &= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS,
					       req->body_len ? req->body : "") == CURLE_OK;
		}
		if (strcmp(req->method, "POST") != 0)
			ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method) == CURLE_OK;
	}
	if (!ok)
		return err_set(err, "curl: setting up the request failed (out of memory?)");
	return 0;
}

/* ---- the interface ---- */

const char *http_error_words(enum http_error e)
{
	switch (e) {
	case HTTP_OK: return "ok";
	case HTTP_ERR_TIMEOUT: return "timed out";
	case HTTP_ERR_CONNECT: return "cannot connect";
	case HTTP_ERR_TOO_BIG: return "answer too big";
	case HTTP_ERR_CANCELLED: return "cancelled (shutting down)";
	case HTTP_ERR_TRANSFER: break;
	}
	return "connection failed";
}

static int opt_check(long v, long max, const char *name, struct err *err)
{
	if (v < 0 || v > max)
		return err_set(err, "%s: must be 0..%ld, got %ld", name, max, v);
	return 0;
}

int http_client_new(struct http_client **out, uv_loop_t *loop,
		    const struct http_client_opts *opts, struct err *err)
{
	const struct http_client_opts none = {0};
	struct curl_loop_opts lo = {0};
	struct http_client *c;

	*out = NULL;
	if (opts == NULL)
		opts = &none;
	if (opt_check(opts->max_host_connections, CONNS_MAX, "max_host_connections", err) != 0 ||
	    opt_check(opts->max_total_connections, CONNS_MAX, "max_total_connections", err) != 0)
		return -1;
	if (opts->connect_timeout_ms < 0 || opts->connect_timeout_ms > TIMEOUT_MAX_MS)
		return err_set(err, "connect_timeout_ms: must be 0..%d, got %lld",
			       TIMEOUT_MAX_MS, (long long)opts->connect_timeout_ms);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return err_set(err, "http: out of memory");
	c->max_host_connections = opts->max_host_connections ? opts->max_host_connections
							      : DEFAULT_HOST_CONNS;
	c->max_total_connections = opts->max_total_connections ? opts->max_total_connections
								: DEFAULT_TOTAL_CONNS;
	c->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms
							  : DEFAULT_CONNECT_MS;
	lo.max_host_connections = c->max_host_connections;
	lo.max_total_connections = c->max_total_connections;
	if (curl_loop_new(&c->cl, loop, &lo, err) != 0) {
		free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int http_client_request(struct http_client *c, const struct http_request *req,
			http_done_cb done, void *data, struct http_call **call_out,
			struct err *err)
{
	struct http_call *call;

	if (call_out != NULL)
		*call_out = NULL;
	if (c->closing)
		return err_set(err, "http: client closing");
	if (done == NULL)
		return err_set(err, "http: no done callback");
	if (request_check(req, err) != 0)
		return -1;
	call = calloc(1, sizeof(*call));
	if (call == NULL)
		return err_set(err, "http: out of memory");
	call->c = c;
	call->done = done;
	call->data = data;
	call->retry_after_ms = -1;
	call->body.max = req->max_response_bytes ? req->max_response_bytes : DEFAULT_MAX_RESPONSE;
	call->easy = curl_easy_init();
	if (call->easy == NULL) {
		call_free(call);
		return err_set(err, "http: curl_easy_init failed");
	}
	if (call_setup(call, req, err) != 0) {
		call_free(call);
		return -1;
	}
	call->start_ns = uv_hrtime();
	if (curl_loop_add(c->cl, call->easy, on_call_done, call, err) != 0) {
		call_free(call);
		return -1;
	}
	c->active++;
	if (call_out != NULL)
		*call_out = call;
	return 0;
}

struct curl_loop *http_client_curl_loop(struct http_client *c)
{
	return c->cl;
}

void http_call_cancel(struct http_call *call)
{
	call->cancelled = 1;
	curl_loop_cancel(call->c->cl, call->easy);
}

size_t http_client_active(const struct http_client *c)
{
	return c->active;
}

static void on_loop_closed(void *data)
{
	struct http_client *c = data;

	if (c->closed != NULL)
		c->closed(c->closed_data);
	free(c);
}

void http_client_close(struct http_client *c, void (*closed)(void *data), void *data)
{
	if (c->closing)
		return;
	c->closing = 1;
	c->closed = closed;
	c->closed_data = data;
	/* curl_loop completes every transfer still held with
	 * CURL_LOOP_CANCELLED, which on_call_done reports as such. */
	curl_loop_close(c->cl, on_loop_closed, c);
}

/* The host of an http:// URL is on this machine: localhost (libcurl
 * answers it with the loopback addresses itself, without asking the
 * resolver), an IPv4 address in 127.0.0.0/8 (RFC 1122 3.2.1.3) or [::1]. */
static bool host_is_loopback(const char *host, size_t len)
{
	char buf[64];
	struct in_addr a4;
	struct in6_addr a6;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (strcasecmp(buf, "localhost") == 0 || strcasecmp(buf, "localhost.") == 0)
		return true;
	if (inet_pton(AF_INET, buf, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (len > 2 && buf[0] == '[' && buf[len - 1] == ']') {
		buf[len - 1] = '\0';
		return inet_pton(AF_INET6, buf + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return false;
}

/* A host name (not an address) whose every address is a loopback one: a
 * name the machine's /etc/hosts gives to itself. Resolved with a blocking
 * getaddrinfo, which is why http_url_check_transport runs at start,
 * before the loop; https:// URLs, the production case, are never looked
 * up here. A name that does not resolve is not known to be this machine. */
static bool name_is_loopback(const char *host, size_t len)
{
	char buf[256];
	struct addrinfo hints, *res = NULL;
	unsigned char a[sizeof(struct in6_addr)];
	bool all = true;

	if (len == 0 || len >= sizeof(buf) || host[0] == '[')
		return false;
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1)
		return false;	/* an address, and not a loopback one */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(buf, NULL, &hints, &res) != 0 || res == NULL)
		return false;
	for (struct addrinfo *ai = res; ai != NULL && all; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			all = (ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
		else if (ai->ai_family == AF_INET6)
			all = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
		else
			all = false;
	}
	freeaddrinfo(res);
	return all;
}

int http_url_check_transport(const char *url, struct err *err)
{
	const char *host, *end, *at;
	size_t len;

	if (strncasecmp(url, "https://", 8) == 0)
		return url[8] != '\0' ? 0 : err_set(err, "no host after https://");
	if (strncasecmp(url, "http://", 7) != 0)
		return err_set(err, "must start with https:// (or http:// to this machine, for tests)");
	host = url + 7;
	end = host + strcspn(host, "/?#");
	/* user:password@ before the host: the host is after the last '@'. */
	for (at = host; (at = memchr(at, '@', (size_t)(end - at))) != NULL; host = ++at)
		;
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));

		len = close != NULL ? (size_t)(close - host) + 1 : (size_t)(end - host);
	} else {
		len = strcspn(host, ":/?#");
		if (host + len > end)
			len = (size_t)(end - host);
	}
	if (host_is_loopback(host, len) || name_is_loopback(host, len))
		return 0;
	return err_set(err, "http:// is allowed only to this machine (127.0.0.1, [::1], "
		       "localhost, or a name whose every address is one of these): the "
		       "credentials and messages would cross the network unencrypted; use https://");
}
