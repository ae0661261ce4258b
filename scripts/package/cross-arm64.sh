#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: cross-arm64.sh [--install-deps] [--unit-tests]
# Cross-builds ringfence for arm64 into .output-arm64 with Debian's cross toolchain and arm64
# libraries, then proves the binary starts under qemu-user: --version, --help, every command's
# --help, rule parsing (invalid rules exit 2; valid ones get past the parser), and the config and
# rule parser (conf-check) on the shipped config. bpftool and clang run on the build host; the
# BPF object differs only by -D__TARGET_ARCH_arm64 (vmlinux.h from x86 is fine: CO-RE relocates
# the few kernel fields used, none of which is arch-specific).
#   --install-deps  dpkg --add-architecture arm64, apt-get install the toolchain, libs, qemu-user
#   --unit-tests    also cross-build the Criterion unit tests (arm64 Criterion is unpacked into
#                   .output-arm64/sysroot with 'apt-get download': on Debian 12 libcriterion-dev
#                   :arm64 cannot be installed next to the amd64 one) and try them under qemu
set -euo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=.output-arm64
CROSS=aarch64-linux-gnu-
QEMU=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
deps=0 unit=0
for a in "$@"; do
	case $a in
	--install-deps) deps=1 ;;
	--unit-tests) unit=1 ;;
	*) echo "usage: $0 [--install-deps] [--unit-tests]"; exit 2 ;;
	esac
done
t0=$(date +%s)
lap() { echo "  ($(($(date +%s) - t0))s)"; }

if [[ $deps -eq 1 ]]; then
	echo "== install cross toolchain, arm64 libraries, qemu-user"
	dpkg --add-architecture arm64
	apt-get update -qq
	# not libcriterion-dev:arm64: its libnanomsg5 dependency is not Multi-Arch: same, so apt
	# would remove the host's libcriterion-dev (and break 'make test')
	apt-get install -y -qq --no-remove --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
		libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64 libzstd-dev:arm64 libjansson-dev:arm64 qemu-user \
		file >/dev/null
	lap
fi
for t in ${CROSS}gcc qemu-aarch64 clang bpftool file; do
	command -v "$t" >/dev/null || { echo "missing $t: run $0 --install-deps"; exit 1; }
done
for l in libbpf libjansson; do
	[[ -e /usr/lib/aarch64-linux-gnu/$l.so ]] || { echo "missing $l-dev:arm64: run $0 --install-deps"; exit 1; }
done

echo "== build ($OUT, ARCH=arm64 CROSS_COMPILE=$CROSS)"
make --no-print-directory OUTPUT=$OUT ARCH=arm64 CROSS_COMPILE=$CROSS $OUT/ringfence $OUT/conf-check \
	2>&1 | grep -v 'overriding recipe\|ignoring old recipe'
file $OUT/ringfence | grep -q 'ARM aarch64' || { file $OUT/ringfence; echo "not an arm64 binary"; exit 1; }
file -b $OUT/ringfence | cut -d, -f1-2
lap

pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
rf() { "${QEMU[@]}" $OUT/ringfence "$@"; }
# defence in depth: nothing below may reach the host's real instance
tmp=$(mktemp -d)
# a throw-away cgroup as the target: a selector that does not resolve is itself a usage error (2),
# which would hide what the checks below are about; nothing is ever loaded or isolated there
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
cg=
if [[ -n $cg2 && $EUID -eq 0 ]] && mkdir "$cg2/rf-cross-$$" 2>/dev/null; then
	cg=$cg2/rf-cross-$$
fi
trap 'rm -rf "$tmp"; [[ -z $cg ]] || rmdir "$cg"' EXIT
export RINGFENCE_CGROUP=${cg:-$tmp/no-such-cgroup} RINGFENCE_PIN_DIR=$tmp/pins \
	RINGFENCE_STATE_DIR=$tmp/state RINGFENCE_CONFIG=$tmp/none.conf

