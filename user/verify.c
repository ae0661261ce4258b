// SPDX-License-Identifier: GPL-2.0-only
/* isolate --verify: probe the management endpoints from inside the isolated cgroup. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "policy.bpf.h"
#include "rf_util.h"
#include "rf_verify.h"

#define RF_DENY_PORT 9 /* discard: nothing listens, and the hook must refuse it anyway */

/* The address host:port of family into e; -1 when host is not an address of that family. */
static int set_sockaddr(struct rf_endpoint *e, int family, const char *host, unsigned short port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&e->ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&e->ss;
	void *addr = family == AF_INET ? (void *)&a4->sin_addr : (void *)&a6->sin6_addr;

	e->ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		a4->sin_port = htons(port);
	else
		a6->sin6_port = htons(port);
	e->len = family == AF_INET ? sizeof(*a4) : sizeof(*a6);
	return inet_pton(family, host, addr) == 1 ? 0 : -1;
}

int rf_endpoint_parse(const char *s, struct rf_endpoint *e, char *err, size_t errlen)
{
	char host[64];
	const char *colon, *h = s;
	size_t hl;
	__u64 port;

	memset(e, 0, sizeof(*e));
	colon = strrchr(s, ':');
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			goto bad;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		if (!colon || strchr(s, ':') != colon)
			goto bad; /* IPv6 needs brackets */
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (rf_parse_u64(colon + 1, 65535, &port) || port < 1)
		goto bad;
	if (set_sockaddr(e, s[0] == '[' ? AF_INET6 : AF_INET, host, (unsigned short)port))
		goto bad;
	snprintf(e->text, sizeof(e->text), "%s", s);
	return 0;
bad:
	snprintf(err, errlen,
		 "invalid --verify endpoint '%s': expected IPv4:PORT (192.0.2.10:443) or "
		 "[IPv6]:PORT ([2001:db8::10]:443)",
		 s);
	return -EINVAL;
}

/* Would the policy let TCP to addr16:port through (destination rules only)? */
static bool dest_allowed(const struct rf_maps *m, const __u8 addr16[16], __u16 port)
{
	struct rf_net_key key = {.prefixlen = 128};
	struct rf_net_val v;
	int i, next;

	memcpy(key.addr, addr16, 16);
	for (i = 0; i < 129; i++) {
		if (bpf_map_lookup_elem(m->net, &key, &v))
			return false;
		if (rf_net_val_allows(&v, RF_IPPROTO_TCP, port, 0, RF_MATCH_OUT_INIT))
			return true;
		next = rf_lpm_next(v.prefixlen, key.prefixlen);
		if (next < 0)
			return false;
		key.prefixlen = (__u32)next;
	}
	return false;
}

/* A documentation address of family that no rule allows, into e; false if every one is. */
static bool unallowed_endpoint(const struct rf_maps *m, int family, struct rf_endpoint *e)
{
	static const char *const v4[] = {"198.51.100.254", "203.0.113.254", "192.0.2.254"};
	static const char *const v6[] = {"2001:db8:ffff:ffff::9", "2001:db8::ffff:9"};
	const char *const *c = family == AF_INET ? v4 : v6;
	size_t i, n = family == AF_INET ? 3 : 2;
	char text[80], err[160];

	for (i = 0; i < n; i++) {
		__u8 a16[16] = {0};

		snprintf(text, sizeof(text), family == AF_INET ? "%s:%d" : "[%s]:%d", c[i],
			 RF_DENY_PORT);
		if (rf_endpoint_parse(text, e, err, sizeof(err)))
			continue;
		if (family == AF_INET) {
			a16[10] = a16[11] = 0xff;
			memcpy(a16 + 12, &((struct sockaddr_in *)&e->ss)->sin_addr, 4);
		} else {
			memcpy(a16, &((struct sockaddr_in6 *)&e->ss)->sin6_addr, 16);
		}
		if (!dest_allowed(m, a16, RF_DENY_PORT))
			return true;
	}
	return false;
}

static long mono_ms(void)
{
	return (long)rf_now_mono_ms();
}

/* One TCP connect within timeout_ms: 0 when connected, else the errno (ETIMEDOUT on timeout). */
static int probe_connect(const struct rf_endpoint *e, int timeout_ms)
{
	int fd = socket(e->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;
	struct pollfd p;
	socklen_t el = sizeof(err);

	if (fd < 0)
		return errno;
	if (connect(fd, (const struct sockaddr *)&e->ss, e->len) == 0)
		goto out;
	err = errno;
	if (err != EINPROGRESS)
		goto out;
	p.fd = fd;
	p.events = POLLOUT;
	err = poll(&p, 1, timeout_ms) == 1 ? 0 : ETIMEDOUT;
	if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el))
		err = errno;
out:
	close(fd);
	return err;
}

/* Move the calling process into cg_dir; where that cgroup cannot hold processes (it has
 * controllers for its children), into a child made for the probe (its path in made). */
