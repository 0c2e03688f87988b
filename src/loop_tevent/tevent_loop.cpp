// The tevent adapter: cosync's loop hooks on tevent's own events.
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <system_error>

#include "cosync/loop_tevent.hpp"
#include "loop/fd_poll.hpp"
#include "loop_host/caller_search.hpp"
#include "loop_host/host_loop.hpp"
#include "loop_tevent/error_watch.hpp"
#include "support/errors.hpp"
#include "support/timeout.hpp"

extern "C" {  // neither header declares C linkage itself
#include <talloc.h>
#include <tevent.h>
}

namespace cosync::loop_tevent {
namespace {

// The hooks cannot report failure to their caller (they run inside
// tevent's dispatch); tevent only fails them when out of memory.
[[noreturn]] void fail(const char* what) {
  support::fatal(std::string(what) + " failed on the tevent loop");
}

// tevent's timers run on its own clock reading: the deadline becomes an
// offset from tevent's "now", rounded up so it never fires early, and
// capped (the heap re-arms a far timer when the cap expires).
timeval tevent_time_of(Deadline due) {
  const auto micros = support::poll_timeout<std::chrono::microseconds>(due - Clock::now());
  return tevent_timeval_current_ofs(static_cast<uint32_t>(micros / 1000000),
                                    static_cast<uint32_t>(micros % 1000000));
}

// tevent (before TEVENT_FD_ERROR, as in Debian 12's 0.14) reports an error
// or hang-up only to a watch that asks for READ: one that asks for WRITE
// alone is dropped from epoll without a call, and its waiting writer would
// hang. So a lone writer's watch asks for READ too (kReadForErrors), until
// READ fires for unread bytes; from then on its fd is in the adapter's own
// ErrorWatch instead (kErrorWatched), until the watch changes again. Both
// marks are in the watch's tag beside the fd number; see
// TeventLoop::lone_writer_report.
constexpr uint64_t kFdMask = 0xffffffffU;
constexpr uint64_t kReadForErrors = uint64_t{1} << 32;
constexpr uint64_t kErrorWatched = uint64_t{1} << 33;

// The fd number a watch's tag carries beside its marks.
int fd_of(const tevent_fd* fde) noexcept {
  return static_cast<int>(tevent_fd_get_tag(fde) & kFdMask);
}

// The functions whose frames mean tevent is dispatching, as libtevent
// 0.14.1 (x86-64) has them. tevent_loop_once and tevent_req_poll call
// _tevent_loop_once, and so does tevent_loop_wait: _tevent_loop_wait only
// tail-jumps to the backend's loop_wait (tevent_common_loop_wait), so it is
// never a caller itself. _tevent_loop_until calls the backend's loop_once
// directly, under a nesting check of its own that aborts as
// _tevent_loop_once's does. (loop_tevent_test checks tevent_req_poll and
// tevent_loop_until.)
using DispatchCode = std::array<loop_host::CodeRange, 2>;

DispatchCode find_dispatch_code() noexcept {
  const auto find = [](const char* symbol, void* fallback) {
    return loop_host::find_function("libtevent.so.0", symbol, fallback);
  };
  const DispatchCode code = {find("_tevent_loop_once", reinterpret_cast<void*>(&_tevent_loop_once)),
                             // Declared only under TEVENT_DEPRECATED: found by its name alone.
                             find("_tevent_loop_until", nullptr)};
  if (loop_host::none_found(code)) {
    std::fputs(
        "cosync: tevent's dispatch functions were not found; a wait outside coroutines "
        "from inside a tevent callback will make tevent abort instead of throwing "
        "cosync::UsageError\n",
        stderr);
  }
  return code;
}

class TeventLoop;

// What another thread's wake-up reaches. Two immediates take turns: while
// the handler runs on one (tevent marks it busy and aborts if it is
// scheduled again), the next wake-up uses the other. Only one wake-up is in
// flight at a time (HostLoop's wake flag).
//
// tevent aborts when a threaded immediate is freed before a
// tevent_loop_once has taken it in, and freeing the context does not take
// it in. So a relay whose wake-up is in flight when the adapter goes away
// (a poster may even schedule it after its post ran in an earlier batch) is
// never freed with the adapter or the context: it becomes an orphan, freed
// by its handler if the application runs the context again, else leaked.
struct WakeRelay {
  TeventLoop* loop;  // null once orphaned
  tevent_threaded_context* threads;
  tevent_immediate* immediates[2];
  std::atomic<int> next;   // the immediate the next wake-up uses
  WakeRelay* next_orphan;  // in `orphans`
};

// The orphans, kept reachable (no leak report for the ones never run).
// Adapters on other threads share the list.
std::mutex orphans_mutex;
WakeRelay* orphans = nullptr;

void adopt_orphan(WakeRelay* relay) noexcept {
  talloc_steal(nullptr, relay);
  const std::lock_guard lock(orphans_mutex);
  relay->next_orphan = orphans;
  orphans = relay;
}

void free_orphan(WakeRelay* relay) noexcept {
  {
    const std::lock_guard lock(orphans_mutex);
    WakeRelay** link = &orphans;
    while (*link != relay) link = &(*link)->next_orphan;
    *link = relay->next_orphan;
  }
  talloc_free(relay);
}

class TeventLoop final : public loop_host::HostLoop {
 public:
  explicit TeventLoop(tevent_context* ev);
  TeventLoop(const TeventLoop&) = delete;
  TeventLoop& operator=(const TeventLoop&) = delete;
  ~TeventLoop() override;

