// SPDX-License-Identifier: GPL-2.0-only
/* The broker side, through libmosquitto (MQTT v5: actions expire on the broker with their
 * timeout, so a device that comes back after its action timed out never acts on it). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include "console.h"

struct rfc_broker {
	struct mosquitto *mosq;
	struct rfc_fleet *fleet;
	const struct rfc_opts *opts;
	atomic_bool connected;
};

static void on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
		       const mosquitto_property *props)
{
	struct rfc_broker *b = arg;
	char sub[2][256];
	char *subs[2] = {sub[0], sub[1]};

	(void)flags;
	(void)props;
	if (rc) {
		fprintf(stderr, "ringfence-console: the broker refused the connection: %s\n",
			mosquitto_reason_string(rc));
		return;
	}
	snprintf(sub[0], sizeof(sub[0]), "%s/+/status", b->opts->prefix);
	snprintf(sub[1], sizeof(sub[1]), "%s/+/actions/+", b->opts->prefix);
	/* the retained documents arrive right after: the whole fleet, every (re)connect */
	mosquitto_subscribe_multiple(mosq, NULL, 2, subs, 1, 0, NULL);
	atomic_store(&b->connected, true);
	fprintf(stderr, "ringfence-console: connected to the broker %s:%u\n", b->opts->broker_host,
		b->opts->broker_port);
}

static void on_disconnect(struct mosquitto *mosq, void *arg, int rc,
			  const mosquitto_property *props)
{
	struct rfc_broker *b = arg;

	(void)mosq;
	(void)props;
	if (atomic_exchange(&b->connected, false))
		fprintf(stderr, "ringfence-console: lost the broker (%s); reconnecting\n",
			mosquitto_strerror(rc));
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m,
		       const mosquitto_property *props)
{
	struct rfc_broker *b = arg;

	(void)mosq;
	(void)props;
	/* a retained copy says nothing about when the device last spoke: no "received" time */
	if (rfc_fleet_message(b->fleet, b->opts->prefix, m->topic, m->payload,
			      (size_t)m->payloadlen, m->retain ? 0 : time(NULL)))
		fprintf(stderr, "ringfence-console: ignored a malformed message on %s\n", m->topic);
}

static int broker_tls(struct mosquitto *mosq, const struct rfc_opts *o)
{
	const char *ca = *o->mqtt_ca ? o->mqtt_ca : NULL;
	int rc;

	rc = mosquitto_tls_set(mosq, ca, ca ? NULL : "/etc/ssl/certs",
			       *o->mqtt_cert ? o->mqtt_cert : NULL,
			       *o->mqtt_key ? o->mqtt_key : NULL, NULL);
	if (rc) {
		fprintf(stderr,
			"ringfence-console: broker TLS setup failed: %s (check --mqtt-ca, "
			"--mqtt-cert, --mqtt-key)\n",
			mosquitto_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

static struct mosquitto *broker_new(struct rfc_broker *b)
{
	char id[128], host[64] = "console";
	struct mosquitto *mosq;

	gethostname(host, sizeof(host) - 1);
	snprintf(id, sizeof(id), "ringfence-console-%s-%d", host, (int)getpid());
	mosq = mosquitto_new(id, true, b);
	if (!mosq)
		return NULL;
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_v5_callback_set(mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(mosq, on_disconnect);
	mosquitto_message_v5_callback_set(mosq, on_message);
	mosquitto_reconnect_delay_set(mosq, 1, 10, true);
	return mosq;
}

struct rfc_broker *rfc_broker_start(const struct rfc_opts *o, struct rfc_fleet *f)
{
	struct rfc_broker *b = calloc(1, sizeof(*b));
	int rc;

	if (!b)
		return NULL;
	mosquitto_lib_init();
	b->fleet = f;
	b->opts = o;
	b->mosq = broker_new(b);
	if (!b->mosq || (o->broker_tls && broker_tls(b->mosq, o)))
		goto fail;
	/* async: a broker that is down now is retried by the loop thread; the API says 503 */
	rc = mosquitto_connect_bind_async(b->mosq, o->broker_host, o->broker_port, 30, NULL);
	if (rc && rc != MOSQ_ERR_ERRNO)
		fprintf(stderr, "ringfence-console: connect to %s:%u: %s; retrying\n",
			o->broker_host, o->broker_port, mosquitto_strerror(rc));
	rc = mosquitto_loop_start(b->mosq);
	if (rc) {
		fprintf(stderr, "ringfence-console: cannot start the MQTT thread: %s\n",
			mosquitto_strerror(rc));
		goto fail;
	}
	return b;
fail:
	if (b->mosq)
		mosquitto_destroy(b->mosq);
	free(b);
	mosquitto_lib_cleanup();
	return NULL;
}

void rfc_broker_stop(struct rfc_broker *b)
{
	if (!b)
		return;
	mosquitto_disconnect(b->mosq);
	mosquitto_loop_stop(b->mosq, false);
	mosquitto_destroy(b->mosq);
	mosquitto_lib_cleanup();
	free(b);
}

bool rfc_broker_connected(struct rfc_broker *b)
{
	return atomic_load(&b->connected);
}

static int publish(struct rfc_broker *b, const char *topic, json_t *doc, bool retain, int expiry)
{
	mosquitto_property *props = NULL;
	char *s = json_dumps(doc, JSON_COMPACT);
	int rc;

	if (!s)
		return -ENOMEM;
	if (expiry > 0)
		mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
					     (uint32_t)expiry);
	rc = mosquitto_publish_v5(b->mosq, NULL, topic, (int)strlen(s), s, 1, retain, props);
	mosquitto_property_free_all(&props);
	free(s);
	if (rc == MOSQ_ERR_NO_CONN)
		return -ENOTCONN;
	return rc ? -EIO : 0;
}

int rfc_broker_update_action(struct rfc_broker *b, const char *device, json_t *doc)
{
	char topic[512];

	snprintf(topic, sizeof(topic), "%s/%s/actions/%s", b->opts->prefix, device,
		 json_string_value(json_object_get(doc, "id")));
	return publish(b, topic, doc, true, 0);
}

int rfc_broker_send_action(struct rfc_broker *b, const char *device, json_t *doc, int expiry)
{
	char topic[512];
	int err;

	if (!rfc_broker_connected(b))
		return -ENOTCONN;
	/* the Pending document first: the device's InProgress can only follow it */
	err = rfc_broker_update_action(b, device, doc);
	if (err)
		return err;
	snprintf(topic, sizeof(topic), "%s/%s/actions", b->opts->prefix, device);
	return publish(b, topic, doc, false, expiry);
}
