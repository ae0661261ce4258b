// SPDX-License-Identifier: GPL-2.0-only
/* The service layer shared by the CLI commands and the agent (see rf_service.h). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "rf_config.h"
#include "rf_policy.h"
#include "rf_reconcile.h"
#include "rf_rule.h"
#include "rf_service.h"
#include "rf_target.h"
#include "rf_util.h"

int rf_svc_need_root(void)
{
	if (geteuid() == 0)
		return 0;
	rf_err("this command needs root (CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN to load and "
	       "attach eBPF): run it as root, e.g. with sudo");
	return -EPERM;
}

const char *rf_svc_target_kind(const struct rf_ctx *ctx, const char **value)
{
	static const char *const kinds[] = {"unit", "container", "pid", "cgroup"};
	const char *const vals[] = {ctx->unit, ctx->container, ctx->pid, ctx->cgroup};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (vals[i]) {
			*value = vals[i];
			return kinds[i];
		}
	*value = NULL;
	return "host";
}

/* "MESSAGE:\n  PATH\n  PATH..." (paths made printable, at most 20) as one rf_err(). */
static void err_with_paths(const char *msg, char *const *paths, size_t n, size_t total)
{
	char buf[8192], safe[PATH_MAX];
	size_t len, i;

	len = (size_t)snprintf(buf, sizeof(buf), "%s", msg);
	for (i = 0; i < n && i < 20 && len < sizeof(buf); i++) {
		rf_safe_str(paths[i], strlen(paths[i]), safe, sizeof(safe));
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "\n  %s", safe);
	}
	if (total > i && len < sizeof(buf))
		snprintf(buf + len, sizeof(buf) - len, "\n  ... and %zu more", total - i);
	rf_err("%s", buf);
}

/* Search the cgroup2 tree for the unit or container; the match's path into rel. */
static int search_tree(struct rf_ctx *ctx, const char *mnt, char *rel, size_t len)
{
	bool unit = ctx->unit != NULL;
	const char *what = unit ? ctx->unit : ctx->container;
	char msg[PATH_MAX + 1024], safe[256], name[NAME_MAX + 1];
	struct rf_target_found f;
	int ret;

	ret = unit ? rf_target_find_unit(mnt, what, NULL, &f)
		   : rf_target_find_container(mnt, what, NULL, &f);
	if (unit && !rf_target_unit_name(what, name, sizeof(name)))
		what = name; /* messages name the unit that was looked for: "nginx.service" */
	rf_safe_str(what, strlen(what), safe, sizeof(safe));
	if (ret == 0) {
		snprintf(rel, len, "%s", f.paths[0]);
	} else if (ret == -EINVAL && unit) {
		rf_err("%s '%s' is not a unit name: give one such as nginx or nginx.service (a "
		       "cgroup path goes to --cgroup)",
		       ctx->target_opt, safe);
	} else if (ret == -EINVAL) {
		rf_err("%s '%s' is not a container id: give the id or a unique prefix of at least "
		       "%d of its hex digits ('docker ps --no-trunc', 'podman ps --no-trunc', "
		       "'crictl ps'), or --pid of one of its processes",
		       ctx->target_opt, safe, RF_TARGET_ID_MIN);
	} else if (ret == -ENOENT && unit) {
		const char *near = f.nsimilar ? ". Units of that name once \\xNN escapes are "
						"decoded:"
					      : "";

		snprintf(
		    msg, sizeof(msg),
		    "no cgroup of unit '%s' below %s (searched %lu cgroups): a unit that is not "
		    "running has none; check 'systemctl status %s', or give the cgroup with "
		    "--cgroup PATH%s",
		    safe, mnt, f.dirs, safe, near);
		err_with_paths(msg, f.similar, f.nsimilar, f.nsimilar);
	} else if (ret == -ENOENT) {
		rf_err("no container with an id starting with '%s' has a cgroup below %s (searched "
		       "%lu cgroups for ID, RUNTIME-ID and RUNTIME-ID.scope, e.g. docker-ID.scope, "
		       "libpod-ID.scope, cri-containerd-ID.scope, crio-ID.scope): check the id, or "
		       "give --pid of one of its processes",
		       safe, mnt, f.dirs);
	} else if (ret == -ENOTUNIQ) {
		snprintf(msg, sizeof(msg),
			 unit ? "unit '%s' matches %zu cgroups below %s; choose "
				"one with --cgroup PATH:"
			      : "container id '%s' matches %zu cgroups below %s; give "
				"more of the id, or --cgroup PATH:",
			 safe, f.total, mnt);
		err_with_paths(msg, f.paths, f.n, f.total);
		ret = -EINVAL;
	} else if (ret == -E2BIG) {
		rf_err("the search below %s for %s '%s' stopped at its limits (32 levels, 100000 "
		       "cgroups) before it could tell: give the cgroup with --cgroup PATH",
		       mnt, unit ? "unit" : "container", safe);
	} else {
		rf_err("cannot search %s: %s", mnt, strerror(-ret));
	}
	rf_target_found_free(&f);
	return ret == -ENOENT ? -EINVAL : ret;
}

