// SPDX-License-Identifier: GPL-2.0-only
/* Target selectors: units, containers and processes to cgroup paths (see rf_target.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

struct walk {
	struct rf_target_limits lim;
	walk_match_fn match;
	const char *want; /* what match() compares with */
	struct rf_target_found *f;
	unsigned long entries;
	bool stop;
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

/*
 * Enumerate the subdirectories of dfd (at `depth` below the root, its path in w->path[0..plen))
 * and descend. Consumes dfd. Entries are opened with O_NOFOLLOW | O_DIRECTORY, so symlinks and
 * files are never followed whatever d_type says, and a directory on another filesystem (a
 * mount inside the tree) is not entered.
 */
static void walk_dir(struct walk *w, int dfd, size_t plen, unsigned int depth)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while (!w->stop && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		int cfd, m;

		if (++w->entries > w->lim.max_entries) {
			w->f->incomplete = w->stop = true;
			break;
		}
		if (is_dot(de->d_name) || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		if (depth + 1 > w->lim.max_depth || plen + 1 + n >= sizeof(w->path)) {
			w->f->incomplete = true; /* a cgroup left unsearched */
			continue;
		}
		cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			continue; /* a symlink (ELOOP), a file (ENOTDIR), gone, or unreadable */
		if (fstat(cfd, &st) || st.st_dev != w->dev) {
			close(cfd);
			continue;
		}
		if (++w->f->dirs > w->lim.max_dirs) {
			close(cfd);
			w->f->dirs--;
			w->f->incomplete = w->stop = true;
			break;
		}
		w->path[plen] = '/';
		memcpy(w->path + plen + 1, de->d_name, n + 1);
		m = w->match(w, de->d_name);
		if (m == 1) {
			keep(w->f->paths, &w->f->n, RF_TARGET_MAX_MATCHES, w->path);
			w->f->total++;
		} else if (m == 2) {
			keep(w->f->similar, &w->f->nsimilar, RF_TARGET_MAX_MATCHES, w->path);
		}
		walk_dir(w, cfd, plen + 1 + n, depth + 1);
		w->path[plen] = '\0';
	}
	closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Search the tree below root with match(); f is reset first. 0 or the -errno of opening root. */
static int walk(const char *root, const struct rf_target_limits *lim, walk_match_fn match,
		const char *want, struct rf_target_found *f)
{
	static const struct rf_target_limits def = RF_TARGET_LIMITS_DEFAULT;
	struct walk *w;
	struct stat st;
	int fd;

	memset(f, 0, sizeof(*f));
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		int err = -errno;

		close(fd);
		return err;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(fd);
		return -ENOMEM;
	}
	w->lim = lim ? *lim : def;
	w->match = match;
	w->want = want;
	w->f = f;
	w->dev = st.st_dev;
	walk_dir(w, fd, 0, 0);
	free(w);
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
	ssize_t n;
	__u64 v;
	int fd;

	if (rf_parse_u64(pid, INT_MAX, &v) || v == 0)
		return -EINVAL;
	snprintf(file, sizeof(file), "%s/%llu/cgroup", proc ? proc : "/proc",
		 (unsigned long long)v);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		int err = errno;

		close(fd);
		return err == ESRCH ? -ESRCH : -err; /* it exited between open and read */
	}
	close(fd);
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
