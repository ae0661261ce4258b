#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: build-deb.sh STAGE_DIR OUT.deb VERSION DEB_ARCH [STATIC]
# Turns a 'make install-files DESTDIR=STAGE_DIR PREFIX=/usr' tree into a .deb with dpkg-deb
# (no debian/ directory in the tree): control, conffiles, md5sums, maintainer scripts from
# scripts/package/deb/, compressed man page, copyright.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
stage=$1 out=$2 version=$3 arch=$4 static=${5:-}
bin=$(realpath "$stage/usr/sbin/ringfence")
console=$(realpath "$stage/usr/sbin/ringfence-console")

# Debian policy: stripped binaries (debug info stays in the build dir), compressed man pages, a copyright file, state dir owned by the package
"${STRIP:-strip}" --strip-unneeded --remove-section=.comment "$bin" "$console"
gzip -9n "$stage/usr/share/man/man8/ringfence.8"
install -d -m 0755 "$stage/usr/share/doc/ringfence"
cat >"$stage/usr/share/doc/ringfence/copyright" <<'COPY'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ringfence

Files: *
License: GPL-2.0-only
 On Debian systems the full text is in /usr/share/common-licenses/GPL-2.
COPY
install -d -m 0700 "$stage/var/lib/ringfence"

# Depends: from the binary's shared libraries (dpkg-shlibdeps wants a debian/control, so give
# it one in a scratch dir); a static binary needs nothing.
depends=
if [[ $static != 1 ]] && file -L "$bin" | grep -q 'dynamically linked'; then
	scratch=$(mktemp -d)
	trap 'rm -rf "$scratch"' EXIT
	mkdir -p "$scratch/debian"
	printf 'Source: ringfence\n\nPackage: ringfence\nArchitecture: any\n' >"$scratch/debian/control"
	if depends=$(cd "$scratch" && dpkg-shlibdeps -O --ignore-missing-info -e"$bin" -e"$console" \
		2>/dev/null | sed -n 's/^shlibs:Depends=//p') && [[ -n $depends ]]; then
		:
	else
		# cross builds: dpkg-shlibdeps may not see the foreign libraries; same sonames as amd64
		depends='libbpf1 (>= 1:1.1), libc6 (>= 2.34), libelf1 (>= 0.144), libjansson4 (>= 2.14), zlib1g (>= 1:1.1.4), libmicrohttpd12 (>= 0.9.75), libmosquitto1 (>= 1.6)'
	fi
fi

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
install -d -m 0755 "$stage/DEBIAN"
{
	echo "Package: ringfence"
	echo "Version: $version"
	echo "Architecture: $arch"
	echo "Maintainer: ringfence developers <ringfence@localhost>"
	echo "Installed-Size: $size"
	[[ -n $depends ]] && echo "Depends: $depends"
	echo "Recommends: bash-completion"
	echo "Section: admin"
	echo "Priority: optional"
	echo "Description: isolate a Linux host from the network with eBPF"
	echo " ringfence cuts a compromised host off the network (EDR-style network"
	echo " containment) while its management channel, allowed processes and the"
	echo " DHCP/ND/DNS minimum keep working. Enforcement is done by CO-RE eBPF programs"
	echo " on the cgroup v2 root and survives the CLI, the agent and reboots."
	echo " ."
	echo " Removing the package releases an isolated host (and says so) and unloads"
	echo " the programs."
	echo " ."
	echo " ringfence-console (unit ringfence-console.service, off by default) is the"
	echo " responders' HTTP API and web page for a fleet of agents on an MQTT broker."
} >"$stage/DEBIAN/control"
printf '%s\n' /etc/ringfence/ringfence.conf /etc/ringfence/console.conf >"$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do
	install -m 0755 "$here/deb/$s" "$stage/DEBIAN/$s"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
	xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "  built $out ($(stat -c %s "$out") bytes; Depends: ${depends:-none})"
