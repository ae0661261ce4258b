// SPDX-License-Identifier: GPL-2.0-only
/* The management channel's map entries and socket marks (see rf_mgmt.h). */
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "rf_maps.h"
#include "rf_mgmt.h"

static int open_pinned(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

static bool wanted(const struct rf_mgmt_key *k, const struct rf_addr_key *addrs, size_t n,
		   __u16 port)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (k->port == port && !memcmp(k->addr, addrs[i].addr, 16))
			return true;
	return false;
}

/* Delete the entries of tgid (all, or those not in addrs); with exe also those of other
 * processes of exe and of processes that are gone. */
static int prune(const char *pin_dir, int fd, __u32 tgid, const struct rf_exe_key *exe,
		 const struct rf_addr_key *addrs, size_t n, __u16 port)
{
	struct rf_mgmt_key keys[RF_MAX_MGMT], k, *prev = NULL;
	struct rf_mgmt_val v;
	size_t nk = 0, i, dropped = 0;
	int ret = 0, err;

	while (nk < RF_MAX_MGMT && !bpf_map_get_next_key(fd, prev, &k)) {
		keys[nk] = k;
		prev = &keys[nk++];
	}
	for (i = 0; i < nk; i++) {
		bool drop;

		if (bpf_map_lookup_elem(fd, &keys[i], &v))
			continue;
		if (keys[i].tgid == tgid)
			drop = !wanted(&keys[i], addrs, n, port);
		else /* an earlier agent's (restarted, or upgraded: its process is gone) */
			drop = (exe && !memcmp(&v.exe, exe, sizeof(*exe))) ||
			       (exe && kill((pid_t)keys[i].tgid, 0) && errno == ESRCH);
		if (drop && bpf_map_delete_elem(fd, &keys[i]) && errno != ENOENT)
			ret = -errno;
		else if (drop)
			dropped++;
	}
	/* a channel gone: its sockets' cached allows must not outlive it */
	if (dropped && (err = rf_policy_gen_bump_dir(pin_dir)) && !ret)
		ret = err;
	return ret;
}

int rf_mgmt_set(const char *pin_dir, __u32 tgid, const struct rf_exe_key *exe,
		const struct rf_addr_key *addrs, size_t n, __u16 port)
{
	struct rf_mgmt_val v = {.exe = *exe};
	int fd = open_pinned(pin_dir, "rf_mgmt"), ret = 0;
	size_t i;

	if (fd < 0)
		return fd;
	for (i = 0; i < n && !ret; i++) {
		struct rf_mgmt_key k = {.port = port, .tgid = tgid};

		memcpy(k.addr, addrs[i].addr, 16);
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			ret = -errno;
	}
	if (!ret)
		ret = prune(pin_dir, fd, tgid, exe, addrs, n, port);
	close(fd);
	return ret;
}

int rf_mgmt_clear(const char *pin_dir, __u32 tgid)
{
	int fd = open_pinned(pin_dir, "rf_mgmt"), ret;

	if (fd < 0)
		return fd;
	ret = prune(pin_dir, fd, tgid, NULL, NULL, 0, 0);
	close(fd);
	return ret;
}

int rf_mgmt_mark_socket(const char *pin_dir, int sock, __u32 tgid)
{
	struct rf_sk_mark m;
	int fd = open_pinned(pin_dir, "rf_sk_mark_v2"), ret = 0;

	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &sock, &m))
		memset(&m, 0, sizeof(m));
	m.flags |= RF_SK_MGMT;
	m.tgid = tgid;
	if (bpf_map_update_elem(fd, &sock, &m, BPF_ANY))
		ret = -errno;
	close(fd);
	return ret;
}
