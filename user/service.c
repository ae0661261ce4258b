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
#include "rf_hosts.h"
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

#define RF_SYSTEMCTL_TIMEOUT_MS 3000
#define RF_RECORDS_MAX		10000 /* target records looked at for one selector */
#define RF_RUNTIME_TIMEOUT_MS	3000

/*
 * The cgroup systemd gives unit ctx->unit (its ControlGroup property), into rel: the system
 * manager is the authority on its units, and asking it walks no tree that a subtree owner
 * could fill. -ENOENT when systemd is not there, does not answer in time, or names no cgroup
 * that exists (a unit that is not running, a user manager's unit): then the tree is searched.
 * $RINGFENCE_SYSTEMCTL names another systemctl (the tests' stand-in).
 */
static int unit_from_systemd(const struct rf_ctx *ctx, const char *mnt, char *rel, size_t len)
{
	const char *bin = getenv("RINGFENCE_SYSTEMCTL");
	char name[NAME_MAX + 1], out[PATH_MAX], abs[PATH_MAX * 2];
	char *argv[] = {(char *)(bin && *bin ? bin : "systemctl"),
			"show",
			"--property=ControlGroup",
			"--value",
			"--",
			name,
			NULL};
	struct rf_cgroup_ref ref;
	size_t n;

	if (rf_target_unit_name(ctx->unit, name, sizeof(name)) ||
	    rf_target_run(argv, out, sizeof(out), RF_SYSTEMCTL_TIMEOUT_MS))
		return -ENOENT;
	n = strcspn(out, "\n");
	out[n] = '\0';
	if (out[0] != '/' || strstr(out, "/../") || (n >= 3 && !strcmp(out + n - 3, "/..")))
		return -ENOENT;
	snprintf(abs, sizeof(abs), "%s%s", mnt, strcmp(out, "/") ? out : "");
	if (rf_target_cgroup(mnt, abs, &ref) || !strcmp(ref.rel, "/"))
		return -ENOENT;
	snprintf(rel, len, "%s", ref.rel);
	return 0;
}

/*
 * One runtime's answer for container prefix want: its full id and init pid ("ID PID"), and the
 * pid's cgroup cut at the outermost directory named for that id, into rel. -ENOENT when the
 * runtime is not there, knows no such container, is not running it, or its answer leads to no
 * cgroup named for the container.
 */
static int ask_runtime(const char *runtime, const char *want, char *id, char *rel, size_t len)
{
	char out[256], pid[24], own[PATH_MAX];
	char *argv[] = {(char *)runtime,	  "inspect",	"--type", "container", "--format",
			"{{.Id}} {{.State.Pid}}", (char *)want, NULL};
	long long p;

	if (rf_target_run(argv, out, sizeof(out), RF_RUNTIME_TIMEOUT_MS) ||
	    sscanf(out, "%64[0-9a-f] %lld", id, &p) != 2 || strlen(id) != RF_TARGET_ID_LEN ||
	    strncmp(id, want, strlen(want)) || p <= 0 || p > INT_MAX)
		return -ENOENT; /* also a container whose *name* is these hex digits */
	snprintf(pid, sizeof(pid), "%lld", p);
	if (rf_target_pid_cgroup(NULL, pid, own, sizeof(own)) ||
	    rf_target_container_cgroup(own, id, rel, len))
		return -ENOENT;
	return 0;
}

/*
 * The cgroup of container ctx->container as its runtimes know it (docker, podman: `inspect`),
 * into rel: asking them walks no tree. -ENOENT when none knows it, or they name different
 * containers (an ambiguous prefix: the search reports it). $RINGFENCE_CONTAINER_RUNTIMES: the
 * runtimes asked (default "docker podman"; empty: none).
 */
static int container_from_runtime(const struct rf_ctx *ctx, char *rel, size_t len)
{
	const char *env = getenv("RINGFENCE_CONTAINER_RUNTIMES");
	char list[512], want[RF_TARGET_ID_LEN + 1], id[RF_TARGET_ID_LEN + 1] = "";
	char found[RF_TARGET_ID_LEN + 1] = "", path[PATH_MAX], *save = NULL, *r;

	if (rf_target_container_id(ctx->container, want, sizeof(want)))
		return -EINVAL;
	snprintf(list, sizeof(list), "%s", env ? env : "docker podman");
	for (r = strtok_r(list, " ", &save); r; r = strtok_r(NULL, " ", &save)) {
		if (ask_runtime(r, want, id, path, sizeof(path)))
			continue;
		if (found[0] && strcmp(found, id))
			return -ENOENT;
		if (!found[0])
			snprintf(rel, len, "%s", path);
		snprintf(found, sizeof(found), "%s", id);
	}
	return found[0] ? 0 : -ENOENT;
}

static int load_record(const char *dir, char *rel, size_t rellen, char *pins, size_t pinslen,
		       __u64 *id);

/* Does the target recorded at cgroup path rel carry the name the selector gives? */
static bool record_named(const struct rf_ctx *ctx, const char *rel)
{
	char want[RF_TARGET_ID_LEN + 1], id[RF_TARGET_ID_LEN + 1], name[NAME_MAX + 1];
	const char *base = strrchr(rel, '/') + 1;

	if (ctx->unit)
		return !rf_target_unit_name(ctx->unit, name, sizeof(name)) && !strcmp(base, name);
	return !rf_target_container_id(ctx->container, want, sizeof(want)) &&
	       rf_target_container_of(base, id, sizeof(id)) && !strncmp(id, want, strlen(want));
}

