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
#include <dirent.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_proc.h"
#include "rf_target.h"
#include "rf_util.h"

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

/* ---- a target is its cgroup (by id), never the spelling of its path ------------------------- */

#define SEL_MAX (PATH_MAX + 64) /* a cgroup path spelled with a suffix */

/* `status --json` through --cgroup sel: exit 0, the "isolated" value; the output into *out
 * (free it) when out is not NULL. */
static int isolated_via(const char *sel, char **out)
{
	char *o = NULL, *err = NULL;
	int ret = rft_cli_target(&o, &err, "--cgroup", sel, "status", "--json", NULL), v;

	cr_assert_eq(ret, 0, "--cgroup %s status: exit %d\n%s", sel, ret, err);
	v = rft_json_bool(o, "isolated");
	cr_assert_neq(v, -1, "%s", o);
	free(err);
	if (out)
		*out = o;
	else
		free(o);
	return v;
}

/* Entries of directory <base>/targets (0 when it does not exist). */
static int count_targets(const char *base)
{
	char dir[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/targets", base);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * Issue 20.1: a --cgroup (or RINGFENCE_CGROUP) that names no cgroup is exit 2 for every command
 * and touches nothing: the home target stays isolated, its confirmation pending, its history
 * and rules as they were (before: release released the home target and exited 0).
 */
Test(targets, unresolvable_cgroup_touches_nothing_for_every_command)
{
	static const char *const cmds[][5] = {
	    {"release"},
	    {"unisolate", "--comment", "typo"},
	    {"confirm"},
	    {"unload", "--force"},
	    {"isolate", "--force"},
	    {"load"},
	    {"allow", "add", "net", "198.51.100.7/32"},
	    {"allow", "del", "net", RFT_PEER_IP4},
	    {"allow", "list"},
	    {"status"},
	    {"history"},
	    {"events"},
	    {"metrics"},
	};
	char typo[SEL_MAX], rel[SEL_MAX], env[SEL_MAX + 32], *before, *after, *hb, *ha;
	char *out = NULL, *err = NULL;
	char *const envs[] = {env, NULL};
	const char *sels[2];
	size_t i, k;

	snprintf(typo, sizeof(typo), "%s/docker-typo.scope", rft.cg);
	snprintf(rel, sizeof(rel), "%s/typo", rft.cg + strlen(rft.cg2) + 1); /* no leading '/' */
	sels[0] = typo;
	sels[1] = rel;
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, NULL);
	rft_cli_ok(0, "isolate", "--confirm-within", "10m", "--comment", "home", NULL);
	cr_assert_eq(rft_cli(&before, NULL, "status", "--json", NULL), 0);
	cr_assert(strstr(before, "\"confirm_deadline\":\""), "confirmation pending: %s", before);
	cr_assert_eq(rft_cli(&hb, NULL, "history", "--json", NULL), 0);

	for (k = 0; k < 2; k++)
		for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			int ret = rft_cli_target(&out, &err, "--cgroup", sels[k], cmds[i][0],
						 cmds[i][1], cmds[i][2], cmds[i][3], NULL);

			cr_expect_eq(ret, 2, "--cgroup %s %s: exit %d\nstdout: %s\nstderr: %s",
				     sels[k], cmds[i][0], ret, out, err);
			cr_expect(strstr(err, "not usable") && strstr(err, "--cgroup"),
				  "names the problem and the fix: %s", err);
			free(out);
			free(err);
		}
	snprintf(env, sizeof(env), "RINGFENCE_CGROUP=%s", typo);
	cr_expect_eq(rft_cli_target_env(envs, &out, &err, "release", NULL), 2,
		     "RINGFENCE_CGROUP: %s", err);
	free(out);
	free(err);

	cr_assert_eq(rft_cli(&after, NULL, "status", "--json", NULL), 0);
	cr_expect(rft_json_bool(after, "isolated") == 1 && strstr(after, "\"confirm_deadline\":\""),
		  "the home target stays isolated and its confirmation pending: %s", after);
	cr_assert_eq(rft_cli(&ha, NULL, "history", "--json", NULL), 0);
	cr_expect_str_eq(ha, hb, "the home target's history is untouched");
	cr_expect_eq(count_targets(rft.state_dir), 0, "no state made for the typo");
	cr_expect_eq(count_targets(rft.pin_dir), 0, "no pins made for the typo");
	free(before);
	free(after);
	free(hb);
	free(ha);
}

