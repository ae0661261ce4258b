// SPDX-License-Identifier: GPL-2.0-only
/* The pinned maps: opening them and the one writer of rf_config. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "rf_loader.h"
#include "rf_host.h"
#include "rf_maps.h"
#include "rf_util.h"

#define RF_X_NAME(field, name) #name,
const char *const rf_map_names[] = {RF_MAP_LIST(RF_X_NAME) RF_MAP_PRIVATE_LIST(RF_X_NAME)};
#undef RF_X_NAME
const size_t rf_nr_maps = sizeof(rf_map_names) / sizeof(rf_map_names[0]);

/* The type and sizes of each map in RF_MAP_LIST and RF_MAP_OPTIONAL_LIST, as bpf/ringfence.bpf.c
 * defines them. */
static const struct map_layout {
	const char *name;
	enum bpf_map_type type;
	__u32 key, value;
} layouts[] = {
    {"rf_config", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct rf_config)},
    {"rf_allow_net", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct rf_net_key), sizeof(struct rf_net_val)},
    {"rf_allow_exe_v2", BPF_MAP_TYPE_HASH, sizeof(struct rf_exe_key), sizeof(struct rf_allow_val)},
    {"rf_allow_exe_v3", BPF_MAP_TYPE_HASH, sizeof(struct rf_exe_key), sizeof(struct rf_exe_users)},
    {"rf_allow_cgroup", BPF_MAP_TYPE_HASH, sizeof(__u64), sizeof(struct rf_allow_val)},
    {"rf_stats_v2", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(__u64)},
    {"rf_events", BPF_MAP_TYPE_RINGBUF, 0, 0},
    {"rf_host_name", BPF_MAP_TYPE_HASH, sizeof(struct rf_host_key), sizeof(struct rf_host_val)},
    {"rf_host_addr", BPF_MAP_TYPE_HASH, sizeof(struct rf_addr_key),
     sizeof(struct rf_host_addr_val)},
    {"rf_dns_resolver", BPF_MAP_TYPE_HASH, sizeof(struct rf_addr_key), sizeof(struct rf_allow_val)},
    {"rf_net_hash", BPF_MAP_TYPE_HASH, sizeof(struct rf_net_key), sizeof(struct rf_net_val)},
    {"rf_net_sync", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct rf_net_sync)},
    {"rf_policy_gen", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u64)},
};

int rf_map_layout_check(const char *name, int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	size_t i;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		if (strcmp(layouts[i].name, name))
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return errno == EINVAL ? -EMEDIUMTYPE : -errno; /* not a map at all */
		if (info.type != (__u32)layouts[i].type || info.key_size != layouts[i].key ||
		    info.value_size != layouts[i].value)
			return -EMEDIUMTYPE;
		return 0;
	}
	return 0;
}

/* The pinned map, if it has the layout this build reads and writes (-EMEDIUMTYPE: foreign). */
static int open_map(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	ret = rf_map_layout_check(name, fd);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* The ids of the maps the attached programs use, read through the pinned links: what is
 * enforced. n is 0 when no pinned link is attached (nothing runs, or the pins are gone). */
struct running {
	__u32 id[64];
	__u32 n;
};

static void add_prog_maps(__u32 prog_id, struct running *r)
{
	__u32 ids[32], i, j;
	struct bpf_prog_info pi = {.nr_map_ids = 32, .map_ids = (__u64)(unsigned long)ids};
	__u32 len = sizeof(pi);
	int fd = bpf_prog_get_fd_by_id(prog_id);

	if (fd < 0)
		return;
	if (bpf_obj_get_info_by_fd(fd, &pi, &len))
		pi.nr_map_ids = 0;
	close(fd);
	for (i = 0; i < pi.nr_map_ids && i < 32; i++) {
		for (j = 0; j < r->n && r->id[j] != ids[i]; j++)
			;
		if (j == r->n && r->n < sizeof(r->id) / sizeof(r->id[0]))
			r->id[r->n++] = ids[i];
	}
}

static void running_maps(const char *pin_dir, struct running *r)
{
	char path[PATH_MAX];
	int i;

	r->n = 0;
	for (i = 0; i < RF_HOOK_MAX; i++) {
		struct bpf_link_info li = {};
		__u32 len = sizeof(li);
		int fd;

		if (rf_hooks[i].kind != RF_ATTACH_CGROUP)
			continue;
		rf_hook_pin_path(path, sizeof(path), pin_dir, (enum rf_hook)i);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &li, &len) && li.type == BPF_LINK_TYPE_CGROUP &&
		    li.cgroup.cgroup_id)
			add_prog_maps(li.prog_id, r);
		close(fd);
	}
}

