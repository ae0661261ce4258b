// SPDX-License-Identifier: GPL-2.0-only
/* Remote control's pure logic: broker URLs, topic names, mqtt-* settings, action documents. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "rf_config.h"
#include "rf_mqtt.h"
#include "rft_json.h"

Test(remote, broker_urls)
{
	struct rf_mqtt_url u;
	char err[256];

	cr_assert_eq(rf_mqtt_url_parse("mqtts://broker.example.net:8883", &u, err, sizeof(err)), 0);
	cr_expect(u.tls);
	cr_expect_str_eq(u.host, "broker.example.net");
	cr_expect_eq(u.port, 8883);
	cr_assert_eq(rf_mqtt_url_parse("mqtt://192.0.2.2", &u, err, sizeof(err)), 0);
	cr_expect(!u.tls);
	cr_expect_eq(u.port, 1883);
	cr_assert_eq(rf_mqtt_url_parse("mqtts://[2001:db8::2]:9000", &u, err, sizeof(err)), 0);
	cr_expect_str_eq(u.host, "2001:db8::2");
	cr_expect_eq(u.port, 9000);
	cr_assert_eq(rf_mqtt_url_parse("mqtts://[2001:db8::2]", &u, err, sizeof(err)), 0);
	cr_expect_eq(u.port, 8883);
	cr_expect_eq(rf_mqtt_url_parse("http://broker:80", &u, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rf_mqtt_url_parse("mqtt://", &u, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rf_mqtt_url_parse("mqtt://b:0", &u, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rf_mqtt_url_parse("mqtt://b:65536", &u, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rf_mqtt_url_parse("mqtt://b:1883/path", &u, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rf_mqtt_url_parse("mqtt://user@b:1883", &u, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rf_mqtt_url_parse("mqtts://[2001:db8::2:1", &u, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "mqtts://HOST:PORT"));
}

Test(remote, names_in_topics)
{
	cr_expect(rf_mqtt_name_ok("web-07", true));
	cr_expect(rf_mqtt_name_ok("fleet/eu", false));
	cr_expect(!rf_mqtt_name_ok("fleet/eu", true));
	cr_expect(!rf_mqtt_name_ok("a+b", false));
	cr_expect(!rf_mqtt_name_ok("a#", false));
	cr_expect(!rf_mqtt_name_ok("a b", false));
	cr_expect(!rf_mqtt_name_ok("", false));
	cr_expect(!rf_mqtt_name_ok("/lead", false));
}

Test(remote, mqtt_settings_in_the_config)
{
	struct rf_conf c;
	char err[512];

	cr_assert_eq(rf_conf_parse("mqtt-broker mqtts://b:8883\nmqtt-ca /etc/ca.crt\n"
				   "mqtt-cert /etc/d.crt\nmqtt-key /etc/d.key\n"
				   "mqtt-device-id web-07\nmqtt-topic-prefix corp/rf\n",
				   "t", &c, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_str_eq(c.mqtt.broker, "mqtts://b:8883");
	cr_expect_str_eq(c.mqtt.key, "/etc/d.key");
	cr_expect_str_eq(c.mqtt.device_id, "web-07");
	cr_expect_str_eq(c.mqtt.prefix, "corp/rf");
	rf_conf_free(&c);
	cr_expect_eq(rf_conf_parse("mqtt-broker tcp://b\n", "t", &c, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "t:1:"));
	cr_expect_eq(rf_conf_parse("mqtt-ca relative.crt\n", "t", &c, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rf_conf_parse("mqtt-device-id a/b\n", "t", &c, err, sizeof(err)), -EINVAL);
}

#if RF_MQTT /* the documents are written and read with jansson */
static int parse(const char *doc, struct rf_remote_action *a, char *err)
{
	return rf_remote_parse(doc, strlen(doc), a, err, 512);
}