/*
 * Issue 20.2: "X", "X/", "X/.", "X//" and X relative to the cgroup2 mount without a leading '/'
 * (issue 16) are one target: isolated through one spelling, it is isolated through every
 * other, released through another, with one state dir and one pin dir; IPv4 and IPv6.
 */
Test(targets, spellings_of_one_cgroup_are_one_target)
{
	static const unsigned short ports[] = {PORT_ALLOWED, PORT_OTHER};
	char x[PATH_MAX], slash[SEL_MAX], dot[SEL_MAX], dslash[SEL_MAX], rel[SEL_MAX];
	const char *spellings[] = {x, slash, dot, dslash, rel};
	char *out = NULL, *err = NULL;
	struct rft_server srv;
	size_t i;

	cr_assert_eq(rfp_cgroup_child("one", x, sizeof(x)), 0);
	snprintf(slash, sizeof(slash), "%s/", x);
	snprintf(dot, sizeof(dot), "%s/.", x);
	snprintf(dslash, sizeof(dslash), "%s//", x);
	snprintf(rel, sizeof(rel), "%s", x + strlen(rft.cg2) + 1);
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);

	cr_assert_eq(rft_cli_target(&out, &err, "--cgroup", slash, "allow", "add", "net",
				    RFT_PEER_IP4, "port", "8101", NULL),
		     0, "%s", err);
	free(out);
	free(err);
	cr_assert_eq(rft_cli_target(&out, &err, "--cgroup", rel, "allow", "add", "net",
				    RFT_PEER_IP6, "port", "8101", NULL),
		     0, "a path relative to the cgroup2 mount: %s", err);
	free(out);
	free(err);
	cr_assert_eq(rft_cli_target(&out, &err, "--cgroup", dot, "isolate", NULL), 0,
		     "the rules added through two other spellings are this target's: %s", err);
	free(out);
	free(err);
	for (i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		char *o, want[SEL_MAX];

		cr_expect_eq(isolated_via(spellings[i], &o), 1, "isolated through %s",
			     spellings[i]);
		snprintf(want, sizeof(want), "\"cgroup\":\"%s\"", x);
		cr_expect(strstr(o, want) != NULL, "canonical cgroup %s: %s", x, o);
		free(o);
	}
	cr_expect_eq(count_targets(rft.state_dir), 1, "one state dir for every spelling");
	cr_expect_eq(count_targets(rft.pin_dir), 1, "one pin dir for every spelling");
	cr_expect_eq(rft_status_isolated(), 0, "the home target is not isolated");
	for (i = 0; i < RFP_NFLOWS; i++) {
		rfp_expect_flow(&srv, &rfp_flows[i], x, PORT_ALLOWED, false, "allowed port");
		rfp_expect_flow(&srv, &rfp_flows[i], x, PORT_OTHER, true, "other port");
	}

	cr_assert_eq(rft_cli_target(&out, &err, "--cgroup", dslash, "release", NULL), 0, "%s", err);
	cr_expect(strstr(out, "released") != NULL, "released through X//: %s", out);
	free(out);
	free(err);
	for (i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++)
		cr_expect_eq(isolated_via(spellings[i], NULL), 0, "released through %s",
			     spellings[i]);
	for (i = 0; i < RFP_NFLOWS; i++)
		rfp_expect_flow(&srv, &rfp_flows[i], x, PORT_OTHER, false, "released");
	rft_server_stop(&srv);
}

