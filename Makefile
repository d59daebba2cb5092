# Quick start: `make run` and `make test`.
BUILD_DIR ?= build
PORT ?= 8080
DATA_DIR ?= ./facet-data
DEMO_PERSONS ?= 100000
JOBS ?= $(shell nproc)
# e.g. make segment-bench SEGMENT_BENCH_ARGS="--persons=1000000 --json=segment.json"
SEGMENT_BENCH_ARGS ?=
# The suite again under ASan + UBSan (gcc, no tcmalloc, no benchmarks).
ASAN_DIR ?= build-asan
# libFuzzer targets (clang); e.g. make fuzz FUZZ_SECONDS=600
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:check_initialization_order=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/sanitizers/lsan.supp:print_suppressions=0

.PHONY: all bootstrap build run test asan-build fuzz-build fuzz format bench segment-bench clean

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@scripts/run-demo.sh $(BUILD_DIR)/src/app/facet $(PORT) $(DATA_DIR) $(DEMO_PERSONS)

# Release tests, then the fast tests (not `slow`) under the sanitizers, then
# each fuzz target over its committed corpus.
test: build asan-build fuzz-build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 1500
	@cd $(ASAN_DIR) && $(SANITIZER_ENV) ctest --output-on-failure -j $(JOBS) --timeout 1500 -LE slow
	@cd $(FUZZ_DIR) && $(SANITIZER_ENV) ctest --output-on-failure -j $(JOBS) -L fuzz

asan-build: bootstrap
	@cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DFACET_SANITIZE=ON \
	  -DFACET_BUILD_BENCHMARKS=OFF >/dev/null
	@cmake --build $(ASAN_DIR) -j $(JOBS)

fuzz-build: bootstrap
	@cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
	  -DFACET_FUZZ=ON -DFACET_BUILD_BENCHMARKS=OFF >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzzers

# Each fuzz target (or those named in FUZZ_TARGETS, e.g. "csv_reader bitmap")
# for FUZZ_SECONDS, one after the other; findings are kept in
# $(FUZZ_DIR)/findings/<target>/.
fuzz: fuzz-build
	@$(SANITIZER_ENV) scripts/fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Applies .clang-format to every C++ source (the `format` test checks it).
format:
	@git ls-files 'src/*.h' 'src/*.cc' 'bench/*.h' 'bench/*.cc' 'fuzz/*.h' 'fuzz/*.cc' | xargs clang-format -i

bench: build
	@$(BUILD_DIR)/bench/ingest_bench --spawn=$(BUILD_DIR)/src/app/facet

segment-bench: build
	@scripts/segment-bench.sh $(BUILD_DIR)/bench/segment_bench $(SEGMENT_BENCH_ARGS)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
