// SPDX-License-Identifier: GPL-2.0-only
/*
 * BPF_PROG_TEST_RUN on the cgroup_skb programs rf_ingress and rf_egress with crafted packets:
 * the verdict logic without sockets, including map contents no CLI would write.
 *
 * Kernel behaviour (net/bpf/test_run.c, bpf_prog_test_run_skb): the input starts at the
 * Ethernet header; eth_type_trans() pulls it, so a cgroup_skb program sees the IP header at
 * offset 0, as on a real socket. The skb's device is the loopback device of the caller's netns
 * unless ctx.ifindex > 1 names another one, and the programs let anything on ifindex 1 pass. So
 * the test process moves into a fresh network namespace (it dies with the test) and creates a
 * veth pair there, whose ifindex goes into the ctx.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <criterion/criterion.h>
#include "rf_test.h"
#include "ringfence.h"
#include "ringfence.skel.h"

#define TCP_SYN		0x02
#define TCP_ACK		0x10
#define IPPROTO_ICMPV6_ 58

static struct ringfence_bpf *skel;
static int ifindex;

static void prog_run_setup(void)
{
	char *argv[] = {"ip",	"link", "add",	"rftv0", "type",
			"veth", "peer", "name", "rftv1", NULL};

	rft_require_kernel();
	/* a private netns for this (forked) test process only: the veth lives and dies there */
	if (unshare(CLONE_NEWNET))
		cr_assert_fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	cr_assert_eq(rft_exec(NULL, argv, NULL, NULL), 0, "cannot create a veth in the test netns");
	ifindex = (int)if_nametoindex("rftv0");
	cr_assert_gt(ifindex, 1);
	skel = ringfence_bpf__open();
	cr_assert_not_null(skel, "ringfence_bpf__open: %s", strerror(errno));
	/* not under test here, and a 5.10 kernel cannot load it (the loader leaves it out there) */
	bpf_program__set_autoload(skel->progs.rf_setsockopt, false);
	cr_assert_eq(ringfence_bpf__load(skel), 0, "ringfence_bpf__load: %s", strerror(errno));
}

static void prog_run_teardown(void)
{
	ringfence_bpf__destroy(skel); /* nothing pinned; the netns goes with the process */
	skel = NULL;
}

TestSuite(prog_run, .init = prog_run_setup, .fini = prog_run_teardown, .timeout = 30);

/* ---- maps ------------------------------------------------------------------------------ */

static void set_config(__u32 isolated, __u64 deadline_ns, __u32 builtins)
{
	struct rf_config c = {.abi_version = RF_ABI_VERSION,
			      .isolated = isolated,
			      .deadline_ns = deadline_ns,
			      .builtins = builtins};
	__u32 zero = 0;

	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.rf_config), &zero, &c, BPF_ANY), 0);
}

/* "192.0.2.0" or "2001:db8::" -> key bytes (IPv4 mapped); returns 96 for IPv4, 0 for IPv6. */
static int addr16(const char *s, __u8 out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out + 12) == 1) {
		out[10] = out[11] = 0xff;
		return 96;
	}
	cr_assert_eq(inet_pton(AF_INET6, s, out), 1, "bad address %s", s);
	return 0;
}

/* Insert a raw value for addr/len (len in the address family's bits). */
static void put_net_raw(const char *addr, int len, const struct rf_net_val *v)
{
	struct rf_net_key k;

	k.prefixlen = (__u32)(addr16(addr, k.addr) + len);
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.rf_allow_net), &k, v, BPF_ANY), 0,
		     "rf_allow_net update %s/%d: %s", addr, len, strerror(errno));
}

/* One-entry rule as the CLI writes it. */
static void put_net(const char *addr, int len, __u8 proto, __u8 dir, __u16 lo, __u16 hi)
{
	struct rf_net_val v = {.count = 1};
	__u8 tmp[16];

	v.prefixlen = (__u32)(addr16(addr, tmp) + len);
	v.e[0] = (struct rf_net_entry){.proto = proto, .dir = dir, .port_lo = lo, .port_hi = hi};
	put_net_raw(addr, len, &v);
}

/* ---- packets --------------------------------------------------------------------------- */

struct pkt {
	__u8 b[256];
	__u32 len;
};

static __u16 csum16(const void *p, size_t n)
{
	const __u8 *b = p;
	__u32 s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (__u32)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (__u32)b[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((__u16)~s);
}

/*
 * Ethernet + IPv4 or IPv6 + a transport header (TCP 20 bytes, UDP 8, ICMP/ICMPv6 8) + 32 bytes of
 * payload. `icmp_type` is used for ICMP; sport/dport/tcp_flags for TCP and UDP.
 */
static struct pkt mkpkt(const char *src, const char *dst, __u8 proto, __u16 sport, __u16 dport,
			__u8 tcp_flags, __u8 icmp_type)
{
	struct pkt p = {};
	__u8 s16[16], d16[16], *ip = p.b + 14, *l4;
	bool v6 = addr16(src, s16) == 0;
	__u32 l4len = proto == IPPROTO_TCP ? 20 : 8, iplen;

	addr16(dst, d16);
	memcpy(p.b, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	p.b[12] = v6 ? 0x86 : 0x08;
	p.b[13] = v6 ? 0xdd : 0x00;
	if (v6) {
		iplen = 40;
		ip[0] = 0x60;
		ip[4] = (__u8)((l4len + 32) >> 8);
		ip[5] = (__u8)(l4len + 32);
		ip[6] = proto;
		ip[7] = 64;
		memcpy(ip + 8, s16, 16);
		memcpy(ip + 24, d16, 16);
	} else {
		iplen = 20;
		ip[0] = 0x45;
		ip[2] = (__u8)((20 + l4len + 32) >> 8);
		ip[3] = (__u8)(20 + l4len + 32);
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, s16 + 12, 4);
		memcpy(ip + 16, d16 + 12, 4);
		memcpy(ip + 10, &(__u16){csum16(ip, 20)}, 2);
	}
	l4 = ip + iplen;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		l4[0] = (__u8)(sport >> 8);
		l4[1] = (__u8)sport;
		l4[2] = (__u8)(dport >> 8);
		l4[3] = (__u8)dport;
		if (proto == IPPROTO_TCP) {
			l4[12] = 5 << 4;
			l4[13] = tcp_flags;
			l4[14] = 0xff;
		} else {
			l4[4] = (__u8)((8 + 32) >> 8);
			l4[5] = (__u8)(8 + 32);
		}
	} else {
		l4[0] = icmp_type;
	}
	memset(l4 + l4len, 'p', 32);
	p.len = 14 + iplen + l4len + 32;
	return p;
}

#define TCP(src, dst, sp, dp, fl) mkpkt(src, dst, IPPROTO_TCP, sp, dp, fl, 0)
#define UDP(src, dst, sp, dp)	  mkpkt(src, dst, IPPROTO_UDP, sp, dp, 0, 0)
#define ICMP6(src, dst, type)	  mkpkt(src, dst, IPPROTO_ICMPV6_, 0, 0, 0, type)

/* Run prog on the packet as if it came through the veth (or `ifidx`); returns the verdict. */
static int run_on(struct bpf_program *prog, struct pkt p, int ifidx)
{
	struct __sk_buff ctx = {.ifindex = (__u32)ifidx};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p.b, .data_size_in = p.len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &o);

	cr_assert_eq(err, 0, "bpf_prog_test_run_opts(%s): %s", bpf_program__name(prog),
		     strerror(-err));
	return (int)o.retval;
}

