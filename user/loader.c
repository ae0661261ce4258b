// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <net/if.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "rf_loader.h"
#include "rf_util.h"
#include "ringfence.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

const struct rf_hook_desc rf_hooks[] = {
	{ "rf_connect4", "rf_link_connect4", "connect4" },
	{ "rf_connect6", "rf_link_connect6", "connect6" },
	{ "rf_sendmsg4", "rf_link_sendmsg4", "sendmsg4" },
	{ "rf_sendmsg6", "rf_link_sendmsg6", "sendmsg6" },
	{ "rf_ingress", "rf_link_ingress", "ingress" },
	{ "rf_egress", "rf_link_egress", "egress" },
	{ "rf_sock_create", "rf_link_sock_create", "sock_create" },
};
const size_t rf_nr_hooks = sizeof(rf_hooks) / sizeof(rf_hooks[0]);

const char *const rf_map_names[] = {
	"rf_config", "rf_allow_net", "rf_allow_exe", "rf_allow_cgroup",
	"rf_sk_mark", "rf_stats",     "rf_events",    "rf_ratelimit", RF_TC_PROG_PIN,
};
const size_t rf_nr_maps = sizeof(rf_map_names) / sizeof(rf_map_names[0]);

static bool verbose_libbpf;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !verbose_libbpf)
		return 0;
	if (level == LIBBPF_INFO && !verbose_libbpf)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

