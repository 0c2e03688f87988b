// Runs a cleanup when a scope ends, by return or by exception: the one
// replacement for the one-off guard structs each function used to declare.
#pragma once

#include <utility>

namespace cosync::support {

// The cleanup runs in a destructor, so it must not throw: a cleanup that
// can fail (a mutex unlock that may wake a waiter and throw) handles its
// own failure before it gets here. `noexcept` on the destructor makes a
// violation terminate at once rather than unwind through a half-done scope.
template <class F>
class [[nodiscard]] ScopeExit {
 public:
  explicit ScopeExit(F cleanup) noexcept(noexcept(F(std::move(cleanup))))
      : cleanup_(std::move(cleanup)) {}
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;
  ~ScopeExit() noexcept {
    if (armed_) cleanup_();
  }

  // The scope succeeded and the cleanup is not wanted.
  void dismiss() noexcept { armed_ = false; }

 private:
  F cleanup_;
  bool armed_ = true;
};

}  // namespace cosync::support
