// A loop's per-fd records, indexed by the fd number (fds are small and
// dense), as the loop core keeps them for every backend.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "cosync/loop.hpp"
#include "support/errors.hpp"

namespace cosync::loop {

// An array and its length: the lookup on every wait is one unsigned compare
// (a negative fd fails it too) and an index. Records past the highest fd
// seen are default ones, which every loop reads as "nothing known".
//
// Each record keeps its fd's readiness byte (`Entry::readiness`, a
// std::uint8_t) where the loop's inline io_ready reads it: the table keeps
// the Loop's impl::Readiness pointing at them as it grows, and empties it
// when it goes, so that a late io_ready reads "ready" rather than freed
// memory.
template <class Entry>
class FdTable {
 public:
  explicit FdTable(impl::Readiness& readiness) noexcept : readiness_(readiness) {}
  FdTable(const FdTable&) = delete;
  FdTable& operator=(const FdTable&) = delete;
  ~FdTable() { readiness_ = {}; }

  // The record of `fd`, or null when the table never grew that far. Growing
  // moves the records: callbacks may open fds, so look up again after one.
  Entry* find(int fd) noexcept {
    return static_cast<unsigned>(fd) < count_ ? &entries_[static_cast<unsigned>(fd)] : nullptr;
  }
  const Entry* find(int fd) const noexcept { return const_cast<FdTable*>(this)->find(fd); }

  // The record of `fd`, growing the table to it; a negative fd is EBADF.
  Entry& grow_to(int fd) {
    if (fd < 0) {
      support::throw_errno(EBADF, "cannot wait on fd " + std::to_string(fd));
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
    static_assert(sizeof(Entry) == impl::Readiness::kStride);
    auto grown = std::make_unique<Entry[]>(count);
    std::move(begin(), end(), grown.get());
    entries_ = std::move(grown);
    count_ = count;
    // Record i's byte lies i * kStride bytes on: the records are kStride
    // bytes each (asserted above).
    readiness_.first = &entries_[0].readiness;
    readiness_.count = count_;
  }

  impl::Readiness& readiness_;
  std::unique_ptr<Entry[]> entries_;
  unsigned count_ = 0;
};

}  // namespace cosync::loop
