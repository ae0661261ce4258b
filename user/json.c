// SPDX-License-Identifier: GPL-2.0-only
/* The JSON writer on jansson; contracts in rf_json.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rf_json.h"
#include "rf_util.h"

json_t *rf_jstrn(const char *s, size_t len)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strnlen((const char *)p, len), i = 0, o = 0, k;
	json_t *j;
	char *buf;

	/* the common case: already valid, no copy */
	while (i < n && (k = rf_utf8_len((const char *)p + i, n - i)))
		i += k;
	if (i == n)
		return json_stringn((const char *)p, n);
	buf = malloc(n * 3 + 1); /* each bad byte grows to 3 */
	if (!buf)
		return NULL;
	for (i = 0; i < n; i += k ? k : 1) {
		k = rf_utf8_len((const char *)p + i, n - i);
		if (k) {
			memcpy(buf + o, p + i, k);
			o += k;
		} else {
			memcpy(buf + o, fffd, 3);
			o += 3;
		}
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

json_t *rf_jstr(const char *s)
{
	return rf_jstrn(s, SIZE_MAX);
}

json_t *rf_jstr_or_null(const char *s)
{
	return s && s[0] ? rf_jstr(s) : json_null();
}

json_t *rf_ju64(__u64 v)
{
	char buf[24];

	if (v <= (__u64)INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

int rf_json_write(FILE *f, json_t *doc, bool newline)
{
	int err = 0;

	if (!doc)
		return -ENOMEM;
	if (json_dumpf(doc, f, RF_JSON_DUMP_FLAGS) || (newline && fputc('\n', f) == EOF))
		err = -EIO;
	json_decref(doc);
	return err;
}

int rf_jset(json_t *obj, const char *key, json_t *value)
{
	if (!value)
		return -ENOMEM;
	return json_object_set_new(obj, key, value) ? -ENOMEM : 0;
}

int rf_jappend(json_t *arr, json_t *value)
{
	if (!value)
		return -ENOMEM;
	return json_array_append_new(arr, value) ? -ENOMEM : 0;
}