/* The home target spelled "HOME/." or "HOME//" is the home target: its rules, its state. */
Test(targets, home_spelled_oddly_is_the_home_target)
{
	char dot[SEL_MAX], dslash[SEL_MAX], *out = NULL, *err = NULL;

	snprintf(dot, sizeof(dot), "%s/.", rft.cg);
	snprintf(dslash, sizeof(dslash), "%s//", rft.cg);
	cr_assert_eq(rft_cli_target(&out, &err, "--cgroup", dot, "allow", "add", "net",
				    "198.51.100.9/32", NULL),
		     0, "%s", err);
	free(out);
	free(err);
	cr_assert_eq(rft_cli_target(&out, &err, "--cgroup", dslash, "allow", "add", "net",
				    "2001:db8:9::/48", NULL),
		     0, "%s", err);
	free(out);
	free(err);
	cr_assert_eq(rft_cli(&out, NULL, "allow", "list", NULL), 0);
	cr_expect(strstr(out, "198.51.100.9/32") && strstr(out, "2001:db8:9::/48"),
		  "rules added through HOME/. and HOME// are the home target's: %s", out);
	free(out);
	cr_expect_eq(count_targets(rft.state_dir), 0, "no second target for the home");
	cr_expect_eq(count_targets(rft.pin_dir), 0, "no second pin dir for the home");
}

/*
 * The cgroup2 root spelled "MNT//", "MNT/." or "HOME/.." contains the home target: refused
 * (exit 2) for every command, never a second target on the root (checked with status only,
 * which attaches nothing).
 */
Test(targets, root_spelled_oddly_is_refused_above_the_home)
{
	char sels[3][SEL_MAX], *out = NULL, *err = NULL;
	struct stat st;
	size_t i;

	snprintf(sels[0], sizeof(sels[0]), "%s//", rft.cg2);
	snprintf(sels[1], sizeof(sels[1]), "%s/.", rft.cg2);
	snprintf(sels[2], sizeof(sels[2]), "%s/..", rft.cg);
	for (i = 0; i < 3; i++) {
		int ret = rft_cli_target(&out, &err, "--cgroup", sels[i], "status", "--json", NULL);

		cr_expect_eq(ret, 2, "--cgroup %s: exit %d\n%s%s", sels[i], ret, out, err);
		cr_expect(strstr(err, "contains the home target") != NULL, "%s", err);
		free(out);
		free(err);
	}
	cr_expect_neq(stat(rft.pin_dir, &st), 0, "nothing pinned");
}

/* A symlink to a cgroup selects that cgroup (not the home target); IPv4 and IPv6. */
Test(targets, symlink_to_a_cgroup_is_that_cgroup)
{
	static const unsigned short ports[] = {PORT_OTHER};
	char x[PATH_MAX], link[SEL_MAX], *out = NULL, *err = NULL;
	struct rft_server srv;
	size_t i;

	cr_assert_eq(rfp_cgroup_child("linked", x, sizeof(x)), 0);
	snprintf(link, sizeof(link), "%s/cg-link", rft.state_dir);
	cr_assert_eq(symlink(x, link), 0, "symlink: %s", strerror(errno));
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	cr_assert_eq(rft_cli_target(&out, &err, "--cgroup", link, "isolate", "--force", NULL), 0,
		     "%s", err);
	free(out);
	free(err);
	cr_expect_eq(isolated_via(x, NULL), 1, "the linked cgroup is isolated");
	cr_expect_eq(rft_status_isolated(), 0, "the home target is not");
	cr_expect_eq(count_targets(rft.pin_dir), 1, "pins of its own");
	for (i = 0; i < RFP_NFLOWS; i++) {
		rfp_expect_flow(&srv, &rfp_flows[i], x, PORT_OTHER, true, "linked cgroup");
		rfp_expect_flow(&srv, &rfp_flows[i], rft.cg, PORT_OTHER, false, "home target");
	}
	cr_assert_eq(rft_cli_target(&out, &err, "--cgroup", link, "release", NULL), 0, "%s", err);
	free(out);
	free(err);
	cr_expect_eq(isolated_via(x, NULL), 0, "released through the link");
	rft_server_stop(&srv);
}

/*
 * Issue 20.3: `allow add cgroup` of the target or an ancestor, however spelled ("MNT/.",
 * "X/..", "HOME/./X"), is refused by id; a sibling spelled "Y/." is allowed. The refused
 * rules allowed nothing: the target stays cut off (IPv4 and IPv6).
 */
