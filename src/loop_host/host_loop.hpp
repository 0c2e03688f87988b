// What the tevent, libuv and libevent adapters share: cosync's loop
// semantics (timer heap, immediate queue, fd table with the readiness cache,
// cross-thread posts, signal waiters, teardown) kept in one place, over a
// few hooks each host implements with its own primitives. The host loop
// belongs to the application, which keeps driving it; cosync only adds
// events to it.
//
// How cosync's nodes map onto a host:
//   - all cosync timers share one host timer, armed for the earliest;
//   - all immediates share one host "immediate" (tevent immediate, uv_idle,
//     an activated libevent event);
//   - each fd cosync waits on gets one host fd watch, created on the first
//     wait and kept until forget_fd;
//   - cross-thread posts share one host wake-up that any thread may fire.
//
// Every host callback of ours ends like an iteration of the built-in loop:
// the immediates queued so far run (the coroutines the callback woke resume
// from the top of the host's dispatch; a coroutine woken by the fd callback
// itself resumes right there, see fire_io), then the host's timer, immediate
// and fd watch are brought up to date. Immediates queued while those run
// wait for the host's next iteration.
#pragma once

#include <atomic>
#include <bitset>
#include <csignal>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "cosync/loop.hpp"
#include "loop/fd_table.hpp"
#include "loop/immediate_queue.hpp"
#include "loop/io_waiters.hpp"
#include "loop/timer_heap.hpp"

namespace cosync::host_loop {

class HostLoop : public Loop {
 public:
  ~HostLoop() override;

  bool run_pending_for_teardown() noexcept override;
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

 protected:
  // `host_name` names the host in error messages ("tevent", "libuv"...).
  explicit HostLoop(const char* host_name);

  // Cancels the spawned coroutines this loop resumes and lets them unwind,
  // detaches every node still armed, and gives the host back everything
  // cosync added to it. The derived destructor calls it first, while its
  // hooks still work.
  void shut_down() noexcept;

  // --- Hooks: each host implements them with its own primitives. ---

  // Have the host call on_host_immediate soon, without sleeping first (on),
  // or no longer (off).
  virtual void host_schedule_immediate(bool on) noexcept = 0;
  // Have the host call on_host_timer once, at `due`; re-arming replaces.
  virtual void host_arm_timer(Deadline due) noexcept = 0;
  virtual void host_disarm_timer() noexcept = 0;
  // Thread-safe: have the host call on_host_wake on its own thread. A host
  // that wakes through an fd drains it before calling on_host_wake, which
  // clears the flag that lets the next wake-up be sent.
  virtual void host_wake() noexcept = 0;
  // Creates the host's watch for `fd` (watching nothing yet); throws
  // std::system_error when the host refuses the fd.
  virtual void* host_add_fd(int fd) = 0;
  // Watches `fd` for exactly `events` (io_readable | io_writable; 0: none);
  // throws std::system_error when the host refuses a new direction.
  virtual void host_watch_fd(void* watch, unsigned events) = 0;
  virtual void host_remove_fd(void* watch) noexcept = 0;
  // Starts delivering `signo` through on_host_signal, until the loop goes
  // away; throws std::system_error when the host refuses.
  virtual void host_add_signal(int signo) = 0;
  // Whether anyone waits for `signo` now (libuv lets an unwaited watch
  // stop keeping the application's loop alive).
  virtual void host_signal_waited(int /*signo*/, bool /*waited*/) noexcept {}
  // True while the host runs one of its callbacks (ours or the
  // application's): the host must not be run from there.
  virtual bool host_in_callback() const noexcept = 0;
  // Runs one iteration of the host through its own one-iteration call.
  virtual void host_run_once() = 0;

  // --- Entry points for the host's callbacks. ---

  // `consumed`: the host's immediate fired once and is no longer scheduled
  // (false for a host whose immediate stays active until turned off).
  void on_host_immediate(bool consumed) noexcept;
  void on_host_timer() noexcept;
  void on_host_wake() noexcept;
  // `events`: the IoEvent bits the host reported; `error`: an errno value
  // when the host reported the watch failed (both directions end with it).
  void on_host_fd(int fd, unsigned events, int error) noexcept;
  void on_host_signal(int signo) noexcept;

