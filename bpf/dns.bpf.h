/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host rules in the kernel (issue 24): DNS queries for allowed names are recorded on the way out,
 * their answers parsed on the way in (cgroup_skb ingress, before the socket gets them) and the
 * addresses admitted into rf_host_addr, which the verdicts consult after rf_allow_net. Included
 * by bpf/ringfence.bpf.c once its helpers are defined. Maps: include/rf_host.h, docs/ABI.md.
 */
#ifndef RF_DNS_BPF_H
#define RF_DNS_BPF_H

/*
 * Scalar-only global functions: verified once each instead of inline in every caller (the name
 * loops would otherwise multiply with the record loop), and Linux 5.10 refuses pointer arguments
 * of global functions. They work on the per-CPU work area, slot RF_DNS_SLOT_QUERY on the way out
 * (process context: an answer arriving in a softirq on the same CPU uses the other slot) and
 * RF_DNS_SLOT_ANSWER on the way in.
 */
#define RF_DNS_SLOT_QUERY  0
#define RF_DNS_SLOT_ANSWER 1
int rf_dns_answer_rr_g(__u32 off);
int rf_dns_decode_g(__u32 off, __u32 slot);
int rf_dns_align_g(__u32 slot);
#define RF_DNS_ANSWER_RR(s, off) rf_dns_answer_rr_g(off)
#define RF_DNS_DECODE(s, off)	 rf_dns_decode_g(off, (s)->slot)
#define RF_DNS_ALIGN(s)		 rf_dns_align_g((s)->slot)

#include "dns_parse.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_HOST_MAX_NAMES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rf_host_key);
	__type(value, struct rf_host_val);
} rf_host_name SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_MAX_DNS_RESOLVERS);
	__type(key, struct rf_addr_key);
	__type(value, struct rf_allow_val);
} rf_dns_resolver SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RF_DNS_PENDING_MAX);
	__type(key, struct rf_dns_pending_key);
	__type(value, struct rf_dns_pending_val);
} rf_dns_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_HOST_ADDR_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rf_addr_key);
	__type(value, struct rf_host_addr_val);
} rf_host_addr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct rf_sk_peer);
} rf_sk_host SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2); /* RF_DNS_SLOT_QUERY, RF_DNS_SLOT_ANSWER */
	__type(key, __u32);
	__type(value, struct rf_dns_scratch);
} rf_dns_scratch SEC(".maps");

static __always_inline struct rf_dns_scratch *dns_scratch(__u32 slot)
{
	return bpf_map_lookup_elem(&rf_dns_scratch, &slot);
}

__noinline int rf_dns_decode_g(__u32 off, __u32 slot)
{
	struct rf_dns_scratch *s = dns_scratch(slot);

	return s ? rf_dns_decode_name(s, off) : -1;
}

__noinline int rf_dns_align_g(__u32 slot)
{
	struct rf_dns_scratch *s = dns_scratch(slot);

	if (s)
		rf_dns_align_name(s);
	return 0;
}

/* One record of an answer (rf_dns_answer() calls it through RF_DNS_ANSWER_RR). */
__noinline int rf_dns_answer_rr_g(__u32 off)
{
	struct rf_dns_scratch *s = dns_scratch(RF_DNS_SLOT_ANSWER);

	return s ? rf_dns_answer_rr(s, off) : -1;
}

/* The answer in the slot's message to its pending question: addresses found, or -1. */
__noinline int rf_dns_answer_g(void)
{
	struct rf_dns_scratch *s = dns_scratch(RF_DNS_SLOT_ANSWER);

	return s ? rf_dns_answer(s) : -1;
}

/* A query for A/AAAA in the query slot: its question becomes chain[0]. 0 or -1. */
__noinline int rf_dns_query_g(void)
{
	struct rf_dns_scratch *s = dns_scratch(RF_DNS_SLOT_QUERY);

	if (!s || rf_dns_query(s) < 0)
		return -1;
	rf_host_key_copy(&s->chain[0], &s->name);
	return 0;
}

