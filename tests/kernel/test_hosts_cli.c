// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host rules from the CLI's side (issue 24): the grammar refuses bad names with exit 2 and
 * changes nothing; ringfence looks the allowed names up itself at isolate, through the dns
 * setting's resolver (a responder in the peer namespace), writes the answers into rf_host_addr,
 * and allow list / status show them with their expiry; an address an application looked up
 * before isolation keeps working; deleting the rule removes its addresses.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include "rf_host.h"
#include "rf_proc.h"

TestSuite(hosts_cli, .init = rft_setup, .fini = rft_teardown, .timeout = 90);

#define MGMT	  "mgmt.example.com"
#define PORT_OK	  8443
#define PORT_DENY 8444

static void write_config(const char *text)
{
	FILE *f = fopen(rft.config, "w");

	cr_assert_not_null(f, "cannot write %s", rft.config);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* The peer answers for MGMT with its own addresses (TTL ttl); the dns setting names it. */
static void start_dns(struct rft_dns *d, unsigned int ttl)
{
	struct rft_dns_record recs[] = {
	    {MGMT, 1, RFT_PEER_IP4, ttl},
	    {MGMT, 28, RFT_PEER_IP6, ttl},
	    {"alias.example.com", 5, MGMT, ttl},
	};

	write_config("dns " RFT_PEER_IP4 "\npacket-guard off\n");
	cr_assert_eq(rft_dns_start(d, rft.peer_ns, recs, 3), 0, "DNS responder did not start");
}

/* The host rule `rule` in `allow list --json` (an object {rule, origin, addresses}); NULL when
 * absent. The caller releases *doc. */
static json_t *listed_host(const char *rule, json_t **doc)
{
	char *out = NULL;

	cr_assert_eq(rft_cli(&out, NULL, "allow", "list", "--json", NULL), 0);
	*doc = rft_json_load(out);
	free(out);
	cr_assert(json_is_array(*doc));
	return rft_json_find(*doc, "rule", rule);
}

/* The entry of address addr in a host rule object, NULL when not learned. */
static json_t *learned(json_t *host, const char *addr)
{
	json_t *addrs = rft_json_at(host, "addresses");

	cr_assert(json_is_array(addrs), "no addresses array");
	return rft_json_find(addrs, "address", addr);
}

/* rf_config.flags of the test's pins. */
static __u32 cfg_flags(void)
{
	struct rf_config cfg = {};
	char path[512];
	__u32 zero = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/rf_config", rft.pin_dir);
	fd = bpf_obj_get(path);
	cr_assert_geq(fd, 0, "rf_config not pinned");
	cr_assert_eq(bpf_map_lookup_elem(fd, &zero, &cfg), 0);
	close(fd);
	return cfg.flags;
}

/* ---- the grammar ------------------------------------------------------------------------- */

static const char *const bad_names[] = {
    "example..com", "-example.com",    "example-.com",	 "exa_mple.com",
    "*example.com", "a.*.example.com", "*.com",		 "*",
    "192.0.2.2",    "2001:db8::2",     "example.com/24", "",
};

Test(hosts_cli, bad_names_exit_2_and_change_nothing)
{
	char *before_rules = NULL, *before_status = NULL, *after = NULL, label[80], big[300];
	size_t i;

	rft_cli_ok(0, "allow", "add", "host", MGMT, "proto", "tcp", "port", "443", NULL);
	cr_assert_eq(rft_cli(&before_rules, NULL, "allow", "list", "--json", NULL), 0);
	cr_assert_eq(rft_cli(&before_status, NULL, "status", "--json", NULL), 0);
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		char *err = NULL;
		int ret = rft_cli(NULL, &err, "allow", "add", "host", bad_names[i], NULL);

		cr_expect_eq(ret, 2, "'host %s' exited %d, want 2 (%s)", bad_names[i], ret, err);
		/* "-example.com" is an option to the parser: refused as one, naming "-e" */
		cr_expect(err && (strstr(err, bad_names[i]) || !bad_names[i][0] ||
				  (bad_names[i][0] == '-' && strstr(err, "unknown option"))),
			  "'host %s': the message does not name it: %s", bad_names[i], err);
		free(err);
		ret = rft_cli(NULL, NULL, "allow", "del", "host", bad_names[i], NULL);
		cr_expect_eq(ret, 2, "del 'host %s' exited %d, want 2", bad_names[i], ret);
	}
	/* a label of 64 bytes and a name of 254 */
	memset(label, 'a', 64);
	label[64] = '\0';
	snprintf(big, sizeof(big), "%s.example.com", label);
	cr_expect_eq(rft_cli(NULL, NULL, "allow", "add", "host", big, NULL), 2, "64-byte label");
	memset(big, 'a', 254);
	for (i = 63; i < 254; i += 64)
		big[i] = '.';
	big[254] = '\0';
	cr_expect_eq(rft_cli(NULL, NULL, "allow", "add", "host", big, NULL), 2, "254 bytes");
	cr_expect_eq(rft_cli(NULL, NULL, "allow", "add", "host", MGMT, "port", "0", NULL), 2);
	cr_assert_eq(rft_cli(&after, NULL, "allow", "list", "--json", NULL), 0);
	cr_expect_str_eq(after, before_rules, "bad input changed the rules");
	free(after);
	cr_assert_eq(rft_cli(&after, NULL, "status", "--json", NULL), 0);
	cr_expect_str_eq(after, before_status, "bad input changed the status");
	free(after);
	free(before_rules);
	free(before_status);
}

