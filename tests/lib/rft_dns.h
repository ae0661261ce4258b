/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A DNS responder for the kernel tests: a child in a netns answering UDP queries on port 53
 * (0.0.0.0 and [::]) from a table of records the test can change at any time. It answers A and
 * AAAA questions with the CNAME chain and addresses of the table (owner names compressed as
 * pointers), NXDOMAIN when the name has no record, and counts the queries per name.
 */
#ifndef RFT_DNS_H
#define RFT_DNS_H

#include <sys/types.h>

#define RFT_DNS_MAX_RECORDS 16

struct rft_dns_record {
	char name[128];	     /* owner, e.g. "mgmt.example.com" (compared case-insensitively) */
	unsigned short type; /* 1 A, 28 AAAA, 5 CNAME */
	char data[128];	     /* the address as text, or the CNAME target */
	unsigned int ttl;
};

struct rft_dns_shared;
struct rft_dns {
	pid_t pid;
	struct rft_dns_shared *sh;
};

/* Start the responder in netns with records recs[0..n-1]. 0 or -errno. */
int rft_dns_start(struct rft_dns *d, const char *netns, const struct rft_dns_record *recs, int n);
/* Replace the table; answers sent after the call use the new one. */
void rft_dns_set(struct rft_dns *d, const struct rft_dns_record *recs, int n);
/* How many queries (any type) for name it received. */
unsigned int rft_dns_queries(const struct rft_dns *d, const char *name);
/* Kill it and unmap the table; d is zeroed. Idempotent. */
void rft_dns_stop(struct rft_dns *d);

#endif /* RFT_DNS_H */