/* The cgroup of --pid, relative to the cgroup2 mount, into rel. */
static int pid_cgroup(struct rf_ctx *ctx, char *rel, size_t len)
{
	char safe[64];
	int ret;

	rf_safe_str(ctx->pid, strlen(ctx->pid), safe, sizeof(safe));
	ret = rf_target_pid_cgroup(NULL, ctx->pid, rel, len);
	if (ret == 0 && !strcmp(rel, "/")) {
		rf_err("process %s is in the cgroup2 root: %s would select the whole host; to "
		       "isolate the host on purpose, give no target",
		       safe, ctx->target_opt);
		return -EINVAL;
	}
	if (ret == -EINVAL)
		rf_err("%s '%s' is not a process id", ctx->target_opt, safe);
	else if (ret == -EBADMSG)
		rf_err("/proc/%s/cgroup has no single valid '0::' line: cannot tell the cgroup of "
		       "process %s",
		       safe, safe);
	else if (ret == -ESRCH)
		rf_err("no process with pid %s", safe);
	else if (ret == -ENOENT)
		rf_err("process %s has no cgroup v2 ('0::' line in /proc/%s/cgroup): this host "
		       "runs cgroup v1 only",
		       safe, safe);
	else if (ret == -EXDEV)
		rf_err("process %s is outside this cgroup namespace: run ringfence in the host's "
		       "cgroup namespace",
		       safe);
	else if (ret)
		rf_err("cannot read /proc/%s/cgroup: %s", safe, strerror(-ret));
	if (ret == -ESRCH || ret == -ENOENT || ret == -EXDEV || ret == -EBADMSG)
		return -EINVAL; /* no usable cgroup for that pid: a usage error */
	return ret;
}

int rf_svc_resolve_cgroup(struct rf_ctx *ctx)
{
	char mnt[PATH_MAX], rel[PATH_MAX], dir[PATH_MAX * 2], safe[256];
	const char *value;
	int err;

	if (ctx->cg_id)
		return 0;
	if (rf_cgroup2_mount(mnt, sizeof(mnt))) {
		rf_err("no cgroup2 filesystem is mounted: mount one with 'mount -t cgroup2 none "
		       "/sys/fs/cgroup' (or /sys/fs/cgroup/unified on hybrid hosts)");
		return -ENOENT;
	}
	if (ctx->unit || ctx->container || ctx->pid) {
		err = ctx->pid ? pid_cgroup(ctx, rel, sizeof(rel))
			       : search_tree(ctx, mnt, rel, sizeof(rel));
		if (err)
			return err;
		snprintf(dir, sizeof(dir), "%s%s", mnt, rel);
		err = rf_cgroup_resolve(dir, ctx->cg_dir, sizeof(ctx->cg_dir), &ctx->cg_id);
		rf_svc_target_kind(ctx, &value);
		rf_safe_str(value, strlen(value), safe, sizeof(safe));
		rf_safe_str(dir, strlen(dir), rel, sizeof(rel));
		if (err)
			rf_err("%s %s resolved to %s, which is not usable: %s (did it just exit?)",
			       ctx->target_opt, safe, rel, strerror(-err));
		return err ? -EINVAL : 0;
	}
	err = rf_cgroup_resolve(ctx->cgroup ? ctx->cgroup : mnt, ctx->cg_dir, sizeof(ctx->cg_dir),
				&ctx->cg_id);
	if (err)
		rf_err(
		    "cgroup %s is not usable: %s (cgroup2 is mounted at %s: give a directory below "
		    "it, e.g. --cgroup %s/test, or a path relative to it)",
		    ctx->cgroup ? ctx->cgroup : mnt,
		    err == -ENOTDIR ? "not a cgroup2 directory" : strerror(-err), mnt, mnt);
	return err;
}

/* Is the resolved target the home target (RINGFENCE_HOME_CGROUP, default the cgroup2 root)? */
/* A cgroup path as --cgroup takes it (absolute, or relative to the cgroup2 mount), absolute. */
static void cgroup_abs(const char *mnt, const char *path, char *out, size_t len)
{
	if (path[0] == '/')
		snprintf(out, len, "%s", path);
	else
		snprintf(out, len, "%s/%s", mnt, path);
}

