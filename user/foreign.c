// SPDX-License-Identifier: GPL-2.0-only
/* Sockets a target holds but did not create: found through /proc and sock_diag, and cut. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <bpf/bpf.h>
#include "policy.bpf.h"
#include "rf_foreign.h"
#include "rf_history.h"
#include "rf_policy.h"
#include "rf_service.h"
#include "rf_target.h"
#include "rf_util.h"

#define RF_FOREIGN_MAX	  4096 /* processes, cgroups and sockets looked at per scan */
#define RF_FOREIGN_DEPTH  32
#define TCP_LISTEN_STATE  10
#define RF_ST_UNCONNECTED 7 /* TCP_CLOSE: what sock_diag says of an unconnected UDP socket */

/* What one scan collects before it looks at the sockets. */
struct scan {
	const struct rf_maps *m;
	__u64 cg[RF_FOREIGN_MAX]; /* the target's cgroups */
	size_t ncg;
	struct held {
		__u64 ino; /* socket inode */
		pid_t pid;
		ino_t netns;
	} sk[RF_FOREIGN_MAX];
	size_t nsk;
};

static bool addr_loopback(const __u8 a[16])
{
	return rf_addr_is_loopback(a);
}

bool rf_foreign_keep(const struct rf_foreign_sock *s,
		     bool (*rule_allows)(const struct rf_foreign_sock *s, void *arg), void *arg)
{
	bool connected = s->rport != 0 && s->state != TCP_LISTEN_STATE;

	if (addr_loopback(s->local))
		return true; /* bound to loopback: reaches only this host, which is allowed */
	if (!connected)
		return false; /* a listener or an unconnected datagram socket: any peer */
	if (addr_loopback(s->remote))
		return true;
	return rule_allows && rule_allows(s, arg);
}

/* Does rf_allow_net allow the connection (either direction's rule, as for its packets)? */
static bool net_allows(const struct rf_foreign_sock *s, void *arg)
{
	const struct rf_maps *m = arg;
	struct rf_net_key key = {.prefixlen = 128};
	struct rf_net_val v;
	int i, next;

	memcpy(key.addr, s->remote, 16);
	for (i = 0; i < 129; i++) {
		if (bpf_map_lookup_elem(m->net, &key, &v))
			return false;
		if (rf_net_val_allows(&v, s->proto, s->rport, s->lport, RF_MATCH_FLOW))
			return true;
		next = rf_lpm_next(v.prefixlen, key.prefixlen);
		if (next < 0)
			return false;
		key.prefixlen = (__u32)next;
	}
	return false;
}

/* Is cgroup directory dir, or one of its ancestors below the mount, allowed by a cgroup rule? */
static bool cgroup_allowed(const struct rf_maps *m, const char *dir)
{
	char mnt[PATH_MAX], p[PATH_MAX], *slash;
	struct rf_allow_val v;
	size_t ml;
	struct stat st;

	if (rf_cgroup2_mount(mnt, sizeof(mnt)))
		return false;
	ml = strlen(mnt);
	snprintf(p, sizeof(p), "%s", dir);
	for (;;) {
		__u64 id;

		if (!stat(p, &st)) {
			id = st.st_ino;
			if (!bpf_map_lookup_elem(m->cgroup, &id, &v))
				return true;
		}
		slash = strrchr(p, '/');
		if (!slash || (size_t)(slash - p) < ml)
			return false;
		*slash = '\0';
	}
}

/* Is the process's executable allowed for its real uid (as the programs would judge)? */
static bool exe_allowed(const struct rf_maps *m, pid_t pid)
{
	char path[64], line[256];
	struct rf_exe_key k, any;
	struct rf_exe_users u;
	struct rf_allow_val v;
	unsigned int uid = RF_UID_UNKNOWN;
	char err[RF_ERR_MAX];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %u", &uid) == 1)
			break;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (uid == RF_UID_UNKNOWN || rf_exe_key_for(path, &k, err, sizeof(err)))
		return false;
	any = (struct rf_exe_key){.dev = k.dev, .ino = k.ino, .gen = RF_EXE_GEN_ANY};
	if ((!bpf_map_lookup_elem(m->exe3, &k, &u) && rf_exe_users_allow(&u, uid)) ||
	    (!bpf_map_lookup_elem(m->exe3, &any, &u) && rf_exe_users_allow(&u, uid)))
		return true;
	return !bpf_map_lookup_elem(m->exe, &k, &v) || !bpf_map_lookup_elem(m->exe, &any, &v);
}

