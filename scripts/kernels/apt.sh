#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: apt.sh DIR apt-get|apt-cache ARGS...    (apt.sh DIR --print-mirrors: the mirrors it uses)
# Runs apt-get/apt-cache with a private APT_CONFIG under DIR (its own sources list, state and
# cache; amd64, arm64 and armhf indexes: armhf only from the main suites, the mirror has no
# armhf security indexes; RF_APT_EXTRA_ARCH=i386 adds that one to the main suites, for a DIR of
# its own), so kernels and libraries of other suites and
# architectures can be looked up and downloaded without changing /etc/apt. The first call (or
# one after RF_APT_REFRESH=1, or a day) runs 'apt-get update' in DIR.
set -euo pipefail
dir=$1
shift
mkdir -p "$dir/state/lists/partial" "$dir/cache/archives/partial" "$dir/parts" "$dir/prefs"
: >>"$dir/state/status"
# The Debian mirrors come from this machine's own apt sources (no host is named here): one
# "main|security URI" line per Debian suite found in /etc/apt/sources.list and
# /etc/apt/sources.list.d/*.list (one-line format) and *.sources (deb822).
debian_suite='^(buster|bullseye|bookworm|trixie|forky|duke|sid|oldoldstable|oldstable|stable|testing|unstable)(-updates|-backports|-proposed-updates|-security)?$'
machine_mirrors() {
	local f lists=() sources=()
	[[ -f ${RF_APT_SOURCES_DIR:-/etc/apt}/sources.list ]] && lists+=("${RF_APT_SOURCES_DIR:-/etc/apt}/sources.list")
	for f in "${RF_APT_SOURCES_DIR:-/etc/apt}"/sources.list.d/*.list; do [[ -f $f ]] && lists+=("$f"); done
	for f in "${RF_APT_SOURCES_DIR:-/etc/apt}"/sources.list.d/*.sources; do [[ -f $f ]] && sources+=("$f"); done
	((${#lists[@]})) && awk -v re="$debian_suite" '
		/^[ \t]*deb[ \t]/ {
			i = 2
			if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			if ($(i + 1) ~ re) print ($(i + 1) ~ /-security$/ ? "security" : "main"), $i
		}' "${lists[@]}"
	((${#sources[@]})) && awk -v re="$debian_suite" '
		function flush(   n, k, s, u) {
			if (uris != "" && types ~ /(^|[ \t])deb([ \t]|$)/ && enabled !~ /^(no|false)$/) {
				n = split(suites, s, /[ \t]+/)
				split(uris, u, /[ \t]+/)
				for (k = 1; k <= n; k++)
					if (s[k] ~ re) print (s[k] ~ /-security$/ ? "security" : "main"), u[1]
			}
			uris = suites = types = enabled = ""
		}
		FNR == 1 { flush() }
		/^[ \t]*$/ { flush(); next }
		/^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
		/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
		/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
		/^Enabled:/ { sub(/^Enabled:[ \t]*/, ""); enabled = tolower($0) }
		END { flush() }' "${sources[@]}"
	return 0
}
found=$(machine_mirrors)
mirror=${RF_DEBIAN_MIRROR:-$(awk '$1 == "main" { print $2; exit }' <<<"$found")}
security=${RF_DEBIAN_SECURITY_MIRROR:-$(awk '$1 == "security" { print $2; exit }' <<<"$found")}
if [[ -z $mirror ]]; then
	echo "apt.sh: no Debian mirror in this machine's apt sources (${RF_APT_SOURCES_DIR:-/etc/apt}/sources.list," \
		"sources.list.d/*.list, *.sources): set RF_DEBIAN_MIRROR=URI (and RF_DEBIAN_SECURITY_MIRROR)" >&2
	exit 1
fi
mirror=${mirror%/}
# no security suite in the sources: a mirror or proxy that serves the -security suites too
security=${security:-$mirror}
security=${security%/}
[[ ${1:-} = --print-mirrors ]] && { echo "$mirror $security"; exit 0; }
key=/usr/share/keyrings/debian-archive-keyring.gpg
main_arch=amd64,arm64,armhf${RF_APT_EXTRA_ARCH:+,$RF_APT_EXTRA_ARCH}
apt_arch='"amd64"; "arm64"; "armhf";'${RF_APT_EXTRA_ARCH:+ \"$RF_APT_EXTRA_ARCH\";}
cat >"$dir/sources.list.new" <<LIST
deb [arch=$main_arch signed-by=$key] $mirror bullseye main
deb [arch=amd64,arm64 signed-by=$key] $security bullseye-security main
deb [arch=$main_arch signed-by=$key] $mirror bookworm main
deb [arch=amd64,arm64 signed-by=$key] $security bookworm-security main
deb [arch=$main_arch signed-by=$key] $mirror bookworm-backports main
LIST
cmp -s "$dir/sources.list.new" "$dir/sources.list" || { mv "$dir/sources.list.new" "$dir/sources.list"; rm -f "$dir/updated"; }
rm -f "$dir/sources.list.new"
cat >"$dir/apt.conf" <<CONF
Dir::Etc::SourceList "$dir/sources.list";
Dir::Etc::SourceParts "$dir/parts";
Dir::Etc::Preferences "$dir/prefs/none";
Dir::Etc::PreferencesParts "$dir/prefs";
Dir::State "$dir/state";
Dir::State::status "$dir/state/status";
Dir::Cache "$dir/cache";
APT::Architecture "amd64";
APT::Architectures { $apt_arch };
APT::Get::List-Cleanup "false";
Acquire::Languages "none";
APT::Sandbox::User "root";
CONF
export APT_CONFIG=$dir/apt.conf
if [[ ! -e $dir/updated || ${RF_APT_REFRESH:-0} = 1 || -n $(find "$dir/updated" -mmin +1440) ]]; then
	apt-get -q -o APT::Get::Show-Versions=false update >"$dir/update.log" 2>&1 ||
		{ echo "apt-get update with $dir/apt.conf failed:" >&2; tail -5 "$dir/update.log" >&2; exit 1; }
	touch "$dir/updated"
fi
exec "$@"
