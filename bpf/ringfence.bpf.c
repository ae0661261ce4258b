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

#define AF_INET 2
#define AF_INET6 10
#define SOCK_DGRAM 2
#define SOCK_RAW 3
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define LOOPBACK_IFINDEX 1
#define RF_LPM_WALK_MAX 32 /* nested prefixes tried for one address before denying */
#define RF_IPV6_EXT_MAX 4 /* IPv6 extension headers skipped to find the transport header */

#define AF_PACKET 17
#define ETH_HLEN 14
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_MAX_PROC_RULES);
	__type(key, struct rf_exe_key);
	__type(value, struct rf_allow_val);
} rf_allow_exe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_MAX_PROC_RULES);
	__type(key, __u64);
	__type(value, struct rf_allow_val);
} rf_allow_cgroup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct rf_sk_mark);
} rf_sk_mark SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RF_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} rf_stats SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RF_EVENTS_RINGBUF_SIZE);
} rf_events SEC(".maps");

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
};

/* Isolated now? Any non-zero flag is isolation (fail closed) unless the deadline has passed. */
static __always_inline bool cfg_isolated(const struct rf_config *cfg)
{
	if (!cfg->isolated)
		return false;
	if (cfg->deadline_ns && bpf_ktime_get_boot_ns() >= cfg->deadline_ns)
		return false;
	return true;
}

static __always_inline const struct rf_config *get_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&rf_config, &zero);
}

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&rf_stats, &idx);

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
 * ctx->sk of the UAPI contexts (a __bpf_md_ptr): the verifier accepts only an 8-byte load of it,
 * but read through vmlinux.h's types (CO-RE) libbpf shrinks the load to a 32-bit kernel's
 * pointer size. The offset is UAPI, so read it as the u64 it is.
 */
#define RF_CTX_SK(ctx)                                                                        \
	((struct bpf_sock *)(unsigned long)*(volatile __u64 *)((void *)(ctx) +                \
							       __builtin_offsetof(typeof(*(ctx)), sk)))

/*
 * A kernel field read at the running kernel's size of it (bpf_core_field_size() is relocated),
 * zero-extended: pointers and unsigned long are 4 bytes on 32-bit kernels (armhf), where a read
 * of the 8 bytes vmlinux.h declares would take in the next field.
 */
#define RF_CORE_READ_SIZED(dst, ptr, field)                                                   \
	({                                                                                    \
		__u64 __v = 0;                                                                \
		bpf_core_read(&__v, bpf_core_field_size((ptr)->field), &(ptr)->field);        \
		(dst) = (typeof(dst))__v;                                                     \
	})

/*
 * bpf_get_current_task() and CO-RE reads, not bpf_get_current_task_btf(): cgroup programs may
 * call the BTF-typed helper only from Linux 5.11, the untyped one (root only) since 5.10.
 */
static __always_inline bool current_exe(struct rf_exe_key *k)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm;
	struct file *exe;
	struct inode *inode;
	struct super_block *sb;

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
	return true;
}

static __always_inline void report(const struct rf_flow *f, enum rf_hook hook, enum rf_reason reason,
				   __u64 cgroup_id, bool process_context)
{
	struct rf_event *e;

	if (!event_rate_ok()) {
		stat_inc(RF_STAT_EVENTS_RATELIMITED);
		return;
	}
	e = bpf_ringbuf_reserve(&rf_events, sizeof(*e), 0);
	if (!e) {
		stat_inc(RF_STAT_EVENTS_LOST);
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
		}
	}
	bpf_ringbuf_submit(e, 0);
	stat_inc(RF_STAT_EVENTS_SENT);
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
	struct rf_net_key key = { .prefixlen = plen };
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

static __always_inline bool builtin_allowed(const struct rf_config *cfg, const struct rf_flow *f)
{
	if ((cfg->builtins & RF_BUILTIN_DHCP) && rf_is_dhcp_client(f->proto, f->lport, f->rport))
		return true;
	if ((cfg->builtins & RF_BUILTIN_ND) && f->proto == RF_IPPROTO_ICMPV6 &&
	    rf_icmp6_is_nd(f->icmp_type))
		return true;
	return false;
}

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

/*
 * Is the calling process allowed (by executable or cgroup)? If it is allowed by executable, mark
 * the socket so the packet hooks, which run without process context, recognise it later.
 */
static __always_inline bool process_allowed(struct bpf_sock *sk)
{
	struct rf_exe_key k = {};

	if (current_exe(&k) && bpf_map_lookup_elem(&rf_allow_exe, &k)) {
		struct rf_sk_mark *m = NULL;

		if (sk)
			m = bpf_sk_storage_get(&rf_sk_mark, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
		if (m) {
			m->flags = RF_SK_EXE;
			m->exe_dev = k.dev;
			m->exe_ino = k.ino;
		}
		return true;
	}
	return current_cgroup_allowed();
}

static __always_inline void addr4_mapped(__u8 out[16], __u32 be_addr)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(&out[12], &be_addr, 4);
}

