#include "loop_host/host_loop.hpp"

#include <fcntl.h>
#include <pthread.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "cosync/coroutine.hpp"
#include "cosync/impl/probes.hpp"
#include "support/errors.hpp"
#include "support/scope_guard.hpp"

namespace cosync::loop_host {

HostLoop::HostLoop(const char* host_name) : host_name_(host_name) {
  signal_delivery_.fn = &HostLoop::deliver_pending_signals;
  signal_delivery_.data = this;
}

HostLoop::~HostLoop() = default;

// --- Timers: one host timer, armed for the earliest cosync timer. ---------

void HostLoop::add_timer(Timer& timer) {
  LoopCore::add_timer(timer);
  if (!in_callback()) {
    sync_host_timer();
  }
}

// The host timer is left armed when a later timer becomes the earliest: it
// fires early, finds nothing due and re-arms. It is only taken back when no
// timer is left, so it does not keep the application's loop alive.
void HostLoop::cancel_timer(Timer& timer) noexcept {
  LoopCore::cancel_timer(timer);
  if (!in_callback() && timers_.empty()) {
    sync_host_timer();
  }
}

void HostLoop::sync_host_timer() noexcept {
  if (timers_.empty()) {
    if (host_timer_armed_) {
      host_disarm_timer();
      host_timer_armed_ = false;
    }
    return;
  }
  const Deadline due = timers_.top_due();
  if (!host_timer_armed_ || due < host_timer_due_) {
    host_arm_timer(due);
    host_timer_armed_ = true;
    host_timer_due_ = due;
  }
}

// Host clocks are coarser or cached (libuv's loop time, libevent's cached
// time), so the host timer may fire a little before the deadline: a timer
// only fires once Clock::now() has reached it, else the host timer re-arms.
void HostLoop::on_host_timer() noexcept {
  host_timer_armed_ = false;
  run_expired_timers();
  finish_dispatch();
}

// --- Immediates: one host immediate for the whole queue. -----------------

void HostLoop::post_immediate(Immediate& immediate) noexcept {
  LoopCore::post_immediate(immediate);
  if (!in_callback()) {
    sync_host_immediate();
  }
}

void HostLoop::sync_host_immediate() noexcept {
  const bool wanted = !immediates_.empty();
  if (wanted != host_immediate_scheduled_) {
    host_schedule_immediate(wanted);
    host_immediate_scheduled_ = wanted;
  }
}

void HostLoop::on_host_immediate(bool consumed) noexcept {
  if (consumed) {
    host_immediate_scheduled_ = false;
  }
  finish_dispatch();
}

// The end of every host callback of ours: see the header.
void HostLoop::finish_dispatch() noexcept {
  ++dispatches_;
  run_immediates();
  sync_host_immediate();
  sync_host_timer();
}

// --- Cross-thread posts. ---------------------------------------------------

// A posted callback that throws ends the process, as an exception escaping
// into the host's C dispatch would.
void HostLoop::on_host_wake() noexcept {
  take_wake();
  run_posts();
  finish_dispatch();
}

// --- File descriptors. ----------------------------------------------------

// The host's watch waits for the first wait (ensure_watch).
void HostLoop::start_fd(int /*fd*/, FdRecord& /*record*/) {}

// Hosts differ in how they treat a closed fd (some only notice in their
// next poll), so it is refused here, the same way for all of them.
void HostLoop::ensure_watch(int fd, FdRecord& record) {
  if (record.handle != nullptr) {
    return;
  }
  if (fcntl(fd, F_GETFD) < 0) {
    support::throw_errno(errno, "cannot wait on fd " + std::to_string(fd));
  }
  record.handle = host_add_fd(fd);
  record.watching = 0;
}

// The common case, a coroutine waiting again on an fd whose watch already
// asks for that direction, takes no call; anything else takes add_wait.
void HostLoop::wait_io(IoWait& wait) {
  FdRecord* found = record(wait.fd);
  const unsigned wanted = wait.events & (io_readable | io_writable);
  if (found != nullptr && found->handle != nullptr && (found->watching & wanted) == wanted &&
      found->is_free_for(wait)) [[likely]] {
    hold(*found, wait);
    return;
  }
  add_wait(wait);
}

void HostLoop::add_wait(IoWait& wait) {
  FdRecord& found = known_record(wait.fd);
  found.check_free(wait);
  ensure_watch(wait.fd, found);
  hold(found, wait);
  const unsigned wanted = found.watching | (wait.events & (io_readable | io_writable));
  if (wanted != found.watching) {
    host_watch_fd(found.handle, wanted);
    found.watching = static_cast<std::uint8_t>(wanted);
  }
}

// The host watch goes before the core ends the fd's waits. A watch left
// by a cancelled wait stays as it is: a readiness report nobody waits for
// turns it off (update_watch), which costs less than re-arming for a
// coroutine that waits again at once.
void HostLoop::stop_fd(int /*fd*/, FdRecord& record) noexcept {
  if (record.handle != nullptr) {
    host_remove_fd(record.handle);
  }
  record.handle = nullptr;
}

// The waits forget_fd ends queue their coroutines' steps; the end of a
// dispatch brings the host's immediate up to date, and outside one this
// does: without it the woken waits would sleep until some other host event.
void HostLoop::forget_fd(int fd) noexcept {
  LoopCore::forget_fd(fd);
  if (!in_callback()) {
    sync_host_immediate();
  }
}

// Flattened: after a coroutine switches back, every return on the way out
// to the host is mispredicted (the return-stack buffer holds the
// coroutine's calls, not ours), at about 10 ns each on this kind of machine,
// so the dispatch path keeps as few frames as it can between the host and
// the coroutine's step.
//
// The host calls back once per fd, so a coroutine's step runs right there
// (loop::StepRun::in_place). The reader's coroutine may close the fd, or
// close it and open another under the same number: the core then drops
// the second direction of the report.
[[gnu::flatten]] void HostLoop::on_host_fd(int fd, unsigned events, int error) noexcept {
  if (const FdRecord* found = record(fd); found != nullptr && found->handle != nullptr) {
    fd_ready(fd, events & (io_readable | io_writable), 0, error, loop::StepRun::in_place);
  }
  finish_dispatch();
  update_watch(fd);
}

// After the coroutines woken by a readiness report have run, the host keeps
// watching only the directions someone waits for again: the hosts report
// readiness as long as it lasts, so an unwanted direction would fire on
// every iteration.
void HostLoop::update_watch(int fd) noexcept {
  FdRecord* found = record(fd);
  if (found == nullptr || found->handle == nullptr) {
    return;
  }
  unsigned wanted = 0;
  if (found->reader != nullptr) wanted |= io_readable;
  if (found->writer != nullptr) wanted |= io_writable;
  if (wanted == found->watching) {
    return;
  }
  try {
    host_watch_fd(found->handle, wanted);
    found->watching = static_cast<std::uint8_t>(wanted);
  } catch (const std::system_error&) {
    // Only a new direction can be refused, and this wants none that the
    // waits did not already get: keep the watch as it was.
  }
}

// --- Signals. ---------------------------------------------------------------

// The host delivers a signal from the first wait for it until the loop goes
// away; one that arrives while nobody waits is kept for the next waiter,
// as the built-in loop keeps it pending. Host signal delivery needs the
// signal unblocked in this thread (the built-in loop blocks the signals it
// reads through signalfd).
void HostLoop::watch_signal(SignalWait& wait) {
  if (wait.armed) {
    return;
  }
  if (wait.signo <= 0 || wait.signo >= NSIG) {
    support::throw_errno(EINVAL, "cannot watch signal " + std::to_string(wait.signo));
  }
  if (!host_signals_.test(static_cast<std::size_t>(wait.signo))) {
    host_add_signal(wait.signo);
    host_signals_.set(static_cast<std::size_t>(wait.signo));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, wait.signo);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  }
  if (!signal_waited(wait.signo)) {
    host_signal_waited(wait.signo, true);
  }
  add_signal_waiter(wait);
  if (pending_signals_.test(static_cast<std::size_t>(wait.signo))) {
    post_immediate(signal_delivery_);
  }
}

