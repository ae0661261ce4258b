// SPDX-License-Identifier: GPL-2.0-only
/* Pure verdict functions shared with the BPF programs: every allow case has a deny twin. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include "policy.bpf.h"
#include "helpers.h"

Test(policy, port_in)
{
	static const struct {
		__u16 lo, hi, port;
		int want;
	} cases[] = {
	    {0, 0, 0, 1},	   {0, 0, 1, 1},	  {0, 0, 65535, 1}, /* any port */
	    {22, 22, 22, 1},	   {22, 22, 21, 0},	  {22, 22, 23, 0},
	    {1000, 2000, 1000, 1}, {1000, 2000, 2000, 1}, {1000, 2000, 1500, 1},
	    {1000, 2000, 999, 0},  {1000, 2000, 2001, 0}, {1000, 2000, 0, 0},
	    {1, 65535, 65535, 1},  {1, 65535, 0, 0},	  {0, 10, 0, 1},
	    {0, 10, 11, 0}, /* lo 0 with hi set is a plain range */
	    {10, 5, 7, 0},	   {10, 5, 10, 0},	  {10, 5, 5, 0}, /* lo > hi */
	    {5, 0, 5, 0},	   {5, 0, 0, 0},	  {65535, 1, 100, 0},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		cr_assert_eq(rf_port_in(cases[i].lo, cases[i].hi, cases[i].port), cases[i].want,
			     "port %u in %u-%u", cases[i].port, cases[i].lo, cases[i].hi);
}

Test(policy, reversed_range_matches_no_port)
{
	unsigned int p;

	for (p = 0; p <= 65535; p++)
		cr_assert_not(rf_port_in(10, 5, (__u16)p), "port %u", p);
}

