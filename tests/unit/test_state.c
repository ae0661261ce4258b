// SPDX-License-Identifier: GPL-2.0-only
/* State dir: action records and history, rules file, isolation record, lock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_rule.h"
#include "rf_state.h"
#include "rf_util.h"
#include "helpers.h"
#include "rft_json.h"

static void fill_action(struct rf_action *a, __u64 id, const char *type, const char *comment)
{
	memset(a, 0, sizeof(*a));
	a->id = id;
	snprintf(a->type, sizeof(a->type), "%s", type);
	a->status = RF_ACT_IN_PROGRESS;
	snprintf(a->requestor, sizeof(a->requestor), "test:unit");
	a->requested_unix_ns = 1795416781123456789ULL;
	snprintf(a->comment, sizeof(a->comment), "%s", comment);
}

static void assert_action_eq(const struct rf_action *got, const struct rf_action *want)
{
	cr_assert_eq(got->id, want->id);
	cr_assert_str_eq(got->type, want->type);
	cr_assert_eq(got->status, want->status, "status %d, want %d", got->status, want->status);
	cr_assert_str_eq(got->requestor, want->requestor);
	cr_assert_eq(got->requested_unix_ns, want->requested_unix_ns);
	cr_assert_eq(got->completed_unix_ns, want->completed_unix_ns);
	cr_assert_str_eq(got->comment, want->comment);
	cr_assert_str_eq(got->error, want->error);
}

/* ---- rf_action_encode / rf_action_decode ------------------------------------------------------
 */

Test(action_codec, round_trip_with_special_characters)
{
	static const char *const comments[] = {
	    "",
	    "plain",
	    "tab\there",
	    "two\nlines\n",
	    "back\\slash",
	    "literal \\n and \\t are not escapes",
	    "trailing backslash\\",
	    "\\\\\\",
	    "\t\n\\\t\n\\",
	    "quote \" and unicode caf\xc3\xa9",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(comments); i++) {
		struct rf_action a, b;
		char line[4096];

		fill_action(&a, 42 + i, "allow-add", comments[i]);
		a.status = RF_ACT_FAILED;
		a.completed_unix_ns = 1795416782000000000ULL;
		snprintf(a.error, sizeof(a.error), "err\t%s", comments[i]);
		snprintf(a.requestor, sizeof(a.requestor), "user:%s", comments[i]);
		rf_action_encode(&a, line, sizeof(line));
		cr_assert_null(strchr(line, '\n'), "case %zu: newline in the record: %s", i, line);
		cr_assert_eq(rf_action_decode(line, &b), 0, "case %zu: %s", i, line);
		assert_action_eq(&b, &a);
	}
}

Test(action_codec, every_status)
{
	static const enum rf_action_status st[] = {RF_ACT_PENDING, RF_ACT_IN_PROGRESS,
						   RF_ACT_SUCCEEDED, RF_ACT_FAILED};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(st); i++) {
		struct rf_action a, b;
		char line[4096];

		fill_action(&a, 1, "isolate", "c");
		a.status = st[i];
		rf_action_encode(&a, line, sizeof(line));
		cr_assert_eq(rf_action_decode(line, &b), 0, "%s", line);
		cr_assert_eq(b.status, st[i]);
	}
}

Test(action_codec, longest_fields_round_trip)
{
	static const char worst[] = {'\t', '\\', '\n', '\x01', '"', '\xff', '\x7f'};
	static char line[RF_HISTORY_LINE_MAX];
	struct rf_action a, b;
	size_t w;

	/* the encoder's and the decoder's limit are one constant: the longest record of the
	 * worst bytes fits both */
	for (w = 0; w < ARRAY_SIZE(worst); w++) {
		fill_action(&a, RF_HISTORY_ID_MAX, "", "");
		memset(a.type, worst[w], sizeof(a.type) - 1);
		memset(a.requestor, worst[w], sizeof(a.requestor) - 1);
		memset(a.comment, worst[w], sizeof(a.comment) - 1);
		memset(a.error, worst[w], sizeof(a.error) - 1);
		memset(a.warning, worst[w], sizeof(a.warning) - 1);
		a.completed_unix_ns = 18446744073709551615ULL;
		cr_assert_eq(rf_action_encode(&a, line, sizeof(line)), 0, "byte %#x", worst[w]);
		cr_assert_null(strchr(line, '\n'), "a record is one line");
		cr_assert_eq(rf_action_decode(line, &b), 0, "byte %#x", worst[w]);
		assert_action_eq(&b, &a);
		cr_assert_str_eq(b.warning, a.warning);
	}
	cr_assert_eq(rf_action_encode(&a, line, 100), -E2BIG, "truncated silently");
}

Test(action_codec, every_byte_round_trips)
{
	static char line[RF_HISTORY_LINE_MAX];
	struct rf_action a, b;
	int c;

	for (c = 1; c < 256; c++) {
		fill_action(&a, 9, "isolate", "");
		snprintf(a.comment, sizeof(a.comment), "<%c>%c\\x41%c", c, c, c);
		cr_assert_eq(rf_action_encode(&a, line, sizeof(line)), 0);
		cr_assert_eq(rf_action_decode(line, &b), 0, "byte %#x: %s", c, line);
		cr_assert_str_eq(b.comment, a.comment, "byte %#x", c);
	}
}

Test(action_codec, ids_beyond_the_limit_are_damaged)
{
	static const char *const bad[] = {
	    "{\"id\":18446744073709551614,\"status\":\"Succeeded\",\"type\":\"isolate\"}",
	    "{\"id\":9007199254740992,\"status\":\"Succeeded\",\"type\":\"isolate\"}",
	    "{\"id\":-2,\"status\":\"Succeeded\",\"type\":\"isolate\"}",
	    "{\"id\":0,\"status\":\"Succeeded\",\"type\":\"isolate\"}",
	    "{\"id\":\"1\",\"status\":\"Succeeded\",\"type\":\"isolate\"}",
	    "{\"id\":1,\"status\":\"Done\",\"type\":\"isolate\"}",
	    "{\"id\":1,\"status\":\"Succeeded\",\"comment\":\"\\\\q\"}",
	    "{\"id\":1,\"id\":2,\"status\":\"Succeeded\"}",
	    "18446744073709551614\tisolate\tSucceeded\tuser:a\t1\t2\tc\te",
	};
	struct rf_action a;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		cr_assert_eq(rf_action_decode(bad[i], &a), -EINVAL, "accepted: '%s'", bad[i]);
	cr_assert_eq(rf_action_decode("{\"id\":9007199254740991,\"status\":\"Failed\"}", &a), 0);
}

