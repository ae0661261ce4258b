// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rf_config.h"
#include "rf_state.h"
#include "rf_util.h"

static int on_off(const char *v, bool *out);

void rf_conf_init(struct rf_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->dhcp = true;
	c->nd = true;
	c->dns_auto = true;
	c->packet_guard = RF_GUARD_AUTO;
}

int rf_conf_guard_word(const char *v)
{
	bool b;

	if (!strcmp(v, "auto"))
		return RF_GUARD_AUTO;
	if (on_off(v, &b))
		return -2;
	return b ? RF_GUARD_ON : RF_GUARD_OFF;
}

void rf_conf_free(struct rf_conf *c)
{
	size_t i;

	for (i = 0; i < c->nrules; i++)
		free(c->rules[i]);
	free(c->rules);
	rf_conf_init(c);
}

static int on_off(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

/*
 * A resolver is one host: an IPv4 or IPv6 address (no prefix, no hostname) that is unicast and
 * not unspecified, into key as a /32 (mapped /128) or /128. "0.0.0.0/0", "0.0.0.0", a broadcast
 * or multicast group as a "resolver" would open port 53 to every host or the whole link.
 * 0 or -EINVAL.
 */
static int resolver_key(const char *s, struct rf_net_key *k)
{
	struct in6_addr a6;
	struct in_addr a4;

	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET, s, &a4) == 1) {
		__u32 h = ntohl(a4.s_addr);

		if (h == 0 || h == 0xffffffffu || (h >> 28) == 0xe)
			return -EINVAL;
		k->prefixlen = 128;
		k->addr[10] = k->addr[11] = 0xff;
		memcpy(k->addr + 12, &a4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) != 1 || IN6_IS_ADDR_UNSPECIFIED(&a6) ||
	    IN6_IS_ADDR_MULTICAST(&a6) || IN6_IS_ADDR_V4MAPPED(&a6))
		return -EINVAL;
	k->prefixlen = 128;
	memcpy(k->addr, &a6, 16);
	return 0;
}

static int parse_dns(char *v, struct rf_conf *c, char *err, size_t errlen)
{
	char *save = NULL, *ip;

	c->dns_auto = false;
	c->nresolvers = 0;
	if (!strcmp(v, "auto")) {
		c->dns_auto = true;
		return 0;
	}
	if (!strcmp(v, "off"))
		return 0;
	for (ip = strtok_r(v, ",", &save); ip; ip = strtok_r(NULL, ",", &save)) {
		struct rf_net_key k;

		if (c->nresolvers == RF_MAX_RESOLVERS) {
			snprintf(err, errlen, "more than %d resolvers", RF_MAX_RESOLVERS);
			return -EINVAL;
		}
		if (resolver_key(ip, &k)) {
			snprintf(err, errlen,
				 "invalid resolver '%s': expected auto, off or IP[,IP...] (unicast "
				 "addresses, no prefixes)",
				 ip);
			return -EINVAL;
		}
		c->resolvers[c->nresolvers++] = k;
	}
	return 0;
}

/* One setting: its value (blanks trimmed) into c. 0 or -errno with err. */
typedef int (*setting_fn)(const char *kw, char *v, struct rf_conf *c, char *err, size_t errlen);

static int set_allow(const char *kw, char *v, struct rf_conf *c, char *err, size_t errlen)
{
	char text[RF_RULE_TEXT_MAX];
	struct rf_rule r;

	(void)kw;
	if (rf_rule_parse_line(v, &r, err, errlen) || rf_rule_check_new(&r, err, errlen))
		return -EINVAL;
	if (c->nrules == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		char **nr = realloc(c->rules, ncap * sizeof(*nr));

		if (!nr) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		c->rules = nr;
		c->cap = ncap;
	}
	rf_rule_format(&r, text, sizeof(text));
	c->rules[c->nrules] = strdup(text);
	if (!c->rules[c->nrules]) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->nrules++;
	return 0;
}

