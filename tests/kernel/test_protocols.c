// SPDX-License-Identifier: GPL-2.0-only
/*
 * THREAT-MODEL.md row 18: ways into the network other than the plain socket calls, each tried by
 * a non-allowed process in the test cgroup inside the device netns, IPv4 and IPv6, before
 * isolate, isolated and released. Every denied case is paired with an allowed one, and for denied
 * traffic the peer must receive nothing.
 *  - io_uring through raw syscalls (no liburing): IORING_OP_CONNECT (TCP), IORING_OP_SENDMSG and
 *    IORING_OP_SEND_ZC with an address (UDP), IORING_OP_SOCKET (raw sockets), each submitted
 *    inline, through an io-wq worker (IOSQE_ASYNC) and by an SQPOLL kernel thread;
 *  - MPTCP (IPPROTO_MPTCP): connect(), and MPTCP connections opened before isolate;
 *  - SCTP, where the kernel has it: SCTP has no cgroup connect hook, cgroup_skb must stop it;
 *  - UDP-Lite, where the kernel has it: protocol 136, which a udp rule does not cover, also on a
 *    socket connected before isolate (no socket hook then);
 *  - DCCP (before 6.16) and L2TP over IP, where the kernel has them: no socket hook, as SCTP;
 *  - SMC, where the kernel has it: its TCP socket is the kernel's, made in the caller's context;
 *  - QUIC-style UDP: sendmmsg() with UDP GSO (UDP_SEGMENT), as QUIC stacks send.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <criterion/criterion.h>
#include "rf_proc.h"

#define PORT_URING_ALLOWED 9101 /* allowed by tcp+udp rules, v4+v6 */
#define PORT_URING_OTHER   9102 /* allowed by nothing */
#define PORT_MPTCP_ALLOWED 9201 /* allowed by tcp rules: MPTCP subflows are TCP */
#define PORT_MPTCP_OTHER   9202
#define PORT_SCTP	   9301 /* also the port of a tcp rule that must not let SCTP through */
#define PORT_QUIC_ALLOWED  9401 /* allowed by udp rules */
#define PORT_QUIC_OTHER	   9402
#define PORT_UDPLITE	   9501 /* the port of a udp rule that must not let UDP-Lite through */
#define PORT_DCCP	   9601 /* of tcp and udp rules that must not let DCCP through */
#define PORT_L2TP	   9701 /* of tcp and udp rules beside L2TP/IP (which has no ports) */
#define PORT_SMC_ALLOWED   9801 /* allowed by tcp rules: SMC falls back to TCP */
#define PORT_SMC_OTHER	   9802
#define CLIENT_TIMEOUT_MS  1500
#define RING_ENTRIES	   8

TestSuite(protocols, .init = rft_setup, .fini = rft_teardown, .timeout = 120);

/* ---- children in the test cgroup and the device netns ----------------------------------- */

/* What one step of a client in the device saw. */
struct step {
	int err;   /* errno of the failing call; 0 when the step completed (echo included) */
	int bytes; /* bytes echoed back or received */
	int aux;   /* MPTCP really in use on the socket (1/0, -1 unknown), or a probe's detail */
};

typedef struct step (*dev_fn)(int cmd, void *arg);

static struct step step_err(int err)
{
	return (struct step){err, 0, -1};
}

struct dev_call {
	dev_fn fn;
	void *arg;
};

static void dev_step(int cmd, void *arg, void *res)
{
	const struct dev_call *c = arg;

	*(struct step *)res = c->fn(cmd, c->arg);
}

/*
 * An rfp worker in the test cgroup and the device netns (it never runs fn anywhere else) that
 * runs fn(0, arg) and fn(cmd, arg) for every worker_call(). fn(0, arg)'s result goes to *first;
 * when the worker could not start, that is EIO (never a verdict like EPERM). Returns 0 or -errno.
 */
static int worker_start(struct rfp_worker *w, dev_fn fn, void *arg, struct step *first)
{
	struct dev_call c = {fn, arg}; /* lives on in the worker, which never returns from here */
	int ret = rfp_worker_start_res(w, rft.dev_ns, rft.cg, dev_step, &c, first, sizeof(*first));

	if (ret)
		*first = step_err(EIO);
	return ret;
}

static struct step worker_call(struct rfp_worker *w, int cmd)
{
	struct step s;

	return rfp_worker_call_res(w, cmd, &s) ? step_err(EIO) : s;
}

/* fn(0, arg) once in a fresh child in the test cgroup and the device netns. */
static struct step run_in_dev(dev_fn fn, void *arg)
{
	struct rfp_worker w;
	struct step s;

	worker_start(&w, fn, arg, &s);
	rfp_worker_stop(&w);
	return s;
}

static enum rft_outcome outcome_of(struct step s)
{
	switch (s.err) {
	case 0:
		return RFT_OK;
	case EPERM:
		return RFT_EPERM;
	case ECONNREFUSED:
		return RFT_REFUSED;
	case ETIMEDOUT:
	case EINPROGRESS:
	case EAGAIN:
		return RFT_TIMEOUT;
	default:
		return RFT_ERROR;
	}
}

/*
 * A protocol this kernel cannot open (a module absent or not loadable, or gone from the kernel) is
 * not applicable: the test is skipped, even under RINGFENCE_REQUIRE_KERNEL=1. err: the probe's
 * socket() errno. Returns when the protocol is there.
 */
static void skip_unless_supported(const char *proto, int err)
{
	if (err != EPROTONOSUPPORT && err != ESOCKTNOSUPPORT && err != EAFNOSUPPORT)
		return;
	cr_log_info("%s not applicable: the kernel cannot create %s sockets (%s)", proto, proto,
		    strerror(err));
	rft_teardown(); /* a skipped test gets no .fini */
	cr_skip_test("%s not applicable: %s", proto, strerror(err));
}

/* Skip (or fail under RINGFENCE_REQUIRE_KERNEL=1) after removing the environment: a skipped
 * test gets no .fini. */
__attribute__((noreturn, format(printf, 1, 2))) static void unavailable(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rft_teardown();
	rft_unavailable("%s", msg);
}

/* First line of a small text file (a sysctl) into buf, "?" if it cannot be read. */
static const char *read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		snprintf(buf, len, "?");
		return buf;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static const char *fam_name(int family)
{
	return family == AF_INET6 ? "v6" : "v4";
}

/* ---- io_uring through raw syscalls ------------------------------------------------------ */

struct ring {
	int fd;
	bool sqpoll;
	unsigned int *sq_tail, *sq_mask, *sq_flags, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *sq_map, *cq_map;
	size_t sq_len, cq_len, sqes_len;
};

static void ring_close(struct ring *r)
{
	if (r->sqes)
		munmap(r->sqes, r->sqes_len);
	if (r->cq_map && r->cq_map != r->sq_map)
		munmap(r->cq_map, r->cq_len);
	if (r->sq_map)
		munmap(r->sq_map, r->sq_len);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

static void *ring_map(int fd, size_t len, __u64 off)
{
	void *p =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, (off_t)off);

	return p == MAP_FAILED ? NULL : p;
}

/* io_uring_setup() and mmap of the rings. Returns 0 or -errno; -EOPNOTSUPP when the kernel
 * lacks what this file needs (IORING_FEAT_EXT_ARG, SQPOLL on ordinary fds: Linux 5.11). */