/* The id of map fd, 0 if it cannot be read. */
static __u32 map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* The running map called name with this build's layout: an fd, or -ENOENT. */
static int running_by_name(const struct running *r, const char *name)
{
	__u32 i;

	for (i = 0; i < r->n; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_map_get_fd_by_id(r->id[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    !strncmp(info.name, name, sizeof(info.name) - 1) &&
		    !rf_map_layout_check(name, fd))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/*
 * The map called name that is enforced: the pinned one when the attached programs use it (or
 * nothing is attached), else theirs, with a warning. A pin gone or replaced by another map (a
 * foreign pin) must not make a command read or write a map no program reads: 'release' would
 * say "not isolated" over an isolated host. 'ringfence load' pins theirs back.
 */
static int open_enforced(const char *pin_dir, const char *name, const struct running *r)
{
	int fd = open_map(pin_dir, name), rfd;
	__u32 i, id;

	if (!r->n || (fd < 0 && fd != -ENOENT && fd != -EMEDIUMTYPE))
		return fd;
	id = fd >= 0 ? map_id(fd) : 0;
	for (i = 0; id && i < r->n; i++)
		if (r->id[i] == id)
			return fd;
	rfd = running_by_name(r, name);
	if (rfd < 0)
		return fd; /* the programs have no map of that name (an older ABI's) */
	rf_warn("%s/%s is %s the map the attached programs use: using theirs; 'ringfence load' "
		"pins it back",
		pin_dir, name, fd == -ENOENT ? "missing, not" : "not");
	if (fd >= 0)
		close(fd);
	return rfd;
}

int rf_map_open_private(const char *pin_dir, const char *name)
{
	int fd = open_map(pin_dir, name);

	return fd < 0 ? -errno : fd;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void rf_maps_close(struct rf_maps *m)
{
#define RF_X_CLOSE(field, name) close_fd(&m->field);
	RF_MAP_LIST(RF_X_CLOSE)
	RF_MAP_OPTIONAL_LIST(RF_X_CLOSE)
#undef RF_X_CLOSE
	close_fd(&m->net_hash);
	close_fd(&m->net_sync);
	close_fd(&m->gen);
}

/*
 * rf_policy_gen is optional: the programs of a build before the verdict cache have none and
 * cache nothing. Any other failure leaves cached verdicts to RF_CACHE_TTL_NS: say so.
 */
static int open_gen(const char *pin_dir, const struct running *r)
{
	int fd = open_enforced(pin_dir, "rf_policy_gen", r);

	if (fd < 0 && fd != -ENOENT)
		rf_warn("cannot open %s/rf_policy_gen (%s): cached verdicts are re-judged only "
			"after %llu ms; 'ringfence load' repairs the pins",
			pin_dir, strerror(-fd), RF_CACHE_TTL_NS / 1000000ULL);
	return fd < 0 ? -1 : fd;
}

int rf_maps_open(const char *pin_dir, struct rf_maps *m)
{
	struct running r;
	int err = 0;

	*m = (struct rf_maps)RF_MAPS_INIT;
	running_maps(pin_dir, &r);
#define RF_X_OPEN(field, name)                                                                     \
	if (!err && (m->field = open_enforced(pin_dir, #name, &r)) < 0)                            \
		err = m->field;
	RF_MAP_LIST(RF_X_OPEN)
#undef RF_X_OPEN
	/* rf_config is there but not the rest of this ABI's set: pins of an older ABI */
	if (err == -ENOENT && m->config >= 0)
		err = -EPROTO;
	if (!err)
		m->gen = open_gen(pin_dir, &r);
	if (!err && (m->net_hash = open_enforced(pin_dir, "rf_net_hash", &r)) >= 0 &&
	    (m->net_sync = open_enforced(pin_dir, "rf_net_sync", &r)) < 0)
		close_fd(&m->net_hash); /* the index is optional: a build before it has none */
	if (m->net_hash < 0)
		m->net_hash = -1;
	if (m->net_sync < 0)
		m->net_sync = -1;
	if (err) {
		rf_maps_close(m);
		return err;
	}
#define RF_X_OPEN_OPT(field, name)                                                                 \
	if ((m->field = open_enforced(pin_dir, #name, &r)) < 0)                                    \
		m->field = -1;
	RF_MAP_OPTIONAL_LIST(RF_X_OPEN_OPT)
#undef RF_X_OPEN_OPT
	return 0;
}

int rf_maps_open_config(const char *pin_dir, struct rf_maps *m)
{
	struct running r;

	*m = (struct rf_maps)RF_MAPS_INIT;
	running_maps(pin_dir, &r);
	m->config = open_enforced(pin_dir, "rf_config", &r);
	if (m->config >= 0)
		m->gen = open_gen(pin_dir, &r);
	return m->config < 0 ? m->config : 0;
}

int rf_config_get(const struct rf_maps *m, struct rf_config *cfg)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(m->config, &zero, cfg) ? -errno : 0;
}

void rf_config_apply_change(struct rf_config *cfg, const struct rf_config_change *c)
{
	if (c->fields & RF_CFG_F_ABI)
		cfg->abi_version = c->val.abi_version;
	if (c->fields & RF_CFG_F_ISOLATED)
		cfg->isolated = c->val.isolated;
	if (c->fields & RF_CFG_F_DEADLINE)
		cfg->deadline_ns = c->val.deadline_ns;
	if (c->fields & RF_CFG_F_BUILTINS)
		cfg->builtins = c->val.builtins;
	if (c->fields & RF_CFG_F_FLAGS)
		cfg->flags = (cfg->flags & ~c->flags_mask) | (c->val.flags & c->flags_mask);
	if (c->fields & RF_CFG_F_SINCE)
		cfg->since_unix_ns = c->val.since_unix_ns;
}

int rf_config_update(const struct rf_maps *m, const struct rf_config_change *c,
		     struct rf_config *out)
{
	struct rf_config cfg;
	__u32 zero = 0;
	int err;

	err = rf_config_get(m, &cfg);
	if (err)
		return err;
	rf_config_apply_change(&cfg, c);
	if (bpf_map_update_elem(m->config, &zero, &cfg, BPF_ANY))
		return -errno;
	if (out)
		*out = cfg;
	/* the cache compares mode, built-ins and flags itself; bumped all the same (ABI.md) */
	return rf_policy_gen_bump(m);
}

static int gen_bump_fd(int fd)
{
	__u64 old = 0, gen = 0;
	__u32 zero = 0;

	if (fd < 0)
		return 0;
	/* random, not old + 1: two writers that read the same value still write different ones */
	if (getrandom(&gen, sizeof(gen), 0) != (ssize_t)sizeof(gen)) {
		struct timespec ts;

		clock_gettime(CLOCK_BOOTTIME, &ts);
		gen = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
	}
	bpf_map_lookup_elem(fd, &zero, &old);
	if (gen == old)
		gen = ~old;
	return bpf_map_update_elem(fd, &zero, &gen, BPF_ANY) ? -errno : 0;
}

int rf_policy_gen_bump(const struct rf_maps *m)
{
	return gen_bump_fd(m->gen);
}

int rf_policy_gen_bump_dir(const char *pin_dir)
{
	int fd = open_map(pin_dir, "rf_policy_gen"), ret;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	ret = gen_bump_fd(fd);
	close(fd);
	return ret;
}

__u64 rf_policy_gen_get(const struct rf_maps *m)
{
	__u64 gen = 0;
	__u32 zero = 0;

	if (m->gen >= 0)
		bpf_map_lookup_elem(m->gen, &zero, &gen);
	return gen;
}

__u64 rf_stat_sum(const struct rf_maps *m, __u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals, sum = 0;
	int i;

	if (ncpu <= 0 || m->stats < 0)
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
