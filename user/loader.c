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
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "rf_build_id.h"
#include "rf_loader.h"
#include "rf_net_index.h"
#include "rf_util.h"
#include "ringfence.skel.h"
#include "ringfence_nokf.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define RF_KERNEL_BTF	"/sys/kernel/btf/vmlinux"
#define RF_MAX_OBJ_MAPS 32 /* maps in the object, .rodata included */

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
	if (!btf && access(RF_KERNEL_BTF, R_OK)) {
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

static bool any_attached(const struct rf_link_state *st)
{
	int i;

	for (i = 0; i < RF_HOOK_MAX; i++)
		if (hook_has_link(i) && st[i].attached)
			return true;
	return false;
}

/* A narrower target's maps: allocated on insert, a smaller event ring buffer. */
static int set_lean(struct ringfence_bpf *skel, char *err, size_t errlen)
{
	struct bpf_map *hashes[] = {skel->maps.rf_allow_exe_v2, skel->maps.rf_allow_exe_v3,
				    skel->maps.rf_allow_cgroup, skel->maps.rf_dhcp_server};
	size_t i;
	int ret = bpf_map__set_max_entries(skel->maps.rf_events, RF_EVENTS_RINGBUF_SIZE_TARGET);

	if (!ret) /* its buckets are allocated up front: 64 KiB instead of 4 MiB */
		ret = bpf_map__set_max_entries(skel->maps.rf_net_hash, RF_NET_HASH_MAX_TARGET);

	for (i = 0; !ret && i < sizeof(hashes) / sizeof(hashes[0]); i++)
		ret = bpf_map__set_map_flags(hashes[i],
					     bpf_map__map_flags(hashes[i]) | BPF_F_NO_PREALLOC);
	if (ret)
		snprintf(err, errlen, "failed to size the target's maps: %s", strerror(-ret));
	return ret;
}

/* The verdict cache's memo (bpf/cache.bpf.h): RF_MEMO_WAYS entries (the object's size) per CPU. */
static int size_flow_memo(struct ringfence_bpf *skel, char *err, size_t errlen)
{
	int cpus = libbpf_num_possible_cpus(), ret;

	if (cpus <= 0) {
		snprintf(err, errlen, "failed to count the possible CPUs: %s", strerror(-cpus));
		return cpus < 0 ? cpus : -EINVAL;
	}
	ret = bpf_map__set_max_entries(skel->maps.rf_flow_memo,
				       bpf_map__max_entries(skel->maps.rf_flow_memo) * cpus);
	if (ret)
		snprintf(err, errlen, "failed to size rf_flow_memo: %s", strerror(-ret));
	return ret;
}

/*
 * ringfence_bpf__open_opts(), with the object built without a kfunc where the kernel has no BTF
 * of its own: libbpf needs the kernel's BTF for any kfunc, even a weak one that is never called,
 * and no --btf file stands in for it there. Same programs, maps and .rodata, so the skeleton
 * of one serves the other.
 */
_Static_assert(sizeof(struct ringfence_bpf) == sizeof(struct ringfence_nokf_bpf) &&
		   sizeof(*((struct ringfence_bpf *)0)->rodata) ==
		       sizeof(*((struct ringfence_nokf_bpf *)0)->rodata),
	       "the two objects must have the same programs, maps and .rodata");

static struct ringfence_bpf *open_skeleton(const struct bpf_object_open_opts *opts)
{
	struct ringfence_bpf *skel;
	int err;

	if (!access(RF_KERNEL_BTF, R_OK))
		return ringfence_bpf__open_opts(opts);
	skel = calloc(1, sizeof(*skel));
	if (!skel)
		return NULL;
	err = ringfence_bpf__create_skeleton(skel);
	if (!err) {
		skel->skeleton->data = ringfence_nokf_bpf__elf_bytes(&skel->skeleton->data_sz);
		err = bpf_object__open_skeleton(skel->skeleton, opts);
	}
	if (err) {
		ringfence_bpf__destroy(skel);
		errno = -err;
		return NULL;
	}
	return skel;
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

	skel = open_skeleton(&open_opts);
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
	if (o->lean && (set_lean(skel, err, errlen)))
		return -EINVAL;
	if ((ret = size_flow_memo(skel, err, errlen)))
		return ret;
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

/* Stamp the ABI version (and default built-ins into a new map) through the one rf_config writer. */
static int stamp_config(struct ringfence_bpf *skel, char *err, size_t errlen)
{
	struct rf_maps m = RF_MAPS_INIT;
	struct rf_config_change c = {.fields = RF_CFG_F_ABI, .val.abi_version = RF_ABI_VERSION};
	struct rf_config cfg = {};
	int ret;

	m.config = bpf_map__fd(skel->maps.rf_config);
	ret = rf_config_get(&m, &cfg);
	if (!ret && cfg.abi_version == RF_ABI_VERSION)
		return 0;
	if (!ret && !cfg.abi_version && !cfg.isolated && !cfg.builtins) {
		c.fields |= RF_CFG_F_BUILTINS; /* a new map */
		c.val.builtins = RF_BUILTIN_ALL;
	}
	if (!ret)
		ret = rf_config_update(&m, &c, NULL);
	if (ret)
		snprintf(err, errlen, "failed to write rf_config.abi_version: %s", strerror(-ret));
	return ret;
}

/* Pin the tc programs (every RF_ATTACH_TC hook), attached per interface (rf_tc_attach_all). */
static int pin_tc_program(struct ringfence_bpf *skel, const char *pin_dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t i;
	int ret = 0;

	for (i = 0; i < RF_HOOK_MAX && !ret; i++) {
		struct bpf_program *prog;

		if (rf_hooks[i].kind != RF_ATTACH_TC)
			continue;
		prog = bpf_object__find_program_by_name(skel->obj, rf_hooks[i].prog);
		rf_hook_pin_path(path, sizeof(path), pin_dir, (enum rf_hook)i);
		unlink(path);
		ret = prog ? bpf_program__pin(prog, path) : -ENOENT;
		if (ret)
			snprintf(err, errlen, "failed to pin %s: %s", path, strerror(-ret));
	}
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

/* ABI 1's maps that ABI 2 replaced by new names: copied from (exe) and unpinned by an upgrade. */
#define RF_PIN_EXE_V1	"rf_allow_exe"
#define RF_PIN_STATS_V1 "rf_stats"

int rf_pinned_config(const char *pin_dir, struct rf_config *cfg)
{
	struct rf_maps m;
	int ret = rf_maps_open_config(pin_dir, &m);

	if (ret)
		return ret;
	ret = rf_config_get(&m, cfg);
	close(m.config);
	return ret;
}

/* rf_config.abi_version of the pins under pin_dir; 0 when rf_config is not pinned. */
static int pinned_abi(const char *pin_dir, __u32 *abi)
{
	struct rf_config cfg = {};
	int ret = rf_pinned_config(pin_dir, &cfg);

	*abi = cfg.abi_version;
	/* a foreign map pinned as rf_config says nothing: the load moves it aside */
	return ret == -ENOENT || ret == -EMEDIUMTYPE ? 0 : ret;
}

static bool pinned(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), pin_dir, name);
	return !access(path, F_OK);
}

/* Is fd a map of map's type and layout (and, with name, of map's name)? 1 yes, 0 no, -errno. */
static int fd_matches(const struct bpf_map *map, int fd, bool name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return errno == EINVAL ? 0 : -errno; /* EINVAL: not a map (a program, a link) */
	if (name && strncmp(info.name, bpf_map__name(map), sizeof(info.name) - 1))
		return 0;
	return info.type == (__u32)bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
	       info.value_size == bpf_map__value_size(map) &&
	       info.max_entries == bpf_map__max_entries(map) &&
	       info.map_flags == bpf_map__map_flags(map);
}

/* Does the map pinned at path have map's type and layout? 1 yes, 0 no, -errno (-ENOENT: none). */
static int pin_matches(const struct bpf_map *map, const char *path)
{
	int fd = bpf_obj_get(path), ret;

	if (fd < 0)
		return -errno;
	ret = fd_matches(map, fd, false);
	close(fd);
	return ret;
}

/* The maps the attached programs use, by name (collected once per load). */
struct running_maps {
	__u32 id[RF_MAX_OBJ_MAPS];
	char name[RF_MAX_OBJ_MAPS][BPF_OBJ_NAME_LEN];
	size_t n;
};

static void add_running(struct running_maps *r, __u32 id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	size_t i;
	int fd;

	for (i = 0; i < r->n; i++)
		if (r->id[i] == id)
			return;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0 || r->n == RF_MAX_OBJ_MAPS)
		goto out;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
		r->id[r->n] = id;
		memcpy(r->name[r->n++], info.name, BPF_OBJ_NAME_LEN);
	}
