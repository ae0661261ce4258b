// SPDX-License-Identifier: GPL-2.0-only
/* Kernel-test helpers; contracts in rf_test.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include "rf_test.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define RFT_PREFIX	 "rf-test-"
#define RFT_BPFFS	 "/sys/fs/bpf"
#define RFT_MAX_CHILDREN 96

#ifndef TCP_IS_MPTCP
#define TCP_IS_MPTCP 43 /* include/uapi/linux/tcp.h, Linux 5.16 */
#endif

struct rft_env rft;

static pid_t children[RFT_MAX_CHILDREN];

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
	cr_skip_test("kernel test skipped: %s", msg);
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
	if (statfs(RFT_BPFFS, &sfs) || sfs.f_type != BPF_FS_MAGIC)
		rft_unavailable("no bpffs at %s (mount -t bpf bpf %s)", RFT_BPFFS, RFT_BPFFS);
	if (rft_cgroup2_mount(mnt, sizeof(mnt)))
		rft_unavailable("no cgroup2 filesystem mounted");
	btf = getenv("RINGFENCE_BTF");
	if (access("/sys/kernel/btf/vmlinux", R_OK) && (!btf || !*btf || access(btf, R_OK)))
		rft_unavailable("no kernel BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF=y) and "
				"no RINGFENCE_BTF file for the CLI's --btf");
	if (!bin || !*bin || access(bin, X_OK))
		rft_unavailable("RINGFENCE_BIN is not set to the ringfence binary (use make "
				"kernel-test)");
	rft_require_tool("ip");
}

/* ---- processes -------------------------------------------------------------------------- */

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

static void kill_children(void)
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

/* Fork argv (PATH search) in netns (NULL = current) with stdin /dev/null, stdout/stderr to
 * ofd/efd (-1 = /dev/null) and env applied ("NAME=value" sets, "NAME" unsets; NULL = none).
 * Returns the pid or -errno. */
static pid_t exec_start(const char *netns, char *const argv[], char *const env[], int ofd, int efd)
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

