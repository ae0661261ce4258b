// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>
#include "rf_target.h"
#include "rf_util.h"

/* Length of the valid UTF-8 sequence at s (avail bytes), or 0 if it is not one (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > avail)
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f; /* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f; /* > U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

size_t rf_utf8_len(const char *s, size_t avail)
{
	return avail ? utf8_len((const unsigned char *)s, avail) : 0;
}

int rf_cgroup2_mount(char *buf, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mounts", "re");
	char dev[256], dir[PATH_MAX], type[64];

	if (!f)
		return -errno;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3) {
		if (strcmp(type, "cgroup2") == 0) {
			snprintf(buf, len, "%s", dir);
			return 0;
		}
	}
	return -ENOENT;
}

int rf_cgroup_resolve(const char *path, char *dir, size_t dirlen, __u64 *id)
{
	struct rf_cgroup_ref ref;
	char mnt[PATH_MAX];
	int err;

	err = rf_cgroup2_mount(mnt, sizeof(mnt));
	if (!err)
		err = rf_target_cgroup(mnt, path, &ref); /* by id: every spelling is one cgroup */
	if (err)
		return err;
	snprintf(dir, dirlen, "%s", ref.dir);
	*id = ref.id;
	return 0;
}

int rf_cgroup_level(const char *mnt, const char *dir)
{
	size_t mlen = strlen(mnt);
	const char *p;
	int level = 0;

	while (mlen > 1 && mnt[mlen - 1] == '/')
		mlen--; /* "/sys/fs/cgroup/" names the same mount */
	if (strncmp(dir, mnt, mlen) || (dir[mlen] != '/' && dir[mlen] != '\0'))
		return -1; /* the prefix is checked before anything past it is looked at */
	for (p = dir + mlen; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			level++;
	return level;
}

int rf_parse_u64(const char *s, __u64 max, __u64 *out)
{
	unsigned long long v;
	char *end;

	/* strtoull alone takes blanks, a sign ("-1" is ULLONG_MAX) and saturates silently */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	*out = (__u64)v;
	return 0;
}

static const char *log_prefix = "ringfence";

void rf_log_prefix(const char *prefix)
{
	log_prefix = prefix;
}

static bool log_quiet;

void rf_err_quiet(bool quiet)
{
	log_quiet = quiet;
}

static void log_v(const char *what, const char *fmt, va_list ap)
{
	if (log_quiet)
		return;
	fprintf(stderr, "%s: %s", log_prefix, what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void rf_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v("", fmt, ap);
	va_end(ap);
}

void rf_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v("warning: ", fmt, ap);
	va_end(ap);
}

static __u64 now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

__u64 rf_now_unix_ns(void)
{
	return now_ns(CLOCK_REALTIME);
}

__u64 rf_now_boot_ns(void)
{
	return now_ns(CLOCK_BOOTTIME);
}

__u64 rf_boot_to_unix(__u64 boot_ns, __u64 now_boot, __u64 now_unix)
{
	if (boot_ns >= now_boot)
		return now_unix + (boot_ns - now_boot);
	return now_boot - boot_ns < now_unix ? now_unix - (now_boot - boot_ns) : 0;
}

bool rf_clock_synced(void)
{
	const char *test = getenv("RINGFENCE_TEST_CLOCK_SYNCED");
	struct timex tx = {};
	int state;

	if (test && *test)
		return access(test, F_OK) == 0;
	state = adjtimex(&tx); /* modes 0: only reads, no privilege needed */
	return state >= 0 && state != TIME_ERROR && !(tx.status & STA_UNSYNC);
}

__u64 rf_now_mono_ms(void)
{
	return now_ns(CLOCK_MONOTONIC) / 1000000ULL;
}

bool rf_tick_due(__u64 *next_ms, __u64 now_ms, __u64 interval_ms)
{
	if (*next_ms && now_ms < *next_ms)
		return false;
	*next_ms = now_ms + interval_ms;
	return true;
}

void rf_format_time(__u64 unix_ns, char *buf, size_t len)
{
	time_t secs = (time_t)(unix_ns / 1000000000ULL);
	struct tm tm;
	char tmp[32];

	gmtime_r(&secs, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03lluZ", tmp, (unsigned long long)(unix_ns / 1000000ULL % 1000));
}

int rf_mkdir_p(const char *path, unsigned int mode)
{
	char tmp[PATH_MAX];
	char *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	{
		struct stat st;

		if (stat(tmp, &st))
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR; /* exists, but as a file */
	}
	return 0;
}

int rf_write_file_atomic(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX];
	int fd, err = 0;
	size_t off = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int rf_read_file(const char *path, char **data, size_t *len)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return -errno;
	for (;;) {
		size_t r;

		if (cap - n < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap += 65536;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f))
		return errno ? -errno : -EIO; /* e.g. EISDIR: never mistake it for empty */
	buf[n] = '\0';
	*data = TAKE_PTR(buf);
	if (len)
		*len = n;
	return 0;
}

size_t rf_escape_field(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 2 < len; s++) {
		if (*s == '\\' || *s == '\t' || *s == '\n') {
			out[o++] = '\\';
			out[o++] = *s == '\\' ? '\\' : *s == '\t' ? 't' : 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return o;
}

void rf_unescape_field(char *s)
{
	char *r = s, *w = s;

	for (; *r; r++) {
		if (*r == '\\' && r[1]) {
			r++;
			*w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/*
 * Copy in for a terminal: a valid UTF-8 character is kept unless it is a control character (C0,
 * DEL, C1 U+0080-U+009F: U+009B is CSI on many terminals); those and every byte that is not
 * valid UTF-8 (a lone 0x9b is CSI on 8-bit terminals) become '?'. A character is copied whole
 * or not at all.
 */
void rf_safe_str(const char *in, size_t inlen, char *out, size_t len)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, o = 0, n;

	inlen = strnlen(in, inlen);
	while (i < inlen && o + 1 < len) {
		n = utf8_len(p + i, inlen - i);
		if (n == 0 || p[i] < 0x20 || p[i] == 0x7f || (p[i] == 0xc2 && p[i + 1] < 0xa0)) {
			out[o++] = '?';
			i += n ? n : 1;
			continue;
		}
		if (o + n >= len)
			break;
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
}

const char *rf_safe(const char *in, char *out, size_t len)
{
	rf_safe_str(in ? in : "", SIZE_MAX, out, len);
	return out;
}