void HostLoop::cancel_signal(SignalWait& wait) noexcept {
  const bool was_armed = wait.armed;
  LoopCore::cancel_signal(wait);
  if (was_armed && !signal_waited(wait.signo)) {
    host_signal_waited(wait.signo, false);
  }
}

// A signal nobody waits for is kept for the next waiter.
void HostLoop::deliver_host_signal(int signo) noexcept {
  pending_signals_.set(static_cast<std::size_t>(signo), !deliver_signal(signo));
}

void HostLoop::deliver_pending_signals(Immediate* self) noexcept {
  auto* loop = static_cast<HostLoop*>(self->data);
  for (std::size_t signo = 1; signo < NSIG; ++signo) {
    if (loop->pending_signals_.test(signo) && loop->signal_waited(static_cast<int>(signo))) {
      loop->deliver_host_signal(static_cast<int>(signo));
    }
  }
}

void HostLoop::on_host_signal(int signo) noexcept {
  if (signo > 0 && signo < NSIG) {
    deliver_host_signal(signo);
  }
  finish_dispatch();
}

// --- Running the host from a wait outside coroutines (R4). ----------------

void HostLoop::refuse_nested_run() const {
  throw UsageError(std::string("cosync: run_once from inside a callback of the host loop (") +
                   host_name_ +
                   "), which cannot run nested; wait from a coroutine instead, "
                   "or complete the work from the callback and return to " +
                   host_name_);
}

// A deadline becomes a timer of our own, so the host's one-iteration call
// returns by then even when nothing else happens.
void HostLoop::run_once(Deadline until) {
  check_can_run("run_once");
  if (host_in_callback()) {
    refuse_nested_run();
  }
  ++stats_.iterations;
  ++stats_.polls;
  COSYNC_PROBE(loop_iteration, this, stats_.iterations);
  Timer limit;
  limit.fn = [](Timer*) {};
  if (until != no_deadline) {
    limit.due = until;
    add_timer(limit);
  }
  const support::ScopeExit cancel_limit([this, &limit]() noexcept { cancel_timer(limit); });
  host_run_once();
}

// --- Teardown. ----------------------------------------------------------------

void HostLoop::shut_down() noexcept {
  tear_down();
  release_host_resources();
}

void HostLoop::release_host_resources() noexcept {
  if (host_immediate_scheduled_) {
    host_schedule_immediate(false);
    host_immediate_scheduled_ = false;
  }
  if (host_timer_armed_) {
    host_disarm_timer();
    host_timer_armed_ = false;
  }
  for (FdRecord* found = begin_records(); found != end_records(); ++found) {
    if (found->handle != nullptr) {
      host_remove_fd(found->handle);
      found->handle = nullptr;
    }
  }
}

}  // namespace cosync::loop_host
