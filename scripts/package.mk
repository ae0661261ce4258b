# SPDX-License-Identifier: GPL-2.0-only
# Install, packaging, documentation checks, static and cross builds. Included at the end of the
# Makefile, so OUTPUT, BIN, PREFIX, DESTDIR, VERSION, ARCH, CROSS_COMPILE, CC, Q and msg are set.
#
#   make install | uninstall     PREFIX=/usr/local DESTDIR= (binary, unit, config, man, completion)
#   make deb                     .output/ringfence_VERSION_ARCH.deb (dpkg-deb, no debian/ dir)
#   make deb-test                build the .deb and check its contents (RF_DEB_INSTALL=1: also
#                                dpkg -i, run, purge on this host; never isolates anything)
#   make static-check            STATIC=1 build in .output-static: not dynamic, runs in an empty
#                                chroot, prints the size
#   make cross-arm64             arm64 build in .output-arm64, run under qemu-aarch64
#   make unit-test-32            the number, rule, time and JSON unit tests built for i386
#                                (gcc -m32) and run: what a 32-bit board (armhf) gets wrong
#   make unit-check              systemd-analyze verify of the unit
#   make docs-check              man page agrees with --help; bash completion works
#   make conf-check              the default config (and each example in it) parses
#   make ansible-check           the Ansible role and playbooks (--check, then a real run on a
#                                throw-away cgroup)
#   make package-check           all of the above that need no extra packages

SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# systemd reads /usr/local/lib/systemd/system too, so a /usr/local install is found.
UNITDIR ?= $(PREFIX)/lib/systemd/system
STATEDIR ?= /var/lib/ringfence
PIN_DIR ?= /sys/fs/bpf/ringfence

PKG_DIR := scripts/package
ifeq ($(ARCH),x86)
DEB_ARCH ?= amd64
else ifeq ($(ARCH),arm64)
DEB_ARCH ?= arm64
else ifeq ($(ARCH),riscv)
DEB_ARCH ?= riscv64
else
DEB_ARCH ?= $(shell dpkg --print-architecture 2>/dev/null)
endif
DEB_VERSION ?= $(VERSION)
DEB_NAME := ringfence_$(DEB_VERSION)_$(DEB_ARCH)
DEB_STAGE := $(OUTPUT)/deb/$(DEB_NAME)
DEB := $(OUTPUT)/$(DEB_NAME).deb
CONF_CHECK := $(OUTPUT)/conf-check

.PHONY: install uninstall install-files deb deb-test static-check cross-arm64 unit-test-32 unit-check \
	docs-check conf-check ansible-check package-check

# --- install / uninstall ----------------------------------------------------------------------
# The binary embeds the BPF object (skeleton), so it is the only program file; the console embeds
# its page. The console's unit is installed disabled (off by default).
install-files: $(BIN) $(CONSOLE_BIN)
	$(call msg,INSTALL,$(DESTDIR)$(SBINDIR)/ringfence)
	$(Q)install -D -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/ringfence
	$(Q)install -D -m 0755 $(CONSOLE_BIN) $(DESTDIR)$(SBINDIR)/ringfence-console
	$(Q)install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/share/doc/ringfence
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g' scripts/ringfence-console.service \
		>$(DESTDIR)$(UNITDIR)/ringfence-console.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/ringfence-console.service
	$(Q)install -m 0644 docs/API.md $(DESTDIR)$(PREFIX)/share/doc/ringfence/API.md
	$(Q)install -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/ringfence/console
	$(Q)conf=$(DESTDIR)$(SYSCONFDIR)/ringfence/console.conf; \
	if [ ! -e $$conf ]; then install -D -m 0644 scripts/ringfence-console.conf $$conf; \
	elif ! cmp -s scripts/ringfence-console.conf $$conf; then \
		install -m 0644 scripts/ringfence-console.conf $$conf.dist; fi
	$(Q)install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSCONFDIR)/ringfence
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g' scripts/ringfence.service \
		>$(DESTDIR)$(UNITDIR)/ringfence.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/ringfence.service
	$(Q)sed 's|@VERSION@|$(VERSION)|g' docs/ringfence.8 >$(DESTDIR)$(MANDIR)/man8/ringfence.8
	$(Q)chmod 0644 $(DESTDIR)$(MANDIR)/man8/ringfence.8
	$(Q)install -m 0644 scripts/ringfence.bash $(DESTDIR)$(BASHCOMPDIR)/ringfence
	@# never overwrite a site's configuration
	$(Q)conf=$(DESTDIR)$(SYSCONFDIR)/ringfence/ringfence.conf; \
	if [ ! -e $$conf ]; then \
		install -m 0644 scripts/ringfence.conf $$conf; \
	elif ! cmp -s scripts/ringfence.conf $$conf; then \
		install -m 0644 scripts/ringfence.conf $$conf.dist; \
		echo "  kept your $$conf; the new default is $$conf.dist"; \
	fi

install: install-files
	$(Q)if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl daemon-reload; \
		echo "  'systemctl enable --now ringfence' starts the agent at boot (edit"; \
		echo "  $(SYSCONFDIR)/ringfence/ringfence.conf first)"; \
	fi

