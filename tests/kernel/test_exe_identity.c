// SPDX-License-Identifier: GPL-2.0-only
/*
 * An exe rule allows one file, not whatever later gets its inode number (issue 12 item 3): the
 * identity includes the inode generation, and when an upgrade replaces the allowed file (write
 * new, rename over), the rule follows the path to the new file while the old identity is dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include "rf_proc.h"
#include "ringfence.h"

#define PORT_WAY_BACK 8501
#define PORT_OTHER    8502

TestSuite(exe_identity, .init = rfp_setup, .fini = rfp_teardown, .timeout = 90);

static struct rft_server srv;

static void start(char *allowed, size_t len)
{
	static const unsigned short ports[] = {PORT_OTHER};

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port", "8501", "dir",
		   "out", NULL);
	cr_assert_eq(rfp_copy_self("rf-edr-agent", allowed, len), 0);
	rft_cli_ok(0, "allow", "add", "exe", allowed, NULL);
}

static enum rft_outcome from(const char *exe, int family)
{
	return rfp_exe_client(exe, rft.cg, family, RFT_TCP,
			      family == AF_INET ? RFT_PEER_IP4 : RFT_PEER_IP6, PORT_OTHER, NULL);
}

/* Every key in the pinned rf_allow_exe_v2; returns how many (at most max). */
static int exe_keys(struct rf_exe_key *keys, int max)
{
	char path[PATH_MAX];
	struct rf_exe_key k, *prev = NULL;
	int fd, n = 0;

	snprintf(path, sizeof(path), "%s/rf_allow_exe_v2", rft.pin_dir);
	fd = bpf_obj_get(path);
	cr_assert_geq(fd, 0, "no %s: %s", path, strerror(errno));
	while (n < max && !bpf_map_get_next_key(fd, prev, &k)) {
		keys[n] = k;
		prev = &keys[n++];
	}
	close(fd);
	return n;
}

static void replace_key(const struct rf_exe_key *old, const struct rf_exe_key *now)
{
	struct rf_allow_val v = {};
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/rf_allow_exe_v2", rft.pin_dir);
	fd = bpf_obj_get(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bpf_map_delete_elem(fd, old), 0);
	cr_assert_eq(bpf_map_update_elem(fd, now, &v, BPF_ANY), 0);
	close(fd);
}

/* Same device and inode, another generation: another file (a reused inode number). */
Test(exe_identity, generation_is_part_of_the_identity)
{
	char allowed[PATH_MAX];
	struct rf_exe_key k[4], reused;

	start(allowed, sizeof(allowed));
	rft_cli_ok(0, "isolate", NULL);
	cr_assert_eq(exe_keys(k, 4), 1);
	if (k[0].gen ==
	    RF_EXE_GEN_ANY) {	/* tmpfs, overlayfs: not applicable, as SCTP without SCTP */
		rft_teardown(); /* a skipped test gets no .fini */
		cr_skip_test(
		    "not applicable: the test dir's filesystem reports no inode generation");
	}
	cr_expect_eq(from(allowed, AF_INET), RFT_OK, "v4: the allowed file is refused");
	cr_expect_eq(from(allowed, AF_INET6), RFT_OK, "v6: the allowed file is refused");
	reused = k[0];
	reused.gen ^= 1;
	replace_key(&k[0], &reused);
	cr_expect_eq(from(allowed, AF_INET), RFT_EPERM, "v4: another generation was allowed");
	cr_expect_eq(from(allowed, AF_INET6), RFT_EPERM, "v6: another generation was allowed");
	cr_expect_eq(rft_server_stats(&srv, PORT_OTHER, AF_INET).conns +
			 rft_server_stats(&srv, PORT_OTHER, AF_INET6).conns,
		     2, "the peer accepted a connection of the refused identity");
	replace_key(&reused, &k[0]);
	cr_expect_eq(from(allowed, AF_INET), RFT_OK, "restored: refused");
	rft_cli_ok(0, "release", NULL);
}

/* Write new, rename over: the rule follows the path, the old identity stops matching. */
Test(exe_identity, rule_follows_an_upgrade_of_the_allowed_file)
{
	const char *needles[] = {"\"type\":\"exe-rule-moved\"", NULL};
	char allowed[PATH_MAX], staged[PATH_MAX + 8];
	struct rf_exe_key before[4], after[4];
	pid_t agent;
	long t0;
	int n;

	start(allowed, sizeof(allowed));
	agent = rfp_agent_start();
	cr_assert_gt(agent, 0);
	rft_cli_ok(0, "isolate", NULL);
	cr_assert_eq(exe_keys(before, 4), 1);
	cr_expect_eq(from(allowed, AF_INET), RFT_OK);
	/* the upgrade: a new file (new inode) renamed over the allowed path */
	cr_assert_eq(rfp_copy_self("rf-edr-agent.new", staged, sizeof(staged)), 0);
	cr_assert_eq(rename(staged, allowed), 0, "%s", strerror(errno));
	for (t0 = rft_now_ms(); rft_now_ms() - t0 < rft_scaled_ms(5000); rft_msleep(100)) {
		n = exe_keys(after, 4);
		if (n == 1 && memcmp(&after[0], &before[0], sizeof(after[0])))
			break;
	}
	cr_assert_eq(n, 1, "%d identities allowed: the old one was not dropped", n);
	cr_assert_neq(memcmp(&after[0], &before[0], sizeof(after[0])), 0,
		      "the rule did not follow the upgrade");
	cr_expect_eq(from(allowed, AF_INET), RFT_OK, "v4: the upgraded agent is refused");
	cr_expect_eq(from(allowed, AF_INET6), RFT_OK, "v6: the upgraded agent is refused");
	cr_expect(rfp_history_wait(0, needles), "no exe-rule-moved in the history");
	rfp_kill(agent);
	rft_cli_ok(0, "release", NULL);
}
