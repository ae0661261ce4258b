// SPDX-License-Identifier: GPL-2.0-only
/*
 * The process allow-list with real sockets: `allow add exe` (device+inode of the executable, not
 * its name, copy or children that exec something else), `allow add cgroup` (that cgroup and its
 * descendants only; the isolated cgroup or the root are refused), sockets of an allowed executable
 * opened before isolate, and listening sockets of an allowed executable. The executables are
 * copies of this test binary run in helper mode (rf_proc.h), so each copy has its own inode.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_proc.h"

#define PORT_WAY_BACK	    8001 /* allowed by a net rule, so isolate needs no --force */
#define PORT_OTHER	    8002 /* allowed by no net rule */
#define PORT_OTHER2	    8003
#define PORT_LISTEN_ALLOWED 9001
#define PORT_LISTEN_COPY    9002
#define CLIENT_TIMEOUT_MS   1500

TestSuite(procs, .init = rfp_setup, .fini = rfp_teardown, .timeout = 90);

static unsigned long long received(const struct rft_server *s, unsigned short port, int family,
				   enum rft_proto proto)
{
	struct rft_port_stats st = rft_server_stats(s, port, family);

	return proto == RFT_TCP ? st.conns + st.tcp_bytes : st.dgrams + st.udp_bytes;
}

static const char *peer_addr(int family)
{
	return family == AF_INET6 ? RFT_PEER_IP6 : RFT_PEER_IP4;
}

static void way_back(void)
{
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port", "8001", "dir",
		   "out", NULL);
}

/* Check one outcome and what the peer saw: delivered for RFT_OK, nothing otherwise. */
static void expect_delivery(const struct rft_server *srv, int family, enum rft_proto proto,
			    unsigned long long before, enum rft_outcome got, enum rft_outcome want,
			    const char *what)
{
	unsigned long long after;

	cr_expect_eq(got, want, "%s: expected %s, got %s", what, rft_outcome_name(want),
		     rft_outcome_name(got));
	if (want != RFT_OK)
		rft_msleep(100);
	after = received(srv, PORT_OTHER, family, proto);
	if (want == RFT_OK)
		cr_expect_gt(after, before, "%s: allowed but the peer counted nothing", what);
	else
		cr_expect_eq(after, before, "%s: denied but the peer received something", what);
}

/* Paths of the allowed executable and of a copy of it (another inode), with a server in the peer
 * and the way back allowed. */
struct exe_env {
	char allowed[PATH_MAX];
	char copy[PATH_MAX];
	struct rft_server srv;
};

/* Create the two executables and the server, allow `allowed` and isolate. */
static void exe_isolate(struct exe_env *e)
{
	static const unsigned short ports[] = {PORT_OTHER};

	cr_assert_eq(rfp_copy_self("rf-allowed", e->allowed, sizeof(e->allowed)), 0);
	cr_assert_eq(rfp_copy_self("rf-copy", e->copy, sizeof(e->copy)), 0);
	cr_assert_eq(rft_server_start(&e->srv, rft.peer_ns, NULL, ports, 1), 0);
	way_back();
	rft_cli_ok(0, "allow", "add", "exe", e->allowed, NULL);

	/* not isolated: the copy works too */
	cr_expect_eq(
	    rfp_exe_client(e->copy, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER, NULL),
	    RFT_OK, "the copy must work before isolate");
	rft_cli_ok(0, "isolate", NULL);
}

/* Release: the copy works again. */
static void exe_release(struct exe_env *e)
{
	rft_cli_ok(0, "release", NULL);
	cr_expect_eq(
	    rfp_exe_client(e->copy, rft.cg, AF_INET6, RFT_TCP, RFT_PEER_IP6, PORT_OTHER, NULL),
	    RFT_OK, "the copy must work after release");
}

static const struct {
	bool use_copy;
	const char *comm; /* NULL: unchanged */
	int family;
	enum rft_proto proto;
	enum rft_outcome want;
} exe_cases[] = {
    {false, NULL, AF_INET, RFT_TCP, RFT_OK},
    {false, NULL, AF_INET6, RFT_TCP, RFT_OK},
    {false, NULL, AF_INET, RFT_UDP, RFT_OK},
    {false, NULL, AF_INET6, RFT_UDP, RFT_OK},
    {false, "kworker/0:1", AF_INET, RFT_TCP, RFT_OK}, /* comm does not matter */
    {true, NULL, AF_INET, RFT_TCP, RFT_EPERM},	      /* a copy is another inode */
    {true, NULL, AF_INET6, RFT_TCP, RFT_EPERM},
    {true, NULL, AF_INET, RFT_UDP, RFT_EPERM},
    {true, NULL, AF_INET6, RFT_UDP, RFT_EPERM},
    {true, "rf-allowed", AF_INET, RFT_TCP, RFT_EPERM}, /* nor is the allowed name */
    {true, "rf-allowed", AF_INET6, RFT_UDP, RFT_EPERM},
};

