#include <fcntl.h>
#include <time.h>

#include "hook/call.hpp"
#include "hook/real_linux.hpp"

namespace cosync::hook {

Call::Call(int fd, Kinds kinds, bool dont_wait) noexcept : fd_(fd), record_(fd_record(fd)) {
  if (record_ == nullptr) {
    return;
  }
  loop_ = cooperative_loop();
  if (dont_wait) {
    loop_ = nullptr;
    return;
  }
  generation_ = record_->current_generation();
  if (loop_ != nullptr) {
    mode_ = make_cooperative(kinds) ? Mode::cooperative : Mode::pass;
    if (mode_ == Mode::pass) loop_ = nullptr;
  } else if (record_->has(fd_forced) && !record_->has(fd_user_nonblocking)) {
    mode_ = Mode::blocking;
  }
}

// A socket or pipe the user sees as blocking: the hooks make it
// non-blocking (once), and remember that they did.
bool Call::make_cooperative(Kinds kinds) noexcept {
  fd_learn(fd_, *record_);
  const FdKind kind = record_->fd_kind();
  const bool treated = kind == FdKind::stream || kind == FdKind::datagram ||
                       (kind == FdKind::pipe && kinds == Kinds::sockets_and_pipes);
  if (!treated || record_->has(fd_user_nonblocking) || !record_->has(fd_flags_known)) {
    return false;
  }
  if (record_->has(fd_forced)) {
    return true;
  }
  const int flags = real::fcntl(fd_, F_GETFL, 0);
  if (flags < 0 || real::fcntl(fd_, F_SETFL, static_cast<unsigned>(flags) | O_NONBLOCK) < 0) {
    return false;
  }
  record_->set(fd_forced, true);
  return true;
}

Deadline Call::deadline_in(const std::atomic<std::int64_t>& timeout_ns) noexcept {
  const std::int64_t timeout = timeout_ns.load(std::memory_order_relaxed);
  return timeout == 0 ? no_deadline : Clock::now() + std::chrono::nanoseconds(timeout);
}

int Call::wait(IoEvent event, Deadline deadline) const {
  if (mode_ == Mode::blocking) {
    return wait_blocking(fd_, event, deadline);
  }
  const FdInterest interest{fd_, event, generation_};
  return wait_fds(*loop_, &interest, 1, deadline);
}

int Call::pause(Clock::duration duration) const {
  if (mode_ == Mode::blocking) {
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
    const timespec length{static_cast<time_t>(nanos / 1000000000), nanos % 1000000000};
    real::nanosleep(&length, nullptr);
    return 0;
  }
  return sleep_until(Clock::now() + duration);
}

}  // namespace cosync::hook
