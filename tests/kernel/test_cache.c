// SPDX-License-Identifier: GPL-2.0-only
/*
 * The verdict cache (issue 25, bpf/cache.bpf.h): a cached "allow" of an established flow must not
 * outlive what allowed it. Each case opens a TCP or connected UDP flow while isolated under a
 * rule, moves bytes both ways a few times (the packets after the first are judged from the
 * cache), changes the policy, and checks that the next packet is dropped both ways and that the
 * peer received nothing. IPv4 and IPv6, TCP and connected UDP. A cached allow also covers only
 * its own flow: when the socket's packets are rewritten to another destination mid-flow, they
 * are judged for that destination.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_proc.h"
#include "rft_doc.h"

#define PORT		8011
#define PORT_S		"8011"
#define RF_CACHE_TTL_MS 1000 /* RF_CACHE_TTL_NS */

static void cache_setup(void)
{
	rft_require_kernel();
	rft_require_tool("bpftool"); /* before anything is created: a skip runs no .fini */
	rft_setup();
}

TestSuite(cache, .init = cache_setup, .fini = rft_teardown, .timeout = 90);

static const struct cache_flow {
	int family;
	const char *addr;
	enum rft_proto proto;
} flows[] = {
    {AF_INET, RFT_PEER_IP4, RFT_TCP},
    {AF_INET, RFT_PEER_IP4, RFT_UDP_CONNECTED},
    {AF_INET6, RFT_PEER_IP6, RFT_TCP},
    {AF_INET6, RFT_PEER_IP6, RFT_UDP_CONNECTED},
};

static const char *name(const struct cache_flow *f)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s %s", f->proto == RFT_TCP ? "tcp" : "udp(connect)", f->addr);
	return buf;
}

/* The rule of flow f through the CLI: "net ADDR proto tcp|udp port PORT dir out". */
static void cli_rule(const struct cache_flow *f, const char *op)
{
	rft_cli_ok(0, "allow", op, "net", f->addr, "proto", f->proto == RFT_TCP ? "tcp" : "udp",
		   "port", PORT_S, "dir", "out", NULL);
}

/* exec: bpftool map <update|delete> pinned <pin>/rf_allow_net key ... [value ...] (decimal). */
static void bpftool_rule(const struct cache_flow *f, bool add)
{
	static char bytes[96][4];
	__u8 key[20] = {128}, val[72] = {1, 0, 0, 0, 128, 0, 0, 0};
	char path[512], *argv[120], *out = NULL, *err = NULL;
	size_t n = 0, i, b = 0;
	int ret;

	/* IPv4 as ::ffff:a.b.c.d; entry {any proto, dir out, origin 0, pad, PORT, PORT} */
	if (f->family == AF_INET) {
		key[14] = key[15] = 0xff;
		cr_assert_eq(inet_pton(AF_INET, f->addr, key + 16), 1);
	} else {
		cr_assert_eq(inet_pton(AF_INET6, f->addr, key + 4), 1);
	}
	val[9] = 1;
	val[12] = val[14] = PORT & 0xff;
	val[13] = val[15] = PORT >> 8;
	snprintf(path, sizeof(path), "%s/rf_allow_net", rft.pin_dir);
	argv[n++] = "bpftool";
	argv[n++] = "map";
	argv[n++] = add ? "update" : "delete";
	argv[n++] = "pinned";
	argv[n++] = path;
	argv[n++] = "key";
	for (i = 0; i < sizeof(key); i++, b++) {
		snprintf(bytes[b], sizeof(bytes[b]), "%u", key[i]);
		argv[n++] = bytes[b];
	}
	if (add) {
		argv[n++] = "value";
		for (i = 0; i < sizeof(val); i++, b++) {
			snprintf(bytes[b], sizeof(bytes[b]), "%u", val[i]);
			argv[n++] = bytes[b];
		}
	}
	argv[n] = NULL;
	ret = rft_exec(NULL, argv, &out, &err);
	cr_assert_eq(ret, 0, "bpftool %s rf_allow_net failed (%d): %s%s", argv[2], ret, out, err);
	free(out);
	free(err);
}