RFT_TABLE_PARAMS(procs, exe_rule_is_the_inode_not_the_name, exe_cases)
ParameterizedTest(const size_t *row, procs, exe_rule_is_the_inode_not_the_name)
{
	static struct exe_env e;
	char what[PATH_MAX + 256];
	unsigned long long before;
	enum rft_outcome got;
	int family = exe_cases[*row].family;
	enum rft_proto proto = exe_cases[*row].proto;

	exe_isolate(&e);
	before = received(&e.srv, PORT_OTHER, family, proto);
	got = rfp_exe_client(exe_cases[*row].use_copy ? e.copy : e.allowed, rft.cg, family, proto,
			     peer_addr(family), PORT_OTHER, exe_cases[*row].comm);
	snprintf(what, sizeof(what), "isolated: %s (comm %s) %s %s",
		 exe_cases[*row].use_copy ? "copy" : "allowed exe",
		 exe_cases[*row].comm ? exe_cases[*row].comm : "unchanged",
		 family == AF_INET6 ? "v6" : "v4", proto == RFT_TCP ? "tcp" : "udp");
	expect_delivery(&e.srv, family, proto, before, got, exe_cases[*row].want, what);

	exe_release(&e);
}

/* The allowed binary forks and execs: the same binary keeps the identity, another loses it. */
static void fork_exec_case(struct exe_env *e, bool exec_copy, enum rft_outcome want)
{
	char *argv[] = {e->allowed,
			RFP_HELPER_ARG,
			"forkexec",
			exec_copy ? e->copy : e->allowed,
			RFP_HELPER_ARG,
			"client",
			rft.dev_ns,
			"4",
			"tcp",
			RFT_PEER_IP4,
			"8002",
			"1500",
			NULL};
	unsigned long long before = received(&e->srv, PORT_OTHER, AF_INET, RFT_TCP);
	pid_t pid = rfp_spawn(rft.dev_ns, rft.cg, argv, NULL, NULL);
	int st;

	cr_assert_gt(pid, 0);
	st = rfp_wait(pid, 10000);
	expect_delivery(&e->srv, AF_INET, RFT_TCP, before,
			st >= 0 && st <= RFT_ERROR ? (enum rft_outcome)st : RFT_ERROR, want,
			exec_copy ? "allowed exe fork+exec of the copy"
				  : "allowed exe fork+exec of itself");
}

Test(procs, exe_rule_survives_exec_of_itself_only)
{
	static struct exe_env e;
	struct rft_result r;

	exe_isolate(&e);
	fork_exec_case(&e, false, RFT_OK);
	fork_exec_case(&e, true, RFT_EPERM);

	/* and the test binary itself (not allowed) */
	r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER,
		       CLIENT_TIMEOUT_MS);
	cr_expect_eq(r.outcome, RFT_EPERM, "non-allowed process: %s", rft_outcome_name(r.outcome));

	exe_release(&e);
}

/* Child cgroups of the test cgroup: "allowed" (the rule's), "allowed/sub", "sibling"; the rule
 * allowed, isolated, and a server in the peer. */
struct cg_env {
	char allowed[PATH_MAX], sub[PATH_MAX], sibling[PATH_MAX], rel[PATH_MAX];
	struct rft_server srv;
};

static void cg_isolate(struct cg_env *e)
{
	static const unsigned short ports[] = {PORT_OTHER};

	cr_assert_eq(rfp_cgroup_child("allowed", e->allowed, sizeof(e->allowed)), 0);
	cr_assert_eq(rfp_cgroup_child("allowed/sub", e->sub, sizeof(e->sub)), 0);
	cr_assert_eq(rfp_cgroup_child("sibling", e->sibling, sizeof(e->sibling)), 0);
	cr_assert_eq(rft_server_start(&e->srv, rft.peer_ns, NULL, ports, 1), 0);

	/* relative to the cgroup2 mount, as an administrator writes it */
	snprintf(e->rel, sizeof(e->rel), "%s/allowed", rft.cg + strlen(rft.cg2));
	rft_cli_ok(0, "allow", "add", "cgroup", e->rel, NULL);
	rft_cli_ok(0, "isolate", NULL);
}

