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
#include "rf_json.h"
#include "rf_util.h"

const char rf_help_load[] =
    "Usage: ringfence load\nAttach and pin the programs without isolating.\n";

const char rf_help_unload[] =
    "Usage: ringfence unload [--force]\n"
    "Detach the programs and remove every pin. Refused while isolated unless --force.\n";

const char rf_help_history[] =
    "Usage: ringfence history [--all] [--json]\n"
    "Every isolate, release and rule change of the target with requestor, comment, times and\n"
    "status. --all: the entries of every target, oldest first, with a TARGET column (each\n"
    "JSON entry has \"target\", the cgroup path below the cgroup2 mount).\n";

const char rf_help_agent[] =
    "Usage: ringfence agent\n"
    "Run as the long-lived service (see the systemd unit): load or adopt the programs, apply\n"
    "the config, isolate again after a reboot if the host was isolated, stream blocked\n"
    "attempts as JSON lines to stdout and <state dir>/events.jsonl, re-attach detached hooks\n"
    "and record isolation changes made by other agents or by the deadline. It serves its own\n"
    "target (the host by default) and every container, unit or cgroup target of the same\n"
    "state dir that is isolated, audited or loaded, restoring each after a reboot. Stopping\n"
    "the agent never ends isolation.\n"
    "With mqtt-broker in the config it also keeps an MQTT session with that broker and carries\n"
    "out the actions published for this device (remote control, docs/REMOTE.md); its own\n"
    "broker connection stays allowed while isolated.\n";

static int load_locked(struct rf_ctx *ctx, const void *arg)
{
	char safe[PATH_MAX];
	struct rf_maps m = RF_MAPS_INIT;
	struct rf_action a;
	int ret;

	(void)arg;
	rf_svc_action_start(ctx, &a, "load", NULL);
	ret = rf_svc_ensure_loaded(ctx, &m, true);
	if (!ret && ctx->json)
		rf_json_write(stdout, json_pack("{s:b}", "loaded", true), true);
	else if (!ret)
		printf("loaded and attached to %s\n", rf_safe(ctx->cg_dir, safe, sizeof(safe)));
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

	/* rf_config alone: pins of an older ABI that are isolated are protected too */
	if (rf_maps_open_config(ctx->pin_dir, &m) || rf_config_get(&m, &cfg))
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
	if (!ret && ctx->selected && !ctx->is_home) {
		char dir[PATH_MAX + 16];

		if (rmdir(ctx->pin_dir) && errno != ENOENT)
			rf_warn("cannot remove %s: %s", ctx->pin_dir, strerror(errno));
		/* the last target gone from a pin dir that holds nothing else: leave no trace */
		snprintf(dir, sizeof(dir), "%s/targets", ctx->pin_base);
		if (!rmdir(dir))
			rmdir(ctx->pin_base);
	}
	if (ret)
		rf_err("failed to remove pins in %s: %s", ctx->pin_dir, strerror(-ret));
	else if ((ret = rf_isolation_save(ctx->state_dir, &iso)))
		rf_err("unloaded, but failed to update %s/isolation: %s", ctx->state_dir,
		       strerror(-ret));
	else if (ctx->json)
		rf_json_write(stdout, json_pack("{s:b}", "loaded", false), true);
	else
		printf("unloaded\n");
	rf_svc_action_finish(ctx, &a, ret ? strerror(-ret) : NULL, 0);
	return ret;
}

int rf_cmd_unload(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	return rf_cmd_locked(ctx, unload_locked, o);
}

/* One history entry and the target it belongs to. */
struct hist_row {
	struct rf_action a;
	char target[PATH_MAX];
};

struct hist {
	struct hist_row *rows;
	size_t n;
	int err;
};

