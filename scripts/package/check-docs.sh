#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The man page agrees with the CLI: every command, option, rule keyword and value, environment
# variable and exit status that 'ringfence --help' and 'ringfence COMMAND --help' print is in
# docs/ringfence.8, every option the man page gives a command is accepted by that command, and
# the page renders without groff warnings. Usage: check-docs.sh [BINARY]. No root needed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
bin=${1:-.output/ringfence}
man=docs/ringfence.8
fail=0 n=0
check() { # DESCRIPTION COMMAND...
	local what=$1
	shift
	n=$((n + 1))
	if ! "$@" >/dev/null 2>&1; then
		echo "FAIL: $what"
		fail=$((fail + 1))
	fi
}
# the rendered page, so roff escapes (\-) do not hide words
text=$(MANWIDTH=200 man -l "$man" 2>/dev/null | col -b)
in_man() { grep -qF -- "$1" <<<"$text"; }

safe_run() {
	local priv=()
	[[ $EUID -eq 0 ]] && command -v setpriv >/dev/null &&
		priv=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	RINGFENCE_CGROUP=/nonexistent RINGFENCE_PIN_DIR=/nonexistent/pins \
		RINGFENCE_STATE_DIR=/nonexistent/state RINGFENCE_CONFIG=/nonexistent/conf \
		"${priv[@]}" "$bin" "$@"
}
commands=$($bin --help | sed -n '/^Commands:/,/^$/p' | grep -oE '^  [a-z]+' | tr -d ' ')
commands="$commands unisolate help"
for c in $commands; do
	check "command '$c' in the man page" grep -qE "(ringfence|alias:) $c" <<<"$text"
	for o in $(safe_run "$c" --help 2>/dev/null | grep -oE -- '--[a-z-]+' | sort -u); do
		check "option '$c $o' in the man page" in_man "$o"
	done
done
for o in $($bin --help | grep -oE -- '(^| )-(-[a-z-]+|[a-zA-Z])' | tr -d ' ' | sort -u); do
	check "global option '$o' in the man page" in_man "$o"
done
for e in $($bin --help | grep -oE 'RINGFENCE_[A-Z_]+' | sort -u) RINGFENCE_REQUESTOR; do
	check "environment variable $e in the man page" in_man "$e"
done
for w in net host exe cgroup proto port dir tcp udp icmp any in out both; do
	check "rule word '$w' in the man page RULES" grep -qE "(^|[][ |])$w([][ |]|$)" \
		<<<"$(sed -n '/^RULES/,/^CONFIGURATION/p' <<<"$text")"
done
for s in 0 1 2; do
	check "exit status $s documented" grep -qE "^ +$s\b" <<<"$(sed -n '/^EXIT STATUS/,/^EXAMPLES/p' <<<"$text")"
done
for sec in NAME SYNOPSIS DESCRIPTION 'GLOBAL OPTIONS' COMMANDS RULES 'CONFIGURATION FILE' FILES \
	ENVIRONMENT 'EXIT STATUS' EXAMPLES 'SEE ALSO'; do
	check "section $sec" grep -qx "$sec" <<<"$text"
done
# the reverse: each option the man page's SYNOPSIS gives a command is accepted by the CLI
# (parsed before the root check, so a usage error would show as exit 2)
while read -r c opts; do
	for o in $opts; do
		n=$((n + 1))
		# --help first, so the command only parses its options and never runs; and, in case it
		# did, unprivileged and pointed at nothing real
		args=("$c" --help "$o")
		[[ $o == --comment || $o == --for ]] && args+=(1h)
		out=$(safe_run "${args[@]}" 2>&1)
		rc=$?
		if [[ $rc -ne 0 ]]; then
			echo "FAIL: man page says '$c $o' but the CLI says: $out"
			fail=$((fail + 1))
		fi
	done
done < <(sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' <<<"$text" | grep -E '^ +ringfence [a-z]+ .*--' |
	sed -E 's/^ +ringfence ([a-z]+) (.*)/\1 \2/' | while read -r c rest; do
		echo "$c $(grep -oE -- '--[a-z-]+' <<<"$rest" | tr '\n' ' ')"
	done)
# -ww: all warnings; the page must render cleanly
warn=$(groff -man -Tutf8 -ww -z "$man" 2>&1)
check "groff renders $man without warnings${warn:+: $warn}" test -z "$warn"
echo "man page: $((n - fail)) passed, $fail failed"
[[ $fail -eq 0 ]]
