// SPDX-License-Identifier: GPL-2.0-only
/* DNS responder, client, stub and host-rule maps of the kernel tests; contracts in rft_dns.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ringfence.h"
#include "rft_child.h"
#include "rft_resolver.h"
#include "rft_env.h"

#define DNS_MSG 1232

/* ---- messages ---- */

struct msg {
	unsigned char b[DNS_MSG];
	size_t n;
	int bad;
};

static void put8(struct msg *m, unsigned int v)
{
	if (m->n >= sizeof(m->b)) {
		m->bad = 1;
		return;
	}
	m->b[m->n++] = (unsigned char)v;
}

static void put16(struct msg *m, unsigned int v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

static void put32(struct msg *m, unsigned int v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

static void put_name(struct msg *m, const char *name)
{
	const char *p = name;

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		put8(m, (unsigned int)l);
		while (l--)
			put8(m, (unsigned char)*p++);
		if (*p == '.')
			p++;
	}
	put8(m, 0);
}

/* The name at *off (compression followed, bounded) as dotted text; *off moves past it. */
static int get_name(const unsigned char *b, size_t n, size_t *off, char *out, size_t outlen)
{
	size_t pos = *off, o = 0;
	int jumped = 0, hops = 0;

	for (;;) {
		unsigned int c;

		if (pos >= n)
			return -1;
		c = b[pos];
		if (c == 0) {
			if (!jumped)
				*off = pos + 1;
			break;
		}
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= n || ++hops > 16)
				return -1;
			if (!jumped)
				*off = pos + 2;
			jumped = 1;
			pos = (c & 0x3f) << 8 | b[pos + 1];
			continue;
		}
		if (pos + 1 + c > n || o + c + 2 > outlen)
			return -1;
		if (o)
			out[o++] = '.';
		memcpy(out + o, b + pos + 1, c);
		o += c;
		pos += 1 + c;
	}
	out[o] = 0;
	return 0;
}

static int put_rdata(struct msg *m, unsigned short type, const char *data)
{
	unsigned char a[16];

	if (type == RFT_DNS_CNAME) {
		struct msg t = {};

		put_name(&t, data);
		put16(m, (unsigned int)t.n);
		put_name(m, data);
		return 0;
	}
	if (inet_pton(type == RFT_DNS_A ? AF_INET : AF_INET6, data, a) != 1)
		return -1;
	put16(m, type == RFT_DNS_A ? 4 : 16);
	memcpy(m->b + m->n, a, type == RFT_DNS_A ? 4 : 16);
	m->n += type == RFT_DNS_A ? 4 : 16;
	return 0;
}

static void put_rr(struct msg *m, const char *owner, unsigned short type, const char *data,
		   unsigned int ttl)
{
	put_name(m, owner);
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	if (put_rdata(m, type, data))
		m->bad = 1;
}

/* The answer of ctl to query q (of qlen bytes) into m. -1 if q is not a query. */
static int answer(const struct rft_resolver_ctl *c, const unsigned char *q, size_t qlen,
		  struct msg *m)
{
	char name[256], cur[256];
	size_t off = 12;
	unsigned int qtype, an = 0, txid;
	int i, hops;

	if (qlen < 12 || get_name(q, qlen, &off, name, sizeof(name)) || off + 4 > qlen)
		return -1;
	qtype = (unsigned int)(q[off] << 8 | q[off + 1]);
	txid = (unsigned int)(q[0] << 8 | q[1]);
	m->n = 0;
	m->bad = 0;
	put16(m, (txid + (unsigned int)c->txid_delta) & 0xffff);
	put16(m, 0x8180);
	put16(m, 1);
	put16(m, 0); /* ancount, below */
	put16(m, 0);
	put16(m, 0);
	memcpy(m->b + m->n, q + 12, off + 4 - 12);
	m->n += off + 4 - 12;
	snprintf(cur, sizeof(cur), "%s", name);
	for (hops = 0; hops < 8; hops++) {
		for (i = 0; i < c->nrec; i++)
			if (c->rec[i].type == RFT_DNS_CNAME && !strcasecmp(c->rec[i].name, cur))
				break;
		if (i == c->nrec)
			break;
		put_rr(m, cur, RFT_DNS_CNAME, c->rec[i].data, c->rec[i].ttl);
		an++;
		snprintf(cur, sizeof(cur), "%s", c->rec[i].data);
	}
	for (i = 0; i < c->nrec; i++)
		if (c->rec[i].type == qtype && !strcasecmp(c->rec[i].name, cur)) {
			put_rr(m, cur, c->rec[i].type, c->rec[i].data, c->rec[i].ttl);
			an++;
		}
	m->b[6] = (unsigned char)(an >> 8);
	m->b[7] = (unsigned char)an;
	return m->bad ? -1 : 0;
}

