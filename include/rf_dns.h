/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small UDP DNS client for host rules: ringfence resolves each allowed name itself (at
 * isolate, at config apply and in the agent) through the resolvers the dns built-in allows,
 * and writes the answers into the learned-address map. A and AAAA only, one question per
 * query, a random transaction id, answers matched to their query (source, port, id, question)
 * and parsed whole or not at all. Pure encoding/parsing functions are unit-tested.
 */
#ifndef RF_DNS_H
#define RF_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define RF_DNS_TYPE_A	  1
#define RF_DNS_TYPE_CNAME 5
#define RF_DNS_TYPE_AAAA  28
#define RF_DNS_CLASS_IN	  1

#define RF_DNS_HDR_LEN	 12
#define RF_DNS_NAME_WIRE 255 /* the longest name on the wire, with its length bytes and root */
#define RF_DNS_UDP_MAX	 512 /* answers are read up to this size (no EDNS): larger are ignored */
#define RF_DNS_MAX_ADDRS 16  /* addresses of one answer (RF_DNS_ADDRS_MAX of the parser) */

/* One address of an answer: IPv6 or IPv4-mapped, network byte order, and its TTL in seconds. */
struct rf_dns_addr {
	__u8 addr[16];
	__u32 ttl;
};

/*
 * "mgmt.example.com" (no wildcard; a trailing dot allowed) into wire form: length-prefixed
 * labels, lowercased, ending with the root's 0. Returns the length, or -EINVAL.
 */
int rf_dns_name_wire(const char *name, __u8 *wire, size_t len);

/* The same name as an rf_host_key (include/rf_host.h): wire form right-aligned in 256 bytes. */
struct rf_host_key;
int rf_dns_name_key(const char *name, struct rf_host_key *k);

/* A query for (name, qtype) with id txid and recursion desired: its length, or -EINVAL. */
int rf_dns_query_encode(const char *name, __u16 qtype, __u16 txid, __u8 *buf, size_t len);

/*
 * The A or AAAA records (qtype) of pkt that answer the query (txid, name, qtype), parsed by the
 * programs' parser (bpf/dns_parse.bpf.h: the same rules and limits): those owned by the
 * question name or a name a CNAME chain from it leads to, in the answer section only; at most
 * max of them into out. 0 with *n addresses (0 for NXDOMAIN or no record of the type);
 * -ENODATA when the server failed (SERVFAIL, REFUSED: ask another); -EBADMSG when pkt is not an
 * answer to that query or cannot be parsed whole (bad compression pointer, truncated, TC set,
 * more than 32 records, 8 chained names or 16 addresses): then nothing is taken from it.
 */
int rf_dns_answer_parse(const __u8 *pkt, size_t len, __u16 txid, const char *name, __u16 qtype,
			struct rf_dns_addr *out, size_t max, size_t *n);

/* Where rf_dns_resolve() sends: IPv6 or IPv4-mapped address, network byte order; port 53. */
struct rf_dns_server {
	__u8 addr[16];
};

/* Called for each address an answer gave for names[i]. */
typedef void (*rf_dns_found_fn)(size_t i, __u16 qtype, const struct rf_dns_addr *a, void *arg);

/*
 * Resolve each of names[0..n-1] for A and AAAA through servers, in order: the names a server
 * did not answer within timeout_ms go to the next one. A name's answer from the first server
 * that gives one (addresses or none) is final. Returns how many (name, type) queries got an
 * answer, or -errno when no query could be sent at all.
 */
int rf_dns_resolve(const struct rf_dns_server *servers, size_t nservers, const char *const *names,
		   size_t n, int timeout_ms, rf_dns_found_fn fn, void *arg);

#endif /* RF_DNS_H */
