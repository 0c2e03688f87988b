// Calls as a program built with _FORTIFY_SOURCE and a 64-bit off_t makes
// them: glibc's headers turn read into __read_chk, recv into __recv_chk,
// recvfrom into __recvfrom_chk, poll into __poll_chk and fcntl into
// fcntl64 (this file is compiled with -D_FORTIFY_SOURCE=2
// -D_FILE_OFFSET_BITS=64).
#include "hook_fortified.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#if !defined(_FORTIFY_SOURCE) || !defined(__OPTIMIZE__)
#error "hook_fortified.cpp must be compiled with optimisation and _FORTIFY_SOURCE"
#endif

namespace cosync::test {

// A size the compiler cannot see, so the checked variant is called.
std::size_t g_fortified_size = 1;

ssize_t fortified_read(int fd) {
  char buffer[16];
  return read(fd, buffer, g_fortified_size);
}

ssize_t fortified_recv(int fd) {
  char buffer[16];
  return recv(fd, buffer, g_fortified_size, 0);
}

ssize_t fortified_recvfrom(int fd) {
  char buffer[16];
  return recvfrom(fd, buffer, g_fortified_size, 0, nullptr, nullptr);
}

int fortified_poll(int fd) {
  pollfd fds[2] = {{fd, POLLIN, 0}, {-1, 0, 0}};
  const int ready = poll(fds, static_cast<nfds_t>(g_fortified_size), -1);
  return ready == 1 && fds[0].revents == POLLIN ? 1 : -1;
}

int flags_through_fcntl64(int fd) { return fcntl(fd, F_GETFL); }

}  // namespace cosync::test
