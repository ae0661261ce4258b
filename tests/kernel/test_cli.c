// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CLI contract against the real kernel: exit codes (0 ok, 1 operational failure, 2 usage),
 * idempotent isolate/release, bad input that changes nothing, the no-way-back refusal, status
 * JSON, and unload refused while isolated. Every call has private --cgroup/--pin-dir/--state-dir.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include "rf_test.h"

TestSuite(cli, .init = rft_setup, .fini = rft_teardown, .timeout = 60);

/* "allow list --json" + "status --json" output, which must not change on bad input. */
static char *snapshot(void)
{
	char *rules = NULL, *status = NULL, *all;

	cr_assert_eq(rft_cli(&rules, NULL, "allow", "list", "--json", NULL), 0);
	cr_assert_eq(rft_cli(&status, NULL, "status", "--json", NULL), 0);
	cr_assert(asprintf(&all, "rules: %s\nstatus: %s", rules, status) > 0);
	free(rules);
	free(status);
	return all;
}

Test(cli, isolate_twice_is_harmless)
{
	char *out = NULL;

	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port", "443", "dir",
		   "out", NULL);
	rft_cli_ok(0, "isolate", NULL);
	cr_assert_eq(rft_status_isolated(), 1);
	cr_assert_eq(rft_cli(&out, NULL, "isolate", NULL), 0, "second isolate must exit 0");
	cr_expect(strstr(out, "already isolated") != NULL, "second isolate says: %s", out);
	free(out);
	cr_assert_eq(rft_status_isolated(), 1);
	rft_cli_ok(0, "release", NULL);
	cr_assert_eq(rft_status_isolated(), 0);
}

Test(cli, release_when_not_isolated)
{
	char *out = NULL;

	/* nothing loaded at all */
	cr_assert_eq(rft_cli(&out, NULL, "release", NULL), 0);
	cr_expect(strstr(out, "not isolated") != NULL, "release (not loaded) says: %s", out);
	free(out);
	cr_expect_eq(access(rft.pin_dir, F_OK), -1, "release must not load anything");

	/* loaded, not isolated */
	rft_cli_ok(0, "load", NULL);
	cr_assert_eq(rft_cli(&out, NULL, "release", NULL), 0);
	cr_expect(strstr(out, "not isolated") != NULL, "release (loaded) says: %s", out);
	free(out);
	cr_assert_eq(rft_cli(&out, NULL, "--json", "unisolate", NULL), 0);
	cr_expect_eq(rft_json_bool(out, "isolated"), 0, "%s", out);
	cr_expect_eq(rft_json_bool(out, "changed"), 0, "%s", out);
	free(out);
	cr_assert_eq(rft_status_isolated(), 0);
}

/* Each entry: argv after the global options; must exit 2 and change nothing. */
static const char *const bad_inputs[][10] = {
    {"allow", "add", "net", "192.0.2.300/24", NULL},
    {"allow", "add", "net", "192.0.2.0/33", NULL},
    {"allow", "add", "net", "2001:db8::/129", NULL},
    {"allow", "add", "net", "192.0.2.0/24junk", NULL},
    {"allow", "add", "net", "192.0.2.2", "proto", "tcp", "port", "70000", NULL},
    {"allow", "add", "net", "192.0.2.2", "proto", "tcp", "port", "0-70000", NULL},
    {"allow", "add", "net", "192.0.2.2", "proto", "sctp", NULL},
    {"allow", "add", "net", "192.0.2.2", "dir", "sideways", NULL},
    {"allow", "add", "net", NULL},
    {"allow", "add", "net", "192.0.2.2", "port", NULL},
    {"allow", "add", "net", "192.0.2.2", "proto", NULL},
    {"allow", "add", NULL},
    {"allow", NULL},
    {"allow", "frobnicate", "net", "192.0.2.2", NULL},
    {"allow", "del", "net", "192.0.2.0/33", NULL},
    {"frobnicate", NULL},
    {"isolate", "--for", "5x", NULL},
    {"isolate", "--for", NULL},
    {"isolate", "--bogus", NULL},
    {"release", "--bogus", NULL},
    {"--bogus-global", "status", NULL},
    {NULL},
};

