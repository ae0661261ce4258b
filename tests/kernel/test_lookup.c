// SPDX-License-Identifier: GPL-2.0-only
/*
 * The destination lookup by hash (bpf/lookup.bpf.h, issue 25): rules at several prefix lengths,
 * overlapping prefixes, deletes, the trie's fallback when another writer changes rf_allow_net
 * (docs/ABI.md's bpftool recipe), too many lengths, and the 262,144-prefix capacity. Each case
 * also checks that rf_net_sync says which structure decided, so the verdicts are the index's
 * (or the trie's) and not the other's by accident.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include "rf_test.h"
#include "rf_proc.h"
#include "ringfence.h"

#define PORT_A 443
#define PORT_B 8443
#define PORT_C 8444

TestSuite(lookup, .init = rft_setup, .fini = rft_teardown, .timeout = 120);

static int pinned(const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", rft.pin_dir, name);
	fd = bpf_obj_get(path);
	cr_assert_geq(fd, 0, "%s is not pinned: %s", path, strerror(errno));
	return fd;
}

static struct rf_net_sync sync_now(void)
{
	struct rf_net_sync s = {};
	__u32 zero = 0;
	int fd = pinned("rf_net_sync");

	cr_assert_eq(bpf_map_lookup_elem(fd, &zero, &s), 0, "rf_net_sync: %s", strerror(errno));
	close(fd);
	return s;
}

/* The index is in sync and its length list holds plen. */
static void expect_indexed(__u32 plen, const char *phase)
{
	struct rf_net_sync s = sync_now();
	__u32 i;

	cr_expect_eq(s.state, RF_NET_SYNC_VALID, "%s: the index is not in sync (state %#x)", phase,
		     s.state);
	for (i = 0; i < s.nlens && i < RF_NET_FAST_LENS; i++)
		if (s.lens[i] == plen)
			return;
	cr_expect_fail("%s: prefix length %u is not in the index's list", phase, plen);
}

static void expect(const struct rft_server *srv, int family, const char *addr, unsigned short port,
		   enum rft_outcome want, const char *phase)
{
	struct rft_port_stats before = rft_server_stats(srv, port, family), after;
	struct rft_result r = rft_client(rft.dev_ns, rft.cg, family, RFT_TCP, addr, port, 1500);

	cr_expect_eq(r.outcome, want, "%s: tcp %s port %u: expected %s, got %s (errno %d)", phase,
		     addr, port, rft_outcome_name(want), rft_outcome_name(r.outcome), r.err);
	after = rft_server_stats(srv, port, family);
	if (want == RFT_OK)
		cr_expect_gt(after.conns, before.conns, "%s: peer saw no connection", phase);
	else
		cr_expect_eq(after.conns + after.tcp_bytes, before.conns + before.tcp_bytes,
			     "%s: denied but the peer received something", phase);
}

static void rule(const char *op, const char *cidr, unsigned short port, const char *dir)
{
	char p[8];

	snprintf(p, sizeof(p), "%u", port);
	rft_cli_ok(0, "allow", op, "net", cidr, "proto", "tcp", "port", p, "dir", dir, NULL);
}

static struct rft_server serve(void)
{
	static const unsigned short ports[] = {PORT_A, PORT_B, PORT_C};
	struct rft_server srv;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 3), 0);
	return srv;
}

/* A prefix covering the peer, one beside it of the same length, and the key length. */
struct len_case {
	const char *cover, *beside;
	__u32 plen;
};

static const struct len_case v4_lens[] = {
    {"192.0.2.2/32", "192.0.2.3/32", 128},
    {"192.0.2.0/24", "192.0.3.0/24", 120},
    {"192.0.0.0/16", "192.1.0.0/16", 112},
    {"192.0.0.0/9", "192.128.0.0/9", 105},
};
static const struct len_case v6_lens[] = {
    {"2001:db8::2/128", "2001:db8::3/128", 128},
    {"2001:db8::/64", "2001:db8:0:1::/64", 64},
    {"2001:db8::/48", "2001:db8:1::/48", 48},
    {"2001:db8::/32", "2001:db9::/32", 32},
    {"2000::/7", "2200::/7", 7},
};

