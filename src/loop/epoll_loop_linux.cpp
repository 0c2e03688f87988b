#include "loop/epoll_loop_linux.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>
#include <system_error>

#include "cosync/impl/probes.hpp"
#include "loop/internal_fd.hpp"
#include "support/direct_calls_linux.hpp"
#include "support/errors.hpp"
#include "support/timeout.hpp"

namespace cosync::loop {
namespace {

// epoll_event.data values that are not fds.
constexpr std::uint64_t kWakeTag = ~std::uint64_t{0};
constexpr std::uint64_t kSignalTag = ~std::uint64_t{0} - 1;
constexpr std::uint64_t kIgnoredTag = ~std::uint64_t{0} - 2;

// Out of line, so that wait_io's common path keeps a small frame.
[[noreturn, gnu::cold, gnu::noinline]] void refuse_wait_for_nothing(int fd) {
  throw std::invalid_argument("cosync: a wait on fd " + std::to_string(fd) +
                              " for no event could never end");
}

// The time left until `deadline`: epoll_pwait2 takes nanoseconds, epoll_wait
// milliseconds.
template <class Unit>
typename Unit::rep time_left(Deadline deadline) noexcept {
  return support::poll_timeout<Unit>(deadline - Clock::now());
}

}  // namespace

EpollLoop::EpollLoop(const char* fallback)
    : epoll_fd_(move_above_user_fds(epoll_create1(EPOLL_CLOEXEC))) {
  stats_.backend = "epoll";
  stats_.fallback = fallback;
  if (epoll_fd_ < 0) {
    support::throw_errno(errno, "epoll_create1 failed");
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeTag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_.fd(), &event) != 0) {
    const int error = errno;
    close(epoll_fd_);
    support::throw_errno(error, "cannot watch the wake-up eventfd");
  }
}

EpollLoop::~EpollLoop() {
  tear_down();
  close(epoll_fd_);
}

// 0 or the errno of the registration.
int EpollLoop::epoll_add(int fd, bool writable) noexcept {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (writable ? EPOLLOUT : 0U);
  event.data.u64 = static_cast<std::uint64_t>(fd);
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : errno;
}

// Readability comes as an edge right after registering; writability is
// assumed until a write says otherwise (see watch_writable).
void EpollLoop::start_fd(int fd, FdRecord& /*record*/) {
  if (const int error = epoll_add(fd, false); error != 0) {
    support::throw_errno(error, "cannot wait on fd " + std::to_string(fd));
  }
}

void EpollLoop::watch_writable(int fd, FdRecord& record) {
  if ((record.watching & io_writable) != 0) {
    return;
  }
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.u64 = static_cast<std::uint64_t>(fd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) {
    support::throw_errno(errno, "cannot wait on fd " + std::to_string(fd));
  }
  record.watching |= io_writable;
}

void EpollLoop::wait_io(IoWait& wait) {
  if ((wait.events & (io_readable | io_writable)) == 0) [[unlikely]] {
    refuse_wait_for_nothing(wait.fd);
  }
  FdRecord& record = register_fd(wait.fd);
  record.check_free(wait);
  if ((wait.events & io_writable) != 0) {
    watch_writable(wait.fd, record);
  }
  hold(record, wait);
  if ((record.marks & kAuditQueued) == 0) [[unlikely]] {
    queue_audit(wait.fd, record);
  }
}

// Out of line: inlined, the vector's growth would cost wait_io's common
// path a larger frame.
[[gnu::noinline]] void EpollLoop::queue_audit(int fd, FdRecord& record) {
  audit_young_.push_back(fd);
  audit_due_ = true;
  record.marks |= kAuditQueued;
}

void EpollLoop::audit_round() {
  iterations_since_audit_ = 0;
  auditing_.swap(audit_old_);
  audit_old_.swap(audit_young_);
  for (const int fd : auditing_) {
    FdRecord* found = record(fd);  // callbacks of earlier fds may grow the table
    found->marks &= static_cast<std::uint8_t>(~kAuditQueued);
    if (known(*found) && (found->reader != nullptr || found->writer != nullptr)) {
      audit_registration(fd, *found);
    }
  }
  auditing_.clear();
  audit_due_ = !audit_young_.empty() || !audit_old_.empty();
}

// EEXIST: the registration is still there. Success: the fd the loop
// registered was closed and the number now names another file, which from
// now on is registered. Any other error (EBADF: closed, and the number
// free) ends the fd's waits with it.
void EpollLoop::audit_registration(int fd, FdRecord& record) {
  const bool writable = (record.watching & io_writable) != 0;
  const int error = epoll_add(fd, writable);
  if (error == EEXIST) {
    return;
  }
  if (error == 0) {
    std::fprintf(stderr,
                 "cosync: fd %d was closed without forget_fd while the loop watched it, and "
                 "the number was reused; the loop now watches the new fd (call forget_fd "
                 "before closing an fd the loop has waited on)\n",
                 fd);
    record.readiness = static_cast<std::uint8_t>(impl::Readiness::kKnown |
                                                 (writable ? 0U : unsigned{io_writable}));
    return;
  }
  record.readiness = impl::Readiness::kUnknown;
  end_fd_wait(record, &FdRecord::reader, error, StepRun::queue);
  FdRecord* after = this->record(fd);  // the callback may have grown the table
  end_fd_wait(*after, &FdRecord::writer, error, StepRun::queue);
}

