// SPDX-License-Identifier: GPL-2.0-only
/* The JSON writer, terminal-safe text, time formatting, atomic file writes. */
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
#include "rf_json.h"
#include "rft_json.h"

/* {"k":<rf_jstr(s)>} as rf_json_write() prints it, newline-terminated (caller frees). */
static char *jstr_doc(const char *s)
{
	char *text;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	cr_assert_eq(rf_json_write(f, json_pack("{s:o}", "k", rf_jstr(s)), true), 0);
	fclose(f);
	return text;
}

/* The value of "k" decoded back from jstr_doc(s): strict parse, duplicate keys rejected. */
static char *jstr_round_trip(const char *s)
{
	char *text = jstr_doc(s), *val;
	json_t *doc = rft_json_load(text);

	cr_assert(json_is_string(json_object_get(doc, "k")), "%s", text);
	val = strdup(json_string_value(json_object_get(doc, "k")));
	json_decref(doc);
	free(text);
	return val;
}

struct json_case {
	const char *in;
	const char *out; /* the whole document rf_json_write() prints */
};

static void check_json_cases(const struct json_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char *got = jstr_doc(cases[i].in);

		cr_expect_str_eq(got, cases[i].out, "rf_jstr case %zu", i);
		free(got);
	}
}

Test(json_str, escapes)
{
	static const struct json_case cases[] = {
	    {"", "{\"k\":\"\"}\n"},
	    {"plain text 123", "{\"k\":\"plain text 123\"}\n"},
	    {"a\"b", "{\"k\":\"a\\\"b\"}\n"},
	    {"back\\slash", "{\"k\":\"back\\\\slash\"}\n"},
	    {"line\nbreak", "{\"k\":\"line\\nbreak\"}\n"},
	    {"\t\r", "{\"k\":\"\\t\\r\"}\n"},
	    {"\x01", "{\"k\":\"\\u0001\"}\n"},
	    {"\x1b[31mred", "{\"k\":\"\\u001B[31mred\"}\n"},
	    {"evil\"}\n{", "{\"k\":\"evil\\\"}\\n{\"}\n"},
	    /* C1 controls and every other non-ASCII character: \u escapes, never raw bytes */
	    {"\xc2\x9b"
	     "2J",
	     "{\"k\":\"\\u009B2J\"}\n"},
	    {"\xc2\x80\xc2\x9f", "{\"k\":\"\\u0080\\u009F\"}\n"},
	    {"caf\xc3\xa9", "{\"k\":\"caf\\u00E9\"}\n"},
	    {"\xf0\x9f\x98\x80", "{\"k\":\"\\uD83D\\uDE00\"}\n"},
	};

	check_json_cases(cases, ARRAY_SIZE(cases));
}

Test(json_str, null_is_empty_string_or_null)
{
	char *got = jstr_doc(NULL);

	cr_assert_str_eq(got, "{\"k\":\"\"}\n");
	free(got);
	cr_assert(json_is_null(rf_jstr_or_null(NULL)));
	cr_assert(json_is_null(rf_jstr_or_null("")));
	cr_assert_eq(rf_json_write(stdout, NULL, true), -ENOMEM, "a failed builder is an error");
}

Test(json_str, valid_utf8_kept)
{
	static const char *const cases[] = {
	    "caf\xc3\xa9",
	    "\xc2\x80",
	    "\xdf\xbf",
	    "\xe0\xa0\x80",
	    "\xe2\x82\xac",
	    "\xed\x9f\xbf",
	    "\xee\x80\x80",
	    "\xef\xbf\xbd",
	    "\xf0\x90\x80\x80",
	    "\xf4\x8f\xbf\xbf",
	    "\xe6\x97\xa5\xe6\x9c\xac",
	    "\x7f",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *got = jstr_round_trip(cases[i]);

		cr_expect_str_eq(got, cases[i], "case %zu", i);
		free(got);
	}
}