out:
	if (fd >= 0)
		close(fd);
}

static void collect_running(const struct rf_link_state *st, struct running_maps *r)
{
	__u32 ids[RF_MAX_OBJ_MAPS], j;
	int i;

	r->n = 0;
	for (i = 0; i < RF_HOOK_MAX; i++) {
		struct bpf_prog_info pi = {.nr_map_ids = RF_MAX_OBJ_MAPS,
					   .map_ids = (__u64)(unsigned long)ids};
		__u32 len = sizeof(pi);
		int pfd = st[i].attached ? bpf_prog_get_fd_by_id(st[i].prog_id) : -1;

		if (pfd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(pfd, &pi, &len))
			pi.nr_map_ids = 0;
		close(pfd);
		for (j = 0; j < pi.nr_map_ids && j < RF_MAX_OBJ_MAPS; j++)
			add_running(r, ids[j]);
	}
}

/* The id of the running map called name, 0 when the attached programs have none. */
static __u32 running_id(const struct running_maps *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!strncmp(r->name[i], name, BPF_OBJ_NAME_LEN - 1))
			return r->id[i];
	return 0;
}

/* The map of map's name and layout that the attached programs use: an fd, or -ENOENT. */
static int running_map(const struct running_maps *r, const struct bpf_map *map)
{
	__u32 id = running_id(r, bpf_map__name(map));
	int fd = id ? bpf_map_get_fd_by_id(id) : -1;

	if (fd >= 0 && fd_matches(map, fd, true) == 1)
		return fd;
	if (fd >= 0)
		close(fd);
	return -ENOENT;
}