#define EGRESS(p)  run_on(skel->progs.rf_egress, p, ifindex)
#define INGRESS(p) run_on(skel->progs.rf_ingress, p, ifindex)

/* Local and remote test addresses. */
#define L4 "192.0.2.1"
#define L6 "2001:db8::1"
#define R4 "192.0.2.2" /* has rules */
#define R6 "2001:db8::2"
#define J4 "192.0.2.3" /* jump host: dir in rules */
#define J6 "2001:db8::3"
#define X4 "192.0.2.99" /* no rules */
#define X6 "2001:db8::99"

static void standard_rules(void)
{
	put_net(R4, 32, RF_PROTO_TCP, RF_DIR_OUT, 443, 443);
	put_net(R6, 128, RF_PROTO_TCP, RF_DIR_OUT, 443, 443);
	put_net(J4, 32, RF_PROTO_TCP, RF_DIR_IN, 22, 22);
	put_net(J6, 128, RF_PROTO_TCP, RF_DIR_IN, 22, 22);
}

Test(prog_run, not_isolated_allows_everything)
{
	set_config(0, 0, 0);
	cr_expect_eq(EGRESS(TCP(L4, X4, 40000, 80, TCP_SYN)), 1);
	cr_expect_eq(EGRESS(TCP(L6, X6, 40000, 80, TCP_SYN)), 1);
	cr_expect_eq(INGRESS(UDP(X4, L4, 53, 40000)), 1);
	cr_expect_eq(INGRESS(UDP(X6, L6, 53, 40000)), 1);
	cr_expect_eq(INGRESS(ICMP6(X6, L6, 128)), 1);
	/* and the same packets are denied once isolated: the verdicts above were not by accident */
	set_config(1, 0, 0);
	cr_expect_eq(EGRESS(TCP(L4, X4, 40000, 80, TCP_SYN)), 0);
	cr_expect_eq(EGRESS(TCP(L6, X6, 40000, 80, TCP_SYN)), 0);
	cr_expect_eq(INGRESS(UDP(X4, L4, 53, 40000)), 0);
	cr_expect_eq(INGRESS(UDP(X6, L6, 53, 40000)), 0);
	cr_expect_eq(INGRESS(ICMP6(X6, L6, 128)), 0);
}

Test(prog_run, isolated_out_rule_prefix_and_port)
{
	standard_rules();
	put_net("192.0.2.128", 25, RF_PROTO_UDP, RF_DIR_OUT, 5000, 5010);
	put_net("2001:db8:1::", 48, RF_PROTO_UDP, RF_DIR_OUT, 5000, 5010);
	set_config(RF_ISOLATED, 0, RF_BUILTIN_ALL);

	/* allowed destination + port, both families, SYN and later packets */
	cr_expect_eq(EGRESS(TCP(L4, R4, 40000, 443, TCP_SYN)), 1);
	cr_expect_eq(EGRESS(TCP(L4, R4, 40000, 443, TCP_ACK)), 1);
	cr_expect_eq(EGRESS(TCP(L6, R6, 40000, 443, TCP_SYN)), 1);
	cr_expect_eq(INGRESS(TCP(R4, L4, 443, 40000, TCP_SYN | TCP_ACK)), 1);
	cr_expect_eq(INGRESS(TCP(R6, L6, 443, 40000, TCP_ACK)), 1);
	/* other port on the same host, other host, other protocol */
	cr_expect_eq(EGRESS(TCP(L4, R4, 40000, 444, TCP_SYN)), 0);
	cr_expect_eq(EGRESS(TCP(L6, R6, 40000, 444, TCP_SYN)), 0);
	cr_expect_eq(INGRESS(TCP(R4, L4, 444, 40000, TCP_ACK)), 0);
	cr_expect_eq(EGRESS(TCP(L4, X4, 40000, 443, TCP_SYN)), 0);
	cr_expect_eq(EGRESS(TCP(L6, X6, 40000, 443, TCP_SYN)), 0);
	cr_expect_eq(EGRESS(UDP(L4, R4, 40000, 443)), 0);
	cr_expect_eq(EGRESS(UDP(L6, R6, 40000, 443)), 0);
	/* prefixes with a port range: inside, at both ends, outside */
	cr_expect_eq(EGRESS(UDP(L4, "192.0.2.200", 40000, 5000)), 1);
	cr_expect_eq(EGRESS(UDP(L4, "192.0.2.255", 40000, 5010)), 1);
	cr_expect_eq(EGRESS(UDP(L4, "192.0.2.127", 40000, 5005)), 0);
	cr_expect_eq(EGRESS(UDP(L4, "192.0.2.200", 40000, 5011)), 0);
	cr_expect_eq(EGRESS(UDP(L6, "2001:db8:1::77", 40000, 5005)), 1);
	/* a datagram from the allowed peer's port: only as the answer of a socket that sent to
	 * it (a test-run skb has no socket), see unsolicited_datagrams_need_a_sender */
	cr_expect_eq(INGRESS(UDP("2001:db8:1:ffff::1", L6, 5010, 40000)), 0);
	cr_expect_eq(EGRESS(UDP(L6, "2001:db8:2::77", 40000, 5005)), 0);
}

Test(prog_run, direction_in_out_syn_semantics)
{
	standard_rules();
	set_config(RF_ISOLATED, 0, 0);

	/* dir in, local port 22: the jump host may open connections to us ... */
	cr_expect_eq(INGRESS(TCP(J4, L4, 50000, 22, TCP_SYN)), 1);
	cr_expect_eq(INGRESS(TCP(J6, L6, 50000, 22, TCP_SYN)), 1);
	cr_expect_eq(EGRESS(TCP(L4, J4, 22, 50000, TCP_SYN | TCP_ACK)), 1);
	cr_expect_eq(EGRESS(TCP(L6, J6, 22, 50000, TCP_ACK)), 1);
	cr_expect_eq(INGRESS(TCP(J4, L4, 50000, 22, TCP_ACK)), 1);
	/* ... only to port 22 ... */
	cr_expect_eq(INGRESS(TCP(J4, L4, 50000, 23, TCP_SYN)), 0);
	cr_expect_eq(INGRESS(TCP(J6, L6, 50000, 23, TCP_SYN)), 0);
	/* ... and we may not open connections to it (not even to its port 22) */
	cr_expect_eq(EGRESS(TCP(L4, J4, 50000, 22, TCP_SYN)), 0);
	cr_expect_eq(EGRESS(TCP(L6, J6, 50000, 22, TCP_SYN)), 0);
	cr_expect_eq(EGRESS(TCP(L4, J4, 40000, 50000, TCP_ACK)), 0);

	/* dir out, remote port 443: a SYN from that host to our 443 is not an allowed open */
	cr_expect_eq(INGRESS(TCP(R4, L4, 40000, 443, TCP_SYN)), 0);
	cr_expect_eq(INGRESS(TCP(R6, L6, 40000, 443, TCP_SYN)), 0);
	cr_expect_eq(INGRESS(TCP(R4, L4, 443, 40000, TCP_SYN)), 0);
	/* the reply direction of our allowed connection passes */
	cr_expect_eq(INGRESS(TCP(R4, L4, 443, 40000, TCP_SYN | TCP_ACK)), 1);
}

/* An ICMPv6 packet with hop limit `hops` (ND wants 255, MLD 1). */
static struct pkt nd6(const char *src, const char *dst, __u8 type, __u8 hops)
{
	struct pkt p = ICMP6(src, dst, type);

	p.b[14 + 7] = hops;
	return p;
}

#define LL6  "fe80::1"
#define LLR6 "fe80::2"
#define SNM6 "ff02::1:ff00:2"	/* solicited-node group of 2001:db8::2 */
#define OFF6 "2001:db8:ffff::9" /* a global address no route puts on the link */

