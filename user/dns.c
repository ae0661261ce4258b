// SPDX-License-Identifier: GPL-2.0-only
/* A small UDP DNS client (A and AAAA) for host rules: query encoding, answer parsing, lookups. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include "rf_dns.h"
#include "rf_util.h"

#define DNS_FLAG_QR   0x8000
#define DNS_FLAG_TC   0x0200
#define DNS_FLAG_RD   0x0100
#define DNS_OPCODE(f) (((f) >> 11) & 0xf)
#define DNS_RCODE(f)  ((f)&0xf)
#define DNS_NXDOMAIN  3
#define DNS_MAX_HOPS  64 /* compression pointers followed in one name */

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = (__u8)(v >> 8);
	p[1] = (__u8)v;
}

int rf_dns_name_wire(const char *name, __u8 *wire, size_t len)
{
	size_t n = strlen(name), w = 0, i = 0;

	if (n && name[n - 1] == '.')
		n--;
	if (n == 0 || n + 2 > len || n + 2 > RF_DNS_NAME_WIRE)
		return -EINVAL;
	while (i < n) {
		size_t lab = 0;

		while (i + lab < n && name[i + lab] != '.')
			lab++;
		if (lab == 0 || lab > 63)
			return -EINVAL;
		wire[w++] = (__u8)lab;
		for (; lab; lab--)
			wire[w++] = (__u8)tolower((unsigned char)name[i++]);
		i++; /* the dot */
	}
	wire[w++] = 0;
	return (int)w;
}

int rf_dns_query_encode(const char *name, __u16 qtype, __u16 txid, __u8 *buf, size_t len)
{
	int w;

	if (len < RF_DNS_HDR_LEN + 4)
		return -EINVAL;
	memset(buf, 0, RF_DNS_HDR_LEN);
	put16(buf, txid);
	put16(buf + 2, DNS_FLAG_RD);
	put16(buf + 4, 1); /* one question, no answer, authority or additional records */
	w = rf_dns_name_wire(name, buf + RF_DNS_HDR_LEN, len - RF_DNS_HDR_LEN - 4);
	if (w < 0)
		return w;
	put16(buf + RF_DNS_HDR_LEN + w, qtype);
	put16(buf + RF_DNS_HDR_LEN + w + 2, RF_DNS_CLASS_IN);
	return RF_DNS_HDR_LEN + w + 4;
}

/*
 * The name at off into wire (uncompressed, lowercased; *wlen its length): returns the offset
 * just past the name where it stands, or -EBADMSG. A compression pointer must point before
 * itself and after the header, so every hop goes backwards and loops cannot be built.
 */
static int read_name(const __u8 *pkt, size_t len, size_t off, __u8 *wire, size_t *wlen)
{
	size_t o = off, w = 0, end = 0;
	int hops = 0;

	for (;;) {
		__u8 c;

		if (o >= len)
			return -EBADMSG;
		c = pkt[o];
		if ((c & 0xc0) == 0xc0) {
			size_t ptr;

			if (o + 1 >= len || ++hops > DNS_MAX_HOPS)
				return -EBADMSG;
			ptr = (size_t)(c & 0x3f) << 8 | pkt[o + 1];
			if (ptr >= o || ptr < RF_DNS_HDR_LEN)
				return -EBADMSG;
			if (!end)
				end = o + 2;
			o = ptr;
			continue;
		}
		if (c & 0xc0) /* the 0x40/0x80 label types are not used in answers */
			return -EBADMSG;
		if (o + 1 + c > len || w + 1 + c + 1 > RF_DNS_NAME_WIRE)
			return -EBADMSG;
		wire[w++] = c;
		if (c == 0)
			break;
		for (size_t i = 0; i < c; i++)
			wire[w++] = (__u8)tolower(pkt[o + 1 + i]);
		o += 1 + (size_t)c;
	}
	*wlen = w;
	return (int)(end ? end : o + 1);
}

/* One record of the answer section, located in the packet. */
struct rr {
	size_t owner; /* offset of the owner name */
	size_t rdata; /* offset of the data */
	__u16 type, class, rdlen;
	__u32 ttl;
};

struct chain {
	__u8 name[RF_DNS_MAX_CHAIN + 1][RF_DNS_NAME_WIRE];
	size_t len[RF_DNS_MAX_CHAIN + 1];
	size_t n;
};

static bool in_chain(const struct chain *c, const __u8 *wire, size_t wlen)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->len[i] == wlen && !memcmp(c->name[i], wire, wlen))
			return true;
	return false;
}

/* The header and question of pkt against the query: 0, -ENODATA (the server failed: ask
 * another), -EBADMSG (not the answer to this query); *off is where the answers start. */
