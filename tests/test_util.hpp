// Helpers shared by the cosync tests: process memory readings, a scale
// factor for heavy tests and the leak check's opt-out.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <string>

#include "process_usage.hpp"

namespace cosync::test {

// Divides the size of heavy tests. CI sets COSYNC_TEST_SCALE under valgrind,
// qemu and sanitizers, where every switch and mapping costs far more.
inline std::size_t scaled(std::size_t count) {
  const char* text = std::getenv("COSYNC_TEST_SCALE");
  const long divisor = text != nullptr ? std::strtol(text, nullptr, 10) : 1;
  return divisor > 1 ? count / static_cast<std::size_t>(divisor) : count;
}

// The /proc readings (tools/process_usage.hpp), for the tests' own use.
using usage::mapping_count;
using usage::max_map_count;
using usage::resident_bytes;

// The key of the test property that exempts a test from the leak check.
inline constexpr const char* kLeakCheckSkipped = "leak_check_skipped";

// Exempts the running test from the check, after every test, that it left
// no coroutine, stack or fd behind (tests/test_main.cpp). `reason` says
// what the test keeps on purpose and why; it is printed.
inline void skip_leak_check(const char* reason) {
  testing::Test::RecordProperty(kLeakCheckSkipped, reason);
}

inline bool running_on_valgrind() {
  const char* preload = std::getenv("LD_PRELOAD");
  return preload != nullptr && std::string(preload).find("valgrind") != std::string::npos;
}

// Counts the live instances in `live`: which stacks still stand after a
// coroutine unwinds (a destructor that runs twice or never shows in it).
struct Counted {
  explicit Counted(int& live) : live_(&live) { ++*live_; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  ~Counted() { --*live_; }

 private:
  int* live_;
};

}  // namespace cosync::test
