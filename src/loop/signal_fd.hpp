// The signalfd of a built-in loop (epoll, io_uring). The signals waited
// for stay blocked in the loop's thread for the loop's lifetime, so a
// signal raised while nobody waits is kept pending, not lost; the thread's
// mask is restored when the loop goes.
#pragma once

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "support/direct_calls_linux.hpp"

namespace cosync::loop {

class SignalFd {
 public:
  // No fd yet; remembers the thread's mask.
  SignalFd() noexcept;
  ~SignalFd();
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;

  // Blocks `signo` and has the fd report it; true when this made the fd
  // (the loop then starts watching fd()). Throws std::system_error.
  bool add(int signo);
  // The fd, or -1 before the first add.
  int fd() const noexcept { return fd_; }
  // Calls deliver(signo) for each signal pending on the fd.
  template <class Deliver>
  void drain(Deliver&& deliver) {
    signalfd_siginfo info{};
    while (support::direct::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      deliver(static_cast<int>(info.ssi_signo));
    }
  }

 private:
  int fd_ = -1;
  sigset_t watched_{};
  sigset_t original_mask_{};
};

}  // namespace cosync::loop
