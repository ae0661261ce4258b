#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage: test-deb.sh [--install-on-this-host] [PACKAGE.deb]
# 1. Checks the .deb's contents, control data and maintainer scripts (always; no root needed).
# 2. Runs the package's prerm against an isolated throw-away cgroup (private pins and state) to
#    prove removal says so loudly, releases with comment 'package removed' and unpins (root,
#    bpffs and cgroup2 needed; skipped otherwise).
# 3. With --install-on-this-host (CI passes it): dpkg -i into this system, runs
#    'ringfence --version' and '--help', checks that nothing was loaded or started, removes,
#    purges and checks everything is gone. Never isolates or loads anything on this host.
set -euo pipefail
cd "$(dirname "$0")/../.." || exit 1
install=0
if [[ ${1:-} == --install-on-this-host ]]; then
	install=1
	shift
fi
deb=${1:-}
if [[ -z $deb ]]; then
	make --no-print-directory deb 2>&1 | grep -v 'overriding recipe\|ignoring old recipe' || true
	deb=$(ls -t .output/ringfence_*.deb | head -1)
fi
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
expect_file() { [[ -e $1 ]] && ok || bad "missing $1"; }
expect_gone() { [[ ! -e $1 ]] && ok || bad "left behind: $1"; }

echo "== contents of $deb"
files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
for f in /usr/sbin/ringfence /lib/systemd/system/ringfence.service /etc/ringfence/ringfence.conf \
	/usr/sbin/ringfence-console /lib/systemd/system/ringfence-console.service \
	/etc/ringfence/console.conf /usr/share/doc/ringfence/API.md \
	/usr/share/man/man8/ringfence.8.gz /usr/share/bash-completion/completions/ringfence \
	/usr/share/doc/ringfence/copyright /var/lib/ringfence/; do
	grep -qx -- "$f" <<<"$files" && ok || bad "$f not in the package"
done
info=$(dpkg-deb -f "$deb")
grep -q '^Package: ringfence$' <<<"$info" && ok || bad "control: Package"
[[ $(dpkg-deb -f "$deb" Version) == "$(make -s --no-print-directory -f Makefile -f - print-version 2>/dev/null <<<'print-version: ; @echo $(VERSION)' || true)" ]] && ok ||
	bad "control Version differs from the Makefile's VERSION"
tmp=$(mktemp -d)
dpkg-deb -e "$deb" "$tmp/DEBIAN"
grep -qx /etc/ringfence/ringfence.conf "$tmp/DEBIAN/conffiles" && ok || bad "conffiles"
grep -qx /etc/ringfence/console.conf "$tmp/DEBIAN/conffiles" && ok || bad "conffiles: console.conf"
for s in postinst prerm postrm; do
	sh -n "$tmp/DEBIAN/$s" && ok || bad "$s: syntax"
done
dpkg-deb -x "$deb" "$tmp/root"
grep -q '^ExecStart=/usr/sbin/ringfence agent$' "$tmp/root/lib/systemd/system/ringfence.service" &&
	ok || bad "unit ExecStart not substituted"
grep -q '^ExecStart=/usr/sbin/ringfence-console --config ' \
	"$tmp/root/lib/systemd/system/ringfence-console.service" && ok || bad "console unit ExecStart"
grep -q 'ringfence-console' "$tmp/DEBIAN/postinst" && bad "postinst enables the console (off by default)" || ok
zcat "$tmp/root/usr/share/man/man8/ringfence.8.gz" | grep -q '@VERSION@' && bad "man page version not substituted" || ok

# --- 2. prerm on an isolated throw-away cgroup -------------------------------------------------
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
bin=$(realpath .output/ringfence 2>/dev/null || true)
if [[ $EUID -ne 0 || -z $cg2 || ! -x $bin ]] || ! mountpoint -q /sys/fs/bpf; then
	echo "== skip prerm-on-isolated test: needs root, cgroup2, bpffs and .output/ringfence"
