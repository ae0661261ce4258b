/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host rules (allow by name, issue 24): the pinned-map ABI shared by the BPF programs
 * (bpf/dns.bpf.h) and userspace. docs/ABI.md "Host rules" documents each byte.
 *
 *   rf_host_name     HASH      name (wire format, right-aligned)  -> the rules of that name
 *   rf_dns_resolver  HASH      resolver address                   -> rf_allow_val (0)
 *   rf_dns_pending   LRU_HASH  resolver + local port + txid       -> the question asked
 *   rf_host_addr     HASH      learned address                    -> rules + expiry
 *   rf_sk_host       SK_STORAGE (BPF_F_CLONE): remotes a socket was admitted to by rf_host_addr
 *
 * Flow: a UDP query to port 53 of a resolver in rf_dns_resolver whose question is a name of
 * rf_host_name (exactly, or below a "*." rule) is recorded in rf_dns_pending; the answer from
 * that resolver, to that port, with that txid and the same question, admits its A/AAAA records
 * (CNAME chains followed) into rf_host_addr before the datagram reaches the socket. Only while
 * isolated or in audit mode, and only with RF_CFG_HOST_RULES set in rf_config.flags.
 */
#ifndef RF_HOST_H
#define RF_HOST_H

#include "ringfence.h"

/* ---- rf_host_name: BPF_MAP_TYPE_HASH ------------------------------------------------------- */

/*
 * A DNS name in wire format (length-prefixed labels, then the root's 0), lowercased (A-Z only;
 * other bytes as they are, so punycode "xn--" labels compare byte for byte), RIGHT-aligned: the
 * terminating 0 is name[255], zero bytes before the first length byte. Right-aligned so that a
 * suffix of a name (its parent domains) is the same bytes with more zeros in front: the programs
 * test each parent by zeroing one label more. Never a hash: whoever controls a name could craft
 * collisions. Example: "Example.COM" is 13 bytes 07 'example' 03 'com' 00 at name[243..255],
 * name[0..242] = 0. The longest valid name is 255 bytes in wire form (253 characters as text).
 */
#define RF_HOST_NAME_LEN 256

struct rf_host_key {
	__u8 name[RF_HOST_NAME_LEN];
};
_Static_assert(sizeof(struct rf_host_key) == 256, "rf_host_key ABI size");

/* rf_host_rule.match: which names a rule stored under a key covers */
#define RF_HOST_EXACT 0x1 /* "host example.com": the name itself */
#define RF_HOST_BELOW 0x2 /* "host *.example.com": any name strictly below it, not the name */

/*
 * One host rule: what an address learned for it allows (the rf_allow_net entry semantics:
 * proto, dir, port range; origin informative) and which names it covers. id: chosen by
 * userspace, unique per rule (e.g. its position in the persisted rules); the programs copy it
 * into the learned entries so `allow list` can show each rule's addresses, and merge learned
 * entries by it. Example: "host *.example.com proto tcp port 443" under the key of example.com =
 * {{6, RF_DIR_OUT, 0, 0, 443, 443}, RF_HOST_BELOW, id}.
 */
struct rf_host_rule {
	struct rf_net_entry net;
	__u32 match; /* RF_HOST_EXACT | RF_HOST_BELOW; other bits ignored; 0 matches nothing */
	__u32 id;
};
_Static_assert(sizeof(struct rf_host_rule) == 16, "rf_host_rule ABI size");

#define RF_HOST_MAX_RULES 8 /* rules per name (key) */

struct rf_host_val {
	__u32 count; /* rules used; values above RF_HOST_MAX_RULES are clamped */
	__u32 flags; /* reserved, 0 */
	struct rf_host_rule r[RF_HOST_MAX_RULES];
};
_Static_assert(sizeof(struct rf_host_val) == 136, "rf_host_val ABI size");

#define RF_HOST_MAX_NAMES 4096 /* names (exact and wildcard keys together) */

/* ---- rf_dns_resolver: BPF_MAP_TYPE_HASH, key struct rf_addr_key, value rf_allow_val ------- */

