// SPDX-License-Identifier: GPL-2.0-only
/* The console's HTTP API against a real mosquitto and simulated devices (docs/API.md): every
 * endpoint, every refusal, and for each refusal that nothing reached the device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "ctest.h"
#include "rft_child.h"

static void setup(void)
{
	ctest_setup();
}

TestSuite(api, .init = setup, .fini = ctest_stop, .timeout = 60);

static const char *str(json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	cr_assert_not_null(s, "no string \"%s\" in the document", key);
	return s;
}

/* POST isolate/unisolate; asserts 201 and the machineAction shape; returns the action id. */
static char *post_action(const char *device, const char *verb, const char *token,
			 const char *requestor, const char *comment)
{
	char path[200], body[300];
	json_t *a;
	char *id;

	snprintf(path, sizeof(path), "/api/machines/%s/%s", device, verb);
	snprintf(body, sizeof(body), "{\"Comment\": \"%s\"%s}", comment,
		 strcmp(verb, "isolate") ? "" : ", \"IsolationType\": \"Full\"");
	a = ctest_json("POST", path, token, body, 201);
	cr_assert_str_eq(str(a, "type"), strcmp(verb, "isolate") ? "Unisolate" : "Isolate");
	cr_assert_str_eq(str(a, "status"), "Pending");
	cr_assert_str_eq(str(a, "requestor"), requestor);
	cr_assert_str_eq(str(a, "requestorComment"), comment);
	cr_assert_str_eq(str(a, "machineId"), device);
	cr_assert(strlen(str(a, "creationDateTimeUtc")) == 24, "ISO 8601 with ms and Z");
	cr_assert_str_eq(str(a, "lastUpdateDateTimeUtc"), str(a, "creationDateTimeUtc"));
	cr_assert(json_is_null(json_object_get(a, "error")));
	cr_assert_gt(strcmp(str(a, "notAfter"), str(a, "creationDateTimeUtc")), 0,
		     "notAfter: the device runs it only until the action times out");
	id = strdup(str(a, "id"));
	json_decref(a);
	return id;
}

Test(api, lists_and_shows_machines)
{
	json_t *j, *v, *m;
	size_t i;

	ctest_sim_start("dev-a", "web-1", false, CT_ANSWER);
	ctest_sim_start("dev-b", "db-1", true, CT_ANSWER);
	j = ctest_json("GET", "/api/machines", CT_TOKEN, NULL, 200);
	v = json_object_get(j, "value");
	cr_assert_eq(json_array_size(v), 2);
	json_array_foreach(v, i, m)
	{
		bool b = !strcmp(str(m, "id"), "dev-b");

		cr_assert_str_eq(str(m, "computerDnsName"), b ? "db-1" : "web-1");
		cr_assert_eq(json_is_true(json_object_get(m, "isolated")), b);
		cr_assert_str_eq(str(m, "isolationState"), b ? "Isolated" : "NotIsolated");
		cr_assert(json_is_true(json_object_get(m, "online")));
		cr_assert_str_eq(str(m, "healthStatus"), "Active");
	}
	json_decref(j);
	j = ctest_json("GET", "/api/machines/dev-b", CT_TOKEN2, NULL, 200);
	cr_assert_str_eq(str(j, "computerDnsName"), "db-1");
	cr_assert(json_is_true(json_object_get(json_object_get(j, "deviceStatus"), "isolated")),
		  "the device's own status document is shown");
	cr_assert(json_is_array(json_object_get(j, "recentActions")));
	json_decref(j);
	j = ctest_json("GET", "/api/machines/no-such-device", CT_TOKEN, NULL, 404);
	cr_assert_str_eq(ctest_error_code(j), "ResourceNotFound");
	json_decref(j);
}

Test(api, offline_device_is_shown_offline)
{
	json_t *j;
	int i;

	ctest_sim_start("dev-a", "web-1", false, CT_ANSWER);
	ctest_sim_kill("dev-a");
	for (i = 0; i < 50; i++) {
		j = ctest_json("GET", "/api/machines/dev-a", CT_READY, NULL, 200);
		if (!json_is_true(json_object_get(j, "online")))
			break;
		json_decref(j);
		rft_msleep(100);
	}
	cr_assert_lt(i, 50, "the last will did not mark the device offline");
	cr_assert_str_eq(str(j, "healthStatus"), "Inactive");
	json_decref(j);
}

