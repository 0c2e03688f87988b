#include "hook/real_linux.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace cosync::hook::real {
namespace {

// Set while this thread is inside dlsym: a call dlsym makes meanwhile must
// not ask dlsym again.
constinit thread_local bool t_resolving __attribute__((tls_model("initial-exec"))) = false;

// libc's definition of `name`, or null (not resolved yet, or none).
template <class Fn>
Fn next_definition(std::atomic<void*>& slot, const char* name) noexcept {
  void* found = slot.load(std::memory_order_acquire);
  if (found == nullptr && !t_resolving) {
    t_resolving = true;
    found = dlsym(RTLD_NEXT, name);
    t_resolving = false;
    slot.store(found, std::memory_order_release);
  }
  return reinterpret_cast<Fn>(found);
}

// Each call's slot: one per function, constant-initialised, so that a
// call made before any constructor ran finds it.
template <auto Tag>
std::atomic<void*>& slot() noexcept {
  static constinit std::atomic<void*> address{nullptr};
  return address;
}

// The kernel's sigset size for the p*-calls made with syscall(2).
constexpr std::size_t kSigsetSize = 8;

}  // namespace

ssize_t read(int fd, void* buffer, std::size_t size) {
  if (auto fn = next_definition<decltype(&::read)>(slot<&read>(), "read")) {
    return fn(fd, buffer, size);
  }
  return ::syscall(SYS_read, fd, buffer, size);
}

ssize_t readv(int fd, const iovec* iov, int count) {
  if (auto fn = next_definition<decltype(&::readv)>(slot<&readv>(), "readv")) {
    return fn(fd, iov, count);
  }
  return ::syscall(SYS_readv, fd, iov, count);
}

ssize_t write(int fd, const void* data, std::size_t size) {
  if (auto fn = next_definition<decltype(&::write)>(slot<&write>(), "write")) {
    return fn(fd, data, size);
  }
  return ::syscall(SYS_write, fd, data, size);
}

ssize_t writev(int fd, const iovec* iov, int count) {
  if (auto fn = next_definition<decltype(&::writev)>(slot<&writev>(), "writev")) {
    return fn(fd, iov, count);
  }
  return ::syscall(SYS_writev, fd, iov, count);
}

ssize_t recvfrom(int fd, void* buffer, std::size_t size, int flags, sockaddr* from,
                 socklen_t* from_size) {
  if (auto fn = next_definition<decltype(&::recvfrom)>(slot<&recvfrom>(), "recvfrom")) {
    return fn(fd, buffer, size, flags, from, from_size);
  }
  return ::syscall(SYS_recvfrom, fd, buffer, size, flags, from, from_size);
}

ssize_t recvmsg(int fd, msghdr* message, int flags) {
  if (auto fn = next_definition<decltype(&::recvmsg)>(slot<&recvmsg>(), "recvmsg")) {
    return fn(fd, message, flags);
  }
  return ::syscall(SYS_recvmsg, fd, message, flags);
}

int recvmmsg(int fd, mmsghdr* messages, unsigned count, int flags, timespec* timeout) {
  if (auto fn = next_definition<decltype(&::recvmmsg)>(slot<&recvmmsg>(), "recvmmsg")) {
    return fn(fd, messages, count, flags, timeout);
  }
  return static_cast<int>(::syscall(SYS_recvmmsg, fd, messages, count, flags, timeout));
}

ssize_t sendto(int fd, const void* data, std::size_t size, int flags, const sockaddr* to,
               socklen_t to_size) {
  if (auto fn = next_definition<decltype(&::sendto)>(slot<&sendto>(), "sendto")) {
    return fn(fd, data, size, flags, to, to_size);
  }
  return ::syscall(SYS_sendto, fd, data, size, flags, to, to_size);
}

ssize_t sendmsg(int fd, const msghdr* message, int flags) {
  if (auto fn = next_definition<decltype(&::sendmsg)>(slot<&sendmsg>(), "sendmsg")) {
    return fn(fd, message, flags);
  }
  return ::syscall(SYS_sendmsg, fd, message, flags);
}

