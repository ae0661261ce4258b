# SPDX-License-Identifier: GPL-2.0-only
# ringfence build, in the libbpf-bootstrap style: bpf/X.bpf.c -> X.bpf.o -> X.skel.h -> user objs.
OUTPUT ?= .output
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= bpftool
CROSS_COMPILE ?=
CC := $(CROSS_COMPILE)gcc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

ARCH ?= $(shell uname -m | sed 's/x86_64/x86/' | sed 's/aarch64/arm64/' \
	| sed 's/ppc64le/powerpc/' | sed 's/mips.*/mips/' | sed 's/riscv64/riscv/')

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Where the system headers live for the BPF target (bpf_helpers.h etc. come from libbpf-dev).
CLANG_BPF_SYS_INCLUDES ?= $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

INCLUDES := -Iinclude -I$(OUTPUT) -Ibpf
WARN := -Wall -Wextra -Werror -Wmissing-prototypes -Wformat=2
CFLAGS ?= -g -O2
SAN ?=
# 64-bit time_t and off_t on 32-bit boards too (armhf): event and history times past 2038
ALL_CFLAGS := $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 \
	-MMD -MP $(INCLUDES) $(SAN) -DRF_VERSION='"$(VERSION)"' -DRF_GIT_REV='"$(GIT_REV)"'
# jansson: every JSON document the product writes, and the tests' strict parser.
ifeq ($(STATIC),1)
LIBS := -static $(shell $(PKG_CONFIG) --static --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz) -lzstd -ljansson
else
LIBS := -lbpf -lelf -lz -ljansson
endif
LDFLAGS ?=

# Remote control over MQTT (user/mqtt.c, user/cmd_remote.c): libmosquitto, jansson and libcrypto
# (for the CN of the responder's certificate). Debian ships no static libmosquitto, so a static
# build leaves it out, as does a cross build (no libmosquitto for the target in the sysroot);
# RF_MQTT=1 or 0 decides explicitly. Without it, 'ringfence remote' and the agent's mqtt-*
# settings say so, and --version shows "mqtt no".
ifneq ($(STATIC)$(CROSS_COMPILE),)
RF_MQTT ?= 0
endif
RF_MQTT ?= $(shell $(PKG_CONFIG) --exists libmosquitto jansson libcrypto 2>/dev/null && echo 1 || echo 0)
ifeq ($(RF_MQTT),1)
ALL_CFLAGS += -DRF_MQTT=1
LIBS += -lmosquitto -lcrypto
else
ALL_CFLAGS += -DRF_MQTT=0
ifeq ($(filter clean format format-check lint deps vmlinux,$(MAKECMDGOALS)),)
$(info ringfence: building without MQTT remote control (RF_MQTT=0: $(if $(STATIC)$(CROSS_COMPILE),static or cross build,libmosquitto-dev or libjansson-dev or libssl-dev missing: make deps)))
endif
endif