/* The id of the object pinned at path, 0 if none or not a map. */
static __u32 pinned_map_id(const char *path)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

/* A map pinned at path while the attached programs use another map of that name. */
static bool not_the_running_map(const struct running_maps *run, const char *name, const char *path)
{
	__u32 id = running_id(run, name);

	return id && pinned_map_id(path) != id;
}

/* Pins under ringfence's names that another program put there, moved aside by a load. */
struct foreign {
	const struct rf_link_state *st; /* the links as found */
	struct running_maps run;	/* the maps their programs use: taken back */
	char moved[2048];		/* "PATH -> PATH_foreign_TIME; ..." */
};

/*
 * A pin of another type or layout under the name of a map with state (rf_config, rf_allow_*),
 * or of the same layout but not the map the attached programs use: not ringfence's (writing
 * it would change nothing they enforce). Isolation comes first: the pin is renamed to
 * NAME_foreign_<unix time> (bpffs allows no dots in names), kept for whoever investigates, and
 * the name pinned again with the map the attached programs use (so nothing of their state is
 * lost), or a fresh one when no link is attached. With links attached but no such map in their
 * programs, nothing is changed (an error).
 */
static int take_name_back(struct bpf_map *map, const char *path, struct foreign *f, char *err,
			  size_t errlen)
{
	char to[PATH_MAX + 32];
	size_t n = strlen(f->moved);
	int fd = running_map(&f->run, map), ret;

	if (fd < 0 && any_attached(f->st)) {
		snprintf(
		    err, errlen,
		    "pinned map %s is not ringfence's (another type or layout, or not the map "
		    "the attached programs use), and they have no map of that name to pin there "
		    "instead: nothing was changed; move %s away (or 'ringfence unload --force')",
		    path, path);
		return -EPROTO;
	}
	snprintf(to, sizeof(to), "%s_foreign_%lld", path, (long long)time(NULL));
	if (rename(path, to)) {
		ret = -errno;
		snprintf(err, errlen,
			 "pinned map %s is not ringfence's; moving it to %s failed: %s", path, to,
			 strerror(-ret));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	/* a long list is cut short, never empty: the caller warns when it is not */
	if (snprintf(f->moved + n, sizeof(f->moved) - n, "%s%s -> %s", n ? "; " : "", path, to) < 0)
		snprintf(f->moved + n, sizeof(f->moved) - n, "%s", n ? "" : "(a foreign pin)");
	if (fd < 0)
		return 0;
	ret = bpf_map__reuse_fd(map, fd);
	close(fd);
	if (ret)
		snprintf(err, errlen, "failed to take back the map of %s: %s", path,
			 strerror(-ret));
	return ret;
}

/*
 * Maps that hold nothing worth keeping across a reload: replaced when their layout changed
 * (rf_net_hash and rf_net_sync are made again from rf_allow_net).
 * rf_sk_mark: pre-release ABI 2 builds pinned 32-byte marks under ABI 1's name (now
 * rf_sk_mark_v2); losing those marks can only deny more. rf_sk_verdict: a cache (its entries
 * gained the flow key); losing it costs each established flow one full judgment. rf_flow_memo:
 * its per-CPU memo, sized by the possible CPUs.
 */
static bool replaceable(const char *name)
{
	return !strcmp(name, "rf_ratelimit") || !strcmp(name, "rf_events") ||
	       !strcmp(name, "rf_stats_v2") || !strcmp(name, "rf_sk_mark") ||
	       !strcmp(name, "rf_net_hash") || !strcmp(name, "rf_net_sync") || /* from the trie */
	       !strcmp(name, "rf_sk_verdict") || !strcmp(name, "rf_flow_memo");
}

/*
 * A pinned map of another type or layout than the object's cannot be reused. One without state
 * worth keeping is replaced: the object gets a new, unpinned map, pinned in place of the old one
 * once every link runs the new programs (repin_replaced; the old programs keep theirs). Any
 * other is an error before anything changed: its contents (rules, the isolation flag) would be
 * lost, and a layout change gets a new map name (docs/ABI.md).
 */
static int skip_incompatible_pins(struct ringfence_bpf *skel, const char *pin_dir, bool *replaced,
				  struct foreign *f, char *err, size_t errlen)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int i = -1, ret;

	bpf_object__for_each_map(map, skel->obj)
	{
		if (++i >= RF_MAX_OBJ_MAPS || bpf_map__is_internal(map))
			continue;
		pin_path(path, sizeof(path), pin_dir, bpf_map__name(map));
		ret = pin_matches(map, path);
		if (ret == -ENOENT ||
		    (ret == 1 && !not_the_running_map(&f->run, bpf_map__name(map), path)))
			continue;
		if (ret == 0 && replaceable(bpf_map__name(map))) {
			bpf_map__set_pin_path(map, NULL);
			replaced[i] = true;
			continue;
		}
		/* another layout, or the same layout but not the map the programs use: foreign */
		if (ret >= 0)
			ret = take_name_back(map, path, f, err, errlen);
		else
			snprintf(err, errlen, "failed to inspect pinned map %s: %s", path,
				 strerror(-ret));
		if (ret)
			return ret;
	}
	return 0;
}

