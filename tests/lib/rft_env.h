/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The test environment: the check that the kernel tests can run here (or why not), a throw-away
 * cgroup, a device and a peer network namespace joined by veth, a private state dir and config,
 * all named after the owning test process's pid (rf-test-<pid>...), created by rft_setup() and
 * removed by rft_teardown(), even after a failed assertion; leftovers of crashed runs whose pid is
 * gone are swept by the next rft_setup(). Skip reasons are printed once at the end of the run.
 *
 * Addresses: device 192.0.2.1/24 + 2001:db8::1/64, peer 192.0.2.2/24 + 2001:db8::2/64.
 */
#ifndef RFT_ENV_H
#define RFT_ENV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
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

/* Skip the test with a reason, or fail it when RINGFENCE_REQUIRE_KERNEL=1 (CI). Never returns.
 * The reasons of all skipped tests are printed once, after the run's summary. */
__attribute__((noreturn, format(printf, 1, 2))) void rft_unavailable(const char *fmt, ...);

/* Return if root, bpffs at /sys/fs/bpf, cgroup2, kernel BTF, `ip` and $RINGFENCE_BIN are there;
 * otherwise rft_unavailable() with what is missing. */
void rft_require_kernel(void);

/* Return if executable `name` is on PATH, otherwise rft_unavailable(). */
void rft_require_tool(const char *name);
/* Whether nftables' nft is installed (/usr/sbin, /usr/bin or /sbin; the qemu guests have none). */
bool rft_have_nft(void);

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
/* Move process `pid` (0 = self) into cgroup directory `cg`. Returns 0 or -errno. */
int rft_cgroup_enter(const char *cg, pid_t pid);
/* Wait up to timeout_ms until no cgroup program of ringfence's attach types is attached directly
 * to cg (a link whose last reference was dropped, e.g. by unlinking its pin, detaches in deferred
 * kernel work, not at once). 0 when none is left, -ETIMEDOUT or -errno otherwise. */
int rft_cgroup_wait_detached(const char *cg, int timeout_ms);

/* Create namespaces dev and peer with a veth between them, the test addresses (IPv6 nodad)
 * and lo up in both. Everything is created inside the namespaces. Returns 0 or -1. */
int rft_netns_create(const char *dev, const char *peer);
/* Delete namespace `name` if it exists (its veth end goes with it). */
void rft_netns_remove(const char *name);
/* setns() the calling thread into /run/netns/<name>. Returns 0 or -errno. */
int rft_netns_enter(const char *name);
/* The name of the device end of the veth that rft_netns_create() made in process `creator`. */
void rft_dev_ifname(char *buf, size_t len, pid_t creator);
/* The program id of the egress tc filter `handle` (prio 1) on the device end of the test's veth,
 * 0 if there is none. With attach_fd >= 0, that program is first attached there as the filter.
 * Runs libbpf's query in a child in the device namespace (no tc binary needed: the qemu guests
 * have none). */
unsigned int rft_dev_tc_filter(unsigned int handle, int attach_fd);

#endif /* RFT_ENV_H */
