// SPDX-License-Identifier: GPL-2.0-only
/* The console tests' environment: mosquitto, the console, curl. See ctest.h. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "ctest.h"
#include "rft_child.h"
#include "rft_env.h"
#include "rf_proc.h"

struct ct_env ct;
static pid_t broker_pid = -1, console_pid = -1;

static int free_port_here(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int free_port(void)
{
	if (ct.netns) /* a namespace of the test's own: every port is free */
		return ct.broker_port ? 8443 : 1883;
	return free_port_here();
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", ct.dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

void ctest_require(void)
{
	const char *bin = getenv("RINGFENCE_CONSOLE_BIN");

	rft_require_tool("mosquitto");
	rft_require_tool("curl");
	if (!bin || access(bin, X_OK))
		rft_unavailable("RINGFENCE_CONSOLE_BIN is not set to ringfence-console (use make "
				"console-test)");
	memset(&ct, 0, sizeof(ct));
	snprintf(ct.dir, sizeof(ct.dir), "/tmp/rf-test-%d-console", (int)getpid());
	mkdir(ct.dir, 0700);
	write_file("tokens",
		   "# test tokens\nalice " CT_TOKEN "\nsoar " CT_TOKEN2 "\nprobe " CT_READY "\n",
		   0600);
}

static pid_t spawn_logged(char *const argv[], const char *log)
{
	char path[512];
	pid_t pid;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", ct.dir, log);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	cr_assert(fd >= 0);
	pid = rft_exec_start(ct.netns, argv, NULL, fd, fd);
	close(fd);
	cr_assert(pid > 0, "cannot start %s", argv[0]);
	rft_track_child(pid);
	return pid;
}

static int port_open_fn(int cmd, void *arg)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				.sin_port = htons(*(int *)arg)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok = fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a));

	(void)cmd;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -ECONNREFUSED;
}

static bool port_open(int port)
{
	if (ct.netns)
		return rfp_run_in(ct.netns, NULL, port_open_fn, &port) == 0;
	return port_open_fn(0, &port) == 0;
}

void ctest_broker_start(void)
{
	ctest_broker_start_with(NULL);
}

void ctest_broker_start_with(const char *extra)
{
	char conf[2048], path[300];
	char *argv[] = {"mosquitto", "-c", path, NULL};
	int i;

	ct.broker_port = free_port();
	snprintf(conf, sizeof(conf),
		 "per_listener_settings false\nallow_anonymous true\npersistence true\nuser root\n"
		 "persistence_location %s/\nlog_dest stderr\nlistener %d%s\n%s",
		 ct.dir, ct.broker_port, ct.netns ? "" : " 127.0.0.1", extra ? extra : "");
	write_file("mosquitto.conf", conf, 0600);
	snprintf(path, sizeof(path), "%s/mosquitto.conf", ct.dir);
	broker_pid = spawn_logged(argv, "mosquitto.log");
	for (i = 0; i < 100 && !port_open(ct.broker_port); i++)
		rft_msleep(20);
	cr_assert(port_open(ct.broker_port), "mosquitto did not start (see %s/mosquitto.log)",
		  ct.dir);
}

static void console_wait(void)
{
	char *out = NULL;
	int i, code = 0;

	for (i = 0; i < 100; i++) {
		free(out);
		out = NULL;
		if (port_open(ct.console_port)) {
			code = ctest_http("GET", "/api/machineactions", CT_READY, NULL, &out);
			if (code == 200)
				break;
		}
		rft_msleep(50);
	}
	free(out);
	cr_assert_eq(code, 200, "the console did not start (see %s)", ct.console_log);
	rft_msleep(200); /* the broker's retained documents */
}