static int repin_replaced(struct ringfence_bpf *skel, const char *pin_dir, const bool *replaced,
			  char *err, size_t errlen)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int i = 0, ret;

	bpf_object__for_each_map(map, skel->obj)
	{
		if (i < RF_MAX_OBJ_MAPS && replaced[i]) {
			pin_path(path, sizeof(path), pin_dir, bpf_map__name(map));
			unlink(path);
			ret = bpf_map__pin(map, path);
			if (ret) {
				snprintf(err, errlen, "failed to pin %s: %s", path, strerror(-ret));
				return ret;
			}
		}
		i++;
	}
	return 0;
}

/* ABI 1's exe rules (dev, ino) into rf_allow_exe_v2 as (dev, ino, any generation). */
static int copy_exe_v1(struct ringfence_bpf *skel, const char *pin_dir, char *err, size_t errlen)
{
	struct rf_exe_v1_key {
		__u64 dev, ino;
	} key, next, *prev = NULL;
	struct rf_allow_val val = {};
	char path[PATH_MAX];
	int old, ret = 0, to = bpf_map__fd(skel->maps.rf_allow_exe_v2);

	pin_path(path, sizeof(path), pin_dir, RF_PIN_EXE_V1);
	old = bpf_obj_get(path);
	if (old < 0)
		return errno == ENOENT ? 0 : -errno;
	while (!bpf_map_get_next_key(old, prev, &next)) {
		struct rf_exe_key k = {.dev = next.dev, .ino = next.ino, .gen = RF_EXE_GEN_ANY};

		if (bpf_map_update_elem(to, &k, &val, BPF_ANY)) {
			ret = -errno;
			snprintf(err, errlen, "failed to copy %s into rf_allow_exe_v2: %s", path,
				 strerror(-ret));
			break;
		}
		key = next;
		prev = &key;
	}
	close(old);
	return ret;
}

/*
 * Put the new programs into the links that are pinned and attached: bpf_link_update() swaps the
 * program inside the link, so the cgroup never runs without one. Stops at the first failure:
 * the hooks before it run the new programs, the others still the old ones, all attached.
 */
