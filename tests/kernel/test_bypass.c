// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bypass paths of THREAT-MODEL.md, each tried by a non-allowed process in the isolated cgroup
 * (peer 192.0.2.2 / 2001:db8::2 not allowed unless stated): raw and ping sockets, raw sockets
 * created before isolate, TCP Fast Open, AF_PACKET frames (packet-socket guard), sockets inherited
 * across fork or passed with SCM_RIGHTS, child cgroups, a second network namespace, and policy
 * changes that must never interrupt an allowed flow. Denied traffic: the peer receives nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_proc.h"

#define PORT_WAY_BACK	  8001 /* allowed by net rules (tcp+udp, v4+v6) */
#define PORT_OTHER	  8002 /* allowed by nothing */
#define PORT_LOOP	  7000 /* loopback listener */
#define CLIENT_TIMEOUT_MS 1500

TestSuite(bypass, .init = rfp_setup, .fini = rfp_teardown, .timeout = 90);

/* Phase 0 as loaded, 1 isolated, 2 released: run the CLI step into `phase`, return its name. */
static const char *enter_phase(int phase)
{
	static const char *const names[] = {"not isolated", "isolated", "released"};

	if (phase == 1)
		rft_cli_ok(0, "isolate", NULL);
	if (phase == 2)
		rft_cli_ok(0, "release", NULL);
	return names[phase];
}

static void way_back(void)
{
	static const char *const addrs[] = {RFT_PEER_IP4, RFT_PEER_IP6};
	static const char *const protos[] = {"tcp", "udp"};
	int a, p;

	for (a = 0; a < 2; a++)
		for (p = 0; p < 2; p++)
			rft_cli_ok(0, "allow", "add", "net", addrs[a], "proto", protos[p], "port",
				   "8001", "dir", "out", NULL);
}

/* Wait up to ms for *counter (via fn) to exceed `before`; returns the last value. */
static unsigned long long wait_above(unsigned long long (*fn)(const void *), const void *arg,
				     unsigned long long before, int ms)
{
	unsigned long long v = fn(arg);

	for (; v <= before && ms > 0; ms -= 20) {
		rft_msleep(20);
		v = fn(arg);
	}
	return v;
}

static unsigned long long sniffed(const void *s)
{
	return rfp_sniffer_count(s);
}

struct udp_count {
	const struct rft_server *srv;
	int family;
};

static unsigned long long dgrams(const void *arg)
{
	const struct udp_count *u = arg;

	return rft_server_stats(u->srv, PORT_OTHER, u->family).dgrams;
}

/* ---- raw and ping socket creation -------------------------------------------------------- */

struct sock_kind {
	int family, type, proto;
	const char *name;
};

static const struct sock_kind special_socks[] = {
    {AF_INET, SOCK_RAW, IPPROTO_ICMP, "raw AF_INET ICMP"},
    {AF_INET, SOCK_RAW, IPPROTO_UDP, "raw AF_INET UDP"},
    {AF_INET, SOCK_RAW, IPPROTO_RAW, "raw AF_INET IPPROTO_RAW (header included)"},
    {AF_INET6, SOCK_RAW, IPPROTO_ICMPV6, "raw AF_INET6 ICMPv6"},
    {AF_INET6, SOCK_RAW, IPPROTO_UDP, "raw AF_INET6 UDP"},
    {AF_INET, SOCK_DGRAM, IPPROTO_ICMP, "ping AF_INET"},
    {AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6, "ping AF_INET6"},
};

