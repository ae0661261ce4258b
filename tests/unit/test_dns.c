// SPDX-License-Identifier: GPL-2.0-only
/*
 * The DNS parser of host rules, shared with the BPF programs (bpf/dns_parse.bpf.h), on crafted
 * messages: every accepted shape has a rejected twin.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "dns_parse.bpf.h"
#include "helpers.h"

static struct rf_dns_scratch *s;

static void setup(void)
{
	s = calloc(1, sizeof(*s));
	cr_assert(s);
}

static void teardown(void)
{
	free(s);
}

TestSuite(dns, .init = setup, .fini = teardown);

/* ---- building messages ---- */

static void put8(unsigned int v)
{
	cr_assert_lt(s->len, RF_DNS_BUF);
	s->msg[s->len++] = (__u8)v;
}

static void put16(unsigned int v)
{
	put8(v >> 8);
	put8(v & 0xff);
}

static void put32(unsigned int v)
{
	put16(v >> 16);
	put16(v & 0xffff);
}

/* "a.B.c" as wire labels; with final 0 unless ptr >= 0, then a pointer to ptr ends it. */
static void put_labels(const char *name, int ptr)
{
	const char *p = name;

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		put8((unsigned int)n);
		while (n--)
			put8((unsigned char)*p++);
		if (*p == '.')
			p++;
	}
	if (ptr >= 0)
		put16(0xc000 | (unsigned int)ptr);
	else
		put8(0);
}

static void put_name(const char *name)
{
	put_labels(name, -1);
}

static void header(unsigned int txid, unsigned int flags, unsigned int qd, unsigned int an,
		   unsigned int ns, unsigned int ar)
{
	s->len = 0;
	put16(txid);
	put16(flags);
	put16(qd);
	put16(an);
	put16(ns);
	put16(ar);
}

static void question(const char *name, unsigned int type)
{
	put_name(name);
	put16(type);
	put16(RF_DNS_CLASS_IN);
}

/* Record header after the owner name: type, class, ttl, rdlength. */
static void rr_head(unsigned int type, unsigned int class, unsigned int ttl, unsigned int rdlen)
{
	put16(type);
	put16(class);
	put32(ttl);
	put16(rdlen);
}

/* An A record owned by the name at offset 12 (the question), pointing there. */
static void rr_a(int owner_ptr, const char *ip, unsigned int ttl)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, ip, &a), 1);
	put16(0xc000 | (unsigned int)owner_ptr);
	rr_head(RF_DNS_TYPE_A, RF_DNS_CLASS_IN, ttl, 4);
	memcpy(s->msg + s->len, &a, 4);
	s->len += 4;
}

static void rr_aaaa(int owner_ptr, const char *ip, unsigned int ttl)
{
	struct in6_addr a;

	cr_assert_eq(inet_pton(AF_INET6, ip, &a), 1);
	put16(0xc000 | (unsigned int)owner_ptr);
	rr_head(RF_DNS_TYPE_AAAA, RF_DNS_CLASS_IN, ttl, 16);
	memcpy(s->msg + s->len, &a, 16);
	s->len += 16;
}

/* A CNAME owned by the name at owner_ptr to target (uncompressed); returns the target's offset. */
static int rr_cname(int owner_ptr, const char *target)
{
	size_t rdlen = strlen(target) + 2, at;

	put16(0xc000 | (unsigned int)owner_ptr);
	rr_head(RF_DNS_TYPE_CNAME, RF_DNS_CLASS_IN, 300, (unsigned int)rdlen);
	at = s->len;
	put_name(target);
	return (int)at;
}

/* The right-aligned lowercased wire key of a dotted name ("" = the root). */
static struct rf_host_key key_of(const char *name)
{
	__u8 wire[RF_HOST_NAME_LEN];
	struct rf_host_key k = {};
	size_t n = 0;
	const char *p = name;

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		wire[n++] = (__u8)l;
		while (l--)
			wire[n++] = (__u8)tolower((unsigned char)*p++);
		if (*p == '.')
			p++;
	}
	wire[n++] = 0;
	memcpy(k.name + RF_HOST_NAME_LEN - n, wire, n);
	return k;
}

