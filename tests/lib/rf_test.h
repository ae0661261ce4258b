/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel-test helpers: environment check, a throw-away cgroup, a device and a peer network
 * namespace joined by veth, the CLI run with private paths, servers that count what they receive
 * and clients that run inside the test cgroup. Everything is named after the owning test
 * process's pid (rf-test-<pid>...) and removed by rft_teardown(), even after a failed assertion;
 * leftovers of crashed runs whose pid is gone are swept by the next rft_setup().
 *
 * Addresses: device 192.0.2.1/24 + 2001:db8::1/64, peer 192.0.2.2/24 + 2001:db8::2/64.
 */
#ifndef RF_TEST_H
#define RF_TEST_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#define RFT_DEV_IP4	"192.0.2.1"
#define RFT_DEV_IP6	"2001:db8::1"
#define RFT_PEER_IP4	"192.0.2.2"
#define RFT_PEER_IP6	"2001:db8::2"
#define RFT_PEER_MAPPED "::ffff:192.0.2.2"

#define RFT_DENY_WAIT_MS 1000 /* how long denied traffic is given to (not) arrive */

/* The current test's private environment (filled by rft_setup()). */
struct rft_env {
	char cg2[PATH_MAX - 64]; /* cgroup2 mount point */
	char cg[PATH_MAX];	 /* <cg2>/rf-test-<pid>: the cgroup ringfence enforces on */
	char pin_dir[256];	 /* /sys/fs/bpf/rf-test-<pid> (created by the CLI) */
	char state_dir[256];	 /* /tmp/rf-test-<pid> */
	char config[PATH_MAX];	 /* <state_dir>/ringfence.conf: dns off, packet-guard off */
	char dev_ns[64];	 /* rf-test-<pid>-dev */
	char peer_ns[64];	 /* rf-test-<pid>-peer */
	pid_t owner;		 /* the test process that created all of the above */
};
extern struct rft_env rft;

/* Skip the test with a reason, or fail it when RINGFENCE_REQUIRE_KERNEL=1 (CI). Never returns. */
__attribute__((noreturn, format(printf, 1, 2))) void rft_unavailable(const char *fmt, ...);

/* Return if root, bpffs at /sys/fs/bpf, cgroup2, kernel BTF, `ip` and $RINGFENCE_BIN are there;
 * otherwise rft_unavailable() with what is missing. */
void rft_require_kernel(void);

/* Return if executable `name` is on PATH, otherwise rft_unavailable(). */
void rft_require_tool(const char *name);

/* Find the cgroup2 mount in /proc/self/mounts. Returns 0 or -ENOENT. */
int rft_cgroup2_mount(char *buf, size_t len);

/* Criterion .init: rft_require_kernel(), sweep stale leftovers, create cgroup, netns+veth, state
 * dir and config. On any failure it cleans up what it made and fails the test. */
void rft_setup(void);
/* Criterion .fini: kill tracked children, unpin everything, delete the namespaces, kill and
 * remove the cgroup and its child cgroups, remove the state dir. Idempotent; tolerates partial
 * setups. */
void rft_teardown(void);

/* Remove objects named rf-test-<pid> whose pid no longer exists (crashed runs). */
void rft_sweep_stale(void);

/* Create directory `path` as a cgroup under the cgroup2 mount. Returns 0 or -errno. */
int rft_cgroup_create(const char *path);
/* Remove the cgroups below `path` (deepest first), then kill every process in cgroup `path`
 * (cgroup.kill) and rmdir it. Returns 0 or -errno. */
int rft_cgroup_remove(const char *path);

/* Create namespaces dev and peer with a veth between them, the test addresses (IPv6 nodad)
 * and lo up in both. Everything is created inside the namespaces. Returns 0 or -1. */
int rft_netns_create(const char *dev, const char *peer);
/* Delete namespace `name` if it exists (its veth end goes with it). */
void rft_netns_remove(const char *name);

/* Fork and exec argv (PATH search) inside netns `netns` (NULL = current); stdout/stderr are
 * captured into malloc'd strings when out/err are non-NULL (caller frees). Returns the exit
 * status, or -1 if the command did not exit normally or could not run. */
int rft_exec(const char *netns, char *const argv[], char **out, char **err);

/* Read everything from fd (from offset 0) into a malloc'd string; NULL if out of memory. */
char *rft_slurp_fd(int fd);

/* Run $RINGFENCE_BIN --cgroup <cg> --pin-dir <pin> --state-dir <state> --config <conf> ARGS...
 * (NULL-terminated) inside the device netns (setns, as nsenter --net does). Returns the exit
 * status; out/err as rft_exec(). */
