# rnnlab - a recurrent-network sequence lab in C.   `make help` lists the targets.
#
# Two commands on a fresh Debian 12 machine:  `make run`  and  `make test`. Both first run the
# setup step, which installs the Debian packages the build needs with apt-get when they are missing
# and you are root (otherwise it prints the one apt-get line to run).
#
# Knobs: NO_OMP=1 (build without OpenMP), DEBUG=1 (-O0, internal asserts), CC=clang,
#        EXP=name (the experiment `make run` runs, default decay_sweep), NATIVE=1 (-march=native),
#        NATIVE=0 (baseline x86-64 instead of x86-64-v3).

.DEFAULT_GOAL := all
SHELL := /bin/bash
.SUFFIXES:
.SECONDARY:
.DELETE_ON_ERROR:

ifeq ($(origin CC),default)
CC := gcc
endif

BUILD ?= build
BIN ?= bin
EXP ?= decay_sweep

# ------------------------------------------------------------------ Debian packages (setup step)
DEB_PACKAGES := build-essential libopenblas-openmp-dev liblapack-dev libcsv-dev libcmocka-dev libinih-dev \
                zlib1g-dev gnuplot-nox parallel locales
ifneq ($(findstring clang,$(CC)),)
DEB_PACKAGES += clang libomp-dev
endif

# ------------------------------------------------------------------ flags
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null)
OPENBLAS_OMP_DIR := /usr/lib/$(MULTIARCH)/openblas-openmp
ifneq ($(wildcard $(OPENBLAS_OMP_DIR)/libopenblas.so),)
# Debian's OpenMP build of OpenBLAS: one thread pool shared with rnnlab's loops (issue #6 / README)
BLAS_CFLAGS := -I/usr/include/$(MULTIARCH)/openblas-openmp
BLAS_LIBS := -L$(OPENBLAS_OMP_DIR) -Wl,-rpath,$(OPENBLAS_OMP_DIR) -lopenblas
else
BLAS_CFLAGS :=
BLAS_LIBS := -lopenblas
endif

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# -ffp-contract=off: no fused multiply-add unless written, so gcc and clang, scalar and vector code
# round alike (clang would otherwise contract within expressions)
# -fno-trapping-math: rnnlab never reads floating-point exception flags, and without it gcc will not
# if-convert a comparison (it may raise "invalid" on NaN), so the cells' loops would not vectorise.
# -fno-math-errno: sqrt need not set errno, so a loop of square roots vectorises (the taps).
# None of them changes a single result (this is not -ffast-math).
CFLAGS_BASE := -std=c11 -g $(WARN) -ffp-contract=off -fno-trapping-math -fno-math-errno -D_DEFAULT_SOURCE -Iinclude -Isrc \
               $(BLAS_CFLAGS) -MMD -MP
# Vector width for the cells' elementwise loops and rnnlab's own small products (README, Performance):
# x86-64-v4 (AVX-512) where the CPU has all of its features (measured: W3 35% faster than with v3),
# else x86-64-v3 (AVX2 + FMA) where it has those; NATIVE=1 for -march=native, NATIVE=0 for the
# baseline x86-64. The manifest records the flags: the last bits of results follow the vector width.
has_cpu_flags = $(if $(strip $(foreach f,$(1),$(if $(shell grep -m1 -ow $(f) /proc/cpuinfo 2>/dev/null),,missing))),,yes)
ifeq ($(NATIVE),1)
ARCH := -march=native
else ifeq ($(NATIVE),0)
ARCH :=
else ifeq ($(call has_cpu_flags,avx512f avx512bw avx512cd avx512dq avx512vl),yes)
ARCH := -march=x86-64-v4
else ifeq ($(call has_cpu_flags,avx2 fma),yes)
ARCH := -march=x86-64-v3
else
ARCH :=
endif
ifeq ($(DEBUG),1)
OPT := -O0 -DRNNLAB_DEBUG
else
OPT := -O3 $(ARCH)
endif
ifneq ($(SAN),)
OPT := -O1 $(ARCH) -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all -DRNNLAB_DEBUG
LDSAN := -fsanitize=$(SAN)
endif