  tevent_context* context() const noexcept { return ev_; }

 private:
  void host_schedule_immediate(bool on) noexcept override;
  void host_arm_timer(Deadline due) noexcept override;
  void host_disarm_timer() noexcept override;
  void host_wake() noexcept override;
  void* host_add_fd(int fd) override;
  void host_watch_fd(void* watch, unsigned events) override;
  void host_remove_fd(void* watch) noexcept override;
  void host_add_signal(int signo) override;
  bool host_in_callback() const noexcept override;
  void host_run_once() override;

  void create_wake_relay();
  void release_wake_relay() noexcept;

  static void on_immediate(tevent_context*, tevent_immediate*, void* data);
  static void on_timer(tevent_context*, tevent_timer*, timeval, void* data);
  static void on_fd(tevent_context*, tevent_fd* fde, uint16_t flags, void* data);
  // Out of line: inlined, its calls would give on_fd's common path the
  // frame (six saved registers) that only this rare path needs.
  [[gnu::noinline]] unsigned lone_writer_report(tevent_fd* fde, int fd) noexcept;
  bool watch_errors_of(int fd) noexcept;
  void leave_error_watch(tevent_fd* fde) noexcept;
  bool open_error_watch() noexcept;
  void close_error_watch() noexcept;
  static void on_error_watch(tevent_context*, tevent_fd*, uint16_t, void* data);
  static void on_signal(tevent_context*, tevent_signal*, int signo, int, void*, void* data);
  static void on_wake(tevent_context*, tevent_immediate* im, void* data);

