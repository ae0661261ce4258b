/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The CLI's JSON output read the way a consumer reads it: every document parsed strictly with
 * jansson (one document per line, duplicate keys, invalid UTF-8 and trailing bytes rejected: the
 * test fails naming the line) and compared by field. Also lookups in text output and files.
 * Shared by the unit tests and the kernel tests (tests/lib/rft_jansson.c).
 */
#ifndef RFT_JSON_H
#define RFT_JSON_H

#include <stddef.h>
#include <jansson.h>

/*
 * The strict parse of one document (text holds exactly one JSON value, blanks around it
 * allowed): the test fails (cr_assert) on anything else. The caller releases the result.
 */
json_t *rft_json_load(const char *text);
/*
 * Every non-empty line of text parsed as rft_json_load() (JSON lines: events --json,
 * events.jsonl), as a new array, in order. Any line that is not one strict document fails the
 * test naming it.
 */
json_t *rft_json_lines(const char *text);
/* The value at a dotted path ("event.action", "event.type.0" for array items, "" for doc
 * itself) or NULL. Borrowed from doc. */
json_t *rft_json_at(json_t *doc, const char *path);
/* The string at path, or NULL when absent or not a string. Borrowed from doc. */
const char *rft_json_str_at(json_t *doc, const char *path);
/* The boolean at path: 1, 0, or -1 when absent or not a boolean. */
int rft_json_bool_at(json_t *doc, const char *path);
/* The integer at path, or def when absent or not an integer. */
long long rft_json_int_at(json_t *doc, const char *path, long long def);
/* The first element of array arr whose string at path equals value (NULL: any element that has
 * path); NULL if none. Borrowed from arr. */
json_t *rft_json_find(json_t *arr, const char *path, const char *value);
/* Number of elements of array arr whose string at path equals value. */
size_t rft_json_count(json_t *arr, const char *path, const char *value);

/*
 * Lookups by key anywhere in the JSON lines of json (each parsed strictly, as rft_json_lines()),
 * depth first in document order, the first match wins:
 * rft_json_bool: "key": true (1), false (0), or neither (-1).
 */
int rft_json_bool(const char *json, const char *key);
/* The first string value of "key" copied to buf (decoded); NULL if there is none. */
const char *rfp_json_str(const char *obj, const char *key, char *buf, size_t len);
/*
 * The first object of the JSON documents in text (depth first, an object before its members)
 * whose compact form (as the CLI writes it: "key":"value") contains every needle
 * (NULL-terminated), in that form copied to buf; NULL if none. For `history --json` (an action
 * of the array) and `status --json` (the document).
 */
const char *rfp_find_object(const char *text, const char *const needles[], char *buf, size_t len);
/* The first line of text holding every needle (NULL-terminated) copied to buf; NULL if none. */
const char *rfp_find_line(const char *text, const char *const needles[], char *buf, size_t len);
/* Read a whole file into a malloc'd string; NULL (errno set) on failure. */
char *rfp_read_file(const char *path);

#endif /* RFT_JSON_H */
