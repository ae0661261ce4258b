// SPDX-License-Identifier: GPL-2.0-only
/*
 * The second wall (tc egress, issue 12 item 9): traffic that changes shape after the cgroup hooks
 * is judged again on the wire. An allowed inner destination routed into a VXLAN tunnel leaves as
 * UDP to the tunnel's remote, which no rule allows: the peer must receive nothing, while the
 * same destination reached directly still works. IPv4 and IPv6 inner traffic.
 */
#include <errno.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <criterion/criterion.h>
#include "rf_proc.h"

#define PORT_IN	  8401 /* served behind the tunnel and directly */
#define TUN4_DEV  "198.51.100.1"
#define TUN4_PEER "198.51.100.2"
#define TUN6_DEV  "2001:db8:7::1"
#define TUN6_PEER "2001:db8:7::2"

TestSuite(wall, .init = rfp_setup, .fini = rfp_teardown, .timeout = 90);

static char *const guard_on[] = {"RINGFENCE_PACKET_GUARD=on", NULL};

/* One end of the tunnel in netns: local/remote outer addresses, inner addresses v4 and v6. */
static void vxlan_end(const char *netns, const char *local, const char *remote, const char *in4,
		      const char *in6)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "ip link add rfvx0 type vxlan id 42 dstport 4789 local %s remote %s && "
		 "ip addr add %s/24 dev rfvx0 && ip addr add %s/64 dev rfvx0 nodad && "
		 "ip link set rfvx0 up",
		 local, remote, in4, in6);
	rft_sh_in(netns, cmd);
}

/* A VXLAN tunnel between the two namespaces over the veth: 198.51.100.0/24, 2001:db8:7::/64. */
static void tunnel(void)
{
	char probe[160], *err = NULL;
	char *argv[] = {"sh", "-c", probe, NULL};

	/* a kernel without VXLAN (a module the guest did not load) cannot build this tunnel */
	snprintf(probe, sizeof(probe),
		 "\"%s\" link add rfvxp type vxlan id 43 dstport 4789 && \"%s\" link del rfvxp",
		 rft_ip_path(), rft_ip_path());
	if (rft_exec(rft.dev_ns, argv, NULL, &err)) {
		cr_log_info("no VXLAN: %s", err ? err : "");
		free(err);
		rft_teardown(); /* a skipped test gets no .fini */
		cr_skip_test("not applicable: the kernel cannot create a VXLAN device");
	}
	free(err);

	vxlan_end(rft.dev_ns, RFT_DEV_IP4, RFT_PEER_IP4, TUN4_DEV, TUN6_DEV);
	vxlan_end(rft.peer_ns, RFT_PEER_IP4, RFT_DEV_IP4, TUN4_PEER, TUN6_PEER);
}

static enum rft_outcome to(int family, const char *addr)
{
	return rft_client(rft.dev_ns, rft.cg, family, RFT_TCP, addr, PORT_IN, 1500).outcome;
}

static void allow(const char *addr)
{
	rft_cli_ok(0, "allow", "add", "net", addr, "proto", "tcp", "port", "8401", "dir", "out",
		   NULL);
}

