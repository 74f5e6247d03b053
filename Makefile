# lurker — one Makefile for the whole tree.
#
# Conventions (generic rules, no per-directory makefiles):
#   DIR/*.c except DIR/main.c  -> build/libDIR.a      (DIR in COMPONENTS)
#   DIR/main.c                 -> bin/lurker-DIR       (linked with libDIR.a + libcommon.a)
#   tests/unit/<component>/test_<module>.c -> build/tests/<component>/test_<module> (Criterion; every lib)
#   tests/fuzz/fuzz_*.c        -> build/fuzz/fuzz_*    (libFuzzer, clang; `make fuzz`)
# `make test` runs tests/run (unit binaries + tests/integration/test_*.py); SAN=1 adds ASan+UBSan.

COMPONENTS := responder capturer shipper analyzer ctl
PKGS       := libpcap libcurl openssl yaml-0.1 jansson libseccomp
SAN        ?= 0
PREFIX     ?= /usr/local
SYSCONFDIR ?= $(PREFIX)/etc/lurker

CC       ?= cc
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Icommon -MMD -MP
CFLAGS   += $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lpthread -lm -lrt
# libbpf only where the tc engine lives: the analyzer (and its Lambda package, any architecture) never needs it
LDLIBS_responder := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf)
ifeq ($(FUZZ),1)
CC       := clang
CFLAGS   += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -Wno-unused-command-line-argument
LDFLAGS  += -fsanitize=address,undefined
BUILD    := build-fuzz
BIN      := bin-fuzz
else ifeq ($(SAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
BUILD    := build-san
BIN      := bin-san
else
BUILD    := build
BIN      := bin
endif

lib_srcs = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
lib_objs = $(patsubst %.c,$(BUILD)/%.o,$(call lib_srcs,$(1)))

COMMON_LIB := $(BUILD)/libcommon.a
COMP_LIBS  := $(foreach c,$(COMPONENTS),$(BUILD)/lib$(c).a)
ALL_LIBS   := $(COMP_LIBS) $(COMMON_LIB)
BINARIES   := $(foreach c,$(COMPONENTS),$(BIN)/lurker-$(c))
UNIT_SRCS  := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
HELPER_SRCS:= $(wildcard tests/helpers/*.c)
HELPER_BINS:= $(patsubst tests/helpers/%.c,$(BUILD)/helpers/%,$(HELPER_SRCS))

.PHONY: all test unit clean install fuzz fuzz-bins demo deps lambda
all: $(BINARIES)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(COMMON_LIB): $(call lib_objs,common)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define component_rules
$(BUILD)/lib$(1).a: $(call lib_objs,$(1))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^ $$(if $$^,,--)
$(BIN)/lurker-$(1): $(BUILD)/$(1)/main.o $(BUILD)/lib$(1).a $(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) $$(LDLIBS_$(1))
endef
$(foreach c,$(COMPONENTS),$(eval $(call component_rules,$(c))))

# The tc engine's BPF program, compiled for the BPF target and embedded in lurker-responder as a libbpf skeleton
# (bpftool gen skeleton): an installed responder needs no file besides itself.
BPF_CC     ?= clang
BPFTOOL    ?= $(or $(shell command -v bpftool 2>/dev/null),/usr/sbin/bpftool)
# the multiarch include directory (asm/types.h) is named by Debian's gcc triplet; clang's (FUZZ=1) is not a directory
BPF_CFLAGS := -O2 -g -mcpu=v3 -target bpf -I/usr/include/$(shell gcc -dumpmachine) -Wall -Wextra -Werror -MMD -MP
$(BUILD)/responder/bpf/synack.bpf.o: responder/bpf/synack.bpf.c
	@mkdir -p $(dir $@)
	$(BPF_CC) $(BPF_CFLAGS) -c -o $@ $<
	llvm-strip -g $@
$(BUILD)/responder/synack.skel.h: $(BUILD)/responder/bpf/synack.bpf.o
	$(BPFTOOL) gen skeleton $< name synack_bpf > $@.tmp && mv $@.tmp $@
$(BUILD)/responder/engine_tc.o: $(BUILD)/responder/synack.skel.h
$(BUILD)/responder/engine_tc.o: CFLAGS += -I$(BUILD)/responder -Iresponder

$(BUILD)/tests/%: tests/unit/%.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(LDLIBS) $(LDLIBS_responder) -lcriterion

$(BUILD)/helpers/%: tests/helpers/%.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(ALL_LIBS) -Wl,--end-group $(LDLIBS) $(LDLIBS_responder)

unit: $(UNIT_BINS) $(HELPER_BINS)

test: deps all unit
	SAN=$(SAN) BIN=$(CURDIR)/$(BIN) BUILD=$(CURDIR)/$(BUILD) tests/run

# `make fuzz` builds every tests/fuzz/fuzz_*.c as a libFuzzer binary in build-fuzz/fuzz/ (clang, ASan+UBSan).
# A target named fuzz_<component>... links that component's library and libcommon only; fuzz_config and
# fuzz_common_<module> only libcommon.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build-fuzz/fuzz/%,$(FUZZ_SRCS))
fuzz:
	$(MAKE) FUZZ=1 fuzz-bins
fuzz-bins: $(FUZZ_BINS)
define fuzz_rules
$(filter build-fuzz/fuzz/fuzz_$(1)%,$(FUZZ_BINS)): build-fuzz/fuzz/%: tests/fuzz/%.c build-fuzz/lib$(1).a build-fuzz/libcommon.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -fsanitize=fuzzer -o $$@ $$< build-fuzz/lib$(1).a build-fuzz/libcommon.a $$(LDLIBS) $$(LDLIBS_$(1))
endef
$(foreach c,$(COMPONENTS),$(eval $(call fuzz_rules,$(c))))
FUZZ_COMMON_BINS := $(filter build-fuzz/fuzz/fuzz_config% build-fuzz/fuzz/fuzz_common_%,$(FUZZ_BINS))
$(FUZZ_COMMON_BINS): build-fuzz/fuzz/%: tests/fuzz/%.c build-fuzz/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libcommon.a $(LDLIBS)

# The newcomer's path: packages, build, then the whole honeypot on one machine (see demo/demo.py; needs root).
deps:
	.ci/install-deps
demo: deps
	$(MAKE) all
	python3 demo/demo.py $(DEMO_ARGS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(PREFIX)/share/lurker
	install -m 0755 $(BINARIES) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 lurker.yaml $(DESTDIR)$(SYSCONFDIR)/lurker.yaml
	cp -r infra $(DESTDIR)$(PREFIX)/share/lurker/

clean:
	rm -rf build build-san build-fuzz build-arm64 bin bin-san bin-fuzz bin-arm64

include infra/lambda.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
