// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringfence enforcement programs. One object, so every hook shares the maps. Attached to one
 * cgroup v2 (the root in production): while rf_config says isolated, only loopback, allowed
 * processes, allowed destinations and the built-in network-keeping rules pass.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "policy.bpf.h"

#define AF_INET		 2
#define AF_INET6	 10
#define SOCK_DGRAM	 2
#define SOCK_RAW	 3
#define ETH_P_IP	 0x0800
#define ETH_P_IPV6	 0x86DD
#define ETH_P_ARP	 0x0806
#define LOOPBACK_IFINDEX 1
#define RF_LPM_WALK_MAX	 32 /* nested prefixes tried for one address before denying */
#define RF_IPV6_EXT_MAX	 4  /* IPv6 extension headers skipped to find the transport header */

#define AF_PACKET 17
#define ETH_HLEN  14
/*
 * A pass is TC_ACT_UNSPEC, not TC_ACT_OK: in direct-action mode OK ends the filter chain, so the
 * filters after ours (another target's instance of these programs, other tools) would not run.
 */
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_SHOT   2

char LICENSE[] SEC("license") = "GPL";

/* The cgroup the programs enforce on, set by the loader before load (tc layer scoping). */
const volatile __u64 rf_target_cgid = 1;
const volatile __u32 rf_target_level = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rf_config);
} rf_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RF_NET_MAX_RULES_DEFAULT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rf_net_key);
	__type(value, struct rf_net_val);
} rf_allow_net SEC(".maps");

#include "lookup.bpf.h" /* rf_net_hash: the index of rf_allow_net */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_MAX_PROC_RULES);
	__type(key, struct rf_exe_key);
	__type(value, struct rf_allow_val);
} rf_allow_exe_v2 SEC(".maps");

/* exe rules with the users they allow (issue 21 item 5) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_MAX_PROC_RULES);
	__type(key, struct rf_exe_key);
	__type(value, struct rf_exe_users);
} rf_allow_exe_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_MAX_PROC_RULES);
	__type(key, __u64);
	__type(value, struct rf_allow_val);
} rf_allow_cgroup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_MAX_DHCP_SERVERS);
	__type(key, struct rf_addr_key);
	__type(value, struct rf_allow_val);
} rf_dhcp_server SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct rf_sk_mark);
} rf_sk_mark_v2 SEC(".maps");

/* ABI 1's marks, only read: kept so an in-place upgrade does not cut marked sockets */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct rf_sk_mark_v1);
} rf_sk_mark SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rf_sk_peer);
} rf_sk_peer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_MAX_MGMT);
	__type(key, struct rf_mgmt_key);
	__type(value, struct rf_mgmt_val);
} rf_mgmt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RF_STAT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} rf_stats_v2 SEC(".maps");

struct rf_bucket {
	__u64 last_ns;
	__u64 credit_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rf_bucket);
} rf_ratelimit SEC(".maps");

/* Which build's programs are attached: written by the loader, read by no program. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rf_build);
} rf_build SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RF_EVENTS_RINGBUF_SIZE);
} rf_events SEC(".maps");

/* Flows whose events the rate limit (or a full ring buffer) held back: drained by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_SUPPRESSED_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rf_flow_key);
	__type(value, struct rf_flow_count);
} rf_suppressed SEC(".maps");

/* What one packet or call looks like to the policy. Addresses are IPv6 / IPv4-mapped. */
struct rf_flow {
	__u8 remote[16];
	__u8 local[16];
	__u16 rport;
	__u16 lport;
	__u8 proto;
	__u8 family;
	__u8 icmp_type;
	__u8 match; /* enum rf_match */
	__u16 sock_type;
	__u8 icmp_code;
	__u8 hop_limit; /* IPv4 TTL or IPv6 hop limit; packet hooks only */
	__u8 srcroute;	/* an IPv6 routing header or IPv4 LSRR/SSRR: the route visits more hosts */
};

enum rf_mode {
	RF_MODE_OFF,	 /* allow everything, count nothing */
	RF_MODE_ENFORCE, /* isolated: deny what the policy does not allow */
	RF_MODE_AUDIT,	 /* deny nothing; report what enforcement would deny */
};

/*
 * Any non-zero isolated is isolation (fail closed), whatever the audit bit says; both end at the
 * deadline. Not isolated and not auditing costs one array lookup and these two tests.
 */
static __always_inline enum rf_mode cfg_mode(const struct rf_config *cfg)
{
	if (!cfg->isolated && !(cfg->flags & RF_CFG_AUDIT))
		return RF_MODE_OFF;
	if (cfg->deadline_ns && bpf_ktime_get_boot_ns() >= cfg->deadline_ns)
		return RF_MODE_OFF;
	return cfg->isolated ? RF_MODE_ENFORCE : RF_MODE_AUDIT;
}

static __always_inline const struct rf_config *get_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&rf_config, &zero);
}

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&rf_stats_v2, &idx);

	if (v)
		*v += 1;
}

static __always_inline void count_verdict(enum rf_hook hook, bool denied)
{
	stat_inc(hook * 2 + (denied ? 1 : 0));
}

/* Per-CPU token bucket: RF_EVENT_BURST events, refilled at RF_EVENT_RATE per second. */
static __always_inline bool event_rate_ok(void)
{
	const __u64 cost = 1000000000ULL / RF_EVENT_RATE, cap = cost * RF_EVENT_BURST;
	__u32 zero = 0;
	struct rf_bucket *b = bpf_map_lookup_elem(&rf_ratelimit, &zero);
	__u64 now = bpf_ktime_get_ns();

	if (!b)
		return false;
	if (b->last_ns == 0 || now - b->last_ns >= cap)
		b->credit_ns = cap;
	else
		b->credit_ns += now - b->last_ns;
	if (b->credit_ns > cap)
		b->credit_ns = cap;
	b->last_ns = now;
	if (b->credit_ns < cost)
		return false;
	b->credit_ns -= cost;
	return true;
}

/*
 * A pointer field of a UAPI context (a __bpf_md_ptr: ctx->sk, bpf_sockopt's optval and
 * optval_end): the verifier accepts only an 8-byte load of it, but read through vmlinux.h's types
 * (CO-RE) libbpf shrinks the load to a 32-bit kernel's pointer size. The offset is UAPI, so read
 * it as the u64 it is.
 */
#define RF_CTX_PTR(ctx, field)                                                                     \
	((void *)(unsigned long)*(volatile __u64 *)((void *)(ctx) +                                \
						    __builtin_offsetof(typeof(*(ctx)), field)))
#define RF_CTX_SK(ctx) ((struct bpf_sock *)RF_CTX_PTR(ctx, sk))

#include "cache.bpf.h" /* the verdict cache of the packet hooks */

/*
 * A kernel field read at the running kernel's size of it (bpf_core_field_size() is relocated),
 * zero-extended: pointers and unsigned long are 4 bytes on 32-bit kernels (armhf), where a read
 * of the 8 bytes vmlinux.h declares would take in the next field.
 */
#define RF_CORE_READ_SIZED(dst, ptr, field)                                                        \
	({                                                                                         \
		__u64 __v = 0;                                                                     \
		bpf_core_read(&__v, bpf_core_field_size((ptr)->field), &(ptr)->field);             \
		(dst) = (typeof(dst))__v;                                                          \
	})

#ifndef RF_NO_KFUNC
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;
#endif

/*
 * bpf_get_current_task() and CO-RE reads, not bpf_get_current_task_btf(): cgroup programs may
 * call the BTF-typed helper only from Linux 5.11, the untyped one (root only) since 5.10. From
 * Linux 6.2 the same fields are read as plain loads through bpf_rdonly_cast() (a faulting load
 * reads 0), not a bpf_probe_read_kernel() call each: a third of what connect() cost while
 * isolated.
 */
static __always_inline bool current_exe(struct rf_exe_key *k)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm;
	struct file *exe;
	struct inode *inode;
	struct super_block *sb;

#ifndef RF_NO_KFUNC
	if (bpf_rdonly_cast) {
		const struct task_struct *t =
		    bpf_rdonly_cast(task, bpf_core_type_id_kernel(struct task_struct));

		mm = t->mm;
		if (!mm)
			return false; /* kernel thread */
		exe = mm->exe_file;
		if (!exe)
			return false;
		inode = exe->f_inode;
		k->ino = inode->i_ino;
		k->dev = inode->i_sb->s_dev;
		k->gen = inode->i_generation;
		return true;
	}
#endif
	RF_CORE_READ_SIZED(mm, task, mm);
	if (!mm)
		return false; /* kernel thread */
	RF_CORE_READ_SIZED(exe, mm, exe_file);
	if (!exe)
		return false;
	RF_CORE_READ_SIZED(inode, exe, f_inode);
	RF_CORE_READ_SIZED(k->ino, inode, i_ino);
	RF_CORE_READ_SIZED(sb, inode, i_sb);
	k->dev = BPF_CORE_READ(sb, s_dev);
	k->gen = BPF_CORE_READ(inode, i_generation);
	return true;
}

/* Does rf_allow_exe_v3 allow identity k for uid? */
static __always_inline bool exe_users_allow(const struct rf_exe_key *k, __u32 uid)
{
	const struct rf_exe_users *v = bpf_map_lookup_elem(&rf_allow_exe_v3, k);

	return v && rf_exe_users_allow(v, uid);
}

/*
 * Is executable k allowed for a process of real uid `uid`: by its exact identity, or by
 * device+inode where the rule's filesystem reports no generation (RF_EXE_GEN_ANY)? In
 * rf_allow_exe_v3 for the users it lists; in rf_allow_exe_v2 (entries of other agents) for any.
 */
