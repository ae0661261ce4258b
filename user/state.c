// SPDX-License-Identifier: GPL-2.0-only
/*
 * Files in the state dir: persisted allow rules, the isolation record and the other line lists.
 *
 * The dir is trusted only when nobody but root could have put anything into it (see
 * rf_state_dir_open()), and every file in it is opened relative to the checked dir with
 * O_NOFOLLOW: a planted symlink is an error, never followed. Files are JSON (jansson), written
 * to a temp file of an unpredictable name, fsync'ed, renamed over the old one and the dir
 * fsync'ed, so a crash or a full disk leaves the old file or the new one, never a torn one.
 * Files of the previous release (one line per entry, key=value) are still read; the next save
 * writes them in the new format.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rf_state.h"
#include "rf_util.h"

#define RF_STATE_VERSION 2

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

/* ---- the dir and its files -------------------------------------------------------------------
 */

/* May a dir with this owner and mode hold or lead to state? Root's (or ours), and nobody
 * else can add or swap entries: not writable by others (unless sticky, like /tmp, where
 * others cannot rename what is not theirs); the state dir itself not even by its group. */
static bool trusted(const struct stat *st, bool leaf)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return false;
	if (leaf)
		return !(st->st_mode & 022);
	return !(st->st_mode & 002) || (st->st_mode & S_ISVTX);
}

/* Every ancestor of path (absolute or not) must be trusted. */
static int check_ancestors(const char *path)
{
	char buf[PATH_MAX], *slash;
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	while ((slash = strrchr(buf, '/'))) {
		if (slash == buf)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(buf, &st))
			return -errno;
		if (!trusted(&st, false))
			return -EPERM;
		if (slash == buf)
			break;
	}
	return 0;
}

int rf_state_dir_open(const char *state_dir, bool create)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int err;

	if (!state_dir || !*state_dir)
		return -EINVAL;
	if (create) {
		err = rf_mkdir_p(state_dir, 0700);
		if (err && err != -ENOTDIR)
			return err;
	}
	fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		struct stat lst;

		err = -errno;
		if (!lstat(state_dir, &lst) && S_ISLNK(lst.st_mode))
			return -ELOOP;
		return err;
	}
	if (fstat(fd, &st))
		return -errno;
	err = trusted(&st, true) ? check_ancestors(state_dir) : -EPERM;
	return err ? err : TAKE_FD(fd);
}

const char *rf_state_dir_problem(int err)
{
	switch (err) {
	case -ELOOP:
		return "it is a symlink (or a file in it is): remove the link and run the "
		       "command again, or give a real directory with --state-dir";
	case -EPERM:
		return "it (or a directory above it) is not owned by root or is writable by "
		       "others, so someone else could have planted its files: remove it, or "
		       "'chown root:root' and 'chmod 700' it after checking its contents, or give "
		       "another --state-dir";
	case -ENOTDIR:
		return "it (or a file in it) is not what it should be, e.g. a directory where a "
		       "file belongs: move it aside";
	case -EISDIR:
		return "a file in it is a directory: move that directory aside";
	case -EROFS:
	case -EACCES:
		return "it is read-only: remount it read-write or give another --state-dir";
	case -ENOSPC:
	case -EDQUOT:
		return "its filesystem is full: free space";
	default:
		return NULL;
	}
}

const char *rf_state_problem(int err)
{
	static __thread char buf[512];
	const char *p = rf_state_dir_problem(err);

	snprintf(buf, sizeof(buf), "%s%s%s", strerror(-err), p ? "; " : " (set --state-dir)",
		 p ? p : "");
	return buf;
}

/* Open NAME in the checked dir dfd without following a symlink; only a regular file. */
static int open_regular(int dfd, const char *name, int flags, mode_t mode)
{
	struct stat st = {};
	_cleanup_close_ int fd =
	    openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	return TAKE_FD(fd);
}

int rf_state_open_file(const char *state_dir, const char *name, int flags)
{
	_cleanup_close_ int dfd = rf_state_dir_open(state_dir, flags & O_CREAT);

	if (dfd < 0)
		return dfd;
	return open_regular(dfd, name, flags, 0600);
}

