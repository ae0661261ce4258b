// SPDX-License-Identifier: GPL-2.0-only
/*
 * Robustness fixes of the house-keeping round, each against the real kernel: global options after
 * the command, a config typo that must not block isolation, JSON-safe interface names in status,
 * an agent that survives a failed re-attach, and bpffs mounted by the CLI where it is missing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_proc.h"

#define PORT_WAY_BACK	  8101
#define PORT_OTHER	  8102
#define CLIENT_TIMEOUT_MS 1500

TestSuite(robust, .init = rfp_setup, .fini = rfp_teardown, .timeout = 90);

static const char *bin(void)
{
	const char *b = getenv("RINGFENCE_BIN");

	cr_assert(b && *b, "RINGFENCE_BIN is not set");
	return b;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot write %s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* Every global option after the command, in both spellings, and interleaved. */
Test(robust, global_options_after_the_command)
{
	char cg[PATH_MAX + 16], *out = NULL, *err = NULL;
	char *const iso[] = {(char *)bin(), "isolate",	 "--force",	"--cgroup",    rft.cg,
			     "--pin-dir",   rft.pin_dir, "--state-dir", rft.state_dir, "--config",
			     rft.config,    "--json",	 NULL};
	char *const st[] = {(char *)bin(), "--pin-dir",	  rft.pin_dir, "status", cg,
			    "--state-dir", rft.state_dir, "--json",    NULL};
	char *const rel[] = {(char *)bin(), "--cgroup",	 rft.cg,	"release",
			     "--pin-dir",   rft.pin_dir, "--state-dir", rft.state_dir,
			     "--config",    rft.config,	 NULL};
	char *const bad[] = {(char *)bin(), "status", "--pin-dir", rft.pin_dir, "--bogus", NULL};

	snprintf(cg, sizeof(cg), "--cgroup=%s", rft.cg);
	cr_assert_eq(rft_exec(rft.dev_ns, iso, &out, &err), 0, "isolate with options after it: %s",
		     err);
	cr_expect_eq(rft_json_bool(out, "isolated"), 1, "%s", out);
	free(out);
	free(err);
	cr_assert_eq(rft_exec(rft.dev_ns, st, &out, &err), 0, "status: %s", err);
	cr_expect_eq(rft_json_bool(out, "isolated"), 1, "--pin-dir before, --cgroup= after: %s",
		     out);
	free(out);
	free(err);
	cr_assert_eq(rft_status_isolated(), 1);
	cr_assert_eq(rft_exec(rft.dev_ns, rel, NULL, &err), 0, "release: %s", err);
	free(err);
	cr_assert_eq(rft_status_isolated(), 0);
	/* an unknown option after the command is still a usage error */
	cr_assert_eq(rft_exec(rft.dev_ns, bad, NULL, &err), 2, "unknown option: %s", err);
	cr_expect(strstr(err, "--bogus") != NULL, "the message should name it: %s", err);
	free(err);
}

/*
 * During an incident a typo in the config must not block isolation: isolate goes ahead with the
 * last applied policy, prints FILE:LINE: problem and records it in the history entry.
 */
Test(robust, config_typo_isolates_with_last_policy)
{
	static const unsigned short ports[] = {PORT_WAY_BACK, PORT_OTHER};
	char good[512], *out = NULL, *err = NULL, line[PATH_MAX + 8];
	const char *needles[] = {"\"type\":\"isolate\"", "\"status\":\"Succeeded\"", line, NULL};
	struct rft_server srv;
	struct rft_result r;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	snprintf(good, sizeof(good),
		 "packet-guard off\ndns off\nallow net %s proto tcp port %u dir out\n"
		 "allow net %s proto tcp port %u dir out\n",
		 RFT_PEER_IP4, PORT_WAY_BACK, RFT_PEER_IP6, PORT_WAY_BACK);
	write_file(rft.config, good);
	rft_cli_ok(0, "load", NULL);
	/* line 3 has a typo: the file as a whole is refused */
	write_file(rft.config, "packet-guard off\ndns off\nalow net 203.0.113.0/24\n");
	cr_assert_eq(rft_cli(&out, &err, "isolate", "--comment", "typo test", NULL), 0,
		     "a config typo blocked isolation: %s", err);
	snprintf(line, sizeof(line), "%s:3:", rft.config);
	cr_expect(strstr(err, line) != NULL, "no FILE:LINE in the warning: %s", err);
	cr_assert_eq(rft_status_isolated(), 1);
	free(out);
	free(err);
	r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_WAY_BACK,
		       CLIENT_TIMEOUT_MS);
	cr_expect_eq(r.outcome, RFT_OK, "the last applied policy's way back (v4): %s",
		     rft_outcome_name(r.outcome));
	r = rft_client(rft.dev_ns, rft.cg, AF_INET6, RFT_TCP, RFT_PEER_IP6, PORT_WAY_BACK,
		       CLIENT_TIMEOUT_MS);
	cr_expect_eq(r.outcome, RFT_OK, "the last applied policy's way back (v6): %s",
		     rft_outcome_name(r.outcome));
	r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER,
		       CLIENT_TIMEOUT_MS);
	cr_expect_eq(r.outcome, RFT_EPERM, "other port while isolated: %s",
		     rft_outcome_name(r.outcome));
	cr_expect_eq(rft_server_stats(&srv, PORT_OTHER, AF_INET).conns, 0);
	cr_expect(rfp_history_wait(0, needles), "the history entry does not carry the warning");
	rft_cli_ok(0, "release", NULL);
}