static __always_inline bool exe_allowed(const struct rf_exe_key *k, __u32 uid)
{
	struct rf_exe_key any = {.dev = k->dev, .ino = k->ino, .gen = RF_EXE_GEN_ANY};

	return exe_users_allow(k, uid) || exe_users_allow(&any, uid) ||
	       bpf_map_lookup_elem(&rf_allow_exe_v2, k) ||
	       bpf_map_lookup_elem(&rf_allow_exe_v2, &any);
}

/*
 * The executable's path as its dentries name it, leaf first, up to the root of its mount: the
 * process may be gone by the time userspace reads the event, so the kernel names the binary.
 */
static __always_inline void event_exe_path(struct rf_event *e)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm;
	struct file *exe = NULL;
	struct dentry *d = NULL;
	int i;

	/* pointer-sized reads at the running kernel's size (4 bytes on 32-bit kernels) */
	RF_CORE_READ_SIZED(mm, task, mm);
	if (mm)
		RF_CORE_READ_SIZED(exe, mm, exe_file);
	if (exe)
		RF_CORE_READ_SIZED(d, exe, f_path.dentry);
	for (i = 0; i < RF_EXE_PATH_DEPTH && d; i++) {
		struct dentry *parent;
		const unsigned char *name;

		RF_CORE_READ_SIZED(parent, d, d_parent);
		RF_CORE_READ_SIZED(name, d, d_name.name);
		if (bpf_probe_read_kernel_str(e->exe_path[i], RF_EXE_NAME_LEN, name) < 0)
			break;
		if (parent == d)
			break; /* the root of the mount, named "/" */
		d = parent;
	}
}

/*
 * An attempt that cannot become an event of its own is counted under its flow in rf_suppressed,
 * never dropped: a flood of one flow keeps the token bucket empty, and the attempts of another
 * flow must still be reported (the agent turns each entry into a summary event).
 */
static __always_inline void hold_back(const struct rf_flow *f, enum rf_hook hook,
				      enum rf_reason reason, __u64 cgroup_id, bool process_context,
				      __u16 flags)
{
	struct rf_flow_key k = {};
	struct rf_flow_count *c, n = {};
	__u64 now = bpf_ktime_get_boot_ns();

	k.cgroup_id = cgroup_id;
	__builtin_memcpy(k.remote, f->remote, 16);
	k.hook = hook;
	k.reason = reason;
	k.proto = f->proto;
	k.flags = (__u8)flags;
	if (process_context) {
		struct rf_exe_key x = {};

		k.uid = (__u32)bpf_get_current_uid_gid();
		if (current_exe(&x)) {
			k.exe_dev = x.dev;
			k.exe_ino = x.ino;
		}
	}
	c = bpf_map_lookup_elem(&rf_suppressed, &k);
	if (c) {
		__sync_fetch_and_add(&c->count, 1);
		c->last_ns = now;
		return;
	}
	n.count = 1;
	n.first_ns = n.last_ns = now;
	n.rport = f->rport;
	n.family = f->family;
	if (process_context) {
		n.tgid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(n.comm, sizeof(n.comm));
	}
	/* another CPU may have added it meanwhile: then count there */
	if (bpf_map_update_elem(&rf_suppressed, &k, &n, BPF_NOEXIST)) {
		c = bpf_map_lookup_elem(&rf_suppressed, &k);
		if (c)
			__sync_fetch_and_add(&c->count, 1);
		else
			stat_inc(RF_STAT_FLOWS_UNRECORDED);
	}
}

static __always_inline void report(const struct rf_flow *f, enum rf_hook hook,
				   enum rf_reason reason, __u64 cgroup_id, bool process_context,
				   __u16 flags)
{
	struct rf_event *e;

	if (!event_rate_ok()) {
		stat_inc(RF_STAT_EVENTS_RATELIMITED);
		hold_back(f, hook, reason, cgroup_id, process_context, flags);
		return;
	}
	e = bpf_ringbuf_reserve(&rf_events, sizeof(*e), 0);
	if (!e) {
		stat_inc(RF_STAT_EVENTS_LOST);
		hold_back(f, hook, reason, cgroup_id, process_context, flags);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = cgroup_id;
	e->hook = hook;
	e->reason = reason;
	e->family = f->family;
	e->proto = f->proto;
	__builtin_memcpy(e->saddr, f->local, 16);
	__builtin_memcpy(e->daddr, f->remote, 16);
	e->sport = f->lport;
	e->dport = f->rport;
	e->sock_type = f->sock_type;
	e->flags = flags;
	if (process_context) {
		struct rf_exe_key k = {};
		__u64 pid_tgid = bpf_get_current_pid_tgid();

		e->pid = (__u32)pid_tgid;
		e->tgid = pid_tgid >> 32;
		e->uid = (__u32)bpf_get_current_uid_gid();
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		if (current_exe(&k)) {
			e->exe_dev = k.dev;
			e->exe_ino = k.ino;
			event_exe_path(e);
		}
	}
	bpf_ringbuf_submit(e, 0);
	stat_inc(RF_STAT_EVENTS_SENT);
}

/*
 * What the policy refused: denied and reported when enforcing; in audit mode counted as
 * would-block, reported (unless report is false: a flow already reported) and let through.
 * Returns the verdict for the caller to return: 1 allow, 0 deny.
 */
static __always_inline int refuse(enum rf_mode mode, const struct rf_flow *f, enum rf_hook hook,
				  enum rf_reason reason, __u64 cgroup_id, bool process_context,
				  bool report_it)
{
	bool audit = mode == RF_MODE_AUDIT;

	if (audit)
		stat_inc(RF_STAT_WOULD_BLOCK + hook);
	else
		count_verdict(hook, true);
	if (report_it || !audit) /* one report() per program: it is large */
		report(f, hook, reason, cgroup_id, process_context,
		       audit ? RF_EVENT_WOULD_BLOCK : 0);
	return audit;
}

/*
 * Global (non-inlined) functions are verified once on their own instead of in every caller's
 * state: without them the prefix walk times the entry loop exceeds the verifier's budget. Their
 * arguments are scalars only, since Linux 5.10's verifier rejects pointer arguments of global
 * functions: the remote address travels as two u64 (its 16 bytes as they are), the rest of the
 * flow packed into a third (rf_flow_meta()).
 */
static __always_inline __u64 rf_flow_meta(const struct rf_flow *f)
{
	return (__u64)f->proto | (__u64)f->match << 8 | (__u64)f->rport << 16 |
	       (__u64)f->lport << 32;
}

/*
 * The rule covering the remote address at prefix length plen (LPM lookup): -1 if none, else its
 * own prefix length, | 0x100 if one of its entries allows the flow.
 */
__noinline int rf_val_allows(__u64 addr_hi, __u64 addr_lo, __u64 meta, __u32 plen)
{
	struct rf_net_key key = {.prefixlen = plen};
	const struct rf_net_val *v;
	__u32 vlen;

	__builtin_memcpy(key.addr, &addr_hi, 8);
	__builtin_memcpy(key.addr + 8, &addr_lo, 8);
	v = bpf_map_lookup_elem(&rf_allow_net, &key);
	if (!v)
		return -1;
	vlen = v->prefixlen; /* untrusted: clamped as rf_lpm_next() would */
	if (vlen > plen)
		vlen = plen;
	vlen &= 0xff; /* plen <= 128: a no-op that keeps the return value's encoding */
	if (rf_net_val_allows(v, meta & 0xff, (meta >> 16) & 0xffff, (meta >> 32) & 0xffff,
			      (meta >> 8) & 0xff))
		return 0x100 | vlen;
	return vlen;
}

/* Longest-prefix walk: try the most specific rule first, then each shorter covering prefix. */
__noinline int rf_dest_allowed(__u64 addr_hi, __u64 addr_lo, __u64 meta)
{
	__u32 plen = 128;
	int i, r, next;

	r = rf_dest_fast(addr_hi, addr_lo, meta); /* the hash index, while it is in sync */
	if (r >= 0)
		return r;
	for (i = 0; i < RF_LPM_WALK_MAX; i++) {
		r = rf_val_allows(addr_hi, addr_lo, meta, plen);
		if (r < 0)
			return 0;
		if (r & 0x100)
			return 1;
		next = rf_lpm_next(r & 0xff, plen);
		if (next < 0)
			return 0;
		plen = next;
	}
	return 0;
}

static __always_inline bool flow_dest_allowed(const struct rf_flow *f)
{
	__u64 hi, lo;

	__builtin_memcpy(&hi, f->remote, 8);
	__builtin_memcpy(&lo, f->remote + 8, 8);
	return rf_dest_allowed(hi, lo, rf_flow_meta(f));
}

#ifndef RF_NO_KFUNC
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;
#endif

#define RTF_GATEWAY 0x0002

/*
 * Does the IPv6 route this skb leaves by reach its destination directly (no gateway), i.e. is
 * the destination on the link? Read from the skb's dst (an rt6_info) through the kernel's
 * sk_buff, which only bpf_cast_to_kern_ctx() (Linux 6.2+) exposes to a cgroup_skb program.
 * false when that is not available or the skb has no plain IPv6 route (fail closed). Built
 * without it (RF_NO_KFUNC) for kernels without BTF, where no kfunc can be called.
 */
static __always_inline bool skb_route_onlink(struct __sk_buff *skb)
{
#ifdef RF_NO_KFUNC
	return false;
#else
	struct dst_entry *dst;
	struct sk_buff *kskb;

	if (!bpf_cast_to_kern_ctx)
		return false;
	kskb = bpf_cast_to_kern_ctx(skb);
	if (!kskb)
		return false;
	dst = (struct dst_entry *)(BPF_CORE_READ(kskb, _skb_refdst) & ~1UL);
	if (!dst || BPF_CORE_READ(dst, ops, family) != AF_INET6)
		return false;
	if (bpf_core_field_exists(dst->xfrm) && BPF_CORE_READ(dst, xfrm))
		return false; /* an IPsec bundle, not an rt6_info */
	return !(BPF_CORE_READ((struct rt6_info *)dst, rt6i_flags) & RTF_GATEWAY);
#endif
}

static __always_inline bool dhcp_peer_allowed(__u16 lport, const __u8 *remote, const __u8 *local,
					      bool ingress)
{
	int v = rf_dhcp_peer(lport, remote, local, ingress);

	if (v == RF_DHCP_IF_KNOWN)
		return bpf_map_lookup_elem(&rf_dhcp_server, remote) != NULL;
	return v == RF_DHCP_ALLOW;
}

#define ND_OPT_SOURCE_LL 1
#define ND_OPT_TARGET_LL 2

/*
 * "On-link" is only what the route table says: a /128 device route and a permanent neighbour
 * entry (or any point-to-point route) make an off-link host on-link (issue 21 item 12). So a
 * unicast NS/NA to a global address must also have the protocol's exact shape, which leaves no
 * room for data: ICMPv6 right after the IPv6 header, 24 bytes, or 32 with one link-layer address
 * option (NS: source, NA: target; length 1); an NS's target is its destination (a reachability
 * probe), an NA's its source (the address it answers for). At tc (l2), where the frame has its
 * Ethernet header, the option must carry the frame's own source MAC.
 */
static __always_inline bool nd_unicast_shape(struct __sk_buff *skb, const struct rf_flow *f,
					     bool l2)
{
	__u8 h[8], nd[32], eth[14];
	const __u8 *want = f->icmp_type == 135 ? f->remote : f->local;
	__u16 plen;
	int i;

	if (bpf_skb_load_bytes_relative(skb, 0, h, sizeof(h), BPF_HDR_START_NET) ||
	    h[6] != RF_IPPROTO_ICMPV6)
		return false;
	plen = (__u16)(h[4] << 8 | h[5]);
	if (plen != 24 && plen != 32)
		return false;
	__builtin_memset(nd, 0, sizeof(nd));
	/* constant sizes: Linux 5.10's verifier cannot bound a computed one */
	if (bpf_skb_load_bytes_relative(skb, 40, nd, 24, BPF_HDR_START_NET))
		return false;
	if (plen == 32 && bpf_skb_load_bytes_relative(skb, 64, nd + 24, 8, BPF_HDR_START_NET))
		return false;
	for (i = 0; i < 16; i++)
		if (nd[8 + i] != want[i])
			return false;
	if (plen == 24)
		return true;
	if (nd[24] != (f->icmp_type == 135 ? ND_OPT_SOURCE_LL : ND_OPT_TARGET_LL) || nd[25] != 1)
		return false;
	if (!l2)
		return true;
	if (bpf_skb_load_bytes(skb, 0, eth, sizeof(eth)) || eth[12] != 0x86 || eth[13] != 0xdd)
		return false;
	for (i = 0; i < 6; i++)
		if (nd[26 + i] != eth[6 + i])
			return false;
	return true;
}

/*
 * skb: the packet (packet hooks) for the ND on-link check, NULL in the syscall hooks; at_tc: it
 * is a frame at tc (with its link-layer header).
 */
static __always_inline bool builtin_allowed(const struct rf_config *cfg, const struct rf_flow *f,
					    struct __sk_buff *skb, bool ingress, bool at_tc)
{
	if ((cfg->builtins & RF_BUILTIN_DHCP) && rf_is_dhcp_client(f->proto, f->lport, f->rport))
		return dhcp_peer_allowed(f->lport, f->remote, f->local, ingress);
	if ((cfg->builtins & RF_BUILTIN_ND) && f->proto == RF_IPPROTO_ICMPV6 &&
	    f->family == AF_INET6 && rf_icmp6_is_nd(f->icmp_type)) {
		const __u8 *src = ingress ? f->remote : f->local;
		const __u8 *dst = ingress ? f->local : f->remote;
		int v = rf_nd_check(f->icmp_type, f->icmp_code, f->hop_limit, src, dst, ingress);

		if (v == RF_ND_ALLOW)
			return true;
		if (v == RF_ND_IF_ONLINK && skb && skb_route_onlink(skb) &&
		    nd_unicast_shape(skb, f, at_tc))
			return true;
	}
	return false;
}

/*
 * Is the calling task's cgroup, or one of its ancestors, allowed? The packet hooks ask the same
 * of the socket's cgroup (skb_cgroup_allowed()): one function for both would compile the other
 * hook's helper into each program, and Linux 5.10 refuses a helper a program type may not call
 * even where it is never reached.
 */
static __always_inline bool current_cgroup_allowed(void)
{
	int level;

	for (level = 0; level < RF_MAX_CGROUP_DEPTH; level++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);

		if (!id)
			break;
		if (bpf_map_lookup_elem(&rf_allow_cgroup, &id))
			return true;
	}
	return false;
}