/* The policy-generation bump of docs/ABI.md, run verbatim. */
static void doc_bump(void)
{
	char *block = rft_abi_block("\n## Policy generation", 0);

	rft_abi_run(block, rft.cg);
	free(block);
}

/* Bytes move both ways, `rounds` times: the client's echo, then a byte the peer pushes. */
static void expect_flowing(struct rft_conn *c, struct rft_server *srv, const struct cache_flow *f,
			   int rounds, const char *phase)
{
	int i;

	for (i = 0; i < rounds; i++) {
		cr_assert_eq(rft_conn_send(c, 5), 5, "%s: %s: send failed", phase, name(f));
		cr_assert_eq(rft_conn_recv(c, 2000), 5, "%s: %s: no echo (round %d)", phase,
			     name(f), i);
		cr_assert_eq(rft_server_push(srv), 1, "%s: %s: the peer has no flow to push to",
			     phase, name(f));
		cr_assert_eq(rft_conn_recv(c, 2000), 1, "%s: %s: peer->client byte lost (round %d)",
			     phase, name(f), i);
	}
}

/* The flow's next packets are dropped both ways, and the peer receives nothing. */
static void expect_cut(struct rft_conn *c, struct rft_server *srv, const struct cache_flow *f,
		       const char *phase)
{
	struct rft_port_stats before = rft_server_stats(srv, PORT, f->family), after;
	long n = rft_conn_send(c, 7);

	cr_expect(n == 7 || n == -EPERM, "%s: %s: send returned %ld", phase, name(f), n);
	cr_expect_eq(rft_conn_recv(c, RFT_DENY_WAIT_MS), 0, "%s: %s: an echo came back", phase,
		     name(f));
	after = rft_server_stats(srv, PORT, f->family);
	cr_expect_eq(after.tcp_bytes, before.tcp_bytes,
		     "%s: %s: the peer received %llu TCP bytes (a stale cached allow)", phase,
		     name(f), after.tcp_bytes - before.tcp_bytes);
	cr_expect_eq(after.dgrams, before.dgrams,
		     "%s: %s: the peer received %u datagrams (a stale cached allow)", phase,
		     name(f), after.dgrams - before.dgrams);
	cr_expect_geq(rft_server_push(srv), 0);
	cr_expect_eq(rft_conn_recv(c, RFT_DENY_WAIT_MS), 0,
		     "%s: %s: peer->client bytes arrived (a stale cached allow)", phase, name(f));
}

static void open_flow(struct rft_conn *c, struct rft_server *srv, const struct cache_flow *f)
{
	static const unsigned short ports[] = {PORT};

	cr_assert_eq(rft_server_start(srv, rft.peer_ns, NULL, ports, 1), 0);
	cr_assert_eq(rft_conn_open(c, rft.dev_ns, rft.cg, f->family, f->proto, f->addr, PORT, 2000),
		     0, "%s: connect failed", name(f));
}

/* 'allow del' of the rule that allowed an established flow cuts it at its next packet. */
RFT_TABLE_PARAMS(cache, rule_delete_cuts_a_cached_flow, flows)
ParameterizedTest(const size_t *row, cache, rule_delete_cuts_a_cached_flow)
{
	const struct cache_flow *f = &flows[*row];
	struct rft_server srv;
	struct rft_conn c;

	cli_rule(f, "add");
	rft_cli_ok(0, "isolate", NULL);
	open_flow(&c, &srv, f);
	expect_flowing(&c, &srv, f, 3, "isolated, allowed");
	cli_rule(f, "del");
	expect_cut(&c, &srv, f, "rule deleted");
	rft_cli_ok(0, "release", NULL);
	rft_conn_close(&c);
	rft_server_stop(&srv);
}

/*
 * A release/isolate flip: the rule goes (by a writer that bumps nothing) while released, and the
 * CLI's isolate must not let the verdict cached before the release stand.
 */
