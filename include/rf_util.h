/* SPDX-License-Identifier: GPL-2.0-only */
/* Small shared helpers: JSON output, cgroup2 discovery, time. */
#ifndef RF_UTIL_H
#define RF_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>
#include <linux/types.h>

/*
 * Scope cleanup, systemd's habit: a variable declared _cleanup_close_ (an fd, -1 when none),
 * _cleanup_free_, _cleanup_fclose_ or _cleanup_closedir_ is released when it goes out of scope,
 * on every return path, with errno kept as it was. TAKE_FD() / TAKE_PTR() hand the value over
 * (leaving -1 / NULL) where ownership leaves the scope:
 *
 *	_cleanup_close_ int fd = open(path, O_RDONLY);
 *	if (fd < 0)
 *		return -errno;
 *	...
 *	return TAKE_FD(fd);
 */
#define _cleanup_(fn)	   __attribute__((cleanup(fn)))
#define _cleanup_close_	   _cleanup_(rf_closep)
#define _cleanup_free_	   _cleanup_(rf_freep)
#define _cleanup_fclose_   _cleanup_(rf_fclosep)
#define _cleanup_closedir_ _cleanup_(rf_closedirp)
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _taken = (fd);                                                                 \
		(fd) = -1;                                                                         \
		_taken;                                                                            \
	})
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _taken = (p);                                                        \
		(p) = NULL;                                                                        \
		_taken;                                                                            \
	})

static inline void rf_closep(const int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	errno = saved;
}

static inline void rf_freep(void *p)
{
	int saved = errno;

	free(*(void **)p);
	errno = saved;
}

static inline void rf_fclosep(FILE **f)
{
	int saved = errno;

	if (*f)
		fclose(*f);
	errno = saved;
}

static inline void rf_closedirp(DIR **d)
{
	int saved = errno;

	if (*d)
		closedir(*d);
	errno = saved;
}

/*
 * The one way to report a problem: "<prefix>: <message>" on stderr (prefix "ringfence", or what
 * rf_log_prefix() set, e.g. "ringfence agent"). rf_warn() adds "warning: ". Put strerror(-err) in
 * the message where an errno explains it: rf_err("failed to X: %s", strerror(-err)).
 */
void rf_log_prefix(const char *prefix);
/* While true, rf_err() and rf_warn() print nothing (probing targets that may be gone). */
void rf_err_quiet(bool quiet);
__attribute__((format(printf, 1, 2))) void rf_err(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void rf_warn(const char *fmt, ...);

/* Length of the valid UTF-8 character at s (at most avail bytes; RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when the bytes there are not one. */
size_t rf_utf8_len(const char *s, size_t avail);

/* Mount point of the cgroup2 hierarchy from /proc/self/mounts ("/sys/fs/cgroup" or
 * "/sys/fs/cgroup/unified" on hybrid hosts). Returns 0 or -ENOENT. */
int rf_cgroup2_mount(char *buf, size_t len);

/* Resolve a cgroup given as a path under the cgroup2 mount ("/system.slice/x.service", with or
 * without the leading '/') or as a filesystem path, to its canonical directory and cgroup id
 * (rf_target_cgroup()). */
int rf_cgroup_resolve(const char *path, char *dir, size_t dirlen, __u64 *id);

/* Depth of cgroup directory dir below the cgroup2 mount mnt (mnt itself is 0); -1 when dir is
 * not mnt or below it. Pure string logic: "/sys/fs/cgroup/a//b/" is 2 below "/sys/fs/cgroup". */
int rf_cgroup_level(const char *mnt, const char *dir);

/*
 * Every number from outside (ports, durations, ids, pids, sizes, config and state values): plain
 * decimal digits only (no blank, sign, 0x or trailing byte), through strtoull with its overflow
 * check, and at most max; the same on 32- and 64-bit (never wraps: "4294967318" is not 22).
 * 0, -EINVAL (not a number) or -ERANGE (above max).
 */
int rf_parse_u64(const char *s, __u64 max, __u64 *out);

/* Wall clock and CLOCK_BOOTTIME in nanoseconds. */
__u64 rf_now_unix_ns(void);
__u64 rf_now_boot_ns(void);
/* A CLOCK_BOOTTIME time of this boot on the wall clock, given both clocks now (0 if before 1970).
 */
__u64 rf_boot_to_unix(__u64 boot_ns, __u64 now_boot, __u64 now_unix);
/*
 * Does the kernel say the wall clock is synchronized (adjtimex(): STA_UNSYNC clear, as NTP
 * daemons leave it; timedatectl's NTPSynchronized)? After boot it is not, until NTP has set it.
 * Test only: with $RINGFENCE_TEST_CLOCK_SYNCED set to a path, synchronized while that file exists.
 */
bool rf_clock_synced(void);
/* CLOCK_MONOTONIC in milliseconds: for intervals, immune to clock changes. */
__u64 rf_now_mono_ms(void);

/*
 * A periodic task driven by a monotonic clock: true (and the next time set to now + interval)
 * when now_ms has reached *next_ms. The first call is due when *next_ms is 0.
 */
bool rf_tick_due(__u64 *next_ms, __u64 now_ms, __u64 interval_ms);

/* "2026-11-23T06:53:01.123Z" for a unix ns timestamp. */
void rf_format_time(__u64 unix_ns, char *buf, size_t len);

/* mkdir -p with mode for the last component; returns 0 or -errno. */
int rf_mkdir_p(const char *path, unsigned int mode);

/* Write a whole file atomically: temp file in the same dir, fsync, rename. 0 or -errno. */
int rf_write_file_atomic(const char *path, const char *data, size_t len);

/* Read a whole file into a malloc'd NUL-terminated buffer. 0 or -errno. */
int rf_read_file(const char *path, char **data, size_t *len);

/*
 * A field of a one-line, tab-separated record: rf_escape_field() writes s with \\, tab and
 * newline escaped (truncated to len); rf_unescape_field() undoes it in place.
 */
size_t rf_escape_field(char *out, size_t len, const char *s);
void rf_unescape_field(char *s);

/*
 * Copy at most inlen bytes of in (up to a NUL) for a terminal, so a hostile name or comment
 * cannot forge terminal output: control characters (C0, DEL, and C1 U+0080-U+009F, such as
 * U+009B CSI) and bytes that are not valid UTF-8 become '?'; other UTF-8 is kept whole.
 */
void rf_safe_str(const char *in, size_t inlen, char *out, size_t len);
/* rf_safe_str() of the whole string in (NULL as ""); returns out, for printf arguments. */
const char *rf_safe(const char *in, char *out, size_t len);

#endif /* RF_UTIL_H */
