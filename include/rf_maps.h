/* SPDX-License-Identifier: GPL-2.0-only */
/* The pinned maps: names, opening them, and the one writer of rf_config. */
#ifndef RF_MAPS_H
#define RF_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include "ringfence.h"

/*
 * Maps userspace opens, X(field of struct rf_maps, pinned name). The names are the ABI: they
 * must match the maps in bpf/ringfence.bpf.c and docs/ABI.md.
 */
#define RF_MAP_LIST(X)                                                                             \
	X(config, rf_config)                                                                       \
	X(net, rf_allow_net)                                                                       \
	X(exe, rf_allow_exe_v2)	 /* other agents' exe rules (any user) */                          \
	X(exe3, rf_allow_exe_v3) /* exe rules with their users */                                  \
	X(cgroup, rf_allow_cgroup)                                                                 \
	X(stats, rf_stats_v2)                                                                      \
	X(events, rf_events)
/* Maps only the programs use; pinned so a reload reuses them, removed by unload. */
#define RF_MAP_PRIVATE_LIST(X)                                                                     \
	X(sk_mark, rf_sk_mark_v2)                                                                  \
	X(sk_mark_v1, rf_sk_mark) /* ABI 1's socket marks: only read (upgraded hosts) */           \
	X(ratelimit, rf_ratelimit)                                                                 \
	X(dhcp_server, rf_dhcp_server)                                                             \
	X(sk_peer, rf_sk_peer)                                                                     \
	X(mgmt, rf_mgmt)	/* management channels by process and destination (user/mgmt.c) */ \
	X(build, rf_build)	/* which build's programs the links run */                         \
	X(stats_v1, rf_stats)	/* ABI 1's counters: only removed (unload) */                      \
	X(exe_v1, rf_allow_exe) /* ABI 1's exe rules (no generation): only removed */              \
	X(suppressed, rf_suppressed) /* held-back flows: the agent drains them */                  \
	X(net_hash, rf_net_hash)     /* the flat index of rf_allow_net (user/net_index.c) */       \
	X(net_sync, rf_net_sync)                                                                   \
	X(policy_gen, rf_policy_gen) /* the policy generation (rf_policy_gen_bump()) */            \
	X(sk_verdict, rf_sk_verdict) /* the verdict cache (bpf/cache.bpf.h) */                     \
	X(flow_memo, rf_flow_memo)   /* the cache's per-CPU memo of recent TCP allows */           \
	/* host rules (include/rf_host.h) */                                                       \
	X(host_name, rf_host_name)                                                                 \
	X(dns_resolver, rf_dns_resolver)                                                           \
	X(dns_pending, rf_dns_pending)                                                             \
	X(host_addr, rf_host_addr)                                                                 \
	X(sk_host, rf_sk_host)                                                                     \
	X(dns_scratch, rf_dns_scratch)

/*
 * Private maps userspace writes too, opened with the public ones when pinned; -1 when the pins
 * predate them (a host of an earlier build, before its next 'load'): then host rules cannot be
 * applied and say so. Each is also in RF_MAP_PRIVATE_LIST (pinning, unload).
 */
#define RF_MAP_OPTIONAL_LIST(X)                                                                    \
	X(host_name, rf_host_name)                                                                 \
	X(host_addr, rf_host_addr)                                                                 \
	X(dns_resolver, rf_dns_resolver)

struct rf_maps {
#define RF_X_FIELD(field, name) int field;
	RF_MAP_LIST(RF_X_FIELD)
	RF_MAP_OPTIONAL_LIST(RF_X_FIELD)
#undef RF_X_FIELD
	/* rf_net_hash, rf_net_sync: -1 over pins of a build without the index (optional) */
	int net_hash, net_sync;
	int gen; /* rf_policy_gen, -1 where the programs have none (an older build's pins) */
};
/* Every fd -1: what rf_maps_close() leaves and what it accepts. */
#define RF_X_CLOSED(field, name) .field = -1,
#define RF_X_INDEX_CLOSED	 .net_hash = -1, .net_sync = -1,
#define RF_MAPS_INIT                                                                               \
	{                                                                                          \
		RF_MAP_LIST(RF_X_CLOSED)                                                           \
		RF_MAP_OPTIONAL_LIST(RF_X_CLOSED) RF_X_INDEX_CLOSED.gen = -1,                      \
	}