enum cg_where { CG_ALLOWED, CG_SUB, CG_SIBLING, CG_ISOLATED };

static const struct {
	enum cg_where where;
	int family;
	enum rft_proto proto;
	enum rft_outcome want;
} cg_cases[] = {
    {CG_ALLOWED, AF_INET, RFT_TCP, RFT_OK},	{CG_ALLOWED, AF_INET6, RFT_TCP, RFT_OK},
    {CG_ALLOWED, AF_INET, RFT_UDP, RFT_OK},	{CG_ALLOWED, AF_INET6, RFT_UDP, RFT_OK},
    {CG_SUB, AF_INET, RFT_TCP, RFT_OK},		{CG_SUB, AF_INET6, RFT_TCP, RFT_OK},
    {CG_SUB, AF_INET, RFT_UDP, RFT_OK},		{CG_SUB, AF_INET6, RFT_UDP, RFT_OK},
    {CG_SIBLING, AF_INET, RFT_TCP, RFT_EPERM},	{CG_SIBLING, AF_INET6, RFT_TCP, RFT_EPERM},
    {CG_SIBLING, AF_INET, RFT_UDP, RFT_EPERM},	{CG_SIBLING, AF_INET6, RFT_UDP, RFT_EPERM},
    {CG_ISOLATED, AF_INET, RFT_TCP, RFT_EPERM}, {CG_ISOLATED, AF_INET6, RFT_TCP, RFT_EPERM},
    {CG_ISOLATED, AF_INET, RFT_UDP, RFT_EPERM}, {CG_ISOLATED, AF_INET6, RFT_UDP, RFT_EPERM},
};

RFT_TABLE_PARAMS(procs, cgroup_rule_covers_its_descendants_only, cg_cases)
ParameterizedTest(const size_t *row, procs, cgroup_rule_covers_its_descendants_only)
{
	static const char *const names[] = {"allowed", "allowed/sub", "sibling", "isolated"};
	static struct cg_env e;
	const char *cgs[4] = {e.allowed, e.sub, e.sibling, rft.cg};
	enum cg_where where = cg_cases[*row].where;
	int family = cg_cases[*row].family;
	enum rft_proto proto = cg_cases[*row].proto;
	char what[PATH_MAX + 256];
	unsigned long long before;
	struct rft_result r;

	cg_isolate(&e);
	before = received(&e.srv, PORT_OTHER, family, proto);
	r = rft_client(rft.dev_ns, cgs[where], family, proto, peer_addr(family), PORT_OTHER,
		       CLIENT_TIMEOUT_MS);
	snprintf(what, sizeof(what), "isolated, rule %s: process in %s, %s %s", e.rel, names[where],
		 family == AF_INET6 ? "v6" : "v4", proto == RFT_TCP ? "tcp" : "udp");
	expect_delivery(&e.srv, family, proto, before, r.outcome, cg_cases[*row].want, what);
	rft_cli_ok(0, "release", NULL);
}

/* Deleting the rule while isolated takes the allowance away; release gives everything back. */
Test(procs, cgroup_rule_deleted_or_released)
{
	static struct cg_env e;
	unsigned long long before;
	struct rft_result r;

	cg_isolate(&e);
	rft_cli_ok(0, "allow", "del", "cgroup", e.rel, NULL);
	before = received(&e.srv, PORT_OTHER, AF_INET, RFT_TCP);
	r = rft_client(rft.dev_ns, e.sub, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER,
		       CLIENT_TIMEOUT_MS);
	expect_delivery(&e.srv, AF_INET, RFT_TCP, before, r.outcome, RFT_EPERM,
			"after allow del cgroup: process in allowed/sub");
	rft_cli_ok(0, "release", NULL);
	before = received(&e.srv, PORT_OTHER, AF_INET6, RFT_TCP);
	r = rft_client(rft.dev_ns, e.sibling, AF_INET6, RFT_TCP, RFT_PEER_IP6, PORT_OTHER,
		       CLIENT_TIMEOUT_MS);
	expect_delivery(&e.srv, AF_INET6, RFT_TCP, before, r.outcome, RFT_OK,
			"after release: process in sibling");
}

