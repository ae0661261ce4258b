// SPDX-License-Identifier: GPL-2.0-only
/* Sockets, clients and connections of the kernel tests; contracts in rft_net.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "rft_child.h"
#include "rft_net.h"

#ifndef TCP_IS_MPTCP
#define TCP_IS_MPTCP 43 /* include/uapi/linux/tcp.h, Linux 5.16 */
#endif

int rft_ipproto(enum rft_proto proto)
{
	return proto == RFT_MPTCP ? IPPROTO_MPTCP : proto == RFT_SCTP ? IPPROTO_SCTP : 0;
}

bool rft_is_stream(enum rft_proto proto)
{
	return proto == RFT_TCP || proto == RFT_MPTCP || proto == RFT_SCTP || proto == RFT_SMC;
}

int rft_mptcp_in_use(int fd)
{
	int v = 0;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, SOL_TCP, TCP_IS_MPTCP, &v, &l))
		return -1; /* Linux < 5.16 */
	return v ? 1 : 0;
}

int rft_listen_ipproto(int family, int type, int ipproto, unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd;

	if (rft_sockaddr(&ss, &len, family, family == AF_INET6 ? "::" : "0.0.0.0", port))
		return -EINVAL;
	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, ipproto);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || (type == SOCK_STREAM && listen(fd, 64))) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int rft_listen(int family, int type, unsigned short port)
{
	return rft_listen_ipproto(family, type, 0, port);
}

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

	if (proto == RFT_SMC) /* SMCPROTO_SMC (0) or SMCPROTO_SMC6 (1) */
		fd = socket(AF_SMC, SOCK_STREAM | SOCK_NONBLOCK, family == AF_INET6);
	else
		fd = socket(family,
			    (rft_is_stream(proto) ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK,
			    rft_ipproto(proto));
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
