#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "cosync/io.hpp"
#include "cosync/request.hpp"
#include "io/ring_op.hpp"
#include "support/direct_calls_linux.hpp"

namespace cosync::io {
namespace {

class IoCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "cosync.io"; }
  std::string message(int value) const override {
    switch (static_cast<IoErrc>(value)) {
      case IoErrc::end_of_stream:
        return "end of stream before the expected number of bytes";
    }
    return "unknown cosync I/O error";
  }
};

std::error_code errno_code(int value) { return {value, std::generic_category()}; }

// Fairness: an fd that stays ready never makes its coroutine wait, so a
// fast stream would starve every other coroutine, the timers and its own
// cancellation. After this many socket calls in a row that did not wait,
// the caller lets the loop run (yield_to_loop).
constexpr unsigned kCallsBetweenYields = 64;
// Initial-exec: a plain TLS load in the shared library too (no
// __tls_get_addr on every socket call).
constinit thread_local unsigned t_calls_without_wait __attribute__((tls_model("initial-exec"))) = 0;

void spend_budget() {
  if (++t_calls_without_wait >= kCallsBetweenYields) {
    t_calls_without_wait = 0;
    yield_to_loop();
  }
}

// Waits until `fd` is ready for `event`, trusting the loop's readiness
// cache so a drained fd waits instead of answering EAGAIN once more; after
// an EAGAIN (`drained`) it always waits, whatever the cache says. Returns
// 0, or how the wait ended (ETIMEDOUT, ECANCELED...).
int await(const Loop& loop, int fd, IoEvent event, bool drained, Deadline deadline) {
  if (!drained && loop.io_ready(fd, event)) {
    return 0;
  }
  t_calls_without_wait = 0;
  return impl::wait_io_status(fd, event, deadline);
}

// One non-blocking transfer on the socket whose fd is `current`, retried
// across EINTR and EAGAIN: `attempt` returns what recv/send/accept4
// returned. A short transfer tells the loop the fd is drained
// (edge-triggered readiness: the next wait is real). `current` is re-read
// after every wait: if another coroutine closed the socket meanwhile, its
// number may already belong to a new connection, and this call ends with
// ECANCELED instead of reading or writing someone else's bytes.
// Always inlined, like Socket::read_step (see there): one frame fewer on
// the stack of every coroutine suspended in a transfer.
template <class Attempt>
[[gnu::always_inline]] inline ssize_t transfer(const int& current, IoEvent event,
                                               std::size_t wanted, Deadline deadline,
                                               std::error_code& error, Attempt attempt) {
  const int fd = current;
  Loop& loop = this_loop();
  bool drained = false;
  for (;;) {
    if (const int status = await(loop, fd, event, drained, deadline); status != 0) {
      error = errno_code(status);
      return -1;
    }
    if (current != fd) {
      error = errno_code(ECANCELED);
      return -1;
    }
    const ssize_t done = attempt();
    drained = false;
    if (done >= 0) {
      if (static_cast<std::size_t>(done) < wanted && done != 0) {
        loop.io_not_ready(fd, event);
      }
      return done;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      loop.io_not_ready(fd, event);
      drained = true;
    } else if (errno != EINTR) {
      error = errno_code(errno);
      return -1;
    }
  }
}

// transfer's counterpart on such a loop: one operation on the socket whose
// fd is `current` (op.fd), retried across EINTR. Another coroutine that
// closes the socket meanwhile makes the loop cancel it (forget_fd), and it
// ends with ECANCELED; it never reaches a file that took the number.
[[gnu::noinline]] ssize_t ring_transfer(loop::RingOps& ring, loop::RingOp& op, const int& current,
                                        Deadline deadline, std::error_code& error) {
  t_calls_without_wait = 0;  // every operation waits for the loop's next pass
  for (;;) {
    if (current != op.fd) {
      error = errno_code(ECANCELED);
      return -1;
    }
    const int result = run_on_ring(ring, op, deadline);
    if (result >= 0) {
      return result;
    }
    if (result != -EINTR) {
      error = errno_code(-result);
      return -1;
    }
  }
}

