/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The service layer that the CLI commands and the agent share: resolving the target, the state
 * lock, loading and adopting the programs, applying persisted rules and the config file,
 * isolation changes and the action history. Functions print what went wrong (rf_err()) and
 * return 0 or -errno; only the command handlers turn that into exit codes.
 */
#ifndef RF_SERVICE_H
#define RF_SERVICE_H

#include <limits.h>
#include <stdbool.h>
#include "rf_loader.h"
#include "rf_state.h"

#define RF_CONFIG_DEFAULT "/etc/ringfence/ringfence.conf"

#define EXIT_OPFAIL 1
#define EXIT_USAGE  2

/* What every command and the agent work on: the global options and what they resolve to. */
struct rf_ctx {
	/* the target: at most one selector is set; none = the host (the cgroup2 root) */
	const char *cgroup;	/* --cgroup PATH */
	const char *unit;	/* --unit NAME: a systemd unit's cgroup */
	const char *container;	/* --container ID: a container's cgroup, by id or unique prefix */
	const char *pid;	/* --pid PID: the cgroup of that process */
	const char *target_opt; /* the option or variable that chose it ("--unit"), NULL: none */
	/*
	 * The selected target's own pin and state dirs (rf_svc_select_target()): the top level of
	 * pin_base/state_base for the home target, else a subdirectory of each.
	 */
	const char *pin_dir;
	const char *state_dir;
	const char *pin_base;	/* --pin-dir, RINGFENCE_PIN_DIR or the default */
	const char *state_base; /* --state-dir, RINGFENCE_STATE_DIR or the default */
	/* RINGFENCE_HOME_CGROUP: the target that owns the top level; NULL = the cgroup2 root */
	const char *home;
	const char *config;
	const char *btf; /* --btf FILE, else the config's 'btf', else NULL: the kernel's BTF */
	bool json;
	bool verbose;
	char cg_dir[PATH_MAX]; /* resolved target cgroup directory */
	__u64 cg_id;
	char
	    cg_rel[PATH_MAX]; /* its path below the cgroup2 mount: "/", "/system.slice/x.service" */
	bool is_home;	      /* the home target: its pins and state are the dirs' top level */
	bool selected;	      /* pin_dir and state_dir point at the target's own dirs */
	char pin_buf[PATH_MAX];
	char state_buf[PATH_MAX];
	char sel_buf[PATH_MAX];	  /* the --cgroup of a context made by rf_svc_target_ctx() */
	bool packet_guard;	  /* tc layer wanted (decided by the config) */
	bool guard_self;	  /* ... on every interface of this namespace, not only where the
				     target's processes are */
	bool guard_decided;	  /* the config was applied, so packet_guard is meaningful */
	char config_warning[512]; /* why the config file was not applied, "" when it was */
	/* what the load found wrong but worked around (a foreign pin moved aside), "" if nothing:
	 * also in the history entry's warning; the command exits 1 (degraded) */
	char load_warning[512];
	bool degraded;
	/*
	 * The state lock could not be taken: the command goes ahead through the kernel (isolate)
	 * and writes nothing in the state dir until it has the lock.
	 */
	bool unlocked;
	int state_err;	  /* the first state write that failed (-errno), 0 when all were recorded */
	bool intent_open; /* rf_svc_intent() wrote the journal; rf_svc_intent_done() removes it */
};

/* 0 when running as root; otherwise prints why and returns -EPERM. */
int rf_svc_need_root(void);
/*
 * Resolve the target (--cgroup, --unit, --container or --pid; default: the cgroup2 root) into
 * ctx->cg_dir/cg_id, once; prints the problem. -EINVAL means the selector is malformed or names
 * no cgroup or several (candidates listed): a usage error. Other -errno: an operational one.
 */
int rf_svc_resolve_cgroup(struct rf_ctx *ctx);
/* The selector in use: kind "host", "cgroup", "unit", "container" or "pid", and its value
 * (NULL for the host). */
const char *rf_svc_target_kind(const struct rf_ctx *ctx, const char **value);
/*
 * Resolve the target and point ctx->pin_dir / ctx->state_dir at its own dirs: the top level of
 * the pin and state dirs for the home target (RINGFENCE_HOME_CGROUP, default the cgroup2 root:
 * the host), else <pin>/targets/<cgroup id> and <state>/targets/<path, escaped>. Errors as
 * rf_svc_resolve_cgroup(); on error the dirs stay the top level.
 */
int rf_svc_select_target(struct rf_ctx *ctx);
/*
 * A context for the target whose state dir is <state_base>/targets/NAME (or the home, NAME
 * NULL), from base's global options: its cgroup is the path recorded there. Fails (-ENOENT)
 * when the record is missing or its cgroup is gone (record->cg_rel still names it).
 */
