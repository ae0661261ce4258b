// SPDX-License-Identifier: GPL-2.0-only
/*
 * Target selectors end to end: --unit, --container and --pid resolve (searching the whole
 * cgroup2 tree) to a cgroup the test made below its own cgroup, isolate it, and then a process
 * in that cgroup is held to the allow-list (EPERM, the peer receives nothing) while a process in
 * the test cgroup outside the target is not affected; IPv4 and IPv6. A selector that matches
 * nothing or several exits 2, lists the candidates and changes nothing.
 *
 * Safety: every cgroup made here is below rft.cg, and before any command that attaches, status
 * must have reported that the selector resolves to the expected cgroup below rft.cg.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_proc.h"

#define PORT_ALLOWED 8101
#define PORT_OTHER   8102

TestSuite(targets, .init = rft_setup, .fini = rft_teardown, .timeout = 90);

/* n random lower-case hex digits into out (n + 1 bytes). */
static void random_hex(char *out, size_t n)
{
	unsigned char b[64];
	size_t i;

	cr_assert_leq(n, sizeof(b));
	cr_assert_eq(getrandom(b, n, 0), (ssize_t)n);
	for (i = 0; i < n; i++)
		out[i] = "0123456789abcdef"[b[i] & 15];
	out[n] = '\0';
}

/* Make cgroup rft.cg/rel (and its parents below rft.cg); its path into out. */
static void make_cg(char *out, size_t len, const char *rel)
{
	char p[PATH_MAX * 2];
	size_t n;

	for (n = 0; rel[n]; n++) {
		if (rel[n] != '/')
			continue;
		snprintf(p, sizeof(p), "%s/%s", rft.cg, rel);
		p[strlen(rft.cg) + 1 + n] = '\0'; /* the parent up to this '/' */
		cr_assert_eq(rft_cgroup_create(p), 0, "mkdir %s", p);
	}
	cr_assert_lt((size_t)snprintf(out, len, "%s/%s", rft.cg, rel), len);
	cr_assert_eq(rft_cgroup_create(out), 0, "mkdir %s", out);
}

/*
 * status --json with selector opt=val must exit 0 and name cgroup `want` (below rft.cg): the
 * guard before anything that attaches.
 */
static void expect_resolves(const char *opt, const char *val, const char *want)
{
	char *out = NULL, *err = NULL;
	json_t *doc;
	int ret;

	cr_assert(!strncmp(want, rft.cg, strlen(rft.cg)) && want[strlen(rft.cg)] == '/',
		  "test bug: %s is not below %s", want, rft.cg);
	ret = rft_cli_target(&out, &err, opt, val, "status", "--json", NULL);
	cr_assert_eq(ret, 0, "%s %s status: exit %d\n%s", opt, val, ret, err);
	doc = rft_json_load(out);
	cr_assert_str_eq(rft_json_str_at(doc, "target.cgroup") ?: "(none)", want,
			 "%s %s must resolve to %s: %s", opt, val, want, out);
	cr_assert_str_eq(rft_json_str_at(doc, "target.selector") ?: "(none)", opt + 2, "%s", out);
	json_decref(doc);
	free(out);
	free(err);
}

/* Run the CLI with selector opt=val and args; assert exit `want`; stderr returned (free it). */
static char *cli_target(int want, const char *opt, const char *val, const char *a1, const char *a2)
{
	char *out = NULL, *err = NULL;
	int ret = rft_cli_target(&out, &err, opt, val, a1, a2, NULL);

	cr_assert_eq(ret, want, "%s %s %s: exit %d, expected %d\nstdout: %s\nstderr: %s", opt, val,
		     a1, ret, want, out, err);
	free(out);
	return err;
}

/*
 * The whole story for one selector: it resolves to `target` (below rft.cg); allow rules and
 * isolate go through the selector; then `target` is held to the allow-list while rft.cg (its
 * ancestor, outside the target) is not affected; release ends it.
 */