/* A name is stored lowercased, without its trailing dot: the same rule whatever the case. */
Test(hosts_cli, names_compare_case_insensitively)
{
	json_t *doc;
	char *out = NULL;

	rft_cli_ok(0, "allow", "add", "host", "MGMT.Example.COM.", "proto", "tcp", NULL);
	cr_expect(cfg_flags() & RF_CFG_HOST_RULES, "a host rule, RF_CFG_HOST_RULES clear");
	cr_assert_eq(rft_cli(&out, NULL, "allow", "add", "host", MGMT, "proto", "tcp", NULL), 0);
	cr_expect(strstr(out, "already allowed"), "%s", out);
	free(out);
	cr_assert_not_null(listed_host("host " MGMT " proto tcp", &doc));
	cr_assert_eq(rft_json_count(doc, "rule", "host " MGMT " proto tcp"), 1);
	json_decref(doc);
	rft_cli_ok(0, "allow", "del", "host", "Mgmt.EXAMPLE.com", "proto", "tcp", NULL);
	cr_assert_null(listed_host("host " MGMT " proto tcp", &doc));
	json_decref(doc);
	cr_expect(!(cfg_flags() & RF_CFG_HOST_RULES), "no host rule, RF_CFG_HOST_RULES set");
}

/* ---- ringfence's own lookups and the listing ------------------------------------------ */

/*
 * Not isolated, nothing is looked up; isolate looks the exact names up (not the wildcard) and
 * allow list and status show the addresses with their expiry, in JSON and text.
 */