Test(api, isolate_and_release_follow_the_action_to_succeeded)
{
	char *id, *st, path[200];
	json_t *j, *v;

	ctest_sim_start("dev-a", "web-1", false, CT_ANSWER);
	id = post_action("dev-a", "isolate", CT_TOKEN, "alice", "INC-1 suspected compromise");
	st = ctest_wait_action(id, 10000);
	cr_assert_str_eq(st, "Succeeded");
	free(st);
	cr_assert_eq(ctest_wait_isolated("dev-a", true, 5000), 0);
	cr_assert_eq(ctest_sim_actions("dev-a"), 1, "published once");
	/* the action as MDE's playbooks read it, by id and by machine (both query forms) */
	snprintf(path, sizeof(path), "/api/machineactions/%s", id);
	j = ctest_json("GET", path, CT_TOKEN, NULL, 200);
	cr_assert_str_eq(str(j, "requestor"), "alice");
	cr_assert_str_neq(str(j, "lastUpdateDateTimeUtc"), "");
	json_decref(j);
	j = ctest_json("GET", "/api/machineactions?machineId=dev-a", CT_TOKEN, NULL, 200);
	v = json_object_get(j, "value");
	cr_assert_eq(json_array_size(v), 1);
	cr_assert_str_eq(str(json_array_get(v, 0), "id"), id);
	json_decref(j);
	j = ctest_json("GET", "/api/machineactions?$filter=machineId%20eq%20'dev-a'", CT_TOKEN,
		       NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "value")), 1);
	json_decref(j);
	free(id);
	id = post_action("dev-a", "unisolate", CT_TOKEN2, "soar", "INC-1 closed");
	st = ctest_wait_action(id, 10000);
	cr_assert_str_eq(st, "Succeeded");
	cr_assert_eq(ctest_wait_isolated("dev-a", false, 5000), 0);
	j = ctest_json("GET", "/api/machineactions", CT_TOKEN, NULL, 200);
	v = json_object_get(j, "value");
	cr_assert_eq(json_array_size(v), 2);
	cr_assert_str_eq(str(json_array_get(v, 0), "id"), id, "newest first");
	json_decref(j);
	free(st);
	free(id);
}

Test(api, failed_and_timed_out_actions_reach_their_final_state)
{
	char *id, *st;
	json_t *j;
	char path[200];

	ctest_console_stop();
	ctest_console_start("--action-timeout", "2s", NULL);
	ctest_sim_start("dev-f", "fails", false, CT_FAIL);
	ctest_sim_start("dev-s", "silent", false, CT_SILENT);
	id = post_action("dev-f", "isolate", CT_TOKEN, "alice", "will fail");
	st = ctest_wait_action(id, 10000);
	cr_assert_str_eq(st, "Failed");
	snprintf(path, sizeof(path), "/api/machineactions/%s", id);
	j = ctest_json("GET", path, CT_TOKEN, NULL, 200);
	cr_assert_str_eq(str(j, "error"), "simulated failure");
	json_decref(j);
	free(st);
	free(id);
	id = post_action("dev-s", "isolate", CT_TOKEN, "alice", "never answered");
	st = ctest_wait_action(id, 10000);
	cr_assert_str_eq(st, "TimeOut");
	cr_assert_eq(ctest_sim_actions("dev-s"), 1, "the device got it, and did not answer");
	free(st);
	free(id);
}

