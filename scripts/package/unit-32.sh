#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: unit-32.sh
# The unit tests of what differs on a 32-bit build (numbers, rule grammar, times, the JSON
# writer: tests/unit/test_rule.c and test_util.c with user/rule.c, util.c, target.c, json.c),
# built for i386 with gcc -m32 and run natively. On 32 bits `unsigned long` is 32 bits (armhf
# once parsed `port 4294967318` as port 22) and time_t ends in 2038 unless _TIME_BITS=64 (the
# Makefile sets it for every build). gcc-multilib comes from apt-get; Criterion and jansson for
# i386 are unpacked into .output-i386/sysroot from packages fetched through
# scripts/kernels/apt.sh (a private APT_CONFIG: /etc/apt and dpkg's architectures are untouched).
set -euo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=.output-i386
sysroot=$PWD/$OUT/sysroot
lib=$sysroot/usr/lib/i386-linux-gnu
lib2=$sysroot/lib/i386-linux-gnu
mkdir -p "$OUT/debs/partial" "$sysroot"

if ! echo 'int main(void) { return 0; }' | gcc -m32 -x c - -o "$OUT/probe" 2>/dev/null; then
	echo "== apt-get install gcc-multilib (gcc -m32)"
	apt-get install -y -qq --no-install-recommends gcc-multilib >/dev/null
fi
if [[ ! -e $lib/libcriterion.so || ! -e $lib/libjansson.so ]]; then
	echo "== Criterion and jansson for i386 into $sysroot"
	RF_APT_EXTRA_ARCH=i386 scripts/kernels/apt.sh "$PWD/$OUT/apt" apt-get -q -d -y \
		-o Dir::Cache::archives="$PWD/$OUT/debs" install libcriterion-dev:i386 \
		libjansson-dev:i386 >"$OUT/download.log"
	for d in "$OUT"/debs/*_i386.deb; do
		case ${d##*/} in
		# the C library and compiler runtime are gcc-multilib's (/usr/lib32)
		libc6_* | libc6-dev_* | libgcc* | libcrypt* | linux-libc-dev* | libstdc++*) continue ;;
		esac
		dpkg-deb -x "$d" "$sysroot"
	done
fi

echo "== build $OUT/unit-tests (i386)"
gcc -m32 -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 -O2 -g \
	-Wall -Wextra -Werror -Iinclude -Itests/unit -Itests/lib -idirafter "$sysroot/usr/include" \
	tests/unit/test_rule.c tests/unit/test_util.c tests/unit/helpers.c tests/lib/rft_jansson.c \
	user/rule.c user/util.c user/target.c user/json.c \
	-L"$lib" -Wl,-rpath-link,"$lib" -Wl,-rpath-link,"$lib2" -lcriterion -ljansson \
	-o "$OUT/unit-tests"
file -b "$OUT/unit-tests" | grep -q 'Intel 80386' || { file "$OUT/unit-tests"; exit 1; }
LD_LIBRARY_PATH=$lib:$lib2 "$OUT/unit-tests" "$@"
