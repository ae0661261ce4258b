/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The per-socket verdict cache (issue 25): an established flow's packets cost one socket-storage
 * lookup and a few compares instead of a full judgment.
 *
 * What is cached: only an "allow" of the packet hooks (cgroup_skb ingress/egress, the tc second
 * wall) that a destination rule or the socket's owner (an allowed executable's mark, a management
 * channel, an allowed cgroup) gave to a TCP segment or a connected UDP socket's datagram whose
 * headers are plain (IPv4 without options or fragmentation, IPv6 with TCP/UDP right after the
 * fixed header, no TCP SYN); for TCP from the connection's first data segment on
 * (rf_cache_put()). It is kept in the packet's socket, one entry per hook, under the packet's
 * flow key (struct rf_cache_key: remote address, both ports, protocol, IP version), and covers
 * only packets of that socket with that key: a tunnel or NAT that keeps the socket on another
 * flow's packets (VXLAN, GRE, a DNAT at output) has other keys. A UDP datagram must also be of
 * its socket's connected flow (rf_cache_udp_connected()).
 * Measured for tunnels (wall::established_tunnel_flow_is_not_carried_by_a_cached_inner_allow):
 * the cgroup egress hook never sees a tunnel's outer packet (the kernel runs it only for the
 * socket's own transmit), but the wall does, with the inner socket still in skb->sk, right
 * after the wall on the VXLAN device cached the inner packet's allow in the same slot. That
 * outer packet is UDP and not of the socket's connected flow, so it is kept from the entry
 * twice, by rf_cache_udp_connected() and by the key (the test fails only with both removed);
 * GRE, IPIP and ESP outer packets are not cacheable at all. The key alone decides for a TCP
 * flow whose packets are rewritten to another address mid-flow, by nftables at output or on a
 * device's egress hook (cache::rewritten_destination_is_judged_not_cached,
 * cache::rewritten_before_the_wall_is_judged_not_cached).
 * Never cached, so judged on every packet as before: denials (each keeps its event), built-in
 * verdicts (DHCP, ND: judged by packet content), ICMP, source-routed packets or any packet with
 * IPv4 options or IPv6 extension headers, fragments, unconnected sends and what they receive,
 * host rules' allows, and everything while host rules exist (DNS answers are observed on every
 * packet). A TCP connection's segments before its first data (SYN, SYN-ACK, the handshake's
 * ACK, an early FIN or RST) are not in the socket's entries but in the per-CPU flow memo below
 * (struct rf_memo), which connect() fills too.
 *
 * A cached verdict is used only while rf_policy_gen holds the value read before it was
 * computed, rf_config's mode, built-ins and flags are those it was computed under, and it is
 * younger than RF_CACHE_TTL_JIFFIES (a writer that bumps nothing). The deadline is not checked
 * on a hit: it only ever turns a verdict into an allow. Included by ringfence.bpf.c; the call
 * sites are rf_skb_fast()/skb_verdict() and wall_verdict().
 */
#ifndef RF_CACHE_BPF_H
#define RF_CACHE_BPF_H

#include "ringfence.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rf_policy_gen SEC(".maps");

enum rf_cache_slot {
	RF_CACHE_INGRESS,
	RF_CACHE_EGRESS,
	RF_CACHE_WALL,
	RF_CACHE_SLOTS,
};

/*
 * One hook's cached allow for one socket: the flow key of the packet it was computed for
 * (struct rf_cache_key). cfg == 0: empty.
 */
struct rf_cache_entry {
	__u64 gen;	  /* rf_policy_gen when the verdict was computed */
	__u64 at_jiffies; /* bpf_jiffies64() then */
	__u64 remote[2];  /* IPv6 or IPv4-mapped, network byte order */
	__u32 ports;	  /* the transport header's first 4 bytes (source, destination) */
	__u32 cfg;	  /* rf_cache_cfg() then */
	__u32 proto;	  /* IP protocol | RF_CACHE_KEY_V6 for an IPv6 header */
	__u32 pad;
};

struct rf_sk_verdict {
	struct rf_cache_entry e[RF_CACHE_SLOTS];
};

/*
 * The age bound of a cached verdict (RF_CACHE_TTL_NS): 100 jiffies, at most 1 s since HZ is
 * at least 100 (0.1 s with HZ=1000). Jiffies, not bpf_ktime_get_ns(): a clock read costs a
 * cached packet more than all the rest of its check on a virtual machine.
 */
#define RF_CACHE_TTL_JIFFIES 100

