// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringfence remote: the responder's side of remote control. Publishes an action document on
 * PREFIX/DEVICE/actions and prints each status the device publishes on PREFIX/DEVICE/actions/ID
 * until the final one; reads the retained status documents for status and devices.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rf_cmd.h"
#include "rf_config.h"
#include "rf_history.h"
#include "rf_mqtt.h"
#include "rf_rule.h"
#include "rf_util.h"

const char rf_help_remote[] =
    "Usage: ringfence remote isolate|release DEVICE [--comment TEXT] [--for DURATION]\n"
    "                        [--target unit:NAME|container:ID|cgroup:PATH] [--wait DURATION]\n"
    "                        [--id ID] [--not-after RFC3339]\n"
    "       ringfence remote status|actions DEVICE\n"
    "       ringfence remote devices\n"
    "Drive devices you cannot log into through the MQTT broker their agents are connected to\n"
    "(docs/REMOTE.md). isolate and release publish an action and print each status the device\n"
    "reports (Pending, InProgress, then Succeeded, Failed or TimeOut) until the final one or\n"
    "--wait (default 30s) passes; an offline device carries the action out when it is back.\n"
    "status prints the device's retained status document, actions its actions, devices every\n"
    "device that published a status (with --json: JSON).\n"
    "Broker settings come from the config file (mqtt-broker, mqtt-ca, mqtt-cert, mqtt-key,\n"
    "mqtt-topic-prefix) or from --broker URL, --ca FILE, --cert FILE, --key FILE, --prefix P.\n"
    "Exit status: 0 Succeeded, 1 Failed, TimeOut or no final status in time, 2 usage error.\n";

#if RF_MQTT
#include <mosquitto.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define RF_REMOTE_WAIT_DEFAULT 30
#define RF_REMOTE_RETAINED_MS  1500 /* retained messages: collected until this long passes */

struct remote {
	struct rf_ctx *ctx;
	struct rf_mqtt_conf conf;
	struct rf_mqtt_url url;
	struct rf_remote_action a;
	const char *verb, *device;
	__u64 wait_s;
	char topic[512];
	struct mosquitto *mosq;
	bool subscribed, done, final_ok, connected;
	int conn_rc;
	unsigned int got;
};

/* --flag VALUE or --flag=VALUE at argv[*i]; 1 consumed, 0 not this flag, -1 missing value. */
static int flag(char **argv, int argc, int *i, const char *name, const char **out)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) || (argv[*i][n] && argv[*i][n] != '='))
		return 0;
	if (argv[*i][n] == '=') {
		*out = argv[*i] + n + 1;
		return 1;
	}
	if (*i + 1 >= argc)
		return -1;
	*out = argv[++*i];
	return 1;
}

static int copy_setting(const char *kw, const char *v, struct rf_mqtt_conf *c)
{
	char err[RF_ERR_MAX];

	if (rf_mqtt_conf_set(kw, v, c, err, sizeof(err)))
		return rf_usage_error("%s", err);
	return 0;
}

/* The flags of remote, after the verb and the device. */
static int parse_flags(struct remote *r, int argc, char **argv, const char **wait,
		       const char **not_after)
{
	static const char *const conf_flags[][2] = {
	    {"--broker", "mqtt-broker"},       {"--ca", "mqtt-ca"},
	    {"--cert", "mqtt-cert"},	       {"--key", "mqtt-key"},
	    {"--prefix", "mqtt-topic-prefix"},
	};
	const char *v = NULL, *target = NULL, *id = NULL;
	int i, k, got;

	for (i = 0; i < argc; i++) {
		for (k = 0, got = 0; !got && k < 5; k++)
			if ((got = flag(argv, argc, &i, conf_flags[k][0], &v)) > 0 &&
			    copy_setting(conf_flags[k][1], v, &r->conf))
				return EXIT_USAGE;
		if (!got && !(got = flag(argv, argc, &i, "--wait", wait)) &&
		    !(got = flag(argv, argc, &i, "--target", &target)) &&
		    !(got = flag(argv, argc, &i, "--id", &id)))
			got = flag(argv, argc, &i, "--not-after", not_after);
		if (got < 0)
			return rf_usage_error("option '%s' needs a value", argv[i]);
		if (!got)
			return rf_usage_error("unexpected argument '%s'", argv[i]);
	}
	if (target)
		snprintf(r->a.target, sizeof(r->a.target), "%s", target);
	if (id)
		snprintf(r->a.id, sizeof(r->a.id), "%.*s", RF_MQTT_ID_MAX, id);
	return 0;
}

