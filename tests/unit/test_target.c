// SPDX-License-Identifier: GPL-2.0-only
/*
 * Target selectors on fake cgroup trees built under a temp dir: systemd units (nested slices,
 * user managers, \x2d escapes), containers of every runtime layout (ambiguous prefixes, monitor
 * scopes, nesting), /proc/PID/cgroup parsing, symlinks and files that must not be followed, and
 * the bounds that stop a huge tree from hanging the CLI.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_service.h"
#include "rf_target.h"
#include "rf_util.h"
#include "helpers.h"

/* Three 64-hex container ids; B shares its first 12 digits with A. */
#define ID_A "3f2a9c1d5e6b7a8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e"
#define ID_B "3f2a9c1d5e6b0000000000000000000000000000000000000000000000000001"
#define ID_C "c0ffee0000000000000000000000000000000000000000000000000000000042"

static char root[PATH_MAX + 8];

static void tree_setup(void)
{
	tmpdir_setup();
	snprintf(root, sizeof(root), "%s/cg", test_tmpdir);
	cr_assert_eq(mkdir(root, 0755), 0);
}

/* Make directory root/rel and its parents. */
static void mk(const char *rel)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	cr_assert_eq(rf_mkdir_p(p, 0755), 0, "mkdir -p %s", p);
}

/* Make a regular file root/rel. */
static void mkfile(const char *rel)
{
	char p[PATH_MAX * 2];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0, "create %s", p);
	close(fd);
}

static int unit(const char *name, struct rf_target_found *f)
{
	return rf_target_find_unit(root, name, NULL, f);
}

static int container(const char *id, struct rf_target_found *f)
{
	return rf_target_find_container(root, id, NULL, f);
}

/* Expect exactly one match at `want`. */
static void expect_one(int ret, struct rf_target_found *f, const char *want, const char *what)
{
	cr_expect_eq(ret, 0, "%s: %d (%s), %zu matches", what, ret, strerror(-ret), f->total);
	if (!ret)
		cr_expect_str_eq(f->paths[0], want, "%s", what);
	rf_target_found_free(f);
}

/* ---- unit names ------------------------------------------------------------------------------ */

Test(target_unit_name, service_assumed_like_systemctl)
{
	static const char *const cases[][2] = {
	    {"nginx", "nginx.service"},
	    {"nginx.service", "nginx.service"},
	    {"docker-1.scope", "docker-1.scope"},
	    {"machine.slice", "machine.slice"},
	    {"sshd.socket", "sshd.socket"},
	    {"getty@tty1", "getty@tty1.service"},
	    {"foo.bar", "foo.bar.service"}, /* "bar" is no unit type */
	    {"systemd-fsck@dev-disk-by\\x2duuid-1", "systemd-fsck@dev-disk-by\\x2duuid-1.service"},
	};
	char out[NAME_MAX + 1];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		cr_expect_eq(rf_target_unit_name(cases[i][0], out, sizeof(out)), 0, "%s",
			     cases[i][0]);
		cr_expect_str_eq(out, cases[i][1]);
	}
}