echo "== run under qemu-aarch64"
v=$(rf --version) && ok || bad "--version"
echo "  $v"
grep -Eq '^ringfence .*libbpf [0-9.]*, ABI [0-9]*, mqtt (yes|no)$' <<<"$v" && ok || bad "--version output"
rf --help | grep -q '^Usage: ringfence' && ok || bad "--help"
for c in isolate release unisolate status allow events history metrics load unload agent; do
	rf "$c" --help >/dev/null && ok || bad "$c --help"
done
# invalid rules and options: usage error (2), decided before any privilege check
while read -r args; do
	rc=0
	# shellcheck disable=SC2086
	rf $args >/dev/null 2>&1 || rc=$?
	[[ $rc -eq 2 ]] && ok || bad "'$args' exited $rc, want 2"
done <<'LIST'
allow add net 300.1.1.1/8
allow add net 192.0.2.0/33
allow add net 2001:db8::/129
allow add net 192.0.2.1 proto sctp
allow add net 192.0.2.1 port 70000
allow add net 192.0.2.1 port 90-80
allow add net 192.0.2.1 dir sideways
allow add net 192.0.2.1 proto tcp proto udp
allow add exe
allow add colour blue
isolate --for 5x
frobnicate
LIST
# valid rules get past the parser: as an unprivileged user they stop at the root check (1)
if command -v setpriv >/dev/null && [[ $EUID -eq 0 ]]; then
	while read -r args; do
		rc=0
		# shellcheck disable=SC2086
		setpriv --reuid=65534 --regid=65534 --clear-groups "${QEMU[@]}" $OUT/ringfence $args \
			>/dev/null 2>&1 || rc=$?
		[[ $rc -eq 1 ]] && ok || bad "'$args' (valid) exited $rc, want 1 (needs root)"
	done <<'LIST'
allow add net 192.0.2.0/24
allow add net 2001:db8::/32 proto udp port 53 dir out
allow add net 192.0.2.7 proto tcp port 8000-8080 dir in
allow add exe /bin/sh
LIST
fi
RUNNER="${QEMU[*]}" scripts/package/conf-check.sh $OUT/conf-check | tail -1 && ok || bad "conf-check under qemu"
lap

if [[ $unit -eq 1 ]]; then
	echo "== unit tests (Criterion) for arm64"
	sysroot=$PWD/$OUT/sysroot
	if [[ ! -e $sysroot/usr/lib/aarch64-linux-gnu/libcriterion.so ]]; then
		mkdir -p "$OUT/debs" "$sysroot"
		(cd "$OUT/debs" && apt-get download libcriterion3:arm64 libcriterion-dev:arm64 \
			libnanomsg5:arm64 >/dev/null 2>&1)
		for d in "$OUT"/debs/*.deb; do dpkg-deb -x "$d" "$sysroot"; done
	fi
	# the rest of Criterion's runtime (libgit2, libffi ...) is Multi-Arch: same
	apt-get install -y -qq --no-remove --no-install-recommends libgit2-1.5:arm64 libffi8:arm64 >/dev/null 2>&1 || true
	lib=$sysroot/usr/lib/aarch64-linux-gnu
	make --no-print-directory OUTPUT=$OUT ARCH=arm64 CROSS_COMPILE=$CROSS \
		LDFLAGS="-L$lib -Wl,-rpath-link,$lib" $OUT/tests/unit-tests 2>&1 | grep -v 'overriding recipe\|ignoring old recipe'
	file $OUT/tests/unit-tests | grep -q 'ARM aarch64' && ok || bad "unit tests not built for arm64"
	"${QEMU[@]}" -E LD_LIBRARY_PATH="$lib" $OUT/tests/unit-tests --list >/dev/null && ok || bad "unit-tests --list"
	rc=0
	timeout -s KILL 60 "${QEMU[@]}" -E LD_LIBRARY_PATH="$lib" $OUT/tests/unit-tests 2>&1 | tail -1 || rc=$?
	if [[ $rc -ne 0 ]]; then
		echo "  note: the Criterion runner did not finish under qemu-user (exit $rc; its forked"
		echo "  sandbox spins under qemu 7.2): the arm64 unit tests build and list, run them on a board"
	fi
	lap
fi
echo "cross-arm64: $pass passed, $fail failed (total $(($(date +%s) - t0))s)"
[[ $fail -eq 0 ]]
