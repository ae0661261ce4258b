/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Process-level kernel-test helpers on top of rf_test.h: the test binary re-executed as a small
 * client/server (so a copy of it is "another executable" with its own inode), forked workers that
 * keep sockets across isolate/release, a frame counter in a namespace, the agent in the
 * background and child cgroups. (The CLI with extra environment: rft_cli.h; JSON and text
 * lookups: rft_json.h.)
 */
#ifndef RF_PROC_H
#define RF_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "rf_test.h"

/* Criterion .init/.fini of suites using these helpers: rft_setup() and rft_teardown() already
 * kill the rfp children and agents (tracked with rft_track_child()) and remove child cgroups. */
#define rfp_setup    rft_setup
#define rfp_teardown rft_teardown

/* Create <rft.cg>/<rel> (rel may be "a/b"; parents must exist; rfp_teardown() removes it); the
 * full path goes to buf. Returns 0 or -errno. */
int rfp_cgroup_child(const char *rel, char *buf, size_t len);

/* Copy the running test binary to <rft.state_dir>/<name> (a new inode); path into buf. 0/-errno. */
int rfp_copy_self(const char *name, char *buf, size_t len);

/*
 * Helper modes: the test binary (or a copy) run as "<bin> --rfp-helper MODE ARGS" does MODE and
 * exits before Criterion starts:
 *   client NETNS 4|6 tcp|udp ADDR PORT TIMEOUT_MS [COMM]  one rft_client() exchange (forked, so
 *                                        same executable) after prctl(PR_SET_NAME, COMM);
 *                                        exit status = enum rft_outcome; NETNS "-": the
 *                                        namespace it runs in
 *   client-as UID NETNS ...              client, run as user UID (setresuid, no groups)
 *   forkexec PATH ARG...                 fork, exec PATH ARG..., exit with the child's status
 *   echo-server PORT                     TCP echo on 0.0.0.0 and [::]:PORT; writes 'R' to stdout
 *                                        when listening and 'A' for every accepted connection
 *   conn 4|6 ADDR PORT                   TCP connect (2 s), writes 'R' (or 'E'); then for every
 *                                        'S' read on stdin sends RFT_PAYLOAD_LEN bytes, waits up
 *                                        to 1 s for the echo and writes the echoed count (1 byte)
 */
#define RFP_HELPER_ARG "--rfp-helper"

/* Spawn argv (execve, environment: PATH and LD_LIBRARY_PATH) as a tracked child that first enters
 * cgroup, then netns (rft_fork_in(): NULL = unchanged; it never runs elsewhere). stdin/stdout are
 * pipes returned in in_fd / out_fd when non-NULL (else /dev/null); stderr is /dev/null. Returns the
 * pid or -errno. */
pid_t rfp_spawn(const char *netns, const char *cgroup, char *const argv[], int *in_fd, int *out_fd);
/* Wait up to timeout_ms for a spawned child: its exit status, or -1 if it was killed (by a
 * signal, or with SIGKILL by us on timeout). Untracks it. */
int rfp_wait(pid_t pid, int timeout_ms);
/* Kill (SIGKILL) and reap a spawned child. */
void rfp_kill(pid_t pid);

/* Run helper `client` of executable `exe` in cgroup + the device netns; returns the outcome. */
enum rft_outcome rfp_exe_client(const char *exe, const char *cgroup, int family,
				enum rft_proto proto, const char *addr, unsigned short port,
				const char *comm);

/* One byte from fd within timeout_ms (0: only if one is there already), -1 when none came. */
int rfp_read_byte(int fd, int timeout_ms);

/* A long-lived TCP connection to the peer's port, held by helper `conn` of executable exe in
 * the test's cgroup and device netns. */
struct rfp_exe_conn {
	pid_t pid;
	int in, out; /* the helper's stdin and stdout */
};

/* Spawn it and wait until it is connected (asserts). */
void rfp_exe_conn_open(struct rfp_exe_conn *c, const char *exe, int family, unsigned short port);
/* Send RFT_PAYLOAD_LEN bytes: how many were echoed within 1 s, -1 when the helper is gone. */
int rfp_exe_conn_echo(struct rfp_exe_conn *c);
void rfp_exe_conn_close(struct rfp_exe_conn *c);

/* ---- workers: forked children that keep state (sockets) between calls -------------------- */

typedef int (*rfp_fn)(int cmd, void *arg);
/* A worker function with a result of any fixed size: fills res. */
typedef void (*rfp_res_fn)(int cmd, void *arg, void *res);

