// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pinned-map ABI recipe of docs/ABI.md, run exactly: another agent isolates, allows a
 * destination and releases with nothing but bpftool (exec'd with an argv, no shell), and the
 * kernel verdicts follow. P is the pin dir (/sys/fs/bpf/ringfence in production; this test uses
 * its private /sys/fs/bpf/rf-test-<pid>). The programs are loaded first with 'ringfence load'.
 *
 * isolate (no deadline; builtins 3 = DHCP+ND, flags 1):
 *   bpftool map update pinned P/rf_config key 0 0 0 0 value
 *     1 0 0 0  1 0 0 0  0 0 0 0 0 0 0 0  3 0 0 0  1 0 0 0  0 0 0 0 0 0 0 0
 * release:
 *   bpftool map update pinned P/rf_config key 0 0 0 0 value
 *     1 0 0 0  0 0 0 0  0 0 0 0 0 0 0 0  3 0 0 0  1 0 0 0  0 0 0 0 0 0 0 0
 * allow 192.0.2.2/32 tcp port 443 out (key prefixlen 128 = 96 + 32, value prefixlen 128,
 * count 1, entry {proto 6, dir 1, origin 0, pad 0, port_lo 443 = 187 1, port_hi 187 1}):
 *   bpftool map update pinned P/rf_allow_net
 *     key 128 0 0 0  0 0 0 0 0 0 0 0 0 0 255 255 192 0 2 2
 *     value 1 0 0 0  128 0 0 0  6 1 0 0 187 1 187 1  followed by 56 times 0
 * isolate until a deadline: bytes 8..15 of the config value = CLOCK_BOOTTIME ns, little-endian.
 */
#include <linux/types.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <criterion/criterion.h>
#include "rf_test.h"

#define PORT_ALLOWED 443
#define PORT_OTHER   8444

static void abi_setup(void)
{
	rft_require_kernel();
	rft_require_tool("bpftool"); /* before anything is created: a skip runs no .fini */
	rft_setup();
}

TestSuite(abi, .init = abi_setup, .fini = rft_teardown, .timeout = 60);

/* exec: bpftool map update pinned <pin>/<map> key <k...> value <v...> (decimal bytes). */
static void bpftool_update(const char *map, const __u8 *key, size_t klen, const __u8 *val,
			   size_t vlen)
{
	static char bytes[256][4];
	char path[512], *argv[300], *out = NULL, *err = NULL;
	size_t n = 0, i, b = 0;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", rft.pin_dir, map);
	argv[n++] = "bpftool";
	argv[n++] = "map";
	argv[n++] = "update";
	argv[n++] = "pinned";
	argv[n++] = path;
	argv[n++] = "key";
	for (i = 0; i < klen; i++, b++) {
		snprintf(bytes[b], sizeof(bytes[b]), "%u", key[i]);
		argv[n++] = bytes[b];
	}
	argv[n++] = "value";
	for (i = 0; i < vlen; i++, b++) {
		snprintf(bytes[b], sizeof(bytes[b]), "%u", val[i]);
		argv[n++] = bytes[b];
	}
	argv[n] = NULL;
	ret = rft_exec(NULL, argv, &out, &err);
	cr_assert_eq(ret, 0, "bpftool map update %s failed (%d): %s%s", map, ret, out, err);
	free(out);
	free(err);
}

static const __u8 key0[4] = {0, 0, 0, 0};

static void config_bytes(__u8 isolated, __u64 deadline_ns)
{
	__u8 v[32] = {1, 0, 0, 0, isolated, 0, 0, 0};
	int i;

	for (i = 0; i < 8; i++)
		v[8 + i] = (__u8)(deadline_ns >> (8 * i)); /* little-endian */
	v[16] = 3;					   /* builtins: DHCP + ND */
	v[20] = 1; /* flags: RF_CFG_EXE_RULES, always safe */
	bpftool_update("rf_config", key0, 4, v, 32);
}

static void expect(const struct rft_server *srv, int family, const char *addr, unsigned short port,
		   enum rft_outcome want, const char *phase)
{
	int wire = strchr(addr, '.') ? AF_INET : AF_INET6; /* ::ffff:a.b.c.d goes out as IPv4 */
	struct rft_port_stats before = rft_server_stats(srv, port, wire), after;
	struct rft_result r = rft_client(rft.dev_ns, rft.cg, family, RFT_TCP, addr, port, 1500);

	cr_expect_eq(r.outcome, want, "%s: tcp %s port %u: expected %s, got %s (errno %d)", phase,
		     addr, port, rft_outcome_name(want), rft_outcome_name(r.outcome), r.err);
	after = rft_server_stats(srv, port, wire);
	if (want == RFT_OK)
		cr_expect_gt(after.conns, before.conns, "%s: peer saw no connection", phase);
	else
		cr_expect_eq(after.conns + after.tcp_bytes, before.conns + before.tcp_bytes,
			     "%s: denied but the peer received something", phase);
}

Test(abi, bpftool_isolate_allow_release)
{
	static const unsigned short ports[] = {PORT_ALLOWED, PORT_OTHER};
	static const __u8 net_key[20] = {128, 0, 0, 0, 0,   0,	 0,   0, 0, 0,
					 0,   0, 0, 0, 255, 255, 192, 0, 2, 2};
	__u8 net_val[72] = {1, 0, 0, 0, 128, 0, 0, 0, 6, 1, 0, 0, 187, 1, 187, 1};
	struct rft_server srv;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	rft_cli_ok(0, "load", NULL);
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_OTHER, RFT_OK, "loaded");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_OTHER, RFT_OK, "loaded");

	config_bytes(1, 0); /* isolate */
	cr_expect_eq(rft_status_isolated(), 1, "status does not see the bpftool isolate");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_OTHER, RFT_EPERM, "bpftool isolate");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_OTHER, RFT_EPERM, "bpftool isolate");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_ALLOWED, RFT_EPERM, "bpftool isolate, no rule");

	bpftool_update("rf_allow_net", net_key, sizeof(net_key), net_val, sizeof(net_val));
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_ALLOWED, RFT_OK, "bpftool allow");
	expect(&srv, AF_INET6, RFT_PEER_MAPPED, PORT_ALLOWED, RFT_OK, "bpftool allow, mapped");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_OTHER, RFT_EPERM, "bpftool allow, other port");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_ALLOWED, RFT_EPERM, "bpftool allow, v6 host");

	config_bytes(0, 0); /* release */
	cr_expect_eq(rft_status_isolated(), 0, "status does not see the bpftool release");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_OTHER, RFT_OK, "bpftool release");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_OTHER, RFT_OK, "bpftool release");
	rft_server_stop(&srv);
}

