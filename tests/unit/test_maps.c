// SPDX-License-Identifier: GPL-2.0-only
/* rf_config_apply_change: a writer changes only the fields it names. */
#include <string.h>
#include <criterion/criterion.h>
#include "rf_maps.h"

static const struct rf_config other_agent = {
    .abi_version = 1,
    .isolated = 7, /* set by another agent a moment ago */
    .deadline_ns = 123,
    .builtins = RF_BUILTIN_DHCP,
    .flags = 0x80000000u | RF_CFG_EXE_RULES,
    .since_unix_ns = 456,
};

Test(config_change, only_named_fields_change)
{
	struct rf_config cfg = other_agent;
	struct rf_config_change c = {.fields = RF_CFG_F_BUILTINS};

	c.val.builtins = RF_BUILTIN_ALL;
	c.val.isolated = 0; /* not named: must not be written */
	rf_config_apply_change(&cfg, &c);
	cr_assert_eq(cfg.builtins, RF_BUILTIN_ALL);
	cr_assert_eq(cfg.isolated, 7, "a field the writer did not name was lost");
	cr_assert_eq(cfg.deadline_ns, 123);
	cr_assert_eq(cfg.flags, other_agent.flags);
	cr_assert_eq(cfg.since_unix_ns, 456);
}

Test(config_change, flags_by_mask)
{
	struct rf_config cfg = other_agent;
	struct rf_config_change c = {.fields = RF_CFG_F_FLAGS, .flags_mask = RF_CFG_EXE_RULES};

	rf_config_apply_change(&cfg, &c);
	cr_assert_eq(cfg.flags, 0x80000000u, "bits outside the mask must stay: %#x", cfg.flags);
	c.val.flags = 0xffffffffu;
	rf_config_apply_change(&cfg, &c);
	cr_assert_eq(cfg.flags, 0x80000000u | RF_CFG_EXE_RULES);
}

Test(config_change, isolate_and_release_fields)
{
	struct rf_config cfg = other_agent;
	struct rf_config_change rel = {.fields = RF_CFG_F_ISOLATED | RF_CFG_F_DEADLINE};

	rf_config_apply_change(&cfg, &rel);
	cr_assert_eq(cfg.isolated, 0);
	cr_assert_eq(cfg.deadline_ns, 0);
	cr_assert_eq(cfg.builtins, RF_BUILTIN_DHCP);
	cr_assert_eq(cfg.since_unix_ns, 456, "release keeps 'since' for status");
}