Test(action_codec, decode_rejects_damaged_lines)
{
	static const char *const bad[] = {
	    "",
	    "garbage",
	    "1",
	    "1\tisolate\tSucceeded\tuser:a\t1\t2\tcomment", /* 7 fields: truncated */
	    "1\tisolate\tSucceeded\tuser:a\t1\t2\tcomment\terr\twarn\textra", /* 10 fields */
	    "1\tisolate\tInPro",
	    "0\tisolate\tSucceeded\tuser:a\t1\t2\tc\te",		    /* id 0 */
	    "18446744073709551615\tisolate\tSucceeded\tuser:a\t1\t2\tc\te", /* id 2^64-1 */
	    "-1\tisolate\tSucceeded\tuser:a\t1\t2\tc\te",
	    "+1\tisolate\tSucceeded\tuser:a\t1\t2\tc\te",
	    "1\tisolate\tSucceeded\tuser:a\t-5\t2\tc\te", /* negative time */
	    /* times beyond 2^64-1: strtoull saturated them to 2^64-1 */
	    "1\tisolate\tSucceeded\tuser:a\t18446744073709551616\t2\tc\te",
	    "1\tisolate\tSucceeded\tuser:a\t1\t99999999999999999999999\tc\te",
	    "\tisolate\tSucceeded\tuser:a\t1\t2\tc\te", /* empty id */
	    "abc\tisolate\tSucceeded\tuser:a\t1\t2\tc\te",
	    "12x\tisolate\tSucceeded\tuser:a\t1\t2\tc\te",
	    "1\tisolate\tDone\tuser:a\t1\t2\tc\te", /* unknown status */
	    "1\tisolate\tsucceeded\tuser:a\t1\t2\tc\te",
	    "1\tisolate\t\tuser:a\t1\t2\tc\te",
	    "\t\t\t\t\t\t\t",
	    "\xff\xfe\x00",
	};
	struct rf_action a, good;
	static char line[RF_HISTORY_LINE_MAX];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		cr_assert_eq(rf_action_decode(bad[i], &a), -EINVAL, "accepted: '%s'", bad[i]);

	/* a twin of the damaged lines that is whole decodes */
	cr_assert_eq(rf_action_decode("1\tisolate\tSucceeded\tuser:a\t1\t2\tc\te", &a), 0);
	cr_assert_eq(a.id, 1);
	cr_assert_eq(a.status, RF_ACT_SUCCEEDED);
	cr_assert_str_eq(a.error, "e");

	/* a line longer than the decoder's buffer is rejected, not overflowed */
	fill_action(&good, 7, "isolate", "x");
	rf_action_encode(&good, line, sizeof(line));
	{
		static char longline[RF_HISTORY_LINE_MAX + 16];

		snprintf(longline, sizeof(longline), "%s", line);
		memset(longline + strlen(longline), 'e', sizeof(longline) - strlen(longline) - 1);
		cr_assert_eq(rf_action_decode(longline, &a), -EINVAL);
	}
}

Test(action_codec, status_names)
{
	cr_assert_str_eq(rf_action_status_name(RF_ACT_PENDING), "Pending");
	cr_assert_str_eq(rf_action_status_name(RF_ACT_IN_PROGRESS), "InProgress");
	cr_assert_str_eq(rf_action_status_name(RF_ACT_SUCCEEDED), "Succeeded");
	cr_assert_str_eq(rf_action_status_name(RF_ACT_FAILED), "Failed");
	cr_assert_str_eq(rf_action_status_name((enum rf_action_status)4), "Unknown");
	cr_assert_str_eq(rf_action_status_name((enum rf_action_status) - 1), "Unknown");
}

/* ---- history in a state dir -------------------------------------------------------------------
 */

TestSuite(history, .init = tmpdir_setup, .fini = tmpdir_teardown);

static void load_history(struct rf_action **acts, size_t *n)
{
	cr_assert_eq(rf_history_load(test_tmpdir, acts, n), 0);
}

Test(history, missing_file_is_empty)
{
	struct rf_action *acts = (struct rf_action *)1;
	size_t n = 99;

	load_history(&acts, &n);
	cr_assert_eq(n, 0);
	free(acts);
}

Test(history, begin_end_transitions)
{
	struct rf_action a1, a2, *acts;
	size_t n;

	setenv("RINGFENCE_REQUESTOR", "test:env", 1);
	memset(&a1, 0, sizeof(a1));
	strcpy(a1.type, "isolate");
	strcpy(a1.comment, "incident 42\nsecond line");
	cr_assert_eq(rf_action_begin(test_tmpdir, &a1), 0);
	cr_assert_eq(a1.id, 1);
	cr_assert_eq(a1.status, RF_ACT_IN_PROGRESS);
	cr_assert_str_eq(a1.requestor, "test:env");
	cr_assert_neq(a1.requested_unix_ns, 0);

	load_history(&acts, &n);
	cr_assert_eq(n, 1);
	assert_action_eq(&acts[0], &a1);
	free(acts);

	fill_action(&a2, 0, "allow-add", "net 10.0.0.0/8");
	cr_assert_eq(rf_action_begin(test_tmpdir, &a2), 0);
	cr_assert_eq(a2.id, 2);
	cr_assert_str_eq(a2.requestor, "test:unit", "explicit requestor overridden");
	cr_assert_eq(a2.requested_unix_ns, 1795416781123456789ULL, "explicit time overridden");

	cr_assert_eq(rf_action_end(test_tmpdir, &a1, NULL), 0);
	cr_assert_eq(a1.status, RF_ACT_SUCCEEDED);
	cr_assert_neq(a1.completed_unix_ns, 0);
	cr_assert_str_eq(a1.error, "");
	cr_assert_eq(rf_action_end(test_tmpdir, &a2, "map full\tretry"), 0);
	cr_assert_eq(a2.status, RF_ACT_FAILED);

	load_history(&acts, &n);
	cr_assert_eq(n, 2, "end must update in place, not append");
	assert_action_eq(&acts[0], &a1);
	assert_action_eq(&acts[1], &a2);
	cr_assert_str_eq(acts[1].error, "map full\tretry");
	free(acts);
	unsetenv("RINGFENCE_REQUESTOR");
}

