/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The DNS parser of host rules (issue 24), shared by the BPF programs (bpf/dns.bpf.h) and the
 * unit tests (tests/unit/test_dns.c): pure code over a work area (struct rf_dns_scratch), no
 * helpers, no maps. Every index into an array is masked so that the verifier sees it in bounds;
 * the logic never relies on the mask (it checks lengths first). Fail closed: whatever is not
 * understood makes the whole answer admit nothing.
 */
#ifndef RF_DNS_PARSE_BPF_H
#define RF_DNS_PARSE_BPF_H

#include "rf_host.h"
#include "policy.bpf.h"

#ifndef RF_INLINE
#define RF_INLINE static inline __attribute__((always_inline))
#endif

#define RF_DNS_MSG_MAX	   1232 /* bytes of DNS message parsed (EDNS's usual size); larger: ignored */
#define RF_DNS_BUF	   2048 /* power of two above RF_DNS_MSG_MAX: indices are masked with it */
#define RF_DNS_MASK	   (RF_DNS_BUF - 1)
#define RF_DNS_ANSWERS_MAX 32 /* answer records read; an answer with more admits nothing */
#define RF_DNS_CHAIN_MAX   8  /* names of a CNAME chain, the question included */
#define RF_DNS_ADDRS_MAX   16 /* addresses one answer admits; more: the answer admits nothing */
#define RF_DNS_PTR_MAX	   16 /* compression pointers followed in one name */
#define RF_HOST_LEVELS_MAX 32 /* parent domains tried for "*." rules */

#define RF_DNS_TYPE_A	  1
#define RF_DNS_TYPE_CNAME 5
#define RF_DNS_TYPE_AAAA  28
#define RF_DNS_CLASS_IN	  1

/* Where rf_dns_decode_name() is in a name. */
struct rf_dns_cursor {
	__u32 pos, limit, o, rem, hops;
	__s32 end;
};

/* The parser's work area: a per-CPU map value in BPF (too large for the stack). */
struct rf_dns_scratch {
	__u8 msg[RF_DNS_BUF + 64]; /* the DNS message (UDP payload); slack for chunked copies */
	__u8 tmp[RF_HOST_NAME_LEN] __attribute__((aligned(8))); /* a name being decoded */
	struct rf_host_key name;				/* the last name decoded */
	struct rf_host_key chain[RF_DNS_CHAIN_MAX];		/* [0]: the question */
	struct rf_host_key key;					/* rf_host_name lookups */
	__u8 addr[RF_DNS_ADDRS_MAX][16];
	__u32 ttl[RF_DNS_ADDRS_MAX];
	struct rf_host_rule rules[RF_HOST_ADDR_ENTRIES]; /* the rules covering the question */
	struct rf_host_addr_val val;			 /* an rf_host_addr value being built */
	struct rf_dns_pending_val pending;		 /* an rf_dns_pending value being built */
	struct rf_dns_cursor cur;
	__u32 slot;	/* BPF: which per-CPU slot this is */
	__u32 len;	/* bytes of msg */
	__u32 name_len; /* wire length of name */
	__u32 nchain;
	__u32 naddr;
	__u32 nrules;
	__u16 qtype;
	__u16 ancount;
};

/*
 * An index the compiler must not see through: it would drop a mask that an earlier comparison
 * makes redundant in C, while the verifier needs the mask to bound the access.
 */
#ifdef __bpf__
#define RF_OPAQUE(x)                                                                               \
	({                                                                                         \
		__u32 __v = (x);                                                                   \
		asm volatile("" : "+r"(__v));                                                      \
		__v;                                                                               \
	})
#else
#define RF_OPAQUE(x) (x)
#endif

/* Byte pos of the message (the caller has checked pos < len). */
RF_INLINE __u8 rf_dns_at(const struct rf_dns_scratch *s, __u32 pos)
{
	return s->msg[RF_OPAQUE(pos) & RF_DNS_MASK];
}

/* Big-endian 16/32-bit reads from the message; the caller has checked off + n <= len. */
RF_INLINE __u32 rf_dns_u16(const struct rf_dns_scratch *s, __u32 off)
{
	return (__u32)rf_dns_at(s, off) << 8 | rf_dns_at(s, off + 1);
}

RF_INLINE __u32 rf_dns_u32(const struct rf_dns_scratch *s, __u32 off)
{
	return rf_dns_u16(s, off) << 16 | rf_dns_u16(s, off + 2);
}