static int try_socket(int cmd, void *arg)
{
	const struct sock_kind *k = arg;
	int fd = socket(k->family, k->type | SOCK_CLOEXEC, k->proto);

	(void)cmd;
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Special socket `k` is refused (EPERM) only while isolated; ordinary ones never are. */
static void check_special_socket(const struct sock_kind *k, bool isolated, const char *phase)
{
	static const struct sock_kind plain[] = {{AF_INET, SOCK_DGRAM, 0, "UDP"},
						 {AF_INET6, SOCK_STREAM, 0, "TCP6"}};
	int ret = rfp_run_in(rft.dev_ns, rft.cg, try_socket, (void *)k);
	size_t i;

	cr_expect_eq(ret, isolated ? -EPERM : 0, "%s: %s socket(): %d (%s)", phase, k->name, ret,
		     ret ? strerror(-ret) : "ok");
	for (i = 0; i < 2; i++)
		cr_expect_eq(rfp_run_in(rft.dev_ns, rft.cg, try_socket, (void *)&plain[i]), 0,
			     "%s: ordinary %s sockets must still be created", phase, plain[i].name);
}

RFT_TABLE_PARAMS(bypass, raw_and_ping_socket_creation, special_socks)
ParameterizedTest(const size_t *row, bypass, raw_and_ping_socket_creation)
{
	const struct sock_kind *k = &special_socks[*row];

	/* root may open ping sockets only if gid 0 is in the range (per netns) */
	cr_assert_eq(rfp_sysctl_in(rft.dev_ns, "net/ipv4/ping_group_range", "0 2147483647"), 0);
	way_back();
	rft_cli_ok(0, "load", NULL);
	check_special_socket(k, false, "loaded, not isolated");
	rft_cli_ok(0, "isolate", NULL);
	check_special_socket(k, true, "isolated");
	rft_cli_ok(0, "release", NULL);
	check_special_socket(k, false, "released");
}

/* ---- raw sockets created before isolate -------------------------------------------------- */

#define MARK_ICMP4 "rfp-raw-icmp4-marker"
#define MARK_ICMP6 "rfp-raw-icmp6-marker"

static int raw_fds[3];

static unsigned short inet_csum(const void *data, size_t len)
{
	const unsigned char *p = data;
	unsigned long sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (unsigned long)(p[0] << 8 | p[1]);
	if (len)
		sum += (unsigned long)(p[0] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((unsigned short)~sum);
}

/* cmd 0: open raw sockets; 1: ICMP echo v4; 2: UDP datagram v4 (raw); 3: ICMPv6 echo. */
static int raw_worker(int cmd, void *arg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned char pkt[64];
	size_t n;
	ssize_t r;

	(void)arg;
	if (cmd == 0) {
		raw_fds[0] = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
		raw_fds[1] = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
		raw_fds[2] = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
		return raw_fds[0] < 0 || raw_fds[1] < 0 || raw_fds[2] < 0 ? -errno : 0;
	}
	memset(pkt, 0, sizeof(pkt));
	if (cmd == 1 || cmd == 3) {
		struct icmphdr *ic = (struct icmphdr *)pkt; /* same layout as icmp6_hdr's echo */

		ic->type = cmd == 1 ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
		ic->un.echo.id = htons(0x4242);
		ic->un.echo.sequence = htons(1);
		n = sizeof(*ic) + strlen(MARK_ICMP4);
		memcpy(pkt + sizeof(*ic), cmd == 1 ? MARK_ICMP4 : MARK_ICMP6, strlen(MARK_ICMP4));
		if (cmd == 1)
			ic->checksum = inet_csum(pkt, n); /* the kernel fills ICMPv6 checksums */
		rft_sockaddr(&ss, &len, cmd == 1 ? AF_INET : AF_INET6,
			     cmd == 1 ? RFT_PEER_IP4 : RFT_PEER_IP6, 0);
		r = sendto(raw_fds[cmd == 1 ? 0 : 2], pkt, n, 0, (struct sockaddr *)&ss, len);
	} else {
		unsigned short *udp = (unsigned short *)pkt;

		udp[0] = htons(40000);
		udp[1] = htons(PORT_OTHER);
		udp[2] = htons(8 + RFT_PAYLOAD_LEN);
		udp[3] = 0; /* no checksum (IPv4) */
		memset(pkt + 8, 'r', RFT_PAYLOAD_LEN);
		rft_sockaddr(&ss, &len, AF_INET, RFT_PEER_IP4, 0);
		r = sendto(raw_fds[1], pkt, 8 + RFT_PAYLOAD_LEN, 0, (struct sockaddr *)&ss, len);
	}
	return r < 0 ? -errno : (int)r;
}

Test(bypass, raw_socket_from_before_isolate_delivers_nothing)
{
	static const unsigned short ports[] = {PORT_OTHER};
	struct rfp_sniffer icmp4, icmp6;
	struct rft_server srv;
	struct udp_count u4;
	struct rfp_worker w;
	int phase;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	u4 = (struct udp_count){&srv, AF_INET};
	cr_assert_eq(rfp_sniffer_start(&icmp4, rft.peer_ns, 0x0800, MARK_ICMP4), 0);
	cr_assert_eq(rfp_sniffer_start(&icmp6, rft.peer_ns, 0x86dd, MARK_ICMP6), 0);
	way_back();
	cr_assert_eq(rfp_worker_start(&w, rft.dev_ns, rft.cg, raw_worker, NULL), 0,
		     "raw sockets could not be created before isolate");

	for (phase = 0; phase < 3; phase++) {
		static const char *const names[] = {"before isolate", "isolated", "released"};
		bool deny = phase == 1;
		unsigned long long b4 = rfp_sniffer_count(&icmp4), b6 = rfp_sniffer_count(&icmp6);
		unsigned long long bu = dgrams(&u4);
		int wait = deny ? RFT_DENY_WAIT_MS : 2000;
		int r1, r2, r3;

		enter_phase(phase);
		r1 = rfp_worker_call(&w, 1);
		r2 = rfp_worker_call(&w, 2);
		r3 = rfp_worker_call(&w, 3);
		if (!deny) {
			cr_expect_gt(r1, 0, "%s: ICMP echo sendto: %d", names[phase], r1);
			cr_expect_gt(r2, 0, "%s: raw UDP sendto: %d", names[phase], r2);
			cr_expect_gt(r3, 0, "%s: ICMPv6 echo sendto: %d", names[phase], r3);
		}
		if (deny) {
			rft_msleep(wait);
			cr_expect_eq(
			    rfp_sniffer_count(&icmp4), b4,
			    "isolated: the peer received the ICMP echo of an old raw socket");
			cr_expect_eq(rfp_sniffer_count(&icmp6), b6,
				     "isolated: the peer received the ICMPv6 echo of an old raw "
				     "socket");
			cr_expect_eq(dgrams(&u4), bu,
				     "isolated: the peer received the UDP datagram of an old raw "
				     "socket");
		} else {
			cr_expect_gt(wait_above(sniffed, &icmp4, b4, wait), b4,
				     "%s: ICMP echo did not arrive", names[phase]);
			cr_expect_gt(wait_above(sniffed, &icmp6, b6, wait), b6,
				     "%s: ICMPv6 echo did not arrive", names[phase]);
			cr_expect_gt(wait_above(dgrams, &u4, bu, wait), bu,
				     "%s: raw UDP datagram did not arrive", names[phase]);
		}
	}
	rfp_worker_stop(&w);
}

/* ---- TCP Fast Open ----------------------------------------------------------------------- */

struct tfo_arg {
	int family;
	const char *addr;
	unsigned short port;
};

/* sendto(MSG_FASTOPEN): bytes sent, or -errno. */
static int tfo_send(int cmd, void *arg)
{
	const struct tfo_arg *a = arg;
	struct timeval tv = {1, 500000};
	struct sockaddr_storage ss;
	char payload[RFT_PAYLOAD_LEN];
	socklen_t len;
	ssize_t r;
	int fd;

	(void)cmd;
	memset(payload, 'f', sizeof(payload));
	rft_sockaddr(&ss, &len, a->family, a->addr, a->port);
	fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	r = sendto(fd, payload, sizeof(payload), MSG_FASTOPEN, (struct sockaddr *)&ss, len);
	if (r < 0)
		r = -errno;
	else
		rft_msleep(100); /* let the data reach the peer before the socket closes */
	close(fd);
	return (int)r;
}

static const struct {
	int family;
	const char *addr;
} tfo_fams[] = {{AF_INET, RFT_PEER_IP4}, {AF_INET6, RFT_PEER_IP6}};

RFT_TABLE_PARAMS(bypass, tcp_fast_open_denied, tfo_fams)
ParameterizedTest(const size_t *row, bypass, tcp_fast_open_denied)
{
	static const unsigned short ports[] = {PORT_WAY_BACK, PORT_OTHER};
	int family = tfo_fams[*row].family;
	struct tfo_arg other = {family, tfo_fams[*row].addr, PORT_OTHER};
	struct tfo_arg back = {family, tfo_fams[*row].addr, PORT_WAY_BACK};
	const char *v = family == AF_INET6 ? "v6" : "v4";
	struct rft_server srv;
	int phase;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	way_back();
	for (phase = 0; phase < 3; phase++) {
		const char *name = enter_phase(phase);
		struct rft_port_stats st = rft_server_stats(&srv, PORT_OTHER, family);
		int r = rfp_run_in(rft.dev_ns, rft.cg, tfo_send, &other);

		if (phase == 1) {
			cr_expect_eq(r, -EPERM, "isolated: %s MSG_FASTOPEN to a denied port: %d", v,
				     r);
			rft_msleep(100);
			cr_expect_eq(rft_server_stats(&srv, PORT_OTHER, family).conns, st.conns,
				     "isolated: %s TFO: the peer saw a connection", v);
			cr_expect_eq(rft_server_stats(&srv, PORT_OTHER, family).tcp_bytes,
				     st.tcp_bytes, "isolated: %s TFO: the peer received data", v);
		} else {
			cr_expect_eq(r, RFT_PAYLOAD_LEN, "%s: %s MSG_FASTOPEN: %d", name, v, r);
			cr_expect_gt(rft_server_stats(&srv, PORT_OTHER, family).tcp_bytes,
				     st.tcp_bytes, "%s: %s TFO data never arrived", name, v);
		}
		/* the allowed destination works through TFO while isolated too */
		r = rfp_run_in(rft.dev_ns, rft.cg, tfo_send, &back);
		cr_expect_eq(r, RFT_PAYLOAD_LEN, "%s: %s MSG_FASTOPEN to the allowed port: %d",
			     name, v, r);
	}
}

/* ---- AF_PACKET and the packet-socket guard ----------------------------------------------- */

#define MARK_FRAME "rfp-packet-frame-marker"

Test(bypass, af_packet_frames_stopped_by_the_packet_guard)
{
	static char *guard_on[] = {"RINGFENCE_PACKET_GUARD=on", NULL};
	struct rfp_worker old, fresh;
	struct rfp_sniffer sn;
	unsigned long long before;
	char *out = NULL, *err = NULL;
	int st;

	cr_assert_eq(rfp_sniffer_start(&sn, rft.peer_ns, RFP_ETH_P_TEST, MARK_FRAME), 0);
	way_back();
	/* the CLI runs inside the device netns: the guard attaches only to its interfaces */
	st = rfp_cli_env(guard_on, &out, &err, "load", NULL);
	cr_assert_eq(st, 0, "load with the packet guard: %d: %s", st, err);
	free(out);
	free(err);
	out = rfp_cli_out("status", "--json", NULL);
	{
		json_t *doc = rft_json_load(out);

		cr_expect(json_is_string(rft_json_at(doc, "packet_guard.0")),
			  "status shows no interface with the packet guard: %s", out);
		json_decref(doc);
	}
	free(out);

	cr_assert_eq(
	    rfp_worker_start(&old, rft.dev_ns, rft.cg, rfp_frame_worker, (void *)MARK_FRAME), 0);
	before = rfp_sniffer_count(&sn);
	cr_expect_gt(rfp_worker_call(&old, 1), 0);
	cr_expect_gt(wait_above(sniffed, &sn, before, 2000), before,
		     "not isolated: the peer did not receive the AF_PACKET frame");

	st = rfp_cli_env(guard_on, NULL, NULL, "isolate", NULL);
	cr_assert_eq(st, 0);
	cr_assert_eq(
	    rfp_worker_start(&fresh, rft.dev_ns, rft.cg, rfp_frame_worker, (void *)MARK_FRAME), 0,
	    "AF_PACKET sockets are not refused at creation (no hook): got an error");
	before = rfp_sniffer_count(&sn);
	rfp_worker_call(&old, 1);   /* socket opened before isolate */
	rfp_worker_call(&fresh, 1); /* socket opened while isolated */
	rfp_worker_call(&fresh, 1);
	rft_msleep(RFT_DENY_WAIT_MS);
	cr_expect_eq(rfp_sniffer_count(&sn), before,
		     "isolated: the peer received %llu AF_PACKET frame(s) from the isolated cgroup",
		     rfp_sniffer_count(&sn) - before);

	rft_cli_ok(0, "release", NULL);
	before = rfp_sniffer_count(&sn);
	cr_expect_gt(rfp_worker_call(&fresh, 1), 0);
	cr_expect_gt(wait_above(sniffed, &sn, before, 2000), before,
		     "released: the peer did not receive the AF_PACKET frame");
	rfp_worker_stop(&old);
	rfp_worker_stop(&fresh);
}

/* ---- sockets inherited across fork or passed with SCM_RIGHTS ----------------------------- */

struct pass_arg {
	int sv[2]; /* AF_UNIX pair: [0] sender worker, [1] receiver worker */
};

static int held[2]; /* connected UDP sockets, v4 and v6, opened before isolate */

static int send_both(const int fds[2])
{
	char payload[RFT_PAYLOAD_LEN];
	int i, ok = 0;

	memset(payload, 'i', sizeof(payload));
	for (i = 0; i < 2; i++)
		if (send(fds[i], payload, sizeof(payload), 0) == (ssize_t)sizeof(payload))
			ok++;
	return ok;
}

/* Holder: cmd 0 connects, 1 forks a child that sends on the inherited sockets, 2 passes them. */
static int holder(int cmd, void *arg)
{
	struct pass_arg *pa = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	int i, status;
	pid_t pid;

	if (cmd == 0) {
		for (i = 0; i < 2; i++) {
			held[i] = socket(i ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			rft_sockaddr(&ss, &len, i ? AF_INET6 : AF_INET,
				     i ? RFT_PEER_IP6 : RFT_PEER_IP4, PORT_OTHER);
			if (held[i] < 0 || connect(held[i], (struct sockaddr *)&ss, len))
				return -errno;
		}
		return 0;
	}
	if (cmd == 1) {
		pid = fork();
		if (pid == 0)
			_exit(send_both(held));
		if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
			return -ECHILD;
		return WEXITSTATUS(status);
	}
	{
		char cbuf[CMSG_SPACE(sizeof(held))] = {0};
		struct iovec iov = {.iov_base = "F", .iov_len = 1};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = cbuf,
				   .msg_controllen = sizeof(cbuf)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(held));
		memcpy(CMSG_DATA(c), held, sizeof(held));
		return sendmsg(pa->sv[0], &m, 0) == 1 ? 0 : -errno;
	}
}

/* Receiver: cmd 1 receives the two sockets, sends on them and closes them. */
static int receiver(int cmd, void *arg)
{
	struct pass_arg *pa = arg;
	char cbuf[CMSG_SPACE(sizeof(held))], b;
	struct iovec iov = {.iov_base = &b, .iov_len = 1};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	int fds[2], ok;

	if (cmd == 0)
		return 0;
	if (recvmsg(pa->sv[1], &m, 0) != 1)
		return -errno;
	c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EBADMSG;
	memcpy(fds, CMSG_DATA(c), sizeof(fds));
	ok = send_both(fds);
	close(fds[0]);
	close(fds[1]);
	return ok;
}

static unsigned long long both_dgrams(const void *arg)
{
	const struct rft_server *srv = arg;

	return rft_server_stats(srv, PORT_OTHER, AF_INET).dgrams +
	       rft_server_stats(srv, PORT_OTHER, AF_INET6).dgrams;
}

Test(bypass, inherited_and_passed_sockets_deliver_nothing)
{
	static const unsigned short ports[] = {PORT_OTHER};
	struct pass_arg pa;
	struct rfp_worker hold, recv;
	struct rft_server srv;
	int phase, how;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pa.sv), 0);
	way_back();
	rft_cli_ok(0, "load", NULL);
	cr_assert_eq(rfp_worker_start(&hold, rft.dev_ns, rft.cg, holder, &pa), 0);
	cr_assert_eq(rfp_worker_start(&recv, rft.dev_ns, rft.cg, receiver, &pa), 0);

	for (phase = 0; phase < 3; phase++) {
		const char *name = enter_phase(phase);

		for (how = 0; how < 2; how++) {
			const char *what = how ? "passed with SCM_RIGHTS" : "inherited across fork";
			unsigned long long before = both_dgrams(&srv);

			if (how == 0) {
				rfp_worker_call(&hold, 1);
			} else {
				cr_assert_eq(rfp_worker_call(&hold, 2), 0);
				rfp_worker_call(&recv, 1);
			}
			if (phase == 1) {
				rft_msleep(RFT_DENY_WAIT_MS);
				cr_expect_eq(both_dgrams(&srv), before,
					     "isolated: UDP sockets %s delivered %llu datagram(s)",
					     what, both_dgrams(&srv) - before);
			} else {
				cr_expect_geq(wait_above(both_dgrams, &srv, before + 1, 2000),
					      before + 2, "%s: sockets %s: v4+v6 datagrams missing",
					      name, what);
			}
		}
	}
	rfp_worker_stop(&hold);
	rfp_worker_stop(&recv);
	close(pa.sv[0]);
	close(pa.sv[1]);
}

