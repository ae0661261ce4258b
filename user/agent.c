// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringfence agent: the long-running service. Loads (or adopts) the programs, re-applies the
 * persisted state (a host isolated before a reboot is isolated again), streams blocked-attempt
 * events to stdout and <state>/events.jsonl, re-attaches detached links and records isolation
 * changes it did not make (another agent writing rf_config, or the deadline passing). It
 * survives every failure of its own loop: it logs, backs off and tries again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "rf_agent.h"
#include "rf_event_summary.h"
#include "rf_foreign.h"
#include "rf_hosts.h"
#include "rf_events.h"
#include "rf_mqtt.h"
#include "rf_net_index.h"
#include "rf_service.h"
#include "rf_util.h"

#define RF_RETRY_MIN_MS	     500 /* first retry after a failed attach; doubles up to the max */
#define RF_RETRY_MAX_MS	     30000
#define RF_POLL_MS	     100
#define RF_NETNS_WALK_MS     5000 /* new namespaces of the target get the guard within this */
#define RF_REMAINING_STEP_NS (60ULL * 1000000000ULL) /* refresh of the time left, at most */

static volatile sig_atomic_t agent_exiting;
static struct rf_mqtt_agent *agent_mqtt; /* remote control (user/mqtt.c), NULL: off */

static void on_term(int sig)
{
	(void)sig;
	agent_exiting = 1;
}

/* One target the agent serves. */
struct agent {
	struct rf_ctx *ctx; /* the agent's own target: the caller's; others: &own_ctx */
	struct rf_ctx own_ctx;
	bool own; /* the target the agent was started for: always served */
	struct rf_maps m;
	struct ring_buffer *rb;	 /* NULL while not attached: the loop retries */
	struct rf_event_log log; /* <state>/events.jsonl */
	int suppressed;		 /* rf_suppressed: flows the rate limit held back; -1 if none */
	struct rf_event_ctx ec;
	char hostname[256];
	int last_isolated; /* -1 unknown */
	__u64 retry_at_ms, retry_delay_ms;
	__u64 next_netns_ms;  /* next walk of the target's network namespaces */
	__u64 next_hosts_ms;  /* next lookup of the host rules' names */
	__u64 next_index_ms;  /* next comparison of rf_net_hash with rf_allow_net */
	__u64 index_every_ms; /* how often: 10 s, or 100 times what the last one took */
	bool seen;	      /* found by the last scan of the recorded targets */
	bool gone;	      /* its cgroup was removed (or replaced by a new one of that path) */
	struct rf_held held;  /* links and programs held open: isolation outlives their pins */
	bool pins_lost;	      /* held objects lost their pins and could not be pinned again yet */
};

#define RF_AGENT_MAX_TARGETS 256

/* Every target the agent serves: its own, and each recorded under <state>/targets. */
struct fleet {
	struct rf_ctx *base;
	struct agent *ag[RF_AGENT_MAX_TARGETS];
	size_t n;
	char hostname[256];
	__u64 boot_to_unix_ns;
	bool full_warned;
};

/* Append a completed action to the history; the caller holds the state lock. */
static void record_locked(struct agent *ag, const char *type, const char *requestor,
			  const char *comment, const char *error)
{
	struct rf_action a;
	int ret;

	memset(&a, 0, sizeof(a));
	snprintf(a.type, sizeof(a.type), "%s", type);
	snprintf(a.requestor, sizeof(a.requestor), "%s", requestor);
	snprintf(a.comment, sizeof(a.comment), "%s", comment ? comment : "");
	ret = rf_action_record(ag->ctx->state_dir, &a, error);
	if (ret)
		rf_warn("failed to record %s in the history: %s", type, strerror(-ret));
	rf_err("%s: %s%s%s", type, comment ? comment : "", error ? ": " : "", error ? error : "");
}

static void record(struct agent *ag, const char *type, const char *requestor, const char *comment,
		   const char *error)
{
	int lock = rf_svc_lock(ag->ctx);

	record_locked(ag, type, requestor, comment, error); /* even without the lock: say it */
	rf_state_unlock(lock);
}

static void open_log(struct agent *ag)
{
	rf_event_log_open(&ag->log, ag->ctx->state_dir, &ag->ec);
}

