# SPDX-License-Identifier: GPL-2.0-only
# Kernel compatibility matrix under qemu (scripts/kernels/). Included by the Makefile.
#
#   make test-kernels            boot every kernel of scripts/kernels/matrix under qemu (TCG) and
#                                run the whole kernel test suite in each; kernels, guest userland
#                                and results are cached in $(OUTPUT)/kernels
#   make test-kernels KERNELS="5.10-amd64 6.1-arm64"   a subset
#   make kernels-readme          write the last results into README.md's compatibility table
.PHONY: test-kernels kernels-readme

test-kernels:
	$(Q)OUTPUT=$(OUTPUT) scripts/kernels/run.sh $(KERNELS)

kernels-readme:
	$(Q)OUTPUT=$(OUTPUT) scripts/kernels/readme.sh