/* ---- responder ---- */

static int udp_bound(int family, const char *addr, unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd;

	if (rft_sockaddr(&ss, &len, family, addr, port))
		return -EINVAL;
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* Send m to `to` from fd, from the source address c->from4 when set (IPv4). */
static void send_from(int fd, const struct rft_resolver_ctl *c, const struct msg *m,
		      const struct sockaddr_storage *to, socklen_t tolen)
{
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))] = {0};
	struct iovec iov = {.iov_base = (void *)m->b, .iov_len = m->n};
	struct msghdr h = {
	    .msg_name = (void *)to, .msg_namelen = tolen, .msg_iov = &iov, .msg_iovlen = 1};

	if (c->from4[0] && to->ss_family == AF_INET) {
		struct cmsghdr *cm;
		struct in_pktinfo pi = {0};

		inet_pton(AF_INET, c->from4, &pi.ipi_spec_dst);
		h.msg_control = cbuf;
		h.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&h);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
	sendmsg(fd, &h, 0);
}

static __attribute__((noreturn)) void responder_main(int ctl, struct rft_resolver_ctl *c)
{
	struct pollfd p[2];
	int i;

	p[0].fd = udp_bound(AF_INET, "0.0.0.0", 53);
	p[1].fd = udp_bound(AF_INET6, "::", 53);
	rft_ready(ctl, p[0].fd < 0 ? -p[0].fd : p[1].fd < 0 ? -p[1].fd : 0);
	if (p[0].fd < 0 || p[1].fd < 0)
		_exit(1);
	p[0].events = p[1].events = POLLIN;
	for (;;) {
		if (poll(p, 2, -1) < 0)
			continue;
		for (i = 0; i < 2; i++) {
			unsigned char q[DNS_MSG];
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			struct msg m;
			ssize_t n;

			if (!(p[i].revents & POLLIN))
				continue;
			n = recvfrom(p[i].fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
			if (n <= 0)
				continue;
			__atomic_add_fetch(&c->queries, 1, __ATOMIC_SEQ_CST);
			if (!answer(c, q, (size_t)n, &m))
				send_from(p[i].fd, c, &m, &from, flen);
		}
	}
}

int rft_resolver_start(struct rft_resolver *d, const char *netns)
{
	int ctl, err;
	pid_t pid;

	d->ctl =
	    mmap(NULL, sizeof(*d->ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (d->ctl == MAP_FAILED) {
		d->ctl = NULL;
		return -errno;
	}
	memset(d->ctl, 0, sizeof(*d->ctl));
	pid = rft_fork_in(netns, NULL, &ctl);
	if (pid < 0)
		return (int)pid;
	if (pid == 0)
		responder_main(ctl, d->ctl);
	err = rft_ready_wait(ctl);
	close(ctl);
	d->pid = pid;
	return err;
}

void rft_resolver_stop(struct rft_resolver *d)
{
	rft_kill_child(d->pid);
	if (d->ctl)
		munmap(d->ctl, sizeof(*d->ctl));
	d->pid = 0;
	d->ctl = NULL;
}

void rft_resolver_set(struct rft_resolver *d, const char *name, unsigned short type,
		      const char *data, unsigned int ttl)
{
	struct rft_resolver_ctl *c = d->ctl;
	int i, j = 0;

	for (i = 0; i < c->nrec; i++)
		if (c->rec[i].type != type || strcasecmp(c->rec[i].name, name))
			c->rec[j++] = c->rec[i];
	c->nrec = j;
	if (!data || c->nrec == RFT_DNS_MAX_RECS)
		return;
	snprintf(c->rec[j].name, sizeof(c->rec[j].name), "%s", name);
	snprintf(c->rec[j].data, sizeof(c->rec[j].data), "%s", data);
	c->rec[j].type = type;
	c->rec[j].ttl = ttl;
	c->nrec = j + 1;
}

/* ---- client ---- */

static void query(struct msg *m, unsigned int txid, const char *name, unsigned short type)
{
	m->n = 0;
	m->bad = 0;
	put16(m, txid);
	put16(m, 0x0100);
	put16(m, 1);
	put16(m, 0);
	put16(m, 0);
	put16(m, 0);
	put_name(m, name);
	put16(m, type);
	put16(m, 1);
}

/* The addresses of type in answer a (n bytes): how many, the first into out. */
static int answer_addrs(const unsigned char *a, size_t n, unsigned short type, char *out,
			size_t outlen)
{
	char name[256];
	size_t off = 12;
	unsigned int an, i;
	int found = 0;

	if (n < 12 || get_name(a, n, &off, name, sizeof(name)))
		return 0;
	off += 4;
	an = (unsigned int)(a[6] << 8 | a[7]);
	for (i = 0; i < an; i++) {
		unsigned int t, rdlen;

		if (get_name(a, n, &off, name, sizeof(name)) || off + 10 > n)
			break;
		t = (unsigned int)(a[off] << 8 | a[off + 1]);
		rdlen = (unsigned int)(a[off + 8] << 8 | a[off + 9]);
		off += 10;
		if (off + rdlen > n)
			break;
		if (t == type && !found++)
			inet_ntop(type == RFT_DNS_A ? AF_INET : AF_INET6, a + off, out,
				  (socklen_t)outlen);
		else if (t == type)
			found++;
		off += rdlen;
	}
	return found;
}

static enum rft_outcome outcome_of(int err)
{
	switch (err) {
	case EPERM:
		return RFT_EPERM;
	case ETIMEDOUT:
	case EINPROGRESS:
		return RFT_TIMEOUT;
	case ECONNREFUSED:
		return RFT_REFUSED;
	default:
		return RFT_ERROR;
	}
}

static struct rft_result tcp_echo(int family, const char *addr, unsigned short port, int timeout_ms)
{
	struct rft_result r = {RFT_ERROR, 0, 0};
	char buf[RFT_PAYLOAD_LEN];
	int fd = rft_connect(family, RFT_TCP, addr, port, timeout_ms);

	if (fd < 0) {
		r.err = -fd;
		r.outcome = outcome_of(-fd);
		return r;
	}
	memset(buf, 'h', sizeof(buf));
	if (send(fd, buf, sizeof(buf), MSG_NOSIGNAL) != (ssize_t)sizeof(buf)) {
		r.err = errno;
		r.outcome = outcome_of(errno);
		close(fd);
		return r;
	}
	r.echoed = rft_recv_upto(fd, RFT_PAYLOAD_LEN, rft_now_ms() + timeout_ms);
	r.outcome = r.echoed == RFT_PAYLOAD_LEN ? RFT_OK : RFT_TIMEOUT;
	close(fd);
	return r;
}

static struct rft_lookup lookup_run(int family, const char *resolver, const char *name,
				    unsigned short type, unsigned short port, int timeout_ms)
{
	struct rft_lookup l = {0};
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned int txid =
	    ((unsigned int)getpid() * 2654435761u ^ (unsigned int)time(NULL)) & 0xffff;
	long deadline = rft_now_ms() + timeout_ms;
	struct msg m;
	int fd;

	l.conn.outcome = RFT_ERROR;
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || rft_sockaddr(&ss, &len, family, resolver, 53))
		return l;
	query(&m, txid, name, type);
	if (sendto(fd, m.b, m.n, 0, (struct sockaddr *)&ss, len) != (ssize_t)m.n) {
		l.conn.err = errno;
		return l;
	}
	while (rft_now_ms() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		unsigned char a[DNS_MSG];
		ssize_t n;

		if (poll(&p, 1, (int)(deadline - rft_now_ms())) <= 0)
			break;
		n = recv(fd, a, sizeof(a), 0);
		if (n < 12 || (unsigned int)(a[0] << 8 | a[1]) != txid)
			continue;
		l.answered = 1;
		l.naddr = answer_addrs(a, (size_t)n, type, l.addr, sizeof(l.addr));
		break;
	}
	close(fd);
	if (port && l.naddr)
		l.conn = tcp_echo(type == RFT_DNS_A ? AF_INET : AF_INET6, l.addr, port, timeout_ms);
	return l;
}

struct rft_lookup rft_dns_lookup(const char *netns, const char *cgroup, int family,
				 const char *resolver, const char *name, unsigned short type,
				 unsigned short port, int timeout_ms)
{
	struct rft_lookup l = {0};
	int ctl;
	pid_t pid = rft_fork_in(netns, cgroup, &ctl);

	l.conn.outcome = RFT_ERROR;
	if (pid < 0)
		return l;
	if (pid == 0) {
		l = lookup_run(family, resolver, name, type, port, timeout_ms);
		_exit(write(ctl, &l, sizeof(l)) == sizeof(l) ? 0 : 1);
	}
	if (read(ctl, &l, sizeof(l)) != sizeof(l)) {
		memset(&l, 0, sizeof(l));
		l.conn.outcome = RFT_ERROR;
	}
	close(ctl);
	waitpid(pid, NULL, 0);
	rft_untrack_child(pid);
	return l;
}

int rft_dns_send_answer(const char *netns, int family, const char *dst, unsigned short dport,
			unsigned short txid, const char *name, unsigned short type,
			const char *addr)
{
	struct rft_resolver_ctl c = {0};
	struct sockaddr_storage to;
	socklen_t tolen;
	struct msg q, a;
	int ctl, err;
	pid_t pid;

	snprintf(c.rec[0].name, sizeof(c.rec[0].name), "%s", name);
	snprintf(c.rec[0].data, sizeof(c.rec[0].data), "%s", addr);
	c.rec[0].type = type;
	c.rec[0].ttl = 300;
	c.nrec = 1;
	query(&q, txid, name, type);
	if (answer(&c, q.b, q.n, &a) || rft_sockaddr(&to, &tolen, family, dst, dport))
		return -EINVAL;
	pid = rft_fork_in(netns, NULL, &ctl);
	if (pid < 0)
		return (int)pid;
	if (pid == 0) {
		int fd = udp_bound(family, family == AF_INET ? "0.0.0.0" : "::", 53);

		err = fd < 0 ? -fd
		      : sendto(fd, a.b, a.n, 0, (struct sockaddr *)&to, tolen) == (ssize_t)a.n
			  ? 0
			  : errno;
		rft_ready(ctl, err);
		_exit(0);
	}
	err = rft_ready_wait(ctl);
	close(ctl);
	waitpid(pid, NULL, 0);
	rft_untrack_child(pid);
	return err;
}

/* ---- stub ---- */

static __attribute__((noreturn)) void stub_main(int ctl, const char *listen, const char *upstream)
{
	int family = strchr(listen, ':') ? AF_INET6 : AF_INET;
	int fd = udp_bound(family, listen, 53);
	struct sockaddr_storage up;
	socklen_t uplen;
	int ufamily = strchr(upstream, ':') ? AF_INET6 : AF_INET;

	rft_ready(ctl, fd < 0						  ? -fd
		       : rft_sockaddr(&up, &uplen, ufamily, upstream, 53) ? EINVAL
									  : 0);
	if (fd < 0)
		_exit(1);
	for (;;) {
		unsigned char q[DNS_MSG];
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		struct pollfd p;
		ssize_t n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
		int u;

		if (n <= 0)
			continue;
		u = socket(ufamily, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (u < 0)
			continue;
		if (!connect(u, (struct sockaddr *)&up, uplen) && send(u, q, (size_t)n, 0) == n) {
			p.fd = u;
			p.events = POLLIN;
			if (poll(&p, 1, 2000) == 1) {
				n = recv(u, q, sizeof(q), 0);
				if (n > 0)
					sendto(fd, q, (size_t)n, 0, (struct sockaddr *)&from, flen);
			}
		}
		close(u);
	}
}

pid_t rft_dns_stub_start(const char *netns, const char *cgroup, const char *listen,
			 const char *upstream)
{
	int ctl, err;
	pid_t pid = rft_fork_in(netns, cgroup, &ctl);

	if (pid < 0)
		return pid;
	if (pid == 0)
		stub_main(ctl, listen, upstream);
	err = rft_ready_wait(ctl);
	close(ctl);
	if (err) {
		rft_kill_child(pid);
		return err < 0 ? err : -err;
	}
	return pid;
}

/* ---- maps ---- */

static int map_fd(const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", rft.pin_dir, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

struct rf_host_key rft_host_key(const char *name)
{
	struct rf_host_key k = {0};
	unsigned char wire[RF_HOST_NAME_LEN];
	size_t n = 0;
	const char *p = name;

	while (*p && n < sizeof(wire) - 66) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l > 63)
			l = 63;
		wire[n++] = (unsigned char)l;
		while (l--)
			wire[n++] = (unsigned char)tolower((unsigned char)*p++);
		p = dot ? dot + 1 : p + strlen(p);
	}
	wire[n++] = 0;
	memcpy(k.name + RF_HOST_NAME_LEN - n, wire, n);
	return k;
}

static int addr_key(const char *addr, struct rf_addr_key *k)
{
	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET6, addr, k->addr) == 1)
		return 0;
	k->addr[10] = k->addr[11] = 0xff;
	return inet_pton(AF_INET, addr, k->addr + 12) == 1 ? 0 : -EINVAL;
}