/*
 * One length at a time, nothing else covering the peer: the covering rule allows its port, the
 * rule beside it (the other port) allows nothing here, and deleting the covering rule denies at
 * once. The first rule of each length is a "/N inside nothing else".
 */
static void each_length(const struct len_case *c, size_t n, int family, const char *peer)
{
	struct rft_server srv = serve();
	char phase[128];
	size_t i;

	rft_cli_ok(0, "isolate", "--force", NULL);
	for (i = 0; i < n; i++) {
		snprintf(phase, sizeof(phase), "%s", c[i].cover);
		rule("add", c[i].cover, PORT_A, "out");
		rule("add", c[i].beside, PORT_B, "out");
		expect_indexed(c[i].plen, phase);
		expect(&srv, family, peer, PORT_A, RFT_OK, phase);
		expect(&srv, family, peer, PORT_B, RFT_EPERM, phase);
		expect(&srv, family, peer, PORT_C, RFT_EPERM, phase);
		rule("del", c[i].cover, PORT_A, "out");
		snprintf(phase, sizeof(phase), "%s deleted", c[i].cover);
		expect(&srv, family, peer, PORT_A, RFT_EPERM, phase);
		rule("del", c[i].beside, PORT_B, "out");
	}
	rft_cli_ok(0, "release", NULL);
	rft_server_stop(&srv);
}

Test(lookup, each_prefix_length_v4)
{
	each_length(v4_lens, sizeof(v4_lens) / sizeof(v4_lens[0]), AF_INET, RFT_PEER_IP4);
}

Test(lookup, each_prefix_length_v6)
{
	each_length(v6_lens, sizeof(v6_lens) / sizeof(v6_lens[0]), AF_INET6, RFT_PEER_IP6);
}

/*
 * Nested rules: the longest covering one (an inbound-only rule) allows nothing outbound, so the
 * lookup goes on to the shorter ones, each of which allows its own port; a port none of them
 * names is denied. Deleting the middle one denies its port and keeps the others.
 */
static void nested(int family, const char *peer, const char *host, const char *mid,
		   const char *wide)
{
	struct rft_server srv = serve();

	rule("add", host, PORT_C, "in");
	rule("add", mid, PORT_A, "out");
	rule("add", wide, PORT_B, "out");
	rft_cli_ok(0, "isolate", "--force", NULL);
	expect_indexed(family == AF_INET ? 128 : 128, "nested");
	expect(&srv, family, peer, PORT_A, RFT_OK, "nested, the middle rule's port");
	expect(&srv, family, peer, PORT_B, RFT_OK, "nested, the widest rule's port");
	expect(&srv, family, peer, PORT_C, RFT_EPERM, "nested, only an inbound rule's port");
	rule("del", mid, PORT_A, "out");
	expect(&srv, family, peer, PORT_A, RFT_EPERM, "middle rule deleted");
	expect(&srv, family, peer, PORT_B, RFT_OK, "middle rule deleted, the widest's port");
	rft_cli_ok(0, "release", NULL);
	rft_server_stop(&srv);
}

Test(lookup, nested_prefixes_v4)
{
	nested(AF_INET, RFT_PEER_IP4, "192.0.2.2/32", "192.0.2.0/24", "192.0.0.0/16");
}

Test(lookup, nested_prefixes_v6)
{
	nested(AF_INET6, RFT_PEER_IP6, "2001:db8::2/128", "2001:db8::/64", "2001:db8::/48");
}

