// SPDX-License-Identifier: GPL-2.0-only
/* Loading, attaching and pinning the BPF object; probing the kernel; the state of the links. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "rf_loader.h"
#include "rf_util.h"
#include "ringfence.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define RF_PIN_CGROUP(label) "rf_link_" #label
#define RF_PIN_TC(label)     "rf_prog_" #label
#define RF_PIN_SHARED(label) "rf_prog_tc_egress" /* the program it runs in */
#define RF_X_HOOK(id, label, prog, kind)                                                           \
	[RF_HOOK_##id] = {#prog, RF_PIN_##kind(label), #label, RF_ATTACH_##kind},
const struct rf_hook_desc rf_hooks[RF_HOOK_MAX] = {RF_HOOK_LIST(RF_X_HOOK)};
#undef RF_X_HOOK

/*
 * The helpers the cgroup/setsockopt program calls. Before Linux 5.11 or so a sockopt program may
 * not call some of them (bpf_get_current_ancestor_cgroup_id on 5.10): there the program is left
 * out (the object loads without it) and multicast joins are not refused (THREAT-MODEL).
 */
static bool sockopt_helpers_ok(void)
{
	static const enum bpf_func_id ids[] = {
	    BPF_FUNC_get_current_ancestor_cgroup_id,
	    BPF_FUNC_get_current_cgroup_id,
	    BPF_FUNC_get_current_pid_tgid,
	    BPF_FUNC_get_current_uid_gid,
	    BPF_FUNC_get_current_comm,
	    BPF_FUNC_get_current_task,
	    BPF_FUNC_probe_read_kernel,
	    BPF_FUNC_probe_read_kernel_str,
	    BPF_FUNC_sk_storage_get,
	    BPF_FUNC_ringbuf_reserve,
	    BPF_FUNC_ktime_get_boot_ns,
	};
	static int cached = -1;
	size_t i;

	if (cached >= 0)
		return cached;
	cached = 1;
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCKOPT, ids[i], NULL) != 1)
			cached = 0;
	return cached;
}

bool rf_hook_available(enum rf_hook hook)
{
	return hook != RF_HOOK_SETSOCKOPT || sockopt_helpers_ok();
}

/* A cgroup hook this kernel runs: one link to attach and keep attached. */
static bool hook_has_link(int hook)
{
	return rf_hooks[hook].kind == RF_ATTACH_CGROUP && rf_hook_available((enum rf_hook)hook);
}

const char *rf_hook_name(unsigned int hook)
{
	return hook < RF_HOOK_MAX ? rf_hooks[hook].label : "unknown";
}

static bool verbose_libbpf;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level != LIBBPF_WARN && !verbose_libbpf)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

void rf_hook_pin_path(char *buf, size_t len, const char *pin_dir, enum rf_hook hook)
{
	pin_path(buf, len, pin_dir, rf_hooks[hook].pin);
}

/* statfs() of the first existing directory at or above path; 0 or -errno. */
static int statfs_existing(const char *path, char *dir, size_t dirlen, struct statfs *sfs)
{
	snprintf(dir, dirlen, "%s", path);
	while (statfs(dir, sfs)) {
		char *slash = strrchr(dir, '/');

		if (errno != ENOENT || !slash || slash == dir)
			return -errno;
		*slash = '\0';
	}
	return 0;
}

/* Mount bpffs on /sys/fs/bpf if pin_dir is below it and nothing is mounted there yet. */
static void mount_default_bpffs(const char *pin_dir)
{
	size_t n = strlen(RF_BPFFS_DEFAULT);
	struct statfs sfs;

	if (strncmp(pin_dir, RF_BPFFS_DEFAULT, n) || (pin_dir[n] != '/' && pin_dir[n] != '\0'))
		return;
	if (statfs(RF_BPFFS_DEFAULT, &sfs) || (__u32)sfs.f_type == BPF_FS_MAGIC)
		return;
	if (mount("bpf", RF_BPFFS_DEFAULT, "bpf", 0, "mode=0700"))
		rf_warn("cannot mount bpffs on %s: %s", RF_BPFFS_DEFAULT, strerror(errno));
}

