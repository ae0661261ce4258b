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
	json_decref(rft_json_load(rules)); /* both strict JSON */
	json_decref(rft_json_load(status));
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
	{
		json_t *rules = rft_json_load(out);

		cr_expect(json_is_array(rules) && json_array_size(rules) == 0,
			  "rules after bad input: %s", out);
		json_decref(rules);
	}
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
	json_t *doc;
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
	doc = rft_json_load(out);
	cr_expect(json_is_object(json_object_get(doc, "hooks")), "no hooks in %s", out);
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		cr_expect_eq(rft_json_bool_at(json_object_get(doc, "hooks"), hooks[i]), 1,
			     "hook %s not attached: %s", hooks[i], out);
	json_decref(doc);
	free(out);

	rft_cli_ok(0, "release", NULL);
	cr_assert_eq(rft_cli(&out, NULL, "status", "--json", NULL), 0);
	cr_expect_eq(rft_json_bool(out, "isolated"), 0, "%s", out);
	doc = rft_json_load(out);
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		cr_expect_eq(rft_json_bool_at(json_object_get(doc, "hooks"), hooks[i]), 1,
			     "hook %s detached by release: %s", hooks[i], out);
	json_decref(doc);
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

/* How often the rule `rule` is in `allow list --json` (parsed strictly). */
static int listed(const char *rule)
{
	char *out = NULL;
	json_t *rules, *r;
	size_t i;
	int n = 0;

	cr_assert_eq(rft_cli(&out, NULL, "allow", "list", "--json", NULL), 0);
	rules = rft_json_load(out);
	cr_assert(json_is_array(rules), "%s", out);
	json_array_foreach(rules, i, r)
	{
		cr_assert(json_is_string(r), "a rule that is not a string: %s", out);
		n += !strcmp(json_string_value(r), rule);
	}
	json_decref(rules);
	free(out);
	return n;
}

/*
 * exe and cgroup rules are keyed by inode and cgroup id in the kernel; 'allow list' and 'status'
 * still show them as written, whether they came from the config file or from 'allow add', once
 * each, and a rule removed from the config file disappears from the list.
 */
Test(cli, process_rules_from_config_are_listed)
{
	char *conf, *out = NULL, cgtext[PATH_MAX + 16], svc[PATH_MAX + 8], whole[PATH_MAX + 32];

	/* a service below the target (the target itself would be refused: it holds everything) */
	snprintf(svc, sizeof(svc), "%s/svc", rft.cg);
	cr_assert_eq(rft_cgroup_create(svc), 0);
	cr_assert(asprintf(&conf,
			   "dns off\npacket-guard off\nallow exe /bin/true\n"
			   "allow cgroup %s\nallow cgroup %s\n",
			   svc + strlen(rft.cg2), rft.cg + strlen(rft.cg2)) > 0);
	snprintf(cgtext, sizeof(cgtext), "cgroup %s", svc + strlen(rft.cg2));
	snprintf(whole, sizeof(whole), "cgroup %s", rft.cg + strlen(rft.cg2));
	write_config(conf);
	free(conf);
	rft_cli_ok(0, "load", NULL);
	rft_cli_ok(0, "allow", "add", "exe", "/bin/sleep", NULL);
	rft_cli_ok(0, "allow", "add", "exe", "/bin/true", NULL); /* also in the config file */

	cr_expect_eq(listed("exe /bin/true"), 1, "config exe rule once");
	cr_expect_eq(listed(cgtext), 1, "config cgroup rule once");
	cr_expect_eq(listed(whole), 0, "a refused rule is listed as in force");
	cr_expect_eq(listed("exe /bin/sleep"), 1, "allow-add exe rule");
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
	cr_expect_eq(listed(cgtext), 0, "the cgroup rule left the config file");
	cr_expect_eq(listed("exe /bin/true"), 1, "still allowed by 'allow add'");
	cr_expect_eq(listed("exe /bin/sleep"), 1, "allow-add exe rule after the reload");
}

/* The output of the CLI with --json and the arguments: exit 0, strict JSON lines. */
static json_t *json_of(const char *what, char *out, int st)
{
	json_t *j;

	cr_assert_eq(st, 0, "%s --json: exit %d", what, st);
	j = rft_json_lines(out);
	free(out);
	return j;
}