Test(prog_run, builtin_nd_bit)
{
	set_config(RF_ISOLATED, 0, RF_BUILTIN_ND);
	cr_expect_eq(EGRESS(nd6(L6, SNM6, 135, 255)), 1, "neighbour solicitation");
	cr_expect_eq(INGRESS(nd6(X6, L6, 136, 255)), 1, "neighbour advertisement");
	cr_expect_eq(EGRESS(nd6(LL6, "ff02::2", 133, 255)), 1, "router solicitation");
	cr_expect_eq(INGRESS(nd6(LLR6, "ff02::1", 134, 255)), 1, "router advertisement");
	cr_expect_eq(EGRESS(nd6(LL6, "ff02::16", 143, 1)), 1, "MLDv2 report");
	cr_expect_eq(EGRESS(nd6(L6, SNM6, 128, 255)), 0, "echo request is not ND");
	cr_expect_eq(INGRESS(nd6(X6, L6, 129, 255)), 0, "echo reply is not ND");

	set_config(RF_ISOLATED, 0, RF_BUILTIN_DHCP); /* ND bit off */
	cr_expect_eq(EGRESS(nd6(L6, SNM6, 135, 255)), 0);
	cr_expect_eq(INGRESS(nd6(X6, L6, 136, 255)), 0);
	cr_expect_eq(EGRESS(nd6(LL6, "ff02::2", 133, 255)), 0);
}

/* THREAT-MODEL item 8: ND/MLD only in the shape that cannot cross a router. */
Test(prog_run, builtin_nd_requires_on_link_shape)
{
	struct pkt p;

	set_config(RF_ISOLATED, 0, RF_BUILTIN_ND);
	/* NS/NA/RS/RA/redirect: hop limit 255 both ways (a routed one arrives with less) */
	cr_expect_eq(EGRESS(nd6(L6, SNM6, 135, 254)), 0);
	cr_expect_eq(EGRESS(nd6(L6, SNM6, 135, 64)), 0);
	cr_expect_eq(INGRESS(nd6(X6, L6, 136, 254)), 0, "NA from off-link (routed) accepted");
	cr_expect_eq(INGRESS(nd6(X6, L6, 135, 64)), 0, "NS from off-link (routed) accepted");
	cr_expect_eq(INGRESS(nd6(LLR6, "ff02::1", 134, 254)), 0);
	/* sent: link-local or link-scope multicast destination; a global unicast one only on-link
	 * (the route says; a test-run skb has none, so it counts as off-link) */
	cr_expect_eq(EGRESS(nd6(L6, OFF6, 135, 255)), 0, "NS with payload to an off-link address");
	cr_expect_eq(EGRESS(nd6(L6, OFF6, 136, 255)), 0, "NA to an off-link address");
	cr_expect_eq(EGRESS(nd6(L6, "ff05::1:3", 135, 255)), 0, "site-scope group");
	cr_expect_eq(EGRESS(nd6(L6, "ff0e::1", 136, 255)), 0, "global-scope group");
	cr_expect_eq(EGRESS(nd6(LL6, LLR6, 135, 255)), 1, "NS to a link-local neighbour");
	cr_expect_eq(EGRESS(nd6(LL6, "ff02::1", 136, 255)), 1, "unsolicited NA to all nodes");
	cr_expect_eq(EGRESS(nd6(LL6, OFF6, 133, 255)), 0, "RS to a global address");
	/* RA and redirect come from a link-local source */
	cr_expect_eq(INGRESS(nd6(X6, "ff02::1", 134, 255)), 0);
	cr_expect_eq(INGRESS(nd6(X6, L6, 137, 255)), 0);
	cr_expect_eq(INGRESS(nd6(LLR6, L6, 137, 255)), 1);
	/* MLD: hop limit 1, link-local or unspecified source, multicast destination */
	cr_expect_eq(EGRESS(nd6(LL6, "ff02::16", 143, 255)), 0);
	cr_expect_eq(EGRESS(nd6(L6, "ff02::16", 143, 1)), 0, "MLD from a global source");
	cr_expect_eq(EGRESS(nd6("::", "ff02::16", 143, 1)), 1, "MLD before the link-local address");
	cr_expect_eq(EGRESS(nd6(LL6, OFF6, 131, 1)), 0, "MLDv1 report to a unicast address");
	cr_expect_eq(EGRESS(nd6(LL6, "ff15::1234", 131, 1)), 1, "MLDv1 report to its group");
	cr_expect_eq(INGRESS(nd6(LLR6, "ff02::1", 130, 1)), 1, "MLD query");
	/* a non-zero code is not ND */
	p = nd6(L6, SNM6, 135, 255);
	p.b[14 + 40 + 1] = 1;
	cr_expect_eq(EGRESS(p), 0);
	/* ICMPv6 over IPv4 is nothing */
	p = mkpkt(L4, "192.0.2.255", IPPROTO_ICMPV6_, 0, 0, 0, 135);
	p.b[14 + 8] = 255;
	cr_expect_eq(EGRESS(p), 0);
}

Test(prog_run, builtin_dhcp_bit)
{
	set_config(RF_ISOLATED, 0, RF_BUILTIN_DHCP);
	cr_expect_eq(EGRESS(UDP(L4, "255.255.255.255", 68, 67)), 1, "DHCPv4 request");
	cr_expect_eq(INGRESS(UDP(X4, "255.255.255.255", 67, 68)), 1, "DHCPv4 reply");
	cr_expect_eq(EGRESS(UDP("fe80::1", "ff02::1:2", 546, 547)), 1, "DHCPv6 solicit");
	cr_expect_eq(INGRESS(UDP("fe80::2", "fe80::1", 547, 546)), 1, "DHCPv6 reply");
	cr_expect_eq(EGRESS(UDP(L4, "255.255.255.255", 68, 68)), 0);
	cr_expect_eq(EGRESS(UDP(L4, "255.255.255.255", 40000, 67)), 0, "only from the client port");
	cr_expect_eq(EGRESS(TCP(L4, "255.255.255.255", 68, 67, TCP_SYN)), 0, "only UDP");

	set_config(RF_ISOLATED, 0, RF_BUILTIN_ND); /* DHCP bit off */
	cr_expect_eq(EGRESS(UDP(L4, "255.255.255.255", 68, 67)), 0);
	cr_expect_eq(INGRESS(UDP(X4, "255.255.255.255", 67, 68)), 0);
	cr_expect_eq(EGRESS(UDP("fe80::1", "ff02::1:2", 546, 547)), 0);
}

static void put_dhcp_server(const char *addr)
{
	struct rf_addr_key k;
	struct rf_allow_val v = {};

	addr16(addr, k.addr);
	cr_assert_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.rf_dhcp_server), &k, &v, BPF_ANY),
		     0);
}