Test(json_str, invalid_bytes_replaced)
{
	static const struct {
		const char *in, *decoded;
	} cases[] = {
	    {"\xff", "\xef\xbf\xbd"},
	    {"\x80", "\xef\xbf\xbd"}, /* lone continuation byte */
	    {"a\xbf"
	     "b",
	     "a\xef\xbf\xbd"
	     "b"},
	    {"\xc3", "\xef\xbf\xbd"}, /* truncated at the end of the string */
	    {"\xc3(", "\xef\xbf\xbd("},
	    {"\xe2\x82\"", "\xef\xbf\xbd\xef\xbf\xbd\""}, /* a quote cannot hide in a sequence */
	    {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},	  /* overlong '/' */
	    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* U+D800 surrogate */
	    {"\xf4\x90\x80\x80",
	     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* >U+10FFFF */
	    {"ok\xc3\xa9\xff", "ok\xc3\xa9\xef\xbf\xbd"},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *got = jstr_round_trip(cases[i].in);

		cr_expect_str_eq(got, cases[i].decoded, "case %zu", i);
		free(got);
	}
}

/* Every short byte string gives one strict ASCII document that decodes back to the input when it
 * was UTF-8. */
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
					json_error_t e;
					json_t *doc;
					char *text;
					const char *val;
					int ok;

					/* the full product is large: vary the tails only for leads
					 */
					if (b0 < 0xc0 && (t2 || t3))
						continue;
					if ((b1 == 0 && t2) || (!tails[t2] && t3))
						continue;
					text = jstr_doc((char *)in);
					doc = json_loads(text, JSON_REJECT_DUPLICATES, &e);
					val = json_string_value(json_object_get(doc, "k"));
					ok = val && utf8_valid(val) &&
					     (!utf8_valid((char *)in) || !strcmp(val, (char *)in));
					for (const char *p = text; ok && *p; p++)
						ok = (unsigned char)*p < 0x80;
					if (!ok && bad++ < 5)
						cr_log_error(
						    "bad output for %02x %02x %02x %02x: %s", in[0],
						    in[1], in[2], in[3], text);
					json_decref(doc);
					free(text);
				}
			}
		}
	}
	cr_assert_eq(bad, 0, "%zu inputs gave invalid JSON or lost data", bad);
}

Test(json_u64, above_int64_is_a_string)
{
	static const struct {
		__u64 v;
		const char *want;
	} cases[] = {
	    {0, "0"},
	    {4242, "4242"},
	    {9223372036854775807ULL, "9223372036854775807"},
	    {9223372036854775808ULL, "\"9223372036854775808\""},
	    {18446744073709551615ULL, "\"18446744073709551615\""},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *v = rf_ju64(cases[i].v);
		char *text = json_dumps(v, JSON_ENCODE_ANY);

		cr_expect_str_eq(text, cases[i].want, "case %zu", i);
		free(text);
		json_decref(v);
	}
}

/* The strict reader of the tests must reject what it is there to catch. */
Test(json_strict, rejects_broken_json)
{
	static const char *const bad[] = {
	    "",
	    "\"raw\nnewline\"",
	    "{\"a\":\"raw\x01control\"}",
	    "{\"a\":\"unterminated}",
	    "{\"a\":1}{\"b\":2}",
	    "{\"a\":1,}",
	    "{\"a\" 1}",
	    "{\"a\":1,\"a\":2}", /* duplicate keys */
	    "{\"r\":{\"h\":1},\"r\":{\"t\":2}}",
	    "{\"a\":\"\xed\xa0\x80\"}",
	    "{\"a\":\"\xc0\xaf\"}",
	    "{\"a\":\"\xff\"}",
	    "{\"a\":\"\\x41\"}",
	    "{\"a\":\"\\u0000\"}",
	    "[01]",
	    "[1,]",
	    "{\"a\":tru}",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *doc = json_loads(bad[i], JSON_REJECT_DUPLICATES, NULL);

		cr_expect_null(doc, "accepted: %s", bad[i]);
		json_decref(doc);
	}
	cr_assert(utf8_valid("caf\xc3\xa9"));
	cr_assert_not(utf8_valid("\xed\xa0\x80"));
	cr_assert_not(utf8_valid("\xc3"));
}