static void expect_name(const char *want)
{
	struct rf_host_key k = key_of(want);

	cr_assert(rf_host_key_eq(&s->name, &k), "decoded name is not %s", want);
}

/* Set up the pending question an answer is checked against. */
static void pending(const char *name, unsigned int qtype)
{
	s->chain[0] = key_of(name);
	s->qtype = (__u16)qtype;
}

static const char *addr_str(unsigned int i, char *buf, size_t len)
{
	static const __u8 mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (!memcmp(s->addr[i], mapped, 12))
		return inet_ntop(AF_INET, s->addr[i] + 12, buf, (socklen_t)len);
	return inet_ntop(AF_INET6, s->addr[i], buf, (socklen_t)len);
}

static void expect_addr(unsigned int i, const char *want)
{
	char buf[64];

	cr_assert_lt(i, s->naddr);
	cr_assert_str_eq(addr_str(i, buf, sizeof(buf)), want);
}

#define ANSWER_FLAGS 0x8180 /* QR, RD, RA, NOERROR */

/* ---- names ---- */

Test(dns, name_is_lowercased_wire_format_right_aligned)
{
	struct rf_host_key k = {};
	static const __u8 wire[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};

	header(1, 0x0100, 1, 0, 0, 0);
	question("Example.COM", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_read_name(s, 12), 12 + 13);
	memcpy(k.name + 256 - sizeof(wire), wire, sizeof(wire));
	cr_assert(rf_host_key_eq(&s->name, &k));
	cr_assert_eq(s->name_len, 13);
	/* the twin: another name differs */
	k.name[256 - 2] = 'n';
	cr_assert_not(rf_host_key_eq(&s->name, &k));
}

Test(dns, punycode_labels_compare_byte_for_byte)
{
	header(1, 0x0100, 1, 0, 0, 0);
	question("XN--Bcher-kva.example", RF_DNS_TYPE_A);
	cr_assert_gt(rf_dns_read_name(s, 12), 0);
	expect_name("xn--bcher-kva.example");
	{
		struct rf_host_key other = key_of("xn--bcher-kvb.example");

		cr_assert_not(rf_host_key_eq(&s->name, &other));
	}
}

Test(dns, root_and_longest_name)
{
	char name[300];
	int i, n = 0;

	header(1, 0x0100, 1, 0, 0, 0);
	put8(0);
	cr_assert_eq(rf_dns_read_name(s, 12), 13);
	cr_assert_eq(s->name_len, 1);
	/* 4 labels of 63 = 4 * 64 + 1 = 257 bytes: too long; 3 of 63 + one of 61 = 255: fits */
	for (i = 0; i < 4; i++) {
		memset(name + n, 'a' + i, i == 3 ? 61 : 63);
		n += i == 3 ? 61 : 63;
		name[n++] = '.';
	}
	name[n - 1] = 0;
	header(1, 0x0100, 1, 0, 0, 0);
	put_name(name);
	cr_assert_gt(rf_dns_read_name(s, 12), 0);
	cr_assert_eq(s->name_len, 255);
	name[n - 1] = 'z'; /* one byte more: 256 */
	name[n] = 0;
	header(1, 0x0100, 1, 0, 0, 0);
	put_name(name);
	cr_assert_eq(rf_dns_read_name(s, 12), -1);
}

Test(dns, label_types_other_than_plain_are_refused)
{
	header(1, 0x0100, 1, 0, 0, 0);
	put8(0x41); /* extended label type */
	put8(0);
	cr_assert_eq(rf_dns_read_name(s, 12), -1);
	header(1, 0x0100, 1, 0, 0, 0);
	put8(0x81);
	put8(0);
	cr_assert_eq(rf_dns_read_name(s, 12), -1);
}