/* Written only by the programs; no BPF_F_CLONE: an accepted child has a tuple of its own. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rf_sk_verdict);
} rf_sk_verdict SEC(".maps");

/*
 * A packet's flow key: what a cached verdict is valid for. The verdict of a plain, non-SYN TCP
 * or UDP packet depends on nothing else of the packet: the remote address and port, the local
 * port and the protocol (destination rules), and the socket (its owner's marks, its cgroup).
 * The local address decides only built-ins, which are never cached.
 */
struct rf_cache_key {
	union {
		__u64 remote[2]; /* as rf_cache_entry.remote */
		__u8 addr[16];
	};
	__u32 ports; /* as rf_cache_entry.ports */
	__u32 proto; /* as rf_cache_entry.proto */
};

#define RF_CACHE_KEY_V6 0x100
/*
 * A TCP segment with SYN and without ACK: it opens a connection, so it was judged as
 * RF_MATCH_OUT_INIT (sent) or RF_MATCH_IN_INIT (received), not RF_MATCH_FLOW. Never in the
 * socket's entries; the flow memo keeps it apart (RF_MEMO_IN).
 */
#define RF_CACHE_KEY_INIT 0x200
/*
 * A TCP segment with SYN, FIN or RST: of a handshake or a close, so the flow memo is asked
 * before the socket's entries (whose socket has none yet, or is closing). Lookup only: never
 * stored, stripped before any compare (RF_CACHE_KEY_MASK).
 */
#define RF_CACHE_KEY_CTL  0x2000
#define RF_CACHE_KEY_MASK (~RF_CACHE_KEY_CTL)

/* A socket's connected flow (for UDP: a TCP segment's key is judged on its own). */
struct rf_cache_probe {
	union {
		__u64 remote[2]; /* as rf_cache_entry.remote */
		__u8 addr[16];
	};
	__u16 rport;
	__u16 lport;
	__u8 proto;
};

/*
 * The slot's entry, NULL for another slot. The bound is checked on the register that indexes
 * (the barrier keeps clang from checking a copy), or the verifier sees an unbounded offset.
 */
static __always_inline struct rf_cache_entry *rf_cache_entry_of(struct rf_sk_verdict *v, __u64 slot)
{
	asm volatile("" : "+r"(slot));
	if (slot >= RF_CACHE_SLOTS)
		return NULL;
	return &v->e[slot];
}

/* Bump the policy generation from a program (e.g. after it deleted an allowance). */
static __always_inline void rf_policy_gen_bump(void)
{
	__u32 zero = 0;
	__u64 *g = bpf_map_lookup_elem(&rf_policy_gen, &zero);

	if (g)
		__sync_fetch_and_add(g, 1);
}

/* The parts of rf_config a cached verdict depends on, never 0. */
static __always_inline __u32 rf_cache_cfg(const struct rf_config *cfg, __u32 mode)
{
	return 0x80000000u | (mode & 0xff) | (cfg->builtins & 0xff) << 8 |
	       (cfg->flags & 0xff) << 16;
}

#define RF_CACHE_IPPROTO_TCP 6
#define RF_CACHE_IPPROTO_UDP 17
#define RF_CACHE_AF_INET     2
#define RF_CACHE_TCP_FIN     0x01
#define RF_CACHE_TCP_SYN     0x02
#define RF_CACHE_TCP_RST     0x04
#define RF_CACHE_TCP_ACK     0x10

/* ::ffff:a.b.c.d, a4 in network byte order, as the two words of rf_cache_entry.remote. */
static __always_inline void rf_cache_mapped(__u64 remote[2], __u32 a4)
{
	__u32 ffff = bpf_htonl(0xffff);

	remote[0] = 0;
	__builtin_memcpy((__u8 *)remote + 8, &ffff, 4); /* bytes, whatever the byte order */
	__builtin_memcpy((__u8 *)remote + 12, &a4, 4);
}

/*
 * The flow key of the headers at b (the IP header and what follows it: 14 bytes of TCP, or 8 of
 * UDP), if they are plain and their packet may use a cached verdict: IPv4 without options and not
 * a fragment (MF or an offset), IPv6 with TCP or UDP right after the fixed header (an extension
 * header is neither). A TCP SYN without ACK gets RF_CACHE_KEY_INIT. tcp_flags < 0: the TCP header
 * was not all read, so no.
 * ingress: the remote address is the source. Word loads, not byte loops: unrolled byte compares
 * spill registers onto a stack that the callers' frames leave little room for; unaligned packet
 * loads are fine on every architecture with a BPF JIT that ringfence runs on.
 */
