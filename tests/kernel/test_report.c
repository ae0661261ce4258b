// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every blocked attempt is reported (issue 21 item 6, F1): a flood of denied sendto() keeps the
 * per-CPU event bucket empty, and the attempts of other flows made meanwhile used to be only
 * counted (0 of 50 reported). The kernel now counts them per flow in rf_suppressed and the agent
 * turns each flow into a summary event: every distinct flow reaches events.jsonl.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_proc.h"

#define PORT_WAY_BACK 8301
#define FLOOD_PORT    9
#define FLOOD_BURST   400 /* denied sendto()s between two real attempts */
#define REAL_PER_FAM  25

TestSuite(report, .init = rfp_setup, .fini = rfp_teardown, .timeout = 90);

static struct rft_server srv;

static int flood(int n)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(FLOOD_PORT)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), i, denied = 0;

	if (fd < 0)
		return -errno;
	inet_pton(AF_INET, RFT_PEER_IP4, &a.sin_addr);
	for (i = 0; i < n; i++)
		if (sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)) < 0 && errno == EPERM)
			denied++;
	close(fd);
	return denied;
}

/* One TCP connect to the real attempt number i (0..2*REAL_PER_FAM-1): 1 if refused (EPERM). */
static int real_attempt(int i)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	char addr[64];
	int v6 = i >= REAL_PER_FAM, fd, r;

	if (v6) {
		snprintf(addr, sizeof(addr), "2001:db8:ffff::%x", i - REAL_PER_FAM + 1);
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(443);
		inet_pton(AF_INET6, addr, &a6->sin6_addr);
	} else {
		snprintf(addr, sizeof(addr), "203.0.113.%d", i + 1);
		a4->sin_family = AF_INET;
		a4->sin_port = htons(443);
		inet_pton(AF_INET, addr, &a4->sin_addr);
	}
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&ss, v6 ? sizeof(*a6) : sizeof(*a4));
	r = r < 0 && errno == EPERM;
	close(fd);
	return r;
}

/*
 * In the target: cmd 0 pins itself to one CPU (the bucket is per CPU); cmd 1 floods, then makes
 * each real attempt after another burst of the flood, so the bucket stays empty. Returns how
 * many real attempts were refused.
 */
static int flooder(int cmd, void *arg)
{
	cpu_set_t set;
	int i, refused = 0;

	(void)arg;
	if (cmd == 0) {
		CPU_ZERO(&set);
		CPU_SET(sched_getcpu(), &set);
		return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
	}
	flood(FLOOD_BURST * 4);
	for (i = 0; i < 2 * REAL_PER_FAM; i++) {
		flood(FLOOD_BURST);
		refused += real_attempt(i) == 1;
	}
	return refused;
}

/* How many of the real attempts' remote addresses events.jsonl names. */
static int reported(const char *log)
{
	int i, n = 0;

	for (i = 0; log && i < 2 * REAL_PER_FAM; i++) {
		char ip[80];

		if (i < REAL_PER_FAM)
			snprintf(ip, sizeof(ip), "\"ip\":\"203.0.113.%d\"", i + 1);
		else
			snprintf(ip, sizeof(ip), "\"ip\":\"2001:db8:ffff::%x\"",
				 i - REAL_PER_FAM + 1);
		n += strstr(log, ip) != NULL;
	}
	return n;
}

Test(report, a_flood_does_not_hide_other_flows_v4_v6)
{
	static const unsigned short ports[] = {PORT_WAY_BACK};
	char path[PATH_MAX + 32], line[8192], *log = NULL;
	const char *flood_needles[] = {"\"cause\":\"rate_limited\"", "\"ip\":\"" RFT_PEER_IP4 "\"",
				       "\"transport\":\"udp\"", NULL};
	struct rfp_worker w;
	pid_t agent;
	int refused, n = 0;
	long t0;

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port", "8301", "dir",
		   "out", NULL);
	agent = rfp_agent_start();
	cr_assert_gt(agent, 0, "agent did not start: %d", agent);
	rft_cli_ok(0, "isolate", NULL);
	cr_assert_eq(rfp_worker_start(&w, rft.dev_ns, rft.cg, flooder, NULL), 0);
	refused = rfp_worker_call(&w, 1);
	cr_assert_eq(refused, 2 * REAL_PER_FAM, "real attempts refused: %d", refused);
	snprintf(path, sizeof(path), "%s/events.jsonl", rft.state_dir);
	for (t0 = rft_now_ms(); rft_now_ms() - t0 < rft_scaled_ms(5000);) {
		/* the agent drains held-back flows every second */
		free(log);
		log = rfp_read_file(path);
		n = reported(log);
		if (n == 2 * REAL_PER_FAM && rfp_find_line(log, flood_needles, line, sizeof(line)))
			break;
		rft_msleep(100);
	}
	cr_expect_eq(n, 2 * REAL_PER_FAM, "only %d of %d real attempts were reported", n,
		     2 * REAL_PER_FAM);
	cr_expect_not_null(rfp_find_line(log, flood_needles, line, sizeof(line)),
			   "the flood itself has no summary with its count");
	free(log);
	rfp_worker_stop(&w);
	rfp_kill(agent);
	rft_cli_ok(0, "release", NULL);
}
