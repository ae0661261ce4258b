/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel-test helpers, the one header a kernel test includes. One file per job, each header with
 * the one-line contract of each function:
 *   rft_env.h     environment check and skip reasons, cgroup, netns + veth, setup/teardown, sweep
 *   rft_child.h   tracked child processes, commands with captured output, time
 *   rft_cli.h     the CLI with the test's private paths
 *   rft_net.h     addresses, listeners, clients and long-lived connections
 *   rft_server.h  counting echo servers
 *   rft_dns.h     a DNS responder with a table the test changes
 *   rft_json.h    lookups in JSON and text output
 *   rft_resolver.h DNS responder that forges, lookups, stub resolver, host-rule maps
 * Everything is named after the owning test process's pid (rf-test-<pid>...) and removed by
 * rft_teardown(), even after a failed assertion.
 */
#ifndef RF_TEST_H
#define RF_TEST_H

#include <stddef.h>
#include <criterion/parameterized.h>
#include "rft_env.h"
#include "rft_child.h"
#include "rft_cli.h"
#include "rft_net.h"
#include "rft_server.h"
#include "rft_dns.h"
#include "rft_json.h"
#include "rft_resolver.h"

/*
 * Criterion parameters for the rows of the static table `table`: every row runs as a test of its
 * own (ParameterizedTest(const size_t *row, suite, name)), with its own setup, so a failure names
 * its row. The parameter is the row's index, not the row: Criterion runs each test in a new
 * process image of a PIE binary, where a pointer in a copied row (a string) would be stale.
 */
#define RFT_TABLE_PARAMS(suite, name, table)                                                       \
	ParameterizedTestParameters(suite, name)                                                   \
	{                                                                                          \
		static size_t rows[sizeof(table) / sizeof((table)[0])];                            \
		size_t i;                                                                          \
                                                                                                   \
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)                               \
			rows[i] = i;                                                               \
		return cr_make_param_array(size_t, rows, sizeof(rows) / sizeof(rows[0]));          \
	}

#endif /* RF_TEST_H */