/* Was the skb's socket created in an allowed cgroup (or below one)? */
static __always_inline bool skb_cgroup_allowed(struct __sk_buff *skb)
{
	int level;

	for (level = 0; level < RF_MAX_CGROUP_DEPTH; level++) {
		__u64 id = bpf_skb_ancestor_cgroup_id(skb, level);

		if (!id)
			break;
		if (bpf_map_lookup_elem(&rf_allow_cgroup, &id))
			return true;
	}
	return false;
}

/*
 * Is the calling process's executable allowed? If so, mark the socket (*marked) so the packet
 * hooks, which run without process context, recognise it later.
 */
static __always_inline bool process_exe_allowed(struct bpf_sock *sk, bool *marked)
{
	struct rf_exe_key k = {};
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct rf_sk_mark *m = NULL;

	if (!current_exe(&k) || !exe_allowed(&k, uid))
		return false;
	if (sk)
		m = bpf_sk_storage_get(&rf_sk_mark_v2, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (m) {
		m->flags = RF_SK_EXE | RF_SK_UID;
		m->exe = k;
		m->exe.pad = uid; /* the user the allowance was checked for */
		*marked = true;
	}
	return true;
}

/* Is the calling process allowed (by executable, marking the socket, or cgroup)? */
static __always_inline bool process_allowed(struct bpf_sock *sk)
{
	bool marked = false;

	return process_exe_allowed(sk, &marked) || current_cgroup_allowed();
}

static __always_inline void addr4_mapped(__u8 out[16], __u32 be_addr)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(&out[12], &be_addr, 4);
}

/* Host rules (issue 24): DNS learning and learned addresses. Uses the helpers above. */
#include "dns.bpf.h"

/* The rf_mgmt entry for a TCP flow to f's remote from process tgid, or NULL. */
static __always_inline const struct rf_mgmt_val *mgmt_entry(const struct rf_flow *f, __u32 tgid)
{
	struct rf_mgmt_key key = {};

	if (f->proto != RF_IPPROTO_TCP)
		return NULL;
	__builtin_memcpy(key.addr, f->remote, 16);
	key.port = f->rport;
	key.tgid = tgid;
	return bpf_map_lookup_elem(&rf_mgmt, &key);
}

/*
 * A management channel (rf_mgmt): the calling process, by thread group id and executable, may
 * connect to this destination. The socket is marked so the packet hooks let its packets pass
 * while the entry exists.
 */
static __always_inline bool mgmt_connect_allowed(struct bpf_sock *sk, const struct rf_flow *f)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const struct rf_mgmt_val *v;
	struct rf_exe_key k = {};
	struct rf_sk_mark *m;
	__u32 tgid;

	if (!sk || f->proto != RF_IPPROTO_TCP)
		return false;
	tgid = (__u32)BPF_CORE_READ(task, tgid);
	v = mgmt_entry(f, tgid);
	if (!v || !current_exe(&k) || k.dev != v->exe.dev || k.ino != v->exe.ino ||
	    k.gen != v->exe.gen)
		return false;
	m = bpf_sk_storage_get(&rf_sk_mark_v2, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!m)
		return false;
	m->flags |= RF_SK_MGMT;
	m->tgid = tgid;
	return true;
}

/*
 * Remember connect()'s allow of a TCP socket for the segments of its handshake and close (the
 * flow memo, cache.bpf.h; RF_MEMO_ANY_LPORT: the socket may have no local port yet). Only for an
 * allow the packet hooks give the same way: a destination rule (RF_MATCH_OUT_INIT), or the
 * executable the socket was just marked with. Not an allowed cgroup: the packet hooks look at
 * the socket's cgroup, which is not the caller's when a socket changed hands.
 */
static __always_inline void memo_connect(struct bpf_sock_addr *ctx, const struct rf_flow *f,
					 bool v6, __u32 cfg_tag, __u64 gen)
{
	__u16 p[2] = {0, bpf_htons(f->rport)};
	__u64 r0, r1, cookie = bpf_get_socket_cookie(ctx);
	struct rf_memo *m = rf_memo_slot(cookie);
	__u32 ports;

	if (!m)
		return;
	__builtin_memcpy(&r0, f->remote, 8);
	__builtin_memcpy(&r1, f->remote + 8, 8);
	__builtin_memcpy(&ports, p, 4);
	rf_memo_write(m, cookie, r0, r1, ports,
		      RF_CACHE_IPPROTO_TCP | (v6 ? RF_CACHE_KEY_V6 : 0) | RF_CACHE_KEY_INIT |
			  RF_MEMO_ANY_LPORT,
		      cfg_tag, gen);
}

/* Verdict for connect()/sendmsg(): 1 allow, 0 deny (the syscall fails with EPERM). */
static __always_inline int sock_addr_verdict(struct bpf_sock_addr *ctx, enum rf_hook hook, bool v6,
					     enum rf_match match)
{
	const struct rf_config *cfg = get_config();
	bool expired = false, marked = false, memo = false;
	struct bpf_sock *sk;
	struct rf_flow f = {};
	enum rf_mode mode;
	__u64 gen;

