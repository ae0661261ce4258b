// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host rules in the kernel (issue 24): a DNS responder in the peer namespace, a client in the
 * test cgroup that looks a name up and connects to the address it got at once. The answer must
 * admit its address before the client reads it; anything that is not the answer to a query the
 * target sent for an allowed name must admit nothing. Each allow has its deny twin.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include "rf_test.h"

#define PORT_RULE  8443 /* the host rules' port */
#define PORT_OTHER 8444
#define TIMEOUT_MS 1500

/* addresses the names resolve to, all on the peer */
#define ADDR_X	"192.0.2.10"
#define ADDR_Y	"192.0.2.11"
#define ADDR_Z	"192.0.2.12"
#define ADDR_W	"192.0.2.13"
#define ADDR_S	"192.0.2.3" /* a second address of the peer: not a resolver */
#define ADDR_X6 "2001:db8::10"

static struct rft_resolver dns;
static struct rft_server echo;

static void write_config(const char *text)
{
	FILE *f = fopen(rft.config, "w");

	cr_assert_not_null(f, "cannot write %s", rft.config);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void peer_addr(const char *addr)
{
	char pif[16], cidr[64];
	/* IPv6: deprecated, so that answers keep leaving from the resolver's own address */
	char *argv[] = {"ip", "addr", "add", cidr, "dev", pif, "nodad", "preferred_lft", "0", NULL};

	snprintf(pif, sizeof(pif), "rft%dp", (int)rft.owner % 10000000);
	snprintf(cidr, sizeof(cidr), "%s/%d", addr, strchr(addr, ':') ? 128 : 32);
	if (!strchr(addr, ':'))
		argv[6] = NULL;
	cr_assert_eq(rft_exec(rft.peer_ns, argv, NULL, NULL), 0, "ip addr add %s", cidr);
}

/*
 * Peer: the resolver (192.0.2.2, 2001:db8::2) and echo servers on every address; the target
 * isolated with the dns built-in for that resolver, and host rules on.
 */
static void hosts_setup(void)
{
	static const unsigned short ports[] = {PORT_RULE, PORT_OTHER};

	rft_setup();
	peer_addr(ADDR_X);
	peer_addr(ADDR_Y);
	peer_addr(ADDR_Z);
	peer_addr(ADDR_W);
	peer_addr(ADDR_S);
	peer_addr(ADDR_X6);
	cr_assert_eq(rft_resolver_start(&dns, rft.peer_ns), 0);
	cr_assert_eq(rft_server_start(&echo, rft.peer_ns, NULL, ports, 2), 0);
	write_config("packet-guard off\ndns " RFT_PEER_IP4 "," RFT_PEER_IP6 "\n");
	rft_cli_ok(0, "isolate", "--force", NULL);
}

static void hosts_teardown(void)
{
	rft_resolver_stop(&dns);
	rft_teardown();
}

TestSuite(hosts, .init = hosts_setup, .fini = hosts_teardown, .timeout = 90);

/*
 * `allow add host NAME proto tcp port 8443` while isolated: ringfence looks the name up itself at
 * once, so every test adds its rules before the responder knows the name (NXDOMAIN): what is
 * learned after that comes from the programs. The rule's id in the maps is id.
 */
static void rule(const char *name, unsigned int id)
{
	struct rf_host_key k = rft_host_key(name[0] == '*' ? name + 2 : name);
	struct rf_host_val v;
	char path[300];
	int fd;

	rft_cli_ok(0, "allow", "add", "host", name, "proto", "tcp", "port", "8443", "dir", "out",
		   NULL);
	snprintf(path, sizeof(path), "%s/rf_host_name", rft.pin_dir);
	fd = bpf_obj_get(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bpf_map_lookup_elem(fd, &k, &v), 0, "%s is not in rf_host_name", name);
	close(fd);
	cr_assert_eq(v.r[v.count - 1].id, id, "rule %s has id %u", name, v.r[v.count - 1].id);
}

static unsigned int tcp_received(const char *addr, unsigned short port)
{
	struct rft_port_stats st =
	    rft_server_stats(&echo, port, strchr(addr, ':') ? AF_INET6 : AF_INET);

	return st.conns;
}

/* A connect from a fresh child in the target: allowed (echoed) or EPERM, and the peer agrees. */
static void expect_connect(const char *addr, unsigned short port, bool allow, const char *what)
{
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	unsigned int before = tcp_received(addr, port);
	struct rft_result r =
	    rft_client(rft.dev_ns, rft.cg, family, RFT_TCP, addr, port, TIMEOUT_MS);

	cr_expect_eq(r.outcome, allow ? RFT_OK : RFT_EPERM, "%s: %s port %u: got %s (errno %d)",
		     what, addr, port, rft_outcome_name(r.outcome), r.err);
	if (!allow)
		rft_msleep(100);
	if (allow)
		cr_expect_gt(tcp_received(addr, port), before, "%s: the peer counted nothing",
			     what);
	else
		cr_expect_eq(tcp_received(addr, port), before, "%s: denied but the peer got it",
			     what);
}

/* Look name up from the target through resolver, then connect to its first address at once. */
static struct rft_lookup lookup(const char *resolver, const char *name, unsigned short type,
				unsigned short port)
{
	int family = strchr(resolver, ':') ? AF_INET6 : AF_INET;

	return rft_dns_lookup(rft.dev_ns, rft.cg, family, resolver, name, type, port, TIMEOUT_MS);
}

static void expect_lookup_connects(const char *resolver, const char *name, unsigned short type,
				   const char *want_addr)
{
	struct rft_lookup l = lookup(resolver, name, type, PORT_RULE);

	cr_assert(l.answered, "%s: no answer", name);
	cr_assert_str_eq(l.addr, want_addr, "%s: answered %s", name, l.addr);
	cr_expect_eq(l.conn.outcome, RFT_OK,
		     "%s: the first connect to %s after the lookup: %s (%d)", name, want_addr,
		     rft_outcome_name(l.conn.outcome), l.conn.err);
}

Test(hosts, allowed_name_admits_its_address_for_its_port_only)
{
	rule("mgmt.example.com", 1);
	rft_resolver_set(&dns, "mgmt.example.com", RFT_DNS_A, ADDR_X, 300);
	expect_connect(ADDR_X, PORT_RULE, false, "before any lookup");
	expect_lookup_connects(RFT_PEER_IP4, "Mgmt.Example.COM", RFT_DNS_A, ADDR_X);
	expect_connect(ADDR_X, PORT_RULE, true, "again after the lookup");
	expect_connect(ADDR_X, PORT_OTHER, false, "another port");
	cr_expect_geq(rft_stat(RF_STAT_DNS_LEARNED), 1);
}

Test(hosts, a_changed_answer_admits_the_new_address)
{
	rule("mgmt.example.com", 1);
	rft_resolver_set(&dns, "mgmt.example.com", RFT_DNS_A, ADDR_X, 300);
	expect_lookup_connects(RFT_PEER_IP4, "mgmt.example.com", RFT_DNS_A, ADDR_X);
	expect_connect(ADDR_Y, PORT_RULE, false, "Y before it is an answer");
	rft_resolver_set(&dns, "mgmt.example.com", RFT_DNS_A, ADDR_Y, 300);
	expect_lookup_connects(RFT_PEER_IP4, "mgmt.example.com", RFT_DNS_A, ADDR_Y);
}

Test(hosts, a_name_not_allowed_admits_nothing)
{
	struct rft_lookup l;

	rule("mgmt.example.com", 1);
	rft_resolver_set(&dns, "other.example.com", RFT_DNS_A, ADDR_Z, 300);
	l = lookup(RFT_PEER_IP4, "other.example.com", RFT_DNS_A, PORT_RULE);
	cr_assert(l.answered && !strcmp(l.addr, ADDR_Z), "the resolver answered %s", l.addr);
	cr_expect_eq(l.conn.outcome, RFT_EPERM, "Z after its lookup: %s",
		     rft_outcome_name(l.conn.outcome));
	expect_connect(ADDR_Z, PORT_RULE, false, "Z later");
}

Test(hosts, forged_answers_admit_nothing)
{
	struct rft_lookup l;

	rule("mgmt.example.com", 1);
	rft_resolver_set(&dns, "mgmt.example.com", RFT_DNS_A, ADDR_X, 300);
	/* the answer carries another transaction id */
	dns.ctl->txid_delta = 1;
	l = lookup(RFT_PEER_IP4, "mgmt.example.com", RFT_DNS_A, 0);
	cr_assert_not(l.answered, "the client took a wrong-txid answer");
	expect_connect(ADDR_X, PORT_RULE, false, "after a wrong-txid answer");
	/* the answer comes from another address than the resolver asked */
	dns.ctl->txid_delta = 0;
	snprintf(dns.ctl->from4, sizeof(dns.ctl->from4), "%s", ADDR_S);
	l = lookup(RFT_PEER_IP4, "mgmt.example.com", RFT_DNS_A, 0);
	expect_connect(ADDR_X, PORT_RULE, false, "after an answer from another source");
	/* an answer nobody asked for, to a port a socket of the target listens on */
	dns.ctl->from4[0] = 0;
	{
		int ctl, fd;
		pid_t pid = rft_fork_in(rft.dev_ns, rft.cg, &ctl);

		cr_assert_geq(pid, 0);
		if (pid == 0) {
			fd = rft_listen(AF_INET, SOCK_DGRAM, 5300);
			rft_ready(ctl, fd < 0 ? -fd : 0);
			pause();
			_exit(0);
		}
		cr_assert_eq(rft_ready_wait(ctl), 0);
		cr_assert_eq(rft_dns_send_answer(rft.peer_ns, AF_INET, RFT_DEV_IP4, 5300, 0x4242,
						 "mgmt.example.com", RFT_DNS_A, ADDR_X),
			     0);
		rft_msleep(200);
		rft_child_close(&pid, &ctl);
	}
	expect_connect(ADDR_X, PORT_RULE, false, "after an unsolicited answer");
	cr_expect_eq(rft_stat(RF_STAT_DNS_LEARNED), 0, "something was learned");
	/* the twin: the genuine answer admits */
	expect_lookup_connects(RFT_PEER_IP4, "mgmt.example.com", RFT_DNS_A, ADDR_X);
}

Test(hosts, wildcard_matches_names_below_not_the_domain)
{
	struct rft_lookup l;

	rule("*.example.net", 1);
	rft_resolver_set(&dns, "a.example.net", RFT_DNS_A, ADDR_X, 300);
	rft_resolver_set(&dns, "b.a.example.net", RFT_DNS_A, ADDR_Y, 300);
	rft_resolver_set(&dns, "example.net", RFT_DNS_A, ADDR_Z, 300);
	rft_resolver_set(&dns, "a.example.org", RFT_DNS_A, ADDR_W, 300);
	expect_lookup_connects(RFT_PEER_IP4, "a.example.net", RFT_DNS_A, ADDR_X);
	expect_lookup_connects(RFT_PEER_IP4, "b.A.example.net", RFT_DNS_A, ADDR_Y);
	l = lookup(RFT_PEER_IP4, "example.net", RFT_DNS_A, PORT_RULE);
	cr_assert(l.answered && !strcmp(l.addr, ADDR_Z));
	cr_expect_eq(l.conn.outcome, RFT_EPERM, "the bare domain: %s",
		     rft_outcome_name(l.conn.outcome));
	l = lookup(RFT_PEER_IP4, "a.example.org", RFT_DNS_A, PORT_RULE);
	cr_assert(l.answered && !strcmp(l.addr, ADDR_W));
	cr_expect_eq(l.conn.outcome, RFT_EPERM, "another domain: %s",
		     rft_outcome_name(l.conn.outcome));
}

Test(hosts, cname_chain_admits_the_address_at_its_end)
{
	rule("mgmt.example.com", 1);
	rft_resolver_set(&dns, "mgmt.example.com", RFT_DNS_CNAME, "edge.cdn.example", 300);
	rft_resolver_set(&dns, "edge.cdn.example", RFT_DNS_CNAME, "e7.edge.cdn.example", 300);
	rft_resolver_set(&dns, "e7.edge.cdn.example", RFT_DNS_A, ADDR_X, 300);
	expect_lookup_connects(RFT_PEER_IP4, "mgmt.example.com", RFT_DNS_A, ADDR_X);
	/* the twin: the chain's end looked up on its own is not an allowed name */
	rft_resolver_set(&dns, "e7.edge.cdn.example", RFT_DNS_A, ADDR_Y, 300);
	{
		struct rft_lookup l =
		    lookup(RFT_PEER_IP4, "e7.edge.cdn.example", RFT_DNS_A, PORT_RULE);

		cr_assert(l.answered && !strcmp(l.addr, ADDR_Y));
		cr_expect_eq(l.conn.outcome, RFT_EPERM, "%s", rft_outcome_name(l.conn.outcome));
	}
}

Test(hosts, aaaa_answer_admits_ipv6)
{
	rule("mgmt6.example.com", 1);
	rft_resolver_set(&dns, "mgmt6.example.com", RFT_DNS_AAAA, ADDR_X6, 300);
	expect_connect(ADDR_X6, PORT_RULE, false, "before any lookup");
	expect_lookup_connects(RFT_PEER_IP6, "mgmt6.example.com", RFT_DNS_AAAA, ADDR_X6);
	expect_connect(ADDR_X6, PORT_OTHER, false, "another port");
}

Test(hosts, expiry_blocks_new_connections_not_established_ones)
{
	struct rft_conn c;
	char *out = NULL;

	rule("mgmt.example.com", 1);
	rft_resolver_set(&dns, "mgmt.example.com", RFT_DNS_A, ADDR_X, 300);
	expect_lookup_connects(RFT_PEER_IP4, "mgmt.example.com", RFT_DNS_A, ADDR_X);
	cr_assert_eq(
	    rft_conn_open(&c, rft.dev_ns, rft.cg, AF_INET, RFT_TCP, ADDR_X, PORT_RULE, TIMEOUT_MS),
	    0);
	cr_assert_eq(rft_conn_send(&c, 100), 100);
	cr_assert_eq(rft_conn_recv(&c, TIMEOUT_MS), 100);
	/* the TTL runs out (written the way the agent's clock would find it) */
	cr_assert_eq(rft_host_addr_expire(ADDR_X), 0);
	expect_connect(ADDR_X, PORT_RULE, false, "a new connection after expiry");
	cr_expect_eq(rft_conn_send(&c, 100), 100, "the established one cannot send");
	cr_expect_eq(rft_conn_recv(&c, TIMEOUT_MS), 100, "the established one got no echo");
	cr_assert_geq(rft_server_push(&echo), 1);
	cr_expect_gt(rft_conn_recv(&c, TIMEOUT_MS), 0, "the server's push did not arrive");
	rft_conn_close(&c);
	/* the refused attempt says why */
	cr_assert_eq(rft_cli(&out, NULL, "--json", "events", NULL), 0);
	cr_expect(out && strstr(out, "\"host_expired\""), "no host_expired event in %s", out);
	free(out);
	/* a new answer admits it again */
	expect_lookup_connects(RFT_PEER_IP4, "mgmt.example.com", RFT_DNS_A, ADDR_X);
}

Test(hosts, full_entries_admit_nothing_and_say_so)
{
	struct rf_host_addr_val v = {0};
	struct rft_lookup l;
	char *out = NULL;
	unsigned int i;

	rule("mgmt.example.com", 1);
	rft_resolver_set(&dns, "mgmt.example.com", RFT_DNS_A, ADDR_X, 300);
	/* X holds the entries of 8 other rules, none expired */
	v.count = RF_HOST_ADDR_ENTRIES;
	for (i = 0; i < RF_HOST_ADDR_ENTRIES; i++) {
		v.e[i].net.proto = RF_PROTO_UDP;
		v.e[i].net.dir = RF_DIR_OUT;
		v.e[i].net.port_lo = v.e[i].net.port_hi = 9;
		v.e[i].rule_id = 100 + i;
		v.e[i].expires_ns = ~0ULL;
	}
	cr_assert_eq(rft_host_addr_put(ADDR_X, &v), 0);
	l = lookup(RFT_PEER_IP4, "mgmt.example.com", RFT_DNS_A, PORT_RULE);
	cr_assert(l.answered);
	cr_expect_eq(l.conn.outcome, RFT_EPERM, "%s", rft_outcome_name(l.conn.outcome));
	cr_expect_eq(rft_stat(RF_STAT_DNS_FULL), 1);
	cr_assert_eq(rft_cli(&out, NULL, "--json", "events", NULL), 0);
	cr_expect(out && strstr(out, "\"host_full\""), "no host_full event in %s", out);
	free(out);
	/* the twin: one entry expired makes room */
	v.e[3].expires_ns = 1;
	cr_assert_eq(rft_host_addr_put(ADDR_X, &v), 0);
	expect_lookup_connects(RFT_PEER_IP4, "mgmt.example.com", RFT_DNS_A, ADDR_X);
}

/*
 * systemd-resolved's setup: the application asks the stub on 127.0.0.53 (over lo), the stub
 * (here outside the target) asks upstream. Only the stub is a resolver of the map: the answer
 * on lo is what admits.
 */
Test(hosts, local_stub_resolver_on_loopback)
{
	struct rft_lookup l;

	rule("mgmt.example.com", 1);
	rft_resolver_set(&dns, "mgmt.example.com", RFT_DNS_A, ADDR_X, 300);
	rft_resolver_set(&dns, "other.example.com", RFT_DNS_A, ADDR_Z, 300);
	cr_assert_gt(rft_dns_stub_start(rft.dev_ns, NULL, "127.0.0.53", RFT_PEER_IP4), 0);
	{
		struct rf_addr_key k = {0};
		char path[300];
		int fd;

		/* upstream is not a resolver here: only the stub's answers may admit */
		snprintf(path, sizeof(path), "%s/rf_dns_resolver", rft.pin_dir);
		fd = bpf_obj_get(path);
		cr_assert_geq(fd, 0);
		k.addr[10] = k.addr[11] = 0xff;
		inet_pton(AF_INET, RFT_PEER_IP4, k.addr + 12);
		cr_assert_eq(bpf_map_delete_elem(fd, &k), 0);
		close(fd);
	}
	cr_assert_eq(rft_dns_resolver_add("127.0.0.53"), 0);
	expect_connect(ADDR_X, PORT_RULE, false, "before any lookup");
	expect_lookup_connects("127.0.0.53", "mgmt.example.com", RFT_DNS_A, ADDR_X);
	l = lookup("127.0.0.53", "other.example.com", RFT_DNS_A, PORT_RULE);
	cr_assert(l.answered && !strcmp(l.addr, ADDR_Z));
	cr_expect_eq(l.conn.outcome, RFT_EPERM, "%s", rft_outcome_name(l.conn.outcome));
}

Test(hosts, audit_mode_learns_too)
{
	struct rf_host_addr_val v;

	rule("mgmt.example.com", 1);
	rft_cli_ok(0, "release", NULL);
	/* the name has no address yet when isolate looks it up itself (dnsu): only the answer
	 * below can teach ADDR_X */
	rft_cli_ok(0, "isolate", "--audit", NULL);
	rft_resolver_set(&dns, "mgmt.example.com", RFT_DNS_A, ADDR_X, 300);
	cr_assert_eq(rft_host_addr_get(ADDR_X, &v), -ENOENT);
	cr_assert(lookup(RFT_PEER_IP4, "mgmt.example.com", RFT_DNS_A, 0).answered);
	cr_assert_eq(rft_host_addr_get(ADDR_X, &v), 0, "audit mode learned nothing");
	cr_expect_eq(v.e[0].rule_id, 1);
	cr_expect_eq(v.e[0].net.port_lo, PORT_RULE);
}