int rf_check_bpffs(const char *pin_dir, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct statfs sfs;
	int ret;

	mount_default_bpffs(pin_dir);
	ret = statfs_existing(pin_dir, dir, sizeof(dir), &sfs);
	if (ret) {
		snprintf(err, errlen, "cannot inspect pin dir %s: %s", pin_dir, strerror(-ret));
		return -ENOENT;
	}
	/* f_type is an int on 32-bit arches, where the magic does not fit */
	if ((__u32)sfs.f_type != BPF_FS_MAGIC) {
		snprintf(
		    err, errlen,
		    "%s is not on a BPF filesystem: mount one with 'mount -t bpf bpf /sys/fs/bpf' "
		    "or choose another --pin-dir",
		    dir);
		return -ENOTSUP;
	}
	return 0;
}

int rf_probe_kernel(const char *btf, char *err, size_t errlen)
{
	static int cached = 1;

	if (btf && access(btf, R_OK)) {
		snprintf(err, errlen, "cannot read the BTF file %s (--btf, config 'btf'): %s", btf,
			 strerror(errno));
		return -errno;
	}
	if (cached <= 0)
		return cached;
	if (!btf && access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(
		    err, errlen,
		    "kernel BTF (/sys/kernel/btf/vmlinux) is missing: use a kernel built with "
		    "CONFIG_DEBUG_INFO_BTF=y, or give ringfence a BTF file for this kernel with "
		    "--btf FILE (config 'btf FILE'), made from the kernel's vmlinux with "
		    "'pahole --btf_encode_detached FILE vmlinux' (see README 'Requirements')");
		return cached = -ENOTSUP;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		snprintf(err, errlen,
			 "the kernel lacks BPF ring buffers (needs Linux 5.8 or later)");
		return cached = -ENOTSUP;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL) != 1) {
		snprintf(err, errlen,
			 "the kernel lacks BPF socket storage (needs Linux 5.2 or later)");
		return cached = -ENOTSUP;
	}
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_current_task,
				    NULL) != 1) {
		snprintf(err, errlen,
			 "the kernel does not allow bpf_get_current_task() in cgroup programs "
			 "(needs Linux 5.10 or later, and CAP_BPF + CAP_PERFMON: run as root)");
		return cached = -ENOTSUP;
	}
	return cached = 0;
}

static int link_cgroup(int fd, struct rf_link_state *st)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	st->prog_id = info.prog_id;
	st->cgroup_id = info.cgroup.cgroup_id;
	/* a link whose cgroup went away reports cgroup id 0: it enforces nothing */
	st->attached = info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id != 0;
	return 0;
}

void rf_links_state(const char *pin_dir, struct rf_link_state *st)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < RF_HOOK_MAX; i++) {
		int fd;

		memset(&st[i], 0, sizeof(st[i]));
		if (!hook_has_link((int)i))
			continue;
		rf_hook_pin_path(path, sizeof(path), pin_dir, (enum rf_hook)i);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		link_cgroup(fd, &st[i]);
		close(fd);
	}
}

bool rf_pins_present(const char *pin_dir)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < rf_nr_maps; i++) {
		pin_path(path, sizeof(path), pin_dir, rf_map_names[i]);
		if (!access(path, F_OK))
			return true;
	}
	for (i = 0; i < RF_HOOK_MAX; i++) {
		rf_hook_pin_path(path, sizeof(path), pin_dir, (enum rf_hook)i);
		if (!access(path, F_OK))
			return true;
	}
	return false;
}

