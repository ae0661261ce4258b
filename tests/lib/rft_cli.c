// SPDX-License-Identifier: GPL-2.0-only
/* The CLI with the test's private paths; contracts in rft_cli.h. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "rft_child.h"
#include "rft_cli.h"
#include "rft_env.h"
#include "rft_json.h"

/* argv and environment of one CLI run (see rft_cli_start()). */
struct cli_cmd {
	char *argv[RFT_CLI_MAX_ARGS + 10];
	char *env[RFT_CLI_MAX_ENV + 16];
	char resolv[PATH_MAX + 32];
	char leases[PATH_MAX + 32];
};

/* own_target: args name the target (--unit, --container, --pid), so no --cgroup <cg> first. */
static int cli_cmd_init(struct cli_cmd *c, char *const env[], char *const args[], bool own_target)
{
	/* the CLI must never see the host's ringfence settings or touch its interfaces */
	static char *const own_env[] = {
	    "RINGFENCE_CGROUP=",
	    "RINGFENCE_PIN_DIR=",
	    "RINGFENCE_STATE_DIR=",
	    "RINGFENCE_CONFIG=",
	    "RINGFENCE_REQUESTOR",
	    "RINGFENCE_PACKET_GUARD=off",
	    "RINGFENCE_UNIT=",
	    "RINGFENCE_CONTAINER=",
	    /* selectors ask no systemd or container runtime of the host (tests set stand-ins) */
	    "RINGFENCE_SYSTEMCTL=/bin/false",
	    "RINGFENCE_CONTAINER_RUNTIMES=",
	};
	static char home[PATH_MAX + 32];
	char *bin = getenv("RINGFENCE_BIN");
	int n = 0, e = 0, i;

	if (!bin || !rft.cg[0] || !rft.pin_dir[0] || !rft.state_dir[0] || !rft.dev_ns[0])
		return -EINVAL; /* no private paths: refuse to run against the host defaults */
	c->argv[n++] = bin;
	if (!own_target) {
		c->argv[n++] = "--cgroup";
		c->argv[n++] = rft.cg;
	}
	c->argv[n++] = "--pin-dir";
	c->argv[n++] = rft.pin_dir;
	c->argv[n++] = "--state-dir";
	c->argv[n++] = rft.state_dir;
	c->argv[n++] = "--config";
	c->argv[n++] = rft.config;
	for (i = 0; args[i] && i < RFT_CLI_MAX_ARGS; i++)
		c->argv[n++] = args[i];
	c->argv[n] = NULL;
	for (i = 0; i < (int)(sizeof(own_env) / sizeof(own_env[0])); i++)
		c->env[e++] = own_env[i];
	/* the test's cgroup owns the top level of the private pin and state dirs */
	snprintf(home, sizeof(home), "RINGFENCE_HOME_CGROUP=%s", rft.cg);
	c->env[e++] = home;
	snprintf(c->resolv, sizeof(c->resolv), "RINGFENCE_RESOLV_CONF=%s/resolv.conf",
		 rft.state_dir);
	c->env[e++] = c->resolv;
	/* no DHCP server of this host's lease files in the test's map */
	snprintf(c->leases, sizeof(c->leases), "RINGFENCE_DHCP_LEASES=%s/dhcp-leases",
		 rft.state_dir);
	c->env[e++] = c->leases;
	for (i = 0; env && env[i]; i++) {
		if (i == RFT_CLI_MAX_ENV)
			return -E2BIG;
		c->env[e++] = env[i];
	}
	c->env[e] = NULL;
	return 0;
}

void rft_cli_args(char *args[], const char *first, va_list *ap)
{
	const char *a = first;
	int n = 0;

	while (a && n < RFT_CLI_MAX_ARGS) {
		args[n++] = (char *)a;
		a = va_arg(*ap, const char *);
	}
	args[n] = NULL;
}

pid_t rft_cli_start(char *const env[], char *const args[], int ofd, int efd)
{
	struct cli_cmd c;
	int ret = cli_cmd_init(&c, env, args, false);

	if (ret)
		return ret;
	return rft_exec_start(rft.dev_ns, c.argv, c.env, ofd, efd);
}