Test(wall, tunnel_to_an_allowed_inner_address_is_stopped_on_the_wire)
{
	static const unsigned short ports[] = {PORT_IN};
	struct rft_server srv;
	unsigned int before;
	int st;

	tunnel();
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	allow(TUN4_PEER);
	allow(TUN6_PEER);
	allow(RFT_PEER_IP4);
	allow(RFT_PEER_IP6);
	/* not isolated: the tunnel carries the connection */
	cr_assert_eq(to(AF_INET, TUN4_PEER), RFT_OK, "the tunnel does not work");
	cr_assert_eq(to(AF_INET6, TUN6_PEER), RFT_OK, "the v6 tunnel does not work");

	st = rfp_cli_env(guard_on, NULL, NULL, "isolate", NULL);
	cr_assert_eq(st, 0);
	before = rft_server_stats(&srv, PORT_IN, AF_INET).conns +
		 rft_server_stats(&srv, PORT_IN, AF_INET6).conns;
	/* the cgroup layer allows the inner destination; on the wire it is UDP to 192.0.2.2:4789 */
	cr_expect_neq(to(AF_INET, TUN4_PEER), RFT_OK, "v4: the tunnel carried isolated traffic");
	cr_expect_neq(to(AF_INET6, TUN6_PEER), RFT_OK, "v6: the tunnel carried isolated traffic");
	cr_expect_eq(rft_server_stats(&srv, PORT_IN, AF_INET).conns +
			 rft_server_stats(&srv, PORT_IN, AF_INET6).conns,
		     before, "the peer accepted a connection through the tunnel");
	/* the same service reached directly is allowed on the wire too, after the neighbours had
	 * to be found again: socket-less ARP and ND pass the wall */
	rft_sh_in(rft.dev_ns, "ip neigh flush all");
	cr_expect_eq(to(AF_INET, RFT_PEER_IP4), RFT_OK, "v4: the wall cut an allowed flow");
	cr_expect_eq(to(AF_INET6, RFT_PEER_IP6), RFT_OK, "v6: the wall cut an allowed flow");
	rft_cli_ok(0, "release", NULL);
	cr_expect_eq(to(AF_INET, TUN4_PEER), RFT_OK, "released: the tunnel stays cut");
}

/* ---- the verdict cache on the wire (issue 25) ------------------------------------------- */

static const struct tunnel_flow {
	int family;
	enum rft_proto proto;
	const char *inner; /* behind the tunnel */
	const char *direct;
} tunnel_flows[] = {
    {AF_INET, RFT_TCP, TUN4_PEER, RFT_PEER_IP4},
    {AF_INET, RFT_UDP_CONNECTED, TUN4_PEER, RFT_PEER_IP4},
    {AF_INET6, RFT_TCP, TUN6_PEER, RFT_PEER_IP6},
    {AF_INET6, RFT_UDP_CONNECTED, TUN6_PEER, RFT_PEER_IP6},
};

/* the direct flow has a server of its own: a push goes to all of a server's flows */
#define PORT_DIRECT   8402
#define PORT_DIRECT_S "8402"

static void allow_flow(const struct tunnel_flow *f, const char *addr, const char *port)
{
	rft_cli_ok(0, "allow", "add", "net", addr, "proto", f->proto == RFT_TCP ? "tcp" : "udp",
		   "port", port, "dir", "out", NULL);
}

/* What the peer received on PORT_IN in f's family: TCP bytes plus datagrams. */
static unsigned long long received(const struct rft_server *srv, const struct tunnel_flow *f)
{
	struct rft_port_stats st = rft_server_stats(srv, PORT_IN, f->family);

	return st.tcp_bytes + st.dgrams;
}

/* Bytes go both ways, `rounds` times: the client's echo, then a byte the peer pushes. */
static void tunnel_flowing(struct rft_conn *c, struct rft_server *srv, int rounds, const char *what)
{
	int i;

	for (i = 0; i < rounds; i++) {
		cr_assert_eq(rft_conn_send(c, 5), 5, "%s: send failed", what);
		cr_assert_eq(rft_conn_recv(c, 2000), 5, "%s: no echo (round %d)", what, i);
		cr_assert_geq(rft_server_push(srv), 1, "%s: the peer has no flow to push to", what);
		cr_assert_eq(rft_conn_recv(c, 2000), 1, "%s: peer->client byte lost (round %d)",
			     what, i);
	}
}

