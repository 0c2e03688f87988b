// cosync I/O (layer 6): sockets and files that read like blocking code.
//
// In a coroutine, a call that would block suspends the coroutine until the
// loop sees the fd ready (on the io_uring loop: until the kernel completes
// the read, write, accept or connect, submitted as an io_uring operation);
// outside any coroutine, the same call runs the
// thread's loop meanwhile (R4). Short reads and writes, EAGAIN and EINTR
// are handled inside. Every call takes a deadline.
//
// Errors: std::system_error carrying the errno, with a message naming the
// operation and the peer ("cosync: read from 10.0.0.2:8080: Connection
// reset by peer"); overloads taking a std::error_code& report I/O outcomes
// there instead (a timeout is errc::timed_out). Cancellation of the calling
// coroutine is never an error code: it always throws Cancelled, so the
// coroutine unwinds.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cosync/export.hpp"
#include "cosync/loop.hpp"

namespace cosync {

// Outcomes of cosync's own that have no errno.
enum class IoErrc {
  end_of_stream = 1  // the peer ended the stream before the bytes asked for came
};
// io_category is the error category of IoErrc codes (name "cosync.io").
COSYNC_API const std::error_category& io_category() noexcept;
// make_error_code makes an IoErrc a std::error_code (io_category()).
inline std::error_code make_error_code(IoErrc e) noexcept {
  return {static_cast<int>(e), io_category()};
}

}  // namespace cosync

// IoErrc values convert to std::error_code (make_error_code above).
template <>
struct std::is_error_code_enum<cosync::IoErrc> : std::true_type {};

namespace cosync {

// An IPv4, IPv6 or Unix-domain stream socket address.
class COSYNC_API Address {
 public:
  // An empty address (empty() is true).
  Address() = default;
  // Copies `size` bytes of a sockaddr (sockaddr_in, sockaddr_in6 or
  // sockaddr_un); throws std::invalid_argument when `size` exceeds
  // sockaddr_storage.
  Address(const sockaddr* address, socklen_t size);

  // "127.0.0.1:80", "[::1]:80", "unix:/run/app.sock" or "/run/app.sock"
  // (numeric only; resolve() looks names up). Throws std::invalid_argument
  // naming the text.
  static Address parse(std::string_view text);
  // Like parse, but the host part may be a name, looked up with resolve();
  // the first address getaddrinfo returns is taken (for "localhost" that
  // may be ::1: give a numeric address to pick the family, or connect with
  // Socket::connect(text), which tries them all).
  static Address lookup(std::string_view text, Deadline deadline = no_deadline);
  // Every address `text` names, in getaddrinfo's order (one for a numeric
  // or Unix-domain address).
  static std::vector<Address> lookup_all(std::string_view text, Deadline deadline = no_deadline);

  // family is AF_INET, AF_INET6 or AF_UNIX (AF_UNSPEC when empty).
  int family() const noexcept { return storage_.ss_family; }
  // empty is true for a default-constructed address.
  bool empty() const noexcept { return size_ == 0; }
  // port is the TCP port in host byte order; 0 for Unix-domain addresses.
  std::uint16_t port() const noexcept;
  // with_port returns a copy with another port; std::invalid_argument for
  // a Unix-domain address, which has none.
  Address with_port(std::uint16_t port) const;
  // to_string gives the text parse() reads: "10.0.0.2:80", "[::1]:80",
  // "unix:/run/app.sock"; "(no address)" when empty.
  std::string to_string() const;

  // data is the sockaddr, for bind(2), connect(2) and friends.
  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  // size is the length of the sockaddr at data().
  socklen_t size() const noexcept { return size_; }

 private:
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

// getaddrinfo on the blocking pool: the addresses of `host` (a name or a
// literal) for TCP `port`. Throws std::system_error naming the host when
// the lookup fails (its code in the "getaddrinfo" category: EAI_NONAME,
// EAI_AGAIN...; or an errno for EAI_SYSTEM), TimedOut at the deadline.
COSYNC_API std::vector<Address> resolve(const std::string& host, std::uint16_t port,
                                        Deadline deadline = no_deadline);

// How Socket::listen sets up a listening socket.
struct ListenOptions {
  int backlog = SOMAXCONN;    // listen(2)'s backlog
  bool reuse_address = true;  // restart on a port with connections in TIME_WAIT
  bool reuse_port = false;    // several listeners sharing one port
};

// A non-blocking stream socket owned by this object (closed on destruction).
//
// A read smaller than 16 KiB receives into a per-thread scratch buffer and
// keeps what the caller did not ask for (a read-ahead buffer that exists
// only while it holds bytes): a receive that comes back short proves the
// socket drained, so the next read waits for the loop instead of paying a
// system call that answers EAGAIN. On the io_uring loop, the socket's
// first read arms one multishot receive that stays armed while reads end
// with data: the bytes it takes wait in the loop's receive buffers for the
// next read. Read through this object only; bytes it read ahead or
// received are invisible to a raw recv on fd(), and release() drops them.
//
// A socket belongs to the thread whose loop waits on it: close or destroy
// it there (closing tells that loop to forget the fd; an fd closed behind a
// loop's back leaves it a stale registration for the next fd with that
// number).
class COSYNC_API Socket {
 public:
  // A socket that holds no fd (is_open() is false).
  Socket() = default;
  // Adopts a connected stream socket; makes it non-blocking.
  explicit Socket(int fd);
  // Takes over `other`'s fd and read-ahead bytes; `other` holds no fd after.
  Socket(Socket&& other) noexcept;
  // Closes this socket's fd, then takes over `other`'s.
  Socket& operator=(Socket&& other) noexcept;
  // Not copyable: the socket owns its fd.
  Socket(const Socket&) = delete;
  // Not copyable: the socket owns its fd.
  Socket& operator=(const Socket&) = delete;
  // Closes the fd (see close()).
  ~Socket();

