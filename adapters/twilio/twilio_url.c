/* twilio_url.c: the public URL Twilio calls back (see twilio_url.h). */
#include "twilio_url.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The parts of an http(s) URL: scheme length (with "://"), and the host
 * and port spans of its authority. split() returns -1 when it is not
 * http(s), -2 when its authority is not host[:digits] followed by the
 * end, a '/', '?' or '#'. */
struct url_parts {
	bool https;
	size_t scheme_len;		/* "https://" */
	size_t host, host_len;		/* offsets into the URL */
	size_t port, port_len;		/* port 0: no ':' after the host */
	size_t end;			/* the end of the authority */
};

static int split(const char *url, struct url_parts *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	if (strncasecmp(url, "https://", 8) == 0) {
		p->https = true;
		p->scheme_len = 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		p->scheme_len = 7;
	} else {
		return -1;
	}
	i = p->scheme_len;
	p->host = i;
	if (url[i] == '[') {		/* an IPv6 literal (RFC 3986 3.2.2) */
		const char *close = strchr(url + i, ']');

		if (close == NULL)
			return -2;
		i = (size_t)(close - url) + 1;
	} else {
		while (url[i] && url[i] != ':' && url[i] != '/' && url[i] != '?' && url[i] != '#')
			i++;
	}
	p->host_len = i - p->host;
	if (url[i] == ':') {
		p->port = ++i;
		while (isdigit((unsigned char)url[i]))
			i++;
		p->port_len = i - p->port;
	}
	p->end = i;
	if (url[i] != '\0' && url[i] != '/' && url[i] != '?' && url[i] != '#')
		return -2;
	return 0;
}

static bool is_loopback(const char *host, size_t n)
{
	if ((n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
	    (n == 5 && strncmp(host, "[::1]", 5) == 0))
		return true;
	if (n < 7 || strncmp(host, "127.", 4) != 0)
		return false;
	for (size_t i = 4; i < n; i++)
		if (!isdigit((unsigned char)host[i]) && host[i] != '.')
			return false;
	return true;
}

int twilio_url_check(const char *url, struct twilio_url_info *info, struct err *err)
{
	struct url_parts p;

	if (url == NULL || url[0] == '\0')
		return err_set(err, "empty: set the https:// URL Twilio calls back");
	/* user:password@host: Twilio would sign a URL we never see. */
	const char *auth = strstr(url, "://");

	if (auth != NULL && memchr(auth + 3, '@', strcspn(auth + 3, "/?#")) != NULL)
		return err_set(err, "must not carry a user name or password");
	switch (split(url, &p)) {
	case -1:
		return err_set(err, "must be an absolute http:// or https:// URL");
	case -2:
		return err_set(err, "must be scheme://host[:port][/path], nothing else after the host");
	}
	if (p.host_len == 0)
		return err_set(err, "must name a host");
	for (size_t i = p.host; i < p.host + p.host_len; i++) {
		unsigned char c = (unsigned char)url[i];

		if (!isalnum(c) && c != '.' && c != '-' && c != '[' && c != ']' && c != ':' &&
		    c != '_')
			return err_set(err, "host: character 0x%02x not allowed", c);
	}
	if (p.port != 0) {
		long port = 0;

		for (size_t i = p.port; i < p.port + p.port_len && port <= 65535; i++)
			port = port * 10 + (url[i] - '0');
		if (p.port_len == 0 || port < 1 || port > 65535)
			return err_set(err, "port: must be 1..65535");
	}
	for (const char *s = url; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == 0x7f)
			return err_set(err, "must not contain spaces or control characters");
		if (c == '?' || c == '#')
			return err_set(err, "must not have a query or fragment (paths are appended to it)");
	}
	info->https = p.https;
	info->loopback = is_loopback(url + p.host, p.host_len);
	return 0;
}

int twilio_url_other_form(const char *url, char *out, size_t out_len)
{
	struct url_parts p;
	const char *def;
	int n;

	if (url == NULL || out == NULL || out_len == 0 || split(url, &p) != 0 || p.host_len == 0)
		return -1;
	def = p.https ? "443" : "80";
	if (p.port == 0) {
		/* None written: add the default one after the host. */
		n = snprintf(out, out_len, "%.*s:%s%s", (int)p.end, url, def, url + p.end);
	} else if (p.port_len == strlen(def) && strncmp(url + p.port, def, p.port_len) == 0) {
		/* The default one: drop ":443" (the ':' is just before it). */
		n = snprintf(out, out_len, "%.*s%s", (int)(p.port - 1), url, url + p.end);
	} else {
		return -1;
	}
	return n < 0 || (size_t)n >= out_len ? -1 : 0;
}
