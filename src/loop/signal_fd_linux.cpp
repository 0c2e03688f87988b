#include <pthread.h>

#include <cerrno>
#include <string>

#include "loop/internal_fd.hpp"
#include "loop/signal_fd.hpp"
#include "support/errors.hpp"

namespace cosync::loop {

SignalFd::SignalFd() noexcept {
  sigemptyset(&watched_);
  pthread_sigmask(SIG_BLOCK, nullptr, &original_mask_);
}

SignalFd::~SignalFd() {
  if (fd_ >= 0) {
    close(fd_);
    pthread_sigmask(SIG_SETMASK, &original_mask_, nullptr);
  }
}

bool SignalFd::add(int signo) {
  if (sigismember(&watched_, signo) == 1) {
    return false;
  }
  if (sigaddset(&watched_, signo) != 0) {
    support::throw_errno(EINVAL, "cannot watch signal " + std::to_string(signo));
  }
  pthread_sigmask(SIG_BLOCK, &watched_, nullptr);
  const bool created = fd_ < 0;
  fd_ = signalfd(fd_, &watched_, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd_ < 0) {
    support::throw_errno(errno, "signalfd failed");
  }
  if (created) {
    fd_ = move_above_user_fds(fd_);
  }
  return created;
}

}  // namespace cosync::loop