#define JSON_OF(...)                                                                               \
	({                                                                                         \
		char *o_ = NULL;                                                                   \
		int st_ = rft_cli(&o_, NULL, "--json", __VA_ARGS__, NULL);                         \
		json_of(#__VA_ARGS__, o_, st_);                                                    \
	})

/*
 * No raw control character in text for a terminal: C0 but newline, DEL, C1 (U+0080-U+009F, e.g.
 * U+009B CSI) and no byte that is not UTF-8 (a lone 0x9b is CSI on 8-bit terminals).
 */
static void expect_terminal_safe(const char *what, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	while (*p) {
		unsigned int cp = *p, n = 1, k;

		if (*p >= 0xc2 && *p <= 0xdf)
			n = 2, cp = *p & 0x1f;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 3, cp = *p & 0x0f;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 4, cp = *p & 0x07;
		else if (*p >= 0x80)
			n = 0;
		for (k = 1; n && k < n; k++) {
			if ((p[k] & 0xc0) != 0x80)
				n = 0;
			else
				cp = cp << 6 | (p[k] & 0x3f);
		}
		cr_assert(n && !(cp < 0x20 && cp != '\n') && !(cp >= 0x7f && cp <= 0x9f),
			  "%s: a raw control or non-UTF-8 byte %#x at offset %td: %s", what, *p,
			  (const char *)p - text, text);
		p += n;
	}
}

/*
 * Every JSON document the CLI prints is one strict line (no duplicate key, valid UTF-8), with
 * the fields in one place: the events of a selected target carry "ringfence" once, holding the
 * hook, the kernel's identity and the target. A comment with terminal controls is kept exactly
 * in JSON and never reaches a terminal raw in the text views (status, history).
 */
Test(cli, every_json_output_is_strict)
{
	static const char comment_json[] = "case \x1b[2J\xc2\x9b"
					   "31m \xef\xbf\xbd"
					   "0m\x07 caf\xc3\xa9";
	static const char comment[] = "case \x1b[2J\xc2\x9b"
				      "31m \x9b"
				      "0m\x07 caf\xc3\xa9";
	struct rft_result r;
	json_t *j, *e;
	char *out = NULL;
	size_t i;

	j = JSON_OF("allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port", "443");
	cr_expect_str_eq(rft_json_str_at(json_array_get(j, 0), "action") ?: "", "add");
	json_decref(j);
	json_decref(JSON_OF("allow", "add", "net", RFT_PEER_IP6, "proto", "tcp", "port", "443"));
	j = JSON_OF("isolate", "--comment", comment);
	cr_expect_eq(rft_json_bool_at(json_array_get(j, 0), "isolated"), 1);
	json_decref(j);
	r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, 8443, 1500);
	cr_expect_eq(r.outcome, RFT_EPERM, "v4: %s", rft_outcome_name(r.outcome));
	r = rft_client(rft.dev_ns, rft.cg, AF_INET6, RFT_TCP, RFT_PEER_IP6, 8443, 1500);
	cr_expect_eq(r.outcome, RFT_EPERM, "v6: %s", rft_outcome_name(r.outcome));

	j = JSON_OF("events");
	cr_expect_geq(json_array_size(j), 2, "the two blocked connects are reported");
	json_array_foreach(j, i, e)
	{
		cr_expect(json_is_string(rft_json_at(e, "ringfence.hook")), "event %zu: no hook",
			  i);
		cr_expect(json_is_integer(rft_json_at(e, "ringfence.cgroup_id")),
			  "event %zu: no cgroup id", i);
		cr_expect(json_is_string(rft_json_at(e, "ringfence.target")),
			  "event %zu: no target", i);
	}
	cr_expect_not_null(rft_json_find(j, "ringfence.hook", "connect4"));
	cr_expect_not_null(rft_json_find(j, "ringfence.hook", "connect6"));
	json_decref(j);

	j = JSON_OF("status"); /* the lone 0x9b is not UTF-8: U+FFFD */
	cr_expect_str_eq(rft_json_str_at(json_array_get(j, 0), "comment") ?: "", comment_json);
	json_decref(j);
	j = JSON_OF("status", "--all");
	cr_expect(json_is_array(rft_json_at(json_array_get(j, 0), "targets")));
	json_decref(j);
	j = JSON_OF("history");
	cr_expect_not_null(rft_json_find(json_array_get(j, 0), "comment", comment_json));
	json_decref(j);
	json_decref(JSON_OF("history", "--all"));
	json_decref(JSON_OF("allow", "list"));

	cr_assert_eq(rft_cli(&out, NULL, "status", NULL), 0);
	cr_expect(strstr(out, "case ?[2J?31m ?0m? caf\xc3\xa9"), "comment not neutralised: %s",
		  out);
	expect_terminal_safe("status", out);
	free(out);
	cr_assert_eq(rft_cli(&out, NULL, "history", NULL), 0);
	expect_terminal_safe("history", out);
	free(out);

	j = JSON_OF("release");
	cr_expect_eq(rft_json_bool_at(json_array_get(j, 0), "changed"), 1);
	json_decref(j);
	json_decref(JSON_OF("release"));
	json_decref(JSON_OF("unload"));
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
