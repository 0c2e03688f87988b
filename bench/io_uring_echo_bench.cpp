// BM_EchoServer/io_uring_raw: the echo server as callbacks on io_uring
// completions, the way the ping-pong anchor (io_uring_anchor_bench.cpp)
// found fastest: a SINGLE_ISSUER | DEFER_TASKRUN ring, one multishot accept
// on the listener, one multishot recv per connection over a provided buffer
// ring all connections share (an idle connection pins no buffer), sends
// with CQE_SKIP_SUCCESS, and one io_uring_enter per loop pass. Connections
// are plain fds (registering 1,000 files paid nothing measurable in the
// ping-pong anchor); a connection is closed with close(2) when its recv
// ends.
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "echo_server.hpp"
#include "io_uring_buffers.hpp"

namespace cosync_bench {
namespace {

constexpr unsigned kSubmissionEntries = 1024;
constexpr unsigned kCompletionEntries = 8192;
constexpr unsigned kBuffers = 2048;  // a power of two
constexpr std::size_t kBufferSize = 256;
constexpr std::uint16_t kBufferGroup = 0;

// The user_data of the completions that are not a connection's recv, whose
// user_data is the connection's address (never one of these).
enum Op : std::uint64_t { accept_op = 1, stop_op = 2, send_op = 3 };

struct Connection {
  int fd = -1;
  std::size_t filled = 0;
  std::array<char, kEchoMessageSize> message{};
};

class RawEchoServer {
 public:
  explicit RawEchoServer(ServerControl& control) : control_(control) {
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    params.cq_entries = kCompletionEntries;
    check(io_uring_queue_init_params(kSubmissionEntries, &ring_, &params), "io_uring setup");
    check(io_uring_register_ring_fd(&ring_), "io_uring_register_ring_fd");
    buffers_.emplace(&ring_, kBuffers, kBufferSize, kBufferGroup);
  }
  RawEchoServer(const RawEchoServer&) = delete;
  RawEchoServer& operator=(const RawEchoServer&) = delete;
  ~RawEchoServer() {
    buffers_.reset();
    io_uring_queue_exit(&ring_);  // cancels the accept
    close(listener_);
  }

  void run() {
    arm_stop();
    arm_accept();
    control_.publish_port(local_port(listener_));
    while (!stopped_) {
      check(io_uring_submit_and_wait(&ring_, 1), "io_uring_submit_and_wait");
      drain_completions();
    }
  }

 private:
  // A free submission entry, submitting what is queued when there is none.
  io_uring_sqe* next_sqe() {
    for (;;) {
      if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) return sqe;
      check(io_uring_submit(&ring_), "io_uring_submit");
    }
  }

  void arm_stop() {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_poll_add(sqe, control_.stop_fd(), POLLIN);
    io_uring_sqe_set_data64(sqe, stop_op);
  }

  void arm_accept() {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_multishot_accept(sqe, listener_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, accept_op);
  }

  void arm_recv(Connection* connection) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_recv_multishot(sqe, connection->fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data(sqe, connection);
  }

  void send(Connection* connection) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_send(sqe, connection->fd, connection->message.data(), kEchoMessageSize,
                       MSG_NOSIGNAL);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, send_op);
  }

  void drain_completions() {
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      on_completion(*cqe);
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
  }

  void on_completion(const io_uring_cqe& cqe) {
    switch (cqe.user_data) {
      case accept_op:
        on_accept(cqe);
        break;
      case stop_op:
        stopped_ = true;
        break;
      case send_op:
        break;  // a failed send: the connection's recv ends it
      default:
        on_recv(static_cast<Connection*>(io_uring_cqe_get_data(&cqe)), cqe);
    }
  }

  void on_accept(const io_uring_cqe& cqe) {
    if ((cqe.flags & IORING_CQE_F_MORE) == 0) arm_accept();
    if (cqe.res < 0) {
      if (cqe.res == -ECONNABORTED || cqe.res == -EINTR) return;
      check(cqe.res, "multishot accept");
    }
    auto* connection = new Connection{cqe.res, 0, {}};
    control_.handler_started();
    arm_recv(connection);
  }

  void on_recv(Connection* connection, const io_uring_cqe& cqe) {
    if (cqe.res == -ENOBUFS) {
      arm_recv(connection);  // every buffer was taken; the pass gives them back
      return;
    }
    if (cqe.res <= 0) {
      close_connection(connection);  // end of stream or a reset
      return;
    }
    const auto id = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    take(*connection, buffers_->data(id), static_cast<std::size_t>(cqe.res));
    buffers_->recycle(id);
    if ((cqe.flags & IORING_CQE_F_MORE) == 0) arm_recv(connection);
  }

  // Appends received bytes to the connection's message; echoes it when whole.
  void take(Connection& connection, const char* data, std::size_t length) {
    if (connection.filled + length > kEchoMessageSize) fail("recv: more than one message");
    std::memcpy(connection.message.data() + connection.filled, data, length);
    connection.filled += length;
    if (connection.filled < kEchoMessageSize) return;
    connection.filled = 0;
    send(&connection);
  }

  void close_connection(Connection* connection) {
    close(connection->fd);
    delete connection;
    control_.handler_finished();
  }

  ServerControl& control_;
  io_uring ring_{};
  std::optional<ProvidedBuffers> buffers_;
  int listener_ = listen_on_loopback();
  bool stopped_ = false;
};

}  // namespace

void serve_io_uring_raw(ServerControl& control) { RawEchoServer(control).run(); }

}  // namespace cosync_bench