/* ---- child cgroups, second network namespace --------------------------------------------- */

static const struct {
	int in_c2; /* 0: process in c1, 1: in c1/c2 */
	int family;
	const char *addr;
	enum rft_proto proto;
} child_cg_cases[] = {
    {0, AF_INET, RFT_PEER_IP4, RFT_TCP}, {0, AF_INET6, RFT_PEER_IP6, RFT_TCP},
    {0, AF_INET, RFT_PEER_IP4, RFT_UDP}, {0, AF_INET6, RFT_PEER_IP6, RFT_UDP},
    {1, AF_INET, RFT_PEER_IP4, RFT_TCP}, {1, AF_INET6, RFT_PEER_IP6, RFT_TCP},
    {1, AF_INET, RFT_PEER_IP4, RFT_UDP}, {1, AF_INET6, RFT_PEER_IP6, RFT_UDP},
};

RFT_TABLE_PARAMS(bypass, child_cgroups_are_isolated_too, child_cg_cases)
ParameterizedTest(const size_t *row, bypass, child_cgroups_are_isolated_too)
{
	static const unsigned short ports[] = {PORT_WAY_BACK, PORT_OTHER};
	int family = child_cg_cases[*row].family;
	enum rft_proto proto = child_cg_cases[*row].proto;
	const char *addr = child_cg_cases[*row].addr;
	const char *where = child_cg_cases[*row].in_c2 ? "c1/c2" : "c1";
	char c1[PATH_MAX], c2[PATH_MAX];
	const char *cg = child_cg_cases[*row].in_c2 ? c2 : c1;
	struct rft_server srv;
	int phase;

	cr_assert_eq(rfp_cgroup_child("c1", c1, sizeof(c1)), 0);
	cr_assert_eq(rfp_cgroup_child("c1/c2", c2, sizeof(c2)), 0);
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	way_back();
	for (phase = 0; phase < 2; phase++) {
		struct rft_port_stats b, a;
		struct rft_result r;

		enter_phase(phase);
		b = rft_server_stats(&srv, PORT_OTHER, family);
		r = rft_client(rft.dev_ns, cg, family, proto, addr, PORT_OTHER, CLIENT_TIMEOUT_MS);
		rft_msleep(phase ? 100 : 0);
		a = rft_server_stats(&srv, PORT_OTHER, family);
		cr_expect_eq(
		    r.outcome, phase ? RFT_EPERM : RFT_OK, "%s: process in %s, %s %s port %u: %s",
		    phase ? "isolated" : "not isolated", where, proto == RFT_TCP ? "tcp" : "udp",
		    addr, PORT_OTHER, rft_outcome_name(r.outcome));
		if (phase)
			cr_expect(a.conns == b.conns && a.dgrams == b.dgrams,
				  "isolated: the peer received from a child cgroup (%s)", where);
		r = rft_client(rft.dev_ns, cg, family, proto, addr, PORT_WAY_BACK,
			       CLIENT_TIMEOUT_MS);
		cr_expect_eq(r.outcome, RFT_OK, "process in %s, allowed port: %s", where,
			     rft_outcome_name(r.outcome));
	}
	rft_cli_ok(0, "release", NULL);
}

