// SPDX-License-Identifier: GPL-2.0-only
/* status and metrics. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rf_cmd.h"
#include "rf_util.h"

const char rf_help_status[] =
    "Usage: ringfence status [--all] [--json]\n"
    "Isolation state (or audit mode), since when and why, a pending confirmation, the target\n"
    "(selector and the cgroup it resolved to), the hooks enforcing it, the rules and the\n"
    "allow/deny/would-block counters. --json prints one object with at least \"isolated\",\n"
    "\"audit\" and \"target\".\n"
    "--all: every target of this pin dir (the host or home target, and each container,\n"
    "unit or cgroup isolated or loaded with its own selector), one after the other;\n"
    "with --json one object {\"targets\": [...]} holding each target's status object.\n";

const char rf_help_metrics[] =
    "Usage: ringfence metrics [--all]\n"
    "Loaded/isolated/audit gauges, allow/deny counters per hook and event counters in\n"
    "Prometheus text format, each labelled target=\"CGROUP PATH\" (\"/\" is the host).\n"
    "--all: every target of this pin dir.\n";

/* status over pins of an older ABI (printf format, the ABI version) */
#define RF_OLD_ABI_WARNING                                                                         \
	"pins of ringfence ABI %u: the next load, isolate, allow or agent upgrades them in place"

/* Everything status reports, gathered once. */
struct status {
	bool loaded, isolated, audit, target_ok;
	bool old_abi; /* pins of an older ABI, which the next load upgrades: only rf_config read */
	struct rf_maps m;
	struct rf_config cfg;
	struct rf_link_state ls[RF_HOOK_MAX];
	struct rf_isolation iso;
	char since[40], deadline[40], confirm[40];
	/* the build whose programs the links run ("unknown": a build before rf_build), this one's,
	 * and how they compare (rf_build_cmp()) */
	char build[64], this_build[64];
	int build_cmp;
};

static void gather_build(struct rf_ctx *ctx, struct status *s)
{
	struct rf_build pinned, ours;

	s->build_cmp = rf_build_cmp(ctx->pin_dir, &pinned);
	rf_this_build(&ours);
	rf_svc_build_str(s->build, sizeof(s->build), &pinned);
	rf_svc_build_str(s->this_build, sizeof(s->this_build), &ours);
}

static void gather(struct rf_ctx *ctx, struct status *s)
{
	memset(s, 0, sizeof(*s));
	s->m = (struct rf_maps)RF_MAPS_INIT;
	/* --unit/--container/--pid were resolved by main.c (exit 2 when they fail); the host or a
	 * --cgroup that is not usable is reported (the message is printed) and status goes on */
	s->target_ok = rf_svc_resolve_cgroup(ctx) == 0;
	rf_svc_catch_up(ctx); /* a lapse nobody saw yet is recorded before it is shown */
	s->loaded = rf_maps_open(ctx->pin_dir, &s->m) == 0 && rf_config_get(&s->m, &s->cfg) == 0;
	s->old_abi = !s->loaded && !rf_pinned_config(ctx->pin_dir, &s->cfg) &&
		     s->cfg.abi_version < RF_ABI_VERSION;
	s->isolated = (s->loaded || s->old_abi) && rf_svc_mode(&s->cfg) == RF_SVC_ENFORCE;
	s->audit = (s->loaded || s->old_abi) && rf_svc_mode(&s->cfg) == RF_SVC_AUDIT;
	rf_links_state(ctx->pin_dir, s->ls);
	gather_build(ctx, s);
	if (rf_isolation_load(ctx->state_dir, &s->iso))
		rf_warn("cannot read %s/isolation", ctx->state_dir);
	if (s->cfg.since_unix_ns)
		rf_format_time(s->cfg.since_unix_ns, s->since, sizeof(s->since));
	if (s->isolated && s->iso.confirm_unix_ns)
		rf_format_time(s->iso.confirm_unix_ns, s->confirm, sizeof(s->confirm));
	if ((s->isolated || s->audit) && s->cfg.deadline_ns)
		rf_format_time(rf_now_unix_ns() + (s->cfg.deadline_ns - rf_now_boot_ns()),
			       s->deadline, sizeof(s->deadline));
}

