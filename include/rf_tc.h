/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The packet-socket guard: the tc egress program on the interfaces of the calling process's
 * network namespace. Interfaces are shared by the whole namespace: attach only where intended.
 */
#ifndef RF_TC_H
#define RF_TC_H

#include <stddef.h>

#define RF_TC_HANDLE 0x5246 /* "RF" */
#define RF_TC_PRIO   1

/*
 * Attach the program pinned at prog_pin to every interface except lo that does not carry it
 * yet. Returns how many were attached (their names, space-separated, in names) or -errno.
 */
int rf_tc_attach_all(const char *prog_pin, char *names, size_t nameslen);
#define RF_TC_MAX_NETNS 1024 /* namespaces guarded in one walk of a target */

/*
 * The same in every other network namespace that a process of cgroup cg_dir (or below) is in:
 * containers and services with namespaces of their own. Returns 0, or the last -errno.
 */
int rf_tc_attach_cgroup_netns(const char *prog_pin, const char *cg_dir);
/* Remove our filter from every interface of the current namespace. */
void rf_tc_detach_all(void);
/* Call fn for each interface carrying our filter; returns how many there are. */
int rf_tc_for_each(void (*fn)(const char *ifname, void *arg), void *arg);

#endif /* RF_TC_H */
