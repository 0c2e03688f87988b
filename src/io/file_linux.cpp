#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cosync/io.hpp"
#include "cosync/pool.hpp"
#include "io/ring_op.hpp"

namespace cosync::io {
namespace {

[[noreturn]] void file_error(int error, const char* operation, const std::string& path) {
  throw std::system_error(error, std::generic_category(),
                          std::string("cosync: ") + operation + " \"" + path + "\"");
}

// What a pool worker hands back: bytes or a count, and errno.
struct Transfer {
  std::vector<char> bytes;
  std::size_t count = 0;
  int error = 0;
};

Transfer pread_blocking(int fd, std::size_t size, off_t offset) {
  Transfer result;
  result.bytes.resize(size);
  for (;;) {
    const ssize_t got = ::pread(fd, result.bytes.data(), size, offset);
    if (got >= 0) {
      result.count = static_cast<std::size_t>(got);
      return result;
    }
    if (errno != EINTR) {
      result.error = errno;
      return result;
    }
  }
}

Transfer pwrite_blocking(int fd, const std::vector<char>& data, off_t offset) {
  Transfer result;
  while (result.count < data.size()) {
    const ssize_t put = ::pwrite(fd, data.data() + result.count, data.size() - result.count,
                                 offset + static_cast<off_t>(result.count));
    if (put > 0) {
      result.count += static_cast<std::size_t>(put);
    } else if (put == 0 || errno != EINTR) {
      result.error = put == 0 ? EIO : errno;  // 0: the device took nothing
      return result;
    }
  }
  return result;
}

// One file operation on a loop that runs them (io_uring), retried across
// EINTR: straight into or out of the caller's buffer, as run_on_ring
// returns only once the kernel is done with it. A timeout throws TimedOut,
// any other failure the errno naming `operation` and the path.
std::size_t file_op_on_ring(loop::RingOps& ring, loop::RingOp& op, Deadline deadline,
                            const char* operation, const std::string& path) {
  for (;;) {
    const int result = run_on_ring(ring, op, deadline);
    if (result >= 0) {
      return static_cast<std::size_t>(result);
    }
    if (result == -ETIMEDOUT) {
      throw TimedOut(std::string("cosync: ") + operation + " \"" + path + "\" timed out");
    }
    if (result != -EINTR) {
      file_error(-result, operation, path);
    }
  }
}

// A read or write moves at most this much per operation (the SQE's length
// is 32 bits); write_at loops, read_at returns a short count.
constexpr std::size_t kMaxRingTransfer = std::size_t{1} << 30;

loop::RingOp file_transfer(loop::RingOp::Kind kind, int fd, const void* buffer, std::size_t size,
                           off_t offset) {
  loop::RingOp op;
  op.kind = kind;
  op.fd = fd;
  op.buffer = const_cast<void*>(buffer);  // a write only reads it
  op.size = std::min(size, kMaxRingTransfer);
  op.offset = static_cast<std::uint64_t>(offset);
  return op;
}

int open_on_ring(loop::RingOps& ring, const std::string& path, int flags, mode_t mode,
                 Deadline deadline) {
  loop::RingOp op;
  op.kind = loop::RingOp::Kind::openat;
  op.address = const_cast<char*>(path.c_str());  // only read
  op.flags = flags | O_CLOEXEC;
  op.size = mode;
  return static_cast<int>(file_op_on_ring(ring, op, deadline, "open", path));
}

// File::write_at on such a loop: the whole buffer, in as many writes as the
// file takes.
void write_on_ring(loop::RingOps& ring, int fd, const char* bytes, std::size_t size, off_t offset,
                   Deadline deadline, const std::string& path) {
  std::size_t done = 0;
  while (done < size) {
    loop::RingOp op = file_transfer(loop::RingOp::Kind::write, fd, bytes + done, size - done,
                                    offset + static_cast<off_t>(done));
    const std::size_t put = file_op_on_ring(ring, op, deadline, "write", path);
    if (put == 0) {
      file_error(EIO, "write", path);  // the device took nothing
    }
    done += put;
  }
}

}  // namespace
}  // namespace cosync::io