static void isolate_through(const char *opt, const char *val, const char *target)
{
	static const unsigned short ports[] = {PORT_ALLOWED, PORT_OTHER};
	static const char *const rules[][3] = {
	    {RFT_PEER_IP4, "tcp"},
	    {RFT_PEER_IP4, "udp"},
	    {RFT_PEER_IP6, "tcp"},
	    {RFT_PEER_IP6, "udp"},
	};
	struct rft_server srv;
	char *out = NULL, *err = NULL;
	size_t i;
	int ret;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	expect_resolves(opt, val, target);
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		ret = rft_cli_target(&out, &err, opt, val, "allow", "add", "net", rules[i][0],
				     "proto", rules[i][1], "port", "8101", "dir", "out", NULL);
		cr_assert_eq(ret, 0, "allow add: %s", err);
		free(out);
		free(err);
	}
	ret = rft_cli_target(&out, &err, opt, val, "isolate", "--comment", "one target", NULL);
	cr_assert_eq(ret, 0, "%s %s isolate: %s", opt, val, err);
	cr_expect(strstr(out, target) != NULL, "isolate names the cgroup %s: %s", target, out);
	free(out);
	free(err);

	for (i = 0; i < RFP_NFLOWS; i++) {
		rfp_expect_flow(&srv, &rfp_flows[i], target, PORT_ALLOWED, false,
				"target, allowed port");
		rfp_expect_flow(&srv, &rfp_flows[i], target, PORT_OTHER, true,
				"target, other port");
		rfp_expect_flow(&srv, &rfp_flows[i], rft.cg, PORT_OTHER, false,
				"outside the target");
	}

	free(cli_target(0, opt, val, "release", NULL));
	for (i = 0; i < RFP_NFLOWS; i++)
		rfp_expect_flow(&srv, &rfp_flows[i], target, PORT_OTHER, false, "target, released");
	rft_server_stop(&srv);
}

Test(targets, container_by_prefix_isolates_only_the_container)
{
	char id[65], rel[128], dir[PATH_MAX], prefix[13];

	random_hex(id, 64);
	snprintf(rel, sizeof(rel), "system.slice/docker-%s.scope", id);
	make_cg(dir, sizeof(dir), rel);
	snprintf(prefix, sizeof(prefix), "%.12s", id);
	isolate_through("--container", prefix, dir);
}

Test(targets, unit_with_escaped_name_isolates_only_the_unit)
{
	char rel[128], dir[PATH_MAX], name[64];

	/* systemd's escaping: the directory name holds "\x2d" literally */
	snprintf(name, sizeof(name), "rf\\x2dtest-%d-web", (int)getpid());
	snprintf(rel, sizeof(rel), "system.slice/system-rf.slice/%s.service", name);
	make_cg(dir, sizeof(dir), rel);
	isolate_through("--unit", name, dir);
}

Test(targets, pid_isolates_the_cgroup_of_that_process)
{
	char dir[PATH_MAX], pid[16];
	pid_t child;
	int ctl;

	make_cg(dir, sizeof(dir), "app.slice/app.scope");
	child = rft_fork_in(NULL, dir, &ctl);
	if (child == 0) {
		char c;

		while (read(ctl, &c, 1) > 0) /* until the test closes ctl */
			;
		_exit(0);
	}
	cr_assert_gt(child, 0, "fork into %s: %d", dir, child);
	snprintf(pid, sizeof(pid), "%d", (int)child);
	/* the clients are other processes of that cgroup: the selector chose the cgroup */
	isolate_through("--pid", pid, dir);
	rft_child_close(&child, &ctl);
}

