#include <dlfcn.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>
#include <vector>

#include "cosync/impl/intrusive_list.hpp"
#include "hook/fd_state.hpp"
#include "hook/real_linux.hpp"
#include "hook/waiting.hpp"
#include "support/scope_guard.hpp"
#include "support/timeout.hpp"

namespace cosync::hook {
namespace {

constinit std::atomic<const impl::HookBridge*> g_bridge{nullptr};
// The loop the forking thread had, in a child after fork (see
// disown_inherited_loops); null in a process that did not fork.
constinit std::atomic<Loop*> g_inherited_loop{nullptr};

struct ThreadCounters {
  std::uint64_t calls = 0;
  std::uint64_t suspensions = 0;
  std::uint64_t waiting = 0;
  std::uint64_t would_block = 0;
};
constinit thread_local ThreadCounters t_counters __attribute__((tls_model("initial-exec")));
constinit thread_local int t_signal_depth __attribute__((tls_model("initial-exec"))) = 0;

// A bit of FdWaiter::fired besides the IoEvent ones: the fd was closed.
constexpr unsigned kClosed = 4;

// One fd of one waiting call, listed on the fd's FdWatch; all the waiters
// of one call share its HookWait.
struct FdWaiter {
  int fd = -1;
  unsigned events = 0;
  unsigned fired = 0;
  bool listed = false;
  impl::HookWait* wait = nullptr;
  FdWaiter* prev = nullptr;
  FdWaiter* next = nullptr;
};

// The waiters on one fd of one thread, and the loop's two readiness slots
// (one reader, one writer) that serve them all.
struct FdWatch {
  Loop* loop = nullptr;
  IoWait reader;
  IoWait writer;
  impl::IntrusiveList<FdWaiter> waiters;

  IoWait& slot(unsigned direction) noexcept { return direction == io_readable ? reader : writer; }
  bool idle() const noexcept { return waiters.empty() && !reader.armed && !writer.armed; }
};

void fire(FdWaiter& waiter, unsigned what) noexcept {
  waiter.fired |= what;
  if (!waiter.wait->fired) {
    waiter.wait->fired = true;
    g_bridge.load(std::memory_order_relaxed)->wake(*waiter.wait);
  }
}

// The loop's callback for either slot: every waiter for that direction
// tries again (each re-checks with the kernel).
void on_ready(IoWait* io) noexcept {
  auto* watch = static_cast<FdWatch*>(io->data);
  const unsigned direction = io == &watch->reader ? io_readable : io_writable;
  watch->waiters.for_each([direction](FdWaiter& waiter) {
    if ((waiter.events & direction) != 0) fire(waiter, direction);
  });
}

class WatchTable;
// Initial-exec pointer, as the io layer's scratch buffer: one TLS load.
constinit thread_local WatchTable* t_table __attribute__((tls_model("initial-exec"))) = nullptr;
// Set once the thread's table is destroyed (at thread exit, possibly before
// the loop's own teardown unwinds coroutines that waited in the hooks).
constinit thread_local bool t_table_gone __attribute__((tls_model("initial-exec"))) = false;

// This thread's watches, by fd. A watch whose slot a loop still holds is
// never freed: only a loop that is alive may be told to let go.
class WatchTable {
 public:
  WatchTable() = default;
  WatchTable(const WatchTable&) = delete;
  WatchTable& operator=(const WatchTable&) = delete;
  ~WatchTable() {
    t_table = nullptr;
    t_table_gone = true;
    const impl::HookBridge* bridge = g_bridge.load(std::memory_order_acquire);
    Loop* alive = bridge != nullptr ? bridge->thread_loop() : nullptr;
    for (std::unique_ptr<FdWatch>& watch : watches_) {
      if (watch == nullptr || watch->idle()) continue;
      if (watch->loop != alive) {
        static_cast<void>(watch.release());  // the loop may still write to its slots
        continue;
      }
      alive->cancel_io(watch->reader);
      alive->cancel_io(watch->writer);
    }
  }

  FdWatch* find(int fd) noexcept {
    const auto index = static_cast<std::size_t>(fd);
    return fd >= 0 && index < watches_.size() ? watches_[index].get() : nullptr;
  }

  FdWatch& get(int fd) {
    const auto index = static_cast<std::size_t>(fd);
    if (index >= watches_.size()) {
      watches_.resize(std::max<std::size_t>(index + 1, watches_.size() * 2));
    }
    if (watches_[index] == nullptr) {
      watches_[index] = std::make_unique<FdWatch>();
    }
    return *watches_[index];
  }

