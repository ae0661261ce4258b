// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "rf_events.h"
#include "rf_json.h"
#include "rf_loader.h"
#include "rf_rule.h"
#include "rf_util.h"

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
	static const __u8 mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (memcmp(a, mapped, 12) == 0)
		inet_ntop(AF_INET, a + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
}

const char *rf_event_kernel_exe_path(const struct rf_event *e, char *buf, size_t len)
{
	char comp[RF_EXE_PATH_DEPTH][RF_EXE_NAME_LEN];
	size_t off = 0;
	int n, i;
	bool rooted = false;

	for (n = 0; n < RF_EXE_PATH_DEPTH; n++) {
		memcpy(comp[n], e->exe_path[n], RF_EXE_NAME_LEN);
		comp[n][RF_EXE_NAME_LEN - 1] = '\0';
		if (!comp[n][0])
			break;
		if (!strcmp(comp[n], "/")) {
			rooted = true;
			break;
		}
	}
	if (n == 0 || len < 2)
		return NULL;
	buf[0] = '\0';
	if (!rooted) /* deeper than the kernel walked: say so */
		off += (size_t)snprintf(buf, len, "...");
	for (i = n - 1; i >= 0 && off < len; i--)
		off += (size_t)snprintf(buf + off, len - off, "/%s", comp[i]);
	return buf;
}

const char *rf_event_exe_path(const struct rf_event *e, char *buf, size_t len)
{
	char link[64];
	struct stat st;
	ssize_t n;

	if (!e->tgid || !e->exe_ino || len < 2)
		return NULL;
	snprintf(link, sizeof(link), "/proc/%u/exe", e->tgid);
	/*
	 * The process may be gone and its pid reused: /proc counts only if the file behind the link
	 * is still the executable the kernel saw (device and inode). Otherwise the kernel's own
	 * record of the path (relative to the executable's mount) names it.
	 */
	if (stat(link, &st) || st.st_ino != e->exe_ino || rf_kernel_dev(st.st_dev) != e->exe_dev)
		return rf_event_kernel_exe_path(e, buf, len);
	n = readlink(link, buf, len - 1);
	if (n <= 0)
		return rf_event_kernel_exe_path(e, buf, len);
	buf[n] = '\0';
	return buf;
}

const struct rf_event *rf_event_prepare(struct rf_event_ctx *c, const void *data, size_t len)
{
	const struct rf_event *e = data;

	if (len < sizeof(*e))
		return NULL;
	c->exe_path = rf_event_exe_path(e, c->exe_buf, sizeof(c->exe_buf));
	return e;
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
	case RF_REASON_HOST_EXPIRED:
		return "host_expired";
	case RF_REASON_HOST_FULL:
		return "host_full";
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
	fprintf(f, "%-24s %-11s %-11s %-5s %-7s %-16s %-7s %-40s %s\n", "TIME", "ACTION", "HOOK",
		"PROTO", "PID", "COMM", "UID", "REMOTE", "EXE");
}

/*
 * The ACTION column: blocked, would-block (audit), expired (blocked: only a host rule's learned
 * address that expired would have allowed it), not-learned (no block: an address of an answer
 * for a host rule that rf_host_addr had no room for).
 */
static const char *text_action(const struct rf_event *e)
{
	if (e->reason == RF_REASON_HOST_FULL)
		return "not-learned";
	if (e->flags & RF_EVENT_WOULD_BLOCK)
		return "would-block";
	return e->reason == RF_REASON_HOST_EXPIRED ? "expired" : "blocked";
}

void rf_event_text(FILE *f, const struct rf_event *e, const struct rf_event_ctx *c)
{
	char t[40], addr[INET6_ADDRSTRLEN], remote[64], comm[RF_COMM_LEN + 1], exe[4096];

	rf_format_time(e->ts_boot_ns + c->boot_to_unix_ns, t, sizeof(t));
	rf_event_addr(e->daddr, addr, sizeof(addr));
	if (e->hook == RF_HOOK_SOCK_CREATE || e->hook == RF_HOOK_TC_EGRESS)
		snprintf(remote, sizeof(remote), "(%s socket type %u)",
			 e->family == 17   ? "packet"
			 : e->family == 10 ? "inet6"
					   : "inet",
			 e->sock_type);
	else if (strchr(addr, ':'))
		snprintf(remote, sizeof(remote), "[%s]:%u", addr, e->dport);
	else
		snprintf(remote, sizeof(remote), "%s:%u", addr, e->dport);
	rf_safe_str(e->comm, RF_COMM_LEN, comm, sizeof(comm));
	if (c->exe_path)
		rf_safe_str(c->exe_path, sizeof(exe), exe, sizeof(exe));
	fprintf(f, "%-24s %-11s %-11s %-5s %-7u %-16s %-7u %-40s %s\n", t, text_action(e),
		rf_hook_name(e->hook), rf_transport_name(e->proto), e->tgid, comm[0] ? comm : "-",
		e->uid, remote,
		c->exe_path  ? exe
		: e->exe_ino ? "?"
			     : "-");
}

