/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ringfence-console: the responders' HTTP API and web page in front of the MQTT broker that the
 * devices' agents dial out to (DESIGN.md, "Remote control"). It keeps no database: what it knows
 * about devices and actions is the broker's retained documents, mirrored in memory (fleet.c).
 *
 *   options.c  command line and config file          tokens.c  bearer tokens, rate limits
 *   fleet.c    the mirror of the retained documents  action.c  machineAction documents
 *   broker.c   libmosquitto: subscribe, publish      http.c    libmicrohttpd: auth, limits, log
 *   api.c      the MDE-shaped endpoints              web.c     the page, embedded in the binary
 */
#ifndef RF_CONSOLE_H
#define RF_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <jansson.h>

#define RFC_MAX_BODY	    16384 /* request bodies (a comment and a type) */
#define RFC_MAX_COMMENT	    1000  /* characters of a requestorComment */
#define RFC_MAX_ID	    128	  /* device and action ids, see rfc_valid_id() */
#define RFC_MAX_TOKENS	    256
#define RFC_RATE_PER_MINUTE 100 /* per token, as MDE's machine-action API */
#define RFC_RATE_PER_HOUR   1500

/* --- options.c -------------------------------------------------------------------------------- */
struct rfc_opts {
	char listen_host[256];
	unsigned short listen_port;
	char broker_host[256];
	unsigned short broker_port;
	bool broker_tls; /* mqtts:// */
	char tokens[4096];
	char tls_cert[4096];
	char tls_key[4096];
	bool insecure_http;
	char prefix[128];   /* topic prefix, default "ringfence" */
	char mqtt_ca[4096]; /* for mqtts:// (default: the system's CAs) */
	char mqtt_cert[4096];
	char mqtt_key[4096];
	int action_timeout; /* seconds a Pending/InProgress action may take before TimeOut */
	unsigned int rate_minute, rate_hour; /* per token; default MDE's 100 and 1,500 */
};

/* Parse argv (and a --config FILE it names) into *o. 0, or -EINVAL after printing the problem
 * and its fix on stderr (the caller exits 2). */
int rfc_parse_args(struct rfc_opts *o, int argc, char **argv);
/* Apply one "KEY VALUE" (a long option without "--"); value NULL for a flag. 0 or -EINVAL. */
int rfc_opt_set(struct rfc_opts *o, const char *key, const char *value);
/* Apply a config file of "KEY VALUE" lines (# comments). 0 or -errno/-EINVAL with FILE:LINE. */
int rfc_opt_file(struct rfc_opts *o, const char *path);
/* After parsing: required options present, TLS or an explicit --insecure-http. 0 or -EINVAL. */
int rfc_opt_check(const struct rfc_opts *o);
/* "2h", "90s", "5m", "1d", "30" (seconds) -> seconds; -1 if invalid. */
int rfc_parse_duration(const char *s);
/* "N/M": N calls per minute and M per hour (M >= N). 0 or -EINVAL. */
int rfc_parse_rate(const char *s, unsigned int *per_minute, unsigned int *per_hour);
/* "mqtt://HOST:PORT", "mqtts://HOST:PORT" ([v6]:PORT too). 0 or -EINVAL. */
int rfc_parse_broker(const char *url, char *host, size_t hostlen, unsigned short *port, bool *tls);
/* "ADDR:PORT" or "[V6]:PORT". 0 or -EINVAL. */
int rfc_parse_hostport(const char *s, char *host, size_t hostlen, unsigned short *port);

/* --- tokens.c --------------------------------------------------------------------------------- */
struct rfc_token {
	char name[64];
	char token[256];
	time_t minute_start, hour_start; /* fixed windows of the rate limit */
	unsigned int minute_count, hour_count;
};
struct rfc_tokens {
	pthread_mutex_t lock;
	struct rfc_token t[RFC_MAX_TOKENS];
	size_t n;
	unsigned int per_minute, per_hour;
};
/* Load "NAME TOKEN" lines (# comments). Refuses a file others can read or write, a token shorter
 * than 16 characters, a duplicate name or token. 0 or -errno/-EINVAL (message on stderr). Limits
 * start at RFC_RATE_PER_MINUTE/RFC_RATE_PER_HOUR. */
int rfc_tokens_load(struct rfc_tokens *ts, const char *path);
/* The name of the token's owner (constant-time compare), or NULL. */
const char *rfc_tokens_find(struct rfc_tokens *ts, const char *token);
/* Count one request of `name` at `now`: 0 if within both limits, else the seconds to wait. */
int rfc_tokens_charge(struct rfc_tokens *ts, const char *name, time_t now);

/* --- fleet.c ---------------------------------------------------------------------------------- */
struct rfc_device {
	char id[RFC_MAX_ID + 1];
	json_t *status;	   /* the retained status document (owned) */
	time_t received;   /* when the console last received it (0: from before the console ran) */
	time_t first_seen; /* the first time this console saw the device */
};
struct rfc_action {
	char id[RFC_MAX_ID + 1];
	char device[RFC_MAX_ID + 1];
	json_t *doc; /* the machineAction document (owned) */
};
struct rfc_fleet {
	pthread_mutex_t lock;
	struct rfc_device *dev;
	size_t ndev, capdev;
	struct rfc_action *act;
	size_t nact, capact;
	unsigned long generation; /* bumped by every change (the machine list cache) */
	char *machines_cache;	  /* GET /api/machines at `cache_generation` */
	unsigned long cache_generation;
};
void rfc_fleet_init(struct rfc_fleet *f);
void rfc_fleet_free(struct rfc_fleet *f);
/* A message on PREFIX/DEVICE/status or PREFIX/DEVICE/actions/ID (others are ignored); an empty
 * payload removes the document. Returns 0, or -EINVAL for a topic or payload it refused. */
