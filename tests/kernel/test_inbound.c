// SPDX-License-Identifier: GPL-2.0-only
/*
 * Inbound enforcement: a server in the test cgroup inside the device netns, clients in the peer
 * netns. While isolated nothing reaches it, except with 'allow add net PEER ... port P dir in',
 * and then only port P.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <criterion/criterion.h>
#include "rf_test.h"

#define PORT_IN	   9001
#define PORT_OTHER 9002

TestSuite(inbound, .init = rft_setup, .fini = rft_teardown, .timeout = 60);

static const struct {
	int family;
	const char *dev_addr;  /* what the peer connects to */
	const char *peer_addr; /* what the rule allows */
} fams[] = {
    {AF_INET, RFT_DEV_IP4, RFT_PEER_IP4},
    {AF_INET6, RFT_DEV_IP6, RFT_PEER_IP6},
};

static unsigned long long received(const struct rft_server *s, int family, enum rft_proto p,
				   unsigned short port)
{
	struct rft_port_stats st = rft_server_stats(s, port, family);

	return p == RFT_TCP ? st.conns + st.tcp_bytes : st.dgrams + st.udp_bytes;
}

/* From the peer (no cgroup) to the device server; asserts the outcome and the server's count. */
static void expect_in(const struct rft_server *srv, size_t f, enum rft_proto proto,
		      unsigned short port, bool allowed, const char *phase)
{
	const char *what = proto == RFT_TCP ? "tcp" : "udp";
	unsigned long long before = received(srv, fams[f].family, proto, port);
	struct rft_result r = rft_client(rft.peer_ns, NULL, fams[f].family, proto, fams[f].dev_addr,
					 port, allowed ? 2000 : RFT_DENY_WAIT_MS);

	if (allowed) {
		cr_expect_eq(r.outcome, RFT_OK,
			     "%s: %s to %s port %u: expected OK, got %s (errno %d)", phase, what,
			     fams[f].dev_addr, port, rft_outcome_name(r.outcome), r.err);
		cr_expect_gt(received(srv, fams[f].family, proto, port), before,
			     "%s: %s to %s port %u: the server counted nothing", phase, what,
			     fams[f].dev_addr, port);
	} else {
		cr_expect_eq(r.outcome, RFT_TIMEOUT,
			     "%s: %s to %s port %u: expected TIMEOUT, got %s (errno %d)", phase,
			     what, fams[f].dev_addr, port, rft_outcome_name(r.outcome), r.err);
		cr_expect_eq(received(srv, fams[f].family, proto, port), before,
			     "%s: %s to %s port %u: the isolated server received something", phase,
			     what, fams[f].dev_addr, port);
	}
}

/* Row f of fams: served before isolate, not without a rule, only on the rule's port with it. */
static void inbound(enum rft_proto proto, size_t f)
{
	static const unsigned short ports[] = {PORT_IN, PORT_OTHER};
	const char *pname = proto == RFT_TCP ? "tcp" : "udp";
	struct rft_server srv;
	size_t r;

	cr_assert_eq(rft_server_start(&srv, rft.dev_ns, rft.cg, ports, 2), 0);
	expect_in(&srv, f, proto, PORT_IN, true, "not isolated");

	rft_cli_ok(0, "isolate", "--force", NULL);
	expect_in(&srv, f, proto, PORT_IN, false, "isolated, no rule");

	for (r = 0; r < 2; r++)
		rft_cli_ok(0, "allow", "add", "net", fams[r].peer_addr, "proto", pname, "port",
			   "9001", "dir", "in", NULL);
	expect_in(&srv, f, proto, PORT_IN, true, "isolated, dir in rule");
	expect_in(&srv, f, proto, PORT_OTHER, false, "isolated, dir in rule, other port");

	rft_cli_ok(0, "release", NULL);
	expect_in(&srv, f, proto, PORT_OTHER, true, "released");
	rft_server_stop(&srv);
}

RFT_TABLE_PARAMS(inbound, tcp_dir_in_rule_v4_v6, fams)
ParameterizedTest(const size_t *row, inbound, tcp_dir_in_rule_v4_v6)
{
	inbound(RFT_TCP, *row);
}

/* A UDP service: the request needs the dir-in rule, and its reply (sendto from the server's
 * port) is a reply of the allowed flow. */
RFT_TABLE_PARAMS(inbound, udp_dir_in_rule_v4_v6, fams)
ParameterizedTest(const size_t *row, inbound, udp_dir_in_rule_v4_v6)
{
	inbound(RFT_UDP, *row);
}

/* A 'dir out' rule for the peer does not let the peer open connections to the host. */
RFT_TABLE_PARAMS(inbound, dir_out_rule_does_not_allow_inbound, fams)
ParameterizedTest(const size_t *row, inbound, dir_out_rule_does_not_allow_inbound)
{
	static const unsigned short ports[] = {PORT_IN};
	struct rft_server srv;
	size_t f;

	cr_assert_eq(rft_server_start(&srv, rft.dev_ns, rft.cg, ports, 1), 0);
	for (f = 0; f < 2; f++)
		rft_cli_ok(0, "allow", "add", "net", fams[f].peer_addr, "proto", "tcp", "port",
			   "9001", "dir", "out", NULL);
	rft_cli_ok(0, "isolate", NULL);
	expect_in(&srv, *row, RFT_TCP, PORT_IN, false, "isolated, dir out rule");
	rft_cli_ok(0, "release", NULL);
	expect_in(&srv, *row, RFT_TCP, PORT_IN, true, "released");
	rft_server_stop(&srv);
}
