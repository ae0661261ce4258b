// SPDX-License-Identifier: GPL-2.0-only
/* Which sockets made outside a target are kept (issue 21 item 2): loopback and allowed flows. */
#include <arpa/inet.h>
#include <string.h>
#include <criterion/criterion.h>
#include "rf_foreign.h"
#include "helpers.h"

static void addr(__u8 out[16], const char *s)
{
	memset(out, 0, 16);
	if (strchr(s, ':')) {
		inet_pton(AF_INET6, s, out);
	} else {
		out[10] = out[11] = 0xff;
		inet_pton(AF_INET, s, out + 12);
	}
}

static bool allow_443(const struct rf_foreign_sock *s, void *arg)
{
	(void)arg;
	return s->rport == 443;
}

Test(foreign, keep_only_loopback_and_allowed_connections)
{
	static const struct {
		const char *local, *remote;
		__u16 lport, rport;
		__u8 state;
		bool keep;
		const char *what;
	} cases[] = {
	    {"0.0.0.0", "0.0.0.0", 8080, 0, 10, false, "listener on every address"},
	    {"::", "::", 8080, 0, 10, false, "IPv6 listener on every address"},
	    {"127.0.0.1", "0.0.0.0", 8080, 0, 10, true, "listener on loopback"},
	    {"::1", "::", 8080, 0, 10, true, "IPv6 listener on loopback"},
	    {"0.0.0.0", "0.0.0.0", 53, 0, 7, false, "unconnected UDP"},
	    {"192.0.2.1", "192.0.2.2", 40000, 443, 1, true, "connection a rule allows"},
	    {"2001:db8::1", "2001:db8::2", 40000, 443, 1, true, "IPv6 connection a rule allows"},
	    {"192.0.2.1", "192.0.2.2", 40000, 8202, 1, false, "connection no rule allows"},
	    {"2001:db8::1", "2001:db8::2", 40000, 8202, 1, false, "IPv6, no rule"},
	    {"192.0.2.1", "127.0.0.1", 40000, 8202, 1, true, "connected to loopback"},
	    {"192.0.2.1", "192.0.2.2", 443, 0, 10, false, "listener on an allowed port"},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct rf_foreign_sock s = {.lport = cases[i].lport,
					    .rport = cases[i].rport,
					    .state = cases[i].state,
					    .proto = 6};

		addr(s.local, cases[i].local);
		addr(s.remote, cases[i].remote);
		cr_expect_eq(rf_foreign_keep(&s, allow_443, NULL), cases[i].keep, "%s",
			     cases[i].what);
	}
}