static __always_inline bool rf_cache_hdr_key(const __u8 *b, bool v6, bool ingress, int tcp_flags,
					     struct rf_cache_key *k)
{
	const __u8 *l4;
	__u32 proto;

	if (!v6) {
		if (b[0] != 0x45 || (b[6] & 0x3f) || b[7])
			return false;
		proto = b[9];
		rf_cache_mapped(k->remote, *(const __u32 *)(b + (ingress ? 12 : 16)));
		l4 = b + 20;
	} else {
		if ((b[0] >> 4) != 6)
			return false;
		proto = b[6];
		k->remote[0] = *(const __u64 *)(b + (ingress ? 8 : 24));
		k->remote[1] = *(const __u64 *)(b + (ingress ? 16 : 32));
		l4 = b + 40;
	}
	k->proto = proto | (v6 ? RF_CACHE_KEY_V6 : 0);
	k->ports = *(const __u32 *)l4; /* source then destination port, as on the wire */
	if (proto == RF_CACHE_IPPROTO_UDP)
		return true;
	if (proto != RF_CACHE_IPPROTO_TCP || tcp_flags < 0)
		return false;
	/* as parse_skb() judges it: SYN without ACK opens a connection, SYN-ACK is of the flow */
	if ((tcp_flags & (RF_CACHE_TCP_SYN | RF_CACHE_TCP_ACK)) == RF_CACHE_TCP_SYN)
		k->proto |= RF_CACHE_KEY_INIT;
	if (tcp_flags & (RF_CACHE_TCP_SYN | RF_CACHE_TCP_FIN | RF_CACHE_TCP_RST))
		k->proto |= RF_CACHE_KEY_CTL;
	return true;
}

#define RF_CACHE_HDR_V4	    34 /* IPv4 without options + 14 bytes of TCP (its flags) */
#define RF_CACHE_HDR_V6	    54 /* IPv6 + 14 bytes of TCP */
#define RF_CACHE_HDR_UDP_V4 28 /* IPv4 + the UDP header */
#define RF_CACHE_HDR_UDP_V6 48

/*
 * The packet's flow key into k, if its headers are plain (rf_cache_hdr_key()). At cgroup_skb the
 * headers are read in place (the skb's data starts at the network header there; headers outside
 * the linear part are judged in full); at tc (at_tc), where data starts at the link-layer header,
 * with a load relative to the network header: the IP header and 14 bytes after it (TCP's flags),
 * or for a short UDP datagram the IP and UDP headers. Constant sizes: Linux 5.10's verifier cannot
 * bound a computed one.
 */
static __always_inline bool rf_cache_pkt_key(struct __sk_buff *skb, bool ingress, bool at_tc,
					     struct rf_cache_key *k)
{
	bool v6 = skb->protocol == bpf_htons(0x86DD);
	__u64 h[(RF_CACHE_HDR_V6 + 7) / 8]; /* aligned for the word loads */
	const __u8 *b = (const __u8 *)h;

	if (!v6 && skb->protocol != bpf_htons(0x0800))
		return false;
	if (!at_tc) {
		const __u8 *data = (const __u8 *)(long)skb->data;
		const __u8 *end = (const __u8 *)(long)skb->data_end;

		if (v6) {
			if (data + RF_CACHE_HDR_UDP_V6 > end)
				return false;
			if (data + RF_CACHE_HDR_V6 <= end)
				return rf_cache_hdr_key(data, true, ingress, data[40 + 13], k);
			return rf_cache_hdr_key(data, true, ingress, -1, k);
		}
		if (data + RF_CACHE_HDR_UDP_V4 > end)
			return false;
		if (data + RF_CACHE_HDR_V4 <= end)
			return rf_cache_hdr_key(data, false, ingress, data[20 + 13], k);
		return rf_cache_hdr_key(data, false, ingress, -1, k);
	}
	if (v6) {
		if (!bpf_skb_load_bytes_relative(skb, 0, h, RF_CACHE_HDR_V6, BPF_HDR_START_NET))
			return rf_cache_hdr_key(b, true, ingress, b[40 + 13], k);
		if (bpf_skb_load_bytes_relative(skb, 0, h, RF_CACHE_HDR_UDP_V6, BPF_HDR_START_NET))
			return false;
		return rf_cache_hdr_key(b, true, ingress, -1, k);
	}
	if (!bpf_skb_load_bytes_relative(skb, 0, h, RF_CACHE_HDR_V4, BPF_HDR_START_NET))
		return rf_cache_hdr_key(b, false, ingress, b[20 + 13], k);
	if (bpf_skb_load_bytes_relative(skb, 0, h, RF_CACHE_HDR_UDP_V4, BPF_HDR_START_NET))
		return false;
	return rf_cache_hdr_key(b, false, ingress, -1, k);
}