Test(policy, proto_matches)
{
	static const struct {
		__u8 rule, proto;
		int want;
	} cases[] = {
	    {RF_PROTO_ANY, RF_IPPROTO_TCP, 1},
	    {RF_PROTO_ANY, RF_IPPROTO_UDP, 1},
	    {RF_PROTO_ANY, RF_IPPROTO_ICMPV6, 1},
	    {RF_PROTO_ANY, 132, 1},
	    {RF_PROTO_ANY, 0, 1},
	    {RF_PROTO_TCP, RF_IPPROTO_TCP, 1},
	    {RF_PROTO_TCP, RF_IPPROTO_UDP, 0},
	    {RF_PROTO_TCP, RF_IPPROTO_ICMP, 0},
	    {RF_PROTO_TCP, 0, 0},
	    {RF_PROTO_UDP, RF_IPPROTO_UDP, 1},
	    {RF_PROTO_UDP, RF_IPPROTO_TCP, 0},
	    {RF_PROTO_UDP, 136 /* UDP-Lite */, 0},
	    {RF_PROTO_ICMP, RF_IPPROTO_ICMP, 1},
	    {RF_PROTO_ICMP, RF_IPPROTO_ICMPV6, 1},
	    {RF_PROTO_ICMP, RF_IPPROTO_TCP, 0},
	    {RF_PROTO_ICMP, RF_IPPROTO_UDP, 0},
	    {RF_PROTO_ICMP, 0, 0},
	    /* unknown rule protocol (another agent wrote the map): matches nothing */
	    {58, RF_IPPROTO_ICMPV6, 0},
	    {132, 132, 0},
	    {2, 2, 0},
	    {255, 255, 0},
	    {255, RF_IPPROTO_TCP, 0},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		cr_assert_eq(rf_proto_matches(cases[i].rule, cases[i].proto), cases[i].want,
			     "rule proto %u vs packet proto %u", cases[i].rule, cases[i].proto);
}

Test(policy, unknown_rule_proto_matches_no_packet)
{
	unsigned int rule, proto;

	for (rule = 0; rule < 256; rule++) {
		if (rule == RF_PROTO_ANY || rule == RF_PROTO_ICMP || rule == RF_PROTO_TCP ||
		    rule == RF_PROTO_UDP)
			continue;
		for (proto = 0; proto < 256; proto++)
			cr_assert_not(rf_proto_matches((__u8)rule, (__u8)proto), "%u vs %u", rule,
				      proto);
	}
}

/* ---- rf_entry_allows --------------------------------------------------------------------------
 */

#define OUT  RF_MATCH_OUT_INIT
#define IN   RF_MATCH_IN_INIT
#define FLOW RF_MATCH_FLOW
#define SEND RF_MATCH_SEND

struct entry_case {
	struct rf_net_entry e;
	__u8 proto;
	__u16 rport, lport;
	int match;
	int want;
	const char *what;
};

#define E(p, d, lo, hi)                                                                            \
	{                                                                                          \
		(p), (d), 0, 0, (lo), (hi)                                                         \
	}

static const struct entry_case entry_cases[] = {
    /* dir out: the remote port decides */
    {E(RF_PROTO_TCP, RF_DIR_OUT, 443, 443), 6, 443, 40000, OUT, 1, "out to 443"},
    {E(RF_PROTO_TCP, RF_DIR_OUT, 443, 443), 6, 40000, 443, OUT, 0, "out: local 443 is not it"},
    {E(RF_PROTO_TCP, RF_DIR_OUT, 443, 443), 6, 444, 40000, OUT, 0, "out to 444"},
    {E(RF_PROTO_TCP, RF_DIR_OUT, 443, 443), 6, 443, 40000, IN, 0, "out rule, inbound SYN"},
    {E(RF_PROTO_TCP, RF_DIR_OUT, 443, 443), 6, 443, 40000, FLOW, 1, "out rule, reply"},
    {E(RF_PROTO_TCP, RF_DIR_OUT, 443, 443), 6, 40000, 443, FLOW, 0, "out rule, wrong side"},
    {E(RF_PROTO_TCP, RF_DIR_OUT, 443, 443), 17, 443, 40000, OUT, 0, "out rule, udp"},
    /* dir in: the local port decides */
    {E(RF_PROTO_TCP, RF_DIR_IN, 22, 22), 6, 50000, 22, IN, 1, "in to local 22"},
    {E(RF_PROTO_TCP, RF_DIR_IN, 22, 22), 6, 22, 50000, IN, 0, "in: remote 22 is not it"},
    {E(RF_PROTO_TCP, RF_DIR_IN, 22, 22), 6, 50000, 23, IN, 0, "in to local 23"},
    {E(RF_PROTO_TCP, RF_DIR_IN, 22, 22), 6, 22, 50000, OUT, 0, "in rule, outbound"},
    {E(RF_PROTO_TCP, RF_DIR_IN, 22, 22), 6, 50000, 22, OUT, 0, "in rule, outbound from 22"},
    {E(RF_PROTO_TCP, RF_DIR_IN, 22, 22), 6, 50000, 22, FLOW, 1, "in rule, flow"},
    {E(RF_PROTO_TCP, RF_DIR_IN, 22, 22), 6, 22, 50000, FLOW, 0, "in rule, flow wrong side"},
    /* sendmsg: an out rule on the remote port, or an in rule on the bound local port (replies) */
    {E(RF_PROTO_UDP, RF_DIR_OUT, 53, 53), 17, 53, 40000, SEND, 1, "send, out rule"},
    {E(RF_PROTO_UDP, RF_DIR_OUT, 53, 53), 17, 40000, 53, SEND, 0, "send, out rule, from 53"},
    {E(RF_PROTO_UDP, RF_DIR_IN, 9001, 9001), 17, 40000, 9001, SEND, 1, "send, reply from in port"},
    {E(RF_PROTO_UDP, RF_DIR_IN, 9001, 9001), 17, 40000, 9002, SEND, 0, "send from other port"},
    {E(RF_PROTO_UDP, RF_DIR_IN, 9001, 9001), 17, 9001, 40000, SEND, 0, "send to in port"},
    {E(RF_PROTO_UDP, RF_DIR_IN, 0, 0), 17, 40000, 0, SEND, 0, "send, in any, unbound socket"},
    {E(RF_PROTO_UDP, RF_DIR_IN, 0, 0), 17, 40000, 7, SEND, 1, "send, in any, bound socket"},
    /* both */
    {E(RF_PROTO_UDP, RF_DIR_BOTH, 53, 53), 17, 53, 3000, OUT, 1, "both, out"},
    {E(RF_PROTO_UDP, RF_DIR_BOTH, 53, 53), 17, 3000, 53, OUT, 0, "both, out wrong side"},
    {E(RF_PROTO_UDP, RF_DIR_BOTH, 53, 53), 17, 3000, 53, IN, 1, "both, in"},
    {E(RF_PROTO_UDP, RF_DIR_BOTH, 53, 53), 17, 53, 3000, IN, 0, "both, in wrong side"},
    {E(RF_PROTO_UDP, RF_DIR_BOTH, 53, 53), 17, 53, 3000, FLOW, 1, "both, flow remote"},
    {E(RF_PROTO_UDP, RF_DIR_BOTH, 53, 53), 17, 3000, 53, FLOW, 1, "both, flow local"},
    {E(RF_PROTO_UDP, RF_DIR_BOTH, 53, 53), 17, 3000, 3000, FLOW, 0, "both, flow neither"},
    /* any port, any proto */
    {E(RF_PROTO_ANY, RF_DIR_BOTH, 0, 0), 6, 1, 2, OUT, 1, "any/any out"},
    {E(RF_PROTO_ANY, RF_DIR_BOTH, 0, 0), 58, 0, 0, FLOW, 1, "any/any icmpv6"},
    {E(RF_PROTO_ANY, RF_DIR_OUT, 0, 0), 6, 1, 2, IN, 0, "any port out, inbound"},
    {E(RF_PROTO_ICMP, RF_DIR_OUT, 0, 0), 1, 0, 0, OUT, 1, "icmp out"},
    {E(RF_PROTO_ICMP, RF_DIR_OUT, 0, 0), 58, 0, 0, OUT, 1, "icmpv6 out"},
    {E(RF_PROTO_ICMP, RF_DIR_OUT, 0, 0), 17, 0, 0, OUT, 0, "icmp rule, udp"},
    /* garbage from another agent */
    {E(RF_PROTO_ANY, 0, 0, 0), 6, 80, 80, OUT, 0, "dir 0, out"},
    {E(RF_PROTO_ANY, 0, 0, 0), 6, 80, 80, IN, 0, "dir 0, in"},
    {E(RF_PROTO_ANY, 0, 0, 0), 6, 80, 80, FLOW, 0, "dir 0, flow"},
    {E(RF_PROTO_ANY, 0xfc, 0, 0), 6, 80, 80, FLOW, 0, "only unknown dir bits"},
    {E(RF_PROTO_ANY, 0xff, 0, 0), 6, 80, 80, FLOW, 1, "unknown bits on top of both"},
    {E(RF_PROTO_TCP, RF_DIR_BOTH, 10, 5), 6, 7, 7, FLOW, 0, "lo > hi, flow"},
    {E(RF_PROTO_TCP, RF_DIR_BOTH, 10, 5), 6, 10, 5, OUT, 0, "lo > hi, out"},
    {E(RF_PROTO_TCP, RF_DIR_BOTH, 10, 5), 6, 5, 10, IN, 0, "lo > hi, in"},
    {E(RF_PROTO_TCP, RF_DIR_BOTH, 10, 10), 6, 10, 10, FLOW, 1, "lo == hi twin"},
    {E(99, RF_DIR_BOTH, 0, 0), 99, 0, 0, FLOW, 0, "unknown proto"},
    /* unknown match value behaves like FLOW (either side) */
    {E(RF_PROTO_TCP, RF_DIR_IN, 22, 22), 6, 50000, 22, 7, 1, "unknown match value"},
    {E(RF_PROTO_TCP, RF_DIR_IN, 22, 22), 6, 50000, 23, 7, 0, "unknown match value, deny"},
};

Test(policy, entry_allows)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(entry_cases); i++) {
		const struct entry_case *t = &entry_cases[i];

		cr_assert_eq(rf_entry_allows(&t->e, t->proto, t->rport, t->lport, t->match),
			     t->want, "case %zu: %s", i, t->what);
	}
}