/* exec_start() and wait, stdout/stderr captured as rft_exec() describes. */
static int exec_wait(const char *netns, char *const argv[], char *const env[], char **out,
		     char **err)
{
	int ofd = out ? memfd_create("rft-out", MFD_CLOEXEC) : -1;
	int efd = err ? memfd_create("rft-err", MFD_CLOEXEC) : -1;
	int status, ret = -1;
	pid_t pid, r;

	if (out)
		*out = NULL;
	if (err)
		*err = NULL;
	pid = exec_start(netns, argv, env, ofd, efd);
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
	return exec_wait(netns, argv, NULL, out, err);
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

/* argv and environment of one CLI run (see rft_cli_start()). */
struct cli_cmd {
	char *argv[RFT_CLI_MAX_ARGS + 10];
	char *env[RFT_CLI_MAX_ENV + 8];
	char resolv[PATH_MAX + 32];
};

static int cli_cmd_init(struct cli_cmd *c, char *const env[], char *const args[])
{
	/* the CLI must never see the host's ringfence settings or touch its interfaces */
	static char *const own_env[] = {
	    "RINGFENCE_CGROUP=", "RINGFENCE_PIN_DIR=",	"RINGFENCE_STATE_DIR=",
	    "RINGFENCE_CONFIG=", "RINGFENCE_REQUESTOR", "RINGFENCE_PACKET_GUARD=off",
	};
	char *bin = getenv("RINGFENCE_BIN");
	int n = 0, e = 0, i;

	if (!bin || !rft.cg[0] || !rft.pin_dir[0] || !rft.state_dir[0] || !rft.dev_ns[0])
		return -EINVAL; /* no private paths: refuse to run against the host defaults */
	c->argv[n++] = bin;
	c->argv[n++] = "--cgroup";
	c->argv[n++] = rft.cg;
	c->argv[n++] = "--pin-dir";
	c->argv[n++] = rft.pin_dir;
	c->argv[n++] = "--state-dir";
	c->argv[n++] = rft.state_dir;
	c->argv[n++] = "--config";
	c->argv[n++] = rft.config;
	for (i = 0; args[i] && i < RFT_CLI_MAX_ARGS; i++)
		c->argv[n++] = args[i];
	c->argv[n] = NULL;
	for (i = 0; i < (int)(sizeof(own_env) / sizeof(own_env[0])); i++)
		c->env[e++] = own_env[i];
	snprintf(c->resolv, sizeof(c->resolv), "RINGFENCE_RESOLV_CONF=%s/resolv.conf",
		 rft.state_dir);
	c->env[e++] = c->resolv;
	for (i = 0; env && env[i]; i++) {
		if (i == RFT_CLI_MAX_ENV)
			return -E2BIG;
		c->env[e++] = env[i];
	}
	c->env[e] = NULL;
	return 0;
}

void rft_cli_args(char *args[], const char *first, va_list *ap)
{
	const char *a = first;
	int n = 0;

	while (a && n < RFT_CLI_MAX_ARGS) {
		args[n++] = (char *)a;
		a = va_arg(*ap, const char *);
	}
	args[n] = NULL;
}

pid_t rft_cli_start(char *const env[], char *const args[], int ofd, int efd)
{
	struct cli_cmd c;
	int ret = cli_cmd_init(&c, env, args);

	if (ret)
		return ret;
	return exec_start(rft.dev_ns, c.argv, c.env, ofd, efd);
}

int rft_cli_argv(char *const env[], char *const args[], char **out, char **err)
{
	struct cli_cmd c;

	if (cli_cmd_init(&c, env, args)) {
		if (out)
			*out = NULL;
		if (err)
			*err = NULL;
		return -1;
	}
	return exec_wait(rft.dev_ns, c.argv, c.env, out, err);
}

int rft_cli(char **out, char **err, ...)
{
	char *args[RFT_CLI_MAX_ARGS + 1];
	va_list ap;

	va_start(ap, err);
	rft_cli_args(args, va_arg(ap, const char *), &ap);
	va_end(ap);
	return rft_cli_argv(NULL, args, out, err);
}

void rft_cli_ok(int want, ...)
{
	char *args[RFT_CLI_MAX_ARGS + 1], *out = NULL, *err = NULL;
	va_list ap;
	int ret;

	va_start(ap, want);
	rft_cli_args(args, va_arg(ap, const char *), &ap);
	va_end(ap);
	ret = rft_cli_argv(NULL, args, &out, &err);
	cr_assert_eq(ret, want, "ringfence exited %d, expected %d\nstdout: %s\nstderr: %s", ret,
		     want, out ? out : "", err ? err : "");
	free(out);
	free(err);
}

/* ---- cgroup, netns, dirs ---------------------------------------------------------------- */

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

int rft_netns_create(const char *dev, const char *peer)
{
	char dif[16], pif[16];

	snprintf(dif, sizeof(dif), "rft%dd", (int)getpid() % 10000000);
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

static bool not_hidden(const char *name)
{
	return name[0] != '.';
}

static void unlink_path(const char *path)
{
	unlink(path);
}

/* Unpin everything in a pin dir: links detach when their pin goes. */
static void remove_pins(const char *dir)
{
	each_entry(dir, not_hidden, unlink_path);
	rmdir(dir);
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
	memset(children, 0, sizeof(children));
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
	kill_children();
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

/* ---- servers ---------------------------------------------------------------------------- */

struct rft_shared {
	int push_seq;  /* bumped by the test */
	int push_done; /* seq the server has handled */
	int pushed;    /* sends that succeeded for push_done */
	struct rft_port_stats st[RFT_MAX_PORTS][2];
};

#define SRV_MAX_FDS 128

struct srv_fd {
	int fd;
	int kind; /* 0 stream listen, 1 stream conn, 2 udp */
	int port_idx;
	int fam_idx;
	struct sockaddr_storage last; /* udp: last sender */
	socklen_t last_len;
};

/* IPPROTO_MPTCP or IPPROTO_SCTP for those, else 0 (TCP, UDP). */
static int ipproto_of(enum rft_proto proto)
{
	return proto == RFT_MPTCP ? IPPROTO_MPTCP : proto == RFT_SCTP ? IPPROTO_SCTP : 0;
}

static bool is_stream(enum rft_proto proto)
{
	return proto == RFT_TCP || proto == RFT_MPTCP || proto == RFT_SCTP;
}

int rft_mptcp_in_use(int fd)
{
	int v = 0;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, SOL_TCP, TCP_IS_MPTCP, &v, &l))
		return -1; /* Linux < 5.16 */
	return v ? 1 : 0;
}

/* rft_listen() with protocol ipproto (0 = the default of type). */
static int listen_proto(int family, int type, int ipproto, unsigned short port)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int one = 1, fd;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, ipproto);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = in6addr_any;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		len = sizeof(*s4);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) || (type == SOCK_STREAM && listen(fd, 64))) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int rft_listen(int family, int type, unsigned short port)
{
	return listen_proto(family, type, 0, port);
}