int rf_svc_target_ctx(const struct rf_ctx *base, const char *name, struct rf_ctx *out);
/*
 * The isolated (or audited) target recorded under <state_base>/targets whose cgroup path is rel
 * (below the cgroup2 mount), or with rel NULL whose cgroup is named for container id cid (64
 * lower-case hex digits): its directory name into name. Returns how many match (0: none),
 * or -errno when the records cannot be read.
 */
int rf_svc_find_record(const struct rf_ctx *base, const char *rel, const char *cid, char *name,
		       size_t len);
/* The pin dir and cgroup id (0: none recorded) that the record of target NAME (a directory of
 * <state_base>/targets) names. 0 or -ENOENT. */
int rf_svc_record_pins(const struct rf_ctx *base, const char *name, char *pins, size_t len,
		       __u64 *id);
/* Who restores, and how (rf_svc_restore_isolation()). */
struct rf_restore {
	const char *requestor; /* in the history: "agent", "oci-hook" */
	/* the agent: a record over the very map it last agreed with, now off, was released by
	 * another agent while ours was down (rf_svc_maps_seen()), not a reboot: not restored */
	bool check_released;
	bool log; /* say each record on stderr too */
};
/*
 * Under the state lock, with the maps of a target loaded afresh (a reboot, a restarted
 * container): isolate or audit it again as its persisted record says, with what is left of its
 * deadline (rf_isolation_left()), and record it in the history. 1 when isolation (or audit) is
 * in force afterwards, 0 when the record asks for none (or its deadline passed, or it was
 * released: recorded), or -errno.
 */
int rf_svc_restore_isolation(struct rf_ctx *ctx, struct rf_maps *m, const struct rf_restore *how);
/*
 * Under the state lock: an isolation restored after a reboot whose deadline has passed by the
 * wall clock now that it is synchronized (rf_isolation_wall_passed()) ends now, and the history
 * records the lapse once, at the deadline's time. 1 if it ended one, 0 if not, or -errno.
 */
int rf_svc_wall_lapse(struct rf_ctx *ctx, struct rf_maps *m, const struct rf_restore *how);
/* *dst = *src, with the dirs and --cgroup that point into src's own buffers pointing at dst's
 * (a context outlives the one it was copied from). */
void rf_svc_ctx_copy(struct rf_ctx *dst, const struct rf_ctx *src);
/* Call fn for the home target and every target recorded under <state_base>/targets, each
 * with its own context (ok: its cgroup resolved). Returns how many were visited. */
int rf_svc_for_each_target(const struct rf_ctx *base,
			   void (*fn)(struct rf_ctx *t, bool ok, void *arg), void *arg);
/* A build (rf_build) for people: "2026-12-01T07:00:00Z/0123456789abcdef", "unknown" if b is NULL or
 * unset. */
void rf_svc_build_str(char *buf, size_t len, const struct rf_build *b);
/* Take the state-dir lock; prints the problem and returns < 0 on failure. */
int rf_svc_lock(struct rf_ctx *ctx);
/* The same, waiting at most timeout_ms; the problem is a warning (the caller goes on). */
int rf_svc_lock_wait(struct rf_ctx *ctx, int timeout_ms);

/*
 * Load and attach if needed, open the maps, re-apply persisted rules and (with_config) the
 * config file. A config file with an error does not fail this: the maps keep the last applied
 * policy, the problem ("FILE:LINE: problem") is printed as a warning and kept in
 * ctx->config_warning for the history. Prints the problem on failure.
 */
int rf_svc_ensure_loaded(struct rf_ctx *ctx, struct rf_maps *m, bool with_config);
/*
 * Under the state lock: remember the rf_config map (boot id and map id, <state>/maps-seen) when
 * the isolation record agrees with it, so that a record saying isolated over the same map, now
 * off, is told (rf_svc_maps_seen()) from one whose maps are new after a reboot.
 */
void rf_svc_maps_agree(const struct rf_ctx *ctx, const struct rf_maps *m);
/* Is m's rf_config the map the record last agreed with (same boot, same map)? */
bool rf_svc_maps_seen(const struct rf_ctx *ctx, const struct rf_maps *m);
/* Make the maps match the config file (add first, then remove); nothing changes on error. */
int rf_svc_apply_config(struct rf_ctx *ctx, struct rf_maps *m);
/* Rules the maps did not take (a full map, a file gone), said in the history too: an action
 * "rules-not-applied" with how many, the first and its error; nothing when n is 0. */
