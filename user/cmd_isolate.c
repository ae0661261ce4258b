// SPDX-License-Identifier: GPL-2.0-only
/* isolate (with audit, commit-confirmed and verify-or-roll-back), confirm, release. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "rf_cmd.h"
#include "rf_foreign.h"
#include "rf_json.h"
#include "rf_hosts.h"
#include "rf_policy.h"
#include "rf_rule.h"
#include "rf_util.h"
#include "rf_verify.h"

const char rf_help_isolate[] =
    "Usage: ringfence isolate [--comment TEXT] [--for DURATION] [--force]\n"
    "                         [--audit] [--confirm-within DURATION]\n"
    "                         [--verify HOST:PORT]... [--verify-timeout DURATION]\n"
    "Isolate the target (the host, or the --cgroup, --unit, --container or --pid given): from\n"
    "now on only loopback, allowed destinations, allowed processes and the built-in DHCP/ND\n"
    "rules pass for its processes; existing connections to other peers stop too.\n"
    "  --comment TEXT   recorded in the action history and shown by status\n"
    "  --for DURATION   release automatically after DURATION (90s, 15m, 2h, 1d); enforced by\n"
    "                   the kernel, so it holds even if no ringfence process runs\n"
    "  --force          isolate even though no destination or process is allowed (the host\n"
    "                   can then only be released from its console)\n"
    "Making it safe to try on a remote host:\n"
    "  --audit          block nothing; report every connection, datagram, packet and socket\n"
    "                   that isolation would block as a 'would-block' event (see events,\n"
    "                   status, metrics). A later 'isolate' enforces at once; 'release' ends it.\n"
    "  --confirm-within DURATION\n"
    "                   isolation ends by itself after DURATION unless 'ringfence confirm' runs\n"
    "                   first (a kernel deadline: it holds if this shell, the CLI and the agent\n"
    "                   all die); recorded as rolled-back, not confirmed\n"
    "  --verify HOST:PORT\n"
    "                   after isolating, a probe in the isolated cgroup must open a TCP\n"
    "                   connection to HOST:PORT (IPv4, or [IPv6]:PORT; repeatable), and a\n"
    "                   connect to an address no rule allows must fail with EPERM; when a\n"
    "                   check proves the isolation cut an endpoint (the same connect works\n"
    "                   from outside the target, or the hook refused it), isolation is rolled\n"
    "                   back at once and the command exits 1. A failure the host's state\n"
    "                   explains (no free port, no route, no IPv6) keeps the isolation and\n"
    "                   warns: nothing the target's processes do can end it\n"
    "  --verify-timeout DURATION   per endpoint (default 5s)\n"
    "Example: isolate --audit; ringfence events; then\n"
    "  isolate --verify 203.0.113.10:443 --confirm-within 5m; then ringfence confirm\n"
    "Running it while already isolated changes nothing and exits 0 (with --for or\n"
    "--confirm-within it exits 2: release first). A configuration file with an error does\n"
    "not stop isolation: the last applied policy stays in force, and the problem is printed\n"
    "and recorded in the history. Nor does the state dir: when its lock stays taken or it\n"
    "cannot be written, isolation goes ahead in the kernel, is recorded as soon as it can\n"
    "be, and isolate exits 1.\n";

const char rf_help_confirm[] =
    "Usage: ringfence confirm [--comment TEXT]\n"
    "Keep an isolation started with --confirm-within: it becomes ordinary isolation (or runs\n"
    "to its --for deadline). Exits 1 when there is nothing to confirm (not isolated, or\n"
    "rolled back already: the message says which).\n";

const char rf_help_release[] =
    "Usage: ringfence release [--comment TEXT]   (alias: unisolate)\n"
    "End isolation (or audit mode); full connectivity returns at once. Exits 0 if not\n"
    "isolated.\n";

/* What isolate was asked to do, validated. */
struct isolate_req {
	const struct rf_cmd_opts *o;
	__u64 for_secs, confirm_secs;
	int verify_timeout_ms;
	struct rf_endpoint eps[RF_VERIFY_MAX];
	int neps;
	struct rf_verify_check checks[RF_VERIFY_MAX + 2];
	int nchecks;
	char warn[RF_ERR_MAX]; /* verify inconclusive: isolation kept */
	/* what is recorded once the kernel is isolated (later, when the lock was not had) */
	struct rf_isolation iso;
	struct rf_action action;
	bool applied;
};

