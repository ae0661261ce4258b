#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The README's 60-second walkthrough, runnable as is (CI runs it). Isolates a throw-away cgroup
# whose processes live in a throw-away network namespace: never the host's real root cgroup.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (sudo $0)" >&2; exit 1; }

CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)   # /sys/fs/cgroup or .../unified
DEMO=$CG2/rf-demo-$$
RF="./.output/ringfence --cgroup $DEMO --pin-dir /sys/fs/bpf/rf-demo-$$ --state-dir /run/rf-demo-$$"
cleanup() {
	$RF unload --force >/dev/null 2>&1 || true
	kill "${SERVERS[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	ip netns del rf-dev-$$ 2>/dev/null || true
	ip netns del rf-peer-$$ 2>/dev/null || true
	rmdir "$DEMO" 2>/dev/null || true
	rm -rf /run/rf-demo-$$
}
trap cleanup EXIT

# 1. A "device" and a "peer" joined by a veth pair, documentation addresses only.
ip netns add rf-dev-$$
ip netns add rf-peer-$$
ip link add rf-d$$ netns rf-dev-$$ type veth peer name rf-p$$ netns rf-peer-$$
ip -n rf-dev-$$ addr add 192.0.2.1/24 dev rf-d$$
ip -n rf-peer-$$ addr add 192.0.2.2/24 dev rf-p$$
ip -n rf-dev-$$ link set rf-d$$ up
ip -n rf-peer-$$ link set rf-p$$ up
SERVERS=()
for port in 80 8080; do
	ip netns exec rf-peer-$$ python3 -m http.server "$port" --bind 192.0.2.2 >/dev/null 2>&1 &
	SERVERS+=($!)
done
mkdir "$DEMO"
sleep 1

# try PORT: a TCP connect from a process inside the isolated cgroup and the device namespace.
try() {
	if bash -c "echo \$\$ > $DEMO/cgroup.procs && exec nsenter --net=/run/netns/rf-dev-$$ \
		timeout 2 bash -c 'exec 3<>/dev/tcp/192.0.2.2/$1'" 2>/dev/null; then
		echo "  192.0.2.2:$1 open"
	else
		echo "  192.0.2.2:$1 blocked"
	fi
}

echo "== before isolation"; try 80; try 8080
# 2. Allow the "management server" on port 80, then isolate.
$RF allow add net 192.0.2.2 proto tcp port 80 dir out
$RF isolate --comment "demo: suspected compromise"
echo "== isolated"; try 80; try 8080
$RF status
$RF events
# 3. Release.
$RF release --comment "demo: all clear"
echo "== released"; try 80; try 8080
$RF history