RF_INLINE __u8 rf_dns_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Steps of one name: length bytes, label bytes and pointers of a name of at most 255 bytes. */
#define RF_DNS_NAME_STEPS (RF_HOST_NAME_LEN + 2 * RF_DNS_PTR_MAX)

/*
 * Decode the name at off into s->tmp (lowercased wire format, left-aligned) and s->name_len.
 * Returns the offset right after the name where it sits (after its first pointer, or its final
 * 0), or -1: past the end, a label type other than 0 (0x40/0x80), a name over 255 bytes, or a
 * compression pointer that does not point strictly backwards: before the name's own start for
 * the first one, before the previous pointer's target after that (so no loop is possible), and
 * not into the 12-byte header. At most RF_DNS_PTR_MAX pointers.
 */
RF_INLINE int rf_dns_decode_name(struct rf_dns_scratch *s, __u32 off)
{
	/*
	 * The cursor lives in the work area, read and written through volatile: the verifier then
	 * sees unknown values at each iteration's start and verifies one iteration per step instead
	 * of one per path through the name (which it cannot finish).
	 */
	volatile struct rf_dns_cursor *cur = &s->cur;
	__u32 i;

	cur->pos = off;
	cur->limit = off;
	cur->o = 0;
	cur->rem = 0;
	cur->hops = 0;
	cur->end = -1;
	for (i = 0; i < RF_DNS_NAME_STEPS; i++) {
		__u32 pos = cur->pos, o = cur->o, rem = cur->rem, t;
		__u8 c;

		if (pos >= s->len || pos >= RF_DNS_MSG_MAX)
			return -1;
		c = rf_dns_at(s, pos);
		if (rem) {
			s->tmp[RF_OPAQUE(o) & 0xff] = rf_dns_lower(c);
			cur->o = o + 1;
			cur->pos = pos + 1;
			cur->rem = rem - 1;
			continue;
		}
		if (c == 0) {
			s->tmp[RF_OPAQUE(o) & 0xff] = 0;
			s->name_len = o + 1;
			return cur->end < 0 ? (int)pos + 1 : cur->end;
		}
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= s->len)
				return -1;
			t = (__u32)(c & 0x3f) << 8 | rf_dns_at(s, pos + 1);
			if (t >= cur->limit || t < 12 || cur->hops >= RF_DNS_PTR_MAX)
				return -1;
			cur->hops = cur->hops + 1;
			if (cur->end < 0)
				cur->end = (int)pos + 2;
			cur->limit = t;
			cur->pos = t;
			continue;
		}
		if (c & 0xc0)
			return -1; /* extended (0x40) or reserved (0x80) label types */
		if (o + 1 + c + 1 > RF_HOST_NAME_LEN - 1)
			return -1; /* over 255 bytes with the final 0 */
		s->tmp[RF_OPAQUE(o) & 0xff] = c;
		cur->o = o + 1;
		cur->pos = pos + 1;
		cur->rem = c;
	}
	return -1; /* out of steps */
}

/*
 * s->tmp (s->name_len bytes, 1..255) right-aligned into s->name, zeros in front. The padding is
 * read from the work area at every step: a comparison with a register would narrow its range
 * differently on each path, and the verifier would walk the loop once per range.
 */
RF_INLINE void rf_dns_align_name(struct rf_dns_scratch *s)
{
	volatile struct rf_dns_cursor *cur = &s->cur;
	__u32 i;

	cur->o = RF_HOST_NAME_LEN - (s->name_len & 0xff);
	for (i = 0; i < RF_HOST_NAME_LEN; i++) {
		__u32 pad = cur->o;

		s->name.name[i] = i < pad ? 0 : s->tmp[RF_OPAQUE(i - pad) & 0xff];
	}
}

/* How a name is read: the BPF side makes both steps (global) function calls. */
#ifndef RF_DNS_DECODE
#define RF_DNS_DECODE(s, off) rf_dns_decode_name(s, off)
#define RF_DNS_ALIGN(s)	      rf_dns_align_name(s)
#endif

/* The name at off as an rf_host_key into s->name: rf_dns_decode_name()'s result. */
RF_INLINE int rf_dns_read_name(struct rf_dns_scratch *s, __u32 off)
{
	int end = RF_DNS_DECODE(s, off);

	if (end >= 0)
		RF_DNS_ALIGN(s);
	return end;
}

