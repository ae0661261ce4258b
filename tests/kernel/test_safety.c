// SPDX-License-Identifier: GPL-2.0-only
/*
 * Responder safety against the real kernel: audit mode blocks nothing and reports what isolation
 * would block (once per flow); audit -> enforce; commit-confirmed isolation lapses in the kernel
 * unless confirmed; verify passes for a reachable endpoint and rolls back for one isolation cuts.
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

#define PORT_WAY_BACK 8201 /* allowed out */
#define PORT_OTHER    8202
#define PORT_INBOUND  8203 /* a server on the device, in the cgroup */
#define CLIENT_MS     1500

TestSuite(safety, .init = rfp_setup, .fini = rfp_teardown, .timeout = 90);

static struct rft_server peer, dev;

static void start(void)
{
	static const unsigned short ports[] = {PORT_WAY_BACK, PORT_OTHER};
	static const unsigned short in[] = {PORT_INBOUND};

	cr_assert_eq(rft_server_start(&peer, rft.peer_ns, NULL, ports, 2), 0);
	cr_assert_eq(rft_server_start(&dev, rft.dev_ns, rft.cg, in, 1), 0);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port", "8201", "dir",
		   "out", NULL);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP6, "proto", "tcp", "port", "8201", "dir",
		   "out", NULL);
}

static enum rft_outcome out_tcp(int family, unsigned short port)
{
	return rft_client(rft.dev_ns, rft.cg, family, RFT_TCP,
			  family == AF_INET ? RFT_PEER_IP4 : RFT_PEER_IP6, port, CLIENT_MS)
	    .outcome;
}

static enum rft_outcome out_udp(int family, unsigned short port)
{
	return rft_client(rft.dev_ns, rft.cg, family, RFT_UDP,
			  family == AF_INET ? RFT_PEER_IP4 : RFT_PEER_IP6, port, CLIENT_MS)
	    .outcome;
}

static enum rft_outcome in_tcp(int family)
{
	return rft_client(rft.peer_ns, NULL, family, RFT_TCP,
			  family == AF_INET ? RFT_DEV_IP4 : RFT_DEV_IP6, PORT_INBOUND, CLIENT_MS)
	    .outcome;
}

