// The built-in loop: epoll for fds (one edge-triggered registration per fd,
// made once, so waiting never costs an epoll_ctl; EPOLLOUT joins it the
// first time a writer has to wait, so fds whose writes always succeed cost
// the kernel no writability wake-ups), a timer heap with
// nanosecond sleeps (epoll_pwait2), an eventfd for cross-thread posts and a
// signalfd for signals. Its own fds sit above the program's (internal_fd.hpp).
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

#include <signal.h>
#include <sys/epoll.h>

#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

#include "cosync/loop.hpp"
#include "loop/fd_table.hpp"
#include "loop/immediate_queue.hpp"
#include "loop/io_waiters.hpp"
#include "loop/timer_heap.hpp"
#include "loop/wake_fd.hpp"

namespace cosync {

class EpollLoop final : public Loop {
 public:
  EpollLoop();
  ~EpollLoop() override;

  void add_timer(Timer& timer) override;
  void cancel_timer(Timer& timer) noexcept override;
  void post_immediate(Immediate& immediate) noexcept override;
  void cancel_immediate(Immediate& immediate) noexcept override;
  void post(std::function<void()> fn) override;
  void wait_io(IoWait& wait) override;
  void cancel_io(IoWait& wait) noexcept override;
  void forget_fd(int fd) noexcept override;
  void watch_signal(SignalWait& wait) override;
  void cancel_signal(SignalWait& wait) noexcept override;
  void run_once(Deadline until) override;
  bool can_wake() const noexcept override;
  bool run_pending_for_teardown() noexcept override;

 private:
  // What the loop knows about one fd, indexed by the fd number. It is
  // registered with epoll while known (detail::Readiness::kKnown). Padded
  // to the stride the Loop's readiness view steps by.
  struct alignas(detail::Readiness::kStride) FdEntry : loop_detail::IoWaiters {
    std::uint8_t readiness = detail::Readiness::kUnknown;  // see Loop::io_ready
    bool watching_writable = false;                        // EPOLLOUT is in the registration
    bool audit_queued = false;  // its fd is in audit_young_ or audit_old_
  };
  static_assert(sizeof(FdEntry) == detail::Readiness::kStride);

  static bool registered(const FdEntry& slot) noexcept {
    return detail::Readiness::known(slot.readiness);
  }
  FdEntry* entry(int fd) noexcept { return fds_.find(fd); }
  // Every wait passes here: the fd is almost always registered already.
  FdEntry& register_fd(int fd) {
    FdEntry* slot = fds_.find(fd);
    return slot != nullptr && registered(*slot) ? *slot : add_registration(fd);
  }
  FdEntry& add_registration(int fd);
  int epoll_add(int fd, bool writable) noexcept;
  void queue_audit(int fd, FdEntry& slot);
  bool audit_due() const noexcept { return !audit_young_.empty() || !audit_old_.empty(); }
  void audit_round();
  void audit_registration(int fd, FdEntry& slot);
  void note_not_ready(int fd, IoEvent event) noexcept override;
  void watch_writable(int fd, FdEntry& slot);
  int wait_for_events(Deadline until, bool& could_sleep);
  Deadline next_wake(Deadline until) const noexcept;
  void dispatch_fd(int fd, std::uint32_t events);
  void fire_io(FdEntry& slot, IoWait* loop_detail::IoWaiters::*direction, int error);
  void drain_wakeups();
  void dispatch_signals();
  void run_expired_timers();
  void run_posts();
  void run_once_behind_backlog(Deadline until);
  void run_events(Deadline until);
  void run_immediate_now(Immediate& immediate) noexcept;
  void run_immediates();
  void run_immediates_behind_backlog();
  void update_signal_mask();

  int epoll_fd_ = -1;
  loop_detail::WakeFd wake_;
  int signal_fd_ = -1;
  bool have_pwait2_ = true;
  loop_detail::FdTable<FdEntry> fds_{readiness_};
  std::size_t io_waits_ = 0;  // IoWaits armed, for can_wake
  loop_detail::TimerHeap timers_;
  loop_detail::ImmediateQueue immediates_;

  // Events of the batch being dispatched; forget_fd blanks entries of an fd
  // so a reused fd number never receives its predecessor's events.
  static constexpr int kBatch = 256;
  std::array<epoll_event, kBatch> batch_{};
  int batch_size_ = 0;
  // Queued behind the immediates of one iteration; see run_immediates.
  Immediate end_marker_;
  // Between the immediates this iteration's events queued and those left
  // from earlier ones, of which one iteration runs at most kBacklogBudget.
  Immediate backlog_marker_;
  static constexpr std::size_t kBacklogBudget = 1024;

  std::mutex post_mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by post_mutex_
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> have_posts_{false};  // set after a push, cleared under the lock

  // The registration audit; see the top.
  static constexpr int kIdleAuditMs = 100;
  static constexpr unsigned kAuditIterations = 1024;
  std::vector<int> audit_young_;  // fds of waits armed since the last round
  std::vector<int> audit_old_;    // queued before it: this round's
  std::vector<int> auditing_;     // the round in progress (callbacks may queue more)
  unsigned iterations_since_audit_ = 0;

  std::vector<SignalWait*> signal_waits_;
  sigset_t watched_signals_{};
  sigset_t original_mask_{};
};

}  // namespace cosync
