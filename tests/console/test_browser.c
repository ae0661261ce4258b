// SPDX-License-Identifier: GPL-2.0-only
/* The page in a real browser (headless Chromium through Selenium, tests/console/browser.py):
 * isolate a device with a comment, see Succeeded and "Isolated", release it the same way.
 * Screenshots of each state go to $RINGFENCE_OUTPUT/console-screenshots/simulated/ (the real
 * agent's, test_agent.c, to .../agent/). */
#include <criterion/criterion.h>
#include "ctest.h"
#include "rft_child.h"
#include "rft_env.h"

static void setup(void)
{
	ctest_setup();
}

TestSuite(browser, .init = setup, .fini = ctest_stop, .timeout = 120);

Test(browser, isolate_and_release_from_the_page)
{
	ctest_sim_start("dev-web", "web-1.example", false, CT_ANSWER);
	ctest_sim_start("dev-db", "db-1.example", true, CT_ANSWER);
	ctest_sim_start("dev-mail", "mail-1.example", false, CT_SILENT);
	ctest_browser("dev-web", "isolate", "simulated");
	cr_assert_eq(ctest_sim_actions("dev-web"), 1, "the page sent one isolate");
	cr_assert_eq(ctest_wait_isolated("dev-web", true, 1000), 0);
	ctest_browser("dev-web", "release", "simulated");
	cr_assert_eq(ctest_sim_actions("dev-web"), 2, "and one release");
	cr_assert_eq(ctest_wait_isolated("dev-web", false, 1000), 0);
	cr_assert_eq(ctest_sim_actions("dev-db"), 0, "the other devices got nothing");
	cr_assert_eq(ctest_sim_actions("dev-mail"), 0);
}
