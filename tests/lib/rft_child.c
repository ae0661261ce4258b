// SPDX-License-Identifier: GPL-2.0-only
/* Child processes and commands of the kernel tests; contracts in rft_child.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rft_child.h"
#include "rft_env.h"

#define RFT_MAX_CHILDREN 96

static pid_t children[RFT_MAX_CHILDREN];

void rft_track_child(pid_t pid)
{
	int i;

	for (i = 0; i < RFT_MAX_CHILDREN; i++) {
		if (!children[i]) {
			children[i] = pid;
			return;
		}
	}
}

void rft_untrack_child(pid_t pid)
{
	int i;

	for (i = 0; i < RFT_MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

void rft_kill_child(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	rft_untrack_child(pid);
}

void rft_child_close(pid_t *pid, int *ctl)
{
	if (*ctl >= 0)
		close(*ctl);
	rft_kill_child(*pid);
	*ctl = -1;
	*pid = -1;
}

void rft_kill_children(void)
{
	int i;

	for (i = 0; i < RFT_MAX_CHILDREN; i++)
		rft_kill_child(children[i]);
}

void rft_msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int rft_scaled_ms(int ms)
{
	const char *s = getenv("RINGFENCE_TEST_TIME_SCALE");
	int f = s ? atoi(s) : 1;

	return f > 1 && f <= 100 ? ms * f : ms;
}

long rft_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void rft_child_init(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(127);
}

void rft_ready(int ctl, int err)
{
	if (write(ctl, &err, sizeof(err)) != sizeof(err) || err)
		_exit(1);
}

int rft_ready_wait(int ctl)
{
	int err;

	if (read(ctl, &err, sizeof(err)) != sizeof(err))
		return -EIO;
	return -err;
}

pid_t rft_fork_in(const char *netns, const char *cgroup, int *ctl)
{
	int sv[2], err = 0;
	pid_t pid;

	*ctl = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0) {
		close(sv[0]);
		rft_child_init();
		if (cgroup)
			err = rft_cgroup_enter(cgroup, 0);
		if (!err && netns)
			err = rft_netns_enter(netns);
		rft_ready(sv[1], -err); /* never runs anywhere but where intended */
		*ctl = sv[1];
		return 0;
	}
	close(sv[1]);
	rft_track_child(pid);
	err = rft_ready_wait(sv[0]);
	if (err) {
		close(sv[0]);
		rft_kill_child(pid);
		return err;
	}
	*ctl = sv[0];
	return pid;
}

char *rft_slurp_fd(int fd)
{
	size_t len = 0, cap = 8192;
	char *buf = malloc(cap);
	ssize_t n;

	if (!buf)
		return NULL;
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	return buf;
}

pid_t rft_exec_start(const char *netns, char *const argv[], char *const env[], int ofd, int efd)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int i, devnull;

		rft_child_init();
		if (netns && rft_netns_enter(netns))
			_exit(126); /* never run in the wrong namespace */
		devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(ofd >= 0 ? ofd : devnull, 1);
		dup2(efd >= 0 ? efd : devnull, 2);
		for (i = 0; env && env[i]; i++) {
			if (strchr(env[i], '='))
				putenv(env[i]);
			else
				unsetenv(env[i]);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int rft_exec_env(const char *netns, char *const argv[], char *const env[], char **out, char **err)
{
	int ofd = out ? memfd_create("rft-out", MFD_CLOEXEC) : -1;
	int efd = err ? memfd_create("rft-err", MFD_CLOEXEC) : -1;
	int status, ret = -1;
	pid_t pid, r;

	if (out)
		*out = NULL;
	if (err)
		*err = NULL;
	pid = rft_exec_start(netns, argv, env, ofd, efd);
	if (pid > 0) {
		while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
		if (r == pid && WIFEXITED(status))
			ret = WEXITSTATUS(status);
		if (ofd >= 0)
			*out = rft_slurp_fd(ofd);
		if (efd >= 0)
			*err = rft_slurp_fd(efd);
	}
	if (ofd >= 0)
		close(ofd);
	if (efd >= 0)
		close(efd);
	return ret;
}

int rft_exec(const char *netns, char *const argv[], char **out, char **err)
{
	return rft_exec_env(netns, argv, NULL, out, err);
}

const char *rft_ip_path(void)
{
	static const char *const paths[] = {"/usr/sbin/ip", "/usr/bin/ip", "/sbin/ip", "/bin/ip"};
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (!access(paths[i], X_OK))
			return paths[i];
	return "ip";
}

void rft_sh_in(const char *netns, const char *script)
{
	char full[4096], *argv[] = {"sh", "-c", full, NULL}, *err = NULL;
	int n = snprintf(full, sizeof(full), "ip() { \"%s\" \"$@\"; }; %s", rft_ip_path(), script);

	cr_assert(n > 0 && (size_t)n < sizeof(full), "script too long: %s", script);
	cr_assert_eq(rft_exec(netns, argv, NULL, &err), 0, "%s: %s", script, err ? err : "");
	free(err);
}
