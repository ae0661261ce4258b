// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sockets a target holds but did not create (issue 21 item 2, S1): a socket belongs to the
 * cgroup of its creator, so a listener made by systemd for socket activation, or any socket
 * inherited from outside the target or passed in, is never judged by the target's programs
 * (every counter 0/0). While isolated they are cut, at isolate and by the agent later: the
 * listener, and connections to peers no rule allows; loopback and allowed connections stay.
 * Here a process outside the target makes the sockets and then moves into it (the fork
 * variant: its sockets keep the cgroup they were made in).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_proc.h"

#define PORT_ALLOWED 8401 /* out rule to the peer */
#define PORT_OTHER   8402
#define PORT_FOREIGN 8403 /* a listener made outside the target */
#define PORT_INSIDE  8404 /* a listener made inside, opened by a dir in rule */
#define MS	     1500

TestSuite(passed, .init = rfp_setup, .fini = rfp_teardown, .timeout = 120);

static struct rft_server peer, foreign, inside;

static void setup_servers(void)
{
	static const unsigned short pp[] = {PORT_ALLOWED, PORT_OTHER}, fp[] = {PORT_FOREIGN},
				    ip[] = {PORT_INSIDE};
	const char *fam[] = {RFT_PEER_IP4, RFT_PEER_IP6};
	int i;

	cr_assert_eq(rft_server_start(&peer, rft.peer_ns, NULL, pp, 2), 0);
	cr_assert_eq(rft_server_start(&inside, rft.dev_ns, rft.cg, ip, 1), 0);
	/* made in the test's own cgroup, then moved into the target */
	cr_assert_eq(rft_server_start(&foreign, rft.dev_ns, NULL, fp, 1), 0);
	cr_assert_eq(rft_cgroup_enter(rft.cg, foreign.pid), 0);
	for (i = 0; i < 2; i++) {
		rft_cli_ok(0, "allow", "add", "net", fam[i], "proto", "tcp", "port", "8401", "dir",
			   "out", NULL);
		rft_cli_ok(0, "allow", "add", "net", fam[i], "proto", "tcp", "port", "8404", "dir",
			   "in", NULL);
	}
}

/* A TCP connection made outside the target, its holder then moved into it. */
static void foreign_conn(struct rft_conn *c, int family, const char *addr, unsigned short port)
{
	cr_assert_eq(rft_conn_open(c, rft.dev_ns, NULL, family, RFT_TCP, addr, port, MS), 0,
		     "connect to %s:%u", addr, port);
	cr_assert_eq(rft_cgroup_enter(rft.cg, c->pid), 0);
}

static bool echoes(struct rft_conn *c)
{
	return rft_conn_send(c, 8) == 8 && rft_conn_recv(c, 1000) == 8;
}

static enum rft_outcome from_peer(int family, unsigned short port)
{
	return rft_client(rft.peer_ns, NULL, family, RFT_TCP,
			  family == AF_INET ? RFT_DEV_IP4 : RFT_DEV_IP6, port, MS)
	    .outcome;
}

static unsigned long long other_bytes(void)
{
	return rft_server_stats(&peer, PORT_OTHER, AF_INET).tcp_bytes +
	       rft_server_stats(&peer, PORT_OTHER, AF_INET6).tcp_bytes;
}

static bool history_has(const char *needle)
{
	const char *needles[] = {"\"type\":\"socket-cut\"", needle, NULL};

	return rfp_history_wait(3000, needles);
}

static void expect_cut(struct rft_conn ok[2], struct rft_conn bad[2], struct rft_conn *lo)
{
	int fam[] = {AF_INET, AF_INET6}, i;
	unsigned long long before;

	for (i = 0; i < 2; i++) {
		enum rft_outcome o = from_peer(fam[i], PORT_FOREIGN);

		cr_expect_neq(o, RFT_OK, "IPv%c: the listener made outside still accepts",
			      i ? '6' : '4');
		cr_expect_eq(from_peer(fam[i], PORT_INSIDE), RFT_OK,
			     "IPv%c: the target's own listener (dir in rule) is refused",
			     i ? '6' : '4');
		cr_expect(echoes(&ok[i]), "IPv%c: an allowed connection made outside was cut",
			  i ? '6' : '4');
		before = other_bytes();
		rft_conn_send(&bad[i], 8);
		cr_expect_leq(rft_conn_recv(&bad[i], 1000), 0,
			      "IPv%c: a connection to a denied port still moves bytes",
			      i ? '6' : '4');
		cr_expect_eq(other_bytes(), before, "IPv%c: the peer received data", i ? '6' : '4');
	}
	cr_expect(echoes(lo), "a loopback connection made outside was cut");
}

Test(passed, sockets_made_outside_are_cut_at_isolate_v4_v6)
{
	struct rft_conn ok[2], bad[2], lo;

	setup_servers();
	foreign_conn(&ok[0], AF_INET, RFT_PEER_IP4, PORT_ALLOWED);
	foreign_conn(&ok[1], AF_INET6, RFT_PEER_IP6, PORT_ALLOWED);
	foreign_conn(&bad[0], AF_INET, RFT_PEER_IP4, PORT_OTHER);
	foreign_conn(&bad[1], AF_INET6, RFT_PEER_IP6, PORT_OTHER);
	foreign_conn(&lo, AF_INET, "127.0.0.1", PORT_INSIDE);
	cr_expect(echoes(&bad[0]), "before isolate: the denied port works");
	rft_cli_ok(0, "isolate", NULL);
	expect_cut(ok, bad, &lo);
	cr_expect(history_has("8403 listening"), "no socket-cut naming the listener");
	rft_cli_ok(0, "release", NULL);
}

/* Passed in while isolated: the agent cuts it within seconds and reports it as an event. */
Test(passed, sockets_passed_in_later_are_cut_by_the_agent_v4_v6)
{
	const char *needles[] = {"\"action\":\"socket-cut\"", NULL};
	char path[PATH_MAX + 32], line[4096], *log = NULL;
	struct rft_conn ok[2], bad[2], lo;
	pid_t agent;
	long t0;

	setup_servers();
	agent = rfp_agent_start();
	cr_assert_gt(agent, 0);
	rft_cli_ok(0, "isolate", NULL);
	/* made outside while isolated (the test's cgroup is not), then handed to the target */
	foreign_conn(&ok[0], AF_INET, RFT_PEER_IP4, PORT_ALLOWED);
	foreign_conn(&ok[1], AF_INET6, RFT_PEER_IP6, PORT_ALLOWED);
	foreign_conn(&bad[0], AF_INET, RFT_PEER_IP4, PORT_OTHER);
	foreign_conn(&bad[1], AF_INET6, RFT_PEER_IP6, PORT_OTHER);
	foreign_conn(&lo, AF_INET, "127.0.0.1", PORT_INSIDE);
	snprintf(path, sizeof(path), "%s/events.jsonl", rft.state_dir);
	for (t0 = rft_now_ms(); rft_now_ms() - t0 < rft_scaled_ms(5000);) {
		free(log);
		log = rfp_read_file(path);
		if (log && strstr(log, "\"port\":8402") && rfp_find_line(log, needles, line, 4096))
			break;
		rft_msleep(100);
	}
	cr_expect(log && strstr(log, "socket-cut") && strstr(log, "\"port\":8402"),
		  "no socket-cut event for the denied connection");
	free(log);
	expect_cut(ok, bad, &lo);
	rfp_kill(agent);
	rft_cli_ok(0, "release", NULL);
}
