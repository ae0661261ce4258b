// SPDX-License-Identifier: GPL-2.0-only
/* The host rules' DNS client: query encoding and answer parsing on crafted packets. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <criterion/criterion.h>
#include "rf_dns.h"
#include "helpers.h"

/* ---- query encoding -------------------------------------------------------------------------- */

Test(dns_client, query_encoding)
{
	static const __u8 want[] = {0xbe, 0xef, 0x01, 0x00, 0,	 1,   0,   0,	0,
				    0,	  0,	0, /* header */
				    4,	  'm',	'g',  'm',  't', 7,   'e', 'x', 'a',
				    'm',  'p',	'l',  'e',  3,	 'c', 'o', 'm', 0, /* name */
				    0,	  28,	0,    1};			   /* AAAA IN */
	__u8 buf[RF_DNS_UDP_MAX];
	int len;

	len = rf_dns_query_encode("MGMT.Example.com.", RF_DNS_TYPE_AAAA, 0xbeef, buf, sizeof(buf));
	cr_assert_eq(len, (int)sizeof(want));
	cr_assert(!memcmp(buf, want, sizeof(want)), "query bytes differ");
	len = rf_dns_query_encode("mgmt.example.com", RF_DNS_TYPE_A, 1, buf, sizeof(buf));
	cr_assert_eq(len, (int)sizeof(want));
	cr_assert(buf[0] == 0 && buf[1] == 1 && buf[len - 3] == RF_DNS_TYPE_A);
}