RFT_TABLE_PARAMS(cache, isolate_again_rejudges_a_cached_flow, flows)
ParameterizedTest(const size_t *row, cache, isolate_again_rejudges_a_cached_flow)
{
	const struct cache_flow *f = &flows[*row];
	struct rft_server srv;
	struct rft_conn c;

	rft_cli_ok(0, "load", NULL);
	bpftool_rule(f, true);
	rft_cli_ok(0, "isolate", "--force", NULL);
	open_flow(&c, &srv, f);
	expect_flowing(&c, &srv, f, 3, "isolated, allowed");
	rft_cli_ok(0, "release", NULL);
	expect_flowing(&c, &srv, f, 1, "released");
	bpftool_rule(f, false);
	rft_cli_ok(0, "isolate", "--force", NULL);
	expect_cut(&c, &srv, f, "isolated again without the rule");
	rft_cli_ok(0, "release", NULL);
	rft_conn_close(&c);
	rft_server_stop(&srv);
}

/* A lapsed --for, then isolation again with no rule: the flow stops. */
RFT_TABLE_PARAMS(cache, lapsed_deadline_then_isolate_cuts, flows)
ParameterizedTest(const size_t *row, cache, lapsed_deadline_then_isolate_cuts)
{
	const struct cache_flow *f = &flows[*row];
	struct rft_server srv;
	struct rft_conn c;

	cli_rule(f, "add");
	rft_cli_ok(0, "isolate", "--for", "2s", NULL);
	open_flow(&c, &srv, f);
	expect_flowing(&c, &srv, f, 3, "isolated for 2s, allowed");
	rft_msleep(2500);
	expect_flowing(&c, &srv, f, 1, "deadline passed");
	cli_rule(f, "del");
	rft_cli_ok(0, "isolate", "--force", NULL);
	expect_cut(&c, &srv, f, "isolated again with no rule");
	rft_cli_ok(0, "release", NULL);
	rft_conn_close(&c);
	rft_server_stop(&srv);
}

/* Another agent deletes the rule with bpftool and bumps as docs/ABI.md says: cut at once. */
static void bpftool_recipe(const struct cache_flow *f, bool agent)
{
	struct rft_server srv;
	struct rft_conn c;

	rft_cli_ok(0, "load", NULL);
	if (agent)
		cr_assert_gt(rfp_agent_start(), 0, "the agent did not start");
	bpftool_rule(f, true);
	rft_cli_ok(0, "isolate", "--force", NULL);
	open_flow(&c, &srv, f);
	expect_flowing(&c, &srv, f, 3, "isolated, allowed by another agent's rule");
	bpftool_rule(f, false);
	doc_bump();
	expect_cut(&c, &srv, f,
		   agent ? "deleted and bumped by bpftool, agent running"
			 : "deleted and bumped by bpftool");
	rft_cli_ok(0, "release", NULL);
	rft_conn_close(&c);
	rft_server_stop(&srv);
}

RFT_TABLE_PARAMS(cache, abi_recipe_delete_and_bump_cuts, flows)
ParameterizedTest(const size_t *row, cache, abi_recipe_delete_and_bump_cuts)
{
	bpftool_recipe(&flows[*row], false);
}

RFT_TABLE_PARAMS(cache, abi_recipe_delete_and_bump_cuts_with_agent, flows)
ParameterizedTest(const size_t *row, cache, abi_recipe_delete_and_bump_cuts_with_agent)
{
	bpftool_recipe(&flows[*row], true);
}

/*
 * A writer that deletes the rule and bumps nothing (written against an older docs/ABI.md), no
 * agent running: the cached allow is judged again within RF_CACHE_TTL_NS.
 */
RFT_TABLE_PARAMS(cache, delete_without_bump_cuts_within_the_ttl, flows)
ParameterizedTest(const size_t *row, cache, delete_without_bump_cuts_within_the_ttl)
{
	const struct cache_flow *f = &flows[*row];
	struct rft_server srv;
	struct rft_conn c;

	rft_cli_ok(0, "load", NULL);
	bpftool_rule(f, true);
	rft_cli_ok(0, "isolate", "--force", NULL);
	open_flow(&c, &srv, f);
	expect_flowing(&c, &srv, f, 3, "isolated, allowed");
	bpftool_rule(f, false);
	rft_msleep(RF_CACHE_TTL_MS + 200);
	expect_cut(&c, &srv, f, "deleted without a bump, TTL passed");
	rft_cli_ok(0, "release", NULL);
	rft_conn_close(&c);
	rft_server_stop(&srv);
}