/* Our MQTT identity as the broker sees it (use_identity_as_username): the certificate's CN. */
static void cert_identity(const char *path, char *out, size_t len)
{
	FILE *f = path[0] ? fopen(path, "re") : NULL;
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	char cn[128] = "";

	if (f)
		fclose(f);
	if (x &&
	    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0)
		snprintf(out, len, "CN=%s", cn);
	else
		snprintf(out, len, "%s", path[0] ? "unreadable certificate" : "no certificate");
	X509_free(x);
}

/* The action document's fields from the options; validated by the device's own parser. */
static int build_action(struct remote *r, const struct rf_cmd_opts *o, const char *not_after)
{
	char err[RF_ERR_MAX], *doc, *colon;
	struct rf_remote_action check;

	r->a.type = !strcmp(r->verb, "isolate") ? RF_REMOTE_ISOLATE : RF_REMOTE_UNISOLATE;
	if (!r->a.id[0])
		snprintf(r->a.id, sizeof(r->a.id), "rf-%llu-%d",
			 (unsigned long long)(rf_now_unix_ns() / 1000000), getpid());
	rf_requestor(r->a.requestor, sizeof(r->a.requestor));
	cert_identity(r->conf.cert, r->a.identity, sizeof(r->a.identity));
	snprintf(r->a.comment, sizeof(r->a.comment), "%s", o->comment ? o->comment : "");
	snprintf(r->a.for_, sizeof(r->a.for_), "%s", o->duration ? o->duration : "");
	if (r->a.target[0] && (colon = strchr(r->a.target, ':'))) {
		snprintf(r->a.target_kind, sizeof(r->a.target_kind), "%.*s",
			 (int)(colon - r->a.target), r->a.target);
		memmove(r->a.target, colon + 1, strlen(colon));
	} else if (r->a.target[0]) {
		return rf_usage_error("--target takes unit:NAME, container:ID or cgroup:PATH");
	}
	if (not_after && rf_parse_rfc3339(not_after, &r->a.not_after_unix_ns))
		return rf_usage_error(
		    "--not-after takes an RFC 3339 time, e.g. 2026-12-06T08:00:00Z");
	doc = rf_remote_action_doc(&r->a);
	if (!doc || rf_remote_parse(doc, strlen(doc), &check, err, sizeof(err))) {
		free(doc);
		return rf_usage_error("%s", err);
	}
	free(doc);
	return 0;
}

/* ---- the session --------------------------------------------------------------------------- */

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
	struct remote *r = arg;

	r->conn_rc = rc;
	r->connected = rc == 0;
	if (!rc)
		mosquitto_subscribe(m, NULL, r->topic, 1);
}

static void on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *qos)
{
	struct remote *r = arg;
	char topic[512], *doc;

	(void)mid;
	r->subscribed = n > 0 && qos[0] <= 2;
	if (!r->subscribed || !r->a.id[0] || r->done)
		return;
	doc = rf_remote_action_doc(&r->a);
	snprintf(topic, sizeof(topic), "%s/%s/actions",
		 r->conf.prefix[0] ? r->conf.prefix : RF_MQTT_PREFIX_DEFAULT, r->device);
	if (!doc || mosquitto_publish(m, NULL, topic, (int)strlen(doc), doc, 1, false))
		rf_err("cannot publish the action to %s", topic);
	free(doc);
}

/* s with control characters replaced: what devices publish is theirs to choose, and must not
 * drive the responder's terminal. slot: one of four buffers, for several in one printf. */
static const char *safe(const char *s, int slot)
{
	static char buf[4][1024];

	rf_safe_str(s, strlen(s), buf[slot], sizeof(buf[slot]));
	return buf[slot];
}

/* A status of our action: print it; a final one ends the wait. */
static void on_status(struct remote *r, json_t *o, const char *text)
{
	const char *st = json_string_value(json_object_get(o, "status"));
	const char *err = json_string_value(json_object_get(o, "error"));

	if (!st)
		return;
	if (r->ctx->json)
		printf("%s\n", text);
	else
		printf("%s %s: %s%s%s\n", r->device, r->a.id, safe(st, 0), err ? ": " : "",
		       err ? safe(err, 1) : "");
	fflush(stdout);
	if (strcmp(st, "Pending") && strcmp(st, "InProgress")) {
		r->done = true;
		r->final_ok = !strcmp(st, "Succeeded");
	}
}

