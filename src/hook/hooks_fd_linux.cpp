// The interposed calls that make, close, copy and configure fds: they keep
// the per-fd records (fd_state.hpp) true on every path.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdint>
#include <cstring>

#include "hook/fd_state.hpp"
#include "hook/real_linux.hpp"
#include "hook/waiting.hpp"

namespace cosync::hook {
namespace {

constexpr std::int64_t kNanosPerSecond = 1000000000;
constexpr std::int64_t kNanosPerMicro = 1000;

void created_pair(const int fds[2], FdKind kind, bool nonblocking) noexcept {
  fd_created(fds[0], kind, nonblocking);
  fd_created(fds[1], kind, nonblocking);
}

// The user's F_SETFL or FIONBIO: their view changes; the kernel's flag
// stays set while the hooks need it. Returns the flags for the kernel.
unsigned long user_sets_nonblocking(int fd, bool nonblocking, unsigned long kernel_flags) noexcept {
  FdRecord* record = fd_record(fd);
  if (record == nullptr) {
    return kernel_flags;
  }
  record->set(fd_user_nonblocking, nonblocking);
  record->set(fd_flags_known, true);
  if (nonblocking) {
    record->set(fd_forced, false);  // the user's own from now on
    return kernel_flags;
  }
  return record->has(fd_forced) ? kernel_flags | O_NONBLOCK : kernel_flags;
}

int get_flags(int fd) {
  const int flags = real::fcntl(fd, F_GETFL, 0);
  const FdRecord* record = fd_record(fd);
  if (flags < 0 || record == nullptr || !record->has(fd_forced) ||
      record->has(fd_user_nonblocking)) {
    return flags;
  }
  return flags & ~O_NONBLOCK;
}

int control(int fd, int command, unsigned long argument) {
  switch (command) {
    case F_GETFL:
      return get_flags(fd);
    case F_SETFL:
      return real::fcntl(fd, command,
                         user_sets_nonblocking(fd, (argument & O_NONBLOCK) != 0, argument));
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const int copy = real::fcntl(fd, command, argument);
      if (copy >= 0) fd_duplicated(fd, copy);
      return copy;
    }
    default:
      return real::fcntl(fd, command, argument);
  }
}

// A socket timeout as nanoseconds (0: none), from the timeval of
// SO_RCVTIMEO or SO_SNDTIMEO (old and new layouts are alike on 64 bits).
std::int64_t timeout_of(const void* value, socklen_t size) noexcept {
  if (value == nullptr || size < sizeof(timeval)) {
    return 0;
  }
  const auto* length = static_cast<const timeval*>(value);
  return static_cast<std::int64_t>(length->tv_sec) * kNanosPerSecond +
         static_cast<std::int64_t>(length->tv_usec) * kNanosPerMicro;
}

bool is_receive_timeout(int name) noexcept {
  return name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW;
}
bool is_send_timeout(int name) noexcept {
  return name == SO_SNDTIMEO_OLD || name == SO_SNDTIMEO_NEW;
}

// TCP_INQ, which the hooks may have turned on (fd_inq_forced). The kernel
// accepted the option, so its value was an int.
bool is_inq(int level, int name) noexcept { return level == IPPROTO_TCP && name == TCP_INQ; }

// dup2/dup3 closed `target` first, if it was open.
int after_duplicate(int fd, int target, int outcome) noexcept {
  if (outcome >= 0 && fd != target) {
    fd_duplicated(fd, target);
    before_close(target);
  }
  return outcome;
}

}  // namespace
}  // namespace cosync::hook

namespace hook = cosync::hook;
namespace real = cosync::hook::real;