BPF_SRC := bpf/ringfence.bpf.c
BPF_OBJ := $(OUTPUT)/ringfence.bpf.o
SKEL := $(OUTPUT)/ringfence.skel.h
BPF_OBJ_NOKF := $(OUTPUT)/ringfence_nokf.bpf.o
SKEL_NOKF := $(OUTPUT)/ringfence_nokf.skel.h
LIB_SRC := $(filter-out user/main.c,$(wildcard user/*.c))
LIB_OBJ := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(LIB_SRC))
MAIN_OBJ := $(OUTPUT)/user/main.o
BIN := $(OUTPUT)/ringfence
# the strict JSON reader (tests/lib/rft_jansson.c) serves the unit tests too
UNIT_SRC := $(wildcard tests/unit/*.c) tests/lib/rft_jansson.c
UNIT_BIN := $(OUTPUT)/tests/unit-tests
KTEST_SRC := $(wildcard tests/kernel/*.c) $(wildcard tests/lib/*.c)
KTEST_HDR := $(wildcard tests/lib/*.h)
KTEST_BIN := $(OUTPUT)/tests/kernel-tests
# ringfence-console (console/): the responders' HTTP API and page; the device binary gains no
# HTTP server. The page (console/web/) is embedded into the binary (console/web.c, .incbin).
CONSOLE_SRC := $(wildcard console/*.c)
CONSOLE_OBJ := $(patsubst console/%.c,$(OUTPUT)/console/%.o,$(CONSOLE_SRC))
CONSOLE_LIB_OBJ := $(filter-out $(OUTPUT)/console/main.o,$(CONSOLE_OBJ))
CONSOLE_WEB := $(wildcard console/web/*)
CONSOLE_BIN := $(OUTPUT)/ringfence-console
# Always dynamic (STATIC=1 is for the device binary on boards; the console runs on a server).
CONSOLE_LIBS := -lmicrohttpd -lmosquitto -ljansson -lpthread
CTEST_SRC := $(wildcard tests/console/*.c) $(wildcard tests/lib/*.c)
CTEST_HDR := $(wildcard tests/console/*.h) $(wildcard tests/lib/*.h) console/console.h
CTEST_BIN := $(OUTPUT)/tests/console-tests

.DELETE_ON_ERROR:
.PHONY: all prev test unit-test kernel-test console-test asan clean deps bench bench-restart bench-mqtt \
	bench-console vmlinux format format-check lint FORCE

all: $(BIN) $(CONSOLE_BIN)

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/tests $(OUTPUT)/console:
	$(Q)mkdir -p $@

BPF_CC = $(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-I. -Iinclude -Ibpf $(CLANG_BPF_SYS_INCLUDES)
$(BPF_OBJ): $(BPF_SRC) $(wildcard bpf/*.bpf.h) include/ringfence.h include/rf_host.h vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(BPF_CC) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

# The same programs without a kfunc, for kernels without BTF: libbpf resolves a kfunc (even a
# weak one) against the running kernel's own BTF, which --btf cannot stand in for. Only its
# bytes are used, opened through ringfence_bpf's skeleton (user/loader.c).
$(BPF_OBJ_NOKF): $(BPF_SRC) $(wildcard bpf/*.bpf.h) include/ringfence.h include/rf_host.h vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(BPF_CC) -DRF_NO_KFUNC -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(SKEL): $(BPF_OBJ)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name ringfence_bpf > $@

$(SKEL_NOKF): $(BPF_OBJ_NOKF)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name ringfence_nokf_bpf > $@

# The object's identity (include/ringfence.h, struct rf_build): when it was built
# (SOURCE_DATE_EPOCH for reproducible packages, else now) and its hash. A loader that finds the
# links running an earlier build's programs puts its own in place.
BUILD_ID := $(OUTPUT)/rf_build_id.h
$(BUILD_ID): $(BPF_OBJ) $(BPF_OBJ_NOKF)
	$(call msg,GEN,$@)
	$(Q)printf '#define RF_BUILD_TIME %sULL\n#define RF_BUILD_HASH 0x%sULL\n' \
		"$${SOURCE_DATE_EPOCH:-$$(date +%s)}" "$$(cat $^ | sha256sum | cut -c1-16)" >$@

# The git revision is baked into main.o; the stamp changes only when the revision does, so a new
# commit rebuilds main.o and nothing else.
GIT_REV_STAMP := $(OUTPUT)/git-rev
$(GIT_REV_STAMP): FORCE | $(OUTPUT)
	$(Q)echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' >$@
$(MAIN_OBJ): $(GIT_REV_STAMP)
FORCE:

$(OUTPUT)/user/%.o: user/%.c $(SKEL) $(SKEL_NOKF) $(BUILD_ID) | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BIN): $(MAIN_OBJ) $(LIB_OBJ)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(LDFLAGS) $(LIBS) -o $@

$(OUTPUT)/console/%.o: console/%.c | $(OUTPUT)/console
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Iconsole -c $< -o $@

$(OUTPUT)/console/web.o: $(CONSOLE_WEB)
$(OUTPUT)/console/options.o: $(GIT_REV_STAMP)

$(CONSOLE_BIN): $(CONSOLE_OBJ)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(LDFLAGS) $(CONSOLE_LIBS) -o $@

$(UNIT_BIN): $(UNIT_SRC) $(LIB_OBJ) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib $^ $(LDFLAGS) $(LIBS) -lcriterion -o $@

# One compiler run for all sources: -MMD would record only the last source's headers (and a
# stale list names deleted files), so the harness headers are listed here instead. docs/ABI.md
# is embedded (.incbin): a test runs its bpftool recipe verbatim; docs/REMOTE.md too (its
# mosquitto configuration).
$(KTEST_BIN): $(KTEST_SRC) $(KTEST_HDR) docs/ABI.md docs/REMOTE.md $(LIB_OBJ) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(filter-out -MMD -MP,$(ALL_CFLAGS)) -Itests/lib $(filter-out %.h %.md,$^) $(LDFLAGS) \
		$(LIBS) -lcriterion -o $@

# The previous release's CLI (ABI 1), built from git history for the upgrade test
# (tests/kernel/test_upgrade.c); cached in $(OUTPUT)/prev. Without git history this fails: the
# upgrade test must not pass by skipping.
PREV_REV := 5fae8ca
PREV_BIN := $(OUTPUT)/prev/ringfence
PREV_MISSING := cannot build the previous release: commit $(PREV_REV) is not in the git \
	history (a shallow clone or a tarball?). The upgrade kernel test needs it: fetch the \
	history (git fetch --unshallow) and run make again.
$(PREV_BIN): | $(OUTPUT)
	$(call msg,PREV,$@ (ABI 1, git $(PREV_REV)))
	$(Q)git cat-file -e '$(PREV_REV)^{commit}' 2>/dev/null || { echo '$(PREV_MISSING)' >&2; exit 1; }
	$(Q)rm -rf $(OUTPUT)/prev && mkdir -p $(OUTPUT)/prev/src
	$(Q)git archive $(PREV_REV) | tar -x -C $(OUTPUT)/prev/src
	$(Q)$(MAKE) --no-print-directory -C $(OUTPUT)/prev/src OUTPUT=.output CFLAGS='$(CFLAGS)' \
		>$(OUTPUT)/prev/build.log 2>&1 || { cat $(OUTPUT)/prev/build.log >&2; exit 1; }
	$(Q)cp $(OUTPUT)/prev/src/.output/ringfence $@

prev: $(PREV_BIN)

unit-test: $(UNIT_BIN)
	$(Q)$(UNIT_BIN) $(CRITERION_ARGS)

# Kernel tests need root, bpffs and cgroup2; they skip with a reason otherwise, and fail
# instead when RINGFENCE_REQUIRE_KERNEL=1 (CI).
# As a user with sudo, only the kernel tests run as root.
kernel-test: $(KTEST_BIN) $(BIN) $(PREV_BIN)
	$(Q)as_root=; if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then \
		as_root=sudo; fi; \
	$$as_root env RINGFENCE_BIN=$(abspath $(BIN)) RINGFENCE_PREV_BIN=$(abspath $(PREV_BIN)) \
		RINGFENCE_REQUIRE_KERNEL=$(RINGFENCE_REQUIRE_KERNEL) $(KTEST_BIN) -j1 $(CRITERION_ARGS)

# The console against its own mosquitto, a simulated device (and, where ringfence's remote agent
# exists, a real one on a throw-away cgroup) and headless Chromium (tests/console/).
$(CTEST_BIN): $(CTEST_SRC) $(CTEST_HDR) $(CONSOLE_LIB_OBJ) $(LIB_OBJ) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(filter-out -MMD -MP,$(ALL_CFLAGS)) -Itests/lib -Iconsole \
		$(filter-out %.h,$^) $(LDFLAGS) $(CONSOLE_LIBS) $(LIBS) -lcriterion -o $@

console-test: $(CTEST_BIN) $(CONSOLE_BIN) $(BIN)
	$(Q)as_root=; if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then \
		as_root=sudo; fi; \
	$$as_root env RINGFENCE_BIN=$(abspath $(BIN)) RINGFENCE_CONSOLE_BIN=$(abspath $(CONSOLE_BIN)) \
		RINGFENCE_OUTPUT=$(abspath $(OUTPUT)) RINGFENCE_SRC=$(CURDIR) \
		RINGFENCE_REQUIRE_KERNEL=$(RINGFENCE_REQUIRE_KERNEL) $(CTEST_BIN) -j1 $(CRITERION_ARGS)

test: unit-test kernel-test console-test

asan:
	$(Q)$(MAKE) --no-print-directory OUTPUT=.output-asan \
		SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' test

bench: $(BIN) $(CONSOLE_BIN) $(CTEST_BIN)
	$(Q)RINGFENCE_BIN=$(abspath $(BIN)) scripts/bench/run.sh
	$(Q)RINGFENCE_BIN=$(abspath $(BIN)) RINGFENCE_CONSOLE_BIN=$(abspath $(CONSOLE_BIN)) \
		scripts/bench/console.sh

# The console's rows of make bench alone (docs/PERFORMANCE.md, "Console").
bench-console: $(BIN) $(CONSOLE_BIN) $(CTEST_BIN)
	$(Q)RINGFENCE_BIN=$(abspath $(BIN)) RINGFENCE_CONSOLE_BIN=$(abspath $(CONSOLE_BIN)) \
		scripts/bench/console.sh

# How long a restarted container is open, with the OCI hook and with the agent alone (root).
bench-restart: $(BIN)
	$(Q)RINGFENCE_BIN=$(abspath $(BIN)) scripts/bench/oci-window.sh

# Only the remote-control rows of the bench (printed, not written to docs/PERFORMANCE.md).
bench-mqtt: $(BIN)
	$(Q)RINGFENCE_BIN=$(abspath $(BIN)) scripts/bench/mqtt.sh

deps:
	sh scripts/deps.sh

# Formatting (.clang-format, kernel style) and the structure rules CI checks.
FORMAT_SRC := $(wildcard user/*.c include/*.h bpf/*.c bpf/*.h tests/*/*.c tests/*/*.h console/*.c console/*.h \
	scripts/bench/*.c)
format:
	clang-format -i $(FORMAT_SRC)

format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRC)

lint: format-check
	$(Q)scripts/check-func-length.sh user/*.c console/*.c

vmlinux:
	scripts/gen-vmlinux.sh

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) .output-asan .output-static .output-arm64 .output-i386

# Packaging, man page, completion, static and cross builds (issue: ship it).
-include scripts/package.mk
# Compatibility matrix under qemu: make test-kernels (issue 13).
-include scripts/kernels.mk
# libFuzzer targets for the parsers: make fuzz (tests/fuzz/fuzz.mk).
-include tests/fuzz/fuzz.mk

-include $(wildcard $(OUTPUT)/user/*.d) $(wildcard $(OUTPUT)/console/*.d) $(OUTPUT)/tests/unit-tests.d
