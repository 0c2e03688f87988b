#include "loop/loop_core.hpp"

#include <algorithm>
#include <cerrno>
#include <string>

#include "support/errors.hpp"

namespace cosync::loop {

void LoopCore::add_timer(Timer& timer) {
  if (timer.armed()) {
    timers_.remove(timer);
  }
  timers_.push(timer);
}

void LoopCore::cancel_timer(Timer& timer) noexcept {
  if (timer.armed()) {
    timers_.remove(timer);
  }
}

void LoopCore::run_expired_timers() {
  if (timers_.empty()) {
    return;
  }
  const Deadline now = Clock::now();
  while (!timers_.empty() && timers_.top_due() <= now) {
    Timer* timer = timers_.top();
    timers_.remove(*timer);
    ++stats_.timers_fired;
    const auto scope = callback_scope();
    timer->fn(timer);
  }
}

void LoopCore::run_immediates() {
  if (immediates_.empty()) {
    return;
  }
  immediates_.push(end_marker_);
  const support::ScopeExit take_marker([this]() noexcept { unqueue(end_marker_); });
  for (Immediate* immediate = immediates_.pop(); immediate != &end_marker_;
       immediate = immediates_.pop()) {
    run_immediate_now(*immediate);
  }
}

// run_immediates, for a queue of [this iteration's wake-ups][backlog
// marker][backlog]: all the wake-ups run, but at most kBacklogBudget of the
// backlog.
void LoopCore::run_immediates_behind_backlog() {
  immediates_.push(end_marker_);
  const support::ScopeExit take_marker([this]() noexcept { unqueue(end_marker_); });
  Immediate* immediate = immediates_.pop();
  for (; immediate != &backlog_marker_; immediate = immediates_.pop()) {
    run_immediate_now(*immediate);
  }
  for (std::size_t budget = kBacklogBudget;
       budget > 0 && (immediate = immediates_.pop()) != &end_marker_; --budget) {
    run_immediate_now(*immediate);
  }
}

void LoopCore::post(std::function<void()> fn) {
  {
    const std::lock_guard lock(post_mutex_);
    posted_.push_back(std::move(fn));
  }
  have_posts_.store(true, std::memory_order_release);
  // One wake-up per batch of posts: later posters see the flag set until
  // the loop takes the wake-up (take_wake) and clears it.
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    send_wake();
  }
}

void LoopCore::run_posts() {
  if (!have_posts_.load(std::memory_order_acquire)) {
    return;  // the common case costs no lock
  }
  std::vector<std::function<void()>> batch;
  {
    const std::lock_guard lock(post_mutex_);
    have_posts_.store(false, std::memory_order_relaxed);
    batch.swap(posted_);
  }
  for (auto& fn : batch) {
    ++stats_.posts_run;
    const auto scope = callback_scope();
    fn();
  }
}

void LoopCore::add_signal_waiter(SignalWait& wait) {
  signal_waits_.push_back(&wait);
  wait.armed = true;
}

void LoopCore::cancel_signal(SignalWait& wait) noexcept {
  const auto found = std::find(signal_waits_.begin(), signal_waits_.end(), &wait);
  if (found != signal_waits_.end()) {
    signal_waits_.erase(found);
  }
  wait.armed = false;
}

bool LoopCore::signal_waited(int signo) const noexcept {
  return std::any_of(signal_waits_.begin(), signal_waits_.end(),
                     [signo](const SignalWait* wait) { return wait->signo == signo; });
}

bool LoopCore::deliver_signal(int signo) {
  std::vector<SignalWait*> due;
  for (SignalWait* wait : signal_waits_) {
    if (wait->signo == signo) due.push_back(wait);
  }
  for (SignalWait* wait : due) {
    cancel_signal(*wait);
    const auto scope = callback_scope();
    wait->fn(wait);
  }
  return !due.empty();
}

FdRecord& LoopCore::add_record(int fd) {
  FdRecord& record = fds_.grow_to(fd);
  start_fd(fd, record);
  record.watching = 0;
  // Writability is assumed until a write says otherwise.
  record.readiness = impl::Readiness::kKnown | io_writable;
  return record;
}

void LoopCore::cancel_io(IoWait& wait) noexcept {
  if (!wait.armed) {
    return;
  }
  if (FdRecord* found = record(wait.fd)) {
    found->release(wait);
  }
  wait.armed = false;
  --io_waits_;
}

void LoopCore::forget_fd(int fd) noexcept {
  FdRecord* found = record(fd);
  if (found == nullptr || !known(*found)) {
    return;
  }
  stop_fd(fd, *found);
  found->watching = 0;
  found->readiness = impl::Readiness::kUnknown;
  ++found->generation;
  end_fd_wait(*found, &FdRecord::reader, ECANCELED, StepRun::queue);
  found = record(fd);  // the callback may have grown the table
  end_fd_wait(*found, &FdRecord::writer, ECANCELED, StepRun::queue);
}

void LoopCore::note_not_ready(int fd, IoEvent event) noexcept {
  if (fd < 0) {
    return;
  }
  try {
    impl::Readiness::clear(known_record(fd).readiness, event);
  } catch (...) {
    // Not watchable (closed, a regular file), or the table could not grow:
    // the caller's wait will say so.
  }
}

bool LoopCore::run_pending_for_teardown() noexcept {
  const bool pending = !immediates_.empty() || have_posts_.load(std::memory_order_acquire) ||
                       (!timers_.empty() && timers_.top_due() <= Clock::now());
  if (pending) {
    try {
      run_expired_timers();
      run_posts();
      run_immediates();
    } catch (...) {
      // A callback threw during teardown: nobody is left to report it to.
    }
  }
  return pending;
}

void LoopCore::tear_down() noexcept {
  if (torn_down_) {
    return;
  }
  torn_down_ = true;
  close_post_gate();
  run_teardown_hook();
  detach_all_nodes();
  if (impl::t_loop == this) {
    set_this_loop(nullptr);
  }
}

// Nodes still armed belong to waits that will never be resumed through
// this loop; marking them disarmed keeps their owners from calling back
// into it later.
void LoopCore::detach_all_nodes() noexcept {
  while (immediates_.pop() != nullptr) {
  }
  while (!timers_.empty()) {
    timers_.remove(*timers_.top());
  }
  for (FdRecord& found : fds_) {
    for (IoWait* wait : {found.reader, found.writer}) {
      if (wait != nullptr) wait->armed = false;
    }
    found.reader = found.writer = nullptr;
  }
  io_waits_ = 0;
  for (SignalWait* wait : signal_waits_) {
    wait->armed = false;
  }
  signal_waits_.clear();
  const std::lock_guard lock(post_mutex_);
  posted_.clear();
  have_posts_.store(false, std::memory_order_relaxed);
}

}  // namespace cosync::loop
