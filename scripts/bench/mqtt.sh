#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Remote control rows of 'make bench' (also alone: 'make bench-mqtt', as root): a mosquitto with
# TLS and client certificates in a throw-away peer namespace, the agent inside a throw-away
# cgroup in the device namespace (documentation addresses only), then
#   - publish Isolate -> first connect refused with EPERM in the isolated cgroup, REPS times
#     (from the start of mosquitto_pub, TLS handshake included; released between rounds)
#   - the agent's RSS and CPU over IDLE_S seconds with the MQTT session idle.
# Prints "mqtt NAME ROUND VALUE" lines (the format of run.sh's results) on stdout, or appends
# them to $1. Knobs: RFBENCH_REPS (default 5), RFBENCH_MQTT_IDLE_S (default 20).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
RF_BIN=${RINGFENCE_BIN:-$ROOT/.output/ringfence}
REPS=${RFBENCH_REPS:-5}
IDLE_S=${RFBENCH_MQTT_IDLE_S:-20}
OUT=${1:-/dev/stdout}

die() { echo "bench-mqtt: $*" >&2; exit 1; }
log() { printf 'bench-mqtt: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root"
[ -x "$RF_BIN" ] || die "no ringfence binary at $RF_BIN (run make)"
"$RF_BIN" --version | grep -q 'mqtt yes' || die "$RF_BIN was built without MQTT"
for tool in ip nsenter mosquitto mosquitto_pub openssl python3 timeout; do
	command -v "$tool" >/dev/null || die "missing $tool (make deps)"
done
CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CG2" ] || die "no cgroup2 mount"

ID=$$
CG=$CG2/rf-bmq-$ID
PIN=/sys/fs/bpf/rf-bmq-$ID
WORK=/tmp/rf-bmq-$ID
DEV=rf-bmq-$ID-dev
PEER=rf-bmq-$ID-peer
DEVICE=bench-$ID
AGENT=
BROKER=
SINK=

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	[ -n "$AGENT" ] && kill "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
	[ -n "$BROKER" ] && kill "$BROKER" 2>/dev/null && wait "$BROKER" 2>/dev/null
	[ -n "$SINK" ] && kill "$SINK" 2>/dev/null && wait "$SINK" 2>/dev/null
	if [ -d "$CG" ]; then
		echo 1 >"$CG/cgroup.kill" 2>/dev/null
		sleep 0.2
		rmdir "$CG" 2>/dev/null || log "warning: cannot remove $CG"
	fi
	ip netns del "$DEV" 2>/dev/null
	ip netns del "$PEER" 2>/dev/null
	rm -rf "$PIN" "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/db" "$CG"
ip netns add "$DEV"
ip netns add "$PEER"
ip -n "$DEV" link add veth0 type veth peer name veth1 netns "$PEER"
ip -n "$DEV" addr add 192.0.2.1/24 dev veth0
ip -n "$PEER" addr add 192.0.2.2/24 dev veth1
for ns in "$DEV" "$PEER"; do
	ip -n "$ns" link set lo up
done
ip -n "$DEV" link set veth0 up
ip -n "$PEER" link set veth1 up

log "certificates and mosquitto (docs/REMOTE.md's configuration)"
(
	cd "$WORK"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout ca.key -out ca.crt -subj /CN=bench-ca 2>/dev/null
	for n in broker responder "$DEVICE"; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$n.key" -out "$n.csr" -subj "/CN=$n" 2>/dev/null
		ext=basicConstraints=CA:FALSE
		[ "$n" = broker ] && ext=subjectAltName=IP:192.0.2.2
		echo "$ext" >"$n.ext"
		openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
			-out "$n.crt" -extfile "$n.ext" 2>/dev/null
	done
)
sed -n '/^```conf$/,/^```$/p' docs/REMOTE.md | sed '1d;$d' |
	sed "s|/etc/mosquitto/ringfence/|$WORK/|; s|/var/lib/mosquitto/|$WORK/db/|;
		s|^listener 8883|listener 8883 192.0.2.2|" >"$WORK/mosquitto.conf"
echo "user root" >>"$WORK/mosquitto.conf"
sed -n '/^```acl$/,/^```$/p' docs/REMOTE.md | sed '1d;$d' >"$WORK/acl"
ip netns exec "$PEER" mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
BROKER=$!
ip netns exec "$PEER" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.2", 9000)); s.listen(128)
while True:
    c, _ = s.accept(); c.close()' &
SINK=$!
printf 'dns off\npacket-guard off\nmqtt-broker mqtts://192.0.2.2:8883\nmqtt-ca %s/ca.crt\nmqtt-cert %s/%s.crt\nmqtt-key %s/%s.key\nmqtt-device-id %s\n' \
	"$WORK" "$WORK" "$DEVICE" "$WORK" "$DEVICE" "$DEVICE" >"$WORK/ringfence.conf"
export RINGFENCE_HOME_CGROUP=$CG RINGFENCE_PACKET_GUARD=off
RF=("$RF_BIN" --cgroup "$CG" --pin-dir "$PIN" --state-dir "$WORK/state" --config "$WORK/ringfence.conf")

log "the agent, inside the isolated cgroup"
bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec nsenter --net="/run/netns/$1" "${@:2}"' _ \
	"$CG" "$DEV" "${RF[@]}" agent >"$WORK/agent.log" 2>&1 &
AGENT=$!
for _ in $(seq 200); do
	grep -q 'mqtt: connected' "$WORK/agent.log" && break
	sleep 0.05
done
grep -q 'mqtt: connected' "$WORK/agent.log" || { cat "$WORK/agent.log" >&2; die "agent did not connect"; }
AGENT_PID=$(cat "$CG/cgroup.procs" | head -1)

# a prober in the isolated cgroup: connects to the peer every millisecond and prints the
# CLOCK_MONOTONIC time (ns) of the first EPERM
probe() {
	bash -c 'echo $$ >"$1/cgroup.procs" && exec ip netns exec "$2" python3 -c "
import errno, socket, sys, time
end = time.monotonic() + 30
while time.monotonic() < end:
    s = socket.socket()
    try:
        s.connect((\"192.0.2.2\", 9000))
    except PermissionError:
        print(time.clock_gettime_ns(time.CLOCK_MONOTONIC)); sys.exit(0)
    except OSError:
        pass
    finally:
        s.close()
    time.sleep(0.001)
sys.exit(1)"' _ "$CG" "$DEV"
}
pub() {
	ip netns exec "$PEER" mosquitto_pub -h 192.0.2.2 -p 8883 --cafile "$WORK/ca.crt" \
		--cert "$WORK/responder.crt" --key "$WORK/responder.key" -q 1 \
		-t "ringfence/$DEVICE/actions" -m "$1"
}

log "publish Isolate -> first denied connect, $REPS rounds"
for r in $(seq "$REPS"); do
	probe >"$WORK/probe" &
	PROBE=$!
	sleep 0.3
	t0=$(python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))')
	pub "{\"id\":\"bench-$ID-$r\",\"type\":\"Isolate\",\"requestorComment\":\"bench\"}"
	wait "$PROBE" || die "no denied connect within 30 s (round $r)"
	echo "mqtt isolate_to_deny $r $((($(cat "$WORK/probe") - t0) / 1000000))" >>"$OUT"
	pub "{\"id\":\"bench-$ID-$r-r\",\"type\":\"Unisolate\"}"
	for _ in $(seq 100); do
		timeout 5 "${RF[@]}" status --json 2>/dev/null | grep -q '"isolated":false' && break
		sleep 0.1
	done
done

log "the agent idle for ${IDLE_S}s with the MQTT session open"
ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$AGENT_PID/stat"; }
c0=$(cpu)
sleep "$IDLE_S"
c1=$(cpu)
echo "mqtt agent_idle_cpu_permille 0 $(((c1 - c0) * 1000 / ticks / IDLE_S))" >>"$OUT"
echo "mqtt agent_idle_cpu_ms 0 $(((c1 - c0) * 1000 / ticks))" >>"$OUT"
echo "mqtt agent_idle_rss_kb 0 $(awk '$1 == "VmRSS:" { print $2 }' "/proc/$AGENT_PID/status")" >>"$OUT"
log "done"
