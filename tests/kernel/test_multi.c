// SPDX-License-Identifier: GPL-2.0-only
/*
 * Many targets at once (issue 15): each target (a cgroup) is its own instance of the programs
 * with its own allow-list. Two sibling targets A and B below a parent P that is no target hold
 * their own allow-lists, P's own process is not affected, and releasing one leaves the other
 * isolated. Nested targets N > C: traffic of C passes only if both allow it. The packet guard
 * of one target drops its AF_PACKET frames and not the sibling's. Another agent toggles one
 * target with the bpftool recipe of docs/ABI.md, run verbatim. status --all lists exactly the
 * isolated targets, and the agent restores every isolated target after a simulated reboot.
 * Every allow case has its deny case (EPERM, and the peer received nothing); IPv4 and IPv6, TCP
 * and UDP.
 *
 * Safety: every target is a cgroup made below rft.cg; nothing is attached above rft.cg
 * (asserted: rft.cg and P carry no program, except that the agent loads its own target rft.cg).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_proc.h"
#include "rft_doc.h"

#define PORT_X 8601
#define PORT_Y 8602
#define PORT_Z 8603

/* every case loads two to four targets: minutes under emulation */
TestSuite(multi, .init = rfp_setup, .fini = rfp_teardown, .timeout = 240);

static char *const guard_on[] = {"RINGFENCE_PACKET_GUARD=on", NULL};

