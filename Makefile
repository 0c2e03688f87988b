# The README's two commands, and the build variants CI runs.
#   make demo   builds the sync-style TCP proxy demo and runs it: an echo
#               backend, cosync-proxy and 10,000 client coroutines
#   make test   builds and runs the whole test suite
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: demo interleave test bench docs deps-build deps-test deps-bench clean

deps-build:
	@tools/deps.sh build

deps-test:
	@tools/deps.sh test

deps-bench:
	@tools/deps.sh bench

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

DEMO_CONNECTIONS ?= 10000
DEMO_SECONDS ?= 10

demo: deps-build $(BUILD)/build.ninja
	cmake --build $(BUILD) --target cosync-echo cosync-proxy cosync-load -j $(JOBS)
	examples/proxy/demo.sh $(BUILD)/examples/proxy $(DEMO_CONNECTIONS) $(DEMO_SECONDS)

interleave: deps-build $(BUILD)/build.ninja
	cmake --build $(BUILD) --target cosync-interleave -j $(JOBS)
	./$(BUILD)/examples/cosync-interleave

test: deps-test $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure

bench: deps-bench
	cmake -S . -B $(BUILD)-bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCOSYNC_BUILD_TESTS=OFF -DCOSYNC_BUILD_BENCHMARKS=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD)-bench -j $(JOBS)
	./$(BUILD)-bench/bench/cosync-bench --benchmark_repetitions=5 \
	  --benchmark_report_aggregates_only=true \
	  --benchmark_out=$(BUILD)-bench/bench.json --benchmark_out_format=json
	python3 tools/bench_ratios.py $(BUILD)-bench/bench.json

# The HTML API reference of the public headers (Doxygen), in $(BUILD)/docs/html.
docs:
	@mkdir -p $(BUILD)/docs
	COSYNC_VERSION=$$(sed -n 's/^project(cosync VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt) \
	  COSYNC_DOCS_OUT=$(BUILD)/docs doxygen docs/Doxyfile
	@echo "API reference: $(BUILD)/docs/html/index.html"

clean:
	rm -rf $(BUILD) $(BUILD)-bench
