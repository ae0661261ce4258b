// SPDX-License-Identifier: GPL-2.0-only
/*
 * Summary events (issue 21 item 6): a flow the kernel held back becomes one ECS line with its
 * count; the agent's log turns over by line count and starts the new file with a summary of
 * every distinct flow of the file it rotated away.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include "rf_event_summary.h"
#include "helpers.h"

static struct rf_event ev(const char *remote4, __u16 port, __u32 uid)
{
	struct rf_event e = {0};

	e.ts_boot_ns = 1000000000ULL;
	e.cgroup_id = 77;
	e.hook = RF_HOOK_SENDMSG4;
	e.family = 2;
	e.proto = 17;
	e.uid = uid;
	e.tgid = e.pid = 4242;
	e.daddr[10] = e.daddr[11] = 0xff;
	inet_pton(AF_INET, remote4, e.daddr + 12);
	e.dport = port;
	memcpy(e.comm, "flooder", 8);
	return e;
}

static json_t *parse_line(const char *line)
{
	json_t *j = json_loads(line, 0, NULL);

	cr_assert_not_null(j, "not JSON: %s", line);
	return j;
}

static json_int_t summary_count(json_t *j)
{
	return json_integer_value(
	    json_object_get(json_object_get(json_object_get(j, "ringfence"), "summary"), "count"));
}

Test(event_summary, held_back_flow_is_one_line_with_its_count)
{
	struct rf_event_ctx ec = {.boot_to_unix_ns = 1700000000ULL * 1000000000ULL,
				  .target = "/system.slice/x.service"};
	struct rf_event e = ev("203.0.113.9", 443, 1000);
	struct rf_flow_key k;
	struct rf_flow_count c;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_t *j;

	rf_event_flow(&e, &k, &c);
	c.count = 4711;
	c.last_ns = c.first_ns + 2000000000ULL;
	rf_flow_summary_json(f, &k, &c, &ec, "rate_limited");
	fclose(f);
	cr_assert(len > 0 && buf[len - 1] == '\n', "one line: %s", buf);
	j = parse_line(buf);
	cr_expect_eq(summary_count(j), 4711);
	cr_expect_str_eq(json_string_value(json_object_get(
			     json_object_get(json_object_get(j, "ringfence"), "summary"), "cause")),
			 "rate_limited");
	cr_expect_str_eq(
	    json_string_value(json_object_get(json_object_get(j, "destination"), "ip")),
	    "203.0.113.9");
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "user"), "id")),
			 "1000");
	cr_expect_str_eq(
	    json_string_value(json_object_get(json_object_get(j, "ringfence"), "target")),
	    "/system.slice/x.service");
	cr_expect_str_eq(
	    json_string_value(json_object_get(json_object_get(j, "ringfence"), "hook")),
	    "sendmsg4");
	cr_expect_eq(
	    json_integer_value(json_object_get(json_object_get(j, "ringfence"), "cgroup_id")), 77);
	json_decref(j);
	free(buf);
}

Test(event_summary, flows_are_distinct_by_remote_and_uid_not_by_repetition)
{
	struct rf_flow_table t = {0};
	struct rf_event a = ev("192.0.2.2", 9, 0), b = ev("203.0.113.9", 9, 0),
			b2 = ev("203.0.113.9", 9, 1000);
	struct rf_flow_key k;
	struct rf_flow_count c;
	int i;

	for (i = 0; i < 1000; i++) {
		rf_event_flow(&a, &k, &c);
		cr_assert_eq(rf_flow_table_add(&t, &k, &c), 0);
	}
	rf_event_flow(&b, &k, &c);
	rf_flow_table_add(&t, &k, &c);
	rf_event_flow(&b2, &k, &c);
	rf_flow_table_add(&t, &k, &c);
	cr_expect_eq(t.n, 3, "flows: %zu", t.n);
	cr_expect_eq(t.others, 0);
	rf_flow_table_free(&t);
}

Test(event_summary, table_is_bounded_and_counts_the_rest)
{
	struct rf_flow_table t = {0};
	struct rf_flow_key k = {0};
	struct rf_flow_count c = {.count = 2};
	__u32 i;

	for (i = 0; i < RF_FLOW_TABLE_MAX + 10; i++) {
		k.uid = i;
		rf_flow_table_add(&t, &k, &c);
	}
	cr_expect_eq(t.n, RF_FLOW_TABLE_MAX);
	cr_expect_eq(t.others, 20);
	rf_flow_table_free(&t);
}

/* The summary line of the flow to remote4 in text, or NULL. */
static const char *find_summary(const char *text, const char *remote4, char *line, size_t len)
{
	char needle[64];
	const char *p = text;

	snprintf(needle, sizeof(needle), "\"ip\":\"%s\"", remote4);
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (l < len) {
			memcpy(line, p, l);
			line[l] = '\0';
			if (strstr(line, needle) && strstr(line, "\"cause\":\"rotated\""))
				return line;
		}
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int ch;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	while ((ch = fgetc(f)) != EOF)
		fputc(ch, m);
	fclose(m);
	fclose(f);
	return buf;
}

