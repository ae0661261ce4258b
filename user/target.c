// SPDX-License-Identifier: GPL-2.0-only
/* Target selectors: units, containers and processes to cgroup paths (see rf_target.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "rf_target.h"
#include "rf_util.h"

void rf_target_found_free(struct rf_target_found *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->paths[i]);
	for (i = 0; i < f->nsimilar; i++)
		free(f->similar[i]);
	memset(f, 0, sizeof(*f));
}

/* ---- the bounded walk ------------------------------------------------------------------------ */

struct walk;
/* Does directory `name` match? 1 match, 2 near miss (similar), 0 neither. */
typedef int (*walk_match_fn)(const struct walk *w, const char *name);

/*
 * The walk keeps two classes of directories apart, each with its own bounds and matches: those
 * owned, with every ancestor below the root, by the root's owner (the administrator's
 * cgroups), and delegated ones (a directory of another owner and everything below it:
 * user@UID.service, rootless Podman). A subtree owner can fill its own subtree, never the
 * administrator's budget, and its matches count only when none of the administrator's do.
 */
enum { WALK_OWN, WALK_DELEGATED };

struct walk_class {
	unsigned long dirs, entries;
	bool incomplete, stop;
	char *paths[RF_TARGET_MAX_MATCHES];
	size_t n, total;
};

struct walk {
	struct rf_target_limits lim;
	walk_match_fn match;
	const char *want; /* what match() compares with */
	struct rf_target_found *f;
	struct walk_class cls[2];
	uid_t owner;	     /* the root's owner */
	dev_t dev;	     /* the root's filesystem: mounts below it are not entered */
	char path[PATH_MAX]; /* the directory being looked at, relative to the root */
};

static void keep(char **list, size_t *n, size_t max, const char *path)
{
	char *p;

	if (*n >= max || !(p = strdup(path)))
		return;
	list[(*n)++] = p;
}

static bool is_dot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/* Open subdirectory name of d for the walk: never a symlink, a file or another filesystem.
 * Its class into *c (delegated below a delegated one, or when another owner has it). */
static int open_sub(const struct walk *w, DIR *d, const char *name, int parent, int *c)
{
	struct stat st;
	_cleanup_close_ int fd =
	    openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1; /* a symlink (ELOOP), a file (ENOTDIR), gone, or unreadable */
	if (fstat(fd, &st) || st.st_dev != w->dev)
		return -1;
	*c = parent == WALK_DELEGATED || st.st_uid != w->owner ? WALK_DELEGATED : WALK_OWN;
	return TAKE_FD(fd);
}

/* Count a directory of class c against its bound; false when the bound is reached. */
static bool count_dir(struct walk *w, int c)
{
	struct walk_class *k = &w->cls[c];

	if (k->stop)
		return false;
	if (k->dirs + 1 > w->lim.max_dirs) {
		k->incomplete = k->stop = true;
		return false;
	}
	k->dirs++;
	return true;
}

/*
 * Enumerate the subdirectories of dfd (of class c, at `depth` below the root, its path in
 * w->path[0..plen)) and descend. Consumes dfd. Entries are opened with O_NOFOLLOW |
 * O_DIRECTORY, so symlinks and files are never followed whatever d_type says, and a directory
 * on another filesystem (a mount inside the tree) is not entered.
 */
