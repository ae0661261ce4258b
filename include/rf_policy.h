/* SPDX-License-Identifier: GPL-2.0-only */
/* Applying rules to the pinned maps. Each change is one atomic map update. */
#ifndef RF_POLICY_H
#define RF_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include "rf_loader.h"
#include "rf_rule.h"

/* Identity of an executable file as the kernel sees it (kernel s_dev encoding, inode). */
int rf_exe_key_for(const char *path, struct rf_exe_key *k, char *err, size_t errlen);

/*
 * The user an exe rule allows: user "" = the owner of the file at path, "any" (*any set), a uid
 * or a user name. 0, or -errno with err set.
 */
int rf_exe_user_resolve(const char *path, const char *user, __u32 *uid, bool *any, char *err,
			size_t errlen);

/*
 * Add (or remove) one user (or, with any, RF_EXE_ANY_USER) in an rf_allow_exe_v3 value: 0,
 * -EEXIST / -ENOENT when already there / absent, -ENOSPC when RF_EXE_MAX_USERS are used. Pure.
 */
int rf_exe_users_change(struct rf_exe_users *v, __u32 uid, bool any, bool add);

/*
 * Add or delete one rule in the maps. Resolves exe and cgroup paths. Returns 0, -EEXIST (add of
 * a rule already present), -ENOENT (del of a rule not present), or -errno with err set.
 * target_dir: the cgroup directory ringfence enforces on; a cgroup rule for it or an ancestor
 * would exempt every process and is refused.
 */
int rf_policy_change(const struct rf_maps *m, const struct rf_rule *r, bool add,
		     const char *target_dir, char *err, size_t errlen);

/* Call fn for every net entry in the map until it returns non-zero. */
int rf_policy_for_each_net(const struct rf_maps *m,
			   int (*fn)(const struct rf_net_key *k, const struct rf_net_entry *e,
				     void *arg),
			   void *arg);

/* Number of keys (of up to 256 bytes) in a hash or LPM map (stops counting at limit). */
size_t rf_map_count(int fd, size_t key_size, size_t limit);

#endif /* RF_POLICY_H */