Test(targets, allow_cgroup_refuses_ancestors_however_spelled)
{
	static const unsigned short ports[] = {PORT_OTHER};
	char x[PATH_MAX], y[PATH_MAX], bad[4][SEL_MAX], ok[SEL_MAX];
	char *out = NULL, *err = NULL;
	struct rft_server srv;
	size_t i;

	cr_assert_eq(rfp_cgroup_child("x", x, sizeof(x)), 0);
	cr_assert_eq(rfp_cgroup_child("y", y, sizeof(y)), 0);
	snprintf(bad[0], sizeof(bad[0]), "%s/.", rft.cg2);
	snprintf(bad[1], sizeof(bad[1]), "%s//", rft.cg2);
	snprintf(bad[2], sizeof(bad[2]), "%s/..", x);
	snprintf(bad[3], sizeof(bad[3]), "%s/./x/", rft.cg);
	snprintf(ok, sizeof(ok), "%s/.", y);
	for (i = 0; i < 4; i++) {
		int ret = rft_cli_target(&out, &err, "--cgroup", x, "allow", "add", "cgroup",
					 bad[i], NULL);

		cr_expect_neq(ret, 0, "allow add cgroup %s must be refused: %s", bad[i], out);
		cr_expect(strstr(err, "contains every isolated process") != NULL, "%s", err);
		free(out);
		free(err);
	}
	cr_assert_eq(rft_cli_target(&out, &err, "--cgroup", x, "allow", "add", "cgroup", ok, NULL),
		     0, "a sibling is allowed: %s", err);
	free(out);
	free(err);
	cr_assert_eq(rft_cli_target(&out, &err, "--cgroup", x, "allow", "list", NULL), 0);
	cr_expect(strstr(out, "cgroup") && strstr(out, y) && !strstr(out, bad[0]) &&
		      !strstr(out, bad[2]),
		  "only the sibling is listed: %s", out);
	free(out);
	free(err);

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	cr_assert_eq(rft_cli_target(&out, &err, "--cgroup", x, "isolate", NULL), 0, "%s", err);
	free(out);
	free(err);
	for (i = 0; i < RFP_NFLOWS; i++) {
		rfp_expect_flow(&srv, &rfp_flows[i], x, PORT_OTHER, true, "target");
		rfp_expect_flow(&srv, &rfp_flows[i], y, PORT_OTHER, false, "allowed sibling");
	}
	rft_server_stop(&srv);
}

/* ---- selectors a subtree owner cannot exhaust (issue 21.4) ----------------------------------- */

/* Hand cgroup dir and everything below it to uid 1000, as systemd's Delegate= does. */
static void delegate(const char *dir)
{
	char *const argv[] = {"chown", "-R", "1000:1000", (char *)dir, NULL};

	cr_assert_eq(rft_exec(NULL, argv, NULL, NULL), 0, "chown -R %s", dir);
}

/* n nested cgroups below dir (n0/n1/...): deeper than the search goes. */
static void nest(const char *dir, int n)
{
	char p[PATH_MAX];
	size_t len = (size_t)snprintf(p, sizeof(p), "%s", dir);
	int i;

	for (i = 0; i < n && len + 4 < sizeof(p); i++) {
		len += (size_t)snprintf(p + len, sizeof(p) - len, "/n%d", i % 10);
		cr_assert_eq(rft_cgroup_create(p), 0, "mkdir %s", p);
	}
}

/*
 * V3: a rootless container (in a delegated subtree) isolated with --confirm-within; its owner
 * then nests 40 cgroups so that no search of the subtree can decide. confirm and release by
 * --container still reach the isolated container, by the cgroup id recorded at isolate time
 * (before: "stopped at its limits", exit 1, and the isolation lapsed). A container of that
 * subtree that was never isolated is honestly not found (exit 1). IPv4 and IPv6.
 */
