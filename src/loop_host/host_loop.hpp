// What the tevent, libuv and libevent adapters share: the dispatch policy
// that hands the loop core's work (loop/loop_core.hpp) to a host loop, over
// a few hooks each host implements with its own primitives. The host loop
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
// itself resumes right there: loop::StepRun::in_place), then the host's
// timer, immediate and fd watch are brought up to date. Immediates queued
// while those run wait for the host's next iteration.
#pragma once

#include <bitset>
#include <csignal>
#include <cstdint>

#include "loop/loop_core.hpp"

namespace cosync::loop_host {

class HostLoop : public loop::LoopCore {
 public:
  HostLoop(const HostLoop&) = delete;
  HostLoop& operator=(const HostLoop&) = delete;
  ~HostLoop() override;

  void add_timer(Timer& timer) override;
  void cancel_timer(Timer& timer) noexcept override;
  void post_immediate(Immediate& immediate) noexcept override;
  void wait_io(IoWait& wait) override;
  void forget_fd(int fd) noexcept override;
  void watch_signal(SignalWait& wait) override;
  void cancel_signal(SignalWait& wait) noexcept override;
  void run_once(Deadline until) override;

 protected:
  // `host_name` names the host in error messages ("tevent", "libuv"...).
  explicit HostLoop(const char* host_name);

  // The core's teardown (the spawned coroutines unwind, every node still
  // armed is detached), then gives the host back everything cosync added
  // to it. The derived destructor calls it first, while its hooks still work.
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

 private:
  using FdRecord = loop::FdRecord;
  // FdRecord::handle is the host's watch, from the first wait to forget_fd;
  // FdRecord::watching the IoEvent bits last passed to host_watch_fd.
  void start_fd(int fd, FdRecord& record) override;
  void stop_fd(int fd, FdRecord& record) noexcept override;
  void send_wake() noexcept override { host_wake(); }
  // Out of line, so that wait_io's common path needs no frame.
  [[gnu::noinline]] void add_wait(IoWait& wait);
  void ensure_watch(int fd, FdRecord& record);
  void update_watch(int fd) noexcept;

  void finish_dispatch() noexcept;
  void sync_host_immediate() noexcept;
  void sync_host_timer() noexcept;
  void deliver_host_signal(int signo) noexcept;
  static void deliver_pending_signals(Immediate* self) noexcept;

  void release_host_resources() noexcept;

  const char* host_name_;

  bool host_timer_armed_ = false;
  Deadline host_timer_due_{};
  bool host_immediate_scheduled_ = false;

  std::bitset<NSIG> host_signals_;     // signals the host delivers to us
  std::bitset<NSIG> pending_signals_;  // arrived while nobody waited
  Immediate signal_delivery_;          // hands pending signals to new waiters

  std::size_t dispatches_ = 0;
};

}  // namespace cosync::loop_host
