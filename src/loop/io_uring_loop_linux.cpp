#include "loop/io_uring_loop_linux.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "loop/internal_fd.hpp"
#include "support/errors.hpp"
#include "support/timeout.hpp"

namespace cosync::loop {
namespace {

// user_data: an operation is a RingOp pointer (low bits 00); a poll is
// generation << 34 | fd << 2 | direction (01 reader, 10 writer); a
// socket's multishot recv is generation << 34 | fd << 2 | 11; the loop's
// own completions are the three tags below (fd bits no fd number has).
constexpr std::uint64_t kWakeTag = ~std::uint64_t{0};
constexpr std::uint64_t kSignalTag = ~std::uint64_t{0} - 4;
constexpr std::uint64_t kIgnoredTag = ~std::uint64_t{0} - 8;
constexpr std::uint64_t kKindMask = 3;
constexpr unsigned kFdShift = 2;
constexpr unsigned kGenerationShift = 34;
constexpr std::uint64_t kGenerationMask = (std::uint64_t{1} << 30) - 1;

constexpr unsigned kSetupFlags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
// The operations the loop submits; the probe requires each.
constexpr struct {
  io_uring_op op;
  const char* name;
} kNeededOps[] = {{IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
                  {IORING_OP_RECV, "RECV"},         {IORING_OP_SEND, "SEND"},
                  {IORING_OP_ACCEPT, "ACCEPT"},     {IORING_OP_CONNECT, "CONNECT"},
                  {IORING_OP_READ, "READ"},         {IORING_OP_WRITE, "WRITE"},
                  {IORING_OP_FSYNC, "FSYNC"},       {IORING_OP_OPENAT, "OPENAT"}};

// Counts forks, so that a loop notices it runs in a child (one load).
std::atomic<unsigned> g_fork_count{0};
void count_fork() noexcept { g_fork_count.fetch_add(1, std::memory_order_relaxed); }

std::string refused(const char* what, int error) {
  return std::string("io_uring: the kernel refused ") + what + ": " + std::strerror(error);
}

std::uint64_t poll_data(int fd, const FdRecord& record, unsigned direction) noexcept {
  return ((std::uint64_t{record.generation} & kGenerationMask) << kGenerationShift) |
         (static_cast<std::uint64_t>(static_cast<unsigned>(fd)) << kFdShift) | direction;
}

// Empty, or what the ring made by io_uring_queue_init_params lacks.
std::string check_ring(io_uring& ring, const io_uring_params& params) {
  if ((params.features & IORING_FEAT_NODROP) == 0) {
    return "io_uring: the kernel lacks IORING_FEAT_NODROP (completions could be lost)";
  }
  if ((params.features & IORING_FEAT_EXT_ARG) == 0) {
    return "io_uring: the kernel lacks IORING_FEAT_EXT_ARG (a timed wait in one enter)";
  }
  const std::unique_ptr<io_uring_probe, void (*)(io_uring_probe*)> probe(
      io_uring_get_probe_ring(&ring), io_uring_free_probe);
  if (!probe) {
    return "io_uring: the kernel refused IORING_REGISTER_PROBE";
  }
  for (const auto& needed : kNeededOps) {
    if (io_uring_opcode_supported(probe.get(), needed.op) == 0) {
      return std::string("io_uring: the kernel lacks the operation IORING_OP_") + needed.name;
    }
  }
  return {};
}

// Sets up `ring`; returns empty or what the kernel refused.
std::string set_up_ring(io_uring& ring, unsigned entries) {
  io_uring_params params{};
  params.flags = kSetupFlags;
  if (const int error = io_uring_queue_init_params(entries, &ring, &params); error < 0) {
    return refused("io_uring_setup with SINGLE_ISSUER | DEFER_TASKRUN", -error);
  }
  std::string problem = check_ring(ring, params);
  if (problem.empty() && io_uring_ring_dontfork(&ring) < 0) {
    problem = "io_uring: cannot keep the ring out of forked children (MADV_DONTFORK)";
  }
  if (!problem.empty()) {
    io_uring_queue_exit(&ring);
  }
  return problem;
}

std::string probe_kernel() {
  if (RUNNING_ON_VALGRIND) {
    return "io_uring: not under valgrind, which does not model the rings the kernel writes";
  }
  pthread_atfork(nullptr, nullptr, count_fork);
  io_uring ring{};
  std::string problem = set_up_ring(ring, 8);
  if (problem.empty()) {
    io_uring_queue_exit(&ring);
  }
  return problem;
}

[[noreturn, gnu::cold, gnu::noinline]] void refuse_wait_for_nothing(int fd) {
  throw std::invalid_argument("cosync: a wait on fd " + std::to_string(fd) +
                              " for no event could never end");
}

}  // namespace

const std::string& io_uring_refusal() {
  static const std::string problem = probe_kernel();
  return problem;
}

std::unique_ptr<Loop> new_io_uring_loop() { return std::make_unique<IoUringLoop>(); }

IoUringLoop::IoUringLoop(unsigned entries) {
  if (const std::string& problem = io_uring_refusal(); !problem.empty()) {
    throw std::system_error(std::make_error_code(std::errc::function_not_supported),
                            "cosync: " + problem);
  }
  if (std::string problem = set_up_ring(ring_, entries); !problem.empty()) {
    throw std::system_error(std::make_error_code(std::errc::function_not_supported),
                            "cosync: " + problem);
  }
  fork_count_ = g_fork_count.load(std::memory_order_relaxed);
  // The ring's fd joins the loop's others above the program's numbers.
  ring_.ring_fd = ring_.enter_ring_fd = move_above_user_fds(ring_.ring_fd);
  io_uring_register_ring_fd(&ring_);  // an optimisation: fails harmlessly
  arm_internal_poll(wake_.fd(), kWakeTag);
  receive_.set_up(ring_);  // without it, every read is a one-shot recv
  stats_.backend = "io_uring";
}

IoUringLoop::~IoUringLoop() {
  tear_down();
  if (forked()) {
    close(ring_.ring_fd);  // the child has no mapping of it (MADV_DONTFORK)
    receive_.tear_down(nullptr);
    return;
  }
  receive_.tear_down(&ring_);
  io_uring_queue_exit(&ring_);
}

bool IoUringLoop::forked() const noexcept {
  return g_fork_count.load(std::memory_order_relaxed) != fork_count_;
}

io_uring_sqe* IoUringLoop::next_sqe() noexcept {
  if (forked()) [[unlikely]] {
    return nullptr;
  }
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) [[unlikely]] {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void IoUringLoop::arm_internal_poll(int fd, std::uint64_t tag) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) {
    return;
  }
  io_uring_prep_poll_multishot(sqe, fd, POLLIN);
  io_uring_sqe_set_data64(sqe, tag);
}

// Fails as epoll_ctl would for a closed fd, at the first wait.
void IoUringLoop::start_fd(int fd, FdRecord& /*record*/) {
  if (fcntl(fd, F_GETFD) < 0) {
    support::throw_errno(errno, "cannot wait on fd " + std::to_string(fd));
  }
}

// The polls of `fd` end with ECANCELED, which dispatch ignores (the core
// counts the generation on); ops on it too, which their submitters see.
// Submitted at once: the fd is closed next, and a queued operation on its
// number must reach the kernel (and be cancelled) while it still names
// this file.
void IoUringLoop::stop_fd(int fd, FdRecord& record) noexcept {
  cancel_everything_on(fd);
  record.watching = 0;
}

void IoUringLoop::cancel_everything_on(int fd) noexcept {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) {
    return;
  }
  io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, kIgnoredTag);
  io_uring_submit(&ring_);
}