// The core ends the fd's waits after this.
void EpollLoop::stop_fd(int fd, FdRecord& /*record*/) noexcept {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);  // EBADF/ENOENT: already gone
  for (int i = 0; i < batch_size_; ++i) {
    if (batch_[i].data.u64 == static_cast<std::uint64_t>(fd)) {
      batch_[i].data.u64 = kIgnoredTag;
    }
  }
}

// Errors and hang-ups make both directions "ready", for good: the
// operation then gets the error or the end of file from the kernel itself,
// and no further edge would come to set them again.
void EpollLoop::dispatch_fd(int fd, std::uint32_t events) {
  unsigned ready = 0;
  unsigned for_good = 0;
  if ((events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) {
    for_good |= io_readable;
  }
  if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
    for_good |= io_writable;
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) {
    ready |= io_readable;
  }
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
    ready |= io_writable;
  }
  fd_ready(fd, ready, for_good, 0, StepRun::queue);
}

void EpollLoop::watch_signal(SignalWait& wait) {
  if (wait.armed) {
    return;
  }
  if (signals_.add(wait.signo)) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = kSignalTag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, signals_.fd(), &event);
  }
  add_signal_waiter(wait);
}

void EpollLoop::drain_wakeups() {
  wake_.drain();
  take_wake();
}

// When the loop must stop sleeping: now if immediates wait, else at the
// first timer or `until`, whichever comes first.
Deadline EpollLoop::next_wake(Deadline until) const noexcept {
  if (!immediates_.empty()) {
    return Deadline{};  // the clock's epoch: long past, so no sleep at all
  }
  if (!timers_.empty() && timers_.top_due() < until) {
    return timers_.top_due();
  }
  return until;
}

// `could_sleep`: the kernel was allowed to wait, so nothing back means the
// loop was idle.
int EpollLoop::wait_for_events(Deadline until, bool& could_sleep) {
  const Deadline wake = next_wake(until);
  ++stats_.polls;
  // epoll_pwait2 only when a finite sleep needs its nanoseconds; an endless
  // or zero wait is plain epoll_wait, the cheaper system call.
  const bool finite_sleep = wake != no_deadline && wake > Clock::now();
  if (have_pwait2_ && finite_sleep) {
    const auto nanos = time_left<std::chrono::nanoseconds>(wake);
    timespec timeout{static_cast<time_t>(nanos / 1000000000),
                     static_cast<long>(nanos % 1000000000)};
    if (audit_due() && (timeout.tv_sec > 0 || timeout.tv_nsec > kIdleAuditMs * 1000000L)) {
      timeout = timespec{0, kIdleAuditMs * 1000000L};
    }
    could_sleep = true;
    const int n = epoll_pwait2(epoll_fd_, batch_.data(), kBatch, &timeout, nullptr);
    if (n >= 0 || errno != ENOSYS) {
      return n;
    }
    have_pwait2_ = false;  // kernels before 5.11, some emulators
  }
  int timeout_ms =
      wake == no_deadline ? -1 : static_cast<int>(time_left<std::chrono::milliseconds>(wake));
  if (audit_due() && (timeout_ms < 0 || timeout_ms > kIdleAuditMs)) {
    timeout_ms = kIdleAuditMs;
  }
  could_sleep = timeout_ms != 0;
  return support::direct::epoll_wait(epoll_fd_, batch_.data(), kBatch, timeout_ms);
}

void EpollLoop::run_once(Deadline until) {
  check_can_run("run_once");
  ++stats_.iterations;
  COSYNC_PROBE(loop_iteration, this, stats_.iterations);
  run_iteration([this, until] { run_events(until); });
}

// Everything of an iteration but its immediates.
[[gnu::always_inline]] inline void EpollLoop::run_events(Deadline until) {
  bool could_sleep = false;
  int ready = wait_for_events(until, could_sleep);
  if (ready < 0) {
    ready = 0;  // EINTR: a signal handler ran; timers and posts still run
  }
  batch_size_ = ready;
  for (int i = 0; i < batch_size_; ++i) {
    const std::uint64_t tag = batch_[i].data.u64;
    if (tag == kWakeTag) {
      drain_wakeups();
    } else if (tag == kSignalTag) {
      signals_.drain([this](int signo) { deliver_signal(signo); });
    } else if (tag != kIgnoredTag) {
      dispatch_fd(static_cast<int>(tag), batch_[i].events);
    }
  }
  batch_size_ = 0;
  // Before the immediates, so that the waits a round ends resume in this
  // iteration.
  if (audit_due() &&
      ((ready == 0 && could_sleep) || ++iterations_since_audit_ >= kAuditIterations)) {
    audit_round();
  }
  run_expired_timers();
  run_posts();
}

}  // namespace cosync::loop
