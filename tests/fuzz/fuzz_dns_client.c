// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host rules' DNS client (user/dns.c): any datagram, taken as the answer to a query for
 * mgmt.example.com (A, then AAAA) with the id in its first two bytes, either yields addresses
 * only when it answers that very query (QR set, TC clear, one question equal to the query's) or
 * is refused whole (no address), and never reads outside the datagram.
 */
#include <errno.h>
#include "fuzz.h"
#include "rf_dns.h"

static const __u8 qname[] = {4,	  'm', 'g', 'm', 't', 7,   'e', 'x', 'a',
			     'm', 'p', 'l', 'e', 3,   'c', 'o', 'm', 0};

static void check(const uint8_t *pkt, size_t len, __u16 qtype)
{
	struct rf_dns_addr out[4];
	__u16 id = len >= 2 ? (__u16)(pkt[0] << 8 | pkt[1]) : 0;
	size_t n = 99, i;
	int ret;

	ret = rf_dns_answer_parse(pkt, len, id, "mgmt.example.com", qtype, out, 4, &n);
	FUZZ_CHECK(ret == 0 || ret == -EBADMSG || ret == -ENODATA, "ret %d", ret);
	FUZZ_CHECK(n <= 4, "%zu addresses into 4 slots", n);
	if (ret) {
		FUZZ_CHECK(n == 0, "refused, yet %zu addresses", n);
		return;
	}
	/* taken: it is an answer (QR), not truncated, one question, and that question is ours */
	FUZZ_CHECK(len >= 12 + sizeof(qname) + 4, "taken from %zu bytes", len);
	FUZZ_CHECK((pkt[2] & 0x80) && !(pkt[2] & 0x02) && pkt[4] == 0 && pkt[5] == 1, "header");
	for (i = 0; i < sizeof(qname); i++) {
		__u8 c = pkt[12 + i];

		if (c >= 'A' && c <= 'Z')
			c = (__u8)(c - 'A' + 'a');
		FUZZ_CHECK(c == qname[i], "question byte %zu", i);
	}
	for (i = 0; i < n; i++) {
		static const __u8 mapped[12] = {[10] = 0xff, [11] = 0xff};

		FUZZ_CHECK(qtype == RF_DNS_TYPE_AAAA || !memcmp(out[i].addr, mapped, 12),
			   "an A answer that is not IPv4-mapped");
		FUZZ_CHECK(out[i].ttl <= 0x7fffffff, "TTL %u", out[i].ttl);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *pkt;

	if (size > 4096)
		return 0;
	pkt = malloc(size ? size : 1); /* exactly size bytes: ASan sees any read past it */
	if (!pkt)
		return 0;
	memcpy(pkt, data, size);
	check(pkt, size, RF_DNS_TYPE_A);
	check(pkt, size, RF_DNS_TYPE_AAAA);
	free(pkt);
	return 0;
}
