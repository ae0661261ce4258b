// SPDX-License-Identifier: GPL-2.0-only
/* The flat index's pure parts: masking an address to a prefix, the list of lengths in use. */
#include <arpa/inet.h>
#include <string.h>
#include <criterion/criterion.h>
#include "policy.bpf.h"
#include "rf_net_index.h"
#include "helpers.h"

static struct rf_net_key key_of(const char *addr, __u32 plen)
{
	struct rf_net_key k = {.prefixlen = plen};

	cr_assert_eq(inet_pton(AF_INET6, addr, k.addr), 1, "%s", addr);
	return k;
}

/* Every length from 0 to 128 keeps exactly the first plen bits of an all-ones address. */
Test(net_index, mask_keeps_exactly_the_prefix_bits)
{
	struct rf_net_key all = {}, out;
	__u32 plen, bit;

	memset(all.addr, 0xff, sizeof(all.addr));
	for (plen = 0; plen <= 128; plen++) {
		all.prefixlen = plen;
		rf_net_index_key(&all, &out);
		cr_assert_eq(out.prefixlen, plen);
		for (bit = 0; bit < 128; bit++) {
			int set = out.addr[bit / 8] >> (7 - bit % 8) & 1;

			cr_assert_eq(set, bit < plen, "plen %u bit %u", plen, bit);
		}
	}
}

/* Two keys naming the same prefix (bits past it differ) get the same index key; neighbours not. */
Test(net_index, same_prefix_same_key_and_a_neighbour_another)
{
	static const struct {
		const char *a, *b;
		__u32 plen;
		int same;
	} cases[] = {
	    {"2001:db8::1", "2001:db8::ffff", 64, 1},
	    {"2001:db8::1", "2001:db8:0:1::1", 64, 0},
	    {"2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:7", 127, 1},
	    {"2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:8", 127, 0},
	    {"::ffff:192.0.2.2", "::ffff:192.0.2.200", 120, 1}, /* 192.0.2.0/24 */
	    {"::ffff:192.0.2.2", "::ffff:192.0.3.2", 120, 0},
	    {"::ffff:192.0.2.2", "::ffff:192.0.2.3", 128, 0},
	    {"2001:db8::", "2001:db8:ffff:ffff::", 32, 1},
	    {"2001:db8::", "2001:db9::", 32, 0},
	    {"2001:db8::", "2001:db9::", 31, 1}, /* db8/db9 differ in bit 31 only */
	    {"::", "ffff::", 0, 1},
	    {"2001:db8:0:0:8000::", "2001:db8::", 65, 0}, /* bit 64: the second half's first */
	    {"2001:db8:0:0:8000::", "2001:db8::", 64, 1},
	};
	struct rf_net_key a, b, ka, kb;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		a = key_of(cases[i].a, cases[i].plen);
		b = key_of(cases[i].b, cases[i].plen);
		rf_net_index_key(&a, &ka);
		rf_net_index_key(&b, &kb);
		cr_assert_eq(!memcmp(&ka, &kb, sizeof(ka)), cases[i].same, "%s vs %s /%u",
			     cases[i].a, cases[i].b, cases[i].plen);
	}
}

/* The address halves as the BPF side masks them (rf_addr_mask) equal the byte-wise result. */
Test(net_index, bpf_side_mask_matches)
{
	struct rf_net_key k = key_of("2001:db8:1234:5678:9abc:def0:1357:2468", 0), out;
	__u64 hi, lo;
	__u32 plen;

	for (plen = 0; plen <= 128; plen++) {
		k.prefixlen = plen;
		rf_net_index_key(&k, &out);
		memcpy(&hi, k.addr, 8);
		memcpy(&lo, k.addr + 8, 8);
		rf_addr_mask(&hi, &lo, plen);
		cr_assert_eq(memcmp(&hi, out.addr, 8), 0, "plen %u high half", plen);
		cr_assert_eq(memcmp(&lo, out.addr + 8, 8), 0, "plen %u low half", plen);
	}
}

Test(net_index, lengths_longest_first_without_duplicates)
{
	static const __u32 add[] = {64, 128, 64, 0, 120, 128, 7};
	static const __u8 want[] = {128, 120, 64, 7, 0};
	struct rf_net_sync s = {};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(add); i++)
		cr_assert_eq(rf_net_lens_add(&s, add[i]), 0, "add %u", add[i]);
	cr_assert_eq(s.nlens, ARRAY_SIZE(want));
	cr_assert_eq(memcmp(s.lens, want, sizeof(want)), 0);
}

/* RF_NET_FAST_LENS lengths fit; one more is refused (the trie decides), a known one is not. */
Test(net_index, lengths_bounded)
{
	struct rf_net_sync s = {};
	__u32 i;

	for (i = 0; i < RF_NET_FAST_LENS; i++)
		cr_assert_eq(rf_net_lens_add(&s, 100 + i), 0, "length %u", 100 + i);
	cr_assert_eq(rf_net_lens_add(&s, 100), 0, "a length already listed");
	cr_assert_eq(rf_net_lens_add(&s, 1), -1, "one length too many");
	cr_assert_eq(s.nlens, RF_NET_FAST_LENS);
	s.nlens = 200; /* garbage count (another writer): refused, never read past lens */
	cr_assert_eq(rf_net_lens_add(&s, 5), -1);
}