/* THREAT-MODEL built-ins: the DHCP built-in checks the peer, not only the source port. */
Test(prog_run, builtin_dhcp_checks_the_peer)
{
	set_config(RF_ISOLATED, 0, RF_BUILTIN_DHCP);
	/* to / from an unknown unicast address: whoever bound port 68/546 */
	cr_expect_eq(EGRESS(UDP(L4, X4, 68, 67)), 0, "DHCPv4 to any address");
	cr_expect_eq(INGRESS(UDP(X4, L4, 67, 68)), 0, "DHCPv4 from any address");
	cr_expect_eq(EGRESS(UDP(L6, X6, 546, 547)), 0, "DHCPv6 to any address");
	cr_expect_eq(INGRESS(UDP(X6, L6, 547, 546)), 0, "DHCPv6 from any global address");
	cr_expect_eq(EGRESS(UDP(L6, "ff0e::1:3", 546, 547)), 0, "global-scope group");
	cr_expect_eq(EGRESS(UDP(L6, "ff05::1:3", 546, 547)), 1, "All_DHCP_Servers");
	cr_expect_eq(INGRESS(UDP(X6, "ff02::1", 547, 546)), 1, "to a group");
	/* a known server, both ways, both families */
	put_dhcp_server(X4);
	put_dhcp_server(X6);
	cr_expect_eq(EGRESS(UDP(L4, X4, 68, 67)), 1, "renewal to the known server");
	cr_expect_eq(INGRESS(UDP(X4, L4, 67, 68)), 1, "reply of the known server");
	cr_expect_eq(EGRESS(UDP(L6, X6, 546, 547)), 1);
	cr_expect_eq(INGRESS(UDP(X6, L6, 547, 546)), 1);
	cr_expect_eq(EGRESS(UDP(L4, J4, 68, 67)), 0, "another address");
	cr_expect_eq(EGRESS(UDP(L6, J6, 546, 547)), 0, "another address");
}

/*
 * Issue 21 item 11: loopback is the interface, not the address. On lo everything passes; 127/8
 * or ::1 on a real interface (route_localnet and a route, a mirred copy of lo) leaves the host
 * and is judged like any other address, by the cgroup layer and by the wall.
 */
Test(prog_run, loopback_is_the_interface_not_the_address)
{
	set_config(RF_ISOLATED, 0, 0);
	/* anything on the loopback device (ifindex 1, the test-run default) */
	cr_expect_eq(
	    run_on(skel->progs.rf_egress, TCP("127.0.0.1", "127.0.0.1", 40000, 80, TCP_SYN), 0), 1);
	cr_expect_eq(run_on(skel->progs.rf_ingress, UDP("::1", "::1", 53, 40000), 0), 1);
	cr_expect_eq(run_on(skel->progs.rf_egress, TCP(L4, X4, 40000, 80, TCP_SYN), 0), 1);
	cr_expect_eq(run_on(skel->progs.rf_ingress, TCP(X6, L6, 80, 40000, TCP_SYN), 0), 1);
	/* loopback addresses on a real interface */
	cr_expect_eq(EGRESS(TCP(L4, "127.0.0.1", 40000, 80, TCP_SYN)), 0, "127.0.0.1 on the veth");
	cr_expect_eq(EGRESS(UDP(L4, "127.1.2.3", 40000, 53)), 0, "127.1.2.3 on the veth");
	cr_expect_eq(INGRESS(UDP("127.0.0.1", L4, 53, 40000)), 0, "from 127.0.0.1 on the veth");
	cr_expect_eq(EGRESS(TCP(L6, "::1", 40000, 80, TCP_SYN)), 0, "::1 on the veth");
	cr_expect_eq(INGRESS(UDP("::1", L6, 53, 40000)), 0, "from ::1 on the veth");
	cr_expect_eq(run_on(skel->progs.rf_tc_egress, UDP(L4, "127.1.2.3", 40000, 53), ifindex), 2,
		     "the wall passed 127.1.2.3");
	cr_expect_eq(run_on(skel->progs.rf_tc_egress, UDP(L6, "::1", 40000, 53), ifindex), 2,
		     "the wall passed ::1");
	/* not ::2 or 128.0.0.1 either */
	cr_expect_eq(EGRESS(TCP(L6, "::2", 40000, 80, TCP_SYN)), 0);
	cr_expect_eq(EGRESS(TCP(L4, "128.0.0.1", 40000, 80, TCP_SYN)), 0);
	/* a rule for it is honoured like any other: the verdicts above were not by accident */
	put_net("127.1.2.3", 32, RF_PROTO_UDP, RF_DIR_OUT, 53, 53);
	cr_expect_eq(EGRESS(UDP(L4, "127.1.2.3", 40000, 53)), 1);
}

Test(prog_run, allowed_cgroup_passes)
{
	__u64 root_id = 1; /* the cgroup2 root: an ancestor of every socket, the test's included */
	struct rf_allow_val v = {};

	set_config(RF_ISOLATED, 0, 0);
	cr_expect_eq(EGRESS(TCP(L4, X4, 40000, 80, TCP_SYN)), 0);
	cr_assert_eq(
	    bpf_map_update_elem(bpf_map__fd(skel->maps.rf_allow_cgroup), &root_id, &v, BPF_ANY), 0);
	cr_expect_eq(EGRESS(TCP(L4, X4, 40000, 80, TCP_SYN)), 1);
	cr_expect_eq(INGRESS(UDP(X6, L6, 53, 40000)), 1);
}

static __u64 boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

Test(prog_run, garbage_config_values)
{
	standard_rules();
	/* any non-zero isolated value is isolation (fail closed) */
	set_config(0xdeadbeef, 0, 0);
	cr_expect_eq(EGRESS(TCP(L4, X4, 40000, 443, TCP_SYN)), 0);
	cr_expect_eq(EGRESS(TCP(L4, R4, 40000, 443, TCP_SYN)), 1);
	set_config(0xffffffff, 0, 0xfffffffc); /* unknown builtin bits only: no DHCP, no ND */
	cr_expect_eq(EGRESS(UDP(L4, X4, 68, 67)), 0);
	cr_expect_eq(EGRESS(ICMP6(L6, X6, 135)), 0);
	/* a deadline in the past: isolation has expired */
	set_config(RF_ISOLATED, 1, 0);
	cr_expect_eq(EGRESS(TCP(L4, X4, 40000, 443, TCP_SYN)), 1);
	set_config(RF_ISOLATED, boot_ns() - 1000000000ULL, 0);
	cr_expect_eq(INGRESS(UDP(X6, L6, 53, 40000)), 1);
	/* a deadline in the future: still isolated */
	set_config(RF_ISOLATED, boot_ns() + 3600ULL * 1000000000ULL, 0);
	cr_expect_eq(EGRESS(TCP(L4, X4, 40000, 443, TCP_SYN)), 0);
	cr_expect_eq(EGRESS(TCP(L4, R4, 40000, 443, TCP_SYN)), 1);
	set_config(RF_ISOLATED, ~0ULL, 0);
	cr_expect_eq(EGRESS(TCP(L4, X4, 40000, 443, TCP_SYN)), 0);
}