static bool target_is_home(const struct rf_ctx *ctx, const char *mnt)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	__u64 id;

	if (!ctx->home || !*ctx->home)
		return ctx->cg_rel[0] == '/' && !ctx->cg_rel[1];
	cgroup_abs(mnt, ctx->home, path, sizeof(path));
	if (rf_cgroup_resolve(path, dir, sizeof(dir), &id))
		return false; /* a home that does not exist (yet) is no target's */
	return id == ctx->cg_id;
}

static int load_record(const char *dir, char *rel, size_t rellen, char *pins, size_t pinslen);

/*
 * A --cgroup that no longer exists but was a target (the container stopped): select its record,
 * so that release and unload still work on it. ctx->cg_id stays 0.
 */
static bool select_gone(struct rf_ctx *ctx, const char *mnt)
{
	char abs[PATH_MAX * 2], name[NAME_MAX + 1], *rel;
	size_t n = strlen(mnt), len;
	struct stat st;

	if (!ctx->cgroup || ctx->unit || ctx->container || ctx->pid)
		return false;
	cgroup_abs(mnt, ctx->cgroup, abs, sizeof(abs));
	len = strlen(abs);
	while (len > 1 && abs[len - 1] == '/')
		abs[--len] = '\0';
	if (!stat(abs, &st) || strncmp(abs, mnt, n) || abs[n] != '/')
		return false;
	rel = abs + n;
	if (rf_target_state_name(rel, name, sizeof(name)))
		return false;
	snprintf(ctx->state_buf, sizeof(ctx->state_buf), "%s/targets/%s", ctx->state_base, name);
	if (load_record(ctx->state_buf, ctx->cg_rel, sizeof(ctx->cg_rel), ctx->pin_buf,
			sizeof(ctx->pin_buf)) ||
	    strcmp(ctx->cg_rel, rel))
		return false;
	snprintf(ctx->cg_dir, sizeof(ctx->cg_dir), "%s", abs);
	ctx->state_dir = ctx->state_buf;
	ctx->pin_dir = ctx->pin_buf;
	ctx->selected = true;
	ctx->is_home = false;
	return true;
}

int rf_svc_select_target(struct rf_ctx *ctx)
{
	char mnt[PATH_MAX], name[NAME_MAX + 1];
	size_t n;
	int ret;

	ctx->pin_dir = ctx->pin_base;
	ctx->state_dir = ctx->state_base;
	ctx->selected = false;
	if (!ctx->cg_id && !rf_cgroup2_mount(mnt, sizeof(mnt)) && select_gone(ctx, mnt))
		return 0;
	if ((ret = rf_svc_resolve_cgroup(ctx)))
		return ret;
	if (rf_cgroup2_mount(mnt, sizeof(mnt)))
		return -ENOENT;
	n = strlen(mnt);
	snprintf(ctx->cg_rel, sizeof(ctx->cg_rel), "%s",
		 strncmp(ctx->cg_dir, mnt, n) || !ctx->cg_dir[n] ? "/" : ctx->cg_dir + n);
	ctx->is_home = target_is_home(ctx, mnt);
	ctx->selected = true;
	if (ctx->is_home)
		return 0;
	if ((ret = rf_target_state_name(ctx->cg_rel, name, sizeof(name)))) {
		rf_err("cgroup path %s is too long to keep state for", ctx->cg_dir);
		return ret;
	}
	snprintf(ctx->pin_buf, sizeof(ctx->pin_buf), "%s/targets/%llu", ctx->pin_base,
		 (unsigned long long)ctx->cg_id);
	snprintf(ctx->state_buf, sizeof(ctx->state_buf), "%s/targets/%s", ctx->state_base, name);
	ctx->pin_dir = ctx->pin_buf;
	ctx->state_dir = ctx->state_buf;
	return 0;
}

/* <state>/target: "path /REL" (the target's cgroup) and "pins DIR" (its pin dir) */
#define RF_TARGET_RECORD "target"

/* Remember which cgroup this state dir belongs to (the agent finds targets by it). */
static void record_target(struct rf_ctx *ctx)
{
	char path[PATH_MAX + 8], pins[PATH_MAX + 8];
	char *lines[2] = {path, pins};

	if (!ctx->selected)
		return;
	snprintf(path, sizeof(path), "path %s", ctx->cg_rel);
	snprintf(pins, sizeof(pins), "pins %s", ctx->pin_dir);
	if (rf_state_lines_save(ctx->state_dir, RF_TARGET_RECORD, NULL, lines, 2))
		rf_warn("cannot write %s/%s", ctx->state_dir, RF_TARGET_RECORD);
}

