/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Target selectors: finding the cgroup v2 directory of a systemd unit, a container or a process.
 * Pure lookups over a cgroup tree rooted at a given directory (the cgroup2 mount, or a fake tree
 * in the unit tests) and over a /proc directory; nothing here prints or decides exit codes.
 *
 * Paths found are relative to the root and start with '/': "/system.slice/nginx.service", the
 * form that --cgroup accepts.
 */
#ifndef RF_TARGET_H
#define RF_TARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/*
 * Bounds of one search, so a huge or hostile tree cannot hang the CLI. Directories deeper than
 * max_depth below the root are not entered; the search stops after max_dirs directories or
 * max_entries directory entries (a cgroup directory lists ~10-100 interface files). A search
 * that hit a bound is incomplete: it can prove ambiguity but not uniqueness.
 */
struct rf_target_limits {
	unsigned int max_depth;
	unsigned long max_dirs;
	unsigned long max_entries;
};

/*
 * Delegated subtrees (a directory whose owner is not the root's, e.g. user@UID.service with
 * rootless Podman, and everything below it) are searched with bounds of their own, so their
 * owner cannot exhaust the search for the administrator's cgroups; and a match there counts
 * only when no cgroup of the root's owner matches (rf_target_found.ignored counts the others).
 */

/* 32 levels (Kubernetes pods sit at 4, user units at about 7), 100k cgroups, 20M entries. */
#define RF_TARGET_LIMITS_DEFAULT                                                                   \
	{                                                                                          \
		32, 100000, 20000000                                                               \
	}

#define RF_TARGET_MAX_MATCHES 64 /* matches kept (counted beyond) */
#define RF_TARGET_ID_MIN      4	 /* hex digits of the shortest container id prefix accepted */
#define RF_TARGET_ID_LEN      64 /* hex digits of a full container id */

/* What a search found. Free with rf_target_found_free(). */
struct rf_target_found {
	char *paths[RF_TARGET_MAX_MATCHES];   /* matches (malloc'd), sorted */
	size_t n;			      /* matches kept in paths */
	size_t total;			      /* matches found (may exceed n) */
	char *similar[RF_TARGET_MAX_MATCHES]; /* units: near misses (see rf_target_find_unit) */
	size_t nsimilar;
	unsigned long dirs; /* directories searched */
	bool incomplete;    /* a limit stopped the search */
	size_t ignored;	    /* matches in delegated subtrees, not counted (see below) */
};

void rf_target_found_free(struct rf_target_found *f);

/*
 * The unit name that `name` selects, into out: a name with a unit-type suffix (".service",
 * ".scope", ".slice", ...) as it is; without one, ".service" is appended, as systemctl does.
 * Escapes such as "\x2d" are part of the name and kept as written. 0, or -EINVAL for an empty
 * name, one with '/', control characters, "." or "..", or longer than a directory name.
 */
int rf_target_unit_name(const char *name, char *out, size_t len);

/*
 * Find the cgroups named like systemd unit `name` (rf_target_unit_name()) anywhere below root:
 * "/system.slice/NAME", "/user.slice/user-1000.slice/user@1000.service/app.slice/NAME", ...
 * Returns 0 for exactly one match (f->paths[0]); -ENOENT for none, with f->similar holding
 * units whose name equals `name` once their \xNN escapes are decoded ("foo-bar" for
 * "foo\x2dbar.service"); -ENOTUNIQ for several (f->paths); -E2BIG when a limit stopped the
 * search before it could tell; -EINVAL for a malformed name; another -errno when root cannot
 * be read. lim NULL: RF_TARGET_LIMITS_DEFAULT.
 */
int rf_target_find_unit(const char *root, const char *name, const struct rf_target_limits *lim,
			struct rf_target_found *f);

/*
 * The container id prefix that `id` gives, lower-cased into out (at least
 * RF_TARGET_ID_LEN + 1 bytes): RF_TARGET_ID_MIN to RF_TARGET_ID_LEN hex digits, optionally
 * after a runtime scheme as Kubernetes writes it ("containerd://ID", "cri-o://ID",
 * "docker://ID"). 0 or -EINVAL.
 */
int rf_target_container_id(const char *id, char *out, size_t len);

/*
 * The container id in a cgroup directory name, into id (RF_TARGET_ID_LEN + 1 bytes): the name
 * is ID, RUNTIME-ID or RUNTIME-ID.scope, with ID 64 hex digits and RUNTIME letters, digits, '-'
 * or '_' ("docker-ID.scope", "libpod-ID.scope", "cri-containerd-ID.scope", "crio-ID.scope",
 * "/docker/ID", "/kubepods/besteffort/podUID/ID"). Monitor scopes ("libpod-conmon-ID.scope",
 * "crio-conmon-ID.scope") are not containers. true when the name is a container's.
 */
bool rf_target_container_of(const char *name, char *id, size_t len);

/*
 * Find the cgroup of the container whose id is `id` or starts with it (rf_target_container_id())
 * anywhere below root. One container found in nested directories (Podman's
 * "libpod-ID.scope/container") counts once, as its outermost directory. Returns 0 for exactly
 * one container (f->paths[0]); -ENOENT for none; -ENOTUNIQ when several containers, or
 * unrelated directories of one id, match (f->paths lists them); -E2BIG, -EINVAL, -errno as
 * rf_target_find_unit().
 */
int rf_target_find_container(const char *root, const char *id, const struct rf_target_limits *lim,
			     struct rf_target_found *f);

