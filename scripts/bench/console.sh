#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# 'make bench', the console's rows: ringfence-console's resident memory with 1,000 devices'
# retained status documents on the broker, and GET /api/machines requests per second with them.
# Runs its own mosquitto and console on free 127.0.0.1 ports (files in /tmp/rf-bench-console-PID,
# removed at exit). Writes the section between the console-bench markers of docs/PERFORMANCE.md
# (after scripts/bench/run.sh, which rewrites the rest of that file).
#
# Knobs: RFBENCH_DEVICES (default 1000), RFBENCH_REQUESTS (per client, default 2000),
# RFBENCH_CLIENTS (parallel keep-alive clients, default 2), RFBENCH_DOC.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
CONSOLE=${RINGFENCE_CONSOLE_BIN:-$ROOT/.output/ringfence-console}
NDEV=${RFBENCH_DEVICES:-1000}
NREQ=${RFBENCH_REQUESTS:-2000}
NCLI=${RFBENCH_CLIENTS:-2}
OUT_DOC=${RFBENCH_DOC:-$ROOT/docs/PERFORMANCE.md}
WORK=/tmp/rf-bench-console-$$
log() { printf 'bench (console): %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
for t in mosquitto gcc curl python3; do
	command -v $t >/dev/null || die "missing $t (make deps)"
done
[ -x "$CONSOLE" ] || die "no $CONSOLE (run make)"

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -m 700 "$WORK"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BPORT=$(free_port)
CPORT=$(free_port)
TOKEN=bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "bench $TOKEN" >"$WORK/tokens"
chmod 600 "$WORK/tokens"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' \
	"$BPORT" >"$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
pids+=($!)
sleep 0.5

# a status document the size of a real one: the agent's status --json plus online/device/version
doc() {
	printf '{"device":"bench-%04d","online":true,"version":"0.1.0","isolated":%s,"audit":false,' "$1" "$2"
	printf '"since":null,"deadline":null,"confirm_deadline":null,"comment":null,'
	printf '"target":{"selector":"host","value":null,"cgroup":"/sys/fs/cgroup","cgroup_id":1},'
	printf '"programs":"build 1765000000 0123456789abcdef","this_build":"build 1765000000 0123456789abcdef",'
	printf '"pin_dir":"/sys/fs/bpf/ringfence","hooks":{"connect4":"attached","connect6":"attached",'
	printf '"sendmsg4":"attached","sendmsg6":"attached","sock_create":"attached","egress":"attached",'
	printf '"ingress":"attached","sockops":"attached","setsockopt":"attached"},"tc":["eth0"],'
	printf '"rules":{"net":3,"exe":1,"cgroup":1},"counters":{"denied_connect":12,"denied_sendmsg":3,'
	printf '"denied_packet":40,"denied_create":0,"would_block":0,"events_lost":0},"hostname":"host-%04d.example"}' "$1"
}

"$CONSOLE" --listen 127.0.0.1:"$CPORT" --broker mqtt://127.0.0.1:"$BPORT" --tokens "$WORK/tokens" \
	--insecure-http --rate-limit 1000000/10000000 2>"$WORK/console.log" &
CPID=$!
pids+=("$CPID")
URL=http://127.0.0.1:$CPORT/api/machines
sleep 1
RSS0_KB=$(awk '/^VmRSS/ { print $2 }' "/proc/$CPID/status")
gcc -O2 -Wall -o "$WORK/mqtt-pub" scripts/bench/mqtt-pub.c -lmosquitto
log "publishing $NDEV retained status documents"
for i in $(seq 1 "$NDEV"); do
	iso=false
	[ $((i % 7)) = 0 ] && iso=true
	printf '%s\t%s\n' "ringfence/bench-$(printf %04d "$i")/status" "$(doc "$i" $iso)"
done | "$WORK/mqtt-pub" "$BPORT"
DOC_BYTES=$(doc 1 false | wc -c)
n=0
for _ in $(seq 1 100); do
	n=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL" | python3 -c \
		'import json,sys; print(len(json.load(sys.stdin)["value"]))' 2>/dev/null || echo 0)
	[ "$n" -ge "$NDEV" ] && break
	sleep 0.2
done
[ "$n" -ge "$NDEV" ] || die "the console sees $n of $NDEV devices (see $WORK/console.log)"
RSS_KB=$(awk '/^VmRSS/ { print $2 }' "/proc/$CPID/status")
BODY_BYTES=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL" | wc -c)
log "RSS ${RSS_KB} KiB with $n devices; GET /api/machines is $BODY_BYTES bytes"

# requests per second: NCLI curl processes, each NREQ requests over one keep-alive connection
for c in $(seq 1 "$NCLI"); do
	{ echo "header = \"Authorization: Bearer $TOKEN\""; for _ in $(seq 1 "$NREQ"); do
		echo "url = \"$URL\""; echo 'output = "/dev/null"'; done; } >"$WORK/curl-$c.cfg"
done
t0=$(date +%s.%N)
clients=()
for c in $(seq 1 "$NCLI"); do
	curl -s -w '%{http_code}\n' -K "$WORK/curl-$c.cfg" >"$WORK/codes-$c" &
	clients+=($!)
done
wait "${clients[@]}"
t1=$(date +%s.%N)
ok=$(cat "$WORK"/codes-* | grep -c '^200$' || true)
total=$((NREQ * NCLI))
[ "$ok" -eq "$total" ] || die "$ok of $total requests answered 200"
RPS=$(python3 -c "print(round($total / ($t1 - $t0)))")
log "GET /api/machines: $total requests by $NCLI clients in $(python3 -c "print(round($t1 - $t0, 2))") s: $RPS/s"

# isolate through the API -> first denied connect on the device: the real agent on a throw-away
# cgroup in test namespaces (tests/console/test_agent.c, agent/api_isolate_to_first_denied_connect)
LAT="not measured: this tree's ringfence has no MQTT agent ('ringfence remote'; issue 22)"
CTESTS=${RINGFENCE_CONSOLE_TESTS:-$ROOT/.output/tests/console-tests}
RF_BIN=${RINGFENCE_BIN:-$ROOT/.output/ringfence}
if [ -x "$CTESTS" ] && "$CTESTS" --list 2>/dev/null | grep -q api_isolate_to_first_denied_connect &&
	[ "$(id -u)" = 0 ] && "$RF_BIN" --version 2>/dev/null | grep -q 'mqtt yes'; then
	log "API isolate -> first denied connect (the real agent, ${RFBENCH_LAT_REPS:-5} runs)"
	for _ in $(seq 1 "${RFBENCH_LAT_REPS:-5}"); do
		RINGFENCE_BENCH_OUT=$WORK/lat RINGFENCE_BIN=$RF_BIN RINGFENCE_CONSOLE_BIN=$CONSOLE \
			RINGFENCE_SRC=$ROOT RINGFENCE_OUTPUT=$ROOT/.output RINGFENCE_REQUIRE_KERNEL=1 \
			"$CTESTS" -j1 --filter='agent/api_isolate_to_first_denied_connect' >/dev/null 2>&1 ||
			die "the latency run failed: $CTESTS --filter='agent/api_isolate_to_first_denied_connect'"
	done
	[ -s "$WORK/lat" ] || die "the latency runs measured nothing (skipped?)"
	LAT=$(sort -n "$WORK/lat" | python3 -c 'import sys; v=[int(x) for x in sys.stdin]; v.sort(); print(f"{v[len(v)//2]} ms median of {len(v)} (min {v[0]}, max {v[-1]}; POST through curl to EPERM, agent and broker on this machine)")')
fi

section=$(cat <<EOF
<!-- console-bench:begin (generated by scripts/bench/console.sh, make bench) -->
## Console

ringfence-console with $NDEV devices' retained status documents ($DOC_BYTES bytes each, the
agent's \`status --json\` plus \`online\`, \`device\`, \`version\`) on a local mosquitto, on this
machine ($(nproc) cores, shared), $(date -u +%Y-%m-%d):

| measure | result |
| --- | --- |
| resident memory (VmRSS) of the console with no device | $RSS0_KB KiB |
| resident memory (VmRSS) of the console with $NDEV devices | $RSS_KB KiB ($(( (RSS_KB - RSS0_KB) * 1024 / NDEV )) bytes more per device) |
| \`GET /api/machines\` with $NDEV devices ($BODY_BYTES bytes), $NCLI keep-alive clients | $RPS requests/s |
| API isolate -> first denied connect on the device | $LAT |

The machine list is serialized once per change of the fleet and copied per request; the memory
is the parsed status documents (jansson) plus that cache. Rate limits were raised for the run
(\`--rate-limit\`); a single token is held to 100 calls a minute by default. The latency is
the end-to-end test's (tests/console/test_agent.c): curl's POST, the console's publish, plain
MQTT to the agent in a test namespace, \`ringfence isolate\` on the device and the prober's
next connect; "Remote control" above measures the same path over TLS from \`mosquitto_pub\`
(a process start and a TLS handshake more).
<!-- console-bench:end -->
EOF
)
python3 - "$OUT_DOC" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# ringfence performance\n"
pat = re.compile(r"<!-- console-bench:begin.*?<!-- console-bench:end -->\n?", re.S)
text = pat.sub("", text).rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
log "wrote the Console section of $OUT_DOC"