static int ring_setup(struct ring *r, bool sqpoll)
{
	struct io_uring_params p;
	int fd, err;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	memset(&p, 0, sizeof(p));
	if (sqpoll) {
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 50; /* ms before the SQ thread sleeps and needs a wakeup */
	}
	fd = (int)syscall(__NR_io_uring_setup, RING_ENTRIES, &p);
	if (fd < 0)
		return -errno;
	r->fd = fd;
	r->sqpoll = sqpoll;
	if (!(p.features & IORING_FEAT_EXT_ARG) ||
	    (sqpoll && !(p.features & IORING_FEAT_SQPOLL_NONFIXED))) {
		ring_close(r);
		return -EOPNOTSUPP;
	}
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(__u32);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (r->cq_len > r->sq_len)
			r->sq_len = r->cq_len;
		r->cq_len = r->sq_len;
	}
	r->sq_map = ring_map(fd, r->sq_len, IORING_OFF_SQ_RING);
	if (r->sq_map && (p.features & IORING_FEAT_SINGLE_MMAP))
		r->cq_map = r->sq_map;
	else if (r->sq_map)
		r->cq_map = ring_map(fd, r->cq_len, IORING_OFF_CQ_RING);
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = ring_map(fd, r->sqes_len, IORING_OFF_SQES);
	if (!r->sq_map || !r->cq_map || !r->sqes) {
		err = -errno;
		ring_close(r);
		return err ? err : -ENOMEM;
	}
	r->sq_tail = (unsigned int *)((char *)r->sq_map + p.sq_off.tail);
	r->sq_mask = (unsigned int *)((char *)r->sq_map + p.sq_off.ring_mask);
	r->sq_flags = (unsigned int *)((char *)r->sq_map + p.sq_off.flags);
	r->sq_array = (unsigned int *)((char *)r->sq_map + p.sq_off.array);
	r->cq_head = (unsigned int *)((char *)r->cq_map + p.cq_off.head);
	r->cq_tail = (unsigned int *)((char *)r->cq_map + p.cq_off.tail);
	r->cq_mask = (unsigned int *)((char *)r->cq_map + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)r->cq_map + p.cq_off.cqes);
	return 0;
}

/* Queue one SQE and hand it to the kernel (io_uring_enter, or the SQPOLL thread). */
static int ring_submit(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned int tail = *r->sq_tail, idx = tail & *r->sq_mask;
	long ret;

	r->sqes[idx] = *sqe;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (r->sqpoll) {
		/* the kernel thread picks the entry up without a syscall, unless it went idle */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!(__atomic_load_n(r->sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_NEED_WAKEUP))
			return 0;
		ret = syscall(__NR_io_uring_enter, r->fd, 0, 0, IORING_ENTER_SQ_WAKEUP, NULL, 0);
		return ret < 0 ? -errno : 0;
	}
	ret = syscall(__NR_io_uring_enter, r->fd, 1, 0, 0, NULL, 0);
	if (ret < 0)
		return -errno;
	return ret == 1 ? 0 : -EIO;
}