/* logrotate (or an admin) moved events.jsonl away: write to a new file at its path again. */
static void reopen_moved_log(struct agent *ag)
{
	struct stat open_st, path_st;

	if (ag->log.f && !fstat(fileno(ag->log.f), &open_st) &&
	    (stat(ag->log.path, &path_st) || open_st.st_ino != path_st.st_ino ||
	     open_st.st_dev != path_st.st_dev))
		open_log(ag);
}

static int on_event(void *arg, void *data, size_t len)
{
	struct agent *ag = arg;
	const struct rf_event *e = rf_event_prepare(&ag->ec, data, len);

	if (!e)
		return 0;
	rf_event_json(stdout, e, &ag->ec);
	if (agent_mqtt) {
		_cleanup_free_ char *json = NULL;
		size_t n = 0;
		FILE *mem = open_memstream(&json, &n);

		if (mem) {
			rf_event_json(mem, e, &ag->ec);
			if (!fclose(mem))
				rf_mqtt_agent_event(agent_mqtt, json, n);
		}
	}
	rf_event_log_event(&ag->log, e);
	return 0;
}

/* A line of mem (an open_memstream() of json) to the broker's events topic; closes mem. */
static void mqtt_publish(FILE *mem, char *json, const size_t *n)
{
	if (!fclose(mem))
		rf_mqtt_agent_event(agent_mqtt, json, *n);
	free(json);
}

static void on_held_back(const struct rf_flow_key *k, const struct rf_flow_count *c, void *arg)
{
	struct agent *ag = arg;
	char *json = NULL;
	size_t n = 0;
	FILE *mem;

	rf_flow_summary_json(stdout, k, c, &ag->ec, "rate_limited");
	if (agent_mqtt && (mem = open_memstream(&json, &n))) {
		rf_flow_summary_json(mem, k, c, &ag->ec, "rate_limited");
		mqtt_publish(mem, json, &n);
	}
	rf_event_log_flow(&ag->log, k, c);
}

static void on_cut(const struct rf_foreign_sock *s, void *arg)
{
	struct agent *ag = arg;
	char *json = NULL;
	size_t n = 0;
	FILE *mem;

	rf_foreign_json(stdout, s, &ag->ec);
	if (agent_mqtt && (mem = open_memstream(&json, &n))) {
		rf_foreign_json(mem, s, &ag->ec);
		mqtt_publish(mem, json, &n);
	}
	if (ag->log.f) {
		rf_foreign_json(ag->log.f, s, &ag->ec);
		fflush(ag->log.f);
	}
}

/* While isolated: sockets made outside the target that its processes hold are cut. */
static void cut_foreign(struct agent *ag)
{
	struct rf_config cfg;

	if (!rf_config_get(&ag->m, &cfg) && rf_svc_mode(&cfg) == RF_SVC_ENFORCE)
		rf_svc_cut_foreign(ag->ctx, &ag->m, on_cut, ag);
}

/* Every flow the kernel held back since the last call becomes a summary event. */
static void drain_held_back(struct agent *ag)
{
	int n;

	if (ag->suppressed < 0)
		return;
	n = rf_suppressed_drain(ag->suppressed, RF_SUPPRESSED_MAX, on_held_back, ag);
	if (n < 0)
		rf_warn("cannot read rf_suppressed: %s", strerror(-n));
}

static void detach_maps(struct agent *ag)
{
	ring_buffer__free(ag->rb);
	ag->rb = NULL;
	if (ag->suppressed >= 0)
		close(ag->suppressed);
	ag->suppressed = -1;
	rf_maps_close(&ag->m);
}

/* How the agent restores: it tells a release by another agent from a reboot, and says it. */
static const struct rf_restore agent_restore = {
    .requestor = "agent", .check_released = true, .log = true};

static bool wanted(const struct rf_ctx *t);

/*
 * Hold what is pinned (links, the tc program): a pinned link whose pin goes away (bpffs
 * unmounted, pins removed) detaches within milliseconds unless someone holds it.
 */
static void hold_pins(struct agent *ag)
{
	int ret = rf_hold(ag->ctx->pin_dir, &ag->held);

	if (ret)
		rf_warn("cannot hold the links of %s: %s (isolation then depends on the pins)",
			ag->ctx->cg_dir, strerror(-ret));
}