Test(target_unit_name, malformed_names_refused)
{
	char long_name[300], out[NAME_MAX + 1];
	static const char *const bad[] = {
	    "", ".", "..", "system.slice/nginx.service", "/nginx", "a\nb", "tab\there"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		cr_expect_eq(rf_target_unit_name(bad[i], out, sizeof(out)), -EINVAL, "'%s'",
			     bad[i]);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	cr_expect_eq(rf_target_unit_name(long_name, out, sizeof(out)), -EINVAL);
	long_name[NAME_MAX - 8] = '\0'; /* + ".service" = NAME_MAX: still a name */
	cr_expect_eq(rf_target_unit_name(long_name, out, sizeof(out)), 0);
}

/* ---- units in a tree ------------------------------------------------------------------------- */

TestSuite(target_unit, .init = tree_setup, .fini = tmpdir_teardown);

/* A typical host: system units, nested slices, a user manager, escaped names. */
static void host_tree(void)
{
	mk("init.scope");
	mk("system.slice/nginx.service");
	mk("system.slice/system-getty.slice/getty@tty1.service");
	mk("system.slice/system-systemd\\x2dfsck.slice/"
	   "systemd-fsck@dev-disk-by\\x2duuid-1234.service");
	mk("user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.slice/"
	   "app-firefox-42.scope");
	mk("user.slice/user-1000.slice/user@1000.service/app.slice/pipewire.service");
	mk("user.slice/user-1000.slice/session-3.scope");
}

Test(target_unit, found_wherever_it_lives)
{
	struct rf_target_found f;

	host_tree();
	expect_one(unit("nginx", &f), &f, "/system.slice/nginx.service", "nginx");
	expect_one(unit("nginx.service", &f), &f, "/system.slice/nginx.service", "nginx.service");
	expect_one(unit("init.scope", &f), &f, "/init.scope", "init.scope");
	expect_one(unit("getty@tty1", &f), &f,
		   "/system.slice/system-getty.slice/getty@tty1.service", "template instance");
	expect_one(unit("session-3.scope", &f), &f, "/user.slice/user-1000.slice/session-3.scope",
		   "session scope");
	expect_one(unit("pipewire", &f), &f,
		   "/user.slice/user-1000.slice/user@1000.service/app.slice/pipewire.service",
		   "user manager's unit");
	expect_one(unit("app-firefox-42.scope", &f), &f,
		   "/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.slice/"
		   "app-firefox-42.scope",
		   "deep user scope");
	expect_one(unit("system-getty.slice", &f), &f, "/system.slice/system-getty.slice", "slice");
}

Test(target_unit, escaped_names_match_as_written_and_near_misses_are_offered)
{
	struct rf_target_found f;
	int ret;

	host_tree();
	expect_one(unit("systemd-fsck@dev-disk-by\\x2duuid-1234", &f), &f,
		   "/system.slice/system-systemd\\x2dfsck.slice/"
		   "systemd-fsck@dev-disk-by\\x2duuid-1234.service",
		   "escaped name");
	/* the decoded spelling is another unit name: not a match, but offered */
	ret = unit("systemd-fsck@dev-disk-by-uuid-1234", &f);
	cr_expect_eq(ret, -ENOENT);
	cr_expect_eq(f.total, 0);
	cr_assert_eq(f.nsimilar, 1);
	cr_expect_str_eq(f.similar[0], "/system.slice/system-systemd\\x2dfsck.slice/"
				       "systemd-fsck@dev-disk-by\\x2duuid-1234.service");
	rf_target_found_free(&f);
}

Test(target_unit, missing_unit_and_searched_count)
{
	struct rf_target_found f;

	host_tree();
	cr_expect_eq(unit("postgresql", &f), -ENOENT);
	cr_expect_eq(f.total, 0);
	cr_expect_eq(f.nsimilar, 0);
	cr_expect_eq(f.dirs, 15, "every cgroup searched once: %lu", f.dirs);
	cr_expect_not(f.incomplete);
	rf_target_found_free(&f);
	/* a name is a directory name, never a path */
	cr_expect_eq(unit("system.slice/nginx.service", &f), -EINVAL);
	cr_expect_eq(unit("", &f), -EINVAL);
}

Test(target_unit, same_name_in_two_managers_is_ambiguous)
{
	struct rf_target_found f;

	host_tree();
	mk("user.slice/user-1000.slice/user@1000.service/app.slice/nginx.service");
	cr_expect_eq(unit("nginx", &f), -ENOTUNIQ);
	cr_assert_eq(f.n, 2);
	cr_expect_eq(f.total, 2);
	cr_expect_str_eq(f.paths[0], "/system.slice/nginx.service", "sorted");
	cr_expect_str_eq(f.paths[1],
			 "/user.slice/user-1000.slice/user@1000.service/app.slice/nginx.service");
	rf_target_found_free(&f);
}

Test(target_unit, files_and_symlinks_are_not_followed)
{
	struct rf_target_found f;
	char outside[PATH_MAX * 2], link[PATH_MAX * 2];

	host_tree();
	/* a real unit directory outside the tree, reached only through symlinks */
	snprintf(outside, sizeof(outside), "%s/elsewhere/secret.service", test_tmpdir);
	cr_assert_eq(rf_mkdir_p(outside, 0755), 0);
	snprintf(link, sizeof(link), "%s/system.slice/shortcut.slice", root);
	cr_assert_eq(symlink("../../elsewhere", link), 0);
	snprintf(link, sizeof(link), "%s/system.slice/secret.service", root);
	cr_assert_eq(symlink(outside, link), 0);
	snprintf(link, sizeof(link), "%s/system.slice/loop.slice", root);
	cr_assert_eq(symlink("..", link), 0);
	mkfile("system.slice/fake.service"); /* a file named like a unit */

	cr_expect_eq(unit("secret", &f), -ENOENT, "a symlink is no cgroup");
	rf_target_found_free(&f);
	cr_expect_eq(unit("fake", &f), -ENOENT, "a file is no cgroup");
	rf_target_found_free(&f);
	expect_one(unit("nginx", &f), &f, "/system.slice/nginx.service", "the loop is not walked");
}

Test(target_unit, depth_limit_makes_the_search_incomplete)
{
	struct rf_target_limits lim = {.max_depth = 3, .max_dirs = 1000, .max_entries = 100000};
	struct rf_target_found f;

	mk("a/b/c/d/deep.service");
	mk("a/shallow.service");
	/* a match within reach, but the unsearched level might hold another */
	cr_expect_eq(rf_target_find_unit(root, "shallow", &lim, &f), -E2BIG);
	cr_expect(f.incomplete);
	rf_target_found_free(&f);
	cr_expect_eq(rf_target_find_unit(root, "deep", &lim, &f), -E2BIG);
	rf_target_found_free(&f);
	lim.max_depth = 5;
	cr_expect_eq(rf_target_find_unit(root, "deep", &lim, &f), 0);
	rf_target_found_free(&f);
}

Test(target_unit, dir_and_entry_limits_stop_a_huge_tree)
{
	struct rf_target_limits lim = {.max_depth = 32, .max_dirs = 50, .max_entries = 100000};
	struct rf_target_found f;
	char name[64];
	int i;

	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "big.slice/s%d.service", i);
		mk(name);
	}
	cr_expect_eq(rf_target_find_unit(root, "s199", &lim, &f), -E2BIG);
	cr_expect_eq(f.dirs, 50, "stopped at the limit: %lu", f.dirs);
	rf_target_found_free(&f);
	/* two matches seen before the limit: ambiguous, whatever the rest holds */
	mk("big.slice/s0.service/x.service");
	mk("big.slice/s1.service/x.service");
	lim.max_dirs = 100000;
	lim.max_entries = 20; /* files count too */
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "big.slice/cgroup.file%d", i);
		mkfile(name);
	}
	cr_expect_eq(rf_target_find_unit(root, "s199", &lim, &f), -E2BIG);
	cr_expect(f.incomplete);
	rf_target_found_free(&f);
	lim.max_entries = 100000;
	cr_expect_eq(rf_target_find_unit(root, "x", &lim, &f), -ENOTUNIQ);
	rf_target_found_free(&f);
}