/*
 * One level of rf_host_match_g(): the rules of the key (its RF_HOST_EXACT rules at level 0, its
 * RF_HOST_BELOW rules above), then the key becomes its parent domain. 0, or -1 at the top.
 */
__noinline int rf_host_level_g(__u32 slot, __u32 level)
{
	struct rf_dns_scratch *s = dns_scratch(slot);
	const struct rf_host_val *v;
	int up;

	if (!s)
		return -1;
	v = bpf_map_lookup_elem(&rf_host_name, &s->key);
	if (v)
		rf_host_collect(s, v, level ? RF_HOST_BELOW : RF_HOST_EXACT);
	up = rf_host_key_up(&s->key, s->cur.pos);
	if (up < 0)
		return -1;
	s->cur.pos = (__u32)up;
	return 0;
}

/*
 * The rules that cover the slot's chain[0] into s->rules: the name's own key (RF_HOST_EXACT
 * rules), then each parent domain's (RF_HOST_BELOW), up to RF_HOST_LEVELS_MAX labels up. Returns
 * how many.
 */
__noinline int rf_host_match_g(__u32 slot)
{
	struct rf_dns_scratch *s = dns_scratch(slot);
	__u32 level;

	if (!s)
		return 0;
	s->nrules = 0;
	rf_host_key_copy(&s->key, &s->chain[0]);
	s->cur.pos = rf_host_key_start(&s->key);
	for (level = 0; level <= RF_HOST_LEVELS_MAX; level++)
		if (rf_host_level_g(slot, level) < 0)
			break;
	s = dns_scratch(slot);
	return s ? (int)s->nrules : 0;
}

/* Merge collected rule r into the answer slot's value being built: rf_host_learn_merge(). */
__noinline int rf_host_merge_g(__u32 r, __u64 exp, __u64 now)
{
	struct rf_dns_scratch *s = dns_scratch(RF_DNS_SLOT_ANSWER);

	if (!s)
		return -1;
	return rf_host_learn_merge(&s->val, &s->rules[RF_OPAQUE(r) & (RF_HOST_ADDR_ENTRIES - 1)],
				   exp, now);
}

/*
 * Admit address i of the answer slot for every collected rule: merged into its rf_host_addr
 * value (built in the work area, then written whole: a reader never sees half of it). 0, or -1
 * when some rule could not be admitted (the map or the address's entries are full).
 */
__noinline int rf_host_learn_g(__u32 i)
{
	struct rf_dns_scratch *s = dns_scratch(RF_DNS_SLOT_ANSWER);
	const struct rf_host_addr_val *old;
	__u64 now = bpf_ktime_get_boot_ns(), exp;
	__u32 r, n, failed = 0;

	if (!s)
		return -1;
	i = RF_OPAQUE(i) & (RF_DNS_ADDRS_MAX - 1);
	exp = now + (__u64)rf_host_ttl(s->ttl[i]) * 1000000000ULL;
	old = bpf_map_lookup_elem(&rf_host_addr, s->addr[i]);
	if (old)
		s->val = *old;
	else
		__builtin_memset(&s->val, 0, sizeof(s->val));
	n = s->nrules;
	for (r = 0; r < RF_HOST_ADDR_ENTRIES; r++) {
		if (r >= n)
			break;
		if (rf_host_merge_g(r, exp, now))
			failed++;
	}
	s = dns_scratch(RF_DNS_SLOT_ANSWER);
	if (!s || failed == n)
		return -1;
	if (bpf_map_update_elem(&rf_host_addr, s->addr[i], &s->val, BPF_ANY))
		return -1;
	return failed ? -1 : 0;
}

