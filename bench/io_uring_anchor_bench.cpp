// The raw io_uring anchor: BM_PingPong (see ping_pong.hpp) as callbacks on
// completions, written the fastest way this kernel and Debian's liburing 2.3
// allow, so that cosync's io_uring loop can be measured against the limit.
//
//   BM_PingPong/io_uring_raw         every feature below
//   BM_PingPongIoUring/without_<f>   the same with feature <f> turned off,
//                                    to show what each one pays
//   BM_PingPongIoUring/none          all of them off: recv + send on a
//                                    default ring
//
// The features: SINGLE_ISSUER | DEFER_TASKRUN (completions are posted only
// when the thread enters the kernel to wait for them); both fds registered
// with the ring and the ring's own fd registered (no fd table look-ups per
// operation); one multishot recv per side over a provided buffer ring (no
// recv to submit per message); sends with CQE_SKIP_SUCCESS (no completion
// for a send that went through). One io_uring_enter per loop pass submits
// what the last pass queued and waits for the next completion, so a round
// trip costs two system calls.
#include <benchmark/benchmark.h>
#include <liburing.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "io_uring_buffers.hpp"
#include "ping_pong.hpp"

namespace {

using cosync_bench::check;
using cosync_bench::counting_syscalls;
using cosync_bench::fail;
using cosync_bench::kMessage;
using cosync_bench::kMessageSize;
using cosync_bench::kReadBuffer;
using cosync_bench::ProvidedBuffers;
using cosync_bench::SocketPair;

constexpr unsigned kRingEntries = 64;
constexpr unsigned kProvidedBuffers = 8;  // a power of two, as the kernel requires
constexpr std::uint16_t kBufferGroup = 0;

struct Features {
  bool defer_taskrun = true;     // SINGLE_ISSUER | DEFER_TASKRUN
  bool registered_files = true;  // fixed files: IOSQE_FIXED_FILE
  bool registered_ring = true;   // io_uring_enter through the registered ring fd
  bool multishot_recv = true;    // multishot recv over a provided buffer ring
  bool skip_success = true;      // sends with IOSQE_CQE_SKIP_SUCCESS
};

// An io_uring instance with the features' setup flags and registrations.
class Ring {
 public:
  Ring(const Features& features, const std::array<int, 2>& fds) {
    io_uring_params params{};
    if (features.defer_taskrun) {
      params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    }
    check(io_uring_queue_init_params(kRingEntries, &ring_, &params), "io_uring_queue_init_params");
    if (features.registered_files) {
      check(io_uring_register_files(&ring_, fds.data(), fds.size()), "io_uring_register_files");
    }
    if (features.registered_ring) {
      // Answers how many fds it registered (1), not 0.
      check(io_uring_register_ring_fd(&ring_), "io_uring_register_ring_fd");
    }
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() { io_uring_queue_exit(&ring_); }  // cancels the recvs still armed

  io_uring* get() noexcept { return &ring_; }

  // The next free submission entry; the ring is deep enough that one loop
  // pass never fills it.
  io_uring_sqe* next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) fail("io_uring_get_sqe: the submission queue is full");
    return sqe;
  }

 private:
  io_uring ring_{};
};

// A completion's user_data: which side's recv, or a send.
enum Tag : std::uint64_t { ping_side = 0, pong_side = 1, send_op = 2 };

// One end of the socketpair: what it has received of the current message,
// and where a single-shot recv reads to.
struct Side {
  int fd = -1;  // with registered files, sqe_fd gives its index instead
  std::size_t received = 0;
  std::array<char, kMessageSize> message{};
  std::array<char, kReadBuffer> buffer{};
};

class UringPingPong {
 public:
  UringPingPong(benchmark::State& state, const SocketPair& pair, const Features& features)
      : state_(state),
        features_(features),
        ring_(features, {pair.ping(), pair.pong()}),
        sides_{Side{pair.ping()}, Side{pair.pong()}} {
    if (features.multishot_recv) {
      buffers_.emplace(ring_.get(), kProvidedBuffers, kReadBuffer, kBufferGroup);
    }
  }

  void run() {
    arm_recv(ping_side);
    arm_recv(pong_side);
    if (!state_.KeepRunning()) return;
    send(ping_side, kMessage.data());
    while (!done_) {
      check(io_uring_submit_and_wait(ring_.get(), 1), "io_uring_submit_and_wait");
      drain_completions();
    }
  }

 private:
  unsigned sqe_file_flags() const noexcept {
    return features_.registered_files ? IOSQE_FIXED_FILE : 0U;
  }
  int sqe_fd(Tag side) const noexcept {
    return features_.registered_files ? static_cast<int>(side) : sides_[side].fd;
  }

