// The io_uring loop, a dispatch policy on the loop core: every fd wait is a
// one-shot POLL_ADD per direction, kept in flight while no wait needs it
// (a cancelled wait leaves its poll: the next wait in that direction finds
// it, and its completion only refreshes the readiness cache), and cancelled
// by forget_fd. Each pass makes one io_uring_enter: it submits what the
// pass queued and waits for completions, with the timer heap's next
// deadline as its timeout. The wake-up eventfd and the signalfd are
// watched by multishot polls.
//
// Completions name their fd and the fd record's generation in user_data,
// so a completion that arrives after forget_fd (the cancelled poll's own,
// or one the kernel posted first) never reaches the waits of a reused fd
// number. The kernel keeps completions the CQ ring has no room for
// (IORING_FEAT_NODROP, which the probe requires); every pass takes them
// all, flushing the overflow with a further enter when the kernel says
// there is one.
//
// Sockets receive through one multishot recv each over the loop's provided
// buffer ring (receive_streams_linux.hpp).
//
// Socket and file operations (read, write, accept, connect...) are
// submitted through the RingOps interface (ring_ops.hpp) by the io layer.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>

#include "loop/io_uring_factory.hpp"
#include "loop/loop_core.hpp"
#include "loop/receive_streams_linux.hpp"
#include "loop/ring_ops.hpp"
#include "loop/signal_fd.hpp"
#include "loop/wake_fd.hpp"

namespace cosync::loop {

class IoUringLoop final : public LoopCore, public RingOps {
 public:
  // A ring with `entries` submission slots (the completion ring has twice
  // as many). Throws std::system_error naming what the kernel refused.
  explicit IoUringLoop(unsigned entries = kDefaultEntries);
  IoUringLoop(const IoUringLoop&) = delete;
  IoUringLoop& operator=(const IoUringLoop&) = delete;
  ~IoUringLoop() override;

  void wait_io(IoWait& wait) override;
  void watch_signal(SignalWait& wait) override;
  void run_once(Deadline until) override;
  void forget_fd(int fd) noexcept override;
  bool can_wake() const noexcept override { return anything_armed() || ops_in_flight_ != 0; }

  static constexpr unsigned kDefaultEntries = 1024;

 private:
  void start_fd(int fd, FdRecord& record) override;
  void stop_fd(int fd, FdRecord& record) noexcept override;
  void send_wake() noexcept override { wake_.send(); }

  // RingOps.
  void submit(RingOp& op) override;
  void cancel(RingOp& op) noexcept override;
  long take_received(int fd, void* buffer, std::size_t size) override;

  // A free submission slot, submitting the queued ones when the ring is
  // full; null in a forked child, which must leave the parent's ring alone.
  io_uring_sqe* next_sqe() noexcept;
  bool forked() const noexcept;
  void cancel_everything_on(int fd) noexcept;
  void arm_poll(int fd, FdRecord& record, unsigned direction);
  void arm_internal_poll(int fd, std::uint64_t tag);
  void run_events(Deadline until);
  void enter(Deadline until);
  void reap();
  void dispatch(std::uint64_t data, void* pointer, int result, unsigned flags);
  void dispatch_poll(std::uint64_t data, int result);
  void finish(RingOp& op, int result) noexcept;
  void stop_receiving(RingOp& op) noexcept;
  void cancel_at_once(std::uint64_t data) noexcept;
  void drain_wakeups(unsigned flags);
  void dispatch_signals(unsigned flags);

  WakeFd wake_;
  io_uring ring_{};
  unsigned fork_count_ = 0;  // the process's fork count when the ring was made
  SignalFd signals_;
  ReceiveStreams receive_;
  std::size_t ops_in_flight_ = 0;  // RingOps submitted and not completed
};

}  // namespace cosync::loop