/* exec bpftool map update|delete pinned <pin>/<map> key <k...> [value <v...>], decimal bytes. */
static void bpftool(const char *op, const char *map, const __u8 *key, size_t klen, const __u8 *val,
		    size_t vlen)
{
	static char bytes[256][4];
	char path[512], *argv[300], *out = NULL, *err = NULL;
	size_t n = 0, i, b = 0;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", rft.pin_dir, map);
	argv[n++] = "bpftool";
	argv[n++] = "map";
	argv[n++] = (char *)op;
	argv[n++] = "pinned";
	argv[n++] = path;
	argv[n++] = "key";
	for (i = 0; i < klen; i++, b++) {
		snprintf(bytes[b], sizeof(bytes[b]), "%u", key[i]);
		argv[n++] = bytes[b];
	}
	if (val)
		argv[n++] = "value";
	for (i = 0; val && i < vlen; i++, b++) {
		snprintf(bytes[b], sizeof(bytes[b]), "%u", val[i]);
		argv[n++] = bytes[b];
	}
	argv[n] = NULL;
	ret = rft_exec(NULL, argv, &out, &err);
	cr_assert_eq(ret, 0, "bpftool map %s %s failed (%d): %s%s", op, map, ret, out, err);
	free(out);
	free(err);
}

static const __u8 key0[4];
static const __u8 sync_zero[40]; /* docs/ABI.md: "mark the index out of sync" */

static const __u8 k4[20] = {128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 192, 0, 2, 2};
static const __u8 k6[20] = {128, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0,
			    0,	 0, 0, 0, 0,	0,    0,    0,	  0, 2};

/*
 * Another agent replaces rules ringfence indexed, as docs/ABI.md says (the rule, then
 * rf_net_sync zeroed): the programs walk the trie and judge right at once; ringfence's next
 * change indexes the trie again; a delete of a rule the index holds is then judged right too.
 */
Test(lookup, another_writer_replacing_rules_marks_the_index)
{
	__u8 val[72] = {1, 0, 0, 0, 128, 0, 0, 0, 6, 1, 0, 0, 187, 1, 187, 1};
	struct rft_server srv = serve();

	rule("add", "2001:db8::2/128", PORT_B, "out");
	rule("add", "192.0.2.2/32", PORT_B, "out");
	rft_cli_ok(0, "isolate", "--force", NULL);
	expect_indexed(128, "before the other writer");

	bpftool("update", "rf_allow_net", k4, 20, val, 72); /* 443 out; replaces the 8443 rule */
	bpftool("update", "rf_allow_net", k6, 20, val, 72);
	bpftool("update", "rf_net_sync", key0, 4, sync_zero, sizeof(sync_zero));
	cr_expect_neq(sync_now().state, RF_NET_SYNC_VALID);
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_A, RFT_OK, "trie-only allow, v4");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_A, RFT_OK, "trie-only allow, v6");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_B, RFT_EPERM, "trie-only replace, v4");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_B, RFT_EPERM, "trie-only replace, v6");

	rule("add", "198.51.100.0/24", PORT_C, "out"); /* ringfence's next change re-indexes */
	expect_indexed(128, "after ringfence's next change");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_A, RFT_OK, "indexed again, v4");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_A, RFT_OK, "indexed again, v6");
	/* (the CLI applies its persisted 8443 rules again: they are back beside 443) */
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_C, RFT_EPERM, "indexed again, v6 other port");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_C, RFT_EPERM, "indexed again, v4 other port");

	bpftool("delete", "rf_allow_net", k4, 20, NULL, 0); /* the index still holds them */
	bpftool("delete", "rf_allow_net", k6, 20, NULL, 0);
	bpftool("update", "rf_net_sync", key0, 4, sync_zero, sizeof(sync_zero));
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_A, RFT_EPERM, "trie-only delete, v4");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_A, RFT_EPERM, "trie-only delete, v6");
	rft_cli_ok(0, "release", NULL);
	rft_server_stop(&srv);
}