/* Next completion before `deadline` (rft_now_ms()): 0 with *cqe filled, or -ETIMEDOUT/-errno. */
static int ring_wait(struct ring *r, long deadline, struct io_uring_cqe *cqe)
{
	for (;;) {
		unsigned int head = *r->cq_head;
		struct io_uring_getevents_arg arg;
		struct __kernel_timespec ts;
		long left = deadline - rft_now_ms();
		long ret;

		if (head != __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
			*cqe = r->cqes[head & *r->cq_mask];
			__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
			return 0;
		}
		if (left <= 0)
			return -ETIMEDOUT;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000L;
		memset(&arg, 0, sizeof(arg));
		arg.ts = (__u64)(uintptr_t)&ts;
		ret = syscall(__NR_io_uring_enter, r->fd, 0, 1,
			      IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
		if (ret < 0 && errno != ETIME && errno != EINTR)
			return -errno;
	}
}

/* Run one request to completion: its result (cqe.res), or -ETIMEDOUT. A zero-copy send posts
 * a second (notification) completion, which is consumed too. */
static int ring_run(struct ring *r, struct io_uring_sqe *sqe, __u8 flags, long deadline)
{
	struct io_uring_cqe cqe;
	int ret, res;

	sqe->flags |= flags;
	ret = ring_submit(r, sqe);
	if (ret)
		return ret;
	ret = ring_wait(r, deadline, &cqe);
	if (ret)
		return ret;
	res = cqe.res;
	while (cqe.flags & IORING_CQE_F_MORE) {
		if (ring_wait(r, deadline, &cqe))
			break;
	}
	return res;
}

enum ring_mode { RING_INLINE, RING_ASYNC, RING_SQPOLL, RING_MODES };

static const char *const ring_mode_names[] = {"inline", "io-wq (IOSQE_ASYNC)", "SQPOLL thread"};

enum uring_op { OP_CONNECT_TCP, OP_SENDMSG_UDP, OP_SEND_ZC_UDP, URING_OPS };

static const char *const uring_op_names[] = {
    "IORING_OP_CONNECT (TCP)",
    "IORING_OP_SENDMSG (UDP)",
    "IORING_OP_SEND_ZC with an address (UDP)",
};

struct uring_arg {
	int family;
	const char *addr;
	unsigned short port;
	enum uring_op op;
	enum ring_mode mode;
};

/*
 * One exchange done entirely through io_uring: CONNECT + SEND (TCP) or SENDMSG / SEND_ZC with
 * the destination address (UDP, unconnected socket), then RECV until the echo is complete.
 */
static struct step uring_client(int cmd, void *arg)
{
	const struct uring_arg *a = arg;
	long deadline = rft_now_ms() + CLIENT_TIMEOUT_MS;
	__u8 flags = a->mode == RING_ASYNC ? IOSQE_ASYNC : 0;
	char payload[RFT_PAYLOAD_LEN], buf[256];
	struct step s = {0, 0, -1};
	struct sockaddr_storage ss;
	struct io_uring_sqe sqe;
	struct msghdr msg;
	struct iovec iov;
	struct ring r;
	socklen_t len;
	int fd, res;

	(void)cmd;
	memset(payload, 'u', sizeof(payload));
	if (rft_sockaddr(&ss, &len, a->family, a->addr, a->port))
		return step_err(EINVAL);
	fd = socket(a->family, (a->op == OP_CONNECT_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return step_err(errno);
	res = ring_setup(&r, a->mode == RING_SQPOLL);
	if (res) {
		close(fd);
		return step_err(-res);
	}
	memset(&sqe, 0, sizeof(sqe));
	sqe.fd = fd;
	if (a->op == OP_CONNECT_TCP) {
		sqe.opcode = IORING_OP_CONNECT;
		sqe.addr = (__u64)(uintptr_t)&ss;
		sqe.off = len;
		res = ring_run(&r, &sqe, flags, deadline);
		if (res == 0) {
			memset(&sqe, 0, sizeof(sqe));
			sqe.opcode = IORING_OP_SEND;
			sqe.fd = fd;
			sqe.addr = (__u64)(uintptr_t)payload;
			sqe.len = sizeof(payload);
			sqe.msg_flags = MSG_NOSIGNAL;
			res = ring_run(&r, &sqe, flags, deadline);
		}
	} else if (a->op == OP_SENDMSG_UDP) {
		iov = (struct iovec){payload, sizeof(payload)};
		memset(&msg, 0, sizeof(msg));
		msg.msg_name = &ss;
		msg.msg_namelen = len;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		sqe.opcode = IORING_OP_SENDMSG;
		sqe.addr = (__u64)(uintptr_t)&msg;
		sqe.len = 1;
		res = ring_run(&r, &sqe, flags, deadline);
	} else {
		sqe.opcode = IORING_OP_SEND_ZC;
		sqe.addr = (__u64)(uintptr_t)payload;
		sqe.len = sizeof(payload);
		sqe.addr2 = (__u64)(uintptr_t)&ss; /* sendto()-like destination */
		sqe.addr_len = (__u16)len;
		res = ring_run(&r, &sqe, flags, deadline);
	}
	while (res >= 0 && s.bytes < RFT_PAYLOAD_LEN) {
		memset(&sqe, 0, sizeof(sqe));
		sqe.opcode = IORING_OP_RECV;
		sqe.fd = fd;
		sqe.addr = (__u64)(uintptr_t)buf;
		sqe.len = sizeof(buf);
		res = ring_run(&r, &sqe, flags, deadline);
		if (res > 0)
			s.bytes += res;
		else if (res == 0)
			res = -ECONNRESET; /* the peer closed before echoing */
	}
	if (res < 0)
		s.err = -res;
	ring_close(&r);
	close(fd);
	return s;
}

struct uring_sock_arg {
	int family, type, proto;
	enum ring_mode mode;
};

/* IORING_OP_SOCKET: 0 if the socket was created, else errno. */
static struct step uring_socket(int cmd, void *arg)
{
	const struct uring_sock_arg *a = arg;
	struct io_uring_sqe sqe;
	struct ring r;
	int res;

	(void)cmd;
	res = ring_setup(&r, a->mode == RING_SQPOLL);
	if (res)
		return step_err(-res);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_SOCKET;
	sqe.fd = a->family;
	sqe.off = (__u64)a->type;
	sqe.len = (__u32)a->proto;
	res = ring_run(&r, &sqe, a->mode == RING_ASYNC ? IOSQE_ASYNC : 0, rft_now_ms() + 1000);
	ring_close(&r);
	if (res >= 0) {
		close(res);
		return (struct step){0, 0, -1};
	}
	return step_err(-res);
}

static bool op_supported(const struct io_uring_probe *p, int op)
{
	return op <= p->last_op && (p->ops[op].flags & IO_URING_OP_SUPPORTED);
}

struct uring_support {
	bool socket_op;	 /* IORING_OP_SOCKET (Linux 5.19) */
	bool send_zc_op; /* IORING_OP_SEND_ZC (Linux 6.0) */
};

/*
 * io_uring must be usable here: a ring, an SQPOLL ring and the opcodes every kernel since 5.11
 * has. Where it is off (kernel.io_uring_disabled, a seccomp profile, CONFIG_IO_URING=n) the test
 * is skipped, or fails under RINGFENCE_REQUIRE_KERNEL=1.
 */
static struct uring_support require_io_uring(void)
{
	static const int needed[] = {IORING_OP_CONNECT, IORING_OP_SENDMSG, IORING_OP_SEND,
				     IORING_OP_RECV};
	struct uring_support sup = {false, false};
	const size_t probe_len =
	    sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
	struct io_uring_probe *probe;
	char disabled[16];
	struct ring r;
	size_t i;
	int ret;

	read_text("/proc/sys/kernel/io_uring_disabled", disabled, sizeof(disabled));
	ret = ring_setup(&r, false);
	if (ret == -EOPNOTSUPP)
		unavailable("io_uring lacks IORING_FEAT_EXT_ARG (needs Linux 5.11)");
	if (ret)
		unavailable(
		    "io_uring is unavailable: io_uring_setup: %s (kernel.io_uring_disabled = "
		    "%s; a seccomp profile or CONFIG_IO_URING=n do the same)",
		    strerror(-ret), disabled);
	probe = calloc(1, probe_len);
	cr_assert_not_null(probe);
	ret = (int)syscall(__NR_io_uring_register, r.fd, IORING_REGISTER_PROBE, probe, 256);
	if (ret < 0) {
		ret = errno;
		free(probe);
		ring_close(&r);
		unavailable("io_uring cannot list its opcodes (IORING_REGISTER_PROBE: %s)",
			    strerror(ret));
	}
	for (i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (!op_supported(probe, needed[i])) {
			free(probe);
			ring_close(&r);
			unavailable("io_uring opcode %d is not supported by this kernel",
				    needed[i]);
		}
	}
	sup.socket_op = op_supported(probe, IORING_OP_SOCKET);
	sup.send_zc_op = op_supported(probe, IORING_OP_SEND_ZC);
	free(probe);
	ring_close(&r);
	ret = ring_setup(&r, true);
	if (ret)
		unavailable("io_uring SQPOLL rings are unavailable: %s", strerror(-ret));
	ring_close(&r);
	return sup;
}

/* What the peer's echo server counted for one (port, family, transport). */
static unsigned long long received(const struct rft_server *srv, unsigned short port, int family,
				   bool tcp)
{
	struct rft_port_stats st = rft_server_stats(srv, port, family);

	return tcp ? st.conns + st.tcp_bytes : st.dgrams + st.udp_bytes;
}

/* One io_uring exchange from the device: the verdict, and what the peer counted. */
static void check_uring_case(const struct rft_server *srv, const struct uring_arg *a, bool deny,
			     const char *phase)
{
	bool tcp = a->op == OP_CONNECT_TCP;
	unsigned long long before = received(srv, a->port, a->family, tcp);
	struct step s = run_in_dev(uring_client, (void *)a);
	enum rft_outcome o = outcome_of(s);
	const char *op = uring_op_names[a->op], *f = fam_name(a->family);
	const char *mode = ring_mode_names[a->mode];

	if (deny) {
		cr_expect_eq(o, RFT_EPERM, "%s: %s %s port %u, %s: expected EPERM, got %s (%s)",
			     phase, op, f, a->port, mode, rft_outcome_name(o), strerror(s.err));
		rft_msleep(100);
		cr_expect_eq(received(srv, a->port, a->family, tcp), before,
			     "%s: %s %s port %u, %s: denied, but the peer received something",
			     phase, op, f, a->port, mode);
		return;
	}
	cr_expect_eq(o, RFT_OK, "%s: %s %s port %u, %s: expected OK, got %s (%s, echoed %d)", phase,
		     op, f, a->port, mode, rft_outcome_name(o), strerror(s.err), s.bytes);
	cr_expect_gt(received(srv, a->port, a->family, tcp), before,
		     "%s: %s %s port %u, %s: worked, but the peer counted nothing", phase, op, f,
		     a->port, mode);
}

static const struct {
	int family;
	const char *addr;
} uring_peers[] = {{AF_INET, RFT_PEER_IP4}, {AF_INET6, RFT_PEER_IP6}};

/* Every op and submission mode of family row f to the allowed and the other port. */
static void check_uring_exchanges(const struct rft_server *srv, const struct uring_support *sup,
				  size_t f, bool isolated, const char *phase)
{
	static const unsigned short ports[] = {PORT_URING_ALLOWED, PORT_URING_OTHER};
	int family = uring_peers[f].family;
	unsigned long long other_before[2];
	int op, p, m;

	for (p = 0; p < 2; p++)
		other_before[p] = received(srv, PORT_URING_OTHER, family, p == 0);
	for (op = 0; op < URING_OPS; op++) {
		if (op == OP_SEND_ZC_UDP && !sup->send_zc_op)
			continue;
		for (p = 0; p < 2; p++) {
			for (m = 0; m < RING_MODES; m++) {
				struct uring_arg a = {family, uring_peers[f].addr, ports[p],
						      (enum uring_op)op, (enum ring_mode)m};

				check_uring_case(srv, &a, isolated && ports[p] == PORT_URING_OTHER,
						 phase);
			}
		}
	}
	if (!isolated)
		return;
	/* nothing may trickle in late (retransmissions, deferred io-wq work) */
	rft_msleep(RFT_DENY_WAIT_MS);
	for (p = 0; p < 2; p++)
		cr_expect_eq(received(srv, PORT_URING_OTHER, family, p == 0), other_before[p],
			     "%s: %s %s traffic to the denied port arrived late", phase,
			     fam_name(family), p == 0 ? "TCP" : "UDP");
}

/* IORING_OP_SOCKET runs cgroup/sock_create like socket(): raw sockets of `family` refused while
 * isolated. */
static void check_uring_sockets(int family, bool isolated, const char *phase)
{
	static const struct {
		struct uring_sock_arg a;
		bool special; /* refused while isolated */
		const char *name;
	} socks[] = {
	    {{AF_INET, SOCK_RAW, IPPROTO_ICMP, RING_INLINE}, true, "raw AF_INET ICMP"},
	    {{AF_INET6, SOCK_RAW, IPPROTO_ICMPV6, RING_INLINE}, true, "raw AF_INET6 ICMPv6"},
	    {{AF_INET, SOCK_RAW, IPPROTO_RAW, RING_INLINE}, true, "raw AF_INET IPPROTO_RAW"},
	    {{AF_INET, SOCK_STREAM, 0, RING_INLINE}, false, "TCP"},
	    {{AF_INET6, SOCK_DGRAM, 0, RING_INLINE}, false, "UDP6"},
	};
	size_t i;
	int m;

	for (i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
		if (socks[i].a.family != family)
			continue;
		for (m = 0; m < RING_MODES; m++) {
			struct uring_sock_arg a = socks[i].a;
			struct step s;
			int want = isolated && socks[i].special ? EPERM : 0;

			a.mode = (enum ring_mode)m;
			s = run_in_dev(uring_socket, &a);
			cr_expect_eq(s.err, want, "%s: IORING_OP_SOCKET %s, %s: %s, expected %s",
				     phase, socks[i].name, ring_mode_names[m],
				     s.err ? strerror(s.err) : "created",
				     want ? "EPERM" : "created");
		}
	}
}

/* Allow proto/port out to the peer, v4 and v6. */
static void allow_out(const char *proto, const char *port)
{
	static const char *const peers[] = {RFT_PEER_IP4, RFT_PEER_IP6};
	size_t i;

	for (i = 0; i < sizeof(peers) / sizeof(peers[0]); i++)
		rft_cli_ok(0, "allow", "add", "net", peers[i], "proto", proto, "port", port, "dir",
			   "out", NULL);
}

#define PHASES 3 /* loaded, isolated, released: phase 1 is the isolated one */

/* Go into `phase` (load, isolate, release); returns its name for messages. */
static const char *enter_phase(int phase)
{
	static const char *const cmds[PHASES] = {"load", "isolate", "release"};
	static const char *const names[PHASES] = {"loaded, not isolated", "isolated", "released"};

	rft_cli_ok(0, cmds[phase], NULL);
	return names[phase];
}

RFT_TABLE_PARAMS(protocols, io_uring_connect_sendmsg_socket_v4_v6, uring_peers)
ParameterizedTest(const size_t *row, protocols, io_uring_connect_sendmsg_socket_v4_v6)
{
	static const unsigned short ports[] = {PORT_URING_ALLOWED, PORT_URING_OTHER};
	struct uring_support sup = require_io_uring();
	struct rft_server srv;
	int phase;

	if (!sup.socket_op)
		cr_log_info("IORING_OP_SOCKET is not supported by this kernel (< 5.19): "
			    "socket creation through io_uring not tested");
	if (!sup.send_zc_op)
		cr_log_info(
		    "IORING_OP_SEND_ZC is not supported by this kernel (< 6.0): not tested");
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	allow_out("tcp", "9101");
	allow_out("udp", "9101");
	for (phase = 0; phase < PHASES; phase++) {
		const char *name = enter_phase(phase);

		check_uring_exchanges(&srv, &sup, *row, phase == 1, name);
		if (sup.socket_op)
			check_uring_sockets(uring_peers[*row].family, phase == 1, name);
	}
}

/* ---- stream protocols (MPTCP, SCTP) -------------------------------------------------------- */

struct stream_arg {
	int family;
	enum rft_proto proto; /* RFT_MPTCP, RFT_SCTP or RFT_SMC */
	const char *addr;
	unsigned short port;
};

static const char *proto_name(enum rft_proto proto)
{
	return proto == RFT_MPTCP  ? "MPTCP"
	       : proto == RFT_SCTP ? "SCTP"
	       : proto == RFT_SMC  ? "SMC"
				   : "?";
}

/* An echo server for one stream protocol (no UDP) in the peer netns: 0 or -errno. */
static int stream_server_start(struct rft_server *srv, enum rft_proto proto,
			       const unsigned short *ports, int nports)
{
	return rft_server_start_proto(srv, rft.peer_ns, NULL, proto, false, ports, nports);
}

/* Send RFT_PAYLOAD_LEN bytes and wait for their echo. */
static struct step stream_exchange(int fd, long deadline)
{
	char payload[RFT_PAYLOAD_LEN];
	struct step s = {0, 0, -1};
	int got;

	memset(payload, 's', sizeof(payload));
	if (send(fd, payload, sizeof(payload), MSG_NOSIGNAL) < 0)
		return step_err(errno);
	got = rft_recv_upto(fd, RFT_PAYLOAD_LEN, deadline);
	if (got < 0)
		return step_err(-got);
	s.bytes = got;
	if (got < RFT_PAYLOAD_LEN)
		s.err = ETIMEDOUT;
	return s;
}

/* connect() + one echo; aux: is MPTCP really in use on the socket. */
static struct step stream_client(int cmd, void *arg)
{
	const struct stream_arg *a = arg;
	long deadline = rft_now_ms() + CLIENT_TIMEOUT_MS;
	struct step s;
	int fd;

	(void)cmd;
	fd = rft_connect(a->family, a->proto, a->addr, a->port, CLIENT_TIMEOUT_MS);
	if (fd < 0)
		return step_err(-fd);
	s = stream_exchange(fd, deadline);
	if (a->proto == RFT_MPTCP)
		s.aux = rft_mptcp_in_use(fd);
	close(fd);
	return s;
}

/* One connect+echo from the device; checks the verdict and what the peer's server saw. */
static void check_stream(const struct rft_server *srv, const struct stream_arg *a, bool deny,
			 const char *phase)
{
	struct rft_port_stats before = rft_server_stats(srv, a->port, a->family), after;
	struct step s = run_in_dev(stream_client, (void *)a);
	enum rft_outcome o = outcome_of(s);
	const char *p = proto_name(a->proto), *f = fam_name(a->family);

	if (deny) {
		if (a->proto == RFT_SCTP)
			/* no connect hook: the INIT is dropped at cgroup_skb egress (timeout), or a
			 * transmit error surfaces as EPERM */
			cr_expect(o == RFT_EPERM || o == RFT_TIMEOUT,
				  "%s: %s %s port %u: expected EPERM or no answer, got %s (%s)",
				  phase, p, f, a->port, rft_outcome_name(o), strerror(s.err));
		else
			cr_expect_eq(o, RFT_EPERM, "%s: %s %s port %u: expected EPERM, got %s (%s)",
				     phase, p, f, a->port, rft_outcome_name(o), strerror(s.err));
		/* an EPERM returns at once: give anything that did leave the time to arrive */
		rft_msleep(o == RFT_EPERM ? RFT_DENY_WAIT_MS : 100);
		after = rft_server_stats(srv, a->port, a->family);
		cr_expect_eq(after.conns, before.conns,
			     "%s: %s %s port %u was denied, but the peer accepted a connection",
			     phase, p, f, a->port);
		cr_expect_eq(after.tcp_bytes, before.tcp_bytes,
			     "%s: %s %s port %u was denied, but the peer received data", phase, p,
			     f, a->port);
		return;
	}
	cr_expect_eq(o, RFT_OK, "%s: %s %s port %u: expected OK, got %s (%s, echoed %d)", phase, p,
		     f, a->port, rft_outcome_name(o), strerror(s.err), s.bytes);
	after = rft_server_stats(srv, a->port, a->family);
	cr_expect_gt(after.conns, before.conns,
		     "%s: %s %s port %u worked, but the peer accepted nothing", phase, p, f,
		     a->port);
	if (a->proto == RFT_MPTCP && s.aux >= 0) {
		/* a fallback to plain TCP would not exercise MPTCP at all */
		cr_expect_eq(s.aux, 1, "%s: MPTCP %s port %u fell back to plain TCP", phase, f,
			     a->port);
		cr_expect_gt(after.mptcp, before.mptcp,
			     "%s: MPTCP %s port %u: the peer did not accept an MPTCP connection",
			     phase, f, a->port);
	}
}

/* ---- MPTCP ------------------------------------------------------------------------------ */

static struct step mptcp_probe(int cmd, void *arg)
{
	static const int fams[] = {AF_INET, AF_INET6};
	struct step s = {0, 0, -1};
	char buf[16];
	int i, fd;

	(void)cmd;
	(void)arg;
	/* per network namespace: read it inside the device netns */
	if (strcmp(read_text("/proc/sys/net/mptcp/enabled", buf, sizeof(buf)), "?"))
		s.aux = atoi(buf);
	for (i = 0; i < 2 && !s.err; i++) {
		fd = socket(fams[i], SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);
		if (fd < 0)
			s.err = errno;
		else
			close(fd);
	}
	return s;
}

/*
 * MPTCP sockets must be creatable in the device netns; else skip, or fail in CI. A kernel built
 * without MPTCP (no net.mptcp sysctls, e.g. Debian's 5.10) is not applicable, as for SCTP: skipped
 * even under RINGFENCE_REQUIRE_KERNEL=1.
 */
static void require_mptcp(void)
{
	struct step s = run_in_dev(mptcp_probe, NULL);

	if (s.err == EPROTONOSUPPORT && s.aux == -1) {
		cr_log_info("MPTCP not applicable: the kernel has no MPTCP (CONFIG_MPTCP=n)");
		rft_teardown(); /* a skipped test gets no .fini */
		cr_skip_test("MPTCP not applicable: the kernel has no MPTCP (CONFIG_MPTCP=n: %s)",
			     strerror(s.err));
	}
	if (s.err)
		unavailable("MPTCP sockets cannot be created: %s (net.mptcp.enabled = %d, -1: "
			    "no such sysctl, CONFIG_MPTCP=n)",
			    strerror(s.err), s.aux);
}

/* MPTCP from the device to the allowed and the other port, v4 and v6. */
static const struct stream_arg mptcp_cases[] = {
    {AF_INET, RFT_MPTCP, RFT_PEER_IP4, PORT_MPTCP_ALLOWED},
    {AF_INET, RFT_MPTCP, RFT_PEER_IP4, PORT_MPTCP_OTHER},
    {AF_INET6, RFT_MPTCP, RFT_PEER_IP6, PORT_MPTCP_ALLOWED},
    {AF_INET6, RFT_MPTCP, RFT_PEER_IP6, PORT_MPTCP_OTHER},
};

/* require_mptcp(), the peer's MPTCP server on both ports, and tcp to the allowed port allowed
 * out (MPTCP subflows are TCP). */
static void mptcp_setup(struct rft_server *srv)
{
	static const unsigned short ports[] = {PORT_MPTCP_ALLOWED, PORT_MPTCP_OTHER};

	require_mptcp();
	cr_assert_eq(stream_server_start(srv, RFT_MPTCP, ports, 2), 0, "MPTCP server in the peer");
	allow_out("tcp", "9201");
}

RFT_TABLE_PARAMS(protocols, mptcp_connect_v4_v6, mptcp_cases)
ParameterizedTest(const size_t *row, protocols, mptcp_connect_v4_v6)
{
	const struct stream_arg *c = &mptcp_cases[*row];
	struct rft_server srv;
	int phase;

	mptcp_setup(&srv);
	for (phase = 0; phase < PHASES; phase++) {
		const char *name = enter_phase(phase);

		check_stream(&srv, c, phase == 1 && c->port == PORT_MPTCP_OTHER, name);
	}
}

enum held_cmd { HELD_OPEN, HELD_SEND, HELD_ECHO, HELD_ANY };

static int held_fd = -1; /* in the worker that holds the connection */

/*
 * A connection held across isolate. HELD_OPEN: connect and one echo (aux: MPTCP in use);
 * HELD_SEND: send RFT_PAYLOAD_LEN bytes (bytes: sent); HELD_ECHO: collect RFT_PAYLOAD_LEN bytes;
 * HELD_ANY: collect one byte. Collecting waits up to RFT_DENY_WAIT_MS.
 */
static struct step held_conn(int cmd, void *arg)
{
	const struct stream_arg *a = arg;
	char payload[RFT_PAYLOAD_LEN];
	struct step s = {0, 0, -1};
	ssize_t n;
	int got;

	switch (cmd) {
	case HELD_OPEN:
		held_fd = rft_connect(a->family, a->proto, a->addr, a->port, CLIENT_TIMEOUT_MS);
		if (held_fd < 0)
			return step_err(-held_fd);
		s = stream_exchange(held_fd, rft_now_ms() + CLIENT_TIMEOUT_MS);
		s.aux = rft_mptcp_in_use(held_fd);
		return s;
	case HELD_SEND:
		memset(payload, 'h', sizeof(payload));
		n = send(held_fd, payload, sizeof(payload), MSG_NOSIGNAL);
		return n < 0 ? step_err(errno) : (struct step){0, (int)n, -1};
	default:
		got = rft_recv_upto(held_fd, cmd == HELD_ECHO ? RFT_PAYLOAD_LEN : 1,
				    rft_now_ms() + RFT_DENY_WAIT_MS);
		return got < 0 ? step_err(-got) : (struct step){0, got, -1};
	}
}

/*
 * MPTCP connections opened before isolate: their data runs on kernel-created TCP subflow sockets,
 * which inherit the cgroup of the MPTCP socket, so cgroup_skb egress/ingress must cut them both
 * ways unless the peer is allowed.
 */
RFT_TABLE_PARAMS(protocols, mptcp_established_before_isolate_v4_v6, mptcp_cases)
ParameterizedTest(const size_t *row, protocols, mptcp_established_before_isolate_v4_v6)
{
	const struct stream_arg *c = &mptcp_cases[*row];
	const char *f = fam_name(c->family);
	bool allowed = c->port == PORT_MPTCP_ALLOWED;
	struct rft_port_stats before, st;
	struct rfp_worker w;
	struct rft_server srv;
	struct step s;

	mptcp_setup(&srv);
	rft_cli_ok(0, "load", NULL);
	cr_assert_eq(worker_start(&w, held_conn, (void *)c, &s), 0);
	cr_assert_eq(outcome_of(s), RFT_OK, "before isolate: MPTCP %s port %u: %s (%s)", f, c->port,
		     rft_outcome_name(outcome_of(s)), strerror(s.err));
	if (s.aux >= 0)
		cr_assert_eq(s.aux, 1, "MPTCP %s port %u fell back to plain TCP", f, c->port);

	rft_cli_ok(0, "isolate", NULL);
	before = rft_server_stats(&srv, c->port, c->family);
	s = worker_call(&w, HELD_SEND);
	if (allowed)
		cr_expect_eq(s.bytes, RFT_PAYLOAD_LEN,
			     "isolated: send on the allowed MPTCP %s connection: %s", f,
			     strerror(s.err));
	rft_msleep(RFT_DENY_WAIT_MS);
	st = rft_server_stats(&srv, c->port, c->family);
	if (!allowed) {
		cr_expect_eq(st.tcp_bytes, before.tcp_bytes,
			     "isolated: the peer received data of the MPTCP %s connection opened "
			     "before isolate",
			     f);
	} else {
		cr_expect_gt(st.tcp_bytes, before.tcp_bytes,
			     "isolated: the allowed MPTCP %s connection moved no data", f);
		cr_expect_eq(worker_call(&w, HELD_ECHO).bytes, RFT_PAYLOAD_LEN,
			     "isolated: the allowed MPTCP %s connection got no echo", f);
	}
	/* the other direction: the peer sends on the connection */
	cr_expect_eq(rft_server_push(&srv), 1, "the peer could not send on the %s connection", f);
	s = worker_call(&w, HELD_ANY);
	if (!allowed)
		cr_expect_eq(s.bytes, 0,
			     "isolated: data from the peer reached the MPTCP %s connection opened "
			     "before isolate",
			     f);
	else
		cr_expect_eq(
		    s.bytes, 1,
		    "isolated: the peer's byte did not reach the allowed MPTCP %s connection "
		    "(%s)",
		    f, strerror(s.err));
	rft_cli_ok(0, "release", NULL);
	rfp_worker_stop(&w);
}

/* ---- SCTP ------------------------------------------------------------------------------- */

static struct step sctp_probe(int cmd, void *arg)
{
	static const int fams[] = {AF_INET, AF_INET6};
	int i, fd;

	(void)cmd;
	(void)arg;
	for (i = 0; i < 2; i++) {
		/* socket() asks the kernel to load the sctp module (request_module) if needed */
		fd = socket(fams[i], SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP);
		if (fd < 0)
			return step_err(errno);
		close(fd);
	}
	return (struct step){0, 0, -1};
}

/*
 * SCTP has no cgroup connect/sendmsg hook (sctp_inet_connect() goes straight to the association
 * code), so the only thing between an SCTP association and the peer is cgroup_skb: rules of
 * proto tcp/udp do not match protocol 132, and ports are not parsed for SCTP, so only a port-less
 * `proto any` rule lets it through. SCTP is a module that is often absent (and cannot be loaded
 * in sandboxes booted with `nomodule`): then this test is not applicable and is skipped, even
 * under RINGFENCE_REQUIRE_KERNEL=1.
 */
Test(protocols, sctp_connect_v4_v6)
{
	static const unsigned short ports[] = {PORT_SCTP};
	static const struct stream_arg v4 = {AF_INET, RFT_SCTP, RFT_PEER_IP4, PORT_SCTP};
	static const struct stream_arg v6 = {AF_INET6, RFT_SCTP, RFT_PEER_IP6, PORT_SCTP};
	struct step probe = run_in_dev(sctp_probe, NULL);
	struct rft_server srv;

	skip_unless_supported("SCTP", probe.err);
	cr_assert_eq(probe.err, 0, "SCTP socket(): %s", strerror(probe.err));
	cr_assert_eq(stream_server_start(&srv, RFT_SCTP, ports, 1), 0, "SCTP server in the peer");
	/* the way back for isolate: same peer and port, but TCP, which must not cover SCTP */
	allow_out("tcp", "9301");
	rft_cli_ok(0, "load", NULL);
	check_stream(&srv, &v4, false, "loaded, not isolated");
	check_stream(&srv, &v6, false, "loaded, not isolated");

	rft_cli_ok(0, "isolate", NULL);
	check_stream(&srv, &v4, true, "isolated, tcp rules only");
	check_stream(&srv, &v6, true, "isolated, tcp rules only");

	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "any", "dir", "out", NULL);
	check_stream(&srv, &v4, false, "isolated, v4 peer allowed (proto any)");
	check_stream(&srv, &v6, true, "isolated, v4 peer allowed (proto any)");

	rft_cli_ok(0, "allow", "del", "net", RFT_PEER_IP4, "proto", "any", "dir", "out", NULL);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP6, "proto", "any", "dir", "out", NULL);
	check_stream(&srv, &v4, true, "isolated, v6 peer allowed (proto any)");
	check_stream(&srv, &v6, false, "isolated, v6 peer allowed (proto any)");

	rft_cli_ok(0, "release", NULL);
	check_stream(&srv, &v4, false, "released");
	check_stream(&srv, &v6, false, "released");
}

/* ---- SMC -------------------------------------------------------------------------------- */

static struct step smc_probe(int cmd, void *arg)
{
	int fd;

	(void)cmd;
	(void)arg;
	/* socket() asks the kernel to load the smc module (net-pf-43) if needed */
	fd = socket(AF_SMC, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return step_err(errno);
	close(fd);
	return (struct step){0, 0, -1};
}

static const struct stream_arg smc_cases[] = {
    {AF_INET, RFT_SMC, RFT_PEER_IP4, PORT_SMC_ALLOWED},
    {AF_INET, RFT_SMC, RFT_PEER_IP4, PORT_SMC_OTHER},
    {AF_INET6, RFT_SMC, RFT_PEER_IP6, PORT_SMC_ALLOWED},
    {AF_INET6, RFT_SMC, RFT_PEER_IP6, PORT_SMC_OTHER},
};

/*
 * SMC (AF_SMC, any user where the module loads: it has an alias) makes its TCP socket inside the
 * kernel, in the calling process's context, so the socket carries the process's cgroup: connect()
 * runs cgroup/connect4/6 on it and cgroup_skb judges its packets. Against a plain TCP peer SMC
 * falls back to TCP, so tcp rules apply. A kernel without SMC makes the test not applicable.
 */
RFT_TABLE_PARAMS(protocols, smc_connect_v4_v6, smc_cases)
ParameterizedTest(const size_t *row, protocols, smc_connect_v4_v6)
{
	static const unsigned short ports[] = {PORT_SMC_ALLOWED, PORT_SMC_OTHER};
	const struct stream_arg *c = &smc_cases[*row];
	struct step probe = run_in_dev(smc_probe, NULL);
	struct rft_server srv;
	int phase;

	skip_unless_supported("SMC", probe.err);
	cr_assert_eq(probe.err, 0, "SMC socket(): %s", strerror(probe.err));
	cr_assert_eq(stream_server_start(&srv, RFT_TCP, ports, 2), 0, "TCP server in the peer");
	allow_out("tcp", "9801");
	for (phase = 0; phase < PHASES; phase++) {
		const char *name = enter_phase(phase);

		check_stream(&srv, c, phase == 1 && c->port == PORT_SMC_OTHER, name);
	}
}

/* ---- UDP-Lite --------------------------------------------------------------------------- */

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#define LITE_MARK "rf-udplite-payload"

/* What lite_client() does (LITE_NOP: what a worker runs when it starts). */
enum lite_cmd { LITE_NOP, LITE_HOLD, LITE_SENDTO, LITE_CONNECTED, LITE_HELD, LITE_CMDS };

static const char *const lite_names[LITE_CMDS] = {"nothing", "socket()+connect()", "sendto()",
						  "connect()+send()",
						  "send() on a socket connected before isolate"};

struct peer_arg {
	int family;
	const char *addr;
};

static int lite_held = -1; /* in the worker that holds the socket */

/*
 * A UDP-Lite datagram carrying LITE_MARK to the peer's PORT_UDPLITE (no listener there: the peer
 * only counts frames). LITE_HOLD: a socket connected and kept, nothing sent; LITE_SENDTO: a new
 * socket, unconnected; LITE_CONNECTED: a new socket, connect() then send(); LITE_HELD: send() on
 * the socket LITE_HOLD connected.
 */
static struct step lite_client(int cmd, void *arg)
{
	const struct peer_arg *a = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	ssize_t n;
	int fd, err;

	if (cmd == LITE_NOP)
		return (struct step){0, 0, -1};
	if (rft_sockaddr(&ss, &len, a->family, a->addr, PORT_UDPLITE))
		return step_err(EINVAL);
	if (cmd == LITE_HELD) {
		fd = lite_held;
	} else {
		fd = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDPLITE);
		if (fd < 0)
			return step_err(errno);
		if (cmd != LITE_SENDTO && connect(fd, (struct sockaddr *)&ss, len)) {
			err = errno;
			close(fd);
			return step_err(err);
		}
		if (cmd == LITE_HOLD) {
			lite_held = fd;
			return (struct step){0, 0, -1};
		}
	}
	if (cmd == LITE_SENDTO)
		n = sendto(fd, LITE_MARK, strlen(LITE_MARK), 0, (struct sockaddr *)&ss, len);
	else
		n = send(fd, LITE_MARK, strlen(LITE_MARK), 0);
	/* the port unreachable that an earlier allowed datagram earned is reported once, first */
	if (n < 0 && errno == ECONNREFUSED && cmd == LITE_HELD)
		n = send(fd, LITE_MARK, strlen(LITE_MARK), 0);
	err = n < 0 ? errno : 0;
	if (cmd != LITE_HELD)
		close(fd);
	return err ? step_err(err) : (struct step){0, (int)n, -1};
}

/* fn(cmd) once, in a new worker (which runs fn(0) first). */
static struct step once_in_dev(dev_fn fn, const struct peer_arg *a, int cmd)
{
	struct rfp_worker w;
	struct step s;

	if (worker_start(&w, fn, (void *)a, &s) == 0)
		s = worker_call(&w, cmd);
	rfp_worker_stop(&w);
	return s;
}

static struct step lite_once(const struct peer_arg *a, int cmd)
{
	return once_in_dev(lite_client, a, cmd);
}

/*
 * One datagram of each kind, v4 and v6 (with w, the held sockets' workers, a datagram on each held
 * socket too): allowed ones must reach the peer, denied ones fail with EPERM (at connect(),
 * sendto() or send(), whichever hook refuses) and must not.
 */
static void check_lite(struct rfp_worker *w, const struct peer_arg args[2],
		       const struct rfp_sniffer *sn, const bool deny[2], const char *phase)
{
	int fam, cmd;

	for (fam = 0; fam < 2; fam++) {
		for (cmd = LITE_SENDTO; cmd < (w ? LITE_CMDS : LITE_HELD); cmd++) {
			unsigned int before = rfp_sniffer_count(sn), after;
			struct step s = cmd == LITE_HELD ? worker_call(&w[fam], LITE_HELD)
							 : lite_once(&args[fam], cmd);
			const char *f = fam_name(args[fam].family);

			rft_msleep(deny[fam] ? RFT_DENY_WAIT_MS : 100);
			after = rfp_sniffer_count(sn);
			if (deny[fam]) {
				cr_expect_eq(s.err, EPERM,
					     "%s: UDP-Lite %s %s: expected EPERM, got %s", phase, f,
					     lite_names[cmd], s.err ? strerror(s.err) : "sent");
				cr_expect_eq(after, before,
					     "%s: UDP-Lite %s %s was denied, but the peer received "
					     "%u datagrams",
					     phase, f, lite_names[cmd], after - before);
			} else {
				cr_expect_eq(s.err, 0, "%s: UDP-Lite %s %s: %s", phase, f,
					     lite_names[cmd], strerror(s.err));
				cr_expect_gt(after, before,
					     "%s: UDP-Lite %s %s was sent, but the peer received "
					     "nothing",
					     phase, f, lite_names[cmd]);
			}
		}
	}
}

/*
 * UDP-Lite (IPPROTO_UDPLITE, no privilege needed) runs UDP's send path and the cgroup hooks, but
 * its packets are protocol 136: a rule of proto udp must not let it through, whether the hooks
 * refuse it at connect()/sendto() or the packet layer drops it (a socket connected before
 * isolate meets no socket hook); only a `proto any` rule does. A kernel without UDP-Lite makes
 * the test not applicable (skipped).
 */
Test(protocols, udplite_is_not_udp_v4_v6)
{
	static const struct peer_arg args[2] = {{AF_INET, RFT_PEER_IP4}, {AF_INET6, RFT_PEER_IP6}};
	struct step probe = lite_once(&args[0], LITE_HOLD);
	struct rfp_worker w[2];
	struct rfp_sniffer sn;
	struct step s;
	int i;

	skip_unless_supported("UDP-Lite", probe.err);
	cr_assert_eq(probe.err, 0, "UDP-Lite socket(): %s", strerror(probe.err));
	cr_assert_eq(rfp_sniffer_start(&sn, rft.peer_ns, 0x0003 /* ETH_P_ALL */, LITE_MARK), 0);
	allow_out("udp", "9501"); /* PORT_UDPLITE */
	rft_cli_ok(0, "load", NULL);
	check_lite(NULL, args, &sn, (const bool[2]){false, false}, "loaded, not isolated");
	for (i = 0; i < 2; i++) {
		cr_assert_eq(worker_start(&w[i], lite_client, (void *)&args[i], &s), 0);
		s = worker_call(&w[i], LITE_HOLD);
		cr_assert_eq(s.err, 0, "UDP-Lite %s: the held socket: %s", fam_name(args[i].family),
			     strerror(s.err));
	}

	rft_cli_ok(0, "isolate", NULL);
	check_lite(w, args, &sn, (const bool[2]){true, true}, "isolated, udp rules only");

	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "any", "dir", "out", NULL);
	check_lite(w, args, &sn, (const bool[2]){false, true},
		   "isolated, v4 peer allowed (proto any)");
	rft_cli_ok(0, "allow", "del", "net", RFT_PEER_IP4, "proto", "any", "dir", "out", NULL);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP6, "proto", "any", "dir", "out", NULL);
	check_lite(w, args, &sn, (const bool[2]){true, false},
		   "isolated, v6 peer allowed (proto any)");

	rft_cli_ok(0, "release", NULL);
	check_lite(w, args, &sn, (const bool[2]){false, false}, "released");
	for (i = 0; i < 2; i++)
		rfp_worker_stop(&w[i]);
	rfp_sniffer_stop(&sn);
}