/*
 * The pins of what the agent holds are gone (bpffs unmounted, pins removed): the held links go
 * on enforcing; pin them again, with their maps. True while that cannot be done yet (no bpffs
 * there): then nothing may be loaded either, which would attach a second set of programs.
 */
static bool keep_pinned(struct agent *ag)
{
	char err[512] = "", what[64];
	int n;

	if (!rf_held_unpinned(ag->ctx->pin_dir, &ag->held))
		return false;
	n = rf_repin(ag->ctx->pin_dir, &ag->held, err, sizeof(err));
	if (n < 0) {
		if (!ag->pins_lost)
			record(
			    ag, "pins-lost", "agent", err,
			    "the pins are gone; the agent holds the programs, so isolation holds "
			    "while it runs; pinning again as soon as it can");
		ag->pins_lost = true;
		return true;
	}
	ag->pins_lost = false;
	snprintf(what, sizeof(what), "%d pin(s) made again from what the agent holds", n);
	record(ag, "repin", "agent", what, NULL);
	return false;
}

/* (Re)load, attach, apply the config, restore isolation, open the ring buffer. 0 or -errno;
 * on failure nothing is attached (ag->rb is NULL) and the loop retries later. */
static int attach(struct agent *ag)
{
	struct rf_ctx *ctx = ag->ctx;
	int lock, ret;

	detach_maps(ag);
	lock = rf_svc_lock(ctx);
	if (lock == -EBUSY)
		return lock;
	/* a broken state dir (read-only, a directory or dangling link as its lock) must not keep
	 * the agent from enforcing: it serves what it can read and records what it can write */
	ctx->unlocked = lock < 0;
	if (!ag->own && !wanted(ctx)) { /* released and unloaded meanwhile: not ours to load */
		rf_state_unlock(lock);
		return -ESRCH;
	}
	ret = rf_svc_ensure_loaded(ctx, &ag->m, false);
	if (!ret && !ctx->unlocked)
		rf_svc_recover(ctx); /* a killed command's intent before the restore */
	if (!ret && rf_svc_apply_config(ctx, &ag->m))
		rf_warn("configuration not applied; running with the persisted rules");
	if (!ret) {
		/* after a reboot the maps are new: isolate again as the record says; under the
		 * lock, so a concurrent release (which clears the record) is never undone */
		rf_svc_restore_isolation(ctx, &ag->m, &agent_restore);
		rf_svc_maps_agree(ctx, &ag->m);
	}
	rf_state_unlock(lock);
	if (ret)
		return ret;
	hold_pins(ag);
	ag->rb = ring_buffer__new(ag->m.events, on_event, ag, NULL);
	ag->suppressed = rf_map_open_private(ctx->pin_dir, "rf_suppressed");
	if (!ag->rb) {
		ret = -errno;
		rf_err("cannot open the event ring buffer: %s", strerror(-ret));
		rf_maps_close(&ag->m);
	}
	return ret;
}

/* Try to attach again once the back-off has passed; double the back-off on failure. */
static void retry_attach(struct agent *ag, const char *why)
{
	__u64 now = rf_now_mono_ms();
	int ret;

	if (now < ag->retry_at_ms)
		return;
	ret = attach(ag);
	if (ret) {
		ag->retry_delay_ms = ag->retry_delay_ms ? ag->retry_delay_ms * 2 : RF_RETRY_MIN_MS;
		if (ag->retry_delay_ms > RF_RETRY_MAX_MS)
			ag->retry_delay_ms = RF_RETRY_MAX_MS;
		ag->retry_at_ms = now + ag->retry_delay_ms;
		record(ag, "reattach", "agent", why, "re-attaching failed; retrying");
		return;
	}
	ag->retry_delay_ms = 0;
	record(ag, "reattach", "agent", why, NULL);
}