	if (!cfg || (mode = cfg_mode(cfg)) == RF_MODE_OFF)
		return 1;
	gen = rf_cache_gen(); /* before the judgment, as the packet hooks read it */

	if (v6) {
		__u32 a[4];

		a[0] = ctx->user_ip6[0];
		a[1] = ctx->user_ip6[1];
		a[2] = ctx->user_ip6[2];
		a[3] = ctx->user_ip6[3];
		__builtin_memcpy(f.remote, a, 16);
		f.family = AF_INET6;
	} else {
		addr4_mapped(f.remote, ctx->user_ip4);
		f.family = AF_INET;
	}
	f.rport = bpf_ntohs(ctx->user_port);
	f.proto = ctx->protocol;
	f.sock_type = ctx->type;
	f.match = match;
	sk = RF_CTX_SK(ctx);
	if (sk)
		f.lport = sk->src_port;

	if (rf_addr_is_loopback(f.remote))
		return 1;
	/*
	 * The destination before the cgroup walk, which costs more; the executable first, since it
	 * marks the socket (its flow then outlives a destination rule's removal).
	 */
	if (process_exe_allowed(sk, &marked)) {
		memo = marked;
		goto allowed;
	}
	if (flow_dest_allowed(&f)) {
		memo = true;
		goto allowed;
	}
	if (current_cgroup_allowed() || host_flow_allowed(sk, &f, true, &expired) ||
	    mgmt_connect_allowed(sk, &f) || builtin_allowed(cfg, &f, NULL, false, false)) {
	allowed:
		if (memo && match == RF_MATCH_OUT_INIT && f.proto == RF_IPPROTO_TCP &&
		    f.sock_type == SOCK_STREAM)
			memo_connect(ctx, &f, v6, rf_cache_cfg(cfg, mode), gen);
		if (mode == RF_MODE_ENFORCE)
			count_verdict(hook, false);
		return 1;
	}
	return refuse(mode, &f, hook, expired ? RF_REASON_HOST_EXPIRED : RF_REASON_NO_RULE,
		      bpf_get_current_cgroup_id(), true, true);
}

