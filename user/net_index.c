// SPDX-License-Identifier: GPL-2.0-only
/* The flat index of rf_allow_net: rebuilt, kept in step, verified (include/rf_net_index.h). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "rf_net_index.h"
#include "policy.bpf.h"

#define RF_NET_REBUILD_TRIES 3

void rf_net_index_key(const struct rf_net_key *k, struct rf_net_key *out)
{
	__u64 hi, lo;
	__u32 plen = k->prefixlen > 128 ? 128 : k->prefixlen;

	memcpy(&hi, k->addr, 8);
	memcpy(&lo, k->addr + 8, 8);
	rf_addr_mask(&hi, &lo, plen);
	memset(out, 0, sizeof(*out));
	out->prefixlen = k->prefixlen;
	memcpy(out->addr, &hi, 8);
	memcpy(out->addr + 8, &lo, 8);
}

static int sync_get(int sync, struct rf_net_sync *s)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(sync, &zero, s) ? -errno : 0;
}

static int sync_put(int sync, const struct rf_net_sync *s)
{
	__u32 zero = 0;

	return bpf_map_update_elem(sync, &zero, s, BPF_ANY) ? -errno : 0;
}

bool rf_net_index_valid(int sync)
{
	struct rf_net_sync s;

	return sync >= 0 && !sync_get(sync, &s) && s.state == RF_NET_SYNC_VALID;
}

bool rf_net_index_settled(int sync)
{
	struct rf_net_sync s;

	return sync >= 0 && !sync_get(sync, &s) &&
	       (s.state == RF_NET_SYNC_VALID || s.state == RF_NET_SYNC_TRIE);
}

/* The trie's value at exactly key k (not a shorter covering prefix): 0, or -ENOENT. */
static int trie_exact(int trie, const struct rf_net_key *k, struct rf_net_val *v)
{
	if (bpf_map_lookup_elem(trie, k, v))
		return -errno;
	return v->prefixlen == k->prefixlen ? 0 : -ENOENT;
}

static int hash_clear(int hash)
{
	struct rf_net_key k;

	while (!bpf_map_get_next_key(hash, NULL, &k))
		if (bpf_map_delete_elem(hash, &k) && errno != ENOENT)
			return -errno;
	return 0;
}

/* Copy every trie rule into the (empty) index; *bad when it cannot mirror the trie walk. */
static int hash_fill(int trie, int hash, struct rf_net_sync *s, bool *bad)
{
	struct rf_net_key key, next, hk;
	struct rf_net_val v;
	void *prev = NULL;

	while (!bpf_map_get_next_key(trie, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(trie, &key, &v))
			continue; /* deleted meanwhile */
		if (v.prefixlen != key.prefixlen || key.prefixlen > 128 ||
		    rf_net_lens_add(s, key.prefixlen)) {
			*bad = true;
			return 0;
		}
		rf_net_index_key(&key, &hk);
		if (bpf_map_update_elem(hash, &hk, &v, BPF_ANY)) {
			if (errno != E2BIG && errno != ENOMEM)
				return -errno;
			*bad = true; /* more rules than the index holds (a narrower target's) */
			return 0;
		}
		s->entries++;
	}
	return 0;
}

static __u64 rebuild_token(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((__u64)getpid() << 40) ^ ((__u64)ts.tv_sec << 20) ^ (__u64)ts.tv_nsec ^ 1;
}

int rf_net_index_rebuild(int trie, int hash, int sync)
{
	struct rf_net_sync s, now;
	int ret, tries;
	bool bad;

	for (tries = 0; tries < RF_NET_REBUILD_TRIES; tries++) {
		memset(&s, 0, sizeof(s));
		s.token = rebuild_token();
		bad = false;
		if ((ret = sync_put(sync, &s)) || (ret = hash_clear(hash)) ||
		    (ret = hash_fill(trie, hash, &s, &bad)) || (ret = sync_get(sync, &now)))
			return ret;
		if (now.state || now.token != s.token)
			continue; /* another writer marked it meanwhile: its change may be missing
				   */
		s.state = bad ? RF_NET_SYNC_TRIE : RF_NET_SYNC_VALID;
		return sync_put(sync, &s) ?: bad;
	}
	return 1;
}

int rf_net_index_forget(int hash, int sync, const struct rf_net_key *k)
{
	struct rf_net_sync s;
	struct rf_net_key hk;
	struct rf_net_val v;
	int ret;

	rf_net_index_key(k, &hk);
	if (bpf_map_lookup_elem(hash, &hk, &v))
		return 0;
	if (bpf_map_delete_elem(hash, &hk) && errno != ENOENT)
		return -errno;
	/* one prefix fewer: until the trie's goes too, the counts differ and the trie decides */
	if ((ret = sync_get(sync, &s)) || s.state != RF_NET_SYNC_VALID)
		return ret;
	s.entries--;
	return sync_put(sync, &s);
}

int rf_net_index_update(int trie, int hash, int sync, const struct rf_net_key *k)
{
	struct rf_net_sync s, grown;
	struct rf_net_key hk;
	struct rf_net_val v, old;
	int ret;

	if ((ret = sync_get(sync, &s)))
		return ret;
	if (s.state == RF_NET_SYNC_TRIE && !trie_exact(trie, k, &v))
		return 1; /* one more rule cannot bring the lengths back under the bound */
	if (s.state != RF_NET_SYNC_VALID || k->prefixlen > 128)
		return rf_net_index_rebuild(trie, hash, sync);
	if (trie_exact(trie, k, &v))
		return rf_net_index_forget(hash, sync, k);
	rf_net_index_key(k, &hk);
	grown = s;
	if (rf_net_lens_add(&grown, k->prefixlen)) {
		grown.state = RF_NET_SYNC_TRIE; /* too many lengths: the trie walk is cheaper */
		return sync_put(sync, &grown) ?: 1;
	}
	if (bpf_map_lookup_elem(hash, &hk, &old))
		grown.entries++; /* a new prefix (the trie counted it already) */
	/* the entry first, then its length and count: never a probe of a length with no entry */
	if (bpf_map_update_elem(hash, &hk, &v, BPF_ANY)) {
		if (errno != E2BIG && errno != ENOMEM)
			return -errno;
		grown = s; /* the index is full: the trie decides */
		grown.state = RF_NET_SYNC_TRIE;
		return sync_put(sync, &grown) ?: 1;
	}
	return memcmp(&grown, &s, sizeof(s)) ? sync_put(sync, &grown) : 0;
}

/* Does every trie rule have the same value in the index, and nothing else? */
static int same_rules(int trie, int hash)
{
	struct rf_net_key key, next, hk;
	struct rf_net_val v, hv;
	void *prev = NULL;
	size_t n = 0, m = 0;

	while (!bpf_map_get_next_key(trie, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(trie, &key, &v))
			continue;
		rf_net_index_key(&key, &hk);
		if (bpf_map_lookup_elem(hash, &hk, &hv) || memcmp(&v, &hv, sizeof(v)))
			return 0;
		n++;
	}
	prev = NULL;
	while (!bpf_map_get_next_key(hash, prev, &next)) {
		key = next;
		prev = &key;
		m++;
	}
	return n == m;
}

int rf_net_index_verify(int trie, int hash, int sync)
{
	struct rf_net_sync s;
	int ret;

	if ((ret = sync_get(sync, &s)))
		return ret;
	if (s.state != RF_NET_SYNC_VALID)
		return 0;
	return same_rules(trie, hash);
}
