// SPDX-License-Identifier: GPL-2.0-only
/*
 * Outbound enforcement with real sockets: a client in the test cgroup inside the device netns
 * talks to echo servers in the peer netns, before isolate, while isolated and after release.
 * Denied traffic must fail with EPERM and the peer must receive nothing.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <criterion/criterion.h>
#include "rf_test.h"

#define PORT_ALLOWED	  8001
#define PORT_OTHER	  8002
#define PORT_LOOPBACK	  8003
#define CLIENT_TIMEOUT_MS 1500

TestSuite(isolate, .init = rft_setup, .fini = rft_teardown, .timeout = 60);

enum expect { ALLOW, DENY };

struct out_case {
	int family;	 /* socket family */
	int wire_family; /* family the peer sees */
	const char *addr;
	enum rft_proto proto;
	unsigned short port;
	enum expect isolated; /* verdict while isolated; always ALLOW otherwise */
};

static const struct out_case out_cases[] = {
    {AF_INET, AF_INET, RFT_PEER_IP4, RFT_TCP, PORT_ALLOWED, ALLOW},
    {AF_INET, AF_INET, RFT_PEER_IP4, RFT_TCP, PORT_OTHER, DENY},
    {AF_INET, AF_INET, RFT_PEER_IP4, RFT_UDP, PORT_ALLOWED, ALLOW},
    {AF_INET, AF_INET, RFT_PEER_IP4, RFT_UDP, PORT_OTHER, DENY},
    {AF_INET, AF_INET, RFT_PEER_IP4, RFT_UDP_CONNECTED, PORT_ALLOWED, ALLOW},
    {AF_INET, AF_INET, RFT_PEER_IP4, RFT_UDP_CONNECTED, PORT_OTHER, DENY},
    {AF_INET6, AF_INET6, RFT_PEER_IP6, RFT_TCP, PORT_ALLOWED, ALLOW},
    {AF_INET6, AF_INET6, RFT_PEER_IP6, RFT_TCP, PORT_OTHER, DENY},
    {AF_INET6, AF_INET6, RFT_PEER_IP6, RFT_UDP, PORT_ALLOWED, ALLOW},
    {AF_INET6, AF_INET6, RFT_PEER_IP6, RFT_UDP, PORT_OTHER, DENY},
    {AF_INET6, AF_INET6, RFT_PEER_IP6, RFT_UDP_CONNECTED, PORT_ALLOWED, ALLOW},
    {AF_INET6, AF_INET6, RFT_PEER_IP6, RFT_UDP_CONNECTED, PORT_OTHER, DENY},
    /* ::ffff:192.0.2.2 through an AF_INET6 socket gets the IPv4 verdict */
    {AF_INET6, AF_INET, RFT_PEER_MAPPED, RFT_TCP, PORT_ALLOWED, ALLOW},
    {AF_INET6, AF_INET, RFT_PEER_MAPPED, RFT_TCP, PORT_OTHER, DENY},
    {AF_INET6, AF_INET, RFT_PEER_MAPPED, RFT_UDP, PORT_ALLOWED, ALLOW},
    {AF_INET6, AF_INET, RFT_PEER_MAPPED, RFT_UDP, PORT_OTHER, DENY},
    {AF_INET6, AF_INET, RFT_PEER_MAPPED, RFT_UDP_CONNECTED, PORT_OTHER, DENY},
};

static const char *proto_name(enum rft_proto p)
{
	return p == RFT_TCP ? "tcp" : p == RFT_UDP ? "udp(sendto)" : "udp(connect)";
}

static unsigned long long received(const struct rft_server *s, const struct out_case *c)
{
	struct rft_port_stats st = rft_server_stats(s, c->port, c->wire_family);

	return c->proto == RFT_TCP ? st.conns + st.tcp_bytes : st.dgrams + st.udp_bytes;
}