  // listen binds a new socket to `address` (port 0: the kernel picks one,
  // local_address() tells which) and listens. Throws std::system_error
  // naming the address when bind or listen fails.
  static Socket listen(const Address& address, const ListenOptions& options = {});
  // connect connects to `address` within the deadline. Throws
  // std::system_error naming the address (ECONNREFUSED...), TimedOut at the
  // deadline.
  static Socket connect(const Address& address, Deadline deadline = no_deadline);
  // connect, reporting a failure in `error` and returning a closed socket.
  static Socket connect(const Address& address, std::error_code& error,
                        Deadline deadline = no_deadline);
  // Tries `candidates` in order, all within the one deadline, until one
  // connects. The error is the last address's (EINVAL for an empty list);
  // the exception's message names every address tried.
  static Socket connect(const std::vector<Address>& candidates, Deadline deadline = no_deadline);
  // connect to the first of `candidates` that answers, reporting a failure
  // in `error` and returning a closed socket.
  static Socket connect(const std::vector<Address>& candidates, std::error_code& error,
                        Deadline deadline = no_deadline);
  // Connects to "host:port" (a name or a literal, or a Unix-domain path):
  // the addresses Address::lookup_all finds, tried as above ("localhost"
  // may be ::1 then 127.0.0.1). A failed lookup is its getaddrinfo error.
  static Socket connect(std::string_view text, Deadline deadline = no_deadline);
  // connect to "host:port", reporting a failure in `error` and returning a
  // closed socket.
  static Socket connect(std::string_view text, std::error_code& error,
                        Deadline deadline = no_deadline);

  // accept waits for the next connection on a listening socket and returns
  // it. Throws std::system_error naming the listener, TimedOut at the
  // deadline.
  Socket accept(Deadline deadline = no_deadline);
  // accept, reporting a failure in `error` and returning a closed socket.
  Socket accept(std::error_code& error, Deadline deadline = no_deadline);

  // Reads what is there (waiting until something is); 0 at end of stream.
  std::size_t read_some(void* buffer, std::size_t size, Deadline deadline = no_deadline);
  // read_some, reporting a failure in `error` (and returning 0).
  std::size_t read_some(void* buffer, std::size_t size, std::error_code& error,
                        Deadline deadline = no_deadline);
  // Reads exactly `size` bytes; end of stream first is an error
  // (IoErrc::end_of_stream). The error_code form returns the bytes read.
  void read_exactly(void* buffer, std::size_t size, Deadline deadline = no_deadline);
  // read_exactly, reporting a failure in `error`; returns the bytes read.
  std::size_t read_exactly(void* buffer, std::size_t size, std::error_code& error,
                           Deadline deadline = no_deadline);
  // Writes everything, waiting while the socket buffer is full. Never
  // raises SIGPIPE: a closed peer is EPIPE. The error_code form returns the
  // bytes written.
  void write_all(const void* data, std::size_t size, Deadline deadline = no_deadline);
  // write_all of the bytes of `data`.
  void write_all(std::string_view data, Deadline deadline = no_deadline) {
    write_all(data.data(), data.size(), deadline);
  }
  // write_all, reporting a failure in `error`; returns the bytes written.
  std::size_t write_all(const void* data, std::size_t size, std::error_code& error,
                        Deadline deadline = no_deadline);

  // SHUT_WR (the default) sends end of stream and keeps reading possible.
  void shutdown(int how = SHUT_WR);
  // Ends any wait on this socket (with ECANCELED) and closes it.
  void close() noexcept;

  // local_address is getsockname(2)'s answer; throws std::system_error.
  Address local_address() const;
  // peer_address is getpeername(2)'s answer; throws std::system_error.
  Address peer_address() const;

