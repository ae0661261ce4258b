// SPDX-License-Identifier: GPL-2.0-only
/*
 * exe rules follow their path. A rule names a path, the kernel matches the file's identity
 * (device, inode, generation). When an upgrade replaces the file (write new, rename over), the
 * path names a new identity: allow it, then drop the old one, whose inode number the next new
 * file may get. <state>/exe-keys remembers which identity each path was last allowed by, so this
 * also holds across reboots and for upgrades made while nothing of ringfence ran.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "rf_policy.h"
#include "rf_rule.h"
#include "rf_service.h"
#include "rf_util.h"

#define RF_EXE_KEYS "exe-keys"

struct exe_entry {
	struct rf_exe_key key;
	char path[PATH_MAX];
};

/* "exe PATH" lines of the persisted rules and of the applied config. */
static int exe_paths(struct rf_ctx *ctx, char ***paths, size_t *n)
{
	char **user = NULL, **conf = NULL;
	size_t nuser = 0, nconf = 0, i;
	int ret;

	*paths = NULL;
	*n = 0;
	ret = rf_rules_load(ctx->state_dir, &user, &nuser);
	if (!ret)
		ret = rf_state_lines_load(ctx->state_dir, RF_CONFIG_APPLIED, &conf, &nconf);
	for (i = 0; !ret && i < nuser + nconf; i++) {
		const char *l = i < nuser ? user[i] : conf[i - nuser];
		char err[RF_ERR_MAX], **np;
		struct rf_rule r;

		/* the path as the rule names it: a quoted one unquoted (rf_rule_format()) */
		if (strncmp(l, "exe ", 4) || rf_rule_parse_line(l, &r, err, sizeof(err)))
			continue;
		np = realloc(*paths, (*n + 1) * sizeof(**paths));
		if (!np || !(np[*n] = strdup(r.path))) {
			if (np)
				*paths = np;
			ret = -ENOMEM;
			break;
		}
		*paths = np;
		(*n)++;
	}
	rf_lines_free(user, nuser);
	rf_lines_free(conf, nconf);
	return ret;
}

/* "DEV INO GEN PATH" into e; -EINVAL when damaged (a number out of range included). */
static int parse_entry(char *line, struct exe_entry *e)
{
	char *f[3], *save = NULL, *rest;
	__u64 v[3];
	int i;

	for (i = 0, rest = line; i < 3; i++, rest = NULL)
		if (!(f[i] = strtok_r(rest, " ", &save)))
			return -EINVAL;
	if (rf_parse_u64(f[0], ULLONG_MAX, &v[0]) || rf_parse_u64(f[1], ULLONG_MAX, &v[1]) ||
	    rf_parse_u64(f[2], UINT_MAX, &v[2]) || !save || !*save)
		return -EINVAL;
	e->key = (struct rf_exe_key){.dev = v[0], .ino = v[1], .gen = (__u32)v[2]};
	snprintf(e->path, sizeof(e->path), "%s", save);
	return 0;
}

/* One remembered identity per line: "DEV INO GEN PATH". */
static size_t load_entries(struct rf_ctx *ctx, struct exe_entry **out)
{
	char **lines = NULL;
	size_t n = 0, i, cnt = 0;

	*out = NULL;
	if (rf_state_lines_load(ctx->state_dir, RF_EXE_KEYS, &lines, &n) || !n)
		return 0;
	*out = calloc(n, sizeof(**out));
	for (i = 0; *out && i < n; i++) {
		if (parse_entry(lines[i], &(*out)[cnt]))
			continue; /* damaged: the rule re-resolves from its path */
		cnt++;
	}
	rf_lines_free(lines, n);
	return cnt;
}

static int save_entries(struct rf_ctx *ctx, const struct exe_entry *e, size_t n)
{
	char **lines = calloc(n ? n : 1, sizeof(*lines));
	size_t i;
	int ret = lines ? 0 : -ENOMEM;

	for (i = 0; !ret && i < n; i++)
		if (asprintf(&lines[i], "%llu %llu %u %s", (unsigned long long)e[i].key.dev,
			     (unsigned long long)e[i].key.ino, e[i].key.gen, e[i].path) < 0) {
			lines[i] = NULL;
			ret = -ENOMEM;
		}
	if (!ret)
		ret = rf_state_lines_save(ctx->state_dir, RF_EXE_KEYS, NULL, lines, n);
	rf_lines_free(lines, n);
	return ret;
}

