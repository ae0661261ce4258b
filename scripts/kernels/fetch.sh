#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: fetch.sh CACHE ARCH SUITE[,SUITE...] METAPACKAGE
# Downloads the kernel image package that METAPACKAGE depends on in SUITE for ARCH (private APT
# config, see apt.sh) and unpacks it into CACHE/ARCH/RELEASE. Prints that directory. With
# several suites, the next is tried when one's package cannot be downloaded (a mirror without
# that pool). Cached: no download unless the suite has a newer kernel.
set -euo pipefail
cache=$1 arch=$2 suites=$3 meta=$4
here=$(cd "$(dirname "$0")" && pwd)
apt() { "$here/apt.sh" "$cache/apt" "$@"; }
fetch() {
	local suite=$1 ver img release dest p d
	# the metapackage's version in that suite, then the versioned image package it pulls in
	ver=$(apt apt-cache madison "$meta:$arch" | awk -F' [|] ' -v s=" $suite/" 'index($3, s) { gsub(/ /, "", $2); print $2; exit }')
	[[ -n $ver ]] || { echo "no $meta:$arch in $suite" >&2; return 1; }
	img=$(apt apt-cache show "$meta:$arch=$ver" | sed -n 's/^Depends: //p' | tr ',' '\n' |
		sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -1)
	[[ -n $img ]] || { echo "$meta:$arch=$ver depends on no linux-image-VERSION package" >&2; return 1; }
	img=${img%-unsigned}
	release=${img#linux-image-}
	dest=$cache/$arch/$release
	if [[ ! -e $dest/.done ]]; then
		rm -rf "$dest" && mkdir -p "$dest" "$cache/debs"
		# the signed image package, else (not on the mirror, or only a wrapper) the unsigned build
		for p in "$img" "$img-unsigned"; do
			(cd "$cache/debs" && apt apt-get -q download "$p:$arch" >"$cache/debs/download.log" 2>&1) ||
				{ echo "  apt-get download $p:$arch: $(grep -m1 '^E:' "$cache/debs/download.log")" >&2; continue; }
			for d in "$cache"/debs/"$p"_*_"$arch".deb; do dpkg-deb -x "$d" "$dest"; done
			ls "$dest"/boot/vmlinuz-* >/dev/null 2>&1 && break
		done
		ls "$dest"/boot/vmlinuz-* >/dev/null 2>&1 || { echo "no kernel image for $img in $suite" >&2; rm -rf "$dest"; return 1; }
		echo "$meta $suite $ver" >"$dest/.done"
	fi
	echo "$dest"
}
IFS=, read -ra list <<<"$suites"
for s in "${list[@]}"; do
	fetch "$s" && exit 0
done
exit 1
