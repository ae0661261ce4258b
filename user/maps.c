// SPDX-License-Identifier: GPL-2.0-only
/* The pinned maps: opening them and the one writer of rf_config. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "rf_maps.h"

#define RF_X_NAME(field, name) #name,
const char *const rf_map_names[] = {RF_MAP_LIST(RF_X_NAME) RF_MAP_PRIVATE_LIST(RF_X_NAME)};
#undef RF_X_NAME
const size_t rf_nr_maps = sizeof(rf_map_names) / sizeof(rf_map_names[0]);

static int open_map(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
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
#undef RF_X_CLOSE
}

int rf_maps_open(const char *pin_dir, struct rf_maps *m)
{
	int err = 0;

	*m = (struct rf_maps)RF_MAPS_INIT;
#define RF_X_OPEN(field, name)                                                                     \
	if (!err && (m->field = open_map(pin_dir, #name)) < 0)                                     \
		err = errno == ENOENT ? -ENOENT : -errno;
	RF_MAP_LIST(RF_X_OPEN)
#undef RF_X_OPEN
	if (err)
		rf_maps_close(m);
	return err;
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