/* The warnings of status --json: what another agent wrote that we interpret, open paths. */
static void print_warnings(const struct rf_ctx *ctx, const struct rf_config *cfg)
{
	const char *sep = "";

	if (rf_svc_mode(cfg) != RF_SVC_OFF &&
	    !rf_tc_for_each(rf_tc_handle(ctx->cg_id), NULL, NULL)) {
		printf(
		    "\"no packet-socket guard or second wall in this network namespace: AF_PACKET "
		    "sockets, tunnels and NAT are not judged at the interfaces\"");
		sep = ",";
	}
	if (cfg->isolated && cfg->isolated != RF_ISOLATED) {
		printf("%s\"rf_config.isolated holds %u: treated as isolated\"", sep,
		       cfg->isolated);
		sep = ",";
	}
	if (cfg->abi_version != RF_ABI_VERSION) {
		printf("%s\"rf_config.abi_version is %u, expected %u\"", sep, cfg->abi_version,
		       RF_ABI_VERSION);
		sep = ",";
	}
	if (cfg->isolated && cfg->deadline_ns && rf_now_boot_ns() >= cfg->deadline_ns)
		printf("%s\"deadline passed: isolation has expired\"", sep);
}

static void json_time_or_null(const char *name, const char *t)
{
	printf(",\"%s\":", name);
	if (t[0])
		printf("\"%s\"", t);
	else
		printf("null");
}

static void json_ifname(const char *ifname, void *arg)
{
	int *k = arg;

	printf("%s", (*k)++ ? "," : "");
	rf_json_str(stdout, ifname);
}

/* The wall's mode in a network namespace of the target's processes (rf_tc_netns_modes()). */
#define RF_WALL_EVERY_PACKET "every-packet" /* only the target's processes use the namespace */
#define RF_WALL_OWN_SOCKETS  "own-sockets"  /* shared: only the target's sockets' packets */

static void json_netns(unsigned long netns, int pid, bool owned, void *arg)
{
	int *k = arg;

	printf("%s{\"netns\":%lu,\"pid\":%d,\"mode\":\"%s\"}", (*k)++ ? "," : "", netns, pid,
	       owned ? RF_WALL_EVERY_PACKET : RF_WALL_OWN_SOCKETS);
}

static void text_netns(unsigned long netns, int pid, bool owned, void *arg)
{
	(void)arg;
	printf("wall:      net namespace %lu (pid %d): %s\n", netns, pid,
	       owned ? RF_WALL_EVERY_PACKET " (only the target's processes use it)"
		     : RF_WALL_OWN_SOCKETS " (shared: the target's sockets' packets only)");
}

/* A target narrower than the host: its namespaces' wall modes are worth listing. */
static bool narrower_target(const struct rf_ctx *ctx)
{
	char mnt[PATH_MAX];

	return !rf_cgroup2_mount(mnt, sizeof(mnt)) && strcmp(mnt, ctx->cg_dir);
}

static const char *mode_name(const struct status *s)
{
	return s->isolated ? "isolated" : s->audit ? "audit" : "off";
}

static void json_counters(struct status *s)
{
	unsigned int i;

	printf(",\"counters\":{");
	for (i = 0; s->loaded && i < RF_HOOK_MAX; i++)
		printf("%s\"%s\":{\"allowed\":%llu,\"denied\":%llu,\"would_block\":%llu}",
		       i ? "," : "", rf_hook_name(i), (unsigned long long)rf_stat_sum(&s->m, i * 2),
		       (unsigned long long)rf_stat_sum(&s->m, i * 2 + 1),
		       (unsigned long long)rf_stat_sum(&s->m, RF_STAT_WOULD_BLOCK + i));
	if (s->loaded)
		printf(",\"events_sent\":%llu,\"events_ratelimited\":%llu,\"events_lost\":%llu",
		       (unsigned long long)rf_stat_sum(&s->m, RF_STAT_EVENTS_SENT),
		       (unsigned long long)rf_stat_sum(&s->m, RF_STAT_EVENTS_RATELIMITED),
		       (unsigned long long)rf_stat_sum(&s->m, RF_STAT_EVENTS_LOST));
	printf("}");
}

