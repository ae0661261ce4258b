/* SPDX-License-Identifier: GPL-2.0-only */
/* Small shared helpers: JSON output, cgroup2 discovery, time. */
#ifndef RF_UTIL_H
#define RF_UTIL_H

#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>

/* Write s as a JSON string literal (with quotes), escaping control bytes and invalid UTF-8. */
void rf_json_str(FILE *f, const char *s);

/* Mount point of the cgroup2 hierarchy from /proc/self/mounts ("/sys/fs/cgroup" or
 * "/sys/fs/cgroup/unified" on hybrid hosts). Returns 0 or -ENOENT. */
int rf_cgroup2_mount(char *buf, size_t len);

/* Resolve a cgroup given as a path under the cgroup2 mount ("/system.slice/x.service") or as
 * an absolute filesystem path below the mount, to its directory path and cgroup id. */
int rf_cgroup_resolve(const char *path, char *dir, size_t dirlen, __u64 *id);

/* Wall clock and CLOCK_BOOTTIME in nanoseconds. */
__u64 rf_now_unix_ns(void);
__u64 rf_now_boot_ns(void);

/* "2026-11-23T06:53:01.123Z" for a unix ns timestamp. */
void rf_format_time(__u64 unix_ns, char *buf, size_t len);

/* mkdir -p with mode for the last component; returns 0 or -errno. */
int rf_mkdir_p(const char *path, unsigned int mode);

/* Write a whole file atomically: temp file in the same dir, fsync, rename. 0 or -errno. */
int rf_write_file_atomic(const char *path, const char *data, size_t len);

/* Read a whole file into a malloc'd NUL-terminated buffer. 0 or -errno. */
int rf_read_file(const char *path, char **data, size_t *len);

#endif /* RF_UTIL_H */
