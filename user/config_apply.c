// SPDX-License-Identifier: GPL-2.0-only
/*
 * Applying the config file to the maps: add what it allows, then remove what only an earlier
 * config allowed (rf_reconcile), record what was applied, set the built-in switches.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "rf_config.h"
#include "rf_dhcp.h"
#include "rf_hosts.h"
#include "rf_policy.h"
#include "rf_reconcile.h"
#include "rf_rule.h"
#include "rf_service.h"
#include "rf_util.h"

/* Id of the map behind fd: a new id means the maps were created anew and must be refilled. */
static __u32 map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* What the previous apply wrote: its lines and whether they went into the map there now. */
static int load_applied(struct rf_ctx *ctx, const char *header, char ***had, size_t *nhad,
			bool *same_map)
{
	int ret = rf_state_lines_load(ctx->state_dir, RF_CONFIG_APPLIED, had, nhad);

	*same_map = false;
	if (ret)
		return ret;
	/* the first line names the map the rules went into; a new map holds none of them */
	if (*nhad && (*had)[0][0] == '#') {
		*same_map = !strcmp((*had)[0], header);
		free((*had)[0]);
		memmove(*had, *had + 1, --*nhad * sizeof(**had));
	}
	return 0;
}

static void change_lines(struct rf_ctx *ctx, struct rf_maps *m, const char *const *lines, size_t n,
			 size_t nconfig, bool add)
{
	char err[RF_ERR_MAX], first[RF_ERR_MAX] = "", first_err[RF_ERR_MAX] = "";
	size_t i, failed = 0;

	for (i = 0; i < n; i++) {
		struct rf_rule r;
		int ret;

		if (rf_rule_parse_line(lines[i], &r, err, sizeof(err))) {
			rf_err("internal error on config rule '%s': %s", lines[i], err);
			continue;
		}
		r.entry.origin = i < nconfig ? RF_ENTRY_CONFIG : RF_ENTRY_BUILTIN;
		ret = rf_policy_change(m, &r, add, ctx->cg_dir, err, sizeof(err));
		if (ret && ret != (add ? -EEXIST : -ENOENT))
			rf_warn("%s: '%s' not %s: %s", ctx->config, lines[i],
				add ? "applied" : "removed", err);
		if (ret && add && ret != -EEXIST && !failed++) {
			snprintf(first, sizeof(first), "%s", lines[i]);
			snprintf(first_err, sizeof(first_err), "%s", err);
		}
	}
	rf_svc_record_not_applied(ctx, "config", failed, first, first_err);
}

/* Bring the maps' rules in line with want (add first, then remove). */
static int reconcile_rules(struct rf_ctx *ctx, struct rf_maps *m, char **want, size_t nwant,
			   size_t nconfig)
{
	char header[64], **had = NULL, **user = NULL;
	size_t nhad = 0, nuser = 0;
	struct rf_reconcile rc = {0};
	bool same_map;
	int ret;

	snprintf(header, sizeof(header), "# map-id %u", map_id(m->net));
	/* a state dir that cannot be read or written must not keep the config (built-ins, the
	 * packet guard) out of the maps: with nothing known to be applied, rules are only added */
	if (load_applied(ctx, header, &had, &nhad, &same_map) ||
	    rf_rules_load(ctx->state_dir, &user, &nuser)) {
		rf_warn("%s/%s is unreadable: the configuration's rules are added, none removed",
			ctx->state_dir, RF_CONFIG_APPLIED);
		rf_lines_free(had, nhad);
		rf_lines_free(user, nuser);
		had = user = NULL;
		nhad = nuser = 0;
		same_map = false;
	}
	ret = rf_reconcile(want, nwant, had, nhad, same_map, user, nuser, &rc);
	if (!ret && !rc.unchanged) {
		rf_host_batch(m, true);
		change_lines(ctx, m, (const char *const *)want, nwant, nconfig, true);
		rf_host_batch(m, false);
		change_lines(ctx, m, rc.del, rc.ndel, 0, false);
		if (rf_state_lines_save(ctx->state_dir, RF_CONFIG_APPLIED, header, want, nwant))
			rf_warn("the configuration is applied, but %s/%s could not be written",
				ctx->state_dir, RF_CONFIG_APPLIED);
	}
	if (ret)
		rf_err("failed to apply %s: %s", ctx->config, strerror(-ret));
	rf_reconcile_free(&rc);
	rf_lines_free(had, nhad);
	rf_lines_free(user, nuser);
	return ret;
}

/*
 * While isolated, "dns auto" keeps the resolvers applied before (at isolate): resolv.conf is
 * written from DHCP answers, i.e. by the network, so a planted nameserver must not widen an
 * isolation in force. They are the applied resolver lines that no config rule wrote. If the
 * applied lines cannot be read, no resolver is kept (fail closed).
 */