/* Record isolation changes that did not come through the CLI (which updates the state file). */
static void check_flag(struct agent *ag)
{
	struct rf_isolation iso;
	struct rf_config cfg;
	int now, lock;

	if (rf_config_get(&ag->m, &cfg))
		return;
	now = rf_svc_isolated_now(&cfg);
	/* also when the record disagrees: a command may have recorded a flip that this loop
	 * did not see (and missed the flip back) */
	if (now == ag->last_isolated &&
	    (rf_isolation_load(ag->ctx->state_dir, &iso) || iso.isolated == (now != 0)))
		return;
	/*
	 * A CLI that holds the state lock sets the flag first and writes the state file after it:
	 * look again on the next tick rather than mistake its change for an external one.
	 */
	lock = rf_state_trylock(ag->ctx->state_dir);
	if (lock < 0)
		return;
	rf_svc_recover(ag->ctx); /* a killed CLI's isolate or release is its own, not external */
	ag->last_isolated = now;
	if (!now && rf_svc_note_lapse(ag->ctx, &cfg))
		goto out; /* the kernel deadline ended it */
	if (rf_isolation_load(ag->ctx->state_dir, &iso) || iso.isolated == (now != 0))
		goto out; /* unreadable (try again), or made through the CLI: already recorded */
	iso.isolated = now != 0;
	if (now) {
		iso.since_unix_ns = cfg.since_unix_ns ? cfg.since_unix_ns : rf_now_unix_ns();
		iso.deadline_unix_ns = 0;
		snprintf(iso.comment, sizeof(iso.comment), "set through the pinned rf_config map");
	}
	if (rf_isolation_save(ag->ctx->state_dir, &iso))
		rf_warn("cannot update %s/isolation", ag->ctx->state_dir);
	record_locked(ag, now ? "external-isolate" : "external-release", "external",
		      "rf_config changed outside the ringfence CLI", NULL);
out:
	rf_svc_maps_agree(ag->ctx, &ag->m);
	rf_state_unlock(lock);
}

/*
 * The record's time left follows the kernel deadline (every minute at most) and its wall
 * deadline is taken again once the clock is synchronized (same boot, same kernel deadline), so
 * a reboot restores what was left and can trust the wall deadline. An isolation restored after
 * a reboot ends as soon as the synchronized wall clock says its deadline passed while the host
 * was down (rf_svc_wall_lapse()).
 */
static void keep_deadline(struct agent *ag)
{
	struct rf_isolation iso;
	struct rf_config cfg;
	__u64 left, now = rf_now_boot_ns();
	char boot[40] = "";
	bool save = false;
	int lock;

	if (rf_config_get(&ag->m, &cfg) || rf_svc_mode(&cfg) == RF_SVC_OFF || !cfg.deadline_ns)
		return;
	left = cfg.deadline_ns - now;
	lock = rf_state_trylock(ag->ctx->state_dir);
	if (lock < 0)
		return; /* a CLI is at work: next time */
	if (rf_svc_wall_lapse(ag->ctx, &ag->m, &agent_restore) > 0) {
		ag->last_isolated = 0;
		goto out;
	}
	if (rf_isolation_load(ag->ctx->state_dir, &iso) || (!iso.isolated && !iso.audit))
		goto out;
	if (iso.remaining_ns > left + RF_REMAINING_STEP_NS) {
		iso.remaining_ns = left;
		save = true;
	}
	rf_boot_id(boot, sizeof(boot));
	if (iso.deadline_unix_ns && !iso.deadline_synced &&
	    iso.deadline_boot_ns == cfg.deadline_ns && !strcmp(iso.boot_id, boot) &&
	    rf_clock_synced()) {
		iso.deadline_unix_ns = rf_svc_boot_to_unix(cfg.deadline_ns);
		iso.deadline_synced = save = true;
	}
	if (save && rf_isolation_save(ag->ctx->state_dir, &iso))
		rf_warn("cannot update %s/isolation", ag->ctx->state_dir);
out:
	rf_state_unlock(lock);
}

/* An upgrade replaced an allowed executable: its rule follows the path (under the lock). */
static void follow_exe_upgrades(struct agent *ag)
{
	int moved, lock = rf_state_trylock(ag->ctx->state_dir);

	if (lock < 0)
		return; /* a CLI is at work: next time */
	if (rf_svc_refresh_exe(ag->ctx, &ag->m, &moved))
		rf_warn("cannot bring exe rules up to date with their files");
	else if (moved)
		rf_err("%d exe rule(s) moved to the upgraded file", moved);
	rf_state_unlock(lock);
}