/*
 * The rf_host_addr verdict for the remote address (as two u64, like rf_dest_allowed()) and the
 * flow packed by rf_flow_meta(): RF_HOST_NONE, RF_HOST_ALLOW or RF_HOST_EXPIRED.
 */
__noinline int rf_host_allows(__u64 addr_hi, __u64 addr_lo, __u64 meta)
{
	struct rf_addr_key k;
	const struct rf_host_addr_val *v;

	__builtin_memcpy(k.addr, &addr_hi, 8);
	__builtin_memcpy(k.addr + 8, &addr_lo, 8);
	v = bpf_map_lookup_elem(&rf_host_addr, &k);
	if (!v)
		return RF_HOST_NONE;
	return rf_host_addr_verdict(v, meta & 0xff, (meta >> 16) & 0xffff, (meta >> 32) & 0xffff,
				    (meta >> 8) & 0xff, bpf_ktime_get_boot_ns());
}

/*
 * Learning an address widens the policy: a verdict cache keyed by a policy generation (issue 25)
 * must bump the generation here, so flows judged before are judged again.
 */
static __always_inline void host_policy_widened(void)
{
}

/* An event (not a block) for address i of the answer slot that could not be admitted. */
__noinline int rf_host_full_event(__u32 i, __u64 cgroup_id)
{
	struct rf_dns_scratch *s = dns_scratch(RF_DNS_SLOT_ANSWER);
	struct rf_flow f = {};

	if (!s)
		return 0;
	i = RF_OPAQUE(i) & (RF_DNS_ADDRS_MAX - 1);
	__builtin_memcpy(f.remote, s->addr[i], 16);
	f.family = s->qtype == RF_DNS_TYPE_A ? AF_INET : AF_INET6;
	f.proto = s->rules[0].net.proto;
	f.rport = s->rules[0].net.port_lo;
	stat_inc(RF_STAT_DNS_FULL);
	report(&f, RF_HOOK_INGRESS, RF_REASON_HOST_FULL, cgroup_id, false, 0);
	return 0;
}

/* Two 16-byte addresses equal? Compared as two u64 each (fewer branches for the verifier). */
static __always_inline bool addr16_eq(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;

	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return a0 == b0 && a1 == b1;
}

/* Was socket sk admitted to f's remote (address and port) by a learned entry? */
static __always_inline bool sk_host_known(struct bpf_sock *sk, const struct rf_flow *f)
{
	struct rf_sk_peer *p = bpf_sk_storage_get(&rf_sk_host, sk, NULL, 0);
	__u32 i;

	if (!p)
		return false;
	for (i = 0; i < RF_SK_PEERS; i++)
		if (p->port[i] == f->rport && addr16_eq(p->addr[i], f->remote))
			return true;
	return false;
}

static __always_inline void sk_host_remember(struct bpf_sock *sk, const struct rf_flow *f)
{
	struct rf_sk_peer *p;
	__u32 i;

	if (sk_host_known(sk, f))
		return;
	p = bpf_sk_storage_get(&rf_sk_host, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!p)
		return;
	i = p->next % RF_SK_PEERS;
	__builtin_memcpy(p->addr[i], f->remote, 16);
	p->port[i] = f->rport;
	p->next = i + 1;
}

/*
 * Learned addresses for a flow (sk: its full socket, or NULL): allowed by an unexpired entry
 * (then, with remember, the socket records the remote so that expiry will not cut the flow), or
 * by an expired one for a socket that recorded this remote before. *expired is set when only an
 * expired entry would allow it (the event says so).
 */
static __always_inline bool host_flow_allowed(struct bpf_sock *sk, const struct rf_flow *f,
					      bool remember, bool *expired)
{
	__u64 hi, lo;
	int r;

	__builtin_memcpy(&hi, f->remote, 8);
	__builtin_memcpy(&lo, f->remote + 8, 8);
	r = rf_host_allows(hi, lo, rf_flow_meta(f));
	if (r == RF_HOST_ALLOW) {
		if (sk && remember)
			sk_host_remember(sk, f);
		return true;
	}
	if (r == RF_HOST_EXPIRED) {
		if (sk && sk_host_known(sk, f))
			return true;
		*expired = true;
	}
	return false;
}

