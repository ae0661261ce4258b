// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "rf_events.h"
#include "rf_util.h"

static const char *const hook_names[] = {
	[RF_HOOK_CONNECT4] = "connect4", [RF_HOOK_CONNECT6] = "connect6",
	[RF_HOOK_SENDMSG4] = "sendmsg4", [RF_HOOK_SENDMSG6] = "sendmsg6",
	[RF_HOOK_INGRESS] = "ingress",	 [RF_HOOK_EGRESS] = "egress",
	[RF_HOOK_SOCK_CREATE] = "sock_create", [RF_HOOK_TC_EGRESS] = "tc_egress",
	[RF_HOOK_SETSOCKOPT] = "setsockopt",
};

const char *rf_hook_name(unsigned int hook)
{
	return hook < RF_HOOK_MAX ? hook_names[hook] : "unknown";
}

const char *rf_transport_name(unsigned int proto)
{
	switch (proto) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 58:
		return "ipv6-icmp";
	case 255:
	case 0:
		return "ip";
	default:
		return "other";
	}
}

void rf_event_addr(const __u8 a[16], char *buf, size_t len)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (memcmp(a, mapped, 12) == 0)
		inet_ntop(AF_INET, a + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
}

const char *rf_event_exe_path(const struct rf_event *e, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	if (!e->tgid || len < 2)
		return NULL;
	snprintf(link, sizeof(link), "/proc/%u/exe", e->tgid);
	n = readlink(link, buf, len - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static const char *reason_name(unsigned int r)
{
	switch (r) {
	case RF_REASON_SOCKET_TYPE:
		return "socket_type";
	case RF_REASON_PACKET_SOCKET:
		return "packet_socket";
	case RF_REASON_MALFORMED:
		return "malformed";
	case RF_REASON_MULTICAST:
		return "multicast_membership";
	default:
		return "no_rule";
	}
}

static int is_zero(const __u8 a[16])
{
	static const __u8 z[16];

	return memcmp(a, z, 16) == 0;
}

void rf_event_text_header(FILE *f)
{
	fprintf(f, "%-24s %-11s %-5s %-7s %-16s %-7s %-40s %s\n", "TIME", "HOOK", "PROTO", "PID",
		"COMM", "UID", "REMOTE", "EXE");
}

/* Replace control characters so a hostile comm or file name cannot forge terminal output. */
static void safe_str(const char *in, size_t inlen, char *out, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && i < inlen && in[i]; i++)
		out[i] = (unsigned char)in[i] < 0x20 || in[i] == 0x7f ? '?' : in[i];
	out[i] = '\0';
}

void rf_event_text(FILE *f, const struct rf_event *e, const struct rf_event_ctx *c)
{
	char t[40], addr[INET6_ADDRSTRLEN], remote[64], comm[RF_COMM_LEN + 1], exe[4096];

	rf_format_time(e->ts_boot_ns + c->boot_to_unix_ns, t, sizeof(t));
	rf_event_addr(e->daddr, addr, sizeof(addr));
	if (e->hook == RF_HOOK_SOCK_CREATE || e->hook == RF_HOOK_TC_EGRESS)
		snprintf(remote, sizeof(remote), "(%s socket type %u)",
			 e->family == 17 ? "packet" : e->family == 10 ? "inet6" : "inet", e->sock_type);
	else if (strchr(addr, ':'))
		snprintf(remote, sizeof(remote), "[%s]:%u", addr, e->dport);
	else
		snprintf(remote, sizeof(remote), "%s:%u", addr, e->dport);
	safe_str(e->comm, RF_COMM_LEN, comm, sizeof(comm));
	if (c->exe_path)
		safe_str(c->exe_path, sizeof(exe), exe, sizeof(exe));
	fprintf(f, "%-24s %-11s %-5s %-7u %-16s %-7u %-40s %s\n", t, rf_hook_name(e->hook),
		rf_transport_name(e->proto), e->tgid, comm[0] ? comm : "-", e->uid, remote,
		c->exe_path ? exe : "-");
}

void rf_event_json(FILE *f, const struct rf_event *e, const struct rf_event_ctx *c)
{
	char t[40], addr[INET6_ADDRSTRLEN], comm[RF_COMM_LEN + 1];
	int ingress = e->hook == RF_HOOK_INGRESS;

	rf_format_time(e->ts_boot_ns + c->boot_to_unix_ns, t, sizeof(t));
	memcpy(comm, e->comm, RF_COMM_LEN);
	comm[RF_COMM_LEN] = '\0';
	fprintf(f,
		"{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"event\",\"category\":[\"network\"],"
		"\"type\":[\"denied\",\"connection\"],\"action\":\"%s\",\"outcome\":\"failure\","
		"\"reason\":\"%s\",\"module\":\"ringfence\"},",
		t,
		e->hook == RF_HOOK_SOCK_CREATE	 ? "socket-blocked"
		: e->hook == RF_HOOK_TC_EGRESS ? "frame-blocked"
		: e->hook == RF_HOOK_SETSOCKOPT ? "membership-blocked"
					       : "connection-blocked",
		reason_name(e->reason));
	fprintf(f, "\"ringfence\":{\"hook\":\"%s\",\"cgroup_id\":%llu,\"exe_dev\":%llu,"
		   "\"exe_inode\":%llu,\"socket_type\":%u},",
		rf_hook_name(e->hook), (unsigned long long)e->cgroup_id,
		(unsigned long long)e->exe_dev, (unsigned long long)e->exe_ino, e->sock_type);
	if (e->tgid) {
		fprintf(f, "\"process\":{\"pid\":%u,\"thread\":{\"id\":%u},\"name\":", e->tgid, e->pid);
		rf_json_str(f, comm);
		if (c->exe_path) {
			fputs(",\"executable\":", f);
			rf_json_str(f, c->exe_path);
		}
		fprintf(f, "},\"user\":{\"id\":\"%u\"},", e->uid);
	}
	if (c->hostname) {
		fputs("\"host\":{\"hostname\":", f);
		rf_json_str(f, c->hostname);
		fputs("},", f);
	}
	if (e->hook != RF_HOOK_SOCK_CREATE && e->hook != RF_HOOK_TC_EGRESS) {
		rf_event_addr(e->daddr, addr, sizeof(addr));
		fprintf(f, "\"%s\":{\"ip\":\"%s\",\"port\":%u},", ingress ? "source" : "destination",
			addr, e->dport);
		if (!is_zero(e->saddr) || e->sport) {
			rf_event_addr(e->saddr, addr, sizeof(addr));
			fprintf(f, "\"%s\":{\"ip\":\"%s\",\"port\":%u},",
				ingress ? "destination" : "source", addr, e->sport);
		}
	}
	fprintf(f, "\"network\":{\"transport\":\"%s\",\"type\":\"%s\",\"direction\":\"%s\"}}\n",
		rf_transport_name(e->proto),
		e->family == 10	  ? "ipv6"
		: e->family == 17 ? "packet"
				  : "ipv4",
		ingress ? "ingress" : "egress");
}
