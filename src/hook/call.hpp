// How one hooked call on an fd proceeds: straight through to libc; in a
// coroutine, suspending it while the fd is not ready; or, outside
// coroutines on an fd the hooks made non-blocking behind the user's back,
// blocking in the real poll as the call would have blocked.
#pragma once

#include <cerrno>
#include <cstddef>
#include <utility>

#include "hook/fd_state.hpp"
#include "hook/waiting.hpp"

namespace cosync::hook {

// Which fds a call treats: sockets of any kind (connect, accept), or
// sockets and pipes (read, write...).
enum class Kinds { sockets, sockets_and_pipes };

class Call {
 public:
  // Classifies a call on `fd`; `dont_wait` (MSG_DONTWAIT) passes through.
  Call(int fd, Kinds kinds, bool dont_wait) noexcept;

  // False: make the real call and return what it returns.
  bool hooked() const noexcept { return mode_ != Mode::pass; }
  FdRecord& record() const noexcept { return *record_; }
  FdKind kind() const noexcept { return record_->fd_kind(); }
  // The deadline of SO_RCVTIMEO or SO_SNDTIMEO, from now.
  Deadline receive_deadline() const noexcept { return deadline_in(record_->receive_timeout_ns); }
  Deadline send_deadline() const noexcept { return deadline_in(record_->send_timeout_ns); }

  // Before an attempt: in a coroutine, whether the loop last saw the fd
  // not ready for `event` (then wait first, and skip a system call that
  // would answer EAGAIN).
  bool known_not_ready(IoEvent event) const noexcept {
    return loop_ != nullptr && !loop_->io_ready(fd_, event);
  }
  // The kernel answered EAGAIN (or a short transfer showed the fd drained).
  void not_ready(IoEvent event) const noexcept {
    if (loop_ != nullptr) loop_->io_not_ready(fd_, event);
  }
  // Waits until the fd may be ready for `event`: 0 (try again), or the
  // errno that ends the call: ETIMEDOUT, ECANCELED, EBADF (closed).
  int wait(IoEvent event, Deadline deadline) const;
  // Pauses (a full Unix-domain backlog sends no readiness edge): 0 or ECANCELED.
  int pause(Clock::duration duration) const;

 private:
  enum class Mode { pass, cooperative, blocking };
  static Deadline deadline_in(const std::atomic<std::int64_t>& timeout_ns) noexcept;
  bool make_cooperative(Kinds kinds) noexcept;

  int fd_;
  Mode mode_ = Mode::pass;
  FdRecord* record_ = nullptr;
  Loop* loop_ = nullptr;
  std::uint32_t generation_ = 0;
};

// Runs `attempt` (a non-blocking read-side call returning ssize_t or int)
// until it does not answer EAGAIN, waiting for `event` in between; returns
// its result with the errno a blocking call would have left: the caller's
// own on success, EAGAIN at the deadline, the kernel's otherwise.
template <class Attempt>
auto retry(const Call& call, IoEvent event, Deadline deadline, Attempt attempt)
    -> decltype(attempt()) {
  const int saved = errno;
  // Only before the first attempt: after a wait the kernel decides.
  bool skip = call.known_not_ready(event);
  for (;;) {
    if (!std::exchange(skip, false)) {
      const auto done = attempt();
      if (done >= 0) {
        errno = saved;
        return done;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) return done;
      call.not_ready(event);
    }
    if (const int end = call.wait(event, deadline); end != 0) {
      errno = end == ETIMEDOUT ? EAGAIN : end;
      return -1;
    }
  }
}

// A blocking send on a stream: `attempt(offset)` sends from `offset` of
// `total` bytes; repeated until all are sent. A failure or the deadline
// after some bytes went out answers their count, as the kernel does.
template <class Attempt>
ssize_t send_all(const Call& call, std::size_t total, Deadline deadline, Attempt attempt) {
  const int saved = errno;
  std::size_t done = 0;
  for (;;) {
    const ssize_t put = attempt(done);
    if (put >= 0) {
      done += static_cast<std::size_t>(put);
      if (done >= total) {
        errno = saved;
        return static_cast<ssize_t>(done);
      }
      continue;
    }
    int end = errno;
    if (end == EAGAIN || end == EWOULDBLOCK) {
      call.not_ready(io_writable);
      end = call.wait(io_writable, deadline);
      if (end == 0) continue;
      if (end == ETIMEDOUT) end = EAGAIN;
    }
    if (done > 0) {
      errno = saved;
      return static_cast<ssize_t>(done);
    }
    errno = end;
    return -1;
  }
}

// The self-check: whether read(), called as the program calls it, reaches
// this library's definition (first in the lookup, or reached from a
// definition before it that forwards with RTLD_NEXT, as the sanitizers'
// interceptors do).
bool read_reaches_hooks() noexcept;

}  // namespace cosync::hook