/* The four sock_addr programs: one verdict, each with its hook, family and match. */
#define RF_SOCK_ADDR_PROG(name, hook, v6, match)                                                   \
	SEC("cgroup/" #name)                                                                       \
	int rf_##name(struct bpf_sock_addr *ctx)                                                   \
	{                                                                                          \
		return sock_addr_verdict(ctx, hook, v6, match);                                    \
	}

RF_SOCK_ADDR_PROG(connect4, RF_HOOK_CONNECT4, false, RF_MATCH_OUT_INIT)
RF_SOCK_ADDR_PROG(connect6, RF_HOOK_CONNECT6, true, RF_MATCH_OUT_INIT)
RF_SOCK_ADDR_PROG(sendmsg4, RF_HOOK_SENDMSG4, false, RF_MATCH_SEND)
RF_SOCK_ADDR_PROG(sendmsg6, RF_HOOK_SENDMSG6, true, RF_MATCH_SEND)

/*
 * Raw IP and ping sockets can build packets the connect/sendmsg hooks never see: while isolated,
 * only allowed processes may create them. Also marks sockets of allowed executables at birth so
 * connections they open before isolation keep working after it.
 */
SEC("cgroup/sock_create")
int rf_sock_create(struct bpf_sock *ctx)
{
	const struct rf_config *cfg = get_config();
	struct rf_flow f = {};
	enum rf_mode mode;
	bool special;

	if (!cfg)
		return 1;
	mode = cfg_mode(cfg);
	if (mode == RF_MODE_OFF && !(cfg->flags & RF_CFG_EXE_RULES))
		return 1;
	if (ctx->family != AF_INET && ctx->family != AF_INET6)
		return 1;
	special = mode != RF_MODE_OFF &&
		  (ctx->type == SOCK_RAW ||
		   (ctx->type == SOCK_DGRAM &&
		    (ctx->protocol == RF_IPPROTO_ICMP || ctx->protocol == RF_IPPROTO_ICMPV6)));
	/* An ordinary socket: nothing to refuse, and nothing to mark without exe rules. */
	if (!special && !(cfg->flags & RF_CFG_EXE_RULES))
		return 1;
	if (process_allowed(ctx)) {
		if (mode == RF_MODE_ENFORCE)
			count_verdict(RF_HOOK_SOCK_CREATE, false);
		return 1;
	}
	if (!special)
		return 1;
	f.family = ctx->family;
	f.proto = ctx->protocol;
	f.sock_type = ctx->type;
	return refuse(mode, &f, RF_HOOK_SOCK_CREATE, RF_REASON_SOCKET_TYPE,
		      bpf_get_current_cgroup_id(), true, true);
}

#define SOL_IP		     0
#define SOL_IPV6	     41
#define IP_ADD_MEMBERSHIP    35 /* ... through MCAST_MSFILTER 48: every membership option */
#define MCAST_JOIN_GROUP     42
#define MCAST_MSFILTER	     48
#define IPV6_ADD_MEMBERSHIP  20
#define IPV6_DROP_MEMBERSHIP 21
#define IPV6_JOIN_ANYCAST    27
#define IPV6_LEAVE_ANYCAST   28
#define PAGE_SIZE_MIN	     4096

/*
 * Does this option change the host's multicast (or IPv6 anycast) memberships? Each change makes
 * the kernel send an IGMP or MLD report naming the group, from no socket (so no packet hook
 * sees it): joins, leaves, source blocks and filters alike, so also a group's timing is a
 * channel. SOL_IP 35..48 are IP_ADD_MEMBERSHIP .. IP_MSFILTER and MCAST_JOIN_GROUP ..
 * MCAST_MSFILTER; SOL_IPV6 has IPV6_{ADD,DROP}_MEMBERSHIP, IPV6_{JOIN,LEAVE}_ANYCAST (an anycast
 * address joins its solicited-node group) and the same MCAST_* numbers.
 */
static __always_inline bool sockopt_changes_membership(int level, int optname)
{
	if (level == SOL_IP)
		return optname >= IP_ADD_MEMBERSHIP && optname <= MCAST_MSFILTER;
	if (level == SOL_IPV6)
		return optname == IPV6_ADD_MEMBERSHIP || optname == IPV6_DROP_MEMBERSHIP ||
		       optname == IPV6_JOIN_ANYCAST || optname == IPV6_LEAVE_ANYCAST ||
		       (optname >= MCAST_JOIN_GROUP && optname <= MCAST_MSFILTER);
	return false;
}

/* The group named by a membership option, into f->remote (IPv6 or IPv4-mapped) when readable. */
static __always_inline void sockopt_group(struct bpf_sockopt *ctx, struct rf_flow *f)
{
	__u8 *p = RF_CTX_PTR(ctx, optval), *end = RF_CTX_PTR(ctx, optval_end);

	if (ctx->optname >= MCAST_JOIN_GROUP && ctx->optname <= MCAST_MSFILTER) {
		/* struct group_req / group_source_req / group_filter: __u32 interface, then a
		 * sockaddr_storage aligned to 8 */
		__u16 fam;

		if (p + 8 + 24 > end)
			return;
		__builtin_memcpy(&fam, p + 8, 2);
		if (fam == AF_INET)
			addr4_mapped(f->remote, *(__u32 *)(p + 8 + 4));
		else if (fam == AF_INET6)
			__builtin_memcpy(f->remote, p + 8 + 8, 16);
	} else if (ctx->level == SOL_IP) {
		/* ip_mreq, ip_mreqn, ip_mreq_source, ip_msfilter: the group comes first */
		if (p + 4 > end)
			return;
		addr4_mapped(f->remote, *(__u32 *)p);
	} else {
		/* ipv6_mreq: the group (or anycast address) comes first */
		if (p + 16 > end)
			return;
		__builtin_memcpy(f->remote, p, 16);
	}
}

#define IP_FREEBIND	 15
#define IP_TRANSPARENT	 19
#define IPV6_TRANSPARENT 75
#define IPV6_FREEBIND	 78

/*
 * Does this option let the socket send from an address that is not the host's own? With one,
 * an unprivileged process (IPV6_FREEBIND needs no privilege) binds a victim's address and sends
 * a query to an allowed peer (the resolver), which answers the victim: a reflection of
 * attacker-chosen data to any host (issue 21 item 13, R14). Setting it to 0 is harmless.
 */
static __always_inline bool sockopt_frees_source(struct bpf_sockopt *ctx)
{
	__u8 *p = RF_CTX_PTR(ctx, optval), *end = RF_CTX_PTR(ctx, optval_end);
	int level = ctx->level, optname = ctx->optname;

	if (!(level == SOL_IP && (optname == IP_FREEBIND || optname == IP_TRANSPARENT)) &&
	    !(level == SOL_IPV6 && (optname == IPV6_FREEBIND || optname == IPV6_TRANSPARENT)))
		return false;
	if (p + 1 <= end && ctx->optlen == 1 && !*p)
		return false;
	if (p + 4 <= end && ctx->optlen >= 4 && !*(__u32 *)p)
		return false;
	return true;
}

/*
 * Multicast joins as a covert channel (THREAT-MODEL): while isolated, a non-allowed process may
 * not change group memberships; the setsockopt fails with EPERM. Nor may it let a socket send
 * from addresses that are not the host's (sockopt_frees_source()).
 */
SEC("cgroup/setsockopt")
int rf_setsockopt(struct bpf_sockopt *ctx)
{
	const struct rf_config *cfg;
	struct bpf_sock *sk = RF_CTX_SK(ctx);
	struct rf_flow f = {};
	enum rf_mode mode;
	bool member;

	/* an option larger than a page is not copied for us: hand the kernel the original */
	if (ctx->optlen > PAGE_SIZE_MIN)
		ctx->optlen = 0;
	member = sockopt_changes_membership(ctx->level, ctx->optname);
	if (!member && !sockopt_frees_source(ctx))
		return 1;
	cfg = get_config();
	if (!cfg || (mode = cfg_mode(cfg)) == RF_MODE_OFF)
		return 1;
	if (process_allowed(sk)) {
		if (mode == RF_MODE_ENFORCE)
			count_verdict(RF_HOOK_SETSOCKOPT, false);
		return 1;
	}
	if (sk) {
		f.family = sk->family;
		f.proto = sk->protocol;
		f.sock_type = sk->type;
	}
	if (member)
		sockopt_group(ctx, &f);
	return refuse(mode, &f, RF_HOOK_SETSOCKOPT,
		      member ? RF_REASON_MULTICAST : RF_REASON_NO_RULE, bpf_get_current_cgroup_id(),
		      true, true);
}

#define IPV6_HOPOPTS  0
#define IPV6_ROUTING  43
#define IPV6_FRAGMENT 44
#define IPV6_DSTOPTS  60

static __always_inline bool ipv6_is_ext(__u8 proto)
{
	return proto == IPV6_HOPOPTS || proto == IPV6_ROUTING || proto == IPV6_DSTOPTS ||
	       proto == IPV6_FRAGMENT;
}

/*
 * Fill proto, ports, addresses, hop limit and the TCP initiation bit from the IP header.
 * Returns false for what cannot be parsed: another protocol than IPv4/IPv6, a wrong version or
 * IPv4 header length, an IPv6 extension-header chain longer than RF_IPV6_EXT_MAX or pointing
 * past the packet, a first fragment whose transport header is cut short. The caller drops those
 * while isolated (fail closed): a verdict on a half-read packet is a guess an attacker steers.
 */
/*
 * Bytes at off from the network header: at cgroup_skb that is the packet's start, at tc it
 * follows whatever link-layer header the device has (Ethernet, none on tun/WireGuard).
 */
#define l3_load(skb, off, to, len) bpf_skb_load_bytes_relative(skb, off, to, len, BPF_HDR_START_NET)

/*
 * Skip one IPv6 extension header, if the chain has one here and this is the first fragment:
 * off and proto move on. false when the header cannot be read (the packet is unparsable).
 */
static __always_inline bool ipv6_ext_step(struct __sk_buff *skb, __u32 *off, __u8 *proto,
					  bool *first_fragment)
{
	struct {
		__u8 nexthdr;
		__u8 len;
		__u16 frag_off;
	} ext;

	if (!*first_fragment || !ipv6_is_ext(*proto))
		return true;
	if (l3_load(skb, *off, &ext, sizeof(ext)))
		return false;
	if (*proto == IPV6_FRAGMENT) {
		*first_fragment = (bpf_ntohs(ext.frag_off) & 0xfff8) == 0;
		*off += 8;
	} else {
		*off += (ext.len + 1) * 8;
	}
	*proto = ext.nexthdr;
	return true;
}

/* Skip one IPv6 extension header as ipv6_ext_step() does, noting a routing header in *rt. */
static __always_inline bool ipv6_ext_step_rt(struct __sk_buff *skb, __u32 *off, __u8 *proto,
					     bool *first_fragment, __u8 *rt)
{
	if (*first_fragment && *proto == IPV6_ROUTING)
		*rt = 1;
	return ipv6_ext_step(skb, off, proto, first_fragment);
}

#define IPOPT_LSRR 131
#define IPOPT_SSRR 137

/*
 * Do the optlen (4..40, a multiple of 4) option bytes of an IPv4 header hold a loose or strict
 * source route (every address on it is visited; the hooks see only the first)? Every byte is
 * compared, not the parsed option list: a loop whose index follows option lengths defeats the
 * verifier's pruning. So a byte 131 or 137 inside another option's data counts too: such packets
 * are dropped as well (fail closed; only timestamp or record-route data could hold one). Read in
 * 4-byte words at constant offsets: Linux 5.10's verifier cannot bound a computed length.
 */
static __always_inline bool ipv4_options_srcroute(struct __sk_buff *skb, __u32 optlen)
{
	int c, k;

	for (c = 0; c < 10; c++) {
		__u8 o[4];

		if ((__u32)c * 4 >= optlen)
			break;
		if (l3_load(skb, 20 + c * 4, o, sizeof(o)))
			return true; /* not readable: treated as a source route (dropped) */
		for (k = 0; k < 4; k++)
			if (o[k] == IPOPT_LSRR || o[k] == IPOPT_SSRR)
				return true;
	}
	return false;
}

static __always_inline bool parse_skb(struct __sk_buff *skb, struct rf_flow *f, bool ingress)
{
	__u8 src[16], dst[16];
	__u32 off;
	__u8 proto;
	bool first_fragment = true;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (l3_load(skb, 0, &ip, sizeof(ip)))
			return false;
		if (ip.version != 4 || ip.ihl < 5)
			return false;
		if (ip.ihl > 5)
			f->srcroute = ipv4_options_srcroute(skb, ip.ihl * 4 - 20);
		addr4_mapped(src, ip.saddr);
		addr4_mapped(dst, ip.daddr);
		off = ip.ihl * 4;
		proto = ip.protocol;
		first_fragment = (bpf_ntohs(ip.frag_off) & 0x1fff) == 0;
		f->family = AF_INET;
		f->hop_limit = ip.ttl;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (l3_load(skb, 0, &ip6, sizeof(ip6)))
			return false;
		if (ip6.version != 6)
			return false;
		__builtin_memcpy(src, &ip6.saddr, 16);
		__builtin_memcpy(dst, &ip6.daddr, 16);
		off = sizeof(ip6);
		proto = ip6.nexthdr;
		f->family = AF_INET6;
		f->hop_limit = ip6.hop_limit;
		/* RF_IPV6_EXT_MAX (4) steps, written out: no loop for 5.10's verifier to refuse */
		if (!ipv6_ext_step_rt(skb, &off, &proto, &first_fragment, &f->srcroute) ||
		    !ipv6_ext_step_rt(skb, &off, &proto, &first_fragment, &f->srcroute) ||
		    !ipv6_ext_step_rt(skb, &off, &proto, &first_fragment, &f->srcroute) ||
		    !ipv6_ext_step_rt(skb, &off, &proto, &first_fragment, &f->srcroute))
			return false;
		/* a later fragment carries no more headers; otherwise the chain must have ended */
		if (first_fragment && ipv6_is_ext(proto))
			return false;
	} else {
		return false;
	}

	if (ingress) {
		__builtin_memcpy(f->remote, src, 16);
		__builtin_memcpy(f->local, dst, 16);
	} else {
		__builtin_memcpy(f->remote, dst, 16);
		__builtin_memcpy(f->local, src, 16);
	}
	f->proto = proto;
	f->match = RF_MATCH_FLOW;
	if (!first_fragment)
		return true; /* no transport header: only port-less rules can match */

	if (proto == RF_IPPROTO_TCP) {
		__u8 th[20]; /* the fixed header; byte 13 holds the flags: ACK 0x10, SYN 0x02 */

		if (l3_load(skb, off, th, sizeof(th)))
			return false;
		f->rport = ingress ? (__u16)(th[0] << 8 | th[1]) : (__u16)(th[2] << 8 | th[3]);
		f->lport = ingress ? (__u16)(th[2] << 8 | th[3]) : (__u16)(th[0] << 8 | th[1]);
		if ((th[13] & 0x12) == 0x02)
			f->match = ingress ? RF_MATCH_IN_INIT : RF_MATCH_OUT_INIT;
	} else if (proto == RF_IPPROTO_UDP) {
		__u8 uh[8];

		if (l3_load(skb, off, uh, sizeof(uh)))
			return false;
		f->rport = ingress ? (__u16)(uh[0] << 8 | uh[1]) : (__u16)(uh[2] << 8 | uh[3]);
		f->lport = ingress ? (__u16)(uh[2] << 8 | uh[3]) : (__u16)(uh[0] << 8 | uh[1]);
	} else if (proto == RF_IPPROTO_ICMP || proto == RF_IPPROTO_ICMPV6) {
		__u8 ih[8]; /* type, code, checksum and 4 bytes every ICMP message has */

		if (l3_load(skb, off, ih, sizeof(ih)))
			return false;
		f->icmp_type = ih[0];
		f->icmp_code = ih[1];
	}
	return true;
}

/* Is the executable (and user) a socket was marked with still allowed? */
static __always_inline bool exe_marked_allowed(const struct rf_sk_mark *m)
{
	struct rf_exe_key k = m->exe;
	__u32 uid = (m->flags & RF_SK_UID) ? k.pad : RF_UID_UNKNOWN;

	k.pad = 0;
	return exe_allowed(&k, uid);
}

/*
 * Allowed by who owns the socket: marked by an allowed executable, a management channel whose
 * rf_mgmt entry still stands for this flow, or in an allowed cgroup.
 */
static __always_inline bool skb_socket_allowed(struct __sk_buff *skb, const struct rf_flow *f)
{
	struct bpf_sock *sk = RF_CTX_SK(skb);

	if (sk) {
		sk = bpf_sk_fullsock(sk);
		if (sk) {
			struct rf_sk_mark *m = bpf_sk_storage_get(&rf_sk_mark_v2, sk, NULL, 0);
			struct rf_sk_mark_v1 *m1;

			/* re-checked on every packet: deleting the rule cuts the socket */
			if (m && (m->flags & RF_SK_EXE) && exe_marked_allowed(m))
				return true;
			if (m && (m->flags & RF_SK_MGMT) && mgmt_entry(f, m->tgid))
				return true;
			m1 = bpf_sk_storage_get(&rf_sk_mark, sk, NULL, 0);
			if (m1 && (m1->flags & RF_SK_EXE)) {
				struct rf_exe_key k = {
				    .dev = m1->exe_dev, .ino = m1->exe_ino, .gen = RF_EXE_GEN_ANY};

				if (exe_allowed(&k, RF_UID_UNKNOWN))
					return true;
			}
		}
	}
	return skb_cgroup_allowed(skb);
}