/* The cgroup path and pin dir a target record names; -ENOENT when there is none. */
static int load_record(const char *dir, char *rel, size_t rellen, char *pins, size_t pinslen)
{
	char **lines = NULL;
	size_t n = 0;
	int ret = rf_state_lines_load(dir, RF_TARGET_RECORD, &lines, &n);

	if (!ret && (n < 1 || strncmp(lines[0], "path /", 6)))
		ret = -ENOENT;
	if (!ret) {
		snprintf(rel, rellen, "%s", lines[0] + 5);
		snprintf(pins, pinslen, "%s",
			 n > 1 && !strncmp(lines[1], "pins /", 6) ? lines[1] + 5 : "");
	}
	rf_lines_free(lines, n);
	return ret;
}

/* p re-pointed from inside src's struct to the same place in dst; elsewhere unchanged. */
static const char *rebase(const char *p, const struct rf_ctx *src, struct rf_ctx *dst)
{
	uintptr_t lo = (uintptr_t)src, at = (uintptr_t)p;

	return at >= lo && at < lo + sizeof(*src) ? (const char *)dst + (at - lo) : p;
}

void rf_svc_ctx_copy(struct rf_ctx *dst, const struct rf_ctx *src)
{
	*dst = *src;
	dst->pin_dir = rebase(src->pin_dir, src, dst);
	dst->state_dir = rebase(src->state_dir, src, dst);
	dst->cgroup = rebase(src->cgroup, src, dst);
}

int rf_svc_target_ctx(const struct rf_ctx *base, const char *name, struct rf_ctx *out)
{
	char dir[PATH_MAX], mnt[PATH_MAX];
	int ret;

	*out = *base;
	out->cgroup = out->unit = out->container = out->pid = out->target_opt = NULL;
	out->cg_id = 0;
	out->cg_rel[0] = '\0';
	out->selected = false;
	out->pin_dir = out->pin_base;
	out->state_dir = out->state_base;
	if (name) {
		snprintf(dir, sizeof(dir), "%s/targets/%s", base->state_base, name);
		/* where its state and pins are, even when its cgroup is gone */
		ret = load_record(dir, out->cg_rel, sizeof(out->cg_rel), out->pin_buf,
				  sizeof(out->pin_buf));
		if (ret)
			return ret;
		snprintf(out->state_buf, sizeof(out->state_buf), "%s", dir);
		if (rf_cgroup2_mount(mnt, sizeof(mnt)))
			return -ENOENT;
		if ((size_t)snprintf(out->sel_buf, sizeof(out->sel_buf), "%.2047s%.2047s", mnt,
				     out->cg_rel) >= sizeof(out->sel_buf))
			return -ENAMETOOLONG;
		out->cgroup = out->sel_buf;
	} else if (base->home && *base->home) {
		out->cgroup = base->home;
	}
	rf_err_quiet(true);
	ret = rf_svc_select_target(out);
	rf_err_quiet(false);
	if (!ret && !out->cg_id)
		ret = -ENOENT; /* selected by its record: the cgroup is gone */
	if (ret && name) {
		out->state_dir = out->state_buf;
		out->pin_dir = out->pin_buf; /* "" if the record has none */
	}
	if (ret)
		return ret;
	if (name && out->is_home)
		return -EEXIST; /* a stale record of what is now the home target */
	return 0;
}

int rf_svc_for_each_target(const struct rf_ctx *base,
			   void (*fn)(struct rf_ctx *t, bool ok, void *arg), void *arg)
{
	char dir[PATH_MAX];
	struct rf_ctx *t = malloc(sizeof(*t));
	struct dirent **names = NULL;
	int i, n, visited = 0;

	if (!t)
		return -ENOMEM;
	if (rf_svc_target_ctx(base, NULL, t) == 0) {
		fn(t, true, arg);
		visited++;
	}
	snprintf(dir, sizeof(dir), "%s/targets", base->state_base);
	n = scandir(dir, &names, NULL, alphasort);
	for (i = 0; i < n; i++) {
		int ret;

		if (names[i]->d_name[0] != '.') {
			ret = rf_svc_target_ctx(base, names[i]->d_name, t);
			if (ret != -EEXIST && (ret == 0 || t->cg_rel[0])) {
				fn(t, ret == 0, arg);
				visited++;
			}
		}
		free(names[i]);
	}
	free(names);
	free(t);
	return visited;
}