/* Is the target recorded in state dir `dir` isolated (or audited), named by the selector, and
 * its cgroup still the one recorded (the same path and id)? Its path into rel. */
static bool record_usable(const struct rf_ctx *ctx, const char *mnt, const char *dir, char *rel,
			  size_t len)
{
	char pins[PATH_MAX], abs[PATH_MAX * 2];
	struct rf_cgroup_ref ref;
	struct rf_isolation iso;
	__u64 id = 0;

	if (load_record(dir, rel, len, pins, sizeof(pins), &id) || !id || !record_named(ctx, rel) ||
	    rf_isolation_load(dir, &iso) || !(iso.isolated || iso.audit))
		return false;
	snprintf(abs, sizeof(abs), "%s%s", mnt, rel);
	return !rf_target_cgroup(mnt, abs, &ref) && ref.id == id && !strcmp(ref.rel, rel);
}

/*
 * When a search of the tree cannot decide (a subtree owner filled or forged its part), the
 * isolated target recorded under <state>/targets for that unit or container name, still the
 * same cgroup (path and id): so confirm, release and every other command reach what was
 * isolated. Returns how many such targets there are; the one's path into rel.
 */
static int recorded_target(const struct rf_ctx *ctx, const char *mnt, char *rel, size_t len)
{
	char dir[PATH_MAX + NAME_MAX + 16], path[PATH_MAX], safe[PATH_MAX];
	struct dirent *de;
	int n = 0, seen = 0;
	_cleanup_closedir_ DIR *d = NULL;

	snprintf(dir, sizeof(dir), "%s/targets", ctx->state_base);
	d = opendir(dir);
	while (d && (de = readdir(d)) && seen++ < RF_RECORDS_MAX) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/targets/%s", ctx->state_base, de->d_name);
		if (record_usable(ctx, mnt, dir, path, sizeof(path)) && ++n == 1)
			snprintf(rel, len, "%s", path);
	}
	if (n == 1) {
		rf_safe_str(rel, strlen(rel), safe, sizeof(safe));
		rf_warn("the search of the cgroup tree could not decide; using the target recorded "
			"when it was isolated: %s%s",
			mnt, safe);
	}
	return n;
}

int rf_svc_record_pins(const struct rf_ctx *base, const char *name, char *pins, size_t len,
		       __u64 *id)
{
	char dir[PATH_MAX + NAME_MAX + 16], rel[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/targets/%s", base->state_base, name);
	return load_record(dir, rel, sizeof(rel), pins, len, id);
}

int rf_svc_find_record(const struct rf_ctx *base, const char *rel, const char *cid, char *name,
		       size_t len)
{
	char dir[PATH_MAX + NAME_MAX + 16], path[PATH_MAX], pins[PATH_MAX],
	    id[RF_TARGET_ID_LEN + 1];
	struct rf_isolation iso;
	struct dirent *de;
	int n = 0, seen = 0;
	_cleanup_closedir_ DIR *d = NULL;

	snprintf(dir, sizeof(dir), "%s/targets", base->state_base);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) && seen++ < RF_RECORDS_MAX) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/targets/%s", base->state_base, de->d_name);
		if (load_record(dir, path, sizeof(path), pins, sizeof(pins), NULL) ||
		    rf_isolation_load(dir, &iso) || !(iso.isolated || iso.audit))
			continue;
		if (rel ? strcmp(path, rel)
			: !rf_target_container_of(strrchr(path, '/') + 1, id, sizeof(id)) ||
			      strcmp(id, cid))
			continue;
		if (++n == 1)
			snprintf(name, len, "%s", de->d_name);
	}
	return n;
}

/* Why the search for the unit or container found no single cgroup (ret), printed. */
static void search_error(const struct rf_ctx *ctx, const char *mnt, int ret,
			 const struct rf_target_found *f)
{
	bool unit = ctx->unit != NULL;
	const char *what = unit ? ctx->unit : ctx->container;
	char msg[PATH_MAX + 1024], safe[256], name[NAME_MAX + 1];

	if (unit && !rf_target_unit_name(what, name, sizeof(name)))
		what = name; /* messages name the unit that was looked for: "nginx.service" */
	rf_safe_str(what, strlen(what), safe, sizeof(safe));
	if (ret == -EINVAL && unit) {
		rf_err("%s '%s' is not a unit name: give one such as nginx or nginx.service (a "
		       "cgroup path goes to --cgroup)",
		       ctx->target_opt, safe);
	} else if (ret == -EINVAL) {
		rf_err("%s '%s' is not a container id: give the id or a unique prefix of at least "
		       "%d of its hex digits ('docker ps --no-trunc', 'podman ps --no-trunc', "
		       "'crictl ps'), or --pid of one of its processes",
		       ctx->target_opt, safe, RF_TARGET_ID_MIN);
	} else if (ret == -ENOENT && unit) {
		const char *near = f->nsimilar ? ". Units of that name once \\xNN escapes are "
						 "decoded:"
					       : "";

		snprintf(
		    msg, sizeof(msg),
		    "no cgroup of unit '%s' below %s (searched %lu cgroups): a unit that is not "
		    "running has none; check 'systemctl status %s', or give the cgroup with "
		    "--cgroup PATH%s",
		    safe, mnt, f->dirs, safe, near);
		err_with_paths(msg, f->similar, f->nsimilar, f->nsimilar);
	} else if (ret == -ENOENT) {
		rf_err("no container with an id starting with '%s' has a cgroup below %s (searched "
		       "%lu cgroups for ID, RUNTIME-ID and RUNTIME-ID.scope, e.g. docker-ID.scope, "
		       "libpod-ID.scope, cri-containerd-ID.scope, crio-ID.scope): check the id, or "
		       "give --pid of one of its processes",
		       safe, mnt, f->dirs);
	} else if (ret == -ENOTUNIQ) {
		snprintf(msg, sizeof(msg),
			 unit ? "unit '%s' matches %zu cgroups below %s; choose "
				"one with --cgroup PATH:"
			      : "container id '%s' matches %zu cgroups below %s; give "
				"more of the id, or --cgroup PATH:",
			 safe, f->total, mnt);
		err_with_paths(msg, f->paths, f->n, f->total);
	} else if (ret == -E2BIG) {
		rf_err("the search below %s for %s '%s' stopped at its limits (32 levels, 100000 "
		       "cgroups) before it could tell: give the cgroup with --cgroup PATH",
		       mnt, unit ? "unit" : "container", safe);
	} else {
		rf_err("cannot search %s: %s", mnt, strerror(-ret));
	}
}