/*
 * A writer that knows nothing of the index (docs/ABI.md before it, or a build before it) adds
 * and deletes prefixes in the trie alone: the kernel's count of the trie's prefixes no longer
 * matches the index's, so the programs walk the trie, judge right at once, and never keep
 * allowing a deleted prefix that the index still holds.
 */
Test(lookup, a_writer_unaware_of_the_index_adds_and_deletes)
{
	__u8 val[72] = {1, 0, 0, 0, 128, 0, 0, 0, 6, 1, 0, 0, 187, 1, 187, 1};
	struct rft_server srv = serve();

	rule("add", "2001:db8::/64", PORT_B, "out");
	rule("add", "192.0.2.0/24", PORT_B, "out");
	rft_cli_ok(0, "isolate", "--force", NULL);
	expect_indexed(64, "before the other writer");
	bpftool("update", "rf_allow_net", k4, 20, val, 72); /* new /128 prefixes: 443 out */
	bpftool("update", "rf_allow_net", k6, 20, val, 72);
	cr_expect_eq(sync_now().state, RF_NET_SYNC_VALID, "marked, but nobody marked it");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_A, RFT_OK, "unaware add, v4");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_A, RFT_OK, "unaware add, v6");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_B, RFT_OK, "unaware add, v6 /64 rule");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_C, RFT_EPERM, "unaware add, v6 other port");

	/* marked and indexed again by ringfence's next change: the index holds both /128s */
	bpftool("update", "rf_net_sync", key0, 4, sync_zero, sizeof(sync_zero));
	rule("add", "198.51.100.0/24", PORT_C, "out");
	expect_indexed(128, "the other writer's rules indexed");
	bpftool("delete", "rf_allow_net", k4, 20, NULL, 0);
	bpftool("delete", "rf_allow_net", k6, 20, NULL, 0);
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_A, RFT_EPERM, "unaware delete, v4");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_A, RFT_EPERM, "unaware delete, v6");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_B, RFT_OK, "unaware delete, v4 /24 rule");
	rft_cli_ok(0, "release", NULL);
	rft_server_stop(&srv);
}

/*
 * A writer that replaces a rule's value in place without marking the index (same prefix count):
 * the agent's comparison of the index with the trie finds it within its 10 s and indexes the
 * trie again, so the narrowed rule is judged by its new value (THREAT-MODEL row 29).
 */
Test(lookup, the_agent_follows_an_unmarked_replace, .timeout = 90)
{
	__u8 val[72] = {1, 0, 0, 0, 128, 0, 0, 0, 6, 1, 0, 0, 187, 1, 187, 1};
	struct rft_server srv = serve();
	pid_t agent;
	int i;

	rule("add", "2001:db8::2/128", PORT_B, "out");
	rft_cli_ok(0, "isolate", "--force", NULL);
	agent = rfp_agent_start();
	cr_assert_gt(agent, 0, "the agent did not start: %d", agent);
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_B, RFT_OK, "before the other writer");
	bpftool("update", "rf_allow_net", k6, 20, val, 72); /* 8443 -> 443, not marked */
	for (i = 0; i < 200; i++) {			    /* the agent compares every 10 s */
		struct rft_result r =
		    rft_client(rft.dev_ns, rft.cg, AF_INET6, RFT_TCP, RFT_PEER_IP6, PORT_A, 500);

		if (r.outcome == RFT_OK)
			break; /* the trie's verdict is in force */
		rft_msleep(100);
	}
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_A, RFT_OK, "the replaced value, after the agent");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_B, RFT_EPERM, "the old value, after the agent");
	expect_indexed(128, "indexed again by the agent");
	rfp_kill(agent);
	rft_cli_ok(0, "release", NULL);
	rft_server_stop(&srv);
}

/*
 * More distinct lengths than the index probes: the trie decides (state RF_NET_SYNC_TRIE) with the
 * same verdicts; deleting back under the bound brings the index back.
 */