int rf_svc_lock(struct rf_ctx *ctx)
{
	int fd = rf_state_lock(ctx->state_dir);

	if (fd == -EBUSY)
		rf_err("another ringfence command holds %s/lock; try again when it has finished",
		       ctx->state_dir);
	else if (fd < 0)
		rf_err("failed to lock state dir %s: %s (set --state-dir)", ctx->state_dir,
		       strerror(-fd));
	else
		record_target(ctx);
	return fd;
}

/* exe rules onto the files their paths name now; a failure is reported, not fatal. */
static void track_exe(struct rf_ctx *ctx, struct rf_maps *m)
{
	int moved, ret = rf_svc_refresh_exe(ctx, m, &moved);

	if (ret)
		rf_warn("cannot bring exe rules up to date with their files: %s", strerror(-ret));
}

/* An in-place upgrade (rf_load) in the history: "ABI 1 -> 2", or "programs of build X -> Y". */
static void record_upgrade(struct rf_ctx *ctx, const char *what, const char *error)
{
	struct rf_action a;

	rf_svc_action_start(ctx, &a, "upgrade", what);
	rf_svc_action_finish(ctx, &a, error, 0);
}

void rf_svc_build_str(char *buf, size_t len, const struct rf_build *b)
{
	time_t t = b ? (time_t)b->built : 0;
	struct tm tm;

	if (!b || !b->built || !gmtime_r(&t, &tm))
		snprintf(buf, len, "unknown");
	else
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ/%016llx", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (unsigned long long)b->hash);
}

/* "programs of build X -> Y" for the history, from the build the load replaced. */
static void describe_swap(char *buf, size_t len, const struct rf_build *before)
{
	char a[64], b[64];
	struct rf_build ours;

	rf_this_build(&ours);
	rf_svc_build_str(a, sizeof(a), before);
	rf_svc_build_str(b, sizeof(b), &ours);
	snprintf(buf, len, "programs of build %s -> %s", a, b);
}

/*
 * <state>/maps-seen: "BOOT-ID MAP-ID" of the rf_config on which the isolation record was last
 * seen to agree with the kernel. A record that says isolated over that very map, now off, was
 * released by someone else (another agent, docs/ABI.md); over another map (a reboot, or the
 * pins were removed) it is to be restored.
 */
#define RF_MAPS_SEEN	"maps-seen"
#define RF_BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

static int maps_identity(const struct rf_maps *m, char *buf, size_t len)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	char *boot = NULL;
	int ret = rf_read_file(RF_BOOT_ID_PATH, &boot, NULL);

	if (!ret && bpf_obj_get_info_by_fd(m->config, &info, &ilen))
		ret = -errno;
	if (!ret) {
		boot[strcspn(boot, "\n")] = '\0';
		snprintf(buf, len, "%.64s %u", boot, info.id);
	}
	free(boot);
	return ret;
}

bool rf_svc_maps_seen(const struct rf_ctx *ctx, const struct rf_maps *m)
{
	char now[96], **lines = NULL;
	size_t n = 0;
	bool seen;

	if (maps_identity(m, now, sizeof(now)) ||
	    rf_state_lines_load(ctx->state_dir, RF_MAPS_SEEN, &lines, &n))
		return false; /* unknown: take it for new maps (restore: fail closed) */
	seen = n == 1 && !strcmp(lines[0], now);
	rf_lines_free(lines, n);
	return seen;
}

void rf_svc_maps_agree(const struct rf_ctx *ctx, const struct rf_maps *m)
{
	char now[96], *line = now;
	struct rf_isolation iso;
	struct rf_config cfg;
	enum rf_svc_mode mode;

	if (rf_isolation_load(ctx->state_dir, &iso) || rf_config_get(m, &cfg))
		return;
	mode = rf_svc_mode(&cfg);
	if (iso.isolated != (mode == RF_SVC_ENFORCE) ||
	    (iso.audit && !iso.isolated) != (mode == RF_SVC_AUDIT))
		return;
	if (rf_svc_maps_seen(ctx, m) || maps_identity(m, now, sizeof(now)))
		return;
	if (rf_state_lines_save(ctx->state_dir, RF_MAPS_SEEN, NULL, &line, 1))
		rf_warn("cannot write %s/%s", ctx->state_dir, RF_MAPS_SEEN);
}

/*
 * The load found a map that is not ringfence's under one of its names and moved it aside: it
 * went on (isolation first), but someone or something pinned it there, perhaps to switch
 * isolation off. Said loudly, recorded, and the command exits 1 (degraded).
 */