/* A completed action in one write (isolate's path): next id, final status, requested time kept. */
Test(history, record_completed_action)
{
	struct rf_action a, b, *acts;
	size_t n;

	fill_action(&a, 0, "allow-add", "net 192.0.2.0/24");
	cr_assert_eq(rf_action_begin(test_tmpdir, &a), 0);
	fill_action(&b, 0, "isolate", "INC-1");
	cr_assert_eq(rf_action_record(test_tmpdir, &b, NULL), 0);
	cr_assert_eq(b.id, a.id + 1);
	cr_assert_eq(b.status, RF_ACT_SUCCEEDED);
	cr_assert_eq(b.requested_unix_ns, 1795416781123456789ULL, "requested time replaced");
	cr_assert_geq(b.completed_unix_ns, b.requested_unix_ns);
	fill_action(&b, 0, "isolate", "INC-2");
	cr_assert_eq(rf_action_record(test_tmpdir, &b, "cannot write rf_config"), 0);
	cr_assert_eq(b.id, a.id + 2);
	cr_assert_eq(b.status, RF_ACT_FAILED);

	load_history(&acts, &n);
	cr_assert_eq(n, 3);
	cr_assert_eq(acts[0].status, RF_ACT_IN_PROGRESS, "the earlier action is untouched");
	assert_action_eq(&acts[2], &b);
	cr_assert_str_eq(acts[2].error, "cannot write rf_config");
	free(acts);
}

static void append_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");

	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

Test(history, damaged_lines_skipped)
{
	struct rf_action a, b, *acts;
	size_t n;

	fill_action(&a, 0, "isolate", "one");
	cr_assert_eq(rf_action_begin(test_tmpdir, &a), 0);
	cr_assert_eq(rf_action_end(test_tmpdir, &a, NULL), 0);
	/* a crash mid-write of an older agent, and a garbage line in the middle */
	append_file(tmp_path("history"), "garbage\x01\xff line\n\n");
	fill_action(&b, 0, "release", "two");
	cr_assert_eq(rf_action_begin(test_tmpdir, &b), 0);
	cr_assert_eq(b.id, 2);
	append_file(tmp_path("history"), "3\trelease\tInPro");

	load_history(&acts, &n);
	cr_assert_eq(n, 2, "damaged lines must be skipped: %zu actions", n);
	assert_action_eq(&acts[0], &a);
	assert_action_eq(&acts[1], &b);
	free(acts);

	/* still usable: the next action gets the next id */
	fill_action(&b, 0, "release", "three");
	cr_assert_eq(rf_action_begin(test_tmpdir, &b), 0);
	cr_assert_eq(b.id, 3);
	load_history(&acts, &n);
	cr_assert_eq(n, 3);
	cr_assert_eq(acts[2].id, 3);
	cr_assert_str_eq(acts[2].comment, "three");
	free(acts);
}

Test(history, ids_continue_after_highest)
{
	struct rf_action a;
	char line[4096];

	fill_action(&a, 5, "isolate", "");
	rf_action_encode(&a, line, sizeof(line));
	strcat(line, "\n");
	append_file(tmp_path("history"), line);
	fill_action(&a, 2, "isolate", "");
	rf_action_encode(&a, line, sizeof(line));
	strcat(line, "\n");
	append_file(tmp_path("history"), line);

	fill_action(&a, 0, "release", "");
	cr_assert_eq(rf_action_begin(test_tmpdir, &a), 0);
	cr_assert_eq(a.id, 6, "without history.seq: one past the highest id");
	cr_assert_eq(dir_entries(test_tmpdir), 2, "temp file left behind (history, history.seq)");
	fill_action(&a, 0, "release", "");
	cr_assert_eq(rf_action_begin(test_tmpdir, &a), 0);
	cr_assert_eq(a.id, 7);
}

Test(history, begin_creates_state_dir)
{
	struct rf_action a, *acts;
	const char *dir = tmp_path("var/lib/ringfence");
	size_t n;

	fill_action(&a, 0, "isolate", "");
	cr_assert_eq(rf_action_begin(dir, &a), 0);
	cr_assert_eq(rf_history_load(dir, &acts, &n), 0);
	cr_assert_eq(n, 1);
	free(acts);
}

/* rf_action_json() on one line, parsed strictly. */
static json_t *action_doc(const struct rf_action *a, const char *target)
{
	char *text;
	size_t len;
	json_t *doc;
	FILE *f = open_memstream(&text, &len);

	cr_assert_eq(rf_action_json(f, a, target), 0);
	fclose(f);
	cr_assert_null(strchr(text, '\n'), "%s", text);
	doc = rft_json_load(text);
	free(text);
	return doc;
}

Test(history, action_json)
{
	struct rf_action a;
	json_t *doc;

	fill_action(&a, 7, "isolate", "evil\"}\n{\"x\":1");
	doc = action_doc(&a, NULL);
	cr_assert_str_eq(rft_json_str_at(doc, "comment"), "evil\"}\n{\"x\":1");
	cr_assert_str_eq(rft_json_str_at(doc, "status"), "InProgress");
	cr_assert(json_is_null(rft_json_at(doc, "completed")));
	cr_assert(json_is_null(rft_json_at(doc, "error")));
	cr_assert(json_is_null(rft_json_at(doc, "warning")));
	cr_assert_null(rft_json_at(doc, "target"));
	cr_assert_str_eq(rft_json_str_at(doc, "requested"), "2026-11-23T06:53:01.123Z");
	json_decref(doc);

	a.status = RF_ACT_FAILED;
	a.completed_unix_ns = 1795416782000000000ULL;
	strcpy(a.error, "boom");
	doc = action_doc(&a, "/system.slice/x.service");
	cr_assert_str_eq(rft_json_str_at(doc, "error"), "boom");
	cr_assert_str_eq(rft_json_str_at(doc, "completed"), "2026-11-23T06:53:02.000Z");
	cr_assert_eq(rft_json_int_at(doc, "id", -1), 7);
	cr_assert_str_eq(rft_json_str_at(doc, "target"), "/system.slice/x.service");
	cr_assert_str_eq(rft_json_str_at(doc, "type"), "isolate");
	json_decref(doc);
}

