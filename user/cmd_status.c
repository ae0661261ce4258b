// SPDX-License-Identifier: GPL-2.0-only
/* status and metrics. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rf_cmd.h"
#include "rf_hosts.h"
#include "rf_json.h"
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
static int json_warnings(const struct rf_ctx *ctx, const struct status *s, json_t *w)
{
	const struct rf_config *cfg = &s->cfg;
	char msg[160];
	int err = 0;

	if (s->loaded && rf_svc_mode(cfg) != RF_SVC_OFF &&
	    !rf_tc_for_each(rf_tc_handle(ctx->cg_id), NULL, NULL))
		err = rf_jappend(w, json_string("no packet-socket guard or second wall in this "
						"network namespace: AF_PACKET sockets, tunnels and "
						"NAT are not judged at the interfaces"));
	if (!err && s->loaded && cfg->isolated && cfg->isolated != RF_ISOLATED) {
		snprintf(msg, sizeof(msg), "rf_config.isolated holds %u: treated as isolated",
			 cfg->isolated);
		err = rf_jappend(w, json_string(msg));
	}
	if (!err && s->loaded && cfg->abi_version != RF_ABI_VERSION) {
		snprintf(msg, sizeof(msg), "rf_config.abi_version is %u, expected %u",
			 cfg->abi_version, RF_ABI_VERSION);
		err = rf_jappend(w, json_string(msg));
	}
	if (!err && s->loaded && cfg->isolated && cfg->deadline_ns &&
	    rf_now_boot_ns() >= cfg->deadline_ns)
		err = rf_jappend(w, json_string("deadline passed: isolation has expired"));
	if (!err && s->old_abi) {
		snprintf(msg, sizeof(msg), RF_OLD_ABI_WARNING, cfg->abi_version);
		err = rf_jappend(w, json_string(msg));
	}
	return err;
}

static json_t *json_time_or_null(const char *t)
{
	return t[0] ? json_string(t) : json_null();
}

static void json_ifname(const char *ifname, void *arg)
{
	json_t **arr = arg;

	if (*arr && rf_jappend(*arr, rf_jstr(ifname))) {
		json_decref(*arr);
		*arr = NULL;
	}
}

/* The wall's mode in a network namespace of the target's processes (rf_tc_netns_modes()). */
#define RF_WALL_EVERY_PACKET "every-packet" /* only the target's processes use the namespace */
#define RF_WALL_OWN_SOCKETS  "own-sockets"  /* shared: only the target's sockets' packets */

