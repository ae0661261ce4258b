/* SPDX-License-Identifier: GPL-2.0-only */
/* Persistent state in the state dir: lock, allow rules, isolation record, action history. */
#ifndef RF_STATE_H
#define RF_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#define RF_STATE_DIR_DEFAULT "/var/lib/ringfence"
#define RF_LOCK_TIMEOUT_MS 10000

/* Take the state-dir lock (waits up to RF_LOCK_TIMEOUT_MS). Returns an fd >= 0 or -errno. */
int rf_state_lock(const char *state_dir);
/* The same lock without waiting: -EBUSY while a CLI holds it. */
int rf_state_trylock(const char *state_dir);
void rf_state_unlock(int fd);

/* The running agent holds <state>/agent.lock for its lifetime. rf_agent_lock() returns the fd
 * (>= 0), -EBUSY if another agent runs, or -errno. rf_agent_running() asks without taking it. */
int rf_agent_lock(const char *state_dir);
bool rf_agent_running(const char *state_dir);

/*
 * <state>/config-applied: what the config file last put into the maps, one canonical rule per line
 * after a "# map-id N" header, so the next apply removes what the file no longer allows.
 */
#define RF_CONFIG_APPLIED "config-applied"

/* The non-empty lines of <state>/NAME; a missing file is no lines. */
int rf_state_lines_load(const char *state_dir, const char *name, char ***lines, size_t *n);

/* Persisted allow rules: one canonical rule per line in <state>/rules. */
int rf_rules_load(const char *state_dir, char ***lines, size_t *n);
int rf_rules_save(const char *state_dir, char *const *lines, size_t n);
void rf_lines_free(char **lines, size_t n);

/* What the last isolate said, so status and a restarted agent know it. */
struct rf_isolation {
	bool isolated;
	__u64 since_unix_ns;
	__u64 deadline_unix_ns; /* 0 = none */
	char comment[1024];
};
int rf_isolation_load(const char *state_dir, struct rf_isolation *iso);
int rf_isolation_save(const char *state_dir, const struct rf_isolation *iso);

enum rf_action_status { RF_ACT_PENDING, RF_ACT_IN_PROGRESS, RF_ACT_SUCCEEDED, RF_ACT_FAILED };

struct rf_action {
	__u64 id;
	char type[32]; /* isolate, release, allow-add, allow-del, load, unload, auto-release ... */
	enum rf_action_status status;
	char requestor[128];
	__u64 requested_unix_ns;
	__u64 completed_unix_ns;
	char comment[1024];
	char error[512];
};

const char *rf_action_status_name(enum rf_action_status s);

/* Append a new action (status InProgress); fills a->id. */
int rf_action_begin(const char *state_dir, struct rf_action *a);
/* Record the final status of action a (Succeeded if error is NULL, else Failed). */
int rf_action_end(const char *state_dir, struct rf_action *a, const char *error);
/*
 * Append an action that has already completed, in one write: for isolate, whose history write
 * comes after the flag so that isolation does not wait for an fsync. a->requested_unix_ns, if
 * set, is kept.
 */
int rf_action_record(const char *state_dir, struct rf_action *a, const char *error);
/* Read all actions, oldest first. A damaged line is skipped, never fatal. */
int rf_history_load(const char *state_dir, struct rf_action **acts, size_t *n);
/* One action as a JSON object (no newline). */
void rf_action_json(FILE *f, const struct rf_action *a);

/* Who asks: $RINGFENCE_REQUESTOR, else "user:<SUDO_USER or login name or uid>". */
void rf_requestor(char *buf, size_t len);

/* Record serialisation, exposed for tests: tab-separated with \t \n \\ escaped. */
void rf_action_encode(const struct rf_action *a, char *buf, size_t len);
int rf_action_decode(const char *line, struct rf_action *a);

#endif /* RF_STATE_H */