Test(prog_run, garbage_net_values)
{
	struct rf_net_val v;

	set_config(RF_ISOLATED, 0, 0);

	/* count 200: read as 8; e[0] allows tcp 1000, e[1..7] are zero (dir 0: match nothing) */
	memset(&v, 0, sizeof(v));
	v.count = 200;
	v.prefixlen = 128;
	v.e[0] = (struct rf_net_entry){RF_PROTO_TCP, RF_DIR_OUT, 0, 0, 1000, 1000};
	put_net_raw("192.0.2.10", 32, &v);
	cr_expect_eq(EGRESS(TCP(L4, "192.0.2.10", 40000, 1000, TCP_SYN)), 1);
	cr_expect_eq(EGRESS(TCP(L4, "192.0.2.10", 40000, 1001, TCP_SYN)), 0);
	cr_expect_eq(EGRESS(UDP(L4, "192.0.2.10", 40000, 1000)), 0);
	/* count 200 with the only allowing entry in the last slot: still within the 8 read */
	v.e[0].proto = 99;
	v.e[7] = (struct rf_net_entry){RF_PROTO_UDP, RF_DIR_BOTH, 0, 0, 0, 0};
	put_net_raw("192.0.2.10", 32, &v);
	cr_expect_eq(EGRESS(UDP(L4, "192.0.2.10", 40000, 7)), 1);
	cr_expect_eq(EGRESS(TCP(L4, "192.0.2.10", 40000, 1000, TCP_SYN)), 0, "proto 99 matched");

	/* proto 99 matches nothing */
	memset(&v, 0, sizeof(v));
	v.count = 1;
	v.prefixlen = 128;
	v.e[0] = (struct rf_net_entry){99, RF_DIR_BOTH, 0, 0, 0, 0};
	put_net_raw("192.0.2.11", 32, &v);
	cr_expect_eq(EGRESS(TCP(L4, "192.0.2.11", 40000, 80, TCP_SYN)), 0);
	cr_expect_eq(EGRESS(mkpkt(L4, "192.0.2.11", 99, 0, 0, 0, 0)), 0);
	/* dir 0 matches nothing */
	v.e[0] = (struct rf_net_entry){RF_PROTO_ANY, 0, 0, 0, 0, 0};
	put_net_raw("192.0.2.12", 32, &v);
	cr_expect_eq(EGRESS(TCP(L4, "192.0.2.12", 40000, 80, TCP_SYN)), 0);
	cr_expect_eq(INGRESS(UDP("192.0.2.12", L4, 80, 40000)), 0);
	/* unknown dir bits are ignored: 0xfc alone matches nothing, 0xfd is out */
	v.e[0].dir = 0xfc;
	put_net_raw("192.0.2.13", 32, &v);
	cr_expect_eq(EGRESS(TCP(L4, "192.0.2.13", 40000, 80, TCP_SYN)), 0);
	v.e[0].dir = 0xfd;
	put_net_raw("192.0.2.13", 32, &v);
	cr_expect_eq(EGRESS(TCP(L4, "192.0.2.13", 40000, 80, TCP_SYN)), 1);
	/* port_lo > port_hi matches nothing */
	v.e[0] = (struct rf_net_entry){RF_PROTO_TCP, RF_DIR_BOTH, 0, 0, 90, 80};
	put_net_raw("192.0.2.14", 32, &v);
	cr_expect_eq(EGRESS(TCP(L4, "192.0.2.14", 40000, 85, TCP_SYN)), 0);
	cr_expect_eq(EGRESS(TCP(L4, "192.0.2.14", 40000, 80, TCP_SYN)), 0);

	/* value prefixlen 200 on a /128 that allows nothing: acts as 128, the covering /120 rule
	 * is still found */
	put_net("192.0.2.0", 24, RF_PROTO_TCP, RF_DIR_OUT, 8080, 8080);
	memset(&v, 0, sizeof(v));
	v.count = 1;
	v.prefixlen = 200;
	v.e[0] = (struct rf_net_entry){RF_PROTO_UDP, RF_DIR_OUT, 0, 0, 53, 53};
	put_net_raw("192.0.2.20", 32, &v);
	cr_expect_eq(EGRESS(UDP(L4, "192.0.2.20", 40000, 53)), 1);
	cr_expect_eq(EGRESS(TCP(L4, "192.0.2.20", 40000, 8080, TCP_SYN)), 1, "covering /24 lost");
	cr_expect_eq(EGRESS(TCP(L4, "192.0.2.20", 40000, 8081, TCP_SYN)), 0);
	/* the same on IPv6 with count 0 (an empty value allows nothing by itself) */
	put_net("2001:db8::", 32, RF_PROTO_TCP, RF_DIR_OUT, 8080, 8080);
	memset(&v, 0, sizeof(v));
	v.prefixlen = 200;
	put_net_raw("2001:db8::20", 128, &v);
	cr_expect_eq(EGRESS(TCP(L6, "2001:db8::20", 40000, 8080, TCP_SYN)), 1);
	cr_expect_eq(EGRESS(TCP(L6, "2001:db8::20", 40000, 8081, TCP_SYN)), 0);
	/* a value prefixlen of 0 stops the walk: defined (deny), never a loop */
	v.prefixlen = 0;
	put_net_raw("2001:db8::21", 128, &v);
	cr_expect_eq(EGRESS(TCP(L6, "2001:db8::21", 40000, 8081, TCP_SYN)), 0);
}

/* Malformed packets get a defined verdict and never crash the program. */
Test(prog_run, truncated_and_odd_packets)
{
	struct pkt p;

	set_config(RF_ISOLATED, 0, RF_BUILTIN_ALL);
	/* IPv4 with a truncated TCP header: no ports, no rule with a port can match */
	put_net(R4, 32, RF_PROTO_TCP, RF_DIR_OUT, 443, 443);
	p = TCP(L4, R4, 40000, 443, TCP_SYN);
	p.len = 14 + 20 + 2;
	p.b[14 + 3] = (__u8)(20 + 2); /* tot_len */
	cr_expect_eq(EGRESS(p), 0);
	/* non-first IPv4 fragment to an allowed port-less rule passes, to a port rule does not */
	p = UDP(L4, R4, 40000, 443);
	p.b[14 + 6] = 0x00;
	p.b[14 + 7] = 0x10; /* fragment offset 16*8 */
	cr_expect_eq(EGRESS(p), 0);
	put_net("192.0.2.30", 32, RF_PROTO_UDP, RF_DIR_OUT, 0, 0);
	p = UDP(L4, "192.0.2.30", 40000, 443);
	p.b[14 + 7] = 0x10;
	cr_expect_eq(EGRESS(p), 1);
	/* IPv4 header length 15 words pointing past the data */
	p = TCP(L4, R4, 40000, 443, TCP_SYN);
	p.b[14] = 0x4f;
	cr_expect_eq(EGRESS(p), 0);
}

/*
 * Issue 12 item 5: an out rule admits datagrams (and ICMP) from the peer's port only as answers
 * to a socket that sent there (recorded per socket; a test-run skb has none), an in rule on
 * the local port admits them from anyone it names; TCP is judged by SYN as before.
 */
Test(prog_run, unsolicited_datagrams_need_a_sender)
{
	put_net(R4, 32, RF_PROTO_UDP, RF_DIR_OUT, 443, 443);
	put_net(R6, 128, RF_PROTO_UDP, RF_DIR_OUT, 443, 443);
	put_net(J4, 32, RF_PROTO_UDP, RF_DIR_IN, 53, 53);
	put_net(J6, 128, RF_PROTO_UDP, RF_DIR_IN, 53, 53);
	put_net("192.0.2.40", 32, RF_PROTO_ICMP, RF_DIR_OUT, 0, 0);
	put_net("192.0.2.41", 32, RF_PROTO_TCP, RF_DIR_OUT, 443, 443);
	set_config(RF_ISOLATED, 0, 0);
	/* sent: allowed (and remembered on the socket) */
	cr_expect_eq(EGRESS(UDP(L4, R4, 40000, 443)), 1);
	cr_expect_eq(EGRESS(UDP(L6, R6, 40000, 443)), 1);
	/* received from the out-rule peer's port without a socket that sent there: dropped */
	cr_expect_eq(INGRESS(UDP(R4, L4, 443, 40000)), 0,
		     "unsolicited datagram from 192.0.2.2:443");
	cr_expect_eq(INGRESS(UDP(R6, L6, 443, 40000)), 0,
		     "unsolicited datagram from [2001:db8::2]:443");
	cr_expect_eq(INGRESS(ICMP6("2001:db8::40", L6, 129)), 0);
	cr_expect_eq(INGRESS(mkpkt("192.0.2.40", L4, IPPROTO_ICMP, 0, 0, 0, 0)), 0);
	/* an in rule on the local port admits its peer without any record */
	cr_expect_eq(INGRESS(UDP(J4, L4, 40000, 53)), 1);
	cr_expect_eq(INGRESS(UDP(J6, L6, 40000, 53)), 1);
	cr_expect_eq(INGRESS(UDP(J4, L4, 40000, 54)), 0);
	/* TCP: a segment reaches only its connection's socket; replies still pass by rule */
	cr_expect_eq(INGRESS(TCP("192.0.2.41", L4, 443, 40000, TCP_ACK)), 1);
	cr_expect_eq(INGRESS(TCP("192.0.2.41", L4, 443, 40000, TCP_SYN)), 0);
}

