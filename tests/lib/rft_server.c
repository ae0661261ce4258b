// SPDX-License-Identifier: GPL-2.0-only
/* Counting echo servers; contracts in rft_server.h. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "rft_child.h"
#include "rft_server.h"

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

/* The server process's state. */
struct srv {
	struct rft_shared *sh;
	enum rft_proto stream;
	struct srv_fd fds[SRV_MAX_FDS];
	int nfds;
	int push_seq; /* last push request handled */
};

static char srv_buf[65536];

/* 0 for AF_INET and ::ffff:a.b.c.d senders, 1 for other AF_INET6 ones. */
static int fam_idx_of(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return 0;
	return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) ? 0 : 1;
}

/* Listen on every port, v4 and v6, stream (and UDP if udp). Returns 0 or an errno. */
static int srv_open(struct srv *s, bool udp, const unsigned short *ports, int nports)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	int p, f, t;

	for (p = 0; p < nports; p++) {
		for (f = 0; f < 2; f++) {
			for (t = 0; t < (udp ? 2 : 1); t++) {
				int fd =
				    rft_listen_ipproto(fams[f], t ? SOCK_DGRAM : SOCK_STREAM,
						       t ? 0 : rft_ipproto(s->stream), ports[p]);

				if (fd < 0)
					return -fd;
				s->fds[s->nfds++] = (struct srv_fd){
				    .fd = fd, .kind = t ? 2 : 0, .port_idx = p, .fam_idx = f};
			}
		}
	}
	return 0;
}

/* Serve a push request of rft_server_push(), if there is a new one. */
static void srv_push(struct srv *s)
{
	struct rft_shared *sh = s->sh;
	int i, ok = 0;

	if (__atomic_load_n(&sh->push_seq, __ATOMIC_ACQUIRE) == s->push_seq)
		return;
	s->push_seq = __atomic_load_n(&sh->push_seq, __ATOMIC_ACQUIRE);
	for (i = 0; i < s->nfds; i++) {
		struct srv_fd *f = &s->fds[i];

		if (f->kind == 1 && send(f->fd, "P", 1, MSG_NOSIGNAL) == 1)
			ok++;
		if (f->kind == 2 && f->last_len &&
		    sendto(f->fd, "P", 1, 0, (struct sockaddr *)&f->last, f->last_len) == 1)
			ok++;
	}
	__atomic_store_n(&sh->pushed, ok, __ATOMIC_RELEASE);
	__atomic_store_n(&sh->push_done, s->push_seq, __ATOMIC_RELEASE);
}

static void srv_accept(struct srv *s, const struct srv_fd *l)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct rft_port_stats *st;
	int c = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC), f;

	if (c < 0)
		return;
	if (s->nfds == SRV_MAX_FDS) {
		close(c);
		return;
	}
	f = fam_idx_of(&ss);
	s->fds[s->nfds++] =
	    (struct srv_fd){.fd = c, .kind = 1, .port_idx = l->port_idx, .fam_idx = f};
	st = &s->sh->st[l->port_idx][f];
	if (s->stream == RFT_MPTCP && rft_mptcp_in_use(c) == 1)
		__atomic_add_fetch(&st->mptcp, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&st->conns, 1, __ATOMIC_RELEASE);
}

/* Count and echo what arrived on a stream connection; close it on EOF or error (fd = -1). */
static void srv_stream_recv(struct srv *s, struct srv_fd *c)
{
	ssize_t r = recv(c->fd, srv_buf, sizeof(srv_buf), 0);

	if (r <= 0) {
		if (r < 0 && errno == EAGAIN)
			return;
		close(c->fd);
		c->fd = -1;
		return;
	}
	__atomic_add_fetch(&s->sh->st[c->port_idx][c->fam_idx].tcp_bytes, (unsigned long long)r,
			   __ATOMIC_RELEASE);
	if (send(c->fd, srv_buf, (size_t)r, MSG_NOSIGNAL) < 0) {
		/* the peer side decides what it sees */
	}
}

/* Count and echo a datagram; remember its sender for srv_push(). */
static void srv_dgram_recv(struct srv *s, struct srv_fd *u)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct rft_port_stats *st;
	ssize_t r = recvfrom(u->fd, srv_buf, sizeof(srv_buf), 0, (struct sockaddr *)&ss, &sl);

	if (r < 0)
		return;
	st = &s->sh->st[u->port_idx][fam_idx_of(&ss)];
	__atomic_add_fetch(&st->dgrams, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&st->udp_bytes, (unsigned long long)r, __ATOMIC_RELEASE);
	u->last = ss;
	u->last_len = sl;
	if (sendto(u->fd, srv_buf, (size_t)r, 0, (struct sockaddr *)&ss, sl) < 0) {
		/* e.g. EPERM from the cgroup sendmsg hook: the client sees it */
	}
}

/* One poll round: push requests, then every socket that is ready; closed connections dropped. */
static void srv_round(struct srv *s)
{
	static struct pollfd pfd[SRV_MAX_FDS];
	int i, n, polled = s->nfds, kept;

	for (i = 0; i < polled; i++)
		pfd[i] = (struct pollfd){.fd = s->fds[i].fd, .events = POLLIN};
	n = poll(pfd, (nfds_t)polled, 20);
	srv_push(s);
	for (i = 0; n > 0 && i < polled; i++) {
		if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		if (s->fds[i].kind == 0)
			srv_accept(s, &s->fds[i]);
		else if (s->fds[i].kind == 1)
			srv_stream_recv(s, &s->fds[i]);
		else
			srv_dgram_recv(s, &s->fds[i]);
	}
	for (i = 0, kept = 0; i < s->nfds; i++)
		if (s->fds[i].fd >= 0)
			s->fds[kept++] = s->fds[i];
	s->nfds = kept;
}

static __attribute__((noreturn)) void server_main(struct rft_shared *sh, enum rft_proto stream,
						  bool udp, const unsigned short *ports, int nports,
						  int ready_fd)
{
	static struct srv s;

	s.sh = sh;
	s.stream = stream;
	rft_ready(ready_fd, srv_open(&s, udp, ports, nports));
	close(ready_fd);
	for (;;)
		srv_round(&s);
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
