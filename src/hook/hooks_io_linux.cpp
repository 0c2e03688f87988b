// The interposed transfer calls: read, write and the socket family, with
// the fortified variants glibc's headers call under _FORTIFY_SOURCE.
#include <dlfcn.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <vector>

#include "hook/call.hpp"
#include "hook/real_linux.hpp"

// glibc's report of a fortified call's overflow (it does not return).
extern "C" [[noreturn]] void __chk_fail(void);  // NOLINT(readability-identifier-naming): glibc's

namespace cosync::hook {
namespace {

// A writable copy of an iovec array that can skip the bytes already sent.
class IovCursor {
 public:
  IovCursor(const iovec* iov, int count) {
    const auto size = static_cast<std::size_t>(count);
    if (size > inline_.size()) {
      heap_.assign(iov, iov + size);
      first_ = heap_.data();
    } else {
      std::copy(iov, iov + size, inline_.begin());
      first_ = inline_.data();
    }
    end_ = first_ + size;
    for (const iovec* part = iov; part != iov + size; ++part) total_ += part->iov_len;
  }
  IovCursor(const IovCursor&) = delete;
  IovCursor& operator=(const IovCursor&) = delete;
  ~IovCursor() = default;

  std::size_t total() const noexcept { return total_; }
  iovec* data() noexcept { return first_; }
  int count() const noexcept { return static_cast<int>(end_ - first_); }

  // Moves to byte `offset` of the whole (never backwards).
  void seek(std::size_t offset) noexcept {
    std::size_t skip = offset - consumed_;
    consumed_ = offset;
    while (skip > 0 && first_ != end_) {
      const std::size_t step = std::min(skip, first_->iov_len);
      first_->iov_base = static_cast<char*>(first_->iov_base) + step;
      first_->iov_len -= step;
      skip -= step;
      if (first_->iov_len == 0) ++first_;
    }
  }

