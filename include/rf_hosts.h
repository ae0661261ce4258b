/* SPDX-License-Identifier: GPL-2.0-only */
/* Host rules (allow by name): the names map, learned addresses, and ringfence's own lookups. */
#ifndef RF_HOSTS_H
#define RF_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include "rf_maps.h"
#include "rf_rule.h"

/*
 * Add or delete host rule r in the names map: 0, -EEXIST (already there), -ENOENT (del of a rule
 * not there), -ENOSPC (map full: err says so), or -errno with err set.
 */
int rf_host_change(const struct rf_maps *m, const struct rf_rule *r, bool add, char *err,
		   size_t errlen);

#endif /* RF_HOSTS_H */