int rfc_fleet_message(struct rfc_fleet *f, const char *prefix, const char *topic,
		      const void *payload, size_t len, time_t now);
/* Record an action the console itself published (Pending), so a second request sees it at once.
 * Steals doc. Caller holds f->lock. */
int rfc_fleet_put_action(struct rfc_fleet *f, const char *device, json_t *doc);
/* Lookups; caller holds f->lock. */
struct rfc_device *rfc_fleet_device(struct rfc_fleet *f, const char *id);
struct rfc_action *rfc_fleet_action(struct rfc_fleet *f, const char *id);

/* What the console shows of a device (the status document's fields, read leniently). */
bool rfc_dev_isolated(const struct rfc_device *d);
bool rfc_dev_online(const struct rfc_device *d);
/* The device's name: the status document's hostname/name, else its id. */
const char *rfc_dev_name(const struct rfc_device *d);
/* The MDE-shaped machine object; with_status adds the whole status document. New reference. */
json_t *rfc_machine_json(const struct rfc_device *d, bool with_status);
/* Is a final status (Succeeded, Failed, TimeOut, Cancelled)? */
bool rfc_status_final(const char *status);

/* --- action.c --------------------------------------------------------------------------------- */
/* Device and action ids as the agent takes them (mqtt-device-id): 1..128 printable ASCII
 * characters without space, '+', '#' and '/' (never an MQTT wildcard or a topic level
 * separator), and not "." or "..". */
bool rfc_valid_id(const char *id);
/* ISO 8601 UTC with milliseconds, as MDE writes it: 2026-12-06T06:46:13.123Z. */
void rfc_time_iso(char *buf, size_t len, const struct timespec *ts);
/* A random (v4) UUID, the action's id. 0 or -errno. */
int rfc_uuid(char *buf, size_t len);
/* A new Pending machineAction. New reference, or NULL (ENOMEM). */
/* notAfter = now + timeout: a device that sees it later answers TimeOut instead of acting. */
json_t *rfc_action_new(const char *id, const char *type, const char *device, const char *name,
		       const char *requestor, const char *comment, const char *scope,
		       const struct timespec *now, int timeout);
/* Parse an isolate/unisolate body: {"Comment": "...", "IsolationType": "Full"}. 0, or -EINVAL
 * with an MDE-style message in err. *comment and *scope point into *root (caller json_decref). */
int rfc_action_request(const char *body, size_t len, bool isolate, json_t **root,
		       const char **comment, const char **scope, char *err, size_t errlen);
/* Why the device cannot take a new action of `type` now (caller holds the fleet lock): NULL if
 * it can, else an MDE-style message; *code gets the error code. */
const char *rfc_action_conflict(struct rfc_fleet *f, const struct rfc_device *d, const char *type,
				const char **code);
/* Actions of the fleet (device NULL) or of one device, newest first, at most max. New ref. */
json_t *rfc_actions_json(struct rfc_fleet *f, const char *device, size_t max);
/* Set a Pending/InProgress action older than timeout seconds to TimeOut: the copies to publish
 * are appended to `out` (a JSON array of {"device","doc"}). Caller holds the fleet lock. */
void rfc_actions_expire(struct rfc_fleet *f, int timeout, const struct timespec *now, json_t *out);

/* --- broker.c --------------------------------------------------------------------------------- */
struct rfc_broker;
/* Connect (in the background: libmosquitto's thread reconnects), subscribe to PREFIX/+/status and
 * PREFIX/+/actions/+, feed the fleet. NULL on a setup error (message on stderr). */
struct rfc_broker *rfc_broker_start(const struct rfc_opts *o, struct rfc_fleet *f);
void rfc_broker_stop(struct rfc_broker *b);
bool rfc_broker_connected(struct rfc_broker *b);
/* Publish the action: its retained document on PREFIX/DEVICE/actions/ID, then the request on
 * PREFIX/DEVICE/actions (QoS 1, expiring with the action's timeout). 0 or -errno. */
int rfc_broker_send_action(struct rfc_broker *b, const char *device, json_t *doc, int expiry);
/* Publish only the retained document (a TimeOut). 0 or -errno. */
int rfc_broker_update_action(struct rfc_broker *b, const char *device, json_t *doc);

/* --- http.c / api.c --------------------------------------------------------------------------- */
struct rfc_ctx {
	const struct rfc_opts *opts;
	struct rfc_tokens *tokens;
	struct rfc_fleet *fleet;
	struct rfc_broker *broker;
};
/* A response: status code, body (malloc'd) and its content type. */
struct rfc_reply {
	unsigned int code;
	char *body;
	const char *type;
	char log[160]; /* what the request log line adds (an action id, an error code) */
};
/* Route an authenticated request. The reply is always set. */
void rfc_api(struct rfc_ctx *c, const char *requestor, const char *method, const char *url,
	     const char *query_machine, const char *body, size_t len, struct rfc_reply *r);
/* An MDE-style error reply: {"error": {"code": ..., "message": ...}}. */
void rfc_reply_error(struct rfc_reply *r, unsigned int status, const char *code, const char *msg);
struct rfc_http;
struct rfc_http *rfc_http_start(struct rfc_ctx *c);
void rfc_http_stop(struct rfc_http *h);

/* --- web.c ------------------------------------------------------------------------------------ */
/* The embedded page file for a URL path ("/" is index.html), or NULL. */
const char *rfc_web_file(const char *path, size_t *len, const char **type);

#endif /* RF_CONSOLE_H */