/* ---- DCCP ------------------------------------------------------------------------------- */

#ifndef SOCK_DCCP
#define SOCK_DCCP 6
#endif
#ifndef IPPROTO_DCCP
#define IPPROTO_DCCP 33
#endif
#define RF_SOL_DCCP		269
#define RF_DCCP_SOCKOPT_SERVICE 2
#define DCCP_MARK		"rfDC" /* the service code: the DCCP-Request carries it */

/*
 * A non-blocking DCCP connect() to the peer's PORT_DCCP with the service code DCCP_MARK (no
 * listener: the peer only counts the Request). cmd 0 only creates the socket (the probe).
 */
static struct step dccp_client(int cmd, void *arg)
{
	const struct peer_arg *a = arg;
	struct sockaddr_storage ss;
	__u32 service;
	socklen_t len;
	int fd, err = 0;

	if (rft_sockaddr(&ss, &len, a->family, a->addr, PORT_DCCP))
		return step_err(EINVAL);
	fd = socket(a->family, SOCK_DCCP | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_DCCP);
	if (fd < 0)
		return step_err(errno);
	memcpy(&service, DCCP_MARK, sizeof(service));
	if (setsockopt(fd, RF_SOL_DCCP, RF_DCCP_SOCKOPT_SERVICE, &service, sizeof(service)))
		err = errno;
	else if (cmd && connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS)
		err = errno;
	close(fd);
	return err ? step_err(err) : (struct step){0, 0, -1};
}