/* A retained document (status, devices, actions): printed as it comes. */
static void on_listing(struct remote *r, const struct mosquitto_message *msg, json_t *o,
		       const char *text)
{
	json_t *iso = json_object_get(o, "isolated"), *on = json_object_get(o, "online");

	r->got++;
	if (r->ctx->json || !strcmp(r->verb, "status")) {
		printf("%s\n", text);
	} else if (!strcmp(r->verb, "devices")) {
		const char *dev = json_string_value(json_object_get(o, "device"));

		printf("%-40s %-8s %s\n", safe(dev ? dev : msg->topic, 0),
		       json_is_false(on) ? "offline" : "online",
		       json_is_true(iso)    ? "isolated"
		       : json_is_false(iso) ? "not isolated"
					    : "unknown");
	} else {
		const char *id = json_string_value(json_object_get(o, "id"));
		const char *t = json_string_value(json_object_get(o, "type"));
		const char *st = json_string_value(json_object_get(o, "status"));
		const char *c = json_string_value(json_object_get(o, "requestorComment"));

		printf("%-28s %-10s %-11s %s\n", safe(id ? id : "?", 0), safe(t ? t : "?", 1),
		       safe(st ? st : "?", 2), safe(c ? c : "", 3));
	}
	fflush(stdout);
	if (!strcmp(r->verb, "status"))
		r->done = true;
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	struct remote *r = arg;
	char *text = strndup(msg->payload ? msg->payload : "", (size_t)msg->payloadlen);
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;

	(void)m;
	if (o && json_is_object(o)) {
		if (r->a.id[0])
			on_status(r, o, text);
		else
			on_listing(r, msg, o, text);
	}
	json_decref(o);
	free(text);
}

