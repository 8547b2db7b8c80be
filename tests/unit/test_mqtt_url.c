/* test_mqtt_url.c: [mqtt] url parsing and the [mqtt] section's checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "config.h"
#include "mqtt_conn.h"

static void expect_reject(const char *url, const char *needle)
{
	struct mqtt_url u;
	struct err err = { "" };

	assert_int_equal(mqtt_url_parse(url, &u, &err), -1);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("url %s: error \"%s\" does not mention \"%s\"", url, err.msg, needle);
}

static void url_defaults_ports_by_scheme(void **state)
{
	struct mqtt_url u;
	struct err err;

	(void)state;
	assert_int_equal(mqtt_url_parse("mqtt://broker.example.org", &u, &err), 0);
	assert_string_equal(u.host, "broker.example.org");
	assert_int_equal(u.port, 1883);
	assert_false(u.tls);
	assert_int_equal(mqtt_url_parse("mqtts://broker.example.org/", &u, &err), 0);
	assert_int_equal(u.port, 8883);
	assert_true(u.tls);
}

static void url_reads_port_and_bracketed_ipv6(void **state)
{
	struct mqtt_url u;
	struct err err;

	(void)state;
	assert_int_equal(mqtt_url_parse("mqtt://127.0.0.1:41883", &u, &err), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 41883);
	assert_int_equal(mqtt_url_parse("mqtts://[::1]:8884", &u, &err), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 8884);
}

static void url_rejects_what_it_cannot_use(void **state)
{
	(void)state;
	expect_reject("tcp://broker:1883", "must be mqtt://host[:port]");
	expect_reject("broker:1883", "must be mqtt://host[:port]");
	expect_reject("mqtt://", "no host");
	expect_reject("mqtt://broker:0", "1..65535");
	expect_reject("mqtt://broker:70000", "1..65535");
	expect_reject("mqtt://broker:x", "port must be a number");
	expect_reject("mqtt://user:pw@broker", "password_file");
	expect_reject("mqtt://broker/topic", "unexpected");
	expect_reject("mqtt://[::1", "unclosed");
}

static void section_check_names_the_key(void **state)
{
	struct config c;
	struct err err = { "" };

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_check_mqtt(&c, "p.conf", &err), 0);	/* MQTT off */
	strcpy(c.mqtt_url, "mqtt:/broker");
	assert_int_equal(config_check_mqtt(&c, "p.conf", &err), -1);
	assert_non_null(strstr(err.msg, "p.conf: [mqtt] url: "));
	strcpy(c.mqtt_url, "mqtt://broker");
	strcpy(c.mqtt_cafile, "/etc/ca.pem");
	assert_int_equal(config_check_mqtt(&c, "p.conf", &err), -1);
	assert_non_null(strstr(err.msg, "need an mqtts:// url"));
	strcpy(c.mqtt_url, "mqtts://broker");
	assert_int_equal(config_check_mqtt(&c, "p.conf", &err), 0);
	strcpy(c.mqtt_certfile, "/etc/client.pem");
	assert_int_equal(config_check_mqtt(&c, "p.conf", &err), -1);
	assert_non_null(strstr(err.msg, "certfile and keyfile"));
	c.mqtt_certfile[0] = '\0';
	strcpy(c.mqtt_intake_topic, "jobs/#/more");
	assert_int_equal(config_check_mqtt(&c, "p.conf", &err), -1);
	assert_non_null(strstr(err.msg, "[mqtt] intake_topic"));
	strcpy(c.mqtt_intake_topic, "$share/pregon/jobs/+");
	assert_int_equal(config_check_mqtt(&c, "p.conf", &err), 0);
	strcpy(c.mqtt_events_topic_prefix, "events/#");
	assert_int_equal(config_check_mqtt(&c, "p.conf", &err), -1);
	assert_non_null(strstr(err.msg, "[mqtt] events_topic_prefix"));
	strcpy(c.mqtt_events_topic_prefix, "pregon/events");
	strcpy(c.mqtt_password_file, "/run/pw");
	assert_int_equal(config_check_mqtt(&c, "p.conf", &err), -1);
	assert_non_null(strstr(err.msg, "needs [mqtt] username"));
}

static void client_id_defaults_to_host_name(void **state)
{
	struct config c;
	char id[256];

	(void)state;
	config_defaults(&c);
	mqtt_default_client_id(&c, id, sizeof(id));
	assert_int_equal(strncmp(id, "pregon-", 7), 0);
	assert_true(strlen(id) > 7);
	strcpy(c.mqtt_client_id, "gw-1");
	mqtt_default_client_id(&c, id, sizeof(id));
	assert_string_equal(id, "gw-1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(url_defaults_ports_by_scheme),
		cmocka_unit_test(url_reads_port_and_bracketed_ipv6),
		cmocka_unit_test(url_rejects_what_it_cannot_use),
		cmocka_unit_test(section_check_names_the_key),
		cmocka_unit_test(client_id_defaults_to_host_name),
	};

	return cmocka_run_group_tests_name("mqtt_url", tests, NULL, NULL);
}