/* The socket inodes in /proc/PID/fd, into s. */
static void held_sockets(struct scan *s, pid_t pid)
{
	char path[64], link[64];
	struct dirent *de;
	struct stat st;
	ino_t netns;
	_cleanup_closedir_ DIR *d = NULL;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat(path, &st))
		return;
	netns = st.st_ino;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	while (d && (de = readdir(d)) && s->nsk < RF_FOREIGN_MAX) {
		char fdpath[352];
		unsigned long long ino;
		ssize_t n;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) != 1)
			continue;
		s->sk[s->nsk++] = (struct held){.ino = ino, .pid = pid, .netns = netns};
	}
}

/* A cgroup of the subtree: its id is the target's; mark: it (or an ancestor) is allowed. */
static bool walk_cgroup(const char *dir, int *mark, void *arg)
{
	struct scan *s = arg;
	struct stat st;

	if (s->ncg == RF_FOREIGN_MAX || stat(dir, &st))
		return false;
	s->cg[s->ncg++] = st.st_ino;
	*mark = *mark || cgroup_allowed(s->m, dir);
	return true;
}

/* A process of a cgroup that is not allowed: the sockets it holds, unless its exe is allowed. */
static int walk_pid(int pid, int allowed, void *arg)
{
	struct scan *s = arg;

	if (!allowed && !exe_allowed(s->m, pid))
		held_sockets(s, pid);
	return 0;
}

static bool in_target(const struct scan *s, __u64 cg)
{
	size_t i;

	for (i = 0; i < s->ncg; i++)
		if (s->cg[i] == cg)
			return true;
	return false;
}

static const struct held *held_by(const struct scan *s, __u64 ino, ino_t netns)
{
	size_t i;

	for (i = 0; i < s->nsk; i++)
		if (s->sk[i].ino == ino && s->sk[i].netns == netns)
			return &s->sk[i];
	return NULL;
}

struct diag_req {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 r;
};

/* SOCK_DESTROY the socket sock_diag described as id: 0 or -errno. */
static int destroy(int nl, __u8 family, __u8 proto, const struct inet_diag_sockid *id)
{
	struct diag_req req = {
	    .nlh = {.nlmsg_len = sizeof(req),
		    .nlmsg_type = SOCK_DESTROY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK},
	    .r = {.sdiag_family = family, .sdiag_protocol = proto, .idiag_states = ~0U, .id = *id},
	};
	char buf[1024];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	ssize_t n;

	if (send(nl, &req, sizeof(req), 0) < 0)
		return -errno;
	n = recv(nl, buf, sizeof(buf), 0);
	if (n < (ssize_t)sizeof(*h) || h->nlmsg_type != NLMSG_ERROR)
		return -EIO;
	return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
}

static void to16(__u8 out[16], __u8 family, const __be32 a[4])
{
	memset(out, 0, 16);
	if (family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, a, 4);
	} else {
		memcpy(out, a, 16);
	}
}

/* The INET_DIAG_CGROUP_ID attribute of a dump message; false where the kernel gives none. */
static bool msg_cgroup(struct nlmsghdr *h, struct inet_diag_msg *msg, __u64 *cg)
{
	struct rtattr *a = (struct rtattr *)(msg + 1);
	int len = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof(*msg));

	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == INET_DIAG_CGROUP_ID && RTA_PAYLOAD(a) >= (int)sizeof(*cg)) {
			memcpy(cg, RTA_DATA(a), sizeof(*cg));
			return true;
		}
	return false;
}

/* Judge one dumped socket; the ones to cut go into cut[] (destroyed after the dump). */
static void judge(const struct scan *s, ino_t netns, struct nlmsghdr *h, __u8 proto,
		  struct rf_foreign_sock *out, struct inet_diag_sockid *ids, size_t *n)
{
	struct inet_diag_msg *msg = NLMSG_DATA(h);
	const struct held *held = held_by(s, msg->idiag_inode, netns);
	struct rf_foreign_sock f = {0};
	__u64 cg = 0;

