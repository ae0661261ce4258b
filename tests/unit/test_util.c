// SPDX-License-Identifier: GPL-2.0-only
/* JSON string escaping, time formatting, atomic file writes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_util.h"
#include "helpers.h"
#include "json_lite.h"

static void json_str_fn(FILE *f, const void *arg)
{
	rf_json_str(f, arg);
}

/* {"k":<rf_json_str(s)>}, so the strict checker can decode the value back. */
static void json_obj_fn(FILE *f, const void *arg)
{
	fputs("{\"k\":", f);
	rf_json_str(f, arg);
	fputc('}', f);
}

struct json_case {
	const char *in;
	const char *out;
};

static void check_json_cases(const struct json_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char *got = capture(json_str_fn, cases[i].in);

		cr_expect_str_eq(got, cases[i].out, "rf_json_str case %zu", i);
		cr_expect(json_valid(got), "case %zu: not valid JSON: %s", i, got);
		free(got);
	}
}

Test(json_str, escapes)
{
	static const struct json_case cases[] = {
	    {"", "\"\""},
	    {"plain text 123", "\"plain text 123\""},
	    {"a\"b", "\"a\\\"b\""},
	    {"back\\slash", "\"back\\\\slash\""},
	    {"\\\"", "\"\\\\\\\"\""},
	    {"line\nbreak", "\"line\\nbreak\""},
	    {"\t\r", "\"\\t\\r\""},
	    {"/", "\"/\""},
	    {"\x01", "\"\\u0001\""},
	    {"\x08\x0c", "\"\\u0008\\u000c\""},
	    {"\x1b[31mred", "\"\\u001b[31mred\""},
	    {"\x1f", "\"\\u001f\""},
	    {" ~", "\" ~\""},
	    {"\x7f", "\"\\u007f\""},
	    {"evil\"}\n{", "\"evil\\\"}\\n{\""},
	    {"x\",\"pid\":0,\"y\":\"", "\"x\\\",\\\"pid\\\":0,\\\"y\\\":\\\"\""},
	};

	check_json_cases(cases, ARRAY_SIZE(cases));
}

Test(json_str, null_is_empty_string)
{
	char *got = capture(json_str_fn, NULL);

	cr_assert_str_eq(got, "\"\"");
	free(got);
}

