#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# How long a restarted container is open, with and without the OCI hook (issue 21 item 8).
# A throw-away cgroup named like a Docker container, below a private parent cgroup, is isolated;
# then N times its cgroup is made again, as a runtime does on a restart (a new cgroup id at the
# same path, which no program enforces on), and the time until the new cgroup is isolated is
# measured:
#   hook:  `ringfence oci-hook STATE` run at once, as the runtime runs it at createRuntime. The
#          runtime starts the container's process only after the hook returns, so this is a
#          delay of the start, not an open window.
#   agent: no hook; `ringfence agent` isolates the new cgroup at its next scan. The container's
#          process runs meanwhile: this is the open window (polled every 10 ms).
# Touches only its own cgroup, pin dir and state dir, named rf-window-PID, removed at exit.
# Usage (root): RINGFENCE_BIN=.output/ringfence scripts/bench/oci-window.sh [N]
set -uo pipefail
BIN=$(realpath "${RINGFENCE_BIN:-.output/ringfence}")
N=${1:-10}
CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[[ -n $CG2 && -x $BIN && $EUID -eq 0 ]] || {
	echo "oci-window: needs root, cgroup2 and RINGFENCE_BIN" >&2
	exit 1
}
TAG=rf-window-$$
PARENT=$CG2/$TAG
PIN=/sys/fs/bpf/$TAG
STATE=/tmp/$TAG
ID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
CG=$PARENT/system.slice/docker-$ID.scope
AGENT=
export RINGFENCE_HOME_CGROUP=$PARENT RINGFENCE_PACKET_GUARD=off RINGFENCE_CONFIG=/nonexistent \
	RINGFENCE_CONTAINER_RUNTIMES= RINGFENCE_CGROUP= RINGFENCE_UNIT= RINGFENCE_CONTAINER=
RF=("$BIN" --pin-dir "$PIN" --state-dir "$STATE")

cleanup() {
	[[ -n $AGENT ]] && kill "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
	rm -rf "$PIN" "$STATE"
	[[ -d $CG ]] && rmdir "$CG"
	rmdir "$PARENT/system.slice" "$PARENT" 2>/dev/null
}
trap cleanup EXIT
now_us() { echo $(($(date +%s%N) / 1000)); }
isolated() { "${RF[@]}" --cgroup "$CG" status --json 2>/dev/null | grep -q '"isolated":true'; }
restart() { rmdir "$CG" && mkdir "$CG" || { echo "oci-window: cannot remake $CG" >&2; exit 1; }; }
median() { sort -n | awk '{ a[NR] = $1 } END { printf "%d\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

mkdir -p "$CG" "$STATE"
"${RF[@]}" --container "$ID" isolate >/dev/null 2>&1 || exit 1
printf '{"ociVersion":"1.0.2","id":"%s","status":"creating","bundle":"/nonexistent"}\n' "$ID" \
	>"$STATE/state.json"

hook=()
for ((i = 0; i < N; i++)); do
	restart
	t0=$(now_us)
	"${RF[@]}" oci-hook "$STATE/state.json" >/dev/null || exit 1
	t1=$(now_us)
	isolated || { echo "oci-window: not isolated after the hook" >&2; exit 1; }
	hook+=($((t1 - t0)))
done

"${RF[@]}" --cgroup "$PARENT" agent >/dev/null 2>&1 &
AGENT=$!
sleep 3 # started and serving the target
agent=()
for ((i = 0; i < N; i++)); do
	restart
	t0=$(now_us)
	until isolated; do
		sleep 0.01
		(($(now_us) - t0 > 10000000)) && { echo "oci-window: agent took over 10 s" >&2; exit 1; }
	done
	agent+=($(($(now_us) - t0)))
	[[ -n ${DEBUG:-} ]] && echo "agent: ${agent[-1]} us" >&2
	sleep 0.$((RANDOM % 10)) # restarts at any point of the agent's scan interval
done
"${RF[@]}" --cgroup "$CG" release >/dev/null 2>&1

printf 'restarts: %d each\n' "$N"
printf 'hook (delays the start, no window): median %d ms, max %d ms\n' \
	$(($(printf '%s\n' "${hook[@]}" | median) / 1000)) \
	$(($(printf '%s\n' "${hook[@]}" | sort -n | tail -1) / 1000))
printf 'agent only (open window):           median %d ms, max %d ms\n' \
	$(($(printf '%s\n' "${agent[@]}" | median) / 1000)) \
	$(($(printf '%s\n' "${agent[@]}" | sort -n | tail -1) / 1000))