static int fam_idx_of(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return 0;
	return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) ? 0 : 1;
}

static __attribute__((noreturn)) void server_main(struct rft_shared *sh, enum rft_proto stream,
						  bool udp, const unsigned short *ports, int nports,
						  int ready_fd)
{
	static struct srv_fd fds[SRV_MAX_FDS];
	struct pollfd pfd[SRV_MAX_FDS];
	static char buf[65536];
	int nfds = 0, polled, i, p, f, t, err = 0, seq = 0;
	static const int fams[2] = {AF_INET, AF_INET6};

	for (p = 0; p < nports && !err; p++) {
		for (f = 0; f < 2 && !err; f++) {
			for (t = 0; t < (udp ? 2 : 1) && !err; t++) {
				int fd = listen_proto(fams[f], t ? SOCK_DGRAM : SOCK_STREAM,
						      t ? 0 : ipproto_of(stream), ports[p]);

				if (fd < 0) {
					err = -fd;
					break;
				}
				fds[nfds] = (struct srv_fd){
				    .fd = fd, .kind = t ? 2 : 0, .port_idx = p, .fam_idx = f};
				nfds++;
			}
		}
	}
	rft_ready(ready_fd, err);
	close(ready_fd);
	for (;;) {
		int n;

		for (i = 0; i < nfds; i++)
			pfd[i] = (struct pollfd){.fd = fds[i].fd, .events = POLLIN};
		n = poll(pfd, (nfds_t)nfds, 20);
		if (__atomic_load_n(&sh->push_seq, __ATOMIC_ACQUIRE) != seq) {
			int ok = 0;

			seq = __atomic_load_n(&sh->push_seq, __ATOMIC_ACQUIRE);
			for (i = 0; i < nfds; i++) {
				if (fds[i].kind == 1 && send(fds[i].fd, "P", 1, MSG_NOSIGNAL) == 1)
					ok++;
				if (fds[i].kind == 2 && fds[i].last_len &&
				    sendto(fds[i].fd, "P", 1, 0, (struct sockaddr *)&fds[i].last,
					   fds[i].last_len) == 1)
					ok++;
			}
			__atomic_store_n(&sh->pushed, ok, __ATOMIC_RELEASE);
			__atomic_store_n(&sh->push_done, seq, __ATOMIC_RELEASE);
		}
		if (n <= 0)
			continue;
		polled = nfds;
		for (i = 0; i < polled; i++) {
			struct srv_fd *s = &fds[i];
			struct rft_port_stats *st;
			ssize_t r;

			if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			if (s->kind == 0) {
				struct sockaddr_storage ss;
				socklen_t sl = sizeof(ss);
				int c = accept4(s->fd, (struct sockaddr *)&ss, &sl,
						SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (c < 0)
					continue;
				if (nfds == SRV_MAX_FDS) {
					close(c);
					continue;
				}
				f = fam_idx_of(&ss);
				fds[nfds++] = (struct srv_fd){
				    .fd = c, .kind = 1, .port_idx = s->port_idx, .fam_idx = f};
				st = &sh->st[s->port_idx][f];
				if (stream == RFT_MPTCP && rft_mptcp_in_use(c) == 1)
					__atomic_add_fetch(&st->mptcp, 1, __ATOMIC_RELEASE);
				__atomic_add_fetch(&st->conns, 1, __ATOMIC_RELEASE);
			} else if (s->kind == 1) {
				r = recv(s->fd, buf, sizeof(buf), 0);
				if (r <= 0) {
					if (r < 0 && errno == EAGAIN)
						continue;
					close(s->fd);
					s->fd = -1;
					continue;
				}
				st = &sh->st[s->port_idx][s->fam_idx];
				__atomic_add_fetch(&st->tcp_bytes, (unsigned long long)r,
						   __ATOMIC_RELEASE);
				if (send(s->fd, buf, (size_t)r, MSG_NOSIGNAL) < 0) {
					/* the peer side decides what it sees */
				}
			} else {
				struct sockaddr_storage ss;
				socklen_t sl = sizeof(ss);

				r = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss,
					     &sl);
				if (r < 0)
					continue;
				st = &sh->st[s->port_idx][fam_idx_of(&ss)];
				__atomic_add_fetch(&st->dgrams, 1, __ATOMIC_RELEASE);
				__atomic_add_fetch(&st->udp_bytes, (unsigned long long)r,
						   __ATOMIC_RELEASE);
				s->last = ss;
				s->last_len = sl;
				if (sendto(s->fd, buf, (size_t)r, 0, (struct sockaddr *)&ss, sl) <
				    0) {
					/* e.g. EPERM from the cgroup sendmsg hook: the client sees
					 * it */
				}
			}
		}
		for (i = 0, p = 0; i < nfds; i++) /* drop closed connections */
			if (fds[i].fd >= 0)
				fds[p++] = fds[i];
		nfds = p;
	}
}

