/* SPDX-License-Identifier: GPL-2.0-only */
/* Loading, attaching and pinning the BPF object; opening the pinned maps. */
#ifndef RF_LOADER_H
#define RF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include "ringfence.h"

#define RF_PIN_DIR_DEFAULT "/sys/fs/bpf/ringfence"
#define RF_TC_PROG_PIN "rf_prog_tc_egress" /* the packet-socket guard, attached per interface */
#define RF_TC_HANDLE 0x5246 /* "RF" */
#define RF_TC_PRIO 1

/* Programs and the names of their pinned links, in attach order. */
struct rf_hook_desc {
	const char *prog; /* program name in the object */
	const char *link_pin; /* file name under the pin dir */
	const char *label; /* user-facing hook name */
};
extern const struct rf_hook_desc rf_hooks[];
extern const size_t rf_nr_hooks;

/* Names of the pinned maps. */
extern const char *const rf_map_names[];
extern const size_t rf_nr_maps;

struct rf_maps {
	int config;
	int net;
	int exe;
	int cgroup;
	int stats;
	int events;
};

struct rf_link_state {
	bool attached; /* pin present and the link is attached */
	__u64 cgroup_id; /* where it is attached */
	__u32 prog_id;
};

/* Check the kernel can run ringfence: BTF (the kernel's, or the file btf if not NULL), ring
 * buffer, sk storage, bpf_get_current_task() in cgroup progs. Returns 0 or -errno with a
 * message in err naming what is missing and how to fix it. */
int rf_probe_kernel(const char *btf, char *err, size_t errlen);

/* Check pin_dir lives on a mounted bpffs (its parent if it does not exist yet). */
int rf_check_bpffs(const char *pin_dir, char *err, size_t errlen);

/* Load, attach to the cgroup and pin everything that is not already pinned and attached.
 * Existing pinned maps are reused (their contents survive). Links attached to another cgroup
 * are an error (-EBUSY) naming that cgroup. btf: a BTF file describing the running kernel for
 * CO-RE (kernels without /sys/kernel/btf/vmlinux), NULL for the kernel's own. */
int rf_load(const char *pin_dir, const char *cgroup_dir, __u64 cgroup_id, const char *btf,
	    bool verbose, char *err, size_t errlen);

/* Unpin every link and map under pin_dir (links detach when the last reference goes). */
int rf_unload(const char *pin_dir);

/* Is anything pinned under pin_dir? */
bool rf_pins_present(const char *pin_dir);

/* State of each hook's link (array of rf_nr_hooks). */
void rf_links_state(const char *pin_dir, struct rf_link_state *st);

/* Open the pinned maps; -ENOENT when not loaded. rf_maps_close() closes what is open. */
int rf_maps_open(const char *pin_dir, struct rf_maps *m);
void rf_maps_close(struct rf_maps *m);

int rf_config_get(const struct rf_maps *m, struct rf_config *cfg);
int rf_config_set(const struct rf_maps *m, const struct rf_config *cfg);

/*
 * The packet-socket guard (tc egress) on every interface of the calling process's network
 * namespace except lo, where it is not already. Returns how many were attached (names filled)
 * or -errno. Interfaces are shared by the whole namespace: call it only where that is intended.
 */
int rf_tc_attach_all(const char *pin_dir, char *names, size_t nameslen);
/* Remove our filter from every interface of the current namespace. */
void rf_tc_detach_all(void);
/* Interfaces carrying our filter in the current namespace; returns the count. */
int rf_tc_list(char *names, size_t nameslen);

/* Sum a per-CPU counter. */
__u64 rf_stat_sum(const struct rf_maps *m, __u32 idx);

#endif /* RF_LOADER_H */