int rf_check_bpffs(const char *pin_dir, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct statfs sfs;

	snprintf(dir, sizeof(dir), "%s", pin_dir);
	/* walk up to the first existing directory */
	while (statfs(dir, &sfs)) {
		char *slash = strrchr(dir, '/');

		if (errno != ENOENT || !slash || slash == dir) {
			snprintf(err, errlen, "cannot inspect pin dir %s: %s", pin_dir, strerror(errno));
			return -ENOENT;
		}
		*slash = '\0';
	}
	/* f_type is an int on 32-bit arches, where the magic does not fit */
	if ((__u32)sfs.f_type != BPF_FS_MAGIC) {
		snprintf(err, errlen,
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
		snprintf(err, errlen,
			 "kernel BTF (/sys/kernel/btf/vmlinux) is missing: use a kernel built with "
			 "CONFIG_DEBUG_INFO_BTF=y, or give ringfence a BTF file for this kernel with "
			 "--btf FILE (config 'btf FILE'), made from the kernel's vmlinux with "
			 "'pahole --btf_encode_detached FILE vmlinux' (see README 'Requirements')");
		return cached = -ENOTSUP;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		snprintf(err, errlen, "the kernel lacks BPF ring buffers (needs Linux 5.8 or later)");
		return cached = -ENOTSUP;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL) != 1) {
		snprintf(err, errlen, "the kernel lacks BPF socket storage (needs Linux 5.2 or later)");
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

	for (i = 0; i < rf_nr_hooks; i++) {
		int fd;

		memset(&st[i], 0, sizeof(st[i]));
		pin_path(path, sizeof(path), pin_dir, rf_hooks[i].link_pin);
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
	for (i = 0; i < rf_nr_hooks; i++) {
		pin_path(path, sizeof(path), pin_dir, rf_hooks[i].link_pin);
		if (!access(path, F_OK))
			return true;
	}
	return false;
}

/* Depth of a cgroup directory below the cgroup2 mount (the root is level 0). */
static __u32 cgroup_level(const char *dir)
{
	char mnt[PATH_MAX];
	const char *p;
	__u32 level = 0;

	if (rf_cgroup2_mount(mnt, sizeof(mnt)))
		return 0;
	p = dir + strlen(mnt);
	if (strncmp(dir, mnt, strlen(mnt)))
		return 0;
	for (; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			level++;
	return level;
}

int rf_load(const char *pin_dir, const char *cgroup_dir, __u64 cgroup_id, const char *btf,
	    bool verbose, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = btf);
	struct rf_link_state st[16];
	struct ringfence_bpf *skel = NULL;
	struct bpf_map *map;
	char path[PATH_MAX];
	struct rf_config cfg = {};
	__u32 zero = 0;
	int cgfd = -1, ret = 0;
	size_t i, missing = 0;

	verbose_libbpf = verbose;
	libbpf_set_print(libbpf_print);

	rf_links_state(pin_dir, st);
	for (i = 0; i < rf_nr_hooks; i++) {
		if (!st[i].attached) {
			missing++;
			continue;
		}
		if (st[i].cgroup_id != cgroup_id) {
			snprintf(err, errlen,
				 "ringfence is already attached to another cgroup (id %llu), not %s: "
				 "use that --cgroup, or run 'ringfence unload' first",
				 (unsigned long long)st[i].cgroup_id, cgroup_dir);
			return -EBUSY;
		}
	}
	if (missing == 0)
		return 0; /* already loaded and attached: adopt */

	ret = rf_probe_kernel(btf, err, errlen);
	if (ret)
		return ret;
	ret = rf_check_bpffs(pin_dir, err, errlen);
	if (ret)
		return ret;
	ret = rf_mkdir_p(pin_dir, 0700);
	if (ret) {
		snprintf(err, errlen, "failed to create pin dir %s: %s", pin_dir, strerror(-ret));
		return ret;
	}

	skel = ringfence_bpf__open_opts(&open_opts);
	if (!skel) {
		ret = -errno;
		snprintf(err, errlen, "failed to open BPF object: %s", strerror(-ret));
		return ret;
	}
	/* scope the tc layer to the target cgroup: its id and depth below the cgroup2 root */
	skel->rodata->rf_target_cgid = cgroup_id;
	skel->rodata->rf_target_level = cgroup_level(cgroup_dir);
	/* reuse existing pinned maps so rules and the isolation flag survive a reload */
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue; /* .rodata is per load, not shared state */
		pin_path(path, sizeof(path), pin_dir, bpf_map__name(map));
		ret = bpf_map__set_pin_path(map, path);
		if (ret) {
			snprintf(err, errlen, "failed to set pin path %s: %s", path, strerror(-ret));
			goto cleanup;
		}
	}
	ret = ringfence_bpf__load(skel);
	if (ret) {
		snprintf(err, errlen,
			 "failed to load BPF programs: %s (run with -v for the verifier log; if pinned "
			 "maps from another ringfence version exist, 'ringfence unload' first)%s%s%s",
			 strerror(-ret), btf ? "; is the BTF file " : "", btf ? btf : "",
			 btf ? " (--btf) a valid BTF of this kernel?" : "");
		goto cleanup;
	}

	/* stamp the ABI version without touching anything another agent may have set */
	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.rf_config), &zero, &cfg) &&
	    cfg.abi_version != RF_ABI_VERSION) {
		cfg.abi_version = RF_ABI_VERSION;
		if (!cfg.isolated && !cfg.builtins)
			cfg.builtins = RF_BUILTIN_ALL;
		bpf_map_update_elem(bpf_map__fd(skel->maps.rf_config), &zero, &cfg, BPF_ANY);
	}

	pin_path(path, sizeof(path), pin_dir, RF_TC_PROG_PIN);
	unlink(path);
	ret = bpf_program__pin(skel->progs.rf_tc_egress, path);
	if (ret) {
		snprintf(err, errlen, "failed to pin %s: %s", path, strerror(-ret));
		goto cleanup;
	}

	cgfd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "failed to open cgroup %s: %s", cgroup_dir, strerror(-ret));
		goto cleanup;
	}
	for (i = 0; i < rf_nr_hooks; i++) {
		struct bpf_program *prog;
		struct bpf_link *link;

		if (st[i].attached)
			continue;
		prog = bpf_object__find_program_by_name(skel->obj, rf_hooks[i].prog);
		if (!prog) {
			ret = -ENOENT;
			snprintf(err, errlen, "program %s missing from the object", rf_hooks[i].prog);
			goto cleanup;
		}
		link = bpf_program__attach_cgroup(prog, cgfd);
		if (!link) {
			ret = -errno;
			snprintf(err, errlen, "failed to attach %s to %s: %s", rf_hooks[i].label,
				 cgroup_dir, strerror(-ret));
			goto cleanup;
		}
		/* a stale pin (its cgroup gone) is replaced only after the new link is attached */
		pin_path(path, sizeof(path), pin_dir, rf_hooks[i].link_pin);
		unlink(path);
		ret = bpf_link__pin(link, path);
		if (ret) {
			snprintf(err, errlen, "failed to pin link %s: %s", path, strerror(-ret));
			bpf_link__destroy(link);
			goto cleanup;
		}
		bpf_link__disconnect(link); /* the pin keeps it attached */
		bpf_link__destroy(link);
	}
cleanup:
	if (cgfd >= 0)
		close(cgfd);
	ringfence_bpf__destroy(skel);
	return ret;
}

int rf_unload(const char *pin_dir)
{
	char path[PATH_MAX];
	size_t i;
	int ret = 0;

	for (i = 0; i < rf_nr_hooks; i++) {
		int fd;

		pin_path(path, sizeof(path), pin_dir, rf_hooks[i].link_pin);
		/*
		 * Detach before unpinning: the kernel releases a link whose last reference goes
		 * away in deferred work, so without this the program could still run for a moment
		 * after 'unload' has returned.
		 */
		fd = bpf_obj_get(path);
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

static int open_map(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), pin_dir, name);
	return bpf_obj_get(path);
}