// Reads smaller than this go through the scratch buffer (see io.hpp).
constexpr std::size_t kScratchSize = 16 * 1024;

// The buffer lives on the heap, reached through an initial-exec pointer:
// 16 KiB of static TLS would make the shared library fail to dlopen, and a
// dynamic-TLS array costs a __tls_get_addr call on every small read.
constinit thread_local char* t_scratch __attribute__((tls_model("initial-exec"))) = nullptr;

char* scratch() {
  if (t_scratch == nullptr) [[unlikely]] {
    thread_local const std::unique_ptr<char[]> owner(new char[kScratchSize]);
    t_scratch = owner.get();
  }
  return t_scratch;
}

int open_socket(int family) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "cosync: socket()");
  }
  return fd;
}

void close_fd(int fd) noexcept {
  this_loop().forget_fd(fd);
  ::close(fd);  // Linux releases the fd even when close reports EINTR
}

// connect(2) on a non-blocking socket. A Unix-domain listener whose
// backlog is full answers EAGAIN and will send no readiness edge when room
// appears: that is retried after a short, growing pause, until the
// deadline.
std::error_code start_connect(int fd, const Address& address, Deadline deadline) {
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    if (support::direct::connect(fd, address.data(), address.size()) == 0) {
      return {};
    }
    if (errno != EAGAIN || address.family() != AF_UNIX) {
      return errno_code(errno);
    }
    if (deadline != no_deadline && Clock::now() + pause >= deadline) {
      return errno_code(ETIMEDOUT);
    }
    sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

// Completes a non-blocking connect: waits for writability, then reads the
// outcome from SO_ERROR. A refused connect is an error condition, which
// every loop reports to a lone writer (the tevent adapter sees to it).
std::error_code finish_connect(int fd, Deadline deadline) {
  Loop& loop = this_loop();
  loop.io_not_ready(fd, io_writable);
  if (const int status = impl::wait_io_status(fd, io_writable, deadline); status != 0) {
    return errno_code(status);
  }
  int outcome = 0;
  socklen_t size = sizeof outcome;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &outcome, &size) != 0) {
    return errno_code(errno);
  }
  return outcome == 0 ? std::error_code() : errno_code(outcome);
}

// A connect as one operation on a loop that runs them (not for Unix-domain
// sockets: start_connect's retry covers their full backlogs).
std::error_code connect_on_ring(loop::RingOps& ring, const int& fd, const Address& address,
                                Deadline deadline) {
  loop::RingOp op;
  op.kind = loop::RingOp::Kind::connect;
  op.fd = fd;
  op.address = const_cast<sockaddr*>(address.data());  // only read: the op is a connect
  op.connect_size = address.size();
  std::error_code error;
  ring_transfer(ring, op, fd, deadline, error);
  return error;
}

std::string list_addresses(const std::vector<Address>& addresses) {
  std::string text;
  for (const Address& address : addresses) {
    text += (text.empty() ? "" : ", ") + address.to_string();
  }
  return text;
}

[[noreturn]] void throw_connect_failure(std::error_code error, const std::string& what) {
  if (error == std::errc::timed_out) {
    throw TimedOut(what + " timed out");
  }
  throw std::system_error(error, what);
}

// From the bytes the loop's multishot receive queued for this socket; a
// read that times out or is cancelled while it waits leaves the bytes that
// come later queued for the next read. When the loop has no receive
// buffer to spare, one recv straight into the caller's buffer (not the
// scratch buffer: it is shared by the thread's coroutines, and operations
// of several may be in flight at once).
std::size_t receive_on_ring(loop::RingOps& ring, const int& fd, void* buffer, std::size_t size,
                            std::error_code& error, Deadline deadline) {
  loop::RingOp op;
  op.fd = fd;
  for (;;) {
    const long taken = ring.take_received(fd, buffer, size);
    if (taken >= 0) {
      return static_cast<std::size_t>(taken);
    }
    if (taken == -ENOBUFS) {
      op.kind = loop::RingOp::Kind::recv;
      op.buffer = buffer;
      op.size = size;
    } else if (taken == -EAGAIN) {
      op.kind = loop::RingOp::Kind::recv_wait;
    } else {
      error = errno_code(static_cast<int>(-taken));
      return 0;
    }
    const ssize_t got = ring_transfer(ring, op, fd, deadline, error);
    if (got < 0) {
      return 0;
    }
    if (op.kind == loop::RingOp::Kind::recv) {
      return static_cast<std::size_t>(got);
    }
  }
}

