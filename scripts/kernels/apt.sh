#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: apt.sh DIR apt-get|apt-cache ARGS...
# Runs apt-get/apt-cache with a private APT_CONFIG under DIR (its own sources list, state and
# cache; amd64, arm64 and armhf indexes: armhf only from the main suites, the mirror has no
# armhf security indexes), so kernels and libraries of other suites and
# architectures can be looked up and downloaded without changing /etc/apt. The first call (or
# one after RF_APT_REFRESH=1, or a day) runs 'apt-get update' in DIR.
set -euo pipefail
dir=$1
shift
mkdir -p "$dir/state/lists/partial" "$dir/cache/archives/partial" "$dir/parts" "$dir/prefs"
: >>"$dir/state/status"
mirror=${RF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${RF_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
key=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$dir/sources.list.new" <<LIST
deb [arch=amd64,arm64,armhf signed-by=$key] $mirror bullseye main
deb [arch=amd64,arm64 signed-by=$key] $security bullseye-security main
deb [arch=amd64,arm64,armhf signed-by=$key] $mirror bookworm main
deb [arch=amd64,arm64 signed-by=$key] $security bookworm-security main
deb [arch=amd64,arm64,armhf signed-by=$key] $mirror bookworm-backports main
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
APT::Architectures { "amd64"; "arm64"; "armhf"; };
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
