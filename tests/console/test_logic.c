// SPDX-License-Identifier: GPL-2.0-only
/* The console's pure logic, without a broker: options, ids, tokens and their rate windows, the
 * fleet mirror's handling of what devices publish, request bodies. */
#include <stdio.h>
#include <string.h>
#include <criterion/criterion.h>
#include "console.h"

Test(logic, durations_and_addresses)
{
	char host[64];
	unsigned short port;
	bool tls;

	cr_assert_eq(rfc_parse_duration("90"), 90);
	cr_assert_eq(rfc_parse_duration("2s"), 2);
	cr_assert_eq(rfc_parse_duration("5m"), 300);
	cr_assert_eq(rfc_parse_duration("1h"), 3600);
	cr_assert_eq(rfc_parse_duration("1d"), 86400);
	cr_assert_eq(rfc_parse_duration("0"), -1);
	cr_assert_eq(rfc_parse_duration("-1"), -1);
	cr_assert_eq(rfc_parse_duration("1x"), -1);
	cr_assert_eq(rfc_parse_duration("31d"), -1);
	cr_assert_eq(rfc_parse_hostport("127.0.0.1:8443", host, sizeof(host), &port), 0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(port, 8443);
	cr_assert_eq(rfc_parse_hostport("[::1]:80", host, sizeof(host), &port), 0);
	cr_assert_str_eq(host, "::1");
	cr_assert_neq(rfc_parse_hostport("::1:80", host, sizeof(host), &port), 0);
	cr_assert_neq(rfc_parse_hostport("host", host, sizeof(host), &port), 0);
	cr_assert_neq(rfc_parse_hostport("host:0", host, sizeof(host), &port), 0);
	cr_assert_neq(rfc_parse_hostport("host:65536", host, sizeof(host), &port), 0);
	cr_assert_eq(rfc_parse_broker("mqtts://b.example:8883", host, sizeof(host), &port, &tls),
		     0);
	cr_assert(tls);
	cr_assert_eq(rfc_parse_broker("mqtt://b:1883", host, sizeof(host), &port, &tls), 0);
	cr_assert_not(tls);
	cr_assert_neq(rfc_parse_broker("tcp://b:1883", host, sizeof(host), &port, &tls), 0);
	unsigned int m, h;

	cr_assert_eq(rfc_parse_rate("100/1500", &m, &h), 0);
	cr_assert_eq(m, 100);
	cr_assert_eq(h, 1500);
	cr_assert_neq(rfc_parse_rate("100/50", &m, &h), 0, "an hour holds at least a minute");
	cr_assert_neq(rfc_parse_rate("0/10", &m, &h), 0);
	cr_assert_neq(rfc_parse_rate("10", &m, &h), 0);
}

Test(logic, ids_never_carry_topic_syntax)
{
	char id[140];

	cr_assert(rfc_valid_id("web-1.example_a"));
	cr_assert(rfc_valid_id("INC-4711:1"), "the agent's action ids may have ':'");
	cr_assert(rfc_valid_id("0123456789abcdef0123456789abcdef"), "a machine-id");
	cr_assert_not(rfc_valid_id("a/b"));
	cr_assert_not(rfc_valid_id("+"));
	cr_assert_not(rfc_valid_id("#"));
	cr_assert_not(rfc_valid_id(".."));
	cr_assert_not(rfc_valid_id(""));
	cr_assert_not(rfc_valid_id("a b"));
	cr_assert_not(rfc_valid_id("a\tb"));
	cr_assert_not(rfc_valid_id("caf\xc3\xa9"));
	memset(id, 'a', 129);
	id[129] = '\0';
	cr_assert_not(rfc_valid_id(id));
	id[128] = '\0';
	cr_assert(rfc_valid_id(id));
}

Test(logic, rate_windows_per_token)
{
	static struct rfc_tokens ts;
	int i;

	ts.n = 2;
	ts.per_minute = RFC_RATE_PER_MINUTE;
	ts.per_hour = RFC_RATE_PER_HOUR;
	strcpy(ts.t[0].name, "alice");
	strcpy(ts.t[0].token, "alice-0123456789abcdef");
	strcpy(ts.t[1].name, "soar");
	strcpy(ts.t[1].token, "soar-0123456789abcdef");
	pthread_mutex_init(&ts.lock, NULL);
	cr_assert_str_eq(rfc_tokens_find(&ts, "soar-0123456789abcdef"), "soar");
	cr_assert_null(rfc_tokens_find(&ts, "soar-0123456789abcde"));
	cr_assert_null(rfc_tokens_find(&ts, "soar-0123456789abcdeff"));
	cr_assert_null(rfc_tokens_find(&ts, ""));
	for (i = 0; i < 100; i++)
		cr_assert_eq(rfc_tokens_charge(&ts, "alice", 1000 + i / 10), 0);
	cr_assert_eq(rfc_tokens_charge(&ts, "alice", 1009), 51, "retry when the minute ends");
	cr_assert_eq(rfc_tokens_charge(&ts, "soar", 1009), 0, "each token its own limit");
	/* 1,500 an hour: 100 a minute for 15 minutes, then nothing until the hour ends */
	for (i = 1; i < 15; i++)
		for (int k = 0; k < 100; k++)
			cr_assert_eq(rfc_tokens_charge(&ts, "alice", 1000 + 60 * i), 0);
	i = rfc_tokens_charge(&ts, "alice", 1000 + 60 * 15);
	cr_assert_eq(i, 3600 - 60 * 15, "%d", i);
	cr_assert_eq(rfc_tokens_charge(&ts, "alice", 1000 + 3600), 0);
}

static int msg(struct rfc_fleet *f, const char *topic, const char *payload)
{
	return rfc_fleet_message(f, "rf", topic, payload, strlen(payload), 1);
}

static const char *action_status(struct rfc_fleet *f, const char *id)
{
	struct rfc_action *a = rfc_fleet_action(f, id);

	return a ? json_string_value(json_object_get(a->doc, "status")) : NULL;
}

Test(logic, the_fleet_takes_only_well_formed_documents)
{
	struct rfc_fleet f;

	rfc_fleet_init(&f);
	cr_assert_eq(msg(&f, "rf/d1/status", "{\"isolated\": true, \"online\": true}"), 0);
	cr_assert(rfc_dev_isolated(rfc_fleet_device(&f, "d1")));
	cr_assert_neq(msg(&f, "rf/d2/status", "not json"), 0);
	cr_assert_neq(msg(&f, "rf/d2/status", "[1]"), 0);
	cr_assert_neq(msg(&f, "other/d2/status", "{}"), 0);
	cr_assert_neq(msg(&f, "rf/d2/other", "{}"), 0);
	cr_assert_null(rfc_fleet_device(&f, "d2"));
	/* an action document must name the action of its topic, with a known status */
	cr_assert_eq(msg(&f, "rf/d1/actions/a1",
			 "{\"id\": \"a1\", \"type\": \"Isolate\", \"status\": \"InProgress\"}"),
		     0);
	cr_assert_neq(msg(&f, "rf/d1/actions/a2",
			  "{\"id\": \"a3\", \"type\": \"Isolate\", \"status\": \"Pending\"}"),
		      0);
	cr_assert_neq(msg(&f, "rf/d1/actions/a2",
			  "{\"id\": \"a2\", \"type\": \"Isolate\", \"status\": \"Done\"}"),
		      0);
	cr_assert_null(rfc_fleet_action(&f, "a2"));
	cr_assert_null(rfc_fleet_action(&f, "a3"));
	/* a status never moves back; a final one stays */
	cr_assert_eq(msg(&f, "rf/d1/actions/a1",
			 "{\"id\": \"a1\", \"type\": \"Isolate\", \"status\": \"Pending\"}"),
		     0);
	cr_assert_str_eq(action_status(&f, "a1"), "InProgress");
	cr_assert_eq(msg(&f, "rf/d1/actions/a1",
			 "{\"id\": \"a1\", \"type\": \"Isolate\", \"status\": \"Succeeded\"}"),
		     0);
	cr_assert_str_eq(action_status(&f, "a1"), "Succeeded");
	/* the machineId is the topic's device, whatever the document says */
	cr_assert_str_eq(
	    json_string_value(json_object_get(rfc_fleet_action(&f, "a1")->doc, "machineId")), "d1");
	/* an empty retained message removes the document */
	cr_assert_eq(rfc_fleet_message(&f, "rf", "rf/d1/actions/a1", "", 0, 1), 0);
	cr_assert_null(rfc_fleet_action(&f, "a1"));
	cr_assert_eq(rfc_fleet_message(&f, "rf", "rf/d1/status", "", 0, 1), 0);
	cr_assert_null(rfc_fleet_device(&f, "d1"));
	rfc_fleet_free(&f);
}

Test(logic, request_bodies)
{
	const char *comment, *scope;
	char err[160];
	json_t *root;

#define REQ(body, iso)                                                                             \
	rfc_action_request(body, strlen(body), iso, &root, &comment, &scope, err, sizeof(err))
	cr_assert_eq(REQ("{\"Comment\": \"c\"}", true), 0);
	cr_assert_str_eq(scope, "Full", "Full by default, as MDE");
	json_decref(root);
	cr_assert_eq(REQ("{\"Comment\": \"c\", \"IsolationType\": \"Full\"}", true), 0);
	json_decref(root);
	cr_assert_neq(REQ("{\"Comment\": \"c\", \"IsolationType\": \"Full\"}", false), 0,
		      "no IsolationType on a release");
	json_decref(root);
	cr_assert_neq(REQ("{\"Comment\": \"c\", \"IsolationType\": \"Selective\"}", true), 0);
	json_decref(root);
	cr_assert_neq(REQ("{\"comment\": \"c\"}", true), 0);
	json_decref(root);
#undef REQ
}