/* Run case c and check it against `isolated` (false: it must work). */
static void check_case(const struct rft_server *srv, const struct out_case *c, bool isolated,
		       const char *phase)
{
	bool deny = isolated && c->isolated == DENY;
	unsigned long long before = received(srv, c);
	struct rft_result r = rft_client(rft.dev_ns, rft.cg, c->family, c->proto, c->addr, c->port,
					 CLIENT_TIMEOUT_MS);

	if (deny) {
		cr_expect_eq(r.outcome, RFT_EPERM,
			     "%s: %s %s port %u: expected EPERM, got %s (errno %d)", phase,
			     proto_name(c->proto), c->addr, c->port, rft_outcome_name(r.outcome),
			     r.err);
		rft_msleep(100);
		cr_expect_eq(received(srv, c), before,
			     "%s: %s %s port %u was denied but the peer received something", phase,
			     proto_name(c->proto), c->addr, c->port);
	} else {
		cr_expect_eq(r.outcome, RFT_OK,
			     "%s: %s %s port %u: expected OK, got %s (errno %d, echoed %d)", phase,
			     proto_name(c->proto), c->addr, c->port, rft_outcome_name(r.outcome),
			     r.err, r.echoed);
		cr_expect_gt(received(srv, c), before,
			     "%s: %s %s port %u worked but the peer counted nothing", phase,
			     proto_name(c->proto), c->addr, c->port);
	}
}

static void allow_out(const char *addr, const char *proto, const char *port)
{
	rft_cli_ok(0, "allow", "add", "net", addr, "proto", proto, "port", port, "dir", "out",
		   NULL);
}

/* Every row of out_cases on its own: before load, loaded, isolated, released. */
RFT_TABLE_PARAMS(isolate, outbound_allow_and_deny_v4_v6_tcp_udp, out_cases)
ParameterizedTest(const size_t *row, isolate, outbound_allow_and_deny_v4_v6_tcp_udp)
{
	static const unsigned short ports[] = {PORT_ALLOWED, PORT_OTHER};
	const struct out_case *c = &out_cases[*row];
	struct rft_server srv;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);

	/* nothing loaded yet */
	check_case(&srv, c, false, "before load");

	allow_out(RFT_PEER_IP4, "tcp", "8001");
	allow_out(RFT_PEER_IP4, "udp", "8001");
	allow_out(RFT_PEER_IP6, "tcp", "8001");
	allow_out(RFT_PEER_IP6, "udp", "8001");
	check_case(&srv, c, false, "loaded, not isolated");

	rft_cli_ok(0, "isolate", "--comment", "kernel test", NULL);
	check_case(&srv, c, true, "isolated");

	rft_cli_ok(0, "release", NULL);
	check_case(&srv, c, false, "released");
}

static const struct {
	int family;
	const char *addr;
	enum rft_proto proto;
} loopback_cases[] = {
    {AF_INET, "127.0.0.1", RFT_TCP},
    {AF_INET, "127.0.0.1", RFT_UDP},
    {AF_INET6, "::1", RFT_TCP},
    {AF_INET6, "::1", RFT_UDP},
    {AF_INET6, "::ffff:127.0.0.1", RFT_TCP},
};

/* Loopback stays usable while isolated, v4 and v6, TCP and UDP, with both ends in the cgroup. */
RFT_TABLE_PARAMS(isolate, loopback_keeps_working, loopback_cases)
ParameterizedTest(const size_t *row, isolate, loopback_keeps_working)
{
	static const unsigned short ports[] = {PORT_LOOPBACK};
	const char *addr = loopback_cases[*row].addr;
	enum rft_proto proto = loopback_cases[*row].proto;
	struct rft_server srv;
	struct rft_result r;

	cr_assert_eq(rft_server_start(&srv, rft.dev_ns, rft.cg, ports, 1), 0);
	rft_cli_ok(0, "isolate", "--force", NULL);
	r = rft_client(rft.dev_ns, rft.cg, loopback_cases[*row].family, proto, addr, PORT_LOOPBACK,
		       CLIENT_TIMEOUT_MS);
	cr_expect_eq(r.outcome, RFT_OK, "isolated: loopback %s %s: got %s (errno %d)",
		     proto_name(proto), addr, rft_outcome_name(r.outcome), r.err);
	/* the same isolated client cannot leave the host */
	r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_LOOPBACK,
		       CLIENT_TIMEOUT_MS);
	cr_expect_eq(r.outcome, RFT_EPERM, "isolated (loopback %s %s row): tcp to the peer: got %s",
		     proto_name(proto), addr, rft_outcome_name(r.outcome));
	rft_cli_ok(0, "release", NULL);
}