static void walk_dir(struct walk *w, int dfd, size_t plen, unsigned int depth, int c)
{
	struct walk_class *k = &w->cls[c];
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return;
	}
	while (!w->cls[WALK_OWN].stop && !k->stop && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		int cfd, cc, m;

		if (++k->entries > w->lim.max_entries) {
			k->incomplete = k->stop = true;
			break;
		}
		if (is_dot(de->d_name) || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		if ((cfd = open_sub(w, d, de->d_name, c, &cc)) < 0)
			continue;
		if (depth + 1 > w->lim.max_depth || plen + 1 + n >= sizeof(w->path) ||
		    !count_dir(w, cc)) {
			w->cls[cc].incomplete = true; /* a cgroup left unsearched */
			close(cfd);
			continue;
		}
		w->path[plen] = '/';
		memcpy(w->path + plen + 1, de->d_name, n + 1);
		m = w->match(w, de->d_name);
		if (m == 1) {
			keep(w->cls[cc].paths, &w->cls[cc].n, RF_TARGET_MAX_MATCHES, w->path);
			w->cls[cc].total++;
		} else if (m == 2) {
			keep(w->f->similar, &w->f->nsimilar, RF_TARGET_MAX_MATCHES, w->path);
		}
		walk_dir(w, cfd, plen + 1 + n, depth + 1, cc);
		w->path[plen] = '\0';
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The walk's result into f: the administrator's matches, or the delegated ones if there are
 * none (then incomplete when either class is). */
static void walk_result(struct walk *w, struct rf_target_found *f)
{
	struct walk_class *own = &w->cls[WALK_OWN], *del = &w->cls[WALK_DELEGATED];
	struct walk_class *use = own->total ? own : del, *drop = own->total ? del : own;
	size_t i;

	f->dirs = own->dirs + del->dirs;
	f->incomplete = own->incomplete || (!own->total && del->incomplete);
	f->ignored = own->total ? del->total : 0;
	memcpy(f->paths, use->paths, sizeof(f->paths));
	f->n = use->n;
	f->total = use->total;
	for (i = 0; i < drop->n; i++)
		free(drop->paths[i]);
}

/* Search the tree below root with match(); f is reset first. 0 or the -errno of opening root. */
static int walk(const char *root, const struct rf_target_limits *lim, walk_match_fn match,
		const char *want, struct rf_target_found *f)
{
	static const struct rf_target_limits def = RF_TARGET_LIMITS_DEFAULT;
	_cleanup_free_ struct walk *w = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;

	memset(f, 0, sizeof(*f));
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		return -errno;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->lim = lim ? *lim : def;
	w->match = match;
	w->want = want;
	w->f = f;
	w->dev = st.st_dev;
	w->owner = st.st_uid;
	walk_dir(w, TAKE_FD(fd), 0, 0, WALK_OWN); /* consumes the fd */
	walk_result(w, f);
	qsort(f->paths, f->n, sizeof(f->paths[0]), cmp_str);
	qsort(f->similar, f->nsimilar, sizeof(f->similar[0]), cmp_str);
	return 0;
}

/* ---- units ----------------------------------------------------------------------------------- */

/* systemd's unit types (systemd.unit(5)); a name without one of them is a service. */
static const char *const unit_types[] = {
    "service", "socket", "device", "mount", "automount", "swap",
    "target",  "path",	 "timer",  "slice", "scope",
};

static bool has_unit_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	size_t i;

	if (!dot || dot == name)
		return false;
	for (i = 0; i < sizeof(unit_types) / sizeof(unit_types[0]); i++)
		if (!strcmp(dot + 1, unit_types[i]))
			return true;
	return false;
}

int rf_target_unit_name(const char *name, char *out, size_t len)
{
	const char *p;
	int n;

	if (!name || !*name || is_dot(name) || strchr(name, '/'))
		return -EINVAL;
	for (p = name; *p; p++)
		if (iscntrl((unsigned char)*p))
			return -EINVAL;
	n = snprintf(out, len, "%s%s", name, has_unit_type(name) ? "" : ".service");
	if (n < 0 || (size_t)n >= len || n > NAME_MAX)
		return -EINVAL;
	return 0;
}

/* Decode systemd's \xNN escapes of s into out; false when out is too small. */
static bool unit_unescape(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; *s; s++) {
		if (o + 1 >= len)
			return false;
		if (s[0] == '\\' && s[1] == 'x' && isxdigit((unsigned char)s[2]) &&
		    isxdigit((unsigned char)s[3])) {
			char hex[3] = {s[2], s[3], '\0'};

			out[o++] = (char)strtol(hex, NULL, 16);
			s += 3;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return true;
}

static int match_unit(const struct walk *w, const char *name)
{
	char plain[NAME_MAX + 1];

	if (!strcmp(name, w->want))
		return 1;
	if (strchr(name, '\\') && unit_unescape(name, plain, sizeof(plain)) &&
	    !strcmp(plain, w->want))
		return 2;
	return 0;
}

/* The verdict of a search whose matches are distinct targets. */
static int verdict(const struct rf_target_found *f)
{
	if (f->total > 1)
		return -ENOTUNIQ; /* however incomplete, more than one is ambiguous */
	if (f->incomplete)
		return -E2BIG;
	return f->total ? 0 : -ENOENT;
}

int rf_target_find_unit(const char *root, const char *name, const struct rf_target_limits *lim,
			struct rf_target_found *f)
{
	char unit[NAME_MAX + 1];
	int ret;

	memset(f, 0, sizeof(*f));
	if (rf_target_unit_name(name, unit, sizeof(unit)))
		return -EINVAL;
	ret = walk(root, lim, match_unit, unit, f);
	return ret ? ret : verdict(f);
}

/* ---- containers ------------------------------------------------------------------------------ */

int rf_target_container_id(const char *id, char *out, size_t len)
{
	const char *p = id ? strstr(id, "://") : NULL;
	size_t n, i;

	if (!id)
		return -EINVAL;
	if (p == id)
		return -EINVAL; /* "://ID": a scheme is a word */
	if (p) {
		for (i = 0; id + i < p; i++)
			if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_')
				return -EINVAL;
		id = p + 3;
	}
	n = strlen(id);
	if (n < RF_TARGET_ID_MIN || n > RF_TARGET_ID_LEN || n >= len)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)id[i]))
			return -EINVAL;
		out[i] = (char)tolower((unsigned char)id[i]);
	}
	out[n] = '\0';
	return 0;
}

