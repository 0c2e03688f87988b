// What the raw io_uring anchors share: liburing error checks and a provided
// buffer ring.
#pragma once

#include <liburing.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fail.hpp"

namespace cosync_bench {

// Ends the benchmark when a liburing call answered a negative errno.
inline void check(int result, const char* what) {
  if (result < 0) {
    errno = -result;
    fail(what);
  }
}

// Receive buffers the kernel picks from as data arrives (a provided buffer
// ring), `count` (a power of two, as the kernel requires) of `size` bytes in
// buffer group `group`. liburing 2.3 has no io_uring_setup_buf_ring: the
// ring is mapped here and registered with io_uring_register_buf_ring.
class ProvidedBuffers {
 public:
  ProvidedBuffers(io_uring* ring, unsigned count, std::size_t size, std::uint16_t group)
      : ring_(ring), count_(count), size_(size), group_(group), storage_(count * size) {
    void* mapped =
        mmap(nullptr, ring_bytes(), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mapped == MAP_FAILED) fail("mmap of the buffer ring");
    entries_ = static_cast<io_uring_buf_ring*>(mapped);
    io_uring_buf_reg registration{};
    registration.ring_addr = reinterpret_cast<std::uintptr_t>(entries_);
    registration.ring_entries = count;
    registration.bgid = group;
    check(io_uring_register_buf_ring(ring, &registration, 0), "io_uring_register_buf_ring");
    io_uring_buf_ring_init(entries_);
    for (unsigned id = 0; id < count; ++id) {
      add(static_cast<std::uint16_t>(id), static_cast<int>(id));
    }
    io_uring_buf_ring_advance(entries_, static_cast<int>(count));
  }
  ProvidedBuffers(const ProvidedBuffers&) = delete;
  ProvidedBuffers& operator=(const ProvidedBuffers&) = delete;
  ~ProvidedBuffers() {
    io_uring_unregister_buf_ring(ring_, group_);
    munmap(entries_, ring_bytes());
  }

  const char* data(std::uint16_t id) const noexcept { return storage_.data() + id * size_; }
  // Gives buffer `id` back to the kernel once its bytes were consumed.
  void recycle(std::uint16_t id) {
    add(id, 0);
    io_uring_buf_ring_advance(entries_, 1);
  }

 private:
  std::size_t ring_bytes() const {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return std::max(page, count_ * sizeof(io_uring_buf));
  }
  void add(std::uint16_t id, int offset) {
    io_uring_buf_ring_add(entries_, storage_.data() + id * size_, static_cast<unsigned>(size_), id,
                          io_uring_buf_ring_mask(count_), offset);
  }

  io_uring* ring_;
  unsigned count_;
  std::size_t size_;
  std::uint16_t group_;
  std::vector<char> storage_;
  io_uring_buf_ring* entries_ = nullptr;
};

}  // namespace cosync_bench
