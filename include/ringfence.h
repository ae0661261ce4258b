/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ringfence pinned-map ABI, shared by the BPF programs and userspace.
 *
 * Every map is pinned as <pin dir>/<name> (default /sys/fs/bpf/ringfence/). Other agents may
 * read and write these maps; docs/ABI.md documents each byte. A layout change gets a new map
 * name (rf_allow_net_v2), never a silent reinterpretation. All integers are host byte order
 * unless a field says otherwise.
 */
#ifndef RINGFENCE_H
#define RINGFENCE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* 2: rf_stats_v2, rf_allow_exe_v2, RF_CFG_AUDIT, rf_event.flags and exe_path */
#define RF_ABI_VERSION 2

/* ---- rf_config: BPF_MAP_TYPE_ARRAY, 1 entry, key __u32 0 ---------------------------------- */

/* rf_config.isolated: 0 = not isolated; ANY other value = isolated (fail closed). */
#define RF_ISOLATED 1

/* rf_config.builtins: network-keeping rules applied while isolated. Unknown bits are ignored. */
/*
 * DHCP: UDP 68->67 out to 255.255.255.255 or a server in rf_dhcp_server, 67->68 in from such a
 * server or to 255.255.255.255; 546->547 out to ff02::1:2, ff05::1:3 or a known server,
 * 547->546 in from a known server, from a link-local address or to a multicast group.
 */
#define RF_BUILTIN_DHCP 0x1
#define RF_BUILTIN_ND	0x2 /* ICMPv6 router/neighbour solicitation/advertisement, MLD */
#define RF_BUILTIN_ALL	(RF_BUILTIN_DHCP | RF_BUILTIN_ND)

/* rf_config.flags */
#define RF_CFG_EXE_RULES 0x1 /* rf_allow_exe is non-empty: mark sockets at creation */
/*
 * Audit mode: while isolated == 0 (and before the deadline), the programs block nothing and
 * report what isolation would block (events flagged RF_EVENT_WOULD_BLOCK, rf_stats_v2
 * RF_STAT_WOULD_BLOCK + hook). A non-zero isolated always wins: isolated, whatever this bit says.
 */
#define RF_CFG_AUDIT 0x2
/*
 * Host rules (include/rf_host.h): rf_host_name is not empty, so the programs record DNS queries
 * for those names and learn the addresses of their answers (only while isolated or auditing).
 * Clear, DNS is not parsed at all and rf_host_addr entries still allow what they say.
 */
#define RF_CFG_HOST_RULES 0x4

struct rf_config {
	__u32 abi_version; /* RF_ABI_VERSION, written by the loader; informative for agents */
	__u32 isolated;	   /* 0 = off, anything else = on */
	/*
	 * Isolation deadline in CLOCK_BOOTTIME nanoseconds (bpf_ktime_get_boot_ns()); 0 = none.
	 * Once now >= deadline the programs behave as if isolated == 0 and audit were off, even
	 * with no userspace (--for, and the pending deadline of --confirm-within).
	 * Example: isolate for 2h at boot time T: deadline_ns = T + 7200e9.
	 */
	__u64 deadline_ns;
	__u32 builtins;	     /* RF_BUILTIN_* */
	__u32 flags;	     /* RF_CFG_* */
	__u64 since_unix_ns; /* CLOCK_REALTIME of the isolate; informative (status) */
};
_Static_assert(sizeof(struct rf_config) == 32, "rf_config ABI size");

/* ---- rf_allow_net: BPF_MAP_TYPE_LPM_TRIE ---------------------------------------------------- */

/*
 * Key: prefix length in bits (0..128) and the address as IPv6, network byte order.
 * IPv4 is stored as IPv4-mapped IPv6: 192.0.2.0/24 is ::ffff:192.0.2.0/120.
 */
struct rf_net_key {
	__u32 prefixlen;
	__u8 addr[16];
};
_Static_assert(sizeof(struct rf_net_key) == 20, "rf_net_key ABI size");