Test(json_str, valid_utf8_kept)
{
	static const struct json_case cases[] = {
	    {"caf\xc3\xa9", "\"caf\xc3\xa9\""},		  /* U+00E9 */
	    {"\xc2\x80", "\"\xc2\x80\""},		  /* U+0080, lowest 2-byte */
	    {"\xdf\xbf", "\"\xdf\xbf\""},		  /* U+07FF */
	    {"\xe0\xa0\x80", "\"\xe0\xa0\x80\""},	  /* U+0800, lowest 3-byte */
	    {"\xe2\x82\xac", "\"\xe2\x82\xac\""},	  /* euro sign */
	    {"\xed\x9f\xbf", "\"\xed\x9f\xbf\""},	  /* U+D7FF, just below the surrogates */
	    {"\xee\x80\x80", "\"\xee\x80\x80\""},	  /* U+E000, just above */
	    {"\xef\xbf\xbd", "\"\xef\xbf\xbd\""},	  /* U+FFFD itself */
	    {"\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\""}, /* U+10000 */
	    {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""}, /* emoji */
	    {"\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""}, /* U+10FFFF, highest */
	    {"\xe6\x97\xa5\xe6\x9c\xac", "\"\xe6\x97\xa5\xe6\x9c\xac\""},
	};

	check_json_cases(cases, ARRAY_SIZE(cases));
}

Test(json_str, invalid_bytes_replaced)
{
	static const struct json_case cases[] = {
	    {"\xff", "\"\\ufffd\""},
	    {"\xfe\xff", "\"\\ufffd\\ufffd\""},
	    {"\x80", "\"\\ufffd\""}, /* lone continuation byte */
	    {"a\xbf"
	     "b",
	     "\"a\\ufffdb\""},
	    {"\xc3", "\"\\ufffd\""}, /* truncated at the end of the string */
	    {"\xc3(", "\"\\ufffd(\""},
	    {"\xe2\x82", "\"\\ufffd\\ufffd\""},
	    {"\xe2\x82\"", "\"\\ufffd\\ufffd\\\"\""}, /* a quote cannot hide in a sequence */
	    {"\xf0\x9f\x98", "\"\\ufffd\\ufffd\\ufffd\""},
	    {"\xc0\xaf", "\"\\ufffd\\ufffd\""}, /* overlong '/', 2 bytes */
	    {"\xc1\xbf", "\"\\ufffd\\ufffd\""},
	    {"\xf5\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
	    {"\xf8\x88\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\""},
	    {"ok\xc3\xa9\xff", "\"ok\xc3\xa9\\ufffd\""},
	};

	check_json_cases(cases, ARRAY_SIZE(cases));
}

/*
 * Ill-formed sequences whose lead byte looks right: overlong 3- and 4-byte forms, UTF-16
 * surrogates and code points above U+10FFFF (RFC 3629 section 4). JSON must be UTF-8, so they
 * are invalid bytes like any other.
 */
Test(json_str, ill_formed_utf8_replaced)
{
	static const struct json_case cases[] = {
	    {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},	      /* overlong '/', 3 bytes */
	    {"\xe0\x9f\xbf", "\"\\ufffd\\ufffd\\ufffd\""},	      /* overlong U+07FF */
	    {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},	      /* U+D800 high surrogate */
	    {"\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\""},	      /* U+DFFF low surrogate */
	    {"\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* overlong, 4 bytes */
	    {"\xf0\x8f\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* overlong U+FFFF */
	    {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* U+110000 */
	};

	check_json_cases(cases, ARRAY_SIZE(cases));
}

/* Every short byte string gives strict JSON that decodes back to the input when it was UTF-8. */
Test(json_str, exhaustive_short_strings)
{
	static const unsigned char tails[] = {0x00, 0x80, 0xbf, '"'};
	unsigned int b0, b1, t2, t3;
	size_t bad = 0;

	for (b0 = 1; b0 < 256; b0++) {
		for (b1 = 0; b1 < 256; b1++) {
			for (t2 = 0; t2 < ARRAY_SIZE(tails); t2++) {
				for (t3 = 0; t3 < ARRAY_SIZE(tails); t3++) {
					unsigned char in[5] = {b0, b1, tails[t2], tails[t3], 0};
					char *doc, val[64];
					int ok;

					/* the full product is large: vary the tails only for leads
					 */
					if (b0 < 0xc0 && (t2 || t3))
						continue;
					if ((b1 == 0 && t2) || (!tails[t2] && t3))
						continue;
					doc = capture(json_obj_fn, in);
					ok = json_get(doc, "k", val, sizeof(val)) == 0 &&
					     (!utf8_valid((char *)in) || !strcmp(val, (char *)in));
					if (!ok && bad++ < 5)
						cr_log_error(
						    "bad output for %02x %02x %02x %02x: %s", in[0],
						    in[1], in[2], in[3], doc);
					free(doc);
				}
			}
		}
	}
	cr_assert_eq(bad, 0, "%zu inputs gave invalid JSON or lost data", bad);
}

/* The strict checker itself must reject what it is there to catch. */
Test(json_lite, rejects_broken_json)
{
	static const char *const bad[] = {
	    "",
	    "\"raw\nnewline\"",
	    "\"raw\x01control\"",
	    "\"unterminated",
	    "\"a\"b\"",
	    "{\"a\":1}{\"b\":2}",
	    "{\"a\":1,}",
	    "{\"a\" 1}",
	    "{\"a\":1,\"a\":2}",
	    "\"\xed\xa0\x80\"",
	    "\"\xc0\xaf\"",
	    "\"\xff\"",
	    "\"\\x41\"",
	    "\"\\ud800\"",
	    "01",
	    "[1,]",
	    "{\"a\":tru}",
	};
	char val[16];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		cr_assert_not(json_valid(bad[i]), "accepted: %s", bad[i]);
	cr_assert(json_valid("{\"a\":[1,-2.5e3,\"x\\u00e9\\ud83d\\ude00\"],\"b\":{\"c\":null}}\n"));
	cr_assert_eq(json_get("{\"a\":{\"b\":[true,\"v\"]}}", "a.b.1", val, sizeof(val)), 0);
	cr_assert_str_eq(val, "v");
	cr_assert_eq(json_get("{\"a\":{\"b\":[true,\"v\"]}}", "a.b.0", val, sizeof(val)), 0);
	cr_assert_str_eq(val, "true");
	cr_assert_eq(json_get("{\"a\":{\"b\":1}}", "a.c", val, sizeof(val)), -ENOENT);
	cr_assert_eq(json_get("{\"a\":\"\\u00e9\\n\"}", "a", val, sizeof(val)), 0);
	cr_assert_str_eq(val, "\xc3\xa9\n");
	cr_assert(utf8_valid("caf\xc3\xa9"));
	cr_assert_not(utf8_valid("\xed\xa0\x80"));
	cr_assert_not(utf8_valid("\xc3"));
}

/* ---- rf_format_time ---------------------------------------------------------------------------
 */

Test(format_time, utc_with_milliseconds)
{
	static const struct {
		__u64 ns;
		const char *want;
	} cases[] = {
	    {0, "1970-01-01T00:00:00.000Z"},
	    {999999, "1970-01-01T00:00:00.000Z"},
	    {1000000, "1970-01-01T00:00:00.001Z"},
	    {1999999999, "1970-01-01T00:00:01.999Z"},
	    {1795416781123456789ULL, "2026-11-23T06:53:01.123Z"},
	    {1709164800000000000ULL, "2024-02-29T00:00:00.000Z"},
	    {951868799999000000ULL, "2000-02-29T23:59:59.999Z"},
	    {4102444800000000000ULL, "2100-01-01T00:00:00.000Z"},
	};
	size_t i;

	setenv("TZ", "America/New_York", 1); /* must not matter */
	tzset();
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char buf[40];

		rf_format_time(cases[i].ns, buf, sizeof(buf));
		cr_assert_str_eq(buf, cases[i].want, "%llu ns", (unsigned long long)cases[i].ns);
	}
}

Test(format_time, truncates_safely)
{
	char buf[16];

	memset(buf, 'X', sizeof(buf));
	rf_format_time(0, buf, 11);
	cr_assert_str_eq(buf, "1970-01-01");
	cr_assert_eq(buf[11], 'X');
}

/* ---- rf_write_file_atomic / rf_read_file ------------------------------------------------------
 */

TestSuite(files, .init = tmpdir_setup, .fini = tmpdir_teardown);

static void write_and_check(const char *path, const char *data, size_t len)
{
	size_t got_len = 12345;
	char *got = NULL;

	cr_assert_eq(rf_write_file_atomic(path, data, len), 0, "write %s", path);
	cr_assert_eq(rf_read_file(path, &got, &got_len), 0, "read %s", path);
	cr_assert_eq(got_len, len);
	cr_assert(!memcmp(got, data, len), "content differs");
	cr_assert_eq(got[len], '\0', "not NUL-terminated");
	free(got);
}

Test(files, write_read_round_trip)
{
	const char *p = tmp_path("state");

	write_and_check(p, "hello\n", 6);
	write_and_check(p, "x", 1); /* shorter replacement leaves nothing of the old content */
	write_and_check(p, "", 0);
	write_and_check(p, "a\0b\0", 4);
	cr_assert_eq(dir_entries(test_tmpdir), 1, "temp file left behind");
}

Test(files, large_file)
{
	size_t len = 300 * 1024 + 17, i;
	char *data = malloc(len);

	cr_assert_not_null(data);
	for (i = 0; i < len; i++)
		data[i] = (char)('a' + i % 23);
	write_and_check(tmp_path("big"), data, len);
	free(data);
	cr_assert_eq(dir_entries(test_tmpdir), 1, "temp file left behind");
}

Test(files, replaces_atomically_by_rename)
{
	const char *p = tmp_path("f");
	struct stat before, after;

	cr_assert_eq(rf_write_file_atomic(p, "old", 3), 0);
	cr_assert_eq(stat(p, &before), 0);
	cr_assert_eq(rf_write_file_atomic(p, "new", 3), 0);
	cr_assert_eq(stat(p, &after), 0);
	/* a new inode: readers holding the old file never see a half-written one */
	cr_assert_neq(before.st_ino, after.st_ino);
}

Test(files, errors)
{
	char *data = (char *)"untouched";
	size_t len = 7;

	cr_assert_eq(rf_read_file(tmp_path("missing"), &data, &len), -ENOENT);
	cr_assert_eq(rf_read_file(test_tmpdir, &data, &len), -EISDIR, "a directory read as empty");
	cr_assert_str_eq(data, "untouched");
	cr_assert_eq(len, 7);
	cr_assert_eq(rf_write_file_atomic(tmp_path("no/such/dir/f"), "x", 1), -ENOENT);
	cr_assert_eq(mkdir(tmp_path("adir"), 0700), 0);
	cr_assert_neq(rf_write_file_atomic(tmp_path("adir"), "x", 1), 0, "replaced a directory");
	cr_assert_eq(dir_entries(tmp_path("adir")), 0);
	cr_assert_eq(dir_entries(test_tmpdir), 1, "temp file left behind after a failed rename");
}

Test(files, mkdir_p)
{
	const char *p = tmp_path("a/b/c");
	struct stat st;

	cr_assert_eq(rf_mkdir_p(p, 0700), 0);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(rf_mkdir_p(p, 0700), 0, "existing dir is not an error");
	cr_assert_eq(close(open(tmp_path("file"), O_CREAT | O_WRONLY, 0600)), 0);
	cr_assert_neq(rf_mkdir_p(tmp_path("file/sub"), 0700), 0);
}

/* ---- rf_cgroup_level ---------------------------------------------------------------------- */

Test(cgroup_level, depth_below_the_mount)
{
	cr_assert_eq(rf_cgroup_level("/sys/fs/cgroup", "/sys/fs/cgroup"), 0);
	cr_assert_eq(rf_cgroup_level("/sys/fs/cgroup", "/sys/fs/cgroup/"), 0);
	cr_assert_eq(rf_cgroup_level("/sys/fs/cgroup", "/sys/fs/cgroup/a"), 1);
	cr_assert_eq(rf_cgroup_level("/sys/fs/cgroup", "/sys/fs/cgroup/a//b/"), 2);
	cr_assert_eq(rf_cgroup_level("/sys/fs/cgroup/", "/sys/fs/cgroup/a/b/c"), 3);
	cr_assert_eq(rf_cgroup_level("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/x.slice"),
		     1);
}

Test(cgroup_level, outside_the_mount_is_refused)
{
	/* dir shorter than the mount: nothing past the end of dir may be looked at */
	cr_assert_eq(rf_cgroup_level("/sys/fs/cgroup/unified", "/sys"), -1);
	cr_assert_eq(rf_cgroup_level("/sys/fs/cgroup/unified", ""), -1);
	cr_assert_eq(rf_cgroup_level("/sys/fs/cgroup", "/sys/fs/cgroupx/a"), -1);
	cr_assert_eq(rf_cgroup_level("/sys/fs/cgroup", "/tmp/a/b"), -1);
}

/* ---- rf_tick_due: periodic work by a monotonic clock, not by counting polls --------------- */

Test(tick, due_by_time_not_by_calls)
{
	__u64 next = 0, t;
	int runs = 0;

	/* an event stream wakes the loop every millisecond for 10 s: the 1 s task runs 10 times */
	for (t = 5000; t < 15000; t++)
		runs += rf_tick_due(&next, t, 1000);
	cr_assert_eq(runs, 10, "ran %d times in 10 s", runs);
	/* a quiet loop that wakes every 100 ms: the same */
	next = 0;
	runs = 0;
	for (t = 5000; t < 15000; t += 100)
		runs += rf_tick_due(&next, t, 1000);
	cr_assert_eq(runs, 10, "ran %d times in 10 s", runs);
}

Test(tick, first_call_is_due)
{
	__u64 next = 0;

	cr_assert(rf_tick_due(&next, 42, 1000));
	cr_assert_eq(next, 1042);
	cr_assert_not(rf_tick_due(&next, 1041, 1000));
	cr_assert(rf_tick_due(&next, 5000, 1000), "a late tick runs once");
	cr_assert_eq(next, 6000);
}