static int set_switch(const char *kw, char *v, struct rf_conf *c, char *err, size_t errlen)
{
	bool b;

	if (on_off(v, &b)) {
		snprintf(err, errlen, "'%s' takes on or off, not '%s'", kw, v);
		return -EINVAL;
	}
	if (!strcmp(kw, "dhcp"))
		c->dhcp = b;
	else
		c->nd = b;
	return 0;
}

static int set_dhcp_server(const char *kw, char *v, struct rf_conf *c, char *err, size_t errlen)
{
	struct rf_addr_key *k = &c->dhcp_servers[c->ndhcp_servers];

	(void)kw;
	if (c->ndhcp_servers == RF_MAX_DHCP_SERVERS) {
		snprintf(err, errlen, "more than %d dhcp-server lines", RF_MAX_DHCP_SERVERS);
		return -EINVAL;
	}
	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET, v, k->addr + 12) == 1) {
		k->addr[10] = k->addr[11] = 0xff;
	} else if (inet_pton(AF_INET6, v, k->addr) != 1) {
		snprintf(err, errlen, "'dhcp-server' takes one IPv4 or IPv6 address, not '%s'", v);
		return -EINVAL;
	}
	c->ndhcp_servers++;
	return 0;
}

static int set_packet_guard(const char *kw, char *v, struct rf_conf *c, char *err, size_t errlen)
{
	int g = rf_conf_guard_word(v);

	(void)kw;
	if (g == -2) {
		snprintf(err, errlen, "'packet-guard' takes auto, on or off, not '%s'", v);
		return -EINVAL;
	}
	c->packet_guard = g;
	return 0;
}

static int set_dns(const char *kw, char *v, struct rf_conf *c, char *err, size_t errlen)
{
	(void)kw;
	if (!*v || strchr(v, ' ') || strchr(v, '\t')) {
		snprintf(err, errlen, "'dns' takes auto, off or IP[,IP...] without blanks");
		return -EINVAL;
	}
	return parse_dns(v, c, err, errlen);
}

static int set_btf(const char *kw, char *v, struct rf_conf *c, char *err, size_t errlen)
{
	(void)kw;
	if (v[0] != '/' || strlen(v) >= sizeof(c->btf)) {
		snprintf(err, errlen, "'btf' takes the absolute path of a BTF file, not '%s'", v);
		return -EINVAL;
	}
	snprintf(c->btf, sizeof(c->btf), "%s", v);
	return 0;
}

static int set_mqtt(const char *kw, char *v, struct rf_conf *c, char *err, size_t errlen)
{
	return rf_mqtt_conf_set(kw, v, &c->mqtt, err, errlen);
}

static const struct {
	const char *kw;
	setting_fn set;
} settings[] = {
    {"allow", set_allow},
    {"dhcp", set_switch},
    {"nd", set_switch},
    {"dhcp-server", set_dhcp_server},
    {"packet-guard", set_packet_guard},
    {"dns", set_dns},
    {"btf", set_btf},
    {"mqtt-broker", set_mqtt},
    {"mqtt-ca", set_mqtt},
    {"mqtt-cert", set_mqtt},
    {"mqtt-key", set_mqtt},
    {"mqtt-device-id", set_mqtt},
    {"mqtt-topic-prefix", set_mqtt},
};

/* Parse one logical line (comment already stripped). Returns 0 or -EINVAL with err. */
static int parse_line(char *line, struct rf_conf *c, char *err, size_t errlen)
{
	char *kw, *rest;
	size_t n, i;

	kw = line + strspn(line, " \t");
	if (!*kw)
		return 0;
	rest = kw + strcspn(kw, " \t");
	if (*rest)
		*rest++ = '\0';
	rest += strspn(rest, " \t");
	n = strlen(rest); /* trim trailing blanks */
	while (n && (rest[n - 1] == ' ' || rest[n - 1] == '\t' || rest[n - 1] == '\r'))
		rest[--n] = '\0';
	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (!strcmp(kw, settings[i].kw))
			return settings[i].set(kw, rest, c, err, errlen);
	snprintf(
	    err, errlen,
	    "unknown setting '%s': expected allow, dhcp, dhcp-server, nd, dns, packet-guard, "
	    "btf or mqtt-broker, mqtt-ca, mqtt-cert, mqtt-key, mqtt-device-id, mqtt-topic-prefix",
	    kw);
	return -EINVAL;
}

