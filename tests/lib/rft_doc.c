// SPDX-License-Identifier: GPL-2.0-only
/* The recipes of docs/ABI.md, run verbatim by the kernel tests (rft_doc.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "rf_test.h"
#include "rft_doc.h"

/* docs/ABI.md as it was when the test binary was built (a prerequisite in the Makefile), so the
 * test runs the recipe the docs show wherever the binary is copied. */
extern const char rft_abi_md[];
__asm__(".pushsection .rodata\n"
	".global rft_abi_md\n"
	"rft_abi_md:\n"
	".incbin \"docs/ABI.md\"\n"
	".byte 0\n"
	".popsection\n");

/* The nth (from 0) ```sh block of section `heading` of docs/ABI.md; caller frees. */
char *rft_abi_block(const char *heading, int nth)
{
	const char *s = strstr(rft_abi_md, heading), *end, *b;

	cr_assert_not_null(s, "docs/ABI.md has no section \"%s\"", heading);
	end = strstr(s + 1, "\n## ");
	for (b = s; nth >= 0; nth--) {
		b = strstr(b, "\n```sh\n");
		cr_assert(b && (!end || b < end), "section \"%s\" has no sh block %d", heading,
			  nth);
		b += 7;
	}
	end = strstr(b, "\n```");
	cr_assert_not_null(end, "unterminated sh block in \"%s\"", heading);
	return strndup(b, (size_t)(end - b) + 1);
}

/* Run block with sh -e in the device netns, as an operator with CG set and the private pin,
 * state and config in the variables the CLI reads; `ringfence` is $RINGFENCE_BIN. */
void rft_abi_run(const char *block, const char *cg)
{
	static char env[10][PATH_MAX + 64];
	char bindir[PATH_MAX], link[PATH_MAX + 16], bin[PATH_MAX], *out = NULL, *err = NULL;
	char *argv[] = {"sh", "-ec", (char *)block, NULL};
	char *envp[16];
	int n = 0, i, ret;

	cr_assert_not_null(realpath(getenv("RINGFENCE_BIN"), bin));
	snprintf(bindir, sizeof(bindir), "%s/bin", rft.state_dir);
	snprintf(link, sizeof(link), "%s/ringfence", bindir);
	if (access(link, X_OK)) {
		cr_assert(!mkdir(bindir, 0755) || errno == EEXIST);
		cr_assert_eq(symlink(bin, link), 0, "symlink %s: %s", link, strerror(errno));
	}
	snprintf(env[0], sizeof(env[0]), "RINGFENCE_PIN_DIR=%s", rft.pin_dir);
	snprintf(env[1], sizeof(env[1]), "RINGFENCE_STATE_DIR=%s", rft.state_dir);
	snprintf(env[2], sizeof(env[2]), "RINGFENCE_CONFIG=%s", rft.config);
	snprintf(env[3], sizeof(env[3]), "RINGFENCE_HOME_CGROUP=%s", rft.cg);
	snprintf(env[4], sizeof(env[4]), "RINGFENCE_RESOLV_CONF=%s/resolv.conf", rft.state_dir);
	snprintf(env[5], sizeof(env[5]), "RINGFENCE_DHCP_LEASES=%s/dhcp-leases", rft.state_dir);
	snprintf(env[6], sizeof(env[6]), "PATH=%s:%s", bindir,
		 getenv("PATH") ? getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin");
	snprintf(env[7], sizeof(env[7]), "CG=%s", cg);
	for (i = 0; i < 8; i++)
		envp[n++] = env[i];
	envp[n++] = "RINGFENCE_PACKET_GUARD=off";
	envp[n++] = "RINGFENCE_CGROUP=";
	envp[n++] = "RINGFENCE_UNIT=";
	envp[n++] = "RINGFENCE_CONTAINER=";
	envp[n++] = "RINGFENCE_REQUESTOR";
	envp[n] = NULL;
	ret = rft_exec_env(rft.dev_ns, argv, envp, &out, &err);
	cr_assert_eq(ret, 0, "the docs/ABI.md recipe failed (%d):\n%s\nstdout: %s\nstderr: %s", ret,
		     block, out, err);
	free(out);
	free(err);
}
