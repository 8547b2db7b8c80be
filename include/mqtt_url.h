/* mqtt_url.h: [mqtt] url, parsed (like redis_url.h for [redis] url).
 *
 * mqtt://host[:port] (1883) or mqtts://host[:port] (8883); an IPv6 literal
 * goes in brackets. User names and passwords have keys of their own
 * ([mqtt] username, password_file) and are refused here, so that a
 * password never sits in a url that is logged or echoed. */
#ifndef PREGON_MQTT_URL_H
#define PREGON_MQTT_URL_H

#include <stdbool.h>

#include "err.h"

struct mqtt_url {
	char host[256];
	int port;
	bool tls;
};

/* Returns 0, or -1 with err naming the problem (without the key). */
int mqtt_url_parse(const char *url, struct mqtt_url *out, struct err *err);

#endif