/* Hand directory root/rel and everything below it to uid 1000, as systemd's Delegate= does. */
static void delegate(const char *rel)
{
	char cmd[PATH_MAX * 2 + 32];

	if (geteuid() != 0)
		cr_skip_test("needs root to chown a delegated subtree");
	snprintf(cmd, sizeof(cmd), "chown -R 1000:1000 '%s/%s'", root, rel);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Make a chain of n nested directories below root/rel. */
static void mk_chain(const char *rel, int n)
{
	char p[PATH_MAX];
	size_t len = (size_t)snprintf(p, sizeof(p), "%s", rel);
	int i;

	for (i = 0; i < n && len + 4 < sizeof(p); i++)
		len += (size_t)snprintf(p + len, sizeof(p) - len, "/n%d", i % 10);
	mk(p);
}

/*
 * Issue 21.4 (V3): 40 nested cgroups and 100 more in a delegated subtree (user@1000.service),
 * and a forged "nginx.service" in it, neither exhaust nor confuse the search for a unit or
 * container of the administrator; a container in the subtree (rootless Podman) is still found
 * when nothing of the administrator's matches, and not when its owner made the subtree too big
 * to tell.
 */
Test(target_unit, delegated_subtree_cannot_exhaust_or_confuse_the_search)
{
	struct rf_target_limits lim = {.max_depth = 32, .max_dirs = 60, .max_entries = 100000};
	const char *user = "user.slice/user-1000.slice/user@1000.service";
	struct rf_target_found f;
	char name[PATH_MAX];
	int i;

	mk("system.slice/nginx.service");
	snprintf(name, sizeof(name), "system.slice/docker-%s.scope", ID_A);
	mk(name);
	mk_chain(user, 40);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "%s/app.slice/s%d.scope", user, i);
		mk(name);
	}
	snprintf(name, sizeof(name), "%s/app.slice/nginx.service", user);
	mk(name);
	snprintf(name, sizeof(name), "%s/user.slice/libpod-%s.scope", user, ID_C);
	mk(name);
	delegate("user.slice/user-1000.slice/user@1000.service");

	expect_one(rf_target_find_unit(root, "nginx", &lim, &f), &f, "/system.slice/nginx.service",
		   "the administrator's unit, beside a forged one and an exhausted subtree");
	snprintf(name, sizeof(name), "/system.slice/docker-%s.scope", ID_A);
	expect_one(rf_target_find_container(root, ID_A, &lim, &f), &f, name, "a root container");
	/* the rootless container: only when its owner's subtree could be searched in full */
	cr_expect_eq(rf_target_find_container(root, ID_C, &lim, &f), -E2BIG);
	rf_target_found_free(&f);
	lim.max_dirs = 1000;
	cr_expect_eq(rf_target_find_unit(root, "nginx", &lim, &f), 0);
	cr_expect_eq(f.ignored, 1, "the forged unit was seen and not counted");
	rf_target_found_free(&f);
	cr_expect_eq(rf_target_find_container(root, ID_C, &lim, &f), -E2BIG, "40 levels deep");
	rf_target_found_free(&f);
	lim.max_depth = 64;
	snprintf(name, sizeof(name), "/%s/user.slice/libpod-%s.scope", user, ID_C);
	expect_one(rf_target_find_container(root, ID_C, &lim, &f), &f, name,
		   "a rootless container");
}