	if (!held || *n == RF_FOREIGN_MAX)
		return;
	if (!msg_cgroup(h, msg, &cg) || in_target(s, cg))
		return; /* made in the target (or unknown: the kernel has no cgroup attribute) */
	f.pid = held->pid;
	f.cgroup_id = cg;
	f.family = msg->idiag_family;
	f.proto = proto;
	f.state = msg->idiag_state;
	to16(f.local, f.family, msg->id.idiag_src);
	to16(f.remote, f.family, msg->id.idiag_dst);
	f.lport = ntohs(msg->id.idiag_sport);
	f.rport = ntohs(msg->id.idiag_dport);
	if (rf_foreign_keep(&f, net_allows, (void *)s->m))
		return;
	out[*n] = f;
	ids[(*n)++] = msg->id;
}

/* Dump (family, proto) in this namespace, then destroy what judge() picked. */
static int dump_and_cut(const struct scan *s, ino_t netns, __u8 family, __u8 proto,
			struct rf_foreign_sock *out, size_t *nout)
{
	struct diag_req req = {
	    .nlh = {.nlmsg_len = sizeof(req),
		    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
	    .r = {.sdiag_family = family, .sdiag_protocol = proto, .idiag_states = ~0U},
	};
	static struct inet_diag_sockid ids[RF_FOREIGN_MAX];
	static char buf[65536];
	size_t first = *nout, i;
	_cleanup_close_ int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	int ret = 0;
	bool done = false;

	if (nl < 0)
		return -errno;
	if (send(nl, &req, sizeof(req), 0) < 0)
		ret = -errno;
	while (!ret && !done) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		for (; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_ERROR) /* no handler for it (module missing) */
				ret = ((struct nlmsgerr *)NLMSG_DATA(h))->error ?: -EIO;
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			judge(s, netns, h, proto, out, ids, nout);
		}
	}
	for (i = first; !ret && i < *nout; i++)
		out[i].err = destroy(nl, family, proto, &ids[i]);
	return ret;
}

/* In a child that has entered the namespace: every family and protocol; results to fd. */
static int cut_in_netns(const struct scan *s, ino_t netns, int fd)
{
	static const __u8 fam[] = {AF_INET, AF_INET6}, proto[] = {IPPROTO_TCP, IPPROTO_UDP};
	static struct rf_foreign_sock out[RF_FOREIGN_MAX];
	size_t n = 0, i, j;
	int ret = 0, r;

	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++)
			if ((r = dump_and_cut(s, netns, fam[i], proto[j], out, &n)) < 0)
				ret = r;
	for (i = 0; i < n; i++)
		if (write(fd, &out[i], sizeof(out[i])) != sizeof(out[i]))
			return -EIO;
	return ret;
}

/* Fork into the namespace of pid, cut there, read the results back. */
static int cut_netns_of(const struct scan *s, pid_t pid, ino_t netns, rf_foreign_fn fn, void *arg)
{
	struct rf_foreign_sock r;
	char path[64];
	_cleanup_close_ int nsfd = -1, results = -1;
	int p[2], found = 0, status, err;
	pid_t child;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return 0; /* gone */
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	results = p[0];
	child = fork();
	if (child == 0) {
		close(p[0]);
		_exit(setns(nsfd, CLONE_NEWNET) || cut_in_netns(s, netns, p[1]) ? 1 : 0);
	}
	err = child < 0 ? -errno : 0;
	close(p[1]); /* the child's end: EOF once it is done */
	if (err)
		return err;
	while (read(results, &r, sizeof(r)) == sizeof(r)) {
		found++;
		if (fn)
			fn(&r, arg);
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		return found ? found : -EIO;
	return found;
}

void rf_foreign_describe(const struct rf_foreign_sock *s, char *buf, size_t len)
{
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];
	static const __u8 mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	bool v4 = !memcmp(s->local, mapped, 12);

	inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? s->local + 12 : s->local, l, sizeof(l));
	inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? s->remote + 12 : s->remote, r, sizeof(r));
	if (s->state == TCP_LISTEN_STATE || !s->rport)
		snprintf(buf, len, "pid %d: %s %s%s%s:%u %s, made in cgroup %llu%s%s", (int)s->pid,
			 s->proto == IPPROTO_TCP ? "tcp" : "udp", v4 ? "" : "[", l, v4 ? "" : "]",
			 s->lport, s->proto == IPPROTO_TCP ? "listening" : "unconnected",
			 (unsigned long long)s->cgroup_id, s->err ? ": not cut: " : "",
			 s->err ? strerror(-s->err) : "");
	else
		snprintf(buf, len, "pid %d: %s %s%s%s:%u -> %s%s%s:%u, made in cgroup %llu%s%s",
			 (int)s->pid, s->proto == IPPROTO_TCP ? "tcp" : "udp", v4 ? "" : "[", l,
			 v4 ? "" : "]", s->lport, v4 ? "" : "[", r, v4 ? "" : "]", s->rport,
			 (unsigned long long)s->cgroup_id, s->err ? ": not cut: " : "",
			 s->err ? strerror(-s->err) : "");
}