/*
 * Connections opened before isolate stop moving bytes in both directions once isolated; after
 * release, new connections work.
 */
static void established(int family, const char *addr, enum rft_proto proto)
{
	static const unsigned short ports[] = {PORT_OTHER};
	const char *what = proto == RFT_TCP ? "tcp" : "udp";
	struct rft_port_stats before, after;
	struct rft_server srv;
	struct rft_conn c;
	struct rft_result r;
	long n;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	cr_assert_eq(rft_conn_open(&c, rft.dev_ns, rft.cg, family, proto, addr, PORT_OTHER, 2000),
		     0, "%s connection to %s before isolate failed", what, addr);

	/* works both ways before isolation: echo of what we send, then a byte pushed by the peer */
	cr_assert_eq(rft_conn_send(&c, 5), 5);
	cr_assert_eq(rft_conn_recv(&c, 2000), 5, "%s %s: no echo before isolate", what, addr);
	cr_assert_eq(rft_server_push(&srv), 1);
	cr_assert_eq(rft_conn_recv(&c, 2000), 1, "%s %s: peer->client byte lost before isolate",
		     what, addr);

	rft_cli_ok(0, "isolate", "--force", NULL);

	/* client -> peer: nothing arrives (send may succeed for TCP: the bytes stay queued) */
	before = rft_server_stats(&srv, PORT_OTHER, family);
	n = rft_conn_send(&c, 7);
	cr_expect(n == 7 || n == -EPERM, "%s %s: send while isolated returned %ld", what, addr, n);
	cr_expect_eq(rft_conn_recv(&c, RFT_DENY_WAIT_MS), 0,
		     "%s %s: an echo came back while isolated", what, addr);
	after = rft_server_stats(&srv, PORT_OTHER, family);
	cr_expect_eq(after.tcp_bytes, before.tcp_bytes,
		     "%s %s: peer received %llu TCP bytes while isolated", what, addr,
		     after.tcp_bytes - before.tcp_bytes);
	cr_expect_eq(after.dgrams, before.dgrams,
		     "%s %s: peer received %u datagrams while isolated", what, addr,
		     after.dgrams - before.dgrams);

	/* peer -> client: nothing arrives */
	cr_expect_geq(rft_server_push(&srv), 0);
	cr_expect_eq(rft_conn_recv(&c, RFT_DENY_WAIT_MS), 0,
		     "%s %s: peer->client bytes arrived while isolated", what, addr);

	rft_cli_ok(0, "release", NULL);
	if (proto == RFT_TCP) {
		/* the queued bytes are retransmitted: the old connection resumes */
		long got = 0, t;

		for (t = 0; t < 8 && got < 1; t++)
			got = rft_conn_recv(&c, 500);
		cr_expect_gt(got, 0, "%s %s: the connection did not resume after release", what,
			     addr);
		for (t = 0; t < 80; t++) {
			if (rft_server_stats(&srv, PORT_OTHER, family).tcp_bytes > after.tcp_bytes)
				break;
			rft_msleep(50);
		}
		cr_expect_gt(rft_server_stats(&srv, PORT_OTHER, family).tcp_bytes, after.tcp_bytes,
			     "%s %s: the bytes queued while isolated never arrived", what, addr);
	}
	r = rft_client(rft.dev_ns, rft.cg, family, proto, addr, PORT_OTHER, CLIENT_TIMEOUT_MS);
	cr_expect_eq(r.outcome, RFT_OK, "%s %s: new connection after release: %s", what, addr,
		     rft_outcome_name(r.outcome));
	rft_conn_close(&c);
	rft_server_stop(&srv);
}

Test(isolate, established_tcp_v4_cut_both_ways)
{
	established(AF_INET, RFT_PEER_IP4, RFT_TCP);
}

Test(isolate, established_tcp_v6_cut_both_ways)
{
	established(AF_INET6, RFT_PEER_IP6, RFT_TCP);
}

