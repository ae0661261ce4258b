/* SPDX-License-Identifier: GPL-2.0-only */
/* The configuration file: allow rules and the built-in network-keeping switches. */
#ifndef RF_CONFIG_H
#define RF_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include "rf_mqtt.h"
#include "rf_rule.h"

#define RF_MAX_RESOLVERS 8

struct rf_conf {
	char **rules; /* "allow RULE" lines, validated, as canonical rule text */
	size_t nrules;
	size_t cap;
	bool dhcp;     /* default on */
	bool nd;       /* default on */
	bool dns_auto; /* default: resolvers from resolv.conf at isolate time */
	struct rf_net_key resolvers[RF_MAX_RESOLVERS]; /* explicit "dns IP,IP" */
	size_t nresolvers;
	int packet_guard; /* RF_GUARD_*: tc layer against packet sockets; default auto */
	struct rf_addr_key dhcp_servers[RF_MAX_DHCP_SERVERS]; /* "dhcp-server ADDR" lines */
	size_t ndhcp_servers;
	char btf[PATH_MAX]; /* "btf FILE": kernel BTF for CO-RE, "" = /sys/kernel/btf/vmlinux */
	struct rf_mqtt_conf mqtt; /* mqtt-* settings: remote control (docs/REMOTE.md) */
};

#define RF_GUARD_AUTO -1 /* on when enforcing on the cgroup2 root (the whole host), else off */
#define RF_GUARD_OFF  0
#define RF_GUARD_ON   1

/* Defaults: no rules, dhcp on, nd on, dns auto. */
void rf_conf_init(struct rf_conf *c);
void rf_conf_free(struct rf_conf *c);

/*
 * Parse a config file. A missing file is not an error (defaults). On any error returns -EINVAL
 * (or -errno) with "FILE:LINE: problem" in err, and c is left with defaults (nothing applied).
 */
int rf_conf_load(const char *path, struct rf_conf *c, char *err, size_t errlen);
/* Same, from len bytes in memory; name is used in messages. A NUL byte is an error naming its
 * line, never the silent end of the file. */
int rf_conf_parse_buf(const char *text, size_t len, const char *name, struct rf_conf *c, char *err,
		      size_t errlen);
/* rf_conf_parse_buf() of a NUL-terminated string. */
int rf_conf_parse(const char *text, const char *name, struct rf_conf *c, char *err, size_t errlen);

/* One mqtt-* setting (user/mqtt_conf.c): 0 or -EINVAL with err. */
int rf_mqtt_conf_set(const char *kw, const char *v, struct rf_mqtt_conf *c, char *err,
		     size_t errlen);

/* "auto" -> RF_GUARD_AUTO, "on"/"off" (yes/no, true/false) -> RF_GUARD_ON/OFF, else -2. */
int rf_conf_guard_word(const char *v);

/* Nameservers from a resolv.conf-format file as /128 (or mapped /32) keys. Returns the count. */
size_t rf_resolv_conf(const char *path, struct rf_net_key *keys, size_t max);

/*
 * The rules the config stands for, as canonical text lines: the allow rules, then one
 * "net IP/len proto udp port 53 dir out" and one "... proto tcp ..." per resolver.
 * resolv_path: where "dns auto" reads nameservers. Caller frees with rf_lines_free().
 */
int rf_conf_rule_lines(const struct rf_conf *c, const char *resolv_path, char ***lines, size_t *n);

#endif /* RF_CONFIG_H */
