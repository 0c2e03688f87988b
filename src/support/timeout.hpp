// Converting the time left until a deadline into a backend's poll timeout.
#pragma once

#include <algorithm>
#include <chrono>

namespace cosync::support {

// The longest a backend is asked to sleep in one call. Longer sleeps wake
// and recompute: a 24 h cap keeps every backend's integer type (int ms,
// long us, uint64 ms) from overflowing.
inline constexpr std::chrono::hours max_poll_timeout{24};

// `left` in the backend's unit `Unit`, rounded up so nothing fires early,
// clamped to [0, max_poll_timeout].
template <class Unit, class Duration>
typename Unit::rep poll_timeout(Duration left) noexcept {
  const auto clamped = std::clamp<std::chrono::nanoseconds>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(left), std::chrono::nanoseconds::zero(),
      max_poll_timeout);
  return std::chrono::ceil<Unit>(clamped).count();
}

}  // namespace cosync::support