/* How many cgroup hooks need attaching; -EBUSY (err set) if one is attached elsewhere. */
static int links_missing(const struct rf_load_opts *o, const struct rf_link_state *st, char *err,
			 size_t errlen)
{
	int i, missing = 0;

	for (i = 0; i < RF_HOOK_MAX; i++) {
		if (!hook_has_link(i))
			continue;
		if (!st[i].attached) {
			missing++;
			continue;
		}
		if (st[i].cgroup_id != o->cgroup_id) {
			snprintf(
			    err, errlen,
			    "ringfence is already attached to another cgroup (id %llu), not %s: "
			    "use that --cgroup, or run 'ringfence unload' first",
			    (unsigned long long)st[i].cgroup_id, o->cgroup_dir);
			return -EBUSY;
		}
	}
	return missing;
}

/* Open the object, scope it to the target cgroup and point its maps at the pins. */
static int open_object(const struct rf_load_opts *o, struct ringfence_bpf **out, char *err,
		       size_t errlen)
{
	struct ringfence_bpf *skel;
	struct bpf_map *map;
	char path[PATH_MAX], mnt[PATH_MAX];
	int ret, level = 0;

	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = o->btf);

	skel = ringfence_bpf__open_opts(&open_opts);
	if (!skel) {
		ret = -errno;
		snprintf(err, errlen, "failed to open BPF object: %s", strerror(-ret));
		return ret;
	}
	*out = skel;
	/* scope the tc layer to the target cgroup: its id and depth below the cgroup2 root */
	if (!rf_cgroup2_mount(mnt, sizeof(mnt)))
		level = rf_cgroup_level(mnt, o->cgroup_dir);
	if (!rf_hook_available(RF_HOOK_SETSOCKOPT))
		bpf_program__set_autoload(skel->progs.rf_setsockopt, false);
	skel->rodata->rf_target_cgid = o->cgroup_id;
	skel->rodata->rf_target_level = level > 0 ? (__u32)level : 0;
	/* reuse existing pinned maps so rules and the isolation flag survive a reload */
	bpf_object__for_each_map(map, skel->obj)
	{
		if (bpf_map__is_internal(map))
			continue; /* .rodata is per load, not shared state */
		pin_path(path, sizeof(path), o->pin_dir, bpf_map__name(map));
		ret = bpf_map__set_pin_path(map, path);
		if (ret) {
			snprintf(err, errlen, "failed to set pin path %s: %s", path,
				 strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Stamp the ABI version (and default built-ins into a new map) without touching the rest. */
static int stamp_config(struct ringfence_bpf *skel, char *err, size_t errlen)
{
	struct rf_config cfg = {};
	__u32 zero = 0;
	int fd = bpf_map__fd(skel->maps.rf_config);

	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		goto fail;
	if (cfg.abi_version == RF_ABI_VERSION)
		return 0;
	cfg.abi_version = RF_ABI_VERSION;
	if (!cfg.isolated && !cfg.builtins)
		cfg.builtins = RF_BUILTIN_ALL;
	if (!bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY))
		return 0;
fail:
	snprintf(err, errlen, "failed to initialise rf_config: %s", strerror(errno));
	return -errno;
}

/* Pin the tc program, which is attached per interface (rf_tc_attach_all). */
static int pin_tc_program(struct ringfence_bpf *skel, const char *pin_dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret;

	rf_hook_pin_path(path, sizeof(path), pin_dir, RF_HOOK_TC_EGRESS);
	unlink(path);
	ret = bpf_program__pin(skel->progs.rf_tc_egress, path);
	if (ret)
		snprintf(err, errlen, "failed to pin %s: %s", path, strerror(-ret));
	return ret;
}

/* Attach one cgroup hook and pin its link; a stale pin is replaced only after the attach. */
static int attach_hook(struct ringfence_bpf *skel, enum rf_hook hook, int cgfd,
		       const struct rf_load_opts *o, char *err, size_t errlen)
{
	const struct rf_hook_desc *h = &rf_hooks[hook];
	struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, h->prog);
	struct bpf_link *link;
	char path[PATH_MAX];
	int ret;

	if (!prog) {
		snprintf(err, errlen, "program %s missing from the object", h->prog);
		return -ENOENT;
	}
	link = bpf_program__attach_cgroup(prog, cgfd);
	if (!link) {
		ret = -errno;
		snprintf(err, errlen, "failed to attach %s to %s: %s", h->label, o->cgroup_dir,
			 strerror(-ret));
		return ret;
	}
	rf_hook_pin_path(path, sizeof(path), o->pin_dir, hook);
	unlink(path);
	ret = bpf_link__pin(link, path);
	if (ret)
		snprintf(err, errlen, "failed to pin link %s: %s", path, strerror(-ret));
	else
		bpf_link__disconnect(link); /* the pin keeps it attached */
	bpf_link__destroy(link);
	return ret;
}

static int attach_missing(struct ringfence_bpf *skel, const struct rf_link_state *st,
			  const struct rf_load_opts *o, char *err, size_t errlen)
{
	int cgfd, i, ret = 0;

	cgfd = open(o->cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "failed to open cgroup %s: %s", o->cgroup_dir,
			 strerror(-ret));
		return ret;
	}
	for (i = 0; i < RF_HOOK_MAX && !ret; i++)
		if (hook_has_link(i) && !st[i].attached)
			ret = attach_hook(skel, (enum rf_hook)i, cgfd, o, err, errlen);
	close(cgfd);
	return ret;
}

