/* SPDX-License-Identifier: GPL-2.0-only */
/* Persistent state in the state dir: allow rules, isolation record; locks and history. */
#ifndef RF_STATE_H
#define RF_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "rf_history.h"
#include "rf_lock.h"

#define RF_STATE_DIR_DEFAULT "/var/lib/ringfence"

/* "<dir>/<name>" */
void rf_state_path(char *buf, size_t len, const char *dir, const char *name);

/* Split data (modified) into its non-empty lines, malloc'd; free with rf_lines_free(). */
int rf_split_lines(char *data, char ***lines, size_t *n);

/*
 * <state>/config-applied: what the config file last put into the maps, one canonical rule per line
 * after a "# map-id N" header, so the next apply removes what the file no longer allows.
 */
#define RF_CONFIG_APPLIED "config-applied"

/* The non-empty lines of <state>/NAME; a missing file is no lines. */
int rf_state_lines_load(const char *state_dir, const char *name, char ***lines, size_t *n);

/* Replace <state>/NAME atomically with header (if not NULL) and lines, one per line. */
int rf_state_lines_save(const char *state_dir, const char *name, const char *header,
			char *const *lines, size_t n);

/* Persisted allow rules: one canonical rule per line in <state>/rules. */
int rf_rules_load(const char *state_dir, char ***lines, size_t *n);
int rf_rules_save(const char *state_dir, char *const *lines, size_t n);
void rf_lines_free(char **lines, size_t n);

/* What the last isolate said, so status and a restarted agent know it. */
struct rf_isolation {
	bool isolated;
	bool audit; /* audit mode: nothing blocked, would-be blocks reported */
	__u64
	    confirm_unix_ns; /* isolate --confirm-within: lapses then unless confirmed; 0 = none */
	__u64 for_unix_ns;   /* the --for deadline that 'confirm' puts in place; 0 = none */
	/*
	 * Time left before the deadline as of the last save (isolate, confirm, and the agent every
	 * minute). A reboot restores the deadline from this, never from the wall clock, which root
	 * can set forward: the downtime does not count (fail closed).
	 */
	__u64 remaining_ns;
	__u64 since_unix_ns;
	__u64 deadline_unix_ns; /* 0 = none */
	char comment[1024];
};
int rf_isolation_load(const char *state_dir, struct rf_isolation *iso);
int rf_isolation_save(const char *state_dir, const struct rf_isolation *iso);

#endif /* RF_STATE_H */
