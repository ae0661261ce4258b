#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# 'make bench': ringfence against no programs, empty programs on the same hooks (what attaching
# anything costs), nftables and iptables, in a throw-away cgroup and throw-away network
# namespaces (documentation addresses only). Prints one table and writes docs/PERFORMANCE.md.
# Needs root. Never touches the host's cgroup root, interfaces or netfilter rules: ringfence
# always runs with --cgroup/--pin-dir/--state-dir of this run and inside the device namespace;
# the empty programs attach only to this run's cgroup and the device namespace's veth; nft and
# iptables only inside the device namespace.
#
# Knobs: RFBENCH_REPS (repetitions, default 5), RFBENCH_PAIRS (baseline/configuration sample
# pairs for rate and throughput, default 21), RFBENCH_MS (ms per sample, default 200),
# RFBENCH_REPEAT (BPF_PROG_TEST_RUN repeat, default 500000), RFBENCH_RULES (default 100000),
# RFBENCH_TARGETS (sibling targets isolated next to the measured cgroup, default 10),
# RFBENCH_DOC (where the report goes, default docs/PERFORMANCE.md), RFBENCH_SAVE (a file that
# keeps the raw samples for rerunning report.py).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
RF_BIN=${RINGFENCE_BIN:-$ROOT/.output/ringfence}
REPS=${RFBENCH_REPS:-5}
PAIRS=${RFBENCH_PAIRS:-21}
MS=${RFBENCH_MS:-200}
REPEAT=${RFBENCH_REPEAT:-500000}
NRULES=${RFBENCH_RULES:-100000}
NTARGETS=${RFBENCH_TARGETS:-10}
OUT_DOC=${RFBENCH_DOC:-$ROOT/docs/PERFORMANCE.md}

