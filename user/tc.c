// SPDX-License-Identifier: GPL-2.0-only
/* The packet-socket guard's tc egress filters, through libbpf's netlink helpers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "rf_target.h"
#include "rf_tc.h"
#include "rf_util.h"

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

static void tc_hook_at(struct bpf_tc_hook *h, int ifindex, enum bpf_tc_attach_point point)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifindex;
	h->attach_point = point;
}

static void tc_hook_for(struct bpf_tc_hook *h, int ifindex)
{
	tc_hook_at(h, ifindex, BPF_TC_EGRESS);
}

/* Is the filter `handle` on this interface's hook `point`? Its program id into *prog_id. */
static bool tc_present_at(int ifindex, __u32 handle, __u32 *prog_id, enum bpf_tc_attach_point point)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = handle, .priority = RF_TC_PRIO);
	libbpf_print_fn_t old = libbpf_set_print(quiet_print); /* "no qdisc" is an answer here */
	struct bpf_tc_hook h;
	int ret;

	tc_hook_at(&h, ifindex, point);
	ret = bpf_tc_query(&h, &o);
	libbpf_set_print(old);
	if (prog_id)
		*prog_id = ret == 0 ? o.prog_id : 0;
	return ret == 0;
}

/* Is the filter `handle` on this interface's egress? Its program id into *prog_id (if set). */
static bool tc_present(int ifindex, __u32 handle, __u32 *prog_id)
{
	return tc_present_at(ifindex, handle, prog_id, BPF_TC_EGRESS);
}

static void append_name(char *names, size_t nameslen, const char *name)
{
	if (names && strlen(names) + strlen(name) + 2 < nameslen) {
		strcat(names, names[0] ? " " : "");
		strcat(names, name);
	}
}

static int attach_one_at(int ifindex, int prog, __u32 handle, enum bpf_tc_attach_point point)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = handle, .priority = RF_TC_PRIO,
			    .prog_fd = prog, .flags = BPF_TC_F_REPLACE);
	libbpf_print_fn_t old_print;
	struct bpf_tc_hook h;
	int err;

	tc_hook_at(&h, ifindex, point);
	/*
	 * An existing clsact qdisc is fine (libbpf would log "Exclusivity flag on"). It is left in
	 * place on detach: other tools' filters may hang off it, and an empty clsact costs nothing.
	 */
	old_print = libbpf_set_print(quiet_print);
	err = bpf_tc_hook_create(&h);
	libbpf_set_print(old_print);
	if (err && err != -EEXIST)
		return err;
	h.attach_point = point; /* the clsact qdisc serves both points */
	return bpf_tc_attach(&h, &o);
}

static int attach_one(int ifindex, int prog, __u32 handle)
{
	return attach_one_at(ifindex, prog, handle, BPF_TC_EGRESS);
}

/* Is program id one of ringfence's tc programs (of any version or target)? */
static bool prog_is_ours(__u32 id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	_cleanup_close_ int fd = bpf_prog_get_fd_by_id(id);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       (!strcmp(info.name, "rf_tc_egress") || !strcmp(info.name, "rf_tc_ingress") ||
		!strcmp(info.name, "rf_tcns_egress") || !strcmp(info.name, "rf_tcns_ingress"));
}

/*
 * Attach on one interface unless the filter `handle` runs our program already (0). A filter of
 * ours with another program (an earlier load of this target) is replaced; one of another tool
 * that happens to have our handle is left alone: -EEXIST. 1 when attached.
 */
static int attach_if_needed(int ifindex, int prog, __u32 prog_id, __u32 handle)
{
	__u32 id;
	int err;

	if (tc_present(ifindex, handle, &id) && id == prog_id)
		return 0;
	if (id && !prog_is_ours(id))
		return -EEXIST;
	err = attach_one(ifindex, prog, handle);
	return err ? err : 1;
}

/* The program pinned at path and its id: the fd, or -errno. */
static int prog_and_id(const char *path, __u32 *id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	_cleanup_close_ int fd = bpf_obj_get(path);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*id = info.id;
	return TAKE_FD(fd);
}

