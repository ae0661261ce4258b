// SPDX-License-Identifier: GPL-2.0-only
/*
 * An exe rule allows one file, not whatever later gets its inode number (issue 12 item 3): the
 * identity includes the inode generation, and when an upgrade replaces the allowed file (write
 * new, rename over), the rule follows the path to the new file while the old identity is dropped.
 * And it allows the users the operator meant (issue 21 item 5): the file's owner by default, so
 * another user running the allowed binary (with LD_PRELOAD, say) does not get its network.
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

/* Every key in the pinned rf_allow_exe_v3 (the rules' identities); how many (at most max). */
static int exe_keys(struct rf_exe_key *keys, int max)
{
	char path[PATH_MAX];
	struct rf_exe_key k, *prev = NULL;
	int fd, n = 0;

	snprintf(path, sizeof(path), "%s/rf_allow_exe_v3", rft.pin_dir);
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
	struct rf_exe_users v = {};
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/rf_allow_exe_v3", rft.pin_dir);
	fd = bpf_obj_get(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bpf_map_lookup_elem(fd, old, &v), 0);
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

/* The helper `client` of executable exe, run as user uid in the test cgroup (device netns). */
static enum rft_outcome from_as(const char *exe, int family, unsigned int uid)
{
	char u[16], port[8];
	char *argv[] = {(char *)exe, RFP_HELPER_ARG,
			"client-as", u,
			"-",	     family == AF_INET6 ? "6" : "4",
			"tcp",	     family == AF_INET ? RFT_PEER_IP4 : RFT_PEER_IP6,
			port,	     "1500",
			"",	     NULL};
	pid_t pid;
	int st;

	snprintf(u, sizeof(u), "%u", uid);
	snprintf(port, sizeof(port), "%u", PORT_OTHER);
	pid = rfp_spawn(rft.dev_ns, rft.cg, argv, NULL, NULL);
	cr_assert_gt(pid, 0);
	st = rfp_wait(pid, 10000);
	return st >= RFT_OK && st <= RFT_ERROR ? (enum rft_outcome)st : RFT_ERROR;
}

static unsigned long long accepted(void)
{
	return rft_server_stats(&srv, PORT_OTHER, AF_INET).conns +
	       rft_server_stats(&srv, PORT_OTHER, AF_INET6).conns;
}

#define NOBODY 65534

/* Both families from user uid: want, and the peer accepted a connection exactly when allowed. */
static void expect_as(const char *exe, unsigned int uid, enum rft_outcome want, const char *what)
{
	int fam[] = {AF_INET, AF_INET6}, i;

	for (i = 0; i < 2; i++) {
		unsigned long long before = accepted();
		enum rft_outcome got = uid ? from_as(exe, fam[i], uid) : from(exe, fam[i]);

		cr_expect_eq(got, want, "%s, IPv%c: %s", what, i ? '6' : '4',
			     rft_outcome_name(got));
		cr_expect_eq(accepted() - before, want == RFT_OK ? 1ULL : 0ULL,
			     "%s, IPv%c: the peer's count is wrong", what, i ? '6' : '4');
	}
}

/*
 * E1: an allowed executable is world-executable, so any user could run it with a preloaded
 * library of their own and get its network. `exe PATH` now allows the file's owner (root here),
 * `user NAME|UID` adds a user, `user any` restores the old meaning, each removable again.
 */
Test(exe_identity, exe_rule_allows_the_files_owner_not_every_user)
{
	char allowed[PATH_MAX], uid[16];

	start(allowed, sizeof(allowed)); /* "exe PATH": the file is root's */
	rft_cli_ok(0, "isolate", NULL);
	expect_as(allowed, 0, RFT_OK, "the owner (root)");
	expect_as(allowed, NOBODY, RFT_EPERM, "another user");
	snprintf(uid, sizeof(uid), "%u", NOBODY);
	rft_cli_ok(0, "allow", "add", "exe", allowed, "user", uid, NULL);
	expect_as(allowed, NOBODY, RFT_OK, "a user the rule names");
	expect_as(allowed, 0, RFT_OK, "the owner, beside a named user");
	rft_cli_ok(0, "allow", "del", "exe", allowed, "user", uid, NULL);
	expect_as(allowed, NOBODY, RFT_EPERM, "a user whose rule was deleted");
	rft_cli_ok(0, "allow", "add", "exe", allowed, "user", "any", NULL);
	expect_as(allowed, NOBODY, RFT_OK, "user any");
	rft_cli_ok(0, "allow", "del", "exe", allowed, "user", "any", NULL);
	expect_as(allowed, NOBODY, RFT_EPERM, "user any deleted");
	rft_cli_ok(0, "allow", "del", "exe", allowed, NULL);
	expect_as(allowed, 0, RFT_EPERM, "the owner, rule deleted");
	rft_cli_ok(0, "release", NULL);
}

/*
 * An exe rule from before this change sits in rf_allow_exe_v2 (every user): the next command
 * moves its identity into rf_allow_exe_v3 for the file's owner, so the bypass ends without the
 * operator re-adding the rule.
 */
Test(exe_identity, old_any_user_entry_moves_to_the_owner)
{
	struct rf_allow_val v = {};
	struct rf_exe_key k[4];
	char allowed[PATH_MAX], path[PATH_MAX];
	int fd3, fd2;

	start(allowed, sizeof(allowed));
	cr_assert_eq(exe_keys(k, 4), 1);
	snprintf(path, sizeof(path), "%s/rf_allow_exe_v3", rft.pin_dir);
	fd3 = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/rf_allow_exe_v2", rft.pin_dir);
	fd2 = bpf_obj_get(path);
	cr_assert(fd3 >= 0 && fd2 >= 0);
	/* as an older build left it: the identity in v2, nothing in v3 */
	cr_assert_eq(bpf_map_delete_elem(fd3, &k[0]), 0);
	cr_assert_eq(bpf_map_update_elem(fd2, &k[0], &v, BPF_ANY), 0);
	rft_cli_ok(0, "isolate", NULL);
	expect_as(allowed, 0, RFT_OK, "migrated: the owner");
	expect_as(allowed, NOBODY, RFT_EPERM, "migrated: another user");
	cr_expect_neq(bpf_map_lookup_elem(fd2, &k[0], &v), 0, "still in rf_allow_exe_v2");
	close(fd3);
	close(fd2);
	rft_cli_ok(0, "release", NULL);
}
