// The loop core every backend shares, as tevent's backends share
// tevent_common_*: the timer heap, the immediate queue with its end and
// backlog markers, cross-thread posts and their wake flag, the signal
// waiters, the callback depth, the per-fd records with the readiness cache,
// and the teardown. A backend (the built-in epoll loop, the host adapters'
// HostLoop, a later io_uring loop) keeps only its dispatch policy: how it
// waits for its events, how it hands them to the core, and what it
// registers with the kernel or its host.
//
// The per-fd records are not tied to readiness: a record holds an fd's
// waiters and a slot for the backend's own handle, and the readiness byte
// is the cache Loop::io_ready reads; a completion-based backend may keep
// it at "unknown" (every fd then reads as ready) and end waits through
// end_fd_wait.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "cosync/loop.hpp"
#include "loop/fd_table.hpp"
#include "loop/immediate_queue.hpp"
#include "loop/io_waiters.hpp"
#include "loop/timer_heap.hpp"
#include "support/scope_guard.hpp"

namespace cosync::loop {

// What the core keeps of one fd, indexed by the fd number. Known
// (impl::Readiness::kKnown) from the first wait on it, or the first
// io_not_ready, until forget_fd. 32 bytes, so that indexing the table is a
// shift (it is on every wait's path, and Loop's readiness view steps by
// it); aligned to it, so that no record straddles two cache lines.
struct alignas(impl::Readiness::kStride) FdRecord : IoWaiters {
  std::uint8_t readiness = impl::Readiness::kUnknown;  // see Loop::io_ready
  std::uint8_t watching = 0;     // IoEvent bits the backend has the fd watched for
  std::uint8_t marks = 0;        // the backend's own flags
  std::uint32_t generation = 0;  // counts forget_fd: tells a reused fd number
  void* handle = nullptr;        // the backend's own per-fd object, if it has one
};
static_assert(sizeof(FdRecord) == impl::Readiness::kStride);

// How a wait the core ends resumes a coroutine's step (IoWait::step).
enum class StepRun {
  queue,    // queued as an immediate (a wait with no step: its fn runs now)
  in_place  // run right here, unless already queued (the host's fd callback)
};

class LoopCore : public Loop {
 public:
  void add_timer(Timer& timer) override;
  void cancel_timer(Timer& timer) noexcept override;
  void post_immediate(Immediate& immediate) noexcept override {
    if (!immediate.queued) {
      immediates_.push(immediate);
    }
  }
  void cancel_immediate(Immediate& immediate) noexcept override {
    if (immediate.queued) {
      immediates_.remove(immediate);
    }
  }
  void post(std::function<void()> fn) override;
  void cancel_io(IoWait& wait) noexcept override;
  void forget_fd(int fd) noexcept override;
  void cancel_signal(SignalWait& wait) noexcept override;
  bool run_pending_for_teardown() noexcept override;

 protected:
  LoopCore() = default;

  // See Loop::note_not_ready: the fd's record becomes known (start_fd).
  void note_not_ready(int fd, IoEvent event) noexcept override;

  // --- Dispatch-policy hooks. ---

  // Thread-safe: makes the backend call take_wake and run_posts on the
  // loop's thread soon. Called once per batch of posts (the wake flag).
  virtual void send_wake() noexcept = 0;
  // Makes `fd` watchable before its record becomes known (epoll registers
  // it; a host adapter waits for the first wait); throws std::system_error
  // when the fd cannot be watched.
  virtual void start_fd(int fd, FdRecord& record) = 0;
  // forget_fd: the backend drops what it registered for `fd`, before the
  // core ends the fd's waits.
  virtual void stop_fd(int fd, FdRecord& record) noexcept = 0;

  // --- Callbacks. ---

  // Counts a callback as running (in_callback) until the scope ends, also
  // when it throws.
  [[nodiscard]] auto callback_scope() noexcept {
    ++callback_depth();
    return support::ScopeExit([this]() noexcept { --callback_depth(); });
  }

  // --- Timers. ---

  // The timers due by now run, earliest first.
  void run_expired_timers();

  // --- Immediates. ---

  // Runs the immediates queued before this point; the end marker keeps
  // those posted meanwhile for the next iteration, and cancelling any
  // queued one (even from a callback) stays a plain list removal.
  void run_immediates();
  // One iteration of a polling backend: `run_events` (its poll, timers and
  // posts), then the immediates. Immediates left from earlier iterations (a
  // burst of coroutine starts) wait behind what this iteration's events
  // wake, and at most kBacklogBudget of them run per iteration, so that a
  // burst delays no timer or fd wake-up for long.
  template <class RunEvents>
  void run_iteration(RunEvents&& run_events) {
    if (!immediates_.empty()) [[unlikely]] {
      run_behind_backlog(run_events);
      return;
    }
    run_events();
    run_immediates();
  }

  // --- Posts. ---

  // On the loop's thread, before it takes the posts: from now on a post
  // sends a wake-up again.
  void take_wake() noexcept { wake_pending_.store(false, std::memory_order_release); }
  // Runs the posts pending now.
  void run_posts();
  // True while a wake-up is on its way (send_wake was called, take_wake not yet).
  bool wake_in_flight() const noexcept { return wake_pending_.load(std::memory_order_acquire); }

  // --- Signals. ---

  // Adds `wait` to the waiters and arms it.
  void add_signal_waiter(SignalWait& wait);
  // True when anyone waits for `signo`.
  bool signal_waited(int signo) const noexcept;
  // Ends the waits for `signo` (cancel_signal, then fn); false when nobody waited.
  bool deliver_signal(int signo);
  bool any_signal_waiter() const noexcept { return !signal_waits_.empty(); }

