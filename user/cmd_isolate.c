// SPDX-License-Identifier: GPL-2.0-only
/* isolate and release (alias unisolate). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "rf_cmd.h"
#include "rf_policy.h"
#include "rf_rule.h"
#include "rf_util.h"

const char rf_help_isolate[] =
	"Usage: ringfence isolate [--comment TEXT] [--for DURATION] [--force]\n"
	"Isolate the host: from now on only loopback, allowed destinations, allowed processes\n"
	"and the built-in DHCP/ND rules pass; existing connections to other peers stop too.\n"
	"  --comment TEXT   recorded in the action history and shown by status\n"
	"  --for DURATION   release automatically after DURATION (90s, 15m, 2h, 1d); enforced by\n"
	"                   the kernel, so it holds even if no ringfence process runs\n"
	"  --force          isolate even though no destination or process is allowed (the host\n"
	"                   can then only be released from its console)\n"
	"Running it while already isolated changes nothing and exits 0. A configuration file\n"
	"with an error does not stop isolation: the last applied policy stays in force, and the\n"
	"problem is printed and recorded in the history.\n";

const char rf_help_release[] =
	"Usage: ringfence release [--comment TEXT]   (alias: unisolate)\n"
	"End isolation; full connectivity returns at once. Exits 0 if not isolated.\n";

/* Count net entries that can carry management traffic (not the built-in DNS rules). */
static int count_way_back(const struct rf_net_key *k, const struct rf_net_entry *e, void *arg)
{
	(void)k;
	if (e->origin & RF_ENTRY_BUILTIN)
		return 0;
	(*(size_t *)arg)++;
	return 1; /* one is enough */
}

/* Is anything allowed that management could come back through? */
static bool has_way_back(const struct rf_maps *m)
{
	size_t nnet = 0;

	rf_policy_for_each_net(m, count_way_back, &nnet);
	return nnet || rf_map_count(m->exe, sizeof(struct rf_exe_key), 1) ||
	       rf_map_count(m->cgroup, sizeof(__u64), 1);
}

/* Set the flag (the moment isolation starts), then persist the record for reboots. */
static int set_isolated(struct rf_ctx *ctx, struct rf_maps *m, const struct rf_cmd_opts *o,
			__u64 secs)
{
	struct rf_config_change c = { .fields = RF_CFG_F_ABI | RF_CFG_F_ISOLATED |
						RF_CFG_F_DEADLINE | RF_CFG_F_SINCE };
	struct rf_isolation iso = { .isolated = true };
	int ret;

	c.val.abi_version = RF_ABI_VERSION;
	c.val.isolated = RF_ISOLATED;
	c.val.since_unix_ns = rf_now_unix_ns();
	c.val.deadline_ns = secs ? rf_now_boot_ns() + secs * 1000000000ULL : 0;
	ret = rf_config_update(m, &c, NULL);
	if (ret) {
		rf_err("failed to set the isolation flag: %s", strerror(-ret));
		return ret;
	}
	iso.since_unix_ns = c.val.since_unix_ns;
	iso.deadline_unix_ns = secs ? c.val.since_unix_ns + secs * 1000000000ULL : 0;
	snprintf(iso.comment, sizeof(iso.comment), "%s", o->comment ? o->comment : "");
	ret = rf_isolation_save(ctx->state_dir, &iso);
	if (ret)
		rf_warn("isolation is on but %s/isolation was not saved: %s (it will not be "
			"restored after a reboot)",
			ctx->state_dir, strerror(-ret));
	return 0;
}

static void print_isolated(struct rf_ctx *ctx, bool changed, __u64 secs, __u64 action_id)
{
	if (!changed) {
		printf(ctx->json ? "{\"isolated\":true,\"changed\":false}\n"
				 : "already isolated; nothing changed\n");
		return;
	}
	if (ctx->json) {
		printf("{\"isolated\":true,\"changed\":true,\"cgroup\":");
		rf_json_str(stdout, ctx->cg_dir);
		printf(",\"deadline_seconds\":%llu,\"action_id\":%llu,\"warning\":",
		       (unsigned long long)secs, (unsigned long long)action_id);
		if (ctx->config_warning[0])
			rf_json_str(stdout, ctx->config_warning);
		else
			printf("null");
		printf("}\n");
		return;
	}
	printf("isolated %s", ctx->cg_dir);
	if (secs)
		printf(" for %llus", (unsigned long long)secs);
	printf("\n");
}

