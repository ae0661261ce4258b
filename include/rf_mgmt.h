/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The management channel (rf_mgmt): the agent's own connection to its broker stays open while
 * isolated, allowed by process (thread group id and executable) and destination (the broker's
 * addresses and port), with nothing for the operator to add.
 */
#ifndef RF_MGMT_H
#define RF_MGMT_H

#include <stddef.h>
#include "ringfence.h"

/*
 * Make <pin_dir>/rf_mgmt allow process tgid, running exe, to reach each of addrs (IPv6 or
 * IPv4-mapped) on TCP port: the new entries are added first, then the other entries of tgid
 * and the entries of earlier processes of the same executable (a previous agent) or of
 * processes that no longer exist are removed.
 * Returns 0 or -errno (-ENOENT: not loaded).
 */
int rf_mgmt_set(const char *pin_dir, __u32 tgid, const struct rf_exe_key *exe,
		const struct rf_addr_key *addrs, size_t n, __u16 port);
/* Remove every entry of process tgid. 0 or -errno. */
int rf_mgmt_clear(const char *pin_dir, __u32 tgid);
/*
 * Mark the connected socket fd as process tgid's management channel in <pin_dir>/rf_sk_mark_v2,
 * so a connection opened before isolation keeps its packets flowing after it. 0 or -errno.
 */
int rf_mgmt_mark_socket(const char *pin_dir, int fd, __u32 tgid);

#endif /* RF_MGMT_H */
