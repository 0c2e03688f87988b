// System calls one thread makes, counted by the kernel: a perf event on the
// raw_syscalls:sys_enter tracepoint, attached to that thread alone. Opening
// it needs the tracepoint's id from tracefs and the right to trace the
// thread (root, or perf_event_paranoid low enough); where either is missing
// the counter is absent, and the first benchmark to try says why, once, on
// stderr.
#pragma once

#include <benchmark/benchmark.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace cosync_bench {

class SyscallCounter {
 public:
  // Counts the system calls of thread `tid` (0: the calling thread) from
  // construction on.
  explicit SyscallCounter(pid_t tid = 0);
  SyscallCounter(const SyscallCounter&) = delete;
  SyscallCounter& operator=(const SyscallCounter&) = delete;
  ~SyscallCounter();

  // Whether the kernel counts: false when the event could not be opened.
  bool available() const noexcept { return fd_ >= 0; }
  // System calls entered since construction (0 when not available).
  std::uint64_t count() const;

 private:
  int fd_ = -1;
};

// Sets state.counters[name] to the system calls `counter` saw since
// `start` (an earlier count()), divided by `units`; adds nothing when the
// counter is not available.
void report_syscalls(benchmark::State& state, const SyscallCounter& counter, std::uint64_t start,
                     double units, const std::string& name);

// Runs `body` and reports its calling thread's system calls per iteration
// as "syscalls/<unit>" (e.g. "syscalls/round_trip").
template <class Body>
void count_syscalls_per_iteration(benchmark::State& state, const char* unit, Body&& body) {
  const SyscallCounter counter;
  const std::uint64_t start = counter.count();
  body(state);
  report_syscalls(state, counter, start, static_cast<double>(state.iterations()),
                  std::string("syscalls/") + unit);
}

}  // namespace cosync_bench