#define RF_PROTO_ANY  0 /* any transport */
#define RF_PROTO_ICMP 1 /* ICMP for IPv4, ICMPv6 for IPv6 */
#define RF_PROTO_TCP  6
#define RF_PROTO_UDP  17

#define RF_DIR_OUT  0x1 /* the host may open connections to / send to the remote port */
#define RF_DIR_IN   0x2 /* the remote may open connections to / send to the local port */
#define RF_DIR_BOTH (RF_DIR_OUT | RF_DIR_IN)

#define RF_ENTRY_BUILTIN 0x1 /* a built-in network-keeping rule (DNS resolvers) */
#define RF_ENTRY_CONFIG	 0x2 /* an 'allow' line of the config file */

/*
 * One allowed (protocol, port range, direction) for a prefix. port_lo == port_hi == 0 means any
 * port. For RF_DIR_OUT the range is matched against the remote port; for RF_DIR_IN against the
 * local port. Example: "net 192.0.2.10/32 proto tcp port 22 dir in" = {6, 2, 0, 22, 22}.
 */
struct rf_net_entry {
	__u8 proto;  /* RF_PROTO_* ; other values match nothing */
	__u8 dir;    /* RF_DIR_* ; 0 matches nothing */
	__u8 origin; /* RF_ENTRY_* ; informative */
	__u8 pad;
	__u16 port_lo;
	__u16 port_hi; /* port_lo > port_hi matches nothing */
};
_Static_assert(sizeof(struct rf_net_entry) == 8, "rf_net_entry ABI size");

#define RF_NET_MAX_ENTRIES 8

struct rf_net_val {
	__u32 count; /* entries used; values above RF_NET_MAX_ENTRIES are clamped */
	__u32
	    prefixlen; /* must equal the key's prefixlen: where the lookup continues when no
			  entry allows (next try: prefixlen - 1). Larger values act as the key's. */
	struct rf_net_entry e[RF_NET_MAX_ENTRIES];
};
_Static_assert(sizeof(struct rf_net_val) == 72, "rf_net_val ABI size");

#define RF_NET_MAX_RULES_DEFAULT                                                                   \
	262144 /* LPM tries allocate on insert: unused slots cost nothing */

/* ---- rf_net_hash + rf_net_sync: a flat index of rf_allow_net (additions within ABI 2) ------- */

/*
 * rf_allow_net stays the authority; rf_net_hash holds the same rules keyed by (prefix length,
 * address with the bits past it zero), so a lookup costs one hash probe per prefix length in use
 * (rf_net_sync.lens, longest first) instead of a walk whose cost follows the depth of a 128-bit
 * trie. The programs trust the index only while rf_net_sync.state is RF_NET_SYNC_VALID and
 * nlens <= RF_NET_FAST_LENS; otherwise they walk the trie as before. A writer of rf_allow_net
 * that does not maintain the index writes state 0 after its change (docs/ABI.md); ringfence
 * rebuilds the index and validates it again, or writes RF_NET_SYNC_TRIE when the index cannot
 * stand in for the trie (more than RF_NET_FAST_LENS lengths, or a value whose prefixlen is not
 * its key's). Example: rules 192.0.2.10/32 and 2001:db8::/64
 * give nlens 2, lens {128, 64}.
 */
#define RF_NET_SYNC_VALID 0x584e4652u /* "RFNX" little-endian */
#define RF_NET_SYNC_TRIE  0x544e4652u /* "RFNT": rebuilt, left to the trie on purpose */
/*
 * More distinct lengths than RF_NET_FAST_LENS: the trie is used. Each probe costs about as much
 * as a fifth of a deep trie walk (docs/PERFORMANCE.md), so past 8 lengths an address allowed only
 * by its shortest rule, or denied, would cost more by hash than by trie.
 */