Test(isolate, established_udp_v4_cut_both_ways)
{
	established(AF_INET, RFT_PEER_IP4, RFT_UDP_CONNECTED);
}

Test(isolate, established_udp_v6_cut_both_ways)
{
	established(AF_INET6, RFT_PEER_IP6, RFT_UDP_CONNECTED);
}

static void write_config(const char *text)
{
	FILE *f = fopen(rft.config, "w");

	cr_assert_not_null(f, "cannot write %s", rft.config);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void expect_out(const struct rft_server *srv, int family, const char *addr,
		       enum rft_proto proto, unsigned short port, enum expect want,
		       const char *phase)
{
	struct out_case c = {family, family, addr, proto, port, want};
	unsigned long long before = received(srv, &c);
	struct rft_result r =
	    rft_client(rft.dev_ns, rft.cg, family, proto, addr, port, CLIENT_TIMEOUT_MS);

	cr_expect_eq(r.outcome, want == ALLOW ? RFT_OK : RFT_EPERM,
		     "%s: %s %s port %u: got %s (errno %d)", phase, proto_name(proto), addr, port,
		     rft_outcome_name(r.outcome), r.err);
	if (want == DENY)
		rft_msleep(100);
	if (want == ALLOW)
		cr_expect_gt(received(srv, &c), before, "%s: the resolver counted nothing", phase);
	else
		cr_expect_eq(received(srv, &c), before, "%s: denied but received", phase);
}

/*
 * The DNS built-in: port 53 (UDP and TCP) to the configured resolvers only, from the resolver
 * list in the config or, with 'dns auto', from resolv.conf; 'dns off' closes it.
 */
Test(isolate, dns_builtin_only_to_resolvers)
{
	static const unsigned short ports[] = {53, PORT_OTHER};
	static const enum rft_proto protos[] = {RFT_UDP, RFT_TCP};
	static const struct {
		int family;
		const char *addr;
	} res[] = {{AF_INET, RFT_PEER_IP4}, {AF_INET6, RFT_PEER_IP6}};
	char resolv[300];
	struct rft_server srv;
	size_t f, p;
	FILE *rf;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	write_config("packet-guard off\ndns " RFT_PEER_IP4 "," RFT_PEER_IP6 "\n");
	rft_cli_ok(0, "isolate", "--force", NULL);
	for (f = 0; f < 2; f++)
		for (p = 0; p < 2; p++) {
			expect_out(&srv, res[f].family, res[f].addr, protos[p], 53, ALLOW,
				   "dns IP,IP");
			expect_out(&srv, res[f].family, res[f].addr, protos[p], PORT_OTHER, DENY,
				   "dns IP,IP, not port 53");
		}

	write_config("packet-guard off\ndns off\n");
	rft_cli_ok(0, "load", NULL);
	for (f = 0; f < 2; f++)
		for (p = 0; p < 2; p++)
			expect_out(&srv, res[f].family, res[f].addr, protos[p], 53, DENY,
				   "dns off");

	snprintf(resolv, sizeof(resolv), "%s/resolv.conf", rft.state_dir);
	rf = fopen(resolv, "w");
	cr_assert_not_null(rf);
	fprintf(rf, "search example.org\nnameserver %s\n", RFT_PEER_IP6);
	cr_assert_eq(fclose(rf), 0);
	setenv("RINGFENCE_RESOLV_CONF", resolv, 1);
	write_config("packet-guard off\ndns auto\n");
	/* resolv.conf is read when isolating; while isolated the resolvers stay frozen (item 13) */
	rft_cli_ok(0, "release", NULL);
	rft_cli_ok(0, "isolate", "--force", NULL);
	unsetenv("RINGFENCE_RESOLV_CONF");
	expect_out(&srv, AF_INET6, RFT_PEER_IP6, RFT_UDP, 53, ALLOW, "dns auto, listed resolver");
	expect_out(&srv, AF_INET, RFT_PEER_IP4, RFT_UDP, 53, DENY, "dns auto, unlisted resolver");
	rft_cli_ok(0, "release", NULL);
	rft_server_stop(&srv);
}