static int hist_add(struct hist *h, const struct rf_ctx *t)
{
	struct rf_action *acts;
	struct hist_row *more;
	size_t n, i;
	int ret;

	rf_svc_catch_up((struct rf_ctx *)t); /* a lapse nobody saw yet is listed too */
	ret = rf_history_load(t->state_dir, &acts, &n);
	if (ret) {
		rf_err("failed to read %s/history: %s", t->state_dir, strerror(-ret));
		return ret;
	}
	more = n ? realloc(h->rows, (h->n + n) * sizeof(*more)) : h->rows;
	if (n && !more) {
		free(acts);
		return -ENOMEM;
	}
	h->rows = more;
	for (i = 0; i < n; i++) {
		h->rows[h->n].a = acts[i];
		snprintf(h->rows[h->n++].target, PATH_MAX, "%s", t->cg_rel[0] ? t->cg_rel : "?");
	}
	free(acts);
	return 0;
}

static void hist_each(struct rf_ctx *t, bool ok, void *arg)
{
	struct hist *h = arg;
	int ret;

	(void)ok; /* a target whose cgroup is gone still has its history */
	if ((ret = hist_add(h, t)))
		h->err = ret;
}

static int by_time(const void *x, const void *y)
{
	const struct hist_row *a = x, *b = y;

	if (a->a.requested_unix_ns != b->a.requested_unix_ns)
		return a->a.requested_unix_ns < b->a.requested_unix_ns ? -1 : 1;
	return strcmp(a->target, b->target);
}

static int hist_json(const struct hist *h)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr && i < h->n; i++)
		if (rf_jappend(arr, rf_action_doc(&h->rows[i].a, h->rows[i].target))) {
			json_decref(arr);
			arr = NULL;
		}
	return rf_json_write(stdout, arr, true);
}

/* One action as a line of text; every string made safe for a terminal. */
static void hist_line(const struct rf_action *x, const char *target, bool all)
{
	char t[40], tgt[PATH_MAX], type[sizeof(x->type)], req[sizeof(x->requestor)];
	char com[sizeof(x->comment)], err[sizeof(x->error)], warn[sizeof(x->warning)];

	rf_format_time(x->requested_unix_ns, t, sizeof(t));
	printf("%-5llu %-12s %-10s %-24s %-20s %s%s%s%s%s%s%s\n", (unsigned long long)x->id,
	       rf_safe(x->type, type, sizeof(type)), rf_action_status_name(x->status), t,
	       rf_safe(x->requestor, req, sizeof(req)),
	       all ? rf_safe(target, tgt, sizeof(tgt)) : "", all ? "  " : "",
	       rf_safe(x->comment, com, sizeof(com)), x->error[0] ? " | error: " : "",
	       rf_safe(x->error, err, sizeof(err)), x->warning[0] ? " | warning: " : "",
	       rf_safe(x->warning, warn, sizeof(warn)));
}

static int hist_print(const struct rf_ctx *ctx, const struct hist *h, bool all)
{
	size_t i;

	if (ctx->json)
		return hist_json(h);
	printf("%-5s %-12s %-10s %-24s %-20s %s%s\n", "ID", "TYPE", "STATUS", "REQUESTED",
	       "REQUESTOR", all ? "TARGET  " : "", "COMMENT");
	for (i = 0; i < h->n; i++)
		hist_line(&h->rows[i].a, h->rows[i].target, all);
	return 0;
}

int rf_cmd_history(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	struct hist h = {0};

	if (o->all) {
		if (rf_svc_for_each_target(ctx, hist_each, &h) < 0)
			h.err = -ENOMEM;
		if (h.n)
			qsort(h.rows, h.n, sizeof(*h.rows), by_time);
	} else {
		h.err = hist_add(&h, ctx);
	}
	if (h.err && !h.n) {
		free(h.rows);
		return EXIT_OPFAIL;
	}
	if (!h.err && (h.err = hist_print(ctx, &h, o->all)))
		rf_err("failed to print the history: %s", strerror(-h.err));
	free(h.rows);
	return h.err ? EXIT_OPFAIL : 0;
}

int rf_cmd_agent(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	(void)o;
	return rf_agent_run(ctx, 1000);
}
