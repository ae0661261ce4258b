/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * DNS for the host-rule tests: a responder in a netns that answers what the test configured (and
 * forges on request), a client that looks a name up from the test's cgroup and may connect to the
 * address it got, a stub forwarder (127.0.0.53 as systemd-resolved sets it up), and direct
 * access to the host-rule maps of the test's pin dir.
 */
#ifndef RFT_RESOLVER_H
#define RFT_RESOLVER_H

#include <sys/types.h>
#include "rf_host.h"
#include "rft_net.h"

#define RFT_DNS_MAX_RECS 16
#define RFT_DNS_A	 1
#define RFT_DNS_CNAME	 5
#define RFT_DNS_AAAA	 28

struct rft_resolver_rec {
	char name[64]; /* owner, dotted, any case */
	unsigned short type;
	char data[64]; /* an address (A, AAAA) or a dotted name (CNAME) */
	unsigned int ttl;
};

/* What the responder answers, shared with it (the test may change it at any time). */
struct rft_resolver_ctl {
	int nrec;
	struct rft_resolver_rec rec[RFT_DNS_MAX_RECS];
	int txid_delta;	      /* answer with the query's txid + this (forgery) */
	char from4[32];	      /* if set: IPv4 answers leave from this source address (forgery) */
	unsigned int queries; /* queries received */
};

struct rft_resolver {
	pid_t pid;
	struct rft_resolver_ctl *ctl;
};

/* Start a responder on UDP 0.0.0.0:53 and [::]:53 in netns. 0 or -errno. Answers: the question,
 * the CNAME chain from it (records of ctl, in order), then the records of the question's type
 * owned by the chain's last name; NOERROR with no records for unknown names. */
int rft_resolver_start(struct rft_resolver *d, const char *netns);
/* Kill the responder and unmap its control block. */
void rft_resolver_stop(struct rft_resolver *d);
/* Replace every record of (name, type) by one with data and ttl; data NULL: only remove. */
void rft_resolver_set(struct rft_resolver *d, const char *name, unsigned short type,
		      const char *data, unsigned int ttl);

/* What rft_dns_lookup() saw. */
struct rft_lookup {
	int answered;		/* an answer with the query's txid arrived */
	int naddr;		/* addresses of the question's type in it */
	char addr[64];		/* the first of them */
	struct rft_result conn; /* with port: the TCP exchange with addr:port */
};

/* From a child in netns/cgroup: query `resolver` port 53 (a family socket, unconnected) for name
 * (type A or AAAA), wait up to timeout_ms for the answer; then, with port != 0, connect over TCP
 * to the first address at once and exchange RFT_PAYLOAD_LEN bytes (conn; RFT_ERROR when there
 * was no address). */
struct rft_lookup rft_dns_lookup(const char *netns, const char *cgroup, int family,
				 const char *resolver, const char *name, unsigned short type,
				 unsigned short port, int timeout_ms);

/* Send an answer nobody asked for, from netns: src port 53 -> dst:dport with txid, for name
 * (type A or AAAA) with one address. 0 or -errno. */
int rft_dns_send_answer(const char *netns, int family, const char *dst, unsigned short dport,
			unsigned short txid, const char *name, unsigned short type,
			const char *addr);

/* A stub resolver: in netns (and cgroup, NULL = the test's own), UDP on listen:53 forwarding each
 * query to upstream:53 and the answer back. The pid (tracked), or -errno. */
pid_t rft_dns_stub_start(const char *netns, const char *cgroup, const char *listen,
			 const char *upstream);

/* ---- the maps of the test's pin dir (rft.pin_dir) ---- */

/* The right-aligned wire key of a dotted name (lowercased). */
struct rf_host_key rft_host_key(const char *name);
/* rf_dns_resolver += addr (IPv4 or IPv6 text). 0 or -errno. */
int rft_dns_resolver_add(const char *addr);
/* The rf_host_addr value of addr: 0, -ENOENT or -errno. */
int rft_host_addr_get(const char *addr, struct rf_host_addr_val *v);
/* Write the rf_host_addr value of addr. 0 or -errno. */
int rft_host_addr_put(const char *addr, const struct rf_host_addr_val *v);
/* Make every entry of addr expired (1 ns after boot). 0 or -errno. */
int rft_host_addr_expire(const char *addr);
/* An rf_stats_v2 counter summed over CPUs (rft.pin_dir), 0 when unreadable. */
unsigned long long rft_stat(unsigned int idx);

#endif /* RFT_RESOLVER_H */