Test(target_unit, unreadable_root)
{
	struct rf_target_found f;

	cr_expect_eq(rf_target_find_unit("/nonexistent-ringfence-root", "nginx", NULL, &f),
		     -ENOENT);
	cr_expect_eq(f.total, 0);
	cr_expect_eq(rf_target_find_unit("/proc/self/cgroup", "nginx", NULL, &f), -ENOTDIR);
}

/* ---- container ids --------------------------------------------------------------------------- */

Test(target_container_id, prefixes_schemes_and_case)
{
	char out[RF_TARGET_ID_LEN + 1];

	cr_expect_eq(rf_target_container_id("3F2A", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "3f2a");
	cr_expect_eq(rf_target_container_id(ID_A, out, sizeof(out)), 0);
	cr_expect_str_eq(out, ID_A);
	cr_expect_eq(rf_target_container_id("containerd://" ID_C, out, sizeof(out)), 0);
	cr_expect_str_eq(out, ID_C);
	cr_expect_eq(rf_target_container_id("cri-o://3f2a9c", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "3f2a9c");
	cr_expect_eq(rf_target_container_id("docker://" ID_A, out, sizeof(out)), 0);
	cr_expect_str_eq(out, ID_A);
}

Test(target_container_id, malformed_refused)
{
	static const char *const bad[] = {
	    "",
	    "3f2",
	    "3f2g",
	    "web-1",
	    "docker://3f2",
	    "://3f2a",
	    "a b://3f2a",
	    " 3f2a",
	    "3f2a ",
	    "3f2a\n",
	    ID_A "0", /* 65 digits */
	    "docker-" ID_A ".scope",
	};
	char out[RF_TARGET_ID_LEN + 1];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		cr_expect_eq(rf_target_container_id(bad[i], out, sizeof(out)), -EINVAL, "'%s'",
			     bad[i]);
}

Test(target_container_id, directory_names_of_every_runtime)
{
	static const char *const yes[] = {
	    "docker-" ID_A ".scope",
	    "libpod-" ID_A ".scope",
	    "cri-containerd-" ID_A ".scope",
	    "crio-" ID_A ".scope",
	    "nerdctl-" ID_A ".scope",
	    ID_A, /* cgroupfs drivers */
	    "libpod-" ID_A,
	    "crio-" ID_A,
	};
	static const char *const no[] = {
	    "libpod-conmon-" ID_A ".scope", /* Podman's monitor, not the container */
	    "crio-conmon-" ID_A ".scope",
	    "conmon-" ID_A ".scope",
	    ID_A ".scope",
	    "docker-" ID_A ".scope.bak",
	    "Docker-" ID_A ".scope",
	    "-" ID_A ".scope",
	    "docker_" ID_A ".scope",
	    "docker-" ID_A ".service",
	    "3F2A9C1D5E6B7A8C9D0E1F2A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E",
	    "docker-3f2a.scope",
	    "x" ID_A,
	    "pod" ID_A,
	};
	char id[RF_TARGET_ID_LEN + 1];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		cr_expect(rf_target_container_of(yes[i], id, sizeof(id)), "%s", yes[i]);
		cr_expect_str_eq(id, ID_A, "%s", yes[i]);
	}
	for (i = 0; i < ARRAY_SIZE(no); i++)
		cr_expect_not(rf_target_container_of(no[i], id, sizeof(id)), "%s", no[i]);
}

/* ---- containers in a tree -------------------------------------------------------------------- */

TestSuite(target_container, .init = tree_setup, .fini = tmpdir_teardown);

struct layout {
	const char *name;
	const char *mkdir;  /* directories to make */
	const char *target; /* the container's cgroup */
};

static const struct layout layouts[] = {
    {"docker, systemd driver", "system.slice/docker-" ID_A ".scope",
     "/system.slice/docker-" ID_A ".scope"},
    {"docker, cgroupfs driver", "docker/" ID_A, "/docker/" ID_A},
    {"podman, systemd, with its inner cgroup", "machine.slice/libpod-" ID_A ".scope/container",
     "/machine.slice/libpod-" ID_A ".scope"},
    {"podman rootless",
     "user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID_A ".scope",
     "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID_A ".scope"},
    {"containerd under kubernetes, systemd",
     "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c.slice/"
     "cri-containerd-" ID_A ".scope",
     "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c.slice/"
     "cri-containerd-" ID_A ".scope"},
    {"kubernetes, cgroupfs", "kubepods/burstable/pod0f1e2d3c-aaaa-bbbb-cccc-000000000001/" ID_A,
     "/kubepods/burstable/pod0f1e2d3c-aaaa-bbbb-cccc-000000000001/" ID_A},
    {"cri-o", "kubepods.slice/kubepods-burstable.slice/crio-" ID_A ".scope",
     "/kubepods.slice/kubepods-burstable.slice/crio-" ID_A ".scope"},
};

Test(target_container, every_layout_by_full_id_prefix_and_scheme)
{
	struct rf_target_found f;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(layouts); i++) {
		tmpdir_teardown();
		tree_setup();
		mk("system.slice/nginx.service");
		mk("system.slice/docker-" ID_C ".scope");
		mk(layouts[i].mkdir);
		expect_one(container(ID_A, &f), &f, layouts[i].target, layouts[i].name);
		expect_one(container("3f2a9c1d", &f), &f, layouts[i].target, layouts[i].name);
		expect_one(container("3F2A", &f), &f, layouts[i].target, layouts[i].name);
		expect_one(container("containerd://" ID_A, &f), &f, layouts[i].target,
			   layouts[i].name);
		expect_one(container("c0ffee", &f), &f, "/system.slice/docker-" ID_C ".scope",
			   layouts[i].name);
	}
}

Test(target_container, shared_prefix_is_ambiguous_and_lists_both)
{
	struct rf_target_found f;

	mk("system.slice/docker-" ID_A ".scope");
	mk("machine.slice/libpod-" ID_B ".scope");
	cr_expect_eq(container("3f2a9c1d5e6b", &f), -ENOTUNIQ);
	cr_assert_eq(f.n, 2);
	cr_expect_str_eq(f.paths[0], "/machine.slice/libpod-" ID_B ".scope");
	cr_expect_str_eq(f.paths[1], "/system.slice/docker-" ID_A ".scope");
	rf_target_found_free(&f);
	/* one more digit, or the full id, tells them apart */
	expect_one(container("3f2a9c1d5e6b7", &f), &f, "/system.slice/docker-" ID_A ".scope", "A");
	expect_one(container("3f2a9c1d5e6b0", &f), &f, "/machine.slice/libpod-" ID_B ".scope", "B");
	expect_one(container(ID_B, &f), &f, "/machine.slice/libpod-" ID_B ".scope", "full B");
	cr_expect_eq(
	    container("3f2a9c1d5e6b7a8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6f", &f),
	    -ENOENT, "a full id differing in its last digit matches nothing");
	rf_target_found_free(&f);
}

Test(target_container, monitor_scope_beside_the_container_is_not_a_match)
{
	struct rf_target_found f;

	mk("machine.slice/libpod-conmon-" ID_A ".scope");
	mk("machine.slice/libpod-" ID_A ".scope/container");
	mk("kubepods.slice/crio-conmon-" ID_C ".scope");
	expect_one(container("3f2a", &f), &f, "/machine.slice/libpod-" ID_A ".scope", "podman");
	cr_expect_eq(container("c0ffee", &f), -ENOENT, "only a monitor scope has that id");
	rf_target_found_free(&f);
}

Test(target_container, one_id_in_unrelated_places_is_ambiguous)
{
	struct rf_target_found f;

	mk("system.slice/docker-" ID_A ".scope");
	mk("docker/" ID_A); /* a stale cgroupfs directory of the same id */
	cr_expect_eq(container(ID_A, &f), -ENOTUNIQ);
	cr_expect_eq(f.n, 2);
	rf_target_found_free(&f);
}

Test(target_container, nested_containers_each_resolve)
{
	struct rf_target_found f;

	/* docker in docker: the inner engine's container below the outer one */
	mk("docker/" ID_A "/docker/" ID_C);
	expect_one(container("3f2a", &f), &f, "/docker/" ID_A, "outer");
	expect_one(container("c0ff", &f), &f, "/docker/" ID_A "/docker/" ID_C, "inner");
	/* the same id nested (a runtime's inner cgroup) counts once, as the outer directory */
	mk("system.slice/docker-" ID_B ".scope/" ID_B);
	expect_one(container(ID_B, &f), &f, "/system.slice/docker-" ID_B ".scope",
		   "nested same id");
}

Test(target_container, symlinked_container_is_not_followed)
{
	struct rf_target_found f;
	char outside[PATH_MAX * 2], link[PATH_MAX * 2];

	snprintf(outside, sizeof(outside), "%s/elsewhere/docker-" ID_A ".scope", test_tmpdir);
	cr_assert_eq(rf_mkdir_p(outside, 0755), 0);
	mk("system.slice");
	snprintf(link, sizeof(link), "%s/system.slice/docker-" ID_A ".scope", root);
	cr_assert_eq(symlink(outside, link), 0);
	mkfile("system.slice/docker-" ID_C ".scope");
	cr_expect_eq(container("3f2a", &f), -ENOENT);
	rf_target_found_free(&f);
	cr_expect_eq(container("c0ff", &f), -ENOENT);
	rf_target_found_free(&f);
}

Test(target_container, many_matches_are_counted_beyond_those_kept)
{
	struct rf_target_found f;
	char name[128];
	int i;

	for (i = 0; i < RF_TARGET_MAX_MATCHES + 10; i++) {
		snprintf(name, sizeof(name), "system.slice/docker-abcd%060x.scope",
			 (unsigned int)i);
		mk(name);
	}
	cr_expect_eq(container("abcd", &f), -ENOTUNIQ);
	cr_expect_eq(f.n, RF_TARGET_MAX_MATCHES);
	cr_expect_eq(f.total, RF_TARGET_MAX_MATCHES + 10);
	rf_target_found_free(&f);
}

/* ---- /proc/PID/cgroup ------------------------------------------------------------------------ */

Test(target_pid, parse_v2_and_hybrid)
{
	char path[PATH_MAX];

	cr_expect_eq(
	    rf_target_parse_proc_cgroup("0::/system.slice/nginx.service\n", path, sizeof(path)), 0);
	cr_expect_str_eq(path, "/system.slice/nginx.service");
	cr_expect_eq(rf_target_parse_proc_cgroup("12:pids:/user.slice\n1:name=systemd:/user.slice/"
						 "x.scope\n0::/user.slice/x.scope",
						 path, sizeof(path)),
		     0, "hybrid host, no final newline");
	cr_expect_str_eq(path, "/user.slice/x.scope");
	cr_expect_eq(rf_target_parse_proc_cgroup("0::/\n", path, sizeof(path)), 0);
	cr_expect_str_eq(path, "/");
	cr_expect_eq(rf_target_parse_proc_cgroup("0::/a/..b/c..\n", path, sizeof(path)), 0,
		     "'..b' is a name, not a parent");
	cr_expect_str_eq(path, "/a/..b/c..");
}

Test(target_pid, parse_refusals)
{
	char path[16];

	cr_expect_eq(
	    rf_target_parse_proc_cgroup("4:memory:/x\n1:name=systemd:/x\n", path, sizeof(path)),
	    -ENOENT, "cgroup v1 only");
	cr_expect_eq(rf_target_parse_proc_cgroup("", path, sizeof(path)), -ENOENT);
	cr_expect_eq(rf_target_parse_proc_cgroup("0::/../../host.slice\n", path, sizeof(path)),
		     -EXDEV, "outside our cgroup namespace");
	cr_expect_eq(rf_target_parse_proc_cgroup("0::/a/..\n", path, sizeof(path)), -EXDEV);
	cr_expect_eq(rf_target_parse_proc_cgroup("0::/a\n0::/b\n", path, sizeof(path)), -EBADMSG,
		     "a forged second line");
	cr_expect_eq(rf_target_parse_proc_cgroup("0::\n", path, sizeof(path)), -EBADMSG);
	cr_expect_eq(rf_target_parse_proc_cgroup("0::relative\n", path, sizeof(path)), -EBADMSG);
	cr_expect_eq(rf_target_parse_proc_cgroup("0::/a-path-longer-than-16\n", path, sizeof(path)),
		     -ENAMETOOLONG);
}

TestSuite(target_pid_proc, .init = tmpdir_setup, .fini = tmpdir_teardown);

Test(target_pid_proc, fake_proc_and_bad_pids)
{
	static const char *const bad[] = {"", "0", "-1", "+5", "12a", " 12", "99999999999", "1e3"};
	char dir[PATH_MAX], file[PATH_MAX + 16], path[PATH_MAX];
	FILE *f;
	size_t i;

	snprintf(dir, sizeof(dir), "%s/proc/4242", test_tmpdir);
	cr_assert_eq(rf_mkdir_p(dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/cgroup", dir);
	f = fopen(file, "w");
	cr_assert_not_null(f);
	fputs("0::/system.slice/docker-" ID_A ".scope\n", f);
	fclose(f);
	cr_expect_eq(rf_target_pid_cgroup(tmp_path("proc"), "4242", path, sizeof(path)), 0);
	cr_expect_str_eq(path, "/system.slice/docker-" ID_A ".scope");
	cr_expect_eq(rf_target_pid_cgroup(tmp_path("proc"), "4243", path, sizeof(path)), -ESRCH);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		cr_expect_eq(rf_target_pid_cgroup(tmp_path("proc"), bad[i], path, sizeof(path)),
			     -EINVAL, "'%s'", bad[i]);
}

Test(target_pid_proc, own_process_matches_proc_self)
{
	char pid[16], mine[PATH_MAX], self[PATH_MAX], *text = NULL;
	size_t len;

	cr_assert_eq(rf_read_file("/proc/self/cgroup", &text, &len), 0);
	if (rf_target_parse_proc_cgroup(text, self, sizeof(self))) {
		free(text);
		cr_skip_test("no cgroup v2 line in /proc/self/cgroup");
	}
	free(text);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	cr_expect_eq(rf_target_pid_cgroup(NULL, pid, mine, sizeof(mine)), 0);
	cr_expect_str_eq(mine, self);
}

/* The state dir name of a target: one directory level, readable, and distinct for distinct
 * paths (the escapes cannot collide with a '/' or with each other). */
Test(target_state_name, paths_become_one_distinct_directory_name)
{
	static const struct {
		const char *rel, *want;
	} rows[] = {
	    {"/", "+"},
	    {"/system.slice/nginx.service", "system.slice+nginx.service"},
	    {"/a b/c+d", "a%20b+c%2Bd"},
	    {"/a/b", "a+b"},
	    {"/a+b", "a%2Bb"},
	    {"/x%2F", "x%252F"},
	    {"/system.slice/foo\\x2dbar.service", "system.slice+foo%5Cx2dbar.service"},
	};
	char out[NAME_MAX + 1];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		cr_expect_eq(rf_target_state_name(rows[i].rel, out, sizeof(out)), 0, "%s",
			     rows[i].rel);
		cr_expect_str_eq(out, rows[i].want, "%s", rows[i].rel);
	}
}

Test(target_state_name, relative_and_too_long_paths_refused)
{
	char out[NAME_MAX + 1], longp[400];

	cr_expect_eq(rf_target_state_name("system.slice", out, sizeof(out)), -EINVAL);
	cr_expect_eq(rf_target_state_name("", out, sizeof(out)), -EINVAL);
	memset(longp, '%', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	cr_expect_eq(rf_target_state_name(longp, out, sizeof(out)), -ENAMETOOLONG);
	cr_expect_eq(rf_target_state_name("/abc", out, 3), -ENAMETOOLONG);
}

/* A copied context's dirs point into its own buffers, so it outlives the one it came from. */
Test(ctx_copy, dirs_that_pointed_into_the_source_follow_the_copy)
{
	static const char base[] = "/sys/fs/bpf/ringfence";
	struct rf_ctx *src = calloc(1, sizeof(*src)), dst;

	cr_assert_not_null(src);
	snprintf(src->pin_buf, sizeof(src->pin_buf), "%s/targets/42", base);
	snprintf(src->state_buf, sizeof(src->state_buf), "/var/lib/ringfence/targets/a+b");
	snprintf(src->sel_buf, sizeof(src->sel_buf), "/sys/fs/cgroup/a/b");
	src->pin_dir = src->pin_buf;
	src->state_dir = src->state_buf;
	src->cgroup = src->sel_buf;
	src->pin_base = base;
	rf_svc_ctx_copy(&dst, src);
	memset(src, 0, sizeof(*src));
	free(src);
	cr_expect_eq(dst.pin_dir, dst.pin_buf);
	cr_expect_eq(dst.state_dir, dst.state_buf);
	cr_expect_eq(dst.cgroup, dst.sel_buf);
	cr_expect_str_eq(dst.pin_dir, "/sys/fs/bpf/ringfence/targets/42");
	cr_expect_eq(dst.pin_base, base, "a pointer outside the context is kept");
}

/* ---- --cgroup spellings ---------------------------------------------------------------------- */

TestSuite(target_cgroup_path, .init = tree_setup, .fini = tmpdir_teardown);

/* Where --cgroup points: the mount's own paths as given, anything else relative to the mount,
 * with or without a leading '/' (issue 16), and an existing path elsewhere as given. */
Test(target_cgroup_path, relative_to_the_mount_with_or_without_a_slash)
{
	char out[PATH_MAX * 2], want[PATH_MAX * 2], elsewhere[PATH_MAX + 16];

	cr_expect_eq(rf_target_cgroup_path(root, "system.slice/x.service", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s/system.slice/x.service", root);
	cr_expect_str_eq(out, want, "relative, no leading '/'");
	cr_expect_eq(rf_target_cgroup_path(root, "/system.slice/x.service", out, sizeof(out)), 0);
	cr_expect_str_eq(out, want, "relative to the mount, with a leading '/'");
	cr_expect_eq(rf_target_cgroup_path(root, want, out, sizeof(out)), 0);
	cr_expect_str_eq(out, want, "absolute below the mount, even before it exists");
	cr_expect_eq(rf_target_cgroup_path(root, "/", out, sizeof(out)), 0);
	cr_expect_str_eq(out, root, "'/' is the mount");
	snprintf(elsewhere, sizeof(elsewhere), "%s", test_tmpdir);
	cr_expect_eq(rf_target_cgroup_path(root, elsewhere, out, sizeof(out)), 0);
	cr_expect_str_eq(out, elsewhere, "an existing path elsewhere is taken as given");
	cr_expect_eq(rf_target_cgroup_path(root, "", out, sizeof(out)), -EINVAL);
	cr_expect_eq(rf_target_cgroup_path(root, "a", out, 4), -ENAMETOOLONG);
}

Test(target_cgroup_path, a_directory_that_is_no_cgroup_is_refused)
{
	struct rf_cgroup_ref ref;
	char missing[PATH_MAX + 16];

	mk("system.slice/x.service");
	cr_expect_eq(rf_target_cgroup(root, "system.slice/x.service", &ref), -ENOTDIR,
		     "a tmpfs directory is no cgroup");
	snprintf(missing, sizeof(missing), "%s/none", root);
	cr_expect_eq(rf_target_cgroup(root, missing, &ref), -ENOENT);
	cr_expect_eq(ref.id, 0);
}

/* How a cgroup that no longer exists is named: one spelling for X, X/, X/., X//, Y/../X. */
Test(target_path_clean, one_spelling_per_path)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
	    {"/", "/"},		 {"//", "/"},	       {"/.", "/"},
	    {"/..", "/"},	 {"/a", "/a"},	       {"/a/", "/a"},
	    {"/a/.", "/a"},	 {"/a//b///", "/a/b"}, {"/a/./b/../c", "/a/c"},
	    {"/a/b/../..", "/"}, {"/a/../../b", "/b"}, {"/a/.b/..c", "/a/.b/..c"},
	};
	char out[PATH_MAX];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		cr_expect_eq(rf_target_path_clean(rows[i].in, out, sizeof(out)), 0, "%s",
			     rows[i].in);
		cr_expect_str_eq(out, rows[i].want, "%s", rows[i].in);
	}
	cr_expect_eq(rf_target_path_clean("a/b", out, sizeof(out)), -EINVAL);
	cr_expect_eq(rf_target_path_clean("/abcdef", out, 4), -ENAMETOOLONG);
}

/* On the machine's cgroup2 mount (read only): every spelling of the root is the root, by id,
 * and an ancestor is found by id however it is spelled. */
Test(target_cgroup_real, spellings_of_the_root_are_one_cgroup_by_id)
{
	struct rf_cgroup_ref a, b, self;
	char mnt[PATH_MAX], sel[PATH_MAX + 8], rel[PATH_MAX];
	const char *const suffixes[] = {"/", "/.", "//", "/./."};
	size_t i;

	if (rf_cgroup2_mount(mnt, sizeof(mnt)))
		cr_skip_test("no cgroup2 mount");
	cr_assert_eq(rf_target_cgroup(mnt, mnt, &a), 0);
	cr_expect_str_eq(a.rel, "/");
	cr_expect_str_eq(a.dir, mnt);
	for (i = 0; i < ARRAY_SIZE(suffixes); i++) {
		snprintf(sel, sizeof(sel), "%s%s", mnt, suffixes[i]);
		cr_assert_eq(rf_target_cgroup(mnt, sel, &b), 0, "%s", sel);
		cr_expect_eq(b.id, a.id, "%s", sel);
		cr_expect_str_eq(b.rel, "/", "%s", sel);
		cr_expect_str_eq(b.dir, mnt, "%s", sel);
	}
	snprintf(sel, sizeof(sel), "%d", (int)getpid());
	if (rf_target_pid_cgroup(NULL, sel, rel, sizeof(rel)) || rf_target_cgroup(mnt, rel, &self))
		return; /* a cgroup v1 host, or outside this cgroup namespace */
	cr_expect_eq(rf_target_covers(self.dir, a.id), 1, "the root is an ancestor of %s",
		     self.dir);
	cr_expect_eq(rf_target_covers(self.dir, self.id), 1, "a cgroup covers itself");
	cr_expect_eq(rf_target_covers(mnt, self.id), strcmp(self.rel, "/") ? 0 : 1,
		     "a descendant is no ancestor");
}

/* The cgroup of a container from one of its processes' cgroups: cut after the outermost
 * directory named for its id, whatever runtime layout. */
Test(target_container_cgroup, outermost_directory_named_for_the_id)
{
	static const struct {
		const char *rel, *want;
	} rows[] = {
	    {"/system.slice/docker-" ID_A ".scope", "/system.slice/docker-" ID_A ".scope"},
	    {"/machine.slice/libpod-" ID_A ".scope/container",
	     "/machine.slice/libpod-" ID_A ".scope"},
	    {"/docker/" ID_A, "/docker/" ID_A},
	    {"/kubepods/besteffort/pod1/" ID_A "/inner", "/kubepods/besteffort/pod1/" ID_A},
	    {"/a/docker-" ID_A ".scope/b/" ID_A, "/a/docker-" ID_A ".scope"},
	};
	char out[PATH_MAX];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		cr_expect_eq(rf_target_container_cgroup(rows[i].rel, ID_A, out, sizeof(out)), 0,
			     "%s", rows[i].rel);
		cr_expect_str_eq(out, rows[i].want);
	}
	cr_expect_eq(rf_target_container_cgroup("/system.slice/docker-" ID_B ".scope", ID_A, out,
						sizeof(out)),
		     -ENOENT, "another container's");
	cr_expect_eq(rf_target_container_cgroup("/machine.slice/libpod-conmon-" ID_A ".scope", ID_A,
						out, sizeof(out)),
		     -ENOENT, "its monitor is not the container");
	cr_expect_eq(rf_target_container_cgroup("/", ID_A, out, sizeof(out)), -ENOENT);
	cr_expect_eq(rf_target_container_cgroup("docker/" ID_A, ID_A, out, sizeof(out)), -EINVAL);
	cr_expect_eq(rf_target_container_cgroup("/docker/" ID_A, ID_A, out, 8), -ENAMETOOLONG);
}