static int check_question(const __u8 *pkt, size_t len, __u16 txid, const __u8 *qwire, size_t qlen,
			  __u16 qtype, size_t *off, int *rcode)
{
	__u8 wire[RF_DNS_NAME_WIRE];
	size_t wlen;
	__u16 flags;
	int o;

	if (len < RF_DNS_HDR_LEN || get16(pkt) != txid)
		return -EBADMSG;
	flags = get16(pkt + 2);
	if (!(flags & DNS_FLAG_QR) || DNS_OPCODE(flags) || (flags & DNS_FLAG_TC) ||
	    get16(pkt + 4) != 1)
		return -EBADMSG;
	o = read_name(pkt, len, RF_DNS_HDR_LEN, wire, &wlen);
	if (o < 0 || (size_t)o + 4 > len || wlen != qlen || memcmp(wire, qwire, qlen) ||
	    get16(pkt + o) != qtype || get16(pkt + o + 2) != RF_DNS_CLASS_IN)
		return -EBADMSG;
	*off = (size_t)o + 4;
	*rcode = DNS_RCODE(flags);
	return *rcode && *rcode != DNS_NXDOMAIN ? -ENODATA : 0;
}

/* Locate the answer section's records; -EBADMSG unless every one lies inside pkt. */
static int read_rrs(const __u8 *pkt, size_t len, size_t off, struct rr *rrs, size_t nrr)
{
	__u8 wire[RF_DNS_NAME_WIRE];
	size_t wlen;

	for (size_t i = 0; i < nrr; i++) {
		int o = read_name(pkt, len, off, wire, &wlen);

		if (o < 0 || (size_t)o + 10 > len)
			return -EBADMSG;
		rrs[i].owner = off;
		rrs[i].type = get16(pkt + o);
		rrs[i].class = get16(pkt + o + 2);
		rrs[i].ttl = (__u32)get16(pkt + o + 4) << 16 | get16(pkt + o + 6);
		rrs[i].rdlen = get16(pkt + o + 8);
		rrs[i].rdata = (size_t)o + 10;
		if (rrs[i].rdata + rrs[i].rdlen > len)
			return -EBADMSG;
		off = rrs[i].rdata + rrs[i].rdlen;
	}
	return 0;
}

/* Add to c every CNAME target reachable from its names (bounded by RF_DNS_MAX_CHAIN). */
static int follow_cnames(const __u8 *pkt, size_t len, const struct rr *rrs, size_t nrr,
			 struct chain *c)
{
	__u8 wire[RF_DNS_NAME_WIRE];
	size_t wlen, i;
	bool grew = true;

	while (grew && c->n <= RF_DNS_MAX_CHAIN) {
		grew = false;
		for (i = 0; i < nrr && c->n <= RF_DNS_MAX_CHAIN; i++) {
			if (rrs[i].type != RF_DNS_TYPE_CNAME || rrs[i].class != RF_DNS_CLASS_IN)
				continue;
			if (read_name(pkt, len, rrs[i].owner, wire, &wlen) < 0)
				return -EBADMSG;
			if (!in_chain(c, wire, wlen))
				continue;
			/* the target must fill the record's data exactly */
			if (read_name(pkt, rrs[i].rdata + rrs[i].rdlen, rrs[i].rdata, wire,
				      &wlen) != (int)(rrs[i].rdata + rrs[i].rdlen))
				return -EBADMSG;
			if (in_chain(c, wire, wlen))
				continue;
			memcpy(c->name[c->n], wire, wlen);
			c->len[c->n++] = wlen;
			grew = true;
		}
	}
	return 0;
}

int rf_dns_answer_parse(const __u8 *pkt, size_t len, __u16 txid, const char *name, __u16 qtype,
			struct rf_dns_addr *out, size_t max, size_t *n)
{
	static const __u8 mapped[12] = {[10] = 0xff, [11] = 0xff};
	size_t off, nrr, i, wlen, alen = qtype == RF_DNS_TYPE_A ? 4 : 16;
	__u8 wire[RF_DNS_NAME_WIRE];
	struct rr rrs[RF_DNS_MAX_RRS];
	struct chain c;
	int ret, rcode, ql;

	*n = 0;
	ql = rf_dns_name_wire(name, c.name[0], sizeof(c.name[0]));
	if (ql < 0 || (qtype != RF_DNS_TYPE_A && qtype != RF_DNS_TYPE_AAAA))
		return -EINVAL;
	c.len[0] = (size_t)ql;
	c.n = 1;
	ret = check_question(pkt, len, txid, c.name[0], c.len[0], qtype, &off, &rcode);
	if (ret || rcode) /* NXDOMAIN: an answer with no address */
		return ret;
	nrr = get16(pkt + 6);
	if (nrr > RF_DNS_MAX_RRS)
		return -EBADMSG;
	if (read_rrs(pkt, len, off, rrs, nrr) || follow_cnames(pkt, len, rrs, nrr, &c))
		return -EBADMSG;
	for (i = 0; i < nrr; i++) {
		if (rrs[i].type != qtype || rrs[i].class != RF_DNS_CLASS_IN)
			continue;
		if (read_name(pkt, len, rrs[i].owner, wire, &wlen) < 0 || !in_chain(&c, wire, wlen))
			continue;
		if (rrs[i].rdlen != alen) {
			*n = 0;
			return -EBADMSG;
		}
		if (*n == max)
			continue;
		memset(&out[*n], 0, sizeof(out[*n]));
		if (alen == 4)
			memcpy(out[*n].addr, mapped, sizeof(mapped));
		memcpy(out[*n].addr + 16 - alen, pkt + rrs[i].rdata, alen);
		out[*n].ttl = rrs[i].ttl > 0x7fffffff ? 0 : rrs[i].ttl; /* RFC 2181 8 */
		(*n)++;
	}
	return 0;
}