/* The connected four-tuple of a TCP or UDP socket into s; false if it has no connected peer. */
static __always_inline bool rf_cache_sock_tuple(struct bpf_sock *sk, struct rf_cache_probe *s)
{
	__u32 family = sk->family, proto = sk->protocol, dport = sk->dst_port, d4, a[4];

	if ((proto != RF_CACHE_IPPROTO_TCP && proto != RF_CACHE_IPPROTO_UDP) || !dport)
		return false;
	s->proto = (__u8)proto;
	s->rport = bpf_ntohs((__u16)dport);
	s->lport = (__u16)sk->src_port;
	/*
	 * Every field read on its own and unconditionally (as peer_known() does): the verifier
	 * refuses a computed ctx offset, which a choice between the fields would compile to.
	 */
	d4 = *(volatile __u32 *)&sk->dst_ip4;
	a[0] = *(volatile __u32 *)&sk->dst_ip6[0];
	a[1] = *(volatile __u32 *)&sk->dst_ip6[1];
	a[2] = *(volatile __u32 *)&sk->dst_ip6[2];
	a[3] = *(volatile __u32 *)&sk->dst_ip6[3];
	if (family == RF_CACHE_AF_INET)
		rf_cache_mapped(s->remote, d4);
	else
		__builtin_memcpy(s->remote, a, 16);
	return true;
}

/* The skb's full socket, or NULL. */
static __always_inline struct bpf_sock *rf_cache_sk(struct __sk_buff *skb)
{
	struct bpf_sock *sk = RF_CTX_SK(skb);

	return sk ? bpf_sk_fullsock(sk) : NULL;
}

/*
 * Is a UDP datagram with key k one of its socket's connected flow? Only then may it use a cached
 * verdict: an unconnected socket's datagrams go to and come from any peer, and an answer's
 * verdict can depend on the peers the socket sent to (peer_known()), which the cache does not
 * follow.
 */
static __always_inline bool rf_cache_udp_connected(struct __sk_buff *skb, bool ingress,
						   const struct rf_cache_key *k)
{
	struct bpf_sock *sk = rf_cache_sk(skb);
	struct rf_cache_probe s = {};
	__u16 p[2];
	__u32 ports;

	if (!sk || !rf_cache_sock_tuple(sk, &s) || s.proto != RF_CACHE_IPPROTO_UDP)
		return false;
	p[0] = bpf_htons(ingress ? s.rport : s.lport);
	p[1] = bpf_htons(ingress ? s.lport : s.rport);
	__builtin_memcpy(&ports, p, 4);
	return ports == k->ports && s.remote[0] == k->remote[0] && s.remote[1] == k->remote[1];
}

/*
 * The policy generation, read before anything is judged: a writer bumps after its change, so a
 * verdict computed under the old policy is stored with the old value. 0 if the map is missing.
 */
static __always_inline __u64 rf_cache_gen(void)
{
	__u32 zero = 0;
	__u64 *g = bpf_map_lookup_elem(&rf_policy_gen, &zero);

	return g ? *g : 0;
}

/*
 * The flow memo: the last allows of each CPU's full judgments of TCP segments, RF_MEMO_WAYS per
 * CPU (the loader sizes the array to the possible CPUs), chosen by the socket's cookie. It
 * serves what the socket's entries cannot: a connection's handshake and its close, before any
 * data moved, when allocating socket storage would cost more than the judgments it saves
 * (measured: about 900 ns, three full judgments). A connect-and-close is judged in full once,
 * by connect() (memo_connect() in ringfence.bpf.c); its SYN, ACK and close (FIN or RST) at cgroup
 * egress and at the second wall, and the SYN-ACK at ingress, are memo hits when they run on the
 * same CPU.
 *
 * An entry holds one verdict: the socket (its cookie, never reused while the system runs), the
 * flow key in the sending direction's orientation (remote address, local then remote port, as
 * a sent segment carries them), the generation and rf_config tag it was judged under, and when.
 * For a TCP segment the three hooks judge the same thing: flow_dest_allowed() on the flow and
 * skb_socket_allowed() on the socket, so one entry serves all three. Only RF_MATCH_OUT_INIT
 * (a sent SYN) and RF_MATCH_IN_INIT (a received one) differ, and are kept apart: an entry of
 * either covers the flow's other segments (a rule that admits a connection admits its flow,
 * rf_entry_allows()), but a SYN uses only an entry judged for a SYN of the same direction.
 *
 * Entries are written under their bpf_spin_lock, which disables interrupts and so preemption:
 * the writers of a CPU (a task, a softirq that interrupts it, a task that preempts it) never mix
 * their fields. A writer also moves seq on by 2, and a reader, which takes no lock (it would
 * cost a hit about 40 ns here), uses what it read only when seq was the same before and after:
 * a write that interrupted or preempted the read, on this CPU (the only one that uses these
 * entries), makes it miss. So no reader takes an entry made of two verdicts' fields.
 */
