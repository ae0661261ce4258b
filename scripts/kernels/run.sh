#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: run.sh [ID...]     (make test-kernels [KERNELS="5.10-amd64 6.1-arm64"])
# Boots each kernel of scripts/kernels/matrix (or the IDs given) under qemu (TCG, no KVM, no
# network device) and runs the whole kernel test suite inside: Debian's kernel package fetched
# with apt-get download (fetch.sh), a Debian 12 userland for the guest's architecture
# (rootfs.sh), the kernel's 9p/veth/tc/SCTP/DCCP/L2TP/SMC modules (modules.sh), the build tree shared
# read-only over 9p; for a kernel without BTF, a BTF file made with pahole (btf.sh) that the
# guest hands ringfence as --btf (RINGFENCE_BTF). ringfence and the tests are built for the guest (the host build for the
# host's architecture, a cross build against the guest userland otherwise). One line per kernel,
# then 'N passed, M failed' over kernels (', K skipped' for kernels that could not be fetched
# or built: never counted as passed). Guests run one at a time; each is killed after
# RF_KERNEL_TIMEOUT seconds (default 1800), and on exit or interrupt.
# Environment: OUTPUT (build dir, default .output), RF_KERNEL_TIMEOUT, RF_KERNEL_MEM (MiB, 2048),
# CRITERION_ARGS (passed to the guest's test binary, e.g. "--filter isolate/*").
set -euo pipefail
cd "$(dirname "$0")/../.." || exit 1
here=scripts/kernels
out=${OUTPUT:-.output}
cache=$PWD/$out/kernels
timeout_s=${RF_KERNEL_TIMEOUT:-1800}
mem=${RF_KERNEL_MEM:-2048}
modules="virtio_pci virtio_mmio 9pnet_virtio 9p veth sch_ingress cls_bpf crc32c_generic sctp dccp_ipv4 dccp_ipv6 l2tp_ip l2tp_ip6 smc udp_tunnel ip6_udp_tunnel vxlan inet_diag tcp_diag udp_diag"
mkdir -p "$cache/results" "$cache/logs"
host_arch=$(dpkg --print-architecture)