int rf_load(const struct rf_load_opts *o, char *err, size_t errlen)
{
	struct rf_link_state st[RF_HOOK_MAX];
	struct ringfence_bpf *skel = NULL;
	int ret;

	verbose_libbpf = o->verbose;
	libbpf_set_print(libbpf_print);
	rf_links_state(o->pin_dir, st);
	ret = links_missing(o, st, err, errlen);
	if (ret <= 0)
		return ret; /* an error, or already loaded and attached: adopt */
	if ((ret = rf_probe_kernel(o->btf, err, errlen)) ||
	    (ret = rf_check_bpffs(o->pin_dir, err, errlen)))
		return ret;
	ret = rf_mkdir_p(o->pin_dir, 0700);
	if (ret) {
		snprintf(err, errlen, "failed to create pin dir %s: %s", o->pin_dir,
			 strerror(-ret));
		return ret;
	}
	ret = open_object(o, &skel, err, errlen);
	if (!ret && (ret = ringfence_bpf__load(skel)))
		snprintf(
		    err, errlen,
		    "failed to load BPF programs: %s (run with -v for the verifier log; if pinned "
		    "maps from another ringfence version exist, 'ringfence unload' first)%s%s%s",
		    strerror(-ret), o->btf ? "; is the BTF file " : "", o->btf ? o->btf : "",
		    o->btf ? " (--btf) a valid BTF of this kernel?" : "");
	if (!ret)
		ret = stamp_config(skel, err, errlen);
	if (!ret)
		ret = pin_tc_program(skel, o->pin_dir, err, errlen);
	if (!ret)
		ret = attach_missing(skel, st, o, err, errlen);
	ringfence_bpf__destroy(skel);
	return ret;
}

int rf_unload(const char *pin_dir)
{
	char path[PATH_MAX];
	size_t i;
	int ret = 0;

	for (i = 0; i < RF_HOOK_MAX; i++) {
		int fd;

		rf_hook_pin_path(path, sizeof(path), pin_dir, (enum rf_hook)i);
		/*
		 * Detach before unpinning: the kernel releases a link whose last reference goes
		 * away in deferred work, so without this the program could still run for a moment
		 * after 'unload' has returned.
		 */
		fd = rf_hooks[i].kind == RF_ATTACH_CGROUP ? bpf_obj_get(path) : -1;
		if (fd >= 0) {
			bpf_link_detach(fd);
			close(fd);
		}
		if (unlink(path) && errno != ENOENT)
			ret = -errno;
	}
	for (i = 0; i < rf_nr_maps; i++) {
		pin_path(path, sizeof(path), pin_dir, rf_map_names[i]);
		if (unlink(path) && errno != ENOENT)
			ret = -errno;
	}
	if (rmdir(pin_dir) && errno != ENOENT && errno != ENOTEMPTY)
		ret = -errno;
	return ret;
}