static __u64 boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

Test(abi, bpftool_isolate_with_deadline)
{
	static const unsigned short ports[] = {PORT_OTHER};
	struct rft_server srv;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	rft_cli_ok(0, "load", NULL);

	config_bytes(1, boot_ns() + 3600ULL * 1000000000ULL); /* an hour from now */
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_OTHER, RFT_EPERM, "deadline in an hour");
	cr_expect_eq(rft_status_isolated(), 1);

	config_bytes(1, boot_ns() + 1500ULL * 1000000ULL); /* 1.5 s from now */
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_OTHER, RFT_EPERM, "deadline in 1.5 s");
	rft_msleep(1600);
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_OTHER, RFT_OK, "deadline reached");
	cr_expect_eq(rft_status_isolated(), 0, "status still isolated after the deadline");

	config_bytes(1, 1); /* a deadline in the past */
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_OTHER, RFT_OK, "deadline in the past");
	config_bytes(0, 0);
	rft_server_stop(&srv);
}

/*
 * Garbage from another agent: an unknown isolated value, a foreign ABI version, an entry count
 * beyond the array and an absurd value prefix length. The verdict is defined (any non-zero flag
 * isolates; the broken rule allows what its valid entries say and nothing more) and status
 * names each oddity.
 */
Test(abi, garbage_is_reported_and_fails_closed)
{
	static const unsigned short ports[] = {PORT_ALLOWED, PORT_OTHER};
	static const __u8 net_key[20] = {128, 0, 0, 0, 0,   0,	 0,   0, 0, 0,
					 0,   0, 0, 0, 255, 255, 192, 0, 2, 2};
	/* count 200 (> 8 entries), value prefixlen 250, one entry: tcp out port 443 */
	__u8 net_val[72] = {200, 0, 0, 0, 250, 0, 0, 0, 6, 1, 0, 0, 187, 1, 187, 1};
	__u8 cfg[32] = {99, 0, 0, 0, 7, 0, 0, 0}; /* abi_version 99, isolated 7 */
	struct rft_server srv;
	bool seen_isolated = false, seen_abi = false;
	json_t *doc, *warnings, *w;
	char *out = NULL;
	size_t i;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	rft_cli_ok(0, "load", NULL);
	cfg[16] = 0xff; /* builtins: unknown bits on top of DHCP + ND */
	bpftool_update("rf_config", key0, 4, cfg, sizeof(cfg));
	bpftool_update("rf_allow_net", net_key, sizeof(net_key), net_val, sizeof(net_val));

	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_OTHER, RFT_EPERM, "isolated 7");
	expect(&srv, AF_INET6, RFT_PEER_IP6, PORT_OTHER, RFT_EPERM, "isolated 7");
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_ALLOWED, RFT_OK, "broken rule, valid entry");

	cr_assert_eq(rft_cli(&out, NULL, "status", "--json", NULL), 0);
	doc = rft_json_load(out);
	cr_expect_eq(rft_json_bool_at(doc, "isolated"), 1, "%s", out);
	cr_expect_eq(rft_json_int_at(doc, "abi_version", -1), 99, "%s", out);
	warnings = json_object_get(doc, "warnings");
	cr_expect(json_is_array(warnings), "%s", out);
	json_array_foreach(warnings, i, w)
	{
		const char *text = json_string_value(w);

		cr_assert_not_null(text, "a warning that is not a string: %s", out);
		seen_isolated |= strstr(text, "rf_config.isolated holds 7") != NULL;
		seen_abi |= strstr(text, "abi_version is 99") != NULL;
	}
	cr_expect(seen_isolated && seen_abi, "no warning: %s", out);
	json_decref(doc);
	free(out);
	cr_assert_eq(rft_cli(&out, NULL, "status", NULL), 0, "text status must not fail");
	cr_expect(strstr(out, "warning") != NULL, "no warning in text status: %s", out);
	free(out);

	config_bytes(0, 0);
	expect(&srv, AF_INET, RFT_PEER_IP4, PORT_OTHER, RFT_OK, "released");
	rft_server_stop(&srv);
}