Test(targets, container_layouts_and_ids_resolve)
{
	char id[65], id2[65], rel[200], docker[PATH_MAX], podman[PATH_MAX], inner[PATH_MAX];

	random_hex(id, 64);
	random_hex(id2, 64);
	snprintf(rel, sizeof(rel), "system.slice/docker-%s.scope", id);
	make_cg(docker, sizeof(docker), rel);
	/* Podman with an inner cgroup, beside its monitor scope */
	snprintf(rel, sizeof(rel), "machine.slice/libpod-conmon-%s.scope", id2);
	make_cg(inner, sizeof(inner), rel);
	snprintf(rel, sizeof(rel), "machine.slice/libpod-%s.scope", id2);
	make_cg(podman, sizeof(podman), rel);
	snprintf(rel, sizeof(rel), "machine.slice/libpod-%s.scope/container", id2);
	make_cg(inner, sizeof(inner), rel);

	expect_resolves("--container", id, docker);
	snprintf(rel, sizeof(rel), "docker://%s", id);
	expect_resolves("--container", rel, docker);
	snprintf(rel, sizeof(rel), "%.16s", id2);
	expect_resolves("--container", rel, podman);
	/* upper case, as someone may paste it */
	for (size_t i = 0; i < 16; i++)
		rel[i] = (char)(rel[i] >= 'a' ? rel[i] - 32 : rel[i]);
	expect_resolves("--container", rel, podman);
}

Test(targets, ambiguous_or_missing_exit_2_list_candidates_and_change_nothing)
{
	char shared[17], a[65], b[65], rel[200], da[PATH_MAX], db[PATH_MAX], unit[64], *err;
	struct stat st;

	random_hex(shared, 16);
	random_hex(a, 64);
	random_hex(b, 64);
	memcpy(a, shared, 16);
	memcpy(b, shared, 16);
	snprintf(rel, sizeof(rel), "system.slice/docker-%s.scope", a);
	make_cg(da, sizeof(da), rel);
	snprintf(rel, sizeof(rel), "kubepods.slice/cri-containerd-%s.scope", b);
	make_cg(db, sizeof(db), rel);

	/* an ambiguous prefix: exit 2 before anything is loaded, both candidates listed */
	err = cli_target(2, "--container", shared, "isolate", "--force");
	cr_expect(strstr(err, "matches 2 cgroups") && strstr(err, da + strlen(rft.cg2)) &&
		      strstr(err, db + strlen(rft.cg2)),
		  "both candidates listed, as --cgroup paths: %s", err);
	free(err);
	cr_expect_neq(stat(rft.pin_dir, &st), 0, "an ambiguous isolate created %s", rft.pin_dir);
	err = cli_target(2, "--container", shared, "status", NULL);
	free(err);

	/* nothing matches: says so and where it looked */
	random_hex(rel, 64);
	err = cli_target(2, "--container", rel, "isolate", "--force");
	cr_expect(strstr(err, "no container") && strstr(err, rft.cg2), "%s", err);
	free(err);
	err = cli_target(2, "--container", "zz-not-hex", "status", NULL);
	cr_expect(strstr(err, "not a container id"), "%s", err);
	free(err);

	/* a unit in two places */
	snprintf(unit, sizeof(unit), "rf-test-%d-dup", (int)getpid());
	snprintf(rel, sizeof(rel), "a.slice/%s.service", unit);
	make_cg(da, sizeof(da), rel);
	snprintf(rel, sizeof(rel), "b.slice/%s.service", unit);
	make_cg(db, sizeof(db), rel);
	err = cli_target(2, "--unit", unit, "allow", "list");
	cr_expect(strstr(err, "matches 2 cgroups") && strstr(err, da + strlen(rft.cg2)) &&
		      strstr(err, db + strlen(rft.cg2)),
		  "%s", err);
	free(err);
	snprintf(unit, sizeof(unit), "rf-test-%d-none", (int)getpid());
	err = cli_target(2, "--unit", unit, "isolate", "--force");
	cr_expect(strstr(err, "no cgroup of unit") && strstr(err, ".service") &&
		      strstr(err, rft.cg2),
		  "%s", err);
	free(err);
	cr_expect_neq(stat(rft.pin_dir, &st), 0, "a refused isolate created %s", rft.pin_dir);
}

