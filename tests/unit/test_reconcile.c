// SPDX-License-Identifier: GPL-2.0-only
/* rf_reconcile: what applying the config file removes, and when it touches nothing. */
#include <string.h>
#include <criterion/criterion.h>
#include "rf_reconcile.h"
#include "helpers.h"

static bool has(const struct rf_reconcile *r, const char *line)
{
	size_t i;

	for (i = 0; i < r->ndel; i++)
		if (!strcmp(r->del[i], line))
			return true;
	return false;
}

Test(reconcile, same_lines_same_map_is_unchanged)
{
	char *want[] = {"net 192.0.2.0/24", "exe /bin/true"};
	char *had[] = {"net 192.0.2.0/24", "exe /bin/true"};
	struct rf_reconcile r;

	cr_assert_eq(rf_reconcile(want, 2, had, 2, true, NULL, 0, &r), 0);
	cr_assert(r.unchanged);
	cr_assert_eq(r.ndel, 0);
	rf_reconcile_free(&r);
}

Test(reconcile, new_map_refills_and_removes_nothing)
{
	char *want[] = {"net 192.0.2.0/24"};
	char *had[] = {"net 192.0.2.0/24", "net 198.51.100.0/24"};
	struct rf_reconcile r;

	cr_assert_eq(rf_reconcile(want, 1, had, 1, false, NULL, 0, &r), 0);
	cr_assert_not(r.unchanged, "a new map holds nothing: everything must be added");
	cr_assert_eq(rf_reconcile(want, 1, had, 2, false, NULL, 0, &r), 0);
	cr_assert_eq(r.ndel, 0, "nothing to remove from a map the old lines never went into");
	rf_reconcile_free(&r);
}

Test(reconcile, removes_what_only_the_old_config_allowed)
{
	char *want[] = {"net 192.0.2.0/24", "net 2001:db8::/32"};
	char *had[] = {"net 203.0.113.0/24", "net 192.0.2.0/24", "exe /bin/false",
		       "net 198.51.100.7/32 proto tcp port 22 dir in"};
	char *user[] = {"net 198.51.100.7/32 proto tcp port 22 dir in"};
	struct rf_reconcile r;

	cr_assert_eq(rf_reconcile(want, 2, had, 4, true, user, 1, &r), 0);
	cr_assert_not(r.unchanged);
	cr_assert_eq(r.ndel, 2, "%zu lines to delete", r.ndel);
	cr_assert(has(&r, "net 203.0.113.0/24"));
	cr_assert(has(&r, "exe /bin/false"));
	cr_assert_not(has(&r, "net 192.0.2.0/24"), "a line still wanted was removed");
	cr_assert_not(has(&r, "net 198.51.100.7/32 proto tcp port 22 dir in"),
		      "a rule of 'allow add' was removed by the config");
	rf_reconcile_free(&r);
}

Test(reconcile, order_change_is_a_change_but_deletes_nothing)
{
	char *want[] = {"b", "a"};
	char *had[] = {"a", "b"};
	struct rf_reconcile r;

	cr_assert_eq(rf_reconcile(want, 2, had, 2, true, NULL, 0, &r), 0);
	cr_assert_not(r.unchanged);
	cr_assert_eq(r.ndel, 0);
	rf_reconcile_free(&r);
}

Test(reconcile, empty_config_removes_everything_applied)
{
	char *had[] = {"a", "b", "c"};
	struct rf_reconcile r;

	cr_assert_eq(rf_reconcile(NULL, 0, had, 3, true, NULL, 0, &r), 0);
	cr_assert_eq(r.ndel, 3);
	rf_reconcile_free(&r);
	cr_assert_eq(rf_reconcile(NULL, 0, NULL, 0, true, NULL, 0, &r), 0);
	cr_assert(r.unchanged, "nothing wanted, nothing had");
	rf_reconcile_free(&r);
}

Test(reconcile, large_lists_stay_linearithmic)
{
	enum { N = 100000 };
	static char buf[N][24];
	static char *want[N], *had[N];
	struct rf_reconcile r;
	size_t i;

	for (i = 0; i < N; i++) {
		snprintf(buf[i], sizeof(buf[i]), "net 10.%zu.%zu.0/24", i / 256, i % 256);
		want[i] = buf[i];
		had[N - 1 - i] = buf[i];
	}
	cr_assert_eq(rf_reconcile(want, N, had, N, true, NULL, 0, &r), 0);
	cr_assert_eq(r.ndel, 0);
	rf_reconcile_free(&r);
}