static int enter_cgroup(const char *cg_dir, char *made, size_t madelen)
{
	char path[PATH_MAX + 64], pid[32];
	int fd, ret;

	made[0] = '\0';
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
	for (;;) {
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		ret = write(fd, pid, strlen(pid)) < 0 ? -errno : 0;
		close(fd);
		if (ret != -EBUSY || made[0])
			return ret;
		snprintf(made, madelen, "%s/ringfence-verify-%d", cg_dir, (int)getpid());
		if (mkdir(made, 0700) && errno != EEXIST)
			return -errno;
		snprintf(path, sizeof(path), "%s/cgroup.procs", made);
	}
}

/* A process of cg_dir or of a cgroup below it (depth-limited), other than us; 0 if none. */
static pid_t target_process(const char *cg_dir, int depth)
{
	char path[PATH_MAX];
	struct dirent *de;
	pid_t found = 0;
	FILE *procs;
	DIR *d;
	int pid;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
	procs = fopen(path, "re");
	while (procs && !found && fscanf(procs, "%d", &pid) == 1)
		if (pid != getpid())
			found = pid;
	if (procs)
		fclose(procs);
	d = found || depth > 8 ? NULL : opendir(cg_dir);
	while (d && !found && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", cg_dir, de->d_name);
		found = target_process(path, depth + 1);
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * Probe from where the target's processes are: a container has a network namespace (routes,
 * addresses) of its own. Joins the namespace of one of its processes; none (an empty cgroup):
 * stays in ours. 0 or -errno.
 */
static int enter_target_netns(const char *cg_dir)
{
	pid_t pid = target_process(cg_dir, 0);
	char path[64];
	int fd, ret;

	if (!pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno; /* it exited meanwhile */
	ret = setns(fd, CLONE_NEWNET) ? -errno : 0;
	close(fd);
	return ret;
}

struct probe_plan {
	const struct rf_endpoint *eps;
	int n;
	struct rf_endpoint deny[2];
	bool have_deny[2];
	int timeout_ms;
};

/* In the probe child: every check, its results written to fd. */
static void probe_child(const char *cg_dir, const struct probe_plan *p, int fd, char *made,
			size_t madelen)
{
	struct rf_verify_check c;
	int i, ret;

	ret = enter_target_netns(cg_dir);
	if (!ret)
		ret = enter_cgroup(cg_dir, made, madelen);
	if (write(fd, &ret, sizeof(ret)) != sizeof(ret) || ret)
		_exit(1);
	for (i = 0; i < p->n + 2; i++) {
		const struct rf_endpoint *e = i < p->n ? &p->eps[i] : &p->deny[i - p->n];
		long t0 = mono_ms();

		memset(&c, 0, sizeof(c));
		if (i >= p->n && !p->have_deny[i - p->n]) {
			snprintf(c.what, sizeof(c.what), "deny IPv%c", i == p->n ? '4' : '6');
			c.ok = c.skipped = true;
		} else {
			c.err = probe_connect(e, i < p->n ? p->timeout_ms : 1000);
			c.ok = i < p->n ? c.err == 0 : c.err == EPERM;
			snprintf(c.what, sizeof(c.what), "%s %s", i < p->n ? "connect" : "deny",
				 e->text);
		}
		c.ms = mono_ms() - t0;
		if (write(fd, &c, sizeof(c)) != sizeof(c))
			_exit(1);
	}
	_exit(0);
}

/* Read what the probe reports: its setup result, then one check per entry. */
static int read_results(int fd, int expect, int timeout_ms, struct rf_verify_check *checks,
			int *nchecks)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	long deadline = mono_ms() + timeout_ms;
	int setup = -EIO;

	*nchecks = 0;
	if (poll(&p, 1, timeout_ms) != 1 || read(fd, &setup, sizeof(setup)) != sizeof(setup))
		return -EIO;
	if (setup)
		return setup;
	while (*nchecks < expect) {
		long left = deadline - mono_ms();

		if (left <= 0 || poll(&p, 1, (int)left) != 1 ||
		    read(fd, &checks[*nchecks], sizeof(*checks)) != sizeof(*checks))
			return -ETIMEDOUT;
		(*nchecks)++;
	}
	return 0;
}

int rf_verify_run(const char *cg_dir, const struct rf_maps *m, const struct rf_endpoint *eps, int n,
		  int timeout_ms, struct rf_verify_check *checks, int *nchecks)
{
	struct probe_plan p = {.eps = eps, .n = n, .timeout_ms = timeout_ms};
	char made[PATH_MAX + 64] = "";
	int pfd[2], ret, i;
	pid_t pid;

	p.have_deny[0] = unallowed_endpoint(m, AF_INET, &p.deny[0]);
	p.have_deny[1] = unallowed_endpoint(m, AF_INET6, &p.deny[1]);
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return ret;
	}
	if (pid == 0) {
		close(pfd[0]);
		probe_child(cg_dir, &p, pfd[1], made, sizeof(made));
	}
	close(pfd[1]);
	ret = read_results(pfd[0], n + 2, (n + 1) * timeout_ms + 3000, checks, nchecks);
	close(pfd[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	snprintf(made, sizeof(made), "%s/ringfence-verify-%d", cg_dir, (int)pid);
	rmdir(made); /* only exists where the probe needed it */
	for (i = 0; !ret && i < *nchecks; i++)
		if (!checks[i].ok)
			ret = -EPERM;
	return ret;
}
