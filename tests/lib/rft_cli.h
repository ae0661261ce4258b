/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The ringfence CLI run by a test: always with the test's private cgroup, pin dir, state dir and
 * config, inside the device netns, never with the host's settings.
 */
#ifndef RFT_CLI_H
#define RFT_CLI_H

#include <stdarg.h>
#include <sys/types.h>

#define RFT_CLI_MAX_ARGS 48 /* CLI arguments after the private paths */
#define RFT_CLI_MAX_ENV	 16 /* extra environment entries */

/* Run $RINGFENCE_BIN --cgroup <cg> --pin-dir <pin> --state-dir <state> --config <conf> ARGS...
 * (NULL-terminated) inside the device netns (setns, as nsenter --net does). Returns the exit
 * status; out/err as rft_exec(). */
/* With "--json" among ARGS, whatever it prints on stdout must be strict JSON lines (no duplicate
 * key, UTF-8): the test fails otherwise (rft_json_lines()). */
int rft_cli(char **out, char **err, ...) __attribute__((sentinel));
/* rft_cli() without the --cgroup <cg>: the arguments name the target (--unit, --container,
 * --pid), which must resolve to a cgroup below rft.cg. */
int rft_cli_target(char **out, char **err, ...) __attribute__((sentinel));
/* rft_cli_target() with extra environment entries on top, as rfp_cli_env(). */
int rft_cli_target_env(char *const env[], char **out, char **err, ...) __attribute__((sentinel));
/* rft_cli() without capture that asserts the exit status `want`. */
void rft_cli_ok(int want, ...) __attribute__((sentinel));

/* Collect the NULL-terminated list `first`, *ap... into args[RFT_CLI_MAX_ARGS + 1] (arguments
 * past RFT_CLI_MAX_ARGS are dropped). ap by address: rft_cli_args(a, va_arg(ap, ...), &ap) is
 * then well defined where va_list is a struct (arm64). */
void rft_cli_args(char *args[], const char *first, va_list *ap);
/* Start the CLI of rft_cli() with args (NULL-terminated) in the device netns, never with the
 * host's settings: RINGFENCE_CGROUP, _UNIT, _CONTAINER, _PIN_DIR, _STATE_DIR, _CONFIG and
 * _CONTAINER_RUNTIMES empty, RINGFENCE_SYSTEMCTL=/bin/false (no host systemd or runtime asked),
 * RINGFENCE_REQUESTOR unset, RINGFENCE_PACKET_GUARD=off,
 * RINGFENCE_RESOLV_CONF=<state_dir>/resolv.conf,
 * RINGFENCE_DHCP_LEASES=<state_dir>/dhcp-leases; then env
 * ("NAME=value", NULL-terminated, NULL = none) on top (so RINGFENCE_PACKET_GUARD=on wins).
 * stdin is /dev/null, stdout/stderr go to ofd/efd (-1 = /dev/null). Returns the pid (not
 * tracked), or -errno: -EINVAL without the private paths, -E2BIG past RFT_CLI_MAX_ENV. */
pid_t rft_cli_start(char *const env[], char *const args[], int ofd, int efd);
/* rft_cli_start() and wait: the exit status, -1 if the CLI did not exit normally or did not start;
 * out/err as rft_exec(). */
int rft_cli_argv(char *const env[], char *const args[], char **out, char **err);

/* rft_cli() with extra environment entries ("NAME=value", NULL-terminated; NULL = none) applied
 * after rft_cli()'s own (so RINGFENCE_PACKET_GUARD=on or RINGFENCE_REQUESTOR=x win). Runs in the
 * device netns. Returns the exit status, -1 if it did not exit normally. */
int rfp_cli_env(char *const env[], char **out, char **err, ...) __attribute__((sentinel));
/* The same CLI started in the background (output discarded); returns the pid (tracked) or
 * -errno. */
pid_t rfp_cli_spawn(char *const env[], ...) __attribute__((sentinel));
/* stdout of a CLI call that must exit 0 (asserts); caller frees. */
char *rfp_cli_out(const char *arg, ...) __attribute__((sentinel));

/* `status --json` of the test's ringfence: 1 isolated, 0 not; asserts that status works. */
int rft_status_isolated(void);

#endif /* RFT_CLI_H */