struct rf_memo {
	struct bpf_spin_lock lock;
	__u32 seq;	  /* + 2 by each write (odd while one runs) */
	__u32 cfg;	  /* rf_cache_cfg() then; 0: empty */
	__u32 proto;	  /* as rf_cache_entry.proto, | RF_MEMO_IN for a received SYN */
	__u64 cookie;	  /* the socket's cookie (bpf_get_socket_cookie()) */
	__u64 gen;	  /* rf_policy_gen then */
	__u64 at_jiffies; /* bpf_jiffies64() then */
	__u64 remote[2];  /* as rf_cache_entry.remote */
	__u32 ports;	  /* local then remote port, as a sent segment carries them */
	__u32 pad;
};

#define RF_MEMO_WAYS	    4
#define RF_MEMO_IN	    0x400  /* with RF_CACHE_KEY_INIT: a received SYN (RF_MATCH_IN_INIT) */
#define RF_MEMO_ARG_INGRESS 0x800  /* rf_memo_check()'s argument only: the packet was received */
#define RF_MEMO_ARG_TC	    0x4000 /* rf_memo_check()'s argument only: the second wall asks */
/*
 * With RF_CACHE_KEY_INIT: judged by connect() (memo_connect() in ringfence.bpf.c), before the
 * socket had its local port; ports holds only the remote one, and a segment's local port is not
 * compared. An RF_MATCH_OUT_INIT verdict does not depend on the local port (only out rules apply,
 * on the remote port), and what it allows covers the flow's other segments, whatever their local
 * port.
 */
#define RF_MEMO_ANY_LPORT 0x1000

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RF_MEMO_WAYS); /* times the possible CPUs (the loader) */
	__type(key, __u32);
	__type(value, struct rf_memo);
} rf_flow_memo SEC(".maps");

/*
 * Only a full TCP socket's segments fill the memo: not a raw socket's, a request socket's, or
 * BPF_PROG_TEST_RUN's stand-in socket's (which would otherwise turn every repeat of a test packet
 * into a memo hit). A lookup finds only such a socket's entries (by its cookie), except from the
 * TIME_WAIT socket that keeps a closed socket's cookie, which rf_memo_check() turns away.
 */
static __always_inline bool rf_memo_sock(struct bpf_sock *sk)
{
	return sk->type == 1 /* SOCK_STREAM */ && sk->protocol == RF_CACHE_IPPROTO_TCP;
}

/* The memo entry of a socket (by its cookie, 0 for none) on this CPU. */
static __always_inline struct rf_memo *rf_memo_slot(__u64 cookie)
{
	__u32 idx;

	if (!cookie)
		return NULL;
	idx = bpf_get_smp_processor_id() * RF_MEMO_WAYS + (__u32)(cookie & (RF_MEMO_WAYS - 1));
	return bpf_map_lookup_elem(&rf_flow_memo, &idx);
}

/* k's ports and protocol as the memo keeps them (struct rf_memo). */
static __always_inline __u32 rf_memo_ports(__u32 ports, bool ingress)
{
	return ingress ? (ports >> 16 | ports << 16) : ports;
}

static __always_inline __u32 rf_memo_proto(__u32 proto, bool ingress)
{
	return (proto & RF_CACHE_KEY_INIT) && ingress ? proto | RF_MEMO_IN : proto;
}

/* Has the TCP socket sk (a full one) moved data either way? Before that, only the memo. */
static __always_inline bool rf_cache_moved_data(struct bpf_sock *sk)
{
	struct bpf_tcp_sock *tp = bpf_tcp_sock(sk);

	return tp && (tp->data_segs_out || tp->data_segs_in);
}

