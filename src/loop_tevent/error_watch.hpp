// A set of fds watched for errors and hang-ups only: how the tevent adapter
// hears of a reset on a lone writer's socket once that writer's watch no
// longer asks tevent for READ (see TeventLoop::lone_writer_report). The
// set has an fd of its own, readable while a member is in error, which
// tevent watches like any other.
#pragma once

namespace cosync::tevent_adapter {

class ErrorWatch {
 public:
  ErrorWatch() = default;
  ErrorWatch(const ErrorWatch&) = delete;
  ErrorWatch& operator=(const ErrorWatch&) = delete;
  ~ErrorWatch();

  // Creates the set unless it exists; false (errno set) when the kernel
  // refuses.
  bool open() noexcept;
  // The set's own fd; -1 until open() succeeds.
  int fd() const noexcept { return set_fd_; }

  // Adds `fd` to the open set; false (errno set) when the kernel refuses.
  // An fd already in error when added is reported all the same.
  bool add(int fd) noexcept;
  // Takes `fd` out, reported or not. It must still be open: an fd closed
  // first may stay in the set, see add().
  void remove(int fd) noexcept;
  // A member in error or hung up, or -1 when none is. Each member is
  // reported once: it then stays in the set, quiet, until removed.
  int take_failed() noexcept;

 private:
  int set_fd_ = -1;
};

}  // namespace cosync::tevent_adapter
