// SPDX-License-Identifier: GPL-2.0-only
/*
 * The DHCP lease parser (user/dhcp.c): any text yields at most max servers, no duplicates, and
 * never writes past the array.
 */
#include "fuzz.h"
#include "rf_dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rf_addr_key *out;
	size_t max = size % 9, n = 0, added, i, j;
	char *s;

	if (size > 65536)
		return 0;
	s = fuzz_str(data, size);
	out = malloc((max ? max : 1) * sizeof(*out)); /* exactly max: ASan sees an overrun */
	if (!s || !out) {
		free(s);
		free(out);
		return 0;
	}
	added = rf_dhcp_lease_servers(s, out, &n, max);
	FUZZ_CHECK(n == added && n <= max, "n %zu added %zu max %zu", n, added, max);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			FUZZ_CHECK(memcmp(&out[i], &out[j], sizeof(out[i])), "duplicate server");
	free(out);
	free(s);
	return 0;
}
