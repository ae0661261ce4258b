/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host rules in the kernel (issue 24): DNS queries for allowed names are recorded on the way out,
 * their answers parsed on the way in (cgroup_skb ingress, before the socket gets them) and the
 * addresses admitted into rf_host_addr, which the verdicts consult after rf_allow_net. Included
 * by bpf/ringfence.bpf.c once its helpers are defined. Maps: include/rf_host.h, docs/ABI.md.
 */
#ifndef RF_DNS_BPF_H
#define RF_DNS_BPF_H

#include "dns_parse.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_HOST_MAX_NAMES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rf_host_key);
	__type(value, struct rf_host_val);
} rf_host_name SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_MAX_DNS_RESOLVERS);
	__type(key, struct rf_addr_key);
	__type(value, struct rf_allow_val);
} rf_dns_resolver SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RF_DNS_PENDING_MAX);
	__type(key, struct rf_dns_pending_key);
	__type(value, struct rf_dns_pending_val);
} rf_dns_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RF_HOST_ADDR_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct rf_addr_key);
	__type(value, struct rf_host_addr_val);
} rf_host_addr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct rf_sk_peer);
} rf_sk_host SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rf_dns_scratch);
} rf_dns_scratch SEC(".maps");

#endif /* RF_DNS_BPF_H */