else
	echo "== prerm on an isolated throw-away cgroup ($cg2/rf-pkg-$$)"
	cg=$cg2/rf-pkg-$$
	export RINGFENCE_CGROUP=$cg RINGFENCE_PIN_DIR=/sys/fs/bpf/rf-pkg-$$ \
		RINGFENCE_STATE_DIR=$tmp/state RINGFENCE_CONFIG=$tmp/none.conf RINGFENCE_PACKET_GUARD=off
	cleanup_cg() {
		"$bin" unload --force >/dev/null 2>&1 || true
		rm -rf "$RINGFENCE_PIN_DIR"
		rmdir "$cg" 2>/dev/null || true
	}
	trap 'cleanup_cg; rm -rf "$tmp"' EXIT
	mkdir "$cg"
	"$bin" allow add net 192.0.2.2 proto tcp port 443 dir out >/dev/null
	"$bin" isolate --comment 'test-deb: prerm must release this' >/dev/null
	"$bin" --json status | grep -q '"isolated":true' && ok || bad "test cgroup not isolated"
	out=$(RINGFENCE_PKG_TEST=1 RINGFENCE_BIN=$bin sh "$tmp/DEBIAN/prerm" remove 2>&1) && ok ||
		bad "prerm remove failed: $out"
	grep -q 'THIS HOST IS ISOLATED' <<<"$out" && ok || bad "prerm did not say the host is isolated"
	grep -q 'released' <<<"$out" && ok || bad "prerm did not release"
	expect_gone "$RINGFENCE_PIN_DIR"
	hist=$("$bin" --json history)
	grep -q '"comment":"package removed"' <<<"$hist" && ok || bad "no release with comment 'package removed' in history"
	grep -q '"requestor":"dpkg:ringfence-package"' <<<"$hist" && ok || bad "requestor not recorded"
	# not isolated: prerm unloads quietly
	"$bin" load >/dev/null
	out=$(RINGFENCE_PKG_TEST=1 RINGFENCE_BIN=$bin sh "$tmp/DEBIAN/prerm" remove 2>&1) && ok || bad "prerm (loaded) failed"
	grep -q 'ISOLATED' <<<"$out" && bad "prerm claimed isolation on a host that was not isolated" || ok
	expect_gone "$RINGFENCE_PIN_DIR"
	cleanup_cg
	trap 'rm -rf "$tmp"' EXIT
	unset RINGFENCE_CGROUP RINGFENCE_PIN_DIR RINGFENCE_STATE_DIR RINGFENCE_CONFIG RINGFENCE_PACKET_GUARD
fi

# --- 3. install, run, remove, purge on this host -----------------------------------------------
if [[ $install -eq 1 ]]; then
	echo "== dpkg -i on this host"
	[[ $EUID -eq 0 ]] || { echo "--install-on-this-host needs root"; exit 1; }
	if dpkg -s ringfence >/dev/null 2>&1; then
		echo "ringfence is already installed on this host: not touching it"; exit 1
	fi
	if [[ -e /sys/fs/bpf/ringfence ]]; then
		echo "/sys/fs/bpf/ringfence exists: a ringfence instance runs on this host; removing the"
		echo "test package would unload it. Not touching it."; exit 1
	fi
	trap 'dpkg --purge ringfence >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
	t0=$(date +%s)
	if ! dpkg -i "$deb"; then
		bad "dpkg -i failed"
	else
		ok
		for f in /usr/sbin/ringfence /lib/systemd/system/ringfence.service \
			/etc/ringfence/ringfence.conf /usr/share/man/man8/ringfence.8.gz \
			/usr/share/bash-completion/completions/ringfence /var/lib/ringfence; do
			expect_file "$f"
		done
		v=$(/usr/sbin/ringfence --version) && ok || bad "ringfence --version failed"
		echo "  $v"
		grep -q "^ringfence $(dpkg-deb -f "$deb" Version) (git [0-9a-f]*\(-dirty\)\?\|unknown), libbpf [0-9.]*, ABI [0-9]*, mqtt \(yes\|no\)$" <<<"$v" && ok ||
			bad "unexpected --version: $v"
		/usr/sbin/ringfence --help | grep -q '^Usage: ringfence' && ok || bad "ringfence --help"
		man -w ringfence >/dev/null 2>&1 && ok || bad "man -w ringfence does not find the page"
		# installing must not load, attach or start anything here (no systemd as PID 1 in CI)
		expect_gone /sys/fs/bpf/ringfence
		pgrep -f '^/usr/sbin/ringfence agent' >/dev/null && bad "the agent was started" || ok
		/usr/sbin/ringfence-console --help | grep -q '^Usage: ringfence-console' && ok ||
			bad "ringfence-console --help"
		if [ -d /run/systemd/system ]; then
			systemctl is-enabled --quiet ringfence-console.service 2>/dev/null &&
				bad "the console was enabled (off by default)" || ok
		fi
		echo "== dpkg -r (configuration kept)"
		dpkg -r ringfence >/dev/null && ok || bad "dpkg -r failed"
		expect_gone /usr/sbin/ringfence
		expect_gone /lib/systemd/system/ringfence.service
		expect_file /etc/ringfence/ringfence.conf
		echo "== dpkg --purge"
		dpkg --purge ringfence >/dev/null && ok || bad "dpkg --purge failed"
		for f in /usr/sbin/ringfence /lib/systemd/system/ringfence.service /etc/ringfence \
			/usr/sbin/ringfence-console /lib/systemd/system/ringfence-console.service \
			/usr/share/man/man8/ringfence.8.gz /usr/share/bash-completion/completions/ringfence \
			/usr/share/doc/ringfence /var/lib/ringfence /sys/fs/bpf/ringfence; do
			expect_gone "$f"
		done
		dpkg -s ringfence >/dev/null 2>&1 && bad "dpkg still knows ringfence" || ok
		echo "  install, run, remove, purge: $(($(date +%s) - t0))s"
	fi
else
	echo "== skip install on this host (pass --install-on-this-host; CI does)"
fi
rm -rf "$tmp"
echo "deb: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
