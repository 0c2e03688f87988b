#include "loop/receive_streams_linux.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace cosync::loop {
namespace {

constexpr unsigned kFdShift = 2;
constexpr unsigned kGenerationShift = 34;
constexpr std::uint64_t kGenerationMask = (std::uint64_t{1} << 30) - 1;

std::size_t entries_bytes() noexcept {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return std::max(page, ReceiveStreams::kBufferCount * sizeof(io_uring_buf));
}

}  // namespace

ReceiveStreams::~ReceiveStreams() { tear_down(nullptr); }

std::size_t ReceiveStreams::ring_bytes() noexcept {
  return entries_bytes() + kBufferCount * kBufferStride;
}

// One mapping: the ring's entries in the first page, the buffers after.
int ReceiveStreams::set_up(io_uring& ring) {
  void* mapped =
      mmap(nullptr, ring_bytes(), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mapped == MAP_FAILED) {
    return -errno;
  }
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<std::uintptr_t>(mapped);
  registration.ring_entries = kBufferCount;
  registration.bgid = kGroup;
  if (const int error = io_uring_register_buf_ring(&ring, &registration, 0); error < 0) {
    munmap(mapped, ring_bytes());
    return error;
  }
  entries_ = static_cast<io_uring_buf_ring*>(mapped);
  storage_ = static_cast<char*>(mapped) + entries_bytes();
  io_uring_buf_ring_init(entries_);
  for (unsigned id = 0; id < kBufferCount; ++id) {
    io_uring_buf_ring_add(entries_, buffer_at(id), kBufferSize, static_cast<unsigned short>(id),
                          io_uring_buf_ring_mask(kBufferCount), static_cast<int>(id));
  }
  io_uring_buf_ring_advance(entries_, kBufferCount);
  return 0;
}

void ReceiveStreams::tear_down(io_uring* ring) noexcept {
  if (entries_ == nullptr) {
    return;
  }
  if (ring != nullptr) {
    io_uring_unregister_buf_ring(ring, kGroup);
  }
  munmap(entries_, ring_bytes());
  entries_ = nullptr;
  storage_ = nullptr;
}

ReceiveStreams::Stream* ReceiveStreams::find(int fd) noexcept {
  const auto index = static_cast<std::size_t>(fd);
  return fd >= 0 && index < streams_.size() ? &streams_[index] : nullptr;
}

ReceiveStreams::Stream& ReceiveStreams::at(int fd) {
  const auto index = static_cast<std::size_t>(fd);
  if (index >= streams_.size()) {
    streams_.resize(std::max(index + 1, streams_.size() * 2));
  }
  return streams_[index];
}

std::uint64_t ReceiveStreams::data_of(int fd, const Stream& stream) noexcept {
  return ((std::uint64_t{stream.generation} & kGenerationMask) << kGenerationShift) |
         (static_cast<std::uint64_t>(static_cast<unsigned>(fd)) << kFdShift) | kTagBits;
}

void ReceiveStreams::recycle(unsigned id) noexcept {
  io_uring_buf_ring_add(entries_, buffer_at(id), kBufferSize, static_cast<unsigned short>(id),
                        io_uring_buf_ring_mask(kBufferCount), 0);
  io_uring_buf_ring_advance(entries_, 1);
}

std::size_t ReceiveStreams::copy_out(Stream& stream, char* buffer, std::size_t size) noexcept {
  std::size_t copied = 0;
  while (copied < size && stream.head >= 0) {
    const auto id = static_cast<unsigned>(stream.head);
    const std::size_t count = std::min<std::size_t>(size - copied, length_[id] - stream.offset);
    std::memcpy(buffer + copied, buffer_at(id) + stream.offset, count);
    copied += count;
    stream.offset += static_cast<std::uint32_t>(count);
    if (stream.offset == length_[id]) {
      stream.head = next_[id];
      if (stream.head < 0) {
        stream.tail = -1;
      }
      stream.offset = 0;
      --queued_;
      recycle(id);
    }
  }
  return copied;
}

void ReceiveStreams::queue(Stream& stream, unsigned id, int length) noexcept {
  length_[id] = static_cast<std::uint32_t>(length);
  next_[id] = -1;
  if (stream.tail >= 0) {
    next_[stream.tail] = static_cast<std::int32_t>(id);
  } else {
    stream.head = static_cast<std::int32_t>(id);
  }
  stream.tail = static_cast<std::int32_t>(id);
  ++queued_;
}

void ReceiveStreams::park(RingOp& op) { at(op.fd).waiter = &op; }

bool ReceiveStreams::unpark(RingOp& op) noexcept {
  Stream* stream = find(op.fd);
  if (stream == nullptr || stream->waiter != &op) {
    return false;
  }
  stream->waiter = nullptr;
  return true;
}

bool ReceiveStreams::armed(int fd, std::uint64_t& data) noexcept {
  const Stream* stream = find(fd);
  if (stream == nullptr || !stream->armed) {
    return false;
  }
  data = data_of(fd, *stream);
  return true;
}

// A completion of a stream forgotten meanwhile only gives its buffer back.
RingOp* ReceiveStreams::complete(std::uint64_t data, int result, unsigned flags) noexcept {
  const int fd = static_cast<int>(static_cast<std::uint32_t>(data >> kFdShift));
  Stream* stream = find(fd);
  const bool current = stream != nullptr && data == data_of(fd, *stream);
  if ((flags & IORING_CQE_F_BUFFER) != 0) {
    const unsigned id = flags >> IORING_CQE_BUFFER_SHIFT;
    if (current && result > 0) {
      queue(*stream, id, result);
    } else {
      recycle(id);
    }
  }
  if (!current) {
    return nullptr;
  }
  if ((flags & IORING_CQE_F_MORE) == 0) {
    stream->armed = false;
    if (result == 0 || (result < 0 && result != -ENOBUFS && result != -ECANCELED)) {
      stream->end = result;
    }
  }
  return std::exchange(stream->waiter, nullptr);
}

bool ReceiveStreams::forget(int fd, RingOp*& woken) noexcept {
  woken = nullptr;
  Stream* stream = find(fd);
  if (stream == nullptr) {
    return false;
  }
  while (stream->head >= 0) {
    const auto id = static_cast<unsigned>(stream->head);
    stream->head = next_[id];
    --queued_;
    recycle(id);
  }
  const bool armed = stream->armed;
  woken = stream->waiter;
  const std::uint32_t generation = stream->generation + 1;
  *stream = Stream{};
  stream->generation = generation;
  return armed;
}

}  // namespace cosync::loop