/* prog_pin with the last `from` in its file name replaced by `to`, into buf. */
static void pin_beside(char *buf, size_t len, const char *prog_pin, const char *from,
		       const char *to)
{
	const char *slash = strrchr(prog_pin, '/'), *base = slash ? slash + 1 : prog_pin;
	const char *at = strstr(base, from);

	if (!at)
		snprintf(buf, len, "%s", prog_pin);
	else
		snprintf(buf, len, "%.*s%s%s", (int)(at - prog_pin), prog_pin, to,
			 at + strlen(from));
}

/* The ICMP-error program pinned beside the egress one (rf_prog_tc_ingress for
 * rf_prog_tc_egress, rf_prog_tcns_ingress for rf_prog_tcns_egress). */
static int ingress_prog_beside(const char *prog_pin, __u32 *id)
{
	char path[PATH_MAX];

	pin_beside(path, sizeof(path), prog_pin, "egress", "ingress");
	return prog_and_id(path, id);
}

/* The ingress filter `handle` on ifindex, as attach_if_needed() does at egress. */
static int attach_ingress_if_needed(int ifindex, int prog, __u32 prog_id, __u32 handle)
{
	__u32 id;
	int err;

	if (tc_present_at(ifindex, handle, &id, BPF_TC_INGRESS) && id == prog_id)
		return 0;
	if (id && !prog_is_ours(id))
		return -EEXIST;
	err = attach_one_at(ifindex, prog, handle, BPF_TC_INGRESS);
	return err ? err : 1;
}

/* Egress (the guard and the wall) and ingress (ICMP errors) on one interface: as attach_if_needed;
 * the ingress program only where pinned (in_prog >= 0) and the egress filter is ours. */
static int attach_both(const char *ifname, int ifindex, int prog, __u32 id, int in_prog,
		       __u32 in_id, __u32 handle)
{
	int err = attach_if_needed(ifindex, prog, id, handle), ierr = 0;

	if (err >= 0 && in_prog >= 0)
		ierr = attach_ingress_if_needed(ifindex, in_prog, in_id, handle);
	if (err == -EEXIST || ierr == -EEXIST)
		fprintf(stderr,
			"ringfence: warning: tc %s filter prio %d handle 0x%x on %s belongs to "
			"another program: the packet guard is not on %s\n",
			err == -EEXIST ? "egress" : "ingress", RF_TC_PRIO, handle, ifname, ifname);
	return err < 0 ? err : ierr < 0 ? ierr : err;
}

int rf_tc_attach_all(const char *prog_pin, __u32 handle, char *names, size_t nameslen)
{
	struct if_nameindex *ifs, *i;
	__u32 id = 0, in_id = 0;
	_cleanup_close_ int prog = -1, in_prog = -1;
	int n = 0, ret = 0;

	if (names && nameslen)
		names[0] = '\0';
	prog = prog_and_id(prog_pin, &id);
	if (prog < 0)
		return prog;
	in_prog = ingress_prog_beside(prog_pin, &in_id);
	ifs = if_nameindex();
	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++) {
		int err;

		if (!strcmp(i->if_name, "lo"))
			continue;
		err = attach_both(i->if_name, (int)i->if_index, prog, id, in_prog, in_id, handle);
		if (err < 0) {
			ret = err;
			continue;
		}
		if (err > 0) {
			n++;
			append_name(names, nameslen, i->if_name);
		}
	}
	if_freenameindex(ifs);
	return ret ? ret : n;
}

int rf_tc_replace_prog(__u32 handle, __u32 old_id, int prog_fd)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int n = 0, ret = 0;
	__u32 id;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = handle, .priority = RF_TC_PRIO,
				    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
		struct bpf_tc_hook h;
		int err;

		if (!tc_present((int)i->if_index, handle, &id) || id != old_id)
			continue;
		tc_hook_for(&h, (int)i->if_index);
		err = bpf_tc_attach(&h, &o);
		if (err)
			ret = ret ? ret : err;
		else
			n++;
	}
	if_freenameindex(ifs);
	return ret ? ret : n;
}