static bool all_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && (s[i] < 'a' || s[i] > 'f'))
			return false;
	return true;
}

bool rf_target_container_of(const char *name, char *id, size_t len)
{
	size_t n = strlen(name), i;
	const char *hex;

	if (len <= RF_TARGET_ID_LEN)
		return false;
	if (n > 6 && !strcmp(name + n - 6, ".scope"))
		n -= 6;
	if (n < RF_TARGET_ID_LEN)
		return false;
	hex = name + n - RF_TARGET_ID_LEN;
	if (!all_lower_hex(hex, RF_TARGET_ID_LEN))
		return false;
	if (hex != name) { /* RUNTIME- before the id */
		if (hex - name < 2 || hex[-1] != '-')
			return false;
		for (i = 0; name + i < hex - 1; i++)
			if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
			    name[i] != '-' && name[i] != '_')
				return false;
		if (hex - 1 - name >= 6 && !strncmp(hex - 7, "conmon", 6))
			return false; /* the runtime monitor of the container, not the container */
	} else if (n != strlen(name)) {
		return false; /* "ID.scope" without a runtime is no layout we know */
	}
	memcpy(id, hex, RF_TARGET_ID_LEN);
	id[RF_TARGET_ID_LEN] = '\0';
	return true;
}

static int match_container(const struct walk *w, const char *name)
{
	char id[RF_TARGET_ID_LEN + 1];

	return rf_target_container_of(name, id, sizeof(id)) &&
	       !strncmp(id, w->want, strlen(w->want));
}

static const char *base_name(const char *path)
{
	return strrchr(path, '/') + 1;
}

/* Is path `in` below directory path `dir`? */
static bool below(const char *in, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(in, dir, n) && in[n] == '/';
}