static int loop_listen[2] = {-1, -1};

static int ip_in_here(const char *a1, const char *a2, const char *a3, const char *a4,
		      const char *a5, const char *a6, const char *a7, const char *a8)
{
	char *argv[] = {"ip",	    (char *)a1, (char *)a2, (char *)a3, (char *)a4,
			(char *)a5, (char *)a6, (char *)a7, (char *)a8, NULL};

	return rft_exec(NULL, argv, NULL, NULL);
}

/* Loopback exchange in this netns: connect, send, accept, receive. Bytes received or -errno. */
static int loopback_echo(int family)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[RFT_PAYLOAD_LEN];
	int fd, c, n;

	rft_sockaddr(&ss, &len, family, family == AF_INET6 ? "::1" : "127.0.0.1", PORT_LOOP);
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) ||
	    send(fd, "0123456789abcdef", RFT_PAYLOAD_LEN, 0) != RFT_PAYLOAD_LEN) {
		n = -errno;
		close(fd);
		return n;
	}
	c = accept(loop_listen[family == AF_INET6], NULL, NULL);
	n = c < 0 ? -errno : (int)recv(c, buf, sizeof(buf), MSG_WAITALL);
	if (c >= 0)
		close(c);
	close(fd);
	return n;
}

/*
 * In the isolated cgroup, in a fresh netns with its own veth pair (192.0.2.1, 2001:db8::1, no
 * peer behind it). cmd 0: unshare + set up; 1: UDP v4 sendto; 2: TCP v4 connect (non-blocking);
 * 3: UDP v6 sendto; 4: loopback v4; 5: loopback v6.
 */
