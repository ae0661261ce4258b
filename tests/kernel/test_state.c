// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state dir against the real kernel (issue 20): what is stored cannot be injected and reads
 * back whole; a state dir someone else could have written is not trusted; a broken or busy
 * state dir never stops isolate (isolate first, record after, exit 1); a command killed at any
 * step is finished or failed by the next one; lapses are recorded, once, with the kernel's
 * time; a deadline is never silently ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_lock.h"
#include "rf_proc.h"

#define PORT_WAY_BACK 8401 /* allowed out */
#define PORT_OTHER    8402

TestSuite(state, .init = rfp_setup, .fini = rfp_teardown, .timeout = 120);

static struct rft_server srv;

static void start(void)
{
	static const unsigned short ports[] = {PORT_WAY_BACK, PORT_OTHER};

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port", "8401", "dir",
		   "out", NULL);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP6, "proto", "tcp", "port", "8401", "dir",
		   "out", NULL);
}

static enum rft_outcome out_tcp(int family, unsigned short port)
{
	return rft_client(rft.dev_ns, rft.cg, family, RFT_TCP,
			  family == AF_INET ? RFT_PEER_IP4 : RFT_PEER_IP6, port, 1500)
	    .outcome;
}

/* Isolated as the kernel enforces it: the way back open, anything else EPERM, v4 and v6. */
static void expect_isolated(const char *what)
{
	cr_expect_eq(out_tcp(AF_INET, PORT_OTHER), RFT_EPERM, "%s: v4 not isolated", what);
	cr_expect_eq(out_tcp(AF_INET6, PORT_OTHER), RFT_EPERM, "%s: v6 not isolated", what);
	cr_expect_eq(out_tcp(AF_INET, PORT_WAY_BACK), RFT_OK, "%s: v4 way back cut", what);
	cr_expect_eq(out_tcp(AF_INET6, PORT_WAY_BACK), RFT_OK, "%s: v6 way back cut", what);
}

static void expect_open(const char *what)
{
	cr_expect_eq(out_tcp(AF_INET, PORT_OTHER), RFT_OK, "%s: v4 still isolated", what);
	cr_expect_eq(out_tcp(AF_INET6, PORT_OTHER), RFT_OK, "%s: v6 still isolated", what);
}