static void bad_input_changes_nothing(const char *phase)
{
	char *before = snapshot(), *after;
	size_t i;

	for (i = 0; bad_inputs[i][0]; i++) {
		const char *const *a = bad_inputs[i];
		char *out = NULL, *err = NULL;
		int ret =
		    rft_cli(&out, &err, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], NULL);

		cr_expect_eq(ret, 2,
			     "%s: '%s %s %s %s %s %s %s' exited %d, expected 2 (stderr: %s)", phase,
			     a[0], a[1] ? a[1] : "", a[2] ? a[2] : "", a[3] ? a[3] : "",
			     a[4] ? a[4] : "", a[5] ? a[5] : "", a[6] ? a[6] : "", ret, err);
		cr_expect(err && strlen(err) > 0, "%s: usage error without a message", phase);
		free(out);
		free(err);
	}
	after = snapshot();
	cr_expect_str_eq(after, before, "%s: bad input changed the state", phase);
	free(before);
	free(after);
}

Test(cli, bad_input_exits_2_and_changes_nothing)
{
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port", "443", "dir",
		   "out", NULL);
	bad_input_changes_nothing("not isolated");
	rft_cli_ok(0, "isolate", NULL);
	bad_input_changes_nothing("isolated");
	cr_assert_eq(rft_status_isolated(), 1);
	rft_cli_ok(0, "release", NULL);
}

/* Nothing loaded: bad input must not load, pin or isolate anything either. */
Test(cli, bad_input_on_a_fresh_host_loads_nothing)
{
	char *out = NULL;

	cr_assert_eq(rft_cli(NULL, NULL, "allow", "add", "net", "192.0.2.2", "port", "70000", NULL),
		     2);
	cr_assert_eq(rft_cli(NULL, NULL, "isolate", "--for", "5x", NULL), 2);
	cr_expect_eq(access(rft.pin_dir, F_OK), -1, "bad input created %s", rft.pin_dir);
	cr_assert_eq(rft_cli(&out, NULL, "allow", "list", "--json", NULL), 0);
	cr_expect(!strncmp(out, "[]", 2), "rules after bad input: %s", out);
	free(out);
}

Test(cli, isolate_without_rules_refused_unless_force)
{
	char *err = NULL;

	cr_assert_eq(rft_cli(NULL, &err, "isolate", NULL), 1, "isolate with no rules must exit 1");
	cr_expect(strstr(err, "--force") != NULL, "the refusal should name --force: %s", err);
	free(err);
	cr_assert_eq(rft_status_isolated(), 0,
		     "a refused isolate must leave the host not isolated");

	rft_cli_ok(0, "isolate", "--force", NULL);
	cr_assert_eq(rft_status_isolated(), 1);
	rft_cli_ok(0, "release", NULL);
	cr_assert_eq(rft_status_isolated(), 0);
}

Test(cli, status_json_isolated_and_hooks)
{
	static const char *const hooks[] = {"connect4", "connect6", "sendmsg4",	  "sendmsg6",
					    "ingress",	"egress",   "sock_create"};
	char *out = NULL;
	size_t i;

	/* not loaded */
	cr_assert_eq(rft_cli(&out, NULL, "status", "--json", NULL), 0);
	cr_expect_eq(rft_json_bool(out, "isolated"), 0, "%s", out);
	cr_expect_eq(rft_json_bool(out, "loaded"), 0, "%s", out);
	free(out);

	rft_cli_ok(0, "isolate", "--force", NULL);
	cr_assert_eq(rft_cli(&out, NULL, "status", "--json", NULL), 0);
	cr_expect_eq(rft_json_bool(out, "isolated"), 1, "%s", out);
	cr_expect_eq(rft_json_bool(out, "loaded"), 1, "%s", out);
	cr_expect(strstr(out, "\"hooks\"") != NULL, "no hooks in %s", out);
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		cr_expect_eq(rft_json_bool(out, hooks[i]), 1, "hook %s not attached: %s", hooks[i],
			     out);
	free(out);

	rft_cli_ok(0, "release", NULL);
	cr_assert_eq(rft_cli(&out, NULL, "status", "--json", NULL), 0);
	cr_expect_eq(rft_json_bool(out, "isolated"), 0, "%s", out);
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		cr_expect_eq(rft_json_bool(out, hooks[i]), 1, "hook %s detached by release: %s",
			     hooks[i], out);
	free(out);
}