Test(dns_client, query_encoding_refuses)
{
	char name[300];
	__u8 buf[RF_DNS_UDP_MAX];

	cr_assert_eq(rf_dns_query_encode("", RF_DNS_TYPE_A, 1, buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(rf_dns_query_encode("a..b", RF_DNS_TYPE_A, 1, buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(rf_dns_query_encode(".a", RF_DNS_TYPE_A, 1, buf, sizeof(buf)), -EINVAL);
	memset(name, 'a', 64);
	strcpy(name + 64, ".com");
	cr_assert_eq(rf_dns_query_encode(name, RF_DNS_TYPE_A, 1, buf, sizeof(buf)), -EINVAL);
	/* 253 bytes fit the wire's 255; 254 do not */
	memset(name, 'a', 253);
	for (int i = 63; i < 253; i += 64)
		name[i] = '.';
	name[253] = '\0';
	cr_assert_gt(rf_dns_query_encode(name, RF_DNS_TYPE_A, 1, buf, sizeof(buf)), 0);
	name[253] = 'b';
	name[254] = '\0';
	cr_assert_eq(rf_dns_query_encode(name, RF_DNS_TYPE_A, 1, buf, sizeof(buf)), -EINVAL);
	/* a buffer too small is refused, never overrun */
	cr_assert_eq(rf_dns_query_encode("example.com", RF_DNS_TYPE_A, 1, buf, 20), -EINVAL);
}

/* ---- a packet builder for crafted answers ------------------------------------------------ */

struct pkt {
	__u8 b[2048];
	size_t len;
};

static void put(struct pkt *p, const void *d, size_t n)
{
	cr_assert_leq(p->len + n, sizeof(p->b));
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static void u16(struct pkt *p, __u16 v)
{
	__u8 b[2] = {(__u8)(v >> 8), (__u8)v};

	put(p, b, 2);
}

static void u32(struct pkt *p, __u32 v)
{
	u16(p, (__u16)(v >> 16));
	u16(p, (__u16)v);
}

/* A name in wire form, as given (case kept): "a.b" -> 1 a 1 b 0. */
static void name(struct pkt *p, const char *n)
{
	while (*n) {
		size_t l = strcspn(n, ".");
		__u8 len = (__u8)l;

		put(p, &len, 1);
		put(p, n, l);
		n += l + (n[l] == '.');
	}
	put(p, "", 1);
}

static void ptr(struct pkt *p, size_t off)
{
	u16(p, (__u16)(0xc000 | off));
}

static void header(struct pkt *p, __u16 id, __u16 flags, __u16 an, __u16 ns, __u16 ar)
{
	p->len = 0;
	u16(p, id);
	u16(p, flags);
	u16(p, 1);
	u16(p, an);
	u16(p, ns);
	u16(p, ar);
}

#define QOFF 12 /* where the question name starts: a pointer target */

static void question(struct pkt *p, const char *n, __u16 type)
{
	name(p, n);
	u16(p, type);
	u16(p, RF_DNS_CLASS_IN);
}

/* A record's fixed part after its owner name. */
static void rr_fixed(struct pkt *p, __u16 type, __u32 ttl, __u16 rdlen)
{
	u16(p, type);
	u16(p, RF_DNS_CLASS_IN);
	u32(p, ttl);
	u16(p, rdlen);
}

static void a_rr_ptr(struct pkt *p, size_t owner, const char *ip, __u32 ttl)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, ip, &a), 1);
	ptr(p, owner);
	rr_fixed(p, RF_DNS_TYPE_A, ttl, 4);
	put(p, &a, 4);
}

static void aaaa_rr_ptr(struct pkt *p, size_t owner, const char *ip, __u32 ttl)
{
	struct in6_addr a;

	cr_assert_eq(inet_pton(AF_INET6, ip, &a), 1);
	ptr(p, owner);
	rr_fixed(p, RF_DNS_TYPE_AAAA, ttl, 16);
	put(p, &a, 16);
}

#define ANSWER 0x8180 /* QR, RD, RA, NOERROR */

static int parse(const struct pkt *p, __u16 id, const char *n, __u16 type, struct rf_dns_addr *out,
		 size_t *cnt)
{
	return rf_dns_answer_parse(p->b, p->len, id, n, type, out, RF_DNS_MAX_ADDRS, cnt);
}

static void assert_addr(const struct rf_dns_addr *a, const char *ip6, __u32 ttl)
{
	char got[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a->addr, got, sizeof(got));
	cr_assert_str_eq(got, ip6);
	cr_assert_eq(a->ttl, ttl);
}

/* ---- answers that are taken ------------------------------------------------------------------ */

Test(dns_client, plain_a_answers)
{
	struct rf_dns_addr out[RF_DNS_MAX_ADDRS];
	struct pkt p;
	size_t n;

	header(&p, 0x1234, ANSWER, 2, 0, 0);
	question(&p, "mgmt.example.com", RF_DNS_TYPE_A);
	a_rr_ptr(&p, QOFF, "192.0.2.10", 300);
	a_rr_ptr(&p, QOFF, "192.0.2.11", 0); /* TTL 0 is taken as 0: the caller clamps */
	cr_assert_eq(parse(&p, 0x1234, "mgmt.example.com", RF_DNS_TYPE_A, out, &n), 0);
	cr_assert_eq(n, 2);
	assert_addr(&out[0], "::ffff:192.0.2.10", 300);
	assert_addr(&out[1], "::ffff:192.0.2.11", 0);
}

Test(dns_client, aaaa_and_mixed_case)
{
	struct rf_dns_addr out[RF_DNS_MAX_ADDRS];
	struct pkt p;
	size_t n;

	/* 0x20 mixed case in the echoed question and the owner: names compare case-insensitively */
	header(&p, 7, ANSWER, 2, 0, 0);
	question(&p, "MgMt.ExAmple.COM", RF_DNS_TYPE_AAAA);
	name(&p, "mgmt.EXAMPLE.com");
	rr_fixed(&p, RF_DNS_TYPE_AAAA, 60, 16);
	put(&p, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x05", 16);
	aaaa_rr_ptr(&p, QOFF, "2001:db8::6", 61);
	cr_assert_eq(parse(&p, 7, "mgmt.example.com", RF_DNS_TYPE_AAAA, out, &n), 0);
	cr_assert_eq(n, 2);
	assert_addr(&out[0], "2001:db8::5", 60);
	assert_addr(&out[1], "2001:db8::6", 61);
	/* an A record in an AAAA answer is not taken */
	header(&p, 7, ANSWER, 1, 0, 0);
	question(&p, "mgmt.example.com", RF_DNS_TYPE_AAAA);
	a_rr_ptr(&p, QOFF, "192.0.2.10", 300);
	cr_assert_eq(parse(&p, 7, "mgmt.example.com", RF_DNS_TYPE_AAAA, out, &n), 0);
	cr_assert_eq(n, 0);
}

Test(dns_client, cname_chain_and_unrelated_records)
{
	struct rf_dns_addr out[RF_DNS_MAX_ADDRS];
	struct pkt p;
	size_t n, cdn, edge;

	header(&p, 9, ANSWER, 5, 0, 0);
	question(&p, "mgmt.example.com", RF_DNS_TYPE_A);
	ptr(&p, QOFF); /* mgmt.example.com CNAME cdn.example.net */
	rr_fixed(&p, RF_DNS_TYPE_CNAME, 3600, 17);
	cdn = p.len;
	name(&p, "cdn.example.net");
	ptr(&p, cdn); /* cdn.example.net CNAME edge.cdn.example.net (compressed) */
	rr_fixed(&p, RF_DNS_TYPE_CNAME, 3600, 7);
	edge = p.len;
	name(&p, "edge");
	p.len--; /* replace the root with a pointer to cdn.example.net */
	ptr(&p, cdn);
	a_rr_ptr(&p, edge, "198.51.100.7", 120);
	/* an A record of a name outside the chain admits nothing */
	name(&p, "evil.example.org");
	rr_fixed(&p, RF_DNS_TYPE_A, 120, 4);
	put(&p, "\xcb\x00\x71\x01", 4);
	/* a record of another class neither */
	ptr(&p, edge);
	u16(&p, RF_DNS_TYPE_A);
	u16(&p, 3); /* CH */
	u32(&p, 120);
	u16(&p, 4);
	put(&p, "\xcb\x00\x71\x02", 4);
	cr_assert_eq(parse(&p, 9, "mgmt.example.com", RF_DNS_TYPE_A, out, &n), 0);
	cr_assert_eq(n, 1);
	assert_addr(&out[0], "::ffff:198.51.100.7", 120);
}

Test(dns_client, additional_section_admits_nothing)
{
	struct rf_dns_addr out[RF_DNS_MAX_ADDRS];
	struct pkt p;
	size_t n;

	header(&p, 3, ANSWER, 0, 0, 1);
	question(&p, "mgmt.example.com", RF_DNS_TYPE_A);
	a_rr_ptr(&p, QOFF, "192.0.2.99", 300);
	cr_assert_eq(parse(&p, 3, "mgmt.example.com", RF_DNS_TYPE_A, out, &n), 0);
	cr_assert_eq(n, 0);
}

Test(dns_client, nxdomain_and_ttl_high_bit)
{
	struct rf_dns_addr out[RF_DNS_MAX_ADDRS];
	struct pkt p;
	size_t n = 5;

	header(&p, 3, 0x8183, 0, 0, 0);
	question(&p, "gone.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(parse(&p, 3, "gone.example.com", RF_DNS_TYPE_A, out, &n), 0);
	cr_assert_eq(n, 0);
	/* SERVFAIL: ask another server */
	header(&p, 3, 0x8182, 0, 0, 0);
	question(&p, "gone.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(parse(&p, 3, "gone.example.com", RF_DNS_TYPE_A, out, &n), -ENODATA);
	/* a TTL with the top bit set counts as 0 (RFC 2181) */
	header(&p, 3, ANSWER, 1, 0, 0);
	question(&p, "x.example.com", RF_DNS_TYPE_A);
	a_rr_ptr(&p, QOFF, "192.0.2.1", 0x80000000u);
	cr_assert_eq(parse(&p, 3, "x.example.com", RF_DNS_TYPE_A, out, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(out[0].ttl, 0);
}

Test(dns_client, many_answers_capped)
{
	struct rf_dns_addr out[4];
	struct pkt p;
	size_t n;

	/* 16 addresses (the parser's limit): all valid, 4 of them fit the caller's room */
	header(&p, 3, ANSWER, RF_DNS_MAX_ADDRS, 0, 0);
	question(&p, "x.example.com", RF_DNS_TYPE_A);
	for (int i = 0; i < RF_DNS_MAX_ADDRS; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "192.0.2.%d", i + 1);
		a_rr_ptr(&p, QOFF, ip, 60);
	}
	cr_assert_eq(rf_dns_answer_parse(p.b, p.len, 3, "x.example.com", RF_DNS_TYPE_A, out, 4, &n),
		     0);
	cr_assert_eq(n, 4, "took %zu of 16 into 4 slots", n);
	assert_addr(&out[3], "::ffff:192.0.2.4", 60);
	/* a 17th address: the answer is refused whole, as the programs refuse it */
	p.b[7] = RF_DNS_MAX_ADDRS + 1;
	a_rr_ptr(&p, QOFF, "192.0.2.99", 60);
	cr_assert_eq(rf_dns_answer_parse(p.b, p.len, 3, "x.example.com", RF_DNS_TYPE_A, out, 4, &n),
		     -EBADMSG);
	cr_assert_eq(n, 0);
}

/* ---- answers that are refused whole ------------------------------------------------------- */

static void good_answer(struct pkt *p)
{
	header(p, 0x4242, ANSWER, 1, 0, 0);
	question(p, "mgmt.example.com", RF_DNS_TYPE_A);
	a_rr_ptr(p, QOFF, "192.0.2.10", 300);
}

static void assert_refused(const struct pkt *p, __u16 id, const char *n, __u16 type,
			   const char *what)
{
	struct rf_dns_addr out[RF_DNS_MAX_ADDRS];
	size_t cnt = 99;
	int ret = parse(p, id, n, type, out, &cnt);

	cr_assert_eq(ret, -EBADMSG, "%s: %d, want -EBADMSG", what, ret);
	cr_assert_eq(cnt, 0, "%s: %zu addresses taken", what, cnt);
}

Test(dns_client, refused_not_this_query)
{
	struct pkt p;

	good_answer(&p);
	assert_refused(&p, 0x4243, "mgmt.example.com", RF_DNS_TYPE_A, "wrong id");
	assert_refused(&p, 0x4242, "other.example.com", RF_DNS_TYPE_A, "wrong question");
	assert_refused(&p, 0x4242, "mgmt.example.co", RF_DNS_TYPE_A, "shorter question");
	good_answer(&p);
	p.b[2] &= 0x7f; /* a query, not an answer */
	assert_refused(&p, 0x4242, "mgmt.example.com", RF_DNS_TYPE_A, "QR clear");
	good_answer(&p);
	p.b[2] |= 0x02; /* TC: truncated, never half-applied */
	assert_refused(&p, 0x4242, "mgmt.example.com", RF_DNS_TYPE_A, "TC set");
	good_answer(&p);
	p.b[5] = 2; /* two questions */
	assert_refused(&p, 0x4242, "mgmt.example.com", RF_DNS_TYPE_A, "qdcount 2");
	good_answer(&p);
	p.b[2] |= 0x28; /* opcode 5 */
	assert_refused(&p, 0x4242, "mgmt.example.com", RF_DNS_TYPE_A, "opcode");
	/* the question's type or class differ */
	header(&p, 1, ANSWER, 0, 0, 0);
	question(&p, "mgmt.example.com", RF_DNS_TYPE_AAAA);
	assert_refused(&p, 1, "mgmt.example.com", RF_DNS_TYPE_A, "qtype");
	header(&p, 1, ANSWER, 0, 0, 0);
	name(&p, "mgmt.example.com");
	u16(&p, RF_DNS_TYPE_A);
	u16(&p, 3);
	assert_refused(&p, 1, "mgmt.example.com", RF_DNS_TYPE_A, "qclass");
}

Test(dns_client, refused_truncated_everywhere)
{
	struct pkt p;
	size_t full;

	good_answer(&p);
	full = p.len;
	for (size_t cut = 0; cut < full; cut++) {
		char what[32];

		p.len = cut;
		snprintf(what, sizeof(what), "cut at %zu", cut);
		assert_refused(&p, 0x4242, "mgmt.example.com", RF_DNS_TYPE_A, what);
	}
	/* more answers announced than present */
	good_answer(&p);
	p.b[7] = 2;
	assert_refused(&p, 0x4242, "mgmt.example.com", RF_DNS_TYPE_A, "ancount 2 of 1");
	/* an A record of 5 bytes */
	header(&p, 1, ANSWER, 1, 0, 0);
	question(&p, "mgmt.example.com", RF_DNS_TYPE_A);
	ptr(&p, QOFF);
	rr_fixed(&p, RF_DNS_TYPE_A, 60, 5);
	put(&p, "\xc0\x00\x02\x01\x00", 5);
	assert_refused(&p, 1, "mgmt.example.com", RF_DNS_TYPE_A, "A rdlen 5");
	/* more records than looked at */
	header(&p, 1, ANSWER, 33, 0, 0); /* the parser reads 32 */
	question(&p, "x.example.com", RF_DNS_TYPE_A);
	for (int i = 0; i < 33; i++)
		a_rr_ptr(&p, QOFF, "192.0.2.1", 60);
	assert_refused(&p, 1, "x.example.com", RF_DNS_TYPE_A, "too many records");
}

Test(dns_client, refused_bad_compression)
{
	struct pkt p;
	size_t self;

	/* a pointer to itself (a loop) */
	header(&p, 1, ANSWER, 1, 0, 0);
	question(&p, "x.example.com", RF_DNS_TYPE_A);
	self = p.len;
	ptr(&p, self);
	rr_fixed(&p, RF_DNS_TYPE_A, 60, 4);
	put(&p, "\xc0\x00\x02\x01", 4);
	assert_refused(&p, 1, "x.example.com", RF_DNS_TYPE_A, "pointer loop");
	/* a forward pointer (to the record's own data) */
	header(&p, 1, ANSWER, 1, 0, 0);
	question(&p, "x.example.com", RF_DNS_TYPE_A);
	ptr(&p, p.len + 12);
	rr_fixed(&p, RF_DNS_TYPE_A, 60, 4);
	put(&p, "\xc0\x00\x02\x01", 4);
	assert_refused(&p, 1, "x.example.com", RF_DNS_TYPE_A, "forward pointer");
	/* a pointer past the end */
	header(&p, 1, ANSWER, 1, 0, 0);
	question(&p, "x.example.com", RF_DNS_TYPE_A);
	ptr(&p, 0x3fff);
	rr_fixed(&p, RF_DNS_TYPE_A, 60, 4);
	put(&p, "\xc0\x00\x02\x01", 4);
	assert_refused(&p, 1, "x.example.com", RF_DNS_TYPE_A, "pointer past the end");
	/* a pointer into the header */
	header(&p, 1, ANSWER, 1, 0, 0);
	question(&p, "x.example.com", RF_DNS_TYPE_A);
	ptr(&p, 2);
	rr_fixed(&p, RF_DNS_TYPE_A, 60, 4);
	put(&p, "\xc0\x00\x02\x01", 4);
	assert_refused(&p, 1, "x.example.com", RF_DNS_TYPE_A, "pointer into the header");
	/* a two-step loop: A -> B -> A, both after the question */
	header(&p, 1, ANSWER, 1, 0, 0);
	question(&p, "x.example.com", RF_DNS_TYPE_A);
	ptr(&p, p.len + 2);
	ptr(&p, p.len - 2);
	rr_fixed(&p, RF_DNS_TYPE_A, 60, 4);
	put(&p, "\xc0\x00\x02\x01", 4);
	assert_refused(&p, 1, "x.example.com", RF_DNS_TYPE_A, "two-pointer loop");
	/* the 0x40 label type */
	header(&p, 1, ANSWER, 1, 0, 0);
	question(&p, "x.example.com", RF_DNS_TYPE_A);
	put(&p, "\x41", 1);
	rr_fixed(&p, RF_DNS_TYPE_A, 60, 4);
	put(&p, "\xc0\x00\x02\x01", 4);
	assert_refused(&p, 1, "x.example.com", RF_DNS_TYPE_A, "label type 0x40");
}

Test(dns_client, cname_loops_and_long_chains_end)
{
	struct rf_dns_addr out[RF_DNS_MAX_ADDRS];
	struct pkt p;
	size_t n, b;

	/* x CNAME b, b CNAME x: a loop in the records ends; b's A is taken */
	header(&p, 1, ANSWER, 3, 0, 0);
	question(&p, "x.example.com", RF_DNS_TYPE_A);
	ptr(&p, QOFF);
	rr_fixed(&p, RF_DNS_TYPE_CNAME, 60, 15);
	b = p.len;
	name(&p, "b.example.com");
	ptr(&p, b);
	rr_fixed(&p, RF_DNS_TYPE_CNAME, 60, 2);
	ptr(&p, QOFF);
	a_rr_ptr(&p, b, "192.0.2.20", 60);
	cr_assert_eq(parse(&p, 1, "x.example.com", RF_DNS_TYPE_A, out, &n), 0);
	cr_assert_eq(n, 1);
	assert_addr(&out[0], "::ffff:192.0.2.20", 60);

	/* a chain of more than 8 names (the question's and 8 CNAME targets): refused whole */
	header(&p, 1, ANSWER, 8 + 1, 0, 0);
	question(&p, "x.example.com", RF_DNS_TYPE_A);
	size_t prev = QOFF;
	for (int i = 0; i < 8; i++) {
		char nm[32];

		snprintf(nm, sizeof(nm), "c%d.example.com", i);
		ptr(&p, prev);
		rr_fixed(&p, RF_DNS_TYPE_CNAME, 60, (__u16)(strlen(nm) + 2));
		prev = p.len;
		name(&p, nm);
	}
	a_rr_ptr(&p, prev, "192.0.2.30", 60);
	cr_assert_eq(parse(&p, 1, "x.example.com", RF_DNS_TYPE_A, out, &n), -EBADMSG);
	cr_assert_eq(n, 0, "an address 8 CNAMEs away was taken");
}

Test(dns_client, punycode_names)
{
	struct rf_dns_addr out[RF_DNS_MAX_ADDRS];
	struct pkt p;
	size_t n;

	header(&p, 1, ANSWER, 1, 0, 0);
	question(&p, "xn--bcher-kva.example", RF_DNS_TYPE_A);
	a_rr_ptr(&p, QOFF, "192.0.2.40", 60);
	cr_assert_eq(parse(&p, 1, "XN--BCHER-KVA.example", RF_DNS_TYPE_A, out, &n), 0);
	cr_assert_eq(n, 1);
}