/* "target": the selector used and the cgroup it resolved to (null when it did not). */
static void json_target(struct rf_ctx *ctx, struct status *s)
{
	const char *value, *kind = rf_svc_target_kind(ctx, &value);

	printf(",\"target\":{\"selector\":\"%s\",\"value\":", kind);
	if (value)
		rf_json_str(stdout, value);
	else
		printf("null");
	printf(",\"cgroup\":");
	if (s->target_ok)
		rf_json_str(stdout, ctx->cg_dir);
	else
		printf("null");
	printf(",\"cgroup_id\":%llu}", s->target_ok ? (unsigned long long)ctx->cg_id : 0ULL);
}

static void print_json(struct rf_ctx *ctx, struct status *s)
{
	unsigned int i, k = 0;

	printf("{\"isolated\":%s,\"audit\":%s,\"mode\":\"%s\",\"loaded\":%s",
	       s->isolated ? "true" : "false", s->audit ? "true" : "false", mode_name(s),
	       s->loaded ? "true" : "false");
	json_time_or_null("since", s->isolated || s->audit ? s->since : "");
	json_time_or_null("deadline", s->deadline);
	json_time_or_null("confirm_deadline", s->confirm);
	printf(",\"comment\":");
	if (s->isolated || s->audit)
		rf_json_str(stdout, s->iso.comment);
	else
		printf("null");
	json_target(ctx, s);
	printf(",\"abi_version\":%u,\"programs_build\":", s->cfg.abi_version);
	if (s->loaded)
		rf_json_str(stdout, s->build);
	else
		printf("null");
	printf(",\"this_build\":");
	rf_json_str(stdout, s->this_build);
	printf(",\"pin_dir\":");
	rf_json_str(stdout, ctx->pin_dir);
	printf(",\"hooks\":{");
	for (i = 0; i < RF_HOOK_MAX; i++)
		if (rf_hooks[i].kind == RF_ATTACH_CGROUP)
			printf("%s\"%s\":%s", k++ ? "," : "", rf_hooks[i].label,
			       s->ls[i].attached ? "true" : "false");
	printf("},\"cgroup_id\":%llu,\"packet_guard\":[", (unsigned long long)s->ls[0].cgroup_id);
	k = 0;
	rf_tc_for_each(rf_tc_handle(ctx->cg_id), json_ifname, &k);
	printf("],\"wall_netns\":[");
	k = 0;
	if (s->loaded && narrower_target(ctx))
		rf_tc_netns_modes(ctx->cg_dir, json_netns, &k);
	printf("],\"builtins\":{\"dhcp\":%s,\"nd\":%s}",
	       s->cfg.builtins & RF_BUILTIN_DHCP ? "true" : "false",
	       s->cfg.builtins & RF_BUILTIN_ND ? "true" : "false");
	printf(",\"rules\":");
	if (s->loaded)
		rf_print_rules(ctx, &s->m);
	else
		printf("[]");
	json_counters(s);
	printf(",\"warnings\":[");
	if (s->loaded)
		print_warnings(ctx, &s->cfg);
	if (s->old_abi)
		printf("\"" RF_OLD_ABI_WARNING "\"", s->cfg.abi_version);
	printf("]}");
}

static void text_ifname(const char *ifname, void *arg)
{
	int *k = arg;
	char safe[64];

	rf_safe_str(ifname, strlen(ifname), safe, sizeof(safe));
	printf("%s%s", (*k)++ ? " " : "packet-socket guard (tc egress): ", safe);
}

