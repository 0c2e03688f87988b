// The io_uring loop's receive side: one multishot recv per socket over a
// provided buffer ring the loop owns. The kernel writes received bytes only
// into the ring's buffers; completions queue them on the socket's stream,
// and a read copies them into the caller's buffer and gives each emptied
// buffer back to the ring. So a read that times out, is cancelled or
// unwinds leaves nothing for the kernel to write into, the bytes that
// arrive later wait for the next read, and an idle socket pins no buffer.
//
// The multishot stays armed while the socket lives and its reads end with
// data. When it ends (the ring ran out of buffers, -ENOBUFS, or the kernel
// stopped it) the next read arms it again, or, when every buffer is queued
// on some socket, receives once straight into the caller's buffer. A read
// that times out or is cancelled disarms it (what it queued stays queued):
// bytes that come later wait in the socket, as they would on epoll.
#pragma once

#include <liburing.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "loop/ring_ops.hpp"

namespace cosync::loop {

class ReceiveStreams {
 public:
  static constexpr unsigned kBufferCount = 128;  // a power of two, as the kernel requires
  static constexpr std::size_t kBufferSize = 4096;
  // Buffers lie this far apart: one cache line more than their size, so
  // that their first lines (all a short message touches) fall in different
  // L1 sets instead of all in one, as a page stride would put them.
  static constexpr std::size_t kBufferStride = kBufferSize + 64;
  static constexpr std::uint16_t kGroup = 0;
  // A stream multishot's user_data ends in these two bits.
  static constexpr std::uint64_t kTagBits = 3;

  ReceiveStreams() = default;
  ReceiveStreams(const ReceiveStreams&) = delete;
  ReceiveStreams& operator=(const ReceiveStreams&) = delete;
  ReceiveStreams(ReceiveStreams&&) = delete;
  ReceiveStreams& operator=(ReceiveStreams&&) = delete;
  ~ReceiveStreams();

  // Maps and registers the buffer ring; returns 0 or the kernel's -errno.
  int set_up(io_uring& ring);
  // Unregisters the ring (not when `ring` is null: a forked child) and
  // unmaps it.
  void tear_down(io_uring* ring) noexcept;

  // See RingOps::take_received. `arm(user_data)` submits a multishot recv
  // on `fd` and returns whether it could.
  template <typename Arm>
  long take(int fd, void* buffer, std::size_t size, Arm&& arm);
  // Parks `op` (Kind::recv_wait) until the stream of op.fd changes.
  void park(RingOp& op);
  // Unparks `op`; returns whether it was parked.
  bool unpark(RingOp& op) noexcept;
  // Whether `fd` has a multishot armed; if so, `data` is its user_data.
  bool armed(int fd, std::uint64_t& data) noexcept;
  // A multishot recv's completion; returns the waiter to wake, or null.
  RingOp* complete(std::uint64_t data, int result, unsigned flags) noexcept;
  // The socket on `fd` closes: its queued buffers go back to the ring, its
  // parked read is handed back in `woken` (to end with -ECANCELED), later
  // completions of its multishot only give their buffers back. Returns
  // whether a multishot was armed (to cancel).
  bool forget(int fd, RingOp*& woken) noexcept;

 private:
  struct Stream {
    std::int32_t head = -1;  // queued buffer ids, oldest first
    std::int32_t tail = -1;
    std::uint32_t offset = 0;  // bytes of head already taken
    std::uint32_t generation = 0;
    int end = 1;  // 1: none; 0: end of stream; < 0: -errno, after the queued bytes
    bool armed = false;
    RingOp* waiter = nullptr;
  };

  Stream* find(int fd) noexcept;
  Stream& at(int fd);
  static std::uint64_t data_of(int fd, const Stream& stream) noexcept;
  std::size_t copy_out(Stream& stream, char* buffer, std::size_t size) noexcept;
  void queue(Stream& stream, unsigned id, int length) noexcept;
  void recycle(unsigned id) noexcept;
  static std::size_t ring_bytes() noexcept;
  char* buffer_at(unsigned id) const noexcept { return storage_ + id * kBufferStride; }

  std::vector<Stream> streams_;  // by fd
  io_uring_buf_ring* entries_ = nullptr;
  char* storage_ = nullptr;
  std::int32_t next_[kBufferCount]{};     // queue links
  std::uint32_t length_[kBufferCount]{};  // bytes received into each buffer
  unsigned queued_ = 0;                   // buffers on some stream's queue
};

template <typename Arm>
long ReceiveStreams::take(int fd, void* buffer, std::size_t size, Arm&& arm) {
  Stream& stream = at(fd);
  if (stream.head >= 0) {
    return static_cast<long>(copy_out(stream, static_cast<char*>(buffer), size));
  }
  if (stream.end != 1) {
    const int end = stream.end;
    if (end < 0) {
      stream.end = 1;  // an error is reported once, as recv would
    }
    return end;
  }
  if (stream.armed) {
    return -EAGAIN;
  }
  if (entries_ == nullptr || queued_ == kBufferCount || !arm(data_of(fd, stream))) {
    return -ENOBUFS;
  }
  stream.armed = true;
  return -EAGAIN;
}

}  // namespace cosync::loop
