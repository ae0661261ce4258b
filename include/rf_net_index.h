/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The flat index of rf_allow_net (rf_net_hash + rf_net_sync, include/ringfence.h): built and kept
 * in step by ringfence's writers, trusted by the programs only while rf_net_sync says so.
 */
#ifndef RF_NET_INDEX_H
#define RF_NET_INDEX_H

#include <stdbool.h>
#include "ringfence.h"

/* The key under which rf_net_hash holds the trie's key k: the address past prefixlen zeroed. */
void rf_net_index_key(const struct rf_net_key *k, struct rf_net_key *out);

/*
 * Rebuild rf_net_hash from the trie and mark it in sync. First marks it out of sync (the
 * programs walk the trie meanwhile); validates only if no other writer marked it again while it
 * ran (else starts over, up to 3 times). Returns 0 in sync, 1 left to the trie on purpose
 * (RF_NET_SYNC_TRIE: more than RF_NET_FAST_LENS prefix lengths, or a value whose prefixlen is not
 * its key's, so the trie walk decides, exactly as before; or 3 tries overtaken by other
 * writers), or -errno.
 */
int rf_net_index_rebuild(int trie, int hash, int sync);

/*
 * After ringfence changed the trie at key k (added, changed or deleted): the same change in the
 * index, or a rebuild when it was marked out of sync (nothing while it is left to the trie: the
 * agent tries again every 10 s). Deleting from the index comes before the trie
 * (rf_net_index_forget()), so the index never allows what the trie no longer holds. Returns as
 * rf_net_index_rebuild().
 */
int rf_net_index_update(int trie, int hash, int sync, const struct rf_net_key *k);
/* Remove k's entry from the index (and from its count) before the trie entry goes (0 or
 * -errno; absent is 0). */
int rf_net_index_forget(int hash, int sync, const struct rf_net_key *k);

/*
 * Does the index say it is in sync and hold exactly the trie's rules (a writer that changed the
 * trie without marking the index, e.g. a build before the index)? 1 yes, 0 no, -errno.
 */
int rf_net_index_verify(int trie, int hash, int sync);

/* Is it marked in sync (one lookup)? */
bool rf_net_index_valid(int sync);
/* Marked in sync, or left to the trie on purpose by a rebuild: nothing to do until a change. */
bool rf_net_index_settled(int sync);

#endif /* RF_NET_INDEX_H */