/* A NUL byte would silently end the file there (the rest unread): an error naming its line. */
static int check_nul(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
	const char *nul = memchr(text, '\0', len), *p;
	int lineno = 1;

	if (!nul)
		return 0;
	for (p = text; p < nul; p++)
		lineno += *p == '\n';
	snprintf(err, errlen,
		 "%s:%d: a NUL byte (a binary or damaged file?): a config file is text; remove it",
		 name, lineno);
	return -EINVAL;
}

int rf_conf_parse_buf(const char *text, size_t len, const char *name, struct rf_conf *c, char *err,
		      size_t errlen)
{
	char *buf, *line, *next;
	char e[RF_ERR_MAX];
	int lineno = 0, ret;

	rf_conf_init(c);
	if ((ret = check_nul(text, len, name, err, errlen)))
		return ret;
	buf = strndup(text, len);
	if (!buf)
		return -ENOMEM;
	for (line = buf; line; line = next) {
		char *hash;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		ret = parse_line(line, c, e, sizeof(e));
		if (ret) {
			snprintf(err, errlen, "%s:%d: %s", name, lineno, e);
			break;
		}
	}
	free(buf);
	if (ret)
		rf_conf_free(c); /* nothing half-applied */
	return ret;
}

int rf_conf_parse(const char *text, const char *name, struct rf_conf *c, char *err, size_t errlen)
{
	return rf_conf_parse_buf(text, strlen(text), name, c, err, errlen);
}

int rf_conf_load(const char *path, struct rf_conf *c, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int ret;

	rf_conf_init(c);
	ret = rf_read_file(path, &text, &len);
	if (ret == -ENOENT)
		return 0;
	if (ret) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
		return ret;
	}
	ret = rf_conf_parse_buf(text, len, path, c, err, errlen);
	free(text);
	return ret;
}

size_t rf_resolv_conf(const char *path, struct rf_net_key *keys, size_t max)
{
	char line[512], ip[256];
	size_t n = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		char *pct;

		if (sscanf(line, " nameserver %255s", ip) != 1)
			continue;
		pct = strchr(ip, '%'); /* fe80::1%eth0: the zone is not part of the key */
		if (pct)
			*pct = '\0';
		/* an address, never a prefix: "nameserver 0.0.0.0/0" must not open port 53 */
		if (!resolver_key(ip, &keys[n]))
			n++;
	}
	fclose(f);
	return n;
}

static int push_line(char ***lines, size_t *n, const char *text)
{
	char **nl = *lines;

	if ((*n & (*n - 1)) == 0) { /* grow at powers of two */
		nl = realloc(*lines, (*n ? *n * 2 : 1) * sizeof(**lines));
		if (!nl)
			return -ENOMEM;
		*lines = nl;
	}
	nl[*n] = strdup(text);
	if (!nl[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

int rf_conf_rule_lines(const struct rf_conf *c, const char *resolv_path, char ***lines, size_t *n)
{
	struct rf_net_key keys[RF_MAX_RESOLVERS];
	const struct rf_net_key *res = c->resolvers;
	char text[RF_RULE_TEXT_MAX], cidr[64];
	size_t i, nres = c->nresolvers;
	int ret = 0;

	*lines = NULL;
	*n = 0;
	for (i = 0; i < c->nrules && !ret; i++)
		ret = push_line(lines, n, c->rules[i]);
	if (c->dns_auto) {
		nres = rf_resolv_conf(resolv_path, keys, RF_MAX_RESOLVERS);
		res = keys;
	}
	for (i = 0; i < nres && !ret; i++) {
		rf_format_cidr(&res[i], cidr, sizeof(cidr));
		snprintf(text, sizeof(text), "net %s proto udp port 53 dir out", cidr);
		ret = push_line(lines, n, text);
		snprintf(text, sizeof(text), "net %s proto tcp port 53 dir out", cidr);
		if (!ret)
			ret = push_line(lines, n, text);
	}
	if (ret) {
		rf_lines_free(*lines, *n);
		*lines = NULL;
		*n = 0;
	}
	return ret;
}
