#include "loop_host/host_loop.hpp"

#include <fcntl.h>
#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <system_error>

#include "cosync/coroutine.hpp"

namespace cosync::host_loop {
namespace {

// Marks a callback as running for in_callback().
class CallbackScope {
 public:
  explicit CallbackScope(unsigned& depth) noexcept : depth_(depth) { ++depth_; }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;
  ~CallbackScope() { --depth_; }

 private:
  unsigned& depth_;
};

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), "cosync: " + what);
}

}  // namespace

HostLoop::HostLoop(const char* host_name) : host_name_(host_name) {
  signal_delivery_.fn = &HostLoop::deliver_pending_signals;
  signal_delivery_.data = this;
}

HostLoop::~HostLoop() = default;

// --- Timers: one host timer, armed for the earliest cosync timer. ---------

void HostLoop::add_timer(Timer& timer) {
  if (timer.armed()) {
    timers_.remove(timer);
  }
  timers_.push(timer);
  if (!in_callback()) {
    sync_host_timer();
  }
}

// The host timer is left armed when a later timer becomes the earliest: it
// fires early, finds nothing due and re-arms. It is only taken back when no
// timer is left, so it does not keep the application's loop alive.
void HostLoop::cancel_timer(Timer& timer) noexcept {
  if (timer.armed()) {
    timers_.remove(timer);
  }
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
  const Deadline due = timers_.top()->due;
  if (!host_timer_armed_ || due < host_timer_due_) {
    host_arm_timer(due);
    host_timer_armed_ = true;
    host_timer_due_ = due;
  }
}

void HostLoop::on_host_timer() noexcept {
  host_timer_armed_ = false;
  run_expired_timers();
  finish_dispatch();
}

// Host clocks are coarser or cached (libuv's loop time, libevent's cached
// time), so the host timer may fire a little before the deadline: a timer
// only fires once Clock::now() has reached it, else the host timer re-arms.
void HostLoop::run_expired_timers() noexcept {
  const Deadline now = Clock::now();
  while (!timers_.empty() && timers_.top()->due <= now) {
    Timer* timer = timers_.top();
    timers_.remove(*timer);
    ++stats_.timers_fired;
    const CallbackScope scope(callback_depth());
    timer->fn(timer);
  }
}

// --- Immediates: one host immediate for the whole queue. -----------------

void HostLoop::post_immediate(Immediate& immediate) noexcept {
  if (immediate.queued) {
    return;
  }
  immediates_.push(immediate);
  if (!in_callback()) {
    sync_host_immediate();
  }
}