Test(hosts_cli, isolate_learns_and_lists_addresses)
{
	char *out = NULL, *err = NULL;
	json_t *doc, *host, *a4, *a6, *st;
	struct rft_dns dns;
	long long in;

	start_dns(&dns, 300);
	rft_cli_ok(0, "allow", "add", "host", MGMT, "proto", "tcp", "port", "8443", "dir", "out",
		   NULL);
	rft_cli_ok(0, "allow", "add", "host", "*.example.org", NULL);
	host = listed_host("host " MGMT " proto tcp port 8443 dir out", &doc);
	cr_assert_not_null(host, "host rule not listed");
	cr_expect_str_eq(rft_json_str_at(host, "origin"), "user");
	cr_expect_eq(json_array_size(rft_json_at(host, "addresses")), 0,
		     "addresses learned before isolation");
	json_decref(doc);
	cr_expect_eq(rft_dns_queries(&dns, MGMT), 0, "looked up before isolation");

	/* a host rule is a way back: isolate needs no --force */
	cr_assert_eq(rft_cli(NULL, &err, "isolate", NULL), 0, "isolate: %s", err);
	free(err);
	cr_expect_geq(rft_dns_queries(&dns, MGMT), 2, "no A and AAAA lookup at isolate");
	host = listed_host("host " MGMT " proto tcp port 8443 dir out", &doc);
	cr_assert_not_null(host);
	a4 = learned(host, RFT_PEER_IP4);
	a6 = learned(host, RFT_PEER_IP6);
	cr_assert_not_null(a4, "A answer not learned");
	cr_assert_not_null(a6, "AAAA answer not learned");
	in = rft_json_int_at(a4, "expires_in_s", -1);
	cr_expect(in > 240 && in <= 300, "expires in %lld s, TTL 300", in);
	cr_expect_eq(rft_json_bool_at(a4, "expired"), 0);
	cr_expect(rft_json_str_at(a4, "expires") && strchr(rft_json_str_at(a4, "expires"), 'T'));
	/* the wildcard cannot be looked up: no address, no query */
	host = rft_json_find(doc, "rule", "host *.example.org");
	cr_assert_not_null(host);
	cr_expect_eq(json_array_size(rft_json_at(host, "addresses")), 0);
	json_decref(doc);

	/* status --json carries the same rule objects */
	cr_assert_eq(rft_cli(&out, NULL, "status", "--json", NULL), 0);
	st = rft_json_load(out);
	host = rft_json_find(rft_json_at(st, "rules"), "rule",
			     "host " MGMT " proto tcp port 8443 dir out");
	cr_assert_not_null(host, "status --json: %s", out);
	cr_expect_not_null(learned(host, RFT_PEER_IP4));
	/* the programs' DNS counters (rf_stats_v2 36-39) */
	cr_expect_geq(rft_json_int_at(st, "counters.host_rules.queries", -1), 0, "%s", out);
	cr_expect_geq(rft_json_int_at(st, "counters.host_rules.not_learned", -1), 0, "%s", out);
	json_decref(st);
	free(out);
	/* and the text of both */
	cr_assert_eq(rft_cli(&out, NULL, "allow", "list", NULL), 0);
	cr_expect(strstr(out, "host " MGMT " proto tcp port 8443 dir out\n"), "%s", out);
	cr_expect(strstr(out, "    " RFT_PEER_IP4 " until "), "%s", out);
	cr_expect(strstr(out, "    " RFT_PEER_IP6 " until "), "%s", out);
	cr_expect(strstr(out, "host *.example.org\n    (no address learned)"), "%s", out);
	free(out);
	cr_assert_eq(rft_cli(&out, NULL, "status", NULL), 0);
	cr_expect(strstr(out, "    " RFT_PEER_IP4 " until "), "%s", out);
	cr_expect(strstr(out, "  host rules   "), "%s", out);
	free(out);
	rft_dns_stop(&dns);
}

/* A TTL below the minimum is learned for RF_HOST_TTL_MIN; deleting the rule forgets it. */
Test(hosts_cli, ttl_clamped_and_del_forgets)
{
	json_t *doc, *host;
	struct rft_dns dns;
	long long in;

	start_dns(&dns, 5);
	rft_cli_ok(0, "allow", "add", "host", MGMT, NULL);
	rft_cli_ok(0, "isolate", NULL);
	host = listed_host("host " MGMT, &doc);
	cr_assert_not_null(host);
	in = rft_json_int_at(learned(host, RFT_PEER_IP4), "expires_in_s", -1);
	cr_expect(in > RF_HOST_TTL_MIN - 10 && in <= RF_HOST_TTL_MIN, "TTL 5 s learned for %lld s",
		  in);
	json_decref(doc);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port", "1", NULL);
	rft_cli_ok(0, "allow", "del", "host", MGMT, NULL);
	cr_assert_null(listed_host("host " MGMT, &doc));
	json_decref(doc);
	/* its addresses are gone from the map */
	{
		char path[512];
		struct rf_addr_key key = {}, next;
		int fd;

		snprintf(path, sizeof(path), "%s/rf_host_addr", rft.pin_dir);
		fd = bpf_obj_get(path);
		cr_assert_geq(fd, 0, "rf_host_addr not pinned");
		cr_expect_neq(bpf_map_get_next_key(fd, NULL, &next), 0,
			      "rf_host_addr still holds an address after the rule's deletion");
		(void)key;
		close(fd);
	}
	rft_dns_stop(&dns);
}

