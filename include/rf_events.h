/* SPDX-License-Identifier: GPL-2.0-only */
/* Blocked-attempt events: formatting as aligned text or ECS JSON lines. */
#ifndef RF_EVENTS_H
#define RF_EVENTS_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "ringfence.h"

const char *rf_transport_name(unsigned int proto);

/* Context the kernel cannot give: wall-clock offset and the resolved executable path. */
struct rf_event_ctx {
	__u64 boot_to_unix_ns; /* add to ts_boot_ns to get CLOCK_REALTIME */
	const char *exe_path;  /* NULL when unknown */
	const char *hostname;
	const char *target; /* the target's cgroup path ("/", "/system.slice/x.service") or NULL */
	char exe_buf[4096]; /* where rf_event_prepare() resolves exe_path */
};

/* A record from the ring buffer as an event, with c->exe_path resolved (rf_event_exe_path());
 * NULL when the record is too short to be one. */
const struct rf_event *rf_event_prepare(struct rf_event_ctx *c, const void *data, size_t len);

/*
 * Executable of the event's process: /proc/PID/exe if it is still the file (device+inode) the
 * kernel reported, else the path the kernel recorded in the event (rf_event_kernel_exe_path());
 * NULL when neither is known (packet hooks).
 */
const char *rf_event_exe_path(const struct rf_event *e, char *buf, size_t len);

/* The event's exe_path components as a path ("/usr/bin/curl"; "...", first, when the kernel
 * stopped before the root); NULL when the event has none. */
const char *rf_event_kernel_exe_path(const struct rf_event *e, char *buf, size_t len);

void rf_event_text_header(FILE *f);
void rf_event_text(FILE *f, const struct rf_event *e, const struct rf_event_ctx *c);
/*
 * The event as one ECS JSON document (jansson; the caller releases it), NULL when out of memory.
 * The kernel's view of the process and the target are under "ringfence" (one object: hook,
 * cgroup_id, exe_dev, exe_inode, socket_type, target).
 */
json_t *rf_event_doc(const struct rf_event *e, const struct rf_event_ctx *c);
/* rf_event_doc() on one line of f, newline-terminated. 0 or -errno (rf_json_write()). */
int rf_event_json(FILE *f, const struct rf_event *e, const struct rf_event_ctx *c);

/*
 * One line (no newline) of the agent's events.jsonl to out, newline-terminated: as text, made
 * safe for a terminal (rf_safe_str()); as JSON, only a JSON object, written strictly (a line of
 * an earlier agent with a duplicate key is written again without it). -EINVAL (nothing written)
 * for a line that is not a JSON object: torn by a crash, or damaged.
 */
int rf_event_log_line(FILE *out, const char *line, bool json);

/* Format an event address ("192.0.2.1" for mapped IPv4, else IPv6). */
void rf_event_addr(const __u8 a[16], char *buf, size_t len);

#endif /* RF_EVENTS_H */