Test(cli, unload_refused_while_isolated)
{
	char path[512], link[512];
	int held;

	rft_cli_ok(0, "isolate", "--force", NULL);
	rft_cli_ok(1, "unload", NULL);
	cr_assert_eq(rft_status_isolated(), 1, "a refused unload must keep the isolation");
	snprintf(path, sizeof(path), "%s/rf_config", rft.pin_dir);
	cr_expect_eq(access(path, F_OK), 0, "a refused unload removed the pins");

	rft_cli_ok(0, "release", NULL);
	/*
	 * Another process (an agent, bpftool) holding a link open must not keep the programs
	 * attached after unload: unload detaches the links, it does not only drop the pins.
	 */
	snprintf(link, sizeof(link), "%s/rf_link_connect4", rft.pin_dir);
	held = bpf_obj_get(link);
	cr_assert_geq(held, 0, "open %s: %s", link, strerror(errno));
	rft_cli_ok(0, "unload", NULL);
	cr_expect_eq(access(path, F_OK), -1, "unload left %s", path);
	cr_expect_eq(rft_cgroup_wait_detached(rft.cg, 1000), 0,
		     "programs still attached after unload (a link fd was held open)");
	close(held);
	cr_assert_eq(rft_status_isolated(), 0);
}

/* Enforcement follows the CLI: with isolation refused, traffic is untouched. */
Test(cli, refused_isolate_does_not_enforce)
{
	static const unsigned short ports[] = {8443};
	struct rft_server srv;
	struct rft_result r;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	rft_cli_ok(1, "isolate", NULL);
	r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, 8443, 1500);
	cr_expect_eq(r.outcome, RFT_OK, "refused isolate still blocks: %s",
		     rft_outcome_name(r.outcome));
	rft_cli_ok(0, "isolate", "--force", NULL);
	r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, 8443, 1500);
	cr_expect_eq(r.outcome, RFT_EPERM, "forced isolate: %s", rft_outcome_name(r.outcome));
	rft_cli_ok(0, "release", NULL);
	rft_server_stop(&srv);
}