ifeq ($(NO_OMP),1)
OMP_FLAGS := -fopenmp-simd -Wno-unknown-pragmas
OMP_STATE := off (NO_OMP=1)
else
OMP_OK := $(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo yes)
ifeq ($(OMP_OK),yes)
OMP_FLAGS := -fopenmp
OMP_STATE := on
else
OMP_FLAGS := -fopenmp-simd -Wno-unknown-pragmas
OMP_STATE := off ($(CC) -fopenmp does not work)
endif
endif

CFLAGS_ALL := $(CFLAGS_BASE) $(OPT) $(OMP_FLAGS) $(CFLAGS)
LIBS := $(BLAS_LIBS) -lcsv -linih -lz -lm
USER_LIBS := $(filter -fopenmp,$(OMP_FLAGS)) $(LIBS)
LDFLAGS_ALL := $(OMP_FLAGS) $(LDSAN) $(LDFLAGS)

# ------------------------------------------------------------------ sources
# GENERIC: compiled once per precision with -DRNNLAB_REAL_BITS=32 and =64 (src/core/real.h)
GENERIC_SRC := src/core/gemm.c src/cells/cell_ops.c src/cells/rnn.c src/cells/lstm.c src/cells/gru.c \
               src/engine/bptt.c src/engine/diag.c src/engine/optim.c