// write_all's loop on a loop that runs operations: returns the bytes sent.
ssize_t send_on_ring(loop::RingOps& ring, const int& fd, const void* data, std::size_t size,
                     std::error_code& error, Deadline deadline) {
  const auto* bytes = static_cast<const char*>(data);
  std::size_t total = 0;
  while (total < size) {
    loop::RingOp op;
    op.kind = loop::RingOp::Kind::send;
    op.fd = fd;
    op.buffer = const_cast<char*>(bytes + total);  // only read: the op is a send
    op.size = size - total;
    op.flags = MSG_NOSIGNAL;
    const ssize_t sent = ring_transfer(ring, op, fd, deadline, error);
    if (sent < 0) {
      break;
    }
    total += static_cast<std::size_t>(sent);
  }
  return static_cast<ssize_t>(total);
}

}  // namespace
}  // namespace cosync::io

namespace cosync {

const std::error_category& io_category() noexcept {
  static const io::IoCategory category;
  return category;
}

Socket::Socket(int fd) : fd_(fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw std::system_error(errno, std::generic_category(),
                            "cosync: adopt fd " + std::to_string(fd) + " as a socket");
  }
  sockaddr_storage peer{};
  socklen_t size = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) == 0) {
    name_ = Address(reinterpret_cast<sockaddr*>(&peer), size);
  }
}

Socket::Socket(Socket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      name_(other.name_),
      read_ahead_(std::move(other.read_ahead_)),
      read_ahead_offset_(std::exchange(other.read_ahead_offset_, 0)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    name_ = other.name_;
    read_ahead_ = std::move(other.read_ahead_);
    read_ahead_offset_ = std::exchange(other.read_ahead_offset_, 0);
  }
  return *this;
}

Socket::~Socket() { close(); }

Socket Socket::listen(const Address& address, const ListenOptions& options) {
  Socket socket(io::open_socket(address.family()), address);
  if (address.family() != AF_UNIX) {
    socket.set_reuse_address(options.reuse_address);
    if (options.reuse_port) socket.set_reuse_port(true);
  }
  if (::bind(socket.fd_, address.data(), address.size()) != 0) {
    socket.fail("bind", io::errno_code(errno));
  }
  if (::listen(socket.fd_, options.backlog) != 0) {
    socket.fail("listen", io::errno_code(errno));
  }
  socket.name_ = socket.local_address();  // the port the kernel chose for port 0
  return socket;
}

Socket Socket::connect(const Address& address, Deadline deadline) {
  std::error_code error;
  Socket socket = connect(address, error, deadline);
  if (error) {
    Socket(-1, address).fail("connect to", error);
  }
  return socket;
}

Socket Socket::connect(const Address& address, std::error_code& error, Deadline deadline) {
  error.clear();
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = io::errno_code(errno);
    return {};
  }
  Socket socket(fd, address);
  loop::RingOps* ring = io::ring_of_this_loop();
  if (ring != nullptr && address.family() != AF_UNIX) {
    error = io::connect_on_ring(*ring, socket.fd_, address, deadline);
    return error ? Socket() : std::move(socket);
  }
  error = io::start_connect(fd, address, deadline);
  // A non-blocking connect interrupted by a signal goes on in the kernel,
  // exactly as one that answered EINPROGRESS.
  if (error == std::errc::operation_in_progress || error == std::errc::interrupted) {
    error = io::finish_connect(fd, deadline);
  }
  if (error) {
    return {};
  }
  return socket;
}