/*
 * The cgroup v2 path in the text of a /proc/PID/cgroup file: the "0::PATH" line, into path.
 * 0; -ENOENT when there is no such line (a cgroup v1-only host); -EXDEV when the path leads
 * outside the reader's cgroup namespace ("/../.."); -ENAMETOOLONG; -EBADMSG for garbage
 * (no path, a relative one, or two "0::" lines).
 */
int rf_target_parse_proc_cgroup(const char *text, char *path, size_t len);

/*
 * The cgroup v2 path of process `pid` (decimal text) from PROC/PID/cgroup (proc NULL: "/proc").
 * 0; -EINVAL when pid is not a positive decimal number; -ESRCH when there is no such process;
 * otherwise as rf_target_parse_proc_cgroup() or the -errno of reading the file.
 */
int rf_target_pid_cgroup(const char *proc, const char *pid, char *path, size_t len);

/*
 * The directory name under <state>/targets of the target whose cgroup is `rel` (a path below the
 * cgroup2 mount, starting with '/'): the path without its leading '/', each '/' written '+',
 * '+', '%' and bytes outside [A-Za-z0-9._-] as %XX. "/system.slice/a b.service" is
 * "system.slice+a%20b.service"; "/" is "+". 0, or -ENAMETOOLONG / -EINVAL (not starting with '/').
 */
int rf_target_state_name(const char *rel, char *out, size_t len);

/* ---- a cgroup as a target: known by its id, never by the spelling of its path ---------------- */

/* A cgroup identified (rf_target_cgroup()). */
struct rf_cgroup_ref {
	__u64 id;	    /* the kernel's cgroup id (the directory's file handle) */
	char dir[PATH_MAX]; /* canonical directory: "/sys/fs/cgroup/system.slice/x.service" */
	char rel[PATH_MAX]; /* its path below the cgroup2 mount: "/system.slice/x.service", "/" */
};

/*
 * Where --cgroup SEL points, as a path to open, into out: SEL itself when it is absolute and at
 * or below the cgroup2 mount mnt, or an existing path elsewhere (a symlink into the tree, or a
 * directory that is then reported as no cgroup); otherwise SEL relative to mnt, with or without
 * its leading '/' ("/system.slice/x.service" and "system.slice/x.service" alike). 0, -EINVAL
 * (empty), -ENAMETOOLONG.
 */
int rf_target_cgroup_path(const char *mnt, const char *sel, char *out, size_t len);

/*
 * The absolute path `in` with "//", "/./" and a trailing '/' removed and each ".." taking off the
 * component before it (never above '/'), into out: how a cgroup that no longer exists is named.
 * "/a//b/./c/../" is "/a/b". 0, -EINVAL (not absolute), -ENAMETOOLONG.
 */
int rf_target_path_clean(const char *in, char *out, size_t len);

/*
 * Identify the cgroup that --cgroup SEL names (rf_target_cgroup_path()): the directory is opened
 * (symlinks followed), must be on the cgroup2 filesystem mounted at mnt, and its id and
 * canonical path come from the kernel, so "X", "X/", "X/." and a symlink to X are one cgroup and
 * "MNT//" is the root. 0; -ENOTDIR when it is no cgroup2 directory; -EXDEV when it is not below
 * mnt (another cgroup2 hierarchy or namespace); -ENOENT when it does not exist (or was removed
 * meanwhile); another -errno of opening it.
 */
int rf_target_cgroup(const char *mnt, const char *sel, struct rf_cgroup_ref *ref);

/*
 * Is cgroup `id` the cgroup at directory dir or one of its ancestors? Compared by id, walking
 * up from dir through the kernel's ".." to the top of the cgroup2 mount, so no spelling of a
 * path ("MNT/.", "X/..") can hide an ancestor. 1 yes, 0 no, -errno when dir cannot be opened.
 */
int rf_target_covers(const char *dir, __u64 id);

/*
 * A walk of a cgroup subtree (rf_cgroup_walk()): each cgroup, then each process in it, then
 * its children, depth first, at most max_depth levels below the top (names starting with '.'
 * and non-directories are passed over).
 */
struct rf_cgroup_walk {
	/* Each cgroup (may be NULL): false skips it, its processes and its subtree. *mark comes in
	 * as the parent's (0 at the top); what it is on return goes to the processes and children.
	 */
	bool (*cgroup)(const char *dir, int *mark, void *arg);
	/* Each pid in the cgroup's cgroup.procs, with its cgroup's mark; a negative return is
	 * remembered as the walk's result (the walk goes on). */
	int (*pid)(int pid, int mark, void *arg);
	void *arg;
	int max_depth;
};
/* Walk the subtree at dir as w says. 0, or the last negative value a callback returned. */
int rf_cgroup_walk(const char *dir, const struct rf_cgroup_walk *w);

/*
 * Run argv (argv[0] looked up in PATH) with stdin and stderr on /dev/null and its stdout into
 * out (NUL-terminated, cut at len - 1), for at most timeout_ms: how a selector asks systemd or
 * a container runtime. 0 when it exited 0; -ECHILD when it failed; -ETIMEDOUT (then it is
 * killed); another -errno.
 */
int rf_target_run(char *const argv[], char *out, size_t len, int timeout_ms);

/*
 * The cgroup of container id (64 lower-case hex digits) that cgroup path rel lies in: rel cut
 * after its outermost directory named for that id (rf_target_container_of()), into out.
 * "/machine.slice/libpod-ID.scope/container" gives "/machine.slice/libpod-ID.scope", as
 * --container selects it. 0; -ENOENT when no directory of rel is named for id; -EINVAL,
 * -ENAMETOOLONG.
 */
int rf_target_container_cgroup(const char *rel, const char *id, char *out, size_t len);

#endif /* RF_TARGET_H */