#define RF_NET_FAST_LENS 8
#define RF_NET_LENS_ROOM 16 /* room in rf_net_sync.lens; the index uses RF_NET_FAST_LENS of it */
/*
 * rf_net_hash's size: a hash map allocates its buckets up front (16 bytes per entry of
 * max_entries, 4 MiB for the home's 262,144); a narrower target's index holds 4,096 rules, and
 * a target with more is judged by its trie (RF_NET_SYNC_TRIE).
 */
#define RF_NET_HASH_MAX_TARGET 4096

struct rf_net_sync {
	__u32 state; /* RF_NET_SYNC_VALID: rf_net_hash mirrors rf_allow_net; other: it does not */
	__u32 nlens; /* lengths in lens[], longest first; > RF_NET_FAST_LENS: the trie is used */
	__u8 lens[RF_NET_LENS_ROOM]; /* prefix lengths (0..128) that have a rule */
	__u64 token;   /* the writer's mark while it rebuilds (not read by the programs) */
	__u32 entries; /* prefixes in rf_allow_net when indexed: the kernel's own count differs */
	__u32 pad;     /* 0 */
};
_Static_assert(sizeof(struct rf_net_sync) == 40, "rf_net_sync ABI size");

/* ---- rf_allow_exe_v2: BPF_MAP_TYPE_HASH ----------------------------------------------------- */

/*
 * Executable identity of current->mm->exe_file: the kernel's s_dev (major << 20 | minor, NOT
 * glibc's makedev() encoding that stat() returns), the inode number, and the inode's generation
 * (i_generation, FS_IOC_GETVERSION): a file created later that reuses the inode number (after
 * an upgrade replaced the allowed binary) has another generation, so it does not inherit the
 * allowance. gen RF_EXE_GEN_ANY matches any generation, for filesystems that do not report it
 * (tmpfs, overlayfs): there the inode number alone identifies the file. Value: rf_allow_val.
 */
struct rf_exe_key {
	__u64 dev;
	__u64 ino;
	__u32 gen;
	__u32 pad; /* 0 */
};
_Static_assert(sizeof(struct rf_exe_key) == 24, "rf_exe_key ABI size");

#define RF_EXE_GEN_ANY 0xffffffffu

/* ---- rf_allow_exe_v3: BPF_MAP_TYPE_HASH, key struct rf_exe_key, value rf_exe_users ---------- */

/*
 * Which users an allowed executable is allowed for (issue 21 item 5): a world-executable allowed
 * binary run by anyone with LD_PRELOAD (or ptrace, or a crafted argv) would otherwise carry
 * anyone's code onto the network. A process matches when its real uid (init namespace) is one
 * of uid[0 .. count-1], or any uid with RF_EXE_ANY_USER. `exe PATH` means the file's owner;
 * `exe PATH user NAME|UID|any` names it. Example: "exe /opt/edr/agent user root" = key of the
 * file, {0, 1, {0}}. rf_allow_exe_v2 keeps its meaning (any user) for entries other agents
 * write; ringfence moves the identities of its own rules from there into this map.
 */
#define RF_EXE_ANY_USER	 0x1
#define RF_EXE_MAX_USERS 6

struct rf_exe_users {
	__u32 flags; /* RF_EXE_ANY_USER; other bits ignored */
	__u32 count; /* entries of uid used; values above RF_EXE_MAX_USERS are clamped */
	__u32 uid[RF_EXE_MAX_USERS];
};
_Static_assert(sizeof(struct rf_exe_users) == 32, "rf_exe_users ABI size");

/* ---- rf_allow_cgroup: BPF_MAP_TYPE_HASH, key __u64 cgroup id (cgroup2 dir inode) ------------- */

struct rf_allow_val {
	__u32 flags; /* reserved, 0 */
	__u32 pad;
};

#define RF_MAX_PROC_RULES   4096
#define RF_MAX_CGROUP_DEPTH 32 /* ancestors walked when matching a cgroup rule */

/* ---- rf_dhcp_server: BPF_MAP_TYPE_HASH, known DHCP servers for the DHCP built-in ---------- */