static void detach_one(int ifindex, __u32 handle)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = handle, .priority = RF_TC_PRIO);
	struct bpf_tc_hook h;

	tc_hook_for(&h, ifindex);
	bpf_tc_detach(&h, &o);
}

__u32 rf_pinned_prog_id(const char *path)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	_cleanup_close_ int fd = path ? bpf_obj_get(path) : -1;

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

void rf_tc_detach_all(__u32 handle, const char *prog_pin)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	__u32 ours = rf_pinned_prog_id(prog_pin), id;

	if (!ifs)
		return;
	for (i = ifs; i->if_index; i++) {
		if (tc_present((int)i->if_index, handle, &id) && prog_is_ours(id))
			detach_one((int)i->if_index, handle);
		if (tc_present_at((int)i->if_index, handle, &id, BPF_TC_INGRESS) &&
		    prog_is_ours(id)) {
			DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = handle,
					    .priority = RF_TC_PRIO);
			struct bpf_tc_hook h;

			tc_hook_at(&h, (int)i->if_index, BPF_TC_INGRESS);
			bpf_tc_detach(&h, &o);
		}
		if (ours && handle != RF_TC_HANDLE_LEGACY &&
		    tc_present((int)i->if_index, RF_TC_HANDLE_LEGACY, &id) && id == ours)
			detach_one((int)i->if_index, RF_TC_HANDLE_LEGACY);
	}
	if_freenameindex(ifs);
}

int rf_tc_for_each(__u32 handle, void (*fn)(const char *ifname, void *arg), void *arg)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int n = 0;

	if (!ifs)
		return 0;
	for (i = ifs; i->if_index; i++) {
		__u32 id;

		if (!tc_present((int)i->if_index, handle, &id) || !prog_is_ours(id))
			continue;
		n++;
		if (fn)
			fn(i->if_name, arg);
	}
	if_freenameindex(ifs);
	return n;
}

/* Network namespaces (device, inode of /proc/PID/ns/net) already handled in one walk. */
struct ns_seen {
	dev_t dev[RF_TC_MAX_NETNS];
	ino_t ino[RF_TC_MAX_NETNS];
	int n;
};

/* A network namespace in use, from one scan of /proc: is it used by a process of the target,
 * by one outside it? */
struct ns_use {
	dev_t dev;
	ino_t ino;
	pid_t pid; /* a process of the target in it */
	bool target, foreign;
};

static struct ns_use ns_use[RF_TC_MAX_NETNS];
static int n_ns_use;

/* Is process pid in cgroup directory cg_dir (under the cgroup2 mount mnt) or below? */
static bool pid_in_cgroup(pid_t pid, const char *mnt, const char *cg_dir)
{
	char path[64], line[PATH_MAX], full[2 * PATH_MAX];
	size_t n = strlen(cg_dir);
	bool in = false;
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(full, sizeof(full), "%s%s", mnt, strcmp(line + 3, "/") ? line + 3 : "");
		in = !strncmp(full, cg_dir, n) && (full[n] == '\0' || full[n] == '/');
	}
	return in;
}

/*
 * Scan /proc once: every network namespace in use, and whether processes of cg_dir (or below)
 * and processes outside it use it. Without the cgroup2 mount nothing is recorded (every
 * namespace then gets the scoped programs, as before).
 */
static void scan_ns_use(const char *cg_dir)
{
	char mnt[PATH_MAX], path[64];
	struct dirent *de;
	_cleanup_closedir_ DIR *d = NULL;

	n_ns_use = 0;
	if (rf_cgroup2_mount(mnt, sizeof(mnt)) || !(d = opendir("/proc")))
		return;
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		struct stat st;
		bool in;
		int i;

		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
		if (pid <= 0 || stat(path, &st))
			continue;
		in = pid_in_cgroup(pid, mnt, cg_dir);
		for (i = 0; i < n_ns_use; i++)
			if (ns_use[i].dev == st.st_dev && ns_use[i].ino == st.st_ino)
				break;
		if (i == n_ns_use) {
			if (n_ns_use == RF_TC_MAX_NETNS)
				continue;
			ns_use[n_ns_use++] = (struct ns_use){.dev = st.st_dev, .ino = st.st_ino};
		}
		if (in && !ns_use[i].target)
			ns_use[i].pid = pid;
		ns_use[i].target |= in;
		ns_use[i].foreign |= !in;
	}
}