static int make_raw(int cmd, void *arg)
{
	int fd = socket(cmd ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC,
			cmd ? IPPROTO_ICMPV6 : IPPROTO_ICMP);

	(void)arg;
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* The events --json lines of the test's target, parsed strictly. */
static json_t *events_json(void)
{
	char *text = rfp_cli_out("events", "--json", NULL);
	json_t *ev = rft_json_lines(text);

	free(text);
	return ev;
}

/* The status --json document of the test's target, parsed strictly. */
static json_t *status_json(void)
{
	char *text = rfp_cli_out("status", "--json", NULL);
	json_t *st = rft_json_load(text);

	free(text);
	return st;
}

/* Every case enforce mode blocks passes in audit mode, and is reported as would-block. */
Test(safety, audit_blocks_nothing_and_reports_each_case)
{
	static const char *const hooks[] = {"connect4", "connect6", "sendmsg4",
					    "sendmsg6", "ingress",  "sock_create"};
	json_t *ev, *st;
	size_t i, n;
	int fam;

	start();
	rft_cli_ok(0, "isolate", "--audit", "--comment", "try first", NULL);
	for (fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0) {
		cr_expect_eq(out_tcp(fam, PORT_OTHER), RFT_OK, "audit blocked TCP (family %d)",
			     fam);
		cr_expect_eq(out_udp(fam, PORT_OTHER), RFT_OK, "audit blocked UDP (family %d)",
			     fam);
		cr_expect_eq(in_tcp(fam), RFT_OK, "audit blocked inbound TCP (family %d)", fam);
	}
	cr_expect_eq(rfp_run_in(rft.dev_ns, rft.cg, make_raw, NULL), 0,
		     "audit refused a raw socket");
	cr_expect_gt(rft_server_stats(&peer, PORT_OTHER, AF_INET).conns, 0);
	cr_expect_gt(rft_server_stats(&peer, PORT_OTHER, AF_INET6).dgrams, 0);

	ev = events_json();
	n = json_array_size(ev);
	cr_expect_gt(n, 0, "no events in audit mode");
	cr_expect_eq(rft_json_count(ev, "event.action", "would-block"), n,
		     "audit mode reported a real block");
	cr_expect_eq(rft_json_count(ev, "event.outcome", "unknown"), n,
		     "a would-block event with an outcome");
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		cr_expect_not_null(rft_json_find(ev, "ringfence.hook", hooks[i]), "%s not reported",
				   hooks[i]);
	json_decref(ev);
	st = status_json();
	cr_expect_eq(rft_json_bool_at(st, "isolated"), 0);
	cr_expect_eq(rft_json_bool_at(st, "audit"), 1);
	{
		const char *hook;
		json_t *c;
		int counted = 0;

		json_object_foreach(json_object_get(st, "counters"), hook, c) counted +=
		    rft_json_int_at(c, "would_block", 0) > 0;
		cr_expect_gt(counted, 0, "no would-block counted");
	}
	json_decref(st);

	/* the same cases, enforced: each is blocked now */
	rft_cli_ok(0, "isolate", NULL);
	for (fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0) {
		cr_expect_eq(out_tcp(fam, PORT_OTHER), RFT_EPERM, "enforce: TCP (family %d)", fam);
		cr_expect_eq(out_udp(fam, PORT_OTHER), RFT_EPERM, "enforce: UDP (family %d)", fam);
		cr_expect_neq(in_tcp(fam), RFT_OK, "enforce: inbound TCP (family %d)", fam);
		cr_expect_eq(out_tcp(fam, PORT_WAY_BACK), RFT_OK, "enforce: way back (family %d)",
			     fam);
	}
	cr_expect_eq(rfp_run_in(rft.dev_ns, rft.cg, make_raw, NULL), -EPERM);
	rft_cli_ok(0, "release", NULL);
	cr_expect_eq(out_tcp(AF_INET, PORT_OTHER), RFT_OK, "release did not end it");
}

/* An established flow is reported once, not once per packet. */
Test(safety, audit_reports_an_established_flow_once)
{
	struct rft_conn c;
	json_t *ev, *e;
	size_t k, n = 0;
	int i;

	start();
	cr_assert_eq(
	    rft_conn_open(&c, rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER, 2000),
	    0);
	rft_cli_ok(0, "isolate", "--audit", NULL);
	for (i = 0; i < 5; i++) {
		cr_assert_eq(rft_conn_send(&c, 10), 10);
		cr_assert_eq(rft_conn_recv(&c, 2000), 10, "audit cut the flow (send %d)", i);
	}
	ev = events_json();
	json_array_foreach(ev, k, e) n += rft_json_int_at(e, "destination.port", 0) == 8202 ||
					  rft_json_int_at(e, "source.port", 0) == 8202;
	cr_expect_eq(n, 1, "expected one event for the flow, got %zu", n);
	json_decref(ev);
	rft_cli_ok(0, "isolate", NULL); /* audit -> enforce: the non-allowed flow stops */
	rft_conn_send(&c, 10);
	cr_expect_eq(rft_conn_recv(&c, 1000), 0, "the non-allowed flow kept running");
	rft_conn_close(&c);
	rft_cli_ok(0, "release", NULL);
}

/* audit -> enforce: an allowed flow keeps running across the switch, a non-allowed one stops. */
Test(safety, audit_to_enforce_leaves_no_gap)
{
	struct rft_conn ok, bad;
	unsigned long long before;
	char *st;

	start();
	rft_cli_ok(0, "isolate", "--audit", NULL);
	cr_assert_eq(rft_conn_open(&ok, rft.dev_ns, rft.cg, AF_INET6, RFT_TCP, RFT_PEER_IP6,
				   PORT_WAY_BACK, 2000),
		     0);
	cr_assert_eq(rft_conn_open(&bad, rft.dev_ns, rft.cg, AF_INET6, RFT_TCP, RFT_PEER_IP6,
				   PORT_OTHER, 2000),
		     0);
	rft_cli_ok(0, "isolate", "--comment", "enforce now", NULL);
	st = rfp_cli_out("status", "--json", NULL);
	cr_expect_eq(rft_json_bool(st, "isolated"), 1, "%s", st);
	cr_expect_eq(rft_json_bool(st, "audit"), 0, "%s", st);
	free(st);
	cr_expect_eq(rft_conn_send(&ok, 8), 8);
	cr_expect_eq(rft_conn_recv(&ok, 2000), 8, "the allowed flow was cut by the switch");
	before = rft_server_stats(&peer, PORT_OTHER, AF_INET6).tcp_bytes;
	rft_conn_send(&bad, 8);
	cr_expect_eq(rft_conn_recv(&bad, 1000), 0, "the non-allowed flow kept running");
	cr_expect_eq(rft_server_stats(&peer, PORT_OTHER, AF_INET6).tcp_bytes, before,
		     "the peer received data of a non-allowed flow after the switch");
	rft_conn_close(&ok);
	rft_conn_close(&bad);
	rft_cli_ok(0, "release", NULL);
}

static bool history_has(const char *type, const char *extra)
{
	char t[96];
	const char *needles[] = {t, extra, NULL};

	snprintf(t, sizeof(t), "\"type\":\"%s\"", type);
	return rfp_history_wait(0, needles);
}

/* Nobody confirms: the kernel ends isolation with the agent and every CLI gone. */
Test(safety, confirm_within_lapses_in_the_kernel)
{
	char *err = NULL;
	pid_t agent;

	start();
	agent = rfp_agent_start();
	cr_assert_gt(agent, 0);
	rft_cli_ok(0, "isolate", "--confirm-within", "3s", NULL);
	cr_assert_eq(out_tcp(AF_INET, PORT_OTHER), RFT_EPERM);
	rfp_kill(agent); /* SIGKILL: nothing in userspace is left to end it */
	rft_msleep(3500);
	cr_expect_eq(out_tcp(AF_INET, PORT_OTHER), RFT_OK, "v4: not rolled back by the kernel");
	cr_expect_eq(out_tcp(AF_INET6, PORT_OTHER), RFT_OK, "v6: not rolled back by the kernel");
	cr_expect_eq(rft_cli(NULL, &err, "confirm", NULL), 1, "a late confirm must fail");
	cr_expect(strstr(err, "rolled back") != NULL, "%s", err);
	free(err);
	cr_expect(history_has("rolled-back", "not confirmed"), "no rolled-back action");
	cr_expect_eq(rft_status_isolated(), 0);
}

/* Confirmed in time: isolation stays after the confirm deadline. */
Test(safety, confirm_keeps_isolation)
{
	json_t *st;

	start();
	rft_cli_ok(0, "isolate", "--confirm-within", "2s", NULL);
	st = status_json();
	cr_expect(json_is_string(rft_json_at(st, "confirm_deadline")), "no pending confirmation");
	json_decref(st);
	rft_cli_ok(0, "confirm", NULL);
	rft_msleep(2500);
	cr_expect_eq(out_tcp(AF_INET, PORT_OTHER), RFT_EPERM, "v4: confirmed isolation lapsed");
	cr_expect_eq(out_tcp(AF_INET6, PORT_OTHER), RFT_EPERM, "v6: confirmed isolation lapsed");
	cr_expect_eq(out_tcp(AF_INET, PORT_WAY_BACK), RFT_OK);
	cr_expect(history_has("confirm", "\"status\":\"Succeeded\""), "no confirm action");
	cr_expect_eq(rft_status_isolated(), 1);
	rft_cli_ok(0, "release", NULL);
}

Test(safety, verify_passes_for_an_allowed_endpoint)
{
	char *out = NULL, *err = NULL, v4[64], v6[64];
	json_t *doc, *checks, *c;
	size_t i;

	start();
	snprintf(v4, sizeof(v4), "%s:%d", RFT_PEER_IP4, PORT_WAY_BACK);
	snprintf(v6, sizeof(v6), "[%s]:%d", RFT_PEER_IP6, PORT_WAY_BACK);
	cr_assert_eq(rft_cli(&out, &err, "isolate", "--verify", v4, "--verify", v6, "--json", NULL),
		     0, "verify failed: %s %s", out, err);
	doc = rft_json_load(out);
	cr_expect_eq(rft_json_bool_at(doc, "isolated"), 1, "%s", out);
	checks = json_object_get(doc, "verify");
	cr_expect_eq(json_array_size(checks), 4, "2 endpoints + 2 deny checks: %s", out);
	json_array_foreach(checks, i, c)
	    cr_expect_eq(rft_json_bool_at(c, "ok"), 1, "check %zu failed: %s", i, out);
	c = rft_json_find(checks, "check", "deny 198.51.100.254:9");
	cr_expect(c && rft_json_bool_at(c, "skipped") == 0, "the IPv4 deny check did not run: %s",
		  out);
	json_decref(doc);
	free(out);
	free(err);
	cr_expect_eq(rft_status_isolated(), 1);
	cr_expect_eq(out_tcp(AF_INET, PORT_OTHER), RFT_EPERM);
	rft_cli_ok(0, "release", NULL);
}

Test(safety, verify_rolls_back_when_an_endpoint_is_cut)
{
	char *out = NULL, *err = NULL, bad[64];

	start();
	snprintf(bad, sizeof(bad), "%s:%d", RFT_PEER_IP4, PORT_OTHER);
	cr_assert_eq(rft_cli(&out, &err, "isolate", "--verify", bad, "--verify-timeout", "2s",
			     "--comment", "verify me", NULL),
		     1, "%s %s", out, err);
	cr_expect(strstr(err, "connect 192.0.2.2:8202") != NULL,
		  "the failed check is not named: %s", err);
	free(out);
	free(err);
	cr_expect_eq(rft_status_isolated(), 0, "not rolled back");
	cr_expect_eq(out_tcp(AF_INET, PORT_OTHER), RFT_OK, "v4: the host was left isolated");
	cr_expect_eq(out_tcp(AF_INET6, PORT_OTHER), RFT_OK, "v6: the host was left isolated");
	cr_expect(history_has("isolate", "verify failed: connect 192.0.2.2:8202"),
		  "no Failed isolate with the reason in the history");
}

/*
 * A container has a network namespace of its own: --verify probes from the namespace the
 * target's processes are in, not from the one the CLI runs in. Here the CLI runs in an empty
 * namespace (only lo: the peer is unreachable from it) and the target's process in the device
 * namespace: the probe must reach the peer, and the deny check must still hold.
 */
Test(safety, verify_probes_from_the_targets_network_namespace)
{
	char cli_ns[64], v4[64], *out = NULL, *err = NULL;
	json_t *doc;
	char *const mk[] = {"ip", "netns", "add", cli_ns, NULL};
	char *const argv[] = {getenv("RINGFENCE_BIN"),
			      "--cgroup",
			      rft.cg,
			      "--pin-dir",
			      rft.pin_dir,
			      "--state-dir",
			      rft.state_dir,
			      "--config",
			      rft.config,
			      "isolate",
			      "--verify",
			      v4,
			      "--json",
			      NULL};

	start(); /* a server of the target in the device namespace */
	snprintf(cli_ns, sizeof(cli_ns), "rf-test-%d-cli", (int)getpid());
	snprintf(v4, sizeof(v4), "%s:%d", RFT_PEER_IP4, PORT_WAY_BACK);
	cr_assert_eq(rft_exec(NULL, mk, NULL, NULL), 0, "ip netns add %s", cli_ns);
	cr_expect_eq(rft_exec(cli_ns, argv, &out, &err), 0,
		     "verify from the CLI's namespace: %s %s", out, err);
	doc = rft_json_load(out);
	cr_expect_eq(rft_json_bool_at(doc, "isolated"), 1, "%s", out);
	cr_expect_eq(rft_json_bool_at(rft_json_find(json_object_get(doc, "verify"), "check",
						    "deny 198.51.100.254:9"),
				      "ok"),
		     1, "the deny check did not hold: %s", out);
	json_decref(doc);
	free(out);
	free(err);
	rft_netns_remove(cli_ns);
	cr_expect_eq(out_tcp(AF_INET, PORT_OTHER), RFT_EPERM, "isolated after verify");
	rft_cli_ok(0, "release", NULL);
}
