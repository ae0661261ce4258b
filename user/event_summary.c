// SPDX-License-Identifier: GPL-2.0-only
/* Summary events: flows the event rate limit held back, and the summary of a rotated log. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <jansson.h>
#include "rf_event_summary.h"
#include "rf_foreign.h"
#include "rf_loader.h"
#include "rf_state.h"
#include "rf_util.h"

#define RF_ENOTSUPP 524 /* the kernel's "operation not supported" for a map type */

int rf_suppressed_drain(int map_fd, size_t max, rf_flow_fn fn, void *arg)
{
	struct rf_flow_key k, next;
	struct rf_flow_count c;
	static int has_lookup_and_delete = -1; /* hash maps: Linux 5.14 */
	size_t n = 0;
	void *prev = NULL;

	while (n < max && !bpf_map_get_next_key(map_fd, prev, &next)) {
		k = next;
		if (has_lookup_and_delete != 0) {
			int ret = bpf_map_lookup_and_delete_elem(map_fd, &k, &c) ? -errno : 0;

			if (ret == -EINVAL || ret == -RF_ENOTSUPP || ret == -EOPNOTSUPP)
				has_lookup_and_delete = 0;
			else if (ret == -ENOENT) {
				prev = NULL; /* gone meanwhile: start over */
				continue;
			} else if (ret) {
				return ret;
			} else {
				has_lookup_and_delete = 1;
				goto got;
			}
		}
		if (bpf_map_lookup_elem(map_fd, &k, &c) || bpf_map_delete_elem(map_fd, &k)) {
			prev = NULL;
			continue;
		}
	got:
		fn(&k, &c, arg);
		n++;
		prev = NULL; /* the key is gone: the next lookup starts from the first */
	}
	return (int)n;
}

void rf_event_flow(const struct rf_event *e, struct rf_flow_key *k, struct rf_flow_count *c)
{
	memset(k, 0, sizeof(*k));
	memset(c, 0, sizeof(*c));
	k->cgroup_id = e->cgroup_id;
	k->exe_dev = e->exe_dev;
	k->exe_ino = e->exe_ino;
	memcpy(k->remote, e->daddr, 16);
	k->uid = e->uid;
	k->hook = e->hook;
	k->reason = e->reason;
	k->proto = e->proto;
	k->flags = (__u8)e->flags;
	c->count = 1;
	c->first_ns = c->last_ns = e->ts_boot_ns;
	c->tgid = e->tgid;
	c->rport = e->dport;
	c->family = e->family;
	memcpy(c->comm, e->comm, RF_COMM_LEN);
}

/* The event of the flow's first attempt, as the ring buffer would have carried it. */
static void flow_event(const struct rf_flow_key *k, const struct rf_flow_count *c,
		       struct rf_event *e)
{
	memset(e, 0, sizeof(*e));
	e->ts_boot_ns = c->first_ns;
	e->cgroup_id = k->cgroup_id;
	e->exe_dev = k->exe_dev;
	e->exe_ino = k->exe_ino;
	e->pid = e->tgid = c->tgid;
	e->uid = k->uid;
	e->hook = k->hook;
	e->reason = k->reason;
	e->family = c->family;
	e->proto = k->proto;
	memcpy(e->daddr, k->remote, 16);
	e->dport = c->rport;
	e->flags = k->flags;
	memcpy(e->comm, c->comm, RF_COMM_LEN);
}

/* The summary object: counts and times of the flow's attempts. */
static json_t *summary_obj(const struct rf_flow_count *c, const struct rf_event_ctx *ec,
			   const char *cause)
{
	char first[40], last[40];

	rf_format_time(c->first_ns + ec->boot_to_unix_ns, first, sizeof(first));
	rf_format_time(c->last_ns + ec->boot_to_unix_ns, last, sizeof(last));
	return json_pack("{s:I,s:s,s:s,s:s}", "count", (json_int_t)c->count, "first", first, "last",
			 last, "cause", cause);
}

