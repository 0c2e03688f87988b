// How the benchmarks end on a failure they cannot report through Google
// Benchmark.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace cosync_bench {

// The anchors run their work in C callbacks, and the servers on threads of
// their own, which an exception must not cross: a failure there ends the
// benchmark at once, with errno's message.
[[noreturn]] inline void fail(const char* what) {
  std::perror(what);
  std::abort();
}

}  // namespace cosync_bench