/*
 * Audit mode reports a flow once, not once per packet: the first would-be block marks the socket.
 * Packets without a full socket are reported each time (the event rate limit bounds them).
 */
static __always_inline bool audit_first_report(struct __sk_buff *skb)
{
	struct bpf_sock *sk = RF_CTX_SK(skb);
	struct rf_sk_mark *m;

	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (!sk)
		return true;
	m = bpf_sk_storage_get(&rf_sk_mark_v2, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!m)
		return true;
	if (m->flags & RF_SK_AUDITED)
		return false;
	m->flags |= RF_SK_AUDITED;
	return true;
}

static __always_inline bool addr_eq(const __u8 *a, const __u8 *b)
{
	int i;

	for (i = 0; i < 16; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Remember that this (non-TCP) socket sent to f's remote under an out rule. */
static __always_inline void peer_remember(struct __sk_buff *skb, const struct rf_flow *f)
{
	struct bpf_sock *sk = RF_CTX_SK(skb);
	struct rf_sk_peer *p;
	__u32 i;

	if (!sk)
		return;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return;
	p = bpf_sk_storage_get(&rf_sk_peer, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!p)
		return;
	for (i = 0; i < RF_SK_PEERS; i++)
		if (p->port[i] == f->rport && addr_eq(p->addr[i], f->remote))
			return;
	i = p->next % RF_SK_PEERS;
	__builtin_memcpy(p->addr[i], f->remote, 16);
	p->port[i] = f->rport;
	p->next = i + 1;
}

/* Is f's remote the connected peer of the receiving socket, or one it sent to under a rule? */
static __always_inline bool peer_known(struct __sk_buff *skb, const struct rf_flow *f)
{
	struct bpf_sock *sk = RF_CTX_SK(skb);
	struct rf_sk_peer *p;
	__u8 dst[16];
	__u32 i;

	if (!sk)
		return false;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return false;
	/* connected: the kernel delivers only what comes from that address and port */
	if (sk->dst_port && bpf_ntohs(sk->dst_port) == f->rport) {
		/* each field read on its own: the verifier refuses a computed ctx offset */
		__u32 a[4], d4, family = sk->family;

		d4 = *(volatile __u32 *)&sk->dst_ip4;
		a[0] = *(volatile __u32 *)&sk->dst_ip6[0];
		a[1] = *(volatile __u32 *)&sk->dst_ip6[1];
		a[2] = *(volatile __u32 *)&sk->dst_ip6[2];
		a[3] = *(volatile __u32 *)&sk->dst_ip6[3];
		if (family == AF_INET)
			addr4_mapped(dst, d4);
		else
			__builtin_memcpy(dst, a, 16);
		if (addr_eq(dst, f->remote))
			return true;
	}
	p = bpf_sk_storage_get(&rf_sk_peer, sk, NULL, 0);
	if (!p)
		return false;
	for (i = 0; i < RF_SK_PEERS; i++)
		if (p->port[i] == f->rport && addr_eq(p->addr[i], f->remote))
			return true;
	return false;
}

/*
 * Destination rules for a packet. A received non-TCP packet is allowed by an in rule, or by an
 * out rule only from a peer the socket sent to (RF_MATCH_IN_DATA). TCP needs no such record:
 * only a SYN opens a connection (judged as RF_MATCH_IN_INIT), and any other segment reaches
 * only the socket of its exact four-tuple. A sent non-TCP packet that an out rule allows is
 * remembered for the answers.
 */
static __always_inline bool skb_dest_allowed(struct __sk_buff *skb, struct rf_flow *f, bool ingress)
{
	if (f->proto == RF_IPPROTO_TCP || f->match != RF_MATCH_FLOW)
		return flow_dest_allowed(f);
	if (ingress) {
		f->match = RF_MATCH_IN_DATA;
		if (flow_dest_allowed(f))
			return true;
		f->match = RF_MATCH_FLOW;
		return peer_known(skb, f) && flow_dest_allowed(f);
	}
	if (!flow_dest_allowed(f))
		return false;
	peer_remember(skb, f);
	return true;
}

/*
 * The packet hooks' fast path, first on every packet, inlined (a call to a global function cost
 * an established flow's packet 5 ns, a tenth of an empty program): not enforcing, loopback without
 * host rules, or a packet that a cached allow covers (cache.bpf.h). Returns an enum
 * rf_cache_result: RF_CACHE_HIT allows the packet (counted, as the full judgment would), anything
 * else goes to the full judgment, which caches its allow on RF_CACHE_MISS.
 *
 * The deadline is not checked here, to save a clock read per packet: it only ever turns a
 * verdict into an allow (cfg_mode()), so a cached allow is right on either side of it. The full
 * judgment checks it, and no verdict is cached once it has passed.
 */
static __always_inline int rf_skb_fast(struct __sk_buff *skb, bool ingress)
{
	const struct rf_config *cfg = get_config();
	__u32 mode;
	int cached;

	if (!skb || !cfg)
		return RF_CACHE_NONE;
	if (!cfg->isolated && !(cfg->flags & RF_CFG_AUDIT))
		return RF_CACHE_HIT; /* RF_MODE_OFF: allowed, counted nowhere */
	/*
	 * Loopback is the interface, not the address: 127/8 or ::1 on another device (a route with
	 * route_localnet, a mirred copy of lo) leaves the host and is judged like any address.
	 * With host rules, DNS is observed first, on lo too (a local stub resolver), and the cache
	 * is not used: every DNS answer must be observed (dns_observe()).
	 */
	if (cfg->flags & RF_CFG_HOST_RULES)
		return RF_CACHE_NONE;
	if (skb->ifindex == LOOPBACK_IFINDEX)
		return RF_CACHE_HIT; /* allowed, as the full judgment does */
	mode = cfg->isolated ? RF_MODE_ENFORCE : RF_MODE_AUDIT;
	cached = rf_cache_lookup(skb, ingress, ingress ? RF_CACHE_INGRESS : RF_CACHE_EGRESS,
				 rf_cache_cfg(cfg, mode), rf_cache_gen(), false);
	if (cached == RF_CACHE_HIT && mode == RF_MODE_ENFORCE)
		count_verdict(ingress ? RF_HOOK_INGRESS : RF_HOOK_EGRESS, false);
	return cached;
}

static __always_inline int skb_verdict(struct __sk_buff *skb, bool ingress)
{
	const struct rf_config *cfg;
	enum rf_hook hook = ingress ? RF_HOOK_INGRESS : RF_HOOK_EGRESS;
	enum rf_reason reason = RF_REASON_NO_RULE;
	struct rf_flow f = {};
	enum rf_mode mode;
	bool parsed, lo, expired = false;
	__u64 gen;
	int cached;

	cached = rf_skb_fast(skb, ingress);
	if (cached == RF_CACHE_HIT)
		return 1;
	/* read before the judgment: an allow is cached under the generation it was judged under */
	gen = rf_cache_gen();
	cfg = get_config();
	if (!cfg || (mode = cfg_mode(cfg)) == RF_MODE_OFF)
		return 1;
	lo = skb->ifindex == LOOPBACK_IFINDEX;
	if (lo && !(cfg->flags & RF_CFG_HOST_RULES))
		return 1;
	parsed = parse_skb(skb, &f, ingress);
	if (parsed && (cfg->flags & RF_CFG_HOST_RULES))
		dns_observe(skb, &f, ingress);
	if (lo)
		return 1;
	if (!parsed) {
		/* fail closed, whoever owns the socket: what cannot be read cannot be judged */
		reason = RF_REASON_MALFORMED;
		goto refused;
	}
	/*
	 * A source-routed packet visits hosts the hooks never judged (SRv6 segments, LSRR/SSRR
	 * hops): only an allowed process's socket may send or receive one.
	 */
	if (f.srcroute) {
		if (skb_socket_allowed(skb, &f))
			goto allowed;
		goto refused;
	}
	/* the destination first: one LPM walk, cheaper than the socket's mark and cgroup walk */
	if (skb_dest_allowed(skb, &f, ingress) || skb_socket_allowed(skb, &f)) {
		if (cached == RF_CACHE_MISS)
			rf_cache_store(skb, ingress, ingress ? RF_CACHE_INGRESS : RF_CACHE_EGRESS,
				       rf_cache_cfg(cfg, mode), gen);
		goto allowed;
	}
	/* host rules (learned addresses) and built-ins: judged on every packet, never cached */
	if (skb_host_allowed(skb, &f, ingress, &expired) ||
	    builtin_allowed(cfg, &f, skb, ingress, false)) {
	allowed:
		if (mode == RF_MODE_ENFORCE)
			count_verdict(hook, false);
		return 1;
	}
	if (expired)
		reason = RF_REASON_HOST_EXPIRED;
refused:
	return refuse(mode, &f, hook, reason, bpf_skb_cgroup_id(skb), false,
		      mode == RF_MODE_ENFORCE || audit_first_report(skb));
}

SEC("cgroup_skb/ingress")
int rf_ingress(struct __sk_buff *skb)
{
	return skb_verdict(skb, true);
}

SEC("cgroup_skb/egress")
int rf_egress(struct __sk_buff *skb)
{
	return skb_verdict(skb, false);
}

/*
 * DHCP client frames sent by packet sockets (dhclient, systemd-networkd): Ethernet + IP + UDP
 * ports, to a destination the DHCP built-in allows. Parsed from the frame's real headers, not
 * from skb->protocol (the sender chooses it) or a fixed offset: the Ethernet type must be IPv4 or
 * IPv6 itself (an 802.1Q tag is not DHCP), no VLAN tag may be added on the way out, the kernel's
 * network header must be where Ethernet puts it (the header bytes read there and at offset 14
 * are the same, so the packet the device sends is the one judged, whatever its link type), the
 * IP header plain (no IPv4 options or fragments, no IPv6 extension header). Anything else is not
 * DHCP (dropped).
 */
static __always_inline bool frame_is_dhcp_client(struct __sk_buff *skb)
{
	__u64 w[6] = {}, n[6] = {}; /* 48 bytes: IPv6 + UDP (IPv4 + UDP fits in the first 28) */
	__u8 eth[14], *h = (__u8 *)w, dst[16];
	__u16 type, sport, dport;
	__u8 proto;
	int i;

	if (skb->vlan_present || bpf_skb_load_bytes(skb, 0, eth, sizeof(eth)))
		return false;
	type = (__u16)(eth[12] << 8 | eth[13]);
	if ((type != ETH_P_IP && type != ETH_P_IPV6) || skb->protocol != bpf_htons(type))
		return false;
	/* constant sizes: Linux 5.10's verifier cannot bound a computed one */
	if (type == ETH_P_IP) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN, w, 32) || l3_load(skb, 0, n, 32))
			return false;
	} else if (bpf_skb_load_bytes(skb, ETH_HLEN, w, 48) || l3_load(skb, 0, n, 48)) {
		return false;
	}
	for (i = 0; i < 6; i++)
		if ((type == ETH_P_IPV6 || i < 4) && w[i] != n[i])
			return false;
	if (type == ETH_P_IP) {
		/* version 4, IHL 5; no fragment (MF or an offset); UDP */
		if (h[0] != 0x45 || (h[6] & 0x3f) || h[7] || h[9] != RF_IPPROTO_UDP)
			return false;
		addr4_mapped(dst, *(__u32 *)(h + 16));
		proto = h[9];
		sport = (__u16)(h[20] << 8 | h[21]);
		dport = (__u16)(h[22] << 8 | h[23]);
	} else {
		if ((h[0] >> 4) != 6 || h[6] != RF_IPPROTO_UDP)
			return false;
		__builtin_memcpy(dst, h + 24, 16);
		proto = h[6];
		sport = (__u16)(h[40] << 8 | h[41]);
		dport = (__u16)(h[42] << 8 | h[43]);
	}
	if (!rf_is_dhcp_client(proto, sport, dport))
		return false;
	return dhcp_peer_allowed(sport, dst, dst, false);
}