static void print_text_loaded(struct rf_ctx *ctx, struct status *s)
{
	unsigned int i;

	printf("built-ins: dhcp %s, nd %s\n", s->cfg.builtins & RF_BUILTIN_DHCP ? "on" : "off",
	       s->cfg.builtins & RF_BUILTIN_ND ? "on" : "off");
	printf("rules:\n");
	rf_print_rules(ctx, &s->m);
	printf("counters (allowed/denied while isolated, would-block in audit mode):\n");
	for (i = 0; i < RF_HOOK_MAX; i++)
		printf("  %-12s %llu/%llu/%llu\n", rf_hook_name(i),
		       (unsigned long long)rf_stat_sum(&s->m, i * 2),
		       (unsigned long long)rf_stat_sum(&s->m, i * 2 + 1),
		       (unsigned long long)rf_stat_sum(&s->m, RF_STAT_WOULD_BLOCK + i));
	if (s->cfg.isolated && s->cfg.isolated != RF_ISOLATED)
		printf("warning:   rf_config.isolated holds %u (treated as isolated)\n",
		       s->cfg.isolated);
	if ((s->isolated || s->audit) && !rf_tc_for_each(rf_tc_handle(ctx->cg_id), NULL, NULL))
		printf("warning:   no packet-socket guard or second wall in this network namespace "
		       "(packet-guard on attaches them)\n");
}

static void print_text_target(struct rf_ctx *ctx, struct status *s)
{
	const char *value, *kind = rf_svc_target_kind(ctx, &value);
	char safe[PATH_MAX];

	printf("target:    %s", kind);
	if (value) {
		rf_safe_str(value, strlen(value), safe, sizeof(safe));
		printf(" %s", safe);
	}
	rf_safe_str(ctx->cg_dir, strlen(ctx->cg_dir), safe, sizeof(safe));
	printf(" (%s)\n", s->target_ok ? safe : "not usable");
}

static void print_text(struct rf_ctx *ctx, struct status *s)
{
	unsigned int i;
	int k = 0;

	printf("isolated:  %s", s->isolated ? "yes" : "no");
	if (s->isolated && s->since[0])
		printf(" (since %s)", s->since);
	printf("\n");
	if (s->audit)
		printf("mode:      audit (nothing is blocked; would-be blocks are reported, since "
		       "%s)\n",
		       s->since);
	if (s->confirm[0])
		printf("confirm:   pending: rolled back at %s unless 'ringfence confirm' runs\n",
		       s->confirm);
	if ((s->isolated || s->audit) && s->deadline[0])
		printf("until:     %s (automatic %s)\n", s->deadline,
		       s->confirm[0] ? "roll-back" : "release");
	if ((s->isolated || s->audit) && s->iso.comment[0])
		printf("comment:   %s\n", s->iso.comment);
	print_text_target(ctx, s);
	printf("loaded:    %s (pin dir %s)\n", s->loaded ? "yes" : "no", ctx->pin_dir);
	if (s->old_abi)
		printf("warning:   " RF_OLD_ABI_WARNING "\n", s->cfg.abi_version);
	if (s->loaded)
		printf(
		    "programs:  build %s (%s)\n", s->build,
		    s->build_cmp == 0 ? "this ringfence's"
		    : s->build_cmp < 0
			? "earlier than this ringfence's: the next load, isolate, "
			  "allow or agent puts this build's in place"
			: "not earlier than this ringfence's (a later build, or unreadable): kept");
	printf("hooks:    ");
	if (!s->loaded && !s->old_abi && !s->ls[0].cgroup_id)
		printf(" none (not loaded)");
	for (i = 0; (s->loaded || s->old_abi || s->ls[0].cgroup_id) && i < RF_HOOK_MAX; i++)
		if (rf_hooks[i].kind == RF_ATTACH_CGROUP)
			printf(" %s%s", rf_hooks[i].label,
			       !rf_hook_available((enum rf_hook)i) ? "(unsupported by this kernel)"
			       : s->ls[i].attached		   ? ""
								   : "(DETACHED)");
	printf("\n");
	if (s->ls[0].cgroup_id)
		printf("cgroup id: %llu\n", (unsigned long long)s->ls[0].cgroup_id);
	if (rf_tc_for_each(rf_tc_handle(ctx->cg_id), text_ifname, &k))
		printf("\n");
	if (s->loaded && narrower_target(ctx))
		rf_tc_netns_modes(ctx->cg_dir, text_netns, NULL);
	if (s->loaded)
		print_text_loaded(ctx, s);
}

