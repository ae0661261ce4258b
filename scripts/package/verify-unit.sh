#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: verify-unit.sh BINARY. Installs the unit and the man page into a scratch root, points
# ExecStart at BINARY and runs 'systemd-analyze verify' (unit syntax, dependencies, that
# ExecStart is executable and that Documentation=man:ringfence(8) resolves). Needs the systemd
# package, not a running systemd.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "$1")
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing: apt-get install systemd"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/unit" "$tmp/man/man8"
sed "s|@SBINDIR@/ringfence|$bin|" scripts/ringfence.service >"$tmp/unit/ringfence.service"
cp docs/ringfence.8 "$tmp/man/man8/"
out=$(cd "$tmp/unit" && MANPATH="$tmp/man" SYSTEMD_LOG_LEVEL=notice \
	systemd-analyze verify ./ringfence.service 2>&1) || { echo "$out"; echo "unit: 0 passed, 1 failed"; exit 1; }
# verify exits 0 on some warnings too: treat any line about our unit as a failure
if grep -i 'ringfence' <<<"$out"; then
	echo "unit: 0 passed, 1 failed"
	exit 1
fi
[[ -n $out ]] && echo "(unrelated systemd-analyze output: $out)"
# the properties this unit promises
for want in 'Type=notify' 'Restart=always' 'DefaultDependencies=no' 'Before=network-pre.target' \
	'Wants=network-pre.target' 'Conflicts=shutdown.target' 'After=local-fs.target'; do
	key=${want%%=*} val=${want#*=}
	grep -qE "^$key=.*\b${val//./\\.}\b" "$tmp/unit/ringfence.service" ||
		{ echo "unit lacks $want"; exit 1; }
done
echo "systemd-analyze verify: ringfence.service OK (ExecStart=$bin)"
# the console's unit, beside the binary built with the agent's
console=$(dirname "$bin")/ringfence-console
if [[ -x $console ]]; then
	sed "s|@SBINDIR@/ringfence-console|$console|" scripts/ringfence-console.service \
		>"$tmp/unit/ringfence-console.service"
	out=$(cd "$tmp/unit" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify \
		./ringfence-console.service 2>&1) || { echo "$out"; echo "unit: 1 passed, 1 failed"; exit 1; }
	if grep -i 'ringfence-console' <<<"$out"; then echo "unit: 1 passed, 1 failed"; exit 1; fi
	for want in 'DynamicUser=yes' 'LoadCredential=tokens:' 'NoNewPrivileges=yes'; do
		grep -q "^$want" "$tmp/unit/ringfence-console.service" ||
			{ echo "console unit lacks $want"; exit 1; }
	done
	echo "systemd-analyze verify: ringfence-console.service OK"
	echo "unit: 2 passed, 0 failed"
	exit 0
fi
echo "unit: 1 passed, 0 failed"