Test(policy, entry_cases_are_paired)
{
	size_t i, allow = 0, deny = 0;

	for (i = 0; i < ARRAY_SIZE(entry_cases); i++) {
		if (entry_cases[i].want)
			allow++;
		else
			deny++;
	}
	cr_assert(allow > 0 && deny >= allow, "%zu allow cases but only %zu deny cases", allow,
		  deny);
}

/* ---- rf_net_val_allows ------------------------------------------------------------------------
 */

Test(policy, net_val_allows_any_entry)
{
	struct rf_net_val v = {.count = 2, .prefixlen = 120};

	v.e[0] = (struct rf_net_entry)E(RF_PROTO_TCP, RF_DIR_OUT, 443, 443);
	v.e[1] = (struct rf_net_entry)E(RF_PROTO_UDP, RF_DIR_OUT, 53, 53);
	cr_assert(rf_net_val_allows(&v, 6, 443, 1000, OUT));
	cr_assert(rf_net_val_allows(&v, 17, 53, 1000, OUT));
	cr_assert_not(rf_net_val_allows(&v, 17, 443, 1000, OUT));
	cr_assert_not(rf_net_val_allows(&v, 6, 53, 1000, OUT));
	cr_assert_not(rf_net_val_allows(&v, 6, 443, 1000, IN));
}