static void status_one(struct rf_ctx *ctx)
{
	struct status s;

	gather(ctx, &s);
	if (ctx->json)
		print_json(ctx, &s);
	else
		print_text(ctx, &s);
	rf_maps_close(&s.m);
}

/* The same printer as status --json, its output caught in memory (see rf_cmd.h). */
char *rf_status_json_doc(struct rf_ctx *ctx)
{
	FILE *saved = stdout, *mem;
	char *buf = NULL;
	size_t len = 0;
	bool json = ctx->json;

	fflush(stdout);
	mem = open_memstream(&buf, &len);
	if (!mem)
		return NULL;
	stdout = mem;
	ctx->json = true;
	status_one(ctx);
	ctx->json = json;
	stdout = saved;
	if (fclose(mem)) {
		free(buf);
		return NULL;
	}
	return buf;
}

struct all_status {
	int n;
};

static void status_each(struct rf_ctx *t, bool ok, void *arg)
{
	struct all_status *a = arg;
	char safe[PATH_MAX];

	if (!ok) { /* the record of a target whose cgroup is gone */
		rf_safe_str(t->cg_rel, strlen(t->cg_rel), safe, sizeof(safe));
		if (!t->json)
			printf("%starget:    cgroup %s (gone)\n", a->n++ ? "\n" : "", safe);
		return;
	}
	if (t->json)
		printf("%s", a->n ? "," : "");
	else if (a->n)
		printf("\n");
	a->n++;
	status_one(t);
	if (t->json)
		fflush(stdout);
}

int rf_cmd_status(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	struct all_status a = {0};

	if (rf_svc_need_root())
		return EXIT_OPFAIL;
	if (!o->all) {
		status_one(ctx);
		if (ctx->json)
			printf("\n");
		return 0;
	}
	if (ctx->json)
		printf("{\"targets\":[");
	if (rf_svc_for_each_target(ctx, status_each, &a) < 0) {
		rf_err("out of memory");
		return EXIT_OPFAIL;
	}
	if (ctx->json)
		printf("]}\n");
	return 0;
}

/* One target's maps for metrics. */
struct metric_target {
	struct rf_maps m;
	struct rf_config cfg;
	bool loaded;
	char label[PATH_MAX * 2]; /* target="/path", escaped for the text format */
};

struct metric_set {
	struct metric_target *t;
	size_t n, cap;
};

static void metric_add(struct rf_ctx *ctx, bool ok, void *arg)
{
	struct metric_set *ms = arg;
	struct metric_target *t;
	const char *p;
	size_t o;

	if (!ok || ms->n == ms->cap)
		return;
	t = &ms->t[ms->n++];
	t->m = (struct rf_maps)RF_MAPS_INIT;
	t->loaded = rf_maps_open(ctx->pin_dir, &t->m) == 0;
	/* pins of an older ABI: rf_config tells the mode (its counters are not read) */
	if (!t->loaded && rf_pins_present(ctx->pin_dir))
		t->loaded = rf_maps_open_config(ctx->pin_dir, &t->m) == 0;
	if (t->loaded && rf_config_get(&t->m, &t->cfg))
		rf_warn("cannot read rf_config of %s", ctx->cg_dir);
	o = (size_t)snprintf(t->label, sizeof(t->label), "target=\"");
	for (p = ctx->cg_rel[0] ? ctx->cg_rel : "/"; *p && o + 3 < sizeof(t->label); p++) {
		if (*p == '\\' || *p == '"' || *p == '\n')
			t->label[o++] = '\\';
		t->label[o++] = *p == '\n' ? 'n' : *p;
	}
	snprintf(t->label + o, sizeof(t->label) - o, "\"");
}