static int swap_links(struct ringfence_bpf *skel, const struct rf_link_state *st,
		      const struct rf_load_opts *o, const char *what, char *err, size_t errlen)
{
	char path[PATH_MAX], done[256] = "";
	int i, fd, ret;

	for (i = 0; i < RF_HOOK_MAX; i++) {
		struct bpf_program *prog;

		if (!hook_has_link(i) || !st[i].attached)
			continue;
		prog = bpf_object__find_program_by_name(skel->obj, rf_hooks[i].prog);
		rf_hook_pin_path(path, sizeof(path), o->pin_dir, (enum rf_hook)i);
		fd = bpf_obj_get(path);
		ret = fd < 0 ? -errno : 0;
		if (!ret && !prog)
			ret = -ENOENT;
		if (!ret && bpf_link_update(fd, bpf_program__fd(prog), NULL))
			ret = -errno;
		if (fd >= 0)
			close(fd);
		if (ret) {
			snprintf(err, errlen,
				 "%s stopped: failed to put the new program into %s: %s. Every "
				 "hook is still attached and enforcing (new programs in: %s; the "
				 "old ones in the rest); run the command again to finish",
				 what, path, strerror(-ret), done[0] ? done : "none");
			return ret;
		}
		snprintf(done + strlen(done), sizeof(done) - strlen(done), "%s%s",
			 done[0] ? " " : "", rf_hooks[i].label);
	}
	return 0;
}

/* The tc program: the pin, and ABI 1's filters (legacy handle) in this namespace, in place. */
static int upgrade_tc(struct ringfence_bpf *skel, const char *pin_dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	__u32 old_id;
	int ret;

	rf_hook_pin_path(path, sizeof(path), pin_dir, RF_HOOK_TC_EGRESS);
	old_id = rf_pinned_prog_id(path);
	ret = pin_tc_program(skel, pin_dir, err, errlen);
	if (ret || !old_id)
		return ret;
	ret = rf_tc_replace_prog(RF_TC_HANDLE_LEGACY, old_id,
				 bpf_program__fd(skel->progs.rf_tc_egress));
	if (ret >= 0)
		return 0;
	snprintf(err, errlen,
		 "failed to put the new program into the old packet-socket guard filters: %s (they "
		 "still run the old one)",
		 strerror(-ret));
	return ret;
}

/* After a complete upgrade: ABI 1's maps are no longer read by any program. */
static void remove_obsolete_pins(const char *pin_dir)
{
	static const char *const names[] = {RF_PIN_EXE_V1, RF_PIN_STATS_V1};
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		pin_path(path, sizeof(path), pin_dir, names[i]);
		if (unlink(path) && errno != ENOENT)
			rf_warn("cannot remove the obsolete pin %s: %s", path, strerror(errno));
	}
}

/* A step of an upgrade failed: say where it stands (swap_links() says it for its own failure). */
static void upgrade_incomplete(char *err, size_t errlen, __u32 from, bool swapped)
{
	size_t n = strlen(err);

	if (swapped)
		snprintf(
		    err + n, errlen - n,
		    " (upgrade from ABI %u incomplete: every pinned link runs the new programs "
		    "and enforces; ABI %u's pins are kept; run the command again to finish)",
		    from, from);
	else
		snprintf(err + n, errlen - n,
			 " (upgrade from ABI %u not done: its programs are still attached and "
			 "enforce as before)",
			 from);
}

/*
 * The pins under pin_dir before loading: which ABI (into *from when an upgrade is due), or an
 * error for a newer ABI, whose pins this version must not touch.
 */
static int check_pinned_abi(const char *pin_dir, __u32 *from, char *err, size_t errlen)
{
	__u32 abi;
	int ret = pinned_abi(pin_dir, &abi);

	*from = 0;
	if (ret) {
		snprintf(err, errlen, "failed to read %s/rf_config: %s", pin_dir, strerror(-ret));
		return ret;
	}
	if (abi > RF_ABI_VERSION) {
		snprintf(err, errlen,
			 "the pins under %s are of ringfence ABI %u, newer than this ringfence "
			 "(ABI %u): nothing was changed; use the newer ringfence",
			 pin_dir, abi, RF_ABI_VERSION);
		return -EPROTO;
	}
	if ((abi && abi < RF_ABI_VERSION) || pinned(pin_dir, RF_PIN_EXE_V1) ||
	    pinned(pin_dir, RF_PIN_STATS_V1))
		*from = abi && abi < RF_ABI_VERSION ? abi : 1;
	return 0;
}

void rf_this_build(struct rf_build *b)
{
	b->built = RF_BUILD_TIME;
	b->hash = RF_BUILD_HASH;
}

int rf_pinned_build(const char *pin_dir, struct rf_build *b)
{
	char path[PATH_MAX];
	__u32 key = 0;
	int fd, ret;

	memset(b, 0, sizeof(*b));
	pin_path(path, sizeof(path), pin_dir, "rf_build");
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	ret = bpf_map_lookup_elem(fd, &key, b) ? -errno : 0;
	close(fd);
	return ret;
}