/* ---- L2TP over IP ------------------------------------------------------------------------ */

#ifndef IPPROTO_L2TP
#define IPPROTO_L2TP 115
#endif
#define L2TP_MARK "rf-l2tpip-payload"

/*
 * A datagram carrying L2TP_MARK from an L2TP/IP socket (unbound, sendto()) to the peer, which only
 * counts it. cmd 0 only creates the socket (the probe).
 */
static struct step l2tp_client(int cmd, void *arg)
{
	const struct peer_arg *a = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err = 0;

	if (rft_sockaddr(&ss, &len, a->family, a->addr, 0))
		return step_err(EINVAL);
	/* struct sockaddr_l2tpip(6): sockaddr_in(6), then the connection id (0): 16/32 bytes */
	len = a->family == AF_INET ? 16 : 32;
	fd = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_L2TP);
	if (fd < 0)
		return step_err(errno);
	if (cmd && sendto(fd, L2TP_MARK, strlen(L2TP_MARK), 0, (struct sockaddr *)&ss, len) < 0)
		err = errno;
	close(fd);
	return err ? step_err(err) : (struct step){0, 0, -1};
}

/* ---- protocols with no socket hook, seen by the peer ------------------------------------- */

/* A protocol whose client sends one packet carrying `mark` (cmd 1) or only opens (cmd 0). */
struct marked_proto {
	const char *name; /* "DCCP" */
	const char *sent; /* what the client sends: "connect()" */
	dev_fn client;
	const char *mark;
	unsigned short port; /* of the tcp and udp rules that must not cover it */
};