// The definitions below replace libc's: their names are libc's, and
// their parameters cannot take glibc's reserved names.
// NOLINTBEGIN(readability-identifier-naming,readability-inconsistent-declaration-parameter-name)
extern "C" {

int socket(int domain, int type, int protocol) noexcept {
  const int fd = real::socket(domain, type, protocol);
  if (fd >= 0) hook::fd_created(fd, hook::socket_kind(type), (type & SOCK_NONBLOCK) != 0);
  return fd;
}

int socketpair(int domain, int type, int protocol, int fds[2]) noexcept {
  const int outcome = real::socketpair(domain, type, protocol, fds);
  if (outcome == 0) hook::created_pair(fds, hook::socket_kind(type), (type & SOCK_NONBLOCK) != 0);
  return outcome;
}

int pipe(int fds[2]) noexcept {
  const int outcome = real::pipe2(fds, 0);
  if (outcome == 0) hook::created_pair(fds, hook::FdKind::pipe, false);
  return outcome;
}

int pipe2(int fds[2], int flags) noexcept {
  const int outcome = real::pipe2(fds, flags);
  if (outcome == 0) hook::created_pair(fds, hook::FdKind::pipe, (flags & O_NONBLOCK) != 0);
  return outcome;
}

int close(int fd) {
  hook::fd_closed(fd);
  hook::before_close(fd);
  return real::close(fd);
}

int shutdown(int fd, int how) noexcept { return real::shutdown(fd, how); }

int dup(int fd) noexcept {
  const int copy = real::dup(fd);
  if (copy >= 0) hook::fd_duplicated(fd, copy);
  return copy;
}

int dup2(int fd, int target) noexcept {
  return hook::after_duplicate(fd, target, real::dup2(fd, target));
}

int dup3(int fd, int target, int flags) noexcept {
  return hook::after_duplicate(fd, target, real::dup3(fd, target, flags));
}

int fcntl(int fd, int command, ...) {
  va_list arguments;
  va_start(arguments, command);
  const unsigned long argument = va_arg(arguments, unsigned long);
  va_end(arguments);
  return hook::control(fd, command, argument);
}

int fcntl64(int fd, int command, ...) {
  va_list arguments;
  va_start(arguments, command);
  const unsigned long argument = va_arg(arguments, unsigned long);
  va_end(arguments);
  return hook::control(fd, command, argument);
}

int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list arguments;
  va_start(arguments, request);
  void* argument = va_arg(arguments, void*);
  va_end(arguments);
  if (request != FIONBIO || argument == nullptr) {
    return real::ioctl(fd, request, argument);
  }
  const bool nonblocking = *static_cast<const int*>(argument) != 0;
  const hook::FdRecord* record = hook::fd_record(fd);
  const bool forced = record != nullptr && record->has(hook::fd_forced);
  if (!nonblocking && forced) {
    hook::user_sets_nonblocking(fd, false, 0);
    return 0;  // the kernel's flag stays, for the hooks
  }
  const int outcome = real::ioctl(fd, request, argument);
  if (outcome == 0) hook::user_sets_nonblocking(fd, nonblocking, 0);
  return outcome;
}

int setsockopt(int fd, int level, int name, const void* value, socklen_t size) noexcept {
  const int outcome = real::setsockopt(fd, level, name, value, size);
  hook::FdRecord* record = hook::fd_record(fd);
  if (outcome != 0 || record == nullptr) {
    return outcome;
  }
  if (hook::is_inq(level, name)) {
    hook::fd_user_sets_inq(*record, *static_cast<const int*>(value) != 0);
    return outcome;
  }
  if (level != SOL_SOCKET) {
    return outcome;
  }
  if (hook::is_receive_timeout(name)) {
    record->receive_timeout_ns.store(hook::timeout_of(value, size), std::memory_order_relaxed);
  } else if (hook::is_send_timeout(name)) {
    record->send_timeout_ns.store(hook::timeout_of(value, size), std::memory_order_relaxed);
  }
  return outcome;
}

int getsockopt(int fd, int level, int name, void* value, socklen_t* size) noexcept {
  const int outcome = real::getsockopt(fd, level, name, value, size);
  const hook::FdRecord* record = hook::fd_record(fd);
  if (outcome == 0 && hook::is_inq(level, name) && record != nullptr &&
      record->has(hook::fd_inq_forced)) {
    std::memset(value, 0, *size);  // the user's view: off
  }
  return outcome;
}

}  // extern "C"
// NOLINTEND(readability-identifier-naming,readability-inconsistent-declaration-parameter-name)