void rf_flow_summary_json(FILE *f, const struct rf_flow_key *k, const struct rf_flow_count *c,
			  const struct rf_event_ctx *ec, const char *cause)
{
	struct rf_event_ctx my = *ec;
	struct rf_event e;
	json_t *root, *rf;
	char *line = NULL;
	size_t len = 0;
	FILE *mem;

	flow_event(k, c, &e);
	my.exe_path = rf_event_exe_path(&e, my.exe_buf, sizeof(my.exe_buf));
	/* the same fields as every event, from the one writer of events */
	mem = open_memstream(&line, &len);
	if (!mem)
		return;
	rf_event_json(mem, &e, &my);
	fclose(mem);
	root = json_loads(line, 0, NULL);
	free(line);
	if (!root)
		return;
	rf = json_pack("{s:s,s:I,s:I,s:I,s:o}", "hook", rf_hook_name(k->hook), "cgroup_id",
		       (json_int_t)k->cgroup_id, "exe_dev", (json_int_t)k->exe_dev, "exe_inode",
		       (json_int_t)k->exe_ino, "summary", summary_obj(c, ec, cause));
	if (rf && ec->target)
		json_object_set_new(rf, "target", json_string(ec->target));
	if (rf)
		json_object_set_new(root, "ringfence", rf);
	if (json_dumpf(root, f, JSON_COMPACT) == 0)
		fputc('\n', f);
	json_decref(root);
}