Test(policy, net_val_count_limits_entries)
{
	struct rf_net_val v = {.count = 1, .prefixlen = 128};

	v.e[0] = (struct rf_net_entry)E(RF_PROTO_TCP, RF_DIR_OUT, 80, 80);
	v.e[1] = (struct rf_net_entry)E(RF_PROTO_TCP, RF_DIR_OUT, 443, 443); /* beyond count */
	cr_assert(rf_net_val_allows(&v, 6, 80, 1, OUT));
	cr_assert_not(rf_net_val_allows(&v, 6, 443, 1, OUT), "entry beyond count used");
	v.count = 0;
	cr_assert_not(rf_net_val_allows(&v, 6, 80, 1, OUT), "empty value allowed");
	v.count = 2;
	cr_assert(rf_net_val_allows(&v, 6, 443, 1, OUT));
}

Test(policy, net_val_garbage_count_is_clamped)
{
	/* a larger struct so that an unclamped loop would read the allow entry past the value */
	struct {
		struct rf_net_val v;
		struct rf_net_entry beyond[4];
	} s = {};
	int i;

	for (i = 0; i < RF_NET_MAX_ENTRIES; i++)
		s.v.e[i] = (struct rf_net_entry)E(RF_PROTO_TCP, RF_DIR_OUT, 1000 + i, 1000 + i);
	s.beyond[0] = (struct rf_net_entry)E(RF_PROTO_ANY, RF_DIR_BOTH, 0, 0);
	s.v.count = 0xffffffff;
	cr_assert(rf_net_val_allows(&s.v, 6, 1007, 1, OUT), "last real entry not checked");
	cr_assert_not(rf_net_val_allows(&s.v, 6, 1008, 1, OUT), "read past the value");
	cr_assert_not(rf_net_val_allows(&s.v, 17, 5, 5, FLOW), "read past the value");
	s.v.count = RF_NET_MAX_ENTRIES + 1;
	cr_assert_not(rf_net_val_allows(&s.v, 17, 5, 5, FLOW), "read past the value");
}

Test(policy, net_val_garbage_entries_deny)
{
	struct rf_net_val v = {.count = RF_NET_MAX_ENTRIES, .prefixlen = 999};
	int i;

	for (i = 0; i < RF_NET_MAX_ENTRIES; i++)
		v.e[i] = (struct rf_net_entry)E(200 + i, 0xff, 0, 0); /* unknown protocols */
	cr_assert_not(rf_net_val_allows(&v, 6, 80, 80, FLOW));
	for (i = 0; i < RF_NET_MAX_ENTRIES; i++)
		v.e[i] = (struct rf_net_entry)E(RF_PROTO_ANY, 0, 0, 0); /* no direction */
	cr_assert_not(rf_net_val_allows(&v, 6, 80, 80, FLOW));
	for (i = 0; i < RF_NET_MAX_ENTRIES; i++)
		v.e[i] = (struct rf_net_entry)E(RF_PROTO_ANY, RF_DIR_BOTH, 65535, 1); /* lo > hi */
	cr_assert_not(rf_net_val_allows(&v, 6, 80, 80, FLOW));
	v.e[3] = (struct rf_net_entry)E(RF_PROTO_ANY, RF_DIR_BOTH, 0, 0); /* one good entry */
	cr_assert(rf_net_val_allows(&v, 6, 80, 80, FLOW));
}

/* ---- rf_lpm_next ------------------------------------------------------------------------------
 */

Test(policy, lpm_next)
{
	cr_assert_eq(rf_lpm_next(0, 0), -1);
	cr_assert_eq(rf_lpm_next(0, 128), -1);
	cr_assert_eq(rf_lpm_next(1, 128), 0);
	cr_assert_eq(rf_lpm_next(120, 128), 119);
	cr_assert_eq(rf_lpm_next(128, 128), 127);
	cr_assert_eq(rf_lpm_next(96, 104), 95);
	/* garbage vlen > cur acts as cur */
	cr_assert_eq(rf_lpm_next(129, 128), 127);
	cr_assert_eq(rf_lpm_next(0xffffffff, 128), 127);
	cr_assert_eq(rf_lpm_next(0xffffffff, 0), -1);
	cr_assert_eq(rf_lpm_next(200, 5), 4);
}