Test(remote, action_documents)
{
	struct rf_remote_action a;
	char err[512];

	cr_assert_eq(parse("{\"id\":\"INC-1\",\"type\":\"Isolate\",\"requestor\":\"alice\","
			   "\"requestorComment\":\"why\",\"for\":\"2h\",\"target\":\"unit:nginx\","
			   "\"notAfter\":\"2026-12-06T08:00:00Z\",\"scope\":\"Full\"}",
			   &a, err),
		     0, "%s", err);
	cr_expect_eq(a.type, RF_REMOTE_ISOLATE);
	cr_expect_str_eq(a.comment, "why");
	cr_expect_str_eq(a.target_kind, "unit");
	cr_expect_str_eq(a.target, "nginx");
	cr_expect_eq(a.not_after_unix_ns, 1796544000ULL * 1000000000ULL);
	cr_assert_eq(parse("{\"id\":\"a1\",\"type\":\"AllowAdd\",\"rule\":\"net 203.0.113.10/32 "
			   "proto tcp port 443\"}",
			   &a, err),
		     0, "%s", err);
	/* a host rule (issue 24) is a rule like any other; a bad name is refused naming it */
	cr_assert_eq(parse("{\"id\":\"a2\",\"type\":\"AllowAdd\",\"rule\":\"host "
			   "Mgmt.Example.com proto tcp port 443 dir out\"}",
			   &a, err),
		     0, "%s", err);
	cr_expect_eq(parse("{\"id\":\"b12\",\"type\":\"AllowAdd\",\"rule\":\"host "
			   "mgmt..example.com\"}",
			   &a, err),
		     -EINVAL);
	cr_expect(strstr(err, "empty label"), "%s", err);
	cr_expect_eq(
	    parse("{\"id\":\"b13\",\"type\":\"AllowDel\",\"rule\":\"host *.com\"}", &a, err),
	    -EINVAL);
	/* refused: each names its problem, and the id is known where there is one */
	cr_expect_eq(parse("{\"id\":\"b1\",\"type\":\"Isolate\"", &a, err), -EINVAL);
	cr_expect(strstr(err, "not a JSON document"));
	cr_expect_eq(parse("{\"id\":\"b2\",\"type\":\"Shutdown\"}", &a, err), -EOPNOTSUPP);
	cr_expect_str_eq(a.id, "b2");
	cr_expect_eq(parse("{\"type\":\"Isolate\"}", &a, err), -EINVAL);
	cr_expect_eq(parse("{\"id\":\"a/b\",\"type\":\"Isolate\"}", &a, err), -EINVAL);
	cr_expect_eq(parse("{\"id\":7,\"type\":\"Isolate\"}", &a, err), -EINVAL);
	cr_expect_eq(parse("{\"id\":\"b3\",\"type\":\"Isolate\",\"for\":\"soon\"}", &a, err),
		     -EINVAL);
	cr_expect_eq(parse("{\"id\":\"b4\",\"type\":\"AllowDel\"}", &a, err), -EINVAL);
	cr_expect_eq(parse("{\"id\":\"b5\",\"type\":\"Isolate\",\"target\":\"pid:1\"}", &a, err),
		     -EINVAL);
	cr_expect_eq(
	    parse("{\"id\":\"b6\",\"type\":\"Isolate\",\"notAfter\":\"tomorrow\"}", &a, err),
	    -EINVAL);
	cr_expect_eq(parse("{\"id\":\"b7\",\"id\":\"b8\",\"type\":\"Isolate\"}", &a, err), -EINVAL);
	cr_expect_eq(parse("[1]", &a, err), -EINVAL);
	/* the rule's words become the command's arguments: no option may hide among them */
	cr_expect_eq(parse("{\"id\":\"b10\",\"type\":\"AllowAdd\",\"rule\":\"net 192.0.2.9 "
			   "--state-dir /etc\"}",
			   &a, err),
		     -EINVAL);
	cr_expect_eq(
	    parse("{\"id\":\"b11\",\"type\":\"AllowAdd\",\"rule\":\"exe --config\"}", &a, err),
	    -EINVAL);
	cr_expect_eq(
	    parse("{\"id\":\"b9\",\"type\":\"Isolate\",\"requestor\":\"a\\u0000b\"}", &a, err),
	    -EINVAL);
}

Test(remote, oversized_documents)
{
	struct rf_remote_action a;
	size_t n = RF_MQTT_ACTION_MAX + 1;
	char *doc = malloc(n + 1), err[512];

	cr_assert_not_null(doc);
	memset(doc, ' ', n);
	memcpy(doc, "{\"id\":\"x\",\"type\":\"Isolate\"}", 27);
	doc[n] = '\0';
	cr_expect_eq(rf_remote_parse(doc, n, &a, err, sizeof(err)), -E2BIG);
	cr_expect_eq(rf_remote_parse(doc, n - 1, &a, err, sizeof(err)), 0, "%s", err);
	free(doc);
}

Test(remote, rfc3339_times)
{
	__u64 t;

	cr_assert_eq(rf_parse_rfc3339("1970-01-01T00:00:01Z", &t), 0);
	cr_expect_eq(t, 1000000000ULL);
	cr_assert_eq(rf_parse_rfc3339("1970-01-01T01:00:00.5+01:00", &t), 0);
	cr_expect_eq(t, 500000000ULL);
	cr_expect_eq(rf_parse_rfc3339("2026-02-30T00:00:00Z", &t), -EINVAL);
	cr_expect_eq(rf_parse_rfc3339("2026-12-06 08:00:00Z", &t), -EINVAL);
	cr_expect_eq(rf_parse_rfc3339("2026-12-06T08:00:00", &t), -EINVAL);
	cr_expect_eq(rf_parse_rfc3339("2026-12-06T08:00:00Zjunk", &t), -EINVAL);
}

Test(remote, status_and_action_documents_round_trip)
{
	struct rf_remote_action a = {.type = RF_REMOTE_UNISOLATE}, b;
	char *doc, err[512];
	json_t *j;

	strcpy(a.id, "r-1");
	strcpy(a.requestor, "bob \"quoted\"\n");
	strcpy(a.comment, "done");
	doc = rf_remote_status_doc(&a, "web-07", "Succeeded", NULL, 1000000000ULL, 2000000000ULL);
	cr_assert_not_null(doc);
	j = rft_json_load(doc); /* strict: one document, no duplicate key */
	cr_expect_str_eq(rft_json_str_at(j, "status") ?: "", "Succeeded");
	cr_expect_str_eq(rft_json_str_at(j, "machineId") ?: "", "web-07");
	cr_expect_str_eq(rft_json_str_at(j, "requestor") ?: "", "bob \"quoted\"\n");
	cr_expect(json_is_null(rft_json_at(j, "error")), "%s", doc);
	json_decref(j);
	free(doc);
	doc = rf_remote_action_doc(&a);
	cr_assert_not_null(doc);
	cr_assert_eq(rf_remote_parse(doc, strlen(doc), &b, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(b.requestor, a.requestor);
	cr_expect_eq(b.type, RF_REMOTE_UNISOLATE);
	free(doc);
}
#endif /* RF_MQTT */