Test(targets, isolated_container_in_an_exhausted_subtree_is_found_by_its_record)
{
	static const unsigned short ports[] = {PORT_OTHER};
	char id[65], id2[65], user[SEL_MAX], chain[SEL_MAX + 8], rel[200], dir[PATH_MAX],
	    dir2[PATH_MAX];
	char *out = NULL, *err;
	struct rft_server srv;
	size_t i;
	int ret;

	random_hex(id, 64);
	random_hex(id2, 64);
	snprintf(rel, sizeof(rel), "user@1000.service/user.slice/libpod-%s.scope", id);
	make_cg(dir, sizeof(dir), rel);
	snprintf(rel, sizeof(rel), "user@1000.service/user.slice/libpod-%s.scope", id2);
	make_cg(dir2, sizeof(dir2), rel);
	snprintf(user, sizeof(user), "%s/user@1000.service", rft.cg);
	delegate(user);
	expect_resolves("--container", id, dir);
	free(cli_target(0, "--container", id, "isolate", "--confirm-within=10m"));
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	for (i = 0; i < RFP_NFLOWS; i++) {
		rfp_expect_flow(&srv, &rfp_flows[i], dir, PORT_OTHER, true, "isolated container");
		rfp_expect_flow(&srv, &rfp_flows[i], dir2, PORT_OTHER, false, "its neighbour");
	}

	/* kept short: other test runs on this machine search the whole tree too */
	nest(user, 40);
	ret = rft_cli_target(&out, &err, "--container", id, "confirm", NULL);
	cr_expect_eq(ret, 0, "confirm by --container: exit %d\n%s", ret, err);
	cr_expect(strstr(err, "recorded when it was isolated") && strstr(err, dir),
		  "says it used the record: %s", err);
	free(out);
	free(err);
	ret = rft_cli_target(&out, &err, "--container", id, "status", "--json", NULL);
	cr_expect_eq(ret, 0, "%s", err);
	cr_expect(rft_json_bool(out, "isolated") == 1 && strstr(out, "\"confirm_deadline\":null"),
		  "isolated and confirmed: %s", out);
	free(out);
	free(err);
	err = cli_target(1, "--container", id2, "status", NULL);
	cr_expect(strstr(err, "stopped at its limits") != NULL, "%s", err);
	free(err);
	free(cli_target(0, "--container", id, "release", NULL));
	snprintf(chain, sizeof(chain), "%s/n0", user);
	cr_expect_eq(rft_cgroup_remove(chain), 0);

	for (i = 0; i < RFP_NFLOWS; i++)
		rfp_expect_flow(&srv, &rfp_flows[i], dir, PORT_OTHER, false, "released");
	rft_server_stop(&srv);
}

/*
 * --container asks the container runtimes first (`inspect`: full id and init pid), so a
 * container whose id also names a stale cgroup elsewhere still selects its own; an answer
 * for another container is not taken (the search decides: ambiguous, exit 2). The runtime is
 * a stand-in script ($RINGFENCE_CONTAINER_RUNTIMES).
 */
Test(targets, container_cgroup_comes_from_its_runtime)
{
	char id[65], other[65], prefix[13], rel[200], a[PATH_MAX], b[PATH_MAX], script[PATH_MAX];
	char env[PATH_MAX + 40], *out = NULL, *err = NULL, *body;
	char *const envs[] = {env, NULL};
	pid_t init;
	FILE *f;
	int ctl, ret, round;

	random_hex(id, 64);
	random_hex(other, 64);
	snprintf(prefix, sizeof(prefix), "%.12s", id);
	snprintf(rel, sizeof(rel), "system.slice/docker-%s.scope", id);
	make_cg(a, sizeof(a), rel);
	snprintf(rel, sizeof(rel), "docker/%s", id); /* a stale cgroupfs directory of that id */
	make_cg(b, sizeof(b), rel);
	init = rft_fork_in(NULL, a, &ctl);
	if (init == 0) {
		char c;

		while (read(ctl, &c, 1) > 0)
			;
		_exit(0);
	}
	cr_assert_gt(init, 0);
	snprintf(script, sizeof(script), "%s/docker", rft.state_dir);
	snprintf(env, sizeof(env), "RINGFENCE_CONTAINER_RUNTIMES=%s", script);
	for (round = 0; round < 2; round++) {
		cr_assert(asprintf(&body,
				   "#!/bin/sh\n[ \"$1 $2 $3 $4 $6\" = \"inspect --type container "
				   "--format %s\" ] && echo '%s %d'\n",
				   prefix, round ? other : id, (int)init) > 0);
		f = fopen(script, "w");
		cr_assert_not_null(f);
		fputs(body, f);
		fclose(f);
		free(body);
		cr_assert_eq(chmod(script, 0755), 0);
		ret = rft_cli_target_env(envs, &out, &err, "--container", prefix, "status",
					 "--json", NULL);
		if (round == 0) {
			cr_expect_eq(ret, 0, "the runtime's answer: %s", err);
			cr_expect(strstr(out, a) && !strstr(out, b), "%s", out);
		} else {
			cr_expect_eq(ret, 2, "another container's answer is not taken: %s", out);
			cr_expect(strstr(err, "matches 2 cgroups") != NULL, "%s", err);
		}
		free(out);
		free(err);
	}
	rft_child_close(&init, &ctl);
}

