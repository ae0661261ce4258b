/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * isolate --verify: after isolating, a probe process inside the isolated cgroup (in the caller's
 * network namespace) must reach every management endpoint over TCP, and a connect to an address
 * no rule allows must fail with EPERM at once (the hook refuses it: no packet is sent).
 *
 * Nothing a process of the target does may end its isolation, so a failure rolls back only
 * when the isolation is its proven cause: the same connect works from outside the target (the
 * CLI itself, when it runs outside), or, with no outside to compare with (the host target), the
 * connect hook refused it (EPERM). What the host's state explains (no free local port, no route,
 * no IPv6 socket, a probe that could not start in the target) is inconclusive: reported, and
 * the isolation stays.
 */
#ifndef RF_VERIFY_H
#define RF_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "rf_maps.h"

#define RF_VERIFY_MAX		     16 /* --verify endpoints */
#define RF_VERIFY_TIMEOUT_DEFAULT_MS 5000

struct rf_endpoint {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64]; /* as given back: "192.0.2.2:443", "[2001:db8::2]:443" */
};

/* "HOST:PORT" (IPv4) or "[IPv6]:PORT", port 1..65535. 0 or -EINVAL with err set. */
int rf_endpoint_parse(const char *s, struct rf_endpoint *e, char *err, size_t errlen);

#define RF_VERIFY_NO_OUTSIDE (-1) /* outside_err: no probe from outside the target ran */

struct rf_verify_check {
	char what[96]; /* "connect 192.0.2.2:443", "deny 198.51.100.254:9" */
	bool ok;
	bool skipped;	   /* deny check: every candidate address is allowed by a rule */
	bool inconclusive; /* failed, but not provably because of the isolation: kept */
	bool no_socket;	   /* err came from socket() (EAFNOSUPPORT without IPv6, EMFILE) */
	int err;	   /* errno of the connect, 0 = connected */
	int outside_err;   /* the same connect from outside the target, or RF_VERIFY_NO_OUTSIDE */
	long ms;
};

enum rf_check_verdict {
	RF_CHECK_OK,
	RF_CHECK_FAILED,       /* the isolation cut it: roll back */
	RF_CHECK_INCONCLUSIVE, /* the host's state (or the target) may explain it: keep */
};

/*
 * The verdict of one check from its errno inside the target (no_socket: socket() failed) and
 * the errno of the same connect from outside it (RF_VERIFY_NO_OUTSIDE when none ran). deny: the
 * check that a connect to an address no rule allows is refused. Pure, for the unit tests.
 * Example: inside EADDRNOTAVAIL (every local port taken), outside EADDRNOTAVAIL: inconclusive.
 */
enum rf_check_verdict rf_verify_judge(bool deny, int inside, bool no_socket, int outside);

/*
 * Run the checks from a probe process in cgroup cg_dir (or a child cgroup of it where the cgroup
 * cannot hold processes itself). checks receives n + 2 entries (the endpoints, then the IPv4 and
 * IPv6 deny checks); *nchecks is set. Returns 0 when no check failed (inconclusive ones are
 * flagged), -EPERM when one failed, another -errno when the probe could not run or finish
 * (which proves nothing either way).
 */
int rf_verify_run(const char *cg_dir, const struct rf_maps *m, const struct rf_endpoint *eps, int n,
		  int timeout_ms, struct rf_verify_check *checks, int *nchecks);

#endif /* RF_VERIFY_H */