/* ringfence --cgroup CG ARGS... (env on top of the test's, NULL = none) must exit 0. */
#define ON(env, cg, ...)                                                                           \
	do {                                                                                       \
		char *o_ = NULL, *e_ = NULL;                                                       \
		int r_ = rft_cli_target_env(env, &o_, &e_, "--cgroup", cg, __VA_ARGS__, NULL);     \
                                                                                                   \
		cr_assert_eq(r_, 0, "--cgroup %s %s: exit %d\nstdout: %s\nstderr: %s", cg,         \
			     #__VA_ARGS__, r_, o_, e_);                                            \
		free(o_);                                                                          \
		free(e_);                                                                          \
	} while (0)

/* Make <rft.cg>/rel (its parent must exist); the path into out (PATH_MAX). */
static void child_cg(char *out, const char *rel)
{
	cr_assert_eq(rfp_cgroup_child(rel, out, PATH_MAX), 0, "mkdir %s/%s", rft.cg, rel);
}

/* `--cgroup cg status --json` says isolated (1) or not (0). */
static int target_isolated(const char *cg)
{
	char *out = NULL, *err = NULL;
	int ret = rft_cli_target(&out, &err, "--cgroup", cg, "status", "--json", NULL), v;

	cr_assert_eq(ret, 0, "--cgroup %s status --json: exit %d: %s", cg, ret, err);
	v = rft_json_bool(out, "isolated");
	cr_assert_neq(v, -1, "no \"isolated\": %s", out);
	free(out);
	free(err);
	return v;
}

/* No ringfence program is attached directly at cg (rft.cg, or a parent that is no target). */
static void nothing_attached(const char *cg)
{
	cr_expect_eq(rft_cgroup_wait_detached(cg, 0), 0, "a program is attached at %s", cg);
}

/* Target cg allows the peer's port, v4 and v6, any protocol, outbound. */
static void allow_port(const char *cg, unsigned short port)
{
	char p[8];

	snprintf(p, sizeof(p), "%u", port);
	ON(NULL, cg, "allow", "add", "net", RFT_PEER_IP4, "port", p, "dir", "out");
	ON(NULL, cg, "allow", "add", "net", RFT_PEER_IP6, "port", p, "dir", "out");
}

/* rfp_expect_flow() for every flow (v4/v6, tcp/udp). */
static void expect_all(const struct rft_server *s, const char *cg, unsigned short port, bool deny,
		       const char *what)
{
	size_t i;

	for (i = 0; i < RFP_NFLOWS; i++)
		rfp_expect_flow(s, &rfp_flows[i], cg, port, deny, what);
}

/* P (no target) with targets A and B below it. */
static void siblings(char *p, char *a, char *b)
{
	child_cg(p, "p");
	child_cg(a, "p/a");
	child_cg(b, "p/b");
}

Test(multi, siblings_hold_their_own_allow_lists_and_release_alone)
{
	static const unsigned short ports[] = {PORT_X, PORT_Y};
	char p[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	struct rft_server srv;
	struct stat st;

	siblings(p, a, b);
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	allow_port(a, PORT_X);
	allow_port(b, PORT_Y);
	ON(NULL, a, "isolate", "--comment", "A");
	ON(NULL, b, "isolate", "--comment", "B");
	cr_expect_eq(target_isolated(a), 1, "A not isolated");
	cr_expect_eq(target_isolated(b), 1, "B not isolated");

	expect_all(&srv, a, PORT_X, false, "A, its port");
	expect_all(&srv, a, PORT_Y, true, "A, B's port");
	expect_all(&srv, b, PORT_Y, false, "B, its port");
	expect_all(&srv, b, PORT_X, true, "B, A's port");
	expect_all(&srv, p, PORT_X, false, "P (no target)");
	expect_all(&srv, p, PORT_Y, false, "P (no target)");
	nothing_attached(p);
	nothing_attached(rft.cg);

	ON(NULL, a, "release", "--comment", "A done");
	cr_expect_eq(target_isolated(a), 0, "A still isolated after its release");
	cr_expect_eq(target_isolated(b), 1, "releasing A released B");
	expect_all(&srv, a, PORT_Y, false, "A released");
	expect_all(&srv, b, PORT_X, true, "B after A's release");
	expect_all(&srv, b, PORT_Y, false, "B after A's release, its port");

	ON(NULL, b, "release", NULL);
	expect_all(&srv, b, PORT_X, false, "B released");
	rft_server_stop(&srv);

	/* the last target unloaded takes the pin dir with it (nothing was loaded at rft.cg) */
	ON(NULL, a, "unload", NULL);
	cr_expect_eq(stat(rft.pin_dir, &st), 0, "unloading A removed B's pins");
	ON(NULL, b, "unload", NULL);
	cr_expect_neq(stat(rft.pin_dir, &st), 0, "%s left behind by the last unload", rft.pin_dir);
	cr_expect_eq(rft_cgroup_wait_detached(a, 2000), 0, "A's programs still attached");
	cr_expect_eq(rft_cgroup_wait_detached(b, 2000), 0, "B's programs still attached");
}

/*
 * N isolated allows X and Z; C (below N) isolated allows X and Y: C's traffic needs both, so
 * X passes and Y, Z (allowed by only one of them) are denied; N's own process is held to N's
 * list alone. Releasing C leaves N's list on C, releasing N frees both.
 */
Test(multi, nested_targets_pass_only_what_both_allow)
{
	static const unsigned short ports[] = {PORT_X, PORT_Y, PORT_Z};
	char n[PATH_MAX], c[PATH_MAX];
	struct rft_server srv;

	child_cg(n, "n");
	child_cg(c, "n/c");
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 3), 0);
	allow_port(n, PORT_X);
	allow_port(n, PORT_Z);
	allow_port(c, PORT_X);
	allow_port(c, PORT_Y);
	ON(NULL, n, "isolate", NULL);
	ON(NULL, c, "isolate", NULL);

	expect_all(&srv, c, PORT_X, false, "C, allowed by N and C");
	expect_all(&srv, c, PORT_Y, true, "C, allowed by C only");
	expect_all(&srv, c, PORT_Z, true, "C, allowed by N only");
	expect_all(&srv, n, PORT_Z, false, "N, allowed by N");
	expect_all(&srv, n, PORT_Y, true, "N, allowed by C only");
	nothing_attached(rft.cg);

	ON(NULL, c, "release", NULL);
	cr_expect_eq(target_isolated(n), 1, "releasing C released N");
	expect_all(&srv, c, PORT_Z, false, "C released, N allows");
	expect_all(&srv, c, PORT_Y, true, "C released, N denies");
	ON(NULL, n, "release", NULL);
	expect_all(&srv, c, PORT_Y, false, "both released");
	rft_server_stop(&srv);
}

/* ---- status --all and the agent ------------------------------------------------------- */

/* Is cgroup cg one of the target documents of `status --all --json`? */
static bool listed(json_t *targets, const char *cg)
{
	return rft_json_find(targets, "target.cgroup", cg) != NULL;
}

/*
 * status --all --json: every cgroup of isolated[] is listed as isolated, every one of free_[]
 * as not isolated, and no other target is isolated. NULL-terminated lists.
 */
static void expect_all_status(const char *const isolated[], const char *const free_[],
			      const char *what)
{
	char *out = NULL, *err = NULL;
	int ret = rft_cli(&out, &err, "status", "--all", "--json", NULL), j;
	json_t *doc, *targets, *t;
	size_t i;

	cr_assert_eq(ret, 0, "status --all --json: exit %d: %s", ret, err);
	doc = rft_json_load(out);
	targets = json_object_get(doc, "targets");
	cr_assert(json_is_array(targets), "no \"targets\" array: %s", out);
	json_array_foreach(targets, i, t)
	{
		const char *cg = rft_json_str_at(t, "target.cgroup");
		int iso = rft_json_bool_at(t, "isolated");
		bool want = false;

		cr_assert_not_null(cg, "%s: a target without its cgroup: %s", what, out);
		for (j = 0; isolated[j]; j++)
			want |= !strcmp(cg, isolated[j]);
		cr_expect_eq(iso, want, "%s: %s listed with isolated %d, expected %d", what, cg,
			     iso, want);
	}
	for (j = 0; isolated[j]; j++)
		cr_expect(listed(targets, isolated[j]), "%s: %s is not listed: %s", what,
			  isolated[j], out);
	for (j = 0; free_[j]; j++)
		cr_expect(listed(targets, free_[j]), "%s: %s is not listed: %s", what, free_[j],
			  out);
	json_decref(doc);
	free(out);
	free(err);
}