/*
 * Key: the server's address, IPv6 or IPv4-mapped, network byte order. Value: rf_allow_val, whose
 * flags say (informatively; the programs do not read them) where the entry came from:
 * RF_DHCP_SERVER_CONFIG a "dhcp-server" line, RF_DHCP_SERVER_LEASE a lease file read while not
 * isolated (kept as it is while isolated). 0: another agent's entry, kept like a lease one.
 */
#define RF_DHCP_SERVER_CONFIG 0x1
#define RF_DHCP_SERVER_LEASE  0x2
struct rf_addr_key {
	__u8 addr[16];
};
_Static_assert(sizeof(struct rf_addr_key) == 16, "rf_addr_key ABI size");

#define RF_MAX_DHCP_SERVERS 64

/* ---- rf_sk_mark_v2: BPF_MAP_TYPE_SK_STORAGE (BPF_F_CLONE) ------------------------------------ */

#define RF_SK_EXE     0x1 /* opened by an allowed executable: exe_dev/exe_ino say which */
#define RF_SK_AUDITED 0x2 /* audit mode: this socket's would-be block was reported already */
#define RF_SK_MGMT    0x4 /* a management-channel socket (rf_mgmt): tgid says whose */
#define RF_SK_UID     0x8 /* with RF_SK_EXE: exe.pad holds the opener's uid (rf_allow_exe_v3) */

/*
 * Written by the programs: socket opened by an allowed process. Children of accept() inherit.
 * The agent also marks its own broker connection (RF_SK_MGMT, from userspace with the socket's
 * fd as the key) so that a connection opened before isolation keeps working after it.
 */
struct rf_sk_mark {
	__u32 flags;
	__u32 tgid; /* with RF_SK_MGMT: the process of the rf_mgmt entries that allow it; else 0 */
	struct rf_exe_key exe; /* with RF_SK_EXE: the allowed executable */
};
_Static_assert(sizeof(struct rf_sk_mark) == 32, "rf_sk_mark_v2 value size");

/*
 * rf_sk_mark: ABI 1's marks (no generation), read only. Sockets an ABI 1 program marked before an
 * in-place upgrade keep their allowance while (exe_dev, exe_ino, RF_EXE_GEN_ANY) is allowed.
 */
struct rf_sk_mark_v1 {
	__u32 flags; /* RF_SK_EXE */
	__u32 pad;
	__u64 exe_dev;
	__u64 exe_ino;
};
_Static_assert(sizeof(struct rf_sk_mark_v1) == 24, "rf_sk_mark (ABI 1) value size");

/* ---- rf_mgmt: BPF_MAP_TYPE_HASH, management channels allowed by process and destination ----- */

/*
 * One entry allows one process (thread group id as the initial pid namespace numbers it, and
 * the executable it runs: both must match) to open TCP connections to one address and port
 * while isolated, and keeps the packets of those connections flowing (RF_SK_MGMT marks them).
 * The agent writes its broker's addresses here when it (re)connects and removes them when it
 * stops: e.g. agent pid 812 running /usr/sbin/ringfence, broker 203.0.113.5 port 8883.
 * Deleting the entry cuts the connection at the next packet. Value: rf_mgmt_val.
 */
struct rf_mgmt_key {
	__u8 addr[16]; /* IPv6 or IPv4-mapped, network byte order */
	__u16 port;    /* TCP port, host byte order */
	__u16 pad;     /* 0 */
	__u32 tgid;
};
_Static_assert(sizeof(struct rf_mgmt_key) == 24, "rf_mgmt_key ABI size");

struct rf_mgmt_val {
	struct rf_exe_key exe; /* the executable the process must run (exact generation) */
};
_Static_assert(sizeof(struct rf_mgmt_val) == 24, "rf_mgmt_val ABI size");

#define RF_MAX_MGMT 64

/* ---- rf_sk_peer: BPF_MAP_TYPE_SK_STORAGE ---------------------------------------------------- */

#define RF_SK_PEERS 4