qpid=
cleanup() {
	if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
		kill -KILL "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	qpid=
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

want=("$@")
declare -a ids
while read -r id arch suites meta; do
	[[ -z $id || $id == \#* ]] && continue
	if [[ ${#want[@]} -gt 0 ]]; then
		m=0
		for w in "${want[@]}"; do [[ $w == "$id" ]] && m=1; done
		[[ $m -eq 1 ]] || continue
	fi
	ids+=("$id|$arch|$suites|$meta")
done <"$here/matrix"
for w in "${want[@]}"; do
	grep -q "^$w " "$here/matrix" || { echo "unknown kernel '$w' (see $here/matrix)"; exit 2; }
done

# Build ringfence and the kernel tests for ARCH; prints the build dir (relative to the tree).
declare -A built
build_for() {
	local arch=$1 root lib dir cross targ
	if [[ -n ${built[$arch]:-} ]]; then echo "${built[$arch]}"; return 0; fi
	if [[ $arch == "$host_arch" ]]; then
		dir=$out
		# the previous release too, for the upgrade suite (RINGFENCE_PREV_BIN in the guest)
		make --no-print-directory OUTPUT="$dir" "$dir/ringfence" "$dir/tests/kernel-tests" \
			"$dir/prev/ringfence" >&2 || return 1
	else
		case $arch in
		arm64) cross=aarch64-linux-gnu- targ=arm64 ;;
		armhf) cross=arm-linux-gnueabihf- targ=arm ;;
		*) echo "no cross compiler known for $arch" >&2; return 1 ;;
		esac
		command -v "${cross}gcc" >/dev/null || { echo "${cross}gcc is not installed" >&2; return 1; }
		root=$("$here/rootfs.sh" "$cache" "$arch") || return 1
		lib=$(basename "$(dirname "$(ls "$root"/usr/lib/*/libbpf.so.1)")")
		dir=$out/kernels/build-$arch
		targets=("$dir/ringfence" "$dir/prev/ringfence" "$dir/tests/kernel-tests")
		if [[ -e $root/.no-criterion ]]; then
			cat "$root/.no-criterion" >&2
			targets=("$dir/ringfence")
			rm -f "$dir/tests/kernel-tests"
		fi
		make --no-print-directory OUTPUT="$dir" ARCH=$targ CROSS_COMPILE=$cross \
			CFLAGS="-g -O2 -idirafter $root/usr/include" \
			LDFLAGS="-L$root/usr/lib/$lib -Wl,-rpath-link,$root/usr/lib/$lib -L$root/lib/$lib -Wl,-rpath-link,$root/lib/$lib" \
			"${targets[@]}" 2>&1 | grep -v 'overriding recipe\|ignoring old recipe' >&2
		[[ -x ${targets[-1]} ]] || return 1
	fi
	built[$arch]=$dir
	echo "$dir"
}

# The initramfs: guest userland (no docs, headers or static libs), the modules, /init.
initramfs() {
	local arch=$1 kdir=$2 dest=$3 root stage
	root=$("$here/rootfs.sh" "$cache" "$arch") || return 1
	stage=$dest.d
	rm -rf "$stage" && mkdir -p "$stage"
	cp -a "$root/." "$stage/"
	rm -rf "$stage/usr/share" "$stage/usr/include" "$stage/.done"
	find "$stage" -name '*.a' -delete
	"$here/modules.sh" "$kdir" "$stage" $modules || return 1
	install -m 0755 "$here/init" "$stage/init"
	mkdir -p "$stage/etc" && echo "root:x:0:0:root:/tmp:/bin/sh" >"$stage/etc/passwd"
	echo "root:x:0:" >"$stage/etc/group"
	(cd "$stage" && find . | busybox cpio -o -H newc 2>/dev/null) >"$dest"
	rm -rf "$stage"
}

qemu_cmd() { # ARCH KERNEL INITRD APPEND: sets cmd
	local common=(-m "$mem" -smp 1 -nographic -no-reboot -monitor none -nic none
		-virtfs "local,path=$PWD,mount_tag=src,security_model=none,readonly=on"
		-kernel "$2" -initrd "$3")
	case $1 in
	amd64) cmd=(qemu-system-x86_64 -cpu max "${common[@]}" -append "console=ttyS0 $4") ;;
	arm64) cmd=(qemu-system-aarch64 -M virt -cpu cortex-a72 "${common[@]}" -append "console=ttyAMA0 $4") ;;
	armhf) cmd=(qemu-system-arm -M virt,highmem=off -cpu cortex-a15 "${common[@]}" -append "console=ttyAMA0 $4") ;;
	esac
}

# What a kernel of ARCH needs on this host that is missing: "TOOL:PACKAGE ..." (empty: nothing).
missing_for() {
	local arch=$1 need=(busybox:busybox-static dpkg-deb:dpkg)
	case $arch in
	amd64) need+=(qemu-system-x86_64:qemu-system-x86) ;;
	arm64) need+=(qemu-system-aarch64:qemu-system-arm) ;;
	armhf) need+=(qemu-system-arm:qemu-system-arm) ;;
	esac
	if [[ $arch != "$host_arch" ]]; then
		case $arch in
		arm64) need+=(aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu) ;;
		armhf) need+=(arm-linux-gnueabihf-gcc:gcc-arm-linux-gnueabihf) ;;
		amd64) need+=(x86_64-linux-gnu-gcc:gcc-x86-64-linux-gnu) ;;
		esac
	fi
	local t out=()
	for t in "${need[@]}"; do command -v "${t%%:*}" >/dev/null || out+=("$t"); done
	echo "${out[*]}"
}
# Said on the terminal up front, and as each kernel's SKIP reason (never a FAIL with "no
# result" and the reason buried in a log).
declare -A pkgs_missing=()
for entry in "${ids[@]}"; do
	IFS='|' read -r _ arch _ _ <<<"$entry"
	for t in $(missing_for "$arch"); do pkgs_missing[${t#*:}]=1; done
done
if ((${#pkgs_missing[@]})); then
	echo "test-kernels: missing on this host: ${!pkgs_missing[*]}; install them with" \
		"'sh scripts/deps.sh kernels' (or apt-get install ${!pkgs_missing[*]});" \
		"the kernels that need them are skipped" >&2
fi

pass=0 fail=0 skip=0
for entry in "${ids[@]}"; do
	IFS='|' read -r id arch suites meta <<<"$entry"
	t0=$(date +%s)
	log=$cache/logs/$id.log
	res=$cache/results/$id
	: >"$log"
	line() { # RESULT SUMMARY RELEASE
		local secs=$(($(date +%s) - t0))
		printf '%-12s %-24s %-5s %s (%d s)\n' "$id" "${3:--}" "$1" "$2" "$secs"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$arch" "${3:--}" "$1" "$2" "$secs" \
			"$(date -u +%Y-%m-%d)" >"$res"
	}
	lack=$(missing_for "$arch")
	if [[ -n $lack ]]; then
		lack_pkgs=$(for t in $lack; do echo "${t#*:}"; done | sort -u | tr '\n' ' ')
		line SKIP "not installed: $(for t in $lack; do echo "${t%%:*}"; done | tr '\n' ' ')(apt-get install ${lack_pkgs% })"
		skip=$((skip + 1))
		continue
	fi
	if ! kdir=$("$here/fetch.sh" "$cache" "$arch" "$suites" "$meta" 2>>"$log"); then
		line SKIP "cannot fetch $meta:$arch from $suites: $(tail -1 "$log")"
		skip=$((skip + 1))
		continue
	fi
	release=$(basename "$kdir")
	append="quiet panic=-1"
	if ! grep -q '^CONFIG_DEBUG_INFO_BTF=y' "$kdir"/boot/config-*; then
		# a kernel without BTF, as on many boards: the README's recipe, then --btf
		if ! btf=$("$here/btf.sh" "$cache" "$arch" "$kdir" 2>>"$log"); then
			line SKIP "no BTF in the kernel, and none could be made: $(tail -1 "$log")" "$release"
			skip=$((skip + 1))
			continue
		fi
		append+=" rf.btf=${btf#"$PWD"/}"
	fi
	if ! bdir=$(build_for "$arch" 2>>"$log"); then
		line SKIP "cannot build for $arch: $(tail -1 "$log")" "$release"
		skip=$((skip + 1))
		continue
	fi
	if ! initramfs "$arch" "$kdir" "$cache/$id.cpio" 2>>"$log"; then
		line SKIP "cannot make the initramfs: $(tail -1 "$log")" "$release"
		skip=$((skip + 1))
		continue
	fi
	vmlinuz=$(ls "$kdir"/boot/vmlinuz-*)
	append+=" rf.bin=$bdir"
	[[ -n ${CRITERION_ARGS:-} ]] && append+=" rf.args=\"$CRITERION_ARGS\""
	qemu_cmd "$arch" "$vmlinuz" "$cache/$id.cpio" "$append"
	"${cmd[@]}" </dev/null >>"$log" 2>&1 &
	qpid=$!
	deadline=$((t0 + timeout_s))
	while kill -0 "$qpid" 2>/dev/null && [[ $(date +%s) -lt $deadline ]]; do sleep 2; done
	timed_out=0
	kill -0 "$qpid" 2>/dev/null && timed_out=1
	cleanup
	tr -d '\r' <"$log" >"$log.txt" && mv "$log.txt" "$log"
	synth=$(grep -a 'Synthesis: Tested' "$log" | tail -1 | sed 's/.*Synthesis: //' || true)
	tested=$(sed -n 's/.*Tested: \([0-9]*\).*/\1/p' <<<"$synth")
	passing=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$synth")
	failing=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$synth")
	crashing=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$synth")
	skipped=$(grep -a '\[SKIP\]' "$log" | grep -vc 'Test is disabled' || true)
	total=$(grep -a '^RF-TOTAL [0-9]' "$log" | tail -1 | sed 's/^RF-TOTAL //' || true)
	# a skip without its line still counts: whatever of the whole suite was not tested
	if [[ -z ${CRITERION_ARGS:-} && -n $total && -n $tested && $((total - tested)) -gt $skipped ]]; then skipped=$((total - tested)); fi
	rc=$(grep -a '^RF-RESULT' "$log" | tail -1 | sed 's/^RF-RESULT //' || true)
	# Criterion (2.4) also exits 1 on a warning or an error message, which its synthesis does not
	# count: cr_log_warn() or cr_log_error() in a test, a crash or exit in a setup or teardown
	notes='^\[WARN\]\|^\[ERR \]\|Warning! The test'
	warned=$(grep -a -c "$notes" "$log" || true)
	why=
	[[ ${warned:-0} -gt 0 ]] && why=", $warned warnings or errors (Criterion fails the run for each)"
	smoke=$(grep -a '^RF-SMOKE [0-9]* passed' "$log" | tail -1 | sed 's/^RF-SMOKE //' || true)
	if [[ -n $smoke || $rc == smoke* ]]; then
		# not the suite: never a pass, whatever the smoke test says
		line SKIP "no test suite for $arch ($(grep -a -m1 'no Criterion' "$log" || echo 'no kernel-tests')); smoke test: ${smoke:-no result}" "$release"
		skip=$((skip + 1))
		grep -a 'RF-SMOKE FAILED' "$log" | sed 's/^/    /' | head -20 || true
		continue
	fi
	if [[ $timed_out -eq 1 ]]; then
		line FAIL "timed out after ${timeout_s} s${synth:+ ($synth)}; log $log" "$release"
		fail=$((fail + 1))
	elif [[ -z $synth || $rc != "exit 0" || ${failing:-1} -ne 0 || ${crashing:-1} -ne 0 ]]; then
		line FAIL "tests: ${passing:-?} passed, $((${failing:-0} + ${crashing:-0})) failed, $skipped skipped$why (${rc:-no result}); log $log" "$release"
		fail=$((fail + 1))
	else
		line PASS "tests: $passing passed, 0 failed, $skipped skipped of $tested" "$release"
		pass=$((pass + 1))
	fi
	{ grep -a "\\[FAIL\\]\\|$notes" "$log"; grep -a '\[SKIP\]' "$log" | grep -v 'Test is disabled'; } |
		sed 's/^/    /' | head -20 || true
done
summary="$pass passed, $fail failed"
[[ $skip -gt 0 ]] && summary+=", $skip skipped"
echo "$summary"
[[ $fail -eq 0 ]]