/* Does the selector name one thing, however many cgroups carry that name: a unit name, a full
 * container id (several cgroups of one full id are forged), not an id prefix? */
static bool names_one(const struct rf_ctx *ctx)
{
	char id[RF_TARGET_ID_LEN + 1];

	return ctx->unit || (!rf_target_container_id(ctx->container, id, sizeof(id)) &&
			     strlen(id) == RF_TARGET_ID_LEN);
}

/* Search the cgroup2 tree for the unit or container; the match's path into rel. A search that
 * cannot decide falls back to the isolated target recorded for that name. */
static int search_tree(struct rf_ctx *ctx, const char *mnt, char *rel, size_t len)
{
	struct rf_target_found f;
	int ret;

	if (ctx->unit ? !unit_from_systemd(ctx, mnt, rel, len)
		      : !container_from_runtime(ctx, rel, len))
		return 0;
	ret = ctx->unit ? rf_target_find_unit(mnt, ctx->unit, NULL, &f)
			: rf_target_find_container(mnt, ctx->container, NULL, &f);
	if (ret == 0)
		snprintf(rel, len, "%s", f.paths[0]);
	else if ((ret == -E2BIG || (ret == -ENOTUNIQ && names_one(ctx))) &&
		 recorded_target(ctx, mnt, rel, len) == 1)
		ret = 0;
	else
		search_error(ctx, mnt, ret, &f);
	rf_target_found_free(&f);
	return ret == -ENOENT || ret == -ENOTUNIQ ? -EINVAL : ret;
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

/* The errors of resolving a --cgroup that mean it names no usable cgroup: a usage error. */
static bool selector_error(int err)
{
	return err == -ENOENT || err == -ENOTDIR || err == -EXDEV || err == -ELOOP ||
	       err == -ENAMETOOLONG || err == -EINVAL;
}

/* --cgroup (none: the cgroup2 root) identified; the problem printed. -EINVAL: no usable cgroup. */
static int cgroup_selector(const struct rf_ctx *ctx, const char *mnt, struct rf_cgroup_ref *ref)
{
	const char *sel = ctx->cgroup ? ctx->cgroup : mnt;
	char safe[PATH_MAX];
	int err = rf_target_cgroup(mnt, sel, ref);

	if (!err)
		return 0;
	rf_safe_str(sel, strlen(sel), safe, sizeof(safe));
	if (err == -EXDEV)
		rf_err("cgroup %s is not usable: it is not below the cgroup2 mount %s (another "
		       "cgroup namespace or mount): give a path below %s",
		       safe, mnt, mnt);
	else
		rf_err("cgroup %s is not usable: %s (cgroup2 is mounted at %s: give a directory "
		       "below it, e.g. --cgroup %s/system.slice/x.service, or a path relative to "
		       "it, e.g. --cgroup system.slice/x.service)",
		       safe, err == -ENOTDIR ? "not a cgroup2 directory" : strerror(-err), mnt,
		       mnt);
	return selector_error(err) ? -EINVAL : err;
}

/* The unit, container or pid selector identified; the problem printed. */
static int search_selector(struct rf_ctx *ctx, const char *mnt, struct rf_cgroup_ref *ref)
{
	char rel[PATH_MAX], safe[256], where[PATH_MAX], abs[PATH_MAX * 2];
	const char *value;
	int err;

	err =
	    ctx->pid ? pid_cgroup(ctx, rel, sizeof(rel)) : search_tree(ctx, mnt, rel, sizeof(rel));
	if (err)
		return err;
	snprintf(abs, sizeof(abs), "%s%s", mnt, rel); /* below the mount, whatever else exists */
	err = rf_target_cgroup(mnt, abs, ref);
	if (err) {
		rf_svc_target_kind(ctx, &value);
		rf_safe_str(value, strlen(value), safe, sizeof(safe));
		rf_safe_str(rel, strlen(rel), where, sizeof(where));
		rf_err("%s %s resolved to %s%s, which is not usable: %s (did it just exit?)",
		       ctx->target_opt, safe, mnt, where, strerror(-err));
	}
	return err ? -EINVAL : 0;
}

int rf_svc_resolve_cgroup(struct rf_ctx *ctx)
{
	struct rf_cgroup_ref ref;
	char mnt[PATH_MAX];
	int err;

	if (ctx->cg_id)
		return 0;
	if (rf_cgroup2_mount(mnt, sizeof(mnt))) {
		rf_err("no cgroup2 filesystem is mounted: mount one with 'mount -t cgroup2 none "
		       "/sys/fs/cgroup' (or /sys/fs/cgroup/unified on hybrid hosts)");
		return -ENOENT;
	}
	err = ctx->unit || ctx->container || ctx->pid ? search_selector(ctx, mnt, &ref)
						      : cgroup_selector(ctx, mnt, &ref);
	if (err)
		return err;
	snprintf(ctx->cg_dir, sizeof(ctx->cg_dir), "%s", ref.dir);
	snprintf(ctx->cg_rel, sizeof(ctx->cg_rel), "%s", ref.rel);
	ctx->cg_id = ref.id;
	return 0;
}

/* The home target (RINGFENCE_HOME_CGROUP, default the cgroup2 root) identified; -errno when the
 * home does not exist (yet): then no target is the home. */
static int home_ref(const struct rf_ctx *ctx, const char *mnt, struct rf_cgroup_ref *ref)
{
	return rf_target_cgroup(mnt, ctx->home && *ctx->home ? ctx->home : "/", ref);
}

/*
 * Decide by id whether the resolved target is the home target, and refuse one that contains
 * the home (an ancestor of RINGFENCE_HOME_CGROUP): ringfence never attaches above the top-most
 * target. 0 or -EINVAL (printed).
 */
static int check_home(struct rf_ctx *ctx, const char *mnt)
{
	struct rf_cgroup_ref home;
	char safe[PATH_MAX];

	ctx->is_home = false;
	if (home_ref(ctx, mnt, &home))
		return 0;
	ctx->is_home = home.id == ctx->cg_id;
	if (ctx->is_home || rf_target_covers(home.dir, ctx->cg_id) != 1)
		return 0;
	rf_safe_str(ctx->cg_dir, strlen(ctx->cg_dir), safe, sizeof(safe));
	rf_err("cgroup %s contains the home target %s (RINGFENCE_HOME_CGROUP): ringfence never "
	       "works above its top-most target; give that cgroup or one below it",
	       safe, home.dir);
	return -EINVAL;
}

/*
 * A --cgroup that no longer exists but was a target (the container stopped): select its record,
 * so that release and unload still work on it. The path is named as the record names it ("X/."
 * and "X//" are "X"). ctx->cg_id stays 0.
 */
static bool select_gone(struct rf_ctx *ctx, const char *mnt)
{
	char path[PATH_MAX], abs[PATH_MAX], name[NAME_MAX + 1], *rel;
	size_t n = strlen(mnt);
	struct stat st;

	if (!ctx->cgroup || ctx->unit || ctx->container || ctx->pid)
		return false;
	if (rf_target_cgroup_path(mnt, ctx->cgroup, path, sizeof(path)) ||
	    rf_target_path_clean(path, abs, sizeof(abs)))
		return false;
	if (!stat(path, &st) || errno != ENOENT || strncmp(abs, mnt, n) || abs[n] != '/')
		return false;
	rel = abs + n;
	if (rf_target_state_name(rel, name, sizeof(name)))
		return false;
	snprintf(ctx->state_buf, sizeof(ctx->state_buf), "%s/targets/%s", ctx->state_base, name);
	if (load_record(ctx->state_buf, ctx->cg_rel, sizeof(ctx->cg_rel), ctx->pin_buf,
			sizeof(ctx->pin_buf), NULL) ||
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
	if ((ret = check_home(ctx, mnt)))
		return ret;
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

/* <state>/target: "path /REL" (the target's cgroup), "pins DIR" (its pin dir) and "id N" (its
 * cgroup id when it was last selected; older records have none) */
#define RF_TARGET_RECORD "target"

/* Remember which cgroup this state dir belongs to (the agent finds targets by it). */
static void record_target(struct rf_ctx *ctx)
{
	char path[PATH_MAX + 8], pins[PATH_MAX + 8], id[32];
	char *lines[3] = {path, pins, id};

	char **had = NULL;
	size_t nhad = 0;
	bool same;

	if (!ctx->selected || !ctx->cg_id)
		return; /* a target whose cgroup is gone keeps the record it has */
	snprintf(path, sizeof(path), "path %s", ctx->cg_rel);
	snprintf(pins, sizeof(pins), "pins %s", ctx->pin_dir);
	snprintf(id, sizeof(id), "id %llu", (unsigned long long)ctx->cg_id);
	/* unchanged (the usual case): no write, so no fsync ahead of the command's work */
	same = !rf_state_lines_load(ctx->state_dir, RF_TARGET_RECORD, &had, &nhad) && nhad == 3 &&
	       !strcmp(had[0], path) && !strcmp(had[1], pins) && !strcmp(had[2], id);
	rf_lines_free(had, nhad);
	if (!same && rf_state_lines_save(ctx->state_dir, RF_TARGET_RECORD, NULL, lines, 3))
		rf_warn("cannot write %s/%s", ctx->state_dir, RF_TARGET_RECORD);
}

/* The cgroup path, pin dir and (id not NULL) cgroup id a target record names (id 0: none
 * recorded); -ENOENT when there is no record. */
static int load_record(const char *dir, char *rel, size_t rellen, char *pins, size_t pinslen,
		       __u64 *id)
{
	char **lines = NULL;
	size_t n = 0, i;
	int ret = rf_state_lines_load(dir, RF_TARGET_RECORD, &lines, &n);

	if (!ret && (n < 1 || strncmp(lines[0], "path /", 6)))
		ret = -ENOENT;
	if (!ret) {
		snprintf(rel, rellen, "%s", lines[0] + 5);
		snprintf(pins, pinslen, "%s",
			 n > 1 && !strncmp(lines[1], "pins /", 6) ? lines[1] + 5 : "");
	}
	if (id)
		*id = 0;
	for (i = 2; !ret && id && i < n; i++)
		if (!strncmp(lines[i], "id ", 3))
			*id = strtoull(lines[i] + 3, NULL, 10);
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

/*
 * A record that an older version kept under another spelling of its cgroup's path ("X/." beside
 * "X"): it becomes the target's own state when the target has none yet (its isolation is then
 * restored, never lost in an upgrade); otherwise it is left alone and ignored, since the
 * target's own record is the one every command now keeps. Returns -EEXIST: visit the target
 * by its own name.
 */
static int adopt_alias(const char *alias, const char *own)
{
	struct stat st;

	if (stat(own, &st) && errno == ENOENT && rename(alias, own) == 0)
		rf_warn("state of %s moved to %s, the name of its cgroup's canonical path", alias,
			own);
	return -EEXIST;
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
				  sizeof(out->pin_buf), NULL);
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
	if (name && strcmp(dir, out->state_dir))
		return adopt_alias(dir, out->state_dir);
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
		rf_err("cannot use state dir %s: %s", ctx->state_dir, rf_state_problem(fd));
	else
		record_target(ctx);
	return fd;
}

int rf_svc_lock_wait(struct rf_ctx *ctx, int timeout_ms)
{
	int fd = rf_state_lock_wait(ctx->state_dir, timeout_ms);

	if (fd == -EBUSY)
		rf_warn("another ringfence command has held %s/lock for %d ms", ctx->state_dir,
			timeout_ms);
	else if (fd < 0)
		rf_warn("cannot use state dir %s: %s", ctx->state_dir, rf_state_problem(fd));
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
#define RF_MAPS_SEEN "maps-seen"

static int maps_identity(const struct rf_maps *m, char *buf, size_t len)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	char boot[65];
	int ret = rf_boot_id(boot, sizeof(boot));

	if (!ret && bpf_obj_get_info_by_fd(m->config, &info, &ilen))
		ret = -errno;
	if (!ret)
		snprintf(buf, len, "%s %u", boot, info.id);
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
	if (ndrop)
		rf_policy_gen_bump(m); /* after the change: cached allows re-judge */
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
	if (!ret && !ctx->unlocked)
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
		/* fail closed: without them less is allowed, and isolation still goes ahead */
		rf_warn("the allow rules saved in %s/rules are not applied: %s", ctx->state_dir,
			rf_state_problem(ret));
		if (!ctx->state_err)
			ctx->state_err = ret;
		return rf_svc_sync_flags(m);
	}
	rf_host_batch(m, true);
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
	rf_host_batch(m, false);
	rf_svc_record_not_applied(ctx, "persisted", failed, first, first_err);
	rf_lines_free(lines, n);
	return rf_svc_sync_flags(m);
}

int rf_svc_sync_flags(struct rf_maps *m)
{
	struct rf_config_change c = {.fields = RF_CFG_F_FLAGS,
				     .flags_mask = RF_CFG_EXE_RULES | RF_CFG_HOST_RULES};
	int ret;

	if (rf_map_count(m->exe, sizeof(struct rf_exe_key), 1) ||
	    rf_map_count(m->exe3, sizeof(struct rf_exe_key), 1))
		c.val.flags = RF_CFG_EXE_RULES;
	if (rf_host_any(m)) /* the programs parse DNS only while a host rule exists */
		c.val.flags |= RF_CFG_HOST_RULES;
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

void rf_svc_state_error(struct rf_ctx *ctx, const char *what, int err)
{
	if (!err)
		return;
	rf_warn("cannot write %s in %s: %s", what, ctx->state_dir, rf_state_problem(err));
	if (!ctx->state_err)
		ctx->state_err = err;
}

static void history_warning(struct rf_ctx *ctx, int ret)
{
	rf_svc_state_error(ctx, "the action history", ret);
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

__u64 rf_svc_boot_to_unix(__u64 boot_ns)
{
	return rf_boot_to_unix(boot_ns, rf_now_boot_ns(), rf_now_unix_ns());
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
	iso.confirm_unix_ns = iso.for_unix_ns = iso.for_after_confirm_ns = 0;
	rf_svc_state_error(ctx, "the isolation record", rf_isolation_save(ctx->state_dir, &iso));
	/* when it happened: the kernel's deadline, not when someone noticed */
	a.requested_unix_ns = a.completed_unix_ns = rf_svc_boot_to_unix(cfg->deadline_ns);
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

/* ---- the journal -----------------------------------------------------------------------------
 */

void rf_svc_intent(struct rf_ctx *ctx, const char *op, const struct rf_action *a, json_t *extra)
{
	json_t *j = extra ? extra : json_object();
	int ret = j ? 0 : -ENOMEM;

	if (!ret && (json_object_set_new(j, "op", json_string(op)) ||
		     (a && json_object_set_new(j, "action", rf_action_to_json(a)))))
		ret = -ENOMEM;
	if (!ret)
		ret = rf_journal_write(ctx->state_dir, j);
	json_decref(j);
	rf_svc_state_error(ctx, "the journal", ret);
	ctx->intent_open = !ret;
	rf_crash_point("intent");
}

void rf_svc_intent_done(struct rf_ctx *ctx)
{
	if (!ctx->intent_open)
		return;
	rf_crash_point("recorded");
	ctx->intent_open = false;
	rf_svc_state_error(ctx, "the journal", rf_journal_clear(ctx->state_dir));
}

/* Does the history hold a final record of action id (killed after recording it)? */
static bool action_finished(struct rf_ctx *ctx, __u64 id)
{
	_cleanup_free_ struct rf_action *acts = NULL;
	size_t n, i;
	bool done = false;

	if (!id || rf_history_load(ctx->state_dir, &acts, &n))
		return false;
	for (i = n; i > 0 && !done; i--)
		done = acts[i - 1].id == id && (acts[i - 1].status == RF_ACT_SUCCEEDED ||
						acts[i - 1].status == RF_ACT_FAILED);
	return done;
}

/* The journal's action, finished with error (NULL: Succeeded) and a warning, unless the
 * command got as far as recording it. */
static void recover_action(struct rf_ctx *ctx, const json_t *j, const char *error,
			   const char *warning)
{
	struct rf_action a;

	if (rf_action_from_json(json_object_get(j, "action"), &a) || action_finished(ctx, a.id))
		return;
	snprintf(a.warning, sizeof(a.warning), "%s", warning);
	a.completed_unix_ns = 0;
	history_warning(ctx, a.id ? rf_action_end(ctx->state_dir, &a, error)
				  : rf_action_record(ctx->state_dir, &a, error));
}

/* An isolate (or audit) that was killed: recorded if its flag is in the kernel, else Failed;
 * after a reboot nobody can tell, so it is kept (and the agent restores it). */
static void recover_isolate(struct rf_ctx *ctx, const json_t *j, const struct rf_config *cfg,
			    bool same_boot)
{
	struct rf_isolation iso, rec;
	bool applied;

	if (rf_isolation_from_json(json_object_get(j, "isolation"), &iso) ||
	    (!rf_isolation_load(ctx->state_dir, &rec) && rec.since_unix_ns == iso.since_unix_ns &&
	     (rec.isolated || rec.audit)))
		return; /* killed after recording it: nothing is missing */
	applied = cfg && cfg->since_unix_ns == iso.since_unix_ns &&
		  (cfg->isolated || (cfg->flags & RF_CFG_AUDIT));
	if (same_boot && !applied) {
		recover_action(ctx, j, "interrupted before it took effect", "");
		return;
	}
	rf_svc_state_error(ctx, "the isolation record", rf_isolation_save(ctx->state_dir, &iso));
	recover_action(ctx, j, NULL,
		       same_boot ? "recorded by the next command: the command was interrupted "
				   "after isolating"
				 : "the command was interrupted and the host restarted: kept "
				   "isolated (fail closed)");
}

/* A release that was killed: recorded if the kernel is released, else Failed (still in
 * force; after a reboot the agent restores it). */
static void recover_release(struct rf_ctx *ctx, const json_t *j, const struct rf_config *cfg,
			    bool same_boot)
{
	struct rf_isolation iso;

	if (!same_boot || !cfg || cfg->isolated || (cfg->flags & RF_CFG_AUDIT)) {
		recover_action(ctx, j, "interrupted before it took effect: still isolated", "");
		return;
	}
	if (!rf_isolation_load(ctx->state_dir, &iso)) {
		iso.isolated = iso.audit = false;
		iso.deadline_unix_ns = iso.confirm_unix_ns = iso.for_unix_ns = 0;
		iso.remaining_ns = iso.for_after_confirm_ns = iso.deadline_boot_ns = 0;
		rf_svc_state_error(ctx, "the isolation record",
				   rf_isolation_save(ctx->state_dir, &iso));
	}
	recover_action(ctx, j, NULL,
		       "recorded by the next command: the command was interrupted after releasing");
}

/* A confirm that was killed: recorded if the kernel has its deadline, else Failed (still
 * waiting for confirmation: confirm again). */
static void recover_confirm(struct rf_ctx *ctx, const json_t *j, const struct rf_config *cfg,
			    bool same_boot)
{
	__u64 deadline = (__u64)json_integer_value(json_object_get(j, "deadline_boot"));
	struct rf_isolation iso;

	if (!same_boot || !cfg || cfg->deadline_ns != deadline ||
	    rf_isolation_from_json(json_object_get(j, "isolation"), &iso)) {
		recover_action(ctx, j, "interrupted before it took effect: confirm again", "");
		return;
	}
	rf_svc_state_error(ctx, "the isolation record", rf_isolation_save(ctx->state_dir, &iso));
	recover_action(
	    ctx, j, NULL,
	    "recorded by the next command: the command was interrupted after confirming");
}

/* An allow change that was killed is finished: in the kernel (when loaded) and saved. */
static void recover_rule(struct rf_ctx *ctx, const json_t *j, struct rf_maps *m, bool add)
{
	char err[RF_ERR_MAX], text[RF_RULE_TEXT_MAX];
	struct rf_rule r;
	int ret;

	if (rf_state_str_get(j, "rule", text, sizeof(text)) ||
	    rf_rule_parse_line(text, &r, err, sizeof(err)))
		return;
	if (m->config >= 0) {
		ret = rf_policy_change(m, &r, add, ctx->cg_dir, err, sizeof(err));
		if (ret && ret != -EEXIST && ret != -ENOENT)
			rf_warn("finishing '%s': %s", text, err);
		rf_svc_sync_flags(m);
	}
	rf_svc_state_error(ctx, "the rules", rf_rules_change(ctx->state_dir, text, add));
	recover_action(ctx, j, NULL,
		       "finished by the next command: the command was interrupted half-way");
}

/* Isolation in force with no record of it (an isolate that could not write the state dir, or
 * another agent through rf_config): recorded now, once. */
static void adopt_kernel_mode(struct rf_ctx *ctx, const struct rf_config *cfg)
{
	enum rf_svc_mode mode = rf_svc_mode(cfg);
	struct rf_isolation iso;
	struct rf_action a = {};

	if (mode == RF_SVC_OFF || rf_isolation_load(ctx->state_dir, &iso) ||
	    (mode == RF_SVC_ENFORCE ? iso.isolated : iso.audit || iso.isolated))
		return;
	memset(&iso, 0, sizeof(iso));
	iso.isolated = mode == RF_SVC_ENFORCE;
	iso.audit = mode == RF_SVC_AUDIT;
	iso.since_unix_ns = cfg->since_unix_ns ? cfg->since_unix_ns : rf_now_unix_ns();
	if (cfg->deadline_ns) {
		iso.deadline_boot_ns = cfg->deadline_ns;
		iso.deadline_unix_ns = rf_svc_boot_to_unix(cfg->deadline_ns);
		iso.deadline_synced = rf_clock_synced();
		iso.remaining_ns = cfg->deadline_ns - rf_now_boot_ns();
	}
	rf_boot_id(iso.boot_id, sizeof(iso.boot_id));
	snprintf(iso.comment, sizeof(iso.comment), "found in force with no record");
	rf_svc_state_error(ctx, "the isolation record", rf_isolation_save(ctx->state_dir, &iso));
	snprintf(a.type, sizeof(a.type), "external-isolate");
	snprintf(a.requestor, sizeof(a.requestor), "external");
	snprintf(a.comment, sizeof(a.comment),
		 "isolation in force with no record: an isolate that could not write the state "
		 "dir, or another agent through rf_config");
	a.requested_unix_ns = iso.since_unix_ns;
	history_warning(ctx, rf_action_record(ctx->state_dir, &a, NULL));
}

static void note_lapse_while_down(struct rf_ctx *ctx);

void rf_svc_recover(struct rf_ctx *ctx)
{
	struct rf_maps m = RF_MAPS_INIT;
	struct rf_config cfg, *c = NULL;
	char boot[40];
	const char *op, *was;
	json_t *j = NULL;
	bool lapsed;
	int ret;

	if (!rf_maps_open(ctx->pin_dir, &m) && !rf_config_get(&m, &cfg))
		c = &cfg;
	ret = rf_journal_read(ctx->state_dir, &j);
	if (ret && ret != -ENOENT)
		rf_warn("%s/journal is unreadable (%s): dropped", ctx->state_dir, strerror(-ret));
	if (!ret) {
		rf_boot_id(boot, sizeof(boot));
		op = json_string_value(json_object_get(j, "op")) ?: "";
		was = json_string_value(json_object_get(j, "boot_id")) ?: "";
		if (!strcmp(op, "isolate"))
			recover_isolate(ctx, j, c, !strcmp(boot, was));
		else if (!strcmp(op, "release"))
			recover_release(ctx, j, c, !strcmp(boot, was));
		else if (!strcmp(op, "confirm"))
			recover_confirm(ctx, j, c, !strcmp(boot, was));
		else if (!strcmp(op, "allow-add") || !strcmp(op, "allow-del"))
			recover_rule(ctx, j, &m, op[6] == 'a');
	}
	json_decref(j);
	if (ret != -ENOENT && !ctx->state_err)
		rf_svc_state_error(ctx, "the journal", rf_journal_clear(ctx->state_dir));
	lapsed = c && rf_svc_note_lapse(ctx, c);
	if (!lapsed && c && rf_svc_mode(c) != RF_SVC_OFF)
		adopt_kernel_mode(ctx, c);
	else if (!lapsed)
		note_lapse_while_down(ctx);
	rf_maps_close(&m);
}

void rf_svc_catch_up(struct rf_ctx *ctx)
{
	struct stat st;
	int lock;

	if (geteuid() || stat(ctx->state_dir, &st))
		return; /* nothing recorded to bring up to date, or not ours to write */
	lock = rf_state_trylock(ctx->state_dir);
	if (lock < 0)
		return; /* a command at work brings it up to date itself */
	rf_svc_recover(ctx);
	rf_state_unlock(lock);
}

/* Record an action of requestor in ctx's history (at time at, 0: now); the agent says it on
 * stderr too. */
static void restore_record(struct rf_ctx *ctx, const struct rf_restore *how, const char *type,
			   const char *comment, const char *error, __u64 at)
{
	struct rf_action a = {};

	snprintf(a.type, sizeof(a.type), "%s", type);
	snprintf(a.requestor, sizeof(a.requestor), "%s", how->requestor);
	snprintf(a.comment, sizeof(a.comment), "%s", comment);
	a.requested_unix_ns = a.completed_unix_ns = at;
	history_warning(ctx, rf_action_record(ctx->state_dir, &a, error));
	if (how->log)
		rf_err("%s: %s%s%s", type, comment, error ? ": " : "", error ? error : "");
}

/*
 * The record says isolated (or audit) but the very rf_config it last agreed with is off: another
 * agent released through the map (docs/ABI.md) while ours was not running. Not a reboot: the
 * record follows the kernel.
 */
static void note_release_while_down(struct rf_ctx *ctx, const struct rf_restore *how,
				    struct rf_isolation *iso)
{
	iso->isolated = iso->audit = false;
	iso->deadline_unix_ns = iso->confirm_unix_ns = iso->for_unix_ns = iso->remaining_ns = 0;
	rf_svc_state_error(ctx, "the isolation record", rf_isolation_save(ctx->state_dir, iso));
	restore_record(ctx, &(struct rf_restore){.requestor = "external", .log = how->log},
		       "external-release",
		       "rf_config was cleared outside the ringfence CLI while the agent was not "
		       "running (same boot, same map): not restored",
		       NULL, 0);
}

/* The record's deadline passed: it no longer says isolated, and the history says when it
 * passed (the deadline's time, not now). */
static void record_deadline_passed(struct rf_ctx *ctx, const struct rf_restore *how,
				   struct rf_isolation *iso, const char *boot, const char *why)
{
	bool pending = iso->confirm_unix_ns && iso->deadline_unix_ns == iso->confirm_unix_ns;
	__u64 at = rf_isolation_deadline_unix(iso, boot, rf_now_boot_ns(), rf_now_unix_ns());

	iso->isolated = iso->audit = false;
	iso->confirm_unix_ns = iso->for_unix_ns = iso->for_after_confirm_ns = 0;
	rf_svc_state_error(ctx, "the isolation record", rf_isolation_save(ctx->state_dir, iso));
	restore_record(ctx, how, pending ? "rolled-back" : "auto-release",
		       pending ? "not confirmed" : why, NULL, at);
}

/*
 * Nothing enforces the record (after a reboot, before the agent restored it, or without an
 * agent) and a synchronized clock says its deadline passed while the host was down: recorded
 * once, at the deadline, by whichever command looks first (the agent would not restore it).
 */
static void note_lapse_while_down(struct rf_ctx *ctx)
{
	struct rf_isolation iso;
	char boot[40] = "";

	rf_boot_id(boot, sizeof(boot));
	if (rf_isolation_load(ctx->state_dir, &iso) || (!iso.isolated && !iso.audit) ||
	    !rf_isolation_wall_passed(&iso, boot, rf_now_unix_ns(), rf_clock_synced()))
		return;
	record_deadline_passed(ctx, &(struct rf_restore){.requestor = "ringfence"}, &iso, boot,
			       "deadline passed while the host was down (by the synchronized wall "
			       "clock)");
}

int rf_svc_restore_isolation(struct rf_ctx *ctx, struct rf_maps *m, const struct rf_restore *how)
{
	struct rf_config_change c = {.fields = RF_CFG_F_ISOLATED | RF_CFG_F_SINCE |
					       RF_CFG_F_DEADLINE | RF_CFG_F_FLAGS,
				     .flags_mask = RF_CFG_AUDIT};
	struct rf_isolation iso;
	struct rf_config cfg;
	char boot[40] = "";
	__u64 left;
	int ret;

	if ((ret = rf_isolation_load(ctx->state_dir, &iso)) || (ret = rf_config_get(m, &cfg)))
		return ret;
	if (!iso.isolated && !iso.audit)
		return 0;
	if (rf_svc_mode(&cfg) != RF_SVC_OFF)
		return 1; /* in force already */
	if (rf_svc_note_lapse(ctx, &cfg))
		return 0; /* the kernel deadline passed while we watched */
	if (how->check_released && rf_svc_maps_seen(ctx, m)) {
		note_release_while_down(ctx, how, &iso);
		return 0;
	}
	rf_boot_id(boot, sizeof(boot));
	left = iso.deadline_unix_ns ? rf_isolation_left(&iso, boot, rf_now_boot_ns(),
							rf_now_unix_ns(), rf_clock_synced())
				    : 0;
	if (iso.deadline_unix_ns && !left) {
		record_deadline_passed(ctx, how, &iso, boot,
				       "deadline passed while nothing enforced it (the host was "
				       "down, or the programs not loaded)");
		return 0;
	}
	c.val.isolated = iso.isolated ? RF_ISOLATED : 0;
	c.val.flags = iso.audit && !iso.isolated ? RF_CFG_AUDIT : 0;
	c.val.since_unix_ns = iso.since_unix_ns;
	c.val.deadline_ns = left ? rf_now_boot_ns() + left : 0;
	ret = rf_config_update(m, &c, NULL);
	restore_record(ctx, how, iso.isolated ? "restore-isolation" : "restore-audit", iso.comment,
		       ret ? "cannot write rf_config" : NULL, 0);
	return ret ? ret : 1;
}

int rf_svc_wall_lapse(struct rf_ctx *ctx, struct rf_maps *m, const struct rf_restore *how)
{
	struct rf_config_change c = {.fields =
					 RF_CFG_F_ISOLATED | RF_CFG_F_DEADLINE | RF_CFG_F_FLAGS,
				     .flags_mask = RF_CFG_AUDIT};
	struct rf_isolation iso;
	struct rf_config cfg;
	char boot[40] = "";
	int ret;

	rf_boot_id(boot, sizeof(boot));
	if (rf_isolation_load(ctx->state_dir, &iso) || (!iso.isolated && !iso.audit) ||
	    rf_config_get(m, &cfg) || rf_svc_mode(&cfg) == RF_SVC_OFF ||
	    !rf_isolation_wall_passed(&iso, boot, rf_now_unix_ns(), rf_clock_synced()))
		return 0;
	ret = rf_config_update(m, &c, NULL); /* all zero: off, no deadline */
	if (ret)
		return ret;
	record_deadline_passed(ctx, how, &iso, boot,
			       "deadline passed while the host was down (by the synchronized "
			       "wall clock; restored until the clock was synchronized)");
	return 1;
}