int accept4(int fd, sockaddr* address, socklen_t* size, int flags) {
  if (auto fn = next_definition<decltype(&::accept4)>(slot<&accept4>(), "accept4")) {
    return fn(fd, address, size, flags);
  }
  return static_cast<int>(::syscall(SYS_accept4, fd, address, size, flags));
}

int connect(int fd, const sockaddr* address, socklen_t size) {
  if (auto fn = next_definition<decltype(&::connect)>(slot<&connect>(), "connect")) {
    return fn(fd, address, size);
  }
  return static_cast<int>(::syscall(SYS_connect, fd, address, size));
}

int socket(int domain, int type, int protocol) {
  if (auto fn = next_definition<decltype(&::socket)>(slot<&socket>(), "socket")) {
    return fn(domain, type, protocol);
  }
  return static_cast<int>(::syscall(SYS_socket, domain, type, protocol));
}

int socketpair(int domain, int type, int protocol, int fds[2]) {
  if (auto fn = next_definition<decltype(&::socketpair)>(slot<&socketpair>(), "socketpair")) {
    return fn(domain, type, protocol, fds);
  }
  return static_cast<int>(::syscall(SYS_socketpair, domain, type, protocol, fds));
}

int pipe2(int fds[2], int flags) {
  if (auto fn = next_definition<decltype(&::pipe2)>(slot<&pipe2>(), "pipe2")) {
    return fn(fds, flags);
  }
  return static_cast<int>(::syscall(SYS_pipe2, fds, flags));
}

int close(int fd) {
  if (auto fn = next_definition<decltype(&::close)>(slot<&close>(), "close")) {
    return fn(fd);
  }
  return static_cast<int>(::syscall(SYS_close, fd));
}

int shutdown(int fd, int how) {
  if (auto fn = next_definition<decltype(&::shutdown)>(slot<&shutdown>(), "shutdown")) {
    return fn(fd, how);
  }
  return static_cast<int>(::syscall(SYS_shutdown, fd, how));
}

int dup(int fd) {
  if (auto fn = next_definition<decltype(&::dup)>(slot<&dup>(), "dup")) {
    return fn(fd);
  }
  return static_cast<int>(::syscall(SYS_dup, fd));
}

int dup3(int fd, int target, int flags) {
  if (auto fn = next_definition<decltype(&::dup3)>(slot<&dup3>(), "dup3")) {
    return fn(fd, target, flags);
  }
  return static_cast<int>(::syscall(SYS_dup3, fd, target, flags));
}

// Not every architecture has a dup2 system call: dup3 does the rest.
int dup2(int fd, int target) {
  if (auto fn = next_definition<decltype(&::dup2)>(slot<&dup2>(), "dup2")) {
    return fn(fd, target);
  }
  if (fd == target) {
    return ::syscall(SYS_fcntl, fd, F_GETFD) < 0 ? -1 : fd;
  }
  return static_cast<int>(::syscall(SYS_dup3, fd, target, 0));
}

int fcntl(int fd, int command, unsigned long argument) {
  using Fcntl = int (*)(int, int, ...);
  if (auto fn = next_definition<Fcntl>(slot<&fcntl>(), "fcntl")) {
    return fn(fd, command, argument);
  }
  return static_cast<int>(::syscall(SYS_fcntl, fd, command, argument));
}

int ioctl(int fd, unsigned long request, void* argument) {
  using Ioctl = int (*)(int, unsigned long, ...);
  if (auto fn = next_definition<Ioctl>(slot<&ioctl>(), "ioctl")) {
    return fn(fd, request, argument);
  }
  return static_cast<int>(::syscall(SYS_ioctl, fd, request, argument));
}

int setsockopt(int fd, int level, int name, const void* value, socklen_t size) {
  if (auto fn = next_definition<decltype(&::setsockopt)>(slot<&setsockopt>(), "setsockopt")) {
    return fn(fd, level, name, value, size);
  }
  return static_cast<int>(::syscall(SYS_setsockopt, fd, level, name, value, size));
}

int getsockopt(int fd, int level, int name, void* value, socklen_t* size) {
  if (auto fn = next_definition<decltype(&::getsockopt)>(slot<&getsockopt>(), "getsockopt")) {
    return fn(fd, level, name, value, size);
  }
  return static_cast<int>(::syscall(SYS_getsockopt, fd, level, name, value, size));
}

