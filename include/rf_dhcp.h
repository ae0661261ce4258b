/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Known DHCP servers for the DHCP built-in (the rf_dhcp_server map): the config's
 * "dhcp-server ADDR" lines and the servers named in the host's lease files.
 */
#ifndef RF_DHCP_H
#define RF_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include "ringfence.h"
#include "rf_config.h"

/* Where lease files are looked for, ':'-separated; RINGFENCE_DHCP_LEASES overrides it. */
#define RF_DHCP_LEASE_DIRS                                                                         \
	"/var/lib/dhcp:/var/lib/dhclient:/run/systemd/netif/leases:/var/lib/NetworkManager"

/*
 * The server addresses one lease file names, appended to out[*n] (IPv4 mapped; duplicates
 * skipped) while *n < max. Understands dhclient ("option dhcp-server-identifier 192.0.2.1;",
 * also NetworkManager's dhclient-*.lease) and systemd-networkd / NetworkManager internal
 * ("SERVER_ADDRESS=192.0.2.1"). Anything else in the text is ignored. Returns how many it added.
 */
size_t rf_dhcp_lease_servers(const char *text, struct rf_addr_key *out, size_t *n, size_t max);

/* The servers of every regular file in the ':'-separated dirs (missing dirs are skipped). */
size_t rf_dhcp_lease_dirs(const char *dirs, struct rf_addr_key *out, size_t *n, size_t max);

/*
 * Make <pin_dir>/rf_dhcp_server hold the config's servers and those of the lease files: add
 * first, then delete the rest. Without that map (programs older than it) nothing happens.
 * frozen (isolated): the lease files are not read; the lease servers in the map stay as they
 * were at isolate (a lease is what a DHCP server on the link said, so a planted one must not
 * widen an isolation in force); the config's servers still follow the config. Each entry's
 * value says where it came from (RF_DHCP_SERVER_*). Returns 0 or -errno.
 */
int rf_dhcp_apply(const char *pin_dir, const struct rf_conf *c, bool frozen);

#endif /* RF_DHCP_H */