/* The config file's host rules are applied and listed as such. */
Test(hosts_cli, config_host_rule)
{
	json_t *doc, *host;
	struct rft_dns dns;

	start_dns(&dns, 300);
	write_config("dns " RFT_PEER_IP4 "\npacket-guard off\nallow host " MGMT
		     " proto tcp port 8443 dir out\n");
	rft_cli_ok(0, "isolate", NULL);
	host = listed_host("host " MGMT " proto tcp port 8443 dir out", &doc);
	cr_assert_not_null(host);
	cr_expect_str_eq(rft_json_str_at(host, "origin"), "config");
	cr_expect_not_null(learned(host, RFT_PEER_IP4));
	json_decref(doc);
	/* a bad name in the file: refused as a whole, the rule applied before stays */
	write_config("dns " RFT_PEER_IP4 "\npacket-guard off\nallow host bad..name\n");
	rft_cli_ok(0, "load", NULL);
	cr_assert_not_null(listed_host("host " MGMT " proto tcp port 8443 dir out", &doc));
	json_decref(doc);
	rft_dns_stop(&dns);
}

/* A name holds 8 rules; the 9th is refused with a message saying why, the 8 stay. */
Test(hosts_cli, rules_per_name_full)
{
	char port[16], *err = NULL;
	json_t *doc;
	int p;

	for (p = 1; p <= 8; p++) {
		snprintf(port, sizeof(port), "%d", p);
		rft_cli_ok(0, "allow", "add", "host", MGMT, "port", port, NULL);
	}
	cr_assert_eq(rft_cli(NULL, &err, "allow", "add", "host", MGMT, "port", "9", NULL), 1);
	cr_expect(strstr(err, "already has 8 host rules"), "%s", err);
	free(err);
	listed_host("host " MGMT " port 8", &doc);
	cr_expect_eq(rft_json_count(doc, "rule", NULL), 8, "rules listed after the refusal");
	json_decref(doc);
}

/* rf_host_name full (another agent filled it): a new name is refused with exit 1, clearly. */
Test(hosts_cli, names_map_full)
{
	struct rf_host_val v = {.count = 1};
	struct rf_host_key k;
	char path[512], *err = NULL;
	int fd, i;

	rft_cli_ok(0, "load", NULL);
	snprintf(path, sizeof(path), "%s/rf_host_name", rft.pin_dir);
	fd = bpf_obj_get(path);
	cr_assert_geq(fd, 0, "rf_host_name not pinned");
	v.r[0].net.dir = RF_DIR_OUT;
	v.r[0].match = RF_HOST_EXACT;
	for (i = 0; i < RF_HOST_MAX_NAMES; i++) {
		memset(&k, 0, sizeof(k));
		snprintf((char *)k.name + 200, 40, "filler%d", i);
		v.r[0].id = (__u32)i + 1;
		cr_assert_eq(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0, "filler %d", i);
	}
	close(fd);
	cr_assert_eq(rft_cli(NULL, &err, "allow", "add", "host", MGMT, NULL), 1);
	cr_expect(strstr(err, "rf_host_name is full"), "%s", err);
	free(err);
}

