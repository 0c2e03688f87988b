#include "loop/epoll_loop_linux.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>
#include <system_error>

#include "loop/internal_fd.hpp"

namespace cosync {
namespace {

// epoll_event.data values that are not fds.
constexpr std::uint64_t kWakeTag = ~std::uint64_t{0};
constexpr std::uint64_t kSignalTag = ~std::uint64_t{0} - 1;
constexpr std::uint64_t kIgnoredTag = ~std::uint64_t{0} - 2;

// Marks a callback as running for in_callback(), also when it throws.
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

// Out of line, so that wait_io's common path keeps a small frame.
[[noreturn, gnu::cold, gnu::noinline]] void refuse_wait_for_nothing(int fd) {
  throw std::invalid_argument("cosync: a wait on fd " + std::to_string(fd) +
                              " for no event could never end");
}

timespec relative_timespec(Deadline deadline) noexcept {
  const Deadline now = Clock::now();
  const auto left = deadline > now ? deadline - now : Clock::duration::zero();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(left - seconds);
  return timespec{static_cast<time_t>(seconds.count()), static_cast<long>(nanos.count())};
}

// epoll_wait takes milliseconds: round up so nothing fires early, and clamp
// far deadlines instead of overflowing.
int relative_milliseconds(Deadline deadline) noexcept {
  const Deadline now = Clock::now();
  const auto left = deadline > now ? deadline - now : Clock::duration::zero();
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<long long>(ms, 24LL * 3600 * 1000));
}

}  // namespace

EpollLoop::EpollLoop() {
  epoll_fd_ = loop_detail::move_above_user_fds(epoll_create1(EPOLL_CLOEXEC));
  if (epoll_fd_ < 0) {
    throw_errno(errno, "epoll_create1 failed");
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeTag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_.fd(), &event) != 0) {
    const int error = errno;
    close(epoll_fd_);
    throw_errno(error, "cannot watch the wake-up eventfd");
  }
  sigemptyset(&watched_signals_);
  pthread_sigmask(SIG_BLOCK, nullptr, &original_mask_);
}

EpollLoop::~EpollLoop() {
  run_teardown_hook();
  close_post_gate();
  if (signal_fd_ >= 0) {
    close(signal_fd_);
    pthread_sigmask(SIG_SETMASK, &original_mask_, nullptr);
  }
  close(epoll_fd_);
}

void EpollLoop::add_timer(Timer& timer) {
  if (timer.armed()) {
    timers_.remove(timer);
  }
  timers_.push(timer);
}

void EpollLoop::cancel_timer(Timer& timer) noexcept {
  if (timer.armed()) {
    timers_.remove(timer);
  }
}

void EpollLoop::post_immediate(Immediate& immediate) noexcept {
  if (!immediate.queued) {
    immediates_.push(immediate);
  }
}

void EpollLoop::cancel_immediate(Immediate& immediate) noexcept {
  if (immediate.queued) {
    immediates_.remove(immediate);
  }
}

void EpollLoop::post(std::function<void()> fn) {
  {
    const std::lock_guard lock(post_mutex_);
    posted_.push_back(std::move(fn));
  }
  have_posts_.store(true, std::memory_order_release);
  // One wake-up per batch of posts: later posters see the flag set until
  // the loop drains the wake fd and clears it.
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    wake_.send();
  }
}

// 0 or the errno of the registration.
int EpollLoop::epoll_add(int fd, bool writable) noexcept {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (writable ? EPOLLOUT : 0U);
  event.data.u64 = static_cast<std::uint64_t>(fd);
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : errno;
}

EpollLoop::FdEntry& EpollLoop::add_registration(int fd) {
  FdEntry& slot = fds_.grow_to(fd);
  if (const int error = epoll_add(fd, false); error != 0) {
    throw_errno(error, "cannot wait on fd " + std::to_string(fd));
  }
  slot.watching_writable = false;
  // Readability comes as an edge right after registering; writability is
  // assumed until a write says otherwise (see watch_writable).
  slot.readiness = detail::Readiness::kKnown | io_writable;
  return slot;
}

void EpollLoop::watch_writable(int fd, FdEntry& slot) {
  if (slot.watching_writable) {
    return;
  }
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.u64 = static_cast<std::uint64_t>(fd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) {
    throw_errno(errno, "cannot wait on fd " + std::to_string(fd));
  }
  slot.watching_writable = true;
}

void EpollLoop::wait_io(IoWait& wait) {
  if ((wait.events & (io_readable | io_writable)) == 0) [[unlikely]] {
    refuse_wait_for_nothing(wait.fd);
  }
  FdEntry& slot = register_fd(wait.fd);
  slot.check_free(wait);
  if ((wait.events & io_writable) != 0) {
    watch_writable(wait.fd, slot);
  }
  if (!wait.armed) {
    ++io_waits_;
  }
  slot.hold(wait);
  if (!slot.audit_queued) [[unlikely]] {
    queue_audit(wait.fd, slot);
  }
}

// Out of line: inlined, the vector's growth would cost wait_io's common
// path a larger frame.
[[gnu::noinline]] void EpollLoop::queue_audit(int fd, FdEntry& slot) {
  audit_young_.push_back(fd);
  slot.audit_queued = true;
}