int rf_build_cmp(const char *pin_dir, struct rf_build *pinned)
{
	struct rf_build ours;
	int ret = rf_pinned_build(pin_dir, pinned);

	rf_this_build(&ours);
	if (ret)
		return ret == -ENOENT ? -1 : 1;
	if (pinned->hash == ours.hash)
		return 0;
	return pinned->built < ours.built ? -1 : 1;
}

/* Record this build as the one whose programs the links run (the last step of a load). */
static int stamp_build(struct ringfence_bpf *skel, char *err, size_t errlen)
{
	struct rf_build ours;
	__u32 key = 0;
	int ret;

	rf_this_build(&ours);
	ret = bpf_map_update_elem(bpf_map__fd(skel->maps.rf_build), &key, &ours, 0) ? -errno : 0;
	if (ret)
		snprintf(err, errlen, "failed to write rf_build: %s", strerror(-ret));
	return ret;
}

/*
 * Is a map that is not ringfence's pinned under one of its map names: another type or layout,
 * or not the map the attached programs use?
 */
static bool foreign_pinned(const char *pin_dir, const struct running_maps *run)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < rf_nr_maps; i++) {
		int fd, ret;

		pin_path(path, sizeof(path), pin_dir, rf_map_names[i]);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		ret = rf_map_layout_check(rf_map_names[i], fd);
		close(fd);
		if (ret == -EMEDIUMTYPE || not_the_running_map(run, rf_map_names[i], path))
			return true;
	}
	return false;
}

/* What a load does over the pins it finds. */
struct load_plan {
	struct rf_link_state st[RF_HOOK_MAX];
	int missing;		/* cgroup hooks to attach */
	__u32 from;		/* an older ABI to upgrade from, 0: none */
	bool earlier;		/* same ABI, links running an earlier build's programs: swap them */
	struct rf_build pinned; /* the build rf_build names (zero: none) */
	char what[64];
};

/* 1 when there is something to do, 0 to adopt what is there, -errno (err set) on a conflict.
 * run: the maps of the attached programs, collected here. */
static int plan_load(const struct rf_load_opts *o, struct load_plan *p, struct running_maps *run,
		     char *err, size_t errlen)
{
	int ret = check_pinned_abi(o->pin_dir, &p->from, err, errlen);

	if (ret)
		return ret;
	rf_links_state(o->pin_dir, p->st);
	p->missing = links_missing(o, p->st, err, errlen);
	if (p->missing < 0)
		return p->missing;
	collect_running(p->st, run);
	p->earlier = !p->from && any_attached(p->st) && rf_build_cmp(o->pin_dir, &p->pinned) < 0;
	if (p->from)
		snprintf(p->what, sizeof(p->what), "upgrade from ABI %u", p->from);
	else
		snprintf(p->what, sizeof(p->what), "putting this build's programs in place");
	return p->missing || p->from || p->earlier || foreign_pinned(o->pin_dir, run);
}

/*
 * Swap the programs of the attached links. An upgrade from an older ABI must finish (its
 * failure is the load's); a newer build of the same ABI is optional: the links keep the earlier
 * build's programs (they enforce the same maps), a warning says so and *stamp becomes false so
 * that the next load tries again.
 */
static int swap_attached(struct ringfence_bpf *skel, struct load_plan *p,
			 const struct rf_load_opts *o, bool *stamp, char *err, size_t errlen)
{
	int ret;

	*stamp = true;
	if (!p->from && !p->earlier)
		return 0;
	if (p->from && (ret = copy_exe_v1(skel, o->pin_dir, err, errlen)))
		return ret;
	ret = swap_links(skel, p->st, o, p->what, err, errlen);
	if (ret && p->earlier) {
		rf_warn("%s", err);
		err[0] = '\0';
		*stamp = false;
		return 0;
	}
	if (ret) {
		p->from = 0; /* swap_links() said where the upgrade stands */
		return ret;
	}
	if (p->earlier && o->programs_replaced)
		*o->programs_replaced = true;
	if (p->earlier && o->replaced_build)
		*o->replaced_build = p->pinned;
	return 0;
}

/*
 * Fill the flat index of rf_allow_net (a new, empty one; or one another writer marked out of
 * sync). Not fatal: out of sync, the programs walk the trie and give the same verdicts.
 */
static void index_rules(struct ringfence_bpf *skel)
{
	int sync = bpf_map__fd(skel->maps.rf_net_sync), ret;

	if (rf_net_index_settled(sync))
		return;
	ret = rf_net_index_rebuild(bpf_map__fd(skel->maps.rf_allow_net),
				   bpf_map__fd(skel->maps.rf_net_hash), sync);
	if (ret < 0)
		rf_warn("cannot index the allow-list (rf_net_hash): %s; the rule trie decides, "
			"as fast as before the index",
			strerror(-ret));
}

