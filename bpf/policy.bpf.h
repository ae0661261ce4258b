/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Pure verdict logic shared by the BPF programs and the userspace unit tests: no helpers, no maps,
 * only the ABI structs. Every function must behave sanely for any map content (values are
 * written by other agents and are untrusted).
 */
#ifndef RF_POLICY_BPF_H
#define RF_POLICY_BPF_H

#include "ringfence.h"

#ifndef RF_INLINE
#define RF_INLINE static inline __attribute__((always_inline))
#endif

#define RF_IPPROTO_ICMP	  1
#define RF_IPPROTO_TCP	  6
#define RF_IPPROTO_UDP	  17
#define RF_IPPROTO_ICMPV6 58

/* How a packet or call relates to a connection, which decides which rule direction applies. */
enum rf_match {
	RF_MATCH_OUT_INIT, /* the host opens a connection (connect, egress SYN) */
	RF_MATCH_IN_INIT,  /* the remote opens a connection (ingress TCP SYN without ACK) */
	/*
	 * The host sends a datagram (sendmsg): an out rule on the remote port, or an in rule on the
	 * socket's bound local port, since a UDP server answers its clients with sendmsg.
	 */
	RF_MATCH_SEND,
	RF_MATCH_FLOW, /* any other packet: either direction's rule may cover it */
	/*
	 * A received datagram (not TCP): only an in rule on the local port. An out rule admits
	 * it only as the answer of a peer this socket sent to (the caller checks, then asks again
	 * with RF_MATCH_FLOW): a UDP socket receives from anyone, so a datagram from the allowed
	 * peer's port (its source address spoofed, or any process there) must not be a channel in.
	 */
	RF_MATCH_IN_DATA,
};

RF_INLINE int rf_port_in(__u16 lo, __u16 hi, __u16 port)
{
	if (lo == 0 && hi == 0)
		return 1;
	return lo <= port && port <= hi;
}

RF_INLINE int rf_proto_matches(__u8 rule_proto, __u8 proto)
{
	switch (rule_proto) {
	case RF_PROTO_ANY:
		return 1;
	case RF_PROTO_ICMP:
		return proto == RF_IPPROTO_ICMP || proto == RF_IPPROTO_ICMPV6;
	case RF_PROTO_TCP:
	case RF_PROTO_UDP:
		return rule_proto == proto;
	default:
		return 0; /* unknown protocol value written by another agent: matches nothing */
	}
}

/* rport/lport: remote and local port in host order, 0 when the protocol has none. */
RF_INLINE int rf_entry_allows(const struct rf_net_entry *e, __u8 proto, __u16 rport, __u16 lport,
			      int match)
{
	int out, in;

	if (!rf_proto_matches(e->proto, proto))
		return 0;
	out = (e->dir & RF_DIR_OUT) && rf_port_in(e->port_lo, e->port_hi, rport);
	in = (e->dir & RF_DIR_IN) && rf_port_in(e->port_lo, e->port_hi, lport);
	switch (match) {
	case RF_MATCH_OUT_INIT:
		return out;
	case RF_MATCH_IN_INIT:
		return in;
	case RF_MATCH_SEND:
		return out || (in && lport != 0);
	case RF_MATCH_IN_DATA:
		return in;
	default:
		return out || in;
	}
}

RF_INLINE int rf_net_val_allows(const struct rf_net_val *v, __u8 proto, __u16 rport, __u16 lport,
				int match)
{
	__u32 n = v->count;
	int i;

	for (i = 0; i < RF_NET_MAX_ENTRIES; i++) {
		if ((__u32)i >= n)
			break;
		if (rf_entry_allows(&v->e[i], proto, rport, lport, match))
			return 1;
	}
	return 0;
}

/*
 * Prefix length at which to continue the LPM walk after a value of prefixlen `vlen` matched a
 * lookup of length `cur` without allowing: one shorter than the match. Returns -1 when there is
 * nothing shorter. A garbage vlen (> cur) is treated as cur, so the walk always shrinks.
 */
RF_INLINE int rf_lpm_next(__u32 vlen, __u32 cur)
{
	if (vlen > cur)
		vlen = cur;
	return vlen == 0 ? -1 : (int)vlen - 1;
}

/*
 * The first `bits` (0..64) bits of a big-endian 64-bit word as it lies in memory, the rest zero:
 * half of an address masked to a prefix length. Example: bits 16 of 2001:0db8:1:2 keeps 2001::.
 */