/* Whatever a --json command prints on stdout is strict JSON lines (rft_json_lines() asserts). */
static void check_json_out(char *const args[], const char *out)
{
	int i;

	for (i = 0; args[i]; i++)
		if (!strcmp(args[i], "--json")) {
			if (out && *out)
				json_decref(rft_json_lines(out));
			return;
		}
}

static int cli_argv(char *const env[], char *const args[], bool own_target, char **out, char **err)
{
	struct cli_cmd c;
	int ret;

	if (cli_cmd_init(&c, env, args, own_target)) {
		if (out)
			*out = NULL;
		if (err)
			*err = NULL;
		return -1;
	}
	ret = rft_exec_env(rft.dev_ns, c.argv, c.env, out, err);
	if (out)
		check_json_out(args, *out);
	return ret;
}

/* Collect the NULL-terminated variadic arguments after parameter `last` into args. */
#define CLI_ARGS(args, last)                                                                       \
	do {                                                                                       \
		va_list ap;                                                                        \
                                                                                                   \
		va_start(ap, last);                                                                \
		rft_cli_args(args, va_arg(ap, const char *), &ap);                                 \
		va_end(ap);                                                                        \
	} while (0)

/* Run args (no extra environment) and assert exit status `want`, showing the output when it
 * differs; returns stdout (never NULL; caller frees). */
static char *cli_expect(int want, char *const args[])
{
	char *out = NULL, *err = NULL;
	int ret = rft_cli_argv(NULL, args, &out, &err);

	cr_assert_eq(ret, want, "ringfence %s %s exited %d, expected %d\nstdout: %s\nstderr: %s",
		     args[0] ? args[0] : "", args[0] && args[1] ? args[1] : "", ret, want,
		     out ? out : "", err ? err : "");
	free(err);
	return out ? out : strdup("");
}

int rft_cli_argv(char *const env[], char *const args[], char **out, char **err)
{
	return cli_argv(env, args, false, out, err);
}

int rft_cli_target(char **out, char **err, ...)
{
	char *args[RFT_CLI_MAX_ARGS + 1];

	CLI_ARGS(args, err);
	return cli_argv(NULL, args, true, out, err);
}

int rft_cli_target_env(char *const env[], char **out, char **err, ...)
{
	char *args[RFT_CLI_MAX_ARGS + 1];

	CLI_ARGS(args, err);
	return cli_argv(env, args, true, out, err);
}

int rft_cli(char **out, char **err, ...)
{
	char *args[RFT_CLI_MAX_ARGS + 1];

	CLI_ARGS(args, err);
	return rft_cli_argv(NULL, args, out, err);
}

void rft_cli_ok(int want, ...)
{
	char *args[RFT_CLI_MAX_ARGS + 1];

	CLI_ARGS(args, want);
	free(cli_expect(want, args));
}

int rfp_cli_env(char *const env[], char **out, char **err, ...)
{
	char *args[RFT_CLI_MAX_ARGS + 1];

	CLI_ARGS(args, err);
	return rft_cli_argv(env, args, out, err);
}

pid_t rfp_cli_spawn(char *const env[], ...)
{
	char *args[RFT_CLI_MAX_ARGS + 1];
	pid_t pid;

	CLI_ARGS(args, env);
	pid = rft_cli_start(env, args, -1, -1);
	if (pid > 0)
		rft_track_child(pid);
	return pid;
}

char *rfp_cli_out(const char *arg, ...)
{
	char *args[RFT_CLI_MAX_ARGS + 1];
	va_list ap;

	va_start(ap, arg);
	rft_cli_args(args, arg, &ap);
	va_end(ap);
	return cli_expect(0, args);
}

int rft_status_isolated(void)
{
	char *out = NULL;
	int v;

	cr_assert_eq(rft_cli(&out, NULL, "status", "--json", NULL), 0, "status --json failed");
	v = rft_json_bool(out, "isolated");
	cr_assert_neq(v, -1, "status --json has no \"isolated\" boolean: %s", out);
	free(out);
	return v;
}
