// SPDX-License-Identifier: GPL-2.0-only
/* The console with the real ringfence agent (ringfence agent with mqtt-broker) on a throw-away
 * target: the agent runs in the test's cgroup and device namespace, mosquitto, the console, curl
 * and Chromium in the peer namespace. Isolate and release through the API and through the page,
 * each time proved in the kernel: a connect from the target to the peer gets EPERM while
 * isolated (the peer receives nothing), and passes after the release. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "ctest.h"
#include "rf_proc.h"
#include "rf_test.h"

#define PORT_PEER 8002 /* a peer server that isolation cuts off */

static struct rft_server srv;
static char device[64];

static int agent_connected(void)
{
	char path[PATH_MAX + 16], *log, *p;
	int fd, n = 0;

	snprintf(path, sizeof(path), "%s/agent.log", rft.state_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	log = rft_slurp_fd(fd);
	close(fd);
	for (p = log; p && (p = strstr(p, "mqtt: connected")); p++)
		n++;
	free(log);
	return n;
}

/* `ringfence agent` in the test cgroup and the device namespace (so its own broker connection
 * is judged like everything else there), with the mqtt-* settings of rft.config. */
static void agent_start(void)
{
	static char home[PATH_MAX + 32], script[PATH_MAX + 64];
	char log[PATH_MAX + 16];
	char *argv[] = {
	    "/bin/sh",	   "-c",       script,	    "sh",	 getenv("RINGFENCE_BIN"),
	    "--cgroup",	   rft.cg,     "--pin-dir", rft.pin_dir, "--state-dir",
	    rft.state_dir, "--config", rft.config,  "agent",	 NULL};
	char *env[] = {"RINGFENCE_CGROUP=",
		       "RINGFENCE_PIN_DIR=",
		       "RINGFENCE_STATE_DIR=",
		       "RINGFENCE_CONFIG=",
		       "RINGFENCE_PACKET_GUARD=off",
		       home,
		       NULL};
	int fd, i;
	pid_t pid;

	snprintf(home, sizeof(home), "RINGFENCE_HOME_CGROUP=%s", rft.cg);
	snprintf(script, sizeof(script), "echo $$ >%s/cgroup.procs && exec \"$@\"", rft.cg);
	snprintf(log, sizeof(log), "%s/agent.log", rft.state_dir);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	pid = rft_exec_start(rft.dev_ns, argv, env, fd, fd);
	close(fd);
	cr_assert_gt(pid, 0);
	rft_track_child(pid);
	for (i = 0; i < rft_scaled_ms(10000) / 50 && !agent_connected(); i++)
		rft_msleep(50);
	cr_assert(agent_connected(), "the agent did not connect to the broker (see %s)", log);
}

/* A ringfence without the MQTT agent (a build without it, or a tree before remote control)
 * has nothing to drive: skipped with the reason, as the remote tests do. */
static void require_mqtt_agent(void)
{
	char *out = NULL, *argv[] = {getenv("RINGFENCE_BIN"), "--version", NULL};
	bool mqtt;

	if (!argv[0])
		rft_unavailable("RINGFENCE_BIN is not set (use make console-test)");
	mqtt = rft_exec(NULL, argv, &out, NULL) == 0 && out && strstr(out, "mqtt yes");
	free(out);
	if (!mqtt)
		cr_skip_test("this ringfence has no MQTT agent ('ringfence --version' lacks 'mqtt "
			     "yes'): nothing to drive from the console");
}

static void setup(void)
{
	static const unsigned short ports[] = {PORT_PEER};
	char path[128];
	FILE *f;
	int i;

	require_mqtt_agent();
	rft_setup();
	ctest_require();
	rft_require_tool("mosquitto");
	ct.netns = rft.peer_ns;
	snprintf(device, sizeof(device), "dev-%d", (int)getpid());
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	ctest_broker_start();
	ctest_console_start(NULL);
	f = fopen(rft.config, "a");
	cr_assert_not_null(f);
	fprintf(f,
		"mqtt-broker mqtt://" RFT_PEER_IP4 ":%d\nmqtt-device-id %s\n"
		"mqtt-topic-prefix " CT_PREFIX "\n",
		ct.broker_port, device);
	fclose(f);
	agent_start();
	snprintf(path, sizeof(path), "/api/machines/%s", device);
	for (i = 0; i < 50 && ctest_http("GET", path, CT_READY, NULL, NULL) != 200; i++)
		rft_msleep(100);
	cr_assert_lt(i, 50, "the console never listed the agent's device");
}

static void teardown(void)
{
	ctest_stop();
	rft_teardown();
}

TestSuite(agent, .init = setup, .fini = teardown, .timeout = 120);

/* TCP over IPv4 and IPv6 from the target to the peer: EPERM and nothing received, or through. */
static void expect_isolated(bool isolated, const char *what)
{
	for (int i = 0; i < RFP_NFLOWS; i++)
		if (rfp_flows[i].proto == RFT_TCP)
			rfp_expect_flow(&srv, &rfp_flows[i], rft.cg, PORT_PEER, isolated, what);
}

static void api_action(const char *verb, const char *comment)
{
	char path[200], body[200], *id, *st;
	json_t *a;

	snprintf(path, sizeof(path), "/api/machines/%s/%s", device, verb);
	snprintf(body, sizeof(body), "{\"Comment\": \"%s\"}", comment);
	a = ctest_json("POST", path, CT_TOKEN, body, 201);
	id = strdup(json_string_value(json_object_get(a, "id")));
	json_decref(a);
	st = ctest_wait_action(id, rft_scaled_ms(20000));
	cr_assert_str_eq(st, "Succeeded", "%s by the agent: %s", verb, st);
	free(st);
	free(id);
}

Test(agent, isolate_and_release_through_the_api_hold_in_the_kernel)
{
	char *out = NULL;

	expect_isolated(false, "before");
	api_action("isolate", "INC-4711 via the console");
	cr_assert_eq(ctest_wait_isolated(device, true, 5000), 0,
		     "the status document says isolated");
	expect_isolated(true, "isolated through the console");
	/* the device's own history names the responder and the comment */
	cr_assert_eq(rft_cli(&out, NULL, "history", "--json", NULL), 0);
	cr_assert(strstr(out, "alice") && strstr(out, "INC-4711 via the console"), "%s", out);
	free(out);
	/* released through the console while isolated: its broker connection stayed open */
	api_action("unisolate", "INC-4711 closed");
	cr_assert_eq(ctest_wait_isolated(device, false, 5000), 0);
	expect_isolated(false, "released through the console");
}

Test(agent, isolate_and_release_from_the_page_hold_in_the_kernel)
{
	ctest_browser(device, "isolate", "agent");
	cr_assert_eq(ctest_wait_isolated(device, true, 5000), 0);
	expect_isolated(true, "isolated from the page");
	ctest_browser(device, "release", "agent");
	expect_isolated(false, "released from the page");
}

/* make bench: POST .../isolate -> the first connect from the target that gets EPERM, in ms
 * (appended to $RINGFENCE_BENCH_OUT when set). */
Test(agent, api_isolate_to_first_denied_connect)
{
	char path[200], *out = NULL;
	const char *file = getenv("RINGFENCE_BENCH_OUT");
	struct rft_result r;
	long t0, ms;
	FILE *f;

	snprintf(path, sizeof(path), "/api/machines/%s/isolate", device);
	t0 = rft_now_ms();
	cr_assert_eq(ctest_http("POST", path, CT_TOKEN, "{\"Comment\": \"bench\"}", &out), 201,
		     "%s", out ? out : "");
	free(out);
	do {
		r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_PEER, 200);
	} while (r.outcome != RFT_EPERM && rft_now_ms() - t0 < rft_scaled_ms(20000));
	ms = rft_now_ms() - t0;
	cr_assert_eq(r.outcome, RFT_EPERM, "no EPERM within 20 s");
	fprintf(stderr, "API isolate -> first denied connect: %ld ms\n", ms);
	if (file && (f = fopen(file, "a"))) {
		fprintf(f, "%ld\n", ms);
		fclose(f);
	}
}
