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
#include "dns_parse.bpf.h"
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
 * Answers are parsed by the kernel side's parser (bpf/dns_parse.bpf.h, shared with the programs
 * and the unit tests), so ringfence's own lookups and the answers the programs learn from obey
 * the same rules and limits. It works on a message copy in its work area.
 */
_Static_assert(RF_DNS_MAX_ADDRS == RF_DNS_ADDRS_MAX, "rf_dns.h follows dns_parse.bpf.h");

int rf_dns_name_key(const char *name, struct rf_host_key *k)
{
	__u8 wire[RF_DNS_NAME_WIRE];
	int len = rf_dns_name_wire(name, wire, sizeof(wire));

	if (len < 0)
		return len;
	memset(k, 0, sizeof(*k));
	memcpy(k->name + RF_HOST_NAME_LEN - len, wire, (size_t)len);
	return 0;
}

/*
 * Header and question of s->msg against the query (s->chain[0], s->qtype), whatever the RCODE
 * and answer count: an answer (QR), opcode 0, not truncated, one question equal to the query's.
 */
static bool answers_query(struct rf_dns_scratch *s)
{
	__u32 flags = rf_dns_u16(s, 2);
	int end;

	if (!(flags & RF_DNS_QR) || (flags & (RF_DNS_OPCODE | RF_DNS_TC)) || rf_dns_u16(s, 4) != 1)
		return false;
	end = rf_dns_read_name(s, 12);
	return end >= 0 && (__u32)end + 4 <= s->len && rf_host_key_eq(&s->name, &s->chain[0]) &&
	       rf_dns_u16(s, (__u32)end) == s->qtype &&
	       rf_dns_u16(s, (__u32)end + 2) == RF_DNS_CLASS_IN;
}

/* The parse proper; s is the work area, zeroed, with the message in it. */
static int parse_in(struct rf_dns_scratch *s, struct rf_dns_addr *out, size_t max, size_t *n)
{
	__u32 rcode = rf_dns_u16(s, 2) & RF_DNS_RCODE;
	int got, i;

	if (rcode || rf_dns_u16(s, 6) == 0) {
		/* NXDOMAIN, or no record of the type: a final answer with no address. Another
		 * RCODE (SERVFAIL, REFUSED): this server failed, ask the next one. */
		if (!answers_query(s))
			return -EBADMSG;
		return !rcode || rcode == DNS_NXDOMAIN ? 0 : -ENODATA;
	}
	got = rf_dns_answer(s);
	if (got < 0)
		return -EBADMSG;
	for (i = 0; i < got && *n < max; i++, (*n)++) {
		memcpy(out[*n].addr, s->addr[i], 16);
		out[*n].ttl = s->ttl[i] > 0x7fffffff ? 0 : s->ttl[i]; /* RFC 2181 8 */
	}
	return 0;
}

int rf_dns_answer_parse(const __u8 *pkt, size_t len, __u16 txid, const char *name, __u16 qtype,
			struct rf_dns_addr *out, size_t max, size_t *n)
{
	struct rf_dns_scratch *s;
	int ret;

	*n = 0;
	if (qtype != RF_DNS_TYPE_A && qtype != RF_DNS_TYPE_AAAA)
		return -EINVAL;
	if (len < RF_DNS_HDR_LEN || len > RF_DNS_MSG_MAX || get16(pkt) != txid)
		return -EBADMSG;
	s = calloc(1, sizeof(*s)); /* a few KiB: the programs keep it per CPU */
	if (!s)
		return -ENOMEM;
	ret = rf_dns_name_key(name, &s->chain[0]);
	if (!ret) {
		memcpy(s->msg, pkt, len);
		s->len = (__u32)len;
		s->qtype = qtype;
		ret = parse_in(s, out, max, n);
	}
	free(s);
	return ret;
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
