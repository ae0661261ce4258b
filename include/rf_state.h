/* SPDX-License-Identifier: GPL-2.0-only */
/* Persistent state in the state dir: allow rules, isolation record; locks and history. */
#ifndef RF_STATE_H
#define RF_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <linux/types.h>
#include "rf_history.h"
#include "rf_lock.h"

#define RF_STATE_DIR_DEFAULT "/var/lib/ringfence"

/* "<dir>/<name>" */
void rf_state_path(char *buf, size_t len, const char *dir, const char *name);

/*
 * Open the state dir (creating it 0700, and missing parents 0755, when create) after checking
 * that it can be trusted, as systemd's mkdir_safe() does: a real directory (-ELOOP for a
 * symlink), owned by root (or the effective uid) and not writable by its group or others, and
 * every directory above it owned by root (or the euid) and not writable by others unless
 * sticky (-EPERM otherwise). Returns a directory fd or -errno (-ENOENT: missing, !create).
 */
int rf_state_dir_open(const char *state_dir, bool create);
/* What to tell the user about a state dir error from these functions (NULL: strerror will do). */
const char *rf_state_dir_problem(int err);
/* "strerror: what to do" for a state error, for messages (a static buffer). */
const char *rf_state_problem(int err);
/* Open NAME in the checked state dir: O_NOFOLLOW, regular files only (-EISDIR, -ELOOP). */
int rf_state_open_file(const char *state_dir, const char *name, int flags);
/* Read NAME whole (NUL-terminated, malloc'd) / replace it atomically (unpredictable temp name,
 * fsync, rename, fsync of the dir). 0 or -errno; on error the old file is intact. */
int rf_state_read(const char *state_dir, const char *name, char **data, size_t *len);
int rf_state_write(const char *state_dir, const char *name, const char *data, size_t len);

/*
 * Strings in state files are byte-exact for every byte value: valid UTF-8 as it is, a backslash
 * and bytes that are not valid UTF-8 as "\\" and "\xNN" inside the JSON string (which jansson
 * escapes further). rf_state_str_dup() undoes it (NULL: malformed, or NUL inside).
 */
json_t *rf_state_json_str(const char *s);
char *rf_state_str_dup(const json_t *j);
/* obj.key into out ("" when absent; -EBADMSG when malformed) / obj.key = s. */
int rf_state_str_get(const json_t *obj, const char *key, char *out, size_t len);
int rf_state_str_set(json_t *obj, const char *key, const char *s);
/* Write doc as the whole of NAME (rf_state_write()). */
int rf_state_json_write(const char *state_dir, const char *name, const json_t *doc);
/* A state document {"format": format, "version": N, ...} from data, or NULL with *err set
 * (-EBADMSG: damaged, or another format). */
json_t *rf_state_doc_parse(const char *data, const char *format, int *err);
/* Does data hold a JSON object (rather than a file of the release before JSON state)? */
bool rf_state_is_json(const char *data);

/* Split data (modified) into its non-empty lines, malloc'd; free with rf_lines_free(). */
int rf_split_lines(char *data, char ***lines, size_t *n);

/*
 * <state>/config-applied: what the config file last put into the maps, one canonical rule per line
 * after a "# map-id N" header, so the next apply removes what the file no longer allows.
 */
#define RF_CONFIG_APPLIED "config-applied"

/*
 * A list of strings in <state>/NAME: {"format":"ringfence-lines","version":2,"lines":[...]}.
 * Any byte but NUL may be in an entry (a newline does not make two). A file of the previous
 * release (one entry per line) is still read. A missing file is no lines; a damaged one is
 * -EBADMSG.
 */
int rf_state_lines_load(const char *state_dir, const char *name, char ***lines, size_t *n);

/* Replace <state>/NAME atomically with header (if not NULL) and lines. */
int rf_state_lines_save(const char *state_dir, const char *name, const char *header,
			char *const *lines, size_t n);

/* Persisted allow rules: canonical rule texts (rf_rule_format()) in <state>/rules. */
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
	/* how far the --for deadline lies beyond the --confirm-within one (0: not beyond), so
	 * that confirm moves the kernel deadline on the kernel's own clock */
	__u64 for_after_confirm_ns;
	__u64 since_unix_ns;
	__u64 deadline_unix_ns; /* 0 = none */
	/* the kernel deadline (CLOCK_BOOTTIME) in the boot that boot_id names, and that boot's
	 * CLOCK_BOOTTIME -> wall clock offset when it was set: the lapse time in the history is
	 * the kernel's, not when someone noticed */
	__u64 deadline_boot_ns;
	__u64 boot_to_unix_ns;
	/* deadline_unix_ns was taken from a wall clock the kernel said was synchronized
	 * (rf_clock_synced()): only then may it end an isolation after a reboot */
	bool deadline_synced;
	char boot_id[40];
	char comment[1024];
};
/* The record as JSON (the isolation file's document) and back. */
json_t *rf_isolation_json(const struct rf_isolation *iso);
int rf_isolation_from_json(const json_t *doc, struct rf_isolation *iso);
/*
 * What is left of the record's deadline (iso->deadline_unix_ns set) now, 0 when it has passed.
 * In the boot that set it (iso->boot_id == boot_id) the kernel's CLOCK_BOOTTIME decides, which
 * nobody can set. After a reboot: passed when rf_isolation_wall_passed() says so; otherwise
 * the time the record kept as left (remaining_ns): the downtime does not count (fail closed:
 * a clock set forward before the reboot, a board without an RTC that boots in 1970).
 */
__u64 rf_isolation_left(const struct rf_isolation *iso, const char *boot_id, __u64 now_boot,
			__u64 now_unix, bool synced);
/*
 * Did the deadline of a record from another boot pass by the wall clock, and can that clock be
 * trusted: synchronized now (synced) and when the deadline was taken (deadline_synced)?
 */
bool rf_isolation_wall_passed(const struct rf_isolation *iso, const char *boot_id, __u64 now_unix,
			      bool synced);
/* When the record's deadline was (or will be) reached, on the wall clock, for the history. */
__u64 rf_isolation_deadline_unix(const struct rf_isolation *iso, const char *boot_id,
				 __u64 now_boot, __u64 now_unix);

/* <state>/isolation (JSON; the previous release's key=value file is still read). A missing
 * file is "not isolated"; a damaged one -EBADMSG. */
int rf_isolation_load(const char *state_dir, struct rf_isolation *iso);
int rf_isolation_save(const char *state_dir, const struct rf_isolation *iso);

/* Add (if missing) or remove `text` in the persisted rules. */
int rf_rules_change(const char *state_dir, const char *text, bool add);

/*
 * The journal, <state>/journal: what a command is about to do, written before it touches the
 * kernel and removed once its effect is recorded. A command killed in between leaves it behind,
 * and the next command (or the agent) finishes or fails it (rf_svc_recover()). intent gets
 * format, version and the boot id added.
 */
#define RF_JOURNAL "journal"
int rf_journal_write(const char *state_dir, json_t *intent);
/* The pending intent, or -ENOENT; -EBADMSG when damaged. */
int rf_journal_read(const char *state_dir, json_t **intent);
int rf_journal_clear(const char *state_dir);
/* /proc/sys/kernel/random/boot_id: which boot this is. */
int rf_boot_id(char *buf, size_t len);

/*
 * Test only: a command SIGKILLs itself at the step that $RINGFENCE_TEST_CRASH_AT names
 * ("intent", "applied", "recorded"), so tests prove that the next command converges.
 */
void rf_crash_point(const char *step);

#endif /* RF_STATE_H */
