/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Console-test helpers: a private mosquitto and ringfence-console per test (ports picked free on
 * 127.0.0.1, files in /tmp/rf-test-<pid>-console), simulated devices that answer actions as the
 * agent does, and HTTP requests through curl. ctest_stop() (the fixture's .fini) kills and
 * removes all of it, even after a failed assertion.
 */
#ifndef RF_CTEST_H
#define RF_CTEST_H

#include <stdbool.h>
#include <jansson.h>

#define CT_PREFIX "rftest"
#define CT_TOKEN  "alice-0123456789abcdef"	   /* requestor "alice" */
#define CT_TOKEN2 "soar-playbook-fedcba9876543210" /* requestor "soar" */
#define CT_READY  "ready-probe-00000000000000"	   /* requestor "probe": readiness polls */

struct ct_env {
	char dir[256];	   /* /tmp/rf-test-<pid>-console */
	int broker_port;   /* mosquitto on 127.0.0.1 */
	int console_port;  /* ringfence-console on 127.0.0.1 */
	bool tls;	   /* the console serves HTTPS with dir/cert.pem */
	const char *netns; /* NULL, or the namespace broker, console, curl and the browser run in
			      (ports 1883 and 8443 there; set it after ctest_require()) */
	char console_log[300];
};
extern struct ct_env ct;

/* The behaviour of a simulated device. */
enum ct_mode {
	CT_ANSWER, /* InProgress, then Succeeded, status updated (the agent's happy path) */
	CT_SILENT, /* receives actions, never answers (TimeOut) */
	CT_FAIL,   /* InProgress, then Failed with an error */
};

/* Skip (or fail under RINGFENCE_REQUIRE_KERNEL=1) unless mosquitto, curl and the console are
 * there; then create the test dir. */
void ctest_require(void);
/* Start mosquitto on a free port (ct.broker_port). */
void ctest_broker_start(void);
/* The same with `extra` appended to its configuration (another listener, say). */
void ctest_broker_start_with(const char *extra);
/* Start the console on a free port with extra args (NULL-terminated; e.g. "--action-timeout",
 * "2s"); plain HTTP with --insecure-http unless ct.tls. Waits until it serves and sees the
 * broker. Returns its pid. */
int ctest_console_start(const char *first, ...);
/* Start the console with exactly argv (ct.console_port set by the caller); waits as above. */
int ctest_console_spawn(char *const argv[]);
/* Kill mosquitto (the console loses its broker). */
void ctest_broker_stop(void);
/* A throw-away self-signed certificate for 127.0.0.1: ct.dir/cert.pem and key.pem. */
void ctest_make_cert(void);
/* A TCP port on 127.0.0.1 that is free now. */
int ctest_free_port(void);
/* Stop the console started last (SIGTERM; it must exit 0), e.g. to start another. */
void ctest_console_stop(void);
/* Everything down, files removed. */
void ctest_stop(void);
/* The usual fixture: require, broker, console. */
void ctest_setup(void);

/* A simulated device DEVICE (hostname NAME) on the broker, isolated or not, in `mode`. */
void ctest_sim_start(const char *device, const char *name, bool isolated, enum ct_mode mode);
/* How many action requests the simulated device received. */
int ctest_sim_actions(const char *device);
/* Disconnect it uncleanly (its last will marks it offline). */
void ctest_sim_kill(const char *device);

/* HTTP request to the console: returns the status code (0 if curl failed), body in *out (may be
 * NULL; caller frees). token NULL: no Authorization header. body NULL: none; "@FILE": a file;
 * "chunked@FILE": a file sent chunked (no Content-Length). */
int ctest_http(const char *method, const char *path, const char *token, const char *body,
	       char **out);
/* ctest_http() and parse the JSON body; asserts it is JSON. Caller json_decref()s. */
json_t *ctest_json(const char *method, const char *path, const char *token, const char *body,
		   int want_code);
/* Poll GET /api/machineactions/ID (with the probe token) until its status is final or
 * timeout_ms; returns the last status (malloc'd). */
char *ctest_wait_action(const char *id, int timeout_ms);
/* Poll until GET /api/machines/DEV says isolated == want (probe token). 0 or -ETIMEDOUT. */
int ctest_wait_isolated(const char *device, bool want, int timeout_ms);
/* Run one phase of tests/console/browser.py ("isolate" or "release") on DEVICE in ct.netns,
 * screenshots into $RINGFENCE_OUTPUT/console-screenshots/SHOTS_DIR; a failure names the step;
 * skipped (failed under RINGFENCE_REQUIRE_KERNEL=1) without Chromium. */
void ctest_browser(const char *device, const char *phase, const char *shots_dir);
/* The error code of an MDE-style error body; asserts the shape. */
const char *ctest_error_code(json_t *j);

#endif
