/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lookups in the CLI's output: JSON values of `status --json` and `history --json`, and lines of
 * text files and logs. Enough for the tests' flat objects; not a JSON parser.
 */
#ifndef RFT_JSON_H
#define RFT_JSON_H

#include <stddef.h>

/* Does JSON text `json` hold "key": true (1), "key": false (0), or neither (-1)? First match. */
int rft_json_bool(const char *json, const char *key);
/* Value of "key":"..." in a flat object (first match) copied to buf; NULL if absent. */
const char *rfp_json_str(const char *obj, const char *key, char *buf, size_t len);
/* The first flat JSON object ({...} without nested braces) of text holding every needle, copied
 * to buf; NULL if none. For `history --json`. */
const char *rfp_find_object(const char *text, const char *const needles[], char *buf, size_t len);
/* The first line of text holding every needle (NULL-terminated) copied to buf; NULL if none. */
const char *rfp_find_line(const char *text, const char *const needles[], char *buf, size_t len);
/* Read a whole file into a malloc'd string; NULL (errno set) on failure. */
char *rfp_read_file(const char *path);

#endif /* RFT_JSON_H */
