// SPDX-License-Identifier: GPL-2.0-only
/*
 * conf-check FILE...: parse each ringfence.conf with the agent's own parser and print the rules
 * it stands for. Exit 1 on the first file with an error. Used by 'make conf-check' to prove the
 * shipped default config (and every example in it, uncommented) is valid.
 */
#include <stdio.h>
#include "rf_config.h"
#include "rf_state.h"

int main(int argc, char **argv)
{
	char err[RF_ERR_MAX], **lines;
	struct rf_conf c;
	size_t n, i;
	int f;

	for (f = 1; f < argc; f++) {
		if (rf_conf_load(argv[f], &c, err, sizeof(err))) {
			fprintf(stderr, "conf-check: %s\n", err);
			return 1;
		}
		/* an empty resolv.conf path: show only what the file itself says */
		if (rf_conf_rule_lines(&c, "/nonexistent", &lines, &n)) {
			fprintf(stderr, "conf-check: %s: out of memory\n", argv[f]);
			return 1;
		}
		printf("%s: ok: %zu rule(s), dhcp %s, nd %s, dns %s, packet-guard %s\n", argv[f], n,
		       c.dhcp ? "on" : "off", c.nd ? "on" : "off",
		       c.dns_auto ? "auto" : c.nresolvers ? "explicit" : "off",
		       c.packet_guard == RF_GUARD_AUTO ? "auto" : c.packet_guard ? "on" : "off");
		for (i = 0; i < n; i++)
			printf("  allow %s\n", lines[i]);
		rf_lines_free(lines, n);
		rf_conf_free(&c);
	}
	return 0;
}