/*
 * Written only by the programs, while isolated: the last RF_SK_PEERS remotes (address, port in
 * host order) a non-TCP socket sent to under an out rule. A datagram that only an out rule
 * allows is received only from one of them (or from the peer of a connected socket).
 */
struct rf_sk_peer {
	__u8 addr[RF_SK_PEERS][16];
	__u16 port[RF_SK_PEERS];
	__u32 next; /* slot written next, modulo RF_SK_PEERS */
};

/* ---- rf_policy_gen: BPF_MAP_TYPE_ARRAY, 1 entry, key __u32 0, value __u64 ----------------- */

/*
 * The policy generation: a tag of the policy the programs' verdict cache (rf_sk_verdict) was
 * computed under. A connected socket's cached "allow" is used only while this value is the one
 * it was cached with, so every writer that changes what can be allowed (a rule of rf_allow_net,
 * rf_allow_exe_v2/v3, rf_allow_cgroup, rf_mgmt or rf_dhcp_server added or deleted) writes a new
 * value here AFTER its change. Any value other than the current one is a bump: ringfence writes
 * a random one (so concurrent writers never write the same value), the programs add 1 (atomic).
 * Example: after deleting a rule, write 8 random bytes (docs/ABI.md, "Policy generation").
 * rf_config needs no bump: the cache also compares the mode, built-ins and flags, and the
 * deadline is checked before the cache. A writer that bumps nothing is bounded by
 * RF_CACHE_TTL_NS: a cached verdict older than that is judged again (the programs count 100
 * jiffies, at most 1 s for any HZ).
 */
#define RF_CACHE_TTL_NS 1000000000ULL /* at most 1 s */

/* ---- rf_build: BPF_MAP_TYPE_ARRAY, 1 entry (key 0) ----------------------------------------- */

/*
 * Which build of the programs the links run: written by the loader once every link runs the
 * programs of its object (no program reads it). A later build of the same ABI that finds an
 * earlier one here (or nothing: a build from before this map) puts its programs into the links
 * in place (bpf_link_update), so a package upgrade brings fixed programs without an unload.
 */
struct rf_build {
	__u64
	    built;  /* when the object was built: SOURCE_DATE_EPOCH if set, else the build's time */
	__u64 hash; /* the first 64 bits of the SHA-256 of the object files (both variants) */
};
_Static_assert(sizeof(struct rf_build) == 16, "rf_build ABI size");

/* ---- rf_stats_v2: BPF_MAP_TYPE_PERCPU_ARRAY of __u64, RF_STAT_SLOTS entries ---------------- */

/*
 * Every hook, in ABI order: the enum value indexes rf_stats and fills rf_event.hook, so new hooks
 * are appended, never inserted. X(ID, label, program, kind): kind CGROUP is a cgroup program
 * whose link is pinned as rf_link_<label>; TC is the tc egress program, pinned as rf_prog_<label>
 * and attached per interface; SHARED is a verdict counted on its own that runs inside another
 * hook's program (the second wall inside rf_tc_egress). Adding a hook: one line here, its SEC()
 * program in bpf/ringfence.bpf.c, a row in docs/ABI.md; the loader, status, metrics and events
 * follow.
 */
#define RF_HOOK_LIST(X)                                                                            \
	X(CONNECT4, connect4, rf_connect4, CGROUP)                                                 \
	X(CONNECT6, connect6, rf_connect6, CGROUP)                                                 \
	X(SENDMSG4, sendmsg4, rf_sendmsg4, CGROUP)                                                 \
	X(SENDMSG6, sendmsg6, rf_sendmsg6, CGROUP)                                                 \
	X(INGRESS, ingress, rf_ingress, CGROUP)                                                    \
	X(EGRESS, egress, rf_egress, CGROUP)                                                       \
	X(SOCK_CREATE, sock_create, rf_sock_create, CGROUP)                                        \
	X(TC_EGRESS, tc_egress, rf_tc_egress,                                                      \
	  TC) /* frames of packet sockets leaving an interface */                                  \
	X(SETSOCKOPT, setsockopt, rf_setsockopt,                                                   \
	  CGROUP)			    /* multicast/anycast membership changes */             \
	X(WALL, wall, rf_tc_egress, SHARED) /* on-wire packets at tc egress (runs in tc_egress) */ \
	X(TC_INGRESS, tc_ingress, rf_tc_ingress, TC) /* ICMP errors arriving on an interface */    \
	/* the tc pair for a namespace of the target's own: verdicts counted as the three above */ \
	X(TCNS_EGRESS, tcns_egress, rf_tcns_egress, TC)                                            \
	X(TCNS_INGRESS, tcns_ingress, rf_tcns_ingress, TC)

