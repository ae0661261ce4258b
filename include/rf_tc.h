/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The packet-socket guard: the tc egress program on the interfaces of the calling process's
 * network namespace. Interfaces are shared by the whole namespace: attach only where intended.
 */
#ifndef RF_TC_H
#define RF_TC_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define RF_TC_HANDLE_LEGACY 0x5246 /* "RF": the one filter handle of versions before targets */
#define RF_TC_PRIO	    1

/*
 * Each target's instance of the tc program is its own filter on an interface (prio 1), told apart
 * by its handle: the top bit set (other tools number their filters from 1) and the low 31 bits
 * of the target's cgroup id (the cgroup directory's inode number, unique among live cgroups). A
 * pass returns TC_ACT_UNSPEC, so every target's filter judges the packet. A filter of another
 * program at our handle is never replaced or removed (rf_tc_attach_all() warns).
 */
static inline __u32 rf_tc_handle(__u64 cg_id)
{
	return 0x80000000u | ((__u32)cg_id & 0x7fffffffu);
}

/*
 * Attach the program pinned at prog_pin to every interface except lo that does not carry it
 * yet. Returns how many were attached (their names, space-separated, in names) or -errno.
 */
int rf_tc_attach_all(const char *prog_pin, __u32 handle, char *names, size_t nameslen);
#define RF_TC_MAX_NETNS 1024 /* namespaces guarded in one walk of a target */

/*
 * The same in every network namespace that a process of cgroup cg_dir (or below) is in:
 * containers and services with namespaces of their own; the caller's own namespace only with
 * self. Returns 0, or the last -errno.
 */
int rf_tc_attach_cgroup_netns(const char *prog_pin, __u32 handle, const char *cg_dir, bool self);

/*
 * The wall's mode in each network namespace a process of cg_dir (or below) is in, as
 * rf_tc_attach_cgroup_netns() chooses it now: owned when no process outside the target uses the
 * namespace (a container's own), where every packet is judged (rf_prog_tcns_*); otherwise only
 * the target's sockets' packets. fn gets the namespace's inode, a pid of the target in it and
 * the mode. Returns how many namespaces there are.
 */
int rf_tc_netns_modes(const char *cg_dir,
		      void (*fn)(unsigned long netns, int pid, bool owned, void *arg), void *arg);
/*
 * Remove the filter `handle` from every interface of the current namespace, and the legacy
 * filter of older versions where it runs the program pinned at prog_pin (NULL: not that).
 */
void rf_tc_detach_all(__u32 handle, const char *prog_pin);
/* The id of the program pinned at path, 0 if none (or path NULL). */
__u32 rf_pinned_prog_id(const char *path);

/*
 * Where the filter `handle` runs program old_id on an interface of this namespace, put program
 * prog_fd in its place (one netlink replace: the interface is never unguarded). Returns how many
 * were replaced or -errno (the first failure; the others are still tried).
 */
int rf_tc_replace_prog(__u32 handle, __u32 old_id, int prog_fd);
/* Call fn for each interface carrying the filter `handle`; returns how many there are. */
int rf_tc_for_each(__u32 handle, void (*fn)(const char *ifname, void *arg), void *arg);

#endif /* RF_TC_H */