Test(targets, pid_gone_root_or_malformed_exit_2)
{
	char pid[16], *err;
	pid_t child = fork();

	cr_assert_geq(child, 0);
	if (child == 0)
		_exit(0);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	snprintf(pid, sizeof(pid), "%d", (int)child);
	err = cli_target(2, "--pid", pid, "isolate", "--force");
	cr_expect(strstr(err, "no process with pid"), "%s", err);
	free(err);
	/* kthreadd lives in the cgroup2 root: --pid must not quietly become the whole host */
	err = cli_target(2, "--pid", "2", "status", NULL);
	cr_expect(strstr(err, "cgroup2 root") && strstr(err, "whole host"), "%s", err);
	free(err);
	err = cli_target(2, "--pid", "12x", "status", NULL);
	cr_expect(strstr(err, "not a process id"), "%s", err);
	free(err);
}

Test(targets, one_selector_at_most)
{
	char *out = NULL, *err = NULL;

	/* rft_cli() passes --cgroup <cg> first */
	cr_expect_eq(rft_cli(&out, &err, "--unit", "nginx", "status", NULL), 2);
	cr_expect(strstr(err, "one target at a time: --cgroup and --unit"), "%s", err);
	free(out);
	free(err);
	cr_expect_eq(rft_cli(&out, &err, "status", "--pid", "1", NULL), 2, "after the command too");
	free(out);
	free(err);
}

/* RINGFENCE_UNIT / RINGFENCE_CONTAINER select like the options; the command line wins. */
Test(targets, environment_selectors)
{
	char id[65], rel[128], dir[PATH_MAX], *out = NULL, *err = NULL;
	const char *bin = getenv("RINGFENCE_BIN");
	char *const argv[] = {(char *)bin, "--pin-dir", rft.pin_dir, "--state-dir", rft.state_dir,
			      "--config",  rft.config,	"status",    "--json",	    NULL};
	char *const argv_opt[] = {
	    (char *)bin,   "--container", id,	      "--pin-dir", rft.pin_dir, "--state-dir",
	    rft.state_dir, "--config",	  rft.config, "status",	   "--json",	NULL};
	json_t *doc;
	int ret;

	random_hex(id, 64);
	snprintf(rel, sizeof(rel), "system.slice/docker-%s.scope", id);
	make_cg(dir, sizeof(dir), rel);
	setenv("RINGFENCE_CGROUP", "", 1); /* empty: unset */
	setenv("RINGFENCE_CONTAINER", id, 1);
	ret = rft_exec(NULL, argv, &out, &err);
	cr_expect_eq(ret, 0, "%s", err);
	doc = rft_json_load(out);
	cr_expect_str_eq(rft_json_str_at(doc, "target.selector") ?: "", "container", "%s", out);
	cr_expect_str_eq(rft_json_str_at(doc, "target.cgroup") ?: "", dir, "%s", out);
	json_decref(doc);
	free(out);
	free(err);

	setenv("RINGFENCE_UNIT", "rf-test-none", 1);
	ret = rft_exec(NULL, argv, &out, &err);
	cr_expect_eq(ret, 2, "two target variables: %s", err);
	cr_expect(strstr(err, "RINGFENCE_UNIT and RINGFENCE_CONTAINER") ||
		      strstr(err, "RINGFENCE_CONTAINER and RINGFENCE_UNIT"),
		  "%s", err);
	free(out);
	free(err);

	ret = rft_exec(NULL, argv_opt, &out, &err);
	cr_expect_eq(ret, 0, "the option wins over the variables: %s", err);
	doc = rft_json_load(out);
	cr_expect_str_eq(rft_json_str_at(doc, "target.cgroup") ?: "", dir, "%s", out);
	json_decref(doc);
	free(out);
	free(err);
	unsetenv("RINGFENCE_UNIT");
	unsetenv("RINGFENCE_CONTAINER");
	unsetenv("RINGFENCE_CGROUP");
}