/* One packet of each family: allowed ones reach the peer, denied ones do not. */
static void check_marked(const struct marked_proto *mp, const struct peer_arg args[2],
			 const struct rfp_sniffer *sn, const bool deny[2], const char *phase)
{
	int fam;

	for (fam = 0; fam < 2; fam++) {
		unsigned int before = rfp_sniffer_count(sn), after;
		struct step s = once_in_dev(mp->client, &args[fam], 1);
		const char *f = fam_name(args[fam].family);

		rft_msleep(deny[fam] ? RFT_DENY_WAIT_MS : 100);
		after = rfp_sniffer_count(sn);
		if (deny[fam]) {
			/* no socket hook: a drop at cgroup_skb surfaces as EPERM, or not at all */
			cr_expect(s.err == 0 || s.err == EPERM,
				  "%s: %s %s %s: expected EPERM or no error, got %s", phase,
				  mp->name, f, mp->sent, strerror(s.err));
			cr_expect_eq(after, before,
				     "%s: %s %s was denied, but the peer received %u packets",
				     phase, mp->name, f, after - before);
		} else {
			cr_expect_eq(s.err, 0, "%s: %s %s %s: %s", phase, mp->name, f, mp->sent,
				     strerror(s.err));
			cr_expect_gt(after, before,
				     "%s: %s %s %s worked, but the peer received nothing", phase,
				     mp->name, f, mp->sent);
		}
	}
}

