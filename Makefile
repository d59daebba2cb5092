# Quick start: `make run` and `make test`.
BUILD_DIR ?= build
PORT ?= 8080
DATA_DIR ?= ./facet-data
DEMO_PERSONS ?= 100000
JOBS ?= $(shell nproc)
# e.g. make segment-bench SEGMENT_BENCH_ARGS="--persons=1000000 --json=segment.json"
SEGMENT_BENCH_ARGS ?=

.PHONY: all bootstrap build run test bench segment-bench clean

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@scripts/run-demo.sh $(BUILD_DIR)/src/app/facet $(PORT) $(DATA_DIR) $(DEMO_PERSONS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 1500

bench: build
	@$(BUILD_DIR)/bench/ingest_bench --spawn=$(BUILD_DIR)/src/app/facet

segment-bench: build
	@scripts/segment-bench.sh $(BUILD_DIR)/bench/segment_bench $(SEGMENT_BENCH_ARGS)

clean:
	rm -rf $(BUILD_DIR)