int rft_server_start(struct rft_server *s, const char *netns, const char *cgroup,
		     const unsigned short *ports, int nports)
{
	return rft_server_start_proto(s, netns, cgroup, RFT_TCP, true, ports, nports);
}

int rft_server_start_proto(struct rft_server *s, const char *netns, const char *cgroup,
			   enum rft_proto stream, bool udp, const unsigned short *ports, int nports)
{
	int ctl, err = 0;
	pid_t pid;

	memset(s, 0, sizeof(*s));
	if (nports < 1 || nports > RFT_MAX_PORTS)
		return -EINVAL;
	s->sh =
	    mmap(NULL, sizeof(*s->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->sh == MAP_FAILED) {
		s->sh = NULL;
		return -errno;
	}
	s->nports = nports;
	memcpy(s->ports, ports, sizeof(*ports) * (size_t)nports);
	pid = rft_fork_in(netns, cgroup, &ctl);
	if (pid == 0)
		server_main(s->sh, stream, udp, ports, nports, ctl);
	if (pid < 0) {
		rft_server_stop(s);
		return pid;
	}
	s->pid = pid;
	err = rft_ready_wait(ctl);
	close(ctl);
	if (err)
		rft_server_stop(s);
	return err;
}

void rft_server_stop(struct rft_server *s)
{
	rft_kill_child(s->pid);
	if (s->sh)
		munmap(s->sh, sizeof(*s->sh));
	memset(s, 0, sizeof(*s));
}

struct rft_port_stats rft_server_stats(const struct rft_server *s, unsigned short port, int family)
{
	struct rft_port_stats r = {};
	int i, f = family == AF_INET6 ? 1 : 0;