/*
 * Host rules: while isolated or auditing, look their names up again at half the shortest TTL
 * (rf_host_refresh_ms()), so an address in applications' caches stays learned. The lookup runs
 * without the state lock (it may take seconds); the answers are written under it, for the rules
 * as they are then. A CLI at work: the next tick tries again.
 */
static void refresh_hosts(struct agent *ag)
{
	struct rf_dns_server servers[RF_MAX_DNS_RESOLVERS];
	struct rf_host_answers a;
	struct rf_config cfg;
	__u64 now = rf_now_mono_ms();
	__u32 ttl = 0;
	int lock;

	if (now < ag->next_hosts_ms || rf_config_get(&ag->m, &cfg) ||
	    rf_svc_mode(&cfg) == RF_SVC_OFF || !rf_host_any(&ag->m))
		return;
	if (rf_hosts_lookup(&ag->m, servers, rf_host_servers(&ag->m, servers, RF_MAX_DNS_RESOLVERS),
			    &a)) {
		ag->next_hosts_ms = now + rf_host_refresh_ms(0);
		return;
	}
	lock = rf_state_trylock(ag->ctx->state_dir);
	if (lock >= 0) {
		rf_hosts_learn(&ag->m, &a, &ttl);
		rf_host_addr_gc(&ag->m);
		rf_state_unlock(lock);
	}
	rf_host_answers_free(&a);
	ag->next_hosts_ms = now + (lock >= 0 ? rf_host_refresh_ms(ttl) : 5000);
}

#define RF_INDEX_VERIFY_MS 10000

/*
 * The flat index of rf_allow_net: rebuilt when another writer marked it out of sync (the
 * programs walk the trie meanwhile), and compared with the trie every 10 s, or 100 times as long
 * as the last comparison took (1% of a CPU: about 3 minutes at 100,000 rules on a busy 2-core
 * VM), which catches a writer that replaced a rule's value without marking it (a build before
 * the index, or an agent that skips the docs/ABI.md step): until then its change may not be seen
 * by the programs. Adding or deleting a prefix needs no comparison: the programs see the count.
 */
static void follow_index(struct agent *ag)
{
	__u64 every = ag->index_every_ms ? ag->index_every_ms : RF_INDEX_VERIFY_MS, t0;
	bool verify = rf_tick_due(&ag->next_index_ms, rf_now_mono_ms(), every);
	bool valid;
	int lock, ret;

	if (ag->m.net_hash < 0 || ag->m.net_sync < 0)
		return;
	if (rf_net_index_settled(ag->m.net_sync) && !verify)
		return;
	valid = rf_net_index_valid(ag->m.net_sync);
	if (valid) {
		t0 = rf_now_mono_ms();
		ret = rf_net_index_verify(ag->m.net, ag->m.net_hash, ag->m.net_sync);
		every = 100 * (rf_now_mono_ms() - t0);
		ag->index_every_ms = every > RF_INDEX_VERIFY_MS ? every : RF_INDEX_VERIFY_MS;
		if (ret != 0)
			return; /* in sync (or cannot tell: next time) */
	}
	lock = rf_state_trylock(ag->ctx->state_dir);
	if (lock < 0)
		return; /* a CLI is at work: next time */
	if (valid)
		rf_err("rf_allow_net was changed without marking rf_net_hash out of sync "
		       "(docs/ABI.md): indexing it again");
	ret = rf_net_index_rebuild(ag->m.net, ag->m.net_hash, ag->m.net_sync);
	if (ret < 0)
		rf_warn("cannot index the allow-list (rf_net_hash): %s", strerror(-ret));
	rf_state_unlock(lock);
}

/* Hooks whose link is gone or detached, space-separated in which; returns how many. */
static size_t missing_links(struct agent *ag, char *which, size_t len)
{
	struct rf_link_state st[RF_HOOK_MAX];
	size_t i, missing = 0;

	which[0] = '\0';
	rf_links_state(ag->ctx->pin_dir, st);
	for (i = 0; i < RF_HOOK_MAX; i++) {
		if (rf_hooks[i].kind != RF_ATTACH_CGROUP || !rf_hook_available((enum rf_hook)i) ||
		    st[i].attached)
			continue;
		missing++;
		if (strlen(which) + strlen(rf_hooks[i].label) + 2 < len) {
			strcat(which, which[0] ? " " : "");
			strcat(which, rf_hooks[i].label);
		}
	}
	return missing;
}