/* Ethernet + IPv6 + `n` destination-options headers of 8 bytes each + UDP sport -> dport. */
static struct pkt udp6_ext(const char *src, const char *dst, int n, __u16 sport, __u16 dport)
{
	struct pkt u = UDP(src, dst, sport, dport), p = u;
	__u8 *ip = p.b + 14;
	int i;

	/* move the UDP header and payload behind n option headers */
	memcpy(ip + 40 + 8 * n, u.b + 14 + 40, u.len - 14 - 40);
	for (i = 0; i < n; i++) {
		__u8 *h = ip + 40 + 8 * i;

		memset(h, 0, 8);
		h[0] = i + 1 < n ? 60 : IPPROTO_UDP;
		h[2] = 1; /* PadN over the remaining 6 bytes */
		h[3] = 4;
	}
	if (n)
		ip[6] = 60;
	p.len = u.len + 8 * n;
	ip[4] = (__u8)((p.len - 14 - 40) >> 8);
	ip[5] = (__u8)(p.len - 14 - 40);
	return p;
}

/*
 * THREAT-MODEL item 7: what cannot be parsed is dropped while isolated, whatever the rules say.
 * Each malformed case has a well-formed twin that a rule allows.
 */
Test(prog_run, unparsable_packets_fail_closed)
{
	struct pkt p;

	put_net(R4, 32, RF_PROTO_UDP, RF_DIR_OUT, 514, 514);
	put_net(R6, 128, RF_PROTO_UDP, RF_DIR_OUT, 514, 514);
	put_net("192.0.2.40", 32, RF_PROTO_ANY, RF_DIR_BOTH, 0, 0);
	put_net("2001:db8::40", 128, RF_PROTO_ANY, RF_DIR_BOTH, 0, 0);
	set_config(RF_ISOLATED, 0, RF_BUILTIN_ALL);

	/* IPv6 extension headers: walked up to RF_IPV6_EXT_MAX (4) ... */
	cr_expect_eq(EGRESS(udp6_ext(L6, R6, 1, 40000, 514)), 1);
	cr_expect_eq(EGRESS(udp6_ext(L6, R6, 4, 40000, 514)), 1);
	cr_expect_eq(EGRESS(udp6_ext(L6, R6, 4, 40000, 515)), 0);
	cr_expect_eq(INGRESS(udp6_ext("2001:db8::40", L6, 4, 514, 40000)), 1);
	/* ... one more is not parsed: dropped even to a destination that allows everything */
	cr_expect_eq(EGRESS(udp6_ext(L6, "2001:db8::40", 4, 40000, 9)), 1);
	cr_expect_eq(EGRESS(udp6_ext(L6, "2001:db8::40", 5, 40000, 9)), 0);
	cr_expect_eq(INGRESS(udp6_ext("2001:db8::40", L6, 5, 9, 40000)), 0);
	/* a header length pointing past the packet, announcing another header (the reviewed
	 * leak: it passed to anyone), or the transport header */
	p = udp6_ext(L6, X6, 1, 40000, 514);
	p.b[14 + 40] = 60;
	p.b[14 + 40 + 1] = 200;
	cr_expect_eq(EGRESS(p), 0, "extension header chain past the packet passed");
	p = udp6_ext(X6, L6, 1, 514, 40000);
	p.b[14 + 40] = 60;
	p.b[14 + 40 + 1] = 200;
	cr_expect_eq(INGRESS(p), 0, "extension header chain past the packet passed");
	p = udp6_ext(L6, X6, 1, 40000, 514);
	p.b[14 + 40 + 1] = 200;
	cr_expect_eq(EGRESS(p), 0);
	/* a chain that ends inside the packet but leaves no room for the UDP header */
	p = udp6_ext(L6, R6, 1, 40000, 514);
	p.b[14 + 40 + 1] = (__u8)((p.len - 14 - 40 - 8) / 8);
	cr_expect_eq(EGRESS(p), 0);

	/* IPv4 header length below 5 words: the "ports" would be read from the addresses
	 * (192.0.2.2 reads as ports 49152 -> 514, which the rule allows) */
	cr_expect_eq(EGRESS(UDP(L4, R4, 40000, 514)), 1);
	p = UDP(L4, R4, 40000, 514);
	p.b[14] = 0x44;
	cr_expect_eq(EGRESS(p), 0, "IPv4 IHL 4 parsed as ports from the addresses");
	/* IP version nibble that contradicts the protocol */
	p = UDP(L4, R4, 40000, 514);
	p.b[14] = 0x65;
	cr_expect_eq(EGRESS(p), 0);
	p = UDP(L6, R6, 40000, 514);
	p.b[14] = 0x40;
	cr_expect_eq(EGRESS(p), 0);

	/* truncated transport headers, to destinations that allow every port */
	p = UDP(L4, "192.0.2.40", 40000, 9);
	cr_expect_eq(EGRESS(p), 1);
	p.len = 14 + 20 + 6;
	p.b[14 + 3] = 26;
	cr_expect_eq(EGRESS(p), 0, "UDP header of 6 bytes passed");
	p = TCP(L6, "2001:db8::40", 40000, 9, TCP_SYN);
	cr_expect_eq(EGRESS(p), 1);
	p.len = 14 + 40 + 19;
	p.b[14 + 5] = 19;
	cr_expect_eq(EGRESS(p), 0, "TCP header of 19 bytes passed");
	p = ICMP6(L6, "2001:db8::40", 128);
	cr_expect_eq(EGRESS(p), 1);
	p.len = 14 + 40 + 2;
	p.b[14 + 5] = 2;
	cr_expect_eq(EGRESS(p), 0, "ICMPv6 header of 2 bytes passed");

	/* neither IPv4 nor IPv6 on an inet socket */
	p = UDP(L4, "192.0.2.40", 40000, 9);
	p.b[12] = 0x88;
	p.b[13] = 0xb5;
	cr_expect_eq(EGRESS(p), 0, "unknown skb->protocol passed");
	cr_expect_eq(INGRESS(p), 0, "unknown skb->protocol passed");
	/* not isolated: nothing is parsed, everything passes */
	set_config(0, 0, 0);
	cr_expect_eq(EGRESS(p), 1);
	p = udp6_ext(L6, X6, 1, 40000, 514);
	p.b[14 + 40] = 60;
	p.b[14 + 40 + 1] = 200;
	cr_expect_eq(EGRESS(p), 1);
}

/* ---- the second wall (tc egress) with the host as the target --------------------------- */

#define TC_OK	(-1) /* TC_ACT_UNSPEC: pass, and let the next filter run */
#define TC_SHOT 2
#define TCP_RST 0x04
#define WALL(p) run_on(skel->progs.rf_tc_egress, p, ifindex)

/*
 * The skeleton here is loaded as for the host (rf_target_level 0): every packet leaving an
 * interface is judged on the wire, with a socket or not. Kernel replies to peers no rule allows
 * (RST, which tells a prober whether a port is open) stop; tunnel/NAT destinations no rule allows
 * stop; an allowed destination and the replies of an allowed inbound flow pass; ARP passes; what
 * cannot be parsed is dropped.
 */