void EpollLoop::audit_round() {
  iterations_since_audit_ = 0;
  auditing_.swap(audit_old_);
  audit_old_.swap(audit_young_);
  for (const int fd : auditing_) {
    FdEntry* slot = entry(fd);  // callbacks of earlier fds may grow fds_
    slot->audit_queued = false;
    if (registered(*slot) && (slot->reader != nullptr || slot->writer != nullptr)) {
      audit_registration(fd, *slot);
    }
  }
  auditing_.clear();
}

// EEXIST: the registration is still there. Success: the fd the loop
// registered was closed and the number now names another file, which from
// now on is registered. Any other error (EBADF: closed, and the number
// free) ends the fd's waits with it.
void EpollLoop::audit_registration(int fd, FdEntry& slot) {
  const int error = epoll_add(fd, slot.watching_writable);
  if (error == EEXIST) {
    return;
  }
  if (error == 0) {
    std::fprintf(stderr,
                 "cosync: fd %d was closed without forget_fd while the loop watched it, and "
                 "the number was reused; the loop now watches the new fd (call forget_fd "
                 "before closing an fd the loop has waited on)\n",
                 fd);
    slot.readiness = static_cast<std::uint8_t>(
        detail::Readiness::kKnown | (slot.watching_writable ? 0U : unsigned{io_writable}));
    return;
  }
  slot.readiness = detail::Readiness::kUnknown;
  fire_io(slot, &FdEntry::reader, error);
  FdEntry* after = entry(fd);  // the callback may have grown fds_
  fire_io(*after, &FdEntry::writer, error);
}

void EpollLoop::cancel_io(IoWait& wait) noexcept {
  if (!wait.armed) {
    return;
  }
  if (FdEntry* slot = entry(wait.fd)) {
    slot->release(wait);
  }
  wait.armed = false;
  --io_waits_;
}

void EpollLoop::note_not_ready(int fd, IoEvent event) noexcept {
  try {
    detail::Readiness::clear(register_fd(fd).readiness, event);
  } catch (...) {
    // Not pollable (closed, a regular file): the caller's wait will say so.
  }
}

void EpollLoop::forget_fd(int fd) noexcept {
  FdEntry* slot = entry(fd);
  if (slot == nullptr || !registered(*slot)) {
    return;
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);  // EBADF/ENOENT: already gone
  for (int i = 0; i < batch_size_; ++i) {
    if (batch_[i].data.u64 == static_cast<std::uint64_t>(fd)) {
      batch_[i].data.u64 = kIgnoredTag;
    }
  }
  slot->readiness = detail::Readiness::kUnknown;
  fire_io(*slot, &FdEntry::reader, ECANCELED);
  slot = entry(fd);  // the callback may have grown fds_
  fire_io(*slot, &FdEntry::writer, ECANCELED);
}

void EpollLoop::fire_io(FdEntry& slot, IoWait* loop_detail::IoWaiters::*direction, int error) {
  IoWait* wait = slot.take(direction, error);
  if (wait == nullptr) {
    return;
  }
  --io_waits_;
  // A coroutine's step is queued, not run here: the batch's dispatch first
  // touches every woken coroutine's records, so their cache misses overlap,
  // and the immediates then switch into coroutines whose data is in cache.
  if (wait->step != nullptr) {
    __builtin_prefetch(wait->step->resume);
    EpollLoop::post_immediate(*wait->step);
    return;
  }
  const CallbackScope scope(callback_depth());
  wait->fn(wait);
}

void EpollLoop::dispatch_fd(int fd, std::uint32_t events) {
  FdEntry* slot = entry(fd);
  if (slot == nullptr || !registered(*slot)) {
    return;
  }
  // Errors and hang-ups make both directions "ready", for good: the
  // operation then gets the error or the end of file from the kernel
  // itself, and no further edge would come to set them again.
  constexpr unsigned kForGood = detail::Readiness::kForGoodShift;
  if ((events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) {
    slot->readiness |= io_readable << kForGood;
  }
  if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
    slot->readiness |= io_writable << kForGood;
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) {
    slot->readiness |= io_readable;
    fire_io(*slot, &FdEntry::reader, 0);
  }
  slot = entry(fd);  // a callback may have grown fds_
  if (slot != nullptr && registered(*slot) && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
    slot->readiness |= io_writable;
    fire_io(*slot, &FdEntry::writer, 0);
  }
}

void EpollLoop::watch_signal(SignalWait& wait) {
  if (wait.armed) {
    return;
  }
  if (sigismember(&watched_signals_, wait.signo) != 1) {
    if (sigaddset(&watched_signals_, wait.signo) != 0) {
      throw_errno(EINVAL, "cannot watch signal " + std::to_string(wait.signo));
    }
    update_signal_mask();
  }
  signal_waits_.push_back(&wait);
  wait.armed = true;
}

void EpollLoop::cancel_signal(SignalWait& wait) noexcept {
  const auto found = std::find(signal_waits_.begin(), signal_waits_.end(), &wait);
  if (found != signal_waits_.end()) {
    signal_waits_.erase(found);
  }
  wait.armed = false;
}

