// SPDX-License-Identifier: GPL-2.0-only
/* How the console starts: TLS by default (a throw-away certificate from openssl), plain HTTP only
 * with --insecure-http, and refusals that name the problem and the fix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <criterion/criterion.h>
#include "ctest.h"
#include "rft_child.h"
#include "rft_env.h"

static void setup(void)
{
	ctest_require();
	ctest_broker_start();
}

TestSuite(startup, .init = setup, .fini = ctest_stop, .timeout = 60);

TestSuite(brokertls, .init = ctest_require, .fini = ctest_stop, .timeout = 60);

Test(brokertls, connects_to_a_tls_broker_with_its_ca)
{
	char extra[1024], broker[64], ca[300];
	char *argv[] = {"mosquitto_pub",
			"-h",
			"127.0.0.1",
			"-p",
			NULL,
			"--cafile",
			ca,
			"-r",
			"-q",
			"1",
			"-t",
			CT_PREFIX "/dev-t/status",
			"-m",
			"{\"isolated\": false, \"online\": true}",
			NULL};
	char port[16];
	int tls_port = ctest_free_port();
	json_t *j;

	rft_require_tool("mosquitto_pub");
	ctest_make_cert();
	snprintf(extra, sizeof(extra),
		 "listener %d 127.0.0.1\ncafile %s/cert.pem\ncertfile %s/cert.pem\n"
		 "keyfile %s/key.pem\n",
		 tls_port, ct.dir, ct.dir, ct.dir);
	ctest_broker_start_with(extra);
	snprintf(broker, sizeof(broker), "mqtts://127.0.0.1:%d", tls_port);
	snprintf(ca, sizeof(ca), "%s/cert.pem", ct.dir);
	ctest_console_start("--broker", broker, "--mqtt-ca", ca, NULL);
	/* a device's status over TLS too: the console sees it only through its TLS session */
	snprintf(port, sizeof(port), "%d", tls_port);
	argv[4] = port;
	cr_assert_eq(rft_exec(NULL, argv, NULL, NULL), 0, "mosquitto_pub over TLS failed");
	for (int i = 0; i < 50; i++) {
		if (ctest_http("GET", "/api/machines/dev-t", CT_READY, NULL, NULL) == 200)
			break;
		rft_msleep(100);
	}
	j = ctest_json("GET", "/api/machines/dev-t", CT_TOKEN, NULL, 200);
	json_decref(j);
}

Test(startup, serves_https_with_its_certificate)
{
	char *out = NULL;
	json_t *j;
	int code;

	ctest_make_cert();
	ct.tls = true;
	ctest_console_start(NULL);
	j = ctest_json("GET", "/api/machines", CT_TOKEN, NULL, 200);
	json_decref(j);
	j = ctest_json("GET", "/api/machines", NULL, NULL, 401);
	json_decref(j);
	/* the same port in plain HTTP gets no answer from the API */
	ct.tls = false;
	code = ctest_http("GET", "/api/machines", CT_TOKEN, NULL, &out);
	cr_assert_neq(code, 200, "plain HTTP answered on the TLS port: %s", out ? out : "");
	free(out);
}

/* Run the console with args, expecting it to exit with `want` and say `why` on stderr. */
static void refused(int want, const char *why, char *const args[])
{
	char listen[32], broker[64], *argv[24], *err = NULL;
	int n = 0, rc;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", ct.broker_port + 1);
	snprintf(broker, sizeof(broker), "mqtt://127.0.0.1:%d", ct.broker_port);
	argv[n++] = getenv("RINGFENCE_CONSOLE_BIN");
	for (; *args && n < 22; args++)
		argv[n++] = !strcmp(*args, "LISTEN")   ? listen
			    : !strcmp(*args, "BROKER") ? broker
						       : *args;
	argv[n] = NULL;
	rc = rft_exec(NULL, argv, NULL, &err);
	cr_assert_eq(rc, want, "exit %d, expected %d: %s", rc, want, err ? err : "");
	cr_assert(err && strstr(err, why), "stderr does not say '%s': %s", why, err ? err : "");
	free(err);
}

