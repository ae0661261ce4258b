#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Install what ringfence needs to build and test on Debian/Ubuntu: as root, or through sudo when
# run as a user (minimal hosts and containers often have no sudo: run it as root there).
# 'deps.sh kernels' also installs what 'make test-kernels' needs (qemu, cross compilers, ...).
set -e
if [ "$(id -u)" -eq 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1; then
	as_root="sudo"
else
	echo "deps.sh: run as root (or install sudo): apt-get needs root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update
$as_root apt-get install -y --no-install-recommends make gcc clang llvm libbpf-dev libelf-dev \
	zlib1g-dev libzstd-dev bpftool libcriterion-dev pkg-config iproute2 git ca-certificates \
	python3 util-linux procps nftables iptables clang-format \
	libmosquitto-dev libjansson-dev libssl-dev libmicrohttpd-dev mosquitto mosquitto-clients curl openssl
# the console's browser test (tests/console/browser.py): headless Chromium through Selenium
$as_root apt-get install -y --no-install-recommends chromium chromium-driver python3-selenium
if [ "${1:-}" = kernels ]; then
	$as_root apt-get install -y --no-install-recommends qemu-system-x86 qemu-system-arm \
		gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf busybox-static dpkg pahole \
		debian-archive-keyring
fi