static __always_inline struct bpf_sock *skb_full_sock(struct __sk_buff *skb)
{
	struct bpf_sock *sk = RF_CTX_SK(skb);

	return sk ? bpf_sk_fullsock(sk) : NULL;
}

/* defined in bpf/ringfence.bpf.c, after this header */
static __always_inline bool peer_known(struct __sk_buff *skb, const struct rf_flow *f);
static __always_inline void peer_remember(struct __sk_buff *skb, const struct rf_flow *f);

/*
 * Learned addresses for a packet, with skb_dest_allowed()'s rules for datagrams: a received one
 * needs an in rule, or an out rule and a socket that sent to that peer; a sent one that an out
 * rule allows is remembered for the answers. An incoming SYN allowed by an unexpired entry is
 * recorded on the listener (accepted sockets inherit it).
 */
static __always_inline bool skb_host_allowed(struct __sk_buff *skb, struct rf_flow *f, bool ingress,
					     bool *expired)
{
	struct bpf_sock *sk = skb_full_sock(skb);

	if (f->proto == RF_IPPROTO_TCP || f->match != RF_MATCH_FLOW)
		return host_flow_allowed(sk, f, f->match == RF_MATCH_IN_INIT, expired);
	if (ingress) {
		f->match = RF_MATCH_IN_DATA;
		if (host_flow_allowed(sk, f, false, expired))
			return true;
		f->match = RF_MATCH_FLOW;
		return peer_known(skb, f) && host_flow_allowed(sk, f, false, expired);
	}
	if (!host_flow_allowed(sk, f, false, expired))
		return false;
	peer_remember(skb, f);
	return true;
}

/*
 * The UDP payload of a plain packet (IPv4 without fragmentation, IPv6 without extension headers:
 * what a resolver sends) into the slot's msg: 0, or -1 when it is not such a packet, shorter than
 * a header or longer than RF_DNS_MSG_MAX. Copied in constant-size pieces (Linux 5.10's verifier
 * cannot bound a computed size); the copy's progress is kept in the work area (volatile), so the
 * verifier meets one state after the loop, not one per length.
 */
static __always_inline int dns_load(struct __sk_buff *skb, struct rf_dns_scratch *s, bool v6)
{
	volatile struct rf_dns_cursor *cur = &s->cur;
	__u8 ip[8], uh[4];
	__u32 off, plen, at;
	int i;

	if (bpf_skb_load_bytes_relative(skb, 0, ip, sizeof(ip), BPF_HDR_START_NET))
		return -1;
	if (v6) {
		if (ip[6] != RF_IPPROTO_UDP)
			return -1;
		off = 40;
	} else {
		if ((ip[6] & 0x3f) || ip[7]) /* MF or a fragment offset */
			return -1;
		off = (ip[0] & 0x0f) * 4;
	}
	if (bpf_skb_load_bytes_relative(skb, off + 4, uh, sizeof(uh), BPF_HDR_START_NET))
		return -1;
	plen = (__u32)(uh[0] << 8 | uh[1]);
	if (plen < 8 + 12 || plen > 8 + RF_DNS_MSG_MAX || off + plen > skb->len)
		return -1;
	s->len = plen - 8;
	cur->o = off + 8;
	cur->pos = 0;
	for (i = 0; i < RF_DNS_MSG_MAX / 64 + 1; i++) {
		at = cur->pos;
		if (at + 64 > s->len)
			break;
		if (bpf_skb_load_bytes_relative(skb, cur->o + at,
						s->msg + (RF_OPAQUE(at) & RF_DNS_MASK), 64,
						BPF_HDR_START_NET))
			return -1;
		cur->pos = at + 64;
	}
#define RF_DNS_TAIL(n)                                                                             \
	at = cur->pos;                                                                             \
	if ((s->len - at) & (n)) {                                                                 \
		if (bpf_skb_load_bytes_relative(skb, cur->o + at,                                  \
						s->msg + (RF_OPAQUE(at) & RF_DNS_MASK), n,         \
						BPF_HDR_START_NET))                                \
			return -1;                                                                 \
		cur->pos = at + n;                                                                 \
	}
	RF_DNS_TAIL(32)
	RF_DNS_TAIL(16)
	RF_DNS_TAIL(8)
	RF_DNS_TAIL(4)
	RF_DNS_TAIL(2)
	RF_DNS_TAIL(1)
#undef RF_DNS_TAIL
	return 0;
}

