// A loop's per-fd records, indexed by the fd number (fds are small and
// dense): the built-in epoll loop and the host adapters keep one each.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "cosync/loop.hpp"

namespace cosync::loop_detail {

// An array and its length, nothing else: the lookup on every wait is one
// unsigned compare (a negative fd fails it too) and an index, and the table
// costs the loop 16 bytes of its hot fields. Records past the highest fd
// seen are default ones, which every loop reads as "nothing known".
//
// Each record keeps its fd's readiness byte (`Entry::readiness`) where the
// loop's inline io_ready reads it: the table keeps the Loop's
// detail::Readiness pointing at them as it grows.
template <class Entry>
class FdTable {
 public:
  explicit FdTable(detail::Readiness& readiness) noexcept : readiness_(readiness) {}

  // The record of `fd`, or null when the table never grew that far. Growing
  // moves the records: callbacks may open fds, so look up again after one.
  Entry* find(int fd) noexcept {
    return static_cast<unsigned>(fd) < count_ ? &entries_[static_cast<unsigned>(fd)] : nullptr;
  }
  const Entry* find(int fd) const noexcept { return const_cast<FdTable*>(this)->find(fd); }

  // The record of `fd`, growing the table to it; a negative fd is EBADF.
  Entry& grow_to(int fd) {
    if (fd < 0) {
      throw std::system_error(EBADF, std::generic_category(),
                              "cosync: cannot wait on fd " + std::to_string(fd));
    }
    if (static_cast<unsigned>(fd) >= count_) {
      grow(std::max({static_cast<unsigned>(fd) + 1, count_ * 2, kInitialCount}));
    }
    return entries_[static_cast<unsigned>(fd)];
  }

  Entry* begin() noexcept { return entries_.get(); }
  Entry* end() noexcept { return entries_.get() + count_; }

 private:
  static constexpr unsigned kInitialCount = 64;

  void grow(unsigned count) {
    static_assert(sizeof(Entry) == detail::Readiness::kStride);
    auto grown = std::make_unique<Entry[]>(count);
    std::move(begin(), end(), grown.get());
    entries_ = std::move(grown);
    count_ = count;
    // The records' bytes, from the start of the array, so that byte i *
    // kStride of the view lies in record i.
    auto* bytes = reinterpret_cast<std::uint8_t*>(entries_.get());
    readiness_.first = bytes + (&entries_[0].readiness - bytes);
    readiness_.count = count_;
  }

  detail::Readiness& readiness_;
  std::unique_ptr<Entry[]> entries_;
  unsigned count_ = 0;
};

}  // namespace cosync::loop_detail
