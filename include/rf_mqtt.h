/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Remote control over MQTT (docs/REMOTE.md). The device side (user/mqtt.c) keeps a persistent
 * session with the broker, carries out the action documents published on PREFIX/DEVICE/actions
 * exactly as the CLI commands would and publishes their status; the responder side
 * (user/cmd_remote.c) publishes actions and follows their status. The documents themselves are
 * parsed and written here (user/remote_doc.c), through jansson.
 *
 * Topics under PREFIX/DEVICE/:
 *   actions       action documents (QoS 1, persistent session: queued while the device is away)
 *   actions/ID    the status document of action ID (retained)
 *   status        the device's 'status --json' document, online flag added (retained; the
 *                 last will sets "online": false)
 *   events        blocked attempts, one JSON event per message (rate-limited like the local
 *                 stream)
 */
#ifndef RF_MQTT_H
#define RF_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "rf_rule.h"

#define RF_MQTT_PREFIX_DEFAULT "ringfence"
#define RF_MQTT_ACTION_MAX     (64 * 1024) /* larger action documents are refused */
#define RF_MQTT_ID_MAX	       64
#define RF_MQTT_NAME_MAX       128 /* device id, topic prefix */

/* The broker settings (config keys mqtt-*, or ringfence remote's flags). */
struct rf_mqtt_conf {
	char broker[512]; /* "mqtts://HOST:PORT" or "mqtt://HOST:PORT"; "" = remote control off */
	char ca[4096];
	char cert[4096];
	char key[4096];
	char device_id[RF_MQTT_NAME_MAX + 1]; /* "" = /etc/machine-id */
	char prefix[RF_MQTT_NAME_MAX + 1];    /* "" = RF_MQTT_PREFIX_DEFAULT */
};

/* A broker URL taken apart. */
struct rf_mqtt_url {
	bool tls;
	char host[256];
	int port;
};

/* "mqtt[s]://HOST[:PORT]" (IPv6 as [ADDR]); default port 1883 or 8883. 0 or -EINVAL with err. */
int rf_mqtt_url_parse(const char *url, struct rf_mqtt_url *u, char *err, size_t errlen);
/* A device id or topic prefix usable in a topic: 1..128 bytes, printable, no '+', '#'; a device
 * id no '/' either. */
bool rf_mqtt_name_ok(const char *s, bool is_device);

enum rf_remote_type {
	RF_REMOTE_ISOLATE,
	RF_REMOTE_UNISOLATE,
	RF_REMOTE_AUDIT,
	RF_REMOTE_ALLOW_ADD,
	RF_REMOTE_ALLOW_DEL,
	RF_REMOTE_CONFIRM,
	RF_REMOTE_TYPE_MAX,
};
/* "Isolate" ... "Confirm"; NULL past the end. */
const char *rf_remote_type_name(enum rf_remote_type t);

/* An action document (MDE's machineAction), validated. */
struct rf_remote_action {
	char id[RF_MQTT_ID_MAX + 1];
	enum rf_remote_type type;
	char requestor[128];
	char identity[128]; /* "requestorIdentity": the MQTT identity the publisher used */
	char comment[1001];
	char for_[32];		     /* "for": a duration (90s, 2h), "" = none */
	char confirm_within[32];     /* "confirmWithin", "" = none */
	char rule[RF_RULE_TEXT_MAX]; /* AllowAdd/AllowDel */
	char target_kind[16];	     /* "", "unit", "container", "cgroup" */
	char target[256];
	__u64 not_after_unix_ns; /* 0 = none */
};

/*
 * Parse and validate an action document of len bytes. Returns 0, or -E2BIG (larger than
 * RF_MQTT_ACTION_MAX), -EINVAL (not JSON, a field missing, of the wrong type or invalid) or
 * -EOPNOTSUPP (unknown type), with the problem in err. a->id is filled as soon as the document
 * has a valid one, even when it is refused later (so the refusal can be published).
 */
int rf_remote_parse(const char *doc, size_t len, struct rf_remote_action *a, char *err,
		    size_t errlen);
/* RFC 3339 "2026-12-06T07:00:00Z" (fraction and +hh:mm offset allowed) into unix ns. */
int rf_parse_rfc3339(const char *s, __u64 *unix_ns);

/* The status document of an action (malloc'd JSON text, NULL when out of memory). */
char *rf_remote_status_doc(const struct rf_remote_action *a, const char *device, const char *status,
			   const char *error, __u64 created_ns, __u64 updated_ns);
/* An action document (malloc'd JSON text) as 'ringfence remote' publishes it. */
char *rf_remote_action_doc(const struct rf_remote_action *a);

/* Read /etc/machine-id (or path) into id: 0 or -errno. */
int rf_machine_id(const char *path, char *id, size_t len);

struct rf_ctx;
/* Fill c from the config file's mqtt-* settings (ctx->config). 0, or -errno with the problem
 * printed. */
int rf_mqtt_conf_load(const struct rf_ctx *ctx, struct rf_mqtt_conf *c);

/* The agent's side (user/mqtt.c). */
struct rf_mqtt_agent;
/* Start remote control if the config names a broker: *out NULL when it does not (or this build
 * has no MQTT: said on stderr). Returns 0 or -errno. */
int rf_mqtt_agent_start(struct rf_ctx *ctx, struct rf_mqtt_agent **out);
/* The socket to poll (-1 while disconnected) and whether to poll it for writing. */
int rf_mqtt_agent_fd(struct rf_mqtt_agent *ma, bool *want_write);
/* Network I/O, reconnects with backoff, queued actions, status publishing: call every loop
 * turn (and whenever the fd is ready). */
void rf_mqtt_agent_tick(struct rf_mqtt_agent *ma);
/* A blocked-attempt event (JSON text) for PREFIX/DEVICE/events. */
void rf_mqtt_agent_event(struct rf_mqtt_agent *ma, const char *json, size_t len);
/* Publish "online": false, disconnect, remove the management-channel entries. */
void rf_mqtt_agent_stop(struct rf_mqtt_agent *ma);

#endif /* RF_MQTT_H */