LIB_SRC := $(filter-out $(GENERIC_SRC),$(wildcard src/core/*.c src/cells/*.c src/engine/*.c src/data/*.c src/lab/*.c))
CLI_SRC := $(wildcard src/cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_HELPERS := tests/check.c

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(GENERIC_SRC:%.c=$(BUILD)/obj/f32/%.o) $(GENERIC_SRC:%.c=$(BUILD)/obj/f64/%.o) \
           $(BUILD)/obj/buildinfo.o
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BINS := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
EXAMPLE_BIN := $(BUILD)/tests/example_decay
LIB := $(BUILD)/librnnlab.a
CLI := $(BIN)/rnnlab

# ------------------------------------------------------------------ user-facing targets
.PHONY: all test run bench asan ubsan clean setup help build check

all: setup
	@$(MAKE) --no-print-directory build

test: setup
	@$(MAKE) --no-print-directory check

run: setup setup-data
	@$(MAKE) --no-print-directory build
	$(CLI) run experiments/$(EXP).ini

bench: setup
	@$(MAKE) --no-print-directory build
	$(CLI) bench --grid standard --out results/bench/bench.csv

# rnnlab against PyTorch (python3-torch) and oneDNN (libdnnl-dev), run alternately; each is optional
# and skipped with a message when missing. BENCH_ARGS passes options to bench/compare.sh
# (e.g. BENCH_ARGS="--reps 1 --only W3").
.PHONY: bench-compare
bench-compare: setup
	@$(MAKE) --no-print-directory build
	@if [ -f /usr/include/dnnl.h ]; then \
	  mkdir -p $(BUILD)/bench && \
	  $(CC) -std=c11 -O2 -g $(WARN) -D_DEFAULT_SOURCE -fopenmp bench/onednn_bench.c -o $(BUILD)/bench/onednn_bench \
	    -ldnnl -lcsv -lm || echo "bench-compare: the oneDNN harness did not build; it will be skipped"; \
	else rm -f $(BUILD)/bench/onednn_bench; fi
	RNNLAB=$(CLI) ONEDNN=$(BUILD)/bench/onednn_bench bench/compare.sh --out results/bench/compare.csv $(BENCH_ARGS)

# 16, 64 and 256 W3-sized decay runs as whole `rnnlab run` processes on 1 and 2 threads, alternately
# (issue #6's side-by-side target). SWEEPS_ARGS passes options to bench/sweeps.sh (e.g. "--reps 3").
.PHONY: bench-sweeps
bench-sweeps: setup
	@$(MAKE) --no-print-directory build
	RNNLAB=$(CLI) bench/sweeps.sh --out results/bench/sweeps.csv $(SWEEPS_ARGS)

# training steps, OpenBLAS SGEMM and W3 sweeps on 1, 2, 4, ... threads up to the CPUs there are:
# what cores past the second give (README, Performance). THREADS_ARGS passes options to bench/threads.sh
# (e.g. THREADS_ARGS="--reps 1 --threads '1 2 4'").
.PHONY: bench-threads
bench-threads: setup
	@$(MAKE) --no-print-directory build
	RNNLAB=$(CLI) bench/threads.sh --out results/bench/threads.csv $(THREADS_ARGS)

asan: setup
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan BIN=$(BUILD)/asan/bin SAN=address check

ubsan: setup
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/ubsan BIN=$(BUILD)/ubsan/bin SAN=undefined check

clean:
	rm -rf $(BUILD) $(BIN)

help:
	@echo "make          build $(LIB) and $(CLI)"
	@echo "make test     build and run every test (CMocka); non-zero exit on any failure"
	@echo "make run      the main job: $(CLI) run experiments/\$$EXP.ini (EXP=$(EXP))"
	@echo "make bench    the benchmark grid -> results/bench/bench.csv"
	@echo "make bench-compare  rnnlab vs PyTorch and oneDNN (when installed), alternately -> results/bench/compare.csv"
	@echo "make bench-sweeps   sweeps of 16/64/256 W3-sized decay runs on 1 and 2 threads -> results/bench/sweeps.csv"
	@echo "make bench-threads  steps, SGEMM and W3 sweeps on 1, 2, 4, ... threads -> results/bench/threads.csv"
	@echo "make asan     the test suite under AddressSanitizer;  make ubsan: UndefinedBehaviorSanitizer"
	@echo "make -s libs  the flags that link a program against $(LIB) (README: Using the library from C)"
	@echo "make clean    remove build/ and bin/"
	@echo "knobs: NO_OMP=1 DEBUG=1 CC=clang NATIVE=1 EXP=name"

# The setup step: Debian packages the build needs (see README, Requirements).
setup:
	@if ! command -v dpkg-query >/dev/null 2>&1; then \
	  echo "rnnlab: not a Debian system: make sure these (or your system's equivalents) are installed: $(DEB_PACKAGES)"; \
	  exit 0; \
	fi; \
	missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "rnnlab: installing missing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) \
	      || { echo "rnnlab: error: apt-get install failed for:$$missing"; exit 1; }; \
	  else \
	    echo "rnnlab: error: missing Debian packages:$$missing"; \
	    echo "hint: sudo apt-get install$$missing"; \
	    exit 1; \
	  fi; \
	fi

# ------------------------------------------------------------------ build rules
build: $(LIB) $(CLI) $(TEST_BINS) $(EXAMPLE_BIN)
	@echo "rnnlab: built $(LIB) and $(CLI) (OpenMP $(OMP_STATE), $(CC))"

# What manifests record about the build: the git revision and the flags. Rewritten only when it changes.
GIT_REV := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
.PHONY: FORCE
$(BUILD)/gen/buildinfo.c: FORCE
	@mkdir -p $(@D)
	@printf '/* generated by the Makefile */\nconst char *const rnnlab_build_git_rev = "%s";\nconst char *const rnnlab_build_cflags = "%s";\n' \
	  '$(GIT_REV)' '$(strip $(CC) $(OPT) $(OMP_FLAGS))' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

# Every object depends on the compiler and its flags as written here, so changing ARCH, DEBUG, CC or
# CFLAGS rebuilds what they change instead of mixing objects built with different flags.
FLAGS_STAMP := $(BUILD)/gen/cflags
$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(CC) $(CFLAGS_ALL)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/obj/buildinfo.o: $(BUILD)/gen/buildinfo.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Wno-missing-variable-declarations -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/f32/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -DRNNLAB_REAL_BITS=32 -c $< -o $@

$(BUILD)/obj/f64/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -DRNNLAB_REAL_BITS=64 -c $< -o $@

$(CLI): $(CLI_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $(CLI_OBJ) $(LIB) $(LIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/obj/tests/check.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $^ $(LIBS) -lcmocka -o $@

# tests/example_decay.c, the program README's "Using the library from C" shows, built as README says
# to build a program of one's own: the public headers only (-Iinclude), the library, `make -s libs`.
$(EXAMPLE_BIN): tests/example_decay.c $(LIB) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 $(WARN) $(if $(SAN),-fsanitize=$(SAN)) -Iinclude $< $(LIB) $(LDSAN) $(LDFLAGS) $(USER_LIBS) -o $@

# The flags that link a program against build/librnnlab.a (README, Using the library from C).
.PHONY: libs
libs:
	@echo '$(strip $(USER_LIBS))'

# Runs every test binary; the tests find the CLI and the shared data through these variables.
check: build
	@fail=0; \
	for t in $(TEST_BINS); do \
	  echo "== $$t"; \
	  if ! RNNLAB_BIN=$(abspath $(CLI)) RNNLAB_SHARED=$(abspath ../shared) $$t; then echo "FAILED: $$t"; fail=1; fi; \
	done; \
	if [ $$fail = 0 ]; then echo "rnnlab: all tests passed"; else echo "rnnlab: some tests FAILED"; exit 1; fi

# ------------------------------------------------------------------ data and fuzzing (issue #4)
# setup-data: the Debian packages that experiments read data from (Fashion-MNIST, in
# /usr/share/datasets/fashion-mnist). Installed with apt-get when root, else the apt-get line is printed.
DATA_PACKAGES := dataset-fashion-mnist
# fuzz: one libFuzzer target per loader (tests/fuzz/fuzz_*.c), built with clang and AddressSanitizer,
# each run for FUZZ_TIME seconds over its committed corpus tests/fuzz/corpus/NAME/ (new inputs go to
# $(BUILD)/fuzz/corpus/NAME/, never into the committed one).
FUZZ_TIME ?= 5
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
.PHONY: setup-data fuzz

setup-data:
	@missing=""; \
	for p in $(DATA_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "rnnlab: installing data packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) \
	    || { echo "rnnlab: error: apt-get install failed for:$$missing"; exit 1; }; \
	else \
	  echo "rnnlab: error: missing data packages:$$missing"; \
	  echo "hint: sudo apt-get install$$missing"; \
	  exit 1; \
	fi

fuzz:
	@$(MAKE) --no-print-directory setup DEB_PACKAGES="clang libclang-rt-dev"
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz CC=clang NO_OMP=1 SAN=address \
	  CFLAGS=-fsanitize=fuzzer-no-link $(BUILD)/fuzz/librnnlab.a
	@set -e; for f in $(FUZZ_NAMES); do \
	  clang -std=c11 -g -O1 $(WARN) -D_DEFAULT_SOURCE -Iinclude -Isrc -fsanitize=fuzzer,address \
	    tests/fuzz/fuzz_$$f.c $(BUILD)/fuzz/librnnlab.a $(LIBS) -o $(BUILD)/fuzz/fuzz_$$f; \
	  mkdir -p $(BUILD)/fuzz/corpus/$$f; \
	  echo "== fuzz_$$f: $(FUZZ_TIME) s over tests/fuzz/corpus/$$f"; \
	  if ! $(BUILD)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	      -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus/$$f tests/fuzz/corpus/$$f >$(BUILD)/fuzz/fuzz_$$f.log 2>&1; then \
	    tail -n 60 $(BUILD)/fuzz/fuzz_$$f.log; \
	    echo "rnnlab: fuzz_$$f FAILED: the input that broke it is in $(BUILD)/fuzz/ (crash-*, leak-* or timeout-*)"; \
	    exit 1; \
	  fi; \
	  grep -E '^(stat::number_of_executed_runs|Done)' $(BUILD)/fuzz/fuzz_$$f.log || true; \
	done; echo "rnnlab: fuzzing passed ($(FUZZ_NAMES))"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