# Removing the program while its programs are pinned would leave the kernel enforcing (maybe an
# isolated host) with no CLI to release it: refuse, unless FORCE=1.
uninstall:
	$(Q)if [ -z "$(DESTDIR)" ] && [ -d $(PIN_DIR) ] && [ "$(FORCE)" != 1 ]; then \
		echo "ringfence is still loaded ($(PIN_DIR) exists); if the host is isolated it"; \
		echo "stays isolated. Run 'ringfence release && ringfence unload' first, or"; \
		echo "'make uninstall FORCE=1' to remove the files anyway."; \
		exit 1; \
	fi
	$(Q)if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl disable --now ringfence.service 2>/dev/null || true; \
	fi
	$(call msg,UNINSTALL,$(DESTDIR)$(SBINDIR)/ringfence)
	$(Q)if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl disable --now ringfence-console.service 2>/dev/null || true; \
	fi
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/ringfence-console $(DESTDIR)$(UNITDIR)/ringfence-console.service \
		$(DESTDIR)$(PREFIX)/share/doc/ringfence/API.md \
		$(DESTDIR)$(SYSCONFDIR)/ringfence/console.conf.dist
	$(Q)conf=$(DESTDIR)$(SYSCONFDIR)/ringfence/console.conf; \
	if [ -e $$conf ] && cmp -s scripts/ringfence-console.conf $$conf; then rm -f $$conf; fi
	-$(Q)rmdir $(DESTDIR)$(SYSCONFDIR)/ringfence/console $(DESTDIR)$(PREFIX)/share/doc/ringfence 2>/dev/null
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/ringfence $(DESTDIR)$(UNITDIR)/ringfence.service \
		$(DESTDIR)$(MANDIR)/man8/ringfence.8 $(DESTDIR)$(BASHCOMPDIR)/ringfence \
		$(DESTDIR)$(SYSCONFDIR)/ringfence/ringfence.conf.dist
	@# the configuration goes only if it is still the shipped default
	$(Q)conf=$(DESTDIR)$(SYSCONFDIR)/ringfence/ringfence.conf; \
	if [ -e $$conf ]; then \
		if cmp -s scripts/ringfence.conf $$conf; then rm -f $$conf; \
		else echo "  kept your $$conf"; fi; \
	fi
	-$(Q)rmdir $(DESTDIR)$(SYSCONFDIR)/ringfence 2>/dev/null
	$(Q)if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# --- Debian package (dpkg-deb from a staging dir; maintainer scripts in scripts/package/deb) --
deb: $(DEB)

$(DEB): $(BIN) $(CONSOLE_BIN) scripts/ringfence.service scripts/ringfence.conf scripts/ringfence.bash \
		scripts/ringfence-console.service scripts/ringfence-console.conf docs/API.md docs/ringfence.8 $(wildcard $(PKG_DIR)/deb/*) $(PKG_DIR)/build-deb.sh
	$(call msg,DEB,$@)
	$(Q)rm -rf $(DEB_STAGE)
	$(Q)$(MAKE) --no-print-directory install-files DESTDIR=$(abspath $(DEB_STAGE)) PREFIX=/usr \
		SBINDIR=/usr/sbin UNITDIR=/lib/systemd/system SYSCONFDIR=/etc
	$(Q)STRIP=$(CROSS_COMPILE)strip $(PKG_DIR)/build-deb.sh $(DEB_STAGE) $@ $(DEB_VERSION) $(DEB_ARCH) $(STATIC)

deb-test: $(DEB)
	$(Q)$(PKG_DIR)/test-deb.sh $(if $(filter 1,$(RF_DEB_INSTALL)),--install-on-this-host) $(DEB)

# --- static binary ----------------------------------------------------------------------------
# Needs libzstd-dev (static libelf uses zstd) besides the usual -dev packages.
static-check:
	$(Q)$(MAKE) --no-print-directory OUTPUT=.output-static STATIC=1 .output-static/ringfence
	$(Q)$(PKG_DIR)/static-check.sh .output-static/ringfence

# --- arm64 cross build ------------------------------------------------------------------------
cross-arm64:
	$(Q)$(PKG_DIR)/cross-arm64.sh

unit-test-32:
	$(Q)$(PKG_DIR)/unit-32.sh $(CRITERION_ARGS)

# --- checks -----------------------------------------------------------------------------------
unit-check: $(BIN)
	$(Q)$(PKG_DIR)/verify-unit.sh $(BIN)

docs-check: $(BIN)
	$(Q)$(PKG_DIR)/check-docs.sh $(BIN)
	$(Q)$(PKG_DIR)/test-completion.sh

$(CONF_CHECK): $(PKG_DIR)/conf-check.c $(LIB_OBJ)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(LDFLAGS) $(LIBS) -o $@

conf-check: $(CONF_CHECK)
	$(Q)$(PKG_DIR)/conf-check.sh $(CONF_CHECK)

ansible-check: $(BIN)
	$(Q)RINGFENCE_BIN=$(abspath $(BIN)) $(PKG_DIR)/test-ansible.sh

package-check: unit-check docs-check conf-check deb
	$(Q)$(PKG_DIR)/test-deb.sh $(DEB)