static void report_foreign(struct rf_ctx *ctx, const char *moved)
{
	struct rf_action a;

	rf_warn(
	    "a map that is not ringfence's was pinned under its name, so ringfence pinned its "
	    "own maps there and moved that one aside (%s). Isolation is in force; find out "
	    "what pinned it (another tool, or an attempt to turn isolation off), and remove the "
	    "_foreign_ pins once inspected",
	    moved);
	snprintf(ctx->load_warning, sizeof(ctx->load_warning), "foreign pin moved aside: %s",
		 moved);
	ctx->degraded = true;
	rf_svc_action_start(ctx, &a, "foreign-pin", moved);
	rf_svc_action_finish(ctx, &a, "a map that is not ringfence's was pinned under its name", 0);
}

/* Does <state>/exe-keys (the identity each exe rule's path was last allowed by) name dev/ino? */
static bool exe_key_named(char *const *lines, size_t n, __u64 dev, __u64 ino)
{
	unsigned long long d, i;
	size_t k;

	for (k = 0; k < n; k++)
		if (sscanf(lines[k], "%llu %llu", &d, &i) == 2 && d == dev && i == ino)
			return true;
	return false;
}

/*
 * After an upgrade from ABI 1: its exe rules were copied as (dev, ino, any generation), so that
 * nothing allowed was cut while the programs were swapped. Every exe rule's path has since been
 * looked up again (track_exe(): its current identity, with its generation, is allowed and in
 * <state>/exe-keys), so a copy whose file no path names now goes: a binary replaced while ABI 1
 * ran left a freed inode that an attacker's file may get, allowed for ever (issue 21, U3b).
 * The copy of a file a path still names stays (its ABI 1 socket marks keep working).
 */
static void drop_carried_exe(struct rf_ctx *ctx, struct rf_maps *m)
{
	struct rf_exe_key key, *prev = NULL, *drop = NULL, *more;
	char **lines = NULL, what[96];
	size_t n = 0, ndrop = 0, i;
	struct rf_action a;

	if (rf_state_lines_load(ctx->state_dir, "exe-keys", &lines, &n))
		return;
	while (!bpf_map_get_next_key(m->exe, prev, &key)) {
		if (key.gen == RF_EXE_GEN_ANY && !exe_key_named(lines, n, key.dev, key.ino) &&
		    (more = realloc(drop, (ndrop + 1) * sizeof(*drop)))) {
			drop = more;
			drop[ndrop++] = key;
		}
		prev = prev ? prev : &key; /* key is the cursor: prev points at it from now on */
	}
	for (i = 0; i < ndrop; i++)
		bpf_map_delete_elem(m->exe, &drop[i]);
	rf_lines_free(lines, n);
	free(drop);
	if (!ndrop)
		return;
	rf_svc_sync_flags(m);
	snprintf(what, sizeof(what),
		 "%zu exe identit%s carried over from ABI 1 that no rule's path names now", ndrop,
		 ndrop == 1 ? "y" : "ies");
	rf_err("dropped %s", what);
	rf_svc_action_start(ctx, &a, "exe-carry-drop", what);
	rf_svc_action_finish(ctx, &a, NULL, 0);
}

int rf_svc_ensure_loaded(struct rf_ctx *ctx, struct rf_maps *m, bool with_config)
{
	__u32 upgraded_from = 0;
	bool replaced = false;
	char foreign[2048] = "";
	struct rf_build before = {};
	struct rf_load_opts o = {.pin_dir = ctx->pin_dir,
				 .foreign = foreign,
				 .foreign_len = sizeof(foreign),
				 .cgroup_dir = ctx->cg_dir,
				 .verbose = ctx->verbose,
				 .upgraded_from = &upgraded_from,
				 .programs_replaced = &replaced,
				 .replaced_build = &before,
				 .lean = ctx->selected && !ctx->is_home};
	char err[RF_ERR_MAX] = "", what[160];
	int ret;

	ret = rf_svc_resolve_cgroup(ctx);
	if (ret)
		return ret;
	if (!ctx->btf) {
		struct rf_conf conf;

		/* only for the btf setting: a broken config is reported when it is applied */
		if (!rf_conf_load(ctx->config, &conf, err, sizeof(err)) && conf.btf[0])
			ctx->btf = strdup(conf.btf);
		rf_conf_free(&conf);
		err[0] = '\0';
	}
	o.cgroup_id = ctx->cg_id;
	o.btf = ctx->btf;
	ret = rf_load(&o, err, sizeof(err));
	if (foreign[0])
		report_foreign(ctx, foreign);
	if (upgraded_from) {
		snprintf(what, sizeof(what), "ABI %u -> %u", upgraded_from, RF_ABI_VERSION);
		record_upgrade(ctx, what, ret ? (err[0] ? err : strerror(-ret)) : NULL);
	} else if (replaced) {
		describe_swap(what, sizeof(what), &before);
		record_upgrade(ctx, what, NULL);
	}
	if (ret) {
		rf_err("%s", err[0] ? err : strerror(-ret));
		return ret;
	}
	ret = rf_maps_open(ctx->pin_dir, m);
	if (ret) {
		rf_err("failed to open pinned maps in %s: %s", ctx->pin_dir, strerror(-ret));
		return ret;
	}
	ret = rf_svc_apply_persisted(ctx, m);
	if (!ret && with_config && rf_svc_apply_config(ctx, m) == -EINVAL)
		rf_warn("the configuration was not applied: continuing with the last applied "
			"policy; fix %s and run the command again",
			ctx->config);
	if (!ret)
		track_exe(ctx, m);
	if (!ret && upgraded_from)
		drop_carried_exe(ctx, m);
	if (!ret)
		rf_svc_maps_agree(ctx, m);
	return ret;
}

