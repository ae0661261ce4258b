/* SPDX-License-Identifier: GPL-2.0-only */
/* CLI context shared by the commands. */
#ifndef RF_CLI_H
#define RF_CLI_H

#include <limits.h>
#include <stdbool.h>
#include "rf_loader.h"

#define RF_CONFIG_DEFAULT "/etc/ringfence/ringfence.conf"

struct rf_cli {
	const char *cgroup; /* as given, NULL = cgroup2 root */
	const char *pin_dir;
	const char *state_dir;
	const char *config;
	bool json;
	bool verbose;
	char cg_dir[PATH_MAX]; /* resolved target cgroup directory */
	__u64 cg_id;
};

/* Re-apply the rules persisted in the state dir to freshly created maps. */
int rf_cli_apply_persisted(struct rf_cli *cli, struct rf_maps *m);
/* Keep rf_config.flags in step with the maps (RF_CFG_EXE_RULES). */
void rf_cli_sync_flags(struct rf_maps *m);

#endif /* RF_CLI_H */
