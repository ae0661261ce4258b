// SPDX-License-Identifier: GPL-2.0-only
/*
 * rfbench: the timing half of 'make bench' (scripts/bench/run.sh does the setup). Every
 * subcommand prints plain numbers on stdout; errors go to stderr with exit status 1.
 *
 * Processes under measurement are forked, join the given cgroup (write to cgroup.procs) and
 * then the given network namespace (setns), in that order, before opening any socket. Every
 * loop is bounded by a duration or a count.
 *
 *   rfbench gen N                         the N-2 filler prefixes (one CIDR a line)
 *   rfbench fill MAP FROM TO              filler prefixes FROM..TO-1 into a pinned rf_allow_net,
 *                                         then index it (rf_net_hash beside it), as the CLI does
 *   rfbench progrun NETNS IFNAME REPS REPEAT
 *                                         BPF_PROG_TEST_RUN cost table (ns per run), including
 *                                         the tc filter of another isolated target on a packet
 *                                         that is not its cgroup's, the trie walk next to the
 *                                         hash index, many prefix lengths, tc ingress (ICMP
 *                                         errors) and the per-namespace wall (tcns)
 *   rfbench exerule PINDIR v2|v3|off      allow rfbench's own executable in the pinned
 *                                         rf_allow_exe_v2 (any user) or rf_allow_exe_v3 (uid 0),
 *                                         or in neither, as another agent would
 *   rfbench server CLOSEPORT SINKPORT SECS
 *                                         accept-and-close and accept-and-drain servers
 *   rfbench rate CG NETNS DST PORT MS     TCP connect+close per second
 *   rfbench tput CG NETNS DST PORT MS     bulk TCP send, Gbit/s (drained by the receiver)
 *   rfbench flood CG NETNS DST PORT MS    denied connects as fast as possible (count)
 *   rfbench latency CG NETNS DST PORT deny|allow TIMEOUT_MS CMD...
 *                                         ms from starting CMD until a connect to DST is first
 *                                         denied (EPERM) or first not denied; then CMD's run time
 *   rfbench setflag MAP 0|1               write rf_config.isolated through the pinned map, as
 *                                         another agent would (docs/ABI.md)
 *   rfbench exectime CMD...               ms from fork to the exit of CMD (stdout discarded)
 *   rfbench nullattach CG PINDIR          a control: an empty program (r0 = 1; exit) on each of
 *                                         ringfence's 8 cgroup hooks of CG, as bpf_links pinned
 *                                         in the new directory PINDIR (remove it to detach)
 *   rfbench nulltc NETNS IFNAME on|off    a control: on = a new clsact qdisc on IFNAME inside
 *                                         NETNS with empty egress and ingress filters
 *                                         (TC_ACT_OK); off = remove that qdisc again, with its
 *                                         filters
 *   rfbench flowstat CG NETNS DST PORT N BUMPMAP|- PIN...
 *                                         per-packet cost on a real TCP flow of N segments, each
 *                                         sent once the previous one is acknowledged: per PIN (a
 *                                         pinned program or link) "NAME AVG_NS RUNS" from the
 *                                         kernel's run-time statistics (BPF_ENABLE_STATS, on
 *                                         only while it runs); BUMPMAP: a pinned rf_policy_gen
 *                                         written before every segment (no cached verdict)
 *   rfbench conncost CG NETNS DST PORT MS PIN...
 *                                         the connect+close loop of rate for MS ms; per PIN
 *                                         "NAME NS RUNS" per connection (BPF_ENABLE_STATS)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include "../../include/ringfence.h"
#include "rf_net_index.h"
#include "ringfence.skel.h"

#define FILLER_MAX 1000000
#define MS_MAX	   60000 /* no measurement runs longer than a minute */

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static long arg_num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "rfbench: bad number '%s' (expected %ld..%ld)\n", s, lo, hi);
		exit(1);
	}
	return v;
}

/* ---- rules ------------------------------------------------------------------------------- */

/* Filler prefix i (1-based): 2001:db8:<i >> 16>:<i & 0xffff>::/64, documentation space only. */
static void filler_key(__u32 i, struct rf_net_key *k)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 64;
	k->addr[0] = 0x20;
	k->addr[1] = 0x01;
	k->addr[2] = 0x0d;
	k->addr[3] = 0xb8;
	k->addr[4] = (__u8)(i >> 24);
	k->addr[5] = (__u8)(i >> 16);
	k->addr[6] = (__u8)(i >> 8);
	k->addr[7] = (__u8)i;
}

/* The value the CLI writes for "net X proto tcp dir both". */
static void tcp_both_val(__u32 prefixlen, struct rf_net_val *v)
{
	memset(v, 0, sizeof(*v));
	v->count = 1;
	v->prefixlen = prefixlen;
	v->e[0].proto = RF_PROTO_TCP;
	v->e[0].dir = RF_DIR_BOTH;
}