Socket Socket::connect(const std::vector<Address>& candidates, Deadline deadline) {
  std::error_code error;
  Socket socket = connect(candidates, error, deadline);
  if (error) {
    io::throw_connect_failure(error, "cosync: connect to any of " + io::list_addresses(candidates));
  }
  return socket;
}

Socket Socket::connect(const std::vector<Address>& candidates, std::error_code& error,
                       Deadline deadline) {
  error = io::errno_code(EINVAL);
  for (const Address& address : candidates) {
    Socket socket = connect(address, error, deadline);
    if (!error) {
      return socket;
    }
  }
  return {};
}

Socket Socket::connect(std::string_view text, Deadline deadline) {
  const std::vector<Address> candidates = Address::lookup_all(text, deadline);
  std::error_code error;
  Socket socket = connect(candidates, error, deadline);
  if (error) {
    io::throw_connect_failure(error, "cosync: connect to " + std::string(text) + " (tried " +
                                         io::list_addresses(candidates) + ")");
  }
  return socket;
}

Socket Socket::connect(std::string_view text, std::error_code& error, Deadline deadline) {
  error.clear();
  std::vector<Address> candidates;
  try {
    candidates = Address::lookup_all(text, deadline);
  } catch (const std::system_error& failure) {  // the lookup's error, or TimedOut
    error = failure.code();
    return {};
  }
  return connect(candidates, error, deadline);
}

Socket Socket::accept(Deadline deadline) {
  std::error_code error;
  Socket connection = accept(error, deadline);
  if (error) {
    fail("accept on", error);
  }
  return connection;
}

Socket Socket::accept(std::error_code& error, Deadline deadline) {
  error.clear();
  if (fd_ < 0) {
    error = io::errno_code(EBADF);
    return {};
  }
  sockaddr_storage peer{};
  socklen_t size = 0;
  for (;;) {
    size = sizeof peer;
    const ssize_t fd = accept_step(peer, size, error, deadline);
    // A connection that died in the backlog is the next one's business.
    if (fd < 0 && (error.value() == ECONNABORTED || error.value() == EPROTO)) {
      error.clear();
      continue;
    }
    if (fd < 0) {
      return {};
    }
    return Socket(static_cast<int>(fd), Address(reinterpret_cast<sockaddr*>(&peer), size));
  }
}

ssize_t Socket::accept_step(sockaddr_storage& peer, socklen_t& size, std::error_code& error,
                            Deadline deadline) {
  if (loop::RingOps* ring = io::ring_of_this_loop(); ring != nullptr) [[unlikely]] {
    loop::RingOp op;
    op.kind = loop::RingOp::Kind::accept;
    op.fd = fd_;
    op.address = &peer;
    op.address_size = &size;
    op.flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    return io::ring_transfer(*ring, op, fd_, deadline, error);
  }
  return io::transfer(fd_, io_readable, 0, deadline, error, [&] {
    return support::direct::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &size,
                                    SOCK_NONBLOCK | SOCK_CLOEXEC);
  });
}

std::size_t Socket::read_some(void* buffer, std::size_t size, Deadline deadline) {
  std::error_code error;
  const std::size_t got = read_some(buffer, size, error, deadline);
  if (error) {
    fail("read from", error);
  }
  return got;
}

std::size_t Socket::read_some(void* buffer, std::size_t size, std::error_code& error,
                              Deadline deadline) {
  error.clear();
  if (fd_ < 0) {
    error = io::errno_code(EBADF);
    return 0;
  }
  if (size == 0) {
    return 0;
  }
  return read_step(buffer, size, error, deadline);
}

