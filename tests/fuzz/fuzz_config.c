// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config file (user/config.c), raw bytes (NUL included): either it parses and every rule it
 * stands for is a valid rule, or it is refused with "NAME:LINE: ..." and nothing is kept.
 */
#include <errno.h>
#include "fuzz.h"
#include "rf_config.h"
#include "rf_rule.h"
#include "rf_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rf_rule r;
	char err[RF_ERR_MAX];
	struct rf_conf c;
	char **lines;
	size_t n, i;
	int ret;

	if (size > 65536)
		return 0;
	err[0] = '\0';
	ret = rf_conf_parse_buf((const char *)data, size, "f.conf", &c, err, sizeof(err));
	if (ret) {
		FUZZ_CHECK(ret == -EINVAL || ret == -ENOMEM, "%d", ret);
		FUZZ_CHECK(ret != -EINVAL || !strncmp(err, "f.conf:", 7), "message '%s'", err);
		FUZZ_CHECK(c.nrules == 0 && !c.rules, "a refused config kept %zu rules", c.nrules);
		return 0;
	}
	if (!rf_conf_rule_lines(&c, "/nonexistent", &lines, &n)) {
		for (i = 0; i < n; i++)
			FUZZ_CHECK(!rf_rule_parse_line(lines[i], &r, err, sizeof(err)),
				   "config rule '%s' does not parse: %s", lines[i], err);
		rf_lines_free(lines, n);
	}
	rf_conf_free(&c);
	return 0;
}
