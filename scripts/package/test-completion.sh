#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Check scripts/ringfence.bash: simulate completions and compare with what the CLI accepts.
# Runs with and without the bash-completion package (_init_completion). No root needed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
fail=0 n=0

run_suite() {
	# complete LINE: words of LINE, completing the last one (empty if LINE ends with a blank)
	complete_line() {
		local line=$1
		read -ra COMP_WORDS <<<"$line"
		[[ $line == *' ' ]] && COMP_WORDS+=('')
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE=$line COMP_POINT=${#line}
		COMPREPLY=()
		_ringfence ringfence "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
	}
	expect() { # LINE EXPECTED (space-separated, sorted)
		local got
		got=$(complete_line "$1")
		n=$((n + 1))
		if [[ $got != "$2" ]]; then
			echo "FAIL [$mode] '$1': got '$got', want '$2'"
			fail=$((fail + 1))
		fi
	}
	contains() { # LINE WORD
		local got
		got=" $(complete_line "$1") "
		n=$((n + 1))
		if [[ $got != *" $2 "* ]]; then
			echo "FAIL [$mode] '$1': '$2' not offered (got '$got')"
			fail=$((fail + 1))
		fi
	}
	expect 'ringfence ' 'agent allow confirm events help history isolate load metrics oci-hook release remote status unisolate unload'
	expect 'ringfence remote ' 'actions devices isolate release status'
	expect 'ringfence remote isolate web-07 --w' '--wait'
	expect 'ringfence is' 'isolate'
	expect 'ringfence un' 'unisolate unload'
	expect 'ringfence --' '--btf --cgroup --config --container --help --json --pid --pin-dir --state-dir --unit --verbose --version'
	expect 'ringfence --json --pin-dir /tmp/x st' 'status'
	expect 'ringfence isolate --' '--audit --comment --confirm-within --for --force --help --json --verify --verify-timeout'
	expect 'ringfence isolate --for ' '15m 1d 1h 2h 30s 5m 5s 8h'
	expect 'ringfence isolate --comment ' ''
	expect 'ringfence release --' '--comment --help --json'
	expect 'ringfence events --' '--follow --help --json'
	expect 'ringfence unload --' '--force --help --json'
	expect 'ringfence allow ' '--help add del list'
	expect 'ringfence allow add ' 'cgroup exe host net'
	expect 'ringfence allow add h' 'host'
	expect 'ringfence allow add host ' ''
	expect 'ringfence allow add host *.example.com ' '--json dir port proto'
	expect 'ringfence allow add host mgmt.example.com proto tcp ' '--json dir port'
	expect 'ringfence allow del host mgmt.example.com dir ' 'both in out'
	expect 'ringfence allow del n' 'net'
	expect 'ringfence allow add net 192.0.2.0/24 ' '--json dir port proto'
	expect 'ringfence allow add net 192.0.2.0/24 proto ' 'any icmp tcp udp'
	expect 'ringfence allow add net 192.0.2.0/24 proto tcp ' '--json dir port'
	expect 'ringfence allow add net 192.0.2.0/24 proto tcp port 443 dir ' 'both in out'
	expect 'ringfence allow add net 192.0.2.0/24 proto tcp port 443 dir out ' '--json'
	expect 'ringfence help st' 'status'
	contains 'ringfence allow add exe /usr/sb' '/usr/sbin'
	contains 'ringfence --config /et' '/etc'
	local mnt
	mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	if [[ -n $mnt ]]; then
		local sub
		sub=$(find "$mnt" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | head -1)
		[[ -n $sub ]] && contains "ringfence allow add cgroup /${sub:0:3}" "/$sub/"
	fi
}

# every command and every option in --help must be offered
check_help() {
	local bin=.output/ringfence c o
	[[ -x $bin ]] || { echo "skip help cross-check: $bin not built"; return; }
	for c in $($bin --help | sed -n '/^Commands:/,/^$/p' | grep -oE '^  [a-z]+' ); do
		n=$((n + 1))
		grep -qw "$c" scripts/ringfence.bash || { echo "FAIL command $c missing"; fail=$((fail + 1)); }
	done
	for o in $($bin --help | grep -oE -- '--[a-z-]+' | sort -u); do
		n=$((n + 1))
		grep -q -- "$o" scripts/ringfence.bash || { echo "FAIL option $o missing"; fail=$((fail + 1)); }
	done
}

mode=plain
(
	# shellcheck disable=SC1091
	source scripts/ringfence.bash
	run_suite
	echo "$n $fail" >"${TMPDIR:-/tmp}/rf-compl-$$"
)
read -r n1 f1 <"${TMPDIR:-/tmp}/rf-compl-$$"
n=$n1 fail=$f1
if [[ -r /usr/share/bash-completion/bash_completion ]]; then
	mode=bash-completion
	(
		# shellcheck disable=SC1091
		source /usr/share/bash-completion/bash_completion
		source scripts/ringfence.bash
		n=0 fail=0
		run_suite
		echo "$n $fail" >"${TMPDIR:-/tmp}/rf-compl-$$"
	)
	read -r n2 f2 <"${TMPDIR:-/tmp}/rf-compl-$$"
	n=$((n + n2)) fail=$((fail + f2))
else
	echo "note: bash-completion not installed; checked the plain fallback only"
fi
rm -f "${TMPDIR:-/tmp}/rf-compl-$$"
check_help
echo "completion: $((n - fail)) passed, $fail failed"
[[ $fail -eq 0 ]]