static int fresh_netns(int cmd, void *arg)
{
	char payload[RFT_PAYLOAD_LEN] = "0123456789abcde";
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, ret, i, family = cmd == 3 ? AF_INET6 : AF_INET;

	(void)arg;
	if (cmd == 0) {
		if (unshare(CLONE_NEWNET))
			return -errno;
		if (ip_in_here("link", "add", "rfpa", "type", "veth", "peer", "name", "rfpb") ||
		    ip_in_here("addr", "add", "192.0.2.1/24", "dev", "rfpa", NULL, NULL, NULL) ||
		    ip_in_here("addr", "add", "2001:db8::1/64", "dev", "rfpa", "nodad", NULL,
			       NULL) ||
		    ip_in_here("link", "set", "rfpa", "up", NULL, NULL, NULL, NULL) ||
		    ip_in_here("link", "set", "rfpb", "up", NULL, NULL, NULL, NULL) ||
		    ip_in_here("link", "set", "lo", "up", NULL, NULL, NULL, NULL))
			return -ENETDOWN;
		for (i = 0; i < 2; i++) {
			int one = 1;

			rft_sockaddr(&ss, &len, i ? AF_INET6 : AF_INET, i ? "::1" : "127.0.0.1",
				     PORT_LOOP);
			loop_listen[i] =
			    socket(i ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			setsockopt(loop_listen[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(loop_listen[i], (struct sockaddr *)&ss, len) ||
			    listen(loop_listen[i], 8))
				return -errno;
		}
		return 0;
	}
	if (cmd == 4 || cmd == 5)
		return loopback_echo(cmd == 5 ? AF_INET6 : AF_INET);
	rft_sockaddr(&ss, &len, family, family == AF_INET6 ? RFT_PEER_IP6 : RFT_PEER_IP4,
		     PORT_OTHER);
	fd =
	    socket(family, (cmd == 2 ? SOCK_STREAM | SOCK_NONBLOCK : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (cmd == 2)
		ret = connect(fd, (struct sockaddr *)&ss, len) ? -errno : 0;
	else
		ret = sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&ss, len) < 0
			  ? -errno
			  : RFT_PAYLOAD_LEN;
	close(fd);
	return ret;
}

Test(bypass, second_network_namespace_is_isolated_too)
{
	static const char *const names[] = {
	    "", "UDP v4 sendto", "TCP v4 connect", "UDP v6 sendto", "loopback v4", "loopback v6"};
	/* without a peer: UDP leaves, TCP stays in progress; loopback always echoes */
	static const int free_want[] = {
	    0, RFT_PAYLOAD_LEN, -EINPROGRESS, RFT_PAYLOAD_LEN, RFT_PAYLOAD_LEN, RFT_PAYLOAD_LEN};
	static const int iso_want[] = {0, -EPERM, -EPERM, -EPERM, RFT_PAYLOAD_LEN, RFT_PAYLOAD_LEN};
	struct rfp_worker w;
	int phase, cmd, r;

	rft_require_tool("ip");
	way_back();
	/* starts in the device netns (never the host's), joins the cgroup, then unshares */
	r = rfp_worker_start(&w, rft.dev_ns, rft.cg, fresh_netns, NULL);
	cr_assert_eq(r, 0, "fresh netns setup failed: %d", r);
	for (phase = 0; phase < 3; phase++) {
		const char *name = enter_phase(phase);

		for (cmd = 1; cmd <= 5; cmd++) {
			int want = phase == 1 ? iso_want[cmd] : free_want[cmd];

			r = rfp_worker_call(&w, cmd);
			cr_expect_eq(r, want, "%s, second netns: %s: got %d (%s), expected %d",
				     name, names[cmd], r, r < 0 ? strerror(-r) : "ok", want);
		}
	}
	rfp_worker_stop(&w);
}

/* ---- policy churn while an allowed flow runs --------------------------------------------- */

struct flow_stats {
	int stop;
	unsigned int rounds;
	unsigned int tcp_fail, udp_fail;
	unsigned long long tcp_sent, tcp_echoed;
	int first_err;
};

static int flow_tcp = -1;
static pid_t flow_pid;

/* Wait up to 1 s for n bytes on fd. Returns bytes read. */
static int read_n(int fd, int n)
{
	char buf[256];
	int got = 0;

	while (got < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, 1000) != 1)
			break;
		r = recv(fd, buf, sizeof(buf) < (size_t)(n - got) ? sizeof(buf) : (size_t)(n - got),
			 0);
		if (r <= 0)
			break;
		got += (int)r;
	}
	return got;
}

static void flow_loop(struct flow_stats *fs)
{
	char payload[RFT_PAYLOAD_LEN];
	struct sockaddr_storage ss;
	socklen_t len;

	memset(payload, 'c', sizeof(payload));
	rft_sockaddr(&ss, &len, AF_INET, RFT_PEER_IP4, PORT_WAY_BACK);
	while (!__atomic_load_n(&fs->stop, __ATOMIC_ACQUIRE)) {
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), got;

		/* the long-lived TCP stream */
		if (send(flow_tcp, payload, sizeof(payload), MSG_NOSIGNAL) == RFT_PAYLOAD_LEN) {
			__atomic_add_fetch(&fs->tcp_sent, RFT_PAYLOAD_LEN, __ATOMIC_RELEASE);
			got = read_n(flow_tcp, RFT_PAYLOAD_LEN);
			__atomic_add_fetch(&fs->tcp_echoed, (unsigned long long)got,
					   __ATOMIC_RELEASE);
			if (got != RFT_PAYLOAD_LEN)
				__atomic_add_fetch(&fs->tcp_fail, 1, __ATOMIC_RELEASE);
		} else {
			__atomic_add_fetch(&fs->tcp_fail, 1, __ATOMIC_RELEASE);
			if (!fs->first_err)
				fs->first_err = errno;
		}
		/* a new UDP request each round: the sendmsg hook decides every time */
		if (u < 0 ||
		    sendto(u, payload, sizeof(payload), 0, (struct sockaddr *)&ss, len) !=
			RFT_PAYLOAD_LEN ||
		    read_n(u, RFT_PAYLOAD_LEN) != RFT_PAYLOAD_LEN) {
			__atomic_add_fetch(&fs->udp_fail, 1, __ATOMIC_RELEASE);
			if (!fs->first_err)
				fs->first_err = errno ? errno : -1;
		}
		if (u >= 0)
			close(u);
		__atomic_add_fetch(&fs->rounds, 1, __ATOMIC_RELEASE);
	}
}

