/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Child processes of a kernel test: every child is tracked so that rft_teardown() kills and reaps
 * it, dies with the test (PDEATHSIG) and runs only in the cgroup and netns it was meant for;
 * commands run with their output captured; time in milliseconds.
 */
#ifndef RFT_CHILD_H
#define RFT_CHILD_H

#include <sys/types.h>

/* Remember a child pid so rft_teardown() kills and reaps it. */
void rft_track_child(pid_t pid);
/* Forget a child the caller has reaped itself. */
void rft_untrack_child(pid_t pid);
/* Kill (SIGKILL) and reap every tracked child (rft_teardown()). */
void rft_kill_children(void);
/* In a forked child: die with the test process (PDEATHSIG), so nothing outlives a crashed test. */
void rft_child_init(void);
/* Fork a child (rft_child_init()) that enters cgroup (first: a socket belongs to the cgroup of its
 * creator) and then netns (NULL = unchanged for either); it never runs anywhere else. The two are
 * joined by a SOCK_SEQPACKET pair, whose end goes to *ctl on each side. In the child: 0. In the
 * parent, once the child is in place: its pid (tracked); or -errno (the child, if any, reaped). */
pid_t rft_fork_in(const char *netns, const char *cgroup, int *ctl);
/* A child of rft_fork_in() reports the outcome of its own setup on ctl: err 0, or an errno after
 * which it exits. */
void rft_ready(int ctl, int err);
/* The parent's side: 0 once the child is set up, else -errno (-EIO when it died first). */
int rft_ready_wait(int ctl);
/* Kill (SIGKILL), reap and untrack a child; nothing for pid <= 0. */
void rft_kill_child(pid_t pid);
/* Close *ctl (if >= 0) and rft_kill_child(*pid); both become -1. */
void rft_child_close(pid_t *pid, int *ctl);

/* Fork and exec argv (PATH search) inside netns `netns` (NULL = current); stdout/stderr are
 * captured into malloc'd strings when out/err are non-NULL (caller frees). Returns the exit
 * status, or -1 if the command did not exit normally or could not run. */
int rft_exec(const char *netns, char *const argv[], char **out, char **err);
/* Fork argv (PATH search) in netns (NULL = current) with stdin /dev/null, stdout/stderr to
 * ofd/efd (-1 = /dev/null) and env applied ("NAME=value" sets, "NAME" unsets; NULL = none).
 * Returns the pid (not tracked) or -errno. */
pid_t rft_exec_start(const char *netns, char *const argv[], char *const env[], int ofd, int efd);
/* rft_exec() with env applied as rft_exec_start() does. */
int rft_exec_env(const char *netns, char *const argv[], char *const env[], char **out, char **err);
/* iproute2's ip by its path (/usr/sbin, /usr/bin, /sbin, /bin), else "ip": a BusyBox sh (the qemu
 * guests') runs its own, smaller applet for a bare "ip" even where iproute2 is installed. */
const char *rft_ip_path(void);
/* sh -c script in netns (NULL = current), `ip` in it being rft_ip_path(); asserted to exit 0 (its
 * stderr in the failure). */
void rft_sh_in(const char *netns, const char *script);

/* Read everything from fd (from offset 0) into a malloc'd string; NULL if out of memory. */
char *rft_slurp_fd(int fd);

/* Milliseconds sleep. */
void rft_msleep(int ms);
/* ms times RINGFENCE_TEST_TIME_SCALE (an integer, default 1): the limit of a wait for a program
 * load, which takes many times longer under emulation (make test-kernels sets 10). */
int rft_scaled_ms(int ms);
/* CLOCK_MONOTONIC in milliseconds. */
long rft_now_ms(void);

#endif /* RFT_CHILD_H */
