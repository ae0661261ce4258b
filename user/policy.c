// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <unistd.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "rf_hosts.h"
#include "rf_policy.h"
#include "rf_net_index.h"
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

int rf_exe_user_resolve(const char *path, const char *user, __u32 *uid, bool *any, char *err,
			size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096], *end;
	unsigned long v;
	struct stat st;

	*any = false;
	if (!user[0]) { /* the operator meant the file's owner (root for a packaged binary) */
		if (stat(path, &st)) {
			int e = errno;

			snprintf(err, errlen, "cannot use executable %s: %s", path, strerror(e));
			return -e;
		}
		*uid = st.st_uid;
		return 0;
	}
	if (!strcmp(user, "any")) {
		*any = true;
		return 0;
	}
	errno = 0;
	v = strtoul(user, &end, 10);
	if (!*end && !errno && v < 0xffffffffUL) {
		*uid = (__u32)v;
		return 0;
	}
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) || !res) {
		snprintf(err, errlen,
			 "unknown user '%s' in 'exe %s user %s': give a user name, a "
			 "uid or 'any'",
			 user, path, user);
		return -ENOENT;
	}
	*uid = res->pw_uid;
	return 0;
}

int rf_exe_users_change(struct rf_exe_users *v, __u32 uid, bool any, bool add)
{
	__u32 n = v->count > RF_EXE_MAX_USERS ? RF_EXE_MAX_USERS : v->count, i;

	v->count = n;
	if (any) {
		if (add == !!(v->flags & RF_EXE_ANY_USER))
			return add ? -EEXIST : -ENOENT;
		v->flags = add ? v->flags | RF_EXE_ANY_USER : v->flags & ~RF_EXE_ANY_USER;
		return 0;
	}
	for (i = 0; i < n; i++)
		if (v->uid[i] == uid)
			break;
	if (add) {
		if (i < n)
			return -EEXIST;
		if (n == RF_EXE_MAX_USERS)
			return -ENOSPC;
		v->uid[v->count++] = uid;
		return 0;
	}
	if (i == n)
		return -ENOENT;
	memmove(&v->uid[i], &v->uid[i + 1], (n - i - 1) * sizeof(v->uid[0]));
	v->uid[--v->count] = 0;
	return 0;
}

/*
 * Allow (or stop allowing) executable k for one user (or any) in rf_allow_exe_v3. Adding also
 * moves k out of rf_allow_exe_v2, where it allowed every user (an older build's rule).
 */
static int change_exe(const struct rf_maps *m, const struct rf_exe_key *k, __u32 uid, bool any,
		      bool add, char *err, size_t errlen)
{
	struct rf_exe_users v = {};
	int ret;

	if (bpf_map_lookup_elem(m->exe3, k, &v))
		memset(&v, 0, sizeof(v));
	ret = rf_exe_users_change(&v, uid, any, add);
	if (ret == -ENOSPC)
		snprintf(err, errlen,
			 "this executable is allowed for %d users already: use 'user any' "
			 "or a cgroup rule",
			 RF_EXE_MAX_USERS);
	if (ret)
		return ret;
	if (!v.count && !(v.flags & RF_EXE_ANY_USER))
		ret = bpf_map_delete_elem(m->exe3, k) ? -errno : 0;
	else
		ret = bpf_map_update_elem(m->exe3, k, &v, BPF_ANY) ? -errno : 0;
	if (ret) {
		snprintf(err, errlen, "failed to update rf_allow_exe_v3: %s%s", strerror(-ret),
			 ret == -E2BIG ? " (map full)" : "");
		return ret;
	}
	if (add)
		bpf_map_delete_elem(m->exe, k); /* now allowed for the users named, no longer all */
	return 0;
}

/* Bring the flat index (rf_net_hash) in step with the trie's rule at k, if this build has one. */
static int index_follow(const struct rf_maps *m, const struct rf_net_key *k, char *err,
			size_t errlen)
{
	int ret;

	if (m->net_hash < 0 || m->net_sync < 0)
		return 0;
	ret = rf_net_index_update(m->net, m->net_hash, m->net_sync, k);
	if (ret < 0)
		snprintf(err, errlen, "failed to update rf_net_hash: %s", strerror(-ret));
	return ret < 0 ? ret : 0;
}

/*
 * Before a rule loses entries (v: what remains) or goes (v NULL): the same in the index first,
 * so the index never allows what the trie no longer does, not even between the two writes.
 */
static int index_narrow(const struct rf_maps *m, const struct rf_net_key *k,
			const struct rf_net_val *v, char *err, size_t errlen)
{
	struct rf_net_key hk;
	int ret;

	if (m->net_hash < 0 || m->net_sync < 0 || !rf_net_index_valid(m->net_sync))
		return 0;
	rf_net_index_key(k, &hk);
	if (!v)
		ret = rf_net_index_forget(m->net_hash, m->net_sync, k);
	else if (bpf_map_lookup_elem(m->net_hash, &hk, &(struct rf_net_val){0}))
		ret = 0; /* not indexed: nothing there to narrow */
	else
		ret = bpf_map_update_elem(m->net_hash, &hk, v, BPF_ANY) ? -errno : 0;
	if (ret)
		snprintf(err, errlen, "failed to update rf_net_hash: %s", strerror(-ret));
	return ret;
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
		return index_follow(m, &r->key, err, errlen); /* the trie first: allows follow */
	}
	ret = rf_net_val_del(&v, &r->entry, &empty);
	if (ret)
		return ret;
	ret = index_narrow(m, &r->key, empty ? NULL : &v, err, errlen); /* the index first */
	if (!ret && empty)
		ret = bpf_map_delete_elem(m->net, &r->key) ? -errno : 0;
	else if (!ret)
		ret = bpf_map_update_elem(m->net, &r->key, &v, BPF_ANY) ? -errno : 0;
	if (ret) {
		snprintf(err, errlen, "failed to update rf_allow_net: %s", strerror(-ret));
		return ret;
	}
	return index_follow(m, &r->key, err, errlen);
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

static int policy_change(const struct rf_maps *m, const struct rf_rule *r, bool add,
			 const char *target_dir, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct rf_exe_key k;
	__u32 uid = 0;
	bool any;
	__u64 id;
	int ret;

	switch (r->kind) {
	case RF_RULE_NET:
		return change_net(m, r, add, err, errlen);
	case RF_RULE_HOST:
		return rf_host_change(m, r, add, err, errlen);
	case RF_RULE_EXE:
		ret = rf_exe_key_for(r->path, &k, err, errlen);
		if (!ret)
			ret = rf_exe_user_resolve(r->path, r->user, &uid, &any, err, errlen);
		if (ret)
			return ret;
		ret = change_exe(m, &k, uid, any, add, err, errlen);
		/* a rule of an older build, still in rf_allow_exe_v2 (any user): delete it there */
		if (ret == -ENOENT && !add && !bpf_map_delete_elem(m->exe, &k))
			ret = 0;
		return ret;
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

int rf_policy_change(const struct rf_maps *m, const struct rf_rule *r, bool add,
		     const char *target_dir, char *err, size_t errlen)
{
	int ret = policy_change(m, r, add, target_dir, err, errlen), bump;

	/* after the change, failed or not (a part may have been written): cached allows re-judge */
	bump = rf_policy_gen_bump(m);
	if (!ret && bump)
		snprintf(err, errlen, "failed to bump rf_policy_gen: %s", strerror(-bump));
	return ret ? ret : bump;
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
	unsigned char key[sizeof(struct rf_host_key)], next[sizeof(struct rf_host_key)];
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
