// SPDX-License-Identifier: GPL-2.0-only
/*
 * Numbers and durations (user/util.c, user/rule.c) against a reference written here, and the
 * text made safe for terminals and JSON (user/util.c, user/json.c).
 */
#include <errno.h>
#include <jansson.h>
#include "fuzz.h"
#include "rf_json.h"
#include "rf_rule.h"
#include "rf_util.h"

/* Reference: digits only, value <= max, computed without overflow. */
static int ref_u64(const char *s, __u64 max, __u64 *out)
{
	__u64 v = 0;

	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	for (; *s; s++) {
		if (v > (~0ULL - (__u64)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (__u64)(*s - '0');
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static void check_numbers(const char *s, __u64 max)
{
	__u64 a = 0, b = 0, secs;
	int ra = rf_parse_u64(s, max, &a), rb = ref_u64(s, max, &b);

	FUZZ_CHECK(ra == rb && a == b, "'%s' max %llu: %d %llu, reference %d %llu", s,
		   (unsigned long long)max, ra, (unsigned long long)a, rb, (unsigned long long)b);
	if (!rf_parse_duration(s, &secs))
		FUZZ_CHECK(secs >= 1 && secs <= 366ULL * 86400, "'%s' -> %llu s", s,
			   (unsigned long long)secs);
}

static void check_text(const uint8_t *data, size_t size)
{
	char out[256], *dump;
	json_t *j = rf_jstrn((const char *)data, size), *back;
	size_t i;

	rf_safe_str((const char *)data, size, out, sizeof(out));
	for (i = 0; out[i]; i++) {
		unsigned char c = (unsigned char)out[i];
		size_t n = rf_utf8_len(out + i, strlen(out + i));

		FUZZ_CHECK(n > 0, "safe text holds bytes that are not UTF-8 at %zu", i);
		FUZZ_CHECK(c >= 0x20 && c != 0x7f &&
			       !(c == 0xc2 && (unsigned char)out[i + 1] < 0xa0),
			   "a control character in safe text at %zu", i);
		i += n - 1;
	}
	FUZZ_CHECK(j != NULL, "rf_jstrn failed");
	dump = json_dumps(j, RF_JSON_DUMP_FLAGS | JSON_ENCODE_ANY);
	FUZZ_CHECK(dump != NULL, "no dump");
	for (i = 0; dump[i]; i++)
		FUZZ_CHECK((unsigned char)dump[i] < 0x80 && ((unsigned char)dump[i] >= 0x20),
			   "a raw byte %#x in JSON", (unsigned char)dump[i]);
	back = json_loads(dump, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(back && json_equal(back, j), "JSON does not read back: %s", dump);
	json_decref(back);
	free(dump);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const __u64 maxes[] = {0, 1, 65535, 4294967295ULL, 9223372036854775807ULL, ~0ULL};
	char *s;

	if (size > 4096)
		return 0;
	check_text(data, size);
	s = fuzz_str(data, size);
	if (!s)
		return 0;
	check_numbers(s, maxes[size % (sizeof(maxes) / sizeof(maxes[0]))]);
	free(s);
	return 0;
}