static void json_netns(unsigned long netns, int pid, bool owned, void *arg)
{
	json_t **arr = arg;

	if (*arr &&
	    rf_jappend(*arr,
		       json_pack("{s:o,s:I,s:s}", "netns", rf_ju64(netns), "pid", (json_int_t)pid,
				 "mode", owned ? RF_WALL_EVERY_PACKET : RF_WALL_OWN_SOCKETS))) {
		json_decref(*arr);
		*arr = NULL;
	}
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

static json_t *json_counters(struct status *s)
{
	json_t *c = json_object();
	unsigned int i;
	int err = c ? 0 : -ENOMEM;

	for (i = 0; !err && s->loaded && i < RF_HOOK_MAX; i++)
		err = rf_jset(c, rf_hook_name(i),
			      json_pack("{s:o,s:o,s:o}", "allowed",
					rf_ju64(rf_stat_sum(&s->m, i * 2)), "denied",
					rf_ju64(rf_stat_sum(&s->m, i * 2 + 1)), "would_block",
					rf_ju64(rf_stat_sum(&s->m, RF_STAT_WOULD_BLOCK + i))));
	if (!err && s->loaded)
		err = json_object_update_new(
		    c, json_pack("{s:o,s:o,s:o}", "events_sent",
				 rf_ju64(rf_stat_sum(&s->m, RF_STAT_EVENTS_SENT)),
				 "events_ratelimited",
				 rf_ju64(rf_stat_sum(&s->m, RF_STAT_EVENTS_RATELIMITED)),
				 "events_lost", rf_ju64(rf_stat_sum(&s->m, RF_STAT_EVENTS_LOST))));
	if (!err && s->loaded) /* host rules: what the programs made of DNS (docs/ABI.md) */
		err = rf_jset(
		    c, "host_rules",
		    json_pack("{s:o,s:o,s:o,s:o}", "queries",
			      rf_ju64(rf_stat_sum(&s->m, RF_STAT_DNS_QUERIES)), "learned",
			      rf_ju64(rf_stat_sum(&s->m, RF_STAT_DNS_LEARNED)), "rejected",
			      rf_ju64(rf_stat_sum(&s->m, RF_STAT_DNS_REJECTED)), "not_learned",
			      rf_ju64(rf_stat_sum(&s->m, RF_STAT_DNS_FULL))));
	if (err) {
		json_decref(c);
		return NULL;
	}
	return c;
}

/* "target": the selector used and the cgroup it resolved to (null when it did not). */
static json_t *json_target(struct rf_ctx *ctx, struct status *s)
{
	const char *value, *kind = rf_svc_target_kind(ctx, &value);

	return json_pack("{s:s,s:o,s:o,s:o}", "selector", kind, "value",
			 value ? rf_jstr(value) : json_null(), "cgroup",
			 s->target_ok ? rf_jstr(ctx->cg_dir) : json_null(), "cgroup_id",
			 rf_ju64(s->target_ok ? ctx->cg_id : 0));
}

static json_t *json_hooks(struct status *s)
{
	json_t *h = json_object();
	unsigned int i;

	for (i = 0; h && i < RF_HOOK_MAX; i++)
		if (rf_hooks[i].kind == RF_ATTACH_CGROUP &&
		    rf_jset(h, rf_hooks[i].label, json_boolean(s->ls[i].attached))) {
			json_decref(h);
			return NULL;
		}
	return h;
}

/* The parts of the status document after "target": programs, hooks, rules and counters. */
static int json_status_rest(struct rf_ctx *ctx, struct status *s, json_t *doc)
{
	json_t *guard = json_array(), *walls = json_array(), *warnings = json_array();
	int err;

	if (guard)
		rf_tc_for_each(rf_tc_handle(ctx->cg_id), json_ifname, &guard);
	if (walls && s->loaded && narrower_target(ctx))
		rf_tc_netns_modes(ctx->cg_dir, json_netns, &walls);
	err = json_object_update_new(
	    doc, json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:{s:b,s:b},s:o,s:o}", "abi_version",
			   (json_int_t)s->cfg.abi_version, "programs_build",
			   s->loaded ? rf_jstr(s->build) : json_null(), "this_build",
			   rf_jstr(s->this_build), "pin_dir", rf_jstr(ctx->pin_dir), "hooks",
			   json_hooks(s), "cgroup_id", rf_ju64(s->ls[0].cgroup_id), "packet_guard",
			   guard, "wall_netns", walls, "builtins", "dhcp",
			   !!(s->cfg.builtins & RF_BUILTIN_DHCP), "nd",
			   !!(s->cfg.builtins & RF_BUILTIN_ND), "rules",
			   s->loaded ? rf_rules_json(ctx, &s->m) : json_array(), "counters",
			   json_counters(s)));
	if (!err && warnings)
		err = json_warnings(ctx, s, warnings);
	if (!err)
		return rf_jset(doc, "warnings", warnings);
	json_decref(warnings);
	return -ENOMEM;
}

