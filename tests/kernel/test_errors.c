// SPDX-License-Identifier: GPL-2.0-only
/*
 * Operational failures of the CLI against the real system: no root, a pin dir that is not on
 * bpffs, a --cgroup that is not cgroup2 (each: exit 1, a message that says what is missing and
 * how to fix it, nothing created), and the state lock: a second CLI waits while another holds
 * it (a lock that is never released: tests/kernel/test_state.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_state.h"
#include "rf_test.h"

TestSuite(errors, .init = rft_setup, .fini = rft_teardown, .timeout = 60);

static const char *bin(void)
{
	const char *b = getenv("RINGFENCE_BIN");

	cr_assert(b && *b, "RINGFENCE_BIN is not set");
	return b;
}

/* Run the binary with explicit arguments (no harness defaults), capture stderr. */
static int run(char **err, char *const argv[])
{
	return rft_exec(NULL, argv, NULL, err);
}

Test(errors, not_root_exits_1_and_says_so)
{
	char *err = NULL;
	char *const argv[] = {"setpriv",     "--reuid=65534", "--regid=65534", "--clear-groups",
			      (char *)bin(), "--cgroup",      rft.cg,	       "--pin-dir",
			      rft.pin_dir,   "--state-dir",   rft.state_dir,   "--config",
			      rft.config,    "isolate",	      "--force",       NULL};
	struct stat st;

	rft_require_tool("setpriv");
	cr_assert_eq(run(&err, argv), 1, "non-root isolate must exit 1: %s", err);
	cr_expect(strstr(err, "root") != NULL, "the message should say root is needed: %s", err);
	free(err);
	cr_expect_neq(stat(rft.pin_dir, &st), 0, "a refused isolate created %s", rft.pin_dir);
}

Test(errors, pin_dir_not_on_bpffs)
{
	char *err = NULL, pins[300];
	char *const argv[] = {(char *)bin(), "--cgroup",    rft.cg,	   "--pin-dir",
			      pins,	     "--state-dir", rft.state_dir, "--config",
			      rft.config,    "isolate",	    "--force",	   NULL};
	struct stat st;

	snprintf(pins, sizeof(pins), "%s/pins", rft.state_dir); /* /tmp: not bpffs */
	cr_assert_eq(run(&err, argv), 1, "isolate with a non-bpffs pin dir must exit 1: %s", err);
	cr_expect(strstr(err, "not on a BPF filesystem") && strstr(err, "mount -t bpf"),
		  "the message should name the problem and the fix: %s", err);
	free(err);
	cr_expect_neq(stat(pins, &st), 0, "the refused isolate created %s", pins);
}

Test(errors, cgroup_not_cgroup2)
{
	char *err = NULL;
	char *const argv[] = {(char *)bin(), "--cgroup",    rft.state_dir, "--pin-dir",
			      rft.pin_dir,   "--state-dir", rft.state_dir, "--config",
			      rft.config,    "isolate",	    "--force",	   NULL};
	struct stat st;

	/* a selector that names no cgroup is a usage error, like every other (issue 20.1) */
	cr_assert_eq(run(&err, argv), 2, "isolate on a non-cgroup2 dir must exit 2: %s", err);
	cr_expect(strstr(err, "not a cgroup2 directory") && strstr(err, "--cgroup"),
		  "the message should name the problem and the fix: %s", err);
	free(err);
	cr_expect_neq(stat(rft.pin_dir, &st), 0, "the refused isolate created %s", rft.pin_dir);
}

static int hold_lock(void)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/lock", rft.state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(flock(fd, LOCK_EX), 0);
	return fd;
}

/*
 * 'isolate --force' in a child process; returns its pid (the child exits with the status). The
 * child closes its copy of the test's lock fd first: a forked fd shares the flock, so the lock
 * would otherwise stay held by the very CLI that waits for it.
 */
static pid_t isolate_in_child(int lock_fd)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(lock_fd);
		_exit(rft_cli(NULL, NULL, "isolate", "--force", NULL));
	}
	rft_track_child(pid);
	return pid;
}

static int reap(pid_t pid)
{
	int st = 0;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	rft_untrack_child(pid);
	cr_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* A second CLI waits for the lock holder and then does its work, never interleaving. */
Test(errors, second_cli_waits_for_the_lock)
{
	int fd;
	pid_t pid;

	rft_cli_ok(0, "load", NULL);
	fd = hold_lock();
	pid = isolate_in_child(fd);
	rft_msleep(1500);
	cr_expect_eq(rft_status_isolated(), 0,
		     "isolate went ahead while another CLI held the lock");
	close(fd); /* releases the lock */
	cr_expect_eq(reap(pid), 0, "isolate should succeed once the lock is free");
	cr_expect_eq(rft_status_isolated(), 1);
	rft_cli_ok(0, "release", NULL);
}