/* Does only the target use the namespace (dev, ino), as the last scan_ns_use() saw it? */
static bool ns_owned(dev_t dev, ino_t ino)
{
	int i;

	for (i = 0; i < n_ns_use; i++)
		if (ns_use[i].dev == dev && ns_use[i].ino == ino)
			return ns_use[i].target && !ns_use[i].foreign;
	return false;
}

int rf_tc_netns_modes(const char *cg_dir,
		      void (*fn)(unsigned long netns, int pid, bool owned, void *arg), void *arg)
{
	int i, n = 0;

	scan_ns_use(cg_dir);
	for (i = 0; i < n_ns_use; i++) {
		if (!ns_use[i].target)
			continue;
		n++;
		if (fn)
			fn((unsigned long)ns_use[i].ino, (int)ns_use[i].pid, !ns_use[i].foreign,
			   arg);
	}
	return n;
}

/* Attach in the namespace of pid unless seen; a forked child enters it, so this process stays
 * where it is. In a namespace only the target uses, the programs that judge every packet
 * (rf_prog_tcns_*, beside prog_pin) go in instead, at the same handle (one replace, no gap).
 * Returns 1 if attached there, 0 if seen or gone, -errno on failure. */
static int attach_in_netns_of(const char *prog_pin, __u32 handle, pid_t pid, struct ns_seen *seen)
{
	char path[64], own[PATH_MAX];
	struct stat st;
	pid_t child;
	_cleanup_close_ int fd = -1;
	int i, status;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat(path, &st))
		return 0; /* the process is gone */
	for (i = 0; i < seen->n; i++)
		if (seen->dev[i] == st.st_dev && seen->ino[i] == st.st_ino)
			return 0;
	if (seen->n == RF_TC_MAX_NETNS)
		return -E2BIG;
	seen->dev[seen->n] = st.st_dev;
	seen->ino[seen->n++] = st.st_ino;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	pin_beside(own, sizeof(own), prog_pin, "rf_prog_tc_", "rf_prog_tcns_");
	if (ns_owned(st.st_dev, st.st_ino) && !access(own, F_OK))
		prog_pin = own;
	child = fork();
	if (child == 0)
		_exit(setns(fd, CLONE_NEWNET) || rf_tc_attach_all(prog_pin, handle, NULL, 0) < 0
			  ? 1
			  : 0);
	if (child < 0)
		return -errno;
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		return -EIO;
	return 1;
}

struct netns_walk {
	const char *prog_pin;
	__u32 handle;
	struct ns_seen *seen;
};

/* A pid of the target's subtree: attach in its namespace. */
static int attach_for_pid(int pid, int mark, void *arg)
{
	struct netns_walk *nw = arg;

	(void)mark;
	return attach_in_netns_of(nw->prog_pin, nw->handle, pid, nw->seen);
}

int rf_tc_attach_cgroup_netns(const char *prog_pin, __u32 handle, const char *cg_dir, bool self)
{
	static struct ns_seen seen;
	struct stat own;

	seen.n = 0;
	scan_ns_use(cg_dir);
	/* the caller's own namespace is rf_tc_attach_all()'s */
	if (!self && !stat("/proc/self/ns/net", &own)) {
		seen.dev[0] = own.st_dev;
		seen.ino[0] = own.st_ino;
		seen.n = 1;
	}
	return rf_cgroup_walk(
	    cg_dir, &(struct rf_cgroup_walk){.pid = attach_for_pid,
					     .arg = &(struct netns_walk){prog_pin, handle, &seen},
					     .max_depth = 32});
}