Test(prog_run, second_wall_judges_the_wire_for_the_host)
{
	struct pkt bad = TCP(L4, X4, 80, 40000, TCP_RST);

	standard_rules();
	set_config(0, 0, RF_BUILTIN_ALL);
	cr_expect_eq(WALL(TCP(L4, X4, 80, 40000, TCP_RST)), TC_OK, "not isolated: all pass");
	set_config(RF_ISOLATED, 0, RF_BUILTIN_ALL);
	/* allowed on the wire */
	cr_expect_eq(WALL(TCP(L4, R4, 40000, 443, TCP_SYN)), TC_OK);
	cr_expect_eq(WALL(TCP(L6, R6, 40000, 443, TCP_SYN)), TC_OK);
	cr_expect_eq(WALL(TCP(L4, J4, 22, 50000, TCP_SYN | TCP_ACK)), TC_OK, "dir in reply v4");
	cr_expect_eq(WALL(TCP(L6, J6, 22, 50000, TCP_ACK)), TC_OK, "dir in reply v6");
	/* kernel RSTs to a prober: the port-state channel */
	cr_expect_eq(WALL(TCP(L4, X4, 80, 40000, TCP_RST)), TC_SHOT, "RST v4");
	cr_expect_eq(WALL(TCP(L6, X6, 80, 40000, TCP_RST)), TC_SHOT, "RST v6");
	/* the outer header of a tunnel (VXLAN) to a host no rule allows */
	cr_expect_eq(WALL(UDP(L4, X4, 40000, 4789)), TC_SHOT, "tunnel v4");
	cr_expect_eq(WALL(UDP(L6, X6, 40000, 4789)), TC_SHOT, "tunnel v6");
	cr_expect_eq(WALL(TCP(L4, R4, 40000, 444, TCP_SYN)), TC_SHOT, "allowed host, other port");
	/*
	 * ARP is not tried here: BPF_PROG_TEST_RUN gives every skb a socket of the packet's family,
	 * so an ARP frame looks like one from a packet socket of the isolated cgroup (dropped, as
	 * it must be). Socket-less ARP is covered end to end by wall::* (neighbours resolve while
	 * isolated).
	 */
	bad.b[14] = 0x44; /* IHL 4: shorter than the header itself */
	cr_expect_eq(WALL(bad), TC_SHOT, "unparsable IPv4");
	/* audit mode: the same RST passes, counted as would-block */
	set_config(0, 0, RF_BUILTIN_ALL);
	{
		struct rf_config c = {.abi_version = RF_ABI_VERSION,
				      .flags = RF_CFG_AUDIT,
				      .builtins = RF_BUILTIN_ALL};
		__u32 zero = 0;

		cr_assert_eq(
		    bpf_map_update_elem(bpf_map__fd(skel->maps.rf_config), &zero, &c, BPF_ANY), 0);
	}
	cr_expect_eq(WALL(TCP(L4, X4, 80, 40000, TCP_RST)), TC_OK, "audit blocks nothing");
}

/* ---- ICMP errors on the way in (tc ingress, issue 21 item 1) -------------------------- */

#define TC_IN(p)    run_on(skel->progs.rf_tc_ingress, p, ifindex)
#define IPOPT_NOOP_ 1
#define U4	    "192.0.2.50" /* a UDP out rule */
#define U6	    "2001:db8::50"

/*
 * An ICMP (type, code) error from `from` to the local address of `quoted`, a packet the host
 * "sent" (built by mkpkt with the local address as source), quoted whole after the 8-byte ICMP
 * header, as the kernel quotes it.
 */
static struct pkt icmp_err(const char *from, __u8 type, __u8 code, struct pkt quoted)
{
	bool v6 = quoted.b[12] == 0x86;
	__u32 qlen = quoted.len - 14, iphl = v6 ? 40 : 20;
	struct pkt p =
	    mkpkt(from, v6 ? L6 : L4, v6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP, 0, 0, 0, type);
	__u8 *ip = p.b + 14, *icmp = ip + iphl;

	if (qlen > sizeof(p.b) - 14 - iphl - 8)
		qlen = sizeof(p.b) - 14 - iphl - 8;
	icmp[1] = code;
	memset(icmp + 2, 0, 6);
	memcpy(icmp + 8, quoted.b + 14, qlen);
	p.len = 14 + iphl + 8 + qlen;
	if (v6) {
		ip[4] = (__u8)((8 + qlen) >> 8);
		ip[5] = (__u8)(8 + qlen);
	} else {
		ip[2] = (__u8)((20 + 8 + qlen) >> 8);
		ip[3] = (__u8)(20 + 8 + qlen);
		ip[10] = ip[11] = 0;
		memcpy(ip + 10, &(__u16){csum16(ip, 20)}, 2);
	}
	return p;
}

/*
 * An ICMP error reaches the socket of the flow it quotes (with IP_RECVERR, payload included)
 * without cgroup_skb/ingress: the tc ingress program passes it only if the quoted flow is one
 * the policy allows. Other ICMP and non-ICMP packets are left to the cgroup layer.
 */
Test(prog_run, icmp_errors_are_judged_by_the_quoted_flow)
{
	struct pkt q;

	standard_rules();
	put_net(U4, 32, RF_PROTO_UDP, RF_DIR_OUT, 514, 514);
	put_net(U6, 128, RF_PROTO_UDP, RF_DIR_OUT, 514, 514);
	set_config(0, 0, RF_BUILTIN_ALL);
	cr_expect_eq(TC_IN(icmp_err(X4, 3, 3, UDP(L4, X4, 40000, 9))), TC_OK, "not isolated");
	set_config(RF_ISOLATED, 0, RF_BUILTIN_ALL);
	/* port unreachable quoting a datagram to a host no rule allows: dropped, any sender */
	cr_expect_eq(TC_IN(icmp_err(X4, 3, 3, UDP(L4, X4, 40000, 9))), TC_SHOT, "v4 to any host");
	cr_expect_eq(TC_IN(icmp_err(X6, 1, 4, UDP(L6, X6, 40000, 9))), TC_SHOT, "v6 to any host");
	cr_expect_eq(TC_IN(icmp_err(R4, 3, 3, UDP(L4, X4, 40000, 9))), TC_SHOT,
		     "from an allowed host");
	cr_expect_eq(TC_IN(icmp_err(X4, 11, 0, TCP(L4, X4, 40000, 80, TCP_SYN))), TC_SHOT,
		     "time exceeded v4");
	cr_expect_eq(TC_IN(icmp_err(X6, 3, 0, TCP(L6, X6, 40000, 80, TCP_SYN))), TC_SHOT,
		     "time exceeded v6");
	cr_expect_eq(TC_IN(icmp_err(X6, 2, 0, UDP(L6, X6, 40000, 9))), TC_SHOT, "too big v6");
	cr_expect_eq(TC_IN(icmp_err(X4, 12, 0, UDP(L4, X4, 40000, 9))), TC_SHOT, "parameter v4");
	cr_expect_eq(TC_IN(icmp_err(X4, 5, 1, UDP(L4, X4, 40000, 9))), TC_SHOT, "redirect v4");
	/* the same errors quoting allowed flows pass (path MTU, unreachable management host) */
	cr_expect_eq(TC_IN(icmp_err(X4, 3, 4, TCP(L4, R4, 40000, 443, TCP_ACK))), TC_OK,
		     "frag needed for an allowed TCP flow v4");
	cr_expect_eq(TC_IN(icmp_err(X6, 2, 0, TCP(L6, R6, 40000, 443, TCP_ACK))), TC_OK,
		     "too big for an allowed TCP flow v6");
	cr_expect_eq(TC_IN(icmp_err(U4, 3, 3, UDP(L4, U4, 40000, 514))), TC_OK, "v4 allowed UDP");
	cr_expect_eq(TC_IN(icmp_err(U6, 1, 4, UDP(L6, U6, 40000, 514))), TC_OK, "v6 allowed UDP");
	/* the allowed host, another port or protocol */
	cr_expect_eq(TC_IN(icmp_err(U4, 3, 3, UDP(L4, U4, 40000, 515))), TC_SHOT);
	cr_expect_eq(TC_IN(icmp_err(R6, 1, 4, UDP(L6, R6, 40000, 443))), TC_SHOT);
	/* a quoted header cut short (no ports), or with a bad version: dropped */
	q = UDP(L4, X4, 40000, 9);
	q.len = 14 + 20 + 2;
	cr_expect_eq(TC_IN(icmp_err(R4, 3, 3, q)), TC_SHOT, "v4 quote without ports");
	q = UDP(L6, U6, 40000, 514);
	q.b[14] = 0x40;
	cr_expect_eq(TC_IN(icmp_err(U6, 1, 4, q)), TC_SHOT, "v6 quote with version 4");
	/* ICMPv6 redirects are dropped while isolated (their redirected header reaches sockets) */
	cr_expect_eq(TC_IN(nd6(LLR6, L6, 137, 255)), TC_SHOT, "redirect v6");
	/* not errors: left to the cgroup layer */
	cr_expect_eq(TC_IN(ICMP6(X6, L6, 128)), TC_OK, "echo request v6");
	cr_expect_eq(TC_IN(mkpkt(X4, L4, IPPROTO_ICMP, 0, 0, 0, 8)), TC_OK, "echo request v4");
	cr_expect_eq(TC_IN(UDP(X4, L4, 9, 40000)), TC_OK, "UDP");
	cr_expect_eq(TC_IN(nd6(LLR6, L6, 136, 255)), TC_OK, "neighbour advertisement");
}

