// The program tests/gdb_test.sh debugs: three named coroutines parked in a
// recognisable function, then a function to break in.
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

int main() {
  std::vector<cosync::Task<void>> tasks;
  for (const char* name : {"gdb-alpha", "gdb-beta", "gdb-gamma"}) {
    tasks.push_back(
        cosync::create(cosync::Options{.name = name}, [] { cosync_gdb_parked_here(3); }));
    tasks.back().resume();
  }
  cosync_gdb_stop_here();
  for (auto& task : tasks) task.join();
  return 0;
}
