// SPDX-License-Identifier: GPL-2.0-only
/* Helpers of the command layer shared by the command families. */
#include <stdarg.h>
#include <stdio.h>
#include "rf_cmd.h"

int rf_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ringfence: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ringfence --help'.\n");
	return EXIT_USAGE;
}

int rf_cmd_locked(struct rf_ctx *ctx, int (*fn)(struct rf_ctx *ctx, const void *arg),
		  const void *arg)
{
	int lock, ret;

	if (rf_svc_need_root())
		return EXIT_OPFAIL;
	lock = rf_svc_lock(ctx);
	if (lock < 0)
		return EXIT_OPFAIL;
	rf_svc_recover(ctx); /* what a killed command left half-done comes first */
	ret = fn(ctx, arg);
	rf_state_unlock(lock);
	if (!ret && ctx->degraded)
		return EXIT_OPFAIL; /* done, but with a fault worked around (said on stderr) */
	return rf_exit_code(ret);
}
