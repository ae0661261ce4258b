#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: test-ansible.sh [--install-deps]   (RINGFENCE_BIN: the binary, default .output/ringfence)
# Runs deploy/ansible against localhost: syntax checks, site.yml/isolate.yml/release.yml in
# --check mode, then for real: site.yml writes a private config (allow net 192.0.2.2, so isolate is
# not refused), isolate.yml isolates a throw-away cgroup created here (never the root cgroup), with
# private pin and state dirs, and release.yml releases it; each reports the status. Cleans up on
# exit. Needs root, bpffs and cgroup2 for the real run.
set -euo pipefail
cd "$(dirname "$0")/../.." || exit 1
if [[ ${1:-} == --install-deps ]]; then
	apt-get install -y -qq --no-remove --no-install-recommends ansible-core >/dev/null
fi
command -v ansible-playbook >/dev/null || { echo "ansible-playbook missing: apt-get install ansible-core (or $0 --install-deps)"; exit 1; }
bin=$(realpath "${RINGFENCE_BIN:-.output/ringfence}")
[[ -x $bin ]] || { echo "build first: make"; exit 1; }
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[[ -n $cg2 ]] || { echo "no cgroup2 mount"; exit 1; }
mountpoint -q /sys/fs/bpf || { echo "bpffs not mounted"; exit 1; }
[[ $EUID -eq 0 ]] || { echo "needs root"; exit 1; }