/*
 * Siblings A and B isolated, C loaded and not isolated, P never a target: status --all lists
 * A and B as isolated and nothing else (the home target rft.cg and C as not isolated).
 */
Test(multi, status_all_lists_exactly_the_isolated_targets)
{
	char p[PATH_MAX], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];

	siblings(p, a, b);
	child_cg(c, "p/c");
	allow_port(a, PORT_X);
	allow_port(b, PORT_Y);
	ON(NULL, c, "load", NULL);
	ON(NULL, a, "isolate", NULL);
	ON(NULL, b, "isolate", NULL);
	expect_all_status((const char *const[]){a, b, NULL}, (const char *const[]){rft.cg, c, NULL},
			  "A and B isolated");
	ON(NULL, a, "release", NULL);
	expect_all_status((const char *const[]){b, NULL}, (const char *const[]){rft.cg, a, c, NULL},
			  "A released");
	ON(NULL, b, "release", NULL);
	expect_all_status((const char *const[]){NULL}, (const char *const[]){rft.cg, a, b, c, NULL},
			  "both released");
}

/* What a reboot does: every pin is gone (links detach), the state dir stays. */
static void reboot(const char *const cgs[])
{
	char cmd[PATH_MAX * 2];
	char *argv[] = {"sh", "-c", cmd, NULL};
	int i;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rft.pin_dir);
	cr_assert_eq(rft_exec(NULL, argv, NULL, NULL), 0);
	for (i = 0; cgs[i]; i++)
		cr_assert_eq(rft_cgroup_wait_detached(cgs[i], 3000), 0,
			     "links of %s still attached", cgs[i]);
}

/*
 * A and B isolated with their own lists, C only loaded; after a simulated reboot the agent
 * (started for the home target) restores A and B, each with its own list, before it reports
 * its start; C stays free, P unaffected.
 */
Test(multi, agent_restores_every_target_after_a_reboot)
{
	static const unsigned short ports[] = {PORT_X, PORT_Y};
	char p[PATH_MAX], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
	struct rft_server srv;
	pid_t agent;

	siblings(p, a, b);
	child_cg(c, "p/c");
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	allow_port(a, PORT_X);
	allow_port(b, PORT_Y);
	ON(NULL, c, "load", NULL);
	ON(NULL, a, "isolate", "--comment", "before reboot");
	ON(NULL, b, "isolate", "--for", "1h", "--comment", "before reboot, timed");
	reboot((const char *const[]){a, b, c, NULL});
	expect_all(&srv, a, PORT_Y, false, "A after the reboot, no agent yet");
	expect_all(&srv, b, PORT_X, false, "B after the reboot, no agent yet");

	agent = rfp_agent_start();
	cr_assert_gt(agent, 0, "the agent did not start: %d", agent);
	/* restored before agent-start is recorded: no waiting */
	expect_all(&srv, a, PORT_X, false, "A restored, its port");
	expect_all(&srv, a, PORT_Y, true, "A restored, B's port");
	expect_all(&srv, b, PORT_Y, false, "B restored, its port");
	expect_all(&srv, b, PORT_X, true, "B restored, A's port");
	expect_all(&srv, c, PORT_Y, false, "C (loaded, not isolated before the reboot)");
	expect_all(&srv, p, PORT_X, false, "P (no target)");
	expect_all(&srv, rft.cg, PORT_Y, false, "the home target (not isolated)");
	nothing_attached(p); /* the agent loads its own target, rft.cg: nothing above it */
	expect_all_status((const char *const[]){a, b, NULL}, (const char *const[]){rft.cg, NULL},
			  "after the agent's restore");

	/* the agent keeps serving: a release through the CLI ends only that target */
	ON(NULL, a, "release", NULL);
	expect_all(&srv, a, PORT_Y, false, "A released under the agent");
	expect_all(&srv, b, PORT_X, true, "B under the agent after A's release");
	rfp_kill(agent);
	ON(NULL, b, "release", NULL);
	rft_server_stop(&srv);
}

/* ---- the packet guard: one filter per target on the same interface ----------------------- */

#define MARK_A "rf-multi-frame-a"
#define MARK_B "rf-multi-frame-b"