Test(api, a_second_isolate_is_refused_and_not_published)
{
	char *id, *st;
	json_t *j;

	ctest_sim_start("dev-s", "silent", false, CT_SILENT);
	ctest_sim_start("dev-i", "isolated", true, CT_ANSWER);
	/* a pending isolate: the second is refused, the device gets one */
	id = post_action("dev-s", "isolate", CT_TOKEN, "alice", "first");
	j = ctest_json("POST", "/api/machines/dev-s/isolate", CT_TOKEN2, "{\"Comment\": \"again\"}",
		       400);
	cr_assert_str_eq(ctest_error_code(j), "ActiveRequestAlreadyExists");
	json_decref(j);
	/* an already isolated device: refused, nothing published */
	j = ctest_json("POST", "/api/machines/dev-i/isolate", CT_TOKEN, "{\"Comment\": \"x\"}",
		       400);
	cr_assert_str_eq(ctest_error_code(j), "InvalidRequest");
	cr_assert(strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
			 "already isolated"));
	json_decref(j);
	/* and its pair: a release of a device that is not isolated */
	j = ctest_json("POST", "/api/machines/dev-s/unisolate", CT_TOKEN, "{\"Comment\": \"x\"}",
		       400);
	cr_assert_str_eq(ctest_error_code(j), "InvalidRequest");
	json_decref(j);
	rft_msleep(300);
	cr_assert_eq(ctest_sim_actions("dev-s"), 1, "the device got the first isolate only");
	cr_assert_eq(ctest_sim_actions("dev-i"), 0, "the isolated device got nothing");
	/* the allowed case beside it: a release of the isolated device goes through */
	free(id);
	id = post_action("dev-i", "unisolate", CT_TOKEN, "alice", "ok");
	st = ctest_wait_action(id, 10000);
	cr_assert_str_eq(st, "Succeeded");
	cr_assert_eq(ctest_sim_actions("dev-i"), 1);
	free(st);
	free(id);
}

struct auth_case {
	const char *method, *path, *body;
};
static const struct auth_case auth_cases[] = {
    {"GET", "/api/machines", NULL},
    {"GET", "/api/machines/dev-a", NULL},
    {"POST", "/api/machines/dev-a/isolate", "{\"Comment\": \"x\"}"},
    {"POST", "/api/machines/dev-a/unisolate", "{\"Comment\": \"x\"}"},
    {"GET", "/api/machineactions", NULL},
    {"GET", "/api/machineactions/x", NULL},
};

Test(api, no_or_wrong_token_is_401_and_publishes_nothing)
{
	const char *bad[] = {NULL, "", "alice-0123456789abcdeX", CT_TOKEN "0", "Basic x"};
	char *out;
	size_t i, k;
	int code;

	ctest_sim_start("dev-a", "web-1", false, CT_ANSWER);
	for (i = 0; i < sizeof(auth_cases) / sizeof(auth_cases[0]); i++) {
		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			const struct auth_case *c = &auth_cases[i];
			json_t *j = ctest_json(c->method, c->path, bad[k], c->body, 401);

			cr_assert_str_eq(ctest_error_code(j), "Unauthorized");
			json_decref(j);
		}
	}
	rft_msleep(300);
	cr_assert_eq(ctest_sim_actions("dev-a"), 0, "nothing published");
	/* the allowed case: the same request with the token */
	code = ctest_http("GET", "/api/machines", CT_TOKEN, NULL, &out);
	cr_assert_eq(code, 200);
	free(out);
}

Test(api, rate_limit_is_100_per_minute_per_token)
{
	char url[128], retry[64];
	char *out = NULL, *argv[320] = {"curl", "-s",
					"-w",	"%{http_code}\\n",
					"-H",	"Authorization: Bearer " CT_TOKEN};
	int n = 6, i, ok = 0, limited = 0;
	json_t *j;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/machines", ct.console_port);
	for (i = 0; i < 100; i++) {
		argv[n++] = "-o";
		argv[n++] = "/dev/null";
		argv[n++] = url;
	}
	argv[n] = NULL;
	cr_assert_eq(rft_exec(NULL, argv, &out, NULL), 0);
	for (char *p = out; p && *p; p = strchr(p, '\n') + 1) {
		ok += !strncmp(p, "200", 3);
		limited += !strncmp(p, "429", 3);
	}
	free(out);
	cr_assert_eq(ok, 100, "the first 100 calls in a minute pass (%d did)", ok);
	j = ctest_json("GET", "/api/machines", CT_TOKEN, NULL, 429);
	cr_assert_str_eq(ctest_error_code(j), "TooManyRequests");
	json_decref(j);
	/* Retry-After says when */
	{
		char *hargv[] = {"curl", "-s",	      "-D", "-",
				 "-o",	 "/dev/null", "-H", "Authorization: Bearer " CT_TOKEN,
				 url,	 NULL};

		cr_assert_eq(rft_exec(NULL, hargv, &out, NULL), 0);
		cr_assert(strcasestr(out, "Retry-After: "), "no Retry-After in %s", out);
		snprintf(retry, sizeof(retry), "%s", strcasestr(out, "Retry-After: ") + 13);
		cr_assert_gt(atoi(retry), 0);
		cr_assert_leq(atoi(retry), 60);
		free(out);
	}
	/* another token is not limited by alice's calls */
	j = ctest_json("GET", "/api/machines", CT_TOKEN2, NULL, 200);
	json_decref(j);
	cr_assert_eq(limited, 0);
}