Test(dns, name_cut_short_is_refused)
{
	header(1, 0x0100, 1, 0, 0, 0);
	put_name("example.com");
	s->len -= 1; /* the final 0 missing */
	cr_assert_eq(rf_dns_read_name(s, 12), -1);
	s->len -= 3; /* mid-label */
	cr_assert_eq(rf_dns_read_name(s, 12), -1);
}

/* ---- compression pointers ---- */

Test(dns, backward_pointer_is_followed)
{
	int at;

	header(1, 0x0100, 1, 0, 0, 0);
	put_name("example.com");
	at = (int)s->len;
	put_labels("www", 12 + 8); /* www + pointer to "com" */
	cr_assert_eq(rf_dns_read_name(s, (__u32)at), at + 4 + 2);
	expect_name("www.com");
}

Test(dns, pointer_to_itself_is_refused)
{
	header(1, 0x0100, 1, 0, 0, 0);
	put_name("example.com");
	put16(0xc000 | s->len); /* points at its own offset */
	cr_assert_eq(rf_dns_read_name(s, s->len - 2), -1);
}

Test(dns, pointer_loop_is_refused)
{
	int a;

	/* a: label "x" then a pointer to b; b (after it) points back to a: a loop through a forward
	 * pointer, and the same loop entered at b: a backward pointer whose target leads forward
	 * again */
	header(1, 0x0100, 1, 0, 0, 0);
	put_name("example.com");
	a = (int)s->len;
	put_labels("x", a + 4);
	put16(0xc000 | (unsigned int)a);
	cr_assert_eq(rf_dns_read_name(s, (__u32)a), -1);
	cr_assert_eq(rf_dns_read_name(s, (__u32)a + 4), -1);
}

Test(dns, forward_pointer_is_refused)
{
	int at;

	header(1, 0x0100, 1, 0, 0, 0);
	at = (int)s->len;
	put16(0xc000 | (unsigned int)(at + 2)); /* to the name right after it */
	put_name("example.com");
	cr_assert_eq(rf_dns_read_name(s, (__u32)at), -1);
	/* the twin: the same name reached backwards is fine */
	put16(0xc000 | (unsigned int)(at + 2));
	cr_assert_gt(rf_dns_read_name(s, s->len - 2), 0);
	expect_name("example.com");
}

Test(dns, pointer_past_the_end_or_into_the_header_is_refused)
{
	header(1, 0x0100, 1, 0, 0, 0);
	put16(0xc000 | 0x3fff);
	cr_assert_eq(rf_dns_read_name(s, 12), -1);
	header(1, 0x0100, 1, 0, 0, 0);
	put_name("a");
	put16(0xc000 | 4); /* into the header */
	cr_assert_eq(rf_dns_read_name(s, 15), -1);
	/* half a pointer at the end */
	header(1, 0x0100, 1, 0, 0, 0);
	put_name("a");
	put8(0xc0);
	cr_assert_eq(rf_dns_read_name(s, 15), -1);
}

Test(dns, pointer_chain_is_bounded)
{
	unsigned int i, first, prev;

	/* "a" at 12, then 1-label names each pointing to the previous one: n pointers deep */
	header(1, 0x0100, 1, 0, 0, 0);
	put_name("a");
	prev = 12;
	for (i = 0; i < RF_DNS_PTR_MAX; i++) {
		first = s->len;
		put_labels("b", (int)prev);
		prev = first;
	}
	cr_assert_gt(rf_dns_read_name(s, prev), 0, "16 pointers are followed");
	first = s->len;
	put_labels("b", (int)prev);
	cr_assert_eq(rf_dns_read_name(s, first), -1, "17 are not");
}

/* ---- queries ---- */