static int duration_arg(const char *opt, const char *v, __u64 *secs)
{
	if (v && rf_parse_duration(v, secs))
		return rf_usage_error("invalid %s '%s': use e.g. 90s, 15m, 2h or 1d (at most 366d)",
				      opt, v);
	return 0;
}

static int parse_request(const struct rf_cmd_opts *o, struct isolate_req *r)
{
	char err[RF_ERR_MAX];
	__u64 vt = RF_VERIFY_TIMEOUT_DEFAULT_MS / 1000;
	int i, ret;

	memset(r, 0, sizeof(*r));
	r->o = o;
	if ((ret = duration_arg("--for", o->duration, &r->for_secs)) ||
	    (ret = duration_arg("--confirm-within", o->confirm_within, &r->confirm_secs)) ||
	    (ret = duration_arg("--verify-timeout", o->verify_timeout, &vt)))
		return ret;
	if (vt > 300)
		return rf_usage_error("--verify-timeout is at most 5m");
	r->verify_timeout_ms = (int)vt * 1000;
	if (o->audit && (o->confirm_within || o->nverify || o->force))
		return rf_usage_error("--audit blocks nothing: it takes no --confirm-within, "
				      "--verify or --force");
	for (i = 0; i < o->nverify; i++)
		if (rf_endpoint_parse(o->verify[i], &r->eps[r->neps++], err, sizeof(err)))
			return rf_usage_error("%s", err);
	return 0;
}

/* Count net entries that can carry management traffic (not the built-in DNS rules). */
static int count_way_back(const struct rf_net_key *k, const struct rf_net_entry *e, void *arg)
{
	(void)k;
	if (e->origin & RF_ENTRY_BUILTIN)
		return 0;
	(*(size_t *)arg)++;
	return 1; /* one is enough */
}

/* Is anything allowed that management could come back through? (A host rule names one.) */
static bool has_way_back(const struct rf_maps *m)
{
	size_t nnet = 0;

	rf_policy_for_each_net(m, count_way_back, &nnet);
	return nnet || rf_host_any(m) || rf_map_count(m->exe, sizeof(struct rf_exe_key), 1) ||
	       rf_map_count(m->exe3, sizeof(struct rf_exe_key), 1) ||
	       rf_map_count(m->cgroup, sizeof(__u64), 1);
}

