/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one JSON writer of the product: documents are built with jansson and written by
 * rf_json_write(), which escapes everything (control characters, and every non-ASCII character
 * as \uXXXX, so no C1 control or ESC reaches a terminal raw). Strings that come from the
 * kernel, the file system or the user go through rf_jstr(), which never fails on bad bytes.
 */
#ifndef RF_JSON_H
#define RF_JSON_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include <linux/types.h>

/* jansson (2.11+) provides json_decrefp() for _cleanup_(json_decrefp) json_t *doc = ...:
 * released at the end of its scope (rf_util.h). */
/* Flags of every document the product writes: one line, non-ASCII escaped. */
#define RF_JSON_DUMP_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII)

/*
 * A JSON string holding s: bytes that are not valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) each become U+FFFD; NULL gives "". NULL only when out of
 * memory.
 */
json_t *rf_jstr(const char *s);
/* rf_jstr(s) or null when s is NULL or empty. */
json_t *rf_jstr_or_null(const char *s);
/* At most len bytes of s (stops at a NUL), as rf_jstr(): for fixed-size kernel fields. */
json_t *rf_jstrn(const char *s, size_t len);
/*
 * An unsigned 64-bit value: an integer up to 2^63-1 (jansson's json_int_t), above that its
 * decimal digits as a string, so a value another agent wrote is never printed negative or
 * rounded.
 */
json_t *rf_ju64(__u64 v);

/*
 * Write doc to f with RF_JSON_DUMP_FLAGS (and a newline when newline is true), then release it:
 * doc is consumed even on failure. 0, -ENOMEM when doc is NULL (a builder failed), -EIO when
 * the write failed.
 */
int rf_json_write(FILE *f, json_t *doc, bool newline);

/* Set key of obj to value (consumed); -ENOMEM when value is NULL or the set failed. */
int rf_jset(json_t *obj, const char *key, json_t *value);
/* Append value (consumed) to array arr; -ENOMEM as rf_jset(). */
int rf_jappend(json_t *arr, json_t *value);

#endif /* RF_JSON_H */