// An fd the loop keeps no record of (no wait was armed on it) may still
// have operations in flight: they end with ECANCELED before it closes.
// Its multishot recv is cancelled too, and a read parked on it ends.
void IoUringLoop::forget_fd(int fd) noexcept {
  RingOp* parked = nullptr;
  const bool receiving = receive_.forget(fd, parked);
  const FdRecord* found = record(fd);
  if (found != nullptr && known(*found)) {
    LoopCore::forget_fd(fd);
  } else if (ops_in_flight_ != 0 || receiving) {
    cancel_everything_on(fd);
  }
  if (parked != nullptr) {
    finish(*parked, -ECANCELED);
  }
}

void IoUringLoop::arm_poll(int fd, FdRecord& record, unsigned direction) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) {
    return;
  }
  const unsigned mask = direction == io_readable ? POLLIN | POLLRDHUP : POLLOUT;
  io_uring_prep_poll_add(sqe, fd, mask);
  io_uring_sqe_set_data64(sqe, poll_data(fd, record, direction));
  record.watching |= static_cast<std::uint8_t>(direction);
}

void IoUringLoop::wait_io(IoWait& wait) {
  if ((wait.events & (io_readable | io_writable)) == 0) [[unlikely]] {
    refuse_wait_for_nothing(wait.fd);
  }
  FdRecord& record = known_record(wait.fd);
  record.check_free(wait);
  const unsigned missing = wait.events & ~static_cast<unsigned>(record.watching);
  if ((missing & io_readable) != 0) {
    arm_poll(wait.fd, record, io_readable);
  }
  if ((missing & io_writable) != 0) {
    arm_poll(wait.fd, record, io_writable);
  }
  hold(record, wait);
}