enum rf_hook {
#define RF_X_ENUM(id, label, prog, kind) RF_HOOK_##id,
	RF_HOOK_LIST(RF_X_ENUM)
#undef RF_X_ENUM
	    RF_HOOK_MAX,
};

#define RF_HOOK_SLOTS 16 /* counter room per hook: indices stay put when hooks are added */
_Static_assert(RF_HOOK_MAX <= RF_HOOK_SLOTS, "rf_stats_v2 has room for 16 hooks");

/* Fixed indices: allowed = hook * 2, denied = hook * 2 + 1 (counted while isolated); then: */
enum rf_stat {
	RF_STAT_EVENTS_SENT = RF_HOOK_SLOTS * 2, /* 32 */
	RF_STAT_EVENTS_RATELIMITED,		 /* 33 */
	RF_STAT_EVENTS_LOST,			 /* 34: ring buffer full */
	RF_STAT_FLOWS_UNRECORDED,		 /* 35: not evented, rf_suppressed full too */
	RF_STAT_DNS_QUERIES,			 /* 36: queries for host rules recorded pending */
	RF_STAT_DNS_LEARNED,	  /* 37: addresses admitted or refreshed by answers */
	RF_STAT_DNS_REJECTED,	  /* 38: answers to a pending query that admitted nothing */
	RF_STAT_DNS_FULL,	  /* 39: addresses not admitted: rf_host_addr full */
	RF_STAT_WOULD_BLOCK = 40, /* + hook: what isolation would have blocked, in audit mode */
	RF_STAT_SLOTS = 64,
};

/* ---- rf_events: BPF_MAP_TYPE_RINGBUF of struct rf_event ---------------------------------------
 */

enum rf_reason {
	RF_REASON_NO_RULE = 0,	 /* no allow rule matched */
	RF_REASON_SOCKET_TYPE,	 /* raw or ping socket creation while isolated */
	RF_REASON_PACKET_SOCKET, /* frame from a packet (AF_PACKET) socket of an isolated process */
	RF_REASON_MALFORMED,	 /* a packet the programs cannot parse (dropped while isolated) */
	RF_REASON_MULTICAST, /* a group join/leave: the kernel would announce it with IGMP/MLD */
	/* a host rule's address that was learned, but its entry expired: nothing else allows it */
	RF_REASON_HOST_EXPIRED,
	/*
	 * Not a blocked attempt: an address of a DNS answer for a host rule was NOT admitted
	 * because rf_host_addr (or the address's entries) is full. daddr = the address, proto/dport
	 * = the rule's proto and first port, hook = ingress; the answer itself passes.
	 */
	RF_REASON_HOST_FULL,
};

#define RF_EVENT_WOULD_BLOCK 0x1 /* audit mode: reported, not blocked */

#define RF_COMM_LEN	  16
#define RF_EXE_PATH_DEPTH 8  /* path components of the executable in an event */
#define RF_EXE_NAME_LEN	  32 /* bytes per component, NUL included */