Test(history, requestor)
{
	char buf[128];

	setenv("RINGFENCE_REQUESTOR", "soar:playbook-7", 1);
	setenv("SUDO_USER", "alice", 1);
	rf_requestor(buf, sizeof(buf));
	cr_assert_str_eq(buf, "soar:playbook-7");
	unsetenv("RINGFENCE_REQUESTOR");
	rf_requestor(buf, sizeof(buf));
	cr_assert_str_eq(buf, "user:alice");
	unsetenv("SUDO_USER");
	rf_requestor(buf, sizeof(buf));
	cr_assert(!strncmp(buf, "user:", 5) && buf[5], "%s", buf);
}

/* ---- rules file -------------------------------------------------------------------------------
 */

TestSuite(rules_file, .init = tmpdir_setup, .fini = tmpdir_teardown);

Test(rules_file, save_load_round_trip)
{
	char *const lines[] = {"net 10.0.0.0/8 proto tcp port 22", "exe /usr/bin/curl",
			       "cgroup /system.slice/sshd.service"};
	char **got;
	size_t n, i;

	cr_assert_eq(rf_rules_save(test_tmpdir, lines, ARRAY_SIZE(lines)), 0);
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, ARRAY_SIZE(lines));
	for (i = 0; i < n; i++)
		cr_assert_str_eq(got[i], lines[i]);
	rf_lines_free(got, n);

	/* saving fewer rules replaces the file */
	cr_assert_eq(rf_rules_save(test_tmpdir, lines + 1, 1), 0);
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(got[0], "exe /usr/bin/curl");
	rf_lines_free(got, n);

	cr_assert_eq(rf_rules_save(test_tmpdir, NULL, 0), 0);
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, 0);
	rf_lines_free(got, n);
	cr_assert_eq(dir_entries(test_tmpdir), 1, "temp file left behind");
}

Test(rules_file, missing_is_empty_and_blank_lines_skipped)
{
	char **got = (char **)1;
	size_t n = 5;

	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(got);
	append_file(tmp_path("rules"), "\nnet ::/0\n\n\nexe /bin/true");
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(got[0], "net ::/0");
	cr_assert_str_eq(got[1], "exe /bin/true");
	rf_lines_free(got, n);
}

/* ---- isolation record -------------------------------------------------------------------------
 */

TestSuite(isolation, .init = tmpdir_setup, .fini = tmpdir_teardown);

Test(isolation, round_trip)
{
	static const char *const comments[] = {
	    "",
	    "INC-1234: ransomware on host",
	    "line one\nline two\n",
	    /* a comment cannot inject fields: it stays one escaped line */
	    "x\nisolated=0\ndeadline=1\ncomment=forged",
	    "tab\tand back\\slash and literal \\n",
	    "\\",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(comments); i++) {
		struct rf_isolation iso =
					{
					    .isolated = true,
					    .since_unix_ns = 1795416781123456789ULL,
					    .deadline_unix_ns = 18446744073709551615ULL,
					},
				    got;

		snprintf(iso.comment, sizeof(iso.comment), "%s", comments[i]);
		cr_assert_eq(rf_isolation_save(test_tmpdir, &iso), 0);
		memset(&got, 0x5a, sizeof(got));
		cr_assert_eq(rf_isolation_load(test_tmpdir, &got), 0);
		cr_assert_eq(got.isolated, true, "case %zu", i);
		cr_assert_eq(got.since_unix_ns, iso.since_unix_ns);
		cr_assert_eq(got.deadline_unix_ns, iso.deadline_unix_ns, "case %zu", i);
		cr_assert_str_eq(got.comment, iso.comment, "case %zu", i);
	}
}

Test(isolation, not_isolated_and_longest_comment)
{
	struct rf_isolation iso = {.isolated = false, .since_unix_ns = 1}, got;

	memset(iso.comment, '\n', sizeof(iso.comment) - 1);
	cr_assert_eq(rf_isolation_save(test_tmpdir, &iso), 0);
	cr_assert_eq(rf_isolation_load(test_tmpdir, &got), 0);
	cr_assert_eq(got.isolated, false);
	cr_assert_eq(got.since_unix_ns, 1);
	cr_assert_eq(got.deadline_unix_ns, 0);
	cr_assert_str_eq(got.comment, iso.comment);
}

/* A damaged record fails closed: a flag is off only when it says 0, a damaged number is 0 (no
 * deadline, no lapse); it used to be atoi(), so "isolated=yes" restored nothing. */
Test(isolation, damaged_values_fail_closed)
{
	static const char *const records[] = {
	    "{\"format\":\"ringfence-isolation\",\"version\":2,\"isolated\":\"yes\"}\n",
	    "{\"format\":\"ringfence-isolation\",\"version\":2,\"isolated\":1}\n",
	    "isolated=yes\ndeadline=12x\n",
	    "isolated=1 \ndeadline=-5\n",
	    "isolated=\ndeadline=18446744073709551616\n",
	    "isolated=0x0\ndeadline=+7\n",
	};
	char path[4200];
	size_t i;

	snprintf(path, sizeof(path), "%s/isolation", test_tmpdir);
	for (i = 0; i < ARRAY_SIZE(records); i++) {
		struct rf_isolation got;
		FILE *f = fopen(path, "we");

		cr_assert_not_null(f);
		fputs(records[i], f);
		cr_assert_eq(fclose(f), 0);
		cr_assert_eq(rf_isolation_load(test_tmpdir, &got), 0);
		cr_expect(got.isolated, "record %zu: not isolated", i);
		cr_expect_eq(got.deadline_unix_ns, 0, "record %zu: a deadline from garbage", i);
	}
}

Test(isolation, missing_file_means_not_isolated)
{
	struct rf_isolation got;

	memset(&got, 0x5a, sizeof(got));
	cr_assert_eq(rf_isolation_load(test_tmpdir, &got), 0);
	cr_assert_eq(got.isolated, false);
	cr_assert_eq(got.deadline_unix_ns, 0);
	cr_assert_str_eq(got.comment, "");
}

/* ---- lock -------------------------------------------------------------------------------------
 */

TestSuite(lock, .init = tmpdir_setup, .fini = tmpdir_teardown);

/* 0 if another process can take an exclusive flock on path right now, 1 if it would block. */
static int lock_held_elsewhere(const char *path)
{
	int status;
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int fd = open(path, O_RDWR);

		if (fd < 0)
			_exit(2);
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			_exit(0);
		_exit(errno == EWOULDBLOCK ? 1 : 3);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert(WEXITSTATUS(status) <= 1, "child failed: %d", WEXITSTATUS(status));
	return WEXITSTATUS(status);
}