/* Verdict for connect()/sendmsg(): 1 allow, 0 deny (the syscall fails with EPERM). */
static __always_inline int sock_addr_verdict(struct bpf_sock_addr *ctx, enum rf_hook hook, bool v6,
					     enum rf_match match)
{
	const struct rf_config *cfg = get_config();
	struct bpf_sock *sk;
	struct rf_flow f = {};

	if (!cfg || !cfg_isolated(cfg))
		return 1;

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
	if (process_allowed(sk) || flow_dest_allowed(&f) || builtin_allowed(cfg, &f)) {
		count_verdict(hook, false);
		return 1;
	}
	count_verdict(hook, true);
	report(&f, hook, RF_REASON_NO_RULE, bpf_get_current_cgroup_id(), true);
	return 0;
}

SEC("cgroup/connect4")
int rf_connect4(struct bpf_sock_addr *ctx)
{
	return sock_addr_verdict(ctx, RF_HOOK_CONNECT4, false, RF_MATCH_OUT_INIT);
}

SEC("cgroup/connect6")
int rf_connect6(struct bpf_sock_addr *ctx)
{
	return sock_addr_verdict(ctx, RF_HOOK_CONNECT6, true, RF_MATCH_OUT_INIT);
}

SEC("cgroup/sendmsg4")
int rf_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_addr_verdict(ctx, RF_HOOK_SENDMSG4, false, RF_MATCH_SEND);
}

SEC("cgroup/sendmsg6")
int rf_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_addr_verdict(ctx, RF_HOOK_SENDMSG6, true, RF_MATCH_SEND);
}

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
	bool isolated, special;

	if (!cfg)
		return 1;
	isolated = cfg_isolated(cfg);
	if (!isolated && !(cfg->flags & RF_CFG_EXE_RULES))
		return 1;
	if (ctx->family != AF_INET && ctx->family != AF_INET6)
		return 1;
	special = isolated &&
		  (ctx->type == SOCK_RAW ||
		   (ctx->type == SOCK_DGRAM &&
		    (ctx->protocol == RF_IPPROTO_ICMP || ctx->protocol == RF_IPPROTO_ICMPV6)));
	/* An ordinary socket: nothing to refuse, and nothing to mark without exe rules. */
	if (!special && !(cfg->flags & RF_CFG_EXE_RULES))
		return 1;
	if (process_allowed(ctx)) {
		if (isolated)
			count_verdict(RF_HOOK_SOCK_CREATE, false);
		return 1;
	}
	if (!special)
		return 1;
	count_verdict(RF_HOOK_SOCK_CREATE, true);
	f.family = ctx->family;
	f.proto = ctx->protocol;
	f.sock_type = ctx->type;
	report(&f, RF_HOOK_SOCK_CREATE, RF_REASON_SOCKET_TYPE, bpf_get_current_cgroup_id(), true);
	return 0;
}

/* Fill proto, ports, addresses and the TCP initiation bit from the IP header. */
static __always_inline bool parse_skb(struct __sk_buff *skb, struct rf_flow *f, bool ingress)
{
	__u8 src[16], dst[16];
	__u32 off;
	__u8 proto;
	bool first_fragment = true;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return false;
		addr4_mapped(src, ip.saddr);
		addr4_mapped(dst, ip.daddr);
		off = ip.ihl * 4;
		proto = ip.protocol;
		first_fragment = (bpf_ntohs(ip.frag_off) & 0x1fff) == 0;
		f->family = AF_INET;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		int i;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return false;
		__builtin_memcpy(src, &ip6.saddr, 16);
		__builtin_memcpy(dst, &ip6.daddr, 16);
		off = sizeof(ip6);
		proto = ip6.nexthdr;
		f->family = AF_INET6;
		for (i = 0; i < RF_IPV6_EXT_MAX; i++) {
			struct {
				__u8 nexthdr;
				__u8 len;
				__u16 frag_off;
			} ext;

			if (proto != 0 && proto != 43 && proto != 60 && proto != 44)
				break;
			if (bpf_skb_load_bytes(skb, off, &ext, sizeof(ext)))
				return false;
			if (proto == 44) {
				first_fragment = (bpf_ntohs(ext.frag_off) & 0xfff8) == 0;
				off += 8;
			} else {
				off += (ext.len + 1) * 8;
			}
			proto = ext.nexthdr;
		}
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

	if (proto == RF_IPPROTO_TCP || proto == RF_IPPROTO_UDP) {
		__u16 ports[2];

		if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)))
			return true;
		f->rport = bpf_ntohs(ingress ? ports[0] : ports[1]);
		f->lport = bpf_ntohs(ingress ? ports[1] : ports[0]);
		if (proto == RF_IPPROTO_TCP) {
			__u8 flags;

			/* byte 13 of the TCP header: ... ACK 0x10, SYN 0x02 */
			if (!bpf_skb_load_bytes(skb, off + 13, &flags, 1) &&
			    (flags & 0x12) == 0x02)
				f->match = ingress ? RF_MATCH_IN_INIT : RF_MATCH_OUT_INIT;
		}
	} else if (proto == RF_IPPROTO_ICMP || proto == RF_IPPROTO_ICMPV6) {
		bpf_skb_load_bytes(skb, off, &f->icmp_type, 1);
	}
	return true;
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

