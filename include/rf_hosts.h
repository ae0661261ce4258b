/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host rules (allow by name) in userspace: the rf_host_name entries of the rules, the learned
 * addresses in rf_host_addr (listing them, writing those ringfence resolved itself, removing
 * them), and the resolvers in rf_dns_resolver. Maps: include/rf_host.h, docs/ABI.md.
 */
#ifndef RF_HOSTS_H
#define RF_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include "rf_dns.h"
#include "rf_host.h"
#include "rf_maps.h"
#include "rf_rule.h"

/* ---- pure parts (unit-tested) ---------------------------------------------------------------- */

/*
 * The rf_host_name key of a canonical host rule name and what the rule matches under it:
 * "mgmt.example.com" -> key of mgmt.example.com, RF_HOST_EXACT; "*.example.com" -> key of
 * example.com, RF_HOST_BELOW. 0 or -EINVAL.
 */
int rf_host_key_of(const char *host, struct rf_host_key *k, __u32 *match);

/* The name of key k as text ("example.com"), "*." in front for RF_HOST_BELOW. 0 or -EINVAL
 * when k is not a well-formed right-aligned wire name (another agent's garbage). */
int rf_host_key_name(const struct rf_host_key *k, __u32 match, char *buf, size_t len);

/*
 * Add rule (net, match, id) to v: -EEXIST when a rule with the same net entry and match is
 * there, -ENOSPC when v holds RF_HOST_MAX_RULES. Delete: the id of the removed rule in *id,
 * -ENOENT when absent; *now_empty when none is left.
 */
int rf_host_val_add(struct rf_host_val *v, const struct rf_net_entry *net, __u32 match, __u32 id);
int rf_host_val_del(struct rf_host_val *v, const struct rf_net_entry *net, __u32 match, __u32 *id,
		    bool *now_empty);

/*
 * Learn an address for rule (net, id) until expires_ns (CLOCK_BOOTTIME) in v, as the programs
 * do: the rule's entry is refreshed (the later expiry kept), else a free slot or one expired by
 * now_ns is used. 0, or -ENOSPC when every slot holds another rule's unexpired entry.
 */
int rf_host_addr_learn(struct rf_host_addr_val *v, const struct rf_net_entry *net, __u32 id,
		       __u64 expires_ns, __u64 now_ns);
/* Remove rule id's entry from v: true when one was removed; *now_empty when none is left. */
bool rf_host_addr_forget(struct rf_host_addr_val *v, __u32 id, bool *now_empty);

/* How long ringfence waits for one resolver to answer its own lookups. */
#define RF_HOST_LOOKUP_MS 1000

/* A TTL in seconds clamped to [RF_HOST_TTL_MIN, RF_HOST_TTL_MAX]. */
__u32 rf_host_ttl_clamp(__u32 ttl);

/* ---- maps ------------------------------------------------------------------------------------ */

/*
 * Add or delete host rule r in rf_host_name: 0, -EEXIST (already there), -ENOENT (del of a rule
 * not there), -ENOSPC (full: err says so), -EOPNOTSUPP (pins without host rule maps), or -errno
 * with err set. Deleting also removes the rule's learned addresses (their flows are cut).
 */
int rf_host_change(const struct rf_maps *m, const struct rf_rule *r, bool add, char *err,
		   size_t errlen);

/*
 * Many rf_host_change() adds in a row under the state lock (config apply, the persisted rules):
 * on scans rf_host_name once for the ids in use, so each add takes the next id instead of
 * scanning again; off ends the batch. Only ringfence's writers (which hold the lock) add rules.
 */
void rf_host_batch(const struct rf_maps *m, bool on);

/* Is there any host rule? (RF_CFG_HOST_RULES) */
bool rf_host_any(const struct rf_maps *m);

/* One host rule as the map holds it, with its canonical text. */
struct rf_host_ruleinfo {
	char text[RF_RULE_TEXT_MAX];
	char name[RF_HOST_NAME_MAX + 3]; /* "*." + the name */
	struct rf_host_rule rule;
};

/* Call fn for each host rule in rf_host_name until it returns non-zero. */
int rf_host_for_each_rule(const struct rf_maps *m,
			  int (*fn)(const struct rf_host_ruleinfo *ri, void *arg), void *arg);

/* One learned address of a rule. */
struct rf_host_learnt {
	__u8 addr[16];
	__u32 rule_id;
	__u64 expires_ns; /* CLOCK_BOOTTIME */
};

/* Every learned entry of rf_host_addr (malloc'd, sorted by rule id, then address); 0 or -errno. */
int rf_host_learnt_load(const struct rf_maps *m, struct rf_host_learnt **out, size_t *n);

/* One address an answer gave for names[name]. */
struct rf_host_answer {
	size_t name;
	struct rf_dns_addr addr;
};

/* What one round of ringfence's own lookups found. */
struct rf_host_answers {
	char **names; /* the exact rules' names */
	size_t nnames;
	struct rf_host_answer *addrs;
	size_t naddrs, cap;
};

/*
 * Look the names of the exact host rules up (wildcards cannot be) through servers, A and AAAA.
 * Needs no lock: nothing is written. 0 (a filled, free with rf_host_answers_free()) or -errno
 * (-ENOENT: names but no server).
 */
int rf_hosts_lookup(const struct rf_maps *m, const struct rf_dns_server *servers, size_t nservers,
		    struct rf_host_answers *a);
void rf_host_answers_free(struct rf_host_answers *a);

/*
 * Write a's addresses into rf_host_addr for the rules that cover each name as rf_host_name holds
 * them now (a rule removed since the lookup learns nothing), TTL clamped. Under the state lock.
 * *min_ttl: the shortest TTL written (clamped), 0 when none. Returns the entries written; what
 * could not be (a full map) is reported on stderr.
 */
int rf_hosts_learn(const struct rf_maps *m, const struct rf_host_answers *a, __u32 *min_ttl);

/* When the agent looks the names up again: half the shortest TTL, within these bounds. */
#define RF_HOST_REFRESH_MIN_MS (RF_HOST_TTL_MIN * 1000 / 2)
#define RF_HOST_REFRESH_MAX_MS (3600 * 1000)
__u64 rf_host_refresh_ms(__u32 min_ttl);

/*
 * rf_hosts_lookup() through rf_host_servers(), then rf_hosts_learn(), for isolate, config apply and
 * the agent: warns (stderr) when no resolver is known or nothing could be asked. 0 or -errno.
 */
int rf_hosts_refresh(const struct rf_maps *m, __u32 *min_ttl);

/*
 * The resolvers for ringfence's own lookups: the dns built-in's (the "net IP/128 proto udp
 * port 53 dir out" built-in entries of rf_allow_net). The number found (at most max).
 */
size_t rf_host_servers(const struct rf_maps *m, struct rf_dns_server *out, size_t max);

/*
 * Make rf_dns_resolver hold exactly addrs (add first, then remove the others). 0 or -errno
 * (-ENOSPC when more than RF_MAX_DNS_RESOLVERS).
 */
int rf_host_resolvers_set(const struct rf_maps *m, const struct rf_addr_key *addrs, size_t n);

/*
 * Remove learned entries that expired when rf_host_addr is more than 3/4 full (only then: an
 * expired entry still lets its established flows through and names the reason of a block).
 * Returns how many addresses were removed.
 */
size_t rf_host_addr_gc(const struct rf_maps *m);

#endif /* RF_HOSTS_H */