Test(lock, held_until_unlock)
{
	const char *lockfile = tmp_path("state/lock");
	char state[4096];
	int fd;

	snprintf(state, sizeof(state), "%s/state", test_tmpdir);
	fd = rf_state_lock(state);
	cr_assert_geq(fd, 0, "rf_state_lock: %d", fd);
	cr_assert_eq(lock_held_elsewhere(lockfile), 1, "lock not held while locked");
	rf_state_unlock(fd);
	cr_assert_eq(lock_held_elsewhere(lockfile), 0, "lock still held after unlock");

	fd = rf_state_lock(state); /* and can be taken again */
	cr_assert_geq(fd, 0);
	cr_assert_eq(lock_held_elsewhere(lockfile), 1);
	rf_state_unlock(fd);
}

Test(lock, creates_private_state_dir)
{
	const char *state = tmp_path("var/lib/ringfence");
	struct stat st;
	mode_t old = umask(022);
	int fd;

	fd = rf_state_lock(state);
	umask(old);
	cr_assert_geq(fd, 0);
	cr_assert_eq(stat(state, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0700, "state dir mode %o", st.st_mode & 0777);
	rf_state_unlock(fd);
}

Test(lock, state_dir_is_a_file)
{
	int fd = open(tmp_path("notadir"), O_CREAT | O_WRONLY, 0600);

	cr_assert_geq(fd, 0);
	close(fd);
	fd = rf_state_lock(tmp_path("notadir"));
	cr_assert_lt(fd, 0, "locked inside a regular file?");
}

/* ---- append-only history and the warning field ------------------------------------------- */

Test(history, append_only_never_rewrites)
{
	struct rf_action a, *acts;
	char *before, *after;
	size_t n, lb, la;

	fill_action(&a, 0, "allow-add", "one");
	cr_assert_eq(rf_action_begin(test_tmpdir, &a), 0);
	cr_assert_eq(rf_read_file(tmp_path("history"), &before, &lb), 0);
	cr_assert_eq(rf_action_end(test_tmpdir, &a, NULL), 0);
	cr_assert_eq(rf_read_file(tmp_path("history"), &after, &la), 0);
	cr_assert_gt(la, lb);
	cr_assert_eq(memcmp(before, after, lb), 0, "an earlier record was rewritten");
	free(before);
	free(after);
	load_history(&acts, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(acts[0].status, RF_ACT_SUCCEEDED, "the last record of an id wins");
	free(acts);
}

Test(history, torn_last_line_does_not_swallow_the_next)
{
	struct rf_action a, *acts;
	size_t n;

	append_file(tmp_path("history"), "1\tisolate\tSucceeded\tuser:a\t1\t2\tc\te\n7\tisol");
	fill_action(&a, 0, "release", "after the crash");
	cr_assert_eq(rf_action_record(test_tmpdir, &a, NULL), 0);
	cr_assert_eq(a.id, 2);
	load_history(&acts, &n);
	cr_assert_eq(n, 2, "%zu actions", n);
	cr_assert_str_eq(acts[1].comment, "after the crash");
	free(acts);
}

Test(history, warning_round_trip)
{
	struct rf_action a, b;
	char line[4096];

	fill_action(&a, 3, "isolate", "INC-1");
	a.status = RF_ACT_SUCCEEDED;
	snprintf(a.warning, sizeof(a.warning), "/etc/ringfence/ringfence.conf:4: unknown keyword");
	rf_action_encode(&a, line, sizeof(line));
	cr_assert_eq(rf_action_decode(line, &b), 0, "%s", line);
	cr_assert_str_eq(b.warning, a.warning);
	a.warning[0] = '\0';
	rf_action_encode(&a, line, sizeof(line));
	cr_assert_eq(rf_action_decode(line, &b), 0, "8 fields (no warning) still decode");
	cr_assert_str_eq(b.warning, "");
}

/* ---- no injection through the stored text (issue 20, item 4) ---------------------------------
 */

Test(rules_file, a_newline_in_a_path_stays_one_rule)
{
	struct rf_rule r, back;
	char text[RF_RULE_TEXT_MAX], err[RF_ERR_MAX], **got;
	char *argv[] = {"exe", "/tmp/x\nnet 0.0.0.0/0"};
	char *lines[1] = {text};
	size_t n;

	cr_assert_eq(rf_rule_parse(2, argv, &r, err, sizeof(err)), 0, "%s", err);
	rf_rule_format(&r, text, sizeof(text));
	cr_assert_null(strchr(text, '\n'), "canonical text spans lines: %s", text);
	cr_assert_eq(rf_rules_save(test_tmpdir, lines, 1), 0);
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, 1, "the path became %zu rules", n);
	cr_assert_eq(rf_rule_parse_line(got[0], &back, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(back.kind, RF_RULE_EXE);
	cr_assert_str_eq(back.path, "/tmp/x\nnet 0.0.0.0/0");
	rf_lines_free(got, n);
}

Test(rules_file, every_byte_of_a_path_round_trips)
{
	char text[RF_RULE_TEXT_MAX], err[RF_ERR_MAX], path[64], **got;
	char *lines[255];
	struct rf_rule r, back;
	size_t n, i;
	int c;

	for (c = 1; c < 256; c++) {
		snprintf(path, sizeof(path), "/opt/a%cb %c\\x41\"", c, c);
		char *argv[] = {c & 1 ? "exe" : "cgroup", path};

		cr_assert_eq(rf_rule_parse(2, argv, &r, err, sizeof(err)), 0, "%s", err);
		rf_rule_format(&r, text, sizeof(text));
		cr_assert_eq(rf_rule_parse_line(text, &back, err, sizeof(err)), 0, "%#x: %s: %s", c,
			     text, err);
		cr_assert_str_eq(back.path, path, "byte %#x: %s", c, text);
		lines[c - 1] = strdup(text);
	}
	cr_assert_eq(rf_rules_save(test_tmpdir, lines, 255), 0);
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, 255);
	for (i = 0; i < n; i++) {
		cr_assert_str_eq(got[i], lines[i]);
		free(lines[i]);
	}
	rf_lines_free(got, n);
}

Test(rules_file, lines_files_keep_every_byte)
{
	char *lines[255], buf[255][8], **got;
	size_t n, i;

	for (i = 0; i < 255; i++) {
		snprintf(buf[i], sizeof(buf[i]), "%c\n\\x%c", (int)i + 1, (int)i + 1);
		lines[i] = buf[i];
	}
	cr_assert_eq(rf_state_lines_save(test_tmpdir, "exe-keys", "# head\xff", lines, 255), 0);
	cr_assert_eq(rf_state_lines_load(test_tmpdir, "exe-keys", &got, &n), 0);
	cr_assert_eq(n, 256);
	cr_assert_str_eq(got[0], "# head\xff");
	for (i = 0; i < 255; i++)
		cr_assert_str_eq(got[i + 1], lines[i], "entry %zu", i);
	rf_lines_free(got, n);
}

Test(rules_file, previous_release_file_is_read_and_migrated)
{
	char **got, *data;
	size_t n;

	append_file(tmp_path("rules"), "net 192.0.2.0/24 proto tcp port 22\nexe /usr/bin/curl\n");
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(got[1], "exe /usr/bin/curl");
	cr_assert_eq(rf_rules_save(test_tmpdir, got, n), 0);
	rf_lines_free(got, n);
	cr_assert_eq(rf_read_file(tmp_path("rules"), &data, NULL), 0);
	cr_assert(data[0] == '{', "not migrated: %s", data);
	free(data);
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(got[0], "net 192.0.2.0/24 proto tcp port 22");
	rf_lines_free(got, n);
}

Test(rules_file, damaged_file_is_an_error_not_empty)
{
	char **got;
	size_t n;

	append_file(tmp_path("rules"),
		    "{\"format\":\"ringfence-lines\",\"version\":2,\"lines\":[\"x\"");
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), -EBADMSG);
}