static int load_object(const struct rf_load_opts *o, struct ringfence_bpf **skel, bool *replaced,
		       struct foreign *f, char *err, size_t errlen)
{
	int ret = open_object(o, skel, err, errlen);

	if (!ret)
		ret = skip_incompatible_pins(*skel, o->pin_dir, replaced, f, err, errlen);
	if (!ret && (ret = ringfence_bpf__load(*skel)))
		snprintf(err, errlen,
			 "failed to load BPF programs: %s (run with -v for the verifier log)%s%s%s",
			 strerror(-ret), o->btf ? "; is the BTF file " : "", o->btf ? o->btf : "",
			 o->btf ? " (--btf) a valid BTF of this kernel?" : "");
	return ret;
}

int rf_load(const struct rf_load_opts *o, char *err, size_t errlen)
{
	struct load_plan p = {};
	struct foreign f = {.st = p.st};
	struct ringfence_bpf *skel = NULL;
	bool replaced[RF_MAX_OBJ_MAPS] = {};
	bool swapped, stamp = true;
	int ret;

	verbose_libbpf = o->verbose;
	libbpf_set_print(libbpf_print);
	if (o->upgraded_from)
		*o->upgraded_from = 0;
	if (o->programs_replaced)
		*o->programs_replaced = false;
	if (o->foreign && o->foreign_len)
		o->foreign[0] = '\0';
	ret = plan_load(o, &p, &f.run, err, errlen);
	if (ret <= 0)
		return ret; /* a conflict, or attached with programs not earlier than these */
	if (o->upgraded_from)
		*o->upgraded_from = p.from;
	if ((ret = rf_probe_kernel(o->btf, err, errlen)) ||
	    (ret = rf_check_bpffs(o->pin_dir, err, errlen)))
		return ret;
	ret = rf_mkdir_p(o->pin_dir, 0700);
	if (ret) {
		snprintf(err, errlen, "failed to create pin dir %s: %s", o->pin_dir,
			 strerror(-ret));
		return ret;
	}
	ret = load_object(o, &skel, replaced, &f, err, errlen);
	if (o->foreign)
		snprintf(o->foreign, o->foreign_len, "%s", f.moved);
	if (ret && p.earlier && !p.missing) {
		/* only a newer build to put in place: the attached programs go on enforcing */
		rf_warn("kept the attached programs of an earlier build: %s", err);
		err[0] = '\0';
		ringfence_bpf__destroy(skel);
		return 0;
	}
	if (!ret)
		ret = swap_attached(skel, &p, o, &stamp, err, errlen);
	swapped = p.from && !ret;
	if (!ret)
		ret = swapped ? upgrade_tc(skel, o->pin_dir, err, errlen)
			      : pin_tc_program(skel, o->pin_dir, err, errlen);
	if (!ret)
		ret = attach_missing(skel, p.st, o, err, errlen);
	if (!ret)
		ret = repin_replaced(skel, o->pin_dir, replaced, err, errlen);
	if (!ret)
		ret = stamp_config(skel, err, errlen);
	if (!ret)
		index_rules(skel);
	if (!ret && stamp)
		ret = stamp_build(skel, err, errlen);
	if (!ret && p.from)
		remove_obsolete_pins(o->pin_dir);
	else if (ret && p.from)
		upgrade_incomplete(err, errlen, p.from, swapped);
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

void rf_held_init(struct rf_held *h)
{
	size_t i;

	for (i = 0; i < RF_HOOK_MAX; i++)
		h->fd[i] = -1;
	h->build = -1;
}

void rf_held_close(struct rf_held *h)
{
	size_t i;

	for (i = 0; i < RF_HOOK_MAX; i++)
		if (h->fd[i] >= 0)
			close(h->fd[i]);
	if (h->build >= 0)
		close(h->build);
	rf_held_init(h);
}

int rf_hold(const char *pin_dir, struct rf_held *h)
{
	char path[PATH_MAX];
	size_t i;
	int ret = 0;

	rf_held_close(h);
	for (i = 0; i < RF_HOOK_MAX; i++) {
		if (!hook_has_link((int)i) && rf_hooks[i].kind != RF_ATTACH_TC)
			continue;
		rf_hook_pin_path(path, sizeof(path), pin_dir, (enum rf_hook)i);
		h->fd[i] = bpf_obj_get(path);
		if (h->fd[i] < 0 && errno != ENOENT && !ret)
			ret = -errno;
	}
	pin_path(path, sizeof(path), pin_dir, "rf_build");
	h->build = bpf_obj_get(path);
	return ret;
}

/* A held cgroup link that is still attached somewhere (one that was detached enforces nothing). */
static bool held_link_live(const struct rf_held *h, int hook)
{
	struct rf_link_state st = {};

	return h->fd[hook] >= 0 && rf_hooks[hook].kind == RF_ATTACH_CGROUP &&
	       !link_cgroup(h->fd[hook], &st) && st.attached;
}

/* Does a held link still enforce? (None: 'unload' detached them, or the cgroup is gone.) */
static bool held_any_live(const struct rf_held *h)
{
	int i;

	for (i = 0; i < RF_HOOK_MAX; i++)
		if (held_link_live(h, i))
			return true;
	return false;
}

bool rf_held_unpinned(const char *pin_dir, const struct rf_held *h)
{
	char path[PATH_MAX];
	int i;

	/* asked every second for every target: the pins first, the kernel only when one is gone */
	for (i = 0; i < RF_HOOK_MAX; i++) {
		if (h->fd[i] < 0)
			continue;
		rf_hook_pin_path(path, sizeof(path), pin_dir, (enum rf_hook)i);
		if (access(path, F_OK) &&
		    (rf_hooks[i].kind == RF_ATTACH_TC || held_link_live(h, i)))
			/* nothing held enforces: not the pins' business (re-attach) */
			return held_any_live(h);
	}
	return false;
}

/* Pin fd at <pin_dir>/name unless something is pinned there; 1 pinned, 0 there, -errno. */
static int pin_if_missing(int fd, const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), pin_dir, name);
	if (!access(path, F_OK))
		return 0;
	return bpf_obj_pin(fd, path) ? -errno : 1;
}