void rf_svc_record_not_applied(struct rf_ctx *ctx, const char *whose, size_t n, const char *first,
			       const char *err)
{
	char what[RF_ERR_MAX];
	struct rf_action a;

	if (!n)
		return;
	snprintf(what, sizeof(what), "%zu %s rule(s) not in force, first '%.200s'", n, whose,
		 first);
	rf_svc_action_start(ctx, &a, "rules-not-applied", what);
	rf_svc_action_finish(ctx, &a, err, 0);
}

int rf_svc_apply_persisted(struct rf_ctx *ctx, struct rf_maps *m)
{
	char **lines = NULL, err[RF_ERR_MAX], first[RF_ERR_MAX] = "", first_err[RF_ERR_MAX] = "";
	size_t n = 0, i, failed = 0;
	int ret;

	ret = rf_rules_load(ctx->state_dir, &lines, &n);
	if (ret) {
		rf_err("failed to read %s/rules: %s", ctx->state_dir, strerror(-ret));
		return ret;
	}
	for (i = 0; i < n; i++) {
		struct rf_rule r;

		if (rf_rule_parse_line(lines[i], &r, err, sizeof(err))) {
			rf_warn("%s/rules:%zu: ignored: %s", ctx->state_dir, i + 1, err);
			continue;
		}
		ret = rf_policy_change(m, &r, true, ctx->cg_dir, err, sizeof(err));
		if (ret && ret != -EEXIST) {
			rf_warn("persisted rule '%s' not applied: %s", lines[i], err);
			if (!failed++) {
				snprintf(first, sizeof(first), "%s", lines[i]);
				snprintf(first_err, sizeof(first_err), "%s", err);
			}
		}
	}
	rf_svc_record_not_applied(ctx, "persisted", failed, first, first_err);
	rf_lines_free(lines, n);
	return rf_svc_sync_flags(m);
}

int rf_svc_sync_flags(struct rf_maps *m)
{
	struct rf_config_change c = {.fields = RF_CFG_F_FLAGS, .flags_mask = RF_CFG_EXE_RULES};
	int ret;

	if (rf_map_count(m->exe, sizeof(struct rf_exe_key), 1))
		c.val.flags = RF_CFG_EXE_RULES;
	ret = rf_config_update(m, &c, NULL);
	if (ret)
		rf_err("failed to update rf_config.flags: %s", strerror(-ret));
	return ret;
}

static void action_init(struct rf_action *a, const char *type, const char *comment)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->type, sizeof(a->type), "%s", type);
	snprintf(a->comment, sizeof(a->comment), "%s", comment ? comment : "");
}

static void history_warning(struct rf_ctx *ctx, int ret)
{
	if (ret)
		rf_warn("failed to record action in %s/history: %s", ctx->state_dir,
			strerror(-ret));
}

void rf_svc_action_start(struct rf_ctx *ctx, struct rf_action *a, const char *type,
			 const char *comment)
{
	action_init(a, type, comment);
	history_warning(ctx, rf_action_begin(ctx->state_dir, a));
}

void rf_svc_action_defer(struct rf_action *a, const char *type, const char *comment)
{
	action_init(a, type, comment);
	a->status = RF_ACT_PENDING;
	a->requested_unix_ns = rf_now_unix_ns();
}