id=rf-ansible-$$
cg=$cg2/$id
pins=/sys/fs/bpf/$id
tmp=$(mktemp -d /tmp/$id.XXXX)
cleanup() {
	RINGFENCE_CGROUP=$cg RINGFENCE_PIN_DIR=$pins RINGFENCE_STATE_DIR=$tmp/state \
		RINGFENCE_CONFIG=$tmp/ringfence.conf "$bin" unload --force >/dev/null 2>&1 || true
	rm -rf "$pins"
	rmdir "$cg/edr" "$cg" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir "$cg"
[[ $cg != "$cg2" && $cg != "$cg2/" ]] || exit 1 # never the root cgroup

printf 'localhost ansible_connection=local ansible_python_interpreter=%s\n' "$(command -v python3)" >"$tmp/inventory"
# the variables of a real run, pointed at the throw-away cgroup and private dirs
cat >"$tmp/vars.json" <<JSON
{
  "ringfence_install_method": "none",
  "ringfence_bin": "$bin",
  "ringfence_manage_service": false,
  "ringfence_config_path": "$tmp/ringfence.conf",
  "ringfence_allow": ["net 192.0.2.2 proto tcp port 443 dir out", "cgroup /$id/edr"],
  "ringfence_dns": "off",
  "ringfence_packet_guard": "off",
  "ringfence_requestor": "ansible:test-ansible",
  "ringfence_mqtt_broker": "mqtt://192.0.2.2:1883",
  "ringfence_mqtt_device_id": "ansible-test",
  "ringfence_env": {
    "RINGFENCE_CGROUP": "$cg",
    "RINGFENCE_PIN_DIR": "$pins",
    "RINGFENCE_STATE_DIR": "$tmp/state",
    "RINGFENCE_CONFIG": "$tmp/ringfence.conf",
    "RINGFENCE_PACKET_GUARD": "off"
  }
}
JSON
mkdir "$cg/edr"
export ANSIBLE_CONFIG=$PWD/deploy/ansible/ansible.cfg ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
pb() { ansible-playbook -i "$tmp/inventory" -e "@$tmp/vars.json" "$@"; }
pass=0 fail=0
step() { echo "== $*"; }
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
t0=$(date +%s)

step "syntax"
for p in site isolate release status; do
	ansible-playbook -i "$tmp/inventory" --syntax-check "deploy/ansible/$p.yml" >/dev/null && ok || bad "$p.yml syntax"
done
step "isolate.yml refuses without --limit and without a comment"
pb deploy/ansible/isolate.yml -e ringfence_comment=x >/dev/null 2>&1 && bad "ran without --limit" || ok
pb deploy/ansible/isolate.yml --limit localhost >/dev/null 2>&1 && bad "ran without a comment" || ok
[[ -e $pins ]] && bad "a refused run loaded something" || ok

step "--check (changes nothing)"
pb --check deploy/ansible/site.yml >"$tmp/log" 2>&1 && ok || { cat "$tmp/log"; bad "site.yml --check"; }
[[ -e $tmp/ringfence.conf ]] && bad "--check wrote the config" || ok
pb --check --limit localhost deploy/ansible/isolate.yml -e ringfence_comment='check mode' >"$tmp/log" 2>&1 &&
	ok || { cat "$tmp/log"; bad "isolate.yml --check"; }
[[ -e $pins ]] && bad "--check loaded or isolated something" || ok
pb --check --limit localhost deploy/ansible/release.yml -e ringfence_comment='check mode' >"$tmp/log" 2>&1 &&
	ok || { cat "$tmp/log"; bad "release.yml --check"; }

step "site.yml (writes the config)"
pb deploy/ansible/site.yml >"$tmp/log" 2>&1 && ok || { cat "$tmp/log"; bad "site.yml"; }
grep -q '^allow net 192.0.2.2 proto tcp port 443 dir out$' "$tmp/ringfence.conf" && ok || bad "config lacks the allow rule"
grep -q '^mqtt-broker mqtt://192.0.2.2:1883$' "$tmp/ringfence.conf" &&
	grep -q '^mqtt-device-id ansible-test$' "$tmp/ringfence.conf" && ok || bad "config lacks the MQTT settings"
sed 's/^/  | /' "$tmp/ringfence.conf"
pb deploy/ansible/site.yml >"$tmp/log" 2>&1 && grep -q 'changed=0' "$tmp/log" && ok || { cat "$tmp/log"; bad "site.yml not idempotent"; }

step "isolate.yml --limit localhost"
pb --limit localhost deploy/ansible/isolate.yml -e "ringfence_comment='INC-0000 ansible test'" -e ringfence_isolate_for=1h \
	>"$tmp/log" 2>&1 && ok || bad "isolate.yml failed"
grep -E 'localhost: (ISOLATED|not isolated)' "$tmp/log" | sed 's/^ *"msg": /  /'
grep -q 'localhost: ISOLATED' "$tmp/log" && ok || { cat "$tmp/log"; bad "isolate.yml did not report ISOLATED"; }
RINGFENCE_CGROUP=$cg RINGFENCE_PIN_DIR=$pins RINGFENCE_STATE_DIR=$tmp/state "$bin" --json status | grep -q '"isolated":true' && ok ||
	bad "the cgroup is not isolated"
pb --limit localhost deploy/ansible/isolate.yml -e ringfence_comment='again' >"$tmp/log" 2>&1 &&
	grep -q 'changed=0' "$tmp/log" && ok || { cat "$tmp/log"; bad "second isolate not idempotent"; }

step "release.yml --limit localhost"
pb --limit localhost deploy/ansible/release.yml -e "ringfence_comment='INC-0000 done'" >"$tmp/log" 2>&1 && ok ||
	{ cat "$tmp/log"; bad "release.yml failed"; }
grep -E 'localhost: (ISOLATED|not isolated)' "$tmp/log" | sed 's/^ *"msg": /  /'
grep -q 'localhost: not isolated' "$tmp/log" && ok || bad "release.yml did not report 'not isolated'"
hist=$(RINGFENCE_CGROUP=$cg RINGFENCE_PIN_DIR=$pins RINGFENCE_STATE_DIR=$tmp/state "$bin" --json history)
grep -q '"requestor":"ansible:test-ansible"' <<<"$hist" && ok || bad "requestor not in history"
grep -q '"comment":"INC-0000 ansible test"' <<<"$hist" && ok || bad "isolate comment not in history"

echo "ansible: $pass passed, $fail failed ($(($(date +%s) - t0))s)"
[[ $fail -eq 0 ]]
