#include <poll.h>

#include <cerrno>

#include "cosync/loop.hpp"
#include "loop/fd_poll.hpp"

namespace cosync::loop {

unsigned poll_ready_now(int fd, unsigned events) noexcept {
  pollfd query{};
  query.fd = fd;
  query.events = static_cast<short>(((events & io_readable) != 0 ? POLLIN : 0) |
                                    ((events & io_writable) != 0 ? POLLOUT : 0));
  int found = 0;
  while ((found = poll(&query, 1, 0)) < 0 && errno == EINTR) {
  }
  if (found <= 0 || (query.revents & POLLNVAL) != 0) {
    return 0;
  }
  if ((query.revents & (POLLERR | POLLHUP)) != 0) {
    return events;
  }
  unsigned ready = 0;
  if ((query.revents & POLLIN) != 0) ready |= io_readable;
  if ((query.revents & POLLOUT) != 0) ready |= io_writable;
  return ready & events;
}

}  // namespace cosync::loop