/* One container: every match carries the same id and lies in the outermost one. */
static bool one_container(const struct rf_target_found *f, size_t *outer)
{
	char id0[RF_TARGET_ID_LEN + 1], id[RF_TARGET_ID_LEN + 1];
	size_t i;

	if (f->total != f->n)
		return false; /* more than we kept: never one container */
	*outer = 0;
	for (i = 1; i < f->n; i++)
		if (strlen(f->paths[i]) < strlen(f->paths[*outer]))
			*outer = i;
	rf_target_container_of(base_name(f->paths[*outer]), id0, sizeof(id0));
	for (i = 0; i < f->n; i++) {
		rf_target_container_of(base_name(f->paths[i]), id, sizeof(id));
		if (strcmp(id, id0) || (i != *outer && !below(f->paths[i], f->paths[*outer])))
			return false;
	}
	return true;
}

int rf_target_find_container(const char *root, const char *id, const struct rf_target_limits *lim,
			     struct rf_target_found *f)
{
	char want[RF_TARGET_ID_LEN + 1];
	size_t outer, i;
	int ret;

	memset(f, 0, sizeof(*f));
	if (rf_target_container_id(id, want, sizeof(want)))
		return -EINVAL;
	ret = walk(root, lim, match_container, want, f);
	if (ret)
		return ret;
	if (f->total > 1 && one_container(f, &outer)) {
		char *keep_path = f->paths[outer];

		for (i = 0; i < f->n; i++)
			if (i != outer)
				free(f->paths[i]);
		f->paths[0] = keep_path;
		f->n = f->total = 1;
	}
	return verdict(f);
}

/* ---- processes ------------------------------------------------------------------------------- */

int rf_target_parse_proc_cgroup(const char *text, char *path, size_t len)
{
	const char *line, *found = NULL, *end, *p;
	size_t n;

	for (line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, "0::", 3))
			continue;
		if (found)
			return -EBADMSG; /* two v2 lines: a name with a newline is forging one */
		found = line + 3;
	}
	if (!found)
		return -ENOENT;
	end = strchr(found, '\n');
	n = end ? (size_t)(end - found) : strlen(found);
	if (!n || found[0] != '/')
		return -EBADMSG;
	for (p = found; p < found + n; p++)
		if (p[0] == '/' && p[1] == '.' && p[2] == '.' &&
		    (p + 3 == found + n || p[3] == '/'))
			return -EXDEV;
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(path, found, n);
	path[n] = '\0';
	return 0;
}

int rf_target_pid_cgroup(const char *proc, const char *pid, char *path, size_t len)
{
	char file[PATH_MAX], buf[8192];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	__u64 v;

	if (rf_parse_u64(pid, INT_MAX, &v) || v == 0)
		return -EINVAL;
	snprintf(file, sizeof(file), "%s/%llu/cgroup", proc ? proc : "/proc",
		 (unsigned long long)v);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return errno == ESRCH ? -ESRCH : -errno; /* it exited between open and read */
	buf[n] = '\0';
	return rf_target_parse_proc_cgroup(buf, path, len);
}

