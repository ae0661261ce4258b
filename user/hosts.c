// SPDX-License-Identifier: GPL-2.0-only
/* Host rules: the names map the programs match DNS answers against, and learned addresses. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "rf_hosts.h"

int rf_host_change(const struct rf_maps *m, const struct rf_rule *r, bool add, char *err,
		   size_t errlen)
{
	(void)m;
	(void)r;
	(void)add;
	snprintf(err, errlen, "%s", "host rules are not supported by this build");
	return -EOPNOTSUPP;
}
