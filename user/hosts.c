// SPDX-License-Identifier: GPL-2.0-only
/* Host rules: the names map the programs match DNS answers against, and learned addresses. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "dns_parse.bpf.h"
#include "rf_dns.h"
#include "rf_hosts.h"
#include "rf_policy.h"
#include "rf_util.h"

#define NS_PER_S 1000000000ULL

/* ---- pure parts ------------------------------------------------------------------------------ */

int rf_host_key_of(const char *host, struct rf_host_key *k, __u32 *match)
{
	*match = RF_HOST_EXACT;
	if (host[0] == '*' && host[1] == '.') {
		*match = RF_HOST_BELOW;
		host += 2;
	}
	return rf_dns_name_key(host, k) ? -EINVAL : 0;
}

int rf_host_key_name(const struct rf_host_key *k, __u32 match, char *buf, size_t len)
{
	size_t i = 0, o = 0;

	while (i < RF_HOST_NAME_LEN && !k->name[i])
		i++;
	if (i >= RF_HOST_NAME_LEN - 1 || len < 3)
		return -EINVAL; /* no label: the root alone is no rule's name */
	if (match & RF_HOST_BELOW)
		o += (size_t)snprintf(buf, len, "*.");
	while (i < RF_HOST_NAME_LEN - 1) {
		size_t lab = k->name[i];

		if (!lab || lab > 63 || i + 1 + lab > RF_HOST_NAME_LEN - 1 || o + lab + 2 > len)
			return -EINVAL;
		for (size_t j = 1; j <= lab; j++) {
			char c = (char)k->name[i + j];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
				return -EINVAL;
			buf[o++] = c;
		}
		i += 1 + lab;
		if (i < RF_HOST_NAME_LEN - 1)
			buf[o++] = '.';
	}
	buf[o] = '\0';
	return k->name[RF_HOST_NAME_LEN - 1] ? -EINVAL : 0;
}

static __u32 clamp_count(__u32 count, __u32 max)
{
	return count > max ? max : count;
}

int rf_host_val_add(struct rf_host_val *v, const struct rf_net_entry *net, __u32 match, __u32 id)
{
	__u32 n = clamp_count(v->count, RF_HOST_MAX_RULES), i;

	for (i = 0; i < n; i++)
		if (v->r[i].match == match && rf_entry_equal(&v->r[i].net, net))
			return -EEXIST;
	if (n == RF_HOST_MAX_RULES)
		return -ENOSPC;
	memset(&v->r[n], 0, sizeof(v->r[n]));
	v->r[n].net = *net;
	v->r[n].match = match;
	v->r[n].id = id;
	v->count = n + 1;
	return 0;
}

int rf_host_val_del(struct rf_host_val *v, const struct rf_net_entry *net, __u32 match, __u32 *id,
		    bool *now_empty)
{
	__u32 n = clamp_count(v->count, RF_HOST_MAX_RULES), i;

	for (i = 0; i < n; i++) {
		if (v->r[i].match != match || !rf_entry_equal(&v->r[i].net, net))
			continue;
		*id = v->r[i].id;
		memmove(&v->r[i], &v->r[i + 1], (n - i - 1) * sizeof(v->r[0]));
		memset(&v->r[n - 1], 0, sizeof(v->r[0]));
		v->count = n - 1;
		*now_empty = v->count == 0;
		return 0;
	}
	return -ENOENT;
}

int rf_host_addr_learn(struct rf_host_addr_val *v, const struct rf_net_entry *net, __u32 id,
		       __u64 expires_ns, __u64 now_ns)
{
	struct rf_host_rule r = {.net = *net, .match = RF_HOST_EXACT, .id = id};

	/* the programs' own merge (bpf/dns_parse.bpf.h): both writers keep entries alike */
	return rf_host_learn_merge(v, &r, expires_ns, now_ns) ? -ENOSPC : 0;
}