Test(procs, cgroup_rule_for_isolated_cgroup_or_root_is_refused)
{
	static const unsigned short ports[] = {PORT_OTHER};
	char rel[PATH_MAX], *before, *after;
	const char *bad[4];
	struct rft_server srv;
	struct rft_result r;
	size_t i;

	snprintf(rel, sizeof(rel), "%s", rft.cg + strlen(rft.cg2));
	bad[0] = rel;	 /* the isolated cgroup, relative to the mount */
	bad[1] = rft.cg; /* the same, absolute */
	bad[2] = "/";	 /* the cgroup2 root */
	bad[3] = rft.cg2;
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	way_back();
	rft_cli_ok(0, "isolate", NULL);
	before = rfp_cli_out("allow", "list", "--json", NULL);

	for (i = 0; i < 4; i++) {
		char *out = NULL, *err = NULL;
		int st = rft_cli(&out, &err, "allow", "add", "cgroup", bad[i], NULL);

		cr_expect(st == 1 || st == 2, "allow add cgroup %s: exit %d, expected 1 or 2",
			  bad[i], st);
		cr_expect(err && strlen(err) > 10, "allow add cgroup %s: no message on stderr",
			  bad[i]);
		free(out);
		free(err);
	}
	after = rfp_cli_out("allow", "list", "--json", NULL);
	cr_expect_str_eq(after, before, "refused rules changed the allow-list");
	free(before);
	free(after);

	/* and nothing got through */
	cr_expect_eq(rft_status_isolated(), 1);
	r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER,
		       CLIENT_TIMEOUT_MS);
	cr_expect_eq(r.outcome, RFT_EPERM, "after refused cgroup rules: %s",
		     rft_outcome_name(r.outcome));
	rft_msleep(100);
	cr_expect_eq(received(&srv, PORT_OTHER, AF_INET, RFT_TCP), 0);
	rft_cli_ok(0, "release", NULL);
	r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER,
		       CLIENT_TIMEOUT_MS);
	cr_expect_eq(r.outcome, RFT_OK, "after release: %s", rft_outcome_name(r.outcome));
}

Test(procs, exe_socket_opened_before_isolate_lives_until_rule_deleted)
{
	static const unsigned short ports[] = {PORT_OTHER, PORT_OTHER2};
	static const int fams[] = {AF_INET, AF_INET6};
	char allowed[PATH_MAX];
	struct rfp_exe_conn ec[2];
	struct rft_conn other[2];
	unsigned long long before;
	struct rft_server srv;
	int f;

	cr_assert_eq(rfp_copy_self("rf-allowed", allowed, sizeof(allowed)), 0);
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	way_back();
	rft_cli_ok(0, "allow", "add", "exe", allowed, NULL);

	/* before isolate: the allowed exe and the test binary (not allowed) each hold a connection
	 */
	for (f = 0; f < 2; f++) {
		rfp_exe_conn_open(&ec[f], allowed, fams[f], PORT_OTHER);
		cr_assert_eq(rfp_exe_conn_echo(&ec[f]), RFT_PAYLOAD_LEN);
		cr_assert_eq(rft_conn_open(&other[f], rft.dev_ns, rft.cg, fams[f], RFT_TCP,
					   peer_addr(fams[f]), PORT_OTHER2, 2000),
			     0);
		cr_assert_eq(rft_conn_send(&other[f], 4), 4);
		cr_assert_eq(rft_conn_recv(&other[f], 2000), 4);
	}

	rft_cli_ok(0, "isolate", NULL);
	for (f = 0; f < 2; f++) {
		const char *v = fams[f] == AF_INET6 ? "v6" : "v4";

		cr_expect_eq(rfp_exe_conn_echo(&ec[f]), RFT_PAYLOAD_LEN,
			     "%s: the allowed exe's connection stopped at isolate", v);
		before = rft_server_stats(&srv, PORT_OTHER2, fams[f]).tcp_bytes;
		rft_conn_send(&other[f], 4);
		cr_expect_eq(rft_conn_recv(&other[f], RFT_DENY_WAIT_MS), 0,
			     "%s: the non-allowed connection still gets echoes", v);
		cr_expect_eq(rft_server_stats(&srv, PORT_OTHER2, fams[f]).tcp_bytes, before,
			     "%s: the non-allowed connection still delivers", v);
	}

	/* the mark is re-checked on every packet: deleting the rule cuts the socket */
	rft_cli_ok(0, "allow", "del", "exe", allowed, NULL);
	for (f = 0; f < 2; f++) {
		const char *v = fams[f] == AF_INET6 ? "v6" : "v4";

		before = rft_server_stats(&srv, PORT_OTHER, fams[f]).tcp_bytes;
		cr_expect_eq(rfp_exe_conn_echo(&ec[f]), 0,
			     "%s: the connection still works after allow del exe", v);
		cr_expect_eq(rft_server_stats(&srv, PORT_OTHER, fams[f]).tcp_bytes, before,
			     "%s: the peer received bytes after allow del exe", v);
	}
	rft_cli_ok(0, "release", NULL);
	for (f = 0; f < 2; f++) {
		rfp_exe_conn_close(&ec[f]);
		rft_conn_close(&other[f]);
	}
}