struct rf_event {
	__u64 ts_boot_ns; /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;  /* of the task (syscall hooks) or of the socket (packet hooks) */
	__u64 exe_dev;	  /* 0 in packet hooks (no process context) */
	__u64 exe_ino;
	__u32 pid;		/* thread id; 0 in packet hooks */
	__u32 tgid;		/* process id; 0 in packet hooks */
	__u32 uid;		/* 0 in packet hooks unless known */
	__u8 hook;		/* enum rf_hook */
	__u8 reason;		/* enum rf_reason */
	__u8 family;		/* 2 = AF_INET (addresses still stored mapped), 10 = AF_INET6 */
	__u8 proto;		/* IPPROTO_* ; for sock_create, the socket protocol */
	__u8 saddr[16];		/* local address, IPv6 or IPv4-mapped; zero when unknown */
	__u8 daddr[16];		/* remote address */
	__u16 sport;		/* local port, host order; 0 when unknown */
	__u16 dport;		/* remote port, host order */
	__u16 sock_type;	/* SOCK_* for sock_create and syscall hooks, 0 otherwise */
	__u16 flags;		/* RF_EVENT_* */
	char comm[RF_COMM_LEN]; /* thread comm; empty in packet hooks */
	/*
	 * Appended after the first 104 bytes (readers of the shorter record keep working): the
	 * executable's path as its dentries name it, leaf first, each NUL-terminated and cut at
	 * RF_EXE_NAME_LEN - 1 bytes, up to the root of its mount ("/") or RF_EXE_PATH_DEPTH levels.
	 * /usr/bin/curl is {"curl", "bin", "usr", "/", ...}. Empty in packet hooks.
	 */
	char exe_path[RF_EXE_PATH_DEPTH][RF_EXE_NAME_LEN];
};
_Static_assert(sizeof(struct rf_event) == 104 + RF_EXE_PATH_DEPTH * RF_EXE_NAME_LEN,
	       "rf_event ABI size");

/* ---- rf_suppressed: BPF_MAP_TYPE_HASH, flows whose events the rate limit held back ---------- */

/*
 * A blocked attempt that could not become an event (the per-CPU token bucket was empty, or the
 * ring buffer full) is not dropped: it is counted under its flow here, and the agent drains the
 * map every second into one summary event per flow (docs/ABI.md). So a flood of one flow cannot
 * hide another: each distinct (cgroup, executable, uid, remote address, protocol, hook, reason)
 * is reported. Key fields that a hook does not know are 0 (packet hooks: exe, uid).
 */
struct rf_flow_key {
	__u64 cgroup_id;
	__u64 exe_dev; /* kernel s_dev, as in rf_event */
	__u64 exe_ino;
	__u8 remote[16]; /* IPv6 or IPv4-mapped; zero for sock_create and packet sockets */
	__u32 uid;
	__u8 hook;   /* enum rf_hook */
	__u8 reason; /* enum rf_reason */
	__u8 proto;
	__u8 flags; /* RF_EVENT_WOULD_BLOCK */
};
_Static_assert(sizeof(struct rf_flow_key) == 48, "rf_flow_key ABI size");

struct rf_flow_count {
	__u64 count;	/* attempts held back since the agent last drained the entry */
	__u64 first_ns; /* bpf_ktime_get_boot_ns() of the first and the last of them */
	__u64 last_ns;
	__u32 tgid;  /* the process of the first one (0 in packet hooks) */
	__u16 rport; /* remote port of the first one, host order */
	__u8 family; /* as rf_event.family */
	__u8 pad;    /* 0 */
	char comm[RF_COMM_LEN];
};
_Static_assert(sizeof(struct rf_flow_count) == 48, "rf_flow_count ABI size");

#define RF_SUPPRESSED_MAX 8192 /* distinct flows per drain interval; beyond: only counted */

#define RF_EVENTS_RINGBUF_SIZE (256 * 1024)
#define RF_EVENTS_RINGBUF_SIZE_TARGET                                                              \
	(64 * 1024)	   /* a target other than the home (targets/<id>/rf_events) */
#define RF_EVENT_BURST 64  /* events per CPU before rate limiting starts */
#define RF_EVENT_RATE  200 /* sustained events per second per CPU */

#endif /* RINGFENCE_H */
