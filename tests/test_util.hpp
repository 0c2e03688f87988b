// Helpers shared by the cosync tests: process memory readings and a scale
// factor for heavy tests.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <string>

namespace cosync::test {

// Divides the size of heavy tests. CI sets COSYNC_TEST_SCALE under valgrind,
// qemu and sanitizers, where every switch and mapping costs far more.
inline std::size_t scaled(std::size_t count) {
  const char* text = std::getenv("COSYNC_TEST_SCALE");
  const long divisor = text != nullptr ? std::strtol(text, nullptr, 10) : 1;
  return divisor > 1 ? count / static_cast<std::size_t>(divisor) : count;
}

// Resident set size of this process, in bytes.
inline std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  std::size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// Number of mappings (VMAs) of this process: lines of /proc/self/maps.
inline std::size_t mapping_count() {
  std::ifstream maps("/proc/self/maps");
  std::size_t lines = 0;
  for (std::string line; std::getline(maps, line);) {
    ++lines;
  }
  return lines;
}

inline std::size_t max_map_count() {
  std::ifstream file("/proc/sys/vm/max_map_count");
  std::size_t value = 65530;
  file >> value;
  return value;
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