static __u64 earliest(__u64 a, __u64 b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* The record of the isolation that r asks for, starting now. */
static void plan_record(const struct isolate_req *r, struct rf_isolation *iso)
{
	__u64 now_unix = rf_now_unix_ns(), now_boot = rf_now_boot_ns();
	__u64 secs = earliest(r->for_secs, r->confirm_secs);

	memset(iso, 0, sizeof(*iso));
	iso->isolated = !r->o->audit;
	iso->audit = r->o->audit;
	iso->since_unix_ns = now_unix;
	iso->deadline_unix_ns = secs ? now_unix + secs * 1000000000ULL : 0;
	iso->deadline_boot_ns = secs ? now_boot + secs * 1000000000ULL : 0;
	iso->boot_to_unix_ns = now_unix - now_boot;
	iso->deadline_synced = secs && rf_clock_synced();
	iso->remaining_ns = secs * 1000000000ULL;
	iso->for_unix_ns = r->for_secs ? now_unix + r->for_secs * 1000000000ULL : 0;
	iso->confirm_unix_ns = r->confirm_secs ? now_unix + r->confirm_secs * 1000000000ULL : 0;
	if (r->for_secs > r->confirm_secs && r->confirm_secs)
		iso->for_after_confirm_ns = (r->for_secs - r->confirm_secs) * 1000000000ULL;
	rf_boot_id(iso->boot_id, sizeof(iso->boot_id));
	snprintf(iso->comment, sizeof(iso->comment), "%s", r->o->comment ? r->o->comment : "");
}

/*
 * Start enforcing (or auditing) as iso says: the kernel deadline is the earlier of --for and
 * --confirm-within. Audit -> enforce is gap-free: isolated is set while the audit bit is still
 * on (a non-zero isolated wins), and the bit is cleared after.
 */
static int set_mode(struct rf_maps *m, const struct isolate_req *r, const struct rf_isolation *iso)
{
	struct rf_config_change c = {.fields = RF_CFG_F_ABI | RF_CFG_F_DEADLINE | RF_CFG_F_SINCE};
	struct rf_config_change clear = {.fields = RF_CFG_F_FLAGS, .flags_mask = RF_CFG_AUDIT};
	int ret;

	c.val.abi_version = RF_ABI_VERSION;
	c.val.since_unix_ns = iso->since_unix_ns;
	c.val.deadline_ns = iso->deadline_boot_ns;
	c.fields |= r->o->audit ? RF_CFG_F_FLAGS : RF_CFG_F_ISOLATED;
	c.val.isolated = RF_ISOLATED;
	c.val.flags = RF_CFG_AUDIT;
	c.flags_mask = RF_CFG_AUDIT;
	ret = rf_config_update(m, &c, NULL);
	if (!ret && !r->o->audit)
		ret = rf_config_update(m, &clear, NULL);
	if (ret)
		rf_err("failed to set the isolation flag: %s", strerror(-ret));
	return ret;
}

/* The isolation record, or why it could not be written (isolation holds regardless). */
static void save_record(struct rf_ctx *ctx, const struct rf_isolation *iso)
{
	int ret = rf_isolation_save(ctx->state_dir, iso);

	if (ret)
		rf_svc_state_error(ctx,
				   "the isolation record (it is not restored after a reboot "
				   "until recorded)",
				   ret);
}

/* Record a deadline that passed unnoticed before acting on the state it left. */
static void note_lapse(struct rf_ctx *ctx, const struct rf_maps *m)
{
	struct rf_config cfg;

	if (!rf_config_get(m, &cfg))
		rf_svc_note_lapse(ctx, &cfg);
}

/* Clear the flag, the audit bit and the deadline, and the record; *was: what was in force. */
static int clear_mode(struct rf_ctx *ctx, struct rf_maps *m, enum rf_svc_mode *was)
{
	struct rf_config_change c = {.fields =
					 RF_CFG_F_ISOLATED | RF_CFG_F_DEADLINE | RF_CFG_F_FLAGS,
				     .flags_mask = RF_CFG_AUDIT};
	struct rf_isolation iso;
	struct rf_config cfg;
	int ret;

	if (!ctx->unlocked)
		note_lapse(ctx, m);
	ret = rf_config_get(m, &cfg);
	*was = ret ? RF_SVC_OFF : rf_svc_mode(&cfg);
	if (!ret)
		ret = rf_config_update(m, &c, NULL);
	if (ret) {
		rf_err("failed to clear the isolation flag: %s", strerror(-ret));
		return ret;
	}
	rf_crash_point("applied");
	if (ctx->unlocked)
		return 0;
	ret = rf_isolation_load(ctx->state_dir, &iso);
	iso.isolated = iso.audit = false;
	iso.deadline_unix_ns = iso.confirm_unix_ns = iso.for_unix_ns = iso.remaining_ns = 0;
	iso.for_after_confirm_ns = iso.deadline_boot_ns = 0;
	if (!ret)
		ret = rf_isolation_save(ctx->state_dir, &iso);
	if (ret)
		rf_svc_state_error(ctx,
				   "the isolation record (released, but a reboot would "
				   "isolate again)",
				   ret);
	return 0;
}

static json_t *json_checks(const struct isolate_req *r)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; arr && i < r->nchecks; i++) {
		const struct rf_verify_check *c = &r->checks[i];

		if (rf_jappend(arr,
			       json_pack("{s:o,s:b,s:b,s:b,s:I,s:o}", "check", rf_jstr(c->what),
					 "ok", c->ok, "skipped", c->skipped, "inconclusive",
					 c->inconclusive, "ms", (json_int_t)c->ms, "error",
					 c->err ? rf_jstr(strerror(c->err)) : json_null()))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static void json_result(struct rf_ctx *ctx, const struct isolate_req *r, const char *fail,
			__u64 action_id)
{
	bool audit = r->o->audit;

	rf_json_write(stdout,
		      json_pack("{s:b,s:b,s:b,s:o,s:o,s:o,s:o,s:b,s:o,s:o,s:b,s:o,s:o}", "isolated",
				!fail && !audit, "audit", !fail && audit, "changed", !fail,
				"cgroup", rf_jstr(ctx->cg_dir), "deadline_seconds",
				rf_ju64(r->for_secs), "confirm_within_seconds",
				rf_ju64(r->confirm_secs), "action_id", rf_ju64(action_id),
				"rolled_back", fail != NULL, "error", rf_jstr_or_null(fail),
				"warning", rf_jstr_or_null(ctx->config_warning), "packet_guard",
				ctx->packet_guard, "verify_warning", rf_jstr_or_null(r->warn),
				"verify", json_checks(r)),
		      true);
}

static void text_checks(const struct isolate_req *r)
{
	int i;

	for (i = 0; i < r->nchecks; i++) {
		const struct rf_verify_check *c = &r->checks[i];

		printf("verify: %-40s %s", c->what,
		       c->skipped	 ? "skipped (every candidate address is allowed by a rule)"
		       : c->ok		 ? "ok"
		       : c->inconclusive ? "INCONCLUSIVE (isolation kept)"
					 : "FAILED");
		if (!c->skipped)
			printf(" (%s, %ld ms)", c->err ? strerror(c->err) : "connected", c->ms);
		printf("\n");
	}
}

static void print_result(struct rf_ctx *ctx, const struct isolate_req *r, const char *fail,
			 __u64 action_id)
{
	bool audit = r->o->audit;

	if (ctx->json) {
		json_result(ctx, r, fail, action_id);
		return;
	}
	text_checks(r);
	if (!fail && ctx->guard_decided && !ctx->packet_guard)
		rf_warn("the packet-socket guard and the second wall are off for this target "
			"('packet-guard off'): AF_PACKET sockets, tunnels and NAT of its processes "
			"are not judged at the interfaces; set 'packet-guard auto' or 'on' (see "
			"docs/THREAT-MODEL.md)");
	if (fail) {
		printf("rolled back: %s\n", fail);
		return;
	}
	printf("%s %s", audit ? "auditing (nothing is blocked)" : "isolated", ctx->cg_dir);
	if (r->for_secs)
		printf(" for %llus", (unsigned long long)r->for_secs);
	if (r->confirm_secs)
		printf("; run 'ringfence confirm' within %llus or it is rolled back",
		       (unsigned long long)r->confirm_secs);
	printf("\n");
}

/*
 * After isolating: the probe's checks; when one proves the isolation cut an endpoint, roll back
 * at once (fail names the check). A probe that could not run or checks that the host's state
 * explains leave the isolation in force, with a warning (warn): a process of the target must
 * not be able to end its isolation by making the probe fail.
 */
static int verify_or_roll_back(struct rf_ctx *ctx, struct rf_maps *m, struct isolate_req *r,
			       char *fail, size_t faillen, char *warn, size_t warnlen)
{
	enum rf_svc_mode was;
	int ret, i;

	ret = rf_verify_run(ctx->cg_dir, m, r->eps, r->neps, r->verify_timeout_ms, r->checks,
			    &r->nchecks);
	for (i = 0; ret != -EPERM && i < r->nchecks; i++)
		if (r->checks[i].inconclusive && !warn[0])
			snprintf(warn, warnlen,
				 "verify inconclusive: %s: %s, also from outside the target or "
				 "explained by the host's state; isolation kept",
				 r->checks[i].what, strerror(r->checks[i].err));
	if (ret && ret != -EPERM)
		snprintf(warn, warnlen,
			 "verify inconclusive: the probe could not run (%s); "
			 "isolation kept",
			 strerror(-ret));
	if (warn[0])
		rf_warn("%s", warn);
	if (ret != -EPERM)
		return 0;
	for (i = 0; i < r->nchecks; i++)
		if (!r->checks[i].ok && !r->checks[i].inconclusive) {
			snprintf(fail, faillen, "verify failed: %s: %s", r->checks[i].what,
				 r->checks[i].err ? strerror(r->checks[i].err) : "connected");
			break;
		}
	rf_err("%s; rolling back", fail);
	clear_mode(ctx, m, &was);
	return -EPERM;
}

/* Refusals and no-ops for the mode in force; 1 when isolate has nothing more to do. */
static int check_mode(struct rf_ctx *ctx, struct rf_maps *m, const struct isolate_req *r,
		      enum rf_svc_mode mode, const char **fail)
{
	if (mode == RF_SVC_ENFORCE && r->o->audit) {
		rf_err("already isolated: audit mode would lift the isolation; run 'ringfence "
		       "release' first if that is what you want");
		*fail = "already isolated";
		return -EBUSY;
	}
	if ((mode == RF_SVC_ENFORCE || (mode == RF_SVC_AUDIT && r->o->audit)) &&
	    (r->for_secs || r->confirm_secs)) {
		rf_usage_error("already %s: --for and --confirm-within set a deadline only when "
			       "isolation starts, and this one keeps its own; run 'ringfence "
			       "release' first to start over with a new deadline",
			       mode == RF_SVC_ENFORCE ? "isolated" : "auditing");
		*fail = "already isolated: a new deadline was not applied";
		return -EALREADY;
	}
	if (mode == RF_SVC_ENFORCE || (mode == RF_SVC_AUDIT && r->o->audit)) {
		bool iso = mode == RF_SVC_ENFORCE;

		if (ctx->json)
			rf_json_write(stdout,
				      json_pack("{s:b,s:b,s:b}", "isolated", iso, "audit", !iso,
						"changed", false),
				      true);
		else
			printf("already %s; nothing changed\n", iso ? "isolated" : "auditing");
		return 1;
	}
	/* a container or service cut off entirely is still released from the host: only the host
	 * (the home target) can lock its responder out */
	if (!r->o->audit && ctx->is_home && !has_way_back(m) && !r->o->force) {
		rf_err("refusing to isolate: no destination and no process is allowed, so nothing "
		       "could reach this host to release it. Allow the management channel first "
		       "(e.g. 'ringfence allow add net 203.0.113.10 proto tcp port 443 dir out' or "
		       "'ringfence allow add exe /path/to/agent'), or pass --force.");
		*fail = "no way back: nothing allowed";
		return -EPERM;
	}
	return 0;
}

/* Record what isolate did (under the lock): the isolation record, the history, the journal. */
static void record_isolate(struct rf_ctx *ctx, struct isolate_req *r, const char *fail)
{
	if (r->applied && !fail)
		save_record(ctx, &r->iso);
	rf_svc_action_finish(ctx, &r->action, fail, 0);
	rf_svc_intent_done(ctx);
}

/* The kernel side of isolate: load, check, journal, flag, verify. Records nothing yet. */
static int isolate_kernel(struct rf_ctx *ctx, struct rf_maps *m, struct isolate_req *r,
			  const char **fail, char *vfail, size_t vlen)
{
	struct rf_config cfg;
	__u32 ttl;
	int ret;

	if ((ret = rf_svc_ensure_loaded(ctx, m, true))) {
		*fail = "load or configuration failed";
		return ret;
	}
	if ((ret = rf_config_get(m, &cfg))) {
		rf_err("failed to read rf_config: %s", strerror(-ret));
		*fail = "cannot read rf_config";
		return ret;
	}
	if (!ctx->unlocked)
		rf_svc_note_lapse(ctx, &cfg); /* a deadline that passed unnoticed goes in first */
	ret = check_mode(ctx, m, r, rf_svc_mode(&cfg), fail);
	if (ret)
		return ret;
	plan_record(r, &r->iso);
	/* before the flag: an address an application looked up before isolation stays allowed */
	rf_hosts_refresh(m, &ttl);
	if (!ctx->unlocked)
		rf_svc_intent(ctx, "isolate", &r->action,
			      json_pack("{s:o}", "isolation", rf_isolation_json(&r->iso)));
	if ((ret = set_mode(m, r, &r->iso))) {
		*fail = "cannot write rf_config";
		return ret;
	}
	r->applied = true;
	rf_crash_point("applied");
	if (!r->o->audit) /* sockets made outside the target: never judged by it */
		rf_svc_cut_foreign(ctx, m, NULL, NULL);
	if (r->neps &&
	    (ret = verify_or_roll_back(ctx, m, r, vfail, vlen, r->warn, sizeof(r->warn))))
		*fail = vfail;
	return ret;
}

/* The isolate action itself (under the state lock, or without it: ctx->unlocked). */
static int isolate_locked(struct rf_ctx *ctx, const void *arg)
{
	struct isolate_req *r = (struct isolate_req *)arg;
	struct rf_maps m = RF_MAPS_INIT;
	char vfail[RF_ERR_MAX] = "";
	const char *fail = NULL;
	int ret;

	rf_svc_action_defer(&r->action, r->o->audit ? "audit" : "isolate", r->o->comment);
	ret = isolate_kernel(ctx, &m, r, &fail, vfail, sizeof(vfail));
	if (ret > 0)
		ret = 0; /* nothing to do */
	else if (!fail || vfail[0])
		print_result(ctx, r, fail, r->action.id);
	if (r->warn[0]) { /* the history says the isolation stood unverified */
		size_t l = strlen(r->action.comment);

		snprintf(r->action.comment + l, sizeof(r->action.comment) - l, "%s[%s]",
			 l ? " " : "", r->warn);
	}
	if (fail)
		snprintf(r->action.error, sizeof(r->action.error), "%s", fail);
	if (!ctx->unlocked)
		record_isolate(ctx, r, fail);
	rf_maps_close(&m);
	return ret;
}

/*
 * Isolation is never refused because the state dir is slow (another holder of its lock) or
 * broken (read-only, full, a directory or dangling link where a file belongs): the lock is
 * waited for RF_ISOLATE_LOCK_WAIT_MS at most, then isolate goes through the kernel and records
 * once it has the lock. Whatever could not be recorded makes it exit 1 (isolated, degraded).
 */
int rf_cmd_isolate(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	static struct isolate_req r;
	int ret, lock;

	if ((ret = parse_request(o, &r)))
		return ret;
	if (rf_svc_need_root())
		return EXIT_OPFAIL;
	lock = rf_svc_lock_wait(ctx, RF_ISOLATE_LOCK_WAIT_MS);
	ctx->unlocked = lock < 0;
	if (ctx->unlocked) {
		rf_warn("isolating without the state lock: isolation goes ahead in the kernel and "
			"is recorded as soon as the lock can be had");
		ctx->state_err = lock;
	} else {
		rf_svc_recover(ctx);
	}
	ret = isolate_locked(ctx, &r);
	if (ctx->unlocked && r.applied) {
		lock = rf_state_lock_wait(ctx->state_dir, RF_LOCK_TIMEOUT_MS);
		if (lock >= 0) {
			ctx->unlocked = false;
			ctx->state_err = 0;
			record_isolate(ctx, &r, r.action.error[0] ? r.action.error : NULL);
		}
	}
	rf_state_unlock(lock);
	if (ret == -EALREADY)
		return EXIT_USAGE;
	if (!ret && r.applied && ctx->state_err) {
		rf_err("%s %s, but not everything was recorded (%s): it holds in the kernel; the "
		       "next ringfence command or the agent records it once the state dir %s can "
		       "be written",
		       r.o->audit ? "auditing" : "isolated", ctx->cg_dir,
		       rf_state_problem(ctx->state_err), ctx->state_dir);
		return EXIT_OPFAIL;
	}
	if (!ret && ctx->degraded)
		return EXIT_OPFAIL; /* isolated, with a foreign pin moved aside (said on stderr) */
	return rf_exit_code(ret);
}

/* Did the last change of isolation in the history end it unconfirmed? */
static bool last_was_rollback(struct rf_ctx *ctx)
{
	static const char *const ends[] = {
	    "isolate", "audit", "release", "auto-release", "external-release", "restore-isolation"};
	struct rf_action *acts;
	size_t n, i, k;
	bool rb = false;

	if (rf_history_load(ctx->state_dir, &acts, &n))
		return false;
	for (i = n; i > 0; i--) {
		if (!strcmp(acts[i - 1].type, "rolled-back")) {
			rb = true;
			break;
		}
		for (k = 0; k < sizeof(ends) / sizeof(ends[0]); k++)
			if (!strcmp(acts[i - 1].type, ends[k]))
				break;
		if (k < sizeof(ends) / sizeof(ends[0]))
			break;
	}
	free(acts);
	return rb;
}

/* Make a pending commit-confirmed isolation ordinary (or run to its --for deadline). */
static int confirm_locked(struct rf_ctx *ctx, struct rf_maps *m, const struct rf_action *a,
			  const char **fail)
{
	struct rf_config_change c = {.fields = RF_CFG_F_DEADLINE};
	struct rf_isolation iso;
	struct rf_config cfg;
	__u64 now = rf_now_unix_ns();
	int ret;

	if ((ret = rf_config_get(m, &cfg)) || (ret = rf_isolation_load(ctx->state_dir, &iso))) {
		rf_err("cannot read the isolation state: %s", strerror(-ret));
		*fail = "cannot read the isolation state";
		return ret;
	}
	rf_svc_note_lapse(ctx, &cfg);
	if (!rf_svc_isolated_now(&cfg)) {
		if (last_was_rollback(ctx))
			rf_err("too late: the isolation was not confirmed in time and has been "
			       "rolled back (see 'ringfence history'); isolate again if needed");
		else
			rf_err("nothing to confirm: not isolated");
		*fail = "not isolated";
		return -ENOENT;
	}
	if (!iso.confirm_unix_ns) {
		if (ctx->json)
			rf_json_write(stdout,
				      json_pack("{s:b,s:b}", "confirmed", false, "changed", false),
				      true);
		else
			printf("isolation is not waiting for confirmation; nothing changed\n");
		return 0;
	}
	/* on the kernel's clock: the --for deadline lies for_after_confirm beyond the pending
	 * one (or is it, when it came first); records of the previous release had only the wall
	 * clock */
	if (!iso.for_unix_ns)
		c.val.deadline_ns = 0;
	else if (iso.deadline_boot_ns || iso.for_after_confirm_ns)
		c.val.deadline_ns = cfg.deadline_ns + iso.for_after_confirm_ns;
	else
		c.val.deadline_ns =
		    rf_now_boot_ns() + (iso.for_unix_ns > now ? iso.for_unix_ns - now : 0);
	iso.deadline_boot_ns = c.val.deadline_ns;
	iso.deadline_unix_ns = c.val.deadline_ns ? rf_svc_boot_to_unix(c.val.deadline_ns) : 0;
	iso.deadline_synced = c.val.deadline_ns && rf_clock_synced();
	iso.remaining_ns = c.val.deadline_ns ? c.val.deadline_ns - rf_now_boot_ns() : 0;
	iso.confirm_unix_ns = iso.for_after_confirm_ns = 0;
	rf_boot_id(iso.boot_id, sizeof(iso.boot_id));
	rf_svc_intent(ctx, "confirm", a,
		      json_pack("{s:I,s:o}", "deadline_boot", (json_int_t)c.val.deadline_ns,
				"isolation", rf_isolation_json(&iso)));
	if ((ret = rf_config_update(m, &c, NULL))) {
		rf_err("failed to update the deadline: %s", strerror(-ret));
		*fail = "cannot write rf_config";
		return ret;
	}
	rf_crash_point("applied");
	rf_svc_state_error(ctx,
			   "the isolation record (confirmed, but a reboot would restore the "
			   "pending confirmation)",
			   rf_isolation_save(ctx->state_dir, &iso));
	if (ctx->json)
		rf_json_write(stdout, json_pack("{s:b,s:b}", "confirmed", true, "changed", true),
			      true);
	else
		printf("confirmed: isolation stays in force%s\n",
		       iso.for_unix_ns ? " until its --for deadline" : "");
	return 0;
}

/*
 * An action on the pinned maps, under the state lock: recorded in the history, the maps opened
 * (fn gets the open result: -ENOENT when ringfence is not loaded), fn's failure recorded.
 */
static int maps_action(struct rf_ctx *ctx, const char *type, const char *comment,
		       int (*fn)(struct rf_ctx *ctx, struct rf_maps *m, int open_err,
				 const struct rf_action *a, const char **fail))
{
	struct rf_maps m = RF_MAPS_INIT;
	const char *fail = NULL;
	struct rf_action a;
	int ret;

	rf_svc_action_start(ctx, &a, type, comment);
	ret = fn(ctx, &m, rf_maps_open(ctx->pin_dir, &m), &a, &fail);
	rf_svc_action_finish(ctx, &a, fail, 0);
	rf_svc_intent_done(ctx); /* fn's intent, if it wrote one, is recorded now */
	rf_maps_close(&m);
	return ret;
}

static int confirm_maps(struct rf_ctx *ctx, struct rf_maps *m, int open_err,
			const struct rf_action *a, const char **fail)
{
	if (open_err) {
		rf_err("nothing to confirm: ringfence is not loaded (%s)", strerror(-open_err));
		*fail = "not loaded";
		return open_err;
	}
	return confirm_locked(ctx, m, a, fail);
}

static int confirm_cmd_locked(struct rf_ctx *ctx, const void *arg)
{
	return maps_action(ctx, "confirm", ((const struct rf_cmd_opts *)arg)->comment,
			   confirm_maps);
}

int rf_cmd_confirm(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	return rf_cmd_locked(ctx, confirm_cmd_locked, o);
}

static int release_maps(struct rf_ctx *ctx, struct rf_maps *m, int open_err,
			const struct rf_action *a, const char **fail)
{
	enum rf_svc_mode was = RF_SVC_OFF;
	int ret;

	/* pins of an older ABI (not upgraded yet): its rf_config is all a release writes */
	if (open_err == -EPROTO)
		open_err = rf_maps_open_config(ctx->pin_dir, m);
	if (open_err == -ENOENT) {
		if (ctx->json)
			rf_json_write(stdout,
				      json_pack("{s:b,s:b}", "isolated", false, "changed", false),
				      true);
		else
			printf("not isolated (ringfence is not loaded)\n");
		return 0;
	}
	if (open_err) {
		rf_err("failed to open pinned maps in %s: %s", ctx->pin_dir, strerror(-open_err));
		*fail = "cannot open maps";
		return open_err;
	}
	rf_svc_intent(ctx, "release", a, NULL);
	if ((ret = clear_mode(ctx, m, &was))) {
		*fail = "cannot write rf_config";
		return ret;
	}
	if (ctx->json)
		rf_json_write(stdout,
			      json_pack("{s:b,s:b,s:b}", "isolated", false, "audit", false,
					"changed", was != RF_SVC_OFF),
			      true);
	else
		printf(was == RF_SVC_ENFORCE ? "released\n"
		       : was == RF_SVC_AUDIT ? "audit mode ended\n"
					     : "not isolated; nothing changed\n");
	return 0;
}

static int release_locked(struct rf_ctx *ctx, const void *arg)
{
	return maps_action(ctx, "release", ((const struct rf_cmd_opts *)arg)->comment,
			   release_maps);
}

int rf_cmd_release(struct rf_ctx *ctx, const struct rf_cmd_opts *o)
{
	return rf_cmd_locked(ctx, release_locked, o);
}