int rft_cli(char **out, char **err, ...) __attribute__((sentinel));
/* rft_cli() without capture that asserts the exit status `want`. */
void rft_cli_ok(int want, ...) __attribute__((sentinel));

#define RFT_CLI_MAX_ARGS 48 /* CLI arguments after the private paths */
#define RFT_CLI_MAX_ENV	 16 /* extra environment entries */

/* Collect the NULL-terminated list `first`, *ap... into args[RFT_CLI_MAX_ARGS + 1] (arguments
 * past RFT_CLI_MAX_ARGS are dropped). ap by address: rft_cli_args(a, va_arg(ap, ...), &ap) is
 * then well defined where va_list is a struct (arm64). */
void rft_cli_args(char *args[], const char *first, va_list *ap);
/* Start the CLI of rft_cli() with args (NULL-terminated) in the device netns, never with the
 * host's settings: RINGFENCE_CGROUP, _PIN_DIR, _STATE_DIR and _CONFIG empty, RINGFENCE_REQUESTOR
 * unset, RINGFENCE_PACKET_GUARD=off, RINGFENCE_RESOLV_CONF=<state_dir>/resolv.conf; then env
 * ("NAME=value", NULL-terminated, NULL = none) on top (so RINGFENCE_PACKET_GUARD=on wins).
 * stdin is /dev/null, stdout/stderr go to ofd/efd (-1 = /dev/null). Returns the pid (not
 * tracked), or -errno: -EINVAL without the private paths, -E2BIG past RFT_CLI_MAX_ENV. */
pid_t rft_cli_start(char *const env[], char *const args[], int ofd, int efd);
/* rft_cli_start() and wait: the exit status, -1 if the CLI did not exit normally or did not start;
 * out/err as rft_exec(). */
int rft_cli_argv(char *const env[], char *const args[], char **out, char **err);

/* Remember a child pid so rft_teardown() kills and reaps it. */
void rft_track_child(pid_t pid);
void rft_untrack_child(pid_t pid);
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

/* Move process `pid` (0 = self) into cgroup directory `cg`. Returns 0 or -errno. */
int rft_cgroup_enter(const char *cg, pid_t pid);
/* `status --json` of the test's ringfence: 1 isolated, 0 not; asserts that status works. */
int rft_status_isolated(void);
/* Wait up to timeout_ms until no cgroup program of ringfence's attach types is attached directly
 * to cg (a link whose last reference was dropped, e.g. by unlinking its pin, detaches in deferred
 * kernel work, not at once). 0 when none is left, -ETIMEDOUT or -errno otherwise. */
int rft_cgroup_wait_detached(const char *cg, int timeout_ms);
/* setns() the calling thread into /run/netns/<name>. Returns 0 or -errno. */
int rft_netns_enter(const char *name);

/* ---- servers ---------------------------------------------------------------------------- */

#define RFT_MAX_PORTS 4

enum rft_proto {
	RFT_TCP,
	RFT_UDP,	   /* unconnected: sendto() (cgroup sendmsg hooks) */
	RFT_UDP_CONNECTED, /* connect() then send() (cgroup connect hooks) */
	RFT_MPTCP,	   /* IPPROTO_MPTCP stream (rft_connect(), rft_server_start_proto()) */
	RFT_SCTP,	   /* IPPROTO_SCTP stream (the same) */
};

/* A non-blocking socket of `type` bound to 0.0.0.0:port or [::]:port (IPV6_V6ONLY), with
 * SO_REUSEADDR; SOCK_STREAM ones listen. Returns the fd or -errno. */
int rft_listen(int family, int type, unsigned short port);

/* What one (port, family) received. Updated by the server process, read by the test. */
struct rft_port_stats {
	unsigned int conns;	      /* TCP connections (SCTP: associations) accepted */
	unsigned int mptcp;	      /* of them, with MPTCP really in use (rft_mptcp_in_use()) */
	unsigned long long tcp_bytes; /* TCP (MPTCP, SCTP) bytes received (and echoed) */
	unsigned int dgrams;	      /* UDP datagrams received (and echoed) */
	unsigned long long udp_bytes;
};

struct rft_shared;

struct rft_server {
	pid_t pid;
	int nports;
	unsigned short ports[RFT_MAX_PORTS];
	struct rft_shared *sh; /* shared memory with the server process */
};

/* Start an echo server in netns (and cgroup, if non-NULL): TCP and UDP on every port, on
 * 0.0.0.0 and on [::] (IPV6_V6ONLY), counting per port and family. Returns once it listens:
 * 0, or -errno. Stopped by rft_server_stop() or rft_teardown(). */