  // --- File descriptors. ---

  static bool known(const FdRecord& record) noexcept {
    return impl::Readiness::known(record.readiness);
  }
  // The record of `fd`, or null. Callbacks may grow the table, which moves
  // the records: look up again after running one.
  FdRecord* record(int fd) noexcept { return fds_.find(fd); }
  // The record of `fd`, made known (start_fd) if it is not.
  FdRecord& known_record(int fd) {
    FdRecord* found = fds_.find(fd);
    return found != nullptr && known(*found) ? *found : add_record(fd);
  }
  // Arms `wait` in `record`'s slots (the caller checked check_free).
  void hold(FdRecord& record, IoWait& wait) noexcept {
    if (!wait.armed) {
      ++io_waits_;
    }
    record.hold(wait);
  }
  // Ends the wait in `direction` of `record` with `error`, if one waits.
  void end_fd_wait(FdRecord& record, IoWait* IoWaiters::*direction, int error, StepRun how) {
    IoWait* wait = record.take(direction, error);
    if (wait != nullptr) {
      end_taken_wait(*wait, how);
    }
  }
  // The fd reported `ready` (IoEvent bits; with `error` set, both
  // directions end with it and no readiness is recorded). `for_good`: the
  // directions that stay ready (Readiness::kForGoodShift). The reader goes
  // first; when its callback forgot the fd (perhaps reused the number),
  // the writer's half of the report is dropped.
  void fd_ready(int fd, unsigned ready, unsigned for_good, int error, StepRun how) {
    FdRecord* found = record(fd);
    if (found == nullptr || !known(*found)) {
      return;
    }
    if (error != 0) {
      ready = io_readable | io_writable;
    } else {
      found->readiness |=
          static_cast<std::uint8_t>(ready | (for_good << impl::Readiness::kForGoodShift));
    }
    if ((ready & io_readable) != 0) {
      const std::uint32_t generation = found->generation;
      end_fd_wait(*found, &FdRecord::reader, error, how);
      if ((ready & io_writable) == 0) {
        return;
      }
      found = record(fd);
      if (!known(*found) || found->generation != generation) {
        return;
      }
    }
    if ((ready & io_writable) != 0) {
      end_fd_wait(*found, &FdRecord::writer, error, how);
    }
  }
  // Every record in the table, known or not.
  FdRecord* begin_records() noexcept { return fds_.begin(); }
  FdRecord* end_records() noexcept { return fds_.end(); }

  // --- Teardown. ---

  // First thing in every backend's destructor: closes the post gate, runs
  // the teardown hook (the request layer cancels the coroutines spawned on
  // this loop and runs run_pending_for_teardown until they unwound), then
  // disarms every node still armed, so that no owner calls back into the
  // loop, and stops being this thread's loop. The backend then releases
  // what it registered.
  void tear_down() noexcept;

  // Whether anything armed could still wake the loop (can_wake).
  bool anything_armed() const noexcept {
    return !immediates_.empty() || !timers_.empty() || io_waits_ != 0 || !signal_waits_.empty() ||
           holds() != 0 || have_posts_.load(std::memory_order_acquire);
  }

  TimerHeap timers_;
  ImmediateQueue immediates_;

 private:
  // Queued behind the immediates of one iteration; see run_immediates.
  Immediate end_marker_;
  // Between the immediates this iteration's events queued and those left
  // from earlier ones; see run_iteration.
  Immediate backlog_marker_;
  static constexpr std::size_t kBacklogBudget = 1024;

  FdRecord& add_record(int fd);
  void end_taken_wait(IoWait& wait, StepRun how) {
    --io_waits_;
    Immediate* step = wait.step;
    if (step == nullptr) {
      const auto scope = callback_scope();
      wait.fn(&wait);
    } else if (how == StepRun::queue) {
      // The batch's dispatch first touches every woken coroutine's records,
      // so their cache misses overlap, and the immediates then switch into
      // coroutines whose data is in cache.
      __builtin_prefetch(step->resume);
      LoopCore::post_immediate(*step);
    } else if (!step->queued) {
      const auto scope = callback_scope();
      run_immediate(*step);
    }
  }

  [[gnu::always_inline]] void run_immediate_now(Immediate& immediate) noexcept {
    if (const Immediate* next = immediates_.front(); next != nullptr && next->resume != nullptr) {
      next->resume->prefetch_resume();
    }
    ++stats_.immediates_run;
    const auto scope = callback_scope();
    run_immediate(immediate);
  }
  template <class RunEvents>
  [[gnu::noinline]] void run_behind_backlog(RunEvents& run_events) {
    const support::ScopeExit take_marker([this]() noexcept { unqueue(backlog_marker_); });
    immediates_.push(backlog_marker_);
    run_events();
    immediates_.move_behind_to_front(backlog_marker_);
    run_immediates_behind_backlog();
  }
  void run_immediates_behind_backlog();
  void unqueue(Immediate& marker) noexcept {
    if (marker.queued) immediates_.remove(marker);
  }
  void detach_all_nodes() noexcept;

  FdTable<FdRecord> fds_{readiness_};
  std::size_t io_waits_ = 0;  // IoWaits armed, for anything_armed

  std::mutex post_mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by post_mutex_
  std::atomic<bool> wake_pending_{false};      // one wake-up per batch of posts
  std::atomic<bool> have_posts_{false};        // set after a push, cleared under the lock

  std::vector<SignalWait*> signal_waits_;
  bool torn_down_ = false;
};

}  // namespace cosync::loop