/*
 * The resolvers whose answers may admit addresses: the dns built-in's resolvers (resolv.conf
 * or the "dns" setting) and the local stub (127.0.0.53 as systemd-resolved sets it up, and its
 * upstreams). IPv6 or IPv4-mapped, network byte order; value flags reserved (0). A query to a
 * resolver not listed here is not recorded, so its answers admit nothing.
 */
#define RF_MAX_DNS_RESOLVERS 64

/* ---- rf_dns_pending: BPF_MAP_TYPE_LRU_HASH, written by the programs only ------------------- */

/* A query in flight: the resolver it went to, the local (source) port, the transaction id. */
struct rf_dns_pending_key {
	__u8 addr[16]; /* resolver, IPv6 or IPv4-mapped, network byte order */
	__u16 lport;   /* local UDP port, host order */
	__u16 txid;    /* DNS transaction id, host order */
};
_Static_assert(sizeof(struct rf_dns_pending_key) == 20, "rf_dns_pending_key ABI size");

/* What the answer must match: its question (name as rf_host_key, type, class IN), in time. */
struct rf_dns_pending_val {
	struct rf_host_key qname;
	__u64 expires_ns; /* CLOCK_BOOTTIME: an answer later than this admits nothing */
	__u16 qtype;	  /* 1 A, 28 AAAA */
	__u16 pad[3];
};
_Static_assert(sizeof(struct rf_dns_pending_val) == 272, "rf_dns_pending_val ABI size");

/* LRU, so preallocated (1,024 x about 300 B per target); a flood evicts the oldest queries */
#define RF_DNS_PENDING_MAX 1024
#define RF_DNS_PENDING_NS  (15ULL * 1000000000ULL) /* a query waits 15 s for its answer */

/* ---- rf_host_addr: BPF_MAP_TYPE_HASH (BPF_F_NO_PREALLOC), key struct rf_addr_key ---------- */

/*
 * A learned address: the rules it was learned for, each with its own expiry. Written by the
 * programs (answers) and by userspace (names ringfence resolved itself, at isolate and in the
 * agent; the agent also deletes entries long expired). A connect, datagram or packet to/from the
 * address passes when an entry allows it (rf_entry_allows() on net) and now < expires_ns, or, for
 * a socket that was admitted to that remote while the entry was valid (rf_sk_host), whatever the
 * expiry: expiry never cuts an established flow. Deleting the entry (or the entry of the rule)
 * does. Example: 192.0.2.7 learned for rule 3 (tcp 443 out) with TTL 300 at boot time T:
 * key ::ffff:192.0.2.7, {1, 0, {{{6, 1, 0, 0, 443, 443}, 3, 0, T + 300e9}}}.
 */
struct rf_host_learned {
	struct rf_net_entry net; /* copied from the rule */
	__u32 rule_id;		 /* rf_host_rule.id */
	__u32 pad;		 /* 0 */
	__u64 expires_ns;	 /* CLOCK_BOOTTIME (bpf_ktime_get_boot_ns()); 0 = unused slot */
};
_Static_assert(sizeof(struct rf_host_learned) == 24, "rf_host_learned ABI size");

#define RF_HOST_ADDR_ENTRIES 8

struct rf_host_addr_val {
	__u32 count; /* entries used; above RF_HOST_ADDR_ENTRIES clamped */
	__u32 flags; /* reserved, 0 */
	struct rf_host_learned e[RF_HOST_ADDR_ENTRIES];
};
_Static_assert(sizeof(struct rf_host_addr_val) == 200, "rf_host_addr_val ABI size");

#define RF_HOST_ADDR_MAX 65536 /* learned addresses; full: not admitted, RF_REASON_HOST_FULL */

/* TTL clamp of learned addresses, seconds: never sooner than 60 s, never later than 1 day. */
#define RF_HOST_TTL_MIN 60
#define RF_HOST_TTL_MAX 86400

/* ---- rf_sk_host: BPF_MAP_TYPE_SK_STORAGE (BPF_F_CLONE), value struct rf_sk_peer ---------- */

/*
 * Written by the programs only: the last RF_SK_PEERS remotes (address, port) this socket was
 * admitted to by an unexpired rf_host_addr entry (connect, sendmsg, an incoming SYN on a
 * listener: accepted children inherit). Packets of those flows pass while the entry exists,
 * expired or not.
 */

#endif /* RF_HOST_H */
