// A set of fds watched for errors and hang-ups only: how the tevent adapter
// hears of a reset on a lone writer's socket once that writer's watch no
// longer asks tevent for READ (see TeventLoop::lone_writer_report). The
// set has an fd of its own, readable while a member is in error, which
// tevent watches like any other.
//
// The set is an fd like any other across fork(): parent and child share
// it, members and reports alike. The adapter does not support being used
// across fork (include/cosync/loop_tevent.hpp).
#pragma once

namespace cosync::loop_tevent {

class ErrorWatch {
 public:
  ErrorWatch() = default;
  ErrorWatch(const ErrorWatch&) = delete;
  ErrorWatch& operator=(const ErrorWatch&) = delete;
  ~ErrorWatch() { close(); }

  // Creates the set, which must not be open; false (errno set) when the
  // kernel refuses.
  bool open() noexcept;
  // Closes the set, members and all; nothing when it is not open.
  void close() noexcept;
  // The set's own fd; -1 while it is not open.
  int fd() const noexcept { return set_fd_; }

  // Adds `fd` to the open set, to be reported once; false (errno set) when
  // the kernel refuses. An fd already in error when added is reported all
  // the same.
  bool add(int fd) noexcept;
  // Takes `fd` out, reported or not. It must still be open and name the
  // file it was added as: the kernel knows a member by its file as well as
  // its number, and keeps it for as long as that file is open anywhere. So
  // an fd closed first while a duplicate keeps its file open (dup, fork,
  // SCM_RIGHTS) stays in the set, out of reach of any fd number, until the
  // set closes. Members report once, so such a stray one is reported at
  // most once more, but under a number that may name another file by then:
  // a report is only a hint to check the fd it names.
  void remove(int fd) noexcept;
  // A member in error or hung up, or -1 when none is. Each member is
  // reported once: it then stays in the set, quiet, until removed.
  int take_failed() noexcept;

 private:
  int set_fd_ = -1;
};

}  // namespace cosync::loop_tevent
