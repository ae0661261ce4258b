// SPDX-License-Identifier: GPL-2.0-only
/* The console's command line and config file: one table of keys serves both. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>
#include <mosquitto.h>
#include "console.h"

enum opt_kind { OPT_STR, OPT_FLAG, OPT_LISTEN, OPT_BROKER, OPT_DURATION, OPT_RATE };

struct opt_def {
	const char *key;
	enum opt_kind kind;
	size_t off, len;
};

#define STR_OPT(k, field)                                                                          \
	{                                                                                          \
		k, OPT_STR, offsetof(struct rfc_opts, field),                                      \
		    sizeof(((struct rfc_opts *)0)->field)                                          \
	}
static const struct opt_def opt_defs[] = {
    {"listen", OPT_LISTEN, 0, 0},
    {"broker", OPT_BROKER, 0, 0},
    STR_OPT("tokens", tokens),
    STR_OPT("tls-cert", tls_cert),
    STR_OPT("tls-key", tls_key),
    {"insecure-http", OPT_FLAG, offsetof(struct rfc_opts, insecure_http), 0},
    STR_OPT("topic-prefix", prefix),
    STR_OPT("mqtt-ca", mqtt_ca),
    STR_OPT("mqtt-cert", mqtt_cert),
    STR_OPT("mqtt-key", mqtt_key),
    {"action-timeout", OPT_DURATION, offsetof(struct rfc_opts, action_timeout), 0},
    {"rate-limit", OPT_RATE, 0, 0},
};
#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

int rfc_parse_duration(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || v <= 0)
		return -1;
	if (!strcmp(end, "d"))
		v *= 86400;
	else if (!strcmp(end, "h"))
		v *= 3600;
	else if (!strcmp(end, "m"))
		v *= 60;
	else if (*end && strcmp(end, "s"))
		return -1;
	return v > 30L * 86400 ? -1 : (int)v;
}

int rfc_parse_rate(const char *s, unsigned int *per_minute, unsigned int *per_hour)
{
	unsigned long m, h;
	char *end;

	errno = 0;
	m = strtoul(s, &end, 10);
	if (errno || end == s || *end != '/' || !m)
		return -EINVAL;
	s = end + 1;
	h = strtoul(s, &end, 10);
	if (errno || end == s || *end || h < m || h > 10000000)
		return -EINVAL;
	*per_minute = (unsigned int)m;
	*per_hour = (unsigned int)h;
	return 0;
}

int rfc_parse_hostport(const char *s, char *host, size_t hostlen, unsigned short *port)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	long p;

	if (*s == '[') {
		colon = strstr(s, "]:");
		h = s + 1;
		hl = colon ? (size_t)(colon - h) : 0;
		colon = colon ? colon + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		hl = colon ? (size_t)(colon - s) : 0;
		if (colon && memchr(s, ':', hl))
			return -EINVAL; /* a bare IPv6 address: brackets needed */
	}
	if (!colon || !hl || hl >= hostlen)
		return -EINVAL;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p <= 0 || p > 65535)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned short)p;
	return 0;
}

int rfc_parse_broker(const char *url, char *host, size_t hostlen, unsigned short *port, bool *tls)
{
	if (!strncmp(url, "mqtt://", 7)) {
		*tls = false;
		return rfc_parse_hostport(url + 7, host, hostlen, port);
	}
	if (!strncmp(url, "mqtts://", 8)) {
		*tls = true;
		return rfc_parse_hostport(url + 8, host, hostlen, port);
	}
	return -EINVAL;
}

static int opt_apply(struct rfc_opts *o, const struct opt_def *d, const char *value)
{
	char *field = (char *)o + d->off;
	int secs;

	switch (d->kind) {
	case OPT_FLAG:
		*(bool *)field = true;
		return 0;
	case OPT_LISTEN:
		return rfc_parse_hostport(value, o->listen_host, sizeof(o->listen_host),
					  &o->listen_port);
	case OPT_BROKER:
		return rfc_parse_broker(value, o->broker_host, sizeof(o->broker_host),
					&o->broker_port, &o->broker_tls);
	case OPT_RATE:
		return rfc_parse_rate(value, &o->rate_minute, &o->rate_hour);
	case OPT_DURATION:
		secs = rfc_parse_duration(value);
		if (secs < 0)
			return -EINVAL;
		*(int *)field = secs;
		return 0;
	case OPT_STR:
		if (!*value || strlen(value) >= d->len)
			return -EINVAL;
		strcpy(field, value);
		return 0;
	}
	return -EINVAL;
}