int rft_server_start(struct rft_server *s, const char *netns, const char *cgroup,
		     const unsigned short *ports, int nports);
/* rft_server_start() serving stream protocol `stream` (RFT_TCP, RFT_MPTCP or RFT_SCTP) in place of
 * TCP (counted as TCP), and UDP only if `udp`. */
int rft_server_start_proto(struct rft_server *s, const char *netns, const char *cgroup,
			   enum rft_proto stream, bool udp, const unsigned short *ports,
			   int nports);
void rft_server_stop(struct rft_server *s);
/* Counters of port `port` for family AF_INET or AF_INET6 (the family of the received packet:
 * ::ffff:a.b.c.d traffic counts as AF_INET). */
struct rft_port_stats rft_server_stats(const struct rft_server *s, unsigned short port, int family);
/* Make the server send one byte on every accepted TCP connection and one datagram to the last
 * UDP sender of each socket. Returns how many sends succeeded. */
int rft_server_push(struct rft_server *s);

/* ---- clients ---------------------------------------------------------------------------- */

/* Fill ss/len with addr:port parsed for `family` (AF_INET or AF_INET6). Returns 0 or -EINVAL. */
int rft_sockaddr(struct sockaddr_storage *ss, socklen_t *len, int family, const char *addr,
		 unsigned short port);

/* A non-blocking socket from the calling process to addr:port: streams and connected UDP connect
 * within timeout_ms, RFT_UDP is only created. Returns the fd or -errno. */
int rft_connect(int family, enum rft_proto proto, const char *addr, unsigned short port,
		int timeout_ms);
/* Is MPTCP really in use on stream socket fd (TCP_IS_MPTCP)? 1/0, or -1 when the kernel cannot
 * tell (Linux < 5.16). */
int rft_mptcp_in_use(int fd);

enum rft_outcome {
	RFT_OK,	     /* connected/sent and the whole payload echoed back */
	RFT_EPERM,   /* connect()/sendto() failed with EPERM */
	RFT_TIMEOUT, /* no connection or no echo within the timeout */
	RFT_REFUSED, /* ECONNREFUSED */
	RFT_ERROR,   /* anything else (err says what) */
};

struct rft_result {
	enum rft_outcome outcome;
	int err;    /* errno of the failing call, 0 when none */
	int echoed; /* bytes echoed back */
};

#define RFT_PAYLOAD_LEN 16

/* One exchange from a fresh child in netns (and cgroup if non-NULL): connect or send
 * RFT_PAYLOAD_LEN bytes to addr:port (addr parsed for `family`, so "::ffff:192.0.2.2" works
 * with AF_INET6) and wait up to timeout_ms for the echo. */
struct rft_result rft_client(const char *netns, const char *cgroup, int family,
			     enum rft_proto proto, const char *addr, unsigned short port,
			     int timeout_ms);
const char *rft_outcome_name(enum rft_outcome o);

/* A long-lived connection held by a child in netns/cgroup (TCP or connected UDP). */
struct rft_conn {
	pid_t pid;
	int ctl; /* control socket to the child */
};

/* Connect from a child; it then serves send/recv requests. Returns 0 or -errno. */
int rft_conn_open(struct rft_conn *c, const char *netns, const char *cgroup, int family,
		  enum rft_proto proto, const char *addr, unsigned short port, int timeout_ms);
/* send() len bytes: bytes sent or -errno. */
long rft_conn_send(struct rft_conn *c, int len);
/* Wait up to timeout_ms for data: bytes read (0 = nothing arrived) or -errno. */
long rft_conn_recv(struct rft_conn *c, int timeout_ms);
void rft_conn_close(struct rft_conn *c);

/* Read from fd until `want` bytes arrived, the peer closed or `deadline` (rft_now_ms()) passed:
 * bytes read, or -errno of a failure before anything arrived. */
int rft_recv_upto(int fd, int want, long deadline);

/* Milliseconds sleep. */
void rft_msleep(int ms);
/* ms times RINGFENCE_TEST_TIME_SCALE (an integer, default 1): the limit of a wait for a program
 * load, which takes many times longer under emulation (make test-kernels sets 10). */
int rft_scaled_ms(int ms);
/* CLOCK_MONOTONIC in milliseconds. */
long rft_now_ms(void);

/* Does JSON text `json` hold "key": true (1), "key": false (0), or neither (-1)? First match. */
int rft_json_bool(const char *json, const char *key);

#endif /* RF_TEST_H */