void IoUringLoop::watch_signal(SignalWait& wait) {
  if (wait.armed) {
    return;
  }
  if (signals_.add(wait.signo)) {
    arm_internal_poll(signals_.fd(), kSignalTag);
  }
  add_signal_waiter(wait);
}

// A multishot poll that ends (no IORING_CQE_F_MORE) is armed again.
void IoUringLoop::dispatch_signals(unsigned flags) {
  signals_.drain([this](int signo) { deliver_signal(signo); });
  if ((flags & IORING_CQE_F_MORE) == 0) {
    arm_internal_poll(signals_.fd(), kSignalTag);
  }
}

void IoUringLoop::drain_wakeups(unsigned flags) {
  wake_.drain();
  take_wake();
  if ((flags & IORING_CQE_F_MORE) == 0) {
    arm_internal_poll(wake_.fd(), kWakeTag);
  }
}

void IoUringLoop::submit(RingOp& op) {
  if (op.kind == RingOp::Kind::recv_wait) {
    receive_.park(op);
    op.done = false;
    op.result = 0;
    ++ops_in_flight_;
    return;
  }
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) {
    throw UsageError(
        "cosync: an io_uring loop inherited through fork() belongs to the parent process; "
        "make a new loop in the child");
  }
  switch (op.kind) {
    case RingOp::Kind::recv:
      io_uring_prep_recv(sqe, op.fd, op.buffer, op.size, op.flags);
      // A coroutine reads when it expects an answer, which has mostly not
      // come yet: arming the poll first saves the kernel a recv that fails
      // (ping-pong: 12% less CPU per round trip), and a poll armed on a
      // socket that has data fires at once.
      sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
      break;
    case RingOp::Kind::send:
      io_uring_prep_send(sqe, op.fd, op.buffer, op.size, op.flags);
      break;
    case RingOp::Kind::accept:
      io_uring_prep_accept(sqe, op.fd, static_cast<sockaddr*>(op.address),
                           reinterpret_cast<socklen_t*>(op.address_size), op.flags);
      break;
    case RingOp::Kind::connect:
      io_uring_prep_connect(sqe, op.fd, static_cast<const sockaddr*>(op.address), op.connect_size);
      break;
    case RingOp::Kind::read:
      io_uring_prep_read(sqe, op.fd, op.buffer, static_cast<unsigned>(op.size), op.offset);
      break;
    case RingOp::Kind::write:
      io_uring_prep_write(sqe, op.fd, op.buffer, static_cast<unsigned>(op.size), op.offset);
      break;
    case RingOp::Kind::fsync:
      io_uring_prep_fsync(sqe, op.fd, 0);
      break;
    case RingOp::Kind::openat:
      io_uring_prep_openat(sqe, AT_FDCWD, static_cast<const char*>(op.address), op.flags,
                           static_cast<mode_t>(op.size));
      break;
    case RingOp::Kind::recv_wait:
      break;
  }
  io_uring_sqe_set_data(sqe, &op);
  op.done = false;
  op.result = 0;
  ++ops_in_flight_;
}

