/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The DNS parser of host rules (issue 24), shared by the BPF programs (bpf/dns.bpf.h) and the
 * unit tests (tests/unit/test_dns.c): pure code over a work area (struct rf_dns_scratch), no
 * helpers, no maps. Every index into an array is masked so that the verifier sees it in bounds;
 * the logic never relies on the mask (it checks lengths first). Fail closed: whatever is not
 * understood makes the whole answer admit nothing.
 */
#ifndef RF_DNS_PARSE_BPF_H
#define RF_DNS_PARSE_BPF_H

#include "rf_host.h"

#ifndef RF_INLINE
#define RF_INLINE static inline __attribute__((always_inline))
#endif

#define RF_DNS_MSG_MAX	   1232 /* bytes of DNS message parsed (EDNS's usual size); larger: ignored */
#define RF_DNS_BUF	   2048 /* power of two above RF_DNS_MSG_MAX: indices are masked with it */
#define RF_DNS_MASK	   (RF_DNS_BUF - 1)
#define RF_DNS_ANSWERS_MAX 32 /* answer records read; an answer with more admits nothing */
#define RF_DNS_CHAIN_MAX   8  /* names of a CNAME chain, the question included */
#define RF_DNS_ADDRS_MAX   16 /* addresses one answer admits; more: the answer admits nothing */
#define RF_DNS_PTR_MAX	   16 /* compression pointers followed in one name */
#define RF_HOST_LEVELS_MAX 32 /* parent domains tried for "*." rules */

#define RF_DNS_TYPE_A	  1
#define RF_DNS_TYPE_CNAME 5
#define RF_DNS_TYPE_AAAA  28
#define RF_DNS_CLASS_IN	  1

/* The parser's work area: a per-CPU map value in BPF (too large for the stack). */
struct rf_dns_scratch {
	__u8 msg[RF_DNS_BUF + 64]; /* the DNS message (UDP payload); slack for chunked copies */
	__u8 tmp[RF_HOST_NAME_LEN] __attribute__((aligned(8))); /* a name being decoded */
	struct rf_host_key name;				/* the last name decoded */
	struct rf_host_key chain[RF_DNS_CHAIN_MAX];		/* [0]: the question */
	struct rf_host_key key;					/* rf_host_name lookups */
	__u8 addr[RF_DNS_ADDRS_MAX][16];
	__u32 ttl[RF_DNS_ADDRS_MAX];
	struct rf_host_rule rules[RF_HOST_ADDR_ENTRIES]; /* the rules covering the question */
	struct rf_host_addr_val val;			 /* an rf_host_addr value being built */
	struct rf_dns_pending_val pending;		 /* an rf_dns_pending value being built */
	__u32 len;					 /* bytes of msg */
	__u32 name_len;					 /* wire length of name */
	__u32 nchain;
	__u32 naddr;
	__u32 nrules;
	__u16 qtype;
	__u16 ancount;
};

#endif /* RF_DNS_PARSE_BPF_H */
