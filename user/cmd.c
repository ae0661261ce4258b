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