// Submits what is queued (the operation may be among it), then cancels the
// operation whose user_data is `data` synchronously.
void IoUringLoop::cancel_at_once(std::uint64_t data) noexcept {
  io_uring_submit(&ring_);
  io_uring_sync_cancel_reg reg{};
  reg.addr = data;
  reg.timeout.tv_sec = -1;
  reg.timeout.tv_nsec = -1;
  io_uring_register_sync_cancel(&ring_, &reg);
}

// The cancel is synchronous (IORING_REGISTER_SYNC_CANCEL): when it returns,
// the kernel no longer touches the op's buffers. Its completion may still
// wait in the kernel's deferred work: enter until it is taken.
void IoUringLoop::cancel(RingOp& op) noexcept {
  if (op.done || forked()) {
    op.done = true;
    return;
  }
  if (op.kind == RingOp::Kind::recv_wait) {
    stop_receiving(op);
    return;
  }
  void (*const fn)(RingOp*) = op.fn;
  op.fn = nullptr;
  cancel_at_once(reinterpret_cast<std::uint64_t>(&op));
  while (!op.done) {
    io_uring_get_events(&ring_);
    reap();
  }
  op.fn = fn;
}

void IoUringLoop::dispatch_poll(std::uint64_t data, int result) {
  const int fd = static_cast<int>(static_cast<std::uint32_t>(data >> kFdShift));
  const auto direction = static_cast<unsigned>(data & kKindMask);
  FdRecord* found = record(fd);
  if (found == nullptr || !known(*found) ||
      (found->generation & kGenerationMask) != (data >> kGenerationShift)) {
    return;  // forgotten meanwhile: the fd number may name another file now
  }
  found->watching &= static_cast<std::uint8_t>(~direction);
  if (result < 0) {
    end_fd_wait(*found, direction == io_readable ? &FdRecord::reader : &FdRecord::writer, -result,
                StepRun::queue);
    return;
  }
  const auto events = static_cast<unsigned>(result);
  unsigned ready = direction;
  unsigned for_good = 0;
  if ((events & (POLLRDHUP | POLLERR | POLLHUP)) != 0) {
    for_good |= io_readable;
    ready |= io_readable;
  }
  if ((events & (POLLERR | POLLHUP)) != 0) {
    for_good |= io_writable;
    ready |= io_writable;
  }
  fd_ready(fd, ready, for_good, 0, StepRun::queue);
}

// A parked read ends: its socket's multishot is cancelled at once and its
// last completions taken, so what it received is queued (for the next
// read) and later bytes stay in the socket, as with a readiness loop.
void IoUringLoop::stop_receiving(RingOp& op) noexcept {
  if (receive_.unpark(op)) {
    --ops_in_flight_;
  }
  op.result = -ECANCELED;
  op.done = true;
  std::uint64_t data = 0;
  if (!receive_.armed(op.fd, data)) {
    return;
  }
  cancel_at_once(data);
  while (receive_.armed(op.fd, data)) {
    io_uring_get_events(&ring_);
    reap();
  }
}

void IoUringLoop::finish(RingOp& op, int result) noexcept {
  op.result = result;
  op.done = true;
  --ops_in_flight_;
  if (op.fn != nullptr) {
    op.fn(&op);
  }
}