/*
 * A protocol with no cgroup connect or sendmsg hook, as SCTP: only cgroup_skb stops it. Its
 * protocol number matches no tcp/udp rule, and no port is parsed, so only a port-less `proto any`
 * rule lets it through. A kernel that cannot open it makes the test not applicable (skipped).
 */
static void marked_proto_test(const struct marked_proto *mp)
{
	static const struct peer_arg args[2] = {{AF_INET, RFT_PEER_IP4}, {AF_INET6, RFT_PEER_IP6}};
	struct step probe = once_in_dev(mp->client, &args[0], 0);
	struct rfp_sniffer sn;
	char port[8];

	skip_unless_supported(mp->name, probe.err);
	cr_assert_eq(probe.err, 0, "%s socket(): %s", mp->name, strerror(probe.err));
	cr_assert_eq(rfp_sniffer_start(&sn, rft.peer_ns, 0x0003 /* ETH_P_ALL */, mp->mark), 0);
	/* the way back for isolate: the same peer and port for TCP and UDP only */
	snprintf(port, sizeof(port), "%u", mp->port);
	allow_out("tcp", port);
	allow_out("udp", port);
	rft_cli_ok(0, "load", NULL);
	check_marked(mp, args, &sn, (const bool[2]){false, false}, "loaded, not isolated");

	rft_cli_ok(0, "isolate", NULL);
	check_marked(mp, args, &sn, (const bool[2]){true, true},
		     "isolated, tcp and udp rules only");

	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "any", "dir", "out", NULL);
	check_marked(mp, args, &sn, (const bool[2]){false, true},
		     "isolated, v4 peer allowed (proto any)");
	rft_cli_ok(0, "allow", "del", "net", RFT_PEER_IP4, "proto", "any", "dir", "out", NULL);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP6, "proto", "any", "dir", "out", NULL);
	check_marked(mp, args, &sn, (const bool[2]){true, false},
		     "isolated, v6 peer allowed (proto any)");

	rft_cli_ok(0, "release", NULL);
	check_marked(mp, args, &sn, (const bool[2]){false, false}, "released");
	rfp_sniffer_stop(&sn);
}

