/* SPDX-License-Identifier: GPL-2.0-only */
/* The action history in <state>/history: append-only, one JSON record per line, last record of
 * an id wins. */
#ifndef RF_HISTORY_H
#define RF_HISTORY_H

#include <stdio.h>
#include <jansson.h>
#include <linux/types.h>

/* The longest record line, for the encoder and the decoder alike: every field at its size limit
 * with each byte escaped as \u00XX (6 bytes) is 13.3 KB. */
#define RF_HISTORY_LINE_MAX 16384
/* Ids are 1 .. 2^53 - 1 (exact in every JSON reader); another id is a damaged record. */
#define RF_HISTORY_ID_MAX ((1ULL << 53) - 1)
/* history is moved to history.1 (dropping the one before) past this size. */
#define RF_HISTORY_ROTATE_BYTES (4L * 1024 * 1024)

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
	char warning[512]; /* e.g. a config error that did not stop the action */
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
/* Read all actions (history.1, then history), oldest first. A damaged line is skipped, never
 * fatal. */
int rf_history_load(const char *state_dir, struct rf_action **acts, size_t *n);
/* One action as a JSON document (jansson; the caller releases it), with "target" first unless
 * target is NULL; NULL when out of memory. */
json_t *rf_action_doc(const struct rf_action *a, const char *target);
/* rf_action_doc() written to f on one line, no newline. 0 or -errno (rf_json_write()). */
int rf_action_json(FILE *f, const struct rf_action *a, const char *target);

/* An action as the JSON object of its history record, and back (-EINVAL: not one). */
json_t *rf_action_to_json(const struct rf_action *a);
int rf_action_from_json(const json_t *o, struct rf_action *a);

/* Who asks: $RINGFENCE_REQUESTOR, else "user:<SUDO_USER or login name or uid>". */
void rf_requestor(char *buf, size_t len);

/* Record serialisation, exposed for tests: one line of JSON; -E2BIG past len. The decoder also
 * reads the previous release's tab-separated records. */
int rf_action_encode(const struct rf_action *a, char *buf, size_t len);
int rf_action_decode(const char *line, struct rf_action *a);

#endif /* RF_HISTORY_H */
