/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared unit-test helpers: a private temp dir per test, captured FILE output. */
#ifndef RF_TEST_HELPERS_H
#define RF_TEST_HELPERS_H

#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Path of the temp dir made by tmpdir_setup() ("/tmp/ringfence-unit-<pid>-XXXXXX"). */
extern char test_tmpdir[];

/* Criterion .init / .fini: create test_tmpdir, and remove it with everything below it. */
void tmpdir_setup(void);
void tmpdir_teardown(void);

/* "<test_tmpdir>/<name>" in a static buffer (one of 4, reused round robin). */
const char *tmp_path(const char *name);

/* Number of entries in dir, "." and ".." excluded; -1 on error. */
int dir_entries(const char *dir);

/* Run fn(arg) with an open_memstream FILE; returns the malloc'd output (caller frees). */
char *capture(void (*fn)(FILE *f, const void *arg), const void *arg);

/* Is s well-formed UTF-8 (RFC 3629: no overlongs, surrogates or code points > U+10FFFF)? */
int utf8_valid(const char *s);

#endif /* RF_TEST_HELPERS_H */