/* The flow fields DNS needs, packed for a global function (scalar arguments only). */
#define RF_DNS_META(f, ingress)                                                                    \
	((__u64)(f)->lport | (__u64)(f)->family << 16 | (__u64)(ingress) << 24)

/* A query the target sends to a resolver: recorded when its question is a host rule's name. */
static __always_inline void dns_query_seen(struct __sk_buff *skb, const struct rf_addr_key *res,
					   __u16 lport, bool v6)
{
	struct rf_dns_scratch *s;
	struct rf_dns_pending_key k = {};

	if (!bpf_map_lookup_elem(&rf_dns_resolver, res))
		return;
	s = dns_scratch(RF_DNS_SLOT_QUERY);
	if (!s)
		return;
	s->slot = RF_DNS_SLOT_QUERY;
	if (dns_load(skb, s, v6) || rf_dns_query_g() < 0 || rf_host_match_g(RF_DNS_SLOT_QUERY) <= 0)
		return;
	s = dns_scratch(RF_DNS_SLOT_QUERY);
	if (!s)
		return;
	__builtin_memcpy(k.addr, res->addr, 16);
	k.lport = lport;
	k.txid = (__u16)rf_dns_u16(s, 0);
	rf_host_key_copy(&s->pending.qname, &s->chain[0]);
	s->pending.expires_ns = bpf_ktime_get_boot_ns() + RF_DNS_PENDING_NS;
	s->pending.qtype = s->qtype;
	if (!bpf_map_update_elem(&rf_dns_pending, &k, &s->pending, BPF_ANY))
		stat_inc(RF_STAT_DNS_QUERIES);
}

/*
 * Every address of the answer slot, for every collected rule. Returns 0, or 1 + the index of the
 * first address that could not be admitted (full), for the caller's event.
 */
__noinline int rf_host_learn_all_g(void)
{
	struct rf_dns_scratch *s = dns_scratch(RF_DNS_SLOT_ANSWER);
	__u32 i, n, full = 0;

	if (!s)
		return 0;
	n = s->naddr;
	for (i = 0; i < RF_DNS_ADDRS_MAX; i++) {
		if (i >= n)
			break;
		if (rf_host_learn_g(i) == 0)
			stat_inc(RF_STAT_DNS_LEARNED);
		else if (!full)
			full = i + 1;
	}
	host_policy_widened();
	return (int)full;
}

/*
 * An answer arriving for the target: when it answers a pending query (same resolver, port and
 * transaction id; the question is compared by the parser), its addresses are admitted for the
 * rules of the question's name, all of them or none. Runs before the socket gets the datagram.
 */
