/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * isolate --verify: after isolating, a probe process inside the isolated cgroup (in the caller's
 * network namespace) must reach every management endpoint over TCP, and a connect to an address
 * no rule allows must fail with EPERM at once (the hook refuses it: no packet is sent).
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

struct rf_verify_check {
	char what[96]; /* "connect 192.0.2.2:443", "deny 198.51.100.254:9" */
	bool ok;
	bool skipped; /* deny check: every candidate address is allowed by a rule */
	int err;      /* errno of the connect, 0 = connected */
	long ms;
};

/*
 * Run the checks from a probe process in cgroup cg_dir (or a child cgroup of it where the cgroup
 * cannot hold processes itself). checks receives n + 2 entries (the endpoints, then the IPv4 and
 * IPv6 deny checks); *nchecks is set. Returns 0 when every check passed, -EPERM when one failed,
 * another -errno when the probe could not run.
 */
int rf_verify_run(const char *cg_dir, const struct rf_maps *m, const struct rf_endpoint *eps, int n,
		  int timeout_ms, struct rf_verify_check *checks, int *nchecks);

#endif /* RF_VERIFY_H */