  void arm_recv(Tag side) {
    io_uring_sqe* sqe = ring_.next_sqe();
    if (features_.multishot_recv) {
      io_uring_prep_recv_multishot(sqe, sqe_fd(side), nullptr, 0, 0);
      sqe->flags = static_cast<std::uint8_t>(sqe_file_flags() | IOSQE_BUFFER_SELECT);
      sqe->buf_group = kBufferGroup;
    } else {
      io_uring_prep_recv(sqe, sqe_fd(side), sides_[side].buffer.data(), kReadBuffer, 0);
      sqe->flags = static_cast<std::uint8_t>(sqe_file_flags());
    }
    io_uring_sqe_set_data64(sqe, side);
  }

  void send(Tag side, const char* message) {
    io_uring_sqe* sqe = ring_.next_sqe();
    io_uring_prep_send(sqe, sqe_fd(side), message, kMessageSize, MSG_NOSIGNAL);
    const unsigned skip = features_.skip_success ? IOSQE_CQE_SKIP_SUCCESS : 0U;
    sqe->flags = static_cast<std::uint8_t>(sqe_file_flags() | skip);
    io_uring_sqe_set_data64(sqe, send_op);
  }

  void drain_completions() {
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
      on_completion(*cqe);
      ++seen;
    }
    io_uring_cq_advance(ring_.get(), seen);
  }

  void on_completion(const io_uring_cqe& cqe) {
    const auto tag = static_cast<Tag>(cqe.user_data);
    if (tag == send_op) {
      if (cqe.res != static_cast<int>(kMessageSize)) check(cqe.res < 0 ? cqe.res : -EIO, "send");
      return;
    }
    const bool rearm = !features_.multishot_recv || (cqe.flags & IORING_CQE_F_MORE) == 0;
    if (cqe.res == -ENOBUFS && features_.multishot_recv) {
      arm_recv(tag);  // every buffer was taken; they are back by now
      return;
    }
    if (cqe.res <= 0) check(cqe.res < 0 ? cqe.res : -ECONNRESET, "recv");
    on_recv(tag, cqe);
    if (rearm && !done_) arm_recv(tag);
  }

  void on_recv(Tag side, const io_uring_cqe& cqe) {
    const auto length = static_cast<std::size_t>(cqe.res);
    if (!features_.multishot_recv) {
      on_received(side, sides_[side].buffer.data(), length);
      return;
    }
    if ((cqe.flags & IORING_CQE_F_BUFFER) == 0) fail("recv: no buffer selected");
    const auto id = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    on_received(side, buffers_->data(id), length);
    buffers_->recycle(id);
  }

  // The pong side echoes each whole message; the ping side counts a round
  // trip and sends the next one.
  void on_received(Tag tag, const char* data, std::size_t length) {
    Side& side = sides_[tag];
    if (side.received + length > kMessageSize) fail("recv: more than one message");
    std::memcpy(side.message.data() + side.received, data, length);
    side.received += length;
    if (side.received < kMessageSize) return;
    side.received = 0;
    if (tag == pong_side) {
      send(pong_side, side.message.data());
    } else if (state_.KeepRunning()) {
      send(ping_side, kMessage.data());
    } else {
      done_ = true;
    }
  }

  benchmark::State& state_;
  Features features_;
  Ring ring_;
  std::array<Side, 2> sides_;
  std::optional<ProvidedBuffers> buffers_;
  bool done_ = false;
};

void ping_pong_io_uring(benchmark::State& state, const Features& features) {
  const SocketPair pair;  // outlives the ring, whose recvs it cancels first
  UringPingPong(state, pair, features).run();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_PingPong_io_uring_raw(benchmark::State& state) { ping_pong_io_uring(state, Features{}); }

template <bool Features::*Feature>
void BM_PingPong_io_uring_without(benchmark::State& state) {
  Features features;
  features.*Feature = false;
  cosync_bench::count_syscalls_per_iteration(
      state, "round_trip", [&features](benchmark::State& s) { ping_pong_io_uring(s, features); });
}

void BM_PingPong_io_uring_none(benchmark::State& state) {
  cosync_bench::count_syscalls_per_iteration(state, "round_trip", [](benchmark::State& s) {
    ping_pong_io_uring(s, Features{false, false, false, false, false});
  });
}

}  // namespace

BENCHMARK(counting_syscalls<BM_PingPong_io_uring_raw>)->Name("BM_PingPong/io_uring_raw");
BENCHMARK(BM_PingPong_io_uring_without<&Features::defer_taskrun>)
    ->Name("BM_PingPongIoUring/without_defer_taskrun");
BENCHMARK(BM_PingPong_io_uring_without<&Features::registered_files>)
    ->Name("BM_PingPongIoUring/without_registered_files");
BENCHMARK(BM_PingPong_io_uring_without<&Features::registered_ring>)
    ->Name("BM_PingPongIoUring/without_registered_ring");
BENCHMARK(BM_PingPong_io_uring_without<&Features::multishot_recv>)
    ->Name("BM_PingPongIoUring/without_multishot_recv");
BENCHMARK(BM_PingPong_io_uring_without<&Features::skip_success>)
    ->Name("BM_PingPongIoUring/without_skip_success");
BENCHMARK(BM_PingPong_io_uring_none)->Name("BM_PingPongIoUring/none");