/*
 * --unit asks systemd first (the unit's ControlGroup), so a name that two cgroups carry still
 * selects the unit's own; when systemd names nothing usable, the search decides (here:
 * ambiguous, exit 2). systemctl is a stand-in script ($RINGFENCE_SYSTEMCTL).
 */
Test(targets, unit_cgroup_comes_from_systemd)
{
	char unit[64], rel[200], a[PATH_MAX], b[PATH_MAX], script[PATH_MAX], env[PATH_MAX + 32];
	char *const envs[] = {env, NULL};
	char *out = NULL, *err = NULL, *body;
	FILE *f;
	int ret;

	snprintf(unit, sizeof(unit), "rf-web-%d", (int)getpid());
	snprintf(rel, sizeof(rel), "a.slice/%s.service", unit);
	make_cg(a, sizeof(a), rel);
	snprintf(rel, sizeof(rel), "b.slice/%s.service", unit);
	make_cg(b, sizeof(b), rel);
	snprintf(script, sizeof(script), "%s/systemctl", rft.state_dir);
	snprintf(env, sizeof(env), "RINGFENCE_SYSTEMCTL=%s", script);
	for (int round = 0; round < 2; round++) {
		cr_assert(
		    asprintf(&body,
			     "#!/bin/sh\n[ \"$1 $2 $3 $4 $5\" = \"show --property=ControlGroup "
			     "--value -- %s.service\" ] && echo '%s'\n",
			     unit, round ? "/no/such/unit.service" : a + strlen(rft.cg2)) > 0);
		f = fopen(script, "w");
		cr_assert_not_null(f);
		fputs(body, f);
		fclose(f);
		free(body);
		cr_assert_eq(chmod(script, 0755), 0);
		ret =
		    rft_cli_target_env(envs, &out, &err, "--unit", unit, "status", "--json", NULL);
		if (round == 0) {
			cr_expect_eq(ret, 0, "systemd's answer: %s", err);
			cr_expect(strstr(out, a) && !strstr(out, b), "%s", out);
		} else {
			cr_expect_eq(ret, 2, "no usable answer, an ambiguous search: %s", out);
			cr_expect(strstr(err, "matches 2 cgroups") != NULL, "%s", err);
		}
		free(out);
		free(err);
	}
}

/* ---- the OCI hook (issue 21.8) --------------------------------------------------------------- */

/* Write an OCI state document for container id (pid 0: none given) to <state_dir>/name; its
 * path into out. */
static void oci_state(char *out, size_t len, const char *name, const char *id, pid_t pid)
{
	FILE *f;

	snprintf(out, len, "%s/%s", rft.state_dir, name);
	f = fopen(out, "w");
	cr_assert_not_null(f);
	fprintf(f, "{\"ociVersion\":\"1.0.2\",\"id\":\"%s\",\"status\":\"creating\",", id);
	if (pid)
		fprintf(f, "\"pid\":%d,", (int)pid);
	fprintf(f, "\"bundle\":\"/nonexistent\",\"annotations\":{}}\n");
	fclose(f);
}

/* The container's cgroup made again, as a runtime does on a restart: a new cgroup id. */
static void restart_cgroup(const char *dir)
{
	cr_assert_eq(rft_cgroup_remove(dir), 0, "rmdir %s", dir);
	cr_assert_eq(rft_cgroup_create(dir), 0, "mkdir %s", dir);
}