namespace cosync {

File::File(File&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

File::~File() { close(); }

// open() of a file on a slow or network file system blocks too, so it is
// offloaded like the transfers. Should the wait time out, the worker closes
// the fd it opened (nobody will).
File File::open(const std::string& path, int flags, mode_t mode, Deadline deadline) {
  if (loop::RingOps* ring = io::ring_of_this_loop(); ring != nullptr) {
    File file;
    file.fd_ = io::open_on_ring(*ring, path, flags, mode, deadline);
    file.path_ = path;
    return file;
  }
  struct Opened {
    int fd = -1;
    int error = 0;
    Opened() = default;
    Opened(Opened&& other) noexcept : fd(std::exchange(other.fd, -1)), error(other.error) {}
    Opened(const Opened&) = delete;
    Opened& operator=(const Opened&) = delete;
    ~Opened() {
      if (fd >= 0) ::close(fd);
    }
  };
  Opened opened = offload(
      [path, flags, mode] {
        Opened result;
        result.fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
        result.error = result.fd < 0 ? errno : 0;
        return result;
      },
      deadline);
  if (opened.fd < 0) {
    io::file_error(opened.error, "open", path);
  }
  File file;
  file.fd_ = std::exchange(opened.fd, -1);
  file.path_ = path;
  return file;
}

std::size_t File::read_at(void* buffer, std::size_t size, off_t offset, Deadline deadline) {
  const int fd = check_open("read");
  if (loop::RingOps* ring = io::ring_of_this_loop(); ring != nullptr) {
    loop::RingOp op = io::file_transfer(loop::RingOp::Kind::read, fd, buffer, size, offset);
    return io::file_op_on_ring(*ring, op, deadline, "read", path_);
  }
  io::Transfer result =
      offload([fd, size, offset] { return io::pread_blocking(fd, size, offset); }, deadline);
  if (result.error != 0) {
    io::file_error(result.error, "read", path_);
  }
  std::copy_n(result.bytes.data(), result.count, static_cast<char*>(buffer));
  return result.count;
}

void File::write_at(const void* data, std::size_t size, off_t offset, Deadline deadline) {
  const int fd = check_open("write");
  const auto* bytes = static_cast<const char*>(data);
  if (loop::RingOps* ring = io::ring_of_this_loop(); ring != nullptr) {
    io::write_on_ring(*ring, fd_, bytes, size, offset, deadline, path_);
    return;
  }
  std::vector<char> copy(bytes, bytes + size);
  const io::Transfer result = offload(
      [fd, copy = std::move(copy), offset] { return io::pwrite_blocking(fd, copy, offset); },
      deadline);
  if (result.error != 0) {
    io::file_error(result.error, "write", path_);
  }
}

off_t File::size() const {
  struct stat status {};
  if (fstat(check_open("size of"), &status) != 0) {
    io::file_error(errno, "size of", path_);
  }
  return status.st_size;
}

void File::sync(Deadline deadline) {
  const int fd = check_open("sync");
  if (loop::RingOps* ring = io::ring_of_this_loop(); ring != nullptr) {
    loop::RingOp op;
    op.kind = loop::RingOp::Kind::fsync;
    op.fd = fd;
    io::file_op_on_ring(*ring, op, deadline, "sync", path_);
    return;
  }
  const int error = offload([fd] { return ::fsync(fd) == 0 ? 0 : errno; }, deadline);
  if (error != 0) {
    io::file_error(error, "sync", path_);
  }
}

void File::close() noexcept {
  if (fd_ >= 0) {
    ::close(std::exchange(fd_, -1));
  }
}

int File::check_open(const char* operation) const {
  if (fd_ < 0) {
    throw std::system_error(EBADF, std::generic_category(),
                            std::string("cosync: ") + operation + " of a closed file");
  }
  return fd_;
}

std::string read_file(const std::string& path, Deadline deadline) {
  File file = File::open(path, O_RDONLY, 0, deadline);
  std::string contents;
  constexpr std::size_t kChunk = 64 * 1024;
  for (;;) {
    const std::size_t old_size = contents.size();
    contents.resize(old_size + kChunk);
    const std::size_t got =
        file.read_at(contents.data() + old_size, kChunk, static_cast<off_t>(old_size), deadline);
    contents.resize(old_size + got);
    if (got == 0) {
      return contents;
    }
  }
}

void write_file(const std::string& path, std::string_view data, Deadline deadline) {
  File file = File::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644, deadline);
  file.write_at(data.data(), data.size(), 0, deadline);
}

}  // namespace cosync