// Watched signals stay blocked in this thread for the loop's lifetime, so a
// signal raised while nobody waits is kept pending, not lost.
void EpollLoop::update_signal_mask() {
  pthread_sigmask(SIG_BLOCK, &watched_signals_, nullptr);
  const bool created = signal_fd_ < 0;
  signal_fd_ = signalfd(signal_fd_, &watched_signals_, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) {
    throw_errno(errno, "signalfd failed");
  }
  if (created) {
    signal_fd_ = loop_detail::move_above_user_fds(signal_fd_);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = kSignalTag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, signal_fd_, &event);
  }
}

void EpollLoop::dispatch_signals() {
  signalfd_siginfo info{};
  while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    const auto signo = static_cast<int>(info.ssi_signo);
    std::vector<SignalWait*> due;
    for (SignalWait* wait : signal_waits_) {
      if (wait->signo == signo) due.push_back(wait);
    }
    for (SignalWait* wait : due) {
      cancel_signal(*wait);
      const CallbackScope scope(callback_depth());
      wait->fn(wait);
    }
  }
}

void EpollLoop::drain_wakeups() {
  wake_.drain();
  wake_pending_.store(false, std::memory_order_release);
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
    timespec timeout = relative_timespec(wake);
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
  int timeout_ms = wake == no_deadline ? -1 : relative_milliseconds(wake);
  if (audit_due() && (timeout_ms < 0 || timeout_ms > kIdleAuditMs)) {
    timeout_ms = kIdleAuditMs;
  }
  could_sleep = timeout_ms != 0;
  return epoll_wait(epoll_fd_, batch_.data(), kBatch, timeout_ms);
}

void EpollLoop::run_once(Deadline until) {
  check_can_run("run_once");
  ++stats_.iterations;
  if (!immediates_.empty()) [[unlikely]] {
    run_once_behind_backlog(until);
    return;
  }
  run_events(until);
  run_immediates();
}

// Immediates left from earlier iterations (a burst of coroutine starts)
// wait behind what this iteration's events wake; see
// run_immediates_behind_backlog.
[[gnu::noinline]] void EpollLoop::run_once_behind_backlog(Deadline until) {
  const loop_detail::MarkerScope backlog_scope(immediates_, backlog_marker_);
  immediates_.push(backlog_marker_);
  run_events(until);
  immediates_.move_behind_to_front(backlog_marker_);
  run_immediates_behind_backlog();
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
      dispatch_signals();
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

bool EpollLoop::run_pending_for_teardown() noexcept {
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

bool EpollLoop::can_wake() const noexcept {
  return !immediates_.empty() || !timers_.empty() || io_waits_ != 0 || !signal_waits_.empty() ||
         holds() != 0 || have_posts_.load(std::memory_order_acquire);
}

void EpollLoop::run_expired_timers() {
  if (timers_.empty()) {
    return;
  }
  const Deadline now = Clock::now();
  while (!timers_.empty() && timers_.top_due() <= now) {
    Timer* timer = timers_.top();
    timers_.remove(*timer);
    ++stats_.timers_fired;
    const CallbackScope scope(callback_depth());
    timer->fn(timer);
  }
}

void EpollLoop::run_posts() {
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
    const CallbackScope scope(callback_depth());
    fn();
  }
}

[[gnu::always_inline]] inline void EpollLoop::run_immediate_now(Immediate& immediate) noexcept {
  if (const Immediate* next = immediates_.front(); next != nullptr && next->resume != nullptr) {
    next->resume->prefetch_resume();
  }
  ++stats_.immediates_run;
  const CallbackScope scope(callback_depth());
  loop_detail::run_immediate(immediate);
}

// Runs the immediates queued before this point; the end marker keeps those
// posted meanwhile for the next iteration, and cancelling any queued one
// (even from a callback) stays a plain list removal.
void EpollLoop::run_immediates() {
  if (immediates_.empty()) {
    return;
  }
  immediates_.push(end_marker_);
  const loop_detail::MarkerScope end_scope(immediates_, end_marker_);
  for (Immediate* immediate = immediates_.pop(); immediate != &end_marker_;
       immediate = immediates_.pop()) {
    run_immediate_now(*immediate);
  }
}

// run_immediates, for a queue of [this iteration's wake-ups][backlog
// marker][backlog]: all the wake-ups run, but at most kBacklogBudget of the
// backlog, so that a burst cannot keep the loop from its clock and its fds
// for long: the next iteration's expired timers and ready fds wake their
// coroutines ahead of the rest of the burst.
void EpollLoop::run_immediates_behind_backlog() {
  immediates_.push(end_marker_);
  const loop_detail::MarkerScope end_scope(immediates_, end_marker_);
  Immediate* immediate = immediates_.pop();
  for (; immediate != &backlog_marker_; immediate = immediates_.pop()) {
    run_immediate_now(*immediate);
  }
  for (std::size_t budget = kBacklogBudget;
       budget > 0 && (immediate = immediates_.pop()) != &end_marker_; --budget) {
    run_immediate_now(*immediate);
  }
}

}  // namespace cosync