static pid_t start_listener(const char *exe, unsigned short port, int *out)
{
	char portbuf[8];
	char *argv[] = {(char *)exe, RFP_HELPER_ARG, "echo-server", portbuf, NULL};
	pid_t pid;

	snprintf(portbuf, sizeof(portbuf), "%u", port);
	pid = rfp_spawn(rft.dev_ns, rft.cg, argv, NULL, out);
	cr_assert_gt(pid, 0);
	cr_assert_eq(rfp_read_byte(*out, 5000), 'R', "%s: listener on %u did not start", exe, port);
	return pid;
}

/* Accepted connections reported by a listener ('A' bytes) since the last call. */
static int accepted(int out)
{
	int n = 0;

	while (rfp_read_byte(out, 0) == 'A')
		n++;
	return n;
}

Test(procs, listener_of_allowed_exe_accepts_while_isolated)
{
	static const int fams[] = {AF_INET, AF_INET6};
	char allowed[PATH_MAX], copy[PATH_MAX];
	int out_allowed, out_copy, f;
	struct rft_result r;

	cr_assert_eq(rfp_copy_self("rf-allowed", allowed, sizeof(allowed)), 0);
	cr_assert_eq(rfp_copy_self("rf-copy", copy, sizeof(copy)), 0);
	way_back();
	rft_cli_ok(0, "allow", "add", "exe", allowed, NULL);
	start_listener(allowed, PORT_LISTEN_ALLOWED, &out_allowed);
	start_listener(copy, PORT_LISTEN_COPY, &out_copy);

	/* not isolated: the peer reaches both */
	for (f = 0; f < 2; f++) {
		const char *dev = fams[f] == AF_INET6 ? RFT_DEV_IP6 : RFT_DEV_IP4;

		r = rft_client(rft.peer_ns, NULL, fams[f], RFT_TCP, dev, PORT_LISTEN_ALLOWED,
			       CLIENT_TIMEOUT_MS);
		cr_expect_eq(r.outcome, RFT_OK, "before isolate: allowed listener: %s",
			     rft_outcome_name(r.outcome));
		r = rft_client(rft.peer_ns, NULL, fams[f], RFT_TCP, dev, PORT_LISTEN_COPY,
			       CLIENT_TIMEOUT_MS);
		cr_expect_eq(r.outcome, RFT_OK, "before isolate: copy's listener: %s",
			     rft_outcome_name(r.outcome));
	}
	rft_msleep(50);
	cr_expect_eq(accepted(out_allowed), 2);
	cr_expect_eq(accepted(out_copy), 2);

	rft_cli_ok(0, "isolate", NULL);
	for (f = 0; f < 2; f++) {
		const char *dev = fams[f] == AF_INET6 ? RFT_DEV_IP6 : RFT_DEV_IP4;
		const char *v = fams[f] == AF_INET6 ? "v6" : "v4";

		r = rft_client(rft.peer_ns, NULL, fams[f], RFT_TCP, dev, PORT_LISTEN_ALLOWED,
			       CLIENT_TIMEOUT_MS);
		cr_expect_eq(r.outcome, RFT_OK,
			     "isolated, %s: the allowed exe's listener must accept and echo: %s "
			     "(errno %d, echoed %d)",
			     v, rft_outcome_name(r.outcome), r.err, r.echoed);
		r = rft_client(rft.peer_ns, NULL, fams[f], RFT_TCP, dev, PORT_LISTEN_COPY,
			       RFT_DENY_WAIT_MS);
		cr_expect_neq(r.outcome, RFT_OK, "isolated, %s: the copy's listener answered", v);
	}
	rft_msleep(50);
	cr_expect_eq(accepted(out_allowed), 2, "isolated: the allowed listener accepted the peer");
	cr_expect_eq(accepted(out_copy), 0, "isolated: the copy's listener accepted a connection");

	rft_cli_ok(0, "release", NULL);
	r = rft_client(rft.peer_ns, NULL, AF_INET, RFT_TCP, RFT_DEV_IP4, PORT_LISTEN_COPY,
		       CLIENT_TIMEOUT_MS);
	cr_expect_eq(r.outcome, RFT_OK, "after release: copy's listener: %s",
		     rft_outcome_name(r.outcome));
	close(out_allowed);
	close(out_copy);
}
