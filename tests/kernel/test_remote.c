// SPDX-License-Identifier: GPL-2.0-only
/*
 * Remote control over MQTT with a real mosquitto in the peer namespace, configured verbatim from
 * docs/REMOTE.md (TLS, client certificates made here with openssl, per-device ACLs): the agent
 * runs inside the isolated cgroup, so its broker connection is judged like everything else.
 * Isolate and release through MQTT with the kernel proving it both ways, the broker connection
 * surviving isolation (release over MQTT while isolated), queued actions for a stopped agent,
 * notAfter, duplicate ids (also across a restart), refused documents that change nothing, and
 * the broker refusing a client without a certificate.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_proc.h"
#include "rft_json.h"

#define BROKER_PORT "8883"
#define PORT_OTHER  8002 /* a peer server that isolation cuts off */
#define WAIT_MS	    rft_scaled_ms(20000)

TestSuite(remote, .init = rfp_setup, .fini = rfp_teardown, .timeout = 120);

__asm__(".pushsection .rodata\n"
	".global rft_remote_md\n"
	"rft_remote_md:\n"
	".incbin \"docs/REMOTE.md\"\n"
	".byte 0\n"
	".popsection\n");
extern const char rft_remote_md[];

static struct rft_server srv;
static char dir[1024], device[64], broker_url[64];
static pid_t broker;

/* The block of docs/REMOTE.md that opens with fence (```conf, ```acl); caller frees. */
static char *doc_block(const char *fence)
{
	const char *b = strstr(rft_remote_md, fence), *e;

	cr_assert_not_null(b, "docs/REMOTE.md has no %s block", fence);
	b = strchr(b, '\n') + 1;
	e = strstr(b, "```");
	cr_assert_not_null(e);
	return strndup(b, (size_t)(e - b));
}

/* Replace every "from" in *s by "to" (never inside what was put in). */
static void replace(char **s, const char *from, const char *to)
{
	size_t at = 0, n;
	char *p, *out;

	while ((p = strstr(*s + at, from))) {
		out = malloc(strlen(*s) + strlen(to) + 1);
		cr_assert_not_null(out);
		n = (size_t)(p - *s);
		memcpy(out, *s, n);
		strcpy(out + n, to);
		strcat(out, p + strlen(from));
		free(*s);
		*s = out;
		at = n + strlen(to);
	}
}

static void write_file(const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void sh(const char *netns, const char *script)
{
	char *argv[] = {"/bin/sh", "-ec", (char *)script, NULL}, *err = NULL;
	int ret = rft_exec(netns, argv, NULL, &err);

	cr_assert_eq(ret, 0, "script failed (%d): %s\n%s", ret, script, err ? err : "");
	free(err);
}

/* CA, broker (SAN 192.0.2.2), the device, a responder and another device; as in REMOTE.md. */
static void make_certs(void)
{
	char script[8192];

	snprintf(
	    script, sizeof(script),
	    "cd %s\n"
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
	    "-keyout ca.key -out ca.crt -subj /CN=rf-test-ca 2>/dev/null\n"
	    "mk() {\n"
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $1.key "
	    "-out $1.csr -subj /CN=$1 2>/dev/null\n"
	    "printf '%%s\\n' \"${2:-basicConstraints=CA:FALSE}\" >$1.ext\n"
	    "openssl x509 -req -in $1.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
	    "-out $1.crt -extfile $1.ext 2>/dev/null\n"
	    "}\n"
	    "mk broker subjectAltName=IP:" RFT_PEER_IP4 "\n"
	    "mk responder\nmk %s\nmk other\nchmod 600 ./*.key\n",
	    dir, device);
	sh(NULL, script);
}

/* How often needle occurs in the file at path (0 when it cannot be read). */
static int count_lines(const char *path, const char *needle)
{
	char *data, *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC), n = 0;

	if (fd < 0)
		return 0;
	data = rft_slurp_fd(fd);
	close(fd);
	for (p = data; p && (p = strstr(p, needle)); p++)
		n++;
	free(data);
	return n;
}