 private:
  std::array<iovec, 8> inline_{};
  std::vector<iovec> heap_;
  iovec* first_ = nullptr;
  iovec* end_ = nullptr;
  std::size_t total_ = 0;
  std::size_t consumed_ = 0;
};

// A blocking stream or pipe write sends everything; a datagram goes whole.
bool sends_all(const Call& call) noexcept { return call.kind() != FdKind::datagram; }

bool valid_iov_count(int count) noexcept { return count > 0 && count <= IOV_MAX; }

// Flags with which recv(2) on a stream socket may go through
// receive_reporting_inq: the others (MSG_PEEK, MSG_OOB, MSG_TRUNC...)
// consume nothing or read something else, and report no drain.
constexpr int kInqFlags = MSG_WAITALL | MSG_NOSIGNAL | MSG_CMSG_CLOEXEC;

// A receive on a stream socket (read(), or recv without an address and
// without special flags), retried as retry does: through
// receive_reporting_inq once TCP_INQ is on, else `plain`.
template <class Plain>
ssize_t receive_stream(const Call& call, Deadline deadline, void* buffer, std::size_t size,
                       int flags, Plain plain) {
  return retry(call, io_readable, deadline, [&]() -> ssize_t {
    if (call.reports_inq()) return receive_reporting_inq(call, call.fd(), buffer, size, flags);
    const ssize_t got = plain();
    if (got > 0) call.learn_inq();
    return got;
  });
}

bool reports_drain(const Call& call, std::size_t size, int flags, const sockaddr* from) noexcept {
  return call.kind() == FdKind::stream && size > 0 && from == nullptr && (flags & ~kInqFlags) == 0;
}

ssize_t receive_from(int fd, void* buffer, std::size_t size, int flags, sockaddr* from,
                     socklen_t* from_size) {
  const Call call(fd, Kinds::sockets, (flags & MSG_DONTWAIT) != 0);
  if (!call.hooked()) {
    return real::recvfrom(fd, buffer, size, flags, from, from_size);
  }
  const Deadline deadline = call.receive_deadline();
  const bool drain_reported = reports_drain(call, size, flags, from);
  const auto receive = [&](char* into, std::size_t room) {
    const auto plain = [&] { return real::recvfrom(fd, into, room, flags, from, from_size); };
    return drain_reported ? receive_stream(call, deadline, into, room, flags, plain)
                          : retry(call, io_readable, deadline, plain);
  };
  if ((flags & MSG_WAITALL) == 0 || call.kind() != FdKind::stream) {
    return receive(static_cast<char*>(buffer), size);
  }
  // MSG_WAITALL: a blocking stream receive fills the buffer, unless the
  // stream ends, an error comes, or the timeout passes after some bytes.
  const int saved = errno;
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = receive(static_cast<char*>(buffer) + done, size - done);
    if (got <= 0) {
      if (done == 0) return got;
      break;
    }
    done += static_cast<std::size_t>(got);
  }
  errno = saved;
  return static_cast<ssize_t>(done);
}

ssize_t send_to(int fd, const void* data, std::size_t size, int flags, const sockaddr* to,
                socklen_t to_size) {
  const Call call(fd, Kinds::sockets, (flags & MSG_DONTWAIT) != 0);
  if (!call.hooked()) {
    return real::sendto(fd, data, size, flags, to, to_size);
  }
  const Deadline deadline = call.send_deadline();
  if (!sends_all(call)) {
    return retry(call, io_writable, deadline,
                 [&] { return real::sendto(fd, data, size, flags, to, to_size); });
  }
  return send_all(call, size, deadline, [&](std::size_t offset) {
    return real::sendto(fd, static_cast<const char*>(data) + offset, size - offset, flags, to,
                        to_size);
  });
}

int accept_connection(int fd, sockaddr* address, socklen_t* size, int flags) {
  const Call call(fd, Kinds::sockets, false);
  const int accepted = call.hooked()
                           ? retry(call, io_readable, call.receive_deadline(),
                                   [&] { return real::accept4(fd, address, size, flags); })
                           : real::accept4(fd, address, size, flags);
  if (accepted >= 0) {
    fd_created(accepted, FdKind::stream, (flags & SOCK_NONBLOCK) != 0);
  }
  return accepted;
}

// The outcome of a connect that waited: SO_ERROR.
int connect_outcome(int fd, int saved) {
  int outcome = 0;
  socklen_t size = sizeof outcome;
  if (real::getsockopt(fd, SOL_SOCKET, SO_ERROR, &outcome, &size) != 0) {
    return -1;
  }
  errno = outcome != 0 ? outcome : saved;
  return outcome != 0 ? -1 : 0;
}

// A Unix-domain listener with a full backlog answers EAGAIN and sends no
// edge when room appears: the connect is retried after a growing pause.
constexpr auto kFirstPause = std::chrono::milliseconds(1);
constexpr auto kLongestPause = std::chrono::milliseconds(50);

int connect_socket(int fd, const sockaddr* address, socklen_t size) {
  const Call call(fd, Kinds::sockets, false);
  if (!call.hooked()) {
    return real::connect(fd, address, size);
  }
  const int saved = errno;
  const Deadline deadline = call.send_deadline();
  Clock::duration pause = kFirstPause;
  while (real::connect(fd, address, size) != 0) {
    if (errno != EAGAIN || address == nullptr || address->sa_family != AF_UNIX) {
      if (errno != EINPROGRESS) return -1;
      // A blocking connect whose SO_SNDTIMEO passes answers EINPROGRESS.
      if (const int end = call.wait(io_writable, deadline); end != 0) {
        errno = end == ETIMEDOUT ? EINPROGRESS : end;
        return -1;
      }
      return connect_outcome(fd, saved);
    }
    if (deadline != no_deadline && Clock::now() + pause >= deadline) return -1;
    if (const int end = call.pause(pause); end != 0) {
      errno = end;
      return -1;
    }
    pause = std::min<Clock::duration>(pause * 2, kLongestPause);
  }
  errno = saved;
  return 0;
}

ssize_t write_vector(int fd, const iovec* iov, int count) {
  const Call call(fd, Kinds::sockets_and_pipes, false);
  if (!call.hooked() || !valid_iov_count(count)) {
    return real::writev(fd, iov, count);
  }
  IovCursor cursor(iov, count);
  return send_all(call, cursor.total(), call.send_deadline(), [&](std::size_t offset) {
    cursor.seek(offset);
    return real::writev(fd, cursor.data(), cursor.count());
  });
}

ssize_t send_message(int fd, const msghdr* message, int flags) {
  const Call call(fd, Kinds::sockets, (flags & MSG_DONTWAIT) != 0);
  if (!call.hooked()) {
    return real::sendmsg(fd, message, flags);
  }
  const Deadline deadline = call.send_deadline();
  // Ancillary data goes with the first byte only: such a message, and a
  // datagram, is one attempt.
  if (!sends_all(call) || message->msg_controllen != 0 ||
      !valid_iov_count(static_cast<int>(message->msg_iovlen))) {
    return retry(call, io_writable, deadline, [&] { return real::sendmsg(fd, message, flags); });
  }
  IovCursor cursor(message->msg_iov, static_cast<int>(message->msg_iovlen));
  msghdr rest = *message;
  return send_all(call, cursor.total(), deadline, [&](std::size_t offset) {
    cursor.seek(offset);
    rest.msg_iov = cursor.data();
    rest.msg_iovlen = static_cast<std::size_t>(cursor.count());
    return real::sendmsg(fd, &rest, flags);
  });
}

// recvmsg's control data would show a TCP_INQ the hooks turned on: it
// goes back off first (the socket's later receives then pay an EAGAIN).
void show_users_inq(int fd) noexcept {
  if (FdRecord* record = fd_record(fd); record != nullptr && record->has(fd_inq_forced)) {
    fd_unforce_inq(fd, *record);
  }
}

// Set by read_reaches_hooks around its probe; read notes that it ran.
constinit thread_local bool t_probing __attribute__((tls_model("initial-exec"))) = false;
constinit thread_local bool t_probe_reached __attribute__((tls_model("initial-exec"))) = false;

}  // namespace