/* cmd 0: connect the TCP stream; 1: start the request loop in a child; 2: wait for it. */
static int flow_worker(int cmd, void *arg)
{
	struct flow_stats *fs = arg;
	int status;

	if (cmd == 0) {
		struct sockaddr_storage ss;
		socklen_t len;

		rft_sockaddr(&ss, &len, AF_INET, RFT_PEER_IP4, PORT_WAY_BACK);
		flow_tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (flow_tcp < 0 || connect(flow_tcp, (struct sockaddr *)&ss, len))
			return -errno;
		return 0;
	}
	if (cmd == 1) {
		flow_pid = fork();
		if (flow_pid == 0) {
			flow_loop(fs);
			_exit(0);
		}
		return flow_pid < 0 ? -errno : 0;
	}
	return waitpid(flow_pid, &status, 0) == flow_pid ? 0 : -ECHILD;
}

Test(bypass, policy_changes_never_interrupt_an_allowed_flow, .timeout = 120)
{
	static const unsigned short ports[] = {PORT_WAY_BACK};
	char copy[PATH_MAX], other_cg[PATH_MAX], rel[PATH_MAX], ip[32];
	struct flow_stats *fs;
	struct rfp_worker w;
	unsigned int rounds_before;
	struct rft_server srv;
	int i, changes = 0;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	cr_assert_eq(rfp_copy_self("rf-other-exe", copy, sizeof(copy)), 0);
	cr_assert_eq(rfp_cgroup_child("other", other_cg, sizeof(other_cg)), 0);
	snprintf(rel, sizeof(rel), "%s/other", rft.cg + strlen(rft.cg2));
	fs = mmap(NULL, sizeof(*fs), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(fs, MAP_FAILED);
	memset(fs, 0, sizeof(*fs));
	way_back();
	rft_cli_ok(0, "isolate", NULL);
	cr_assert_eq(rfp_worker_start(&w, rft.dev_ns, rft.cg, flow_worker, fs), 0);
	cr_assert_eq(rfp_worker_call(&w, 1), 0);
	rft_msleep(200);
	rounds_before = __atomic_load_n(&fs->rounds, __ATOMIC_ACQUIRE);
	cr_expect_gt(rounds_before, 0, "the allowed flow does not run at all");

	/* 210 policy changes; 63 under emulation, where each CLI run takes most of a second */
	for (i = 0; changes < (rft_scaled_ms(1) > 1 ? 63 : 210); i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", 100 + i % 50);
		rft_cli_ok(0, "allow", "add", "net", ip, "proto", "tcp", "port", "9000", "dir",
			   "out", NULL);
		rft_cli_ok(0, "allow", "del", "net", ip, "proto", "tcp", "port", "9000", "dir",
			   "out", NULL);
		/* re-adding the flow's own rule is a no-op that must not blink */
		rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "udp", "port", "8001",
			   "dir", "out", NULL);
		changes += 3;
		if (i % 10 == 0) {
			rft_cli_ok(0, "allow", "add", "exe", copy, NULL);
			rft_cli_ok(0, "allow", "del", "exe", copy, NULL);
			rft_cli_ok(0, "allow", "add", "cgroup", rel, NULL);
			rft_cli_ok(0, "allow", "del", "cgroup", rel, NULL);
			rft_cli_ok(0, "allow", "add", "net", "2001:db8::/32", "proto", "udp", NULL);
			rft_cli_ok(0, "allow", "del", "net", "2001:db8::/32", "proto", "udp", NULL);
			changes += 6;
		}
	}
	rft_msleep(300);
	__atomic_store_n(&fs->stop, 1, __ATOMIC_RELEASE);
	cr_assert_eq(rfp_worker_call(&w, 2), 0);

	cr_expect_gt(fs->rounds, rounds_before + 20, "only %u request rounds during %d changes",
		     fs->rounds, changes);
	cr_expect_eq(fs->tcp_fail, 0, "%u of %u TCP echoes failed during policy changes (errno %d)",
		     fs->tcp_fail, fs->rounds, fs->first_err);
	cr_expect_eq(fs->udp_fail, 0,
		     "%u of %u UDP requests failed during policy changes (errno %d)", fs->udp_fail,
		     fs->rounds, fs->first_err);
	cr_expect_eq(fs->tcp_echoed, fs->tcp_sent, "TCP bytes lost: sent %llu, echoed %llu",
		     fs->tcp_sent, fs->tcp_echoed);
	cr_expect_eq(rft_server_stats(&srv, PORT_WAY_BACK, AF_INET).tcp_bytes, fs->tcp_sent,
		     "the peer received %llu of %llu TCP bytes",
		     rft_server_stats(&srv, PORT_WAY_BACK, AF_INET).tcp_bytes, fs->tcp_sent);
	/* and the policy still denies what it should */
	{
		struct rft_result r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, "192.0.2.2",
						 9000, CLIENT_TIMEOUT_MS);

		cr_expect_eq(r.outcome, RFT_EPERM, "after the changes: port 9000: %s",
			     rft_outcome_name(r.outcome));
	}
	rfp_worker_stop(&w);
	rft_cli_ok(0, "release", NULL);
	munmap(fs, sizeof(*fs));
}
