// The program tests/gdb_test.sh debugs: three named coroutines parked in a
// recognisable function, then a function to break in.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cosync/coroutine.hpp"

extern "C" __attribute__((noinline)) void cosync_gdb_parked_here(int depth) {
  if (depth > 0) {
    cosync_gdb_parked_here(depth - 1);
    asm volatile("" ::: "memory");  // keeps the recursion a real call
    return;
  }
  cosync::yield_to_main();
}

extern "C" __attribute__((noinline)) void cosync_gdb_stop_here() { asm volatile(""); }

// With the argument "abort", the program dumps core where the debugger
// would stop it (the test sets the core limit and the directory). With
// "guard-pages", its stacks get mprotect'ed guard pages instead of guard
// regions: gdb's gcore reads memory in 1 MiB chunks and writes zeros for a
// chunk holding a guard region, which it cannot read.
int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "guard-pages") == 0) {
    cosync::configure_stacks(cosync::StackConfig{.guard_policy = cosync::GuardPolicy::guard_page});
  }
  std::vector<cosync::Task<void>> tasks;
  for (const char* name : {"gdb-alpha", "gdb-beta", "gdb-gamma"}) {
    tasks.push_back(
        cosync::create(cosync::Options{.name = name}, [] { cosync_gdb_parked_here(3); }));
    tasks.back().resume();
  }
  cosync_gdb_stop_here();
  if (argc > 1 && std::strcmp(argv[1], "abort") == 0) {
    std::abort();
  }
  for (auto& task : tasks) task.join();
  return 0;
}