RF_INLINE __u64 rf_be64_keep(__u64 be, __u32 bits)
{
	__u64 h;

	if (bits >= 64)
		return be;
	if (bits == 0)
		return 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	h = __builtin_bswap64(be);
	h &= ~0ULL << (64 - bits);
	return __builtin_bswap64(h);
#else
	h = be & (~0ULL << (64 - bits));
	return h;
#endif
}

/* The two halves of an address (as loaded from its 16 bytes) masked to plen (<= 128). */
RF_INLINE void rf_addr_mask(__u64 *hi, __u64 *lo, __u32 plen)
{
	*hi = rf_be64_keep(*hi, plen >= 64 ? 64 : plen);
	*lo = rf_be64_keep(*lo, plen <= 64 ? 0 : plen - 64);
}

/*
 * Record that prefix length plen has a rule in an index's length list (longest first, no
 * duplicates). Returns 0, or -1 when the list is full (more than RF_NET_FAST_LENS lengths: the
 * caller stops trusting the index). Example: {128, 64} + 96 = {128, 96, 64}.
 */
RF_INLINE int rf_net_lens_add(struct rf_net_sync *s, __u32 plen)
{
	__u32 i, j, n = s->nlens;

	if (n > RF_NET_FAST_LENS)
		return -1;
	for (i = 0; i < n; i++) {
		if (s->lens[i] == plen)
			return 0;
		if (s->lens[i] < plen)
			break;
	}
	if (n == RF_NET_FAST_LENS)
		return -1;
	for (j = n; j > i; j--)
		s->lens[j] = s->lens[j - 1];
	s->lens[i] = (__u8)plen;
	s->nlens = n + 1;
	return 0;
}

/* 127.0.0.0/8 (as ::ffff:127.0.0.0/104), ::1 */
RF_INLINE int rf_addr_is_loopback(const __u8 a[16])
{
	int i;

	for (i = 0; i < 10; i++)
		if (a[i])
			return 0;
	if (a[10] == 0xff && a[11] == 0xff)
		return a[12] == 127;
	if (a[10] || a[11] || a[12] || a[13] || a[14])
		return 0;
	return a[15] == 1;
}

/* ICMPv6 messages the built-in ND rule keeps: MLD (130-132, 143), RS, RA, NS, NA, redirect. */
RF_INLINE int rf_icmp6_is_nd(__u8 type)
{
	return (type >= 130 && type <= 137) || type == 143;
}

RF_INLINE int rf_addr_is_linklocal(const __u8 a[16])
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; /* fe80::/10 */
}

RF_INLINE int rf_addr_is_unspecified(const __u8 a[16])
{
	int i;

	for (i = 0; i < 16; i++)
		if (a[i])
			return 0;
	return 1;
}

/* ff01::/16 or ff02::/16 with any flags: interface- or link-local scope, never routed. */
RF_INLINE int rf_addr_is_link_multicast(const __u8 a[16])
{
	return a[0] == 0xff && (a[1] & 0x0f) <= 2;
}

/* rf_nd_check() verdicts */
#define RF_ND_DENY	0
#define RF_ND_ALLOW	1
#define RF_ND_IF_ONLINK 2 /* allowed only if the route to dst has no gateway (the caller knows) */

/*
 * Does an ICMPv6 ND or MLD message (rf_icmp6_is_nd) have the shape the protocol requires, so that
 * it cannot cross a router (RFC 4861 section 6-8, RFC 3810 section 5)?
 *  - code 0;
 *  - MLD (130-132, 143): hop limit 1, link-local or unspecified source, multicast destination:
 *    a router never forwards it;
 *  - RS, RA, NS, NA, redirect (133-137): hop limit 255, so a received one was sent on the link;
 *    RA and redirect from a link-local source. Sent ones go to a link-local address or a
 *    link-scope group; NS (neighbour unreachability probes) and NA (answers to a solicitation
 *    from a global address) may also go to a unicast address that is on the link, which only
 *    the route tells: RF_ND_IF_ONLINK.
 * Example: an NS with hop limit 255 to 2001:db8:ffff::9 routed via a gateway is denied.
 */