Test(isolation, previous_release_record_is_read)
{
	struct rf_isolation got;

	append_file(tmp_path("isolation"), "isolated=1\naudit=0\nsince=5\ndeadline=7\nconfirm=0\n"
					   "for=7\nremaining=3\ncomment=a\\nb\n");
	cr_assert_eq(rf_isolation_load(test_tmpdir, &got), 0);
	cr_assert(got.isolated);
	cr_assert_eq(got.since_unix_ns, 5);
	cr_assert_eq(got.for_unix_ns, 7);
	cr_assert_eq(got.remaining_ns, 3);
	cr_assert_str_eq(got.comment, "a\nb");
}

/* ---- a state dir that cannot be trusted (issue 20, item 9) -----------------------------------
 */

TestSuite(state_dir, .init = tmpdir_setup, .fini = tmpdir_teardown);

Test(state_dir, symlinked_dir_is_refused)
{
	char **got;
	size_t n;

	cr_assert_eq(mkdir(tmp_path("real"), 0700), 0);
	cr_assert_eq(symlink(tmp_path("real"), tmp_path("link")), 0);
	cr_assert_eq(rf_state_dir_open(tmp_path("link"), true), -ELOOP);
	cr_assert_eq(rf_rules_load(tmp_path("link"), &got, &n), -ELOOP);
	cr_assert_lt(rf_state_lock(tmp_path("link")), 0, "locked through a symlink");
	cr_assert_eq(dir_entries(tmp_path("real")), 0, "wrote through the symlink");
}

Test(state_dir, writable_by_others_or_foreign_owner_is_refused)
{
	static const mode_t bad[] = {01777, 0777, 0770, 0720, 0702};
	char *lines[] = {"net 0.0.0.0/0"};
	const char *dir = tmp_path("planted");
	size_t i;
	int fd;

	cr_assert_eq(mkdir(dir, 0700), 0);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		cr_assert_eq(chmod(dir, bad[i]), 0);
		cr_assert_eq(rf_state_dir_open(dir, true), -EPERM, "mode %o", bad[i]);
		cr_assert_eq(rf_rules_save(dir, lines, 1), -EPERM, "mode %o", bad[i]);
	}
	cr_assert_eq(chmod(dir, 0755), 0);
	fd = rf_state_dir_open(dir, true);
	cr_assert_geq(fd, 0, "a 0755 root dir is fine: %d", fd);
	close(fd);
	if (geteuid() == 0) {
		cr_assert_eq(chown(dir, 65534, 65534), 0);
		cr_assert_eq(rf_state_dir_open(dir, true), -EPERM, "another user's dir");
		cr_assert_eq(chown(dir, 0, 0), 0);
	}
	/* below a dir that others can write (not sticky): they could swap the state dir */
	cr_assert_eq(mkdir(tmp_path("open"), 0777), 0);
	cr_assert_eq(chmod(tmp_path("open"), 0777), 0);
	cr_assert_eq(rf_state_dir_open(tmp_path("open/state"), true), -EPERM);
	cr_assert_eq(chmod(tmp_path("open"), 01777), 0);
	fd = rf_state_dir_open(tmp_path("open/state"), true);
	cr_assert_geq(fd, 0, "below a sticky dir (/tmp) is fine: %d", fd);
	close(fd);
}

Test(state_dir, planted_symlinks_are_never_followed)
{
	struct rf_action a;
	struct rf_isolation iso = {.isolated = true};
	char *lines[] = {"exe /bin/true"}, *data, **got;
	size_t n;

	append_file(tmp_path("victim"), "precious\n");
	cr_assert_eq(symlink(tmp_path("victim"), tmp_path("history")), 0);
	cr_assert_eq(symlink(tmp_path("victim"), tmp_path("rules")), 0);
	cr_assert_eq(symlink(tmp_path("victim"), tmp_path("isolation")), 0);
	cr_assert_eq(symlink(tmp_path("victim"), tmp_path("lock")), 0);
	fill_action(&a, 0, "isolate", "x");
	cr_assert_neq(rf_action_record(test_tmpdir, &a, NULL), 0, "appended through a symlink");
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), -ELOOP);
	cr_assert_eq(rf_isolation_load(test_tmpdir, &iso), -ELOOP);
	cr_assert_lt(rf_state_lock(test_tmpdir), 0);
	/* a save replaces the link itself, never the file it points to */
	cr_assert_eq(rf_rules_save(test_tmpdir, lines, 1), 0);
	cr_assert_eq(rf_read_file(tmp_path("victim"), &data, NULL), 0);
	cr_assert_str_eq(data, "precious\n");
	free(data);
}