/*
 * A restarted container gets a new cgroup at the same path, which no program is attached to:
 * open until the agent's next scan. The createRuntime hook, fed the runtime's state, isolates
 * the new cgroup before the hook returns, i.e. before the container's process runs: the first
 * connection of a process that joins afterwards is already held to the allow-list (IPv4 and
 * IPv6). A container that was never isolated is left alone; garbage is exit 2; an isolated
 * container whose cgroup cannot be found is exit 1 (the runtime then does not start it).
 */
Test(targets, oci_hook_isolates_a_restarted_container_before_it_runs)
{
	static const unsigned short ports[] = {PORT_ALLOWED, PORT_OTHER};
	char id[65], id2[65], rel[200], dir[PATH_MAX], dir2[PATH_MAX], state[PATH_MAX + 32];
	char *out = NULL, *err = NULL;
	struct rft_server srv;
	pid_t init;
	size_t i;
	int ctl, ret;

	random_hex(id, 64);
	random_hex(id2, 64);
	snprintf(rel, sizeof(rel), "system.slice/docker-%s.scope", id);
	make_cg(dir, sizeof(dir), rel);
	snprintf(rel, sizeof(rel), "system.slice/docker-%s.scope", id2);
	make_cg(dir2, sizeof(dir2), rel);
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	expect_resolves("--container", id, dir);
	for (i = 0; i < 2; i++) {
		ret = rft_cli_target(&out, &err, "--container", id, "allow", "add", "net",
				     i ? RFT_PEER_IP6 : RFT_PEER_IP4, "port", "8101", NULL);
		cr_assert_eq(ret, 0, "%s", err);
		free(out);
		free(err);
	}
	free(cli_target(0, "--container", id, "isolate", NULL));

	restart_cgroup(dir);
	rfp_expect_flow(&srv, &rfp_flows[0], dir, PORT_OTHER, false, "the window without the hook");
	init = rft_fork_in(NULL, dir, &ctl); /* the runtime's init, waiting to exec */
	if (init == 0) {
		char c;

		while (read(ctl, &c, 1) > 0)
			;
		_exit(0);
	}
	cr_assert_gt(init, 0);
	oci_state(state, sizeof(state), "state.json", id, init);
	ret = rft_cli_target(&out, &err, "oci-hook", state, NULL);
	cr_assert_eq(ret, 0, "oci-hook: exit %d\n%s", ret, err);
	cr_expect(strstr(out, "isolated again") != NULL, "%s", out);
	free(out);
	free(err);
	for (i = 0; i < RFP_NFLOWS; i++) {
		rfp_expect_flow(&srv, &rfp_flows[i], dir, PORT_ALLOWED, false,
				"allowed, restarted");
		rfp_expect_flow(&srv, &rfp_flows[i], dir, PORT_OTHER, true, "other, restarted");
	}
	rft_child_close(&init, &ctl);
	cr_expect_eq(count_targets(rft.pin_dir), 1, "the pins of the gone cgroup are removed");

	/* a container never isolated: nothing loaded for it, its traffic passes */
	oci_state(state, sizeof(state), "state2.json", id2, 0);
	ret = rft_cli_target(&out, &err, "oci-hook", state, NULL);
	cr_expect_eq(ret, 0, "%s", err);
	cr_expect_str_eq(out, "", "nothing done");
	free(out);
	free(err);
	cr_expect_eq(count_targets(rft.state_dir), 1, "no record made for it");
	for (i = 0; i < RFP_NFLOWS; i++)
		rfp_expect_flow(&srv, &rfp_flows[i], dir2, PORT_OTHER, false, "never isolated");

	/* restarted again, and the state names no process: found by its id */
	restart_cgroup(dir);
	oci_state(state, sizeof(state), "state3.json", id, 0);
	ret = rft_cli_target(&out, &err, "--json", "oci-hook", state, NULL);
	cr_expect_eq(ret, 0, "%s", err);
	cr_expect(rft_json_bool(out, "isolated") == 1 && strstr(out, dir), "%s", out);
	free(out);
	free(err);
	cr_expect_eq(isolated_via(dir, NULL), 1, "isolated again by id");
	cr_expect_eq(count_targets(rft.pin_dir), 1, "one pin dir, however many restarts");
	rfp_expect_flow(&srv, &rfp_flows[1], dir, PORT_OTHER, true, "restarted again");
	rft_server_stop(&srv);

	/* it now runs at another path than the one recorded: refused, not left unisolated */
	snprintf(rel, sizeof(rel), "other.slice/docker-%s.scope", id);
	make_cg(dir2, sizeof(dir2), rel);
	init = rft_fork_in(NULL, dir2, &ctl);
	if (init == 0) {
		char c;

		while (read(ctl, &c, 1) > 0)
			;
		_exit(0);
	}
	cr_assert_gt(init, 0);
	oci_state(state, sizeof(state), "state4.json", id, init);
	err = cli_target(1, "oci-hook", state, NULL, NULL);
	cr_expect(strstr(err, "another cgroup path") != NULL, "%s", err);
	free(err);
	rft_child_close(&init, &ctl);
	oci_state(state, sizeof(state), "state3.json", id, 0);

	/* its cgroup gone when the hook runs: refused, so the runtime does not start it */
	cr_assert_eq(rft_cgroup_remove(dir), 0);
	err = cli_target(1, "oci-hook", state, NULL, NULL);
	cr_expect(strstr(err, "was isolated") != NULL, "%s", err);
	free(err);
	oci_state(state, sizeof(state), "bad.json", "x\"", 0);
	err = cli_target(2, "oci-hook", state, NULL, NULL);
	free(err);
}

