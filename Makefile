# The README's two commands, and the build variants CI runs.
#   make demo     builds the sync-style TCP proxy demo and runs it: an echo
#                 backend, cosync-proxy and 10,000 client coroutines
#   make test     builds and runs the whole test suite
#   make install  installs into PREFIX (default /usr/local)
#   make package  builds the Debian packages into $(BUILD)-package/
# demo and test install the same Debian packages (tools/deps.sh build)
# before they first configure, so either one, in either order, builds every
# component.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PREFIX ?= /usr/local

.PHONY: demo interleave test install package bench docs deps deps-package deps-bench clean

deps:
	@tools/deps.sh build

deps-package:
	@tools/deps.sh package

deps-bench:
	@tools/deps.sh bench

# The installed dependency set, rewritten only when it changes: a build
# directory configured before a package arrived configures again.
$(BUILD)/deps.stamp: deps
	@mkdir -p $(BUILD)
	@tools/deps.sh versions build > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

$(BUILD)/build.ninja: $(BUILD)/deps.stamp
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	@touch $@

DEMO_CONNECTIONS ?= 10000
DEMO_SECONDS ?= 10

demo: $(BUILD)/build.ninja
	cmake --build $(BUILD) --target cosync-echo cosync-proxy cosync-load -j $(JOBS)
	examples/proxy/demo.sh $(BUILD)/examples/proxy $(DEMO_CONNECTIONS) $(DEMO_SECONDS)

interleave: $(BUILD)/build.ninja
	cmake --build $(BUILD) --target cosync-interleave -j $(JOBS)
	./$(BUILD)/examples/cosync-interleave

test: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure

install: $(BUILD)/build.ninja
	cmake --build $(BUILD) --target cosync-libraries -j $(JOBS)
	cmake --install $(BUILD) --prefix $(PREFIX)

# Libraries only, installed under /usr (Debian's multiarch libdir).
package: deps-package
	cmake -S . -B $(BUILD)-package -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_INSTALL_PREFIX=/usr -DCOSYNC_BUILD_TESTS=OFF -DCOSYNC_BUILD_EXAMPLES=OFF \
	  $(CMAKE_FLAGS)
	cmake --build $(BUILD)-package --target cosync-libraries -j $(JOBS)
	cd $(BUILD)-package && cpack -G DEB
	@ls $(BUILD)-package/*.deb

bench: deps-bench
	cmake -S . -B $(BUILD)-bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCOSYNC_BUILD_TESTS=OFF -DCOSYNC_BUILD_BENCHMARKS=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD)-bench -j $(JOBS)
	./$(BUILD)-bench/bench/cosync-bench --benchmark_repetitions=5 \
	  --benchmark_report_aggregates_only=true \
	  --benchmark_out=$(BUILD)-bench/bench.json --benchmark_out_format=json
	python3 tools/bench_ratios.py $(BUILD)-bench/bench.json
	./$(BUILD)-bench/bench/cosync-bench-hook --benchmark_repetitions=5 \
	  --benchmark_report_aggregates_only=true

# The HTML API reference of the public headers (Doxygen), in $(BUILD)/docs/html.
docs:
	@tools/deps.sh docs
	@mkdir -p $(BUILD)/docs
	COSYNC_VERSION=$$(sed -n 's/^project(cosync VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt) \
	  COSYNC_DOCS_OUT=$(BUILD)/docs doxygen docs/Doxyfile
	@echo "API reference: $(BUILD)/docs/html/index.html"

clean:
	rm -rf $(BUILD) $(BUILD)-bench $(BUILD)-package