/* The agent's and the broker's logs on stderr, to explain a failure. */
static void dump_logs(void)
{
	char path[2][PATH_MAX + 64];
	int i, fd;

	snprintf(path[0], sizeof(path[0]), "%s/agent.log", rft.state_dir);
	snprintf(path[1], sizeof(path[1]), "%s/mosquitto.log", dir);
	for (i = 0; i < 2; i++) {
		char *text;

		fd = open(path[i], O_RDONLY | O_CLOEXEC);
		text = fd >= 0 ? rft_slurp_fd(fd) : NULL;
		fprintf(stderr, "--- %s:\n%s\n", path[i], text ? text : "(none)");
		free(text);
		if (fd >= 0)
			close(fd);
	}
}

/* mosquitto in the peer namespace with the configuration of docs/REMOTE.md. */
static void start_broker(void)
{
	char *conf = doc_block("```conf\n"), *acl = doc_block("```acl\n"), path[PATH_MAX + 64],
	     log[PATH_MAX + 64], sub[PATH_MAX + 8];
	char *argv[] = {"mosquitto", "-c", path, NULL};
	int fd, i, before;
	pid_t pid;

	snprintf(sub, sizeof(sub), "%s/", dir);
	replace(&conf, "/etc/mosquitto/ringfence/", sub);
	snprintf(sub, sizeof(sub), "%s/db/", dir);
	replace(&conf, "/var/lib/mosquitto/", sub);
	replace(&conf, "listener 8883", "listener " BROKER_PORT " " RFT_PEER_IP4);
	write_file("mosquitto.conf", conf);
	write_file("acl", acl);
	free(conf);
	free(acl);
	/* root keeps the key files it made (the package runs mosquitto as its own user) */
	snprintf(path, sizeof(path), "%s/mosquitto.conf", dir);
	fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_gt(write(fd, "user root\n", 10), 0);
	close(fd);
	snprintf(log, sizeof(log), "mkdir -p %s/db", dir);
	sh(NULL, log);
	snprintf(log, sizeof(log), "%s/mosquitto.log", dir);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	before = count_lines(log, " running");
	pid = rft_exec_start(rft.peer_ns, argv, NULL, fd, fd);
	close(fd);
	cr_assert_gt(pid, 0, "cannot start mosquitto: %d", pid);
	rft_track_child(pid);
	broker = pid;
	for (i = 0; i < 100; i++) {
		bool up = count_lines(log, " running") > before;

		if (up)
			return;
		rft_msleep(50);
	}
	dump_logs();
	cr_assert_fail("mosquitto did not start (see %s)", log);
}

/* Per test: peer server, certificates, broker, the device's mqtt-* settings. */
static void start(void)
{
	static const unsigned short ports[] = {PORT_OTHER};
	char conf[4 * PATH_MAX];
	FILE *f;

	if (!RF_MQTT) /* a build without MQTT (static, cross) has no remote control to test */
		cr_skip_test("ringfence was built without MQTT (RF_MQTT=0)");
	rft_require_tool("mosquitto");
	rft_require_tool("mosquitto_pub");
	rft_require_tool("mosquitto_sub");
	rft_require_tool("openssl");
	snprintf(dir, sizeof(dir), "%s/mq", rft.state_dir);
	cr_assert_eq(mkdir(dir, 0700), 0);
	snprintf(device, sizeof(device), "dev-%d", (int)getpid());
	snprintf(broker_url, sizeof(broker_url), "mqtts://" RFT_PEER_IP4 ":" BROKER_PORT);
	cr_assert_eq(rft_server_start(&srv, rft.peer_ns, NULL, ports, 1), 0);
	make_certs();
	start_broker();
	snprintf(conf, sizeof(conf),
		 "mqtt-broker %s\nmqtt-ca %s/ca.crt\nmqtt-cert %s/%s.crt\nmqtt-key %s/%s.key\n"
		 "mqtt-device-id %s\n",
		 broker_url, dir, dir, device, dir, device, device);
	f = fopen(rft.config, "a");
	cr_assert_not_null(f);
	fputs(conf, f);
	fclose(f);
}