/* The status --json document of one target; NULL when out of memory. */
static json_t *status_doc(struct rf_ctx *ctx, struct status *s)
{
	bool on = s->isolated || s->audit;
	json_t *doc;

	doc = json_pack("{s:b,s:b,s:s,s:b,s:o,s:o,s:o,s:o,s:o}", "isolated", s->isolated, "audit",
			s->audit, "mode", mode_name(s), "loaded", s->loaded, "since",
			json_time_or_null(on ? s->since : ""), "deadline",
			json_time_or_null(s->deadline), "confirm_deadline",
			json_time_or_null(s->confirm), "comment",
			on ? rf_jstr(s->iso.comment) : json_null(), "target", json_target(ctx, s));
	if (doc && json_status_rest(ctx, s, doc)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
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
	if (rf_host_any(&s->m) || rf_stat_sum(&s->m, RF_STAT_DNS_QUERIES))
		printf("  host rules   %llu queries, %llu addresses learned, %llu answers "
		       "rejected, %llu not learned (full)\n",
		       (unsigned long long)rf_stat_sum(&s->m, RF_STAT_DNS_QUERIES),
		       (unsigned long long)rf_stat_sum(&s->m, RF_STAT_DNS_LEARNED),
		       (unsigned long long)rf_stat_sum(&s->m, RF_STAT_DNS_REJECTED),
		       (unsigned long long)rf_stat_sum(&s->m, RF_STAT_DNS_FULL));
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
	char safe[PATH_MAX * 4];
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
		printf("comment:   %s\n", rf_safe(s->iso.comment, safe, sizeof(safe)));
	print_text_target(ctx, s);
	printf("loaded:    %s (pin dir %s)\n", s->loaded ? "yes" : "no",
	       rf_safe(ctx->pin_dir, safe, sizeof(safe)));
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

/* One target's status: printed as text, or its JSON document added to arr (NULL: printed). */
static int status_one(struct rf_ctx *ctx, json_t *arr)
{
	struct status s;
	json_t *doc;
	int err = 0;

	gather(ctx, &s);
	if (ctx->json) {
		doc = status_doc(ctx, &s);
		err = arr ? rf_jappend(arr, doc) : rf_json_write(stdout, doc, true);
	} else {
		print_text(ctx, &s);
	}
	rf_maps_close(&s.m);
	return err;
}

/* The status --json document of ctx's target as a string (see rf_cmd.h). */
char *rf_status_json_doc(struct rf_ctx *ctx)
{
	struct status s;
	json_t *doc;
	char *text;

	gather(ctx, &s);
	doc = status_doc(ctx, &s);
	rf_maps_close(&s.m);
	text = doc ? json_dumps(doc, RF_JSON_DUMP_FLAGS) : NULL;
	json_decref(doc);
	return text;
}

struct all_status {
	int n, err;
	json_t *targets; /* --json: the status documents */
};

static void status_each(struct rf_ctx *t, bool ok, void *arg)
{
	struct all_status *a = arg;
	char safe[PATH_MAX];
	int err;

	if (!ok) { /* the record of a target whose cgroup is gone */
		rf_safe_str(t->cg_rel, strlen(t->cg_rel), safe, sizeof(safe));
		if (!t->json)
			printf("%starget:    cgroup %s (gone)\n", a->n++ ? "\n" : "", safe);
		return;
	}
	if (!t->json && a->n)
		printf("\n");
	a->n++;
	err = status_one(t, a->targets);
	if (err && !a->err)
		a->err = err;
}

int rf_cmd_status(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	struct all_status a = {0};
	int err;

	if (rf_svc_need_root())
		return EXIT_OPFAIL;
	if (!o->all) {
		err = status_one(ctx, NULL);
		goto out;
	}
	if (ctx->json && !(a.targets = json_array())) {
		err = -ENOMEM;
		goto out;
	}
	err = rf_svc_for_each_target(ctx, status_each, &a) < 0 ? -ENOMEM : a.err;
	if (ctx->json) {
		if (err)
			json_decref(a.targets);
		else
			err = rf_json_write(stdout, json_pack("{s:o}", "targets", a.targets), true);
	}
out:
	if (err)
		rf_err("failed to print the status: %s", strerror(-err));
	return err ? EXIT_OPFAIL : 0;
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
	char safe[PATH_MAX];
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
	/* a label value is UTF-8 with \\ and " escaped; controls and bad bytes become '?' */
	o = (size_t)snprintf(t->label, sizeof(t->label), "target=\"");
	for (p = rf_safe(ctx->cg_rel[0] ? ctx->cg_rel : "/", safe, sizeof(safe));
	     *p && o + 3 < sizeof(t->label); p++) {
		if (*p == '\\' || *p == '"')
			t->label[o++] = '\\';
		t->label[o++] = *p;
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