/* Poll allow list until host rule `rule` has learned addr, for up to ms. */
static bool wait_learned(const char *rule, const char *addr, int ms)
{
	long end = rft_now_ms() + rft_scaled_ms(ms);
	json_t *doc, *host;
	bool got = false;

	while (!got && rft_now_ms() < end) {
		host = listed_host(rule, &doc);
		got = host && learned(host, addr);
		json_decref(doc);
		if (!got)
			rft_msleep(500);
	}
	return got;
}

/*
 * The agent looks the names up when it starts and then again at half the shortest TTL (60 s:
 * every 30 s), so an answer that changed is learned while isolated, with nobody asking DNS.
 */
Test(hosts_cli, agent_looks_up_again_at_half_the_ttl, .timeout = 120)
{
	struct rft_dns_record first[] = {{MGMT, 1, "192.0.2.77", 60}};
	struct rft_dns_record then[] = {{MGMT, 1, "192.0.2.78", 60}};
	struct rft_dns dns;
	json_t *doc, *host;
	pid_t agent;

	start_dns(&dns, 60);
	rft_cli_ok(0, "allow", "add", "host", MGMT, NULL);
	rft_cli_ok(0, "isolate", NULL);
	rft_dns_set(&dns, first, 1);
	agent = rfp_agent_start();
	cr_assert_gt(agent, 0, "agent did not start: %d", agent);
	cr_assert(wait_learned("host " MGMT, "192.0.2.77", 10000),
		  "the agent did not look the name up when it started");
	rft_dns_set(&dns, then, 1);
	cr_expect(wait_learned("host " MGMT, "192.0.2.78", 45000),
		  "the agent did not look the name up again within 45 s (TTL 60 s)");
	/* the earlier addresses stay until their own expiry */
	host = listed_host("host " MGMT, &doc);
	cr_expect_not_null(learned(host, "192.0.2.77"));
	cr_expect_not_null(learned(host, RFT_PEER_IP4));
	json_decref(doc);
	rfp_kill(agent);
	rft_dns_stop(&dns);
}

/* A saved host rule the map does not hold (removed behind ringfence's back, or refused by a
 * full map) is listed as not in force, never silently left out. */
Test(hosts_cli, saved_rule_missing_from_map_is_flagged)
{
	struct rf_host_key k = {}, next;
	char path[512], *out = NULL, *err = NULL;
	json_t *doc;
	int fd;

	rft_cli_ok(0, "allow", "add", "host", MGMT, "proto", "tcp", NULL);
	snprintf(path, sizeof(path), "%s/rf_host_name", rft.pin_dir);
	fd = bpf_obj_get(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bpf_map_get_next_key(fd, NULL, &next), 0);
	k = next;
	cr_assert_eq(bpf_map_delete_elem(fd, &k), 0);
	close(fd);
	cr_assert_eq(rft_cli(&out, NULL, "allow", "list", NULL), 0);
	cr_expect(strstr(out, "host " MGMT " proto tcp   (NOT in force"), "%s", out);
	free(out);
	cr_assert_eq(rft_cli(&out, &err, "allow", "list", "--json", NULL), 0);
	doc = rft_json_load(out);
	cr_expect_null(rft_json_find(doc, "rule", "host " MGMT " proto tcp"), "%s", out);
	cr_expect(strstr(err, "not in force"), "%s", err);
	json_decref(doc);
	free(out);
	free(err);
	/* the next command puts the saved rule back */
	rft_cli_ok(0, "load", NULL);
	cr_assert_not_null(listed_host("host " MGMT " proto tcp", &doc));
	json_decref(doc);
}