static void write_config(const char *text)
{
	FILE *f = fopen(rft.config, "w");

	cr_assert_not_null(f, "cannot write %s", rft.config);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/*
 * exe and cgroup rules are keyed by inode and cgroup id in the kernel; 'allow list' and 'status'
 * still show them as written, whether they came from the config file or from 'allow add', once
 * each, and a rule removed from the config file disappears from the list.
 */
Test(cli, process_rules_from_config_are_listed)
{
	char *conf, *out = NULL, cgtext[PATH_MAX + 16], cgrule[PATH_MAX + 32], svc[PATH_MAX + 8];
	char whole[PATH_MAX + 32];

	/* a service below the target (the target itself would be refused: it holds everything) */
	snprintf(svc, sizeof(svc), "%s/svc", rft.cg);
	cr_assert_eq(rft_cgroup_create(svc), 0);
	cr_assert(asprintf(&conf,
			   "dns off\npacket-guard off\nallow exe /bin/true\n"
			   "allow cgroup %s\nallow cgroup %s\n",
			   svc + strlen(rft.cg2), rft.cg + strlen(rft.cg2)) > 0);
	snprintf(cgtext, sizeof(cgtext), "cgroup %s", svc + strlen(rft.cg2));
	snprintf(cgrule, sizeof(cgrule), "\"%s\"", cgtext);
	snprintf(whole, sizeof(whole), "\"cgroup %s\"", rft.cg + strlen(rft.cg2));
	write_config(conf);
	free(conf);
	rft_cli_ok(0, "load", NULL);
	rft_cli_ok(0, "allow", "add", "exe", "/bin/sleep", NULL);
	rft_cli_ok(0, "allow", "add", "exe", "/bin/true", NULL); /* also in the config file */

	cr_assert_eq(rft_cli(&out, NULL, "allow", "list", "--json", NULL), 0);
	cr_expect_eq(count(out, "\"exe /bin/true\""), 1, "config exe rule once: %s", out);
	cr_expect_eq(count(out, cgrule), 1, "config cgroup rule once: %s", out);
	cr_expect_eq(count(out, whole), 0, "a refused rule is listed as in force: %s", out);
	cr_expect_eq(count(out, "\"exe /bin/sleep\""), 1, "allow-add exe rule: %s", out);
	free(out);
	cr_assert_eq(rft_cli(&out, NULL, "allow", "list", NULL), 0);
	cr_expect(strstr(out, "NOT in force") != NULL, "the refused rule is not marked: %s", out);
	free(out);
	cr_assert_eq(rft_cli(&out, NULL, "history", "--json", NULL), 0);
	cr_expect(strstr(out, "\"type\":\"rules-not-applied\"") &&
		      strstr(out, "1 config rule(s) not in force"),
		  "the refused config rule is not in the history: %s", out);
	free(out);
	cr_assert_eq(rft_cli(&out, NULL, "status", NULL), 0);
	cr_expect(strstr(out, "exe /bin/true") && strstr(out, "exe /bin/sleep") &&
		      strstr(out, cgtext) != NULL,
		  "status lists every process rule: %s", out);
	free(out);

	write_config("dns off\npacket-guard off\n");
	rft_cli_ok(0, "load", NULL);
	cr_assert_eq(rft_cli(&out, NULL, "allow", "list", "--json", NULL), 0);
	cr_expect_eq(count(out, cgrule), 0, "the cgroup rule left the config file: %s", out);
	cr_expect_eq(count(out, "\"exe /bin/true\""), 1, "still allowed by 'allow add': %s", out);
	cr_expect_eq(count(out, "\"exe /bin/sleep\""), 1, "%s", out);
	free(out);
}

/*
 * The global options are parsed with getopt_long: anywhere on the line (also when
 * POSIXLY_CORRECT is set), "--opt=VALUE", "--" ends the options; an empty target selector is a
 * usage error (it would have been the home target), and a flag given a value is refused.
 */
Test(cli, options_anywhere_and_empty_selectors_refused)
{
	char *const posix[] = {"POSIXLY_CORRECT=1", NULL};
	char *out = NULL, *err = NULL;
	int ret;

	ret = rfp_cli_env(posix, &out, &err, "status", "--json", NULL);
	cr_expect_eq(ret, 0, "%s", err);
	cr_expect_eq(rft_json_bool(out, "isolated"), 0, "--json after the command: %s", out);
	free(out);
	free(err);
	ret = rft_cli_target(&out, &err, "--cgroup=", "status", NULL);
	cr_expect_eq(ret, 2, "an empty --cgroup: %s", out);
	cr_expect(strstr(err, "empty") != NULL, "%s", err);
	free(out);
	free(err);
	ret = rft_cli_target(&out, &err, "--unit", "", "release", NULL);
	cr_expect_eq(ret, 2, "an empty --unit: %s", out);
	free(out);
	free(err);
	ret = rft_cli(&out, &err, "status", "--json=yes", NULL);
	cr_expect_eq(ret, 2, "%s", out);
	cr_expect(strstr(err, "takes no value") != NULL, "%s", err);
	free(out);
	free(err);
	ret = rft_cli(&out, &err, "release", "--", "--comment", "x", NULL);
	cr_expect_eq(ret, 2, "after --, --comment is an argument: %s", out);
	cr_expect(strstr(err, "unexpected argument '--comment'") != NULL, "%s", err);
	free(out);
	free(err);
	ret = rft_cli(&out, &err, "status", "--comment", "x", NULL);
	cr_expect_eq(ret, 2, "%s", out);
	cr_expect(strstr(err, "'status' takes no option --comment") != NULL, "%s", err);
	free(out);
	free(err);
	cr_expect_eq(access(rft.pin_dir, F_OK), -1, "nothing loaded");
}