int rf_svc_action_finish(struct rf_ctx *ctx, struct rf_action *a, const char *error, int code)
{
	size_t n = (size_t)snprintf(a->warning, sizeof(a->warning), "%s", ctx->config_warning);

	if (ctx->load_warning[0] && n + 2 < sizeof(a->warning) &&
	    snprintf(a->warning + n, sizeof(a->warning) - n, "%s%s", n ? "; " : "",
		     ctx->load_warning) < 0)
		a->warning[n] = '\0';
	if (a->status == RF_ACT_PENDING)
		history_warning(ctx, rf_action_record(ctx->state_dir, a, error));
	else if (a->id)
		history_warning(ctx, rf_action_end(ctx->state_dir, a, error));
	return code;
}

enum rf_svc_mode rf_svc_mode(const struct rf_config *cfg)
{
	if (!cfg->isolated && !(cfg->flags & RF_CFG_AUDIT))
		return RF_SVC_OFF;
	if (cfg->deadline_ns && rf_now_boot_ns() >= cfg->deadline_ns)
		return RF_SVC_OFF;
	return cfg->isolated ? RF_SVC_ENFORCE : RF_SVC_AUDIT;
}

bool rf_svc_isolated_now(const struct rf_config *cfg)
{
	return rf_svc_mode(cfg) == RF_SVC_ENFORCE;
}

bool rf_svc_note_lapse(struct rf_ctx *ctx, const struct rf_config *cfg)
{
	struct rf_isolation iso;
	struct rf_action a = {};
	bool pending;

	if (rf_isolation_load(ctx->state_dir, &iso) || (!iso.isolated && !iso.audit))
		return false;
	if (rf_svc_mode(cfg) != RF_SVC_OFF || !cfg->deadline_ns ||
	    (!cfg->isolated && !(cfg->flags & RF_CFG_AUDIT)))
		return false; /* still on, or ended by a release rather than the deadline */
	pending = iso.isolated && iso.confirm_unix_ns &&
		  (!iso.for_unix_ns || iso.confirm_unix_ns <= iso.for_unix_ns);
	iso.isolated = iso.audit = false;
	iso.confirm_unix_ns = iso.for_unix_ns = 0;
	if (rf_isolation_save(ctx->state_dir, &iso))
		rf_warn("cannot update %s/isolation", ctx->state_dir);
	snprintf(a.type, sizeof(a.type), "%s", pending ? "rolled-back" : "auto-release");
	snprintf(a.requestor, sizeof(a.requestor), "kernel");
	snprintf(a.comment, sizeof(a.comment), "%s",
		 pending ? "not confirmed" : "isolation deadline reached");
	history_warning(ctx, rf_action_record(ctx->state_dir, &a, NULL));
	return true;
}

void rf_svc_guard_target_netns(struct rf_ctx *ctx)
{
	char prog[PATH_MAX];
	int ret;

	rf_hook_pin_path(prog, sizeof(prog), ctx->pin_dir, RF_HOOK_TC_EGRESS);
	ret = rf_tc_attach_cgroup_netns(prog, rf_tc_handle(ctx->cg_id), ctx->cg_dir,
					!ctx->guard_self);
	if (ret < 0)
		rf_warn("packet-socket guard not attached in every network namespace of %s: %s",
			ctx->cg_dir, strerror(-ret));
}

void rf_svc_packet_guard(struct rf_ctx *ctx, int mode)
{
	const char *env = getenv("RINGFENCE_PACKET_GUARD");
	char mnt[PATH_MAX], names[512], prog[PATH_MAX];
	int ret;

	if (env && *env && rf_conf_guard_word(env) != -2)
		mode = rf_conf_guard_word(env);
	/*
	 * auto: the host target guards every interface of this namespace; a narrower target the
	 * interfaces of the namespaces its processes are in (this one only if one of them is), so
	 * the rest of the host does not run a filter for it.
	 */
	ctx->guard_self = mode == RF_GUARD_ON ||
			  (!rf_cgroup2_mount(mnt, sizeof(mnt)) && !strcmp(mnt, ctx->cg_dir));
	ctx->packet_guard = mode != RF_GUARD_OFF;
	ctx->guard_decided = true;
	if (!ctx->packet_guard)
		return;
	if (!ctx->guard_self) {
		rf_svc_guard_target_netns(ctx);
		return;
	}
	rf_hook_pin_path(prog, sizeof(prog), ctx->pin_dir, RF_HOOK_TC_EGRESS);
	ret = rf_tc_attach_all(prog, rf_tc_handle(ctx->cg_id), names, sizeof(names));
	if (ret < 0)
		rf_warn("packet-socket guard not attached everywhere: %s (AF_PACKET sockets may "
			"bypass isolation on those interfaces)",
			strerror(-ret));
	else if (ret > 0 && ctx->verbose)
		rf_err("packet-socket guard attached to %s", names);
	rf_svc_guard_target_netns(ctx);
}
