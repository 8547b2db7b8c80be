/* mqtt_url.c: [mqtt] url (see mqtt_url.h). */
#include "mqtt_url.h"

#include <stdlib.h>
#include <string.h>

int mqtt_url_parse(const char *url, struct mqtt_url *out, struct err *err)
{
	const char *p, *host, *host_end, *port_s = NULL;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (strncmp(url, "mqtt://", 7) == 0) {
		p = url + 7;
		out->port = 1883;
	} else if (strncmp(url, "mqtts://", 8) == 0) {
		p = url + 8;
		out->port = 8883;
		out->tls = true;
	} else {
		return err_set(err, "must be mqtt://host[:port] or mqtts://host[:port], got \"%.60s\"",
			       url);
	}
	if (memchr(p, '@', strcspn(p, "/?#")) != NULL)
		/* Not echoed: it would print the password. */
		return err_set(err, "user names and passwords go in [mqtt] username and "
			       "password_file, not in the url");
	if (*p == '[') {
		host = p + 1;
		host_end = strchr(host, ']');
		if (host_end == NULL)
			return err_set(err, "unclosed '[' in \"%.60s\"", url);
		p = host_end + 1;
	} else {
		host = p;
		host_end = p + strcspn(p, ":/?#@");
		p = host_end;
	}
	if (*p == ':') {
		port_s = p + 1;
		p = port_s + strspn(port_s, "0123456789");
		if (p == port_s)
			return err_set(err, "port must be a number in \"%.60s\"", url);
	}
	if (*p == '/' && p[1] == '\0')
		p++;	/* a trailing slash is harmless */
	if (*p != '\0')
		return err_set(err, "unexpected \"%.20s\" in \"%.60s\" (user names and "
			       "passwords go in [mqtt] username and password_file)", p, url);
	hlen = (size_t)(host_end - host);
	if (hlen == 0)
		return err_set(err, "no host in \"%.60s\"", url);
	if (hlen >= sizeof(out->host))
		return err_set(err, "host name too long");
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	if (port_s != NULL) {
		long v = strtol(port_s, NULL, 10);

		if (v < 1 || v > 65535)
			return err_set(err, "port must be 1..65535 in \"%.60s\"", url);
		out->port = (int)v;
	}
	return 0;
}