struct bad_case {
	const char *method, *path, *body;
	int code;
	const char *error;
};
static const struct bad_case bad_cases[] = {
    {"POST", "/api/machines/dev-a/isolate", "{\"Comment\": ", 400, "InvalidRequestBody"},
    {"POST", "/api/machines/dev-a/isolate", "[1,2]", 400, "InvalidRequestBody"},
    {"POST", "/api/machines/dev-a/isolate", "", 400, "InvalidRequestBody"},
    {"POST", "/api/machines/dev-a/isolate", "{}", 400, "InvalidRequestBody"},
    {"POST", "/api/machines/dev-a/isolate", "{\"Comment\": 5}", 400, "InvalidRequestBody"},
    {"POST", "/api/machines/dev-a/isolate", "{\"Comment\": \"\"}", 400, "InvalidRequestBody"},
    {"POST", "/api/machines/dev-a/isolate",
     "{\"Comment\": \"x\", \"IsolationType\": "
     "\"Selective\"}",
     400, "InvalidRequestBody"},
    {"POST", "/api/machines/dev-a/isolate", "{\"Comment\": \"x\", \"Other\": 1}", 400,
     "InvalidRequestBody"},
    {"POST", "/api/machines/dev-a/isolate", "{\"Comment\": \"x\", \"Comment\": \"y\"}", 400,
     "InvalidRequestBody"},
    {"POST", "/api/machines/dev-a/isolate", "@big", 413, "RequestEntityTooLarge"},
    {"POST", "/api/machines/dev-a/isolate", "chunked@big", 413, "RequestEntityTooLarge"},
    {"POST", "/api/machines/no-such/isolate", "{\"Comment\": \"x\"}", 404, "ResourceNotFound"},
    {"POST", "/api/machines/dev-a%2Bx/isolate", "{\"Comment\": \"x\"}", 404, "ResourceNotFound"},
    {"POST", "/api/machines/%23/isolate", "{\"Comment\": \"x\"}", 404, "ResourceNotFound"},
    {"POST", "/api/machines/dev-a/reboot", "{\"Comment\": \"x\"}", 404, "ResourceNotFound"},
    {"GET", "/api/machines/dev-a/isolate", NULL, 405, "MethodNotAllowed"},
    {"PUT", "/api/machines/dev-a/isolate", "{\"Comment\": \"x\"}", 405, "MethodNotAllowed"},
    {"DELETE", "/api/machines/dev-a", NULL, 405, "MethodNotAllowed"},
    {"POST", "/api/machines", "{\"Comment\": \"x\"}", 405, "MethodNotAllowed"},
    {"POST", "/api/machineactions", "{}", 405, "MethodNotAllowed"},
    {"GET", "/api/nothing", NULL, 404, "ResourceNotFound"},
    {"GET", "/api/machineactions/no-such-action", NULL, 404, "ResourceNotFound"},
    {"GET", "/api/machineactions?machineId=a%2Fb", NULL, 400, "InvalidParameter"},
    {"GET", "/api/machineactions?$filter=name%20eq%20'x'", NULL, 400, "InvalidParameter"},
};

static void write_big(void)
{
	char path[300];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/big", ct.dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("{\"Comment\": \"", f);
	for (i = 0; i < 20000; i++)
		fputc('a', f);
	fputs("\"}", f);
	fclose(f);
}