Test(state_dir, a_file_that_is_a_directory_is_an_error)
{
	char **got;
	size_t n;

	cr_assert_eq(mkdir(tmp_path("rules"), 0700), 0);
	cr_assert_eq(mkdir(tmp_path("lock"), 0700), 0);
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), -EISDIR);
	cr_assert_eq(rf_state_lock(test_tmpdir), -EISDIR);
	cr_assert_neq(rf_rules_save(test_tmpdir, NULL, 0), 0);
}

Test(state_dir, temp_files_have_unpredictable_names)
{
	char *lines[] = {"exe /bin/true"};
	int i;

	/* a planted file of the old predictable name is not written through */
	for (i = 0; i < 3; i++) {
		char name[64];

		snprintf(name, sizeof(name), "rules.tmp.%d", getpid());
		append_file(tmp_path(name), "");
	}
	cr_assert_eq(rf_rules_save(test_tmpdir, lines, 1), 0);
	cr_assert_eq(rf_rules_save(test_tmpdir, lines, 1), 0);
	cr_assert_eq(dir_entries(test_tmpdir), 2, "rules and the planted file, no temp file");
}

/* ---- history: ids, rotation (issue 20, item 13) ----------------------------------------------
 */

Test(history, a_planted_huge_id_hides_nothing)
{
	struct rf_action a, *acts;
	size_t n;

	fill_action(&a, 0, "isolate", "before");
	cr_assert_eq(rf_action_record(test_tmpdir, &a, NULL), 0);
	append_file(tmp_path("history"),
		    "18446744073709551614\tisolate\tSucceeded\tx\t1\t2\tplanted\t\n"
		    "{\"id\":18446744073709551614,\"status\":\"Succeeded\",\"type\":\"x\"}\n");
	unlink(tmp_path("history.seq"));
	fill_action(&a, 0, "release", "after");
	cr_assert_eq(rf_action_record(test_tmpdir, &a, NULL), 0);
	cr_assert_eq(a.id, 2);
	fill_action(&a, 0, "release", "later");
	cr_assert_eq(rf_action_record(test_tmpdir, &a, NULL), 0);
	load_history(&acts, &n);
	cr_assert_eq(n, 3, "%zu", n);
	cr_assert_str_eq(acts[2].comment, "later");
	free(acts);
}

Test(history, rotates_and_keeps_ids_going)
{
	struct rf_action a, *acts;
	struct stat st;
	char *big, line[256];
	size_t n, len = 0, lines = 0;

	/* a history just past the limit, written as records would be */
	big = malloc(RF_HISTORY_ROTATE_BYTES + sizeof(line));
	cr_assert_not_null(big);
	while (len < (size_t)RF_HISTORY_ROTATE_BYTES) {
		fill_action(&a, ++lines, "allow-add", "padding padding padding padding padding");
		a.status = RF_ACT_SUCCEEDED;
		cr_assert_eq(rf_action_encode(&a, line, sizeof(line) - 1), 0);
		len += (size_t)sprintf(big + len, "%s\n", line);
	}
	append_file(tmp_path("history"), big);
	free(big);
	fill_action(&a, 0, "isolate", "after the limit");
	cr_assert_eq(rf_action_record(test_tmpdir, &a, NULL), 0);
	cr_assert_eq(a.id, lines + 1, "ids continue across the rotation");
	cr_assert_eq(stat(tmp_path("history.1"), &st), 0, "not rotated");
	cr_assert_eq(stat(tmp_path("history"), &st), 0);
	cr_assert_lt(st.st_size, 1024, "the new history holds the one new record");
	fill_action(&a, 0, "release", "and the next");
	cr_assert_eq(rf_action_record(test_tmpdir, &a, NULL), 0);
	cr_assert_eq(a.id, lines + 2);
	load_history(&acts, &n);
	cr_assert_eq(n, lines + 2, "both generations are read: %zu", n);
	cr_assert_str_eq(acts[n - 1].comment, "and the next");
	free(acts);
}

/* ---- journal and rule changes (issue 20, item 10) --------------------------------------------
 */

TestSuite(journal, .init = tmpdir_setup, .fini = tmpdir_teardown);

Test(journal, write_read_clear)
{
	json_t *in = json_pack("{s:s,s:s}", "op", "isolate", "rule", "x"), *out = NULL;
	char boot[40];

	cr_assert_eq(rf_journal_read(test_tmpdir, &out), -ENOENT);
	cr_assert_eq(rf_journal_write(test_tmpdir, in), 0);
	json_decref(in);
	cr_assert_eq(rf_journal_read(test_tmpdir, &out), 0);
	cr_assert_str_eq(json_string_value(json_object_get(out, "op")), "isolate");
	cr_assert_eq(rf_boot_id(boot, sizeof(boot)), 0);
	cr_assert_str_eq(json_string_value(json_object_get(out, "boot_id")), boot,
			 "the intent names the boot it was made in");
	json_decref(out);
	cr_assert_eq(rf_journal_clear(test_tmpdir), 0);
	cr_assert_eq(rf_journal_read(test_tmpdir, &out), -ENOENT);
	cr_assert_eq(rf_journal_clear(test_tmpdir), 0, "clearing twice is fine");
}

Test(journal, damaged_is_an_error)
{
	json_t *out = NULL;

	append_file(tmp_path("journal"), "{\"format\":\"ringfence-journal\",\"op\":");
	cr_assert_eq(rf_journal_read(test_tmpdir, &out), -EBADMSG);
	cr_assert_null(out);
}