/* Store an allow in slot of the full socket sk's entries (struct rf_cache_entry); 1 if stored. */
static __always_inline int rf_cache_entry_put(struct bpf_sock *sk, __u32 slot, __u64 r0, __u64 r1,
					      __u32 ports, __u32 proto, __u32 cfg_tag, __u64 gen,
					      __u64 at_jiffies)
{
	struct rf_sk_verdict *v;
	struct rf_cache_entry *e;

	v = bpf_sk_storage_get(&rf_sk_verdict, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!v)
		return 0;
	e = rf_cache_entry_of(v, slot);
	if (!e)
		return 0;
	e->gen = gen;
	e->at_jiffies = at_jiffies;
	e->remote[0] = r0;
	e->remote[1] = r1;
	e->ports = ports;
	e->proto = proto;
	e->cfg = cfg_tag;
	return 1;
}

/*
 * A memo hit of a segment that the socket's entries could hold (not a handshake's or a close's:
 * RF_CACHE_KEY_CTL) is stored there, as the full judgment would have (rf_cache_put()), once the
 * connection moved data: else a connection whose data began within the memo's age bound would
 * go through the memo, which costs more, until the entry aged out.
 */
static __always_inline void rf_memo_promote(struct __sk_buff *skb, __u64 r0, __u64 r1, __u32 ports,
					    __u32 proto, __u32 slot, __u32 cfg_tag, __u64 gen,
					    __u64 at_jiffies)
{
	struct bpf_sock *sk = rf_cache_sk(skb);

	if (sk && rf_cache_moved_data(sk))
		rf_cache_entry_put(sk, slot, r0, r1, ports, proto, cfg_tag, gen, at_jiffies);
}

/*
 * Does the memo hold an allow for this TCP segment (flow key r0, r1, and ports | proto << 32,
 * proto with RF_MEMO_ARG_INGRESS for a received one, RF_MEMO_ARG_TC at the second wall) of its
 * socket, under the current generation and cfg_tag? Scalar arguments: rf_memo_hit() is its global
 * form (Linux 5.10 takes no pointer arguments there).
 */
static __always_inline int rf_memo_check(struct __sk_buff *skb, __u64 r0, __u64 r1,
					 __u64 ports_proto, __u32 cfg_tag)
{
	__u32 ports = (__u32)ports_proto, proto = (__u32)(ports_proto >> 32);
	__u32 wire_ports = ports, arg = proto, slot;
	bool ingress = arg & RF_MEMO_ARG_INGRESS;
	__u16 rport_only[2] = {0, 0xffff}; /* the remote port's half, as on the wire */
	__u32 seq, mproto, rport_mask;
	__u64 cookie, gen, now, at;
	struct bpf_sock *sk;
	struct rf_memo *m;
	int hit;

	__builtin_memcpy(&rport_mask, rport_only, 4);
	if (!skb)
		return 0;
	/* a TIME_WAIT socket keeps its socket's cookie: it is judged on its own */
	sk = RF_CTX_SK(skb);
	if (!sk || sk->state == 6 /* TCP_TIME_WAIT */)
		return 0;
	cookie = bpf_get_socket_cookie(skb);
	m = rf_memo_slot(cookie);
	if (!m)
		return 0;
	gen = rf_cache_gen();
	now = bpf_jiffies64();
	ports = rf_memo_ports(ports, ingress);
	proto = rf_memo_proto(arg & ~(RF_MEMO_ARG_INGRESS | RF_MEMO_ARG_TC) & RF_CACHE_KEY_MASK,
			      ingress);
	seq = *(volatile __u32 *)&m->seq;
	asm volatile("" ::: "memory");
	mproto = m->proto;
	at = m->at_jiffies;
	hit = m->cfg == cfg_tag && m->cookie == cookie && m->gen == gen && m->remote[0] == r0 &&
	      m->remote[1] == r1 && now - at < RF_CACHE_TTL_JIFFIES &&
	      m->ports == ((mproto & RF_MEMO_ANY_LPORT) ? (ports & rport_mask) : ports);
	mproto &= ~RF_MEMO_ANY_LPORT;
	hit = hit && (mproto == proto || (!(proto & RF_CACHE_KEY_INIT) &&
					  (mproto & ~(RF_CACHE_KEY_INIT | RF_MEMO_IN)) == proto));
	asm volatile("" ::: "memory");
	if ((seq & 1) || *(volatile __u32 *)&m->seq != seq || !hit)
		return 0;
	if (!(arg & (RF_CACHE_KEY_CTL | RF_CACHE_KEY_INIT))) {
		slot = (arg & RF_MEMO_ARG_TC) ? RF_CACHE_WALL
		       : ingress	      ? RF_CACHE_INGRESS
					      : RF_CACHE_EGRESS;
		rf_memo_promote(skb, r0, r1, wire_ports, arg & 0x1ff, slot, cfg_tag, gen, at);
	}
	return 1;
}