/*
 * A flow through the tunnel to an allowed inner address, established and moving bytes before
 * isolation, then isolated with that inner address still allowed: each of its packets is
 * allowed (and cached under the inner flow's key) by the cgroup hooks and by the wall on the
 * VXLAN device, and leaves the veth as UDP to the tunnel's remote port 4789, which no rule
 * allows, with the inner socket still in skb->sk. The wall on the veth must judge that outer
 * packet itself: nothing of the flow reaches the peer any more. The same kind of flow straight
 * to the peer keeps moving bytes both ways. TCP and connected UDP, IPv4 and IPv6 inner.
 *
 * The outer packet is UDP, so the cache keeps it away from the inner entries twice: its key
 * (remote, ports, protocol) is not theirs, and it is not a datagram of the socket's connected
 * flow (rf_cache_udp_connected()). The test fails when both checks are removed from
 * rf_cache_lookup(), not when only one is. Only the way out is asserted: the wall is on egress,
 * and what the peer sends through the tunnel still reaches the allowed inner flow (measured).
 */
RFT_TABLE_PARAMS(wall, established_tunnel_flow_is_not_carried_by_a_cached_inner_allow, tunnel_flows)
ParameterizedTest(const size_t *row, wall,
		  established_tunnel_flow_is_not_carried_by_a_cached_inner_allow)
{
	static const unsigned short ports[] = {PORT_IN}, dports[] = {PORT_DIRECT};
	const struct tunnel_flow *f = &tunnel_flows[*row];
	const char *proto = f->proto == RFT_TCP ? "tcp" : "udp(connect)";
	struct rft_server srv, dsrv;
	struct rft_conn in, direct;
	unsigned long long before;

	tunnel();
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	cr_assert_eq(rft_server_start(&dsrv, rft.peer_ns, NULL, dports, 1), 0);
	allow_flow(f, f->inner, "8401");
	allow_flow(f, f->direct, PORT_DIRECT_S);
	cr_assert_eq(
	    rft_conn_open(&in, rft.dev_ns, rft.cg, f->family, f->proto, f->inner, PORT_IN, 2000), 0,
	    "%s %s: no connection through the tunnel", proto, f->inner);
	cr_assert_eq(rft_conn_open(&direct, rft.dev_ns, rft.cg, f->family, f->proto, f->direct,
				   PORT_DIRECT, 2000),
		     0, "%s %s: no direct connection", proto, f->direct);
	tunnel_flowing(&in, &srv, 2, "not isolated, through the tunnel");
	tunnel_flowing(&direct, &dsrv, 2, "not isolated, direct");

	cr_assert_eq(rfp_cli_env(guard_on, NULL, NULL, "isolate", NULL), 0);
	/* the direct flow first: its packets are judged and cached on the veth's wall too */
	tunnel_flowing(&direct, &dsrv, 3, "isolated, direct (allowed on the wire)");
	before = received(&srv, f);
	cr_expect_eq(rft_conn_send(&in, 7), 7, "%s %s: send failed", proto, f->inner);
	cr_expect_eq(rft_conn_recv(&in, RFT_DENY_WAIT_MS), 0, "%s %s: an echo came back", proto,
		     f->inner);
	cr_expect_eq(received(&srv, f), before,
		     "%s %s: the peer received %llu bytes/datagrams through the tunnel (an inner "
		     "flow's cached allow let the outer packet through the wall)",
		     proto, f->inner, received(&srv, f) - before);
	cr_expect_eq(rft_conn_send(&in, 3), 3);
	rft_msleep(RFT_DENY_WAIT_MS / 2);
	cr_expect_eq(received(&srv, f), before, "%s %s: the peer received a later packet", proto,
		     f->inner);
	tunnel_flowing(&direct, &dsrv, 1, "isolated, direct, after the tunnel's packets");

	rft_cli_ok(0, "release", NULL);
	rft_conn_close(&in);
	rft_conn_close(&direct);
	rft_server_stop(&srv);
	rft_server_stop(&dsrv);
}

/* ---- the packet guard in the namespaces of the target's processes (issue 12 item 10) ---- */

#define MARK_NS_FRAME "rf-wall-netns-frame"

static unsigned int frames_after(struct rfp_sniffer *sn, unsigned int before, int ms)
{
	long t0 = rft_now_ms();

	while (rfp_sniffer_count(sn) == before && rft_now_ms() - t0 < ms)
		rft_msleep(50);
	return rfp_sniffer_count(sn);
}