Test(journal, rules_change_is_idempotent)
{
	char **got;
	size_t n;

	cr_assert_eq(rf_rules_change(test_tmpdir, "exe \"/opt/a b\"", true), 0);
	cr_assert_eq(rf_rules_change(test_tmpdir, "exe \"/opt/a b\"", true), 0);
	cr_assert_eq(rf_rules_change(test_tmpdir, "net 192.0.2.0/24", true), 0);
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, 2, "added twice: %zu", n);
	rf_lines_free(got, n);
	cr_assert_eq(rf_rules_change(test_tmpdir, "exe \"/opt/a b\"", false), 0);
	cr_assert_eq(rf_rules_change(test_tmpdir, "exe \"/opt/a b\"", false), 0);
	cr_assert_eq(rf_rules_load(test_tmpdir, &got, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(got[0], "net 192.0.2.0/24");
	rf_lines_free(got, n);
}

Test(isolation, json_record_round_trips_every_field)
{
	struct rf_isolation iso = {.isolated = true,
				   .audit = false,
				   .confirm_unix_ns = 3,
				   .for_unix_ns = 4,
				   .remaining_ns = 5,
				   .for_after_confirm_ns = 6,
				   .since_unix_ns = 7,
				   .deadline_unix_ns = 8,
				   .deadline_boot_ns = 9,
				   .boot_to_unix_ns = 10,
				   .deadline_synced = true},
			    got;

	snprintf(iso.boot_id, sizeof(iso.boot_id), "0f1e2d3c-0000-4000-8000-123456789abc");
	snprintf(iso.comment, sizeof(iso.comment), "caf\xe9 \\x41\n\"}");
	cr_assert_eq(rf_isolation_save(test_tmpdir, &iso), 0);
	cr_assert_eq(rf_isolation_load(test_tmpdir, &got), 0);
	cr_assert(got.isolated && !got.audit);
	cr_assert_eq(got.confirm_unix_ns, 3);
	cr_assert_eq(got.for_unix_ns, 4);
	cr_assert_eq(got.remaining_ns, 5);
	cr_assert_eq(got.for_after_confirm_ns, 6);
	cr_assert_eq(got.since_unix_ns, 7);
	cr_assert_eq(got.deadline_unix_ns, 8);
	cr_assert_eq(got.deadline_boot_ns, 9);
	cr_assert_eq(got.boot_to_unix_ns, 10);
	cr_assert(got.deadline_synced);
	cr_assert_str_eq(got.boot_id, iso.boot_id);
	cr_assert_str_eq(got.comment, iso.comment);
}

/* ---- a deadline across a reboot ---------------------------------------------------------- */

#define SEC	 1000000000ULL
#define BOOT_A	 "0f1e2d3c-0000-4000-8000-00000000000a"
#define BOOT_B	 "0f1e2d3c-0000-4000-8000-00000000000b"
#define WALL_NOW (1800000000ULL * SEC)

/* isolated in boot A for an hour: at boot time 100 s, wall WALL_NOW - 2 h; 40 min were left
 * at the last save */
static struct rf_isolation timed(bool synced_then)
{
	struct rf_isolation iso = {.isolated = true,
				   .deadline_boot_ns = 3700 * SEC,
				   .deadline_unix_ns = WALL_NOW - 3600 * SEC,
				   .remaining_ns = 2400 * SEC,
				   .deadline_synced = synced_then};

	snprintf(iso.boot_id, sizeof(iso.boot_id), BOOT_A);
	return iso;
}

/* In the boot that set it, the kernel's clock decides, whatever the wall clock says. */
Test(isolation, deadline_in_the_same_boot_follows_the_boot_clock)
{
	struct rf_isolation iso = timed(true);

	cr_expect_eq(rf_isolation_left(&iso, BOOT_A, 700 * SEC, WALL_NOW, true), 3000 * SEC);
	cr_expect_eq(rf_isolation_left(&iso, BOOT_A, 3700 * SEC, 0, false), 0);
	cr_expect(!rf_isolation_wall_passed(&iso, BOOT_A, WALL_NOW, true),
		  "a wall clock set forward must not end an isolation within its boot");
}

/* After a reboot, a deadline that a synchronized clock says passed has passed (issue 20 #11). */
Test(isolation, expired_deadline_after_a_reboot_ends_by_a_synchronized_clock)
{
	struct rf_isolation iso = timed(true);

	cr_expect(rf_isolation_wall_passed(&iso, BOOT_B, WALL_NOW, true));
	cr_expect_eq(rf_isolation_left(&iso, BOOT_B, 5 * SEC, WALL_NOW, true), 0);
	cr_expect_eq(rf_isolation_deadline_unix(&iso, BOOT_B, 5 * SEC, WALL_NOW),
		     WALL_NOW - 3600 * SEC, "the lapse is dated at the deadline, not now");
}

/* ... but not by a clock that is not synchronized now, or was not when the deadline was
 * taken: then the record's time left is restored (fail closed). */
Test(isolation, expired_deadline_after_a_reboot_is_kept_without_a_trusted_clock)
{
	struct rf_isolation iso = timed(true), untrusted = timed(false);

	cr_expect(!rf_isolation_wall_passed(&iso, BOOT_B, WALL_NOW, false));
	cr_expect_eq(rf_isolation_left(&iso, BOOT_B, 5 * SEC, WALL_NOW, false), 2400 * SEC);
	cr_expect(!rf_isolation_wall_passed(&untrusted, BOOT_B, WALL_NOW, true));
	cr_expect_eq(rf_isolation_left(&untrusted, BOOT_B, 5 * SEC, WALL_NOW, true), 2400 * SEC);
}

/* A deadline still ahead by the synchronized clock gets what the record kept as left. */
Test(isolation, deadline_ahead_after_a_reboot_keeps_the_time_left)
{
	struct rf_isolation iso = timed(true);

	iso.deadline_unix_ns = WALL_NOW + 600 * SEC;
	cr_expect(!rf_isolation_wall_passed(&iso, BOOT_B, WALL_NOW, true));
	cr_expect_eq(rf_isolation_left(&iso, BOOT_B, 5 * SEC, WALL_NOW, true), 2400 * SEC);
	cr_expect(rf_isolation_wall_passed(&iso, BOOT_B, WALL_NOW + 600 * SEC, true));
}

/* The record keeps whether its wall deadline came from a synchronized clock; older records
 * (no key) are not trusted. */
Test(isolation, deadline_synced_round_trips_and_defaults_to_untrusted)
{
	struct rf_isolation iso = timed(true), got;
	json_t *doc = rf_isolation_json(&iso);

	cr_assert_not_null(doc);
	cr_assert_eq(rf_isolation_from_json(doc, &got), 0);
	cr_expect(got.deadline_synced);
	json_object_del(doc, "deadline_synced");
	cr_assert_eq(rf_isolation_from_json(doc, &got), 0);
	cr_expect(!got.deadline_synced);
	json_object_set_new(doc, "deadline_synced", json_string("yes"));
	cr_assert_eq(rf_isolation_from_json(doc, &got), 0);
	cr_expect(!got.deadline_synced);
	json_decref(doc);
}

/* The test hook: synchronized while the named file exists. */
Test(isolation, clock_sync_test_hook)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/synced", test_tmpdir);
	setenv("RINGFENCE_TEST_CLOCK_SYNCED", path, 1);
	cr_expect(!rf_clock_synced());
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_expect(rf_clock_synced());
	unsetenv("RINGFENCE_TEST_CLOCK_SYNCED");
}
