#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: btf.sh CACHE ARCH KERNEL-DIR
# For a kernel built without CONFIG_DEBUG_INFO_BTF (Debian's armmp): makes KERNEL-DIR/vmlinux.btf
# the way the README tells board owners to, 'pahole --btf_encode_detached' from the kernel's
# vmlinux, here taken from Debian's linux-image-RELEASE-dbg package (about 600 MB, deleted once
# the BTF is made). Prints the BTF file.
set -euo pipefail
cache=$1 arch=$2 kdir=$3
here=$(cd "$(dirname "$0")" && pwd)
release=$(basename "$kdir")
btf=$kdir/vmlinux.btf
if [[ -s $btf ]]; then
	echo "$btf"
	exit 0
fi
command -v pahole >/dev/null || { echo "pahole is not installed (apt-get install pahole)" >&2; exit 1; }
work=$cache/dbg-$release
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
(cd "$work" && "$here/apt.sh" "$cache/apt" apt-get -q download "linux-image-$release-dbg:$arch" \
	>download.log 2>&1) || { echo "cannot download linux-image-$release-dbg:$arch: $(grep -m1 '^E:' "$work/download.log")" >&2; exit 1; }
dpkg-deb --fsys-tarfile "$work"/linux-image-"$release"-dbg_*.deb | tar -x -C "$work" --wildcards "*/boot/vmlinux-$release"
pahole --btf_encode_detached "$btf.tmp" "$work/usr/lib/debug/boot/vmlinux-$release" >&2 ||
	{ rm -f "$btf.tmp"; echo "pahole could not encode BTF for $release" >&2; exit 1; }
mv "$btf.tmp" "$btf"
echo "$btf"
