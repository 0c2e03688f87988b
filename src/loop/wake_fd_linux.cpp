// WakeFd over an eventfd: a counter, so any number of sends before a drain
// cost one readable edge and one read.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "loop/internal_fd.hpp"
#include "loop/wake_fd.hpp"
#include "support/direct_calls_linux.hpp"

namespace cosync::loop {

WakeFd::WakeFd() : fd_(move_above_user_fds(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))) {
  if (fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "cosync: eventfd failed");
  }
}

WakeFd::~WakeFd() { close(fd_); }

// Only EINTR can fail a write of 1: the counter would need 2^64 - 2 sends
// without a drain to block.
void WakeFd::send() const noexcept {
  const std::uint64_t one = 1;
  while (support::direct::write(fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

// EAGAIN (nothing sent since the last drain) is fine: the caller runs what
// is queued either way.
void WakeFd::drain() const noexcept {
  std::uint64_t count = 0;
  while (support::direct::read(fd_, &count, sizeof count) < 0 && errno == EINTR) {
  }
}

}  // namespace cosync::loop