int rf_foreign_sockets_cut(const char *cg_dir, const struct rf_maps *m, rf_foreign_fn fn, void *arg)
{
	char mnt[PATH_MAX];
	_cleanup_free_ struct scan *s = NULL;
	size_t i, j;
	int found = 0, ret = 0, r;

	if (!rf_cgroup2_mount(mnt, sizeof(mnt)) && !strcmp(mnt, cg_dir))
		return 0; /* the host: every socket was made inside */
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->m = m;
	rf_cgroup_walk(cg_dir, &(struct rf_cgroup_walk){.cgroup = walk_cgroup,
							.pid = walk_pid,
							.arg = s,
							.max_depth = RF_FOREIGN_DEPTH});
	for (i = 0; i < s->nsk; i++) {
		for (j = 0; j < i; j++)
			if (s->sk[j].netns == s->sk[i].netns)
				break;
		if (j < i)
			continue; /* that namespace was done */
		r = cut_netns_of(s, s->sk[i].pid, s->sk[i].netns, fn, arg);
		if (r < 0)
			ret = r;
		else
			found += r;
	}
	return found ? found : ret;
}

struct cut_log {
	char text[900];
	size_t len;
	int failed;
	rf_foreign_fn fn;
	void *arg;
};

static void log_cut(const struct rf_foreign_sock *s, void *arg)
{
	struct cut_log *l = arg;
	char d[256];

	rf_foreign_describe(s, d, sizeof(d));
	rf_err("socket made outside the target %s: %s", s->err ? "NOT cut" : "cut", d);
	if (s->err)
		l->failed++;
	if (l->len < sizeof(l->text))
		l->len += (size_t)snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s%s",
					   l->len ? "; " : "", d);
	if (l->fn)
		l->fn(s, l->arg);
}

int rf_svc_cut_foreign(struct rf_ctx *ctx, const struct rf_maps *m, rf_foreign_fn fn, void *arg)
{
	struct cut_log l = {.fn = fn, .arg = arg};
	struct rf_action a = {0};
	char err[128];
	int n = rf_foreign_sockets_cut(ctx->cg_dir, m, log_cut, &l);

	static int last_err; /* the agent scans every second: say a failure once */

	if (n < 0 && n != last_err)
		rf_warn("cannot look for sockets made outside %s: %s (is the inet_diag module "
			"available?); sockets passed into the target are not cut",
			ctx->cg_dir, strerror(-n));
	last_err = n < 0 ? n : 0;
	if (n <= 0)
		return n;
	snprintf(a.type, sizeof(a.type), "socket-cut");
	snprintf(a.requestor, sizeof(a.requestor), "ringfence");
	snprintf(a.comment, sizeof(a.comment),
		 "%d socket(s) made outside the target and held inside it (the target's programs "
		 "never judge them): %s",
		 n, l.text);
	snprintf(err, sizeof(err), "%d could not be cut", l.failed);
	if (ctx->unlocked) /* another command holds the state: stderr said it */
		return n;
	if (rf_action_record(ctx->state_dir, &a, l.failed ? err : NULL))
		rf_warn("cannot record the cut sockets in the history");
	return n;
}