bool rf_host_addr_forget(struct rf_host_addr_val *v, __u32 id, bool *now_empty)
{
	__u32 n = clamp_count(v->count, RF_HOST_ADDR_ENTRIES), i, used = 0;
	bool found = false;

	for (i = 0; i < n; i++) {
		if (v->e[i].expires_ns && v->e[i].rule_id == id) {
			memset(&v->e[i], 0, sizeof(v->e[i]));
			found = true;
		}
		if (v->e[i].expires_ns)
			used++;
	}
	*now_empty = used == 0;
	return found;
}

__u32 rf_host_ttl_clamp(__u32 ttl)
{
	return rf_host_ttl(ttl); /* the programs' clamp */
}

/* ---- rf_host_name ---------------------------------------------------------------------------- */

static int no_host_maps(char *err, size_t errlen)
{
	snprintf(err, errlen, "%s",
		 "the loaded programs predate host rules (no rf_host_name pinned): run "
		 "'ringfence load' to upgrade them, then add the rule again");
	return -EOPNOTSUPP;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* The smallest rule id (from 1) no rule in rf_host_name uses: ids stay unique per rule. */
static int free_rule_id(int fd, __u32 *id)
{
	size_t cap = 256, n = 0, i;
	__u32 *ids = malloc(cap * sizeof(*ids));
	struct rf_host_key key, next;
	struct rf_host_val v;
	void *prev = NULL;

	if (!ids)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		for (i = 0; i < clamp_count(v.count, RF_HOST_MAX_RULES); i++) {
			if (n == cap) {
				__u32 *more = realloc(ids, (cap *= 2) * sizeof(*ids));

				if (!more) {
					free(ids);
					return -ENOMEM;
				}
				ids = more;
			}
			ids[n++] = v.r[i].id;
		}
	}
	qsort(ids, n, sizeof(*ids), cmp_u32);
	*id = 1;
	for (i = 0; i < n; i++)
		if (ids[i] == *id)
			(*id)++;
	free(ids);
	return 0;
}

/* A batch of adds (rf_host_batch()): the next free id, above every id in use; 0: none. */
static struct {
	int fd;
	__u32 next;
} batch = {-1, 0};

void rf_host_batch(const struct rf_maps *m, bool on)
{
	struct rf_host_key key, next;
	struct rf_host_val v;
	void *prev = NULL;
	__u32 max = 0;

	batch.fd = -1;
	batch.next = 0;
	if (!on || m->host_name < 0)
		return;
	while (!bpf_map_get_next_key(m->host_name, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->host_name, &key, &v))
			continue;
		for (__u32 i = 0; i < clamp_count(v.count, RF_HOST_MAX_RULES); i++)
			if (v.r[i].id > max)
				max = v.r[i].id;
	}
	if (max < UINT32_MAX) { /* else (another agent's ids): a scan per rule */
		batch.fd = m->host_name;
		batch.next = max + 1;
	}
}

/* Remove rule id's entries from rf_host_addr (deleting addresses left with none). */
static void forget_rule(const struct rf_maps *m, __u32 id)
{
	struct rf_addr_key key, next;
	struct rf_host_addr_val v;
	void *prev = NULL;
	bool empty;

	if (m->host_addr < 0)
		return;
	while (!bpf_map_get_next_key(m->host_addr, prev, &next)) {
		/* a deleted key is never the walk's cursor: the next one is found from the last
		 * key kept (from a deleted one, the walk would start over) */
		if (!bpf_map_lookup_elem(m->host_addr, &next, &v) &&
		    rf_host_addr_forget(&v, id, &empty)) {
			if (empty && !bpf_map_delete_elem(m->host_addr, &next))
				continue;
			bpf_map_update_elem(m->host_addr, &next, &v, BPF_EXIST);
		}
		key = next;
		prev = &key;
	}
}

