// SPDX-License-Identifier: GPL-2.0-only
/* load, unload, history and agent. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rf_agent.h"
#include "rf_cmd.h"
#include "rf_util.h"

const char rf_help_load[] =
    "Usage: ringfence load\nAttach and pin the programs without isolating.\n";

const char rf_help_unload[] =
    "Usage: ringfence unload [--force]\n"
    "Detach the programs and remove every pin. Refused while isolated unless --force.\n";

const char rf_help_history[] =
    "Usage: ringfence history [--json]\n"
    "Every isolate, release and rule change with requestor, comment, times and status.\n";

const char rf_help_agent[] =
    "Usage: ringfence agent\n"
    "Run as the long-lived service (see the systemd unit): load or adopt the programs, apply\n"
    "the config, isolate again after a reboot if the host was isolated, stream blocked\n"
    "attempts as JSON lines to stdout and <state dir>/events.jsonl, re-attach detached hooks\n"
    "and record isolation changes made by other agents or by the deadline. Stopping the\n"
    "agent never ends isolation.\n";

static int load_locked(struct rf_ctx *ctx, const void *arg)
{
	struct rf_maps m = RF_MAPS_INIT;
	struct rf_action a;
	int ret;

	(void)arg;
	rf_svc_action_start(ctx, &a, "load", NULL);
	ret = rf_svc_ensure_loaded(ctx, &m, true);
	if (!ret)
		printf(ctx->json ? "{\"loaded\":true}\n" : "loaded and attached to %s\n",
		       ctx->cg_dir);
	rf_svc_action_finish(ctx, &a, ret ? "load or configuration failed" : NULL, 0);
	rf_maps_close(&m);
	return ret;
}

int rf_cmd_load(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	return rf_cmd_locked(ctx, load_locked, o);
}

/* Refuse while isolated (unless force); otherwise clear the flag so a tc filter left in another
 * namespace does not keep enforcing an orphaned one. */
static int unload_check(struct rf_ctx *ctx, bool force)
{
	struct rf_config_change c = {.fields = RF_CFG_F_ISOLATED};
	struct rf_maps m = RF_MAPS_INIT;
	struct rf_config cfg;
	int ret = 0;

	if (rf_maps_open(ctx->pin_dir, &m) || rf_config_get(&m, &cfg))
		goto out; /* nothing (readable) to protect */
	if (rf_svc_isolated_now(&cfg) && !force) {
		rf_err("the host is isolated: unloading would end isolation. Run 'ringfence "
		       "release' first, or 'ringfence unload --force'.");
		ret = -EBUSY;
	} else if (cfg.isolated && (ret = rf_config_update(&m, &c, NULL))) {
		rf_err("failed to clear the isolation flag: %s", strerror(-ret));
	}
out:
	rf_maps_close(&m);
	return ret;
}

/* The last target gone: <pin>/targets and then <pin> itself, if nothing else is left there. */
static void unload_remove_empty_base(const struct rf_ctx *ctx)
{
	char dir[PATH_MAX];

	if (!ctx->pin_base)
		return;
	snprintf(dir, sizeof(dir), "%s/targets", ctx->pin_base);
	rmdir(dir);
	rmdir(ctx->pin_base);
}

static int unload_locked(struct rf_ctx *ctx, const void *arg)
{
	const struct rf_cmd_opts *o = arg;
	char prog[PATH_MAX];
	struct rf_isolation iso = {};
	struct rf_action a;
	int ret;

	ret = unload_check(ctx, o->force);
	if (ret)
		return ret;
	rf_svc_action_start(ctx, &a, "unload", NULL);
	rf_hook_pin_path(prog, sizeof(prog), ctx->pin_dir, RF_HOOK_TC_EGRESS);
	rf_tc_detach_all(rf_tc_handle(ctx->cg_id), prog);
	ret = rf_unload(ctx->pin_dir);
	if (!ret && ctx->selected && !ctx->is_home && rmdir(ctx->pin_dir) && errno != ENOENT)
		rf_warn("cannot remove %s: %s", ctx->pin_dir, strerror(errno));
	if (!ret)
		unload_remove_empty_base(ctx);
	if (ret)
		rf_err("failed to remove pins in %s: %s", ctx->pin_dir, strerror(-ret));
	else if ((ret = rf_isolation_save(ctx->state_dir, &iso)))
		rf_err("unloaded, but failed to update %s/isolation: %s", ctx->state_dir,
		       strerror(-ret));
	else
		printf(ctx->json ? "{\"loaded\":false}\n" : "unloaded\n");
	rf_svc_action_finish(ctx, &a, ret ? strerror(-ret) : NULL, 0);
	return ret;
}

int rf_cmd_unload(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	return rf_cmd_locked(ctx, unload_locked, o);
}

int rf_cmd_history(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	struct rf_action *acts;
	size_t n, i;
	int ret;

	(void)o;
	ret = rf_history_load(ctx->state_dir, &acts, &n);
	if (ret) {
		rf_err("failed to read %s/history: %s", ctx->state_dir, strerror(-ret));
		return EXIT_OPFAIL;
	}
	if (ctx->json)
		printf("[");
	else
		printf("%-5s %-12s %-10s %-24s %-20s %s\n", "ID", "TYPE", "STATUS", "REQUESTED",
		       "REQUESTOR", "COMMENT");
	for (i = 0; i < n; i++) {
		const struct rf_action *x = &acts[i];
		char t[40];

		if (ctx->json) {
			printf("%s", i ? "," : "");
			rf_action_json(stdout, x);
			continue;
		}
		rf_format_time(x->requested_unix_ns, t, sizeof(t));
		printf("%-5llu %-12s %-10s %-24s %-20s %s%s%s%s%s\n", (unsigned long long)x->id,
		       x->type, rf_action_status_name(x->status), t, x->requestor, x->comment,
		       x->error[0] ? " | error: " : "", x->error,
		       x->warning[0] ? " | warning: " : "", x->warning);
	}
	if (ctx->json)
		printf("]\n");
	free(acts);
	return 0;
}

int rf_cmd_agent(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	(void)o;
	return rf_agent_run(ctx, 1000);
}