void HostLoop::cancel_immediate(Immediate& immediate) noexcept {
  if (immediate.queued) {
    immediates_.remove(immediate);
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

// Runs the immediates queued before this point; the end marker keeps those
// posted meanwhile for the host's next iteration.
void HostLoop::run_immediates() noexcept {
  if (immediates_.empty()) {
    return;
  }
  immediates_.push(end_marker_);
  for (Immediate* immediate = immediates_.pop(); immediate != &end_marker_;
       immediate = immediates_.pop()) {
    ++stats_.immediates_run;
    const CallbackScope scope(callback_depth());
    loop_detail::run_immediate(*immediate);
  }
}

// The end of every host callback of ours: see the header.
void HostLoop::finish_dispatch() noexcept {
  ++dispatches_;
  run_immediates();
  sync_host_immediate();
  sync_host_timer();
}

// --- Cross-thread posts. ---------------------------------------------------

void HostLoop::post(std::function<void()> fn) {
  {
    const std::lock_guard lock(post_mutex_);
    posted_.push_back(std::move(fn));
  }
  // One host wake per batch: later posters see the flag set until the loop
  // thread clears it, before it takes the batch.
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    host_wake();
  }
}

void HostLoop::on_host_wake() noexcept {
  run_posts();
  finish_dispatch();
}

// A posted callback that throws ends the process, as an exception escaping
// into the host's C dispatch would.
void HostLoop::run_posts() noexcept {
  wake_pending_.store(false, std::memory_order_release);
  std::vector<std::function<void()>> batch;
  {
    const std::lock_guard lock(post_mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) {
    ++stats_.posts_run;
    const CallbackScope scope(callback_depth());
    fn();
  }
}

// --- File descriptors. ----------------------------------------------------

HostLoop::FdEntry& HostLoop::add_entry(int fd) {
  FdEntry& slot = fds_.grow_to(fd);
  // Writability is assumed until a write says otherwise.
  slot.readiness = detail::Readiness::kKnown | io_writable;
  return slot;
}

// Hosts differ in how they treat a closed fd (some only notice in their
// next poll), so it is refused here, the same way for all of them.
void HostLoop::ensure_watch(int fd, FdEntry& slot) {
  if (slot.watch != nullptr) {
    return;
  }
  if (fcntl(fd, F_GETFD) < 0) {
    throw_errno(errno, "cannot wait on fd " + std::to_string(fd));
  }
  slot.watch = host_add_fd(fd);
  slot.watching = 0;
}

// The common case, a coroutine waiting again on an fd whose watch already
// asks for that direction, takes no call; anything else takes add_wait.
void HostLoop::wait_io(IoWait& wait) {
  FdEntry* slot = fds_.find(wait.fd);
  const unsigned wanted = wait.events & (io_readable | io_writable);
  if (slot != nullptr && slot->watch != nullptr && (slot->watching & wanted) == wanted &&
      slot->is_free_for(wait)) [[likely]] {
    slot->hold(wait);
    return;
  }
  add_wait(wait);
}

void HostLoop::add_wait(IoWait& wait) {
  FdEntry& slot = known_entry(wait.fd);
  slot.check_free(wait);
  ensure_watch(wait.fd, slot);
  slot.hold(wait);
  const unsigned wanted = slot.watching | (wait.events & (io_readable | io_writable));
  if (wanted != slot.watching) {
    host_watch_fd(slot.watch, wanted);
    slot.watching = static_cast<std::uint8_t>(wanted);
  }
}

// The host watch is left as it is: a readiness report nobody waits for
// turns it off (update_watch), which costs less than re-arming for a
// coroutine that waits again at once.
void HostLoop::cancel_io(IoWait& wait) noexcept {
  if (FdEntry* slot = entry(wait.fd)) {
    slot->release(wait);
  }
  wait.armed = false;
}

void HostLoop::note_not_ready(int fd, IoEvent event) noexcept {
  if (fd < 0) {
    return;
  }
  try {
    detail::Readiness::clear(known_entry(fd).readiness, event);
  } catch (...) {
    // Growing the table failed: the caller's wait will report the error.
  }
}

void HostLoop::forget_fd(int fd) noexcept {
  FdEntry* slot = entry(fd);
  if (slot == nullptr || !known(*slot)) {
    return;
  }
  if (slot->watch != nullptr) {
    host_remove_fd(slot->watch);
  }
  slot->watch = nullptr;
  slot->watching = 0;
  slot->readiness = detail::Readiness::kUnknown;
  ++slot->generation;
  fire_io(*slot, &FdEntry::reader, ECANCELED, EndedFrom::elsewhere);
  slot = entry(fd);  // the callback may have grown fds_
  fire_io(*slot, &FdEntry::writer, ECANCELED, EndedFrom::elsewhere);
  // The callbacks ran in a callback scope, where posting an immediate
  // leaves the host's immediate to the end of the dispatch. Outside one
  // there is no such end: without this the woken waits would sleep until
  // some other host event.
  if (!in_callback()) {
    sync_host_immediate();
  }
}

void HostLoop::fire_io(FdEntry& slot, IoWait* loop_detail::IoWaiters::*direction, int error,
                       EndedFrom from) noexcept {
  IoWait* wait = slot.take(direction, error);
  if (wait == nullptr) {
    return;
  }
  const CallbackScope scope(callback_depth());
  // The host calls back once per fd, so a coroutine's step runs right here
  // (a step already queued, say by a cancel, runs from the queue). From
  // elsewhere it is only scheduled: a coroutine never runs on the stack of
  // the code that ended its wait.
  Immediate* step = wait->step;
  if (step != nullptr && from == EndedFrom::dispatch) {
    if (!step->queued) {
      loop_detail::run_immediate(*step);
    }
    return;
  }
  wait->fn(wait);
}

// The reader's coroutine may run in place (see fire_io) and close the fd,
// or close it and open another under the same number: the second direction
// of the report then belongs to an fd that is gone, and is dropped.
void HostLoop::dispatch_fd(int fd, unsigned events, int error) noexcept {
  FdEntry* slot = entry(fd);
  if (slot == nullptr || slot->watch == nullptr) {
    return;
  }
  const bool readable = error != 0 || (events & io_readable) != 0;
  const bool writable = error != 0 || (events & io_writable) != 0;
  if (readable) {
    if (error == 0) {
      slot->readiness |= io_readable;
    }
    const std::uint32_t generation = slot->generation;
    fire_io(*slot, &FdEntry::reader, error, EndedFrom::dispatch);
    if (!writable) {
      return;
    }
    slot = entry(fd);
    if (slot->watch == nullptr || slot->generation != generation) {
      return;
    }
  }
  if (writable) {
    if (error == 0) {
      slot->readiness |= io_writable;
    }
    fire_io(*slot, &FdEntry::writer, error, EndedFrom::dispatch);
  }
}

// Flattened: after a coroutine switches back, every return on the way out
// to the host is mispredicted (the return-stack buffer holds the
// coroutine's calls, not ours), at about 10 ns each on this kind of machine,
// so the dispatch path keeps as few frames as it can between the host and
// the coroutine's step.
[[gnu::flatten]] void HostLoop::on_host_fd(int fd, unsigned events, int error) noexcept {
  dispatch_fd(fd, events, error);
  finish_dispatch();
  update_watch(fd);
}

// After the coroutines woken by a readiness report have run, the host keeps
// watching only the directions someone waits for again: the hosts report
// readiness as long as it lasts, so an unwanted direction would fire on
// every iteration.
void HostLoop::update_watch(int fd) noexcept {
  FdEntry* slot = entry(fd);
  if (slot == nullptr || slot->watch == nullptr) {
    return;
  }
  unsigned wanted = 0;
  if (slot->reader != nullptr) wanted |= io_readable;
  if (slot->writer != nullptr) wanted |= io_writable;
  if (wanted == slot->watching) {
    return;
  }
  try {
    host_watch_fd(slot->watch, wanted);
    slot->watching = static_cast<std::uint8_t>(wanted);
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
    throw_errno(EINVAL, "cannot watch signal " + std::to_string(wait.signo));
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
  signal_waits_.push_back(&wait);
  wait.armed = true;
  if (pending_signals_.test(static_cast<std::size_t>(wait.signo))) {
    post_immediate(signal_delivery_);
  }
}

void HostLoop::cancel_signal(SignalWait& wait) noexcept {
  const auto found = std::find(signal_waits_.begin(), signal_waits_.end(), &wait);
  if (found != signal_waits_.end()) {
    signal_waits_.erase(found);
    if (!signal_waited(wait.signo)) {
      host_signal_waited(wait.signo, false);
    }
  }
  wait.armed = false;
}

bool HostLoop::signal_waited(int signo) const noexcept {
  return std::any_of(signal_waits_.begin(), signal_waits_.end(),
                     [signo](const SignalWait* wait) { return wait->signo == signo; });
}

void HostLoop::deliver_signal(int signo) noexcept {
  std::vector<SignalWait*> due;
  for (SignalWait* wait : signal_waits_) {
    if (wait->signo == signo) due.push_back(wait);
  }
  if (due.empty()) {
    pending_signals_.set(static_cast<std::size_t>(signo));
    return;
  }
  pending_signals_.reset(static_cast<std::size_t>(signo));
  for (SignalWait* wait : due) {
    cancel_signal(*wait);
    const CallbackScope scope(callback_depth());
    wait->fn(wait);
  }
}

void HostLoop::deliver_pending_signals(Immediate* self) noexcept {
  auto* loop = static_cast<HostLoop*>(self->data);
  for (std::size_t signo = 1; signo < NSIG; ++signo) {
    if (loop->pending_signals_.test(signo) && loop->signal_waited(static_cast<int>(signo))) {
      loop->deliver_signal(static_cast<int>(signo));
    }
  }
}

void HostLoop::on_host_signal(int signo) noexcept {
  if (signo > 0 && signo < NSIG) {
    deliver_signal(signo);
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
  Timer limit;
  limit.fn = [](Timer*) {};
  if (until != no_deadline) {
    limit.due = until;
    add_timer(limit);
  }
  struct CancelLimit {
    HostLoop& loop;
    Timer& limit;
    ~CancelLimit() { loop.cancel_timer(limit); }
  } cancel_limit{*this, limit};
  host_run_once();
}

// --- Teardown. ----------------------------------------------------------------

void HostLoop::shut_down() noexcept {
  if (shut_down_) {
    return;
  }
  shut_down_ = true;
  close_post_gate();
  run_teardown_hook();
  detach_all_nodes();
  release_host_resources();
  if (&this_loop() == this) {
    set_this_loop(nullptr);
  }
}

// The teardown hook (the request layer's) cancels the coroutines spawned on
// this loop and calls this until they have unwound. The host is not needed
// for that: their steps are immediates, and the posts and due timers are
// this loop's own.
bool HostLoop::run_pending_for_teardown() noexcept {
  const bool pending = !immediates_.empty();
  run_expired_timers();
  run_posts();
  run_immediates();
  return pending;
}

// Nodes still armed belong to waits that will never be resumed through
// this loop; marking them disarmed keeps their owners from calling back
// into it later.
void HostLoop::detach_all_nodes() noexcept {
  while (Immediate* immediate = immediates_.pop()) {
    immediate->queued = false;
  }
  while (!timers_.empty()) {
    timers_.remove(*timers_.top());
  }
  for (FdEntry& slot : fds_) {
    for (IoWait* wait : {slot.reader, slot.writer}) {
      if (wait != nullptr) wait->armed = false;
    }
    slot.reader = slot.writer = nullptr;
  }
  for (SignalWait* wait : signal_waits_) {
    wait->armed = false;
  }
  signal_waits_.clear();
  const std::lock_guard lock(post_mutex_);
  posted_.clear();
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
  for (FdEntry& slot : fds_) {
    if (slot.watch != nullptr) {
      host_remove_fd(slot.watch);
      slot.watch = nullptr;
    }
  }
}

}  // namespace cosync::host_loop