  // set_nodelay sets TCP_NODELAY (no Nagle delay for small writes).
  void set_nodelay(bool on);
  // set_keepalive sets SO_KEEPALIVE.
  void set_keepalive(bool on);
  // set_reuse_address sets SO_REUSEADDR.
  void set_reuse_address(bool on);
  // set_reuse_port sets SO_REUSEPORT.
  void set_reuse_port(bool on);
  // set_send_buffer sets SO_SNDBUF to `bytes`.
  void set_send_buffer(int bytes);
  // set_receive_buffer sets SO_RCVBUF to `bytes`.
  void set_receive_buffer(int bytes);
  // Each set_ call throws std::system_error naming the option when the
  // kernel refuses it.

  // fd is the socket's file descriptor, or -1.
  int fd() const noexcept { return fd_; }
  // is_open is true while the socket holds an fd.
  bool is_open() const noexcept { return fd_ >= 0; }
  // True while the socket holds an fd (is_open()).
  explicit operator bool() const noexcept { return is_open(); }
  // Gives up ownership: the caller closes the fd (after Loop::forget_fd). On
  // the io_uring loop it ends the receive and drops the bytes it queued.
  int release() noexcept;

 private:
  Socket(int fd, const Address& name) noexcept : fd_(fd), name_(name) {}
  int check_open(const char* operation) const;
  void set_option(int level, int option, int value, const char* name);
  [[noreturn]] void fail(const char* operation, std::error_code error) const;
  std::string describe(const char* operation) const;

  std::size_t read_step(void* buffer, std::size_t size, std::error_code& error, Deadline deadline);
  ssize_t accept_step(sockaddr_storage& peer, socklen_t& size, std::error_code& error,
                      Deadline deadline);
  std::size_t take_read_ahead(void* buffer, std::size_t size) noexcept;
  std::size_t receive_via_scratch(void* buffer, std::size_t size, std::error_code& error,
                                  Deadline deadline);

  int fd_ = -1;
  // The peer of a connected socket, the local address of a listener: what
  // error messages name.
  Address name_;
  std::string read_ahead_;  // received, not yet read; empty (no heap) when idle
  std::size_t read_ahead_offset_ = 0;
};

// A regular file whose open, reads, writes and sync run on the blocking
// pool (the kernel has no readiness for regular files), or, on the io_uring
// loop (cosync/loop_io_uring.hpp), as io_uring operations with no thread
// hop. Either way a call that times out or is cancelled leaves nothing
// writing into the caller's buffer once it returns: the pool copies
// buffers through the call; the io_uring loop cancels the operation and
// waits for the kernel to finish with the buffer first (so a timed-out read
// from a slow disk may return after its deadline).
class COSYNC_API File {
 public:
  // A file that holds no fd.
  File() = default;
  // Takes over `other`'s fd; `other` holds none after.
  File(File&& other) noexcept;
  // Closes this file's fd, then takes over `other`'s.
  File& operator=(File&& other) noexcept;
  // Not copyable: the file owns its fd.
  File(const File&) = delete;
  // Not copyable: the file owns its fd.
  File& operator=(const File&) = delete;
  // Closes the fd.
  ~File();

  // open(2) flags (O_RDONLY, O_WRONLY | O_CREAT | O_TRUNC, ...).
  static File open(const std::string& path, int flags, mode_t mode = 0644,
                   Deadline deadline = no_deadline);

  // Reads up to `size` bytes at `offset`; 0 at end of file.
  std::size_t read_at(void* buffer, std::size_t size, off_t offset,
                      Deadline deadline = no_deadline);
  // Writes all of `data` at `offset`.
  void write_at(const void* data, std::size_t size, off_t offset, Deadline deadline = no_deadline);
  // size is the file's size (fstat(2)), read on the calling thread.
  off_t size() const;
  // sync runs fsync(2) on the pool (io_uring loop: an FSYNC operation);
  // throws std::system_error naming the path.
  void sync(Deadline deadline = no_deadline);
  // close closes the fd at once; a closed File's calls throw EBADF.
  void close() noexcept;

  // fd is the file's descriptor, or -1.
  int fd() const noexcept { return fd_; }
  // path is the path the file was opened with.
  const std::string& path() const noexcept { return path_; }

 private:
  int check_open(const char* operation) const;

  int fd_ = -1;
  std::string path_;
};

// read_file returns the whole content of `path` (File: on the pool, or the
// io_uring loop's ring).
COSYNC_API std::string read_file(const std::string& path, Deadline deadline = no_deadline);
// write_file replaces the content of `path` with `data`, creating it (0644)
// if needed (File: on the pool, or the io_uring loop's ring).
COSYNC_API void write_file(const std::string& path, std::string_view data,
                           Deadline deadline = no_deadline);

}  // namespace cosync