static int host_add(const struct rf_maps *m, const struct rf_rule *r, const struct rf_host_key *k,
		    __u32 match, char *err, size_t errlen)
{
	struct rf_host_val v;
	__u32 id;
	int ret;

	if (bpf_map_lookup_elem(m->host_name, k, &v))
		memset(&v, 0, sizeof(v));
	if (batch.fd == m->host_name && batch.next) {
		id = batch.next; /* in a batch under the state lock: no scan per rule */
		batch.next = id == UINT32_MAX ? 0 : id + 1;
	} else if ((ret = free_rule_id(m->host_name, &id))) {
		return ret;
	}
	ret = rf_host_val_add(&v, &r->entry, match, id);
	if (ret == -ENOSPC)
		snprintf(err, errlen,
			 "%s already has %d host rules: merge port ranges or use 'proto any'",
			 r->host, RF_HOST_MAX_RULES);
	if (ret)
		return ret;
	if (bpf_map_update_elem(m->host_name, k, &v, BPF_ANY)) {
		ret = -errno;
		if (ret == -E2BIG || ret == -ENOSPC || ret == -ENOMEM) {
			snprintf(err, errlen,
				 "rf_host_name is full (%d names): remove a host rule or cover "
				 "names with one '*.' rule",
				 RF_HOST_MAX_NAMES);
			return -ENOSPC;
		}
		snprintf(err, errlen, "failed to update rf_host_name: %s", strerror(-ret));
	}
	return ret;
}

int rf_host_change(const struct rf_maps *m, const struct rf_rule *r, bool add, char *err,
		   size_t errlen)
{
	struct rf_host_key k;
	struct rf_host_val v;
	__u32 match, id;
	bool empty;
	int ret;

	if (m->host_name < 0)
		return no_host_maps(err, errlen);
	if (rf_host_key_of(r->host, &k, &match)) {
		snprintf(err, errlen, "bad host name '%s'", r->host);
		return -EINVAL;
	}
	if (add)
		return host_add(m, r, &k, match, err, errlen);
	if (bpf_map_lookup_elem(m->host_name, &k, &v))
		return -ENOENT;
	ret = rf_host_val_del(&v, &r->entry, match, &id, &empty);
	if (ret)
		return ret;
	ret = empty ? bpf_map_delete_elem(m->host_name, &k)
		    : bpf_map_update_elem(m->host_name, &k, &v, BPF_EXIST);
	if (ret) {
		ret = -errno;
		snprintf(err, errlen, "failed to update rf_host_name: %s", strerror(-ret));
		return ret;
	}
	forget_rule(m, id);
	return 0;
}

bool rf_host_any(const struct rf_maps *m)
{
	return m->host_name >= 0 && rf_map_count(m->host_name, sizeof(struct rf_host_key), 1);
}

int rf_host_for_each_rule(const struct rf_maps *m,
			  int (*fn)(const struct rf_host_ruleinfo *ri, void *arg), void *arg)
{
	static struct rf_host_ruleinfo ri;
	struct rf_host_key key, next;
	struct rf_host_val v;
	void *prev = NULL;
	struct rf_rule r;
	__u32 i;

	if (m->host_name < 0)
		return 0;
	while (!bpf_map_get_next_key(m->host_name, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->host_name, &key, &v))
			continue;
		for (i = 0; i < clamp_count(v.count, RF_HOST_MAX_RULES); i++) {
			if (rf_host_key_name(&key, v.r[i].match, ri.name, sizeof(ri.name)) ||
			    !(v.r[i].match & (RF_HOST_EXACT | RF_HOST_BELOW)) ||
			    strlen(ri.name) > RF_HOST_NAME_MAX)
				continue; /* another agent's garbage: allows nothing we can name */
			memset(&r, 0, sizeof(r));
			r.kind = RF_RULE_HOST;
			memcpy(r.host, ri.name, strlen(ri.name) + 1);
			r.entry = v.r[i].net;
			rf_rule_format(&r, ri.text, sizeof(ri.text));
			ri.rule = v.r[i];
			if (fn(&ri, arg))
				return 0;
		}
	}
	return 0;
}

/* ---- rf_host_addr ---------------------------------------------------------------------------- */