/* DCCP (before 6.16, which removed it; any user once its module is loaded): protocol 33. */
Test(protocols, dccp_connect_v4_v6)
{
	static const struct marked_proto dccp = {"DCCP", "connect()", dccp_client, DCCP_MARK,
						 PORT_DCCP};

	marked_proto_test(&dccp);
}

/* L2TP over IP: any user where the module loads; protocol 115. */
Test(protocols, l2tp_ip_sendto_v4_v6)
{
	static const struct marked_proto l2tp = {"L2TP/IP", "sendto()", l2tp_client, L2TP_MARK,
						 PORT_L2TP};

	marked_proto_test(&l2tp);
}

/* ---- QUIC-style UDP --------------------------------------------------------------------- */

#define QUIC_SEGMENTS 2 /* the second message is cut into this many datagrams by UDP GSO */

struct quic_arg {
	int family;
	const char *addr;
	unsigned short port;
};

/*
 * What QUIC stacks do on an unconnected socket: sendmmsg() of several messages to the peer, one
 * of them a UDP GSO super-datagram (UDP_SEGMENT). Then collect every echo.
 */
static struct step quic_client(int cmd, void *arg)
{
	const struct quic_arg *a = arg;
	const int want = RFT_PAYLOAD_LEN * (1 + QUIC_SEGMENTS);
	char one[RFT_PAYLOAD_LEN], gso[RFT_PAYLOAD_LEN * QUIC_SEGMENTS];
	char cbuf[CMSG_SPACE(sizeof(__u16))];
	struct sockaddr_storage ss;
	struct mmsghdr m[2];
	struct iovec iov[2];
	struct cmsghdr *cm;
	struct step s = {0, 0, -1};
	socklen_t len;
	int fd, n, got;

	(void)cmd;
	if (rft_sockaddr(&ss, &len, a->family, a->addr, a->port))
		return step_err(EINVAL);
	fd = socket(a->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return step_err(errno);
	memset(one, 'q', sizeof(one));
	memset(gso, 'g', sizeof(gso));
	memset(m, 0, sizeof(m));
	memset(cbuf, 0, sizeof(cbuf));
	iov[0] = (struct iovec){one, sizeof(one)};
	iov[1] = (struct iovec){gso, sizeof(gso)};
	for (n = 0; n < 2; n++) {
		m[n].msg_hdr.msg_name = &ss;
		m[n].msg_hdr.msg_namelen = len;
		m[n].msg_hdr.msg_iov = &iov[n];
		m[n].msg_hdr.msg_iovlen = 1;
	}
	m[1].msg_hdr.msg_control = cbuf;
	m[1].msg_hdr.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&m[1].msg_hdr);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(__u16));
	*(__u16 *)(void *)CMSG_DATA(cm) = RFT_PAYLOAD_LEN;
	n = sendmmsg(fd, m, 2, 0);
	if (n < 0) {
		s.err = errno;
	} else if (n < 2) {
		s.err = EIO; /* the GSO message failed on its own */
	} else {
		got = rft_recv_upto(fd, want, rft_now_ms() + CLIENT_TIMEOUT_MS);
		if (got < 0)
			s.err = -got;
		else
			s.bytes = got;
		if (got >= 0 && got < want)
			s.err = ETIMEDOUT;
	}
	close(fd);
	return s;
}

static const struct quic_arg quic_cases[] = {
    {AF_INET, RFT_PEER_IP4, PORT_QUIC_ALLOWED},
    {AF_INET, RFT_PEER_IP4, PORT_QUIC_OTHER},
    {AF_INET6, RFT_PEER_IP6, PORT_QUIC_ALLOWED},
    {AF_INET6, RFT_PEER_IP6, PORT_QUIC_OTHER},
};

/* One sendmmsg (a plain and a GSO message) in `phase`: checks the verdict and the datagrams. */
static void check_quic(const struct rft_server *srv, const struct quic_arg *c, bool deny,
		       const char *name)
{
	struct rft_port_stats b = rft_server_stats(srv, c->port, c->family), a;
	struct step s = run_in_dev(quic_client, (void *)c);
	enum rft_outcome o = outcome_of(s);

	if (deny) {
		cr_expect_eq(o, RFT_EPERM,
			     "%s: sendmmsg+GSO %s port %u: expected EPERM, got %s (%s)", name,
			     fam_name(c->family), c->port, rft_outcome_name(o), strerror(s.err));
		rft_msleep(RFT_DENY_WAIT_MS);
		a = rft_server_stats(srv, c->port, c->family);
		cr_expect_eq(a.dgrams, b.dgrams,
			     "%s: sendmmsg+GSO %s port %u was denied, but the peer received %u "
			     "datagrams",
			     name, fam_name(c->family), c->port, a.dgrams - b.dgrams);
		return;
	}
	cr_expect_eq(o, RFT_OK, "%s: sendmmsg+GSO %s port %u: expected OK, got %s (%s, echoed %d)",
		     name, fam_name(c->family), c->port, rft_outcome_name(o), strerror(s.err),
		     s.bytes);
	a = rft_server_stats(srv, c->port, c->family);
	cr_expect_eq(a.dgrams - b.dgrams, 1 + QUIC_SEGMENTS,
		     "%s: sendmmsg+GSO %s port %u: the peer counted %u datagrams", name,
		     fam_name(c->family), c->port, a.dgrams - b.dgrams);
}

RFT_TABLE_PARAMS(protocols, quic_style_udp_gso_sendmmsg_v4_v6, quic_cases)
ParameterizedTest(const size_t *row, protocols, quic_style_udp_gso_sendmmsg_v4_v6)
{
	static const unsigned short ports[] = {PORT_QUIC_ALLOWED, PORT_QUIC_OTHER};
	const struct quic_arg *c = &quic_cases[*row];
	struct rft_server srv;
	int phase;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	allow_out("udp", "9401");
	for (phase = 0; phase < PHASES; phase++) {
		const char *name = enter_phase(phase);

		check_quic(&srv, c, phase == 1 && c->port == PORT_QUIC_OTHER, name);
	}
}