// Inlined into read_some and read_exactly (with receive_via_scratch): the
// frames of a read stay on the stack of every coroutine suspended in it,
// and each frame fewer is a cache line fewer to bring back per wake when
// thousands of connections take turns.
[[gnu::always_inline]] inline std::size_t Socket::read_step(void* buffer, std::size_t size,
                                                            std::error_code& error,
                                                            Deadline deadline) {
  io::spend_budget();
  if (read_ahead_offset_ < read_ahead_.size()) {
    return take_read_ahead(buffer, size);
  }
  if (loop::RingOps* ring = io::ring_of_this_loop(); ring != nullptr) [[unlikely]] {
    return io::receive_on_ring(*ring, fd_, buffer, size, error, deadline);
  }
  if (size < io::kScratchSize) {
    return receive_via_scratch(buffer, size, error, deadline);
  }
  const ssize_t got = io::transfer(fd_, io_readable, size, deadline, error,
                                   [&] { return support::direct::recv(fd_, buffer, size, 0); });
  return got < 0 ? 0 : static_cast<std::size_t>(got);
}

std::size_t Socket::take_read_ahead(void* buffer, std::size_t size) noexcept {
  const std::size_t count = std::min(size, read_ahead_.size() - read_ahead_offset_);
  std::memcpy(buffer, read_ahead_.data() + read_ahead_offset_, count);
  read_ahead_offset_ += count;
  if (read_ahead_offset_ == read_ahead_.size()) {
    std::string().swap(read_ahead_);  // an idle socket holds no heap memory
    read_ahead_offset_ = 0;
  }
  return count;
}

// The scratch buffer is only used between the recv and the copies below:
// nothing in between suspends, so coroutines of this thread cannot mix
// their bytes.
[[gnu::always_inline]] inline std::size_t Socket::receive_via_scratch(void* buffer,
                                                                      std::size_t size,
                                                                      std::error_code& error,
                                                                      Deadline deadline) {
  char* const buffered = io::scratch();
  const ssize_t got = io::transfer(
      fd_, io_readable, io::kScratchSize, deadline, error,
      [this, buffered] { return support::direct::recv(fd_, buffered, io::kScratchSize, 0); });
  if (got <= 0) {
    return 0;
  }
  const auto received = static_cast<std::size_t>(got);
  const std::size_t count = std::min(size, received);
  std::memcpy(buffer, buffered, count);
  if (count < received) {
    read_ahead_.assign(buffered + count, received - count);
    read_ahead_offset_ = 0;
  }
  return count;
}

void Socket::read_exactly(void* buffer, std::size_t size, Deadline deadline) {
  std::error_code error;
  const std::size_t got = read_exactly(buffer, size, error, deadline);
  if (error == IoErrc::end_of_stream) {
    throw std::system_error(error, describe("read_exactly from") + " after " + std::to_string(got) +
                                       " of " + std::to_string(size) + " bytes");
  }
  if (error) {
    fail("read_exactly from", error);
  }
}

std::size_t Socket::read_exactly(void* buffer, std::size_t size, std::error_code& error,
                                 Deadline deadline) {
  error.clear();
  auto* bytes = static_cast<char*>(buffer);
  std::size_t total = 0;
  while (total < size) {
    if (fd_ < 0) {  // closed by another coroutine between two reads
      error = io::errno_code(EBADF);
      break;
    }
    const std::size_t got = read_step(bytes + total, size - total, error, deadline);
    if (error) {
      break;
    }
    if (got == 0) {
      error = IoErrc::end_of_stream;
      break;
    }
    total += got;
  }
  return total;
}

void Socket::write_all(const void* data, std::size_t size, Deadline deadline) {
  std::error_code error;
  write_all(data, size, error, deadline);
  if (error) {
    fail("write to", error);
  }
}

std::size_t Socket::write_all(const void* data, std::size_t size, std::error_code& error,
                              Deadline deadline) {
  error.clear();
  if (fd_ < 0) {
    error = io::errno_code(EBADF);
    return 0;
  }
  io::spend_budget();
  if (loop::RingOps* ring = io::ring_of_this_loop(); ring != nullptr) [[unlikely]] {
    return static_cast<std::size_t>(io::send_on_ring(*ring, fd_, data, size, error, deadline));
  }
  const auto* bytes = static_cast<const char*>(data);
  std::size_t total = 0;
  while (total < size) {
    const std::size_t left = size - total;
    const ssize_t sent = io::transfer(fd_, io_writable, left, deadline, error, [&] {
      return support::direct::send(fd_, bytes + total, left, MSG_NOSIGNAL);
    });
    if (sent < 0) {
      break;
    }
    total += static_cast<std::size_t>(sent);
  }
  return total;
}