/* Is addr (text) in rf_dns_resolver? */
static bool resolver_listed(const char *addr)
{
	struct rf_addr_key k = {};
	struct rf_allow_val v;
	struct sockaddr_storage ss;
	socklen_t len;
	char path[512];
	bool found;
	int fd;

	cr_assert_eq(rft_sockaddr(&ss, &len, AF_INET6, addr, 53), 0, "%s", addr);
	memcpy(k.addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	snprintf(path, sizeof(path), "%s/rf_dns_resolver", rft.pin_dir);
	fd = bpf_obj_get(path);
	cr_assert_geq(fd, 0, "rf_dns_resolver not pinned");
	found = !bpf_map_lookup_elem(fd, &k, &v);
	close(fd);
	return found;
}

/*
 * rf_dns_resolver (whose answers may teach addresses) follows the dns setting; behind
 * systemd-resolved's stub its upstreams count too, and while isolated that list only shrinks.
 */
Test(hosts_cli, resolvers_map_follows_dns_setting)
{
	char resolved[PATH_MAX], envv[PATH_MAX + 32];
	char *const env[] = {envv, NULL};
	FILE *f;

	snprintf(resolved, sizeof(resolved), "%s/resolved.conf", rft.state_dir);
	snprintf(envv, sizeof(envv), "RINGFENCE_RESOLVED_CONF=%s", resolved);
	f = fopen(resolved, "w");
	cr_assert_not_null(f);
	fputs("nameserver 192.0.2.53\nnameserver 2001:db8::53\n", f);
	cr_assert_eq(fclose(f), 0);

	write_config("dns " RFT_PEER_IP4 ",2001:db8::2\npacket-guard off\n");
	cr_assert_eq(rfp_cli_env(env, NULL, NULL, "load", NULL), 0);
	cr_expect(resolver_listed(RFT_PEER_MAPPED));
	cr_expect(resolver_listed("2001:db8::2"));
	cr_expect(!resolver_listed("::ffff:192.0.2.53"), "an upstream without the stub");

	write_config("dns 127.0.0.53\npacket-guard off\n");
	cr_assert_eq(rfp_cli_env(env, NULL, NULL, "load", NULL), 0);
	cr_expect(resolver_listed("::ffff:127.0.0.53"));
	cr_expect(resolver_listed("::ffff:192.0.2.53"), "the stub's upstream");
	cr_expect(resolver_listed("2001:db8::53"), "the stub's IPv6 upstream");
	cr_expect(!resolver_listed(RFT_PEER_MAPPED), "a resolver no longer named stays");

	/* isolated: a new upstream (the file comes from DHCP) is not added; a gone one goes */
	rft_cli_ok(0, "allow", "add", "net", "203.0.113.10", "proto", "tcp", "port", "443", NULL);
	cr_assert_eq(rfp_cli_env(env, NULL, NULL, "isolate", NULL), 0);
	f = fopen(resolved, "w");
	cr_assert_not_null(f);
	fputs("nameserver 192.0.2.54\nnameserver 2001:db8::53\n", f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rfp_cli_env(env, NULL, NULL, "load", NULL), 0);
	cr_expect(!resolver_listed("::ffff:192.0.2.54"), "a new upstream added while isolated");
	cr_expect(!resolver_listed("::ffff:192.0.2.53"), "a gone upstream kept");
	cr_expect(resolver_listed("2001:db8::53"));
	cr_expect(resolver_listed("::ffff:127.0.0.53"));

	rft_cli_ok(0, "release", NULL);
	write_config("dns off\npacket-guard off\n");
	cr_assert_eq(rfp_cli_env(env, NULL, NULL, "load", NULL), 0);
	cr_expect(!resolver_listed("::ffff:127.0.0.53"), "dns off: no resolver");
	cr_expect(!resolver_listed("2001:db8::53"), "dns off: no upstream");
}

/* ---- the learned addresses in force (needs the kernel half: rf_host_addr in the verdicts) -- */

static void start_echo(struct rft_server *srv)
{
	static const unsigned short ports[] = {PORT_OK, PORT_DENY};

	cr_assert_eq(rft_server_start(srv, rft.peer_ns, NULL, ports, 2), 0);
}

static void expect_outcome(int family, const char *addr, unsigned short port, enum rft_outcome want)
{
	struct rft_result r =
	    rft_client(rft.dev_ns, rft.cg, family, RFT_TCP, addr, port, RFT_DENY_WAIT_MS);

	cr_expect_eq(r.outcome, want, "%s port %u: %s, want %s", addr, port,
		     rft_outcome_name(r.outcome), rft_outcome_name(want));
}

/*
 * An application resolved MGMT before isolation and keeps its cached address: isolate looked
 * the name up itself, so a connect to the address (no DNS query now: the responder is gone)
 * works on the rule's port, v4 and v6, and a connection opened before isolation keeps moving
 * bytes; another port stays blocked and the peer receives nothing there.
 */
Test(hosts_cli, cached_address_works_after_isolate)
{
	struct rft_server srv;
	struct rft_dns dns;
	struct rft_conn conn;

	start_dns(&dns, 300);
	start_echo(&srv);
	rft_cli_ok(0, "allow", "add", "host", MGMT, "proto", "tcp", "port", "8443", "dir", "out",
		   NULL);
	cr_assert_eq(
	    rft_conn_open(&conn, rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OK, 2000),
	    0);
	rft_cli_ok(0, "isolate", NULL);
	rft_dns_stop(&dns); /* from now on nothing can be learned from an answer */
	expect_outcome(AF_INET, RFT_PEER_IP4, PORT_OK, RFT_OK);
	expect_outcome(AF_INET6, RFT_PEER_IP6, PORT_OK, RFT_OK);
	expect_outcome(AF_INET6, RFT_PEER_MAPPED, PORT_OK, RFT_OK);
	expect_outcome(AF_INET, RFT_PEER_IP4, PORT_DENY, RFT_EPERM);
	expect_outcome(AF_INET6, RFT_PEER_IP6, PORT_DENY, RFT_EPERM);
	cr_expect_eq(rft_server_stats(&srv, PORT_DENY, AF_INET).conns, 0);
	cr_expect_eq(rft_server_stats(&srv, PORT_DENY, AF_INET6).conns, 0);
	cr_expect_eq(rft_conn_send(&conn, 8), 8);
	cr_expect_eq(rft_conn_recv(&conn, 2000), 8, "the open connection was cut");
	/* the rule removed: its addresses go, new connects are refused */
	rft_cli_ok(0, "allow", "add", "net", "203.0.113.10", "proto", "tcp", "port", "443", NULL);
	rft_cli_ok(0, "allow", "del", "host", MGMT, "proto", "tcp", "port", "8443", "dir", "out",
		   NULL);
	expect_outcome(AF_INET, RFT_PEER_IP4, PORT_OK, RFT_EPERM);
	expect_outcome(AF_INET6, RFT_PEER_IP6, PORT_OK, RFT_EPERM);
	rft_conn_close(&conn);
	rft_server_stop(&srv);
}

/* The deny pair: with no resolver to ask (dns off), isolate learns nothing and the cached
 * address is blocked like any other. */
Test(hosts_cli, cached_address_blocked_without_resolver)
{
	struct rft_server srv;
	char *err = NULL;

	start_echo(&srv);
	rft_cli_ok(0, "allow", "add", "host", MGMT, "proto", "tcp", "port", "8443", "dir", "out",
		   NULL);
	cr_assert_eq(rft_cli(NULL, &err, "isolate", NULL), 0);
	cr_expect(strstr(err, "no resolver"), "isolate does not say nothing was looked up: %s",
		  err);
	free(err);
	expect_outcome(AF_INET, RFT_PEER_IP4, PORT_OK, RFT_EPERM);
	expect_outcome(AF_INET6, RFT_PEER_IP6, PORT_OK, RFT_EPERM);
	cr_expect_eq(rft_server_stats(&srv, PORT_OK, AF_INET).conns, 0);
	cr_expect_eq(rft_server_stats(&srv, PORT_OK, AF_INET6).conns, 0);
	rft_server_stop(&srv);
}