/*
 * rf_memo_check() as a function of its own, for the cgroup_skb programs, whose frames leave no
 * room for it inlined (the second wall inlines it in rf_cache_hit_tc(): a third frame on that
 * chain would pass the 512-byte stack limit).
 */
__noinline int rf_memo_hit(struct __sk_buff *skb, __u64 r0, __u64 r1, __u64 ports_proto,
			   __u32 cfg_tag)
{
	return rf_memo_check(skb, r0, r1, ports_proto, cfg_tag);
}

/* The memo check for key k: inlined at the second wall, the global function at cgroup_skb. */
static __always_inline int rf_memo_ask(struct __sk_buff *skb, const struct rf_cache_key *k,
				       __u64 memo_arg, __u32 cfg_tag, bool at_tc)
{
	if (at_tc)
		return rf_memo_check(skb, k->remote[0], k->remote[1], memo_arg, cfg_tag);
	return rf_memo_hit(skb, k->remote[0], k->remote[1], memo_arg, cfg_tag);
}

/* Write a memo entry (its fields as struct rf_memo says). */
static __always_inline void rf_memo_write(struct rf_memo *m, __u64 cookie, __u64 r0, __u64 r1,
					  __u32 ports, __u32 proto, __u32 cfg_tag, __u64 gen)
{
	__u64 now = bpf_jiffies64();

	bpf_spin_lock(&m->lock);
	m->seq += 1;
	asm volatile("" ::: "memory");
	m->cfg = cfg_tag;
	m->cookie = cookie;
	m->gen = gen;
	m->at_jiffies = now;
	m->remote[0] = r0;
	m->remote[1] = r1;
	m->ports = ports;
	m->proto = proto;
	asm volatile("" ::: "memory");
	m->seq += 1;
	bpf_spin_unlock(&m->lock);
}

/* Remember the allow of a TCP segment with key k, judged under gen and cfg_tag. */
static __always_inline void rf_memo_put(struct __sk_buff *skb, const struct rf_cache_key *k,
					bool ingress, __u32 cfg_tag, __u64 gen)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct rf_memo *m = rf_memo_slot(cookie);

	if (m)
		rf_memo_write(m, cookie, k->remote[0], k->remote[1],
			      rf_memo_ports(k->ports, ingress), rf_memo_proto(k->proto, ingress),
			      cfg_tag, gen);
}

enum rf_cache_result {
	RF_CACHE_NONE, /* not cacheable: judge it, store nothing */
	RF_CACHE_HIT,  /* a valid cached allow covers the packet */
	RF_CACHE_MISS, /* cacheable: judge it, rf_cache_store() an allow */
};

/*
 * The lookup of rf_skb_fast() (cgroup_skb) and rf_cache_hit_tc() (the tc second wall). Returns
 * an enum rf_cache_result. A TCP segment's hit costs the header reads, one socket-storage lookup
 * (which takes the skb's socket as it is: it finds nothing for a socket that is not full) and the
 * compares; a UDP datagram also reads its socket's connected peer.
 */
