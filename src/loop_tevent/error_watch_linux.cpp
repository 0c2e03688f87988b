// The error watch over an epoll set: epoll reports EPOLLERR and EPOLLHUP
// whatever a member asks for, so the members ask for nothing else.
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include "loop_tevent/error_watch.hpp"

namespace cosync::loop_tevent {

bool ErrorWatch::open() noexcept {
  set_fd_ = epoll_create1(EPOLL_CLOEXEC);
  return set_fd_ >= 0;
}

void ErrorWatch::close() noexcept {
  if (set_fd_ >= 0) ::close(set_fd_);
  set_fd_ = -1;
}

// One-shot, so that a member reports once (which bounds the stray members
// remove() tells of). EEXIST: this file is in already under this number, a
// stray member whose number names its file again (a dup2 from the
// duplicate, say); re-arming it makes it a member like the others.
bool ErrorWatch::add(int fd) noexcept {
  epoll_event event{};
  event.events = EPOLLONESHOT;
  event.data.fd = fd;
  if (epoll_ctl(set_fd_, EPOLL_CTL_ADD, fd, &event) == 0) return true;
  return errno == EEXIST && epoll_ctl(set_fd_, EPOLL_CTL_MOD, fd, &event) == 0;
}

// Failure is no error here: ENOENT for an fd number that names another
// file than the one added, EBADF for one already closed.
void ErrorWatch::remove(int fd) noexcept {
  epoll_event ignored{};  // Linux before 2.6.9 wants it non-null
  epoll_ctl(set_fd_, EPOLL_CTL_DEL, fd, &ignored);
}

int ErrorWatch::take_failed() noexcept {
  epoll_event event{};
  return epoll_wait(set_fd_, &event, 1, 0) == 1 ? event.data.fd : -1;
}

}  // namespace cosync::loop_tevent