/*
 * The packet-socket guard: packet (AF_PACKET) sockets get no sock_create, connect or cgroup_skb
 * call, so their frames are judged here: dropped when the socket was created inside the isolated
 * cgroup, unless the creator's cgroup is allowed or the frame is DHCP client traffic.
 */
static __always_inline int packet_socket_verdict(struct __sk_buff *skb, struct bpf_sock *sk,
						 const struct rf_config *cfg, enum rf_mode mode)
{
	struct rf_flow f = {};

	if (skb_cgroup_allowed(skb) ||
	    ((cfg->builtins & RF_BUILTIN_DHCP) && frame_is_dhcp_client(skb))) {
		if (mode == RF_MODE_ENFORCE)
			count_verdict(RF_HOOK_TC_EGRESS, false);
		return TC_ACT_UNSPEC;
	}
	f.family = sk->family;
	f.sock_type = sk->type;
	f.proto = sk->protocol;
	if (refuse(mode, &f, RF_HOOK_TC_EGRESS, RF_REASON_PACKET_SOCKET, bpf_skb_cgroup_id(skb),
		   false, mode == RF_MODE_ENFORCE || audit_first_report(skb)))
		return TC_ACT_UNSPEC;
	return TC_ACT_SHOT;
}

/*
 * The second wall: what leaves the interface is judged again in its on-wire form (outer
 * destination, protocol, port), so a tunnel, nftables dup/DNAT or a mirred redirect cannot carry
 * traffic to where the cgroup layer would refuse it. For the host target (the cgroup2 root)
 * every packet is judged, with a socket or without (kernel replies such as RST and ICMP errors
 * to peers no rule allows stop too); for a narrower target only packets of its own sockets,
 * since the interface is shared with the rest of the host. ARP passes; what cannot be parsed
 * is dropped.
 */
static __always_inline int wall_verdict(struct __sk_buff *skb, const struct rf_config *cfg,
					enum rf_mode mode)
{
	enum rf_reason reason = RF_REASON_NO_RULE;
	struct rf_flow f = {};
	bool expired = false;
	__u64 gen;
	int cached;

	if (skb->protocol == bpf_htons(ETH_P_ARP))
		return TC_ACT_UNSPEC;
	gen = rf_cache_gen();
	cached = rf_cache_hit_tc(skb, RF_CACHE_WALL, rf_cache_cfg(cfg, mode), gen);
	if (cached == RF_CACHE_HIT)
		goto allowed;
	if (!parse_skb(skb, &f, false)) {
		reason = RF_REASON_MALFORMED;
		goto refused;
	}
	/* no loopback exemption: the wall is never on lo, so 127/8 or ::1 here leaves the host */
	if (!f.srcroute && (flow_dest_allowed(&f) || skb_socket_allowed(skb, &f))) {
		if (cached == RF_CACHE_MISS)
			rf_cache_store_tc(skb, RF_CACHE_WALL, rf_cache_cfg(cfg, mode), gen);
		goto allowed;
	}
	if (f.srcroute ? skb_socket_allowed(skb, &f)
		       : host_flow_allowed(skb_full_sock(skb), &f, false, &expired) ||
			     builtin_allowed(cfg, &f, skb, false, true)) {
	allowed:
		if (mode == RF_MODE_ENFORCE)
			count_verdict(RF_HOOK_WALL, false);
		return TC_ACT_UNSPEC;
	}
	if (expired)
		reason = RF_REASON_HOST_EXPIRED;
refused:
	if (refuse(mode, &f, RF_HOOK_WALL, reason, bpf_skb_cgroup_id(skb), false,
		   mode == RF_MODE_ENFORCE || audit_first_report(skb)))
		return TC_ACT_UNSPEC;
	return TC_ACT_SHOT;
}

/*
 * tc egress on the interfaces: the packet-socket guard, then the second wall. scoped: judge only
 * the target's own sockets' packets (a narrower target on a shared interface), else all.
 */
static __always_inline int tc_egress_verdict(struct __sk_buff *skb, bool scoped)
{
	const struct rf_config *cfg;
	struct bpf_sock *sk;
	enum rf_mode mode;

	/*
	 * A narrower target judges only the packets of its own sockets (packet sockets included):
	 * everyone else's leave after this one helper call, first, since the filter of every
	 * target sharing the interface runs on every packet. The host target judges them all.
	 */
	if (scoped && rf_target_level &&
	    bpf_skb_ancestor_cgroup_id(skb, rf_target_level) != rf_target_cgid)
		return TC_ACT_UNSPEC;
	cfg = get_config();
	if (!cfg || (mode = cfg_mode(cfg)) == RF_MODE_OFF)
		return TC_ACT_UNSPEC;
	sk = RF_CTX_SK(skb);
	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (sk && sk->family != AF_INET && sk->family != AF_INET6)
		return packet_socket_verdict(skb, sk, cfg, mode);
	return wall_verdict(skb, cfg, mode);
}

SEC("tc")
int rf_tc_egress(struct __sk_buff *skb)
{
	return tc_egress_verdict(skb, true);
}

/*
 * The same for the interfaces of a network namespace that only the target's processes use (a
 * container's own, issue 21 item 10): every packet leaving them is the target's, with a socket
 * or without (kernel RSTs, forwarded copies, tun writes), so every packet is judged, as for the
 * host. The loader pins it; userspace attaches it instead of rf_tc_egress there.
 */
SEC("tc")
int rf_tcns_egress(struct __sk_buff *skb)
{
	return tc_egress_verdict(skb, false);
}

/* ---- ICMP errors on the way in (tc ingress) --------------------------------------------- */

#define ICMPV6_REDIRECT 137