/*
 * Upgrade: an older version kept the state of "X/." apart from "X". Such a record, isolated,
 * becomes X's own state when X has none, so the agent restores the isolation (before: it was
 * served under X's empty state and the isolation was lost); IPv4 and IPv6.
 */
Test(targets, isolated_record_of_an_old_spelling_is_adopted)
{
	static const unsigned short ports[] = {PORT_OTHER};
	char x[PATH_MAX], alias[SEL_MAX + 300], file[SEL_MAX + 400], name[NAME_MAX + 1];
	char rel[SEL_MAX];
	struct rft_server srv;
	struct stat st;
	FILE *f;
	size_t i;
	pid_t agent;

	cr_assert_eq(rfp_cgroup_child("aliased", x, sizeof(x)), 0);
	cr_assert_eq(stat(x, &st), 0);
	snprintf(rel, sizeof(rel), "%s/.", x + strlen(rft.cg2));
	cr_assert_eq(rf_target_state_name(rel, name, sizeof(name)), 0);
	snprintf(alias, sizeof(alias), "%s/targets/%s", rft.state_dir, name);
	cr_assert_eq(rf_mkdir_p(alias, 0700), 0, "mkdir %s", alias);
	snprintf(file, sizeof(file), "%s/target", alias);
	f = fopen(file, "w");
	cr_assert_not_null(f);
	fprintf(f, "path %s\npins %s/targets/%llu\n", rel, rft.pin_dir,
		(unsigned long long)st.st_ino);
	fclose(f);
	snprintf(file, sizeof(file), "%s/isolation", alias);
	f = fopen(file, "w");
	cr_assert_not_null(f);
	fprintf(f, "isolated=1\naudit=0\nsince=0\ndeadline=0\nconfirm=0\nfor=0\n");
	fclose(f);

	agent = rfp_agent_start();
	cr_assert_gt(agent, 0);
	for (i = 0; i < 100 && isolated_via(x, NULL) != 1; i++)
		rft_msleep(100);
	cr_expect_eq(isolated_via(x, NULL), 1, "the agent restored the isolation of X/.");
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	for (i = 0; i < RFP_NFLOWS; i++) {
		rfp_expect_flow(&srv, &rfp_flows[i], x, PORT_OTHER, true, "restored");
		rfp_expect_flow(&srv, &rfp_flows[i], rft.cg, PORT_OTHER, false, "beside it");
	}
	rft_server_stop(&srv);
	rfp_kill(agent);
}
