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
  int fd() const noexcept { return fd_; }
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
  // The fd is drained for `event` (the kernel reported no bytes left).
  void not_ready(IoEvent event) const noexcept {
    if (loop_ != nullptr) loop_->io_not_ready(fd_, event);
  }
  // The kernel answered EAGAIN: not_ready, counted (cosync_hook_stats).
  void would_block(IoEvent event) const noexcept {
    if (loop_ != nullptr) {
      count_would_block();
      loop_->io_not_ready(fd_, event);
    }
  }
  // Whether a receive can learn from the kernel that it drained the
  // socket (TCP_INQ is on; see receive_reporting_inq).
  bool reports_inq() const noexcept { return record_->has(fd_inq); }
  // After a receive in a coroutine brought bytes from a stream socket (so
  // it is connected, not a listener whose TCP_INQ its connections would
  // inherit): looks at TCP_INQ once, turning it on where it is off.
  void learn_inq() const noexcept {
    if (loop_ != nullptr && kind() == FdKind::stream) fd_learn_inq(fd_, *record_);
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
      call.would_block(event);
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
      call.would_block(io_writable);
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

// One receive of up to `size` bytes on a socket whose record has fd_inq,
// as recv(fd, buffer, size, flags) (read() when flags is 0): a recvmsg
// that also takes the kernel's count of the bytes left (TCP_CM_INQ). None
// left tells the loop the socket is drained, so the next receive waits for
// readiness first instead of paying a system call that answers EAGAIN
// (cosync's own sockets learn the same from a short read).
ssize_t receive_reporting_inq(const Call& call, int fd, void* buffer, std::size_t size,
                              int flags) noexcept;

// The self-check: whether read(), called as the program calls it, reaches
// this library's definition (first in the lookup, or reached from a
// definition before it that forwards with RTLD_NEXT, as the sanitizers'
// interceptors do).
bool read_reaches_hooks() noexcept;

}  // namespace cosync::hook