void rf_maps_close(struct rf_maps *m)
{
	int *fds[] = { &m->config, &m->net, &m->exe, &m->cgroup, &m->stats, &m->events };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int rf_maps_open(const char *pin_dir, struct rf_maps *m)
{
	m->config = open_map(pin_dir, "rf_config");
	m->net = open_map(pin_dir, "rf_allow_net");
	m->exe = open_map(pin_dir, "rf_allow_exe");
	m->cgroup = open_map(pin_dir, "rf_allow_cgroup");
	m->stats = open_map(pin_dir, "rf_stats");
	m->events = open_map(pin_dir, "rf_events");
	if (m->config < 0 || m->net < 0 || m->exe < 0 || m->cgroup < 0 || m->stats < 0 ||
	    m->events < 0) {
		int err = errno == ENOENT ? -ENOENT : -errno;

		rf_maps_close(m);
		return err;
	}
	return 0;
}

int rf_config_get(const struct rf_maps *m, struct rf_config *cfg)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(m->config, &zero, cfg) ? -errno : 0;
}

int rf_config_set(const struct rf_maps *m, const struct rf_config *cfg)
{
	__u32 zero = 0;

	return bpf_map_update_elem(m->config, &zero, cfg, BPF_ANY) ? -errno : 0;
}

__u64 rf_stat_sum(const struct rf_maps *m, __u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals, sum = 0;
	int i;

	if (ncpu <= 0)
		return 0;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return 0;
	if (!bpf_map_lookup_elem(m->stats, &idx, vals))
		for (i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

static void tc_hook_for(struct bpf_tc_hook *h, int ifindex)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifindex;
	h->attach_point = BPF_TC_EGRESS;
}

/* Is our filter on this interface's egress? */
static bool tc_present(int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = RF_TC_HANDLE, .priority = RF_TC_PRIO);
	libbpf_print_fn_t old = libbpf_set_print(quiet_print); /* "no qdisc" is an answer here */
	struct bpf_tc_hook h;
	int ret;

	tc_hook_for(&h, ifindex);
	ret = bpf_tc_query(&h, &o);
	libbpf_set_print(old);
	return ret == 0;
}

int rf_tc_attach_all(const char *pin_dir, char *names, size_t nameslen)
{
	struct if_nameindex *ifs, *i;
	char path[PATH_MAX];
	int prog, n = 0, ret = 0;

	if (names && nameslen)
		names[0] = '\0';
	pin_path(path, sizeof(path), pin_dir, RF_TC_PROG_PIN);
	prog = bpf_obj_get(path);
	if (prog < 0)
		return -errno;
	ifs = if_nameindex();
	if (!ifs) {
		ret = -errno;
		close(prog);
		return ret;
	}
	for (i = ifs; i->if_index; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = RF_TC_HANDLE, .priority = RF_TC_PRIO,
				    .prog_fd = prog, .flags = BPF_TC_F_REPLACE);
		libbpf_print_fn_t old_print;
		struct bpf_tc_hook h;
		int err;

		if (!strcmp(i->if_name, "lo") || tc_present((int)i->if_index))
			continue;
		tc_hook_for(&h, (int)i->if_index);
		/*
		 * An existing clsact qdisc is fine (libbpf would log "Exclusivity flag on"). It is
		 * left in place on detach: other tools' filters may hang off it, and an empty
		 * clsact costs nothing.
		 */
		old_print = libbpf_set_print(quiet_print);
		err = bpf_tc_hook_create(&h);
		libbpf_set_print(old_print);
		if (err && err != -EEXIST) {
			ret = err;
			continue;
		}
		err = bpf_tc_attach(&h, &o);
		if (err) {
			ret = err;
			continue;
		}
		n++;
		if (names && strlen(names) + strlen(i->if_name) + 2 < nameslen) {
			strcat(names, names[0] ? " " : "");
			strcat(names, i->if_name);
		}
	}
	if_freenameindex(ifs);
	close(prog);
	return ret ? ret : n;
}

void rf_tc_detach_all(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	if (!ifs)
		return;
	for (i = ifs; i->if_index; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = RF_TC_HANDLE, .priority = RF_TC_PRIO);
		struct bpf_tc_hook h;

		if (!tc_present((int)i->if_index))
			continue;
		tc_hook_for(&h, (int)i->if_index);
		bpf_tc_detach(&h, &o);
	}
	if_freenameindex(ifs);
}

int rf_tc_list(char *names, size_t nameslen)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int n = 0;

	names[0] = '\0';
	if (!ifs)
		return 0;
	for (i = ifs; i->if_index; i++) {
		if (!tc_present((int)i->if_index))
			continue;
		n++;
		if (strlen(names) + strlen(i->if_name) + 2 < nameslen) {
			strcat(names, names[0] ? " " : "");
			strcat(names, i->if_name);
		}
	}
	if_freenameindex(ifs);
	return n;
}