static int cmp_learnt(const void *a, const void *b)
{
	const struct rf_host_learnt *x = a, *y = b;

	if (x->rule_id != y->rule_id)
		return x->rule_id < y->rule_id ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

int rf_host_learnt_load(const struct rf_maps *m, struct rf_host_learnt **out, size_t *n)
{
	struct rf_addr_key key, next;
	struct rf_host_addr_val v;
	struct rf_host_learnt *arr = NULL;
	size_t cap = 0;
	void *prev = NULL;

	*out = NULL;
	*n = 0;
	if (m->host_addr < 0)
		return 0;
	while (!bpf_map_get_next_key(m->host_addr, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->host_addr, &key, &v))
			continue;
		for (__u32 i = 0; i < clamp_count(v.count, RF_HOST_ADDR_ENTRIES); i++) {
			if (!v.e[i].expires_ns)
				continue;
			if (*n == cap) {
				struct rf_host_learnt *more;

				cap = cap ? cap * 2 : 64;
				more = realloc(arr, cap * sizeof(*arr));
				if (!more) {
					free(arr);
					*n = 0;
					return -ENOMEM;
				}
				arr = more;
			}
			memcpy(arr[*n].addr, key.addr, sizeof(key.addr));
			arr[*n].rule_id = v.e[i].rule_id;
			arr[*n].expires_ns = v.e[i].expires_ns;
			(*n)++;
		}
	}
	if (*n)
		qsort(arr, *n, sizeof(*arr), cmp_learnt);
	*out = arr;
	return 0;
}

/*
 * Write one learned address for a rule into rf_host_addr. The programs may write the same key
 * at the same time: a new key is created with BPF_NOEXIST and an existing one is updated with
 * BPF_EXIST, retried once on a race, so neither silently replaces the other's fresh entry.
 */
static int learn_one(int fd, const __u8 addr[16], const struct rf_host_rule *rule, __u64 expires)
{
	struct rf_addr_key key;
	struct rf_host_addr_val v;
	int tries, ret = 0;

	memcpy(key.addr, addr, sizeof(key.addr));
	for (tries = 0; tries < 2; tries++) {
		bool exists = !bpf_map_lookup_elem(fd, &key, &v);

		if (!exists)
			memset(&v, 0, sizeof(v));
		ret = rf_host_addr_learn(&v, &rule->net, rule->id, expires, rf_now_boot_ns());
		if (ret)
			return ret;
		if (!bpf_map_update_elem(fd, &key, &v, exists ? BPF_EXIST : BPF_NOEXIST))
			return 0;
		ret = -errno;
		if (ret != -EEXIST && ret != -ENOENT)
			return ret == -E2BIG || ret == -ENOMEM ? -ENOSPC : ret;
	}
	return ret;
}

/* The rules that cover a name: its exact rules, and the "*." rules of its parent domains. */
static int covering_rules(int fd, const char *name, struct rf_host_val *out)
{
	struct rf_host_key k, parent;
	struct rf_host_val v;
	__u32 match;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	if (rf_host_key_of(name, &k, &match))
		return -EINVAL;
	if (!bpf_map_lookup_elem(fd, &k, &v))
		for (__u32 j = 0; j < clamp_count(v.count, RF_HOST_MAX_RULES); j++)
			if (v.r[j].match & RF_HOST_EXACT)
				out->r[out->count++] = v.r[j];
	parent = k;
	while (i < RF_HOST_NAME_LEN && !parent.name[i])
		i++;
	while (i < RF_HOST_NAME_LEN - 1) {
		size_t lab = parent.name[i];

		memset(parent.name + i, 0, 1 + lab); /* drop the first label */
		i += 1 + lab;
		if (i >= RF_HOST_NAME_LEN - 1 || bpf_map_lookup_elem(fd, &parent, &v))
			continue;
		for (__u32 j = 0; j < clamp_count(v.count, RF_HOST_MAX_RULES); j++)
			if ((v.r[j].match & RF_HOST_BELOW) && out->count < RF_HOST_MAX_RULES)
				out->r[out->count++] = v.r[j];
	}
	return 0;
}

void rf_host_answers_free(struct rf_host_answers *a)
{
	for (size_t i = 0; i < a->nnames; i++)
		free(a->names[i]);
	free(a->names);
	free(a->addrs);
	memset(a, 0, sizeof(*a));
}