void Socket::shutdown(int how) {
  if (::shutdown(check_open("shutdown"), how) != 0) {
    fail("shutdown", io::errno_code(errno));
  }
}

void Socket::close() noexcept {
  if (fd_ >= 0) {
    io::close_fd(std::exchange(fd_, -1));
  }
  std::string().swap(read_ahead_);
  read_ahead_offset_ = 0;
}

// On the io_uring loop the socket's multishot receive ends, and the bytes it
// queued are dropped like the read-ahead: the fd's next owner reads from
// the kernel, and a file that later takes the number starts afresh.
int Socket::release() noexcept {
  std::string().swap(read_ahead_);
  read_ahead_offset_ = 0;
  if (fd_ >= 0 && io::ring_of_this_loop() != nullptr) {
    this_loop().forget_fd(fd_);
  }
  return std::exchange(fd_, -1);
}

Address Socket::local_address() const {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (getsockname(check_open("local_address of"), reinterpret_cast<sockaddr*>(&address), &size) !=
      0) {
    fail("local_address of", io::errno_code(errno));
  }
  return {reinterpret_cast<sockaddr*>(&address), size};
}

Address Socket::peer_address() const {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (getpeername(check_open("peer_address of"), reinterpret_cast<sockaddr*>(&address), &size) !=
      0) {
    fail("peer_address of", io::errno_code(errno));
  }
  return {reinterpret_cast<sockaddr*>(&address), size};
}

// Unix-domain sockets have no Nagle delay to turn off: a no-op there, so
// code written for TCP also serves unix: addresses.
void Socket::set_nodelay(bool on) {
  if (name_.family() == AF_UNIX) return;
  set_option(IPPROTO_TCP, TCP_NODELAY, on, "TCP_NODELAY");
}
void Socket::set_keepalive(bool on) { set_option(SOL_SOCKET, SO_KEEPALIVE, on, "SO_KEEPALIVE"); }
void Socket::set_reuse_address(bool on) {
  set_option(SOL_SOCKET, SO_REUSEADDR, on, "SO_REUSEADDR");
}
void Socket::set_reuse_port(bool on) { set_option(SOL_SOCKET, SO_REUSEPORT, on, "SO_REUSEPORT"); }
void Socket::set_send_buffer(int bytes) { set_option(SOL_SOCKET, SO_SNDBUF, bytes, "SO_SNDBUF"); }
void Socket::set_receive_buffer(int bytes) {
  set_option(SOL_SOCKET, SO_RCVBUF, bytes, "SO_RCVBUF");
}

void Socket::set_option(int level, int option, int value, const char* name) {
  const std::string operation = std::string("set ") + name + " on";
  if (setsockopt(check_open(operation.c_str()), level, option, &value, sizeof value) != 0) {
    fail(operation.c_str(), io::errno_code(errno));
  }
}

int Socket::check_open(const char* operation) const {
  if (fd_ < 0) {
    throw std::system_error(io::errno_code(EBADF),
                            std::string("cosync: ") + operation + " a closed socket");
  }
  return fd_;
}

std::string Socket::describe(const char* operation) const {
  return std::string("cosync: ") + operation + " " + name_.to_string();
}

// A timeout is TimedOut (a system_error with errc::timed_out), as for
// every other wait in cosync.
void Socket::fail(const char* operation, std::error_code error) const {
  if (fd_ < 0 && error.value() == EBADF) {
    check_open(operation);
  }
  if (error == std::errc::timed_out) {
    throw TimedOut(describe(operation) + ": " + error.message());
  }
  throw std::system_error(error, describe(operation));
}

}  // namespace cosync