/* ECS event.action: what was blocked, or "would-block" in audit mode (nothing was). */
static const char *event_action(const struct rf_event *e)
{
	if (e->reason == RF_REASON_HOST_FULL)
		return "address-not-learned";
	if (e->flags & RF_EVENT_WOULD_BLOCK)
		return "would-block";
	if (e->reason == RF_REASON_HOST_EXPIRED)
		return "learned-address-expired";
	if (e->hook == RF_HOOK_SOCK_CREATE)
		return "socket-blocked";
	if (e->hook == RF_HOOK_TC_EGRESS)
		return "frame-blocked";
	if (e->hook == RF_HOOK_SETSOCKOPT)
		return "membership-blocked";
	if (e->hook == RF_HOOK_WALL)
		return "packet-blocked";
	return "connection-blocked";
}

static json_t *event_process(const struct rf_event *e, const struct rf_event_ctx *c)
{
	json_t *p = json_pack("{s:I,s:{s:I},s:o}", "pid", (json_int_t)e->tgid, "thread", "id",
			      (json_int_t)e->pid, "name", rf_jstrn(e->comm, RF_COMM_LEN));

	if (p && c->exe_path && rf_jset(p, "executable", rf_jstr(c->exe_path))) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* "destination" and "source" of an event that has addresses (the remote side first). */
static int event_addresses(json_t *doc, const struct rf_event *e)
{
	int ingress = e->hook == RF_HOOK_INGRESS;
	char addr[INET6_ADDRSTRLEN];
	int err;

	rf_event_addr(e->daddr, addr, sizeof(addr));
	err = rf_jset(doc, ingress ? "source" : "destination",
		      json_pack("{s:s,s:I}", "ip", addr, "port", (json_int_t)e->dport));
	if (err || (is_zero(e->saddr) && !e->sport))
		return err;
	rf_event_addr(e->saddr, addr, sizeof(addr));
	return rf_jset(doc, ingress ? "destination" : "source",
		       json_pack("{s:s,s:I}", "ip", addr, "port", (json_int_t)e->sport));
}

/* The ECS fields every event has; the kernel's identity of the process under "ringfence". */
static json_t *event_base(const struct rf_event *e, const struct rf_event_ctx *c)
{
	bool full = e->reason == RF_REASON_HOST_FULL; /* not a block: nothing was denied */
	char t[40];

	rf_format_time(e->ts_boot_ns + c->boot_to_unix_ns, t, sizeof(t));
	return json_pack(
	    "{s:s,s:{s:s,s:[s],s:[s,s],s:s,s:s,s:s,s:s},"
	    "s:{s:s,s:o,s:o,s:o,s:I,s:o*}}",
	    "@timestamp", t, "event", "kind", "event", "category", "network", "type",
	    full ? "info" : "denied", "connection", "action", event_action(e), "outcome",
	    full || (e->flags & RF_EVENT_WOULD_BLOCK) ? "unknown" : "failure", "reason",
	    reason_name(e->reason), "module", "ringfence", "ringfence", "hook",
	    rf_hook_name(e->hook), "cgroup_id", rf_ju64(e->cgroup_id), "exe_dev",
	    rf_ju64(e->exe_dev), "exe_inode", rf_ju64(e->exe_ino), "socket_type",
	    (json_int_t)e->sock_type, "target", c->target ? rf_jstr(c->target) : NULL);
}

json_t *rf_event_doc(const struct rf_event *e, const struct rf_event_ctx *c)
{
	json_t *doc = event_base(e, c);
	int err = doc ? 0 : -ENOMEM;

	if (!err && e->tgid) {
		err = rf_jset(doc, "process", event_process(e, c));
		if (!err) {
			char uid[16];

			snprintf(uid, sizeof(uid), "%u", e->uid);
			err = rf_jset(doc, "user", json_pack("{s:s}", "id", uid));
		}
	}
	if (!err && c->hostname)
		err = rf_jset(doc, "host", json_pack("{s:o}", "hostname", rf_jstr(c->hostname)));
	if (!err && e->hook != RF_HOOK_SOCK_CREATE && e->hook != RF_HOOK_TC_EGRESS)
		err = event_addresses(doc, e);
	if (!err)
		err = rf_jset(
		    doc, "network",
		    json_pack("{s:s,s:s,s:s}", "transport", rf_transport_name(e->proto), "type",
			      e->family == 10	? "ipv6"
			      : e->family == 17 ? "packet"
						: "ipv4",
			      "direction", e->hook == RF_HOOK_INGRESS ? "ingress" : "egress"));
	if (err) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int rf_event_json(FILE *f, const struct rf_event *e, const struct rf_event_ctx *c)
{
	return rf_json_write(f, rf_event_doc(e, c), true);
}

int rf_event_log_line(FILE *out, const char *line, bool json)
{
	char safe[8192];
	json_t *doc;

	if (!json) {
		fprintf(out, "%s\n", rf_safe(line, safe, sizeof(safe)));
		return 0;
	}
	doc = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(doc)) { /* as the agent wrote it */
		json_decref(doc);
		fprintf(out, "%s\n", line);
		return 0;
	}
	json_decref(doc);
	/* an earlier agent's line with "ringfence" twice: the last one kept, written strictly */
	doc = json_loads(line, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return -EINVAL;
	}
	return rf_json_write(out, doc, true);
}