Test(dns, query_for_a_or_aaaa_in_class_in)
{
	header(0x1234, 0x0100, 1, 0, 0, 0);
	question("Mgmt.Example.com", RF_DNS_TYPE_AAAA);
	cr_assert_eq(rf_dns_query(s), 0);
	cr_assert_eq(s->qtype, RF_DNS_TYPE_AAAA);
	expect_name("mgmt.example.com");

	header(0x1234, 0x0100, 1, 0, 0, 0);
	question("mgmt.example.com", 15); /* MX */
	cr_assert_eq(rf_dns_query(s), -1);
	header(0x1234, 0x8100, 1, 0, 0, 0); /* a response */
	question("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_query(s), -1);
	header(0x1234, 0x0100, 2, 0, 0, 0); /* two questions */
	question("mgmt.example.com", RF_DNS_TYPE_A);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_query(s), -1);
	header(0x1234, 0x0100, 1, 0, 0, 0);
	put_name("mgmt.example.com");
	put16(RF_DNS_TYPE_A);
	put16(3); /* class CH */
	cr_assert_eq(rf_dns_query(s), -1);
	header(0x1234, 0x2900, 1, 0, 0, 0); /* opcode 5, UPDATE */
	question("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_query(s), -1);
}

/* ---- answers ---- */

Test(dns, a_answer_admits_its_address)
{
	header(7, ANSWER_FLAGS, 1, 1, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	rr_a(12, "192.0.2.10", 300);
	pending("MGMT.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), 1);
	expect_addr(0, "192.0.2.10");
	cr_assert_eq(s->ttl[0], 300);
	/* the twin: the same answer to another pending question admits nothing */
	pending("other.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), -1);
	/* ... nor to another type */
	pending("mgmt.example.com", RF_DNS_TYPE_AAAA);
	cr_assert_eq(rf_dns_answer(s), -1);
}

Test(dns, mixed_case_answer_matches_the_question)
{
	header(7, ANSWER_FLAGS, 1, 1, 0, 0);
	question("mGmT.ExAmPlE.cOm", RF_DNS_TYPE_A); /* 0x20 randomisation */
	rr_a(12, "192.0.2.10", 300);
	pending("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), 1);
}

Test(dns, aaaa_answer)
{
	header(7, ANSWER_FLAGS, 1, 2, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_AAAA);
	rr_aaaa(12, "2001:db8::10", 60);
	rr_a(12, "192.0.2.99", 60); /* an A in an AAAA answer: skipped */
	pending("mgmt.example.com", RF_DNS_TYPE_AAAA);
	cr_assert_eq(rf_dns_answer(s), 1);
	expect_addr(0, "2001:db8::10");
}

Test(dns, header_flags_refuse_the_answer)
{
	static const unsigned int bad[] = {
	    0x0180,		   /* not a response */
	    ANSWER_FLAGS | 0x0200, /* truncated (TC) */
	    ANSWER_FLAGS | 0x0003, /* NXDOMAIN */
	    ANSWER_FLAGS | 0x0002, /* SERVFAIL */
	    ANSWER_FLAGS | 0x1000, /* opcode 2 */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		header(7, bad[i], 1, 1, 0, 0);
		question("mgmt.example.com", RF_DNS_TYPE_A);
		rr_a(12, "192.0.2.10", 300);
		pending("mgmt.example.com", RF_DNS_TYPE_A);
		cr_assert_eq(rf_dns_answer(s), -1, "flags %#x", bad[i]);
	}
	header(7, ANSWER_FLAGS, 1, 1, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	rr_a(12, "192.0.2.10", 300);
	cr_assert_eq(rf_dns_answer(s), 1, "the twin with plain flags");
}

Test(dns, truncated_message_admits_nothing)
{
	unsigned int full;

	header(7, ANSWER_FLAGS, 1, 2, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	rr_a(12, "192.0.2.10", 300);
	rr_a(12, "192.0.2.11", 300);
	full = s->len;
	pending("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), 2);
	for (s->len = 12; s->len < full; s->len++)
		cr_assert_eq(rf_dns_answer(s), -1, "cut at %u of %u", s->len, full);
}

Test(dns, oversized_message_admits_nothing)
{
	header(7, ANSWER_FLAGS, 1, 1, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	rr_a(12, "192.0.2.10", 300);
	pending("mgmt.example.com", RF_DNS_TYPE_A);
	s->len = RF_DNS_MSG_MAX; /* padding after the records is not read */
	cr_assert_eq(rf_dns_answer(s), 1);
	s->len = RF_DNS_MSG_MAX + 1;
	cr_assert_eq(rf_dns_answer(s), -1);
}

Test(dns, wrong_class_or_owner_is_skipped)
{
	header(7, ANSWER_FLAGS, 1, 3, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	/* class CH */
	put16(0xc00c);
	rr_head(RF_DNS_TYPE_A, 3, 300, 4);
	put32(0xc0000263); /* 192.0.2.99 */
	/* owner "evil.example" (not in the chain) */
	put_name("evil.example");
	rr_head(RF_DNS_TYPE_A, RF_DNS_CLASS_IN, 300, 4);
	put32(0xc0000264);
	rr_a(12, "192.0.2.10", 300);
	pending("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), 1);
	expect_addr(0, "192.0.2.10");
}

Test(dns, address_of_the_wrong_size_refuses_the_answer)
{
	header(7, ANSWER_FLAGS, 1, 1, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	put16(0xc00c);
	rr_head(RF_DNS_TYPE_A, RF_DNS_CLASS_IN, 300, 5);
	put32(0xc000020a);
	put8(0);
	pending("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), -1);
}

Test(dns, cname_chain_is_followed)
{
	int c1, c2;

	header(7, ANSWER_FLAGS, 1, 4, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	c1 = rr_cname(12, "edge.cdn.example");
	c2 = rr_cname(c1, "e1.Edge.CDN.example");
	rr_a(c2, "192.0.2.20", 120);
	rr_a(c1, "192.0.2.21", 120); /* also owned by a chain name */
	pending("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), 2);
	cr_assert_eq(s->nchain, 3);
	expect_addr(0, "192.0.2.20");
	expect_addr(1, "192.0.2.21");
}

Test(dns, cname_not_from_the_chain_admits_nothing_through_it)
{
	int c;

	/* a CNAME owned by another name leads nowhere: its target's A is not the question's */
	header(7, ANSWER_FLAGS, 1, 3, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	put_name("unrelated.example");
	rr_head(RF_DNS_TYPE_CNAME, RF_DNS_CLASS_IN, 300, 5);
	c = (int)s->len;
	put_name("x.y");
	rr_a(c, "192.0.2.66", 300);
	rr_a(12, "192.0.2.10", 300);
	pending("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), 1);
	expect_addr(0, "192.0.2.10");
}

Test(dns, cname_chain_too_long_admits_nothing)
{
	char name[32];
	int i, prev = 12;

	header(7, ANSWER_FLAGS, 1, RF_DNS_CHAIN_MAX + 1, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	for (i = 0; i < RF_DNS_CHAIN_MAX; i++) {
		snprintf(name, sizeof(name), "c%d.example", i);
		prev = rr_cname(prev, name);
	}
	rr_a(prev, "192.0.2.30", 300);
	pending("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), -1);
	/* the twin: one link fewer fits */
	header(7, ANSWER_FLAGS, 1, RF_DNS_CHAIN_MAX, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	prev = 12;
	for (i = 0; i < RF_DNS_CHAIN_MAX - 1; i++) {
		snprintf(name, sizeof(name), "c%d.example", i);
		prev = rr_cname(prev, name);
	}
	rr_a(prev, "192.0.2.30", 300);
	cr_assert_eq(rf_dns_answer(s), 1);
}

Test(dns, cname_with_trailing_data_is_refused)
{
	header(7, ANSWER_FLAGS, 1, 1, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	put16(0xc00c);
	rr_head(RF_DNS_TYPE_CNAME, RF_DNS_CLASS_IN, 300, 6);
	put_name("x.y"); /* 5 bytes, rdlength says 6 */
	put8(0);
	pending("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), -1);
}

Test(dns, additional_and_authority_sections_never_admit)
{
	int c;

	/* the answer section: a CNAME with no address; authority and additional carry A records
	 * for the question and for the CNAME target */
	header(7, ANSWER_FLAGS, 1, 1, 1, 1);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	c = rr_cname(12, "edge.cdn.example");
	rr_a(12, "192.0.2.40", 300);
	rr_a(c, "192.0.2.41", 300);
	pending("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), 0);
	/* the twin: the same record in the answer section counts */
	header(7, ANSWER_FLAGS, 1, 2, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	c = rr_cname(12, "edge.cdn.example");
	rr_a(c, "192.0.2.41", 300);
	cr_assert_eq(rf_dns_answer(s), 1);
}

Test(dns, many_answers)
{
	char ip[32];
	int i;

	header(7, ANSWER_FLAGS, 1, RF_DNS_ADDRS_MAX, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	for (i = 0; i < RF_DNS_ADDRS_MAX; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", 100 + i);
		rr_a(12, ip, 300);
	}
	pending("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), RF_DNS_ADDRS_MAX);
	expect_addr(RF_DNS_ADDRS_MAX - 1, "192.0.2.115");
	/* one address more than fits: the whole answer admits nothing (never half-applied) */
	header(7, ANSWER_FLAGS, 1, RF_DNS_ADDRS_MAX + 1, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	for (i = 0; i <= RF_DNS_ADDRS_MAX; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", 100 + i);
		rr_a(12, ip, 300);
	}
	cr_assert_eq(rf_dns_answer(s), -1);
	/* more records than are read, even if skipped ones: nothing */
	header(7, ANSWER_FLAGS, 1, RF_DNS_ANSWERS_MAX + 1, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	for (i = 0; i <= RF_DNS_ANSWERS_MAX; i++) {
		put16(0xc00c);
		rr_head(16, RF_DNS_CLASS_IN, 300, 1); /* TXT */
		put8(0);
	}
	cr_assert_eq(rf_dns_answer(s), -1);
}

Test(dns, ttl_is_clamped)
{
	cr_assert_eq(rf_host_ttl(0), RF_HOST_TTL_MIN);
	cr_assert_eq(rf_host_ttl(59), RF_HOST_TTL_MIN);
	cr_assert_eq(rf_host_ttl(61), 61);
	cr_assert_eq(rf_host_ttl(86400), 86400);
	cr_assert_eq(rf_host_ttl(86401), RF_HOST_TTL_MAX);
	cr_assert_eq(rf_host_ttl(0x80000000u), RF_HOST_TTL_MIN);
	/* TTL 0 in an answer still admits (for the minimum) */
	header(7, ANSWER_FLAGS, 1, 1, 0, 0);
	question("mgmt.example.com", RF_DNS_TYPE_A);
	rr_a(12, "192.0.2.10", 0);
	pending("mgmt.example.com", RF_DNS_TYPE_A);
	cr_assert_eq(rf_dns_answer(s), 1);
	cr_assert_eq(rf_host_ttl(s->ttl[0]), RF_HOST_TTL_MIN);
}

/* ---- wildcard lookups: parent domains of a key ---- */

Test(dns, key_up_walks_parent_domains)
{
	struct rf_host_key k = key_of("a.b.Example.com"), want;
	int start = (int)rf_host_key_start(&k);

	cr_assert_eq(start, 256 - 17);
	start = rf_host_key_up(&k, (__u32)start);
	want = key_of("b.example.com");
	cr_assert(rf_host_key_eq(&k, &want));
	start = rf_host_key_up(&k, (__u32)start);
	want = key_of("example.com");
	cr_assert(rf_host_key_eq(&k, &want));
	start = rf_host_key_up(&k, (__u32)start);
	want = key_of("com");
	cr_assert(rf_host_key_eq(&k, &want));
	start = rf_host_key_up(&k, (__u32)start);
	cr_assert_eq(start, -1, "the root has no parent");
	/* garbage: a label running past the end */
	memset(&k, 0, sizeof(k));
	k.name[250] = 9;
	cr_assert_eq(rf_host_key_up(&k, 250), -1);
}

/* ---- learned addresses ---- */

static const struct rf_host_rule rule_tcp443 = {
    {RF_PROTO_TCP, RF_DIR_OUT, 0, 0, 443, 443}, RF_HOST_EXACT, 3};
static const struct rf_host_rule rule_udp53 = {
    {RF_PROTO_UDP, RF_DIR_OUT, 0, 0, 53, 53}, RF_HOST_BELOW, 4};

Test(dns, learn_merge_refreshes_by_rule_and_fills_slots)
{
	struct rf_host_addr_val v = {};
	struct rf_host_rule r;
	int i;

	cr_assert_eq(rf_host_learn_merge(&v, &rule_tcp443, 5000, 100), 0);
	cr_assert_eq(v.count, 1);
	cr_assert_eq(rf_host_learn_merge(&v, &rule_tcp443, 4000, 100), 0);
	cr_assert_eq(v.e[0].expires_ns, 5000, "the later expiry is kept");
	cr_assert_eq(rf_host_learn_merge(&v, &rule_tcp443, 9000, 100), 0);
	cr_assert_eq(v.e[0].expires_ns, 9000);
	cr_assert_eq(rf_host_learn_merge(&v, &rule_udp53, 7000, 100), 0);
	cr_assert_eq(v.count, 2);
	cr_assert_eq(v.e[1].rule_id, 4);
	/* fill every slot with other rules; one more is refused */
	r = rule_tcp443;
	for (i = 2; i < RF_HOST_ADDR_ENTRIES; i++) {
		r.id = 10 + (__u32)i;
		cr_assert_eq(rf_host_learn_merge(&v, &r, 7000, 100), 0);
	}
	r.id = 99;
	cr_assert_eq(rf_host_learn_merge(&v, &r, 7000, 100), -1);
	/* once one has expired, its slot is taken */
	cr_assert_eq(rf_host_learn_merge(&v, &r, 20000, 8000), 0);
	cr_assert_eq(v.e[1].rule_id, 99, "rule 4 expired at 7000");
	cr_assert_eq(v.count, RF_HOST_ADDR_ENTRIES);
}

Test(dns, learned_verdict_allow_expired_none)
{
	struct rf_host_addr_val v = {};

	rf_host_learn_merge(&v, &rule_tcp443, 5000, 0);
	cr_assert_eq(rf_host_addr_verdict(&v, RF_IPPROTO_TCP, 443, 40000, RF_MATCH_OUT_INIT, 100),
		     RF_HOST_ALLOW);
	cr_assert_eq(rf_host_addr_verdict(&v, RF_IPPROTO_TCP, 444, 40000, RF_MATCH_OUT_INIT, 100),
		     RF_HOST_NONE, "another port");
	cr_assert_eq(rf_host_addr_verdict(&v, RF_IPPROTO_UDP, 443, 40000, RF_MATCH_OUT_INIT, 100),
		     RF_HOST_NONE, "another protocol");
	cr_assert_eq(rf_host_addr_verdict(&v, RF_IPPROTO_TCP, 40000, 443, RF_MATCH_IN_INIT, 100),
		     RF_HOST_NONE, "dir out only");
	cr_assert_eq(rf_host_addr_verdict(&v, RF_IPPROTO_TCP, 443, 40000, RF_MATCH_OUT_INIT, 5000),
		     RF_HOST_EXPIRED);
	/* garbage count is clamped; expires 0 is an unused slot */
	v.count = 1000;
	v.e[0].expires_ns = 0;
	cr_assert_eq(rf_host_addr_verdict(&v, RF_IPPROTO_TCP, 443, 40000, RF_MATCH_OUT_INIT, 100),
		     RF_HOST_NONE);
}