Test(event_summary, log_rotates_by_count_with_a_summary_of_every_flow)
{
	char dir[] = "/tmp/rf-unit-evlog-XXXXXX", path[128], line[8192], *text;
	struct rf_event_ctx ec = {.boot_to_unix_ns = 1};
	struct rf_event_log l = {0};
	struct rf_event flood = ev("192.0.2.2", 9, 1000), real = ev("203.0.113.50", 443, 1000);
	json_t *j;
	int i;

	cr_assert_not_null(mkdtemp(dir));
	rf_event_log_open(&l, dir, &ec);
	cr_assert_not_null(l.f);
	rf_event_log_event(&l, &real);
	for (i = 0; i < RF_EVENTS_LOG_LINES - 1; i++)
		rf_event_log_event(&l, &flood);
	/* the flood filled the file: it turned over, with the real attempt in the summary */
	snprintf(path, sizeof(path), "%s/events.jsonl.1", dir);
	cr_assert_eq(access(path, F_OK), 0, "not rotated by count");
	snprintf(path, sizeof(path), "%s/events.jsonl", dir);
	text = slurp(path);
	cr_assert_not_null(text);
	cr_assert_not_null(find_summary(text, "203.0.113.50", line, sizeof(line)),
			   "the real attempt is not in the new file's summary");
	j = parse_line(line);
	cr_expect_eq(summary_count(j), 1);
	json_decref(j);
	cr_assert_not_null(find_summary(text, "192.0.2.2", line, sizeof(line)));
	j = parse_line(line);
	cr_expect_eq(summary_count(j), RF_EVENTS_LOG_LINES - 1);
	json_decref(j);
	free(text);
	/* older generations move up, at most RF_EVENTS_LOG_KEEP are kept */
	for (i = 0; i < RF_EVENTS_LOG_KEEP + 1; i++) {
		int n;

		for (n = 0; n < RF_EVENTS_LOG_LINES; n++)
			rf_event_log_event(&l, &flood);
	}
	snprintf(path, sizeof(path), "%s/events.jsonl.%d", dir, RF_EVENTS_LOG_KEEP);
	cr_expect_eq(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/events.jsonl.%d", dir, RF_EVENTS_LOG_KEEP + 1);
	cr_expect_neq(access(path, F_OK), 0, "more generations than RF_EVENTS_LOG_KEEP");
	rf_event_log_close(&l);
	for (i = 0; i <= RF_EVENTS_LOG_KEEP; i++) {
		snprintf(path, sizeof(path), i ? "%s/events.jsonl.%d" : "%s/events.jsonl", dir, i);
		unlink(path);
	}
	rmdir(dir);
}
