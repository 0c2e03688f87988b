// What libcosync-hook knows of each fd, process-wide, indexed by number:
// its kind (learned lazily), the non-blocking flag the user asked for kept
// apart from the one the hooks forced, the same for TCP_INQ (which the
// hooks turn on so that a receive reports whether it drained the socket),
// the SO_RCVTIMEO/SO_SNDTIMEO timeouts, and a generation that every close (and every reuse of the
// number) advances, so that a wait that began on the fd's earlier life
// notices. Every field is atomic: any thread, a signal handler included,
// may read or reset a record.
#pragma once

#include <atomic>
#include <cstdint>

namespace cosync::hook {

// The kinds of fd the hooks treat differently.
enum class FdKind : std::uint8_t {
  unknown = 0,   // not looked at yet
  stream = 1,    // a stream socket (TCP, Unix stream, SCTP stream...)
  datagram = 2,  // any other socket (datagram, seqpacket, raw)
  pipe = 3,      // a pipe or FIFO
  other = 4      // regular files, devices, eventfd...: passed straight through
};

// Bits of FdRecord::flags.
enum FdFlag : std::uint8_t {
  fd_user_nonblocking = 1,  // the user's view: O_NONBLOCK (F_GETFL shows it)
  fd_forced = 2,            // the hooks set O_NONBLOCK behind the user's back
  fd_flags_known = 4,       // fd_user_nonblocking was read or set
  fd_inq = 8,               // TCP_INQ is on: every receive reports the bytes left
  fd_inq_forced = 16,       // the hooks turned TCP_INQ on (the user's view: off)
  fd_inq_known = 32         // fd_inq was looked at (a socket that is not TCP: off)
};

// One fd's record; all zero means "nothing known".
struct FdRecord {
  std::atomic<std::uint8_t> kind{0};
  std::atomic<std::uint8_t> flags{0};
  std::atomic<std::uint32_t> generation{0};
  std::atomic<std::int64_t> receive_timeout_ns{0};  // 0: none (SO_RCVTIMEO)
  std::atomic<std::int64_t> send_timeout_ns{0};     // 0: none (SO_SNDTIMEO)

  FdKind fd_kind() const noexcept {
    return static_cast<FdKind>(kind.load(std::memory_order_relaxed));
  }
  bool has(FdFlag flag) const noexcept {
    return (flags.load(std::memory_order_relaxed) & flag) != 0;
  }
  void set(FdFlag flag, bool on) noexcept {
    if (on) {
      flags.fetch_or(flag, std::memory_order_relaxed);
    } else {
      flags.fetch_and(static_cast<std::uint8_t>(~flag), std::memory_order_relaxed);
    }
  }
  std::uint32_t current_generation() const noexcept {
    return generation.load(std::memory_order_acquire);
  }
};

// The record of `fd`, or null for a negative fd or one beyond the table
// (2^20 fds); async-signal-safe (it maps memory with mmap on first use).
FdRecord* fd_record(int fd) noexcept;

// A new fd of `kind` (socket, accept, pipe, dup...): whatever the number
// held before is forgotten.
void fd_created(int fd, FdKind kind, bool user_nonblocking) noexcept;
// The fd is being closed: its record goes back to "nothing known" and its
// generation advances.
void fd_closed(int fd) noexcept;
// `target` is a duplicate of `fd` (dup, dup2, dup3, F_DUPFD): same open file
// description, so same kind, flags and timeouts.
void fd_duplicated(int fd, int target) noexcept;
// Fills in the kind (fstat, SO_TYPE) and the user's non-blocking flag
// (F_GETFL) of a record that has not been looked at.
void fd_learn(int fd, FdRecord& record) noexcept;

// A stream socket's TCP_INQ, looked at once: on if the user turned it on,
// else turned on by the hooks (fd_inq_forced) where the socket is TCP.
void fd_learn_inq(int fd, FdRecord& record) noexcept;
// Before a call that would show a TCP_INQ the hooks forced (recvmsg's
// control messages): TCP_INQ goes back off, as the user left it.
void fd_unforce_inq(int fd, FdRecord& record) noexcept;
// The user set TCP_INQ to `on` with setsockopt: that is their view now.
void fd_user_sets_inq(FdRecord& record, bool on) noexcept;

// The socket types fd_created takes from socket(2)'s type argument.
FdKind socket_kind(int type) noexcept;

}  // namespace cosync::hook
