// SPDX-License-Identifier: GPL-2.0-only
/* The config reconcile: which rules to remove after adding what the config wants. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "rf_reconcile.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A sorted copy of lines (the strings are shared); NULL on allocation failure. */
static char **sorted_copy(char *const *lines, size_t n)
{
	char **s = malloc((n ? n : 1) * sizeof(*s));

	if (!s)
		return NULL;
	if (n) {
		memcpy(s, lines, n * sizeof(*s));
		qsort(s, n, sizeof(*s), cmp_str);
	}
	return s;
}

static bool in_sorted(char *const *sorted, size_t n, const char *s)
{
	return n && bsearch(&s, sorted, n, sizeof(*sorted), cmp_str) != NULL;
}

static bool same_lines(char *const *a, char *const *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

int rf_reconcile(char *const *want, size_t nwant, char *const *had, size_t nhad, bool same_map,
		 char *const *user, size_t nuser, struct rf_reconcile *out)
{
	char **swant = NULL, **suser = NULL;
	size_t i;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->unchanged = same_map && nwant == nhad && same_lines(want, had, nwant);
	if (out->unchanged || !same_map)
		return 0; /* a new map holds none of the old lines: nothing to remove */
	swant = sorted_copy(want, nwant);
	suser = sorted_copy(user, nuser);
	out->del = malloc((nhad ? nhad : 1) * sizeof(*out->del));
	if (!swant || !suser || !out->del) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nhad; i++)
		if (!in_sorted(swant, nwant, had[i]) && !in_sorted(suser, nuser, had[i]))
			out->del[out->ndel++] = had[i];
out:
	free(swant);
	free(suser);
	if (ret)
		rf_reconcile_free(out);
	return ret;
}

void rf_reconcile_free(struct rf_reconcile *r)
{
	free(r->del);
	r->del = NULL;
	r->ndel = 0;
}