int rf_state_read(const char *state_dir, const char *name, char **data, size_t *len)
{
	size_t cap = 4096, n = 0;
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = rf_state_open_file(state_dir, name, O_RDONLY);
	int err = 0;

	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t r;

		if (!buf || cap - n < 2) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (err)
		return err;
	buf[n] = '\0';
	*data = TAKE_PTR(buf);
	if (len)
		*len = n;
	return 0;
}

/* A temp name nobody can guess in advance: ".NAME.XXXXXXXXXXXXXXXX". */
static void temp_name(char *buf, size_t len, const char *name)
{
	unsigned long long r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r ^= rf_now_boot_ns() * 0x9e3779b97f4a7c15ULL ^ (unsigned long long)getpid();
	snprintf(buf, len, ".%s.%016llx", name, r);
}

static int write_all(int fd, const char *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		off += (size_t)n;
	}
	return 0;
}

/* rf_state_write(); without sync, nothing is fsync'ed: the rename is atomic for a process
 * that is killed, not for a power cut (for the journal: isolation must not wait for a disk). */
static int state_write(const char *state_dir, const char *name, const char *data, size_t len,
		       bool sync)
{
	char tmp[NAME_MAX + 1];
	_cleanup_close_ int dfd = -1;
	int fd, err;

	if (strlen(name) + 18 > NAME_MAX)
		return -ENAMETOOLONG;
	dfd = rf_state_dir_open(state_dir, true);
	if (dfd < 0)
		return dfd;
	temp_name(tmp, sizeof(tmp), name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = write_all(fd, data, len);
	if (!err && sync && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(dfd, tmp, dfd, name))
		err = -errno;
	if (err)
		unlinkat(dfd, tmp, 0);
	else if (sync && fsync(dfd))
		err = -errno; /* the rename itself must survive a power cut */
	return err;
}

int rf_state_write(const char *state_dir, const char *name, const char *data, size_t len)
{
	return state_write(state_dir, name, data, len, true);
}

/* ---- strings in JSON, byte-exact -------------------------------------------------------------
 */

/* Length of the valid UTF-8 sequence at s (RFC 3629), 0 if it is not one. */
static int utf8_seq(const unsigned char *s)
{
	int n, i;

	if (s[0] < 0x80)
		return 1;
	n = s[0] >= 0xc2 && s[0] <= 0xdf   ? 2
	    : s[0] >= 0xe0 && s[0] <= 0xef ? 3
	    : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
					   : 0;
	if (!n)
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0; /* overlong, surrogate, beyond U+10FFFF */
	return n;
}

json_t *rf_state_json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	_cleanup_free_ char *buf = malloc(strlen(s) * 4 + 1);

	if (!buf)
		return NULL;
	while (*p) {
		int n = utf8_seq(p);

		if (*p == '\\' || !n) {
			o += (size_t)sprintf(buf + o, *p == '\\' ? "\\\\" : "\\x%02x", *p);
			p++;
			continue;
		}
		memcpy(buf + o, p, (size_t)n);
		o += (size_t)n;
		p += n;
	}
	buf[o] = '\0';
	return json_string(buf);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

char *rf_state_str_dup(const json_t *j)
{
	const char *s = json_string_value(j);
	size_t o = 0;
	char *out;

	if (!s || strlen(s) != json_string_length(j))
		return NULL; /* not a string, or one with a NUL */
	out = malloc(strlen(s) + 1);
	if (!out)
		return NULL;
	for (; *s; s++) {
		int hi, lo;

		if (*s != '\\') {
			out[o++] = *s;
			continue;
		}
		if (s[1] == '\\') {
			out[o++] = *++s;
			continue;
		}
		hi = s[1] == 'x' ? hexval(s[2]) : -1;
		lo = hi >= 0 ? hexval(s[3]) : -1;
		if (lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(hi << 4 | lo);
		s += 3;
	}
	out[o] = '\0';
	return out;
}

int rf_state_str_get(const json_t *obj, const char *key, char *out, size_t len)
{
	json_t *j = json_object_get(obj, key);
	_cleanup_free_ char *s = NULL;

	out[0] = '\0';
	if (!j)
		return 0;
	s = rf_state_str_dup(j);
	if (!s)
		return -EBADMSG;
	snprintf(out, len, "%s", s);
	return 0;
}

int rf_state_str_set(json_t *obj, const char *key, const char *s)
{
	json_t *j = rf_state_json_str(s ? s : "");

	return j && !json_object_set_new(obj, key, j) ? 0 : -ENOMEM;
}

static int json_write(const char *state_dir, const char *name, const json_t *doc, bool sync)
{
	_cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);

	if (!text)
		return -ENOMEM;
	return state_write(state_dir, name, text, strlen(text), sync);
}

int rf_state_json_write(const char *state_dir, const char *name, const json_t *doc)
{
	return json_write(state_dir, name, doc, true);
}

json_t *rf_state_doc_parse(const char *data, const char *format, int *err)
{
	json_t *doc = json_loads(data, JSON_REJECT_DUPLICATES, NULL);
	const char *f = json_string_value(json_object_get(doc, "format"));

	if (!doc || !f || strcmp(f, format) || !json_is_integer(json_object_get(doc, "version"))) {
		json_decref(doc);
		*err = -EBADMSG;
		return NULL;
	}
	return doc;
}

bool rf_state_is_json(const char *data)
{
	data += strspn(data, " \t\r\n");
	return *data == '{';
}

/* ---- line lists (rules, config-applied, exe-keys, target) ------------------------------------
 */

static int lines_from_json(const char *data, char ***lines, size_t *n)
{
	json_t *doc, *arr, *v;
	size_t i, cnt;
	char **out;
	int err = 0;

	doc = rf_state_doc_parse(data, "ringfence-lines", &err);
	if (!doc)
		return err;
	arr = json_object_get(doc, "lines");
	cnt = json_array_size(arr);
	out = calloc(cnt ? cnt : 1, sizeof(*out));
	if (!json_is_array(arr) || !out)
		err = out ? -EBADMSG : -ENOMEM;
	json_array_foreach(arr, i, v)
	{
		if (err)
			break;
		if (!(out[i] = rf_state_str_dup(v)))
			err = -EBADMSG;
	}
	json_decref(doc);
	if (err) {
		rf_lines_free(out, cnt);
		return err;
	}
	*lines = out;
	*n = cnt;
	return 0;
}

int rf_rules_load(const char *state_dir, char ***lines, size_t *n)
{
	return rf_state_lines_load(state_dir, "rules", lines, n);
}

int rf_state_lines_load(const char *state_dir, const char *name, char ***lines, size_t *n)
{
	_cleanup_free_ char *data = NULL;
	int err;

	*lines = NULL;
	*n = 0;
	err = rf_state_read(state_dir, name, &data, NULL);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	/* the previous release wrote one entry per line */
	err = rf_state_is_json(data) ? lines_from_json(data, lines, n)
				     : rf_split_lines(data, lines, n);
	if (!err && !*n) { /* no lines is no array: callers that return early on !n leak nothing */
		free(*lines);
		*lines = NULL;
	}
	return err;
}

static int lines_doc(json_t *arr, const char *header, char *const *lines, size_t n)
{
	size_t i;

	if (header && json_array_append_new(arr, rf_state_json_str(header)))
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if (json_array_append_new(arr, rf_state_json_str(lines[i])))
			return -ENOMEM;
	return 0;
}

int rf_state_lines_save(const char *state_dir, const char *name, const char *header,
			char *const *lines, size_t n)
{
	_cleanup_(json_decrefp) json_t *doc = json_pack(
	    "{s:s,s:i,s:[]}", "format", "ringfence-lines", "version", RF_STATE_VERSION, "lines");
	int err;

	if (!doc)
		return -ENOMEM;
	err = lines_doc(json_object_get(doc, "lines"), header, lines, n);
	return err ? err : rf_state_json_write(state_dir, name, doc);
}

int rf_rules_save(const char *state_dir, char *const *lines, size_t n)
{
	return rf_state_lines_save(state_dir, "rules", NULL, lines, n);
}

/* ---- the isolation record --------------------------------------------------------------------
 */

/* The __u64 fields of the record, by name: one table for the writer and the reader. */
#define ISO_U64(X)                                                                                 \
	X(since, since_unix_ns)                                                                    \
	X(deadline, deadline_unix_ns)                                                              \
	X(confirm, confirm_unix_ns)                                                                \
	X(for, for_unix_ns)                                                                        \
	X(remaining, remaining_ns)                                                                 \
	X(for_after_confirm, for_after_confirm_ns)                                                 \
	X(deadline_boot, deadline_boot_ns)                                                         \
	X(boot_to_unix, boot_to_unix_ns)

json_t *rf_isolation_json(const struct rf_isolation *iso)
{
	json_t *doc =
	    json_pack("{s:s,s:i,s:b,s:b,s:s,s:b}", "format", "ringfence-isolation", "version",
		      RF_STATE_VERSION, "isolated", iso->isolated, "audit", iso->audit, "boot_id",
		      iso->boot_id, "deadline_synced", iso->deadline_synced);
	int err = doc ? 0 : -ENOMEM;

#define SET(key, field)                                                                            \
	if (!err && json_object_set_new(doc, #key, json_integer((json_int_t)iso->field)))          \
		err = -ENOMEM;
	ISO_U64(SET)
#undef SET
	if (!err)
		err = rf_state_str_set(doc, "comment", iso->comment);
	if (err) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int rf_isolation_save(const char *state_dir, const struct rf_isolation *iso)
{
	_cleanup_(json_decrefp) json_t *doc = rf_isolation_json(iso);

	return doc ? rf_state_json_write(state_dir, "isolation", doc) : -ENOMEM;
}

int rf_isolation_from_json(const json_t *doc, struct rf_isolation *iso)
{
	json_t *v;

	memset(iso, 0, sizeof(*iso));
	if (!json_is_object(doc))
		return -EBADMSG;
	/* fail closed: an "isolated" that is there and not false (damaged) restores isolation */
	v = json_object_get(doc, "isolated");
	iso->isolated = v && !json_is_false(v) && !json_is_null(v);
	iso->audit = json_is_true(json_object_get(doc, "audit"));
	/* anything but true (older records too): the wall deadline is not trusted */
	iso->deadline_synced = json_is_true(json_object_get(doc, "deadline_synced"));
	snprintf(iso->boot_id, sizeof(iso->boot_id), "%s",
		 json_string_value(json_object_get(doc, "boot_id")) ?: "");
#define GET(key, field)                                                                            \
	if ((v = json_object_get(doc, #key)))                                                      \
		iso->field = (__u64)json_integer_value(v);
	ISO_U64(GET)
#undef GET
	return rf_state_str_get(doc, "comment", iso->comment, sizeof(iso->comment));
}

static bool same_boot(const struct rf_isolation *iso, const char *boot_id)
{
	return iso->boot_id[0] && !strcmp(iso->boot_id, boot_id);
}

bool rf_isolation_wall_passed(const struct rf_isolation *iso, const char *boot_id, __u64 now_unix,
			      bool synced)
{
	return iso->deadline_unix_ns && iso->deadline_synced && synced &&
	       !same_boot(iso, boot_id) && now_unix >= iso->deadline_unix_ns;
}

__u64 rf_isolation_left(const struct rf_isolation *iso, const char *boot_id, __u64 now_boot,
			__u64 now_unix, bool synced)
{
	if (iso->deadline_boot_ns && same_boot(iso, boot_id))
		return iso->deadline_boot_ns > now_boot ? iso->deadline_boot_ns - now_boot : 0;
	if (rf_isolation_wall_passed(iso, boot_id, now_unix, synced))
		return 0;
	if (iso->remaining_ns)
		return iso->remaining_ns;
	/* records of releases before remaining_ns: the wall clock was all there was */
	return iso->deadline_unix_ns > now_unix ? iso->deadline_unix_ns - now_unix : 0;
}

__u64 rf_isolation_deadline_unix(const struct rf_isolation *iso, const char *boot_id,
				 __u64 now_boot, __u64 now_unix)
{
	if (!iso->deadline_boot_ns || !same_boot(iso, boot_id))
		return iso->deadline_unix_ns;
	/* in this boot: the kernel's deadline on the wall clock as it is now (NTP may have set
	 * it since the deadline was taken) */
	return rf_boot_to_unix(iso->deadline_boot_ns, now_boot, now_unix);
}

static int isolation_from_json(const char *data, struct rf_isolation *iso)
{
	int err = 0;
	_cleanup_(json_decrefp) json_t *doc = rf_state_doc_parse(data, "ringfence-isolation", &err);

	return doc ? rf_isolation_from_json(doc, iso) : err;
}

/* A number of the previous release's record (rf_parse_u64()); 0 when damaged: no deadline */
static __u64 record_u64(const char *s)
{
	__u64 v;

	return rf_parse_u64(s, ULLONG_MAX, &v) ? 0 : v;
}

/* One "key=value" line of the previous release's record into iso; unknown keys are ignored. A
 * flag is off only when it says 0: a damaged "isolated=" restores isolation (fail closed). */
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
	_cleanup_free_ char *data = NULL;
	char *save = NULL, *l;
	int err;

	memset(iso, 0, sizeof(*iso));
	err = rf_state_read(state_dir, "isolation", &data, NULL);
	if (err)
		return err == -ENOENT ? 0 : err;
	if (rf_state_is_json(data)) {
		err = isolation_from_json(data, iso);
	} else {
		for (l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			isolation_line(l, iso);
	}
	return err;
}

/* ---- rules -----------------------------------------------------------------------------------
 */

int rf_rules_change(const char *state_dir, const char *text, bool add)
{
	char **lines = NULL, **nl;
	size_t n = 0, i, w = 0;
	int ret;

	ret = rf_rules_load(state_dir, &lines, &n);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		if (!strcmp(lines[i], text)) {
			if (add) {
				rf_lines_free(lines, n);
				return 0;
			}
			free(lines[i]);
			continue;
		}
		lines[w++] = lines[i];
	}
	n = w;
	if (add) {
		nl = realloc(lines, (n + 1) * sizeof(*lines));
		if (!nl || !(nl[n] = strdup(text))) {
			rf_lines_free(nl ? nl : lines, n);
			return -ENOMEM;
		}
		lines = nl;
		n++;
	}
	ret = rf_rules_save(state_dir, lines, n);
	rf_lines_free(lines, n);
	return ret;
}

/* ---- the journal -----------------------------------------------------------------------------
 */

int rf_boot_id(char *buf, size_t len)
{
	_cleanup_free_ char *data = NULL;
	int err = rf_read_file("/proc/sys/kernel/random/boot_id", &data, NULL);

	buf[0] = '\0';
	if (err)
		return err;
	data[strcspn(data, "\n")] = '\0';
	snprintf(buf, len, "%s", data);
	return 0;
}

int rf_journal_write(const char *state_dir, json_t *intent)
{
	char boot[40];

	rf_boot_id(boot, sizeof(boot));
	if (json_object_set_new(intent, "format", json_string("ringfence-journal")) ||
	    json_object_set_new(intent, "version", json_integer(RF_STATE_VERSION)) ||
	    json_object_set_new(intent, "boot_id", json_string(boot)))
		return -ENOMEM;
	/* not fsync'ed: a killed command's intent survives in the page cache, and the flag
	 * must not wait for a disk (the record written after it is fsync'ed) */
	return json_write(state_dir, RF_JOURNAL, intent, false);
}

int rf_journal_read(const char *state_dir, json_t **intent)
{
	_cleanup_free_ char *data = NULL;
	int err;

	*intent = NULL;
	err = rf_state_read(state_dir, RF_JOURNAL, &data, NULL);
	if (err)
		return err;
	*intent = rf_state_doc_parse(data, "ringfence-journal", &err);
	return err;
}

int rf_journal_clear(const char *state_dir)
{
	_cleanup_close_ int dfd = rf_state_dir_open(state_dir, false);

	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	return unlinkat(dfd, RF_JOURNAL, 0) && errno != ENOENT ? -errno : 0;
}

void rf_crash_point(const char *step)
{
	const char *at = getenv("RINGFENCE_TEST_CRASH_AT");

	if (at && !strcmp(at, step))
		raise(SIGKILL);
}
