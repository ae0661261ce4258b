// SPDX-License-Identifier: GPL-2.0-only
/* The page in a real browser (headless Chromium through Selenium, tests/console/browser.py):
 * isolate a device with a comment, see Succeeded and "Isolated", release it the same way.
 * Screenshots of each state go to $RINGFENCE_OUTPUT/console-screenshots/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <criterion/criterion.h>
#include "ctest.h"
#include "rft_child.h"
#include "rft_env.h"

static void setup(void)
{
	ctest_setup();
}

TestSuite(browser, .init = setup, .fini = ctest_stop, .timeout = 120);

/* Run one phase of browser.py; skip (or fail under RINGFENCE_REQUIRE_KERNEL=1) when exit 77. */
static void run_phase(const char *device, const char *phase)
{
	char url[64], script[512], shots[512], *err = NULL;
	const char *src = getenv("RINGFENCE_SRC"), *out = getenv("RINGFENCE_OUTPUT");
	char *argv[] = {"/usr/bin/python3", script,	   url,	  CT_TOKEN,
			(char *)device,	    (char *)phase, shots, NULL};
	int rc;

	if (access("/usr/bin/python3", X_OK))
		rft_unavailable(
		    "/usr/bin/python3 is missing (the browser test needs python3-selenium)");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ct.console_port);
	snprintf(script, sizeof(script), "%s/tests/console/browser.py", src ? src : ".");
	snprintf(shots, sizeof(shots), "%s/console-screenshots", out ? out : ".output");
	rc = rft_exec(NULL, argv, NULL, &err);
	if (rc == 77)
		rft_unavailable("browser test: %s (make deps installs chromium, chromium-driver, "
				"python3-selenium)",
				err ? strtok(err, "\n") : "?");
	cr_assert_eq(rc, 0, "browser test, %s phase, exit %d:\n%s", phase, rc, err ? err : "");
	fprintf(stderr, "%s", err ? err : "");
	free(err);
}

Test(browser, isolate_and_release_from_the_page)
{
	ctest_sim_start("dev-web", "web-1.example", false, CT_ANSWER);
	ctest_sim_start("dev-db", "db-1.example", true, CT_ANSWER);
	ctest_sim_start("dev-mail", "mail-1.example", false, CT_SILENT);
	run_phase("dev-web", "isolate");
	cr_assert_eq(ctest_sim_actions("dev-web"), 1, "the page sent one isolate");
	cr_assert_eq(ctest_wait_isolated("dev-web", true, 1000), 0);
	run_phase("dev-web", "release");
	cr_assert_eq(ctest_sim_actions("dev-web"), 2, "and one release");
	cr_assert_eq(ctest_wait_isolated("dev-web", false, 1000), 0);
	cr_assert_eq(ctest_sim_actions("dev-db"), 0, "the other devices got nothing");
	cr_assert_eq(ctest_sim_actions("dev-mail"), 0);
}
