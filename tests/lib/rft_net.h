/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sockets of the kernel tests: addresses, listeners, clients that run one exchange from a fresh
 * child in the test's cgroup and netns and classify its outcome, and long-lived connections held
 * by a child.
 */
#ifndef RFT_NET_H
#define RFT_NET_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

enum rft_proto {
	RFT_TCP,
	RFT_UDP,	   /* unconnected: sendto() (cgroup sendmsg hooks) */
	RFT_UDP_CONNECTED, /* connect() then send() (cgroup connect hooks) */
	RFT_MPTCP,	   /* IPPROTO_MPTCP stream (rft_connect(), rft_server_start_proto()) */
	RFT_SCTP,	   /* IPPROTO_SCTP stream (the same) */
	RFT_SMC, /* AF_SMC stream of the family given (rft_connect() only): TCP underneath */
};

/* IPPROTO_MPTCP or IPPROTO_SCTP for those, else 0 (the default of TCP and UDP). */
int rft_ipproto(enum rft_proto proto);
/* Is proto a stream protocol (TCP, MPTCP, SCTP, SMC)? */
bool rft_is_stream(enum rft_proto proto);

/* A non-blocking socket of `type` bound to 0.0.0.0:port or [::]:port (IPV6_V6ONLY), with
 * SO_REUSEADDR; SOCK_STREAM ones listen. Returns the fd or -errno. */
int rft_listen(int family, int type, unsigned short port);
/* rft_listen() with protocol ipproto (0 = the default of type). */
int rft_listen_ipproto(int family, int type, int ipproto, unsigned short port);

/* Fill ss/len with addr:port parsed for `family` (AF_INET or AF_INET6). Returns 0 or -EINVAL. */
int rft_sockaddr(struct sockaddr_storage *ss, socklen_t *len, int family, const char *addr,
		 unsigned short port);

/* A non-blocking socket from the calling process to addr:port: streams and connected UDP connect
 * within timeout_ms, RFT_UDP is only created. Returns the fd or -errno. */
int rft_connect(int family, enum rft_proto proto, const char *addr, unsigned short port,
		int timeout_ms);
/* Is MPTCP really in use on stream socket fd (TCP_IS_MPTCP)? 1/0, or -1 when the kernel cannot
 * tell (Linux < 5.16). */
int rft_mptcp_in_use(int fd);

enum rft_outcome {
	RFT_OK,	     /* connected/sent and the whole payload echoed back */
	RFT_EPERM,   /* connect()/sendto() failed with EPERM */
	RFT_TIMEOUT, /* no connection or no echo within the timeout */
	RFT_REFUSED, /* ECONNREFUSED */
	RFT_ERROR,   /* anything else (err says what) */
};

struct rft_result {
	enum rft_outcome outcome;
	int err;    /* errno of the failing call, 0 when none */
	int echoed; /* bytes echoed back */
};

#define RFT_PAYLOAD_LEN 16

/* One exchange from a fresh child in netns (and cgroup if non-NULL): connect or send
 * RFT_PAYLOAD_LEN bytes to addr:port (addr parsed for `family`, so "::ffff:192.0.2.2" works
 * with AF_INET6) and wait up to timeout_ms for the echo. */
struct rft_result rft_client(const char *netns, const char *cgroup, int family,
			     enum rft_proto proto, const char *addr, unsigned short port,
			     int timeout_ms);
/* "OK", "EPERM", "TIMEOUT", "REFUSED" or "ERROR". */
const char *rft_outcome_name(enum rft_outcome o);

/* A long-lived connection held by a child in netns/cgroup (TCP or connected UDP). */
struct rft_conn {
	pid_t pid;
	int ctl; /* control socket to the child */
};

/* Connect from a child; it then serves send/recv requests. Returns 0 or -errno. */
int rft_conn_open(struct rft_conn *c, const char *netns, const char *cgroup, int family,
		  enum rft_proto proto, const char *addr, unsigned short port, int timeout_ms);
/* send() len bytes: bytes sent or -errno. */
long rft_conn_send(struct rft_conn *c, int len);
/* Wait up to timeout_ms for data: bytes read (0 = nothing arrived) or -errno. */
long rft_conn_recv(struct rft_conn *c, int timeout_ms);
/* Kill the child (its socket goes with it). */
void rft_conn_close(struct rft_conn *c);

/* Read from fd until `want` bytes arrived, the peer closed or `deadline` (rft_now_ms()) passed:
 * bytes read, or -errno of a failure before anything arrived. */
int rft_recv_upto(int fd, int want, long deadline);

#endif /* RFT_NET_H */