static int count_in_file(const char *name, const char *needle)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", rft.state_dir, name);
	return count_lines(path, needle);
}

/* The agent inside the isolated cgroup (its broker connection is judged like any other), in
 * the device namespace; returns once it is connected to the broker. */
static pid_t agent_start(void)
{
	static char home[PATH_MAX + 32], resolv[PATH_MAX + 32], leases[PATH_MAX + 32];
	char script[PATH_MAX + 64], log[PATH_MAX + 64];
	char *argv[] = {
	    "/bin/sh",	   "-c",       script,	    "sh",	 getenv("RINGFENCE_BIN"),
	    "--cgroup",	   rft.cg,     "--pin-dir", rft.pin_dir, "--state-dir",
	    rft.state_dir, "--config", rft.config,  "agent",	 NULL};
	char *env[] = {"RINGFENCE_CGROUP=",
		       "RINGFENCE_PIN_DIR=",
		       "RINGFENCE_STATE_DIR=",
		       "RINGFENCE_CONFIG=",
		       "RINGFENCE_REQUESTOR",
		       "RINGFENCE_PACKET_GUARD=off",
		       home,
		       resolv,
		       leases,
		       NULL};
	int before = count_in_file("agent.log", "mqtt: connected"), fd, i;
	pid_t pid;

	snprintf(home, sizeof(home), "RINGFENCE_HOME_CGROUP=%s", rft.cg);
	snprintf(resolv, sizeof(resolv), "RINGFENCE_RESOLV_CONF=%s/resolv.conf", rft.state_dir);
	snprintf(leases, sizeof(leases), "RINGFENCE_DHCP_LEASES=%s/dhcp-leases", rft.state_dir);
	snprintf(script, sizeof(script), "echo $$ >%s/cgroup.procs && exec \"$@\"", rft.cg);
	snprintf(log, sizeof(log), "%s/agent.log", rft.state_dir);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	pid = rft_exec_start(rft.dev_ns, argv, env, fd, fd);
	close(fd);
	cr_assert_gt(pid, 0);
	rft_track_child(pid);
	for (i = 0; i < rft_scaled_ms(10000) / 50; i++) {
		if (count_in_file("agent.log", "mqtt: connected") > before)
			return pid;
		rft_msleep(50);
	}
	dump_logs();
	cr_assert_fail("the agent did not connect to the broker (see %s)", log);
	return -1;
}

/* Stop the agent as systemd would (SIGTERM), and wait for it. */
static void agent_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	cr_assert_geq(rfp_wait(pid, 10000), 0, "the agent did not stop on SIGTERM");
}

/* --wait for a final status: 30 s, longer under emulation */
static const char *wait_opt(void)
{
	static char opt[32];

	snprintf(opt, sizeof(opt), "--wait=%ds", rft_scaled_ms(30000) / 1000);
	return opt;
}

/* The responder's --ca, --cert and --key options. */
static const char *ca_opt(void)
{
	static char o[PATH_MAX + 16];

	snprintf(o, sizeof(o), "--ca=%s/ca.crt", dir);
	return o;
}

static const char *cert_opt(void)
{
	static char o[PATH_MAX + 32];

	snprintf(o, sizeof(o), "--cert=%s/responder.crt", dir);
	return o;
}

static const char *key_opt(void)
{
	static char o[PATH_MAX + 32];

	snprintf(o, sizeof(o), "--key=%s/responder.key", dir);
	return o;
}

/* ringfence remote ... (the responder, outside the isolated cgroup) with the responder's
 * certificate; its stdout into *out if not NULL. Returns the exit status. */