static const struct exe_entry *find(const struct exe_entry *e, size_t n, const char *path)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(e[i].path, path))
			return &e[i];
	return NULL;
}

/*
 * Drop identity k from the map unless a path still names it (two paths, one file); with it the
 * any-generation copy of the same file that an upgrade from ABI 1 made (ABI 1 had no generation),
 * unless a path still names that device and inode.
 */
static void drop_key(const struct rf_maps *m, const struct exe_entry *now, size_t nnow,
		     const struct rf_exe_key *k)
{
	struct rf_exe_key any = {.dev = k->dev, .ino = k->ino, .gen = RF_EXE_GEN_ANY};
	size_t i;

	for (i = 0; i < nnow; i++)
		if (!memcmp(&now[i].key, k, sizeof(*k)))
			return;
	bpf_map_delete_elem(m->exe, k);
	for (i = 0; i < nnow; i++)
		if (now[i].key.dev == k->dev && now[i].key.ino == k->ino)
			return;
	bpf_map_delete_elem(m->exe, &any);
}

/* The history says when an upgrade moved a rule: the allowance changed files. */
static void record_moves(struct rf_ctx *ctx, int moved)
{
	struct rf_action a = {};

	snprintf(a.type, sizeof(a.type), "exe-rule-moved");
	snprintf(a.comment, sizeof(a.comment),
		 "%d exe rule(s) now allow the file their path names after an upgrade; the old "
		 "file's identity no longer matches",
		 moved);
	if (rf_action_record(ctx->state_dir, &a, NULL))
		rf_warn("cannot record the moved exe rules in the history");
}

/* The identity path names now, allowed in the map (added first); the old one is dropped by the
 * caller. Returns 1 when it differs from *old (or there was none), 0 when unchanged, or -errno. */
static int resolve_and_allow(const struct rf_maps *m, const char *path, const struct exe_entry *old,
			     struct rf_exe_key *now)
{
	struct rf_allow_val v = {};
	char err[RF_ERR_MAX];

	if (rf_exe_key_for(path, now, err, sizeof(err)))
		return -ENOENT; /* mid-upgrade or gone: keep what there is */
	if (old && !memcmp(&old->key, now, sizeof(*now)))
		return 0;
	if (bpf_map_update_elem(m->exe, now, &v, BPF_ANY))
		return -errno;
	return 1;
}

int rf_svc_refresh_exe(struct rf_ctx *ctx, struct rf_maps *m, int *moved)
{
	struct exe_entry *old = NULL, *now = NULL;
	char **paths = NULL;
	size_t nold, npaths = 0, i, nnow = 0;
	int ret, changed = 0;

	*moved = 0;
	ret = exe_paths(ctx, &paths, &npaths);
	nold = load_entries(ctx, &old);
	now = calloc(npaths ? npaths : 1, sizeof(*now));
	if (!ret && !now)
		ret = -ENOMEM;
	for (i = 0; !ret && i < npaths; i++) {
		const struct exe_entry *o = find(old, nold, paths[i]);
		struct exe_entry *e = &now[nnow];
		int r = resolve_and_allow(m, paths[i], o, &e->key);

		if (r < 0 && o)
			e->key = o->key; /* cannot resolve now: keep the last identity */
		else if (r < 0)
			continue;
		snprintf(e->path, sizeof(e->path), "%s", paths[i]);
		nnow++;
		changed |= r > 0;
		if (r > 0 && o)
			(*moved)++;
	}
	/* old identities no path names any more: a moved rule's, or a deleted rule's */
	for (i = 0; !ret && i < nold; i++) {
		const struct exe_entry *n = find(now, nnow, old[i].path);

		if (!n || memcmp(&n->key, &old[i].key, sizeof(n->key))) {
			drop_key(m, now, nnow, &old[i].key);
			changed = 1;
		}
	}
	if (!ret && (changed || nnow != nold))
		ret = save_entries(ctx, now, nnow);
	if (!ret && *moved)
		record_moves(ctx, *moved);
	rf_lines_free(paths, npaths);
	free(old);
	free(now);
	return ret;
}