int rft_dns_resolver_add(const char *addr)
{
	struct rf_allow_val v = {0};
	struct rf_addr_key k;
	int fd = map_fd("rf_dns_resolver"), err = 0;

	if (fd < 0)
		return fd;
	if (addr_key(addr, &k) || bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		err = errno ? -errno : -EINVAL;
	close(fd);
	return err;
}

int rft_host_addr_get(const char *addr, struct rf_host_addr_val *v)
{
	struct rf_addr_key k;
	int fd = map_fd("rf_host_addr"), err = 0;

	if (fd < 0)
		return fd;
	if (addr_key(addr, &k))
		err = -EINVAL;
	else if (bpf_map_lookup_elem(fd, &k, v))
		err = -errno;
	close(fd);
	return err;
}

int rft_host_addr_put(const char *addr, const struct rf_host_addr_val *v)
{
	struct rf_addr_key k;
	int fd = map_fd("rf_host_addr"), err = 0;

	if (fd < 0)
		return fd;
	if (addr_key(addr, &k))
		err = -EINVAL;
	else if (bpf_map_update_elem(fd, &k, v, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

int rft_host_addr_expire(const char *addr)
{
	struct rf_host_addr_val v;
	unsigned int i;
	int err = rft_host_addr_get(addr, &v);

	if (err)
		return err;
	for (i = 0; i < RF_HOST_ADDR_ENTRIES; i++)
		if (v.e[i].expires_ns)
			v.e[i].expires_ns = 1;
	return rft_host_addr_put(addr, &v);
}

unsigned long long rft_stat(unsigned int idx)
{
	int n = libbpf_num_possible_cpus(), fd = map_fd("rf_stats_v2"), i;
	unsigned long long sum = 0, *vals;

	if (fd < 0 || n <= 0)
		return 0;
	vals = calloc((size_t)n, sizeof(*vals));
	if (vals && !bpf_map_lookup_elem(fd, &idx, vals))
		for (i = 0; i < n; i++)
			sum += vals[i];
	free(vals);
	close(fd);
	return sum;
}
