// SPDX-License-Identifier: GPL-2.0-only
/* The mqtt-* settings: broker URL, names usable in topics, the device id (see rf_mqtt.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rf_config.h"
#include "rf_mqtt.h"
#include "rf_service.h"
#include "rf_util.h"

static int url_port(const char *s, int *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 65535)
		return -EINVAL;
	*port = (int)v;
	return 0;
}

int rf_mqtt_url_parse(const char *url, struct rf_mqtt_url *u, char *err, size_t errlen)
{
	const char *p, *host_end, *colon = NULL;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (!strncmp(url, "mqtts://", 8))
		u->tls = true, p = url + 8;
	else if (!strncmp(url, "mqtt://", 7))
		p = url + 7;
	else
		goto bad;
	if (*p == '[') { /* [IPv6]:PORT */
		host_end = strchr(p, ']');
		if (!host_end)
			goto bad;
		p++;
		colon = host_end[1] == ':' ? host_end + 1 : NULL;
		if (host_end[1] && !colon)
			goto bad;
	} else {
		host_end = p + strcspn(p, ":/");
		colon = *host_end == ':' ? host_end : NULL;
		if (*host_end == '/')
			goto bad;
	}
	n = (size_t)(host_end - p);
	if (!n || n >= sizeof(u->host) ||
	    (strpbrk(p, " \t/?#@") && strpbrk(p, " \t/?#@") < host_end))
		goto bad;
	memcpy(u->host, p, n);
	u->port = u->tls ? 8883 : 1883;
	if (colon && url_port(colon + 1, &u->port))
		goto bad;
	return 0;
bad:
	snprintf(err, errlen,
		 "invalid broker URL '%s': expected mqtts://HOST:PORT (or mqtt://HOST:PORT on a "
		 "closed network)",
		 url);
	return -EINVAL;
}

bool rf_mqtt_name_ok(const char *s, bool is_device)
{
	size_t n = strlen(s), i;

	if (!n || n > RF_MQTT_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || c == '+' || c == '#' || (is_device && c == '/'))
			return false;
	}
	return s[0] != '/' && s[n - 1] != '/';
}

int rf_machine_id(const char *path, char *id, size_t len)
{
	char *data, *p;
	int ret = rf_read_file(path ? path : "/etc/machine-id", &data, NULL);

	if (ret)
		return ret;
	for (p = data; *p && !isspace((unsigned char)*p); p++)
		;
	*p = '\0';
	ret = rf_mqtt_name_ok(data, true) ? 0 : -EINVAL;
	if (!ret)
		snprintf(id, len, "%s", data);
	free(data);
	return ret;
}

/* A file setting: an absolute path. */
static int conf_path(const char *kw, const char *v, char *out, size_t len, char *err, size_t errlen)
{
	if (v[0] != '/' || strlen(v) >= len) {
		snprintf(err, errlen, "'%s' takes the absolute path of a PEM file, not '%s'", kw,
			 v);
		return -EINVAL;
	}
	snprintf(out, len, "%s", v);
	return 0;
}

int rf_mqtt_conf_set(const char *kw, const char *v, struct rf_mqtt_conf *c, char *err,
		     size_t errlen)
{
	struct rf_mqtt_url u;

	if (!strcmp(kw, "mqtt-broker")) {
		if (rf_mqtt_url_parse(v, &u, err, errlen) || strlen(v) >= sizeof(c->broker))
			return -EINVAL;
		snprintf(c->broker, sizeof(c->broker), "%s", v);
	} else if (!strcmp(kw, "mqtt-ca")) {
		return conf_path(kw, v, c->ca, sizeof(c->ca), err, errlen);
	} else if (!strcmp(kw, "mqtt-cert")) {
		return conf_path(kw, v, c->cert, sizeof(c->cert), err, errlen);
	} else if (!strcmp(kw, "mqtt-key")) {
		return conf_path(kw, v, c->key, sizeof(c->key), err, errlen);
	} else if (!strcmp(kw, "mqtt-device-id") || !strcmp(kw, "mqtt-topic-prefix")) {
		bool dev = !strcmp(kw, "mqtt-device-id");

		if (!rf_mqtt_name_ok(v, dev)) {
			snprintf(
			    err, errlen,
			    "'%s' takes 1 to %d printable characters without blanks, '+', '#'%s, "
			    "not '%s'",
			    kw, RF_MQTT_NAME_MAX, dev ? " or '/'" : "", v);
			return -EINVAL;
		}
		snprintf(dev ? c->device_id : c->prefix, sizeof(c->prefix), "%s", v);
	} else {
		snprintf(err, errlen, "unknown setting '%s'", kw);
		return -EINVAL;
	}
	return 0;
}

int rf_mqtt_conf_load(const struct rf_ctx *ctx, struct rf_mqtt_conf *c)
{
	char err[RF_ERR_MAX];
	struct rf_conf *conf = calloc(1, sizeof(*conf));
	int ret;

	if (!conf)
		return -ENOMEM;
	ret = rf_conf_load(ctx->config, conf, err, sizeof(err));
	if (ret)
		rf_err("%s", err);
	else
		*c = conf->mqtt;
	rf_conf_free(conf);
	free(conf);
	return ret;
}