  void forget_all() noexcept {
    for (std::unique_ptr<FdWatch>& watch : watches_) {
      static_cast<void>(watch.release());  // its slots belong to the parent's loop
    }
    watches_.clear();
  }

 private:
  std::vector<std::unique_ptr<FdWatch>> watches_;
};

// This thread's table; null once it is destroyed.
WatchTable* table() {
  if (t_table == nullptr && !t_table_gone) [[unlikely]] {
    thread_local WatchTable owner;
    t_table = &owner;
  }
  return t_table;
}

// Lists `waiter` on its fd's watch and arms the slots it needs; 0, or the
// errno of a slot the loop refused (a wait of cosync's own API on the same
// fd holds it: EBUSY).
int attach(Loop& loop, FdWaiter& waiter) {
  WatchTable* watches = table();
  if (watches == nullptr) return ENOMEM;
  FdWatch* found = nullptr;
  try {
    found = &watches->get(waiter.fd);
  } catch (...) {
    return ENOMEM;
  }
  FdWatch& watch = *found;
  if (watch.loop != &loop) {
    if (!watch.idle()) return EBUSY;
    watch.loop = &loop;
  }
  watch.waiters.push_back(waiter);
  waiter.listed = true;
  for (const unsigned direction : {unsigned{io_readable}, unsigned{io_writable}}) {
    IoWait& io = watch.slot(direction);
    if ((waiter.events & direction) == 0 || io.armed) continue;
    io.fd = waiter.fd;
    io.events = direction;
    io.fn = &on_ready;
    io.data = &watch;
    try {
      loop.wait_io(io);
    } catch (const std::system_error& error) {
      return error.code().value();
    } catch (...) {
      return ENOMEM;
    }
  }
  return 0;
}

bool wanted(const FdWatch& watch, unsigned direction) {
  bool any = false;
  watch.waiters.for_each(
      [&any, direction](const FdWaiter& waiter) { any = any || (waiter.events & direction) != 0; });
  return any;
}

void detach(FdWaiter& waiter) noexcept {
  WatchTable* watches = t_table;
  FdWatch* watch = watches != nullptr ? watches->find(waiter.fd) : nullptr;
  if (watch == nullptr || !waiter.listed) return;
  watch->waiters.remove(waiter);
  waiter.listed = false;
  for (const unsigned direction : {unsigned{io_readable}, unsigned{io_writable}}) {
    IoWait& io = watch->slot(direction);
    if (io.armed && !wanted(*watch, direction)) watch->loop->cancel_io(io);
  }
}

// A coroutine suspended in a hooked call, for the counters; also when the
// suspension unwinds (a destroyed coroutine).
class Suspension {
 public:
  Suspension() noexcept {
    ++t_counters.suspensions;
    ++t_counters.waiting;
  }
  Suspension(const Suspension&) = delete;
  Suspension& operator=(const Suspension&) = delete;
  ~Suspension() { --t_counters.waiting; }
};

// An fd the loop cannot watch for this call (its slot is held by cosync's
// own API): the call polls it this often instead.
constexpr auto kRetryPause = std::chrono::milliseconds(1);

int end_of(impl::HookWaitEnd end) noexcept {
  switch (end) {
    case impl::hook_wait_fired:
      return 0;
    case impl::hook_wait_timed_out:
      return ETIMEDOUT;
    case impl::hook_wait_cancelled:
      break;
  }
  return ECANCELED;
}

bool any_closed(const FdInterest* fds, std::size_t count) noexcept {
  return std::any_of(fds, fds + count, [](const FdInterest& interest) {
    const FdRecord* record = fd_record(interest.fd);
    return record != nullptr && record->current_generation() != interest.generation;
  });
}

constexpr std::size_t kInlineWaiters = 8;

}  // namespace

const impl::HookBridge* bridge() noexcept { return g_bridge.load(std::memory_order_acquire); }

bool find_bridge() noexcept {
  using Lookup = const impl::HookBridge* (*)() noexcept;
  auto lookup = reinterpret_cast<Lookup>(dlsym(RTLD_DEFAULT, "cosync_hook_bridge"));
  if (lookup == nullptr) {
    return false;
  }
  const impl::HookBridge* found = lookup();
  if (found->version != impl::kHookBridgeVersion || found->size != sizeof(impl::HookBridge)) {
    std::fprintf(stderr,
                 "cosync-hook: the program's cosync is another version than libcosync-hook's; "
                 "the hooks pass every call straight through\n");
    return false;
  }
  g_bridge.store(found, std::memory_order_release);
  return true;
}

Loop* cooperative_loop() noexcept {
  const impl::HookBridge* found = g_bridge.load(std::memory_order_acquire);
  if (found == nullptr || t_signal_depth != 0) {
    return nullptr;
  }
  Loop* loop = found->cooperative_loop();
  if (loop == nullptr || loop == g_inherited_loop.load(std::memory_order_relaxed)) [[unlikely]] {
    return nullptr;
  }
  ++t_counters.calls;
  return loop;
}

void enter_signal_handler() noexcept { ++t_signal_depth; }
void leave_signal_handler() noexcept { --t_signal_depth; }

void disown_inherited_loops() noexcept {
  if (const impl::HookBridge* found = g_bridge.load(std::memory_order_acquire)) {
    g_inherited_loop.store(found->thread_loop(), std::memory_order_relaxed);
  }
  if (t_table != nullptr) {
    t_table->forget_all();
  }
}

void read_stats(cosync_hook_stats* out) noexcept {
  out->calls = t_counters.calls;
  out->suspensions = t_counters.suspensions;
  out->waiting = t_counters.waiting;
  out->would_block = t_counters.would_block;
}

void count_would_block() noexcept { ++t_counters.would_block; }

int wait_fds(Loop& loop, const FdInterest* fds, std::size_t count, Deadline deadline) {
  std::array<FdWaiter, kInlineWaiters> inline_waiters{};
  std::vector<FdWaiter> more;
  FdWaiter* waiters = inline_waiters.data();
  if (count > kInlineWaiters) {
    more.resize(count);
    waiters = more.data();
  }
  impl::HookWait wait;
  const support::ScopeExit detach_all([waiters, count]() noexcept {
    for (std::size_t i = 0; i < count; ++i) detach(waiters[i]);
  });
  bool polling = false;
  for (std::size_t i = 0; i < count; ++i) {
    waiters[i].fd = fds[i].fd;
    waiters[i].events = fds[i].events;
    waiters[i].wait = &wait;
    polling = attach(loop, waiters[i]) != 0 || polling;
  }
  const Deadline until = polling ? std::min(deadline, Clock::now() + kRetryPause) : deadline;
  int end = 0;
  {
    const Suspension counted;
    end = end_of(g_bridge.load(std::memory_order_relaxed)->suspend(wait, until));
  }
  if (end == ETIMEDOUT && until != deadline) {
    end = 0;
  }
  return end == 0 && any_closed(fds, count) ? EBADF : end;
}

int sleep_until(Deadline deadline) {
  impl::HookWait wait;
  const Suspension counted;
  const int end = end_of(g_bridge.load(std::memory_order_relaxed)->suspend(wait, deadline));
  return end == ETIMEDOUT ? 0 : end;
}

int wait_blocking(int fd, unsigned events, Deadline deadline) noexcept {
  pollfd query{};
  query.fd = fd;
  query.events = static_cast<short>(((events & io_readable) != 0 ? POLLIN : 0) |
                                    ((events & io_writable) != 0 ? POLLOUT : 0));
  for (;;) {
    const int timeout_ms = deadline == no_deadline
                               ? -1
                               : static_cast<int>(support::poll_timeout<std::chrono::milliseconds>(
                                     deadline - Clock::now()));
    const int found = real::poll(&query, 1, timeout_ms);
    if (found > 0) return 0;
    if (found == 0) return ETIMEDOUT;
    if (errno != EINTR) return errno;
  }
}

void before_close(int fd) noexcept {
  const impl::HookBridge* found = g_bridge.load(std::memory_order_acquire);
  if (found == nullptr || t_signal_depth != 0) {
    return;
  }
  Loop* loop = found->thread_loop();
  if (loop == nullptr || loop == g_inherited_loop.load(std::memory_order_relaxed)) {
    return;
  }
  WatchTable* watches = t_table;
  if (FdWatch* watch = watches != nullptr ? watches->find(fd) : nullptr;
      watch != nullptr && watch->loop == loop) {
    watch->waiters.for_each([](FdWaiter& waiter) { fire(waiter, kClosed); });
    loop->cancel_io(watch->reader);
    loop->cancel_io(watch->writer);
  }
  loop->forget_fd(fd);
}

}  // namespace cosync::hook