static char *state_path(const char *name)
{
	static char buf[4][PATH_MAX];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", rft.state_dir, name);
	return p;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* What a reboot does to ringfence: the pins are gone (links detach), the state dir stays. */
static void reboot(void)
{
	char cmd[PATH_MAX * 2];
	char *argv[] = {"sh", "-c", cmd, NULL};

	snprintf(cmd, sizeof(cmd), "rm -f '%s'/rf_*", rft.pin_dir);
	cr_assert_eq(rft_exec(NULL, argv, NULL, NULL), 0);
	cr_assert_eq(rft_cgroup_wait_detached(rft.cg, 3000), 0, "links still attached");
}

static bool history_has(const char *const needles[])
{
	return rfp_history_wait(0, needles);
}

/* ---- item 4: what is stored cannot be injected and reads back whole ------------------------- */

/* `allow add exe $'/x\nnet 0.0.0.0/0'` stays one exe rule: no allow-all at the next load. */
Test(state, a_newline_in_an_exe_path_injects_nothing)
{
	char exe[PATH_MAX], *list;

	start();
	cr_assert_eq(mkdir(state_path("x\nnet 0.0.0.0"), 0700), 0);
	cr_assert_eq(rfp_copy_self("x\nnet 0.0.0.0/0", exe, sizeof(exe)), 0);
	rft_cli_ok(0, "allow", "add", "exe", exe, NULL);
	rft_cli_ok(0, "unload", NULL); /* the next load applies what was saved */
	rft_cli_ok(0, "isolate", NULL);
	expect_isolated("after reload");
	list = rfp_cli_out("allow", "list", NULL);
	cr_expect(strncmp(list, "net 0.0.0.0/0", 13) && !strstr(list, "\nnet 0.0.0.0/0"),
		  "an injected rule: %s", list);
	cr_expect(strstr(list, "exe \"") != NULL, "the exe rule is gone: %s", list);
	free(list);
	rft_cli_ok(0, "release", NULL);
}

/* A path with a space is read back at the next load: the executable is still allowed. */
Test(state, an_exe_path_with_a_space_survives_a_reload)
{
	char exe[PATH_MAX], other[PATH_MAX];

	start();
	cr_assert_eq(rfp_copy_self("my agent", exe, sizeof(exe)), 0);
	cr_assert_eq(rfp_copy_self("other", other, sizeof(other)), 0);
	rft_cli_ok(0, "allow", "add", "exe", exe, NULL);
	rft_cli_ok(0, "unload", NULL);
	rft_cli_ok(0, "isolate", NULL);
	cr_expect_eq(rfp_exe_client(exe, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER, NULL),
		     RFT_OK, "v4: the rule was lost at the reload");
	cr_expect_eq(rfp_exe_client(exe, rft.cg, AF_INET6, RFT_TCP, RFT_PEER_IP6, PORT_OTHER, NULL),
		     RFT_OK, "v6: the rule was lost at the reload");
	cr_expect_eq(
	    rfp_exe_client(other, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER, NULL),
	    RFT_EPERM, "v4: another executable is allowed too");
	cr_expect_eq(
	    rfp_exe_client(other, rft.cg, AF_INET6, RFT_TCP, RFT_PEER_IP6, PORT_OTHER, NULL),
	    RFT_EPERM, "v6: another executable is allowed too");
	rft_cli_ok(0, "release", NULL);
}

/* A rules file of the previous release is read (and rewritten as JSON by the next change). */
Test(state, a_previous_release_rules_file_is_migrated)
{
	char *text;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, (unsigned short[]){8401, 8402}, 2),
		     0);
	write_text(state_path("rules"), "net 192.0.2.2/32 proto tcp port 8401 dir out\n"
					"net 2001:db8::2/128 proto tcp port 8401 dir out\n");
	rft_cli_ok(0, "isolate", NULL);
	expect_isolated("old rules file");
	rft_cli_ok(0, "allow", "add", "net", "198.51.100.7", NULL);
	text = rfp_read_file(state_path("rules"));
	cr_assert_not_null(text);
	cr_expect(text[0] == '{' && strstr(text, "198.51.100.7") &&
		      strstr(text, "2001:db8::2/128 proto tcp port 8401 dir out"),
		  "not migrated: %s", text);
	free(text);
	rft_cli_ok(0, "release", NULL);
}

/* ---- item 9: a state dir someone else could write is not trusted ----------------------------- */

/* A pre-created, world-writable state dir with a planted allow-all is not used. */
Test(state, a_planted_world_writable_state_dir_is_not_trusted)
{
	char *err = NULL;
	int st;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, (unsigned short[]){8401, 8402}, 2),
		     0);
	write_text(state_path("rules"), "net 0.0.0.0/0\nnet ::/0\n");
	cr_assert_eq(chmod(rft.state_dir, 01777), 0);
	st = rft_cli(NULL, &err, "isolate", "--force", NULL);
	cr_assert_eq(chmod(rft.state_dir, 0700), 0);
	cr_expect_eq(st, 1, "isolated with an untrusted state dir must say so: %s", err);
	cr_expect(strstr(err, "writable by others") != NULL, "%s", err);
	free(err);
	cr_expect_eq(out_tcp(AF_INET, PORT_OTHER), RFT_EPERM, "v4: the planted rule was applied");
	cr_expect_eq(out_tcp(AF_INET6, PORT_OTHER), RFT_EPERM, "v6: the planted rule was applied");
	rft_cli_ok(0, "release", NULL);
}

/* A planted history symlink does not make root append to its target. */
Test(state, a_planted_history_symlink_is_not_followed)
{
	char *victim;

	write_text(state_path("victim"), "precious\n");
	cr_assert_eq(symlink(state_path("victim"), state_path("history")), 0);
	rft_cli(NULL, NULL, "allow", "add", "net", "198.51.100.7", NULL);
	victim = rfp_read_file(state_path("victim"));
	cr_assert_not_null(victim);
	cr_expect_str_eq(victim, "precious\n", "root appended through the symlink");
	free(victim);
}

/* ---- items 6 and 13: a broken or busy state dir never stops isolate ------------------------- */

enum fault { F_RULES_DIR, F_LOCK_DIR, F_LOCK_DANGLING, F_READ_ONLY, F_FULL, F_NFAULTS };
static const char *const fault_names[] = {"rules is a directory", "lock is a directory",
					  "lock is a dangling symlink", "read-only state dir",
					  "full disk"};