/* ---- a cached flow whose packets change destination (a NAT at output) -------------------- */

#define NAT_IP4 "192.0.2.77"
#define NAT_IP6 "2001:db8::77"

static const char *nat_addr(const struct cache_flow *f)
{
	return f->family == AF_INET ? NAT_IP4 : NAT_IP6;
}

/*
 * The peer treats NAT_IP4/NAT_IP6 as its own addresses (a stateless rewrite back to its real ones,
 * before anything else sees the packet) and the device reaches them at the peer's MAC address:
 * a packet rewritten to them that the device lets out reaches the server's flow and is counted.
 * Skipped where nft is missing (the qemu guests) or, for at_wall, has no egress hook.
 */
static void nat_peer(bool at_wall)
{
	char dif[16], cmd[1024], *argv[] = {"sh", "-c", cmd, NULL};

	if (!rft_have_nft()) {
		rft_teardown(); /* a skipped test gets no .fini */
		cr_skip_test("not applicable: no nft to rewrite a flow's destination");
	}
	rft_dev_ifname(dif, sizeof(dif), rft.owner);
	snprintf(cmd, sizeof(cmd),
		 "nft 'add table netdev rfprobe; add chain netdev rfprobe c { type filter hook "
		 "egress device %s priority 0; }' && nft delete table netdev rfprobe",
		 dif);
	if (at_wall && rft_exec(rft.dev_ns, argv, NULL, NULL)) {
		rft_teardown();
		cr_skip_test("not applicable: no nft egress hook (Linux 5.16+, nft 1.0.1+)");
	}
	snprintf(cmd, sizeof(cmd),
		 "mac=$(ip -n %s -o link show type veth | sed -n 's|.*link/ether "
		 "\\([0-9a-f:]*\\).*|\\1|p') "
		 "&& [ -n \"$mac\" ] && "
		 "ip -n %s neigh replace " NAT_IP4 " lladdr $mac dev %s nud permanent && "
		 "ip -n %s neigh replace " NAT_IP6 " lladdr $mac dev %s nud permanent",
		 rft.peer_ns, rft.dev_ns, dif, rft.dev_ns, dif);
	rft_sh_in(NULL, cmd);
	rft_sh_in(rft.peer_ns,
		  "nft 'add table inet rfnat; "
		  "add chain inet rfnat pre { type filter hook prerouting priority -300; }; "
		  "add rule inet rfnat pre ip daddr " NAT_IP4 " ip daddr set " RFT_PEER_IP4 "; "
		  "add rule inet rfnat pre ip6 daddr " NAT_IP6 " ip6 daddr set " RFT_PEER_IP6 "'");
}

/*
 * From now on the device rewrites the flow's destination (the address only) to NAT_IP4/NAT_IP6:
 * at output, before the cgroup egress hook; or (at_wall) on the veth's egress hook, after the
 * cgroup hooks and before the second wall, whose filter runs later in the same transmit.
 */
static void nat_device(bool at_wall)
{
	char dif[16], cmd[1024];

	rft_dev_ifname(dif, sizeof(dif), rft.owner);
	snprintf(cmd, sizeof(cmd),
		 "nft 'add table %s rfnat; add chain %s rfnat out { type filter hook %s%s "
		 "priority -300; }; "
		 "add rule %s rfnat out ip daddr " RFT_PEER_IP4 " meta l4proto { tcp, udp } "
		 "th dport " PORT_S " ip daddr set " NAT_IP4 "; "
		 "add rule %s rfnat out ip6 daddr " RFT_PEER_IP6 " meta l4proto { tcp, udp } "
		 "th dport " PORT_S " ip6 daddr set " NAT_IP6 "'",
		 at_wall ? "netdev" : "inet", at_wall ? "netdev" : "inet",
		 at_wall ? "egress device " : "output", at_wall ? dif : "",
		 at_wall ? "netdev" : "inet", at_wall ? "netdev" : "inet");
	rft_sh_in(rft.dev_ns, cmd);
}