int ctest_console_start(const char *first, ...)
{
	char listen[64], broker[64], tokens[300], cert[300], key[300];
	char *argv[32] = {getenv("RINGFENCE_CONSOLE_BIN"),
			  "--listen",
			  listen,
			  "--broker",
			  broker,
			  "--tokens",
			  tokens,
			  "--topic-prefix",
			  CT_PREFIX};
	const char *a;
	va_list ap;
	int n = 9;

	ct.console_port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", ct.console_port);
	snprintf(broker, sizeof(broker), "mqtt://127.0.0.1:%d", ct.broker_port);
	snprintf(tokens, sizeof(tokens), "%s/tokens", ct.dir);
	snprintf(cert, sizeof(cert), "%s/cert.pem", ct.dir);
	snprintf(key, sizeof(key), "%s/key.pem", ct.dir);
	if (ct.tls) {
		argv[n++] = "--tls-cert";
		argv[n++] = cert;
		argv[n++] = "--tls-key";
		argv[n++] = key;
	} else {
		argv[n++] = "--insecure-http";
	}
	va_start(ap, first);
	for (a = first; a && n < 30; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return ctest_console_spawn(argv);
}

int ctest_console_spawn(char *const argv[])
{
	snprintf(ct.console_log, sizeof(ct.console_log), "%s/console.log", ct.dir);
	console_pid = spawn_logged(argv, "console.log");
	console_wait();
	return console_pid;
}

void ctest_broker_stop(void)
{
	if (broker_pid > 0)
		rft_kill_child(broker_pid);
	broker_pid = -1;
}

int ctest_free_port(void)
{
	return free_port();
}

/* SIGTERM the console: its wait status, or -1 if it had to be killed after 5 s. */
static int console_term(pid_t pid)
{
	int status = -1, i;

	kill(pid, SIGTERM);
	for (i = 0; i < 250 && waitpid(pid, &status, WNOHANG) == 0; i++)
		rft_msleep(20);
	if (i == 250) {
		rft_kill_child(pid);
		return -1;
	}
	rft_untrack_child(pid);
	return status;
}

static void console_exit_ok(int status)
{
	cr_assert_neq(status, -1, "the console did not exit on SIGTERM within 5 s (see %s)",
		      ct.console_log);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the console ended with status 0x%x on SIGTERM (see %s)", status, ct.console_log);
}

/* SIGTERM, and the console must exit 0 (under make asan LeakSanitizer checks that exit). */
void ctest_console_stop(void)
{
	pid_t pid = console_pid;

	console_pid = -1;
	if (pid > 0)
		console_exit_ok(console_term(pid));
}

void ctest_stop(void)
{
	char *argv[] = {"rm", "-rf", ct.dir, NULL};

	rft_kill_children();
	broker_pid = console_pid = -1;
	if (*ct.dir && getenv("RINGFENCE_KEEP_TEST_DIR") == NULL)
		rft_exec(NULL, argv, NULL, NULL);
}

void ctest_setup(void)
{
	ctest_require();
	ctest_broker_start();
	ctest_console_start(NULL);
}

int ctest_http(const char *method, const char *path, const char *token, const char *body,
	       char **out)
{
	char url[512], auth[300], *o = NULL, *nl;
	char *argv[24] = {"curl",	    "-s", "-m",		 "10", "-o", "-", "-w",
			  "\n%{http_code}", "-X", (char *)method};
	int n = 10, code = 0;

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", ct.tls ? "https" : "http",
		 ct.console_port, path);
	if (ct.tls) {
		static char cacert[300];

		snprintf(cacert, sizeof(cacert), "%s/cert.pem", ct.dir);
		argv[n++] = "--cacert";
		argv[n++] = cacert;
	}
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		argv[n++] = "-H";
		argv[n++] = auth;
	}
	if (body && !strncmp(body, "chunked", 7)) { /* "chunked@FILE": no Content-Length */
		body += 7;
		argv[n++] = "-H";
		argv[n++] = "Transfer-Encoding: chunked";
	}
	if (body) {
		argv[n++] = "-H";
		argv[n++] = "Content-Type: application/json";
		argv[n++] = "--data-binary";
		argv[n++] = (char *)body;
	}
	argv[n++] = url;
	argv[n] = NULL;
	rft_exec(ct.netns, argv, &o, NULL);
	nl = o ? strrchr(o, '\n') : NULL;
	if (nl) {
		code = atoi(nl + 1);
		*nl = '\0';
	}
	if (out)
		*out = o;
	else
		free(o);
	return code;
}

json_t *ctest_json(const char *method, const char *path, const char *token, const char *body,
		   int want_code)
{
	char *out = NULL;
	int code = ctest_http(method, path, token, body, &out);
	json_t *j;

	cr_assert_eq(code, want_code, "%s %s: HTTP %d, expected %d: %s", method, path, code,
		     want_code, out ? out : "");
	j = json_loads(out ? out : "", 0, NULL);
	cr_assert_not_null(j, "%s %s: the body is not JSON: '%s'", method, path, out ? out : "");
	free(out);
	return j;
}