static void metric_gauges(const struct metric_set *ms)
{
	size_t i;

	printf("# HELP ringfence_loaded Whether the ringfence programs are pinned.\n"
	       "# TYPE ringfence_loaded gauge\n");
	for (i = 0; i < ms->n; i++)
		printf("ringfence_loaded{%s} %d\n", ms->t[i].label, ms->t[i].loaded);
	printf("# HELP ringfence_isolated Whether the target is isolated now.\n"
	       "# TYPE ringfence_isolated gauge\n");
	for (i = 0; i < ms->n; i++)
		printf("ringfence_isolated{%s} %d\n", ms->t[i].label,
		       ms->t[i].loaded && rf_svc_mode(&ms->t[i].cfg) == RF_SVC_ENFORCE);
	printf("# HELP ringfence_audit Whether audit mode is on (nothing blocked, reported).\n"
	       "# TYPE ringfence_audit gauge\n");
	for (i = 0; i < ms->n; i++)
		printf("ringfence_audit{%s} %d\n", ms->t[i].label,
		       ms->t[i].loaded && rf_svc_mode(&ms->t[i].cfg) == RF_SVC_AUDIT);
}

static void metric_counters(const struct metric_set *ms)
{
	static const char *const fates[] = {"sent", "ratelimited", "lost"};
	unsigned int i, k;
	size_t t;

	printf("# HELP ringfence_verdicts_total Verdicts while isolated, by hook.\n"
	       "# TYPE ringfence_verdicts_total counter\n");
	for (t = 0; t < ms->n; t++)
		for (i = 0; ms->t[t].loaded && i < RF_HOOK_MAX; i++)
			for (k = 0; k < 2; k++)
				printf("ringfence_verdicts_total{%s,hook=\"%s\",verdict=\"%s\"} "
				       "%llu\n",
				       ms->t[t].label, rf_hook_name(i), k ? "deny" : "allow",
				       (unsigned long long)rf_stat_sum(&ms->t[t].m, i * 2 + k));
	printf("# HELP ringfence_would_block_total What isolation would have blocked, in audit "
	       "mode, by hook.\n# TYPE ringfence_would_block_total counter\n");
	for (t = 0; t < ms->n; t++)
		for (i = 0; ms->t[t].loaded && i < RF_HOOK_MAX; i++)
			printf(
			    "ringfence_would_block_total{%s,hook=\"%s\"} %llu\n", ms->t[t].label,
			    rf_hook_name(i),
			    (unsigned long long)rf_stat_sum(&ms->t[t].m, RF_STAT_WOULD_BLOCK + i));
	printf("# HELP ringfence_events_total Blocked-attempt events by fate.\n"
	       "# TYPE ringfence_events_total counter\n");
	for (t = 0; t < ms->n; t++)
		for (k = 0; ms->t[t].loaded && k < 3; k++)
			printf(
			    "ringfence_events_total{%s,fate=\"%s\"} %llu\n", ms->t[t].label,
			    fates[k],
			    (unsigned long long)rf_stat_sum(&ms->t[t].m, RF_STAT_EVENTS_SENT + k));
}

int rf_cmd_metrics(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	struct metric_set ms = {.cap = o->all ? 256 : 1};
	size_t i;

	if (rf_svc_need_root())
		return EXIT_OPFAIL;
	ms.t = calloc(ms.cap, sizeof(*ms.t));
	if (!ms.t)
		return EXIT_OPFAIL;
	if (o->all)
		rf_svc_for_each_target(ctx, metric_add, &ms);
	else
		metric_add(ctx, true, &ms);
	metric_gauges(&ms);
	metric_counters(&ms);
	for (i = 0; i < ms.n; i++)
		rf_maps_close(&ms.t[i].m);
	free(ms.t);
	return 0;
}
