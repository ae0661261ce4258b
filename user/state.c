// SPDX-License-Identifier: GPL-2.0-only
/* Files in the state dir: persisted allow rules and the isolation record. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rf_state.h"
#include "rf_util.h"

void rf_state_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

void rf_lines_free(char **lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

int rf_split_lines(char *data, char ***out, size_t *n)
{
	char **lines = NULL, *save = NULL, *l;
	size_t cnt = 0;

	for (l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char **nl;

		if (!*l)
			continue;
		nl = lines;
		if ((cnt & (cnt - 1)) == 0) { /* grow at powers of two */
			nl = realloc(lines, (cnt ? cnt * 2 : 1) * sizeof(*lines));
			if (!nl) {
				rf_lines_free(lines, cnt);
				return -ENOMEM;
			}
			lines = nl;
		}
		if (!(nl[cnt] = strdup(l))) {
			rf_lines_free(lines, cnt);
			return -ENOMEM;
		}
		cnt++;
	}
	*out = lines;
	*n = cnt;
	return 0;
}

int rf_rules_load(const char *state_dir, char ***lines, size_t *n)
{
	return rf_state_lines_load(state_dir, "rules", lines, n);
}

int rf_state_lines_load(const char *state_dir, const char *name, char ***lines, size_t *n)
{
	char path[PATH_MAX], *data;
	int err;

	*lines = NULL;
	*n = 0;
	rf_state_path(path, sizeof(path), state_dir, name);
	err = rf_read_file(path, &data, NULL);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	err = rf_split_lines(data, lines, n);
	free(data);
	return err;
}

int rf_state_lines_save(const char *state_dir, const char *name, const char *header,
			char *const *lines, size_t n)
{
	char path[PATH_MAX], *buf;
	size_t i, len = header ? strlen(header) + 1 : 0, off = 0;
	int err;

	for (i = 0; i < n; i++)
		len += strlen(lines[i]) + 1;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	if (header)
		off += (size_t)sprintf(buf, "%s\n", header);
	for (i = 0; i < n; i++)
		off += (size_t)sprintf(buf + off, "%s\n", lines[i]);
	err = rf_mkdir_p(state_dir, 0700);
	if (!err) {
		rf_state_path(path, sizeof(path), state_dir, name);
		err = rf_write_file_atomic(path, buf, off);
	}
	free(buf);
	return err;
}

int rf_rules_save(const char *state_dir, char *const *lines, size_t n)
{
	return rf_state_lines_save(state_dir, "rules", NULL, lines, n);
}

int rf_isolation_save(const char *state_dir, const struct rf_isolation *iso)
{
	char path[PATH_MAX], buf[4096], c[2100];
	int err;

	rf_escape_field(c, sizeof(c), iso->comment);
	snprintf(buf, sizeof(buf),
		 "isolated=%d\naudit=%d\nsince=%llu\ndeadline=%llu\nconfirm=%llu\nfor=%llu\n"
		 "remaining=%llu\ncomment=%s\n",
		 iso->isolated ? 1 : 0, iso->audit ? 1 : 0, (unsigned long long)iso->since_unix_ns,
		 (unsigned long long)iso->deadline_unix_ns,
		 (unsigned long long)iso->confirm_unix_ns, (unsigned long long)iso->for_unix_ns,
		 (unsigned long long)iso->remaining_ns, c);
	err = rf_mkdir_p(state_dir, 0700);
	if (err)
		return err;
	rf_state_path(path, sizeof(path), state_dir, "isolation");
	return rf_write_file_atomic(path, buf, strlen(buf));
}

/* A number of the isolation record (rf_parse_u64()); 0 when damaged: no deadline, fail closed */
static __u64 record_u64(const char *s)
{
	__u64 v;

	return rf_parse_u64(s, ULLONG_MAX, &v) ? 0 : v;
}

/* One "key=value" line of the isolation record into iso; unknown keys are ignored. A flag is
 * off only when it says 0: a damaged "isolated=" restores isolation (fail closed). */
static void isolation_line(char *l, struct rf_isolation *iso)
{
	if (!strncmp(l, "isolated=", 9))
		iso->isolated = strcmp(l + 9, "0") != 0;
	else if (!strncmp(l, "audit=", 6))
		iso->audit = strcmp(l + 6, "0") != 0;
	else if (!strncmp(l, "since=", 6))
		iso->since_unix_ns = record_u64(l + 6);
	else if (!strncmp(l, "deadline=", 9))
		iso->deadline_unix_ns = record_u64(l + 9);
	else if (!strncmp(l, "confirm=", 8))
		iso->confirm_unix_ns = record_u64(l + 8);
	else if (!strncmp(l, "for=", 4))
		iso->for_unix_ns = record_u64(l + 4);
	else if (!strncmp(l, "remaining=", 10))
		iso->remaining_ns = record_u64(l + 10);
	else if (!strncmp(l, "comment=", 8)) {
		rf_unescape_field(l + 8);
		snprintf(iso->comment, sizeof(iso->comment), "%s", l + 8);
	}
}

int rf_isolation_load(const char *state_dir, struct rf_isolation *iso)
{
	char path[PATH_MAX], *data, *save = NULL, *l;
	int err;

	memset(iso, 0, sizeof(*iso));
	rf_state_path(path, sizeof(path), state_dir, "isolation");
	err = rf_read_file(path, &data, NULL);
	if (err)
		return err == -ENOENT ? 0 : err;
	for (l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		isolation_line(l, iso);
	free(data);
	return 0;
}
