/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The destination lookup by hash, one probe per prefix length in use (LPM by hash): its cost
 * follows the number of distinct prefix lengths that have rules, not the depth of the trie.
 * rf_allow_net (the LPM trie) stays the authority: rf_net_hash is an index of it, trusted only
 * while rf_net_sync says it is in sync (include/ringfence.h); otherwise rf_dest_fast() returns
 * -1 and the caller walks the trie.
 */
#ifndef RF_LOOKUP_BPF_H
#define RF_LOOKUP_BPF_H

#include "policy.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_NET_MAX_RULES_DEFAULT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rf_net_key);
	__type(value, struct rf_net_val);
} rf_net_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rf_net_sync);
} rf_net_sync SEC(".maps");

/* The kernel's LPM trie (kernel/bpf/lpm_trie.c): its count of prefixes, read through CO-RE. */
struct lpm_trie___rf {
	size_t n_entries;
} __attribute__((preserve_access_index));

/*
 * Does the trie hold as many prefixes as when the index was made? A writer that added or deleted
 * one without marking the index changed the count. Where the kernel does not say (no such
 * field), never: the trie decides. So also in the object for kernels without BTF of their own
 * (RF_NO_KFUNC): the verifier allows reading a map's fields only with the kernel's BTF, so there
 * the index is never trusted and the trie decides, as before the index.
 */
static __always_inline bool rf_trie_count_is(__u32 entries)
{
#ifdef RF_NO_KFUNC
	return false;
#else
	const struct lpm_trie___rf *t = (const void *)&rf_allow_net;

	if (!bpf_core_field_exists(t->n_entries))
		return false;
	return (__u32)t->n_entries == entries;
#endif
}

/*
 * The rule for the remote address at prefix length plen in the index: -1 none, 0 a rule none of
 * whose entries allows the flow, 1 allowed. Global, scalar arguments only (Linux 5.10).
 */
__noinline int rf_hash_allows(__u64 addr_hi, __u64 addr_lo, __u64 meta, __u32 plen)
{
	struct rf_net_key key = {};
	const struct rf_net_val *v;

	if (plen > 128)
		return -1;
	rf_addr_mask(&addr_hi, &addr_lo, plen);
	key.prefixlen = plen;
	__builtin_memcpy(key.addr, &addr_hi, 8);
	__builtin_memcpy(key.addr + 8, &addr_lo, 8);
	v = bpf_map_lookup_elem(&rf_net_hash, &key);
	if (!v)
		return -1;
	return rf_net_val_allows(v, meta & 0xff, (meta >> 16) & 0xffff, (meta >> 32) & 0xffff,
				 (meta >> 8) & 0xff)
		   ? 1
		   : 0;
}

/*
 * -1: the index is not in sync (walk the trie); else the verdict: 1 if a rule of any length
 * covering the address allows the flow. The same verdict as the trie walk, which tries every
 * covering prefix longest first until one allows (up to RF_LPM_WALK_MAX of them; the index
 * holds at most RF_NET_FAST_LENS < RF_LPM_WALK_MAX lengths, and the writer leaves it out of
 * sync when a value's prefixlen is not its key's, which would make the walk skip levels).
 * rf_allow_net must be defined before this header is included.
 */
__noinline int rf_dest_fast(__u64 addr_hi, __u64 addr_lo, __u64 meta)
{
	const struct rf_net_sync *s;
	__u32 zero = 0, n;
	int i;

	s = bpf_map_lookup_elem(&rf_net_sync, &zero);
	if (!s || s->state != RF_NET_SYNC_VALID || !rf_trie_count_is(s->entries))
		return -1;
	n = s->nlens;
	if (n > RF_NET_FAST_LENS)
		return -1;
	for (i = 0; i < RF_NET_FAST_LENS; i++) {
		if ((__u32)i >= n)
			break;
		if (rf_hash_allows(addr_hi, addr_lo, meta, s->lens[i]) > 0)
			return 1;
	}
	return 0;
}

#endif /* RF_LOOKUP_BPF_H */
