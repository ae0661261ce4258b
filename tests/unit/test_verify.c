// SPDX-License-Identifier: GPL-2.0-only
/*
 * isolate --verify's verdicts (issue 21 item 3): a failed check rolls back only when the
 * isolation is its proven cause; what the host's state (or a process of the target) explains
 * keeps the isolation.
 */
#include <errno.h>
#include <criterion/criterion.h>
#include "rf_verify.h"
#include "helpers.h"

#define NONE RF_VERIFY_NO_OUTSIDE

Test(verify, judge_endpoint_and_deny_checks)
{
	static const struct {
		bool deny;
		int inside;
		bool no_socket;
		int outside;
		enum rf_check_verdict want;
		const char *what;
	} cases[] = {
	    {false, 0, false, NONE, RF_CHECK_OK, "connected"},
	    /* with an outside probe: only "works outside, not inside" is the isolation's doing */
	    {false, EPERM, false, 0, RF_CHECK_FAILED, "hook refused, outside connects"},
	    {false, ETIMEDOUT, false, 0, RF_CHECK_FAILED, "cut by a packet hook"},
	    {false, EPERM, false, EPERM, RF_CHECK_INCONCLUSIVE, "EPERM outside too (netfilter)"},
	    {false, EADDRNOTAVAIL, false, EADDRNOTAVAIL, RF_CHECK_INCONCLUSIVE,
	     "no free port (V1)"},
	    {false, ETIMEDOUT, false, ETIMEDOUT, RF_CHECK_INCONCLUSIVE, "endpoint down"},
	    {false, ENETUNREACH, false, ENETUNREACH, RF_CHECK_INCONCLUSIVE, "no route"},
	    {false, ECONNREFUSED, false, ECONNREFUSED, RF_CHECK_INCONCLUSIVE, "nothing listens"},
	    /* without one (the host target): only the connect hook's refusal */
	    {false, EPERM, false, NONE, RF_CHECK_FAILED, "hook refused, no outside"},
	    {false, ETIMEDOUT, false, NONE, RF_CHECK_INCONCLUSIVE, "timeout, no outside"},
	    {false, EADDRNOTAVAIL, false, NONE, RF_CHECK_INCONCLUSIVE, "no port, no outside"},
	    {false, ENETUNREACH, false, NONE, RF_CHECK_INCONCLUSIVE, "no route, no outside"},
	    {false, EAFNOSUPPORT, true, NONE, RF_CHECK_INCONCLUSIVE, "no IPv6 (V4)"},
	    {false, EPERM, true, NONE, RF_CHECK_INCONCLUSIVE, "socket() refused"},
	    /* the deny check: EPERM from the hook, or the host cannot make the socket at all */
	    {true, EPERM, false, NONE, RF_CHECK_OK, "deny refused"},
	    {true, 0, false, NONE, RF_CHECK_FAILED, "deny connected"},
	    {true, ETIMEDOUT, false, NONE, RF_CHECK_FAILED, "deny not refused by the hook"},
	    {true, ENETUNREACH, false, NONE, RF_CHECK_FAILED, "deny reached the route lookup"},
	    {true, EAFNOSUPPORT, true, NONE, RF_CHECK_INCONCLUSIVE, "deny, ipv6.disable=1 (V4)"},
	    {true, EMFILE, true, NONE, RF_CHECK_INCONCLUSIVE, "deny, no descriptor"},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		cr_expect_eq(rf_verify_judge(cases[i].deny, cases[i].inside, cases[i].no_socket,
					     cases[i].outside),
			     cases[i].want, "%s", cases[i].what);
}