/* One (name, type) question in flight. */
struct query {
	size_t i;
	__u16 type, txid;
	bool done;
};

static int random_txid(__u16 *id)
{
	return getrandom(id, sizeof(*id), 0) == sizeof(*id) ? 0 : -EIO;
}

/* A UDP socket connected to server port 53 (the kernel then drops datagrams from elsewhere). */
static int server_socket(const struct rf_dns_server *s)
{
	static const __u8 mapped[12] = {[10] = 0xff, [11] = 0xff};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(53)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(53)};
	bool v4 = !memcmp(s->addr, mapped, sizeof(mapped));
	int fd = socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int ret;

	if (fd < 0)
		return -errno;
	memcpy(&a4.sin_addr, s->addr + 12, 4);
	memcpy(&a6.sin6_addr, s->addr, 16);
	ret = v4 ? connect(fd, (struct sockaddr *)&a4, sizeof(a4))
		 : connect(fd, (struct sockaddr *)&a6, sizeof(a6));
	if (ret) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Send every query not answered yet, each with a fresh random id. The number sent, or -errno. */
static int send_pending(int fd, struct query *q, size_t nq, const char *const *names)
{
	__u8 buf[RF_DNS_UDP_MAX];
	int sent = 0, err = 0, len;

	for (size_t k = 0; k < nq; k++) {
		if (q[k].done)
			continue;
		if (random_txid(&q[k].txid))
			return -EIO;
		len = rf_dns_query_encode(names[q[k].i], q[k].type, q[k].txid, buf, sizeof(buf));
		if (len < 0) {
			q[k].done = true; /* not a name a query can carry (a wildcard) */
			continue;
		}
		if (send(fd, buf, (size_t)len, 0) == len)
			sent++;
		else
			err = -errno;
	}
	return sent ? sent : err;
}

/* Match one datagram to its query and report its addresses: 1 when it answered one, else 0. */
static int take_answer(const __u8 *buf, size_t len, struct query *q, size_t nq,
		       const char *const *names, rf_dns_found_fn fn, void *arg)
{
	struct rf_dns_addr addrs[RF_DNS_MAX_ADDRS];
	size_t k, n, j;

	for (k = 0; k < nq; k++) {
		if (q[k].done || len < 2 || q[k].txid != get16(buf))
			continue;
		if (rf_dns_answer_parse(buf, len, q[k].txid, names[q[k].i], q[k].type, addrs,
					RF_DNS_MAX_ADDRS, &n))
			continue; /* forged, mismatched or failed: another may still answer */
		q[k].done = true;
		for (j = 0; j < n; j++)
			fn(q[k].i, q[k].type, &addrs[j], arg);
		return 1;
	}
	return 0;
}

/* Ask one server; answers until timeout_ms. The number of queries it answered, or -errno. */
static int ask_server(const struct rf_dns_server *s, struct query *q, size_t nq,
		      const char *const *names, int timeout_ms, rf_dns_found_fn fn, void *arg)
{
	__u64 deadline = rf_now_mono_ms() + (__u64)timeout_ms;
	__u8 buf[RF_DNS_UDP_MAX + 1];
	int fd = server_socket(s), answered = 0, ret;
	size_t left;

	if (fd < 0)
		return fd;
	ret = send_pending(fd, q, nq, names);
	left = ret > 0 ? (size_t)ret : 0;
	while (ret > 0 && left) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		__u64 now = rf_now_mono_ms();
		ssize_t len;

		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			break;
		len = recv(fd, buf, sizeof(buf), 0);
		if (len < 0 || len > RF_DNS_UDP_MAX) /* larger than parsed: ignored whole */
			continue;
		if (take_answer(buf, (size_t)len, q, nq, names, fn, arg)) {
			answered++;
			left--;
		}
	}
	close(fd);
	return ret < 0 ? ret : answered;
}

int rf_dns_resolve(const struct rf_dns_server *servers, size_t nservers, const char *const *names,
		   size_t n, int timeout_ms, rf_dns_found_fn fn, void *arg)
{
	struct query *q = calloc(n ? n * 2 : 1, sizeof(*q));
	int answered = 0, ret = -ENOENT;
	bool any_sent = false;

	if (!q)
		return -ENOMEM;
	for (size_t k = 0; k < n * 2; k++) {
		q[k].i = k / 2;
		q[k].type = k % 2 ? RF_DNS_TYPE_AAAA : RF_DNS_TYPE_A;
	}
	for (size_t s = 0; s < nservers && answered < (int)(n * 2); s++) {
		ret = ask_server(&servers[s], q, n * 2, names, timeout_ms, fn, arg);
		if (ret >= 0)
			any_sent = true;
		if (ret > 0)
			answered += ret;
	}
	free(q);
	return any_sent || !n ? answered : ret;
}