/*
 * A process of the isolated cgroup in a network namespace of its own (a container's): the CLI
 * runs in another namespace, yet the guard must cover the interfaces the process uses.
 */
Test(wall, packet_guard_covers_the_namespaces_of_the_targets_processes)
{
	char ns[80], cmd[600], *del[] = {"ip", "netns", "del", ns, NULL};
	struct rfp_sniffer sn;
	struct rfp_worker w;
	unsigned int before;

	snprintf(ns, sizeof(ns), "%s-c", rft.dev_ns);
	snprintf(
	    cmd, sizeof(cmd),
	    "ip netns add %s && ip link add rfc0 netns %s type veth peer name rfc1 netns %s && "
	    "ip -n %s link set rfc0 up && ip -n %s link set rfc1 up",
	    ns, ns, rft.peer_ns, ns, rft.peer_ns);
	rft_sh_in(NULL, cmd);
	cr_assert_eq(rfp_sniffer_start(&sn, rft.peer_ns, RFP_ETH_P_TEST, MARK_NS_FRAME), 0);
	cr_assert_eq(rfp_worker_start(&w, ns, rft.cg, rfp_frame_worker, (void *)MARK_NS_FRAME), 0);
	allow(RFT_PEER_IP4);
	before = rfp_sniffer_count(&sn);
	cr_assert_gt(rfp_worker_call(&w, 1), 0);
	cr_assert_gt(frames_after(&sn, before, 2000), before, "not isolated: no frame arrived");

	cr_assert_eq(rfp_cli_env(guard_on, NULL, NULL, "isolate", NULL), 0);
	before = rfp_sniffer_count(&sn);
	rfp_worker_call(&w, 1);
	rfp_worker_call(&w, 1);
	cr_expect_eq(frames_after(&sn, before, RFT_DENY_WAIT_MS), before,
		     "isolated: frames from the target's own namespace reached the peer");

	rft_cli_ok(0, "release", NULL);
	before = rfp_sniffer_count(&sn);
	cr_expect_gt(rfp_worker_call(&w, 1), 0);
	cr_expect_gt(frames_after(&sn, before, 2000), before, "released: no frame arrived");
	rfp_worker_stop(&w);
	rfp_sniffer_stop(&sn);
	rft_exec(NULL, del, NULL, NULL);
}

/*
 * Another tool's tc filter that happens to sit at the handle of our target's filter (prio 1) is
 * never replaced or removed: isolate warns that the guard is not on that interface, and unload
 * leaves the filter as it was.
 */
Test(wall, another_tools_filter_at_our_handle_is_left_alone)
{
	struct stat st;
	char *err = NULL;
	struct bpf_insn ret_unspec[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	__u32 handle, id;
	int prog;

	cr_assert_eq(stat(rft.cg, &st), 0);
	handle = 0x80000000u | ((__u32)st.st_ino & 0x7fffffffu); /* the test cgroup's filter */
	prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "other_tool", "GPL", ret_unspec, 2, NULL);
	cr_assert_geq(prog, 0, "could not load the other tool's program");
	id = rft_dev_tc_filter(handle, prog);
	close(prog); /* the filter holds it */
	cr_assert_neq(id, 0, "could not put the other tool's filter in place");
	cr_assert_eq(rfp_cli_env(guard_on, NULL, &err, "isolate", "--force", NULL), 0, "%s", err);
	cr_expect(strstr(err, "belongs to another program") != NULL,
		  "isolate did not say the guard is missing: %s", err);
	free(err);
	cr_expect_eq(rft_dev_tc_filter(handle, -1), id, "isolate replaced the other tool's filter");
	rft_cli_ok(0, "release", NULL);
	rft_cli_ok(0, "unload", NULL);
	cr_expect_eq(rft_dev_tc_filter(handle, -1), id, "unload removed the other tool's filter");
}

/* ---- a namespace of the target's own (issue 21 item 10) ---------------------------------- */