// The multishot arms on the socket's first read with nothing queued (and
// again after it ended), and only a parked read counts as in flight: an
// idle socket keeps the loop from waking no more than an idle poll does.
long IoUringLoop::take_received(int fd, void* buffer, std::size_t size) {
  return receive_.take(fd, buffer, size, [this, fd](std::uint64_t data) {
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) {
      return false;
    }
    io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = ReceiveStreams::kGroup;
    io_uring_sqe_set_data64(sqe, data);
    return true;
  });
}

// `pointer`: user_data as liburing hands it back, for an operation's.
void IoUringLoop::dispatch(std::uint64_t data, void* pointer, int result, unsigned flags) {
  if ((data & kKindMask) == 0) {
    const auto scope = callback_scope();
    finish(*static_cast<RingOp*>(pointer), result);
  } else if (data == kWakeTag) {
    drain_wakeups(flags);
  } else if (data == kSignalTag) {
    dispatch_signals(flags);
  } else if (data == kIgnoredTag) {
    return;
  } else if ((data & kKindMask) == ReceiveStreams::kTagBits) {
    if (RingOp* parked = receive_.complete(data, result, flags); parked != nullptr) {
      const auto scope = callback_scope();
      finish(*parked, 0);
    }
  } else {
    dispatch_poll(data, result);
  }
}

// Takes every completion, those the kernel kept back for want of room in
// the CQ ring (IORING_FEAT_NODROP) too. Each is marked seen before it is
// dispatched: a dispatch may cancel an operation, which reaps from here.
// Read off the ring directly: io_uring_peek_cqe calls into liburing when
// the ring is empty, which every pass ends with, and the ring has no
// completions of liburing's own (the probe requires IORING_FEAT_EXT_ARG,
// so a timed wait adds no timeout operation).
void IoUringLoop::reap() {
  io_uring_cq& cq = ring_.cq;
  for (;;) {
    while (io_uring_cq_ready(&ring_) != 0) {
      const io_uring_cqe& cqe = cq.cqes[*cq.khead & cq.ring_mask];
      const std::uint64_t data = cqe.user_data;
      void* const pointer = io_uring_cqe_get_data(&cqe);
      const int result = cqe.res;
      const unsigned flags = cqe.flags;
      io_uring_cq_advance(&ring_, 1);
      dispatch(data, pointer, result, flags);
    }
    if (!io_uring_cq_has_overflow(&ring_)) {
      return;
    }
    io_uring_get_events(&ring_);
  }
}

// One io_uring_enter: submits what the pass queued and waits for a
// completion until the first timer, `until`, or not at all when
// immediates wait.
void IoUringLoop::enter(Deadline until) {
  Deadline wake = until;
  if (!immediates_.empty()) {
    wake = Deadline{};
  } else if (!timers_.empty() && timers_.top_due() < until) {
    wake = timers_.top_due();
  }
  ++stats_.polls;
  io_uring_cqe* cqe = nullptr;
  if (wake == no_deadline) {
    io_uring_submit_and_wait(&ring_, 1);
    return;
  }
  const auto nanos = support::poll_timeout<std::chrono::nanoseconds>(wake - Clock::now());
  __kernel_timespec timeout{nanos / 1000000000, nanos % 1000000000};
  io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
}

void IoUringLoop::run_once(Deadline until) {
  check_can_run("run_once");
  if (forked()) [[unlikely]] {
    throw UsageError(
        "cosync: run_once on an io_uring loop inherited through fork(): the ring belongs "
        "to the parent process; make a new loop in the child");
  }
  ++stats_.iterations;
  run_iteration([this, until] { run_events(until); });
}

[[gnu::always_inline]] inline void IoUringLoop::run_events(Deadline until) {
  enter(until);
  reap();
  run_expired_timers();
  run_posts();
}

}  // namespace cosync::loop
