#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: conf-check.sh CONF_CHECK_BINARY   (RUNNER="qemu-aarch64 -L ..." to run a cross build)
# The shipped scripts/ringfence.conf parses to "nothing allowed, built-ins at their defaults";
# with every example line uncommented it still parses; a broken line is rejected with FILE:LINE.
set -euo pipefail
cd "$(dirname "$0")/../.."
chk=$1
read -ra run <<<"${RUNNER:-}"
run+=("$chk")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
ok() { pass=$((pass + 1)); }

out=$("${run[@]}" scripts/ringfence.conf)
grep -q 'ok: 0 rule(s), dhcp on, nd on, dns auto, packet-guard auto' <<<"$out" ||
	{ echo "FAIL: default config is not 'nothing allowed, defaults': $out"; exit 1; }
ok
# uncomment every example setting ("#allow ...", "#dns ...")
sed -E 's/^#(allow|dhcp|nd|dns|packet-guard|mqtt-[a-z-]+) /\1 /' scripts/ringfence.conf >"$tmp/all.conf"
n_examples=$(grep -cE '^allow ' "$tmp/all.conf")
out=$("${run[@]}" "$tmp/all.conf") || { echo "FAIL: an example in scripts/ringfence.conf does not parse"; exit 1; }
grep -q "ok: $((n_examples + 4)) rule(s)" <<<"$out" ||
	{ echo "FAIL: expected $n_examples allow rules + 2 resolvers x udp/tcp: $out"; exit 1; }
ok
printf 'dhcp on\nallow net 300.1.1.1/8\n' >"$tmp/bad.conf"
if err=$("${run[@]}" "$tmp/bad.conf" 2>&1); then
	echo "FAIL: a bad config was accepted"; exit 1
fi
grep -q "bad.conf:2:" <<<"$err" || { echo "FAIL: error does not name FILE:LINE: $err"; exit 1; }
ok
for bad in 'dhcp maybe' 'dns 192.0.2.1/24' 'allow exe' 'allow net 192.0.2.1 dir sideways' 'colour blue' \
	'mqtt-broker http://b:80' 'mqtt-key key.pem' 'mqtt-device-id a/b' 'allow host bad..name' \
	'allow host *.com' 'allow host 192.0.2.1'; do
	echo "$bad" >"$tmp/bad.conf"
	if "${run[@]}" "$tmp/bad.conf" >/dev/null 2>&1; then
		echo "FAIL: accepted '$bad'"; exit 1
	fi
	ok
done
echo "$out" | sed 's/^/  /'
echo "config: $pass passed, 0 failed"