Test(api, bad_input_is_a_4xx_json_error_and_publishes_nothing)
{
	char body[320];
	size_t i;
	json_t *j;

	ctest_sim_start("dev-a", "web-1", false, CT_ANSWER);
	write_big();
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		const char *b = c->body;

		if (b && strchr(b, '@') && b[strlen(b) - 1] == 'g') { /* @big, chunked@big */
			snprintf(body, sizeof(body), "%.*s@%s/%s", (int)(strchr(b, '@') - b), b,
				 ct.dir, strchr(b, '@') + 1);
			b = body;
		}
		j = ctest_json(c->method, c->path, CT_TOKEN, b, c->code);
		cr_assert_str_eq(ctest_error_code(j), c->error, "%s %s", c->method, c->path);
		json_decref(j);
	}
	rft_msleep(300);
	cr_assert_eq(ctest_sim_actions("dev-a"), 0, "nothing published");
	j = ctest_json("GET", "/api/machineactions", CT_TOKEN, NULL, 200);
	cr_assert_eq(json_array_size(json_object_get(j, "value")), 0, "no action recorded");
	json_decref(j);
}

Test(api, a_restarted_console_knows_the_fleet_and_its_actions)
{
	char *id, *st, path[200];
	json_t *j;

	ctest_sim_start("dev-a", "web-1", false, CT_ANSWER);
	id = post_action("dev-a", "isolate", CT_TOKEN, "alice", "before the restart");
	st = ctest_wait_action(id, 10000);
	cr_assert_str_eq(st, "Succeeded");
	ctest_console_stop();
	ctest_console_start(NULL);
	snprintf(path, sizeof(path), "/api/machineactions/%s", id);
	j = ctest_json("GET", path, CT_TOKEN, NULL, 200);
	cr_assert_str_eq(str(j, "status"), "Succeeded");
	cr_assert_str_eq(str(j, "requestorComment"), "before the restart");
	json_decref(j);
	j = ctest_json("GET", "/api/machines/dev-a", CT_TOKEN, NULL, 200);
	cr_assert(json_is_true(json_object_get(j, "isolated")));
	json_decref(j);
	free(st);
	free(id);
}

Test(api, every_request_is_logged_with_who_what_and_result)
{
	char *log = NULL, *argv[] = {"cat", ct.console_log, NULL};
	json_t *j;

	ctest_sim_start("dev-a", "web-1", false, CT_ANSWER);
	j = ctest_json("POST", "/api/machines/dev-a/isolate", CT_TOKEN2,
		       "{\"Comment\": \"log me\"}", 201);
	json_decref(j);
	j = ctest_json("GET", "/api/machines", "wrong-token-0000000000", NULL, 401);
	json_decref(j);
	rft_msleep(100);
	cr_assert_eq(rft_exec(NULL, argv, &log, NULL), 0);
	cr_assert(strstr(log, "soar POST /api/machines/dev-a/isolate -> 201 action Isolate "), "%s",
		  log);
	cr_assert(strstr(log, "- GET /api/machines -> 401 Unauthorized"), "%s", log);
	cr_assert_null(strstr(log, "wrong-token"), "tokens are never logged");
	free(log);
}

Test(api, a_declared_oversized_body_is_refused_before_it_is_read)
{
	char url[128], *out = NULL;
	char *argv[] = {"curl",
			"-s",
			"-m",
			"3",
			"-o",
			"/dev/null",
			"-w",
			"%{http_code}",
			"-H",
			"Authorization: Bearer " CT_TOKEN,
			"-H",
			"Content-Length: 50000000",
			"--data-binary",
			"{}",
			url,
			NULL};
	long t0 = rft_now_ms();

	ctest_sim_start("dev-a", "web-1", false, CT_ANSWER);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/machines/dev-a/isolate",
		 ct.console_port);
	rft_exec(NULL, argv, &out, NULL);
	cr_assert_str_eq(out, "413", "a 50 MB Content-Length: HTTP %s", out);
	cr_assert_lt(rft_now_ms() - t0, 2500, "answered at once, not after waiting for the body");
	free(out);
	cr_assert_eq(ctest_sim_actions("dev-a"), 0);
}