static __always_inline int dns_answer_seen(struct __sk_buff *skb, const struct rf_addr_key *res,
					   __u16 lport, bool v6)
{
	struct rf_dns_pending_key k = {};
	struct rf_dns_pending_val *p;
	struct rf_dns_scratch *s;
	__u8 txid[2];
	__u32 off;

	/* the transaction id: the UDP payload's first two bytes (dns_load() checks the rest) */
	if (v6) {
		off = 40 + 8;
	} else {
		__u8 vihl;

		if (bpf_skb_load_bytes_relative(skb, 0, &vihl, 1, BPF_HDR_START_NET))
			return 0;
		off = (vihl & 0x0f) * 4 + 8;
	}
	if (bpf_skb_load_bytes_relative(skb, off, txid, 2, BPF_HDR_START_NET))
		return 0;
	__builtin_memcpy(k.addr, res->addr, 16);
	k.lport = lport;
	k.txid = (__u16)(txid[0] << 8 | txid[1]);
	p = bpf_map_lookup_elem(&rf_dns_pending, &k);
	if (!p)
		return 0;
	s = dns_scratch(RF_DNS_SLOT_ANSWER);
	if (!s)
		return 0;
	if (bpf_ktime_get_boot_ns() >= p->expires_ns) {
		bpf_map_delete_elem(&rf_dns_pending, &k);
		stat_inc(RF_STAT_DNS_REJECTED);
		return 0;
	}
	rf_host_key_copy(&s->chain[0], &p->qname);
	s->qtype = p->qtype;
	s->slot = RF_DNS_SLOT_ANSWER;
	if (dns_load(skb, s, v6) || rf_dns_answer_g() < 0) {
		stat_inc(RF_STAT_DNS_REJECTED);
		return 0;
	}
	/* one answer per query: a second (a replay, a late forgery) finds nothing pending */
	bpf_map_delete_elem(&rf_dns_pending, &k);
	s = dns_scratch(RF_DNS_SLOT_ANSWER);
	if (!s || s->naddr == 0 || rf_host_match_g(RF_DNS_SLOT_ANSWER) <= 0)
		return 0;
	return rf_host_learn_all_g();
}

/*
 * DNS seen by the cgroup_skb hooks: an answer from port 53 on the way in, a query to port 53 on
 * the way out (remote: the resolver, as two u64; meta: RF_DNS_META()). Global functions, one per
 * direction (each program verifies only its own), so that their many exits do not multiply the
 * verification of the verdict after them. The answer's returns 0, or 1 + the index of an
 * address that could not be admitted.
 */
__noinline int rf_dns_answer_seen(struct __sk_buff *skb, __u64 remote_hi, __u64 remote_lo,
				  __u64 meta)
{
	struct rf_addr_key res;

	__builtin_memcpy(res.addr, &remote_hi, 8);
	__builtin_memcpy(res.addr + 8, &remote_lo, 8);
	return dns_answer_seen(skb, &res, meta & 0xffff, ((meta >> 16) & 0xff) == AF_INET6);
}

__noinline int rf_dns_query_seen(struct __sk_buff *skb, __u64 remote_hi, __u64 remote_lo,
				 __u64 meta)
{
	struct rf_addr_key res;

	__builtin_memcpy(res.addr, &remote_hi, 8);
	__builtin_memcpy(res.addr + 8, &remote_lo, 8);
	dns_query_seen(skb, &res, meta & 0xffff, ((meta >> 16) & 0xff) == AF_INET6);
	return 0;
}

/* With host rules, while isolated or auditing: UDP from or to remote port 53 goes through DNS. */
static __always_inline void dns_observe(struct __sk_buff *skb, const struct rf_flow *f,
					bool ingress)
{
	__u64 hi, lo;
	int full;

	if (f->proto != RF_IPPROTO_UDP || f->rport != 53)
		return;
	__builtin_memcpy(&hi, f->remote, 8);
	__builtin_memcpy(&lo, f->remote + 8, 8);
	if (!ingress) {
		rf_dns_query_seen(skb, hi, lo, RF_DNS_META(f, ingress));
		return;
	}
	full = rf_dns_answer_seen(skb, hi, lo, RF_DNS_META(f, ingress));
	if (full > 0)
		rf_host_full_event((__u32)full - 1, bpf_skb_cgroup_id(skb));
}

#endif /* RF_DNS_BPF_H */