RF_INLINE int rf_nd_check(__u8 type, __u8 code, __u8 hop_limit, const __u8 src[16],
			  const __u8 dst[16], int ingress)
{
	if (code != 0 || !rf_icmp6_is_nd(type))
		return RF_ND_DENY;
	if (type <= 132 || type == 143) {
		if (hop_limit != 1 || dst[0] != 0xff)
			return RF_ND_DENY;
		return rf_addr_is_linklocal(src) || rf_addr_is_unspecified(src) ? RF_ND_ALLOW
										: RF_ND_DENY;
	}
	if (hop_limit != 255)
		return RF_ND_DENY;
	if ((type == 134 || type == 137) && !rf_addr_is_linklocal(src))
		return RF_ND_DENY;
	if (ingress || rf_addr_is_linklocal(dst) || rf_addr_is_link_multicast(dst))
		return RF_ND_ALLOW;
	if ((type == 135 || type == 136) && dst[0] != 0xff)
		return RF_ND_IF_ONLINK;
	return RF_ND_DENY;
}

/* DHCPv4 (client 68, server 67) or DHCPv6 (client 546, server 547) seen from the client host. */
RF_INLINE int rf_is_dhcp_client(__u8 proto, __u16 lport, __u16 rport)
{
	if (proto != RF_IPPROTO_UDP)
		return 0;
	return (lport == 68 && rport == 67) || (lport == 546 && rport == 547);
}

/* rf_dhcp_peer() verdicts */
#define RF_DHCP_DENY	 0
#define RF_DHCP_ALLOW	 1
#define RF_DHCP_IF_KNOWN 2 /* allowed if the remote address is a known server (rf_dhcp_server) */

/*
 * May a DHCP client packet (rf_is_dhcp_client) go to / come from this peer? The source port
 * alone proves nothing: any process may bind 68 or 546 where ip_unprivileged_port_start allows
 * it. Out: DHCPv4 to 255.255.255.255 (never routed), DHCPv6 to All_DHCP_Relay_Agents_and_Servers
 * ff02::1:2 or All_DHCP_Servers ff05::1:3; in: DHCPv4 to 255.255.255.255, DHCPv6 to a group or
 * from a link-local address (a router never forwards either). Anything else only with a known
 * server as the remote. Example: 68 -> 203.0.113.9:67 is RF_DHCP_IF_KNOWN.
 */
RF_INLINE int rf_dhcp_peer(__u16 lport, const __u8 remote[16], const __u8 local[16], int ingress)
{
	const __u8 *group = ingress ? local : remote;
	int i, bcast = 1, servers = 1;

	for (i = 0; i < 16; i++)
		if (group[i] != (i < 10 ? 0 : 0xff))
			bcast = 0;
	/* ff02::1:2 or ff05::1:3: zero but for bytes 0, 1, 13 and 15 */
	for (i = 2; i < 15; i++)
		if (i != 13 && group[i])
			servers = 0;
	if (group[0] != 0xff || group[13] != 1 ||
	    !((group[1] == 0x02 && group[15] == 2) || (group[1] == 0x05 && group[15] == 3)))
		servers = 0;
	if (lport == 68)
		return bcast ? RF_DHCP_ALLOW : RF_DHCP_IF_KNOWN;
	if (ingress && (group[0] == 0xff || rf_addr_is_linklocal(remote)))
		return RF_DHCP_ALLOW;
	if (!ingress && servers)
		return RF_DHCP_ALLOW;
	return RF_DHCP_IF_KNOWN;
}

#define RF_UID_UNKNOWN 0xffffffffu /* a socket marked before marks carried the uid */

/*
 * Does an rf_allow_exe_v3 value allow uid? RF_EXE_ANY_USER, or uid among the first count
 * (clamped) entries. RF_UID_UNKNOWN (a socket an earlier build marked, with no uid) is allowed
 * by any entry that allows someone: that build checked the executable when it marked it.
 */
RF_INLINE int rf_exe_users_allow(const struct rf_exe_users *v, __u32 uid)
{
	__u32 n = v->count;
	int i;

	if (v->flags & RF_EXE_ANY_USER)
		return 1;
	if (uid == RF_UID_UNKNOWN)
		return n > 0;
	for (i = 0; i < RF_EXE_MAX_USERS; i++) {
		if ((__u32)i >= n)
			break;
		if (v->uid[i] == uid)
			return 1;
	}
	return 0;
}

#endif /* RF_POLICY_BPF_H */