RF_INLINE int rf_host_key_eq(const struct rf_host_key *a, const struct rf_host_key *b)
{
	const __u64 *x = (const __u64 *)a->name, *y = (const __u64 *)b->name;
	int i;

	for (i = 0; i < RF_HOST_NAME_LEN / 8; i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

RF_INLINE void rf_host_key_copy(struct rf_host_key *dst, const struct rf_host_key *src)
{
	__u64 *x = (__u64 *)dst->name;
	const __u64 *y = (const __u64 *)src->name;
	int i;

	for (i = 0; i < RF_HOST_NAME_LEN / 8; i++)
		x[i] = y[i];
}

/* Is s->name one of the names of the chain so far? */
RF_INLINE int rf_dns_in_chain(const struct rf_dns_scratch *s)
{
	int k;

	for (k = 0; k < RF_DNS_CHAIN_MAX; k++) {
		if ((__u32)k >= s->nchain)
			break;
		if (rf_host_key_eq(&s->name, &s->chain[k]))
			return 1;
	}
	return 0;
}

/*
 * Where a right-aligned name key begins (its first length byte): RF_HOST_NAME_LEN - wire
 * length. The root name (a lone 0) begins at 255.
 */
RF_INLINE __u32 rf_host_key_start(const struct rf_host_key *k)
{
	__u32 i;

	for (i = 0; i < RF_HOST_NAME_LEN - 1; i++)
		if (k->name[i])
			break;
	return i;
}

/*
 * The parent domain in place: zero the first label of the key that begins at start. Returns
 * where the parent begins, or -1 when the parent would be the root (no rule names it), the key
 * is the root, or its first label runs past the end (garbage).
 * "a.example.com" -> "example.com" -> "com" -> -1.
 */
RF_INLINE int rf_host_key_up(struct rf_host_key *k, __u32 start)
{
	__u32 n, i;

	if (start >= RF_HOST_NAME_LEN - 1)
		return -1;
	n = k->name[RF_OPAQUE(start) & 0xff];
	if (n == 0 || start + n + 1 >= RF_HOST_NAME_LEN - 1)
		return -1;
	for (i = 0; i < 64; i++) {
		if (i > n)
			break;
		k->name[RF_OPAQUE(start + i) & 0xff] = 0;
	}
	return (int)(start + n + 1);
}

/* DNS header checks; rcode/tc only for answers */
#define RF_DNS_QR     0x8000
#define RF_DNS_OPCODE 0x7800
#define RF_DNS_TC     0x0200
#define RF_DNS_RCODE  0x000f

/*
 * A standard query with one question of class IN and type A or AAAA: its name into s->name,
 * s->qtype. Returns 0, or -1 for anything else (not recorded).
 */
RF_INLINE int rf_dns_query(struct rf_dns_scratch *s)
{
	__u32 flags, qtype;
	int end;

	if (s->len < 12 || s->len > RF_DNS_MSG_MAX)
		return -1;
	flags = rf_dns_u16(s, 2);
	if ((flags & (RF_DNS_QR | RF_DNS_OPCODE)) || rf_dns_u16(s, 4) != 1)
		return -1;
	end = rf_dns_read_name(s, 12);
	if (end < 0 || (__u32)end + 4 > s->len)
		return -1;
	qtype = rf_dns_u16(s, end);
	if ((qtype != RF_DNS_TYPE_A && qtype != RF_DNS_TYPE_AAAA) ||
	    rf_dns_u16(s, end + 2) != RF_DNS_CLASS_IN)
		return -1;
	s->qtype = (__u16)qtype;
	return 0;
}

/*
 * The header and question of an answer to the pending query whose question is s->chain[0] and
 * type s->qtype: QR 1, opcode 0, not truncated, RCODE 0 (NOERROR), one question equal to it
 * (name, type, class IN). Sets s->ancount, resets the chain to the question and the addresses.
 * Returns the offset of the answer section, or -1.
 */
RF_INLINE int rf_dns_answer_start(struct rf_dns_scratch *s)
{
	__u32 flags, an;
	int end;

	if (s->len < 12 || s->len > RF_DNS_MSG_MAX)
		return -1;
	flags = rf_dns_u16(s, 2);
	if (!(flags & RF_DNS_QR) || (flags & (RF_DNS_OPCODE | RF_DNS_TC | RF_DNS_RCODE)))
		return -1;
	an = rf_dns_u16(s, 6);
	if (rf_dns_u16(s, 4) != 1 || an == 0 || an > RF_DNS_ANSWERS_MAX)
		return -1;
	end = rf_dns_read_name(s, 12);
	if (end < 0 || (__u32)end + 4 > s->len || !rf_host_key_eq(&s->name, &s->chain[0]))
		return -1;
	if (rf_dns_u16(s, end) != s->qtype || rf_dns_u16(s, end + 2) != RF_DNS_CLASS_IN)
		return -1;
	s->ancount = (__u16)an;
	s->nchain = 1;
	s->naddr = 0;
	return end + 4;
}

/*
 * One record of the answer section at off. A record owned by a name of the chain counts: a
 * CNAME (class IN) appends its target to the chain, an A or AAAA of the question's type (class
 * IN, 4 or 16 bytes) is collected with its TTL; anything else is skipped. Returns the offset of
 * the next record, or -1: malformed, a record past the end, an address of the wrong size, a
 * CNAME whose target does not fill its data exactly, a chain longer than RF_DNS_CHAIN_MAX or
 * more than RF_DNS_ADDRS_MAX addresses (the whole answer then admits nothing).
 */
RF_INLINE int rf_dns_answer_rr(struct rf_dns_scratch *s, __u32 off)
{
	__u32 type, class, rdlen, rdata, next, n, i;
	int end = rf_dns_read_name(s, off);

	if (end < 0 || (__u32)end + 10 > s->len)
		return -1;
	type = rf_dns_u16(s, end);
	class = rf_dns_u16(s, end + 2);
	rdlen = rf_dns_u16(s, end + 8);
	rdata = (__u32)end + 10;
	next = rdata + rdlen;
	if (next > s->len)
		return -1;
	if (class != RF_DNS_CLASS_IN || !rf_dns_in_chain(s))
		return (int)next;
	if (type == RF_DNS_TYPE_CNAME) {
		n = s->nchain;
		if (n >= RF_DNS_CHAIN_MAX || rf_dns_read_name(s, rdata) != (int)next)
			return -1;
		rf_host_key_copy(&s->chain[RF_OPAQUE(n) & (RF_DNS_CHAIN_MAX - 1)], &s->name);
		s->nchain = n + 1;
		return (int)next;
	}
	if (type != s->qtype)
		return (int)next;
	if (rdlen != (type == RF_DNS_TYPE_A ? 4u : 16u))
		return -1;
	n = s->naddr;
	if (n >= RF_DNS_ADDRS_MAX)
		return -1;
	n = RF_OPAQUE(n) & (RF_DNS_ADDRS_MAX - 1);
	for (i = 0; i < 16; i++)
		s->addr[n][i] = 0;
	if (type == RF_DNS_TYPE_A) {
		s->addr[n][10] = 0xff;
		s->addr[n][11] = 0xff;
		for (i = 0; i < 4; i++)
			s->addr[n][12 + i] = rf_dns_at(s, rdata + i);
	} else {
		for (i = 0; i < 16; i++)
			s->addr[n][i] = rf_dns_at(s, rdata + i);
	}
	s->ttl[n] = rf_dns_u32(s, end + 4);
	s->naddr = n + 1;
	return (int)next;
}

/* How the answer loop runs one record: the BPF side makes it a (global) function call. */
#ifndef RF_DNS_ANSWER_RR
#define RF_DNS_ANSWER_RR(s, off) rf_dns_answer_rr(s, off)
#endif

/*
 * An answer to the pending query (s->chain[0], s->qtype) in s->msg: the addresses it admits
 * into s->addr/s->ttl. Returns their number (0 when the chain led to none), or -1 when the
 * answer admits nothing at all. Only the answer section is read.
 */
RF_INLINE int rf_dns_answer(struct rf_dns_scratch *s)
{
	int i, off = rf_dns_answer_start(s);

	if (off < 0)
		return -1;
	for (i = 0; i < RF_DNS_ANSWERS_MAX; i++) {
		if ((__u32)i >= s->ancount)
			break;
		off = RF_DNS_ANSWER_RR(s, (__u32)off);
		if (off < 0)
			return -1;
	}
	return (int)s->naddr;
}

/*
 * Add the rules of a matching rf_host_name value that apply at this level (RF_HOST_EXACT for
 * the name itself, RF_HOST_BELOW for a parent domain) to s->rules, once per rule id, at most
 * RF_HOST_ADDR_ENTRIES (more are left out: not admitted).
 */
RF_INLINE void rf_host_collect(struct rf_dns_scratch *s, const struct rf_host_val *v, __u32 match)
{
	__u32 n = v->count, i, j;

	for (i = 0; i < RF_HOST_MAX_RULES; i++) {
		const struct rf_host_rule *r = &v->r[i];
		__u32 have = s->nrules;
		int dup = 0;

		if (i >= n)
			break;
		if (!(r->match & match) || have >= RF_HOST_ADDR_ENTRIES)
			continue;
		for (j = 0; j < RF_HOST_ADDR_ENTRIES; j++)
			if (j < have && s->rules[j].id == r->id)
				dup = 1;
		if (dup)
			continue;
		s->rules[RF_OPAQUE(have) & (RF_HOST_ADDR_ENTRIES - 1)] = *r;
		s->nrules = have + 1;
	}
}

/* TTL in seconds clamped to [RF_HOST_TTL_MIN, RF_HOST_TTL_MAX] (a TTL over 2^31 counts as 0). */
RF_INLINE __u32 rf_host_ttl(__u32 ttl)
{
	if (ttl & 0x80000000u) /* RFC 2181 8: treat as zero */
		ttl = 0;
	if (ttl < RF_HOST_TTL_MIN)
		return RF_HOST_TTL_MIN;
	return ttl > RF_HOST_TTL_MAX ? RF_HOST_TTL_MAX : ttl;
}

/*
 * Merge rule r, learned with expiry exp (boot ns) at time now, into the learned value v: refresh
 * the entry of the same rule id (keeping the later expiry, taking the rule's current proto,
 * ports and dir), else take the first slot past count or the first expired one. Returns 0, or -1
 * when all RF_HOST_ADDR_ENTRIES slots hold other rules' unexpired entries (not admitted).
 */
RF_INLINE int rf_host_learn_merge(struct rf_host_addr_val *v, const struct rf_host_rule *r,
				  __u64 exp, __u64 now)
{
	__u32 n = v->count, i, slot = RF_HOST_ADDR_ENTRIES;

	if (n > RF_HOST_ADDR_ENTRIES)
		n = RF_HOST_ADDR_ENTRIES;
	for (i = 0; i < RF_HOST_ADDR_ENTRIES; i++) {
		struct rf_host_learned *e = &v->e[i];

		if (i >= n)
			break;
		if (e->rule_id == r->id) {
			e->net = r->net;
			if (e->expires_ns < exp)
				e->expires_ns = exp;
			return 0;
		}
		if (slot == RF_HOST_ADDR_ENTRIES && e->expires_ns <= now)
			slot = i;
	}
	if (slot == RF_HOST_ADDR_ENTRIES) {
		if (n >= RF_HOST_ADDR_ENTRIES)
			return -1;
		slot = n;
		v->count = n + 1;
	}
	slot = RF_OPAQUE(slot) & (RF_HOST_ADDR_ENTRIES - 1);
	v->e[slot].net = r->net;
	v->e[slot].rule_id = r->id;
	v->e[slot].pad = 0;
	v->e[slot].expires_ns = exp;
	return 0;
}

/* rf_host_addr verdicts */
#define RF_HOST_NONE	0 /* no entry allows the flow */
#define RF_HOST_ALLOW	1 /* an unexpired entry allows it */
#define RF_HOST_EXPIRED 2 /* only expired entries would */

/*
 * What a learned value says about a flow (rf_entry_allows() semantics) at boot time now. A
 * garbage count is clamped; an entry with expires_ns 0 is unused.
 */
RF_INLINE int rf_host_addr_verdict(const struct rf_host_addr_val *v, __u8 proto, __u16 rport,
				   __u16 lport, int match, __u64 now)
{
	__u32 n = v->count;
	int i, r = RF_HOST_NONE;

	for (i = 0; i < RF_HOST_ADDR_ENTRIES; i++) {
		const struct rf_host_learned *e = &v->e[i];

		if ((__u32)i >= n)
			break;
		if (!e->expires_ns || !rf_entry_allows(&e->net, proto, rport, lport, match))
			continue;
		if (now < e->expires_ns)
			return RF_HOST_ALLOW;
		r = RF_HOST_EXPIRED;
	}
	return r;
}

#endif /* RF_DNS_PARSE_BPF_H */
