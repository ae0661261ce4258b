/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Echo servers of the kernel tests: a child in a netns (and cgroup) that serves TCP (or MPTCP,
 * SCTP) and UDP on up to RFT_MAX_PORTS ports, v4 and v6, and counts what it receives per port and
 * family in memory shared with the test.
 */
#ifndef RFT_SERVER_H
#define RFT_SERVER_H

#include <stdbool.h>
#include <sys/types.h>
#include "rft_net.h"

#define RFT_MAX_PORTS 4

/* What one (port, family) received. Updated by the server process, read by the test. */
struct rft_port_stats {
	unsigned int conns;	      /* TCP connections (SCTP: associations) accepted */
	unsigned int mptcp;	      /* of them, with MPTCP really in use (rft_mptcp_in_use()) */
	unsigned long long tcp_bytes; /* TCP (MPTCP, SCTP) bytes received (and echoed) */
	unsigned int dgrams;	      /* UDP datagrams received (and echoed) */
	unsigned long long udp_bytes;
};

struct rft_shared;

struct rft_server {
	pid_t pid;
	int nports;
	unsigned short ports[RFT_MAX_PORTS];
	struct rft_shared *sh; /* shared memory with the server process */
};

/* Start an echo server in netns (and cgroup, if non-NULL): TCP and UDP on every port, on
 * 0.0.0.0 and on [::] (IPV6_V6ONLY), counting per port and family. Returns once it listens:
 * 0, or -errno. Stopped by rft_server_stop() or rft_teardown(). */
int rft_server_start(struct rft_server *s, const char *netns, const char *cgroup,
		     const unsigned short *ports, int nports);
/* rft_server_start() serving stream protocol `stream` (RFT_TCP, RFT_MPTCP or RFT_SCTP) in place of
 * TCP (counted as TCP), and UDP only if `udp`. */
int rft_server_start_proto(struct rft_server *s, const char *netns, const char *cgroup,
			   enum rft_proto stream, bool udp, const unsigned short *ports,
			   int nports);
/* Kill the server and unmap its counters; s is zeroed. */
void rft_server_stop(struct rft_server *s);
/* Counters of port `port` for family AF_INET or AF_INET6 (the family of the received packet:
 * ::ffff:a.b.c.d traffic counts as AF_INET). */
struct rft_port_stats rft_server_stats(const struct rft_server *s, unsigned short port, int family);
/* Make the server send one byte on every accepted TCP connection and one datagram to the last
 * UDP sender of each socket. Returns how many sends succeeded. */
int rft_server_push(struct rft_server *s);

#endif /* RFT_SERVER_H */