static int fill_fd(int fd, long from, long to)
{
	struct rf_net_key k;
	struct rf_net_val v;
	long i;

	for (i = from; i < to; i++) {
		filler_key((__u32)i, &k);
		tcp_both_val(k.prefixlen, &v);
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			fprintf(stderr, "rfbench: rf_allow_net update %ld: %s\n", i,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int cmd_gen(long n)
{
	struct rf_net_key k;
	char buf[INET6_ADDRSTRLEN];
	long i;

	for (i = 1; i <= n - 2; i++) {
		filler_key((__u32)i, &k);
		inet_ntop(AF_INET6, k.addr, buf, sizeof(buf));
		printf("%s/%u\n", buf, k.prefixlen);
	}
	return 0;
}

/* The pinned map NAME beside the pinned map at path (same directory): an fd, or -1. */
static int sibling(const char *path, const char *name)
{
	char p[4096];
	const char *slash = strrchr(path, '/');

	snprintf(p, sizeof(p), "%.*s/%s", slash ? (int)(slash - path) : 1, slash ? path : ".",
		 name);
	return bpf_obj_get(p);
}

/* Index the trie (the CLI does the same after its own changes); 0 in sync, else -1. */
static int index_fd(int trie, int hash, int sync)
{
	int ret = rf_net_index_rebuild(trie, hash, sync);

	if (ret)
		fprintf(stderr, "rfbench: indexing rf_allow_net: %s\n",
			ret < 0 ? strerror(-ret) : "left to the trie");
	return ret ? -1 : 0;
}

static int cmd_fill(const char *path, long from, long to)
{
	int fd = bpf_obj_get(path), hash = sibling(path, "rf_net_hash"),
	    sync = sibling(path, "rf_net_sync");
	int ret;

	if (fd < 0 || hash < 0 || sync < 0) {
		fprintf(stderr, "rfbench: cannot open %s and its index: %s\n", path,
			strerror(errno));
		return 1;
	}
	ret = fill_fd(fd, from, to);
	if (!ret)
		ret = index_fd(fd, hash, sync);
	close(fd);
	close(hash);
	close(sync);
	return ret ? 1 : 0;
}

/* ---- process placement ------------------------------------------------------------------- */

/* Join cgroup directory cg (if not "-") and then network namespace file netns (if not "-"). */
static int enter(const char *cg, const char *netns)
{
	char path[4096], pid[32];
	int fd, len;

	if (strcmp(cg, "-")) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		fd = open(path, O_WRONLY);
		len = snprintf(pid, sizeof(pid), "%d\n", getpid());
		if (fd < 0 || write(fd, pid, (size_t)len) != len) {
			fprintf(stderr, "rfbench: cannot join cgroup %s: %s\n", cg,
				strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	if (strcmp(netns, "-")) {
		fd = open(netns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET)) {
			fprintf(stderr, "rfbench: cannot enter netns %s: %s\n", netns,
				strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

static int parse_dst(const char *s, long port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((__u16)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((__u16)port);
		*len = sizeof(*a6);
		return 0;
	}
	fprintf(stderr, "rfbench: bad address '%s'\n", s);
	return -1;
}

/*
 * Run fn in a child placed in cg + netns; the child writes one line of result into a pipe that
 * the parent copies to stdout. Returns the child's exit status.
 */
typedef int (*measure_fn)(const struct sockaddr_storage *dst, socklen_t len, long ms, FILE *out);

static int in_child_line(const char *cg, const char *netns, const char *dst, long port, long ms,
			 measure_fn fn, char *line, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int p[2], st;
	ssize_t n;
	pid_t pid;

	if (size < 2 || parse_dst(dst, port, &ss, &sl) || pipe(p))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		FILE *out;

		close(p[0]);
		out = fdopen(p[1], "w");
		if (!out || enter(cg, netns))
			_exit(1);
		st = fn(&ss, sl, ms, out);
		fclose(out);
		_exit(st ? 1 : 0);
	}
	close(p[1]);
	n = read(p[0], line, size - 1);
	close(p[0]);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return 1;
	if (n <= 0)
		return 1;
	line[n] = '\0';
	return 0;
}

static int in_child(const char *cg, const char *netns, const char *dst, long port, long ms,
		    measure_fn fn)
{
	char line[256];

	if (in_child_line(cg, netns, dst, port, ms, fn, line, sizeof(line)))
		return 1;
	fputs(line, stdout);
	return 0;
}

/* ---- connection rate, throughput, flood ---------------------------------------------------- */

/* Connect and close for ms: the number of connections (-1 on an error), the time in *ns. */
static long connect_loop(const struct sockaddr_storage *dst, socklen_t len, long ms, __u64 *ns)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	__u64 start = now_ns(), end = start + (__u64)ms * 1000000ULL, t;
	long n = 0;

	do {
		int fd = socket(dst->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			perror("rfbench: socket");
			return -1;
		}
		/* RST on close: no TIME_WAIT, so a run never runs out of local ports */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (connect(fd, (const struct sockaddr *)dst, len)) {
			fprintf(stderr, "rfbench: connect #%ld: %s\n", n, strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
		n++;
		t = now_ns();
	} while (t < end);
	*ns = t - start;
	return n;
}

static int measure_rate(const struct sockaddr_storage *dst, socklen_t len, long ms, FILE *out)
{
	__u64 ns;
	long n = connect_loop(dst, len, ms, &ns);

	if (n < 0)
		return -1;
	fprintf(out, "%.1f\n", (double)n * 1e9 / (double)ns);
	return 0;
}

/* The same loop, reporting how many connections it made (conncost). */
static int measure_conns(const struct sockaddr_storage *dst, socklen_t len, long ms, FILE *out)
{
	__u64 ns;
	long n = connect_loop(dst, len, ms, &ns);

	if (n < 0)
		return -1;
	fprintf(out, "%ld\n", n);
	return 0;
}

static int measure_tput(const struct sockaddr_storage *dst, socklen_t len, long ms, FILE *out)
{
	static char buf[128 * 1024];
	__u64 start, end, t, bytes = 0;
	int fd = socket(dst->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char c;

	if (fd < 0 || connect(fd, (const struct sockaddr *)dst, len)) {
		fprintf(stderr, "rfbench: connect: %s\n", strerror(errno));
		return -1;
	}
	memset(buf, 'b', sizeof(buf));
	start = now_ns();
	end = start + (__u64)ms * 1000000ULL;
	do {
		ssize_t w = write(fd, buf, sizeof(buf));

		if (w < 0) {
			fprintf(stderr, "rfbench: write: %s\n", strerror(errno));
			close(fd);
			return -1;
		}
		bytes += (__u64)w;
	} while (now_ns() < end);
	/* the receiver closes after reading everything: the time includes draining the queues */
	shutdown(fd, SHUT_WR);
	while (read(fd, &c, 1) > 0)
		;
	t = now_ns();
	close(fd);
	fprintf(out, "%.3f\n", (double)bytes * 8.0 / (double)(t - start));
	return 0;
}

static int measure_flood(const struct sockaddr_storage *dst, socklen_t len, long ms, FILE *out)
{
	__u64 end = now_ns() + (__u64)ms * 1000000ULL;
	unsigned long n = 0, denied = 0;

	do {
		int fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (connect(fd, (const struct sockaddr *)dst, len) && errno == EPERM)
			denied++;
		close(fd);
		n++;
	} while (now_ns() < end);
	fprintf(out, "%lu %lu\n", n, denied);
	return 0;
}

/* ---- isolation latency --------------------------------------------------------------------- */

/* One non-blocking connect attempt: 1 if denied by the connect hook (EPERM), else 0. */
static int probe_denied(const struct sockaddr_storage *dst, socklen_t len)
{
	int fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int denied;

	if (fd < 0)
		return -1;
	denied = connect(fd, (const struct sockaddr *)dst, len) && errno == EPERM;
	close(fd);
	return denied;
}

static int cmd_latency(char **argv, int argc)
{
	const char *cg = argv[0], *netns = argv[1];
	long port = arg_num(argv[3], 1, 65535), timeout = arg_num(argv[5], 1, MS_MAX);
	bool want_deny = !strcmp(argv[4], "deny");
	struct sockaddr_storage ss;
	__u64 t0, t_event = 0, t_exit;
	int ready[2], res[2], st, cst;
	pid_t prober, cmd;
	socklen_t sl;
	char c;

	if (argc < 7 || (!want_deny && strcmp(argv[4], "allow"))) {
		fprintf(stderr,
			"rfbench: latency CG NETNS DST PORT deny|allow TIMEOUT_MS CMD...\n");
		return 1;
	}
	if (parse_dst(argv[2], port, &ss, &sl) || pipe(ready) || pipe(res))
		return 1;
	prober = fork();
	if (prober < 0)
		return 1;
	if (prober == 0) {
		struct timespec gap = {0, 100000}; /* 0.1 ms between attempts: leave CPU to CMD */
		__u64 t, deadline;
		int d;

		close(ready[0]);
		close(res[0]);
		if (enter(cg, netns))
			_exit(1);
		d = probe_denied(&ss, sl);
		if (d < 0 || d == want_deny) { /* already in the target state: a bad start */
			fprintf(stderr, "rfbench: probe already %s before the command ran\n",
				d ? "denied" : "allowed");
			_exit(1);
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		deadline = now_ns() + (__u64)timeout * 1000000ULL;
		do {
			d = probe_denied(&ss, sl);
			t = now_ns();
			if (d == want_deny)
				break;
			nanosleep(&gap, NULL);
		} while (t < deadline);
		if (d != want_deny)
			t = 0;
		if (write(res[1], &t, sizeof(t)) != sizeof(t))
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(res[1]);
	if (read(ready[0], &c, 1) != 1) {
		waitpid(prober, &st, 0);
		return 1;
	}
	t0 = now_ns();
	cmd = fork();
	if (cmd < 0)
		return 1;
	if (cmd == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execvp(argv[6], argv + 6);
		_exit(127);
	}
	if (waitpid(cmd, &cst, 0) < 0)
		return 1;
	t_exit = now_ns();
	if (read(res[0], &t_event, sizeof(t_event)) != sizeof(t_event))
		t_event = 0;
	waitpid(prober, &st, 0);
	if (!WIFEXITED(cst) || WEXITSTATUS(cst)) {
		fprintf(stderr, "rfbench: %s failed\n", argv[6]);
		return 1;
	}
	if (!t_event) {
		fprintf(stderr, "rfbench: no %s connect within %ld ms\n",
			want_deny ? "denied" : "allowed", timeout);
		return 1;
	}
	printf("%.3f %.3f\n", (double)(t_event - t0) / 1e6, (double)(t_exit - t0) / 1e6);
	return 0;
}

static int cmd_setflag(const char *path, long on)
{
	struct rf_config c;
	__u32 zero = 0;
	int fd = bpf_obj_get(path), ret = 1;

	if (fd < 0) {
		fprintf(stderr, "rfbench: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!bpf_map_lookup_elem(fd, &zero, &c)) {
		c.isolated = (__u32)on;
		ret = bpf_map_update_elem(fd, &zero, &c, BPF_ANY) ? 1 : 0;
	}
	if (ret)
		fprintf(stderr, "rfbench: rf_config: %s\n", strerror(errno));
	close(fd);
	return ret;
}

static int cmd_exectime(char **argv)
{
	__u64 t0 = now_ns();
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return 1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "rfbench: %s failed\n", argv[0]);
		return 1;
	}
	printf("%.3f\n", (double)(now_ns() - t0) / 1e6);
	return 0;
}

/* ---- servers (peer namespace) -------------------------------------------------------------- */

static int listen_any(long port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((__u16)port)};
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, zero = 0;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096)) {
		fprintf(stderr, "rfbench: listen on %ld: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int cmd_server(long close_port, long sink_port, long secs)
{
	static char buf[256 * 1024];
	int lc = listen_any(close_port), ls = listen_any(sink_port);
	__u64 end = now_ns() + (__u64)secs * 1000000000ULL;
	pid_t sink;

	if (lc < 0 || ls < 0)
		return 1;
	alarm((unsigned int)secs + 5); /* a leaked server cannot outlive its bound */
	sink = fork();
	if (sink < 0)
		return 1;
	if (sink == 0) {
		/* one bulk connection at a time: read to EOF, then close */
		close(lc);
		while (now_ns() < end) {
			struct pollfd p = {.fd = ls, .events = POLLIN};
			int c;

			if (poll(&p, 1, 500) <= 0)
				continue;
			c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			while (read(c, buf, sizeof(buf)) > 0)
				;
			close(c);
		}
		_exit(0);
	}
	close(ls);
	while (now_ns() < end) {
		struct pollfd p = {.fd = lc, .events = POLLIN};
		int c;

		if (poll(&p, 1, 500) <= 0)
			continue;
		while ((c = accept4(lc, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
			close(c);
	}
	kill(sink, SIGTERM);
	waitpid(sink, NULL, 0);
	return 0;
}

/* ---- BPF_PROG_TEST_RUN --------------------------------------------------------------------- */

struct pkt {
	__u8 b[128];
	__u32 len;
};

/* Ethernet + IPv4/IPv6 + TCP (flags ACK, a packet of an established flow) + 32 bytes. */
static void mkpkt(struct pkt *p, const char *src, const char *dst, __u16 sport, __u16 dport)
{
	__u8 *ip = p->b + 14, *l4;
	bool v6 = strchr(src, ':') != NULL;
	__u32 iplen = v6 ? 40 : 20;

	memset(p, 0, sizeof(*p));
	memcpy(p->b, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	p->b[12] = v6 ? 0x86 : 0x08;
	p->b[13] = v6 ? 0xdd : 0x00;
	if (v6) {
		ip[0] = 0x60;
		ip[5] = 20 + 32;
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		inet_pton(AF_INET6, src, ip + 8);
		inet_pton(AF_INET6, dst, ip + 24);
	} else {
		ip[0] = 0x45;
		ip[3] = 20 + 20 + 32;
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		inet_pton(AF_INET, src, ip + 12);
		inet_pton(AF_INET, dst, ip + 16);
	}
	l4 = ip + iplen;
	l4[0] = (__u8)(sport >> 8);
	l4[1] = (__u8)sport;
	l4[2] = (__u8)(dport >> 8);
	l4[3] = (__u8)dport;
	l4[12] = 5 << 4;
	l4[13] = 0x10; /* ACK */
	l4[14] = 0xff;
	memset(l4 + 20, 'p', 32);
	p->len = 14 + iplen + 20 + 32;
}

/*
 * An ICMP error from src (the peer) to dst (this host) quoting a TCP segment this host sent to
 * the peer (dst:40000 -> src:5001): port unreachable (IPv4 3/3, IPv6 1/4).
 */
static void mkicmp(struct pkt *p, const char *src, const char *dst)
{
	bool v6 = strchr(src, ':') != NULL;
	__u32 iplen = v6 ? 40 : 20;
	__u8 *ip = p->b + 14, *icmp = ip + iplen, *q = icmp + 8, *l4 = q + iplen;

	memset(p, 0, sizeof(*p));
	memcpy(p->b, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	p->b[12] = v6 ? 0x86 : 0x08;
	p->b[13] = v6 ? 0xdd : 0x00;
	if (v6) {
		ip[0] = q[0] = 0x60;
		ip[5] = (__u8)(8 + 40 + 8);
		ip[6] = 58;
		ip[7] = 64;
		inet_pton(AF_INET6, src, ip + 8);
		inet_pton(AF_INET6, dst, ip + 24);
		q[5] = 20 + 32;
		q[6] = IPPROTO_TCP;
		q[7] = 64;
		inet_pton(AF_INET6, dst, q + 8);
		inet_pton(AF_INET6, src, q + 24);
		icmp[0] = 1;
		icmp[1] = 4;
	} else {
		ip[0] = q[0] = 0x45;
		ip[3] = (__u8)(20 + 8 + 20 + 8);
		ip[8] = q[8] = 64;
		ip[9] = 1;
		inet_pton(AF_INET, src, ip + 12);
		inet_pton(AF_INET, dst, ip + 16);
		q[3] = 20 + 20 + 32;
		q[9] = IPPROTO_TCP;
		inet_pton(AF_INET, dst, q + 12);
		inet_pton(AF_INET, src, q + 16);
		icmp[0] = 3;
		icmp[1] = 3;
	}
	l4[0] = 40000 >> 8;
	l4[1] = 40000 & 0xff;
	l4[2] = 5001 >> 8;
	l4[3] = 5001 & 0xff;
	p->len = 14 + iplen + 8 + iplen + 8;
}

/* Average ns per run over `repeat` runs; -1 if the verdict is not `want`. */
static double run_avg(int prog, const struct pkt *p, int ifindex, long repeat, int want)
{
	struct __sk_buff ctx = {.ifindex = (__u32)ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = p->len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = (int)repeat);
	int err = bpf_prog_test_run_opts(prog, &o);

	if (err) {
		fprintf(stderr, "rfbench: bpf_prog_test_run_opts: %s\n", strerror(-err));
		return -1;
	}
	if ((int)o.retval != want) {
		fprintf(stderr, "rfbench: verdict %u, expected %d\n", o.retval, want);
		return -1;
	}
	return (double)o.duration;
}

/* mov r0, ret; exit: a program that does nothing but return its verdict */
static int load_ret_prog(enum bpf_prog_type type, enum bpf_attach_type expected, int ret)
{
	struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = ret},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = expected);

	return bpf_prog_load(type, "rfb_empty", "GPL", insns, 2, &o);
}

/* mov r0, 1; exit: the cost of BPF_PROG_TEST_RUN itself, the baseline of the table */
static int load_empty_prog(void)
{
	return load_ret_prog(BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS, 1);
}

static int put_peer_rules(int fd)
{
	struct rf_net_key k = {.prefixlen = 128};
	struct rf_net_val v;

	k.addr[10] = k.addr[11] = 0xff;
	inet_pton(AF_INET, "192.0.2.2", k.addr + 12);
	tcp_both_val(128, &v);
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -1;
	memset(k.addr, 0, 16);
	inet_pton(AF_INET6, "2001:db8::2", k.addr);
	return bpf_map_update_elem(fd, &k, &v, BPF_ANY) ? -1 : 0;
}

static int set_isolated(int fd, __u32 on)
{
	struct rf_config c = {
	    .abi_version = RF_ABI_VERSION, .isolated = on, .builtins = RF_BUILTIN_ALL};
	__u32 zero = 0;

	return bpf_map_update_elem(fd, &zero, &c, BPF_ANY) ? -1 : 0;
}

enum prun_prog {
	P_EGRESS = 1,
	P_INGRESS,
	P_TC_EGRESS,   /* the second wall, host target */
	P_TC_INGRESS,  /* ICMP errors (issue 21 item 1) */
	P_TCNS_EGRESS, /* the wall of a namespace the target owns (issue 21 item 10) */
	P_TCNS_INGRESS,
};

struct prun_case {
	const char *name;
	enum prun_prog prog;
	const char *src, *dst;
	int want;
	char pkt;  /* 'o' a TCP segment out (40000 -> 5001), 'i' one in, 'e' an ICMP error in */
	bool trie; /* with the index marked out of sync: the trie walk, as before the index */
};

/*
 * One private copy of the object per rule count, all isolated, so that the rule counts can be
 * measured in turn within each repetition (drift on a busy machine hits them all alike).
 */
#define PRUN_SIZES 3

/*
 * A private copy of the object as the loader sets it up for a target below the root (level 1,
 * some cgroup id), isolated: its tc filter sees every packet of the interface, and a packet that
 * is not its cgroup's (here: no socket at all) must pass at once. What each isolated target on
 * an interface costs everyone else's packets. NULL on failure.
 */
static struct ringfence_bpf *other_target_skel(void)
{
	struct ringfence_bpf *skel = ringfence_bpf__open();

	if (!skel)
		return NULL;
	skel->rodata->rf_target_cgid = 0x7ffffff0ULL; /* no live cgroup of this run */
	skel->rodata->rf_target_level = 1;
	if (ringfence_bpf__load(skel) ||
	    set_isolated(bpf_map__fd(skel->maps.rf_config), RF_ISOLATED)) {
		ringfence_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* n prefixes over nlens lengths (64, 63, ...), each its own prefix, in 2001:db8::/32 */
static int fill_lens(int fd, long n, int nlens)
{
	struct rf_net_key k;
	struct rf_net_val v;
	__u32 field;
	long i;

	for (i = 1; i <= n; i++) {
		filler_key(0, &k);
		k.prefixlen = 64 - (__u32)(i % nlens);
		field = (__u32)i << (64 - k.prefixlen);
		k.addr[4] = (__u8)(field >> 24);
		k.addr[5] = (__u8)(field >> 16);
		k.addr[6] = (__u8)(field >> 8);
		k.addr[7] = (__u8)field;
		tcp_both_val(k.prefixlen, &v);
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			return -1;
	}
	return 0;
}

/*
 * An isolated copy with the peer's two /128 rules, 2001:db9::/49 (tcp) and n - 3 prefixes over
 * `fill` more lengths: RF_NET_FAST_LENS lengths in all (the most the index probes) or one more
 * (the trie decides).
 */
static struct ringfence_bpf *lens_skel(long n, int fill)
{
	struct ringfence_bpf *skel = ringfence_bpf__open_and_load();
	struct rf_net_key k = {.prefixlen = 49, .addr = {0x20, 0x01, 0x0d, 0xb9}};
	struct rf_net_val v;
	int net;

	if (!skel)
		return NULL;
	net = bpf_map__fd(skel->maps.rf_allow_net);
	tcp_both_val(49, &v);
	if (put_peer_rules(net) || bpf_map_update_elem(net, &k, &v, BPF_ANY) ||
	    fill_lens(net, n - 3, fill) ||
	    rf_net_index_rebuild(net, bpf_map__fd(skel->maps.rf_net_hash),
				 bpf_map__fd(skel->maps.rf_net_sync)) !=
		(fill > RF_NET_FAST_LENS - 2) ||
	    set_isolated(bpf_map__fd(skel->maps.rf_config), RF_ISOLATED)) {
		ringfence_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static struct bpf_program *case_prog(struct ringfence_bpf *skel, enum prun_prog prog)
{
	switch (prog) {
	case P_INGRESS:
		return skel->progs.rf_ingress;
	case P_TC_EGRESS:
		return skel->progs.rf_tc_egress;
	case P_TC_INGRESS:
		return skel->progs.rf_tc_ingress;
	case P_TCNS_EGRESS:
		return skel->progs.rf_tcns_egress;
	case P_TCNS_INGRESS:
		return skel->progs.rf_tcns_ingress;
	default:
		return skel->progs.rf_egress;
	}
}

static void case_pkt(struct pkt *p, const struct prun_case *k)
{
	if (k->pkt == 'e')
		mkicmp(p, k->src, k->dst);
	else if (k->pkt == 'i')
		mkpkt(p, k->src, k->dst, 5001, 40000);
	else
		mkpkt(p, k->src, k->dst, 40000, 5001);
}

/* One case on one copy: the index switched off for it when the case says so. ns or -1. */
static double run_case(struct ringfence_bpf *skel, const struct prun_case *k, const struct pkt *p,
		       int ifindex, long repeat)
{
	int sync = bpf_map__fd(skel->maps.rf_net_sync);
	struct rf_net_sync saved, off = {};
	__u32 zero = 0;
	double ns;

	if (k->trie && (bpf_map_lookup_elem(sync, &zero, &saved) ||
			bpf_map_update_elem(sync, &zero, &off, BPF_ANY)))
		return -1;
	ns = run_avg(bpf_program__fd(case_prog(skel, k->prog)), p, ifindex, repeat, k->want);
	if (k->trie && bpf_map_update_elem(sync, &zero, &saved, BPF_ANY))
		return -1;
	return ns;
}

/* Many prefix lengths (100,000 rules): the index's best and worst case, and the trie past 16. */
static const struct prun_case lens_cases[] = {
    {"lensmax_allowed_longest", P_EGRESS, "2001:db8::1", "2001:db8::2", 1, 'o', false},
    {"lensmax_allowed_shortest", P_EGRESS, "2001:db8::1", "2001:db9::5", 1, 'o', false},
    {"lensmax_denied", P_EGRESS, "2001:db8::1", "2001:db9:ffff::1", 0, 'o', false},
    {"lensover_allowed_shortest_trie", P_EGRESS, "2001:db8::1", "2001:db9::5", 1, 'o', false},
    {"lensover_denied_trie", P_EGRESS, "2001:db8::1", "2001:db9:ffff::1", 0, 'o', false},
};

static int run_lens(struct ringfence_bpf *const lens[2], int ifindex, long r, long repeat,
		    long nrules)
{
	struct pkt p;
	size_t c;
	double ns;

	for (c = 0; c < sizeof(lens_cases) / sizeof(lens_cases[0]); c++) {
		const struct prun_case *k = &lens_cases[c];

		case_pkt(&p, k);
		ns = run_case(lens[!strncmp(k->name, "lensover", 8)], k, &p, ifindex, repeat);
		if (ns < 0)
			return -1;
		printf("progrun %s %ld %ld %.2f\n", k->name, nrules, r, ns);
	}
	return 0;
}

static int cmd_progrun(const char *netns, const char *ifname, long reps, long repeat)
{
	static const long sizes[PRUN_SIZES] = {10, 1000, 100000};
	static const struct prun_case iso_cases[] = {
	    {"egress_allowed_v4", P_EGRESS, "192.0.2.1", "192.0.2.2", 1, 'o', false},
	    {"egress_allowed_v6", P_EGRESS, "2001:db8::1", "2001:db8::2", 1, 'o', false},
	    {"egress_allowed_v6_trie", P_EGRESS, "2001:db8::1", "2001:db8::2", 1, 'o', true},
	    {"ingress_allowed_v4", P_INGRESS, "192.0.2.2", "192.0.2.1", 1, 'i', false},
	    {"egress_denied_v4", P_EGRESS, "192.0.2.1", "192.0.2.99", 0, 'o', false},
	    {"wall_allowed_v4", P_TC_EGRESS, "192.0.2.1", "192.0.2.2", TC_ACT_UNSPEC, 'o', false},
	    {"wall_denied_v4", P_TC_EGRESS, "192.0.2.1", "192.0.2.99", 2 /* SHOT */, 'o', false},
	    {"egress_denied_v6", P_EGRESS, "2001:db8::1", "2001:db8:1:ffff::1", 0, 'o', false},
	    {"tc_ingress_tcp_v4", P_TC_INGRESS, "192.0.2.2", "192.0.2.1", TC_ACT_UNSPEC, 'i',
	     false},
	    {"tc_ingress_icmp_error_v4", P_TC_INGRESS, "192.0.2.2", "192.0.2.1", TC_ACT_UNSPEC, 'e',
	     false},
	    {"tc_ingress_icmp_error_v6", P_TC_INGRESS, "2001:db8::2", "2001:db8::1", TC_ACT_UNSPEC,
	     'e', false},
	    {"tc_ingress_icmp_error_denied_v4", P_TC_INGRESS, "192.0.2.99", "192.0.2.1", 2, 'e',
	     false},
	    {"tcns_egress_allowed_v4", P_TCNS_EGRESS, "192.0.2.1", "192.0.2.2", TC_ACT_UNSPEC, 'o',
	     false},
	    {"tcns_egress_denied_v4", P_TCNS_EGRESS, "192.0.2.1", "192.0.2.99", 2, 'o', false},
	    {"tcns_ingress_tcp_v4", P_TCNS_INGRESS, "192.0.2.2", "192.0.2.1", TC_ACT_UNSPEC, 'i',
	     false},
	    {"tcns_ingress_icmp_error_v4", P_TCNS_INGRESS, "192.0.2.2", "192.0.2.1", TC_ACT_UNSPEC,
	     'e', false},
	};
	struct ringfence_bpf *skel[PRUN_SIZES] = {}, *other = NULL, *lens[2] = {};
	int empty = -1, empty_tc = -1, ifindex, ret = 1;
	size_t s, c;
	struct pkt p;
	double ns;
	long r;

	if (enter("-", netns))
		return 1;
	ifindex = (int)if_nametoindex(ifname);
	if (ifindex <= 1) {
		fprintf(stderr, "rfbench: no interface %s in %s\n", ifname, netns);
		return 1;
	}
	libbpf_set_print(NULL);
	empty = load_empty_prog();
	empty_tc = load_ret_prog(BPF_PROG_TYPE_SCHED_CLS, 0, TC_ACT_UNSPEC);
	if (empty < 0 || empty_tc < 0) {
		fprintf(stderr, "rfbench: cannot load an empty program: %s\n", strerror(errno));
		goto out;
	}
	for (s = 0; s < PRUN_SIZES; s++) {
		int net;

		/* private maps: nothing pinned, nothing attached */
		skel[s] = ringfence_bpf__open_and_load();
		if (!skel[s]) {
			fprintf(stderr, "rfbench: cannot load the programs: %s\n", strerror(errno));
			goto out;
		}
		net = bpf_map__fd(skel[s]->maps.rf_allow_net);
		if (put_peer_rules(net) || fill_fd(net, 1, sizes[s] - 1) ||
		    index_fd(net, bpf_map__fd(skel[s]->maps.rf_net_hash),
			     bpf_map__fd(skel[s]->maps.rf_net_sync)) ||
		    set_isolated(bpf_map__fd(skel[s]->maps.rf_config), s ? RF_ISOLATED : 0))
			goto out;
	}
	lens[0] = lens_skel(sizes[PRUN_SIZES - 1], RF_NET_FAST_LENS - 2); /* + 128 and 49 */
	lens[1] = lens_skel(sizes[PRUN_SIZES - 1], RF_NET_FAST_LENS - 1);
	if (!lens[0] || !lens[1]) {
		fprintf(stderr, "rfbench: cannot set up the many-lengths copies\n");
		goto out;
	}
	other = other_target_skel();
	if (!other) {
		fprintf(stderr, "rfbench: cannot load the programs for a target: %s\n",
			strerror(errno));
		goto out;
	}

	for (r = 0; r < reps; r++) {
		int egress = bpf_program__fd(skel[0]->progs.rf_egress);
		int ingress = bpf_program__fd(skel[0]->progs.rf_ingress);

		/* copy 0 is not isolated for these three */
		mkpkt(&p, "192.0.2.1", "192.0.2.2", 40000, 5001);
		if ((ns = run_avg(empty, &p, ifindex, repeat, 1)) < 0)
			goto out;
		printf("progrun empty_program - %ld %.2f\n", r, ns);
		if ((ns = run_avg(egress, &p, ifindex, repeat, 1)) < 0)
			goto out;
		printf("progrun egress_not_isolated - %ld %.2f\n", r, ns);
		if ((ns = run_avg(ingress, &p, ifindex, repeat, 1)) < 0)
			goto out;
		printf("progrun ingress_not_isolated - %ld %.2f\n", r, ns);
		if ((ns = run_avg(empty_tc, &p, ifindex, repeat, TC_ACT_UNSPEC)) < 0)
			goto out;
		printf("progrun empty_tc_program - %ld %.2f\n", r, ns);
		if ((ns = run_avg(bpf_program__fd(other->progs.rf_tc_egress), &p, ifindex, repeat,
				  TC_ACT_UNSPEC)) < 0)
			goto out;
		printf("progrun wall_other_target - %ld %.2f\n", r, ns);
		if (set_isolated(bpf_map__fd(skel[0]->maps.rf_config), RF_ISOLATED))
			goto out;
		for (c = 0; c < sizeof(iso_cases) / sizeof(iso_cases[0]); c++) {
			const struct prun_case *k = &iso_cases[c];

			case_pkt(&p, k);
			for (s = 0; s < PRUN_SIZES; s++) {
				ns = run_case(skel[s], k, &p, ifindex, repeat);
				if (ns < 0) {
					fprintf(stderr, "rfbench: case %s\n", k->name);
					goto out;
				}
				printf("progrun %s %ld %ld %.2f\n", k->name, sizes[s], r, ns);
			}
		}
		if (run_lens(lens, ifindex, r, repeat, sizes[PRUN_SIZES - 1]))
			goto out;
		if (set_isolated(bpf_map__fd(skel[0]->maps.rf_config), 0))
			goto out;
	}
	ret = 0;
out:
	fflush(stdout);
	if (empty >= 0)
		close(empty);
	if (empty_tc >= 0)
		close(empty_tc);
	for (s = 0; s < PRUN_SIZES; s++)
		ringfence_bpf__destroy(skel[s]);
	ringfence_bpf__destroy(lens[0]);
	ringfence_bpf__destroy(lens[1]);
	ringfence_bpf__destroy(other);
	return ret;
}

/* ---- per-packet cost on a real flow (kernel.bpf_stats) -------------------------------------- */

#define FLOW_PINS_MAX 8

struct prog_stat {
	__u64 ns, cnt;
};

/* The program behind a pin: a pinned program, or the program of a pinned link. fd or -1. */
static int pin_prog(const char *path)
{
	struct bpf_link_info li = {};
	__u32 len = sizeof(li);
	int fd = bpf_obj_get(path), prog;
	char proc[64], kind[64] = "";

	if (fd < 0) {
		fprintf(stderr, "rfbench: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* the object's kind from its anonymous inode: "anon_inode:bpf-link" or "...bpf-prog" */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (readlink(proc, kind, sizeof(kind) - 1) < 0 || !strstr(kind, "bpf-link"))
		return fd;
	if (bpf_obj_get_info_by_fd(fd, &li, &len) || !li.prog_id) {
		fprintf(stderr, "rfbench: link %s has no program\n", path);
		close(fd);
		return -1;
	}
	prog = bpf_prog_get_fd_by_id(li.prog_id);
	close(fd);
	if (prog < 0)
		fprintf(stderr, "rfbench: program of %s: %s\n", path, strerror(errno));
	return prog;
}

static int prog_stat(int fd, struct prog_stat *s)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);

	if (bpf_obj_get_info_by_fd(fd, &pi, &len))
		return -1;
	s->ns = pi.run_time_ns;
	s->cnt = pi.run_cnt;
	return 0;
}

/* Wait until everything sent on fd is acknowledged (1 s at most). */
static int wait_acked(int fd)
{
	__u64 end = now_ns() + 1000000000ULL;
	struct tcp_info ti;
	socklen_t len;

	do {
		len = sizeof(ti);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
			return -1;
		if (!ti.tcpi_unacked)
			return 0;
		sched_yield();
	} while (now_ns() < end);
	return -1;
}

/*
 * The child of cmd_flowstat: connect, report 'c', wait for 'g', send n segments (each after the
 * previous one is acknowledged; with bump >= 0, a new rf_policy_gen value before each), report
 * 'd', wait for 'x', close.
 */
static int flow_child(const struct sockaddr_storage *dst, socklen_t len, long n, int bump, int up,
		      int down)
{
	int fd = socket(dst->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	char buf[64], c;
	__u32 zero = 0;
	__u64 gen = now_ns();
	long i;

	memset(buf, 'f', sizeof(buf));
	if (fd < 0 || connect(fd, (const struct sockaddr *)dst, len) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))) {
		fprintf(stderr, "rfbench: flow connect: %s\n", strerror(errno));
		return 1;
	}
	if (write(up, "c", 1) != 1 || read(down, &c, 1) != 1)
		return 1;
	for (i = 0; i < n; i++) {
		gen++;
		if (bump >= 0 && bpf_map_update_elem(bump, &zero, &gen, BPF_ANY)) {
			fprintf(stderr, "rfbench: bump: %s\n", strerror(errno));
			return 1;
		}
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || wait_acked(fd)) {
			fprintf(stderr, "rfbench: flow segment %ld: %s\n", i, strerror(errno));
			return 1;
		}
	}
	if (write(up, "d", 1) != 1 || read(down, &c, 1) != 1)
		return 1;
	close(fd);
	return 0;
}

/*
 * flowstat CG NETNS DST PORT N BUMPMAP|- PIN...: one TCP flow from a child in CG + NETNS to a
 * draining server; per PIN (a pinned program or link) "NAME AVG_NS RUNS" over the flow's data
 * segments and their ACKs (the handshake and the close are outside the window), measured with
 * the kernel's run-time statistics, switched on (BPF_ENABLE_STATS) only while this runs.
 */
static int cmd_flowstat(char **argv, int argc)
{
	struct prog_stat before[FLOW_PINS_MAX], after[FLOW_PINS_MAX];
	int prog[FLOW_PINS_MAX], npins = argc - 6, up[2], down[2], stats, bump = -1, st, i;
	long n = arg_num(argv[4], 1, 1000000);
	struct sockaddr_storage ss;
	int ret = 1;
	socklen_t sl;
	pid_t pid;
	char c;

	if (npins < 1 || npins > FLOW_PINS_MAX ||
	    parse_dst(argv[2], arg_num(argv[3], 1, 65535), &ss, &sl))
		return 1;
	for (i = 0; i < npins; i++)
		if ((prog[i] = pin_prog(argv[6 + i])) < 0)
			return 1;
	if (strcmp(argv[5], "-") && (bump = bpf_obj_get(argv[5])) < 0) {
		fprintf(stderr, "rfbench: cannot open %s: %s\n", argv[5], strerror(errno));
		return 1;
	}
	stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats < 0) {
		fprintf(stderr, "rfbench: BPF_ENABLE_STATS: %s\n", strerror(-stats));
		return 1;
	}
	if (pipe(up) || pipe(down))
		return 1;
	pid = fork();
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		_exit(enter(argv[0], argv[1]) ? 1 : flow_child(&ss, sl, n, bump, up[1], down[0]));
	}
	close(up[1]);
	close(down[0]);
	if (pid < 0 || read(up[0], &c, 1) != 1)
		goto out;
	for (i = 0; i < npins; i++)
		if (prog_stat(prog[i], &before[i]))
			goto out;
	if (write(down[1], "g", 1) != 1 || read(up[0], &c, 1) != 1)
		goto out;
	for (i = 0; i < npins; i++)
		if (prog_stat(prog[i], &after[i]))
			goto out;
	for (i = 0; i < npins; i++) {
		__u64 cnt = after[i].cnt - before[i].cnt;
		const char *name = strrchr(argv[6 + i], '/');

		printf("%s %.1f %llu\n", name ? name + 1 : argv[6 + i],
		       cnt ? (double)(after[i].ns - before[i].ns) / (double)cnt : 0.0,
		       (unsigned long long)cnt);
	}
	ret = 0;
out:
	if (write(down[1], "x", 1) != 1)
		ret = 1;
	if (pid > 0 && (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)))
		ret = 1;
	close(stats);
	return ret;
}

/*
 * conncost CG NETNS DST PORT MS PIN...: the connect+close workload of 'rate' for MS from CG +
 * NETNS; per PIN (a pinned program or link) "NAME NS_PER_CONNECTION RUNS_PER_CONNECTION", from
 * the kernel's run-time statistics (BPF_ENABLE_STATS, on only while this runs): what one
 * connection costs in each program.
 */
static int cmd_conncost(char **argv, int argc)
{
	struct prog_stat before[FLOW_PINS_MAX], after[FLOW_PINS_MAX];
	int prog[FLOW_PINS_MAX], npins = argc - 5, stats, i;
	char line[64];
	long conns;

	if (npins < 1 || npins > FLOW_PINS_MAX)
		return 1;
	for (i = 0; i < npins; i++)
		if ((prog[i] = pin_prog(argv[5 + i])) < 0)
			return 1;
	stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats < 0) {
		fprintf(stderr, "rfbench: BPF_ENABLE_STATS: %s\n", strerror(-stats));
		return 1;
	}
	for (i = 0; i < npins; i++)
		if (prog_stat(prog[i], &before[i]))
			goto fail;
	if (in_child_line(argv[0], argv[1], argv[2], arg_num(argv[3], 1, 65535),
			  arg_num(argv[4], 1, MS_MAX), measure_conns, line, sizeof(line)))
		goto fail;
	conns = strtol(line, NULL, 10);
	for (i = 0; i < npins; i++)
		if (prog_stat(prog[i], &after[i]))
			goto fail;
	close(stats);
	if (conns <= 0)
		return 1;
	for (i = 0; i < npins; i++) {
		const char *name = strrchr(argv[5 + i], '/');

		printf("%s %.1f %.2f\n", name ? name + 1 : argv[5 + i],
		       (double)(after[i].ns - before[i].ns) / (double)conns,
		       (double)(after[i].cnt - before[i].cnt) / (double)conns);
	}
	return 0;
fail:
	close(stats);
	return 1;
}

/* ---- controls: empty programs on ringfence's hooks ------------------------------------------ */

/* ringfence's cgroup hooks (the SEC() names in bpf/ringfence.bpf.c); 1 = allow on every one */
static const struct null_hook {
	const char *pin;
	enum bpf_prog_type type;
	enum bpf_attach_type attach;
} null_hooks[] = {
    {"cgroup_skb_ingress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_INGRESS},
    {"cgroup_skb_egress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS},
    {"sock_create", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE},
    {"connect4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT},
    {"connect6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_CONNECT},
    {"sendmsg4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_SENDMSG},
    {"sendmsg6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_SENDMSG},
    {"setsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_SETSOCKOPT},
};
#define NULL_HOOKS     (sizeof(null_hooks) / sizeof(null_hooks[0]))
#define NULL_TC_HANDLE 0x4e4c /* "NL"; removed before ringfence attaches its own filters */
#define NULL_TC_PRIO   1

static void null_unpin(const char *dir, size_t n)
{
	char path[4096];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, null_hooks[i].pin);
		unlink(path);
	}
	rmdir(dir);
}

static int cmd_nullattach(const char *cg, const char *dir)
{
	int cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 1;
	struct stat st, up;
	char path[4096];
	size_t i;

	if (cgfd < 0) {
		fprintf(stderr, "rfbench: cannot open cgroup %s: %s\n", cg, strerror(errno));
		return 1;
	}
	/* never the root of a cgroup2 mount (a mount point): only a bench cgroup below it */
	if (fstat(cgfd, &st) || fstatat(cgfd, "..", &up, 0) || st.st_dev != up.st_dev ||
	    st.st_ino == up.st_ino) {
		fprintf(stderr, "rfbench: %s is the root of a cgroup mount, refusing\n", cg);
		close(cgfd);
		return 1;
	}
	if (mkdir(dir, 0700)) {
		fprintf(stderr, "rfbench: cannot create %s: %s\n", dir, strerror(errno));
		close(cgfd);
		return 1;
	}
	for (i = 0; i < NULL_HOOKS; i++) {
		const struct null_hook *h = &null_hooks[i];
		int prog = load_ret_prog(h->type, h->attach, 1), link = -1;

		if (prog >= 0)
			link = bpf_link_create(prog, cgfd, h->attach, NULL);
		snprintf(path, sizeof(path), "%s/%s", dir, h->pin);
		if (prog < 0 || link < 0 || bpf_obj_pin(link, path)) {
			fprintf(stderr, "rfbench: empty %s program on %s: %s\n", h->pin, cg,
				strerror(errno));
			if (link >= 0)
				close(link);
			if (prog >= 0)
				close(prog);
			null_unpin(dir, i); /* detaches the ones before */
			goto out;
		}
		close(link);
		close(prog);
	}
	ret = 0;
out:
	close(cgfd);
	return ret;
}

static int cmd_nulltc(const char *netns, const char *ifname, const char *what)
{
	LIBBPF_OPTS(bpf_tc_hook, h, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = NULL_TC_HANDLE, .priority = NULL_TC_PRIO);
	int prog, err;

	/* only ever inside a namespace the bench created: never a host interface */
	if (!strcmp(netns, "-") || enter("-", netns))
		return 1;
	h.ifindex = (int)if_nametoindex(ifname);
	if (h.ifindex <= 1) {
		fprintf(stderr, "rfbench: no interface %s in %s\n", ifname, netns);
		return 1;
	}
	libbpf_set_print(NULL);
	if (!strcmp(what, "off")) {
		/* only the qdisc this command created: it must still carry our filter */
		if (bpf_tc_query(&h, &o)) {
			fprintf(stderr, "rfbench: no empty filter on %s, leaving its qdisc alone\n",
				ifname);
			return 1;
		}
		h.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS; /* the whole clsact qdisc */
		err = bpf_tc_hook_destroy(&h);
		if (err) {
			fprintf(stderr, "rfbench: removing clsact on %s: %s\n", ifname,
				strerror(-err));
			return 1;
		}
		return 0;
	}
	/* a clsact already there would mean something else ran here first: not a clean control */
	err = bpf_tc_hook_create(&h);
	if (err) {
		fprintf(stderr, "rfbench: creating clsact on %s: %s\n", ifname, strerror(-err));
		return 1;
	}
	prog = load_ret_prog(BPF_PROG_TYPE_SCHED_CLS, 0, TC_ACT_OK);
	if (prog < 0) {
		fprintf(stderr, "rfbench: cannot load an empty tc program: %s\n", strerror(errno));
		err = -errno;
	} else {
		/* egress and ingress, as ringfence's second wall and its ICMP-error filter */
		o.prog_fd = prog;
		err = bpf_tc_attach(&h, &o);
		if (!err) {
			h.attach_point = BPF_TC_INGRESS;
			o.prog_id = 0;
			err = bpf_tc_attach(&h, &o);
		}
		if (err)
			fprintf(stderr, "rfbench: tc attach on %s: %s\n", ifname, strerror(-err));
		close(prog); /* the filters hold their own references */
	}
	if (err) {
		h.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&h);
		return 1;
	}
	return 0;
}

/* ---- exe rules --------------------------------------------------------------------------- */

static int pinned_in(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "rfbench: cannot open %s: %s\n", path, strerror(errno));
	return fd;
}

/* rfbench's own executable as rf_allow_exe_* keys it: kernel dev encoding, inode, generation */
static int self_exe_key(struct rf_exe_key *k)
{
	struct stat st;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), gen = 0;

	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memset(k, 0, sizeof(*k));
	k->dev = (__u64)major(st.st_dev) << 20 | minor(st.st_dev);
	k->ino = st.st_ino;
	k->gen = ioctl(fd, FS_IOC_GETVERSION, &gen) ? RF_EXE_GEN_ANY : (__u32)gen;
	close(fd);
	return 0;
}

/*
 * Allow this executable in rf_allow_exe_v2 (any user: another agent's plain exe rule) or in
 * rf_allow_exe_v3 for uid 0 (ringfence's `exe PATH user root`), or in neither; RF_CFG_EXE_RULES
 * follows, as the CLI sets it.
 */
static int cmd_exerule(const char *dir, const char *mode)
{
	int v2 = pinned_in(dir, "rf_allow_exe_v2"), v3 = pinned_in(dir, "rf_allow_exe_v3"),
	    cfg = pinned_in(dir, "rf_config"), ret = 1;
	struct rf_exe_users users = {.count = 1};
	struct rf_allow_val plain = {};
	struct rf_config c;
	struct rf_exe_key k;
	__u32 zero = 0;

	if (v2 < 0 || v3 < 0 || cfg < 0 || self_exe_key(&k) || bpf_map_lookup_elem(cfg, &zero, &c))
		goto out;
	bpf_map_delete_elem(v2, &k);
	bpf_map_delete_elem(v3, &k);
	if ((!strcmp(mode, "v2") && bpf_map_update_elem(v2, &k, &plain, BPF_ANY)) ||
	    (!strcmp(mode, "v3") && bpf_map_update_elem(v3, &k, &users, BPF_ANY))) {
		fprintf(stderr, "rfbench: exe rule: %s\n", strerror(errno));
		goto out;
	}
	c.flags = strcmp(mode, "off") ? c.flags | RF_CFG_EXE_RULES : c.flags & ~RF_CFG_EXE_RULES;
	ret = bpf_map_update_elem(cfg, &zero, &c, BPF_ANY) ? 1 : 0;
out:
	if (v2 >= 0)
		close(v2);
	if (v3 >= 0)
		close(v3);
	if (cfg >= 0)
		close(cfg);
	return ret;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rfbench gen|fill|progrun|server|rate|tput|flood|latency|setflag|"
		"exectime|nullattach|nulltc|exerule|flowstat ... (see the comment at the top of "
		"scripts/bench/rfbench.c)\n");
	exit(1);
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		usage();
	cmd = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "gen") && argc == 3)
		return cmd_gen(arg_num(argv[2], 2, FILLER_MAX));
	if (!strcmp(cmd, "fill") && argc == 5)
		return cmd_fill(argv[2], arg_num(argv[3], 1, FILLER_MAX),
				arg_num(argv[4], 1, FILLER_MAX));
	if (!strcmp(cmd, "progrun") && argc == 6)
		return cmd_progrun(argv[2], argv[3], arg_num(argv[4], 1, 100),
				   arg_num(argv[5], 1, 100000000));
	if (!strcmp(cmd, "server") && argc == 5)
		return cmd_server(arg_num(argv[2], 1, 65535), arg_num(argv[3], 1, 65535),
				  arg_num(argv[4], 1, 3600));
	if ((!strcmp(cmd, "rate") || !strcmp(cmd, "tput") || !strcmp(cmd, "flood")) && argc == 7) {
		measure_fn fn = cmd[0] == 'r'	? measure_rate
				: cmd[0] == 't' ? measure_tput
						: measure_flood;

		return in_child(argv[2], argv[3], argv[4], arg_num(argv[5], 1, 65535),
				arg_num(argv[6], 1, MS_MAX), fn);
	}
	if (!strcmp(cmd, "setflag") && argc == 4)
		return cmd_setflag(argv[2], arg_num(argv[3], 0, 1));
	if (!strcmp(cmd, "exectime") && argc >= 3)
		return cmd_exectime(argv + 2);
	if (!strcmp(cmd, "nullattach") && argc == 4)
		return cmd_nullattach(argv[2], argv[3]);
	if (!strcmp(cmd, "nulltc") && argc == 5 &&
	    (!strcmp(argv[4], "on") || !strcmp(argv[4], "off")))
		return cmd_nulltc(argv[2], argv[3], argv[4]);
	if (!strcmp(cmd, "exerule") && argc == 4 &&
	    (!strcmp(argv[3], "v2") || !strcmp(argv[3], "v3") || !strcmp(argv[3], "off")))
		return cmd_exerule(argv[2], argv[3]);
	if (!strcmp(cmd, "conncost") && argc >= 8)
		return cmd_conncost(argv + 2, argc - 2);
	if (!strcmp(cmd, "flowstat") && argc >= 9)
		return cmd_flowstat(argv + 2, argc - 2);
	if (!strcmp(cmd, "latency") && argc >= 9)
		return cmd_latency(argv + 2, argc - 2);
	usage();
	return 1;
}