/* The names of the exact rules, each once (a key holds one name). */
static int collect_names(const struct rf_maps *m, struct rf_host_answers *a)
{
	struct rf_host_key key, next;
	struct rf_host_val v;
	void *prev = NULL;
	char name[RF_HOST_NAME_MAX + 3];
	size_t cap = 0;

	while (!bpf_map_get_next_key(m->host_name, prev, &next)) {
		bool exact = false;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->host_name, &key, &v) ||
		    rf_host_key_name(&key, RF_HOST_EXACT, name, sizeof(name)))
			continue;
		for (__u32 j = 0; j < clamp_count(v.count, RF_HOST_MAX_RULES); j++)
			exact |= !!(v.r[j].match & RF_HOST_EXACT);
		if (!exact)
			continue; /* only "*." rules here: no name to look up */
		if (a->nnames == cap) {
			char **nn = realloc(a->names, (cap = cap ? cap * 2 : 16) * sizeof(*nn));

			if (!nn)
				return -ENOMEM;
			a->names = nn;
		}
		if (!(a->names[a->nnames] = strdup(name)))
			return -ENOMEM;
		a->nnames++;
	}
	return 0;
}

static void found(size_t i, __u16 qtype, const struct rf_dns_addr *addr, void *arg)
{
	struct rf_host_answers *a = arg;

	(void)qtype;
	if (a->naddrs == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		struct rf_host_answer *more = realloc(a->addrs, cap * sizeof(*more));

		if (!more)
			return; /* fewer addresses learned now; the programs still learn answers */
		a->addrs = more;
		a->cap = cap;
	}
	a->addrs[a->naddrs].name = i;
	a->addrs[a->naddrs].addr = *addr;
	a->naddrs++;
}

int rf_hosts_lookup(const struct rf_maps *m, const struct rf_dns_server *servers, size_t nservers,
		    struct rf_host_answers *a)
{
	int ret;

	memset(a, 0, sizeof(*a));
	if (m->host_name < 0 || m->host_addr < 0)
		return 0;
	ret = collect_names(m, a);
	if (!ret && a->nnames && !nservers)
		ret = -ENOENT;
	if (!ret && a->nnames)
		ret = rf_dns_resolve(servers, nservers, (const char *const *)a->names, a->nnames,
				     RF_HOST_LOOKUP_MS, found, a);
	if (ret < 0)
		rf_host_answers_free(a);
	return ret < 0 ? ret : 0;
}

int rf_hosts_learn(const struct rf_maps *m, const struct rf_host_answers *a, __u32 *min_ttl)
{
	struct rf_host_val cover;
	int written = 0, full = 0;
	size_t i;

	*min_ttl = 0;
	for (i = 0; i < a->naddrs; i++) {
		const struct rf_host_answer *x = &a->addrs[i];
		__u32 ttl = rf_host_ttl_clamp(x->addr.ttl);
		__u64 expires = rf_now_boot_ns() + (__u64)ttl * NS_PER_S;

		/* the rules as they are now: one removed meanwhile learns nothing */
		if (covering_rules(m->host_name, a->names[x->name], &cover))
			continue;
		if (!*min_ttl || ttl < *min_ttl)
			*min_ttl = ttl;
		for (__u32 j = 0; j < cover.count; j++) {
			int ret = learn_one(m->host_addr, x->addr.addr, &cover.r[j], expires);

			if (!ret)
				written++;
			else if (!full++)
				rf_warn("an address of %s was not learned: %s", a->names[x->name],
					ret == -ENOSPC ? "rf_host_addr is full, or the address has "
							 "8 other rules' entries"
						       : strerror(-ret));
		}
	}
	return written;
}

/* The resolvers of the dns built-in: rf_allow_net's built-in udp/53 out entries of one host. */
struct servers_ctx {
	struct rf_dns_server *out;
	size_t n, max;
};

