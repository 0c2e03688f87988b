#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>

#include <array>
#include <cstring>

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

namespace {

// The bytes left that the kernel reported in `message`'s control data, or
// -1 when it reported none (a control buffer too small, TCP_INQ turned off).
int bytes_left(msghdr& message) noexcept {
  for (cmsghdr* part = CMSG_FIRSTHDR(&message); part != nullptr;
       part = CMSG_NXTHDR(&message, part)) {
    if (part->cmsg_level == IPPROTO_TCP && part->cmsg_type == TCP_CM_INQ &&
        part->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int left = 0;
      std::memcpy(&left, CMSG_DATA(part), sizeof left);
      return left;
    }
  }
  return -1;
}

}  // namespace

ssize_t receive_reporting_inq(const Call& call, int fd, void* buffer, std::size_t size,
                              int flags) noexcept {
  iovec part{buffer, size};
  // Room for the timestamps a user may have asked for besides TCP_CM_INQ.
  alignas(cmsghdr) std::array<char, 128> control{};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  const ssize_t got = real::recvmsg(fd, &message, flags);
  if (got > 0 && bytes_left(message) == 0) {
    call.not_ready(io_readable);
  }
  return got;
}

}  // namespace cosync::hook