	for (i = 0; i < s->nports; i++) {
		if (s->ports[i] != port)
			continue;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		r = s->sh->st[i][f];
	}
	return r;
}

int rft_server_push(struct rft_server *s)
{
	int seq = __atomic_add_fetch(&s->sh->push_seq, 1, __ATOMIC_RELEASE), i;

	for (i = 0; i < 200; i++) {
		if (__atomic_load_n(&s->sh->push_done, __ATOMIC_ACQUIRE) == seq)
			return __atomic_load_n(&s->sh->pushed, __ATOMIC_ACQUIRE);
		rft_msleep(5);
	}
	return -ETIMEDOUT;
}

/* ---- clients ---------------------------------------------------------------------------- */

const char *rft_outcome_name(enum rft_outcome o)
{
	switch (o) {
	case RFT_OK:
		return "OK";
	case RFT_EPERM:
		return "EPERM";
	case RFT_TIMEOUT:
		return "TIMEOUT";
	case RFT_REFUSED:
		return "REFUSED";
	default:
		return "ERROR";
	}
}

int rft_sockaddr(struct sockaddr_storage *ss, socklen_t *len, int family, const char *addr,
		 unsigned short port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_port = htons(port);
	*len = sizeof(struct sockaddr_in);
	return inet_pton(AF_INET, addr, &((struct sockaddr_in *)ss)->sin_addr) == 1 ? 0 : -EINVAL;
}

static struct rft_result classify(int err)
{
	struct rft_result r = {RFT_ERROR, err, 0};

	if (err == EPERM)
		r.outcome = RFT_EPERM;
	else if (err == ETIMEDOUT || err == EINPROGRESS || err == EAGAIN)
		r.outcome = RFT_TIMEOUT;
	else if (err == ECONNREFUSED)
		r.outcome = RFT_REFUSED;
	return r;
}

/* Create the socket and connect (TCP, connected UDP) within timeout_ms. Returns fd or -errno. */
static int client_socket(int family, enum rft_proto proto, const struct sockaddr_storage *ss,
			 socklen_t len, int timeout_ms)
{
	int fd, err = 0;
	socklen_t el = sizeof(err);
	struct pollfd p;

	fd = socket(family, (is_stream(proto) ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK,
		    ipproto_of(proto));
	if (fd < 0)
		return -errno;
	if (proto == RFT_UDP)
		return fd;
	if (!connect(fd, (const struct sockaddr *)ss, len))
		return fd;
	if (errno != EINPROGRESS) {
		err = errno;
		close(fd);
		return -err;
	}
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	if (poll(&p, 1, timeout_ms) != 1) {
		close(fd);
		return -ETIMEDOUT;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}

int rft_connect(int family, enum rft_proto proto, const char *addr, unsigned short port,
		int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (rft_sockaddr(&ss, &len, family, addr, port))
		return -EINVAL;
	return client_socket(family, proto, &ss, len, timeout_ms);
}

static struct rft_result client_run(int family, enum rft_proto proto, const char *addr,
				    unsigned short port, int timeout_ms)
{
	struct sockaddr_storage ss;
	struct rft_result r = {RFT_OK, 0, 0};
	char payload[RFT_PAYLOAD_LEN], buf[256];
	long deadline = rft_now_ms() + timeout_ms;
	socklen_t len;
	ssize_t n;
	int fd;

	memset(payload, 'x', sizeof(payload));
	if (rft_sockaddr(&ss, &len, family, addr, port))
		return classify(EINVAL);
	fd = client_socket(family, proto, &ss, len, timeout_ms);
	if (fd < 0)
		return classify(-fd);
	if (proto == RFT_UDP)
		n = sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&ss, len);
	else
		n = send(fd, payload, sizeof(payload), MSG_NOSIGNAL);
	if (n < 0) {
		r = classify(errno);
		close(fd);
		return r;
	}
	while (r.echoed < RFT_PAYLOAD_LEN) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = deadline - rft_now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0) {
			r = classify(errno);
			break;
		}
		if (n == 0)
			break;
		r.echoed += (int)n;
	}
	if (r.outcome == RFT_OK && r.echoed < RFT_PAYLOAD_LEN)
		r.outcome = RFT_TIMEOUT;
	close(fd);
	return r;
}

int rft_recv_upto(int fd, int want, long deadline)
{
	char buf[256];
	int got = 0;

	while (got < want) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = deadline - rft_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			break;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0)
			return got ? got : -errno;
		if (n == 0)
			break;
		got += (int)n;
	}
	return got;
}

