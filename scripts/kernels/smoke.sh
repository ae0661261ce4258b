#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Smoke test run by the test-kernels guest (init) when the Criterion suite cannot be built for
# its architecture (Debian has no Criterion for armhf). In the guest only: a veth to a namespace
# with echo servers on 192.0.2.2:8001/8002, a child cgroup isolated by ringfence ($1: the
# binary; RINGFENCE_BTF is honoured). Prints RF-SMOKE lines and 'RF-SMOKE N passed, M failed'.
rf_bin=${1:-/opt/ringfence}
cg=/sys/fs/cgroup/rf-smoke
rf() { "$rf_bin" --cgroup "$cg" --pin-dir /sys/fs/bpf/rf-smoke --state-dir /tmp/rf-smoke \
	--config /tmp/rf-smoke.conf "$@"; }
pass=0 fail=0
ok() { echo "RF-SMOKE ok: $*"; pass=$((pass + 1)); }
bad() { echo "RF-SMOKE FAILED: $*"; fail=$((fail + 1)); }
# client EXE PORT: one line to the peer from a process in the isolated cgroup; prints the echo
client() {
	sh -c 'echo $$ >'"$cg"'/cgroup.procs && echo hello | timeout 5 "$0" nc -w 3 192.0.2.2 "$1" 2>&1' "$1" "$2"
}
mkdir -p "$cg" /tmp/rf-smoke
printf 'dns off\npacket-guard off\n' >/tmp/rf-smoke.conf
IP=/bin/ip # not the busybox applet, which ash prefers to PATH
$IP netns add rfp
$IP link add rfa type veth peer name rfb netns rfp
$IP addr add 192.0.2.1/24 dev rfa && $IP link set rfa up
$IP -n rfp addr add 192.0.2.2/24 dev rfb && $IP -n rfp link set rfb up && $IP -n rfp link set lo up
for p in 8001 8002; do $IP netns exec rfp busybox nc -ll -p $p -e /bin/cat & done
sleep 1
cp /bin/busybox /opt/busybox-copy

case $(client busybox 8002) in hello) ok "before isolate: port 8002 open" ;; *) bad "before isolate: port 8002 closed" ;; esac
if out=$(rf -v load 2>&1); then
	ok "ringfence loads"
else
	bad "ringfence load: $(echo "$out" | grep -v '^libbpf: .*\(found\|matching\|candidate\|relo\)' | tail -25)"
	echo "RF-SMOKE $pass passed, $fail failed"
	exit 1
fi
rf allow add net 192.0.2.2 proto tcp port 8001 dir out >/dev/null && ok "allow add net" || bad "allow add net"
rf allow add exe /opt/busybox-copy >/dev/null && ok "allow add exe" || bad "allow add exe"
rf isolate --force >/dev/null && ok "isolate" || bad "isolate"
case $(client busybox 8001) in hello) ok "isolated: allowed port 8001 open" ;; *) bad "isolated: allowed port 8001 closed" ;; esac
r=$(client busybox 8002)
case $r in *"not permitted"*) ok "isolated: port 8002 EPERM" ;; *) bad "isolated: port 8002 not refused: $r" ;; esac
case $(client /opt/busybox-copy 8002) in hello) ok "isolated: allowed executable reaches 8002" ;; *) bad "isolated: the allowed executable cannot reach 8002 (exe identity)" ;; esac
rf release >/dev/null && ok "release" || bad "release"
case $(client busybox 8002) in hello) ok "released: port 8002 open" ;; *) bad "released: port 8002 closed" ;; esac
rf unload >/dev/null && ok "unload" || bad "unload"
echo "RF-SMOKE $pass passed, $fail failed"
[ "$fail" -eq 0 ]
