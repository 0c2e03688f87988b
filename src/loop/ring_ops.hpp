// How the io layer hands socket and file operations to a loop that runs
// them itself (the io_uring loop), instead of waiting for readiness and
// making the system call: ring_ops_of(loop) is that loop's RingOps, or null
// on every other loop. Transfers read it from t_ring (one load, no RTTI).
//
// Ownership: the submitter keeps the RingOp, and every buffer and address
// it names, alive and unmoved until `done` is set. RingOps::cancel makes
// that happen at once (it returns only after the operation's final
// completion was taken), so a coroutine that is cancelled, times out or is
// destroyed cancels its operation before its stack unwinds.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cosync {
class Loop;
}

namespace cosync::loop {

struct RingOp {
  // recv_wait: no system call; ends (result 0) when the multishot receive of
  // fd completes (see RingOps::take_received), with -ECANCELED if fd closes.
  enum class Kind : std::uint8_t {
    recv,
    send,
    accept,
    connect,
    read,
    write,
    fsync,
    openat,
    recv_wait
  };
  Kind kind = Kind::recv;
  int fd = -1;
  void* buffer = nullptr;                 // recv, read: filled; send, write: sent
  std::size_t size = 0;                   // bytes at buffer
  std::uint64_t offset = 0;               // read, write: the file offset
  void* address = nullptr;                // accept: filled (sockaddr); connect: the peer
  std::uint32_t* address_size = nullptr;  // accept: in/out (socklen_t)
  std::uint32_t connect_size = 0;         // connect: the size of *address
  int flags = 0;                          // recv/send flags; accept4 flags
  // Called on the loop's thread when the operation completed (never from
  // submit or cancel); `done` and `result` are set before.
  void (*fn)(RingOp* self) = nullptr;
  void* data = nullptr;  // the submitter's, for fn
  int result = 0;        // the completion's: a count, an fd, or -errno
  bool done = false;     // the final completion was taken: nothing touches the buffers any more
};

class RingOps {
 public:
  // Queues `op` for the loop's next pass (op.done false until it completes).
  virtual void submit(RingOp& op) = 0;
  // Cancels `op` if it is still in flight and returns once its final
  // completion was taken (op.done is then true; op.result tells whether it
  // completed first or was cancelled, -ECANCELED). fn is not called.
  virtual void cancel(RingOp& op) noexcept = 0;
  // Copies up to `size` bytes the loop already received on socket `fd`
  // into `buffer`: returns the count (> 0), 0 at the end of the stream, a
  // -errno the socket reported, -EAGAIN when nothing is there yet (a
  // multishot receive is armed: wait with a Kind::recv_wait op, then take
  // again), or -ENOBUFS when the loop cannot receive for the socket now
  // (receive with a Kind::recv op into the caller's buffer instead).
  virtual long take_received(int fd, void* buffer, std::size_t size) = 0;

 protected:
  RingOps() = default;
  ~RingOps() = default;
  RingOps(const RingOps&) = default;
  RingOps& operator=(const RingOps&) = default;
  RingOps(RingOps&&) = default;
  RingOps& operator=(RingOps&&) = default;
};

// The RingOps of this thread's loop (impl::t_loop), or null: kept beside
// it by everything that sets it, so that a transfer's check costs one
// initial-exec TLS load.
extern constinit thread_local RingOps* t_ring __attribute__((tls_model("initial-exec")));

// The RingOps `loop` implements, or null: a loop that runs operations
// derives from RingOps (a cross-cast, paid when a loop is installed).
RingOps* ring_ops_of(Loop& loop) noexcept;

}  // namespace cosync::loop
