# biasdrift build. Each src/<module>/ becomes a static library; tests in
# tests/<module>/test_*.c link their module and what it depends on, so a
# module can be built and tested alone. BUILD selects the output folder
# (parallel developers use separate ones), SAN=1 builds with ASan+UBSan.

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?=
SAN     ?= 0
BIN     ?= biasdrift

PKGS    := json-c libpcre2-8 sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) -pthread \
               -fno-strict-aliasing -MMD -MP $(PKG_CFLAGS)
LDLIBS  := $(PKG_LIBS) -lm -pthread
ifeq ($(SAN),1)
BASE_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS := $(BASE_CFLAGS) $(CFLAGS)

# Module dependency order: a module may use only those listed after it.
MODS := cli report bench accel engine tok model stats store util
deps_util   :=
deps_store  := util
deps_stats  := util
deps_model  := util
deps_tok    := model util
deps_engine := model util
deps_accel  := engine model util
deps_bench  := engine tok model stats store util
deps_report := store stats util
deps_integration := engine tok model util
deps_cli    := report bench accel engine tok model stats store util

srcs_of = $(wildcard src/$(1)/*.c)
objs_of = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(call srcs_of,$(1)))
lib_of  = $(BUILD)/lib/lib$(1).a

LIBMODS := $(filter-out cli,$(MODS))
ALL_LIBS := $(foreach m,$(LIBMODS),$(call lib_of,$(m)))

.PHONY: all tests test test-% clean fuzz
all: $(BIN)

$(BIN): $(call objs_of,cli) $(ALL_LIBS)
	$(CC) $(LDFLAGS) -o $@ $(call objs_of,cli) -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(LDLIBS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

define LIB_RULE
$(call lib_of,$(1)): $(call objs_of,$(1))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^ $(if $(call objs_of,$(1)),,$$(BUILD)/obj/empty.o)
endef
$(foreach m,$(LIBMODS),$(eval $(call LIB_RULE,$(m))))

$(BUILD)/obj/empty.o:
	@mkdir -p $(dir $@)
	echo 'typedef int bd_empty_unit;' | $(CC) -x c -c - -o $@
$(foreach m,$(LIBMODS),$(if $(call objs_of,$(m)),,$(eval $(call lib_of,$(m)): $(BUILD)/obj/empty.o)))

# Tests: tests/<mod>/test_*.c -> $(BUILD)/tests/<mod>/test_*
TEST_SRCS := $(wildcard tests/*/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
test_mod  = $(word 2,$(subst /, ,$(1)))

.SECONDEXPANSION:
test_libs = $(foreach d,$(filter $(LIBMODS),$(call test_mod,$(1)) $(deps_$(call test_mod,$(1)))),$(call lib_of,$(d)))
$(BUILD)/tests/%: tests/%.c tests/test.h $$(call test_libs,tests/$$*)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< -Wl,--start-group \
	  $(call test_libs,$<) \
	  -Wl,--end-group $(LDFLAGS) $(LDLIBS)

tests: $(TEST_BINS) $(BIN)

# `make test` runs every test binary; `make test-tok` runs one module's
# (tests/cli/ and others that run the program find it through $BIASDRIFT).
test: tests
	@BIASDRIFT=./$(BIN) sh tests/run.sh $(TEST_BINS)

pct := %
test-%: $(BIN) $$(filter $(BUILD)/tests/$$*/$$(pct),$(TEST_BINS))
	@BIASDRIFT=./$(BIN) sh tests/run.sh $(filter-out $(BIN),$^)

# libFuzzer targets fuzz/fuzz_*.c (clang), linked with the tok, model and
# util sources: `make fuzz` then e.g. $(BUILD)/fuzz/fuzz_gguf -max_total_time=30 DIR.
FUZZ_CC ?= clang
fuzz:
	@mkdir -p $(BUILD)/fuzz
	for f in $(wildcard fuzz/fuzz_*.c); do \
	  $(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc $(PKG_CFLAGS) \
	    -o $(BUILD)/fuzz/$$(basename $$f .c) $$f $(call srcs_of,tok) $(call srcs_of,model) $(call srcs_of,util) $(LDLIBS) || exit 1; \
	done

clean:
	rm -rf build biasdrift

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