static void freeze_resolvers(struct rf_ctx *ctx, struct rf_conf *conf)
{
	char **had = NULL, cidr[64];
	size_t nhad = 0, i, j;

	if (!conf->dns_auto)
		return;
	conf->dns_auto = false;
	conf->nresolvers = 0;
	if (rf_state_lines_load(ctx->state_dir, RF_CONFIG_APPLIED, &had, &nhad))
		return;
	for (i = 0; i < nhad && conf->nresolvers < RF_MAX_RESOLVERS; i++) {
		char err[RF_ERR_MAX];

		if (sscanf(had[i], "net %63s proto udp port 53 dir out", cidr) != 1)
			continue;
		for (j = 0; j < conf->nrules && strcmp(conf->rules[j], had[i]); j++)
			;
		if (j == conf->nrules &&
		    !rf_parse_cidr(cidr, &conf->resolvers[conf->nresolvers], err, sizeof(err)))
			conf->nresolvers++;
	}
	rf_lines_free(had, nhad);
}

/* Is key (a /128 or mapped /32) systemd-resolved's stub, 127.0.0.53 or 127.0.0.54? */
static bool stub_resolver(const struct rf_net_key *k)
{
	static const __u8 stub[16] = {[10] = 0xff, [11] = 0xff, [12] = 127, [15] = 53};

	return !memcmp(k->addr, stub, 15) && (k->addr[15] == 53 || k->addr[15] == 54);
}

/*
 * rf_dns_resolver: whose answers may teach host rules' addresses. The dns built-in's resolvers
 * (want's lines after the config's own), and when one is systemd-resolved's stub, its upstreams
 * (/run/systemd/resolve/resolv.conf, or $RINGFENCE_RESOLVED_CONF): the stub's own queries go
 * there. While isolated (frozen) an upstream is kept only if it was there already: that file
 * comes from DHCP, i.e. from the network, like resolv.conf.
 */
static void apply_resolvers(struct rf_maps *m, char *const *want, size_t nwant, size_t nconfig,
			    bool frozen)
{
	const char *up = getenv("RINGFENCE_RESOLVED_CONF");
	struct rf_addr_key addrs[RF_MAX_DNS_RESOLVERS], cur;
	struct rf_net_key keys[RF_MAX_RESOLVERS];
	struct rf_allow_val v;
	size_t n = 0, i, nup;
	bool stub = false;
	char cidr[64];
	int ret;

	if (m->dns_resolver < 0)
		return;
	for (i = nconfig; i < nwant && n < RF_MAX_DNS_RESOLVERS; i++) {
		char err[RF_ERR_MAX];
		struct rf_net_key k;

		if (sscanf(want[i], "net %63s proto udp port 53 dir out", cidr) != 1 ||
		    rf_parse_cidr(cidr, &k, err, sizeof(err)))
			continue;
		stub |= stub_resolver(&k);
		memcpy(addrs[n++].addr, k.addr, 16);
	}
	nup = stub ? rf_resolv_conf(up && *up ? up : "/run/systemd/resolve/resolv.conf", keys,
				    RF_MAX_RESOLVERS)
		   : 0;
	for (i = 0; i < nup && n < RF_MAX_DNS_RESOLVERS; i++) {
		memcpy(cur.addr, keys[i].addr, 16);
		if (!frozen || !bpf_map_lookup_elem(m->dns_resolver, &cur, &v))
			addrs[n++] = cur;
	}
	if ((ret = rf_host_resolvers_set(m, addrs, n)))
		rf_warn(
		    "rf_dns_resolver not updated (host rules learn from the resolvers it held): "
		    "%s",
		    strerror(-ret));
}

int rf_svc_apply_config(struct rf_ctx *ctx, struct rf_maps *m)
{
	struct rf_config_change c = {.fields = RF_CFG_F_BUILTINS};
	const char *resolv = getenv("RINGFENCE_RESOLV_CONF");
	char err[RF_ERR_MAX] = "", **want = NULL;
	struct rf_config cur = {};
	size_t nwant = 0;
	struct rf_conf conf;
	bool frozen;
	__u32 ttl;
	int ret;

	ctx->config_warning[0] = '\0';
	ret = rf_conf_load(ctx->config, &conf, err, sizeof(err));
	if (ret) {
		rf_warn("%s", err);
		snprintf(ctx->config_warning, sizeof(ctx->config_warning), "%s", err);
		return -EINVAL;
	}
	/* the built-ins' peers are frozen while isolated (a garbage value counts as isolated) */
	frozen = !rf_config_get(m, &cur) && cur.isolated;
	if (frozen)
		freeze_resolvers(ctx, &conf);
	ret = rf_conf_rule_lines(&conf, resolv && *resolv ? resolv : "/etc/resolv.conf", &want,
				 &nwant);
	if (!ret)
		ret = reconcile_rules(ctx, m, want, nwant, conf.nrules);
	if (!ret)
		apply_resolvers(m, want, nwant, conf.nrules, frozen);
	c.val.builtins = (conf.dhcp ? RF_BUILTIN_DHCP : 0) | (conf.nd ? RF_BUILTIN_ND : 0);
	if (!ret && (ret = rf_config_update(m, &c, NULL)))
		rf_err("failed to set the built-in rules in rf_config: %s", strerror(-ret));
	if (!ret)
		ret = rf_svc_sync_flags(m);
	if (!ret)
		rf_dhcp_apply(ctx->pin_dir, &conf, frozen);
	if (!ret)
		rf_svc_packet_guard(ctx, conf.packet_guard);
	if (!ret && rf_svc_mode(&cur) != RF_SVC_OFF) /* new rules or resolvers: look names up */
		rf_hosts_refresh(m, &ttl);
	rf_lines_free(want, nwant);
	rf_conf_free(&conf);
	return ret;
}
