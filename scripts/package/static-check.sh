#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: static-check.sh BINARY. The STATIC=1 binary is not dynamic and runs in an empty root
# (no libc, libbpf, libelf, zlib, zstd): --version, --help, a usage error (exit 2) and, with no
# cgroup2 there, the operational error naming it (exit 1: every command resolves its target first).
set -euo pipefail
bin=$1
lddout=$(ldd "$bin" 2>&1 || true)
if grep -q 'not a dynamic executable\|statically linked' <<<"$lddout"; then
	echo "ldd: not a dynamic executable"
else
	echo "FAIL: $bin is dynamic:"; echo "$lddout"; exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -m 0755 "$bin" "$root/ringfence"
strip -o "$root/ringfence.stripped" "$bin" 2>/dev/null || cp "$bin" "$root/ringfence.stripped"
chroot "$root" /ringfence --version
chroot "$root" /ringfence --help | grep -q '^Usage: ringfence' || { echo "FAIL: --help in chroot"; exit 1; }
rc=0
chroot "$root" /ringfence isolate --for 2>/dev/null || rc=$?
[[ $rc -eq 2 ]] || { echo "FAIL: a usage error exited $rc in chroot, want 2"; exit 1; }
rc=0
err=$(chroot "$root" /ringfence status 2>&1 >/dev/null) || rc=$?
[[ $rc -eq 1 && $err == *"no cgroup2 filesystem is mounted"* ]] ||
	{ echo "FAIL: status without cgroup2 exited $rc in chroot ($err), want 1 naming it"; exit 1; }
echo "runs in an empty chroot (no shared libraries): --version, --help, usage error -> 2, no cgroup2 -> 1"
printf 'static binary size: %s bytes (%s KiB); stripped: %s bytes (%s KiB)\n' \
	"$(stat -c %s "$bin")" "$(($(stat -c %s "$bin") / 1024))" \
	"$(stat -c %s "$root/ringfence.stripped")" "$(($(stat -c %s "$root/ringfence.stripped") / 1024))"
echo "static: 1 passed, 0 failed"