int rf_target_state_name(const char *rel, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	const char *p;

	if (!rel || rel[0] != '/')
		return -EINVAL;
	if (!rel[1])
		return snprintf(out, len, "+") < (int)len ? 0 : -ENAMETOOLONG;
	for (p = rel + 1; *p; p++) {
		unsigned char c = (unsigned char)*p;
		bool plain = isalnum(c) || c == '.' || c == '_' || c == '-';

		if (o + (plain || c == '/' ? 1 : 3) >= len || o + 3 > NAME_MAX)
			return -ENAMETOOLONG;
		if (c == '/') {
			out[o++] = '+';
		} else if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

/* ---- a cgroup as a target -------------------------------------------------------------------- */

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* Is path p at or below directory mnt (string prefix at a component boundary)? */
static bool at_or_below(const char *p, const char *mnt)
{
	size_t n = strlen(mnt);

	while (n > 1 && mnt[n - 1] == '/')
		n--;
	return !strncmp(p, mnt, n) && (p[n] == '/' || p[n] == '\0');
}

int rf_target_cgroup_path(const char *mnt, const char *sel, char *out, size_t len)
{
	struct stat st;
	int n;

	if (!sel || !*sel)
		return -EINVAL;
	if (sel[0] == '/' && (at_or_below(sel, mnt) || (strcmp(sel, "/") && !stat(sel, &st))))
		n = snprintf(out, len, "%s", sel);
	else
		n = snprintf(out, len, "%s%s%s", mnt, sel[0] == '/' ? "" : "/",
			     strcmp(sel, "/") ? sel : "");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int rf_target_path_clean(const char *in, char *out, size_t len)
{
	size_t o = 0, n;
	const char *p = in, *e;

	if (!in || in[0] != '/')
		return -EINVAL;
	while (*p) {
		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		n = (size_t)(e - p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[--o] != '/') /* drop the last component */
				;
		} else if (n && !(n == 1 && p[0] == '.')) {
			if (o + 1 + n >= len)
				return -ENAMETOOLONG;
			out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = e;
	}
	if (len < 2)
		return -ENAMETOOLONG;
	if (!o)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

/* The cgroup id of the directory open at fd: its 64-bit file handle (generation << 32 | inode
 * on 32-bit kernels), else its inode number (the id on 64-bit kernels). */
static __u64 fd_cgroup_id(int fd, const struct stat *st)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} h = {.fh.handle_bytes = sizeof(__u64)};
	__u64 id = st->st_ino;
	int mount_id;

	if (!name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) &&
	    h.fh.handle_bytes == sizeof(__u64))
		memcpy(&id, h.fh.f_handle, sizeof(id));
	return id;
}

/* The path the kernel gives the directory open at fd, into out; -ENOENT once it was removed. */
static int fd_path(int fd, char *out, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, len - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= len - 1)
		return -ENAMETOOLONG;
	out[n] = '\0';
	if (n > 10 && !strcmp(out + n - 10, " (deleted)"))
		return -ENOENT;
	return out[0] == '/' ? 0 : -EXDEV; /* outside our root */
}

/* Canonical dir and rel of the cgroup open at fd, which lies on mnt's filesystem. */
static int fd_canonical(const char *mnt, int fd, struct rf_cgroup_ref *ref)
{
	char path[PATH_MAX];
	size_t n = strlen(mnt);
	int ret;

	while (n > 1 && mnt[n - 1] == '/')
		n--;
	ret = fd_path(fd, path, sizeof(path));
	if (ret)
		return ret;
	if (!at_or_below(path, mnt))
		return -EXDEV; /* the same hierarchy mounted elsewhere, or another namespace's */
	snprintf(ref->dir, sizeof(ref->dir), "%s", path);
	snprintf(ref->rel, sizeof(ref->rel), "%s", path[n] ? path + n : "/");
	return 0;
}

int rf_target_cgroup(const char *mnt, const char *sel, struct rf_cgroup_ref *ref)
{
	char path[PATH_MAX];
	struct stat st, mst;
	struct statfs sfs;
	_cleanup_close_ int fd = -1;
	int ret;

	memset(ref, 0, sizeof(*ref));
	if ((ret = rf_target_cgroup_path(mnt, sel, path, sizeof(path))))
		return ret;
	if (stat(mnt, &mst))
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sfs) || fstat(fd, &st))
		ret = -errno;
	else if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		ret = -ENOTDIR;
	else if (st.st_dev != mst.st_dev)
		ret = -EXDEV;
	else
		ret = fd_canonical(mnt, fd, ref);
	if (!ret)
		ref->id = fd_cgroup_id(fd, &st);
	return ret;
}

int rf_target_covers(const char *dir, __u64 id)
{
	struct statfs sfs;
	struct stat st;
	dev_t dev = 0;
	_cleanup_close_ int fd = -1;
	int up, i, ret = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (i = 0; i < 4096; i++) {
		if (fstatfs(fd, &sfs) || fstat(fd, &st)) {
			ret = -errno;
			break;
		}
		if (sfs.f_type != CGROUP2_SUPER_MAGIC || (i && st.st_dev != dev))
			break; /* above the top of the cgroup2 mount */
		dev = st.st_dev;
		if (fd_cgroup_id(fd, &st) == id) {
			ret = 1;
			break;
		}
		up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (up < 0) {
			ret = -errno;
			break;
		}
		close(fd);
		fd = up;
	}
	return ret;
}

