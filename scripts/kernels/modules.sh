#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: modules.sh KERNEL-DIR DEST MODULE...
# Copies MODULEs of the unpacked kernel package KERNEL-DIR and the modules they depend on
# (modinfo 'depends=', read from the .ko itself: no depmod needed, any architecture) into
# DEST/lib/modules/RELEASE, uncompressed (busybox insmod reads plain .ko), and writes the load
# order to DEST/etc/rf-modules. A module that is built in, or that the kernel does not have, is
# left out: the guest reports what is missing (e.g. no SCTP) and the tests skip.
set -euo pipefail
kdir=$1 dest=$2
shift 2
mdir=
for d in "$kdir"/lib/modules/* "$kdir"/usr/lib/modules/*; do [[ -d $d ]] && mdir=$d && break; done
[[ -n $mdir ]] || { echo "no modules in $kdir" >&2; exit 1; }
rel=$(basename "$mdir")
out=$dest/lib/modules/$rel
mkdir -p "$out" "$dest/etc"
declare -A path done
while read -r f; do
	n=$(basename "$f")
	n=${n%%.ko*}
	path[${n//-/_}]=$f
done < <(find "$mdir/kernel" -name '*.ko*')
plain() { # the module's bytes, uncompressed
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -qdc "$1" ;;
	*.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac
}
order=()
add() {
	local n=${1//-/_} f d
	[[ -n ${done[$n]:-} ]] && return 0
	done[$n]=1
	f=${path[$n]:-}
	[[ -n $f ]] || return 0 # built in, or absent
	plain "$f" >"$out/$n.ko"
	for d in $(tr '\0' '\n' <"$out/$n.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do add "$d"; done
	order+=("$n")
}
for m in "$@"; do add "$m"; done
printf '%s\n' "${order[@]}" >"$dest/etc/rf-modules"
