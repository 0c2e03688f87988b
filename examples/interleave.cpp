// Three coroutines, each a plain loop, interleaved by the main context: the
// smallest picture of what cosync does. Each worker reads its name through
// current(), never through a handle passed in.
#include <cosync/cosync.hpp>
#include <cstdio>
#include <vector>

namespace {

int count_to(int limit) {
  int total = 0;
  for (int step = 1; step <= limit; ++step) {
    std::printf("  %-8s step %d of %d (stack at %p)\n", cosync::current().name(), step, limit,
                static_cast<void*>(&step));
    total += step;
    cosync::yield_to_main();
  }
  return total;
}

}  // namespace

int main() {
  std::vector<cosync::Task<int>> workers;
  workers.push_back(cosync::create(cosync::Options{.name = "alpha"}, count_to, 3));
  workers.push_back(cosync::create(cosync::Options{.name = "beta"}, count_to, 2));
  workers.push_back(cosync::create(cosync::Options{.name = "gamma"}, count_to, 4));

  std::printf("main context: %s (#%llu)\n", cosync::main_context().name(),
              static_cast<unsigned long long>(cosync::main_context().id()));
  bool any_running = true;
  for (int round = 1; any_running; ++round) {
    std::printf("round %d\n", round);
    any_running = false;
    for (auto& worker : workers) {
      if (!worker.done()) {
        worker.resume();
        any_running = true;
      }
    }
  }
  for (auto& worker : workers) {
    const char* name = worker->name();
    std::printf("%s returned %d\n", name, worker.join());
  }
  const cosync::StackStats stats = cosync::stack_stats();
  std::printf("stacks mapped %zu, reused %zu, guard regions %s\n", stats.mapped, stats.reused,
              stats.guard_regions_supported ? "yes" : "no (guard pages)");
  return 0;
}
