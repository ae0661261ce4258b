// SPDX-License-Identifier: GPL-2.0-only
/*
 * The build scripts' own logic, run as they are from the source tree: scripts/kernels/apt.sh
 * finds the Debian mirrors in the machine's apt sources (one-line .list and deb822 .sources
 * files; here fixtures under RF_APT_SOURCES_DIR) and names no mirror host of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criterion/criterion.h>

static char dir[64];

static void make_dirs(void)
{
	char d[128];

	snprintf(dir, sizeof(dir), "/tmp/rf-unit-apt-%d", (int)getpid());
	cr_assert_eq(mkdir(dir, 0700), 0, "%s: %s", dir, strerror(errno));
	snprintf(d, sizeof(d), "%s/src", dir);
	cr_assert_eq(mkdir(d, 0700), 0);
	snprintf(d, sizeof(d), "%s/src/sources.list.d", dir);
	cr_assert_eq(mkdir(d, 0700), 0);
}

static void remove_dirs(void)
{
	char cmd[160];

	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", dir);
	}
}

TestSuite(scripts, .init = make_dirs, .fini = remove_dirs);

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/src/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* "MIRROR SECURITY" as apt.sh --print-mirrors says it; the exit status in *status. */
static char *mirrors(int *status)
{
	char cmd[512], *line = NULL;
	size_t cap = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "env -u RF_DEBIAN_MIRROR -u RF_DEBIAN_SECURITY_MIRROR RF_APT_SOURCES_DIR=%s/src "
		 "bash scripts/kernels/apt.sh %s/apt --print-mirrors 2>/dev/null",
		 dir, dir);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	if (getline(&line, &cap, p) < 0) {
		free(line);
		line = NULL;
	} else {
		line[strcspn(line, "\n")] = '\0';
	}
	*status = pclose(p);
	return line;
}

Test(scripts, apt_mirrors_come_from_deb822_sources)
{
	char *m;
	int st;

	put("sources.list.d/debian.sources",
	    "Types: deb\nURIs: http://mirror.test/debian/\nSuites: bookworm bookworm-updates\n"
	    "Components: main\n\n"
	    "Types: deb\nURIs: http://security.mirror.test/debian-security\n"
	    "Suites: bookworm-security\nComponents: main\n");
	put("sources.list.d/other.sources", "Types: deb\nURIs: https://vendor.test/apt\n"
					    "Suites: nodistro\nComponents: main\n");
	m = mirrors(&st);
	cr_assert_eq(st, 0);
	cr_expect_str_eq(m,
			 "http://mirror.test/debian http://security.mirror.test/debian-security");
	free(m);
}

Test(scripts, apt_mirrors_come_from_one_line_lists)
{
	char *m;
	int st;

	put("sources.list",
	    "# deb http://commented.test/debian bookworm main\n"
	    "deb https://vendor.test/apt cloud-sdk-bookworm main\n"
	    "deb [arch=amd64 signed-by=/k.gpg] http://list.test/debian bullseye main\n");
	put("sources.list.d/x.list.disabled", "deb http://disabled.test/debian bookworm main\n");
	m = mirrors(&st);
	cr_assert_eq(st, 0);
	/* no security suite listed: the same mirror serves it (a proxy of the whole archive) */
	cr_expect_str_eq(m, "http://list.test/debian http://list.test/debian");
	free(m);
}

Test(scripts, apt_without_a_debian_mirror_says_so)
{
	char *m;
	int st;

	put("sources.list", "deb https://vendor.test/apt nodistro main\n");
	m = mirrors(&st);
	cr_expect_null(m, "a mirror out of nowhere: %s", m);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status %d", st);
	free(m);
}