struct rfp_worker {
	pid_t pid;
	int ctl;
	size_t len; /* size of a result */
};

/* Fork a child that enters cgroup (first) and netns (NULL = unchanged) with rft_fork_in(), runs
 * fn(0, arg, res) and then fn(cmd, arg, res) for every rfp_worker_call_res(); each time the len
 * bytes of res come back to the caller's res. Returns 0 once fn(0, ...)'s result is in res, or
 * -errno (the child could not start or enter: res untouched; -EIO: no result). The worker runs
 * until rfp_worker_stop() in any case. */
int rfp_worker_start_res(struct rfp_worker *w, const char *netns, const char *cgroup, rfp_res_fn fn,
			 void *arg, void *res, size_t len);
/* fn(cmd, arg, res) in the worker, its result to res: 0, or -EIO if the worker is gone. */
int rfp_worker_call_res(struct rfp_worker *w, int cmd, void *res);
/* rfp_worker_start_res() for int results: fn(0, arg)'s result, or the -errno of the start. */
int rfp_worker_start(struct rfp_worker *w, const char *netns, const char *cgroup, rfp_fn fn,
		     void *arg);
/* fn(cmd, arg) in the worker: its result, or -EIO if the worker is gone. */
int rfp_worker_call(struct rfp_worker *w, int cmd);
void rfp_worker_stop(struct rfp_worker *w);
/* fn(0, arg) once in a fresh child in cgroup + netns: its result. */
int rfp_run_in(const char *netns, const char *cgroup, rfp_fn fn, void *arg);

/* Write `value` to /proc/sys/<key path> as seen from netns (per-namespace sysctls). 0/-errno. */
int rfp_sysctl_in(const char *netns, const char *path, const char *value);

/* ---- raw frames ------------------------------------------------------------------------ */

#define RFP_ETH_P_TEST 0x88b5 /* IEEE local experimental ethertype */

/*
 * A worker function (rfp_worker_start()) sending raw frames from an AF_PACKET socket: cmd 0
 * opens the socket on the first non-loopback interface of the worker's namespace (0 or -errno);
 * any other cmd sends one broadcast frame of ethertype RFP_ETH_P_TEST that carries the marker
 * string arg (the bytes sent, or -errno).
 */
int rfp_frame_worker(int cmd, void *arg);

/* ---- frame counter ----------------------------------------------------------------------- */

struct rfp_sniffer {
	pid_t pid;
	unsigned int *count; /* shared with the counting child */
};

/* In netns, count incoming frames (any interface, not our own outgoing ones) with `ethertype`
 * whose bytes contain `marker`. Returns once the packet socket is open: 0 or -errno. */
int rfp_sniffer_start(struct rfp_sniffer *s, const char *netns, unsigned short ethertype,
		      const char *marker);
unsigned int rfp_sniffer_count(const struct rfp_sniffer *s);
void rfp_sniffer_stop(struct rfp_sniffer *s);

/* ---- the agent ------------------------------------------------------------------------ */

/* Start `ringfence agent` with the private paths in the device netns (packet guard off), stdout
 * and stderr appended to <state_dir>/agent.log; returns once it has recorded its agent-start
 * action (5 s at most): its pid, or -errno. */
pid_t rfp_agent_start(void);

/* Poll `history --json` until it holds an action whose object contains every needle
 * (NULL-terminated) or timeout_ms passes. Returns true if found. */
bool rfp_history_wait(int timeout_ms, const char *const needles[]);

/* One kind of exchange with the peer: family, peer address, TCP or UDP. */
struct rfp_flow {
	int family;
	const char *addr;
	enum rft_proto proto;
};

#define RFP_NFLOWS 4
/* The peer over IPv4 and IPv6, TCP and UDP. */
extern const struct rfp_flow rfp_flows[RFP_NFLOWS];

/*
 * One exchange from a process in cgroup cg (device namespace) to the peer's port: with deny,
 * EPERM and the peer counted nothing; else OK and counted by the peer. what names the case.
 */
void rfp_expect_flow(const struct rft_server *s, const struct rfp_flow *f, const char *cg,
		     unsigned short port, bool deny, const char *what);
/* rfp_expect_flow() from the test cgroup for the TCP flows (IPv4 and IPv6): port `allowed`
 * connects, port `denied` gets EPERM. */
void rfp_expect_tcp_ports(const struct rft_server *s, unsigned short allowed, unsigned short denied,
			  const char *what);

#endif /* RF_PROC_H */
