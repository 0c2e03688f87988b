// The *_io_uring rows: cosync's io_uring loop as the thread's loop for the
// length of a run, or the reason this kernel refuses one.
#pragma once

#include <benchmark/benchmark.h>

#include <cosync/loop.hpp>
#include <cosync/loop_io_uring.hpp>
#include <memory>
#include <string>

namespace cosync_bench {

// Installs a new io_uring loop as this thread's loop (set_this_loop) for
// its lifetime, where the kernel accepts one. Whatever ran on it (sockets,
// coroutines) must be finished before it goes.
class IoUringLoopScope {
 public:
  IoUringLoopScope() : refused_(cosync::io_uring_unavailable_reason()) {
    if (refused_.empty()) {
      loop_ = cosync::make_io_uring_loop();
      cosync::set_this_loop(loop_.get());
    }
  }
  IoUringLoopScope(const IoUringLoopScope&) = delete;
  IoUringLoopScope& operator=(const IoUringLoopScope&) = delete;
  ~IoUringLoopScope() {
    if (loop_ != nullptr) cosync::set_this_loop(nullptr);
  }

  // Empty when the loop is installed; otherwise what the kernel refused.
  const std::string& refused() const noexcept { return refused_; }
  // The installed loop (only when refused() is empty).
  cosync::Loop& loop() const noexcept { return *loop_; }

 private:
  std::string refused_;
  std::unique_ptr<cosync::Loop> loop_;
};

// Skips the benchmark with the kernel's refusal; true when `scope` runs.
inline bool io_uring_loop_runs(const IoUringLoopScope& scope, benchmark::State& state) {
  if (scope.refused().empty()) return true;
  state.SkipWithError(("no io_uring loop: " + scope.refused()).c_str());
  return false;
}

}  // namespace cosync_bench