static __always_inline int rf_cache_lookup(struct __sk_buff *skb, bool ingress, __u32 slot,
					   __u32 cfg_tag, __u64 gen, bool at_tc)
{
	struct rf_cache_key k = {};
	struct rf_sk_verdict *v;
	struct rf_cache_entry *e;
	struct bpf_sock *sk;
	bool tcp, ctl;
	__u64 memo_arg;

	if (!skb || slot >= RF_CACHE_SLOTS)
		return RF_CACHE_NONE;
	sk = RF_CTX_SK(skb);
	if (!sk || !rf_cache_pkt_key(skb, ingress, at_tc, &k))
		return RF_CACHE_NONE;
	/* not the connected peer (a sendto(), a tunnel, NAT): judged in full */
	if ((k.proto & 0xff) == RF_CACHE_IPPROTO_UDP && !rf_cache_udp_connected(skb, ingress, &k))
		return RF_CACHE_NONE;
	tcp = (k.proto & 0xff) == RF_CACHE_IPPROTO_TCP;
	ctl = k.proto & RF_CACHE_KEY_CTL;
	k.proto &= RF_CACHE_KEY_MASK;
	memo_arg =
	    k.ports | (__u64)(k.proto | (ctl ? RF_CACHE_KEY_CTL : 0) |
			      (ingress ? RF_MEMO_ARG_INGRESS : 0) | (at_tc ? RF_MEMO_ARG_TC : 0))
			  << 32;
	/* a handshake's or a close's segment: the memo first (the socket rarely has entries) */
	if (tcp && ctl && rf_memo_ask(skb, &k, memo_arg, cfg_tag, at_tc))
		return RF_CACHE_HIT;
	/* a SYN is never in the socket's entries (RF_CACHE_KEY_INIT): its judgment is another */
	v = bpf_sk_storage_get(&rf_sk_verdict, sk, NULL, 0);
	if (v && !(k.proto & RF_CACHE_KEY_INIT)) {
		e = rf_cache_entry_of(v, slot);
		if (!e)
			return RF_CACHE_NONE;
		if (e->cfg == cfg_tag && e->gen == gen && e->ports == k.ports &&
		    e->proto == k.proto && e->remote[0] == k.remote[0] &&
		    e->remote[1] == k.remote[1] &&
		    bpf_jiffies64() - e->at_jiffies < RF_CACHE_TTL_JIFFIES)
			return RF_CACHE_HIT;
	}
	/* a socket with entries moved data: its verdicts are cached there, never in the memo */
	if (tcp && !ctl && !v && rf_memo_ask(skb, &k, memo_arg, cfg_tag, at_tc))
		return RF_CACHE_HIT;
	return RF_CACHE_MISS;
}

/*
 * Store the allow that a destination rule or the socket's owner gave to a packet the lookup found
 * cacheable (RF_CACHE_MISS), under gen (what rf_cache_gen() read before the judgment), for the
 * packet's flow key. 1 if stored. Entries are written without a lock: a reader on another CPU
 * may see one half-written, which then matches nothing (its key and generation are compared) or
 * a verdict this socket was given.
 */
static __always_inline int rf_cache_put(struct __sk_buff *skb, bool ingress, __u32 slot,
					__u32 cfg_tag, __u64 gen, bool at_tc)
{
	struct rf_cache_key k = {};
	struct bpf_sock *sk;

	if (!skb || slot >= RF_CACHE_SLOTS)
		return 0;
	if (!rf_cache_pkt_key(skb, ingress, at_tc, &k))
		return 0;
	k.proto &= RF_CACHE_KEY_MASK;
	sk = rf_cache_sk(skb);
	if (!sk)
		return 0;
	/*
	 * A TCP connection that has moved no data yet (the handshake, an immediate close) gets the
	 * flow memo, not socket storage: allocating it would cost connect-and-close workloads more
	 * than the judgments it saves. From its first data segment on, the socket's entries.
	 */
	if ((k.proto & 0xff) == RF_CACHE_IPPROTO_TCP) {
		if ((k.proto & RF_CACHE_KEY_INIT) || !rf_cache_moved_data(sk)) {
			if (rf_memo_sock(sk))
				rf_memo_put(skb, &k, ingress, cfg_tag, gen);
			return 0;
		}
	} else if (!rf_cache_udp_connected(skb, ingress, &k)) {
		return 0;
	}
	return rf_cache_entry_put(sk, slot, k.remote[0], k.remote[1], k.ports, k.proto, cfg_tag,
				  gen, bpf_jiffies64());
}

/*
 * Global (verified once, with a stack apart from the callers', which are near the 512-byte
 * limit) with scalar arguments besides the context, for Linux 5.10: the wall's lookup, and the
 * stores of the full judgments (the cgroup_skb lookup is inlined in rf_skb_fast()).
 */
__noinline int rf_cache_hit_tc(struct __sk_buff *skb, __u32 slot, __u32 cfg_tag, __u64 gen)
{
	return rf_cache_lookup(skb, false, slot, cfg_tag, gen, true);
}

__noinline int rf_cache_store(struct __sk_buff *skb, __u32 ingress, __u32 slot, __u32 cfg_tag,
			      __u64 gen)
{
	return rf_cache_put(skb, ingress, slot, cfg_tag, gen, false);
}

__noinline int rf_cache_store_tc(struct __sk_buff *skb, __u32 slot, __u32 cfg_tag, __u64 gen)
{
	return rf_cache_put(skb, false, slot, cfg_tag, gen, true);
}

#endif /* RF_CACHE_BPF_H */
