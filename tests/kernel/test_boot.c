// SPDX-License-Identifier: GPL-2.0-only
/*
 * Boot and clock: a timed isolation restored after a reboot keeps the time it had left, whatever
 * the wall clock says (root can set it forward and reboot); and the agent tells systemd it is
 * ready only once the programs are attached and isolation is restored (Type=notify, ordered
 * before network-pre.target), so the network never comes up ahead of isolation.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_proc.h"

#define PORT_WAY_BACK 8301
#define PORT_OTHER    8302

TestSuite(boot, .init = rfp_setup, .fini = rfp_teardown, .timeout = 90);

static struct rft_server srv;

static void start(void)
{
	static const unsigned short ports[] = {PORT_WAY_BACK, PORT_OTHER};

	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 2), 0);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP4, "proto", "tcp", "port", "8301", "dir",
		   "out", NULL);
	rft_cli_ok(0, "allow", "add", "net", RFT_PEER_IP6, "proto", "tcp", "port", "8301", "dir",
		   "out", NULL);
}

static enum rft_outcome other(int family)
{
	return rft_client(rft.dev_ns, rft.cg, family, RFT_TCP,
			  family == AF_INET ? RFT_PEER_IP4 : RFT_PEER_IP6, PORT_OTHER, 1500)
	    .outcome;
}

/* What a reboot does to ringfence: the pins are gone (links detach), the state dir stays. */
static void reboot(void)
{
	char cmd[PATH_MAX * 2];
	char *argv[] = {"sh", "-c", cmd, NULL};

	snprintf(cmd, sizeof(cmd), "rm -f '%s'/rf_*", rft.pin_dir);
	cr_assert_eq(rft_exec(NULL, argv, NULL, NULL), 0);
	cr_assert_eq(rft_cgroup_wait_detached(rft.cg, 3000), 0, "links still attached");
}

/* Rewrite the deadline in the isolation record as a clock set 2 h forward would make it look. */
static void clock_forward_2h(void)
{
	char path[PATH_MAX + 16], *text, *d, out[8192];
	unsigned long long deadline;
	FILE *f;

	snprintf(path, sizeof(path), "%s/isolation", rft.state_dir);
	text = rfp_read_file(path);
	cr_assert_not_null(text);
	d = strstr(text, "\"deadline\":");
	cr_assert_not_null(d, "%s", text);
	deadline = strtoull(d + 11, NULL, 10);
	cr_assert_gt(deadline, 0ULL, "no deadline recorded: %s", text);
	*d = '\0';
	snprintf(out, sizeof(out), "%s\"deadline\":%llu%s", text,
		 deadline - 7200ULL * 1000000000ULL, d + 11 + strspn(d + 11, "0123456789"));
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(out, f);
	fclose(f);
	free(text);
}

Test(boot, clock_forward_and_reboot_keeps_a_timed_isolation)
{
	const char *needles[] = {"\"type\":\"restore-isolation\"", "\"status\":\"Succeeded\"",
				 NULL};
	pid_t agent;

	start();
	rft_cli_ok(0, "isolate", "--for", "1h", "--comment", "timed", NULL);
	cr_assert_eq(other(AF_INET), RFT_EPERM);
	clock_forward_2h(); /* by the wall clock the hour is over */
	reboot();
	cr_assert_eq(other(AF_INET), RFT_OK, "the simulated reboot left isolation in place");
	agent = rfp_agent_start();
	cr_assert_gt(agent, 0);
	cr_expect_eq(other(AF_INET), RFT_EPERM, "v4: a forward clock ended the isolation early");
	cr_expect_eq(other(AF_INET6), RFT_EPERM, "v6: a forward clock ended the isolation early");
	cr_expect(rfp_history_wait(0, needles), "no restore-isolation in the history");
	rfp_kill(agent);
	rft_cli_ok(0, "release", NULL);
	cr_expect_eq(other(AF_INET), RFT_OK);
}

/* Type=notify: READY=1 comes only when a restored isolation is already in force. */
Test(boot, agent_is_ready_only_once_isolation_is_restored)
{
	char sockpath[400], *argv[16], env[420], buf[64];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pollfd p;
	pid_t agent;
	int fd, n = 0;
	ssize_t len;
	int wait_ms;

	start();
	rft_cli_ok(0, "isolate", "--comment", "before reboot", NULL);
	reboot();
	snprintf(sockpath, sizeof(sockpath), "%s/notify", rft.state_dir);
	cr_assert_lt(strlen(sockpath), sizeof(sa.sun_path), "state dir path too long for a socket");
	memcpy(sa.sun_path, sockpath, strlen(sockpath) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", sockpath);
	argv[n++] = "/usr/bin/env";
	argv[n++] = env;
	argv[n++] = getenv("RINGFENCE_BIN");
	argv[n++] = "--cgroup";
	argv[n++] = rft.cg;
	argv[n++] = "--pin-dir";
	argv[n++] = rft.pin_dir;
	argv[n++] = "--state-dir";
	argv[n++] = rft.state_dir;
	argv[n++] = "--config";
	argv[n++] = rft.config;
	argv[n++] = "agent";
	argv[n] = NULL;
	agent = rfp_spawn(rft.dev_ns, NULL, argv, NULL, NULL);
	cr_assert_gt(agent, 0);
	p.fd = fd;
	p.events = POLLIN;
	/* a load under emulation takes many seconds; the suite's 90 s bound the wait */
	wait_ms = rft_scaled_ms(10000) < 60000 ? rft_scaled_ms(10000) : 60000;
	cr_assert_eq(poll(&p, 1, wait_ms), 1, "no READY=1 from the agent within %d ms", wait_ms);
	len = recv(fd, buf, sizeof(buf) - 1, 0);
	cr_assert_gt(len, 0);
	buf[len] = '\0';
	cr_expect(strstr(buf, "READY=1") != NULL, "%s", buf);
	/* at READY the isolation must already hold: no polling, no grace */
	cr_expect_eq(rft_status_isolated(), 1, "READY before isolation was restored");
	cr_expect_eq(other(AF_INET), RFT_EPERM, "v4 open at READY");
	cr_expect_eq(other(AF_INET6), RFT_EPERM, "v6 open at READY");
	close(fd);
	rfp_kill(agent);
	rft_cli_ok(0, "release", NULL);
}
