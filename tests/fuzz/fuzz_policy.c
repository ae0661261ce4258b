// SPDX-License-Identifier: GPL-2.0-only
/*
 * The verdict logic the BPF programs share with userspace (bpf/policy.bpf.h, compiled as for the
 * unit tests) on values another agent may have written: compared with a reference restated here
 * from the ABI's words, plus the invariants a verdict must keep. Also rf_net_val_add/del
 * (user/rule.c) on a garbage value: bounded, and an added entry allows what it says.
 */
#include "fuzz.h"
#include "policy.bpf.h"
#include "rf_rule.h"

struct input {
	struct rf_net_val v;
	struct rf_net_entry add;
	__u8 proto, match, type, code, hop, ingress;
	__u16 rport, lport;
	__u8 src[16], dst[16];
};

static int known_proto(__u8 p)
{
	return p == RF_PROTO_ANY || p == RF_PROTO_ICMP || p == RF_PROTO_TCP || p == RF_PROTO_UDP;
}

/* The ABI's words (include/ringfence.h): proto, dir, port range, then what each match uses. */
static int ref_entry(const struct rf_net_entry *e, __u8 proto, __u16 rport, __u16 lport, int m)
{
	int pm, out, in;

	switch (e->proto) {
	case RF_PROTO_ANY:
		pm = 1;
		break;
	case RF_PROTO_ICMP:
		pm = proto == 1 || proto == 58;
		break;
	case RF_PROTO_TCP:
		pm = proto == 6;
		break;
	case RF_PROTO_UDP:
		pm = proto == 17;
		break;
	default:
		pm = 0;
	}
#define IN_RANGE(p)                                                                                \
	((e->port_lo == 0 && e->port_hi == 0) || (e->port_lo <= (p) && (p) <= e->port_hi))
	out = pm && (e->dir & RF_DIR_OUT) && IN_RANGE(rport);
	in = pm && (e->dir & RF_DIR_IN) && IN_RANGE(lport);
#undef IN_RANGE
	if (m == RF_MATCH_OUT_INIT)
		return out;
	if (m == RF_MATCH_IN_INIT || m == RF_MATCH_IN_DATA)
		return in;
	if (m == RF_MATCH_SEND)
		return out || (in && lport);
	return out || in;
}

static void check_verdicts(const struct input *in)
{
	__u32 n = in->v.count < RF_NET_MAX_ENTRIES ? in->v.count : RF_NET_MAX_ENTRIES, i;
	int m = in->match % 6, want = 0, got;

	for (i = 0; i < n; i++)
		want |= ref_entry(&in->v.e[i], in->proto, in->rport, in->lport, m);
	got = rf_net_val_allows(&in->v, in->proto, in->rport, in->lport, m);
	FUZZ_CHECK(got == want, "match %d proto %u ports %u/%u: %d, reference %d", m, in->proto,
		   in->rport, in->lport, got, want);
	for (i = 0; i < RF_NET_MAX_ENTRIES; i++) {
		const struct rf_net_entry *e = &in->v.e[i];

		if (e->port_lo > e->port_hi || !(e->dir & RF_DIR_BOTH) || !known_proto(e->proto))
			FUZZ_CHECK(!rf_entry_allows(e, in->proto, in->rport, in->lport, m),
				   "a garbage entry allows");
	}
	{
		int next = rf_lpm_next(in->v.prefixlen, in->hop);

		FUZZ_CHECK(next == -1 || (next >= 0 && (__u32)next < in->hop), "lpm next %d of %u",
			   next, in->hop);
	}
}

static void check_builtins(const struct input *in)
{
	int nd = rf_nd_check(in->type, in->code, in->hop, in->src, in->dst, in->ingress & 1);
	int dhcp = rf_dhcp_peer(in->lport, in->src, in->dst, in->ingress & 1);

	FUZZ_CHECK(nd >= RF_ND_DENY && nd <= RF_ND_IF_ONLINK, "nd %d", nd);
	if (nd != RF_ND_DENY) /* only ND/MLD with code 0 and a link-bound hop limit */
		FUZZ_CHECK(in->code == 0 && rf_icmp6_is_nd(in->type) &&
			       (in->hop == 1 || in->hop == 255),
			   "nd allows type %u code %u hop %u", in->type, in->code, in->hop);
	if (nd == RF_ND_IF_ONLINK)
		FUZZ_CHECK(!(in->ingress & 1) && (in->type == 135 || in->type == 136),
			   "on-link check for type %u", in->type);
	FUZZ_CHECK(dhcp >= RF_DHCP_DENY && dhcp <= RF_DHCP_IF_KNOWN, "dhcp %d", dhcp);
	FUZZ_CHECK(rf_is_dhcp_client(in->proto, in->lport, in->rport) ==
		       (in->proto == 17 && ((in->lport == 68 && in->rport == 67) ||
					    (in->lport == 546 && in->rport == 547))),
		   "dhcp client ports");
	FUZZ_CHECK(rf_addr_is_loopback(in->src) ==
		       (!memcmp(in->src, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)
			    ? in->src[12] == 127
			    : !memcmp(in->src, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16)),
		   "loopback");
}

static void check_val_edit(const struct input *in)
{
	struct rf_net_val v = in->v;
	int empty = -1, ret = rf_net_val_add(&v, 24, &in->add);

	FUZZ_CHECK(v.count <= RF_NET_MAX_ENTRIES || ret, "count %u after add", v.count);
	if (ret == 0 && (in->add.dir & RF_DIR_BOTH) && known_proto(in->add.proto) &&
	    in->add.port_lo <= in->add.port_hi) {
		__u8 proto = in->add.proto == RF_PROTO_TCP    ? 6
			     : in->add.proto == RF_PROTO_UDP  ? 17
			     : in->add.proto == RF_PROTO_ICMP ? 1
							      : in->proto;
		__u16 port = in->add.port_lo || in->add.port_hi ? in->add.port_lo : in->rport;

		FUZZ_CHECK(rf_net_val_allows(&v, proto, port, port, RF_MATCH_FLOW),
			   "an added entry does not allow what it says");
	}
	ret = rf_net_val_del(&v, &in->add, &empty);
	FUZZ_CHECK(v.count <= RF_NET_MAX_ENTRIES || ret, "count %u after del", v.count);
	if (!ret)
		FUZZ_CHECK(empty == (v.count == 0), "now_empty %d count %u", empty, v.count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;

	if (size < sizeof(in))
		return 0;
	memcpy(&in, data, sizeof(in));
	check_verdicts(&in);
	check_builtins(&in);
	check_val_edit(&in);
	return 0;
}