struct rft_result rft_client(const char *netns, const char *cgroup, int family,
			     enum rft_proto proto, const char *addr, unsigned short port,
			     int timeout_ms)
{
	struct rft_result r = {RFT_ERROR, EIO, 0};
	int ctl;
	pid_t pid = rft_fork_in(netns, cgroup, &ctl);

	if (pid < 0)
		return r;
	if (pid == 0) {
		r = client_run(family, proto, addr, port, timeout_ms);
		if (write(ctl, &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	if (read(ctl, &r, sizeof(r)) != sizeof(r))
		r = (struct rft_result){RFT_ERROR, EIO, 0};
	close(ctl);
	waitpid(pid, NULL, 0);
	rft_untrack_child(pid);
	return r;
}

struct conn_req {
	char op; /* 'S' send, 'R' recv */
	int arg;
};

static __attribute__((noreturn)) void conn_main(int ctl, int fd)
{
	static char buf[65536];
	struct conn_req q;
	long ret;

	memset(buf, 'c', sizeof(buf));
	while (read(ctl, &q, sizeof(q)) == sizeof(q)) {
		if (q.op == 'S') {
			ret =
			    send(fd, buf, (size_t)q.arg < sizeof(buf) ? (size_t)q.arg : sizeof(buf),
				 MSG_NOSIGNAL);
			if (ret < 0)
				ret = -errno;
		} else {
			struct pollfd p = {.fd = fd, .events = POLLIN};

			ret = poll(&p, 1, q.arg);
			if (ret == 1) {
				ret = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (ret < 0)
					ret = errno == EAGAIN ? 0 : -errno;
			}
			memset(buf, 'c', sizeof(buf));
		}
		if (write(ctl, &ret, sizeof(ret)) != sizeof(ret))
			break;
	}
	_exit(0);
}

int rft_conn_open(struct rft_conn *c, const char *netns, const char *cgroup, int family,
		  enum rft_proto proto, const char *addr, unsigned short port, int timeout_ms)
{
	int err;
	pid_t pid;

	c->pid = -1;
	pid = rft_fork_in(netns, cgroup, &c->ctl);
	if (pid < 0)
		return pid;
	if (pid == 0) {
		int fd = rft_connect(family, proto == RFT_UDP ? RFT_UDP_CONNECTED : proto, addr,
				     port, timeout_ms);

		rft_ready(c->ctl, fd < 0 ? -fd : 0);
		conn_main(c->ctl, fd);
	}
	c->pid = pid;
	err = rft_ready_wait(c->ctl);
	if (err)
		rft_conn_close(c);
	return err;
}

static long conn_req(struct rft_conn *c, char op, int arg)
{
	struct conn_req q = {op, arg};
	long ret;

	if (write(c->ctl, &q, sizeof(q)) != sizeof(q))
		return -EIO;
	if (read(c->ctl, &ret, sizeof(ret)) != sizeof(ret))
		return -EIO;
	return ret;
}

long rft_conn_send(struct rft_conn *c, int len)
{
	return conn_req(c, 'S', len);
}

long rft_conn_recv(struct rft_conn *c, int timeout_ms)
{
	return conn_req(c, 'R', timeout_ms);
}

void rft_conn_close(struct rft_conn *c)
{
	rft_child_close(&c->pid, &c->ctl);
}

int rft_json_bool(const char *json, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = json ? strstr(json, pat) : NULL;
	if (!p)
		return -1;
	p += strlen(pat);
	p += strspn(p, " \t\r\n");
	if (*p++ != ':')
		return -1;
	p += strspn(p, " \t\r\n");
	if (!strncmp(p, "true", 4))
		return 1;
	if (!strncmp(p, "false", 5))
		return 0;
	return -1;
}

int rft_cgroup_wait_detached(const char *cg, int timeout_ms)
{
	static const enum bpf_attach_type types[] = {
		BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_UDP4_SENDMSG,
		BPF_CGROUP_UDP6_SENDMSG,  BPF_CGROUP_INET_INGRESS,  BPF_CGROUP_INET_EGRESS,
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

int rft_status_isolated(void)
{
	char *out = NULL;
	int v;

	cr_assert_eq(rft_cli(&out, NULL, "status", "--json", NULL), 0, "status --json failed");
	v = rft_json_bool(out, "isolated");
	cr_assert_neq(v, -1, "status --json has no \"isolated\" boolean: %s", out);
	free(out);
	return v;
}
