#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: rootfs.sh CACHE ARCH
# Unpacks a minimal Debian 12 userland for ARCH into CACHE/rootfs-ARCH (prints that path): what
# the kernel tests run in a qemu guest (busybox-static, coreutils, iproute2, bpftool, setpriv,
# mosquitto and its clients and openssl for the remote-control suite) and
# the runtime libraries of ringfence and the Criterion test binary, plus the -dev packages that
# the cross build links against (the directory is also its sysroot). The package list is derived
# from this (Debian 12) host: the packages owning the tools and every library they and the host
# build of the tests load, fetched for ARCH with 'apt-get download' (private APT config, see
# apt.sh), so nothing is installed on the host. Where Debian has no Criterion (armhf) the
# userland is made without it, and CACHE/rootfs-ARCH/.no-criterion says so.
set -euo pipefail
cache=$1 arch=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$cache/rootfs-$arch
debs=$cache/debs-$arch
tools=(/usr/bin/busybox /usr/sbin/ip /usr/sbin/bpftool /usr/bin/setpriv /usr/bin/sleep /usr/bin/true
	/usr/sbin/mosquitto /usr/bin/mosquitto_pub /usr/bin/mosquitto_sub /usr/bin/openssl)
# what the test binary and ringfence link (the host build has the same -l flags; a build with
# MQTT also libmosquitto, jansson and libcrypto)
libs=(libbpf.so.1 libelf.so.1 libz.so.1 libcriterion.so.3 libc.so.6 libmosquitto.so.1
	libjansson.so.4 libcrypto.so.3)
dev=(libbpf-dev libelf-dev zlib1g-dev libzstd-dev libjansson-dev libcriterion-dev)

owner() { # the package that owns a host path (usrmerge: try the /lib and /usr/lib spellings)
	local p=$1
	dpkg -S "$p" 2>/dev/null || dpkg -S "${p#/usr}" 2>/dev/null || dpkg -S "$(readlink -f "$p")" 2>/dev/null ||
		{ echo "no package owns $p" >&2; return 1; }
}
paths=("${tools[@]}")
for l in "${libs[@]}"; do paths+=("$(ldconfig -p | awk -v l="$l" '$1 == l && /x86-64/ && !n++ { print $NF }')"); done
# every library those load, transitively (ldd of the host's copies; same distribution)
for p in "${tools[@]}" "${paths[@]:${#tools[@]}}"; do
	[[ -n $p ]] || { echo "a library of ${libs[*]} is not installed on the host" >&2; exit 1; }
	while read -r lib; do paths+=("$lib"); done < <(ldd "$p" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }')
done
pkgs=$(for p in "${paths[@]}"; do owner "$p"; done | cut -d: -f1 | sort -u | tr '\n' ' ')
pkgs="$pkgs ${dev[*]}"
stamp="$arch $pkgs"
if [[ -e $root/.done ]] && [[ $(cat "$root/.done") == "$stamp" ]]; then
	echo "$root"
	exit 0
fi
rm -rf "$root" "$debs"
mkdir -p "$root" "$debs"
list=()
for p in $pkgs; do list+=("$p:$arch"); done
if ! (cd "$debs" && "$here/apt.sh" "$cache/apt" apt-get -q download "${list[@]}" >download.log 2>&1); then
	# Criterion is not built for every architecture (not for armhf): go on without it, the
	# guest then runs a smoke test instead of the suite; anything else missing is an error
	missing=$(sed -n 's/^E: Unable to locate package \([^ ]*\)$/\1/p' "$debs/download.log")
	if [[ -z $missing ]] || grep -qv '^libcriterion' <<<"$missing"; then
		echo "apt-get download for the $arch rootfs failed:" >&2
		grep '^E:' "$debs/download.log" >&2
		exit 1
	fi
	list=()
	for p in $pkgs; do grep -qx "$p:$arch" <<<"$missing" || list+=("$p:$arch"); done
	(cd "$debs" && "$here/apt.sh" "$cache/apt" apt-get -q download "${list[@]}" >download.log 2>&1) ||
		{ echo "apt-get download for the $arch rootfs failed:" >&2; grep '^E:' "$debs/download.log" >&2; exit 1; }
	echo "no Criterion for $arch in Debian: $(echo $missing)" >"$root/.no-criterion"
fi
for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$root"; done
echo "$stamp" >"$root/.done"
echo "$root"
