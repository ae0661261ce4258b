/* SPDX-License-Identifier: GPL-2.0-only */
/* Strict RFC 8259 checker for the unit tests, with a dotted-path lookup. Test helper only. */
#ifndef RF_TEST_JSON_LITE_H
#define RF_TEST_JSON_LITE_H

#include <stddef.h>

/*
 * Validate doc as exactly one JSON value (surrounding blanks allowed, strict UTF-8, no raw
 * control bytes in strings) and, when path is not NULL, copy the value found at path
 * ("event.action", "event.type.0" for array items) into out: strings decoded without quotes,
 * other values as their source text. Returns 0, -ENOENT (valid, path absent) or -EINVAL.
 */
int json_get(const char *doc, const char *path, char *out, size_t outlen);

/* json_get(doc, NULL, ...) == 0 */
int json_valid(const char *doc);

#endif /* RF_TEST_JSON_LITE_H */
