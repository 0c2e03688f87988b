// The system calls of cosync's own fast paths, made directly with
// syscall(2) instead of through libc's wrappers: libcosync-hook defines
// those wrappers' names, and cosync's sockets and loop, which already wait
// on their own, must not pass through it (no second check, no second
// wait). Same results and errno as the wrappers.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

namespace cosync::support::direct {

inline ssize_t recv(int fd, void* buffer, std::size_t size, int flags) noexcept {
  return ::syscall(SYS_recvfrom, fd, buffer, size, flags, nullptr, nullptr);
}

inline ssize_t send(int fd, const void* data, std::size_t size, int flags) noexcept {
  return ::syscall(SYS_sendto, fd, data, size, flags, nullptr, 0);
}

inline ssize_t read(int fd, void* buffer, std::size_t size) noexcept {
  return ::syscall(SYS_read, fd, buffer, size);
}

inline ssize_t write(int fd, const void* data, std::size_t size) noexcept {
  return ::syscall(SYS_write, fd, data, size);
}

inline int accept4(int fd, sockaddr* address, socklen_t* size, int flags) noexcept {
  return static_cast<int>(::syscall(SYS_accept4, fd, address, size, flags));
}

inline int connect(int fd, const sockaddr* address, socklen_t size) noexcept {
  return static_cast<int>(::syscall(SYS_connect, fd, address, size));
}

// Every architecture has epoll_pwait (not all have epoll_wait); the kernel
// takes the signal set's size.
inline int epoll_wait(int epoll_fd, epoll_event* events, int count, int timeout_ms) noexcept {
  return static_cast<int>(
      ::syscall(SYS_epoll_pwait, epoll_fd, events, count, timeout_ms, nullptr, std::size_t{8}));
}

}  // namespace cosync::support::direct