static int add_server(const struct rf_net_key *k, const struct rf_net_entry *e, void *arg)
{
	struct servers_ctx *sc = arg;

	if (!(e->origin & RF_ENTRY_BUILTIN) || e->proto != RF_PROTO_UDP || e->port_lo != 53 ||
	    e->port_hi != 53 || !(e->dir & RF_DIR_OUT) || k->prefixlen != 128)
		return 0;
	memcpy(sc->out[sc->n++].addr, k->addr, 16);
	return sc->n == sc->max;
}

size_t rf_host_servers(const struct rf_maps *m, struct rf_dns_server *out, size_t max)
{
	struct servers_ctx sc = {out, 0, max};

	if (max)
		rf_policy_for_each_net(m, add_server, &sc);
	return sc.n;
}

int rf_host_resolvers_set(const struct rf_maps *m, const struct rf_addr_key *addrs, size_t n)
{
	struct rf_allow_val zero = {};
	struct rf_addr_key key, next;
	void *prev = NULL;
	size_t i;
	int ret = 0;

	if (m->dns_resolver < 0)
		return -EOPNOTSUPP;
	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(m->dns_resolver, &addrs[i], &zero, BPF_ANY) && !ret)
			ret = errno == E2BIG ? -ENOSPC : -errno;
	if (ret)
		return ret; /* nothing removed: the previous resolvers stay */
	while (!bpf_map_get_next_key(m->dns_resolver, prev, &next)) {
		for (i = 0; i < n && memcmp(&addrs[i], &next, sizeof(next)); i++)
			;
		if (i < n) {
			key = next;
			prev = &key;
			continue;
		}
		if (bpf_map_delete_elem(m->dns_resolver, &next) && !ret)
			ret = -errno;
		/* deleted: the walk restarts from the last kept key */
	}
	return ret;
}

size_t rf_host_addr_gc(const struct rf_maps *m)
{
	struct rf_addr_key key, next;
	struct rf_host_addr_val v;
	void *prev = NULL;
	__u64 now = rf_now_boot_ns();
	size_t removed = 0;

	if (m->host_addr < 0 ||
	    rf_map_count(m->host_addr, sizeof(key), RF_HOST_ADDR_MAX) < RF_HOST_ADDR_MAX / 4 * 3)
		return 0;
	while (!bpf_map_get_next_key(m->host_addr, prev, &next)) {
		bool live = false;

		if (!bpf_map_lookup_elem(m->host_addr, &next, &v))
			for (__u32 i = 0; i < clamp_count(v.count, RF_HOST_ADDR_ENTRIES); i++)
				live |= v.e[i].expires_ns > now;
		if (live || bpf_map_delete_elem(m->host_addr, &next)) {
			key = next;
			prev = &key;
			continue;
		}
		removed++;
	}
	return removed;
}

int rf_hosts_refresh(const struct rf_maps *m, __u32 *min_ttl)
{
	struct rf_dns_server servers[RF_MAX_DNS_RESOLVERS];
	struct rf_host_answers a;
	int ret;

	*min_ttl = 0;
	if (!rf_host_any(m))
		return 0;
	ret = rf_hosts_lookup(m, servers, rf_host_servers(m, servers, RF_MAX_DNS_RESOLVERS), &a);
	if (ret == -ENOENT)
		rf_warn("host rules: no resolver to look their names up (the dns setting is off or "
			"names none): only answers the host receives are learned");
	else if (ret < 0)
		rf_warn("host rules: looking their names up failed: %s", strerror(-ret));
	if (ret < 0)
		return ret;
	rf_hosts_learn(m, &a, min_ttl);
	rf_host_answers_free(&a);
	return 0;
}

__u64 rf_host_refresh_ms(__u32 min_ttl)
{
	__u64 half = (__u64)(min_ttl ? min_ttl : RF_HOST_TTL_MIN) * 1000 / 2;

	return half < RF_HOST_REFRESH_MIN_MS   ? RF_HOST_REFRESH_MIN_MS
	       : half > RF_HOST_REFRESH_MAX_MS ? RF_HOST_REFRESH_MAX_MS
					       : half;
}