static int open_session(struct remote *r)
{
	char id[64];
	int rc;

	mosquitto_lib_init();
	snprintf(id, sizeof(id), "ringfence-remote-%d-%llu", getpid(),
		 (unsigned long long)(rf_now_unix_ns() % 1000000000ULL));
	r->mosq = mosquitto_new(id, true, r);
	if (!r->mosq)
		return -ENOMEM;
	mosquitto_int_option(r->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	rc = !r->url.tls ? 0
			 : mosquitto_tls_set(r->mosq, r->conf.ca[0] ? r->conf.ca : NULL,
					     r->conf.ca[0] ? NULL : "/etc/ssl/certs",
					     r->conf.cert[0] ? r->conf.cert : NULL,
					     r->conf.key[0] ? r->conf.key : NULL, NULL);
	mosquitto_connect_callback_set(r->mosq, on_connect);
	mosquitto_subscribe_callback_set(r->mosq, on_subscribe);
	mosquitto_message_callback_set(r->mosq, on_message);
	if (!rc)
		rc = mosquitto_connect(r->mosq, r->url.host, r->url.port, 30);
	if (rc) {
		rf_err(
		    "cannot connect to %s: %s (check mqtt-broker, mqtt-ca, mqtt-cert and mqtt-key)",
		    r->conf.broker,
		    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return -ECONNREFUSED;
	}
	return 0;
}

/* Run the session until done, or wait_ms, or (listing) quiet_ms without a new message. */
static void run_session(struct remote *r, __u64 wait_ms, __u64 quiet_ms)
{
	__u64 start = rf_now_mono_ms(), last = start;
	unsigned int got = 0;

	while (!r->done && rf_now_mono_ms() - start < wait_ms) {
		int rc = mosquitto_loop(r->mosq, 100, 1);

		if (r->conn_rc) {
			rf_err("the broker refused the connection: %s",
			       mosquitto_connack_string(r->conn_rc));
			return;
		}
		if (rc != MOSQ_ERR_SUCCESS) {
			rf_err("connection to %s lost: %s", r->conf.broker, mosquitto_strerror(rc));
			return;
		}
		if (r->got != got) {
			got = r->got;
			last = rf_now_mono_ms();
		}
		if (quiet_ms && r->subscribed && rf_now_mono_ms() - last >= quiet_ms)
			return;
	}
}

static int remote_run(struct remote *r)
{
	const char *prefix = r->conf.prefix[0] ? r->conf.prefix : RF_MQTT_PREFIX_DEFAULT;
	int ret;

	if (!strcmp(r->verb, "devices"))
		snprintf(r->topic, sizeof(r->topic), "%s/+/status", prefix);
	else if (!strcmp(r->verb, "status"))
		snprintf(r->topic, sizeof(r->topic), "%s/%s/status", prefix, r->device);
	else if (!strcmp(r->verb, "actions"))
		snprintf(r->topic, sizeof(r->topic), "%s/%s/actions/+", prefix, r->device);
	else
		snprintf(r->topic, sizeof(r->topic), "%s/%s/actions/%s", prefix, r->device,
			 r->a.id);
	ret = open_session(r);
	if (!ret && r->a.id[0]) {
		run_session(r, r->wait_s * 1000, 0);
		if (!r->done)
			rf_err(
			    "no final status from %s for action %s within %llus: the device may be "
			    "offline (it carries the action out when it is back); follow it with "
			    "'ringfence remote actions %s'",
			    r->device, r->a.id, (unsigned long long)r->wait_s, r->device);
		ret = r->done && r->final_ok ? 0 : -EIO;
	} else if (!ret) {
		run_session(r, r->wait_s * 1000, RF_REMOTE_RETAINED_MS);
		if (!strcmp(r->verb, "status") && !r->done) {
			rf_err(
			    "no status document from device %s: unknown device or never connected",
			    r->device);
			ret = -ENOENT;
		}
	}
	if (r->mosq) {
		mosquitto_disconnect(r->mosq);
		mosquitto_destroy(r->mosq);
	}
	mosquitto_lib_cleanup();
	return ret;
}

/* Verb, device, flags and the broker settings; 0 or an exit code. */
static int remote_setup(struct remote *r, struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	static const char *const verbs[] = {"isolate", "release", "status", "actions", "devices"};
	const char *wait = NULL, *not_after = NULL;
	char err[RF_ERR_MAX];
	size_t i;
	int ret, first;

	if (o->argc < 1)
		return rf_usage_error("remote needs a verb: isolate, release, status, actions or "
				      "devices");
	r->verb = o->argv[0];
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]) && strcmp(r->verb, verbs[i]); i++)
		;
	if (i == sizeof(verbs) / sizeof(verbs[0]))
		return rf_usage_error("unknown remote verb '%s'", r->verb);
	first = strcmp(r->verb, "devices") ? 2 : 1;
	if (first == 2 && (o->argc < 2 || !rf_mqtt_name_ok(o->argv[1], true)))
		return rf_usage_error("remote %s needs a device id (as in 'ringfence remote "
				      "devices')",
				      r->verb);
	r->device = first == 2 ? o->argv[1] : NULL;
	if (rf_mqtt_conf_load(ctx, &r->conf))
		return EXIT_OPFAIL;
	if ((ret = parse_flags(r, o->argc - first, o->argv + first, &wait, &not_after)))
		return ret;
	r->wait_s = i < 2 ? RF_REMOTE_WAIT_DEFAULT : 5;
	if (wait && rf_parse_duration(wait, &r->wait_s))
		return rf_usage_error("invalid --wait '%s': use e.g. 30s, 5m", wait);
	if (!r->conf.broker[0])
		return rf_usage_error("no broker: set mqtt-broker in %s or give --broker URL",
				      ctx->config);
	if (rf_mqtt_url_parse(r->conf.broker, &r->url, err, sizeof(err)))
		return rf_usage_error("%s", err);
	if (i >= 2 && (o->comment || o->duration))
		return rf_usage_error("--comment and --for go with isolate and release");
	if (i == 1 && o->duration)
		return rf_usage_error("--for goes with isolate");
	return i < 2 ? build_action(r, o, not_after) : 0;
}

int rf_cmd_remote(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	struct remote *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return EXIT_OPFAIL;
	r->ctx = ctx;
	ret = remote_setup(r, ctx, o);
	if (!ret)
		ret = rf_exit_code(remote_run(r));
	free(r);
	return ret;
}
#else  /* !RF_MQTT */
int rf_cmd_remote(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	(void)ctx;
	(void)o;
	rf_err("this ringfence was built without MQTT (RF_MQTT=0: a static or cross build, or "
	       "libmosquitto-dev missing): 'remote' is not available; use a build whose "
	       "'ringfence --version' says mqtt yes");
	return EXIT_OPFAIL;
}
#endif /* RF_MQTT */