die() { echo "bench: $*" >&2; exit 1; }
log() { printf 'bench: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root (sudo make bench)"
[ -x "$RF_BIN" ] || die "no ringfence binary at $RF_BIN (run make)"
for tool in ip nsenter nft iptables-restore bpftool gcc python3 timeout; do
	command -v "$tool" >/dev/null || die "missing $tool (see 'bench-deps' in make deps)"
done
# as the CLI and the tests do: mount bpffs where a minimal host has none
mountpoint -q /sys/fs/bpf || mount -t bpf -o mode=0700 bpf /sys/fs/bpf ||
	die "bpffs is not mounted at /sys/fs/bpf and mounting it failed"
CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CG2" ] || die "no cgroup2 mount in /proc/self/mounts"
{ [ "$REPS" -ge 1 ] && [ "$REPS" -le 50 ]; } || die "RFBENCH_REPS must be 1..50"
{ [ "$PAIRS" -ge 1 ] && [ "$PAIRS" -le 100 ]; } || die "RFBENCH_PAIRS must be 1..100"
{ [ "$MS" -ge 100 ] && [ "$MS" -le 10000 ]; } || die "RFBENCH_MS must be 100..10000"
{ [ "$NRULES" -ge 20 ] && [ "$NRULES" -le 250000 ]; } || die "RFBENCH_RULES must be 20..250000"
{ [ "$NTARGETS" -ge 2 ] && [ "$NTARGETS" -le 50 ]; } || die "RFBENCH_TARGETS must be 2..50"

ID=$$
CG=$CG2/rf-bench-$ID                 # ringfence enforces here
CGB=$CG2/rf-bench-$ID-base           # no programs: baseline and firewall samples
AUX=$CG2/rf-bench-$ID-aux            # servers and the event reader (never enforced)
TGT=$CG2/rf-bench-$ID-t              # + 1..NTARGETS: other targets, isolated beside $CG
PIN=/sys/fs/bpf/rf-bench-$ID
NULLPIN=/sys/fs/bpf/rf-bench-$ID-null # the control's empty programs (links pinned here)
WORK=/tmp/rf-bench-$ID               # state dir, config, rule files, raw results
STATE=$WORK/state
CONF=$WORK/ringfence.conf
# Three identical device/peer namespace pairs, so that a baseline sample can be taken right
# next to every other sample without changing any state: b = never anything loaded,
# r = ringfence (and its tc filter on the device's veth), f = nftables or iptables.
NS_PREFIX=rf-bench-$ID
DEV=$NS_PREFIX-rdev
DEVNS=/run/netns/$DEV
BDEVNS=/run/netns/$NS_PREFIX-bdev
FDEV=$NS_PREFIX-fdev
FDEVNS=/run/netns/$FDEV
RESULTS=$WORK/results
DRIVER=$WORK/rfbench
PEER4=192.0.2.2
DENIED4=192.0.2.3                    # a second peer address with no rule: denied when isolated
EVENTS_PID=
START=$(date +%s)

kill_cgroup() {
	local cg=$1 i
	[ -d "$cg" ] || return 0
	if [ -e "$cg/cgroup.kill" ]; then
		echo 1 >"$cg/cgroup.kill" 2>/dev/null || true
	else
		xargs -r kill -9 <"$cg/cgroup.procs" 2>/dev/null || true
	fi
	for i in $(seq 50); do
		[ -s "$cg/cgroup.procs" ] || break
		sleep 0.1
		[ "$i" = 50 ] && log "warning: processes left in $cg"
	done
	rmdir "$cg" 2>/dev/null || log "warning: cannot remove $cg"
}

cleanup() {
	local rc=$? p
	set +e
	trap - EXIT INT TERM
	if [ -n "$EVENTS_PID" ]; then
		kill "$EVENTS_PID" 2>/dev/null
		wait "$EVENTS_PID" 2>/dev/null
	fi
	if [ -e "$PIN" ] && [ -e "$DEVNS" ]; then
		rf release >/dev/null 2>&1
		rf unload --force >/dev/null 2>&1
	fi
	[ -e "$NULLPIN" ] && rm -rf "$NULLPIN" # detaches the control's empty programs
	kill_cgroup "$CG"
	for p in $(seq "$NTARGETS"); do
		kill_cgroup "$TGT$p"
	done
	kill_cgroup "$CGB"
	kill_cgroup "$AUX"
	# nft and iptables rules, the veth pairs and the tc filters go with the namespaces
	for p in b r f; do
		ip netns del "$NS_PREFIX-${p}dev" 2>/dev/null
		ip netns del "$NS_PREFIX-${p}peer" 2>/dev/null
	done
	[ -e "$PIN" ] && rm -rf "$PIN" # with targets/<id>/: their links detach
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ringfence, always with this run's private paths and inside the ringfence device namespace;
# $CG is the home target, so its pins are the top level of $PIN (other targets: $PIN/targets/ID)
export RINGFENCE_HOME_CGROUP=$CG
RF=(nsenter --net="$DEVNS" "$RF_BIN" --cgroup "$CG" --pin-dir "$PIN" --state-dir "$STATE"
	--config "$CONF")
rf() { timeout 120 "${RF[@]}" "$@"; }
# the same for another target: rft CGROUP ARGS...
rft() {
	local cg=$1
	shift
	timeout 120 nsenter --net="$DEVNS" "$RF_BIN" --cgroup "$cg" --pin-dir "$PIN" \
		--state-dir "$STATE" --config "$CONF" "$@"
}
fwns() { timeout 120 ip netns exec "$FDEV" "$@"; }
drv() { timeout 90 "$DRIVER" "$@"; }
rec() { echo "$*" >>"$RESULTS"; }

# ---- environment ---------------------------------------------------------------------------
mkdir -p "$WORK" "$STATE"
: >"$RESULTS"
printf 'dns off\npacket-guard on\n' >"$CONF"
log "building the driver"
gcc -O2 -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -I"$ROOT/.output" -I"$ROOT/include" \
	-I"$ROOT/bpf" scripts/bench/rfbench.c user/net_index.c -lbpf -lelf -lz -o "$DRIVER"

# programs already attached above our cgroups run for the baseline too: record them
FOREIGN=$(bpftool cgroup show "$CG2" 2>/dev/null | awk 'NR > 1 { print $NF }' | sort -u |
	paste -sd' ' || true)

mkdir "$CG" "$CGB" "$AUX"
for p in b r f; do
	dev=$NS_PREFIX-${p}dev
	peer=$NS_PREFIX-${p}peer
	ip netns add "$dev"
	ip netns add "$peer"
	ip link add "rfb${p}d$ID" netns "$dev" type veth peer name "rfb${p}p$ID" netns "$peer"
	ip -n "$dev" addr add 192.0.2.1/24 dev "rfb${p}d$ID"
	ip -n "$dev" addr add 2001:db8::1/64 dev "rfb${p}d$ID" nodad
	ip -n "$peer" addr add "$PEER4/24" dev "rfb${p}p$ID"
	ip -n "$peer" addr add "$DENIED4/24" dev "rfb${p}p$ID"
	ip -n "$peer" addr add 2001:db8::2/64 dev "rfb${p}p$ID" nodad
	ip -n "$dev" link set lo up
	ip -n "$peer" link set lo up
	ip -n "$dev" link set "rfb${p}d$ID" up
	ip -n "$peer" link set "rfb${p}p$ID" up
	# servers: 5001 accepts and closes, 5002 drains bulk data
	bash -c 'echo $$ >"$1/cgroup.procs" && exec ip netns exec "$2" "$3" server 5001 5002 900' \
		_ "$AUX" "$peer" "$DRIVER" &
	disown "$!" # killed with its cgroup; no job report
done
for p in b r f; do
	for _ in $(seq 50); do
		ip netns exec "$NS_PREFIX-${p}peer" ss -ltn | grep -q ':5002 ' && break
		sleep 0.1
	done
	ip netns exec "$NS_PREFIX-${p}peer" ss -ltn | grep -q ':5002 ' ||
		die "the peer servers did not start"
done

# the same 100,000 prefixes for ringfence (rfbench fill) and nftables (a set)
log "writing the nftables and iptables rulesets"
drv gen "$NRULES" >"$WORK/prefixes"
{
	printf 'table inet rfbench {\n'
	printf '\tset allow4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n'
	printf '\t\telements = { %s/32 }\n\t}\n' "$PEER4"
	printf '\tset allow6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t\telements = { '
	printf '2001:db8::2/128,'
	paste -sd, "$WORK/prefixes"
	printf '\t\t}\n\t}\n'
	for dir in out in; do
		if [ "$dir" = out ]; then
			printf '\tchain out {\n\t\ttype filter hook output priority filter; policy drop;\n'
			printf '\t\toif "lo" accept\n'
			printf '\t\tmeta l4proto tcp ip daddr @allow4 accept\n'
			printf '\t\tmeta l4proto tcp ip6 daddr @allow6 accept\n'
			printf '\t\tudp sport { 68, 546 } udp dport { 67, 547 } accept\n'
		else
			printf '\tchain in {\n\t\ttype filter hook input priority filter; policy drop;\n'
			printf '\t\tiif "lo" accept\n'
			printf '\t\tmeta l4proto tcp ip saddr @allow4 accept\n'
			printf '\t\tmeta l4proto tcp ip6 saddr @allow6 accept\n'
			printf '\t\tudp sport { 67, 547 } udp dport { 68, 546 } accept\n'
		fi
		printf '\t\ticmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, '
		printf 'nd-neighbor-advert, nd-redirect, mld-listener-query, mld-listener-report, '
		printf 'mld-listener-done, mld2-listener-report } accept\n\t}\n'
	done
	printf '}\n'
} >"$WORK/ruleset.nft"
{
	# 1,000 rules per chain, the peer's rule last: what a linear firewall list costs
	printf '*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n'
	printf -- '-A INPUT -i lo -j ACCEPT\n-A OUTPUT -o lo -j ACCEPT\n'
	for i in $(seq 0 997); do
		printf -- '-A OUTPUT -d 198.51.100.%d/32 -p tcp -m tcp --dport %d -j ACCEPT\n' \
			$((i % 256)) $((10000 + i / 256))
		printf -- '-A INPUT -s 198.51.100.%d/32 -p tcp -m tcp --sport %d -j ACCEPT\n' \
			$((i % 256)) $((10000 + i / 256))
	done
	printf -- '-A OUTPUT -d %s/32 -p tcp -j ACCEPT\n' "$PEER4"
	printf -- '-A INPUT -s %s/32 -p tcp -j ACCEPT\nCOMMIT\n' "$PEER4"
} >"$WORK/ruleset.ipt"
IPT_BACKEND=$(iptables-restore --version 2>&1 | grep -o 'nf_tables\|legacy' | head -1 || true)

# ---- measurements --------------------------------------------------------------------------
# pairs NAME CGROUP NETNS: PAIRS pairs of (baseline sample, configuration sample) for connection
# rate and throughput, taken back to back in alternating order; one ratio per pair
pairs() {
	local name=$1 cg=$2 ns=$3 i kind port b c
	for i in $(seq "$PAIRS"); do
		for kind in rate tput; do
			port=5001
			[ "$kind" = tput ] && port=5002
			if [ $((i % 2)) = 1 ]; then
				b=$(drv "$kind" "$CGB" "$BDEVNS" "$PEER4" "$port" "$MS") || die "$kind base"
				c=$(drv "$kind" "$cg" "$ns" "$PEER4" "$port" "$MS") || die "$kind $name"
			else
				c=$(drv "$kind" "$cg" "$ns" "$PEER4" "$port" "$MS") || die "$kind $name"
				b=$(drv "$kind" "$CGB" "$BDEVNS" "$PEER4" "$port" "$MS") || die "$kind base"
			fi
			rec "$kind" "$name" "$i" "$c" "$b"
		done
	done
}
# latency NAME deny|allow RINGFENCE-ARGS...: ms until a connect to 192.0.2.3 is first denied
# (or first not denied) after starting the command
latency() {
	local name=$1 mode=$2 v
	shift 2
	# the process-start floor, measured right next to every latency sample
	v=$(drv exectime "${RF[@]}" --version) || die "ringfence --version failed"
	rec lat cli_version 0 "$v" "$v"
	v=$(drv latency "$CG" "$DEVNS" "$DENIED4" 9 "$mode" 10000 "${RF[@]}" "$@") ||
		die "latency ($name) failed"
	rec lat "$name" 0 "$v"
}
# flowstat CASE BUMPMAP|- PIN...: per-packet run time of the pinned programs on a real TCP flow
# to each peer (kernel.bpf_stats, on only while rfbench runs), REPS times; raw lines
# "flow CASE[6] PROG REP NS RUNS" (6: the IPv6 peer)
FLOW_SEGS=2000
flowstat() {
	local case=$1 bump=$2 r peer sfx prog ns runs out
	shift 2
	for r in $(seq "$REPS"); do
		for peer in "$PEER4" 2001:db8::2; do
			sfx=
			[ "$peer" = "$PEER4" ] || sfx=6
			out=$(drv flowstat "$CG" "$DEVNS" "$peer" 5002 "$FLOW_SEGS" "$bump" "$@") ||
				die "flowstat $case failed"
			while read -r prog ns runs; do
				rec flow "$case$sfx" "$prog" "$r" "$ns" "$runs"
			done <<<"$out"
		done
	done
}
# number of programs attached to cgroup $1 itself
cg_progs() { bpftool -j cgroup show "$1" 2>/dev/null | grep -o '"id":' | wc -l; }
memlock() { bpftool -j map show pinned "$PIN/$1" | python3 -c \
	'import json,sys; print(json.load(sys.stdin).get("bytes_memlock", 0))'; }
# sum of memlock of the maps pinned in directory $1
memlock_dir() {
	local total=0 m
	for m in "$1"/rf_*; do
		bpftool map show pinned "$m" >/dev/null 2>&1 || continue
		total=$((total + $(memlock "${m#"$PIN"/}")))
	done
	echo "$total"
}
rss_kb() { awk -v k="$2" '$1 == k ":" { print $2 }' "/proc/$1/status"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

log "per-packet cost (BPF_PROG_TEST_RUN, repeat $REPEAT)"
drv progrun "$DEVNS" "rfbrd$ID" "$REPS" "$REPEAT" >>"$RESULTS" || die "progrun failed"

# control: the ringfence cgroup and namespaces before ringfence ever ran there, against the
# baseline pair (ringfence's unload leaves a clsact qdisc behind, so this and the empty-program
# controls below come first)
log "baseline (nothing loaded)"
pairs base "$CG" "$DEVNS"

# controls: what having programs on ringfence's hooks costs at all, whatever they do. An empty
# program (r0 = 1; exit) on each of the 8 cgroup hooks ringfence uses, as links on the same
# cgroup; then also empty tc egress and ingress filters (TC_ACT_OK) on the device's veth like
# ringfence's packet guard (second wall) and ICMP-error filter, on a clsact qdisc that is removed again afterwards, so that ringfence later
# starts from a namespace that never had one (nulltc refuses an existing clsact)
log "control: empty programs on ringfence's 8 cgroup hooks"
[ "$(cg_progs "$CG")" = 0 ] || die "programs already attached to $CG"
drv nullattach "$CG" "$NULLPIN" || die "nullattach failed"
[ "$(cg_progs "$CG")" = 8 ] || die "nullattach did not attach 8 programs to $CG"
pairs null "$CG" "$DEVNS"
flowstat empty - "$NULLPIN/cgroup_skb_egress" "$NULLPIN/cgroup_skb_ingress"
log "control: the same plus empty tc egress and ingress filters"
drv nulltc "$DEVNS" "rfbrd$ID" on || die "nulltc on failed"
pairs nulltc "$CG" "$DEVNS"
drv nulltc "$DEVNS" "rfbrd$ID" off || die "nulltc off failed"
rm -rf "$NULLPIN"
for _ in $(seq 50); do # the links go when their last pin does
	[ "$(cg_progs "$CG")" = 0 ] && break
	sleep 0.1
done
[ "$(cg_progs "$CG")" = 0 ] || die "the empty programs are still attached to $CG"

# the peer's rules, persisted in the state dir; then unload so that the first isolate is cold
rf allow add net "$PEER4/32" proto tcp dir both >/dev/null
rf allow add net 2001:db8::2/128 proto tcp dir both >/dev/null
rf unload >/dev/null
[ ! -e "$PIN" ] || die "unload left $PIN behind"

log "isolation latency"
for _ in $(seq "$REPS"); do
	latency isolate_cold deny isolate --comment bench-cold
	latency release allow release --comment bench
	rf unload >/dev/null
done
rf load >/dev/null
drv fill "$PIN/rf_allow_net" 1 9 || die "fill failed" # the 2 peer rules + 8 = 10 rules
for _ in $(seq "$REPS"); do
	latency isolate_warm deny isolate --comment bench-warm
	rf release --comment bench >/dev/null
	v=$(drv latency "$CG" "$DEVNS" "$DENIED4" 9 deny 10000 "$DRIVER" setflag \
		"$PIN/rf_config" 1) || die "latency (map write) failed"
	rec lat isolate_map_write 0 "$v"
	v=$(drv latency "$CG" "$DEVNS" "$DENIED4" 9 allow 10000 "$DRIVER" setflag \
		"$PIN/rf_config" 0) || die "latency (map write) failed"
	rec lat release_map_write 0 "$v"
done

log "ringfence loaded, not isolated"
pairs loaded "$CG" "$DEVNS"

# Many targets: NTARGETS sibling cgroups of $CG, each its own target isolated with one rule,
# each isolate cold (its own programs loaded, verified, attached and pinned, and its own tc
# filter on the device's veth); then $CG's process, outside all of them, is measured again
log "$NTARGETS other targets isolated beside the measured cgroup"
root_progs=$(cg_progs "$CG2" || true) # grep finds no id: 0, status 1
for i in $(seq "$NTARGETS"); do
	mkdir "$TGT$i"
	# the rule persists in the target's state dir; unload, so that its isolate is cold
	rft "$TGT$i" allow add net "$PEER4/32" proto tcp port 5001 dir out >/dev/null
	rft "$TGT$i" unload >/dev/null
	t0=$(date +%s%N)
	rft "$TGT$i" isolate --comment "bench target $i" >/dev/null
	rec load target_isolate "$i" "$(ms_since "$t0")"
done
[ "$(cg_progs "$CG2" || true)" = "$root_progs" ] || die "a target attached programs at the cgroup2 root"
id1=$(stat -c %i "${TGT}1")
[ -d "$PIN/targets/$id1" ] || die "no pins of target 1 in $PIN/targets/$id1"
rec mem target_maps 0 "$(memlock_dir "$PIN/targets/$id1")"
rec meta tc_filters 0 "$(ip netns exec "$DEV" tc filter show dev "rfbrd$ID" egress |
	grep -c ' handle ')"
pairs multi "$CG" "$DEVNS"
for i in $(seq "$NTARGETS"); do
	rft "$TGT$i" release --comment bench >/dev/null
	rft "$TGT$i" unload >/dev/null
	rmdir "$TGT$i"
done
[ ! -e "$PIN/targets/$id1" ] || die "unload left $PIN/targets/$id1 behind"
rf isolate --comment bench >/dev/null
rec mem rf_allow_net_10 0 "$(memlock rf_allow_net)"
rec mem rf_net_hash_10 0 "$(memlock rf_net_hash)"
log "ringfence isolated, 10 rules: per packet on an established flow (kernel.bpf_stats)"
FLOW_PINS=("$PIN/rf_link_egress" "$PIN/rf_link_ingress" "$PIN/rf_prog_tc_egress")
flowstat cached - "${FLOW_PINS[@]}"
# the same with rf_policy_gen written before every segment: every packet judged in full, as the
# first packets of a flow are
flowstat rejudged "$PIN/rf_policy_gen" "${FLOW_PINS[@]}"
log "ringfence isolated, 10 rules"
pairs iso10 "$CG" "$DEVNS"
# what one connection of the rate workload costs in each program (kernel.bpf_stats, on only
# while rfbench runs); raw lines "conn PROG REP NS RUNS", both per connection
log "ringfence isolated, 10 rules: what a connection costs per program (kernel.bpf_stats)"
CONN_PINS=()
for p in rf_link_connect4 rf_link_sock_create rf_link_setsockopt rf_link_egress rf_link_ingress \
	rf_prog_tc_egress rf_prog_tc_ingress; do
	[ -e "$PIN/$p" ] && CONN_PINS+=("$PIN/$p")
done
for r in $(seq "$REPS"); do
	out=$(drv conncost "$CG" "$DEVNS" "$PEER4" 5001 "$MS" "${CONN_PINS[@]}") ||
		die "conncost failed"
	while read -r prog ns runs; do
		rec conn "$prog" "$r" "$ns" "$runs"
	done <<<"$out"
done
# the same without the second wall: what the tc program costs a connection and a stream
ip netns exec "$DEV" tc filter del dev "rfbrd$ID" egress
log "ringfence isolated, 10 rules, without the second wall"
pairs iso10nowall "$CG" "$DEVNS"
rf load >/dev/null # the config's packet-guard on puts the tc program back
# the client allowed by its executable: ringfence's exe rule with a user (rf_allow_exe_v3), then
# another agent's plain one (rf_allow_exe_v2, any user); the connect hooks look it up either way
drv exerule "$PIN" v3 || die "exerule v3 failed"
log "ringfence isolated, 10 rules, the client allowed by an exe rule with a user"
pairs iso10exe3 "$CG" "$DEVNS"
drv exerule "$PIN" v2 || die "exerule v2 failed"
log "ringfence isolated, 10 rules, the client allowed by a plain exe rule"
pairs iso10exe2 "$CG" "$DEVNS"
drv exerule "$PIN" off || die "exerule off failed"

t0=$(date +%s%N)
drv fill "$PIN/rf_allow_net" 9 "$((NRULES - 1))" || die "fill failed"
rec load fill_rules 0 "$(ms_since "$t0")"
log "ringfence isolated, $NRULES rules"
pairs iso100k "$CG" "$DEVNS"

rec mem rf_allow_net_100k 0 "$(memlock rf_allow_net)"
rec mem rf_net_hash_100k 0 "$(memlock rf_net_hash)"
rec mem all_maps_100k 0 "$(memlock_dir "$PIN")"
# the long-running processes, idle and under a flood of denied connects: the event reader and
# the agent (one at a time: while the agent runs it is the ring buffer's consumer)
footprint() {
	local name=$1 v
	shift
	bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@" >/dev/null 2>&1' _ "$AUX" \
		"${RF[@]}" "$@" &
	EVENTS_PID=$!
	sleep 1.5
	kill -0 "$EVENTS_PID" 2>/dev/null || die "ringfence $* exited early"
	rec rss "${name}_idle" 0 "$(rss_kb "$EVENTS_PID" VmRSS)"
	v=$(drv flood "$CG" "$DEVNS" "$DENIED4" 9 2000) || die "flood failed"
	rec flood "$name" 0 "$v"
	rec rss "${name}_flood" 0 "$(rss_kb "$EVENTS_PID" VmRSS)"
	rec rss "${name}_flood_peak" 0 "$(rss_kb "$EVENTS_PID" VmHWM)"
	kill "$EVENTS_PID"
	wait "$EVENTS_PID" 2>/dev/null || true
	EVENTS_PID=
}
footprint events events --follow
footprint agent agent
rf metrics | awk '/^ringfence_events_total/ { print "metric", $0 }' >>"$RESULTS"

log "isolation latency with $NRULES rules"
rf release --comment bench >/dev/null
for _ in $(seq "$REPS"); do
	latency isolate_warm_100k deny isolate --comment bench-warm-100k
	latency release_100k allow release --comment bench
done
rf unload >/dev/null
[ ! -e "$PIN" ] || die "unload left $PIN behind"

log "nftables, $NRULES prefixes"
t0=$(date +%s%N)
fwns nft -f "$WORK/ruleset.nft"
rec load nft 0 "$(ms_since "$t0")"
pairs nft100k "$CGB" "$FDEVNS"
fwns nft flush ruleset

log "iptables, 1,000 rules"
t0=$(date +%s%N)
fwns iptables-restore <"$WORK/ruleset.ipt"
rec load iptables 0 "$(ms_since "$t0")"
pairs ipt1k "$CGB" "$FDEVNS"

# ---- remote control ------------------------------------------------------------------------
if "$RF_BIN" --version | grep -q 'mqtt yes' && command -v mosquitto >/dev/null; then
	log "remote control (MQTT)"
	RINGFENCE_BIN=$RF_BIN RFBENCH_REPS=$REPS scripts/bench/mqtt.sh "$RESULTS"
else
	log "no remote control rows: a build without MQTT, or no mosquitto (make deps)"
fi

# ---- report --------------------------------------------------------------------------------
rec meta bin_size 0 "$(stat -c %s "$RF_BIN")"
rec meta bpf_obj_size 0 "$(stat -c %s "$ROOT/.output/ringfence.bpf.o" 2>/dev/null || echo 0)"
rec meta runtime_s 0 "$(($(date +%s) - START))"
# RFBENCH_SAVE=file keeps the raw samples, so report.py can be rerun on them without measuring
[ -z "${RFBENCH_SAVE:-}" ] || cp "$RESULTS" "$RFBENCH_SAVE"
python3 -B scripts/bench/report.py "$RESULTS" "$OUT_DOC" \
	--nproc "$(nproc)" \
	--cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
	--kernel "$(uname -r)" --date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
	--reps "$REPS" --pairs "$PAIRS" --ms "$MS" --repeat "$REPEAT" --rules "$NRULES" \
	--targets "$NTARGETS" --mqtt-idle-s "${RFBENCH_MQTT_IDLE_S:-20}" \
	--lens "$(awk '$2 == "RF_NET_FAST_LENS" { print $3 }' include/ringfence.h)" \
	--foreign "$FOREIGN" --iptables "${IPT_BACKEND:-unknown}" \
	--libbpf "$(pkg-config --modversion libbpf 2>/dev/null || echo unknown)" \
	--nft "$(nft --version | awk '{ print $2 }')" \
	--rev "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
log "wrote $OUT_DOC in $(($(date +%s) - START)) s"