/* The maps of the program behind a held link, pinned under their names where missing. */
static int repin_maps(const char *pin_dir, int link)
{
	struct bpf_link_info li = {};
	__u32 len = sizeof(li), ids[RF_MAX_OBJ_MAPS], j;
	struct bpf_prog_info pi = {.nr_map_ids = RF_MAX_OBJ_MAPS,
				   .map_ids = (__u64)(unsigned long)ids};
	int pfd, n = 0, ret = 0;
	size_t k;

	if (bpf_obj_get_info_by_fd(link, &li, &len))
		return -errno;
	pfd = bpf_prog_get_fd_by_id(li.prog_id);
	if (pfd < 0)
		return -errno;
	len = sizeof(pi);
	if (bpf_obj_get_info_by_fd(pfd, &pi, &len))
		pi.nr_map_ids = 0;
	close(pfd);
	for (j = 0; j < pi.nr_map_ids && j < RF_MAX_OBJ_MAPS && ret >= 0; j++) {
		struct bpf_map_info mi = {};
		int fd = bpf_map_get_fd_by_id(ids[j]);

		len = sizeof(mi);
		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &mi, &len)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		for (k = 0; k < rf_nr_maps; k++)
			if (!strncmp(mi.name, rf_map_names[k], sizeof(mi.name) - 1)) {
				ret = pin_if_missing(fd, pin_dir, rf_map_names[k]);
				n += ret > 0;
				break;
			}
		close(fd);
	}
	return ret < 0 ? ret : n;
}

int rf_repin(const char *pin_dir, const struct rf_held *h, char *err, size_t errlen)
{
	int i, ret, n = 0;

	if (!held_any_live(h))
		return 0;
	if ((ret = rf_check_bpffs(pin_dir, err, errlen)))
		return ret;
	if ((ret = rf_mkdir_p(pin_dir, 0700))) {
		snprintf(err, errlen, "cannot create pin dir %s: %s", pin_dir, strerror(-ret));
		return ret;
	}
	for (i = 0; i < RF_HOOK_MAX; i++) {
		if (h->fd[i] < 0 || (rf_hooks[i].kind == RF_ATTACH_CGROUP && !held_link_live(h, i)))
			continue;
		if (rf_hooks[i].kind == RF_ATTACH_CGROUP &&
		    (ret = repin_maps(pin_dir, h->fd[i])) > 0)
			n += ret;
		if (ret >= 0 && (ret = pin_if_missing(h->fd[i], pin_dir, rf_hooks[i].pin)) > 0)
			n++;
		if (ret < 0) {
			snprintf(err, errlen, "cannot pin %s again under %s: %s", rf_hooks[i].label,
				 pin_dir, strerror(-ret));
			return ret;
		}
	}
	if (h->build >= 0 && pin_if_missing(h->build, pin_dir, "rf_build") > 0)
		n++;
	return n;
}
