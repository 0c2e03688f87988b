// libc's own definitions of the calls libcosync-hook defines, found with
// dlsym(RTLD_NEXT) once, on first use. Before dlsym can answer (a call made
// while it resolves) and where it finds nothing, the call is made with
// syscall(2) instead, with the same result and errno.
#pragma once

#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include <cstddef>

namespace cosync::hook::real {

ssize_t read(int fd, void* buffer, std::size_t size);
ssize_t readv(int fd, const iovec* iov, int count);
ssize_t write(int fd, const void* data, std::size_t size);
ssize_t writev(int fd, const iovec* iov, int count);
ssize_t recvfrom(int fd, void* buffer, std::size_t size, int flags, sockaddr* from,
                 socklen_t* from_size);
ssize_t recvmsg(int fd, msghdr* message, int flags);
int recvmmsg(int fd, mmsghdr* messages, unsigned count, int flags, timespec* timeout);
ssize_t sendto(int fd, const void* data, std::size_t size, int flags, const sockaddr* to,
               socklen_t to_size);
ssize_t sendmsg(int fd, const msghdr* message, int flags);
int accept4(int fd, sockaddr* address, socklen_t* size, int flags);
int connect(int fd, const sockaddr* address, socklen_t size);
int socket(int domain, int type, int protocol);
int socketpair(int domain, int type, int protocol, int fds[2]);
int pipe2(int fds[2], int flags);
int close(int fd);
int shutdown(int fd, int how);
int dup(int fd);
int dup3(int fd, int target, int flags);
int dup2(int fd, int target);
// fcntl with the argument as the kernel takes it (an int or a pointer).
int fcntl(int fd, int command, unsigned long argument);
int ioctl(int fd, unsigned long request, void* argument);
int setsockopt(int fd, int level, int name, const void* value, socklen_t size);
int getsockopt(int fd, int level, int name, void* value, socklen_t* size);
int poll(pollfd* fds, nfds_t count, int timeout_ms);
int ppoll(pollfd* fds, nfds_t count, const timespec* timeout, const sigset_t* mask);
int pselect(int count, fd_set* readable, fd_set* writable, fd_set* failed, const timespec* timeout,
            const sigset_t* mask);
int epoll_pwait(int epoll_fd, epoll_event* events, int count, int timeout_ms, const sigset_t* mask);
int nanosleep(const timespec* duration, timespec* left);
int clock_nanosleep(clockid_t clock, int flags, const timespec* request, timespec* left);
int sigaction(int signo, const struct sigaction* action, struct sigaction* previous);
int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** result);
int getnameinfo(const sockaddr* address, socklen_t size, char* host, socklen_t host_size,
                char* service, socklen_t service_size, int flags);

}  // namespace cosync::hook::real