Test(lookup, many_prefix_lengths_use_the_trie)
{
	struct rft_server srv = serve();
	char cidr[64];
	int len;

	rule("add", "2001:db8::2/128", PORT_A, "out");
	rule("add", "192.0.2.0/24", PORT_A, "out");
	for (len = 48; len < 48 + RF_NET_FAST_LENS; len++) { /* none covers the peer */
		snprintf(cidr, sizeof(cidr), "2001:db8:ffff::/%d", len);
		rule("add", cidr, PORT_B, "out");
	}
	cr_expect_eq(sync_now().state, RF_NET_SYNC_TRIE, "%d lengths, but the index is used",
		     RF_NET_FAST_LENS + 2);
	rft_cli_ok(0, "isolate", "--force", NULL);
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_A, RFT_OK, "trie, v6");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_B, RFT_EPERM, "trie, v6 other port");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_A, RFT_OK, "trie, v4");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_B, RFT_EPERM, "trie, v4 other port");
	for (len = 48; len < 48 + 4; len++) {
		snprintf(cidr, sizeof(cidr), "2001:db8:ffff::/%d", len);
		rule("del", cidr, PORT_B, "out");
	}
	expect_indexed(120, "back under the bound");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_A, RFT_OK, "index, v6");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_B, RFT_EPERM, "index, v6 other port");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_A, RFT_OK, "index, v4");
	rft_cli_ok(0, "release", NULL);
	rft_server_stop(&srv);
}

static size_t count_keys(int fd)
{
	struct rf_net_key k, next;
	void *prev = NULL;
	size_t n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/*
 * 262,144 prefixes (RF_NET_MAX_RULES_DEFAULT) fit in the trie and in the index: 262,143 /64s
 * written into the trie directly (as another agent would, with the mark), the peer's rule by
 * the CLI, which indexes them all; one more does not fit in either.
 */
Test(lookup, capacity_262144_prefixes)
{
	struct rf_net_val v = {.count = 1, .prefixlen = 64, .e = {{6, 1, 0, 0, PORT_B, PORT_B}}};
	struct rf_net_key k = {.prefixlen = 64, .addr = {0x20, 0x01, 0x0d, 0xb8, 0xff}};
	struct rft_server srv = serve();
	__u32 zero = 0, i;
	int trie, hash, sync;

	rft_cli_ok(0, "load", NULL);
	trie = pinned("rf_allow_net");
	hash = pinned("rf_net_hash");
	sync = pinned("rf_net_sync");
	for (i = 0; i < RF_NET_MAX_RULES_DEFAULT - 1; i++) { /* 2001:db8:ffXX:XXXX::/64 */
		k.addr[5] = (__u8)(i >> 16);
		k.addr[6] = (__u8)(i >> 8);
		k.addr[7] = (__u8)i;
		cr_assert_eq(bpf_map_update_elem(trie, &k, &v, BPF_ANY), 0, "trie insert %u: %s", i,
			     strerror(errno));
	}
	cr_assert_eq(bpf_map_update_elem(sync, &zero, sync_zero, BPF_ANY), 0);
	rule("add", "2001:db8::2/128", PORT_A, "out");
	expect_indexed(64, "262,144 prefixes");
	cr_expect_eq(count_keys(hash), RF_NET_MAX_RULES_DEFAULT, "the index holds %zu",
		     count_keys(hash));
	k.addr[4] = 0xfe;
	cr_expect_neq(bpf_map_update_elem(trie, &k, &v, BPF_ANY), 0, "a 262,145th prefix fit");
	rft_cli_ok(0, "isolate", "--force", NULL);
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_A, RFT_OK, "262,144 prefixes");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_B, RFT_EPERM, "262,144 prefixes, other port");
	rft_cli_ok(0, "release", NULL);
	close(trie);
	close(hash);
	close(sync);
	rft_server_stop(&srv);
}
