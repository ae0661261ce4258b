// SPDX-License-Identifier: GPL-2.0-only
/* The test environment; contracts in rft_env.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include "rft_child.h"
#include "rft_env.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define RFT_PREFIX	"rf-test-"
#define RFT_BPFFS	"/sys/fs/bpf"
#define RFT_SKIP_PREFIX "kernel test skipped: "

struct rft_env rft;

void rft_unavailable(const char *fmt, ...)
{
	const char *req = getenv("RINGFENCE_REQUIRE_KERNEL");
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (req && !strcmp(req, "1"))
		cr_assert_fail("kernel tests required (RINGFENCE_REQUIRE_KERNEL=1) but %s", msg);
	cr_skip_test(RFT_SKIP_PREFIX "%s", msg);
	abort(); /* not reached */
}

static bool on_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX], *dirs, *save = NULL, *d;
	bool found = false;

	dirs = strdup(path && *path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
	if (!dirs)
		return false;
	for (d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		snprintf(buf, sizeof(buf), "%s/%s", d, name);
		found = access(buf, X_OK) == 0;
	}
	free(dirs);
	return found;
}

void rft_require_tool(const char *name)
{
	if (!on_path(name))
		rft_unavailable("'%s' is not installed (not on PATH)", name);
}

bool rft_have_nft(void)
{
	static const char *const paths[] = {"/usr/sbin/nft", "/usr/bin/nft", "/sbin/nft"};
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (!access(paths[i], X_OK))
			return true;
	return false;
}