static unsigned int frames_after(struct rfp_sniffer *sn, unsigned int before, int ms)
{
	long t0 = rft_now_ms();

	while (rfp_sniffer_count(sn) == before && rft_now_ms() - t0 < ms)
		rft_msleep(50);
	return rfp_sniffer_count(sn);
}

/* Does one frame sent by worker w reach sniffer sn within ms? A send that fails (the guard's
 * drop may come back as ENOBUFS) is a frame that did not arrive. */
static bool frame_arrives(struct rfp_worker *w, struct rfp_sniffer *sn, int ms)
{
	unsigned int before = rfp_sniffer_count(sn);
	int sent = rfp_worker_call(w, 1);

	if (sent <= 0)
		cr_log_info("sendto on the packet socket: %s", strerror(-sent));
	return frames_after(sn, before, ms) != before;
}

/*
 * A isolated with the packet guard, then B loaded with its own (newer, so first-running) filter
 * on the same interface, not isolated: B's filter must pass A's frames on to A's filter, which
 * drops them; B's frames reach the peer.
 */
Test(multi, packet_guard_of_one_target_spares_its_sibling)
{
	char p[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	struct rfp_sniffer sa, sb;
	struct rfp_worker wa, wb;

	siblings(p, a, b);
	cr_assert_eq(rfp_sniffer_start(&sa, rft.peer_ns, RFP_ETH_P_TEST, MARK_A), 0);
	cr_assert_eq(rfp_sniffer_start(&sb, rft.peer_ns, RFP_ETH_P_TEST, MARK_B), 0);
	/* the packet sockets exist before isolation, as a running process's would */
	cr_assert_eq(rfp_worker_start(&wa, rft.dev_ns, a, rfp_frame_worker, (void *)MARK_A), 0);
	cr_assert_eq(rfp_worker_start(&wb, rft.dev_ns, b, rfp_frame_worker, (void *)MARK_B), 0);
	cr_assert(frame_arrives(&wa, &sa, 2000), "not isolated: no frame of A arrived");
	cr_assert(frame_arrives(&wb, &sb, 2000), "not isolated: no frame of B arrived");

	allow_port(a, PORT_X);
	ON(guard_on, a, "isolate", NULL);
	ON(guard_on, b, "load", NULL);
	cr_expect(!frame_arrives(&wa, &sa, RFT_DENY_WAIT_MS),
		  "A isolated: its frame reached the peer");
	cr_expect(!frame_arrives(&wa, &sa, RFT_DENY_WAIT_MS),
		  "A isolated: its frame reached the peer");
	cr_expect(frame_arrives(&wb, &sb, 2000), "B not isolated: its frame was dropped");
	nothing_attached(p);
	nothing_attached(rft.cg);

	ON(guard_on, a, "release", NULL);
	cr_expect(frame_arrives(&wa, &sa, 2000), "A released: its frame was dropped");
	rfp_worker_stop(&wa);
	rfp_worker_stop(&wb);
	rfp_sniffer_stop(&sa);
	rfp_sniffer_stop(&sb);
}

/* ---- another agent toggles one target: the recipe of docs/ABI.md, run verbatim ---------- */

/* After the suite's setup: skip without bpftool, tearing down first (a skip runs no .fini). */
static void need_bpftool(void)
{
	char *argv[] = {"bpftool", "version", NULL};

	if (rft_exec(NULL, argv, NULL, NULL) != 0) {
		rft_teardown();
		rft_require_tool("bpftool");
	}
}

Test(multi, per_target_toggle_by_another_agent_from_the_abi_doc, .init = need_bpftool)
{
	static const unsigned short ports[] = {PORT_Y};
	char p[PATH_MAX], x[PATH_MAX], s[PATH_MAX], *isolate, *release;
	struct rft_server srv;

	siblings(p, x, s);
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	ON(NULL, s, "load", NULL); /* a loaded sibling, not isolated: its switch stays off */
	isolate = rft_abi_block("\n## Per-target toggle", 0);
	release = rft_abi_block("\n## Per-target toggle", 1);

	rft_abi_run(isolate, x);
	cr_expect_eq(target_isolated(x), 1, "status does not see the bpftool isolate of X");
	cr_expect_eq(target_isolated(s), 0, "the sibling was isolated too");
	expect_all(&srv, x, PORT_Y, true, "X isolated by bpftool");
	expect_all(&srv, s, PORT_Y, false, "sibling of X");
	expect_all(&srv, p, PORT_Y, false, "parent of X");
	nothing_attached(p);
	nothing_attached(rft.cg);

	rft_abi_run(release, x);
	cr_expect_eq(target_isolated(x), 0, "status does not see the bpftool release of X");
	expect_all(&srv, x, PORT_Y, false, "X released by bpftool");
	free(isolate);
	free(release);
	rft_server_stop(&srv);
}
