# SPDX-License-Identifier: GPL-2.0-only
# libFuzzer targets for the parsers (tests/fuzz/fuzz_*.c). Included at the end of the Makefile.
#
#   make fuzz                    each target for FUZZ_SECONDS (30) seconds, one after the other,
#                                from the seeds in tests/fuzz/corpus/TARGET (and the keywords of
#                                tests/fuzz/TARGET.dict); new inputs go to
#                                $(OUTPUT)/fuzz/corpus/TARGET, a crash to $(OUTPUT)/fuzz/crash-*
#   make fuzz FUZZ_TARGETS=rule  only some of them
#   make fuzz-build              build them only
# The user/ objects are built again with clang, ASan, UBSan and libFuzzer's coverage.
FUZZ_CC ?= $(CLANG)
FUZZ_SECONDS ?= 30
FUZZ_DIR := $(OUTPUT)/fuzz
FUZZ_ALL := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -g -O1 $(FUZZ_SAN) $(WARN) -Wno-format-nonliteral -std=gnu11 -D_GNU_SOURCE $(INCLUDES) \
	-DRF_VERSION='"$(VERSION)"' -DRF_GIT_REV='"$(GIT_REV)"'
FUZZ_LIB_OBJ := $(patsubst user/%.c,$(FUZZ_DIR)/obj/%.o,$(LIB_SRC))

.PHONY: fuzz fuzz-build
.SECONDARY: $(FUZZ_LIB_OBJ)

$(FUZZ_DIR)/obj:
	$(Q)mkdir -p $@

$(FUZZ_DIR)/obj/%.o: user/%.c $(SKEL) $(SKEL_NOKF) $(BUILD_ID) | $(FUZZ_DIR)/obj
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB_OBJ)
	$(call msg,FUZZ,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJ) -lbpf -lelf -lz -ljansson \
		-o $@

fuzz-build: $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))

fuzz: fuzz-build
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
		echo "  FUZZ     $$t ($(FUZZ_SECONDS) s)"; \
		$(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crash-$$t- \
			$$(test -e tests/fuzz/$$t.dict && echo -dict=tests/fuzz/$$t.dict) \
			$(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t >$(FUZZ_DIR)/$$t.log 2>&1 || \
			{ tail -40 $(FUZZ_DIR)/$$t.log; echo "fuzz_$$t failed: $(FUZZ_DIR)/$$t.log"; \
			  exit 1; }; \
		grep -E '^stat::number_of_executed_units|^stat::new_units_added' $(FUZZ_DIR)/$$t.log \
			| sed 's/^/    /'; \
	done

-include $(wildcard $(FUZZ_DIR)/obj/*.d)