/* ---- source routes (issue 21 item 7) ------------------------------------------------- */

/* UDP over IPv6 behind a type-4 routing header (SRv6) listing `via` as its one other segment. */
static struct pkt udp6_srh(const char *src, const char *dst, const char *via, __u16 dport)
{
	struct pkt u = UDP(src, dst, 40000, dport), p = u;
	__u8 *ip = p.b + 14, *rh = ip + 40;

	memcpy(rh + 24, u.b + 14 + 40, u.len - 14 - 40);
	memset(rh, 0, 24);
	rh[0] = IPPROTO_UDP;
	rh[1] = 2; /* (2 + 1) * 8 bytes */
	rh[2] = 4; /* segment routing */
	rh[3] = 1; /* segments left */
	addr16(via, rh + 8);
	ip[6] = 43;
	p.len = u.len + 24;
	ip[4] = (__u8)((p.len - 14 - 40) >> 8);
	ip[5] = (__u8)(p.len - 14 - 40);
	return p;
}

/* UDP over IPv4 with the options `opt` (a multiple of 4 bytes) between header and payload. */
static struct pkt udp4_opts(const char *src, const char *dst, __u16 dport, const __u8 *opt,
			    __u32 olen)
{
	struct pkt u = UDP(src, dst, 40000, dport), p = u;
	__u8 *ip = p.b + 14;

	memcpy(ip + 20 + olen, u.b + 14 + 20, u.len - 14 - 20);
	memcpy(ip + 20, opt, olen);
	p.len = u.len + olen;
	ip[0] = (__u8)(0x40 | (5 + olen / 4));
	ip[2] = (__u8)((p.len - 14) >> 8);
	ip[3] = (__u8)(p.len - 14);
	ip[10] = ip[11] = 0;
	memcpy(ip + 10, &(__u16){csum16(ip, 20 + olen)}, 2);
	return p;
}

/*
 * A source-routed packet visits hosts that neither connect/sendmsg (the final destination) nor
 * the packet hooks (the first hop) judge: while isolated, IPv6 packets with a routing header and
 * IPv4 packets with LSRR/SSRR are dropped unless an allowed process sends or receives them.
 */
Test(prog_run, source_routed_packets_are_dropped)
{
	static const __u8 lsrr[8] = {IPOPT_NOOP_, 131, 7, 4, 192, 0, 2, 99};
	static const __u8 ssrr[8] = {IPOPT_NOOP_, 137, 7, 4, 192, 0, 2, 99};
	static const __u8 nops[4] = {IPOPT_NOOP_, IPOPT_NOOP_, IPOPT_NOOP_, 0};
	static const __u8 ra[4] = {148, 4, 0, 0}; /* router alert, as IGMP sends it */
	__u64 root_id = 1;
	struct rf_allow_val v = {};

	put_net(U4, 32, RF_PROTO_UDP, RF_DIR_BOTH, 514, 514);
	put_net(U6, 128, RF_PROTO_UDP, RF_DIR_BOTH, 514, 514);
	set_config(RF_ISOLATED, 0, RF_BUILTIN_ALL);
	/* the allowed flow itself, plain and with harmless options */
	cr_expect_eq(EGRESS(UDP(L6, U6, 40000, 514)), 1);
	cr_expect_eq(EGRESS(udp6_ext(L6, U6, 2, 40000, 514)), 1, "destination options");
	cr_expect_eq(EGRESS(udp4_opts(L4, U4, 514, nops, 4)), 1, "IPv4 NOPs");
	cr_expect_eq(EGRESS(udp4_opts(L4, U4, 514, ra, 4)), 1, "IPv4 router alert");
	/* the same flow source-routed through a host no rule allows */
	cr_expect_eq(EGRESS(udp6_srh(L6, U6, X6, 514)), 0, "SRv6 egress");
	cr_expect_eq(INGRESS(udp6_srh(U6, L6, X6, 514)), 0, "SRv6 ingress");
	cr_expect_eq(WALL(udp6_srh(L6, U6, X6, 514)), TC_SHOT, "SRv6 on the wire");
	cr_expect_eq(EGRESS(udp4_opts(L4, U4, 514, lsrr, 8)), 0, "LSRR egress");
	cr_expect_eq(EGRESS(udp4_opts(L4, U4, 514, ssrr, 8)), 0, "SSRR egress");
	cr_expect_eq(INGRESS(udp4_opts(U4, L4, 514, lsrr, 8)), 0, "LSRR ingress");
	cr_expect_eq(WALL(udp4_opts(L4, U4, 514, lsrr, 8)), TC_SHOT, "LSRR on the wire");
	cr_expect_eq(WALL(udp4_opts(L4, U4, 514, nops, 4)), TC_OK, "NOPs on the wire");
	/* an allowed process's socket may */
	cr_assert_eq(
	    bpf_map_update_elem(bpf_map__fd(skel->maps.rf_allow_cgroup), &root_id, &v, BPF_ANY), 0);
	cr_expect_eq(EGRESS(udp6_srh(L6, U6, X6, 514)), 1, "SRv6 of an allowed cgroup");
	cr_expect_eq(EGRESS(udp4_opts(L4, U4, 514, lsrr, 8)), 1, "LSRR of an allowed cgroup");
	/* not isolated: nothing is judged */
	set_config(0, 0, RF_BUILTIN_ALL);
	cr_expect_eq(EGRESS(udp6_srh(L6, X6, X6, 9)), 1);
}
