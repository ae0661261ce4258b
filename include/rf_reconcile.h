/* SPDX-License-Identifier: GPL-2.0-only */
/* What applying the config file must change in the maps: a pure function, unit-tested. */
#ifndef RF_RECONCILE_H
#define RF_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>

struct rf_reconcile {
	bool unchanged;	  /* the maps hold exactly what the config wants: touch nothing */
	const char **del; /* lines to remove (pointers into had), malloc'd array */
	size_t ndel;
};

/*
 * want: the rule lines the config stands for now; had: what the previous apply put into the maps
 * (same_map: into the map that is there now, so it still holds them); user: rules persisted by
 * 'allow add', which the config must never remove. Every line of want is to be added (adding a
 * present rule is a no-op) unless the result is unchanged; del is had minus want minus user.
 * Adds go first, then deletes, so nothing both allow is ever missing. Lines are compared as
 * canonical rule text. Returns 0 or -ENOMEM; free with rf_reconcile_free().
 */
int rf_reconcile(char *const *want, size_t nwant, char *const *had, size_t nhad, bool same_map,
		 char *const *user, size_t nuser, struct rf_reconcile *out);
void rf_reconcile_free(struct rf_reconcile *r);

#endif /* RF_RECONCILE_H */
