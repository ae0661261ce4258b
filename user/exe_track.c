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

/* A path of the rules, with the users its rules allow it for (rf_allow_exe_v3's value). */
struct exe_rule {
	char path[PATH_MAX];
	struct rf_exe_users users;
	bool resolved; /* every user of its rules resolved */
};

/* Add the user of rule line l ("exe PATH [user U]") to its path's entry in rules. */
static int add_rule(struct exe_rule **rules, size_t *n, const char *l)
{
	char err[RF_ERR_MAX];
	struct rf_rule r;
	struct exe_rule *e = NULL, *nr;
	bool any;
	__u32 uid = 0;
	size_t i;

	/* the path as the rule names it: a quoted one unquoted (rf_rule_format()) */
	if (rf_rule_parse_line(l, &r, err, sizeof(err)) || r.kind != RF_RULE_EXE)
		return 0; /* not for here: the config and the CLI checked their rules */
	for (i = 0; i < *n && !e; i++)
		if (!strcmp((*rules)[i].path, r.path))
			e = &(*rules)[i];
	if (!e) {
		nr = realloc(*rules, (*n + 1) * sizeof(**rules));
		if (!nr)
			return -ENOMEM;
		*rules = nr;
		e = &nr[(*n)++];
		memset(e, 0, sizeof(*e));
		snprintf(e->path, sizeof(e->path), "%s", r.path);
		e->resolved = true;
	}
	if (rf_exe_user_resolve(r.path, r.user, &uid, &any, err, sizeof(err)))
		e->resolved = false; /* unknown user, file gone: keep what the map has */
	else
		rf_exe_users_change(&e->users, uid, any, true);
	return 0;
}

/* The exe rules (persisted and of the applied config), one entry per path with its users. */
static int exe_rules(struct rf_ctx *ctx, struct exe_rule **rules, size_t *n)
{
	char **user = NULL, **conf = NULL;
	size_t nuser = 0, nconf = 0, i;
	int ret;

	*rules = NULL;
	*n = 0;
	ret = rf_rules_load(ctx->state_dir, &user, &nuser);
	if (!ret)
		ret = rf_state_lines_load(ctx->state_dir, RF_CONFIG_APPLIED, &conf, &nconf);
	for (i = 0; !ret && i < nuser + nconf; i++) {
		const char *l = i < nuser ? user[i] : conf[i - nuser];

		if (!strncmp(l, "exe ", 4))
			ret = add_rule(rules, n, l);
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

/* Delete identity k from both exe maps (rf_allow_exe_v2 may hold it from an older build). */
static void delete_key(const struct rf_maps *m, const struct rf_exe_key *k)
{
	bpf_map_delete_elem(m->exe3, k);
	bpf_map_delete_elem(m->exe, k);
}

/*
 * Drop identity k from the maps unless a path still names it (two paths, one file); with it the
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
	delete_key(m, k);
	for (i = 0; i < nnow; i++)
		if (now[i].key.dev == k->dev && now[i].key.ino == k->ino)
			return;
	delete_key(m, &any);
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

/*
 * The any-generation copy an upgrade from ABI 1 put into rf_allow_exe_v2 (for every user) moves
 * into rf_allow_exe_v3 with the rule's users: sockets ABI 1 marked keep working, and a process
 * of another user no longer matches it.
 */
static bool any_gen_in_v2(const struct rf_maps *m, const struct rf_exe_key *now)
{
	struct rf_exe_key any = {.dev = now->dev, .ino = now->ino, .gen = RF_EXE_GEN_ANY};
	struct rf_allow_val v2;

	return now->gen != RF_EXE_GEN_ANY && !bpf_map_lookup_elem(m->exe, &any, &v2);
}

static void move_any_generation(const struct rf_maps *m, const struct exe_rule *rule,
				const struct rf_exe_key *now)
{
	struct rf_exe_key any = {.dev = now->dev, .ino = now->ino, .gen = RF_EXE_GEN_ANY};
	struct rf_allow_val v2;

	if (now->gen == RF_EXE_GEN_ANY || bpf_map_lookup_elem(m->exe, &any, &v2))
		return;
	if (!bpf_map_update_elem(m->exe3, &any, &rule->users, BPF_ANY))
		bpf_map_delete_elem(m->exe, &any);
}

/*
 * The identity the rule's path names now, allowed in rf_allow_exe_v3 for the rule's users
 * (added first; the old identity is dropped by the caller). An identity of the path still in
 * rf_allow_exe_v2, where an older build put it for every user, moves over (issue 21 item 5).
 * Returns 1 when the identity differs from *old (or there was none), 2 when only its users
 * changed, 0 when unchanged, or -errno.
 */
static int resolve_and_allow(const struct rf_maps *m, const struct exe_rule *rule,
			     const struct exe_entry *old, struct rf_exe_key *now)
{
	struct rf_exe_users cur;
	struct rf_allow_val v2;
	char err[RF_ERR_MAX];
	bool same_key, same_users, in_v2;

	if (rf_exe_key_for(rule->path, now, err, sizeof(err)))
		return -ENOENT; /* mid-upgrade or gone: keep what there is */
	same_key = old && !memcmp(&old->key, now, sizeof(*now));
	same_users =
	    !bpf_map_lookup_elem(m->exe3, now, &cur) && !memcmp(&cur, &rule->users, sizeof(cur));
	in_v2 = !bpf_map_lookup_elem(m->exe, now, &v2);
	if (!rule->resolved && !same_key && !bpf_map_lookup_elem(m->exe3, now, &cur))
		same_users = true; /* a user cannot be resolved now: leave the value */
	if (same_key && (same_users || !rule->resolved) && !in_v2 && !any_gen_in_v2(m, now))
		return 0;
	if (rule->resolved && !same_users &&
	    bpf_map_update_elem(m->exe3, now, &rule->users, BPF_ANY))
		return -errno;
	if (in_v2 && rule->resolved)
		bpf_map_delete_elem(m->exe, now);
	if (rule->resolved)
		move_any_generation(m, rule, now);
	return same_key ? 2 : 1;
}

int rf_svc_refresh_exe(struct rf_ctx *ctx, struct rf_maps *m, int *moved)
{
	struct exe_entry *old = NULL, *now = NULL;
	struct exe_rule *rules = NULL;
	size_t nold, nrules = 0, i, nnow = 0;
	int ret, changed = 0;

	*moved = 0;
	ret = exe_rules(ctx, &rules, &nrules);
	nold = load_entries(ctx, &old);
	now = calloc(nrules ? nrules : 1, sizeof(*now));
	if (!ret && !now)
		ret = -ENOMEM;
	for (i = 0; !ret && i < nrules; i++) {
		const struct exe_entry *o = find(old, nold, rules[i].path);
		struct exe_entry *e = &now[nnow];
		int r = resolve_and_allow(m, &rules[i], o, &e->key);

		if (r < 0 && o)
			e->key = o->key; /* cannot resolve now: keep the last identity */
		else if (r < 0)
			continue;
		snprintf(e->path, sizeof(e->path), "%s", rules[i].path);
		nnow++;
		changed |= r > 0;
		if (r == 1 && o)
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
	/* an identity dropped or its users changed: cached allows of its sockets re-judge */
	if (changed && rf_policy_gen_bump(m))
		rf_warn("cannot bump rf_policy_gen: cached verdicts lapse within %llu ms",
			RF_CACHE_TTL_NS / 1000000ULL);
	if (!ret && (changed || nnow != nold))
		ret = save_entries(ctx, now, nnow);
	if (!ret && *moved)
		record_moves(ctx, *moved);
	free(rules);
	free(old);
	free(now);
	return ret;
}
