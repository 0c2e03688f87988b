#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <array>

#include "hook/fd_state.hpp"
#include "hook/real_linux.hpp"

namespace cosync::hook {
namespace {

constexpr unsigned kChunkBits = 12;
constexpr unsigned kChunkSize = 1U << kChunkBits;
constexpr unsigned kChunks = 256;  // 2^20 fds

// Chunks are mapped on first use and never unmapped: a record's address
// stays valid for whoever holds it, on any thread.
constinit std::array<std::atomic<FdRecord*>, kChunks> g_chunks{};

FdRecord* map_chunk() noexcept {
  void* memory = mmap(nullptr, sizeof(FdRecord) * kChunkSize, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  // Zeroed memory is a table of all-zero records: "nothing known".
  return memory == MAP_FAILED ? nullptr : static_cast<FdRecord*>(memory);
}

FdRecord* chunk(unsigned index) noexcept {
  FdRecord* found = g_chunks[index].load(std::memory_order_acquire);
  if (found != nullptr) {
    return found;
  }
  FdRecord* fresh = map_chunk();
  if (fresh == nullptr) {
    return nullptr;
  }
  if (!g_chunks[index].compare_exchange_strong(found, fresh, std::memory_order_acq_rel)) {
    munmap(fresh, sizeof(FdRecord) * kChunkSize);
    return found;
  }
  return fresh;
}

void reset(FdRecord& record, FdKind kind, std::uint8_t flags) noexcept {
  record.generation.fetch_add(1, std::memory_order_acq_rel);
  record.kind.store(static_cast<std::uint8_t>(kind), std::memory_order_relaxed);
  record.flags.store(flags, std::memory_order_relaxed);
  record.receive_timeout_ns.store(0, std::memory_order_relaxed);
  record.send_timeout_ns.store(0, std::memory_order_relaxed);
}

FdKind kind_of_socket(int fd) noexcept {
  int type = 0;
  socklen_t size = sizeof type;
  if (real::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) != 0) {
    return FdKind::other;
  }
  return socket_kind(type);
}

}  // namespace

FdKind socket_kind(int type) noexcept {
  return (type & 0xf) == SOCK_STREAM ? FdKind::stream : FdKind::datagram;
}

FdRecord* fd_record(int fd) noexcept {
  if (fd < 0) {
    return nullptr;
  }
  const auto number = static_cast<unsigned>(fd);
  const unsigned index = number >> kChunkBits;
  if (index >= kChunks) {
    return nullptr;
  }
  FdRecord* records = chunk(index);
  return records == nullptr ? nullptr : &records[number & (kChunkSize - 1)];
}

void fd_created(int fd, FdKind kind, bool user_nonblocking) noexcept {
  if (FdRecord* record = fd_record(fd)) {
    reset(*record, kind,
          static_cast<std::uint8_t>(fd_flags_known | (user_nonblocking ? fd_user_nonblocking : 0)));
  }
}

void fd_closed(int fd) noexcept {
  if (FdRecord* record = fd_record(fd)) {
    reset(*record, FdKind::unknown, 0);
  }
}

void fd_duplicated(int fd, int target) noexcept {
  FdRecord* from = fd_record(fd);
  FdRecord* to = fd_record(target);
  if (from == nullptr || to == nullptr) {
    fd_closed(target);
    return;
  }
  reset(*to, from->fd_kind(), from->flags.load(std::memory_order_relaxed));
  to->receive_timeout_ns.store(from->receive_timeout_ns.load(std::memory_order_relaxed),
                               std::memory_order_relaxed);
  to->send_timeout_ns.store(from->send_timeout_ns.load(std::memory_order_relaxed),
                            std::memory_order_relaxed);
}

void fd_learn(int fd, FdRecord& record) noexcept {
  if (!record.has(fd_flags_known)) {
    const int flags = real::fcntl(fd, F_GETFL, 0);
    if (flags >= 0) {
      record.set(fd_user_nonblocking, (flags & O_NONBLOCK) != 0);
      record.set(fd_flags_known, true);
    }
  }
  if (record.fd_kind() != FdKind::unknown) {
    return;
  }
  // A closed fd stays unknown: its number's next life is looked at afresh.
  struct stat status {};
  if (fstat(fd, &status) != 0) {
    return;
  }
  FdKind kind = FdKind::other;
  if (S_ISSOCK(status.st_mode)) {
    kind = kind_of_socket(fd);
  } else if (S_ISFIFO(status.st_mode)) {
    kind = FdKind::pipe;
  }
  record.kind.store(static_cast<std::uint8_t>(kind), std::memory_order_relaxed);
}

void fd_learn_inq(int fd, FdRecord& record) noexcept {
  if (record.has(fd_inq_known)) {
    return;
  }
  int on = 0;
  socklen_t size = sizeof on;
  // Fails on a socket that is not TCP: no report, the hint stays off.
  if (real::getsockopt(fd, IPPROTO_TCP, TCP_INQ, &on, &size) == 0) {
    if (on != 0) {
      record.set(fd_inq, true);
    } else {
      const int enable = 1;
      if (real::setsockopt(fd, IPPROTO_TCP, TCP_INQ, &enable, sizeof enable) == 0) {
        record.set(fd_inq, true);
        record.set(fd_inq_forced, true);
      }
    }
  }
  record.set(fd_inq_known, true);
}

void fd_unforce_inq(int fd, FdRecord& record) noexcept {
  const int off = 0;
  real::setsockopt(fd, IPPROTO_TCP, TCP_INQ, &off, sizeof off);
  record.set(fd_inq, false);
  record.set(fd_inq_forced, false);
}

void fd_user_sets_inq(FdRecord& record, bool on) noexcept {
  record.set(fd_inq_forced, false);
  record.set(fd_inq, on);
  record.set(fd_inq_known, true);
}

}  // namespace cosync::hook