static size_t flow_hash(const struct rf_flow_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	size_t h = 1469598103934665603ULL, i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

int rf_flow_table_add(struct rf_flow_table *t, const struct rf_flow_key *k,
		      const struct rf_flow_count *c)
{
	const size_t cap = RF_FLOW_TABLE_MAX * 2;
	size_t i, probe;

	if (!t->slot && !(t->slot = calloc(cap, sizeof(*t->slot))))
		return -ENOMEM;
	for (probe = 0, i = flow_hash(k) % cap; probe < cap; probe++, i = (i + 1) % cap) {
		struct rf_flow_slot *s = &t->slot[i];

		if (!s->used) {
			if (t->n >= RF_FLOW_TABLE_MAX)
				break;
			s->used = true;
			s->k = *k;
			s->c = *c;
			t->n++;
			return 0;
		}
		if (!memcmp(&s->k, k, sizeof(*k))) {
			s->c.count += c->count;
			if (c->last_ns > s->c.last_ns)
				s->c.last_ns = c->last_ns;
			if (c->first_ns < s->c.first_ns)
				s->c.first_ns = c->first_ns;
			return 0;
		}
	}
	t->others += c->count;
	return 0;
}

void rf_flow_table_each(const struct rf_flow_table *t, rf_flow_fn fn, void *arg)
{
	size_t i;

	for (i = 0; t->slot && i < RF_FLOW_TABLE_MAX * 2; i++)
		if (t->slot[i].used)
			fn(&t->slot[i].k, &t->slot[i].c, arg);
}

void rf_flow_table_clear(struct rf_flow_table *t)
{
	if (t->slot)
		memset(t->slot, 0, RF_FLOW_TABLE_MAX * 2 * sizeof(*t->slot));
	t->n = 0;
	t->others = 0;
}

void rf_flow_table_free(struct rf_flow_table *t)
{
	free(t->slot);
	t->slot = NULL;
	t->n = 0;
	t->others = 0;
}

/* Lines already in the file (an agent restarted on a half-full log). */
static __u64 count_lines(FILE *f)
{
	char buf[65536];
	size_t n, i;
	__u64 lines = 0;

	rewind(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (i = 0; i < n; i++)
			lines += buf[i] == '\n';
	fseek(f, 0, SEEK_END);
	return lines;
}

/* events.jsonl -> .1 -> ... -> .RF_EVENTS_LOG_KEEP (the oldest is replaced). */
static void shift_generations(const char *path)
{
	char from[4200], to[4200];
	int i;

	for (i = RF_EVENTS_LOG_KEEP; i >= 1; i--) {
		if (i > 1)
			snprintf(from, sizeof(from), "%s.%d", path, i - 1);
		else
			snprintf(from, sizeof(from), "%s", path);
		snprintf(to, sizeof(to), "%s.%d", path, i);
		if (rename(from, to) && errno != ENOENT)
			rf_warn("cannot rotate %s: %s", from, strerror(errno));
	}
}

struct summary_out {
	FILE *f;
	const struct rf_event_ctx *ec;
	const char *cause;
	__u64 lines;
};

static void write_summary(const struct rf_flow_key *k, const struct rf_flow_count *c, void *arg)
{
	struct summary_out *o = arg;

	rf_flow_summary_json(o->f, k, c, o->ec, o->cause);
	o->lines++;
}

static void open_file(struct rf_event_log *l)
{
	/* in the checked state dir, never through a planted symlink */
	int fd = rf_state_open_file(l->dir, "events.jsonl", O_RDWR | O_APPEND | O_CREAT);

	l->f = fd >= 0 ? fdopen(fd, "a+e") : NULL;
	if (!l->f) {
		rf_warn("cannot open %s: %s (events go to stdout only)", l->path,
			fd < 0 ? rf_state_problem(fd) : strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	l->lines = count_lines(l->f);
}

/* Start a new file, headed by the summary of the flows of the one rotated away. */
static void rotate(struct rf_event_log *l)
{
	struct summary_out o = {.ec = l->ec, .cause = "rotated"};

	if (l->f)
		fclose(l->f);
	shift_generations(l->path);
	open_file(l);
	if (!l->f)
		return;
	o.f = l->f;
	rf_flow_table_each(&l->flows, write_summary, &o);
	if (l->flows.others) {
		json_t *j =
		    json_pack("{s:{s:s,s:s,s:s},s:{s:{s:I,s:s}}}", "event", "kind", "metric",
			      "module", "ringfence", "action", "flows-not-summarised", "ringfence",
			      "summary", "count", (json_int_t)l->flows.others, "cause", "rotated");

		if (j && json_dumpf(j, l->f, JSON_COMPACT) == 0) {
			fputc('\n', l->f);
			o.lines++;
		}
		json_decref(j);
	}
	l->lines = o.lines;
	rf_flow_table_clear(&l->flows);
	fflush(l->f);
}

static void maybe_rotate(struct rf_event_log *l)
{
	if (l->lines >= RF_EVENTS_LOG_LINES || ftell(l->f) > RF_EVENTS_LOG_MAX)
		rotate(l);
}

void rf_event_log_open(struct rf_event_log *l, const char *state_dir, const struct rf_event_ctx *ec)
{
	rf_event_log_close(l);
	l->ec = ec;
	snprintf(l->dir, sizeof(l->dir), "%s", state_dir);
	snprintf(l->path, sizeof(l->path), "%s/events.jsonl", l->dir);
	open_file(l);
	if (l->f)
		maybe_rotate(l);
}

void rf_event_log_event(struct rf_event_log *l, const struct rf_event *e)
{
	struct rf_flow_key k;
	struct rf_flow_count c;

	if (!l->f)
		return;
	rf_event_json(l->f, e, l->ec);
	fflush(l->f); /* readers ('ringfence events') follow the file */
	l->lines++;
	rf_event_flow(e, &k, &c);
	rf_flow_table_add(&l->flows, &k, &c);
	maybe_rotate(l);
}

void rf_event_log_flow(struct rf_event_log *l, const struct rf_flow_key *k,
		       const struct rf_flow_count *c)
{
	if (!l->f)
		return;
	rf_flow_summary_json(l->f, k, c, l->ec, "rate_limited");
	fflush(l->f);
	l->lines++;
	rf_flow_table_add(&l->flows, k, c);
	maybe_rotate(l);
}

void rf_event_log_close(struct rf_event_log *l)
{
	if (l->f)
		fclose(l->f);
	l->f = NULL;
	rf_flow_table_free(&l->flows);
}

void rf_foreign_json(FILE *f, const struct rf_foreign_sock *s, const struct rf_event_ctx *ec)
{
	char t[40], l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN], d[256];
	bool v6 = s->family == AF_INET6;
	json_t *j;

	rf_format_time(rf_now_unix_ns(), t, sizeof(t));
	rf_event_addr(s->local, l, sizeof(l));
	rf_event_addr(s->remote, r, sizeof(r));
	rf_foreign_describe(s, d, sizeof(d));
	j = json_pack("{s:s,s:{s:s,s:[s],s:[s,s],s:s,s:s,s:s,s:s},s:{s:i},s:{s:s,s:i},"
		      "s:{s:s,s:s,s:s},s:{s:I,s:s,s:s*}}",
		      "@timestamp", t, "event", "kind", "event", "category", "network", "type",
		      "denied", "connection", "action", "socket-cut", "outcome",
		      s->err ? "failure" : "success", "reason", "created_outside_target", "module",
		      "ringfence", "process", "pid", (int)s->pid, "source", "ip", l, "port",
		      (int)s->lport, "network", "transport",
		      s->proto == IPPROTO_TCP ? "tcp" : "udp", "type", v6 ? "ipv6" : "ipv4",
		      "direction", "egress", "ringfence", "cgroup_id", (json_int_t)s->cgroup_id,
		      "description", d, "target", ec->target);
	if (j && s->rport)
		json_object_set_new(j, "destination",
				    json_pack("{s:s,s:i}", "ip", r, "port", (int)s->rport));
	if (j && json_dumpf(j, f, JSON_COMPACT) == 0)
		fputc('\n', f);
	json_decref(j);
}