/* The isolate action itself, under the state lock. */
static int isolate_locked(struct rf_ctx *ctx, const struct rf_cmd_opts *o, __u64 secs)
{
	struct rf_maps m = RF_MAPS_INIT;
	struct rf_config cfg;
	struct rf_action a;
	const char *fail = NULL;
	bool changed = false;
	int ret;

	rf_svc_action_defer(&a, "isolate", o->comment);
	if ((ret = rf_svc_ensure_loaded(ctx, &m, true))) {
		fail = "load or configuration failed";
	} else if ((ret = rf_config_get(&m, &cfg))) {
		rf_err("failed to read rf_config: %s", strerror(-ret));
		fail = "cannot read rf_config";
	} else if (rf_svc_isolated_now(&cfg)) {
		print_isolated(ctx, false, 0, 0);
	} else if (!has_way_back(&m) && !o->force) {
		rf_err("refusing to isolate: no destination and no process is allowed, so nothing "
		       "could reach this host to release it. Allow the management channel first "
		       "(e.g. 'ringfence allow add net 203.0.113.10 proto tcp port 443 dir out' or "
		       "'ringfence allow add exe /path/to/agent'), or pass --force.");
		ret = -EPERM;
		fail = "no way back: nothing allowed";
	} else if ((ret = set_isolated(ctx, &m, o, secs))) {
		fail = "cannot write rf_config";
	} else {
		changed = true;
	}
	rf_svc_action_finish(ctx, &a, fail, 0);
	if (changed)
		print_isolated(ctx, true, secs, a.id);
	rf_maps_close(&m);
	return ret;
}

int rf_cmd_isolate(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	__u64 secs = 0;
	int lock, ret;

	if (o->duration && rf_parse_duration(o->duration, &secs))
		return rf_usage_error("invalid duration '%s': use e.g. 90s, 15m, 2h or 1d (at most "
				      "366d)",
				      o->duration);
	if (rf_svc_need_root())
		return EXIT_OPFAIL;
	lock = rf_svc_lock(ctx);
	if (lock < 0)
		return EXIT_OPFAIL;
	ret = isolate_locked(ctx, o, secs);
	rf_state_unlock(lock);
	return rf_exit_code(ret);
}

/* Clear the flag and the deadline; *was: whether it was isolated. */
static int clear_isolated(struct rf_ctx *ctx, struct rf_maps *m, bool *was)
{
	struct rf_config_change c = { .fields = RF_CFG_F_ISOLATED | RF_CFG_F_DEADLINE };
	struct rf_isolation iso;
	struct rf_config cfg;
	int ret;

	ret = rf_config_get(m, &cfg);
	*was = !ret && rf_svc_isolated_now(&cfg);
	if (!ret)
		ret = rf_config_update(m, &c, NULL);
	if (ret) {
		rf_err("failed to clear the isolation flag: %s", strerror(-ret));
		return ret;
	}
	ret = rf_isolation_load(ctx->state_dir, &iso);
	iso.isolated = false;
	iso.deadline_unix_ns = 0;
	if (!ret)
		ret = rf_isolation_save(ctx->state_dir, &iso);
	if (ret)
		rf_warn("released, but %s/isolation was not updated: %s", ctx->state_dir,
			strerror(-ret));
	return 0;
}

int rf_cmd_release(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	struct rf_maps m = RF_MAPS_INIT;
	struct rf_action a;
	const char *fail = NULL;
	bool was = false;
	int lock, ret;

	if (rf_svc_need_root())
		return EXIT_OPFAIL;
	lock = rf_svc_lock(ctx);
	if (lock < 0)
		return EXIT_OPFAIL;
	rf_svc_action_start(ctx, &a, "release", o->comment);
	ret = rf_maps_open(ctx->pin_dir, &m);
	if (ret == -ENOENT) {
		printf(ctx->json ? "{\"isolated\":false,\"changed\":false}\n"
				 : "not isolated (ringfence is not loaded)\n");
		ret = 0;
	} else if (ret) {
		rf_err("failed to open pinned maps in %s: %s", ctx->pin_dir, strerror(-ret));
		fail = "cannot open maps";
	} else if ((ret = clear_isolated(ctx, &m, &was))) {
		fail = "cannot write rf_config";
	} else if (ctx->json) {
		printf("{\"isolated\":false,\"changed\":%s}\n", was ? "true" : "false");
	} else {
		printf(was ? "released\n" : "not isolated; nothing changed\n");
	}
	rf_svc_action_finish(ctx, &a, fail, 0);
	rf_maps_close(&m);
	rf_state_unlock(lock);
	return rf_exit_code(ret);
}