const char *ctest_error_code(json_t *j)
{
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(e, "code"));

	cr_assert_not_null(code, "not an error document");
	cr_assert(json_is_string(json_object_get(e, "message")), "an error without a message");
	return code;
}

/* A poll with the probe token: the document, or NULL on 429 (the probe's own rate limit, under a
 * slow emulator: wait and poll again); anything else fails the test. */
static json_t *poll_json(const char *path)
{
	char *out = NULL;
	int code = ctest_http("GET", path, CT_READY, NULL, &out);
	json_t *j = code == 200 ? json_loads(out, 0, NULL) : NULL;

	cr_assert(code == 429 || j, "GET %s: HTTP %d: %s", path, code, out ? out : "");
	free(out);
	if (!j)
		rft_msleep(1000);
	return j;
}

char *ctest_wait_action(const char *id, int timeout_ms)
{
	char path[200], *status = NULL;
	long end = rft_now_ms() + timeout_ms;
	const char *s;
	json_t *j;

	snprintf(path, sizeof(path), "/api/machineactions/%s", id);
	do {
		j = poll_json(path);
		s = json_string_value(json_object_get(j, "status"));
		free(status);
		status = strdup(s ? s : "");
		json_decref(j);
		if (!strcmp(status, "Succeeded") || !strcmp(status, "Failed") ||
		    !strcmp(status, "TimeOut") || !strcmp(status, "Cancelled"))
			break;
		rft_msleep(200);
	} while (rft_now_ms() < end);
	return status;
}

int ctest_wait_isolated(const char *device, bool want, int timeout_ms)
{
	long end = rft_now_ms() + timeout_ms;
	char path[200];
	json_t *j;
	bool got;

	snprintf(path, sizeof(path), "/api/machines/%s", device);
	do {
		j = poll_json(path);
		got = json_is_true(json_object_get(j, "isolated"));
		json_decref(j);
		if (j && got == want)
			return 0;
		rft_msleep(200);
	} while (rft_now_ms() < end);
	return -ETIMEDOUT;
}

void ctest_browser(const char *device, const char *phase, const char *shots_dir)
{
	char url[64], script[512], shots[512], *err = NULL;
	const char *src = getenv("RINGFENCE_SRC"), *out = getenv("RINGFENCE_OUTPUT");
	char *argv[] = {"/usr/bin/python3", script,	   url,	  CT_TOKEN,
			(char *)device,	    (char *)phase, shots, NULL};
	int rc;

	if (access("/usr/bin/python3", X_OK))
		rft_unavailable(
		    "/usr/bin/python3 is missing (the browser test needs python3-selenium)");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ct.console_port);
	snprintf(script, sizeof(script), "%s/tests/console/browser.py", src ? src : ".");
	snprintf(shots, sizeof(shots), "%s/console-screenshots/%s", out ? out : ".output",
		 shots_dir);
	rc = rft_exec(ct.netns, argv, NULL, &err);
	if (rc == 77)
		rft_unavailable("browser test: %s (make deps installs chromium, chromium-driver, "
				"python3-selenium)",
				err ? strtok(err, "\n") : "?");
	cr_assert_eq(rc, 0, "browser test, %s phase, exit %d:\n%s", phase, rc, err ? err : "");
	fprintf(stderr, "%s", err ? err : "");
	free(err);
}

void ctest_make_cert(void)
{
	char key[300], cert[300];
	char *argv[] = {"openssl",
			"req",
			"-x509",
			"-newkey",
			"ec",
			"-pkeyopt",
			"ec_paramgen_curve:prime256v1",
			"-nodes",
			"-keyout",
			key,
			"-out",
			cert,
			"-days",
			"1",
			"-subj",
			"/CN=127.0.0.1",
			"-addext",
			"subjectAltName=IP:127.0.0.1",
			NULL};

	rft_require_tool("openssl");
	snprintf(key, sizeof(key), "%s/key.pem", ct.dir);
	snprintf(cert, sizeof(cert), "%s/cert.pem", ct.dir);
	cr_assert_eq(rft_exec(NULL, argv, NULL, NULL), 0, "openssl could not make a certificate");
	chmod(key, 0600);
}
