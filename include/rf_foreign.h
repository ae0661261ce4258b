/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sockets a target holds but did not create (issue 21 item 2): a socket belongs to the cgroup of
 * the process that created it, and the programs run for that cgroup. A listener that systemd (PID
 * 1) made for socket activation, or any socket inherited across fork() from outside the target or
 * passed in with SCM_RIGHTS, is never judged by the target's programs. While the target is
 * isolated, such sockets are found (/proc/PID/fd of the target's processes, the socket's cgroup
 * from sock_diag's INET_DIAG_CGROUP_ID) and cut with SOCK_DESTROY, unless loopback-only, a
 * connection the target's rules allow, or held by a process the rules allow.
 */
#ifndef RF_FOREIGN_H
#define RF_FOREIGN_H

#include <stdbool.h>
#include <sys/types.h>
#include "rf_maps.h"

/* One socket that was (or could not be) cut. */
struct rf_foreign_sock {
	pid_t pid;		    /* a process of the target that holds it */
	__u64 cgroup_id;	    /* where it was created (outside the target) */
	__u8 family, proto;	    /* AF_INET/AF_INET6, IPPROTO_TCP/UDP */
	__u8 state;		    /* TCP state (10 = listening), 7 for unconnected UDP */
	__u8 local[16], remote[16]; /* IPv6 or IPv4-mapped */
	__u16 lport, rport;
	int err; /* 0 = destroyed, else -errno of SOCK_DESTROY */
};

typedef void (*rf_foreign_fn)(const struct rf_foreign_sock *s, void *arg);

/*
 * Find the foreign inet sockets (TCP, UDP; IPv4, IPv6) held by processes of cgroup dir cg_dir
 * and below, in every network namespace they are in, and destroy them; fn reports each. Returns
 * how many were found, or -errno. The host target (the cgroup2 root) holds no foreign socket.
 */
int rf_foreign_sockets_cut(const char *cg_dir, const struct rf_maps *m, rf_foreign_fn fn,
			   void *arg);

/*
 * Keep socket s (no cut)? Loopback-only (bound to or connected to a loopback address), or a
 * connection whose remote address, ports and protocol rule_allows() accepts. Pure.
 */
bool rf_foreign_keep(const struct rf_foreign_sock *s,
		     bool (*rule_allows)(const struct rf_foreign_sock *s, void *arg), void *arg);

struct rf_ctx;

/*
 * rf_foreign_sockets_cut() for an isolated target, recorded: one "socket-cut" action in the
 * history naming the sockets (and which could not be cut), a line on stderr; fn (may be NULL)
 * also sees each. Returns how many were found, or -errno.
 */
int rf_svc_cut_foreign(struct rf_ctx *ctx, const struct rf_maps *m, rf_foreign_fn fn, void *arg);

/* "pid 123: tcp 0.0.0.0:8080 listening, made in cgroup 4242" (for the history and logs). */
void rf_foreign_describe(const struct rf_foreign_sock *s, char *buf, size_t len);

#endif /* RF_FOREIGN_H */