/* The periodic work: re-attach what was detached, notice flag changes, guard new interfaces. */
static void periodic(struct agent *ag)
{
	char which[256], prog[PATH_MAX];

	if (!keep_pinned(ag) && missing_links(ag, which, sizeof(which))) {
		ag->retry_at_ms = 0;
		retry_attach(ag, which);
		if (!ag->rb)
			return;
	}
	check_flag(ag);
	keep_deadline(ag);
	follow_exe_upgrades(ag);
	refresh_hosts(ag);
	follow_index(ag);
	if (ag->ctx->packet_guard) { /* interfaces and namespaces that appeared since */
		rf_hook_pin_path(prog, sizeof(prog), ag->ctx->pin_dir, RF_HOOK_TC_EGRESS);
		if (ag->ctx->guard_self)
			rf_tc_attach_all(prog, rf_tc_handle(ag->ctx->cg_id), NULL, 0);
		/* walking every process of the target costs more: every few seconds */
		if (rf_tick_due(&ag->next_netns_ms, rf_now_mono_ms(), RF_NETNS_WALK_MS))
			rf_svc_guard_target_netns(ag->ctx);
	}
	drain_held_back(ag);
	cut_foreign(ag);
	if (ag->log.f)
		fflush(ag->log.f);
	reopen_moved_log(ag);
}

/* A target recorded in the state dir is served while it is isolated, audited or loaded. */
static bool wanted(const struct rf_ctx *t)
{
	struct rf_isolation iso;
	char path[PATH_MAX + 16];

	if (!rf_isolation_load(t->state_dir, &iso) && (iso.isolated || iso.audit))
		return true;
	snprintf(path, sizeof(path), "%s/rf_config", t->pin_dir);
	return access(path, F_OK) == 0;
}

static void agent_free(struct agent *ag)
{
	detach_maps(ag);
	rf_held_close(&ag->held);
	rf_event_log_close(&ag->log);
	free(ag);
}

/* Serve one more target: attach now, or retry from the loop. */
static struct agent *fleet_add(struct fleet *fl, const struct rf_ctx *t, bool own)
{
	struct agent *ag;

	if (fl->n == RF_AGENT_MAX_TARGETS) {
		if (!fl->full_warned)
			rf_warn("serving %d targets already: %s is not served",
				RF_AGENT_MAX_TARGETS, t->cg_dir);
		fl->full_warned = true;
		return NULL;
	}
	ag = calloc(1, sizeof(*ag));
	if (!ag)
		return NULL;
	ag->m = (struct rf_maps)RF_MAPS_INIT;
	ag->suppressed = -1;
	rf_held_init(&ag->held);
	ag->last_isolated = -1;
	ag->own = own;
	rf_svc_ctx_copy(&ag->own_ctx, t);
	ag->ctx = &ag->own_ctx;
	ag->ec.boot_to_unix_ns = fl->boot_to_unix_ns;
	ag->ec.hostname = fl->hostname;
	ag->ec.target = ag->ctx->cg_rel;
	ag->seen = true;
	fl->ag[fl->n++] = ag;
	if (attach(ag) == 0) {
		open_log(ag);
		check_flag(ag);
		if (!own)
			record(ag, "agent-adopt", "agent", ag->ctx->cg_dir, NULL);
	} else {
		ag->retry_at_ms = rf_now_mono_ms() + RF_RETRY_MIN_MS;
	}
	return ag;
}

static void scan_one(struct rf_ctx *t, bool ok, void *arg)
{
	struct fleet *fl = arg;
	size_t i;

	for (i = 0; i < fl->n; i++) {
		struct agent *ag = fl->ag[i];

		if (strcmp(ag->ctx->state_dir, t->state_dir))
			continue;
		ag->seen = true;
		if ((ok && ag->ctx->cg_id == t->cg_id) || ag->own)
			return;
		ag->gone = true; /* removed, or a new cgroup of that path (a restart) */
		break;
	}
	if (ok && wanted(t)) /* isolated again as soon as its cgroup exists */
		fleet_add(fl, t, false);
}