  // The message of the UsageError thrown when a wait outside coroutines
  // would run the host from inside one of its callbacks.
  [[noreturn]] void refuse_nested_run() const;

  // How many of our host callbacks have run: a host whose one-iteration
  // call may block after running them checks it before it polls.
  std::size_t dispatches() const noexcept { return dispatches_; }

  // True while a cross-thread wake-up is on its way to on_host_wake.
  bool wake_in_flight() const noexcept { return wake_pending_.load(std::memory_order_acquire); }

 private:
  // What the loop knows about one fd, indexed by the fd number. An entry is
  // known (detail::Readiness::kKnown) once an operation reported on it
  // (io_not_ready) or a wait armed it; the host watch exists from the first
  // wait to forget_fd. 32 bytes, so indexing the table is a shift: it is on
  // every wait's path (and the Loop's readiness view relies on it); aligned
  // to it, so that no record straddles two cache lines.
  struct alignas(detail::Readiness::kStride) FdEntry : loop_detail::IoWaiters {
    std::uint8_t readiness = detail::Readiness::kUnknown;  // see Loop::io_ready
    std::uint8_t watching = 0;     // IoEvent bits last passed to host_watch_fd
    std::uint32_t generation = 0;  // counts forget_fd: tells a reused fd number
    void* watch = nullptr;         // the host's watch, owned through the hooks
  };
  static_assert(sizeof(FdEntry) == detail::Readiness::kStride);

  static bool known(const FdEntry& slot) noexcept {
    return detail::Readiness::known(slot.readiness);
  }
  FdEntry* entry(int fd) noexcept { return fds_.find(fd); }
  FdEntry& known_entry(int fd) {
    FdEntry* slot = fds_.find(fd);
    return slot != nullptr && known(*slot) ? *slot : add_entry(fd);
  }
  FdEntry& add_entry(int fd);
  // Out of line, so that wait_io's common path needs no frame.
  [[gnu::noinline]] void add_wait(IoWait& wait);
  void note_not_ready(int fd, IoEvent event) noexcept override;
  void ensure_watch(int fd, FdEntry& slot);
  void update_watch(int fd) noexcept;
  // Where a wait is ended from: the host's fd callback, on the main
  // context, or anywhere else (forget_fd, called by whoever closes the fd,
  // perhaps from a coroutine).
  enum class EndedFrom { dispatch, elsewhere };
  void fire_io(FdEntry& slot, IoWait* loop_detail::IoWaiters::*direction, int error,
               EndedFrom from) noexcept;
  void dispatch_fd(int fd, unsigned events, int error) noexcept;

  void finish_dispatch() noexcept;
  void sync_host_immediate() noexcept;
  void sync_host_timer() noexcept;
  void run_expired_timers() noexcept;
  void run_posts() noexcept;
  void run_immediates() noexcept;

  bool signal_waited(int signo) const noexcept;
  void deliver_signal(int signo) noexcept;
  static void deliver_pending_signals(Immediate* self) noexcept;

  void detach_all_nodes() noexcept;
  void release_host_resources() noexcept;

  const char* host_name_;

  loop_detail::TimerHeap timers_;
  bool host_timer_armed_ = false;
  Deadline host_timer_due_{};

  loop_detail::ImmediateQueue immediates_;
  Immediate end_marker_;  // queued behind the batch being run
  bool host_immediate_scheduled_ = false;

  loop_detail::FdTable<FdEntry> fds_{readiness_};

  std::mutex post_mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by post_mutex_
  std::atomic<bool> wake_pending_{false};      // one host wake per batch of posts

  std::vector<SignalWait*> signal_waits_;
  std::bitset<NSIG> host_signals_;     // signals the host delivers to us
  std::bitset<NSIG> pending_signals_;  // arrived while nobody waited
  Immediate signal_delivery_;          // hands pending signals to new waiters

  std::size_t dispatches_ = 0;
  bool shut_down_ = false;
};

}  // namespace cosync::host_loop
