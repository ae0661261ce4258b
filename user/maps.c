// SPDX-License-Identifier: GPL-2.0-only
/* The pinned maps: opening them and the one writer of rf_config. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "rf_maps.h"

#define RF_X_NAME(field, name) #name,
const char *const rf_map_names[] = {RF_MAP_LIST(RF_X_NAME) RF_MAP_PRIVATE_LIST(RF_X_NAME)};
#undef RF_X_NAME
const size_t rf_nr_maps = sizeof(rf_map_names) / sizeof(rf_map_names[0]);

/* The type and sizes of each map in RF_MAP_LIST, as bpf/ringfence.bpf.c defines them. */
static const struct map_layout {
	const char *name;
	enum bpf_map_type type;
	__u32 key, value;
} layouts[] = {
    {"rf_config", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct rf_config)},
    {"rf_allow_net", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct rf_net_key), sizeof(struct rf_net_val)},
    {"rf_allow_exe_v2", BPF_MAP_TYPE_HASH, sizeof(struct rf_exe_key), sizeof(struct rf_allow_val)},
    {"rf_allow_cgroup", BPF_MAP_TYPE_HASH, sizeof(__u64), sizeof(struct rf_allow_val)},
    {"rf_stats_v2", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(__u64)},
    {"rf_events", BPF_MAP_TYPE_RINGBUF, 0, 0},
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
#undef RF_X_CLOSE
}

int rf_maps_open(const char *pin_dir, struct rf_maps *m)
{
	int err = 0;

	*m = (struct rf_maps)RF_MAPS_INIT;
#define RF_X_OPEN(field, name)                                                                     \
	if (!err && (m->field = open_map(pin_dir, #name)) < 0)                                     \
		err = m->field;
	RF_MAP_LIST(RF_X_OPEN)
#undef RF_X_OPEN
	/* rf_config is there but not the rest of this ABI's set: pins of an older ABI */
	if (err == -ENOENT && m->config >= 0)
		err = -EPROTO;
	if (err)
		rf_maps_close(m);
	return err;
}

int rf_maps_open_config(const char *pin_dir, struct rf_maps *m)
{
	*m = (struct rf_maps)RF_MAPS_INIT;
	m->config = open_map(pin_dir, "rf_config");
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
	return 0;
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