#define OWN4_C "198.51.100.1"
#define OWN4_P "198.51.100.2"
#define OWN6_C "2001:db8:9::1"
#define OWN6_P "2001:db8:9::2"

static int idle_worker(int cmd, void *arg)
{
	(void)cmd;
	(void)arg;
	return 0;
}

/* A probe from the peer to a closed port of the container namespace: REFUSED when its kernel's
 * RST arrives, TIMEOUT when the wall dropped it. */
static enum rft_outcome probe(int family)
{
	return rft_client(rft.peer_ns, NULL, family, RFT_TCP, family == AF_INET ? OWN4_C : OWN6_C,
			  9, 1000)
	    .outcome;
}

static bool status_says(const char *what)
{
	char *out = NULL;
	bool found;

	rft_cli_ok(0, "status", NULL);
	cr_assert_eq(rft_cli(&out, NULL, "status", NULL), 0);
	found = out && strstr(out, what);
	if (!found)
		cr_log_error("status: %s", out ? out : "");
	free(out);
	return found;
}

/*
 * A namespace that only the target's processes use (a container's own) gets the host's wall:
 * every packet leaving it is judged, with a socket or without. Here the kernel's RST for a
 * closed port (the port-state channel) no longer reaches the prober while isolated; once a
 * process outside the target shares the namespace, the wall there goes back to the target's
 * sockets only (the RST is the host's business again). status names the mode.
 */
Test(wall, a_namespace_of_the_targets_own_gets_the_hosts_wall)
{
	char ns[80], cmd[2048], *del[] = {"ip", "netns", "del", ns, NULL};
	struct rfp_worker w, other;

	snprintf(ns, sizeof(ns), "%s-c", rft.dev_ns);
	snprintf(
	    cmd, sizeof(cmd),
	    "ip netns add %s && ip link add rfo0 netns %s type veth peer name rfo1 netns %s && "
	    "ip -n %s addr add %s/24 dev rfo0 && ip -n %s addr add %s/64 dev rfo0 nodad && "
	    "ip -n %s addr add %s/24 dev rfo1 && ip -n %s addr add %s/64 dev rfo1 nodad && "
	    "ip -n %s link set rfo0 up && ip -n %s link set lo up && ip -n %s link set rfo1 up",
	    ns, ns, rft.peer_ns, ns, OWN4_C, ns, OWN6_C, rft.peer_ns, OWN4_P, rft.peer_ns, OWN6_P,
	    ns, ns, rft.peer_ns);
	rft_sh_in(NULL, cmd);
	cr_assert_eq(rfp_worker_start(&w, ns, rft.cg, idle_worker, NULL), 0);
	allow(RFT_PEER_IP4);
	cr_expect_eq(probe(AF_INET), RFT_REFUSED, "not isolated: no RST v4");
	cr_expect_eq(probe(AF_INET6), RFT_REFUSED, "not isolated: no RST v6");

	cr_assert_eq(rfp_cli_env(guard_on, NULL, NULL, "isolate", NULL), 0);
	cr_expect(status_says("every-packet"), "status does not name the namespace's mode");
	cr_expect_eq(probe(AF_INET), RFT_TIMEOUT, "isolated: the container's RST v4 left");
	cr_expect_eq(probe(AF_INET6), RFT_TIMEOUT, "isolated: the container's RST v6 left");

	/* a process outside the target joins the namespace: it is shared now */
	cr_assert_eq(rfp_worker_start(&other, ns, NULL, idle_worker, NULL), 0);
	cr_assert_eq(rfp_cli_env(guard_on, NULL, NULL, "load", NULL), 0);
	cr_expect(status_says("own-sockets"), "status does not say the namespace is shared");
	cr_expect_eq(probe(AF_INET), RFT_REFUSED, "shared: the wall judged another's RST v4");
	rfp_worker_stop(&other);

	rft_cli_ok(0, "release", NULL);
	cr_expect_eq(probe(AF_INET), RFT_REFUSED, "released: no RST v4");
	rfp_worker_stop(&w);
	rft_exec(NULL, del, NULL, NULL);
}
