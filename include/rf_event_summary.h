/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Summary events: blocked attempts that did not get an event of their own. The kernel counts the
 * attempts the event rate limit (or a full ring buffer) held back per flow in rf_suppressed; the
 * agent drains that map into one summary event per flow, and its log (events.jsonl) turns over by
 * line count, starting each new file with a summary of every distinct flow of the one it rotated
 * away. So every distinct blocked flow is reported, however hard another one floods.
 */
#ifndef RF_EVENT_SUMMARY_H
#define RF_EVENT_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "rf_events.h"

/* One flow of rf_suppressed (or of a rotated log): what it was and how often. */
typedef void (*rf_flow_fn)(const struct rf_flow_key *k, const struct rf_flow_count *c, void *arg);

/*
 * Take every entry out of rf_suppressed (map_fd): fn for each, then delete it (lookup-and-delete
 * where the kernel has it: attempts counted meanwhile are not lost). At most max entries per call
 * (the rest waits for the next). Returns how many, or -errno.
 */
int rf_suppressed_drain(int map_fd, size_t max, rf_flow_fn fn, void *arg);

/*
 * One ECS JSON line for a flow: the fields of rf_event_json() for its first attempt, plus
 * "ringfence.summary": {"count", "first", "last", "cause"} (cause: "rate_limited" for the kernel's
 * held-back attempts, "rotated" for the summary of a rotated log). Written with jansson.
 */
void rf_flow_summary_json(FILE *f, const struct rf_flow_key *k, const struct rf_flow_count *c,
			  const struct rf_event_ctx *ec, const char *cause);

struct rf_foreign_sock;
/* One ECS JSON line: a socket made outside the target, held inside it, cut (issue 21 item 2). */
void rf_foreign_json(FILE *f, const struct rf_foreign_sock *s, const struct rf_event_ctx *ec);

/* The flow an event belongs to (the key rf_suppressed uses). */
void rf_event_flow(const struct rf_event *e, struct rf_flow_key *k, struct rf_flow_count *c);

/*
 * Distinct flows of the agent's current log file, with counts: the summary written at the head
 * of the next file when the log rotates. Bounded: flows past RF_FLOW_TABLE_MAX are only counted
 * in `others`.
 */
#define RF_FLOW_TABLE_MAX 4096

struct rf_flow_table {
	struct rf_flow_slot {
		struct rf_flow_key k;
		struct rf_flow_count c;
		bool used;
	} * slot; /* RF_FLOW_TABLE_MAX * 2, open addressing */
	size_t n;
	__u64 others; /* attempts of flows that found no room */
};

/* Count one event (count attempts, last_ns) under its flow. 0, or -ENOMEM. */
int rf_flow_table_add(struct rf_flow_table *t, const struct rf_flow_key *k,
		      const struct rf_flow_count *c);
/* fn for every flow, in no particular order. */
void rf_flow_table_each(const struct rf_flow_table *t, rf_flow_fn fn, void *arg);
/* Forget every flow (the memory stays for the next file). */
void rf_flow_table_clear(struct rf_flow_table *t);
void rf_flow_table_free(struct rf_flow_table *t);

/*
 * The agent's event log <state>/events.jsonl: turns over after RF_EVENTS_LOG_LINES lines (or
 * RF_EVENTS_LOG_MAX bytes) to events.jsonl.1 (the older ones move up to .RF_EVENTS_LOG_KEEP, the
 * oldest goes), and the new file starts with one summary line (cause "rotated") per distinct
 * flow of the file just rotated away: a flood that turns the log over fast does not take the
 * other flows' record with it.
 */
#define RF_EVENTS_LOG_LINES 20000
#define RF_EVENTS_LOG_MAX   (16 * 1024 * 1024)
#define RF_EVENTS_LOG_KEEP  4

struct rf_event_log {
	FILE *f;	 /* NULL: events go to stdout only */
	char dir[4096];	 /* the state dir */
	char path[4200]; /* <dir>/events.jsonl */
	__u64 lines;
	struct rf_flow_table flows;
	const struct rf_event_ctx *ec;
};

/* Open (append) <state_dir>/events.jsonl in the checked state dir, never through a symlink
 * (rf_state_open_file()), rotating first if it is full. Warns on failure. */
void rf_event_log_open(struct rf_event_log *l, const char *state_dir,
		       const struct rf_event_ctx *ec);
/* Append an event (and rotate when full). */
void rf_event_log_event(struct rf_event_log *l, const struct rf_event *e);
/* Append a summary line of a flow held back in the kernel (and count it). */
void rf_event_log_flow(struct rf_event_log *l, const struct rf_flow_key *k,
		       const struct rf_flow_count *c);
void rf_event_log_close(struct rf_event_log *l);

#endif /* RF_EVENT_SUMMARY_H */