bool read_reaches_hooks() noexcept {
  using Read = ssize_t (*)(int, void*, size_t);
  auto first = reinterpret_cast<Read>(dlsym(RTLD_DEFAULT, "read"));
  if (first == nullptr) return false;
  const int saved = errno;
  t_probe_reached = false;
  t_probing = true;
  first(-1, nullptr, 0);  // EBADF, through whatever definitions come first
  t_probing = false;
  errno = saved;
  return t_probe_reached;
}

}  // namespace cosync::hook

using cosync::hook::Call;
using cosync::hook::Kinds;
namespace real = cosync::hook::real;

// The definitions below replace libc's: their names are libc's, and
// their parameters cannot take glibc's reserved names.
// NOLINTBEGIN(readability-identifier-naming,readability-inconsistent-declaration-parameter-name)
extern "C" {

ssize_t read(int fd, void* buffer, size_t size) {
  if (cosync::hook::t_probing) [[unlikely]] {
    cosync::hook::t_probe_reached = true;
  }
  const Call call(fd, Kinds::sockets_and_pipes, false);
  if (!call.hooked()) {
    return real::read(fd, buffer, size);
  }
  const auto plain = [&] { return real::read(fd, buffer, size); };
  if (cosync::hook::reports_drain(call, size, 0, nullptr)) {
    return cosync::hook::receive_stream(call, call.receive_deadline(), buffer, size, 0, plain);
  }
  return retry(call, cosync::io_readable, call.receive_deadline(), plain);
}

ssize_t __read_chk(int fd, void* buffer, size_t size, size_t buffer_size) {
  if (size > buffer_size) __chk_fail();
  return read(fd, buffer, size);
}

ssize_t readv(int fd, const struct iovec* iov, int count) {
  const Call call(fd, Kinds::sockets_and_pipes, false);
  if (!call.hooked()) {
    return real::readv(fd, iov, count);
  }
  return retry(call, cosync::io_readable, call.receive_deadline(),
               [&] { return real::readv(fd, iov, count); });
}

ssize_t recv(int fd, void* buffer, size_t size, int flags) {
  return cosync::hook::receive_from(fd, buffer, size, flags, nullptr, nullptr);
}

ssize_t __recv_chk(int fd, void* buffer, size_t size, size_t buffer_size, int flags) {
  if (size > buffer_size) __chk_fail();
  return recv(fd, buffer, size, flags);
}

ssize_t recvfrom(int fd, void* buffer, size_t size, int flags, struct sockaddr* from,
                 socklen_t* from_size) {
  return cosync::hook::receive_from(fd, buffer, size, flags, from, from_size);
}

ssize_t __recvfrom_chk(int fd, void* buffer, size_t size, size_t buffer_size, int flags,
                       struct sockaddr* from, socklen_t* from_size) {
  if (size > buffer_size) __chk_fail();
  return recvfrom(fd, buffer, size, flags, from, from_size);
}

ssize_t recvmsg(int fd, struct msghdr* message, int flags) {
  cosync::hook::show_users_inq(fd);
  const Call call(fd, Kinds::sockets, (flags & MSG_DONTWAIT) != 0);
  if (!call.hooked()) {
    return real::recvmsg(fd, message, flags);
  }
  return retry(call, cosync::io_readable, call.receive_deadline(),
               [&] { return real::recvmsg(fd, message, flags); });
}

// Not a cooperative call (it is not one of the hooked calls): defined only
// so that its control data shows the user's TCP_INQ, as recvmsg's does.
int recvmmsg(int fd, struct mmsghdr* messages, unsigned count, int flags,
             struct timespec* timeout) {
  cosync::hook::show_users_inq(fd);
  return real::recvmmsg(fd, messages, count, flags, timeout);
}

ssize_t write(int fd, const void* data, size_t size) {
  const Call call(fd, Kinds::sockets_and_pipes, false);
  if (!call.hooked()) {
    return real::write(fd, data, size);
  }
  const cosync::Deadline deadline = call.send_deadline();
  if (call.kind() == cosync::hook::FdKind::datagram) {
    return retry(call, cosync::io_writable, deadline, [&] { return real::write(fd, data, size); });
  }
  return send_all(call, size, deadline, [&](std::size_t offset) {
    return real::write(fd, static_cast<const char*>(data) + offset, size - offset);
  });
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  return cosync::hook::write_vector(fd, iov, count);
}

ssize_t send(int fd, const void* data, size_t size, int flags) {
  return cosync::hook::send_to(fd, data, size, flags, nullptr, 0);
}

ssize_t sendto(int fd, const void* data, size_t size, int flags, const struct sockaddr* to,
               socklen_t to_size) {
  return cosync::hook::send_to(fd, data, size, flags, to, to_size);
}

ssize_t sendmsg(int fd, const struct msghdr* message, int flags) {
  return cosync::hook::send_message(fd, message, flags);
}

int accept(int fd, struct sockaddr* address, socklen_t* size) {
  return cosync::hook::accept_connection(fd, address, size, 0);
}

int accept4(int fd, struct sockaddr* address, socklen_t* size, int flags) {
  return cosync::hook::accept_connection(fd, address, size, flags);
}

int connect(int fd, const struct sockaddr* address, socklen_t size) {
  return cosync::hook::connect_socket(fd, address, size);
}

}  // extern "C"
// NOLINTEND(readability-identifier-naming,readability-inconsistent-declaration-parameter-name)
