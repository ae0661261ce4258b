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
	const char *btf; /* --btf FILE, else the config's 'btf', else NULL: the kernel's BTF */
	bool json;
	bool verbose;
	char cg_dir[PATH_MAX]; /* resolved target cgroup directory */
	bool packet_guard; /* tc layer wanted in this namespace (decided by the config) */
	__u64 cg_id;
};

#include "rf_state.h"

#define EXIT_OPFAIL 1
#define EXIT_USAGE 2

/* Prints why and returns EXIT_OPFAIL unless running as root. */
int rf_cli_need_root(void);
/* Resolve --cgroup (default: the cgroup2 root) into cli->cg_dir/cg_id; prints the problem. */
int rf_cli_resolve_cgroup(struct rf_cli *cli);
/* Take the state-dir lock; prints the problem and returns < 0 on failure. */
int rf_cli_lock(struct rf_cli *cli);
/* Load and attach if needed, open the maps, re-apply persisted rules and (with_config) the
 * config file. Prints the problem on failure. */
int rf_cli_ensure_loaded(struct rf_cli *cli, struct rf_maps *m, bool with_config);
/* Make the maps match the config file (add first, then remove); nothing changes on error. */
int rf_cli_apply_config(struct rf_cli *cli, struct rf_maps *m);
/* Attach the tc packet-socket guard to this namespace's interfaces if the mode (RF_GUARD_*,
 * overridden by $RINGFENCE_PACKET_GUARD) asks for it; auto = only when the target is the root. */
void rf_cli_packet_guard(struct rf_cli *cli, int mode);
/* Isolated now: flag set and deadline (if any) not reached. */
bool rf_cli_isolated_now(const struct rf_config *cfg);
/* Record an action as InProgress / with its final status; finish returns code. */
void rf_cli_action_start(struct rf_cli *cli, struct rf_action *a, const char *type,
			 const char *comment);
/*
 * Like start, but nothing is written until finish (one write, after the action took effect):
 * for isolate, so the flag is not held up by an fsync'ed history write.
 */
void rf_cli_action_defer(struct rf_action *a, const char *type, const char *comment);
int rf_cli_action_finish(struct rf_cli *cli, struct rf_action *a, const char *error, int code);

/* Re-apply the rules persisted in the state dir to freshly created maps. */
int rf_cli_apply_persisted(struct rf_cli *cli, struct rf_maps *m);
/* Keep rf_config.flags in step with the maps (RF_CFG_EXE_RULES). */
void rf_cli_sync_flags(struct rf_maps *m);

#endif /* RF_CLI_H */
