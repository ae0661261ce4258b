/* SPDX-License-Identifier: GPL-2.0-only */
/* The sh recipes of docs/ABI.md (embedded when the test binary is built), run verbatim. */
#ifndef RFT_DOC_H
#define RFT_DOC_H

/* The nth (from 0) ```sh block of the section starting with `heading` (e.g.
 * "\n## Per-target toggle"); caller frees. Asserts that it exists. */
char *rft_abi_block(const char *heading, int nth);

/* Run block with sh -e in the device netns, as an operator with CG=cg and the private pin, state
 * and config dirs in the variables the CLI reads (`ringfence` is $RINGFENCE_BIN). Asserts exit 0.
 */
void rft_abi_run(const char *block, const char *cg);

#endif /* RFT_DOC_H */