static void mount_tmpfs_state(void)
{
	char *conf = rfp_read_file(rft.config), *resolv = rfp_read_file(state_path("resolv.conf"));
	char fill[PATH_MAX];
	int fd;

	cr_assert(conf && resolv);
	cr_assert_eq(mount("rf-test", rft.state_dir, "tmpfs", 0, "size=64k,mode=0700"), 0, "%s",
		     strerror(errno));
	write_text(rft.config, conf);
	write_text(state_path("resolv.conf"), resolv);
	free(conf);
	free(resolv);
	snprintf(fill, sizeof(fill), "%s/fill", rft.state_dir);
	fd = open(fill, O_WRONLY | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	while (write(fd, fill, sizeof(fill)) > 0)
		;
	close(fd);
}

static void make_fault(enum fault f)
{
	switch (f) {
	case F_RULES_DIR:
		cr_assert_eq(rename(state_path("rules"), state_path("rules.saved")), 0);
		cr_assert_eq(mkdir(state_path("rules"), 0700), 0);
		break;
	case F_LOCK_DIR:
		unlink(state_path("lock"));
		cr_assert_eq(mkdir(state_path("lock"), 0700), 0);
		break;
	case F_LOCK_DANGLING:
		unlink(state_path("lock"));
		cr_assert_eq(symlink(state_path("nowhere"), state_path("lock")), 0);
		break;
	case F_READ_ONLY:
		cr_assert_eq(mount(rft.state_dir, rft.state_dir, NULL, MS_BIND, NULL), 0);
		cr_assert_eq(
		    mount(NULL, rft.state_dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);
		break;
	case F_FULL:
		mount_tmpfs_state();
		break;
	default:
		break;
	}
}

static void clear_fault(enum fault f)
{
	switch (f) {
	case F_RULES_DIR:
		rmdir(state_path("rules"));
		rename(state_path("rules.saved"), state_path("rules"));
		break;
	case F_LOCK_DIR:
		rmdir(state_path("lock"));
		break;
	case F_LOCK_DANGLING:
		unlink(state_path("lock"));
		break;
	case F_READ_ONLY:
	case F_FULL:
		umount2(rft.state_dir, MNT_DETACH);
		break;
	default:
		break;
	}
}

static const enum fault faults[] = {F_RULES_DIR, F_LOCK_DIR, F_LOCK_DANGLING, F_READ_ONLY, F_FULL};
RFT_TABLE_PARAMS(state, state_faults_never_stop_isolate, faults)

ParameterizedTest(const size_t *row, state, state_faults_never_stop_isolate)
{
	const char *needles[] = {"\"status\":\"Succeeded\"", "isolat", NULL};
	enum fault f = faults[*row];
	char *err = NULL;
	int st;

	start();
	rft_cli_ok(0, "load", NULL);
	make_fault(f);
	st = rft_cli(NULL, &err, "isolate", "--comment", "state fault", NULL);
	cr_expect_eq(st, 1, "%s: isolated but unrecorded must exit 1: %s", fault_names[f], err);
	cr_expect(strstr(err, "isolated") && strstr(err, "recorded"), "%s: %s", fault_names[f],
		  err);
	free(err);
	expect_isolated(fault_names[f]);
	clear_fault(f);
	/* the next command that can write records it, and it holds after a reboot */
	cr_expect_eq(rft_status_isolated(), 1, "%s", fault_names[f]);
	cr_expect(history_has(needles), "%s: the isolation was never recorded", fault_names[f]);
	rft_cli_ok(0, "release", NULL);
	expect_open(fault_names[f]);
}

/* A stuck holder of the lock (an agent stopped inside it) delays isolate a few seconds only. */
Test(state, a_stuck_lock_holder_does_not_stop_isolate)
{
	const char *needles[] = {"\"status\":\"Succeeded\"", "isolate", NULL};
	pid_t pid;
	long t0;
	int fd;

	start();
	rft_cli_ok(0, "load", NULL);
	fd = open(state_path("lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0);
	t0 = rft_now_ms();
	pid = rfp_cli_spawn(NULL, "isolate", "--comment", "stuck lock", NULL);
	cr_assert_gt(pid, 0);
	rft_msleep(RF_ISOLATE_LOCK_WAIT_MS + 2000);
	cr_expect_lt(rft_now_ms() - t0, RF_LOCK_TIMEOUT_MS, "slow test host");
	expect_isolated("while the lock is held");
	cr_expect_eq(rfp_wait(pid, RF_LOCK_TIMEOUT_MS + 5000), 1, "unrecorded: exit 1");
	close(fd);
	cr_expect_eq(rft_status_isolated(), 1);
	cr_expect(history_has(needles), "the isolation was never recorded");
	rft_cli_ok(0, "release", NULL);
	expect_open("released");
}

/* The agent still starts, restores and enforces when its locks cannot be used. */
Test(state, the_agent_starts_with_a_broken_state_dir)
{
	pid_t agent;

	start();
	rft_cli_ok(0, "isolate", "--comment", "before reboot", NULL);
	reboot();
	make_fault(F_LOCK_DIR);
	cr_assert_eq(mkdir(state_path("agent.lock"), 0700), 0);
	agent = rfp_agent_start();
	cr_expect_gt(agent, 0, "the agent did not start: %d", agent);
	expect_isolated("restored with a broken state dir");
	if (agent > 0)
		rfp_kill(agent);
	clear_fault(F_LOCK_DIR);
	rmdir(state_path("agent.lock"));
	rft_cli_ok(0, "release", NULL);
	expect_open("released");
}

/* ---- item 10: a killed command is finished or failed by the next one ------------------------ */

struct kill_case {
	const char *cmd;  /* isolate, release, add, del */
	const char *step; /* RINGFENCE_TEST_CRASH_AT */
	int isolated;	  /* what the kernel and the record converge to */
	const char *type, *status;
};

static const struct kill_case kills[] = {
    {"isolate", "intent", 0, "isolate", "Failed"},
    {"isolate", "applied", 1, "isolate", "Succeeded"},
    {"isolate", "recorded", 1, "isolate", "Succeeded"},
    {"release", "intent", 1, "release", "Failed"},
    {"release", "applied", 0, "release", "Succeeded"},
    {"add", "intent", 0, "allow-add", "Succeeded"},
    {"add", "applied", 0, "allow-add", "Succeeded"},
    {"del", "applied", 0, "allow-del", "Succeeded"},
    {"confirm", "intent", 1, "confirm", "Failed"},
    {"confirm", "applied", 1, "confirm", "Succeeded"},
};
RFT_TABLE_PARAMS(state, killed_commands_converge, kills)

static int run_killed(const struct kill_case *k)
{
	char env[64];
	char *const envp[] = {env, NULL};

	snprintf(env, sizeof(env), "RINGFENCE_TEST_CRASH_AT=%s", k->step);
	if (!strcmp(k->cmd, "isolate"))
		return rfp_cli_env(envp, NULL, NULL, "isolate", "--comment", "killed", NULL);
	if (!strcmp(k->cmd, "release") || !strcmp(k->cmd, "confirm"))
		return rfp_cli_env(envp, NULL, NULL, k->cmd, NULL);
	return rfp_cli_env(envp, NULL, NULL, "allow", k->cmd, "net", RFT_PEER_IP4, "proto", "tcp",
			   "port", "8402", NULL);
}

ParameterizedTest(const size_t *row, state, killed_commands_converge)
{
	const struct kill_case *k = &kills[*row];
	char type[64], status[64];
	const char *needles[] = {type, status, NULL};
	char *list;
	bool rule = !strcmp(k->cmd, "add");
	pid_t agent;

	start();
	if (!strcmp(k->cmd, "release"))
		rft_cli_ok(0, "isolate", NULL);
	if (!strcmp(k->cmd, "confirm")) /* a confirm that did not take must be visible */
		rft_cli_ok(0, "isolate", "--confirm-within", "1h", NULL);
	if (!strcmp(k->cmd, "del"))
		rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port", "8402",
			   NULL);
	cr_assert_eq(run_killed(k), -1, "%s did not die at %s", k->cmd, k->step);
	/* the next command converges; a second one finds nothing left to do */
	cr_expect_eq(rft_status_isolated(), k->isolated, "%s at %s", k->cmd, k->step);
	cr_expect_eq(rft_status_isolated(), k->isolated);
	snprintf(type, sizeof(type), "\"type\":\"%s\"", k->type);
	snprintf(status, sizeof(status), "\"status\":\"%s\"", k->status);
	cr_expect(history_has(needles), "%s at %s: no %s %s", k->cmd, k->step, type, status);
	list = rfp_cli_out("allow", "list", NULL);
	cr_expect_eq(strstr(list, "port 8402") != NULL, rule, "%s at %s: %s", k->cmd, k->step,
		     list);
	free(list);
	/* a reboot: what was recorded is what comes back */
	reboot();
	agent = rfp_agent_start();
	cr_assert_gt(agent, 0);
	cr_expect_eq(out_tcp(AF_INET6, PORT_OTHER), k->isolated ? RFT_EPERM : RFT_OK,
		     "%s at %s: after a reboot", k->cmd, k->step);
	if (!strcmp(k->cmd, "confirm")) {
		char *st = rfp_cli_out("status", "--json", NULL);

		cr_expect_eq(strstr(st, "\"confirm_deadline\":null") != NULL,
			     !strcmp(k->step, "applied"), "confirm at %s: %s", k->step, st);
		free(st);
	}
	if (!k->isolated)
		rft_cli_ok(0, "isolate", NULL);
	cr_expect_eq(out_tcp(AF_INET, PORT_OTHER), rule ? RFT_OK : RFT_EPERM,
		     "%s at %s: the rule after a reboot", k->cmd, k->step);
	cr_expect_eq(out_tcp(AF_INET6, PORT_OTHER), RFT_EPERM);
	rfp_kill(agent);
	rft_cli_ok(0, "release", NULL);
}

/* With the agent running, a killed isolate is its own (with its deadline), not external. */
Test(state, a_killed_isolate_is_finished_with_its_deadline_under_the_agent)
{
	const char *needles[] = {"\"type\":\"isolate\"", "\"status\":\"Succeeded\"", NULL};
	char *const envp[] = {"RINGFENCE_TEST_CRASH_AT=applied", NULL};
	char *hist, *st;
	pid_t agent;

	start();
	agent = rfp_agent_start();
	cr_assert_gt(agent, 0);
	cr_assert_eq(rfp_cli_env(envp, NULL, NULL, "isolate", "--for", "1h", NULL), -1);
	rft_msleep(2500); /* the agent's loop looks every second */
	cr_expect(rfp_history_wait(3000, needles), "the isolate was not recorded");
	hist = rfp_cli_out("history", "--json", NULL);
	cr_expect_null(strstr(hist, "external-isolate"), "recorded as external: %s", hist);
	free(hist);
	st = rfp_read_file(state_path("isolation")); /* what a reboot restores */
	cr_assert_not_null(st);
	cr_expect(strstr(st, "\"deadline\":") &&
		      strtoull(strstr(st, "\"deadline\":") + 11, NULL, 10),
		  "its deadline was lost: %s", st);
	free(st);
	expect_isolated("killed isolate");
	rfp_kill(agent);
	rft_cli_ok(0, "release", NULL);
}

/* ---- items 11, 12, 16 ------------------------------------------------------------------------ */

/* "2026-12-06T07:00:01.234Z" in ms since the epoch. */
static long long time_ms(const char *t)
{
	struct tm tm = {0};
	int ms = 0;

	cr_assert_eq(sscanf(t, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms),
		     7, "%s", t);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) * 1000 + ms;
}

/* The completed time of the action whose object holds needle. */
static long long completed_ms(const char *hist, const char *needle)
{
	const char *needles[] = {needle, NULL};
	char obj[4096], t[64];

	cr_assert_not_null(rfp_find_object(hist, needles, obj, sizeof(obj)), "%s", hist);
	cr_assert_not_null(rfp_json_str(obj, "completed", t, sizeof(t)), "%s", obj);
	return time_ms(t);
}

/* A lapse with no agent running is recorded by the next reader, once, at the kernel's time. */
Test(state, a_lapse_is_recorded_with_the_kernel_deadline)
{
	const char *needles[] = {"\"type\":\"auto-release\"", NULL};
	long long isolated, lapsed;
	char *hist, *at;

	start();
	rft_cli_ok(0, "isolate", "--for", "2s", NULL);
	rft_msleep(5000);
	cr_expect_eq(rft_status_isolated(), 0);
	cr_expect(history_has(needles), "status did not record the lapse");
	hist = rfp_cli_out("history", "--json", NULL);
	at = strstr(hist, "\"type\":\"auto-release\"");
	cr_assert_not_null(at, "%s", hist);
	cr_expect_null(strstr(at + 1, "\"type\":\"auto-release\""), "recorded twice: %s", hist);
	isolated = completed_ms(hist, "\"type\":\"isolate\"");
	lapsed = completed_ms(hist, "\"type\":\"auto-release\"");
	cr_expect(lapsed - isolated >= 1500 && lapsed - isolated <= 3000,
		  "lapse recorded %lld ms after isolating, not at the 2 s deadline: %s",
		  lapsed - isolated, hist);
	free(hist);
}

/* Replace the number after "key": in the isolation record by its value minus delta_ns. */
static void record_shift(const char *key, unsigned long long delta_ns)
{
	char *text = rfp_read_file(state_path("isolation")), *at, out[8192], k[64];
	unsigned long long v;

	cr_assert_not_null(text);
	snprintf(k, sizeof(k), "\"%s\":", key);
	at = strstr(text, k);
	cr_assert_not_null(at, "no %s in %s", key, text);
	v = strtoull(at + strlen(k), NULL, 10);
	*at = '\0';
	snprintf(out, sizeof(out), "%s%s%llu%s", text, k, v - delta_ns,
		 at + strlen(k) + strspn(at + strlen(k), "0123456789"));
	write_text(state_path("isolation"), out);
	free(text);
}

/* confirm puts the --for deadline in place on the kernel's clock, whatever the wall clock did. */
Test(state, confirm_keeps_the_for_deadline_on_the_kernel_clock)
{
	const char *needles[] = {"\"isolated\":true", NULL};
	char *st, obj[8192], deadline[64];
	long long left;

	start();
	rft_cli_ok(0, "isolate", "--confirm-within", "1h", "--for", "2h", NULL);
	record_shift("for", 3ULL * 3600 * 1000000000ULL); /* as if the clock jumped 3 h ahead */
	rft_cli_ok(0, "confirm", NULL);
	st = rfp_cli_out("status", "--json", NULL);
	cr_assert_not_null(rfp_find_object(st, needles, obj, sizeof(obj)), "%s", st);
	cr_assert_not_null(rfp_json_str(obj, "deadline", deadline, sizeof(deadline)),
			   "confirm dropped the --for deadline: %s", st);
	left = time_ms(deadline) - (long long)time(NULL) * 1000;
	cr_expect(left > 7200000 - 300000 && left < 7200000 + 60000,
		  "the --for deadline is %lld ms away, not 2 h: %s", left, st);
	free(st);
	expect_isolated("confirmed");
	rft_cli_ok(0, "release", NULL);
}

/* --for on an isolated target is refused with exit 2, never ignored. */
Test(state, a_new_deadline_on_an_isolated_target_is_refused)
{
	char *err = NULL, *st;

	start();
	rft_cli_ok(0, "isolate", NULL);
	cr_expect_eq(rft_cli(NULL, &err, "isolate", "--for", "2s", NULL), 2, "%s", err);
	cr_expect(strstr(err, "release") != NULL, "the message should say what to do: %s", err);
	free(err);
	cr_expect_eq(rft_cli(NULL, NULL, "isolate", "--confirm-within", "2s", NULL), 2);
	rft_msleep(2500);
	expect_isolated("the deadline must not have been applied");
	st = rfp_cli_out("status", "--json", NULL);
	cr_expect(strstr(st, "\"deadline\":null") != NULL, "%s", st);
	free(st);
	rft_cli_ok(0, "isolate", NULL); /* without a deadline: still "nothing changed", exit 0 */
	rft_cli_ok(0, "release", NULL);
}

/* An exe rule whose file is gone can still be removed. */
Test(state, an_exe_rule_whose_file_is_gone_can_be_removed)
{
	char exe[PATH_MAX], *list;

	cr_assert_eq(rfp_copy_self("gone", exe, sizeof(exe)), 0);
	rft_cli_ok(0, "allow", "add", "exe", exe, NULL);
	cr_assert_eq(unlink(exe), 0);
	rft_cli_ok(0, "allow", "del", "exe", exe, NULL);
	list = rfp_cli_out("allow", "list", NULL);
	cr_expect_null(strstr(list, "gone"), "%s", list);
	free(list);
	cr_expect_eq(rft_cli(NULL, NULL, "allow", "del", "exe", exe, NULL), 1, "removed twice");
}

/* confirm with nothing pending says so, and not that something was rolled back. */
Test(state, confirm_with_nothing_pending)
{
	char *err = NULL;

	rft_cli_ok(0, "load", NULL);
	cr_expect_eq(rft_cli(NULL, &err, "confirm", NULL), 1);
	cr_expect(strstr(err, "not isolated") && !strstr(err, "rolled back"), "%s", err);
	free(err);
}
