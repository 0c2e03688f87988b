// The built-in loop, a dispatch policy on the loop core: epoll for fds (one edge-triggered
// registration per fd, made once, so waiting never costs an epoll_ctl; EPOLLOUT joins it the first
// time a writer has to wait, so fds whose writes always succeed cost the kernel no writability
// wake-ups), a timer heap with nanosecond sleeps (epoll_pwait2), an eventfd for cross-thread posts
// and a signalfd for signals. Its own fds sit above the program's (internal_fd.hpp).
//
// An fd closed without forget_fd leaves a registration the kernel dropped:
// a wait on a new fd that reuses the number would never wake. So the fds
// of waits are audited in rounds, after a sleep that ended with nothing to
// do (while audits are due, no sleep lasts over kIdleAuditMs) or every
// kAuditIterations iterations: a round checks the fds queued before the
// previous round whose waits are still pending (one epoll_ctl each; a wait
// that ends before that, nearly all, costs no system call and no clock
// read). A reused number is registered afresh and reported on stderr, a
// closed one ends its waits with EBADF.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <vector>

#include "loop/loop_core.hpp"
#include "loop/signal_fd.hpp"
#include "loop/wake_fd.hpp"

namespace cosync::loop {

class EpollLoop final : public LoopCore {
 public:
  // `fallback`: why the io_uring loop asked for could not be made
  // (LoopStats::fallback; a string that outlives the loop), or null.
  explicit EpollLoop(const char* fallback = nullptr);
  EpollLoop(const EpollLoop&) = delete;
  EpollLoop& operator=(const EpollLoop&) = delete;
  ~EpollLoop() override;

  void wait_io(IoWait& wait) override;
  void watch_signal(SignalWait& wait) override;
  void run_once(Deadline until) override;
  bool can_wake() const noexcept override { return anything_armed(); }

 private:
  // FdRecord::marks: the fd is in audit_young_ or audit_old_.
  static constexpr std::uint8_t kAuditQueued = 1;

  // Every wait passes here: the fd is almost always registered already.
  FdRecord& register_fd(int fd) { return known_record(fd); }
  void start_fd(int fd, FdRecord& record) override;
  void stop_fd(int fd, FdRecord& record) noexcept override;
  void send_wake() noexcept override { wake_.send(); }
  int epoll_add(int fd, bool writable) noexcept;
  void queue_audit(int fd, FdRecord& record);
  // One byte to test on every iteration, not two vectors.
  bool audit_due() const noexcept { return audit_due_; }
  void audit_round();
  void audit_registration(int fd, FdRecord& record);
  void watch_writable(int fd, FdRecord& record);
  int wait_for_events(Deadline until, bool& could_sleep);
  Deadline next_wake(Deadline until) const noexcept;
  void dispatch_fd(int fd, std::uint32_t events);
  void drain_wakeups();
  void run_events(Deadline until);

  // The wake-up eventfd is made before the epoll fd, so that a WakeFd that
  // throws leaves no epoll fd behind.
  WakeFd wake_;
  int epoll_fd_ = -1;
  SignalFd signals_;
  bool have_pwait2_ = true;

  // Events of the batch being dispatched; forget_fd blanks entries of an fd
  // so a reused fd number never receives its predecessor's events.
  static constexpr int kBatch = 256;
  std::array<epoll_event, kBatch> batch_{};
  int batch_size_ = 0;

  // The registration audit; see the top.
  static constexpr int kIdleAuditMs = 100;
  static constexpr unsigned kAuditIterations = 1024;
  std::vector<int> audit_young_;  // fds of waits armed since the last round
  std::vector<int> audit_old_;    // queued before it: this round's
  std::vector<int> auditing_;     // the round in progress (callbacks may queue more)
  unsigned iterations_since_audit_ = 0;
  bool audit_due_ = false;  // audit_young_ or audit_old_ holds an fd
};

}  // namespace cosync::loop