Test(startup, refuses_plain_http_without_the_flag_and_bad_token_files)
{
	char tokens[300], loose[300], shorttok[300];
	FILE *f;

	snprintf(tokens, sizeof(tokens), "%s/tokens", ct.dir);
	snprintf(loose, sizeof(loose), "%s/loose", ct.dir);
	snprintf(shorttok, sizeof(shorttok), "%s/short", ct.dir);
	f = fopen(loose, "w");
	fputs("alice " CT_TOKEN "\n", f);
	fclose(f);
	chmod(loose, 0644);
	f = fopen(shorttok, "w");
	fputs("alice short\n", f);
	fclose(f);
	chmod(shorttok, 0600);
	refused(2, "--insecure-http",
		(char *[]){"--listen", "LISTEN", "--broker", "BROKER", "--tokens", tokens, NULL});
	refused(2, "--tokens FILE",
		(char *[]){"--listen", "LISTEN", "--broker", "BROKER", "--insecure-http", NULL});
	refused(2, "bad value for --broker",
		(char *[]){"--listen", "LISTEN", "--broker", "http://x:1", "--tokens", tokens,
			   "--insecure-http", NULL});
	refused(1, "chmod 600",
		(char *[]){"--listen", "LISTEN", "--broker", "BROKER", "--tokens", loose,
			   "--insecure-http", NULL});
	refused(1, "must be 16-255 characters",
		(char *[]){"--listen", "LISTEN", "--broker", "BROKER", "--tokens", shorttok,
			   "--insecure-http", NULL});
}

Test(startup, reads_the_same_keys_from_a_config_file)
{
	char conf[300], text[1024];
	char *argv[] = {getenv("RINGFENCE_CONSOLE_BIN"), "--config", conf, NULL};
	json_t *j;
	FILE *f;

	ct.console_port = ctest_free_port();
	snprintf(conf, sizeof(conf), "%s/console.conf", ct.dir);
	snprintf(text, sizeof(text),
		 "# ringfence-console\nlisten 127.0.0.1:%d\nbroker mqtt://127.0.0.1:%d\n"
		 "tokens %s/tokens\ninsecure-http\ntopic-prefix " CT_PREFIX "\n",
		 ct.console_port, ct.broker_port, ct.dir);
	f = fopen(conf, "w");
	fputs(text, f);
	fclose(f);
	ctest_console_spawn(argv);
	ctest_sim_start("dev-c", "conf-1", false, CT_ANSWER);
	j = ctest_json("GET", "/api/machines/dev-c", CT_TOKEN, NULL, 200);
	json_decref(j);
}

Test(startup, a_broker_that_is_down_is_a_503_and_nothing_is_queued)
{
	json_t *j;

	ctest_console_start(NULL);
	ctest_sim_start("dev-d", "down-1", false, CT_ANSWER);
	ctest_broker_stop();
	rft_msleep(300);
	j = ctest_json("POST", "/api/machines/dev-d/isolate", CT_TOKEN, "{\"Comment\": \"x\"}",
		       503);
	cr_assert_str_eq(ctest_error_code(j), "ServiceUnavailable");
	json_decref(j);
	j = ctest_json("GET", "/api/machineactions", CT_TOKEN, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "value")), 0, "no action recorded");
	json_decref(j);
}

Test(startup, help_and_version_exit_0)
{
	char *out = NULL, *argv[] = {getenv("RINGFENCE_CONSOLE_BIN"), "--version", NULL};

	cr_assert_eq(rft_exec(NULL, argv, &out, NULL), 0);
	cr_assert(!strncmp(out, "ringfence-console ", 18) && strstr(out, "libmicrohttpd") &&
		      strstr(out, "libmosquitto") && strstr(out, "jansson"),
		  "%s", out);
	free(out);
	argv[1] = "--help";
	cr_assert_eq(rft_exec(NULL, argv, &out, NULL), 0);
	cr_assert(strstr(out, "Usage: ringfence-console --listen"), "%s", out);
	free(out);
}