/* Allowed by who owns the socket: marked by an allowed executable, or in an allowed cgroup. */
static __always_inline bool skb_socket_allowed(struct __sk_buff *skb)
{
	struct bpf_sock *sk = RF_CTX_SK(skb);

	if (sk) {
		sk = bpf_sk_fullsock(sk);
		if (sk) {
			struct rf_sk_mark *m = bpf_sk_storage_get(&rf_sk_mark, sk, NULL, 0);

			if (m && (m->flags & RF_SK_EXE)) {
				struct rf_exe_key k = { .dev = m->exe_dev, .ino = m->exe_ino };

				/* re-checked on every packet: deleting the rule cuts the socket */
				if (bpf_map_lookup_elem(&rf_allow_exe, &k))
					return true;
			}
		}
	}
	return skb_cgroup_allowed(skb);
}

static __always_inline int skb_verdict(struct __sk_buff *skb, bool ingress)
{
	const struct rf_config *cfg = get_config();
	enum rf_hook hook = ingress ? RF_HOOK_INGRESS : RF_HOOK_EGRESS;
	struct rf_flow f = {};

	if (!cfg || !cfg_isolated(cfg))
		return 1;
	if (skb->ifindex == LOOPBACK_IFINDEX)
		return 1;
	if (!parse_skb(skb, &f, ingress)) {
		/* neither IPv4 nor IPv6 (cannot happen on inet sockets): let it pass */
		return 1;
	}
	if (rf_addr_is_loopback(f.remote))
		return 1;
	if (skb_socket_allowed(skb) || flow_dest_allowed(&f) || builtin_allowed(cfg, &f)) {
		count_verdict(hook, false);
		return 1;
	}
	count_verdict(hook, true);
	report(&f, hook, RF_REASON_NO_RULE, bpf_skb_cgroup_id(skb), false);
	return 0;
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

/* DHCP client frames sent by packet sockets (dhclient, systemd-networkd): eth + IP + UDP ports. */
static __always_inline bool frame_is_dhcp_client(struct __sk_buff *skb)
{
	__u16 ports[2];
	__u32 off;
	__u8 proto;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
			return false;
		proto = ip.protocol;
		off = ETH_HLEN + ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)))
			return false;
		proto = ip6.nexthdr;
		off = ETH_HLEN + sizeof(ip6);
	} else {
		return false;
	}
	if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)))
		return false;
	return rf_is_dhcp_client(proto, bpf_ntohs(ports[0]), bpf_ntohs(ports[1]));
}

/*
 * Second layer for what the cgroup hooks never see: packet (AF_PACKET) sockets get no
 * sock_create, connect or cgroup_skb call. Attached as tc egress on the interfaces; drops frames
 * whose socket is a non-inet socket created inside the isolated cgroup, unless the creator's
 * cgroup is allowed or the frame is DHCP client traffic with the DHCP built-in on. Inet sockets
 * are left to the cgroup layer, frames without a socket (ARP, ND, forwarding, kernel replies)
 * pass.
 */
SEC("tc")
int rf_tc_egress(struct __sk_buff *skb)
{
	const struct rf_config *cfg = get_config();
	struct rf_flow f = {};
	struct bpf_sock *sk;

	if (!cfg || !cfg_isolated(cfg))
		return TC_ACT_OK;
	sk = RF_CTX_SK(skb);
	if (!sk)
		return TC_ACT_OK;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->family == AF_INET || sk->family == AF_INET6)
		return TC_ACT_OK;
	if (bpf_skb_ancestor_cgroup_id(skb, rf_target_level) != rf_target_cgid)
		return TC_ACT_OK; /* not a process of the isolated cgroup */
	if (skb_cgroup_allowed(skb) ||
	    ((cfg->builtins & RF_BUILTIN_DHCP) && frame_is_dhcp_client(skb))) {
		count_verdict(RF_HOOK_TC_EGRESS, false);
		return TC_ACT_OK;
	}
	count_verdict(RF_HOOK_TC_EGRESS, true);
	f.family = sk->family;
	f.sock_type = sk->type;
	f.proto = sk->protocol;
	report(&f, RF_HOOK_TC_EGRESS, RF_REASON_PACKET_SOCKET, bpf_skb_cgroup_id(skb), false);
	return TC_ACT_SHOT;
}