/* The JSON lines of out (strict) carry "status" values holding want (NULL-terminated) in order. */
static void expect_statuses(const char *out, const char *const want[])
{
	json_t *lines = rft_json_lines(out ? out : ""), *l;
	size_t i, k = 0;

	json_array_foreach(
	    lines, i, l) if (want[k] && !strcmp(rft_json_str_at(l, "status") ?: "", want[k])) k++;
	cr_expect_null(want[k], "status %s not seen in order: %s", want[k], out);
	json_decref(lines);
}

static int remote(char **out, const char *verb, const char *a1, const char *a2, const char *a3,
		  const char *a4)
{
	char *err = NULL;
	int ret;

	ret = rfp_cli_env((char *[]){"RINGFENCE_REQUESTOR=alice@soc", NULL}, out, &err, "remote",
			  verb, device, "--broker", broker_url, ca_opt(), cert_opt(), key_opt(), a1,
			  a2, a3, a4, NULL);
	if (ret && err)
		fprintf(stderr, "remote %s: %s", verb, err);
	free(err);
	return ret;
}

/* mosquitto_pub/_sub in the peer namespace as `who` (a certificate name, or NULL: none). */
static int mq(const char *tool, const char *who, char **out, const char *const extra[])
{
	char ca[PATH_MAX + 16], cert[PATH_MAX + 32], key[PATH_MAX + 32];
	char *argv[32] = {(char *)tool, "-h", RFT_PEER_IP4, "-p", BROKER_PORT, "--cafile", ca};
	int n = 7, i;

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(cert, sizeof(cert), "%s/%s.crt", dir, who ? who : "");
	snprintf(key, sizeof(key), "%s/%s.key", dir, who ? who : "");
	if (who) {
		argv[n++] = "--cert";
		argv[n++] = cert;
		argv[n++] = "--key";
		argv[n++] = key;
	}
	for (i = 0; extra[i] && n < 31; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	return rft_exec(rft.peer_ns, argv, out, NULL);
}

static void publish_file(const char *file)
{
	char topic[128], path[PATH_MAX + 64];

	snprintf(topic, sizeof(topic), "ringfence/%s/actions", device);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	cr_assert_eq(mq("mosquitto_pub", "responder", NULL,
			(const char *const[]){"-q", "1", "-t", topic, "-f", path, NULL}),
		     0, "mosquitto_pub failed");
}

static void publish_doc(const char *doc)
{
	write_file("doc.json", doc);
	publish_file("doc.json");
}

/* The retained status document of action id once it contains want (or NULL at timeout). */
static char *action_status(const char *id, const char *want, int timeout_ms)
{
	char topic[256], *out;
	long deadline = rft_now_ms() + timeout_ms;

	snprintf(topic, sizeof(topic), "ringfence/%s/actions/%s", device, id);
	for (;;) {
		out = NULL;
		mq("mosquitto_sub", "responder", &out,
		   (const char *const[]){"-t", topic, "-C", "1", "-W", "2", "--retained-only",
					 NULL});
		if (out && strstr(out, want))
			return out;
		free(out);
		if (rft_now_ms() >= deadline)
			return NULL;
		rft_msleep(200);
	}
}

/* <state>/remote-actions, the ids already run (kept across restarts), read strictly: a state
 * document of its own format that holds id with status. */
static void expect_remembered(const char *id, const char *status)
{
	char path[PATH_MAX], *text;
	json_t *doc, *a;

	snprintf(path, sizeof(path), "%s/remote-actions", rft.state_dir);
	text = rfp_read_file(path);
	cr_assert_not_null(text, "%s: %s", path, strerror(errno));
	doc = rft_json_load(text);
	cr_expect_str_eq(rft_json_str_at(doc, "format") ?: "", "ringfence-remote-actions", "%s",
			 text);
	a = rft_json_find(rft_json_at(doc, "actions"), "id", id);
	cr_expect(a && !strcmp(rft_json_str_at(a, "status") ?: "", status), "%s not %s: %s", id,
		  status, text);
	json_decref(doc);
	free(text);
}

static void write_legacy_remembered(const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/remote-actions", rft.state_dir);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void expect_action(const char *id, const char *status)
{
	char want[64], *doc;

	snprintf(want, sizeof(want), "\"status\":\"%s\"", status);
	doc = action_status(id, want, WAIT_MS);
	cr_expect_not_null(doc, "action %s never reached %s", id, status);
	free(doc);
}

/* The kernel's verdict for the target's processes: v4 and v6 to PORT_OTHER on the peer. */
static void expect_cut(bool cut, const char *phase)
{
	static const int fams[] = {AF_INET, AF_INET6};
	static const char *const addrs[] = {RFT_PEER_IP4, RFT_PEER_IP6};
	int i;

	for (i = 0; i < 2; i++) {
		struct rft_result r =
		    rft_client(rft.dev_ns, rft.cg, fams[i], RFT_TCP, addrs[i], PORT_OTHER, 1500);

		cr_expect_eq(r.outcome, cut ? RFT_EPERM : RFT_OK, "%s: %s connect: %s", phase,
			     addrs[i], rft_outcome_name(r.outcome));
	}
}

static int history_count(const char *needle)
{
	char *out = rfp_cli_out("history", "--json", NULL), *p;
	int n = 0;

	for (p = out; (p = strstr(p, needle)); p++)
		n++;
	free(out);
	return n;
}

/* 'ringfence remote status' run inside the isolated cgroup: the same executable as the agent,
 * another process: its connect to the broker is refused. */
static void expect_same_exe_refused(void)
{
	char script[PATH_MAX + 64], *err = NULL;
	char *argv[] = {"/bin/sh",   "-c",	 script,   "sh",     getenv("RINGFENCE_BIN"),
			"--config",  rft.config, "remote", "status", device,
			"--wait=3s", NULL};
	int ret;

	snprintf(script, sizeof(script), "echo $$ >%s/cgroup.procs && exec \"$@\"", rft.cg);
	ret = rft_exec(rft.dev_ns, argv, NULL, &err);
	cr_expect_eq(ret, 1, "remote from inside the isolated cgroup exited %d: %s", ret, err);
	cr_expect(err && strstr(err, "not permitted"), "not refused by the kernel: %s", err);
	free(err);
}

/* While isolated, a denied connect reaches PREFIX/DEVICE/events. */
static void expect_denied_event(void)
{
	char topic[128], path[PATH_MAX + 64], *text = NULL;
	char *argv[] = {"mosquitto_sub",
			"-h",
			RFT_PEER_IP4,
			"-p",
			BROKER_PORT,
			"--cafile",
			NULL,
			"--cert",
			NULL,
			"--key",
			NULL,
			"-t",
			topic,
			"-C",
			"1",
			"-W",
			"10",
			NULL};
	char ca[PATH_MAX + 16], cert[PATH_MAX + 32], key[PATH_MAX + 32];
	int fd, i;
	pid_t pid;

	snprintf(topic, sizeof(topic), "ringfence/%s/events", device);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(cert, sizeof(cert), "%s/responder.crt", dir);
	snprintf(key, sizeof(key), "%s/responder.key", dir);
	argv[6] = ca;
	argv[8] = cert;
	argv[10] = key;
	snprintf(path, sizeof(path), "%s/events.out", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	pid = rft_exec_start(rft.peer_ns, argv, NULL, fd, -1);
	cr_assert_gt(pid, 0);
	rft_track_child(pid);
	for (i = 0; i < 20 && !text; i++) { /* until the subscription is in place */
		rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER, 500);
		rft_msleep(250);
		text = rft_slurp_fd(fd);
		if (text && !strstr(text, RFT_PEER_IP4)) {
			free(text);
			text = NULL;
		}
	}
	rfp_kill(pid);
	close(fd);
	cr_expect_not_null(text, "no event for a denied connect on %s", topic);
	free(text);
}

/* AllowAdd and AllowDel over MQTT, proved in the kernel: v4 to PORT_OTHER only while the rule
 * stands, v6 never. */
static void allow_over_mqtt(void)
{
	struct rft_result r;

	publish_doc("{\"id\":\"allow-1\",\"type\":\"AllowAdd\",\"rule\":\"net " RFT_PEER_IP4
		    "/32 proto tcp port 8002 dir out\"}");
	expect_action("allow-1", "Succeeded");
	r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, PORT_OTHER, 1500);
	cr_expect_eq(r.outcome, RFT_OK, "AllowAdd over mqtt: %s", rft_outcome_name(r.outcome));
	r = rft_client(rft.dev_ns, rft.cg, AF_INET6, RFT_TCP, RFT_PEER_IP6, PORT_OTHER, 1500);
	cr_expect_eq(r.outcome, RFT_EPERM, "AllowAdd v4 let v6 through: %s",
		     rft_outcome_name(r.outcome));
	publish_doc("{\"id\":\"allow-2\",\"type\":\"AllowDel\",\"rule\":\"net " RFT_PEER_IP4
		    "/32 proto tcp port 8002 dir out\"}");
	expect_action("allow-2", "Succeeded");
	expect_cut(true, "AllowDel over mqtt");
}

Test(remote, isolate_and_release_over_mqtt_while_the_broker_stays_reachable)
{
	char *out = NULL;
	struct rft_result r;
	pid_t agent;
	json_t *j;

	start();
	agent = agent_start();
	expect_cut(false, "before");
	cr_assert_eq(remote(&out, "isolate", "--comment=INC-1 over mqtt", wait_opt(), "--json",
			    "--id=iso-1"),
		     0, "remote isolate --wait did not exit 0 after Succeeded: %s", out);
	/* every status the device published, in order, each a strict JSON line */
	expect_statuses(out, (const char *const[]){"Pending", "InProgress", "Succeeded", NULL});
	free(out);
	expect_cut(true, "isolated over mqtt");
	/* the allowance is the agent's own: another process of the target reaches no broker, nor
	 * does another process of the agent's own executable */
	r = rft_client(rft.dev_ns, rft.cg, AF_INET, RFT_TCP, RFT_PEER_IP4, 8883, 1500);
	cr_expect_eq(r.outcome, RFT_EPERM, "another process reached the broker: %s",
		     rft_outcome_name(r.outcome));
	expect_same_exe_refused();
	cr_expect_eq(history_count("alice@soc via mqtt (identity CN=responder)"), 1,
		     "isolate not recorded with its requestor and identity");
	cr_expect_eq(history_count("INC-1 over mqtt"), 1, "comment not recorded");
	expect_denied_event();
	allow_over_mqtt();
	out = NULL;
	cr_expect_eq(remote(&out, "status", NULL, NULL, NULL, NULL), 0);
	j = rft_json_load(out);
	cr_expect(rft_json_bool_at(j, "isolated") == 1 && rft_json_bool_at(j, "online") == 1,
		  "status document: %s", out);
	json_decref(j);
	free(out);

	/* released over the connection that isolation kept open */
	cr_assert_eq(remote(NULL, "release", "--comment=INC-1 done", wait_opt(), NULL, NULL), 0,
		     "release over mqtt while isolated failed");
	expect_cut(false, "released over mqtt");
	agent_stop(agent);
}

/* remote devices lists this device in state (from its retained status document) */
static void expect_listed(const char *state)
{
	char *out = NULL, line[256];
	int i;

	snprintf(line, sizeof(line), "%s ", device);
	for (i = 0; i < 20; i++) { /* the status is published right after connecting */
		free(out);
		out = NULL;
		cr_assert_eq(rfp_cli_env(NULL, &out, NULL, "remote", "devices", "--broker",
					 broker_url, ca_opt(), cert_opt(), key_opt(), NULL),
			     0, "remote devices failed");
		if (strstr(out, line) && strstr(strstr(out, line), state))
			break;
		rft_msleep(250);
	}
	cr_expect(out && strstr(out, line) && strstr(strstr(out, line), state),
		  "remote devices does not list %s as %s: %s", device, state, out);
	free(out);
}

Test(remote, queued_timed_out_and_duplicate_actions)
{
	char doc[512], *out = NULL;
	pid_t agent;

	start();
	agent = agent_start(); /* the persistent session exists from here on */
	expect_listed("online");
	agent_stop(agent);
	expect_listed("offline");
	/* the agent is down: the action waits in the broker for it */
	cr_expect_eq(remote(&out, "isolate", "--wait=2s", "--id=queued-1", NULL, NULL), 1,
		     "remote isolate to a stopped agent did not exit 1");
	free(out);
	snprintf(
	    doc, sizeof(doc),
	    "{\"id\":\"late-1\",\"type\":\"Unisolate\",\"notAfter\":\"2020-01-01T00:00:00Z\"}");
	publish_doc(doc);
	expect_cut(false, "queued, agent stopped");
	agent = agent_start();
	expect_action("queued-1", "Succeeded");
	expect_action("late-1", "TimeOut");
	expect_cut(true, "queued action carried out");

	/* the same id again: answered, not run (the Unisolate would release) */
	publish_doc("{\"id\":\"queued-1\",\"type\":\"Unisolate\"}");
	rft_msleep(1000);
	expect_cut(true, "duplicate id");
	/* and across a restart */
	agent_stop(agent);
	agent = agent_start();
	publish_doc("{\"id\":\"queued-1\",\"type\":\"Unisolate\"}");
	rft_msleep(1500);
	expect_cut(true, "duplicate id after a restart");
	expect_remembered("queued-1", "Succeeded");
	expect_remembered("late-1", "TimeOut");
	/* the previous release's file (tab-separated lines) is still read */
	agent_stop(agent);
	write_legacy_remembered("queued-1\tSucceeded\t\nlate-1\tTimeOut\tnotAfter\n");
	agent = agent_start();
	publish_doc("{\"id\":\"queued-1\",\"type\":\"Unisolate\"}");
	rft_msleep(1500);
	expect_cut(true, "duplicate id kept in a file of the previous release");
	cr_expect_eq(history_count("\"type\":\"isolate\""), 1, "isolate ran more than once");
	cr_expect_eq(history_count("\"type\":\"release\""), 0, "a duplicate or late action ran");
	agent_stop(agent);
}

Test(remote, refused_documents_fail_and_change_nothing)
{
	char *big, *invalid;
	pid_t agent;
	json_t *j;
	int before;

	start();
	agent = agent_start();
	before = history_count("\"id\"");
	publish_doc("{\"id\":\"bad-1\",\"type\":\"Isolate\""); /* cut short: no readable id */
	invalid = action_status("_invalid", "not a JSON document", WAIT_MS);
	cr_expect_not_null(invalid, "no Failed status for a malformed document");
	free(invalid);
	publish_doc("{\"id\":\"bad-2\",\"type\":\"Shutdown\"}");
	publish_doc("{\"id\":\"bad-3\",\"type\":\"Isolate\",\"for\":\"soon\"}");
	publish_doc("{\"id\":\"bad-4\",\"type\":\"AllowAdd\",\"rule\":\"net 999.1.1.1\"}");
	big = malloc(70 * 1024);
	cr_assert_not_null(big);
	memset(big, ' ', 70 * 1024 - 1);
	memcpy(big, "{\"id\":\"bad-5\",\"type\":\"Isolate\"}", 31);
	big[70 * 1024 - 1] = '\0';
	publish_doc(big);
	free(big);
	invalid = action_status("_invalid", "the limit is 65536", WAIT_MS);
	cr_assert_not_null(invalid, "no status for 70 KiB");
	j = rft_json_load(invalid);
	cr_expect_str_eq(rft_json_str_at(j, "status") ?: "", "Failed",
			 "no Failed status for 70 KiB: %s", invalid);
	json_decref(j);
	free(invalid);
	expect_action("bad-2", "Failed");
	expect_action("bad-3", "Failed");
	expect_action("bad-4", "Failed");
	expect_cut(false, "after refused documents");
	cr_expect_eq(history_count("\"id\""), before, "a refused document changed the history");

	/* the other types: Audit blocks nothing; Isolate with confirmWithin, then Confirm */
	publish_doc("{\"id\":\"audit-1\",\"type\":\"Audit\"}");
	expect_action("audit-1", "Succeeded");
	expect_cut(false, "audit over mqtt");
	cr_expect_eq(history_count("\"type\":\"audit\""), 1, "no audit in the history");
	publish_doc("{\"id\":\"iso-2\",\"type\":\"Isolate\",\"confirmWithin\":\"10m\"}");
	expect_action("iso-2", "Succeeded");
	expect_cut(true, "isolated, confirmation pending");
	publish_doc("{\"id\":\"confirm-1\",\"type\":\"Confirm\"}");
	expect_action("confirm-1", "Succeeded");
	cr_expect_eq(history_count("\"type\":\"confirm\""), 1, "no confirm in the history");
	publish_doc("{\"id\":\"rel-2\",\"type\":\"Unisolate\"}");
	expect_action("rel-2", "Succeeded");
	expect_cut(false, "released");
	agent_stop(agent);
}

Test(remote, the_broker_refuses_clients_without_a_certificate)
{
	char topic[128], *out = NULL;
	pid_t agent;
	json_t *j;
	int ret;

	start();
	agent = agent_start();
	snprintf(topic, sizeof(topic), "ringfence/%s/status", device);
	/* with the responder's certificate the retained status is there ... */
	ret = mq("mosquitto_sub", "responder", &out,
		 (const char *const[]){"-t", topic, "-C", "1", "-W", "5", NULL});
	cr_expect_eq(ret, 0, "responder: %d %s", ret, out);
	j = rft_json_load(out);
	cr_expect_eq(rft_json_bool_at(j, "online"), 1, "responder: %s", out);
	json_decref(j);
	free(out);
	/* ... without one the TLS handshake fails */
	out = NULL;
	ret = mq("mosquitto_sub", NULL, &out,
		 (const char *const[]){"-t", topic, "-C", "1", "-W", "3", NULL});
	cr_expect_neq(ret, 0, "a client without a certificate was served: %s", out);
	free(out);
	/* another device may not send this one actions */
	snprintf(topic, sizeof(topic), "ringfence/%s/actions", device);
	mq("mosquitto_pub", "other", NULL,
	   (const char *const[]){"-q", "1", "-t", topic, "-m",
				 "{\"id\":\"evil-1\",\"type\":\"Isolate\"}", NULL});
	rft_msleep(1500);
	expect_cut(false, "action from another device");
	cr_expect_eq(history_count("evil"), 0);
	agent_stop(agent);
}

Test(remote, the_agent_reconnects_while_isolated)
{
	int before;
	pid_t agent;

	start();
	agent = agent_start();
	cr_assert_eq(remote(NULL, "isolate", wait_opt(), NULL, NULL, NULL), 0);
	expect_cut(true, "isolated over mqtt");
	/* the broker goes away and comes back: the agent's new connect, made while isolated,
	 * passes by its rf_mgmt entries (process and destination) */
	before = count_in_file("agent.log", "mqtt: connected");
	kill(broker, SIGTERM);
	cr_assert_geq(rfp_wait(broker, 10000), 0, "mosquitto did not stop");
	start_broker();
	for (int i = 0; i < rft_scaled_ms(15000) / 100; i++) {
		if (count_in_file("agent.log", "mqtt: connected") > before)
			break;
		rft_msleep(100);
	}
	if (count_in_file("agent.log", "mqtt: connected") <= before)
		dump_logs();
	cr_assert_gt(count_in_file("agent.log", "mqtt: connected"), before,
		     "the agent did not reconnect while isolated");
	expect_cut(true, "still isolated after the reconnect");
	cr_assert_eq(remote(NULL, "release", wait_opt(), NULL, NULL, NULL), 0,
		     "release over the new connection failed");
	expect_cut(false, "released after the reconnect");
	agent_stop(agent);
}
