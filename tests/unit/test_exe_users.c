// SPDX-License-Identifier: GPL-2.0-only
/*
 * exe rules name the users they allow (issue 21 item 5): "exe PATH [user NAME|UID|any]", the
 * rf_allow_exe_v3 value, and the verdict shared with the BPF programs.
 */
#include <errno.h>
#include <string.h>
#include <criterion/criterion.h>
#include "policy.bpf.h"
#include "rf_policy.h"
#include "rf_rule.h"
#include "helpers.h"

Test(exe_users, rule_grammar_and_canonical_text)
{
	static const struct {
		const char *in, *out; /* out NULL: refused */
	} cases[] = {
	    {"exe /usr/bin/edr", "exe /usr/bin/edr"},
	    {"exe /usr/bin/edr user root", "exe /usr/bin/edr user root"},
	    {"exe /usr/bin/edr user 998", "exe /usr/bin/edr user 998"},
	    {"exe /usr/bin/edr user any", "exe /usr/bin/edr user any"},
	    {"exe \"/opt/my agent\" user root", "exe \"/opt/my agent\" user root"},
	    {"exe /usr/bin/edr user", NULL},
	    {"exe /usr/bin/edr user root extra", NULL},
	    {"exe /usr/bin/edr user ro;ot", NULL},
	    {"exe /usr/bin/edr group root", NULL},
	    {"exe relative user root", NULL},
	    {"cgroup /sys/fs/cgroup/x user root", NULL},
	};
	char err[RF_ERR_MAX], text[RF_RULE_TEXT_MAX];
	struct rf_rule r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret = rf_rule_parse_line(cases[i].in, &r, err, sizeof(err));

		if (!cases[i].out) {
			cr_expect_eq(ret, -EINVAL, "accepted: %s", cases[i].in);
			continue;
		}
		cr_assert_eq(ret, 0, "%s: %s", cases[i].in, err);
		rf_rule_format(&r, text, sizeof(text));
		cr_expect_str_eq(text, cases[i].out);
	}
}

Test(exe_users, verdict_for_a_uid)
{
	struct rf_exe_users v = {.count = 2, .uid = {0, 998}};
	struct rf_exe_users any = {.flags = RF_EXE_ANY_USER};
	struct rf_exe_users garbage = {.count = 1000, .uid = {1, 2, 3, 4, 5, 6}};
	struct rf_exe_users none = {0};

	cr_expect(rf_exe_users_allow(&v, 0));
	cr_expect(rf_exe_users_allow(&v, 998));
	cr_expect_not(rf_exe_users_allow(&v, 1000), "a user the value does not name");
	cr_expect_not(rf_exe_users_allow(&v, 65534));
	cr_expect(rf_exe_users_allow(&any, 65534), "RF_EXE_ANY_USER");
	cr_expect(rf_exe_users_allow(&garbage, 6), "count is clamped, not trusted");
	cr_expect_not(rf_exe_users_allow(&garbage, 7));
	cr_expect_not(rf_exe_users_allow(&none, 0), "an empty value allows nobody");
	/* a socket marked before marks carried the uid: allowed while anyone is allowed */
	cr_expect(rf_exe_users_allow(&v, RF_UID_UNKNOWN));
	cr_expect_not(rf_exe_users_allow(&none, RF_UID_UNKNOWN));
}

Test(exe_users, value_changes)
{
	struct rf_exe_users v = {0};
	__u32 u;

	cr_expect_eq(rf_exe_users_change(&v, 0, false, true), 0);
	cr_expect_eq(rf_exe_users_change(&v, 0, false, true), -EEXIST);
	cr_expect_eq(rf_exe_users_change(&v, 998, false, true), 0);
	cr_expect_eq(v.count, 2);
	cr_expect_eq(rf_exe_users_change(&v, 0, false, false), 0);
	cr_expect_eq(v.count, 1);
	cr_expect_eq(v.uid[0], 998, "the rest moves up");
	cr_expect_eq(rf_exe_users_change(&v, 0, false, false), -ENOENT);
	cr_expect_eq(rf_exe_users_change(&v, 0, true, true), 0);
	cr_expect(v.flags & RF_EXE_ANY_USER);
	cr_expect_eq(rf_exe_users_change(&v, 0, true, true), -EEXIST);
	cr_expect_eq(rf_exe_users_change(&v, 0, true, false), 0);
	cr_expect_not(v.flags & RF_EXE_ANY_USER);
	for (u = 1; u < RF_EXE_MAX_USERS; u++)
		cr_expect_eq(rf_exe_users_change(&v, u, false, true), 0);
	cr_expect_eq(rf_exe_users_change(&v, 4242, false, true), -ENOSPC);
}

Test(exe_users, default_user_is_the_files_owner)
{
	char err[RF_ERR_MAX];
	bool any;
	__u32 uid = 4242;

	cr_assert_eq(rf_exe_user_resolve("/bin/sh", "", &uid, &any, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect_eq(uid, 0, "/bin/sh belongs to root");
	cr_expect_not(any);
	cr_assert_eq(rf_exe_user_resolve("/bin/sh", "root", &uid, &any, err, sizeof(err)), 0);
	cr_expect_eq(uid, 0);
	cr_assert_eq(rf_exe_user_resolve("/bin/sh", "65534", &uid, &any, err, sizeof(err)), 0);
	cr_expect_eq(uid, 65534);
	cr_assert_eq(rf_exe_user_resolve("/bin/sh", "any", &uid, &any, err, sizeof(err)), 0);
	cr_expect(any);
	cr_expect_eq(
	    rf_exe_user_resolve("/bin/sh", "no-such-user-rf", &uid, &any, err, sizeof(err)),
	    -ENOENT);
	cr_expect(strstr(err, "no-such-user-rf") != NULL, "%s", err);
}
