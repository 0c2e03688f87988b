// The tevent adapter: cosync's loop hooks on tevent's own events.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
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

extern "C" {  // neither header declares C linkage itself
#include <talloc.h>
#include <tevent.h>
}

namespace cosync {
namespace {

// The hooks cannot report failure to their caller (they run inside
// tevent's dispatch); tevent only fails them when out of memory.
[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "cosync: %s failed on the tevent loop\n", what);
  std::abort();
}

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), std::string("cosync: ") + what);
}

// tevent's timers run on its own clock reading: the deadline becomes an
// offset from tevent's "now", rounded up so it never fires early, and
// capped (the heap re-arms a far timer when the cap expires).
timeval tevent_time_of(Deadline due) {
  const Deadline now = Clock::now();
  auto left = due > now ? due - now : Clock::duration::zero();
  left = std::min<Clock::duration>(left, std::chrono::hours(24));
  const auto micros = std::chrono::ceil<std::chrono::microseconds>(left).count();
  return tevent_timeval_current_ofs(static_cast<uint32_t>(micros / 1000000),
                                    static_cast<uint32_t>(micros % 1000000));
}

// tevent (before TEVENT_FD_ERROR, as in Debian 12's 0.14) reports an error
// or hang-up only to a watch that asks for READ: one that asks for WRITE
// alone is dropped from epoll without a call, and its waiting writer would
// hang. So a lone writer's watch asks for READ too, marked in the watch's
// tag beside the fd number; see TeventLoop::on_fd.
constexpr uint64_t kFdMask = 0xffffffffU;
constexpr uint64_t kReadForErrors = uint64_t{1} << 32;

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

class TeventLoop final : public host_loop::HostLoop {
 public:
  explicit TeventLoop(tevent_context* ev);
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
  static unsigned lone_writer_report(tevent_fd* fde, int fd) noexcept;
  static void on_signal(tevent_context*, tevent_signal*, int signo, int, void*, void* data);
  static void on_wake(tevent_context*, tevent_immediate* im, void* data);

  tevent_context* ev_;
  TALLOC_CTX* memory_;  // parent of every event the adapter adds to ev_
  tevent_immediate* immediate_ = nullptr;
  tevent_timer* timer_ = nullptr;
  WakeRelay* relay_ = nullptr;  // under memory_ until orphaned
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
  if (relay_->threads == nullptr) throw_errno("tevent_threaded_context_create failed");
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
  if (fde == nullptr) throw_errno("tevent_add_fd failed");
  tevent_fd_set_tag(fde, static_cast<uint64_t>(fd));
  return fde;
}

void TeventLoop::host_watch_fd(void* watch, unsigned events) {
  auto* fde = static_cast<tevent_fd*>(watch);
  uint16_t flags = 0;
  if ((events & io_readable) != 0) flags |= TEVENT_FD_READ;
  if ((events & io_writable) != 0) flags |= TEVENT_FD_WRITE;
  uint64_t tag = tevent_fd_get_tag(fde) & kFdMask;
  if (flags == TEVENT_FD_WRITE) {
    flags |= TEVENT_FD_READ;
    tag |= kReadForErrors;
  }
  tevent_fd_set_tag(fde, tag);
  tevent_fd_set_flags(fde, flags);
}

void TeventLoop::host_remove_fd(void* watch) noexcept { talloc_free(watch); }

void TeventLoop::host_add_signal(int signo) {
  if (tevent_add_signal(ev_, memory_, signo, 0, &TeventLoop::on_signal, this) == nullptr) {
    throw_errno("tevent_add_signal failed");
  }
}

// Every way into tevent's dispatch (tevent_loop_once, tevent_loop_wait,
// tevent_req_poll) passes through _tevent_loop_once, which aborts when
// entered again for the same context. Any context's dispatch on the stack
// counts: the walk cannot tell which one it is. A miss (no unwind info on
// the way, a libtevent whose symbol is not found) answers false, and
// tevent's own nesting check then aborts.
bool TeventLoop::host_in_callback() const noexcept {
  static const host_loop::CodeRange loop_once_code = host_loop::find_function(
      "libtevent.so.0", "_tevent_loop_once", reinterpret_cast<void*>(&_tevent_loop_once));
  return host_loop::on_call_stack(loop_once_code);
}

void TeventLoop::host_run_once() {
  if (tevent_loop_once(ev_) != 0) {
    throw_errno("tevent_loop_once failed");
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
  if ((flags & TEVENT_FD_READ) != 0) {
    events |= (tag & kReadForErrors) != 0 ? lone_writer_report(fde, fd) : io_readable;
  }
  static_cast<TeventLoop*>(data)->on_host_fd(fd, events, 0);
}

// READ fired on a lone writer's watch: an error or hang-up (tevent then
// reports READ, for as long as it lasts), or data nobody waits for yet. An
// error wakes the writer, whose write then fails with the kernel's own
// errno. Data is only recorded as readable, and the watch stops asking for
// READ, which would otherwise fire on every iteration; until a reader
// waits, the writer is not told of errors, as with plain tevent.
unsigned TeventLoop::lone_writer_report(tevent_fd* fde, int fd) noexcept {
  if (loop_detail::poll_ready_now(fd, io_writable) != 0) {
    return io_writable;
  }
  tevent_fd_set_tag(fde, tevent_fd_get_tag(fde) & kFdMask);
  tevent_fd_set_flags(fde, TEVENT_FD_WRITE);
  return io_readable;
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

std::unique_ptr<Loop> make_tevent_loop(tevent_context* ev) {
  return std::make_unique<TeventLoop>(ev);
}

tevent_context* tevent_context_of(const Loop& loop) noexcept {
  const auto* adapter = dynamic_cast<const TeventLoop*>(&loop);
  return adapter != nullptr ? adapter->context() : nullptr;
}

}  // namespace cosync