Test(policy, lpm_next_always_shrinks)
{
	static const __u32 vlens[] = {
	    0, 1, 31, 95, 96, 127, 128, 129, 255, 256, 0x7fffffff, 0x80000000, 0xffffffff,
	};
	__u32 cur;
	size_t i;

	for (cur = 0; cur <= 128; cur++) {
		for (i = 0; i < ARRAY_SIZE(vlens); i++) {
			int next = rf_lpm_next(vlens[i], cur);

			cr_assert(next >= -1 && next < (int)cur, "vlen %u cur %u -> %d", vlens[i],
				  cur, next);
		}
		for (i = 0; i <= cur; i++)
			cr_assert_eq(rf_lpm_next((__u32)i, cur), (int)i - 1);
	}
}

Test(policy, lpm_walk_terminates)
{
	/* a walk fed garbage values ends within 129 steps */
	int cur = 128, steps = 0;

	while (cur >= 0) {
		cur = rf_lpm_next(0xffffffff, (__u32)cur);
		cr_assert(++steps <= 129);
	}
	cr_assert_eq(steps, 129);
}

/* ---- address and packet classifiers -----------------------------------------------------------
 */

Test(policy, loopback)
{
	static const struct {
		const char *addr;
		int want;
	} cases[] = {
	    {"::ffff:127.0.0.1", 1},
	    {"::ffff:127.255.255.255", 1},
	    {"::ffff:127.0.0.0", 1},
	    {"::1", 1},
	    {"::ffff:128.0.0.1", 0},
	    {"::ffff:126.255.255.255", 0},
	    {"::ffff:0:0", 0},
	    {"::2", 0},
	    {"::", 0},
	    {"::127.0.0.1", 0}, /* IPv4-compatible */
	    {"::1:0:0:1", 0},
	    {"1::1", 0},
	    {"::fffe:127.0.0.1", 0},
	    {"::ffff:0:7f00:1", 0},
	    {"fe80::1", 0},
	    {"0:0:0:0:1::1", 0},
	    {"100::ffff:127.0.0.1", 0},
	    {"::ff:127.0.0.1", 0},
	    {"::101", 0},
	    {"::1:1", 0},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		__u8 a[16];

		cr_assert_eq(inet_pton(AF_INET6, cases[i].addr, a), 1, "%s", cases[i].addr);
		cr_assert_eq(rf_addr_is_loopback(a), cases[i].want, "%s", cases[i].addr);
	}
}

Test(policy, icmp6_nd)
{
	unsigned int t;

	for (t = 0; t < 256; t++) {
		int want = (t >= 130 && t <= 137) || t == 143;

		cr_assert_eq(rf_icmp6_is_nd((__u8)t), want, "ICMPv6 type %u", t);
	}
	cr_assert(rf_icmp6_is_nd(135));	    /* neighbour solicitation */
	cr_assert_not(rf_icmp6_is_nd(128)); /* echo request is not ND */
	cr_assert_not(rf_icmp6_is_nd(129));
	cr_assert_not(rf_icmp6_is_nd(138));
	cr_assert_not(rf_icmp6_is_nd(142));
	cr_assert_not(rf_icmp6_is_nd(144));
}

Test(policy, dhcp_client)
{
	static const struct {
		__u8 proto;
		__u16 lport, rport;
		int want;
	} cases[] =
	    {
		{17, 68, 67, 1},   {17, 546, 547, 1}, {17, 67, 68, 0},
		{17, 547, 546, 0},		     /* we are not a server */
		{6, 68, 67, 0},	   {6, 546, 547, 0}, /* tcp */
		{0, 68, 67, 0},	   {58, 546, 547, 0}, {17, 68, 547, 0},
		{17, 546, 67, 0}, /* mixed families */
		{17, 68, 68, 0},   {17, 67, 67, 0},   {17, 68, 53, 0},
		{17, 1068, 67, 0}, {17, 0, 0, 0},
	    };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		cr_assert_eq(rf_is_dhcp_client(cases[i].proto, cases[i].lport, cases[i].rport),
			     cases[i].want, "proto %u %u -> %u", cases[i].proto, cases[i].lport,
			     cases[i].rport);
}