int poll(pollfd* fds, nfds_t count, int timeout_ms) {
  if (auto fn = next_definition<decltype(&::poll)>(slot<&poll>(), "poll")) {
    return fn(fds, count, timeout_ms);
  }
  const timespec timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  return static_cast<int>(
      ::syscall(SYS_ppoll, fds, count, timeout_ms < 0 ? nullptr : &timeout, nullptr, kSigsetSize));
}

int ppoll(pollfd* fds, nfds_t count, const timespec* timeout, const sigset_t* mask) {
  if (auto fn = next_definition<decltype(&::ppoll)>(slot<&ppoll>(), "ppoll")) {
    return fn(fds, count, timeout, mask);
  }
  return static_cast<int>(::syscall(SYS_ppoll, fds, count, timeout, mask, kSigsetSize));
}

int pselect(int count, fd_set* readable, fd_set* writable, fd_set* failed, const timespec* timeout,
            const sigset_t* mask) {
  if (auto fn = next_definition<decltype(&::pselect)>(slot<&pselect>(), "pselect")) {
    return fn(count, readable, writable, failed, timeout, mask);
  }
  struct {
    const sigset_t* mask;
    std::size_t size;
  } kernel_mask{mask, kSigsetSize};
  timespec left{};
  if (timeout != nullptr) left = *timeout;
  return static_cast<int>(::syscall(SYS_pselect6, count, readable, writable, failed,
                                    timeout != nullptr ? &left : nullptr, &kernel_mask));
}

int epoll_pwait(int epoll_fd, epoll_event* events, int count, int timeout_ms,
                const sigset_t* mask) {
  if (auto fn = next_definition<decltype(&::epoll_pwait)>(slot<&epoll_pwait>(), "epoll_pwait")) {
    return fn(epoll_fd, events, count, timeout_ms, mask);
  }
  return static_cast<int>(
      ::syscall(SYS_epoll_pwait, epoll_fd, events, count, timeout_ms, mask, kSigsetSize));
}

int nanosleep(const timespec* duration, timespec* left) {
  if (auto fn = next_definition<decltype(&::nanosleep)>(slot<&nanosleep>(), "nanosleep")) {
    return fn(duration, left);
  }
  return static_cast<int>(::syscall(SYS_nanosleep, duration, left));
}

// clock_nanosleep answers an error number, not -1 and errno.
int clock_nanosleep(clockid_t clock, int flags, const timespec* request, timespec* left) {
  if (auto fn = next_definition<decltype(&::clock_nanosleep)>(slot<&clock_nanosleep>(),
                                                              "clock_nanosleep")) {
    return fn(clock, flags, request, left);
  }
  const int saved = errno;
  const long outcome = ::syscall(SYS_clock_nanosleep, clock, flags, request, left);
  const int error = outcome == 0 ? 0 : errno;
  errno = saved;
  return error;
}

// No system call does what libc's sigaction does (the restorer): without
// libc's, it fails.
int sigaction(int signo, const struct sigaction* action, struct sigaction* previous) {
  if (auto fn = next_definition<decltype(&::sigaction)>(slot<&sigaction>(), "sigaction")) {
    return fn(signo, action, previous);
  }
  errno = ENOSYS;
  return -1;
}

int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** result) {
  if (auto fn = next_definition<decltype(&::getaddrinfo)>(slot<&getaddrinfo>(), "getaddrinfo")) {
    return fn(node, service, hints, result);
  }
  errno = ENOSYS;
  return EAI_SYSTEM;
}

int getnameinfo(const sockaddr* address, socklen_t size, char* host, socklen_t host_size,
                char* service, socklen_t service_size, int flags) {
  if (auto fn = next_definition<decltype(&::getnameinfo)>(slot<&getnameinfo>(), "getnameinfo")) {
    return fn(address, size, host, host_size, service, service_size, flags);
  }
  errno = ENOSYS;
  return EAI_SYSTEM;
}

}  // namespace cosync::hook::real
