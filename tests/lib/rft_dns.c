// SPDX-License-Identifier: GPL-2.0-only
/* The test DNS responder; contract in rft_dns.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "rft_child.h"
#include "rft_dns.h"
#include "rft_net.h"

struct rft_dns_shared {
	unsigned int seq; /* odd while the test writes the table */
	int n;
	struct rft_dns_record rec[RFT_DNS_MAX_RECORDS];
	char qname[RFT_DNS_MAX_RECORDS * 2][128]; /* names queried, and how often */
	unsigned int qcount[RFT_DNS_MAX_RECORDS * 2];
};

/* A consistent copy of the table. */
static int table_copy(struct rft_dns_shared *sh, struct rft_dns_record *out)
{
	unsigned int s;
	int n;

	do {
		while ((s = __atomic_load_n(&sh->seq, __ATOMIC_ACQUIRE)) & 1)
			;
		n = sh->n;
		memcpy(out, sh->rec, sizeof(sh->rec));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while (__atomic_load_n(&sh->seq, __ATOMIC_RELAXED) != s);
	return n;
}

static void count_query(struct rft_dns_shared *sh, const char *name)
{
	int i;

	for (i = 0; i < RFT_DNS_MAX_RECORDS * 2; i++) {
		if (!sh->qname[i][0])
			snprintf(sh->qname[i], sizeof(sh->qname[i]), "%s", name);
		if (!strcasecmp(sh->qname[i], name)) {
			__atomic_add_fetch(&sh->qcount[i], 1, __ATOMIC_RELEASE);
			return;
		}
	}
}

/* The question name at off (no compression in queries) as text; its end offset or -1. */
static int qname_text(const unsigned char *p, int len, int off, char *out, size_t outlen)
{
	size_t o = 0;

	while (off < len && p[off]) {
		int l = p[off];

		if (l > 63 || off + 1 + l > len || o + (size_t)l + 2 > outlen)
			return -1;
		if (o)
			out[o++] = '.';
		memcpy(out + o, p + off + 1, (size_t)l);
		o += (size_t)l;
		off += 1 + l;
	}
	out[o] = '\0';
	return off < len ? off + 1 : -1;
}

static int put_name(unsigned char *p, int o, const char *name)
{
	while (*name) {
		size_t l = strcspn(name, ".");

		p[o++] = (unsigned char)l;
		memcpy(p + o, name, l);
		o += (int)l;
		name += l + (name[l] == '.');
	}
	p[o++] = 0;
	return o;
}

/* Append record r (owner written at owner_off if >= 0, else in full): the new length. */
static int put_rr(unsigned char *p, int o, int owner_off, const struct rft_dns_record *r)
{
	unsigned char a[16];
	int rdlen_at;

	if (owner_off >= 0) {
		p[o++] = (unsigned char)(0xc0 | owner_off >> 8);
		p[o++] = (unsigned char)owner_off;
	} else {
		o = put_name(p, o, r->name);
	}
	p[o++] = 0;
	p[o++] = (unsigned char)r->type;
	p[o++] = 0;
	p[o++] = 1;
	p[o++] = (unsigned char)(r->ttl >> 24);
	p[o++] = (unsigned char)(r->ttl >> 16);
	p[o++] = (unsigned char)(r->ttl >> 8);
	p[o++] = (unsigned char)r->ttl;
	rdlen_at = o;
	o += 2;
	if (r->type == 5)
		o = put_name(p, o, r->data);
	else if (inet_pton(r->type == 1 ? AF_INET : AF_INET6, r->data, a) == 1)
		memcpy(p + o, a, r->type == 1 ? 4 : 16), o += r->type == 1 ? 4 : 16;
	p[rdlen_at] = (unsigned char)((o - rdlen_at - 2) >> 8);
	p[rdlen_at + 1] = (unsigned char)(o - rdlen_at - 2);
	return o;
}

/* The answer to query q (qlen bytes) in out: its length, or 0 to send nothing. */
static int answer(struct rft_dns_shared *sh, const unsigned char *q, int qlen, unsigned char *out)
{
	struct rft_dns_record rec[RFT_DNS_MAX_RECORDS];
	char name[128];
	int n = table_copy(sh, rec), end, o, an = 0, hops, i, qtype, known = 0;

	if (qlen < 12 || (q[2] & 0x80) || q[5] != 1 ||
	    (end = qname_text(q, qlen, 12, name, sizeof(name))) < 0 || end + 4 > qlen)
		return 0;
	count_query(sh, name);
	qtype = q[end] << 8 | q[end + 1];
	memcpy(out, q, (size_t)end + 4);
	out[2] = 0x81 | (q[2] & 0x01); /* QR, RD copied */
	out[3] = 0x80;		       /* RA, NOERROR */
	memset(out + 6, 0, 6);
	o = end + 4;
	for (hops = 0; hops < 8; hops++) { /* the CNAME chain, then the addresses */
		int cname = -1;

		for (i = 0; i < n; i++) {
			if (strcasecmp(rec[i].name, name))
				continue;
			known = 1;
			if (rec[i].type == 5)
				cname = i;
			else if (rec[i].type == qtype && o < 400 && ++an)
				o = put_rr(out, o, hops ? -1 : 12, &rec[i]);
		}
		if (cname < 0)
			break;
		o = put_rr(out, o, hops ? -1 : 12, &rec[cname]);
		an++;
		snprintf(name, sizeof(name), "%s", rec[cname].data);
	}
	if (!known)
		out[3] |= 3; /* NXDOMAIN: no record of that name at all */
	out[7] = (unsigned char)an;
	return o;
}

static void serve(struct rft_dns_shared *sh, int ctl)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	struct pollfd pfd[2];
	unsigned char q[512], out[1024];
	int i;

	for (i = 0; i < 2; i++) {
		pfd[i].fd = rft_listen(fams[i], SOCK_DGRAM, 53);
		pfd[i].events = POLLIN;
		if (pfd[i].fd < 0) {
			rft_ready(ctl, -pfd[i].fd);
			_exit(1);
		}
	}
	rft_ready(ctl, 0);
	for (;;) {
		if (poll(pfd, 2, -1) <= 0)
			continue;
		for (i = 0; i < 2; i++) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t len;
			int alen;

			if (!(pfd[i].revents & POLLIN))
				continue;
			len = recvfrom(pfd[i].fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
			if (len <= 0)
				continue;
			alen = answer(sh, q, (int)len, out);
			if (alen)
				sendto(pfd[i].fd, out, (size_t)alen, 0, (struct sockaddr *)&from,
				       fl);
		}
	}
}