/* The path lookups of tests/lib/rft_jansson.c. */
Test(json_strict, path_lookups)
{
	json_t *doc = rft_json_load("{\"a\":{\"b\":[true,\"v\",7]},\"c\":\"\\u00e9\\n\"}\n");
	json_t *lines = rft_json_lines("{\"x\":1}\n\n{\"x\":2,\"y\":\"z\"}\n");

	cr_assert_eq(rft_json_bool_at(doc, "a.b.0"), 1);
	cr_assert_str_eq(rft_json_str_at(doc, "a.b.1"), "v");
	cr_assert_eq(rft_json_int_at(doc, "a.b.2", -1), 7);
	cr_assert_null(rft_json_at(doc, "a.c"));
	cr_assert_null(rft_json_at(doc, "a.b.3"));
	cr_assert_str_eq(rft_json_str_at(doc, "c"), "\xc3\xa9\n");
	cr_assert_eq(json_array_size(lines), 2);
	cr_assert_not_null(rft_json_find(lines, "y", "z"));
	cr_assert_eq(rft_json_count(lines, "x", NULL), 2);
	cr_assert_eq(rft_json_bool("{\"h\":{\"connect4\":true}}", "connect4"), 1);
	cr_assert_eq(rft_json_bool("{\"h\":{\"connect4\":1}}", "connect4"), -1);
	json_decref(doc);
	json_decref(lines);
}

/* ---- rf_parse_u64: every number from outside --------------------------------------------------
 */

Test(parse_u64, strict_decimal_in_range)
{
	static const struct {
		const char *in;
		__u64 max;
		int ret;
		__u64 v;
	} cases[] = {
	    {"0", 10, 0, 0},
	    {"22", 65535, 0, 22},
	    {"0022", 65535, 0, 22},
	    {"65535", 65535, 0, 65535},
	    {"65536", 65535, -ERANGE, 0},
	    {"4294967318", 65535, -ERANGE, 0}, /* 2^32 + 22: never 22 */
	    {"4294967296", 4294967295ULL, -ERANGE, 0},
	    {"18446744073709551615", ~0ULL, 0, ~0ULL},
	    {"18446744073709551616", ~0ULL, -ERANGE, 0}, /* 2^64: strtoull saturates */
	    {"18446744073709551638", ~0ULL, -ERANGE, 0},
	    {"99999999999999999999999999", ~0ULL, -ERANGE, 0},
	    {"", 10, -EINVAL, 0},
	    {" 1", 10, -EINVAL, 0},
	    {"1 ", 10, -EINVAL, 0},
	    {"+1", 10, -EINVAL, 0},
	    {"-1", ~0ULL, -EINVAL, 0}, /* strtoull: ULLONG_MAX */
	    {"0x10", ~0ULL, -EINVAL, 0},
	    {"1e3", ~0ULL, -EINVAL, 0},
	    {"12\n", ~0ULL, -EINVAL, 0},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		__u64 v = 777;
		int ret = rf_parse_u64(cases[i].in, cases[i].max, &v);

		cr_expect_eq(ret, cases[i].ret, "'%s': %d, want %d", cases[i].in, ret,
			     cases[i].ret);
		cr_expect_eq(v, ret ? 777 : cases[i].v, "'%s' -> %llu", cases[i].in,
			     (unsigned long long)v);
	}
	cr_assert_eq(rf_parse_u64(NULL, 1, NULL), -EINVAL);
}

/* ---- rf_safe_str: text for a terminal --------------------------------------------------------
 */

Test(safe_str, controls_and_bad_bytes_neutralised)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"plain", "plain"},
	    {"\x1b[2J", "?[2J"},
	    {"a\nb\tc\r", "a?b?c?"},
	    {"\x7f", "?"},
	    {"\xc2\x9b"
	     "31m",
	     "?31m"},				      /* U+009B CSI */
	    {"\xc2\x80\xc2\x9f", "??"},		      /* the C1 range */
	    {"\xc2\xa0\xc3\xa9", "\xc2\xa0\xc3\xa9"}, /* just above C1: kept */
	    {"\x9b"
	     "31m",
	     "?31m"}, /* a lone CSI byte (8-bit terminals) */
	    {"\xe2\x82\xac", "\xe2\x82\xac"},
	    {"\xed\xa0\x80", "???"},
	    {"\xc3", "?"},
	};
	char out[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		cr_expect_str_eq(rf_safe(cases[i].in, out, sizeof(out)), cases[i].want, "case %zu",
				 i);
	/* a character is copied whole or not at all */
	rf_safe_str("ab\xe2\x82\xac", 5, out, 5);
	cr_assert_str_eq(out, "ab");
	rf_safe_str("ab\xe2\x82\xac", 4, out, sizeof(out));
	cr_assert_str_eq(out, "ab??", "a sequence cut by inlen is not valid");
	cr_assert_str_eq(rf_safe(NULL, out, sizeof(out)), "");
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
