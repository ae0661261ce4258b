#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Packaging checks for CI (run by .ci/run as root after 'make deps && make'): unit file, man
# page and completion, default config, the .deb (built, installed on this host, run, purged;
# never isolates), static binary, arm64 cross build under qemu, Ansible role on a throw-away
# cgroup. About 3 minutes on a warm apt cache.
set -euo pipefail
cd "$(dirname "$0")/../.." || exit 1
export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
step() { printf '\n--- %s (%ss)\n' "$*" "$(($(date +%s) - start))"; }
mk() { make --no-print-directory "$@" 2>&1 | grep -v 'overriding recipe\|ignoring old recipe'; return "${PIPESTATUS[0]}"; }

step "packaging prerequisites"
apt-get install -y -qq --no-remove --no-install-recommends systemd man-db groff-base bsdextrautils \
	bash-completion libzstd-dev libjansson-dev file >/dev/null
step "systemd-analyze verify"
mk unit-check
step "man page vs --help, bash completion"
mk docs-check
step "default config"
mk conf-check
step "deb: build, prerm on an isolated throw-away cgroup, install/run/purge on this host"
mk deb
RF_DEB_INSTALL=1 mk deb-test
step "static binary"
mk static-check
step "arm64 cross build under qemu-user"
scripts/package/cross-arm64.sh --install-deps
step "ansible"
scripts/package/test-ansible.sh --install-deps
step "packaging checks done"