/* A target's cgroup went away: its links enforce nothing any more; drop its pins. Its record
 * stays, so the target is isolated again when a cgroup of that path appears. */
static void drop_gone(struct agent *ag)
{
	char pins[PATH_MAX], prog[PATH_MAX];

	snprintf(pins, sizeof(pins), "%s", ag->ctx->pin_dir);
	record(ag, "target-gone", "agent", ag->ctx->cg_dir, NULL);
	/* its tc filters would run on every packet of this namespace's interfaces for ever */
	rf_hook_pin_path(prog, sizeof(prog), pins, RF_HOOK_TC_EGRESS);
	rf_tc_detach_all(rf_tc_handle(ag->ctx->cg_id), prog);
	detach_maps(ag);
	rf_held_close(&ag->held);
	if (!rf_unload(pins))
		rmdir(pins);
}

/* Pick up targets isolated since the last scan; drop released and unloaded ones. */
static void fleet_scan(struct fleet *fl)
{
	size_t i, j;

	for (i = 0; i < fl->n; i++)
		fl->ag[i]->seen = fl->ag[i]->own;
	rf_svc_for_each_target(fl->base, scan_one, fl);
	for (i = j = 0; i < fl->n; i++) {
		struct agent *ag = fl->ag[i];

		if (ag->gone) {
			drop_gone(ag);
			agent_free(ag);
			continue;
		}
		if (!ag->own && (!ag->seen || !wanted(ag->ctx))) {
			rf_err(
			    "no longer serving %s (released and unloaded, or its record is gone)",
			    ag->ctx->cg_dir);
			agent_free(ag);
			continue;
		}
		fl->ag[j++] = ag;
	}
	fl->n = j;
}

/* Wait up to RF_POLL_MS for events of any attached target and hand them on. */
static void fleet_poll(struct fleet *fl)
{
	struct pollfd pfd[RF_AGENT_MAX_TARGETS + 1];
	struct agent *who[RF_AGENT_MAX_TARGETS];
	size_t i, n = 0;
	bool want_write;
	int ret, mfd = rf_mqtt_agent_fd(agent_mqtt, &want_write);

	for (i = 0; i < fl->n; i++)
		if (fl->ag[i]->rb) {
			pfd[n].fd = ring_buffer__epoll_fd(fl->ag[i]->rb);
			pfd[n].events = POLLIN;
			who[n++] = fl->ag[i];
		}
	if (mfd >= 0) { /* the broker's messages wake the loop too (the last slot) */
		pfd[n].fd = mfd;
		pfd[n].events = (short)(POLLIN | (want_write ? POLLOUT : 0));
	}
	ret = poll(pfd, n + (mfd >= 0), RF_POLL_MS);
	rf_mqtt_agent_tick(agent_mqtt);
	if (ret <= 0)
		return;
	for (i = 0; i < n; i++) {
		if (!pfd[i].revents)
			continue;
		ret = ring_buffer__consume(who[i]->rb);
		if (ret < 0 && ret != -EINTR) {
			rf_err("ring buffer of %s failed (%s); re-attaching", who[i]->ctx->cg_dir,
			       strerror(-ret));
			detach_maps(who[i]);
			who[i]->retry_at_ms = 0;
		}
	}
}

static void run_loop(struct fleet *fl, int interval_ms)
{
	__u64 next_check = 0;
	size_t i;

	while (!agent_exiting) {
		for (i = 0; i < fl->n; i++)
			if (!fl->ag[i]->rb)
				retry_attach(fl->ag[i], "not attached");
		fleet_poll(fl);
		if (!rf_tick_due(&next_check, rf_now_mono_ms(), (__u64)interval_ms))
			continue;
		/* event times follow the wall clock as NTP sets it, not as it was at start */
		fl->boot_to_unix_ns = rf_now_unix_ns() - rf_now_boot_ns();
		for (i = 0; i < fl->n; i++)
			fl->ag[i]->ec.boot_to_unix_ns = fl->boot_to_unix_ns;
		fleet_scan(fl);
		for (i = 0; i < fl->n; i++)
			if (fl->ag[i]->rb)
				periodic(fl->ag[i]);
	}
}