/* status --json stays valid JSON whatever an interface is called (names may hold quotes). */
Test(robust, status_json_escapes_interface_names)
{
	char *const add[] = {"ip",   "link", "add",  "rf\"q\\x", "type",
			     "veth", "peer", "name", "rfq2",	 NULL};
	char *const up[] = {"ip", "link", "set", "rf\"q\\x", "up", NULL};
	char *const env[] = {"RINGFENCE_PACKET_GUARD=on", NULL};
	char *out = NULL, *err = NULL;
	json_t *doc;

	cr_assert_eq(rft_exec(rft.dev_ns, add, NULL, NULL), 0, "cannot create the veth pair");
	cr_assert_eq(rft_exec(rft.dev_ns, up, NULL, NULL), 0);
	cr_assert_eq(rfp_cli_env(env, NULL, &err, "load", NULL), 0, "load: %s", err);
	free(err);
	cr_assert_eq(rfp_cli_env(env, &out, &err, "status", "--json", NULL), 0, "status: %s", err);
	/* one strict document whose packet_guard list holds the name as it is */
	doc = rft_json_load(out);
	cr_expect_eq(rft_json_count(json_object_get(doc, "packet_guard"), "", "rf\"q\\x"), 1,
		     "the name is not listed as it is: %s", out);
	json_decref(doc);
	free(out);
	free(err);
	rft_cli_ok(0, "unload", NULL);
}

/* Still running (not exited, not a zombie)? */
static bool alive(pid_t pid)
{
	int status;

	return waitpid(pid, &status, WNOHANG) == 0;
}

/*
 * The agent's re-attach fails when its target cgroup is gone; before the fix it then polled a
 * freed ring buffer and crashed. It must log, back off, keep running and record the failure.
 */
Test(robust, agent_survives_a_failed_reattach)
{
	char target[PATH_MAX];
	const char *needles[] = {"\"type\":\"reattach\"", "\"status\":\"Failed\"", NULL};
	const char *started[] = {"\"type\":\"agent-start\"", NULL};
	char home[PATH_MAX + 32];
	/* the target is the home of the pin and state dirs: pins and history at their top level */
	char *argv[] = {"/usr/bin/env", home,	     (char *)bin(), "--cgroup",	   target,
			"--pin-dir",	rft.pin_dir, "--state-dir", rft.state_dir, "--config",
			rft.config,	"agent",     NULL};
	char *rm[] = {"sh", "-c", "rm -f \"$0\"/rf_*", rft.pin_dir, NULL};
	pid_t agent;

	cr_assert_eq(rfp_cgroup_child("target", target, sizeof(target)), 0);
	snprintf(home, sizeof(home), "RINGFENCE_HOME_CGROUP=%s", target);
	agent = rfp_spawn(rft.dev_ns, NULL, argv, NULL, NULL);
	cr_assert_gt(agent, 0);
	/* attached and polling (a load takes seconds under emulation) */
	cr_assert(rfp_history_wait(rft_scaled_ms(5000), started), "the agent did not start");
	cr_assert(alive(agent), "the agent exited early");
	cr_assert_eq(rft_exec(NULL, rm, NULL, NULL), 0);
	cr_assert_eq(rmdir(target), 0, "rmdir %s: %s", target, strerror(errno));
	cr_expect(rfp_history_wait(rft_scaled_ms(5000), needles),
		  "no failed reattach in the history");
	rft_msleep(rft_scaled_ms(2500)); /* several polls and a retry with back-off */
	cr_expect(alive(agent), "the agent died after its re-attach failed");
	rfp_kill(agent);
}

/* On a host where bpffs is not mounted the CLI mounts it, as systemd and bpftool do. Run in a
 * private mount namespace, so the machine's own /sys/fs/bpf is never touched. */