/* ---- asking the managers: systemd, container runtimes ------------------------------------------
 */

/* Read what fd gives until EOF, the buffer is full or the deadline (ms, monotonic) passes. */
static int read_until(int fd, char *out, size_t len, long long deadline_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t n = 0;

	for (;;) {
		struct timespec ts;
		long long left;
		ssize_t r;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		left = deadline_ms - (ts.tv_sec * 1000LL + ts.tv_nsec / 1000000);
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) <= 0)
			continue; /* EINTR, or the deadline: checked above */
		r = read(fd, out + n, len - 1 - n);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0 || (n += (size_t)(r > 0 ? r : 0)) >= len - 1)
			break;
	}
	out[n] = '\0';
	return 0;
}

int rf_target_run(char *const argv[], char *out, size_t len, int timeout_ms)
{
	struct timespec now;
	int fds[2], status = 0, ret;
	long long deadline;
	pid_t pid;

	if (len < 2 || pipe2(fds, O_CLOEXEC))
		return -EINVAL;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(fds[0]);
		close(fds[1]);
		return ret;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(null, 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline = now.tv_sec * 1000LL + now.tv_nsec / 1000000 + timeout_ms;
	ret = read_until(fds[0], out, len, deadline);
	close(fds[0]);
	for (;;) { /* a child that closed its stdout but runs on is waited for as long */
		pid_t w = waitpid(pid, &status, ret ? 0 : WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!ret && now.tv_sec * 1000LL + now.tv_nsec / 1000000 >= deadline)
			ret = -ETIMEDOUT;
		if (ret)
			kill(pid, SIGKILL);
		else
			usleep(5000);
	}
	if (!ret && (!WIFEXITED(status) || WEXITSTATUS(status)))
		ret = -ECHILD;
	return ret;
}

int rf_target_container_cgroup(const char *rel, const char *id, char *out, size_t len)
{
	char name[NAME_MAX + 1], cid[RF_TARGET_ID_LEN + 1];
	const char *p, *end;
	size_t n;

	if (!rel || rel[0] != '/')
		return -EINVAL;
	for (p = rel + 1; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		if (!n || n > NAME_MAX)
			continue;
		memcpy(name, p, n);
		name[n] = '\0';
		if (!rf_target_container_of(name, cid, sizeof(cid)) || strcmp(cid, id))
			continue;
		if ((size_t)(end - rel) >= len)
			return -ENAMETOOLONG;
		memcpy(out, rel, (size_t)(end - rel));
		out[end - rel] = '\0';
		return 0; /* the outermost */
	}
	return -ENOENT;
}

/* The processes of cgroup dir, for w->pid (closed before the walk goes deeper). */
static int walk_pids(const struct rf_cgroup_walk *w, const char *dir, int mark)
{
	char path[PATH_MAX];
	_cleanup_fclose_ FILE *procs = NULL;
	int pid, ret = 0, r;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	procs = fopen(path, "re");
	while (procs && fscanf(procs, "%d", &pid) == 1)
		if ((r = w->pid(pid, mark, w->arg)) < 0)
			ret = r;
	return ret;
}

static int cgroup_walk_at(const struct rf_cgroup_walk *w, const char *dir, int depth, int mark)
{
	char path[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int ret = 0, r;

	if (depth > w->max_depth || (w->cgroup && !w->cgroup(dir, &mark, w->arg)))
		return 0;
	if (w->pid)
		ret = walk_pids(w, dir, mark);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((r = cgroup_walk_at(w, path, depth + 1, mark)) < 0)
			ret = r;
	}
	return ret;
}

int rf_cgroup_walk(const char *dir, const struct rf_cgroup_walk *w)
{
	return cgroup_walk_at(w, dir, 0, 0);
}
