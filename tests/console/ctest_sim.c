// SPDX-License-Identifier: GPL-2.0-only
/* Simulated devices: what the ringfence agent does on the broker (DESIGN.md "Remote control"),
 * so the console's tests do not depend on the agent: subscribe to PREFIX/DEVICE/actions, answer
 * with retained PREFIX/DEVICE/actions/ID documents (InProgress, then Succeeded or Failed), keep
 * a retained PREFIX/DEVICE/status with a last will that marks it offline. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <mosquitto.h>
#include <criterion/criterion.h>
#include "ctest.h"
#include "rft_child.h"

#define SIM_MAX 8

struct sim {
	char device[64], name[64];
	struct mosquitto *mosq;
	enum ct_mode mode;
	atomic_bool isolated;
	atomic_int actions;
	char seen[16][64]; /* action ids done: the same id twice = once */
	int nseen;
};
static struct sim sims[SIM_MAX];
static int nsims;

static char *status_doc(struct sim *s, bool online)
{
	char *out;
	json_t *j = json_pack("{s:b, s:b, s:s, s:b}", "isolated", atomic_load(&s->isolated),
			      "audit", 0, "hostname", s->name, "online", online);

	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return out;
}

static void publish_json(struct sim *s, const char *topic, json_t *j)
{
	char *p = json_dumps(j, JSON_COMPACT);

	mosquitto_publish(s->mosq, NULL, topic, (int)strlen(p), p, 1, true);
	free(p);
}

static void publish_status(struct sim *s)
{
	char topic[200], *p = status_doc(s, true);

	snprintf(topic, sizeof(topic), CT_PREFIX "/%s/status", s->device);
	mosquitto_publish(s->mosq, NULL, topic, (int)strlen(p), p, 1, true);
	free(p);
}

static void answer(struct sim *s, json_t *doc, const char *status, const char *error)
{
	char topic[200], t[40];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	json_object_set_new(doc, "status", json_string(status));
	json_object_set_new(doc, "lastUpdateDateTimeUtc", json_string(t));
	json_object_set_new(doc, "error", error ? json_string(error) : json_null());
	snprintf(topic, sizeof(topic), CT_PREFIX "/%s/actions/%s", s->device,
		 json_string_value(json_object_get(doc, "id")));
	publish_json(s, topic, doc);
}

static bool seen_before(struct sim *s, const char *id)
{
	int i;

	for (i = 0; i < s->nseen; i++)
		if (!strcmp(s->seen[i], id))
			return true;
	if (s->nseen < 16)
		snprintf(s->seen[s->nseen++], sizeof(s->seen[0]), "%s", id);
	return false;
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m)
{
	struct sim *s = arg;
	json_t *doc = json_loadb(m->payload, (size_t)m->payloadlen, 0, NULL);
	const char *type = json_string_value(json_object_get(doc, "type"));
	const char *id = json_string_value(json_object_get(doc, "id"));

	(void)mosq;
	atomic_fetch_add(&s->actions, 1);
	if (!type || !id || s->mode == CT_SILENT || seen_before(s, id)) {
		json_decref(doc);
		return;
	}
	answer(s, doc, "InProgress", NULL);
	rft_msleep(100);
	if (s->mode == CT_FAIL) {
		answer(s, doc, "Failed", "simulated failure");
	} else {
		atomic_store(&s->isolated, !strcmp(type, "Isolate"));
		publish_status(s);
		answer(s, doc, "Succeeded", NULL);
	}
	json_decref(doc);
}

static void on_connect(struct mosquitto *mosq, void *arg, int rc)
{
	struct sim *s = arg;
	char topic[200];

	if (rc)
		return;
	snprintf(topic, sizeof(topic), CT_PREFIX "/%s/actions", s->device);
	mosquitto_subscribe(mosq, NULL, topic, 1);
	publish_status(s);
}

void ctest_sim_start(const char *device, const char *name, bool isolated, enum ct_mode mode)
{
	struct sim *s = &sims[nsims++];
	char topic[200], *will;

	cr_assert(nsims <= SIM_MAX);
	memset(s, 0, sizeof(*s));
	snprintf(s->device, sizeof(s->device), "%s", device);
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->mode = mode;
	atomic_store(&s->isolated, isolated);
	mosquitto_lib_init();
	s->mosq = mosquitto_new(NULL, true, s);
	cr_assert_not_null(s->mosq);
	snprintf(topic, sizeof(topic), CT_PREFIX "/%s/status", device);
	will = status_doc(s, false);
	mosquitto_will_set(s->mosq, topic, (int)strlen(will), will, 1, true);
	free(will);
	mosquitto_connect_callback_set(s->mosq, on_connect);
	mosquitto_message_callback_set(s->mosq, on_message);
	cr_assert_eq(mosquitto_connect(s->mosq, "127.0.0.1", ct.broker_port, 5), MOSQ_ERR_SUCCESS);
	cr_assert_eq(mosquitto_loop_start(s->mosq), MOSQ_ERR_SUCCESS);
	/* until the console has its status document */
	snprintf(topic, sizeof(topic), "/api/machines/%s", device);
	for (int i = 0; i < 50 && ctest_http("GET", topic, CT_READY, NULL, NULL) != 200; i++)
		rft_msleep(100);
}

static struct sim *sim_find(const char *device)
{
	for (int i = 0; i < nsims; i++)
		if (!strcmp(sims[i].device, device))
			return &sims[i];
	cr_assert_fail("no simulated device %s", device);
	return NULL;
}

int ctest_sim_actions(const char *device)
{
	return atomic_load(&sim_find(device)->actions);
}

void ctest_sim_kill(const char *device)
{
	struct sim *s = sim_find(device);

	/* stop the loop without a DISCONNECT: the broker sends the last will after the keepalive;
	 * shutting the socket makes it at once */
	mosquitto_loop_stop(s->mosq, true);
	shutdown(mosquitto_socket(s->mosq), SHUT_RDWR);
}