int rft_cgroup2_mount(char *buf, size_t len)
{
	char line[4096], dev[256], mnt[PATH_MAX], type[64];
	FILE *f = fopen("/proc/self/mounts", "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %4095s %63s", dev, mnt, type) != 3)
			continue;
		if (!strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", mnt);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

void rft_require_kernel(void)
{
	const char *bin = getenv("RINGFENCE_BIN"), *btf;
	struct statfs sfs;
	char mnt[PATH_MAX];

	if (geteuid() != 0)
		rft_unavailable("not running as root (run 'sudo make kernel-test')");
	/* as systemd, bpftool and the CLI do: mount bpffs where it is missing */
	if (!statfs(RFT_BPFFS, &sfs) && sfs.f_type != BPF_FS_MAGIC)
		mount("bpf", RFT_BPFFS, "bpf", 0, "mode=0700");
	if (statfs(RFT_BPFFS, &sfs) || sfs.f_type != BPF_FS_MAGIC)
		rft_unavailable("no bpffs at %s, and mounting one failed (mount -t bpf bpf %s)",
				RFT_BPFFS, RFT_BPFFS);
	if (rft_cgroup2_mount(mnt, sizeof(mnt)))
		rft_unavailable("no cgroup2 filesystem mounted");
	btf = getenv("RINGFENCE_BTF");
	if (access("/sys/kernel/btf/vmlinux", R_OK) && (!btf || !*btf || access(btf, R_OK)))
		rft_unavailable(
		    "no kernel BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF=y) and "
		    "no RINGFENCE_BTF file for the CLI's --btf");
	if (!bin || !*bin || access(bin, X_OK))
		rft_unavailable("RINGFENCE_BIN is not set to the ringfence binary (use make "
				"kernel-test)");
	rft_require_tool("ip");
}

/* ---- skip reasons, printed once at the end of the run ------------------------------------ */

#define MAX_SKIP_REASONS 16

/* Distinct reasons of the skipped tests, in the runner process (report hooks run there). */
static struct {
	char reason[512];
	unsigned int tests;
} skips[MAX_SKIP_REASONS];
static unsigned int nskips, skipped_tests;

ReportHook(POST_TEST)(struct criterion_test_stats *st)
{
	const char *why = st->message && *st->message ? st->message : "no reason given";
	unsigned int i;

	if (st->test_status != CR_STATUS_SKIPPED)
		return;
	skipped_tests++;
	if (!strncmp(why, RFT_SKIP_PREFIX, strlen(RFT_SKIP_PREFIX)))
		why += strlen(RFT_SKIP_PREFIX);
	for (i = 0; i < nskips && strcmp(skips[i].reason, why); i++)
		;
	if (i == nskips && nskips < MAX_SKIP_REASONS)
		snprintf(skips[nskips++].reason, sizeof(skips[0].reason), "%s", why);
	if (i < nskips)
		skips[i].tests++;
}

static void print_skips(void)
{
	unsigned int i;

	fprintf(stderr, "ringfence: %u kernel test%s skipped (not counted in 'Tested'):\n",
		skipped_tests, skipped_tests == 1 ? "" : "s");
	for (i = 0; i < nskips; i++)
		fprintf(stderr, "  %u: %s\n", skips[i].tests, skips[i].reason);
}

/* After Criterion's summary line, so that it is the last thing a run prints. */
ReportHook(POST_ALL)(struct criterion_global_stats *gs)
{
	(void)gs;
	if (skipped_tests)
		atexit(print_skips);
}

/* ---- cgroup, netns, dirs ---------------------------------------------------------------- */

int rft_netns_enter(const char *name)
{
	char path[PATH_MAX];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		ret = -errno;
	close(fd);
	return ret;
}

int rft_cgroup_enter(const char *cg, pid_t pid)
{
	char path[PATH_MAX], buf[32];
	int fd, n, ret = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%d\n", pid ? pid : getpid());
	if (write(fd, buf, (size_t)n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

/* Run a fixed command quietly; returns its exit status. */
static int run(const char *netns, ...)
{
	char *argv[32];
	va_list ap;
	int n = 0;

	va_start(ap, netns);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return rft_exec(netns, argv, NULL, NULL);
}

int rft_cgroup_create(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int rft_cgroup_remove(const char *path)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(path);
	int fd, i;

	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		rft_cgroup_remove(p); /* a cgroup with children cannot be removed */
	}
	if (d)
		closedir(d);
	snprintf(p, sizeof(p), "%s/cgroup.kill", path);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0) {
			/* cgroup.kill missing on old kernels: the rmdir below reports EBUSY */
		}
		close(fd);
	}
	for (i = 0; i < 100; i++) {
		if (!rmdir(path) || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		rft_msleep(20);
	}
	return -EBUSY;
}

void rft_dev_ifname(char *buf, size_t len, pid_t creator)
{
	snprintf(buf, len, "rft%dd", (int)creator % 10000000);
}

unsigned int rft_dev_tc_filter(unsigned int handle, int attach_fd)
{
	unsigned int id = 0;
	int pfd[2];
	pid_t pid;

	if (pipe(pfd))
		return 0;
	pid = fork();
	if (pid == 0) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .attach_point = BPF_TC_EGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = handle, .priority = 1);
		char ifname[IF_NAMESIZE];

		rft_dev_ifname(ifname, sizeof(ifname), rft.owner);
		if (rft_netns_enter(rft.dev_ns))
			_exit(1);
		h.ifindex = (int)if_nametoindex(ifname);
		if (attach_fd >= 0) {
			bpf_tc_hook_create(&h); /* EEXIST when clsact is there already */
			o.prog_fd = attach_fd;
			if (bpf_tc_attach(&h, &o))
				_exit(1);
			o.prog_fd = 0;
			o.prog_id = 0;
			o.flags = 0;
		}
		if (bpf_tc_query(&h, &o))
			o.prog_id = 0;
		_exit(write(pfd[1], &o.prog_id, sizeof(o.prog_id)) == sizeof(o.prog_id) ? 0 : 1);
	}
	close(pfd[1]);
	if (pid > 0 && read(pfd[0], &id, sizeof(id)) != sizeof(id))
		id = 0;
	close(pfd[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return id;
}

int rft_netns_create(const char *dev, const char *peer)
{
	char dif[16], pif[16];

	rft_dev_ifname(dif, sizeof(dif), getpid());
	snprintf(pif, sizeof(pif), "rft%dp", (int)getpid() % 10000000);
	if (run(NULL, "ip", "netns", "add", dev, NULL) ||
	    run(NULL, "ip", "netns", "add", peer, NULL))
		return -1;
	/* created inside the device namespace: nothing ever appears in the host's */
	if (run(dev, "ip", "link", "add", dif, "type", "veth", "peer", "name", pif, "netns", peer,
		NULL))
		return -1;
	if (run(dev, "ip", "addr", "add", RFT_DEV_IP4 "/24", "dev", dif, NULL) ||
	    run(dev, "ip", "addr", "add", RFT_DEV_IP6 "/64", "dev", dif, "nodad", NULL) ||
	    run(dev, "ip", "link", "set", dif, "up", NULL) ||
	    run(dev, "ip", "link", "set", "lo", "up", NULL))
		return -1;
	if (run(peer, "ip", "addr", "add", RFT_PEER_IP4 "/24", "dev", pif, NULL) ||
	    run(peer, "ip", "addr", "add", RFT_PEER_IP6 "/64", "dev", pif, "nodad", NULL) ||
	    run(peer, "ip", "link", "set", pif, "up", NULL) ||
	    run(peer, "ip", "link", "set", "lo", "up", NULL))
		return -1;
	return 0;
}

void rft_netns_remove(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	if (access(path, F_OK))
		return;
	run(NULL, "ip", "netns", "del", name, NULL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* fn(<dir>/<name>) for every entry of dir whose name `want` accepts. */
static void each_entry(const char *dir, bool (*want)(const char *name),
		       void (*fn)(const char *path))
{
	char p[PATH_MAX * 2];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!want(de->d_name))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		fn(p);
	}
	closedir(d);
}

/* Unpin everything in a pin dir, targets/<id>/ included: links detach when their pin goes. */
static void remove_pins(const char *dir)
{
	rm_rf(dir);
}

static bool pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

/* Owner pid of an entry called rf-test-<pid>[-...], 0 if the name is not ours. */
static pid_t owner_of(const char *name)
{
	char *end;
	long pid;

	if (strncmp(name, RFT_PREFIX, strlen(RFT_PREFIX)))
		return 0;
	pid = strtol(name + strlen(RFT_PREFIX), &end, 10);
	if (end == name + strlen(RFT_PREFIX) || (*end && *end != '-') || pid <= 0)
		return 0;
	return (pid_t)pid;
}

/* Named rf-test-<pid>[-...] after a pid that is gone. */
static bool stale(const char *name)
{
	pid_t pid = owner_of(name);

	return pid && !pid_alive(pid);
}

static void sweep_dir(const char *dir, void (*remove)(const char *path))
{
	each_entry(dir, stale, remove);
}

static void sweep_netns(const char *path)
{
	rft_netns_remove(strrchr(path, '/') + 1);
}

static void sweep_cgroup(const char *path)
{
	rft_cgroup_remove(path);
}

void rft_sweep_stale(void)
{
	char mnt[PATH_MAX];

	sweep_dir("/run/netns", sweep_netns);
	if (!rft_cgroup2_mount(mnt, sizeof(mnt)))
		sweep_dir(mnt, sweep_cgroup);
	sweep_dir(RFT_BPFFS, remove_pins);
	sweep_dir("/tmp", rm_rf);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -errno : 0;
}

void rft_setup(void)
{
	pid_t me = getpid();
	char path[PATH_MAX + 32];
	int ret;

	rft_require_kernel();
	rft_sweep_stale();
	memset(&rft, 0, sizeof(rft));
	rft.owner = me;
	rft_cgroup2_mount(rft.cg2, sizeof(rft.cg2));
	snprintf(rft.cg, sizeof(rft.cg), "%s/" RFT_PREFIX "%d", rft.cg2, me);
	snprintf(rft.pin_dir, sizeof(rft.pin_dir), RFT_BPFFS "/" RFT_PREFIX "%d", me);
	snprintf(rft.state_dir, sizeof(rft.state_dir), "/tmp/" RFT_PREFIX "%d", me);
	snprintf(rft.config, sizeof(rft.config), "%s/ringfence.conf", rft.state_dir);
	snprintf(rft.dev_ns, sizeof(rft.dev_ns), RFT_PREFIX "%d-dev", me);
	snprintf(rft.peer_ns, sizeof(rft.peer_ns), RFT_PREFIX "%d-peer", me);

	if (mkdir(rft.state_dir, 0700)) {
		ret = -errno;
		goto fail;
	}
	/* no resolvers (they would be host addresses) and no tc layer */
	if ((ret = write_file(rft.config, "dns off\npacket-guard off\n")))
		goto fail;
	snprintf(path, sizeof(path), "%s/resolv.conf", rft.state_dir);
	if ((ret = write_file(path, "")))
		goto fail;
	if ((ret = rft_cgroup_create(rft.cg)))
		goto fail;
	/* the test's cgroup owns the top level of the private pin and state dirs, for every CLI
	 * this process starts (rft_cli sets it too, for calls with an environment of their own) */
	setenv("RINGFENCE_HOME_CGROUP", rft.cg, 1);
	if (rft_netns_create(rft.dev_ns, rft.peer_ns)) {
		ret = -EIO;
		goto fail;
	}
	return;
fail:
	rft_teardown();
	cr_assert_fail("test environment setup failed: %s", strerror(-ret));
}

void rft_teardown(void)
{
	if (rft.owner != getpid())
		return; /* a forked helper must never tear down the test's environment */
	rft_kill_children();
	if (rft.pin_dir[0])
		remove_pins(rft.pin_dir);
	if (rft.dev_ns[0])
		rft_netns_remove(rft.dev_ns);
	if (rft.peer_ns[0])
		rft_netns_remove(rft.peer_ns);
	if (rft.cg[0])
		rft_cgroup_remove(rft.cg);
	if (rft.state_dir[0])
		rm_rf(rft.state_dir);
	memset(&rft, 0, sizeof(rft));
}

int rft_cgroup_wait_detached(const char *cg, int timeout_ms)
{
	static const enum bpf_attach_type types[] = {
	    BPF_CGROUP_INET4_CONNECT,	 BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_UDP4_SENDMSG,
	    BPF_CGROUP_UDP6_SENDMSG,	 BPF_CGROUP_INET_INGRESS,  BPF_CGROUP_INET_EGRESS,
	    BPF_CGROUP_INET_SOCK_CREATE,
	};
	long deadline = rft_now_ms() + timeout_ms;
	int fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		__u32 total = 0;
		size_t i;

		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			__u32 cnt = 0;

			if (bpf_prog_query(fd, types[i], 0, NULL, NULL, &cnt)) {
				ret = -errno;
				goto out;
			}
			total += cnt;
		}
		if (!total)
			break;
		if (rft_now_ms() > deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		rft_msleep(5);
	}
out:
	close(fd);
	return ret;
}