int rfc_opt_set(struct rfc_opts *o, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++) {
		if (strcmp(opt_defs[i].key, key))
			continue;
		if ((opt_defs[i].kind == OPT_FLAG) != !value)
			return -EINVAL;
		return opt_apply(o, &opt_defs[i], value);
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int rfc_opt_file(struct rfc_opts *o, const char *path)
{
	char line[8192], *key, *value;
	int n = 0, err = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		fprintf(stderr, "ringfence-console: cannot read config %s: %s\n", path,
			strerror(-err));
		return err;
	}
	while (fgets(line, sizeof(line), f)) {
		n++;
		key = trim(line);
		if (!*key || *key == '#')
			continue;
		value = key + strcspn(key, " \t");
		if (*value)
			*value++ = '\0';
		value = trim(value);
		if (rfc_opt_set(o, key, *value ? value : NULL)) {
			fprintf(stderr, "ringfence-console: %s:%d: bad setting '%s'%s%s\n", path, n,
				key, *value ? " " : "", value);
			err = -EINVAL;
			break;
		}
	}
	fclose(f);
	return err;
}

int rfc_opt_check(const struct rfc_opts *o)
{
	const char *missing = !o->listen_port	? "--listen ADDR:PORT"
			      : !o->broker_port ? "--broker mqtt[s]://HOST:PORT"
			      : !*o->tokens	? "--tokens FILE"
						: NULL;

	if (missing) {
		fprintf(stderr, "ringfence-console: %s is required (see --help)\n", missing);
		return -EINVAL;
	}
	if (!*o->tls_cert != !*o->tls_key) {
		fprintf(stderr, "ringfence-console: --tls-cert and --tls-key go together\n");
		return -EINVAL;
	}
	if (!*o->tls_cert && !o->insecure_http) {
		fprintf(stderr,
			"ringfence-console: no TLS certificate: give --tls-cert FILE "
			"--tls-key FILE, or --insecure-http for plain HTTP (bearer tokens then "
			"cross the network in clear: only behind a TLS proxy or on loopback)\n");
		return -EINVAL;
	}
	if (o->insecure_http && strncmp(o->listen_host, "127.", 4) && strcmp(o->listen_host, "::1"))
		fprintf(stderr,
			"ringfence-console: warning: plain HTTP on %s, not loopback: bearer "
			"tokens cross the network in clear (use only behind a TLS proxy)\n",
			o->listen_host);
	if (*o->tls_cert && o->insecure_http) {
		fprintf(stderr, "ringfence-console: --insecure-http and --tls-cert exclude each "
				"other\n");
		return -EINVAL;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: ringfence-console --listen ADDR:PORT --broker mqtt[s]://HOST:PORT "
		   "--tokens FILE\n"
		   "         [--tls-cert FILE --tls-key FILE | --insecure-http]\n"
		   "         [--topic-prefix P] [--mqtt-ca F] [--mqtt-cert F --mqtt-key F]\n"
		   "         [--action-timeout D] [--rate-limit PER_MIN/PER_HOUR] [--config FILE]\n"
		   "       ringfence-console --help | --version\n"
		   "The responders' HTTP API (MDE machine-action shapes) and web page for the "
		   "devices on an MQTT broker.\n"
		   "Token file: one 'NAME TOKEN' line per responder or playbook (mode 0600).\n"
		   "Config file: the same keys without '--', one 'KEY VALUE' per line.\n");
}

/* getopt's table, from opt_defs: one table for the command line and the config file. */
static void long_opts_fill(struct option *lo)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++)
		lo[i] = (struct option){
		    opt_defs[i].key, opt_defs[i].kind == OPT_FLAG ? no_argument : required_argument,
		    0, 0};
	lo[i++] = (struct option){"config", required_argument, 0, 'c'};
	lo[i++] = (struct option){"help", no_argument, 0, 'h'};
	lo[i++] = (struct option){"version", no_argument, 0, 'V'};
	lo[i] = (struct option){0, 0, 0, 0};
}

static void print_version(void)
{
	int maj, min, rev;

	mosquitto_lib_version(&maj, &min, &rev);
	printf(
	    "ringfence-console %s (git %s), libmicrohttpd %s, libmosquitto %d.%d.%d, jansson %s\n",
	    RF_VERSION, RF_GIT_REV, MHD_get_version(), maj, min, rev, jansson_version_str());
}

static void opts_default(struct rfc_opts *o)
{
	memset(o, 0, sizeof(*o));
	strcpy(o->prefix, "ringfence");
	o->action_timeout = 3600;
	o->rate_minute = RFC_RATE_PER_MINUTE;
	o->rate_hour = RFC_RATE_PER_HOUR;
}

int rfc_parse_args(struct rfc_opts *o, int argc, char **argv)
{
	struct option long_opts[N_OPTS + 4];
	int c, idx, i;

	opts_default(o);
	long_opts_fill(long_opts);
	/* the config file first, so the command line overrides it */
	for (i = 1; i < argc - 1; i++)
		if (!strcmp(argv[i], "--config") && rfc_opt_file(o, argv[i + 1]))
			return -EINVAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", long_opts, &idx)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == 'V') {
			print_version();
			exit(0);
		}
		if (c == 'c')
			continue;
		if (c != 0 || rfc_opt_set(o, long_opts[idx].name, optarg)) {
			if (c == 0)
				fprintf(stderr, "ringfence-console: bad value for --%s: '%s'\n",
					long_opts[idx].name, optarg ? optarg : "");
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringfence-console: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return rfc_opt_check(o);
}
