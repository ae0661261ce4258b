/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libFuzzer harnesses (make fuzz): each fuzz_X.c feeds bytes to one parser and checks what must
 * hold for any input. FUZZ_CHECK aborts, so libFuzzer keeps the input as a crash artifact.
 */
#ifndef RF_FUZZ_H
#define RF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz check failed: %s: ", #cond);                         \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The input as a NUL-terminated string in a malloc'd buffer of its own (no slack, so ASan sees
 * any read past it); NUL bytes inside stay, so C-string parsers see a prefix. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* RF_FUZZ_H */