  tevent_context* ev_;
  TALLOC_CTX* memory_;  // parent of every event the adapter adds to ev_
  tevent_immediate* immediate_ = nullptr;
  tevent_timer* timer_ = nullptr;
  WakeRelay* relay_ = nullptr;  // under memory_ until orphaned
  // The set and tevent's watch of it exist while it has members: the
  // watches whose tag is marked kErrorWatched, counted here.
  ErrorWatch error_watch_;
  tevent_fd* error_watch_fde_ = nullptr;  // under memory_
  std::size_t error_watch_members_ = 0;
};

TeventLoop::TeventLoop(tevent_context* ev)
    : HostLoop("tevent"), ev_(ev), memory_(talloc_new(nullptr)) {
  if (memory_ == nullptr) throw std::bad_alloc();
  immediate_ = tevent_create_immediate(memory_);
  if (immediate_ == nullptr) {
    talloc_free(memory_);
    throw std::bad_alloc();
  }
  try {
    create_wake_relay();
  } catch (...) {
    talloc_free(memory_);
    throw;
  }
}

TeventLoop::~TeventLoop() {
  shut_down();
  release_wake_relay();
  talloc_free(memory_);  // the immediate, timer, fd and signal events, the relay
}

// Under memory_: freeing it on failure frees what was made.
void TeventLoop::create_wake_relay() {
  void* memory = talloc_size(memory_, sizeof(WakeRelay));
  if (memory == nullptr) throw std::bad_alloc();
  talloc_set_name_const(memory, "cosync WakeRelay");
  relay_ = new (memory) WakeRelay{this, nullptr, {nullptr, nullptr}, {0}, nullptr};
  relay_->threads = tevent_threaded_context_create(relay_, ev_);
  if (relay_->threads == nullptr) {
    support::throw_errno(errno, "tevent_threaded_context_create failed");
  }
  for (tevent_immediate*& im : relay_->immediates) {
    im = tevent_create_immediate(relay_);
    if (im == nullptr) throw std::bad_alloc();
  }
}

// Freeing the threaded context first makes later wake-ups no-ops (posting
// to a loop being destroyed is the caller's race). This may run while
// talloc frees the context (the tevent glue ties the adapter to it), so it
// asks nothing of the context.
void TeventLoop::release_wake_relay() noexcept {
  TALLOC_FREE(relay_->threads);
  if (wake_in_flight()) {
    relay_->loop = nullptr;
    adopt_orphan(relay_);
  }
}

void TeventLoop::host_schedule_immediate(bool on) noexcept {
  if (on) {
    tevent_schedule_immediate(immediate_, ev_, &TeventLoop::on_immediate, this);
  } else {
    tevent_schedule_immediate(immediate_, ev_, nullptr, nullptr);  // cancels it
  }
}

void TeventLoop::host_arm_timer(Deadline due) noexcept {
  const timeval when = tevent_time_of(due);
  if (timer_ != nullptr) {
    tevent_update_timer(timer_, when);
    return;
  }
  timer_ = tevent_add_timer(ev_, memory_, when, &TeventLoop::on_timer, this);
  if (timer_ == nullptr) fail("tevent_add_timer");
}

void TeventLoop::host_disarm_timer() noexcept { TALLOC_FREE(timer_); }

void TeventLoop::host_wake() noexcept {
  const int turn = relay_->next.load(std::memory_order_acquire);
  tevent_threaded_schedule_immediate(relay_->threads, relay_->immediates[turn],
                                     &TeventLoop::on_wake, relay_);
}

void* TeventLoop::host_add_fd(int fd) {
  tevent_fd* fde = tevent_add_fd(ev_, memory_, fd, 0, &TeventLoop::on_fd, this);
  if (fde == nullptr) support::throw_errno(errno, "tevent_add_fd failed");
  tevent_fd_set_tag(fde, static_cast<uint64_t>(fd));
  return fde;
}

void TeventLoop::host_watch_fd(void* watch, unsigned events) {
  auto* fde = static_cast<tevent_fd*>(watch);
  uint16_t flags = 0;
  if ((events & io_readable) != 0) flags |= TEVENT_FD_READ;
  if ((events & io_writable) != 0) flags |= TEVENT_FD_WRITE;
  leave_error_watch(fde);
  auto tag = static_cast<uint64_t>(fd_of(fde));
  if (flags == TEVENT_FD_WRITE) {
    flags |= TEVENT_FD_READ;
    tag |= kReadForErrors;
  }
  tevent_fd_set_tag(fde, tag);
  tevent_fd_set_flags(fde, flags);
}

// cosync removes a watch before it closes the fd, so the fd can still
// leave the error watch.
void TeventLoop::host_remove_fd(void* watch) noexcept {
  leave_error_watch(static_cast<tevent_fd*>(watch));
  talloc_free(watch);
}

void TeventLoop::host_add_signal(int signo) {
  if (tevent_add_signal(ev_, memory_, signo, 0, &TeventLoop::on_signal, this) == nullptr) {
    support::throw_errno(errno, "tevent_add_signal failed");
  }
}

// tevent aborts when its dispatch is entered again for the same context;
// either of its dispatch functions on the stack (find_dispatch_code) means
// it is running. Any context's dispatch counts: the walk cannot tell which
// one it is. A miss (no unwind info on the way, a libtevent whose symbols
// are not found, which find_dispatch_code warns of) answers false, and
// tevent's own nesting check then aborts.
bool TeventLoop::host_in_callback() const noexcept {
  static const DispatchCode dispatch_code = find_dispatch_code();
  return loop_host::on_call_stack(dispatch_code);
}

void TeventLoop::host_run_once() {
  if (tevent_loop_once(ev_) != 0) {
    support::throw_errno(errno, "tevent_loop_once failed");
  }
}

void TeventLoop::on_immediate(tevent_context*, tevent_immediate*, void* data) {
  static_cast<TeventLoop*>(data)->on_host_immediate(true);
}

// tevent frees a timer once its handler returns.
void TeventLoop::on_timer(tevent_context*, tevent_timer*, timeval, void* data) {
  auto* self = static_cast<TeventLoop*>(data);
  self->timer_ = nullptr;
  self->on_host_timer();
}

void TeventLoop::on_fd(tevent_context*, tevent_fd* fde, uint16_t flags, void* data) {
  const uint64_t tag = tevent_fd_get_tag(fde);
  const int fd = static_cast<int>(tag & kFdMask);
  unsigned events = 0;
  if ((flags & TEVENT_FD_WRITE) != 0) events |= io_writable;
  auto* self = static_cast<TeventLoop*>(data);
  if ((flags & TEVENT_FD_READ) != 0) {
    events |= (tag & kReadForErrors) != 0 ? self->lone_writer_report(fde, fd) : io_readable;
  }
  self->on_host_fd(fd, events, 0);
}

// READ fired on a lone writer's watch: an error or hang-up (tevent then
// reports READ, for as long as it lasts), or data nobody waits for yet. An
// error wakes the writer, whose write then fails with the kernel's own
// errno. Data is only recorded as readable, and the watch stops asking for
// READ, which would otherwise fire on every iteration: the error watch
// takes over. (When the kernel refuses the error watch the fd, the writer
// is not told of errors until a reader waits, as with plain tevent.)
unsigned TeventLoop::lone_writer_report(tevent_fd* fde, int fd) noexcept {
  if (loop::poll_ready_now(fd, io_writable) != 0) {
    return io_writable;
  }
  const uint64_t tag = static_cast<uint64_t>(fd) | (watch_errors_of(fd) ? kErrorWatched : 0);
  tevent_fd_set_tag(fde, tag);
  tevent_fd_set_flags(fde, TEVENT_FD_WRITE);
  return io_readable;
}

// The first member opens the error watch, the last one out closes it
// (leave_error_watch): tevent_loop_wait runs for as long as any fd event
// exists, one that watches nothing too, so tevent's watch of the set must
// go with the last member. The set goes with it rather than staying open
// for the next member: that costs two system calls on a rare path, and the
// stray members ErrorWatch::remove tells of go with the set instead of
// piling up for the adapter's lifetime.
bool TeventLoop::watch_errors_of(int fd) noexcept {
  if (error_watch_members_ == 0 && !open_error_watch()) return false;
  if (!error_watch_.add(fd)) {
    if (error_watch_members_ == 0) close_error_watch();
    return false;
  }
  ++error_watch_members_;
  return true;
}

// Takes the fd of `fde` out of the error watch if it is in it. The mark
// goes too, so that the count stays true whoever calls this next.
void TeventLoop::leave_error_watch(tevent_fd* fde) noexcept {
  const uint64_t tag = tevent_fd_get_tag(fde);
  if ((tag & kErrorWatched) == 0) return;
  error_watch_.remove(fd_of(fde));
  tevent_fd_set_tag(fde, tag & ~kErrorWatched);
  if (--error_watch_members_ == 0) close_error_watch();
}

bool TeventLoop::open_error_watch() noexcept {
  if (!error_watch_.open()) return false;
  error_watch_fde_ = tevent_add_fd(ev_, memory_, error_watch_.fd(), TEVENT_FD_READ,
                                   &TeventLoop::on_error_watch, this);
  if (error_watch_fde_ == nullptr) error_watch_.close();
  return error_watch_fde_ != nullptr;
}

// tevent's watch first: freeing it takes the set's fd out of tevent's own
// epoll set, which needs the fd still open. tevent allows the free from
// inside on_error_watch itself (a writer woken there may close its socket).
void TeventLoop::close_error_watch() noexcept {
  TALLOC_FREE(error_watch_fde_);
  error_watch_.close();
}

// A member is in error: its writer wakes, and its write fails with the
// kernel's errno. One fd per call keeps the report from outliving the fd
// (the writer may close it, and another fd take its number); tevent calls
// again for the rest, the error watch's fd being readable until then. The
// fd stays marked in its tag, quiet (ErrorWatch::take_failed), until its
// watch changes. The report names an fd number, which may name another
// file by now (ErrorWatch::remove): it is passed on only when the fd that
// number names now is in error or writable itself. Otherwise a connect in
// progress on that other file would wake, read 0 from its SO_ERROR and
// report success.
void TeventLoop::on_error_watch(tevent_context*, tevent_fd*, uint16_t, void* data) {
  auto* self = static_cast<TeventLoop*>(data);
  const int fd = self->error_watch_.take_failed();
  if (fd >= 0 && loop::poll_ready_now(fd, io_writable) != 0) {
    self->on_host_fd(fd, io_writable, 0);
  }
}

void TeventLoop::on_signal(tevent_context*, tevent_signal*, int signo, int, void*, void* data) {
  static_cast<TeventLoop*>(data)->on_host_signal(signo);
}

// The other immediate takes the next wake-up before the flag that lets one
// happen is cleared (in on_host_wake). `im` is scheduled again only after
// the other one's handler ran, in a later tevent_loop_once: by then tevent
// is done with it.
void TeventLoop::on_wake(tevent_context*, tevent_immediate* im, void* data) {
  auto* relay = static_cast<WakeRelay*>(data);
  if (relay->loop == nullptr) {
    // `im` is busy: talloc makes it a top-level chunk and tevent frees it
    // when this handler returns.
    free_orphan(relay);
    return;
  }
  relay->next.store(im == relay->immediates[0] ? 1 : 0, std::memory_order_release);
  relay->loop->on_host_wake();
}

}  // namespace
}  // namespace cosync::loop_tevent

namespace cosync {

std::unique_ptr<Loop> make_tevent_loop(tevent_context* ev) {
  return std::make_unique<loop_tevent::TeventLoop>(ev);
}

tevent_context* tevent_context_of(const Loop& loop) noexcept {
  const auto* adapter = dynamic_cast<const loop_tevent::TeventLoop*>(&loop);
  return adapter != nullptr ? adapter->context() : nullptr;
}

}  // namespace cosync
