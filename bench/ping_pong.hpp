// What every BM_PingPong row shares: the socketpair, the message and what
// one round trip is. One iteration is one round trip: the ping side writes
// kMessage (8 bytes) and reads 8 back, the pong side echoes them, both ends
// served by the benchmark's one thread.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>

#include "fail.hpp"
#include "syscall_counter.hpp"

namespace cosync_bench {

inline constexpr std::size_t kMessageSize = 8;
// What a side offers the kernel to read into, whatever the message size.
inline constexpr std::size_t kReadBuffer = 4096;
inline constexpr std::array<char, kMessageSize> kMessage = {'p', 'i', 'n', 'g', 'p', 'o', 'n', 'g'};

// A connected, non-blocking AF_UNIX stream pair; closes both ends.
class SocketPair {
 public:
  SocketPair() {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds_.data()) != 0) {
      fail("socketpair");
    }
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
  ~SocketPair() {
    close(fds_[0]);
    close(fds_[1]);
  }
  int ping() const noexcept { return fds_[0]; }
  int pong() const noexcept { return fds_[1]; }

 private:
  std::array<int, 2> fds_{};
};

// A BM_PingPong row: `Run` counting its thread's system calls per round
// trip ("syscalls/round_trip").
template <void (*Run)(benchmark::State&)>
void counting_syscalls(benchmark::State& state) {
  count_syscalls_per_iteration(state, "round_trip", Run);
}

}  // namespace cosync_bench