Test(robust, cli_mounts_bpffs_where_missing)
{
	char pins[128], script[6 * PATH_MAX], *out = NULL, *err = NULL;
	char *argv[] = {"unshare", "--mount", "--propagation", "private", "sh", "-c", script, NULL};

	rft_require_tool("unshare");
	rft_require_tool("grep");
	snprintf(pins, sizeof(pins), "/sys/fs/bpf/rf-test-%d-mnt", (int)getpid());
	snprintf(script, sizeof(script),
		 "set -e; while grep -q ' /sys/fs/bpf ' /proc/mounts; do umount /sys/fs/bpf; done; "
		 "%s --cgroup %s --pin-dir %s --state-dir %s --config %s load; "
		 "grep -q ' /sys/fs/bpf bpf ' /proc/mounts; echo MOUNTED; "
		 "%s --cgroup %s --pin-dir %s --state-dir %s --config %s unload",
		 bin(), rft.cg, pins, rft.state_dir, rft.config, bin(), rft.cg, pins, rft.state_dir,
		 rft.config);
	cr_assert_eq(rft_exec(rft.dev_ns, argv, &out, &err), 0, "load without bpffs: %s\n%s", out,
		     err);
	cr_expect(strstr(out, "MOUNTED") != NULL, "%s", out);
	free(out);
	free(err);
}

/*
 * The responder's first question is "which binary?": a blocked process that has exited (and so
 * has no /proc/PID/exe) by the time the event is read is still named, from the kernel's record.
 */
Test(robust, events_name_the_executable_of_exited_processes)
{
	const char *want = "/rf-blocked-exe";
	char copy[PATH_MAX], *out = NULL, *err = NULL;
	enum rft_outcome o;
	json_t *ev, *e;
	size_t i, named = 0;

	cr_assert_eq(rfp_copy_self("rf-blocked-exe", copy, sizeof(copy)), 0);
	rft_cli_ok(0, "isolate", "--force", NULL);
	o = rfp_exe_client(copy, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER, NULL);
	cr_assert_eq(o, RFT_EPERM, "%s", rft_outcome_name(o));
	o = rfp_exe_client(copy, rft.cg, AF_INET6, RFT_UDP, RFT_PEER_IP6, PORT_OTHER, NULL);
	cr_assert_eq(o, RFT_EPERM, "%s", rft_outcome_name(o));
	/* both clients have exited: only the kernel's record can name them now */
	cr_assert_eq(rft_cli(&out, &err, "events", "--json", NULL), 0, "events: %s", err);
	/* /proc names the full path; the kernel's record is relative to the file's mount (a
	 * tmpfs /tmp in a guest): either way it ends with the file's path below that mount */
	ev = rft_json_lines(out);
	json_array_foreach(ev, i, e)
	{
		const char *exe = rft_json_str_at(e, "process.executable");
		size_t n = exe ? strlen(exe) : 0;

		named += n >= strlen(want) && !strcmp(exe + n - strlen(want), want);
	}
	cr_expect_gt(named, 0, "no event names %s: %s", copy, out);
	cr_expect_not_null(rft_json_find(ev, "destination.ip", RFT_PEER_IP6),
			   "the v6 attempt is missing: %s", out);
	json_decref(ev);
	free(out);
	free(err);
	rft_cli_ok(0, "release", NULL);
}

/*
 * metrics labels each target with its cgroup path: a name with a quote, a backslash, ESC, a C1
 * control and a byte that is not UTF-8 gives one well-formed label (quote and backslash escaped,
 * the rest '?'), never raw control bytes on a terminal or a line a Prometheus parser rejects.
 */
Test(robust, metrics_label_is_escaped_and_terminal_safe)
{
	static const char name[] = "rf\"q\\x\x1b[2J\xc2\x9b\xff";
	char child[PATH_MAX], *out = NULL, *err = NULL, want[PATH_MAX + 64], plain[PATH_MAX + 64];
	const char *rel;
	const unsigned char *p;

	cr_assert_eq(rfp_cgroup_child(name, child, sizeof(child)), 0, "mkdir %s", child);
	rel = child + strlen(rft.cg2);
	cr_assert_eq(rft_cli_target(&out, &err, "--cgroup", child, "metrics", NULL), 0, "%s", err);
	snprintf(want, sizeof(want), "ringfence_loaded{target=\"%.*s/rf\\\"q\\\\x?[2J??\"} 0",
		 (int)(strlen(rel) - strlen(name) - 1), rel);
	cr_expect(strstr(out, want) != NULL, "no label %s in:\n%s", want, out);
	for (p = (const unsigned char *)out; *p; p++)
		cr_expect(*p == '\n' || (*p >= 0x20 && *p < 0x7f), "a raw byte %#x in:\n%s", *p,
			  out);
	free(out);
	free(err);
	/* a plain target keeps its path as it is */
	cr_assert_eq(rft_cli(&out, &err, "metrics", NULL), 0, "%s", err);
	snprintf(plain, sizeof(plain), "ringfence_loaded{target=\"%s\"} 0",
		 rft.cg + strlen(rft.cg2));
	cr_expect(strstr(out, plain) != NULL, "no label %s in:\n%s", plain, out);
	free(out);
	free(err);
}
