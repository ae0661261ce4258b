// SPDX-License-Identifier: GPL-2.0-only
/* isolate --verify: probe the management endpoints from inside the isolated cgroup. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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

/*
 * One TCP connect within timeout_ms: 0 when connected, else the errno (ETIMEDOUT on timeout).
 * *no_socket: the socket could not even be made (no IPv6 on this host, no file descriptors).
 */
static int probe_connect(const struct rf_endpoint *e, int timeout_ms, bool *no_socket)
{
	int fd = socket(e->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;
	struct pollfd p;
	socklen_t el = sizeof(err);

	*no_socket = fd < 0;
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

enum rf_check_verdict rf_verify_judge(bool deny, int inside, bool no_socket, int outside)
{
	if (deny) {
		if (inside == EPERM)
			return RF_CHECK_OK;
		/* no IPv6 (ipv6.disable=1), no descriptor: the host's state, not the policy */
		return no_socket ? RF_CHECK_INCONCLUSIVE : RF_CHECK_FAILED;
	}
	if (inside == 0)
		return RF_CHECK_OK;
	if (outside == RF_VERIFY_NO_OUTSIDE)
		/* the connect hook's refusal is the one failure only the policy makes */
		return inside == EPERM && !no_socket ? RF_CHECK_FAILED : RF_CHECK_INCONCLUSIVE;
	/* the same connect from outside the target tells the isolation from the host's state */
	return outside == 0 ? RF_CHECK_FAILED : RF_CHECK_INCONCLUSIVE;
}

/*
 * Is the calling process outside the target cgroup cg_dir (so a probe from here is not judged
 * by the target's policy)? false when it cannot tell.
 */
static bool self_outside(const char *cg_dir)
{
	char line[PATH_MAX + 8], mnt[PATH_MAX], mine[2 * PATH_MAX + 8];
	size_t ml;
	FILE *f;
	bool found = false;

	if (rf_cgroup2_mount(mnt, sizeof(mnt)))
		return false;
	f = fopen("/proc/self/cgroup", "re");
	while (f && !found && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(mine, sizeof(mine), "%s%s", mnt,
				 strcmp(line + 3, "/") ? line + 3 : "");
			found = true;
		}
	if (f)
		fclose(f);
	if (!found)
		return false;
	ml = strlen(cg_dir);
	while (ml > 1 && cg_dir[ml - 1] == '/')
		ml--;
	return !(strncmp(mine, cg_dir, ml) == 0 && (mine[ml] == '\0' || mine[ml] == '/'));
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

	/* in the caller's network namespace: the target's processes choose theirs, so a probe
	 * from there would let them decide the outcome (an empty one, routes of their own) */
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
			c.err = probe_connect(e, i < p->n ? p->timeout_ms : 1000, &c.no_socket);
			c.outside_err = RF_VERIFY_NO_OUTSIDE;
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

/*
 * Each check's verdict. A failed endpoint is tried again from outside the target (this process,
 * when it is outside): only a connect that works from there and not from inside is the
 * isolation's doing. -EPERM when a check failed, else 0 (inconclusive ones included).
 */
static int judge_checks(const char *cg_dir, const struct rf_endpoint *eps, int n, int timeout_ms,
			struct rf_verify_check *checks, int nchecks)
{
	bool outside = self_outside(cg_dir), no_sock;
	int i, ret = 0;

	for (i = 0; i < nchecks; i++) {
		struct rf_verify_check *c = &checks[i];
		enum rf_check_verdict v;

		if (c->skipped)
			continue;
		if (i < n && c->err && outside)
			c->outside_err = probe_connect(&eps[i], timeout_ms, &no_sock);
		v = rf_verify_judge(i >= n, c->err, c->no_socket, c->outside_err);
		c->ok = v == RF_CHECK_OK;
		c->inconclusive = v == RF_CHECK_INCONCLUSIVE;
		if (v == RF_CHECK_FAILED)
			ret = -EPERM;
	}
	return ret;
}

int rf_verify_run(const char *cg_dir, const struct rf_maps *m, const struct rf_endpoint *eps, int n,
		  int timeout_ms, struct rf_verify_check *checks, int *nchecks)
{
	struct probe_plan p = {.eps = eps, .n = n, .timeout_ms = timeout_ms};
	char made[PATH_MAX + 64] = "";
	int pfd[2], ret;
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
	if (ret)
		return ret; /* the probe could not run or finish: it proved nothing */
	return judge_checks(cg_dir, eps, n, timeout_ms, checks, *nchecks);
}