void rf_svc_record_not_applied(struct rf_ctx *ctx, const char *whose, size_t n, const char *first,
			       const char *err);
/* Re-apply the rules persisted in the state dir to freshly created maps. */
int rf_svc_apply_persisted(struct rf_ctx *ctx, struct rf_maps *m);
/*
 * Keep exe rules on the file their path names now (an upgrade replaces the file): the new
 * identity is allowed before the old one is dropped. *moved: how many rules moved. Under the
 * state lock. Returns 0 or -errno.
 */
int rf_svc_refresh_exe(struct rf_ctx *ctx, struct rf_maps *m, int *moved);
/* Keep rf_config.flags in step with the maps (RF_CFG_EXE_RULES). */
int rf_svc_sync_flags(struct rf_maps *m);
/* Attach the tc packet-socket guard if the mode (RF_GUARD_*, overridden by
 * $RINGFENCE_PACKET_GUARD) asks for it: on = every interface of this namespace and of the
 * target's processes' namespaces; auto = the same for the host target, only the namespaces of
 * the target's processes for a narrower one. */
void rf_svc_packet_guard(struct rf_ctx *ctx, int mode);
/* The guard (and second wall) in every network namespace a process of the target is in:
 * containers, services with PrivateNetwork= (and this one unless ctx->guard_self, where
 * rf_svc_packet_guard() covers it). Warns on failure. */
void rf_svc_guard_target_netns(struct rf_ctx *ctx);

enum rf_svc_mode {
	RF_SVC_OFF,
	RF_SVC_ENFORCE, /* isolated */
	RF_SVC_AUDIT,	/* audit mode: nothing blocked, would-be blocks reported */
};
/* The mode the programs apply now, by the same rules (isolated wins; both end at the deadline). */
enum rf_svc_mode rf_svc_mode(const struct rf_config *cfg);
/* Isolated now: flag set and deadline (if any) not reached. */
bool rf_svc_isolated_now(const struct rf_config *cfg);
/*
 * Under the state lock: when the kernel deadline ended an isolation or audit that the record
 * still shows, bring the record up to date and write the history: "rolled-back" (not confirmed)
 * when a confirmation was pending, else "auto-release". Returns true if it did.
 */
bool rf_svc_note_lapse(struct rf_ctx *ctx, const struct rf_config *cfg);
/* The wall-clock time of kernel (CLOCK_BOOTTIME) time boot_ns, by the clock as it is now. */
__u64 rf_svc_boot_to_unix(__u64 boot_ns);

/*
 * The journal (rf_journal_write()): rf_svc_intent() writes what the command is about to do
 * (op, the action a if not NULL, and the fields of extra, which it takes) before it touches the
 * kernel; rf_svc_intent_done() removes it once the effect is recorded. A failure to write is a
 * warning (and ctx->state_err), never a refusal.
 */
void rf_svc_intent(struct rf_ctx *ctx, const char *op, const struct rf_action *a, json_t *extra);
void rf_svc_intent_done(struct rf_ctx *ctx);
/*
 * Under the state lock, before anything else: finish or fail what a killed command left in the
 * journal, judged by the kernel (an isolate whose flag is in rf_config is recorded, one whose
 * flag is not is Failed; after a reboot an unfinished isolate is kept, fail closed; an allow
 * change is finished), record a deadline that ended isolation (rf_svc_note_lapse()), or one
 * that passed while the host was down by a synchronized clock (rf_isolation_wall_passed()), and
 * record an isolation in force that has no record (one made while the state dir could not be
 * written).
 */
void rf_svc_recover(struct rf_ctx *ctx);
/* For commands that only read (status, history): rf_svc_recover() if the lock is free now,
 * so a lapse or a killed command is recorded, once, whoever looks first. */
void rf_svc_catch_up(struct rf_ctx *ctx);
/* Remember the first failed state write (ctx->state_err) and say what it means. */
void rf_svc_state_error(struct rf_ctx *ctx, const char *what, int err);

/* Record an action as InProgress / with its final status; finish returns code. */
void rf_svc_action_start(struct rf_ctx *ctx, struct rf_action *a, const char *type,
			 const char *comment);
/*
 * Like start, but nothing is written until finish (one write, after the action took effect):
 * for isolate, so the flag is not held up by an fsync'ed history write.
 */
void rf_svc_action_defer(struct rf_action *a, const char *type, const char *comment);
/* Final status (Succeeded when error is NULL), with ctx->config_warning as the warning. */
int rf_svc_action_finish(struct rf_ctx *ctx, struct rf_action *a, const char *error, int code);

#endif /* RF_SERVICE_H */