int rft_dns_start(struct rft_dns *d, const char *netns, const struct rft_dns_record *recs, int n)
{
	int ctl, ret;
	pid_t pid;

	memset(d, 0, sizeof(*d));
	d->sh =
	    mmap(NULL, sizeof(*d->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (d->sh == MAP_FAILED) {
		d->sh = NULL;
		return -errno;
	}
	memset(d->sh, 0, sizeof(*d->sh));
	rft_dns_set(d, recs, n);
	pid = rft_fork_in(netns, NULL, &ctl);
	if (pid == 0)
		serve(d->sh, ctl);
	if (pid < 0) {
		rft_dns_stop(d);
		return (int)pid;
	}
	d->pid = pid;
	ret = rft_ready_wait(ctl);
	close(ctl);
	if (ret)
		rft_dns_stop(d);
	return ret;
}

void rft_dns_set(struct rft_dns *d, const struct rft_dns_record *recs, int n)
{
	if (n > RFT_DNS_MAX_RECORDS)
		n = RFT_DNS_MAX_RECORDS;
	__atomic_add_fetch(&d->sh->seq, 1, __ATOMIC_ACQ_REL);
	memcpy(d->sh->rec, recs, (size_t)n * sizeof(*recs));
	d->sh->n = n;
	__atomic_add_fetch(&d->sh->seq, 1, __ATOMIC_ACQ_REL);
}

unsigned int rft_dns_queries(const struct rft_dns *d, const char *name)
{
	int i;

	for (i = 0; i < RFT_DNS_MAX_RECORDS * 2; i++)
		if (!strcasecmp(d->sh->qname[i], name))
			return __atomic_load_n(&d->sh->qcount[i], __ATOMIC_ACQUIRE);
	return 0;
}

void rft_dns_stop(struct rft_dns *d)
{
	if (d->pid > 0)
		rft_kill_child(d->pid);
	if (d->sh)
		munmap(d->sh, sizeof(*d->sh));
	memset(d, 0, sizeof(*d));
}
