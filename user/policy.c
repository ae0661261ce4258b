// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "rf_policy.h"
#include "rf_target.h"
#include "rf_util.h"

/* The file's inode generation, or RF_EXE_GEN_ANY where the filesystem does not tell. */
static __u32 exe_generation(const char *path)
{
	unsigned int gen = RF_EXE_GEN_ANY;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return RF_EXE_GEN_ANY;
	if (ioctl(fd, FS_IOC_GETVERSION, &gen))
		gen = RF_EXE_GEN_ANY;
	close(fd);
	return gen;
}

int rf_exe_key_for(const char *path, struct rf_exe_key *k, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st)) {
		int e = errno;

		snprintf(err, errlen, "cannot use executable %s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		return -EINVAL;
	}
	memset(k, 0, sizeof(*k));
	k->dev = rf_kernel_dev(st.st_dev);
	k->ino = st.st_ino;
	k->gen = exe_generation(path);
	return 0;
}

static int change_net(const struct rf_maps *m, const struct rf_rule *r, bool add, char *err,
		      size_t errlen)
{
	struct rf_net_val v;
	int ret, empty = 0;

	/* exact-key lookup: an LPM trie lookup with the full key returns the longest match, so
	 * compare the stored prefix length to be sure this very prefix exists */
	memset(&v, 0, sizeof(v));
	if (bpf_map_lookup_elem(m->net, &r->key, &v) || v.prefixlen != r->key.prefixlen)
		memset(&v, 0, sizeof(v));
	if (add) {
		ret = rf_net_val_add(&v, r->key.prefixlen, &r->entry);
		if (ret == -ENOSPC)
			snprintf(err, errlen,
				 "this prefix already has %d rules: merge port ranges or use 'any'",
				 RF_NET_MAX_ENTRIES);
		if (ret)
			return ret;
		if (bpf_map_update_elem(m->net, &r->key, &v, BPF_ANY)) {
			ret = -errno;
			snprintf(err, errlen, "failed to update rf_allow_net: %s%s", strerror(-ret),
				 ret == -E2BIG || ret == -ENOSPC ? " (rule map full)" : "");
			return ret;
		}
		return 0;
	}
	ret = rf_net_val_del(&v, &r->entry, &empty);
	if (ret)
		return ret;
	if (empty)
		ret = bpf_map_delete_elem(m->net, &r->key) ? -errno : 0;
	else
		ret = bpf_map_update_elem(m->net, &r->key, &v, BPF_ANY) ? -errno : 0;
	if (ret)
		snprintf(err, errlen, "failed to update rf_allow_net: %s", strerror(-ret));
	return ret;
}

static int change_hash(int fd, const void *key, bool add, const char *map, char *err, size_t errlen)
{
	struct rf_allow_val v = {};
	int ret;

	if (add) {
		if (!bpf_map_lookup_elem(fd, key, &v))
			return -EEXIST;
		ret = bpf_map_update_elem(fd, key, &v, BPF_NOEXIST) ? -errno : 0;
	} else {
		ret = bpf_map_delete_elem(fd, key) ? -errno : 0;
		if (ret == -ENOENT)
			return ret;
	}
	if (ret)
		snprintf(err, errlen, "failed to update %s: %s%s", map, strerror(-ret),
			 ret == -E2BIG ? " (map full)" : "");
	return ret;
}

int rf_policy_change(const struct rf_maps *m, const struct rf_rule *r, bool add,
		     const char *target_dir, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct rf_exe_key k;
	__u64 id;
	int ret;

	switch (r->kind) {
	case RF_RULE_NET:
		return change_net(m, r, add, err, errlen);
	case RF_RULE_EXE:
		ret = rf_exe_key_for(r->path, &k, err, errlen);
		if (ret)
			return ret;
		return change_hash(m->exe, &k, add, "rf_allow_exe_v2", err, errlen);
	case RF_RULE_CGROUP:
		ret = rf_cgroup_resolve(r->path, dir, sizeof(dir), &id);
		if (ret) {
			snprintf(err, errlen, "cannot use cgroup %s: %s", r->path,
				 ret == -ENOTDIR ? "not a cgroup2 directory" : strerror(-ret));
			return ret;
		}
		/* by id along the target's ancestry: "MNT/." or "X/.." is the ancestor it names */
		ret = add && target_dir ? rf_target_covers(target_dir, id) : 0;
		if (ret) {
			snprintf(err, errlen,
				 ret > 0
				     ? "cgroup %s contains every isolated process: allowing it "
				       "would turn isolation off; name a service's own cgroup "
				       "instead"
				     : "cgroup %s: cannot tell whether it contains the target, so "
				       "it is not allowed (is the target's cgroup gone?)",
				 r->path);
			return -EINVAL;
		}
		return change_hash(m->cgroup, &id, add, "rf_allow_cgroup", err, errlen);
	}
	return -EINVAL;
}

int rf_policy_for_each_net(const struct rf_maps *m,
			   int (*fn)(const struct rf_net_key *k, const struct rf_net_entry *e,
				     void *arg),
			   void *arg)
{
	struct rf_net_key key, next;
	struct rf_net_val v;
	void *prev = NULL;
	__u32 i, n;

	while (!bpf_map_get_next_key(m->net, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->net, &key, &v))
			continue;
		n = v.count > RF_NET_MAX_ENTRIES ? RF_NET_MAX_ENTRIES : v.count;
		for (i = 0; i < n; i++)
			if (fn(&key, &v.e[i], arg))
				return 0;
	}
	return 0;
}

size_t rf_map_count(int fd, size_t key_size, size_t limit)
{
	unsigned char key[64], next[64];
	void *prev = NULL;
	size_t n = 0;

	if (key_size > sizeof(key))
		return 0;
	while (n < limit && !bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}