static char *const guard_on[] = {"RINGFENCE_PACKET_GUARD=on", NULL};

/*
 * An established flow allowed by a rule moves bytes (its allow is cached under its flow key),
 * then a rewrite sends its packets to another address (nat_device()): with only the original
 * destination allowed they must be judged anew and dropped (the peer counts nothing new); with
 * the new destination allowed too they keep flowing, which shows that the rewritten packets do
 * reach the peer's server when let out. at_wall: rewritten between the cgroup hooks and the
 * second wall, so only the wall's entry is tested.
 */
static void nat_mid_flow(const struct cache_flow *f, bool nat_allowed, bool at_wall)
{
	struct cache_flow to = {f->family, nat_addr(f), f->proto};
	struct rft_port_stats before, after;
	struct rft_server srv;
	struct rft_conn c;

	nat_peer(at_wall);
	cli_rule(f, "add");
	if (nat_allowed)
		cli_rule(&to, "add");
	cr_assert_eq(rfp_cli_env(at_wall ? guard_on : NULL, NULL, NULL, "isolate", NULL), 0);
	open_flow(&c, &srv, f);
	expect_flowing(&c, &srv, f, 3, "isolated, allowed");
	nat_device(at_wall);
	if (nat_allowed) {
		expect_flowing(&c, &srv, f, 3, "rewritten to an allowed address");
	} else {
		long n;

		before = rft_server_stats(&srv, PORT, f->family);
		n = rft_conn_send(&c, 7);
		cr_expect(n == 7 || n == -EPERM, "%s: send returned %ld", name(f), n);
		cr_expect_eq(rft_conn_recv(&c, RFT_DENY_WAIT_MS), 0,
			     "%s: rewritten to %s: an echo came back", name(f), to.addr);
		after = rft_server_stats(&srv, PORT, f->family);
		cr_expect_eq(after.tcp_bytes + after.dgrams, before.tcp_bytes + before.dgrams,
			     "%s: rewritten to %s%s: the peer received %llu bytes/datagrams (the "
			     "original flow's cached allow was used for another flow)",
			     name(f), to.addr, at_wall ? " before the wall" : "",
			     after.tcp_bytes + after.dgrams - before.tcp_bytes - before.dgrams);
	}
	rft_cli_ok(0, "release", NULL);
	rft_conn_close(&c);
	rft_server_stop(&srv);
}

/* Rewritten at output: the cgroup egress hook judges the new destination. */
RFT_TABLE_PARAMS(cache, rewritten_destination_is_judged_not_cached, flows)
ParameterizedTest(const size_t *row, cache, rewritten_destination_is_judged_not_cached)
{
	nat_mid_flow(&flows[*row], false, false);
}

RFT_TABLE_PARAMS(cache, rewritten_to_an_allowed_destination_keeps_flowing, flows)
ParameterizedTest(const size_t *row, cache, rewritten_to_an_allowed_destination_keeps_flowing)
{
	nat_mid_flow(&flows[*row], true, false);
}

/* Rewritten after the cgroup hooks (nft's egress hook on the veth): the wall judges it. */
RFT_TABLE_PARAMS(cache, rewritten_before_the_wall_is_judged_not_cached, flows)
ParameterizedTest(const size_t *row, cache, rewritten_before_the_wall_is_judged_not_cached)
{
	nat_mid_flow(&flows[*row], false, true);
}

RFT_TABLE_PARAMS(cache, rewritten_before_the_wall_to_an_allowed_destination_keeps_flowing, flows)
ParameterizedTest(const size_t *row, cache,
		  rewritten_before_the_wall_to_an_allowed_destination_keeps_flowing)
{
	nat_mid_flow(&flows[*row], true, true);
}