/* Every pinned map name (public and private), for unload and "anything pinned?". */
extern const char *const rf_map_names[];
extern const size_t rf_nr_maps;

/*
 * Open the pinned maps; -ENOENT when not loaded, -EMEDIUMTYPE when one has another type or
 * layout than this build's (a foreign map pinned under ringfence's name), -EPROTO when rf_config is
 * pinned but not the rest of this ABI's maps (pins of an older ABI, e.g. ABI 1 without
 * rf_allow_exe_v2: their rf_config still says whether the host is isolated, see
 * rf_maps_open_config()). On failure every fd is closed. rf_maps_close() closes what is open.
 */
int rf_maps_open(const char *pin_dir, struct rf_maps *m);
/* Only rf_config (the same layout in every ABI), the other fds -1: for release and metrics over
 * pins of an older ABI. 0 or -errno. */
int rf_maps_open_config(const char *pin_dir, struct rf_maps *m);
/* Does fd (the map pinned as name) have the type and sizes this build uses for a map of
 * RF_MAP_LIST? 0 (also for names outside it), -EMEDIUMTYPE when not, or -errno. */
int rf_map_layout_check(const char *name, int fd);
void rf_maps_close(struct rf_maps *m);
/* One pinned map by name (a private one, which older pins may lack): its fd, or -errno. */
int rf_map_open_private(const char *pin_dir, const char *name);

int rf_config_get(const struct rf_maps *m, struct rf_config *cfg);

/* Fields of rf_config a writer may change; rf_config_update() leaves every other field alone. */
enum rf_config_field {
	RF_CFG_F_ABI = 1 << 0,
	RF_CFG_F_ISOLATED = 1 << 1,
	RF_CFG_F_DEADLINE = 1 << 2,
	RF_CFG_F_BUILTINS = 1 << 3,
	RF_CFG_F_FLAGS = 1 << 4, /* only the bits in flags_mask */
	RF_CFG_F_SINCE = 1 << 5,
};

struct rf_config_change {
	unsigned int fields;  /* RF_CFG_F_* */
	struct rf_config val; /* the new values of those fields */
	__u32 flags_mask;     /* with RF_CFG_F_FLAGS: which RF_CFG_* bits to take from val.flags */
};

/*
 * The one writer of rf_config, for the CLI and the agent alike: reads the current value right
 * before writing and changes only the named fields, so a field another agent set in the meantime
 * is kept. Callers hold the state lock (rf_state_lock()), which orders ringfence's own writers;
 * the map has no lock of its own for other agents (docs/ABI.md). *out, if not NULL, receives
 * what was written. Returns 0 or -errno.
 */
int rf_config_update(const struct rf_maps *m, const struct rf_config_change *c,
		     struct rf_config *out);

/* Apply the named fields of c to cfg (the pure part of rf_config_update, unit-tested). */
void rf_config_apply_change(struct rf_config *cfg, const struct rf_config_change *c);

/*
 * Bump the policy generation (include/ringfence.h, rf_policy_gen): write a new random value, so
 * every cached "allow" is judged again at its next packet. Called AFTER every change that can
 * alter a verdict: rf_config_update() and rf_policy_change() call it themselves; other writers
 * of the allow maps (exe tracking, management channels, DHCP servers) call it after their
 * change. A no-op returning 0 when m->gen is -1. 0 or -errno.
 */
int rf_policy_gen_bump(const struct rf_maps *m);
/* The same for a caller that holds no rf_maps: opens pin_dir's rf_policy_gen (absent: 0). */
int rf_policy_gen_bump_dir(const char *pin_dir);
/* The current value (0 when there is none), for tests and status. */
__u64 rf_policy_gen_get(const struct rf_maps *m);

/* Sum a per-CPU counter. */
__u64 rf_stat_sum(const struct rf_maps *m, __u32 idx);

#endif /* RF_MAPS_H */