/* ICMP errors the kernel hands to the socket of the flow they quote (icmp_socket_deliver). */
static __always_inline bool icmp_is_error(bool v6, __u8 type)
{
	if (v6)
		return type >= 1 && type <= 4; /* unreachable, too big, time exceeded, parameter */
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/*
 * The flow an ICMP error quotes (the IP header at off and the 8 bytes after it), seen from this
 * host: the quoted packet is one the host sent, so its source is local and its destination
 * remote. false when it cannot be read (the caller drops the error).
 */
static __always_inline bool parse_quoted(struct __sk_buff *skb, __u32 off, bool v6,
					 struct rf_flow *f)
{
	bool first_fragment = true;
	__u8 proto, l4[4];

	if (!v6) {
		struct iphdr ip;

		if (l3_load(skb, off, &ip, sizeof(ip)) || ip.version != 4 || ip.ihl < 5)
			return false;
		addr4_mapped(f->local, ip.saddr);
		addr4_mapped(f->remote, ip.daddr);
		proto = ip.protocol;
		first_fragment = (bpf_ntohs(ip.frag_off) & 0x1fff) == 0;
		off += ip.ihl * 4;
		f->family = AF_INET;
	} else {
		struct ipv6hdr ip6;

		if (l3_load(skb, off, &ip6, sizeof(ip6)) || ip6.version != 6)
			return false;
		__builtin_memcpy(f->local, &ip6.saddr, 16);
		__builtin_memcpy(f->remote, &ip6.daddr, 16);
		proto = ip6.nexthdr;
		off += sizeof(ip6);
		f->family = AF_INET6;
		if (!ipv6_ext_step(skb, &off, &proto, &first_fragment) ||
		    !ipv6_ext_step(skb, &off, &proto, &first_fragment) ||
		    !ipv6_ext_step(skb, &off, &proto, &first_fragment) ||
		    !ipv6_ext_step(skb, &off, &proto, &first_fragment))
			return false;
		if (first_fragment && ipv6_is_ext(proto))
			return false;
	}
	f->proto = proto;
	f->match = RF_MATCH_FLOW;
	if (!first_fragment)
		return true;
	if (proto != RF_IPPROTO_TCP && proto != RF_IPPROTO_UDP && proto != RF_IPPROTO_ICMP &&
	    proto != RF_IPPROTO_ICMPV6)
		return true;
	if (l3_load(skb, off, l4, sizeof(l4)))
		return false;
	if (proto == RF_IPPROTO_TCP || proto == RF_IPPROTO_UDP) {
		f->lport = (__u16)(l4[0] << 8 | l4[1]);
		f->rport = (__u16)(l4[2] << 8 | l4[3]);
	} else {
		f->icmp_type = l4[0];
		f->icmp_code = l4[1];
	}
	return true;
}

/*
 * A received packet: is it an ICMP error, and which flow does it quote? 0: not an ICMP error
 * (the cgroup layer judges it, if it reaches a socket); 1: an error quoting q; -1: what cannot be
 * parsed, including an ICMPv6 redirect (its redirected header reaches sockets too, and no
 * isolated host needs a redirect). outer gets the packet itself, for the report.
 */
static __always_inline int parse_icmp_error(struct __sk_buff *skb, struct rf_flow *outer,
					    struct rf_flow *q)
{
	bool v6 = skb->protocol == bpf_htons(ETH_P_IPV6), first_fragment = true;
	__u8 proto, ih[8];
	__u32 off;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (l3_load(skb, 0, &ip, sizeof(ip)) || ip.version != 4 || ip.ihl < 5)
			return -1;
		addr4_mapped(outer->remote, ip.saddr);
		addr4_mapped(outer->local, ip.daddr);
		outer->family = AF_INET;
		proto = ip.protocol;
		first_fragment = (bpf_ntohs(ip.frag_off) & 0x1fff) == 0;
		off = ip.ihl * 4;
	} else if (v6) {
		struct ipv6hdr ip6;

		if (l3_load(skb, 0, &ip6, sizeof(ip6)) || ip6.version != 6)
			return -1;
		__builtin_memcpy(outer->remote, &ip6.saddr, 16);
		__builtin_memcpy(outer->local, &ip6.daddr, 16);
		outer->family = AF_INET6;
		proto = ip6.nexthdr;
		off = sizeof(ip6);
		if (!ipv6_ext_step(skb, &off, &proto, &first_fragment) ||
		    !ipv6_ext_step(skb, &off, &proto, &first_fragment) ||
		    !ipv6_ext_step(skb, &off, &proto, &first_fragment) ||
		    !ipv6_ext_step(skb, &off, &proto, &first_fragment))
			return -1;
		if (first_fragment && ipv6_is_ext(proto))
			return -1;
	} else {
		return 0; /* ARP and other protocols: no socket gets them as an IP error */
	}
	outer->proto = proto;
	/* a later fragment is reassembled behind its first one, which is judged here */
	if (!first_fragment || proto != (v6 ? RF_IPPROTO_ICMPV6 : RF_IPPROTO_ICMP))
		return 0;
	if (l3_load(skb, off, ih, sizeof(ih)))
		return -1;
	outer->icmp_type = ih[0];
	outer->icmp_code = ih[1];
	if (v6 && ih[0] == ICMPV6_REDIRECT)
		return -1;
	if (!icmp_is_error(v6, ih[0]))
		return 0;
	return parse_quoted(skb, off + sizeof(ih), v6, q) ? 1 : -1;
}

/* The TCP or UDP socket the kernel would hand the error quoting q to (a reference), or NULL. */
static __always_inline struct bpf_sock *quoted_socket(struct __sk_buff *skb,
						      const struct rf_flow *q)
{
	struct bpf_sock_tuple t = {};
	__u32 len;

	if (q->proto != RF_IPPROTO_TCP && q->proto != RF_IPPROTO_UDP)
		return NULL;
	if (q->family == AF_INET) {
		__builtin_memcpy(&t.ipv4.saddr, q->remote + 12, 4);
		__builtin_memcpy(&t.ipv4.daddr, q->local + 12, 4);
		t.ipv4.sport = bpf_htons(q->rport);
		t.ipv4.dport = bpf_htons(q->lport);
		len = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, q->remote, 16);
		__builtin_memcpy(t.ipv6.daddr, q->local, 16);
		t.ipv6.sport = bpf_htons(q->rport);
		t.ipv6.dport = bpf_htons(q->lport);
		len = sizeof(t.ipv6);
	}
	if (q->proto == RF_IPPROTO_TCP)
		return bpf_sk_lookup_tcp(skb, &t, len, BPF_F_CURRENT_NETNS, 0);
	return bpf_sk_lookup_udp(skb, &t, len, BPF_F_CURRENT_NETNS, 0);
}

/*
 * Where sk (a looked-up socket) was created: *in_target if in the target cgroup or below,
 * *allowed if in an allowed cgroup or below. tc has no helper for a socket's cgroup: it is read
 * from the kernel's struct sock through bpf_rdonly_cast() (Linux 6.2+), walking up to the root.
 * Neither is set where that kfunc is missing or with RF_NO_KFUNC: a narrower target then leaves
 * the error alone (THREAT-MODEL).
 */
static __always_inline void sock_cgroup_check(struct bpf_sock *sk, bool *in_target, bool *allowed)
{
#ifndef RF_NO_KFUNC
	struct cgroup *cg;
	struct sock *s;
	int i;

	if (!bpf_rdonly_cast)
		return;
	s = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct sock));
	cg = bpf_rdonly_cast(s->sk_cgrp_data.cgroup, bpf_core_type_id_kernel(struct cgroup));
	for (i = 0; i < RF_MAX_CGROUP_DEPTH; i++) {
		__u64 id = cg->kn->id;
		int level = cg->level;

		if (!id)
			break;
		if (level == (int)rf_target_level && id == rf_target_cgid)
			*in_target = true;
		if (bpf_map_lookup_elem(&rf_allow_cgroup, &id))
			*allowed = true;
		if (level <= 0)
			break;
		cg = bpf_rdonly_cast(cg->self.parent, bpf_core_type_id_kernel(struct cgroup));
	}
#endif
}

/* Allowed by the socket's mark: an allowed executable's, or a management channel whose rf_mgmt
 * entry stands for the quoted flow q? */
static __always_inline bool sock_mark_allowed(struct bpf_sock *sk, const struct rf_flow *q)
{
	struct rf_sk_mark *m = bpf_sk_storage_get(&rf_sk_mark_v2, sk, NULL, 0);

	if (!m)
		return false;
	if ((m->flags & RF_SK_EXE) && exe_marked_allowed(m))
		return true;
	return (m->flags & RF_SK_MGMT) && mgmt_entry(q, m->tgid);
}

/*
 * An ICMP error reaches the socket of the flow it quotes (its error queue with IP_RECVERR,
 * payload included) without passing cgroup_skb/ingress: judged here by the quoted flow, which
 * must be one the policy allows (or a socket of an allowed process). The host target judges
 * every error; a narrower target those quoting a TCP or UDP socket of its own (the interface is
 * shared). An error that cannot be parsed is dropped.
 */
static __always_inline int icmp_error_verdict(struct __sk_buff *skb, const struct rf_config *cfg,
					      enum rf_mode mode, bool all)
{
	enum rf_reason reason = RF_REASON_MALFORMED;
	struct rf_flow outer = {}, q = {};
	bool ours = all, allowed = false, expired = false;
	struct bpf_sock *sk;
	int r;

	r = parse_icmp_error(skb, &outer, &q);
	if (r == 0)
		return TC_ACT_UNSPEC;
	if (r > 0) {
		sk = quoted_socket(skb, &q);
		if (sk) {
			bool in_target = false;

			sock_cgroup_check(sk, &in_target, &allowed);
			ours = ours || in_target;
			allowed = allowed || sock_mark_allowed(sk, &q);
			bpf_sk_release(sk);
		}
		if (!ours)
			return TC_ACT_UNSPEC;
		reason = RF_REASON_NO_RULE;
		if (allowed || flow_dest_allowed(&q) ||
		    host_flow_allowed(NULL, &q, false, &expired) ||
		    builtin_allowed(cfg, &q, NULL, false, false)) {
			if (mode == RF_MODE_ENFORCE)
				count_verdict(RF_HOOK_TC_INGRESS, false);
			return TC_ACT_UNSPEC;
		}
	}
	if (refuse(mode, &outer, RF_HOOK_TC_INGRESS, reason, 0, false, true))
		return TC_ACT_UNSPEC;
	return TC_ACT_SHOT;
}

/* tc ingress on the interfaces: ICMP errors, which no cgroup hook sees on their way in. */
static __always_inline int tc_ingress_verdict(struct __sk_buff *skb, bool all)
{
	const struct rf_config *cfg = get_config();
	enum rf_mode mode;

	if (!cfg || (mode = cfg_mode(cfg)) == RF_MODE_OFF)
		return TC_ACT_UNSPEC;
	return icmp_error_verdict(skb, cfg, mode, all);
}

SEC("tc")
int rf_tc_ingress(struct __sk_buff *skb)
{
	return tc_ingress_verdict(skb, rf_target_level == 0);
}

/* rf_tc_ingress for a namespace of the target's own (rf_tcns_egress): every error is judged. */
SEC("tc")
int rf_tcns_ingress(struct __sk_buff *skb)
{
	return tc_ingress_verdict(skb, true);
}