/*
 * Tell systemd (Type=notify) that the programs are attached and isolation is restored, so units
 * ordered after ringfence (network-pre.target) start only then. A no-op outside systemd.
 */
static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	_cleanup_close_ int fd = -1;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa, len) < 0)
		rf_warn("cannot notify systemd: %s", strerror(errno));
}

/* Descriptors the agent keeps per target (maps, links, tc program, ring buffer, log), and the
 * headroom a load needs (the object's maps and programs, BTF). */
#define RF_FDS_PER_TARGET 20
#define RF_FDS_LOAD	  64

/*
 * Each target costs descriptors: past the soft limit (1024 by default) attaching the next one
 * fails with EMFILE and it is not restored after a reboot. Take the hard limit (systemd's
 * LimitNOFILE= sets it), and say so when even that is short of what RF_AGENT_MAX_TARGETS need.
 */
static void raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)RF_AGENT_MAX_TARGETS * RF_FDS_PER_TARGET + RF_FDS_LOAD;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};

		if (setrlimit(RLIMIT_NOFILE, &up))
			rf_warn("cannot raise the open file limit to %llu: %s",
				(unsigned long long)rl.rlim_max, strerror(errno));
		else
			rl = up;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		rf_warn("the open file limit (%llu) serves about %llu targets, not %d: raise it "
			"(LimitNOFILE= in the unit, ulimit -Hn)",
			(unsigned long long)rl.rlim_cur,
			(unsigned long long)((rl.rlim_cur > RF_FDS_LOAD ? rl.rlim_cur - RF_FDS_LOAD
									: 0) /
					     RF_FDS_PER_TARGET),
			RF_AGENT_MAX_TARGETS);
}

/* One agent per state dir serves all its targets: it holds <state>/agent.lock. */
static int take_agent_lock(struct rf_ctx *ctx)
{
	int fd = rf_agent_lock(ctx->state_base);

	if (fd == -EBUSY)
		rf_err("another agent is running for %s (see %s/agent.lock)", ctx->state_base,
		       ctx->state_base);
	else if (fd < 0)
		rf_warn("running without %s/agent.lock: %s", ctx->state_base, rf_state_problem(fd));
	return fd;
}

int rf_agent_run(struct rf_ctx *ctx, int interval_ms)
{
	struct fleet fl = {.base = ctx};
	struct agent *own;
	int agent_lock;
	size_t i;

	rf_log_prefix("ringfence agent");
	if (rf_svc_need_root())
		return EXIT_OPFAIL;
	if (interval_ms <= 0)
		interval_ms = 1000;
	signal(SIGINT, on_term);
	signal(SIGTERM, on_term);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	agent_lock = take_agent_lock(ctx);
	if (agent_lock == -EBUSY)
		return EXIT_OPFAIL; /* a broken state dir (another error) is served anyway */
	raise_nofile();
	fl.boot_to_unix_ns = rf_now_unix_ns() - rf_now_boot_ns();
	gethostname(fl.hostname, sizeof(fl.hostname) - 1);
	own = fleet_add(&fl, ctx, true);
	if (!own || !own->rb) {
		rf_err("cannot load %s", ctx->cg_dir);
		for (i = 0; i < fl.n; i++)
			agent_free(fl.ag[i]);
		rf_state_unlock(agent_lock);
		return EXIT_OPFAIL;
	}
	/* every other isolated target is restored before systemd hears "ready" */
	fleet_scan(&fl);
	record(own, "agent-start", "agent", ctx->cg_dir, NULL);
	notify_ready();
	if (rf_mqtt_agent_start(ctx, &agent_mqtt))
		rf_warn("remote control is off; the agent runs on without it");
	run_loop(&fl, interval_ms);
	rf_mqtt_agent_stop(agent_mqtt);
	agent_mqtt = NULL;
	/* leaving isolation exactly as it is: only an explicit release ends it */
	for (i = 0; i < fl.n; i++)
		agent_free(fl.ag[i]);
	rf_state_unlock(agent_lock);
	return 0;
}
